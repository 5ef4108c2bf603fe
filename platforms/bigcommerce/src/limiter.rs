//! A limiter for a **window quota shared with strangers**: N requests per fixed window,
//! spent by this client and by other apps it cannot see, reported after every answer as what
//! is left and when the window resets (BigCommerce's `X-Rate-Limit-Requests-Left`,
//! `-Requests-Quota`, `-Time-Window-Ms`, `-Time-Reset-Ms`). Nothing in it is specific to
//! BigCommerce but those readings.
//!
//! How it decides (see `budget`):
//!
//! - **What is left** is the last reading, less this client's requests sent since and not
//!   answered yet, less what the other apps are expected to have spent since the reading.
//! - **The other apps' need** is learned: within a window, `quota - left - ours` is what they
//!   spent so far. They are expected to spend as much per window as they were seen to spend in
//!   the previous one, whatever its shape (evenly, or in bursts); what they have not spent of
//!   that yet is reserved for them until the reset, plus a small margin. In the first window, or once they
//!   spend more than before, their rate so far is extrapolated to the reset instead.
//! - **Pacing**: the window's free part (the quota less the margin and the others' expected
//!   need) is spent evenly over the window, with a small burst, so the other apps are never
//!   crowded out of the window's start (which would also hide their rate from this client).
//! - A request is granted while the remaining budget is at least one; else it waits for the
//!   reset (computed from the answer's arrival, so it is never earlier than the server's) and
//!   then probes the new window with one request before spending it.
//! - **Reads and writes share** what is left: when both wait, grants alternate between them;
//!   when one class is idle, the other may take everything.
//! - A 429 (someone spent faster than learned) records an empty window; the caller returns a
//!   throttle error whose wait is the reset.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// One reading of the quota, from an answer's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaReading {
    /// Requests left in the window after this one.
    pub left: u32,
    /// Requests per window.
    pub quota: u32,
    /// The window.
    pub window_ms: u64,
    /// Until the window resets.
    pub reset_ms: u64,
}

/// Which class of request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Reads (change capture, fetching hinted entities).
    Read,
    /// Writes (the dispatcher).
    Write,
}

impl Class {
    fn index(self) -> usize {
        match self {
            Class::Read => 0,
            Class::Write => 1,
        }
    }
}

/// What the limiter has learned, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimiterStats {
    /// Requests granted.
    pub granted: u64,
    /// 429s recorded.
    pub throttled: u64,
    /// What the other apps are expected to spend per window.
    pub others_per_window: f64,
    /// Requests per window, as last read.
    pub quota: u32,
}

#[derive(Debug)]
struct Window {
    /// When it resets (local clock; never earlier than the server's reset).
    reset_at: Instant,
    /// Its length.
    window: Duration,
    /// Requests per window.
    quota: u32,
    /// Last `left` read in it, and when.
    left: u32,
    read_at: Instant,
    /// This client's answered requests charged in it.
    ours: u32,
    /// What the other apps had spent by the last reading (at least; this client's requests
    /// in flight then are not counted as theirs).
    others_so_far: f64,
    /// What they are expected to spend from the last reading to the reset.
    others_rest: f64,
    /// The most they were seen to have spent (this client's requests in flight counted as
    /// theirs), and when (ms into the window).
    others_seen: f64,
    seen_at: f64,
    /// The first reading in the window's second half: (ms into the window, seen by then).
    mid: Option<(f64, f64)>,
}

impl Window {
    fn others_total(&self) -> f64 {
        self.others_so_far + self.others_rest
    }

    /// What the other apps spent in this window, once it is over: what was seen, plus the
    /// unseen tail after the last reading at their rate over the window's second half (zero
    /// for an app that spends in a burst at the start, their even rate for an app that spreads).
    fn others_spent(&self) -> f64 {
        let window_ms = self.window.as_millis() as f64;
        let tail = match self.mid {
            Some((at, seen)) if self.seen_at > at => {
                (self.others_seen - seen).max(0.0) / (self.seen_at - at)
                    * (window_ms - self.seen_at).max(0.0)
            }
            _ => 0.0,
        };
        self.others_seen + tail
    }
}

#[derive(Debug)]
struct State {
    window: Option<Window>,
    /// What the other apps spent in the previous window (expected total).
    prior_total: Option<f64>,
    in_flight: u32,
    /// Requests sent since the last reading (not answered yet).
    since_reading: u32,
    waiting: [u32; 2],
    last_class: usize,
    granted: u64,
    throttled: u64,
}

