//! End-to-end: the real `weft demo` binary against the Shopify (and, with `--storefront
//! bigcommerce`, the BigCommerce) and NetSuite simulators with webhook chaos; its report (one
//! JSON object on the last line of stdout) must show zero drift.

use std::process::Command;

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
    assert_eq!(report["stock_mismatches"], 0, "{report:#}");
    // Every order: totals add up in Shopify and in NetSuite, agree, and the sales order holds
    // every field the mapper writes (addresses, shipping, taxes, discounts, payment, note).
    assert!(report["orders"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["orders_reconciled"], report["orders"], "{report:#}");
    assert_eq!(report["seed"], 1);
    assert!(report["webhooks_sent"].as_u64().unwrap() > 0);
}

/// `weft demo --storefront bigcommerce --json`: drift 0, stock mismatches 0, every order exactly
/// once, 0 dead letters, while another app spends half of the store's quota.
#[test]
fn bigcommerce_demo_reports_zero_drift_and_every_order_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "demo",
            "--json",
            "--storefront",
            "bigcommerce",
            "--seed",
            "3",
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
    assert_eq!(report["stock_mismatches"], 0, "{report:#}");
    assert_eq!(report["dead_letters"], 0, "{report:#}");
    assert!(report["orders"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["orders_matched"], report["orders"], "{report:#}");
    assert_eq!(report["orders_reconciled"], report["orders"], "{report:#}");
    assert!(report["webhooks_sent"].as_u64().unwrap() > 0);
}
