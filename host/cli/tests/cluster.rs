//! Several hosts, one database: three `weft run` processes (host ids `a`, `b`, `c`) on one
//! PostgreSQL schema share 30 stores, each a simulated Shopify shop (webhooks dropped,
//! duplicated and reordered) and a simulated NetSuite account, while merchant orders and price
//! edits and ERP receipts and price edits keep coming. Webhooks reach the hosts through a
//! round-robin TCP balancer, so a store's webhooks mostly land on hosts that do not serve it.
//!
//! 1. The hosts spread the stores (10 each).
//! 2. `a` is SIGKILLed: its stores move to `b` and `c` within the lease TTL; `a` is started
//!    again and gets its share back.
//! 3. `c` is stopped cleanly (SIGTERM): it hands its stores back and exits 0; they move at the
//!    others' next round.
//! 4. `b` is frozen (SIGSTOP) past its TTL: `a` takes every store; `b` is thawed (SIGCONT): its
//!    writes are refused (fenced: the log says so, its old epochs are gone), and it rejoins.
//! 5. Edits stop; everything settles; both hosts stop cleanly. Then, per store: drift 0 field
//!    by field, every order exactly one NetSuite sales order, every item one Shopify variant,
//!    stock as the ledger has it (NetSuite on hand = opening + receipts, committed + back
//!    ordered = ordered; Shopify = opening + receipts - ordered), no dead letters.
//!
//! Skipped, saying so, when `WEFT_TEST_POSTGRES_URL` is unset. Lease TTL 3 s, renewals every
//! second (`[cluster]`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tokio::process::{Child, Command};
use weft_runtime::{Limits, MapperInstance, Runtime, RuntimeConfig, StoreCtx};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{ChaosConfig, CustomerFields, NewOrder, NewOrderLine, ShopifySim};
use weft_store::{OpenOptions, Store};

const STORES: usize = 30;
const ITEMS: usize = 2;
const OPENING: i64 = 40;
const NS_LOCATION: &str = "1";
const API_VERSION: &str = "2026-04";
const SEED: u64 = 20_261_205;
const TTL: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const HOSTS: [&str; 3] = ["a", "b", "c"];

/// One store's simulated world and what the test did to it.
struct Shop {
    id: String,
    shopify: ShopifySim,
    _shopify_server: weft_sim_shopify::SimHandle,
    shopify_url: String,
    location: u64,
    netsuite: NetSuiteSim,
    _netsuite_server: weft_sim_netsuite::SimServer,
    netsuite_url: String,
    /// SKU -> NetSuite internal id.
    items: BTreeMap<String, String>,
    /// SKUs synced once (Shopify shows NetSuite's quantity): orders only for those.
    live: Vec<String>,
    customer: u64,
    orders: Vec<u64>,
    received: BTreeMap<String, i64>,
    ordered: BTreeMap<String, i64>,
}

