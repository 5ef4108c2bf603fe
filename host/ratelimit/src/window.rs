//! Windowed request quotas (N requests per window): BigCommerce's per-store quota with its
//! `X-Rate-Limit-*` headers, Google Sheets' per-minute quotas, and any later platform of the
//! same shape.
//!
//! The limiter never sends more than `quota` requests in any sliding window of `window` length,
//! which is safe whatever the alignment of the server's own (fixed) windows, and additionally
//! obeys the server's own count of requests left when the response headers carry one (the
//! BigCommerce quota is shared by every app on the store, so only the server knows it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::HeaderError;

/// Parameters of a [`WindowQuota`] before (or without) server headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Requests allowed per window.
    pub quota: u32,
    /// Window length.
    pub window: Duration,
    /// Wait after a 429 without `Retry-After`.
    pub default_retry_after: Duration,
}

impl WindowConfig {
    /// BigCommerce Standard/Plus plan: 150 requests per 30 s (learned from headers thereafter).
    pub const BIGCOMMERCE_STANDARD: WindowConfig = WindowConfig {
        quota: 150,
        window: Duration::from_secs(30),
        default_retry_after: Duration::from_secs(1),
    };
    /// Google Sheets, per user per project: 60 requests (reads or writes) per minute.
    pub const SHEETS_PER_USER: WindowConfig = WindowConfig {
        quota: 60,
        window: Duration::from_secs(60),
        default_retry_after: Duration::from_secs(1),
    };
    /// Google Sheets, per project: 300 requests per minute.
    pub const SHEETS_PER_PROJECT: WindowConfig = WindowConfig {
        quota: 300,
        window: Duration::from_secs(60),
        default_retry_after: Duration::from_secs(1),
    };
}

/// What one response said about the quota. Every field is optional: platforms send some,
/// all or none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowObservation {
    /// Requests left in the server's current window.
    pub requests_left: Option<u32>,
    /// Time until the server's window resets.
    pub reset_in: Option<Duration>,
    /// Requests per window.
    pub quota: Option<u32>,
    /// Window length.
    pub window: Option<Duration>,
}

