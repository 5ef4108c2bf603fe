//! `weft demo --source sheet`: a Google Sheet as the catalog, price and stock source of a
//! Shopify shop (what Sheet2Cart does on a schedule, here within seconds and both ways).
//!
//! A simulated person edits the sheet at a person's pace (prices, titles, descriptions, stock
//! counts, typos such as `abc` and `12,5` in a price, rows added, blank rows inserted, rows
//! deleted, the table re-sorted, a column moved, a header renamed and later put back) while the
//! merchant edits prices in Shopify and shoppers buy (Shopify's webhooks dropped, duplicated and
//! reordered as in `weft demo`). The store has no ERP, so stock has no owner: quantities are
//! counters, and a sale in Shopify and a count typed in the sheet both count
//! (`counter-merge`). Each typo must show in its row's status column, in words, and in the
//! report; then the person fixes them and everything settles.
//!
//! Verification reads both systems afresh, maps them with the store's mapper and compares them
//! field by field (`drift`), checks each SKU is one Shopify variant (no duplicates), each
//! removed row archived in Shopify (never deleted), each row's status `synced`, and each SKU's
//! stock on both sides against the run's own ledger (opening + counts the person added − units
//! sold). It also measures the lag from a sheet edit to the Shopify write (p50/p99) and counts
//! the sheet's 429 answers after the warm-up (the initial sync).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};
use weft_config::Secret;
use weft_engine::Timing;
use weft_ratelimit::ShopifyCostLimiter;
use weft_runtime::types::PlatformDoc;
use weft_runtime::{Limits, MapperInstance, Runtime, RuntimeConfig, StoreCtx};
use weft_sheets::config::{Layout, SheetsSettings};
use weft_sheets::{QuotaLimiter, ServiceAccountKey, SheetsClient, TokenSource};
use weft_shopify::{Entity, ShopifyClient, ShopifyConfig};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_sheets::SheetsSim;
use weft_sim_shopify::{
    ChaosConfig, CustomerFields, NewOrder, NewOrderLine, ShopifySim, VariantEdit,
};
use weft_store::Store;

use crate::app::{Host, StoreSetup};
use crate::demo::{
    Canon, DemoOptions, NS_LOCATION, StockLedger, Verification, canonical, compare, drift, kind,
    say,
};
use crate::platforms;

/// The Google Sheets platform's name.
pub const SHEETS_PLATFORM: &str = weft_sheets::PLATFORM;
/// The sheet's system name in the demo store.
pub const SHEET: &str = "sheet";
/// The sheet (tab) the demo's products are on.
pub const TAB: &str = "Products";
const STORE: &str = "sheet-store";
const API_VERSION: &str = "2026-04";
/// The canonical location the sheet's Stock column and the shop's location count.
const LOCATION: &str = "1";
const OPENING_STOCK: i64 = 40;
/// The demo sheet's headers (the connector's defaults).
const HEADERS: [&str; 7] = [
    "SKU",
    "Title",
    "Description",
    "Price",
    "Compare at price",
    "Stock",
    "Active",
];

/// Where a demo's catalog comes from (`weft demo --source`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The ERP (NetSuite), the main demo.
    #[default]
    Erp,
    /// A Google Sheet edited by a person ([`run`]).
    Sheet,
}

/// The ERP of a sheet demo's store (`weft demo --source sheet --erp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Erp {
    /// NetSuite: it owns the stock; the sheet and Shopify show what it can sell.
    Netsuite,
}

/// `weft demo --source sheet`: runs, prints the report (`json`: one JSON object on the last
/// line) and answers the exit code (failure unless [`SheetDemoReport::passed`]).
pub async fn main(
    opts: DemoOptions,
    erp: Option<Erp>,
    json: bool,
) -> Result<std::process::ExitCode> {
    let report = run_with(opts, erp).await?;
    if json {
        crate::outln!("{}", serde_json::to_string(&report)?);
    } else {
        let v = serde_json::to_value(&report)?;
        crate::outln!("weft demo --source sheet report");
        if let Some(m) = v.as_object() {
            for (k, v) in m {
                if !matches!(
                    k.as_str(),
                    "drift_details"
                        | "dead_letter_details"
                        | "stock_details"
                        | "typo_details"
                        | "drift_lineage"
                ) {
                    crate::outln!("  {k:>24}  {v}");
                }
            }
        }
        for t in &report.typo_details {
            crate::outln!(
                "  typo: {} {} {:?} -> status {:?}",
                t.sku,
                t.column,
                t.typed,
                t.status
            );
        }
        for d in &report.dead_letter_details {
            crate::outln!("  dead letter: {d}");
        }
        for d in &report.drift_details {
            crate::outln!("  drift: {d}");
        }
        for d in &report.drift_lineage {
            crate::outln!("  lineage: {d}");
        }
        for d in &report.stock_details {
            crate::outln!("  stock ledger: {d}");
        }
        crate::outln!(
            "{}",
            if report.passed() {
                if report.erp.is_some() {
                    "the sheet, Shopify and NetSuite agree: drift 0, stock ledger balanced, every order one sales order, every typo reported, nothing throttled after warm-up"
                } else {
                    "the sheet and Shopify agree: drift 0, stock ledger balanced, every typo reported, nothing throttled after warm-up"
                }
            } else {
                "FAILED: see above"
            }
        );
    }
    Ok(if report.passed() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// One typo and what weft said about it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TypoReport {
    /// The row's key.
    pub sku: String,
    /// The column.
    pub column: String,
    /// What the person typed.
    pub typed: String,
    /// What the row's status column showed before the person fixed it.
    pub status: String,
    /// Whether the status named the typo in words.
    pub reported: bool,
}

/// Lag from a sheet edit to the storefront write, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Lag {
    /// Edits measured (seen in Shopify with the value typed).
    pub samples: usize,
    /// Edits overtaken by a later edit of the same cell, or by a storefront edit, before they
    /// were seen.
    pub unmeasured: usize,
    /// Median.
    pub p50_ms: u64,
    /// 99th percentile.
    pub p99_ms: u64,
    /// Longest.
    pub max_ms: u64,
}

