//! Serves a BigCommerce simulator with a small catalogue and prints its API root and token, for
//! trying clients against it by hand:
//! `cargo run -p weft-sim-bigcommerce --example serve_bigcommerce [-- 127.0.0.1:8098 [other-apps-per-window]]`.

use serde_json::json;
use weft_sim_bigcommerce::{BcSim, SimConfig};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let mut config = SimConfig::default();
    if let Some(n) = std::env::args().nth(2).and_then(|n| n.parse().ok()) {
        config.quota.background_per_window = n;
    }
    let sim = BcSim::new(config).expect("valid config");
    sim.create_product(
        json!({"name": "Shirt", "type": "physical", "price": 18.0, "sku": "SHIRT",
        "inventory_tracking": "variant", "variants": [
            {"sku": "SHIRT-S", "price": 18.0, "inventory_level": 10,
             "option_values": [{"option_display_name": "Size", "label": "S"}]},
            {"sku": "SHIRT-M", "price": 19.0, "inventory_level": 10,
             "option_values": [{"option_display_name": "Size", "label": "M"}]}]}),
    )
    .expect("product");
    sim.create_product(
        json!({"name": "Mug", "type": "physical", "price": 8.0, "sku": "MUG",
        "inventory_tracking": "product", "inventory_level": 25}),
    )
    .expect("product");
    sim.create_location("WAREHOUSE", "Warehouse");
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    let handle = sim.serve(listener).await.expect("serve");
    let c = sim.config();
    println!(
        "{}",
        json!({"url": handle.base_url, "api": handle.api_root(&c.store_hash),
            "store_hash": c.store_hash, "x_auth_token": c.tokens[0],
            "quota": c.quota.requests_per_window,
            "other_apps_per_window": c.quota.background_per_window})
    );
    tokio::signal::ctrl_c().await.expect("ctrl-c");
    handle.shutdown().await;
}
