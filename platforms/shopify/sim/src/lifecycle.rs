//! An order's life after checkout, as Shopify keeps it: fulfilments with tracking against the
//! order's fulfilment order, cancellation (with or without restock) and refunds (restock
//! `RETURN`, `CANCEL` or `NO_RESTOCK`), each moving the named inventory quantities and firing
//! its webhooks.
//!
//! What the simulator assumes (from Shopify's inventory-state and fulfilment docs):
//! - placing an order moves each line's quantity from `available` to `committed` at the
//!   order's location; `on_hand` (= available + committed + unavailable) does not move;
//! - a fulfilment lowers `committed` (and so `on_hand`) by what it ships; `available` does not
//!   move, so no `inventory_levels/update` fires; it fires `fulfillments/create`,
//!   `orders/updated` and `orders/fulfilled` or `orders/partially_fulfilled`;
//! - a line ships at most its fulfillable quantity (ordered - fulfilled - removed);
//! - cancelling releases every unfulfilled quantity from `committed`, back to `available` with
//!   restock, else out of `on_hand`; an order with fulfilments cannot be cancelled (Shopify asks
//!   to cancel the fulfilments first); it fires `orders/cancelled` and `orders/updated`;
//! - a refund line with `CANCEL` removes unfulfilled quantity (committed -> available), with
//!   `RETURN` puts fulfilled quantity back in `available` (and `on_hand`), with `NO_RESTOCK`
//!   refunds fulfilled quantity without moving stock; it fires `refunds/create` and
//!   `orders/updated`;
//! - an order edit (`orderEditBegin` returns a calculated order; `orderEditSetQuantity`,
//!   `orderEditAddVariant` stage changes on it; `orderEditCommit` applies them at once): a
//!   lowered line keeps its `quantity` and its `current_quantity` drops (the units are
//!   removed, like a `CANCEL` refund: committed -> available with `restock`, else out of
//!   `on_hand`); only unfulfilled units can be removed; an added variant is a new line
//!   (available -> committed, priced at the variant's price with no tax or discount: the
//!   simulator does not re-run the checkout, it adds the line's amount to the totals). A
//!   raised line (`orderEditSetQuantity` above its current quantity, which Shopify documents:
//!   "increase, decrease, or remove items") orders the added units on the same line: its
//!   `quantity` (documented as "the number of units ordered, including refunded and removed
//!   units") and `current_quantity` grow by them, available -> committed, at the line's price,
//!   added to the totals. Assumed: the line keeps its id (some shops are reported to show the
//!   added units as a new line; weft reads either). A commit fires `orders/edited` (the edit:
//!   `line_items.additions` / `removals` with their deltas; a raised line is an addition with
//!   its own id) and `orders/updated`. One fulfilment order per order (all lines ship from the
//!   order's location); split fulfilment orders and fulfilment holds are not modelled.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ids::{format_money, gid};
use crate::state::{
    Event, FulfillmentRec, OrderRec, RefundLineRec, RefundRec, ShopState, Topic, UserErr,
};

/// Tracking of a fulfilment (`trackingInfo`).
#[derive(Clone, Debug, Default)]
pub struct Tracking {
    /// Tracking number.
    pub number: Option<String>,
    /// Tracking URL.
    pub url: Option<String>,
    /// Carrier.
    pub company: Option<String>,
}

/// One line of a refund to make.
#[derive(Clone, Debug)]
pub struct RefundLineSpec {
    /// Line item id.
    pub line_item_id: u64,
    /// Quantity (> 0).
    pub quantity: i64,
    /// `RETURN`, `CANCEL` or `NO_RESTOCK`.
    pub restock_type: String,
    /// Location to restock at (default: the order's).
    pub location_id: Option<u64>,
}

/// An order edit in progress (the calculated order of `orderEditBegin`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct OrderEditSession {
    /// The order edited.
    pub order_id: u64,
    /// Staged new current quantities of existing lines, with whether to restock.
    pub quantities: std::collections::BTreeMap<u64, (i64, bool)>,
    /// Staged added variants: `(variant id, quantity)`.
    pub additions: Vec<(u64, i64)>,
}

