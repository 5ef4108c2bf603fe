//! The simulated shop's entities and every operation that changes them.
//!
//! Operations bump `updated_at`, record webhook [`Event`]s with REST-shaped bodies (numeric ids as
//! JSON numbers, as Shopify sends them) and return Shopify-style user errors. Both the GraphQL
//! mutations and the merchant API go through here, so they behave identically.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, SubsecRound, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};

use crate::ids::{FIRST_ID, format_money, gid};
use crate::search::{FieldValue, Searchable};

/// Webhook topics the simulator emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Topic {
    /// `products/create`
    ProductsCreate,
    /// `products/update`
    ProductsUpdate,
    /// `inventory_levels/update`
    InventoryLevelsUpdate,
    /// `orders/create`
    OrdersCreate,
    /// `orders/updated`
    OrdersUpdated,
    /// `customers/create`
    CustomersCreate,
    /// `customers/update`
    CustomersUpdate,
    /// `orders/cancelled`
    OrdersCancelled,
    /// `orders/fulfilled` (every line fulfilled)
    OrdersFulfilled,
    /// `orders/partially_fulfilled`
    OrdersPartiallyFulfilled,
    /// `fulfillments/create`
    FulfillmentsCreate,
    /// `refunds/create`
    RefundsCreate,
    /// `orders/edited` (the body is the order edit: `{"order_edit": {...}}`)
    OrdersEdited,
    /// `products/delete` (the body is `{"id": N}` only)
    ProductsDelete,
    /// `customers/delete` (the body is `{"id": N}` only)
    CustomersDelete,
    /// `collections/create`
    CollectionsCreate,
    /// `collections/update` (also when products are added or removed)
    CollectionsUpdate,
    /// `collections/delete` (the body is `{"id": N}` only)
    CollectionsDelete,
}

impl Topic {
    /// All topics.
    pub const ALL: [Topic; 18] = [
        Topic::ProductsCreate,
        Topic::ProductsUpdate,
        Topic::InventoryLevelsUpdate,
        Topic::OrdersCreate,
        Topic::OrdersUpdated,
        Topic::CustomersCreate,
        Topic::CustomersUpdate,
        Topic::OrdersCancelled,
        Topic::OrdersFulfilled,
        Topic::OrdersPartiallyFulfilled,
        Topic::FulfillmentsCreate,
        Topic::RefundsCreate,
        Topic::OrdersEdited,
        Topic::ProductsDelete,
        Topic::CustomersDelete,
        Topic::CollectionsCreate,
        Topic::CollectionsUpdate,
        Topic::CollectionsDelete,
    ];

    /// The header form, e.g. `products/update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::ProductsCreate => "products/create",
            Topic::ProductsUpdate => "products/update",
            Topic::InventoryLevelsUpdate => "inventory_levels/update",
            Topic::OrdersCreate => "orders/create",
            Topic::OrdersUpdated => "orders/updated",
            Topic::CustomersCreate => "customers/create",
            Topic::CustomersUpdate => "customers/update",
            Topic::OrdersCancelled => "orders/cancelled",
            Topic::OrdersFulfilled => "orders/fulfilled",
            Topic::OrdersPartiallyFulfilled => "orders/partially_fulfilled",
            Topic::FulfillmentsCreate => "fulfillments/create",
            Topic::RefundsCreate => "refunds/create",
            Topic::OrdersEdited => "orders/edited",
            Topic::ProductsDelete => "products/delete",
            Topic::CustomersDelete => "customers/delete",
            Topic::CollectionsCreate => "collections/create",
            Topic::CollectionsUpdate => "collections/update",
            Topic::CollectionsDelete => "collections/delete",
        }
    }

    /// Parses the header form or the GraphQL enum form (`PRODUCTS_UPDATE`).
    pub fn parse(s: &str) -> Option<Topic> {
        let norm = s.to_ascii_lowercase().replace('_', "/");
        Topic::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.as_str().replace('_', "/") == norm)
    }
}

/// A change that fires webhooks.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Topic.
    pub topic: Topic,
    /// REST-shaped body (the payload every delivery of this event carries, retries included).
    pub body: Value,
    /// When the change happened.
    pub triggered_at: DateTime<Utc>,
    /// The `admin_graphql_api_id` of the entity.
    pub entity_gid: String,
}

/// A Shopify-style user error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserErr {
    /// Path to the input field, e.g. `["input", "variants", "0", "price"]`.
    pub field: Option<Vec<String>>,
    /// Human-readable message.
    pub message: String,
    /// Error code (the payload's `*UserErrorCode` enum value).
    pub code: Option<String>,
}

impl UserErr {
    /// Builds a user error.
    pub fn new(field: &[&str], message: impl Into<String>, code: &str) -> Self {
        UserErr {
            field: Some(field.iter().map(|s| s.to_string()).collect()),
            message: message.into(),
            code: Some(code.to_string()),
        }
    }
}

/// Product status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// `ACTIVE`
    Active,
    /// `ARCHIVED`
    Archived,
    /// `DRAFT`
    Draft,
}

impl Status {
    /// REST form (`active`).
    pub fn rest(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
            Status::Draft => "draft",
        }
    }
}

/// A product option with its values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductOption {
    /// Option id.
    pub id: u64,
    /// Name, e.g. `Size`.
    pub name: String,
    /// Values in order.
    pub values: Vec<String>,
}

/// A product image: Shopify keeps it as product media (a `MediaImage`) made from a URL; the
/// simulator keeps its URL, alt text and order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageRec {
    /// Media id.
    pub id: u64,
    /// Source URL.
    pub url: String,
    /// Alt text.
    pub alt: Option<String>,
}

/// A metafield on a product.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetafieldRec {
    /// Metafield id.
    pub id: u64,
    /// Namespace (`custom`).
    pub namespace: String,
    /// Key, unique in its namespace.
    pub key: String,
    /// Type (`single_line_text_field`, ...).
    pub type_: String,
    /// Value, as text.
    pub value: String,
}

/// Weight units (`WeightUnit`).
pub const WEIGHT_UNITS: [(&str, &str); 4] = [
    ("GRAMS", "g"),
    ("KILOGRAMS", "kg"),
    ("OUNCES", "oz"),
    ("POUNDS", "lb"),
];

/// A customer's mailing address.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AddressRec {
    /// Address id.
    pub id: u64,
    /// The address fields.
    pub address: crate::checkout::Address,
}

/// A stored product.
#[derive(Clone, Debug, Serialize)]
pub struct ProductRec {
    /// Numeric id.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Unique handle.
    pub handle: String,
    /// Description HTML.
    pub description_html: String,
    /// Vendor.
    pub vendor: String,
    /// Product type.
    pub product_type: String,
    /// Status.
    pub status: Status,
    /// Tags.
    pub tags: Vec<String>,
    /// Options.
    pub options: Vec<ProductOption>,
    /// Category in Shopify's standard product taxonomy (`aa-1-13-8`).
    pub category: Option<String>,
    /// SEO title (`seo.title`); `None` falls back to the title on the storefront.
    pub seo_title: Option<String>,
    /// SEO description (`seo.description`).
    pub seo_description: Option<String>,
    /// Images, in order.
    pub images: Vec<ImageRec>,
    /// Metafields.
    pub metafields: Vec<MetafieldRec>,
    /// Variant ids in position order.
    pub variant_ids: Vec<u64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated (second precision).
    pub updated_at: DateTime<Utc>,
}

