//! `weft bench backfill`: the first sync of a catalog-scale Shopify shop through bulk query
//! operations, next to the paged read, and the lag of live price edits made while it runs.
//!
//! 1. **Read time.** A simulated shop on the standard plan (1,000 points, 100 points/s) holds
//!    `--variants` variants (10 per product, one inventory level each). weft's Shopify
//!    reconciler reads the whole catalog (products with their variants, then inventory levels)
//!    into an empty journal: once through bulk operations (the backfill), once by paging. The
//!    paged read is bound by the shop's budget, not by weft, so it is measured on
//!    `--paged-variants` variants and its time projected linearly (its points per variant are
//!    printed beside it); `--paged-variants` equal to `--variants` measures it in full.
//! 2. **Live edits during the backfill.** The real host (one store: the shop and a simulated
//!    NetSuite account, the stock mapper) starts against a shop holding the same catalog, so
//!    its first sync is a bulk backfill; `--edits` SKUs live in both systems. While the bulk
//!    operation runs (the simulator paced so its products pass lasts about a minute), the merchant changes
//!    their prices in Shopify; each edit's lag is the time until NetSuite holds the new price.
//! 3. **Live edits while the backfill's writes queue** (`--while-writes-queue`). Once the
//!    operation finished, its documents are processed and NetSuite, which lacks the catalog,
//!    gets one write per variant queued in the outbox. With at least [`QUEUED_BEFORE_EDITS`] of
//!    them waiting (half the variants in a smaller run), the merchant edits the same prices
//!    again, and each is waited for up to three minutes (a later one is counted, not
//!    measured). A live write is claimed before every backfill write (the engine's
//!    `BACKFILL_PRIORITY`); what still holds it is measured here: the echo of the first sync's
//!    writes (webhooks of the levels weft set, the products they touched read again by the
//!    reconciliation, all on the shop's one budget). Off by default: in the debug build the
//!    edits do not arrive within the three minutes yet (see ARCHITECTURE.md, "Not built yet").

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde_json::json;
use weft_engine::Timing;
use weft_platform::Poller;
use weft_ratelimit::ShopifyCostLimiter;
use weft_runtime::{Limits, Runtime, RuntimeConfig};
use weft_shopify::{Backfill, ShopifyClient, ShopifyConfig, ShopifyReconciler};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{PlanPreset, ShopifySim, VariantEdit};
use weft_store::Store;

use crate::app::{Host, StoreSetup};
use crate::demo::{
    API_VERSION, DemoOptions, NS_LOCATION, catalog_fields, connector_credentials, mapper_config,
};

/// Variants per product of the benchmark's catalog.
const VARIANTS_PER_PRODUCT: usize = 10;

/// The longest a live edit made while the bulk operation runs may take to reach NetSuite
/// before the benchmark fails.
const EDIT_WAIT: Duration = Duration::from_secs(60);

/// How long the edits made while the backfill's writes queue are waited for (a later one is
/// counted, not measured).
const QUEUED_EDIT_WAIT: Duration = Duration::from_secs(180);

/// How long the host is given to stop.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// Outbox rows the backfill must have queued before the second round of edits.
const QUEUED_BEFORE_EDITS: i64 = 1_000;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Variants in the shop.
    pub variants: usize,
    /// Variants the paged read is measured on (projected to `variants`).
    pub paged_variants: usize,
    /// Live price edits made while the bulk operation runs (0: skip the host run).
    pub edits: usize,
    /// Whether to edit them again once the operation finished, while the first sync's writes
    /// queue.
    pub while_writes_queue: bool,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            variants: 100_000,
            paged_variants: 2_000,
            edits: 10,
            while_writes_queue: false,
        }
    }
}

