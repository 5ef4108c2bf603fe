//! The store's `[plugin.config]` for the Shopify <-> NetSuite mapper, read once per batch.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `sku_prefix` | `""` | NetSuite `itemId` = prefix + Shopify SKU; items without it are not web items |
//! | `title_field` | `"displayName"` | NetSuite field holding the web title (`displayName` or `custitem_*`) |
//! | `locations` | `{}` | Shopify location id → NetSuite location id, one to one |
//! | `subsidiary` | unset | NetSuite subsidiary id written on customers and sales orders |
//! | `default_customer` | unset | NetSuite customer internal id used for guest orders |
//! | `discount_item` | unset | NetSuite discount item id for order discounts (needed once an order has one) |
//! | `refund_item` | unset | NetSuite non-inventory item id that credits refunded units not returned to stock (needed once a refund has one) |
//! | `ship_methods` | `{}` | Shopify shipping line code or title → NetSuite ship item id (`shipMethod`) |
//! | `metafield_namespace` | `"custom"` | Shopify metafield namespace of the custom fields |
//! | `custom_fields` | `{}` | metafield key → NetSuite custom item field (`custitem_*`) |
//! | `matrix_options` | `{}` | Shopify option name → NetSuite matrix option field (`custitem_*`) |
//! | `collections_field` | unset | NetSuite custom item field (`custitem_*`) holding the handles of the Shopify custom collections the product is in, joined with `, `; unset: collections are not synced |
//! | `price_level` | unset | NetSuite price level id whose price is the storefront price (else `basePrice`) |
//! | `currency` | `"1"` | NetSuite currency id of that price (with `price_level`) |
//! | `currencies` | `{}` | the storefront's other currencies: ISO code → NetSuite currency id whose price (at `price_level`, else the Base Price level `1`) is the storefront's price in it (Shopify: the fixed price on that currency's price list) |
//! | `order_location` | the one location of `locations` | NetSuite location id that commits the lines of an order whose Shopify location is not known |
//! | `sheet_location` | `order_location` | canonical (NetSuite) location id a Google Sheet's Stock column counts |
//! | `sheet_deleted_rows` | `"archive"` | a row removed from the sheet: `archive` (inactive everywhere, never deleted) or `ignore` |

use std::collections::BTreeMap;
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::Value;

/// What a row removed from a Google Sheet does elsewhere (config `sheet_deleted_rows`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeletedRows {
    /// The variant becomes inactive (a Shopify product archived); nothing is deleted.
    #[default]
    Archive,
    /// Nothing changes in the other systems.
    Ignore,
}

/// The parsed config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Prefix of NetSuite item ids (`WEB-`).
    pub sku_prefix: String,
    /// NetSuite field that holds the web title.
    pub title_field: String,
    /// Shopify location id → NetSuite location id.
    pub to_netsuite_location: BTreeMap<String, String>,
    /// NetSuite location id → Shopify location id.
    pub to_shopify_location: BTreeMap<String, String>,
    /// NetSuite subsidiary id, when the account needs one.
    pub subsidiary: Option<String>,
    /// NetSuite customer internal id for orders without a Shopify customer.
    pub default_customer: Option<String>,
    /// NetSuite discount item for order discounts.
    pub discount_item: Option<String>,
    /// NetSuite non-inventory item for refunded units not returned to stock.
    pub refund_item: Option<String>,
    /// Shopify shipping line code or title → NetSuite ship item id.
    pub ship_methods: BTreeMap<String, String>,
    /// Namespace of the Shopify metafields that are custom fields.
    pub metafield_namespace: String,
    /// Metafield key → NetSuite custom item field.
    pub custom_fields: BTreeMap<String, String>,
    /// Shopify option name → NetSuite matrix option field (its custom item field).
    pub matrix_options: BTreeMap<String, String>,
    /// NetSuite custom item field of the product's collections (`None`: not synced).
    pub collections_field: Option<String>,
    /// The storefront price's place in NetSuite's pricing matrix: `(price level, currency)`;
    /// `None` = the item's `basePrice`.
    pub price_line: Option<(String, String)>,
    /// The storefront's other currencies: ISO code → NetSuite currency id.
    pub currencies: BTreeMap<String, String>,
    /// NetSuite location that commits an order whose Shopify location is not known.
    pub order_location: Option<String>,
    /// The location a Google Sheet's stock column counts.
    pub sheet_location: Option<String>,
    /// What a row removed from a sheet does.
    pub sheet_deleted_rows: DeletedRows,
}

/// Reads a table of names to `custitem_*` fields, each field used once.
fn custitem_table(cx: &Context, key: &str) -> Result<BTreeMap<String, String>, PluginError> {
    let raw: BTreeMap<String, Value> = cx.config_or(key, BTreeMap::new())?;
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, v) in raw {
        let field = match &v {
            Value::String(f) if f.starts_with("custitem_") && f.len() > "custitem_".len() => {
                f.clone()
            }
            other => {
                return Err(PluginError::Config(format!(
                    "config key `{key}`.{name}: expected a \"custitem_*\" field, found {other}"
                )));
            }
        };
        if let Some(prev) = seen.insert(field.clone(), name.clone()) {
            return Err(PluginError::Config(format!(
                "config key `{key}`: {field:?} is mapped from both {prev:?} and {name:?}"
            )));
        }
        out.insert(name, field);
    }
    Ok(out)
}

