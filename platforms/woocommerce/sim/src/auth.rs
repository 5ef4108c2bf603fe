//! Authentication as `WC_REST_Authentication` does it: consumer key and secret over HTTP Basic
//! or as `consumer_key`/`consumer_secret` query parameters, and one-legged OAuth 1.0a
//! (HMAC-SHA1 or HMAC-SHA256, key `consumer_secret&`, 15-minute timestamp window, nonces
//! refused on reuse). Read-only keys are refused on anything but GET/HEAD.

use std::collections::HashMap;

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::{ApiKey, KeyPermissions};
use crate::error::WcError;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (PHP's
/// `rawurlencode`).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `rawurlencode`.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

fn auth_error(message: &str) -> WcError {
    WcError::new(401, "woocommerce_rest_authentication_error", message)
}

/// Remembered OAuth nonces per consumer key, with their timestamps.
#[derive(Default)]
pub struct NonceStore {
    seen: HashMap<(String, String), i64>,
}

impl NonceStore {
    fn use_nonce(&mut self, key: &str, nonce: &str, ts: i64, now: i64, window: i64) -> bool {
        self.seen.retain(|_, t| *t >= now - window);
        self.seen
            .insert((key.to_string(), nonce.to_string()), ts)
            .is_none()
    }
}

/// The parts of a request authentication looks at.
pub struct AuthRequest<'a> {
    /// HTTP method (after overrides).
    pub method: &'a str,
    /// Base URL the client addressed, without query (`http://host/wp-json/wc/v3/products`).
    pub base_url: String,
    /// Decoded query parameters in order.
    pub query: &'a [(String, String)],
    /// `Authorization` header.
    pub authorization: Option<&'a str>,
}

/// Finds the key a request authenticates as: `Ok(None)` when it carries no credentials
/// (WordPress then treats it as a visitor and the permission check refuses it).
pub fn authenticate(
    keys: &[ApiKey],
    nonces: &mut NonceStore,
    window: i64,
    now: i64,
    req: &AuthRequest<'_>,
) -> Result<Option<ApiKey>, WcError> {
    let q = |k: &str| {
        req.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let key = if let Some(basic) = req.authorization.and_then(|h| {
        h.strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
    }) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| auth_error("Consumer key is invalid."))?;
        let (ck, cs) = decoded.split_once(':').unwrap_or((&decoded, ""));
        Some(basic_key(keys, ck, cs)?)
    } else if let (Some(ck), Some(cs)) = (q("consumer_key"), q("consumer_secret")) {
        Some(basic_key(keys, ck, cs)?)
    } else if q("oauth_consumer_key").is_some()
        || req
            .authorization
            .is_some_and(|h| h.trim_start().starts_with("OAuth "))
    {
        Some(oauth(keys, nonces, window, now, req)?)
    } else {
        None
    };
    if let Some(k) = &key {
        let reading = matches!(req.method, "GET" | "HEAD");
        match k.permissions {
            KeyPermissions::Read if !reading => {
                return Err(auth_error(
                    "The API key provided does not have write permissions.",
                ));
            }
            KeyPermissions::Write if reading => {
                return Err(auth_error(
                    "The API key provided does not have read permissions.",
                ));
            }
            _ => {}
        }
    }
    Ok(key)
}

fn basic_key(keys: &[ApiKey], ck: &str, cs: &str) -> Result<ApiKey, WcError> {
    let k = keys
        .iter()
        .find(|k| k.consumer_key == ck)
        .ok_or_else(|| auth_error("Consumer key is invalid."))?;
    if !constant_eq(k.consumer_secret.as_bytes(), cs.as_bytes()) {
        return Err(auth_error("Consumer secret is invalid."));
    }
    Ok(k.clone())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses `Authorization: OAuth k="v", …` into decoded pairs.
fn oauth_header(h: &str) -> Vec<(String, String)> {
    let Some(rest) = h.trim_start().strip_prefix("OAuth ") else {
        return Vec::new();
    };
    rest.split(',')
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            let v = v.trim().trim_matches('"');
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            Some((dec(k.trim()), dec(v)))
        })
        .filter(|(k, _)| k != "realm")
        .collect()
}

