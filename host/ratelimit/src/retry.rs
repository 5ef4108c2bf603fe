//! Retries: exponential backoff with full jitter that honours `Retry-After`, retryable vs
//! permanent classification per platform, and a per-connection circuit breaker.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::CircuitOpen;
use crate::shopify::ThrottleStatus;

/// Parameters of a [`Backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Ceiling of the first retry's delay; doubles with every attempt.
    pub base: Duration,
    /// Largest ceiling (the delay never exceeds it unless `Retry-After` asks for more).
    pub cap: Duration,
    /// Retries allowed before giving up (attempts `0..max_retries` may retry).
    pub max_retries: u32,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            max_retries: 8,
        }
    }
}

/// Exponential backoff with full jitter: retry `attempt` (0-based) waits a uniformly random time
/// in `[0, min(cap, base * 2^attempt)]`, and never less than the server's `Retry-After`.
///
/// The random source is a seeded ChaCha8 generator, so tests and simulations are reproducible.
/// Shareable across tasks (`&self`).
///
/// ```
/// use std::time::Duration;
/// use weft_ratelimit::{Backoff, BackoffConfig};
/// let backoff = Backoff::seeded(BackoffConfig::default(), 7);
/// let d = backoff.next_delay(3, None);
/// assert!(d <= Duration::from_secs(4)); // 500 ms * 2^3
/// let d = backoff.next_delay(0, Some(Duration::from_secs(10)));
/// assert!(d >= Duration::from_secs(10)); // never sooner than Retry-After
/// assert!(!backoff.exhausted(7) && backoff.exhausted(8));
/// ```
#[derive(Debug)]
pub struct Backoff {
    config: BackoffConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl Backoff {
    /// A backoff whose jitter comes from `seed`.
    pub fn seeded(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// A backoff seeded from the operating system's entropy.
    pub fn from_entropy(config: BackoffConfig) -> Self {
        Self::seeded(config, rand::random())
    }

    /// The configuration.
    pub fn config(&self) -> BackoffConfig {
        self.config
    }

    /// Upper bound of the jittered delay for retry `attempt`: `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt.min(31)).unwrap_or(u32::MAX);
        self.config
            .base
            .checked_mul(factor)
            .unwrap_or(self.config.cap)
            .min(self.config.cap)
    }

    /// Delay before retry `attempt` (0 for the first retry). With `retry_after` the delay is at
    /// least that long, even beyond the cap: the server's word wins.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(self.rng.lock().random_range(0..=nanos));
        match retry_after {
            Some(after) => jittered.max(after),
            None => jittered,
        }
    }

    /// Whether retry `attempt` is beyond the allowed number of retries.
    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.config.max_retries
    }
}

/// Whether a failed request may be retried, and how soon at the earliest.
///
/// ```
/// use std::time::Duration;
/// use weft_ratelimit::RetryClass;
/// assert!(RetryClass::from_status(503, None).is_retryable());
/// assert_eq!(RetryClass::from_status(404, None), RetryClass::Permanent);
/// assert_eq!(RetryClass::netsuite(400, Some("SSS_REQUEST_LIMIT_EXCEEDED"), None).retry_after(), None);
/// assert!(RetryClass::netsuite(400, Some("SSS_REQUEST_LIMIT_EXCEEDED"), None).is_retryable());
/// assert_eq!(RetryClass::from_status(429, Some(Duration::from_secs(2))).retry_after(),
///            Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Transient: retry, not before `after` when the server said so.
    Retryable {
        /// Earliest retry the server asked for (`Retry-After`, throttle status).
        after: Option<Duration>,
    },
    /// Retrying cannot help (validation error, auth, not found): dead-letter it.
    Permanent,
}

