//! BigCommerce's error shapes: V3 `{"status","title","type","errors"}`, V2
//! `[{"status","message"}]`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The `type` every V3 error carries.
pub const ERROR_TYPE: &str =
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";

/// An API error, rendered in the shape of the API version that raised it.
#[derive(Clone, Debug, PartialEq)]
pub struct BcError {
    /// HTTP status.
    pub status: u16,
    /// V3 `title` / V2 `message`.
    pub title: String,
    /// V3 `errors` (field name to message).
    pub errors: Map<String, Value>,
}

impl BcError {
    /// An error with no field details.
    pub fn new(status: u16, title: impl Into<String>) -> Self {
        BcError {
            status,
            title: title.into(),
            errors: Map::new(),
        }
    }

    /// Adds a field detail.
    pub fn field(mut self, name: &str, message: impl Into<String>) -> Self {
        self.errors
            .insert(name.to_owned(), Value::String(message.into()));
        self
    }

    /// 404 for a missing record (V3's title).
    pub fn not_found() -> Self {
        BcError::new(404, "The requested resource was not found.")
    }

    /// 422 with one field detail.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        BcError::new(422, "JSON data is missing or invalid").field(field, message)
    }

    /// The V3 body.
    pub fn v3_body(&self) -> Value {
        json!({
            "status": self.status,
            "title": self.title,
            "type": ERROR_TYPE,
            "errors": Value::Object(self.errors.clone()),
        })
    }

    /// The V2 body.
    pub fn v2_body(&self) -> Value {
        let mut message = self.title.clone();
        if let Some((k, v)) = self.errors.iter().next() {
            message = format!("{message} ({k}: {})", v.as_str().unwrap_or_default());
        }
        json!([{ "status": self.status, "message": message }])
    }

    /// The response in the shape of API version `v2` or V3.
    pub fn response(&self, v2: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = if v2 { self.v2_body() } else { self.v3_body() };
        (status, axum::Json(body)).into_response()
    }
}

impl std::fmt::Display for BcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.title)?;
        for (k, v) in &self.errors {
            write!(f, "; {k}: {}", v.as_str().unwrap_or_default())?;
        }
        Ok(())
    }
}

impl std::error::Error for BcError {}
