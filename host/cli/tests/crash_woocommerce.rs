//! Crash test of the real `weft` binary with a WooCommerce storefront: `weft run` syncs a
//! simulated WooCommerce site with a simulated NetSuite account while merchant and ERP edits
//! keep coming and WooCommerce's webhooks are dropped, duplicated and reordered; the process is
//! killed with SIGKILL at random (seeded) instants, at least 20 times, and restarted each time.
//! WooCommerce never re-sends: deliveries made while weft is down are lost (the poll must find
//! those changes), and after seven failures in a row WooCommerce disables the webhook, which
//! weft's keeper (`[server] public_url` is set, so weft creates the webhooks itself) re-activates.
//!
//! At the end one last `weft run` settles, stops on Ctrl-C, and the two systems must agree:
//! field by field through the store's own mapper (`weft::demo_woo::verify_woo_store`), every
//! WooCommerce order exactly one NetSuite sales order, every NetSuite item exactly one
//! WooCommerce product, every WooCommerce customer exactly one NetSuite customer, stock conserved
//! on both sides (the opening stock plus ERP receipts minus units ordered, per SKU: a resent
//! stock set found by its marker, never applied twice, no sale overwritten), and no dead letters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener as StdListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tokio::process::{Child, Command};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_woocommerce::{ChaosConfig, DEFAULT_KEY, DEFAULT_SECRET, Kind, OrderLine, WooSim};
use weft_store::{Store, StoreStatus};

const SEED: u64 = 20_261_205;
const KILLS: usize = 24;
const ITEMS: usize = 8;
const CUSTOMERS: usize = 4;
const OPENING_STOCK: i64 = 50;
const EVENTS_PER_RUN: usize = 8;
const STORE: &str = "crash";
const NS_LOCATION: &str = "1";
const SETTLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The simulated world and what the test did to it.
struct World {
    woo: WooSim,
    netsuite: NetSuiteSim,
    _servers: (
        weft_sim_woocommerce::SimHandle,
        weft_sim_netsuite::SimServer,
    ),
    woo_url: String,
    netsuite_url: String,
    /// SKU -> NetSuite internal id.
    items: BTreeMap<String, String>,
    /// SKUs seen in sync once (WooCommerce product with the NetSuite quantity): merchant edits
    /// touch only these, so an order never races the initial creation of its product.
    live: Vec<String>,
    customers: Vec<u64>,
    orders: Vec<u64>,
    /// SKU -> units received in NetSuite.
    received: BTreeMap<String, i64>,
    /// SKU -> units ordered in WooCommerce.
    ordered: BTreeMap<String, i64>,
    merchant_events: usize,
    erp_events: usize,
}

/// One `weft run` process and its log.
struct Weft {
    child: Child,
    log: PathBuf,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_with_woocommerce_survives_repeated_sigkill_without_losing_or_duplicating() {
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let mut world = start_world().await;
    let port = free_port();
    let env = write_config(tmp.path(), &world, port);
    for k in 0..CUSTOMERS {
        let id = world
            .woo
            .create_customer(
                &format!("buyer{k}@crash.example"),
                &format!("Buyer{k}"),
                "Crash",
            )
            .expect("create a customer");
        world.customers.push(id);
    }

    let config = tmp.path().join("weft.toml");
    let http = reqwest::Client::new();
    let mut db: Option<Store> = None;
    let mut kills = 0usize;
    let mut killed_busy = 0usize;
    let mut killed_inflight = 0usize;
    let mut kill_log = String::new();
    let mut run = 0usize;
    while kills < KILLS {
        run += 1;
        let mut weft = spawn(&config, &env, tmp.path(), run);
        wait_ready(&http, port, &mut weft).await;
        if db.is_none() {
            // The first process has created and migrated the database by the time it is ready.
            db = Some(open_db(tmp.path()).await);
            // Let it compile and cache the plugins and create the catalog before the first
            // kill: on a loaded machine a compile can outlast every random instant, and then no
            // kill would hit work in progress.
            let deadline = Instant::now() + Duration::from_secs(120);
            while world.live.is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "the first run did not sync any SKU within 120 s:\n{}",
                    tail(&weft.log)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                mark_live(&mut world);
            }
        }
        // A random instant, spent generating edits on both sides.
        let wait = Duration::from_millis(rng.random_range(100..=1500));
        let step = wait / EVENTS_PER_RUN as u32;
        for _ in 0..EVENTS_PER_RUN {
            tokio::time::sleep(step).await;
            event(&mut world, &mut rng);
        }
        if let Ok(Some(status)) = weft.child.try_wait() {
            panic!(
                "weft run exited by itself ({status}) before kill {}:\n{}",
                kills + 1,
                tail(&weft.log)
            );
        }
        weft.child.start_kill().expect("SIGKILL weft run");
        let status = weft.child.wait().await.expect("wait for weft run");
        assert_eq!(
            status.signal(),
            Some(9),
            "weft run was not killed by SIGKILL ({status}):\n{}",
            tail(&weft.log)
        );
        kills += 1;
        let st = status_of(db.as_ref().expect("database open")).await;
        let busy = st.lag > 0 || st.outbox.pending > 0 || st.outbox.inflight > 0;
        killed_busy += usize::from(busy);
        killed_inflight += usize::from(st.outbox.inflight > 0);
        let _ = writeln!(
            kill_log,
            "kill {kills:>2} after {:>4} ms: lag {} pending {} inflight {} done {}",
            wait.as_millis(),
            st.lag,
            st.outbox.pending,
            st.outbox.inflight,
            st.outbox.done
        );
        mark_live(&mut world);
    }
    let killing = started.elapsed();

