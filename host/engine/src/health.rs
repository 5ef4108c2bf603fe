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
    stopped_at: Option<DateTime<Utc>>,
    shut_down: bool,
    rounds: u64,
    last_round: Option<DateTime<Utc>>,
    last_error: Option<String>,
    /// How far the running round has got, in its own words ([`Beat::progress`]).
    progress: Option<String>,
    /// The health its row was last written with ([`HealthRecorder`]), and when.
    recorded: Option<((bool, &'static str), Instant)>,
}

#[derive(Debug)]
struct Entry {
    store: String,
    name: String,
    interval: Duration,
    /// Whether a round longer than [`HealthPolicy::max_round`] is stuck (not for a backfill,
    /// whose one round reads a whole catalog and is bounded by its platform's own limits).
    bounded_rounds: bool,
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
    /// `running`, `stopped`, `stalled`, `stuck`, or `shut down` (the host stops).
    pub state: &'static str,
    /// What is wrong, or what it does (`idle, last round 3 s ago`).
    pub detail: String,
    /// Rounds completed.
    pub rounds: u64,
    /// When the last round ended.
    pub last_round: Option<DateTime<Utc>>,
    /// The last round's error, if it failed.
    pub last_error: Option<String>,
    /// How often it turns at least while idle.
    pub interval: Duration,
    /// How long it may go without a turn ([`HealthPolicy::stall_after`]).
    pub deadline: Duration,
    /// Since when it has been unhealthy: when it stopped, or when its limit ran out.
    pub unhealthy_since: Option<DateTime<Utc>>,
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
        self.register_entry(store, name, interval, true)
    }

    /// Like [`LoopHealth::register`], for a loop whose rounds may run for hours (a backfill):
    /// a long round is reported (`in a round for ...`), never judged stuck. The loop must
    /// still turn every `interval`, in a round or not, or it has stalled.
    pub fn register_long_rounds(&self, store: &str, name: &str, interval: Duration) -> Beat {
        self.register_entry(store, name, interval, false)
    }

    fn register_entry(
        &self,
        store: &str,
        name: &str,
        interval: Duration,
        bounded_rounds: bool,
    ) -> Beat {
        let entry = Arc::new(Entry {
            store: store.to_owned(),
            name: name.to_owned(),
            interval,
            bounded_rounds,
            state: Mutex::new(State {
                last_turn: Instant::now(),
                busy_since: None,
                stopped: None,
                stopped_at: None,
                shut_down: false,
                rounds: 0,
                last_round: None,
                last_error: None,
                progress: None,
                recorded: None,
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
        let (now, wall) = (Instant::now(), Utc::now());
        let mut out: Vec<LoopReport> = lock(&self.loops)
            .iter()
            .map(|e| self.report_of(e, &lock(&e.state), now, wall))
            .collect();
        out.sort_by(|a, b| (&a.store, &a.name).cmp(&(&b.store, &b.name)));
        out
    }

    /// The loops whose row is due ([`HealthRecorder`]): those never recorded or whose health
    /// (healthy, state) changed since, then those recorded at least `refresh` ago, oldest
    /// first, at most `max_stale` of them. Judging a loop costs no allocation; only the due
    /// ones are reported, so thousands of idle loops cost little each beat.
    pub fn due(&self, refresh: Duration, max_stale: usize) -> Vec<DueLoop> {
        let (now, wall) = (Instant::now(), Utc::now());
        let loops = lock(&self.loops);
        let mut changed = Vec::new();
        let mut stale = Vec::new();
        for e in loops.iter() {
            let s = lock(&e.state);
            let verdict = self.judge(e, &s, now).verdict();
            match s.recorded {
                Some((v, at)) if v == verdict => {
                    if now.saturating_duration_since(at) >= refresh {
                        stale.push((at, e));
                    }
                }
                _ => changed.push(DueLoop {
                    entry: (*e).clone(),
                    report: self.report_of(e, &s, now, wall),
                }),
            }
        }
        if stale.len() > max_stale {
            stale.select_nth_unstable_by_key(max_stale, |(at, _)| *at);
            stale.truncate(max_stale);
        }
        stale.sort_by_key(|(at, _)| *at);
        changed.extend(stale.into_iter().map(|(_, e)| DueLoop {
            entry: e.clone(),
            report: self.report_of(e, &lock(&e.state), now, wall),
        }));
        changed
    }

    /// Where the loop of `s` stands at `now`.
    fn judge(&self, e: &Entry, s: &State, now: Instant) -> Judged {
        if s.stopped.is_some() {
            Judged::Stopped {
                shut_down: s.shut_down,
            }
        } else if let Some(since) = s.busy_since {
            if e.bounded_rounds && now.saturating_duration_since(since) > self.policy.max_round {
                Judged::Stuck(since)
            } else if !e.bounded_rounds
                && now.saturating_duration_since(s.last_turn) > self.policy.stall_after(e.interval)
            {
                // A long round's loop turns while the round runs; one that does not has hung.
                Judged::Stalled
            } else {
                Judged::Busy(since)
            }
        } else if now.saturating_duration_since(s.last_turn) > self.policy.stall_after(e.interval) {
            Judged::Stalled
        } else {
            Judged::Idle
        }
    }

    fn report_of(&self, e: &Entry, s: &State, now: Instant, wall: DateTime<Utc>) -> LoopReport {
        // The wall-clock time of an instant of tokio's clock.
        let at = |i: Instant| {
            wall - chrono::TimeDelta::from_std(now.saturating_duration_since(i))
                .unwrap_or(chrono::TimeDelta::zero())
        };
        let stall = self.policy.stall_after(e.interval);
        let judged = self.judge(e, s, now);
        let (healthy, state) = judged.verdict();
        let (detail, unhealthy_since) = match judged {
            Judged::Stopped { .. } => (
                format!("stopped: {}", s.stopped.as_deref().unwrap_or_default()),
                s.stopped_at,
            ),
            Judged::Stuck(since) => (
                format!(
                    "stuck: one round running for {} s (limit {} s)",
                    now.saturating_duration_since(since).as_secs(),
                    self.policy.max_round.as_secs()
                ),
                Some(at(since + self.policy.max_round)),
            ),
            Judged::Busy(since) => (
                match &s.progress {
                    Some(p) => format!(
                        "in a round for {} s: {p}",
                        now.saturating_duration_since(since).as_secs()
                    ),
                    None => format!(
                        "in a round for {} s",
                        now.saturating_duration_since(since).as_secs()
                    ),
                },
                None,
            ),
            Judged::Stalled => (
                format!(
                    "stalled: no turn for {} s (limit {} s: {} intervals of {} ms)",
                    now.saturating_duration_since(s.last_turn).as_secs(),
                    stall.as_secs(),
                    self.policy.stall_rounds,
                    e.interval.as_millis()
                ),
                Some(at(s.last_turn + stall)),
            ),
            Judged::Idle => (
                format!(
                    "idle, last turn {} s ago",
                    now.saturating_duration_since(s.last_turn).as_secs()
                ),
                None,
            ),
        };
        LoopReport {
            store: e.store.clone(),
            name: e.name.clone(),
            healthy,
            state,
            detail,
            rounds: s.rounds,
            last_round: s.last_round,
            last_error: s.last_error.clone(),
            interval: e.interval,
            deadline: stall,
            unhealthy_since,
        }
    }
}

/// How a loop stands, before any text is made of it.
#[derive(Clone, Copy)]
enum Judged {
    Stopped { shut_down: bool },
    Stuck(Instant),
    Busy(Instant),
    Stalled,
    Idle,
}

impl Judged {
    /// Healthy, and the state's name.
    fn verdict(self) -> (bool, &'static str) {
        match self {
            Judged::Stopped { shut_down: true } => (false, "shut down"),
            Judged::Stopped { shut_down: false } => (false, "stopped"),
            Judged::Stuck(_) => (false, "stuck"),
            Judged::Stalled => (false, "stalled"),
            Judged::Busy(_) | Judged::Idle => (true, "running"),
        }
    }
}

/// A loop whose row is due, from [`LoopHealth::due`].
pub struct DueLoop {
    entry: Arc<Entry>,
    /// Where it stands.
    pub report: LoopReport,
}

impl DueLoop {
    /// Its row was written as `report` says, at `at`: not due again until it changes or its
    /// row is `refresh` old.
    pub fn recorded(&self, at: Instant) {
        let verdict = (self.report.healthy, self.report.state);
        lock(&self.entry.state).recorded = Some((verdict, at));
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

    /// How far the running round has got (a backfill's `products: 61000 objects written`),
    /// shown after how long it has run until the round ends.
    pub fn progress(&self, progress: Option<String>) {
        lock(&self.entry.state).progress = progress;
    }

    /// A round ended, with its error if it failed.
    pub fn round_ended(&self, error: Option<String>) {
        let mut s = lock(&self.entry.state);
        s.busy_since = None;
        s.progress = None;
        s.last_turn = Instant::now();
        s.rounds += 1;
        s.last_round = Some(Utc::now());
        s.last_error = error;
    }

    /// The loop ends because the host shuts down: not a failure.
    pub fn shut_down(mut self) {
        self.shut_down = true;
        let mut s = lock(&self.entry.state);
        s.stopped = Some("the host is shutting down".into());
        s.shut_down = true;
        s.stopped_at = Some(Utc::now());
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
        let mut s = lock(&self.entry.state);
        s.stopped = Some(why.into());
        s.stopped_at = Some(Utc::now());
    }
}

/// How often a loop's row is written while its state stays the same (so `weft status` shows
/// its rounds and last round at most this old).
pub const RECORD_REFRESH: Duration = Duration::from_secs(60);

/// Rows per transaction when many loops are written at once.
const RECORD_CHUNK: usize = 500;

/// Unchanged loops' rows refreshed per beat at most: a host of a few hundred loops refreshes
/// each every [`RECORD_REFRESH`], one of 40,000 (10,000 stores) each every half hour or so
/// instead of rewriting 250 rows a second for ever. A loop whose health changes is written at
/// the next beat whatever its turn.
const REFRESH_PER_BEAT: usize = 50;

/// Writes the loops' health to the database for `weft status` (another process): the host's
/// beat every `beat_every`, each loop's row when its state (healthy, stopped, stalled, stuck)
/// changes, and otherwise once [`RECORD_REFRESH`] old, oldest first, at most
/// [`REFRESH_PER_BEAT`] a beat. A host of thousands of idle loops writes its beat plus at most
/// that many refreshed rows a beat; changed rows go in transactions of at most 500.
pub struct HealthRecorder {
    health: Arc<LoopHealth>,
    db: weft_store::Store,
    beat: weft_store::HostBeat,
    first: bool,
}

impl HealthRecorder {
    /// A recorder for this process's host, beating every `beat_every`.
    pub fn new(health: Arc<LoopHealth>, db: weft_store::Store, beat_every: Duration) -> Self {
        HealthRecorder {
            health,
            db,
            beat: weft_store::HostBeat::starting(std::process::id(), Utc::now(), beat_every),
            first: true,
        }
    }

    /// This host's beat as last written.
    pub fn host(&self) -> &weft_store::HostBeat {
        &self.beat
    }

    /// One beat: the host's row and the loops' rows that are due.
    pub async fn record(&mut self) -> Result<(), weft_store::StoreError> {
        let now = Instant::now();
        let wall = Utc::now();
        self.beat.beat_at = wall;
        if self.first {
            // Every process start adds a host row: forget those long gone.
            self.db
                .forget_old_hosts(wall - chrono::TimeDelta::days(7))
                .await?;
        }
        // Loops never written or whose state changed are written now; the others are
        // refreshed once RECORD_REFRESH old, the oldest first, at most REFRESH_PER_BEAT a beat
        // (so a host of thousands of loops spreads its refreshes thinly instead of rewriting
        // rows all the time).
        let due_loops = self.health.due(RECORD_REFRESH, REFRESH_PER_BEAT);
        let due: Vec<weft_store::LoopHealthRecord> = due_loops
            .iter()
            .map(|d| {
                let r = &d.report;
                weft_store::LoopHealthRecord {
                    store_id: r.store.clone(),
                    name: r.name.clone(),
                    host: self.beat.host.clone(),
                    healthy: r.healthy,
                    state: r.state.to_owned(),
                    detail: r.detail.clone(),
                    rounds: i64::try_from(r.rounds).unwrap_or(i64::MAX),
                    last_round: r.last_round,
                    last_error: r.last_error.clone(),
                    interval: r.interval,
                    deadline: r.deadline,
                    unhealthy_since: r.unhealthy_since,
                    updated_at: wall,
                }
            })
            .collect();
        if due.is_empty() {
            self.db.record_loop_health(&self.beat, &[]).await?;
        }
        for (chunk, loops) in due.chunks(RECORD_CHUNK).zip(due_loops.chunks(RECORD_CHUNK)) {
            self.db.record_loop_health(&self.beat, chunk).await?;
            for d in loops {
                d.recorded(now);
            }
        }
        self.first = false;
        Ok(())
    }

    /// Beats until `stop` turns true, then records the host as stopped (with its loops as
    /// they ended). A failed write is logged and tried again at the next beat.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.record().await {
                tracing::warn!(error = %e, "cannot record the store loops' health");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.beat.beat_every) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        self.stopped().await;
    }

    /// Records that the host stopped cleanly.
    pub async fn stopped(&mut self) {
        self.beat.stopped_at = Some(Utc::now());
        if let Err(e) = self.record().await {
            tracing::warn!(error = %e, "cannot record that the host stopped");
        }
    }
}

/// A poisoned lock (a panic while holding it) still holds consistent figures here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the recorder writes each beat: every loop once, then only loops whose health
    /// changed, plus unchanged ones whose row is old, oldest first and a few a beat.
    #[tokio::test(start_paused = true)]
    async fn due_loops_are_the_changed_ones_and_the_oldest_few_unchanged() {
        let refresh = Duration::from_secs(60);
        let h = LoopHealth::new(HealthPolicy::default());
        let names = |d: &[DueLoop]| {
            d.iter()
                .map(|d| format!("{}/{}", d.report.store, d.report.name))
                .collect::<Vec<_>>()
        };
        let record = |d: &[DueLoop]| d.iter().for_each(|d| d.recorded(Instant::now()));
        let mut beats: Vec<Beat> = (0..5)
            .map(|i| h.register(&format!("s{i}"), "process", Duration::from_secs(1)))
            .collect();
        let first = h.due(refresh, 2);
        assert_eq!(first.len(), 5, "never written: all due");
        // Recorded one by one, a second apart: s0 oldest.
        for d in &first {
            d.recorded(Instant::now());
            tokio::time::advance(Duration::from_secs(1)).await;
            beats.iter().for_each(Beat::turn);
        }
        assert!(h.due(refresh, 2).is_empty(), "nothing changed, nothing old");
        // s3 stops: due at once, the others not.
        drop(beats.remove(3));
        let d = h.due(refresh, 2);
        assert_eq!(names(&d), ["s3/process"]);
        assert_eq!(d[0].report.state, "stopped");
        record(&d);
        assert!(
            h.due(refresh, 2).is_empty(),
            "a stopped loop is written once"
        );
        // A minute on (no turns: the others stall, a change): all four due.
        tokio::time::advance(Duration::from_secs(61)).await;
        let d = h.due(refresh, 2);
        assert_eq!(d.len(), 4 + 1, "four stalled, and s3's row is old");
        record(&d);
        // Unchanged and old: at most two a beat, oldest first.
        tokio::time::advance(Duration::from_secs(61)).await;
        let d = h.due(refresh, 2);
        assert_eq!(d.len(), 2);
        record(&d);
        assert_eq!(h.due(refresh, 2).len(), 2);
    }

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

    #[tokio::test(start_paused = true)]
    async fn a_backfill_reads_for_hours_while_it_turns_and_stalls_when_it_does_not() {
        let h = LoopHealth::new(HealthPolicy::default());
        let backfill = h.register_long_rounds("s1", "backfill shopify", Duration::from_secs(60));
        let report = || {
            h.report()
                .into_iter()
                .find(|r| r.name == "backfill shopify")
                .unwrap()
        };
        backfill.round_started();
        // Two hours in one round, turning every minute: running, not stuck.
        for _ in 0..120 {
            tokio::time::advance(Duration::from_secs(60)).await;
            backfill.turn();
        }
        let r = report();
        assert!(r.healthy, "{}", r.detail);
        assert_eq!(r.detail, "in a round for 7200 s");
        // It says how far it has got, until the round ends.
        backfill.progress(Some("products: 61000 objects written".into()));
        assert_eq!(
            report().detail,
            "in a round for 7200 s: products: 61000 objects written"
        );
        // It stops turning mid-round (its task hung): stalled after five intervals.
        tokio::time::advance(Duration::from_secs(301)).await;
        let r = report();
        assert!(!r.healthy && r.state == "stalled", "{}", r.detail);
        backfill.round_ended(None);
        assert!(report().healthy);
        assert_eq!(report().rounds, 1);
        backfill.round_started();
        assert_eq!(
            report().detail,
            "in a round for 0 s",
            "progress is per round"
        );
        backfill.round_ended(None);
        // Its task dies: stopped.
        drop(backfill);
        assert_eq!(report().state, "stopped");
    }
}
