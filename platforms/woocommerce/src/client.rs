//! The WooCommerce REST API v3 client (`{base}/wp-json/wc/v3/...`).
//!
//! - **Authentication**: over https, HTTP Basic with the consumer key and secret; over plain
//!   http, one-legged OAuth 1.0a (HMAC-SHA256, key `consumer_secret&`, the signature and its
//!   parameters in the query string), as WooCommerce requires.
//! - **Pagination**: `page`/`per_page` (at most 100), `X-WP-TotalPages` says how many pages
//!   there are; a `Link: <…>; rel="next"` is honoured when the header is missing.
//! - **Errors**: WordPress's shape `{"code","message","data":{"status"}}`. 429 is throttling
//!   and 5xx transient (both with `Retry-After`), transport failures retryable: the world's
//!   failures. 401/403 are refused credentials (an outage of the account, waited out like one).
//!   400, 404, 410 and 413 (a batch over WooCommerce's item limit) are permanent and keep
//!   WooCommerce's code and message.
//! - **Limiter**: WooCommerce documents no rate limit (a WordPress host serves a few PHP
//!   workers), so the client keeps at most `concurrency` requests in flight and spaces them at
//!   `requests_per_second`, both configurable.
//!
//! The client never retries a write; reads inside a poll round wait out throttling
//! ([`weft_platform::poll::patient`]).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{Mutex, Semaphore};
use weft_platform::error::parse_retry_after;
use weft_platform::gate::{CircuitBreaker, breaker_permit, breaker_record};
use weft_platform::{ConnectorError, InvalidRequest};

use crate::PLATFORM;

const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes as RFC 3986 (OAuth's encoding).
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// How to reach one WooCommerce site.
#[derive(Clone)]
pub struct WooConfig {
    /// Scheme, host and path of the site, e.g. `https://shop.example.com` (the REST API is
    /// under `/wp-json/wc/v3`).
    pub base_url: String,
    /// Consumer key (`ck_…`).
    pub consumer_key: String,
    /// Consumer secret (`cs_…`).
    pub consumer_secret: String,
    /// List page size (1..=100).
    pub per_page: u32,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Steady request rate.
    pub requests_per_second: u32,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for WooConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WooConfig")
            .field("base_url", &self.base_url)
            .field("consumer_key", &"[redacted]")
            .field("consumer_secret", &"[redacted]")
            .field("per_page", &self.per_page)
            .finish()
    }
}

impl WooConfig {
    /// A config with the defaults (100 per page, 4 in flight, 10 per second, 60 s timeout).
    pub fn new(base_url: &str, consumer_key: &str, consumer_secret: &str) -> Self {
        WooConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            consumer_key: consumer_key.to_owned(),
            consumer_secret: consumer_secret.to_owned(),
            per_page: crate::config::DEFAULT_PER_PAGE,
            concurrency: crate::config::DEFAULT_CONCURRENCY,
            requests_per_second: crate::config::DEFAULT_REQUESTS_PER_SECOND,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A response that succeeded (2xx).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its JSON body.
    pub body: Value,
}

impl Response {
    /// `X-WP-TotalPages`, when sent.
    pub fn total_pages(&self) -> Option<u32> {
        self.headers
            .get("x-wp-totalpages")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }

    /// Whether a `Link` header names a next page.
    pub fn has_next_link(&self) -> bool {
        self.headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|l| l.contains("rel=\"next\"")))
    }
}

/// The WooCommerce REST client of one site.
pub struct WooClient {
    config: WooConfig,
    http: reqwest::Client,
    breaker: Option<CircuitBreaker>,
    in_flight: Arc<Semaphore>,
    next_slot: Mutex<tokio::time::Instant>,
}

impl std::fmt::Debug for WooClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WooClient")
            .field("config", &self.config)
            .finish()
    }
}

/// A WordPress error body's code and message.
fn wp_error(body: &Value) -> (String, String) {
    let code = body
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("UNKNOWN")
        .to_owned();
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    (code, message)
}

