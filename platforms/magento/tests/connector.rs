//! The Magento connector against its simulator over HTTP: credentials and Magento's error
//! shape, change capture by polling (watermark with overlap, pages stopped on `total_count`,
//! source items journaled when they change), and catalog and stock writes through the
//! asynchronous bulk API settled back into the outbox by the real dispatcher: complete is
//! done, retriable is sent again, must-change and rejected are dead letters with Magento's
//! message, a bulk whose status never arrives is never posted twice (a target that moved since
//! is stale, one untouched since a dead letter), and an accepted bulk is
//! asked about (not posted again) by a dispatcher that starts after a restart.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use weft_engine::{DispatchReport, Dispatcher};
use weft_magento::{BulkSettings, Magento, MagentoConnection, MgClient, MgConfig};
use weft_platform::ConnectorError;
use weft_ratelimit::{Backoff, BackoffConfig};
use weft_sim_magento::{ChaosConfig, DEFAULT_TOKEN, MagentoSim, OrderLine, SimConfig, SimHandle};
use weft_store::{NewOutboxRow, OutboxStatus, StepCommit, Store};

const STORE: &str = "acme";

struct Rig {
    sim: MagentoSim,
    handle: SimHandle,
    db: Store,
    _dir: tempfile::TempDir,
    conn: Arc<MagentoConnection>,
}

fn client(handle: &SimHandle, token: &str) -> Arc<MgClient> {
    Arc::new(MgClient::new(MgConfig::new(&handle.base_url, "default", token)).unwrap())
}

async fn rig(config: SimConfig, bulk: BulkSettings) -> Rig {
    let sim = MagentoSim::new(config);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(l).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let conn = Arc::new(MagentoConnection::new(client(&handle, DEFAULT_TOKEN), bulk));
    Rig {
        sim,
        handle,
        db,
        _dir: dir,
        conn,
    }
}

/// The connection's change sources (its change capture first), journaling into the rig's
/// database with a 2 s overlap.
fn change_sources(r: &Rig) -> Vec<Arc<dyn weft_platform::Poller>> {
    weft_platform::Connection::change_sources(
        r.conn.as_ref(),
        &weft_platform::SourceCtx {
            store_id: STORE.into(),
            system: "magento".into(),
            db: r.db.clone(),
            overlap: Duration::from_secs(2),
            webhook_url: None,
        },
    )
}

fn fast() -> BulkSettings {
    BulkSettings {
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(600),
    }
}

fn dispatcher(r: &Rig) -> Dispatcher {
    let systems = weft_engine::Systems::new(vec![weft_engine::System {
        name: "magento".into(),
        platform: Arc::new(Magento),
        connection: Some(r.conn.clone()),
    }]);
    let backoff = Arc::new(Backoff::seeded(
        BackoffConfig {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            max_retries: 10,
        },
        7,
    ));
    Dispatcher::new(STORE, r.db.clone(), systems, backoff)
}

fn price_row(sku: &str, price: f64, tag: &str) -> NewOutboxRow {
    NewOutboxRow {
        system: "magento".into(),
        kind: "variant".into(),
        key: sku.into(),
        op: "upsert".into(),
        idempotency_key: format!("t-{tag}-{sku}"),
        body: json!({"system": "magento", "kind": "variant", "op": "upsert", "target_id": null,
            "external_id": null, "body": {"sku": sku, "price": price},
            "desired": {"price": price}}),
        priority: 20,
        coalesce: true,
        resend_may_apply: false,
    }
}

fn product_row(body: Value, tag: &str) -> NewOutboxRow {
    let sku = body["sku"].as_str().unwrap_or("none").to_owned();
    NewOutboxRow {
        system: "magento".into(),
        kind: "product".into(),
        key: sku.clone(),
        op: "upsert".into(),
        idempotency_key: format!("t-{tag}-{sku}"),
        body: json!({"system": "magento", "kind": "product", "op": "upsert", "target_id": null,
            "external_id": null, "body": body, "desired": {}}),
        priority: 30,
        coalesce: true,
        resend_may_apply: false,
    }
}

