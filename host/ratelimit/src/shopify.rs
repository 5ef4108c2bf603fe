//! Shopify limiters: the GraphQL calculated-cost leaky bucket ([`ShopifyCostLimiter`]) and the
//! legacy REST request bucket ([`RestCallLimiter`]).
//!
//! Both keep a local model of the server's bucket, wait before sending until that model says the
//! request can be paid, and re-synchronise the model from every response (`throttleStatus` for
//! GraphQL, `X-Shopify-Shop-Api-Call-Limit` for REST). Plan sizes and restore rates are learned
//! from responses, never configured; until the first response arrives only one request at a time
//! is let through (the probe).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{HeaderError, LimitError};

/// Shopify's maximum requested cost for a single GraphQL query.
pub const SINGLE_QUERY_MAX_COST: f64 = 1000.0;

/// Tolerance for floating-point comparisons of bucket points.
const EPSILON: f64 = 1e-6;

/// The `extensions.cost.throttleStatus` object of a Shopify GraphQL response.
///
/// Deserialises straight from the response JSON (`maximumAvailable`, `currentlyAvailable`,
/// `restoreRate`).
///
/// ```
/// use weft_ratelimit::ThrottleStatus;
/// let s: ThrottleStatus = serde_json::from_str(
///     r#"{"maximumAvailable":2000.0,"currentlyAvailable":1990,"restoreRate":100.0}"#).unwrap();
/// assert_eq!(s.currently_available, 1990.0);
/// assert_eq!(s.time_until_available(2090.0).as_secs(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// Bucket size in cost points.
    pub maximum_available: f64,
    /// Points in the bucket when the server answered.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

impl ThrottleStatus {
    /// How long until the bucket holds `cost` points, judged from this status alone.
    /// Zero when it already does; `Duration::MAX` when the restore rate is not positive.
    pub fn time_until_available(&self, cost: f64) -> Duration {
        let deficit = cost - self.currently_available;
        if deficit <= 0.0 {
            return Duration::ZERO;
        }
        if self.restore_rate <= 0.0 || !self.restore_rate.is_finite() {
            return Duration::MAX;
        }
        Duration::from_secs_f64(deficit / self.restore_rate)
    }

    fn is_sane(&self) -> bool {
        self.maximum_available.is_finite()
            && self.maximum_available > 0.0
            && self.currently_available.is_finite()
            && self.restore_rate.is_finite()
            && self.restore_rate > 0.0
    }
}

/// The whole `extensions.cost` object of a Shopify GraphQL response.
///
/// `actual_query_cost` is `null` on a throttled response.
///
/// ```
/// use weft_ratelimit::QueryCost;
/// let c: QueryCost = serde_json::from_str(r#"{"requestedQueryCost":70,"actualQueryCost":null,
///   "throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":66,"restoreRate":50}}"#).unwrap();
/// assert!(c.actual_query_cost.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCost {
    /// Cost the server computed before running the query.
    pub requested_query_cost: f64,
    /// Cost actually charged, `None` when the query did not run (throttled).
    pub actual_query_cost: Option<f64>,
    /// Bucket state after the query.
    pub throttle_status: ThrottleStatus,
}

/// Starting assumptions of a [`ShopifyCostLimiter`] before it has heard from the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostLimiterConfig {
    /// Bucket size assumed until the first response (Shopify's historical standard: 1000).
    pub initial_maximum: f64,
    /// Restore rate assumed until the first response (historical standard: 50 points/s).
    pub initial_restore_rate: f64,
    /// Points always left unspent in the bucket, a cushion against clock differences between
    /// this host and the server. Zero spends the whole budget.
    pub safety_margin: f64,
    /// Points also left unspent while other requests are in flight, against calls in flight
    /// being charged out of order (default 10). A request alone may spend the whole bucket.
    pub inflight_margin: f64,
}

impl Default for CostLimiterConfig {
    fn default() -> Self {
        Self {
            initial_maximum: 1000.0,
            initial_restore_rate: 50.0,
            safety_margin: 0.0,
            // One standard call's worth (1% of the standard bucket): with several calls in
            // flight the server may charge them in another order than they were reserved, and
            // the restore is only estimated between answers (`weft bench ratelimit` saw 2
            // throttles in 800 pipelined calls without it, none with it).
            inflight_margin: 10.0,
        }
    }
}

/// What a [`ShopifyCostLimiter`] currently believes about the server's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    /// Learned (or assumed) bucket size.
    pub maximum_available: f64,
    /// Learned (or assumed) restore rate, points per second.
    pub restore_rate: f64,
    /// Estimated points in the server's bucket now, before in-flight requests are charged.
    pub server_available: f64,
    /// Requested cost of permits not yet settled.
    pub outstanding: f64,
    /// Whether any response has been seen yet.
    pub learned: bool,
}

