//! Serves a WooCommerce simulator with a small catalogue and prints its URL and keys, for
//! trying clients against it by hand:
//! `cargo run -p weft-sim-woocommerce --example serve_woocommerce [-- 127.0.0.1:8099]`.

use serde_json::json;
use weft_sim_woocommerce::{SimConfig, WooSim};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let sim = WooSim::new(SimConfig::default()).expect("default config is valid");
    let shirt = sim
        .create_product(json!({"name": "Shirt", "type": "variable", "sku": "SHIRT"}))
        .expect("product");
    for (sku, price) in [("SHIRT-S", "18.00"), ("SHIRT-M", "19.00")] {
        sim.create_variation(
            shirt,
            json!({"sku": sku, "regular_price": price, "manage_stock": true, "stock_quantity": 10}),
        )
        .expect("variation");
    }
    sim.create_product(json!({"name": "Mug", "sku": "MUG", "regular_price": "8.00",
        "manage_stock": true, "stock_quantity": 25}))
        .expect("product");
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    let handle = sim.serve(listener).await.expect("serve");
    let keys: Vec<_> = sim
        .config()
        .keys
        .iter()
        .map(|k| {
            json!({"consumer_key": k.consumer_key, "consumer_secret": k.consumer_secret,
            "permissions": k.permissions})
        })
        .collect();
    println!(
        "{}",
        json!({"url": handle.base_url, "api": format!("{}/wp-json/wc/v3", handle.base_url),
            "keys": keys})
    );
    tokio::signal::ctrl_c().await.expect("ctrl-c");
    handle.shutdown().await;
}
