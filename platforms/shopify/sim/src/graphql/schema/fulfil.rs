//! Fulfilment orders, fulfilments, refunds and the mutations of an order's life:
//! `fulfillmentCreate` (with `trackingInfo`), `orderCancel` (with or without `restock`) and
//! `refundCreate` (with `restockType` per line; `@idempotent` required from 2026-04, as for
//! inventory adjustments). The stock effects live in [`crate::lifecycle`].
//!
//! Simplifications: one fulfilment order per order (id distinct from the order's), its line
//! items' ids are the order line items' numbers under the `FulfillmentOrderLineItem` type;
//! `orderCancel` runs at once and returns a finished job; `fulfillmentCreate` takes one
//! fulfilment order per call.

use super::*;
use crate::lifecycle::{RefundLineSpec, Tracking};
use crate::state::{FulfillmentRec, RefundRec};

/// `Order.displayFulfillmentStatus`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderDisplayFulfillmentStatus {
    /// Nothing shipped.
    Unfulfilled,
    /// Some lines or quantities shipped.
    PartiallyFulfilled,
    /// Everything shipped.
    Fulfilled,
}

pub(super) fn display_fulfillment_status(o: &OrderRec) -> OrderDisplayFulfillmentStatus {
    if o.line_items.iter().all(|l| l.fulfilled == 0) {
        OrderDisplayFulfillmentStatus::Unfulfilled
    } else if o.line_items.iter().all(|l| l.fulfillable() == 0) {
        OrderDisplayFulfillmentStatus::Fulfilled
    } else {
        OrderDisplayFulfillmentStatus::PartiallyFulfilled
    }
}

/// `OrderCancelReason`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderCancelReason {
    /// The customer cancelled.
    Customer,
    /// Payment declined.
    Declined,
    /// Fraud.
    Fraud,
    /// Out of stock.
    Inventory,
    /// Staff error.
    Staff,
    /// Other.
    Other,
}

impl OrderCancelReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Declined => "DECLINED",
            Self::Fraud => "FRAUD",
            Self::Inventory => "INVENTORY",
            Self::Staff => "STAFF",
            Self::Other => "OTHER",
        }
    }
    pub(super) fn parse(s: &str) -> Option<Self> {
        [
            Self::Customer,
            Self::Declined,
            Self::Fraud,
            Self::Inventory,
            Self::Staff,
            Self::Other,
        ]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

/// `FulfillmentOrderStatus`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FulfillmentOrderStatus {
    /// Nothing shipped yet.
    Open,
    /// Partly shipped.
    InProgress,
    /// Everything shipped (or removed).
    Closed,
    /// The order was cancelled.
    Cancelled,
}

/// The order's one fulfilment order.
#[derive(Clone)]
pub struct FulfillmentOrder(pub OrderRec);

#[Object]
impl FulfillmentOrder {
    async fn id(&self) -> ID {
        ID(gid("FulfillmentOrder", self.0.fulfillment_order_id))
    }
    async fn status(&self) -> FulfillmentOrderStatus {
        let o = &self.0;
        if o.cancelled_at.is_some() {
            FulfillmentOrderStatus::Cancelled
        } else if o.line_items.iter().all(|l| l.fulfillable() == 0) {
            FulfillmentOrderStatus::Closed
        } else if o.line_items.iter().any(|l| l.fulfilled > 0) {
            FulfillmentOrderStatus::InProgress
        } else {
            FulfillmentOrderStatus::Open
        }
    }
    async fn assigned_location(&self, ctx: &Context<'_>) -> Option<Location> {
        let st = shared(ctx).state.lock();
        st.locations.get(&self.0.location_id).cloned().map(Location)
    }
    async fn order(&self) -> Order {
        Order(self.0.clone())
    }
    #[allow(clippy::too_many_arguments)]
    async fn line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<FulfillmentOrderLineItemConnection> {
        let items: Vec<_> = self
            .0
            .line_items
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    (SortVal::Int(i as i64), l.id),
                    FulfillmentOrderLineItem(
                        l.clone(),
                        self.0.currency.clone(),
                        pricing_of(&self.0, l.id),
                    ),
                )
            })
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(FulfillmentOrderLineItemConnection::build(page, info))
    }
}

/// A line of a fulfilment order.
#[derive(Clone)]
pub struct FulfillmentOrderLineItem(
    pub LineItemRec,
    pub String,
    pub crate::checkout::LinePricing,
);

