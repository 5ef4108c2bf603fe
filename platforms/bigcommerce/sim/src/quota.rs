//! The store-wide request quota: fixed windows (30 s by default) of N requests shared by every
//! app on the store, including the "other apps" of the background load.
//!
//! Windows are consecutive from the simulator's start. Other apps make their
//! `background_per_window` requests evenly spread over each window (by the time a fraction
//! `f` of the window has passed, `floor(f * background)` of them have been attempted) or all at
//! its start ([`BackgroundShape::Burst`]); each one spends a unit if any is left and is refused
//! (and not retried) otherwise.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::config::{BackgroundShape, QuotaConfig};

/// What the quota answered one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaAnswer {
    /// Whether the request may proceed (else 429).
    pub allowed: bool,
    /// `X-Rate-Limit-Requests-Left`: what is left in the window after this request.
    pub left: u32,
    /// `X-Rate-Limit-Requests-Quota`.
    pub quota: u32,
    /// `X-Rate-Limit-Time-Window-Ms`.
    pub window_ms: u64,
    /// `X-Rate-Limit-Time-Reset-Ms`: until the window ends.
    pub reset_ms: u64,
}

/// Counters of one closed or current window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WindowStats {
    /// Window number since start.
    pub window: u64,
    /// Requests of the API's clients (weft and anyone else calling over HTTP) that were served.
    pub api_spent: u32,
    /// API requests refused with 429.
    pub api_refused: u32,
    /// Background (other apps') requests that were served.
    pub others_spent: u32,
    /// Background requests refused.
    pub others_refused: u32,
}

/// The quota's state.
#[derive(Debug)]
pub struct Quota {
    config: QuotaConfig,
    started: Instant,
    current: WindowStats,
    others_attempted: u32,
    history: Vec<WindowStats>,
}

impl Quota {
    /// A fresh quota starting now.
    pub fn new(config: QuotaConfig) -> Self {
        Quota {
            config,
            started: Instant::now(),
            current: WindowStats::default(),
            others_attempted: 0,
            history: Vec::new(),
        }
    }

    /// Changes how many requests other apps make per window (from now on).
    pub fn set_background(&mut self, per_window: u32) {
        self.config.background_per_window = per_window.min(self.config.requests_per_window);
    }

    /// The configuration in force.
    pub fn config(&self) -> &QuotaConfig {
        &self.config
    }

    fn window_ms(&self) -> u64 {
        self.config.window.as_millis().max(1) as u64
    }

    fn spent(&self) -> u32 {
        self.current.api_spent + self.current.others_spent
    }

    /// Rolls windows forward to `now` and lets the background catch up.
    fn advance(&mut self, now: Instant) -> u64 {
        let w = self.window_ms();
        let elapsed = now.saturating_duration_since(self.started).as_millis() as u64;
        let index = elapsed / w;
        while self.current.window < index {
            // Finish the background of the closing window before closing it.
            self.catch_up(w);
            let closed = std::mem::take(&mut self.current);
            self.current.window = closed.window + 1;
            self.history.push(closed);
            self.others_attempted = 0;
        }
        let into = elapsed % w;
        self.catch_up(into);
        w - into
    }

    fn catch_up(&mut self, into_ms: u64) {
        let bg = self.config.background_per_window as u64;
        let due = match self.config.background_shape {
            BackgroundShape::Even => (bg * into_ms / self.window_ms()) as u32,
            BackgroundShape::Burst => bg as u32,
        };
        while self.others_attempted < due {
            self.others_attempted += 1;
            if self.spent() < self.config.requests_per_window {
                self.current.others_spent += 1;
            } else {
                self.current.others_refused += 1;
            }
        }
    }

    /// Charges one API request.
    pub fn charge(&mut self) -> QuotaAnswer {
        let reset_ms = self.advance(Instant::now());
        let quota = self.config.requests_per_window;
        let allowed = self.spent() < quota;
        if allowed {
            self.current.api_spent += 1;
        } else {
            self.current.api_refused += 1;
        }
        QuotaAnswer {
            allowed,
            left: quota - self.spent().min(quota),
            quota,
            window_ms: self.window_ms(),
            reset_ms,
        }
    }

    /// Every window so far, the current one last.
    pub fn windows(&mut self) -> Vec<WindowStats> {
        self.advance(Instant::now());
        let mut out = self.history.clone();
        out.push(self.current.clone());
        out
    }

    /// How long until the current window ends.
    pub fn until_reset(&mut self) -> Duration {
        Duration::from_millis(self.advance(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: u32, bg: u32) -> Quota {
        Quota::new(QuotaConfig {
            requests_per_window: n,
            window: Duration::from_secs(30),
            background_per_window: bg,
            background_shape: BackgroundShape::Even,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_past_the_quota_until_the_window_resets() {
        let mut quota = q(3, 0);
        for left in [2, 1, 0] {
            let a = quota.charge();
            assert!(a.allowed);
            assert_eq!(a.left, left);
            assert_eq!(a.quota, 3);
            assert_eq!(a.window_ms, 30_000);
            assert_eq!(a.reset_ms, 30_000);
        }
        let refused = quota.charge();
        assert!(!refused.allowed);
        assert_eq!(refused.left, 0);
        tokio::time::advance(Duration::from_millis(29_000)).await;
        assert_eq!(quota.charge().reset_ms, 1_000);
        tokio::time::advance(Duration::from_millis(1_000)).await;
        let a = quota.charge();
        assert!(a.allowed);
        assert_eq!(a.left, 2);
        let w = quota.windows();
        assert_eq!(w[0].api_spent, 3);
        assert_eq!(w[0].api_refused, 2);
        assert_eq!(w[1].api_spent, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn other_apps_spend_evenly_over_the_window() {
        let mut quota = q(150, 60);
        tokio::time::advance(Duration::from_secs(15)).await;
        // Half the window: 30 of the others' 60 requests spent.
        assert_eq!(quota.charge().left, 150 - 30 - 1);
        tokio::time::advance(Duration::from_secs(15)).await;
        let w = quota.windows();
        assert_eq!(w[0].others_spent, 60);
        assert_eq!(w[0].api_spent, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn bursting_others_spend_at_the_windows_start() {
        let mut quota = q(150, 60);
        quota.config.background_shape = BackgroundShape::Burst;
        assert_eq!(quota.charge().left, 150 - 60 - 1);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(
            quota.charge().left,
            150 - 60 - 1,
            "again in the next window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn others_are_refused_when_the_quota_is_gone() {
        let mut quota = q(10, 10);
        for _ in 0..10 {
            assert!(quota.charge().allowed);
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        let w = quota.windows();
        assert_eq!(w[0].others_spent, 0);
        assert_eq!(w[0].others_refused, 10);
    }
}
