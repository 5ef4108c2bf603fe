//! A keyed registry of shared limiters, so every connection to one shop (or store, or Sheets
//! project) uses the same limiter instance rather than each building its own.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Limiters keyed by what they limit (shop domain, BigCommerce store hash, Sheets project).
/// The value type is a cheap-to-clone handle such as [`ShopifyCostLimiter`](crate::ShopifyCostLimiter),
/// [`RestCallLimiter`](crate::RestCallLimiter), [`WindowQuota`](crate::WindowQuota) or
/// [`CircuitBreaker`](crate::CircuitBreaker). NetSuite accounts have their own
/// [`GovernorRegistry`](crate::GovernorRegistry).
///
/// ```
/// use weft_ratelimit::{LimiterRegistry, ShopifyCostLimiter};
/// let shops: LimiterRegistry<ShopifyCostLimiter> = LimiterRegistry::new();
/// let a = shops.get_or_insert_with("acme.myshopify.com", ShopifyCostLimiter::new);
/// let b = shops.get_or_insert_with("acme.myshopify.com", ShopifyCostLimiter::new);
/// // `a` and `b` share one bucket model.
/// assert_eq!(shops.keys(), vec!["acme.myshopify.com".to_owned()]);
/// # drop((a, b));
/// ```
#[derive(Debug)]
pub struct LimiterRegistry<T> {
    entries: Mutex<HashMap<String, T>>,
}

impl<T> Default for LimiterRegistry<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> LimiterRegistry<T> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The limiter for `key`, created by `make` on first use.
    pub fn get_or_insert_with(&self, key: &str, make: impl FnOnce() -> T) -> T {
        let mut entries = self.entries.lock();
        if let Some(existing) = entries.get(key) {
            return existing.clone();
        }
        let created = make();
        entries.insert(key.to_owned(), created.clone());
        created
    }

    /// The limiter for `key`, if one exists.
    pub fn get(&self, key: &str) -> Option<T> {
        self.entries.lock().get(key).cloned()
    }

    /// Forget `key` (e.g. a store removed from config); returns its limiter.
    pub fn remove(&self, key: &str) -> Option<T> {
        self.entries.lock().remove(key)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.entries.lock().keys().cloned().collect();
        keys.sort();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ShopifyCostLimiter, ThrottleStatus};

    #[tokio::test(start_paused = true)]
    async fn one_limiter_per_key() {
        let shops: LimiterRegistry<ShopifyCostLimiter> = LimiterRegistry::new();
        let a = shops.get_or_insert_with("a", ShopifyCostLimiter::new);
        a.reserve(1.0).await.unwrap().settle(
            1.0,
            &ThrottleStatus {
                maximum_available: 2000.0,
                currently_available: 1999.0,
                restore_rate: 200.0,
            },
        );
        let again = shops.get_or_insert_with("a", || panic!("must reuse the existing limiter"));
        assert_eq!(again.model().restore_rate, 200.0);
        let b = shops.get_or_insert_with("b", ShopifyCostLimiter::new);
        assert!(!b.model().learned);
        assert!(shops.remove("b").is_some());
        assert!(shops.get("b").is_none());
        assert_eq!(shops.keys(), vec!["a".to_owned()]);
    }
}