fn stock_row(sku: &str, qty: i64, expected: i64, tag: &str) -> NewOutboxRow {
    NewOutboxRow {
        system: "magento".into(),
        kind: "inventory-level".into(),
        key: format!("{sku}@default"),
        op: "set-quantity".into(),
        idempotency_key: format!("t-{tag}-{sku}"),
        body: json!({"system": "magento", "kind": "inventory-level", "op": "set-quantity",
            "target_id": format!("{sku}@default"), "external_id": null,
            "body": {"available": qty}, "expected_quantity": expected,
            "desired": {"quantity": qty}}),
        priority: 10,
        coalesce: true,
        resend_may_apply: true,
    }
}

async fn enqueue(db: &Store, rows: Vec<NewOutboxRow>) {
    let mut step = StepCommit::new(STORE, Utc::now());
    step.outbox = rows;
    db.commit_step(&step).await.unwrap();
}

async fn count(db: &Store, status: OutboxStatus) -> usize {
    db.list_outbox(Some(STORE), Some(status), 10_000)
        .await
        .unwrap()
        .len()
}

/// Dispatches until nothing is pending or in flight (waiting for rows that are not due yet);
/// the reports summed.
async fn settle(d: &Dispatcher, db: &Store) -> DispatchReport {
    let mut total = DispatchReport::default();
    for _ in 0..400 {
        let r = d.run_once().await.unwrap();
        total.claimed += r.claimed;
        total.applied += r.applied;
        total.stale += r.stale;
        total.retried += r.retried;
        total.dead += r.dead;
        if count(db, OutboxStatus::Pending).await + count(db, OutboxStatus::Inflight).await == 0 {
            return total;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not settle");
}

fn seed(sim: &MagentoSim, n: usize, qty: f64) {
    for i in 0..n {
        let sku = format!("SKU-{i}");
        sim.save_product(json!({"sku": sku, "name": format!("Item {i}"), "price": 10.0}))
            .unwrap();
        sim.set_stock(&sku, "default", qty).unwrap();
    }
}

/// Operations posted per SKU over every bulk.
fn posted(sim: &MagentoSim, sku: &str) -> usize {
    sim.bulks()
        .iter()
        .flat_map(|b| b.operations.iter())
        .filter(|o| o.data["product"]["sku"] == sku || o.data["sourceItems"][0]["sku"] == sku)
        .count()
}

#[tokio::test]
async fn refused_credentials_are_an_outage_and_errors_carry_magentos_message() {
    let r = rig(SimConfig::default(), fast()).await;
    let bad = client(&r.handle, "wrong");
    let e = bad.get("/V1/products/NOPE").await.unwrap_err();
    assert!(e.is_auth_failure() && e.is_outage(), "{e}");
    assert!(
        e.to_string()
            .contains("The consumer isn't authorized to access Magento_Catalog::products."),
        "{e}"
    );
    let e = r.conn.client().get("/V1/products/NOPE").await.unwrap_err();
    match &e {
        ConnectorError::Permanent {
            status: 404,
            message,
            ..
        } => assert!(message.starts_with("The product that was requested doesn't exist")),
        other => panic!("{other}"),
    }
    assert!(!e.is_outage());
}

#[tokio::test]
async fn the_poll_reads_since_its_watermark_and_stops_pages_on_total_count() {
    let r = rig(SimConfig::default(), fast()).await;
    seed(&r.sim, 250, 5.0);
    r.sim
        .save_customer(json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}))
        .unwrap();
    r.sim
        .place_order(
            "ann@example.com",
            &[OrderLine {
                sku: "SKU-3".into(),
                qty: 2,
            }],
            "default",
        )
        .unwrap();
    let sources = change_sources(&r);
    let poller = &sources[0];
    let first = poller.poll().await.unwrap();
    // 250 products, 1 customer, 1 order, 250 levels.
    assert_eq!(first.read, 502);
    assert_eq!(first.journaled, 502);
    let product_lists = |sim: &MagentoSim| {
        sim.requests()
            .iter()
            .filter(|q| q.path.ends_with("/V1/products") && q.method == "GET")
            .count()
    };
    // 250 at 100 a page: three pages, never a fourth (it would repeat the third).
    assert_eq!(product_lists(&r.sim), 3);
    let level =
        r.db.entity_state(STORE, "magento", "inventory-level", "SKU-3@default")
            .await
            .unwrap();
    assert!(level.is_none(), "not processed yet: the journal holds it");
    let journal = r.db.journal_since(STORE, 0, 10_000).await.unwrap();
    let l3 = journal
        .iter()
        .find(|e| e.entity_id == "SKU-3@default")
        .unwrap();
    assert_eq!(l3.body["available"], 3, "the order took two");
    let order = journal.iter().find(|e| e.kind == "order").unwrap();
    assert_eq!(order.body["items"][0]["sku"], "SKU-3");
    assert_eq!(order.version, "2026-01-15T12:00:00Z");
    // A first sync reads everything there is: a backfill, whose writes queue behind live ones.
    assert!(
        journal
            .iter()
            .all(|e| e.source == weft_store::Source::Backfill)
    );

    // Later: one price edit and one stock edit. The next round reads again what changed at or
    // after the watermark minus the overlap (everything so far was made in the first second),
    // and journals only what changed: the product and the level.
    r.sim.advance(Duration::from_secs(60));
    r.sim.set_price("SKU-7", 12.5).unwrap();
    r.sim.set_stock("SKU-9", "default", 1.0).unwrap();
    let second = poller.poll().await.unwrap();
    assert_eq!(second.read, 502);
    assert_eq!(second.journaled, 2);
    // What an incremental round finds is live.
    let found = r.db.journal_since(STORE, 0, 10_000).await.unwrap();
    assert!(
        found[journal.len()..]
            .iter()
            .all(|e| e.source == weft_store::Source::Poll)
    );
    // A minute on: only what changed since 12:01:00 minus 2 s is listed.
    r.sim.advance(Duration::from_secs(60));
    r.sim.set_price("SKU-8", 13.5).unwrap();
    let before = product_lists(&r.sim);
    let third = poller.poll().await.unwrap();
    // Each stream has its own watermark: the customer and the order (12:00:00) are still within
    // their streams' overlap.
    assert_eq!(
        third.read,
        2 + 1 + 1 + 250,
        "SKU-7 (in the overlap), SKU-8, the customer, the order, every source item"
    );
    assert_eq!(third.journaled, 1);
    assert_eq!(product_lists(&r.sim) - before, 1);
    let log = r.sim.requests();
    let q = log
        .iter()
        .rev()
        .find(|q| q.path.ends_with("/V1/products"))
        .unwrap();
    let query: String = [
        ("%5B", "["),
        ("%5D", "]"),
        ("%2D", "-"),
        ("%20", " "),
        ("%3A", ":"),
    ]
    .iter()
    .fold(q.query.clone(), |t, (a, b)| t.replace(a, b));
    assert!(query.contains("[condition_type]=gteq"), "{query}");
    assert!(query.contains("[value]=2026-01-15 12:00:58"), "{query}");
    let fourth = poller.poll().await.unwrap();
    assert_eq!(fourth.journaled, 0, "nothing changed");
}

