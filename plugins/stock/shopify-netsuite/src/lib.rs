//! Stock mapper `shopify-netsuite`: keeps a Shopify store and a NetSuite account in sync.
//!
//! - Products and variants <-> inventory items (NetSuite `itemId` = `sku_prefix` + SKU,
//!   externalId `item-<escaped sku>`); the web title lives in the NetSuite field named by
//!   `title_field`.
//! - Prices: `basePrice` <-> variant `price`, `custitem_compare_at_price` <-> `compare_at_price`.
//! - Inventory per location (`locations` maps Shopify location ids to NetSuite ones). NetSuite is
//!   the stock master: to Shopify an absolute `set-quantity` (the host adds
//!   `changeFromQuantity`), to NetSuite an `inventoryAdjustment` delta.
//! - Customers both ways (externalId `shopify-customer-<id>`); orders one way, Shopify -> NetSuite
//!   sales orders (externalId `shopify-order-<id>`).
//!
//! Echo-safe: every from-canonical write first maps the target's current document back to
//! canonical and returns no command when it already holds the record. Shapes and config keys:
//! `docs/document-shapes.md`.

pub mod canonical;
pub mod config;
pub mod ids;
pub mod netsuite;
pub mod shopify;

use config::Config;
use weft_plugin_sdk::prelude::*;

/// The mapper.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShopifyNetsuite;

fn unsupported_system(system: &str) -> ItemError {
    ItemError::Unsupported(format!(
        "system {system:?}: this mapper handles \"shopify\" and \"netsuite\""
    ))
}

impl Mapper for ShopifyNetsuite {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "shopify-netsuite",
            env!("CARGO_PKG_VERSION"),
            "Shopify products, prices, stock, customers and orders <-> NetSuite items, customers and sales orders.",
        )
    }

    fn to_canonical(
        &self,
        cx: &Context,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
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

weft_plugin_sdk::export_mapper!(ShopifyNetsuite);
