//! Catalog-scale first sync through bulk query operations against the simulator: the first
//! sync of a large shop reads in bulk (not by paging) and journals exactly what the paged read
//! journals; a live edit made while the operation runs is journaled by the incremental round
//! and the bulk file's older snapshot of that product never lands after it; a failed operation
//! is tried once more, and one Shopify refuses (another bulk query running) falls back to the
//! paged read; a backfill a restart interrupted adopts the operation it left running.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use weft_platform::Poller;
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::{Backfill, ShopifyClient, ShopifyConfig, ShopifyReconciler};
use weft_sim_shopify::{CreatedProduct, PlanPreset, ShopifySim, SimConfig, SimHandle, VariantEdit};
use weft_store::{OpenOptions, Store};

const STORE: &str = "acme";

/// A shop on the enterprise budget (the paged reads these tests compare with stay quick).
async fn shop(products: usize, variants: usize) -> (ShopifySim, SimHandle, Vec<CreatedProduct>) {
    let sim = ShopifySim::new(
        SimConfig::builder()
            .plan(PlanPreset::Enterprise)
            .build()
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    let created = sim.seed_catalog(products, variants).unwrap();
    // The catalog existed before weft came: its versions lie in seconds that are over.
    sim.skew_clock(chrono::Duration::seconds(5));
    (sim, handle, created)
}

async fn reconciler(
    handle: &SimHandle,
    version: &str,
    bulk_above: u64,
) -> (ShopifyReconciler, Store, tempfile::TempDir) {
    reconciler_polling(handle, version, bulk_above, Duration::from_millis(20)).await
}

/// [`reconciler`] polling a bulk operation's status every `poll_every`.
async fn reconciler_polling(
    handle: &SimHandle,
    version: &str,
    bulk_above: u64,
    poll_every: Duration,
) -> (ShopifyReconciler, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open_with(
        &dir.path().join("weft.sqlite").to_string_lossy(),
        OpenOptions::default(),
    )
    .await
    .unwrap();
    (
        reconciler_on(handle, version, bulk_above, poll_every, &db),
        db,
        dir,
    )
}

/// A reconciler journaling into `db` (a process of weft, started again on the same database).
fn reconciler_on(
    handle: &SimHandle,
    version: &str,
    bulk_above: u64,
    poll_every: Duration,
    db: &Store,
) -> ShopifyReconciler {
    let mut config = ShopifyConfig::new(handle.base_url.clone(), version, "shpat_sim_access_token");
    config.backfill = Backfill {
        bulk_above_variants: bulk_above,
        poll_every,
        max_wait: Duration::from_secs(60),
        chunk: 100,
        pace: None,
    };
    let client = ShopifyClient::new(config, ShopifyCostLimiter::new()).unwrap();
    ShopifyReconciler::new(
        STORE,
        "shopify",
        db.clone(),
        Arc::new(client),
        Duration::ZERO,
    )
}

/// The latest journaled (version, body) per catalog document.
async fn catalog(db: &Store) -> BTreeMap<(String, String), (String, serde_json::Value)> {
    let mut out = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = db.journal_since(STORE, after, 5_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page {
            if e.kind == "product" || e.kind == "inventory-level" {
                out.insert((e.kind, e.entity_id), (e.version, e.body));
            }
        }
    }
    out
}

/// Runs `first`'s backfill until the operation of bulk query `query` is recorded, then stops
/// it as a killed process would (the operation keeps running in Shopify). `watch` sees each
/// recorded operation on the way (to pace the next one, say).
async fn interrupted_at(
    first: ShopifyReconciler,
    db: &Store,
    query: &str,
    mut watch: impl FnMut(&serde_json::Value),
) {
    let first = Arc::new(first);
    let running = tokio::spawn({
        let f = first.clone();
        async move { f.poll_full().await }
    });
    loop {
        let recorded = db.watermark(STORE, "shopify:bulk-operation").await.unwrap();
        if let Some(r) = &recorded {
            watch(r);
            if r["query"] == query {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    running.abort();
    let _ = running.await;
}

/// Paged catalog reads in the simulator's request log.
fn paged_reads(sim: &ShopifySim) -> usize {
    sim.request_log()
        .iter()
        .filter(|r| {
            matches!(
                r.operation.as_deref(),
                Some("products" | "nodes" | "inventoryItems" | "product" | "inventoryItem")
            )
        })
        .count()
}

#[tokio::test]
async fn first_sync_of_a_large_catalog_reads_in_bulk_what_the_paged_read_reads() {
    let (sim, handle, _) = shop(300, 10).await;
    let (bulk, bulk_db, _d1) = reconciler(&handle, "2026-04", 1_000).await;

    assert!(
        bulk.backfill_pending().await.unwrap(),
        "a first sync is owed"
    );
    assert!(
        bulk.full_read_apart().await,
        "3,000 variants are read in bulk"
    );
    // The incremental round leaves the catalog to the backfill.
    bulk.poll().await.unwrap();
    assert_eq!(paged_reads(&sim), 0);
    let report = bulk.poll_full().await.unwrap();
    assert_eq!(report.read, 300 + 3_000, "{report:?}");
    assert_eq!(report.journaled, 3_300);
    let stats = sim.bulk_stats();
    assert_eq!((stats.created, stats.completed, stats.failed), (2, 2, 0));
    assert_eq!(paged_reads(&sim), 0, "no catalog page was read");
    assert!(!bulk.backfill_pending().await.unwrap());
    // Incremental rounds go on from the operation's start: nothing changed since.
    assert_eq!(bulk.poll().await.unwrap().journaled, 0);

    // The paged read of the same shop journals the same documents at the same versions.
    let (paged, paged_db, _d2) = reconciler(&handle, "2026-04", u64::MAX).await;
    assert!(!paged.backfill_pending().await.unwrap());
    paged.poll().await.unwrap();
    assert!(paged_reads(&sim) > 0);
    let (a, b) = (catalog(&bulk_db).await, catalog(&paged_db).await);
    assert_eq!(a.len(), 3_300);
    assert_eq!(a, b, "bulk and paged reads disagree");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_live_edit_during_the_backfill_is_not_overwritten_by_the_older_snapshot() {
    let (sim, handle, created) = shop(100, 10).await;
    // Pages of 20 products, 150 ms apart: the products operation runs for about 0.75 s.
    sim.set_bulk_pacing(20, Duration::from_millis(150));
    let (poller, db, _d) = reconciler(&handle, "2026-04", 500).await;
    let poller = Arc::new(poller);
    let (first, last) = (created[0].variant_ids[0], created[99].variant_ids[0]);

    let backfill = tokio::spawn({
        let p = poller.clone();
        async move { p.poll_full().await }
    });
    // Once the first page (products 0..20) is written, edit product 0 (already read: the file
    // holds its older state) and product 99 (not read yet: the file will hold the edit).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let op = sim.current_bulk_operation();
        let marked = db
            .watermark(STORE, "shopify:products")
            .await
            .unwrap()
            .is_some();
        if marked && op.is_some_and(|o| o.root_object_count >= 20) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "operation never progressed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The backfill says how far its operation has got (what `weft status` shows with it).
    let objects = |p: &str| {
        p.strip_prefix("products: bulk operation RUNNING, ")
            .and_then(|rest| rest.strip_suffix(" objects written"))
            .and_then(|n| n.parse::<u64>().ok())
    };
    loop {
        let progress = poller.progress().unwrap_or_default();
        if objects(&progress).is_some_and(|n| n >= 20) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{progress:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A second later on the shop's clock, so the edits are newer than anything read.
    sim.skew_clock(chrono::Duration::seconds(1));
    for v in [first, last] {
        sim.edit_variant(
            v,
            VariantEdit {
                price: Some("99.00".into()),
                ..VariantEdit::default()
            },
        )
        .unwrap();
    }
    // The levels operation that follows runs at full speed.
    sim.set_bulk_pacing(250, Duration::ZERO);
    // The live path goes on while the backfill runs: an incremental round journals both edits.
    let live = poller.poll().await.unwrap();
    assert_eq!(live.journaled, 2, "{live:?}");
    assert!(!backfill.is_finished(), "the backfill was still running");
    backfill.await.unwrap().unwrap();
    assert_eq!(poller.progress(), None, "a finished backfill says nothing");

    let mut after = 0;
    let mut product_entries: BTreeMap<String, Vec<(i64, String, String)>> = BTreeMap::new();
    loop {
        let page = db.journal_since(STORE, after, 5_000).await.unwrap();
        let Some(l) = page.last() else { break };
        after = l.seq;
        for e in page.into_iter().filter(|e| e.kind == "product") {
            let price = e.body["variants"][0]["price"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            product_entries
                .entry(e.body["title"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push((e.seq, e.version_key, price));
        }
    }
    for title in ["Backfill product 0", "Backfill product 99"] {
        let entries = &product_entries[title];
        let live = entries
            .iter()
            .find(|(_, _, price)| price == "99.00")
            .unwrap_or_else(|| panic!("{title}: live edit journaled: {entries:?}"));
        for e in entries.iter().filter(|e| e.2 != "99.00") {
            // The bulk file's older state: journaled later, but with an older version, so the
            // engine's stale guard drops it; never at the live edit's version or after it.
            assert!(e.1 < live.1, "{title}: {entries:?}");
        }
        let newest = entries.iter().max_by(|a, b| a.1.cmp(&b.1)).unwrap();
        assert_eq!(
            newest.2, "99.00",
            "{title}: newest version holds the live edit"
        );
    }
    // Product 99 was read with its edit: left to the live path, not journaled by the backfill.
    assert_eq!(product_entries["Backfill product 99"].len(), 1);
    let counters = db.counters(STORE).await.unwrap();
    assert!(
        counters.get("backfill_left_to_live").copied().unwrap_or(0) >= 1,
        "{counters:?}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_failed_operation_is_tried_again_and_a_refused_one_falls_back_to_paging() {
    // A failed operation (INTERNAL_SERVER_ERROR after one page) is tried once more.
    let (sim, handle, _) = shop(60, 50).await;
    sim.set_bulk_pacing(20, Duration::ZERO);
    sim.fail_next_bulk("INTERNAL_SERVER_ERROR", 1);
    let (poller, db, _d) = reconciler(&handle, "2026-04", 1_000).await;
    let report = poller.poll_full().await.unwrap();
    assert_eq!(report.journaled, 60 + 3_000);
    let stats = sim.bulk_stats();
    assert_eq!((stats.failed, stats.completed), (1, 2));
    let op = sim.current_bulk_operation().unwrap();
    assert!(op.url.is_some());
    assert_eq!(paged_reads(&sim), 0);
    assert_eq!(
        db.counters(STORE).await.unwrap().get("backfill_fallbacks"),
        None
    );
    handle.shutdown().await;

    // Before 2026-01 an app runs one bulk query per shop: with another one running, Shopify
    // refuses weft's (OPERATION_IN_PROGRESS) and the backfill pages instead.
    let (sim, handle, _) = shop(60, 50).await;
    sim.set_bulk_pacing(1, Duration::from_secs(5));
    // The other operation's owner polls its status once a second (a status poll every 20 ms
    // spends the whole standard restore rate, and with one access token the simulated shop
    // has one bucket: weft's fallback would never get a query through).
    let (other, _other_db, _d3) =
        reconciler_polling(&handle, "2025-10", 1_000, Duration::from_secs(1)).await;
    let other = Arc::new(other);
    let running = tokio::spawn({
        let o = other.clone();
        async move { o.poll_full().await }
    });
    while sim.current_bulk_operation().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (poller, db, _d4) = reconciler(&handle, "2025-10", 1_000).await;
    let report = poller.poll_full().await.unwrap();
    assert_eq!(report.journaled, 60 + 3_000, "{report:?}");
    assert_eq!(sim.bulk_stats().refused_in_progress, 1);
    assert!(paged_reads(&sim) > 0, "the fallback paged");
    assert_eq!(
        db.counters(STORE).await.unwrap().get("backfill_fallbacks"),
        Some(&1)
    );
    assert!(
        !poller.backfill_pending().await.unwrap(),
        "the fallback finished the backfill"
    );
    running.abort();
    handle.shutdown().await;
}

/// A backfill that a restart interrupted (the process gone while its products operation still
/// runs in Shopify) adopts that operation when weft starts again, rather than starting another:
/// before 2026-01 Shopify would refuse a second one and the backfill would page. A finished
/// backfill's operations are never adopted: a later full resync runs its queries afresh.
#[tokio::test]
async fn a_backfill_interrupted_by_a_restart_adopts_its_running_operation() {
    let (sim, handle, _) = shop(60, 50).await;
    // One root object per page, 20 ms apart: the products operation runs about 1.2 s.
    sim.set_bulk_pacing(1, Duration::from_millis(20));
    let (first, db, _d) = reconciler(&handle, "2025-10", 1_000).await;
    // The operation is created and recorded; then the process is gone.
    interrupted_at(first, &db, "products", |_| {}).await;
    let op = sim.current_bulk_operation().unwrap();
    assert!(op.url.is_none(), "still running when weft stopped");
    assert!(sim.bulk_stats().completed == 0);
    // The rest of that operation and the next one run at full speed.
    sim.set_bulk_pacing(250, Duration::ZERO);

    let again = reconciler_on(&handle, "2025-10", 1_000, Duration::from_millis(20), &db);
    assert!(
        again.backfill_pending().await.unwrap(),
        "the first sync is still owed"
    );
    let report = again.poll_full().await.unwrap();
    assert_eq!(report.journaled, 60 + 3_000, "{report:?}");
    let stats = sim.bulk_stats();
    assert_eq!(
        (stats.created, stats.completed, stats.refused_in_progress),
        (2, 2, 0),
        "the products operation adopted, the levels one started: {stats:?}"
    );
    assert_eq!(paged_reads(&sim), 0, "no fallback to paging");
    assert_eq!(
        db.counters(STORE).await.unwrap().get("backfill_fallbacks"),
        None
    );
    assert!(!again.backfill_pending().await.unwrap());
    assert_eq!(
        db.watermark(STORE, "shopify:bulk-operation").await.unwrap(),
        Some(serde_json::Value::Null),
        "a finished backfill leaves no operation to adopt"
    );

    // A full resync later runs both queries afresh.
    again.poll_full().await.unwrap();
    let stats = sim.bulk_stats();
    assert_eq!((stats.created, stats.completed), (4, 4), "{stats:?}");
    handle.shutdown().await;
}

/// A restart during the inventory-levels operation resumes the backfill there: the products
/// (journaled before that operation started) are not queried again, which before 2026-01
/// Shopify would refuse while the levels operation runs, sending the backfill to paging.
#[tokio::test]
async fn a_backfill_interrupted_in_its_levels_phase_resumes_there() {
    let (sim, handle, _) = shop(60, 50).await;
    let (first, db, _d) = reconciler(&handle, "2025-10", 1_000).await;
    // The products operation runs at full speed; the levels one (3,000 inventory items, 20 a
    // page, 40 ms apart: about 6 s) is running when the process is gone.
    interrupted_at(first, &db, "levels", |r| {
        if r["query"] == "products" {
            sim.set_bulk_pacing(20, Duration::from_millis(40));
        }
    })
    .await;
    let products_journaled = db.counters(STORE).await.unwrap()["backfill_journaled"];
    assert_eq!(products_journaled, 60, "the products were journaled first");
    let op = sim.current_bulk_operation().unwrap();
    assert!(op.url.is_none(), "the levels operation still runs");

    let again = reconciler_on(&handle, "2025-10", 1_000, Duration::from_millis(20), &db);
    assert!(again.backfill_pending().await.unwrap());
    let report = again.poll_full().await.unwrap();
    assert_eq!(
        report.journaled, 3_000,
        "the levels, not the products again: {report:?}"
    );
    let stats = sim.bulk_stats();
    assert_eq!(
        (stats.created, stats.completed, stats.refused_in_progress),
        (2, 2, 0),
        "the levels operation adopted, the products one not started again: {stats:?}"
    );
    assert_eq!(paged_reads(&sim), 0, "no fallback to paging");
    assert!(!again.backfill_pending().await.unwrap());
    assert_eq!(
        db.watermark(STORE, "shopify:bulk-operation").await.unwrap(),
        Some(serde_json::Value::Null)
    );
    // Every document of the catalog is journaled once.
    assert_eq!(catalog(&db).await.len(), 60 + 3_000);
    handle.shutdown().await;
}