#[tokio::test]
async fn bulk_writes_settle_in_the_outbox_and_retriable_failures_are_sent_again() {
    let config = SimConfig {
        chaos: ChaosConfig {
            retriable_failure_share: 0.25,
            consumer_delay: Duration::from_millis(150),
            consumer_jitter: Duration::from_millis(300),
            lost_bulk_share: 0.0,
            lost_bulk_applies: false,
        },
        ..SimConfig::default()
    };
    let r = rig(config, fast()).await;
    const N: usize = 40;
    seed(&r.sim, N, 5.0);
    let mut rows = Vec::new();
    for i in 0..N {
        let sku = format!("SKU-{i}");
        rows.push(price_row(&sku, 20.0 + i as f64, "p"));
        rows.push(stock_row(&sku, 7 + i as i64, 5, "s"));
    }
    enqueue(&r.db, rows).await;
    let d = dispatcher(&r);
    let report = settle(&d, &r.db).await;
    assert_eq!(count(&r.db, OutboxStatus::Done).await, 2 * N);
    assert_eq!(count(&r.db, OutboxStatus::Dead).await, 0);
    assert!(report.retried > 0);
    let mut resent = 0;
    for i in 0..N {
        let sku = format!("SKU-{i}");
        assert_eq!(r.sim.product(&sku).unwrap()["price"], 20.0 + i as f64);
        assert_eq!(r.sim.stock(&sku, "default"), Some(7.0 + i as f64));
        // Posted once, and once more per retriable failure: never while its bulk was open.
        let failures = r
            .sim
            .bulks()
            .iter()
            .flat_map(|b| b.operations.iter())
            .filter(|o| {
                (o.data["product"]["sku"] == sku.as_str()
                    || o.data["sourceItems"][0]["sku"] == sku.as_str())
                    && o.status == weft_sim_magento::STATUS_RETRIABLE
            })
            .count();
        assert_eq!(posted(&r.sim, &sku), 2 + failures, "{sku}");
        resent += failures;
    }
    assert!(resent > 0, "the chaos failed some operations");
    // Each stock row journaled its result, so the step can place later readings after it.
    let results =
        r.db.journal_since(STORE, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.delivery_id
                    .as_deref()
                    .is_some_and(|x| x.starts_with(weft_store::WRITE_RESULT_DELIVERY_PREFIX))
            })
            .count();
    assert_eq!(results, N);
    // The product writes learned the products' ids.
    let xref =
        r.db.xref_entity(STORE, "variant", "SKU-0", "magento")
            .await
            .unwrap();
    assert_eq!(xref.as_deref(), Some("1"));
}

