//! Admin GraphQL schema (async-graphql derive) with Shopify's type and field names for the
//! subset weft syncs: products, variants, inventory items/levels, locations, customers, orders,
//! webhook subscriptions, and the mutations `productSet`, `productVariantsBulkUpdate`,
//! `inventorySetQuantities`, `inventoryAdjustQuantities`, `customerCreate`, `customerUpdate`,
//! `webhookSubscriptionCreate`, `webhookSubscriptionDelete`, `fulfillmentCreate`, `orderCancel`,
//! `refundCreate` (see [`fulfil`]), price lists with their fixed prices (`priceList`,
//! `priceLists`, `priceListFixedPricesAdd` / `Delete` / `Update`; see [`price_lists`]), plus
//! the `@idempotent(key:)` directive.

use std::sync::Arc;

use async_graphql::{
    Context, CustomDirective, Directive, Enum, ErrorExtensions, ID, InputObject, InputValueError,
    InputValueResult, Interface, MaybeUndefined, Object, ResolveFut, Scalar, ScalarType,
    ServerError, ServerResult, SimpleObject, Value,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::ids::{format_money, gid, parse_gid, parse_money, split_gid};
use crate::search::{self, SearchQuery};
use crate::sim::Shared;
use crate::state::{
    Actor, CustomerRec, CustomerSpec, InventoryItemRec, LevelRec, LineItemRec, LocationRec,
    OrderRec, ProductProbe, ProductRec, ProductSpec, Status, UserErr, VariantPatch, VariantRec,
    VariantSpec,
};

/// The executable schema type.
pub type ShopifySchema =
    async_graphql::Schema<QueryRoot, MutationRoot, async_graphql::EmptySubscription>;

/// Maximum nodes per page and items per input array.
pub const MAX_PAGE: i32 = 250;

/// Per-request context: API version from the URL and the active `@idempotent` key.
pub struct ReqCtx {
    /// API version in the request path (e.g. `2026-04`).
    pub version: String,
    /// Set by the `@idempotent` directive while its field resolves.
    pub idempotency_key: Mutex<Option<String>>,
}

impl ReqCtx {
    /// New context for a request made against `version`.
    pub fn new(version: &str) -> Self {
        ReqCtx {
            version: version.to_string(),
            idempotency_key: Mutex::new(None),
        }
    }

    /// True when the request's version is `min` or newer (`unstable` is newest).
    pub fn at_least(&self, min: &str) -> bool {
        self.version == "unstable" || self.version.as_str() >= min
    }
}

/// Builds the schema (the `@idempotent` directive included).
pub fn build_schema() -> ShopifySchema {
    async_graphql::Schema::build(QueryRoot, MutationRoot, async_graphql::EmptySubscription)
        .directive(idempotent)
        .extension(crate::scopes::AccessScopes)
        .limit_depth(32)
        .finish()
}

fn shared<'a>(ctx: &Context<'a>) -> &'a Arc<Shared> {
    ctx.data_unchecked::<Arc<Shared>>()
}

fn err(message: impl Into<String>, code: &str) -> async_graphql::Error {
    let code = code.to_string();
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.clone()))
}

fn parse_id(kind: &str, id: &ID, arg: &str) -> async_graphql::Result<u64> {
    parse_gid(kind, id.as_str()).ok_or_else(|| {
        err(
            format!("Invalid global id '{}' for argument '{arg}'", id.as_str()),
            "argumentLiteralsIncompatible",
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Scalars

macro_rules! string_scalar {
    ($name:ident, $gql:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name(pub String);

        #[Scalar(name = $gql)]
        impl ScalarType for $name {
            fn parse(value: Value) -> InputValueResult<Self> {
                match value {
                    Value::String(s) => Ok($name(s)),
                    other => Err(InputValueError::expected_type(other)),
                }
            }
            fn to_value(&self) -> Value {
                Value::String(self.0.clone())
            }
        }
    };
}

string_scalar!(
    DateTimeScalar,
    "DateTime",
    "An ISO-8601 timestamp in UTC (`2026-01-15T12:00:00Z`)."
);
string_scalar!(Html, "HTML", "An HTML string.");
string_scalar!(Url, "URL", "An RFC 3986 URL.");
string_scalar!(
    UnsignedInt64,
    "UnsignedInt64",
    "An unsigned 64-bit integer, serialised as a string."
);

/// A decimal money amount as a string (`"19.99"`); inputs also accept JSON numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Money(pub i64);

#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        parse_money(&text)
            .map(Money)
            .ok_or_else(|| InputValueError::custom(format!("invalid money value: \"{text}\"")))
    }
    fn to_value(&self) -> Value {
        Value::String(format_money(self.0))
    }
}

/// A decimal amount (`MoneyV2.amount`).
#[derive(Clone, Debug, PartialEq)]
pub struct Decimal(pub i64);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        Money::parse(value)
            .map(|m| Decimal(m.0))
            .map_err(InputValueError::propagate)
    }
    fn to_value(&self) -> Value {
        Value::String(format_money(self.0))
    }
}

fn dt(t: DateTime<Utc>) -> DateTimeScalar {
    DateTimeScalar(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

// ---------------------------------------------------------------------------------------------
// Enums

/// Product status.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ProductStatus {
    /// Active.
    Active,
    /// Archived.
    Archived,
    /// Draft.
    Draft,
}

impl From<Status> for ProductStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Active => ProductStatus::Active,
            Status::Archived => ProductStatus::Archived,
            Status::Draft => ProductStatus::Draft,
        }
    }
}

impl From<ProductStatus> for Status {
    fn from(s: ProductStatus) -> Self {
        match s {
            ProductStatus::Active => Status::Active,
            ProductStatus::Archived => Status::Archived,
            ProductStatus::Draft => Status::Draft,
        }
    }
}

/// Currencies the simulator models.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[allow(clippy::upper_case_acronyms)]
pub enum CurrencyCode {
    /// US dollar.
    USD,
    /// Euro.
    EUR,
    /// Pound sterling.
    GBP,
    /// Canadian dollar.
    CAD,
    /// Australian dollar.
    AUD,
    /// Swiss franc.
    CHF,
    /// Swedish krona.
    SEK,
    /// Danish krone.
    DKK,
    /// Norwegian krone.
    NOK,
    /// New Zealand dollar.
    NZD,
    /// Mexican peso.
    MXN,
}

impl CurrencyCode {
    /// Parses an ISO code.
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "USD" => CurrencyCode::USD,
            "EUR" => CurrencyCode::EUR,
            "GBP" => CurrencyCode::GBP,
            "CAD" => CurrencyCode::CAD,
            "AUD" => CurrencyCode::AUD,
            "CHF" => CurrencyCode::CHF,
            "SEK" => CurrencyCode::SEK,
            "DKK" => CurrencyCode::DKK,
            "NOK" => CurrencyCode::NOK,
            "NZD" => CurrencyCode::NZD,
            "MXN" => CurrencyCode::MXN,
            _ => return None,
        })
    }

    /// The ISO code.
    pub fn code(self) -> &'static str {
        match self {
            CurrencyCode::USD => "USD",
            CurrencyCode::EUR => "EUR",
            CurrencyCode::GBP => "GBP",
            CurrencyCode::CAD => "CAD",
            CurrencyCode::AUD => "AUD",
            CurrencyCode::CHF => "CHF",
            CurrencyCode::SEK => "SEK",
            CurrencyCode::DKK => "DKK",
            CurrencyCode::NOK => "NOK",
            CurrencyCode::NZD => "NZD",
            CurrencyCode::MXN => "MXN",
        }
    }
}

/// Order financial status as displayed.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderDisplayFinancialStatus {
    /// Pending.
    Pending,
    /// Authorized.
    Authorized,
    /// Paid.
    Paid,
    /// Partially paid.
    PartiallyPaid,
    /// Refunded.
    Refunded,
    /// Partially refunded.
    PartiallyRefunded,
    /// Voided.
    Voided,
}

/// Sort keys for `products`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ProductSortKeys {
    /// By id.
    Id,
    /// By title.
    Title,
    /// By last update.
    UpdatedAt,
    /// By creation.
    CreatedAt,
    /// By relevance (id order here).
    Relevance,
}

/// Sort keys for `productVariants`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ProductVariantSortKeys {
    /// By id.
    Id,
    /// By SKU.
    Sku,
    /// By title.
    Title,
    /// By position.
    Position,
    /// By relevance (id order here).
    Relevance,
}

/// Sort keys for `customers`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CustomerSortKeys {
    /// By id.
    Id,
    /// By last update.
    UpdatedAt,
    /// By creation.
    CreatedAt,
    /// By name.
    Name,
    /// By relevance (id order here).
    Relevance,
}

/// A customer's email marketing state.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CustomerEmailMarketingState {
    /// Never asked.
    NotSubscribed,
    /// Awaiting the customer's confirmation (double opt-in).
    Pending,
    /// Subscribed.
    Subscribed,
    /// Unsubscribed.
    Unsubscribed,
    /// Erased (GDPR).
    Redacted,
    /// The address cannot receive mail.
    Invalid,
}

impl CustomerEmailMarketingState {
    /// The state as the simulator stores it.
    fn as_str(self) -> &'static str {
        match self {
            Self::NotSubscribed => "NOT_SUBSCRIBED",
            Self::Pending => "PENDING",
            Self::Subscribed => "SUBSCRIBED",
            Self::Unsubscribed => "UNSUBSCRIBED",
            Self::Redacted => "REDACTED",
            Self::Invalid => "INVALID",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "PENDING" => Self::Pending,
            "SUBSCRIBED" => Self::Subscribed,
            "UNSUBSCRIBED" => Self::Unsubscribed,
            "REDACTED" => Self::Redacted,
            "INVALID" => Self::Invalid,
            _ => Self::NotSubscribed,
        }
    }
}

/// How a customer opted in.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CustomerMarketingOptInLevel {
    /// Opted in without confirming.
    SingleOptIn,
    /// Opted in and confirmed.
    ConfirmedOptIn,
    /// Not known.
    Unknown,
}

/// A customer's email marketing consent.
#[derive(SimpleObject, Clone)]
pub struct CustomerEmailMarketingConsentState {
    /// The state.
    pub marketing_state: CustomerEmailMarketingState,
    /// How the customer opted in; null when never subscribed.
    pub marketing_opt_in_level: Option<CustomerMarketingOptInLevel>,
    /// When the state last changed.
    pub consent_updated_at: Option<DateTimeScalar>,
}

/// Email marketing consent to record.
#[derive(InputObject, Clone)]
pub struct CustomerEmailMarketingConsentInput {
    /// The state (`SUBSCRIBED`, `UNSUBSCRIBED` or `PENDING`).
    pub marketing_state: CustomerEmailMarketingState,
    /// How the customer opted in.
    pub marketing_opt_in_level: Option<CustomerMarketingOptInLevel>,
    /// When the customer consented.
    pub consent_updated_at: Option<DateTimeScalar>,
}

/// `customerEmailMarketingConsentUpdate` input.
#[derive(InputObject, Clone)]
pub struct CustomerEmailMarketingConsentUpdateInput {
    /// The customer.
    pub customer_id: ID,
    /// The consent.
    pub email_marketing_consent: CustomerEmailMarketingConsentInput,
}

/// `customerEmailMarketingConsentUpdate` user error.
#[derive(SimpleObject, Clone)]
pub struct CustomerEmailMarketingConsentUpdateUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code (`INVALID`, `INCLUSION`, `MISSING_ARGUMENT`, `INTERNAL_ERROR`).
    pub code: Option<String>,
}

/// `customerEmailMarketingConsentUpdate` payload.
#[derive(SimpleObject)]
pub struct CustomerEmailMarketingConsentUpdatePayload {
    /// Customer.
    pub customer: Option<Customer>,
    /// Errors.
    pub user_errors: Vec<CustomerEmailMarketingConsentUpdateUserError>,
}

/// Sort keys for `orders`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderSortKeys {
    /// By id.
    Id,
    /// By last update.
    UpdatedAt,
    /// By creation.
    CreatedAt,
    /// By processing time.
    ProcessedAt,
    /// By order number.
    OrderNumber,
    /// By relevance (id order here).
    Relevance,
}

/// Sort keys for `locations`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum LocationSortKeys {
    /// By id.
    Id,
    /// By name.
    Name,
    /// By relevance (id order here).
    Relevance,
}

/// Webhook topics the simulator can deliver.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum WebhookSubscriptionTopic {
    /// products/create
    ProductsCreate,
    /// products/update
    ProductsUpdate,
    /// inventory_levels/update
    InventoryLevelsUpdate,
    /// orders/create
    OrdersCreate,
    /// orders/updated
    OrdersUpdated,
    /// customers/create
    CustomersCreate,
    /// customers/update
    CustomersUpdate,
    /// orders/cancelled
    OrdersCancelled,
    /// orders/fulfilled
    OrdersFulfilled,
    /// orders/partially_fulfilled
    OrdersPartiallyFulfilled,
    /// fulfillments/create
    FulfillmentsCreate,
    /// refunds/create
    RefundsCreate,
    /// orders/edited
    OrdersEdited,
    /// products/delete
    ProductsDelete,
    /// customers/delete
    CustomersDelete,
    /// collections/create
    CollectionsCreate,
    /// collections/update
    CollectionsUpdate,
    /// collections/delete
    CollectionsDelete,
}

impl WebhookSubscriptionTopic {
    /// The state-level topic.
    pub fn topic(self) -> crate::state::Topic {
        use crate::state::Topic as T;
        match self {
            Self::ProductsCreate => T::ProductsCreate,
            Self::ProductsUpdate => T::ProductsUpdate,
            Self::InventoryLevelsUpdate => T::InventoryLevelsUpdate,
            Self::OrdersCreate => T::OrdersCreate,
            Self::OrdersUpdated => T::OrdersUpdated,
            Self::CustomersCreate => T::CustomersCreate,
            Self::CustomersUpdate => T::CustomersUpdate,
            Self::OrdersCancelled => T::OrdersCancelled,
            Self::OrdersFulfilled => T::OrdersFulfilled,
            Self::OrdersPartiallyFulfilled => T::OrdersPartiallyFulfilled,
            Self::FulfillmentsCreate => T::FulfillmentsCreate,
            Self::RefundsCreate => T::RefundsCreate,
            Self::OrdersEdited => T::OrdersEdited,
            Self::ProductsDelete => T::ProductsDelete,
            Self::CustomersDelete => T::CustomersDelete,
            Self::CollectionsCreate => T::CollectionsCreate,
            Self::CollectionsUpdate => T::CollectionsUpdate,
            Self::CollectionsDelete => T::CollectionsDelete,
        }
    }

