//! Helpers shared by the simulator's tests.
#![allow(dead_code)]

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use serde_json::{Value, json};
use weft_sim_bigcommerce::{BcSim, DEFAULT_TOKEN, SimConfig, SimHandle};

/// A served simulator and a client pointed at its API root.
pub struct Api {
    pub sim: BcSim,
    pub handle: SimHandle,
    pub root: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn start(config: SimConfig) -> Api {
        let sim = BcSim::new(config).unwrap();
        let handle = sim.serve_local().await.unwrap();
        let root = handle.api_root(&sim.config().store_hash);
        Api {
            sim,
            handle,
            root,
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.root))
            .header("x-auth-token", DEFAULT_TOKEN)
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, headers, v)
    }

    pub async fn get(&self, path: &str) -> (u16, HeaderMap, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// A shirt with two sized variants (stock tracked per variant) and a mug.
pub fn catalogue(sim: &BcSim) -> (u64, u64) {
    let shirt = sim
        .create_product(
            json!({"name": "Shirt", "type": "physical", "price": 18.0, "sku": "SHIRT",
            "inventory_tracking": "variant", "variants": [
                {"sku": "SHIRT-S", "price": 18.0, "inventory_level": 10},
                {"sku": "SHIRT-M", "inventory_level": 4}]}),
        )
        .unwrap();
    let mug = sim
        .create_product(
            json!({"name": "Mug", "type": "physical", "price": 8.0, "sku": "MUG",
            "inventory_tracking": "product", "inventory_level": 25}),
        )
        .unwrap();
    (shirt, mug)
}

/// One callback as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: Value,
}

/// A webhook receiver answering `status(nth call)`; returns its URL and what it saw.
pub async fn receiver(
    status: impl Fn(usize) -> StatusCode + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let s2 = seen.clone();
    let status = Arc::new(status);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = s2.clone();
            let status = status.clone();
            async move {
                let mut g = seen.lock();
                let n = g.len();
                g.push(Seen {
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                status(n)
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(l, app).await.unwrap();
    });
    (format!("http://{addr}/hook"), seen)
}