/// One `weft run` process.
struct Weft {
    host: &'static str,
    port: u16,
    child: Child,
    log: PathBuf,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_share_thirty_stores_through_kill_stop_and_freeze() {
    let Ok(base_url) = std::env::var("WEFT_TEST_POSTGRES_URL") else {
        println!(
            "skipping: WEFT_TEST_POSTGRES_URL is unset (three `weft run` hosts need one PostgreSQL)"
        );
        return;
    };
    let started = Instant::now();
    // Kept when anything fails (logs, config); removed after a pass.
    let tmp = Kept(tempfile::tempdir().expect("temporary directory").keep());
    let schema = format!("weft_leases_{:016x}", rand::random::<u64>());
    let db = Store::open_with(
        &base_url,
        OpenOptions {
            postgres_schema: Some(schema.clone()),
            max_connections: 4,
            ..OpenOptions::default()
        },
    )
    .await
    .expect("create the test schema");
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let db_url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");

    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut shops = Vec::new();
    for i in 0..STORES {
        shops.push(start_shop(i).await);
    }
    let balancer = StdListener::bind("127.0.0.1:0").expect("bind the balancer");
    let lb_port = balancer.local_addr().expect("address").port();
    let ports: Vec<u16> = HOSTS.iter().map(|_| free_port()).collect();
    let env = write_config(tmp.path(), &shops, &ports, &db_url);
    tokio::spawn(balance(
        tokio::net::TcpListener::from_std({
            balancer.set_nonblocking(true).expect("nonblocking");
            balancer
        })
        .expect("balancer listener"),
        ports.clone(),
    ));
    for s in &shops {
        s.shopify
            .subscribe_all(&format!(
                "http://127.0.0.1:{lb_port}/webhooks/shopify/{}",
                s.id
            ))
            .expect("subscribe to webhooks");
    }

    let http = reqwest::Client::new();
    let mut run = 0;
    let mut hosts = Vec::new();
    for (k, h) in HOSTS.iter().enumerate() {
        run += 1;
        hosts.push(spawn(tmp.path(), h, ports[k], &env, run));
    }
    for w in &mut hosts {
        wait_ready(&http, w).await;
    }
    let mut report = String::new();

    // 1. Spread, and the first sync of every store.
    let t = Instant::now();
    let spread = wait_for(&db, Duration::from_secs(120), &mut hosts, |l| {
        balanced(l, &["a", "b", "c"])
    })
    .await;
    let _ = writeln!(
        report,
        "spread 10/10/10 after {:.1}s: {spread:?}",
        t.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    while shops.iter().any(|s| s.live.len() < ITEMS) {
        assert!(
            Instant::now() < deadline,
            "the first sync did not reach every store within 180 s; stores not synced: {:?}\n{}",
            shops
                .iter()
                .filter(|s| s.live.len() < ITEMS)
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>(),
            tails(&hosts)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        for s in &mut shops {
            mark_live(s);
        }
    }
    let _ = writeln!(
        report,
        "every store synced after {:.1}s",
        t.elapsed().as_secs_f64()
    );
    // The operator's view: `weft status` names each store's host; `weft replay` and `weft dlq
    // retry` refuse to race the host serving the store, naming it.
    let weft = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("WEFT_DATABASE_URL", &db_url)
            .output()
            .expect("run weft")
    };
    let config_a = tmp.path().join("weft-a.toml");
    let status = weft(&["status", "--config", config_a.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "weft status: {text}");
    let served = text.matches("served by host ").count();
    assert_eq!(
        served,
        STORES,
        "every store's host in weft status:\n{text}\n{}",
        tails(&hosts)
    );
    assert!(text.starts_with("hosts: a (10 stores"), "{text}");
    let owner_00 = held_now(&db.leases().await.expect("leases"), "s00")
        .expect("s00 is served")
        .to_owned();
    let replay = weft(&[
        "replay",
        "--store",
        "s00",
        "--config",
        config_a.to_str().expect("path"),
    ]);
    let err = String::from_utf8_lossy(&replay.stderr).into_owned();
    assert!(!replay.status.success(), "replay raced a live host: {err}");
    assert!(
        err.contains(&format!("store `s00` is served by host `{owner_00}`")),
        "{err}"
    );
    let retry = weft(&["dlq", "retry", "--all", "--store", "s00"]);
    let err = String::from_utf8_lossy(&retry.stderr).into_owned();
    assert!(
        !retry.status.success(),
        "dlq retry raced a live host: {err}"
    );
    assert!(err.contains("is served by host"), "{err}");
    let _ = writeln!(
        report,
        "weft replay refused: {}",
        err.lines().last().unwrap_or("")
    );
    edit_for(&mut shops, &mut rng, Duration::from_secs(3)).await;

    // 2. SIGKILL `a`: its stores move within the TTL; `a` comes back and gets its share.
    let of_a = held_by(&db, "a").await;
    assert!(!of_a.is_empty(), "a holds no store");
    let a = take(&mut hosts, "a");
    let t_kill = Instant::now();
    let mut a = a;
    a.child.start_kill().expect("SIGKILL a");
    let _ = a.child.wait().await;
    let moved = edit_until(&mut shops, &mut rng, &db, Duration::from_secs(30), |l| {
        of_a.iter()
            .all(|s| held_now(l, s).is_some_and(|h| h != "a"))
    })
    .await;
    assert!(
        moved,
        "a's stores did not move within 30 s of its SIGKILL\n{}",
        tails(&hosts)
    );
    let after_kill = t_kill.elapsed();
    let _ = writeln!(
        report,
        "SIGKILL a: its {} stores moved in {:.2}s (lease TTL {}s)",
        of_a.len(),
        after_kill.as_secs_f64(),
        TTL.as_secs()
    );
    assert!(
        after_kill < TTL + RENEW + Duration::from_secs(1),
        "a's stores took {after_kill:?} to move (TTL {TTL:?})\n{report}"
    );
    run += 1;
    let mut a = spawn(tmp.path(), "a", ports[0], &env, run);
    wait_ready(&http, &mut a).await;
    hosts.push(a);
    let ok = edit_until(&mut shops, &mut rng, &db, Duration::from_secs(30), |l| {
        balanced(l, &["a", "b", "c"])
    })
    .await;
    assert!(
        ok,
        "the restarted a did not get its share\n{}",
        tails(&hosts)
    );

    // 3. SIGTERM `c`: it hands its stores back and exits cleanly; they move at the next round.
    let of_c = held_by(&db, "c").await;
    let mut c = take(&mut hosts, "c");
    let t_term = Instant::now();
    signal(&c, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), c.child.wait())
        .await
        .expect("c did not stop within 30 s of SIGTERM")
        .expect("wait for c");
    assert!(
        status.success(),
        "c did not exit cleanly ({status}):\n{}",
        tail(&c.log)
    );
    let stopped = t_term.elapsed();
    let moved = edit_until(&mut shops, &mut rng, &db, Duration::from_secs(30), |l| {
        of_c.iter()
            .all(|s| held_now(l, s).is_some_and(|h| h != "c"))
            && balanced(l, &["a", "b"])
    })
    .await;
    assert!(moved, "c's stores did not move\n{}", tails(&hosts));
    let after_term = t_term.elapsed();
    let _ = writeln!(
        report,
        "SIGTERM c: stopped in {:.2}s, its {} stores moved in {:.2}s",
        stopped.as_secs_f64(),
        of_c.len(),
        after_term.as_secs_f64()
    );
    assert!(
        after_term < stopped + RENEW + Duration::from_secs(2),
        "c's stores took {after_term:?} to move after a clean stop\n{report}"
    );

    // 4. Freeze `b` past its TTL: `a` takes everything; thawed, `b` is fenced, then rejoins.
    let before = db.leases().await.expect("leases");
    let of_b: BTreeMap<String, i64> = before
        .iter()
        .filter(|l| l.holder == "b" && l.is_held(chrono::Utc::now()))
        .map(|l| (l.store_id.clone(), l.epoch))
        .collect();
    assert!(!of_b.is_empty(), "b holds no store");
    let b_log_before = std::fs::read_to_string(&hosts[index(&hosts, "b")].log).unwrap_or_default();
    signal(&hosts[index(&hosts, "b")], "STOP");
    let t_stop = Instant::now();
    let moved = edit_until(&mut shops, &mut rng, &db, Duration::from_secs(30), |l| {
        of_b.keys().all(|s| held_now(l, s) == Some("a"))
    })
    .await;
    assert!(
        moved,
        "b's stores did not move while it was frozen\n{}",
        tails(&hosts)
    );
    let after_stop = t_stop.elapsed();
    let _ = writeln!(
        report,
        "SIGSTOP b: its {} stores moved to a in {:.2}s",
        of_b.len(),
        after_stop.as_secs_f64()
    );
    // Let a write under its new leases for a moment, then thaw b.
    edit_for(&mut shops, &mut rng, Duration::from_secs(1)).await;
    signal(&hosts[index(&hosts, "b")], "CONT");
    let b_log = hosts[index(&hosts, "b")].log.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let fenced = loop {
        let text = std::fs::read_to_string(&b_log).unwrap_or_default();
        let new = text.get(b_log_before.len()..).unwrap_or("").to_owned();
        let lines: Vec<String> = new
            .lines()
            .filter(|l| l.contains("(fenced)"))
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "the thawed b logged no fenced write within 20 s:\n{}",
            tail(&b_log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every store b held is in a newer tenure than b's: nothing b held is b's any more.
    let after = db.leases().await.expect("leases");
    for (store, epoch) in &of_b {
        let l = after
            .iter()
            .find(|l| &l.store_id == store)
            .expect("lease row");
        assert!(
            l.epoch > *epoch,
            "store {store}: epoch {} after b's thaw, b held {epoch}",
            l.epoch
        );
    }
    let fenced_stores = of_b
        .keys()
        .filter(|s| fenced.iter().any(|l| l.contains(&format!("`{s}`"))))
        .count();
    let _ = writeln!(
        report,
        "SIGCONT b: {} fenced refusals logged, naming {fenced_stores} of its {} stores, e.g. {}",
        fenced.len(),
        of_b.len(),
        fenced[0].chars().take(300).collect::<String>()
    );
    let ok = edit_until(&mut shops, &mut rng, &db, Duration::from_secs(30), |l| {
        balanced(l, &["a", "b"])
    })
    .await;
    assert!(
        ok,
        "the thawed b did not get its share back\n{}",
        tails(&hosts)
    );
    edit_for(&mut shops, &mut rng, Duration::from_secs(2)).await;

    // 5. Settle, stop cleanly, verify every store.
    let t = Instant::now();
    settle(&db, &shops, &mut hosts).await;
    let settled = t.elapsed();
    let owners = db.leases().await.expect("leases");
    for mut w in std::mem::take(&mut hosts) {
        signal(&w, "TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), w.child.wait())
            .await
            .expect("a host did not stop within 30 s of SIGTERM")
            .expect("wait");
        assert!(
            status.success(),
            "host {} did not exit cleanly ({status}):\n{}",
            w.host,
            tail(&w.log)
        );
    }
    let released = db.leases().await.expect("leases");
    assert!(
        released.iter().all(|l| !l.is_held(chrono::Utc::now())),
        "a clean stop hands every lease back: {released:?}"
    );

    let mut problems = Vec::new();
    let mut compared = 0;
    let mut orders = 0;
    // The stock mapper as the stores run it (its config differs only by Shopify location).
    let mut mappers: BTreeMap<u64, MapperInstance> = BTreeMap::new();
    for s in &shops {
        let mapper = mappers
            .entry(s.location)
            .or_insert_with(|| verification_mapper(tmp.path(), s));
        let v = weft::demo::verify_store(
            &s.shopify,
            &s.shopify_url,
            &s.netsuite,
            &s.netsuite_url,
            &s.orders,
            mapper,
        )
        .await
        .expect("verify a store");
        compared += v.records_compared;
        orders += s.orders.len();
        for d in &v.drift_details {
            problems.push(format!("{}: {d}", s.id));
        }
        if v.drift > v.drift_details.len() {
            problems.push(format!("{}: {} differences in all", s.id, v.drift));
        }
        if v.orders_matched != s.orders.len() {
            problems.push(format!(
                "{}: {} of {} orders matched",
                s.id,
                v.orders_matched,
                s.orders.len()
            ));
        }
        check_once_and_stock(s, &mut problems);
        for d in db
            .list_dead_letters(Some(&s.id), 20)
            .await
            .expect("dead letters")
        {
            problems.push(format!(
                "{}: dead letter #{} {}/{}: {}",
                s.id,
                d.id,
                d.kind,
                d.key,
                d.last_error.unwrap_or_default()
            ));
        }
    }
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &owners {
        *per_host.entry(l.holder.as_str()).or_default() += 1;
    }
    let summary = format!(
        "{STORES} stores, 3 hosts, {:.1}s in all (settled in {:.1}s); {orders} orders, {compared} records compared; owners at the end {per_host:?}\n{report}",
        started.elapsed().as_secs_f64(),
        settled.as_secs_f64()
    );
    eprintln!("{summary}");
    if problems.is_empty() {
        drop_schema(&base_url, &schema).await;
        let _ = std::fs::remove_dir_all(tmp.path());
    } else {
        problems.push(format!("weft's files are kept in {}", tmp.path().display()));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n  {}\n{summary}",
        problems.len(),
        problems.join("\n  ")
    );
    assert!(orders > 0, "no orders were placed: {summary}");
}

/// The test's directory, kept on disk (a failure's logs stay for a person to read).
struct Kept(PathBuf);

impl Kept {
    fn path(&self) -> &Path {
        &self.0
    }
}

async fn start_shop(i: usize) -> Shop {
    let id = format!("s{i:02}");
    let shopify = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(SEED + i as u64)
            .shop_domain(format!("cluster-{i:02}.myshopify.com"))
            .chaos(ChaosConfig {
                drop_rate: 0.05,
                duplicate_rate: 0.05,
                reorder_window_ms: 200,
                ..ChaosConfig::default()
            })
            .time_compression(3600.0)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .expect("Shopify simulator config"),
    );
    let server = shopify
        .serve(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
        .expect("serve Shopify");
    let location = shopify.location_ids()[0];
    let customer = shopify
        .create_customer(CustomerFields {
            email: Some(format!("buyer@{id}.example")),
            first_name: Some("Buyer".into()),
            last_name: Some(id.clone()),
            ..CustomerFields::default()
        })
        .expect("create a customer");
    let netsuite = NetSuiteSim::new(weft_sim_netsuite::SimConfig {
        account_id: format!("77{i:05}"),
        ..weft_sim_netsuite::SimConfig::new(SEED + i as u64)
    })
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
        let sku = format!("{id}-{k}");
        let item = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"),
                    "itemId": sku,
                    "displayName": format!("Cluster product {sku}"),
                    "isInactive": false,
                    "basePrice": 10.0 + k as f64,
                }),
            )
            .expect("create an item");
        netsuite
            .erp_adjust_inventory(&item, NS_LOCATION, OPENING as f64, Some("opening"))
            .expect("opening stock");
        items.insert(sku, item);
    }
    Shop {
        id,
        shopify_url: server.base_url.clone(),
        shopify,
        _shopify_server: server,
        location,
        netsuite_url: ns.base_url(),
        netsuite,
        _netsuite_server: ns,
        items,
        live: Vec::new(),
        customer,
        orders: Vec::new(),
        received: BTreeMap::new(),
        ordered: BTreeMap::new(),
    }
}

fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// A round-robin TCP balancer in front of the hosts (a refused connection tries the next).
async fn balance(listener: tokio::net::TcpListener, ports: Vec<u16>) {
    let next = Arc::new(AtomicUsize::new(0));
    while let Ok((mut inbound, _)) = listener.accept().await {
        let (ports, next) = (ports.clone(), next.clone());
        tokio::spawn(async move {
            let first = next.fetch_add(1, Ordering::Relaxed);
            for k in 0..ports.len() {
                let port = ports[(first + k) % ports.len()];
                if let Ok(Ok(mut out)) = tokio::time::timeout(
                    Duration::from_millis(300),
                    tokio::net::TcpStream::connect(("127.0.0.1", port)),
                )
                .await
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    return;
                }
            }
        });
    }
}

