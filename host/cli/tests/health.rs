//! `/healthz` tells the truth about the store loops: a real store runner (processing, dispatch
//! and a change source) served by the real server answers 200 while its loops turn; when the
//! change source's loop dies (its poller panics) `/healthz` and `/readyz` answer 503 at the next
//! request, naming the store and the loop. (A loop that stalls without dying is judged after
//! its limit: `weft_engine::health`'s tests run that on tokio's paused clock.)
//!
//! `weft status` runs in another process: the host's [`HealthRecorder`] writes the loops'
//! health to the database, and `weft status` names the stopped loop within one beat; once the
//! host stops beating (it died: the recorder is aborted, no clean stop), `weft status` says no
//! host runs after [`STALE_BEATS`] beats.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::json;
use weft_engine::{
    Dispatcher, HealthPolicy, HealthRecorder, LoopHealth, PollReport, Poller, Processor,
    StoreRunner, System, Systems, Timing, Wakers,
};
use weft_platform::SourceError;
use weft_ratelimit::{Backoff, BackoffConfig};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_server::{LoopStatus, Metrics, ServerState};
use weft_store::{GroupCommitConfig, JournalWriter, STALE_BEATS, Store};

/// The recorder's beat in this test (the host's is `weft::app::HEALTH_BEAT`, 2 s).
const BEAT: Duration = Duration::from_millis(100);