/// The figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillReport {
    /// Variants in the shop.
    pub variants: usize,
    /// Products in the shop.
    pub products: usize,
    /// Documents the bulk read journaled (products and inventory levels).
    pub bulk_documents: u64,
    /// Wall time of the bulk read: operations run, files downloaded, documents journaled.
    pub bulk_read_secs: f64,
    /// Bulk operations it ran.
    pub bulk_operations: u64,
    /// Query cost points the bulk read spent (starting and polling the operations).
    pub bulk_points: u64,
    /// Variants the paged read was measured on.
    pub paged_variants_measured: usize,
    /// Its wall time.
    pub paged_read_secs_measured: f64,
    /// Its points per variant.
    pub paged_points_per_variant: f64,
    /// The paged read's time for `variants`, projected linearly from the measured run.
    pub paged_read_secs_projected: f64,
    /// Projected paged time over bulk time.
    pub bulk_speedup: f64,
    /// Live price edits measured.
    pub live_edits: usize,
    /// Whether the bulk operation was still running when the last edit reached NetSuite.
    pub edits_during_bulk_operation: bool,
    /// Shopify edit -> NetSuite holds the price, median, milliseconds.
    pub live_edit_lag_p50_ms: f64,
    /// 99th percentile.
    pub live_edit_lag_p99_ms: f64,
    /// Maximum.
    pub live_edit_lag_max_ms: f64,
    /// Live price edits that reached NetSuite while the backfill's writes queued (after the
    /// operation), within three minutes.
    pub queued_edits: usize,
    /// Those that had not reached it after three minutes (not in the lags).
    pub queued_edits_late: usize,
    /// Writes waiting in the outbox when those edits began.
    pub queued_writes_at_edits: i64,
    /// Writes still waiting when the last of them reached NetSuite.
    pub queued_writes_after_edits: i64,
    /// Journal entries of the store not yet processed when those edits began (the edits'
    /// webhooks are processed after them, in journal order).
    pub journal_lag_at_edits: i64,
    /// Shopify edit -> NetSuite holds the price while the backfill's writes queue, median, ms.
    pub queued_edit_lag_p50_ms: f64,
    /// 99th percentile.
    pub queued_edit_lag_p99_ms: f64,
    /// Maximum.
    pub queued_edit_lag_max_ms: f64,
    /// Whether the host took longer than a minute to stop after the edits.
    pub host_stop_timed_out: bool,
    /// How long the host took to stop after the edits (at most the minute it is given).
    pub host_stop_secs: f64,
}

/// What the host run measured.
struct LiveEdits {
    during_operation: Vec<f64>,
    still_running: bool,
    while_queued: Vec<f64>,
    queued_late: usize,
    queued_before: i64,
    queued_after: i64,
    journal_lag: i64,
    stop_timed_out: bool,
    stop_secs: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn standard_shop(variants: usize) -> Result<(ShopifySim, weft_sim_shopify::SimHandle)> {
    let shop = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .plan(PlanPreset::Standard)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .map_err(|e| anyhow!("{e}"))?,
    );
    let handle = shop
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    shop.seed_catalog(
        variants.div_ceil(VARIANTS_PER_PRODUCT),
        VARIANTS_PER_PRODUCT,
    )
    .map_err(|e| anyhow!("{e}"))?;
    // The catalog predates the sync.
    shop.skew_clock(chrono::Duration::seconds(5));
    Ok((shop, handle))
}

/// One full read of a fresh shop into an empty journal: (documents, seconds, points).
async fn read_once(variants: usize, bulk: bool) -> Result<(u64, f64, u64, u64)> {
    let (shop, handle) = standard_shop(variants).await?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("weft.db").display()
    ))
    .await?;
    let mut config = ShopifyConfig::new(
        handle.base_url.clone(),
        API_VERSION,
        shop.config().access_tokens[0].clone(),
    );
    config.backfill = Backfill {
        bulk_above_variants: if bulk { 1 } else { u64::MAX },
        poll_every: Duration::from_millis(250),
        pace: None,
        ..Backfill::default()
    };
    let client = Arc::new(ShopifyClient::new(config, ShopifyCostLimiter::new())?);
    let poller = ShopifyReconciler::new("bench", "shopify", db, client, Duration::from_secs(5));
    let points_before = shop.stats().cost_charged;
    let started = Instant::now();
    let report = if bulk {
        poller.poll_full().await?
    } else {
        poller.poll().await?
    };
    let secs = started.elapsed().as_secs_f64();
    let points = shop.stats().cost_charged - points_before;
    let ops = shop.bulk_stats().completed;
    handle.shutdown().await;
    Ok((report.journaled, secs, points, ops))
}

