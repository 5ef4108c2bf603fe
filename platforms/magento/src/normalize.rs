//! The ONE place that turns Magento reads into the documents weft journals, one shape per
//! kind, ids as strings, versions as RFC 3339 UTC:
//!
//! - `product`: the product as `/V1/products` answers it (a simple product is a sellable item:
//!   its SKU, price and weight are the variant's), `id` as a string, `updated_at` as RFC 3339;
//!   version `updated_at`.
//! - `inventory-level`: one per source item, id `<sku>@<source_code>`:
//!   `{"id","sku","source_code","available","status","updated_at"}`; MSI keeps no time per
//!   source item, so its version is when weft first read it at that quantity (see
//!   [`crate::poll::LevelClock`]).
//! - `customer`: the customer, `id` as a string; version `updated_at`.
//! - `order`: the order with its `items`, `id` (= `entity_id`) and `customer_id` as strings;
//!   version `updated_at`.

use chrono::{NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};
use weft_platform::EntityKind;
use weft_platform::version::format_ts;

/// A normalized document.
#[derive(Debug, Clone, PartialEq)]
pub struct MgDoc {
    /// Its kind.
    pub kind: EntityKind,
    /// Its id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// The document.
    pub body: Value,
}

/// A Magento time (`YYYY-MM-DD HH:MM:SS`, UTC) as RFC 3339; other text unchanged.
pub fn version(t: &str) -> String {
    match NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S") {
        Ok(n) => format_ts(Utc.from_utc_datetime(&n)),
        Err(_) => t.to_owned(),
    }
}

/// An RFC 3339 time as Magento writes it in a filter (`YYYY-MM-DD HH:MM:SS`, UTC).
pub fn magento_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(d) => d
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

fn id_str(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

fn stamped(raw: &Value, kind: EntityKind, id_field: &str) -> Option<MgDoc> {
    let mut body = raw.clone();
    let id = id_str(raw.get(id_field)?);
    body["id"] = id.clone();
    let version = version(raw["updated_at"].as_str()?);
    body["updated_at"] = json!(version);
    Some(MgDoc {
        kind,
        id: id.as_str()?.to_owned(),
        version,
        body,
    })
}

/// A product.
pub fn product(p: &Value) -> Option<MgDoc> {
    stamped(p, EntityKind::Product, "id")
}

/// A customer.
pub fn customer(c: &Value) -> Option<MgDoc> {
    stamped(c, EntityKind::Customer, "id")
}

/// An order.
pub fn order(o: &Value) -> Option<MgDoc> {
    let mut d = stamped(o, EntityKind::Order, "entity_id")?;
    if let Some(c) = d.body.get_mut("customer_id") {
        *c = id_str(c);
    }
    Some(d)
}

/// The id of a source item's level.
pub fn level_id(sku: &str, source: &str) -> String {
    format!("{sku}@{source}")
}

/// A source item as a stock level, at `version`.
pub fn level(item: &Value, version: &str) -> Option<MgDoc> {
    let sku = item["sku"].as_str()?;
    let source = item["source_code"].as_str()?;
    let qty = item["quantity"].as_f64()?;
    let id = level_id(sku, source);
    Some(MgDoc {
        kind: EntityKind::InventoryLevel,
        id: id.clone(),
        version: version.to_owned(),
        body: json!({"id": id, "sku": sku, "source_code": source,
            "available": qty.round() as i64, "status": item["status"].as_i64().unwrap_or(0),
            "updated_at": version}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magento_times_round_trip() {
        assert_eq!(version("2026-01-15 12:00:05"), "2026-01-15T12:00:05Z");
        assert_eq!(magento_time("2026-01-15T12:00:05Z"), "2026-01-15 12:00:05");
        let d =
            order(&json!({"entity_id": 7, "customer_id": 3, "updated_at": "2026-01-15 12:00:05"}))
                .unwrap();
        assert_eq!((d.id.as_str(), &d.body["customer_id"]), ("7", &json!("3")));
        let l = level(
            &json!({"sku": "A", "source_code": "wh", "quantity": 4.0, "status": 1}),
            "v",
        )
        .unwrap();
        assert_eq!(l.id, "A@wh");
        assert_eq!(l.body["available"], 4);
    }
}