/// A stored variant.
#[derive(Clone, Debug, Serialize)]
pub struct VariantRec {
    /// Numeric id.
    pub id: u64,
    /// Owning product.
    pub product_id: u64,
    /// Title (option values joined by " / ").
    pub title: String,
    /// SKU (Shopify allows none and does not enforce uniqueness).
    pub sku: Option<String>,
    /// Price in cents.
    pub price: i64,
    /// Compare-at price in cents.
    pub compare_at_price: Option<i64>,
    /// Barcode.
    pub barcode: Option<String>,
    /// `(option name, value)` pairs.
    pub selected_options: Vec<(String, String)>,
    /// 1-based position.
    pub position: i32,
    /// Its inventory item.
    pub inventory_item_id: u64,
    /// Shipping weight (the inventory item's `measurement.weight.value`).
    pub weight: f64,
    /// Its unit (`WeightUnit`: `KILOGRAMS`, `GRAMS`, `POUNDS`, `OUNCES`).
    pub weight_unit: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A stored inventory item (one per variant).
#[derive(Clone, Debug, Serialize)]
pub struct InventoryItemRec {
    /// Numeric id.
    pub id: u64,
    /// Its variant.
    pub variant_id: u64,
    /// Whether quantities are tracked.
    pub tracked: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A location.
#[derive(Clone, Debug, Serialize)]
pub struct LocationRec {
    /// Numeric id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Active.
    pub is_active: bool,
}

/// Quantities of one item at one location, by Shopify's inventory state names. `on_hand` is
/// not stored: it is `available + committed + reserved + damaged + safety_stock +
/// quality_control` (the last four are `unavailable`); `incoming` is not on hand.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LevelRec {
    /// InventoryLevel id.
    pub id: u64,
    /// Item.
    pub inventory_item_id: u64,
    /// Location.
    pub location_id: u64,
    /// `available`: what can be sold.
    pub available: i64,
    /// `committed`: on placed orders, not yet fulfilled.
    pub committed: i64,
    /// `reserved` (draft orders, holds).
    pub reserved: i64,
    /// `damaged`.
    pub damaged: i64,
    /// `safety_stock`.
    pub safety_stock: i64,
    /// `quality_control`.
    pub quality_control: i64,
    /// `incoming` (transfers, purchase orders; not on hand).
    pub incoming: i64,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// The inventory state names Shopify accepts in `quantities(names:)`.
pub const QUANTITY_NAMES: [&str; 9] = [
    "available",
    "on_hand",
    "committed",
    "incoming",
    "reserved",
    "damaged",
    "safety_stock",
    "quality_control",
    "unavailable",
];

impl LevelRec {
    /// The quantity of a named inventory state (`None` for an unknown name).
    pub fn quantity(&self, name: &str) -> Option<i64> {
        let unavailable = self.reserved + self.damaged + self.safety_stock + self.quality_control;
        Some(match name {
            "available" => self.available,
            "committed" => self.committed,
            "on_hand" => self.available + self.committed + unavailable,
            "incoming" => self.incoming,
            "reserved" => self.reserved,
            "damaged" => self.damaged,
            "safety_stock" => self.safety_stock,
            "quality_control" => self.quality_control,
            "unavailable" => unavailable,
            _ => return None,
        })
    }
}

/// The variants a REST product or product webhook carries in full.
pub const REST_VARIANTS: usize = 100;

/// A stored customer.
#[derive(Clone, Debug, Serialize)]
pub struct CustomerRec {
    /// Numeric id.
    pub id: u64,
    /// Email (unique when present).
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether the customer is exempt from tax.
    pub tax_exempt: bool,
    /// Email marketing consent: `SUBSCRIBED`, `NOT_SUBSCRIBED`, `UNSUBSCRIBED`, `PENDING`
    /// (`REDACTED` and `INVALID` are Shopify's own and never set through the API).
    pub email_marketing: String,
    /// When the consent last changed.
    pub consent_updated_at: Option<DateTime<Utc>>,
    /// Addresses, in order.
    pub addresses: Vec<AddressRec>,
    /// The default address (one of `addresses`).
    pub default_address_id: Option<u64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// An order line.
#[derive(Clone, Debug, Serialize)]
pub struct LineItemRec {
    /// Numeric id.
    pub id: u64,
    /// Variant (None once deleted).
    pub variant_id: Option<u64>,
    /// Product.
    pub product_id: Option<u64>,
    /// SKU at order time.
    pub sku: Option<String>,
    /// Title at order time.
    pub title: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price in cents.
    pub price: i64,
    /// Quantity fulfilled.
    pub fulfilled: i64,
    /// Quantity removed before fulfilment (order cancelled, refunded with restock `CANCEL`,
    /// edited away).
    pub removed: i64,
    /// Fulfilled quantity refunded (restock `RETURN` or `NO_RESTOCK`).
    pub returned: i64,
}

impl LineItemRec {
    /// What remains to fulfil.
    pub fn fulfillable(&self) -> i64 {
        self.quantity - self.fulfilled - self.removed
    }
    /// The quantity still on the order (Shopify's `currentQuantity`).
    pub fn current(&self) -> i64 {
        self.quantity - self.removed - self.returned
    }
}

/// A fulfilment of some of an order's lines, with its tracking.
#[derive(Clone, Debug, Serialize)]
pub struct FulfillmentRec {
    /// Numeric id.
    pub id: u64,
    /// `(line item id, quantity)`.
    pub lines: Vec<(u64, i64)>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Tracking URL.
    pub tracking_url: Option<String>,
    /// Carrier (`trackingInfo.company`).
    pub tracking_company: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// One refunded line.
#[derive(Clone, Debug, Serialize)]
pub struct RefundLineRec {
    /// Line item id.
    pub line_item_id: u64,
    /// Quantity.
    pub quantity: i64,
    /// `RETURN`, `CANCEL` or `NO_RESTOCK`.
    pub restock_type: String,
    /// Location restocked at.
    pub location_id: Option<u64>,
}

/// A refund.
#[derive(Clone, Debug, Serialize)]
pub struct RefundRec {
    /// Numeric id.
    pub id: u64,
    /// Lines.
    pub lines: Vec<RefundLineRec>,
    /// Note.
    pub note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored order.
#[derive(Clone, Debug, Serialize)]
pub struct OrderRec {
    /// Numeric id.
    pub id: u64,
    /// `#1001`.
    pub name: String,
    /// 1001.
    pub order_number: u64,
    /// Email.
    pub email: Option<String>,
    /// Customer.
    pub customer_id: Option<u64>,
    /// Lines.
    pub line_items: Vec<LineItemRec>,
    /// Total in cents.
    pub total_price: i64,
    /// Currency.
    pub currency: String,
    /// `PAID`, `PENDING`, ...
    pub financial_status: String,
    /// Location stock was taken from.
    pub location_id: u64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Addresses, shipping, taxes, discount, gateway, note and the totals they make.
    pub checkout: Box<crate::checkout::Checkout>,
    /// Cancel reason (`CUSTOMER`, `INVENTORY`, ...).
    pub cancel_reason: Option<String>,
    /// The order's fulfilment order (one per order: all lines ship from its location).
    pub fulfillment_order_id: u64,
    /// Fulfilments.
    pub fulfillments: Vec<FulfillmentRec>,
    /// Refunds.
    pub refunds: Vec<RefundRec>,
}

/// Desired state of one variant in a `productSet` (or merchant) write.
#[derive(Clone, Debug, Default)]
pub struct VariantSpec {
    /// Existing variant to update; `None` creates one.
    pub id: Option<u64>,
    /// `(option name, value)` pairs; must name every product option.
    pub option_values: Vec<(String, String)>,
    /// `Some(None)` clears.
    pub sku: Option<Option<String>>,
    /// Price in cents.
    pub price: Option<i64>,
    /// Compare-at price; `Some(None)` clears.
    pub compare_at_price: Option<Option<i64>>,
    /// Barcode; `Some(None)` clears.
    pub barcode: Option<Option<String>>,
    /// Weight and unit (`KILOGRAMS`, ...).
    pub weight: Option<(f64, String)>,
}

/// Desired product state for `productSet`. `None` scalars are left unchanged; `variants` and
/// `options`, when given, are the full desired lists.
#[derive(Clone, Debug, Default)]
pub struct ProductSpec {
    /// Product to update; `None` creates one.
    pub id: Option<u64>,
    /// Title (required on create).
    pub title: Option<String>,
    /// Handle.
    pub handle: Option<String>,
    /// Description HTML.
    pub description_html: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Product type.
    pub product_type: Option<String>,
    /// Status.
    pub status: Option<Status>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Options `(name, values)`.
    pub options: Option<Vec<(String, Vec<String>)>>,
    /// Variants.
    pub variants: Option<Vec<VariantSpec>>,
    /// Taxonomy category id; `Some(None)` clears.
    pub category: Option<Option<String>>,
    /// SEO title; `Some(None)` clears.
    pub seo_title: Option<Option<String>>,
    /// SEO description; `Some(None)` clears.
    pub seo_description: Option<Option<String>>,
    /// Images `(url, alt)`, the full desired list (`files`).
    pub images: Option<Vec<(String, Option<String>)>>,
    /// Metafields `(namespace, key, type, value)` to create or update; others are kept.
    pub metafields: Option<Vec<(String, String, String, String)>>,
}

/// A partial variant update (`productVariantsBulkUpdate`, merchant edits).
#[derive(Clone, Debug, Default)]
pub struct VariantPatch {
    /// Variant.
    pub id: u64,
    /// SKU.
    pub sku: Option<Option<String>>,
    /// Price in cents.
    pub price: Option<i64>,
    /// Compare-at price.
    pub compare_at_price: Option<Option<i64>>,
    /// Barcode.
    pub barcode: Option<Option<String>>,
    /// Option values.
    pub option_values: Option<Vec<(String, String)>>,
    /// Weight and unit.
    pub weight: Option<(f64, String)>,
}

/// Customer fields for create/update (`None` = unchanged).
#[derive(Clone, Debug, Default)]
pub struct CustomerSpec {
    /// Customer to update; `None` creates.
    pub id: Option<u64>,
    /// Email; `Some(None)` clears.
    pub email: Option<Option<String>>,
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// Phone.
    pub phone: Option<Option<String>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Tax exemption.
    pub tax_exempt: Option<bool>,
    /// Email marketing consent state (`SUBSCRIBED`, `UNSUBSCRIBED`, `PENDING`,
    /// `NOT_SUBSCRIBED`); the API paths check which they may set before building the spec.
    pub email_marketing: Option<String>,
    /// Addresses, the full desired list (the first is the default).
    pub addresses: Option<Vec<crate::checkout::Address>>,
}

/// One order line to place.
#[derive(Clone, Debug)]
pub struct OrderLineSpec {
    /// Variant.
    pub variant_id: u64,
    /// Quantity (> 0).
    pub quantity: i64,
}

/// An order to place as a customer would at checkout.
#[derive(Clone, Debug, Default)]
pub struct OrderSpec {
    /// Existing customer.
    pub customer_id: Option<u64>,
    /// Email (defaults to the customer's).
    pub email: Option<String>,
    /// Lines.
    pub lines: Vec<OrderLineSpec>,
    /// Location to take stock from (default: the first location).
    pub location_id: Option<u64>,
    /// Addresses, shipping lines, tax rates, discount code, gateway, note.
    pub checkout: crate::checkout::CheckoutSpec,
}

/// Counters of entity creations per type, split by who created them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateCounts {
    /// Created through the Admin API (an app, e.g. weft).
    pub api: BTreeMap<String, u64>,
    /// Created through the merchant API.
    pub merchant: BTreeMap<String, u64>,
}

/// Who performs a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An app over the Admin API.
    Api,
    /// The merchant / a shopper (sim API).
    Merchant,
}

/// The wall clock of the simulated shop: a base time plus elapsed `tokio::time`, plus a
/// settable skew. Timestamps have second precision, as Shopify's do.
#[derive(Clone, Debug)]
pub struct SimClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
    skew: ChronoDuration,
}

impl SimClock {
    /// Starts now at `base`.
    pub fn new(base: DateTime<Utc>) -> Self {
        SimClock {
            base,
            start: tokio::time::Instant::now(),
            skew: ChronoDuration::zero(),
        }
    }

    /// Current shop time, truncated to whole seconds.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        let elapsed = ChronoDuration::from_std(elapsed).unwrap_or(ChronoDuration::zero());
        (self.base + elapsed + self.skew).trunc_subsecs(0)
    }