/// Runs the benchmark.
pub async fn run(opts: BackfillOptions) -> Result<BackfillReport> {
    let products = opts.variants.div_ceil(VARIANTS_PER_PRODUCT);
    eprintln!("bench backfill: bulk read of {} variants", opts.variants);
    let (bulk_documents, bulk_read_secs, bulk_points, bulk_operations) =
        read_once(opts.variants, true).await.context("bulk read")?;
    eprintln!(
        "bench backfill: paged read of {} variants",
        opts.paged_variants
    );
    let paged_variants = opts
        .paged_variants
        .clamp(VARIANTS_PER_PRODUCT, opts.variants);
    let (_, paged_secs, paged_points, _) = read_once(paged_variants, false)
        .await
        .context("paged read")?;
    let projected = paged_secs * opts.variants as f64 / paged_variants as f64;
    let mut report = BackfillReport {
        variants: opts.variants,
        products,
        bulk_documents,
        bulk_read_secs,
        bulk_operations,
        bulk_points,
        paged_variants_measured: paged_variants,
        paged_read_secs_measured: paged_secs,
        paged_points_per_variant: paged_points as f64 / paged_variants as f64,
        paged_read_secs_projected: projected,
        bulk_speedup: projected / bulk_read_secs.max(f64::EPSILON),
        ..BackfillReport::default()
    };
    if opts.edits > 0 {
        let m = live_edits(&opts).await.context("live edits")?;
        let lags = &m.during_operation;
        report.live_edits = lags.len();
        report.edits_during_bulk_operation = m.still_running;
        report.live_edit_lag_p50_ms = percentile(lags, 0.5);
        report.live_edit_lag_p99_ms = percentile(lags, 0.99);
        report.live_edit_lag_max_ms = lags.last().copied().unwrap_or(0.0);
        let lags = &m.while_queued;
        report.queued_edits = lags.len();
        report.queued_edits_late = m.queued_late;
        report.queued_writes_at_edits = m.queued_before;
        report.queued_writes_after_edits = m.queued_after;
        report.journal_lag_at_edits = m.journal_lag;
        report.queued_edit_lag_p50_ms = percentile(lags, 0.5);
        report.queued_edit_lag_p99_ms = percentile(lags, 0.99);
        report.queued_edit_lag_max_ms = lags.last().copied().unwrap_or(0.0);
        report.host_stop_timed_out = m.stop_timed_out;
        report.host_stop_secs = m.stop_secs;
    }
    Ok(report)
}

/// The price NetSuite holds for `sku`.
fn erp_price(netsuite: &NetSuiteSim, sku: &str) -> Option<f64> {
    let rec = netsuite.record(RecordType::InventoryItem, &format!("eid:item-{sku}"))?;
    rec.get("basePrice").and_then(serde_json::Value::as_f64)
}

