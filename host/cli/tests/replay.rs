//! Replay repairs what a mapping bug damaged (issue #4).
//!
//! A store runs against the simulators with a buggy mapper (`weft-testing-buggy-mapper`: the
//! stock mapper reading NetSuite prices in cents), so weft writes hundredfold prices to Shopify
//! while NetSuite keeps the right ones. The test checks the damage is really there, swaps the
//! stock mapper in and replays the journal through [`weft::run::replay_store`] (what
//! `weft replay` runs):
//! - `--entity customer` replays customers only: nothing to repair there, nothing queued;
//! - `--since <before the edits>` repairs exactly the items changed since then;
//! - `--entity price` (the documents prices travel in: Shopify products, NetSuite items) repairs
//!   exactly the rest;
//! - each time, only Shopify price writes for damaged items are queued, and the host sends
//!   exactly those (no other record is rewritten);
//! - then both systems agree field by field, and a second replay queues nothing.
//!
//! A second test pins, without simulators or timing, the case the end-to-end run meets only
//! when the merchant's edit and weft's write-back land in the same second: the replay must not
//! re-apply the superseded edit (which would push the damaged price into NetSuite).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use chrono::Utc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use weft::app::{Host, StoreSetup};
use weft::demo::{Verification, verify_store};
use weft::platforms;
use weft::run::replay_store;
use weft_engine::{Processor, ResolverRule};
use weft_engine::{StepReport, Timing};
use weft_ratelimit::ShopifyCostLimiter;
use weft_runtime::{Limits, Plugin, Runtime, RuntimeConfig, StoreCtx};
use weft_shopify::{Entity, ShopifyClient, ShopifyConfig};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{CustomerFields, ShopifySim, VariantEdit};
use weft_store::{Completion, NewJournalEntry, OutboxStatus, Source, Store, TargetStateUpsert};

const SEED: u64 = 4;
const STORE: &str = "replay";
const API_VERSION: &str = "2026-04";
const NS_LOCATION: &str = "1";
const ITEMS: usize = 9;
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Both simulated systems of the store.
struct Sims {
    shopify: ShopifySim,
    netsuite: NetSuiteSim,
    _servers: (weft_sim_shopify::SimHandle, weft_sim_netsuite::SimServer),
    shopify_url: String,
    netsuite_url: String,
    location: u64,
    skus: Vec<String>,
}

async fn start_sims() -> Result<Sims> {
    let shopify = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(SEED)
            .time_compression(3600.0)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .map_err(|e| anyhow!("{e}"))?,
    );
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(SEED)).map_err(|e| anyhow!("{e}"))?;
    let sh = shopify
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let ns = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let location = *shopify
        .location_ids()
        .first()
        .context("the Shopify simulator has no location")?;
    let mut skus = Vec::new();
    for k in 0..ITEMS {
        let sku = format!("R-{k:03}");
        let id = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"),
                    "itemId": sku,
                    "displayName": format!("Replay product {k}"),
                    "salesDescription": format!("<p>Replay product {k}.</p>"),
                    "vendorName": "Acme",
                    "isInactive": false,
                    "basePrice": 10.0 + k as f64 * 1.25,
                }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(&id, NS_LOCATION, 40.0, Some("opening stock"))
            .map_err(|e| anyhow!("{e:?}"))?;
        skus.push(sku);
    }
    Ok(Sims {
        shopify_url: sh.base_url.clone(),
        netsuite_url: ns.base_url(),
        shopify,
        netsuite,
        _servers: (sh, ns),
        location,
        skus,
    })
}

/// The stock resolvers the store runs with (as in the demo).
struct Resolvers {
    owners: Arc<Plugin>,
    counter: Arc<Plugin>,
}

