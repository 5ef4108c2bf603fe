//! Stock as available-to-sell, with one owner.
//!
//! A store with an ERP keeps its stock the way the ERP does: the ERP owns on hand, and a
//! storefront sells what the ERP can still promise. So the canonical `inventory-level.quantity`
//! is **available to sell**: the ERP's available less what it has back ordered (the stock
//! mapper reads it so), a storefront's own `available`. The engine then holds:
//!
//! - The owner's readings set the golden quantity. A storefront's readings never do: what a
//!   storefront shows is computed, `owner quantity - pending - buffer` ([`storefront_quantity`]),
//!   where *pending* is the storefront orders the owner has not committed yet. A storefront that
//!   shows anything else is written back (counted as `stock_overridden` when the storefront
//!   changed it by something that was not a sale weft knows of).
//! - **A sale is counted once**: a storefront order adds its lines to the pending demand of the
//!   levels it draws on (golden record meta [`PENDING`], keyed by the order's canonical key);
//!   the order's sales order in the owner commits them, which lowers the owner's available; the
//!   order's demand is released from a level once a reading of that level by the owner is known
//!   to show the sales order (read after weft saw the sales order, at or after its version).
//!   The storefront's available therefore moves once, at the sale, and not again when the owner
//!   commits or fulfils it.
//! - A store without an owner (no ERP, or `[stock] owner = "none"`) keeps the older rule:
//!   quantities are counters, every side's change is a delta that counts (`counter-merge`).
//!
//! The demand of an order is where its lines will be committed: the canonical order's
//! `location` (the owner's location id, as the mapper gives it). An order without one adds no
//! pending demand, so until the owner commits it its units show as available in the other
//! storefronts (the sale itself is never double counted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_platform::Systems;
use weft_platform::version::Version;

use crate::merge::Fields;

/// Golden record meta key of an inventory level: the storefront orders whose units it still
/// owes (`{"<order key>": {"quantity": n, "erp": {"seq", "version"}?}}`).
pub const PENDING: &str = "weft:pending";
/// Golden record meta key of an order: its demand per level and where it stands
/// (`{"lines": {"<level key>": n}, "open": ["<level key>"], "state": "pending"|"erp"}`).
pub const DEMAND: &str = "weft:demand";

/// Who owns a store's stock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockOwner {
    /// The store's ERP (the one system whose platform's role is ERP); counters if the store
    /// has none or several.
    #[default]
    Erp,
    /// This system.
    System(String),
    /// Nobody: quantities are counters (every side's change counts).
    Counters,
}

/// A store's stock policy (`[stock]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockPolicy {
    /// Who owns the stock.
    pub owner: StockOwner,
    /// Units held back from every storefront (a safety buffer), never taking it below zero.
    pub buffer: i64,
}

impl StockPolicy {
    /// The system that owns the stock among `systems`, if any.
    pub fn owner_in(&self, systems: &Systems) -> Option<String> {
        match &self.owner {
            StockOwner::Erp => {
                let mut erps = systems
                    .iter()
                    .filter(|s| s.platform.role() == weft_platform::Role::Erp);
                match (erps.next(), erps.next()) {
                    (Some(only), None) => Some(only.name.clone()),
                    _ => None,
                }
            }
            StockOwner::System(name) => systems.get(name).map(|s| s.name.clone()),
            StockOwner::Counters => None,
        }
    }
}

/// What a storefront should show for a level whose owner shows `owner_quantity`, while
/// `pending` units of storefront orders are not committed by the owner yet: the rest, less the
/// buffer; the buffer never takes it below zero, an oversold level stays negative.
pub fn storefront_quantity(owner_quantity: i64, pending: i64, buffer: i64) -> i64 {
    let net = owner_quantity.saturating_sub(pending);
    if net > buffer {
        net - buffer
    } else {
        net.min(0)
    }
}

/// The units a canonical order draws from each level (`<sku>@<location>`): nothing when it is
/// cancelled or names no location.
pub fn demand(order: &Fields) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    if order.get("cancelled").and_then(Value::as_bool) == Some(true) {
        return out;
    }
    let Some(location) = order.get("location").and_then(Value::as_str) else {
        return out;
    };
    for line in order
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // `current_quantity`: the units still ordered after edits and cancelled lines.
        let (Some(sku), Some(q)) = (
            line.get("sku").and_then(Value::as_str),
            line.get("current_quantity")
                .or_else(|| line.get("quantity"))
                .and_then(Value::as_i64),
        ) else {
            continue;
        };
        if q > 0 {
            *out.entry(format!("{sku}@{location}")).or_default() += q;
        }
    }
    out
}