fn order_err(field: &[&str], message: impl Into<String>) -> UserErr {
    UserErr::new(field, message, "INVALID")
}

impl ShopState {
    fn order_for_change(&self, id: u64) -> Result<&OrderRec, UserErr> {
        self.orders
            .get(&id)
            .ok_or_else(|| order_err(&["orderId"], "Order does not exist"))
    }

    fn item_of_line(&self, order: &OrderRec, line: u64) -> Option<u64> {
        order
            .line_items
            .iter()
            .find(|l| l.id == line)
            .and_then(|l| l.variant_id)
            .and_then(|v| self.variants.get(&v))
            .map(|v| v.inventory_item_id)
    }

    fn push_order_event(&mut self, topic: Topic, id: u64, now: DateTime<Utc>) {
        let body = self.order_rest(id);
        self.outbox.push(Event {
            topic,
            body,
            triggered_at: now,
            entity_gid: gid("Order", id),
        });
    }

    /// `fulfillmentCreate` on the order's fulfilment order: ships `lines` (`(line item id,
    /// quantity)`; `None` = everything fulfillable) with `tracking`. Returns the fulfilment id.
    pub fn fulfill(
        &mut self,
        fulfillment_order_id: u64,
        lines: Option<Vec<(u64, i64)>>,
        tracking: Tracking,
    ) -> Result<u64, UserErr> {
        let now = self.clock.now();
        let Some(order_id) = self
            .orders
            .values()
            .find(|o| o.fulfillment_order_id == fulfillment_order_id)
            .map(|o| o.id)
        else {
            return Err(order_err(
                &[
                    "fulfillment",
                    "lineItemsByFulfillmentOrder",
                    "0",
                    "fulfillmentOrderId",
                ],
                "Fulfillment order does not exist.",
            ));
        };
        let order = self.order_for_change(order_id)?;
        if order.cancelled_at.is_some() {
            return Err(order_err(
                &["fulfillment"],
                "Fulfillment order is closed and cannot be fulfilled.",
            ));
        }
        let wanted: Vec<(u64, i64)> = match lines {
            None => order
                .line_items
                .iter()
                .filter(|l| l.fulfillable() > 0)
                .map(|l| (l.id, l.fulfillable()))
                .collect(),
            Some(ls) => ls,
        };
        for (i, (line, q)) in wanted.iter().enumerate() {
            let field = [
                "fulfillment",
                "lineItemsByFulfillmentOrder",
                "0",
                "fulfillmentOrderLineItems",
                &i.to_string(),
            ];
            let Some(l) = order.line_items.iter().find(|l| l.id == *line) else {
                return Err(order_err(
                    &field,
                    "Fulfillment order line item does not exist.",
                ));
            };
            let asked: i64 = wanted
                .iter()
                .filter(|(m, _)| m == line)
                .map(|(_, q)| *q)
                .sum();
            if *q <= 0 || asked > l.fulfillable() {
                return Err(order_err(
                    &field,
                    format!(
                        "Invalid fulfillment order line item quantity requested: {q} (fulfillable {}).",
                        l.fulfillable()
                    ),
                ));
            }
        }
        if wanted.is_empty() {
            return Err(order_err(
                &["fulfillment"],
                "Fulfillment order has no fulfillable line items.",
            ));
        }
        let location = order.location_id;
        let items: Vec<(Option<u64>, i64)> = wanted
            .iter()
            .map(|(line, q)| (self.item_of_line(order, *line), *q))
            .collect();
        let id = self.new_id();
        let order = self.orders.get_mut(&order_id).expect("checked");
        for (line, q) in &wanted {
            if let Some(l) = order.line_items.iter_mut().find(|l| l.id == *line) {
                l.fulfilled += q;
            }
        }
        order.fulfillments.push(FulfillmentRec {
            id,
            lines: wanted,
            tracking_number: tracking.number,
            tracking_url: tracking.url,
            tracking_company: tracking.company,
            created_at: now,
        });
        order.updated_at = now;
        let complete = order.line_items.iter().all(|l| l.fulfillable() == 0);
        for (item, q) in items {
            if let Some(item) = item {
                self.shift_level(item, location, 0, -q);
            }
        }
        let body = self.fulfillment_rest(order_id, id);
        self.outbox.push(Event {
            topic: Topic::FulfillmentsCreate,
            body,
            triggered_at: now,
            entity_gid: gid("Fulfillment", id),
        });
        self.push_order_event(Topic::OrdersUpdated, order_id, now);
        self.push_order_event(
            if complete {
                Topic::OrdersFulfilled
            } else {
                Topic::OrdersPartiallyFulfilled
            },
            order_id,
            now,
        );
        Ok(id)
    }