    /// Moves the wall clock by `by` (tests of skew; elapsed-time logic is unaffected).
    pub fn skew(&mut self, by: ChronoDuration) {
        self.skew += by;
    }
}

/// The whole shop.
#[derive(Debug)]
pub struct ShopState {
    /// Shop clock.
    pub clock: SimClock,
    /// The instant a mutation in progress stamps all its changes with ([`ShopState::at_one_instant`]).
    pinned_now: Option<DateTime<Utc>>,
    /// Shop currency.
    pub currency: String,
    /// UTC offset used in REST/webhook timestamps.
    pub utc_offset: FixedOffset,
    rng: ChaCha8Rng,
    next_id: u64,
    next_order_number: u64,
    /// Products.
    pub products: BTreeMap<u64, ProductRec>,
    /// Variants.
    pub variants: BTreeMap<u64, VariantRec>,
    /// Inventory items.
    pub inventory_items: BTreeMap<u64, InventoryItemRec>,
    /// Locations.
    pub locations: BTreeMap<u64, LocationRec>,
    /// Levels by `(item, location)`.
    pub levels: BTreeMap<(u64, u64), LevelRec>,
    /// Customers.
    pub customers: BTreeMap<u64, CustomerRec>,
    /// Orders.
    pub orders: BTreeMap<u64, OrderRec>,
    /// Open order edits (`orderEditBegin` until `orderEditCommit`), by calculated order id.
    pub order_edits: BTreeMap<u64, crate::lifecycle::OrderEditSession>,
    /// Price lists with their fixed prices ([`crate::price_lists`]).
    pub price_lists: BTreeMap<u64, crate::price_lists::PriceListRec>,
    /// Collections with their products ([`crate::collections`]).
    pub collections: BTreeMap<u64, crate::collections::CollectionRec>,
    /// Ids of the jobs handed out (`orderCancel`, `collectionRemoveProducts`, ...): every one
    /// is done.
    pub jobs: std::collections::BTreeSet<u64>,
    /// Creation counters.
    pub creates: CreateCounts,
    /// Events not yet handed to the webhook dispatcher.
    pub outbox: Vec<Event>,
    /// Results of mutations run with `@idempotent(key:)`: key -> (fingerprint, result).
    pub idempotency: HashMap<String, (String, async_graphql::Value)>,
    /// Handle -> product id, so handle uniqueness is O(1).
    handles: HashMap<String, u64>,
}

impl ShopState {
    /// An empty shop with the given locations.
    pub fn new(
        seed: u64,
        base_time: DateTime<Utc>,
        currency: &str,
        utc_offset_minutes: i32,
        locations: &[String],
    ) -> Self {
        let mut s = ShopState {
            clock: SimClock::new(base_time),
            pinned_now: None,
            currency: currency.to_string(),
            utc_offset: FixedOffset::east_opt(utc_offset_minutes * 60)
                .unwrap_or(FixedOffset::east_opt(0).expect("zero offset")),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5348_4f50),
            next_id: FIRST_ID,
            next_order_number: 1001,
            products: BTreeMap::new(),
            variants: BTreeMap::new(),
            inventory_items: BTreeMap::new(),
            locations: BTreeMap::new(),
            levels: BTreeMap::new(),
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            order_edits: BTreeMap::new(),
            price_lists: BTreeMap::new(),
            collections: BTreeMap::new(),
            jobs: std::collections::BTreeSet::new(),
            creates: CreateCounts::default(),
            outbox: Vec::new(),
            idempotency: HashMap::new(),
            handles: HashMap::new(),
        };
        for name in locations {
            let id = s.new_id();
            s.locations.insert(
                id,
                LocationRec {
                    id,
                    name: name.clone(),
                    is_active: true,
                },
            );
        }
        s
    }