/// The pending units of a level's golden meta.
pub fn pending_total(meta: &Value) -> i64 {
    meta.get(PENDING)
        .and_then(Value::as_object)
        .map(|p| {
            p.values()
                .filter_map(|e| e.get("quantity").and_then(Value::as_i64))
                .sum()
        })
        .unwrap_or(0)
}

/// The object under `key` of a meta value (created).
pub(crate) fn meta_obj<'m>(meta: &'m mut Value, key: &str) -> &'m mut Map<String, Value> {
    if !meta.is_object() {
        *meta = json!({});
    }
    let Value::Object(m) = meta else {
        unreachable!("made an object above")
    };
    let slot = m.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(o) => o,
        _ => unreachable!("made an object above"),
    }
}

/// An order's demand record (its golden meta under [`DEMAND`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// Units per level.
    pub lines: BTreeMap<String, i64>,
    /// Levels whose pending entry for this order is not released yet.
    pub open: Vec<String>,
    /// `pending` until the owner's sales order for it was seen, then `erp`.
    pub state: String,
}

impl Demand {
    /// The demand record in an order's golden meta.
    pub fn of(meta: &Value) -> Option<Demand> {
        serde_json::from_value(meta.get(DEMAND)?.clone()).ok()
    }

    /// Stores it in an order's golden meta.
    pub fn store(&self, meta: &mut Value) {
        if !meta.is_object() {
            *meta = json!({});
        }
        if let (Value::Object(m), Ok(v)) = (meta, serde_json::to_value(self)) {
            m.insert(DEMAND.to_owned(), v);
        }
    }
}

/// Whether an owner's reading at (`seq`, `version`) shows a sales order weft saw at
/// (`erp_seq`, `erp_version`): read after it was seen, at or after its version.
pub fn reflects(seq: i64, version: &str, erp_seq: i64, erp_version: &str) -> bool {
    seq > erp_seq && at_or_after(version, erp_version)
}

/// Whether version `a` is at or after version `b` (as instants).
pub fn at_or_after(a: &str, b: &str) -> bool {
    Version::parse(a)
        .compare(&Version::parse(b))
        .is_some_and(|o| o != std::cmp::Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: Value) -> Fields {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_buffer_holds_back_stock_but_never_hides_an_oversale() {
        assert_eq!(storefront_quantity(10, 0, 0), 10);
        assert_eq!(storefront_quantity(10, 3, 0), 7);
        assert_eq!(storefront_quantity(10, 3, 2), 5);
        assert_eq!(storefront_quantity(10, 8, 5), 0);
        assert_eq!(storefront_quantity(2, 5, 1), -3);
    }

    #[test]
    fn an_order_draws_on_its_location_unless_cancelled() {
        let order = f(json!({
            "location": "1", "cancelled": false,
            "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1},
                      {"sku": "A", "quantity": 1}, {"sku": "C", "quantity": 0}]
        }));
        let d = demand(&order);
        assert_eq!(d.get("A@1"), Some(&3));
        assert_eq!(d.get("B@1"), Some(&1));
        assert_eq!(d.len(), 2);
        let mut cancelled = order.clone();
        cancelled.insert("cancelled".into(), json!(true));
        assert!(demand(&cancelled).is_empty());
        let mut nowhere = order;
        nowhere.insert("location".into(), Value::Null);
        assert!(demand(&nowhere).is_empty());
    }

    #[test]
    fn an_edited_line_draws_its_current_quantity() {
        let order = f(json!({
            "location": "1", "cancelled": false,
            "lines": [{"sku": "A", "quantity": 3, "current_quantity": 1},
                      {"sku": "B", "quantity": 2, "current_quantity": 0}]
        }));
        let d = demand(&order);
        assert_eq!(d.get("A@1"), Some(&1));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn a_reading_reflects_a_sales_order_only_after_it_at_its_version() {
        let v = "2026-12-05T10:00:00Z";
        assert!(reflects(11, v, 10, v));
        assert!(reflects(11, "2026-12-05T10:00:01Z", 10, v));
        assert!(!reflects(9, "2026-12-05T10:00:01Z", 10, v));
        assert!(!reflects(11, "2026-12-05T09:59:59Z", 10, v));
        assert!(reflects(11, "2026-12-05T05:00:00-05:00", 10, v));
    }

    #[test]
    fn pending_adds_up_every_order() {
        let meta = json!({PENDING: {"o1": {"quantity": 2}, "o2": {"quantity": 3, "erp": {}}}});
        assert_eq!(pending_total(&meta), 5);
        assert_eq!(pending_total(&json!({})), 0);
    }
}
