//! Magento's error shape: `{"message": "…%1…", "parameters": [...]}` (positional) or with
//! named parameters (`%resources`), plus `errors` for validation failures.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error.
#[derive(Clone, Debug, PartialEq)]
pub struct MgError {
    /// HTTP status.
    pub status: u16,
    /// The message template.
    pub message: String,
    /// Its parameters (an array for `%1`, an object for `%name`), when it has any.
    pub parameters: Option<Box<Value>>,
    /// Nested errors (validation failures), each `{"message","parameters"}`.
    pub errors: Vec<Value>,
}

impl MgError {
    /// An error with a plain message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        MgError {
            status,
            message: message.into(),
            parameters: None,
            errors: Vec::new(),
        }
    }

    /// With parameters.
    pub fn params(mut self, p: Value) -> Self {
        self.parameters = Some(Box::new(p));
        self
    }

    /// 401 for a request without a valid token.
    pub fn unauthorized(resource: &str) -> Self {
        MgError::new(401, "The consumer isn't authorized to access %resources.")
            .params(json!({ "resources": resource }))
    }

    /// 404 for a product.
    pub fn no_product() -> Self {
        MgError::new(
            404,
            "The product that was requested doesn't exist. Verify the product and try again.",
        )
    }

    /// 404 for another entity, named by field and value.
    pub fn no_entity(field: &str, value: &str) -> Self {
        MgError::new(404, "No such entity with %fieldName = %fieldValue")
            .params(json!({ "fieldName": field, "fieldValue": value }))
    }

    /// 400 for a body that is not the endpoint's shape.
    pub fn bad_request(message: impl Into<String>) -> Self {
        MgError::new(400, message)
    }

    /// 400 "Validation Failed" with one nested error.
    pub fn validation(message: &str, parameters: Value) -> Self {
        let mut e = MgError::new(400, "Validation Failed");
        e.errors
            .push(json!({ "message": message, "parameters": parameters }));
        e
    }

    /// The message with its parameters filled in (what a bulk operation's `result_message`
    /// carries).
    pub fn rendered(&self) -> String {
        let mut text = self.message.clone();
        match self.parameters.as_deref() {
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate().rev() {
                    text = text.replace(&format!("%{}", i + 1), &plain(v));
                }
            }
            Some(Value::Object(o)) => {
                for (k, v) in o {
                    text = text.replace(&format!("%{k}"), &plain(v));
                }
            }
            _ => {}
        }
        if let Some(first) = self.errors.first() {
            let nested = MgError {
                status: self.status,
                message: first["message"].as_str().unwrap_or_default().to_owned(),
                parameters: first.get("parameters").cloned().map(Box::new),
                errors: Vec::new(),
            };
            text = format!("{text}: {}", nested.rendered());
        }
        text
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut b = json!({ "message": self.message });
        if let Some(p) = &self.parameters {
            b["parameters"] = (**p).clone();
        }
        if !self.errors.is_empty() {
            b["errors"] = Value::Array(self.errors.clone());
        }
        b
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl IntoResponse for MgError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body())).into_response()
    }
}
