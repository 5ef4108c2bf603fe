//! `bench_intake`: the figures behind `weft bench intake`. Durable appends per second through
//! the group committer with many concurrent appenders, their p50/p99 latency, next to the raw
//! rate of one fsync'd transaction per append on the same disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::{NewJournalEntry, Source};
use crate::writer::{GroupCommitConfig, JournalWriter};

/// Results of [`bench_intake`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntakeBench {
    /// Appends through the group committer.
    pub appends: u64,
    /// Concurrent appenders.
    pub concurrency: usize,
    /// Wall time of the group-commit phase, seconds.
    pub seconds: f64,
    /// Durable appends per second through the group committer.
    pub appends_per_sec: f64,
    /// Median latency from append call to durable answer, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile of that latency, milliseconds.
    pub p99_ms: f64,
    /// Transactions the group committer used.
    pub batches: u64,
    /// Mean entries per transaction.
    pub mean_batch: f64,
    /// Appends of the baseline: one transaction (one fsync) per append, sequential.
    pub raw_appends: u64,
    /// Appends per second of the baseline.
    pub raw_appends_per_sec: f64,
    /// Median latency of one baseline append, milliseconds.
    pub raw_p50_ms: f64,
    /// `appends_per_sec / raw_appends_per_sec`.
    pub speedup: f64,
    /// Body size of each journaled document, bytes.
    pub body_bytes: usize,
    /// SQLite durability setting the figures were taken with.
    pub synchronous: &'static str,
}

/// A realistic product webhook body (one product, three variants), about 1.3 KB.
fn body(i: usize) -> serde_json::Value {
    let id = 7_000_000_000_000_u64 + i as u64;
    let variants: Vec<_> = (0..3)
        .map(|v| {
            json!({
                "id": (id * 10 + v).to_string(), "product_id": id.to_string(),
                "title": format!("Size {v}"), "sku": format!("WEB-{i}-{v}"),
                "price": "29.90", "compare_at_price": null, "barcode": format!("0123456{i:05}{v}"),
                "inventory_item_id": (id * 100 + v).to_string(),
                "updated_at": "2026-11-26T10:00:00Z"
            })
        })
        .collect();
    json!({
        "id": id.to_string(), "title": format!("Merino crew sweater {i}"),
        "body_html": "<p>Soft merino wool, ribbed cuffs, machine washable at 30 degrees.</p>",
        "vendor": "Northwind Knits", "product_type": "Sweaters", "handle": format!("merino-crew-{i}"),
        "status": "active", "tags": "merino, knitwear, winter", "updated_at": "2026-11-26T10:00:00Z",
        "variants": variants
    })
}

fn entry(i: usize) -> NewJournalEntry {
    NewJournalEntry {
        store_id: "bench".into(),
        system: "storefront".into(),
        kind: "product".into(),
        entity_id: (7_000_000_000_000_u64 + i as u64).to_string(),
        version: "2026-11-26T10:00:00Z".into(),
        source: Source::Webhook,
        delivery_id: Some(format!("bench-delivery-{i}")),
        body: body(i),
        received_at: Utc::now(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Cleanup(Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            for suffix in ["", "-wal", "-shm"] {
                let mut s = p.as_os_str().to_owned();
                s.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(s));
            }
        }
    }
}

/// Runs the intake benchmark in directory `dir` (two scratch SQLite files are created there
/// and removed afterwards): `n` appends from `concurrency` concurrent appenders through a
/// [`JournalWriter`] with the default [`GroupCommitConfig`], then up to `min(n, 2000)`
/// sequential one-transaction appends (stopping after 10 s) as the one-fsync-per-request
/// baseline on the same disk. Must run inside a multi-threaded tokio runtime.
pub async fn bench_intake(dir: &Path, n: usize, concurrency: usize) -> Result<IntakeBench> {
    if n == 0 || concurrency == 0 {
        return Err(StoreError::InvalidArgument {
            op: "bench intake",
            reason: "n and concurrency must be at least 1".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let group_path = dir.join(format!("weft-intake-bench-{tag}-group.sqlite"));
    let raw_path = dir.join(format!("weft-intake-bench-{tag}-raw.sqlite"));
    let _cleanup = Cleanup(vec![group_path.clone(), raw_path.clone()]);

    // Group commit.
    let store = Store::open(&group_path.to_string_lossy()).await?;
    let writer = JournalWriter::spawn(store.clone(), GroupCommitConfig::default());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let writer = writer.clone();
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, StoreError>(lat);
                }
                let e = entry(i);
                let t = Instant::now();
                writer.append(e).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        let lat = t.await.map_err(|e| StoreError::InvalidArgument {
            op: "bench intake",
            reason: format!("appender task failed: {e}"),
        })??;
        latencies.extend(lat);
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = writer.stats();
    drop(writer);
    store.close().await;
    latencies.sort();

    // Baseline: one transaction per append.
    let raw = Store::open(&raw_path.to_string_lossy()).await?;
    let raw_target = n.min(2000);
    let mut raw_lat = Vec::with_capacity(raw_target);
    let raw_started = Instant::now();
    for i in 0..raw_target {
        let e = entry(i);
        let t = Instant::now();
        raw.append(e).await?;
        raw_lat.push(t.elapsed());
        if raw_started.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    let raw_seconds = raw_started.elapsed().as_secs_f64();
    raw.close().await;
    raw_lat.sort();

    let appends_per_sec = n as f64 / seconds;
    let raw_appends_per_sec = raw_lat.len() as f64 / raw_seconds;
    Ok(IntakeBench {
        appends: n as u64,
        concurrency,
        seconds,
        appends_per_sec,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        batches: stats.batches,
        mean_batch: stats.entries as f64 / stats.batches.max(1) as f64,
        raw_appends: raw_lat.len() as u64,
        raw_appends_per_sec,
        raw_p50_ms: percentile(&raw_lat, 0.50),
        speedup: appends_per_sec / raw_appends_per_sec,
        body_bytes: body(0).to_string().len(),
        synchronous: "FULL",
    })
}
