//! Deletes and archives on both sides under webhook chaos (issue 15): its own test binary, so
//! its two 40-item stores do not run beside the other convergence runs (`cargo test` runs test
//! binaries one after another, a binary's tests side by side).

mod common;

use common::assert_converged;
use weft::demo::{DemoOptions, PlanPreset, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_with_deletes_and_archives_on_both_sides() {
    // Issue 15 point 3's must-show: per store, the merchant deletes Shopify products (one of
    // its own SKU and a whole option group) and one variant of another option group, and the
    // ERP makes items inactive, under webhook
    // loss, duplication, reordering and late redeliveries; the ERP goes on editing the items
    // whose Shopify product is gone. At the end every deletion is archived on the other side
    // (`[deletes]` default: archive), nothing deleted is recreated, nothing nobody deleted is
    // archived, and drift is 0. Each store's first `products/delete` is never sent (and the
    // chaos may drop others): the full read must find those deletions.
    let r = run(DemoOptions {
        seed: 15,
        events: 500,
        stores: 2,
        items: 40,
        deletes: 3,
        drop_rate: 0.30,
        duplicate_rate: 0.10,
        reorder_ms: 300,
        late_rate: 0.05,
        progress: false,
        shopify_plan: PlanPreset::Plus,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert_eq!(r.products_deleted, 4, "{r:?}");
    assert_eq!(r.variants_deleted, 2, "{r:?}");
    assert_eq!(r.items_deactivated, 6, "{r:?}");
    assert_eq!(
        r.children_removed,
        2 * r.variants_deleted as i64,
        "each deleted variant's record and price removed once: {r:?}"
    );
    assert_eq!(
        r.delete_webhooks_lost, 2,
        "each store's first deletion is never delivered: only the full read finds it: {r:?}"
    );
    assert_eq!(
        r.deletes_applied, r.products_deleted as i64,
        "each deleted product applied once (a duplicate or the full read's copy is not): {r:?}"
    );
    assert_eq!(
        r.deletes_held, 0,
        "the guard held a run's ordinary deletions: {r:?}"
    );
    assert_eq!(
        r.deletes_recreated, 0,
        "a deleted product came back in Shopify: {r:?}"
    );
    assert_eq!(
        r.archived_matched,
        r.skus_deleted + r.items_deactivated,
        "every deleted or inactive SKU archived on the other side: {:#?}",
        r.drift_details
    );
    assert!(r.kept_active > 0, "{r:?}");
    assert_converged(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_when_deletions_remove_the_records_elsewhere() {
    // The `delete` action under the same chaos: a Shopify product the merchant deletes is
    // removed from NetSuite (its items are gone, or kept inactive where NetSuite refuses the
    // delete because transactions depend on them), the echoes of weft's own deletions apply
    // nothing and trip no guard, nothing deleted comes back, nothing nobody deleted is
    // removed, and drift is 0.
    let r = run(DemoOptions {
        seed: 16,
        events: 400,
        stores: 1,
        items: 40,
        deletes: 3,
        delete_action: weft_engine::OnDelete::Delete,
        drop_rate: 0.30,
        duplicate_rate: 0.10,
        reorder_ms: 300,
        late_rate: 0.05,
        progress: false,
        shopify_plan: PlanPreset::Plus,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert_eq!(r.products_deleted, 2, "{r:?}");
    assert_eq!(r.variants_deleted, 1, "{r:?}");
    assert_eq!(
        r.deletes_held, 0,
        "the guard held a run's ordinary deletions or their echoes: {r:?}"
    );
    assert_eq!(
        r.deletes_recreated, 0,
        "a deleted product came back in Shopify: {r:?}"
    );
    assert_eq!(
        r.archived_matched,
        r.skus_deleted + r.items_deactivated,
        "every deleted SKU removed (or kept inactive) in NetSuite, every inactive one archived: {:#?}",
        r.drift_details
    );
    assert!(
        r.deletes_removing >= r.skus_deleted as i64,
        "every deleted SKU's records were removed elsewhere: {r:?}"
    );
    assert!(r.kept_active > 0, "{r:?}");
    assert_converged(&r);
    eprintln!(
        "removed from NetSuite: {} of {} deleted SKUs (the others kept inactive: transactions depend on them); echoes {}",
        r.items_removed, r.skus_deleted, r.deletes_echoed
    );
}
