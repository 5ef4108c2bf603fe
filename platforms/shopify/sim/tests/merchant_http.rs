//! The `/_sim` merchant and inspection endpoints, driven over HTTP with decimal-string ids.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(
    sim: &weft_sim_shopify::ShopifySim,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(start_paused = true)]
async fn merchant_endpoints_change_the_shop_and_inspection_reports_it() {
    let sim = sim();
    let (s, p) = call(
        &sim,
        "POST",
        "/_sim/products",
        Some(json!({
            "title": "Desk", "vendor": "Acme", "tags": ["office"], "option_name": "Color",
            "variants": [{"sku": "D-RED", "price": "100.00", "option": "Red", "available": 4},
                         {"sku": "D-BLU", "price": "110.00", "option": "Blue"}]
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let vid = p["variant_ids"][0].as_str().unwrap().to_string();
    let pid = p["id"].as_str().unwrap().to_string();

    let (s, _) = call(
        &sim,
        "PATCH",
        &format!("/_sim/variants/{vid}"),
        Some(json!({"price": "95.00", "sku": "D-RED-2"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &sim,
        "PATCH",
        &format!("/_sim/products/{pid}"),
        Some(json!({"title": "Standing desk"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, inv) = call(
        &sim,
        "POST",
        "/_sim/inventory/adjust",
        Some(json!({"sku": "D-RED-2", "delta": 3})),
    )
    .await;
    assert_eq!((s, inv["available"].clone()), (StatusCode::OK, json!(7)));
    let (s, c) = call(
        &sim,
        "POST",
        "/_sim/customers",
        Some(json!({"email": "bo@example.com", "first_name": "Bo"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, o) = call(
        &sim,
        "POST",
        "/_sim/orders",
        Some(json!({
            "customer_id": c["id"], "line_items": [{"variant_id": vid, "quantity": 2}]
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");

    // Rejections say why.
    let (s, e) = call(
        &sim,
        "POST",
        "/_sim/customers",
        Some(json!({"email": "BO@example.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"].as_str().unwrap().contains("already been taken"));
    let (s, _) = call(
        &sim,
        "PATCH",
        "/_sim/variants/123",
        Some(json!({"price": "1.00"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &sim,
        "POST",
        "/_sim/products",
        Some(json!({"title": "X", "bogus": 1})),
    )
    .await;
    assert!(s.is_client_error());

    let (_, state) = call(&sim, "GET", "/_sim/state", None).await;
    let prod = &state["products"][0];
    assert_eq!(prod["title"], "Standing desk");
    assert_eq!(prod["variants"][0]["sku"], "D-RED-2");
    assert_eq!(prod["variants"][0]["price"], "95.00");
    assert_eq!(state["orders"][0]["total_price"], "190.00");
    assert_eq!(
        state["orders"][0]["line_items"][0]["variant_id"],
        vid.as_str()
    );
    let level = state["inventory_levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == "D-RED-2")
        .unwrap();
    assert_eq!(level["available"], 5);

    let (_, stats) = call(&sim, "GET", "/_sim/stats", None).await;
    assert_eq!(
        stats["creates"]["merchant"],
        json!({"customer": 1, "order": 1, "product": 1, "variant": 2})
    );
    assert_eq!(stats["throttled_graphql"], 0);

    // GraphQL sees the same data.
    let body = gql(
        &sim,
        "{ productVariants(first: 5, sortKey: SKU) { nodes { sku price inventoryQuantity } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["productVariants"]["nodes"],
        json!([
            {"sku": "D-BLU", "price": "110.00", "inventoryQuantity": 0},
            {"sku": "D-RED-2", "price": "95.00", "inventoryQuantity": 5},
        ])
    );
    let (_, log) = call(&sim, "GET", "/_sim/requests", None).await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["operation"], "productVariants");
}

/// The order's life over the merchant endpoints: ship part with tracking, refund the rest
/// with `CANCEL`, cancel another order without restock.
#[tokio::test(start_paused = true)]
async fn merchant_endpoints_ship_refund_and_cancel() {
    let sim = sim();
    let p = sim
        .create_product(weft_sim_shopify::NewProduct {
            title: "Tray".into(),
            variants: vec![weft_sim_shopify::NewVariant {
                sku: Some("TRAY-1".into()),
                price: "8.00".into(),
                ..weft_sim_shopify::NewVariant::default()
            }],
            ..weft_sim_shopify::NewProduct::default()
        })
        .unwrap();
    let (item, loc) = (p.inventory_item_ids[0], sim.location_ids()[0]);
    sim.set_inventory(item, loc, 5).unwrap();
    let place = |n: i64| {
        sim.place_order(weft_sim_shopify::NewOrder {
            line_items: vec![weft_sim_shopify::NewOrderLine {
                sku: Some("TRAY-1".into()),
                quantity: n,
                ..weft_sim_shopify::NewOrderLine::default()
            }],
            ..weft_sim_shopify::NewOrder::default()
        })
        .unwrap()
    };
    let oid = place(3);
    let (_, lines) = sim.order_lines(oid).unwrap();
    let (s, f) = call(
        &sim,
        "POST",
        &format!("/_sim/orders/{oid}/fulfil"),
        Some(
            json!({"lines": [{"line_item_id": lines[0].to_string(), "quantity": 2}],
                    "tracking_number": "TRK-1", "tracking_company": "DHL"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let q = |name: &str| sim.quantity(item, loc, name).unwrap();
    assert_eq!((q("available"), q("committed"), q("on_hand")), (2, 1, 3));
    let (s, r) = call(
        &sim,
        "POST",
        &format!("/_sim/orders/{oid}/refund"),
        Some(json!({"lines": [{"line_item_id": lines[0].to_string(), "quantity": 1, "restock_type": "cancel"}]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((q("available"), q("committed"), q("on_hand")), (3, 0, 3));
    // More than fulfillable is refused with the reason.
    let (s, e) = call(
        &sim,
        "POST",
        &format!("/_sim/orders/{oid}/fulfil"),
        Some(json!({"tracking_number": "TRK-2"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let other = place(1);
    let (s, _) = call(
        &sim,
        "POST",
        &format!("/_sim/orders/{other}/cancel"),
        Some(json!({"restock": false, "reason": "INVENTORY"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((q("available"), q("committed"), q("on_hand")), (2, 0, 2));
}