    fn from_topic(t: crate::state::Topic) -> Self {
        use crate::state::Topic as T;
        match t {
            T::ProductsCreate => Self::ProductsCreate,
            T::ProductsUpdate => Self::ProductsUpdate,
            T::InventoryLevelsUpdate => Self::InventoryLevelsUpdate,
            T::OrdersCreate => Self::OrdersCreate,
            T::OrdersUpdated => Self::OrdersUpdated,
            T::CustomersCreate => Self::CustomersCreate,
            T::CustomersUpdate => Self::CustomersUpdate,
            T::OrdersCancelled => Self::OrdersCancelled,
            T::OrdersFulfilled => Self::OrdersFulfilled,
            T::OrdersPartiallyFulfilled => Self::OrdersPartiallyFulfilled,
            T::FulfillmentsCreate => Self::FulfillmentsCreate,
            T::RefundsCreate => Self::RefundsCreate,
            T::OrdersEdited => Self::OrdersEdited,
            T::ProductsDelete => Self::ProductsDelete,
            T::CustomersDelete => Self::CustomersDelete,
            T::CollectionsCreate => Self::CollectionsCreate,
            T::CollectionsUpdate => Self::CollectionsUpdate,
            T::CollectionsDelete => Self::CollectionsDelete,
        }
    }
}

/// Webhook payload format.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum WebhookSubscriptionFormat {
    /// JSON.
    Json,
    /// XML (not delivered by the simulator; rejected on create).
    Xml,
}

// ---------------------------------------------------------------------------------------------
// Pagination

/// Relay page info.
#[derive(SimpleObject, Clone)]
pub struct PageInfo {
    /// More items after this page.
    pub has_next_page: bool,
    /// Items before this page.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge.
    pub end_cursor: Option<String>,
}

/// A sort value inside a cursor.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortVal {
    /// Integer (ids, timestamps, positions).
    Int(i64),
    /// Text.
    Str(String),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CursorBody {
    last_id: u64,
    last_value: SortVal,
}

fn encode_cursor(key: &(SortVal, u64)) -> String {
    let body = CursorBody {
        last_id: key.1,
        last_value: key.0.clone(),
    };
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&body).expect("cursor serialises"))
}

fn decode_cursor(c: &str) -> async_graphql::Result<(SortVal, u64)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(c)
        .map_err(|_| err(format!("Invalid cursor: {c}"), "BAD_REQUEST"))?;
    let body: CursorBody = serde_json::from_slice(&bytes)
        .map_err(|_| err(format!("Invalid cursor: {c}"), "BAD_REQUEST"))?;
    Ok((body.last_value, body.last_id))
}

/// Pagination arguments.
#[derive(Default)]
pub struct PageArgs {
    /// `first`
    pub first: Option<i32>,
    /// `after`
    pub after: Option<String>,
    /// `last`
    pub last: Option<i32>,
    /// `before`
    pub before: Option<String>,
    /// `reverse`
    pub reverse: bool,
}

fn check_page(first: Option<i32>, last: Option<i32>) -> async_graphql::Result<()> {
    match (first, last) {
        (None, None) => Err(err("you must provide one of first or last", "BAD_REQUEST")),
        (Some(_), Some(_)) => Err(err(
            "providing both first and last is not supported",
            "BAD_REQUEST",
        )),
        (Some(n), _) | (_, Some(n)) if n > MAX_PAGE => Err(err(
            format!("The page size requested ({n}) exceeds the maximum page size ({MAX_PAGE})."),
            "MAX_PAGE_SIZE_EXCEEDED",
        )),
        (Some(n), _) | (_, Some(n)) if n < 0 => {
            Err(err("first and last must be non-negative", "BAD_REQUEST"))
        }
        _ => Ok(()),
    }
}

/// Keyset pagination over `(sort value, id)`; returns `(cursor, item)` pairs and page info.
pub fn paginate<T>(
    mut items: Vec<((SortVal, u64), T)>,
    args: &PageArgs,
) -> async_graphql::Result<(Vec<(String, T)>, PageInfo)> {
    check_page(args.first, args.last)?;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if args.reverse {
        items.reverse();
    }
    let after = args.after.as_deref().map(decode_cursor).transpose()?;
    let before = args.before.as_deref().map(decode_cursor).transpose()?;
    let beyond = |k: &(SortVal, u64), c: &(SortVal, u64)| {
        if args.reverse { k < c } else { k > c }
    };
    let total = items.len();
    let mut window: Vec<((SortVal, u64), T)> = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|c| beyond(k, c)))
        .filter(|(k, _)| before.as_ref().is_none_or(|c| beyond(c, k)))
        .collect();
    let skipped_front = after.is_some() && window.len() < total;
    let skipped_back = before.is_some() && window.len() < total;
    let mut has_next = skipped_back;
    let mut has_prev = skipped_front;
    if let Some(n) = args.first {
        let n = n as usize;
        if window.len() > n {
            window.truncate(n);
            has_next = true;
        }
    }
    if let Some(n) = args.last {
        let n = n as usize;
        if window.len() > n {
            window.drain(..window.len() - n);
            has_prev = true;
        }
    }
    let out: Vec<(String, T)> = window
        .into_iter()
        .map(|(k, t)| (encode_cursor(&k), t))
        .collect();
    let info = PageInfo {
        has_next_page: has_next,
        has_previous_page: has_prev,
        start_cursor: out.first().map(|(c, _)| c.clone()),
        end_cursor: out.last().map(|(c, _)| c.clone()),
    };
    Ok((out, info))
}

macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $doc:literal) => {
        #[doc = concat!("An edge of ", $doc, ".")]
        #[derive(SimpleObject, Clone)]
        pub struct $edge {
            /// Opaque cursor.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        #[doc = concat!("A page of ", $doc, ".")]
        #[derive(SimpleObject, Clone)]
        pub struct $conn {
            /// Edges.
            pub edges: Vec<$edge>,
            /// Nodes (shortcut for `edges.node`).
            pub nodes: Vec<$node>,
            /// Page info.
            pub page_info: PageInfo,
        }

        impl $conn {
            fn build(page: Vec<(String, $node)>, page_info: PageInfo) -> Self {
                $conn {
                    nodes: page.iter().map(|(_, n)| n.clone()).collect(),
                    edges: page
                        .into_iter()
                        .map(|(cursor, node)| $edge { cursor, node })
                        .collect(),
                    page_info,
                }
            }
        }
    };
}

connection!(ProductConnection, ProductEdge, Product, "products");
connection!(
    ProductVariantConnection,
    ProductVariantEdge,
    ProductVariant,
    "variants"
);
connection!(
    InventoryItemConnection,
    InventoryItemEdge,
    InventoryItem,
    "inventory items"
);
connection!(
    InventoryLevelConnection,
    InventoryLevelEdge,
    InventoryLevel,
    "inventory levels"
);
connection!(LocationConnection, LocationEdge, Location, "locations");
connection!(ImageConnection, ImageEdge, Image, "images");
connection!(MetafieldConnection, MetafieldEdge, Metafield, "metafields");
connection!(CustomerConnection, CustomerEdge, Customer, "customers");
connection!(OrderConnection, OrderEdge, Order, "orders");
connection!(LineItemConnection, LineItemEdge, LineItem, "line items");
connection!(
    ShippingLineConnection,
    ShippingLineEdge,
    ShippingLine,
    "shipping lines"
);
connection!(
    FulfillmentOrderConnection,
    FulfillmentOrderEdge,
    FulfillmentOrder,
    "fulfillment orders"
);
connection!(
    RefundLineItemConnection,
    RefundLineItemEdge,
    RefundLineItem,
    "refund line items"
);
connection!(
    FulfillmentOrderLineItemConnection,
    FulfillmentOrderLineItemEdge,
    FulfillmentOrderLineItem,
    "fulfillment order line items"
);
connection!(
    WebhookSubscriptionConnection,
    WebhookSubscriptionEdge,
    WebhookSubscription,
    "webhook subscriptions"
);

fn time_key(t: DateTime<Utc>) -> SortVal {
    SortVal::Int(t.timestamp())
}

