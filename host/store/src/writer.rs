//! Group commit for the journal: [`JournalWriter`] is a task that owns a channel; appends that
//! arrive while a commit is running (or within the optional `max_wait`) are written in ONE
//! transaction, and each caller is answered only after that transaction committed. So a webhook
//! is acknowledged only when durable, and a burst costs one fsync per batch, not per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, StoreError};
use crate::journal::{Prepared, prepare};
use crate::store::Store;
use crate::types::{AppendOutcome, NewJournalEntry};

/// Tuning of a [`JournalWriter`].
#[derive(Debug, Clone, Copy)]
pub struct GroupCommitConfig {
    /// Most entries in one transaction.
    pub max_batch: usize,
    /// After the first entry of a batch arrives, wait at most this long for more before
    /// committing. The default, zero, commits whatever is queued at once: batches still form
    /// naturally from the appends that arrive while the previous commit is syncing, and a lone
    /// append is not delayed (tokio timers have 1 ms granularity, so any wait costs >= 1 ms).
    pub max_wait: Duration,
    /// Capacity of the request queue; appenders wait when it is full (back-pressure).
    pub queue: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        GroupCommitConfig {
            max_batch: 256,
            max_wait: Duration::ZERO,
            queue: 4096,
        }
    }
}

/// Counters of a [`JournalWriter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GroupCommitStats {
    /// Transactions committed.
    pub batches: u64,
    /// Entries answered (inserted or duplicate).
    pub entries: u64,
    /// Largest batch so far.
    pub largest_batch: u64,
    /// Batches whose transaction failed and were retried entry by entry.
    pub split_batches: u64,
    /// Time spent in transactions (insert and commit, fsync included), microseconds: with the
    /// wall time, how busy the one writer is.
    pub busy_micros: u64,
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    entries: AtomicU64,
    largest: AtomicU64,
    split: AtomicU64,
    busy: AtomicU64,
}

struct Request {
    entry: Prepared,
    reply: oneshot::Sender<Result<AppendOutcome>>,
}

/// Handle to the group-commit task. Clone it freely; the task stops when the last handle is
/// dropped (after answering everything queued).
#[derive(Clone)]
pub struct JournalWriter {
    tx: mpsc::Sender<Request>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for JournalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl JournalWriter {
    /// Spawns the writer task on the current tokio runtime.
    pub fn spawn(store: Store, config: GroupCommitConfig) -> JournalWriter {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(store, rx, config, Arc::clone(&stats)));
        JournalWriter { tx, stats }
    }

    /// Journals `entry` and returns once it is durable (committed), with whether it was new or
    /// a duplicate. Validation errors (bad version, empty ids) come back before anything is
    /// queued.
    pub async fn append(&self, entry: NewJournalEntry) -> Result<AppendOutcome> {
        let entry = prepare(entry)?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { entry, reply })
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        answer.await.map_err(|_| StoreError::WriterClosed)?
    }

    /// Figures so far.
    pub fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.stats.batches.load(Ordering::Relaxed),
            entries: self.stats.entries.load(Ordering::Relaxed),
            largest_batch: self.stats.largest.load(Ordering::Relaxed),
            split_batches: self.stats.split.load(Ordering::Relaxed),
            busy_micros: self.stats.busy.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Request>,
    config: GroupCommitConfig,
    stats: Arc<Stats>,
) {
    let max_batch = config.max_batch.max(1);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + config.max_wait;
        loop {
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if batch.len() >= max_batch || config.max_wait.is_zero() {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        commit(&store, batch, &stats).await;
        stats
            .busy
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
}

async fn commit(store: &Store, batch: Vec<Request>, stats: &Stats) {
    let n = batch.len() as u64;
    let (entries, replies): (Vec<Prepared>, Vec<_>) =
        batch.into_iter().map(|r| (r.entry, r.reply)).unzip();
    match store.append_prepared(&entries).await {
        Ok(outcomes) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.entries.fetch_add(n, Ordering::Relaxed);
            stats.largest.fetch_max(n, Ordering::Relaxed);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A caller that stopped waiting (client hung up) still had its entry journaled.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) if entries.len() == 1 => {
            tracing::warn!(error = %e, "journal append failed");
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            // One bad entry must not fail its neighbours: retry each on its own.
            tracing::warn!(error = %e, batch = n, "group commit failed; retrying entries one by one");
            stats.split.fetch_add(1, Ordering::Relaxed);
            for (entry, reply) in entries.into_iter().zip(replies) {
                let result = store
                    .append_prepared(std::slice::from_ref(&entry))
                    .await
                    .map(|mut v| v.remove(0));
                if result.is_ok() {
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    stats.entries.fetch_add(1, Ordering::Relaxed);
                    stats.largest.fetch_max(1, Ordering::Relaxed);
                }
                let _ = reply.send(result);
            }
        }
    }
}
