//! What every convergence run must show, shared by the convergence test binaries.

use weft::demo::DemoReport;

/// Drift 0, stock as the run's ledger says, no dead letters, every order exactly once, and
/// every dropped, duplicated or late webhook accounted for.
pub fn assert_converged(r: &DemoReport) {
    // The whole report beside a drift: what the run did (edits, orders, refunds, webhooks
    // dropped, late and duplicated, writes) narrows where to look.
    assert_eq!(
        r.drift, 0,
        "drift: {:#?}\nlineage: {:#?}\nthe run: {r:?}",
        r.drift_details, r.drift_lineage
    );
    // Both systems agreeing is not enough: stock must be what the run's own ledger says.
    assert_eq!(
        r.stock_mismatches, 0,
        "stock does not match the ledger (on hand, open demand, available): {:#?}",
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
    // Every duplicate and every late redelivery reached weft and was recognised (by delivery
    // id or as an observation already journaled), never applied twice.
    assert!(
        r.duplicates_ignored >= (r.webhooks_duplicated + r.webhooks_late) as i64,
        "{} duplicates ignored for {} duplicated and {} late deliveries",
        r.duplicates_ignored,
        r.webhooks_duplicated,
        r.webhooks_late
    );
}