fn plugin_config(s: &Sims) -> serde_json::Map<String, Value> {
    json!({
        "locations": { s.location.to_string(): NS_LOCATION },
        "owners": { "*": "netsuite", "variant.title": "shopify", "customer.*": "shopify" },
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn setup(s: &Sims, mapper: &Arc<Plugin>, r: &Resolvers) -> Result<StoreSetup> {
    let c = s
        .netsuite
        .credentials()
        .into_iter()
        .next()
        .context("the NetSuite simulator has no credentials")?;
    Ok(StoreSetup {
        id: STORE.into(),
        systems: vec![
            platforms::shopify_system(
                "shopify",
                &s.shopify.config().shop_domain,
                &s.shopify_url,
                API_VERSION,
                &s.shopify.config().access_tokens[0],
                s.shopify
                    .config()
                    .client_secrets
                    .iter()
                    .map(|x| x.as_bytes().to_vec())
                    .collect(),
            ),
            platforms::netsuite_system(
                "netsuite",
                STORE,
                &s.netsuite_url,
                weft_netsuite::Credentials {
                    account_id: c.realm,
                    consumer_key: c.consumer_key,
                    consumer_secret: c.consumer_secret,
                    token_id: c.token_id,
                    token_secret: c.token_secret,
                },
                s.netsuite.config().concurrency_limit,
            ),
        ],
        mapper: mapper.clone().into(),
        resolvers: vec![
            ("inventory-level.quantity".into(), r.counter.clone().into()),
            ("*".into(), r.owners.clone().into()),
        ],
        plugin_config: plugin_config(s),
        limits: Limits::default(),
        timing: Timing {
            poll_interval: Duration::from_secs(1),
            process_idle: Duration::from_millis(50),
            dispatch_idle: Duration::from_millis(50),
            ..Timing::default()
        },
        poll_overlap: Duration::from_secs(5),
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    })
}

/// Runs a host until everything is quiet (see [`settle`]), then stops it.
async fn run_until_settled(
    db: &Store,
    runtime: &Runtime,
    setup: StoreSetup,
    listen: SocketAddr,
    s: &Sims,
) -> Result<()> {
    let host = Host::start(db.clone(), runtime, vec![setup], listen).await?;
    let settled = settle(&host, s).await;
    host.stop().await;
    settled
}

/// Waits until everything is quiet: webhooks delivered, journal processed, outbox drained, and
/// two poll rounds in a row found nothing new; no dead letters.
async fn settle(host: &Host, s: &Sims) -> Result<()> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    s.shopify.wait_webhooks_idle(SETTLE_TIMEOUT).await;
    let mut quiet_rounds = 0;
    let mut last_head = None;
    while quiet_rounds < 2 {
        ensure!(
            Instant::now() < deadline,
            "weft did not settle within {SETTLE_TIMEOUT:?}"
        );
        // Each quiet round includes a poll round of every poller started after the request, so
        // "quiet" means the platforms were read afresh and had nothing new.
        let requests = host.poll_now();
        while !host.polled_since(&requests) {
            ensure!(
                Instant::now() < deadline,
                "polls did not complete within {SETTLE_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let st = host.db.status(STORE).await?;
        let busy = st.lag > 0 || st.outbox.pending > 0 || st.outbox.inflight > 0 || st.parked > 0;
        let head_moved = last_head.replace(st.journal_head) != Some(st.journal_head);
        quiet_rounds = if busy || head_moved {
            0
        } else {
            quiet_rounds + 1
        };
    }
    ensure!(
        host.db.status(STORE).await?.outbox.dead == 0,
        "dead letters: {:?}",
        host.db.list_dead_letters(Some(STORE), 10).await?
    );
    Ok(())
}

/// Each SKU's price in cents: (Shopify's variant price, NetSuite's item basePrice), read from
/// the platforms afresh.
async fn prices(s: &Sims) -> Result<BTreeMap<String, (i64, i64)>> {
    let cents = |v: &Value| -> Option<i64> {
        let f = match v {
            Value::String(t) => t.parse::<f64>().ok()?,
            other => other.as_f64()?,
        };
        Some((f * 100.0).round() as i64)
    };
    let shopify = ShopifyClient::new(
        ShopifyConfig::new(
            &s.shopify_url,
            API_VERSION,
            &s.shopify.config().access_tokens[0],
        ),
        ShopifyCostLimiter::new(),
    )?;
    let read = loop {
        match shopify.read_since(&Entity::Products, None).await {
            Ok(r) => break r,
            Err(e) if e.is_retryable() => {
                tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_secs(1))).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut shop = BTreeMap::new();
    for d in read.docs {
        for v in d.body["variants"].as_array().into_iter().flatten() {
            if let (Some(sku), Some(p)) = (v["sku"].as_str(), cents(&v["price"])) {
                shop.insert(sku.to_owned(), p);
            }
        }
    }
    let mut out = BTreeMap::new();
    for item in s.netsuite.records(RecordType::InventoryItem) {
        let sku = item["itemId"].as_str().context("item without itemId")?;
        let erp = cents(&item["basePrice"]).with_context(|| format!("{sku}: no basePrice"))?;
        let shop = *shop
            .get(sku)
            .with_context(|| format!("{sku} is not in Shopify"))?;
        out.insert(sku.to_owned(), (shop, erp));
    }
    Ok(out)
}

/// The SKUs whose Shopify price is NetSuite's in cents (the bug's damage). Every other SKU must
/// agree exactly.
async fn damaged(s: &Sims) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for (sku, (shop, erp)) in prices(s).await? {
        if shop == erp * 100 && erp != 0 {
            out.insert(sku);
        } else {
            ensure!(
                shop == erp,
                "{sku}: Shopify {shop} cents vs NetSuite {erp} cents, which is not the bug's damage"
            );
        }
    }
    Ok(out)
}

/// Both systems read afresh, mapped with the stock mapper and compared field by field.
async fn verify(s: &Sims, runtime: &Runtime, stock: &Arc<Plugin>) -> Result<Verification> {
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: plugin_config(s),
        limits: Limits::default(),
    };
    let mapper = runtime.mapper(stock, ctx)?;
    verify_store(
        &s.shopify,
        &s.shopify_url,
        &s.netsuite,
        &s.netsuite_url,
        &[],
        &mapper,
    )
    .await
}

/// The outbox rows waiting to be sent, as (system, kind, key).
async fn queued(db: &Store) -> Result<BTreeSet<(String, String, String)>> {
    Ok(db
        .list_outbox(Some(STORE), Some(OutboxStatus::Pending), 10_000)
        .await?
        .into_iter()
        .map(|r| (r.system, r.kind, r.key))
        .collect())
}

fn price_writes<'a>(
    skus: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<(String, String, String)> {
    skus.into_iter()
        .map(|sku| ("shopify".to_owned(), "price".to_owned(), sku.clone()))
        .collect()
}

/// The ids of the store's outbox rows.
async fn outbox_ids(db: &Store) -> Result<BTreeSet<i64>> {
    Ok(db
        .list_outbox(Some(STORE), None, 10_000)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

async fn writes_applied(db: &Store) -> Result<i64> {
    Ok(db
        .status(STORE)
        .await?
        .counters
        .get("writes_applied")
        .copied()
        .unwrap_or(0))
}

fn cents_text(rng: &mut ChaCha8Rng) -> (String, f64) {
    let cents: i64 = rng.random_range(500..9000);
    (
        format!("{}.{:02}", cents / 100, cents % 100),
        cents as f64 / 100.0,
    )
}

/// A store database and plugin runtime in `tmp`, with the stock mapper, the buggy one the
/// replay tests repair after, and the stock resolvers.
struct Rig {
    db: Store,
    runtime: Runtime,
    fixed: Arc<Plugin>,
    buggy: Arc<Plugin>,
    resolvers: Resolvers,
}

async fn rig(tmp: &tempfile::TempDir) -> Result<Rig> {
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("weft.db").display()
    ))
    .await?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
        ..RuntimeConfig::default()
    })?;
    let stock = |name: &str| -> Result<Arc<Plugin>> {
        let bytes = weft_plugin_artifacts::stock(name)
            .with_context(|| format!("stock plugin {name} is not embedded"))?;
        Ok(runtime.load(name, bytes)?)
    };
    let fixed = stock("shopify-netsuite")?;
    let resolvers = Resolvers {
        owners: stock("system-of-record")?,
        counter: stock("counter-merge")?,
    };
    let buggy_path = weft_plugin_artifacts::TESTING_BUGGY_MAPPER;
    let buggy = runtime.load(
        "buggy-shopify-netsuite",
        &std::fs::read(buggy_path).with_context(|| format!("cannot read {buggy_path}"))?,
    )?;
    Ok(Rig {
        db,
        runtime,
        fixed,
        buggy,
        resolvers,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_repairs_what_a_mapping_bug_damaged() -> Result<()> {
    // `WEFT_TEST_LOG=info cargo test --test replay` shows the host's log.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("WEFT_TEST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let tmp = tempfile::tempdir()?;
    let Rig {
        db,
        runtime,
        fixed,
        buggy,
        resolvers,
    } = rig(&tmp).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let s = start_sims().await?;

    // 1. The buggy mapper syncs the catalog and a round of edits on both sides.
    let host = Host::start(
        db.clone(),
        &runtime,
        vec![setup(&s, &buggy, &resolvers)?],
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let listen = host.addr;
    s.shopify
        .subscribe_all(&format!("http://{listen}/webhooks/shopify/{STORE}"))
        .map_err(|e| anyhow!("{e}"))?;
    settle(&host, &s).await?;
    let mut customers = Vec::new();
    for k in 0..3 {
        customers.push(
            s.shopify
                .create_customer(CustomerFields {
                    email: Some(format!("buyer{k}@replay.example")),
                    first_name: Some(format!("Buyer{k}")),
                    last_name: Some("Replay".into()),
                    ..CustomerFields::default()
                })
                .map_err(|e| anyhow!("{e}"))?,
        );
    }
    settle(&host, &s).await?;
    // Every price is damaged now: NetSuite's catalog reached Shopify in cents.
    let all: BTreeSet<String> = s.skus.iter().cloned().collect();
    assert_eq!(damaged(&s).await?, all, "{:?}", prices(&s).await?);

    let before_edits = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut order = s.skus.clone();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let (erp_priced, rest) = order.split_at(3);
    let (merchant_priced, rest) = rest.split_at(2);
    let (described, untouched) = rest.split_at(1);
    for sku in erp_priced {
        let (_, price) = cents_text(&mut rng);
        s.netsuite
            .erp_update(
                RecordType::InventoryItem,
                &format!("eid:item-{sku}"),
                json!({ "basePrice": price }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
    }
    for sku in merchant_priced {
        let (text, _) = cents_text(&mut rng);
        let variant = s
            .shopify
            .variant_by_sku(sku)
            .with_context(|| format!("no Shopify variant for {sku}"))?;
        s.shopify
            .edit_variant(
                variant,
                VariantEdit {
                    price: Some(text),
                    ..VariantEdit::default()
                },
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    for sku in described {
        s.netsuite
            .erp_update(
                RecordType::InventoryItem,
                &format!("eid:item-{sku}"),
                json!({ "salesDescription": "<p>Revised.</p>" }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
    }
    for c in &customers {
        s.shopify
            .edit_customer(
                *c,
                CustomerFields {
                    phone: Some(format!("+4420{:07}", rng.random_range(0..10_000_000))),
                    ..CustomerFields::default()
                },
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    settle(&host, &s).await?;
    host.stop().await;

    // The damage is real: every Shopify price is NetSuite's in cents (the merchant's own edits
    // included: weft read them back from NetSuite through the bug), and the field-by-field
    // comparison through the correct mapping finds exactly those prices.
    assert_eq!(damaged(&s).await?, all, "{:?}", prices(&s).await?);
    let v = verify(&s, &runtime, &fixed).await?;
    assert_eq!(v.drift, ITEMS, "{:#?}", v.drift_details);
    assert!(
        v.drift_details
            .iter()
            .all(|d| d.starts_with("price ") && d.contains(" .price: ")),
        "the bug damaged something other than prices: {:#?}",
        v.drift_details
    );

    // 2. The mapping is fixed: the stock mapper replaces the buggy one.
    let fixed_setup = || setup(&s, &fixed, &resolvers);

    // An entity kind weft does not know is refused, naming the kinds it knows.
    let err = replay_store(&db, &runtime, &fixed_setup()?, None, Some("prices"), None)
        .await
        .expect_err("an unknown entity kind must be refused");
    assert!(err.to_string().contains("price, inventory-level"), "{err}");

    // `--entity customer`: customers were never damaged, so nothing is queued.
    let r = replay_store(&db, &runtime, &fixed_setup()?, None, Some("customer"), None).await?;
    assert!(r.entries > 0 && r.mapped > 0, "{r:?}");
    assert_eq!((r.writes, r.failed), (0, 0), "{r:?}");
    assert!(queued(&db).await?.is_empty());

    // `--since`: only the items NetSuite or the merchant changed after that instant are repaired.
    let changed: BTreeSet<String> = erp_priced
        .iter()
        .chain(merchant_priced)
        .chain(described)
        .cloned()
        .collect();
    let r = replay_store(
        &db,
        &runtime,
        &fixed_setup()?,
        Some(before_edits),
        None,
        None,
    )
    .await?;
    assert_repair_queued(&db, &r, &changed).await?;
    let applied = writes_applied(&db).await?;
    let known = outbox_ids(&db).await?;
    let head = db.status(STORE).await?.journal_head;
    run_until_settled(&db, &runtime, fixed_setup()?, listen, &s).await?;
    let sent = writes_applied(&db).await? - applied;
    if sent != changed.len() as i64 {
        let rows: Vec<String> = db
            .list_outbox(Some(STORE), None, 10_000)
            .await?
            .into_iter()
            .filter(|r| !known.contains(&r.id))
            .map(|r| {
                format!(
                    "{} {} {} {:?}: {}",
                    r.system, r.kind, r.key, r.status, r.body
                )
            })
            .collect();
        let journaled: Vec<String> = db
            .journal_range(STORE, None, None, head, 500)
            .await?
            .into_iter()
            .map(|e| {
                format!(
                    "{} {} {} {} {} {}",
                    e.seq, e.system, e.kind, e.entity_id, e.source, e.version
                )
            })
            .collect();
        let counters: BTreeMap<String, i64> = db
            .counters(STORE)
            .await?
            .into_iter()
            .filter(|(k, _)| k.starts_with("tie_") || k.starts_with("stale"))
            .collect();
        panic!(
            "the host sent writes beyond the repair: {sent} applied, {} repairs; queued since the \
             replay: {rows:#?}; journaled while it ran: {journaled:#?}; counters {counters:?}",
            changed.len()
        );
    }
    let untouched: BTreeSet<String> = untouched.iter().cloned().collect();
    assert_eq!(damaged(&s).await?, untouched, "{:?}", prices(&s).await?);

    // `--entity price` repairs the rest, and only the rest.
    let r = replay_store(&db, &runtime, &fixed_setup()?, None, Some("price"), None).await?;
    assert_repair_queued(&db, &r, &untouched).await?;
    let applied = writes_applied(&db).await?;
    run_until_settled(&db, &runtime, fixed_setup()?, listen, &s).await?;
    assert_eq!(
        writes_applied(&db).await? - applied,
        untouched.len() as i64,
        "the host sent writes beyond the repair"
    );
    assert!(damaged(&s).await?.is_empty(), "{:?}", prices(&s).await?);
    let v = verify(&s, &runtime, &fixed).await?;
    assert_eq!(v.drift, 0, "{:#?}", v.drift_details);
    assert!(v.records_compared >= 2 * ITEMS, "{v:?}");

    // 3. Replay is idempotent: a second one queues nothing.
    let r = replay_store(&db, &runtime, &fixed_setup()?, None, None, None).await?;
    assert!(r.entries > 0, "{r:?}");
    assert_eq!((r.writes, r.failed), (0, 0), "{r:?}");
    assert!(queued(&db).await?.is_empty());
    let st = db.status(STORE).await?;
    assert_eq!((st.outbox.pending, st.outbox.inflight), (0, 0));
    Ok(())
}

/// The replay queued exactly one Shopify price write per SKU in `skus`, and nothing else.
async fn assert_repair_queued(db: &Store, r: &StepReport, skus: &BTreeSet<String>) -> Result<()> {
    assert_eq!(r.failed, 0, "{r:?}");
    assert_eq!(queued(db).await?, price_writes(skus), "replay report {r:?}");
    assert_eq!(r.writes, skus.len() as u64, "{r:?}");
    Ok(())
}

/// The live processing step of an offline store (what the host's processing loop runs).
fn live_processor(
    db: &Store,
    runtime: &Runtime,
    mapper: &Arc<Plugin>,
    r: &Resolvers,
) -> Result<Processor> {
    let s = offline_setup(mapper, r);
    let ctx = s.plugin_ctx();
    let mut rules = Vec::new();
    for (pattern, plugin) in [("inventory-level.quantity", &r.counter), ("*", &r.owners)] {
        rules.push(ResolverRule {
            pattern: pattern.into(),
            resolver: runtime.resolver(plugin, ctx.clone())?,
        });
    }
    Ok(Processor::new(
        STORE,
        db.clone(),
        s.offline_systems(),
        runtime.mapper(mapper, ctx)?,
        rules,
    ))
}

/// A setup for replays that never reach the platforms (the connection fields are unused).
fn offline_setup(mapper: &Arc<Plugin>, r: &Resolvers) -> StoreSetup {
    StoreSetup {
        id: STORE.into(),
        systems: vec![
            platforms::shopify_system(
                "shopify",
                "replay.myshopify.com",
                "http://127.0.0.1:9",
                API_VERSION,
                "unused",
                Vec::new(),
            ),
            platforms::netsuite_system(
                "netsuite",
                STORE,
                "http://127.0.0.1:9",
                weft_netsuite::Credentials {
                    account_id: "1".into(),
                    consumer_key: "unused".into(),
                    consumer_secret: "unused".into(),
                    token_id: "unused".into(),
                    token_secret: "unused".into(),
                },
                1,
            ),
        ],
        mapper: mapper.clone().into(),
        resolvers: vec![
            ("inventory-level.quantity".into(), r.counter.clone().into()),
            ("*".into(), r.owners.clone().into()),
        ],
        plugin_config: json!({ "owners": { "*": "netsuite", "variant.title": "shopify" } })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        limits: Limits::default(),
        timing: Timing::default(),
        poll_overlap: Duration::ZERO,
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    }
}

/// Journals a document of the one product: Shopify product 100 or NetSuite item 7.
async fn observe(db: &Store, system: &str, version: &str, body: Value) {
    let (kind, id) = if system == "shopify" {
        ("product", "100")
    } else {
        ("variant", "7")
    };
    db.append(NewJournalEntry {
        store_id: STORE.into(),
        system: system.into(),
        kind: kind.into(),
        entity_id: id.into(),
        version: version.into(),
        source: Source::Manual,
        delivery_id: None,
        body,
        received_at: Utc::now(),
    })
    .await
    .expect("journal append");
}

fn shopify_product(price: &str) -> Value {
    json!({
        "id": "100", "title": "Mug", "body_html": "<p>Mug.</p>", "vendor": "Acme",
        "status": "active",
        "variants": [{"id": "200", "product_id": "100", "sku": "SKU-1", "price": price,
                      "compare_at_price": null, "barcode": null, "inventory_item_id": "300"}],
    })
}

fn netsuite_item(base_price: f64) -> Value {
    json!({
        "id": "7", "itemId": "SKU-1", "externalId": "item-SKU-1", "displayName": "Mug",
        "salesDescription": "<p>Mug.</p>", "vendorName": "Acme", "isInactive": false,
        "basePrice": base_price,
    })
}

/// Settles every queued write as the dispatcher does on success (the target now holds the
/// desired fields) and returns them as (system, kind, key, desired price).
async fn send_queued(db: &Store) -> Vec<(String, String, String, Value)> {
    let now = Utc::now();
    let rows = db
        .claim_due(now, 100, Duration::from_secs(60), Some(STORE))
        .await
        .expect("claim");
    let mut sent = Vec::new();
    for row in rows {
        let desired = row.body["desired"].clone();
        let completion = Completion {
            target_states: vec![TargetStateUpsert {
                system: row.system.clone(),
                kind: row.kind.clone(),
                key: row.key.clone(),
                fields: desired.clone(),
            }],
            ..Completion::default()
        };
        db.complete(
            row.id,
            row.claim_token.as_deref().unwrap_or_default(),
            &completion,
            now,
        )
        .await
        .expect("complete");
        sent.push((row.system, row.kind, row.key, desired["price"].clone()));
    }
    sent
}

/// The buggy mapper's damage, step by step: NetSuite's 12.50 shown as 1250.00 in Shopify; the
/// merchant's 20.00 written to NetSuite, read back through the bug as 2000.00 and written to
/// Shopify within the same second.
async fn damage(db: &Store, live: &Processor) -> Result<()> {
    // Both systems known, Shopify already showing the buggy price (NetSuite's 12.50 in cents).
    observe(db, "netsuite", "2026-11-20T10:00:00Z", netsuite_item(12.5)).await;
    observe(
        db,
        "shopify",
        "2026-11-20T10:00:00Z",
        shopify_product("1250.00"),
    )
    .await;
    assert_eq!(live.step(100).await?.writes, 0);
    // The merchant sets 20.00 at 10:05:00; weft writes it to NetSuite and reads it back through
    // the bug as 2000.00, which it writes to Shopify within the same second.
    observe(
        db,
        "shopify",
        "2026-11-20T10:05:00Z",
        shopify_product("20.00"),
    )
    .await;
    live.step(100).await?;
    let sent = send_queued(db).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].3),
        ("netsuite", &json!("20.00"))
    );
    observe(db, "netsuite", "2026-11-20T10:05:00Z", netsuite_item(20.0)).await;
    live.step(100).await?;
    let sent = send_queued(db).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].0.as_str(), &sent[0].3),
        ("shopify", &json!("2000.00"))
    );
    observe(
        db,
        "shopify",
        "2026-11-20T10:05:00Z",
        shopify_product("2000.00"),
    )
    .await;
    assert_eq!(live.step(100).await?.writes, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_skips_an_edit_superseded_within_its_second() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let Rig {
        db,
        runtime,
        fixed,
        buggy,
        resolvers,
    } = rig(&tmp).await?;
    let live = live_processor(&db, &runtime, &buggy, &resolvers)?;
    damage(&db, &live).await?;

    // The dry run lists what the replay will write, per record and field, and queues nothing.
    let preview = weft::console::preview_store(
        &db,
        &runtime,
        &offline_setup(&fixed, &resolvers),
        None,
        None,
    )
    .await?;
    assert_eq!(preview.writes.len(), 1, "{preview:?}");
    let w = &preview.writes[0];
    assert_eq!(
        (w.system.as_str(), w.kind.as_str(), w.key.as_str()),
        ("shopify", "price", "SKU-1")
    );
    assert!(
        w.fields
            .contains(&("price".into(), json!("2000.00"), json!("20.00"))),
        "{w:?}"
    );
    assert!(
        send_queued(&db).await.is_empty(),
        "a dry run queues nothing"
    );

    // Replay through the fixed mapper: the merchant's 20.00 (superseded at 10:05:00 by weft's
    // write-back) is not re-applied; NetSuite's 20.0 is read right, so Shopify gets 20.00 and
    // NetSuite nothing (re-applying the edit would have made the write-back look like a new
    // merchant change and written 2000.00 to NetSuite).
    let r = replay_store(
        &db,
        &runtime,
        &offline_setup(&fixed, &resolvers),
        None,
        None,
        None,
    )
    .await?;
    assert_eq!(r.writes, 1, "{r:?}");
    let sent = send_queued(&db).await;
    assert_eq!(
        sent,
        vec![(
            "shopify".into(),
            "price".into(),
            "SKU-1".into(),
            json!("20.00")
        )]
    );
    // `weft explain` names each step in order: the damage by the buggy mapper, the merchant's
    // edit, and the repair by the replay through the fixed one, with the write it caused.
    let e = db
        .explain(STORE, "price", "SKU-1", 500)
        .await?
        .context("the record is known")?
        .field("price");
    let steps: Vec<(String, String, String, Value)> = e
        .steps
        .iter()
        .filter(|s| s.fields.get("price").is_some())
        .map(|s| {
            (
                s.mode.clone(),
                s.system.clone(),
                s.mapper.split(' ').next().unwrap_or("").to_owned(),
                s.fields["price"]["value"].clone(),
            )
        })
        .collect();
    let step = |mode: &str, system: &str, mapper: &str, value: &str| {
        (mode.into(), system.into(), mapper.into(), json!(value))
    };
    assert_eq!(
        steps.first(),
        Some(&step(
            "live",
            "netsuite",
            "buggy-shopify-netsuite",
            "1250.00"
        )),
        "{e:#?}"
    );
    assert!(
        steps.contains(&step("live", "shopify", "buggy-shopify-netsuite", "20.00")),
        "{steps:#?}"
    );
    let damage = steps
        .iter()
        .position(|s| *s == step("live", "netsuite", "buggy-shopify-netsuite", "2000.00"))
        .expect("the damage is a step");
    assert_eq!(
        steps.last(),
        Some(&step("replay", "netsuite", "shopify-netsuite", "20.00")),
        "{steps:#?}"
    );
    assert!(damage < steps.len() - 1);
    let repair = e.steps.last().unwrap();
    assert_eq!(repair.writes.len(), 1, "{repair:#?}");
    assert_eq!(
        (
            repair.writes[0].system.as_str(),
            repair.writes[0].status.as_str()
        ),
        ("shopify", "done")
    );
    let text = weft::explain::render(&e);
    eprintln!("{text}");
    assert!(
        text.contains("[replay]: mapped by shopify-netsuite"),
        "{text}"
    );
    observe(
        &db,
        "shopify",
        "2026-11-20T10:06:00Z",
        shopify_product("20.00"),
    )
    .await;
    let live = live_processor(&db, &runtime, &fixed, &resolvers)?;
    assert_eq!(live.step(100).await?.writes, 0);
    let r = replay_store(
        &db,
        &runtime,
        &offline_setup(&fixed, &resolvers),
        None,
        None,
        None,
    )
    .await?;
    assert_eq!(r.writes, 0, "{r:?}");
    Ok(())
}

const TOKEN: &str = "console-token-for-the-replay-test";

/// The console runs the replay it previewed, over HTTP, through the same code as `weft
/// replay` (`weft::console::HostActions`): only with the token and the form's CSRF field; its
/// steps wait for the store's step lock (held here as the live processing loop holds it during
/// a step), then queue exactly the repair; the page says how many entries were re-run and
/// writes queued, and running it again queues nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_the_previewed_replay_taking_turns_with_the_store_loop() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let Rig {
        db,
        runtime,
        fixed,
        buggy,
        resolvers,
    } = rig(&tmp).await?;
    damage(&db, &live_processor(&db, &runtime, &buggy, &resolvers)?).await?;

    // The console of a host whose store now runs the fixed mapper.
    let (owners, counter) = (resolvers.owners.clone(), resolvers.counter.clone());
    let actions = weft::console::HostActions::new(db.clone(), runtime.clone(), move |store| {
        ensure!(store == STORE, "no store `{store}`");
        Ok(offline_setup(
            &fixed,
            &Resolvers {
                owners: owners.clone(),
                counter: counter.clone(),
            },
        ))
    });
    let state = weft_server::ServerState::new(
        db.clone(),
        weft_store::JournalWriter::spawn(db.clone(), weft_store::GroupCommitConfig::default()),
        Vec::new(),
        Arc::new(|_: &str| {}),
        Arc::new(weft_server::Metrics::new()),
    );
    state.set_console(
        weft_server::ConsoleOptions::new(TOKEN.as_bytes().to_vec()).with_actions(Arc::new(actions)),
    );
    state.readiness().mark_ready();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(weft_server::serve(listener, state, async move {
        let _ = server_stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/console/stores/{STORE}/replay");
    let post = |path: String, form: Vec<(&'static str, String)>, token: bool| {
        let mut r = client.post(path).form(&form);
        if token {
            r = r.bearer_auth(TOKEN);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let page = client
        .get(&base)
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let at = page
        .find("name=\"csrf\" value=\"")
        .context("a csrf field")?
        + 19;
    let csrf = page[at..at + 64].to_owned();

    // The preview lists the repair and offers to run it.
    let (status, preview) = post(base.clone(), vec![("csrf", csrf.clone())], true).await;
    assert_eq!(status, 200, "{preview}");
    assert!(
        preview.contains("1 writes would be queued")
            && preview
                .contains("<td>price</td><td><code>2000.00</code></td><td><code>20.00</code></td>"),
        "{preview}"
    );
    assert!(
        preview.contains("action=\"/console/stores/replay/replay/run\""),
        "{preview}"
    );

    // Without the token, or the form's field: refused, nothing queued.
    let run = format!("{base}/run");
    let (status, _) = post(run.clone(), vec![("csrf", csrf.clone())], false).await;
    assert_eq!(status, 401);
    let (status, _) = post(run.clone(), vec![("csrf", "0".repeat(64))], true).await;
    assert_eq!(status, 403);
    assert!(queued(&db).await?.is_empty());

    // The store's processing loop is in a step (it holds the step lock): the replay waits.
    let lock = db.step_lock(STORE);
    let turn = lock.lock().await;
    let running = tokio::spawn(post(
        run.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("since", String::new()),
            ("entity", String::new()),
        ],
        true,
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !running.is_finished(),
        "the replay did not wait for the step"
    );
    assert!(
        queued(&db).await?.is_empty(),
        "the replay ran during a step"
    );
    drop(turn);
    let (status, outcome) = running.await?;
    assert_eq!(status, 200, "{outcome}");
    assert!(
        outcome.contains("journal entries re-run (every entry)")
            && outcome.contains("<strong>1 writes queued</strong>"),
        "{outcome}"
    );
    // The same replay again (the price documents only, this time) plans the same write, which
    // is queued already: nothing new.
    let (status, again) = post(
        run.clone(),
        vec![("csrf", csrf.clone()), ("entity", "price".into())],
        true,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert!(
        again.contains("(every entry of kind price)")
            && again.contains("<strong>0 writes queued</strong>"),
        "{again}"
    );
    let sent = send_queued(&db).await;
    assert_eq!(
        sent,
        vec![(
            "shopify".into(),
            "price".into(),
            "SKU-1".into(),
            json!("20.00")
        )]
    );
    assert!(queued(&db).await?.is_empty());
    let _ = server_stop.send(());
    server.await??;
    Ok(())
}

/// Two dead letters of the store, written before any host serves it.
async fn dead_letters(db: &Store) -> Result<Vec<i64>> {
    let t0 = Utc::now() - chrono::TimeDelta::minutes(5);
    let mut step = weft_store::StepCommit::new(STORE, t0);
    step.outbox = ["A", "B"]
        .into_iter()
        .map(|key| weft_store::NewOutboxRow {
            system: "netsuite".into(),
            kind: "variant".into(),
            key: key.into(),
            op: "upsert".into(),
            idempotency_key: format!("idem-{key}"),
            body: json!({ "key": key }),
            priority: 20,
            coalesce: false,
            resend_may_apply: false,
        })
        .collect();
    db.commit_step(&step).await?;
    let claimed = db.claim_due(t0, 10, Duration::from_secs(30), None).await?;
    ensure!(claimed.len() == 2, "claimed {}", claimed.len());
    let mut ids = Vec::new();
    for r in claimed {
        db.dead_letter(
            r.id,
            r.claim_token.as_deref().unwrap_or_default(),
            "refused",
            t0,
        )
        .await?;
        ids.push(r.id);
    }
    ids.sort();
    Ok(ids)
}

/// A host (id `host_id`) serving the replay store (offline) with its console on.
async fn console_host(db: &Store, runtime: &Runtime, host_id: &str) -> Result<Host> {
    let stock = |name: &str| -> Result<Arc<Plugin>> {
        let bytes = weft_plugin_artifacts::stock(name)
            .with_context(|| format!("stock plugin {name} is not embedded"))?;
        Ok(runtime.load(name, bytes)?)
    };
    let (mapper, owners, counter) = (
        stock("shopify-netsuite")?,
        stock("system-of-record")?,
        stock("counter-merge")?,
    );
    let setup = {
        let (mapper, owners, counter) = (mapper.clone(), owners.clone(), counter.clone());
        move |store: &str| -> Result<StoreSetup> {
            ensure!(store == STORE, "no store `{store}`");
            Ok(offline_setup(
                &mapper,
                &Resolvers {
                    owners: owners.clone(),
                    counter: counter.clone(),
                },
            ))
        }
    };
    let actions = weft::console::HostActions::new(db.clone(), runtime.clone(), setup.clone());
    Host::start_clustered(
        db.clone(),
        runtime,
        vec![setup(STORE)?],
        weft_server::Listeners::bind("127.0.0.1:0".parse()?, None).await?,
        weft_server::ServeOptions::default(),
        Some(
            weft_server::ConsoleOptions::new(TOKEN.as_bytes().to_vec())
                .with_actions(Arc::new(actions)),
        ),
        None,
        weft::cluster::ClusterOptions {
            host_id: host_id.into(),
            lease_ttl: Duration::from_secs(3),
            renew_interval: Duration::from_secs(1),
        },
    )
    .await
}

/// Posts a console form to `host` (the CSRF field read from the store's replay page).
async fn console_post(host: &Host, path: &str, extra: &[(&str, &str)]) -> Result<(u16, String)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = format!("http://{}/console/stores/{STORE}", host.addr);
    let page = client
        .get(format!("{base}/replay"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let at = page
        .find("name=\"csrf\" value=\"")
        .context("a csrf field")?
        + 19;
    let mut form = vec![("csrf", page[at..at + 64].to_owned())];
    form.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let r = client
        .post(format!("{base}/{path}"))
        .bearer_auth(TOKEN)
        .form(&form)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// The console writes a store's rows (a replay, a dead letter's retry or discard) only on the
/// host holding the store's lease, through the handle that lease fences: two hosts on one
/// PostgreSQL schema, `a` serving the store; `b`'s console refuses both, naming `a`, and writes
/// nothing; `a`'s runs them. Skipped, saying so, without `WEFT_TEST_POSTGRES_URL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_writes_a_store_only_on_the_host_holding_its_lease() -> Result<()> {
    let Ok(base_url) = std::env::var("WEFT_TEST_POSTGRES_URL") else {
        println!("skipping: WEFT_TEST_POSTGRES_URL is unset (two hosts need one PostgreSQL)");
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let schema = format!("weft_console_{:016x}", rand::random::<u64>());
    let open = || {
        Store::open_with(
            &base_url,
            weft_store::OpenOptions {
                postgres_schema: Some(schema.clone()),
                max_connections: 4,
                ..weft_store::OpenOptions::default()
            },
        )
    };
    let (db_a, db_b) = (open().await?, open().await?);
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
        ..RuntimeConfig::default()
    })?;
    let dead = dead_letters(&db_a).await?;
    let a = console_host(&db_a, &runtime, "a").await?;
    ensure!(
        a.owned_stores() == vec![STORE.to_owned()],
        "a took the store"
    );
    let b = console_host(&db_b, &runtime, "b").await?;
    ensure!(b.owned_stores().is_empty(), "b took nothing");

    // `b` refuses, naming `a`, and writes nothing.
    let (status, page) = console_post(&b, "replay/run", &[]).await?;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("this host (`b`) does not serve store `replay`: host `a` serves it"),
        "{page}"
    );
    for action in ["retry", "discard"] {
        let (status, page) = console_post(&b, &format!("dead/{}/{action}", dead[0]), &[]).await?;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("host `a` serves it"), "{page}");
    }
    let rows = db_a
        .list_outbox(Some(STORE), Some(OutboxStatus::Dead), 10)
        .await?;
    assert_eq!(rows.len(), 2, "b changed a dead letter");

    // `a` runs them.
    let (status, page) = console_post(&a, "replay/run", &[]).await?;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"replay-outcome\""), "{page}");
    for (id, action) in [(dead[0], "retry"), (dead[1], "discard")] {
        let (status, page) = console_post(&a, &format!("dead/{id}/{action}"), &[]).await?;
        assert_eq!(status, 303, "{action}: {page}");
    }
    // The retried one went back to the dispatcher (which may have sent it, and dead-lettered it
    // again for its made-up body); the discarded one is gone for good.
    let retried = db_a.outbox_row(dead[0]).await?.context("the retried row")?;
    assert!(
        retried.status != OutboxStatus::Dead || retried.last_error.as_deref() != Some("refused"),
        "{retried:?}"
    );
    let discarded = db_a
        .outbox_row(dead[1])
        .await?
        .context("the discarded row")?;
    assert_ne!(discarded.status, OutboxStatus::Dead, "{discarded:?}");

    b.stop().await;
    a.stop().await;
    if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&base_url).await {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&mut c)
            .await;
    }
    Ok(())
}

/// One host on SQLite holds every store: its console runs replays and dead-letter actions as
/// before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_of_a_single_sqlite_host_writes_every_store() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("weft.db").display()
    ))
    .await?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
        ..RuntimeConfig::default()
    })?;
    let dead = dead_letters(&db).await?;
    let host = console_host(&db, &runtime, "solo").await?;
    let (status, page) = console_post(&host, "replay/run", &[]).await?;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"replay-outcome\""), "{page}");
    let (status, page) = console_post(&host, &format!("dead/{}/discard", dead[0]), &[]).await?;
    assert_eq!(status, 303, "{page}");
    host.stop().await;
    Ok(())
}
