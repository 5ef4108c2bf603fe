//! `weft bench stores --stores N`: what N stores cost one host, and whether one store's flood
//! delays another's changes.
//!
//! One host runs `--active` stores with worlds of their own (a simulated shop and NetSuite
//! account each, `--items` items, NetSuite's push script on) and `N - active` idle stores (real
//! stores over a shared, empty shop and NetSuite account: see [`crate::bench_world`]). Every
//! store's reconciliation interval is `--poll-interval-secs`. Phases:
//!
//! 1. **start-up**: the host starts every store; every store's first reconciliation round runs
//!    (the idle stores read their empty systems); the active stores' catalogs reach their
//!    shops. Its wall time is reported.
//! 2. **idle**: nothing changes for `--idle-secs`, twice: right after start-up, and once the
//!    idle loops' waits have had the time to reach their cap ([`weft_engine::idle_cap`]; twice
//!    the cap after start-up, 600 s at 10,000 stores); the process's CPU (user + system,
//!    of one core) over each window and its resident memory at the end. The process holds the
//!    simulators too (their memory before the host started is reported on its own).
//! 3. **trickle**: every active store saves one NetSuite price every `--trickle-period-secs`,
//!    at its own phase, for `--trickle-secs`; each change's lag is the time from the save to its
//!    shop holding the price.
//! 4. **quiet alone**: the first active store (the quiet store) saves a price every 250 ms, 40
//!    times, nothing else changing.
//! 5. **quiet while flooded**: the same, while the second active store's NetSuite account is
//!    saved `--flood-rate` times a second over its items (its pushes, reads, merges and Shopify
//!    writes: a throttled backlog of its own). The quiet store's p99 over its p99 alone is the
//!    isolation figure (goal: within 2x).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use weft_runtime::{Runtime, RuntimeConfig};
use weft_store::Store;

use crate::app::Host;
use crate::bench_world::{
    ActiveStore, IdleWorld, LagWatch, StockPlugins, WorldOptions, cpu_time, percentile, rss_bytes,
    settle_cpu, wait_synced,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct StoresOptions {
    /// Stores in the host (active and idle).
    pub stores: usize,
    /// Stores with worlds of their own (at least 2: the quiet store and the flooded one).
    pub active: usize,
    /// Items of each active store.
    pub items: usize,
    /// Every store's reconciliation interval.
    pub poll_interval: Duration,
    /// The idle window.
    pub idle: Duration,
    /// How long the trickle runs.
    pub trickle: Duration,
    /// Each active store saves one price this often during the trickle.
    pub trickle_period: Duration,
    /// NetSuite saves per second of the flooded store.
    pub flood_rate: f64,
    /// Seed of the simulators.
    pub seed: u64,
}

impl Default for StoresOptions {
    fn default() -> Self {
        StoresOptions {
            stores: 1_000,
            active: 20,
            items: 40,
            poll_interval: Duration::from_secs(3600),
            idle: Duration::from_secs(30),
            trickle: Duration::from_secs(30),
            trickle_period: Duration::from_secs(5),
            flood_rate: 50.0,
            seed: 1,
        }
    }
}

/// Lag figures of a set of changes, milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Lag {
    /// Changes measured.
    pub changes: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Longest.
    pub max_ms: f64,
}

impl Lag {
    /// The figures of `lags` (any order).
    pub fn of(mut lags: Vec<f64>) -> Lag {
        lags.sort_by(f64::total_cmp);
        Lag {
            changes: lags.len(),
            p50_ms: percentile(&lags, 0.50),
            p95_ms: percentile(&lags, 0.95),
            p99_ms: percentile(&lags, 0.99),
            max_ms: lags.last().copied().unwrap_or(0.0),
        }
    }
}

