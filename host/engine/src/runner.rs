//! Runs one store: its processing loop, its dispatcher and its pollers, each a task that
//! survives errors (logged, then retried after a pause) so one failing plugin, database hiccup
//! or platform outage never stops the store, and never touches another store's tasks.
//!
//! # Schedules
//!
//! A store's [`Schedule`] ([`Timing::schedule`], from the `[schedule]` of its config) drives its
//! pollers: an incremental round every reconciliation interval, a full resync
//! ([`Poller::poll_full`]: every entity read afresh, journaled like any round, so only real
//! differences lead to writes) when the cron fires, and quiet hours. During quiet hours:
//!
//! - **paused**: scheduled poll rounds and full resyncs (deferred to the end of the window,
//!   where the runs it swallowed happen once), and dispatch of every outbox row that is not an
//!   order (inventory, prices, customers, catalog);
//! - **still running**: webhook intake and the processing step (changes are merged and queued,
//!   and repeated changes to one entity coalesce in the outbox to the latest state, so the
//!   window ends with one write per entity), dispatch of orders (Shopify orders still become
//!   ERP sales orders), and poll rounds asked for explicitly through [`Wakers::poll`] (the
//!   re-read after a stale compare-and-set, an operator's "poll now").
//!
//! The runner reads the time of day from a [`Clock`], so tests drive schedules with tokio's
//! paused clock ([`TokioClock`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{Instrument as _, info, warn};
use weft_ratelimit::Schedule;

use crate::dispatch::Dispatcher;
use crate::health::{Beat, LoopHealth};
use crate::sync::Processor;
pub use weft_platform::{PollReport, Poller};

/// How often the loops wake up when idle, and the store's schedule.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Idle wait of the processing loop between journal checks (it also wakes on notify).
    pub process_idle: Duration,
    /// Idle wait of the dispatcher between outbox checks (it also wakes on notify).
    pub dispatch_idle: Duration,
    /// Interval between poll rounds when there is no [`Timing::schedule`].
    pub poll_interval: Duration,
    /// Pause after an error before the loop tries again.
    pub error_pause: Duration,
    /// Journal entries per processing step.
    pub step_size: u32,
    /// The store's schedule (reconciliation interval, full-resync cron, quiet hours; see the
    /// module docs for what quiet hours pause). `None`: a poll round every `poll_interval`, no
    /// full resyncs, no quiet hours.
    pub schedule: Option<Schedule>,
    /// How often the sources that reconcile behind webhooks ([`Poller::reconciles`]) poll,
    /// when not at the schedule's interval (which the change-capture sources keep): `weft
    /// run` sets `[schedule] reconcile_interval` here and `cdc_interval` in the schedule.
    pub reconcile_interval: Option<Duration>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            process_idle: Duration::from_millis(250),
            dispatch_idle: Duration::from_millis(250),
            poll_interval: Duration::from_secs(60),
            error_pause: Duration::from_secs(1),
            step_size: 256,
            schedule: None,
            reconcile_interval: None,
        }
    }
}

/// Wakes a store's loops (the intake calls [`Wakers::journal`] after an insert).
#[derive(Debug, Default)]
pub struct Wakers {
    /// Wakes the processing loop.
    pub journal: Notify,
    /// Wakes the dispatcher (every lane of it).
    pub outbox: OutboxWaker,
    /// Wakes the pollers for an immediate round.
    pub poll: Notify,
    /// Poll rounds completed (successfully or not) by all of the store's pollers together.
    pub poll_rounds: std::sync::atomic::AtomicU64,
    /// Immediate rounds requested so far ([`Wakers::request_poll`]).
    poll_requested: AtomicU64,
    /// The latest immediate round that must be a full read ([`Wakers::request_full`]).
    full_requested: AtomicU64,
    /// Per poller: the latest request number its completed rounds started after.
    poll_served: std::sync::Mutex<Vec<u64>>,
}

/// Wakes every dispatch lane of a store at once (one lane per system: a [`Notify`] would wake
/// one of them). A wake while a lane is in a round is kept: its next wait returns at once.
#[derive(Debug)]
pub struct OutboxWaker(watch::Sender<u64>);

impl Default for OutboxWaker {
    fn default() -> Self {
        OutboxWaker(watch::channel(0).0)
    }
}

