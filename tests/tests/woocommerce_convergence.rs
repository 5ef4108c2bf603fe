//! Convergence under webhook chaos with WooCommerce as the storefront: 1,000 merchant and ERP
//! edits per run over three stores (each its own simulated WooCommerce site and NetSuite
//! account), at 1% and 20% of deliveries dropped, plus duplicates, reordering and late
//! deliveries of stale snapshots; WooCommerce never re-sends, so the poll is the only safety
//! net. Each run ends with both systems read afresh and compared field by field through the
//! mapper, every WooCommerce order exactly one NetSuite sales order whose totals agree, and each
//! SKU's stock in both systems equal to the run's own ledger (opening + receipts − ordered):
//! no sale overwritten by a stock write, none counted twice.

use weft::demo::{DemoOptions, DemoReport, Storefront, run};

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
        "every WooCommerce order must be exactly one NetSuite sales order"
    );
    assert_eq!(r.orders_reconciled, r.orders, "{r:?}");
    assert!(r.records_compared > 0);
    if r.webhooks_dropped > 0 {
        assert!(
            r.recovered > 0,
            "{} webhooks were dropped but the polls recovered nothing",
            r.webhooks_dropped
        );
    }
    // Every duplicate reached weft and was recognised by its delivery id, never applied twice.
    assert!(
        r.duplicates_ignored >= r.webhooks_duplicated as i64,
        "{} duplicates ignored for {} duplicated deliveries",
        r.duplicates_ignored,
        r.webhooks_duplicated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_converges_with_one_percent_of_webhooks_dropped() {
    let r = run(DemoOptions {
        seed: 21,
        events: 1000,
        stores: 3,
        drop_rate: 0.01,
        duplicate_rate: 0.05,
        reorder_ms: 200,
        late_rate: 0.02,
        progress: false,
        storefront: Storefront::WooCommerce,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert_converged(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_converges_with_twenty_percent_of_webhooks_dropped() {
    let r = run(DemoOptions {
        seed: 22,
        events: 1000,
        stores: 3,
        drop_rate: 0.20,
        duplicate_rate: 0.10,
        reorder_ms: 300,
        late_rate: 0.05,
        progress: false,
        storefront: Storefront::WooCommerce,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert!(r.webhooks_dropped > 0, "{r:?}");
    assert_converged(&r);
}