fn search_of(query: &Option<String>) -> SearchQuery {
    query.as_deref().map(search::parse).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Objects

/// A product.
#[derive(Clone)]
pub struct Product(pub ProductRec);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(gid("Product", self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    async fn description_html(&self) -> Html {
        Html(self.0.description_html.clone())
    }
    async fn vendor(&self) -> &str {
        &self.0.vendor
    }
    async fn product_type(&self) -> &str {
        &self.0.product_type
    }
    async fn status(&self) -> ProductStatus {
        self.0.status.into()
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    /// The product's category in Shopify's standard product taxonomy.
    async fn category(&self) -> Option<TaxonomyCategory> {
        self.0.category.as_ref().map(|c| TaxonomyCategory {
            id: ID(format!("gid://shopify/TaxonomyCategory/{c}")),
            // The simulator does not carry the taxonomy's names: the id stands in.
            name: c.clone(),
            full_name: c.clone(),
        })
    }
    async fn seo(&self) -> Seo {
        Seo {
            title: self.0.seo_title.clone(),
            description: self.0.seo_description.clone(),
        }
    }
    /// Product images in order (deprecated in Shopify in favour of `media`, still served).
    async fn images(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<ImageConnection> {
        let items: Vec<_> = self
            .0
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| {
                (
                    (SortVal::Int(i as i64), im.id),
                    Image {
                        id: ID(gid("ProductImage", im.id)),
                        url: Url(im.url.clone()),
                        alt_text: im.alt.clone(),
                    },
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
        Ok(ImageConnection::build(page, info))
    }
    /// Metafields, optionally of one namespace.
    #[allow(clippy::too_many_arguments)]
    async fn metafields(
        &self,
        namespace: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<MetafieldConnection> {
        let items: Vec<_> = self
            .0
            .metafields
            .iter()
            .filter(|m| namespace.as_ref().is_none_or(|n| *n == m.namespace))
            .map(|m| {
                (
                    (SortVal::Int(m.id as i64), m.id),
                    Metafield {
                        id: ID(gid("Metafield", m.id)),
                        namespace: m.namespace.clone(),
                        key: m.key.clone(),
                        type_: m.type_.clone(),
                        value: m.value.clone(),
                    },
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
        Ok(MetafieldConnection::build(page, info))
    }
    async fn options(&self, first: Option<i32>) -> Vec<ProductOptionObj> {
        self.0
            .options
            .iter()
            .enumerate()
            .take(first.unwrap_or(i32::MAX).max(0) as usize)
            .map(|(i, o)| ProductOptionObj {
                id: ID(gid("ProductOption", o.id)),
                name: o.name.clone(),
                position: i as i32 + 1,
                values: o.values.clone(),
            })
            .collect()
    }
    async fn total_inventory(&self, ctx: &Context<'_>) -> i64 {
        let st = shared(ctx).state.lock();
        self.0
            .variant_ids
            .iter()
            .filter_map(|v| st.variants.get(v))
            .map(|v| {
                st.levels
                    .range((v.inventory_item_id, 0)..=(v.inventory_item_id, u64::MAX))
                    .map(|(_, l)| l.available)
                    .sum::<i64>()
            })
            .sum()
    }
    #[allow(clippy::too_many_arguments)]
    async fn variants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<ProductVariantConnection> {
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            self.0
                .variant_ids
                .iter()
                .filter_map(|v| st.variants.get(v))
                .map(|v| {
                    (
                        (SortVal::Int(v.position as i64), v.id),
                        ProductVariant(v.clone()),
                    )
                })
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(ProductVariantConnection::build(page, info))
    }
    async fn variants_count(&self) -> Count {
        Count {
            count: self.0.variant_ids.len() as i64,
            precision: CountPrecision::Exact,
        }
    }
    /// The collections the product belongs to (custom and smart), filtered like `collections`.
    #[allow(clippy::too_many_arguments)]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "CollectionSortKeys::Id")] sort_key: CollectionSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<CollectionConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        collections::list(ctx, args, sort_key, &query, Some(self.0.id))
    }
}

/// A category of Shopify's standard product taxonomy.
#[derive(SimpleObject, Clone)]
pub struct TaxonomyCategory {
    /// `gid://shopify/TaxonomyCategory/<id>`.
    pub id: ID,
    /// Name.
    pub name: String,
    /// Full name with its ancestors.
    pub full_name: String,
}

/// SEO fields of a product.
#[derive(SimpleObject, Clone)]
#[graphql(name = "SEO")]
pub struct Seo {
    /// SEO title.
    pub title: Option<String>,
    /// SEO description.
    pub description: Option<String>,
}

/// A product image.
#[derive(SimpleObject, Clone)]
pub struct Image {
    /// Id.
    pub id: ID,
    /// Source URL.
    pub url: Url,
    /// Alt text.
    pub alt_text: Option<String>,
}

/// A metafield.
#[derive(SimpleObject, Clone)]
pub struct Metafield {
    /// Id.
    pub id: ID,
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// Type.
    #[graphql(name = "type")]
    pub type_: String,
    /// Value.
    pub value: String,
}

/// A weight.
#[derive(SimpleObject, Clone)]
pub struct Weight {
    /// Unit.
    pub unit: WeightUnit,
    /// Value.
    pub value: f64,
}

/// An inventory item's measurements.
#[derive(SimpleObject, Clone)]
pub struct InventoryItemMeasurement {
    /// Weight.
    pub weight: Option<Weight>,
}

/// Weight units.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum WeightUnit {
    /// g.
    Grams,
    /// kg.
    Kilograms,
    /// oz.
    Ounces,
    /// lb.
    Pounds,
}

impl WeightUnit {
    fn parse(s: &str) -> WeightUnit {
        match s {
            "GRAMS" => WeightUnit::Grams,
            "OUNCES" => WeightUnit::Ounces,
            "POUNDS" => WeightUnit::Pounds,
            _ => WeightUnit::Kilograms,
        }
    }
    fn name(self) -> &'static str {
        match self {
            WeightUnit::Grams => "GRAMS",
            WeightUnit::Kilograms => "KILOGRAMS",
            WeightUnit::Ounces => "OUNCES",
            WeightUnit::Pounds => "POUNDS",
        }
    }
}

/// A count with precision.
#[derive(SimpleObject, Clone)]
pub struct Count {
    /// The count.
    pub count: i64,
    /// Precision.
    pub precision: CountPrecision,
}

/// Precision of a count.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CountPrecision {
    /// Exact.
    Exact,
    /// At least.
    AtLeast,
}

/// A product option.
#[derive(SimpleObject, Clone)]
#[graphql(name = "ProductOption")]
pub struct ProductOptionObj {
    /// Id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// 1-based position.
    pub position: i32,
    /// Values.
    pub values: Vec<String>,
}

/// A selected option of a variant.
#[derive(SimpleObject, Clone)]
pub struct SelectedOption {
    /// Option name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A product variant.
#[derive(Clone)]
pub struct ProductVariant(pub VariantRec);

#[Object]
impl ProductVariant {
    async fn id(&self) -> ID {
        ID(gid("ProductVariant", self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn display_name(&self, ctx: &Context<'_>) -> String {
        let st = shared(ctx).state.lock();
        let pt = st
            .products
            .get(&self.0.product_id)
            .map(|p| p.title.clone())
            .unwrap_or_default();
        format!("{pt} - {}", self.0.title)
    }
    async fn sku(&self) -> Option<&str> {
        self.0.sku.as_deref()
    }
    async fn price(&self) -> Money {
        Money(self.0.price)
    }
    async fn compare_at_price(&self) -> Option<Money> {
        self.0.compare_at_price.map(Money)
    }
    async fn barcode(&self) -> Option<&str> {
        self.0.barcode.as_deref()
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    async fn selected_options(&self) -> Vec<SelectedOption> {
        self.0
            .selected_options
            .iter()
            .map(|(n, v)| SelectedOption {
                name: n.clone(),
                value: v.clone(),
            })
            .collect()
    }
    async fn inventory_quantity(&self, ctx: &Context<'_>) -> i64 {
        let st = shared(ctx).state.lock();
        let item = self.0.inventory_item_id;
        st.levels
            .range((item, 0)..=(item, u64::MAX))
            .map(|(_, l)| l.available)
            .sum()
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let st = shared(ctx).state.lock();
        st.products
            .get(&self.0.product_id)
            .cloned()
            .map(Product)
            .ok_or_else(|| err("product no longer exists", "NOT_FOUND"))
    }
    async fn inventory_item(&self, ctx: &Context<'_>) -> async_graphql::Result<InventoryItem> {
        let st = shared(ctx).state.lock();
        st.inventory_items
            .get(&self.0.inventory_item_id)
            .cloned()
            .map(|i| InventoryItem(i, self.0.sku.clone()))
            .ok_or_else(|| err("inventory item no longer exists", "NOT_FOUND"))
    }
}

/// An inventory item (with its variant's SKU).
#[derive(Clone)]
pub struct InventoryItem(pub InventoryItemRec, pub Option<String>);

#[Object]
impl InventoryItem {
    async fn id(&self) -> ID {
        ID(gid("InventoryItem", self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    async fn sku(&self) -> Option<&str> {
        self.1.as_deref()
    }
    async fn measurement(&self, ctx: &Context<'_>) -> InventoryItemMeasurement {
        let st = shared(ctx).state.lock();
        InventoryItemMeasurement {
            weight: st.variants.get(&self.0.variant_id).map(|v| Weight {
                unit: WeightUnit::parse(&v.weight_unit),
                value: v.weight,
            }),
        }
    }
    async fn tracked(&self) -> bool {
        self.0.tracked
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    async fn variant(&self, ctx: &Context<'_>) -> async_graphql::Result<ProductVariant> {
        let st = shared(ctx).state.lock();
        st.variants
            .get(&self.0.variant_id)
            .cloned()
            .map(ProductVariant)
            .ok_or_else(|| err("variant no longer exists", "NOT_FOUND"))
    }
    async fn inventory_level(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
    ) -> async_graphql::Result<Option<InventoryLevel>> {
        let loc = parse_id("Location", &location_id, "locationId")?;
        let st = shared(ctx).state.lock();
        Ok(st
            .levels
            .get(&(self.0.id, loc))
            .cloned()
            .map(InventoryLevel))
    }
    #[allow(clippy::too_many_arguments)]
    async fn inventory_levels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        query: Option<String>,
    ) -> async_graphql::Result<InventoryLevelConnection> {
        let _ = query;
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            st.levels
                .range((self.0.id, 0)..=(self.0.id, u64::MAX))
                .map(|(_, l)| ((SortVal::Int(l.id as i64), l.id), InventoryLevel(l.clone())))
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(InventoryLevelConnection::build(page, info))
    }
}

/// Quantity names Shopify defines (see [`LevelRec::quantity`]).
use crate::state::QUANTITY_NAMES;

/// A named quantity at a level.
#[derive(SimpleObject, Clone)]
pub struct InventoryQuantity {
    /// Id.
    pub id: ID,
    /// Quantity name.
    pub name: String,
    /// Quantity.
    pub quantity: i64,
    /// Last change.
    pub updated_at: Option<DateTimeScalar>,
}

/// Quantities of one item at one location.
#[derive(Clone)]
pub struct InventoryLevel(pub LevelRec);

#[Object]
impl InventoryLevel {
    async fn id(&self) -> ID {
        ID(format!(
            "{}?inventory_item_id={}",
            gid("InventoryLevel", self.0.id),
            self.0.inventory_item_id
        ))
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    async fn quantities(
        &self,
        names: Vec<String>,
    ) -> async_graphql::Result<Vec<InventoryQuantity>> {
        names
            .into_iter()
            .map(|n| {
                if !QUANTITY_NAMES.contains(&n.as_str()) {
                    return Err(err(format!("Invalid quantity name: '{n}'"), "BAD_REQUEST"));
                }
                let q = self.0.quantity(&n).unwrap_or(0);
                Ok(InventoryQuantity {
                    id: ID(format!(
                        "gid://shopify/InventoryQuantity/{}?inventory_item_id={}&name={n}",
                        self.0.id, self.0.inventory_item_id
                    )),
                    name: n,
                    quantity: q,
                    updated_at: Some(dt(self.0.updated_at)),
                })
            })
            .collect()
    }
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Location> {
        let st = shared(ctx).state.lock();
        st.locations
            .get(&self.0.location_id)
            .cloned()
            .map(Location)
            .ok_or_else(|| err("location no longer exists", "NOT_FOUND"))
    }
    async fn item(&self, ctx: &Context<'_>) -> async_graphql::Result<InventoryItem> {
        inventory_item_by_id(ctx, self.0.inventory_item_id)
            .ok_or_else(|| err("inventory item no longer exists", "NOT_FOUND"))
    }
}

fn inventory_item_by_id(ctx: &Context<'_>, id: u64) -> Option<InventoryItem> {
    let st = shared(ctx).state.lock();
    let item = st.inventory_items.get(&id)?.clone();
    let sku = st
        .variants
        .get(&item.variant_id)
        .and_then(|v| v.sku.clone());
    Some(InventoryItem(item, sku))
}

/// A location.
#[derive(Clone)]
pub struct Location(pub LocationRec);

#[Object]
impl Location {
    async fn id(&self) -> ID {
        ID(gid("Location", self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
}

/// An email address.
#[derive(SimpleObject, Clone)]
pub struct CustomerEmailAddress {
    /// Address.
    pub email_address: String,
}

/// A phone number.
#[derive(SimpleObject, Clone)]
pub struct CustomerPhoneNumber {
    /// E.164 number.
    pub phone_number: String,
}

/// A customer.
#[derive(Clone)]
pub struct Customer(pub CustomerRec);

#[Object]
impl Customer {
    async fn id(&self) -> ID {
        ID(gid("Customer", self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn default_email_address(&self) -> Option<CustomerEmailAddress> {
        self.0
            .email
            .clone()
            .map(|email_address| CustomerEmailAddress { email_address })
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn default_phone_number(&self) -> Option<CustomerPhoneNumber> {
        self.0
            .phone
            .clone()
            .map(|phone_number| CustomerPhoneNumber { phone_number })
    }
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    async fn display_name(&self) -> String {
        let parts: Vec<&str> = [self.0.first_name.as_deref(), self.0.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            self.0.email.clone().unwrap_or_default()
        } else {
            parts.join(" ")
        }
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn tax_exempt(&self) -> bool {
        self.0.tax_exempt
    }
    /// Null for a customer without an email address.
    async fn email_marketing_consent(&self) -> Option<CustomerEmailMarketingConsentState> {
        self.0.email.as_ref()?;
        let state = CustomerEmailMarketingState::parse(&self.0.email_marketing);
        Some(CustomerEmailMarketingConsentState {
            marketing_state: state,
            marketing_opt_in_level: (state != CustomerEmailMarketingState::NotSubscribed)
                .then_some(CustomerMarketingOptInLevel::SingleOptIn),
            consent_updated_at: self.0.consent_updated_at.map(dt),
        })
    }
    /// The customer's addresses, in order.
    async fn addresses(&self, first: Option<i32>) -> Vec<MailingAddress> {
        self.0
            .addresses
            .iter()
            .take(first.unwrap_or(i32::MAX).max(0) as usize)
            .map(|a| MailingAddress(a.address.clone()))
            .collect()
    }
    /// The default address.
    async fn default_address(&self) -> Option<MailingAddress> {
        self.0
            .addresses
            .iter()
            .find(|a| Some(a.id) == self.0.default_address_id)
            .map(|a| MailingAddress(a.address.clone()))
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    async fn number_of_orders(&self, ctx: &Context<'_>) -> UnsignedInt64 {
        let st = shared(ctx).state.lock();
        let n = st
            .orders
            .values()
            .filter(|o| o.customer_id == Some(self.0.id))
            .count();
        UnsignedInt64(n.to_string())
    }
}

/// An amount with currency.
#[derive(SimpleObject, Clone)]
pub struct MoneyV2 {
    /// Decimal amount.
    pub amount: Decimal,
    /// Currency.
    pub currency_code: CurrencyCode,
}

/// Amounts in shop and presentment currency (equal here).
#[derive(SimpleObject, Clone)]
pub struct MoneyBag {
    /// Shop currency.
    pub shop_money: MoneyV2,
    /// Presentment currency.
    pub presentment_money: MoneyV2,
}

fn money_bag(cents: i64, currency: &str) -> MoneyBag {
    let m = MoneyV2 {
        amount: Decimal(cents),
        currency_code: CurrencyCode::parse(currency).unwrap_or(CurrencyCode::USD),
    };
    MoneyBag {
        shop_money: m.clone(),
        presentment_money: m,
    }
}

/// An order line.
#[derive(Clone)]
pub struct LineItem(
    pub LineItemRec,
    pub String,
    pub crate::checkout::LinePricing,
);

#[Object]
impl LineItem {
    async fn id(&self) -> ID {
        ID(gid("LineItem", self.0.id))
    }
    async fn sku(&self) -> Option<&str> {
        self.0.sku.as_deref()
    }
    async fn name(&self) -> &str {
        &self.0.title
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    async fn current_quantity(&self) -> i64 {
        self.0.current()
    }
    async fn unfulfilled_quantity(&self) -> i64 {
        self.0.fulfillable()
    }
    async fn original_unit_price_set(&self) -> MoneyBag {
        money_bag(self.0.price, &self.1)
    }
    async fn original_total_set(&self) -> MoneyBag {
        money_bag(self.0.price * self.0.quantity, &self.1)
    }
    /// Taxes charged on the line.
    async fn tax_lines(&self) -> Vec<TaxLine> {
        tax_lines(&self.2.tax_lines, &self.1)
    }
    /// The order-level discount allocated to this line.
    async fn discount_allocations(&self) -> Vec<DiscountAllocation> {
        if self.2.discount > 0 {
            vec![DiscountAllocation {
                allocated_amount_set: money_bag(self.2.discount, &self.1),
            }]
        } else {
            vec![]
        }
    }
    async fn variant(&self, ctx: &Context<'_>) -> Option<ProductVariant> {
        let st = shared(ctx).state.lock();
        self.0
            .variant_id
            .and_then(|v| st.variants.get(&v))
            .cloned()
            .map(ProductVariant)
    }
    async fn product(&self, ctx: &Context<'_>) -> Option<Product> {
        let st = shared(ctx).state.lock();
        self.0
            .product_id
            .and_then(|p| st.products.get(&p))
            .cloned()
            .map(Product)
    }
}

/// An order.
#[derive(Clone)]
pub struct Order(pub OrderRec);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(gid("Order", self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    async fn processed_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
    async fn cancelled_at(&self) -> Option<DateTimeScalar> {
        self.0.cancelled_at.map(dt)
    }
    async fn cancel_reason(&self) -> Option<OrderCancelReason> {
        self.0
            .cancel_reason
            .as_deref()
            .and_then(OrderCancelReason::parse)
    }
    async fn display_fulfillment_status(&self) -> OrderDisplayFulfillmentStatus {
        fulfil::display_fulfillment_status(&self.0)
    }
    async fn fulfillments(&self, first: Option<i32>) -> Vec<Fulfillment> {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        self.0
            .fulfillments
            .iter()
            .take(n)
            .map(|f| Fulfillment(f.clone(), self.0.clone()))
            .collect()
    }
    async fn refunds(&self, first: Option<i32>) -> Vec<Refund> {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        self.0
            .refunds
            .iter()
            .take(n)
            .map(|r| Refund(r.clone(), self.0.clone()))
            .collect()
    }
    async fn fulfillment_orders(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<FulfillmentOrderConnection> {
        let items = vec![(
            (SortVal::Int(0), self.0.fulfillment_order_id),
            FulfillmentOrder(self.0.clone()),
        )];
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(FulfillmentOrderConnection::build(page, info))
    }
    async fn currency_code(&self) -> CurrencyCode {
        CurrencyCode::parse(&self.0.currency).unwrap_or(CurrencyCode::USD)
    }
    async fn total_price_set(&self) -> MoneyBag {
        money_bag(self.0.total_price, &self.0.currency)
    }
    async fn current_total_price_set(&self) -> MoneyBag {
        money_bag(self.0.total_price, &self.0.currency)
    }
    /// Line items after discounts, before shipping and taxes.
    async fn subtotal_price_set(&self) -> MoneyBag {
        let c = &self.0.checkout;
        money_bag(c.line_items_total - c.discount_total, &self.0.currency)
    }
    async fn total_shipping_price_set(&self) -> MoneyBag {
        money_bag(self.0.checkout.shipping_total, &self.0.currency)
    }
    async fn total_tax_set(&self) -> MoneyBag {
        money_bag(self.0.checkout.tax_total, &self.0.currency)
    }
    async fn total_discounts_set(&self) -> MoneyBag {
        money_bag(self.0.checkout.discount_total, &self.0.currency)
    }
    async fn taxes_included(&self) -> bool {
        false
    }
    async fn billing_address(&self) -> Option<MailingAddress> {
        self.0.checkout.billing_address.clone().map(MailingAddress)
    }
    async fn shipping_address(&self) -> Option<MailingAddress> {
        self.0.checkout.shipping_address.clone().map(MailingAddress)
    }
    /// Codes of the discounts applied.
    async fn discount_codes(&self) -> Vec<String> {
        self.0
            .checkout
            .discount
            .iter()
            .map(|d| d.code.clone())
            .collect()
    }
    /// The first discount code applied.
    async fn discount_code(&self) -> Option<String> {
        self.0.checkout.discount.as_ref().map(|d| d.code.clone())
    }
    async fn payment_gateway_names(&self) -> Vec<String> {
        self.0.checkout.gateway.iter().cloned().collect()
    }
    async fn note(&self) -> Option<&str> {
        self.0.checkout.note.as_deref()
    }
    #[allow(clippy::too_many_arguments)]
    async fn shipping_lines(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<ShippingLineConnection> {
        let items: Vec<_> = self
            .0
            .checkout
            .shipping_lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    (SortVal::Int(i as i64), l.id),
                    ShippingLine(l.clone(), self.0.currency.clone()),
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
        Ok(ShippingLineConnection::build(page, info))
    }
    async fn display_financial_status(&self) -> Option<OrderDisplayFinancialStatus> {
        Some(match self.0.financial_status.as_str() {
            "PAID" => OrderDisplayFinancialStatus::Paid,
            "REFUNDED" => OrderDisplayFinancialStatus::Refunded,
            "PARTIALLY_REFUNDED" => OrderDisplayFinancialStatus::PartiallyRefunded,
            "AUTHORIZED" => OrderDisplayFinancialStatus::Authorized,
            "PARTIALLY_PAID" => OrderDisplayFinancialStatus::PartiallyPaid,
            "VOIDED" => OrderDisplayFinancialStatus::Voided,
            _ => OrderDisplayFinancialStatus::Pending,
        })
    }
    async fn customer(&self, ctx: &Context<'_>) -> Option<Customer> {
        let st = shared(ctx).state.lock();
        self.0
            .customer_id
            .and_then(|c| st.customers.get(&c))
            .cloned()
            .map(Customer)
    }
    #[allow(clippy::too_many_arguments)]
    async fn line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<LineItemConnection> {
        let items: Vec<_> = self
            .0
            .line_items
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    (SortVal::Int(i as i64), l.id),
                    LineItem(
                        l.clone(),
                        self.0.currency.clone(),
                        self.0.checkout.lines.get(i).cloned().unwrap_or_default(),
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
        Ok(LineItemConnection::build(page, info))
    }
}

/// A tax line.
#[derive(SimpleObject, Clone)]
pub struct TaxLine {
    /// Title (`VAT`).
    pub title: String,
    /// Rate as a fraction (`0.2`).
    pub rate: f64,
    /// Rate in percent (`20.0`).
    pub rate_percentage: f64,
    /// Amount.
    pub price_set: MoneyBag,
}

fn tax_lines(t: &[crate::checkout::TaxLine], currency: &str) -> Vec<TaxLine> {
    t.iter()
        .map(|t| TaxLine {
            title: t.title.clone(),
            rate: crate::checkout::rate_f64(t.rate_ppm),
            rate_percentage: crate::checkout::rate_f64(t.rate_ppm) * 100.0,
            price_set: money_bag(t.price, currency),
        })
        .collect()
}

/// A discount's share of one line.
#[derive(SimpleObject, Clone)]
pub struct DiscountAllocation {
    /// Amount allocated.
    pub allocated_amount_set: MoneyBag,
}

/// A postal address.
#[derive(Clone)]
pub struct MailingAddress(pub crate::checkout::Address);

#[Object]
impl MailingAddress {
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }
    async fn address1(&self) -> Option<&str> {
        self.0.address1.as_deref()
    }
    async fn address2(&self) -> Option<&str> {
        self.0.address2.as_deref()
    }
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    async fn province_code(&self) -> Option<&str> {
        self.0.province_code.as_deref()
    }
    async fn country_code_v2(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }
    async fn zip(&self) -> Option<&str> {
        self.0.zip.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
}

/// A shipping line of an order.
#[derive(Clone)]
pub struct ShippingLine(pub crate::checkout::ShippingLine, pub String);

#[Object]
impl ShippingLine {
    async fn id(&self) -> ID {
        ID(gid("ShippingLine", self.0.id))
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    async fn source(&self) -> &str {
        "shopify"
    }
    async fn original_price_set(&self) -> MoneyBag {
        money_bag(self.0.price, &self.1)
    }
    async fn discounted_price_set(&self) -> MoneyBag {
        money_bag(self.0.price, &self.1)
    }
    async fn tax_lines(&self) -> Vec<TaxLine> {
        tax_lines(&self.0.tax_lines, &self.1)
    }
}

/// A webhook subscription.
#[derive(Clone)]
pub struct WebhookSubscription(pub crate::webhooks::Subscription);

#[Object]
impl WebhookSubscription {
    async fn id(&self) -> ID {
        ID(gid("WebhookSubscription", self.0.id))
    }
    async fn topic(&self) -> WebhookSubscriptionTopic {
        WebhookSubscriptionTopic::from_topic(self.0.topic)
    }
    async fn uri(&self) -> &str {
        &self.0.uri
    }
    async fn callback_url(&self) -> Url {
        Url(self.0.uri.clone())
    }
    async fn format(&self) -> WebhookSubscriptionFormat {
        WebhookSubscriptionFormat::Json
    }
    async fn api_version(&self) -> ApiVersion {
        ApiVersion {
            handle: self.0.api_version.clone(),
        }
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.0.created_at)
    }
}

/// An API version.
#[derive(SimpleObject, Clone)]
pub struct ApiVersion {
    /// e.g. `2026-04`.
    pub handle: String,
}

/// The shop.
#[derive(SimpleObject, Clone)]
pub struct Shop {
    /// Id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// Domain.
    pub myshopify_domain: String,
    /// Currency.
    pub currency_code: CurrencyCode,
}

/// Objects with a global id.
#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    /// Product.
    Product(Product),
    /// Variant.
    ProductVariant(ProductVariant),
    /// Inventory item.
    InventoryItem(InventoryItem),
    /// Location.
    Location(Location),
    /// Customer.
    Customer(Customer),
    /// Order.
    Order(Order),
    /// Bulk operation.
    BulkOperation(BulkOperation),
    /// Price list.
    PriceList(PriceList),
    /// Collection.
    Collection(Collection),
}

fn node_by_gid(ctx: &Context<'_>, id: &str) -> Option<Node> {
    let (kind, n) = split_gid(id)?;
    if kind == "BulkOperation" {
        return bulk::by_id(ctx, n).map(Node::BulkOperation);
    }
    if kind == "InventoryItem" {
        return inventory_item_by_id(ctx, n).map(Node::InventoryItem);
    }
    if kind == "PriceList" {
        return price_lists::by_id(ctx, n).map(Node::PriceList);
    }
    if kind == "Collection" {
        return collections::by_id(ctx, n).map(Node::Collection);
    }
    let st = shared(ctx).state.lock();
    match kind {
        "Product" => st
            .products
            .get(&n)
            .cloned()
            .map(|p| Node::Product(Product(p))),
        "ProductVariant" => st
            .variants
            .get(&n)
            .cloned()
            .map(|v| Node::ProductVariant(ProductVariant(v))),
        "Location" => st
            .locations
            .get(&n)
            .cloned()
            .map(|l| Node::Location(Location(l))),
        "Customer" => st
            .customers
            .get(&n)
            .cloned()
            .map(|c| Node::Customer(Customer(c))),
        "Order" => st.orders.get(&n).cloned().map(|o| Node::Order(Order(o))),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Query root

/// Query root.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The app as installed on this shop: its granted access scopes ([`crate::scopes`]).
    async fn current_app_installation(&self) -> crate::scopes::AppInstallation {
        crate::scopes::AppInstallation
    }

    async fn shop(&self, ctx: &Context<'_>) -> Shop {
        shop_of(ctx)
    }

    async fn node(&self, ctx: &Context<'_>, id: ID) -> Option<Node> {
        node_by_gid(ctx, id.as_str())
    }

    /// The app's most recent bulk operation (only queries are modelled).
    async fn current_bulk_operation(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] _kind: Option<BulkOperationType>,
    ) -> Option<BulkOperation> {
        bulk::current(ctx)
    }

    /// Variants of the products matching `query`, counted up to `limit` (default 10,000).
    async fn product_variants_count(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        limit: Option<i32>,
    ) -> Count {
        bulk::variants_count(ctx, query, limit)
    }

    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_PAGE as usize {
            return Err(input_too_large(ids.len()));
        }
        Ok(ids.iter().map(|id| node_by_gid(ctx, id.as_str())).collect())
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        let n = parse_id("Product", &id, "id")?;
        Ok(shared(ctx)
            .state
            .lock()
            .products
            .get(&n)
            .cloned()
            .map(Product))
    }

    #[allow(clippy::too_many_arguments)]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "ProductSortKeys::Id")] sort_key: ProductSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        let q = search_of(&query);
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = {
            let st = shared(ctx).state.lock();
            let items: Vec<_> = st
                .products
                .values()
                .filter_map(|p| {
                    let skus: Vec<String> = p
                        .variant_ids
                        .iter()
                        .filter_map(|v| st.variants.get(v).and_then(|v| v.sku.clone()))
                        .collect();
                    let in_collections: Vec<u64> = if st.collections.is_empty() {
                        Vec::new()
                    } else {
                        st.collections_of_product(p.id)
                            .iter()
                            .map(|c| c.id)
                            .collect()
                    };
                    let probe = ProductProbe(p, skus);
                    if !q.matches(&crate::collections::InCollections(&probe, in_collections)) {
                        return None;
                    }
                    let key = match sort_key {
                        ProductSortKeys::Id | ProductSortKeys::Relevance => {
                            SortVal::Int(p.id as i64)
                        }
                        ProductSortKeys::Title => SortVal::Str(p.title.to_lowercase()),
                        ProductSortKeys::UpdatedAt => time_key(p.updated_at),
                        ProductSortKeys::CreatedAt => time_key(p.created_at),
                    };
                    Some(((key, p.id), p))
                })
                .collect();
            // Only the page is cloned out of the shop.
            let (page, info) = paginate(items, &args)?;
            let page: Vec<(String, Product)> = page
                .into_iter()
                .map(|(c, p)| (c, Product(p.clone())))
                .collect();
            (page, info)
        };
        Ok(ProductConnection::build(page, info))
    }

    async fn product_variant(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ProductVariant>> {
        let n = parse_id("ProductVariant", &id, "id")?;
        Ok(shared(ctx)
            .state
            .lock()
            .variants
            .get(&n)
            .cloned()
            .map(ProductVariant))
    }

    #[allow(clippy::too_many_arguments)]
    async fn product_variants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "ProductVariantSortKeys::Id")] sort_key: ProductVariantSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<ProductVariantConnection> {
        let q = search_of(&query);
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            st.variants
                .values()
                .filter(|v| q.matches(*v))
                .map(|v| {
                    let key = match sort_key {
                        ProductVariantSortKeys::Id | ProductVariantSortKeys::Relevance => {
                            SortVal::Int(v.id as i64)
                        }
                        ProductVariantSortKeys::Sku => {
                            SortVal::Str(v.sku.clone().unwrap_or_default())
                        }
                        ProductVariantSortKeys::Title => SortVal::Str(v.title.to_lowercase()),
                        ProductVariantSortKeys::Position => SortVal::Int(v.position as i64),
                    };
                    ((key, v.id), ProductVariant(v.clone()))
                })
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(ProductVariantConnection::build(page, info))
    }

    async fn inventory_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<InventoryItem>> {
        let n = parse_id("InventoryItem", &id, "id")?;
        Ok(inventory_item_by_id(ctx, n))
    }

    #[allow(clippy::too_many_arguments)]
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        query: Option<String>,
    ) -> async_graphql::Result<InventoryItemConnection> {
        let q = search_of(&query);
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            st.inventory_items
                .values()
                .filter_map(|i| {
                    let sku = st.variants.get(&i.variant_id).and_then(|v| v.sku.clone());
                    let probe = (i.clone(), sku);
                    if q.matches(&probe) {
                        Some((
                            (SortVal::Int(i.id as i64), i.id),
                            InventoryItem(probe.0, probe.1),
                        ))
                    } else {
                        None
                    }
                })
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(InventoryItemConnection::build(page, info))
    }

    /// A collection by id.
    async fn collection(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Collection>> {
        collections::collection(ctx, &id)
    }

    /// A collection by its handle.
    async fn collection_by_handle(&self, ctx: &Context<'_>, handle: String) -> Option<Collection> {
        collections::by_handle(ctx, &handle)
    }

    /// A collection by id or handle.
    async fn collection_by_identifier(
        &self,
        ctx: &Context<'_>,
        identifier: CollectionIdentifierInput,
    ) -> async_graphql::Result<Option<Collection>> {
        collections::by_identifier(ctx, identifier)
    }

    /// The shop's collections; `query` filters on `handle`, `title`, `collection_type`,
    /// `product_id`, `id`, `updated_at`.
    #[allow(clippy::too_many_arguments)]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "CollectionSortKeys::Id")] sort_key: CollectionSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<CollectionConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        collections::list(ctx, args, sort_key, &query, None)
    }

    /// The number of collections matching `query`, up to `limit` (default 10,000).
    async fn collections_count(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        #[graphql(default = 10000)] limit: Option<i32>,
    ) -> Count {
        collections::count(ctx, &query, limit)
    }

    /// A job by id (every job the simulator hands out is done).
    async fn job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Job>> {
        collections::job(ctx, &id)
    }

    /// A price list by id.
    async fn price_list(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<PriceList>> {
        price_lists::price_list(ctx, &id)
    }

    /// All price lists of the shop.
    #[allow(clippy::too_many_arguments)]
    async fn price_lists(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "PriceListSortKeys::Id")] sort_key: PriceListSortKeys,
    ) -> async_graphql::Result<PriceListConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        price_lists::price_lists(ctx, args, sort_key)
    }

    async fn location(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Location>> {
        let n = parse_id("Location", &id, "id")?;
        Ok(shared(ctx)
            .state
            .lock()
            .locations
            .get(&n)
            .cloned()
            .map(Location))
    }

    #[allow(clippy::too_many_arguments)]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "LocationSortKeys::Name")] sort_key: LocationSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<LocationConnection> {
        let q = search_of(&query);
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            st.locations
                .values()
                .filter(|l| q.matches(*l))
                .map(|l| {
                    let key = match sort_key {
                        LocationSortKeys::Name => SortVal::Str(l.name.to_lowercase()),
                        _ => SortVal::Int(l.id as i64),
                    };
                    ((key, l.id), Location(l.clone()))
                })
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(LocationConnection::build(page, info))
    }

    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Customer>> {
        let n = parse_id("Customer", &id, "id")?;
        Ok(shared(ctx)
            .state
            .lock()
            .customers
            .get(&n)
            .cloned()
            .map(Customer))
    }

    #[allow(clippy::too_many_arguments)]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "CustomerSortKeys::Id")] sort_key: CustomerSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<CustomerConnection> {
        let q = search_of(&query);
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            st.customers
                .values()
                .filter(|c| q.matches(*c))
                .map(|c| {
                    let key = match sort_key {
                        CustomerSortKeys::Id | CustomerSortKeys::Relevance => {
                            SortVal::Int(c.id as i64)
                        }
                        CustomerSortKeys::UpdatedAt => time_key(c.updated_at),
                        CustomerSortKeys::CreatedAt => time_key(c.created_at),
                        CustomerSortKeys::Name => SortVal::Str(
                            format!(
                                "{} {}",
                                c.first_name.clone().unwrap_or_default(),
                                c.last_name.clone().unwrap_or_default()
                            )
                            .to_lowercase(),
                        ),
                    };
                    ((key, c.id), Customer(c.clone()))
                })
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(CustomerConnection::build(page, info))
    }

    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let n = parse_id("Order", &id, "id")?;
        Ok(shared(ctx).state.lock().orders.get(&n).cloned().map(Order))
    }

    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        #[graphql(default_with = "OrderSortKeys::ProcessedAt")] sort_key: OrderSortKeys,
        query: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let q = search_of(&query);
        let items: Vec<_> = {
            let st = shared(ctx).state.lock();
            st.orders
                .values()
                .filter(|o| q.matches(*o))
                .map(|o| {
                    let key = match sort_key {
                        OrderSortKeys::Id | OrderSortKeys::Relevance => SortVal::Int(o.id as i64),
                        OrderSortKeys::UpdatedAt => time_key(o.updated_at),
                        OrderSortKeys::CreatedAt | OrderSortKeys::ProcessedAt => {
                            time_key(o.created_at)
                        }
                        OrderSortKeys::OrderNumber => SortVal::Int(o.order_number as i64),
                    };
                    ((key, o.id), Order(o.clone()))
                })
                .collect()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(OrderConnection::build(page, info))
    }

    #[allow(clippy::too_many_arguments)]
    async fn webhook_subscriptions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        topics: Option<Vec<WebhookSubscriptionTopic>>,
    ) -> async_graphql::Result<WebhookSubscriptionConnection> {
        let items: Vec<_> = shared(ctx)
            .hub
            .subscriptions()
            .into_iter()
            .filter(|s| {
                topics
                    .as_ref()
                    .is_none_or(|t| t.iter().any(|t| t.topic() == s.topic))
            })
            .map(|s| ((SortVal::Int(s.id as i64), s.id), WebhookSubscription(s)))
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = paginate(items, &args)?;
        Ok(WebhookSubscriptionConnection::build(page, info))
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations: inputs and payloads

fn input_too_large(n: usize) -> async_graphql::Error {
    err(
        format!("The input array size of {n} is greater than the maximum allowed of {MAX_PAGE}."),
        "MAX_INPUT_SIZE_EXCEEDED",
    )
}

/// An option value in `productSet`.
#[derive(InputObject, Clone)]
pub struct OptionValueSetInput {
    /// Existing value id.
    pub id: Option<ID>,
    /// Value name.
    pub name: Option<String>,
}

/// An option in `productSet`.
#[derive(InputObject, Clone)]
pub struct OptionSetInput {
    /// Existing option id.
    pub id: Option<ID>,
    /// Name.
    pub name: Option<String>,
    /// Position.
    pub position: Option<i32>,
    /// Values.
    pub values: Option<Vec<OptionValueSetInput>>,
}

/// A variant's value for one option.
#[derive(InputObject, Clone)]
pub struct VariantOptionValueInput {
    /// Option value id.
    pub id: Option<ID>,
    /// Value name.
    pub name: Option<String>,
    /// Option id.
    pub option_id: Option<ID>,
    /// Option name.
    pub option_name: Option<String>,
}

/// Inventory item fields settable through a variant.
#[derive(InputObject, Clone)]
pub struct InventoryItemInput {
    /// SKU.
    pub sku: Option<String>,
    /// Tracked.
    pub tracked: Option<bool>,
    /// Measurements.
    pub measurement: Option<InventoryItemMeasurementInput>,
}

/// Measurements of an inventory item.
#[derive(InputObject, Clone)]
pub struct InventoryItemMeasurementInput {
    /// Weight.
    pub weight: Option<WeightInput>,
}

/// A weight.
#[derive(InputObject, Clone)]
pub struct WeightInput {
    /// Unit.
    pub unit: WeightUnit,
    /// Value (not negative).
    pub value: f64,
}

/// SEO fields.
#[derive(InputObject, Clone)]
#[graphql(name = "SEOInput")]
pub struct SeoInput {
    /// Title.
    pub title: MaybeUndefined<String>,
    /// Description.
    pub description: MaybeUndefined<String>,
}

/// A file of a product (`productSet` `files`): an image by URL.
#[derive(InputObject, Clone)]
pub struct FileSetInput {
    /// Existing file.
    pub id: Option<ID>,
    /// Source URL.
    pub original_source: Option<String>,
    /// Alt text.
    pub alt: Option<String>,
    /// `IMAGE` (the only content type the simulator models).
    pub content_type: Option<String>,
}

/// A metafield to create or update.
#[derive(InputObject, Clone)]
pub struct MetafieldInput {
    /// Namespace (default `custom`).
    pub namespace: Option<String>,
    /// Key.
    pub key: Option<String>,
    /// Type.
    #[graphql(name = "type")]
    pub type_: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// A metafield by owner, namespace and key (`metafieldsDelete`).
#[derive(InputObject, Clone)]
pub struct MetafieldIdentifierInput {
    /// Owner.
    pub owner_id: ID,
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
}

/// A deleted metafield.
#[derive(SimpleObject, Clone)]
pub struct MetafieldIdentifier {
    /// Owner.
    pub owner_id: ID,
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
}

/// `metafieldsDelete` payload.
#[derive(SimpleObject)]
pub struct MetafieldsDeletePayload {
    /// The metafields deleted (`null` for one that did not exist).
    pub deleted_metafields: Option<Vec<Option<MetafieldIdentifier>>>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// A customer address (`MailingAddressInput`).
#[derive(InputObject, Clone)]
pub struct MailingAddressInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Street.
    pub address1: Option<String>,
    /// Street, second line.
    pub address2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Province code.
    pub province_code: Option<String>,
    /// Country code.
    pub country_code: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// Initial quantities in `productSet`.
#[derive(InputObject, Clone)]
pub struct ProductSetInventoryInput {
    /// Location.
    pub location_id: ID,
    /// Quantity name (`available` or `on_hand`).
    pub name: String,
    /// Quantity.
    pub quantity: i64,
}

/// A variant in `productSet`.
#[derive(InputObject, Clone)]
pub struct ProductVariantSetInput {
    /// Existing variant to update.
    pub id: Option<ID>,
    /// Option values (required).
    pub option_values: Vec<VariantOptionValueInput>,
    /// SKU.
    pub sku: MaybeUndefined<String>,
    /// Price.
    pub price: Option<Money>,
    /// Compare-at price.
    pub compare_at_price: MaybeUndefined<Money>,
    /// Barcode.
    pub barcode: MaybeUndefined<String>,
    /// Position.
    pub position: Option<i32>,
    /// Inventory item fields.
    pub inventory_item: Option<InventoryItemInput>,
    /// Initial quantities (only for new variants).
    pub inventory_quantities: Option<Vec<ProductSetInventoryInput>>,
}

/// `productSet` input.
#[derive(InputObject, Clone)]
pub struct ProductSetInput {
    /// Product to update.
    pub id: Option<ID>,
    /// Title.
    pub title: Option<String>,
    /// Handle.
    pub handle: Option<String>,
    /// Description.
    pub description_html: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Product type.
    pub product_type: Option<String>,
    /// Status.
    pub status: Option<ProductStatus>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Options (full desired list).
    pub product_options: Option<Vec<OptionSetInput>>,
    /// Variants (full desired list: missing ones are deleted).
    pub variants: Option<Vec<ProductVariantSetInput>>,
    /// Category (`gid://shopify/TaxonomyCategory/<id>`); `null` removes it.
    pub category: MaybeUndefined<ID>,
    /// SEO title and description.
    pub seo: Option<SeoInput>,
    /// Files (images; the full desired list: missing ones are removed from the product).
    pub files: Option<Vec<FileSetInput>>,
    /// Metafields to create or update (others are kept; `metafieldsDelete` removes one).
    pub metafields: Option<Vec<MetafieldInput>>,
}

/// Identifies the product to upsert.
#[derive(InputObject, Clone)]
pub struct ProductSetIdentifiers {
    /// By id.
    pub id: Option<ID>,
    /// By handle.
    pub handle: Option<String>,
}

/// `productSet` user error.
#[derive(SimpleObject, Clone)]
pub struct ProductSetUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

/// `productVariantsBulkUpdate` user error.
#[derive(SimpleObject, Clone)]
pub struct ProductVariantsBulkUpdateUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

/// `inventorySetQuantities` user error.
#[derive(SimpleObject, Clone)]
pub struct InventorySetQuantitiesUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

/// `inventoryAdjustQuantities` user error.
#[derive(SimpleObject, Clone)]
pub struct InventoryAdjustQuantitiesUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

/// Generic user error (customers, webhooks).
#[derive(SimpleObject, Clone)]
pub struct UserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
}

macro_rules! from_user_err {
    ($t:ident) => {
        impl From<UserErr> for $t {
            fn from(e: UserErr) -> Self {
                $t {
                    field: e.field,
                    message: e.message,
                    code: e.code,
                }
            }
        }
    };
}
from_user_err!(ProductSetUserError);
from_user_err!(ProductVariantsBulkUpdateUserError);
from_user_err!(InventorySetQuantitiesUserError);
from_user_err!(InventoryAdjustQuantitiesUserError);

impl From<UserErr> for UserError {
    fn from(e: UserErr) -> Self {
        UserError {
            field: e.field,
            message: e.message,
        }
    }
}

/// `productSet` payload.
#[derive(SimpleObject)]
pub struct ProductSetPayload {
    /// The product (synchronous mode).
    pub product: Option<Product>,
    /// Errors.
    pub user_errors: Vec<ProductSetUserError>,
}

/// Variant fields for `productVariantsBulkUpdate`.
#[derive(InputObject, Clone)]
pub struct ProductVariantsBulkInput {
    /// Variant.
    pub id: Option<ID>,
    /// Price.
    pub price: Option<Money>,
    /// Compare-at price.
    pub compare_at_price: MaybeUndefined<Money>,
    /// Barcode.
    pub barcode: MaybeUndefined<String>,
    /// Inventory item fields (the SKU lives here since 2024-04).
    pub inventory_item: Option<InventoryItemInput>,
    /// Option values.
    pub option_values: Option<Vec<VariantOptionValueInput>>,
    /// Initial quantities (`productVariantsBulkCreate` only).
    pub inventory_quantities: Option<Vec<InventoryLevelInput>>,
}

/// A new variant's initial quantity at a location.
#[derive(InputObject, Clone)]
pub struct InventoryLevelInput {
    /// Available quantity.
    pub available_quantity: i64,
    /// Location.
    pub location_id: ID,
}

fn weight_of(i: &Option<InventoryItemInput>) -> Option<(f64, String)> {
    i.as_ref()
        .and_then(|i| i.measurement.as_ref())
        .and_then(|m| m.weight.as_ref())
        .map(|w| (w.value, w.unit.name().to_owned()))
}

/// `productVariantsBulkUpdate` payload.
#[derive(SimpleObject)]
pub struct ProductVariantsBulkUpdatePayload {
    /// The product.
    pub product: Option<Product>,
    /// Updated variants.
    pub product_variants: Option<Vec<ProductVariant>>,
    /// Errors.
    pub user_errors: Vec<ProductVariantsBulkUpdateUserError>,
}

/// One absolute quantity.
#[derive(InputObject, Clone)]
pub struct InventoryQuantityInput {
    /// Item.
    pub inventory_item_id: ID,
    /// Location.
    pub location_id: ID,
    /// New quantity.
    pub quantity: i64,
    /// Compare-and-set guard (2026-04+): must be present; explicit null opts out.
    pub change_from_quantity: MaybeUndefined<i64>,
    /// Compare-and-set guard before 2026-04.
    pub compare_quantity: Option<i64>,
}

/// `inventorySetQuantities` input.
#[derive(InputObject, Clone)]
pub struct InventorySetQuantitiesInput {
    /// `available` or `on_hand`.
    pub name: String,
    /// Reason code.
    pub reason: String,
    /// Reference document.
    pub reference_document_uri: Option<String>,
    /// Before 2026-04: skip the compare check.
    pub ignore_compare_quantity: Option<bool>,
    /// Quantities (max 250).
    pub quantities: Vec<InventoryQuantityInput>,
}

/// One delta.
#[derive(InputObject, Clone)]
pub struct InventoryChangeInput {
    /// Delta.
    pub delta: i64,
    /// Item.
    pub inventory_item_id: ID,
    /// Location.
    pub location_id: ID,
    /// Ledger document.
    pub ledger_document_uri: Option<String>,
}

/// `inventoryAdjustQuantities` input.
#[derive(InputObject, Clone)]
pub struct InventoryAdjustQuantitiesInput {
    /// Quantity name (`available`).
    pub name: String,
    /// Reason code.
    pub reason: String,
    /// Reference document.
    pub reference_document_uri: Option<String>,
    /// Changes (max 250).
    pub changes: Vec<InventoryChangeInput>,
}

/// One applied change.
#[derive(Clone)]
pub struct InventoryChange {
    name: String,
    delta: i64,
    quantity_after_change: i64,
    item: u64,
    location: u64,
}

#[Object]
impl InventoryChange {
    async fn name(&self) -> &str {
        &self.name
    }
    async fn delta(&self) -> i64 {
        self.delta
    }
    async fn quantity_after_change(&self) -> Option<i64> {
        Some(self.quantity_after_change)
    }
    async fn item(&self, ctx: &Context<'_>) -> Option<InventoryItem> {
        inventory_item_by_id(ctx, self.item)
    }
    async fn location(&self, ctx: &Context<'_>) -> Option<Location> {
        shared(ctx)
            .state
            .lock()
            .locations
            .get(&self.location)
            .cloned()
            .map(Location)
    }
}

/// A group of inventory changes.
#[derive(Clone)]
pub struct InventoryAdjustmentGroup {
    id: u64,
    created_at: DateTime<Utc>,
    reason: String,
    reference_document_uri: Option<String>,
    changes: Vec<InventoryChange>,
}

#[Object]
impl InventoryAdjustmentGroup {
    async fn id(&self) -> ID {
        ID(gid("InventoryAdjustmentGroup", self.id))
    }
    async fn created_at(&self) -> DateTimeScalar {
        dt(self.created_at)
    }
    async fn reason(&self) -> &str {
        &self.reason
    }
    async fn reference_document_uri(&self) -> Option<&str> {
        self.reference_document_uri.as_deref()
    }
    async fn changes(&self, quantity_names: Option<Vec<String>>) -> Vec<InventoryChange> {
        self.changes
            .iter()
            .filter(|c| quantity_names.as_ref().is_none_or(|n| n.contains(&c.name)))
            .cloned()
            .collect()
    }
}

/// `inventorySetQuantities` payload.
#[derive(SimpleObject)]
pub struct InventorySetQuantitiesPayload {
    /// Applied changes.
    pub inventory_adjustment_group: Option<InventoryAdjustmentGroup>,
    /// Errors.
    pub user_errors: Vec<InventorySetQuantitiesUserError>,
}

/// `inventoryAdjustQuantities` payload.
#[derive(SimpleObject)]
pub struct InventoryAdjustQuantitiesPayload {
    /// Applied changes.
    pub inventory_adjustment_group: Option<InventoryAdjustmentGroup>,
    /// Errors.
    pub user_errors: Vec<InventoryAdjustQuantitiesUserError>,
}

/// Customer fields.
#[derive(InputObject, Clone)]
pub struct CustomerInput {
    /// Customer to update.
    pub id: Option<ID>,
    /// Email.
    pub email: MaybeUndefined<String>,
    /// First name.
    pub first_name: MaybeUndefined<String>,
    /// Last name.
    pub last_name: MaybeUndefined<String>,
    /// Phone.
    pub phone: MaybeUndefined<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Tax exemption.
    pub tax_exempt: Option<bool>,
    /// Email marketing consent: accepted by `customerCreate` only (`customerUpdate` refuses it:
    /// `customerEmailMarketingConsentUpdate` changes it).
    pub email_marketing_consent: Option<CustomerEmailMarketingConsentInput>,
    /// Addresses (the full list: missing ones are removed; the first is the default).
    pub addresses: Option<Vec<MailingAddressInput>>,
}

/// `customerCreate` payload.
#[derive(SimpleObject)]
pub struct CustomerCreatePayload {
    /// Customer.
    pub customer: Option<Customer>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `customerUpdate` payload.
#[derive(SimpleObject)]
pub struct CustomerUpdatePayload {
    /// Customer.
    pub customer: Option<Customer>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `customerDelete` input.
#[derive(InputObject, Clone)]
pub struct CustomerDeleteInput {
    /// The customer.
    pub id: ID,
}

/// `customerDelete` payload.
#[derive(SimpleObject)]
pub struct CustomerDeletePayload {
    /// The deleted customer's id.
    pub deleted_customer_id: Option<ID>,
    /// The shop.
    pub shop: Shop,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// Webhook subscription input.
#[derive(InputObject, Clone)]
pub struct WebhookSubscriptionInput {
    /// Endpoint (deprecated in favour of `uri`).
    pub callback_url: Option<Url>,
    /// Endpoint.
    pub uri: Option<String>,
    /// Format.
    pub format: Option<WebhookSubscriptionFormat>,
    /// Payload fields to include (accepted, not applied).
    pub include_fields: Option<Vec<String>>,
}

/// `webhookSubscriptionCreate` payload.
#[derive(SimpleObject)]
pub struct WebhookSubscriptionCreatePayload {
    /// Subscription.
    pub webhook_subscription: Option<WebhookSubscription>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `webhookSubscriptionDelete` payload.
#[derive(SimpleObject)]
pub struct WebhookSubscriptionDeletePayload {
    /// Deleted id.
    pub deleted_webhook_subscription_id: Option<ID>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

fn money_opt(m: MaybeUndefined<Money>) -> Option<Option<i64>> {
    match m {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v.0)),
    }
}

fn string_opt(s: MaybeUndefined<String>) -> Option<Option<String>> {
    match s {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn option_pairs(
    values: &[VariantOptionValueInput],
    field: &[&str],
) -> Result<Vec<(String, String)>, UserErr> {
    values
        .iter()
        .map(|v| match (&v.option_name, &v.name) {
            (Some(o), Some(n)) => Ok((o.clone(), n.clone())),
            _ => Err(UserErr::new(
                field,
                "Option values must give optionName and name",
                "INVALID_INPUT",
            )),
        })
        .collect()
}

const REASONS: [&str; 17] = [
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

/// Mutation root (named `Mutation`, as Shopify's is).
pub struct MutationRoot;

mod bulk;
mod collections;
mod fulfil;
mod order_edit;
mod price_lists;
mod product_crud;
pub use bulk::*;
pub use collections::*;
pub use fulfil::*;
pub use order_edit::*;
pub use price_lists::*;
pub use product_crud::*;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates and starts a bulk query operation ([`crate::bulk`]).
    async fn bulk_operation_run_query(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default)] group_objects: bool,
    ) -> BulkOperationRunQueryPayload {
        bulk::run_query(ctx, query, group_objects).await
    }

    async fn fulfillment_create(
        &self,
        ctx: &Context<'_>,
        fulfillment: FulfillmentInput,
        message: Option<String>,
    ) -> async_graphql::Result<Option<FulfillmentCreatePayload>> {
        let _ = message;
        fulfil::fulfillment_create(ctx, fulfillment).map(Some)
    }

    #[allow(clippy::too_many_arguments)]
    async fn order_cancel(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: OrderCancelReason,
        refund: bool,
        restock: bool,
        notify_customer: Option<bool>,
        staff_note: Option<String>,
    ) -> async_graphql::Result<Option<OrderCancelPayload>> {
        let _ = (refund, notify_customer, staff_note);
        fulfil::order_cancel(ctx, order_id, reason, restock).map(Some)
    }

    async fn refund_create(
        &self,
        ctx: &Context<'_>,
        input: RefundInput,
    ) -> async_graphql::Result<Option<RefundCreatePayload>> {
        fulfil::refund_create(ctx, input).map(Some)
    }

    async fn order_edit_begin(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<OrderEditBeginPayload>> {
        order_edit::order_edit_begin(ctx, id).map(Some)
    }

    async fn order_edit_set_quantity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        line_item_id: ID,
        quantity: i32,
        restock: Option<bool>,
    ) -> async_graphql::Result<Option<OrderEditSetQuantityPayload>> {
        order_edit::order_edit_set_quantity(ctx, id, line_item_id, quantity, restock).map(Some)
    }

    async fn order_edit_add_variant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        variant_id: ID,
        quantity: i32,
        location_id: Option<ID>,
        allow_duplicates: Option<bool>,
    ) -> async_graphql::Result<Option<OrderEditAddVariantPayload>> {
        let _ = allow_duplicates;
        order_edit::order_edit_add_variant(ctx, id, variant_id, quantity, location_id).map(Some)
    }

    async fn order_edit_commit(
        &self,
        ctx: &Context<'_>,
        id: ID,
        notify_customer: Option<bool>,
        staff_note: Option<String>,
    ) -> async_graphql::Result<Option<OrderEditCommitPayload>> {
        let _ = (notify_customer, staff_note);
        order_edit::order_edit_commit(ctx, id).map(Some)
    }

    async fn product_set(
        &self,
        ctx: &Context<'_>,
        input: ProductSetInput,
        #[graphql(default = true)] synchronous: bool,
        identifier: Option<ProductSetIdentifiers>,
    ) -> async_graphql::Result<Option<ProductSetPayload>> {
        let result: async_graphql::Result<ProductSetPayload> = async move {
        if !synchronous {
            return Err(err(
                "asynchronous productSet is not modelled by the simulator; pass synchronous: true",
                "BAD_REQUEST",
            ));
        }
        if let Some(v) = &input.variants
            && v.len() > 2048
        {
            return Err(input_too_large(v.len()));
        }
        let sh = shared(ctx);
        let mut st = sh.state.lock();
        let mut target = match &input.id {
            Some(id) => Some(parse_id("Product", id, "input.id")?),
            None => None,
        };
        if let Some(ident) = &identifier {
            if let Some(id) = &ident.id {
                target = Some(parse_id("Product", id, "identifier.id")?);
            } else if let Some(h) = &ident.handle {
                target = st.products.values().find(|p| &p.handle == h).map(|p| p.id);
            }
        }
        let mut errors: Vec<UserErr> = Vec::new();
        let options = input.product_options.as_ref().map(|opts| {
            opts.iter()
                .map(|o| {
                    (
                        o.name.clone().unwrap_or_default(),
                        o.values
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|v| v.name)
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        });
        // Since 2024-07 `variants` and `productOptions` are codependent: both or neither.
        if input.variants.is_some() && options.is_none() {
            errors.push(UserErr::new(
                &["input", "productOptions"],
                "Options must be specified when variants are given",
                "PRODUCT_OPTIONS_INPUT_MISSING",
            ));
        }
        if input.variants.is_none() && options.is_some() {
            errors.push(UserErr::new(
                &["input", "variants"],
                "Variants must be specified when options are given",
                "INVALID_INPUT",
            ));
        }
        let mut variants = None;
        if let Some(vs) = &input.variants {
            let mut out = Vec::new();
            for (i, v) in vs.iter().enumerate() {
                let idx = i.to_string();
                let id = match &v.id {
                    Some(id) => Some(parse_id("ProductVariant", id, "variants.id")?),
                    None => None,
                };
                let option_values = match option_pairs(
                    &v.option_values,
                    &["input", "variants", &idx, "optionValues"],
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                let sku = match (
                    string_opt(v.sku.clone()),
                    v.inventory_item.as_ref().and_then(|i| i.sku.clone()),
                ) {
                    (Some(s), _) => Some(s),
                    (None, Some(s)) => Some(Some(s)),
                    (None, None) => None,
                };
                out.push(VariantSpec {
                    id,
                    option_values,
                    sku,
                    price: v.price.as_ref().map(|m| m.0),
                    compare_at_price: money_opt(v.compare_at_price.clone()),
                    barcode: string_opt(v.barcode.clone()),
                    weight: weight_of(&v.inventory_item),
                });
            }
            variants = Some(out);
        }
        if !errors.is_empty() {
            return Ok(ProductSetPayload {
                product: None,
                user_errors: errors.into_iter().map(Into::into).collect(),
            });
        }
        let mut images = None;
        if let Some(files) = &input.files {
            let mut list = Vec::new();
            for (i, f) in files.iter().enumerate() {
                let Some(url) = f.original_source.clone().filter(|u| {
                    u.starts_with("https://") || u.starts_with("http://")
                }) else {
                    errors.push(UserErr::new(
                        &["input", "files", &i.to_string(), "originalSource"],
                        "File URL is invalid",
                        "INVALID",
                    ));
                    continue;
                };
                list.push((url, f.alt.clone()));
            }
            images = Some(list);
        }
        let category = category_arg(&input.category, &["input", "category"], &mut errors);
        let metafields = metafields_arg(&input.metafields, "input", &mut errors);
        if !errors.is_empty() {
            return Ok(ProductSetPayload {
                product: None,
                user_errors: errors.into_iter().map(Into::into).collect(),
            });
        }
        let spec = ProductSpec {
            id: target,
            title: input.title.clone(),
            handle: input.handle.clone(),
            description_html: input.description_html.clone(),
            vendor: input.vendor.clone(),
            product_type: input.product_type.clone(),
            status: input.status.map(Into::into),
            tags: input.tags.clone(),
            options,
            variants,
            category,
            seo_title: input.seo.as_ref().and_then(|s| string_opt(s.title.clone())),
            seo_description: input
                .seo
                .as_ref()
                .and_then(|s| string_opt(s.description.clone())),
            images,
            metafields,
        };
        match st.product_set(spec, Actor::Api) {
            Ok(pid) => {
                // Initial quantities for variants given with inventoryQuantities.
                if let Some(vs) = &input.variants {
                    let vids = st.products[&pid].variant_ids.clone();
                    for (v, vid) in vs.iter().zip(vids) {
                        for q in v.inventory_quantities.iter().flatten() {
                            let loc = parse_id(
                                "Location",
                                &q.location_id,
                                "inventoryQuantities.locationId",
                            )?;
                            let item = st.variants[&vid].inventory_item_id;
                            if let Err(e) = st.set_available(item, loc, q.quantity, None) {
                                return Ok(ProductSetPayload {
                                    product: st.products.get(&pid).cloned().map(Product),
                                    user_errors: vec![e.into()],
                                });
                            }
                        }
                    }
                }
                Ok(ProductSetPayload {
                    product: st.products.get(&pid).cloned().map(Product),
                    user_errors: Vec::new(),
                })
            }
            Err(errs) => Ok(ProductSetPayload {
                product: None,
                user_errors: errs.into_iter().map(Into::into).collect(),
            }),
        }
        }
        .await;
        result.map(Some)
    }

    /// Creates a product with its options and the one variant their first values make.
    async fn product_create(
        &self,
        ctx: &Context<'_>,
        product: ProductCreateInput,
    ) -> async_graphql::Result<Option<ProductCreatePayload>> {
        product_crud::product_create(ctx, product).map(Some)
    }

    /// Changes a product's own fields.
    async fn product_update(
        &self,
        ctx: &Context<'_>,
        product: ProductUpdateInput,
    ) -> async_graphql::Result<Option<ProductUpdatePayload>> {
        product_crud::product_update(ctx, product).map(Some)
    }

    /// Deletes a product with its variants (fires `products/delete`).
    async fn product_delete(
        &self,
        ctx: &Context<'_>,
        input: ProductDeleteInput,
        #[graphql(default = true)] synchronous: bool,
    ) -> async_graphql::Result<Option<ProductDeletePayload>> {
        let _ = synchronous;
        product_crud::product_delete(ctx, input).map(Some)
    }

    /// Adds variants to a product; `strategy` says what happens to its standalone variant.
    async fn product_variants_bulk_create(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variants: Vec<ProductVariantsBulkInput>,
        #[graphql(default)] strategy: ProductVariantsBulkCreateStrategy,
    ) -> async_graphql::Result<Option<ProductVariantsBulkCreatePayload>> {
        product_crud::product_variants_bulk_create(ctx, product_id, variants, strategy).map(Some)
    }

    /// Deletes variants of a product (not all of them).
    async fn product_variants_bulk_delete(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variants_ids: Vec<ID>,
    ) -> async_graphql::Result<Option<ProductVariantsBulkDeletePayload>> {
        product_crud::product_variants_bulk_delete(ctx, product_id, variants_ids).map(Some)
    }

    /// Creates a collection: custom, or smart with `ruleSet` (fires `collections/create`).
    async fn collection_create(
        &self,
        ctx: &Context<'_>,
        input: CollectionInput,
    ) -> async_graphql::Result<Option<CollectionCreatePayload>> {
        collections::create(ctx, input).map(Some)
    }

    /// Adds products to a custom collection, all or nothing (fires `collections/update`).
    async fn collection_add_products(
        &self,
        ctx: &Context<'_>,
        id: ID,
        product_ids: Vec<ID>,
    ) -> async_graphql::Result<Option<CollectionAddProductsPayload>> {
        collections::add_products(ctx, id, product_ids).map(Some)
    }

    /// Adds products to a custom collection as a job (done at once here).
    async fn collection_add_products_v2(
        &self,
        ctx: &Context<'_>,
        id: ID,
        product_ids: Vec<ID>,
    ) -> async_graphql::Result<Option<CollectionAddProductsV2Payload>> {
        collections::add_products_v2(ctx, id, product_ids).map(Some)
    }

    /// Removes products from a custom collection as a job (done at once here).
    async fn collection_remove_products(
        &self,
        ctx: &Context<'_>,
        id: ID,
        product_ids: Vec<ID>,
    ) -> async_graphql::Result<Option<CollectionRemoveProductsPayload>> {
        collections::remove_products(ctx, id, product_ids).map(Some)
    }

    /// Deletes a collection (fires `collections/delete`).
    async fn collection_delete(
        &self,
        ctx: &Context<'_>,
        input: CollectionDeleteInput,
    ) -> async_graphql::Result<Option<CollectionDeletePayload>> {
        collections::delete(ctx, input).map(Some)
    }

    /// Creates or replaces fixed prices on a price list.
    async fn price_list_fixed_prices_add(
        &self,
        ctx: &Context<'_>,
        price_list_id: ID,
        prices: Vec<PriceListPriceInput>,
    ) -> async_graphql::Result<Option<PriceListFixedPricesAddPayload>> {
        price_lists::fixed_prices_add(ctx, price_list_id, prices).map(Some)
    }

    /// Deletes fixed prices from a price list by variant.
    async fn price_list_fixed_prices_delete(
        &self,
        ctx: &Context<'_>,
        price_list_id: ID,
        variant_ids: Vec<ID>,
    ) -> async_graphql::Result<Option<PriceListFixedPricesDeletePayload>> {
        price_lists::fixed_prices_delete(ctx, price_list_id, variant_ids).map(Some)
    }

    /// Adds and deletes fixed prices of a price list in one call.
    async fn price_list_fixed_prices_update(
        &self,
        ctx: &Context<'_>,
        price_list_id: ID,
        prices_to_add: Vec<PriceListPriceInput>,
        variant_ids_to_delete: Vec<ID>,
    ) -> async_graphql::Result<Option<PriceListFixedPricesUpdatePayload>> {
        price_lists::fixed_prices_update(ctx, price_list_id, prices_to_add, variant_ids_to_delete)
            .map(Some)
    }

    /// Deletes metafields by owner, namespace and key.
    async fn metafields_delete(
        &self,
        ctx: &Context<'_>,
        metafields: Vec<MetafieldIdentifierInput>,
    ) -> async_graphql::Result<Option<MetafieldsDeletePayload>> {
        if metafields.len() > MAX_PAGE as usize {
            return Err(input_too_large(metafields.len()));
        }
        let mut out = Vec::new();
        let mut touched = Vec::new();
        {
            let sh = shared(ctx);
            let mut st = sh.state.lock();
            let now = st.clock.now();
            for m in &metafields {
                let pid = parse_id("Product", &m.owner_id, "metafields.ownerId")?;
                let Some(p) = st.products.get_mut(&pid) else {
                    out.push(None);
                    continue;
                };
                let before = p.metafields.len();
                p.metafields
                    .retain(|x| !(x.namespace == m.namespace && x.key == m.key));
                if p.metafields.len() == before {
                    out.push(None);
                    continue;
                }
                p.updated_at = now;
                touched.push(pid);
                out.push(Some(MetafieldIdentifier {
                    owner_id: m.owner_id.clone(),
                    namespace: m.namespace.clone(),
                    key: m.key.clone(),
                }));
            }
            touched.dedup();
            for pid in touched {
                st.product_touched(pid);
            }
        }
        Ok(Some(MetafieldsDeletePayload {
            deleted_metafields: Some(out),
            user_errors: Vec::new(),
        }))
    }

    async fn product_variants_bulk_update(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variants: Vec<ProductVariantsBulkInput>,
        #[graphql(default)] allow_partial_updates: bool,
    ) -> async_graphql::Result<Option<ProductVariantsBulkUpdatePayload>> {
        let result: async_graphql::Result<ProductVariantsBulkUpdatePayload> = async move {
            let _ = allow_partial_updates;
            if variants.len() > MAX_PAGE as usize {
                return Err(input_too_large(variants.len()));
            }
            let pid = parse_id("Product", &product_id, "productId")?;
            let mut patches = Vec::new();
            let mut errors: Vec<UserErr> = Vec::new();
            for (i, v) in variants.iter().enumerate() {
                let idx = i.to_string();
                let Some(id) = &v.id else {
                    errors.push(UserErr::new(
                        &["variants", &idx, "id"],
                        "Product variant id is required",
                        "PRODUCT_VARIANT_ID_MISSING",
                    ));
                    continue;
                };
                let id = parse_id("ProductVariant", id, "variants.id")?;
                if v.inventory_quantities.is_some() {
                    errors.push(UserErr::new(
                        &["variants", &idx, "inventoryQuantities"],
                        "Inventory quantities can only be provided during create. To update inventory for existing variants, use inventoryAdjustQuantities.",
                        "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE",
                    ));
                    continue;
                }
                let option_values = match &v.option_values {
                    Some(ov) => match option_pairs(ov, &["variants", &idx, "optionValues"]) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    },
                    None => None,
                };
                patches.push(VariantPatch {
                    id,
                    sku: v
                        .inventory_item
                        .as_ref()
                        .and_then(|i| i.sku.clone())
                        .map(Some),
                    price: v.price.as_ref().map(|m| m.0),
                    compare_at_price: money_opt(v.compare_at_price.clone()),
                    barcode: string_opt(v.barcode.clone()),
                    option_values,
                    weight: weight_of(&v.inventory_item),
                });
            }
            let sh = shared(ctx);
            let mut st = sh.state.lock();
            if !errors.is_empty() {
                return Ok(ProductVariantsBulkUpdatePayload {
                    product: None,
                    product_variants: None,
                    user_errors: errors.into_iter().map(Into::into).collect(),
                });
            }
            match st.variants_bulk_update(pid, patches) {
                Ok(ids) => Ok(ProductVariantsBulkUpdatePayload {
                    product: st.products.get(&pid).cloned().map(Product),
                    product_variants: Some(
                        ids.iter()
                            .filter_map(|v| st.variants.get(v).cloned())
                            .map(ProductVariant)
                            .collect(),
                    ),
                    user_errors: Vec::new(),
                }),
                Err(errs) => Ok(ProductVariantsBulkUpdatePayload {
                    product: None,
                    product_variants: None,
                    user_errors: errs.into_iter().map(Into::into).collect(),
                }),
            }
        }
        .await;
        result.map(Some)
    }

    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> async_graphql::Result<Option<InventorySetQuantitiesPayload>> {
        let result: async_graphql::Result<InventorySetQuantitiesPayload> = async move {
        if input.quantities.len() > MAX_PAGE as usize {
            return Err(input_too_large(input.quantities.len()));
        }
        let rq = ctx.data_unchecked::<ReqCtx>();
        let new_rule = rq.at_least("2026-04");
        let fail = |e: UserErr| {
            Ok(InventorySetQuantitiesPayload {
                inventory_adjustment_group: None,
                user_errors: vec![e.into()],
            })
        };
        if new_rule && input.ignore_compare_quantity.is_some() {
            return Err(err(
                "InventorySetQuantitiesInput.ignoreCompareQuantity was removed in 2026-04; use changeFromQuantity: null",
                "argumentNotAccepted",
            ));
        }
        if input.name != "available" && input.name != "on_hand" {
            return fail(UserErr::new(
                &["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            ));
        }
        if !REASONS.contains(&input.reason.as_str()) {
            return fail(UserErr::new(
                &["input", "reason"],
                "The specified reason is invalid.",
                "INVALID_REASON",
            ));
        }
        // Parse and check every entry before applying any (all or nothing).
        let mut plan = Vec::new();
        for (i, q) in input.quantities.iter().enumerate() {
            let idx = i.to_string();
            let item = parse_id("InventoryItem", &q.inventory_item_id, "inventoryItemId")?;
            let loc = parse_id("Location", &q.location_id, "locationId")?;
            let guard = if new_rule {
                if q.compare_quantity.is_some() {
                    return Err(err(
                        "InventoryQuantityInput.compareQuantity was replaced by changeFromQuantity in 2026-04",
                        "argumentNotAccepted",
                    ));
                }
                match &q.change_from_quantity {
                    MaybeUndefined::Undefined => {
                        return fail(UserErr::new(
                            &["input", "quantities", &idx, "changeFromQuantity"],
                            "changeFromQuantity is required. Pass null to skip the compare check.",
                            "CHANGE_FROM_QUANTITY_REQUIRED",
                        ));
                    }
                    MaybeUndefined::Null => None,
                    MaybeUndefined::Value(v) => Some(*v),
                }
            } else if input.ignore_compare_quantity == Some(true) {
                None
            } else {
                match q.compare_quantity {
                    Some(c) => Some(c),
                    None => {
                        return fail(UserErr::new(
                            &["input", "quantities", &idx, "compareQuantity"],
                            "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
                            "COMPARE_QUANTITY_REQUIRED",
                        ));
                    }
                }
            };
            if q.quantity < 0 {
                return fail(UserErr::new(
                    &["input", "quantities", &idx, "quantity"],
                    "The quantity can't be negative.",
                    "INVALID_QUANTITY_NEGATIVE",
                ));
            }
            if q.quantity > 1_000_000_000 {
                return fail(UserErr::new(
                    &["input", "quantities", &idx, "quantity"],
                    "The total quantity can't be higher than 1,000,000,000.",
                    "INVALID_QUANTITY_TOO_HIGH",
                ));
            }
            if plan.iter().any(|(_, i, l, _, _)| *i == item && *l == loc) {
                return fail(UserErr::new(
                    &["input", "quantities", &idx],
                    "The combination of inventoryItemId and locationId must be unique.",
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                ));
            }
            plan.push((idx, item, loc, q.quantity, guard));
        }
        let sh = shared(ctx);
        let mut st = sh.state.lock();
        for (idx, item, loc, _, guard) in &plan {
            let current = match st.level_mut(*item, *loc) {
                Ok(l) => l.available,
                Err(mut e) => {
                    if let Some(f) = e.field.as_mut() {
                        f[2] = idx.clone();
                    }
                    return fail(e);
                }
            };
            if let Some(g) = guard
                && *g != current
            {
                let (field, code) = if new_rule {
                    ("changeFromQuantity", "CHANGE_FROM_QUANTITY_STALE")
                } else {
                    ("compareQuantity", "COMPARE_QUANTITY_STALE")
                };
                return fail(UserErr::new(
                    &["input", "quantities", idx, field],
                    "The specified compare quantity does not match the current quantity.",
                    code,
                ));
            }
        }
        let (changes, now) = st.at_one_instant(|st| {
            let mut changes = Vec::new();
            for (_, item, loc, qty, _) in plan {
                let (delta, after) = st
                    .set_available(item, loc, qty, None)
                    .map_err(|e| err(e.message, "INTERNAL_SERVER_ERROR"))?;
                changes.push(InventoryChange {
                    name: input.name.clone(),
                    delta,
                    quantity_after_change: after,
                    item,
                    location: loc,
                });
            }
            Ok::<_, async_graphql::Error>(changes)
        });
        let changes = changes?;
        let id = st.new_id();
        Ok(InventorySetQuantitiesPayload {
            inventory_adjustment_group: Some(InventoryAdjustmentGroup {
                id,
                created_at: now,
                reason: input.reason,
                reference_document_uri: input.reference_document_uri,
                changes,
            }),
            user_errors: Vec::new(),
        })
        }
        .await;
        result.map(Some)
    }

    async fn inventory_adjust_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventoryAdjustQuantitiesInput,
    ) -> async_graphql::Result<Option<InventoryAdjustQuantitiesPayload>> {
        let result: async_graphql::Result<InventoryAdjustQuantitiesPayload> = async move {
            let rq = ctx.data_unchecked::<ReqCtx>();
            if rq.at_least("2026-04") && rq.idempotency_key.lock().is_none() {
                return Err(err(
                    "The @idempotent directive is required for this mutation.",
                    "IDEMPOTENCY_KEY_REQUIRED",
                ));
            }
            if input.changes.len() > MAX_PAGE as usize {
                return Err(input_too_large(input.changes.len()));
            }
            let fail = |e: UserErr| {
                Ok(InventoryAdjustQuantitiesPayload {
                    inventory_adjustment_group: None,
                    user_errors: vec![e.into()],
                })
            };
            if input.name != "available" && input.name != "on_hand" {
                return fail(UserErr::new(
                    &["input", "name"],
                    "The quantity name must be 'available' or 'on_hand' in this simulator.",
                    "INVALID_QUANTITY_NAME",
                ));
            }
            if !REASONS.contains(&input.reason.as_str()) {
                return fail(UserErr::new(
                    &["input", "reason"],
                    "The specified reason is invalid.",
                    "INVALID_REASON",
                ));
            }
            let mut plan = Vec::new();
            for c in &input.changes {
                let item = parse_id("InventoryItem", &c.inventory_item_id, "inventoryItemId")?;
                let loc = parse_id("Location", &c.location_id, "locationId")?;
                plan.push((item, loc, c.delta));
            }
            let sh = shared(ctx);
            let mut st = sh.state.lock();
            for (i, (item, loc, _)) in plan.iter().enumerate() {
                if let Err(mut e) = st.level_mut(*item, *loc) {
                    e.field = Some(vec![
                        "input".into(),
                        "changes".into(),
                        i.to_string(),
                        e.field.and_then(|f| f.last().cloned()).unwrap_or_default(),
                    ]);
                    return fail(e);
                }
            }
            let (changes, now) = st.at_one_instant(|st| {
                let mut changes = Vec::new();
                for (item, loc, delta) in plan {
                    let after = st
                        .adjust_available(item, loc, delta)
                        .map_err(|e| err(e.message, "INTERNAL_SERVER_ERROR"))?;
                    changes.push(InventoryChange {
                        name: input.name.clone(),
                        delta,
                        quantity_after_change: after,
                        item,
                        location: loc,
                    });
                }
                Ok::<_, async_graphql::Error>(changes)
            });
            let changes = changes?;
            let id = st.new_id();
            Ok(InventoryAdjustQuantitiesPayload {
                inventory_adjustment_group: Some(InventoryAdjustmentGroup {
                    id,
                    created_at: now,
                    reason: input.reason,
                    reference_document_uri: input.reference_document_uri,
                    changes,
                }),
                user_errors: Vec::new(),
            })
        }
        .await;
        result.map(Some)
    }

    async fn customer_create(
        &self,
        ctx: &Context<'_>,
        input: CustomerInput,
    ) -> async_graphql::Result<Option<CustomerCreatePayload>> {
        let result: async_graphql::Result<CustomerCreatePayload> = async move {
            if input.id.is_some() {
                return Ok(CustomerCreatePayload {
                    customer: None,
                    user_errors: vec![UserError {
                        field: Some(vec!["id".into()]),
                        message: "Id must not be set when creating a customer".into(),
                    }],
                });
            }
            let (customer, user_errors) = upsert_customer(ctx, input, None)?;
            Ok(CustomerCreatePayload {
                customer,
                user_errors,
            })
        }
        .await;
        result.map(Some)
    }

    /// Deletes a customer (fires `customers/delete`); refused for a customer with orders, as
    /// Shopify does (`userErrors`, nothing deleted).
    async fn customer_delete(
        &self,
        ctx: &Context<'_>,
        input: CustomerDeleteInput,
    ) -> async_graphql::Result<Option<CustomerDeletePayload>> {
        let cid = parse_id("Customer", &input.id, "input.id")?;
        let result = {
            let sh = shared(ctx);
            let mut st = sh.state.lock();
            st.delete_customer(cid)
        };
        let shop = product_crud::shop_of(ctx);
        Ok(Some(match result {
            Ok(()) => CustomerDeletePayload {
                deleted_customer_id: Some(input.id),
                shop,
                user_errors: Vec::new(),
            },
            Err(e) => CustomerDeletePayload {
                deleted_customer_id: None,
                shop,
                user_errors: vec![UserError {
                    field: Some(vec!["id".into()]),
                    message: e.message.clone(),
                }],
            },
        }))
    }

    async fn customer_update(
        &self,
        ctx: &Context<'_>,
        input: CustomerInput,
    ) -> async_graphql::Result<Option<CustomerUpdatePayload>> {
        let result: async_graphql::Result<CustomerUpdatePayload> = async move {
            let Some(id) = &input.id else {
                return Ok(CustomerUpdatePayload {
                    customer: None,
                    user_errors: vec![UserError {
                        field: Some(vec!["id".into()]),
                        message: "Customer does not exist".into(),
                    }],
                });
            };
            let id = parse_id("Customer", id, "input.id")?;
            if input.email_marketing_consent.is_some() {
                return Ok(CustomerUpdatePayload {
                    customer: None,
                    user_errors: vec![UserError {
                        field: Some(vec!["emailMarketingConsent".into()]),
                        message: "To update emailMarketingConsent, please use the customerEmailMarketingConsentUpdate Mutation instead".into(),
                    }],
                });
            }
            let (customer, user_errors) = upsert_customer(ctx, input, Some(id))?;
            Ok(CustomerUpdatePayload {
                customer,
                user_errors,
            })
        }
        .await;
        result.map(Some)
    }

    /// Changes a customer's email marketing consent: only `SUBSCRIBED`, `UNSUBSCRIBED` and
    /// `PENDING` are accepted, and the customer must have an email address.
    async fn customer_email_marketing_consent_update(
        &self,
        ctx: &Context<'_>,
        input: CustomerEmailMarketingConsentUpdateInput,
    ) -> async_graphql::Result<Option<CustomerEmailMarketingConsentUpdatePayload>> {
        let id = parse_id("Customer", &input.customer_id, "input.customerId")?;
        let fail = |field: &str, message: &str, code: &str| {
            Ok(Some(CustomerEmailMarketingConsentUpdatePayload {
                customer: None,
                user_errors: vec![CustomerEmailMarketingConsentUpdateUserError {
                    field: Some(vec!["input".into(), field.into()]),
                    message: message.into(),
                    code: Some(code.into()),
                }],
            }))
        };
        let state = input.email_marketing_consent.marketing_state;
        if !matches!(
            state,
            CustomerEmailMarketingState::Subscribed
                | CustomerEmailMarketingState::Unsubscribed
                | CustomerEmailMarketingState::Pending
        ) {
            return fail(
                "emailMarketingConsent",
                "Marketing state is not included in the list",
                "INCLUSION",
            );
        }
        let sh = shared(ctx);
        let mut st = sh.state.lock();
        match st.customers.get(&id) {
            None => return fail("customerId", "Customer not found", "INVALID"),
            Some(c) if c.email.is_none() => {
                return fail(
                    "customerId",
                    "Customer must have an email address",
                    "MISSING_ARGUMENT",
                );
            }
            Some(_) => {}
        }
        let spec = CustomerSpec {
            id: Some(id),
            email_marketing: Some(state.as_str().to_owned()),
            ..CustomerSpec::default()
        };
        match st.customer_upsert(spec, Actor::Api) {
            Ok(cid) => Ok(Some(CustomerEmailMarketingConsentUpdatePayload {
                customer: st.customers.get(&cid).cloned().map(Customer),
                user_errors: Vec::new(),
            })),
            Err(errs) => Ok(Some(CustomerEmailMarketingConsentUpdatePayload {
                customer: None,
                user_errors: errs
                    .into_iter()
                    .map(|e| CustomerEmailMarketingConsentUpdateUserError {
                        field: e.field,
                        message: e.message,
                        code: e.code.or(Some("INVALID".into())),
                    })
                    .collect(),
            })),
        }
    }

    async fn webhook_subscription_create(
        &self,
        ctx: &Context<'_>,
        topic: WebhookSubscriptionTopic,
        webhook_subscription: WebhookSubscriptionInput,
    ) -> async_graphql::Result<Option<WebhookSubscriptionCreatePayload>> {
        let result: async_graphql::Result<WebhookSubscriptionCreatePayload> = async move {
            let uri = webhook_subscription
                .uri
                .clone()
                .or(webhook_subscription.callback_url.clone().map(|u| u.0));
            let fail = |field: &str, message: &str| {
                Ok(WebhookSubscriptionCreatePayload {
                    webhook_subscription: None,
                    user_errors: vec![UserError {
                        field: Some(vec!["webhookSubscription".into(), field.into()]),
                        message: message.into(),
                    }],
                })
            };
            let Some(uri) = uri else {
                return fail("uri", "Address can't be blank");
            };
            if webhook_subscription.format == Some(WebhookSubscriptionFormat::Xml) {
                return fail("format", "Format XML is not supported by the simulator");
            }
            if reqwest::Url::parse(&uri)
                .map(|u| u.scheme() != "http" && u.scheme() != "https")
                .unwrap_or(true)
            {
                return fail("callbackUrl", "Address is invalid");
            }
            let rq = ctx.data_unchecked::<ReqCtx>();
            let sh = shared(ctx);
            let now = sh.state.lock().clock.now();
            match sh.hub.subscribe(topic.topic(), &uri, &rq.version, now) {
                Ok(sub) => Ok(WebhookSubscriptionCreatePayload {
                    webhook_subscription: Some(WebhookSubscription(sub)),
                    user_errors: Vec::new(),
                }),
                Err(message) => fail("callbackUrl", &message),
            }
        }
        .await;
        result.map(Some)
    }

    async fn webhook_subscription_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<WebhookSubscriptionDeletePayload>> {
        let result: async_graphql::Result<WebhookSubscriptionDeletePayload> = async move {
            let n = parse_id("WebhookSubscription", &id, "id")?;
            if shared(ctx).hub.unsubscribe(n) {
                Ok(WebhookSubscriptionDeletePayload {
                    deleted_webhook_subscription_id: Some(id),
                    user_errors: Vec::new(),
                })
            } else {
                Ok(WebhookSubscriptionDeletePayload {
                    deleted_webhook_subscription_id: None,
                    user_errors: vec![UserError {
                        field: Some(vec!["id".into()]),
                        message: "Webhook subscription does not exist".into(),
                    }],
                })
            }
        }
        .await;
        result.map(Some)
    }
}

fn upsert_customer(
    ctx: &Context<'_>,
    input: CustomerInput,
    id: Option<u64>,
) -> async_graphql::Result<(Option<Customer>, Vec<UserError>)> {
    if let Some(t) = &input.tags
        && t.len() > MAX_PAGE as usize
    {
        return Err(input_too_large(t.len()));
    }
    let spec = CustomerSpec {
        id,
        email: string_opt(input.email),
        first_name: string_opt(input.first_name),
        last_name: string_opt(input.last_name),
        phone: string_opt(input.phone),
        tags: input.tags,
        tax_exempt: input.tax_exempt,
        email_marketing: input
            .email_marketing_consent
            .map(|c| c.marketing_state.as_str().to_owned()),
        addresses: input.addresses.map(|list| {
            list.into_iter()
                .map(|a| crate::checkout::Address {
                    first_name: a.first_name,
                    last_name: a.last_name,
                    company: a.company,
                    address1: a.address1,
                    address2: a.address2,
                    city: a.city,
                    province_code: a.province_code,
                    country_code: a.country_code,
                    zip: a.zip,
                    phone: a.phone,
                })
                .collect()
        }),
    };
    let sh = shared(ctx);
    let mut st = sh.state.lock();
    match st.customer_upsert(spec, Actor::Api) {
        Ok(cid) => Ok((st.customers.get(&cid).cloned().map(Customer), Vec::new())),
        Err(errs) => Ok((None, errs.into_iter().map(Into::into).collect())),
    }
}

// ---------------------------------------------------------------------------------------------
// @idempotent(key:)

struct Idempotent {
    key: String,
}

fn fingerprint(ctx: &Context<'_>) -> String {
    let field = &ctx.item.node;
    let vars = &ctx.query_env.variables;
    let args: Vec<String> = field
        .arguments
        .iter()
        .map(|(name, value)| {
            let v = value
                .node
                .clone()
                .into_const_with(|var| Ok::<_, ()>(vars.get(&var).cloned().unwrap_or(Value::Null)))
                .unwrap_or(Value::Null);
            format!("{}={}", name.node, v)
        })
        .collect();
    format!("{}({})", field.name.node, args.join(","))
}

#[async_graphql::async_trait::async_trait]
impl CustomDirective for Idempotent {
    async fn resolve_field(
        &self,
        ctx: &Context<'_>,
        resolve: ResolveFut<'_>,
    ) -> ServerResult<Option<Value>> {
        let sh = shared(ctx);
        let rq = ctx.data_unchecked::<ReqCtx>();
        let fp = fingerprint(ctx);
        if self.key.is_empty() || self.key.len() > 255 {
            return Err(ServerError::new(
                "The idempotency key must be 1 to 255 characters.",
                Some(ctx.item.pos),
            ));
        }
        {
            let mut st = sh.state.lock();
            match st.idempotency.get(&self.key) {
                Some((stored_fp, _)) if stored_fp != &fp => {
                    let mut e = ServerError::new(
                        "The idempotency key was already used with different arguments.",
                        Some(ctx.item.pos),
                    );
                    let mut ext = async_graphql::ErrorExtensionValues::default();
                    ext.set("code", "IDEMPOTENCY_KEY_PARAMETER_MISMATCH");
                    e.extensions = Some(ext);
                    return Err(e);
                }
                Some((_, Value::Null)) => {
                    let mut e = ServerError::new(
                        "A request with this idempotency key is already in progress.",
                        Some(ctx.item.pos),
                    );
                    let mut ext = async_graphql::ErrorExtensionValues::default();
                    ext.set("code", "IDEMPOTENCY_CONCURRENT_REQUEST");
                    e.extensions = Some(ext);
                    return Err(e);
                }
                Some((_, stored)) => return Ok(Some(stored.clone())),
                None => {
                    st.idempotency
                        .insert(self.key.clone(), (fp.clone(), Value::Null));
                }
            }
        }
        *rq.idempotency_key.lock() = Some(self.key.clone());
        let result = resolve.await;
        *rq.idempotency_key.lock() = None;
        let mut st = sh.state.lock();
        match &result {
            Ok(Some(v)) if *v != Value::Null => {
                st.idempotency.insert(self.key.clone(), (fp, v.clone()));
            }
            _ => {
                // A failed execution does not consume the key.
                st.idempotency.remove(&self.key);
            }
        }
        result
    }
}

#[Directive(location = "Field")]
fn idempotent(key: String) -> impl CustomDirective {
    Idempotent { key }
}
