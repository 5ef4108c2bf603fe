//! Over a real socket: host throttling (429/503 with `Retry-After`), following `Link` headers
//! as a client library does, the `/_sim` merchant and inspection routes.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use weft_sim_woocommerce::{Actor, Kind, LimitStatus, RateLimit, SimConfig, WooSim};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after_then_recovers() {
    let sim = WooSim::new(SimConfig {
        rate_limit: Some(RateLimit {
            // Slow enough that a loaded machine cannot refill the bucket while the six
            // requests below are sent (the test once saw no 429 at 20 per second).
            burst: 3.0,
            per_second: 1.0,
            status: LimitStatus::TooMany429,
            retry_after_secs: 2,
        }),
        ..SimConfig::default()
    })
    .unwrap();
    let h = sim.serve_local().await.unwrap();
    let url = format!("{}/wp-json/wc/v3/products", h.base_url);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = client()
            .get(&url)
            .basic_auth(KEY, Some(SECRET))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "2");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = client()
        .get(&url)
        .basic_auth(KEY, Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the bucket refills");
    assert!(sim.requests().iter().any(|r| r.status == 429));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_mode_answers_503_for_n_requests() {
    let sim = sim();
    let h = sim.serve_local().await.unwrap();
    let r = client()
        .post(format!("{}/_sim/unavailable", h.base_url))
        .json(&json!({"requests": 2, "retry_after": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let url = format!("{}/wp-json/wc/v3/orders", h.base_url);
    for _ in 0..2 {
        let r = client()
            .get(&url)
            .basic_auth(KEY, Some(SECRET))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    let r = client()
        .get(&url)
        .basic_auth(KEY, Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_following_link_headers_reads_every_page() {
    let sim = sim();
    for i in 0..23 {
        sim.create_product(json!({"name": format!("P{i}"), "sku": format!("S{i}")}))
            .unwrap();
    }
    let h = sim.serve_local().await.unwrap();
    let mut next = Some(format!(
        "{}/wp-json/wc/v3/products?per_page=10&orderby=id&order=asc",
        h.base_url
    ));
    let mut skus = Vec::new();
    let mut pages = 0;
    while let Some(url) = next.take() {
        let r = client()
            .get(&url)
            .basic_auth(KEY, Some(SECRET))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-wp-totalpages"], "3");
        next = r
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| {
                l.split(", ")
                    .find(|p| p.ends_with("rel=\"next\""))
                    .map(|p| {
                        p.trim_start_matches('<')
                            .split('>')
                            .next()
                            .unwrap()
                            .to_string()
                    })
            });
        if let Some(n) = &next {
            assert!(n.starts_with(&h.base_url), "{n}");
        }
        let body: Vec<Value> = r.json().await.unwrap();
        skus.extend(body.iter().map(|p| p["sku"].as_str().unwrap().to_string()));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(skus.len(), 23);
    assert_eq!(skus[0], "S0");
    assert_eq!(skus[22], "S22");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchant_routes_change_the_shop_and_inspection_reports_it() {
    let sim = sim();
    let h = sim.serve_local().await.unwrap();
    let b = &h.base_url;
    let c = client();
    let p: Value = c
        .post(format!("{b}/_sim/products"))
        .json(&json!({"name": "Mug", "sku": "MUG", "regular_price": "8.00", "manage_stock": true, "stock_quantity": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = p["id"].as_u64().unwrap();
    assert_eq!(p["permalink"], format!("{b}/product/mug/"));
    let r: Value = c
        .post(format!("{b}/_sim/products/{id}/stock"))
        .json(&json!({"adjust": -2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["stock_quantity"], 3);
    let cust: Value = c
        .post(format!("{b}/_sim/customers"))
        .json(&json!({"email": "m@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let o: Value = c
        .post(format!("{b}/_sim/checkout"))
        .json(&json!({"customer_id": cust["id"], "line_items": [{"sku": "MUG", "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(o["status"], "processing");
    assert_eq!(o["created_via"], "checkout");
    assert_eq!(sim.stock(id), Some(2));
    let oid = o["id"].as_u64().unwrap();
    let r = c
        .post(format!("{b}/_sim/orders/{oid}/status"))
        .json(&json!({"status": "cancelled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sim.stock(id), Some(3));
    // A refused merchant change answers with WooCommerce's error.
    let r = c
        .post(format!("{b}/_sim/products"))
        .json(&json!({"name": "Dup", "sku": "mug"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "product_invalid_sku");
    let state: Value = c
        .get(format!("{b}/_sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["products"].as_array().unwrap().len(), 1);
    assert_eq!(state["orders"].as_array().unwrap().len(), 1);
    assert_eq!(sim.creates(Kind::Product, Actor::Merchant), 1);
    assert_eq!(sim.creates(Kind::Product, Actor::Api), 0);
    let keys: Value = c
        .get(format!("{b}/_sim/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys[0]["consumer_key"], KEY);
    let r: Value = c
        .post(format!("{b}/_sim/clock/advance"))
        .json(&json!({"seconds": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["now_gmt"].as_str().unwrap()[..13], *"2026-01-15T13");
    h.shutdown().await;
}
