//! Helpers for the simulator's tests: the token exchange and API calls in-process, the way a
//! client library makes them.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_sim_sheets::{SCOPE_SPREADSHEETS, SheetsSim, sign_jwt};

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn raw(
    sim: &SheetsSim,
    method: &str,
    path: &str,
    body: Option<String>,
    ctype: &str,
    auth: Option<&str>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = auth {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", ctype)
            .body(Body::from(b))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed assertion for the account's key file with these claims changed.
pub fn assertion(key: &Value, scope: &str, patch: Value) -> String {
    let now = now();
    let mut claims = json!({"iss": key["client_email"], "scope": scope,
        "aud": key["token_uri"], "iat": now, "exp": now + 3600});
    if let Value::Object(p) = patch {
        for (k, v) in p {
            claims[k] = v;
        }
    }
    sign_jwt(
        key["private_key"].as_str().unwrap(),
        key["private_key_id"].as_str().unwrap(),
        &claims,
    )
    .unwrap()
}

pub async fn exchange(sim: &SheetsSim, assertion: &str) -> Resp {
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    raw(
        sim,
        "POST",
        "/token",
        Some(form),
        "application/x-www-form-urlencoded",
        None,
    )
    .await
}

/// An access token of `email`'s account (the default one when `None`) with `scope`.
pub async fn token_for(sim: &SheetsSim, email: Option<&str>, scope: &str) -> String {
    let key = sim.service_account_json(email).unwrap();
    let r = exchange(sim, &assertion(&key, scope, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

pub async fn token(sim: &SheetsSim) -> String {
    token_for(sim, None, SCOPE_SPREADSHEETS).await
}

pub async fn call(
    sim: &SheetsSim,
    tok: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Resp {
    raw(
        sim,
        method,
        path,
        body.map(|b| b.to_string()),
        "application/json",
        Some(tok),
    )
    .await
}

/// A spreadsheet with a product table on sheet `Products` (and an empty second sheet).
pub fn catalog(sim: &SheetsSim) -> String {
    let id = sim.create_spreadsheet("Catalog", &[("Products", 100, 8), ("Notes", 50, 5)]);
    sim.type_values(
        &id,
        "Products!A1",
        &[
            vec!["SKU", "Title", "Price", "Stock", "Active"],
            vec!["MUG-1", "Mug", "8.50", "25", "TRUE"],
            vec!["TEE-M", "T-shirt M", "19", "10", "TRUE"],
            vec!["CAP-1", "Cap", "12", "0", "FALSE"],
        ],
    )
    .unwrap();
    id
}
