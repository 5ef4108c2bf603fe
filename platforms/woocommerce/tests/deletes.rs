//! Deletions in WooCommerce reach weft as tombstones: `product.deleted` (sent when a product
//! is trashed and when it is deleted for good) carries `{"id": N}` only and becomes a tombstone
//! of that product; the poll journals a tombstone for a product trashed since its watermark
//! (at the trash's `date_modified`), and a full read one for a product weft held that is gone
//! altogether, without moving the watermark to weft's clock.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use serde_json::{Value, json};
use weft_platform::webhook::is_tombstone;
use weft_platform::{Platform, Poller, WebhookIntake};
use weft_sim_woocommerce::{DEFAULT_KEY, DEFAULT_SECRET, SimConfig, WooSim};
use weft_store::{EntityStateUpsert, JournalEntry, StepCommit, Store};
use weft_woocommerce::poll::WooPoller;
use weft_woocommerce::webhook::{self, WooWebhooks};
use weft_woocommerce::{WooClient, WooCommerce, WooConfig};

fn product(sku: &str) -> Value {
    json!({"name": format!("Product {sku}"), "type": "simple", "sku": sku,
        "regular_price": "10.00", "manage_stock": true, "stock_quantity": 3})
}

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, b: Bytes| {
            let g = g.clone();
            async move {
                g.lock().push((h, b));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn product_deleted_deliveries_carry_the_id_only_and_become_tombstones() {
    assert!(
        webhook::TOPICS.contains(&"product.deleted"),
        "weft subscribes to product deletions"
    );
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let (url, got) = receiver().await;
    sim.create_webhook("product.deleted", &url, "s3cret")
        .unwrap();
    let trashed = sim.create_product(product("T1")).unwrap();
    let gone = sim.create_product(product("T2")).unwrap();
    sim.delete_product(trashed, false).unwrap();
    sim.delete_product(gone, true).unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got: Vec<_> = got
        .lock()
        .iter()
        .filter(|(h, _)| h.contains_key(webhook::TOPIC_HEADER))
        .cloned()
        .collect();
    assert_eq!(got.len(), 2, "one delivery per deletion, trashed or not");
    let intake = WooWebhooks;
    for ((h, b), id) in got.iter().zip([trashed, gone]) {
        assert_eq!(h[webhook::TOPIC_HEADER], "product.deleted");
        let raw: Value = serde_json::from_slice(b).unwrap();
        assert_eq!(raw, json!({ "id": id }), "WooCommerce sends the id only");
        assert!(intake.verify(h, b, &[weft_platform::WebhookSecret::new("s3cret")]));
        let d = intake.parse(h, b, Some(&server.base_url)).unwrap();
        assert_eq!(d.kind, "product");
        assert_eq!(d.entity_id, id.to_string());
        assert!(is_tombstone(&d.body), "{}", d.body);
        assert!(WooCommerce.is_deletion(&d.kind, &d.body));
        assert!(d.version.ends_with('Z'), "{}", d.version);
        assert!(d.delivery_id.is_some());
    }
    // A deletion without an id is refused, naming it.
    let (h, _) = &got[0];
    let err = intake.parse(h, b"{}", Some(&server.base_url)).unwrap_err();
    assert!(err.contains("id"), "{err}");
}

/// A store in `dir` and the WooCommerce poller of its store `s1` reading `base_url`.
async fn poller(base_url: &str, dir: &tempfile::TempDir) -> (Store, WooPoller) {
    let mut cfg = WooConfig::new(base_url, DEFAULT_KEY, DEFAULT_SECRET);
    cfg.requests_per_second = 1000;
    let client = Arc::new(WooClient::new(cfg).unwrap());
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let poller = WooPoller::new(
        "s1",
        "woocommerce",
        db.clone(),
        client,
        Duration::from_secs(5),
    );
    (db, poller)
}

/// Records what the processing step records of the `n` entities of `kind` journaled (their
/// state); returns the journal.
async fn record_states(db: &Store, kind: &str, n: usize) -> Vec<JournalEntry> {
    let entries = db.journal_since("s1", 0, 100).await.unwrap();
    let mut step = StepCommit::new("s1", chrono::Utc::now());
    for e in entries.iter().filter(|e| e.kind == kind) {
        step.entity_states.push(EntityStateUpsert {
            system: e.system.clone(),
            kind: e.kind.clone(),
            entity_id: e.entity_id.clone(),
            version: e.version.clone(),
            body: e.body.clone(),
            canonical_key: None,
            journal_seq: e.seq,
        });
    }
    assert_eq!(step.entity_states.len(), n);
    db.commit_step(&step).await.unwrap();
    entries
}

fn tombstones(entries: &[JournalEntry]) -> Vec<&JournalEntry> {
    entries.iter().filter(|e| is_tombstone(&e.body)).collect()
}

#[tokio::test]
async fn the_poll_finds_trashed_products_and_a_full_read_deleted_ones() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, poller) = poller(&server.base_url, &dir).await;
    let ids: Vec<u64> = ["K1", "K2", "K3"]
        .iter()
        .map(|s| sim.create_product(product(s)).unwrap())
        .collect();
    poller.poll().await.unwrap();
    // What the processing step records of the products it read.
    let entries = record_states(&db, "product", 3).await;
    let head = entries.last().unwrap().seq;
    let mark = |v: Option<Value>| v.unwrap()["modified_gmt"].as_str().unwrap().to_owned();
    let before = mark(db.watermark("s1", "woocommerce:products").await.unwrap());

    sim.advance_clock(Duration::from_secs(60));
    sim.delete_product(ids[1], false).unwrap();
    sim.delete_product(ids[2], true).unwrap();
    let trashed_at =
        weft_woocommerce::version_of(&sim.get(weft_sim_woocommerce::Kind::Product, ids[1]))
            .expect("a trashed product keeps its date_modified");
    // An incremental round lists what was trashed since the watermark: a tombstone at the
    // trash's time. A product deleted for good is in no listing.
    poller.poll().await.unwrap();
    let after = db.journal_since("s1", head, 100).await.unwrap();
    let t = tombstones(&after);
    assert_eq!(t.len(), 1, "{t:#?}");
    assert_eq!(t[0].entity_id, ids[1].to_string());
    assert_eq!(t[0].version, trashed_at);
    assert_eq!(t[0].source, weft_store::Source::Poll);
    // A full read lists every product: the one gone is journaled as deleted once.
    poller.poll_full().await.unwrap();
    let after = db.journal_since("s1", head, 100).await.unwrap();
    let t = tombstones(&after);
    let gone: Vec<_> = t
        .iter()
        .filter(|e| e.entity_id == ids[2].to_string())
        .collect();
    assert_eq!(gone.len(), 1, "{t:#?}");
    assert!(
        !t.iter().any(|e| e.entity_id == ids[0].to_string()),
        "a product still listed is not deleted"
    );
    // The deletion found by reading is versioned by weft's clock, which never moves the
    // watermark (WooCommerce's clock does).
    let now = mark(db.watermark("s1", "woocommerce:products").await.unwrap());
    assert!(
        now >= before && now <= trashed_at,
        "{before} .. {now} .. {trashed_at}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn customer_deletions_arrive_as_tombstones_and_every_round_finds_a_lost_one() {
    assert!(
        webhook::TOPICS.contains(&"customer.deleted"),
        "weft subscribes to customer deletions"
    );
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let (url, got) = receiver().await;
    sim.create_webhook("customer.deleted", &url, "s3cret")
        .unwrap();
    let kept = sim
        .create_customer("kept@example.com", "Kay", "Ept")
        .unwrap();
    let gone = sim.create_customer("gone@example.com", "Go", "Ne").unwrap();
    let lost = sim.create_customer("lost@example.com", "Lo", "St").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (db, poller) = poller(&server.base_url, &dir).await;
    poller.poll().await.unwrap();
    let entries = record_states(&db, "customer", 3).await;
    let head = entries.last().unwrap().seq;

    // The delivery carries the id only and becomes a tombstone of that customer.
    sim.delete_customer(gone).unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let (h, b) = got
        .lock()
        .iter()
        .find(|(h, _)| h.contains_key(webhook::TOPIC_HEADER))
        .cloned()
        .expect("a customer.deleted delivery");
    assert_eq!(h[webhook::TOPIC_HEADER], "customer.deleted");
    assert_eq!(
        serde_json::from_slice::<Value>(&b).unwrap(),
        json!({"id": gone})
    );
    let d = WooWebhooks.parse(&h, &b, Some(&server.base_url)).unwrap();
    assert_eq!(
        (d.kind.as_str(), d.entity_id.as_str()),
        ("customer", gone.to_string().as_str())
    );
    assert!(is_tombstone(&d.body));
    assert!(WooCommerce.is_deletion(&d.kind, &d.body));

    // A deletion whose delivery was lost: the next round (customers are listed whole every
    // round) journals it, once; a customer still listed is not deleted.
    sim.delete_customer(lost).unwrap();
    poller.poll().await.unwrap();
    poller.poll().await.unwrap();
    let after = db.journal_since("s1", head, 100).await.unwrap();
    let t = tombstones(&after);
    let ids: Vec<&str> = t.iter().map(|e| e.entity_id.as_str()).collect();
    assert_eq!(
        ids.iter().filter(|i| **i == lost.to_string()).count(),
        1,
        "{t:#?}"
    );
    assert!(ids.contains(&gone.to_string().as_str()), "{t:#?}");
    assert!(!ids.contains(&kept.to_string().as_str()), "{t:#?}");
    assert!(t.iter().all(|e| e.kind == "customer"));
    server.shutdown().await;
}
