//! `bench_http_intake`: the figures behind `weft bench intake` measured through the real
//! webhook intake over loopback HTTP (signature check, normalize, group-committed journal
//! append, then the 200), next to the raw rate of one fsync'd transaction per request on the
//! same disk. Figures, not assertions.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use weft_store::{GroupCommitConfig, JournalWriter, NewJournalEntry, Source, Store};

use weft_platform::signature::sign;
use weft_server::{IntakeStore, Metrics, ServerState, WebhookSecret};
use weft_shopify::Shopify;

/// What went wrong in the intake benchmark.
#[derive(Debug, thiserror::Error)]
pub enum IntakeBenchError {
    /// A file or socket operation of the intake benchmark failed.
    #[error("i/o error in intake benchmark: {what}")]
    BenchIo {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store failed during the intake benchmark.
    #[error("store error in intake benchmark while {what}")]
    BenchStore {
        /// What was being done.
        what: &'static str,
        /// The store's error.
        #[source]
        source: weft_store::StoreError,
    },
    /// A benchmark request failed or was refused.
    #[error("intake benchmark request failed: {0}")]
    BenchRequest(String),
    /// The benchmark options are out of range.
    #[error("invalid intake benchmark options: {0}")]
    BenchOptions(String),
}

const STORE: &str = "bench";
const SECRET: &[u8] = b"bench-webhook-secret";
/// Most sequential one-transaction appends of the baseline (it also stops after 10 s).
const RAW_MAX: usize = 2000;

/// What to run.
#[derive(Debug, Clone)]
pub struct IntakeHttpBenchOptions {
    /// Signed webhook requests to send.
    pub requests: usize,
    /// Concurrent HTTP clients (each its own connection).
    pub concurrency: usize,
    /// Directory for the scratch SQLite files (the disk being measured); the system temp dir
    /// when `None`. The files are removed afterwards.
    pub dir: Option<PathBuf>,
    /// Group-commit tuning of the journal writer.
    pub group_commit: GroupCommitConfig,
}

impl Default for IntakeHttpBenchOptions {
    fn default() -> Self {
        IntakeHttpBenchOptions {
            requests: 5000,
            concurrency: 64,
            dir: None,
            group_commit: GroupCommitConfig::default(),
        }
    }
}

/// Results of [`bench_http_intake`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntakeHttpBench {
    /// Webhook requests sent.
    pub requests: u64,
    /// Concurrent HTTP clients.
    pub concurrency: usize,
    /// Wall time of the HTTP phase, seconds.
    pub seconds: f64,
    /// Webhooks acknowledged (200) per second, each durable before its answer.
    pub webhooks_per_sec: f64,
    /// Median time from sending a request to receiving its 200, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile of that time, milliseconds.
    pub p99_ms: f64,
    /// Journal entries the store holds afterwards (must equal `requests`).
    pub journaled: i64,
    /// Transactions the group committer used.
    pub batches: u64,
    /// Mean entries per transaction.
    pub mean_batch: f64,
    /// Sequential one-transaction appends of the baseline.
    pub raw_appends: u64,
    /// Baseline appends per second: one fsync'd transaction per request on the same disk.
    pub raw_appends_per_sec: f64,
    /// Median latency of one baseline append, milliseconds.
    pub raw_p50_ms: f64,
    /// `webhooks_per_sec / raw_appends_per_sec`.
    pub speedup: f64,
    /// Size of each webhook body, bytes.
    pub body_bytes: usize,
    /// SQLite durability setting.
    pub synchronous: &'static str,
}

