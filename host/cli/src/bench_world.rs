//! The simulated worlds `weft bench lag` and `weft bench stores` run the real host against.
//!
//! - An **active store** ([`ActiveStore`]) is the demo's kind of store with a world of its own: a
//!   simulated Shopify shop and a simulated NetSuite account (its own account id, so its own
//!   concurrency governor), `items` NetSuite items synced to the shop, optionally NetSuite's push
//!   script posting to the host. Its changes are NetSuite price saves; a change's lag is the time
//!   from the save returning to the simulated shop holding the price (the Shopify write
//!   acknowledged), watched by one [`LagWatch`] task for every store.
//! - **Idle stores** ([`IdleWorld`]) are real stores (Shopify + NetSuite, the stock plugins,
//!   their pollers, dispatchers and processing loops) whose systems are one shared, empty shop
//!   and one shared, empty NetSuite account: they read nothing and write nothing, so they cost
//!   the host exactly what a store with nothing to do costs. Ten thousand simulated shops and
//!   ERP accounts do not fit beside the host on a 2-core machine; the shared empty pair keeps
//!   every store real while the simulators stay small. The idle shop has a large GraphQL budget
//!   (every idle store's poller shares its one bucket) and stands for ten thousand separate
//!   shops, each with its own bucket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use parking_lot::Mutex;
use serde_json::{Value, json};
use weft_engine::Timing;
use weft_runtime::{Limits, Plugin, Runtime};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::ShopifySim;

use crate::app::{StorePlugin, StoreSetup};
use crate::demo::{
    API_VERSION, DemoOptions, NS_LOCATION, catalog_fields, connector_credentials, mapper_config,
};

/// The stock plugins every bench store runs, loaded (compiled) once and shared by every store:
/// each store gets its own instances per call from the runtime's pool.
#[derive(Clone)]
pub struct StockPlugins {
    mapper: Arc<Plugin>,
    owners: Arc<Plugin>,
    counter: Arc<Plugin>,
}

impl StockPlugins {
    /// Loads the three stock plugins into `runtime`.
    pub fn load(runtime: &Runtime) -> Result<StockPlugins> {
        let stock = |name: &str| -> Result<Arc<Plugin>> {
            let bytes = weft_plugin_artifacts::stock(name)
                .ok_or_else(|| anyhow!("stock plugin {name} is not embedded in this build"))?;
            Ok(runtime.load(name, bytes)?)
        };
        Ok(StockPlugins {
            mapper: stock("shopify-netsuite")?,
            owners: stock("system-of-record")?,
            counter: stock("counter-merge")?,
        })
    }

    fn resolvers(&self) -> Vec<(String, StorePlugin)> {
        vec![
            (
                "inventory-level.quantity".into(),
                self.counter.clone().into(),
            ),
            ("*".into(), self.owners.clone().into()),
        ]
    }
}

/// NetSuite owns everything but the variant title and customers (as in `weft bench lag`).
fn plugin_config(location: u64) -> serde_json::Map<String, Value> {
    let mut config = mapper_config(location);
    config["owners"] =
        json!({ "*": "netsuite", "variant.title": "shopify", "customer.*": "shopify" });
    config.as_object().cloned().unwrap_or_default()
}

/// How the bench stores are set up.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// NetSuite's push script on (changes arrive as pushes) or off (change capture only).
    pub push: bool,
    /// The stores' reconciliation / change-capture interval.
    pub poll_interval: Duration,
    /// Seed of the simulators.
    pub seed: u64,
}

fn timing(poll_interval: Duration) -> Timing {
    Timing {
        poll_interval,
        process_idle: Duration::from_millis(50),
        dispatch_idle: Duration::from_millis(50),
        ..Timing::default()
    }
}

/// A store with its own simulated shop and NetSuite account.
pub struct ActiveStore {
    /// The store's id.
    pub id: String,
    /// Its shop.
    pub shop: ShopifySim,
    /// Its NetSuite account.
    pub netsuite: NetSuiteSim,
    /// Its items' SKUs (NetSuite items, synced to the shop).
    pub skus: Vec<String>,
    demo: DemoOptions,
    _servers: (weft_sim_shopify::SimHandle, weft_sim_netsuite::SimServer),
}