/// The report of `weft demo --source sheet`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SheetDemoReport {
    /// Seed used.
    pub seed: u64,
    /// The store's ERP (`netsuite`), if it has one: it owns the stock.
    pub erp: Option<String>,
    /// Rows the sheet started with.
    pub items: usize,
    /// Events generated (sheet edits + storefront events).
    pub events: usize,
    /// Edits the person made in the sheet.
    pub sheet_edits: usize,
    /// Of which cells retyped (price, title, description, compare-at price, active).
    pub cell_edits: usize,
    /// Of which stock counts changed.
    pub stock_edits: usize,
    /// Of which typos.
    pub typos: usize,
    /// Of which complete rows added.
    pub rows_added: usize,
    /// Of which blank rows inserted.
    pub rows_inserted: usize,
    /// Of which rows deleted (the store archives them in Shopify).
    pub rows_deleted: usize,
    /// Of which re-sorts of the table.
    pub resorts: usize,
    /// Of which columns moved.
    pub columns_moved: usize,
    /// Of which headers renamed (and later put back).
    pub headers_renamed: usize,
    /// Merchant edits and sales in Shopify.
    pub storefront_events: usize,
    /// Orders placed in Shopify.
    pub orders: usize,
    /// Price changes and stock receipts in the ERP.
    pub erp_events: usize,
    /// Shopify orders that are exactly one NetSuite sales order (with an ERP).
    pub orders_matched: usize,
    /// Stock counts typed in the sheet (or changed in Shopify) that the ERP's stock wrote
    /// back (with an ERP).
    pub stock_overridden: i64,
    /// Typos whose row status named them in words (the rest is drift).
    pub typos_reported: usize,
    /// Each typo, what weft wrote in its row's status column.
    pub typo_details: Vec<TypoReport>,
    /// Removed rows found archived in Shopify (not deleted).
    pub rows_archived: usize,
    /// Removed rows that never reached Shopify (added and removed by the person before weft
    /// read them; not in Shopify when removed, nor after).
    pub rows_never_synced: usize,
    /// Records compared between the sheet and Shopify.
    pub records_compared: usize,
    /// Fields that differ, records on one side only, SKUs on more than one Shopify variant,
    /// removed rows not archived, rows whose status is not `synced`, typos not reported.
    pub drift: usize,
    /// The first differences.
    pub drift_details: Vec<String>,
    /// The lineage of the first records that differ (see `DemoReport::drift_lineage`).
    pub drift_lineage: Vec<String>,
    /// SKUs whose stock on either side is not the ledger's (opening + counts added in the
    /// sheet − units sold in Shopify).
    pub stock_mismatches: usize,
    /// The first stock mismatches.
    pub stock_details: Vec<String>,
    /// Lag from a sheet edit (price or title) to Shopify showing it.
    pub lag: Lag,
    /// Requests the sheet answered (reads, writes).
    pub sheet_reads: u64,
    /// Write requests the sheet answered.
    pub sheet_writes: u64,
    /// 429s from the sheet, in all.
    pub throttled: u64,
    /// 429s from the sheet and Shopify after the warm-up (the initial sync).
    pub throttled_after_warmup: u64,
    /// Field conflicts the resolvers settled.
    pub conflicts_resolved: i64,
    /// Writes applied to the sheet and Shopify.
    pub writes_applied: i64,
    /// Dead letters left.
    pub dead_letters: i64,
    /// The first dead letters.
    pub dead_letter_details: Vec<String>,
    /// Seconds of each phase: initial sync, events, typos shown, settling, verifying.
    pub phase_seconds: BTreeMap<String, f64>,
    /// Wall time of the whole run.
    pub seconds: f64,
}

impl SheetDemoReport {
    /// Whether the run shows what the demo must show.
    pub fn passed(&self) -> bool {
        self.drift == 0
            && self.stock_mismatches == 0
            && self.typos_reported == self.typos
            && self.throttled_after_warmup == 0
            && self.dead_letters == 0
            && (self.erp.is_none() || self.orders_matched == self.orders)
    }
}

