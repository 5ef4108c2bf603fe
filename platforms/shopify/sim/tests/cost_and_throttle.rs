//! Cost accounting, refunds, throttling and recovery at the documented restore rate, the
//! single-query maximum, auth and version errors, and the REST request bucket — all driven over
//! HTTP through the router on tokio's paused clock.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

fn cost(body: &serde_json::Value) -> &serde_json::Value {
    &body["extensions"]["cost"]
}

#[tokio::test(start_paused = true)]
async fn requested_cost_is_charged_then_difference_refunded() {
    let sim = sim();
    for i in 0..3 {
        create_product(&sim, &format!("P{i}"), &["S"]).await;
    }
    // Three one-variant productSets at 10 + 0.2 (rounded up) = 11 points each, no time passed.
    let body = gql(
        &sim,
        "{ products(first: 50) { nodes { id title } } }",
        json!({}),
    )
    .await;
    let c = cost(&body);
    assert_eq!(c["requestedQueryCost"], 52);
    assert_eq!(c["actualQueryCost"], 2 + 3);
    assert_eq!(c["throttleStatus"]["maximumAvailable"], 1000.0);
    assert_eq!(c["throttleStatus"]["restoreRate"], 100.0);
    assert_eq!(c["throttleStatus"]["currentlyAvailable"], 1000 - 33 - 5);

    // Nested connections multiply: 2 + 10 * (1 + 2 + 5 * 1) = 82 requested.
    let body = gql(
        &sim,
        "{ products(first: 10) { edges { cursor node { id variants(first: 5) { nodes { sku } } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(cost(&body)["requestedQueryCost"], 82);
    // Actual: 2 + 3 * (1 + 2 + 1) = 14.
    assert_eq!(cost(&body)["actualQueryCost"], 14);
    assert_eq!(
        cost(&body)["throttleStatus"]["currentlyAvailable"],
        962 - 14
    );
    assert_eq!(sim.stats().cost_charged, 33 + 5 + 14);
}

#[tokio::test(start_paused = true)]
async fn over_max_cost_is_rejected_before_execution() {
    let sim = sim();
    let body = gql(
        &sim,
        "{ products(first: 250) { nodes { id variants(first: 250) { nodes { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED");
    assert_eq!(body["errors"][0]["extensions"]["maxCost"], 1000);
    assert!(body.get("data").is_none());
    assert!(cost(&body)["actualQueryCost"].is_null());
    assert_eq!(cost(&body)["throttleStatus"]["currentlyAvailable"], 1000);
    assert_eq!(sim.stats().max_cost_exceeded, 1);
}

async fn create_customer(sim: &weft_sim_shopify::ShopifySim, i: usize) -> serde_json::Value {
    let (status, body) = gql_at(
        sim,
        VERSION,
        "mutation($i: CustomerInput!) { customerCreate(input: $i) { customer { id } userErrors { field message } } }",
        json!({"i": {"email": format!("c{i}@example.com")}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[tokio::test(start_paused = true)]
async fn throttles_when_bucket_short_and_recovers_at_restore_rate() {
    let sim = sim();
    for i in 0..100 {
        let body = create_customer(&sim, i).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // The bucket is empty: the next mutation (10 points) is throttled, HTTP 200.
    let body = create_customer(&sim, 100).await;
    assert_eq!(body["errors"][0]["message"], "Throttled");
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert!(body.get("data").is_none() || body["data"].is_null());
    assert_eq!(cost(&body)["requestedQueryCost"], 10);
    assert!(cost(&body)["actualQueryCost"].is_null());
    assert_eq!(cost(&body)["throttleStatus"]["currentlyAvailable"], 0);

    // 50 ms restores 5 points: still short.
    tokio::time::advance(Duration::from_millis(50)).await;
    let body = create_customer(&sim, 100).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(cost(&body)["throttleStatus"]["currentlyAvailable"], 5);

    // 100 ms in total restores 10 points: admitted.
    tokio::time::advance(Duration::from_millis(50)).await;
    let body = create_customer(&sim, 100).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(cost(&body)["throttleStatus"]["currentlyAvailable"], 0);

    // Sustained: over 10 s exactly 100 more mutations fit (100 points/s, 10 each).
    let mut admitted = 0;
    for step in 0..1000 {
        tokio::time::advance(Duration::from_millis(10)).await;
        let body = create_customer(&sim, 1000 + step).await;
        if body["errors"].is_null() {
            admitted += 1;
        }
    }
    assert!((99..=101).contains(&admitted), "admitted {admitted}");
    assert!(sim.stats().throttled_graphql >= 2);

    // Long idle refills to the cap, not beyond.
    tokio::time::advance(Duration::from_secs(60)).await;
    let body = gql(&sim, "{ shop { name } }", json!({})).await;
    assert_eq!(cost(&body)["throttleStatus"]["currentlyAvailable"], 999);
}

#[tokio::test(start_paused = true)]
async fn throttled_status_can_be_429() {
    let sim = weft_sim_shopify::ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .graphql_bucket(20.0, 1.0)
            .throttle_status(weft_sim_shopify::ThrottleStatusCode::TooMany429)
            .build()
            .unwrap(),
    );
    let q = "{ products(first: 15) { nodes { id } } }";
    // Requested 17, actual 2: refund keeps the bucket high enough for the next one.
    let (s, _) = gql_at(&sim, VERSION, q, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let q = "{ a: products(first: 9) { nodes { id } } b: products(first: 9) { nodes { id } } }";
    let (s, body) = gql_at(&sim, VERSION, q, json!({})).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
}

#[tokio::test(start_paused = true)]
async fn bad_token_and_unknown_version() {
    let sim = sim();
    let (status, _, body) = get(&sim, "/admin/api/2026-04/shop.json", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
    );
    let (status, body) = gql_at(&sim, "1999-01", "{ shop { name } }", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errors": "Not Found"}));
    assert_eq!(sim.stats().unauthorized, 1);
}

#[tokio::test(start_paused = true)]
async fn rest_bucket_answers_429_with_retry_after_and_leaks_at_two_per_second() {
    let sim = sim();
    for n in 1..=40 {
        let (status, headers, _) = get(&sim, "/admin/api/2026-04/products/count.json", TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers["x-shopify-shop-api-call-limit"],
            format!("{n}/40").as_str()
        );
    }
    let (status, headers, body) = get(&sim, "/admin/api/2026-04/shop.json", TOKEN).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    assert!(
        body["errors"]
            .as_str()
            .unwrap()
            .starts_with("Exceeded 2 calls per second")
    );
    tokio::time::advance(Duration::from_millis(500)).await;
    let (status, headers, body) = get(&sim, "/admin/api/2026-04/shop.json", TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-shopify-shop-api-call-limit"], "40/40");
    assert_eq!(body["shop"]["myshopify_domain"], "weft-sim.myshopify.com");
    assert_eq!(sim.stats().throttled_rest, 1);
}
