//! Test harness: start a simulator on a loopback port and sign requests with TBA.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use weft_sim_netsuite::oauth1::{self, Credentials};
use weft_sim_netsuite::{NetSuiteSim, SimConfig, SimServer};

/// 2026-01-01T00:00:00Z.
pub fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A config with a fixed base time.
pub fn config(seed: u64) -> SimConfig {
    let mut c = SimConfig::new(seed);
    c.base_time = Some(base_time());
    c
}

/// A running simulator with a signing client for its first credentials.
pub struct Harness {
    pub sim: NetSuiteSim,
    pub server: SimServer,
    pub client: Client,
}

pub async fn start(config: SimConfig) -> Harness {
    let sim = NetSuiteSim::new(config).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await.unwrap();
    let creds = sim.credentials()[0].clone();
    let client = Client::new(&sim, server.base_url(), creds);
    Harness {
        sim,
        server,
        client,
    }
}

/// A response: status, `Location` header, JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub location: Option<String>,
    pub body: Value,
}

impl Resp {
    /// The first `o:errorCode` of an error body.
    pub fn code(&self) -> &str {
        self.body["o:errorDetails"][0]["o:errorCode"]
            .as_str()
            .unwrap_or("")
    }
    /// The first `detail` of an error body.
    pub fn detail(&self) -> &str {
        self.body["o:errorDetails"][0]["detail"]
            .as_str()
            .unwrap_or("")
    }
}

static NONCE: AtomicU64 = AtomicU64::new(1);

/// A TBA-signing client using the simulator's clock for timestamps.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub creds: Credentials,
    pub sim: NetSuiteSim,
}

impl Client {
    pub fn new(sim: &NetSuiteSim, base: String, creds: Credentials) -> Self {
        Self {
            http: reqwest::Client::new(),
            base,
            creds,
            sim: sim.clone(),
        }
    }

    pub fn with_creds(&self, creds: Credentials) -> Self {
        Self {
            creds,
            ..self.clone()
        }
    }

    pub fn nonce() -> String {
        format!("nonce{:08}", NONCE.fetch_add(1, Ordering::SeqCst))
    }

    /// The `Authorization` header for a request.
    pub fn auth(&self, method: &str, url: &str) -> String {
        let ts = self.sim.now().timestamp() as u64;
        oauth1::authorization_header(&self.creds, method, url, ts, &Self::nonce()).unwrap()
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        auth: Option<String>,
    ) -> Resp {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Resp {
            status,
            location,
            body,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let url = format!("{}{path}", self.base);
        let auth = self.auth(method.as_str(), &url);
        self.raw(method, path, body, &[], Some(auth)).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// A SuiteQL query with `Prefer: transient`.
    pub async fn suiteql(&self, q: &str, limit: usize, offset: usize) -> Resp {
        let path = format!("/services/rest/query/v1/suiteql?limit={limit}&offset={offset}");
        let url = format!("{}{path}", self.base);
        let auth = self.auth("POST", &url);
        self.raw(
            Method::POST,
            &path,
            Some(&serde_json::json!({ "q": q })),
            &[("Prefer", "transient")],
            Some(auth),
        )
        .await
    }
}

/// The record path prefix.
pub const REC: &str = "/services/rest/record/v1";

/// The internal id at the end of a `Location` header.
pub fn id_of(location: &Option<String>) -> String {
    location
        .as_deref()
        .expect("Location header")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}
