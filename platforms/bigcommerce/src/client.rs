//! The BigCommerce REST client: `X-Auth-Token` on every request to `{base}/stores/{hash}/…`,
//! every request through the store's [`QuotaLimiter`] (reads and writes as separate classes)
//! and the connection's circuit breaker, answers turned into [`ConnectorError`]s from both
//! error shapes (V3 `{"status","title","errors"}`, V2 `[{"status","message"}]`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use weft_platform::ConnectorError;
use weft_platform::gate::{CircuitBreaker, breaker_permit, breaker_record};

use crate::PLATFORM;
use crate::limiter::{Class, QuotaLimiter, QuotaReading};

/// Where and as whom the client connects.
#[derive(Clone)]
pub struct BcConfig {
    /// API base, e.g. `https://api.bigcommerce.com` (the simulator's URL in tests).
    pub base_url: String,
    /// The store hash.
    pub store_hash: String,
    /// The API account's access token.
    pub token: String,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for BcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcConfig")
            .field("base_url", &self.base_url)
            .field("store_hash", &self.store_hash)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl BcConfig {
    /// A config with a 30 s timeout.
    pub fn new(base_url: &str, store_hash: &str, token: &str) -> Self {
        BcConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            store_hash: store_hash.to_owned(),
            token: token.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The client. One per store (its limiter is the store's quota).
#[derive(Debug)]
pub struct BcClient {
    http: reqwest::Client,
    config: BcConfig,
    limiter: Arc<QuotaLimiter>,
    breaker: Option<CircuitBreaker>,
}

/// Reads the four rate-limit headers, when all are there.
pub fn quota_reading(h: &reqwest::header::HeaderMap) -> Option<QuotaReading> {
    let num = |n: &str| -> Option<u64> { h.get(n)?.to_str().ok()?.trim().parse().ok() };
    Some(QuotaReading {
        left: num("x-rate-limit-requests-left")? as u32,
        quota: num("x-rate-limit-requests-quota")? as u32,
        window_ms: num("x-rate-limit-time-window-ms")?,
        reset_ms: num("x-rate-limit-time-reset-ms")?,
    })
}

/// The platform's message from an error body of either shape.
fn error_message(body: &Value) -> (String, String) {
    if let Some(first) = body.as_array().and_then(|a| a.first()) {
        let msg = first["message"].as_str().unwrap_or_default().to_owned();
        return ("V2".into(), msg);
    }
    let mut msg = body["title"].as_str().unwrap_or_default().to_owned();
    if let Some(errors) = body["errors"].as_object() {
        for (k, v) in errors {
            msg.push_str(&format!("; {k}: {}", v.as_str().unwrap_or(&v.to_string())));
        }
    }
    let code = body["code"]
        .as_i64()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "V3".into());
    (code, msg)
}

impl BcClient {
    /// A client sharing `limiter` (the store's quota).
    pub fn new(config: BcConfig, limiter: Arc<QuotaLimiter>) -> Result<Self, ConnectorError> {
        let http = weft_platform::http::shared_client(config.timeout)
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        Ok(BcClient {
            http,
            config,
            limiter,
            breaker: None,
        })
    }

    /// Adds the connection's circuit breaker.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The breaker.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The store's quota limiter.
    pub fn limiter(&self) -> &Arc<QuotaLimiter> {
        &self.limiter
    }

    /// The store hash.
    pub fn store_hash(&self) -> &str {
        &self.config.store_hash
    }

    /// Sends one request to `path` (after `/stores/{hash}`, with its query); `Ok(None)` is a
    /// 204 (V2's empty collection). Reads are [`Class::Read`], the rest [`Class::Write`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, ConnectorError> {
        let class = if method == Method::GET {
            Class::Read
        } else {
            Class::Write
        };
        let probe = breaker_permit(self.breaker.as_ref(), PLATFORM)?;
        let permit = self.limiter.acquire(class).await;
        let url = format!(
            "{}/stores/{}{path}",
            self.config.base_url, self.config.store_hash
        );
        let mut req = self
            .http
            .request(method, &url)
            .header("x-auth-token", &self.config.token)
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let result = async {
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
                    return Err(ConnectorError::from_reqwest(PLATFORM, e));
                }
            };
            let status = resp.status().as_u16();
            let reading = quota_reading(resp.headers());
            if status == 429 {
                permit.throttled(reading);
                let wait = reading.map_or(Duration::from_secs(1), |r| {
                    Duration::from_millis(r.reset_ms.max(1))
                });
                return Err(ConnectorError::Throttled {
                    system: PLATFORM,
                    retry_after: Some(wait),
                });
            }
            permit.record(reading);
            let text = resp
                .text()
                .await
                .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
            if status == 204 || (text.trim().is_empty() && (200..300).contains(&status)) {
                return Ok(None);
            }
            let value: Value =
                serde_json::from_str(&text).map_err(|e| ConnectorError::Transport {
                    system: PLATFORM,
                    message: format!("status {status}: body is not JSON: {e}"),
                    retryable: status >= 500,
                })?;
            if (200..300).contains(&status) {
                return Ok(Some(value));
            }
            let (code, message) = error_message(&value);
            if status >= 500 {
                return Err(ConnectorError::Retryable {
                    system: PLATFORM,
                    status: Some(status),
                    message,
                    retry_after: None,
                });
            }
            Err(ConnectorError::Permanent {
                system: PLATFORM,
                status,
                code,
                message,
            })
        }
        .await;
        breaker_record(probe, &result);
        result
    }

