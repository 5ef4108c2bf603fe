//! `weft bench lag`: how long a price saved in NetSuite takes to reach the storefront (the
//! Shopify write acknowledged: the simulator holds the new price), with NetSuite's push
//! script and with change capture polling only.
//!
//! One store of the demo's kind (simulated Shopify shop and NetSuite account, the stock mapper,
//! the real host), the store's poll interval set to `--poll-interval-secs` (30 s by default,
//! what a production store typically polls NetSuite at). Changes are saved spread evenly over
//! twice the poll interval, so they fall at every phase of the poll cycle; each one's lag is
//! the time from the save returning to the simulated shop showing the price (sampled every
//! 5 ms). The same changes are then made in a second, identical world without pushes.
//!
//! With `--stores N`, the host runs N - 1 idle stores beside the measured one (real stores over
//! a shared, empty shop and NetSuite account, reconciling hourly, `crate::bench_world::IdleWorld`):
//! the lag of one store among a thousand.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde_json::{Value, json};
use weft_engine::Timing;
use weft_runtime::{Limits, Runtime, RuntimeConfig};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::ShopifySim;
use weft_store::Store;

use crate::app::{Host, StoreSetup};
use crate::demo::{
    API_VERSION, DemoOptions, NS_LOCATION, catalog_fields, connector_credentials, mapper_config,
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct LagOptions {
    /// Price changes saved in NetSuite per run.
    pub changes: usize,
    /// The store's poll interval (NetSuite change capture's).
    pub poll_interval: Duration,
    /// Seed of the simulators.
    pub seed: u64,
    /// Stores in the host: the measured one and `stores - 1` idle ones.
    pub stores: usize,
}

impl Default for LagOptions {
    fn default() -> Self {
        LagOptions {
            changes: 20,
            poll_interval: Duration::from_secs(30),
            seed: 1,
            stores: 1,
        }
    }
}

/// The lag figures of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LagFigures {
    /// Changes measured.
    pub changes: usize,
    /// Median lag, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Longest, milliseconds.
    pub max_ms: f64,
    /// Mean, milliseconds.
    pub mean_ms: f64,
    /// Notifications the push script delivered (0 without pushes).
    pub pushes_delivered: u64,
    /// Requests weft made to NetSuite during the changes (what the account's shared
    /// concurrency paid).
    pub netsuite_requests: u64,
}

/// `weft bench lag`'s report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LagReport {
    /// Stores in the host (the measured one and idle ones).
    pub stores: usize,
    /// The load: one NetSuite price save every this many milliseconds, each to another item.
    pub change_spacing_ms: f64,
    /// The store's poll interval, seconds.
    pub poll_interval_secs: f64,
    /// With NetSuite's push script.
    pub push: LagFigures,
    /// Change capture polling only.
    pub poll_only: LagFigures,
    /// Poll-only p50 over push p50.
    pub p50_speedup: f64,
}

