//! `weft demo --storefront woocommerce`: the demo's job with a simulated WooCommerce site as the
//! storefront. The same activity shape as the Shopify demo (merchant price edits, checkouts and
//! customer edits; NetSuite price edits, receipts and description edits) under the WooCommerce
//! simulator's seeded webhook chaos (drops, duplicates, reordering, late stale payloads; and
//! WooCommerce never re-sends), the same report and the same verification: both systems read
//! afresh and compared field by field through the mapper, every WooCommerce order exactly one
//! NetSuite sales order whose totals agree, and each SKU's stock against the run's own ledger.

use std::collections::{BTreeMap, HashMap};
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
use weft_sim_woocommerce::{DEFAULT_KEY, DEFAULT_SECRET, OrderLine, WooSim};
use weft_store::Store;
use weft_woocommerce::{WooClient, WooConfig};

use crate::app::{Host, StoreSetup};
use crate::demo::{
    DemoOptions, DemoReport, NS_LOCATION, OPENING_STOCK, StockLedger, Verification, canonical,
    cents, compare, connector_credentials, drift, netsuite_docs, progress_bar, say,
    verifier_client,
};
use crate::platforms;

/// The system name of the demo's WooCommerce site.
const SYSTEM: &str = weft_woocommerce::PLATFORM;

struct WooStore {
    id: String,
    woo: WooSim,
    netsuite: NetSuiteSim,
    _servers: (
        weft_sim_woocommerce::SimHandle,
        weft_sim_netsuite::SimServer,
    ),
    woo_url: String,
    netsuite_url: String,
    skus: Vec<String>,
    customers: Vec<u64>,
    orders: Vec<u64>,
    stock: BTreeMap<String, StockLedger>,
}

/// The stock mapper's config of a demo store: WooCommerce's one stock figure is NetSuite
/// location 1; the simulator's discount item.
fn mapper_config() -> Value {
    json!({
        "locations": { SYSTEM: NS_LOCATION },
        "discount_item": "1",
    })
}

