//! Hints: deliveries that name an entity without carrying it, and the fetcher that reads what
//! they name.
//!
//! A platform whose webhooks are thin (BigCommerce's callbacks, NetSuite's push script) journals
//! each delivery as a hint ([`crate::webhook::HINT_KIND`]; acknowledged only once durable, a
//! duplicate deduped by its delivery id) and pushes it on the system's [`HintBus`]. The
//! system's [`HintFetcher`] (one of its connection's change sources) wakes, lets a burst
//! gather, reads the hints journaled since its watermark (so a burst of hints for one entity
//! fetches it once, and a hint acknowledged before a crash is still fetched after it), asks the
//! platform's [`HintSource`] to read the named entities, and journals what it read together
//! with its new watermark in one transaction. Hints are a fast path, never the truth: change
//! capture still reads every change.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::json;
use tokio::sync::Notify;
use weft_store::{AppendOutcome, NewJournalEntry, Store, WatermarkUpdate};

use crate::poll::{PollReport, Poller, SourceError};
use crate::webhook::HINT_KIND;

/// Wakes a system's fetcher when its intake journals a hint; shared by the system's platform
/// value (the intake) and its connection (the fetcher).
#[derive(Debug, Default)]
pub struct HintBus {
    notify: Notify,
    received: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl HintBus {
    /// A bus.
    pub fn new() -> Arc<Self> {
        Arc::new(HintBus::default())
    }

    /// A hint arrived: count it and wake the fetcher.
    pub fn push(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.notify.notify_one();
    }

    /// Hints received so far (duplicates included).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// When the last hint arrived.
    pub fn last_received(&self) -> Option<Instant> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the next push.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

/// What a platform reads for the entities its hints name.
pub trait HintSource: Send + Sync {
    /// Reads the entities `hints` name (the hints' entity ids, each once, in arrival order) and
    /// returns the journal entries for what it read (those whose entity is gone: none).
    fn fetch<'a>(
        &'a self,
        hints: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<NewJournalEntry>, SourceError>>;
}

/// Fetches what a system's journaled hints name.
pub struct HintFetcher {
    name: String,
    store_id: String,
    system: String,
    db: Store,
    source: Arc<dyn HintSource>,
    bus: Arc<HintBus>,
    gather: Duration,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    round: tokio::sync::Mutex<()>,
}

/// Hints read from the journal per page.
const HINT_PAGE: u32 = 1000;

impl HintFetcher {
    /// A fetcher of `system`'s hints in `store_id`; `gather` is how long it lets a burst of
    /// hints collect before fetching.
    pub fn new(
        store_id: impl Into<String>,
        system: impl Into<String>,
        db: Store,
        source: Arc<dyn HintSource>,
        bus: Arc<HintBus>,
        gather: Duration,
    ) -> Arc<Self> {
        let system = system.into();
        Arc::new(HintFetcher {
            name: format!("{system}-hints"),
            store_id: store_id.into(),
            system,
            db,
            source,
            bus,
            gather,
            task: Mutex::new(None),
            round: tokio::sync::Mutex::new(()),
        })
    }

    /// The watermark stream of the fetcher (`<system>:hints`).
    pub fn stream(&self) -> String {
        format!("{}:hints", self.system)
    }

    /// Fetches what the hints journaled since the last round name, each entity once, and
    /// journals it together with the new hint watermark (the last hint's sequence number). A
    /// first round (no watermark) takes the hints of the last hour; older changes are change
    /// capture's.
    pub async fn fetch_now(&self) -> Result<PollReport, SourceError> {
        let _one_round_at_a_time = self.round.lock().await;
        let stream = self.stream();
        let mark = self
            .db
            .watermark(&self.store_id, &stream)
            .await?
            .and_then(|v| v["seq"].as_i64());
        let since = mark
            .is_none()
            .then(|| chrono::Utc::now() - chrono::Duration::hours(1));
        let mut after = mark.unwrap_or(0);
        let mut hints: Vec<String> = Vec::new();
        loop {
            let page = self
                .db
                .journal_range(&self.store_id, since, Some(HINT_KIND), after, HINT_PAGE)
                .await?;
            let n = page.len();
            for e in page {
                after = e.seq;
                if e.system == self.system && !hints.contains(&e.entity_id) {
                    hints.push(e.entity_id);
                }
            }
            if n < HINT_PAGE as usize {
                break;
            }
        }
        if Some(after) == mark || (mark.is_none() && after == 0) {
            return Ok(PollReport::default());
        }
        let entries = self.source.fetch(&hints).await?;
        let read = entries.len() as u64;
        let outcomes = self
            .db
            .append_with_watermark(
                entries,
                &self.store_id,
                WatermarkUpdate {
                    stream,
                    value: json!({ "seq": after }),
                },
                chrono::Utc::now(),
            )
            .await?;
        Ok(PollReport {
            read,
            journaled: outcomes
                .iter()
                .filter(|o| matches!(o, AppendOutcome::Inserted(_)))
                .count() as u64,
        })
    }

    /// Starts fetching in the background as hints arrive (once; stops when the fetcher is
    /// dropped).
    pub fn start(self: &Arc<Self>) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let me = Arc::downgrade(self);
        let bus = self.bus.clone();
        *task = Some(tokio::spawn(async move {
            // After a failed round, the next one runs after a pause without waiting for another
            // hint: the hints already journaled must not wait for the next one (the last
            // change of a burst has none) or for the store's scheduled poll.
            let mut retry_after: Option<Duration> = None;
            loop {
                match retry_after {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => bus.notified().await,
                }
                let Some(f) = me.upgrade() else { return };
                // Let a burst gather (and the intake commit the hints it is acknowledging).
                tokio::time::sleep(f.gather).await;
                match f.fetch_now().await {
                    // Woken before the hint was committed: look once more.
                    Ok(r) if r.read == 0 => {
                        retry_after = None;
                        tokio::time::sleep(f.gather).await;
                        let _ = f.fetch_now().await;
                    }
                    Ok(_) => retry_after = None,
                    Err(e) => {
                        let pause = retry_after.map_or(Duration::from_secs(1), |d| {
                            (d * 2).min(Duration::from_secs(30))
                        });
                        tracing::warn!(fetcher = %f.name, error = %e, retry_in_ms = pause.as_millis() as u64, "fetching hinted entities failed; retrying");
                        retry_after = Some(pause);
                    }
                }
            }
        }));
    }
}

impl Drop for HintFetcher {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

impl Poller for HintFetcher {
    /// Its bus wakes it as hints arrive; its scheduled round is a safety net.
    fn reconciles(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.fetch_now())
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.fetch_now())
    }
}
