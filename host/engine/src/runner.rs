//! Runs one store: its processing loop, its dispatcher and its pollers, each a task that
//! survives errors (logged, then retried after a pause) so one failing plugin, database hiccup
//! or platform outage never stops the store, and never touches another store's tasks.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::dispatch::Dispatcher;
use crate::error::EngineError;
use crate::sync::Processor;

/// What one poll round found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    /// Documents read from the platform.
    pub read: u64,
    /// Documents newly journaled (changes the webhooks had not delivered).
    pub journaled: u64,
}

/// A source that is polled on a schedule (Shopify reconciliation, NetSuite change capture).
pub trait Poller: Send + Sync {
    /// A short name for logs (`shopify-reconcile`, `netsuite-cdc`).
    fn name(&self) -> &str;
    /// One round: read what changed since the watermark, journal it, advance the watermark.
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, EngineError>>;
    /// A full resync: one round that reads every entity from no watermark, journaled like any
    /// round (the journal recognises what it already holds, so only real differences lead to
    /// writes). The watermark never moves backwards.
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, EngineError>>;
}

/// How often the loops wake up when idle.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Idle wait of the processing loop between journal checks (it also wakes on notify).
    pub process_idle: Duration,
    /// Idle wait of the dispatcher between outbox checks (it also wakes on notify).
    pub dispatch_idle: Duration,
    /// Interval between poll rounds.
    pub poll_interval: Duration,
    /// Pause after an error before the loop tries again.
    pub error_pause: Duration,
    /// Journal entries per processing step.
    pub step_size: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            process_idle: Duration::from_millis(250),
            dispatch_idle: Duration::from_millis(250),
            poll_interval: Duration::from_secs(60),
            error_pause: Duration::from_secs(1),
            step_size: 256,
        }
    }
}

/// Wakes a store's loops (the intake calls [`Wakers::journal`] after an insert).
#[derive(Debug, Default)]
pub struct Wakers {
    /// Wakes the processing loop.
    pub journal: Notify,
    /// Wakes the dispatcher.
    pub outbox: Notify,
    /// Wakes the pollers for an immediate round.
    pub poll: Notify,
    /// Poll rounds completed (successfully or not) by all of the store's pollers together.
    pub poll_rounds: std::sync::atomic::AtomicU64,
}

/// One store's running tasks.
pub struct StoreRunner {
    processor: Processor,
    dispatcher: Dispatcher,
    pollers: Vec<Arc<dyn Poller>>,
    timing: Timing,
    wakers: Arc<Wakers>,
}

impl StoreRunner {
    /// A runner for one store, woken through `wakers` (make them first, so other parts, such
    /// as the dispatcher's re-read after a stale write, can wake the store too).
    pub fn new(
        processor: Processor,
        dispatcher: Dispatcher,
        pollers: Vec<Arc<dyn Poller>>,
        timing: Timing,
        wakers: Arc<Wakers>,
    ) -> Self {
        StoreRunner {
            processor,
            dispatcher,
            pollers,
            timing,
            wakers,
        }
    }

    /// The store's wakers, for the intake and for tests.
    pub fn wakers(&self) -> Arc<Wakers> {
        self.wakers.clone()
    }

    /// Spawns the store's loops into `set`; they stop when `shutdown` turns true.
    pub fn spawn(self, set: &mut JoinSet<()>, shutdown: watch::Receiver<bool>) {
        let store = self.processor.store_id().to_owned();
        let t = self.timing;
        {
            let p = self.processor.clone();
            let w = self.wakers.clone();
            let mut stop = shutdown.clone();
            let store = store.clone();
            set.spawn(async move {
                loop {
                    if *stop.borrow() {
                        break;
                    }
                    match p.step(t.step_size).await {
                        Ok(r) if r.entries > 0 => {
                            if r.writes > 0 {
                                w.outbox.notify_one();
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            warn!(%store, error = %e, "processing step failed; retrying");
                            pause(t.error_pause, &mut stop).await;
                            continue;
                        }
                    }
                    tokio::select! {
                        _ = w.journal.notified() => {}
                        _ = tokio::time::sleep(t.process_idle) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        }
        {
            let d = self.dispatcher.clone();
            let w = self.wakers.clone();
            let mut stop = shutdown.clone();
            let store = store.clone();
            set.spawn(async move {
                loop {
                    if *stop.borrow() {
                        break;
                    }
                    match d.run_once().await {
                        Ok(r) if r.claimed > 0 => continue,
                        Ok(_) => {}
                        Err(e) => {
                            warn!(%store, error = %e, "dispatch round failed; retrying");
                            pause(t.error_pause, &mut stop).await;
                            continue;
                        }
                    }
                    tokio::select! {
                        _ = w.outbox.notified() => {}
                        _ = tokio::time::sleep(t.dispatch_idle) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        }
        for poller in self.pollers {
            let w = self.wakers.clone();
            let mut stop = shutdown.clone();
            let store = store.clone();
            set.spawn(async move {
                loop {
                    if *stop.borrow() {
                        break;
                    }
                    match poller.poll().await {
                        Ok(r) => {
                            if r.journaled > 0 {
                                info!(%store, poller = poller.name(), read = r.read, journaled = r.journaled, "poll journaled missed changes");
                                w.journal.notify_one();
                            }
                        }
                        Err(e) => warn!(%store, poller = poller.name(), error = %e, "poll failed; will retry"),
                    }
                    w.poll_rounds
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::select! {
                        _ = w.poll.notified() => {}
                        _ = tokio::time::sleep(t.poll_interval) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        }
    }
}

async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}