/// Runs both measurements.
pub async fn run(opts: LagOptions) -> Result<LagReport> {
    anyhow::ensure!(opts.changes >= 1, "--changes must be at least 1");
    let push = measure(&opts, true).await.context("with pushes")?;
    let poll_only = measure(&opts, false).await.context("polling only")?;
    Ok(LagReport {
        stores: opts.stores.max(1),
        change_spacing_ms: (opts.poll_interval.mul_f64(2.0) / opts.changes as u32).as_secs_f64()
            * 1000.0,
        poll_interval_secs: opts.poll_interval.as_secs_f64(),
        p50_speedup: if push.p50_ms > 0.0 {
            poll_only.p50_ms / push.p50_ms
        } else {
            0.0
        },
        push,
        poll_only,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The price the shop shows for `sku`.
fn shop_price(shop: &ShopifySim, sku: &str) -> Option<f64> {
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

async fn measure(opts: &LagOptions, push: bool) -> Result<LagFigures> {
    let demo = DemoOptions {
        erp_push: push,
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
    .await
    .context("cannot open the benchmark database")?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(tmp.path().join("cache")),
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
    let shop = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(opts.seed)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .map_err(|e| anyhow!("{e}"))?,
    );
    let netsuite = NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(opts.seed))
        .map_err(|e| anyhow!("{e}"))?;
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
    let skus: Vec<String> = (0..opts.changes).map(|k| format!("LAG-{k:04}")).collect();
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
    let store_id = "lag";
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
            poll_interval: opts.poll_interval,
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
    let mut setups = vec![setup];
    let _idle = if opts.stores > 1 {
        let plugins = crate::bench_world::StockPlugins::load(&runtime)?;
        let (idle, more) = crate::bench_world::IdleWorld::build(
            opts.stores - 1,
            // Idle stores reconcile hourly, as a host of a thousand stores would: only the
            // measured store polls at `--poll-interval-secs`.
            &crate::bench_world::WorldOptions {
                push,
                poll_interval: Duration::from_secs(3600),
                seed: opts.seed,
            },
            &plugins,
        )
        .await?;
        setups.extend(more);
        Some(idle)
    } else {
        None
    };
    let host = Host::start(db.clone(), &runtime, setups, "127.0.0.1:0".parse()?).await?;
    crate::demo::subscribe_shopify(
        &shop,
        &format!("http://{}/webhooks/shopify/{store_id}", host.addr),
    )?;
    crate::demo_push::deploy(&demo, &netsuite, host.addr, store_id);

    // First contact: the catalog reaches the shop.
    host.poll_now();
    let within = Duration::from_secs(120 + opts.stores as u64 / 10);
    let deadline = Instant::now() + within;
    while skus.iter().any(|s| shop_price(&shop, s) != Some(10.0)) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the initial sync did not bring the catalog to the shop in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if opts.stores > 1 {
        // The idle stores' first rounds done before measuring.
        crate::bench_world::settle_cpu(Duration::from_secs(600)).await;
    }
    // The first sync's tail done (its last steps and writes: the first change would otherwise
    // wait for them), then the shop's cost bucket refilled from it: the lag measured is weft's,
    // not the platform budget's.
    let mut quiet = 0;
    while quiet < 3 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the initial sync did not settle in {within:?}"
        );
        let st = db.status(store_id).await?;
        quiet = if st.lag == 0 && st.outbox.pending == 0 && st.outbox.inflight == 0 {
            quiet + 1
        } else {
            0
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let plan = shop.config();
    tokio::time::sleep(Duration::from_secs_f64(
        plan.maximum_available / plan.restore_rate,
    ))
    .await;
    let requests_before = netsuite.stats().requests;

    // Changes spread over two poll intervals, each watched until the shop shows it.
    let spacing = opts.poll_interval.mul_f64(2.0) / opts.changes as u32;
    let give_up = opts.poll_interval * 3 + Duration::from_secs(30);
    let mut watchers = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        let price = 20.0 + i as f64;
        netsuite
            .erp_update(
                RecordType::InventoryItem,
                &format!("eid:item-{sku}"),
                json!({ "basePrice": price }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        let saved = Instant::now();
        let (shop, sku) = (shop.clone(), sku.clone());
        watchers.push(tokio::spawn(async move {
            while saved.elapsed() < give_up {
                if shop_price(&shop, &sku) == Some(price) {
                    return Ok(saved.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(anyhow!(
                "{sku}: the shop did not show {price} within {give_up:?}"
            ))
        }));
        tokio::time::sleep(spacing).await;
    }
    let mut lags = Vec::new();
    for w in watchers {
        lags.push(w.await.context("a watcher panicked")??.as_secs_f64() * 1000.0);
    }
    let requests = netsuite.stats().requests - requests_before;
    let pushes = netsuite.push_stats().delivered;
    host.stop().await;
    lags.sort_by(f64::total_cmp);
    let by: BTreeMap<&str, f64> = BTreeMap::from([
        ("p50", percentile(&lags, 0.5)),
        ("p95", percentile(&lags, 0.95)),
        ("p99", percentile(&lags, 0.99)),
    ]);
    Ok(LagFigures {
        changes: lags.len(),
        p50_ms: by["p50"],
        p95_ms: by["p95"],
        p99_ms: by["p99"],
        max_ms: lags.last().copied().unwrap_or(0.0),
        mean_ms: lags.iter().sum::<f64>() / lags.len().max(1) as f64,
        pushes_delivered: pushes,
        netsuite_requests: requests,
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
