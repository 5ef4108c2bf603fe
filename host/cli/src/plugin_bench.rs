//! `weft bench plugin --lang rust|python|js`: what a plugin costs in each language.
//!
//! The worked example `title-price` (`plugins/examples/title-price/`: the title and price part
//! of the stock mapper, one implementation per language passing the same fixtures) is measured
//! in the chosen language next to its Rust build, on the same documents and limits: load cold
//! (compile) and warm (precompiled cache, after a restart), instantiate-and-call one batch
//! (p50/p99), the empty-batch fixed cost, documents/s, resident memory per live instance, and
//! whether the same batch twice gives byte-identical output.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use weft_runtime::bench::{BenchOptions, PluginBench, sample_products};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};

use crate::plugin_dev::{self, Lang};

/// The Python version of the worked example.
pub const TITLE_PRICE_PY: &str =
    include_str!("../../../plugins/examples/title-price/python/app.py");
/// The JavaScript version of the worked example.
pub const TITLE_PRICE_JS: &str = include_str!("../../../plugins/examples/title-price/js/app.js");

/// What to measure.
#[derive(Debug, Clone)]
pub struct LangBenchOptions {
    /// The language measured next to Rust.
    pub lang: Lang,
    /// The component to measure instead of building the example (`--component`).
    pub component: Option<PathBuf>,
    /// Documents per batch.
    pub batch: usize,
    /// Samples for the latency figures.
    pub iterations: usize,
    /// Documents for the throughput figure.
    pub docs: usize,
    /// Live instances at once for the memory figure.
    pub stores: usize,
}

/// The figures, as `--json` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct LangBench {
    /// The language measured.
    pub lang: Lang,
    /// Component size, bytes.
    pub component_bytes: u64,
    /// Its figures.
    pub figures: PluginBench,
    /// The same batch through two fresh instances gave byte-identical output.
    pub deterministic: bool,
    /// The Rust build of the same mapping, for comparison (absent when `lang` is Rust).
    pub rust: Option<RustBaseline>,
}

/// The Rust build's figures and the ratios against it.
#[derive(Debug, Clone, Serialize)]
pub struct RustBaseline {
    /// Component size, bytes.
    pub component_bytes: u64,
    /// Its figures.
    pub figures: PluginBench,
    /// `lang` / Rust: per-batch median.
    pub call_median_ratio: f64,
    /// `lang` / Rust: empty-batch median (the fixed cost of a fresh instance).
    pub empty_call_median_ratio: f64,
    /// `lang` / Rust: cold load.
    pub load_cold_ratio: f64,
    /// `lang` / Rust: warm load.
    pub load_warm_ratio: f64,
    /// `lang` / Rust: resident memory per live instance.
    pub instance_memory_ratio: f64,
}

/// The store config of the example (`[plugins.config]`).
fn config() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::json!({"sku_prefix": "WEB-", "title_field": "custitem_web_title"}) {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

/// Builds the worked example in `lang` into `dir` (the toolchain must be installed; see
/// [`plugin_dev::build`]). The Rust build comes from the binary's own guest build.
pub fn build_example(lang: Lang, dir: &Path) -> Result<PathBuf> {
    match lang {
        Lang::Rust => Ok(PathBuf::from(weft_plugin_artifacts::EXAMPLE_TITLE_PRICE)),
        Lang::Python | Lang::Js => {
            let src = dir.join(format!("title-price-{lang:?}").to_lowercase());
            std::fs::create_dir_all(&src)?;
            let (file, text) = match lang {
                Lang::Python => ("app.py", TITLE_PRICE_PY),
                _ => ("app.js", TITLE_PRICE_JS),
            };
            std::fs::write(src.join(file), text)?;
            plugin_dev::build(&src, &src.join("plugin.wasm"))
        }
    }
}

fn measure(name: &str, bytes: Vec<u8>, o: &LangBenchOptions) -> Result<PluginBench> {
    let mut opts = BenchOptions::new(name, bytes);
    opts.config = config();
    opts.docs = sample_products(1000);
    opts.batch_size = o.batch;
    opts.iterations = o.iterations;
    opts.throughput_docs = o.docs;
    opts.stores = o.stores;
    weft_runtime::bench::run(opts).with_context(|| format!("benchmark of {name} failed"))
}

/// The same batch twice, each through a fresh instance: byte-identical output?
fn deterministic(bytes: &[u8], batch: usize) -> Result<bool> {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        ..RuntimeConfig::default()
    })?;
    let plugin = rt.load("determinism", bytes)?;
    let mapper = rt.mapper(
        &plugin,
        StoreCtx {
            store_id: "determinism".into(),
            config: config(),
            limits: Limits::default(),
        },
    )?;
    let docs = sample_products(batch);
    let a = serde_json::to_vec(&mapper.to_canonical(&docs)?)?;
    let b = serde_json::to_vec(&mapper.to_canonical(&docs)?)?;
    Ok(a == b)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Runs the benchmark (tens of seconds to minutes: interpreted guests are slow to compile).
pub fn run(o: LangBenchOptions) -> Result<LangBench> {
    let scratch = tempfile::tempdir()?;
    let path = match &o.component {
        Some(p) => p.clone(),
        None => build_example(o.lang, scratch.path())?,
    };
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = format!("title-price-{}", format!("{:?}", o.lang).to_lowercase());
    let figures = measure(&name, bytes.clone(), &o)?;
    let deterministic = deterministic(&bytes, o.batch)?;
    let rust = if o.lang == Lang::Rust {
        None
    } else {
        let rust_bytes = std::fs::read(weft_plugin_artifacts::EXAMPLE_TITLE_PRICE)
            .context("the Rust build of title-price is missing")?;
        let r = measure("title-price-rust", rust_bytes.clone(), &o)?;
        Some(RustBaseline {
            component_bytes: rust_bytes.len() as u64,
            call_median_ratio: ratio(figures.call_median_us, r.call_median_us),
            empty_call_median_ratio: ratio(figures.empty_call_median_us, r.empty_call_median_us),
            load_cold_ratio: ratio(figures.load_cold_ms, r.load_cold_ms),
            load_warm_ratio: ratio(figures.load_warm_ms, r.load_warm_ms),
            instance_memory_ratio: ratio(figures.live_instance_kib_each, r.live_instance_kib_each),
            figures: r,
        })
    };
    Ok(LangBench {
        lang: o.lang,
        component_bytes: bytes.len() as u64,
        figures,
        deterministic,
        rust,
    })
}

impl std::fmt::Display for LangBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} ({} bytes, deterministic: {})",
            self.lang.display(),
            self.component_bytes,
            self.deterministic
        )?;
        writeln!(f, "{}", self.figures)?;
        if let Some(r) = &self.rust {
            writeln!(f, "Rust ({} bytes)", r.component_bytes)?;
            writeln!(f, "{}", r.figures)?;
            write!(
                f,
                "{} / Rust: batch median x{:.1}, empty batch x{:.1}, load cold x{:.1}, load warm x{:.1}, memory per instance x{:.1}",
                self.lang.display(),
                r.call_median_ratio,
                r.empty_call_median_ratio,
                r.load_cold_ratio,
                r.load_warm_ratio,
                r.instance_memory_ratio
            )?;
        }
        Ok(())
    }
}