/// The limiter. Share one per quota (one BigCommerce store).
#[derive(Debug)]
pub struct QuotaLimiter {
    state: Mutex<State>,
    notify: Notify,
    /// Requests never spent, as a fraction of the quota (plus one).
    margin: f64,
    /// The quota and window to assume when answers carry no readings (a proxy stripped the
    /// headers): this client's own requests are counted against it.
    fallback: Mutex<Option<(u32, Duration)>>,
}

/// A granted request; report its answer with [`Permit::record`] or [`Permit::throttled`].
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<QuotaLimiter>,
    settled: bool,
}

const MAX_WAIT: Duration = Duration::from_secs(5);
/// The margin weft keeps unspent besides the other apps' learned need: 1% of the quota, plus
/// one request.
pub const DEFAULT_MARGIN: f64 = 0.01;

/// Two windows' resets closer than this are the same window.
const SAME_WINDOW_MS: u64 = 500;

impl QuotaLimiter {
    /// A limiter keeping `margin` of the quota (e.g. 0.02) unspent besides the other apps'
    /// learned need.
    pub fn new(margin: f64) -> Arc<Self> {
        Arc::new(QuotaLimiter {
            state: Mutex::new(State {
                window: None,
                prior_total: None,
                in_flight: 0,
                since_reading: 0,
                waiting: [0; 2],
                last_class: 0,
                granted: 0,
                throttled: 0,
            }),
            notify: Notify::new(),
            margin,
            fallback: Mutex::new(None),
        })
    }

    /// Sets the quota to assume (e.g. the plan's) when answers carry no rate-limit headers.
    pub fn with_fallback(self: Arc<Self>, quota: u32, window: Duration) -> Arc<Self> {
        *self.fallback.lock() = Some((quota, window));
        self
    }

    /// What it has learned.
    pub fn stats(&self) -> LimiterStats {
        let st = self.state.lock();
        let others = st
            .window
            .as_ref()
            .map(Window::others_total)
            .or(st.prior_total)
            .unwrap_or(0.0);
        LimiterStats {
            granted: st.granted,
            throttled: st.throttled,
            others_per_window: others,
            quota: st.window.as_ref().map_or(0, |w| w.quota),
        }
    }

    /// How many requests may be sent now, or how long to wait for more.
    fn budget(&self, st: &mut State, now: Instant) -> Result<u32, Duration> {
        let Some(w) = st.window.as_mut() else {
            // Nothing known: one request at a time until the first answer.
            return if st.in_flight == 0 {
                Ok(1)
            } else {
                Err(MAX_WAIT)
            };
        };
        if now >= w.reset_at {
            // A new window: probe it with one request before spending it.
            st.prior_total = Some(w.others_spent());
            return if st.in_flight == 0 {
                Ok(1)
            } else {
                Err(MAX_WAIT)
            };
        }
        let remaining = w.reset_at.saturating_duration_since(now).as_millis() as f64;
        let window_ms = w.window.as_millis().max(1) as f64;
        let margin = 1.0 + self.margin * w.quota as f64;
        let left = w.left as f64 - st.since_reading as f64;
        // What is left less what the others will still spend until the reset. (A hundredth of
        // a request of slack: times are whole milliseconds.)
        let budget = left - w.others_rest - margin + 0.01;
        if budget < 1.0 {
            return Err(w.reset_at.saturating_duration_since(now) + Duration::from_millis(1));
        }
        // Pace: spend the window's free part evenly, so the other apps are never crowded out
        // (and their rate can be learned from what they manage to spend).
        let elapsed = (window_ms - remaining).max(0.0);
        let pace = ((w.quota as f64 - margin - w.others_total()) / window_ms).max(0.0);
        let burst = (w.quota as f64 * 0.05).max(2.0);
        let ours = (w.ours + st.since_reading) as f64;
        let allowed = pace * elapsed + burst - ours + 0.01;
        if allowed >= 1.0 {
            Ok(budget.min(allowed) as u32)
        } else if pace > 0.0 {
            let ms = ((1.0 - allowed) / pace).ceil().max(1.0);
            Err(Duration::from_millis(ms as u64)
                .min(w.reset_at.saturating_duration_since(now) + Duration::from_millis(1)))
        } else {
            Err(w.reset_at.saturating_duration_since(now) + Duration::from_millis(1))
        }
    }