/// Classifies a non-2xx answer.
pub fn classify(status: u16, headers: &HeaderMap, text: &str) -> ConnectorError {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let (code, mut message) = wp_error(&body);
    if message.is_empty() {
        message = text.chars().take(200).collect();
    }
    let retry_after = parse_retry_after(headers);
    match status {
        // A host that sheds load with 503 and says when to come back is throttling too.
        429 => ConnectorError::Throttled {
            system: PLATFORM,
            retry_after,
        },
        503 if retry_after.is_some() => ConnectorError::Throttled {
            system: PLATFORM,
            retry_after,
        },
        500..=599 => ConnectorError::Retryable {
            system: PLATFORM,
            status: Some(status),
            message: if code == "UNKNOWN" {
                message
            } else {
                format!("{code}: {message}")
            },
            retry_after,
        },
        _ => ConnectorError::Permanent {
            system: PLATFORM,
            status,
            code,
            message,
        },
    }
}

/// The error of one item of a batch answer (`{"id", "error": {"code","message","data"}}`).
pub fn item_error(error: &Value) -> ConnectorError {
    let (code, message) = wp_error(error);
    let status = error
        .pointer("/data/status")
        .and_then(Value::as_u64)
        .unwrap_or(400) as u16;
    match status {
        429 | 500..=599 => ConnectorError::Retryable {
            system: PLATFORM,
            status: Some(status),
            message: format!("{code}: {message}"),
            retry_after: None,
        },
        _ => ConnectorError::Permanent {
            system: PLATFORM,
            status,
            code,
            message,
        },
    }
}

impl WooClient {
    /// A client for `config`.
    pub fn new(config: WooConfig) -> Result<Self, ConnectorError> {
        if config.per_page == 0 || config.per_page > 100 {
            return Err(ConnectorError::invalid(
                PLATFORM,
                InvalidRequest::BadField {
                    field: "per_page".into(),
                    reason: "must be 1..=100".into(),
                },
            ));
        }
        let http = weft_platform::http::shared_client(config.timeout)
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        Ok(WooClient {
            in_flight: Arc::new(Semaphore::new(config.concurrency.max(1) as usize)),
            next_slot: Mutex::new(tokio::time::Instant::now()),
            config,
            http,
            breaker: None,
        })
    }