/// Sets each of `skus`' price in Shopify (`price(i)`), one after another without waiting,
/// and returns the sorted lags (ms) from each edit until NetSuite held its price, and how many
/// NetSuite did not hold within `wait`.
async fn edit_prices(
    shop: &ShopifySim,
    netsuite: &NetSuiteSim,
    skus: &[String],
    price: impl Fn(usize) -> f64,
    wait: Duration,
) -> Result<(Vec<f64>, usize)> {
    let mut edits = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        let price = price(i);
        let variant = shop
            .variant_by_sku(sku)
            .with_context(|| format!("{sku} not in the shop"))?;
        shop.edit_variant(
            variant,
            VariantEdit {
                price: Some(format!("{price:.2}")),
                ..VariantEdit::default()
            },
        )
        .map_err(|e| anyhow!("{e}"))?;
        edits.push((sku, price, Instant::now()));
    }
    let mut lags = Vec::new();
    let mut late = 0;
    while !edits.is_empty() {
        let mut waiting = Vec::new();
        for (sku, price, saved) in edits {
            if erp_price(netsuite, sku) == Some(price) {
                lags.push(saved.elapsed().as_secs_f64() * 1000.0);
            } else if saved.elapsed() > wait {
                late += 1;
            } else {
                waiting.push((sku, price, saved));
            }
        }
        edits = waiting;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lags.sort_by(f64::total_cmp);
    Ok((lags, late))
}

/// Writes waiting in `store_id`'s outbox.
async fn queued(db: &Store, store_id: &str) -> Result<i64> {
    Ok(db.status(store_id).await?.outbox.pending)
}