impl OutboxWaker {
    /// Wakes every lane (a lane that is not waiting looks again as soon as its round ends).
    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What one lane waits on.
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Wakers {
    /// Asks every poller for an immediate round and returns the request's number: once
    /// [`Wakers::polled_since`] says true for it, every poller has completed a round that
    /// STARTED after this call, so it read the platforms afresh. A request made while a round
    /// is running is not lost: the poller starts another round as soon as it finishes.
    pub fn request_poll(&self) -> u64 {
        let n = self.poll_requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.poll.notify_waiters();
        n
    }

    /// Asks every poller for an immediate *full* read ([`Poller::poll_full`]: every entity read
    /// afresh, so what a platform deleted without telling weft is found as it vanished) and
    /// returns the request's number, as [`Wakers::request_poll`]. A poller whose full reads run
    /// apart ([`Poller::full_read_apart`], a backfill) kicks its backfill instead and answers
    /// the request with an incremental round.
    pub fn request_full(&self) -> u64 {
        let n = self.poll_requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.full_requested.fetch_max(n, Ordering::SeqCst);
        self.poll.notify_waiters();
        n
    }

    /// Whether every poller of the store has completed a round started after request `n`
    /// (true when the store has no pollers).
    pub fn polled_since(&self, n: u64) -> bool {
        self.poll_served
            .lock()
            .map(|v| v.iter().all(|&served| served >= n))
            .unwrap_or(false)
    }

    fn register_poller(&self) -> usize {
        let mut v = self.poll_served.lock().unwrap_or_else(|e| e.into_inner());
        v.push(0);
        v.len() - 1
    }

    fn poll_done(&self, poller: usize, started_after: u64) {
        let mut v = self.poll_served.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = v.get_mut(poller) {
            *s = (*s).max(started_after);
        }
    }
}

/// Where the runner reads the time its schedule is evaluated at.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a chosen instant and advances with tokio's clock: under a paused
/// tokio runtime it moves only when tokio's time does, so schedule tests are exact and instant.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `origin` now.
    pub fn starting_at(origin: DateTime<Utc>) -> Self {
        TokioClock {
            origin,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        TimeDelta::from_std(self.start.elapsed())
            .ok()
            .and_then(|d| self.origin.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The longest a poll loop sleeps before looking at the clock again, so a wall clock that
/// jumps (NTP, a suspended machine) delays a scheduled run by at most this much.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Idle waits of a second or more end on a grid of this step ([`idle_sleep`]).
pub const IDLE_GRAIN: Duration = Duration::from_millis(250);

/// A sleep of `wait` for an idle loop: one of a second or more ends on the next point of a
/// process-wide grid of [`IDLE_GRAIN`] (so up to a grain later), so the timers of thousands of
/// idle loops that fall due within one grain wake the runtime once, not once each: each
/// wake-up of a parked runtime costs thread switches that, at 10,000 stores, weighed more than
/// the loops' own work. Shorter waits (a loop that was just busy) are kept exact.
fn idle_sleep(wait: Duration) -> tokio::time::Sleep {
    use tokio::time::Instant;
    static GRID: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    if wait < Duration::from_secs(1) {
        return tokio::time::sleep(wait);
    }
    let deadline = Instant::now() + wait;
    // Any origin gives a deadline within a grain after `wait`; a shared one lines them up.
    let origin = *GRID.get_or_init(Instant::now);
    let grain = IDLE_GRAIN.as_nanos();
    let past = deadline.saturating_duration_since(origin).as_nanos() % grain;
    let up = if past == 0 { 0 } else { grain - past };
    tokio::time::sleep_until(deadline + Duration::from_nanos(u64::try_from(up).unwrap_or(0)))
}

/// Idle checks of the database per second that a host's stores make together, at most, once
/// it runs enough stores for the loops' own idle intervals to exceed it: see [`idle_cap`].
pub const HOST_IDLE_CHECKS_PER_SEC: f64 = 100.0;

/// The longest an idle processing or dispatch loop waits before looking at the database again
/// when nothing woke it (reached by hosts of 30,000 such loops, 10,000 stores of two systems:
/// below that the host's idle looks stay within [`HOST_IDLE_CHECKS_PER_SEC`]).
pub const MAX_IDLE: Duration = Duration::from_secs(300);

/// The loops of a store of `systems` systems that look at the database when idle: its
/// processing loop and one dispatch lane per system (see [`Dispatcher::lane`]).
pub fn idle_loops(systems: usize) -> usize {
    1 + systems.max(1)
}

/// How long the idle processing and dispatch loops of a host running `loops` of them in all
/// ([`idle_loops`] of each store) may wait between looks at the database when nothing wakes
/// them: `base` (their [`Timing`] interval) while the loops checking every `base` stay within
/// [`HOST_IDLE_CHECKS_PER_SEC`], longer as stores are added, at most [`MAX_IDLE`].
///
/// Work that arrives through the host wakes its loop at once whatever the cap (intake,
/// pollers, the dispatcher's settled writes, a retry's due time); the idle look only finds work
/// written by another process (`weft proposals`, `weft dlq retry` from the command line; the
/// console's actions wake the loop at once), so with 10,000 stores of two systems such work
/// waits up to 300 s, and those stores cost ~100 looks a second instead of 120,000.
pub fn idle_cap(loops: usize, base: Duration) -> Duration {
    let spread = Duration::from_secs_f64(loops as f64 / HOST_IDLE_CHECKS_PER_SEC);
    spread.min(MAX_IDLE).max(base)
}

/// The next idle wait: doubled after each idle round, from `base` up to `cap`, reset by work.
fn next_idle(current: Duration, cap: Duration) -> Duration {
    current.saturating_mul(2).min(cap)
}

/// A wait of `d` spread by ±25% with a cheap per-loop generator, so thousands of stores started
/// together do not look at the database in lockstep.
fn jittered(d: Duration, rng: &mut u64) -> Duration {
    // xorshift64
    let mut x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    let frac = (x >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(0.75 + 0.5 * frac)
}

fn seed_for(store: &str, salt: u64) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    store.hash(&mut h);
    salt.hash(&mut h);
    h.finish() | 1
}

/// One store's running tasks.
pub struct StoreRunner {
    processor: Processor,
    dispatcher: Dispatcher,
    pollers: Vec<Arc<dyn Poller>>,
    timing: Timing,
    wakers: Arc<Wakers>,
    schedule: Schedule,
    clock: Arc<dyn Clock>,
    health: Option<Arc<LoopHealth>>,
    privacy: Option<crate::privacy::PrivacyProcessor>,
    idle_cap: Option<Duration>,
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
        let schedule = match &timing.schedule {
            Some(s) => s.clone(),
            None => Schedule::new(timing.poll_interval.max(Duration::from_millis(1)))
                .expect("a non-zero reconciliation interval is a valid schedule"),
        };
        StoreRunner {
            processor,
            dispatcher,
            pollers,
            timing,
            wakers,
            schedule,
            clock: Arc::new(SystemClock),
            health: None,
            privacy: None,
            idle_cap: None,
        }
    }

    /// Lets the idle processing and dispatch loops wait up to `cap` between looks at the
    /// database when nothing wakes them (doubling from their [`Timing`] interval after each
    /// idle round; see [`idle_cap`]). Without it they look every interval.
    #[must_use]
    pub fn with_idle_cap(mut self, cap: Duration) -> Self {
        self.idle_cap = Some(cap);
        self
    }

    /// Registers the store's loops in `health` (see [`crate::health`]), which `/healthz`
    /// reads.
    pub fn with_health(mut self, health: Arc<LoopHealth>) -> Self {
        self.health = Some(health);
        self
    }

    /// Reads the schedule's time from `clock` (default: [`SystemClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Processes the store's privacy requests in its processing loop, before each step (so a
    /// redaction never races a step; the intake's wake-up after storing a request runs it).
    #[must_use]
    pub fn with_privacy(mut self, privacy: crate::privacy::PrivacyProcessor) -> Self {
        self.privacy = Some(privacy);
        self
    }

    /// The store's wakers, for the intake and for tests.
    pub fn wakers(&self) -> Arc<Wakers> {
        self.wakers.clone()
    }

    /// Spawns the store's loops into `set`; they stop when `shutdown` turns true. A runner
    /// spawned again on the same wakers (a store this host serves again) starts the pollers'
    /// round records afresh.
    pub fn spawn(self, set: &mut JoinSet<()>, shutdown: watch::Receiver<bool>) {
        self.wakers
            .poll_served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let store = self.processor.store_id().to_owned();
        let (step_size, error_pause) = (self.timing.step_size, self.timing.error_pause);
        let (process_idle, dispatch_idle) = (self.timing.process_idle, self.timing.dispatch_idle);
        let process_cap = self.idle_cap.unwrap_or(process_idle).max(process_idle);
        let dispatch_cap = self.idle_cap.unwrap_or(dispatch_idle).max(dispatch_idle);
        let register = |name: &str, interval: Duration| {
            self.health
                .as_ref()
                .map(|h| h.register(&store, name, interval))
        };
        {
            let p = self.processor.clone();
            let privacy = self.privacy.clone();
            let w = self.wakers.clone();
            let mut stop = shutdown.clone();
            let store = store.clone();
            let span_store = store.clone();
            let beat = register("process", process_cap);
            set.spawn(
                async move {
                    let mut idle = process_idle;
                    let mut rng = seed_for(&store, 1);
                    loop {
                        if *stop.borrow() {
                            break;
                        }
                        if let Some(pp) = &privacy
                            && let Err(e) = Box::pin(pp.run_pending()).await
                        {
                            warn!(%store, error = %e, "privacy requests could not be processed; retrying");
                        }
                        if let Some(b) = &beat {
                            b.round_started();
                        }
                        // Boxed: the loop's own future stays small while it sleeps (thousands of stores).
                        let started = std::time::Instant::now();
                        let stepped = Box::pin(p.step(step_size)).await;
                        if let Ok(r) = &stepped
                            && r.entries > 0
                        {
                            tracing::debug!(%store, entries = r.entries, writes = r.writes, cursor = r.cursor, took_ms = started.elapsed().as_millis() as u64, "processing step");
                        }
                        if let Some(b) = &beat {
                            b.round_ended(stepped.as_ref().err().map(ToString::to_string));
                        }
                        match stepped {
                            Ok(r) if r.entries > 0 => {
                                if r.writes > 0 {
                                    w.outbox.wake();
                                }
                                idle = process_idle;
                                continue;
                            }
                            Ok(_) => {}
                            Err(e) => {
                                warn!(%store, error = %e, "processing step failed; retrying");
                                pause(error_pause, &mut stop).await;
                                continue;
                            }
                        }
                        let woken = tokio::select! {
                            _ = w.journal.notified() => true,
                            _ = idle_sleep(jittered(idle, &mut rng)) => false,
                            _ = stop.changed() => false,
                        };
                        idle = if woken { process_idle } else { next_idle(idle, process_cap) };
                    }
                    if let Some(b) = beat {
                        b.shut_down();
                    }
                }
                .instrument(tracing::info_span!("process", store = %span_store)),
            );
        }
        {
            // One lane per system, all in one task (a store's idle cost stays one task): each
            // lane claims and sends only its system's rows, so a slow system holds back its own
            // next writes, not the others'.
            let lanes: Vec<(Dispatcher, Option<Beat>)> = match self.dispatcher.lanes() {
                names if names.len() > 1 => names
                    .iter()
                    .map(|system| {
                        (
                            self.dispatcher.lane(system),
                            register(&format!("dispatch {system}"), dispatch_cap),
                        )
                    })
                    .collect(),
                _ => vec![(self.dispatcher.clone(), register("dispatch", dispatch_cap))],
            };
            let lanes: Vec<_> = lanes
                .into_iter()
                .enumerate()
                .map(|(i, (d, beat))| {
                    dispatch_lane(DispatchLane {
                        d,
                        beat,
                        w: self.wakers.clone(),
                        schedule: self.schedule.clone(),
                        clock: self.clock.clone(),
                        stop: shutdown.clone(),
                        store: store.clone(),
                        idle: (dispatch_idle, dispatch_cap),
                        error_pause,
                        seed: seed_for(&store, 2 + i as u64),
                    })
                })
                .collect();
            set.spawn(
                async move {
                    futures::future::join_all(lanes).await;
                }
                .instrument(tracing::info_span!("dispatch", store = %store)),
            );
        }
        for poller in self.pollers {
            let schedule = poller_schedule(&self.schedule, &self.timing, poller.as_ref());
            let kick = Arc::new(Notify::new());
            set.spawn(
                backfill_loop(
                    poller.clone(),
                    kick.clone(),
                    self.health.clone(),
                    schedule.clone(),
                    self.clock.clone(),
                    self.wakers.clone(),
                    store.clone(),
                    error_pause,
                    shutdown.clone(),
                )
                .instrument(
                    tracing::info_span!("backfill", store = %store, poller = poller.name()),
                ),
            );
            let me = self.wakers.register_poller();
            let span = tracing::info_span!("poll", store = %store, poller = poller.name());
            // A poll loop turns at least every MAX_SLEEP, even in quiet hours.
            let beat = register(
                &format!("poll {}", poller.name()),
                schedule.reconcile_every().min(MAX_SLEEP),
            );
            set.spawn(
                poll_loop(
                    poller,
                    kick,
                    beat,
                    me,
                    schedule.clone(),
                    self.clock.clone(),
                    self.wakers.clone(),
                    store.clone(),
                    shutdown.clone(),
                )
                .instrument(span),
            );
        }
    }
}

/// What one dispatch lane runs with.
struct DispatchLane {
    d: Dispatcher,
    beat: Option<Beat>,
    w: Arc<Wakers>,
    schedule: Schedule,
    clock: Arc<dyn Clock>,
    stop: watch::Receiver<bool>,
    store: String,
    /// The idle wait after a round that found nothing, and how long it may grow.
    idle: (Duration, Duration),
    error_pause: Duration,
    seed: u64,
}

/// One lane of a store's dispatch (see [`Dispatcher::lane`]): a round when a row is due, as
/// soon as it is woken or the last round claimed rows, else an idle wait growing to its cap (or
/// until the next row falls due); orders only in quiet hours.
async fn dispatch_lane(lane: DispatchLane) {
    let DispatchLane {
        d,
        beat,
        w,
        schedule,
        clock,
        mut stop,
        store,
        idle: (dispatch_idle, dispatch_cap),
        error_pause,
        seed,
    } = lane;
    let mut woken = w.outbox.subscribe();
    let mut idle = dispatch_idle;
    let mut rng = seed;
    loop {
        if *stop.borrow() {
            break;
        }
        if let Some(b) = &beat {
            b.turn();
        }
        // A read first (no write lock, no round's state): a lane with nothing due does not
        // claim. A host starting thousands of stores would otherwise queue a claim per lane
        // at the write gate, every one of them holding a round in memory meanwhile.
        let now = Utc::now();
        let due = Box::pin(d.next_due()).await;
        let runnable = match &due {
            Ok(Some(at)) => *at <= now,
            Ok(None) => false,
            // The round says what is wrong with the database.
            Err(_) => true,
        };
        let quiet = schedule.is_quiet(clock.now());
        if runnable {
            if let Some(b) = &beat {
                b.round_started();
            }
            // Boxed: the loop's own future stays small while it sleeps.
            // The dispatcher logs each round that claimed rows (debug).
            let round = if quiet {
                Box::pin(d.run_urgent()).await
            } else {
                Box::pin(d.run_once()).await
            };
            if let Some(b) = &beat {
                b.round_ended(round.as_ref().err().map(ToString::to_string));
            }
            match round {
                Ok(r) if r.claimed > 0 => {
                    // Settled writes may release readings set aside for them.
                    if r.applied + r.stale + r.dead > 0 {
                        w.journal.notify_one();
                    }
                    idle = dispatch_idle;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(%store, system = d.system().unwrap_or("*"), error = %e, "dispatch round failed; retrying");
                    pause(error_pause, &mut stop).await;
                    continue;
                }
            }
        }
        let mut wait = jittered(idle, &mut rng);
        // A row waiting out its retry backoff (or a lease another process let lapse) is due
        // at a known time: wake then, not a whole idle wait later. Not in quiet hours, when
        // due rows that are not orders stay queued.
        if !quiet
            && let Ok(Some(at)) = due
            && let Ok(until) = (at - Utc::now()).to_std()
        {
            wait = wait.min(until.max(dispatch_idle));
        }
        let was_woken = tokio::select! {
            r = woken.changed() => r.is_ok(),
            _ = idle_sleep(wait) => false,
            _ = stop.changed() => false,
        };
        idle = if was_woken {
            dispatch_idle
        } else {
            next_idle(idle, dispatch_cap)
        };
    }
    if let Some(b) = beat {
        b.shut_down();
    }
}

/// The schedule `poller` polls by: the store's, at [`Timing::reconcile_interval`] when the
/// poller reconciles behind webhooks and that interval is set.
fn poller_schedule(schedule: &Schedule, timing: &Timing, poller: &dyn Poller) -> Schedule {
    match timing.reconcile_interval {
        Some(every) if poller.reconciles() => schedule
            .clone()
            .with_reconcile_every(every)
            .unwrap_or_else(|_| schedule.clone()),
        _ => schedule.clone(),
    }
}

/// The end of the quiet window `at` falls in, or `at` when it is not quiet.
fn quiet_until(schedule: &Schedule, at: DateTime<Utc>) -> DateTime<Utc> {
    // `next_reconcile` defers `last + interval` past quiet hours: with `last = at - interval`
    // that is `at`, deferred.
    TimeDelta::from_std(schedule.reconcile_every())
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
        .map_or(at, |last| schedule.next_reconcile(last))
}

/// One poller's loop until `stop`: a round when the schedule says (a full resync when the cron
/// is due, else an incremental round), and a round whenever `wakers.poll` is notified. See the
/// module docs for quiet hours.
#[allow(clippy::too_many_arguments)]
async fn poll_loop(
    poller: Arc<dyn Poller>,
    backfill: Arc<Notify>,
    beat: Option<Beat>,
    me: usize,
    schedule: Schedule,
    clock: Arc<dyn Clock>,
    w: Arc<Wakers>,
    store: String,
    mut stop: watch::Receiver<bool>,
) {
    let start = clock.now();
    // As if a round had just run one interval ago: the first is due now, or when quiet ends.
    let mut last_round = TimeDelta::from_std(schedule.reconcile_every())
        .ok()
        .and_then(|d| start.checked_sub_signed(d))
        .unwrap_or(start);
    let mut next_full = schedule.next_full_resync(start);
    // The latest request (Wakers::request_poll) a round of this poller started after.
    let mut served = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        if let Some(b) = &beat {
            b.turn();
        }
        let now = clock.now();
        let request = w.poll_requested.load(Ordering::SeqCst);
        let woken = request > served;
        let quiet = schedule.is_quiet(now);
        // A full read an operator (or a test) asked for runs even in quiet hours, as any
        // requested round does.
        let asked_full = w.full_requested.load(Ordering::SeqCst) > served;
        let scheduled_full = !quiet && next_full.is_some_and(|t| t <= now);
        let mut full = asked_full || scheduled_full;
        if full && poller.full_read_apart().await {
            // A backfill: its own task runs it while this loop keeps polling.
            info!(%store, poller = poller.name(), "full resync as a backfill");
            backfill.notify_one();
            next_full = schedule.next_full_resync(now);
            full = false;
        }
        let scheduled = !quiet && schedule.next_reconcile(last_round) <= now;
        if full || scheduled || woken {
            if let Some(b) = &beat {
                b.round_started();
            }
            let round = async {
                if full {
                    info!(%store, poller = poller.name(), "full resync");
                    poller.poll_full().await
                } else {
                    poller.poll().await
                }
            };
            // Shutdown cancels a round, as a crash would (a round journals before it moves
            // its watermark, so the next one reads again what this one did not finish): a
            // reconciliation reading a whole catalog back, each page waiting for the
            // platform's budget, would otherwise hold the host's stop for minutes.
            let result = tokio::select! {
                r = round => r,
                _ = stop.changed() => break,
            };
            if let Some(b) = &beat {
                b.round_ended(result.as_ref().err().map(ToString::to_string));
            }
            match &result {
                Ok(r) => {
                    if r.journaled > 0 {
                        info!(%store, poller = poller.name(), full, read = r.read, journaled = r.journaled, "poll journaled missed changes");
                        w.journal.notify_one();
                    }
                }
                Err(e) => {
                    warn!(%store, poller = poller.name(), full, error = %e, "poll failed; will retry")
                }
            }
            if full && scheduled_full {
                // A failed resync is tried again at the next reconciliation time.
                next_full = match result {
                    Ok(_) => schedule.next_full_resync(now),
                    Err(_) => Some(schedule.next_reconcile(clock.now())),
                };
            }
            last_round = clock.now();
            served = request;
            w.poll_done(me, request);
            w.poll_rounds.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let due = [Some(schedule.next_reconcile(last_round)), next_full]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now)
            .max(quiet_until(&schedule, now));
        let wait = (due - now).to_std().unwrap_or_default().min(MAX_SLEEP);
        // Registered before the check, so a request between the two is not missed.
        let wake = w.poll.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        if w.poll_requested.load(Ordering::SeqCst) > served {
            continue;
        }
        tokio::select! {
            _ = wake => {}
            _ = idle_sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    if let Some(b) = beat {
        b.shut_down();
    }
}

/// A poller's backfills ([`Poller::full_read_apart`]): the one owed at start
/// ([`Poller::backfill_pending`], after quiet hours), then one each time the poll loop's
/// full-resync schedule kicks it; each retried after `error_pause` until it succeeds. The poll
/// loop, the processing step and the webhooks go on meanwhile. With `health`, the loop
/// registers `backfill <poller>` when its first backfill starts (long rounds: a backfill may
/// read for hours; a store that never backfills, such as one synced already, has no such loop
/// and asks its platform nothing to decide it) and from then on turns every [`BACKFILL_TURN`],
/// waiting or reading, so `weft status` shows a backfill under way and how long it has run,
/// and one whose task died as stopped.
#[allow(clippy::too_many_arguments)]
async fn backfill_loop(
    poller: Arc<dyn Poller>,
    kick: Arc<Notify>,
    health: Option<Arc<LoopHealth>>,
    schedule: Schedule,
    clock: Arc<dyn Clock>,
    w: Arc<Wakers>,
    store: String,
    error_pause: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut beat: Option<Beat> = None;
    let mut owed = loop {
        if *stop.borrow() {
            break None;
        }
        match poller.backfill_pending().await {
            Ok(owed) => break Some(owed),
            Err(e) => {
                warn!(%store, poller = poller.name(), error = %e, "could not tell whether a backfill is owed; asking again");
                pause(error_pause, &mut stop).await;
            }
        }
    };
    while let Some(is_owed) = owed {
        if *stop.borrow() {
            break;
        }
        turn(&beat);
        if !is_owed {
            tokio::select! {
                _ = kick.notified() => {}
                _ = backfill_turn(&beat) => continue,
                _ = stop.changed() => continue,
            }
        }
        let now = clock.now();
        if schedule.is_quiet(now) {
            let until = quiet_until(&schedule, now);
            pause(
                (until - now)
                    .to_std()
                    .unwrap_or_default()
                    .min(BACKFILL_TURN),
                &mut stop,
            )
            .await;
            owed = Some(true);
            continue;
        }
        info!(%store, poller = poller.name(), "backfill started");
        if beat.is_none() {
            beat = health.as_ref().map(|h| {
                h.register_long_rounds(
                    &store,
                    &format!("backfill {}", poller.name()),
                    BACKFILL_TURN,
                )
            });
        }
        if let Some(b) = &beat {
            b.round_started();
        }
        // Shutdown cancels a backfill: it is recorded as unfinished and runs again at start.
        let read = poller.poll_full();
        tokio::pin!(read);
        let mut turned = tokio::time::Instant::now();
        let result = loop {
            tokio::select! {
                r = &mut read => break Some(r),
                _ = progress_tick(&beat) => {
                    if let Some(b) = &beat {
                        b.progress(poller.progress());
                        if turned.elapsed() >= BACKFILL_TURN {
                            b.turn();
                            turned = tokio::time::Instant::now();
                        }
                    }
                }
                _ = stop.changed() => break None,
            }
        };
        let Some(result) = result else {
            break;
        };
        if let Some(b) = &beat {
            b.round_ended(result.as_ref().err().map(ToString::to_string));
        }
        match result {
            Ok(r) => {
                info!(%store, poller = poller.name(), read = r.read, journaled = r.journaled, "backfill finished");
                w.journal.notify_one();
                owed = Some(false);
            }
            Err(e) => {
                warn!(%store, poller = poller.name(), error = %e, "backfill failed; will retry");
                pause(error_pause, &mut stop).await;
                owed = Some(true);
            }
        }
    }
    if let Some(b) = beat {
        b.shut_down();
    }
}

/// How often a backfill loop turns, waiting for its next backfill or reading one.
const BACKFILL_TURN: Duration = Duration::from_secs(60);

/// A backfill loop's next turn: after [`BACKFILL_TURN`] once it beats; never before (nothing
/// needs it to turn: it waits for a kick alone).
async fn backfill_turn(beat: &Option<Beat>) {
    if beat.is_some() {
        idle_sleep(BACKFILL_TURN).await
    } else {
        std::future::pending().await
    }
}

/// How often a running backfill's progress ([`Poller::progress`]) is asked for.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The next look at a running backfill's progress (never without a beat to show it on).
async fn progress_tick(beat: &Option<Beat>) {
    if beat.is_some() {
        tokio::time::sleep(PROGRESS_EVERY).await
    } else {
        std::future::pending().await
    }
}

/// The backfill loop turned.
fn turn(beat: &Option<Beat>) {
    if let Some(b) = beat {
        b.turn();
    }
}

async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use futures::future::BoxFuture;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use weft_platform::{ConnectorError, SourceError};

    /// Records each round's kind and the clock's time; fails the first `fail_full` full rounds.
    struct Recorder {
        clock: Arc<dyn Clock>,
        rounds: Mutex<Vec<(&'static str, String)>>,
        fail_full: AtomicU32,
    }

    impl Recorder {
        fn new(clock: Arc<dyn Clock>, fail_full: u32) -> Arc<Self> {
            Arc::new(Recorder {
                clock,
                rounds: Mutex::new(Vec::new()),
                fail_full: AtomicU32::new(fail_full),
            })
        }

        fn record(&self, kind: &'static str) {
            let at = self.clock.now().format("%d %H:%M").to_string();
            self.rounds.lock().unwrap().push((kind, at));
        }

        fn rounds(&self) -> Vec<(&'static str, String)> {
            self.rounds.lock().unwrap().clone()
        }
    }

    impl Poller for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
            self.record("poll");
            Box::pin(async { Ok(PollReport::default()) })
        }
        fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
            self.record("full");
            let failing = self
                .fail_full
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            Box::pin(async move {
                if failing {
                    Err(SourceError::Connector(ConnectorError::Retryable {
                        system: "test",
                        status: Some(503),
                        message: "platform unavailable".into(),
                        retry_after: None,
                    }))
                } else {
                    Ok(PollReport::default())
                }
            })
        }
    }

    fn schedule(every_min: u64, cron: Option<&str>, quiet: Option<&str>) -> Schedule {
        Schedule::parse(Duration::from_secs(every_min * 60), cron, quiet, None).unwrap()
    }

    /// Spawns store `s1`'s poll loop of `poller` (no health beat); returns its task, its
    /// wakers and the sender that stops it.
    fn spawn_poll_loop(
        poller: Arc<dyn Poller>,
        schedule: Schedule,
        clock: Arc<dyn Clock>,
    ) -> (
        tokio::task::JoinHandle<()>,
        Arc<Wakers>,
        watch::Sender<bool>,
    ) {
        let wakers = Arc::new(Wakers::default());
        let (stop_tx, stop) = watch::channel(false);
        let me = wakers.register_poller();
        let task = tokio::spawn(poll_loop(
            poller,
            Arc::new(Notify::new()),
            None,
            me,
            schedule,
            clock,
            wakers.clone(),
            "s1".into(),
            stop,
        ));
        (task, wakers, stop_tx)
    }

    /// Runs a poll loop from 2026-11-26 `start` UTC for `minutes` of paused tokio time (end it
    /// off any scheduled instant: timers due at the same instant fire in no promised order) and
    /// returns its rounds; `wake_after` notifies `Wakers::poll` once, that far in.
    async fn run(
        schedule: Schedule,
        start: (u32, u32),
        minutes: u64,
        fail_full: u32,
        wake_after: Option<Duration>,
    ) -> Vec<(&'static str, String)> {
        let origin = Utc
            .with_ymd_and_hms(2026, 11, 26, start.0, start.1, 0)
            .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(origin));
        let poller = Recorder::new(clock.clone(), fail_full);
        let (task, wakers, stop_tx) = spawn_poll_loop(poller.clone(), schedule, clock);
        let total = Duration::from_secs(minutes * 60);
        if let Some(after) = wake_after {
            tokio::time::sleep(after).await;
            wakers.request_poll();
            tokio::time::sleep(total - after).await;
        } else {
            tokio::time::sleep(total).await;
        }
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(
            wakers.poll_rounds.load(Ordering::SeqCst),
            poller.rounds().len() as u64
        );
        poller.rounds()
    }

