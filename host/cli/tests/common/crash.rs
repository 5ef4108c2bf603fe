//! The crash tests' shared harness: the real `weft` binary runs a store of one simulated
//! storefront ([`Storefront`]) and a simulated NetSuite account while merchant and ERP edits
//! keep coming and the storefront's webhooks are dropped, duplicated and reordered; the process
//! is killed with SIGKILL at random (seeded) instants, [`KILLS`] times, and restarted each
//! time. At the end one last `weft run` settles, stops on Ctrl-C, and the two systems must
//! agree: field by field through the store's own mapper, every storefront order exactly one
//! NetSuite sales order, every NetSuite item exactly one storefront product or variant, every
//! storefront customer exactly one NetSuite customer, stock as the ERP's ledger has it (on
//! hand = opening + receipts - fulfilled, committed + back ordered = ordered - fulfilled, the
//! storefront = opening + receipts - ordered), whatever the storefront checks of its own, and
//! no dead letters.
//!
//! Each crash test is the storefront's [`Storefront`] implementation and one call of [`run`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::TcpListener as StdListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use weft::demo::Verification;
use weft_runtime::{Limits, MapperInstance, Runtime, RuntimeConfig, StoreCtx};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_store::{Store, StoreStatus};

/// SIGKILLs per test.
pub const KILLS: usize = 24;
/// NetSuite items of the catalog.
pub const ITEMS: usize = 8;
const CUSTOMERS: usize = 4;
/// Units of every item on hand in NetSuite before weft starts.
pub const OPENING_STOCK: i64 = 50;
const EVENTS_PER_RUN: usize = 8;
/// The store's id.
pub const STORE: &str = "crash";
/// The NetSuite location of the stock.
pub const NS_LOCATION: &str = "1";
const SETTLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A simulated storefront under the crash test.
pub trait Storefront: Sync {
    /// The system's (and platform's) name.
    const SYSTEM: &'static str;
    /// Its name for people.
    const LABEL: &'static str;
    /// Whether the warehouse ships orders in NetSuite during the test (the storefront then
    /// gets fulfilments).
    const FULFILS: bool;
    /// The environment its section's secret references name.
    fn env(&self) -> Vec<(String, String)>;
    /// Its `[systems.<name>]` section.
    fn section(&self) -> String;
    /// The stock mapper's `locations` (a JSON object, written into the store file as TOML).
    fn locations(&self) -> Value;
    /// Whether weft keeps the storefront's webhooks itself (`[server] public_url` is set).
    fn keeps_webhooks(&self) -> bool;
    /// Subscribes the storefront to weft's intake at `url` when weft does not.
    fn subscribe(&self, url: &str);
    /// A merchant creates customer `k`.
    fn create_customer(&self, k: usize) -> u64;
    /// A merchant sets the price of `sku`.
    fn set_price(&self, sku: &str, price: &str);
    /// A shopper orders `qty` of `sku`.
    fn place_order(&self, customer: u64, sku: &str, qty: i64) -> u64;
    /// A customer changes their phone number.
    fn set_phone(&self, customer: u64, phone: &str);
    /// What the storefront shows for `sku`.
    fn shows(&self, sku: &str) -> Option<i64>;
    /// How many storefront records (products or variants) hold each SKU.
    fn sku_counts(&self) -> BTreeMap<String, usize>;
    /// Waits until no webhook is left to deliver (false when `limit` passed first).
    fn webhooks_idle(&self, limit: Duration) -> impl Future<Output = bool>;
    /// Reads both systems afresh and compares them through `mapper`.
    fn verify(
        &self,
        netsuite: &NetSuiteSim,
        netsuite_url: &str,
        orders: &[u64],
        mapper: &MapperInstance,
    ) -> impl Future<Output = anyhow::Result<Verification>>;
    /// Its own checks (pushed to `problems`), and what its webhooks did, for the summary.
    fn check(&self, problems: &mut Vec<String>) -> String;
}