    /// `orderCancel`: releases every unfulfilled quantity, back to `available` with `restock`.
    pub fn cancel_order_with(
        &mut self,
        id: u64,
        restock: bool,
        reason: &str,
    ) -> Result<(), UserErr> {
        let now = self.clock.now();
        let order = self.order_for_change(id)?;
        if order.cancelled_at.is_some() {
            return Err(order_err(&["orderId"], "Order has already been cancelled"));
        }
        if order.line_items.iter().any(|l| l.fulfilled > 0) {
            return Err(order_err(
                &["orderId"],
                "Cannot cancel an order with fulfillments. Cancel the fulfillments first.",
            ));
        }
        let location = order.location_id;
        let moves: Vec<(Option<u64>, i64)> = order
            .line_items
            .iter()
            .map(|l| (self.item_of_line(order, l.id), l.fulfillable()))
            .collect();
        let order = self.orders.get_mut(&id).expect("checked");
        for l in &mut order.line_items {
            l.removed += l.fulfillable();
        }
        order.cancelled_at = Some(now);
        order.cancel_reason = Some(reason.to_owned());
        order.updated_at = now;
        order.financial_status = "REFUNDED".to_string();
        for (item, q) in moves {
            if let Some(item) = item
                && q > 0
            {
                self.shift_level(item, location, if restock { q } else { 0 }, -q);
            }
        }
        self.push_order_event(Topic::OrdersCancelled, id, now);
        self.push_order_event(Topic::OrdersUpdated, id, now);
        Ok(())
    }

