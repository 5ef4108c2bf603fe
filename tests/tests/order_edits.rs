//! Storefront order edits and cancelled lines reach the ERP's sales order once: a Shopify
//! order edited after NetSuite has its sales order (a line lowered, raised or removed, a
//! variant added as a new line) or refunded before it shipped (restock `CANCEL`) changes the sales
//! order's lines (lowered, raised, closed with `isClosed`, added), so NetSuite commits what is
//! ordered now, while every webhook is at risk of arriving twice or late (a stale
//! `orders/updated` from before the edit must not restore the old lines). The demo's ledger
//! checks, per SKU, NetSuite's open demand = ordered - fulfilled - cancelled - edited away,
//! its on hand, and what Shopify shows.

use weft::demo::{DemoOptions, PlanPreset, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_edit_changes_the_sales_order_lines_once_under_duplicate_and_late_webhooks() {
    let r = run(DemoOptions {
        seed: 23,
        events: 200,
        stores: 1,
        drop_rate: 0.0,
        duplicate_rate: 0.5,
        reorder_ms: 100,
        late_rate: 0.2,
        progress: false,
        shopify_plan: PlanPreset::Plus,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert!(r.webhooks_duplicated > 0, "{r:?}");
    assert!(r.webhooks_late > 0, "{r:?}");
    assert!(r.order_edits > 0, "no order edit: {r:?}");
    assert!(r.order_edit_additions > 0, "no variant added: {r:?}");
    assert!(r.order_edit_raises > 0, "no line raised: {r:?}");
    assert!(
        r.order_edits > r.order_edit_additions,
        "no line lowered or removed: {r:?}"
    );
    assert!(
        r.refunds_cancelling > 0,
        "no refund of unshipped units: {r:?}"
    );
    assert_eq!(
        r.refunds_matched, r.refunds,
        "every refund must be exactly one credit memo: {:#?}",
        r.drift_details
    );
    assert_eq!(
        r.drift, 0,
        "drift: {:#?}\nlineage: {:#?}",
        r.drift_details, r.drift_lineage
    );
    assert_eq!(
        r.stock_mismatches, 0,
        "NetSuite committed must be ordered - fulfilled - cancelled - edited away: {:#?}",
        r.stock_details
    );
    assert_eq!(r.dead_letters, 0, "{:#?}", r.dead_letter_details);
}
