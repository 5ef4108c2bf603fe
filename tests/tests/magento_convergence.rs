//! Convergence under Magento's chaos with Magento as the storefront: merchant and ERP edits over
//! three stores (each its own simulated Magento store view and NetSuite account). Magento Open
//! Source sends no webhooks, so every merchant edit, order and customer change reaches weft by
//! polling; weft writes catalog and stock through the asynchronous bulk API, whose operations
//! here fail retriably (sent again in a new bulk), stay open for seconds before the consumer
//! applies them (results arriving late), and whose status sometimes never arrives (the
//! consumer applied the operations but recorded nothing: weft stops waiting after its bulk
//! timeout, finds the target holding the write, and never posts it again). Each run ends with
//! both systems read afresh and compared field by field through the mapper, every Magento order
//! exactly one NetSuite sales order whose totals agree, each SKU's stock in both systems equal
//! to the run's own ledger (opening + receipts − ordered), and no dead letter.

use std::time::Duration;

use weft::demo::{DemoOptions, DemoReport, Storefront};
use weft::demo_magento::{ChaosConfig, MagentoChaos, run};

fn chaos_count(r: &DemoReport, k: &str) -> u64 {
    r.storefront_chaos.get(k).copied().unwrap_or(0)
}

fn assert_converged(r: &DemoReport) {
    assert_eq!(
        r.drift, 0,
        "drift: {:#?}\nlineage: {:#?}",
        r.drift_details, r.drift_lineage
    );
    assert_eq!(
        r.stock_mismatches, 0,
        "stock is not opening + receipts - ordered: {:#?}",
        r.stock_details
    );
    assert_eq!(
        r.dead_letters, 0,
        "dead letters: {:#?}",
        r.dead_letter_details
    );
    assert!(r.orders > 0, "the run placed no orders: {r:?}");
    assert_eq!(
        r.orders_matched, r.orders,
        "every Magento order must be exactly one NetSuite sales order"
    );
    assert_eq!(r.orders_reconciled, r.orders, "{r:?}");
    assert!(r.records_compared > 0);
    // Every operation of a bulk with a status settled (none left open).
    assert_eq!(chaos_count(r, "bulk_operations_open"), 0, "{r:?}");
    assert_eq!(r.throttled, 0, "{r:?}");
    eprintln!(
        "{} events, {} orders, {} writes, {} bulks ({} operations, {} failed retriably, {} bulks \
         without status), {} conflicts, {:.1}s",
        r.events,
        r.orders,
        r.writes_applied,
        chaos_count(r, "bulks"),
        chaos_count(r, "bulk_operations"),
        chaos_count(r, "bulk_operations_failed_retriably"),
        chaos_count(r, "bulks_without_status"),
        r.conflicts_resolved,
        r.seconds
    );
}

fn options(seed: u64) -> DemoOptions {
    DemoOptions {
        seed,
        events: 400,
        stores: 2,
        progress: false,
        storefront: Storefront::Magento,
        ..DemoOptions::default()
    }
}

/// The demo's chaos: 5% of operations fail retriably, the consumer takes 0.3 to 1.8 s, 2% of
/// bulks get no status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magento_converges_under_the_demo_bulk_chaos() {
    let r = run(options(41), MagentoChaos::default())
        .await
        .expect("demo run");
    assert!(chaos_count(&r, "bulks") > 0, "{r:?}");
    assert_converged(&r);
}

/// Heavier: a fifth of operations fail retriably, the consumer takes up to 1.5 s, a tenth of
/// bulks never get a status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magento_converges_with_a_fifth_of_operations_failing_and_lost_bulk_statuses() {
    let chaos = MagentoChaos {
        sim: ChaosConfig {
            retriable_failure_share: 0.2,
            consumer_delay: Duration::from_millis(300),
            consumer_jitter: Duration::from_millis(1200),
            lost_bulk_share: 0.1,
            lost_bulk_applies: true,
        },
        bulk_poll: Duration::from_millis(250),
    };
    let r = run(options(42), chaos).await.expect("demo run");
    assert!(
        chaos_count(&r, "bulk_operations_failed_retriably") > 0,
        "no operation failed: {r:?}"
    );
    assert!(
        chaos_count(&r, "bulks_without_status") > 0,
        "no bulk lost its status: {r:?}"
    );
    assert_converged(&r);
}