fn id_text(key: &str, v: &Value) -> Result<String, PluginError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        other => Err(PluginError::Config(format!(
            "config key `{key}`: expected an id (string or integer), found {other}"
        ))),
    }
}

impl Config {
    /// Reads and validates the config.
    pub fn load(cx: &Context) -> Result<Config, PluginError> {
        let sku_prefix: String = cx.config_or("sku_prefix", String::new())?;
        let title_field: String = cx.config_or("title_field", "displayName".to_owned())?;
        if title_field != "displayName"
            && !(title_field.starts_with("custitem_") && title_field.len() > "custitem_".len())
        {
            return Err(PluginError::Config(format!(
                "config key `title_field`: must be \"displayName\" or a \"custitem_*\" field, got {title_field:?}"
            )));
        }
        let raw: BTreeMap<String, Value> = cx.config_or("locations", BTreeMap::new())?;
        let mut to_netsuite_location = BTreeMap::new();
        let mut to_shopify_location = BTreeMap::new();
        for (shopify, v) in raw {
            let netsuite = id_text("locations", &v)?;
            if let Some(prev) = to_shopify_location.insert(netsuite.clone(), shopify.clone()) {
                return Err(PluginError::Config(format!(
                    "config key `locations`: netsuite location {netsuite:?} is mapped from both shopify locations {prev:?} and {shopify:?}"
                )));
            }
            to_netsuite_location.insert(shopify, netsuite);
        }
        let subsidiary = cx
            .config::<Value>("subsidiary")?
            .map(|v| id_text("subsidiary", &v))
            .transpose()?;
        let default_customer = cx
            .config::<Value>("default_customer")?
            .map(|v| id_text("default_customer", &v))
            .transpose()?;
        let discount_item = cx
            .config::<Value>("discount_item")?
            .map(|v| id_text("discount_item", &v))
            .transpose()?;
        let refund_item = cx
            .config::<Value>("refund_item")?
            .map(|v| id_text("refund_item", &v))
            .transpose()?;
        let raw: BTreeMap<String, Value> = cx.config_or("ship_methods", BTreeMap::new())?;
        let mut ship_methods = BTreeMap::new();
        for (shopify, v) in raw {
            ship_methods.insert(shopify, id_text("ship_methods", &v)?);
        }
        let metafield_namespace: String =
            cx.config_or("metafield_namespace", "custom".to_owned())?;
        let custom_fields = custitem_table(cx, "custom_fields")?;
        let matrix_options = custitem_table(cx, "matrix_options")?;
        if matrix_options.len() > 3 {
            return Err(PluginError::Config(
                "config key `matrix_options`: Shopify products have at most three options".into(),
            ));
        }
        let collections_field = match cx.config::<String>("collections_field")? {
            None => None,
            Some(f) if f.starts_with("custitem_") && f.len() > "custitem_".len() => {
                let taken = custom_fields
                    .values()
                    .chain(matrix_options.values())
                    .any(|c| *c == f)
                    || crate::netsuite::CATALOG_FIELDS.contains(&f.as_str());
                if taken {
                    return Err(PluginError::Config(format!(
                        "config key `collections_field`: {f:?} already holds another field"
                    )));
                }
                Some(f)
            }
            Some(f) => {
                return Err(PluginError::Config(format!(
                    "config key `collections_field`: expected a \"custitem_*\" field, found {f:?}"
                )));
            }
        };
        let price_level = cx
            .config::<Value>("price_level")?
            .map(|v| id_text("price_level", &v))
            .transpose()?;
        let currency = cx
            .config::<Value>("currency")?
            .map(|v| id_text("currency", &v))
            .transpose()?;
        let price_line = match (price_level, currency) {
            (Some(level), currency) => Some((level, currency.unwrap_or_else(|| "1".to_owned()))),
            (None, Some(_)) => {
                return Err(PluginError::Config(
                    "config key `currency` needs `price_level`: it names the currency of that price level's price".into(),
                ));
            }
            (None, None) => None,
        };
        let raw: BTreeMap<String, Value> = cx.config_or("currencies", BTreeMap::new())?;
        let mut currencies = BTreeMap::new();
        for (code, v) in raw {
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(PluginError::Config(format!(
                    "config key `currencies`: {code:?} is not an ISO 4217 currency code (three capital letters, e.g. \"EUR\")"
                )));
            }
            let id = id_text("currencies", &v)?;
            let base = price_line.as_ref().map_or("1", |(_, c)| c.as_str());
            if id == base {
                return Err(PluginError::Config(format!(
                    "config key `currencies`: {code} names NetSuite currency {id}, the currency of the storefront's own price; list only the other currencies"
                )));
            }
            if let Some((other, _)) = currencies.iter().find(|(_, i)| **i == id) {
                return Err(PluginError::Config(format!(
                    "config key `currencies`: NetSuite currency {id} is mapped from both {other} and {code}"
                )));
            }
            currencies.insert(code, id);
        }
        let order_location = match cx.config::<Value>("order_location")? {
            Some(v) => Some(id_text("order_location", &v)?),
            None if to_shopify_location.len() == 1 => to_shopify_location.keys().next().cloned(),
            None => None,
        };
        let sheet_location = match cx.config::<Value>("sheet_location")? {
            Some(v) => Some(id_text("sheet_location", &v)?),
            None => order_location.clone(),
        };
        let sheet_deleted_rows = match cx.config::<String>("sheet_deleted_rows")?.as_deref() {
            None | Some("archive") => DeletedRows::Archive,
            Some("ignore") => DeletedRows::Ignore,
            Some(other) => {
                return Err(PluginError::Config(format!(
                    "config key `sheet_deleted_rows`: \"archive\" or \"ignore\", got {other:?} (weft never deletes a product because a row left the sheet)"
                )));
            }
        };
        Ok(Config {
            sheet_location,
            sheet_deleted_rows,
            order_location,
            price_line,
            currencies,
            metafield_namespace,
            custom_fields,
            matrix_options,
            collections_field,
            discount_item,
            refund_item,
            ship_methods,
            sku_prefix,
            title_field,
            to_netsuite_location,
            to_shopify_location,
            subsidiary,
            default_customer,
        })
    }

    /// The price level of the other currencies' prices: `price_level`, else Base Price (`1`).
    pub fn currency_level(&self) -> &str {
        self.price_line.as_ref().map_or("1", |(l, _)| l.as_str())
    }

    /// The NetSuite location that commits an order placed at Shopify location `shopify`
    /// (`None`: not known).
    pub fn order_location(&self, shopify: Option<&str>) -> Option<String> {
        shopify
            .and_then(|l| self.to_netsuite_location.get(l).cloned())
            .or_else(|| self.order_location.clone())
    }

    /// The canonical SKU of a NetSuite `itemId`, or `None` when it lacks the prefix.
    pub fn sku_of_item_id<'a>(&self, item_id: &'a str) -> Option<&'a str> {
        item_id
            .strip_prefix(self.sku_prefix.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The Shopify option name of a NetSuite matrix option field (`custitem_size`).
    pub fn option_of_field(&self, field: &str) -> Option<&str> {
        self.matrix_options
            .iter()
            .find(|(_, f)| f.as_str() == field)
            .map(|(o, _)| o.as_str())
    }

    /// The NetSuite `itemId` of a canonical SKU.
    pub fn item_id_of_sku(&self, sku: &str) -> String {
        format!("{}{sku}", self.sku_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::serde_json::json;

    #[test]
    fn defaults() {
        let c = Config::load(&Context::native(json!({}))).unwrap();
        assert_eq!(c.title_field, "displayName");
        assert_eq!(c.sku_prefix, "");
        assert!(c.to_netsuite_location.is_empty());
        assert_eq!(c.sku_of_item_id("ABC"), Some("ABC"));
        assert_eq!(c.sku_of_item_id(""), None);
    }

    #[test]
    fn reads_every_option() {
        let c = Config::load(&Context::native(json!({
            "sku_prefix": "WEB-",
            "title_field": "custitem_web_title",
            "locations": {"61000000001": "1", "61000000002": 2},
            "subsidiary": 3,
            "default_customer": "99",
        })))
        .unwrap();
        assert_eq!(c.sku_of_item_id("WEB-ABC"), Some("ABC"));
        assert_eq!(c.sku_of_item_id("ABC"), None);
        assert_eq!(c.sku_of_item_id("WEB-"), None);
        assert_eq!(c.item_id_of_sku("ABC"), "WEB-ABC");
        assert_eq!(c.to_netsuite_location["61000000002"], "2");
        assert_eq!(c.to_shopify_location["1"], "61000000001");
        assert_eq!(c.subsidiary.as_deref(), Some("3"));
        assert_eq!(c.default_customer.as_deref(), Some("99"));
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        for (config, needle) in [
            (json!({"title_field": "salesDescription"}), "`title_field`"),
            (json!({"title_field": "custitem_"}), "`title_field`"),
            (
                json!({"locations": {"1": "5", "2": "5"}}),
                "mapped from both",
            ),
            (
                json!({"locations": {"1": 1.5}}),
                "`locations`: expected an id",
            ),
            (json!({"locations": ["1"]}), "`locations`"),
            (json!({"sku_prefix": 7}), "`sku_prefix`"),
            (json!({"subsidiary": true}), "`subsidiary`"),
        ] {
            let err = Config::load(&Context::native(config.clone())).unwrap_err();
            assert!(
                matches!(&err, PluginError::Config(m) if m.contains(needle)),
                "{config}: {err}"
            );
        }
    }
}