/// A cell: `(sku, field)`.
type Cell = (String, &'static str);
/// Edits of a cell waiting to show in Shopify: cell → (value, when typed).
type Pending = Arc<Mutex<HashMap<Cell, (String, Instant)>>>;

struct Run {
    shopify: ShopifySim,
    sheets: SheetsSim,
    book: String,
    shopify_url: String,
    location: u64,
    /// SKUs on the sheet that later events may pick.
    live: Vec<String>,
    /// Rows removed from the sheet, and whether Shopify had them then.
    deleted: BTreeMap<String, bool>,
    /// Opening + counts the person added − units sold, per SKU.
    ledger: BTreeMap<String, i64>,
    /// Rows holding a typo not fixed yet: sku → (column, what was typed, the good value).
    typos: BTreeMap<String, (String, String, String)>,
    pending: Pending,
    lags: Arc<Mutex<Vec<u64>>>,
    unmeasured: Arc<Mutex<usize>>,
    renamed: Option<(String, String)>,
    n: usize,
    /// The store's ERP, when it has one.
    erp: Option<ErpSide>,
}

/// NetSuite in a sheet demo's store: it owns the stock, so the stock ledger is its own.
struct ErpSide {
    netsuite: NetSuiteSim,
    url: String,
    /// Shopify customers the orders are placed for.
    customers: Vec<u64>,
    /// Shopify orders placed.
    orders: Vec<u64>,
    /// Per SKU: NetSuite's item (its id filled in once weft created it) and what moved its
    /// stock.
    stock: BTreeMap<String, StockLedger>,
}

impl Run {
    fn retype(
        &self,
        sku: &str,
        header: &str,
        f: impl FnOnce(&str) -> String,
    ) -> Result<Option<String>> {
        self.sheets
            .retype(&self.book, Some(TAB), "SKU", sku, header, f)
            .map_err(|e| anyhow!("{e:?}"))
    }

    /// The header a field's column has now (renamed while the person has it renamed).
    fn header(&self, h: &str) -> String {
        match &self.renamed {
            Some((from, to)) if from == h => to.clone(),
            _ => h.to_owned(),
        }
    }

    fn expect_in_shopify(&self, sku: &str, field: &'static str, value: String) {
        if let Some(old) = self
            .pending
            .lock()
            .insert((sku.to_owned(), field), (value, Instant::now()))
        {
            let _ = old;
            *self.unmeasured.lock() += 1;
        }
    }
}

fn money(rng: &mut ChaCha8Rng) -> String {
    let cents = rng.random_range(500..9000);
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The store's mapper config.
fn mapper_config(location: u64) -> Value {
    json!({
        "locations": { location.to_string(): LOCATION },
        "sheet_location": LOCATION,
        // The sheet is the merchant's master: it wins a conflict on any field; a one-sided
        // change in Shopify is taken (and written back to the sheet).
        "owners": { "*": SHEET },
    })
}

/// The store's mapper config with NetSuite: the main demo's (locations, order items), the
/// sheet's stock at NetSuite's location, and the sheet as the catalog's master (it wins a
/// conflict on any catalog field; a one-sided change in Shopify or NetSuite is taken and
/// written back to the sheet); customers are Shopify's. NetSuite owns the stock by the
/// store's stock policy (its ERP), not by this map.
fn erp_mapper_config(location: u64) -> Value {
    let mut c = crate::demo::mapper_config(location);
    c["sheet_location"] = json!(NS_LOCATION);
    c["owners"] = json!({ "*": SHEET, "customer.*": weft_shopify::PLATFORM });
    c
}

/// The sheet system's settings for the simulator at `base_url`.
fn sheet_settings(book: &str, base_url: &str) -> Result<SheetsSettings> {
    Ok(SheetsSettings {
        spreadsheet_id: book.to_owned(),
        sheet: Some(TAB.to_owned()),
        service_account: Secret::value("demo key"),
        layout: Layout::default(),
        token_url: None,
        base_url: base_url.parse()?,
        reads_per_minute: 50,
        writes_per_minute: 50,
        delete_after_rounds: 2,
    })
}

/// Runs the sheet demo (a sheet and a Shopify shop).
pub async fn run(opts: DemoOptions) -> Result<SheetDemoReport> {
    run_with(opts, None).await
}

/// NetSuite's internal id of the item weft created for `sku`, once it exists.
fn erp_item_id(netsuite: &NetSuiteSim, sku: &str) -> Option<String> {
    netsuite
        .records(RecordType::InventoryItem)
        .into_iter()
        .find(|r| r["itemId"] == json!(sku))
        .and_then(|r| match &r["id"] {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
}

/// Runs the sheet demo; with `erp`, the store has that ERP too (a sheet, a Shopify shop and
/// NetSuite): weft creates the sheet's rows as NetSuite items, NetSuite owns the stock (the
/// warehouse counts the opening stock and receives more there), the sheet and Shopify show
/// what it can sell, each Shopify order becomes one sales order, and prices changed in
/// NetSuite reach the sheet.
pub async fn run_with(opts: DemoOptions, erp: Option<Erp>) -> Result<SheetDemoReport> {
    let started = Instant::now();
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = match &opts.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => tmp.path().to_owned(),
    };
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("weft.db").display()
    ))
    .await
    .context("cannot open the demo database")?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
        ..RuntimeConfig::default()
    })?;
    let stock = |name: &str| -> Result<Arc<weft_runtime::Plugin>> {
        let bytes = weft_plugin_artifacts::stock(name)
            .ok_or_else(|| anyhow!("stock plugin {name} is not embedded in this build"))?;
        Ok(runtime.load(name, bytes)?)
    };
    let mapper = stock("shopify-netsuite")?;
    let owners = stock("system-of-record")?;
    let counter = stock("counter-merge")?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);

    say(&opts, "starting simulators (Google Sheets and Shopify)");
    let shopify = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(opts.seed)
            .chaos(ChaosConfig {
                drop_rate: opts.drop_rate,
                duplicate_rate: opts.duplicate_rate,
                reorder_window_ms: opts.reorder_ms,
                late_rate: opts.late_rate,
                ..ChaosConfig::default()
            })
            .time_compression(3600.0)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .map_err(|e| anyhow!("{e}"))?,
    );
    let shopify_handle = shopify
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let sheets = SheetsSim::new(weft_sim_sheets::SimConfig {
        seed: opts.seed,
        ..weft_sim_sheets::SimConfig::default()
    });
    let sheets_handle = sheets.serve_local().await?;
    let netsuite = match erp {
        Some(Erp::Netsuite) => {
            say(&opts, "starting the NetSuite simulator (it owns the stock)");
            let sim = NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(opts.seed))
                .map_err(|e| anyhow!("{e}"))?;
            let server = sim
                .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
                .await?;
            Some((sim, server))
        }
        None => None,
    };
    let location = *shopify
        .location_ids()
        .first()
        .context("the Shopify simulator has no location")?;
    let book = sheets.create_spreadsheet("Catalog", &[(TAB, 200, 12)]);
    let mut rows: Vec<Vec<String>> = vec![HEADERS.iter().map(|h| (*h).to_owned()).collect()];
    let mut ledger = BTreeMap::new();
    let mut live = Vec::new();
    for k in 0..opts.items {
        let sku = format!("P-{k:04}");
        let price = format!("{}.{}0", 10 + k, k % 10);
        let compare = if k % 3 == 0 {
            format!("{}", 20 + k)
        } else {
            String::new()
        };
        rows.push(vec![
            sku.clone(),
            format!("Product {k}"),
            format!("About product {k}"),
            price,
            compare,
            OPENING_STOCK.to_string(),
            "TRUE".into(),
        ]);
        ledger.insert(sku.clone(), OPENING_STOCK);
        live.push(sku);
    }
    let typed: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    sheets
        .type_values(&book, &format!("{TAB}!A1"), &typed)
        .map_err(|e| anyhow!("{e:?}"))?;
    let key_json = sheets
        .service_account_json(None)
        .context("the sheets simulator has no service account")?
        .to_string();

    let plugin_config = match &netsuite {
        Some(_) => erp_mapper_config(location),
        None => mapper_config(location),
    };
    let sheet_system = platforms::sheets_system(
        SHEET,
        &sheet_settings(&book, &sheets_handle.base_url)?,
        &key_json,
    )?;
    let mut systems = match &netsuite {
        Some((sim, server)) => {
            let creds = sim
                .credentials()
                .into_iter()
                .next()
                .map(crate::demo::connector_credentials)
                .context("the NetSuite simulator has no credentials")?;
            crate::demo::sim_systems(
                &opts,
                STORE,
                &shopify,
                &shopify_handle.base_url,
                &server.base_url(),
                creds,
                sim,
            )
        }
        None => vec![platforms::shopify_system(
            weft_shopify::PLATFORM,
            &shopify.config().shop_domain,
            &shopify_handle.base_url,
            API_VERSION,
            &shopify.config().access_tokens[0],
            shopify
                .config()
                .client_secrets
                .iter()
                .map(|x| x.as_bytes().to_vec())
                .collect(),
        )],
    };
    systems.push(sheet_system);
    let setup = StoreSetup {
        id: STORE.into(),
        systems,
        mapper: mapper.clone().into(),
        resolvers: vec![
            ("inventory-level.quantity".into(), counter.clone().into()),
            ("*".into(), owners.clone().into()),
        ],
        plugin_config: plugin_config.as_object().cloned().unwrap_or_default(),
        limits: Limits::default(),
        timing: Timing {
            // A round is one read (and a status write one more): 3 s leaves room in Google's 60
            // reads a minute for the write batches, which read the sheet to find their rows.
            poll_interval: Duration::from_secs(3),
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
    let host = Host::start(db.clone(), &runtime, vec![setup], "127.0.0.1:0".parse()?).await?;
    let url = format!("http://{}/webhooks/shopify/{STORE}", host.addr);
    crate::demo::subscribe_shopify(&shopify, &url)?;
    if let Some((sim, _)) = &netsuite {
        crate::demo_push::deploy(&opts, sim, host.addr, STORE);
    }

    say(
        &opts,
        if netsuite.is_some() {
            "initial sync: the sheet's catalog to Shopify and NetSuite"
        } else {
            "initial sync: the sheet's catalog to Shopify"
        },
    );
    host.poll_now();
    settle(&host, &shopify, &opts).await?;
    for sku in &live {
        anyhow::ensure!(
            shopify.variant_by_sku(sku).is_some(),
            "the initial sync did not create {sku} in Shopify"
        );
    }
    let erp_side = match &netsuite {
        Some((sim, server)) => {
            // NetSuite owns the stock: the warehouse counts the opening stock there, and the
            // sheet and Shopify are written what it can sell.
            say(&opts, "the warehouse counts the opening stock in NetSuite");
            let mut stock = BTreeMap::new();
            for sku in &live {
                let item_id = erp_item_id(sim, sku).with_context(|| {
                    format!("the initial sync did not create {sku} in NetSuite")
                })?;
                sim.erp_adjust_inventory(
                    &item_id,
                    NS_LOCATION,
                    OPENING_STOCK as f64,
                    Some("opening count"),
                )
                .map_err(|e| anyhow!("{e:?}"))?;
                stock.insert(
                    sku.clone(),
                    StockLedger {
                        item_id,
                        received: OPENING_STOCK,
                        ..StockLedger::default()
                    },
                );
            }
            let mut customers = Vec::new();
            for k in 0..3 {
                customers.push(
                    shopify
                        .create_customer(CustomerFields {
                            email: Some(format!("buyer{k}@sheet-store.example")),
                            first_name: Some(format!("Buyer{k}")),
                            last_name: Some("Demo".into()),
                            ..CustomerFields::default()
                        })
                        .map_err(|e| anyhow!("{e}"))?,
                );
            }
            settle(&host, &shopify, &opts).await?;
            Some(ErpSide {
                netsuite: sim.clone(),
                url: server.base_url(),
                customers,
                orders: Vec::new(),
                stock,
            })
        }
        None => None,
    };
    let warm = sheets.now_ms();
    let mut phases: BTreeMap<String, f64> = BTreeMap::new();
    let mut mark = started;
    let mut phase = |name: &str| {
        phases.insert(name.to_owned(), mark.elapsed().as_secs_f64());
        mark = Instant::now();
    };
    phase("initial_sync");
    let shopify_throttled_before = shopify_throttled(&shopify);

    let mut run = Run {
        shopify: shopify.clone(),
        sheets: sheets.clone(),
        book: book.clone(),
        shopify_url: shopify_handle.base_url.clone(),
        location,
        live,
        deleted: BTreeMap::new(),
        ledger,
        typos: BTreeMap::new(),
        pending: Arc::default(),
        lags: Arc::default(),
        unmeasured: Arc::default(),
        renamed: None,
        n: 0,
        erp: erp_side,
    };
    let watcher = watch_lag(shopify.clone(), run.pending.clone(), run.lags.clone());
    let mut report = SheetDemoReport {
        seed: opts.seed,
        erp: run.erp.as_ref().map(|_| weft_netsuite::PLATFORM.to_owned()),
        items: opts.items,
        events: opts.events,
        ..SheetDemoReport::default()
    };

    say(
        &opts,
        &format!(
            "{} events: a person editing the sheet, a merchant and shoppers in Shopify",
            opts.events
        ),
    );
    let rename_at = opts.events / 3;
    let restore_at = opts.events / 2;
    for n in 0..opts.events {
        run.n = n;
        if n == rename_at {
            // The person renames a column; weft stops reading the sheet (it would blank that
            // field everywhere) and says why, until the header is back.
            let (from, to) = ("Description".to_owned(), "Details".to_owned());
            if sheets
                .rename_header(&book, Some(TAB), &from, &to)
                .map_err(|e| anyhow!("{e:?}"))?
            {
                run.renamed = Some((from, to));
                report.headers_renamed += 1;
                report.sheet_edits += 1;
            }
        } else if n == restore_at
            && let Some((from, to)) = run.renamed.take()
        {
            sheets
                .rename_header(&book, Some(TAB), &to, &from)
                .map_err(|e| anyhow!("{e:?}"))?;
        } else if rng.random_bool(0.6) {
            report.sheet_edits += 1;
            person_edit(&mut run, &mut rng, &mut report)?;
        } else if run.erp.is_some() && rng.random_bool(0.3) {
            report.erp_events += 1;
            erp_event(&mut run, &mut rng)?;
        } else {
            report.storefront_events += 1;
            storefront_event(&mut run, &mut rng, &mut report)?;
        }
        // A person's pace: a few edits a second at most.
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..400))).await;
    }
    if let Some((from, to)) = run.renamed.take() {
        sheets
            .rename_header(&book, Some(TAB), &to, &from)
            .map_err(|e| anyhow!("{e:?}"))?;
    }

    phase("events");
    say(&opts, "waiting for each typo to show in its row's status");
    let typo_deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let statuses = status_column(&sheets, &book)?;
        let all = run.typos.keys().all(|sku| {
            statuses
                .get(sku)
                .is_some_and(|s| !s.is_empty() && s != weft_sheets::status::SYNCED)
        });
        if all || Instant::now() > typo_deadline {
            for (sku, (column, typed, _)) in &run.typos {
                let status = statuses.get(sku).cloned().unwrap_or_default();
                let reported =
                    status.contains(&format!("'{typed}'")) && status.contains("is not a number");
                report.typos_reported += usize::from(reported);
                report.typo_details.push(TypoReport {
                    sku: sku.clone(),
                    column: column.clone(),
                    typed: typed.clone(),
                    status,
                    reported,
                });
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    phase("typos_shown");
    say(&opts, "the person fixes the typos");
    for (sku, (column, _, good)) in std::mem::take(&mut run.typos) {
        let header = run.header(&column);
        run.retype(&sku, &header, |_| good.clone())?;
    }

    say(&opts, "letting polls and writes settle");
    settle(&host, &shopify, &opts).await?;
    watcher.abort();
    phase("settle");

    // Throttling after the warm-up, counted before the verifier's own reads.
    report.throttled_after_warmup = sheets
        .requests()
        .iter()
        .filter(|r| r.status == 429 && r.at_ms > warm)
        .count() as u64
        + shopify_throttled(&shopify).saturating_sub(shopify_throttled_before);
    // Settled: the host stops, so the verifier reads with the sheet's and the shop's budgets to
    // itself.
    host.stop().await;
    say(&opts, "verifying the sheet against Shopify field by field");
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: {
            let mut c = plugin_config.as_object().cloned().unwrap_or_default();
            c.insert(
                "weft:systems".into(),
                if run.erp.is_some() {
                    json!({
                        SHEET: weft_sheets::PLATFORM,
                        "shopify": weft_shopify::PLATFORM,
                        "netsuite": weft_netsuite::PLATFORM,
                    })
                } else {
                    json!({ SHEET: weft_sheets::PLATFORM, "shopify": weft_shopify::PLATFORM })
                },
            );
            c
        },
        limits: Limits::default(),
    };
    let m = runtime.mapper(&mapper, ctx)?;
    if let Some(e) = &mut run.erp {
        for (sku, l) in e.stock.iter_mut() {
            if l.item_id.is_empty()
                && let Some(id) = erp_item_id(&e.netsuite, sku)
            {
                l.item_id = id;
            }
        }
    }
    let v = verify(&run, &sheets_handle.base_url, &key_json, &m, &mut report).await?;
    let mut drifted = v.drifted;
    if let Some(e) = &run.erp {
        say(
            &opts,
            "verifying Shopify against NetSuite, orders and NetSuite's stock",
        );
        let sv = crate::demo::verify_store(
            &run.shopify,
            &run.shopify_url,
            &e.netsuite,
            &e.url,
            &e.orders,
            &m,
        )
        .await?;
        report.orders_matched = sv.orders_matched;
        report.records_compared += sv.records_compared;
        report.drift += sv.drift;
        report.drift_details.extend(sv.drift_details);
        drifted.extend(sv.drifted);
        let lv = crate::demo::verify_stock(&run.shopify, &e.netsuite, run.location, &e.stock);
        report.stock_mismatches += lv.drift;
        report.stock_details.extend(lv.drift_details);
    }
    report.records_compared = v.records_compared;
    report.drift += v.drift;
    report.drift_details.extend(v.drift_details);
    report.drift_lineage = crate::demo::drift_lineage(&db, STORE, &drifted).await;
    for t in &report.typo_details {
        if !t.reported {
            report.drift += 1;
            report.drift_details.push(format!(
                "typo {:?} in {} of {}: the status said {:?}",
                t.typed, t.column, t.sku, t.status
            ));
        }
    }

    let lags = run.lags.lock().clone();
    report.lag = lag_summary(lags, *run.unmeasured.lock() + run.pending.lock().len());
    let status = db.status(STORE).await?;
    let c = |k: &str| status.counters.get(k).copied().unwrap_or(0);
    report.conflicts_resolved = c("conflicts_resolved");
    report.writes_applied = c("writes_applied");
    report.stock_overridden = c("stock_overridden");
    report.dead_letters = status.outbox.dead;
    for d in db.list_dead_letters(Some(STORE), 20).await? {
        report.dead_letter_details.push(format!(
            "{} {}/{} {}: {}",
            d.system,
            d.kind,
            d.key,
            d.op,
            d.last_error.unwrap_or_default()
        ));
    }
    let stats = sheets.stats();
    report.sheet_reads = stats["reads"].as_u64().unwrap_or(0);
    report.sheet_writes = stats["writes"].as_u64().unwrap_or(0);
    report.throttled = sheets.throttled();
    phase("verify");
    report.phase_seconds = phases;
    shopify_handle.shutdown().await;
    sheets_handle.shutdown().await;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn shopify_throttled(shopify: &ShopifySim) -> u64 {
    let s = shopify.stats();
    s.throttled_graphql + s.throttled_rest
}

/// One edit by the person editing the sheet.
fn person_edit(run: &mut Run, rng: &mut ChaCha8Rng, report: &mut SheetDemoReport) -> Result<()> {
    if run.live.is_empty() {
        return Ok(());
    }
    let sku = run.live[rng.random_range(0..run.live.len())].clone();
    let typo_free = !run.typos.contains_key(&sku);
    match rng.random_range(0..100) {
        0..25 if typo_free => {
            let price = money(rng);
            if run
                .retype(&sku, &run.header("Price"), |_| price.clone())?
                .is_some()
            {
                report.cell_edits += 1;
                run.expect_in_shopify(&sku, "price", price);
            }
        }
        25..35 => {
            let title = format!("Product {sku} v{}", run.n);
            if run
                .retype(&sku, &run.header("Title"), |_| title.clone())?
                .is_some()
            {
                report.cell_edits += 1;
                // A row holding a typo waits for its fix: its edits are no lag samples.
                if typo_free {
                    run.expect_in_shopify(&sku, "title", title);
                }
            }
        }
        35..42 => {
            let text = format!("Described again at {}", run.n);
            if run
                .retype(&sku, &run.header("Description"), |_| text)?
                .is_some()
            {
                report.cell_edits += 1;
            }
        }
        42..47 => {
            let price = money(rng);
            if run
                .retype(&sku, &run.header("Compare at price"), |_| price)?
                .is_some()
            {
                report.cell_edits += 1;
            }
        }
        47..65 if typo_free => {
            // A stock count: the person adds what arrived (or takes off what broke).
            let delta = rng.random_range(-3..12i64);
            let mut moved = None;
            let typed = run.retype(&sku, &run.header("Stock"), |shown| {
                let now = shown.trim().parse::<i64>().unwrap_or(0);
                moved = Some(delta);
                (now + delta).to_string()
            })?;
            if typed.is_some()
                && let Some(d) = moved
            {
                // With an ERP the count is not the sheet's to make: NetSuite's stock is
                // written back over it (`stock_overridden`), so the ledger does not move.
                if run.erp.is_none() {
                    *run.ledger.entry(sku.clone()).or_default() += d;
                }
                report.stock_edits += 1;
            }
        }
        65..73 if typo_free => {
            let (column, typed) = if rng.random_bool(0.5) {
                ("Price", "abc".to_owned())
            } else {
                (
                    "Price",
                    format!("{},{}", rng.random_range(1..60), rng.random_range(1..10)),
                )
            };
            let mut good = String::new();
            let t = typed.clone();
            if run
                .retype(&sku, &run.header(column), |shown| {
                    good = shown.to_owned();
                    t
                })?
                .is_some()
            {
                report.typos += 1;
                // Edits of this row not seen yet wait for the fix: no lag samples.
                let mut pending = run.pending.lock();
                let before = pending.len();
                pending.retain(|(s, _), _| *s != sku);
                *run.unmeasured.lock() += before - pending.len();
                drop(pending);
                run.typos.insert(sku, (column.into(), typed, good));
            }
        }
        73..79 => {
            let new = format!("N-{}", run.n);
            let row = run
                .sheets
                .values(&run.book, &format!("{TAB}!A:A"))
                .map_err(|e| anyhow!("{e:?}"))?
                .len()
                + 1;
            let cells = [
                new.clone(),
                format!("New product {}", run.n),
                String::new(),
                money(rng),
                String::new(),
                "5".into(),
                "TRUE".into(),
            ];
            // Typed in the sheet's column order (the person reads the headers).
            let headers = current_headers(run)?;
            let typed: Vec<&str> = headers
                .iter()
                .map(|h| {
                    let field = match &run.renamed {
                        Some((from, to)) if to == h => from.as_str(),
                        _ => h.as_str(),
                    };
                    HEADERS
                        .iter()
                        .position(|x| *x == field)
                        .map_or("", |i| cells[i].as_str())
                })
                .collect();
            run.sheets
                .type_values(&run.book, &format!("{TAB}!A{row}"), &[typed])
                .map_err(|e| anyhow!("{e:?}"))?;
            match &mut run.erp {
                // NetSuite has none of it yet: the sheet is written what NetSuite can sell.
                Some(e) => {
                    e.stock.insert(new.clone(), StockLedger::default());
                }
                None => {
                    run.ledger.insert(new.clone(), 5);
                }
            }
            run.live.push(new);
            report.rows_added += 1;
        }
        79..84 => {
            let last = run
                .sheets
                .values(&run.book, &format!("{TAB}!A:A"))
                .map_err(|e| anyhow!("{e:?}"))?
                .len() as u32;
            let at = rng.random_range(2..=last.max(2));
            run.sheets
                .insert_rows(&run.book, Some(TAB), at, 1)
                .map_err(|e| anyhow!("{e:?}"))?;
            report.rows_inserted += 1;
        }
        84..88 if typo_free && run.live.len() > 3 => {
            if let Some(row) = run
                .sheets
                .row_of(&run.book, Some(TAB), "SKU", &sku)
                .map_err(|e| anyhow!("{e:?}"))?
            {
                run.sheets
                    .delete_rows(&run.book, Some(TAB), row, 1)
                    .map_err(|e| anyhow!("{e:?}"))?;
                run.live.retain(|s| *s != sku);
                run.ledger.remove(&sku);
                if let Some(e) = &mut run.erp {
                    e.stock.remove(&sku);
                }
                run.pending.lock().retain(|(s, _), _| *s != sku);
                let in_shopify = run.shopify.variant_by_sku(&sku).is_some();
                run.deleted.insert(sku, in_shopify);
                report.rows_deleted += 1;
            }
        }
        88..94 => {
            let headers = current_headers(run)?;
            let c = rng.random_range(0..HEADERS.len().min(headers.len()));
            run.sheets
                .sort_rows(
                    &run.book,
                    Some(TAB),
                    2,
                    &weft_sheets::col_letters(c),
                    rng.random_bool(0.5),
                )
                .map_err(|e| anyhow!("{e:?}"))?;
            report.resorts += 1;
        }
        94..97 => {
            let (from, to) = (
                rng.random_range(1..HEADERS.len()),
                rng.random_range(1..HEADERS.len()),
            );
            if from != to {
                run.sheets
                    .move_column(
                        &run.book,
                        Some(TAB),
                        &weft_sheets::col_letters(from),
                        &weft_sheets::col_letters(to),
                    )
                    .map_err(|e| anyhow!("{e:?}"))?;
                report.columns_moved += 1;
            }
        }
        _ => {
            let active = if rng.random_bool(0.8) {
                "TRUE"
            } else {
                "FALSE"
            };
            if run
                .retype(&sku, &run.header("Active"), |_| active.into())?
                .is_some()
            {
                report.cell_edits += 1;
            }
        }
    }
    Ok(())
}

fn current_headers(run: &Run) -> Result<Vec<String>> {
    Ok(run
        .sheets
        .values(&run.book, &format!("{TAB}!1:1"))
        .map_err(|e| anyhow!("{e:?}"))?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// One merchant edit or sale in Shopify.
fn storefront_event(
    run: &mut Run,
    rng: &mut ChaCha8Rng,
    report: &mut SheetDemoReport,
) -> Result<()> {
    if run.live.is_empty() {
        return Ok(());
    }
    let sku = run.live[rng.random_range(0..run.live.len())].clone();
    let Some(variant) = run.shopify.variant_by_sku(&sku) else {
        // A row the person just added: weft has not created it in Shopify yet.
        return Ok(());
    };
    let err = |e: weft_sim_shopify::SimError| anyhow!("{e}");
    if rng.random_bool(0.3) {
        // The merchant changes a price in Shopify: it comes back to the sheet (unless the
        // person's own edit of that price, not yet synced, wins as the sheet's).
        run.shopify
            .edit_variant(
                variant,
                VariantEdit {
                    price: Some(money(rng)),
                    ..VariantEdit::default()
                },
            )
            .map_err(err)?;
        if run.pending.lock().remove(&(sku.clone(), "price")).is_some() {
            *run.unmeasured.lock() += 1;
        }
    } else {
        let quantity = rng.random_range(1..3);
        // The shop does not oversell (Shopify's default): a shopper buys only what it shows
        // available (a row just added shows none until weft has set its stock), and with an
        // ERP only what NetSuite can still promise.
        let available = run
            .shopify
            .inventory_item_of(variant)
            .and_then(|i| run.shopify.available(i, run.location))
            .unwrap_or(0);
        if available < quantity
            || run
                .erp
                .as_ref()
                .is_some_and(|e| e.stock.get(&sku).is_none_or(|l| l.expected() < quantity))
        {
            return Ok(());
        }
        // With an ERP, orders are a customer's (NetSuite's sales order needs one).
        let customer_id = run
            .erp
            .as_ref()
            .map(|e| e.customers[rng.random_range(0..e.customers.len())].to_string());
        let order = run
            .shopify
            .place_order(NewOrder {
                email: Some(format!("shopper{}@example.com", run.n)),
                customer_id,
                location_id: Some(run.location.to_string()),
                line_items: vec![NewOrderLine {
                    sku: Some(sku.clone()),
                    quantity,
                    ..NewOrderLine::default()
                }],
                ..NewOrder::default()
            })
            .map_err(err)?;
        match &mut run.erp {
            Some(e) => {
                e.orders.push(order);
                e.stock.entry(sku).or_default().ordered += quantity;
            }
            None => *run.ledger.entry(sku).or_default() -= quantity,
        }
        report.orders += 1;
    }
    Ok(())
}

/// One change in NetSuite: a new price (it comes back to the sheet and reaches Shopify) or
/// units received at the warehouse.
fn erp_event(run: &mut Run, rng: &mut ChaCha8Rng) -> Result<()> {
    let Some(erp) = &mut run.erp else {
        return Ok(());
    };
    if run.live.is_empty() {
        return Ok(());
    }
    let sku = run.live[rng.random_range(0..run.live.len())].clone();
    // A row the person just added: weft has not created its item yet.
    let Some(item) = erp_item_id(&erp.netsuite, &sku) else {
        return Ok(());
    };
    let err = |e: weft_sim_netsuite::NsError| anyhow!("{e:?}");
    if rng.random_bool(0.5) {
        let cents: i64 = rng.random_range(500..9000);
        erp.netsuite
            .erp_update(
                RecordType::InventoryItem,
                &item,
                json!({ "basePrice": cents as f64 / 100.0 }),
            )
            .map_err(err)?;
        if run.pending.lock().remove(&(sku, "price")).is_some() {
            *run.unmeasured.lock() += 1;
        }
    } else {
        let units: i64 = rng.random_range(1..15);
        erp.netsuite
            .erp_adjust_inventory(&item, NS_LOCATION, units as f64, Some("receipt"))
            .map_err(err)?;
        let l = erp.stock.entry(sku).or_default();
        l.item_id = item;
        l.received += units;
    }
    Ok(())
}

/// Watches Shopify for the sheet edits waiting to show there and records each one's lag.
fn watch_lag(
    shopify: ShopifySim,
    pending: Pending,
    lags: Arc<Mutex<Vec<u64>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let waiting: Vec<(Cell, (String, Instant))> = pending
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for ((sku, field), (value, at)) in waiting {
                let Some(variant) = shopify.variant_by_sku(&sku) else {
                    continue;
                };
                let Some(product) = shopify.product_of_variant(variant) else {
                    continue;
                };
                let p = shopify.product_json(product);
                let shown = match field {
                    "title" => p["title"].as_str().map(str::to_owned),
                    _ => p["variants"]
                        .as_array()
                        .and_then(|vs| vs.iter().find(|v| v["sku"] == json!(sku)))
                        .and_then(|v| v["price"].as_str().map(str::to_owned)),
                };
                let same = match (field, shown) {
                    ("title", Some(s)) => s == value,
                    (_, Some(s)) => {
                        crate::demo::cents(&json!(s)) == crate::demo::cents(&json!(value))
                    }
                    _ => false,
                };
                if same {
                    let mut p = pending.lock();
                    if p.get(&(sku.clone(), field))
                        .is_some_and(|(v, t)| *v == value && *t == at)
                    {
                        p.remove(&(sku, field));
                        lags.lock().push(at.elapsed().as_millis() as u64);
                    }
                }
            }
        }
    })
}

