//! The Shopify cost limiter against the real Shopify simulator over HTTP: concurrent clients
//! drain the standard plan's bucket at its restore rate and are never throttled.
//!
//! Client and simulator share tokio's paused clock, so a minute of traffic runs in moments.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use weft_ratelimit::{QueryCost, ShopifyCostLimiter};
use weft_sim_shopify::{NewProduct, ShopifySim, SimConfig};

const TOKEN: &str = "shpat_sim_access_token";

async fn post(client: &reqwest::Client, url: &str, query: &str) -> Value {
    client
        .post(url)
        .header("X-Shopify-Access-Token", TOKEN)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("simulator reachable")
        .json()
        .await
        .expect("json body")
}

fn cost_of(body: &Value) -> QueryCost {
    serde_json::from_value(body["extensions"]["cost"].clone()).expect("extensions.cost")
}

fn throttled(body: &Value) -> bool {
    body["errors"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["extensions"]["code"] == "THROTTLED"))
}

#[tokio::test(start_paused = true)]
async fn concurrent_clients_drain_the_bucket_without_a_single_throttle() {
    let sim = ShopifySim::new(SimConfig::default()); // standard plan
    for i in 0..60 {
        sim.create_product(NewProduct {
            title: format!("Product {i}"),
            ..Default::default()
        })
        .expect("product");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.expect("serve");
    let url = sim.graphql_url("2026-04").unwrap();
    let client = reqwest::Client::new();
    let limiter = ShopifyCostLimiter::new();

    // Two query shapes: one whose actual cost equals its requested cost, one mostly refunded.
    let full = "{ products(first: 50) { nodes { id title } } }";
    let refunded = "{ products(first: 200) { nodes { id } } }";
    // A connector learns each shape's requested cost from its first response.
    let mut requested = Vec::new();
    for q in [full, refunded] {
        let permit = limiter.reserve(1000.0).await.unwrap();
        let body = post(&client, &url, q).await;
        let cost = cost_of(&body);
        permit.settle_cost(&cost);
        requested.push(cost.requested_query_cost);
    }
    let learned = limiter.model();
    assert!(learned.learned);

    let start = Instant::now();
    let charged_before = sim.stats().cost_charged;
    let run = Duration::from_secs(60);
    let queries = Arc::new([(full, requested[0]), (refunded, requested[1])]);
    let mut tasks = Vec::new();
    for t in 0..24usize {
        let (client, url, limiter, queries) = (
            client.clone(),
            url.clone(),
            limiter.clone(),
            queries.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut throttles = 0;
            let mut n = t;
            loop {
                let (query, cost) = queries[n % 2];
                n += 1;
                let permit = limiter.reserve(cost).await.unwrap();
                if start.elapsed() >= run {
                    break;
                }
                let body = post(&client, &url, query).await;
                if throttled(&body) {
                    throttles += 1;
                }
                permit.settle_cost(&cost_of(&body));
            }
            throttles
        }));
    }
    let mut client_throttles = 0;
    for t in tasks {
        client_throttles += t.await.unwrap();
    }
    let stats = sim.stats();
    assert_eq!(client_throttles, 0);
    assert_eq!(
        stats.throttled_graphql, 0,
        "the simulator throttled the limiter"
    );
    assert_eq!(limiter.stats().throttled, 0);

    let cfg = SimConfig::default();
    let budget = learned.server_available + cfg.restore_rate * run.as_secs_f64();
    let spent = (stats.cost_charged - charged_before) as f64;
    let utilisation = spent / budget;
    println!(
        "shopify sim: spent {spent} of {budget} points in {run:?} ({utilisation:.3}), \
         {} graphql requests, model {:?}",
        stats.graphql_requests,
        limiter.model()
    );
    assert!(
        utilisation > 0.9 && utilisation <= 1.0,
        "utilisation {utilisation}"
    );
    assert_eq!(limiter.model().maximum_available, cfg.maximum_available);
    assert_eq!(limiter.model().restore_rate, cfg.restore_rate);
    drop(handle);
}