    // The last run: no more edits; it must settle, then stop cleanly on Ctrl-C.
    let mut weft = spawn(&config, &env, tmp.path(), run + 1);
    wait_ready(&http, port, &mut weft).await;
    let db = db.expect("database open");
    let settled = settle(&world, &db, &mut weft, &kill_log).await;
    interrupt(&mut weft).await;
    let status = db.status(STORE).await.expect("read status");
    let dead = db
        .list_dead_letters(Some(STORE), 20)
        .await
        .expect("list dead letters");

    // Verify.
    let mut problems = Vec::new();
    let mapper = verification_mapper(&world, tmp.path());
    let v = weft::demo_woo::verify_woo_store(
        &world.woo_url,
        &world.netsuite,
        &world.netsuite_url,
        &world.orders,
        &mapper,
    )
    .await
    .expect("verify both systems");
    problems.extend(v.drift_details.iter().cloned());
    if v.drift > v.drift_details.len() {
        problems.push(format!("... {} differences in all", v.drift));
    }
    check_exactly_once(&world, &mut problems);
    check_stock(&world, &mut problems);
    for d in &dead {
        problems.push(format!(
            "dead letter #{} {} {}/{} {}: {}",
            d.id,
            d.system,
            d.kind,
            d.key,
            d.op,
            d.last_error.as_deref().unwrap_or("")
        ));
    }
    let ws = world.woo.webhook_stats();
    let hooks = world.woo.all(Kind::Webhook);
    if hooks.len() != weft_woocommerce::webhook::TOPICS.len()
        || hooks.iter().any(|h| h["status"] != "active")
    {
        problems.push(format!(
            "weft's webhooks are not one active webhook per topic: {:?}",
            hooks
                .iter()
                .map(|h| (h["topic"].clone(), h["status"].clone()))
                .collect::<Vec<_>>()
        ));
    }
    let summary = format!(
        "seed {SEED}: {kills} kills ({killed_busy} with work pending, {killed_inflight} with writes in flight) in {:.1}s, settled in {:.1}s; \
         {} merchant + {} ERP edits, {} orders; webhooks {} sent, {} failed or dropped; \
         {} disabled by WooCommerce; {} records compared; counters {:?}\n{kill_log}",
        killing.as_secs_f64(),
        settled.as_secs_f64(),
        world.merchant_events,
        world.erp_events,
        world.orders.len(),
        ws.deliveries,
        ws.dropped + ws.failed,
        ws.webhooks_disabled,
        v.records_compared,
        status.counters,
    );
    eprintln!("{summary}");
    if !problems.is_empty() {
        // Keep weft's database and logs for a person to look at.
        problems.push(format!("weft's files are kept in {}", tmp.keep().display()));
    }
    assert!(
        problems.is_empty(),
        "{} problems after the crash run:\n  {}\n{summary}",
        problems.len(),
        problems.join("\n  ")
    );
    assert!(kills >= 20, "only {kills} kills: {summary}");
    assert!(
        killed_busy > 0,
        "no kill hit work in progress, so nothing was tested: {summary}"
    );
    assert!(!world.orders.is_empty(), "no orders were placed: {summary}");
    assert_eq!(v.orders_matched, world.orders.len(), "{summary}");
    assert!(v.records_compared > 0, "{summary}");
}