impl WindowObservation {
    /// Read BigCommerce's `X-Rate-Limit-Requests-Left`, `X-Rate-Limit-Time-Reset-Ms`,
    /// `X-Rate-Limit-Requests-Quota` and `X-Rate-Limit-Time-Window-Ms` through `header`, a
    /// case-insensitive lookup of the response's headers. Absent headers stay `None`; a present
    /// but malformed one is an error.
    ///
    /// ```
    /// use weft_ratelimit::WindowObservation;
    /// let headers = [("x-rate-limit-requests-left", "149"), ("x-rate-limit-time-reset-ms", "29000"),
    ///                ("x-rate-limit-requests-quota", "150"), ("x-rate-limit-time-window-ms", "30000")];
    /// let get = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
    /// let obs = WindowObservation::from_bigcommerce_headers(get).unwrap();
    /// assert_eq!(obs.requests_left, Some(149));
    /// assert_eq!(obs.window, Some(std::time::Duration::from_secs(30)));
    /// ```
    pub fn from_bigcommerce_headers<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, HeaderError> {
        fn num(name: &'static str, value: Option<&str>) -> Result<Option<u64>, HeaderError> {
            value
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| HeaderError::Malformed {
                        header: name,
                        value: v.to_owned(),
                    })
                })
                .transpose()
        }
        const LEFT: &str = "X-Rate-Limit-Requests-Left";
        const RESET: &str = "X-Rate-Limit-Time-Reset-Ms";
        const QUOTA: &str = "X-Rate-Limit-Requests-Quota";
        const WINDOW: &str = "X-Rate-Limit-Time-Window-Ms";
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(Self {
            requests_left: num(LEFT, header(LEFT))?.map(clamp),
            reset_in: num(RESET, header(RESET))?.map(Duration::from_millis),
            quota: num(QUOTA, header(QUOTA))?.map(clamp),
            window: num(WINDOW, header(WINDOW))?
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct ServerWindow {
    left: u32,
    reset_at: Instant,
}

#[derive(Debug)]
struct WindowState {
    config: WindowConfig,
    quota: u32,
    window: Duration,
    /// Send times of requests within the last window.
    sent: VecDeque<Instant>,
    server: Option<ServerWindow>,
    blocked_until: Option<Instant>,
    outstanding: u32,
    throttled: u64,
    granted: u64,
}

impl WindowState {
    fn prune(&mut self, now: Instant) {
        while let Some(first) = self.sent.front() {
            if now.saturating_duration_since(*first) >= self.window {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        while self.sent.len() > self.quota as usize {
            // The quota shrank: keep the most recent sends, which constrain the longest.
            self.sent.pop_front();
        }
        if let Some(server) = self.server
            && now >= server.reset_at
        {
            self.server = None;
        }
    }

    /// How long until one more request may be sent, or `None` if it may be sent now.
    fn wait(&self, now: Instant) -> Option<Duration> {
        let mut wait = Duration::ZERO;
        if let Some(until) = self.blocked_until
            && until > now
        {
            wait = wait.max(until - now);
        }
        if self.quota == 0 {
            wait = wait.max(self.window);
        } else if self.sent.len() >= self.quota as usize {
            let oldest = self.sent[self.sent.len() - self.quota as usize];
            wait = wait.max((oldest + self.window).saturating_duration_since(now));
        }
        if let Some(server) = self.server
            && server.left == 0
        {
            wait = wait.max(server.reset_at.saturating_duration_since(now));
        }
        (wait > Duration::ZERO).then_some(wait)
    }
}

#[derive(Debug)]
struct WindowInner {
    state: Mutex<WindowState>,
    turn: tokio::sync::Mutex<()>,
    changed: Notify,
}

/// A learned "N requests per window" quota, shared by every caller of one quota (clone freely).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use weft_ratelimit::{WindowConfig, WindowObservation, WindowQuota};
/// let quota = WindowQuota::new(WindowConfig::BIGCOMMERCE_STANDARD);
/// let permit = quota.acquire().await;
/// // ... send; read the response headers ...
/// permit.settle(&WindowObservation { requests_left: Some(10), ..Default::default() });
/// let permit = quota.acquire().await;
/// permit.throttled(Some(std::time::Duration::from_secs(3))); // a 429 with Retry-After: 3
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct WindowQuota {
    inner: Arc<WindowInner>,
}

impl WindowQuota {
    /// A quota with the given starting assumptions.
    pub fn new(config: WindowConfig) -> Self {
        Self {
            inner: Arc::new(WindowInner {
                state: Mutex::new(WindowState {
                    config,
                    quota: config.quota,
                    window: config.window,
                    sent: VecDeque::new(),
                    server: None,
                    blocked_until: None,
                    outstanding: 0,
                    throttled: 0,
                    granted: 0,
                }),
                turn: tokio::sync::Mutex::new(()),
                changed: Notify::new(),
            }),
        }
    }

    /// Wait until one more request fits the quota, then take it. Cancel-safe.
    pub async fn acquire(&self) -> WindowPermit {
        let _turn = self.inner.turn.lock().await;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut st = self.inner.state.lock();
                let now = Instant::now();
                st.prune(now);
                match st.wait(now) {
                    None => {
                        st.sent.push_back(now);
                        if let Some(server) = st.server.as_mut() {
                            server.left -= 1;
                        }
                        st.outstanding += 1;
                        st.granted += 1;
                        return WindowPermit {
                            quota: Some(self.clone()),
                        };
                    }
                    Some(wait) => wait,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut notified => {}
            }
        }
    }

    /// Learned requests per window.
    pub fn quota(&self) -> u32 {
        self.inner.state.lock().quota
    }

    /// Learned window length.
    pub fn window(&self) -> Duration {
        self.inner.state.lock().window
    }

    /// Requests granted since creation.
    pub fn granted(&self) -> u64 {
        self.inner.state.lock().granted
    }

    /// 429 responses reported.
    pub fn throttled_count(&self) -> u64 {
        self.inner.state.lock().throttled
    }

    /// Apply what a response (to a request sent without a permit) said about the quota.
    pub fn observe(&self, observation: &WindowObservation) {
        self.apply(observation, false);
    }

    fn apply(&self, obs: &WindowObservation, own: bool) {
        let mut st = self.inner.state.lock();
        let now = Instant::now();
        if own {
            st.outstanding = st.outstanding.saturating_sub(1);
        }
        if let Some(quota) = obs.quota {
            st.quota = quota;
        }
        if let Some(window) = obs.window {
            st.window = window;
        }
        if let Some(left) = obs.requests_left {
            // Requests still in flight may not be counted in the server's figure yet.
            let left = left.saturating_sub(st.outstanding);
            let reset_in = obs.reset_in.unwrap_or(st.window);
            st.server = Some(ServerWindow {
                left,
                reset_at: now + reset_in,
            });
        }
        st.prune(now);
        drop(st);
        self.inner.changed.notify_waiters();
    }

    fn throttle(&self, retry_after: Option<Duration>) {
        let mut st = self.inner.state.lock();
        let now = Instant::now();
        st.outstanding = st.outstanding.saturating_sub(1);
        st.throttled += 1;
        let wait = retry_after.unwrap_or(st.config.default_retry_after);
        let until = now + wait;
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        st.server = Some(ServerWindow {
            left: 0,
            reset_at: until,
        });
        drop(st);
        self.inner.changed.notify_waiters();
    }

    fn abandon(&self) {
        let mut st = self.inner.state.lock();
        st.outstanding = st.outstanding.saturating_sub(1);
    }
}

/// One request's place in a [`WindowQuota`]. Dropping it unfinished keeps the request counted.
#[derive(Debug)]
#[must_use = "settle the permit with the response's rate-limit headers"]
pub struct WindowPermit {
    quota: Option<WindowQuota>,
}

impl WindowPermit {
    /// Finish with a non-429 response and what its headers said.
    pub fn settle(mut self, observation: &WindowObservation) {
        if let Some(quota) = self.quota.take() {
            quota.apply(observation, true);
        }
    }

    /// Finish with a 429: nothing more is sent until `retry_after` (or the configured default).
    pub fn throttled(mut self, retry_after: Option<Duration>) {
        if let Some(quota) = self.quota.take() {
            quota.throttle(retry_after);
        }
    }
}

impl Drop for WindowPermit {
    fn drop(&mut self) {
        if let Some(quota) = self.quota.take() {
            quota.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(quota: u32, window_ms: u64) -> WindowConfig {
        WindowConfig {
            quota,
            window: Duration::from_millis(window_ms),
            default_retry_after: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sliding_window_never_exceeds_quota_in_any_window() {
        let quota = WindowQuota::new(config(5, 1000));
        let start = Instant::now();
        let mut sends = Vec::new();
        for _ in 0..23 {
            let p = quota.acquire().await;
            sends.push(start.elapsed());
            p.settle(&WindowObservation::default());
        }
        // Any 1 s window holds at most 5 sends.
        for (i, t) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(1))
                .count();
            assert!(in_window <= 5, "{in_window} sends in the window from {t:?}");
        }
        // And the quota is used: 23 sends take 4 full windows.
        assert_eq!(*sends.last().unwrap(), Duration::from_secs(4));
        assert_eq!(quota.granted(), 23);
    }

    #[tokio::test(start_paused = true)]
    async fn server_count_of_requests_left_is_obeyed() {
        let quota = WindowQuota::new(WindowConfig::BIGCOMMERCE_STANDARD);
        let start = Instant::now();
        // Another app has used the store's quota: 1 left, reset in 700 ms.
        quota.acquire().await.settle(&WindowObservation {
            requests_left: Some(1),
            reset_in: Some(Duration::from_millis(700)),
            quota: Some(150),
            window: Some(Duration::from_secs(30)),
        });
        quota.acquire().await.settle(&WindowObservation {
            requests_left: Some(0),
            reset_in: Some(Duration::from_millis(700)),
            quota: None,
            window: None,
        });
        let p = quota.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(700));
        drop(p);
    }

    #[tokio::test(start_paused = true)]
    async fn learns_quota_and_window_from_headers() {
        let quota = WindowQuota::new(config(1000, 1000));
        quota.acquire().await.settle(&WindowObservation {
            requests_left: None,
            reset_in: None,
            quota: Some(3),
            window: Some(Duration::from_secs(10)),
        });
        assert_eq!(quota.quota(), 3);
        assert_eq!(quota.window(), Duration::from_secs(10));
        let start = Instant::now();
        drop(quota.acquire().await);
        drop(quota.acquire().await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(quota.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn too_many_requests_blocks_until_retry_after() {
        let quota = WindowQuota::new(WindowConfig::SHEETS_PER_USER);
        quota
            .acquire()
            .await
            .throttled(Some(Duration::from_secs(7)));
        let start = Instant::now();
        drop(quota.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(7));
        assert_eq!(quota.throttled_count(), 1);
        quota.acquire().await.throttled(None);
        let start = Instant::now();
        drop(quota.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_are_not_double_spent() {
        let quota = WindowQuota::new(WindowConfig::BIGCOMMERCE_STANDARD);
        let a = quota.acquire().await;
        let b = quota.acquire().await;
        // The server answered `a` before `b` arrived: it says 1 left, but `b` will take it.
        a.settle(&WindowObservation {
            requests_left: Some(1),
            reset_in: Some(Duration::from_secs(5)),
            ..Default::default()
        });
        let start = Instant::now();
        drop(quota.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        drop(b);
    }

    #[test]
    fn bigcommerce_headers() {
        let headers = [
            ("X-Rate-Limit-Requests-Left", "3"),
            ("X-Rate-Limit-Time-Reset-Ms", "1500"),
        ];
        let obs = WindowObservation::from_bigcommerce_headers(|name| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        })
        .unwrap();
        assert_eq!(obs.requests_left, Some(3));
        assert_eq!(obs.reset_in, Some(Duration::from_millis(1500)));
        assert_eq!(obs.quota, None);
        let err = WindowObservation::from_bigcommerce_headers(|name| {
            (name == "X-Rate-Limit-Requests-Quota").then_some("lots")
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed `X-Rate-Limit-Requests-Quota` header: \"lots\""
        );
    }
}
