//! OAuth 1.0a (RFC 5849) request signing with HMAC-SHA256, the only signature method NetSuite
//! token-based authentication (TBA) accepts.
//!
//! Pure functions, shared by the simulator (which verifies) and weft's NetSuite connector (which
//! signs). Parameters are handled decoded; every encoding step uses RFC 3986 percent-encoding
//! (unreserved characters `A-Z a-z 0-9 - . _ ~` kept, everything else `%XX` upper-case), as
//! RFC 5849 §3.6 requires.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

/// The signature method NetSuite TBA requires (`oauth_signature_method`).
pub const SIGNATURE_METHOD: &str = "HMAC-SHA256";

/// Characters RFC 3986 leaves unencoded (§2.3); everything else is percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What can go wrong building or reading OAuth 1.0a data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OAuthError {
    /// The URL is not `scheme://authority/path...`.
    #[error("oauth1: url `{0}` is not absolute (expected scheme://host/path)")]
    BadUrl(String),
    /// The `Authorization` header does not use the `OAuth` scheme.
    #[error("oauth1: authorization header does not use the OAuth scheme")]
    NotOAuth,
    /// A `name="value"` pair of the header could not be parsed.
    #[error("oauth1: malformed authorization header parameter `{0}`")]
    MalformedParameter(String),
    /// A percent-encoded value is not valid UTF-8.
    #[error("oauth1: percent-encoded value `{0}` is not valid utf-8")]
    BadEncoding(String),
}

/// One set of NetSuite TBA credentials: an integration record (consumer) and an access token.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    /// The account id, e.g. `1234567` or `1234567_SB1` (sent as `realm`).
    pub realm: String,
    /// The integration record's consumer key.
    pub consumer_key: String,
    /// The integration record's consumer secret.
    pub consumer_secret: String,
    /// The access token id.
    pub token_id: String,
    /// The access token secret.
    pub token_secret: String,
}

/// Percent-encodes `s` per RFC 3986 (as RFC 5849 §3.6 requires).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Decodes a percent-encoded value (`+` is kept literally, as in an `Authorization` header).
pub fn percent_decode(s: &str) -> Result<String, OAuthError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| OAuthError::BadEncoding(s.to_owned()))
}

/// Decodes a query string (`application/x-www-form-urlencoded`: `+` means space) into pairs.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, OAuthError> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((
            percent_decode(&k.replace('+', " "))?,
            percent_decode(&v.replace('+', " "))?,
        ));
    }
    Ok(out)
}

/// Splits an absolute URL into its base string URI (RFC 5849 §3.4.1.2: lower-case scheme and
/// host, default port dropped, no query or fragment) and its decoded query parameters.
pub fn split_url(url: &str) -> Result<(String, Vec<(String, String)>), OAuthError> {
    let url = url.split('#').next().unwrap_or(url);
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| OAuthError::BadUrl(url.to_owned()))?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path_and_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        },
    };
    if authority.is_empty() {
        return Err(OAuthError::BadUrl(url.to_owned()));
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_and_query, ""),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((
        format!(
            "{scheme}://{}{path}",
            normalize_authority(&scheme, authority)
        ),
        parse_query(query)?,
    ))
}

/// Lower-cases the host and drops the scheme's default port.
fn normalize_authority(scheme: &str, authority: &str) -> String {
    let lower = authority.to_ascii_lowercase();
    let default = match scheme {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    match default {
        Some(port) if lower.ends_with(port) => lower[..lower.len() - port.len()].to_owned(),
        _ => lower,
    }
}

/// Builds the signature base string (RFC 5849 §3.4.1): `METHOD&enc(base_uri)&enc(params)`.
///
/// `params` are the decoded request parameters: the `oauth_*` protocol parameters (without
/// `oauth_signature` and `realm`) plus the query parameters (and form body parameters, which
/// NetSuite's JSON API never has). They are encoded, sorted by name then value, and joined.
pub fn signature_base_string(method: &str, base_uri: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let normalized = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(base_uri),
        percent_encode(&normalized)
    )
}