    /// `refundCreate`: refunds lines, restocking as each line says. Returns the refund id.
    pub fn refund(
        &mut self,
        order_id: u64,
        lines: Vec<RefundLineSpec>,
        note: Option<String>,
    ) -> Result<u64, UserErr> {
        let now = self.clock.now();
        let order = self.order_for_change(order_id)?;
        let mut moves = Vec::new();
        for (i, r) in lines.iter().enumerate() {
            let field = ["input", "refundLineItems", &i.to_string()];
            let Some(l) = order.line_items.iter().find(|l| l.id == r.line_item_id) else {
                return Err(order_err(&field, "Line item does not exist."));
            };
            let same: i64 = lines
                .iter()
                .filter(|o| o.line_item_id == r.line_item_id && o.restock_type == r.restock_type)
                .map(|o| o.quantity)
                .sum();
            let limit = match r.restock_type.as_str() {
                "CANCEL" => l.fulfillable(),
                "RETURN" | "NO_RESTOCK" => l.fulfilled - l.returned,
                _ => {
                    return Err(order_err(
                        &field,
                        format!("Invalid restock type {}.", r.restock_type),
                    ));
                }
            };
            if r.quantity <= 0 || same > limit {
                return Err(order_err(
                    &field,
                    format!(
                        "Quantity cannot refund more items than were {} ({limit}).",
                        if r.restock_type == "CANCEL" {
                            "unfulfilled"
                        } else {
                            "fulfilled"
                        }
                    ),
                ));
            }
            let location = r.location_id.unwrap_or(order.location_id);
            if r.restock_type != "NO_RESTOCK"
                && let Some(item) = self.item_of_line(order, l.id)
            {
                if !self.levels.contains_key(&(item, location)) {
                    return Err(order_err(
                        &field,
                        "The item is not stocked at the location.",
                    ));
                }
                moves.push((item, location, r.restock_type.clone(), r.quantity));
            }
        }
        if lines.is_empty() {
            return Err(order_err(
                &["input", "refundLineItems"],
                "A refund needs line items.",
            ));
        }
        let id = self.new_id();
        let order = self.orders.get_mut(&order_id).expect("checked");
        for r in &lines {
            if let Some(l) = order.line_items.iter_mut().find(|l| l.id == r.line_item_id) {
                if r.restock_type == "CANCEL" {
                    l.removed += r.quantity;
                } else {
                    l.returned += r.quantity;
                }
            }
        }
        order.refunds.push(RefundRec {
            id,
            lines: lines
                .iter()
                .map(|r| RefundLineRec {
                    line_item_id: r.line_item_id,
                    quantity: r.quantity,
                    restock_type: r.restock_type.clone(),
                    location_id: (r.restock_type != "NO_RESTOCK")
                        .then(|| r.location_id.unwrap_or(order.location_id)),
                })
                .collect(),
            note,
            created_at: now,
        });
        order.updated_at = now;
        order.financial_status = if order.line_items.iter().all(|l| l.current() == 0) {
            "REFUNDED"
        } else {
            "PARTIALLY_REFUNDED"
        }
        .to_string();
        for (item, location, kind, q) in moves {
            if kind == "CANCEL" {
                self.shift_level(item, location, q, -q);
            } else {
                self.shift_level(item, location, q, 0);
            }
        }
        let body = self.refund_rest(order_id, id);
        self.outbox.push(Event {
            topic: Topic::RefundsCreate,
            body,
            triggered_at: now,
            entity_gid: gid("Refund", id),
        });
        self.push_order_event(Topic::OrdersUpdated, order_id, now);
        Ok(id)
    }

    /// `orderEditBegin`: opens an edit of the order; returns the calculated order's id.
    pub fn order_edit_begin(&mut self, order_id: u64) -> Result<u64, UserErr> {
        let order = self.order_for_change(order_id)?;
        if order.cancelled_at.is_some() {
            return Err(order_err(&["id"], "Cancelled orders can't be edited."));
        }
        let id = self.new_id();
        self.order_edits.insert(
            id,
            OrderEditSession {
                order_id,
                ..OrderEditSession::default()
            },
        );
        Ok(id)
    }

    fn edit_session(&self, id: u64) -> Result<&OrderEditSession, UserErr> {
        self.order_edits
            .get(&id)
            .ok_or_else(|| order_err(&["id"], "The calculated order does not exist."))
    }

    /// `orderEditSetQuantity`: stages a line's new current quantity (lower only; only
    /// unfulfilled units can be removed).
    pub fn order_edit_set_quantity(
        &mut self,
        edit: u64,
        line_item_id: u64,
        quantity: i64,
        restock: bool,
    ) -> Result<(), UserErr> {
        let order_id = self.edit_session(edit)?.order_id;
        let order = self.order_for_change(order_id)?;
        let Some(l) = order.line_items.iter().find(|l| l.id == line_item_id) else {
            return Err(order_err(&["lineItemId"], "Line item does not exist."));
        };
        if quantity < 0 {
            return Err(order_err(&["quantity"], "Quantity must be 0 or more."));
        }
        if quantity > l.current() && l.variant_id.is_none() {
            return Err(order_err(
                &["quantity"],
                "The line's variant no longer exists: its quantity can't be raised.",
            ));
        }
        if l.current() - quantity > l.fulfillable() {
            return Err(order_err(
                &["quantity"],
                format!(
                    "Quantity can't be lower than the fulfilled quantity ({}).",
                    l.current() - l.fulfillable()
                ),
            ));
        }
        self.order_edits
            .get_mut(&edit)
            .expect("checked")
            .quantities
            .insert(line_item_id, (quantity, restock));
        Ok(())
    }

