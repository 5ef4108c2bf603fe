//! Authentication: HTTP Basic, query-string keys, one-legged OAuth 1.0a (signed here
//! independently of the simulator), bad keys, read-only keys, visitors.

mod common;

use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::json;
use weft_sim_woocommerce::{READ_ONLY_KEY, READ_ONLY_SECRET};

fn enc(s: &str) -> String {
    // RFC 3986 by hand, so the test does not share the simulator's encoder.
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Builds an OAuth 1.0a query string for `GET http://shop.test{path}` as client libraries do.
fn oauth_query(
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    secret: &str,
    algo: &str,
    nonce: &str,
    ts: i64,
) -> String {
    let ts = ts.to_string();
    let mut params: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("oauth_consumer_key", KEY),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", algo),
        ("oauth_timestamp", ts.as_str()),
    ] {
        params.push((k.to_string(), v.to_string()));
    }
    let mut sorted: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    sorted.sort();
    let norm = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{method}&{}&{}",
        enc(&format!("http://shop.test{path}")),
        enc(&norm)
    );
    let key = format!("{secret}&");
    let sig = if algo == "HMAC-SHA1" {
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
        m.update(base.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
    } else {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        m.update(base.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
    };
    params.push(("oauth_signature".into(), sig));
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn basic_auth_and_query_keys_work() {
    let sim = sim();
    let r = send(
        &sim,
        "GET",
        "/wp-json/wc/v3/products",
        None,
        Some(&basic(KEY, SECRET)),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(
        &sim,
        "GET",
        &format!("/wp-json/wc/v3/products?consumer_key={KEY}&consumer_secret={SECRET}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn bad_key_bad_secret_and_no_credentials_are_401() {
    let sim = sim();
    let r = send(
        &sim,
        "GET",
        "/wp-json/wc/v3/products",
        None,
        Some(&basic("ck_nope", SECRET)),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid.", "data": {"status": 401}})
    );
    let r = send(
        &sim,
        "GET",
        "/wp-json/wc/v3/products",
        None,
        Some(&basic(KEY, "cs_wrong")),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Consumer secret is invalid.");
    let r = send(&sim, "GET", "/wp-json/wc/v3/products", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["code"], "woocommerce_rest_cannot_view");
    assert_eq!(r.body["message"], "Sorry, you cannot list resources.");
    let r = send(
        &sim,
        "POST",
        "/wp-json/wc/v3/products",
        Some(json!({"name": "x"})),
        None,
    )
    .await;
    assert_eq!(r.body["code"], "woocommerce_rest_cannot_create");
    let r = send(
        &sim,
        "POST",
        "/wp-json/wc/v3/products/batch",
        Some(json!({})),
        None,
    )
    .await;
    assert_eq!(r.body["code"], "woocommerce_rest_cannot_batch");
}

#[tokio::test]
async fn read_only_key_reads_but_cannot_write() {
    let sim = sim();
    let ro = basic(READ_ONLY_KEY, READ_ONLY_SECRET);
    let r = send(&sim, "GET", "/wp-json/wc/v3/orders", None, Some(&ro)).await;
    assert_eq!(r.status, 200);
    for (m, p) in [
        ("POST", "/wp-json/wc/v3/products"),
        ("PUT", "/wp-json/wc/v3/products/10"),
        ("DELETE", "/wp-json/wc/v3/products/10"),
        ("POST", "/wp-json/wc/v3/products/batch"),
    ] {
        let r = send(&sim, m, p, Some(json!({"name": "x"})), Some(&ro)).await;
        assert_eq!(r.status, 401, "{m} {p}");
        assert_eq!(r.body["code"], "woocommerce_rest_authentication_error");
        assert_eq!(
            r.body["message"],
            "The API key provided does not have write permissions."
        );
    }
    assert!(sim.all(weft_sim_woocommerce::Kind::Product).is_empty());
}

#[tokio::test]
async fn oauth1_hmac_sha1_and_sha256_signatures_are_verified() {
    let sim = sim();
    sim.create_product(json!({"name": "A", "sku": "A"}))
        .unwrap();
    for (i, algo) in ["HMAC-SHA1", "HMAC-SHA256"].iter().enumerate() {
        let q = oauth_query(
            "GET",
            "/wp-json/wc/v3/products",
            &[("per_page", "5"), ("search", "a b/c")],
            SECRET,
            algo,
            &format!("nonce{i}"),
            now(),
        );
        let r = send(
            &sim,
            "GET",
            &format!("/wp-json/wc/v3/products?{q}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{algo}: {}", r.body);
    }
    // A write signed with POST.
    let q = oauth_query(
        "POST",
        "/wp-json/wc/v3/products",
        &[],
        SECRET,
        "HMAC-SHA256",
        "w1",
        now(),
    );
    let r = send(
        &sim,
        "POST",
        &format!("/wp-json/wc/v3/products?{q}"),
        Some(json!({"name": "B"})),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn oauth1_wrong_signature_replayed_nonce_and_stale_timestamp_are_refused() {
    let sim = sim();
    let path = "/wp-json/wc/v3/products";
    let q = oauth_query("GET", path, &[], "cs_wrong", "HMAC-SHA1", "n1", now());
    let r = send(&sim, "GET", &format!("{path}?{q}"), None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["message"],
        "Invalid signature - provided signature does not match."
    );
    // Signed for another method.
    let q = oauth_query("POST", path, &[], SECRET, "HMAC-SHA1", "n2", now());
    let r = send(&sim, "GET", &format!("{path}?{q}"), None, None).await;
    assert_eq!(r.status, 401);
    // Replay.
    let q = oauth_query("GET", path, &[], SECRET, "HMAC-SHA1", "n3", now());
    assert_eq!(
        send(&sim, "GET", &format!("{path}?{q}"), None, None)
            .await
            .status,
        200
    );
    let r = send(&sim, "GET", &format!("{path}?{q}"), None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["message"],
        "Invalid nonce - nonce has already been used."
    );
    // Outside the 15-minute window.
    let q = oauth_query("GET", path, &[], SECRET, "HMAC-SHA1", "n4", now() - 16 * 60);
    let r = send(&sim, "GET", &format!("{path}?{q}"), None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Invalid timestamp.");
    // Missing parameters.
    let r = send(
        &sim,
        "GET",
        &format!("{path}?oauth_consumer_key={KEY}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["code"], "woocommerce_rest_authentication_error");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Missing OAuth parameter")
    );
    // Unsupported method.
    let q = oauth_query("GET", path, &[], SECRET, "PLAINTEXT", "n5", now());
    assert_eq!(
        send(&sim, "GET", &format!("{path}?{q}"), None, None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn oauth1_in_the_authorization_header_works() {
    let sim = sim();
    let path = "/wp-json/wc/v3/customers";
    let q = oauth_query("GET", path, &[], SECRET, "HMAC-SHA256", "h1", now());
    let header = format!(
        "OAuth {}",
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                format!("{k}=\"{v}\"")
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let r = send(&sim, "GET", path, None, Some(&header)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn oauth1_repeated_query_keys_count_once_as_php_reads_them() {
    // The Python client signs `per_page=5` once but sends it twice; PHP keeps the last value.
    let sim = sim();
    let path = "/wp-json/wc/v3/products";
    let q = oauth_query(
        "GET",
        path,
        &[("per_page", "5")],
        SECRET,
        "HMAC-SHA256",
        "d1",
        now(),
    );
    let r = send(&sim, "GET", &format!("{path}?{q}&per_page=5"), None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