/// The real host syncing the catalog-scale shop with NetSuite; price edits in Shopify while
/// the backfill's bulk operation runs, then while its writes queue.
async fn live_edits(opts: &BackfillOptions) -> Result<LiveEdits> {
    let demo = DemoOptions {
        erp_push: false,
        drop_rate: 0.0,
        duplicate_rate: 0.0,
        reorder_ms: 0,
        ..DemoOptions::default()
    };
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("weft.db").display()
    ))
    .await?;
    // The precompiled-plugin cache outlives the run: compiling the stock plugins is not what
    // this measures (a debug build takes minutes for it).
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(std::env::temp_dir().join("weft-bench-plugin-cache")),
        ..RuntimeConfig::default()
    })?;
    let stock = |name: &str| -> Result<Arc<weft_runtime::Plugin>> {
        let bytes = weft_plugin_artifacts::stock(name)
            .ok_or_else(|| anyhow!("stock plugin {name} is not embedded in this build"))?;
        Ok(runtime.load(name, bytes)?)
    };
    let (mapper, owners, counter) = (
        stock("shopify-netsuite")?,
        stock("system-of-record")?,
        stock("counter-merge")?,
    );
    let (shop, sh) = standard_shop(opts.variants).await?;
    // The bulk operation writes 250 products a page, 1.5 s apart: 100,000 variants take a
    // minute, time for the edits to be made and measured while it runs (Shopify's own pace
    // for a bulk query is not published; a catalog this size takes minutes).
    let pages = opts.variants.div_ceil(VARIANTS_PER_PRODUCT * 250).max(1) as u32;
    shop.set_bulk_pacing(
        250,
        (Duration::from_secs(60) / pages).max(Duration::from_millis(50)),
    );
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(1)).map_err(|e| anyhow!("{e}"))?;
    let ns = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let location = *shop
        .location_ids()
        .first()
        .context("the Shopify simulator has no location")?;
    let skus: Vec<String> = (0..opts.edits).map(|k| format!("LIVE-{k:04}")).collect();
    for (k, sku) in skus.iter().enumerate() {
        let mut body = catalog_fields(sku, k);
        body["externalId"] = json!(format!("item-{sku}"));
        body["itemId"] = json!(sku);
        body["isInactive"] = json!(false);
        body["basePrice"] = json!(10.0);
        let id = netsuite
            .erp_create(RecordType::InventoryItem, body)
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(&id, NS_LOCATION, 50.0, Some("opening stock"))
            .map_err(|e| anyhow!("{e:?}"))?;
    }
    let store_id = "backfill";
    let creds = netsuite
        .credentials()
        .into_iter()
        .next()
        .map(connector_credentials)
        .context("the NetSuite simulator has no credentials")?;
    let mut plugin_config = mapper_config(location);
    plugin_config["owners"] =
        json!({ "*": "netsuite", "variant.title": "shopify", "customer.*": "shopify" });
    let setup = StoreSetup {
        id: store_id.into(),
        systems: crate::demo::sim_systems(
            &demo,
            store_id,
            &shop,
            &sh.base_url,
            &ns.base_url(),
            creds,
            &netsuite,
        ),
        mapper: mapper.into(),
        resolvers: vec![
            ("inventory-level.quantity".into(), counter.into()),
            ("*".into(), owners.into()),
        ],
        plugin_config: plugin_config.as_object().cloned().unwrap_or_default(),
        limits: Limits::default(),
        timing: Timing {
            poll_interval: Duration::from_secs(5),
            process_idle: Duration::from_millis(50),
            dispatch_idle: Duration::from_millis(50),
            ..Timing::default()
        },
        poll_overlap: Duration::from_secs(5),
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    };
    eprintln!("bench backfill: starting the host (plugins load first)");
    let host = Host::start(db.clone(), &runtime, vec![setup], "127.0.0.1:0".parse()?).await?;
    eprintln!("bench backfill: host started; waiting for the live SKUs to reach the shop");
    crate::demo::subscribe_shopify(
        &shop,
        &format!("http://{}/webhooks/shopify/{store_id}", host.addr),
    )?;

    // First contact of the live SKUs: NetSuite's items reach the shop while the backfill runs.
    host.poll_now();
    let deadline = Instant::now() + Duration::from_secs(120);
    while skus.iter().any(|s| shop.variant_by_sku(s).is_none()) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the live SKUs did not reach the shop in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let running = |shop: &ShopifySim| {
        shop.current_bulk_operation().is_some_and(|o| {
            matches!(
                o.status,
                weft_sim_shopify::bulk::BulkStatus::Created
                    | weft_sim_shopify::bulk::BulkStatus::Running
            )
        })
    };
    anyhow::ensure!(
        running(&shop),
        "the backfill's bulk operation was no longer running when the edits began"
    );
    eprintln!("bench backfill: editing prices while the bulk operation runs");
    let (during_operation, late) =
        edit_prices(&shop, &netsuite, &skus, |i| 20.0 + i as f64, EDIT_WAIT).await?;
    anyhow::ensure!(
        late == 0,
        "{late} edits made while the bulk operation ran did not reach NetSuite in {EDIT_WAIT:?}"
    );
    let still_running = running(&shop);
    let mut m = LiveEdits {
        during_operation,
        still_running,
        while_queued: Vec::new(),
        queued_late: 0,
        queued_before: 0,
        queued_after: 0,
        journal_lag: 0,
        stop_timed_out: false,
        stop_secs: 0.0,
    };
    if opts.while_writes_queue {
        let want = (opts.variants as i64 / 2).clamp(1, QUEUED_BEFORE_EDITS);
        eprintln!("bench backfill: waiting for {want} of the backfill's writes to queue");
        // Past the deadline the edits go on with whatever waits (the figure says how many):
        // the NetSuite writes may keep pace with the processing on a fast machine.
        let deadline = Instant::now() + Duration::from_secs(600);
        while (running(&shop) || queued(&db, store_id).await? < want) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        m.queued_before = queued(&db, store_id).await?;
        m.journal_lag = db.status(store_id).await?.lag;
        eprintln!(
            "bench backfill: editing prices while {} writes queue",
            m.queued_before
        );
        (m.while_queued, m.queued_late) = edit_prices(
            &shop,
            &netsuite,
            &skus,
            |i| 40.0 + i as f64,
            QUEUED_EDIT_WAIT,
        )
        .await?;
        m.queued_after = queued(&db, store_id).await?;
    }
    // A store whose loops wait on the shop's spent budget may take long to stop; the figures
    // are in hand.
    let stopping = Instant::now();
    m.stop_timed_out = tokio::time::timeout(STOP_WAIT, host.stop()).await.is_err();
    m.stop_secs = stopping.elapsed().as_secs_f64();
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
