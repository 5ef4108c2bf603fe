//! Order editing as the Admin GraphQL API does it: `orderEditBegin` opens an edit and returns
//! a `CalculatedOrder`; `orderEditSetQuantity` (a calculated line item's new quantity, with
//! `restock`) and `orderEditAddVariant` stage changes on it; `orderEditCommit` applies them at
//! once and returns the order. The effects live in [`crate::lifecycle`].
//!
//! Simplifications: a calculated order shows its lines as staged (`lineItems` and
//! `addedLineItems` as `nodes` lists, no cursors); raising an existing line's quantity is
//! refused (add the variant instead); `locationId` of an added variant must be the order's
//! location or absent; `orderEditSession` ids are not modelled.

use super::*;
use crate::lifecycle::OrderEditSession;
use crate::state::ShopState;

/// A line of a calculated order.
#[derive(SimpleObject, Clone)]
pub struct CalculatedLineItem {
    /// `gid://shopify/CalculatedLineItem/N` (N: the line item's number; for a staged
    /// addition, the variant's).
    pub id: ID,
    /// Quantity after the staged edits.
    pub quantity: i64,
    /// Units that can still be removed (not fulfilled).
    pub editable_quantity: i64,
    /// Whether removed units are restocked.
    pub restocking: bool,
    /// SKU.
    pub sku: Option<String>,
}

/// `CalculatedLineItemConnection` (nodes only).
#[derive(SimpleObject, Clone)]
pub struct CalculatedLineItemConnection {
    /// Lines.
    pub nodes: Vec<CalculatedLineItem>,
}

/// An order with an edit's staged changes applied, not saved.
#[derive(Clone)]
pub struct CalculatedOrder {
    id: u64,
    order: OrderRec,
    session: OrderEditSession,
    added: Vec<CalculatedLineItem>,
    committed: bool,
}

#[Object]
impl CalculatedOrder {
    async fn id(&self) -> ID {
        ID(gid("CalculatedOrder", self.id))
    }
    async fn committed(&self) -> bool {
        self.committed
    }
    async fn original_order(&self) -> Order {
        Order(self.order.clone())
    }
    async fn line_items(&self, first: Option<i32>) -> CalculatedLineItemConnection {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        let mut nodes: Vec<CalculatedLineItem> = self
            .order
            .line_items
            .iter()
            .map(|l| {
                let staged = self.session.quantities.get(&l.id);
                CalculatedLineItem {
                    id: ID(gid("CalculatedLineItem", l.id)),
                    quantity: staged.map_or(l.current(), |s| s.0),
                    editable_quantity: l.fulfillable(),
                    restocking: staged.is_some_and(|s| s.1),
                    sku: l.sku.clone(),
                }
            })
            .collect();
        nodes.extend(self.added.iter().cloned());
        nodes.truncate(n);
        CalculatedLineItemConnection { nodes }
    }
    async fn added_line_items(&self, first: Option<i32>) -> CalculatedLineItemConnection {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        CalculatedLineItemConnection {
            nodes: self.added.iter().take(n).cloned().collect(),
        }
    }
}