#[Object]
impl FulfillmentOrderLineItem {
    async fn id(&self) -> ID {
        ID(gid("FulfillmentOrderLineItem", self.0.id))
    }
    async fn total_quantity(&self) -> i64 {
        self.0.quantity - self.0.removed
    }
    async fn remaining_quantity(&self) -> i64 {
        self.0.fulfillable()
    }
    async fn sku(&self) -> Option<&str> {
        self.0.sku.as_deref()
    }
    async fn line_item(&self) -> LineItem {
        LineItem(self.0.clone(), self.1.clone(), self.2.clone())
    }
}

/// Tracking of a fulfilment.
#[derive(SimpleObject, Clone)]
pub struct FulfillmentTrackingInfo {
    /// Tracking number.
    pub number: Option<String>,
    /// Tracking URL.
    pub url: Option<Url>,
    /// Carrier.
    pub company: Option<String>,
}

/// A shipped line.
#[derive(SimpleObject, Clone)]
pub struct FulfillmentLineItem {
    /// Id.
    pub id: ID,
    /// Quantity shipped.
    pub quantity: i64,
    /// The order's line.
    pub line_item: LineItem,
}

/// A fulfilment (with its order, for line details).
#[derive(Clone)]
pub struct Fulfillment(pub FulfillmentRec, pub OrderRec);

#[Object]
impl Fulfillment {
    async fn id(&self) -> ID {
        ID(gid("Fulfillment", self.0.id))
    }
    async fn status(&self) -> &str {
        "SUCCESS"
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn order(&self) -> Order {
        Order(self.1.clone())
    }
    async fn tracking_info(&self, first: Option<i32>) -> Vec<FulfillmentTrackingInfo> {
        let f = &self.0;
        let one = f.tracking_number.is_some() || f.tracking_url.is_some();
        (one && first != Some(0))
            .then(|| FulfillmentTrackingInfo {
                number: f.tracking_number.clone(),
                url: f.tracking_url.clone().map(Url),
                company: f.tracking_company.clone(),
            })
            .into_iter()
            .collect()
    }
    async fn fulfillment_line_items(&self, first: Option<i32>) -> Vec<FulfillmentLineItem> {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        self.0
            .lines
            .iter()
            .filter_map(|(line, q)| {
                let l = self.1.line_items.iter().find(|l| l.id == *line)?;
                Some(FulfillmentLineItem {
                    id: ID(gid("FulfillmentLineItem", l.id)),
                    quantity: *q,
                    line_item: LineItem(
                        l.clone(),
                        self.1.currency.clone(),
                        pricing_of(&self.1, l.id),
                    ),
                })
            })
            .take(n)
            .collect()
    }
}

/// `RefundLineItemRestockType`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum RefundLineItemRestockType {
    /// Returned: back in stock.
    Return,
    /// Not yet shipped: removed from the order, back in stock.
    Cancel,
    /// Refunded without restocking.
    NoRestock,
    /// Legacy restock.
    LegacyRestock,
}

impl RefundLineItemRestockType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Return | Self::LegacyRestock => "RETURN",
            Self::Cancel => "CANCEL",
            Self::NoRestock => "NO_RESTOCK",
        }
    }
}

/// A refunded line.
#[derive(SimpleObject, Clone)]
pub struct RefundLineItem {
    /// Quantity.
    pub quantity: i64,
    /// How it was restocked.
    pub restock_type: RefundLineItemRestockType,
    /// Whether it was restocked.
    pub restocked: bool,
    /// Restock location.
    pub location: Option<Location>,
    /// The order's line.
    pub line_item: LineItem,
}

/// A refund (with its order, for line details).
#[derive(Clone)]
pub struct Refund(pub RefundRec, pub OrderRec);

#[Object]
impl Refund {
    async fn id(&self) -> ID {
        ID(gid("Refund", self.0.id))
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn order(&self) -> Order {
        Order(self.1.clone())
    }
    /// A connection, as Shopify's `RefundLineItemConnection`.
    #[allow(clippy::too_many_arguments)]
    async fn refund_line_items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<RefundLineItemConnection> {
        let st = shared(ctx).state.lock();
        let items: Vec<_> = self
            .0
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let l = self.1.line_items.iter().find(|l| l.id == r.line_item_id)?;
                Some((
                    (SortVal::Int(i as i64), i as u64),
                    RefundLineItem {
                        quantity: r.quantity,
                        restock_type: match r.restock_type.as_str() {
                            "CANCEL" => RefundLineItemRestockType::Cancel,
                            "NO_RESTOCK" => RefundLineItemRestockType::NoRestock,
                            _ => RefundLineItemRestockType::Return,
                        },
                        restocked: r.restock_type != "NO_RESTOCK",
                        location: r
                            .location_id
                            .and_then(|id| st.locations.get(&id))
                            .cloned()
                            .map(Location),
                        line_item: LineItem(
                            l.clone(),
                            self.1.currency.clone(),
                            pricing_of(&self.1, l.id),
                        ),
                    },
                ))
            })
            .collect();
        drop(st);
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(RefundLineItemConnection::build(page, info))
    }
}

