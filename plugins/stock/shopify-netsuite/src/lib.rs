//! Stock mapper `shopify-netsuite`: keeps a Shopify store and a NetSuite account in sync.
//!
//! - Products and variants <-> inventory items (NetSuite `itemId` = `sku_prefix` + SKU,
//!   externalId `item-<escaped sku>`); the web title lives in the NetSuite field named by
//!   `title_field`.
//! - Prices: `basePrice` <-> variant `price`, `custitem_compare_at_price` <-> `compare_at_price`;
//!   a compare-at price not above the price is none on every system
//!   ([`canonical::PriceFields::marked_down`]).
//! - Inventory per location (`locations` maps Shopify location ids to NetSuite ones). NetSuite is
//!   the stock master: to Shopify an absolute `set-quantity` (the host adds
//!   `changeFromQuantity`), to NetSuite an `inventoryAdjustment` delta.
//! - Customers both ways (externalId `shopify-customer-<id>`); orders one way, Shopify -> NetSuite
//!   sales orders (externalId `shopify-order-<id>`).
//! - WooCommerce as a storefront too ([`woocommerce`]): simple products and variations <->
//!   items, prices, its one stock figure per product, customers, orders to sales orders. Its
//!   order and customer keys are always qualified (`woocommerce:42`, externalId
//!   `shopify-order-woocommerce_3a42`).
//! - Magento as a storefront too ([`magento`]): simple products <-> items, prices, stock per
//!   MSI source (`locations` keys `"<system>:<source_code>"`), customers and orders from
//!   Magento (orders to sales orders), keys qualified like WooCommerce's (`magento:7`).
//! - BigCommerce as a storefront too ([`bigcommerce`]): variants <-> items by SKU, prices,
//!   stock per inventory location, customers, orders to sales orders, keys qualified like
//!   WooCommerce's (`bigcommerce:100`).
//! - A Google Sheet as a catalog, price and stock source ([`sheet`]): one row per SKU <->
//!   variant, price and the stock at the sheet's location; a bad cell refuses its row only.
//!
//! A store may sync several systems of one platform (two Shopify shops): the host names each
//! system's platform in the `weft:systems` config key, commands go to the system asked for, and
//! the orders and customers of a system not named like its platform get keys qualified with
//! the system's name (`shopify-eu:1001`), so two shops' ids never meet.
//!
//! Echo-safe: every from-canonical write first maps the target's current document back to
//! canonical and returns no command when it already holds the record. Shapes and config keys:
//! `docs/document-shapes.md`.

pub mod bigcommerce;
pub mod canonical;
pub mod config;
pub mod ids;
pub mod magento;
pub mod netsuite;
pub mod orders;
pub mod sheet;
pub mod shopify;
pub mod woocommerce;

use config::Config;
use weft_plugin_sdk::prelude::*;

/// The mapper.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShopifyNetsuite;

fn unsupported_system(system: &str) -> ItemError {
    ItemError::Unsupported(format!(
        "system {system:?}: this mapper handles systems of the \"shopify\", \"woocommerce\", \"bigcommerce\", \"magento\", \"sheets\" and \"netsuite\" platforms"
    ))
}

/// Qualifies an order's or customer's key, and an order's customer, with the system it
/// comes from (a second shop's ids can repeat the first shop's).
fn qualify(r: &mut CanonicalRecord, system: &str) {
    if !matches!(
        r.kind,
        EntityKind::Order | EntityKind::Customer | EntityKind::Refund
    ) {
        return;
    }
    r.key = format!("{system}:{}", r.key);
    if matches!(r.kind, EntityKind::Order | EntityKind::Refund)
        && let Ok(serde_json::Value::Object(mut fields)) =
            serde_json::from_str::<serde_json::Value>(&r.fields)
    {
        // A refund names its order and customer; an order its customer.
        for name in ["customer", "order"] {
            if let Some(serde_json::Value::String(v)) = fields.get(name).cloned() {
                fields.insert(
                    name.into(),
                    serde_json::Value::String(format!("{system}:{v}")),
                );
            }
        }
        r.fields = serde_json::Value::Object(fields).to_string();
    }
}

/// The platform of each of the store's systems, as the host passes it (`weft:systems`); a
/// system the host does not name is taken to be the platform of the same name.
struct Platforms(std::collections::BTreeMap<String, String>);

impl Platforms {
    fn load(cx: &Context) -> Result<Self, PluginError> {
        Ok(Platforms(
            cx.config::<std::collections::BTreeMap<String, String>>("weft:systems")?
                .unwrap_or_default(),
        ))
    }

    fn of<'a>(&'a self, system: &'a str) -> &'a str {
        self.0.get(system).map(String::as_str).unwrap_or(system)
    }

