//! The store-wide quota over real HTTP: headers on every answer, 429 past the quota, and
//! other apps spending part of it.

mod common;

use std::time::Duration;

use common::*;
use weft_sim_bigcommerce::{QuotaConfig, SimConfig};

fn config(n: u32, window_ms: u64, others: u32) -> SimConfig {
    SimConfig {
        quota: QuotaConfig {
            requests_per_window: n,
            window: Duration::from_millis(window_ms),
            background_per_window: others,
            ..QuotaConfig::default()
        },
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn every_answer_carries_the_quota_and_past_it_is_429() {
    let api = Api::start(config(5, 60_000, 0)).await;
    for left in (0..5).rev() {
        let (s, h, _) = api.get("/v3/catalog/products").await;
        assert_eq!(s, 200);
        assert_eq!(h["x-rate-limit-requests-left"], left.to_string().as_str());
        assert_eq!(h["x-rate-limit-requests-quota"], "5");
        let reset: u64 = h["x-rate-limit-time-reset-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset <= 60_000 && reset > 50_000, "{reset}");
    }
    let (s, h, body) = api.get("/v2/orders").await;
    assert_eq!(s, 429);
    assert_eq!(h["x-rate-limit-requests-left"], "0");
    assert!(h.get("x-rate-limit-time-reset-ms").is_some());
    assert_eq!(body[0]["status"], 429, "V2 shape on a V2 path");
    let w = api.sim.quota_windows();
    assert_eq!(w[0].api_spent, 5);
    assert_eq!(w[0].api_refused, 1);
}

#[tokio::test]
async fn the_quota_comes_back_when_the_window_resets() {
    let api = Api::start(config(2, 300, 0)).await;
    api.get("/v3/catalog/products").await;
    api.get("/v3/catalog/products").await;
    let (s, h, _) = api.get("/v3/catalog/products").await;
    assert_eq!(s, 429);
    let reset: u64 = h["x-rate-limit-time-reset-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(reset + 20)).await;
    let (s, _, _) = api.get("/v3/catalog/products").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn other_apps_spend_the_same_quota() {
    // Other apps make all 10 of the window's requests over its 2 s (long enough that a loaded
    // machine's scheduling delay does not carry the request into the next window).
    let api = Api::start(config(10, 2_000, 10)).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (s, h, _) = api.get("/v3/catalog/products").await;
    assert_eq!(s, 200);
    let header = |k: &str| -> u64 { h[k].to_str().unwrap().parse().unwrap() };
    let (left, reset) = (
        header("x-rate-limit-requests-left"),
        header("x-rate-limit-time-reset-ms"),
    );
    // By the time this request came, the others had spent their share of the window so far.
    let others = 10 * (2_000 - reset) / 2_000;
    assert!(others >= 5, "half the window had passed: {reset} ms left");
    assert!(
        left.abs_diff(10 - 1 - others) <= 1,
        "others spent about {others} already: {left} left"
    );
    // Spend the rest; the others are refused for what is left of the window.
    let mut refused = false;
    for _ in 0..10 {
        if api.get("/v3/catalog/products").await.0 == 429 {
            refused = true;
            break;
        }
    }
    assert!(refused);
    tokio::time::sleep(Duration::from_millis(2_050)).await;
    let w = api.sim.quota_windows();
    assert!(w[0].others_spent >= 4, "{:?}", w[0]);
    assert_eq!(w[0].others_spent + w[0].api_spent, 10, "{:?}", w[0]);
    // The load can change while running.
    api.sim.set_background_load(0);
    let (s, _, _) = api.get("/v3/catalog/products").await;
    assert_eq!(s, 200);
}
