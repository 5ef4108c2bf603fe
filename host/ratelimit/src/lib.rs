//! Rate-limit-aware scheduling primitives for weft's dispatcher and connectors.
//!
//! The platforms' rate limits are the physical limit on how fast weft syncs. This crate keeps a
//! client-side model of each limit, learned from the servers' own responses, and waits *before*
//! sending rather than after being throttled:
//!
//! - [`ShopifyCostLimiter`]: Shopify GraphQL calculated-cost leaky bucket, per shop;
//!   [`RestCallLimiter`]: Shopify REST request bucket (`X-Shopify-Shop-Api-Call-Limit`).
//! - [`ConcurrencyGovernor`] / [`GovernorRegistry`]: NetSuite's account-wide concurrency limit,
//!   one governor per account, stores served round robin.
//! - [`Backoff`], [`RetryClass`], [`CircuitBreaker`]: retries with full jitter that honour
//!   `Retry-After`, per-platform error classification, and outage protection.
//! - [`Schedule`]: per-store reconciliation interval, full-resync cron and quiet hours.
//!
//! Coalescing and batching of writes are the outbox's and the dispatcher's (`weft-store`,
//! `weft-engine`). A window quota (N requests per window, for BigCommerce and Google Sheets)
//! existed here unused and was removed; it is in git history at 31c874a
//! (`host/ratelimit/src/window.rs`) for the platform that needs it.
//!
//! Everything waits on `tokio::time`, so tests run instantly on tokio's paused clock.
//!
//! # Calling pattern (every HTTP request)
//!
//! ```text
//! let _slot   = governor.acquire(store).await;          // NetSuite only
//! let probe   = breaker.try_acquire()?;                 // fail fast while the connection is down
//! let permit  = limiter.reserve(requested_cost).await?; // Shopify GraphQL
//! let result  = send().await;
//! permit.settle(actual_cost, &throttle_status);         // or permit.throttled(&status)
//! probe.success();                                      // or probe.failure()
//! ```

mod error;
mod governor;
mod retry;
mod schedule;
mod shopify;

pub use error::{CircuitOpen, HeaderError, LimitError, ScheduleError};
pub use governor::{ConcurrencyGovernor, GovernorRegistry, GovernorStats, Guard};
pub use retry::{
    Backoff, BackoffConfig, BreakerConfig, BreakerPermit, BreakerState, CircuitBreaker, RetryClass,
    RetryError, parse_retry_after, parse_retry_after_at, retry,
};
pub use schedule::{Cron, QuietHours, RunKind, Schedule, ScheduledRun, UtcOffset};
pub use shopify::{
    CostLimiterConfig, CostModel, CostPermit, CostStats, QueryCost, RestCallLimiter,
    RestLimiterConfig, RestPermit, SINGLE_QUERY_MAX_COST, ShopifyCostLimiter, ThrottleStatus,
    parse_call_limit,
};
