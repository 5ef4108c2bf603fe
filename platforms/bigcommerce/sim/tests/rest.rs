//! The REST surface over real HTTP: envelopes, filters, pages, errors, authentication, V2
//! orders, inventory per location.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use weft_sim_bigcommerce::{DEFAULT_TOKEN, SimConfig};

#[tokio::test]
async fn missing_or_wrong_tokens_are_401_in_each_versions_shape() {
    let api = Api::start(SimConfig::default()).await;
    let r = api
        .http
        .get(format!("{}/v3/catalog/products", api.root))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("x-rate-limit-requests-left").is_none());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(
        body["title"],
        "No credentials were supplied in the request."
    );
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
    let r = api
        .http
        .get(format!("{}/v2/orders", api.root))
        .header("x-auth-token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"status": 401, "message": "The credentials supplied in the request are invalid."}])
    );
    // A wrong store hash is not found.
    let r = api
        .http
        .get(format!(
            "{}/stores/other/v3/catalog/products",
            api.handle.base_url
        ))
        .header("x-auth-token", DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn products_page_with_meta_and_filter_by_date_modified_sku_and_id() {
    let api = Api::start(SimConfig::default()).await;
    let (shirt, mug) = catalogue(&api.sim);
    let (s, h, body) = api
        .get("/v3/catalog/products?limit=1&include=variants")
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-rate-limit-requests-quota"], "150");
    assert_eq!(h["x-rate-limit-time-window-ms"], "30000");
    let p = &body["meta"]["pagination"];
    assert_eq!(p["total"], 2);
    assert_eq!(p["total_pages"], 2);
    assert_eq!(p["per_page"], 1);
    assert_eq!(p["links"]["next"], "?include=variants&page=2&limit=1");
    assert!(p["links"].get("previous").is_none());
    let first = &body["data"][0];
    assert_eq!(first["id"], shirt);
    assert_eq!(first["inventory_level"], 14);
    assert_eq!(first["variants"].as_array().unwrap().len(), 3, "base + 2");
    assert_eq!(first["variants"][2]["price"], serde_json::Value::Null);
    assert_eq!(first["variants"][2]["calculated_price"], 18.0);

    // Edit the mug a minute later; a date_modified:min read returns only it.
    api.sim.advance_clock(std::time::Duration::from_secs(60));
    api.sim.edit_product(mug, json!({"price": 9.5})).unwrap();
    let since = api.sim.product(mug).unwrap()["date_modified"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, _, body) = api
        .get(&format!(
            "/v3/catalog/products?date_modified:min={}",
            urlencode(&since)
        ))
        .await;
    let ids: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![mug], "inclusive minimum");
    let (_, _, body) = api.get("/v3/catalog/products?sku=shirt-m").await;
    assert_eq!(
        body["data"][0]["id"], shirt,
        "sku matches any variant, any case"
    );
    let (_, _, body) = api
        .get(&format!("/v3/catalog/products?id:greater={shirt}"))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (s, _, body) = api.get("/v3/catalog/products?limit=251").await;
    assert_eq!(s, 413);
    assert_eq!(body["status"], 413);
    let (s, _, _) = api
        .get("/v3/catalog/products?date_modified:min=yesterday")
        .await;
    assert_eq!(s, 422);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn variants_update_one_at_a_time_and_in_all_or_nothing_batches() {
    let api = Api::start(SimConfig::default()).await;
    let (shirt, _) = catalogue(&api.sim);
    let s_id = api.sim.variant("SHIRT-S").unwrap()["id"].as_u64().unwrap();
    let m_id = api.sim.variant("SHIRT-M").unwrap()["id"].as_u64().unwrap();
    let (s, _, body) = api
        .call(
            Method::PUT,
            &format!("/v3/catalog/products/{shirt}/variants/{s_id}"),
            Some(json!({"price": 21.0})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["price"], 21.0);
    // A string price is refused with the V3 shape.
    let (s, _, body) = api
        .call(
            Method::PUT,
            &format!("/v3/catalog/products/{shirt}/variants/{s_id}"),
            Some(json!({"price": "21.00"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["errors"]["price"], "must be a number");
    // A batch with a duplicate SKU in it changes nothing.
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/catalog/variants",
            Some(json!([{"id": s_id, "price": 30.0}, {"id": m_id, "sku": "MUG"}])),
        )
        .await;
    assert_eq!(s, 409);
    assert!(body["errors"]["variants.1"].is_string());
    assert_eq!(api.sim.variant("SHIRT-S").unwrap()["price"], 21.0);
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/catalog/variants",
            Some(json!([{"id": s_id, "price": 30.0}, {"id": m_id, "price": 31.0}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let too_many: Vec<_> = (0..51).map(|_| json!({"id": s_id, "price": 1.0})).collect();
    let (s, _, _) = api
        .call(Method::PUT, "/v3/catalog/variants", Some(json!(too_many)))
        .await;
    assert_eq!(s, 413);
    let (s, _, body) = api.get("/v3/catalog/variants?sku:in=SHIRT-S,MUG").await;
    assert_eq!(s, 200);
    assert_eq!(body["meta"]["pagination"]["total"], 2);
}

#[tokio::test]
async fn inventory_is_kept_per_location_and_adjusted_absolutely_or_relatively() {
    let api = Api::start(SimConfig::default()).await;
    catalogue(&api.sim);
    let wh = api.sim.create_location("WH", "Warehouse");
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/inventory/adjustments/absolute",
            Some(json!({"reason": "count", "items": [
                {"location_id": wh, "sku": "SHIRT-S", "quantity": 6},
                {"location_id": 1, "sku": "SHIRT-S", "quantity": 3}]})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(body["transaction_id"].is_string());
    assert_eq!(api.sim.stock("SHIRT-S", wh), Some(6));
    assert_eq!(api.sim.variant("SHIRT-S").unwrap()["inventory_level"], 9);
    let (s, _, _) = api
        .call(
            Method::POST,
            "/v3/inventory/adjustments/relative",
            Some(json!({"items": [{"location_id": wh, "sku": "SHIRT-S", "quantity": -2}]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(api.sim.stock("SHIRT-S", wh), Some(4));
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/inventory/adjustments/absolute",
            Some(json!({"items": [{"location_id": 99, "sku": "SHIRT-S", "quantity": 1}]})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["title"], "Location not found, identities: [99]");
    let (s, _, body) = api
        .get(&format!(
            "/v3/inventory/items?sku:in=SHIRT-S&location_id:in={wh}"
        ))
        .await;
    assert_eq!(s, 200);
    let item = &body["data"][0];
    assert_eq!(item["identity"]["sku"], "SHIRT-S");
    assert_eq!(item["locations"][0]["location_id"], wh);
    assert_eq!(item["locations"][0]["available_to_sell"], 4);
    let (_, _, body) = api.get("/v3/inventory/locations").await;
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    let ledger = api.sim.stock_ledger();
    assert!(
        ledger
            .iter()
            .any(|c| c.location_id == wh && c.before == 6 && c.after == 4)
    );
}

#[tokio::test]
async fn v2_orders_are_bare_arrays_with_rfc_2822_dates_and_204_when_empty() {
    let api = Api::start(SimConfig::default()).await;
    catalogue(&api.sim);
    let (s, _, body) = api.get("/v2/orders").await;
    assert_eq!((s, body), (204, serde_json::Value::Null));
    let c = api
        .sim
        .create_customer(json!({"email": "a@example.com", "first_name": "A", "last_name": "B"}))
        .unwrap();
    let id = api
        .sim
        .place_order(
            c,
            &[weft_sim_bigcommerce::OrderLine {
                sku: "SHIRT-S".into(),
                quantity: 2,
            }],
        )
        .unwrap();
    assert_eq!(api.sim.stock("SHIRT-S", 1), Some(8));
    let (s, _, body) = api.get("/v2/orders?min_date_modified=2026-01-01").await;
    assert_eq!(s, 200);
    let o = &body[0];
    assert_eq!(o["id"], id);
    assert_eq!(o["status_id"], 11);
    assert_eq!(o["status"], "Awaiting Fulfillment");
    assert_eq!(o["subtotal_inc_tax"], "36.0000");
    assert!(o["date_modified"].as_str().unwrap().ends_with("+0000"));
    let (_, _, lines) = api.get(&format!("/v2/orders/{id}/products")).await;
    assert_eq!(lines[0]["sku"], "SHIRT-S");
    assert_eq!(lines[0]["quantity"], 2);
    let (s, _, _) = api
        .call(
            Method::PUT,
            &format!("/v2/orders/{id}"),
            Some(json!({"status_id": 5})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        api.sim.stock("SHIRT-S", 1),
        Some(10),
        "cancelled: stock back"
    );
    let (s, _, body) = api.get("/v2/orders/999999").await;
    assert_eq!(s, 404);
    assert_eq!(body[0]["status"], 404);
    let (_, _, body) = api.get("/v2/order_statuses").await;
    assert_eq!(body.as_array().unwrap().len(), 15);
    let (_, _, body) = api.get("/v2/orders/count").await;
    assert_eq!(body["count"], 1);
}

#[tokio::test]
async fn customers_are_created_and_updated_in_arrays() {
    let api = Api::start(SimConfig::default()).await;
    let (s, _, body) = api
        .call(
            Method::POST,
            "/v3/customers",
            Some(json!([{"email": "x@example.com", "first_name": "X", "last_name": "Y"}])),
        )
        .await;
    assert_eq!(s, 200);
    let id = body["data"][0]["id"].as_u64().unwrap();
    let (s, _, body) = api
        .call(
            Method::POST,
            "/v3/customers",
            Some(json!([{"email": "X@example.com", "first_name": "X", "last_name": "Y"}])),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let (s, _, body) = api
        .call(
            Method::PUT,
            "/v3/customers",
            Some(json!([{"id": id, "phone": "555"}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"][0]["phone"], "555");
    let (_, _, body) = api.get("/v3/customers?email:in=x@example.com").await;
    assert_eq!(body["data"][0]["id"], id);
}

#[tokio::test]
async fn unknown_routes_and_bad_bodies_use_the_error_shapes() {
    let api = Api::start(SimConfig::default()).await;
    let (s, _, body) = api.get("/v3/nothing").await;
    assert_eq!(s, 404);
    assert_eq!(body["status"], 404);
    let r = api
        .http
        .post(format!("{}/v3/catalog/products", api.root))
        .header("x-auth-token", DEFAULT_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, _, body) = api
        .call(
            Method::POST,
            "/v3/catalog/products",
            Some(json!({"name": "X", "type": "physical"})),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["errors"]["price"], "price is required");
}

/// Deletes answer 204 with no body: a product's option variant (its stock goes with it and
/// the product is modified), customers by `id:in` (ids that do not exist are passed over;
/// without `id:in` nothing is deleted), products by filter. Refused: a product's base variant
/// (422), a variant the product does not have or a product that does not exist (404, in the
/// V3 shape), a product delete without a filter (422).
#[tokio::test]
async fn deletes_are_204_and_refusals_use_the_v3_shape() {
    let api = Api::start(SimConfig::default()).await;
    let (shirt, mug) = catalogue(&api.sim);
    let s = api.sim.variant("SHIRT-S").unwrap()["id"].as_u64().unwrap();
    let base = api.sim.product(shirt).unwrap()["base_variant_id"]
        .as_u64()
        .unwrap();
    let before = api.sim.product(shirt).unwrap()["date_modified"].clone();
    api.sim.advance_clock(std::time::Duration::from_secs(60));

    let (st, _, body) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products/{shirt}/variants/{s}"),
            None,
        )
        .await;
    assert_eq!((st, body), (204, serde_json::Value::Null));
    assert!(api.sim.variant("SHIRT-S").is_none());
    assert!(api.sim.stock("SHIRT-S", 1).is_none());
    let p = api.sim.product(shirt).unwrap();
    assert_eq!(p["variants"].as_array().unwrap().len(), 2);
    assert_eq!(p["inventory_level"], 4, "SHIRT-S's 10 went with it");
    assert_ne!(p["date_modified"], before);
    let (st, _, _) = api
        .get(&format!("/v3/catalog/products/{shirt}/variants/{s}"))
        .await;
    assert_eq!(st, 404);
    // Again, or as another product's: not found.
    for path in [
        format!("/v3/catalog/products/{shirt}/variants/{s}"),
        format!(
            "/v3/catalog/products/{mug}/variants/{}",
            api.sim.variant("SHIRT-M").unwrap()["id"]
        ),
        "/v3/catalog/products/999/variants/70".to_owned(),
    ] {
        let (st, _, body) = api.call(Method::DELETE, &path, None).await;
        assert_eq!(st, 404, "{path}");
        assert_eq!(body["status"], 404);
        assert_eq!(body["title"], "The requested resource was not found.");
    }
    assert!(api.sim.variant("SHIRT-M").is_some());
    // The base variant stays while the product does.
    let (st, _, body) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products/{shirt}/variants/{base}"),
            None,
        )
        .await;
    assert_eq!(st, 422);
    assert!(
        body["title"].as_str().unwrap().contains("base variant"),
        "{body}"
    );
    assert!(body["errors"]["variant_id"].is_string());
    assert!(api.sim.variant("SHIRT").is_some());

    // Customers.
    let a = api
        .sim
        .create_customer(json!({"email": "a@x.y", "first_name": "A", "last_name": "B"}))
        .unwrap();
    let b = api
        .sim
        .create_customer(json!({"email": "b@x.y", "first_name": "B", "last_name": "B"}))
        .unwrap();
    let (st, _, _) = api.call(Method::DELETE, "/v3/customers", None).await;
    assert_eq!(st, 204);
    assert!(api.sim.has_customer(a) && api.sim.has_customer(b));
    let (st, _, body) = api
        .call(
            Method::DELETE,
            &format!("/v3/customers?id:in={a},999"),
            None,
        )
        .await;
    assert_eq!((st, body), (204, serde_json::Value::Null));
    assert!(!api.sim.has_customer(a) && api.sim.has_customer(b));
    let (st, _, _) = api
        .call(Method::DELETE, &format!("/v3/customers?id:in={a}"), None)
        .await;
    assert_eq!(st, 204, "gone already");
    let (_, _, listed) = api.get(&format!("/v3/customers?id:in={a},{b}")).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // Products: one, then by filter.
    let (st, _, body) = api
        .call(Method::DELETE, "/v3/catalog/products?limit=5", None)
        .await;
    assert_eq!(st, 422, "a filter is required");
    assert_eq!(body["status"], 422);
    assert!(api.sim.product(shirt).is_some() && api.sim.product(mug).is_some());
    let (st, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products/{shirt}"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert!(api.sim.product(shirt).is_none() && api.sim.variant("SHIRT-M").is_none());
    let (st, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products/{shirt}"),
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products?id:in={shirt},{mug}"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert!(api.sim.product(mug).is_none() && api.sim.variant("MUG").is_none());
}
