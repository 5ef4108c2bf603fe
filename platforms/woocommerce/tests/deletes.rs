//! Deletions in WooCommerce reach weft as tombstones: `product.deleted` (sent when a product
//! is trashed; a deletion for good sends nothing) carries `{"id": N}` only and becomes a
//! tombstone of that product; the poll journals a tombstone for a product trashed since its watermark
//! (at the trash's `date_modified`), and a full read one for a product weft held that is gone
//! altogether, without moving the watermark to weft's clock.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use serde_json::{Value, json};
use weft_platform::webhook::{is_tombstone, tombstone};
use weft_platform::{
    Connection, ConnectorError, EntityKind, Platform, Poller, WebhookIntake, WriteCommand, WriteOp,
    WriteOutcome,
};
use weft_sim_woocommerce::{DEFAULT_KEY, DEFAULT_SECRET, Kind, SimConfig, WooSim};
use weft_store::{EntityStateUpsert, JournalEntry, StepCommit, Store};
use weft_woocommerce::poll::WooPoller;
use weft_woocommerce::webhook::{self, WooWebhooks};
use weft_woocommerce::{WooClient, WooCommerce, WooConfig, WooConnection, write};

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
    assert_eq!(
        got.len(),
        1,
        "the trash is delivered, a deletion for good is not (its hook is wp_trash_post)"
    );
    let intake = WooWebhooks;
    for ((h, b), id) in got.iter().zip([trashed]) {
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
    let trashed_at = weft_woocommerce::version_of(&sim.get(Kind::Product, ids[1]))
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

// ------------------------------------------------------------------ weft's own deletes

/// A connection to the simulator at `base_url`.
fn connection(base_url: &str) -> WooConnection {
    let mut cfg = WooConfig::new(base_url, DEFAULT_KEY, DEFAULT_SECRET);
    cfg.requests_per_second = 1000;
    WooConnection::new(Arc::new(WooClient::new(cfg).unwrap()), DEFAULT_SECRET)
}

/// The `delete` command the stock mapper makes for record `kind` at `target_id`.
fn delete_cmd(kind: EntityKind, target_id: u64, body: Value) -> WriteCommand {
    WriteCommand {
        system: "woocommerce".into(),
        kind,
        op: WriteOp::Delete,
        target_id: Some(target_id.to_string()),
        external_id: None,
        body,
        idempotency_key: format!("del-{target_id}"),
        expected_quantity: None,
    }
}

/// The outcome the engine journals for a removed entity: a tombstone under the entity's own
/// id (the id its deliveries and polls journal it under), versioned now, nothing created.
fn assert_tombstone(o: &WriteOutcome, id: u64, started: &str) {
    assert_eq!(o.target_id, id.to_string());
    assert_eq!(o.document, Some(tombstone(&id.to_string())));
    assert_eq!(
        o.document.as_ref().unwrap()["id"],
        json!(id.to_string()),
        "the journal entity is the id as text, as deliveries and polls journal it"
    );
    assert!(WooCommerce.is_deletion("product", o.document.as_ref().unwrap()));
    let v = o.version.as_deref().expect("a version");
    assert!(chrono::DateTime::parse_from_rfc3339(v).is_ok(), "{v}");
    assert!(v >= started, "{started} .. {v}");
    assert!(o.applied && !o.created && o.children.is_empty(), "{o:?}");
}

fn deletes_sent(sim: &WooSim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| {
            let force = r.query.split('&').any(|p| p == "force=true");
            format!("{}{}", r.path, if force { "?force=true" } else { "" })
        })
        .collect()
}

fn deliveries(got: &Received) -> Vec<(HeaderMap, Bytes)> {
    got.lock()
        .iter()
        .filter(|(h, _)| h.contains_key(webhook::TOPIC_HEADER))
        .cloned()
        .collect()
}

fn variable(sim: &WooSim, name: &str, skus: &[&str]) -> (u64, Vec<u64>) {
    let p = sim
        .create_product(json!({"name": name, "type": "variable"}))
        .unwrap();
    let vs = skus
        .iter()
        .map(|s| {
            sim.create_variation(
                p,
                json!({"sku": s, "regular_price": "5.00", "manage_stock": true, "stock_quantity": 2}),
            )
            .unwrap()
        })
        .collect();
    (p, vs)
}

