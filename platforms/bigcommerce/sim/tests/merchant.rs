//! The `/_sim` merchant and inspection API over HTTP: no token, no quota.

mod common;

use common::*;
use serde_json::{Value, json};
use weft_sim_bigcommerce::SimConfig;

async fn post(api: &Api, path: &str, body: Value) -> (u16, Value) {
    let r = api
        .http
        .post(format!("{}{path}", api.handle.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn get(api: &Api, path: &str) -> Value {
    api.http
        .get(format!("{}{path}", api.handle.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_merchant_edits_the_catalog_and_a_shopper_orders_without_spending_quota() {
    let api = Api::start(SimConfig::default()).await;
    let (s, p) = post(
        &api,
        "/_sim/products",
        json!({"name": "Cap", "type": "physical", "price": 5.0, "sku": "CAP",
               "inventory_tracking": "product", "inventory_level": 3}),
    )
    .await;
    assert_eq!(s, 200);
    let id = p["id"].as_u64().unwrap();
    assert_eq!(
        post(&api, &format!("/_sim/products/{id}"), json!({"price": 6.0}))
            .await
            .0,
        200
    );
    assert_eq!(
        post(&api, "/_sim/variants/CAP", json!({"sku": "CAP-1"}))
            .await
            .0,
        200
    );
    let (_, st) = post(&api, "/_sim/stock", json!({"sku": "CAP-1", "delta": 4})).await;
    assert_eq!(st["quantity"], 7);
    let (_, c) = post(
        &api,
        "/_sim/customers",
        json!({"email": "s@x.y", "first_name": "S", "last_name": "T"}),
    )
    .await;
    let (s, o) = post(
        &api,
        "/_sim/orders",
        json!({"customer_id": c["id"], "lines": [{"sku": "CAP-1", "quantity": 2}]}),
    )
    .await;
    assert_eq!(s, 200);
    let oid = o["id"].as_u64().unwrap();
    assert_eq!(
        post(
            &api,
            &format!("/_sim/orders/{oid}/status"),
            json!({"status_id": 2})
        )
        .await
        .0,
        200
    );
    let orders = get(&api, "/_sim/orders").await;
    assert_eq!(orders[0]["status"], "Shipped");
    assert_eq!(api.sim.stock("CAP-1", 1), Some(5));
    let (s, e) = post(&api, "/_sim/stock", json!({"sku": "NOPE", "quantity": 1})).await;
    assert_eq!(s, 422);
    assert_eq!(e["status"], 422);
    let (_, b) = post(&api, "/_sim/background", json!({"requests_per_window": 75})).await;
    assert_eq!(b["requests_per_window"], 75);
    let q = get(&api, "/_sim/quota").await;
    assert_eq!(q["requests_per_window"], 150);
    assert_eq!(q["windows"][0]["api_spent"], 0, "/_sim spends no quota");
    let state = get(&api, "/_sim/state").await;
    assert_eq!(state["products"][0]["sku"], "CAP-1");
    let ledger = get(&api, "/_sim/stock/ledger").await;
    assert!(
        ledger
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["actor"] == "order")
    );
    assert!(
        get(&api, "/_sim/requests")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}