async fn start_world() -> World {
    let mut config = weft_sim_woocommerce::SimConfig {
        seed: SEED,
        ..weft_sim_woocommerce::SimConfig::default()
    };
    config.webhooks.chaos = ChaosConfig {
        drop_rate: 0.05,
        duplicate_rate: 0.05,
        reorder_window_ms: 200,
        delay_rate: 0.02,
        delay_ms: 2_000,
    };
    let woo = WooSim::new(config).expect("WooCommerce simulator config");
    let netsuite = NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(SEED))
        .expect("NetSuite simulator config");
    let wh = woo.serve_local().await.expect("serve WooCommerce");
    let ns = netsuite
        .serve(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
        .expect("serve NetSuite");
    let mut items = BTreeMap::new();
    for k in 0..ITEMS {
        let sku = format!("C-{k:04}");
        let id = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"),
                    "itemId": sku,
                    "displayName": format!("Crash product {k}"),
                    "salesDescription": format!("<p>Crash product {k}.</p>"),
                    "vendorName": "Acme",
                    "isInactive": false,
                    "basePrice": 10.0 + k as f64,
                }),
            )
            .expect("create an item");
        netsuite
            .erp_adjust_inventory(&id, NS_LOCATION, OPENING_STOCK as f64, Some("opening"))
            .expect("opening stock");
        items.insert(sku, id);
    }
    World {
        woo_url: wh.base_url.clone(),
        netsuite_url: ns.base_url(),
        woo,
        netsuite,
        _servers: (wh, ns),
        items,
        live: Vec::new(),
        customers: Vec::new(),
        orders: Vec::new(),
        received: BTreeMap::new(),
        ordered: BTreeMap::new(),
        merchant_events: 0,
        erp_events: 0,
    }
}

/// A port that was free a moment ago: every `weft run` listens on it, so the webhooks stay
/// valid across restarts.
fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// Writes `weft.toml` and `stores/crash.toml` (secrets by reference) and returns the
/// environment the references name.
fn write_config(dir: &Path, w: &World, port: u16) -> Vec<(String, String)> {
    let creds = w.netsuite.credentials().into_iter().next().expect("creds");
    let env = vec![
        ("CRASH_WC_KEY".to_owned(), DEFAULT_KEY.to_owned()),
        ("CRASH_WC_SECRET".to_owned(), DEFAULT_SECRET.to_owned()),
        (
            "CRASH_WC_WEBHOOK_SECRET".to_owned(),
            "crash-webhook-secret".to_owned(),
        ),
        ("CRASH_NS_CONSUMER_KEY".to_owned(), creds.consumer_key),
        ("CRASH_NS_CONSUMER_SECRET".to_owned(), creds.consumer_secret),
        ("CRASH_NS_TOKEN_ID".to_owned(), creds.token_id),
        ("CRASH_NS_TOKEN_SECRET".to_owned(), creds.token_secret),
    ];
    let host = format!(
        r#"stores_dir = "stores"
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
[storage]
url = "weft.db"
[runtime]
cache_dir = "cache"
pool_size = 16
"#
    );
    let store = format!(
        r#"[store]
id = "{STORE}"
[systems.woocommerce]
platform = "woocommerce"
site_url = "{woo_url}"
consumer_key = {{ env = "CRASH_WC_KEY" }}
consumer_secret = {{ env = "CRASH_WC_SECRET" }}
webhook_secrets = [{{ env = "CRASH_WC_WEBHOOK_SECRET" }}]
requests_per_second = 200
[systems.netsuite]
platform = "netsuite"
account_id = "{account}"
base_url = "{netsuite_url}"
consumer_key = {{ env = "CRASH_NS_CONSUMER_KEY" }}
consumer_secret = {{ env = "CRASH_NS_CONSUMER_SECRET" }}
token_id = {{ env = "CRASH_NS_TOKEN_ID" }}
token_secret = {{ env = "CRASH_NS_TOKEN_SECRET" }}
concurrency_limit = {limit}
[plugins]
mapper = "builtin:shopify-netsuite"
resolver = "builtin:system-of-record"
[plugins.resolvers]
"inventory-level.quantity" = "builtin:counter-merge"
[plugins.config]
locations = {{ woocommerce = "{NS_LOCATION}" }}
[policy]
default = "prefer-netsuite"
"variant.title" = "woocommerce"
"customer.*" = "woocommerce"
[schedule]
reconcile_interval = "1s"
cdc_interval = "1s"
poll_overlap = "5s"
cdc_overlap = "5s"
full_resync_cron = "never"
"#,
        woo_url = w.woo_url,
        account = w.netsuite.account_id(),
        netsuite_url = w.netsuite_url,
        limit = w.netsuite.config().concurrency_limit,
    );
    std::fs::create_dir_all(dir.join("stores")).expect("stores dir");
    std::fs::write(dir.join("weft.toml"), host).expect("write weft.toml");
    std::fs::write(dir.join("stores").join(format!("{STORE}.toml")), store)
        .expect("write the store file");
    env
}

