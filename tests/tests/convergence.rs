//! Convergence under webhook chaos: thousands of merchant and ERP edits (1,500 per run, over
//! four stores, each with its own simulated shop and NetSuite account) with 1% and 20% of
//! webhooks dropped, plus duplicates, reordering and late stale redeliveries, between simulated
//! Shopify and NetSuite. Each run ends with both systems read afresh, mapped by the store's
//! mapper and compared field by field; every Shopify order must be exactly one NetSuite sales
//! order.
//!
//! The shops run on Shopify's Plus query budget (10,000 points restored at 1,000 a second):
//! under the standard budget these runs spend most of their time waiting for it (a 150-event
//! demo: 110 s standard, 22 s plus). The standard budget is held end to end by the `weft demo`
//! test (`host/cli/tests/demo.rs`), the crash, outage and replay tests, and `weft bench
//! ratelimit`.

mod common;

use common::assert_converged;
use weft::demo::{DemoOptions, Ownership, PlanPreset, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_with_one_percent_of_webhooks_dropped() {
    let r = run(DemoOptions {
        seed: 11,
        events: 1500,
        stores: 4,
        drop_rate: 0.01,
        duplicate_rate: 0.05,
        reorder_ms: 200,
        late_rate: 0.02,
        progress: false,
        shopify_plan: PlanPreset::Plus,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert_converged(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_with_twenty_percent_of_webhooks_dropped() {
    // Here NetSuite owns prices: the merchant's price edits are written back (`revert`, the
    // default for owned fields) under the same chaos, and still nothing drifts.
    let r = run(DemoOptions {
        ownership: Ownership::new([("price.*".to_owned(), "netsuite".to_owned())], []),
        seed: 12,
        events: 1500,
        stores: 4,
        drop_rate: 0.20,
        duplicate_rate: 0.10,
        reorder_ms: 300,
        late_rate: 0.05,
        progress: false,
        shopify_plan: PlanPreset::Plus,
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert!(r.webhooks_dropped > 0, "{r:?}");
    assert!(
        r.changes_reverted > 0,
        "no merchant price edit was reverted: {r:?}"
    );
    assert_converged(&r);
}

/// A run that drifts says what weft decided for the records that differ: each record's
/// lineage, read from the run's database, one line per step (the journal entry, the fields'
/// decisions, the writes planned from it). Shown here on a record of a converged run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_record_is_shown_with_the_steps_weft_took_for_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let r = run(DemoOptions {
        seed: 4,
        events: 40,
        stores: 1,
        items: 4,
        progress: false,
        shopify_plan: PlanPreset::Plus,
        keep: Some(dir.path().to_owned()),
        ..DemoOptions::default()
    })
    .await
    .expect("demo run");
    assert_converged(&r);
    assert!(r.drift_lineage.is_empty(), "{:#?}", r.drift_lineage);
    let db = weft_store::Store::open(&dir.path().join("weft.db").to_string_lossy())
        .await
        .expect("the kept database opens");
    let recent = db.recent_lineage("store-1", 500).await.expect("lineage");
    let (kind, key, _) = recent
        .iter()
        .find(|(kind, ..)| kind == "price")
        .expect("a price was synced");
    let lines = weft::demo::drift_lineage(&db, "store-1", &[(kind.clone(), key.clone())]).await;
    assert!(!lines.is_empty());
    let head = format!("{kind} {key} #");
    assert!(lines.iter().all(|l| l.starts_with(&head)), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" seq ") && l.contains("\"decision\"") && l.contains("writes [")),
        "{lines:#?}"
    );
    let none =
        weft::demo::drift_lineage(&db, "store-1", &[("price".into(), "NO-SUCH".into())]).await;
    assert_eq!(
        none,
        vec!["price NO-SUCH: no lineage (weft never took a step for it)".to_owned()]
    );
    db.close().await;
}
