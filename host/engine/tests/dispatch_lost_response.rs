//! Bug A of the crash test: a retried Shopify stock write must not erase a sale.
//!
//! The dispatcher sends "set 62 -> 63", Shopify applies it, and the answer is lost (here a
//! proxy in front of the simulator swallows it and answers 502, as a dropped connection or a
//! crash before the write was recorded would leave it). A 1-unit order then moves Shopify back
//! to 62. The retry must not match the guard again and set 63: the call was saved before it was
//! sent and goes again unchanged under the same `@idempotent` key, so Shopify answers with the
//! original result and applies nothing, and the order's decrement survives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use weft_engine::dispatch::Reobserve;
use weft_engine::{DispatchReport, Dispatcher};
use weft_ratelimit::ShopifyCostLimiter;
use weft_ratelimit::{Backoff, BackoffConfig};
use weft_shopify::{ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{NewOrder, NewOrderLine, NewProduct, NewVariant, ShopifySim, SimConfig};
use weft_store::{NewOutboxRow, OpenOptions, OutboxStatus, StepCommit, Store};

const STORE: &str = "acme";
const TOKEN: &str = "shpat_sim_access_token";
const VERSION: &str = "2026-04";
/// What every level holds before the test writes.
const START: i64 = 62;

struct Env {
    sim: ShopifySim,
    db: Store,
    _dir: tempfile::TempDir,
    /// `(variant id, inventory item id)` of each level; all at the first location.
    levels: Vec<(u64, u64)>,
    location: u64,
    /// While set, the next `inventorySetQuantities` reaches Shopify but its answer is lost.
    lose_next: Arc<AtomicBool>,
    reobserved: Arc<Mutex<Vec<String>>>,
    dispatcher: Dispatcher,
    _server: tokio::task::JoinHandle<()>,
}

/// Runs the request, then, when armed and it is an inventory set, throws the answer away.
async fn lossy(lose: Arc<AtomicBool>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let is_set = String::from_utf8_lossy(&bytes).contains("inventorySetQuantities");
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if is_set && lose.swap(false, Ordering::SeqCst) {
        // Shopify did the work; the answer never reaches weft.
        let _ = axum::body::to_bytes(resp.into_body(), 16 << 20).await;
        return (StatusCode::BAD_GATEWAY, "upstream answer lost").into_response();
    }
    resp
}

async fn env(n: usize) -> Env {
    let sim = ShopifySim::new(SimConfig::default());
    let lose_next = Arc::new(AtomicBool::new(false));
    let app = {
        let lose = lose_next.clone();
        sim.router()
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                lossy(lose.clone(), req, next)
            }))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let location = sim.location_ids()[0];
    let created = sim
        .create_product(NewProduct {
            title: "Wool Sweater".into(),
            body_html: None,
            vendor: None,
            product_type: None,
            tags: Vec::new(),
            status: None,
            option_name: None,
            variants: (0..n)
                .map(|v| NewVariant {
                    sku: Some(format!("WS-{v}")),
                    price: "59.90".into(),
                    compare_at_price: None,
                    barcode: None,
                    option: Some(format!("V{v}")),
                    available: Some(START),
                })
                .collect(),
        })
        .unwrap();
    let levels = created
        .variant_ids
        .iter()
        .copied()
        .zip(created.inventory_item_ids.iter().copied())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.sqlite");
    let db = Store::open_with(&path.to_string_lossy(), OpenOptions::default())
        .await
        .unwrap();
    let client = ShopifyClient::new(
        ShopifyConfig::new(base_url, VERSION, TOKEN),
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
            base: Duration::from_millis(1),
            cap: Duration::from_millis(20),
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
        db,
        _dir: dir,
        levels,
        location,
        lose_next,
        reobserved,
        dispatcher,
        _server: server,
    }
}

fn key(i: usize) -> String {
    format!("level-{i}")
}

