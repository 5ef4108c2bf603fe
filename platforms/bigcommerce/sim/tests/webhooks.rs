//! Webhooks over real HTTP: thin payloads with the hook's custom headers, duplicates, drops,
//! retries with backoff and deactivation after persistent failure.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use reqwest::Method;
use serde_json::json;
use weft_sim_bigcommerce::{ChaosConfig, SimConfig, WebhookConfig};

fn fast(chaos: ChaosConfig, retries: usize) -> SimConfig {
    SimConfig {
        webhooks: WebhookConfig {
            chaos,
            retry_delays: vec![Duration::from_millis(20); retries],
            timeout: Duration::from_secs(2),
            require_https: false,
        },
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_thin_and_carry_the_registered_headers() {
    let api = Api::start(fast(ChaosConfig::default(), 2)).await;
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    let (s, _, body) = api
        .call(
            Method::POST,
            "/v3/hooks",
            Some(
                json!({"scope": "store/product/*", "destination": url, "is_active": true,
                        "headers": {"X-Weft-Secret": "s3cret"}}),
            ),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["headers"]["X-Weft-Secret"], "s3cret");
    assert_eq!(body["data"]["is_active"], true);
    let (shirt, _) = catalogue(&api.sim);
    api.sim
        .set_stock("SHIRT-S", weft_sim_bigcommerce::DEFAULT_LOCATION, 3)
        .unwrap();
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got = seen.lock().clone();
    let scopes: Vec<String> = got
        .iter()
        .map(|c| c.body["scope"].as_str().unwrap().to_owned())
        .collect();
    assert!(scopes.contains(&"store/product/created".to_owned()));
    assert!(scopes.contains(&"store/product/inventory/updated".to_owned()));
    let c = got
        .iter()
        .find(|c| c.body["scope"] == "store/product/inventory/updated")
        .unwrap();
    assert_eq!(c.headers["x-weft-secret"], "s3cret");
    assert_eq!(c.body["data"], json!({"type": "product", "id": shirt}));
    assert_eq!(c.body["store_id"], "1001234");
    assert_eq!(
        c.body["producer"],
        format!("stores/{}", api.sim.config().store_hash)
    );
    assert!(c.body["created_at"].is_i64());
    assert_eq!(c.body["hash"].as_str().unwrap().len(), 40);
    assert_eq!(
        c.body.as_object().unwrap().len(),
        6,
        "nothing but the thin fields"
    );
    // Order scopes did not go to a product hook.
    api.sim
        .place_order(
            0,
            &[weft_sim_bigcommerce::OrderLine {
                sku: "MUG".into(),
                quantity: 1,
            }],
        )
        .unwrap();
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert!(
        seen.lock()
            .iter()
            .all(|c| c.body["scope"] != "store/order/created")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_the_same_body_then_the_hook_is_deactivated() {
    let api = Api::start(fast(ChaosConfig::default(), 3)).await;
    // The first two calls fail, then the receiver recovers.
    let (url, seen) = receiver(|n| {
        if n < 2 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    })
    .await;
    api.call(
        Method::POST,
        "/v3/hooks",
        Some(json!({"scope": "store/customer/created", "destination": url})),
    )
    .await;
    api.sim
        .create_customer(json!({"email": "a@b.c", "first_name": "A", "last_name": "B"}))
        .unwrap();
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got = seen.lock().clone();
    assert_eq!(got.len(), 3, "two failures and the acknowledged retry");
    assert!(got.iter().all(|c| c.body == got[0].body));
    let stats = api.sim.webhook_stats();
    assert_eq!((stats.delivered, stats.retries, stats.failed), (1, 2, 0));

    // A receiver that never recovers: after the last retry the hook is deactivated.
    let (dead, dead_seen) = receiver(|_| StatusCode::INTERNAL_SERVER_ERROR).await;
    let (_, _, h) = api
        .call(
            Method::POST,
            "/v3/hooks",
            Some(json!({"scope": "store/customer/*", "destination": dead})),
        )
        .await;
    let hook = h["data"]["id"].as_u64().unwrap();
    api.sim
        .create_customer(json!({"email": "c@d.e", "first_name": "C", "last_name": "D"}))
        .unwrap();
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert_eq!(dead_seen.lock().len(), 4, "1 try + 3 retries");
    let (_, _, h) = api.get(&format!("/v3/hooks/{hook}")).await;
    assert_eq!(h["data"]["is_active"], false);
    assert_eq!(api.sim.webhook_stats().hooks_deactivated, 1);
    // Nothing more goes to a deactivated hook.
    api.sim
        .create_customer(json!({"email": "f@g.h", "first_name": "F", "last_name": "G"}))
        .unwrap();
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert_eq!(dead_seen.lock().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_drops_and_duplicates_are_seeded_and_logged() {
    let chaos = ChaosConfig {
        drop_rate: 0.3,
        duplicate_rate: 0.3,
        reorder_window: Duration::from_millis(30),
    };
    let api = Api::start(fast(chaos, 0)).await;
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    api.call(
        Method::POST,
        "/v3/hooks",
        Some(json!({"scope": "store/customer/created", "destination": url})),
    )
    .await;
    for i in 0..40 {
        api.sim
            .create_customer(
                json!({"email": format!("c{i}@x.y"), "first_name": "C", "last_name": "D"}),
            )
            .unwrap();
    }
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let stats = api.sim.webhook_stats();
    assert_eq!(stats.callbacks, 40);
    assert!(stats.dropped > 0 && stats.duplicated > 0, "{stats:?}");
    let got = seen.lock().clone();
    assert_eq!(got.len() as u64, 40 - stats.dropped + stats.duplicated);
    let log = api.sim.webhook_log();
    let dup = log.iter().find(|r| r.duplicated).unwrap();
    let copies = got
        .iter()
        .filter(|c| c.body["hash"] == dup.hash.as_str())
        .count();
    assert_eq!(copies, 2, "a duplicate carries the same hash");
    // Reordered: ids do not arrive in firing order.
    let ids: Vec<u64> = got
        .iter()
        .map(|c| c.body["data"]["id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_ne!(
        ids, sorted,
        "the reorder window lets callbacks overtake each other"
    );
}

#[tokio::test]
async fn hooks_need_a_scope_and_a_destination() {
    let api = Api::start(SimConfig {
        webhooks: WebhookConfig {
            require_https: true,
            ..WebhookConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let (s, _, body) = api
        .call(
            Method::POST,
            "/v3/hooks",
            Some(json!({"destination": "https://x.example/h"})),
        )
        .await;
    assert_eq!(s, 422);
    assert!(body["errors"]["scope"].is_string());
    let (s, _, _) = api
        .call(
            Method::POST,
            "/v3/hooks",
            Some(json!({"scope": "store/order/*", "destination": "https://x.example:8443/h"})),
        )
        .await;
    assert_eq!(s, 422, "only port 443");
    let (s, _, _) = api
        .call(
            Method::POST,
            "/v3/hooks",
            Some(json!({"scope": "store/order/*", "destination": "https://x.example/h"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, _, body) = api.get("/v3/hooks").await;
    assert_eq!(body["meta"]["pagination"]["total"], 1);
}

/// What deletes fire: an option variant's, `store/product/updated` for its product and
/// `store/sku/deleted` naming the SKU record with its product and variant; a product's,
/// `store/product/deleted`; a customer's (through the API too), `store/customer/deleted`. All
/// thin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_fire_their_callbacks() {
    let api = Api::start(fast(ChaosConfig::default(), 2)).await;
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    for scope in ["store/product/*", "store/sku/*", "store/customer/*"] {
        let (s, _, _) = api
            .call(
                Method::POST,
                "/v3/hooks",
                Some(json!({"scope": scope, "destination": url, "is_active": true})),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (shirt, _) = catalogue(&api.sim);
    let c = api
        .sim
        .create_customer(json!({"email": "a@b.c", "first_name": "A", "last_name": "B"}))
        .unwrap();
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let first = seen.lock().len();
    let m = api.sim.variant("SHIRT-M").unwrap();
    let (vid, sku_id) = (m["id"].as_u64().unwrap(), m["sku_id"].as_u64().unwrap());
    let (s, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products/{shirt}/variants/{vid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    api.sim.delete_variant("SHIRT-S").unwrap();
    let (s, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v3/catalog/products/{shirt}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = api
        .call(Method::DELETE, &format!("/v3/customers?id:in={c}"), None)
        .await;
    assert_eq!(s, 204);
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got: Vec<serde_json::Value> = seen.lock()[first..]
        .iter()
        .map(|c| c.body.clone())
        .collect();
    let of = |scope: &str| -> Vec<serde_json::Value> {
        got.iter()
            .filter(|b| b["scope"] == scope)
            .map(|b| b["data"].clone())
            .collect()
    };
    assert_eq!(
        of("store/product/updated"),
        vec![json!({"type": "product", "id": shirt}); 2]
    );
    let skus = of("store/sku/deleted");
    assert_eq!(skus.len(), 2);
    // (Callbacks go out concurrently: in any order.)
    assert!(
        skus.contains(
            &json!({"type": "sku", "id": sku_id, "sku": {"product_id": shirt, "variant_id": vid}})
        ),
        "{skus:?}"
    );
    assert_eq!(
        of("store/product/deleted"),
        vec![json!({"type": "product", "id": shirt})]
    );
    assert_eq!(
        of("store/customer/deleted"),
        vec![json!({"type": "customer", "id": c})]
    );
    assert!(got.iter().all(|b| b["hash"].as_str().unwrap().len() == 40));
    // The base variant is refused, and fires nothing.
    let fired = api.sim.webhook_log().len();
    assert!(api.sim.delete_variant("MUG").is_err());
    assert!(api.sim.variant("MUG").is_some());
    assert!(api.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert_eq!(api.sim.webhook_log().len(), fired);
}
