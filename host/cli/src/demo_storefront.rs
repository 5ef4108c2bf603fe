//! What the storefront demos other than Shopify's share (`weft demo --storefront woocommerce`,
//! `--storefront bigcommerce`, `--storefront magento`): one run over a [`DemoStorefront`] (a simulated storefront the
//! merchant acts in) and a simulated NetSuite account, and one verification over a
//! [`StorefrontApi`] (the storefront read afresh through its own API).
//!
//! The activity has the Shopify demo's shape: merchant price edits, checkouts and customer
//! edits in the storefront; price edits, receipts and description edits in NetSuite; under the
//! storefront simulator's seeded webhook chaos. The verification is the same: both systems read
//! afresh and compared field by field through the mapper, every storefront order exactly one
//! NetSuite sales order whose totals agree and which holds what the mapper writes, and each
//! SKU's stock against the run's own ledger ([`crate::demo::verify_ledger`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use weft_engine::Timing;
use weft_netsuite::{NetSuiteClient, RecordRef};
use weft_runtime::types::{EntityKind, FromCanonicalOutcome, PlatformDoc, ToCanonicalOutcome};
use weft_runtime::{Limits, MapperInstance, Runtime, RuntimeConfig, StoreCtx};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_store::Store;

use crate::app::{Host, StoreSetup, SystemSetup};
use crate::demo::{
    DemoOptions, DemoReport, NS_LOCATION, OPENING_STOCK, StockLedger, Verification, canonical,
    cents, compare, connector_credentials, drift, netsuite_docs, progress_bar, say,
    verifier_client,
};

/// What a storefront simulator's webhook delivery did.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookCounts {
    /// Deliveries attempted (one per event and subscription).
    pub sent: u64,
    /// Dropped by the chaos.
    pub dropped: u64,
    /// Sent twice.
    pub duplicated: u64,
    /// Held back out of order.
    pub reordered: u64,
    /// Stale copies delivered late.
    pub late: u64,
}

/// A storefront read afresh through its own API, for the verification.
pub trait StorefrontApi: Sync {
    /// The system's (and platform's) name.
    fn system(&self) -> &'static str;
    /// The platform's name for people (`WooCommerce`).
    fn label(&self) -> &'static str;
    /// Every product (with its stock levels) and customer, as the connector journals them.
    fn docs(&self) -> impl Future<Output = Result<Vec<PlatformDoc>>> + Send;
    /// Order `id` as the connector journals it, and its total in cents.
    fn order(&self, id: u64) -> impl Future<Output = Result<(Option<i64>, PlatformDoc)>> + Send;
}