impl RetryClass {
    /// Whether the failure is transient.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RetryClass::Retryable { .. })
    }

    /// The server's requested wait, if retryable and given.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RetryClass::Retryable { after } => *after,
            RetryClass::Permanent => None,
        }
    }

    /// Generic HTTP classification: 408, 425, 429 and 5xx (except 501 and 505) are retryable;
    /// everything else is permanent. Use this for transport-level answers.
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        match status {
            408 | 425 | 429 => RetryClass::Retryable { after: retry_after },
            501 | 505 => RetryClass::Permanent,
            500..=599 => RetryClass::Retryable { after: retry_after },
            _ => RetryClass::Permanent,
        }
    }

    /// A transport failure (connection refused, reset, timeout): retryable.
    pub fn transport() -> Self {
        RetryClass::Retryable { after: None }
    }

    /// Shopify GraphQL: classify an `errors[].extensions.code`. `THROTTLED` waits for the bucket
    /// (pass the response's throttle status and the query's requested cost);
    /// `INTERNAL_SERVER_ERROR` and `SERVICE_UNAVAILABLE` are retryable; everything else
    /// (`MAX_COST_EXCEEDED`, `ACCESS_DENIED`, validation errors, ...) is permanent.
    pub fn shopify_graphql(code: &str, throttle: Option<(&ThrottleStatus, f64)>) -> Self {
        match code {
            "THROTTLED" => RetryClass::Retryable {
                after: throttle.map(|(status, cost)| status.time_until_available(cost)),
            },
            "INTERNAL_SERVER_ERROR" | "SERVICE_UNAVAILABLE" | "TIMEOUT" => {
                RetryClass::Retryable { after: None }
            }
            _ => RetryClass::Permanent,
        }
    }

    /// NetSuite REST: HTTP status plus the `o:errorCode` of the first error detail, if any.
    /// Over-concurrency answers (429, or 400/403 with `SSS_REQUEST_LIMIT_EXCEEDED`,
    /// `WS_REQUEST_BLOCKED`, `WS_CONCUR_SESSION_DISALLWD`) and 5xx are retryable; other 4xx are
    /// permanent.
    pub fn netsuite(status: u16, error_code: Option<&str>, retry_after: Option<Duration>) -> Self {
        const CONCURRENCY_CODES: [&str; 4] = [
            "SSS_REQUEST_LIMIT_EXCEEDED",
            "WS_REQUEST_BLOCKED",
            "WS_CONCUR_SESSION_DISALLWD",
            "CONCURRENCY_LIMIT_EXCEEDED",
        ];
        if error_code.is_some_and(|code| CONCURRENCY_CODES.contains(&code)) {
            return RetryClass::Retryable { after: retry_after };
        }
        Self::from_status(status, retry_after)
    }
}