/// The row a processing step queues to set level `i` from `from` to `quantity`.
fn set_row(env: &Env, i: usize, from: i64, quantity: i64, tag: &str) -> NewOutboxRow {
    let (_, item) = env.levels[i];
    let location = env.location;
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
            "expected_quantity": from,
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

fn available(env: &Env, i: usize) -> i64 {
    env.sim.available(env.levels[i].1, env.location).unwrap()
}

/// A merchant's customer buys one unit of level `i`.
fn sell_one(env: &Env, i: usize) {
    env.sim
        .place_order(NewOrder {
            email: Some("buyer@example.com".into()),
            location_id: Some(env.location.to_string()),
            line_items: vec![NewOrderLine {
                variant_id: Some(env.levels[i].0.to_string()),
                sku: None,
                quantity: 1,
            }],
            ..NewOrder::default()
        })
        .unwrap();
}

fn set_calls(sim: &ShopifySim) -> usize {
    sim.request_log()
        .iter()
        .filter(|r| r.operation.as_deref() == Some("inventorySetQuantities"))
        .count()
}

/// Dispatch rounds (waiting out the short backoff between them) until nothing is queued.
async fn drain(env: &Env) -> DispatchReport {
    let mut total = DispatchReport::default();
    for _ in 0..50 {
        let queued = env
            .db
            .list_outbox(Some(STORE), Some(OutboxStatus::Pending), 1000)
            .await
            .unwrap()
            .len();
        if queued == 0 {
            return total;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        let r = env.dispatcher.run_once().await.unwrap();
        total.claimed += r.claimed;
        total.applied += r.applied;
        total.stale += r.stale;
        total.retried += r.retried;
        total.dead += r.dead;
    }
    panic!("the outbox did not drain in 50 rounds");
}

async fn row(db: &Store, idempotency_key: &str) -> weft_store::OutboxRow {
    db.list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.idempotency_key == idempotency_key)
        .unwrap()
}

#[tokio::test]
async fn a_set_whose_answer_was_lost_is_not_applied_again_over_a_sale() {
    let env = env(1).await;
    enqueue(&env.db, vec![set_row(&env, 0, START, START + 1, "a")]).await;

    env.lose_next.store(true, Ordering::SeqCst);
    let first = env.dispatcher.run_once().await.unwrap();
    assert_eq!((first.claimed, first.applied, first.retried), (1, 0, 1));
    assert_eq!(available(&env, 0), START + 1, "Shopify applied the set");
    let pending = row(&env.db, "weft-test-a-0").await;
    assert_eq!(pending.status, OutboxStatus::Pending);
    let call = pending
        .call_key
        .clone()
        .expect("the row keeps its unanswered call");
    let saved = env.db.outbox_call(&call).await.unwrap().unwrap();
    assert_eq!(saved.row_ids, vec![pending.id]);

    // An order takes the level back to the value the write's guard expects.
    sell_one(&env, 0);
    assert_eq!(available(&env, 0), START);

    let rest = drain(&env).await;
    assert_eq!((rest.applied, rest.stale, rest.dead), (1, 0, 0));
    assert_eq!(
        available(&env, 0),
        START,
        "the retried write must not erase the order's decrement"
    );
    assert_eq!(
        set_calls(&env.sim),
        2,
        "the call was sent twice, applied once"
    );
    let done = row(&env.db, "weft-test-a-0").await;
    assert_eq!(done.status, OutboxStatus::Done);
    assert_eq!(done.call_key.as_deref(), Some(call.as_str()));
}

#[tokio::test]
async fn a_lost_batch_is_resent_exactly_and_its_rows_are_not_superseded_meanwhile() {
    let env = env(3).await;
    enqueue(
        &env.db,
        (0..3)
            .map(|i| set_row(&env, i, START, START + 1 + i as i64, "a"))
            .collect(),
    )
    .await;
    env.lose_next.store(true, Ordering::SeqCst);
    let first = env.dispatcher.run_once().await.unwrap();
    assert_eq!((first.claimed, first.retried), (3, 3));
    assert_eq!(set_calls(&env.sim), 1, "the three travel in one call");
    for i in 0..3 {
        assert_eq!(available(&env, i), START + 1 + i as i64);
    }
    // An order on level 0 (back to its guard), and a newer state queued for level 1 while its
    // write's outcome is unknown: that write may have applied, so it is not superseded.
    sell_one(&env, 0);
    enqueue(&env.db, vec![set_row(&env, 1, START, 90, "b")]).await;
    let older = row(&env.db, "weft-test-a-1").await;
    assert_eq!(older.status, OutboxStatus::Pending);

    let rest = drain(&env).await;
    assert_eq!(rest.dead, 0);
    assert_eq!(available(&env, 0), START, "the order's decrement survives");
    assert_eq!(available(&env, 2), START + 3);
    for i in 0..3 {
        let r = row(&env.db, &format!("weft-test-a-{i}")).await;
        assert_eq!(r.status, OutboxStatus::Done, "row {i}");
    }
    // The newer row was computed against 62, but the first write made it 63: a stale guard,
    // re-read, instead of a blind overwrite.
    assert_eq!(rest.stale, 1);
    assert_eq!(available(&env, 1), START + 2);
    assert_eq!(*env.reobserved.lock().unwrap(), vec![key(1)]);
}

#[tokio::test]
async fn a_refused_quantity_releases_its_row_and_the_rest_go_in_a_new_call() {
    let env = env(3).await;
    // Level 1's guard is already stale: Shopify refuses the call, applying nothing; the other
    // two go in a new call (a new key: the first one's answer is the refusal).
    enqueue(
        &env.db,
        vec![
            set_row(&env, 0, START, 70, "a"),
            set_row(&env, 1, START - 5, 71, "a"),
            set_row(&env, 2, START, 72, "a"),
        ],
    )
    .await;
    let report = drain(&env).await;
    assert_eq!((report.applied, report.stale, report.dead), (2, 1, 0));
    assert_eq!(set_calls(&env.sim), 2);
    assert_eq!(
        (available(&env, 0), available(&env, 1), available(&env, 2)),
        (70, START, 72)
    );
    let stale = row(&env.db, "weft-test-a-1").await;
    assert_eq!(stale.status, OutboxStatus::Done);
    assert_eq!(
        stale.call_key, None,
        "the answered call released the refused row"
    );
    // The refused level was read again and journaled ahead of its replan: the step starts
    // again from what Shopify holds, not from the belief that was refused.
    let (_, item) = env.levels[1];
    let level_id = format!("{item}@{}", env.location);
    let journal = env
        .db
        .journal_range(STORE, None, Some("inventory-level"), 0, 100)
        .await
        .unwrap();
    let read: Vec<_> = journal
        .iter()
        .filter(|e| e.entity_id == level_id && e.delivery_id.is_none())
        .collect();
    assert_eq!(read.len(), 1, "{journal:?}");
    assert_eq!(read[0].body["available"], json!(START));
    let replan = journal
        .iter()
        .position(|e| {
            e.delivery_id
                .as_deref()
                .is_some_and(|d| d.starts_with("weft-replan:"))
        })
        .expect("the refusal journals a replan");
    assert!(
        journal
            .iter()
            .position(|e| e.entity_id == level_id && e.delivery_id.is_none())
            < Some(replan),
        "the reading comes before the replan"
    );
    let counters = env.db.counters(STORE).await.unwrap();
    assert_eq!(counters.get("stale_target_read"), Some(&1));
}

#[tokio::test]
async fn a_write_planned_before_weft_s_own_write_landed_is_not_sent_over_a_sale() {
    let env = env(1).await;
    // Two rows from the same reading (62): the first lands and weft records 63; the second was
    // planned before that, against 62.
    enqueue(&env.db, vec![set_row(&env, 0, START, START + 1, "a")]).await;
    let first = env.dispatcher.run_once().await.unwrap();
    assert_eq!(first.applied, 1);
    enqueue(&env.db, vec![set_row(&env, 0, START, START + 1, "b")]).await;
    // An order takes the level back to the second row's guard.
    sell_one(&env, 0);
    assert_eq!(available(&env, 0), START);

    let rest = drain(&env).await;
    assert_eq!((rest.applied, rest.stale, rest.dead), (0, 1, 0));
    assert_eq!(
        available(&env, 0),
        START,
        "the outdated write must not erase the order's decrement"
    );
    assert_eq!(set_calls(&env.sim), 1, "the outdated write was not sent");
    assert_eq!(*env.reobserved.lock().unwrap(), vec![key(0)]);
    let outdated = row(&env.db, "weft-test-b-0").await;
    assert_eq!(outdated.status, OutboxStatus::Done);
}