#[tokio::test]
async fn a_variation_is_deleted_for_good_and_the_last_one_takes_its_product_to_the_trash() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let (url, got) = receiver().await;
    sim.create_webhook("product.deleted", &url, "s3cret")
        .unwrap();
    let (shirt, v) = variable(&sim, "Shirt", &["SHIRT-S", "SHIRT-M"]);
    // The poll journals each variation as a `product` document under its own id.
    let dir = tempfile::tempdir().unwrap();
    let (db, poller) = poller(&server.base_url, &dir).await;
    poller.poll().await.unwrap();
    let journaled = db.journal_since("s1", 0, 100).await.unwrap();
    assert!(
        journaled
            .iter()
            .any(|e| e.kind == "product" && e.entity_id == v[0].to_string()),
        "{journaled:#?}"
    );
    assert_eq!(
        WooCommerce.document_kind(EntityKind::Variant),
        EntityKind::Product
    );
    let conn = connection(&server.base_url);
    assert_eq!(
        conn.batch_size(&delete_cmd(EntityKind::Variant, v[0], json!({}))),
        None,
        "deletes are never batched"
    );

    // A variation of a product with several: deleted for good, its sibling and parent stay.
    let started = weft_woocommerce::now_version();
    let o = conn
        .execute(&delete_cmd(
            EntityKind::Variant,
            v[0],
            json!({"sku": "SHIRT-S", "parent_id": shirt}),
        ))
        .await
        .unwrap();
    assert_tombstone(&o, v[0], &started);
    assert_eq!(sim.get(Kind::Product, v[0]), Value::Null);
    assert_eq!(sim.id_by_sku("SHIRT-S"), None);
    let parent = sim.get(Kind::Product, shirt);
    assert_eq!(parent["variations"], json!([v[1]]));
    assert_eq!(parent["status"], "publish");
    assert_eq!(
        deletes_sent(&sim),
        vec![format!(
            "/wp-json/wc/v3/products/{shirt}/variations/{}?force=true",
            v[0]
        )]
    );

    // The last variation: its product has nothing left to sell and goes to the trash.
    let o = conn
        .execute(&delete_cmd(
            EntityKind::Variant,
            v[1],
            json!({"sku": "SHIRT-M", "parent_id": shirt}),
        ))
        .await
        .unwrap();
    assert_tombstone(&o, v[1], &started);
    assert_eq!(sim.get(Kind::Product, v[1]), Value::Null);
    assert_eq!(sim.get(Kind::Product, shirt)["status"], "trash");
    assert_eq!(
        deletes_sent(&sim)[1..],
        [
            format!(
                "/wp-json/wc/v3/products/{shirt}/variations/{}?force=true",
                v[1]
            ),
            format!("/wp-json/wc/v3/products/{shirt}"),
        ]
    );
    // WooCommerce sends nothing for a variation deleted for good; the product's trash is
    // delivered, and its delivery names the product, a tombstone weft journals too.
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got = deliveries(&got);
    assert_eq!(got.len(), 1, "{got:?}");
    let d = WooWebhooks
        .parse(&got[0].0, &got[0].1, Some(&server.base_url))
        .unwrap();
    assert_eq!(
        (d.kind.as_str(), d.entity_id.as_str()),
        ("product", shirt.to_string().as_str())
    );
    assert!(is_tombstone(&d.body));
    server.shutdown().await;
}

#[tokio::test]
async fn a_simple_product_goes_to_the_trash_as_its_delivery_and_poll_report_it() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let (url, got) = receiver().await;
    sim.create_webhook("product.deleted", &url, "s3cret")
        .unwrap();
    let tee = sim.create_product(product("TEE")).unwrap();
    let keep = sim.create_product(product("KEEP")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, poller) = poller(&server.base_url, &dir).await;
    poller.poll().await.unwrap();
    let head = db
        .journal_since("s1", 0, 100)
        .await
        .unwrap()
        .last()
        .unwrap()
        .seq;
    let conn = connection(&server.base_url);

    let started = weft_woocommerce::now_version();
    let o = conn
        .execute(&delete_cmd(EntityKind::Variant, tee, json!({"sku": "TEE"})))
        .await
        .unwrap();
    assert_tombstone(&o, tee, &started);
    assert_eq!(sim.get(Kind::Product, tee)["status"], "trash");
    assert_eq!(sim.id_by_sku("TEE"), None, "its SKU is free again");
    assert_eq!(sim.get(Kind::Product, keep)["status"], "publish");
    assert_eq!(
        deletes_sent(&sim),
        vec![format!("/wp-json/wc/v3/products/{tee}")]
    );
    // The platform's own reports of it name the same entity as the outcome's tombstone.
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got = deliveries(&got);
    assert_eq!(got.len(), 1);
    assert_eq!(
        serde_json::from_slice::<Value>(&got[0].1).unwrap(),
        json!({"id": tee})
    );
    let d = WooWebhooks
        .parse(&got[0].0, &got[0].1, Some(&server.base_url))
        .unwrap();
    assert_eq!(d.kind, "product");
    assert_eq!(json!(d.entity_id), o.document.as_ref().unwrap()["id"]);
    assert_eq!(Some(&d.body), o.document.as_ref());
    poller.poll().await.unwrap();
    let after = db.journal_since("s1", head, 100).await.unwrap();
    let t = tombstones(&after);
    assert_eq!(t.len(), 1, "{t:#?}");
    assert_eq!(
        (t[0].kind.as_str(), t[0].entity_id.as_str()),
        ("product", o.target_id.as_str())
    );
    assert_eq!(Some(&t[0].body), o.document.as_ref());

    // Deleting it again (in the trash: 410) succeeds with the same outcome.
    let again = conn
        .execute(&delete_cmd(EntityKind::Variant, tee, json!({"sku": "TEE"})))
        .await
        .unwrap();
    assert_tombstone(&again, tee, &started);
    server.shutdown().await;
}

