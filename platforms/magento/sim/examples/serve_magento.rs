//! Serves a Magento simulator with a small catalogue and prints its REST root and token, for
//! trying clients against it by hand:
//! `cargo run -p weft-sim-magento --example serve_magento [-- 127.0.0.1:8099]`.

use serde_json::json;
use weft_sim_magento::{MagentoSim, SimConfig};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let sim = MagentoSim::new(SimConfig {
        sources: vec!["wh2".into()],
        ..SimConfig::default()
    });
    for (sku, name, price, qty) in [("TEE", "Tee", 18.0, 10.0), ("MUG", "Mug", 8.0, 25.0)] {
        sim.save_product(json!({"sku": sku, "name": name, "price": price}))
            .expect("product");
        sim.set_stock(sku, "default", qty).expect("stock");
    }
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    let handle = sim.serve(listener).await.expect("serve");
    let c = sim.config();
    println!(
        "{}",
        json!({"url": handle.base_url, "api": handle.api_root(&c.store_code),
            "store_code": c.store_code, "bearer_token": c.tokens[0],
            "sources": ["default", "wh2"]})
    );
    tokio::signal::ctrl_c().await.expect("ctrl-c");
    handle.shutdown().await;
}