    /// `GET path` that must answer with a body.
    pub async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        Ok(self
            .call(Method::GET, path, None)
            .await?
            .unwrap_or(Value::Null))
    }

    /// Every item of a V3 list: pages by keyset on `id` (`sort=id`, `id:greater`), so records
    /// created or deleted while paging are neither skipped nor read twice. `query` is the
    /// filter without paging.
    pub async fn list_v3(&self, path: &str, query: &str) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut q = format!("{path}?limit=250&sort=id&direction=asc");
            if !query.is_empty() {
                q.push('&');
                q.push_str(query);
            }
            if let Some(a) = after {
                q.push_str(&format!("&id:greater={a}"));
            }
            let page = weft_platform::poll::patient(|| self.get(&q)).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let n = data.len();
            after = data.last().and_then(|d| d["id"].as_u64()).or(after);
            out.extend(data);
            let total_pages = page["meta"]["pagination"]["total_pages"]
                .as_u64()
                .unwrap_or(1);
            if n < 250 || total_pages <= 1 {
                return Ok(out);
            }
        }
    }

    /// Every item of a V3 list that has no `id` to page on (inventory items): by page number.
    pub async fn list_v3_paged(
        &self,
        path: &str,
        query: &str,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let q = format!("{path}?limit=250&page={page}&{query}");
            let body = weft_platform::poll::patient(|| self.get(&q)).await?;
            out.extend(body["data"].as_array().cloned().unwrap_or_default());
            let total_pages = body["meta"]["pagination"]["total_pages"]
                .as_u64()
                .unwrap_or(1);
            if page >= total_pages {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// Every order of a V2 list (a 204 ends it).
    pub async fn list_v2(&self, path: &str, query: &str) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut min_id = 0u64;
        loop {
            let q = format!("{path}?limit=250&sort=id:asc&min_id={min_id}&{query}");
            let page = weft_platform::poll::patient(|| self.call(Method::GET, &q, None)).await?;
            let Some(Value::Array(items)) = page else {
                return Ok(out);
            };
            let n = items.len();
            min_id = items
                .last()
                .and_then(|o| o["id"].as_u64())
                .map_or(u64::MAX, |i| i + 1);
            out.extend(items);
            if n < 250 {
                return Ok(out);
            }
        }
    }
}