/// The simulated world and what the test did to it.
struct World<S> {
    shop: S,
    netsuite: NetSuiteSim,
    _netsuite_server: weft_sim_netsuite::SimServer,
    netsuite_url: String,
    /// SKU -> NetSuite internal id.
    items: BTreeMap<String, String>,
    /// SKUs seen in sync once (the storefront shows NetSuite's quantity): merchant edits touch
    /// only these, so an order never races the initial creation of its product.
    live: Vec<String>,
    customers: Vec<u64>,
    orders: Vec<u64>,
    /// Each order's SKU (one line each).
    order_skus: BTreeMap<u64, String>,
    /// SKU -> units received in NetSuite.
    received: BTreeMap<String, i64>,
    /// SKU -> units ordered in the storefront.
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

/// Runs the crash test over `shop`, seeded with `seed`.
pub async fn run<S: Storefront>(shop: S, seed: u64) {
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let mut world = start_world(shop, seed).await;
    let port = free_port();
    let env = write_config(tmp.path(), &world, port);
    if !world.shop.keeps_webhooks() {
        world.shop.subscribe(&format!(
            "http://127.0.0.1:{port}/webhooks/{}/{STORE}",
            S::SYSTEM
        ));
    }
    for k in 0..CUSTOMERS {
        let id = world.shop.create_customer(k);
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
    let v = world
        .shop
        .verify(&world.netsuite, &world.netsuite_url, &world.orders, &mapper)
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
    // A restart after a kill is its predecessor's successor, never a second live process
    // under the host id (the killed process's beat has not expired yet).
    for r in 1..=run + 1 {
        let log = tmp.path().join(format!("run-{r:02}.log"));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("another live process runs with this host id") {
            problems.push(format!(
                "run {r} reported a second live process under its host id:\n{}",
                tail(&log)
            ));
        }
    }
    let webhooks = world.shop.check(&mut problems);
    let missing: Vec<String> = problems
        .iter()
        .filter_map(|p| p.strip_prefix("order ")?.split_once(": no sales order"))
        .map(|(id, _)| id.to_owned())
        .collect();
    for id in missing {
        problems.push(order_trail(&db, &id).await);
    }
    let summary = format!(
        "{} seed {seed}: {kills} kills ({killed_busy} with work pending, {killed_inflight} with writes in flight) in {:.1}s, settled in {:.1}s; \
         {} merchant + {} ERP edits, {} orders; webhooks {webhooks}; \
         {} records compared; counters {:?}\n{kill_log}",
        S::LABEL,
        killing.as_secs_f64(),
        settled.as_secs_f64(),
        world.merchant_events,
        world.erp_events,
        world.orders.len(),
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

async fn start_world<S: Storefront>(shop: S, seed: u64) -> World<S> {
    let netsuite = NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(seed))
        .expect("NetSuite simulator config");
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
        shop,
        netsuite_url: ns.base_url(),
        netsuite,
        _netsuite_server: ns,
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

/// A JSON object of strings as a TOML inline table.
fn inline_table(v: &Value) -> String {
    let pairs: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k:?} = {:?}", v.as_str().unwrap_or_default()))
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// Writes `weft.toml` and `stores/crash.toml` (secrets by reference) and returns the
/// environment the references name.
fn write_config<S: Storefront>(dir: &Path, w: &World<S>, port: u16) -> Vec<(String, String)> {
    let creds = w.netsuite.credentials().into_iter().next().expect("creds");
    let mut env = w.shop.env();
    env.extend([
        ("CRASH_NS_CONSUMER_KEY".to_owned(), creds.consumer_key),
        ("CRASH_NS_CONSUMER_SECRET".to_owned(), creds.consumer_secret),
        ("CRASH_NS_TOKEN_ID".to_owned(), creds.token_id),
        ("CRASH_NS_TOKEN_SECRET".to_owned(), creds.token_secret),
    ]);
    let public_url = if w.shop.keeps_webhooks() {
        format!("public_url = \"http://127.0.0.1:{port}\"\n")
    } else {
        String::new()
    };
    let host = format!(
        r#"stores_dir = "stores"
[server]
listen = "127.0.0.1:{port}"
{public_url}[storage]
url = "weft.db"
[runtime]
cache_dir = "cache"
pool_size = 16
[cluster]
# One id across restarts: each new process takes the killed one's store back at once (and
# fences it) instead of waiting for its lease to expire.
host_id = "crash"
"#
    );
    let store = format!(
        r#"[store]
id = "{STORE}"
{section}[systems.netsuite]
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
locations = {locations}
[policy]
default = "prefer-netsuite"
"variant.title" = "{system}"
"customer.*" = "{system}"
[schedule]
reconcile_interval = "1s"
cdc_interval = "1s"
poll_overlap = "5s"
cdc_overlap = "5s"
full_resync_cron = "never"
"#,
        section = w.shop.section(),
        system = S::SYSTEM,
        locations = inline_table(&w.shop.locations()),
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

/// What weft holds of storefront order `id`: every journal entry and outbox row naming it, and
/// set-aside entries, so a missing sales order says where it stopped.
async fn order_trail(db: &Store, id: &str) -> String {
    let mut out = format!("order {id} in weft:");
    let journal = db
        .journal_since(STORE, 0, 1_000_000)
        .await
        .expect("read the journal");
    for e in journal.iter().filter(|e| e.entity_id.contains(id)) {
        let _ = write!(
            out,
            "\n    journal #{} {} {} v{} {:?} delivery {:?} at {}",
            e.seq, e.system, e.kind, e.version, e.source, e.delivery_id, e.received_at
        );
    }
    let outbox = db
        .list_outbox(Some(STORE), None, 100_000)
        .await
        .expect("read the outbox");
    for o in outbox
        .iter()
        .filter(|o| o.key.contains(id) || o.body.to_string().contains(id))
    {
        let _ = write!(
            out,
            "\n    outbox #{} {} {}/{} {} {:?} attempts {} error {:?}",
            o.id, o.system, o.kind, o.key, o.op, o.status, o.attempts, o.last_error
        );
    }
    let set_aside = db
        .list_set_aside(&Default::default(), 1000)
        .await
        .expect("read set-aside entries");
    for (_, a) in set_aside
        .iter()
        .filter(|(_, a)| format!("{a:?}").contains(id))
    {
        let _ = write!(out, "\n    set aside {a:?}");
    }
    out
}

async fn status_of(db: &Store) -> StoreStatus {
    db.status(STORE).await.expect("read the store's status")
}

/// One merchant or ERP edit, like the demo's. The rng is drawn the same way whatever the world
/// looks like, so the seed fixes the plan.
fn event<S: Storefront>(w: &mut World<S>, rng: &mut ChaCha8Rng) {
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
            w.shop
                .set_price(&sku, &format!("{}.{:02}", cents / 100, cents % 100));
        }
        (20..45, Some(sku)) => {
            w.merchant_events += 1;
            let order = w.shop.place_order(customer, &sku, qty);
            w.orders.push(order);
            w.order_skus.insert(order, sku.clone());
            *w.ordered.entry(sku).or_default() += qty;
        }
        (45..55, _) => {
            w.merchant_events += 1;
            w.shop.set_phone(customer, &format!("+4420{phone:07}"));
        }
        (55..62, _) if S::FULFILS && !w.orders.is_empty() => {
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

/// Marks SKUs whose storefront stock is NetSuite's (the initial sync reached them).
fn mark_live<S: Storefront>(w: &mut World<S>) {
    for (sku, id) in &w.items {
        if w.live.contains(sku) {
            continue;
        }
        let q = w.netsuite.quantities(id, NS_LOCATION);
        if w.shop
            .shows(sku)
            .is_some_and(|shop| shop as f64 == q.available - q.back_ordered)
        {
            w.live.push(sku.clone());
        }
    }
}

/// Waits until weft is quiet: the storefront has no webhook left to deliver, every change
/// source has committed a round of each of its streams since this last run started (a round
/// can take many seconds when the shop's query budget is spent: one begun before the run's
/// first quiet look can still journal what a lost webhook carried), and three status reads a
/// couple of poll rounds apart all find the journal processed, the outbox empty and no new
/// journal entry. Returns how long it took.
async fn settle<S: Storefront>(
    w: &World<S>,
    db: &Store,
    weft: &mut Weft,
    kill_log: &str,
) -> Duration {
    let started = Instant::now();
    let run_began = chrono::Utc::now();
    let deadline = started + SETTLE_TIMEOUT;
    assert!(
        w.shop.webhooks_idle(SETTLE_TIMEOUT).await,
        "{} still had webhooks to deliver after {SETTLE_TIMEOUT:?}",
        S::LABEL
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
            "weft did not settle within {SETTLE_TIMEOUT:?}; last status and streams without a round since the run began {last:?}\n{kill_log}\n{}",
            tail(&weft.log)
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let st = status_of(db).await;
        let behind: Vec<String> = db
            .watermark_times(STORE)
            .await
            .expect("read the watermarks")
            .into_iter()
            .filter(|(_, at)| *at < run_began)
            .map(|(stream, _)| stream)
            .collect();
        let idle = behind.is_empty()
            && st.lag == 0
            && st.outbox.pending == 0
            && st.outbox.inflight == 0
            && st.parked == 0;
        quiet = if idle && st.journal_head == head {
            quiet + 1
        } else {
            0
        };
        head = st.journal_head;
        last = Some((st, behind));
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
    let status = match tokio::time::timeout(Duration::from_secs(30), weft.child.wait()).await {
        Ok(status) => status.expect("wait for weft run"),
        Err(_) => panic!(
            "weft run did not stop within 30 s of Ctrl-C:\n{}",
            tail(&weft.log)
        ),
    };
    assert!(
        status.success(),
        "weft run did not exit cleanly on Ctrl-C ({status}):\n{}",
        tail(&weft.log)
    );
    // A slow stop is not a failure (the host aborts what is left after its grace), but what
    // held it up is worth seeing.
    let log = std::fs::read_to_string(&weft.log).unwrap_or_default();
    for line in log
        .lines()
        .filter(|l| l.contains("still stopping") || l.contains("stop: tasks still running"))
    {
        eprintln!("slow stop: {line}");
    }
}

/// The store's mapper, configured as the store is, for reading both systems as canonical records.
fn verification_mapper<S: Storefront>(w: &World<S>, dir: &Path) -> MapperInstance {
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
    let config = json!({ "locations": w.shop.locations() });
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

/// No record was created twice: one storefront product or variant per NetSuite item, one
/// NetSuite customer per storefront customer, one sales order per order, and nothing the test
/// did not make.
fn check_exactly_once<S: Storefront>(w: &World<S>, problems: &mut Vec<String>) {
    let label = S::LABEL;
    let mut counts = w.shop.sku_counts();
    for sku in w.items.keys() {
        match counts.remove(sku) {
            Some(1) => {}
            Some(n) => problems.push(format!("SKU {sku}: {n} {label} records")),
            None => problems.push(format!("SKU {sku}: not in {label}")),
        }
    }
    for (sku, n) in counts {
        problems.push(format!("{label} record(s) of unknown SKU `{sku}`: {n}"));
    }
    let customers = w.netsuite.records(RecordType::Customer);
    if customers.len() != w.customers.len() {
        let emails: Vec<&str> = customers
            .iter()
            .map(|c| c["email"].as_str().unwrap_or("?"))
            .collect();
        problems.push(format!(
            "{} NetSuite customers for {} {label} customers: {emails:?}",
            customers.len(),
            w.customers.len()
        ));
    }
    let sales = w.netsuite.records(RecordType::SalesOrder);
    if sales.len() != w.orders.len() {
        problems.push(format!(
            "{} NetSuite sales orders for {} {label} orders",
            sales.len(),
            w.orders.len()
        ));
    }
}

/// Stock as the ERP's ledger has it, per SKU at the location: NetSuite on hand = opening +
/// receipts - fulfilled; committed + back ordered = ordered - fulfilled; the storefront =
/// NetSuite available - back ordered = opening + receipts - ordered. A sale counted twice (as
/// an order and as an adjustment), or an adjustment lost, shows as a difference.
fn check_stock<S: Storefront>(w: &World<S>, problems: &mut Vec<String>) {
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
        let shop = w.shop.shows(sku);
        if shop != Some(expected) {
            bad = true;
            problems.push(format!(
                "SKU {sku}: {} shows {shop:?}, expected {expected}",
                S::LABEL
            ));
        }
        if bad {
            problems.push(stock_history(w, sku, id));
        }
    }
}

/// What moved one SKU's stock, for a failure message: the test's receipts and orders, and every
/// NetSuite inventory adjustment of the item (weft's carry an external id).
fn stock_history<S>(w: &World<S>, sku: &str, item: &str) -> String {
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
