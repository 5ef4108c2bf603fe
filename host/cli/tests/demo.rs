//! End-to-end: the real `weft demo` binary and the convergence runs behind it, against the
//! Shopify and NetSuite simulators with webhook chaos. Each run ends with both systems read
//! afresh, mapped by the store's mapper and compared field by field.

use std::process::Command;

use weft::demo::{DemoOptions, DemoReport, run};

fn assert_converged(r: &DemoReport) {
    assert_eq!(r.drift, 0, "drift: {:#?}", r.drift_details);
    assert_eq!(
        r.dead_letters, 0,
        "dead letters: {:#?}",
        r.dead_letter_details
    );
    assert!(r.orders > 0, "the run placed no orders: {r:?}");
    assert_eq!(
        r.orders_matched, r.orders,
        "every Shopify order must be exactly one NetSuite sales order"
    );
    assert!(r.records_compared > 0);
    if r.webhooks_dropped > 0 {
        assert!(
            r.recovered > 0,
            "{} webhooks were dropped but the polls recovered nothing",
            r.webhooks_dropped
        );
    }
}

#[test]
fn demo_binary_reports_zero_drift_as_json_on_its_last_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "demo",
            "--json",
            "--seed",
            "1",
            "--drop-rate",
            "0.05",
            "--events",
            "150",
        ])
        .output()
        .expect("run weft demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "weft demo failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("a report line");
    let report: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    assert_eq!(report["drift"], 0, "{report:#}");
    assert_eq!(report["seed"], 1);
    assert!(report["webhooks_sent"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_with_one_percent_of_webhooks_dropped() {
    let r = run(DemoOptions {
        seed: 11,
        events: 300,
        drop_rate: 0.01,
        duplicate_rate: 0.05,
        reorder_ms: 200,
        late_rate: 0.02,
        progress: false,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert_converged(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_with_twenty_percent_of_webhooks_dropped() {
    let r = run(DemoOptions {
        seed: 12,
        events: 300,
        drop_rate: 0.20,
        duplicate_rate: 0.10,
        reorder_ms: 300,
        late_rate: 0.05,
        progress: false,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert!(r.webhooks_dropped > 0, "{r:?}");
    assert_converged(&r);
}