#[tokio::test]
async fn a_variation_the_body_does_not_place_is_found_through_its_own_document() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let (mug, v) = variable(&sim, "Mug", &["MUG-1", "MUG-2"]);
    let conn = connection(&server.base_url);
    let started = weft_woocommerce::now_version();
    let o = conn
        .execute(&delete_cmd(
            EntityKind::Variant,
            v[0],
            json!({"sku": "MUG-1"}),
        ))
        .await
        .unwrap();
    assert_tombstone(&o, v[0], &started);
    assert_eq!(sim.get(Kind::Product, v[0]), Value::Null);
    assert_eq!(sim.get(Kind::Product, mug)["variations"], json!([v[1]]));
    let reads: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect();
    assert!(
        reads.contains(&format!("/wp-json/wc/v3/products/{}", v[0])),
        "{reads:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_what_is_gone_already_succeeds() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let conn = connection(&server.base_url);
    let gone = sim.create_product(product("GONE")).unwrap();
    sim.delete_product(gone, true).unwrap();
    let (shirt, v) = variable(&sim, "Shirt", &["S-1", "S-2"]);
    sim.delete_product(v[0], true).unwrap();
    let c = sim.create_customer("gone@example.com", "Go", "Ne").unwrap();
    sim.delete_customer(c).unwrap();
    let started = weft_woocommerce::now_version();
    for (kind, id, body) in [
        (EntityKind::Variant, gone, json!({"sku": "GONE"})),
        (EntityKind::Product, gone, json!({})),
        (
            EntityKind::Variant,
            v[0],
            json!({"sku": "S-1", "parent_id": shirt}),
        ),
        (EntityKind::Customer, c, json!({})),
    ] {
        let o = conn
            .execute(&delete_cmd(kind, id, body))
            .await
            .unwrap_or_else(|e| panic!("{kind} {id}: {e}"));
        assert_tombstone(&o, id, &started);
    }
    assert_eq!(
        sim.get(Kind::Product, shirt)["variations"],
        json!([v[1]]),
        "the sibling stays, and so does its product"
    );
    assert_eq!(sim.get(Kind::Product, shirt)["status"], "publish");
    server.shutdown().await;
}

#[tokio::test]
async fn a_customer_is_deleted_for_good_and_its_delivery_names_the_same_entity() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let (url, got) = receiver().await;
    sim.create_webhook("customer.deleted", &url, "s3cret")
        .unwrap();
    let c = sim
        .create_customer("ann@example.com", "Ann", "Bee")
        .unwrap();
    let other = sim.create_customer("cy@example.com", "Cy", "Dee").unwrap();
    let conn = connection(&server.base_url);
    let started = weft_woocommerce::now_version();
    let o = conn
        .execute(&delete_cmd(EntityKind::Customer, c, json!({})))
        .await
        .unwrap();
    assert_tombstone(&o, c, &started);
    assert_eq!(sim.get(Kind::Customer, c), Value::Null);
    assert_eq!(sim.get(Kind::Customer, other)["email"], "cy@example.com");
    assert_eq!(
        deletes_sent(&sim),
        vec![format!("/wp-json/wc/v3/customers/{c}?force=true")]
    );
    assert_eq!(
        WooCommerce.document_kind(EntityKind::Customer),
        EntityKind::Customer
    );
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got = deliveries(&got);
    assert_eq!(got.len(), 1);
    let d = WooWebhooks
        .parse(&got[0].0, &got[0].1, Some(&server.base_url))
        .unwrap();
    assert_eq!(d.kind, "customer");
    assert_eq!(d.entity_id, o.target_id);
    assert_eq!(Some(&d.body), o.document.as_ref());
    server.shutdown().await;
}

#[tokio::test]
async fn a_delete_without_a_usable_id_or_of_another_kind_is_refused() {
    let sim = WooSim::new(SimConfig::default()).unwrap();
    let server = sim.serve_local().await.unwrap();
    let conn = connection(&server.base_url);
    let mut cmd = delete_cmd(EntityKind::Variant, 1, json!({}));
    cmd.target_id = Some("gid://x".into());
    let e = conn.execute(&cmd).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid { .. }), "{e:?}");
    cmd.target_id = None;
    assert!(matches!(
        conn.execute(&cmd).await.unwrap_err(),
        ConnectorError::Invalid { .. }
    ));
    let e = conn
        .execute(&delete_cmd(EntityKind::Order, 12, json!({})))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid { .. }), "{e:?}");
    assert!(deletes_sent(&sim).is_empty(), "nothing was sent");
    assert!(!write::is_batchable(&delete_cmd(
        EntityKind::Variant,
        1,
        json!({})
    )));
    server.shutdown().await;
}
