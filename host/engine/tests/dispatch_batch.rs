//! The dispatcher against the Shopify simulator over real HTTP: inventory set-quantity rows
//! travel in `inventorySetQuantities` calls of up to 250 quantities (counted in the simulator's
//! request log), a stale item in a batch is re-read while the others complete, only the latest
//! state of an entity is sent, and urgent-only dispatch (quiet hours) leaves inventory queued.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use weft_engine::dispatch::Reobserve;
use weft_engine::{DispatchReport, Dispatcher};
use weft_ratelimit::ShopifyCostLimiter;
use weft_ratelimit::{Backoff, BackoffConfig};
use weft_shopify::{ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{NewProduct, NewVariant, ShopifySim, SimConfig, SimHandle};
use weft_store::{NewOutboxRow, OpenOptions, OutboxStatus, StepCommit, Store};

const STORE: &str = "acme";
const TOKEN: &str = "shpat_sim_access_token";
const VERSION: &str = "2026-04";
/// What every level holds before the test writes (the `expected_quantity` of each row).
const START: i64 = 7;

struct Env {
    sim: ShopifySim,
    _handle: SimHandle,
    db: Store,
    _dir: tempfile::TempDir,
    /// `(inventory item id, location id)` of each level, in creation order.
    levels: Vec<(u64, u64)>,
    /// Keys the dispatcher asked to re-read after a stale compare-and-set.
    reobserved: Arc<Mutex<Vec<String>>>,
    dispatcher: Dispatcher,
}

/// A simulator with `n` stocked levels (100 variants per product) and a SQLite store.
async fn env(n: usize) -> Env {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    let location = sim.location_ids()[0];
    let mut levels = Vec::new();
    for p in 0..n.div_ceil(100) {
        let variants = (0..100.min(n - p * 100))
            .map(|v| NewVariant {
                sku: Some(format!("SKU-{p}-{v}")),
                price: "10.00".into(),
                compare_at_price: None,
                barcode: None,
                option: Some(format!("V{v}")),
                available: Some(START),
            })
            .collect();
        let created = sim
            .create_product(NewProduct {
                title: format!("Product {p}"),
                body_html: None,
                vendor: None,
                product_type: None,
                tags: Vec::new(),
                status: None,
                option_name: None,
                variants,
            })
            .unwrap();
        levels.extend(created.inventory_item_ids.iter().map(|i| (*i, location)));
    }
    for (item, loc) in &levels {
        assert_eq!(sim.available(*item, *loc), Some(START));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.sqlite");
    let db = Store::open_with(&path.to_string_lossy(), OpenOptions::default())
        .await
        .unwrap();
    let client = ShopifyClient::new(
        ShopifyConfig::new(handle.base_url.clone(), VERSION, TOKEN),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let systems = weft_engine::Systems::new(vec![weft_engine::System {
        name: "shopify".into(),
        platform: Arc::new(weft_shopify::Shopify),
        connection: Some(Arc::new(weft_shopify::ShopifyConnection::new(Arc::new(
            client,
        )))),
    }]);
    let backoff = Arc::new(Backoff::seeded(
        BackoffConfig {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            max_retries: 10,
        },
        7,
    ));
    let reobserved = Arc::new(Mutex::new(Vec::new()));
    let hook: Reobserve = {
        let seen = reobserved.clone();
        Arc::new(move |_system, _kind, key| {
            seen.lock().unwrap().push(key);
            Box::pin(async { Ok(()) })
        })
    };
    let dispatcher = Dispatcher::new(STORE, db.clone(), systems, backoff).with_reobserve(hook);
    Env {
        sim,
        _handle: handle,
        db,
        _dir: dir,
        levels,
        reobserved,
        dispatcher,
    }
}

/// The canonical key of level `i`.
fn key(i: usize) -> String {
    format!("level-{i}")
}

/// The outbox row a processing step queues to set level `i` of `env` to `quantity`.
fn set_row(env: &Env, i: usize, quantity: i64, tag: &str) -> NewOutboxRow {
    let (item, location) = env.levels[i];
    NewOutboxRow {
        system: "shopify".into(),
        kind: "inventory-level".into(),
        key: key(i),
        op: "set-quantity".into(),
        idempotency_key: format!("weft-test-{tag}-{i}"),
        body: json!({
            "system": "shopify",
            "kind": "inventory-level",
            "op": "set-quantity",
            "target_id": format!("{item}@{location}"),
            "external_id": null,
            "body": {
                "inventory_item_id": item.to_string(),
                "location_id": location.to_string(),
                "available": quantity,
            },
            "expected_quantity": START,
            "desired": {"quantity": quantity},
        }),
        priority: weft_engine::sync::priority("inventory-level"),
        coalesce: true,
        resend_may_apply: false,
    }
}

async fn enqueue(db: &Store, rows: Vec<NewOutboxRow>) {
    let mut step = StepCommit::new(STORE, Utc::now());
    step.outbox = rows;
    db.commit_step(&step).await.unwrap();
}

/// `inventorySetQuantities` calls the simulator has answered.
fn set_calls(sim: &ShopifySim) -> usize {
    sim.request_log()
        .iter()
        .filter(|r| r.operation.as_deref() == Some("inventorySetQuantities"))
        .count()
}

/// Dispatch rounds until one claims nothing; the rounds' reports summed.
async fn drain(d: &Dispatcher) -> (usize, DispatchReport) {
    let mut total = DispatchReport::default();
    for round in 0.. {
        let r = d.run_once().await.unwrap();
        if r.claimed == 0 {
            return (round, total);
        }
        total.claimed += r.claimed;
        total.applied += r.applied;
        total.stale += r.stale;
        total.retried += r.retried;
        total.dead += r.dead;
        total.throttled += r.throttled;
    }
    unreachable!()
}

async fn status_count(db: &Store, status: OutboxStatus) -> usize {
    db.list_outbox(Some(STORE), Some(status), 10_000)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn inventory_writes_travel_250_to_a_call() {
    const N: usize = 1_200;
    let env = env(N).await;
    enqueue(
        &env.db,
        (0..N)
            .map(|i| set_row(&env, i, 100 + i as i64, "a"))
            .collect(),
    )
    .await;
    let (rounds, report) = drain(&env.dispatcher).await;
    assert_eq!(report.claimed, N as u64);
    assert_eq!(report.applied, N as u64);
    assert_eq!((report.stale, report.retried, report.dead), (0, 0, 0));
    assert_eq!(report.throttled, 0);
    // 1,200 quantities in ceil(1200 / 250) = 5 calls; a dispatch round claims up to four
    // calls' worth and sends them together, so two rounds.
    assert_eq!(set_calls(&env.sim), N.div_ceil(250));
    assert_eq!(rounds, 2);
    for (i, (item, loc)) in env.levels.iter().enumerate() {
        assert_eq!(env.sim.available(*item, *loc), Some(100 + i as i64));
    }
    assert_eq!(status_count(&env.db, OutboxStatus::Done).await, N);
    let counters = env.db.counters(STORE).await.unwrap();
    assert_eq!(counters.get("writes_applied"), Some(&(N as i64)));
    // Each row journaled its result, as a single write would: the level's version after the
    // write, the guard it replaced and what it set (the processing step records it).
    let results: Vec<_> = env
        .db
        .journal_since(STORE, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.delivery_id
                .as_deref()
                .is_some_and(|d| d.starts_with(weft_store::WRITE_RESULT_DELIVERY_PREFIX))
        })
        .collect();
    assert_eq!(results.len(), N);
    let last = results
        .iter()
        .find(|e| e.body["weft_write"]["key"] == json!(key(N - 1)))
        .expect("the last level's result");
    assert_eq!(
        last.body["weft_write"]["after"],
        json!({"quantity": 100 + N as i64 - 1})
    );
    assert!(
        weft_store::version_key(&last.version).is_some(),
        "versioned: {}",
        last.version
    );
}

#[tokio::test]
async fn a_stale_item_is_reread_and_the_rest_of_its_batch_lands() {
    const N: usize = 40;
    let env = env(N).await;
    // The merchant changed three levels after weft computed its writes.
    let stale = [3usize, 17, 38];
    for i in stale {
        let (item, loc) = env.levels[i];
        env.sim.set_inventory(item, loc, 2).unwrap();
    }
    enqueue(
        &env.db,
        (0..N)
            .map(|i| set_row(&env, i, 50 + i as i64, "s"))
            .collect(),
    )
    .await;
    let report = env.dispatcher.run_once().await.unwrap();
    assert_eq!(report.claimed, N as u64);
    assert_eq!(report.applied, (N - stale.len()) as u64);
    assert_eq!(report.stale, stale.len() as u64);
    assert_eq!((report.retried, report.dead), (0, 0));
    // Shopify applies a call all or nothing and names the stale quantity; the simulator names
    // the first it finds, so each stale item costs one more call: 3 refused calls, then the 37.
    assert_eq!(set_calls(&env.sim), 1 + stale.len());
    for (i, (item, loc)) in env.levels.iter().enumerate() {
        let want = if stale.contains(&i) { 2 } else { 50 + i as i64 };
        assert_eq!(env.sim.available(*item, *loc), Some(want), "level {i}");
    }
    let mut reread = env.reobserved.lock().unwrap().clone();
    reread.sort();
    let mut want: Vec<String> = stale.iter().map(|i| key(*i)).collect();
    want.sort();
    assert_eq!(reread, want);
    // Stale rows are done (the re-read re-merges and queues a fresh write), not retried.
    assert_eq!(status_count(&env.db, OutboxStatus::Done).await, N);
    let counters = env.db.counters(STORE).await.unwrap();
    assert_eq!(counters.get("writes_stale"), Some(&(stale.len() as i64)));
    assert_eq!(
        counters.get("writes_applied"),
        Some(&((N - stale.len()) as i64))
    );
    // A stale level does not keep the target state of a write that did not land.
    assert!(
        env.db
            .target_state(STORE, "shopify", "inventory-level", &key(3))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn only_the_latest_state_of_an_entity_is_sent() {
    let env = env(2).await;
    // Two pending writes for level 0: the newer replaces the older when it is queued.
    enqueue(&env.db, vec![set_row(&env, 0, 11, "old")]).await;
    enqueue(&env.db, vec![set_row(&env, 0, 12, "new")]).await;

    // Level 1: a write in flight when a newer one is queued, then sent back to pending (a
    // timeout, say). It must not be sent again: the newer row carries the latest state.
    enqueue(&env.db, vec![set_row(&env, 1, 21, "old")]).await;
    let claimed = env
        .db
        .claim_due(Utc::now(), 10, Duration::from_secs(60), Some(STORE))
        .await
        .unwrap();
    let level0 = claimed.iter().find(|r| r.key == key(0));
    assert!(level0.is_some(), "the newer level-0 row is claimable");
    let inflight = claimed.iter().find(|r| r.key == key(1)).unwrap().clone();
    enqueue(&env.db, vec![set_row(&env, 1, 22, "new")]).await;
    env.db
        .retry(
            inflight.id,
            inflight.claim_token.as_deref().unwrap(),
            Utc::now(),
            "shopify transient failure: timeout",
            Utc::now(),
        )
        .await
        .unwrap();
    // Give the level-0 row back too, so the dispatcher below sends both levels.
    let l0 = level0.unwrap();
    env.db
        .retry(
            l0.id,
            l0.claim_token.as_deref().unwrap(),
            Utc::now(),
            "released by the test",
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        env.db
            .outbox_row(inflight.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        OutboxStatus::Superseded
    );

    let (_, report) = drain(&env.dispatcher).await;
    assert_eq!(report.applied, 2, "one write per level: {report:?}");
    assert_eq!(set_calls(&env.sim), 1, "both levels in one call");
    assert_eq!(
        env.sim.available(env.levels[0].0, env.levels[0].1),
        Some(12)
    );
    assert_eq!(
        env.sim.available(env.levels[1].0, env.levels[1].1),
        Some(22)
    );
    assert_eq!(status_count(&env.db, OutboxStatus::Superseded).await, 2);
    assert_eq!(status_count(&env.db, OutboxStatus::Done).await, 2);
}

#[tokio::test]
async fn urgent_only_dispatch_leaves_inventory_queued_until_quiet_hours_end() {
    const N: usize = 10;
    let env = env(N).await;
    enqueue(
        &env.db,
        (0..N)
            .map(|i| set_row(&env, i, 30 + i as i64, "q"))
            .collect(),
    )
    .await;
    // Quiet hours: only orders are dispatched.
    let quiet = env.dispatcher.run_urgent().await.unwrap();
    assert_eq!(quiet.claimed, 0);
    assert_eq!(set_calls(&env.sim), 0);
    assert_eq!(status_count(&env.db, OutboxStatus::Pending).await, N);
    // The window ends: everything queued goes, in one call.
    let (_, report) = drain(&env.dispatcher).await;
    assert_eq!(report.applied, N as u64);
    assert_eq!(set_calls(&env.sim), 1);
    for (i, (item, loc)) in env.levels.iter().enumerate() {
        assert_eq!(env.sim.available(*item, *loc), Some(30 + i as i64));
    }
}
