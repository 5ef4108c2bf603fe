//! The Sheets API v4 client: every request waits for room in the account's per-minute
//! budget ([`QuotaLimiter`], a sliding minute kept below Google's 60 requests per user, shared
//! by every connection of one service account in the process), so nothing is throttled in
//! steady state; a 429 anyway is an outage of the account: the limiter holds every request
//! back with Google's truncated exponential backoff, and the call fails as
//! [`ConnectorError::Throttled`] for the caller to retry. Errors keep Google's message.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;
use serde_json::{Value, json};
use tokio::time::Instant;
use weft_platform::gate::{self, CircuitBreaker};
use weft_platform::{ConnectorError, error::parse_retry_after};

use crate::PLATFORM;
use crate::auth::TokenSource;

/// Read or write request (Google counts them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `get`, `batchGet`.
    Read,
    /// `update`, `batchUpdate`, `append`.
    Write,
}

/// Requests per minute weft allows itself per Google Cloud project (Google: 300 of each kind).
pub const PROJECT_BUDGET: u32 = 250;

/// The longest backoff after a 429 (Google: 32 or 64 s).
pub const MAX_BACKOFF: Duration = Duration::from_secs(32);

struct Window {
    limit: u32,
    sent: VecDeque<Instant>,
}

struct LimiterState {
    read: Window,
    write: Window,
    blocked_until: Option<Instant>,
    strikes: u32,
}

/// One service account's request budget: at most `limit` requests of each kind in any
/// sliding minute (so at most that many in any of Google's fixed minute windows).
pub struct QuotaLimiter {
    state: Mutex<LimiterState>,
}

impl QuotaLimiter {
    /// A limiter allowing `reads` and `writes` per minute.
    pub fn new(reads: u32, writes: u32) -> Self {
        let w = |limit: u32| Window {
            limit: limit.max(1),
            sent: VecDeque::new(),
        };
        QuotaLimiter {
            state: Mutex::new(LimiterState {
                read: w(reads),
                write: w(writes),
                blocked_until: None,
                strikes: 0,
            }),
        }
    }

    /// The process-wide limiter of `account` (a service account's email, or `project:<id>`),
    /// created with these limits on first use.
    pub fn shared(account: &str, reads: u32, writes: u32) -> Arc<QuotaLimiter> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<QuotaLimiter>>>> = OnceLock::new();
        ALL.get_or_init(Default::default)
            .lock()
            .entry(account.to_owned())
            .or_insert_with(|| Arc::new(QuotaLimiter::new(reads, writes)))
            .clone()
    }

    /// Waits until a request of `kind` fits, and counts it.
    pub async fn acquire(&self, kind: Kind) {
        loop {
            let wait = {
                let mut s = self.state.lock();
                let now = Instant::now();
                match s.blocked_until {
                    Some(t) if t > now => Some(t),
                    _ => {
                        let w = match kind {
                            Kind::Read => &mut s.read,
                            Kind::Write => &mut s.write,
                        };
                        while w
                            .sent
                            .front()
                            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
                        {
                            w.sent.pop_front();
                        }
                        if (w.sent.len() as u32) < w.limit {
                            w.sent.push_back(now);
                            None
                        } else {
                            // Room again a minute after the oldest (plus a little for clocks).
                            w.sent.front().map(|t| *t + Duration::from_millis(60_050))
                        }
                    }
                }
            };
            match wait {
                None => return,
                Some(t) => tokio::time::sleep_until(t).await,
            }
        }
    }

    /// A 429 arrived: hold every request back for the next backoff step; returns it.
    pub fn throttled(&self) -> Duration {
        let mut s = self.state.lock();
        s.strikes += 1;
        let exp = Duration::from_secs(1u64 << (s.strikes - 1).min(6));
        let jitter = Duration::from_millis(rand::rng().random_range(0..1000));
        let wait = (exp + jitter).min(MAX_BACKOFF);
        s.blocked_until = Some(Instant::now() + wait);
        wait
    }

    /// A request was answered without a 429.
    pub fn answered(&self) {
        self.state.lock().strikes = 0;
    }
}

