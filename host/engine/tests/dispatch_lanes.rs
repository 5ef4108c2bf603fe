//! A store's dispatch runs one lane per system: a system whose call hangs (a busy ERP's
//! concurrency limit, a throttled shop, a long batch) holds back only its own next writes.
//! Before, one round claimed every system's rows and waited for its slowest call, so a shop's
//! stock write queued behind an ERP call waited for it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{Counting, STORE, variant_row};
use serde_json::json;
use tokio::sync::Semaphore;
use weft_engine::{Dispatcher, LoopHealth, StoreRunner, System, Systems, Timing, Wakers};
use weft_store::{NewOutboxRow, OutboxStatus, StepCommit, Store};

/// A connection whose calls wait until the test lets them through (one permit per call).
struct Held {
    started: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
}

impl weft_platform::Connection for Held {
    fn platform(&self) -> Arc<dyn weft_platform::Platform> {
        Arc::new(weft_netsuite::NetSuite)
    }

    fn execute<'a>(
        &'a self,
        command: &'a weft_platform::WriteCommand,
    ) -> futures::future::BoxFuture<
        'a,
        Result<weft_platform::WriteOutcome, weft_platform::ConnectorError>,
    > {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.unwrap().forget();
            Ok(common::applied(command))
        })
    }

    fn change_sources(
        &self,
        _ctx: &weft_platform::SourceCtx,
    ) -> Vec<Arc<dyn weft_platform::Poller>> {
        Vec::new()
    }
}

async fn enqueue(db: &Store, rows: Vec<NewOutboxRow>) {
    let mut step = StepCommit::new(STORE, Utc::now() - TimeDelta::seconds(60));
    step.outbox = rows;
    db.commit_step(&step).await.unwrap();
}

async fn done(db: &Store, system: &str) -> usize {
    db.list_outbox(Some(STORE), Some(OutboxStatus::Done), 100)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.system == system)
        .count()
}

/// Waits (up to 20 s) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = std::time::Instant::now();
    while !check().await {
        assert!(t.elapsed() < Duration::from_secs(20), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_erp_call_does_not_hold_back_the_shop_s_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = common::open(&dir).await;
    let shop_sent = Arc::new(AtomicUsize::new(0));
    let erp_started = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let systems = Systems::new(vec![
        System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: Some(Arc::new(Counting {
                sent: shop_sent.clone(),
            })),
        },
        System {
            name: "netsuite".into(),
            platform: Arc::new(weft_netsuite::NetSuite),
            connection: Some(Arc::new(Held {
                started: erp_started.clone(),
                gate: gate.clone(),
            })),
        },
    ]);
    let processor = common::processor_over(
        &db,
        &runtime,
        systems.clone(),
        &[],
        json!({}),
        &common::stock(&runtime, "shopify-netsuite"),
    );
    let backoff = Arc::new(weft_ratelimit::Backoff::seeded(
        weft_ratelimit::BackoffConfig {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(20),
            max_retries: 10,
        },
        7,
    ));
    let dispatcher = Dispatcher::new(STORE, db.clone(), systems, backoff);
    assert_eq!(dispatcher.lanes(), ["shopify", "netsuite"]);
    let wakers = Arc::new(Wakers::default());
    let health = Arc::new(LoopHealth::new(Default::default()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    StoreRunner::new(
        processor,
        dispatcher,
        Vec::new(),
        Timing {
            // The lanes must be woken, not find the rows at an idle look.
            dispatch_idle: Duration::from_secs(3600),
            ..Timing::default()
        },
        wakers.clone(),
    )
    .with_health(health.clone())
    .spawn(&mut tasks, stop);

    // Each lane is a loop of its own, as the health report shows.
    let names: Vec<String> = health.report().into_iter().map(|r| r.name).collect();
    assert!(
        names.contains(&"dispatch shopify".to_owned())
            && names.contains(&"dispatch netsuite".to_owned()),
        "{names:?}"
    );

    // An ERP write goes out and hangs.
    enqueue(&db, vec![variant_row("netsuite", "E-1")]).await;
    wakers.outbox.wake();
    eventually("the ERP call starts", || async {
        erp_started.load(Ordering::SeqCst) == 1
    })
    .await;

    // The shop's writes queued while it hangs go out, one round after another.
    for n in 1..=3 {
        enqueue(&db, vec![variant_row("shopify", &format!("S-{n}"))]).await;
        wakers.outbox.wake();
        eventually(
            "the shop's write is done while the ERP call hangs",
            || async { done(&db, "shopify").await == n },
        )
        .await;
    }
    assert_eq!(shop_sent.load(Ordering::SeqCst), 3);
    assert_eq!(
        done(&db, "netsuite").await,
        0,
        "the ERP call was let through"
    );

    // A second ERP write waits for the first (its lane is busy), then both complete.
    enqueue(&db, vec![variant_row("netsuite", "E-2")]).await;
    wakers.outbox.wake();
    gate.add_permits(2);
    eventually("both ERP writes are done", || async {
        done(&db, "netsuite").await == 2
    })
    .await;
    assert_eq!(erp_started.load(Ordering::SeqCst), 2);

    stop_tx.send(true).unwrap();
    while tasks.join_next().await.is_some() {}
}
