//! Test double for the set-aside tests: the stock `shopify-netsuite` mapper that panics (a trap:
//! wasm32-wasip2 has no unwinding) whenever a batch holds a NetSuite item whose SKU contains
//! [`PANIC_MARK`]. Never embedded in the `weft` binary;
//! `weft_plugin_artifacts::TESTING_PANICKY_MAPPER` is the path of its component.
//!
//! A trap takes the whole call down, whatever else the batch held: the host must map the other
//! documents one at a time, set the marked one aside, and map it again once the plugin is
//! replaced. Like the buggy mapper, the stock modules are compiled in from their own source
//! files (`#[path]`).

#[path = "../../../stock/shopify-netsuite/src/canonical.rs"]
pub mod canonical;
#[path = "../../../stock/shopify-netsuite/src/config.rs"]
pub mod config;
#[path = "../../../stock/shopify-netsuite/src/ids.rs"]
pub mod ids;
#[path = "../../../stock/shopify-netsuite/src/netsuite.rs"]
pub mod netsuite;
#[path = "../../../stock/shopify-netsuite/src/orders.rs"]
pub mod orders;
#[path = "../../../stock/shopify-netsuite/src/shopify.rs"]
pub mod shopify;

use config::Config;
use weft_plugin_sdk::prelude::*;

/// A NetSuite item whose `itemId` contains this makes the mapper panic.
pub const PANIC_MARK: &str = "PANIC";

/// The panicky mapper.
#[derive(Debug, Default, Clone, Copy)]
pub struct PanickyShopifyNetsuite;

fn unsupported_system(system: &str) -> ItemError {
    ItemError::Unsupported(format!(
        "system {system:?}: this mapper handles \"shopify\" and \"netsuite\""
    ))
}

impl Mapper for PanickyShopifyNetsuite {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "panicky-shopify-netsuite",
            env!("CARGO_PKG_VERSION"),
            "TEST DOUBLE: the stock shopify-netsuite mapper, panicking on items marked PANIC.",
        )
    }

    fn to_canonical(
        &self,
        cx: &Context,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        if docs
            .iter()
            .any(|d| d.system == netsuite::SYSTEM && d.body.contains(PANIC_MARK))
        {
            panic!("a bug in this mapper, hit by an item marked {PANIC_MARK}");
        }
        let cfg = Config::load(cx)?;
        Ok(docs
            .iter()
            .map(|doc| {
                let out = match doc.system.as_str() {
                    shopify::SYSTEM => shopify::to_canonical(&cfg, doc),
                    netsuite::SYSTEM => netsuite::to_canonical(&cfg, doc),
                    other => Err(unsupported_system(other)),
                };
                out.unwrap_or_else(ToCanonicalOutcome::Failed)
            })
            .collect())
    }

    fn from_canonical(
        &self,
        cx: &Context,
        reqs: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        let cfg = Config::load(cx)?;
        Ok(reqs
            .iter()
            .map(|req| {
                let out = match req.target.as_str() {
                    shopify::SYSTEM => shopify::from_canonical(&cfg, req),
                    netsuite::SYSTEM => netsuite::from_canonical(&cfg, req),
                    other => Err(unsupported_system(other)),
                };
                out.unwrap_or_else(FromCanonicalOutcome::Failed)
            })
            .collect())
    }
}

weft_plugin_sdk::export_mapper!(PanickyShopifyNetsuite);
