//! Measures the simulator's own processing speed (no rate limit in the way), so benchmarks that
//! drive it know it is not the bottleneck: `cargo run -p weft-sim-shopify --example sim_throughput`.
//! Prints one JSON object.

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use tower::ServiceExt;
use weft_sim_shopify::{NewProduct, NewVariant, ShopifySim, SimConfig};

#[tokio::main]
async fn main() {
    let sim = ShopifySim::new(
        SimConfig::builder()
            .graphql_bucket(1.0e12, 1.0e12)
            .build()
            .expect("valid config"),
    );
    let n = 10_000;
    let t = Instant::now();
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let p = sim
            .create_product(NewProduct {
                title: format!("P{i}"),
                variants: vec![NewVariant {
                    sku: Some(format!("SKU-{i}")),
                    price: "1.00".into(),
                    ..NewVariant::default()
                }],
                ..NewProduct::default()
            })
            .expect("product");
        items.push(p.inventory_item_ids[0]);
    }
    let create_s = t.elapsed().as_secs_f64();
    let loc = sim.location_ids()[0];
    let router = sim.router();
    let m = "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { userErrors { code } } }";
    let t = Instant::now();
    for chunk in items.chunks(250) {
        let quantities: Vec<_> = chunk
            .iter()
            .map(|it| json!({"inventoryItemId": format!("gid://shopify/InventoryItem/{it}"), "locationId": format!("gid://shopify/Location/{loc}"), "quantity": 5, "changeFromQuantity": 0}))
            .collect();
        let body = json!({"query": m, "variables": {"i": {"name": "available", "reason": "correction", "quantities": quantities}}});
        let req = Request::post("/admin/api/2026-04/graphql.json")
            .header("content-type", "application/json")
            .header("x-shopify-access-token", "shpat_sim_access_token")
            .body(Body::from(body.to_string()))
            .expect("request");
        let resp = router.clone().oneshot(req).await.expect("response");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            v["data"]["inventorySetQuantities"]["userErrors"],
            json!([]),
            "{v}"
        );
    }
    let set_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let q = json!({"query": "{ products(first: 200, sortKey: UPDATED_AT) { nodes { id title updatedAt variants(first: 1) { nodes { sku price } } } } }"});
    for _ in 0..20 {
        let req = Request::post("/admin/api/2026-04/graphql.json")
            .header("content-type", "application/json")
            .header("x-shopify-access-token", "shpat_sim_access_token")
            .body(Body::from(q.to_string()))
            .expect("request");
        let resp = router.clone().oneshot(req).await.expect("response");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            v["data"]["products"]["nodes"].as_array().map(Vec::len),
            Some(200),
            "{v}"
        );
    }
    let page_ms = t.elapsed().as_secs_f64() * 1000.0 / 20.0;
    println!(
        "{}",
        json!({
            "products_created_per_s": (n as f64 / create_s).round(),
            "inventory_items_set_per_s": (n as f64 / set_s).round(),
            "ms_per_250_item_inventory_mutation": (set_s * 1000.0 / (n as f64 / 250.0) * 100.0).round() / 100.0,
            "ms_per_200_product_page_of_10k": (page_ms * 100.0).round() / 100.0,
        })
    );
}
