//! Helpers for the simulator's tests: calling the REST API in-process the way a client does
//! (HTTP Basic by default) and a webhook receiver on a real socket.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use parking_lot::Mutex;
use serde_json::Value;
use tower::ServiceExt;
use weft_sim_woocommerce::{DEFAULT_KEY, DEFAULT_SECRET, SimConfig, WooSim};

pub const KEY: &str = DEFAULT_KEY;
pub const SECRET: &str = DEFAULT_SECRET;

pub fn sim() -> WooSim {
    WooSim::new(SimConfig::default()).unwrap()
}

pub fn basic(key: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
    )
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Bytes,
}

/// Sends a request through the router with an optional `Authorization` header.
pub async fn send(
    sim: &WooSim,
    method: &str,
    path: &str,
    body: Option<Value>,
    auth: Option<&str>,
) -> Resp {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "shop.test");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let raw = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    }
}

/// A call with the default read/write key over Basic auth.
pub async fn call(sim: &WooSim, method: &str, path: &str, body: Option<Value>) -> Resp {
    send(sim, method, path, body, Some(&basic(KEY, SECRET))).await
}

pub async fn get(sim: &WooSim, path: &str) -> Resp {
    call(sim, "GET", path, None).await
}

pub async fn post(sim: &WooSim, path: &str, body: Value) -> Resp {
    call(sim, "POST", path, Some(body)).await
}

#[derive(Clone, Debug)]
pub struct Captured {
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub type Seen = Arc<Mutex<Vec<Captured>>>;

/// A webhook receiver answering with `status(n)` for the n-th delivery (0-based); activation
/// pings (`webhook_id=N` form posts) are answered 200 and kept apart.
pub async fn receiver(
    status: impl Fn(usize) -> StatusCode + Send + Sync + 'static,
) -> (String, Seen) {
    let (url, seen, _) = receiver_full(status, StatusCode::OK).await;
    (url, seen)
}

/// As [`receiver`], answering pings with `ping_status` and returning them too.
pub async fn receiver_full(
    status: impl Fn(usize) -> StatusCode + Send + Sync + 'static,
    ping_status: StatusCode,
) -> (String, Seen, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let pings: Seen = Arc::new(Mutex::new(Vec::new()));
    let (s2, p2) = (seen.clone(), pings.clone());
    let status = Arc::new(status);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = s2.clone();
            let pings = p2.clone();
            let status = status.clone();
            async move {
                let form = headers
                    .get("content-type")
                    .is_some_and(|c| c == "application/x-www-form-urlencoded");
                if form && body.starts_with(b"webhook_id=") {
                    pings.lock().push(Captured { headers, body });
                    return ping_status;
                }
                let mut g = seen.lock();
                let n = g.len();
                g.push(Captured { headers, body });
                status(n)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/hook"), seen, pings)
}