    /// Waits until a request of `class` may be sent.
    pub async fn acquire(self: &Arc<Self>, class: Class) -> Permit {
        let me = class.index();
        self.state.lock().waiting[me] += 1;
        loop {
            let notified = self.notify.notified();
            let wait = {
                let mut st = self.state.lock();
                let now = Instant::now();
                let other = 1 - me;
                let my_turn = st.waiting[other] == 0 || st.last_class != me;
                match self.budget(&mut st, now) {
                    Ok(_) if my_turn => {
                        if st.window.as_ref().is_some_and(|w| now >= w.reset_at) {
                            // The probe of a new window: forget the old one.
                            st.window = None;
                        }
                        st.waiting[me] -= 1;
                        st.in_flight += 1;
                        st.since_reading += 1;
                        st.last_class = me;
                        st.granted += 1;
                        drop(st);
                        self.notify.notify_waiters();
                        return Permit {
                            limiter: self.clone(),
                            settled: false,
                        };
                    }
                    Ok(_) => Duration::from_millis(5),
                    Err(w) => w.min(MAX_WAIT),
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn settle(&self, reading: Option<QuotaReading>, throttled: bool, answered: bool) {
        let now = Instant::now();
        let mut st = self.state.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        if throttled {
            st.throttled += 1;
        }
        if reading.is_none()
            && answered
            && let Some((quota, window)) = *self.fallback.lock()
        {
            // No headers: count this client's own requests against the assumed quota.
            let in_flight = st.in_flight;
            match st.window.as_mut() {
                Some(w) if now < w.reset_at => {
                    w.left = w.left.saturating_sub(1);
                    w.ours += 1;
                    w.read_at = now;
                }
                _ => {
                    st.window = Some(Window {
                        reset_at: now + window,
                        window,
                        quota,
                        left: quota.saturating_sub(1),
                        read_at: now,
                        ours: 1,
                        others_so_far: 0.0,
                        others_rest: 0.0,
                        others_seen: 0.0,
                        seen_at: 0.0,
                        mid: None,
                    });
                }
            }
            st.since_reading = in_flight;
            drop(st);
            self.notify.notify_waiters();
            return;
        }
        let Some(r) = reading else {
            st.since_reading = st.since_reading.min(st.in_flight);
            drop(st);
            self.notify.notify_waiters();
            return;
        };
        let reset_at = now + Duration::from_millis(r.reset_ms);
        let same = st.window.as_ref().is_some_and(|w| {
            let (a, b) = (w.reset_at, reset_at);
            let d = if a > b { a - b } else { b - a };
            d.as_millis() as u64 <= SAME_WINDOW_MS.min(r.window_ms / 4)
        });
        let stale = st
            .window
            .as_ref()
            .is_some_and(|w| !same && reset_at < w.reset_at);
        if stale {
            // An answer charged in a window that has ended since.
            st.since_reading = st.since_reading.min(st.in_flight);
            drop(st);
            self.notify.notify_waiters();
            return;
        }
        if !same {
            if let Some(old) = &st.window {
                st.prior_total = Some(old.others_spent());
            }
            st.window = Some(Window {
                reset_at,
                window: Duration::from_millis(r.window_ms),
                quota: r.quota,
                left: r.left,
                read_at: now,
                ours: 0,
                others_so_far: 0.0,
                others_rest: 0.0,
                others_seen: 0.0,
                seen_at: 0.0,
                mid: None,
            });
        }
        let prior = st.prior_total;
        let in_flight = st.in_flight;
        let w = st.window.as_mut().expect("set above");
        if !throttled {
            w.ours += 1;
        }
        // Keep the earliest reset seen for this window (the least-delayed answer's).
        if reset_at < w.reset_at {
            w.reset_at = reset_at;
        }
        w.quota = r.quota;
        w.window = Duration::from_millis(r.window_ms);
        if r.left <= w.left || !same {
            w.left = r.left;
            w.read_at = now;
            // The others' spending so far: what is gone but ours. Requests of ours in flight
            // may be charged already; they are not counted as theirs (the reservation below
            // errs on their side).
            let elapsed = r.window_ms.saturating_sub(r.reset_ms) as f64;
            let remaining = r.reset_ms as f64;
            let gone = r.quota as f64 - r.left as f64 - w.ours as f64;
            let so_far = (gone - in_flight as f64).max(0.0);
            w.others_so_far = so_far;
            if gone >= w.others_seen {
                w.others_seen = gone.max(0.0);
                w.seen_at = elapsed;
            }
            if w.mid.is_none() && elapsed >= r.window_ms as f64 / 2.0 {
                w.mid = Some((elapsed, w.others_seen));
            }
            w.others_rest = match prior {
                // As much as they spent last window, whatever its shape (even or bursts).
                Some(p) if so_far <= p => p - so_far,
                // More than last window already, or no window seen yet: at their rate so far.
                _ if elapsed >= r.window_ms as f64 * 0.1 || (prior.is_some() && elapsed > 0.0) => {
                    gone.max(0.0) / elapsed * remaining
                }
                _ => 0.0,
            };
        }
        st.since_reading = in_flight;
        drop(st);
        self.notify.notify_waiters();
    }
}

impl Permit {
    /// The answer's quota reading (any status but 429).
    pub fn record(mut self, reading: Option<QuotaReading>) {
        self.settled = true;
        self.limiter.settle(reading, false, true);
    }

    /// The answer was a 429.
    pub fn throttled(mut self, reading: Option<QuotaReading>) {
        self.settled = true;
        let r = reading.map(|r| QuotaReading { left: 0, ..r });
        self.limiter.settle(r, true, true);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            // Not answered (transport failure, cancelled): it may or may not have been charged.
            self.limiter.settle(None, false, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(left: u32, reset_ms: u64) -> QuotaReading {
        QuotaReading {
            left,
            quota: 150,
            window_ms: 30_000,
            reset_ms,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_request_probes_until_the_first_answer() {
        let l = QuotaLimiter::new(0.0);
        let p = l.acquire(Class::Read).await;
        let second = tokio::time::timeout(Duration::from_millis(50), l.acquire(Class::Read)).await;
        assert!(second.is_err(), "waits for the probe's answer");
        p.record(Some(reading(149, 30_000)));
        let _b = tokio::time::timeout(Duration::from_millis(50), l.acquire(Class::Read))
            .await
            .expect("granted after the answer");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_reset_when_nothing_is_left() {
        let l = QuotaLimiter::new(0.0);
        l.acquire(Class::Write)
            .await
            .record(Some(reading(1, 10_000)));
        // One left, one request of margin: nothing to spend until the reset.
        let start = Instant::now();
        let p = l.acquire(Class::Write).await;
        assert!(
            start.elapsed() >= Duration::from_millis(10_000),
            "{:?}",
            start.elapsed()
        );
        p.record(Some(reading(149, 30_000)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_other_apps_need_until_the_reset_is_reserved() {
        let l = QuotaLimiter::new(0.0);
        // Half the window gone, 60 of 150 spent by others (we spent 1): 2 per second.
        l.acquire(Class::Read)
            .await
            .record(Some(reading(89, 15_000)));
        let stats = l.stats();
        assert!((stats.others_per_window - 120.0).abs() < 0.01, "{stats:?}");
        // They will spend 60 more; 89 - 60 - 1 (margin) = 28 are ours until the reset, paced:
        // about 14 for the half window's free rate plus a burst of 7.5 at once.
        let start = Instant::now();
        let deadline = start + Duration::from_millis(14_900);
        let mut permits = Vec::new();
        let mut at_once = 0;
        while let Ok(p) = tokio::time::timeout_at(deadline, l.acquire(Class::Read)).await {
            if start.elapsed() < Duration::from_millis(1) {
                at_once += 1;
            }
            permits.push(p);
        }
        assert_eq!(permits.len(), 28, "the others' share is left to them");
        assert_eq!(at_once, 21, "the rest is paced over the window");
    }

    #[tokio::test(start_paused = true)]
    async fn without_headers_the_fallback_quota_counts_our_own_requests() {
        let l = QuotaLimiter::new(0.0).with_fallback(10, Duration::from_secs(30));
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < Duration::from_secs(29) {
            l.acquire(Class::Write).await.record(None);
            n += 1;
        }
        // The probe, then 10 - 1 (margin) in the assumed window: 9 requests in 29 s.
        assert!(n <= 10, "{n} requests in the first assumed window");
        assert!(n >= 8, "{n}");
        // Without a fallback, requests go one at a time (each waits for the previous answer).
        let plain = QuotaLimiter::new(0.0);
        let p = plain.acquire(Class::Read).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(10), plain.acquire(Class::Read))
                .await
                .is_err()
        );
        p.record(None);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_and_writes_alternate_when_both_wait() {
        let l = QuotaLimiter::new(0.0);
        // The probe is out: everyone else waits for its answer.
        let probe = l.acquire(Class::Read).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for class in [
            Class::Read,
            Class::Read,
            Class::Read,
            Class::Write,
            Class::Write,
            Class::Write,
        ] {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = l.acquire(class).await;
                order.lock().push(class);
                p.record(Some(reading(100, 29_000)));
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(order.lock().is_empty());
        probe.record(Some(reading(100, 29_000)));
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().clone();
        assert_eq!(
            order,
            [
                Class::Write,
                Class::Read,
                Class::Write,
                Class::Read,
                Class::Write,
                Class::Read
            ],
            "the class that just went waits its turn"
        );
    }
}
