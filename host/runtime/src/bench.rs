//! `weft bench plugin`: what a plugin call costs on this machine.
//!
//! - instantiate-and-call cost of one batch (fresh instance per batch, as in production): median
//!   and p99, plus the same for an empty batch (the fixed per-call cost);
//! - documents/s through the Wasm mapper, and through the same mapping compiled natively when a
//!   native implementation is given, with the Wasm/native ratio;
//! - plugin load time cold (compile) vs warm (precompiled cache, after a "restart");
//! - memory (RSS delta from `/proc/self/status`) for N stores sharing one plugin: N bound store
//!   contexts, and N live instances at once.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Limits, RuntimeConfig};
use crate::engine::Runtime;
use crate::error::{PluginError, RuntimeError};
use crate::plugin::StoreCtx;
use crate::types::{EntityKind, PlatformDoc};

/// A native implementation of the same mapping, for the Wasm/native comparison: maps one batch
/// and returns how many outcomes it produced.
pub type NativeMapper = Box<dyn Fn(&[PlatformDoc]) -> Result<usize, String> + Send + Sync>;

/// What to measure.
pub struct BenchOptions {
    /// The mapper component.
    pub component: Vec<u8>,
    /// Its name in reports.
    pub name: String,
    /// The store config the mapper gets (`[plugin.config]`).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The documents mapped (cycled through in batches).
    pub docs: Vec<PlatformDoc>,
    /// Documents per batch.
    pub batch_size: usize,
    /// Samples for the per-call latency figures.
    pub iterations: usize,
    /// Documents mapped for the throughput figures.
    pub throughput_docs: usize,
    /// Stores sharing the plugin in the memory figures.
    pub stores: usize,
    /// The same mapping compiled natively, if available.
    pub native: Option<NativeMapper>,
}

impl BenchOptions {
    /// Defaults: 100-document batches of [`sample_products`], 500 samples, 50,000 documents for
    /// throughput, 1,000 stores.
    pub fn new(name: impl Into<String>, component: Vec<u8>) -> Self {
        BenchOptions {
            component,
            name: name.into(),
            config: Default::default(),
            docs: sample_products(1000),
            batch_size: 100,
            iterations: 500,
            throughput_docs: 50_000,
            stores: 1000,
            native: None,
        }
    }
}

impl BenchOptions {
    /// The stock Shopify <-> NetSuite mapper (`component`: its Wasm build, e.g.
    /// `weft_plugin_artifacts::stock("shopify-netsuite")`) on [`sample_products`], with its
    /// native build linked in for the Wasm/native ratio.
    pub fn stock_shopify_netsuite(component: Vec<u8>) -> Self {
        let config = stock_config();
        let native_config = serde_json::Value::Object(config.clone());
        let mut opts = BenchOptions::new("shopify-netsuite", component);
        opts.config = config;
        opts.native = Some(Box::new(move |docs: &[PlatformDoc]| {
            native_shopify_netsuite(&native_config, docs)
        }));
        opts
    }
}