/// `weft bench stores`'s report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoresReport {
    /// Stores in the host.
    pub stores: usize,
    /// Stores with worlds of their own.
    pub active_stores: usize,
    /// Items per active store.
    pub items_per_active_store: usize,
    /// Every store's reconciliation interval, seconds.
    pub poll_interval_secs: f64,
    /// From starting the host to every store's first round done and the active catalogs
    /// synced, seconds.
    pub startup_secs: f64,
    /// Resident memory of the process before the host started (simulators, runtime, compiled
    /// plugins), MiB.
    pub rss_before_host_mib: f64,
    /// Resident memory of the process with every store running, after the idle window, MiB.
    pub rss_mib: f64,
    /// What the host added per store, KiB.
    pub rss_per_store_kib: f64,
    /// CPU of the whole process over the idle window once the idle loops' waits have reached
    /// their cap (twice the cap after start-up), percent of one core.
    pub idle_cpu_percent: f64,
    /// The same over an idle window right after start-up, while the waits still lengthen.
    pub idle_ramp_cpu_percent: f64,
    /// The idle window, seconds.
    pub idle_secs: f64,
    /// Changes per second during the trickle (all active stores together).
    pub trickle_rate_per_sec: f64,
    /// Lag of the trickle's changes.
    pub trickle: Lag,
    /// CPU over the trickle, percent of one core.
    pub trickle_cpu_percent: f64,
    /// The quiet store's lag with nothing else changing.
    pub quiet_alone: Lag,
    /// The quiet store's lag while the flooded store is saved `flood_rate` times a second.
    pub quiet_flooded: Lag,
    /// NetSuite saves per second of the flooded store.
    pub flood_rate: f64,
    /// Saves made in the flooded store during the measurement.
    pub flood_saves: usize,
    /// `quiet_flooded.p99_ms / quiet_alone.p99_ms` (goal: at most 2).
    pub flooded_over_alone_p99: f64,
    /// One `/metrics` scrape of the idle host (every store's figures read from the database),
    /// from request to the last byte.
    pub metrics_scrape_ms: f64,
    /// The scrape's size.
    pub metrics_bytes: usize,
}