    fn rounds(list: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        list.iter().map(|(k, t)| (*k, (*t).to_owned())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn reconciles_on_interval_full_resync_on_cron_nothing_in_quiet_hours() {
        let s = schedule(20, Some("0 0 * * *"), Some("01:00-03:00"));
        let got = run(s, (23, 20), 245, 0, None).await;
        assert_eq!(
            got,
            rounds(&[
                ("poll", "26 23:20"),
                ("poll", "26 23:40"),
                // Midnight: the cron's full resync replaces the incremental round.
                ("full", "27 00:00"),
                ("poll", "27 00:20"),
                ("poll", "27 00:40"),
                // 01:00-03:00 quiet: the rounds it swallowed run once when it ends.
                ("poll", "27 03:00"),
                ("poll", "27 03:20"),
            ])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn full_resync_in_quiet_hours_waits_for_the_window_and_a_failed_one_is_retried() {
        let s = schedule(30, Some("30 1 * * *"), Some("01:00-02:00"));
        let got = run(s, (0, 0), 185, 1, None).await;
        assert_eq!(
            got,
            rounds(&[
                ("poll", "26 00:00"),
                ("poll", "26 00:30"),
                // 01:30 is quiet: the resync runs when the window ends; it fails, so it is tried
                // again at the next reconciliation time, as a full resync.
                ("full", "26 02:00"),
                ("full", "26 02:30"),
                ("poll", "26 03:00"),
            ])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn starting_in_quiet_hours_waits_and_an_explicit_wake_still_polls() {
        let s = schedule(60, None, Some("22:00-06:00"));
        let got = run(s, (23, 0), 480, 0, Some(Duration::from_secs(90 * 60))).await;
        assert_eq!(
            got,
            rounds(&[
                // Woken at 00:30 (a stale write's re-read): a round runs despite quiet hours.
                ("poll", "27 00:30"),
                ("poll", "27 06:00"),
            ])
        );
    }

    /// A source that reconciles behind webhooks polls at the store's reconciliation interval
    /// when one is set; change capture keeps the schedule's (`weft run`: `cdc_interval`), and
    /// so does everything when none is set. The cron and quiet hours are the store's for both.
    #[test]
    fn sources_that_reconcile_poll_at_the_reconciliation_interval() {
        struct Source(bool);
        impl Poller for Source {
            fn name(&self) -> &str {
                "source"
            }
            fn reconciles(&self) -> bool {
                self.0
            }
            fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
                Box::pin(async { Ok(PollReport::default()) })
            }
            fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
                Box::pin(async { Ok(PollReport::default()) })
            }
        }
        let store = schedule(1, Some("0 3 * * *"), Some("01:00-02:00"));
        let timing = Timing {
            reconcile_interval: Some(Duration::from_secs(300)),
            ..Timing::default()
        };
        let reconciler = poller_schedule(&store, &timing, &Source(true));
        assert_eq!(reconciler.reconcile_every(), Duration::from_secs(300));
        assert_eq!(
            reconciler,
            store
                .clone()
                .with_reconcile_every(Duration::from_secs(300))
                .unwrap()
        );
        assert_eq!(poller_schedule(&store, &timing, &Source(false)), store);
        assert_eq!(
            poller_schedule(&store, &Timing::default(), &Source(true)),
            store,
            "no reconciliation interval: the schedule's"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_schedule_the_timing_interval_applies() {
        let s = Schedule::new(Duration::from_secs(15 * 60)).unwrap();
        let got = run(s, (12, 0), 55, 0, None).await;
        assert_eq!(
            got,
            rounds(&[
                ("poll", "26 12:00"),
                ("poll", "26 12:15"),
                ("poll", "26 12:30"),
                ("poll", "26 12:45"),
            ])
        );
    }

    /// A round that waits an hour for a platform's budget (a catalog read back page by page,
    /// each page waiting for the bucket).
    struct Waiting {
        began: AtomicU32,
    }

    impl Poller for Waiting {
        fn name(&self) -> &str {
            "waiting"
        }
        fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
            self.began.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(PollReport::default())
            })
        }
        fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
            self.poll()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_cancels_a_round_under_way() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(
            Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
        ));
        let poller = Arc::new(Waiting {
            began: AtomicU32::new(0),
        });
        let (task, wakers, stop_tx) =
            spawn_poll_loop(poller.clone(), schedule(20, None, None), clock);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(poller.began.load(Ordering::SeqCst), 1);
        let asked = tokio::time::Instant::now();
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(asked.elapsed(), Duration::ZERO);
        // The cancelled round is not counted as one that ran.
        assert_eq!(wakers.poll_rounds.load(Ordering::SeqCst), 0);
    }

    /// A poller whose full reads are backfills, owed at start, each reading for three hours.
    struct Bulk;

    impl Poller for Bulk {
        fn name(&self) -> &str {
            "bulk"
        }
        fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
            Box::pin(async { Ok(PollReport::default()) })
        }
        fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
                Ok(PollReport::default())
            })
        }
        fn full_read_apart(&self) -> BoxFuture<'_, bool> {
            Box::pin(async { true })
        }
        fn backfill_pending(&self) -> BoxFuture<'_, Result<bool, SourceError>> {
            Box::pin(async { Ok(true) })
        }
        fn progress(&self) -> Option<String> {
            Some("products: 5 objects written".into())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backfill_beats_while_it_reads_and_a_poller_without_backfills_has_no_beat() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(
            Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
        ));
        let health = Arc::new(LoopHealth::new(crate::health::HealthPolicy::default()));
        let (stop_tx, stop) = watch::channel(false);
        let spawn = |poller: Arc<dyn Poller>| {
            tokio::spawn(backfill_loop(
                poller,
                Arc::new(Notify::new()),
                Some(health.clone()),
                schedule(20, None, None),
                clock.clone(),
                Arc::new(Wakers::default()),
                "s1".into(),
                Duration::from_secs(1),
                stop.clone(),
            ))
        };
        let bulk = spawn(Arc::new(Bulk));
        let plain = spawn(Recorder::new(clock.clone(), 0));
        tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
        let loops = health.report();
        assert_eq!(
            loops.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["backfill bulk"],
            "a poller whose full reads are not backfills has no backfill loop to watch"
        );
        assert!(loops[0].healthy, "{}", loops[0].detail);
        assert_eq!(
            loops[0].detail,
            "in a round for 7200 s: products: 5 objects written"
        );
        stop_tx.send(true).unwrap();
        bulk.await.unwrap();
        plain.await.unwrap();
        assert_eq!(health.report()[0].state, "shut down");
    }

    #[test]
    fn idle_loops_of_many_stores_share_a_bounded_budget() {
        let base = Duration::from_millis(250);
        // A store of two systems: its processing loop and a dispatch lane per system.
        assert_eq!(idle_loops(2), 3);
        assert_eq!(idle_loops(0), 2);
        // A small host keeps its loops' own interval.
        assert_eq!(idle_cap(idle_loops(2), base), base);
        assert_eq!(idle_cap(8 * idle_loops(2), base), base);
        // 1,000 stores of one system: 2,000 loops at 100 looks a second.
        assert_eq!(
            idle_cap(1_000 * idle_loops(1), base),
            Duration::from_secs(20)
        );
        // 10,000 such stores: 200 s, still within the budget; 10,000 stores of two systems
        // (30,000 loops) or 20,000 of one: capped at five minutes.
        assert_eq!(
            idle_cap(10_000 * idle_loops(1), base),
            Duration::from_secs(200)
        );
        assert_eq!(idle_cap(10_000 * idle_loops(2), base), MAX_IDLE);
        assert_eq!(idle_cap(20_000 * idle_loops(1), base), MAX_IDLE);
        // Doubling from the interval up to the cap.
        let cap = Duration::from_secs(20);
        let mut d = base;
        let mut waits = Vec::new();
        for _ in 0..10 {
            waits.push(d);
            d = next_idle(d, cap);
        }
        assert_eq!(waits[1], Duration::from_millis(500));
        assert_eq!(*waits.last().unwrap(), cap);
        // Jitter stays within ±25% and differs between loops.
        let (mut a, mut b) = (seed_for("s1", 1), seed_for("s2", 1));
        let (ja, jb) = (jittered(cap, &mut a), jittered(cap, &mut b));
        for j in [ja, jb] {
            assert!(j >= cap.mul_f64(0.75) && j <= cap.mul_f64(1.25), "{j:?}");
        }
        assert_ne!(ja, jb);
    }

    #[test]
    fn tokio_clock_starts_at_its_origin() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let origin = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
            let c = TokioClock::starting_at(origin);
            assert_eq!(c.now(), origin);
            tokio::time::advance(Duration::from_secs(90)).await;
            assert_eq!(c.now(), origin + TimeDelta::seconds(90));
        });
    }
}