/// A realistic store config for the stock mapper.
fn stock_config() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::json!({
        "sku_prefix": "WEB-",
        "title_field": "custitem_web_title",
        "locations": {"61000000001": "1", "61000000002": "2"},
        "default_customer": "42"
    }) {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Maps a batch with the stock mapper compiled natively (same source as the component).
fn native_shopify_netsuite(
    config: &serde_json::Value,
    docs: &[PlatformDoc],
) -> Result<usize, String> {
    use weft_plugin_sdk::Mapper as _;
    let cx = weft_plugin_sdk::Context::native(config.clone());
    let docs = docs
        .iter()
        .map(|d| weft_plugin_sdk::PlatformDoc {
            system: d.system.clone(),
            kind: match d.kind {
                EntityKind::Product => weft_plugin_sdk::EntityKind::Product,
                EntityKind::Variant => weft_plugin_sdk::EntityKind::Variant,
                EntityKind::InventoryLevel => weft_plugin_sdk::EntityKind::InventoryLevel,
                EntityKind::Price => weft_plugin_sdk::EntityKind::Price,
                EntityKind::Customer => weft_plugin_sdk::EntityKind::Customer,
                EntityKind::Order => weft_plugin_sdk::EntityKind::Order,
                EntityKind::Fulfillment => weft_plugin_sdk::EntityKind::Fulfillment,
                EntityKind::Refund => weft_plugin_sdk::EntityKind::Refund,
            },
            id: d.id.clone(),
            version: d.version.clone(),
            body: d.body.clone(),
        })
        .collect();
    weft_stock_shopify_netsuite::ShopifyNetsuite
        .to_canonical(&cx, docs)
        .map(|out| out.len())
        .map_err(|e| format!("native stock mapper failed: {e:?}"))
}

/// The figures, as `weft bench plugin --json` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct PluginBench {
    /// The plugin measured.
    pub plugin: String,
    /// Documents per batch.
    pub batch_size: usize,
    /// Instantiate-and-call one batch: median, microseconds.
    pub call_median_us: f64,
    /// Instantiate-and-call one batch: 99th percentile, microseconds.
    pub call_p99_us: f64,
    /// Instantiate-and-call an empty batch (fixed cost per call): median, microseconds.
    pub empty_call_median_us: f64,
    /// Instantiate-and-call an empty batch: 99th percentile, microseconds.
    pub empty_call_p99_us: f64,
    /// Documents per second through the Wasm mapper (one thread, fresh instance per batch).
    pub wasm_docs_per_sec: f64,
    /// Documents per second through the native build of the same mapping, when available.
    pub native_docs_per_sec: Option<f64>,
    /// Native throughput / Wasm throughput (how many times slower Wasm is; goal at most 2.5).
    pub wasm_native_ratio: Option<f64>,
    /// Why the native figures are missing, when they are.
    pub native_missing: Option<String>,
    /// Load with compilation (no cache), milliseconds.
    pub load_cold_ms: f64,
    /// Load from the precompiled disk cache in a fresh runtime (a restart), milliseconds.
    pub load_warm_ms: f64,
    /// Stores sharing the plugin in the memory figures.
    pub stores: usize,
    /// RSS growth for binding that many stores (config + limits each), KiB.
    pub bound_stores_rss_kib: i64,
    /// RSS growth with one live instance per store at once (each after one batch), KiB.
    pub live_instances_rss_kib: i64,
    /// `live_instances_rss_kib` per store, KiB.
    pub live_instance_kib_each: f64,
    /// Whether the pooling allocator was in use.
    pub pooling: bool,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The plugin failed to load or to map the sample documents.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A temporary cache directory could not be made.
    #[error("cannot create a temporary cache directory: {0}")]
    TempDir(std::io::Error),
    /// The options make no sense.
    #[error("invalid benchmark options: {0}")]
    Options(String),
}

