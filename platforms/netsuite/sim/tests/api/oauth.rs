//! Token-based authentication: an independently computed signature vector, acceptance, every
//! rejection case, and an unmodified third-party OAuth 1.0a client crate against the simulator.

use crate::common::{Client, REC, config, start};
use reqwest::Method;
use serde_json::json;
use weft_sim_netsuite::auth::{NonceCache, verify};
use weft_sim_netsuite::config::{IntegrationConfig, TokenConfig};
use weft_sim_netsuite::oauth1::{self, Credentials};

/// Inputs and output of an independent implementation: Python `oauthlib` 3.2 / 4.0:
///
/// ```python
/// from oauthlib.oauth1 import Client, SIGNATURE_HMAC_SHA256
/// c = Client('ck-7f3a9c', client_secret='cs-2b8e1d', resource_owner_key='tk-91d0e4',
///            resource_owner_secret='ts-5c6f7a', signature_method=SIGNATURE_HMAC_SHA256,
///            realm='1234567_SB1', nonce='n0nce-Xy7', timestamp='1767225600')
/// c.sign('https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql'
///        '?limit=10&offset=20&q=a%20b%2Fc', http_method='POST')[1]['Authorization']
/// ```
const VECTOR_URL: &str = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=10&offset=20&q=a%20b%2Fc";
const VECTOR_HEADER: &str = r#"OAuth realm="1234567_SB1", oauth_nonce="n0nce-Xy7", oauth_timestamp="1767225600", oauth_version="1.0", oauth_signature_method="HMAC-SHA256", oauth_consumer_key="ck-7f3a9c", oauth_token="tk-91d0e4", oauth_signature="SIZTOwaIy6bAJQH92atjQPWFogPxZm1W%2BbYqRg9GIo4%3D""#;
const VECTOR_SIGNATURE: &str = "SIZTOwaIy6bAJQH92atjQPWFogPxZm1W+bYqRg9GIo4=";

fn vector_creds() -> Credentials {
    Credentials {
        realm: "1234567_SB1".into(),
        consumer_key: "ck-7f3a9c".into(),
        consumer_secret: "cs-2b8e1d".into(),
        token_id: "tk-91d0e4".into(),
        token_secret: "ts-5c6f7a".into(),
    }
}

#[test]
fn signature_matches_an_independent_implementation() {
    let sig =
        oauth1::request_signature(&vector_creds(), "POST", VECTOR_URL, 1767225600, "n0nce-Xy7")
            .unwrap();
    assert_eq!(sig, VECTOR_SIGNATURE);
    // The base string, built step by step by hand (RFC 5849 §3.4.1).
    let params = "limit=10&oauth_consumer_key=ck-7f3a9c&oauth_nonce=n0nce-Xy7&oauth_signature_method=HMAC-SHA256\
                  &oauth_timestamp=1767225600&oauth_token=tk-91d0e4&oauth_version=1.0&offset=20&q=a%20b%2Fc";
    let by_hand = format!(
        "POST&{}&{}",
        "https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2Fservices%2Frest%2Fquery%2Fv1%2Fsuiteql",
        params
            .replace('%', "%25")
            .replace('=', "%3D")
            .replace('&', "%26")
    );
    let (base_uri, mut q) = oauth1::split_url(VECTOR_URL).unwrap();
    q.extend([
        ("oauth_consumer_key".into(), "ck-7f3a9c".into()),
        ("oauth_token".into(), "tk-91d0e4".into()),
        ("oauth_signature_method".into(), "HMAC-SHA256".into()),
        ("oauth_timestamp".into(), "1767225600".into()),
        ("oauth_nonce".into(), "n0nce-Xy7".into()),
        ("oauth_version".into(), "1.0".into()),
    ]);
    assert_eq!(
        oauth1::signature_base_string("POST", &base_uri, &q),
        by_hand
    );
    assert_eq!(
        oauth1::sign(&by_hand, "cs-2b8e1d", "ts-5c6f7a"),
        VECTOR_SIGNATURE
    );
}

#[test]
fn the_simulator_accepts_the_independent_header() {
    let mut cfg = weft_sim_netsuite::SimConfig::new(0);
    cfg.account_id = "1234567_SB1".into();
    cfg.integrations = vec![IntegrationConfig {
        name: "oauthlib".into(),
        consumer_key: "ck-7f3a9c".into(),
        consumer_secret: "cs-2b8e1d".into(),
        tokens: vec![TokenConfig {
            token_id: "tk-91d0e4".into(),
            token_secret: "ts-5c6f7a".into(),
        }],
    }];
    let now = chrono::DateTime::from_timestamp(1767225600 + 30, 0).unwrap();
    let (base_uri, query) = oauth1::split_url(VECTOR_URL).unwrap();
    let mut nonces = NonceCache::default();
    let caller = verify(
        &cfg,
        &mut nonces,
        now,
        "POST",
        &base_uri,
        &query,
        Some(VECTOR_HEADER),
    )
    .unwrap();
    assert_eq!(caller.integration, "oauthlib");
    // The same header again is a replay.
    let err = verify(
        &cfg,
        &mut nonces,
        now,
        "POST",
        &base_uri,
        &query,
        Some(VECTOR_HEADER),
    )
    .unwrap_err();
    assert_eq!(err.reason, "nonce already used");
    // A different query (not what was signed) fails.
    let err = verify(
        &cfg,
        &mut NonceCache::default(),
        now,
        "POST",
        &base_uri,
        &query[..2],
        Some(VECTOR_HEADER),
    )
    .unwrap_err();
    assert_eq!(err.reason, "signature mismatch");
}

