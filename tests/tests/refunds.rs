//! Refunds to the ERP: every Shopify refund is exactly one NetSuite credit memo, and a unit
//! returned to stock comes back on hand in NetSuite once, never twice, while every webhook is
//! at risk of arriving twice or late (a duplicated or stale `orders/updated` carries the same
//! refunds again). The demo's ledger checks, per SKU, that NetSuite's on hand is the opening
//! quantity plus receipts, less what was fulfilled, plus restocked returns; a credit memo written twice, or a refund read twice, would
//! show as a stock mismatch or a second credit memo (drift).

use weft::demo::{DemoOptions, PlanPreset, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restocked_refund_returns_its_units_to_netsuite_once_under_duplicate_webhooks() {
    let r = run(DemoOptions {
        seed: 21,
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
    assert!(r.refunds_restocked > 0, "no refund returned units: {r:?}");
    assert!(
        r.refunds > r.refunds_restocked,
        "no refund without return: {r:?}"
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
        "NetSuite on hand must be opening + receipts - fulfilled + restocked: {:#?}",
        r.stock_details
    );
    assert_eq!(r.dead_letters, 0, "{:#?}", r.dead_letter_details);
}