/// Characters escaped in a range path segment (everything but unreserved ones).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A spreadsheet's client.
pub struct SheetsClient {
    http: reqwest::Client,
    base: String,
    spreadsheet_id: String,
    tokens: Arc<TokenSource>,
    limiter: Arc<QuotaLimiter>,
    /// The project's budget, shared by every service account of one Google Cloud project.
    project: Option<Arc<QuotaLimiter>>,
    breaker: Option<CircuitBreaker>,
    requests: std::sync::atomic::AtomicU64,
    throttled: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SheetsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SheetsClient")
            .field("base", &self.base)
            .field("spreadsheet_id", &self.spreadsheet_id)
            .finish()
    }
}

impl SheetsClient {
    /// A client of one spreadsheet at `base_url` (`https://sheets.googleapis.com`).
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        spreadsheet_id: &str,
        tokens: Arc<TokenSource>,
        limiter: Arc<QuotaLimiter>,
    ) -> Self {
        SheetsClient {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            spreadsheet_id: spreadsheet_id.to_owned(),
            tokens,
            limiter,
            project: None,
            breaker: None,
            requests: Default::default(),
            throttled: Default::default(),
        }
    }

    /// With the project's budget too (Google counts requests per user and per project).
    pub fn with_project_limiter(mut self, limiter: Arc<QuotaLimiter>) -> Self {
        self.project = Some(limiter);
        self
    }

    /// With the account's circuit breaker.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The breaker, if any.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The token source.
    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    /// Requests sent and how many were answered 429.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.requests.load(Relaxed), self.throttled.load(Relaxed))
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/v4/spreadsheets/{}{tail}",
            self.base, self.spreadsheet_id
        )
    }

    /// Reads ranges in one request (`values:batchGet`), numbers and booleans unformatted,
    /// dates as shown; one array of rows per range.
    pub async fn batch_get(
        &self,
        ranges: &[String],
    ) -> Result<Vec<Vec<Vec<Value>>>, ConnectorError> {
        let mut query: Vec<(&str, &str)> = ranges.iter().map(|r| ("ranges", r.as_str())).collect();
        query.push(("valueRenderOption", "UNFORMATTED_VALUE"));
        query.push(("dateTimeRenderOption", "FORMATTED_STRING"));
        query.push(("majorDimension", "ROWS"));
        let body = self
            .send(
                Kind::Read,
                reqwest::Method::GET,
                &self.url("/values:batchGet"),
                &query,
                None,
            )
            .await?;
        let vrs = body
            .get("valueRanges")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok((0..ranges.len())
            .map(|i| rows_of(vrs.get(i).unwrap_or(&Value::Null)))
            .collect())
    }

    /// The title of the spreadsheet's first sheet (`spreadsheets.get`).
    pub async fn first_sheet_title(&self) -> Result<String, ConnectorError> {
        let body = self
            .send(Kind::Read, reqwest::Method::GET, &self.url(""), &[], None)
            .await?;
        body.pointer("/sheets/0/properties/title")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ConnectorError::Permanent {
                system: PLATFORM,
                status: 404,
                code: "NOT_FOUND".into(),
                message: "the spreadsheet has no sheet".into(),
            })
    }

    /// Reads one range (`values.get`), as [`Self::batch_get`] renders it.
    pub async fn get(&self, range: &str) -> Result<Vec<Vec<Value>>, ConnectorError> {
        Ok(self.get_stamped(range).await?.0)
    }

    /// [`Self::get`], with the time the request was sent (after any wait for the quota): the
    /// sheet as read holds every write answered before that time.
    pub async fn get_stamped(
        &self,
        range: &str,
    ) -> Result<(Vec<Vec<Value>>, DateTime<Utc>), ConnectorError> {
        let tail = format!("/values/{}", utf8_percent_encode(range, SEGMENT));
        let query = [
            ("valueRenderOption", "UNFORMATTED_VALUE"),
            ("dateTimeRenderOption", "FORMATTED_STRING"),
        ];
        let (body, sent) = self
            .send_stamped(
                Kind::Read,
                reqwest::Method::GET,
                &self.url(&tail),
                &query,
                None,
            )
            .await?;
        Ok((rows_of(&body), sent))
    }

    /// Writes ranges in one atomic request (`values:batchUpdate`, `RAW`).
    pub async fn batch_update(
        &self,
        data: &[(String, Vec<Vec<Value>>)],
    ) -> Result<Value, ConnectorError> {
        let data: Vec<Value> = data
            .iter()
            .map(|(r, v)| json!({"range": r, "majorDimension": "ROWS", "values": v}))
            .collect();
        let body = json!({"valueInputOption": "RAW", "data": data});
        self.send(
            Kind::Write,
            reqwest::Method::POST,
            &self.url("/values:batchUpdate"),
            &[],
            Some(&body),
        )
        .await
    }

    /// Appends rows after the table in `range` (`values:append`, `RAW`, `INSERT_ROWS`).
    pub async fn append(
        &self,
        range: &str,
        rows: Vec<Vec<Value>>,
    ) -> Result<Value, ConnectorError> {
        let tail = format!("/values/{}:append", utf8_percent_encode(range, SEGMENT));
        let query = [
            ("valueInputOption", "RAW"),
            ("insertDataOption", "INSERT_ROWS"),
        ];
        let body = json!({"majorDimension": "ROWS", "values": rows});
        self.send(
            Kind::Write,
            reqwest::Method::POST,
            &self.url(&tail),
            &query,
            Some(&body),
        )
        .await
    }

    async fn send(
        &self,
        kind: Kind,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        Ok(self.send_stamped(kind, method, url, query, body).await?.0)
    }

    async fn send_stamped(
        &self,
        kind: Kind,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(Value, DateTime<Utc>), ConnectorError> {
        let permit = gate::breaker_permit(self.breaker.as_ref(), PLATFORM)?;
        let result = self
            .send_once(kind, method.clone(), url, query, body, true)
            .await;
        gate::breaker_record(permit, &result);
        result
    }

    async fn send_once(
        &self,
        kind: Kind,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        may_refresh: bool,
    ) -> Result<(Value, DateTime<Utc>), ConnectorError> {
        let token = self.tokens.token().await?;
        if let Some(p) = &self.project {
            p.acquire(kind).await;
        }
        self.limiter.acquire(kind).await;
        let sent = Utc::now();
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = self
            .http
            .request(method.clone(), url)
            .query(query)
            .bearer_auth(&token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers());
        let text = resp
            .text()
            .await
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 429 {
            self.throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let wait = self.limiter.throttled();
            if let Some(p) = &self.project {
                p.throttled();
            }
            return Err(ConnectorError::Throttled {
                system: PLATFORM,
                retry_after: Some(retry_after.unwrap_or(wait).max(wait)),
            });
        }
        self.limiter.answered();
        if let Some(p) = &self.project {
            p.answered();
        }
        if (200..300).contains(&status) {
            return Ok((json, sent));
        }
        let message = json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map_or_else(|| text.chars().take(300).collect(), str::to_owned);
        let code = json
            .pointer("/error/status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let message = if status == 403 && message.contains("does not have permission") {
            format!(
                "the spreadsheet is not shared with the service account {}: share it with that address as an editor ({message})",
                self.tokens.client_email()
            )
        } else {
            message
        };
        if status == 401 && may_refresh {
            // The cached token was refused (revoked, or expired early): one fresh exchange.
            self.tokens.invalidate(&token).await;
            return Box::pin(self.send_once(kind, method, url, query, body, false)).await;
        }
        if status >= 500 {
            return Err(ConnectorError::Retryable {
                system: PLATFORM,
                status: Some(status),
                message,
                retry_after,
            });
        }
        Err(ConnectorError::Permanent {
            system: PLATFORM,
            status,
            code,
            message,
        })
    }
}

fn rows_of(vr: &Value) -> Vec<Vec<Value>> {
    vr.get("values")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|r| r.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limiter_keeps_a_sliding_minute() {
        let l = QuotaLimiter::new(3, 1);
        let start = Instant::now();
        for _ in 0..3 {
            l.acquire(Kind::Read).await;
        }
        assert_eq!(Instant::now(), start);
        l.acquire(Kind::Write).await;
        assert_eq!(Instant::now(), start, "writes have their own budget");
        l.acquire(Kind::Read).await;
        assert!(Instant::now() >= start + Duration::from_secs(60));
        let wait = l.throttled();
        assert!(wait >= Duration::from_secs(1) && wait < Duration::from_secs(2));
        let t = Instant::now();
        l.acquire(Kind::Write).await;
        assert!(Instant::now() >= t + wait);
        assert!(l.throttled() >= Duration::from_secs(2), "backoff grows");
        l.answered();
        for _ in 0..10 {
            l.throttled();
        }
        assert!(l.throttled() <= MAX_BACKOFF);
    }
}
