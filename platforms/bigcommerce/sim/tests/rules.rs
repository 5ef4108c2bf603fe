//! The remaining rules over HTTP: product batches and their limit, deletes, `id:in`, hooks
//! updated and deleted, the adjustment size limit, V2 order creation and its errors.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use weft_sim_bigcommerce::SimConfig;

#[tokio::test]
async fn product_batches_are_capped_at_ten_and_all_or_nothing() {
    let api = Api::start(SimConfig::default()).await;
    let (shirt, mug) = catalogue(&api.sim);
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/catalog/products",
            Some(json!([{"id": shirt, "price": 20.0}, {"id": mug, "name": "Shirt"}])),
        )
        .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(
        api.sim.product(shirt).unwrap()["price"],
        18.0,
        "nothing applied"
    );
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/catalog/products",
            Some(json!([{"id": shirt, "price": 20.0}, {"id": mug, "price": 9.0}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let eleven: Vec<_> = (0..11).map(|_| json!({"id": mug, "price": 1.0})).collect();
    let (s, _, _) = api
        .call(Method::PUT, "/v3/catalog/products", Some(json!(eleven)))
        .await;
    assert_eq!(s, 413);
    let (_, _, body) = api
        .get(&format!("/v3/catalog/products?id:in={mug},999"))
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    let (s, _, _) = api
        .call(Method::DELETE, &format!("/v3/catalog/products/{mug}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = api.get(&format!("/v3/catalog/products/{mug}")).await;
    assert_eq!(s, 404);
    assert!(
        api.sim.variant("MUG").is_none(),
        "its variants went with it"
    );
}

#[tokio::test]
async fn hooks_can_be_updated_and_deleted() {
    let api = Api::start(SimConfig::default()).await;
    let (_, _, h) = api
        .call(
            Method::POST,
            "/v3/hooks",
            Some(json!({"scope": "store/order/*", "destination": "https://x.example/a"})),
        )
        .await;
    let id = h["data"]["id"].as_u64().unwrap();
    assert_eq!(h["data"]["headers"], serde_json::Value::Null);
    let (s, _, h) = api
        .call(
            Method::PUT,
            &format!("/v3/hooks/{id}"),
            Some(json!({"is_active": false, "headers": {"k": "v"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["data"]["is_active"], false);
    assert_eq!(h["data"]["headers"]["k"], "v");
    let (s, _, _) = api
        .call(Method::DELETE, &format!("/v3/hooks/{id}"), None)
        .await;
    assert_eq!(s, 200);
    let (s, _, body) = api.get(&format!("/v3/hooks/{id}")).await;
    assert_eq!(s, 404);
    assert_eq!(body["status"], 404);
}

#[tokio::test]
async fn adjustments_are_limited_and_need_one_identifier_per_item() {
    let api = Api::start(SimConfig {
        adjustment_limit: 3,
        ..SimConfig::default()
    })
    .await;
    catalogue(&api.sim);
    let items: Vec<_> = (0..4)
        .map(|_| json!({"location_id": 1, "sku": "MUG", "quantity": 1}))
        .collect();
    let (s, _, _) = api
        .call(
            Method::PUT,
            "/v3/inventory/adjustments/absolute",
            Some(json!({ "items": items })),
        )
        .await;
    assert_eq!(s, 413);
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/inventory/adjustments/absolute",
            Some(json!({"items": [{"location_id": 1, "sku": "MUG", "variant_id": 1, "quantity": 1}]})),
        )
        .await;
    assert_eq!(s, 422);
    assert!(
        body["title"].as_str().unwrap().contains("exactly one"),
        "{body}"
    );
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/inventory/adjustments/absolute",
            Some(json!({"items": [{"location_id": 1, "sku": "MUG", "quantity": -1}]})),
        )
        .await;
    assert_eq!(s, 422, "{body}");
}

#[tokio::test]
async fn v2_orders_are_created_with_their_lines_and_refused_in_the_v2_shape() {
    let api = Api::start(SimConfig::default()).await;
    let (shirt, _) = catalogue(&api.sim);
    let m = api.sim.variant("SHIRT-M").unwrap()["id"].as_u64().unwrap();
    let (s, _, o) = api
        .call(
            Method::POST,
            "/v2/orders",
            Some(json!({"status_id": 1, "products": [
                {"product_id": shirt, "variant_id": m, "quantity": 1}, {"sku": "MUG", "quantity": 3}]})),
        )
        .await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["status"], "Pending");
    assert_eq!(o["items_total"], 4);
    assert_eq!(api.sim.stock("MUG", 1), Some(22));
    let (s, _, body) = api
        .call(
            Method::POST,
            "/v2/orders",
            Some(json!({"products": [{"product_id": shirt, "quantity": 1}]})),
        )
        .await;
    assert_eq!(s, 400, "a product with options needs its variant");
    assert_eq!(body[0]["status"], 400);
    assert!(body[0]["message"].is_string());
    let (s, _, body) = api
        .call(
            Method::PUT,
            &format!("/v2/orders/{}", o["id"]),
            Some(json!({"status_id": 99})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(body[0]["message"], "The field 'status_id' is invalid.");
    let (_, _, list) = api
        .get("/v2/orders?status_id=1&sort=date_modified:desc")
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, _, _) = api.get("/v2/orders?status_id=5").await;
    assert_eq!(s, 204);
}