fn lag_summary(mut lags: Vec<u64>, unmeasured: usize) -> Lag {
    lags.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lags.is_empty() {
            return 0;
        }
        let i = ((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1;
        lags[i]
    };
    Lag {
        samples: lags.len(),
        unmeasured,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: lags.last().copied().unwrap_or(0),
    }
}

/// Key → the row's status cell, read as a person sees the sheet.
fn status_column(sheets: &SheetsSim, book: &str) -> Result<BTreeMap<String, String>> {
    let values = sheets.values(book, TAB).map_err(|e| anyhow!("{e:?}"))?;
    let Some(headers) = values.first() else {
        return Ok(BTreeMap::new());
    };
    let col = |h: &str| headers.iter().position(|x| x == h);
    let (Some(k), Some(s)) = (col("SKU"), col("weft status")) else {
        return Ok(BTreeMap::new());
    };
    Ok(values[1..]
        .iter()
        .filter_map(|r| {
            let key = r.get(k)?.trim().to_owned();
            (!key.is_empty()).then(|| (key, r.get(s).cloned().unwrap_or_default()))
        })
        .collect())
}

/// Waits until Shopify's webhooks are delivered, every poller completed a round started after
/// the request twice in a row with nothing new, and nothing is queued.
async fn settle(host: &Host, shopify: &ShopifySim, opts: &DemoOptions) -> Result<()> {
    crate::demo::settle_host(host, &[STORE], opts.settle_timeout, |left| async move {
        shopify.wait_webhooks_idle(left).await;
    })
    .await
}

/// The sheet's rows as the connector reads them, through the Sheets API.
async fn sheet_docs(base_url: &str, book: &str, key_json: &str) -> Result<Vec<PlatformDoc>> {
    let key = ServiceAccountKey::from_json(key_json).map_err(|e| anyhow!("{e}"))?;
    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenSource::new(key, None, http.clone()));
    // Its own small budget: one read, well inside Google's 60 a minute with weft's 50.
    let client = SheetsClient::new(
        http,
        base_url,
        book,
        tokens,
        Arc::new(QuotaLimiter::new(5, 5)),
    );
    let values = client.get(&weft_sheets::sheet_range(TAB)).await?;
    let table = weft_sheets::table::Table::from_values(values);
    let layout = Layout::default();
    let cols = weft_sheets::table::bind(&table, &layout, &BTreeSet::new())
        .map_err(|e| anyhow!("the sheet cannot be read: {e}"))?;
    let cap = weft_sheets::table::capture(&table, &layout, &cols, TAB);
    Ok(cap
        .docs
        .into_iter()
        .map(|(key, (_, body))| PlatformDoc {
            system: SHEET.into(),
            kind: kind("variant"),
            id: key,
            version: "2026-01-01T00:00:00Z".into(),
            body: body.to_string(),
        })
        .collect())
}

