//! Shared test harness: a store on a scratch SQLite file, a journal writer, a server state with
//! configured stores and a recording notifier, and signed Shopify webhook requests.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use parking_lot::Mutex;
use serde_json::json;
use tempfile::TempDir;
use weft_platform::signature::sign;
use weft_server::{IntakeStore, Metrics, ServerState, WebhookSecret};
use weft_store::{
    GoldenUpsert, GroupCommitConfig, JournalWriter, LineageRow, NewJournalEntry, NewOutboxRow,
    Source, StepCommit, Store, TargetStateUpsert, Xref,
};

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

pub fn journal(
    system: &str,
    kind: &str,
    id: &str,
    version: &str,
    source: Source,
) -> NewJournalEntry {
    NewJournalEntry {
        store_id: "acme".into(),
        system: system.into(),
        kind: kind.into(),
        entity_id: id.into(),
        version: version.into(),
        source,
        delivery_id: None,
        body: json!({"id": id}),
        received_at: Utc::now(),
    }
}

/// A price record `sku` whose two systems disagreed: the shop changed it, the ERP changed it
/// too, and the resolver took the ERP's; a write of the agreed price to the shop is queued.
pub async fn conflicted_price(store: &Store, sku: &str, n: usize) -> String {
    let shop_id = format!("{}", 9_007_199_254_740_993u64 + n as u64);
    let erp_id = format!("{}", 7 + n);
    let a = store
        .append(journal(
            "shopify",
            "product",
            &shop_id,
            "2026-12-05T09:00:00Z",
            Source::Webhook,
        ))
        .await
        .unwrap()
        .seq();
    let b = store
        .append(journal(
            "netsuite",
            "variant",
            &erp_id,
            "2026-12-05T09:01:00Z",
            Source::Cdc,
        ))
        .await
        .unwrap()
        .seq();
    let key = format!("weft-test-{sku}");
    let mut step = StepCommit::new("acme", Utc::now());
    step.golden.push(GoldenUpsert {
        kind: "price".into(),
        key: sku.into(),
        fields: json!({"price": "59.90", "compare_at": null}),
        field_meta: json!({"price": {"system": "netsuite", "version": "2026-12-05T09:01:00Z", "seq": b}}),
    });
    for (system, price, id) in [
        ("shopify", "55.00", &shop_id),
        ("netsuite", "59.90", &erp_id),
    ] {
        step.target_states.push(TargetStateUpsert {
            system: system.into(),
            kind: "price".into(),
            key: sku.into(),
            fields: json!({"price": price, "compare_at": null}),
        });
        step.xrefs.push(Xref {
            kind: "price".into(),
            key: sku.into(),
            system: system.into(),
            entity_id: id.clone(),
            one_per_entity: true,
        });
    }
    step.lineage.push(LineageRow {
        seq: a,
        kind: "price".into(),
        key: sku.into(),
        system: "shopify".into(),
        mode: "live".into(),
        mapper: "shopify-netsuite 0.3.0".into(),
        fields: json!({"price": {"decision": "changed", "value": "55.00", "incoming": "55.00", "from": "49.99"}}),
        writes: json!([]),
    });
    step.lineage.push(LineageRow {
        seq: b,
        kind: "price".into(),
        key: sku.into(),
        system: "netsuite".into(),
        mode: "live".into(),
        mapper: "shopify-netsuite 0.3.0".into(),
        fields: json!({"price": {"decision": "conflict", "value": "59.90", "incoming": "59.90",
            "base": "49.99", "other": "55.00",
            "resolver": {"occasion": "conflict", "resolver": "system-of-record 0.2.0",
                         "rule": "*", "decided": "take netsuite", "other_system": "shopify"}}}),
        writes: json!([{"target": "shopify", "op": "upsert", "idempotency_key": key}]),
    });
    step.outbox.push(NewOutboxRow {
        system: "shopify".into(),
        kind: "price".into(),
        key: sku.into(),
        op: "upsert".into(),
        idempotency_key: key.clone(),
        body: json!({"desired": {"price": "59.90", "compare_at": null}}),
        priority: 20,
        coalesce: true,
        resend_may_apply: false,
    });
    store.commit_step(&step).await.unwrap();
    key
}

/// Claims the store's due rows and dead-letters them with `message`.
pub async fn dead_letter_all(store: &Store, message: &str) -> Vec<i64> {
    let now = Utc::now();
    let rows = store
        .claim_due(now, 1000, Duration::from_secs(60), Some("acme"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for r in rows {
        store
            .dead_letter(r.id, r.claim_token.as_deref().unwrap(), message, now)
            .await
            .unwrap();
        ids.push(r.id);
    }
    ids
}