/// `orderEditBegin` payload.
#[derive(SimpleObject)]
pub struct OrderEditBeginPayload {
    /// The calculated order.
    pub calculated_order: Option<CalculatedOrder>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `orderEditSetQuantity` payload.
#[derive(SimpleObject)]
pub struct OrderEditSetQuantityPayload {
    /// The line with the edit applied.
    pub calculated_line_item: Option<CalculatedLineItem>,
    /// The calculated order.
    pub calculated_order: Option<CalculatedOrder>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `orderEditAddVariant` payload.
#[derive(SimpleObject)]
pub struct OrderEditAddVariantPayload {
    /// The added line.
    pub calculated_line_item: Option<CalculatedLineItem>,
    /// The calculated order.
    pub calculated_order: Option<CalculatedOrder>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `orderEditCommit` payload.
#[derive(SimpleObject)]
pub struct OrderEditCommitPayload {
    /// The order with the edit saved.
    pub order: Option<Order>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

fn calculated(st: &ShopState, id: u64, committed: bool) -> Option<CalculatedOrder> {
    let session = st.order_edits.get(&id)?.clone();
    let order = st.orders.get(&session.order_id)?.clone();
    let added = session
        .additions
        .iter()
        .filter_map(|(v, q)| {
            let v = st.variants.get(v)?;
            Some(CalculatedLineItem {
                id: ID(gid("CalculatedLineItem", v.id)),
                quantity: *q,
                editable_quantity: *q,
                restocking: false,
                sku: v.sku.clone(),
            })
        })
        .collect();
    Some(CalculatedOrder {
        id,
        order,
        session,
        added,
        committed,
    })
}

fn edit_id(id: &ID) -> async_graphql::Result<u64> {
    parse_id("CalculatedOrder", id, "id")
}

pub(super) fn order_edit_begin(
    ctx: &Context<'_>,
    id: ID,
) -> async_graphql::Result<OrderEditBeginPayload> {
    let order = parse_id("Order", &id, "id")?;
    let mut st = shared(ctx).state.lock();
    Ok(match st.order_edit_begin(order) {
        Ok(edit) => OrderEditBeginPayload {
            calculated_order: calculated(&st, edit, false),
            user_errors: Vec::new(),
        },
        Err(e) => OrderEditBeginPayload {
            calculated_order: None,
            user_errors: vec![e.into()],
        },
    })
}

pub(super) fn order_edit_set_quantity(
    ctx: &Context<'_>,
    id: ID,
    line_item_id: ID,
    quantity: i32,
    restock: Option<bool>,
) -> async_graphql::Result<OrderEditSetQuantityPayload> {
    let edit = edit_id(&id)?;
    let line = parse_id("CalculatedLineItem", &line_item_id, "lineItemId")?;
    let mut st = shared(ctx).state.lock();
    Ok(
        match st.order_edit_set_quantity(edit, line, i64::from(quantity), restock.unwrap_or(false))
        {
            Ok(()) => {
                let calc = calculated(&st, edit, false);
                let item = calc.as_ref().and_then(|c| {
                    let l = c.order.line_items.iter().find(|l| l.id == line)?;
                    Some(CalculatedLineItem {
                        id: ID(gid("CalculatedLineItem", line)),
                        quantity: i64::from(quantity),
                        editable_quantity: l.fulfillable(),
                        restocking: restock.unwrap_or(false),
                        sku: l.sku.clone(),
                    })
                });
                OrderEditSetQuantityPayload {
                    calculated_line_item: item,
                    calculated_order: calc,
                    user_errors: Vec::new(),
                }
            }
            Err(e) => OrderEditSetQuantityPayload {
                calculated_line_item: None,
                calculated_order: None,
                user_errors: vec![e.into()],
            },
        },
    )
}

pub(super) fn order_edit_add_variant(
    ctx: &Context<'_>,
    id: ID,
    variant_id: ID,
    quantity: i32,
    location_id: Option<ID>,
) -> async_graphql::Result<OrderEditAddVariantPayload> {
    let edit = edit_id(&id)?;
    let variant = parse_id("ProductVariant", &variant_id, "variantId")?;
    let location = match &location_id {
        Some(l) => Some(parse_id("Location", l, "locationId")?),
        None => None,
    };
    let mut st = shared(ctx).state.lock();
    if let (Some(l), Some(s)) = (location, st.order_edits.get(&edit))
        && st
            .orders
            .get(&s.order_id)
            .is_some_and(|o| o.location_id != l)
    {
        return Ok(OrderEditAddVariantPayload {
            calculated_line_item: None,
            calculated_order: None,
            user_errors: vec![UserError {
                field: Some(vec!["locationId".into()]),
                message: "The simulator adds variants at the order's location only.".into(),
            }],
        });
    }
    Ok(
        match st.order_edit_add_variant(edit, variant, i64::from(quantity)) {
            Ok(()) => {
                let calc = calculated(&st, edit, false);
                OrderEditAddVariantPayload {
                    calculated_line_item: calc.as_ref().and_then(|c| c.added.last().cloned()),
                    calculated_order: calc,
                    user_errors: Vec::new(),
                }
            }
            Err(e) => OrderEditAddVariantPayload {
                calculated_line_item: None,
                calculated_order: None,
                user_errors: vec![e.into()],
            },
        },
    )
}

pub(super) fn order_edit_commit(
    ctx: &Context<'_>,
    id: ID,
) -> async_graphql::Result<OrderEditCommitPayload> {
    let edit = edit_id(&id)?;
    let mut st = shared(ctx).state.lock();
    Ok(match st.order_edit_commit(edit) {
        Ok(order) => OrderEditCommitPayload {
            order: st.orders.get(&order).cloned().map(Order),
            user_errors: Vec::new(),
        },
        Err(e) => OrderEditCommitPayload {
            order: None,
            user_errors: vec![e.into()],
        },
    })
}
