//! Whether each store's loops are alive: every loop (processing, dispatch, each change source)
//! beats at each turn and says when it starts and ends a round; [`LoopHealth::report`] says
//! which loop has stopped (ended, panicked, aborted), stalled (no turn in
//! [`HealthPolicy::stall_rounds`] of its intervals, at least [`HealthPolicy::min_stall`]) or is
//! stuck in one round longer than [`HealthPolicy::max_round`]. `/healthz` answers from it.
//!
//! A round that failed (a platform down, a database error) still counts as a turn: the loop is
//! alive and will try again; the failure is reported with it (and a system that is down is the
//! breaker's to report), so an outage elsewhere never makes the host look broken.
//!
//! Times are tokio's [`Instant`]s, so tests run on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// When a loop counts as unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// A loop without a turn in this many of its intervals has stalled.
    pub stall_rounds: u32,
    /// ... but never sooner than this (a processing loop's interval is a quarter second).
    pub min_stall: Duration,
    /// A round running longer than this is stuck.
    pub max_round: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            stall_rounds: 5,
            min_stall: Duration::from_secs(30),
            max_round: Duration::from_secs(15 * 60),
        }
    }
}

impl HealthPolicy {
    /// How long a loop of `interval` may go without a turn.
    pub fn stall_after(&self, interval: Duration) -> Duration {
        (interval * self.stall_rounds).max(self.min_stall)
    }
}

#[derive(Debug)]
struct State {
    last_turn: Instant,
    busy_since: Option<Instant>,
    stopped: Option<String>,
    rounds: u64,
    last_round: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

#[derive(Debug)]
struct Entry {
    store: String,
    name: String,
    interval: Duration,
    state: Mutex<State>,
}

/// Every loop of the host, registered by the store runners.
#[derive(Debug, Default)]
pub struct LoopHealth {
    policy: HealthPolicy,
    loops: Mutex<Vec<Arc<Entry>>>,
}

/// Where one loop stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopReport {
    /// The store.
    pub store: String,
    /// `process`, `dispatch`, or `poll <source>`.
    pub name: String,
    /// False when it stopped, stalled or is stuck.
    pub healthy: bool,
    /// What is wrong, or what it does (`idle, last round 3 s ago`).
    pub detail: String,
    /// Rounds completed.
    pub rounds: u64,
    /// When the last round ended.
    pub last_round: Option<DateTime<Utc>>,
    /// The last round's error, if it failed.
    pub last_error: Option<String>,
}

impl LoopHealth {
    /// A registry judging loops by `policy`.
    pub fn new(policy: HealthPolicy) -> Self {
        LoopHealth {
            policy,
            loops: Mutex::new(Vec::new()),
        }
    }

    /// The policy loops are judged by.
    pub fn policy(&self) -> HealthPolicy {
        self.policy
    }

    /// Registers a loop of `store` that turns at least every `interval` while idle. The
    /// returned [`Beat`] marks it stopped when dropped (the loop ended, panicked or its task
    /// was aborted) unless [`Beat::shut_down`] was called first.
    pub fn register(&self, store: &str, name: &str, interval: Duration) -> Beat {
        let entry = Arc::new(Entry {
            store: store.to_owned(),
            name: name.to_owned(),
            interval,
            state: Mutex::new(State {
                last_turn: Instant::now(),
                busy_since: None,
                stopped: None,
                rounds: 0,
                last_round: None,
                last_error: None,
            }),
        });
        let mut loops = lock(&self.loops);
        // A store restarted with the same loop replaces the old entry.
        loops.retain(|e| !(e.store == store && e.name == name));
        loops.push(entry.clone());
        Beat {
            entry,
            shut_down: false,
        }
    }

    /// Forgets every loop of `store`: its loops were stopped because this host no longer serves
    /// it (handed to another host), which is not a failure of this host.
    pub fn forget(&self, store: &str) {
        lock(&self.loops).retain(|e| e.store != store);
    }

