//! Webhook delivery over real HTTP: Shopify's headers, an HMAC verified independently, secret
//! rotation, the retry schedule with the original payload, timeouts, and chaos accounting.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use weft_sim_shopify::{
    ChaosConfig, CustomerFields, NewProduct, NewVariant, ShopifySim, SimConfig, Topic, VariantEdit,
    WebhookConfig,
};

fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    expected == header
}

fn product() -> NewProduct {
    NewProduct {
        title: "Widget".into(),
        variants: vec![NewVariant {
            sku: Some("W-1".into()),
            price: "3.50".into(),
            ..NewVariant::default()
        }],
        ..NewProduct::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_carry_shopify_headers_and_a_verifiable_signature() {
    let sim = sim();
    let (url, seen) = receiver(|_, _| StatusCode::OK).await;
    // Subscribe through GraphQL as an app would.
    let body = gql(
        &sim,
        r#"mutation($uri: String!) { webhookSubscriptionCreate(topic: PRODUCTS_CREATE, webhookSubscription: {uri: $uri, format: JSON}) {
            webhookSubscription { id topic uri } userErrors { field message } } }"#,
        json!({"uri": url}),
    )
    .await;
    assert_eq!(
        body["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["topic"],
        "PRODUCTS_CREATE"
    );
    sim.subscribe_webhook(Topic::InventoryLevelsUpdate, &url)
        .unwrap();

    let created = sim.create_product(product()).unwrap();
    sim.set_inventory(created.inventory_item_ids[0], sim.location_ids()[0], 7)
        .unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);

    let got = seen.lock().clone();
    assert_eq!(got.len(), 2);
    for c in &got {
        let h = &c.headers;
        let sig = h["x-shopify-hmac-sha256"].to_str().unwrap();
        assert!(
            verify(SECRET, &c.body, sig),
            "signature verifies with the app secret"
        );
        assert!(!verify("other", &c.body, sig));
        assert_eq!(h["x-shopify-shop-domain"], "weft-sim.myshopify.com");
        assert_eq!(h["content-type"], "application/json");
        for name in [
            "x-shopify-api-version",
            "x-shopify-webhook-id",
            "x-shopify-event-id",
            "x-shopify-triggered-at",
        ] {
            assert!(h.contains_key(name), "{name} present");
        }
    }
    let create = got
        .iter()
        .find(|c| c.headers["x-shopify-topic"] == "products/create")
        .unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    // Ids are JSON numbers beyond 2^53, with the GraphQL id beside them.
    let id = body["id"].as_u64().unwrap();
    assert!(id > 1 << 53);
    assert_eq!(id, created.id);
    assert_eq!(
        body["admin_graphql_api_id"],
        format!("gid://shopify/Product/{id}")
    );
    assert_eq!(body["variants"][0]["sku"], "W-1");
    assert_eq!(body["variants"][0]["price"], "3.50");
    assert_eq!(
        body["variants"][0]["inventory_item_id"].as_u64().unwrap(),
        created.inventory_item_ids[0]
    );
    assert!(body["updated_at"].as_str().unwrap().ends_with("-05:00"));
    let level = got
        .iter()
        .find(|c| c.headers["x-shopify-topic"] == "inventory_levels/update")
        .unwrap();
    let body: Value = serde_json::from_slice(&level.body).unwrap();
    assert_eq!(body["available"], 7);
    assert!(
        body["admin_graphql_api_id"]
            .as_str()
            .unwrap()
            .contains("?inventory_item_id=")
    );
    let stats = sim.webhook_stats();
    assert_eq!(
        (stats.deliveries, stats.delivered, stats.dropped),
        (2, 2, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_signs_with_oldest_unrevoked_secret() {
    let sim = sim();
    let (url, seen) = receiver(|_, _| StatusCode::OK).await;
    sim.subscribe_webhook(Topic::CustomersCreate, &url).unwrap();
    sim.rotate_secret("new-secret");
    sim.create_customer(CustomerFields {
        email: Some("a@example.com".into()),
        ..CustomerFields::default()
    })
    .unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    assert!(sim.revoke_secret(SECRET));
    sim.create_customer(CustomerFields {
        email: Some("b@example.com".into()),
        ..CustomerFields::default()
    })
    .unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock().clone();
    let sig = |i: usize| {
        got[i].headers["x-shopify-hmac-sha256"]
            .to_str()
            .unwrap()
            .to_string()
    };
    assert!(verify(SECRET, &got[0].body, &sig(0)));
    assert!(verify("new-secret", &got[1].body, &sig(1)));
}

fn compressed(factor: f64, chaos: ChaosConfig, seed: u64) -> ShopifySim {
    ShopifySim::new(
        SimConfig::builder()
            .seed(seed)
            .webhooks(WebhookConfig {
                chaos,
                time_compression: factor,
                ..WebhookConfig::default()
            })
            .build()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_retry_with_backoff_and_the_original_payload() {
    // 4 hours compressed 1440x = 10 s; the first four delays are 39, 78, 157, 314 ms.
    let sim = compressed(1440.0, ChaosConfig::default(), 1);
    let (url, seen) = receiver(|_, prior| {
        if prior < 4 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    })
    .await;
    sim.subscribe_webhook(Topic::ProductsUpdate, &url).unwrap();
    let created = sim.create_product(product()).unwrap();
    sim.edit_variant(
        created.variant_ids[0],
        VariantEdit {
            price: Some("4.00".into()),
            ..VariantEdit::default()
        },
    )
    .unwrap();
    // Change it again while retries are pending: retries must still carry the first payload.
    tokio::time::sleep(Duration::from_millis(20)).await;
    sim.edit_variant(
        created.variant_ids[0],
        VariantEdit {
            price: Some("9.00".into()),
            ..VariantEdit::default()
        },
    )
    .unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(20)).await);

    let got = seen.lock().clone();
    let first_id = got[0].headers["x-shopify-webhook-id"].clone();
    let chain: Vec<_> = got
        .iter()
        .filter(|c| c.headers["x-shopify-webhook-id"] == first_id)
        .collect();
    assert_eq!(chain.len(), 5, "1 try + 4 retries until the 2xx");
    for c in &chain {
        assert_eq!(c.body, chain[0].body, "original payload on every retry");
        assert_eq!(
            c.headers["x-shopify-event-id"],
            chain[0].headers["x-shopify-event-id"]
        );
        assert_eq!(
            c.headers["x-shopify-triggered-at"],
            chain[0].headers["x-shopify-triggered-at"]
        );
    }
    let body: Value = serde_json::from_slice(&chain[0].body).unwrap();
    assert_eq!(body["variants"][0]["price"], "4.00");
    let gaps: Vec<f64> = chain
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64() * 1000.0)
        .collect();
    let nominal = [39.2, 78.4, 156.9, 313.7];
    for (g, n) in gaps.iter().zip(nominal) {
        assert!(
            *g >= n * 0.95 && *g < n * 2.0 + 500.0,
            "gap {g} ms vs nominal {n} ms: {gaps:?}"
        );
    }
    let log = sim.webhook_log();
    let rec = log
        .iter()
        .find(|r| r.webhook_id == first_id.to_str().unwrap())
        .unwrap();
    assert!(rec.delivered && !rec.failed);
    assert_eq!(rec.attempts.len(), 5);
    assert_eq!(
        rec.attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_fail_after_eight_and_timeouts_count_as_failures() {
    let sim = ShopifySim::new(
        SimConfig::builder()
            .webhooks(WebhookConfig {
                time_compression: 14_400.0,
                total_timeout_ms: 200,
                remove_subscription_after_failures: Some(1),
                ..WebhookConfig::default()
            })
            .build()
            .unwrap(),
    );
    // A receiver that never answers in time.
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sim.subscribe_webhook(Topic::CustomersCreate, &format!("http://{addr}/slow"))
        .unwrap();
    sim.create_customer(CustomerFields {
        first_name: Some("Zed".into()),
        ..CustomerFields::default()
    })
    .unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(30)).await);
    let rec = &sim.webhook_log()[0];
    assert_eq!(rec.attempts.len(), 9, "first try and 8 retries");
    assert!(
        rec.attempts
            .iter()
            .all(|a| a.error.as_deref() == Some("timeout"))
    );
    assert!(rec.failed && !rec.delivered);
    assert!(
        sim.subscriptions().is_empty(),
        "subscription removed after the configured failures"
    );
    assert_eq!(sim.webhook_stats().subscriptions_removed, 1);
}

async fn chaos_run(seed: u64) -> (ShopifySim, Vec<Captured>) {
    let chaos = ChaosConfig {
        drop_rate: 0.2,
        duplicate_rate: 0.1,
        reorder_window_ms: 30,
        late_rate: 0.1,
        late_delay_secs: 3600.0,
    };
    // Late copies arrive 3600 s / 36000 = 100 ms later.
    let sim = compressed(36_000.0, chaos, seed);
    let (url, seen) = receiver(|_, _| StatusCode::OK).await;
    sim.subscribe_webhook(Topic::CustomersCreate, &url).unwrap();
    sim.subscribe_webhook(Topic::CustomersUpdate, &url).unwrap();
    for i in 0..150 {
        let id = sim
            .create_customer(CustomerFields {
                email: Some(format!("u{i}@example.com")),
                ..CustomerFields::default()
            })
            .unwrap();
        sim.edit_customer(
            id,
            CustomerFields {
                first_name: Some(format!("N{i}")),
                ..CustomerFields::default()
            },
        )
        .unwrap();
    }
    assert!(sim.wait_webhooks_idle(Duration::from_secs(30)).await);
    let got = seen.lock().clone();
    (sim, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_is_accounted_for_per_delivery_and_seeded() {
    let (sim, got) = chaos_run(42).await;
    let stats = sim.webhook_stats();
    let log = sim.webhook_log();
    assert_eq!(stats.deliveries, 300);
    assert!(
        (30..=90).contains(&stats.dropped),
        "drop count {} near 20% of 300",
        stats.dropped
    );
    assert!(
        stats.duplicated > 5 && stats.late > 5 && stats.reordered > 5,
        "{stats:?}"
    );
    assert_eq!(stats.delivered, 300 - stats.dropped);
    assert_eq!(stats.pending, 0);

    let mut received: HashMap<String, usize> = HashMap::new();
    for c in &got {
        *received
            .entry(
                c.headers["x-shopify-webhook-id"]
                    .to_str()
                    .unwrap()
                    .to_string(),
            )
            .or_default() += 1;
    }
    for r in &log {
        let n = received.get(&r.webhook_id).copied().unwrap_or(0);
        if r.dropped {
            assert_eq!(n, 0, "a dropped delivery is never sent");
        } else {
            assert_eq!(
                n,
                1 + r.duplicated as usize + r.late as usize,
                "copies of {}",
                r.webhook_id
            );
        }
    }
    // The receiver can tell reordering from the triggered-at order it observed.
    let reordered_seen = got.windows(2).any(|w| {
        w[1].headers["x-shopify-triggered-at"].to_str().unwrap()
            < w[0].headers["x-shopify-triggered-at"].to_str().unwrap()
    }) || stats.reordered > 0;
    assert!(reordered_seen);

    // Same seed, same chaos decisions.
    let (sim2, _) = chaos_run(42).await;
    let fate = |l: &[weft_sim_shopify::DeliveryRecord]| {
        l.iter()
            .map(|r| {
                (
                    r.seq,
                    r.dropped,
                    r.duplicated,
                    r.late,
                    r.delay_ms,
                    r.webhook_id.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(fate(&log), fate(&sim2.webhook_log()));
}

#[test]
fn a_product_payload_carries_its_first_100_variants_and_every_id() {
    let sim = weft_sim_shopify::ShopifySim::new(weft_sim_shopify::SimConfig::default());
    let variants = (0..101)
        .map(|i| weft_sim_shopify::NewVariant {
            sku: Some(format!("BIG-{i:03}")),
            price: "5.00".into(),
            ..weft_sim_shopify::NewVariant::default()
        })
        .collect();
    let p = sim
        .create_product(weft_sim_shopify::NewProduct {
            title: "Big".into(),
            option_name: Some("Size".into()),
            variants,
            ..weft_sim_shopify::NewProduct::default()
        })
        .unwrap();
    let body = sim.product_json(p.id);
    assert_eq!(body["variants"].as_array().unwrap().len(), 100);
    assert_eq!(body["variant_gids"].as_array().unwrap().len(), 101);
}