/// Runs the WooCommerce demo.
pub async fn run(opts: DemoOptions) -> Result<DemoReport> {
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

    say(&opts, "starting simulators (WooCommerce and NetSuite)");
    let mut stores = Vec::new();
    for i in 0..opts.stores {
        stores.push(start_store(&opts, i).await?);
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
        let mut plugin_config = mapper_config();
        plugin_config["owners"] =
            json!({ "*": "netsuite", "variant.title": SYSTEM, "customer.*": SYSTEM });
        setups.push(StoreSetup {
            id: s.id.clone(),
            systems: vec![
                platforms::woocommerce_system(
                    SYSTEM,
                    &s.woo_url,
                    WooConfig::new(&s.woo_url, DEFAULT_KEY, DEFAULT_SECRET),
                    vec![DEFAULT_SECRET.as_bytes().to_vec()],
                ),
                platforms::netsuite_system(
                    weft_netsuite::PLATFORM,
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
        });
    }
    let host = Host::start(db.clone(), &runtime, setups, "127.0.0.1:0".parse()?).await?;
    for s in &stores {
        // As a merchant would in WooCommerce > Settings > Advanced > Webhooks (the secret is
        // the consumer secret, WooCommerce's default). Each creation pings weft.
        let url = format!("http://{}/webhooks/{SYSTEM}/{}", host.addr, s.id);
        for topic in weft_woocommerce::webhook::TOPICS {
            s.woo
                .create_webhook(topic, &url, DEFAULT_SECRET)
                .map_err(|e| anyhow!("cannot create a webhook: {e}"))?;
        }
    }

    for s in &stores {
        // Each creation pinged weft (unsigned `webhook_id=<id>`): answered 200, nothing stored,
        // or WooCommerce would not activate the webhook.
        s.woo.wait_webhooks_idle(opts.settle_timeout).await;
        let pings = s.woo.webhook_pings();
        anyhow::ensure!(
            pings.len() == weft_woocommerce::webhook::TOPICS.len()
                && pings.iter().all(|(_, status)| *status == Some(200)),
            "store {}: WooCommerce's activation pings were not all answered 200: {pings:?}",
            s.id
        );
    }

    say(&opts, "initial sync: NetSuite catalog to WooCommerce");
    host.poll_now();
    settle(&host, &stores, &opts).await?;
    for s in &mut stores {
        let missing: Vec<_> = s
            .skus
            .iter()
            .filter(|sku| s.woo.id_by_sku(sku).is_none())
            .cloned()
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "store {}: the initial sync did not create {} products in WooCommerce (e.g. {})",
            s.id,
            missing.len(),
            missing[0]
        );
        for k in 0..4 {
            let id = s
                .woo
                .create_customer(
                    &format!("buyer{k}@{}.example", s.id),
                    &format!("Buyer{k}"),
                    "Demo",
                )
                .map_err(|e| anyhow!("{e}"))?;
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
            config: mapper_config().as_object().cloned().unwrap_or_default(),
            limits: Limits::default(),
        };
        let m = runtime.mapper(&mapper, ctx)?;
        let v = verify_store(s, &m).await?;
        report.records_compared += v.records_compared;
        report.orders_matched += v.orders_matched;
        report.orders_reconciled += v.orders_reconciled;
        report.drift += v.drift;
        for d in v.drift_details {
            if report.drift_details.len() < 20 {
                report.drift_details.push(d);
            }
        }
        let st = verify_stock(s);
        report.stock_mismatches += st.drift;
        for d in st.drift_details {
            if report.stock_details.len() < 20 {
                report.stock_details.push(d);
            }
        }
        let status = db.status(&s.id).await?;
        let c = |k: &str| status.counters.get(k).copied().unwrap_or(0);
        report.recovered += c("recovered");
        report.duplicates_ignored += c("duplicate_ignored")
            + status
                .counters
                .iter()
                .filter(|(k, _)| k.starts_with("journal_duplicate_"))
                .map(|(_, v)| *v)
                .sum::<i64>();
        report.stale_ignored += status
            .counters
            .iter()
            .filter(|(k, _)| k.starts_with("stale_ignored"))
            .map(|(_, v)| *v)
            .sum::<i64>();
        report.conflicts_resolved += c("conflicts_resolved");
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
        let ws = s.woo.webhook_stats();
        report.webhooks_sent += ws.deliveries;
        report.webhooks_dropped += ws.dropped;
        report.webhooks_duplicated += ws.duplicated;
        report.webhooks_reordered += ws.reordered;
        report.webhooks_late += ws.delayed;
        report.throttled += s.netsuite.stats().over_limit;
        report.orders += s.orders.len();
    }
    host.stop().await;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn start_store(opts: &DemoOptions, i: usize) -> Result<WooStore> {
    let seed = opts.seed.wrapping_mul(1000).wrapping_add(i as u64);
    let mut config = weft_sim_woocommerce::SimConfig {
        seed,
        ..weft_sim_woocommerce::SimConfig::default()
    };
    config.webhooks.chaos = weft_sim_woocommerce::ChaosConfig {
        drop_rate: opts.drop_rate,
        duplicate_rate: opts.duplicate_rate,
        reorder_window_ms: opts.reorder_ms,
        delay_rate: opts.late_rate,
        delay_ms: 2_000,
    };
    let woo = WooSim::new(config).map_err(|e| anyhow!("{e}"))?;
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(seed)).map_err(|e| anyhow!("{e}"))?;
    let wh = woo.serve_local().await.map_err(|e| anyhow!("{e}"))?;
    let ns = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let woo_url = wh.base_url.clone();
    let netsuite_url = ns.base_url();
    let mut skus = Vec::new();
    let mut stock = BTreeMap::new();
    for k in 0..opts.items {
        let sku = format!("W{i}-{k:04}");
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
    Ok(WooStore {
        id: format!("store-{}", i + 1),
        woo,
        netsuite,
        _servers: (wh, ns),
        woo_url,
        netsuite_url,
        skus,
        customers: Vec::new(),
        orders: Vec::new(),
        stock,
    })
}

fn merchant_event(s: &mut WooStore, sku: &str, roll: u32, rng: &mut ChaCha8Rng) -> Result<()> {
    let id = s
        .woo
        .id_by_sku(sku)
        .with_context(|| format!("no WooCommerce product for {sku}"))?;
    let err = |e: weft_sim_woocommerce::SimError| anyhow!("{e}");
    match roll {
        0..20 => {
            let cents = rng.random_range(500..9000);
            s.woo
                .set_price(id, &format!("{}.{:02}", cents / 100, cents % 100), "")
                .map_err(err)?;
        }
        20..45 => {
            let customer = s.customers[rng.random_range(0..s.customers.len())];
            let quantity = rng.random_range(1..3);
            let order = s
                .woo
                .place_order(
                    customer,
                    &[OrderLine {
                        sku: sku.to_owned(),
                        quantity,
                    }],
                )
                .map_err(err)?;
            s.orders.push(order);
            s.stock.entry(sku.to_owned()).or_default().ordered += quantity;
        }
        _ => {
            let customer = s.customers[rng.random_range(0..s.customers.len())];
            s.woo
                .update_customer(
                    customer,
                    json!({"billing": {"phone": format!("+4420{:07}", rng.random_range(0..10_000_000))}}),
                )
                .map_err(err)?;
        }
    }
    Ok(())
}

fn erp_event(s: &mut WooStore, sku: &str, roll: u32, rng: &mut ChaCha8Rng) -> Result<()> {
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
async fn settle(host: &Host, stores: &[WooStore], opts: &DemoOptions) -> Result<()> {
    let deadline = Instant::now() + opts.settle_timeout;
    for s in stores {
        let left = deadline.saturating_duration_since(Instant::now());
        s.woo.wait_webhooks_idle(left).await;
    }
    let mut quiet_rounds = 0;
    let mut last_head: HashMap<String, i64> = HashMap::new();
    while quiet_rounds < 2 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "weft did not settle within {:?}",
            opts.settle_timeout
        );
        let requests = host.poll_now();
        while !host.polled_since(&requests) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            anyhow::ensure!(
                Instant::now() < deadline,
                "polls did not complete within {:?}",
                opts.settle_timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for s in stores {
            s.woo.wait_webhooks_idle(Duration::from_secs(5)).await;
        }
        let mut quiet = true;
        for s in stores {
            let st = host.db.status(&s.id).await?;
            let busy =
                st.lag > 0 || st.outbox.pending > 0 || st.outbox.inflight > 0 || st.parked > 0;
            let head_moved =
                last_head.insert(s.id.clone(), st.journal_head) != Some(st.journal_head);
            if busy || head_moved {
                quiet = false;
            }
        }
        quiet_rounds = if quiet { quiet_rounds + 1 } else { 0 };
    }
    Ok(())
}

/// WooCommerce's products (with their levels) and customers, read afresh through the API.
async fn woo_docs(client: &WooClient) -> Result<Vec<PlatformDoc>> {
    let mut docs = Vec::new();
    let q = vec![("status".to_owned(), "any".to_owned())];
    let doc = |kind: EntityKind, v: &Value| PlatformDoc {
        system: SYSTEM.into(),
        kind,
        id: v["id"].as_u64().map(|i| i.to_string()).unwrap_or_default(),
        version: weft_woocommerce::version_of(v).unwrap_or_default(),
        body: v.to_string(),
    };
    for p in client.list_all("products", &q).await? {
        docs.push(doc(EntityKind::Product, &p));
        if let Some(level) = weft_woocommerce::level_doc(&p) {
            docs.push(doc(EntityKind::InventoryLevel, &level));
        }
    }
    for c in client.list_all("customers", &[]).await? {
        docs.push(doc(EntityKind::Customer, &c));
    }
    Ok(docs)
}

/// Both systems of one store read afresh, mapped, and compared; every order exactly one sales
/// order whose totals agree and which holds what the mapper writes.
async fn verify_store(s: &WooStore, mapper: &MapperInstance) -> Result<Verification> {
    verify_woo_store(&s.woo_url, &s.netsuite, &s.netsuite_url, &s.orders, mapper).await
}

/// Reads a simulated WooCommerce site (through its API at `woo_url`, the simulator's default
/// key) and NetSuite afresh, maps both with `mapper` and compares them field by field; each of
/// `orders` (WooCommerce order ids) must be exactly one NetSuite sales order whose totals agree
/// and which holds what the mapper writes.
pub async fn verify_woo_store(
    woo_url: &str,
    netsuite_sim: &NetSuiteSim,
    netsuite_url: &str,
    orders: &[u64],
    mapper: &MapperInstance,
) -> Result<Verification> {
    let mut report = Verification::default();
    let woo = WooClient::new(WooConfig::new(woo_url, DEFAULT_KEY, DEFAULT_SECRET))?;
    let netsuite = verifier_client(netsuite_sim, netsuite_url)?;
    let shop = canonical(mapper, woo_docs(&woo).await?).await?;
    let erp = canonical(mapper, netsuite_docs(netsuite_sim, &netsuite).await?).await?;
    compare(&shop, &erp, "WooCommerce", SYSTEM, &mut report);
    let mut by_ext: BTreeMap<String, usize> = BTreeMap::new();
    for so in netsuite_sim.records(RecordType::SalesOrder) {
        if let Some(e) = so["externalId"].as_str() {
            *by_ext.entry(e.to_owned()).or_default() += 1;
        }
    }
    for o in orders {
        match by_ext.get(&order_external_id(*o)) {
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
    verify_orders(&woo, &netsuite, orders, mapper, &mut report).await?;
    Ok(report)
}

/// The sales order external id of WooCommerce order `id` (keys of WooCommerce orders are
/// qualified with the system: `woocommerce:<id>`, escaped).
fn order_external_id(id: u64) -> String {
    format!("shopify-order-{SYSTEM}_3a{id}")
}

/// Each order's totals agree in both systems, NetSuite's add up, and the sales order holds
/// every field the mapper writes.
async fn verify_orders(
    woo: &WooClient,
    netsuite: &NetSuiteClient,
    orders: &[u64],
    mapper: &MapperInstance,
    report: &mut Verification,
) -> Result<()> {
    for id in orders {
        let body = woo.get(&format!("orders/{id}"), &[]).await?;
        let Some(so) = netsuite
            .get_record("salesOrder", &RecordRef::ExternalId(order_external_id(*id)))
            .await?
        else {
            continue; // counted as missing
        };
        let woo_total = cents(&body["total"]);
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
        if ns_total != woo_total {
            drift(
                report,
                format!("order {id}: total {woo_total:?} in WooCommerce, {ns_total:?} in NetSuite"),
            );
            continue;
        }
        let doc = PlatformDoc {
            system: SYSTEM.into(),
            kind: EntityKind::Order,
            id: id.to_string(),
            version: weft_woocommerce::version_of(&body).unwrap_or_default(),
            body: body.to_string(),
        };
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

/// Each SKU against the ledger ([`crate::demo::verify_ledger`]), WooCommerce's
/// `stock_quantity` as the storefront's quantity.
fn verify_stock(s: &WooStore) -> Verification {
    crate::demo::verify_ledger(&s.netsuite, &s.stock, "WooCommerce stock_quantity", |sku| {
        s.woo.id_by_sku(sku).and_then(|id| s.woo.stock(id))
    })
}
