//! The NetSuite REST client: record API, upsert by external id, SuiteQL, error classification.

use std::time::Duration;

use serde_json::{Value, json};

use super::oauth::{self, Credentials};
use crate::error::{ConnectorError, InvalidRequest, parse_retry_after};
use crate::gate::{CircuitBreaker, ConcurrencyGovernor, breaker_permit, breaker_record};

const SYSTEM: &str = "netsuite";

/// The error code of a delete NetSuite refuses because other records depend on the record (an
/// item on transactions, a customer with orders).
pub const DEPENDENT_RECORDS: &str =
    "THIS_RECORD_CANNOT_BE_DELETED_BECAUSE_IT_HAS_DEPENDENT_RECORDS";

/// How to reach one NetSuite account.
#[derive(Debug, Clone)]
pub struct NetSuiteConfig {
    /// Scheme, host and port, e.g. `https://1234567.suitetalk.api.netsuite.com` or
    /// `http://127.0.0.1:4002`.
    pub base_url: String,
    /// TBA credentials (the realm is the account id).
    pub credentials: Credentials,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl NetSuiteConfig {
    /// A config with a 60 s timeout.
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        NetSuiteConfig {
            base_url: base_url.into(),
            credentials,
            timeout: Duration::from_secs(60),
        }
    }

    /// The production base URL of an account (`123456_SB1` -> `https://123456-sb1.suitetalk...`).
    pub fn production_base_url(account_id: &str) -> String {
        format!(
            "https://{}.suitetalk.api.netsuite.com",
            account_id.to_ascii_lowercase().replace('_', "-")
        )
    }
}

/// A record addressed by internal id or by external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordRef {
    /// The internal id (`/customer/123`).
    Id(String),
    /// The external id (`/customer/eid:shopify-customer-1`).
    ExternalId(String),
}

impl RecordRef {
    fn segment(&self) -> Result<String, ConnectorError> {
        match self {
            RecordRef::Id(id) => {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ConnectorError::invalid(
                        SYSTEM,
                        InvalidRequest::BadField {
                            field: "id".into(),
                            reason: format!("internal id `{id}` is not numeric"),
                        },
                    ));
                }
                Ok(id.clone())
            }
            RecordRef::ExternalId(e) => {
                check_external_id(e)?;
                Ok(format!("eid:{e}"))
            }
        }
    }
}

/// Checks that an external id uses only letters, digits, `_` and `-`.
pub fn check_external_id(e: &str) -> Result<(), ConnectorError> {
    if e.is_empty()
        || !e
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConnectorError::invalid(
            SYSTEM,
            InvalidRequest::ExternalId(e.to_owned()),
        ));
    }
    Ok(())
}

/// Makes a valid external id from arbitrary text: disallowed characters become `-`.
pub fn sanitize_external_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// One page of a SuiteQL result.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteQlPage {
    /// Rows, keys as NetSuite returns them (lower case), `links` removed.
    pub items: Vec<Value>,
    /// Whether more rows follow.
    pub has_more: bool,
    /// Total rows of the query, when reported.
    pub total_results: Option<u64>,
}

/// A NetSuite REST response that succeeded.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    location: Option<String>,
    body: Option<Value>,
}

/// A NetSuite REST web services client for one account.
pub struct NetSuiteClient {
    http: reqwest::Client,
    base: String,
    creds: Credentials,
    governor: ConcurrencyGovernor,
    store_id: String,
    breaker: Option<CircuitBreaker>,
}

impl std::fmt::Debug for NetSuiteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetSuiteClient")
            .field("base", &self.base)
            .field("account", &self.creds.account_id)
            .finish_non_exhaustive()
    }
}

impl NetSuiteClient {
    /// Builds a client for `store_id`. `governor` is the ACCOUNT's concurrency governor, shared
    /// by every store and flow using the account (one per account id, e.g. from a
    /// `weft_ratelimit::GovernorRegistry`); every request holds one of its slots while in
    /// flight, granted to `store_id` in round-robin turn with the account's other stores.
    pub fn new(
        config: NetSuiteConfig,
        governor: ConcurrencyGovernor,
        store_id: impl Into<String>,
    ) -> Result<Self, ConnectorError> {
        // One client per process, shared by every store (weft_platform::http).
        let http = weft_platform::http::shared_client(config.timeout)
            .map_err(|e| ConnectorError::from_reqwest(SYSTEM, e))?;
        Ok(NetSuiteClient {
            http,
            base: config.base_url.trim_end_matches('/').to_owned(),
            creds: config.credentials,
            governor,
            store_id: store_id.into(),
            breaker: None,
        })
    }