impl ActiveStore {
    /// Builds store `id` (the `index`-th active store: its NetSuite account id and shop domain
    /// derive from it) with `items` items at price 10, and its setup.
    pub async fn build(
        id: &str,
        index: usize,
        items: usize,
        opts: &WorldOptions,
        plugins: &StockPlugins,
    ) -> Result<(ActiveStore, StoreSetup)> {
        let demo = DemoOptions {
            erp_push: opts.push,
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_ms: 0,
            ..DemoOptions::default()
        };
        let seed = opts.seed.wrapping_add(index as u64);
        let shop = ShopifySim::new(
            weft_sim_shopify::SimConfig::builder()
                .seed(seed)
                .shop_domain(format!("bench-{index}.myshopify.com"))
                .api_versions(vec![API_VERSION.into()])
                .build()
                .map_err(|e| anyhow!("{e}"))?,
        );
        let mut ns_config = weft_sim_netsuite::SimConfig::new(seed);
        ns_config.account_id = format!("{}", 7_000_000 + index);
        ns_config.request_log_capacity = 2_000;
        let netsuite = NetSuiteSim::new(ns_config).map_err(|e| anyhow!("{e}"))?;
        let sh = shop
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let ns = netsuite
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await?;
        let location = *shop
            .location_ids()
            .first()
            .context("the Shopify simulator has no location")?;
        let skus: Vec<String> = (0..items).map(|k| format!("B{index}-{k:04}")).collect();
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
        let creds = netsuite
            .credentials()
            .into_iter()
            .next()
            .map(connector_credentials)
            .context("the NetSuite simulator has no credentials")?;
        let setup = StoreSetup {
            id: id.into(),
            systems: crate::demo::sim_systems(
                &demo,
                id,
                &shop,
                &sh.base_url,
                &ns.base_url(),
                creds,
                &netsuite,
            ),
            mapper: plugins.mapper.clone().into(),
            resolvers: plugins.resolvers(),
            plugin_config: plugin_config(location),
            limits: Limits::default(),
            timing: timing(opts.poll_interval),
            poll_overlap: Duration::from_secs(5),
            public_url: None,
            stock: Default::default(),
            ownership: Default::default(),
            deletes: Default::default(),
        };
        Ok((
            ActiveStore {
                id: id.into(),
                shop,
                netsuite,
                skus,
                demo,
                _servers: (sh, ns),
            },
            setup,
        ))
    }

    /// Points the shop's webhooks and NetSuite's push script at the host at `addr`.
    pub fn connect(&self, addr: std::net::SocketAddr) -> Result<()> {
        crate::demo::subscribe_shopify(
            &self.shop,
            &format!("http://{addr}/webhooks/shopify/{}", self.id),
        )?;
        crate::demo_push::deploy(&self.demo, &self.netsuite, addr, &self.id);
        Ok(())
    }

    /// The price the shop shows for `sku`.
    pub fn shop_price(&self, sku: &str) -> Option<f64> {
        shop_price(&self.shop, sku)
    }

    /// Whether the shop shows every item at `price`.
    pub fn synced_at(&self, price: f64) -> bool {
        self.skus.iter().all(|s| self.shop_price(s) == Some(price))
    }

