//! Small versions of both `weft bench ratelimit` scenarios, asserting the invariants that must
//! hold exactly: NetSuite never exceeds the account limit, gets no over-limit answer and serves
//! stores within 2x of each other; Shopify applies every change (latest value per item, the
//! rest coalesced), is never throttled after the first second, and ends with correct quantities.
//! Performance ratios are printed by the benchmark, not asserted here. Both run on tokio's
//! paused clock: the simulators' latency, bucket refill and every wait advance virtual time, so
//! the tests are instant and do not depend on this machine's speed (HTTP still goes over
//! loopback, served by the same runtime).

use std::time::Duration;

use weft_bench::{NetSuiteOptions, ShopifyOptions, netsuite_scenario, shopify_scenario};

#[tokio::test(start_paused = true)]
async fn netsuite_many_stores_share_one_account_within_its_limit() {
    let opts = NetSuiteOptions {
        stores: 30,
        limit: 4,
        latency: Duration::from_millis(10),
        ops_per_store: 6,
        seed: 3,
    };
    let b = netsuite_scenario(&opts).await.expect("scenario runs");
    assert_eq!(b.netsuite_errors, 0);
    assert!(
        b.netsuite_requests >= 30 * 6,
        "requests: {}",
        b.netsuite_requests
    );
    assert!(
        b.netsuite_high_water <= 4,
        "high water {}",
        b.netsuite_high_water
    );
    assert_eq!(b.netsuite_over_limit, 0);
    assert!(
        b.netsuite_store_max_over_min <= 2.0,
        "per-store spread {}",
        b.netsuite_store_max_over_min
    );
}

// Real time: weft's path runs through a real outbox database (SQLite's worker thread and the
// pool's timeouts do not mix with tokio's paused clock); the small bucket keeps it to seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_every_change_is_applied_without_throttling_after_the_first_second() {
    let opts = ShopifyOptions {
        items: 3_000,
        changes_per_item: 2,
        sustained_items: 5_000,
        naive_budget: Duration::from_millis(500),
        // A small bucket, so the 12- and 20-call runs must wait for the restore rate.
        bucket: Some((50.0, 100.0)),
        seed: 5,
    };
    let b = shopify_scenario(&opts)
        .await
        .expect("scenario runs and verifies");
    assert_eq!(b.shopify_changes, 6_000);
    // Every item's latest change is applied once; the earlier one is coalesced away.
    assert_eq!(b.weft_items_applied, 3_000);
    assert_eq!(b.weft_changes_coalesced, 3_000);
    assert_eq!(b.weft_verified_items, 3_000);
    assert_eq!(b.weft_calls, 12);
    assert_eq!(b.weft_cost_per_call, 10.0);
    assert!(!b.weft_burst_covered_run);
    assert_eq!(b.weft_throttled_after_1s, 0);
    // The limiter probes with one request until it has learned the real (small) bucket, so
    // weft is not throttled at all, not even in the first second.
    assert_eq!(b.weft_throttled_total, 0);
    assert_eq!(b.sustained_throttled_total, 0);
    assert_eq!(b.sustained_calls, 20);
    assert_eq!(b.sustained_burst_calls, 5);
    assert_eq!(b.sustained_throttled_after_1s, 0);
    // The rate-bound run spends what the bucket can pay in its time, and no more.
    assert!(
        b.sustained_ratio_to_bound <= 1.0 + 1e-9,
        "{}",
        b.sustained_ratio_to_bound
    );
    // Flat JSON: every figure is a top-level scalar.
    let json = serde_json::to_value(&b).unwrap();
    assert!(
        json.as_object()
            .unwrap()
            .values()
            .all(|v| !v.is_object() && !v.is_array())
    );
    // The naive baseline really is one change per call.
    assert_eq!(b.naive_calls, b.naive_changes_applied + b.naive_throttled);
}

// Real time (the simulator's quota windows follow the clock the limiter reads): four 1 s windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigcommerce_sustained_writes_get_no_429_after_warmup_while_another_app_spends_half() {
    let opts = weft_bench::BigCommerceOptions {
        window: Duration::from_millis(1000),
        windows: 4,
        ..weft_bench::BigCommerceOptions::default()
    };
    let b = weft_bench::bigcommerce_scenario(&opts)
        .await
        .expect("scenario runs and verifies");
    eprintln!("{b:#?}");
    assert_eq!(b.bigcommerce_windows_measured, 3);
    assert_eq!(b.bigcommerce_throttled_after_warmup, 0, "{b:?}");
    assert_eq!(b.bigcommerce_other_app_refused, 0, "{b:?}");
    assert!(b.bigcommerce_share_min >= 0.9, "{b:?}");
    assert_eq!(b.bigcommerce_verified_items, 40);
}

// The same with the other app spending its half in a burst at each window's start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigcommerce_sustained_writes_share_the_quota_with_a_bursting_app() {
    let opts = weft_bench::BigCommerceOptions {
        window: Duration::from_millis(1000),
        windows: 4,
        other_apps_shape: weft_bench::BackgroundShape::Burst,
        ..weft_bench::BigCommerceOptions::default()
    };
    let b = weft_bench::bigcommerce_scenario(&opts)
        .await
        .expect("scenario runs and verifies");
    eprintln!("{b:#?}");
    assert_eq!(b.bigcommerce_throttled_after_warmup, 0, "{b:?}");
    assert_eq!(b.bigcommerce_other_app_refused, 0, "{b:?}");
    assert!(b.bigcommerce_share_min >= 0.9, "{b:?}");
}