/// Runs the benchmark. Takes tens of seconds; run it on a quiet machine.
pub fn run(opts: BenchOptions) -> Result<PluginBench, BenchError> {
    if opts.docs.is_empty() || opts.batch_size == 0 || opts.iterations == 0 {
        return Err(BenchError::Options(
            "docs, batch_size and iterations must be non-zero".into(),
        ));
    }
    let cache = std::env::temp_dir().join(format!("weft-bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&cache).map_err(BenchError::TempDir)?;
    let result = run_in(&opts, &cache);
    let _ = std::fs::remove_dir_all(&cache);
    result
}

fn run_in(opts: &BenchOptions, cache: &std::path::Path) -> Result<PluginBench, BenchError> {
    let config = RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        max_instances: (opts.stores as u32).saturating_add(16).max(64),
        ..RuntimeConfig::default()
    };

    // Cold load: compile and write the cache.
    let rt = Runtime::new(config.clone())?;
    let started = Instant::now();
    let plugin = rt.load(&opts.name, &opts.component)?;
    let load_cold = started.elapsed();
    drop(plugin);
    drop(rt);

    // Warm loads: a fresh runtime each time, as after a restart (median of 5).
    let mut warm = Vec::new();
    for _ in 0..5 {
        let rt = Runtime::new(config.clone())?;
        let started = Instant::now();
        let p = rt.load(&opts.name, &opts.component)?;
        warm.push(started.elapsed());
        debug_assert_eq!(p.load_source(), crate::plugin::LoadSource::Cache);
    }

    let rt = Runtime::new(config)?;
    let plugin = rt.load(&opts.name, &opts.component)?;
    let ctx = StoreCtx {
        store_id: "bench".into(),
        config: opts.config.clone(),
        limits: Limits {
            max_input_bytes: u64::MAX,
            max_output_bytes: u64::MAX,
            ..Limits::default()
        },
    };
    let mapper = rt.mapper(&plugin, ctx.clone())?;
    let batches: Vec<Vec<PlatformDoc>> = opts
        .docs
        .chunks(opts.batch_size)
        .filter(|c| c.len() == opts.batch_size)
        .map(<[PlatformDoc]>::to_vec)
        .collect();
    let batches = if batches.is_empty() {
        vec![opts.docs.clone()]
    } else {
        batches
    };
    let batch_size = batches[0].len();

    // Warm up, then per-call latency.
    for b in batches.iter().take(5) {
        mapper.to_canonical(b)?;
    }
    let mut calls = Vec::with_capacity(opts.iterations);
    let mut empty = Vec::with_capacity(opts.iterations);
    for i in 0..opts.iterations {
        let b = &batches[i % batches.len()];
        let t = Instant::now();
        mapper.to_canonical(b)?;
        calls.push(t.elapsed());
        let t = Instant::now();
        mapper.to_canonical(&[])?;
        empty.push(t.elapsed());
    }

    // Throughput, Wasm and native alternating batch by batch so both see the same machine
    // load (a busy 2-core machine otherwise skews the ratio either way).
    let rounds = opts.throughput_docs.div_ceil(batch_size).max(1);
    if let Some(native) = &opts.native {
        for b in batches.iter().take(5) {
            native(b).map_err(BenchError::Options)?;
        }
    }
    let (mut wasm_time, mut native_time) = (Duration::ZERO, Duration::ZERO);
    let (mut wasm_mapped, mut native_mapped) = (0usize, 0usize);
    for i in 0..rounds {
        let batch = &batches[i % batches.len()];
        let t = Instant::now();
        wasm_mapped += mapper.to_canonical(batch)?.len();
        wasm_time += t.elapsed();
        if let Some(native) = &opts.native {
            let t = Instant::now();
            native_mapped += native(batch).map_err(BenchError::Options)?;
            native_time += t.elapsed();
        }
    }
    let wasm_docs_per_sec = wasm_mapped as f64 / wasm_time.as_secs_f64();
    let (native_docs_per_sec, native_missing) = match &opts.native {
        Some(_) => (Some(native_mapped as f64 / native_time.as_secs_f64()), None),
        None => (
            None,
            Some("no native build of this mapping was linked into this binary".to_string()),
        ),
    };
    let wasm_native_ratio = native_docs_per_sec.map(|n| n / wasm_docs_per_sec);

    // Memory: N stores bound to the plugin, then N live instances at once.
    let before = rss_kib();
    let bound: Vec<_> = (0..opts.stores)
        .map(|i| {
            let mut c = ctx.clone();
            c.store_id = format!("store-{i}");
            rt.mapper(&plugin, c)
        })
        .collect::<Result<_, _>>()?;
    let after_bind = rss_kib();
    let mut live = Vec::with_capacity(opts.stores);
    for m in &bound {
        live.push(m.hold(&batches[0])?);
    }
    let after_live = rss_kib();
    drop(live);
    drop(bound);
    let live_delta = after_live - after_bind;

    Ok(PluginBench {
        plugin: opts.name.clone(),
        batch_size,
        call_median_us: micros(pct(&mut calls, 0.5)),
        call_p99_us: micros(pct(&mut calls, 0.99)),
        empty_call_median_us: micros(pct(&mut empty, 0.5)),
        empty_call_p99_us: micros(pct(&mut empty, 0.99)),
        wasm_docs_per_sec,
        native_docs_per_sec,
        wasm_native_ratio,
        native_missing,
        load_cold_ms: load_cold.as_secs_f64() * 1e3,
        load_warm_ms: pct(&mut warm, 0.5).as_secs_f64() * 1e3,
        stores: opts.stores,
        bound_stores_rss_kib: after_bind - before,
        live_instances_rss_kib: live_delta,
        live_instance_kib_each: live_delta as f64 / opts.stores.max(1) as f64,
        pooling: rt.stats().pooling,
    })
}

impl std::fmt::Display for PluginBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "plugin {} ({} docs per batch, pooling {})",
            self.plugin, self.batch_size, self.pooling
        )?;
        writeln!(
            f,
            "  instantiate + call, one batch:   median {:.1} us, p99 {:.1} us",
            self.call_median_us, self.call_p99_us
        )?;
        writeln!(
            f,
            "  instantiate + call, empty batch: median {:.1} us, p99 {:.1} us",
            self.empty_call_median_us, self.empty_call_p99_us
        )?;
        writeln!(f, "  wasm:   {:.0} docs/s", self.wasm_docs_per_sec)?;
        match (self.native_docs_per_sec, self.wasm_native_ratio) {
            (Some(n), Some(r)) => writeln!(
                f,
                "  native: {n:.0} docs/s  (wasm/native cost ratio {r:.2}; goal <= 2.5)"
            )?,
            _ => writeln!(
                f,
                "  native: missing ({})",
                self.native_missing.as_deref().unwrap_or("not measured")
            )?,
        }
        writeln!(
            f,
            "  load:   cold (compile) {:.1} ms, warm (precompiled cache) {:.1} ms",
            self.load_cold_ms, self.load_warm_ms
        )?;
        write!(
            f,
            "  memory: {} stores bound: +{} KiB RSS; {} live instances at once: +{} KiB RSS ({:.1} KiB each)",
            self.stores,
            self.bound_stores_rss_kib,
            self.stores,
            self.live_instances_rss_kib,
            self.live_instance_kib_each
        )
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`; 0 elsewhere).
pub fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// `n` realistic Shopify products in the REST/webhook shape weft uses (ids as decimal strings,
/// three variants each), as `shopify` / `product` platform docs. Deterministic.
pub fn sample_products(n: usize) -> Vec<PlatformDoc> {
    const BASE: u64 = 8_000_000_000_000; // realistic Shopify id range, beyond 2^32
    (0..n)
        .map(|i| {
            let id = BASE + i as u64;
            let updated = format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
            let variants: Vec<serde_json::Value> = (0..3u64)
                .map(|v| {
                    serde_json::json!({
                        "id": (BASE * 5 + i as u64 * 3 + v).to_string(),
                        "product_id": id.to_string(),
                        "title": (["Small", "Medium", "Large"][v as usize]),
                        "sku": format!("WEB-{:05}-{}", i, ["S", "M", "L"][v as usize]),
                        "price": format!("{}.{:02}", 10 + (i * 7 + v as usize) % 90, (i * 13) % 100),
                        "compare_at_price": if i % 3 == 0 { serde_json::Value::Null } else { serde_json::json!(format!("{}.00", 120 + i % 50)) },
                        "barcode": format!("0{:011}", i as u64 * 10 + v),
                        "inventory_item_id": (BASE * 7 + i as u64 * 3 + v).to_string(),
                        "updated_at": updated,
                    })
                })
                .collect();
            let body = serde_json::json!({
                "id": id.to_string(),
                "title": format!("Merino Crew Sweater {i}"),
                "body_html": format!("<p>Soft merino wool, style {i}. Machine washable.</p>"),
                "vendor": (["Acme Knits", "Northwind", "Contoso"][i % 3]),
                "product_type": "Sweaters",
                "handle": format!("merino-crew-sweater-{i}"),
                "status": "active",
                "tags": "merino, winter, knitwear",
                "updated_at": updated,
                "variants": variants,
            });
            PlatformDoc {
                system: "shopify".into(),
                kind: EntityKind::Product,
                id: id.to_string(),
                version: updated,
                body: body.to_string(),
            }
        })
        .collect()
}
