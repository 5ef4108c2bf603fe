//! The one error type every connector returns, and its retry classification.
//!
//! The dispatcher needs exactly three answers from a failed call: try again later (and when),
//! re-read and re-merge (a compare-and-set guard failed), or give up with the platform's own
//! message (dead letter). [`ConnectorError`] carries those answers; [`ConnectorError::is_retryable`]
//! and [`ConnectorError::retry_after`] are what a retry loop consults.

use std::time::Duration;

/// A failed call to a platform API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// The platform throttled the call (Shopify `THROTTLED`, HTTP 429, NetSuite's concurrency
    /// limit). Retry after `retry_after` when the platform said so.
    #[error("{system} throttled the request{}", fmt_after(.retry_after))]
    Throttled {
        /// "shopify" or "netsuite".
        system: &'static str,
        /// How long the platform asked to wait, when it said (Retry-After, or derived from the
        /// Shopify bucket's restore rate).
        retry_after: Option<Duration>,
    },
    /// A compare-and-set guard failed: the target no longer holds the value the write was
    /// computed against. The caller re-reads the target and re-merges.
    #[error("stale compare-and-set on {system} {what}: {message}")]
    Stale {
        /// "shopify" or "netsuite".
        system: &'static str,
        /// What was being written, e.g. "inventory level 123@456".
        what: String,
        /// The platform's message.
        message: String,
    },
    /// A transient failure (5xx, timeout, concurrency limit, connection reset): retry later.
    #[error("{system} transient failure{}: {message}", fmt_status(.status))]
    Retryable {
        /// "shopify" or "netsuite".
        system: &'static str,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What happened, with the platform's message when there is one.
        message: String,
        /// How long the platform asked to wait (Retry-After), when it said.
        retry_after: Option<Duration>,
    },
    /// The platform refused the request for a reason a retry cannot fix (validation error,
    /// unknown record, bad credentials). `message` is the platform's own text.
    #[error("{system} rejected the request (status {status}, code {code}): {message}")]
    Permanent {
        /// "shopify" or "netsuite".
        system: &'static str,
        /// The HTTP status (200 for GraphQL userErrors / errors on a 200 response).
        status: u16,
        /// The platform's error code (`o:errorCode`, userError `code`, GraphQL
        /// `extensions.code`), or "UNKNOWN".
        code: String,
        /// The platform's message, verbatim.
        message: String,
    },
    /// The request could not be sent or the response could not be read (DNS, connect refused,
    /// body not JSON). Connect and timeout failures are retryable; decode failures are not.
    #[error("{system} transport error: {message}")]
    Transport {
        /// "shopify" or "netsuite".
        system: &'static str,
        /// What failed.
        message: String,
        /// Whether sending again may succeed (connect / timeout / reset: yes; bad body: no).
        retryable: bool,
    },
    /// The platform accepted a batched call and settles it later (an asynchronous bulk whose
    /// operations a queue consumer applies): what it did is not known yet. `input` is the
    /// call's input from now on (the one sent, with what the platform answered, e.g. its bulk
    /// id): the caller keeps it in place of the one sent and sends it again after
    /// `retry_after`, which asks for the results and never submits the call a second time.
    /// Not a failure of the world or of the record: never counted as an outage.
    #[error("{system} accepted the call and settles it later: {message}")]
    Accepted {
        /// The platform.
        system: &'static str,
        /// The call's input from now on (boxed: the error type stays small).
        input: Box<serde_json::Value>,
        /// What is awaited (e.g. "bulk 6f1… has 3 of 10 operations open").
        message: String,
        /// When to ask again.
        retry_after: Option<Duration>,
    },
    /// The caller asked for something this connector cannot do (an unsupported kind/op pair, a
    /// missing id or field in a write command). Never retryable.
    #[error("invalid {system} request: {reason}")]
    Invalid {
        /// "shopify" or "netsuite".
        system: &'static str,
        /// What is wrong.
        #[source]
        reason: InvalidRequest,
    },
}

/// Why a request was refused before it was sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvalidRequest {
    /// The write command lacks a field the operation needs.
    #[error("missing `{field}` for {kind} {op}")]
    Missing {
        /// The missing field.
        field: &'static str,
        /// The entity kind.
        kind: String,
        /// The operation.
        op: String,
    },
    /// A field has the wrong type or format.
    #[error("field `{field}` is invalid: {reason}")]
    BadField {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connector does not support this kind/op on this system.
    #[error("{kind} {op} is not supported on {system}")]
    Unsupported {
        /// The system.
        system: String,
        /// The entity kind.
        kind: String,
        /// The operation.
        op: String,
    },
    /// A NetSuite external id contains characters other than letters, digits, `_` and `-`.
    #[error("external id `{0}` may contain only letters, digits, `_` and `-`")]
    ExternalId(String),
}

