//! Verification of NetSuite token-based authentication (OAuth 1.0a, HMAC-SHA256) on every
//! REST request, with a nonce cache and a timestamp window on the simulator's clock.

use crate::config::SimConfig;
use crate::oauth1;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

/// Who a verified request came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Integration (consumer) name.
    pub integration: String,
    /// Consumer key.
    pub consumer_key: String,
    /// Token id.
    pub token_id: String,
}

/// Why a request was refused (NetSuite only says `INVALID_LOGIN_ATTEMPT`; the simulator keeps
/// the reason in its login audit trail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The consumer key claimed, if any.
    pub consumer_key: Option<String>,
    /// The reason, lower-case.
    pub reason: String,
}

fn refuse(consumer_key: Option<&str>, reason: impl Into<String>) -> Refusal {
    Refusal {
        consumer_key: consumer_key.map(str::to_owned),
        reason: reason.into(),
    }
}

/// Nonces seen recently, per consumer key and token.
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: HashMap<(String, String, String), i64>,
    order: VecDeque<(i64, (String, String, String))>,
}

impl NonceCache {
    /// Forgets nonces whose timestamp is older than `oldest` (such requests fail the timestamp
    /// check anyway).
    fn prune(&mut self, oldest: i64) {
        while let Some((ts, _)) = self.order.front() {
            if *ts >= oldest {
                break;
            }
            let (_, key) = self.order.pop_front().expect("front exists");
            if self.seen.get(&key).is_some_and(|t| *t < oldest) {
                self.seen.remove(&key);
            }
        }
    }

    /// Records a nonce; `false` if it was already used.
    fn insert(&mut self, key: (String, String, String), ts: i64) -> bool {
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key.clone(), ts);
        self.order.push_back((ts, key));
        true
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies the `Authorization` header of one request.
///
/// `base_uri` is the request URL without query as the client addressed it
/// (`http://host:port/path`); `query` the decoded query parameters.
pub fn verify(
    config: &SimConfig,
    nonces: &mut NonceCache,
    now: DateTime<Utc>,
    method: &str,
    base_uri: &str,
    query: &[(String, String)],
    header: Option<&str>,
) -> Result<Caller, Refusal> {
    let header = header.ok_or_else(|| refuse(None, "no authorization header"))?;
    if header
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("bearer")
    {
        return Err(refuse(
            None,
            "oauth 2.0 bearer tokens are not modelled by the simulator; use token-based authentication",
        ));
    }
    let params = oauth1::parse_authorization_header(header)
        .map_err(|e| refuse(None, format!("unreadable authorization header: {e}")))?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let consumer_key = get("oauth_consumer_key");
    for required in [
        "realm",
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_signature",
    ] {
        if get(required).is_none() {
            return Err(refuse(consumer_key, format!("missing {required}")));
        }
    }
    let consumer_key = consumer_key.expect("checked");
    let ck = Some(consumer_key);
    let realm = get("realm").expect("checked");
    if realm != config.account_id {
        return Err(refuse(
            ck,
            format!("realm {realm} is not the account id {}", config.account_id),
        ));
    }
    let method_name = get("oauth_signature_method").expect("checked");
    if method_name != oauth1::SIGNATURE_METHOD {
        return Err(refuse(
            ck,
            format!("signature method {method_name} is not HMAC-SHA256"),
        ));
    }
    if let Some(v) = get("oauth_version")
        && v != "1.0"
    {
        return Err(refuse(ck, format!("oauth_version {v} is not 1.0")));
    }
    let integration = config
        .integrations
        .iter()
        .find(|i| i.consumer_key == consumer_key)
        .ok_or_else(|| refuse(ck, "unknown consumer key"))?;
    let token_id = get("oauth_token").expect("checked");
    let token = integration
        .tokens
        .iter()
        .find(|t| t.token_id == token_id)
        .ok_or_else(|| refuse(ck, "unknown token for this integration"))?;
    let nonce = get("oauth_nonce").expect("checked");
    if nonce.chars().count() < 6 {
        return Err(refuse(ck, "nonce shorter than 6 characters"));
    }
    let ts: i64 = get("oauth_timestamp")
        .expect("checked")
        .parse()
        .map_err(|_| refuse(ck, "timestamp is not epoch seconds"))?;
    let tolerance = config.timestamp_tolerance.as_secs() as i64;
    let now_s = now.timestamp();
    if (ts - now_s).abs() > tolerance {
        return Err(refuse(
            ck,
            format!("timestamp {ts} is more than {tolerance}s from the server clock {now_s}"),
        ));
    }
    let mut signed: Vec<(String, String)> = query.to_vec();
    signed.extend(
        params
            .iter()
            .filter(|(k, _)| k.starts_with("oauth_") && k != "oauth_signature")
            .cloned(),
    );
    let base = oauth1::signature_base_string(method, base_uri, &signed);
    let expected = oauth1::sign(&base, &integration.consumer_secret, &token.token_secret);
    let given = get("oauth_signature").expect("checked");
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(refuse(ck, "signature mismatch"));
    }
    nonces.prune(now_s - tolerance);
    if !nonces.insert(
        (
            consumer_key.to_owned(),
            token_id.to_owned(),
            nonce.to_owned(),
        ),
        ts,
    ) {
        return Err(refuse(ck, "nonce already used"));
    }
    Ok(Caller {
        integration: integration.name.clone(),
        consumer_key: consumer_key.to_owned(),
        token_id: token_id.to_owned(),
    })
}