    /// `orderEditAddVariant`: stages a new line of `quantity` units of a variant.
    pub fn order_edit_add_variant(
        &mut self,
        edit: u64,
        variant_id: u64,
        quantity: i64,
    ) -> Result<(), UserErr> {
        self.edit_session(edit)?;
        if !self.variants.contains_key(&variant_id) {
            return Err(order_err(&["variantId"], "Variant does not exist."));
        }
        if quantity <= 0 {
            return Err(order_err(&["quantity"], "Quantity must be greater than 0."));
        }
        self.order_edits
            .get_mut(&edit)
            .expect("checked")
            .additions
            .push((variant_id, quantity));
        Ok(())
    }

    /// `orderEditCommit`: applies the staged changes at once, moves stock, fires
    /// `orders/edited` and `orders/updated`. Returns the order id.
    pub fn order_edit_commit(&mut self, edit: u64) -> Result<u64, UserErr> {
        let session = self.edit_session(edit)?.clone();
        let now = self.clock.now();
        let order = self.order_for_change(session.order_id)?;
        if order.cancelled_at.is_some() {
            return Err(order_err(&["id"], "Cancelled orders can't be edited."));
        }
        // Re-check against the order as it is now (it may have shipped since staging).
        let mut moves: Vec<(u64, i64, i64)> = Vec::new();
        let mut removals = Vec::new();
        let mut raises: Vec<(u64, i64, i64)> = Vec::new();
        for (line, (q, restock)) in &session.quantities {
            let Some(l) = order.line_items.iter().find(|l| l.id == *line) else {
                return Err(order_err(&["lineItemId"], "Line item does not exist."));
            };
            let d = l.current() - q;
            if d > l.fulfillable() {
                return Err(order_err(
                    &["quantity"],
                    "Quantity can't be lower than the fulfilled quantity.",
                ));
            }
            if d > 0 {
                if let Some(item) = self.item_of_line(order, l.id) {
                    moves.push((item, if *restock { d } else { 0 }, -d));
                }
                removals.push((l.id, d));
            } else if d < 0 {
                // Raised: the added units are ordered on the same line.
                if let Some(item) = self.item_of_line(order, l.id) {
                    moves.push((item, d, -d));
                }
                raises.push((l.id, -d, l.price));
            }
        }
        let location = order.location_id;
        let mut added = Vec::new();
        for (variant, q) in &session.additions {
            let v = self.variants[variant].clone();
            let title = self
                .products
                .get(&v.product_id)
                .map(|p| p.title.clone())
                .unwrap_or_default();
            added.push((v, title, *q));
        }
        self.order_edits.remove(&edit);
        let mut additions = Vec::new();
        for (v, title, q) in added {
            let lid = self.new_id();
            let order = self.orders.get_mut(&session.order_id).expect("checked");
            order.line_items.push(crate::state::LineItemRec {
                id: lid,
                variant_id: Some(v.id),
                product_id: Some(v.product_id),
                sku: v.sku.clone(),
                title,
                quantity: q,
                price: v.price,
                fulfilled: 0,
                removed: 0,
                returned: 0,
            });
            let c = &mut order.checkout;
            c.lines.push(crate::checkout::LinePricing::default());
            c.line_items_total += v.price * q;
            c.total += v.price * q;
            order.total_price += v.price * q;
            moves.push((v.inventory_item_id, -q, q));
            additions.push((lid, q));
        }
        let order = self.orders.get_mut(&session.order_id).expect("checked");
        for (line, d) in &removals {
            if let Some(l) = order.line_items.iter_mut().find(|l| l.id == *line) {
                l.removed += d;
            }
        }
        for (line, d, price) in &raises {
            if let Some(l) = order.line_items.iter_mut().find(|l| l.id == *line) {
                l.quantity += d;
            }
            let c = &mut order.checkout;
            c.line_items_total += price * d;
            c.total += price * d;
            order.total_price += price * d;
            additions.push((*line, *d));
        }
        order.updated_at = now;
        for (item, d_available, d_committed) in moves {
            self.shift_level(item, location, d_available, d_committed);
        }
        let delta = |(id, d): &(u64, i64)| json!({"id": id, "delta": d});
        self.outbox.push(Event {
            topic: Topic::OrdersEdited,
            body: json!({"order_edit": {
                "id": edit,
                "order_id": session.order_id,
                "created_at": self.rest_time(now),
                "committed_at": self.rest_time(now),
                "notify_customer": false,
                "staff_note": "",
                "line_items": {
                    "additions": additions.iter().map(delta).collect::<Vec<_>>(),
                    "removals": removals.iter().map(delta).collect::<Vec<_>>(),
                },
            }}),
            triggered_at: now,
            entity_gid: gid("Order", session.order_id),
        });
        self.push_order_event(Topic::OrdersUpdated, session.order_id, now);
        Ok(session.order_id)
    }