    /// A fresh id: strictly increasing with small seeded gaps, all above 2^53.
    pub fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += self.rng.random_range(1..=64u64);
        id
    }

    /// A fresh job id, remembered so `job(id:)` finds it (every job is done at once).
    pub fn new_job(&mut self) -> u64 {
        let id = self.new_id();
        self.jobs.insert(id);
        id
    }

    fn count_create(&mut self, actor: Actor, kind: &str) {
        let map = match actor {
            Actor::Api => &mut self.creates.api,
            Actor::Merchant => &mut self.creates.merchant,
        };
        *map.entry(kind.to_string()).or_default() += 1;
    }

    /// Formats a REST timestamp in the shop's offset, e.g. `2026-01-15T07:00:00-05:00`.
    pub fn rest_time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.utc_offset)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    fn unique_handle(&self, wanted: &str, except: Option<u64>) -> String {
        let base = slugify(wanted);
        let base = if base.is_empty() {
            "product".to_string()
        } else {
            base
        };
        let taken = |h: &str| {
            self.handles
                .get(h)
                .is_some_and(|owner| Some(*owner) != except)
        };
        if !taken(&base) {
            return base;
        }
        (1..)
            .map(|n| format!("{base}-{n}"))
            .find(|h| !taken(h))
            .expect("an unused handle exists")
    }

    /// Create or update a product with its variants (`productSet` semantics).
    pub fn product_set(&mut self, spec: ProductSpec, actor: Actor) -> Result<u64, Vec<UserErr>> {
        let now = self.clock.now();
        let existing = match spec.id {
            Some(id) => match self.products.get(&id) {
                Some(p) => Some(p.clone()),
                None => {
                    return Err(vec![UserErr::new(
                        &["input", "id"],
                        "Product does not exist",
                        "PRODUCT_DOES_NOT_EXIST",
                    )]);
                }
            },
            None => None,
        };
        let mut errors = Vec::new();
        if existing.is_none() && spec.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
            errors.push(UserErr::new(
                &["input", "title"],
                "Title can't be blank",
                "BLANK",
            ));
        }
        if let Some(t) = &spec.title
            && t.chars().count() > 255
        {
            errors.push(UserErr::new(
                &["input", "title"],
                "Title is too long (maximum is 255 characters)",
                "INVALID",
            ));
        }
        // Options: given, or kept, or the default "Title" option.
        let options: Vec<(String, Vec<String>)> = match (&spec.options, &existing) {
            (Some(o), _) => o.clone(),
            (None, Some(p)) => p
                .options
                .iter()
                .map(|o| (o.name.clone(), o.values.clone()))
                .collect(),
            (None, None) => vec![("Title".to_string(), vec!["Default Title".to_string()])],
        };
        if options.len() > 3 {
            errors.push(UserErr::new(
                &["input", "productOptions"],
                "Can only specify a maximum of 3 options",
                "OPTIONS_OVER_LIMIT",
            ));
        }
        let variants = match (&spec.variants, &existing) {
            (Some(v), _) => v.clone(),
            (None, Some(_)) => Vec::new(),
            (None, None) => vec![VariantSpec {
                option_values: options
                    .iter()
                    .map(|(n, v)| (n.clone(), v.first().cloned().unwrap_or_default()))
                    .collect(),
                ..VariantSpec::default()
            }],
        };
        if spec.variants.is_some() || existing.is_none() {
            if variants.is_empty() {
                errors.push(UserErr::new(
                    &["input", "variants"],
                    "Product must have at least one variant",
                    "INVALID_VARIANT",
                ));
            }
            if variants.len() > 2048 {
                errors.push(UserErr::new(
                    &["input", "variants"],
                    "Exceeded the maximum number of variants allowed (2048)",
                    "VARIANTS_OVER_LIMIT",
                ));
            }
            let mut combos = Vec::new();
            for (i, v) in variants.iter().enumerate() {
                let idx = i.to_string();
                if let Some(vid) = v.id {
                    let owned = existing
                        .as_ref()
                        .is_some_and(|p| p.variant_ids.contains(&vid));
                    if !owned {
                        errors.push(UserErr::new(
                            &["input", "variants", &idx, "id"],
                            "Product variant does not exist",
                            "PRODUCT_VARIANT_DOES_NOT_EXIST",
                        ));
                    }
                }
                let mut combo = Vec::new();
                for (oname, ovals) in &options {
                    match v.option_values.iter().find(|(n, _)| n == oname) {
                        Some((_, val)) => {
                            if !ovals.contains(val) && spec.options.is_some() {
                                errors.push(UserErr::new(
                                    &["input", "variants", &idx, "optionValues"],
                                    format!(
                                        "Option value '{val}' does not exist for option '{oname}'"
                                    ),
                                    "OPTION_VALUE_DOES_NOT_EXIST",
                                ));
                            }
                            combo.push(val.clone());
                        }
                        None => errors.push(UserErr::new(
                            &["input", "variants", &idx, "optionValues"],
                            format!("Variant is missing a value for option '{oname}'"),
                            "PRODUCT_VARIANT_OPTION_VALUE_MISSING",
                        )),
                    }
                }
                if v.option_values.len() > options.len() {
                    errors.push(UserErr::new(
                        &["input", "variants", &idx, "optionValues"],
                        "Variant option values must match the product's options",
                        "INVALID_VARIANT",
                    ));
                }
                if combos.contains(&combo) {
                    errors.push(UserErr::new(
                        &["input", "variants", &idx],
                        format!("The variant '{}' already exists.", combo.join(" / ")),
                        "VARIANT_ALREADY_EXISTS",
                    ));
                }
                combos.push(combo);
                if let Some(Some(sku)) = &v.sku
                    && sku.chars().count() > 255
                {
                    errors.push(UserErr::new(
                        &["input", "variants", &idx, "sku"],
                        "SKU is too long (maximum is 255 characters)",
                        "INVALID_VARIANT",
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let created = existing.is_none();
        let id = match &existing {
            Some(p) => p.id,
            None => self.new_id(),
        };
        let mut product = existing.clone().unwrap_or_else(|| ProductRec {
            id,
            title: String::new(),
            handle: String::new(),
            description_html: String::new(),
            vendor: String::new(),
            product_type: String::new(),
            status: Status::Active,
            tags: Vec::new(),
            options: Vec::new(),
            category: None,
            seo_title: None,
            seo_description: None,
            images: Vec::new(),
            metafields: Vec::new(),
            variant_ids: Vec::new(),
            created_at: now,
            updated_at: now,
        });
        if let Some(t) = spec.title {
            product.title = t;
        }
        if let Some(h) = spec.handle {
            product.handle = self.unique_handle(&h, Some(id));
        } else if created {
            product.handle = self.unique_handle(&product.title, Some(id));
        }
        if let Some(d) = spec.description_html {
            product.description_html = d;
        }
        if let Some(v) = spec.vendor {
            product.vendor = v;
        }
        if let Some(t) = spec.product_type {
            product.product_type = t;
        }
        if let Some(s) = spec.status {
            product.status = s;
        }
        if let Some(t) = spec.tags {
            product.tags = normalize_tags(t);
        }
        if let Some(c) = spec.category {
            product.category = c;
        }
        if let Some(t) = spec.seo_title {
            product.seo_title = t.filter(|s| !s.is_empty());
        }
        if let Some(d) = spec.seo_description {
            product.seo_description = d.filter(|s| !s.is_empty());
        }
        if let Some(images) = spec.images {
            let mut kept = Vec::new();
            for (url, alt) in images {
                // A URL the product already shows keeps its media id.
                let id = product
                    .images
                    .iter()
                    .find(|i| i.url == url)
                    .map(|i| i.id)
                    .unwrap_or_else(|| self.new_id());
                kept.push(ImageRec {
                    id,
                    url,
                    alt: alt.filter(|a| !a.is_empty()),
                });
            }
            product.images = kept;
        }
        for (namespace, key, type_, value) in spec.metafields.unwrap_or_default() {
            match product
                .metafields
                .iter_mut()
                .find(|m| m.namespace == namespace && m.key == key)
            {
                Some(m) => {
                    m.type_ = type_;
                    m.value = value;
                }
                None => {
                    let id = self.new_id();
                    product.metafields.push(MetafieldRec {
                        id,
                        namespace,
                        key,
                        type_,
                        value,
                    });
                }
            }
        }
        if spec.options.is_some() || created {
            let mut new_opts = Vec::new();
            for (name, values) in options {
                let oid = product
                    .options
                    .iter()
                    .find(|o| o.name == name)
                    .map(|o| o.id)
                    .unwrap_or_else(|| self.new_id());
                new_opts.push(ProductOption {
                    id: oid,
                    name,
                    values,
                });
            }
            product.options = new_opts;
        }
        if spec.variants.is_some() || created {
            let keep: Vec<u64> = variants.iter().filter_map(|v| v.id).collect();
            for old in product.variant_ids.clone() {
                if !keep.contains(&old) {
                    self.delete_variant(old);
                }
            }
            let mut ids = Vec::new();
            for (i, v) in variants.into_iter().enumerate() {
                let vid = self.upsert_variant(id, v, i as i32 + 1, now, actor);
                ids.push(vid);
            }
            product.variant_ids = ids;
        }
        // Values used by variants but not declared (options kept from before) are added.
        for vid in &product.variant_ids {
            if let Some(v) = self.variants.get(vid) {
                for (n, val) in &v.selected_options {
                    if let Some(o) = product.options.iter_mut().find(|o| &o.name == n)
                        && !o.values.contains(val)
                    {
                        o.values.push(val.clone());
                    }
                }
            }
        }
        product.updated_at = now;
        if let Some(old) = existing.as_ref().map(|p| &p.handle)
            && *old != product.handle
        {
            self.handles.remove(old);
        }
        self.handles.insert(product.handle.clone(), id);
        self.products.insert(id, product);
        if created {
            self.count_create(actor, "product");
        }
        let topic = if created {
            Topic::ProductsCreate
        } else {
            Topic::ProductsUpdate
        };
        self.emit_product(id, topic);
        Ok(id)
    }

    fn delete_variant(&mut self, vid: u64) {
        if let Some(v) = self.variants.remove(&vid) {
            self.inventory_items.remove(&v.inventory_item_id);
            self.levels
                .retain(|(item, _), _| *item != v.inventory_item_id);
            // A deleted variant's fixed prices go from every price list.
            for list in self.price_lists.values_mut() {
                list.fixed.remove(&vid);
            }
        }
    }

    fn upsert_variant(
        &mut self,
        product_id: u64,
        v: VariantSpec,
        position: i32,
        now: DateTime<Utc>,
        actor: Actor,
    ) -> u64 {
        let title = variant_title(&v.option_values);
        match v.id.and_then(|id| self.variants.get(&id).cloned()) {
            Some(mut rec) => {
                rec.title = title;
                rec.selected_options = v.option_values;
                if let Some(s) = v.sku {
                    rec.sku = s;
                }
                if let Some(p) = v.price {
                    rec.price = p;
                }
                if let Some(c) = v.compare_at_price {
                    rec.compare_at_price = c;
                }
                if let Some(b) = v.barcode {
                    rec.barcode = b;
                }
                if let Some((w, u)) = v.weight {
                    rec.weight = w;
                    rec.weight_unit = u;
                }
                rec.position = position;
                rec.updated_at = now;
                let id = rec.id;
                self.variants.insert(id, rec);
                id
            }
            None => {
                let id = self.new_id();
                let item_id = self.new_id();
                self.variants.insert(
                    id,
                    VariantRec {
                        id,
                        product_id,
                        title,
                        sku: v.sku.flatten(),
                        price: v.price.unwrap_or(0),
                        compare_at_price: v.compare_at_price.flatten(),
                        barcode: v.barcode.flatten(),
                        selected_options: v.option_values,
                        position,
                        inventory_item_id: item_id,
                        weight: v.weight.as_ref().map_or(0.0, |w| w.0),
                        weight_unit: v.weight.map_or_else(|| "KILOGRAMS".to_owned(), |w| w.1),
                        created_at: now,
                        updated_at: now,
                    },
                );
                self.inventory_items.insert(
                    item_id,
                    InventoryItemRec {
                        id: item_id,
                        variant_id: id,
                        tracked: true,
                        created_at: now,
                        updated_at: now,
                    },
                );
                let locs: Vec<u64> = self.locations.keys().copied().collect();
                for loc in locs {
                    let lid = self.new_id();
                    self.levels.insert(
                        (item_id, loc),
                        LevelRec {
                            id: lid,
                            inventory_item_id: item_id,
                            location_id: loc,
                            updated_at: now,
                            ..LevelRec::default()
                        },
                    );
                }
                self.count_create(actor, "variant");
                id
            }
        }
    }

    /// `productVariantsBulkUpdate`: partial updates of variants of one product.
    pub fn variants_bulk_update(
        &mut self,
        product_id: u64,
        patches: Vec<VariantPatch>,
    ) -> Result<Vec<u64>, Vec<UserErr>> {
        let Some(product) = self.products.get(&product_id).cloned() else {
            return Err(vec![UserErr::new(
                &["productId"],
                "Product does not exist",
                "PRODUCT_DOES_NOT_EXIST",
            )]);
        };
        let mut errors = Vec::new();
        for (i, p) in patches.iter().enumerate() {
            let idx = i.to_string();
            if !product.variant_ids.contains(&p.id) {
                errors.push(UserErr::new(
                    &["variants", &idx, "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                ));
            }
            if let Some(ov) = &p.option_values {
                for (n, _) in ov {
                    if !product.options.iter().any(|o| &o.name == n) {
                        errors.push(UserErr::new(
                            &["variants", &idx, "optionValues"],
                            format!("Option '{n}' does not exist"),
                            "OPTION_DOES_NOT_EXIST",
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let now = self.clock.now();
        let mut ids = Vec::new();
        for p in patches {
            let Some(v) = self.variants.get_mut(&p.id) else {
                continue;
            };
            if let Some(s) = p.sku {
                v.sku = s;
            }
            if let Some(pr) = p.price {
                v.price = pr;
            }
            if let Some(c) = p.compare_at_price {
                v.compare_at_price = c;
            }
            if let Some(b) = p.barcode {
                v.barcode = b;
            }
            if let Some(ov) = p.option_values {
                for (n, val) in ov {
                    if let Some(slot) = v.selected_options.iter_mut().find(|(on, _)| *on == n) {
                        slot.1 = val;
                    }
                }
                v.title = variant_title(&v.selected_options);
            }
            if let Some((w, u)) = p.weight {
                v.weight = w;
                v.weight_unit = u;
            }
            v.updated_at = now;
            ids.push(p.id);
        }
        let used: Vec<(String, String)> = self
            .products
            .get(&product_id)
            .map(|prod| {
                prod.variant_ids
                    .iter()
                    .filter_map(|vid| self.variants.get(vid))
                    .flat_map(|v| v.selected_options.clone())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(prod) = self.products.get_mut(&product_id) {
            prod.updated_at = now;
            // A value a variant now uses joins its option (a renamed value is a new one).
            for (n, val) in used {
                if let Some(o) = prod.options.iter_mut().find(|o| o.name == n)
                    && !o.values.contains(&val)
                {
                    o.values.push(val);
                }
            }
        }
        self.emit_product(product_id, Topic::ProductsUpdate);
        Ok(ids)
    }

    /// Sets the available quantity; `compare` is the compare-and-set guard (`None` = no guard).
    /// Returns `(delta, quantity after)`.
    pub fn set_available(
        &mut self,
        item: u64,
        location: u64,
        quantity: i64,
        compare: Option<i64>,
    ) -> Result<(i64, i64), UserErr> {
        let level = self.level_mut(item, location)?;
        if let Some(c) = compare
            && c != level.available
        {
            return Err(UserErr::new(
                &["input", "quantities", "0", "changeFromQuantity"],
                "The specified compare quantity does not match the current quantity.",
                "CHANGE_FROM_QUANTITY_STALE",
            ));
        }
        let delta = quantity - level.available;
        self.apply_level(item, location, quantity);
        Ok((delta, quantity))
    }

    /// Adds `delta` to the available quantity; returns the quantity after.
    pub fn adjust_available(
        &mut self,
        item: u64,
        location: u64,
        delta: i64,
    ) -> Result<i64, UserErr> {
        let level = self.level_mut(item, location)?;
        let after = level.available + delta;
        self.apply_level(item, location, after);
        Ok(after)
    }

    /// Checks that a level exists (item stocked at location).
    pub fn level_mut(&mut self, item: u64, location: u64) -> Result<&mut LevelRec, UserErr> {
        if !self.inventory_items.contains_key(&item) {
            return Err(UserErr::new(
                &["input", "quantities", "0", "inventoryItemId"],
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            ));
        }
        if !self.locations.contains_key(&location) {
            return Err(UserErr::new(
                &["input", "quantities", "0", "locationId"],
                "The specified location could not be found.",
                "INVALID_LOCATION",
            ));
        }
        self.levels.get_mut(&(item, location)).ok_or_else(|| {
            UserErr::new(
                &["input", "quantities", "0", "locationId"],
                "The specified inventory item is not stocked at the location.",
                "ITEM_NOT_STOCKED_AT_LOCATION",
            )
        })
    }

    /// Runs `f` with every inventory change it makes stamped at one instant, which it returns:
    /// the changes of one inventory mutation are one adjustment group, and the group's
    /// `createdAt` is the levels' new `updatedAt`.
    pub fn at_one_instant<T>(&mut self, f: impl FnOnce(&mut ShopState) -> T) -> (T, DateTime<Utc>) {
        let now = self.clock.now();
        self.pinned_now = Some(now);
        let out = f(self);
        self.pinned_now = None;
        (out, now)
    }

    fn apply_level(&mut self, item: u64, location: u64, quantity: i64) {
        let now = self.pinned_now.unwrap_or_else(|| self.clock.now());
        let Some(level) = self.levels.get_mut(&(item, location)) else {
            return;
        };
        level.available = quantity;
        level.updated_at = now;
        let level_id = level.id;
        let body = json!({
            "inventory_item_id": item,
            "location_id": location,
            "available": quantity,
            "updated_at": self.rest_time(now),
            "admin_graphql_api_id": format!("{}?inventory_item_id={item}", gid("InventoryLevel", level_id)),
        });
        let entity = format!(
            "{}?inventory_item_id={item}",
            gid("InventoryLevel", level_id)
        );
        self.outbox.push(Event {
            topic: Topic::InventoryLevelsUpdate,
            body,
            triggered_at: now,
            entity_gid: entity,
        });
    }

    /// `customerCreate` / `customerUpdate`.
    pub fn customer_upsert(
        &mut self,
        spec: CustomerSpec,
        actor: Actor,
    ) -> Result<u64, Vec<UserErr>> {
        let now = self.clock.now();
        let mut errors = Vec::new();
        if let Some(Some(email)) = &spec.email {
            if !valid_email(email) {
                errors.push(UserErr {
                    field: Some(vec!["email".into()]),
                    message: "Email is invalid".into(),
                    code: None,
                });
            } else if self.customers.values().any(|c| {
                c.email.as_deref().map(str::to_lowercase) == Some(email.to_lowercase())
                    && Some(c.id) != spec.id
            }) {
                errors.push(UserErr {
                    field: Some(vec!["email".into()]),
                    message: "Email has already been taken".into(),
                    code: None,
                });
            }
        }
        if let Some(Some(phone)) = &spec.phone
            && !(phone.starts_with('+')
                && phone.len() >= 8
                && phone[1..].bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push(UserErr {
                field: Some(vec!["phone".into()]),
                message: "Phone is invalid".into(),
                code: None,
            });
        }
        let existing = match spec.id {
            Some(id) => match self.customers.get(&id) {
                Some(c) => Some(c.clone()),
                None => {
                    errors.push(UserErr {
                        field: Some(vec!["id".into()]),
                        message: "Customer does not exist".into(),
                        code: None,
                    });
                    None
                }
            },
            None => None,
        };
        if existing.is_none() && spec.id.is_none() {
            let has_identity = [&spec.email, &spec.phone, &spec.first_name, &spec.last_name]
                .iter()
                .any(|f| matches!(f, Some(Some(s)) if !s.is_empty()));
            if !has_identity {
                errors.push(UserErr {
                    field: None,
                    message: "A name, phone number, or email address must be present".into(),
                    code: None,
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let created = existing.is_none();
        let id = existing
            .as_ref()
            .map(|c| c.id)
            .unwrap_or_else(|| self.new_id());
        let mut c = existing.unwrap_or(CustomerRec {
            id,
            email: None,
            first_name: None,
            last_name: None,
            phone: None,
            tags: Vec::new(),
            tax_exempt: false,
            email_marketing: "NOT_SUBSCRIBED".into(),
            consent_updated_at: None,
            addresses: Vec::new(),
            default_address_id: None,
            created_at: now,
            updated_at: now,
        });
        if let Some(e) = spec.email {
            c.email = e;
        }
        if let Some(f) = spec.first_name {
            c.first_name = f;
        }
        if let Some(l) = spec.last_name {
            c.last_name = l;
        }
        if let Some(p) = spec.phone {
            c.phone = p;
        }
        if let Some(t) = spec.tags {
            c.tags = normalize_tags(t);
        }
        if let Some(t) = spec.tax_exempt {
            c.tax_exempt = t;
        }
        if let Some(m) = spec.email_marketing
            && m != c.email_marketing
        {
            c.email_marketing = m;
            c.consent_updated_at = Some(now);
        }
        if let Some(list) = spec.addresses {
            let mut kept: Vec<AddressRec> = Vec::new();
            for a in list {
                // An address equal to one the customer has keeps its id.
                let id = c
                    .addresses
                    .iter()
                    .find(|x| x.address == a && !kept.iter().any(|k| k.id == x.id))
                    .map(|x| x.id)
                    .unwrap_or_else(|| self.new_id());
                kept.push(AddressRec { id, address: a });
            }
            c.default_address_id = kept.first().map(|a| a.id);
            c.addresses = kept;
        }
        if c.email.is_none() && c.email_marketing != "NOT_SUBSCRIBED" {
            return Err(vec![UserErr {
                field: Some(vec!["emailMarketingConsent".into()]),
                message: "An email address is required to set the email marketing consent state."
                    .into(),
                code: None,
            }]);
        }
        c.updated_at = now;
        self.customers.insert(id, c);
        if created {
            self.count_create(actor, "customer");
        }
        let body = self.customer_rest(id);
        self.outbox.push(Event {
            topic: if created {
                Topic::CustomersCreate
            } else {
                Topic::CustomersUpdate
            },
            body,
            triggered_at: now,
            entity_gid: gid("Customer", id),
        });
        Ok(id)
    }

    /// Places an order: validates lines, decrements stock at the location (firing
    /// `inventory_levels/update`), fires `orders/create`.
    pub fn place_order(&mut self, spec: OrderSpec, actor: Actor) -> Result<u64, Vec<UserErr>> {
        let now = self.clock.now();
        let mut errors = Vec::new();
        if spec.lines.is_empty() {
            errors.push(UserErr::new(
                &["lineItems"],
                "Order must have at least one line item",
                "INVALID",
            ));
        }
        let location = spec
            .location_id
            .or_else(|| self.locations.keys().next().copied())
            .unwrap_or(0);
        if !self.locations.contains_key(&location) {
            errors.push(UserErr::new(
                &["locationId"],
                "Location does not exist",
                "INVALID",
            ));
        }
        let customer = match spec.customer_id {
            Some(cid) => match self.customers.get(&cid) {
                Some(c) => Some(c.clone()),
                None => {
                    errors.push(UserErr::new(
                        &["customerId"],
                        "Customer does not exist",
                        "INVALID",
                    ));
                    None
                }
            },
            None => None,
        };
        for (i, l) in spec.lines.iter().enumerate() {
            if !self.variants.contains_key(&l.variant_id) {
                errors.push(UserErr::new(
                    &["lineItems", &i.to_string(), "variantId"],
                    "Product variant does not exist",
                    "INVALID",
                ));
            }
            if l.quantity <= 0 {
                errors.push(UserErr::new(
                    &["lineItems", &i.to_string(), "quantity"],
                    "Quantity must be greater than 0",
                    "INVALID",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let priced: Vec<(i64, i64)> = spec
            .lines
            .iter()
            .map(|l| (self.variants[&l.variant_id].price, l.quantity))
            .collect();
        let mut ids = Vec::new();
        for _ in &spec.checkout.shipping_lines {
            ids.push(self.new_id());
        }
        let mut ids = ids.into_iter();
        let checkout =
            crate::checkout::price(&spec.checkout, &priced, || ids.next().unwrap_or_default())?;
        let financial_status = spec
            .checkout
            .financial_status
            .clone()
            .unwrap_or_else(|| "PAID".to_string());
        let id = self.new_id();
        let mut lines = Vec::new();
        for l in &spec.lines {
            let v = self.variants[&l.variant_id].clone();
            let product_title = self
                .products
                .get(&v.product_id)
                .map(|p| p.title.clone())
                .unwrap_or_default();
            let lid = self.new_id();
            lines.push(LineItemRec {
                id: lid,
                variant_id: Some(v.id),
                product_id: Some(v.product_id),
                sku: v.sku.clone(),
                title: product_title,
                quantity: l.quantity,
                price: v.price,
                fulfilled: 0,
                removed: 0,
                returned: 0,
            });
        }
        let number = self.next_order_number;
        let fulfillment_order_id = self.new_id();
        self.next_order_number += 1;
        let email = spec
            .email
            .or_else(|| customer.as_ref().and_then(|c| c.email.clone()));
        self.orders.insert(
            id,
            OrderRec {
                id,
                name: format!("#{number}"),
                order_number: number,
                email,
                customer_id: customer.as_ref().map(|c| c.id),
                line_items: lines.clone(),
                total_price: checkout.total,
                currency: self.currency.clone(),
                financial_status,
                location_id: location,
                created_at: now,
                updated_at: now,
                cancelled_at: None,
                checkout: Box::new(checkout),
                cancel_reason: None,
                fulfillment_order_id,
                fulfillments: Vec::new(),
                refunds: Vec::new(),
            },
        );
        self.count_create(actor, "order");
        let body = self.order_rest(id);
        self.outbox.push(Event {
            topic: Topic::OrdersCreate,
            body,
            triggered_at: now,
            entity_gid: gid("Order", id),
        });
        // An order moves its quantities from available to committed.
        for l in lines {
            if let Some(vid) = l.variant_id {
                let item = self.variants[&vid].inventory_item_id;
                self.shift_level(item, location, -l.quantity, l.quantity);
            }
        }
        Ok(id)
    }

    /// Moves `available` by `d_available` and `committed` by `d_committed` at one level (firing
    /// `inventory_levels/update` when `available` moves).
    pub(crate) fn shift_level(
        &mut self,
        item: u64,
        location: u64,
        d_available: i64,
        d_committed: i64,
    ) {
        let now = self.pinned_now.unwrap_or_else(|| self.clock.now());
        let Some(level) = self.levels.get_mut(&(item, location)) else {
            return;
        };
        level.committed += d_committed;
        level.updated_at = now;
        let after = level.available + d_available;
        if d_available != 0 {
            self.apply_level(item, location, after);
        }
    }

    /// Cancels an order, restocking its lines (the merchant's cancel with restock).
    pub fn cancel_order(&mut self, id: u64) -> Result<(), UserErr> {
        self.cancel_order_with(id, true, "CUSTOMER")
    }

    /// Deletes a product with its variants, inventory items and levels, and fires
    /// `products/delete`, whose body is only `{"id": N}` (Shopify sends nothing else of a
    /// deleted product).
    pub fn delete_product(&mut self, id: u64) -> Result<(), UserErr> {
        let Some(p) = self.products.remove(&id) else {
            return Err(UserErr::new(&["id"], "Product does not exist", "NOT_FOUND"));
        };
        for vid in &p.variant_ids {
            self.delete_variant(*vid);
        }
        if self.handles.get(&p.handle) == Some(&id) {
            self.handles.remove(&p.handle);
        }
        self.drop_from_collections(id);
        self.outbox.push(Event {
            topic: Topic::ProductsDelete,
            body: json!({ "id": id }),
            triggered_at: self.clock.now(),
            entity_gid: gid("Product", id),
        });
        Ok(())
    }

    /// Deletes one variant of a product that has others (the admin): see
    /// [`ShopState::remove_variants`].
    pub fn remove_variant(&mut self, variant_id: u64) -> Result<(), UserErr> {
        let Some(pid) = self.variants.get(&variant_id).map(|v| v.product_id) else {
            return Err(UserErr::new(
                &["variantsIds"],
                "Variant does not exist",
                "INVALID",
            ));
        };
        self.remove_variants(pid, &[variant_id])
    }

    /// Deletes variants of one product (`productVariantsBulkDelete`, the admin): their
    /// inventory items and levels go with them, the product is updated and fires one
    /// `products/update`. All or nothing: a variant of another product, or deleting every
    /// variant (delete the product instead), is refused.
    pub fn remove_variants(&mut self, product_id: u64, variant_ids: &[u64]) -> Result<(), UserErr> {
        let now = self.clock.now();
        let Some(p) = self.products.get_mut(&product_id) else {
            return Err(UserErr::new(
                &["productId"],
                "Product does not exist",
                "PRODUCT_DOES_NOT_EXIST",
            ));
        };
        if variant_ids.iter().any(|v| !p.variant_ids.contains(v)) {
            return Err(UserErr::new(
                &["variantsIds"],
                "At least one variant does not belong to the product",
                "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT",
            ));
        }
        if p.variant_ids.iter().all(|v| variant_ids.contains(v)) {
            return Err(UserErr::new(
                &["variantsIds"],
                "Cannot delete the last variant of a product",
                "CANNOT_DELETE_LAST_VARIANT",
            ));
        }
        p.variant_ids.retain(|v| !variant_ids.contains(v));
        p.updated_at = now;
        for vid in variant_ids {
            self.delete_variant(*vid);
        }
        self.emit_product(product_id, Topic::ProductsUpdate);
        Ok(())
    }

    /// Deletes a customer and fires `customers/delete` (`{"id": N}` only). Shopify refuses to
    /// delete a customer with orders.
    pub fn delete_customer(&mut self, id: u64) -> Result<(), UserErr> {
        if !self.customers.contains_key(&id) {
            return Err(UserErr::new(
                &["id"],
                "Customer does not exist",
                "NOT_FOUND",
            ));
        }
        if self.orders.values().any(|o| o.customer_id == Some(id)) {
            return Err(UserErr::new(
                &["id"],
                "Customer can't be deleted because they have associated orders",
                "INVALID",
            ));
        }
        self.customers.remove(&id);
        self.outbox.push(Event {
            topic: Topic::CustomersDelete,
            body: json!({ "id": id }),
            triggered_at: self.clock.now(),
            entity_gid: gid("Customer", id),
        });
        Ok(())
    }

    /// Fires `products/update` for a product changed outside `productSet` (its metafields).
    pub fn product_touched(&mut self, id: u64) {
        self.emit_product(id, Topic::ProductsUpdate);
    }

    fn emit_product(&mut self, id: u64, topic: Topic) {
        let Some(p) = self.products.get(&id) else {
            return;
        };
        let at = p.updated_at;
        let body = self.product_rest(id);
        self.outbox.push(Event {
            topic,
            body,
            triggered_at: at,
            entity_gid: gid("Product", id),
        });
    }

    /// REST/webhook shape of a product: the first 100 variants in full (Shopify's REST and
    /// product webhooks carry no more), every variant's id in `variant_gids`.
    pub fn product_rest(&self, id: u64) -> Value {
        let Some(p) = self.products.get(&id) else {
            return Value::Null;
        };
        let variants: Vec<Value> = p
            .variant_ids
            .iter()
            .filter_map(|vid| self.variants.get(vid))
            .take(REST_VARIANTS)
            .map(|v| self.variant_rest(v, p))
            .collect();
        let variant_gids: Vec<Value> = p
            .variant_ids
            .iter()
            .filter_map(|vid| self.variants.get(vid))
            .map(|v| {
                json!({"admin_graphql_api_id": gid("ProductVariant", v.id),
                       "updated_at": v.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
            })
            .collect();
        let options: Vec<Value> = p
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                json!({"name": o.name, "id": o.id, "product_id": p.id, "position": i + 1, "values": o.values})
            })
            .collect();
        let images: Vec<Value> = p
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| {
                json!({"id": im.id, "product_id": p.id, "position": i + 1, "src": im.url,
                       "alt": im.alt, "admin_graphql_api_id": gid("ProductImage", im.id),
                       "variant_ids": []})
            })
            .collect();
        json!({
            "admin_graphql_api_id": gid("Product", p.id),
            "body_html": p.description_html,
            "created_at": self.rest_time(p.created_at),
            "handle": p.handle,
            "id": p.id,
            "product_type": p.product_type,
            "published_at": if p.status == Status::Active { Value::String(self.rest_time(p.created_at)) } else { Value::Null },
            "template_suffix": null,
            "title": p.title,
            "updated_at": self.rest_time(p.updated_at),
            "vendor": p.vendor,
            "status": p.status.rest(),
            "published_scope": "global",
            "tags": p.tags.join(", "),
            "variants": variants,
            "options": options,
            "images": images,
            "image": images.first().cloned().unwrap_or(Value::Null),
            "media": [],
            "variant_gids": variant_gids,
            "has_variants_that_requires_components": false,
            "category": null,
        })
    }

    fn variant_rest(&self, v: &VariantRec, _p: &ProductRec) -> Value {
        let qty: i64 = self
            .levels
            .range((v.inventory_item_id, 0)..=(v.inventory_item_id, u64::MAX))
            .map(|(_, l)| l.available)
            .sum();
        let opt = |i: usize| {
            v.selected_options
                .get(i)
                .map(|(_, val)| Value::String(val.clone()))
                .unwrap_or(Value::Null)
        };
        json!({
            "admin_graphql_api_id": gid("ProductVariant", v.id),
            "barcode": v.barcode,
            "compare_at_price": v.compare_at_price.map(format_money),
            "created_at": self.rest_time(v.created_at),
            "id": v.id,
            "inventory_policy": "deny",
            "position": v.position,
            "price": format_money(v.price),
            "product_id": v.product_id,
            "sku": v.sku.clone().unwrap_or_default(),
            "taxable": true,
            "title": v.title,
            "updated_at": self.rest_time(v.updated_at),
            "option1": opt(0),
            "option2": opt(1),
            "option3": opt(2),
            "image_id": null,
            "inventory_item_id": v.inventory_item_id,
            "weight": v.weight,
            "weight_unit": weight_unit_rest(&v.weight_unit),
            "grams": grams(v.weight, &v.weight_unit),
            "inventory_quantity": qty,
            "old_inventory_quantity": qty,
        })
    }

    /// REST/webhook shape of a customer.
    pub fn customer_rest(&self, id: u64) -> Value {
        let Some(c) = self.customers.get(&id) else {
            return Value::Null;
        };
        let addresses: Vec<Value> = c
            .addresses
            .iter()
            .map(|a| {
                let x = &a.address;
                json!({"id": a.id, "customer_id": c.id, "first_name": x.first_name,
                       "last_name": x.last_name, "company": x.company, "address1": x.address1,
                       "address2": x.address2, "city": x.city, "province_code": x.province_code,
                       "country_code": x.country_code, "zip": x.zip, "phone": x.phone,
                       "default": Some(a.id) == c.default_address_id})
            })
            .collect();
        json!({
            "id": c.id,
            "email": c.email,
            "created_at": self.rest_time(c.created_at),
            "updated_at": self.rest_time(c.updated_at),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "state": "disabled",
            "note": null,
            "verified_email": true,
            "multipass_identifier": null,
            "tax_exempt": c.tax_exempt,
            "phone": c.phone,
            "tags": c.tags.join(", "),
            "currency": self.currency,
            "addresses": addresses,
            "tax_exemptions": [],
            "email_marketing_consent": {
                "state": c.email_marketing.to_ascii_lowercase(),
                "opt_in_level": (c.email_marketing != "NOT_SUBSCRIBED").then_some("single_opt_in"),
                "consent_updated_at": c.consent_updated_at.map(|t| self.rest_time(t)),
            },
            "admin_graphql_api_id": gid("Customer", c.id),
            "default_address": addresses.iter().find(|a| a["default"] == true).cloned().unwrap_or(Value::Null),
        })
    }

    /// REST/webhook shape of an order.
    pub fn order_rest(&self, id: u64) -> Value {
        let Some(o) = self.orders.get(&id) else {
            return Value::Null;
        };
        let customer = o
            .customer_id
            .and_then(|cid| self.customers.get(&cid))
            .map(|c| {
                json!({
                    "id": c.id,
                    "email": c.email,
                    "first_name": c.first_name,
                    "last_name": c.last_name,
                    "phone": c.phone,
                    "admin_graphql_api_id": gid("Customer", c.id),
                })
            })
            .unwrap_or(Value::Null);
        let lines: Vec<Value> = o
            .line_items
            .iter()
            .map(|l| {
                json!({
                    "id": l.id,
                    "admin_graphql_api_id": gid("LineItem", l.id),
                    "variant_id": l.variant_id,
                    "product_id": l.product_id,
                    "sku": l.sku,
                    "title": l.title,
                    "name": l.title,
                    "quantity": l.quantity,
                    "current_quantity": l.current(),
                    "price": format_money(l.price),
                    "fulfillable_quantity": l.fulfillable(),
                    "fulfillment_status": if l.fulfilled == 0 {
                        Value::Null
                    } else if l.fulfillable() == 0 {
                        json!("fulfilled")
                    } else {
                        json!("partial")
                    },
                    "tax_lines": [],
                    "discount_allocations": [],
                })
            })
            .collect();
        let mut body = json!({
            "id": o.id,
            "admin_graphql_api_id": gid("Order", o.id),
            "name": o.name,
            "order_number": o.order_number,
            "number": o.order_number - 1000,
            "email": o.email,
            "contact_email": o.email,
            "created_at": self.rest_time(o.created_at),
            "updated_at": self.rest_time(o.updated_at),
            "processed_at": self.rest_time(o.created_at),
            "cancelled_at": o.cancelled_at.map(|t| self.rest_time(t)),
            "cancel_reason": o.cancel_reason.as_ref().map(|r| r.to_lowercase()),
            "currency": o.currency,
            "presentment_currency": o.currency,
            "total_price": format_money(o.total_price),
            "subtotal_price": format_money(o.total_price),
            "total_tax": "0.00",
            "financial_status": o.financial_status.to_lowercase(),
            "fulfillment_status": if o.line_items.iter().all(|l| l.fulfilled == 0) {
                Value::Null
            } else if o.line_items.iter().all(|l| l.fulfillable() == 0) {
                json!("fulfilled")
            } else {
                json!("partial")
            },
            "test": false,
            "customer": customer,
            "line_items": lines,
            "shipping_lines": [],
            "billing_address": null,
            "shipping_address": null,
            "fulfillments": o.fulfillments.iter().map(|f| self.fulfillment_rest(o.id, f.id)).collect::<Vec<_>>(),
            "refunds": o.refunds.iter().map(|r| self.refund_rest(o.id, r.id)).collect::<Vec<_>>(),
            "total_tip_received": "0.00",
        });
        crate::checkout::render_rest(&o.checkout, &o.currency, &mut body);
        body
    }

    /// Full JSON dump with ids as strings (for inspection and test assertions).
    pub fn dump(&self) -> Value {
        let s = |id: u64| id.to_string();
        json!({
            "now": self.clock.now().to_rfc3339(),
            "locations": self.locations.values().map(|l| json!({"id": s(l.id), "name": l.name})).collect::<Vec<_>>(),
            "products": self.products.values().map(|p| json!({
                "id": s(p.id), "title": p.title, "handle": p.handle, "body_html": p.description_html,
                "vendor": p.vendor, "product_type": p.product_type, "status": p.status.rest(),
                "tags": p.tags, "updated_at": p.updated_at.to_rfc3339(),
                "variants": p.variant_ids.iter().filter_map(|v| self.variants.get(v)).map(|v| json!({
                    "id": s(v.id), "title": v.title, "sku": v.sku, "price": format_money(v.price),
                    "compare_at_price": v.compare_at_price.map(format_money), "barcode": v.barcode,
                    "inventory_item_id": s(v.inventory_item_id), "updated_at": v.updated_at.to_rfc3339(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "inventory_levels": self.levels.values().map(|l| json!({
                "inventory_item_id": s(l.inventory_item_id), "location_id": s(l.location_id),
                "available": l.available, "updated_at": l.updated_at.to_rfc3339(),
                "sku": self.inventory_items.get(&l.inventory_item_id)
                    .and_then(|i| self.variants.get(&i.variant_id)).and_then(|v| v.sku.clone()),
            })).collect::<Vec<_>>(),
            "customers": self.customers.values().map(|c| json!({
                "id": s(c.id), "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
                "phone": c.phone, "tags": c.tags, "tax_exempt": c.tax_exempt,
                "email_marketing": c.email_marketing, "updated_at": c.updated_at.to_rfc3339(),
            })).collect::<Vec<_>>(),
            "orders": self.orders.values().map(|o| json!({
                "id": s(o.id), "name": o.name, "email": o.email, "customer_id": o.customer_id.map(s),
                "total_price": format_money(o.total_price), "currency": o.currency,
                "financial_status": o.financial_status, "cancelled_at": o.cancelled_at.map(|t| t.to_rfc3339()),
                "updated_at": o.updated_at.to_rfc3339(),
                "line_items": o.line_items.iter().map(|l| json!({
                    "id": s(l.id), "sku": l.sku, "quantity": l.quantity, "price": format_money(l.price),
                    "variant_id": l.variant_id.map(s), "product_id": l.product_id.map(s),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "price_lists": self.price_lists.values().map(|l| json!({
                "id": s(l.id), "name": l.name, "currency": l.currency,
                "rate": crate::checkout::rate_f64(l.rate_ppm),
                "fixed_prices": l.fixed.iter().map(|(v, p)| json!({
                    "variant_id": s(*v), "price": format_money(p.price),
                    "compare_at_price": p.compare_at.map(format_money),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "collections": self.collections.values().map(|c| json!({
                "id": s(c.id), "handle": c.handle, "title": c.title, "type": c.kind(),
                "updated_at": c.updated_at.to_rfc3339(),
                "product_ids": self.collection_members(c).into_iter().map(s).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "creates": self.creates,
        })
    }
}

/// Joins option values as Shopify titles variants.
pub fn variant_title(options: &[(String, String)]) -> String {
    options
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The REST `weight_unit` of a `WeightUnit`.
pub fn weight_unit_rest(unit: &str) -> &'static str {
    WEIGHT_UNITS
        .iter()
        .find(|(g, _)| *g == unit)
        .map_or("kg", |(_, r)| r)
}

/// REST `grams` of a weight.
fn grams(value: f64, unit: &str) -> i64 {
    let factor = match unit {
        "GRAMS" => 1.0,
        "OUNCES" => 28.349_523_125,
        "POUNDS" => 453.592_37,
        _ => 1000.0,
    };
    (value * factor).round() as i64
}

fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().flat_map(|t| t.split(',')) {
        let t = t.trim().to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort();
    out
}

fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !e.contains(' ')
        }
        None => false,
    }
}

/// Shopify-style handle: lowercase ASCII alphanumerics joined by single dashes.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A product with its variants' SKUs, as the search sees it.
pub struct ProductProbe<'a>(pub &'a ProductRec, pub Vec<String>);

impl Searchable for ProductProbe<'_> {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        let p = &self.0;
        Some(match field {
            "id" => FieldValue::Num(p.id as i128),
            "updated_at" => FieldValue::Time(p.updated_at),
            "created_at" => FieldValue::Time(p.created_at),
            "title" => FieldValue::Text(p.title.clone()),
            "handle" => FieldValue::Text(p.handle.clone()),
            "vendor" => FieldValue::Text(p.vendor.clone()),
            "product_type" => FieldValue::Text(p.product_type.clone()),
            "status" => FieldValue::Text(p.status.rest().to_string()),
            "tag" => FieldValue::Texts(p.tags.clone()),
            "sku" => FieldValue::Texts(self.1.clone()),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        let mut v = vec![self.0.title.clone(), self.0.vendor.clone()];
        v.extend(self.1.iter().cloned());
        v
    }
}

impl Searchable for VariantRec {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Num(self.id as i128),
            "product_id" => FieldValue::Num(self.product_id as i128),
            "updated_at" => FieldValue::Time(self.updated_at),
            "created_at" => FieldValue::Time(self.created_at),
            "sku" => FieldValue::Text(self.sku.clone().unwrap_or_default()),
            "barcode" => FieldValue::Text(self.barcode.clone().unwrap_or_default()),
            "title" => FieldValue::Text(self.title.clone()),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        vec![self.title.clone(), self.sku.clone().unwrap_or_default()]
    }
}

impl Searchable for (InventoryItemRec, Option<String>) {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Num(self.0.id as i128),
            "updated_at" => FieldValue::Time(self.0.updated_at),
            "created_at" => FieldValue::Time(self.0.created_at),
            "sku" => FieldValue::Text(self.1.clone().unwrap_or_default()),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        vec![self.1.clone().unwrap_or_default()]
    }
}

impl Searchable for LocationRec {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Num(self.id as i128),
            "name" => FieldValue::Text(self.name.clone()),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        vec![self.name.clone()]
    }
}

impl Searchable for CustomerRec {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Num(self.id as i128),
            "updated_at" => FieldValue::Time(self.updated_at),
            "created_at" => FieldValue::Time(self.created_at),
            "email" => FieldValue::Text(self.email.clone().unwrap_or_default()),
            "phone" => FieldValue::Text(self.phone.clone().unwrap_or_default()),
            "first_name" => FieldValue::Text(self.first_name.clone().unwrap_or_default()),
            "last_name" => FieldValue::Text(self.last_name.clone().unwrap_or_default()),
            "tag" => FieldValue::Texts(self.tags.clone()),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        vec![
            self.email.clone().unwrap_or_default(),
            self.first_name.clone().unwrap_or_default(),
            self.last_name.clone().unwrap_or_default(),
        ]
    }
}

impl Searchable for OrderRec {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Num(self.id as i128),
            "updated_at" => FieldValue::Time(self.updated_at),
            "created_at" => FieldValue::Time(self.created_at),
            "name" => FieldValue::Text(self.name.clone()),
            "email" => FieldValue::Text(self.email.clone().unwrap_or_default()),
            "customer_id" => FieldValue::Num(self.customer_id.unwrap_or(0) as i128),
            "financial_status" => FieldValue::Text(self.financial_status.to_lowercase()),
            "sku" => FieldValue::Texts(
                self.line_items
                    .iter()
                    .filter_map(|l| l.sku.clone())
                    .collect(),
            ),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        vec![self.name.clone(), self.email.clone().unwrap_or_default()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> ShopState {
        ShopState::new(7, Utc::now(), "USD", -300, &["A".into(), "B".into()])
    }

    #[tokio::test]
    async fn product_set_deletes_missing_variants_and_fires_events() {
        let mut s = shop();
        let opts = Some(vec![(
            "Size".to_string(),
            vec!["S".to_string(), "M".to_string()],
        )]);
        let v = |size: &str, sku: &str| VariantSpec {
            option_values: vec![("Size".into(), size.into())],
            sku: Some(Some(sku.into())),
            price: Some(1000),
            ..VariantSpec::default()
        };
        let id = s
            .product_set(
                ProductSpec {
                    title: Some("Tee Shirt".into()),
                    options: opts.clone(),
                    variants: Some(vec![v("S", "T-S"), v("M", "T-M")]),
                    ..ProductSpec::default()
                },
                Actor::Api,
            )
            .unwrap();
        assert_eq!(s.products[&id].handle, "tee-shirt");
        assert_eq!(s.products[&id].variant_ids.len(), 2);
        assert_eq!(s.levels.len(), 4);
        let keep = s.products[&id].variant_ids[0];
        let mut only = v("S", "T-S2");
        only.id = Some(keep);
        s.product_set(
            ProductSpec {
                id: Some(id),
                options: opts,
                variants: Some(vec![only]),
                ..ProductSpec::default()
            },
            Actor::Api,
        )
        .unwrap();
        assert_eq!(s.products[&id].variant_ids, vec![keep]);
        assert_eq!(s.variants.len(), 1);
        assert_eq!(s.levels.len(), 2);
        assert_eq!(s.variants[&keep].sku.as_deref(), Some("T-S2"));
        let topics: Vec<Topic> = s.outbox.iter().map(|e| e.topic).collect();
        assert_eq!(topics, vec![Topic::ProductsCreate, Topic::ProductsUpdate]);
        assert_eq!(s.creates.api["product"], 1);
    }

    #[tokio::test]
    async fn duplicate_variant_options_are_rejected() {
        let mut s = shop();
        let v = VariantSpec {
            option_values: vec![("Title".into(), "Default Title".into())],
            ..VariantSpec::default()
        };
        let err = s
            .product_set(
                ProductSpec {
                    title: Some("X".into()),
                    variants: Some(vec![v.clone(), v]),
                    ..ProductSpec::default()
                },
                Actor::Api,
            )
            .unwrap_err();
        assert_eq!(err[0].code.as_deref(), Some("VARIANT_ALREADY_EXISTS"));
    }

    #[tokio::test]
    async fn orders_decrement_stock() {
        let mut s = shop();
        let pid = s
            .product_set(
                ProductSpec {
                    title: Some("Mug".into()),
                    ..ProductSpec::default()
                },
                Actor::Merchant,
            )
            .unwrap();
        let vid = s.products[&pid].variant_ids[0];
        let item = s.variants[&vid].inventory_item_id;
        let loc = *s.locations.keys().next().unwrap();
        s.set_available(item, loc, 10, Some(0)).unwrap();
        assert_eq!(
            s.set_available(item, loc, 5, Some(3))
                .unwrap_err()
                .code
                .as_deref(),
            Some("CHANGE_FROM_QUANTITY_STALE")
        );
        let oid = s
            .place_order(
                OrderSpec {
                    lines: vec![OrderLineSpec {
                        variant_id: vid,
                        quantity: 3,
                    }],
                    ..OrderSpec::default()
                },
                Actor::Merchant,
            )
            .unwrap();
        assert_eq!(s.levels[&(item, loc)].available, 7);
        assert_eq!(s.orders[&oid].name, "#1001");
        let body = s.order_rest(oid);
        assert_eq!(body["line_items"][0]["quantity"], 3);
        assert!(body["id"].as_u64().unwrap() > (1u64 << 53));
    }

    /// Named quantities through an order's life: the order commits, a partial fulfilment ships
    /// part of it with tracking, a refund with `CANCEL` releases the rest, a `RETURN` puts a
    /// shipped unit back; the webhooks fire.
    #[tokio::test]
    async fn orders_commit_ship_cancel_and_return_by_named_quantity() {
        use crate::lifecycle::{RefundLineSpec, Tracking};
        let mut s = shop();
        let pid = s
            .product_set(
                ProductSpec {
                    title: Some("Mug".into()),
                    ..ProductSpec::default()
                },
                Actor::Merchant,
            )
            .unwrap();
        let vid = s.products[&pid].variant_ids[0];
        let item = s.variants[&vid].inventory_item_id;
        let loc = *s.locations.keys().next().unwrap();
        s.set_available(item, loc, 10, Some(0)).unwrap();
        let q = |s: &ShopState, n: &str| s.levels[&(item, loc)].quantity(n).unwrap();
        let order = |s: &mut ShopState, n: i64| {
            s.place_order(
                OrderSpec {
                    lines: vec![OrderLineSpec {
                        variant_id: vid,
                        quantity: n,
                    }],
                    ..OrderSpec::default()
                },
                Actor::Merchant,
            )
            .unwrap()
        };
        let oid = order(&mut s, 4);
        assert_eq!(
            (q(&s, "available"), q(&s, "committed"), q(&s, "on_hand")),
            (6, 4, 10)
        );
        let fo = s.orders[&oid].fulfillment_order_id;
        let line = s.orders[&oid].line_items[0].id;
        assert!(
            s.fulfill(fo, Some(vec![(line, 5)]), Tracking::default())
                .is_err()
        );
        s.outbox.clear();
        let fid = s
            .fulfill(
                fo,
                Some(vec![(line, 3)]),
                Tracking {
                    number: Some("1Z999".into()),
                    url: Some("https://ups.example/1Z999".into()),
                    company: Some("UPS".into()),
                },
            )
            .unwrap();
        assert_eq!(
            (q(&s, "available"), q(&s, "committed"), q(&s, "on_hand")),
            (6, 1, 7)
        );
        let topics: Vec<Topic> = s.outbox.iter().map(|e| e.topic).collect();
        assert_eq!(
            topics,
            vec![
                Topic::FulfillmentsCreate,
                Topic::OrdersUpdated,
                Topic::OrdersPartiallyFulfilled
            ]
        );
        assert_eq!(s.outbox[0].body["tracking_number"], "1Z999");
        assert_eq!(s.outbox[0].body["id"], fid);
        let body = s.order_rest(oid);
        assert_eq!(body["fulfillment_status"], "partial");
        assert_eq!(body["line_items"][0]["fulfillable_quantity"], 1);
        // A fulfilled order cannot be cancelled; the rest is refunded with CANCEL instead.
        assert!(s.cancel_order_with(oid, true, "CUSTOMER").is_err());
        let refund = |restock: &str, n: i64| RefundLineSpec {
            line_item_id: line,
            quantity: n,
            restock_type: restock.into(),
            location_id: None,
        };
        assert!(s.refund(oid, vec![refund("CANCEL", 2)], None).is_err());
        s.refund(
            oid,
            vec![refund("CANCEL", 1), refund("RETURN", 1)],
            Some("damaged box".into()),
        )
        .unwrap();
        assert_eq!(
            (q(&s, "available"), q(&s, "committed"), q(&s, "on_hand")),
            (8, 0, 8)
        );
        let body = s.order_rest(oid);
        assert_eq!(body["line_items"][0]["current_quantity"], 2);
        assert_eq!(
            body["refunds"][0]["refund_line_items"][1]["restock_type"],
            "return"
        );
        assert_eq!(body["financial_status"], "partially_refunded");
        // Cancelling an unfulfilled order without restock takes it out of on hand.
        let other = order(&mut s, 2);
        assert_eq!((q(&s, "available"), q(&s, "committed")), (6, 2));
        s.outbox.clear();
        s.cancel_order_with(other, false, "INVENTORY").unwrap();
        assert_eq!(
            (q(&s, "available"), q(&s, "committed"), q(&s, "on_hand")),
            (6, 0, 6)
        );
        assert_eq!(s.outbox[0].topic, Topic::OrdersCancelled);
        assert_eq!(s.outbox[0].body["cancel_reason"], "inventory");
    }
}