/// Counters of a [`ShopifyCostLimiter`], for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostStats {
    /// Permits handed out.
    pub reserved: u64,
    /// Permits settled with a normal response.
    pub settled: u64,
    /// Throttled responses reported (through a permit or [`ShopifyCostLimiter::on_throttled`]).
    pub throttled: u64,
    /// Reservations that had to wait for the bucket.
    pub waited: u64,
    /// Points actually charged by the server, summed over settled permits.
    pub points_spent: f64,
}

#[derive(Debug)]
struct CostState {
    config: CostLimiterConfig,
    maximum: f64,
    restore_rate: f64,
    /// Model of the server's bucket at `synced_at`, excluding outstanding permits.
    available: f64,
    synced_at: Instant,
    learned: bool,
    outstanding: f64,
    outstanding_count: usize,
    /// Sequence number of the next permit.
    next_seq: u64,
    /// Sequence number of the permit whose response last re-synced the model.
    synced_seq: Option<u64>,
    /// The large reservation at the head of its line: its requested cost and since when it
    /// has waited (small reservations pass it only while it is not overdue).
    large_waiting: Option<(f64, Instant)>,
    stats: CostStats,
}

impl CostState {
    fn server_available(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.synced_at).as_secs_f64();
        (self.available + self.restore_rate * elapsed).min(self.maximum)
    }

    /// Move the model's reference point to `now`.
    fn rebase(&mut self, now: Instant) {
        self.available = self.server_available(now);
        self.synced_at = now;
    }

    /// Adopt the server's figures. A response to a request reserved before the one that last
    /// re-synced the model may describe an older bucket, so it can only lower the estimate.
    fn sync(&mut self, status: &ThrottleStatus, seq: Option<u64>, now: Instant) {
        if !status.is_sane() {
            tracing::warn!(?status, "ignoring malformed shopify throttle status");
            return;
        }
        self.maximum = status.maximum_available;
        self.restore_rate = status.restore_rate;
        let reported = status.currently_available.min(self.maximum);
        let in_order = match (seq, self.synced_seq) {
            (Some(s), Some(last)) => s >= last,
            _ => true,
        };
        if in_order || !self.learned {
            self.available = reported;
            self.synced_at = now;
            if let Some(s) = seq {
                self.synced_seq = Some(s);
            }
        } else {
            self.rebase(now);
            self.available = self.available.min(reported);
        }
        self.learned = true;
    }

    fn release(&mut self, cost: f64) {
        self.outstanding = (self.outstanding - cost).max(0.0);
        self.outstanding_count = self.outstanding_count.saturating_sub(1);
        if self.outstanding_count == 0 {
            self.outstanding = 0.0;
        }
    }
}

#[derive(Debug)]
struct CostInner {
    state: Mutex<CostState>,
    /// FIFO turn for large reservations (see [`LARGE_SHARE`]): the head waits for the
    /// bucket, the rest wait for the head.
    turn: tokio::sync::Mutex<()>,
    /// FIFO turn for small reservations, which do not wait behind a large one.
    small_turn: tokio::sync::Mutex<()>,
    changed: Notify,
}

/// A reservation above this share of the bucket is large: a full read's page asking for most
/// of the bucket. Small ones (a write, one record or a few read again after a webhook: about
/// 100 points, with a fifth of a standard bucket being 200) are served
/// first-come-first-served among themselves and do not queue behind a large one waiting for
/// the bucket to refill, so a reconciliation page never holds live writes for seconds.
pub const LARGE_SHARE: f64 = 0.2;

/// How long past its own refill time a large reservation may be passed by small ones: after
/// that, small ones leave its points unspent until it is served (no starvation).
pub const LARGE_GRACE: Duration = Duration::from_secs(1);

/// Clears the large waiter's mark when its reservation ends (served, failed or dropped).
struct LargeMark<'a>(&'a CostInner, bool);

impl Drop for LargeMark<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.state.lock().large_waiting = None;
            self.0.changed.notify_waiters();
        }
    }
}

/// Client-side model of one shop's GraphQL cost bucket (one per shop and app; clone it freely,
/// clones share the bucket).
///
/// Call [`reserve`](Self::reserve) with the query's requested cost before sending; it waits until
/// the learned bucket can pay, so the server never has reason to throttle. Then settle the
/// permit with the response's `extensions.cost`, or report a `THROTTLED` response with
/// [`CostPermit::throttled`]. Concurrent reservations never oversubscribe the bucket. They are
/// served first come, first served within two lines: small ones (at most [`LARGE_SHARE`] of
/// the bucket: writes, single reads) do not wait behind a large one (a full read's page) that
/// waits for the bucket to refill, until that one is [`LARGE_GRACE`] past its refill time.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use weft_ratelimit::{ShopifyCostLimiter, ThrottleStatus};
/// let limiter = ShopifyCostLimiter::new();
/// let permit = limiter.reserve(112.0).await.unwrap();
/// // ... send the query; read extensions.cost from the response ...
/// let status = ThrottleStatus { maximum_available: 2000.0, currently_available: 1990.0, restore_rate: 100.0 };
/// permit.settle(10.0, &status);
/// assert_eq!(limiter.model().restore_rate, 100.0);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ShopifyCostLimiter {
    inner: Arc<CostInner>,
}