/// Runs the benchmark.
pub async fn run(opts: StoresOptions) -> Result<StoresReport> {
    anyhow::ensure!(opts.active >= 2, "--active must be at least 2");
    anyhow::ensure!(
        opts.stores >= opts.active,
        "--stores must be at least --active ({})",
        opts.active
    );
    anyhow::ensure!(opts.items >= 1, "--items must be at least 1");
    raise_open_files();
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
    let plugins = StockPlugins::load(&runtime)?;
    let world = WorldOptions {
        push: true,
        poll_interval: opts.poll_interval,
        seed: opts.seed,
    };
    let mut active = Vec::new();
    let mut setups = Vec::new();
    for i in 0..opts.active {
        let (store, setup) =
            ActiveStore::build(&format!("active-{i:03}"), i, opts.items, &world, &plugins).await?;
        active.push(store);
        setups.push(setup);
    }
    let (_idle, idle_setups) =
        IdleWorld::build(opts.stores - opts.active, &world, &plugins).await?;
    setups.extend(idle_setups);
    let rss_before = rss_bytes();

    // 1. Start-up.
    let started = Instant::now();
    let host = Host::start(db.clone(), &runtime, setups, "127.0.0.1:0".parse()?).await?;
    for s in &active {
        s.connect(host.addr)?;
    }
    wait_synced(&active, 10.0, Duration::from_secs(600)).await?;
    settle_cpu(Duration::from_secs(900)).await;
    let startup_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "bench stores: {} stores started in {startup_secs:.1} s",
        opts.stores
    );

    // 2. Idle: at once (the idle loops still lengthen their waits), then once every wait
    // has had the time to reach its cap (doubling from the base, the waits add up to about
    // twice the cap).
    let idle_window = || async {
        let (cpu0, t0) = (cpu_time(), Instant::now());
        tokio::time::sleep(opts.idle).await;
        let secs = t0.elapsed().as_secs_f64();
        ((cpu_time() - cpu0).as_secs_f64() / secs * 100.0, secs)
    };
    let ramp_from = Instant::now();
    let (idle_ramp_cpu_percent, _) = idle_window().await;
    // Every store is a shop and a NetSuite account: two systems.
    let ramp = weft_engine::idle_cap(opts.stores * weft_engine::idle_loops(2), Duration::ZERO) * 2;
    tokio::time::sleep(ramp.saturating_sub(ramp_from.elapsed())).await;
    let (idle_cpu_percent, idle_secs) = idle_window().await;
    let rss = rss_bytes();
    eprintln!(
        "bench stores: idle {idle_cpu_percent:.1}% of a core ({idle_ramp_cpu_percent:.1}% right after start-up), RSS {:.0} MiB",
        rss as f64 / 1_048_576.0
    );

    let scrape_started = Instant::now();
    let scrape = reqwest::get(format!("http://{}/metrics", host.addr))
        .await
        .context("cannot scrape /metrics")?
        .error_for_status()
        .context("/metrics")?
        .text()
        .await
        .context("cannot read /metrics")?;
    let metrics_scrape_ms = scrape_started.elapsed().as_secs_f64() * 1000.0;
    let metrics_bytes = scrape.len();
    eprintln!(
        "bench stores: a /metrics scrape took {metrics_scrape_ms:.0} ms ({} KiB)",
        metrics_bytes / 1024
    );

    let watch = LagWatch::start(active.iter().map(|s| s.shop.clone()).collect());
    let mut price = 20.0;
    let mut next_price = || {
        price += 0.01;
        (price * 100.0_f64).round() / 100.0
    };

    // 3. Trickle: each active store one save per period, phases spread over the period.
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let slots = (opts.trickle.as_secs_f64() / opts.trickle_period.as_secs_f64()).floor() as usize;
    let mut plan: Vec<(Duration, usize)> = Vec::new();
    for slot in 0..slots.max(1) {
        for s in 0..active.len() {
            let phase = opts.trickle_period.mul_f64(s as f64 / active.len() as f64);
            plan.push((opts.trickle_period * slot as u32 + phase, s));
        }
    }
    plan.sort();
    let mut saves = 0usize;
    // Each store's saves go to its items in turn, so a change is never overwritten by the
    // next one before it arrived (as long as a store has more items than changes in flight).
    let mut turn = vec![0usize; active.len()];
    for (at, s) in &plan {
        if let Some(wait) = at.checked_sub(t0.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let store = &active[*s];
        let sku = &store.skus[turn[*s] % store.skus.len()];
        turn[*s] += 1;
        let p = next_price();
        store.save_price(sku, p)?;
        watch.watch(*s, sku, p);
        saves += 1;
    }
    let trickle_wall = t0.elapsed().as_secs_f64();
    let trickle_lags = watch.settle(Duration::from_secs(120)).await?;
    let trickle_cpu_percent =
        (cpu_time() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
    let trickle = Lag::of(trickle_lags.into_values().flatten().collect());
    eprintln!("bench stores: trickle {trickle:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 4. The quiet store alone.
    let quiet = 0;
    let quiet_alone = quiet_run(&active[quiet], quiet, &watch, &mut next_price).await?;
    eprintln!("bench stores: quiet store alone {quiet_alone:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 5. The quiet store while another is flooded.
    let flooded = &active[1];
    let (stop_flood, mut flood_stopped) = tokio::sync::watch::channel(false);
    let flood = {
        let (ns, skus, rate) = (
            flooded.netsuite.clone(),
            flooded.skus.clone(),
            opts.flood_rate,
        );
        tokio::spawn(async move {
            let mut n = 0usize;
            let started = Instant::now();
            let mut price = 50.0;
            while !*flood_stopped.borrow() {
                let due = started + Duration::from_secs_f64(n as f64 / rate);
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = flood_stopped.changed() => break,
                }
                price += 0.01;
                let sku = &skus[n % skus.len()];
                let _ = ns.erp_update(
                    weft_sim_netsuite::RecordType::InventoryItem,
                    &format!("eid:item-{sku}"),
                    serde_json::json!({ "basePrice": (price * 100.0_f64).round() / 100.0 }),
                );
                n += 1;
            }
            n
        })
    };
    // Let the flood build its backlog first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet_flooded = quiet_run(&active[quiet], quiet, &watch, &mut next_price).await?;
    let _ = stop_flood.send(true);
    let flood_saves = flood.await.context("the flood task panicked")?;
    host.stop().await;
    db.close().await;

    let stores = opts.stores.max(1) as f64;
    Ok(StoresReport {
        stores: opts.stores,
        active_stores: opts.active,
        items_per_active_store: opts.items,
        poll_interval_secs: opts.poll_interval.as_secs_f64(),
        startup_secs,
        rss_before_host_mib: rss_before as f64 / 1_048_576.0,
        rss_mib: rss as f64 / 1_048_576.0,
        rss_per_store_kib: rss.saturating_sub(rss_before) as f64 / 1024.0 / stores,
        idle_cpu_percent,
        idle_ramp_cpu_percent,
        idle_secs,
        trickle_rate_per_sec: saves as f64 / trickle_wall.max(1e-9),
        trickle,
        trickle_cpu_percent,
        flooded_over_alone_p99: if quiet_alone.p99_ms > 0.0 {
            quiet_flooded.p99_ms / quiet_alone.p99_ms
        } else {
            0.0
        },
        quiet_alone,
        quiet_flooded,
        flood_rate: opts.flood_rate,
        flood_saves,
        metrics_scrape_ms,
        metrics_bytes,
    })
}

/// 40 saves of the quiet store, one every 250 ms, each watched to its shop (each to another
/// item when the store has 40, so none overwrites one still on its way).
async fn quiet_run(
    store: &ActiveStore,
    index: usize,
    watch: &LagWatch,
    next_price: &mut impl FnMut() -> f64,
) -> Result<Lag> {
    for k in 0..40 {
        let sku = &store.skus[k % store.skus.len()];
        let p = next_price();
        store.save_price(sku, p)?;
        watch.watch(index, sku, p);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let lags = watch.settle(Duration::from_secs(120)).await?;
    Ok(Lag::of(lags.get(&index).cloned().unwrap_or_default()))
}

/// Thousands of stores hold thousands of client connections and simulator sockets.
fn raise_open_files() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}