    /// Attaches the site's circuit breaker.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The breaker, if any.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &WooConfig {
        &self.config
    }

    /// The list page size.
    pub fn per_page(&self) -> u32 {
        self.config.per_page
    }

    fn uses_oauth(&self) -> bool {
        !self.config.base_url.starts_with("https://")
    }

    /// Waits for the rate limiter's next slot.
    async fn pace(&self) {
        let gap = Duration::from_secs_f64(1.0 / f64::from(self.config.requests_per_second.max(1)));
        let at = {
            let mut next = self.next_slot.lock().await;
            let now = tokio::time::Instant::now();
            let at = (*next).max(now);
            *next = at + gap;
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// The full URL of `path` (relative to `/wp-json/wc/v3/`) with `query`, signed when the
    /// site is reached over plain http.
    fn url(&self, method: &str, path: &str, query: &[(String, String)]) -> String {
        let base = format!(
            "{}/wp-json/wc/v3/{}",
            self.config.base_url,
            path.trim_start_matches('/')
        );
        let mut params: Vec<(String, String)> = query.to_vec();
        if self.uses_oauth() {
            let nonce: String = {
                let mut rng = rand::rng();
                (0..32)
                    .map(|_| {
                        let i = rng.random_range(0..36u8);
                        (if i < 10 { b'0' + i } else { b'a' + i - 10 }) as char
                    })
                    .collect()
            };
            let ts = chrono::Utc::now().timestamp().to_string();
            params.extend([
                (
                    "oauth_consumer_key".into(),
                    self.config.consumer_key.clone(),
                ),
                ("oauth_nonce".into(), nonce),
                ("oauth_signature_method".into(), "HMAC-SHA256".into()),
                ("oauth_timestamp".into(), ts),
            ]);
            let sig = oauth_signature(method, &base, &params, &self.config.consumer_secret);
            params.push(("oauth_signature".into(), sig));
        }
        if params.is_empty() {
            return base;
        }
        let q = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        format!("{base}?{q}")
    }

    /// Sends one request; a 2xx answer with a JSON body is `Ok`.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Response, ConnectorError> {
        let permit = breaker_permit(self.breaker.as_ref(), PLATFORM)?;
        let _slot = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        self.pace().await;
        let result = self.send(method, path, query, body).await;
        breaker_record(permit, &result);
        result
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Response, ConnectorError> {
        let url = self.url(method.as_str(), path, query);
        let mut req = self.http.request(method, &url);
        if !self.uses_oauth() {
            req = req.basic_auth(
                &self.config.consumer_key,
                Some(&self.config.consumer_secret),
            );
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e.without_url()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp
            .text()
            .await
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e.without_url()))?;
        if !(200..300).contains(&status) {
            return Err(classify(status, &headers, &text));
        }
        let body = serde_json::from_str(&text).map_err(|e| ConnectorError::Transport {
            system: PLATFORM,
            message: format!("response to {path} is not JSON: {e}"),
            retryable: false,
        })?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// `GET path`.
    pub async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, ConnectorError> {
        Ok(self
            .request(reqwest::Method::GET, path, query, None)
            .await?
            .body)
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        Ok(self
            .request(reqwest::Method::POST, path, &[], Some(body))
            .await?
            .body)
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        Ok(self
            .request(reqwest::Method::PUT, path, &[], Some(body))
            .await?
            .body)
    }

    /// `DELETE path` with a query (`force=true`).
    pub async fn delete(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, ConnectorError> {
        Ok(self
            .request(reqwest::Method::DELETE, path, query, None)
            .await?
            .body)
    }

    /// One page of a collection (1-based) and whether another follows.
    pub async fn list_page(
        &self,
        path: &str,
        query: &[(String, String)],
        page: u32,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        let mut q = query.to_vec();
        q.push(("per_page".into(), self.config.per_page.to_string()));
        q.push(("page".into(), page.to_string()));
        let resp = self.request(reqwest::Method::GET, path, &q, None).await?;
        let more = match resp.total_pages() {
            Some(total) => page < total,
            None => resp.has_next_link(),
        };
        let items = match resp.body {
            Value::Array(a) => a,
            other => {
                return Err(ConnectorError::Transport {
                    system: PLATFORM,
                    message: format!("{path} did not answer a list: {}", clip(&other)),
                    retryable: false,
                });
            }
        };
        Ok((items, more))
    }

    /// Every item of a collection, page after page.
    pub async fn list_all(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let (items, more) =
                weft_platform::poll::patient(|| self.list_page(path, query, page)).await?;
            let n = items.len();
            out.extend(items);
            if !more || n == 0 {
                return Ok(out);
            }
            page += 1;
        }
    }
}

fn clip(v: &Value) -> String {
    v.to_string().chars().take(120).collect()
}

/// The OAuth 1.0a HMAC-SHA256 signature of a request (one-legged: the key is
/// `consumer_secret&`; the base string covers the method, the URL without its query, and every
/// parameter but `oauth_signature`, sorted after encoding).
pub fn oauth_signature(
    method: &str,
    base_url: &str,
    params: &[(String, String)],
    consumer_secret: &str,
) -> String {
    let mut enc: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    enc.sort();
    let joined = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(base_url),
        encode(&joined)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(format!("{consumer_secret}&").as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_status() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify(429, &h, ""),
            ConnectorError::Throttled { .. }
        ));
        assert!(classify(503, &h, "<html>").is_retryable());
        let auth = classify(
            401,
            &h,
            r#"{"code":"woocommerce_rest_authentication_error","message":"Consumer key is invalid.","data":{"status":401}}"#,
        );
        assert!(auth.is_outage() && !auth.is_retryable());
        let nf = classify(
            404,
            &h,
            r#"{"code":"woocommerce_rest_product_invalid_id","message":"Invalid ID.","data":{"status":404}}"#,
        );
        assert!(!nf.is_outage());
        assert!(nf.to_string().contains("Invalid ID."));
    }
}
