//! Convergence under BigCommerce's chaos with BigCommerce as the storefront: merchant and ERP
//! edits over three stores (each its own simulated BigCommerce store and NetSuite account), at
//! 1% and 20% of webhook callbacks dropped (plus duplicates and reordering), while another app
//! on each store spends half of the store-wide request quota. BigCommerce's callbacks name
//! only an entity, so every change is fetched (once per burst), under that shared quota. Each
//! run ends with both systems read afresh and compared field by field through the mapper,
//! every BigCommerce order exactly one NetSuite sales order whose totals agree, and each SKU's
//! stock in both systems equal to the run's own ledger (opening + receipts − ordered).
//! (`weft demo --storefront bigcommerce`: the quota window is shortened from 30 s to 1.5 s so
//! a run takes seconds, see `weft::demo_bc`.)

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
        "every BigCommerce order must be exactly one NetSuite sales order"
    );
    assert_eq!(r.orders_reconciled, r.orders, "{r:?}");
    assert!(r.records_compared > 0);
    if r.webhooks_dropped > 0 {
        assert!(
            r.recovered > 0,
            "{} callbacks were dropped but the polls recovered nothing",
            r.webhooks_dropped
        );
    }
    // The limiter shares what the other app leaves: BigCommerce never answered weft 429 (nor
    // NetSuite over its limit).
    assert_eq!(r.throttled, 0, "{r:?}");
    eprintln!(
        "{} events, {} orders, {} callbacks ({} dropped, {} duplicated), {} recovered by polls, \
         {} writes, {} answered 429, {:.1}s",
        r.events,
        r.orders,
        r.webhooks_sent,
        r.webhooks_dropped,
        r.webhooks_duplicated,
        r.recovered,
        r.writes_applied,
        r.throttled,
        r.seconds
    );
}

fn options(seed: u64, drop_rate: f64, duplicate_rate: f64) -> DemoOptions {
    DemoOptions {
        seed,
        events: 600,
        stores: 3,
        drop_rate,
        duplicate_rate,
        reorder_ms: 200,
        progress: false,
        storefront: Storefront::BigCommerce,
        ..DemoOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigcommerce_converges_with_one_percent_of_callbacks_dropped_and_half_the_quota_taken() {
    let r = run(options(31, 0.01, 0.05)).await.expect("demo run");
    assert_converged(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigcommerce_converges_with_twenty_percent_of_callbacks_dropped_and_half_the_quota_taken() {
    let r = run(options(32, 0.20, 0.10)).await.expect("demo run");
    assert!(r.webhooks_dropped > 0, "{r:?}");
    assert_converged(&r);
}