    /// Adds a circuit breaker for this connection: calls fail fast while it is open.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The connection's circuit breaker, if it has one.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The account's concurrency governor.
    pub fn governor(&self) -> &ConcurrencyGovernor {
        &self.governor
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.creds.account_id
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
        transient: bool,
    ) -> Result<Reply, ConnectorError> {
        let url =
            reqwest::Url::parse(&format!("{}{}", self.base, path_and_query)).map_err(|e| {
                ConnectorError::invalid(
                    SYSTEM,
                    InvalidRequest::BadField {
                        field: "url".into(),
                        reason: e.to_string(),
                    },
                )
            })?;
        let probe = breaker_permit(self.breaker.as_ref(), SYSTEM)?;
        let _slot = self.governor.acquire(&self.store_id).await;
        // Sign after the permit is granted so the timestamp is fresh however long we waited.
        let auth = oauth::authorization(&self.creds, method.as_str(), &url).map_err(|e| {
            ConnectorError::invalid(
                SYSTEM,
                InvalidRequest::BadField {
                    field: "url".into(),
                    reason: e.to_string(),
                },
            )
        })?;
        let result = self.send(method, url, auth, body, transient).await;
        breaker_record(probe, &result);
        result
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        auth: String,
        body: Option<&Value>,
        transient: bool,
    ) -> Result<Reply, ConnectorError> {
        let mut req = self
            .http
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json");
        if transient {
            req = req.header("Prefer", "transient");
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ConnectorError::from_reqwest(SYSTEM, e))?;
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers());
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ConnectorError::from_reqwest(SYSTEM, e))?;
        let body: Option<Value> = if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            if !bytes.is_empty() && body.is_none() {
                return Err(ConnectorError::Transport {
                    system: SYSTEM,
                    message: format!(
                        "response is not JSON: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    ),
                    retryable: false,
                });
            }
            return Ok(Reply {
                status,
                location,
                body,
            });
        }
        Err(classify_error(status, retry_after, body.as_ref(), &bytes))
    }

    /// Reads a record with `expandSubResources=true`; `None` when it does not exist.
    pub async fn get_record(
        &self,
        record_type: &str,
        r: &RecordRef,
    ) -> Result<Option<Value>, ConnectorError> {
        let path = format!(
            "/services/rest/record/v1/{record_type}/{}?expandSubResources=true",
            r.segment()?
        );
        match self.request(reqwest::Method::GET, &path, None, false).await {
            Ok(reply) => Ok(reply.body),
            Err(ConnectorError::Permanent { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a record (`POST`); returns its internal id (from the `Location` header).
    pub async fn create_record(
        &self,
        record_type: &str,
        body: &Value,
    ) -> Result<String, ConnectorError> {
        let path = format!("/services/rest/record/v1/{record_type}");
        let reply = self
            .request(reqwest::Method::POST, &path, Some(body), false)
            .await?;
        id_from_reply(&reply).ok_or_else(|| ConnectorError::Transport {
            system: SYSTEM,
            message: format!("create of {record_type} returned no Location header"),
            retryable: false,
        })
    }

    /// Updates fields of a record (`PATCH`).
    pub async fn update_record(
        &self,
        record_type: &str,
        r: &RecordRef,
        body: &Value,
    ) -> Result<(), ConnectorError> {
        let path = format!("/services/rest/record/v1/{record_type}/{}", r.segment()?);
        self.request(reqwest::Method::PATCH, &path, Some(body), false)
            .await
            .map(|_| ())
    }

    /// Deletes a record (`DELETE`); `false` when it does not exist (deleted already). A record
    /// others depend on (an item with transactions, a customer with orders) is refused with a
    /// permanent error whose code says so ([`DEPENDENT_RECORDS`]).
    pub async fn delete_record(
        &self,
        record_type: &str,
        r: &RecordRef,
    ) -> Result<bool, ConnectorError> {
        let path = format!("/services/rest/record/v1/{record_type}/{}", r.segment()?);
        match self
            .request(reqwest::Method::DELETE, &path, None, false)
            .await
        {
            Ok(_) => Ok(true),
            Err(ConnectorError::Permanent { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Upserts by external id (`PUT .../eid:{external_id}`): creates the record if missing,
    /// updates it otherwise. Returns the internal id (from `Location`, or read back by external
    /// id when the response does not say).
    pub async fn upsert(
        &self,
        record_type: &str,
        external_id: &str,
        body: &Value,
    ) -> Result<String, ConnectorError> {
        check_external_id(external_id)?;
        let path = format!("/services/rest/record/v1/{record_type}/eid:{external_id}");
        let mut body = body.clone();
        if let Some(obj) = body.as_object_mut() {
            // The body must not contradict the address (NetSuite rejects a mismatch).
            obj.insert("externalId".into(), json!(external_id));
        }
        let reply = self
            .request(reqwest::Method::PUT, &path, Some(&body), false)
            .await?;
        if let Some(id) = id_from_reply(&reply) {
            return Ok(id);
        }
        let rec = self
            .get_record(record_type, &RecordRef::ExternalId(external_id.to_owned()))
            .await?
            .ok_or_else(|| ConnectorError::Transport {
                system: SYSTEM,
                message: format!("upserted {record_type} eid:{external_id} cannot be read back"),
                retryable: true,
            })?;
        rec.get("id")
            .and_then(id_text)
            .ok_or_else(|| ConnectorError::Transport {
                system: SYSTEM,
                message: format!("{record_type} eid:{external_id} has no id"),
                retryable: false,
            })
    }

    /// Runs one SuiteQL page (`POST /query/v1/suiteql?limit=&offset=` with `Prefer: transient`).
    pub async fn suiteql(
        &self,
        query: &str,
        limit: u32,
        offset: u64,
    ) -> Result<SuiteQlPage, ConnectorError> {
        let path = format!(
            "/services/rest/query/v1/suiteql?limit={}&offset={offset}",
            limit.clamp(1, 1000)
        );
        let reply = self
            .request(
                reqwest::Method::POST,
                &path,
                Some(&json!({"q": query})),
                true,
            )
            .await?;
        let body = reply.body.unwrap_or(Value::Null);
        let items = body
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Transport {
                system: SYSTEM,
                message: format!("suiteql response (status {}) has no `items`", reply.status),
                retryable: false,
            })?
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if let Some(o) = i.as_object_mut() {
                    o.remove("links");
                }
                i
            })
            .collect();
        Ok(SuiteQlPage {
            items,
            has_more: body
                .get("hasMore")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            total_results: body.get("totalResults").and_then(Value::as_u64),
        })
    }

    /// Runs a SuiteQL query to the end, following `hasMore` with `offset`. Give the query a
    /// unique ORDER BY, or pages can overlap or skip (Oracle's advice).
    pub async fn suiteql_all(
        &self,
        query: &str,
        page_size: u32,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self.suiteql(query, page_size, offset).await?;
            let n = page.items.len() as u64;
            out.extend(page.items);
            if !page.has_more || n == 0 {
                return Ok(out);
            }
            offset += n;
        }
    }
}

/// An id given as a JSON string or number, as text.
pub(crate) fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id_from_reply(reply: &Reply) -> Option<String> {
    if let Some(loc) = &reply.location {
        let last = loc.trim_end_matches('/').rsplit('/').next()?;
        if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
            return Some(last.to_owned());
        }
    }
    reply.body.as_ref()?.get("id").and_then(id_text)
}

/// Codes that mean "the account's concurrency (or request) limit was hit": retry later.
const LIMIT_CODES: &[&str] = &[
    "SSS_REQUEST_LIMIT_EXCEEDED",
    "CONCURRENCY_LIMIT_EXCEEDED",
    "WS_REQUEST_BLOCKED",
    "WS_CONCUR_SESSION_DISALLWD",
    "EXCEEDED_CONCURRENT_REQUEST_LIMIT",
];

/// Classifies a failed NetSuite response from its status and `o:errorDetails` body.
pub(crate) fn classify_error(
    status: u16,
    retry_after: Option<Duration>,
    body: Option<&Value>,
    raw: &[u8],
) -> ConnectorError {
    let details: Vec<&Value> = body
        .and_then(|b| b.get("o:errorDetails"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let code = details
        .iter()
        .find_map(|d| d.get("o:errorCode").and_then(Value::as_str))
        .map(str::to_owned);
    let mut message = details
        .iter()
        .filter_map(|d| d.get("detail").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("; ");
    if message.is_empty() {
        message = body
            .and_then(|b| b.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&raw[..raw.len().min(512)]).into_owned());
    }
    let limit_hit = code.as_deref().is_some_and(|c| LIMIT_CODES.contains(&c))
        || message
            .to_ascii_lowercase()
            .contains("concurrent request limit");
    if status == 429 || limit_hit {
        return ConnectorError::Throttled {
            system: SYSTEM,
            retry_after,
        };
    }
    if status >= 500 || status == 408 {
        return ConnectorError::Retryable {
            system: SYSTEM,
            status: Some(status),
            message: match code {
                Some(c) => format!("{c}: {message}"),
                None => message,
            },
            retry_after,
        };
    }
    ConnectorError::Permanent {
        system: SYSTEM,
        status,
        code: code.unwrap_or_else(|| "UNKNOWN".into()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_body(code: &str, detail: &str, status: u16) -> Value {
        json!({
            "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
            "title": "Bad Request", "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}]
        })
    }

    #[test]
    fn validation_errors_are_permanent_with_the_platform_message() {
        let b = err_body(
            "USER_ERROR",
            "Error while accessing a resource. You have entered an Invalid Field Value 99 for the following field: entity",
            400,
        );
        let e = classify_error(400, None, Some(&b), b"");
        match &e {
            ConnectorError::Permanent {
                status,
                code,
                message,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(code, "USER_ERROR");
                assert!(message.contains("Invalid Field Value 99"));
            }
            other => panic!("expected Permanent, got {other:?}"),
        }
        assert!(!e.is_retryable());
    }

    #[test]
    fn limits_and_server_errors_are_retryable() {
        let b = err_body(
            "SSS_REQUEST_LIMIT_EXCEEDED",
            "Request blocked by the concurrency limit",
            400,
        );
        let e = classify_error(400, None, Some(&b), b"");
        assert!(matches!(e, ConnectorError::Throttled { .. }));
        let b = err_body("CONCURRENCY_LIMIT_EXCEEDED", "Too many requests", 429);
        let e = classify_error(429, Some(Duration::from_secs(1)), Some(&b), b"");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        assert!(e.is_retryable());
        let b = err_body(
            "UNEXPECTED_ERROR",
            "SuiteTalk concurrent request limit exceeded. Request blocked.",
            403,
        );
        assert!(classify_error(403, None, Some(&b), b"").is_retryable());
        let e = classify_error(503, None, None, b"Service Unavailable");
        assert!(
            matches!(&e, ConnectorError::Retryable { status: Some(503), message, .. } if message == "Service Unavailable")
        );
        let b = err_body("INVALID_LOGIN", "Invalid login attempt.", 401);
        assert!(!classify_error(401, None, Some(&b), b"").is_retryable());
    }

    #[test]
    fn external_ids_are_checked_and_sanitized() {
        assert!(check_external_id("shopify-order-820982911946154508").is_ok());
        assert!(check_external_id("a_b-C9").is_ok());
        assert!(check_external_id("a|b").is_err());
        assert!(check_external_id("").is_err());
        assert_eq!(sanitize_external_id("k:1/2 x"), "k-1-2-x");
        assert_eq!(
            NetSuiteConfig::production_base_url("123456_SB1"),
            "https://123456-sb1.suitetalk.api.netsuite.com"
        );
    }

    #[test]
    fn ids_come_from_location_or_body() {
        let r = Reply {
            status: 204,
            location: Some(
                "https://x.suitetalk.api.netsuite.com/services/rest/record/v1/customer/647".into(),
            ),
            body: None,
        };
        assert_eq!(id_from_reply(&r).as_deref(), Some("647"));
        let r = Reply {
            status: 200,
            location: None,
            body: Some(json!({"id": "12"})),
        };
        assert_eq!(id_from_reply(&r).as_deref(), Some("12"));
    }
}