/// `FulfillmentTrackingInput`.
#[derive(InputObject)]
pub struct FulfillmentTrackingInput {
    /// Tracking number.
    pub number: Option<String>,
    /// Tracking URL.
    pub url: Option<String>,
    /// Carrier.
    pub company: Option<String>,
}

/// `FulfillmentOrderLineItemInput`.
#[derive(InputObject)]
pub struct FulfillmentOrderLineItemInput {
    /// `gid://shopify/FulfillmentOrderLineItem/N`.
    pub id: ID,
    /// Quantity to ship.
    pub quantity: i32,
}

/// `FulfillmentOrderLineItemsInput`.
#[derive(InputObject)]
pub struct FulfillmentOrderLineItemsInput {
    /// `gid://shopify/FulfillmentOrder/N`.
    pub fulfillment_order_id: ID,
    /// Lines and quantities; omitted = everything remaining.
    pub fulfillment_order_line_items: Option<Vec<FulfillmentOrderLineItemInput>>,
}

/// `FulfillmentInput` (the `fulfillment` argument of `fulfillmentCreate`).
#[derive(InputObject)]
pub struct FulfillmentInput {
    /// What to ship, per fulfilment order.
    pub line_items_by_fulfillment_order: Vec<FulfillmentOrderLineItemsInput>,
    /// Tracking.
    pub tracking_info: Option<FulfillmentTrackingInput>,
    /// Notify the customer.
    pub notify_customer: Option<bool>,
}