#[tokio::test]
async fn must_change_and_rejected_operations_are_dead_letters_with_magentos_message() {
    let r = rig(SimConfig::default(), fast()).await;
    seed(&r.sim, 1, 5.0);
    enqueue(
        &r.db,
        vec![
            product_row(json!({"sku": "NEW", "price": 3.0}), "m"),
            product_row(json!({"sku": "SKU-0", "price": -4}), "n"),
            price_row("SKU-0", 11.0, "ok"),
        ],
    )
    .await;
    let report = settle(&dispatcher(&r), &r.db).await;
    assert_eq!(report.dead, 2);
    let dead =
        r.db.list_outbox(Some(STORE), Some(OutboxStatus::Dead), 10)
            .await
            .unwrap();
    let errors: Vec<String> = dead.iter().filter_map(|d| d.last_error.clone()).collect();
    assert!(
        errors.iter().any(|e| e
            .contains("The \"name\" attribute value is empty. Set the attribute and try again.")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Invalid value of \"-4\" provided for the price field.")),
        "{errors:?}"
    );
    assert_eq!(r.sim.product("SKU-0").unwrap()["price"], 11.0);
    assert!(r.sim.product("NEW").is_none());
}

#[tokio::test]
async fn a_level_that_moved_is_stale_and_never_posted() {
    let r = rig(SimConfig::default(), fast()).await;
    seed(&r.sim, 2, 5.0);
    r.sim.set_stock("SKU-0", "default", 4.0).unwrap();
    enqueue(
        &r.db,
        vec![stock_row("SKU-0", 9, 5, "a"), stock_row("SKU-1", 5, 5, "b")],
    )
    .await;
    let report = settle(&dispatcher(&r), &r.db).await;
    assert_eq!(report.stale, 1);
    assert_eq!(
        r.sim.stock("SKU-0", "default"),
        Some(4.0),
        "the sale is kept"
    );
    assert_eq!(
        r.sim.bulks().len(),
        0,
        "SKU-1 already held 5: nothing to post"
    );
    let counters = r.db.counters(STORE).await.unwrap();
    assert_eq!(counters.get("writes_stale"), Some(&1));
}