/// Sends a GET with a hand-made Authorization header and expects a 401 with `reason`.
async fn expect_refused(c: &Client, path: &str, header: Option<String>, reason: &str) {
    let before = c.sim.login_audit().len();
    let r = c.raw(Method::GET, path, None, &[], header).await;
    assert_eq!(r.status, 401, "{reason}: {:?}", r.body);
    assert_eq!(r.code(), "INVALID_LOGIN_ATTEMPT", "{reason}");
    assert_eq!(r.body["title"], "Unauthorized");
    assert!(r.detail().starts_with("Invalid login attempt."));
    let audit = c.sim.login_audit();
    assert_eq!(audit.len(), before + 1, "{reason}");
    assert!(
        audit.last().unwrap().reason.contains(reason),
        "{reason}: got {:?}",
        audit.last().unwrap().reason
    );
}

#[tokio::test]
async fn accepts_valid_requests_and_rejects_each_bad_one() {
    let h = start(config(40).with_integration("celigo", 1)).await;
    let c = &h.client;
    let path = format!("{REC}/customer?limit=5");
    let url = format!("{}{path}", c.base);
    let ts = h.sim.now().timestamp() as u64;
    let creds = c.creds.clone();
    let header = |creds: &Credentials, ts: u64, nonce: &str, method: &str, url: &str| {
        oauth1::authorization_header(creds, method, url, ts, nonce).unwrap()
    };

    let ok = c
        .raw(
            Method::GET,
            &path,
            None,
            &[],
            Some(header(&creds, ts, "abcdef1", "GET", &url)),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);

    expect_refused(c, &path, None, "no authorization header").await;
    expect_refused(c, &path, Some("Bearer abc".into()), "bearer").await;
    // Nonce reuse.
    expect_refused(
        c,
        &path,
        Some(header(&creds, ts, "abcdef1", "GET", &url)),
        "nonce already used",
    )
    .await;
    // Wrong signature: signed for another method, another path, another query, or a wrong secret.
    expect_refused(
        c,
        &path,
        Some(header(&creds, ts, "n-post-1", "POST", &url)),
        "signature mismatch",
    )
    .await;
    let other = format!("{}{REC}/customer?limit=6", c.base);
    expect_refused(
        c,
        &path,
        Some(header(&creds, ts, "n-query-1", "GET", &other)),
        "signature mismatch",
    )
    .await;
    let mut bad_secret = creds.clone();
    bad_secret.token_secret.push('x');
    expect_refused(
        c,
        &path,
        Some(header(&bad_secret, ts, "n-secret-1", "GET", &url)),
        "signature mismatch",
    )
    .await;
    // Unknown consumer key, unknown token, and a token of another integration.
    let mut unknown = creds.clone();
    unknown.consumer_key = "nope".into();
    expect_refused(
        c,
        &path,
        Some(header(&unknown, ts, "n-ck-1", "GET", &url)),
        "unknown consumer key",
    )
    .await;
    let mut unknown = creds.clone();
    unknown.token_id = "nope".into();
    expect_refused(
        c,
        &path,
        Some(header(&unknown, ts, "n-tk-1", "GET", &url)),
        "unknown token",
    )
    .await;
    let celigo = h.sim.credentials()[1].clone();
    let mut crossed = creds.clone();
    crossed.token_id = celigo.token_id.clone();
    crossed.token_secret = celigo.token_secret.clone();
    expect_refused(
        c,
        &path,
        Some(header(&crossed, ts, "n-cross-1", "GET", &url)),
        "unknown token",
    )
    .await;
    // Realm other than the account (also the wrong case of a sandbox id).
    let mut wrong_realm = creds.clone();
    wrong_realm.realm = "7654321".into();
    expect_refused(
        c,
        &path,
        Some(header(&wrong_realm, ts, "n-realm-1", "GET", &url)),
        "realm",
    )
    .await;
    let no_realm = header(&creds, ts, "n-realm-2", "GET", &url).replace("realm=\"1234567\", ", "");
    expect_refused(c, &path, Some(no_realm), "missing realm").await;
    // Short nonce.
    expect_refused(
        c,
        &path,
        Some(header(&creds, ts, "abc12", "GET", &url)),
        "nonce shorter than 6",
    )
    .await;
    // Stale and future timestamps (more than 5 minutes off the simulator's clock).
    expect_refused(
        c,
        &path,
        Some(header(&creds, ts - 301, "n-old-1", "GET", &url)),
        "timestamp",
    )
    .await;
    expect_refused(
        c,
        &path,
        Some(header(&creds, ts + 301, "n-new-1", "GET", &url)),
        "timestamp",
    )
    .await;
    // HMAC-SHA1 is not accepted.
    let sha1 = header(&creds, ts, "n-sha1-1", "GET", &url).replace("HMAC-SHA256", "HMAC-SHA1");
    expect_refused(c, &path, Some(sha1), "not HMAC-SHA256").await;
    // Within the window is fine.
    let ok = c
        .raw(
            Method::GET,
            &path,
            None,
            &[],
            Some(header(&creds, ts - 299, "n-edge-1", "GET", &url)),
        )
        .await;
    assert_eq!(ok.status, 200);

    let stats = h.sim.stats();
    assert_eq!(stats.auth_failures, 15);
    assert!(stats.per_integration["weft"].auth_failures >= 10);
    // Refused requests never reach the record API.
    assert_eq!(stats.api_writes.len(), 0);
    let _ = json!(null);
}