/// A simulated storefront the demo runs against NetSuite.
pub(crate) trait DemoStorefront: Sized + Send + Sync {
    /// Its reader.
    type Api: StorefrontApi;
    /// The system's (and platform's) name.
    const SYSTEM: &'static str;
    /// The first letter of the demo's SKUs.
    const SKU_PREFIX: &'static str;
    /// How the report names the storefront's stock figure.
    const STOCK_FIGURE: &'static str;
    /// The storefront's own chaos beyond the run's webhook options (Magento's bulks); its
    /// `Default` is what `weft demo` runs.
    type Chaos: Clone + Default + Send + Sync;
    /// Starts the simulator (seeded with `seed`, with the run's webhook chaos and `chaos`).
    fn start(
        opts: &DemoOptions,
        chaos: &Self::Chaos,
        seed: u64,
    ) -> impl Future<Output = Result<Self>> + Send;
    /// The stock mapper's `locations` for this storefront.
    fn locations(&self) -> Value;
    /// The storefront's system of a demo store.
    fn system(&self) -> Result<SystemSetup>;
    /// Subscribes the storefront's webhooks to weft's intake at `url`, as the merchant (or weft)
    /// would.
    fn subscribe(&self, url: &str, opts: &DemoOptions) -> impl Future<Output = Result<()>> + Send;
    /// Waits until the simulator has no delivery pending (at most `limit`).
    fn wait_idle(&self, limit: Duration) -> impl Future<Output = ()> + Send;
    /// Whether the storefront holds `sku`.
    fn has_sku(&self, sku: &str) -> bool;
    /// A merchant creates a customer.
    fn create_customer(&self, email: &str, first: &str, last: &str) -> Result<u64>;
    /// A merchant sets the price of `sku`.
    fn set_price(&self, sku: &str, price: &str, rng: &mut ChaCha8Rng) -> Result<()>;
    /// A shopper orders `quantity` of `sku`.
    fn place_order(&self, customer: u64, sku: &str, quantity: i64) -> Result<u64>;
    /// A customer changes their phone number.
    fn set_phone(&self, customer: u64, phone: &str) -> Result<()>;
    /// What the storefront shows for `sku`.
    fn stock(&self, sku: &str) -> Option<i64>;
    /// What its webhook delivery did.
    fn webhooks(&self) -> WebhookCounts;
    /// Responses the storefront throttled (429).
    fn throttled(&self) -> u64;
    /// Figures of the storefront's own chaos, for the report's `storefront_chaos`.
    fn chaos_counts(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// A reader through its API.
    fn api(&self) -> Result<Self::Api>;
}

struct DemoStore<S> {
    id: String,
    shop: S,
    netsuite: NetSuiteSim,
    _netsuite_server: weft_sim_netsuite::SimServer,
    netsuite_url: String,
    skus: Vec<String>,
    customers: Vec<u64>,
    orders: Vec<u64>,
    stock: BTreeMap<String, StockLedger>,
}

/// The stock mapper's config of a demo store: the storefront's locations, the simulator's
/// discount item.
fn mapper_config<S: DemoStorefront>(shop: &S) -> Value {
    json!({ "locations": shop.locations(), "discount_item": "1" })
}

/// Runs a storefront demo under the storefront's default chaos.
pub(crate) async fn run<S: DemoStorefront>(opts: DemoOptions) -> Result<DemoReport> {
    run_with::<S>(opts, S::Chaos::default()).await
}

/// Runs a storefront demo under `chaos`.
pub(crate) async fn run_with<S: DemoStorefront>(
    opts: DemoOptions,
    chaos: S::Chaos,
) -> Result<DemoReport> {
    let started = Instant::now();
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = match &opts.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            anyhow::ensure!(
                !d.join("weft.db").exists(),
                "{} already holds a weft.db; pick an empty directory",
                d.display()
            );
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

    say(
        &opts,
        &format!("starting simulators ({} and NetSuite)", S::SYSTEM),
    );
    let mut stores: Vec<DemoStore<S>> = Vec::new();
    for i in 0..opts.stores {
        stores.push(start_store(&opts, &chaos, i).await?);
    }
    let mut setups = Vec::new();
    for s in &stores {
        let creds = s
            .netsuite
            .credentials()
            .into_iter()
            .next()
            .map(connector_credentials)
            .context("the NetSuite simulator has no credentials")?;
        let mut plugin_config = mapper_config(&s.shop);
        plugin_config["owners"] =
            json!({ "*": "netsuite", "variant.title": S::SYSTEM, "customer.*": S::SYSTEM });
        setups.push(StoreSetup {
            id: s.id.clone(),
            systems: vec![
                s.shop.system()?,
                crate::demo_push::netsuite_system(
                    &opts,
                    &s.id,
                    &s.netsuite_url,
                    creds,
                    s.netsuite.config().concurrency_limit,
                ),
            ],
            mapper: mapper.clone().into(),
            resolvers: vec![
                ("inventory-level.quantity".into(), counter.clone().into()),
                ("*".into(), owners.clone().into()),
            ],
            plugin_config: plugin_config.as_object().cloned().unwrap_or_default(),
            limits: Limits::default(),
            timing: Timing {
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
        });
    }
    let host = Host::start(db.clone(), &runtime, setups, "127.0.0.1:0".parse()?).await?;
    for s in &stores {
        let url = format!("http://{}/webhooks/{}/{}", host.addr, S::SYSTEM, s.id);
        s.shop.subscribe(&url, &opts).await?;
        crate::demo_push::deploy(&opts, &s.netsuite, host.addr, &s.id);
    }

    say(
        &opts,
        &format!("initial sync: NetSuite catalog to {}", S::SYSTEM),
    );
    host.poll_now();
    settle(&host, &stores, &opts).await?;
    for s in &mut stores {
        let missing: Vec<_> = s
            .skus
            .iter()
            .filter(|sku| !s.shop.has_sku(sku))
            .cloned()
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "store {}: the initial sync did not create {} products in {} (e.g. {})",
            s.id,
            missing.len(),
            S::SYSTEM,
            missing[0]
        );
        for k in 0..4 {
            let id = s.shop.create_customer(
                &format!("buyer{k}@{}.example", s.id),
                &format!("Buyer{k}"),
                "Demo",
            )?;
            s.customers.push(id);
        }
    }
    settle(&host, &stores, &opts).await?;

    say(
        &opts,
        &format!("generating {} events with webhook chaos", opts.events),
    );
    let mut report = DemoReport {
        seed: opts.seed,
        stores: opts.stores,
        events: opts.events,
        ..DemoReport::default()
    };
    let bar = progress_bar(&opts, opts.events as u64);
    for n in 0..opts.events {
        let si = rng.random_range(0..stores.len());
        let s = &mut stores[si];
        let sku = s.skus[rng.random_range(0..s.skus.len())].clone();
        let roll = rng.random_range(0..100);
        if roll < 55 {
            report.merchant_events += 1;
            merchant_event(s, &sku, roll, &mut rng)?;
        } else {
            report.erp_events += 1;
            erp_event(s, &sku, roll, &mut rng)?;
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
        if n % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    say(&opts, "letting webhooks, polls and writes settle");
    settle(&host, &stores, &opts).await?;

    say(&opts, "verifying both systems field by field");
    for s in &stores {
        let ctx = StoreCtx {
            store_id: s.id.clone(),
            config: mapper_config(&s.shop)
                .as_object()
                .cloned()
                .unwrap_or_default(),
            limits: Limits::default(),
        };
        let m = runtime.mapper(&mapper, ctx)?;
        let api = s.shop.api()?;
        let v = verify_store(&api, &s.netsuite, &s.netsuite_url, &s.orders, &m).await?;
        report.records_compared += v.records_compared;
        report.orders_matched += v.orders_matched;
        report.orders_reconciled += v.orders_reconciled;
        report.drift += v.drift;
        for d in v.drift_details {
            if report.drift_details.len() < 20 {
                report.drift_details.push(d);
            }
        }
        report
            .drift_lineage
            .extend(crate::demo::drift_lineage(&db, &s.id, &v.drifted).await);
        let st = crate::demo::verify_ledger(&s.netsuite, &s.stock, S::STOCK_FIGURE, |sku| {
            s.shop.stock(sku)
        });
        report.stock_mismatches += st.drift;
        for d in st.drift_details {
            if report.stock_details.len() < 20 {
                report.stock_details.push(d);
            }
        }
        let status = db.status(&s.id).await?;
        let c = |k: &str| status.counters.get(k).copied().unwrap_or(0);
        let sum_of = |prefix: &str| -> i64 {
            status
                .counters
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| *v)
                .sum()
        };
        report.recovered += c("recovered");
        crate::demo_push::report(&mut report, &s.netsuite, &status.counters);
        report.duplicates_ignored += c("duplicate_ignored") + sum_of("journal_duplicate_");
        report.stale_ignored += sum_of("stale_ignored");
        report.conflicts_resolved += c("conflicts_resolved");
        report.stock_overridden += c("stock_overridden");
        report.writes_applied += c("writes_applied");
        report.writes_stale += c("writes_stale");
        report.dead_letters += status.outbox.dead;
        for d in db.list_dead_letters(Some(&s.id), 20).await? {
            report.dead_letter_details.push(format!(
                "{} {} {}/{} {}: {}",
                d.store_id,
                d.system,
                d.kind,
                d.key,
                d.op,
                d.last_error.unwrap_or_default()
            ));
        }
        let ws = s.shop.webhooks();
        report.webhooks_sent += ws.sent;
        report.webhooks_dropped += ws.dropped;
        report.webhooks_duplicated += ws.duplicated;
        report.webhooks_reordered += ws.reordered;
        report.webhooks_late += ws.late;
        report.throttled += s.shop.throttled() + s.netsuite.stats().over_limit;
        for (k, n) in s.shop.chaos_counts() {
            *report.storefront_chaos.entry(k.to_owned()).or_default() += n;
        }
        report.orders += s.orders.len();
    }
    host.stop().await;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A demo store: the storefront, and a NetSuite account whose catalog (`opts.items` items with
/// opening stock at [`NS_LOCATION`]) weft is to bring to it.
async fn start_store<S: DemoStorefront>(
    opts: &DemoOptions,
    chaos: &S::Chaos,
    i: usize,
) -> Result<DemoStore<S>> {
    let seed = opts.seed.wrapping_mul(1000).wrapping_add(i as u64);
    let shop = S::start(opts, chaos, seed).await?;
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(seed)).map_err(|e| anyhow!("{e}"))?;
    let ns = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let netsuite_url = ns.base_url();
    let mut skus = Vec::new();
    let mut stock = BTreeMap::new();
    for k in 0..opts.items {
        let sku = format!("{}{i}-{k:04}", S::SKU_PREFIX);
        let id = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"),
                    "itemId": sku,
                    "displayName": format!("Demo product {k}"),
                    "salesDescription": format!("<p>Demo product {k}.</p>"),
                    "isInactive": false,
                    "basePrice": 10.0 + k as f64,
                }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(
                &id,
                NS_LOCATION,
                OPENING_STOCK as f64,
                Some("opening stock"),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        stock.insert(
            sku.clone(),
            StockLedger {
                item_id: id,
                opening: OPENING_STOCK,
                ..StockLedger::default()
            },
        );
        skus.push(sku);
    }
    Ok(DemoStore {
        id: format!("store-{}", i + 1),
        shop,
        netsuite,
        _netsuite_server: ns,
        netsuite_url,
        skus,
        customers: Vec::new(),
        orders: Vec::new(),
        stock,
    })
}

fn merchant_event<S: DemoStorefront>(
    s: &mut DemoStore<S>,
    sku: &str,
    roll: u32,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    match roll {
        0..20 => {
            let cents = rng.random_range(500..9000);
            s.shop
                .set_price(sku, &format!("{}.{:02}", cents / 100, cents % 100), rng)?;
        }
        20..45 => {
            let customer = s.customers[rng.random_range(0..s.customers.len())];
            let quantity = rng.random_range(1..3);
            let order = s.shop.place_order(customer, sku, quantity)?;
            s.orders.push(order);
            s.stock.entry(sku.to_owned()).or_default().ordered += quantity;
        }
        _ => {
            let customer = s.customers[rng.random_range(0..s.customers.len())];
            let phone = format!("+4420{:07}", rng.random_range(0..10_000_000));
            s.shop.set_phone(customer, &phone)?;
        }
    }
    Ok(())
}

fn erp_event<S>(s: &mut DemoStore<S>, sku: &str, roll: u32, rng: &mut ChaCha8Rng) -> Result<()> {
    let err = |e: weft_sim_netsuite::NsError| anyhow!("{e:?}");
    let eid = format!("eid:item-{sku}");
    match roll {
        55..75 => {
            let cents: i64 = rng.random_range(500..9000);
            s.netsuite
                .erp_update(
                    RecordType::InventoryItem,
                    &eid,
                    json!({ "basePrice": cents as f64 / 100.0 }),
                )
                .map_err(err)?;
        }
        75..92 => {
            let units: i64 = rng.random_range(1..20);
            s.netsuite
                .erp_adjust_inventory(&eid, NS_LOCATION, units as f64, Some("receipt"))
                .map_err(err)?;
            s.stock.entry(sku.to_owned()).or_default().received += units;
        }
        _ => {
            s.netsuite
                .erp_update(
                    RecordType::InventoryItem,
                    &eid,
                    json!({ "salesDescription": format!("<p>Revised {}.</p>", rng.random_range(0..1000)) }),
                )
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Waits until every store is quiet: deliveries sent, journal processed, outbox drained, and
/// two poll rounds in a row found nothing new.
async fn settle<S: DemoStorefront>(
    host: &Host,
    stores: &[DemoStore<S>],
    opts: &DemoOptions,
) -> Result<()> {
    let ids: Vec<&str> = stores.iter().map(|s| s.id.as_str()).collect();
    crate::demo::settle_host(host, &ids, opts.settle_timeout, |left| async move {
        for s in stores {
            s.shop.wait_idle(left).await;
        }
    })
    .await
}

/// The sales order external id of a storefront's order `id` (the keys of WooCommerce's and
/// BigCommerce's orders are qualified with the system: `<system>:<id>`, escaped).
pub fn order_external_id(system: &str, id: u64) -> String {
    format!("shopify-order-{system}_3a{id}")
}

/// Reads a storefront (through `api`) and NetSuite afresh, maps both with `mapper` and
/// compares them field by field; each of `orders` (the storefront's order ids) must be exactly
/// one NetSuite sales order whose totals agree and which holds what the mapper writes.
pub async fn verify_store(
    api: &impl StorefrontApi,
    netsuite_sim: &NetSuiteSim,
    netsuite_url: &str,
    orders: &[u64],
    mapper: &MapperInstance,
) -> Result<Verification> {
    let mut report = Verification::default();
    let netsuite = verifier_client(netsuite_sim, netsuite_url)?;
    let shop = canonical(mapper, api.docs().await?).await?;
    let erp = canonical(mapper, netsuite_docs(netsuite_sim, &netsuite).await?).await?;
    compare(
        &shop,
        &erp,
        (api.label(), api.system()),
        "netsuite",
        &mut report,
    );
    let mut by_ext: BTreeMap<String, usize> = BTreeMap::new();
    for so in netsuite_sim.records(RecordType::SalesOrder) {
        if let Some(e) = so["externalId"].as_str() {
            *by_ext.entry(e.to_owned()).or_default() += 1;
        }
    }
    for o in orders {
        match by_ext.get(&order_external_id(api.system(), *o)) {
            Some(1) => report.orders_matched += 1,
            Some(n) => drift(
                &mut report,
                format!("order {o}: {n} sales orders in NetSuite"),
            ),
            None => drift(
                &mut report,
                format!("order {o}: no sales order in NetSuite"),
            ),
        }
    }
    verify_orders(api, &netsuite, orders, mapper, &mut report).await?;
    Ok(report)
}

/// Each order's totals agree in both systems, NetSuite's add up, and the sales order holds
/// every field the mapper writes.
async fn verify_orders(
    api: &impl StorefrontApi,
    netsuite: &NetSuiteClient,
    orders: &[u64],
    mapper: &MapperInstance,
    report: &mut Verification,
) -> Result<()> {
    let label = api.label();
    for id in orders {
        let (shop_total, doc) = api.order(*id).await?;
        let Some(so) = netsuite
            .get_record(
                "salesOrder",
                &RecordRef::ExternalId(order_external_id(api.system(), *id)),
            )
            .await?
        else {
            continue; // counted as missing
        };
        let ns_total = cents(&so["total"]);
        let ns_sum = (|| {
            Some(
                cents(&so["subtotal"])?
                    + cents(&so["discountTotal"])?
                    + cents(&so["taxTotal"])?
                    + cents(&so["shippingCost"])?,
            )
        })();
        if ns_sum.is_none() || ns_sum != ns_total {
            drift(
                report,
                format!(
                    "order {id}: NetSuite totals do not add up: {ns_sum:?} vs total {ns_total:?}"
                ),
            );
            continue;
        }
        if ns_total != shop_total {
            drift(
                report,
                format!("order {id}: total {shop_total:?} in {label}, {ns_total:?} in NetSuite"),
            );
            continue;
        }
        let m = mapper.clone();
        let outcome = tokio::task::spawn_blocking(move || m.to_canonical(&[doc])).await??;
        let Some(ToCanonicalOutcome::Mapped(records)) = outcome.into_iter().next() else {
            drift(report, format!("order {id}: the mapper did not map it"));
            continue;
        };
        let Some(record) = records.into_iter().find(|r| r.kind == EntityKind::Order) else {
            drift(
                report,
                format!("order {id}: the mapper made no order record"),
            );
            continue;
        };
        let req = weft_runtime::types::WriteRequest {
            deleted: false,
            target: "netsuite".into(),
            record,
            current: Some(so.to_string()),
            target_id: so["id"].as_str().map(str::to_owned),
        };
        let m = mapper.clone();
        let out = tokio::task::spawn_blocking(move || m.from_canonical(&[req])).await??;
        match out.first() {
            Some(FromCanonicalOutcome::Commands(c)) if c.is_empty() => {
                report.orders_reconciled += 1;
            }
            Some(FromCanonicalOutcome::Commands(c)) => drift(
                report,
                format!(
                    "order {id}: the sales order does not hold what the mapper writes: {}",
                    c[0].body
                ),
            ),
            other => drift(report, format!("order {id}: mapper answered {other:?}")),
        }
    }
    Ok(())
}

/// A platform document of `system` from a JSON value.
pub(crate) fn doc(
    system: &str,
    kind: EntityKind,
    id: String,
    version: String,
    body: &Value,
) -> PlatformDoc {
    PlatformDoc {
        system: system.into(),
        kind,
        id,
        version,
        body: body.to_string(),
    }
}
