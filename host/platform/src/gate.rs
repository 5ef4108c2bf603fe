//! How every connector request passes the host's rate limiters (`weft-ratelimit`): each
//! platform picks the shape its API has (a learned cost bucket, an account-wide concurrency
//! governor shared by every store on the account, a window quota), and every connection may
//! have a [`CircuitBreaker`] that refuses calls while the connection is down. Transient
//! failures (5xx, timeouts, connection errors) count as failures; any answer from the
//! platform, even a refusal or a throttle, proves the connection is up.

use weft_ratelimit::BreakerPermit;
pub use weft_ratelimit::{CircuitBreaker, ConcurrencyGovernor, QueryCost, ThrottleStatus};

use crate::ConnectorError;

/// Asks the breaker (if any) for a call permit.
pub fn breaker_permit(
    breaker: Option<&CircuitBreaker>,
    system: &'static str,
) -> Result<Option<BreakerPermit>, ConnectorError> {
    match breaker {
        None => Ok(None),
        Some(b) => b
            .try_acquire()
            .map(Some)
            .map_err(|open| ConnectorError::Retryable {
                system,
                status: None,
                message: open.to_string(),
                retry_after: Some(open.retry_in),
            }),
    }
}

/// Reports a call's outcome to its breaker permit.
pub fn breaker_record<T>(permit: Option<BreakerPermit>, result: &Result<T, ConnectorError>) {
    let Some(p) = permit else { return };
    let down = match result {
        Ok(_) => false,
        Err(ConnectorError::Retryable { .. }) => true,
        Err(ConnectorError::Transport { retryable, .. }) => *retryable,
        // Refused credentials: the connection is unusable until someone fixes them.
        Err(e) => e.is_auth_failure(),
    };
    if down { p.failure() } else { p.success() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use weft_ratelimit::BreakerConfig;

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_on_transient_failures_only() {
        let b = CircuitBreaker::new(
            "test",
            BreakerConfig {
                consecutive_failures: 2,
                failure_ratio: 1.0,
                window: 10,
                min_calls: 10,
                cool_down: Duration::from_secs(5),
            },
        );
        let permanent: Result<(), _> = Err(ConnectorError::Permanent {
            system: "netsuite",
            status: 400,
            code: "USER_ERROR".into(),
            message: "bad".into(),
        });
        for _ in 0..3 {
            breaker_record(breaker_permit(Some(&b), "netsuite").unwrap(), &permanent);
        }
        assert!(breaker_permit(Some(&b), "netsuite").is_ok());
        let transient: Result<(), _> = Err(ConnectorError::Retryable {
            system: "netsuite",
            status: Some(503),
            message: "down".into(),
            retry_after: None,
        });
        for _ in 0..2 {
            breaker_record(breaker_permit(Some(&b), "netsuite").unwrap(), &transient);
        }
        let refused = breaker_permit(Some(&b), "netsuite").unwrap_err();
        assert!(refused.is_retryable());
        assert!(refused.retry_after().is_some());
        assert!(breaker_permit(None, "netsuite").unwrap().is_none());
    }
}