/// `weft status` on the test's database, human and JSON.
fn weft_status(db: &std::path::Path) -> (String, serde_json::Value) {
    let run = |json: bool| {
        let mut args = vec![
            "status",
            "--store",
            STORE,
            "--database",
            db.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let human = run(false);
    let json = serde_json::from_str(run(true).trim()).unwrap();
    (human, json)
}

const STORE: &str = "acme";

/// A change source whose round never ends until told to crash, then panics (a bug).
struct Crashing {
    crash: Arc<AtomicBool>,
}

impl Poller for Crashing {
    fn name(&self) -> &str {
        "crashing"
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        let crash = self.crash.clone();
        Box::pin(async move {
            while !crash.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("a bug in the change source");
        })
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        self.poll()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_loop_makes_healthz_unhealthy_naming_store_and_loop() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("weft.db");
    let db = Store::open(&format!("sqlite://{}?mode=rwc", db_path.display()))
        .await
        .unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let systems = Systems::new(vec![
        System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: None,
        },
        System {
            name: "netsuite".into(),
            platform: Arc::new(weft_netsuite::NetSuite),
            connection: None,
        },
    ]);
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: json!({"weft:systems": {"shopify": "shopify", "netsuite": "netsuite"}})
            .as_object()
            .cloned()
            .unwrap(),
        limits: Limits::default(),
    };
    let mapper = runtime
        .mapper(
            &runtime
                .load(
                    "shopify-netsuite",
                    weft_plugin_artifacts::stock("shopify-netsuite").unwrap(),
                )
                .unwrap(),
            ctx,
        )
        .unwrap();
    let processor = Processor::new(STORE, db.clone(), systems.clone(), mapper, Vec::new());
    let backoff = Arc::new(Backoff::from_entropy(BackoffConfig {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(1),
        max_retries: 3,
    }));
    let dispatcher = Dispatcher::new(STORE, db.clone(), systems, backoff);
    let crash = Arc::new(AtomicBool::new(false));
    let loops = Arc::new(LoopHealth::new(HealthPolicy::default()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    StoreRunner::new(
        processor,
        dispatcher,
        vec![Arc::new(Crashing {
            crash: crash.clone(),
        })],
        Timing::default(),
        Arc::new(Wakers::default()),
    )
    .with_health(loops.clone())
    .spawn(&mut tasks, stop);
    let recorder =
        tokio::spawn(HealthRecorder::new(loops.clone(), db.clone(), BEAT).run(stop_tx.subscribe()));

    let writer = JournalWriter::spawn(db.clone(), GroupCommitConfig::default());
    let state = ServerState::new(
        db.clone(),
        writer,
        Vec::new(),
        Arc::new(|_: &str| {}),
        Arc::new(Metrics::new()),
    );
    let source = loops.clone();
    state.set_loops(Arc::new(move || {
        source
            .report()
            .into_iter()
            .map(|r| LoopStatus {
                store: r.store,
                name: r.name,
                healthy: r.healthy,
                detail: r.detail,
                last_round: r.last_round,
                last_error: r.last_error,
            })
            .collect()
    }));
    state.readiness().mark_ready();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(weft_server::serve(listener, state, async move {
        let _ = server_stopped.await;
    }));
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // Every loop turns: processing, dispatch (a lane per system), and the change source
    // inside its round.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("4 store loops"), "{body}");
    assert_eq!(get("/readyz").await.0, 200);

    // The change source's loop dies.
    crash.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let died = loop {
        let (status, body) = get("/healthz").await;
        if status == 503 {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still healthy: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "healthz unhealthy {:?} after the loop died",
        started.elapsed()
    );
    assert!(
        died.contains("store acme, loop poll crashing: stopped: the loop panicked"),
        "{died}"
    );
    assert!(
        !died.contains("loop process") && !died.contains("loop dispatch"),
        "{died}"
    );
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("loop poll crashing"), "{body}");

    // `weft status`, another process, names the store and the loop, and since when.
    let (human, json) = loop {
        // Two runs, one after the other: both must have seen the loop stop.
        let (human, json) = weft_status(&db_path);
        if json["unhealthy_loops"] == 1 && human.contains("loop poll crashing UNHEALTHY") {
            break (human, json);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "weft status does not say it: {human}"
        );
    };
    eprintln!(
        "weft status names the stopped loop {:?} after it died (beat {BEAT:?})",
        started.elapsed()
    );
    assert!(
        human.contains("loop poll crashing UNHEALTHY since ")
            && human.contains("stopped: the loop panicked"),
        "{human}"
    );
    assert!(
        human.contains("loop process ok")
            && human.contains("loop dispatch shopify ok")
            && human.contains("loop dispatch netsuite ok"),
        "{human}"
    );
    assert!(
        human.contains(&format!("(pid {}) running since", std::process::id())),
        "{human}"
    );
    let crashed = json["loops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "poll crashing")
        .unwrap()
        .clone();
    assert_eq!(crashed["verdict"], "unhealthy", "{json}");
    assert_eq!(crashed["state"], "stopped", "{json}");
    assert_eq!(crashed["store_id"], STORE, "{json}");
    assert!(crashed["unhealthy_since"].is_string(), "{json}");

    // Cheap: a loop whose state stays the same is not rewritten at every beat (only the host's
    // beat is), up to its refresh a minute later.
    let row = |loops: Vec<weft_store::LoopHealthRecord>, name: &str| {
        loops.into_iter().find(|l| l.name == name).unwrap()
    };
    let before = row(db.loop_health(Some(STORE)).await.unwrap(), "process");
    let beat_before = db.host_beats().await.unwrap()[0].beat_at;
    tokio::time::sleep(BEAT * 4).await;
    let after = row(db.loop_health(Some(STORE)).await.unwrap(), "process");
    assert_eq!(
        after.updated_at, before.updated_at,
        "rewritten without a change"
    );
    assert!(db.host_beats().await.unwrap()[0].beat_at > beat_before);

    // The host dies (its recorder ends without a clean stop): after STALE_BEATS beats,
    // `weft status` says no host runs, and every loop with it.
    recorder.abort();
    let _ = recorder.await;
    let died = Instant::now();
    let (human, json) = loop {
        let (human, json) = weft_status(&db_path);
        if human.contains("NO HOST RUNNING")
            && json["loops"].as_array().is_some_and(|l| {
                l.iter()
                    .all(|l| l["verdict"] == "host not running" && l["host_running"] == false)
            })
        {
            break (human, json);
        }
        assert!(
            died.elapsed() < BEAT * STALE_BEATS + Duration::from_secs(5),
            "weft status still sees a host: {human}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        died.elapsed() + BEAT >= BEAT * STALE_BEATS,
        "the host was declared gone before its beats ran out: {:?}",
        died.elapsed()
    );
    assert!(human.contains("stopped beating at"), "{human}");
    assert!(
        human.contains("loop process NOT RUNNING: its host"),
        "{human}"
    );
    assert!(
        json["loops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["verdict"] == "host not running" && l["host_running"] == false),
        "{json}"
    );

    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let _ = server_stop.send(());
    server.await.unwrap().unwrap();
}
