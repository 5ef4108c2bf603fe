//! NetSuite's REST error shape (`type`, `title`, `status`, `o:errorDetails[]`) and the
//! simulator's own configuration errors.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// An error answered to an HTTP client in NetSuite's documented shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NsError {
    /// HTTP status.
    pub status: StatusCode,
    /// `o:errorCode`, e.g. `INVALID_FIELD`.
    pub code: &'static str,
    /// Human-readable `detail`.
    pub detail: String,
    /// `o:errorPath`: the body field at fault, when there is one.
    pub path: Option<String>,
    /// `o:errorQueryParam`: the query parameter at fault, when there is one.
    pub query_param: Option<String>,
}

/// Invalid login (NetSuite hides the reason; the simulator keeps it in its login audit trail).
pub const INVALID_LOGIN_DETAIL: &str = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.";

/// The detail text of an over-limit answer (NetSuite's wording for SuiteTalk faults).
pub const CONCURRENCY_DETAIL: &str = "Concurrent request limit exceeded. Request blocked.";

impl NsError {
    /// A new error with the given status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            path: None,
            query_param: None,
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// Sets `o:errorPath`.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets `o:errorQueryParam`.
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.query_param = Some(param.into());
        self
    }

    /// 404 for a record id that does not exist.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NONEXISTENT_ID",
            "The record instance does not exist. Provide a valid record instance ID.",
        )
    }

    /// 401 `INVALID_LOGIN_ATTEMPT`.
    pub fn invalid_login() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_LOGIN_ATTEMPT",
            INVALID_LOGIN_DETAIL,
        )
    }

    /// 429 for a request over the account's concurrency limit.
    pub fn concurrency() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "CONCURRENCY_LIMIT_EXCEEDED",
            CONCURRENCY_DETAIL,
        )
    }

    /// The JSON body NetSuite returns for this error.
    pub fn body(&self) -> Value {
        let mut detail = serde_json::Map::new();
        detail.insert("detail".into(), json!(self.detail));
        detail.insert("o:errorCode".into(), json!(self.code));
        if let Some(p) = &self.path {
            detail.insert("o:errorPath".into(), json!(p));
        }
        if let Some(q) = &self.query_param {
            detail.insert("o:errorQueryParam".into(), json!(q));
        }
        json!({
            "type": type_uri(self.status),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "o:errorDetails": [Value::Object(detail)],
        })
    }
}

/// The `type` URI NetSuite uses per status (RFC 2616 section anchors; RFC 6585 for 429).
fn type_uri(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
        401 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.2",
        403 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4",
        404 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.5",
        405 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.6",
        413 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.14",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        _ => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.1",
    }
}

impl std::fmt::Display for NsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for NsError {}

impl IntoResponse for NsError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/vnd.oracle.resource+json; type=error"),
        );
        resp
    }
}

/// Errors building a simulator from its configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The account id has characters NetSuite account ids never have.
    #[error(
        "netsuite sim config: account id `{0}` must be letters, digits and `_` (e.g. 1234567 or 1234567_SB1)"
    )]
    BadAccountId(String),
    /// No integration was configured.
    #[error("netsuite sim config: at least one integration with one token is required")]
    NoIntegrations,
    /// A consumer key or token id is used twice.
    #[error("netsuite sim config: duplicate {kind} `{id}`")]
    Duplicate {
        /// `consumer key` or `token id`.
        kind: &'static str,
        /// The repeated value.
        id: String,
    },
    /// The concurrency limit is zero.
    #[error("netsuite sim config: concurrency limit must be at least 1")]
    ZeroConcurrency,
}