mod third_party {
    //! `oauth1-request` 0.6 (crates.io), unmodified. It ships HMAC-SHA1 only, but its public
    //! `SignatureMethod` / `Sign` traits are the crate's documented extension point: the crate
    //! still builds the base string, sorts and encodes the parameters, makes the nonce and
    //! timestamp, and writes the header; this module only supplies the HMAC-SHA256 digest.

    use hmac::{Hmac, Mac};
    use oauth1_request as oauth;
    use sha2::Sha256;
    use std::fmt::{self, Display, Write};

    #[derive(Clone, Copy)]
    pub struct HmacSha256;

    pub struct HmacSha256Sign {
        key: String,
        data: String,
    }

    pub struct Signature(String);

    impl Display for Signature {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    fn enc(s: &str) -> String {
        weft_sim_netsuite::oauth1::percent_encode(s)
    }

    impl oauth::signature_method::SignatureMethod for HmacSha256 {
        type Sign = HmacSha256Sign;
        fn sign_with(self, client_secret: &str, token_secret: Option<&str>) -> HmacSha256Sign {
            HmacSha256Sign {
                key: format!("{}&{}", enc(client_secret), enc(token_secret.unwrap_or(""))),
                data: String::new(),
            }
        }
    }

    impl oauth::signature_method::Sign for HmacSha256Sign {
        type Signature = Signature;
        fn get_signature_method_name(&self) -> &'static str {
            "HMAC-SHA256"
        }
        fn request_method(&mut self, method: &str) {
            self.data.push_str(method);
            self.data.push('&');
        }
        fn uri<T: Display>(&mut self, uri: T) {
            write!(self.data, "{uri}&").unwrap();
        }
        fn parameter<V: Display>(&mut self, key: &str, value: V) {
            write!(self.data, "{key}%3D{value}").unwrap();
        }
        fn delimiter(&mut self) {
            self.data.push_str("%26");
        }
        fn end(self) -> Signature {
            use base64::Engine as _;
            let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_bytes()).unwrap();
            mac.update(self.data.as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            Signature(enc(&b64))
        }
    }
}

#[tokio::test]
async fn an_unmodified_third_party_client_crate_is_accepted() {
    use oauth1_request as oauth;
    // Real wall time: the crate stamps requests with the system clock, as in production.
    let mut cfg = weft_sim_netsuite::SimConfig::new(41);
    cfg.base_time = None;
    let h = start(cfg).await;
    let creds = h.sim.credentials()[0].clone();
    let client =
        oauth::Credentials::new(creds.consumer_key.as_str(), creds.consumer_secret.as_str());
    let token = oauth::Credentials::new(creds.token_id.as_str(), creds.token_secret.as_str());
    let mut builder = oauth::Builder::new(client, third_party::HmacSha256);
    builder.token(token);
    // NetSuite requires `realm` (RFC 5849 §3.5.1: outside the signature); the crate does not
    // emit it, so it is added in front as any NetSuite user of a generic OAuth client does.
    let with_realm =
        |h: String| h.replacen("OAuth ", &format!("OAuth realm=\"{}\",", creds.realm), 1);
    let http = reqwest::Client::new();

    // POST a record (no query parameters).
    let uri = format!("{}/services/rest/record/v1/customer", h.server.base_url());
    let auth = with_realm(builder.post(&uri, &()));
    let resp = http
        .post(&uri)
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .body(r#"{"externalId":"third-party-1","lastName":"Client"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);

    // SuiteQL with query parameters in the signature.
    let uri = format!("{}/services/rest/query/v1/suiteql", h.server.base_url());
    let params = oauth::ParameterList::new([("limit", "10"), ("offset", "0")]);
    let auth = with_realm(builder.post(&uri, &params));
    let url = oauth::to_query(uri.clone(), &params);
    let resp = http
        .post(&url)
        .header("Authorization", auth)
        .header("Prefer", "transient")
        .body(r#"{"q":"SELECT externalid FROM customer"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["items"][0]["externalid"], "third-party-1");
    assert!(h.sim.login_audit().is_empty(), "{:?}", h.sim.login_audit());
}
