//! title-price: the title and price part of the stock `shopify-netsuite` mapper, in Rust.
//!
//! Shopify products -> canonical `variant` (sku, title) and `price` (sku, price,
//! compare_at_price) records, one pair per variant with a SKU; canonical `variant` and `price`
//! records -> NetSuite inventory item upserts (itemId = `sku_prefix` + SKU, externalId
//! `item-<escaped sku>`, the title in the field named by `title_field`, `basePrice`,
//! `custitem_compare_at_price`). No command when the item already holds the record (the echo of
//! weft's own write). The Python (`../python/app.py`) and JavaScript (`../js/app.js`) versions
//! pass the same fixtures (`../fixtures`).

use std::collections::BTreeMap;

use weft_plugin_sdk::json::{Node, decimal_to_number, parse};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The stock mapper's reversible external-id escape: `_` -> `__`, other characters outside
/// `[A-Za-z0-9-]` -> `_xx` per UTF-8 byte.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else if c == '_' {
            out.push_str("__");
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("_{b:02x}"));
            }
        }
    }
    out
}

struct Config {
    sku_prefix: String,
    title_field: String,
}

impl Config {
    fn load(cx: &Context) -> Result<Config, ConfigError> {
        let sku_prefix = cx.config_or("sku_prefix", String::new())?;
        let title_field: String = cx.config_or("title_field", "displayName".to_owned())?;
        if title_field != "displayName"
            && !(title_field.starts_with("custitem_") && title_field.len() > "custitem_".len())
        {
            return Err(ConfigError::new(
                "title_field",
                format!("must be \"displayName\" or a \"custitem_*\" field, got \"{title_field}\""),
            ));
        }
        Ok(Config {
            sku_prefix,
            title_field,
        })
    }
}

fn platform_of(cx: &Context, system: &str) -> Result<String, ConfigError> {
    let systems: BTreeMap<String, String> = cx.config_or("weft:systems", BTreeMap::new())?;
    Ok(systems
        .get(system)
        .cloned()
        .unwrap_or_else(|| system.to_owned()))
}

/// The mapper.
#[derive(Debug, Default)]
pub struct TitlePrice;

impl TitlePrice {
    fn map(&self, cx: &Context, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
        let platform = platform_of(cx, &doc.system)?;
        if platform != "shopify" || doc.kind != EntityKind::Product {
            return Ok(ToCanonicalOutcome::Skipped(format!(
                "title-price maps Shopify products only, not {platform} {}",
                doc.kind
            )));
        }
        let body = parse(&format!("shopify product {}", doc.id), &doc.body)?;
        let p = Node::root("product", &body);
        let title = p.opt_str("title")?;
        let mut records = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, v) in p.opt_array("variants")?.iter().enumerate() {
            let Some(sku) = v.opt_str("sku")? else {
                continue;
            };
            if let Some(first) = seen.get(sku) {
                return Err(v.error(format!(
                    "sku \"{sku}\" repeats product.variants[{first}]; a sku must identify one variant"
                )));
            }
            seen.insert(sku.to_owned(), i);
            records.push(CanonicalRecord::new(
                EntityKind::Variant,
                sku,
                &json!({"sku": sku, "title": title}),
            ));
            records.push(CanonicalRecord::new(
                EntityKind::Price,
                sku,
                &json!({
                    "sku": sku,
                    "price": v.opt_decimal("price")?,
                    "compare_at_price": v.opt_decimal("compare_at_price")?,
                }),
            ));
        }
        if records.is_empty() {
            return Ok(ToCanonicalOutcome::Skipped(format!(
                "product {} has no variant with a sku",
                doc.id
            )));
        }
        weft_plugin_sdk::debug!("product {}: {} variants", doc.id, records.len() / 2);
        Ok(ToCanonicalOutcome::Mapped(records))
    }

    fn write(
        &self,
        cfg: &Config,
        cx: &Context,
        req: &WriteRequest,
    ) -> Result<FromCanonicalOutcome, ItemError> {
        let platform = platform_of(cx, &req.target)?;
        let kind = req.record.kind;
        if platform != "netsuite" || !matches!(kind, EntityKind::Variant | EntityKind::Price) {
            return Ok(FromCanonicalOutcome::Skipped(format!(
                "title-price writes NetSuite items only, not {platform} {kind}"
            )));
        }
        let sku = &req.record.key;
        let fields_value = parse("fields", &req.record.fields)?;
        let fields = Node::root(&format!("{kind} {sku}"), &fields_value);
        let current_value = req
            .current
            .as_deref()
            .map(|c| parse(&format!("current netsuite item {sku}"), c))
            .transpose()?;
        let current = current_value
            .as_ref()
            .map(|c| Node::root("inventoryItem", c));
        let external_id = match &current {
            Some(c) => c.opt_str("externalId")?.map(str::to_owned),
            None => None,
        }
        .unwrap_or_else(|| format!("item-{}", escape(sku)));
        let target_id = match &current {
            Some(c) => c.opt_id("id")?,
            None => None,
        }
        .or_else(|| req.target_id.clone());
        let mut body = Map::new();
        body.insert("externalId".into(), json!(external_id));
        body.insert("itemId".into(), json!(format!("{}{sku}", cfg.sku_prefix)));
        if kind == EntityKind::Variant {
            let Some(title) = fields.opt_str("title")? else {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            };
            if let Some(c) = &current
                && c.opt_str(&cfg.title_field)? == Some(title)
            {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            }
            body.insert(cfg.title_field.clone(), json!(title));
        } else {
            let price = fields.opt_decimal("price")?;
            let compare_at = fields.opt_decimal("compare_at_price")?;
            if let Some(c) = &current {
                let have_price = c.opt_decimal("basePrice")?;
                let have_compare = c.opt_decimal("custitem_compare_at_price")?;
                if (price.is_none() || price == have_price) && compare_at == have_compare {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            if let Some(p) = &price {
                body.insert(
                    "basePrice".into(),
                    decimal_to_number(p).unwrap_or(Value::Null),
                );
            }
            body.insert(
                "custitem_compare_at_price".into(),
                compare_at
                    .as_deref()
                    .and_then(decimal_to_number)
                    .unwrap_or(Value::Null),
            );
        }
        Ok(FromCanonicalOutcome::Commands(vec![WriteCommand {
            // The system the request names, never a hard-coded one.
            system: req.target.clone(),
            kind,
            op: WriteOp::Upsert,
            target_id,
            external_id: Some(external_id),
            body: Value::Object(body).to_string(),
        }]))
    }
}

impl Mapper for TitlePrice {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "title-price",
            "0.1.0",
            "Shopify titles and prices to NetSuite items (Rust).",
        )
    }

    fn to_canonical(
        &self,
        cx: &Context,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        Config::load(cx)?;
        Ok(docs
            .iter()
            .map(|d| self.map(cx, d).unwrap_or_else(ToCanonicalOutcome::Failed))
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
            .map(|r| {
                self.write(&cfg, cx, r)
                    .unwrap_or_else(FromCanonicalOutcome::Failed)
            })
            .collect())
    }
}

weft_plugin_sdk::export_mapper!(TitlePrice);