/// A realistic `products/update` body as Shopify sends it (numeric ids, three variants).
fn webhook_body(i: usize) -> Vec<u8> {
    let id = 8_079_745_990_000_000_000_u64 + i as u64;
    let variants: Vec<_> = (0..3u64)
        .map(|v| {
            json!({
                "admin_graphql_api_id": format!("gid://shopify/ProductVariant/{}", id / 10 + v),
                "id": id / 10 + v, "product_id": id, "title": format!("Size {v}"),
                "sku": format!("WEB-{i}-{v}"), "price": "29.90", "compare_at_price": null,
                "barcode": format!("0123456{i:05}{v}"), "inventory_item_id": id / 100 + v,
                "inventory_quantity": 4, "position": v + 1, "taxable": true,
                "created_at": "2026-11-20T09:00:00-05:00", "updated_at": "2026-11-26T05:00:00-05:00"
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "admin_graphql_api_id": format!("gid://shopify/Product/{id}"),
        "id": id, "title": format!("Merino crew sweater {i}"),
        "body_html": "<p>Soft merino wool, ribbed cuffs, machine washable at 30 degrees.</p>",
        "vendor": "Northwind Knits", "product_type": "Sweaters", "handle": format!("merino-crew-{i}"),
        "created_at": "2026-11-20T09:00:00-05:00", "updated_at": "2026-11-26T05:00:00-05:00",
        "published_at": "2026-11-20T09:00:00-05:00", "status": "active",
        "tags": "merino, knitwear, winter", "variants": variants, "options": [], "images": []
    }))
    .expect("a JSON value serializes")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn store_err(what: &'static str) -> impl FnOnce(weft_store::StoreError) -> IntakeBenchError {
    move |source| IntakeBenchError::BenchStore { what, source }
}

/// Runs the real intake router on `127.0.0.1:0` over a scratch SQLite file, sends
/// `opts.requests` correctly signed `products/update` webhooks from `opts.concurrency`
/// concurrent clients, and measures acknowledged webhooks per second and p50/p99
/// acknowledgement latency; then, on the same disk, up to 2000 sequential one-transaction
/// appends (stopping after 10 s) as the one-fsync-per-request baseline. Any non-200 answer is
/// an error. Needs a tokio runtime (multi-threaded for realistic figures).
pub async fn bench_http_intake(
    opts: IntakeHttpBenchOptions,
) -> Result<IntakeHttpBench, IntakeBenchError> {
    if opts.requests == 0 || opts.concurrency == 0 {
        return Err(IntakeBenchError::BenchOptions(
            "requests and concurrency must be at least 1".into(),
        ));
    }
    let dir = opts.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir).map_err(|source| IntakeBenchError::BenchIo {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    let tmp = tempfile::Builder::new()
        .prefix("weft-http-intake-bench-")
        .tempdir_in(&dir)
        .map_err(|source| IntakeBenchError::BenchIo {
            what: format!("creating a scratch directory in {}", dir.display()),
            source,
        })?;

    // HTTP phase.
    let store = Store::open(&tmp.path().join("intake.sqlite").to_string_lossy())
        .await
        .map_err(store_err("opening the scratch database"))?;
    let writer = JournalWriter::spawn(store.clone(), opts.group_commit);
    let state = ServerState::new(
        store.clone(),
        writer.clone(),
        vec![IntakeStore::new(STORE).with_system(
            "shopify",
            Arc::new(Shopify),
            vec![WebhookSecret::new(SECRET)],
            Some("bench.myshopify.com".into()),
        )],
        Arc::new(|_: &str| {}),
        Arc::new(Metrics::new()),
    );
    let listener =
        TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| IntakeBenchError::BenchIo {
                what: "binding 127.0.0.1:0".into(),
                source,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|source| IntakeBenchError::BenchIo {
            what: "reading the listener address".into(),
            source,
        })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(weft_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/webhooks/shopify/{STORE}");

    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..opts.requests)
            .map(|i| {
                let b = webhook_body(i);
                let sig = sign(SECRET, &b);
                (b, sig)
            })
            .collect(),
    );
    let body_bytes = bodies[0].0.len();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(opts.concurrency);
    for _ in 0..opts.concurrency {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| IntakeBenchError::BenchRequest(format!("building an HTTP client: {e}")))?;
        let (next, bodies, url) = (Arc::clone(&next), Arc::clone(&bodies), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, sig)) = bodies.get(i) else {
                    return Ok::<_, IntakeBenchError>(lat);
                };
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-shopify-topic", "products/update")
                    .header("x-shopify-hmac-sha256", sig)
                    .header("x-shopify-webhook-id", format!("bench-delivery-{i}"))
                    .header("x-shopify-shop-domain", "bench.myshopify.com")
                    .header("x-shopify-api-version", "2025-01")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| IntakeBenchError::BenchRequest(e.to_string()))?;
                let status = resp.status();
                let _ = resp.bytes().await;
                if status != reqwest::StatusCode::OK {
                    return Err(IntakeBenchError::BenchRequest(format!(
                        "request {i} answered {status}"
                    )));
                }
                lat.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(opts.requests);
    let mut failure = None;
    for t in tasks {
        match t.await {
            Ok(Ok(lat)) => latencies.extend(lat),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => {
                failure = Some(IntakeBenchError::BenchRequest(format!(
                    "client task failed: {e}"
                )))
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    if let Some(e) = failure {
        store.close().await;
        return Err(e);
    }
    let stats = writer.stats();
    drop(writer);
    let journaled = store
        .status(STORE)
        .await
        .map_err(store_err("counting journal entries"))?
        .lag;
    store.close().await;
    latencies.sort();

    // Baseline: one transaction (one fsync) per request, sequential, same disk.
    let raw = Store::open(&tmp.path().join("raw.sqlite").to_string_lossy())
        .await
        .map_err(store_err("opening the baseline database"))?;
    let mut raw_lat = Vec::new();
    let raw_started = Instant::now();
    for i in 0..opts.requests.min(RAW_MAX) {
        let body = serde_json::from_slice(&bodies[i].0).expect("bench bodies are JSON");
        let entry = NewJournalEntry {
            store_id: STORE.into(),
            system: "shopify".into(),
            kind: "product".into(),
            entity_id: (8_079_745_990_000_000_000_u64 + i as u64).to_string(),
            version: "2026-11-26T10:00:00Z".into(),
            source: Source::Webhook,
            delivery_id: Some(format!("bench-delivery-{i}")),
            body,
            received_at: Utc::now(),
        };
        let t = Instant::now();
        raw.append(entry)
            .await
            .map_err(store_err("appending a baseline entry"))?;
        raw_lat.push(t.elapsed());
        if raw_started.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    let raw_seconds = raw_started.elapsed().as_secs_f64();
    raw.close().await;
    raw_lat.sort();

    let webhooks_per_sec = latencies.len() as f64 / seconds;
    let raw_appends_per_sec = raw_lat.len() as f64 / raw_seconds;
    Ok(IntakeHttpBench {
        requests: opts.requests as u64,
        concurrency: opts.concurrency,
        seconds,
        webhooks_per_sec,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        journaled,
        batches: stats.batches,
        mean_batch: stats.entries as f64 / stats.batches.max(1) as f64,
        raw_appends: raw_lat.len() as u64,
        raw_appends_per_sec,
        raw_p50_ms: percentile(&raw_lat, 0.50),
        speedup: webhooks_per_sec / raw_appends_per_sec,
        body_bytes,
        synchronous: "FULL",
    })
}
