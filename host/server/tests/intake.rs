//! Webhook intake through the router (`tower::ServiceExt::oneshot`): signatures and rotation,
//! body cap, malformed bodies kept as rejects, dedupe, version fallback and journal failure.

mod common;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use common::*;
use tower::ServiceExt as _;
use weft_platform::signature::sign;
use weft_server::{WebhookOutcome, WebhookSecret};
use weft_store::Source;

async fn send(h: &Harness, req: Request<Body>) -> (StatusCode, String) {
    let resp: Response = h.state.app().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn good_signature_is_journaled_in_the_one_shape_then_acknowledged() {
    let h = harness(vec![acme()]).await;
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "products/update",
            PRODUCT.as_bytes(),
            Some(SECRET),
            "wh-1",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let entries = h.store.journal_since("acme", 0, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.system, "shopify");
    assert_eq!(e.kind, "product");
    assert_eq!(e.entity_id, "8079745990737254412");
    assert_eq!(e.version, "2024-03-01T15:15:30Z");
    assert_eq!(e.source, Source::Webhook);
    assert_eq!(e.delivery_id.as_deref(), Some("wh-1"));
    // Ids above 2^53 stay exact strings.
    assert_eq!(e.body["variants"][0]["id"], "9007199254740993");
    assert_eq!(
        e.body["variants"][0]["inventory_item_id"],
        "9223372036854775807"
    );
    assert_eq!(*h.notified.lock(), vec!["acme".to_string()]);
    assert_eq!(
        h.state.metrics().webhooks("acme", WebhookOutcome::Accepted),
        1
    );
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_stores_nothing() {
    let h = harness(vec![acme()]).await;
    let body = PRODUCT.as_bytes();
    let (status, _) = send(
        &h,
        delivery("acme", "products/update", body, Some("wrong"), "wh-1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(&h, delivery("acme", "products/update", body, None, "wh-2")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A signature over another body does not verify this one.
    let mut req = delivery("acme", "products/update", body, None, "wh-3");
    req.headers_mut().insert(
        "x-shopify-hmac-sha256",
        sign(SECRET.as_bytes(), b"{}").parse().unwrap(),
    );
    let (status, _) = send(&h, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Malformed AND unsigned: still 401, no reject row.
    let (status, _) = send(
        &h,
        delivery("acme", "products/update", b"{oops", Some("wrong"), "wh-4"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let st = h.store.status("acme").await.unwrap();
    assert_eq!(st.journal_head, 0);
    assert_eq!(st.intake_rejects, 0);
    assert!(h.store.list_rejects("acme", 10).await.unwrap().is_empty());
    assert!(h.notified.lock().is_empty());
    assert_eq!(
        h.state
            .metrics()
            .webhooks("acme", WebhookOutcome::BadSignature),
        4
    );
}

#[tokio::test]
async fn previous_secret_is_accepted_during_rotation() {
    let h = harness(vec![shop(
        "acme",
        vec![WebhookSecret::new(SECRET), WebhookSecret::new(OLD_SECRET)],
    )])
    .await;
    let body = PRODUCT.as_bytes();
    let (status, _) = send(
        &h,
        delivery("acme", "products/update", body, Some(OLD_SECRET), "wh-old"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &h,
        delivery("acme", "products/update", body, Some(SECRET), "wh-new"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &h,
        delivery("acme", "products/update", body, Some("revoked"), "wh-x"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // After the rotation ends the old secret is refused.
    h.state.set_stores(vec![acme()]);
    let other = PRODUCT.replace("Wool Sweater", "Wool Sweater II");
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "products/update",
            other.as_bytes(),
            Some(OLD_SECRET),
            "wh-later",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn body_over_the_cap_is_413_and_stores_nothing() {
    let h = harness(vec![acme().with_max_body_bytes(1024)]).await;
    let big = format!(r#"{{"id": 1, "title": "{}"}}"#, "x".repeat(2048));
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "products/update",
            big.as_bytes(),
            Some(SECRET),
            "wh-1",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Streamed without Content-Length: refused once the cap is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let req = Request::post("/webhooks/shopify/acme")
        .header("x-shopify-topic", "products/update")
        .header(
            "x-shopify-hmac-sha256",
            sign(SECRET.as_bytes(), &[b' '; 4096]),
        )
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let (status, _) = send(&h, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let st = h.store.status("acme").await.unwrap();
    assert_eq!((st.journal_head, st.intake_rejects), (0, 0));
    assert_eq!(
        h.state.metrics().webhooks("acme", WebhookOutcome::TooLarge),
        2
    );
}

#[tokio::test]
async fn malformed_bodies_are_400_and_kept_with_their_raw_bytes() {
    let h = harness(vec![acme()]).await;
    let raw = b"{\"id\": 8079745990737254412, \"title\": ";
    let (status, msg) = send(
        &h,
        delivery("acme", "products/update", raw, Some(SECRET), "wh-1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("not valid JSON"), "{msg}");

    let (status, msg) = send(
        &h,
        delivery("acme", "carts/update", b"{\"id\": 1}", Some(SECRET), "wh-2"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("carts/update"), "{msg}");

    let no_id = br#"{"title": "x", "updated_at": "2024-03-01T10:15:30Z"}"#;
    let (status, msg) = send(
        &h,
        delivery("acme", "products/update", no_id, Some(SECRET), "wh-3"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("missing field `id`"), "{msg}");

    let rejects = h.store.list_rejects("acme", 10).await.unwrap();
    assert_eq!(rejects.len(), 3);
    let first = rejects.last().unwrap(); // newest first
    assert_eq!(first.body, raw.to_vec());
    assert!(first.reason.contains("not valid JSON"));
    assert_eq!(first.headers["x-shopify-topic"], "products/update");
    assert_eq!(first.headers["x-shopify-webhook-id"], "wh-1");
    assert!(first.headers.get("x-shopify-hmac-sha256").is_none());
    assert_eq!(h.store.status("acme").await.unwrap().journal_head, 0);
    assert_eq!(
        h.state
            .metrics()
            .webhooks("acme", WebhookOutcome::Malformed),
        3
    );
    assert!(h.notified.lock().is_empty());
}

#[tokio::test]
async fn duplicate_delivery_is_journaled_once_and_acknowledged_twice() {
    let h = harness(vec![acme()]).await;
    let body = PRODUCT.as_bytes();
    for _ in 0..2 {
        let (status, _) = send(
            &h,
            delivery("acme", "products/update", body, Some(SECRET), "wh-dup"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Same delivery id with another (retried, stale) body: still a duplicate.
    let other = PRODUCT.replace("Wool Sweater", "Wool Jumper");
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "products/update",
            other.as_bytes(),
            Some(SECRET),
            "wh-dup",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.store.journal_since("acme", 0, 10).await.unwrap().len(), 1);
    let m = h.state.metrics();
    assert_eq!(m.webhooks("acme", WebhookOutcome::Accepted), 1);
    assert_eq!(m.webhooks("acme", WebhookOutcome::Duplicate), 2);
    assert_eq!(h.notified.lock().len(), 1);
    let counters = h.store.counters("acme").await.unwrap();
    assert_eq!(counters.get("journal_duplicate_webhook"), Some(&2));
}

#[tokio::test]
async fn unknown_store_is_404() {
    let h = harness(vec![acme()]).await;
    let (status, _) = send(
        &h,
        delivery(
            "nope",
            "products/update",
            PRODUCT.as_bytes(),
            Some(SECRET),
            "wh-1",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h.store.store_ids().await.unwrap().is_empty());
}

#[tokio::test]
async fn version_falls_back_to_triggered_at_when_the_payload_has_none() {
    let h = harness(vec![acme()]).await;
    let body =
        br#"{"inventory_item_id": 271878346596884015, "location_id": 53716844710, "available": 7}"#;
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "inventory_levels/update",
            body,
            Some(SECRET),
            "wh-inv",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let e = &h.store.journal_since("acme", 0, 10).await.unwrap()[0];
    assert_eq!(e.kind, "inventory-level");
    assert_eq!(e.entity_id, "271878346596884015@53716844710");
    assert_eq!(e.version, "2024-03-01T15:15:31Z");
    assert_eq!(e.body["available"], 7);
}

#[tokio::test]
async fn journal_failure_is_503_so_shopify_retries() {
    let h = harness(vec![acme()]).await;
    h.store.close().await;
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "products/update",
            PRODUCT.as_bytes(),
            Some(SECRET),
            "wh-1",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        h.state
            .metrics()
            .webhooks("acme", WebhookOutcome::Unavailable),
        1
    );
    assert!(h.notified.lock().is_empty());
}

#[tokio::test]
async fn stalled_body_is_408_and_stores_nothing() {
    let h = harness(vec![
        acme().with_body_timeout(std::time::Duration::from_millis(100)),
    ])
    .await;
    let first: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(b"{\"id\": 1".to_vec())];
    let stream =
        futures::StreamExt::chain(futures::stream::iter(first), futures::stream::pending());
    let req = Request::post("/webhooks/shopify/acme")
        .header("x-shopify-topic", "products/update")
        .header(
            "x-shopify-hmac-sha256",
            sign(SECRET.as_bytes(), b"{\"id\": 1}"),
        )
        .body(Body::from_stream(stream))
        .unwrap();
    let (status, _) = send(&h, req).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    let st = h.store.status("acme").await.unwrap();
    assert_eq!((st.journal_head, st.intake_rejects), (0, 0));
}

#[tokio::test]
async fn notifier_from_map_wakes_only_the_named_store() {
    use std::collections::HashMap;
    use std::sync::Arc;
    let a = Arc::new(tokio::sync::Notify::new());
    let b = Arc::new(tokio::sync::Notify::new());
    let n = weft_server::notifier_from_map(HashMap::from([
        ("a".to_string(), Arc::clone(&a)),
        ("b".to_string(), Arc::clone(&b)),
    ]));
    n("a");
    n("unknown");
    // The permit is kept until the engine waits.
    tokio::time::timeout(std::time::Duration::from_secs(1), a.notified())
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(20), b.notified())
            .await
            .is_err()
    );
}

/// What the store kept and journaled after one refused delivery.
async fn refused_and_kept(h: &Harness, store: &str, status: StatusCode, msg: &str, why: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{msg}");
    assert!(msg.contains(why), "{msg}");
    let rejects = h.store.list_rejects(store, 10).await.unwrap();
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0].reason.contains(why), "{}", rejects[0].reason);
    assert_eq!(
        h.store.status(store).await.unwrap().journal_head,
        0,
        "nothing journaled"
    );
}

#[tokio::test]
async fn a_delivery_for_another_shop_is_refused_and_kept() {
    // Shopify signs every shop's deliveries with the app's one secret: a hosting provider's
    // stores share it, so the shop domain, not the signature, says whose delivery it is.
    let h = harness(vec![shop("beta", vec![WebhookSecret::new(SECRET)])]).await;
    // The helper's deliveries say `X-Shopify-Shop-Domain: acme.myshopify.com`.
    let (status, msg) = send(
        &h,
        delivery(
            "beta",
            "products/update",
            PRODUCT.as_bytes(),
            Some(SECRET),
            "wh-x",
        ),
    )
    .await;
    refused_and_kept(
        &h,
        "beta",
        status,
        &msg,
        "not this system's shop beta.myshopify.com",
    )
    .await;
}

#[tokio::test]
async fn a_version_from_the_far_future_is_refused_and_kept() {
    let h = harness(vec![acme()]).await;
    let future = PRODUCT.replace("2024-03-01T10:15:30-05:00", "2099-01-01T00:00:00Z");
    let (status, msg) = send(
        &h,
        delivery(
            "acme",
            "products/update",
            future.as_bytes(),
            Some(SECRET),
            "wh-f",
        ),
    )
    .await;
    refused_and_kept(&h, "acme", status, &msg, "ahead of this host's clock").await;
}

#[tokio::test]
async fn a_body_that_is_not_the_topics_resource_is_refused_and_kept() {
    let h = harness(vec![acme()]).await;
    let order = br##"{"id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "name": "#1001", "updated_at": "2024-03-01T10:15:30-05:00", "line_items": []}"##;
    let (status, msg) = send(
        &h,
        delivery("acme", "products/update", order, Some(SECRET), "wh-o"),
    )
    .await;
    refused_and_kept(&h, "acme", status, &msg, "not a Product").await;
}

/// A platform whose delivery test is an unsigned form body `ping=<n>` (as WooCommerce's
/// activation ping `webhook_id=<n>`), otherwise Shopify's intake.
struct Pinging;

impl weft_platform::WebhookIntake for Pinging {
    fn secret_headers(&self) -> &'static [&'static str] {
        &["x-shopify-hmac-sha256"]
    }
    fn describe(&self, h: &axum::http::HeaderMap) -> (String, String) {
        weft_shopify::webhook::ShopifyWebhooks.describe(h)
    }
    fn is_ping(&self, _h: &axum::http::HeaderMap, body: &[u8]) -> bool {
        body.starts_with(b"ping=")
    }
    fn verify(&self, h: &axum::http::HeaderMap, body: &[u8], s: &[WebhookSecret]) -> bool {
        weft_shopify::webhook::ShopifyWebhooks.verify(h, body, s)
    }
    fn parse(
        &self,
        h: &axum::http::HeaderMap,
        body: &[u8],
        account: Option<&str>,
    ) -> Result<weft_platform::WebhookDelivery, String> {
        weft_shopify::webhook::ShopifyWebhooks.parse(h, body, account)
    }
}

struct PingingPlatform;

impl weft_platform::Platform for PingingPlatform {
    fn name(&self) -> &'static str {
        "pinging"
    }
    fn role(&self) -> weft_platform::Role {
        weft_platform::Role::Storefront
    }
    fn stock_fields(&self) -> weft_platform::StockFields {
        weft_platform::StockFields {
            quantity: "available",
            version: "updated_at",
        }
    }
    fn webhooks(&self) -> Option<std::sync::Arc<dyn weft_platform::WebhookIntake>> {
        Some(std::sync::Arc::new(Pinging))
    }
}

#[tokio::test]
async fn a_platforms_unsigned_delivery_test_is_answered_200_and_stores_nothing() {
    let store = weft_server::IntakeStore::new("acme").with_system(
        "shopify",
        std::sync::Arc::new(PingingPlatform),
        vec![WebhookSecret::new(SECRET)],
        Some("acme.myshopify.com".into()),
    );
    let h = harness(vec![store]).await;
    let ping = Request::post("/webhooks/shopify/acme")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("ping=7"))
        .unwrap();
    let (status, _) = send(&h, ping).await;
    assert_eq!(status, StatusCode::OK);
    // Anything else unsigned is still refused.
    let (status, _) = send(
        &h,
        delivery("acme", "products/update", PRODUCT.as_bytes(), None, "wh-1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let st = h.store.status("acme").await.unwrap();
    assert_eq!((st.journal_head, st.intake_rejects), (0, 0));
    assert!(h.notified.lock().is_empty());
}
