//! Test double for the replay test: the stock `shopify-netsuite` mapper with one deliberate,
//! realistic bug. Never embedded in the `weft` binary; `weft_plugin_artifacts::TESTING_BUGGY_MAPPER`
//! is the path of its component.
//!
//! **The bug**: reading a NetSuite inventory item, the canonical `price` is NetSuite's
//! `basePrice` in minor units (`12.5` becomes `"1250.00"`), as if the value had been converted
//! to cents for an exact comparison and never converted back. Only that direction is wrong:
//! Shopify documents, writes to either system, stock, customers and orders are the stock
//! mapper's. So weft writes hundredfold prices to Shopify while NetSuite keeps the right ones,
//! and the journal still holds every NetSuite document: replaying it through the corrected
//! (stock) mapper repairs Shopify.
//!
//! The stock mapper's modules are compiled in here from their own source files (`#[path]`), not
//! copied and not linked as a crate (its component exports would clash with these), so the two
//! components differ by exactly [`minor_units`].

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

use canonical::PriceFields;
use config::Config;
use weft_plugin_sdk::json::normalize_decimal;
use weft_plugin_sdk::prelude::*;

/// The buggy mapper.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuggyShopifyNetsuite;

fn unsupported_system(system: &str) -> ItemError {
    ItemError::Unsupported(format!(
        "system {system:?}: this mapper handles \"shopify\" and \"netsuite\""
    ))
}

/// The decimal `price` in minor units: the decimal point moved two places right
/// (`"12.50"` → `"1250.00"`, `"0.05"` → `"5.00"`). `None` when `price` is not a decimal.
pub fn minor_units(price: &str) -> Option<String> {
    let norm = normalize_decimal(price)?;
    let (sign, digits) = match norm.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", norm.as_str()),
    };
    // A normalised decimal always has a point and at least two decimals.
    let (int, frac) = digits.split_once('.')?;
    let (moved, rest) = frac.split_at(2);
    normalize_decimal(&format!("{sign}{int}{moved}.{rest}"))
}

/// The stock NetSuite mapping, with the bug applied to canonical `price` records.
fn netsuite_to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    let records = match netsuite::to_canonical(cfg, doc)? {
        ToCanonicalOutcome::Mapped(records) => records,
        other => return Ok(other),
    };
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if r.kind != EntityKind::Price {
            out.push(r);
            continue;
        }
        let mut fields: PriceFields = canonical::parse(&r)?;
        fields.price = fields.price.as_deref().and_then(minor_units);
        out.push(canonical::record(EntityKind::Price, &r.key, &fields));
    }
    Ok(ToCanonicalOutcome::Mapped(out))
}

impl Mapper for BuggyShopifyNetsuite {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "buggy-shopify-netsuite",
            env!("CARGO_PKG_VERSION"),
            "TEST DOUBLE: the stock shopify-netsuite mapper reading NetSuite prices in cents.",
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
                    netsuite::SYSTEM => netsuite_to_canonical(&cfg, doc),
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

weft_plugin_sdk::export_mapper!(BuggyShopifyNetsuite);

#[cfg(test)]
mod buggy_tests {
    use super::*;
    use weft_plugin_sdk::serde_json::{Value, json};

    #[test]
    fn minor_units_moves_the_point_two_places() {
        assert_eq!(minor_units("12.50").as_deref(), Some("1250.00"));
        assert_eq!(minor_units("12.5").as_deref(), Some("1250.00"));
        assert_eq!(minor_units("0.05").as_deref(), Some("5.00"));
        assert_eq!(minor_units("1.2345").as_deref(), Some("123.45"));
        assert_eq!(minor_units("-3").as_deref(), Some("-300.00"));
        assert_eq!(minor_units("abc"), None);
    }

    fn item_doc() -> PlatformDoc {
        PlatformDoc {
            system: "netsuite".into(),
            kind: EntityKind::Variant,
            id: "7".into(),
            version: "2026-01-01T00:00:00Z".into(),
            body: json!({
                "id": "7", "itemId": "SKU-1", "displayName": "Mug",
                "basePrice": 12.5, "custitem_compare_at_price": 15.0,
            })
            .to_string(),
        }
    }

    fn fields(outcome: &ToCanonicalOutcome, kind: EntityKind) -> Value {
        let ToCanonicalOutcome::Mapped(records) = outcome else {
            panic!("not mapped: {outcome:?}");
        };
        let r = records.iter().find(|r| r.kind == kind).expect("record");
        weft_plugin_sdk::serde_json::from_str(&r.fields).expect("json fields")
    }

    #[test]
    fn only_the_netsuite_price_differs_from_the_stock_mapping() {
        let cfg = Config::load(&Context::native(json!({}))).unwrap();
        let doc = item_doc();
        let stock = netsuite::to_canonical(&cfg, &doc).unwrap();
        let buggy = netsuite_to_canonical(&cfg, &doc).unwrap();
        assert_eq!(fields(&stock, EntityKind::Price)["price"], "12.50");
        assert_eq!(fields(&buggy, EntityKind::Price)["price"], "1250.00");
        assert_eq!(
            fields(&buggy, EntityKind::Price)["compare_at_price"],
            fields(&stock, EntityKind::Price)["compare_at_price"]
        );
        assert_eq!(
            fields(&buggy, EntityKind::Variant),
            fields(&stock, EntityKind::Variant)
        );
    }
}