fn spawn(config: &Path, env: &[(String, String)], dir: &Path, run: usize) -> Weft {
    let log = dir.join(format!("run-{run:02}.log"));
    let file = std::fs::File::create(&log).expect("create a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("run")
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("WEFT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("start weft run");
    Weft { child, log }
}

/// Waits until `/readyz` answers 200 (the store's loops and the intake are up).
async fn wait_ready(http: &reqwest::Client, port: u16, weft: &mut Weft) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = weft.child.try_wait() {
            panic!(
                "weft run exited ({status}) before it was ready:\n{}",
                tail(&weft.log)
            );
        }
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "weft run was not ready within 60 s:\n{}",
            tail(&weft.log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn open_db(dir: &Path) -> Store {
    Store::open(&format!("sqlite://{}", dir.join("weft.db").display()))
        .await
        .expect("open weft's database")
}

async fn status_of(db: &Store) -> StoreStatus {
    db.status(STORE).await.expect("read the store's status")
}

/// One merchant or ERP edit, like the demo's. The rng is drawn the same way whatever the world
/// looks like, so the seed fixes the plan.
fn event(w: &mut World, rng: &mut ChaCha8Rng) {
    let roll = rng.random_range(0..100u32);
    let pick = rng.random_range(0..ITEMS);
    let cents = rng.random_range(500..9000i64);
    let qty = rng.random_range(1..3i64);
    let receipt = rng.random_range(1..20i64);
    let customer = w.customers[rng.random_range(0..w.customers.len())];
    let phone = rng.random_range(0..10_000_000u32);
    let skus: Vec<String> = w.items.keys().cloned().collect();
    let sku = &skus[pick];
    let live = (!w.live.is_empty()).then(|| w.live[pick % w.live.len()].clone());
    match (roll, live) {
        (0..20, Some(sku)) => {
            w.merchant_events += 1;
            let id = w.woo.id_by_sku(&sku).expect("live product");
            w.woo
                .set_price(id, &format!("{}.{:02}", cents / 100, cents % 100), "")
                .expect("edit a price in WooCommerce");
        }
        (20..45, Some(sku)) => {
            w.merchant_events += 1;
            let order = w
                .woo
                .place_order(
                    customer,
                    &[OrderLine {
                        sku: sku.clone(),
                        quantity: qty,
                    }],
                )
                .expect("place an order in WooCommerce");
            w.orders.push(order);
            *w.ordered.entry(sku).or_default() += qty;
        }
        (45..55, _) => {
            w.merchant_events += 1;
            w.woo
                .update_customer(
                    customer,
                    json!({"billing": {"phone": format!("+4420{phone:07}")}}),
                )
                .expect("edit a customer in WooCommerce");
        }
        (0..75, _) => {
            w.erp_events += 1;
            w.netsuite
                .erp_update(
                    RecordType::InventoryItem,
                    &w.items[sku],
                    json!({ "basePrice": cents as f64 / 100.0 }),
                )
                .expect("edit a price in NetSuite");
        }
        (75..92, _) => {
            w.erp_events += 1;
            w.netsuite
                .erp_adjust_inventory(&w.items[sku], NS_LOCATION, receipt as f64, Some("receipt"))
                .expect("receive stock in NetSuite");
            *w.received.entry(sku.clone()).or_default() += receipt;
        }
        _ => {
            w.erp_events += 1;
            w.netsuite
                .erp_update(
                    RecordType::InventoryItem,
                    &w.items[sku],
                    json!({ "salesDescription": format!("<p>Revised {phone}.</p>") }),
                )
                .expect("edit a description in NetSuite");
        }
    }
}

/// Marks SKUs whose WooCommerce product holds NetSuite's quantity (the initial sync reached
/// them).
fn mark_live(w: &mut World) {
    for (sku, id) in &w.items {
        if w.live.contains(sku) {
            continue;
        }
        let shop = w.woo.id_by_sku(sku).and_then(|p| w.woo.stock(p));
        let q = w.netsuite.quantities(id, NS_LOCATION);
        if shop.is_some_and(|shop| shop as f64 == q.available - q.back_ordered) {
            w.live.push(sku.clone());
        }
    }
}

/// Waits until weft is quiet: WooCommerce has no webhook left to deliver, and two status reads a
/// couple of poll rounds apart (polls run every second) both find the journal processed, the
/// outbox empty and no new journal entry. Returns how long it took.
async fn settle(w: &World, db: &Store, weft: &mut Weft, kill_log: &str) -> Duration {
    let started = Instant::now();
    let deadline = started + SETTLE_TIMEOUT;
    assert!(
        w.woo.wait_webhooks_idle(SETTLE_TIMEOUT).await,
        "WooCommerce still had webhooks to deliver after {SETTLE_TIMEOUT:?}"
    );
    let mut quiet = 0;
    let mut head = -1;
    let mut last = None;
    // Quiet for three checks in a row (7.5 s, several 1 s poll rounds): a poll's correction of a
    // same-second tie between reordered webhooks can come a few rounds after the last change.
    while quiet < 3 {
        if let Ok(Some(status)) = weft.child.try_wait() {
            panic!(
                "the last weft run exited ({status}) while settling:\n{}",
                tail(&weft.log)
            );
        }
        assert!(
            Instant::now() < deadline,
            "weft did not settle within {SETTLE_TIMEOUT:?}; last status {last:?}\n{kill_log}\n{}",
            tail(&weft.log)
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let st = status_of(db).await;
        let idle =
            st.lag == 0 && st.outbox.pending == 0 && st.outbox.inflight == 0 && st.parked == 0;
        quiet = if idle && st.journal_head == head {
            quiet + 1
        } else {
            0
        };
        head = st.journal_head;
        last = Some(st);
    }
    started.elapsed()
}

/// Ctrl-C: `weft run` stops its loops and exits 0.
async fn interrupt(weft: &mut Weft) {
    let pid = weft.child.id().expect("weft run is running");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill -INT");
    assert!(sent.success(), "kill -INT {pid} failed");
    let status = tokio::time::timeout(Duration::from_secs(30), weft.child.wait())
        .await
        .expect("weft run did not stop within 30 s of Ctrl-C")
        .expect("wait for weft run");
    assert!(
        status.success(),
        "weft run did not exit cleanly on Ctrl-C ({status}):\n{}",
        tail(&weft.log)
    );
}

/// The store's mapper, configured as the store is, for reading both systems as canonical records.
fn verification_mapper(_w: &World, dir: &Path) -> weft_runtime::MapperInstance {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.join("cache")),
        max_instances: 16,
        ..RuntimeConfig::default()
    })
    .expect("plugin runtime");
    let bytes = weft_plugin_artifacts::stock("shopify-netsuite").expect("stock mapper");
    let plugin = runtime
        .load("shopify-netsuite", bytes)
        .expect("load the mapper");
    let config = json!({ "locations": { "woocommerce": NS_LOCATION } });
    runtime
        .mapper(
            &plugin,
            StoreCtx {
                store_id: STORE.into(),
                config: config.as_object().cloned().unwrap_or_default(),
                limits: Limits::default(),
            },
        )
        .expect("instantiate the mapper")
}

/// No record was created twice: one WooCommerce product per NetSuite item, one NetSuite
/// customer per WooCommerce customer, and nothing the test did not make.
fn check_exactly_once(w: &World, problems: &mut Vec<String>) {
    let mut products: BTreeMap<String, usize> = BTreeMap::new();
    for p in w.woo.all(Kind::Product) {
        if p["status"] != "trash" {
            *products
                .entry(p["sku"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    for sku in w.items.keys() {
        match products.remove(sku) {
            Some(1) => {}
            Some(n) => problems.push(format!("SKU {sku}: {n} WooCommerce products")),
            None => problems.push(format!("SKU {sku}: no WooCommerce product")),
        }
    }
    for (sku, n) in products {
        problems.push(format!(
            "WooCommerce product(s) of unknown SKU `{sku}`: {n}"
        ));
    }
    let customers = w.netsuite.records(RecordType::Customer);
    if customers.len() != w.customers.len() {
        let emails: Vec<&str> = customers
            .iter()
            .map(|c| c["email"].as_str().unwrap_or("?"))
            .collect();
        problems.push(format!(
            "{} NetSuite customers for {} WooCommerce customers: {emails:?}",
            customers.len(),
            w.customers.len()
        ));
    }
    let sales = w.netsuite.records(RecordType::SalesOrder);
    if sales.len() != w.orders.len() {
        problems.push(format!(
            "{} NetSuite sales orders for {} WooCommerce orders",
            sales.len(),
            w.orders.len()
        ));
    }
}

/// Stock as the ERP's ledger has it (no fulfilments in this test): NetSuite on hand = opening +
/// receipts, committed + back ordered = ordered, WooCommerce's stock = opening + receipts -
/// ordered. A sale counted twice (as an order and as an adjustment), or an adjustment lost,
/// shows as a difference.
fn check_stock(w: &World, problems: &mut Vec<String>) {
    for (sku, id) in &w.items {
        let received = w.received.get(sku).copied().unwrap_or(0);
        let ordered = w.ordered.get(sku).copied().unwrap_or(0);
        let expected = OPENING_STOCK + received - ordered;
        let q = w.netsuite.quantities(id, NS_LOCATION);
        let erp_ok = q.on_hand == (OPENING_STOCK + received) as f64
            && q.committed + q.back_ordered == ordered as f64;
        if !erp_ok {
            problems.push(format!(
                "SKU {sku}: NetSuite on hand {} committed {} back ordered {}, expected {} and {ordered}",
                q.on_hand,
                q.committed,
                q.back_ordered,
                OPENING_STOCK + received
            ));
        }
        let shop = w.woo.id_by_sku(sku).and_then(|p| w.woo.stock(p));
        if shop != Some(expected) {
            problems.push(format!(
                "SKU {sku}: WooCommerce stock_quantity {shop:?}, expected {expected}"
            ));
        }
        if !erp_ok || shop != Some(expected) {
            problems.push(stock_history(w, sku, id));
        }
    }
}

/// What moved one SKU's stock, for a failure message: the test's receipts and orders, and every
/// NetSuite inventory adjustment of the item (weft's carry an external id).
fn stock_history(w: &World, sku: &str, item: &str) -> String {
    let mut out = format!(
        "SKU {sku} (NetSuite item {item}): opening {OPENING_STOCK}, received {}, ordered {}; adjustments:",
        w.received.get(sku).copied().unwrap_or(0),
        w.ordered.get(sku).copied().unwrap_or(0)
    );
    for adj in w.netsuite.records(RecordType::InventoryAdjustment) {
        for line in adj["inventory"]["items"].as_array().into_iter().flatten() {
            let of_item = line["item"]["id"].as_str() == Some(item)
                || line["item"]["id"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .as_deref()
                    == Some(item);
            if of_item {
                let _ = write!(
                    out,
                    "\n    #{} {} ext {} memo {} qty {}",
                    adj["id"],
                    adj["createdDate"].as_str().unwrap_or(""),
                    adj["externalId"].as_str().unwrap_or("-"),
                    adj["memo"].as_str().unwrap_or("-"),
                    line["adjustQtyBy"]
                );
            }
        }
    }
    out
}

/// The end of a run's log, for failure messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    format!("--- {} ---\n{}", log.display(), lines[from..].join("\n"))
}