/// Writes one host file per host (its listener and `[cluster] host_id`) and the 30 store files
/// they share; returns the environment their secret references name.
fn write_config(dir: &Path, shops: &[Shop], ports: &[u16], db_url: &str) -> Vec<(String, String)> {
    let mut env = vec![("CLUSTER_DATABASE_URL".to_owned(), db_url.to_owned())];
    std::fs::create_dir_all(dir.join("stores")).expect("stores dir");
    for (k, host) in HOSTS.iter().enumerate() {
        let text = format!(
            r#"stores_dir = "stores"
[server]
listen = "127.0.0.1:{port}"
[storage]
url = {{ env = "CLUSTER_DATABASE_URL" }}
[runtime]
cache_dir = "cache"
pool_size = 256
[cluster]
host_id = "{host}"
lease_ttl = "{ttl}s"
renew_interval = "{renew}s"
"#,
            port = ports[k],
            ttl = TTL.as_secs(),
            renew = RENEW.as_secs(),
        );
        std::fs::write(dir.join(format!("weft-{host}.toml")), text).expect("write a host file");
    }
    for (i, s) in shops.iter().enumerate() {
        let creds = s.netsuite.credentials().into_iter().next().expect("creds");
        let p = format!("CLUSTER_{i:02}");
        env.extend([
            (
                format!("{p}_SHOPIFY_TOKEN"),
                s.shopify.config().access_tokens[0].clone(),
            ),
            (
                format!("{p}_SHOPIFY_SECRET"),
                s.shopify.config().client_secrets[0].clone(),
            ),
            (format!("{p}_NS_CONSUMER_KEY"), creds.consumer_key),
            (format!("{p}_NS_CONSUMER_SECRET"), creds.consumer_secret),
            (format!("{p}_NS_TOKEN_ID"), creds.token_id),
            (format!("{p}_NS_TOKEN_SECRET"), creds.token_secret),
        ]);
        let store = format!(
            r#"[store]
id = "{id}"
[systems.shopify]
platform = "shopify"
shop = "{shop}"
base_url = "{shopify_url}"
api_version = "{API_VERSION}"
access_token = {{ env = "{p}_SHOPIFY_TOKEN" }}
webhook_secrets = [{{ env = "{p}_SHOPIFY_SECRET" }}]
[systems.netsuite]
platform = "netsuite"
account_id = "{account}"
base_url = "{netsuite_url}"
consumer_key = {{ env = "{p}_NS_CONSUMER_KEY" }}
consumer_secret = {{ env = "{p}_NS_CONSUMER_SECRET" }}
token_id = {{ env = "{p}_NS_TOKEN_ID" }}
token_secret = {{ env = "{p}_NS_TOKEN_SECRET" }}
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
reconcile_interval = "2s"
cdc_interval = "2s"
poll_overlap = "5s"
cdc_overlap = "5s"
full_resync_cron = "never"
"#,
            id = s.id,
            shop = s.shopify.config().shop_domain,
            shopify_url = s.shopify_url,
            account = s.netsuite.account_id(),
            netsuite_url = s.netsuite_url,
            limit = s.netsuite.config().concurrency_limit,
            location = s.location,
        );
        std::fs::write(dir.join("stores").join(format!("{}.toml", s.id)), store)
            .expect("write a store file");
    }
    env
}