/// The OAuth 1.0a signature base string and signature for a request.
pub fn oauth_signature(
    method: &str,
    base_url: &str,
    params: &[(String, String)],
    consumer_secret: &str,
    algorithm: &str,
) -> Option<String> {
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
    let key = format!("{consumer_secret}&");
    let raw = match algorithm {
        "HMAC-SHA1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).ok()?;
            m.update(base.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "HMAC-SHA256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).ok()?;
            m.update(base.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        _ => return None,
    };
    Some(base64::engine::general_purpose::STANDARD.encode(raw))
}

fn oauth(
    keys: &[ApiKey],
    nonces: &mut NonceStore,
    window: i64,
    now: i64,
    req: &AuthRequest<'_>,
) -> Result<ApiKey, WcError> {
    // PHP's `$_GET`: a repeated key keeps its last value (clients such as the Python library
    // send signed parameters twice).
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, v) in req.query {
        match params.iter_mut().find(|(n, _)| n == k) {
            Some(slot) if !k.ends_with("[]") => slot.1 = v.clone(),
            _ => params.push((k.clone(), v.clone())),
        }
    }
    let from_header = req.authorization.map(oauth_header).unwrap_or_default();
    if !params.iter().any(|(k, _)| k == "oauth_consumer_key") {
        params.extend(from_header);
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let missing: Vec<&str> = [
        "oauth_consumer_key",
        "oauth_signature",
        "oauth_signature_method",
        "oauth_nonce",
        "oauth_timestamp",
    ]
    .into_iter()
    .filter(|k| get(k).is_none_or(|v| v.is_empty()))
    .collect();
    if !missing.is_empty() {
        return Err(auth_error(&format!(
            "Missing OAuth parameter(s) {}",
            missing.join(", ")
        )));
    }
    let ck = get("oauth_consumer_key").unwrap_or_default();
    let key = keys
        .iter()
        .find(|k| k.consumer_key == ck)
        .ok_or_else(|| auth_error("Consumer key is invalid."))?;
    let method = get("oauth_signature_method").unwrap_or_default();
    let Some(expected) = oauth_signature(
        req.method,
        &req.base_url,
        &params,
        &key.consumer_secret,
        &method,
    ) else {
        return Err(auth_error(
            "Invalid signature - signature method is invalid or not supported.",
        ));
    };
    // A '+' left unencoded by the client arrives as a space.
    let given = get("oauth_signature").unwrap_or_default().replace(' ', "+");
    if !constant_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(auth_error(
            "Invalid signature - provided signature does not match.",
        ));
    }
    let ts: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| auth_error("Invalid timestamp."))?;
    if ts < now - window || ts > now + window {
        return Err(auth_error("Invalid timestamp."));
    }
    let nonce = get("oauth_nonce").unwrap_or_default();
    if !nonces.use_nonce(&ck, &nonce, ts, now, window) {
        return Err(auth_error("Invalid nonce - nonce has already been used."));
    }
    Ok(key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(encode("a b/c~d*e+f"), "a%20b%2Fc~d%2Ae%2Bf");
    }

    #[test]
    fn base_string_sorts_and_double_encodes() {
        // Computed independently: the base string
        // GET&http%3A%2F%2Fh%2Fp&a%3D1%26b%3Dx%2520y and key `s&`.
        let params = vec![
            ("b".to_string(), "x y".to_string()),
            ("a".to_string(), "1".to_string()),
            ("oauth_signature".to_string(), "ignored".to_string()),
        ];
        let got = oauth_signature("get", "http://h/p", &params, "s", "HMAC-SHA1").unwrap();
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(b"s&").unwrap();
        m.update(b"GET&http%3A%2F%2Fh%2Fp&a%3D1%26b%3Dx%2520y");
        let want = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
        assert_eq!(got, want);
        assert!(oauth_signature("GET", "http://h/p", &params, "s", "PLAINTEXT").is_none());
    }
}