    /// Every loop's state now, by store and name.
    pub fn report(&self) -> Vec<LoopReport> {
        let now = Instant::now();
        let mut out: Vec<LoopReport> = lock(&self.loops)
            .iter()
            .map(|e| {
                let s = lock(&e.state);
                let stall = self.policy.stall_after(e.interval);
                let (healthy, detail) = if let Some(why) = &s.stopped {
                    (false, format!("stopped: {why}"))
                } else if let Some(since) = s.busy_since {
                    let d = now.saturating_duration_since(since);
                    if d > self.policy.max_round {
                        (
                            false,
                            format!(
                                "stuck: one round running for {} s (limit {} s)",
                                d.as_secs(),
                                self.policy.max_round.as_secs()
                            ),
                        )
                    } else {
                        (true, format!("in a round for {} s", d.as_secs()))
                    }
                } else {
                    let d = now.saturating_duration_since(s.last_turn);
                    if d > stall {
                        (
                            false,
                            format!(
                                "stalled: no turn for {} s (limit {} s: {} intervals of {} ms)",
                                d.as_secs(),
                                stall.as_secs(),
                                self.policy.stall_rounds,
                                e.interval.as_millis()
                            ),
                        )
                    } else {
                        (true, format!("idle, last turn {} s ago", d.as_secs()))
                    }
                };
                LoopReport {
                    store: e.store.clone(),
                    name: e.name.clone(),
                    healthy,
                    detail,
                    rounds: s.rounds,
                    last_round: s.last_round,
                    last_error: s.last_error.clone(),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.store, &a.name).cmp(&(&b.store, &b.name)));
        out
    }
}

/// One loop's handle on its health entry.
#[derive(Debug)]
pub struct Beat {
    entry: Arc<Entry>,
    shut_down: bool,
}

impl Beat {
    /// The loop turned (woke, looked for work).
    pub fn turn(&self) {
        lock(&self.entry.state).last_turn = Instant::now();
    }

    /// A round starts.
    pub fn round_started(&self) {
        let mut s = lock(&self.entry.state);
        s.busy_since = Some(Instant::now());
    }

    /// A round ended, with its error if it failed.
    pub fn round_ended(&self, error: Option<String>) {
        let mut s = lock(&self.entry.state);
        s.busy_since = None;
        s.last_turn = Instant::now();
        s.rounds += 1;
        s.last_round = Some(Utc::now());
        s.last_error = error;
    }

    /// The loop ends because the host shuts down: not a failure.
    pub fn shut_down(mut self) {
        self.shut_down = true;
        lock(&self.entry.state).stopped = Some("the host is shutting down".into());
    }
}

impl Drop for Beat {
    fn drop(&mut self) {
        if self.shut_down {
            return;
        }
        let why = if std::thread::panicking() {
            "the loop panicked"
        } else {
            "the loop ended (its task was aborted or returned)"
        };
        lock(&self.entry.state).stopped = Some(why.into());
    }
}

/// A poisoned lock (a panic while holding it) still holds consistent figures here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_dropped_loop_is_stopped_at_once_and_a_silent_one_stalls_after_its_limit() {
        let h = LoopHealth::new(HealthPolicy::default());
        let process = h.register("s1", "process", Duration::from_millis(250));
        let poll = h.register("s1", "poll netsuite", Duration::from_secs(60));
        assert!(h.report().iter().all(|r| r.healthy));
        drop(process);
        let r = h.report();
        let p = r.iter().find(|r| r.name == "process").unwrap();
        assert!(!p.healthy);
        assert!(p.detail.contains("stopped"), "{}", p.detail);
        // The poller: 5 intervals of 60 s.
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(
            h.report()
                .iter()
                .find(|r| r.name == "poll netsuite")
                .unwrap()
                .healthy
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        let r = h.report();
        let p = r.iter().find(|r| r.name == "poll netsuite").unwrap();
        assert!(!p.healthy && p.detail.contains("stalled"), "{}", p.detail);
        poll.turn();
        assert!(
            h.report()
                .iter()
                .find(|r| r.name == "poll netsuite")
                .unwrap()
                .healthy
        );
        // A round may run long, up to the limit.
        poll.round_started();
        tokio::time::advance(Duration::from_secs(14 * 60)).await;
        assert!(
            h.report()
                .iter()
                .find(|r| r.name == "poll netsuite")
                .unwrap()
                .healthy
        );
        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        let r = h.report();
        let p = r.iter().find(|r| r.name == "poll netsuite").unwrap();
        assert!(!p.healthy && p.detail.contains("stuck"), "{}", p.detail);
        poll.round_ended(Some("HTTP 503".into()));
        let r = h.report();
        let p = r.iter().find(|r| r.name == "poll netsuite").unwrap();
        assert!(p.healthy, "a failed round is still a turn");
        assert_eq!(p.last_error.as_deref(), Some("HTTP 503"));
        poll.shut_down();
        assert!(h.report().iter().all(|r| !r.healthy));
    }
}
