//! `weft bench plugin`: the stock Shopify ↔ NetSuite mapper through Wasm, next to the very same
//! mapping compiled natively into this binary (the guest crate is an ordinary Rust library too).

use anyhow::{Context, Result};
use weft_plugin_sdk::{Mapper, ToCanonicalOutcome};
use weft_runtime::bench::{BenchOptions, PluginBench};
use weft_runtime::types::{EntityKind, PlatformDoc};

const MAPPER: &str = "shopify-netsuite";

/// Runs the plugin benchmark (blocking: call it off the async runtime).
pub fn run(batch: usize, iterations: usize, docs: usize, stores: usize) -> Result<PluginBench> {
    let bytes = weft_plugin_artifacts::stock(MAPPER)
        .with_context(|| format!("the stock `{MAPPER}` plugin is not embedded in this build"))?;
    let mut opts = BenchOptions::new(MAPPER, bytes.to_vec());
    opts.batch_size = batch;
    opts.iterations = iterations;
    opts.throughput_docs = docs;
    opts.stores = stores;
    let config = opts.config.clone();
    opts.native = Some(Box::new(move |docs: &[PlatformDoc]| {
        let cx = weft_plugin_sdk::Context::native(serde_json::Value::Object(config.clone()));
        let input = docs.iter().map(to_sdk).collect();
        let out = weft_stock_shopify_netsuite::ShopifyNetsuite
            .to_canonical(&cx, input)
            .map_err(|e| format!("{e:?}"))?;
        Ok(out
            .iter()
            .map(|o| match o {
                ToCanonicalOutcome::Mapped(records) => records.len(),
                _ => 0,
            })
            .sum())
    }));
    Ok(weft_runtime::bench::run(opts)?)
}

fn to_sdk(doc: &PlatformDoc) -> weft_plugin_sdk::PlatformDoc {
    use weft_plugin_sdk::EntityKind as K;
    weft_plugin_sdk::PlatformDoc {
        system: doc.system.clone(),
        kind: match doc.kind {
            EntityKind::Product => K::Product,
            EntityKind::Variant => K::Variant,
            EntityKind::InventoryLevel => K::InventoryLevel,
            EntityKind::Price => K::Price,
            EntityKind::Customer => K::Customer,
            EntityKind::Order => K::Order,
        },
        id: doc.id.clone(),
        version: doc.version.clone(),
        body: doc.body.clone(),
    }
}
