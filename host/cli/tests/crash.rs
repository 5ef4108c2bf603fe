//! Crash test of the real `weft` binary: `weft run` syncs a simulated Shopify shop with a
//! simulated NetSuite account while merchant and ERP edits keep coming and Shopify's webhooks are
//! dropped, duplicated and reordered; the process is killed with SIGKILL at random (seeded)
//! instants, at least 20 times, and restarted each time. Webhooks sent while it is down fail and
//! Shopify retries them or gives up (the reconciliation polls must find those changes).
//!
//! At the end one last `weft run` settles, stops on Ctrl-C, and the two systems must agree:
//! field by field through the store's own mapper (`weft::demo::verify_store`), every Shopify
//! order exactly one NetSuite sales order, every NetSuite item exactly one Shopify variant,
//! every Shopify customer exactly one NetSuite customer, stock conserved on both sides (the
//! ERP's ledger per SKU: on hand = opening + receipts - fulfilled, committed = ordered -
//! fulfilled, Shopify available = opening + receipts - ordered), and no dead letters.

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
use weft_sim_shopify::{
    ChaosConfig, CustomerFields, NewOrder, NewOrderLine, ShopifySim, VariantEdit,
};
use weft_store::{Store, StoreStatus};

const SEED: u64 = 20_261_127;
const KILLS: usize = 24;
const ITEMS: usize = 8;
const CUSTOMERS: usize = 4;
const OPENING_STOCK: i64 = 50;
const EVENTS_PER_RUN: usize = 8;
const STORE: &str = "crash";
const API_VERSION: &str = "2026-04";
const NS_LOCATION: &str = "1";
const SETTLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The simulated world and what the test did to it.
struct World {
    shopify: ShopifySim,
    netsuite: NetSuiteSim,
    _servers: (weft_sim_shopify::SimHandle, weft_sim_netsuite::SimServer),
    shopify_url: String,
    netsuite_url: String,
    location: u64,
    /// SKU -> NetSuite internal id.
    items: BTreeMap<String, String>,
    /// SKUs seen in sync once (Shopify variant with the NetSuite quantity): merchant edits
    /// touch only these, so an order never races the initial creation of its product.
    live: Vec<String>,
    customers: Vec<u64>,
    orders: Vec<u64>,
    /// Each order's SKU (one line each).
    order_skus: BTreeMap<u64, String>,
    /// SKU -> units received in NetSuite.
    received: BTreeMap<String, i64>,
    /// SKU -> units ordered in Shopify.
    ordered: BTreeMap<String, i64>,
    /// SKU -> units fulfilled (shipped) in NetSuite.
    fulfilled: BTreeMap<String, i64>,
    merchant_events: usize,
    erp_events: usize,
}

