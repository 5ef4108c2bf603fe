//! Helpers shared by the simulator's HTTP tests: building a simulator, calling GraphQL the way a
//! client does (in-process through the router, or over TCP), and a webhook receiver.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_sim_shopify::{ShopifySim, SimConfig};

pub const TOKEN: &str = "shpat_sim_access_token";
pub const SECRET: &str = "shpss_sim_client_secret";
pub const VERSION: &str = "2026-04";

pub fn sim() -> ShopifySim {
    ShopifySim::new(SimConfig::builder().build().unwrap())
}

/// POSTs a GraphQL request through the router in-process (no sockets, paused-clock safe).
pub async fn gql_at(
    sim: &ShopifySim,
    version: &str,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let body = json!({"query": query, "variables": variables}).to_string();
    let req = Request::builder()
        .method("POST")
        .uri(format!("/admin/api/{version}/graphql.json"))
        .header("content-type", "application/json")
        .header("x-shopify-access-token", TOKEN)
        .body(Body::from(body))
        .unwrap();
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

pub async fn gql(sim: &ShopifySim, query: &str, variables: Value) -> Value {
    let (status, body) = gql_at(sim, VERSION, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// GET through the router, returning status, headers and body.
pub async fn get(
    sim: &ShopifySim,
    path: &str,
    token: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let req = Request::builder()
        .method("GET")
        .uri(path)
        .header("x-shopify-access-token", token)
        .body(Body::empty())
        .unwrap();
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Creates a product with one variant per SKU through `productSet`; returns the product JSON.
pub async fn create_product(sim: &ShopifySim, title: &str, skus: &[&str]) -> Value {
    let variants: Vec<Value> = skus
        .iter()
        .map(|s| json!({"optionValues": [{"optionName": "Size", "name": s}], "sku": s, "price": "10.00"}))
        .collect();
    let values: Vec<Value> = skus.iter().map(|s| json!({"name": s})).collect();
    let body = gql(
        sim,
        r#"mutation($input: ProductSetInput!) {
            productSet(input: $input, synchronous: true) {
                product { id title updatedAt variants(first: 10) { nodes { id sku inventoryItem { id } } } }
                userErrors { field message code }
            }
        }"#,
        json!({"input": {"title": title, "productOptions": [{"name": "Size", "values": values}], "variants": variants}}),
    )
    .await;
    assert_eq!(
        body["data"]["productSet"]["userErrors"],
        json!([]),
        "{body}"
    );
    body["data"]["productSet"]["product"].clone()
}

/// A captured webhook delivery.
#[derive(Clone, Debug)]
pub struct Captured {
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
    pub at: tokio::time::Instant,
}

/// An HTTP receiver that records every request and answers with the status `respond` picks
/// (given the number of requests seen so far for the same webhook id).
pub async fn receiver(
    respond: impl Fn(&axum::http::HeaderMap, usize) -> StatusCode + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Captured>>>) {
    let seen: Arc<Mutex<Vec<Captured>>> = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    let respond = Arc::new(respond);
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                let respond = respond.clone();
                async move {
                    let id = headers
                        .get("x-shopify-webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let mut s = store.lock();
                    let prior = s
                        .iter()
                        .filter(|c| {
                            c.headers
                                .get("x-shopify-webhook-id")
                                .and_then(|v| v.to_str().ok())
                                == Some(id.as_str())
                        })
                        .count();
                    s.push(Captured {
                        headers: headers.clone(),
                        body: body.to_vec(),
                        at: tokio::time::Instant::now(),
                    });
                    respond(&headers, prior)
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/hooks"), seen)
}
