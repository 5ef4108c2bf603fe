//! The ONE place that turns BigCommerce reads into the documents weft journals, one shape per
//! kind, ids as strings, versions as RFC 3339 UTC:
//!
//! - `product`: the V3 product with `include=variants` (`id`, `base_variant_id`, and each
//!   variant's `id`/`product_id` as strings); version `date_modified`.
//! - `inventory-level`: one per variant and location, id `<variant>@<location>`:
//!   `{"id","variant_id","product_id","sku","location_id","available","updated_at"}`; version
//!   the product's `date_modified` (BigCommerce keeps no time per level; the simulator moves the
//!   product's on every stock change).
//! - `customer`: the V3 customer, `id` as a string; version `date_modified`.
//! - `order`: the V2 order with its lines (the `/products` sub-resource) as `line_items`, `id`
//!   and `customer_id` as strings; version `date_modified` (RFC 2822 in V2).

use serde_json::{Value, json};
use weft_platform::EntityKind;
use weft_platform::version::{Version, format_ts};

/// A normalized document.
#[derive(Debug, Clone, PartialEq)]
pub struct BcDoc {
    /// Its kind.
    pub kind: EntityKind,
    /// Its id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// The document.
    pub body: Value,
}

/// A BigCommerce time (V3 ISO 8601 or V2 RFC 2822) as RFC 3339 UTC.
pub fn version(t: &str) -> String {
    if let Ok(d) = chrono::DateTime::parse_from_rfc2822(t) {
        return format_ts(d.with_timezone(&chrono::Utc));
    }
    match Version::parse(t) {
        Version::At(d) => format_ts(d),
        Version::Opaque(s) => s,
    }
}

fn id_str(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

fn stringify(o: &mut Value, fields: &[&str]) {
    for f in fields {
        if let Some(v) = o.get_mut(*f) {
            *v = id_str(v);
        }
    }
}

/// A product (read with its variants).
pub fn product(p: &Value) -> Option<BcDoc> {
    let mut body = p.clone();
    stringify(&mut body, &["id", "base_variant_id"]);
    if let Some(vs) = body.get_mut("variants").and_then(Value::as_array_mut) {
        for v in vs {
            stringify(v, &["id", "product_id"]);
        }
    }
    let version = version(p["date_modified"].as_str()?);
    body["date_modified"] = json!(version);
    Some(BcDoc {
        kind: EntityKind::Product,
        id: body["id"].as_str()?.to_owned(),
        version,
        body,
    })
}

/// The stock levels of `items` (`/v3/inventory/items` answers), versioned at their product's
/// `date_modified` (from `products`, by product id).
pub fn levels(items: &[Value], product_version: impl Fn(&str) -> Option<String>) -> Vec<BcDoc> {
    let mut out = Vec::new();
    for item in items {
        let ident = &item["identity"];
        let (Some(variant), Some(product)) =
            (ident["variant_id"].as_u64(), ident["product_id"].as_u64())
        else {
            continue;
        };
        let Some(updated_at) = product_version(&product.to_string()) else {
            continue;
        };
        for loc in item["locations"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(location) = loc["location_id"].as_u64() else {
                continue;
            };
            let id = format!("{variant}@{location}");
            out.push(BcDoc {
                kind: EntityKind::InventoryLevel,
                id: id.clone(),
                version: updated_at.clone(),
                body: json!({
                    "id": id,
                    "variant_id": variant.to_string(),
                    "product_id": product.to_string(),
                    "sku": ident["sku"],
                    "location_id": location.to_string(),
                    "available": loc["available_to_sell"].as_i64().unwrap_or(0),
                    "updated_at": updated_at,
                }),
            });
        }
    }
    out
}

/// A customer.
pub fn customer(c: &Value) -> Option<BcDoc> {
    let mut body = c.clone();
    stringify(&mut body, &["id"]);
    let version = version(c["date_modified"].as_str()?);
    body["date_modified"] = json!(version);
    Some(BcDoc {
        kind: EntityKind::Customer,
        id: body["id"].as_str()?.to_owned(),
        version,
        body,
    })
}

/// An order with its lines.
pub fn order(o: &Value, lines: &Value) -> Option<BcDoc> {
    let mut body = o.clone();
    stringify(&mut body, &["id", "customer_id"]);
    let version = version(o["date_modified"].as_str()?);
    body["date_modified"] = json!(version);
    if let Some(c) = o["date_created"].as_str() {
        body["date_created"] = json!(self::version(c));
    }
    let mut lines = lines.clone();
    if let Some(ls) = lines.as_array_mut() {
        for l in ls {
            stringify(l, &["id", "order_id", "product_id", "variant_id"]);
        }
    }
    if let Some(obj) = body.as_object_mut() {
        obj.remove("products");
        obj.insert("line_items".into(), lines);
    }
    Some(BcDoc {
        kind: EntityKind::Order,
        id: body["id"].as_str()?.to_owned(),
        version,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_both_api_versions_are_rfc_3339_utc() {
        assert_eq!(version("2026-01-15T12:00:00+00:00"), "2026-01-15T12:00:00Z");
        assert_eq!(
            version("Thu, 15 Jan 2026 12:00:00 +0000"),
            "2026-01-15T12:00:00Z"
        );
    }

    #[test]
    fn ids_become_strings_and_levels_are_per_location() {
        let p = json!({"id": 111, "base_variant_id": 70, "date_modified": "2026-01-15T12:00:00+00:00",
            "variants": [{"id": 70, "product_id": 111, "sku": "A"}]});
        let d = product(&p).unwrap();
        assert_eq!(d.id, "111");
        assert_eq!(d.body["variants"][0]["id"], "70");
        let items = [
            json!({"identity": {"variant_id": 70, "product_id": 111, "sku": "A"},
            "locations": [{"location_id": 1, "available_to_sell": 4}, {"location_id": 2, "available_to_sell": 0}]}),
        ];
        let ls = levels(&items, |_| Some(d.version.clone()));
        assert_eq!(ls.len(), 2);
        assert_eq!(ls[0].id, "70@1");
        assert_eq!(ls[0].body["available"], 4);
        assert_eq!(ls[1].body["location_id"], "2");
    }
}