    /// The storefront an order or customer key belongs to: the system its key is qualified
    /// with, else the one named like the shopify platform.
    fn owner<'a>(&self, key: &'a str) -> &'a str {
        match key.split_once(':') {
            Some((system, _)) if self.0.contains_key(system) => system,
            _ => shopify::SYSTEM,
        }
    }
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
        let platforms = Platforms::load(cx)?;
        Ok(docs
            .iter()
            .map(|doc| {
                let platform = platforms.of(&doc.system);
                let out = match platform {
                    shopify::SYSTEM => shopify::to_canonical(&cfg, doc),
                    netsuite::SYSTEM => netsuite::to_canonical(&cfg, doc),
                    woocommerce::SYSTEM => woocommerce::to_canonical(&cfg, doc),
                    bigcommerce::SYSTEM => bigcommerce::to_canonical(&cfg, doc),
                    magento::SYSTEM => magento::to_canonical(&cfg, doc),
                    sheet::SYSTEM => sheet::to_canonical(&cfg, doc),
                    other => Err(unsupported_system(other)),
                };
                match out {
                    // A second shop's order and customer ids can repeat the first shop's:
                    // their canonical keys name the system they come from. WooCommerce's and
                    // BigCommerce's always do: their ids would otherwise meet a Shopify shop's
                    // in the same store.
                    Ok(ToCanonicalOutcome::Mapped(mut records))
                        if platform != doc.system
                            || platform == woocommerce::SYSTEM
                            || platform == bigcommerce::SYSTEM
                            || platform == magento::SYSTEM =>
                    {
                        for r in &mut records {
                            qualify(r, &doc.system);
                        }
                        ToCanonicalOutcome::Mapped(records)
                    }
                    Ok(other) => other,
                    Err(e) => ToCanonicalOutcome::Failed(e),
                }
            })
            .collect())
    }

    fn from_canonical(
        &self,
        cx: &Context,
        reqs: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        let cfg = Config::load(cx)?;
        let platforms = Platforms::load(cx)?;
        Ok(reqs
            .iter()
            .map(|req| {
                let out = match platforms.of(&req.target) {
                    // Orders and customers belong to the storefront they came from: another
                    // shop of the store never gets them (it would map them back under its
                    // own ids, as new records).
                    shopify::SYSTEM
                    | woocommerce::SYSTEM
                    | bigcommerce::SYSTEM
                    | magento::SYSTEM
                        if matches!(
                            req.record.kind,
                            EntityKind::Order
                                | EntityKind::Customer
                                | EntityKind::Fulfillment
                                | EntityKind::Refund
                        ) && platforms.owner(&req.record.key) != req.target =>
                    {
                        Ok(FromCanonicalOutcome::Skipped(format!(
                            "{} {} belongs to storefront {}",
                            req.record.kind.as_str(),
                            req.record.key,
                            platforms.owner(&req.record.key)
                        )))
                    }
                    // Another system deleted the record and the store removes it here.
                    _ if req.deleted => match platforms.of(&req.target) {
                        shopify::SYSTEM => shopify::delete_write(&cfg, req),
                        netsuite::SYSTEM => netsuite::delete_write(req),
                        woocommerce::SYSTEM => woocommerce::delete_write(req),
                        bigcommerce::SYSTEM => bigcommerce::delete_write(req),
                        magento::SYSTEM => magento::delete_write(req),
                        sheet::SYSTEM => Ok(FromCanonicalOutcome::Skipped(
                            "the sheet is the merchant's catalog: weft never removes its rows"
                                .into(),
                        )),
                        _ => Err(unsupported_system(&req.target)),
                    },
                    shopify::SYSTEM => shopify::from_canonical(&cfg, req),
                    netsuite::SYSTEM => netsuite::from_canonical(&cfg, req),
                    woocommerce::SYSTEM => woocommerce::from_canonical(&cfg, req),
                    bigcommerce::SYSTEM => bigcommerce::from_canonical(&cfg, req),
                    magento::SYSTEM => magento::from_canonical(&cfg, req),
                    sheet::SYSTEM => sheet::from_canonical(&cfg, req),
                    _ => Err(unsupported_system(&req.target)),
                };
                // The commands write to the system asked for (one of possibly several of the
                // same platform).
                match out {
                    Ok(FromCanonicalOutcome::Commands(mut cmds)) => {
                        for c in &mut cmds {
                            c.system = req.target.clone();
                        }
                        FromCanonicalOutcome::Commands(cmds)
                    }
                    Ok(other) => other,
                    Err(e) => FromCanonicalOutcome::Failed(e),
                }
            })
            .collect())
    }
}

weft_plugin_sdk::export_mapper!(ShopifyNetsuite);
