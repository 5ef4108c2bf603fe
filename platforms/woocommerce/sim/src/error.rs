//! The WordPress REST error shape: `{"code","message","data":{"status",…}}`.

use serde_json::{Map, Value, json};

/// An error as WordPress serialises a `WP_Error`.
#[derive(Clone, Debug, PartialEq)]
pub struct WcError {
    /// HTTP status (also `data.status`).
    pub status: u16,
    /// Machine code, e.g. `woocommerce_rest_product_invalid_id`.
    pub code: String,
    /// Human message.
    pub message: String,
    /// Extra members of `data`.
    pub data: Box<Map<String, Value>>,
}

impl WcError {
    /// An error without extra data.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        WcError {
            status,
            code: code.to_string(),
            message: message.into(),
            data: Box::default(),
        }
    }

    /// Adds a member to `data`.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.data.insert(key.to_string(), value);
        self
    }

    /// `rest_invalid_param` for one or more parameters (`(name, reason)`), as WordPress's
    /// argument validation reports it.
    pub fn invalid_params(params: &[(String, String)]) -> Self {
        let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        let mut p = Map::new();
        let mut d = Map::new();
        for (n, why) in params {
            p.insert(n.clone(), Value::String(why.clone()));
            d.insert(
                n.clone(),
                json!({"code": "rest_invalid_param", "message": why, "data": null}),
            );
        }
        WcError::new(
            400,
            "rest_invalid_param",
            format!("Invalid parameter(s): {}", names.join(", ")),
        )
        .with("params", Value::Object(p))
        .with("details", Value::Object(d))
    }

    /// One invalid parameter.
    pub fn invalid_param(name: &str, why: impl Into<String>) -> Self {
        WcError::invalid_params(&[(name.to_string(), why.into())])
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut data = Map::new();
        data.insert("status".into(), json!(self.status));
        for (k, v) in self.data.iter() {
            data.insert(k.clone(), v.clone());
        }
        json!({"code": self.code, "message": self.message, "data": Value::Object(data)})
    }
}

impl std::fmt::Display for WcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for WcError {}
