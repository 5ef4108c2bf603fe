//! Convergence of a Google Sheet and a Shopify shop (`weft demo --source sheet`'s code): a
//! simulated person edits the sheet (prices, titles, stock counts, typos, rows added, blank rows
//! inserted, rows deleted, the table re-sorted, a column moved, a header renamed and put back)
//! while a merchant edits prices and shoppers buy in Shopify under webhook chaos. Then both are
//! read afresh and compared field by field through the mapper: no edit lost (each side's last
//! value agrees; each SKU's stock on both sides is the run's own ledger of counts and sales), no
//! row duplicated on the storefront (each SKU one Shopify variant), removed rows archived and
//! never deleted, every typo named in its row's status, nothing throttled after warm-up.

use weft::demo::DemoOptions;
use weft::demo_sheet::{SheetDemoReport, run};

fn assert_converged(r: &SheetDemoReport) {
    assert_eq!(
        r.drift, 0,
        "drift: {:#?}\nlineage: {:#?}",
        r.drift_details, r.drift_lineage
    );
    assert_eq!(
        r.stock_mismatches, 0,
        "stock is not opening + counts - sold: {:#?}",
        r.stock_details
    );
    assert_eq!(
        r.dead_letters, 0,
        "dead letters: {:#?}",
        r.dead_letter_details
    );
    assert_eq!(
        r.typos_reported, r.typos,
        "every typo named in its row's status: {:#?}",
        r.typo_details
    );
    assert_eq!(r.throttled_after_warmup, 0, "{r:#?}");
    assert!(r.records_compared > 0);
    assert!(
        r.lag.samples > 0,
        "no sheet edit was seen in Shopify: {r:#?}"
    );
    assert!(r.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_and_a_shop_converge_under_a_person_s_edits() {
    let r = run(DemoOptions {
        seed: 3,
        events: 140,
        items: 10,
        drop_rate: 0.05,
        duplicate_rate: 0.05,
        reorder_ms: 200,
        late_rate: 0.02,
        progress: false,
        ..DemoOptions::default()
    })
    .await
    .expect("the sheet demo runs");
    assert_converged(&r);
    // The run exercised what the sheet's structure can do to a sync.
    assert!(r.rows_added > 0, "{r:#?}");
    assert!(r.rows_inserted > 0, "{r:#?}");
    assert!(r.rows_deleted > 0, "{r:#?}");
    assert_eq!(
        r.rows_archived + r.rows_never_synced,
        r.rows_deleted,
        "{r:#?}"
    );
    assert!(r.resorts > 0, "{r:#?}");
    assert_eq!(r.headers_renamed, 1, "{r:#?}");
    assert!(r.typos > 0, "{r:#?}");
    assert!(r.stock_edits > 0 && r.orders > 0, "{r:#?}");
}

/// A sheet, a Shopify shop and NetSuite (`weft demo --source sheet --erp netsuite`): weft
/// creates the sheet's rows as NetSuite items, NetSuite owns the stock (the opening count and
/// receipts are made there; counts typed in the sheet are written back over), prices changed
/// in NetSuite and Shopify come back to the sheet. All three agree field by field, each SKU's
/// stock in the sheet, Shopify and NetSuite is NetSuite's ledger (received - ordered), and each
/// Shopify order is exactly one sales order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_a_shop_and_netsuite_converge() {
    let r = weft::demo_sheet::run_with(
        DemoOptions {
            seed: 5,
            events: 100,
            items: 8,
            drop_rate: 0.05,
            duplicate_rate: 0.05,
            reorder_ms: 200,
            late_rate: 0.02,
            progress: false,
            ..DemoOptions::default()
        },
        Some(weft::demo_sheet::Erp::Netsuite),
    )
    .await
    .expect("the sheet demo with NetSuite runs");
    assert_converged(&r);
    assert_eq!(r.erp.as_deref(), Some("netsuite"));
    assert!(r.orders > 0 && r.erp_events > 0, "{r:#?}");
    assert_eq!(r.orders_matched, r.orders, "{r:#?}");
    assert_eq!(
        r.rows_archived + r.rows_never_synced,
        r.rows_deleted,
        "{r:#?}"
    );
}