/// One `weft run` process and its log.
struct Weft {
    child: Child,
    log: PathBuf,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_survives_repeated_sigkill_without_losing_or_duplicating() {
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let mut world = start_world().await;
    let port = free_port();
    let env = write_config(tmp.path(), &world, port);
    world
        .shopify
        .subscribe_all(&format!("http://127.0.0.1:{port}/webhooks/shopify/{STORE}"))
        .expect("subscribe to webhooks");
    for k in 0..CUSTOMERS {
        let id = world
            .shopify
            .create_customer(CustomerFields {
                email: Some(format!("buyer{k}@crash.example")),
                first_name: Some(format!("Buyer{k}")),
                last_name: Some("Crash".into()),
                ..CustomerFields::default()
            })
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
    let v = weft::demo::verify_store(
        &world.shopify,
        &world.shopify_url,
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
    let ws = world.shopify.webhook_stats();
    let summary = format!(
        "seed {SEED}: {kills} kills ({killed_busy} with work pending, {killed_inflight} with writes in flight) in {:.1}s, settled in {:.1}s; \
         {} merchant + {} ERP edits, {} orders; webhooks {} sent, {} failed or dropped; \
         {} records compared; counters {:?}\n{kill_log}",
        killing.as_secs_f64(),
        settled.as_secs_f64(),
        world.merchant_events,
        world.erp_events,
        world.orders.len(),
        ws.deliveries,
        ws.dropped,
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
    let shopify = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(SEED)
            .chaos(ChaosConfig {
                drop_rate: 0.05,
                duplicate_rate: 0.05,
                reorder_window_ms: 200,
                late_rate: 0.02,
                ..ChaosConfig::default()
            })
            // Shopify's 4 hours of webhook retries take 4 seconds.
            .time_compression(3600.0)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .expect("Shopify simulator config"),
    );
    let netsuite = NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(SEED))
        .expect("NetSuite simulator config");
    let sh = shopify
        .serve(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
        .expect("serve Shopify");
    let ns = netsuite
        .serve(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
        .expect("serve NetSuite");
    let location = shopify.location_ids()[0];
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
        shopify_url: sh.base_url.clone(),
        netsuite_url: ns.base_url(),
        shopify,
        netsuite,
        _servers: (sh, ns),
        location,
        items,
        live: Vec::new(),
        customers: Vec::new(),
        orders: Vec::new(),
        order_skus: BTreeMap::new(),
        received: BTreeMap::new(),
        ordered: BTreeMap::new(),
        fulfilled: BTreeMap::new(),
        merchant_events: 0,
        erp_events: 0,
    }
}

/// A port that was free a moment ago: every `weft run` listens on it, so the webhook
/// subscriptions stay valid across restarts.
fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// Writes `weft.toml` and `stores/crash.toml` (secrets by reference) and returns the
/// environment the references name.
fn write_config(dir: &Path, w: &World, port: u16) -> Vec<(String, String)> {
    let creds = w.netsuite.credentials().into_iter().next().expect("creds");
    let env = vec![
        (
            "CRASH_SHOPIFY_TOKEN".to_owned(),
            w.shopify.config().access_tokens[0].clone(),
        ),
        (
            "CRASH_SHOPIFY_WEBHOOK_SECRET".to_owned(),
            w.shopify.config().client_secrets[0].clone(),
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
[systems.shopify]
platform = "shopify"
shop = "{shop}"
base_url = "{shopify_url}"
api_version = "{API_VERSION}"
access_token = {{ env = "CRASH_SHOPIFY_TOKEN" }}
webhook_secrets = [{{ env = "CRASH_SHOPIFY_WEBHOOK_SECRET" }}]
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
locations = {{ "{location}" = "{NS_LOCATION}" }}
[policy]
default = "prefer-netsuite"
"variant.title" = "shopify"
"customer.*" = "shopify"
[schedule]
reconcile_interval = "1s"
cdc_interval = "1s"
poll_overlap = "5s"
cdc_overlap = "5s"
full_resync_cron = "never"
"#,
        shop = w.shopify.config().shop_domain,
        shopify_url = w.shopify_url,
        account = w.netsuite.account_id(),
        netsuite_url = w.netsuite_url,
        limit = w.netsuite.config().concurrency_limit,
        location = w.location,
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
            let variant = w.shopify.variant_by_sku(&sku).expect("live variant");
            w.shopify
                .edit_variant(
                    variant,
                    VariantEdit {
                        price: Some(format!("{}.{:02}", cents / 100, cents % 100)),
                        ..VariantEdit::default()
                    },
                )
                .expect("edit a price in Shopify");
        }
        (20..45, Some(sku)) => {
            w.merchant_events += 1;
            let order = w
                .shopify
                .place_order(NewOrder {
                    customer_id: Some(customer.to_string()),
                    line_items: vec![NewOrderLine {
                        sku: Some(sku.clone()),
                        quantity: qty,
                        ..NewOrderLine::default()
                    }],
                    ..NewOrder::default()
                })
                .expect("place an order in Shopify");
            w.orders.push(order);
            w.order_skus.insert(order, sku.clone());
            *w.ordered.entry(sku).or_default() += qty;
        }
        (45..55, _) => {
            w.merchant_events += 1;
            w.shopify
                .edit_customer(
                    customer,
                    CustomerFields {
                        phone: Some(format!("+4420{phone:07}")),
                        ..CustomerFields::default()
                    },
                )
                .expect("edit a customer in Shopify");
        }
        (55..62, _) if !w.orders.is_empty() => {
            // The warehouse ships one of the orders (all it committed, or one unit), if weft
            // has made it a sales order by now.
            w.erp_events += 1;
            let order = w.orders[pick % w.orders.len()];
            let so = format!("eid:shopify-order-{order}");
            if let Some(sku) = w.order_skus.get(&order).cloned() {
                let item = w.items[&sku].clone();
                let before = w.netsuite.quantities(&item, NS_LOCATION).on_hand;
                let lines: &[(u64, f64)] = if qty == 1 { &[(1, 1.0)] } else { &[] };
                let tracking = format!("1Z{phone:010}");
                if w.netsuite
                    .erp_fulfil(&so, lines, &[tracking.as_str()], Some("ups"))
                    .is_ok()
                {
                    let shipped = before - w.netsuite.quantities(&item, NS_LOCATION).on_hand;
                    *w.fulfilled.entry(sku).or_default() += shipped.round() as i64;
                }
            }
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

/// Marks SKUs whose Shopify variant holds NetSuite's quantity (the initial sync reached them).
fn mark_live(w: &mut World) {
    for (sku, id) in &w.items {
        if w.live.contains(sku) {
            continue;
        }
        let shop = w
            .shopify
            .variant_by_sku(sku)
            .and_then(|v| w.shopify.inventory_item_of(v))
            .and_then(|item| w.shopify.available(item, w.location));
        let q = w.netsuite.quantities(id, NS_LOCATION);
        if shop.is_some_and(|shop| shop as f64 == q.available - q.back_ordered) {
            w.live.push(sku.clone());
        }
    }
}

/// Waits until weft is quiet: Shopify has no webhook left to deliver, and two status reads a
/// couple of poll rounds apart (polls run every second) both find the journal processed, the
/// outbox empty and no new journal entry. Returns how long it took.
async fn settle(w: &World, db: &Store, weft: &mut Weft, kill_log: &str) -> Duration {
    let started = Instant::now();
    let deadline = started + SETTLE_TIMEOUT;
    assert!(
        w.shopify.wait_webhooks_idle(SETTLE_TIMEOUT).await,
        "Shopify still had webhooks to deliver after {SETTLE_TIMEOUT:?}"
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
fn verification_mapper(w: &World, dir: &Path) -> weft_runtime::MapperInstance {
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
    let config = json!({ "locations": { w.location.to_string(): NS_LOCATION } });
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

/// No record was created twice: one Shopify variant per NetSuite item, one NetSuite customer
/// per Shopify customer, and nothing the test did not make.
fn check_exactly_once(w: &World, problems: &mut Vec<String>) {
    let dump = w.shopify.dump();
    let mut variants: BTreeMap<String, usize> = BTreeMap::new();
    for p in dump["products"].as_array().into_iter().flatten() {
        for v in p["variants"].as_array().into_iter().flatten() {
            *variants
                .entry(v["sku"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    for sku in w.items.keys() {
        match variants.remove(sku) {
            Some(1) => {}
            Some(n) => problems.push(format!("SKU {sku}: {n} Shopify variants")),
            None => problems.push(format!("SKU {sku}: no Shopify variant")),
        }
    }
    for (sku, n) in variants {
        problems.push(format!("Shopify variant(s) of unknown SKU `{sku}`: {n}"));
    }
    let customers = w.netsuite.records(RecordType::Customer);
    if customers.len() != w.customers.len() {
        let emails: Vec<&str> = customers
            .iter()
            .map(|c| c["email"].as_str().unwrap_or("?"))
            .collect();
        problems.push(format!(
            "{} NetSuite customers for {} Shopify customers: {emails:?}",
            customers.len(),
            w.customers.len()
        ));
    }
    let sales = w.netsuite.records(RecordType::SalesOrder);
    if sales.len() != w.orders.len() {
        problems.push(format!(
            "{} NetSuite sales orders for {} Shopify orders",
            sales.len(),
            w.orders.len()
        ));
    }
}

/// Stock as the ERP's ledger has it, per SKU at the location: NetSuite on hand = opening +
/// receipts - fulfilled; committed + back ordered = ordered - fulfilled; Shopify available =
/// NetSuite available - back ordered = opening + receipts - ordered. A sale counted twice (as
/// an order and as an adjustment), or an adjustment lost, shows as a difference.
fn check_stock(w: &World, problems: &mut Vec<String>) {
    for (sku, id) in &w.items {
        let get = |m: &BTreeMap<String, i64>| m.get(sku).copied().unwrap_or(0);
        let (received, ordered, fulfilled) = (get(&w.received), get(&w.ordered), get(&w.fulfilled));
        let q = w.netsuite.quantities(id, NS_LOCATION);
        let mut bad = false;
        let on_hand = OPENING_STOCK + received - fulfilled;
        if q.on_hand != on_hand as f64 {
            bad = true;
            problems.push(format!(
                "SKU {sku}: NetSuite on hand {}, expected {on_hand}",
                q.on_hand
            ));
        }
        if q.committed + q.back_ordered != (ordered - fulfilled) as f64 {
            bad = true;
            problems.push(format!(
                "SKU {sku}: NetSuite committed {} + back ordered {}, expected {}",
                q.committed,
                q.back_ordered,
                ordered - fulfilled
            ));
        }
        let expected = OPENING_STOCK + received - ordered;
        let shop = w
            .shopify
            .variant_by_sku(sku)
            .and_then(|v| w.shopify.inventory_item_of(v))
            .and_then(|item| w.shopify.available(item, w.location));
        if shop != Some(expected) {
            bad = true;
            problems.push(format!(
                "SKU {sku}: Shopify available {shop:?}, expected {expected}"
            ));
        }
        if bad {
            problems.push(stock_history(w, sku, id));
        }
    }
}

/// What moved one SKU's stock, for a failure message: the test's receipts and orders, and every
/// NetSuite inventory adjustment of the item (weft's carry an external id).
fn stock_history(w: &World, sku: &str, item: &str) -> String {
    let mut out = format!(
        "SKU {sku} (NetSuite item {item}): opening {OPENING_STOCK}, received {}, ordered {}, fulfilled {}; adjustments:",
        w.received.get(sku).copied().unwrap_or(0),
        w.ordered.get(sku).copied().unwrap_or(0),
        w.fulfilled.get(sku).copied().unwrap_or(0)
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