/// Parse a `Retry-After` value given in seconds (`"2"` or `"2.0"`, as Shopify and BigCommerce
/// send). HTTP-date values are handled by [`parse_retry_after_at`].
///
/// ```
/// use std::time::Duration;
/// assert_eq!(weft_ratelimit::parse_retry_after("2.5"), Some(Duration::from_millis(2500)));
/// assert_eq!(weft_ratelimit::parse_retry_after("soon"), None);
/// ```
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// Parse a `Retry-After` value in seconds or as an HTTP date, relative to `now`. A date in the
/// past means "now" (zero).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use std::time::Duration;
/// let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
/// assert_eq!(weft_ratelimit::parse_retry_after_at("Wed, 21 Oct 2015 07:28:30 GMT", now),
///            Some(Duration::from_secs(30)));
/// ```
pub fn parse_retry_after_at(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Some(d) = parse_retry_after(value) {
        return Some(d);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Why [`retry`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    /// The operation failed in a way retrying cannot fix.
    #[error("permanent failure after {attempts} attempt(s): {last}")]
    Permanent {
        /// Attempts made, including the failing one.
        attempts: u32,
        /// The failure.
        last: E,
    },
    /// Every allowed retry failed.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: E,
    },
}

impl<E> RetryError<E> {
    /// The last failure.
    pub fn into_last(self) -> E {
        match self {
            RetryError::Permanent { last, .. } | RetryError::Exhausted { last, .. } => last,
        }
    }
}

/// Run `op` (given the 0-based attempt number) until it succeeds, `classify` calls its error
/// permanent, or `backoff`'s retries are used up, sleeping [`Backoff::next_delay`] between
/// attempts (never less than the error's `Retry-After`).
///
/// For in-process retries of one request (reads, polls). Writes from the outbox are retried by
/// rescheduling the durable row instead, with the same [`Backoff`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// use weft_ratelimit::{retry, Backoff, BackoffConfig, RetryClass};
/// let backoff = Backoff::seeded(BackoffConfig::default(), 1);
/// let result = retry(&backoff, |status: &u16| RetryClass::from_status(*status, None), |attempt| async move {
///     if attempt < 2 { Err(503u16) } else { Ok("done") }
/// }).await;
/// assert_eq!(result.unwrap(), "done");
/// # });
/// ```
pub async fn retry<T, E, F, Fut>(
    backoff: &Backoff,
    classify: impl Fn(&E) -> RetryClass,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0u32;
    loop {
        let error = match op(attempt).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let after = match classify(&error) {
            RetryClass::Permanent => {
                return Err(RetryError::Permanent {
                    attempts: attempt + 1,
                    last: error,
                });
            }
            RetryClass::Retryable { after } => after,
        };
        if backoff.exhausted(attempt) {
            return Err(RetryError::Exhausted {
                attempts: attempt + 1,
                last: error,
            });
        }
        let delay = backoff.next_delay(attempt, after);
        tracing::debug!(attempt, ?delay, "retrying after a transient failure");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// Parameters of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Open after this many failures in a row.
    pub consecutive_failures: u32,
    /// Open when the failure ratio over the last `window` calls reaches this (0..=1).
    pub failure_ratio: f64,
    /// Number of most recent calls the ratio is computed over.
    pub window: usize,
    /// The ratio only applies once the window holds at least this many calls.
    pub min_calls: usize,
    /// How long the breaker stays open before letting one probe through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            window: 20,
            min_calls: 10,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Where a [`CircuitBreaker`] is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; outcomes are counted.
    Closed,
    /// Calls are refused until `until`.
    Open {
        /// End of the cool-down.
        until: Instant,
    },
    /// One probe call is allowed; its outcome closes or re-opens the breaker.
    HalfOpen {
        /// Whether the probe is in flight.
        probe_in_flight: bool,
    },
}

#[derive(Debug)]
struct BreakerInner {
    state: BreakerState,
    consecutive: u32,
    recent: VecDeque<bool>,
    /// Incremented on every transition to open; permits from an older epoch do not count.
    epoch: u64,
    times_opened: u64,
}

#[derive(Debug)]
struct BreakerShared {
    name: Arc<str>,
    config: BreakerConfig,
    inner: Mutex<BreakerInner>,
    changed: Notify,
}

/// A per-connection circuit breaker: closed → open after `consecutive_failures` failures in a
/// row or a failure ratio over the recent window; open for `cool_down`; then half-open, where a
/// single probe decides between closed (success) and open again (failure).
///
/// Report only failures that say the connection is unhealthy (transport errors, timeouts, 5xx,
/// throttling storms); a 4xx validation error is a healthy connection and counts as success.
///
/// ```
/// use std::time::Duration;
/// use weft_ratelimit::{BreakerConfig, CircuitBreaker};
/// let breaker = CircuitBreaker::new("shopify:acme", BreakerConfig {
///     consecutive_failures: 2, cool_down: Duration::from_secs(30), ..Default::default() });
/// breaker.try_acquire().unwrap().failure();
/// breaker.try_acquire().unwrap().failure();
/// let refused = breaker.try_acquire().unwrap_err();
/// assert!(refused.retry_in <= Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<BreakerShared>,
}

impl CircuitBreaker {
    /// A closed breaker named after the connection it guards.
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Self {
        Self {
            shared: Arc::new(BreakerShared {
                name: name.into(),
                config,
                inner: Mutex::new(BreakerInner {
                    state: BreakerState::Closed,
                    consecutive: 0,
                    recent: VecDeque::with_capacity(config.window),
                    epoch: 0,
                    times_opened: 0,
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Current state (an expired open state reads as half-open).
    pub fn state(&self) -> BreakerState {
        let mut inner = self.shared.inner.lock();
        Self::refresh(&mut inner, Instant::now());
        inner.state
    }

    /// How many times the breaker has opened.
    pub fn times_opened(&self) -> u64 {
        self.shared.inner.lock().times_opened
    }

    fn refresh(inner: &mut BreakerInner, now: Instant) {
        if let BreakerState::Open { until } = inner.state
            && now >= until
        {
            inner.state = BreakerState::HalfOpen {
                probe_in_flight: false,
            };
        }
    }

    /// Ask to make a call. Refused while open, and in half-open while the probe is out.
    pub fn try_acquire(&self) -> Result<BreakerPermit, CircuitOpen> {
        let mut inner = self.shared.inner.lock();
        let now = Instant::now();
        Self::refresh(&mut inner, now);
        match inner.state {
            BreakerState::Closed => Ok(self.permit(false, inner.epoch)),
            BreakerState::Open { until } => Err(CircuitOpen {
                name: self.shared.name.to_string(),
                retry_in: until - now,
            }),
            BreakerState::HalfOpen {
                probe_in_flight: true,
            } => Err(CircuitOpen {
                name: self.shared.name.to_string(),
                retry_in: Duration::ZERO,
            }),
            BreakerState::HalfOpen {
                probe_in_flight: false,
            } => {
                inner.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                Ok(self.permit(true, inner.epoch))
            }
        }
    }

    /// Wait until a call is allowed (the cool-down has passed and the probe slot is free, or the
    /// breaker is closed). Cancel-safe.
    pub async fn acquire(&self) -> BreakerPermit {
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_acquire() {
                Ok(permit) => return permit,
                Err(open) if open.retry_in > Duration::ZERO => {
                    tokio::select! {
                        _ = tokio::time::sleep(open.retry_in) => {}
                        _ = &mut notified => {}
                    }
                }
                Err(_) => notified.await,
            }
        }
    }

    fn permit(&self, probe: bool, epoch: u64) -> BreakerPermit {
        BreakerPermit {
            breaker: Some(self.clone()),
            probe,
            epoch,
        }
    }

    fn open(&self, inner: &mut BreakerInner, now: Instant) {
        inner.state = BreakerState::Open {
            until: now + self.shared.config.cool_down,
        };
        inner.epoch += 1;
        inner.times_opened += 1;
        inner.consecutive = 0;
        inner.recent.clear();
        tracing::warn!(breaker = %self.shared.name, cool_down = ?self.shared.config.cool_down,
            "circuit opened after repeated failures");
    }

    fn record(&self, probe: bool, epoch: u64, outcome: Option<bool>) {
        let mut inner = self.shared.inner.lock();
        let now = Instant::now();
        let config = self.shared.config;
        if probe {
            match outcome {
                Some(true) => {
                    inner.state = BreakerState::Closed;
                    inner.consecutive = 0;
                    inner.recent.clear();
                    tracing::info!(breaker = %self.shared.name, "circuit closed after a successful probe");
                }
                Some(false) => self.open(&mut inner, now),
                None => {
                    if inner.state
                        == (BreakerState::HalfOpen {
                            probe_in_flight: true,
                        })
                    {
                        inner.state = BreakerState::HalfOpen {
                            probe_in_flight: false,
                        };
                    }
                }
            }
        } else if let Some(success) = outcome
            && epoch == inner.epoch
            && inner.state == BreakerState::Closed
        {
            if success {
                inner.consecutive = 0;
            } else {
                inner.consecutive += 1;
            }
            if inner.recent.len() == config.window.max(1) {
                inner.recent.pop_front();
            }
            inner.recent.push_back(success);
            let failures = inner.recent.iter().filter(|ok| !**ok).count();
            let ratio_tripped = inner.recent.len() >= config.min_calls.max(1)
                && failures as f64 >= config.failure_ratio * inner.recent.len() as f64;
            if inner.consecutive >= config.consecutive_failures.max(1) || ratio_tripped {
                self.open(&mut inner, now);
            }
        }
        drop(inner);
        self.shared.changed.notify_waiters();
    }
}

/// Permission for one call through a [`CircuitBreaker`]. Report the outcome with
/// [`success`](Self::success) or [`failure`](Self::failure); dropping it unreported records
/// nothing (and frees the probe slot in half-open).
#[derive(Debug)]
#[must_use = "report the call's outcome with success() or failure()"]
pub struct BreakerPermit {
    breaker: Option<CircuitBreaker>,
    probe: bool,
    epoch: u64,
}

impl BreakerPermit {
    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call reached a healthy server.
    pub fn success(mut self) {
        if let Some(b) = self.breaker.take() {
            b.record(self.probe, self.epoch, Some(true));
        }
    }

    /// The call failed in a way that suggests the connection is down.
    pub fn failure(mut self) {
        if let Some(b) = self.breaker.take() {
            b.record(self.probe, self.epoch, Some(false));
        }
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if let Some(b) = self.breaker.take() {
            b.record(self.probe, self.epoch, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_full_jitter_bounds() {
        let config = BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            max_retries: 20,
        };
        let backoff = Backoff::seeded(config, 42);
        for attempt in 0..20 {
            let ceiling = backoff.ceiling(attempt);
            let expected =
                Duration::from_millis(100 * (1u64 << attempt.min(20))).min(Duration::from_secs(10));
            assert_eq!(ceiling, expected, "attempt {attempt}");
            for _ in 0..200 {
                assert!(backoff.next_delay(attempt, None) <= ceiling);
            }
        }
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn backoff_is_uniform_and_reproducible() {
        let config = BackoffConfig {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(1),
            max_retries: 3,
        };
        let a = Backoff::seeded(config, 9);
        let b = Backoff::seeded(config, 9);
        let draws: Vec<Duration> = (0..4000).map(|_| a.next_delay(0, None)).collect();
        let again: Vec<Duration> = (0..4000).map(|_| b.next_delay(0, None)).collect();
        assert_eq!(draws, again);
        let mean = draws.iter().map(Duration::as_secs_f64).sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.03, "mean {mean}");
        let low = draws.iter().filter(|d| d.as_secs_f64() < 0.25).count();
        assert!((800..1200).contains(&low), "{low} of 4000 below a quarter");
    }

    #[test]
    fn retry_after_is_never_undercut() {
        let backoff = Backoff::seeded(BackoffConfig::default(), 1);
        for attempt in 0..10 {
            let after = Duration::from_secs(90); // beyond the 60 s cap
            assert!(backoff.next_delay(attempt, Some(after)) >= after);
            let small = Duration::from_millis(10);
            assert!(backoff.next_delay(attempt, Some(small)) >= small);
        }
        assert!(!backoff.exhausted(7));
        assert!(backoff.exhausted(8));
    }

    #[test]
    fn classification_per_platform() {
        use RetryClass::*;
        assert_eq!(
            RetryClass::from_status(429, Some(Duration::from_secs(3))),
            Retryable {
                after: Some(Duration::from_secs(3))
            }
        );
        for s in [408, 425, 500, 502, 503, 504] {
            assert!(RetryClass::from_status(s, None).is_retryable(), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 422, 501, 505] {
            assert_eq!(RetryClass::from_status(s, None), Permanent, "{s}");
        }
        let st = ThrottleStatus {
            maximum_available: 1000.0,
            currently_available: 66.0,
            restore_rate: 50.0,
        };
        assert_eq!(
            RetryClass::shopify_graphql("THROTTLED", Some((&st, 70.0))).retry_after(),
            Some(Duration::from_millis(80))
        );
        assert!(RetryClass::shopify_graphql("INTERNAL_SERVER_ERROR", None).is_retryable());
        assert_eq!(
            RetryClass::shopify_graphql("MAX_COST_EXCEEDED", None),
            Permanent
        );
        assert!(RetryClass::netsuite(400, Some("SSS_REQUEST_LIMIT_EXCEEDED"), None).is_retryable());
        assert!(RetryClass::netsuite(429, None, None).is_retryable());
        assert_eq!(
            RetryClass::netsuite(400, Some("INVALID_KEY_OR_REF"), None),
            Permanent
        );
        assert!(RetryClass::transport().is_retryable());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_helper_honours_retry_after_and_gives_up() {
        let backoff = Backoff::seeded(
            BackoffConfig {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(10),
                max_retries: 3,
            },
            5,
        );
        let classify =
            |e: &(u16, u64)| RetryClass::from_status(e.0, Some(Duration::from_secs(e.1)));
        let start = Instant::now();
        let ok = retry(&backoff, classify, |attempt| async move {
            if attempt < 2 {
                Err((429, 2))
            } else {
                Ok(attempt)
            }
        })
        .await
        .unwrap();
        assert_eq!(ok, 2);
        assert!(start.elapsed() >= Duration::from_secs(4));
        assert!(start.elapsed() <= Duration::from_secs(4) + Duration::from_millis(20));

        let calls = std::sync::atomic::AtomicU32::new(0);
        let err = retry(&backoff, classify, |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Err::<(), _>((503, 0)) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, RetryError::Exhausted { attempts: 4, .. }));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);

        let start = Instant::now();
        let err = retry(&backoff, classify, |_| async { Err::<(), _>((404, 0)) })
            .await
            .unwrap_err();
        assert!(matches!(err, RetryError::Permanent { attempts: 1, .. }));
        assert_eq!(err.into_last(), (404, 0));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 2.0 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:29:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after_at("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after_at("tomorrow", now), None);
    }

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            failure_ratio: 0.5,
            window: 10,
            min_calls: 10,
            cool_down: Duration::from_secs(30),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_after_consecutive_failures_and_recovers_through_a_probe() {
        let b = CircuitBreaker::new("ns:acct", config());
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().success(); // resets the run
        for _ in 0..3 {
            assert_eq!(b.state(), BreakerState::Closed);
            b.try_acquire().unwrap().failure();
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        let refused = b.try_acquire().unwrap_err();
        assert_eq!(refused.retry_in, Duration::from_secs(30));
        assert_eq!(refused.name, "ns:acct");
        assert!(refused.to_string().contains("circuit `ns:acct` is open"));

        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_in_flight: false
            }
        );
        let probe = b.try_acquire().unwrap();
        assert!(probe.is_probe());
        // Only one probe at a time.
        assert_eq!(b.try_acquire().unwrap_err().retry_in, Duration::ZERO);
        probe.failure();
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.times_opened(), 2);

        tokio::time::advance(Duration::from_secs(30)).await;
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(!b.try_acquire().unwrap().is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_on_failure_ratio() {
        let b = CircuitBreaker::new("x", config());
        for i in 0..10 {
            let p = b.try_acquire().unwrap();
            if i % 2 == 0 { p.failure() } else { p.success() }
        }
        // 5 of 10 failed, never 3 in a row: the ratio trips it.
        assert!(matches!(b.state(), BreakerState::Open { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_admitted_before_opening_do_not_count_afterwards() {
        let b = CircuitBreaker::new("x", config());
        let late = b.try_acquire().unwrap();
        for _ in 0..3 {
            b.try_acquire().unwrap().failure();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        let probe = b.try_acquire().unwrap();
        late.success(); // from before the outage: must not close the breaker
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_in_flight: true
            }
        );
        drop(probe); // no outcome: the probe slot is free again
        assert!(b.try_acquire().unwrap().is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_the_cool_down() {
        let b = CircuitBreaker::new("x", config());
        for _ in 0..3 {
            b.try_acquire().unwrap().failure();
        }
        let start = Instant::now();
        let probe = b.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert!(probe.is_probe());
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire().await.is_probe() })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        probe.success();
        assert!(!waiter.await.unwrap(), "after closing, calls are normal");
    }
}
