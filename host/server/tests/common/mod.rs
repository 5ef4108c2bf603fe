//! Shared test harness: a store on a scratch SQLite file, a journal writer, a server state with
//! configured stores and a recording notifier, and signed Shopify webhook requests.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use parking_lot::Mutex;
use tempfile::TempDir;
use weft_platform::signature::sign;
use weft_server::{IntakeStore, Metrics, ServerState, WebhookSecret};
use weft_store::{GroupCommitConfig, JournalWriter, Store};

pub const SECRET: &str = "shpss_current_secret";
pub const OLD_SECRET: &str = "shpss_previous_secret";

/// A `products/update` body as Shopify sends it: numeric ids above 2^53, local offsets.
pub const PRODUCT: &str = r#"{
  "admin_graphql_api_id": "gid://shopify/Product/8079745990737254412",
  "id": 8079745990737254412, "title": "Wool Sweater", "body_html": "<p>Warm wool.</p>",
  "vendor": "Acme", "product_type": "Sweaters", "handle": "wool-sweater", "status": "active",
  "tags": "winter, wool", "created_at": "2024-01-10T09:00:00-05:00",
  "updated_at": "2024-03-01T10:15:30-05:00",
  "variants": [{"id": 9007199254740993, "product_id": 8079745990737254412, "title": "M",
    "sku": "WS-M", "price": "59.9", "compare_at_price": null, "barcode": "0123456789012",
    "inventory_item_id": 9223372036854775807, "updated_at": "2024-03-01T10:15:30-05:00"}]
}"#;

pub struct Harness {
    pub state: ServerState,
    pub store: Store,
    pub notified: Arc<Mutex<Vec<String>>>,
    pub _dir: TempDir,
}

pub async fn harness(stores: Vec<IntakeStore>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("weft.sqlite").to_string_lossy())
        .await
        .unwrap();
    let writer = JournalWriter::spawn(store.clone(), GroupCommitConfig::default());
    let notified = Arc::new(Mutex::new(Vec::new()));
    let n = Arc::clone(&notified);
    let state = ServerState::new(
        store.clone(),
        writer,
        stores,
        Arc::new(move |id: &str| n.lock().push(id.to_owned())),
        Arc::new(Metrics::new()),
    );
    Harness {
        state,
        store,
        notified,
        _dir: dir,
    }
}

/// The usual store: `acme`, current secret only.
pub fn acme() -> IntakeStore {
    shop("acme", vec![WebhookSecret::new(SECRET)])
}

/// A store whose Shopify system (named `shopify`) accepts `secrets`.
pub fn shop(id: &str, secrets: Vec<WebhookSecret>) -> IntakeStore {
    IntakeStore::new(id).with_system(
        "shopify",
        std::sync::Arc::new(weft_shopify::Shopify),
        secrets,
        Some(format!("{id}.myshopify.com")),
    )
}

/// A signed delivery (signature by `secret`, or none when `None`).
pub fn delivery(
    store: &str,
    topic: &str,
    body: &[u8],
    secret: Option<&str>,
    webhook_id: &str,
) -> Request<Body> {
    let mut b = Request::post(format!("/webhooks/shopify/{store}"))
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-shop-domain", "acme.myshopify.com")
        .header("x-shopify-triggered-at", "2024-03-01T15:15:31Z");
    if let Some(secret) = secret {
        b = b.header("x-shopify-hmac-sha256", sign(secret.as_bytes(), body));
    }
    b.body(Body::from(body.to_vec())).unwrap()
}
