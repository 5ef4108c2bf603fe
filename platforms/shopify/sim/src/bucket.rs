//! Leaky buckets driven by `tokio::time::Instant`, so tests can run them on a paused clock.
//!
//! One type serves both Shopify models: the GraphQL cost bucket (points, restore rate per second)
//! and the REST request bucket (requests, leak rate per second, shown as `used/size`).

use tokio::time::Instant;

/// A bucket that holds up to `capacity` units and refills at `rate` units per second.
#[derive(Debug, Clone)]
pub struct LeakyBucket {
    capacity: f64,
    rate: f64,
    available: f64,
    last: Instant,
}

impl LeakyBucket {
    /// A full bucket.
    pub fn new(capacity: f64, rate: f64) -> Self {
        LeakyBucket {
            capacity,
            rate,
            available: capacity,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.available = (self.available + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Takes `amount` if the bucket holds it; otherwise takes nothing and returns false.
    pub fn try_take(&mut self, amount: f64) -> bool {
        self.refill();
        // A tiny epsilon absorbs float error from fractional refills.
        if self.available + 1e-9 >= amount {
            self.available = (self.available - amount).max(0.0);
            true
        } else {
            false
        }
    }

    /// Gives back `amount` (capped at capacity).
    pub fn refund(&mut self, amount: f64) {
        self.refill();
        self.available = (self.available + amount).min(self.capacity);
    }

    /// Units available now.
    pub fn available(&mut self) -> f64 {
        self.refill();
        self.available
    }

    /// Capacity.
    pub fn capacity(&self) -> f64 {
        self.capacity
    }

    /// Refill rate per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Seconds until `amount` units will be available (0 if they are now).
    pub fn seconds_until(&mut self, amount: f64) -> f64 {
        self.refill();
        if self.available >= amount {
            0.0
        } else {
            (amount - self.available) / self.rate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn refills_at_rate_and_caps() {
        let mut b = LeakyBucket::new(1000.0, 100.0);
        assert!(b.try_take(900.0));
        assert!(!b.try_take(200.0));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!((b.available() - 200.0).abs() < 1e-6);
        assert!(b.try_take(200.0));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!((b.available() - 1000.0).abs() < 1e-6);
        assert!((b.seconds_until(1500.0) - 5.0).abs() < 1e-6);
    }
}