impl Default for ShopifyCostLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl ShopifyCostLimiter {
    /// A limiter with the default conservative assumptions (1000 points, 50 points/s).
    pub fn new() -> Self {
        Self::with_config(CostLimiterConfig::default())
    }

    /// A limiter with explicit starting assumptions.
    pub fn with_config(config: CostLimiterConfig) -> Self {
        let state = CostState {
            config,
            maximum: config.initial_maximum,
            restore_rate: config.initial_restore_rate,
            available: config.initial_maximum,
            synced_at: Instant::now(),
            learned: false,
            outstanding: 0.0,
            outstanding_count: 0,
            next_seq: 0,
            synced_seq: None,
            large_waiting: None,
            stats: CostStats::default(),
        };
        Self {
            inner: Arc::new(CostInner {
                state: Mutex::new(state),
                turn: tokio::sync::Mutex::new(()),
                small_turn: tokio::sync::Mutex::new(()),
                changed: Notify::new(),
            }),
        }
    }

    /// Wait until the bucket can pay `requested_cost`, then reserve it.
    ///
    /// Fails at once when the cost can never be paid: not a finite non-negative number, above
    /// Shopify's single-query maximum ([`SINGLE_QUERY_MAX_COST`]), or above the learned bucket
    /// size. Cancel-safe: dropping the future gives up the place in line and reserves nothing.
    pub async fn reserve(&self, requested_cost: f64) -> Result<CostPermit, LimitError> {
        if !requested_cost.is_finite() || requested_cost < 0.0 {
            return Err(LimitError::InvalidCost {
                cost: requested_cost,
            });
        }
        if requested_cost > SINGLE_QUERY_MAX_COST {
            return Err(LimitError::CostAboveQueryMaximum {
                cost: requested_cost,
                maximum: SINGLE_QUERY_MAX_COST,
            });
        }
        let large = requested_cost > self.inner.state.lock().maximum * LARGE_SHARE;
        let _turn = if large {
            self.inner.turn.lock().await
        } else {
            self.inner.small_turn.lock().await
        };
        let mut mark = LargeMark(&self.inner, false);
        let mut waited = false;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut st = self.inner.state.lock();
                let now = Instant::now();
                // A small reservation leaves an overdue large one's points unspent.
                let held_for_large = match st.large_waiting {
                    Some((cost, since))
                        if !large
                            && now.saturating_duration_since(since)
                                > Duration::from_secs_f64(cost / st.restore_rate.max(EPSILON))
                                    + LARGE_GRACE =>
                    {
                        cost
                    }
                    _ => 0.0,
                };
                let usable = st.maximum - st.config.safety_margin;
                if st.learned && requested_cost > usable + EPSILON {
                    return Err(LimitError::CostAboveBucket {
                        cost: requested_cost,
                        maximum: st.maximum,
                    });
                }
                if !st.learned && st.outstanding_count > 0 {
                    // Still probing: one request at a time until the server describes its bucket.
                    None
                } else {
                    let inflight = if st.outstanding_count > 0 {
                        st.config.inflight_margin
                    } else {
                        0.0
                    };
                    let spendable = st.server_available(now)
                        - st.outstanding
                        - st.config.safety_margin
                        - inflight
                        - held_for_large;
                    if spendable + EPSILON >= requested_cost {
                        if mark.1 {
                            st.large_waiting = None;
                            mark.1 = false;
                        }
                        st.outstanding += requested_cost;
                        st.outstanding_count += 1;
                        let seq = st.next_seq;
                        st.next_seq += 1;
                        st.stats.reserved += 1;
                        if waited {
                            st.stats.waited += 1;
                        }
                        return Ok(CostPermit {
                            limiter: Some(self.clone()),
                            requested: requested_cost,
                            seq,
                        });
                    }
                    if large && !mark.1 {
                        st.large_waiting = Some((requested_cost, now));
                        mark.1 = true;
                    }
                    let deficit = requested_cost - spendable;
                    Some(Duration::from_secs_f64(
                        (deficit / st.restore_rate).max(0.000_001),
                    ))
                }
            };
            waited = true;
            match wait {
                Some(delay) => {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Report a `THROTTLED` response to a request sent without a permit (or whose permit is gone).
    /// Re-syncs the model so the next reservation waits long enough.
    pub fn on_throttled(&self, status: &ThrottleStatus) {
        let mut st = self.inner.state.lock();
        st.stats.throttled += 1;
        st.sync(status, None, Instant::now());
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// Re-sync the model from a response to a request sent without a permit.
    pub fn observe(&self, status: &ThrottleStatus) {
        let mut st = self.inner.state.lock();
        st.sync(status, None, Instant::now());
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// What the limiter currently believes about the bucket.
    pub fn model(&self) -> CostModel {
        let st = self.inner.state.lock();
        CostModel {
            maximum_available: st.maximum,
            restore_rate: st.restore_rate,
            server_available: st.server_available(Instant::now()),
            outstanding: st.outstanding,
            learned: st.learned,
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> CostStats {
        self.inner.state.lock().stats
    }

    fn finish(&self, requested: f64, seq: u64, outcome: Outcome<'_>) {
        let mut st = self.inner.state.lock();
        let now = Instant::now();
        st.release(requested);
        match outcome {
            Outcome::Settled { actual, status } => {
                st.stats.settled += 1;
                st.stats.points_spent += actual;
                // Charge our own model first, so an out-of-order status is compared fairly.
                st.rebase(now);
                st.available -= actual;
                st.sync(status, Some(seq), now);
            }
            Outcome::Throttled { status } => {
                st.stats.throttled += 1;
                st.sync(status, Some(seq), now);
            }
            Outcome::Abandoned => {
                // Unknown whether the server ran it: assume it charged the full requested cost.
                st.rebase(now);
                st.available -= requested;
            }
        }
        drop(st);
        self.inner.changed.notify_waiters();
    }
}

enum Outcome<'a> {
    Settled {
        actual: f64,
        status: &'a ThrottleStatus,
    },
    Throttled {
        status: &'a ThrottleStatus,
    },
    Abandoned,
}

/// A reservation of cost points in a [`ShopifyCostLimiter`], held while the request is in flight.
///
/// Finish it with [`settle`](Self::settle) (normal response) or [`throttled`](Self::throttled)
/// (`THROTTLED` error). Dropping it unfinished (network error, timeout) assumes the server
/// charged the whole requested cost.
#[derive(Debug)]
#[must_use = "settle the permit with the response's cost, or drop it if the request failed"]
pub struct CostPermit {
    limiter: Option<ShopifyCostLimiter>,
    requested: f64,
    seq: u64,
}

impl CostPermit {
    /// The reserved (requested) cost.
    pub fn requested_cost(&self) -> f64 {
        self.requested
    }

    /// Finish with a normal response: refunds `requested - actual_cost` and re-syncs the model
    /// from the server's `throttleStatus`.
    pub fn settle(mut self, actual_cost: f64, status: &ThrottleStatus) {
        if let Some(limiter) = self.limiter.take() {
            let actual = if actual_cost.is_finite() && actual_cost >= 0.0 {
                actual_cost
            } else {
                self.requested
            };
            limiter.finish(
                self.requested,
                self.seq,
                Outcome::Settled { actual, status },
            );
        }
    }

    /// Finish with the response's whole `extensions.cost` (handles throttled and normal alike).
    pub fn settle_cost(self, cost: &QueryCost) {
        match cost.actual_query_cost {
            Some(actual) => self.settle(actual, &cost.throttle_status),
            None => self.throttled(&cost.throttle_status),
        }
    }

    /// Finish with a `THROTTLED` response: nothing was charged; the model re-syncs from the
    /// server's figures so the retry waits until the bucket can pay.
    pub fn throttled(mut self, status: &ThrottleStatus) {
        if let Some(limiter) = self.limiter.take() {
            limiter.finish(self.requested, self.seq, Outcome::Throttled { status });
        }
    }
}

impl Drop for CostPermit {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take() {
            limiter.finish(self.requested, self.seq, Outcome::Abandoned);
        }
    }
}

/// Parse `X-Shopify-Shop-Api-Call-Limit` (`"32/40"`) into `(used, size)`.
///
/// ```
/// assert_eq!(weft_ratelimit::parse_call_limit("32/40").unwrap(), (32, 40));
/// assert!(weft_ratelimit::parse_call_limit("40").is_err());
/// ```
pub fn parse_call_limit(value: &str) -> Result<(u32, u32), HeaderError> {
    let bad = || HeaderError::Malformed {
        header: "X-Shopify-Shop-Api-Call-Limit",
        value: value.to_owned(),
    };
    let (used, size) = value.trim().split_once('/').ok_or_else(bad)?;
    let used: u32 = used.trim().parse().map_err(|_| bad())?;
    let size: u32 = size.trim().parse().map_err(|_| bad())?;
    if size == 0 {
        return Err(bad());
    }
    Ok((used, size))
}

/// Starting assumptions of a [`RestCallLimiter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestLimiterConfig {
    /// Bucket size until the first `X-Shopify-Shop-Api-Call-Limit` header (standard: 40).
    pub initial_size: u32,
    /// Requests leaked per second. The header does not carry it; the default is the lowest plan's
    /// (Standard, 2/s), so higher plans are under-used rather than throttled.
    pub leak_per_second: f64,
    /// Wait after a 429 that carried no `Retry-After` (Shopify's own client uses 1 s).
    pub default_retry_after: Duration,
}

impl Default for RestLimiterConfig {
    fn default() -> Self {
        Self {
            initial_size: 40,
            leak_per_second: 2.0,
            default_retry_after: Duration::from_secs(1),
        }
    }
}

#[derive(Debug)]
struct RestState {
    config: RestLimiterConfig,
    size: u32,
    /// Model of the server's used count at `synced_at`, excluding outstanding permits.
    used: f64,
    synced_at: Instant,
    learned: bool,
    outstanding: u32,
    blocked_until: Option<Instant>,
    throttled: u64,
}

impl RestState {
    fn used_now(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.synced_at).as_secs_f64();
        (self.used - self.config.leak_per_second * elapsed).max(0.0)
    }

    fn rebase(&mut self, now: Instant) {
        self.used = self.used_now(now);
        self.synced_at = now;
    }
}

#[derive(Debug)]
struct RestInner {
    state: Mutex<RestState>,
    turn: tokio::sync::Mutex<()>,
    changed: Notify,
}

/// Client-side model of a shop's REST request bucket (`X-Shopify-Shop-Api-Call-Limit`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use weft_ratelimit::RestCallLimiter;
/// let limiter = RestCallLimiter::new();
/// let permit = limiter.acquire().await;
/// // ... send the request ...
/// permit.settle(Some("1/40")).unwrap();
/// let permit = limiter.acquire().await;
/// permit.throttled(Some(std::time::Duration::from_secs(2))); // got a 429 with Retry-After: 2
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct RestCallLimiter {
    inner: Arc<RestInner>,
}

impl Default for RestCallLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RestCallLimiter {
    /// A limiter with the default assumptions (40 requests, leak 2/s).
    pub fn new() -> Self {
        Self::with_config(RestLimiterConfig::default())
    }

    /// A limiter with explicit assumptions.
    pub fn with_config(config: RestLimiterConfig) -> Self {
        Self {
            inner: Arc::new(RestInner {
                state: Mutex::new(RestState {
                    config,
                    size: config.initial_size.max(1),
                    used: 0.0,
                    synced_at: Instant::now(),
                    learned: false,
                    outstanding: 0,
                    blocked_until: None,
                    throttled: 0,
                }),
                turn: tokio::sync::Mutex::new(()),
                changed: Notify::new(),
            }),
        }
    }

    /// Wait until the bucket has room for one more request (and any `Retry-After` has passed).
    /// Cancel-safe.
    pub async fn acquire(&self) -> RestPermit {
        let _turn = self.inner.turn.lock().await;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut st = self.inner.state.lock();
                let now = Instant::now();
                match st.blocked_until {
                    Some(until) if until > now => Some(until - now),
                    _ if !st.learned && st.outstanding > 0 => None,
                    _ => {
                        let used = st.used_now(now) + f64::from(st.outstanding);
                        if used + 1.0 <= f64::from(st.size) + EPSILON {
                            st.outstanding += 1;
                            return RestPermit {
                                limiter: Some(self.clone()),
                            };
                        }
                        let excess = used + 1.0 - f64::from(st.size);
                        Some(Duration::from_secs_f64(
                            (excess / st.config.leak_per_second).max(0.000_001),
                        ))
                    }
                }
            };
            match wait {
                Some(delay) => {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Learned bucket size (requests).
    pub fn size(&self) -> u32 {
        self.inner.state.lock().size
    }

    /// Estimated requests in the server's bucket now, including in-flight ones.
    pub fn used(&self) -> f64 {
        let st = self.inner.state.lock();
        st.used_now(Instant::now()) + f64::from(st.outstanding)
    }

    /// 429 responses reported.
    pub fn throttled_count(&self) -> u64 {
        self.inner.state.lock().throttled
    }

    fn finish(&self, outcome: RestOutcome) {
        let mut st = self.inner.state.lock();
        let now = Instant::now();
        st.outstanding = st.outstanding.saturating_sub(1);
        match outcome {
            RestOutcome::Settled(Some((used, size))) => {
                st.size = size;
                st.used = f64::from(used);
                st.synced_at = now;
                st.learned = true;
            }
            RestOutcome::Settled(None) | RestOutcome::Abandoned => {
                st.rebase(now);
                st.used += 1.0;
            }
            RestOutcome::Throttled(retry_after) => {
                st.throttled += 1;
                let wait = retry_after.unwrap_or(st.config.default_retry_after);
                st.blocked_until = Some(now + wait);
                st.used = f64::from(st.size);
                st.synced_at = now;
                st.learned = true;
            }
        }
        drop(st);
        self.inner.changed.notify_waiters();
    }
}

enum RestOutcome {
    Settled(Option<(u32, u32)>),
    Throttled(Option<Duration>),
    Abandoned,
}

/// One request's room in a [`RestCallLimiter`]. Dropping it unfinished counts the request as
/// charged.
#[derive(Debug)]
#[must_use = "settle the permit with the response's call-limit header"]
pub struct RestPermit {
    limiter: Option<RestCallLimiter>,
}

impl RestPermit {
    /// Finish with a non-429 response and its `X-Shopify-Shop-Api-Call-Limit` header value, if
    /// any. A malformed header is reported and the request counted as charged.
    pub fn settle(mut self, call_limit: Option<&str>) -> Result<(), HeaderError> {
        let parsed = call_limit.map(parse_call_limit).transpose();
        if let Some(limiter) = self.limiter.take() {
            limiter.finish(RestOutcome::Settled(parsed.clone().unwrap_or(None)));
        }
        parsed.map(|_| ())
    }

    /// Finish with a 429: nothing more is sent until `retry_after` (or the configured default)
    /// has passed.
    pub fn throttled(mut self, retry_after: Option<Duration>) {
        if let Some(limiter) = self.limiter.take() {
            limiter.finish(RestOutcome::Throttled(retry_after));
        }
    }
}

impl Drop for RestPermit {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take() {
            limiter.finish(RestOutcome::Abandoned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A leaky bucket behaving like Shopify's: requested cost must be available on arrival,
    /// the difference to the actual cost is refunded when the query finishes.
    struct FakeShop {
        maximum: f64,
        rate: f64,
        available: f64,
        at: Instant,
        throttled: u64,
        spent: f64,
    }

    impl FakeShop {
        fn new(maximum: f64, rate: f64) -> Self {
            Self {
                maximum,
                rate,
                available: maximum,
                at: Instant::now(),
                throttled: 0,
                spent: 0.0,
            }
        }

        fn refill(&mut self) {
            let now = Instant::now();
            let secs = (now - self.at).as_secs_f64();
            self.available = (self.available + secs * self.rate).min(self.maximum);
            self.at = now;
        }

        fn status(&self) -> ThrottleStatus {
            ThrottleStatus {
                maximum_available: self.maximum,
                // Shopify reports whole points; rounding down keeps the client conservative.
                currently_available: self.available.floor(),
                restore_rate: self.rate,
            }
        }

        /// Charge on arrival; `Err(status)` when throttled.
        fn arrive(&mut self, requested: f64) -> Result<(), ThrottleStatus> {
            self.refill();
            if self.available + 1e-9 < requested {
                self.throttled += 1;
                return Err(self.status());
            }
            self.available -= requested;
            Ok(())
        }

        fn finish(&mut self, requested: f64, actual: f64) -> ThrottleStatus {
            self.refill();
            self.available = (self.available + requested - actual).min(self.maximum);
            self.spent += actual;
            self.status()
        }
    }

    fn status(max: f64, now: f64, rate: f64) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: max,
            currently_available: now,
            restore_rate: rate,
        }
    }

    /// Run `tasks` concurrent clients for `duration` against a fake shop; return the shop.
    async fn drive(tasks: usize, duration: Duration, requested: f64, actual: f64) -> FakeShop {
        let shop = Arc::new(Mutex::new(FakeShop::new(2000.0, 100.0)));
        let limiter = ShopifyCostLimiter::new();
        let deadline = Instant::now() + duration;
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let shop = shop.clone();
            let limiter = limiter.clone();
            handles.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let permit = limiter.reserve(requested).await.unwrap();
                    if Instant::now() >= deadline {
                        break; // only count what was sent within the measured period
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await; // request on the wire
                    let arrived = shop.lock().arrive(requested);
                    match arrived {
                        Ok(()) => {
                            tokio::time::sleep(Duration::from_millis(30)).await; // execution
                            let st = shop.lock().finish(requested, actual);
                            tokio::time::sleep(Duration::from_millis(5)).await; // response
                            permit.settle(actual, &st);
                        }
                        Err(st) => {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            permit.throttled(&st);
                        }
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let model = limiter.model();
        assert_eq!(model.maximum_available, 2000.0);
        assert_eq!(model.restore_rate, 100.0);
        assert_eq!(limiter.stats().throttled, shop.lock().throttled);
        Arc::try_unwrap(shop).ok().unwrap().into_inner()
    }

    #[tokio::test(start_paused = true)]
    async fn fifty_concurrent_reservers_never_throttled_and_drain_at_restore_rate() {
        let secs = 60.0;
        let shop = drive(50, Duration::from_secs_f64(secs), 112.0, 112.0).await;
        assert_eq!(shop.throttled, 0, "the limiter oversubscribed the bucket");
        // Everything the server could give: the initial bucket plus 60 s of restore.
        let budget = 2000.0 + 100.0 * secs;
        let utilisation = shop.spent / budget;
        assert!(
            utilisation > 0.97 && utilisation <= 1.0,
            "spent {} of {budget} points ({utilisation:.3})",
            shop.spent
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refunds_are_reused_when_actual_cost_is_below_requested() {
        // Requested 200, actual 20: the refund lets far more queries through than 200/query.
        let shop = drive(10, Duration::from_secs(20), 200.0, 20.0).await;
        assert_eq!(shop.throttled, 0);
        let queries = shop.spent / 20.0;
        // Without refunds the budget would allow (2000 + 100*20) / 200 = 20 queries.
        assert!(queries > 100.0, "only {queries} queries in 20 s");
    }

    #[tokio::test(start_paused = true)]
    async fn probe_only_until_first_response() {
        let limiter = ShopifyCostLimiter::new();
        let first = limiter.reserve(10.0).await.unwrap();
        let second = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.reserve(10.0).await.unwrap() })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !second.is_finished(),
            "second request went out before the probe answered"
        );
        first.settle(10.0, &status(2000.0, 1990.0, 100.0));
        let second = second.await.unwrap();
        assert_eq!(second.requested_cost(), 10.0);
        assert!(limiter.model().learned);
        second.settle(10.0, &status(2000.0, 1980.0, 100.0));
    }

    /// A limiter that spends the whole bucket, for exact arithmetic.
    fn no_margin() -> ShopifyCostLimiter {
        ShopifyCostLimiter::with_config(CostLimiterConfig {
            safety_margin: 0.0,
            inflight_margin: 0.0,
            ..CostLimiterConfig::default()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_keep_one_standard_call_in_reserve() {
        let limiter = ShopifyCostLimiter::new();
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(1000.0, 100.0, 50.0));
        // 100 available: a call alone may spend it all.
        let first = limiter.reserve(90.0).await.unwrap();
        // With that one in flight, 10 remain, and 10 more are kept in reserve: the next call
        // of 10 waits for 10 points to restore (200 ms).
        let start = Instant::now();
        let second = limiter.reserve(10.0).await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_millis(210), "{waited:?}");
        first.settle(90.0, &status(1000.0, 10.0, 50.0));
        second.settle(10.0, &status(1000.0, 10.0, 50.0));
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_response_makes_the_retry_wait_for_the_deficit() {
        let limiter = no_margin();
        let permit = limiter.reserve(70.0).await.unwrap();
        permit.throttled(&status(1000.0, 66.0, 50.0));
        assert_eq!(limiter.stats().throttled, 1);
        let start = Instant::now();
        let permit = limiter.reserve(70.0).await.unwrap();
        let waited = start.elapsed();
        // (70 - 66) / 50 = 80 ms
        assert!(waited >= Duration::from_millis(80), "{waited:?}");
        assert!(waited < Duration::from_millis(90), "{waited:?}");
        permit.settle(70.0, &status(1000.0, 0.0, 50.0));
    }

    #[tokio::test(start_paused = true)]
    async fn settle_refunds_and_resyncs() {
        let limiter = no_margin();
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(1000.0, 100.0, 50.0));
        let permit = limiter.reserve(100.0).await.unwrap();
        assert!(limiter.model().server_available - limiter.model().outstanding < 1e-6);
        // The server charged 100, refunded 90 (actual 10): it reports 90 available.
        permit.settle(10.0, &status(1000.0, 90.0, 50.0));
        let m = limiter.model();
        assert_eq!(m.outstanding, 0.0);
        assert!((m.server_available - 90.0).abs() < 1e-6);
        let start = Instant::now();
        let p = limiter.reserve(90.0).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        p.settle(90.0, &status(1000.0, 0.0, 50.0));
        assert!((limiter.stats().points_spent - 101.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_order_status_only_lowers_the_estimate() {
        let limiter = ShopifyCostLimiter::new();
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(1000.0, 1000.0, 50.0));
        let older = limiter.reserve(100.0).await.unwrap();
        let newer = limiter.reserve(100.0).await.unwrap();
        // The newer request's response arrives first and describes the bucket after both.
        newer.settle(100.0, &status(1000.0, 800.0, 50.0));
        // The older one's stale response claims more than is true: it must not raise the model.
        older.settle(100.0, &status(1000.0, 900.0, 50.0));
        let m = limiter.model();
        assert!(m.server_available <= 800.0 + 1e-6, "{m:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_permit_counts_as_charged() {
        let limiter = ShopifyCostLimiter::new();
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(1000.0, 500.0, 50.0));
        drop(limiter.reserve(300.0).await.unwrap());
        let m = limiter.model();
        assert_eq!(m.outstanding, 0.0);
        assert!((m.server_available - 200.0).abs() < 1e-6, "{m:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn impossible_costs_are_rejected() {
        let limiter = ShopifyCostLimiter::new();
        assert!(matches!(
            limiter.reserve(1001.0).await,
            Err(LimitError::CostAboveQueryMaximum { .. })
        ));
        assert!(matches!(
            limiter.reserve(f64::NAN).await,
            Err(LimitError::InvalidCost { .. })
        ));
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(500.0, 500.0, 25.0));
        assert!(matches!(
            limiter.reserve(600.0).await,
            Err(LimitError::CostAboveBucket { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn small_reservations_do_not_queue_behind_a_large_one() {
        let limiter = ShopifyCostLimiter::new();
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(1000.0, 0.0, 100.0));
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        // A full read's page (500 of a 1000 bucket, 5 s to refill), then two writes, then a
        // second large page: large ones keep their order, small ones keep theirs.
        for (i, cost) in [(0, 500.0), (1, 10.0), (2, 10.0), (3, 300.0)] {
            let limiter = limiter.clone();
            let order = order.clone();
            handles.push(tokio::spawn(async move {
                let p = limiter.reserve(cost).await.unwrap();
                order.lock().push((i, start.elapsed()));
                drop(p);
            }));
            tokio::task::yield_now().await;
        }
        for h in handles {
            h.await.unwrap();
        }
        let order = order.lock().clone();
        let ids: Vec<i32> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![1, 2, 0, 3]);
        // The writes waited for their own 10 points, not for the page's 500.
        assert!(order[1].1 <= Duration::from_millis(250), "{order:?}");
        // The page was served within its refill time and what the writes spent.
        assert!(order[2].1 <= Duration::from_millis(5_300), "{order:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_large_reservation_is_not_starved_by_a_stream_of_small_ones() {
        let limiter = ShopifyCostLimiter::new();
        limiter
            .reserve(1.0)
            .await
            .unwrap()
            .settle(1.0, &status(1000.0, 0.0, 100.0));
        let start = Instant::now();
        // Writes of 10 points every 100 ms: the whole restore rate.
        let writer = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let mut served = 0;
                while start.elapsed() < Duration::from_secs(20) {
                    drop(limiter.reserve(10.0).await.unwrap());
                    served += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                served
            })
        };
        tokio::task::yield_now().await;
        drop(limiter.reserve(500.0).await.unwrap());
        let page = start.elapsed();
        // Passed by writes for its refill time (5 s) and the grace, then served once the
        // writes left its points unspent: about 5 s more.
        assert!(page >= Duration::from_secs(6), "{page:?}");
        assert!(page <= Duration::from_secs(12), "{page:?}");
        let served = writer.await.unwrap();
        assert!(served >= 100, "writes went on around the page: {served}");
    }

    #[test]
    fn call_limit_header() {
        assert_eq!(parse_call_limit(" 39/40 ").unwrap(), (39, 40));
        for bad in ["", "40", "a/40", "1/0", "1/-3"] {
            assert!(parse_call_limit(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rest_bucket_fills_then_leaks() {
        let limiter = RestCallLimiter::new();
        limiter.acquire().await.settle(Some("1/40")).unwrap();
        let start = Instant::now();
        for used in 2..=40 {
            limiter
                .acquire()
                .await
                .settle(Some(&format!("{used}/40")))
                .unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The bucket is full: the next request waits one leak interval (0.5 s at 2/s).
        let p = limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        p.settle(Some("40/40")).unwrap();
        assert_eq!(limiter.size(), 40);
    }

    #[tokio::test(start_paused = true)]
    async fn rest_retry_after_blocks_everyone() {
        let limiter = RestCallLimiter::new();
        limiter.acquire().await.settle(Some("1/40")).unwrap();
        limiter
            .acquire()
            .await
            .throttled(Some(Duration::from_secs(2)));
        assert_eq!(limiter.throttled_count(), 1);
        let start = Instant::now();
        let calls = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for _ in 0..3 {
            let limiter = limiter.clone();
            let calls = calls.clone();
            handles.push(tokio::spawn(async move {
                let p = limiter.acquire().await;
                assert!(start.elapsed() >= Duration::from_secs(2));
                calls.fetch_add(1, Ordering::SeqCst);
                p.settle(None).unwrap();
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn rest_malformed_header_is_reported_and_counted() {
        let limiter = RestCallLimiter::new();
        assert!(limiter.acquire().await.settle(Some("garbage")).is_err());
        assert!((limiter.used() - 1.0).abs() < 1e-9);
    }
}