fn fmt_after(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(" (retry after {} ms)", d.as_millis()),
        None => String::new(),
    }
}

fn fmt_status(s: &Option<u16>) -> String {
    match s {
        Some(s) => format!(" (status {s})"),
        None => String::new(),
    }
}

impl ConnectorError {
    /// Whether the same request may succeed if sent again later.
    ///
    /// `Stale` is not retryable as-is: the request must be recomputed from a fresh read.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectorError::Throttled { .. } | ConnectorError::Retryable { .. } => true,
            ConnectorError::Transport { retryable, .. } => *retryable,
            // Asking again is the next step, but nothing failed: see `is_outage`.
            ConnectorError::Accepted { .. } => true,
            ConnectorError::Stale { .. }
            | ConnectorError::Permanent { .. }
            | ConnectorError::Invalid { .. } => false,
        }
    }

    /// Whether the credentials were refused (401, 403): the account's problem, not the
    /// record's. Writes wait for it to be fixed, like an outage.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            ConnectorError::Permanent {
                status: 401 | 403,
                ..
            }
        )
    }

    /// Whether the failure is the world's, not the record's: the platform is down, throttling,
    /// unreachable, or refusing the credentials. Such a write is waited out behind the
    /// connection's breaker, never dead-lettered, however long it takes.
    pub fn is_outage(&self) -> bool {
        !self.is_accepted() && (self.is_retryable() || self.is_auth_failure())
    }

    /// Whether the call was accepted and its results come later ([`ConnectorError::Accepted`]).
    pub fn is_accepted(&self) -> bool {
        matches!(self, ConnectorError::Accepted { .. })
    }

    /// Whether this is a failed compare-and-set (re-read and re-merge, then write again).
    pub fn is_stale(&self) -> bool {
        matches!(self, ConnectorError::Stale { .. })
    }

    /// The wait the platform asked for, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Throttled { retry_after, .. }
            | ConnectorError::Retryable { retry_after, .. }
            | ConnectorError::Accepted { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The system the error came from.
    pub fn system(&self) -> &'static str {
        match self {
            ConnectorError::Throttled { system, .. }
            | ConnectorError::Stale { system, .. }
            | ConnectorError::Retryable { system, .. }
            | ConnectorError::Permanent { system, .. }
            | ConnectorError::Transport { system, .. }
            | ConnectorError::Accepted { system, .. }
            | ConnectorError::Invalid { system, .. } => system,
        }
    }

    /// A request the connector refused to send (what was wrong with it, in `reason`).
    pub fn invalid(system: &'static str, reason: InvalidRequest) -> Self {
        ConnectorError::Invalid { system, reason }
    }

    /// Classifies a reqwest failure: connect, timeout and mid-body failures are retryable.
    pub fn from_reqwest(system: &'static str, err: reqwest::Error) -> Self {
        let retryable = err.is_connect() || err.is_timeout() || err.is_request() || err.is_body();
        let kind = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else if err.is_decode() {
            "could not decode the response"
        } else {
            "request failed"
        };
        // reqwest's Display includes the URL but never headers, so no secret leaks here.
        ConnectorError::Transport {
            system,
            message: format!("{kind}: {err}"),
            retryable,
        }
    }
}

/// Parses a `Retry-After` header value given in (possibly fractional) seconds. HTTP dates are
/// not used by either platform and are ignored.
pub fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        Some(Duration::from_secs_f64(secs.min(3600.0)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let t = ConnectorError::Throttled {
            system: "shopify",
            retry_after: Some(Duration::from_millis(1500)),
        };
        assert!(t.is_retryable());
        assert_eq!(t.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(
            t.to_string(),
            "shopify throttled the request (retry after 1500 ms)"
        );
        let s = ConnectorError::Stale {
            system: "shopify",
            what: "inventory level 1@2".into(),
            message: "stale".into(),
        };
        assert!(!s.is_retryable());
        assert!(s.is_stale());
        let p = ConnectorError::Permanent {
            system: "netsuite",
            status: 400,
            code: "USER_ERROR".into(),
            message: "Invalid field value".into(),
        };
        assert!(!p.is_retryable());
        assert_eq!(
            p.to_string(),
            "netsuite rejected the request (status 400, code USER_ERROR): Invalid field value"
        );
        let tr = ConnectorError::Transport {
            system: "netsuite",
            message: "could not connect".into(),
            retryable: true,
        };
        assert!(tr.is_retryable());
        let a = ConnectorError::Accepted {
            system: "erp",
            input: Box::new(serde_json::json!({"receipt": "b1"})),
            message: "open".into(),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert!(a.is_accepted() && a.is_retryable() && !a.is_outage());
        assert_eq!(a.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_parsing() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(parse_retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(reqwest::header::RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }
}