    /// Saves `price` on `sku`'s NetSuite item.
    pub fn save_price(&self, sku: &str, price: f64) -> Result<()> {
        self.netsuite
            .erp_update(
                RecordType::InventoryItem,
                &format!("eid:item-{sku}"),
                json!({ "basePrice": price }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        Ok(())
    }
}

/// The price `shop` shows for `sku`.
pub fn shop_price(shop: &ShopifySim, sku: &str) -> Option<f64> {
    let variant = shop.variant_by_sku(sku)?;
    let product = shop.product_of_variant(variant)?;
    let p = shop.product_json(product);
    p["variants"]
        .as_array()?
        .iter()
        .find(|v| v["sku"] == sku)
        .and_then(|v| match &v["price"] {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        })
}

/// Waits until every store's shop shows every item at `price` (the initial sync).
pub async fn wait_synced(stores: &[ActiveStore], price: f64, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    for s in stores {
        while !s.synced_at(price) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "store {}: the initial sync did not bring the catalog to the shop in {within:?}",
                s.id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// One watched change: a price saved in NetSuite, waiting for the shop to show it.
struct Watched {
    store: usize,
    sku: String,
    price: f64,
    saved: Instant,
}

/// Watches changes until their shop shows them: one task samples every outstanding change
/// every 5 ms (so thousands of outstanding changes do not make thousands of tasks).
pub struct LagWatch {
    shops: Vec<ShopifySim>,
    pending: Arc<Mutex<Vec<Watched>>>,
    done: Arc<Mutex<HashMap<usize, Vec<f64>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LagWatch {
    /// Starts watching the shops of `stores`.
    pub fn start(stores: Vec<ShopifySim>) -> LagWatch {
        let pending: Arc<Mutex<Vec<Watched>>> = Arc::default();
        let done: Arc<Mutex<HashMap<usize, Vec<f64>>>> = Arc::default();
        let shops = stores.clone();
        let task = {
            let (pending, done) = (pending.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    let now = Instant::now();
                    let mut seen = Vec::new();
                    {
                        let mut p = pending.lock();
                        p.retain(|w| {
                            if shop_price(&stores[w.store], &w.sku) == Some(w.price) {
                                seen.push((w.store, (now - w.saved).as_secs_f64() * 1000.0));
                                false
                            } else {
                                true
                            }
                        });
                    }
                    if !seen.is_empty() {
                        let mut d = done.lock();
                        for (store, ms) in seen {
                            d.entry(store).or_default().push(ms);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        LagWatch {
            shops,
            pending,
            done,
            task,
        }
    }

    /// Watches a change of store `store` (its index in the list given to
    /// [`LagWatch::start`]), saved just now.
    pub fn watch(&self, store: usize, sku: &str, price: f64) {
        self.pending.lock().push(Watched {
            store,
            sku: sku.to_owned(),
            price,
            saved: Instant::now(),
        });
    }

    /// Waits until nothing is outstanding (or `within` passed: an error naming how many are
    /// still outstanding), then takes every lag measured so far per store, in ms.
    pub async fn settle(&self, within: Duration) -> Result<HashMap<usize, Vec<f64>>> {
        let deadline = Instant::now() + within;
        loop {
            let n = self.pending.lock().len();
            if n == 0 {
                break;
            }
            if Instant::now() >= deadline {
                let some: Vec<String> = self
                    .pending
                    .lock()
                    .iter()
                    .take(5)
                    .map(|w| {
                        format!(
                            "store #{} {} saved at {} (shop shows {:?})",
                            w.store,
                            w.sku,
                            w.price,
                            shop_price(&self.shops[w.store], &w.sku)
                        )
                    })
                    .collect();
                anyhow::bail!(
                    "{n} changes did not reach their shop within {within:?}: {}",
                    some.join("; ")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(std::mem::take(&mut *self.done.lock()))
    }
}

impl Drop for LagWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Idle stores: real stores over one shared, empty shop and one shared, empty NetSuite account.
pub struct IdleWorld {
    _shop: ShopifySim,
    _netsuite: NetSuiteSim,
    _servers: (weft_sim_shopify::SimHandle, weft_sim_netsuite::SimServer),
}

impl IdleWorld {
    /// `n` idle stores (`idle-00000`, ...), with NetSuite's push on or off as `opts.push` says
    /// (pushes never come: the account is never edited).
    pub async fn build(
        n: usize,
        opts: &WorldOptions,
        plugins: &StockPlugins,
    ) -> Result<(IdleWorld, Vec<StoreSetup>)> {
        let demo = DemoOptions {
            erp_push: opts.push,
            ..DemoOptions::default()
        };
        // One bucket stands for every idle store's own shop: large enough that the idle
        // stores' first reads are never throttled by each other.
        let shop = ShopifySim::new(
            weft_sim_shopify::SimConfig::builder()
                .seed(opts.seed ^ 0x1d1e)
                .shop_domain("idle.myshopify.com")
                .graphql_bucket(1_000_000.0, 1_000_000.0)
                .api_versions(vec![API_VERSION.into()])
                .build()
                .map_err(|e| anyhow!("{e}"))?,
        );
        let mut ns_config = weft_sim_netsuite::SimConfig::new(opts.seed ^ 0x1d1e);
        ns_config.account_id = "6999999".into();
        ns_config.request_log_capacity = 2_000;
        let netsuite = NetSuiteSim::new(ns_config).map_err(|e| anyhow!("{e}"))?;
        let sh = shop
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let ns = netsuite
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await?;
        let location = *shop
            .location_ids()
            .first()
            .context("the Shopify simulator has no location")?;
        let creds = netsuite
            .credentials()
            .into_iter()
            .next()
            .map(connector_credentials)
            .context("the NetSuite simulator has no credentials")?;
        let config = plugin_config(location);
        let setups = (0..n)
            .map(|i| {
                let id = format!("idle-{i:05}");
                StoreSetup {
                    systems: crate::demo::sim_systems(
                        &demo,
                        &id,
                        &shop,
                        &sh.base_url,
                        &ns.base_url(),
                        creds.clone(),
                        &netsuite,
                    ),
                    id,
                    mapper: plugins.mapper.clone().into(),
                    resolvers: plugins.resolvers(),
                    plugin_config: config.clone(),
                    limits: Limits::default(),
                    timing: timing(opts.poll_interval),
                    poll_overlap: Duration::from_secs(5),
                    public_url: None,
                    stock: Default::default(),
                    ownership: Default::default(),
                    deletes: Default::default(),
                }
            })
            .collect();
        Ok((
            IdleWorld {
                _shop: shop,
                _netsuite: netsuite,
                _servers: (sh, ns),
            },
            setups,
        ))
    }
}

/// Nearest-rank percentile of `sorted` (ascending); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// This process's resident memory, bytes (Linux `/proc/self/status` `VmRSS`; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (zero elsewhere).
pub fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line: 12 and 13 of `rest`.
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

/// Waits until the process uses less than a fifth of a core over two seconds (start-up's
/// first rounds done), at most `within`.
pub async fn settle_cpu(within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let c0 = cpu_time();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let used = (cpu_time() - c0).as_secs_f64() / 2.0;
        if used < 0.2 || Instant::now() > deadline {
            return;
        }
    }
}
