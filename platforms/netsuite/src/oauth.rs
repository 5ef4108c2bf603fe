//! OAuth 1.0a token-based authentication (TBA) for NetSuite, HMAC-SHA256 only.
//!
//! Implements RFC 5849 §3.4.1 signature base strings: the upper-case method, the base URI
//! (lower-case scheme and host, default port dropped, no query), and the normalized parameters
//! (every `oauth_*` parameter except the signature and realm, plus the query parameters, each
//! name and value percent-encoded per RFC 3986 §2.1 with only unreserved characters left
//! bare, sorted by name then value, joined with `=` and `&`). The key is
//! `enc(consumer_secret)&enc(token_secret)`; the signature is base64 of HMAC-SHA256. The header
//! carries `realm` = the account id (upper case, `-` as `_`, as NetSuite expects for sandboxes).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use sha2::Sha256;

/// RFC 3986 unreserved characters stay bare; everything else is encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes per RFC 3986 (as OAuth 1.0a requires).
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// TBA credentials of one integration + token on one account.
#[derive(Clone)]
pub struct Credentials {
    /// The account id, e.g. `1234567` or `1234567_SB1` (the realm).
    pub account_id: String,
    /// The integration's consumer key.
    pub consumer_key: String,
    /// The integration's consumer secret.
    pub consumer_secret: String,
    /// The access token id.
    pub token_id: String,
    /// The access token secret.
    pub token_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_id", &self.account_id)
            .field("consumer_key", &"<redacted>")
            .field("consumer_secret", &"<redacted>")
            .field("token_id", &"<redacted>")
            .field("token_secret", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The OAuth realm: the account id in upper case with `-` written `_`.
    pub fn realm(&self) -> String {
        self.account_id.to_ascii_uppercase().replace('-', "_")
    }
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The URL cannot be a base URI (no host).
    #[error("cannot sign url `{0}`: it has no host")]
    NoHost(String),
}

/// The RFC 5849 base URI of a URL: scheme and host lower case, default port dropped.
fn base_uri(url: &reqwest::Url) -> Result<String, SignError> {
    let host = url
        .host_str()
        .ok_or_else(|| SignError::NoHost(url.to_string()))?
        .to_ascii_lowercase();
    let scheme = url.scheme().to_ascii_lowercase();
    let port = match url.port() {
        Some(p) if !((scheme == "http" && p == 80) || (scheme == "https" && p == 443)) => {
            format!(":{p}")
        }
        _ => String::new(),
    };
    Ok(format!("{scheme}://{host}{port}{}", url.path()))
}

/// The signature base string for `method url` with the given `oauth_*` parameters.
pub fn base_string(
    method: &str,
    url: &reqwest::Url,
    oauth_params: &[(&str, &str)],
) -> Result<String, SignError> {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (encode(&k), encode(&v)))
        .chain(oauth_params.iter().map(|(k, v)| (encode(k), encode(v))))
        .collect();
    params.sort();
    let normalized = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_uri(url)?),
        encode(&normalized)
    ))
}

/// Base64 HMAC-SHA256 of `base` with the key `enc(consumer_secret)&enc(token_secret)`.
pub fn signature(base: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("hmac takes any key");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A fresh nonce: 20 alphanumeric characters from the OS-seeded CSPRNG.
pub fn nonce() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// The `Authorization` header value for one request, with the given nonce and timestamp.
pub fn authorization_with(
    creds: &Credentials,
    method: &str,
    url: &reqwest::Url,
    nonce: &str,
    timestamp: u64,
) -> Result<String, SignError> {
    let ts = timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", creds.consumer_key.as_str()),
        ("oauth_token", creds.token_id.as_str()),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_timestamp", ts.as_str()),
        ("oauth_nonce", nonce),
        ("oauth_version", "1.0"),
    ];
    let base = base_string(method, url, &oauth)?;
    let sig = signature(&base, &creds.consumer_secret, &creds.token_secret);
    let mut header = format!("OAuth realm=\"{}\"", encode(&creds.realm()));
    for (k, v) in oauth {
        header.push_str(&format!(", {k}=\"{}\"", encode(v)));
    }
    header.push_str(&format!(", oauth_signature=\"{}\"", encode(&sig)));
    Ok(header)
}

/// The `Authorization` header value for one request, with a fresh nonce and the current time.
pub fn authorization(
    creds: &Credentials,
    method: &str,
    url: &reqwest::Url,
) -> Result<String, SignError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    authorization_with(creds, method, url, &nonce(), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            account_id: "123456-sb1".into(),
            consumer_key: "ck_ABC def".into(),
            consumer_secret: "cs secret&1".into(),
            token_id: "tk/123+==".into(),
            token_secret: "ts~secret/2".into(),
        }
    }

    /// Vector computed independently with Python's `hmac`, `hashlib` and
    /// `urllib.parse.quote(s, safe='-._~')`, following RFC 5849 §3.4.1 by hand.
    #[test]
    fn matches_independent_vector() {
        let url = reqwest::Url::parse(
            "https://123456-SB1.suitetalk.api.netsuite.com:443/services/rest/query/v1/suiteql?limit=5&offset=10",
        )
        .unwrap();
        let c = creds();
        let oauth = [
            ("oauth_consumer_key", c.consumer_key.as_str()),
            ("oauth_token", c.token_id.as_str()),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", "1700000000"),
            ("oauth_nonce", "n0nce!xyz"),
            ("oauth_version", "1.0"),
        ];
        let base = base_string("post", &url, &oauth).unwrap();
        assert_eq!(
            base,
            "POST&https%3A%2F%2F123456-sb1.suitetalk.api.netsuite.com%2Fservices%2Frest%2Fquery%2Fv1%2Fsuiteql&limit%3D5%26oauth_consumer_key%3Dck_ABC%2520def%26oauth_nonce%3Dn0nce%2521xyz%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%252F123%252B%253D%253D%26oauth_version%3D1.0%26offset%3D10"
        );
        assert_eq!(
            signature(&base, &c.consumer_secret, &c.token_secret),
            "hJLckk64EkSGGrV3Rv3nddKFF64nqUuFlpD+U/he3po="
        );
        let header = authorization_with(&c, "POST", &url, "n0nce!xyz", 1_700_000_000).unwrap();
        assert_eq!(
            header,
            "OAuth realm=\"123456_SB1\", oauth_consumer_key=\"ck_ABC%20def\", oauth_token=\"tk%2F123%2B%3D%3D\", \
             oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"1700000000\", oauth_nonce=\"n0nce%21xyz\", \
             oauth_version=\"1.0\", oauth_signature=\"hJLckk64EkSGGrV3Rv3nddKFF64nqUuFlpD%2BU%2Fhe3po%3D\""
        );
    }

    #[test]
    fn non_default_port_is_kept() {
        let url = reqwest::Url::parse("http://127.0.0.1:8080/services/rest/record/v1/customer/1")
            .unwrap();
        assert_eq!(
            base_uri(&url).unwrap(),
            "http://127.0.0.1:8080/services/rest/record/v1/customer/1"
        );
    }

    #[test]
    fn nonces_are_long_and_distinct() {
        let a = nonce();
        let b = nonce();
        assert!(a.len() >= 6);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", creds());
        assert!(!s.contains("cs secret"));
        assert!(!s.contains("ts~secret"));
    }
}