async fn shopify_docs(run: &Run) -> Result<(Vec<PlatformDoc>, Vec<Value>)> {
    let config = ShopifyConfig::new(
        &run.shopify_url,
        API_VERSION,
        &run.shopify.config().access_tokens[0],
    );
    let shopify = ShopifyClient::new(config, ShopifyCostLimiter::new())?;
    let mut docs = Vec::new();
    let mut products = Vec::new();
    for entity in [
        Entity::Products,
        Entity::InventoryLevels { location_id: None },
    ] {
        let read = loop {
            match shopify.read_since(&entity, None).await {
                Ok(r) => break r,
                Err(e) if e.is_retryable() => {
                    tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_secs(1))).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        for d in read.docs {
            if d.kind.as_str() == "product" {
                products.push(d.body.clone());
            }
            docs.push(PlatformDoc {
                system: "shopify".into(),
                kind: kind(d.kind.as_str()),
                id: d.id,
                version: d.updated_at,
                body: d.body.to_string(),
            });
        }
    }
    Ok((docs, products))
}

/// Compares the sheet with Shopify; checks duplicates, archived rows, statuses and stock.
async fn verify(
    run: &Run,
    sheets_url: &str,
    key_json: &str,
    mapper: &MapperInstance,
    report: &mut SheetDemoReport,
) -> Result<Verification> {
    let mut v = Verification::default();
    let sheet: Canon =
        canonical(mapper, sheet_docs(sheets_url, &run.book, key_json).await?).await?;
    let (docs, products) = shopify_docs(run).await?;
    let mut shop: Canon = canonical(mapper, docs).await?;
    // Each SKU is one Shopify variant: no row was duplicated on the storefront.
    let mut variants: BTreeMap<String, usize> = BTreeMap::new();
    for p in &products {
        for var in p["variants"].as_array().into_iter().flatten() {
            if let Some(sku) = var["sku"].as_str() {
                *variants.entry(sku.to_owned()).or_default() += 1;
            }
        }
    }
    for (sku, n) in &variants {
        if *n > 1 {
            drift(&mut v, format!("{sku}: {n} variants in Shopify"));
        }
    }
    // Removed rows: archived in Shopify, never deleted; out of the comparison.
    for (sku, in_shopify) in &run.deleted {
        match shop.get(&("variant".to_owned(), sku.clone())) {
            Some(f) if f.get("active") == Some(&json!(false)) => report.rows_archived += 1,
            Some(_) => drift(
                &mut v,
                format!("{sku}: removed from the sheet, still active in Shopify"),
            ),
            // A row the person added and removed before weft read it: nothing to archive.
            None if !in_shopify => report.rows_never_synced += 1,
            None => drift(
                &mut v,
                format!("{sku}: removed from the sheet and gone from Shopify"),
            ),
        }
        shop.retain(|(_, key), _| key != sku && !key.starts_with(&format!("{sku}@")));
    }
    compare(&sheet, &shop, ("the sheet", SHEET), "shopify", &mut v);
    if let Some(e) = &run.erp {
        // The sheet against NetSuite too (Shopify against NetSuite is `verify_store`'s).
        let client = crate::demo::verifier_client(&e.netsuite, &e.url)?;
        let mut erp: Canon = canonical(
            mapper,
            crate::demo::netsuite_docs(&e.netsuite, &client).await?,
        )
        .await?;
        erp.retain(|(kind, key), _| {
            kind != "customer"
                && !run
                    .deleted
                    .keys()
                    .any(|sku| key == sku || key.starts_with(&format!("{sku}@")))
        });
        compare(&sheet, &erp, ("the sheet", SHEET), "netsuite", &mut v);
    }
    for key in shop.keys() {
        if key.0 == "inventory-level" && !sheet.contains_key(key) {
            drift(&mut v, format!("{} {}: in Shopify only", key.0, key.1));
        }
    }
    // Every row's status says synced.
    let statuses = status_column(&run.sheets, &run.book)?;
    for (sku, s) in &statuses {
        if s != weft_sheets::status::SYNCED {
            drift(&mut v, format!("row {sku}: status {s:?}, not synced"));
        }
    }
    // Stock against the ledger, on both sides (with an ERP, what it can sell).
    let ledger: BTreeMap<String, i64> = match &run.erp {
        Some(e) => e
            .stock
            .iter()
            .map(|(sku, l)| (sku.clone(), l.expected()))
            .collect(),
        None => run.ledger.clone(),
    };
    let mut mismatches = Vec::new();
    for (sku, want) in &ledger {
        let key = ("inventory-level".to_owned(), format!("{sku}@{LOCATION}"));
        for (side, canon) in [("sheet", &sheet), ("shopify", &shop)] {
            let have = canon
                .get(&key)
                .and_then(|f| f.get("quantity"))
                .and_then(Value::as_i64);
            if have != Some(*want) {
                mismatches.push(format!("{sku}: {side} {have:?}, ledger {want}"));
            }
        }
    }
    report.stock_mismatches = mismatches.len();
    report.stock_details = mismatches.into_iter().take(20).collect();
    Ok(v)
}
