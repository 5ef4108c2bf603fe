//! Error types of the rate-limit crate.

use std::time::Duration;

/// A request that a limiter can never let through.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// The cost is negative, NaN or infinite.
    #[error("shopify query cost {cost} is not a finite non-negative number")]
    InvalidCost {
        /// The offending cost.
        cost: f64,
    },
    /// Shopify rejects any single query whose requested cost exceeds 1000 points.
    #[error("shopify query cost {cost} exceeds the single-query maximum of {maximum} points")]
    CostAboveQueryMaximum {
        /// Requested cost.
        cost: f64,
        /// The single-query maximum.
        maximum: f64,
    },
    /// The shop's bucket (as learned from the server) can never hold this cost.
    #[error("shopify query cost {cost} exceeds the shop's bucket of {maximum} points")]
    CostAboveBucket {
        /// Requested cost.
        cost: f64,
        /// Learned bucket size, less the safety margin.
        maximum: f64,
    },
}

/// A rate-limit response header that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The header value does not have the documented shape.
    #[error("malformed `{header}` header: {value:?}")]
    Malformed {
        /// Header name.
        header: &'static str,
        /// The value received.
        value: String,
    },
}

/// The circuit breaker refused a call because the connection is considered down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit `{name}` is open after repeated failures; next probe allowed in {retry_in:?}")]
pub struct CircuitOpen {
    /// The breaker's name (usually the connection).
    pub name: String,
    /// Time until a probe call will be let through (zero when a probe is already in flight).
    pub retry_in: Duration,
}

/// A schedule expression (cron, quiet hours, UTC offset) that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A cron expression does not have exactly five fields.
    #[error(
        "cron expression {expr:?} has {found} fields, expected 5 (minute hour day-of-month month day-of-week)"
    )]
    CronFieldCount {
        /// The expression.
        expr: String,
        /// Number of fields found.
        found: usize,
    },
    /// A cron field is malformed or out of range.
    #[error("cron {field} field {value:?} is invalid: {reason}")]
    CronField {
        /// Field name (`minute`, `hour`, ...).
        field: &'static str,
        /// The field text.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Quiet hours are not of the form `HH:MM-HH:MM`.
    #[error(
        "quiet hours {value:?} are invalid: {reason} (expected \"HH:MM-HH:MM\", e.g. \"01:00-05:00\")"
    )]
    QuietHours {
        /// The text.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A UTC offset is not of the form `+HH:MM` / `-HH:MM` / `Z`.
    #[error(
        "utc offset {value:?} is invalid (expected \"+HH:MM\", \"-HH:MM\" or \"Z\", at most 23:59)"
    )]
    UtcOffset {
        /// The text.
        value: String,
    },
    /// The reconciliation interval is zero.
    #[error("reconciliation interval must be greater than zero")]
    ZeroInterval,
}