fn spawn(dir: &Path, host: &'static str, port: u16, env: &[(String, String)], run: usize) -> Weft {
    let log = dir.join(format!("run-{run:02}-{host}.log"));
    let file = std::fs::File::create(&log).expect("create a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("run")
        .arg(dir.join(format!("weft-{host}.toml")))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("WEFT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("start weft run");
    Weft {
        host,
        port,
        child,
        log,
    }
}

async fn wait_ready(http: &reqwest::Client, w: &mut Weft) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(Some(status)) = w.child.try_wait() {
            panic!(
                "weft run {} exited ({status}) before it was ready:\n{}",
                w.host,
                tail(&w.log)
            );
        }
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{}/readyz", w.port))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "weft run {} was not ready within 90 s:\n{}",
            w.host,
            tail(&w.log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(w: &Weft, sig: &str) {
    let pid = w.child.id().expect("the process runs");
    let ok = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill -{sig} {pid} failed");
}

fn index(hosts: &[Weft], host: &str) -> usize {
    hosts
        .iter()
        .position(|w| w.host == host)
        .expect("the host runs")
}

fn take(hosts: &mut Vec<Weft>, host: &str) -> Weft {
    let i = index(hosts, host);
    hosts.remove(i)
}

/// Who holds `store`'s lease now.
fn held_now<'a>(leases: &'a [weft_store::Lease], store: &str) -> Option<&'a str> {
    let now = chrono::Utc::now();
    leases
        .iter()
        .find(|l| l.store_id == store && l.is_held(now))
        .map(|l| l.holder.as_str())
}

/// Every store is held, only by `hosts`, none by more than its fair share.
fn balanced(leases: &[weft_store::Lease], hosts: &[&str]) -> bool {
    let now = chrono::Utc::now();
    let held: Vec<_> = leases.iter().filter(|l| l.is_held(now)).collect();
    let share = STORES.div_ceil(hosts.len());
    held.len() == STORES
        && hosts.iter().all(|h| {
            let n = held.iter().filter(|l| l.holder == *h).count();
            n <= share && n > 0
        })
        && held.iter().all(|l| hosts.contains(&l.holder.as_str()))
}

async fn held_by(db: &Store, host: &str) -> Vec<String> {
    let now = chrono::Utc::now();
    db.leases()
        .await
        .expect("leases")
        .into_iter()
        .filter(|l| l.holder == host && l.is_held(now))
        .map(|l| l.store_id)
        .collect()
}

/// Waits (no edits) until `cond` holds over the leases; returns the count per holder.
async fn wait_for(
    db: &Store,
    limit: Duration,
    hosts: &mut [Weft],
    cond: impl Fn(&[weft_store::Lease]) -> bool,
) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + limit;
    loop {
        let leases = db.leases().await.expect("leases");
        if cond(&leases) {
            let mut n = BTreeMap::new();
            for l in leases {
                *n.entry(l.holder).or_default() += 1;
            }
            return n;
        }
        for w in hosts.iter_mut() {
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!("{} exited ({status}):\n{}", w.host, tail(&w.log));
            }
        }
        assert!(
            Instant::now() < deadline,
            "the leases did not settle within {limit:?}: {leases:?}\n{}",
            tails(hosts)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Edits for `d`, one every 150 ms.
async fn edit_for(shops: &mut [Shop], rng: &mut ChaCha8Rng, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        event(shops, rng);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Edits until `cond` holds over the leases (checked every 100 ms); false after `limit`.
async fn edit_until(
    shops: &mut [Shop],
    rng: &mut ChaCha8Rng,
    db: &Store,
    limit: Duration,
    cond: impl Fn(&[weft_store::Lease]) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    let mut k = 0u32;
    while Instant::now() < deadline {
        if cond(&db.leases().await.expect("leases")) {
            return true;
        }
        if k.is_multiple_of(2) {
            event(shops, rng);
        }
        k += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// One merchant or ERP edit in a random store.
fn event(shops: &mut [Shop], rng: &mut ChaCha8Rng) {
    let i = rng.random_range(0..shops.len());
    let roll = rng.random_range(0..100u32);
    let pick = rng.random_range(0..ITEMS);
    let cents = rng.random_range(500..9000i64);
    let qty = rng.random_range(1..3i64);
    let receipt = rng.random_range(1..10i64);
    let s = &mut shops[i];
    let sku = format!("{}-{pick}", s.id);
    let live = s.live.contains(&sku);
    match roll {
        0..40 if live => {
            let order = s
                .shopify
                .place_order(NewOrder {
                    customer_id: Some(s.customer.to_string()),
                    line_items: vec![NewOrderLine {
                        sku: Some(sku.clone()),
                        quantity: qty,
                        ..NewOrderLine::default()
                    }],
                    ..NewOrder::default()
                })
                .expect("place an order");
            s.orders.push(order);
            *s.ordered.entry(sku).or_default() += qty;
        }
        40..60 => {
            s.netsuite
                .erp_adjust_inventory(&s.items[&sku], NS_LOCATION, receipt as f64, Some("receipt"))
                .expect("receive stock");
            *s.received.entry(sku).or_default() += receipt;
        }
        _ => {
            s.netsuite
                .erp_update(
                    RecordType::InventoryItem,
                    &s.items[&sku],
                    json!({ "basePrice": cents as f64 / 100.0 }),
                )
                .expect("edit a price in NetSuite");
        }
    }
}

fn mark_live(s: &mut Shop) {
    for (sku, id) in &s.items {
        if s.live.contains(sku) {
            continue;
        }
        let q = s.netsuite.quantities(id, NS_LOCATION);
        let shows = s
            .shopify
            .variant_by_sku(sku)
            .and_then(|v| s.shopify.inventory_item_of(v))
            .and_then(|item| s.shopify.available(item, s.location));
        if shows.is_some_and(|n| n as f64 == q.available - q.back_ordered) {
            s.live.push(sku.clone());
        }
    }
}

/// Waits until every shop's webhooks are delivered and every store is quiet (journal
/// processed, outbox empty, nothing parked, no new entry) for three checks 2.5 s apart.
async fn settle(db: &Store, shops: &[Shop], hosts: &mut [Weft]) {
    let deadline = Instant::now() + Duration::from_secs(180);
    for s in shops {
        assert!(
            s.shopify
                .wait_webhooks_idle(deadline.saturating_duration_since(Instant::now()))
                .await,
            "{} still had webhooks to deliver",
            s.id
        );
    }
    let mut quiet = 0;
    let mut heads = BTreeMap::new();
    while quiet < 3 {
        for w in hosts.iter_mut() {
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!(
                    "{} exited ({status}) while settling:\n{}",
                    w.host,
                    tail(&w.log)
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mut idle = true;
        let mut busy = Vec::new();
        for s in shops {
            let st = db.status(&s.id).await.expect("status");
            let head = heads.insert(s.id.clone(), st.journal_head);
            if st.lag > 0
                || st.outbox.pending > 0
                || st.outbox.inflight > 0
                || st.parked > 0
                || head != Some(st.journal_head)
            {
                idle = false;
                busy.push(format!(
                    "{} lag {} pending {} inflight {} parked {}",
                    s.id, st.lag, st.outbox.pending, st.outbox.inflight, st.parked
                ));
            }
        }
        quiet = if idle { quiet + 1 } else { 0 };
        assert!(
            Instant::now() < deadline,
            "the stores did not settle within 180 s: {busy:?}\n{}",
            tails(hosts)
        );
    }
}

fn verification_mapper(dir: &Path, s: &Shop) -> MapperInstance {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.join("cache")),
        max_instances: 4,
        ..RuntimeConfig::default()
    })
    .expect("plugin runtime");
    let bytes = weft_plugin_artifacts::stock("shopify-netsuite").expect("stock mapper");
    let plugin = runtime
        .load("shopify-netsuite", bytes)
        .expect("load the mapper");
    let config = json!({ "locations": { s.location.to_string(): NS_LOCATION } });
    runtime
        .mapper(
            &plugin,
            StoreCtx {
                store_id: s.id.clone(),
                config: config.as_object().cloned().unwrap_or_default(),
                limits: Limits::default(),
            },
        )
        .expect("instantiate the mapper")
}

/// One Shopify variant per item, one NetSuite sales order per order, one NetSuite customer;
/// stock as the ledger has it.
fn check_once_and_stock(s: &Shop, problems: &mut Vec<String>) {
    let dump = s.shopify.dump();
    let mut variants: BTreeMap<String, usize> = BTreeMap::new();
    for p in dump["products"].as_array().into_iter().flatten() {
        for v in p["variants"].as_array().into_iter().flatten() {
            *variants
                .entry(v["sku"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    for sku in s.items.keys() {
        if variants.remove(sku) != Some(1) {
            problems.push(format!(
                "{}: SKU {sku} is not exactly one Shopify variant",
                s.id
            ));
        }
    }
    if !variants.is_empty() {
        problems.push(format!("{}: unknown Shopify variants {variants:?}", s.id));
    }
    let sales = s.netsuite.records(RecordType::SalesOrder).len();
    if sales != s.orders.len() {
        problems.push(format!(
            "{}: {sales} NetSuite sales orders for {} Shopify orders",
            s.id,
            s.orders.len()
        ));
    }
    let customers = s.netsuite.records(RecordType::Customer).len();
    if customers != 1 {
        problems.push(format!("{}: {customers} NetSuite customers for 1", s.id));
    }
    for (sku, id) in &s.items {
        let get = |m: &BTreeMap<String, i64>| m.get(sku).copied().unwrap_or(0);
        let (received, ordered) = (get(&s.received), get(&s.ordered));
        let q = s.netsuite.quantities(id, NS_LOCATION);
        if q.on_hand != (OPENING + received) as f64 {
            problems.push(format!(
                "{}: SKU {sku} NetSuite on hand {}, expected {}",
                s.id,
                q.on_hand,
                OPENING + received
            ));
        }
        if q.committed + q.back_ordered != ordered as f64 {
            problems.push(format!(
                "{}: SKU {sku} NetSuite committed {} + back ordered {}, expected {ordered}",
                s.id, q.committed, q.back_ordered
            ));
        }
        let shows = s
            .shopify
            .variant_by_sku(sku)
            .and_then(|v| s.shopify.inventory_item_of(v))
            .and_then(|item| s.shopify.available(item, s.location));
        if shows != Some(OPENING + received - ordered) {
            problems.push(format!(
                "{}: SKU {sku} Shopify shows {shows:?}, expected {}",
                s.id,
                OPENING + received - ordered
            ));
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    if let Ok(mut c) = sqlx::PgConnection::connect(url).await {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&mut c)
            .await;
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(30);
    format!("--- {} ---\n{}", log.display(), lines[from..].join("\n"))
}

fn tails(hosts: &[Weft]) -> String {
    hosts
        .iter()
        .map(|w| tail(&w.log))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A thin webhook (a BigCommerce callback, journaled as a hint) that another host's intake
/// took is fetched by the store's lease holder at once: the journal notice names the system
/// with new hints, and the holder wakes that system's hint fetcher. Before, it waited for the
/// holder's next poll round (a minute here). Two in-process hosts on one PostgreSQL schema;
/// skipped, saying so, when `WEFT_TEST_POSTGRES_URL` is unset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_another_host_took_is_fetched_by_the_holder_at_once() {
    use weft_sim_bigcommerce::{BcSim, DEFAULT_STORE_HASH, DEFAULT_TOKEN, SimConfig};
    let Ok(base_url) = std::env::var("WEFT_TEST_POSTGRES_URL") else {
        println!("skipping: WEFT_TEST_POSTGRES_URL is unset (two hosts need one PostgreSQL)");
        return;
    };
    const SECRET: &str = "hint-secret";
    let schema = format!("weft_hints_{:016x}", rand::random::<u64>());
    let open = || {
        Store::open_with(
            &base_url,
            OpenOptions {
                postgres_schema: Some(schema.clone()),
                max_connections: 4,
                ..OpenOptions::default()
            },
        )
    };
    let (db_a, db_b) = (open().await.expect("schema"), open().await.expect("schema"));
    let bc = BcSim::new(SimConfig::default()).expect("a BigCommerce simulator");
    let bc_server = bc.serve_local().await.expect("serve the simulator");
    let product = bc
        .create_product(
            json!({"name": "Cap", "type": "physical", "price": 5.0, "sku": "CAP",
            "inventory_tracking": "product", "inventory_level": 3}),
        )
        .expect("a product");

    let tmp = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .expect("a runtime");
    let mapper = runtime
        .load(
            "shopify-netsuite",
            weft_plugin_artifacts::stock("shopify-netsuite").expect("the stock mapper"),
        )
        .expect("load the mapper");
    let setup = || weft::app::StoreSetup {
        id: "s1".into(),
        systems: vec![weft::platforms::bigcommerce_system(
            "bc",
            &bc_server.base_url,
            DEFAULT_STORE_HASH,
            DEFAULT_TOKEN,
            150,
            vec![SECRET.as_bytes().to_vec()],
        )],
        mapper: mapper.clone().into(),
        resolvers: Vec::new(),
        plugin_config: Default::default(),
        limits: Limits::default(),
        timing: weft_engine::Timing {
            // Only a woken fetcher reads the product within this test.
            poll_interval: Duration::from_secs(60),
            ..weft_engine::Timing::default()
        },
        poll_overlap: Duration::from_secs(5),
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    };
    let start = |db: Store, id: &'static str, setup: weft::app::StoreSetup| {
        let runtime = runtime.clone();
        async move {
            weft::app::Host::start_clustered(
                db,
                &runtime,
                vec![setup],
                weft_server::Listeners::bind("127.0.0.1:0".parse().unwrap(), None)
                    .await
                    .expect("bind"),
                weft_server::ServeOptions::default(),
                None,
                None,
                weft::cluster::ClusterOptions {
                    host_id: id.into(),
                    lease_ttl: TTL,
                    renew_interval: RENEW,
                },
            )
            .await
            .expect("a host starts")
        }
    };
    let a = start(db_a.clone(), "a", setup()).await;
    let until = Instant::now() + Duration::from_secs(20);
    while a.owned_stores() != ["s1"] {
        assert!(Instant::now() < until, "host a never held s1");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let polled = a.poll_now();
    while !a.polled_since(&polled) {
        assert!(Instant::now() < until, "host a never polled s1");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = start(db_b.clone(), "b", setup()).await;
    // b's first rounds: one store, held by a, stays with a.
    tokio::time::sleep(RENEW * 2).await;
    assert_eq!(a.owned_stores(), ["s1"]);
    assert!(b.owned_stores().is_empty());

    let product_entries = |db: Store| async move {
        db.journal_range("s1", None, Some("product"), 0, 1000)
            .await
            .expect("read the journal")
            .into_iter()
            .filter(|e| e.system == "bc" && e.entity_id == product.to_string())
            .collect::<Vec<_>>()
    };
    let before = product_entries(db_a.clone()).await.len();
    bc.edit_product(product, json!({ "price": 7.5 }))
        .expect("edit the product");
    let callback = json!({
        "scope": "store/product/updated", "store_id": "1001234",
        "producer": format!("stores/{DEFAULT_STORE_HASH}"),
        "data": {"type": "product", "id": product}, "hash": "edit-1",
        "created_at": chrono::Utc::now().timestamp(),
    });
    let sent = Instant::now();
    let answer = reqwest::Client::new()
        .post(format!("http://{}/webhooks/bc/s1", b.addr))
        .header(weft_bigcommerce::webhook::SECRET_HEADER, SECRET)
        .json(&callback)
        .send()
        .await
        .expect("post the callback to b");
    assert_eq!(answer.status(), 200, "b journals the hint");
    let until = sent + Duration::from_secs(15);
    let fetched = loop {
        let entries = product_entries(db_a.clone()).await;
        if entries.len() > before {
            break entries;
        }
        assert!(
            Instant::now() < until,
            "the holder did not fetch the hinted product within 15 s (its poll round is 60 s)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "hint on host b -> product journaled by host a after {:?}",
        sent.elapsed()
    );
    let last = fetched.last().expect("an entry");
    assert_eq!(
        last.source,
        weft_store::Source::Webhook,
        "read by the fetcher"
    );
    assert!(
        last.body.to_string().contains("7.5"),
        "the edited product: {}",
        last.body
    );
    b.stop().await;
    a.stop().await;
    drop_schema(&base_url, &schema).await;
}