    /// REST/webhook shape of a fulfilment.
    pub fn fulfillment_rest(&self, order_id: u64, id: u64) -> Value {
        let Some(o) = self.orders.get(&order_id) else {
            return Value::Null;
        };
        let Some(f) = o.fulfillments.iter().find(|f| f.id == id) else {
            return Value::Null;
        };
        let lines: Vec<Value> = f
            .lines
            .iter()
            .filter_map(|(line, q)| {
                let l = o.line_items.iter().find(|l| l.id == *line)?;
                Some(json!({
                    "id": l.id,
                    "admin_graphql_api_id": gid("LineItem", l.id),
                    "variant_id": l.variant_id,
                    "sku": l.sku,
                    "quantity": q,
                    "price": format_money(l.price),
                }))
            })
            .collect();
        json!({
            "id": f.id,
            "admin_graphql_api_id": gid("Fulfillment", f.id),
            "order_id": o.id,
            "status": "success",
            "created_at": self.rest_time(f.created_at),
            "updated_at": self.rest_time(f.created_at),
            "location_id": o.location_id,
            "tracking_company": f.tracking_company,
            "tracking_number": f.tracking_number,
            "tracking_numbers": f.tracking_number.iter().collect::<Vec<_>>(),
            "tracking_url": f.tracking_url,
            "tracking_urls": f.tracking_url.iter().collect::<Vec<_>>(),
            "line_items": lines,
        })
    }

    /// REST/webhook shape of a refund.
    pub fn refund_rest(&self, order_id: u64, id: u64) -> Value {
        let Some(o) = self.orders.get(&order_id) else {
            return Value::Null;
        };
        let Some(r) = o.refunds.iter().find(|r| r.id == id) else {
            return Value::Null;
        };
        let lines: Vec<Value> = r
            .lines
            .iter()
            .filter_map(|rl| {
                let l = o.line_items.iter().find(|l| l.id == rl.line_item_id)?;
                Some(json!({
                    "line_item_id": l.id,
                    "quantity": rl.quantity,
                    "restock_type": rl.restock_type.to_lowercase(),
                    "location_id": rl.location_id,
                    "subtotal": format_money(l.price * rl.quantity),
                    "line_item": {"id": l.id, "sku": l.sku, "variant_id": l.variant_id,
                                  "admin_graphql_api_id": gid("LineItem", l.id)},
                }))
            })
            .collect();
        json!({
            "id": r.id,
            "admin_graphql_api_id": gid("Refund", r.id),
            "order_id": o.id,
            "created_at": self.rest_time(r.created_at),
            "processed_at": self.rest_time(r.created_at),
            "note": r.note,
            "restock": r.lines.iter().any(|l| l.restock_type != "NO_RESTOCK"),
            "refund_line_items": lines,
        })
    }
}