/// Signs a base string with HMAC-SHA256 under the key `enc(consumer_secret)&enc(token_secret)`
/// and returns the base64 signature (not yet percent-encoded).
pub fn sign(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("hmac takes any key");
    mac.update(base_string.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The protocol parameters of one signed request, in header order.
fn protocol_params(creds: &Credentials, timestamp: u64, nonce: &str) -> Vec<(String, String)> {
    vec![
        ("oauth_consumer_key".into(), creds.consumer_key.clone()),
        ("oauth_token".into(), creds.token_id.clone()),
        ("oauth_signature_method".into(), SIGNATURE_METHOD.into()),
        ("oauth_timestamp".into(), timestamp.to_string()),
        ("oauth_nonce".into(), nonce.to_owned()),
        ("oauth_version".into(), "1.0".into()),
    ]
}

/// Computes the signature NetSuite expects for `method url` (query parameters included).
pub fn request_signature(
    creds: &Credentials,
    method: &str,
    url: &str,
    timestamp: u64,
    nonce: &str,
) -> Result<String, OAuthError> {
    let (base_uri, mut params) = split_url(url)?;
    params.extend(protocol_params(creds, timestamp, nonce));
    let base = signature_base_string(method, &base_uri, &params);
    Ok(sign(&base, &creds.consumer_secret, &creds.token_secret))
}

/// Builds the complete `Authorization` header value for `method url`, in the form NetSuite
/// documents: `OAuth realm="…", oauth_consumer_key="…", …, oauth_signature="…"`.
pub fn authorization_header(
    creds: &Credentials,
    method: &str,
    url: &str,
    timestamp: u64,
    nonce: &str,
) -> Result<String, OAuthError> {
    let signature = request_signature(creds, method, url, timestamp, nonce)?;
    let mut parts = vec![format!("realm=\"{}\"", percent_encode(&creds.realm))];
    for (k, v) in protocol_params(creds, timestamp, nonce) {
        parts.push(format!("{k}=\"{}\"", percent_encode(&v)));
    }
    parts.push(format!(
        "oauth_signature=\"{}\"",
        percent_encode(&signature)
    ));
    Ok(format!("OAuth {}", parts.join(", ")))
}

/// Parses an `Authorization: OAuth ...` header value into decoded `(name, value)` pairs, in
/// order (including `realm`).
pub fn parse_authorization_header(value: &str) -> Result<Vec<(String, String)>, OAuthError> {
    let value = value.trim();
    let rest = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("OAuth") => rest,
        _ if value.eq_ignore_ascii_case("OAuth") => "",
        _ => return Err(OAuthError::NotOAuth),
    };
    let mut out = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| OAuthError::MalformedParameter(part.to_owned()))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| OAuthError::MalformedParameter(part.to_owned()))?;
        out.push((percent_decode(k.trim())?, percent_decode(v)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_per_rfc3986() {
        assert_eq!(percent_encode("a b+c/~_.-"), "a%20b%2Bc%2F~_.-");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn base_uri_is_normalized() {
        let (uri, q) = split_url("HTTP://Example.COM:80/r/v1?b=2&a=1+x").unwrap();
        assert_eq!(uri, "http://example.com/r/v1");
        assert_eq!(
            q,
            vec![("b".into(), "2".into()), ("a".into(), "1 x".into())]
        );
        let (uri, _) = split_url("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(uri, "http://127.0.0.1:8080/x");
    }

    #[test]
    fn header_round_trips() {
        let creds = Credentials {
            realm: "123_SB1".into(),
            consumer_key: "ck".into(),
            consumer_secret: "cs".into(),
            token_id: "tk".into(),
            token_secret: "ts".into(),
        };
        let h = authorization_header(&creds, "GET", "http://h/p?x=1", 10, "abcdef").unwrap();
        let parsed = parse_authorization_header(&h).unwrap();
        assert_eq!(parsed[0], ("realm".into(), "123_SB1".into()));
        let sig = &parsed
            .iter()
            .find(|(k, _)| k == "oauth_signature")
            .unwrap()
            .1;
        assert_eq!(
            sig,
            &request_signature(&creds, "GET", "http://h/p?x=1", 10, "abcdef").unwrap()
        );
    }
}
