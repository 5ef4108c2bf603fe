//! Webhook delivery over real HTTP: WooCommerce's headers, a signature verified independently,
//! payloads equal to GET, `{"id":N}` for deletes, no re-sends, disabling after repeated
//! failures, re-enabling through the REST API, and seeded chaos.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use weft_sim_woocommerce::{ChaosConfig, Kind, OrderLine, SimConfig, WebhookConfig, WooSim};

fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()) == header
}

async fn subscribe(sim: &WooSim, topic: &str, url: &str, secret: Option<&str>) -> u64 {
    let mut body = json!({"name": topic, "topic": topic, "delivery_url": url});
    if let Some(s) = secret {
        body["secret"] = json!(s);
    }
    let r = post(sim, "/wp-json/wc/v3/webhooks", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "active");
    let id = r.body["id"].as_u64().unwrap();
    // Create answers in the edit context (with the secret); GET does not show it.
    assert!(r.body["secret"].is_string());
    let g = get(sim, &format!("/wp-json/wc/v3/webhooks/{id}")).await;
    assert!(g.body.get("secret").is_none(), "{}", g.body);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_carry_woocommerce_headers_and_a_verifiable_signature() {
    let sim = sim();
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    let hook = subscribe(&sim, "product.updated", &url, Some("s3cr3t/é")).await;
    let created = subscribe(&sim, "product.created", &url, None).await;
    let r = post(
        &sim,
        "/wp-json/wc/v3/products",
        json!({"name": "Ünïcode/Widget", "sku": "W", "regular_price": "2.00"}),
    )
    .await;
    let id = r.body["id"].as_u64().unwrap();
    call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/products/{id}"),
        Some(json!({"sale_price": "1.50"})),
    )
    .await;
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock().clone();
    assert_eq!(got.len(), 2);
    let now = get(&sim, &format!("/wp-json/wc/v3/products/{id}")).await;
    for c in &got {
        let h = &c.headers;
        let topic = h["x-wc-webhook-topic"].to_str().unwrap();
        let secret = if topic == "product.updated" {
            "s3cr3t/é"
        } else {
            SECRET
        };
        let sig = h["x-wc-webhook-signature"].to_str().unwrap();
        assert!(verify(secret, &c.body, sig), "{topic} signature verifies");
        assert!(!verify("other", &c.body, sig));
        assert_eq!(h["x-wc-webhook-resource"], "product");
        assert_eq!(h["x-wc-webhook-source"], "http://localhost/");
        assert_eq!(h["content-type"], "application/json");
        assert!(h["user-agent"].to_str().unwrap().contains("Hookshot"));
        assert_eq!(h["x-wc-webhook-delivery-id"].len(), 32);
        let expect_id = if topic == "product.updated" {
            hook
        } else {
            created
        };
        assert_eq!(h["x-wc-webhook-id"], expect_id.to_string().as_str());
        // PHP-style JSON: slashes and non-ASCII escaped; raw bytes are what is signed.
        let text = std::str::from_utf8(&c.body).unwrap();
        assert!(text.contains("\\/") && text.contains("\\u00dc"), "{text}");
    }
    let upd = got
        .iter()
        .find(|c| c.headers["x-wc-webhook-event"] == "updated")
        .unwrap();
    let payload: Value = serde_json::from_slice(&upd.body).unwrap();
    assert_eq!(
        payload, now.body,
        "payload is the resource as GET returns it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_send_only_the_id_and_orders_fire_stock_updates() {
    let sim = sim();
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    for t in [
        "product.deleted",
        "order.created",
        "product.updated",
        "customer.deleted",
    ] {
        subscribe(&sim, t, &url, None).await;
    }
    let a = sim.create_product(json!({"name": "A", "sku": "A", "regular_price": "1.00", "manage_stock": true, "stock_quantity": 4})).unwrap();
    let gone = sim
        .create_product(json!({"name": "G", "sku": "G", "regular_price": "1.00"}))
        .unwrap();
    let c = sim.create_customer("c@example.com", "C", "D").unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let order = sim
        .place_order(
            c,
            &[OrderLine {
                sku: "A".into(),
                quantity: 1,
            }],
        )
        .unwrap();
    // Trashed: `product.deleted` (its hook is `wp_trash_post`). Deleted for good without the
    // trash: no webhook at all (woocommerce/woocommerce#28541).
    call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{a}"),
        None,
    )
    .await;
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{gone}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(sim.get(Kind::Product, gone), Value::Null);
    call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/customers/{c}?force=true"),
        None,
    )
    .await;
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock().clone();
    let by = |t: &str| -> Vec<Value> {
        got.iter()
            .filter(|c| c.headers["x-wc-webhook-topic"] == t)
            .map(|c| serde_json::from_slice(&c.body).unwrap())
            .collect()
    };
    assert_eq!(
        by("product.deleted"),
        vec![json!({"id": a})],
        "the trash fires, the forced deletion does not"
    );
    assert_eq!(by("customer.deleted"), vec![json!({"id": c})]);
    assert_eq!(by("order.created")[0]["id"], order);
    assert_eq!(by("order.created")[0]["status"], "processing");
    let upd = by("product.updated");
    assert_eq!(upd.len(), 1, "the order's stock change saved the product");
    assert_eq!(upd[0]["stock_quantity"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_endpoint_is_never_resent_and_disabled_after_the_seventh_failure() {
    let sim = sim();
    let (url, seen) = receiver(|_| StatusCode::INTERNAL_SERVER_ERROR).await;
    let hook = subscribe(&sim, "product.created", &url, None).await;
    for i in 0..10 {
        sim.create_product(json!({"name": format!("P{i}")}))
            .unwrap();
        // One at a time, so each failure is counted before the next event fires.
        assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
        let (count, status) = sim.webhook_health(hook).unwrap();
        if i < 6 {
            assert_eq!(
                (count, status.as_str()),
                (i + 1, "active"),
                "after failure {}",
                i + 1
            );
        } else {
            assert_eq!(status, "disabled", "after failure {}", i + 1);
        }
    }
    // 7 requests: one per event while active, never a retry; none after disabling.
    assert_eq!(seen.lock().len(), 7);
    let log = sim.webhook_log();
    assert_eq!(log.len(), 7);
    assert!(log.iter().all(|d| d.attempts.len() == 1 && d.failed));
    assert!(log[6].disabled_webhook);
    let r = get(&sim, &format!("/wp-json/wc/v3/webhooks/{hook}")).await;
    assert_eq!(r.body["status"], "disabled");
    let r = get(&sim, "/wp-json/wc/v3/webhooks?status=disabled").await;
    assert_eq!(r.headers["x-wp-total"], "1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().len(), 7, "still nothing re-sent");

    // A connector re-enables it through the API; later events are delivered again.
    let r = call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/webhooks/{hook}"),
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!(r.body["status"], "active");
    sim.create_product(json!({"name": "after"})).unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    assert_eq!(seen.lock().len(), 8);
    assert_eq!(sim.webhook_health(hook).unwrap(), (1, "active".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_resets_the_failure_count_and_redirects_count_as_success() {
    let sim = sim();
    // Fail, fail, 302, fail.
    let (url, _seen) = receiver(|n| match n {
        2 => StatusCode::FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    })
    .await;
    let hook = subscribe(&sim, "customer.created", &url, None).await;
    for i in 0..4 {
        sim.create_customer(&format!("c{i}@example.com"), "C", "D")
            .unwrap();
        assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    }
    assert_eq!(sim.webhook_health(hook).unwrap(), (1, "active".to_string()));
    let log = sim.webhook_log();
    assert!(log[2].delivered && !log[2].failed);
}

fn chaos_sim(seed: u64) -> WooSim {
    WooSim::new(SimConfig {
        seed,
        webhooks: WebhookConfig {
            chaos: ChaosConfig {
                drop_rate: 0.2,
                duplicate_rate: 0.2,
                reorder_window_ms: 40,
                delay_rate: 0.1,
                delay_ms: 50,
            },
            ..WebhookConfig::default()
        },
        ..SimConfig::default()
    })
    .unwrap()
}

async fn run_chaos(
    seed: u64,
) -> (
    Vec<(String, u64, bool, bool, bool, u64, String)>,
    usize,
    usize,
) {
    let sim = chaos_sim(seed);
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    sim.create_webhook("product.created", &url, "k").unwrap();
    sim.create_webhook("product.updated", &url, "k").unwrap();
    for i in 0..30 {
        let id = sim
            .create_product(json!({"name": format!("P{i}"), "sku": format!("S{i}")}))
            .unwrap();
        sim.set_price(id, "1.00", "").unwrap();
    }
    assert!(sim.wait_webhooks_idle(Duration::from_secs(20)).await);
    let log = sim.webhook_log();
    let sent: usize = log.iter().map(|d| d.attempts.len()).sum();
    let received = seen.lock().len();
    (
        log.iter()
            .map(|d| {
                (
                    d.topic.clone(),
                    d.resource_id,
                    d.dropped,
                    d.duplicated,
                    d.delayed,
                    d.delay_ms,
                    d.delivery_id.clone(),
                )
            })
            .collect(),
        sent,
        received,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_is_seeded_same_seed_same_deliveries() {
    let (a, sent_a, recv_a) = run_chaos(7).await;
    let (b, _, _) = run_chaos(7).await;
    let (c, _, _) = run_chaos(8).await;
    assert_eq!(a, b, "same seed, same chaos decisions and delivery ids");
    assert_ne!(a, c);
    assert_eq!(a.len(), 60);
    let dropped = a.iter().filter(|d| d.2).count();
    let dups = a.iter().filter(|d| d.3).count();
    assert!(dropped > 0 && dropped < 30, "{dropped}");
    assert!(dups > 0, "{dups}");
    assert_eq!(sent_a, 60 - dropped + dups);
    assert_eq!(recv_a, sent_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_share_the_delivery_id_and_reordering_is_recorded() {
    let sim = WooSim::new(SimConfig {
        webhooks: WebhookConfig {
            chaos: ChaosConfig {
                duplicate_rate: 1.0,
                reorder_window_ms: 30,
                ..ChaosConfig::default()
            },
            ..WebhookConfig::default()
        },
        ..SimConfig::default()
    })
    .unwrap();
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    sim.create_webhook("product.created", &url, "k").unwrap();
    for i in 0..20 {
        sim.create_product(json!({"name": format!("P{i}")}))
            .unwrap();
    }
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock().clone();
    assert_eq!(got.len(), 40);
    let mut ids: Vec<String> = got
        .iter()
        .map(|c| {
            c.headers["x-wc-webhook-delivery-id"]
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "each delivery id arrives exactly twice");
    let stats = sim.webhook_stats();
    assert_eq!(stats.duplicated, 20);
    assert!(stats.reordered > 0, "{stats:?}");
    let order: Vec<u64> = got
        .iter()
        .map(|c| {
            serde_json::from_slice::<Value>(&c.body).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_ne!(order, sorted, "arrivals are out of creation order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_webhooks_receive_nothing_and_webhook_crud_validates() {
    let sim = sim();
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    let hook = subscribe(&sim, "order.updated", &url, None).await;
    call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/webhooks/{hook}"),
        Some(json!({"status": "paused"})),
    )
    .await;
    let o = sim.create_order(json!({})).unwrap();
    sim.set_order_status(o, "on-hold").unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert!(seen.lock().is_empty());
    let r = post(
        &sim,
        "/wp-json/wc/v3/webhooks",
        json!({"topic": "order.exploded", "delivery_url": url}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["code"],
        "woocommerce_rest_shop_webhook_invalid_topic"
    );
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/webhooks/{hook}"),
        None,
    )
    .await;
    assert_eq!(r.status, 501);
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/webhooks/{hook}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(sim.all(Kind::Webhook).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_active_webhook_pings_it_and_a_failed_ping_is_retried_on_save() {
    let sim = sim();
    let (url, seen, pings) = receiver_full(|_| StatusCode::OK, StatusCode::NOT_FOUND).await;
    let hook = subscribe(&sim, "order.created", &url, None).await;
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    {
        let p = pings.lock();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].body.as_ref(), format!("webhook_id={hook}").as_bytes());
        assert!(p[0].headers.get("x-wc-webhook-signature").is_none());
    }
    assert_eq!(sim.webhook_pings(), vec![(hook, Some(404))]);
    // A failed ping does not stop the webhook, nor count as a delivery failure.
    assert_eq!(sim.webhook_health(hook).unwrap(), (0, "active".to_string()));
    sim.create_order(json!({})).unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert_eq!(seen.lock().len(), 1);
    // Saving it active again pings again, since no ping has succeeded yet.
    call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/webhooks/{hook}"),
        Some(json!({"name": "renamed"})),
    )
    .await;
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert_eq!(pings.lock().len(), 2);
    let r = call(
        &sim,
        "PUT",
        "/wp-json/wc/v3/webhooks/999",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "ID is invalid.");
}

async fn created_payload_price(payload_at_delivery: bool) -> Value {
    let sim = WooSim::new(SimConfig {
        webhooks: WebhookConfig {
            chaos: ChaosConfig {
                delay_rate: 1.0,
                delay_ms: 300,
                ..ChaosConfig::default()
            },
            payload_at_delivery,
            ..WebhookConfig::default()
        },
        ..SimConfig::default()
    })
    .unwrap();
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    sim.create_webhook("product.created", &url, "k").unwrap();
    let id = sim
        .create_product(json!({"name": "A", "sku": "A", "regular_price": "5.00"}))
        .unwrap();
    sim.set_price(id, "7.00", "").unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock().clone();
    assert_eq!(got.len(), 1);
    assert!(verify(
        "k",
        &got[0].body,
        got[0].headers["x-wc-webhook-signature"].to_str().unwrap()
    ));
    serde_json::from_slice::<Value>(&got[0].body).unwrap()["price"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_are_snapshots_unless_built_at_delivery() {
    assert_eq!(created_payload_price(false).await, "5.00", "stale snapshot");
    assert_eq!(created_payload_price(true).await, "7.00", "built when sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trashing_a_variable_product_trashes_its_variations_each_with_a_delivery() {
    let sim = sim();
    let (url, seen) = receiver(|_| StatusCode::OK).await;
    subscribe(&sim, "product.deleted", &url, None).await;
    let shirt = sim
        .create_product(json!({"name": "Shirt", "type": "variable"}))
        .unwrap();
    let s = sim
        .create_variation(shirt, json!({"sku": "SHIRT-S", "regular_price": "5.00"}))
        .unwrap();
    let m = sim
        .create_variation(shirt, json!({"sku": "SHIRT-M", "regular_price": "5.00"}))
        .unwrap();
    let mug = sim
        .create_product(json!({"name": "Mug", "type": "variable"}))
        .unwrap();
    let mug_v = sim
        .create_variation(mug, json!({"sku": "MUG-1", "regular_price": "5.00"}))
        .unwrap();
    // A variation trashed alone fires for itself.
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{shirt}/variations/{m}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The parent trashed: itself, then its remaining variation.
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{shirt}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sim.get(Kind::Product, s)["status"], "trash");
    // Forced: the variable product and its variations are gone, and nothing is sent.
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{mug}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sim.get(Kind::Product, mug_v), Value::Null);
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    // Deliveries go out concurrently (WooCommerce's are queued jobs): one each, in any order.
    let mut ids: Vec<u64> = seen
        .lock()
        .iter()
        .filter(|c| c.headers["x-wc-webhook-topic"] == "product.deleted")
        .map(|c| {
            serde_json::from_slice::<Value>(&c.body).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    let mut want = vec![m, shirt, s];
    want.sort_unstable();
    assert_eq!(ids, want);
}
