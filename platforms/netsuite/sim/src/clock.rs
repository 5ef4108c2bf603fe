//! The simulator's wall clock: a configurable base time advanced by tokio's monotonic clock
//! (so a paused test clock drives it), plus knobs to freeze it (many edits in one second, like
//! NetSuite's second-granularity `lastModifiedDate`) and to jump it forward.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use parking_lot::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Simulated wall time.
#[derive(Debug)]
pub struct SimClock {
    inner: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    base: DateTime<Utc>,
    start: Instant,
    offset: TimeDelta,
    frozen: Option<DateTime<Utc>>,
}

impl SimClock {
    /// A clock that reads `base` now and then advances with tokio's clock.
    pub fn new(base: DateTime<Utc>) -> Self {
        Self {
            inner: Mutex::new(ClockState {
                base,
                start: Instant::now(),
                offset: TimeDelta::zero(),
                frozen: None,
            }),
        }
    }

    /// The current simulated time (sub-second precision).
    pub fn now(&self) -> DateTime<Utc> {
        let s = self.inner.lock();
        s.now()
    }

    /// The current simulated time truncated to whole seconds, as NetSuite stores
    /// `lastModifiedDate`.
    pub fn now_secs(&self) -> DateTime<Utc> {
        self.now().trunc_subsecs(0)
    }

    /// Stops the clock at the current instant until [`SimClock::unfreeze`].
    pub fn freeze(&self) {
        let mut s = self.inner.lock();
        let now = s.now();
        s.frozen = Some(now);
    }

    /// Restarts a frozen clock from where it stopped (time never goes backwards).
    pub fn unfreeze(&self) {
        let mut s = self.inner.lock();
        if let Some(at) = s.frozen.take() {
            let running = s.now();
            s.offset += at - running;
        }
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        self.inner.lock().frozen.is_some()
    }

    /// Moves the clock forward by `by` (also while frozen).
    pub fn advance(&self, by: Duration) {
        let mut s = self.inner.lock();
        let delta = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        s.offset += delta;
        if let Some(f) = s.frozen.as_mut() {
            *f += delta;
        }
    }
}

impl ClockState {
    fn now(&self) -> DateTime<Utc> {
        if let Some(f) = self.frozen {
            return f;
        }
        let elapsed = TimeDelta::from_std(self.start.elapsed()).unwrap_or(TimeDelta::MAX);
        self.base + elapsed + self.offset
    }
}

/// Formats a timestamp as NetSuite's REST API does (`2026-11-26T10:00:00Z`).
pub fn format_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn freeze_advance_unfreeze() {
        let base = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = SimClock::new(base);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(format_datetime(c.now_secs()), "2026-01-01T00:00:01Z");
        c.freeze();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(format_datetime(c.now_secs()), "2026-01-01T00:00:01Z");
        c.advance(Duration::from_secs(60));
        assert_eq!(format_datetime(c.now_secs()), "2026-01-01T00:01:01Z");
        c.unfreeze();
        assert_eq!(format_datetime(c.now_secs()), "2026-01-01T00:01:01Z");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(format_datetime(c.now_secs()), "2026-01-01T00:01:03Z");
    }
}