#[tokio::test]
async fn a_bulk_whose_status_never_arrives_is_never_posted_twice() {
    for applies in [false, true] {
        let mut config = SimConfig::default();
        config.chaos.lost_bulk_share = 1.0;
        config.chaos.lost_bulk_applies = applies;
        config.chaos.consumer_delay = Duration::from_millis(50);
        let r = rig(
            config,
            BulkSettings {
                poll: Duration::from_millis(100),
                timeout: Duration::from_millis(800),
            },
        )
        .await;
        seed(&r.sim, 2, 5.0);
        enqueue(
            &r.db,
            vec![price_row("SKU-0", 33.0, "x"), stock_row("SKU-1", 8, 5, "y")],
        )
        .await;
        let report = settle(&dispatcher(&r), &r.db).await;
        assert_eq!(
            r.sim.bulks().len(),
            2,
            "one bulk per topic, each posted once"
        );
        assert_eq!(posted(&r.sim, "SKU-0") + posted(&r.sim, "SKU-1"), 2);
        if applies {
            // Applied without a status: found on the target, done.
            assert_eq!((report.applied, report.dead), (2, 0));
            assert_eq!(r.sim.product("SKU-0").unwrap()["price"], 33.0);
            assert_eq!(r.sim.stock("SKU-1", "default"), Some(8.0));
        } else {
            assert_eq!((report.applied, report.dead), (0, 2));
            let dead =
                r.db.list_outbox(Some(STORE), Some(OutboxStatus::Dead), 10)
                    .await
                    .unwrap();
            assert!(
                dead.iter().all(|d| d
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("not sent again"))),
                "{:?}",
                dead.iter()
                    .map(|d| d.last_error.clone())
                    .collect::<Vec<_>>()
            );
        }
    }
}

#[tokio::test]
async fn a_bulk_without_status_whose_targets_moved_since_is_stale_not_a_dead_letter() {
    let mut config = SimConfig::default();
    config.chaos.lost_bulk_share = 1.0;
    config.chaos.lost_bulk_applies = true;
    config.chaos.consumer_delay = Duration::from_millis(50);
    let r = rig(
        config,
        BulkSettings {
            poll: Duration::from_millis(100),
            timeout: Duration::from_millis(800),
        },
    )
    .await;
    seed(&r.sim, 2, 5.0);
    enqueue(
        &r.db,
        vec![price_row("SKU-0", 33.0, "m"), stock_row("SKU-1", 8, 5, "n")],
    )
    .await;
    let d = dispatcher(&r);
    let first = d.run_once().await.unwrap();
    assert_eq!(first.claimed, 2);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        r.sim.stock("SKU-1", "default"),
        Some(8.0),
        "applied, no status"
    );
    // After the bulks were accepted (a later second on Magento's clock): the merchant edits the
    // product, and a sale takes a unit of the level.
    r.sim.advance(Duration::from_secs(2));
    r.sim.set_price("SKU-0", 40.0).unwrap();
    r.sim.set_stock("SKU-1", "default", 7.0).unwrap();
    let report = settle(&d, &r.db).await;
    assert_eq!(
        (report.stale, report.dead),
        (2, 0),
        "moved since: read again and merged, not judged by the old write"
    );
    assert_eq!(
        posted(&r.sim, "SKU-0") + posted(&r.sim, "SKU-1"),
        2,
        "posted once"
    );
    assert_eq!(r.sim.product("SKU-0").unwrap()["price"], 40.0);
    assert_eq!(r.sim.stock("SKU-1", "default"), Some(7.0));
}