/// `fulfillmentCreate` payload.
#[derive(SimpleObject)]
pub struct FulfillmentCreatePayload {
    /// The fulfilment.
    pub fulfillment: Option<Fulfillment>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// A job (`orderCancel` runs asynchronously in Shopify).
#[derive(SimpleObject, Clone)]
pub struct Job {
    /// Id.
    pub id: ID,
    /// Whether it finished (always, in the simulator).
    pub done: bool,
}

/// `OrderCancelUserError`.
#[derive(SimpleObject, Clone)]
pub struct OrderCancelUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

/// `orderCancel` payload.
#[derive(SimpleObject)]
pub struct OrderCancelPayload {
    /// The cancel job.
    pub job: Option<Job>,
    /// Errors.
    pub order_cancel_user_errors: Vec<OrderCancelUserError>,
    /// Errors (deprecated shape).
    pub user_errors: Vec<UserError>,
}

/// `RefundLineItemInput`.
#[derive(InputObject)]
pub struct RefundLineItemInput {
    /// `gid://shopify/LineItem/N`.
    pub line_item_id: ID,
    /// Quantity.
    pub quantity: i32,
    /// Restock type (default `RETURN`).
    pub restock_type: Option<RefundLineItemRestockType>,
    /// Restock location.
    pub location_id: Option<ID>,
}

/// `RefundInput`.
#[derive(InputObject)]
pub struct RefundInput {
    /// The order.
    pub order_id: ID,
    /// Note.
    pub note: Option<String>,
    /// Lines.
    pub refund_line_items: Option<Vec<RefundLineItemInput>>,
    /// Notify the customer.
    pub notify: Option<bool>,
}

/// `refundCreate` payload.
#[derive(SimpleObject)]
pub struct RefundCreatePayload {
    /// The refund.
    pub refund: Option<Refund>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

pub(super) fn fulfillment_create(
    ctx: &Context<'_>,
    input: FulfillmentInput,
) -> async_graphql::Result<FulfillmentCreatePayload> {
    let fail = |e: UserErr| {
        Ok(FulfillmentCreatePayload {
            fulfillment: None,
            user_errors: vec![e.into()],
        })
    };
    let [by_fo] = input.line_items_by_fulfillment_order.as_slice() else {
        return fail(UserErr::new(
            &["fulfillment", "lineItemsByFulfillmentOrder"],
            "The simulator fulfils one fulfillment order per call.",
            "INVALID",
        ));
    };
    let fo = parse_id(
        "FulfillmentOrder",
        &by_fo.fulfillment_order_id,
        "fulfillmentOrderId",
    )?;
    let lines = match &by_fo.fulfillment_order_line_items {
        None => None,
        Some(ls) => Some(
            ls.iter()
                .map(|l| {
                    parse_id("FulfillmentOrderLineItem", &l.id, "id")
                        .map(|id| (id, l.quantity as i64))
                })
                .collect::<async_graphql::Result<Vec<_>>>()?,
        ),
    };
    let tracking = input
        .tracking_info
        .map(|t| Tracking {
            number: t.number,
            url: t.url,
            company: t.company,
        })
        .unwrap_or_default();
    let mut st = shared(ctx).state.lock();
    match st.fulfill(fo, lines, tracking) {
        Ok(id) => {
            let order = st
                .orders
                .values()
                .find(|o| o.fulfillment_order_id == fo)
                .cloned()
                .ok_or_else(|| err("order vanished", "INTERNAL_SERVER_ERROR"))?;
            let f = order
                .fulfillments
                .iter()
                .find(|f| f.id == id)
                .cloned()
                .ok_or_else(|| err("fulfillment vanished", "INTERNAL_SERVER_ERROR"))?;
            Ok(FulfillmentCreatePayload {
                fulfillment: Some(Fulfillment(f, order)),
                user_errors: Vec::new(),
            })
        }
        Err(e) => fail(e),
    }
}

pub(super) fn order_cancel(
    ctx: &Context<'_>,
    order_id: ID,
    reason: OrderCancelReason,
    restock: bool,
) -> async_graphql::Result<OrderCancelPayload> {
    let id = parse_id("Order", &order_id, "orderId")?;
    let mut st = shared(ctx).state.lock();
    match st.cancel_order_with(id, restock, reason.as_str()) {
        Ok(()) => {
            let job = st.new_job();
            Ok(OrderCancelPayload {
                job: Some(Job {
                    id: ID(gid("Job", job)),
                    done: true,
                }),
                order_cancel_user_errors: Vec::new(),
                user_errors: Vec::new(),
            })
        }
        Err(e) => Ok(OrderCancelPayload {
            job: None,
            order_cancel_user_errors: vec![OrderCancelUserError {
                field: e.field.clone(),
                message: e.message.clone(),
                code: e.code.clone(),
            }],
            user_errors: vec![e.into()],
        }),
    }
}

pub(super) fn refund_create(
    ctx: &Context<'_>,
    input: RefundInput,
) -> async_graphql::Result<RefundCreatePayload> {
    let rq = ctx.data_unchecked::<ReqCtx>();
    if rq.at_least("2026-04") && rq.idempotency_key.lock().is_none() {
        return Err(err(
            "The @idempotent directive is required for this mutation.",
            "IDEMPOTENCY_KEY_REQUIRED",
        ));
    }
    let order_id = parse_id("Order", &input.order_id, "orderId")?;
    let mut lines = Vec::new();
    for l in input.refund_line_items.iter().flatten() {
        lines.push(RefundLineSpec {
            line_item_id: parse_id("LineItem", &l.line_item_id, "lineItemId")?,
            quantity: l.quantity as i64,
            restock_type: l
                .restock_type
                .unwrap_or(RefundLineItemRestockType::Return)
                .as_str()
                .to_owned(),
            location_id: l
                .location_id
                .as_ref()
                .map(|id| parse_id("Location", id, "locationId"))
                .transpose()?,
        });
    }
    let mut st = shared(ctx).state.lock();
    match st.refund(order_id, lines, input.note) {
        Ok(id) => {
            let order = st
                .orders
                .get(&order_id)
                .cloned()
                .ok_or_else(|| err("order vanished", "INTERNAL_SERVER_ERROR"))?;
            let r = order
                .refunds
                .iter()
                .find(|r| r.id == id)
                .cloned()
                .ok_or_else(|| err("refund vanished", "INTERNAL_SERVER_ERROR"))?;
            Ok(RefundCreatePayload {
                refund: Some(Refund(r, order)),
                user_errors: Vec::new(),
            })
        }
        Err(e) => Ok(RefundCreatePayload {
            refund: None,
            user_errors: vec![e.into()],
        }),
    }
}

/// The discount and taxes of line `line_id` of `order` (its checkout prices lines in order).
fn pricing_of(order: &OrderRec, line_id: u64) -> crate::checkout::LinePricing {
    order
        .line_items
        .iter()
        .position(|l| l.id == line_id)
        .and_then(|i| order.checkout.lines.get(i).cloned())
        .unwrap_or_default()
}
