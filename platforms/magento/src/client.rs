//! The Magento REST client: `Authorization: Bearer <integration access token>` on every request
//! to `{base}/rest/{store_code}/…`, through the connection's circuit breaker; answers turned
//! into [`ConnectorError`]s from Magento's error shape (`{"message": "…%1…", "parameters"}`,
//! rendered with its parameters); lists read with `searchCriteria` and paged until
//! `total_count` (never by waiting for an empty page: a page past the last answers the last
//! page again).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use weft_platform::ConnectorError;
use weft_platform::gate::{CircuitBreaker, breaker_permit, breaker_record};

use crate::PLATFORM;

/// Items per list page (Magento's input limit caps pages at 300).
pub const PAGE_SIZE: usize = 100;

/// Where and as whom the client calls.
#[derive(Clone)]
pub struct MgConfig {
    /// The shop's base URL (`https://shop.example.com`).
    pub base_url: String,
    /// The store view code in `/rest/{store_code}/` (`default`, or `all`).
    pub store_code: String,
    /// The integration's access token.
    pub token: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for MgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MgConfig")
            .field("base_url", &self.base_url)
            .field("store_code", &self.store_code)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl MgConfig {
    /// A config for `base_url`, `store_code` and `token`.
    pub fn new(base_url: &str, store_code: &str, token: &str) -> Self {
        MgConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            store_code: store_code.to_owned(),
            token: token.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The client.
#[derive(Debug)]
pub struct MgClient {
    http: reqwest::Client,
    config: MgConfig,
    breaker: Option<CircuitBreaker>,
}

/// Magento's message with its parameters filled in (`%1` positional, `%name` named), and the
/// first nested error's when it has `errors`.
pub fn render_message(body: &Value) -> String {
    fn fill(message: &str, params: Option<&Value>) -> String {
        let mut text = message.to_owned();
        let plain = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match params {
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
        text
    }
    let mut text = fill(
        body["message"].as_str().unwrap_or_default(),
        body.get("parameters"),
    );
    if let Some(first) = body["errors"].as_array().and_then(|e| e.first()) {
        text = format!(
            "{text}: {}",
            fill(
                first["message"].as_str().unwrap_or_default(),
                first.get("parameters")
            )
        );
    }
    text
}

impl MgClient {
    /// A client for `config`.
    pub fn new(config: MgConfig) -> Result<Self, ConnectorError> {
        let http = weft_platform::http::shared_client(config.timeout)
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        Ok(MgClient {
            http,
            config,
            breaker: None,
        })
    }

    /// With the account's circuit breaker.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The breaker.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The store code.
    pub fn store_code(&self) -> &str {
        &self.config.store_code
    }

    /// One request to `{base}/rest/{store}{path}` (`path` starts with `/V1/` or
    /// `/async/bulk/V1/`, with its query). `Ok(None)` for an empty 2xx body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, ConnectorError> {
        let probe = breaker_permit(self.breaker.as_ref(), PLATFORM)?;
        let url = format!(
            "{}/rest/{}{path}",
            self.config.base_url, self.config.store_code
        );
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&self.config.token)
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let result = async {
            let resp = req
                .send()
                .await
                .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
            let status = resp.status().as_u16();
            let retry_after = weft_platform::error::parse_retry_after(resp.headers());
            let text = resp
                .text()
                .await
                .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
            if (200..300).contains(&status) && text.trim().is_empty() {
                return Ok(None);
            }
            let value: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    return Err(ConnectorError::Transport {
                        system: PLATFORM,
                        message: format!("status {status}: body is not JSON: {e}"),
                        retryable: status >= 500,
                    });
                }
            };
            if (200..300).contains(&status) {
                return Ok(Some(value));
            }
            let message = render_message(&value);
            match status {
                429 => Err(ConnectorError::Throttled {
                    system: PLATFORM,
                    retry_after,
                }),
                s if s >= 500 => Err(ConnectorError::Retryable {
                    system: PLATFORM,
                    status: Some(s),
                    message,
                    retry_after,
                }),
                s => Err(ConnectorError::Permanent {
                    system: PLATFORM,
                    status: s,
                    code: format!("HTTP_{s}"),
                    message,
                }),
            }
        }
        .await;
        breaker_record(probe, &result);
        result
    }

    /// A GET answered with a body.
    pub async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        Ok(self
            .call(Method::GET, path, None)
            .await?
            .unwrap_or(Value::Null))
    }

    /// A POST answered with a body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        Ok(self
            .call(Method::POST, path, Some(body))
            .await?
            .unwrap_or(Value::Null))
    }

    /// Every item of a `searchCriteria` list at `path` matching `filters` (already encoded
    /// `searchCriteria[filter_groups]…` parameters, may be empty), sorted by `sort_field`
    /// ascending (a field an update never changes, such as the entity id, so a record changed
    /// while the list is paged is never skipped); `identity` names a record, so one read twice
    /// (a record that joined the filter while paging shifts the rest by one) is kept once. Pages are read until `total_count` is
    /// reached: a page past the last answers the last page again, so an empty page never comes.
    pub async fn search(
        &self,
        path: &str,
        filters: &str,
        sort_field: &str,
        identity: impl Fn(&Value) -> String,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out: Vec<Value> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut page = 1usize;
        loop {
            let mut q = format!(
                "{path}?searchCriteria[sortOrders][0][field]={sort_field}&searchCriteria[sortOrders][0][direction]=ASC&searchCriteria[pageSize]={PAGE_SIZE}&searchCriteria[currentPage]={page}"
            );
            if !filters.is_empty() {
                q.push('&');
                q.push_str(filters);
            }
            let answer = weft_platform::poll::patient(|| self.get(&q)).await?;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            let total = answer["total_count"].as_u64().unwrap_or(0) as usize;
            for it in items {
                // A record that moved into an earlier page's range while paging may come twice.
                if seen.insert(identity(&it)) {
                    out.push(it);
                }
            }
            let pages = total.div_ceil(PAGE_SIZE);
            if page >= pages {
                return Ok(out);
            }
            page += 1;
        }
    }
}

/// One `searchCriteria` filter group of one filter, encoded (`g`: the group's index).
pub fn filter(g: usize, field: &str, value: &str, condition: &str) -> String {
    let v: String =
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    format!(
        "searchCriteria[filter_groups][{g}][filters][0][field]={field}&searchCriteria[filter_groups][{g}][filters][0][value]={v}&searchCriteria[filter_groups][{g}][filters][0][condition_type]={condition}"
    )
}
