//! Google's error bodies: `{"error":{"code","message","status","details"?}}` (the JSON error
//! format every Google API answers with), and the OAuth token endpoint's
//! `{"error","error_description"}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Google API error.
#[derive(Debug, Clone, PartialEq)]
pub struct GoogleError {
    /// HTTP status and `error.code`.
    pub code: u16,
    /// `error.status`, e.g. `INVALID_ARGUMENT`.
    pub status: &'static str,
    /// `error.message`.
    pub message: String,
    /// `error.details`, when Google sends them.
    pub details: Option<Value>,
}

impl GoogleError {
    /// An error with no details.
    pub fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        GoogleError {
            code,
            status,
            message: message.into(),
            details: None,
        }
    }

    /// 400 `INVALID_ARGUMENT`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }

    /// 400 "Unable to parse range: …".
    pub fn bad_range(range: &str) -> Self {
        Self::invalid(format!("Unable to parse range: {range}"))
    }

    /// 404 "Requested entity was not found.".
    pub fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "Requested entity was not found.")
    }

    /// 401 for a request without credentials.
    pub fn missing_credentials() -> Self {
        let mut e = Self::new(
            401,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
        e.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "CREDENTIALS_MISSING",
            "domain": "googleapis.com",
            "metadata": {"service": "sheets.googleapis.com", "method": "google.apps.sheets.v4.SpreadsheetsService"}
        }]));
        e
    }

    /// 401 for an unknown or expired token.
    pub fn invalid_credentials() -> Self {
        let mut e = Self::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
        e.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_EXPIRED",
            "domain": "googleapis.com",
            "metadata": {"service": "sheets.googleapis.com", "method": "google.apps.sheets.v4.SpreadsheetsService"}
        }]));
        e
    }

    /// 403 for a token whose scopes do not cover the method.
    pub fn insufficient_scopes() -> Self {
        let mut e = Self::new(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
        );
        e.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "sheets.googleapis.com", "method": "google.apps.sheets.v4.SpreadsheetsService"}
        }]));
        e
    }

    /// 403 for a spreadsheet not shared with the caller.
    pub fn no_permission() -> Self {
        Self::new(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
        )
    }

    /// 503 `UNAVAILABLE`.
    pub fn unavailable() -> Self {
        Self::new(503, "UNAVAILABLE", "The service is currently unavailable.")
    }

    /// The same error with `prefix` before its message (batch items: "Invalid data[0]: …").
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message, "status": self.status});
        if let Some(d) = &self.details {
            e["details"] = d.clone();
        }
        json!({ "error": e })
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.code, &self.body());
        if self.code == 401 {
            r.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        r
    }
}

/// An error of the OAuth token endpoint (RFC 6749 §5.2 as Google words it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// HTTP status (400 or 401).
    pub status: u16,
    /// `error`, e.g. `invalid_grant`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

impl TokenError {
    /// 400 `invalid_grant`.
    pub fn grant(description: impl Into<String>) -> Self {
        TokenError {
            status: 400,
            error: "invalid_grant",
            description: description.into(),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        )
    }
}

/// A JSON response with Google's content type.
pub fn json_response(status: u16, body: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}
