//! The Shopify reconciler against the simulator: it lists what changed (one point per entity),
//! fetches in full only what it has not read after its version's second was over, and still
//! corrects a same-second tie that the engine settled wrongly after the read.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use weft_platform::Poller;
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::ShopifyReconciler;
use weft_shopify::{Entity, ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{CustomerFields, ShopifySim, SimConfig};
use weft_store::{EntityStateUpsert, StepCommit, Store};

const STORE: &str = "s1";

fn phone(p: &str) -> CustomerFields {
    CustomerFields {
        phone: Some(p.into()),
        ..CustomerFields::default()
    }
}

/// Two edits of one customer inside one second of the shop clock (retried until they are).
fn two_edits_in_one_second(sim: &ShopifySim, id: u64) -> (String, String) {
    for n in 0.. {
        let (a, b) = (format!("+4420000{n:04}"), format!("+4420999{n:04}"));
        let before = sim.now();
        sim.edit_customer(id, phone(&a)).unwrap();
        sim.edit_customer(id, phone(&b)).unwrap();
        if sim.now().timestamp() == before.timestamp() {
            return (a, b);
        }
    }
    unreachable!()
}

async fn wait_for_next_second(sim: &ShopifySim) {
    let start = sim.now().timestamp();
    while sim.now().timestamp() == start {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Rig {
    sim: ShopifySim,
    server: weft_sim_shopify::SimHandle,
    db: Store,
    client: Arc<ShopifyClient>,
    reconciler: ShopifyReconciler,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let sim = ShopifySim::new(SimConfig::default());
    let server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let client = Arc::new(
        ShopifyClient::new(
            ShopifyConfig::new(
                server.base_url.clone(),
                "2026-04",
                &sim.config().access_tokens[0],
            ),
            ShopifyCostLimiter::new(),
        )
        .unwrap(),
    );
    let reconciler = ShopifyReconciler::new(
        STORE,
        "shopify",
        db.clone(),
        client.clone(),
        Duration::from_secs(5),
    );
    Rig {
        sim,
        server,
        db,
        client,
        reconciler,
        _dir: dir,
    }
}

/// What the engine does when it applies an observation: weft now holds `body` at `version`.
async fn engine_holds(db: &Store, id: u64, version: &str, body: Value, seq: i64) {
    let mut step = StepCommit::new(STORE, chrono::Utc::now());
    step.entity_states.push(EntityStateUpsert {
        system: "shopify".into(),
        kind: "customer".into(),
        entity_id: id.to_string(),
        version: version.to_owned(),
        body,
        canonical_key: None,
        journal_seq: seq,
    });
    db.commit_step(&step).await.unwrap();
}

async fn recovered(db: &Store) -> Option<i64> {
    db.status(STORE)
        .await
        .unwrap()
        .counters
        .get("recovered")
        .copied()
}

fn customer_entries(
    entries: &[weft_store::JournalEntry],
    id: u64,
) -> Vec<weft_store::JournalEntry> {
    entries
        .iter()
        .filter(|e| e.kind == "customer" && e.entity_id == id.to_string())
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_then_fetches_and_still_settles_a_same_second_tie() {
    let Rig {
        sim,
        server,
        db,
        reconciler,
        _dir,
        ..
    } = rig().await;
    let id = sim
        .create_customer(CustomerFields {
            email: Some("ada@example.com".into()),
            ..CustomerFields::default()
        })
        .unwrap();
    let (first, last) = two_edits_in_one_second(&sim, id);
    wait_for_next_second(&sim).await;

    // Round 1 reads the customer in full: the last edit of its second.
    let r1 = reconciler.poll().await.unwrap();
    assert_eq!((r1.read, r1.journaled), (1, 1), "{r1:?}");
    let entries = customer_entries(&db.journal_since(STORE, 0, 100).await.unwrap(), id);
    let read = entries.last().expect("the customer is journaled").clone();
    assert_eq!(read.body["phone"], Value::String(last.clone()));

    // A late webhook of the first edit, same second, is processed after that read: weft now
    // holds the earlier phone at the same version.
    let mut stale = read.body.clone();
    stale["phone"] = Value::String(first);
    engine_holds(&db, id, &read.version, stale, read.seq).await;

    // Round 2 fetches nothing (the listing shows the version it read in full) but offers
    // the final body again: it differs from what weft holds at that second, so it is
    // journaled just after it, and the engine will apply it.
    let r2 = reconciler.poll().await.unwrap();
    assert_eq!((r2.read, r2.journaled), (0, 1), "{r2:?}");
    let entries = db.journal_since(STORE, read.seq, 100).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].body["phone"], Value::String(last));
    assert!(
        entries[0].version_key > read.version_key,
        "{} must sort after {}",
        entries[0].version,
        read.version
    );

    // Round 3, before the engine applied it: the same correction, already journaled.
    let r3 = reconciler.poll().await.unwrap();
    assert_eq!((r3.read, r3.journaled), (0, 0), "{r3:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_tie_is_not_journaled_again() {
    let Rig {
        sim,
        server,
        db,
        client,
        reconciler,
        _dir,
    } = rig().await;
    let id = sim
        .create_customer(CustomerFields {
            email: Some("ada@example.com".into()),
            ..CustomerFields::default()
        })
        .unwrap();
    let r0 = reconciler.poll().await.unwrap();
    assert_eq!(r0.journaled, 1);
    let (first, last) = two_edits_in_one_second(&sim, id);
    wait_for_next_second(&sim).await;

    // The first edit's webhook was processed, the second's was dropped.
    let created = customer_entries(&db.journal_since(STORE, 0, 100).await.unwrap(), id)
        .pop()
        .unwrap();
    let t = client
        .list_changed(&Entity::Customers, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.id == id.to_string())
        .expect("the customer is listed")
        .updated_at;
    let mut body = created.body.clone();
    body["phone"] = Value::String(first);
    body["updated_at"] = Value::String(t.clone());
    engine_holds(&db, id, &t, body, created.seq).await;

    // The poll reads the last edit: same second, other body, journaled just after.
    let r1 = reconciler.poll().await.unwrap();
    assert_eq!((r1.read, r1.journaled), (1, 1), "{r1:?}");
    let fixed = customer_entries(
        &db.journal_since(STORE, created.seq, 100).await.unwrap(),
        id,
    )
    .pop()
    .unwrap();
    assert_eq!(fixed.body["phone"], Value::String(last));
    assert_ne!(fixed.version, t, "journaled after the version weft held");

    // The engine applies it. The next rounds offer that body again: the same observation
    // under its nudged version, so nothing is journaled or counted as recovered.
    engine_holds(&db, id, &fixed.version, fixed.body.clone(), fixed.seq).await;
    let before = recovered(&db).await;
    for _ in 0..2 {
        let r = reconciler.poll().await.unwrap();
        assert_eq!((r.read, r.journaled), (0, 0), "{r:?}");
    }
    assert_eq!(recovered(&db).await, before);
    server.shutdown().await;
}

/// A stream read whole and found empty (a new shop without orders) gets a watermark at the
/// shop's clock, so the next rounds read only what changed since; and the stream whose round
/// committed longest ago is read first, so a round cut short again and again still reaches
/// every stream in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_stream_starts_at_the_shop_clock_and_the_stalest_stream_goes_first() {
    let Rig {
        sim,
        server: _server,
        db,
        reconciler,
        _dir,
        ..
    } = rig().await;
    let before = sim.now();
    reconciler.poll().await.unwrap();
    let marks = db.watermark_times(STORE).await.unwrap();
    let streams: Vec<&str> = marks.iter().map(|(s, _)| s.as_str()).collect();
    for s in ["shopify:products", "shopify:customers", "shopify:orders"] {
        assert!(streams.contains(&s), "{s} has a watermark: {streams:?}");
    }
    let orders = db
        .watermark(STORE, "shopify:orders")
        .await
        .unwrap()
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(orders["updated_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(
        at.timestamp() >= before.timestamp() && at <= sim.now(),
        "the empty orders stream starts at the shop's clock when it listed: {orders} (shop clock {before})"
    );

    // The orders stream's round is older than the others': the next round reads it first.
    let stale = chrono::Utc::now() - chrono::Duration::hours(1);
    db.set_watermark(
        STORE,
        &weft_store::WatermarkUpdate {
            stream: "shopify:orders".into(),
            value: orders.clone(),
        },
        stale,
    )
    .await
    .unwrap();
    reconciler.poll().await.unwrap();
    let mut marks = db.watermark_times(STORE).await.unwrap();
    marks.retain(|(s, _)| s.starts_with("shopify:"));
    marks.sort_by_key(|(_, at)| *at);
    assert_eq!(
        marks.first().map(|(s, _)| s.as_str()),
        Some("shopify:orders"),
        "the stalest stream committed first: {marks:?}"
    );
}