#[tokio::test]
async fn an_accepted_bulk_is_asked_about_after_a_restart_not_posted_again() {
    let mut config = SimConfig::default();
    config.chaos.consumer_delay = Duration::from_millis(400);
    let r = rig(config, fast()).await;
    seed(&r.sim, 3, 5.0);
    enqueue(
        &r.db,
        (0..3)
            .map(|i| price_row(&format!("SKU-{i}"), 50.0, "r"))
            .collect(),
    )
    .await;
    // The first process posts the bulk and stops before it settles.
    let first = dispatcher(&r).run_once().await.unwrap();
    assert_eq!(first.claimed, 3);
    assert_eq!(r.sim.bulks().len(), 1);
    assert_eq!(count(&r.db, OutboxStatus::Done).await, 0);
    // A new process (new connection, same database) settles it from the call's saved input.
    let conn = Arc::new(MagentoConnection::new(
        client(&r.handle, DEFAULT_TOKEN),
        fast(),
    ));
    let r2 = Rig {
        sim: r.sim.clone(),
        handle: r.handle,
        db: r.db.clone(),
        _dir: r._dir,
        conn,
    };
    settle(&dispatcher(&r2), &r2.db).await;
    assert_eq!(count(&r2.db, OutboxStatus::Done).await, 3);
    assert_eq!(r2.sim.bulks().len(), 1, "never posted again");
    for i in 0..3 {
        assert_eq!(r2.sim.product(&format!("SKU-{i}")).unwrap()["price"], 50.0);
    }
}

/// A tie (two readings of one second) is settled by reading the entity again: products,
/// customers and orders are read through the listing change capture uses, filtered on
/// `entity_id`, so the document has the shape change capture journals; levels are not read
/// alone.
#[tokio::test]
async fn products_customers_and_orders_are_read_again_in_the_journaled_shape() {
    let r = rig(SimConfig::default(), fast()).await;
    seed(&r.sim, 3, 5.0);
    r.sim
        .save_customer(json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}))
        .unwrap();
    r.sim
        .place_order(
            "ann@example.com",
            &[OrderLine {
                sku: "SKU-1".into(),
                qty: 1,
            }],
            "default",
        )
        .unwrap();
    let conn = r.conn.clone();
    let sources = change_sources(&r);
    sources[0].poll().await.unwrap();
    let journal = r.db.journal_since(STORE, 0, 10_000).await.unwrap();
    for kind in ["product", "customer", "order"] {
        let held = journal.iter().rev().find(|e| e.kind == kind).unwrap();
        let read =
            weft_platform::Connection::reread(conn.as_ref(), kind, &held.entity_id, &held.body)
                .expect("read again")
                .await
                .unwrap()
                .expect("it exists");
        assert_eq!(read.body, held.body, "{kind}");
        assert_eq!(read.version, held.version, "{kind}");
    }
    // The price changes: a read again shows it.
    r.sim.set_price("SKU-2", 12.5).unwrap();
    let sku2 = journal
        .iter()
        .find(|e| e.kind == "product" && e.body["sku"] == "SKU-2")
        .unwrap();
    let read =
        weft_platform::Connection::reread(conn.as_ref(), "product", &sku2.entity_id, &sku2.body)
            .unwrap()
            .await
            .unwrap()
            .unwrap();
    assert_eq!(read.body["price"], json!(12.5));
    // Levels and unknown ids.
    assert!(
        weft_platform::Connection::reread(
            conn.as_ref(),
            "inventory-level",
            "SKU-1@default",
            &json!({})
        )
        .is_none()
    );
    let gone = weft_platform::Connection::reread(conn.as_ref(), "product", "999999", &json!({}))
        .unwrap()
        .await
        .unwrap();
    assert!(gone.is_none());
}
