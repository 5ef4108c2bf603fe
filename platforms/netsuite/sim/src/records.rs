//! The record store: record types and their exact field sets, write validation (unknown
//! fields, types, references, external ids), upsert / patch semantics, inventory adjustments
//! that move stock, and rendering records as the REST record API returns them.

use crate::clock::format_datetime;
use crate::error::NsError;
use chrono::{DateTime, NaiveDate, Utc};
use http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The record types the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// `inventoryItem` (kind `variant` for weft).
    InventoryItem,
    /// `customer`.
    Customer,
    /// `salesOrder`.
    SalesOrder,
    /// `inventoryAdjustment`: receipts and corrections of quantity on hand.
    InventoryAdjustment,
    /// `location` (read-only, seeded).
    Location,
    /// `itemFulfillment`: created only by transforming a sales order; lowers on hand and the
    /// order's commitment.
    ItemFulfillment,
    /// `creditMemo` (SuiteQL type `CustCred`): a stand-alone credit memo; its inventory item
    /// lines return their quantity to on hand at the line's location, its non-inventory lines
    /// credit an amount only.
    CreditMemo,
}

impl RecordType {
    /// Every record type, in a stable order.
    pub const ALL: [RecordType; 7] = [
        RecordType::InventoryItem,
        RecordType::Customer,
        RecordType::SalesOrder,
        RecordType::InventoryAdjustment,
        RecordType::Location,
        RecordType::ItemFulfillment,
        RecordType::CreditMemo,
    ];

    /// The name used in URLs and errors (`inventoryItem`).
    pub fn name(self) -> &'static str {
        match self {
            RecordType::InventoryItem => "inventoryItem",
            RecordType::Customer => "customer",
            RecordType::SalesOrder => "salesOrder",
            RecordType::InventoryAdjustment => "inventoryAdjustment",
            RecordType::Location => "location",
            RecordType::ItemFulfillment => "itemFulfillment",
            RecordType::CreditMemo => "creditMemo",
        }
    }

    /// The SuiteQL `transaction.type` of a transaction record type.
    pub fn transaction_type(self) -> Option<&'static str> {
        match self {
            RecordType::SalesOrder => Some("SalesOrd"),
            RecordType::InventoryAdjustment => Some("InvAdjst"),
            RecordType::ItemFulfillment => Some("ItemShip"),
            RecordType::CreditMemo => Some("CustCred"),
            _ => None,
        }
    }

    /// Parses a URL record type name (NetSuite matches them case-insensitively).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }

    /// The prefix of free custom fields on this type.
    fn custom_prefix(self) -> Option<&'static str> {
        match self {
            RecordType::InventoryItem => Some("custitem_"),
            RecordType::Customer => Some("custentity_"),
            RecordType::SalesOrder
            | RecordType::InventoryAdjustment
            | RecordType::ItemFulfillment
            | RecordType::CreditMemo => Some("custbody_"),
            RecordType::Location => None,
        }
    }

    /// Whether `name` is a field of this record type (body field, read-only field or custom).
    pub fn has_field(self, name: &str) -> bool {
        self.schema().iter().any(|f| f.name == name)
            || self.read_only().contains(&name)
            || self.custom_prefix().is_some_and(|p| name.starts_with(p))
            || (self == RecordType::InventoryItem && matrix_option_field(name).is_some())
    }

    /// Writable fields.
    fn schema(self) -> &'static [Field] {
        match self {
            RecordType::InventoryItem => ITEM_FIELDS,
            RecordType::Customer => CUSTOMER_FIELDS,
            RecordType::SalesOrder => SALES_ORDER_FIELDS,
            RecordType::InventoryAdjustment => ADJUSTMENT_FIELDS,
            RecordType::Location => &[],
            RecordType::ItemFulfillment => FULFILLMENT_FIELDS,
            RecordType::CreditMemo => CREDIT_MEMO_FIELDS,
        }
    }

    /// Fields the API returns but never accepts in a request body.
    fn read_only(self) -> &'static [&'static str] {
        match self {
            RecordType::InventoryItem => &["id", "lastModifiedDate", "createdDate", "locations"],
            RecordType::Customer => &["id", "lastModifiedDate", "dateCreated"],
            RecordType::SalesOrder => &[
                "id",
                "lastModifiedDate",
                "createdDate",
                "subtotal",
                "discountTotal",
                "taxTotal",
                "total",
            ],
            RecordType::InventoryAdjustment => &["id", "lastModifiedDate", "createdDate"],
            RecordType::Location => &["id", "name", "isInactive"],
            RecordType::ItemFulfillment => {
                &["id", "lastModifiedDate", "createdDate", "createdFrom"]
            }
            RecordType::CreditMemo => &["id", "lastModifiedDate", "createdDate", "total"],
        }
    }

    /// The creation-date field's name on this type.
    fn created_field(self) -> &'static str {
        match self {
            RecordType::Customer => "dateCreated",
            _ => "createdDate",
        }
    }
}

/// How a field's value is written and stored.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Bool,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// Sales order status letter `A`..`H`.
    Status,
    Ref(RefTarget),
    Lines(&'static [Field]),
    /// A subrecord (an address): an object of these fields, replaced whole when written.
    Subrecord(&'static [Field]),
}

/// What a reference field points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefTarget {
    Record(RecordType),
    Subsidiary,
    Account,
    /// A ship item (`shipMethod`): fixed ids, see [`Db::new`].
    ShipItem,
    /// A discount item (`discountItem`): fixed ids, see [`Db::new`].
    DiscountItem,
    /// The item of a credit memo line: an inventory item (by id or externalId) or one of the
    /// account's non-inventory sale items (fixed ids, see [`Db::new`]).
    CreditItem,
    /// A weight unit (`weightUnit`): 1 lb, 2 oz, 3 kg, 4 g.
    WeightUnit,
    /// A currency (`currencyPage` of a price line): 1 USD, 2 GBP, 3 EUR, 4 CAD.
    Currency,
    /// A price level (`priceLevel` of a price line): 1 Base Price, 2 Alternate Price 1,
    /// 3 Alternate Price 2, 4 Alternate Price 3, 5 Online Price.
    PriceLevel,
    /// A customer's `globalSubscriptionStatus` (a list, not a record: rendered without links).
    SubscriptionStatus,
}

/// The internal id of the account's non-inventory sale item "Refund - Not Returned": a credit
/// memo line on it credits an amount without returning anything to stock.
pub const NON_INVENTORY_REFUND_ITEM: u64 = 1;

/// The currencies of price lines, by internal id.
pub const CURRENCIES: [(u64, &str); 4] = [(1, "USD"), (2, "GBP"), (3, "EUR"), (4, "CAD")];

/// The price levels of price lines, by internal id.
pub const PRICE_LEVELS: [(u64, &str); 5] = [
    (1, "Base Price"),
    (2, "Alternate Price 1"),
    (3, "Alternate Price 2"),
    (4, "Alternate Price 3"),
    (5, "Online Price"),
];

/// A price line's quantity (`{"value": 0}`: the first quantity break).
const QUANTITY_FIELDS: &[Field] = &[f("value", Kind::Number)];

/// A line of an item's `price` sublist (the pricing matrix): one price per currency, price
/// level and quantity break.
const PRICE_FIELDS: &[Field] = &[
    f("currencyPage", Kind::Ref(RefTarget::Currency)),
    f("priceLevel", Kind::Ref(RefTarget::PriceLevel)),
    f("quantity", Kind::Subrecord(QUANTITY_FIELDS)),
    f("price", Kind::Number),
];

/// The values of a customer's `globalSubscriptionStatus`, by id.
pub const SUBSCRIPTION_STATUSES: [(u64, &str); 4] = [
    (1, "Soft Opt-In"),
    (2, "Soft Opt-Out"),
    (3, "Confirmed Opt-In"),
    (4, "Confirmed Opt-Out"),
];

/// The weight units of `weightUnit`, by internal id.
pub const WEIGHT_UNITS: [(u64, &str); 4] = [(1, "lb"), (2, "oz"), (3, "kg"), (4, "g")];

/// The custom item field behind a matrix option field (`matrixOptioncustitem_size` ->
/// `custitem_size`): a child matrix item names its value of each of the parent's options in
/// one such field.
pub fn matrix_option_field(name: &str) -> Option<&str> {
    name.strip_prefix("matrixOption")
        .filter(|f| f.starts_with("custitem_") && f.len() > "custitem_".len())
}

/// One writable field.
#[derive(Debug)]
struct Field {
    name: &'static str,
    kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const ITEM_FIELDS: &[Field] = &[
    f("externalId", Kind::Text),
    f("itemId", Kind::Text),
    f("displayName", Kind::Text),
    f("salesDescription", Kind::Text),
    f("upcCode", Kind::Text),
    f("vendorName", Kind::Text),
    f("isInactive", Kind::Bool),
    f("basePrice", Kind::Number),
    f("weight", Kind::Number),
    f("weightUnit", Kind::Ref(RefTarget::WeightUnit)),
    f("pageTitle", Kind::Text),
    f("storeDescription", Kind::Text),
    // `PARENT` or `CHILD` (a matrix item); absent for an item without options.
    f("matrixType", Kind::Text),
    // The matrix parent of a `CHILD` ("Subitem of").
    f(
        "parent",
        Kind::Ref(RefTarget::Record(RecordType::InventoryItem)),
    ),
    // The pricing matrix (Multiple Currencies, Multiple Prices, Quantity Pricing).
    f("price", Kind::Lines(PRICE_FIELDS)),
];

/// A line of a customer's `addressBook` sublist.
const ADDRESS_BOOK_FIELDS: &[Field] = &[
    f("defaultBilling", Kind::Bool),
    f("defaultShipping", Kind::Bool),
    f("isResidential", Kind::Bool),
    f("label", Kind::Text),
    f("addressBookAddress", Kind::Subrecord(ADDRESS_FIELDS)),
];

const CUSTOMER_FIELDS: &[Field] = &[
    f("externalId", Kind::Text),
    f("entityId", Kind::Text),
    f("companyName", Kind::Text),
    f("firstName", Kind::Text),
    f("lastName", Kind::Text),
    f("email", Kind::Text),
    f("phone", Kind::Text),
    f("isPerson", Kind::Bool),
    f("taxable", Kind::Bool),
    f(
        "globalSubscriptionStatus",
        Kind::Ref(RefTarget::SubscriptionStatus),
    ),
    f("subsidiary", Kind::Ref(RefTarget::Subsidiary)),
    f("addressBook", Kind::Lines(ADDRESS_BOOK_FIELDS)),
];

const ORDER_LINE_FIELDS: &[Field] = &[
    f(
        "item",
        Kind::Ref(RefTarget::Record(RecordType::InventoryItem)),
    ),
    f("quantity", Kind::Number),
    f("rate", Kind::Number),
    f("amount", Kind::Number),
    f("description", Kind::Text),
    f("taxRate1", Kind::Number),
    f("tax1Amt", Kind::Number),
    f(
        "location",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
    f("isClosed", Kind::Bool),
    // Read-only (see `LINE_READ_ONLY`): kept by the simulator, rendered, refused on write.
    f("line", Kind::Number),
    f("quantityCommitted", Kind::Number),
    f("quantityFulfilled", Kind::Number),
    f("quantityBackOrdered", Kind::Number),
];

/// Sublist line fields a client may read but not write.
const LINE_READ_ONLY: &[&str] = &[
    "line",
    "quantityCommitted",
    "quantityFulfilled",
    "quantityBackOrdered",
];

const FULFILLMENT_LINE_FIELDS: &[Field] = &[
    f("orderLine", Kind::Number),
    f(
        "item",
        Kind::Ref(RefTarget::Record(RecordType::InventoryItem)),
    ),
    f(
        "location",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
    f("quantity", Kind::Number),
    f("itemReceive", Kind::Bool),
];

/// A line of a credit memo's `item` sublist.
const CREDIT_MEMO_LINE_FIELDS: &[Field] = &[
    f("item", Kind::Ref(RefTarget::CreditItem)),
    f("quantity", Kind::Number),
    f("rate", Kind::Number),
    f("amount", Kind::Number),
    f("description", Kind::Text),
    f(
        "location",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
];

const CREDIT_MEMO_FIELDS: &[Field] = &[
    f("externalId", Kind::Text),
    f("tranId", Kind::Text),
    f("entity", Kind::Ref(RefTarget::Record(RecordType::Customer))),
    f("tranDate", Kind::Date),
    f("memo", Kind::Text),
    f("otherRefNum", Kind::Text),
    f("subsidiary", Kind::Ref(RefTarget::Subsidiary)),
    f(
        "location",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
    f("item", Kind::Lines(CREDIT_MEMO_LINE_FIELDS)),
];

const PACKAGE_FIELDS: &[Field] = &[
    f("packageTrackingNumber", Kind::Text),
    f("packageDescr", Kind::Text),
    f("packageWeight", Kind::Number),
];

const FULFILLMENT_FIELDS: &[Field] = &[
    f("externalId", Kind::Text),
    f("tranId", Kind::Text),
    f("tranDate", Kind::Date),
    f("memo", Kind::Text),
    f("shipStatus", Kind::Text),
    f("shipCarrier", Kind::Text),
    f("shipMethod", Kind::Text),
    f("item", Kind::Lines(FULFILLMENT_LINE_FIELDS)),
    f("package", Kind::Lines(PACKAGE_FIELDS)),
];

/// The address subrecord (`billingAddress`, `shippingAddress`).
const ADDRESS_FIELDS: &[Field] = &[
    f("addressee", Kind::Text),
    f("attention", Kind::Text),
    f("addr1", Kind::Text),
    f("addr2", Kind::Text),
    f("addr3", Kind::Text),
    f("city", Kind::Text),
    f("state", Kind::Text),
    f("zip", Kind::Text),
    f("country", Kind::Text),
    f("addrPhone", Kind::Text),
];

const SALES_ORDER_FIELDS: &[Field] = &[
    f("externalId", Kind::Text),
    f("tranId", Kind::Text),
    f("entity", Kind::Ref(RefTarget::Record(RecordType::Customer))),
    f("tranDate", Kind::Date),
    f("orderStatus", Kind::Status),
    f("memo", Kind::Text),
    f("otherRefNum", Kind::Text),
    f("subsidiary", Kind::Ref(RefTarget::Subsidiary)),
    f(
        "location",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
    f("item", Kind::Lines(ORDER_LINE_FIELDS)),
    f("billingAddress", Kind::Subrecord(ADDRESS_FIELDS)),
    f("shippingAddress", Kind::Subrecord(ADDRESS_FIELDS)),
    f("shipMethod", Kind::Ref(RefTarget::ShipItem)),
    f("shippingCost", Kind::Number),
    f("shippingTax1Amt", Kind::Number),
    f("discountItem", Kind::Ref(RefTarget::DiscountItem)),
    f("discountRate", Kind::Number),
];

const ADJUSTMENT_LINE_FIELDS: &[Field] = &[
    f(
        "item",
        Kind::Ref(RefTarget::Record(RecordType::InventoryItem)),
    ),
    f(
        "location",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
    f("adjustQtyBy", Kind::Number),
    f("memo", Kind::Text),
];

const ADJUSTMENT_FIELDS: &[Field] = &[
    f("externalId", Kind::Text),
    f("tranId", Kind::Text),
    f("tranDate", Kind::Date),
    f("memo", Kind::Text),
    f("account", Kind::Ref(RefTarget::Account)),
    f("subsidiary", Kind::Ref(RefTarget::Subsidiary)),
    f(
        "adjLocation",
        Kind::Ref(RefTarget::Record(RecordType::Location)),
    ),
    f("inventory", Kind::Lines(ADJUSTMENT_LINE_FIELDS)),
];

/// Sales order statuses (`orderStatus`) and their names.
const ORDER_STATUSES: &[(&str, &str)] = &[
    ("A", "Pending Approval"),
    ("B", "Pending Fulfillment"),
    ("C", "Cancelled"),
    ("D", "Partially Fulfilled"),
    ("E", "Pending Billing/Partially Fulfilled"),
    ("F", "Pending Billing"),
    ("G", "Billed"),
    ("H", "Closed"),
];

/// One stored record.
#[derive(Clone, Debug)]
pub struct Record {
    /// Internal id.
    pub id: u64,
    /// Body fields in stored form (references as internal-id strings, lines as arrays).
    pub fields: Map<String, Value>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// `lastModifiedDate` (whole seconds).
    pub modified: DateTime<Utc>,
}

impl Record {
    /// A text field's value.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

/// Where a write goes.
#[derive(Clone, Debug)]
pub enum WriteTarget {
    /// POST: a new record.
    Create,
    /// PATCH by internal id.
    Update(u64),
    /// PUT by external id: create or update.
    Upsert(String),
}

/// The outcome of a successful write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Internal id of the written record.
    pub id: u64,
    /// Whether the record was created.
    pub created: bool,
}

/// Counts of writes per record type (inspection).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct WriteCounts {
    /// Records created.
    pub creates: u64,
    /// Records updated.
    pub updates: u64,
    /// Records deleted.
    pub deletes: u64,
}

/// The quantities of one item at one location, as the item's `locations` sublist and the
/// SuiteQL table `inventoryitemlocations` show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Quantities {
    /// `quantityOnHand`: moved by adjustments (receipts, corrections) and fulfilments.
    pub on_hand: f64,
    /// `quantityCommitted`: open sales order lines' committed quantity.
    pub committed: f64,
    /// `quantityAvailable` = on hand - committed.
    pub available: f64,
    /// `quantityOnOrder` (purchase orders are not modelled: always 0).
    pub on_order: f64,
    /// `quantityBackOrdered`: open sales order quantity that could not be committed.
    pub back_ordered: f64,
}

/// All records of one simulated account.
#[derive(Debug)]
pub struct Db {
    records: BTreeMap<RecordType, BTreeMap<u64, Record>>,
    eids: HashMap<(RecordType, String), u64>,
    item_names: HashMap<String, u64>,
    /// Quantity on hand per (item, location).
    stock: BTreeMap<(u64, u64), f64>,
    /// Quantity committed to open sales order lines per (item, location) (derived).
    committed: BTreeMap<(u64, u64), f64>,
    /// Quantity on open sales order lines that could not be committed (derived).
    backordered: BTreeMap<(u64, u64), f64>,
    next_if_number: u64,
    next_item: u64,
    next_entity: u64,
    next_txn: u64,
    next_so_number: u64,
    next_adj_number: u64,
    subsidiaries: BTreeMap<u64, String>,
    accounts: BTreeMap<u64, String>,
    ship_items: BTreeMap<u64, String>,
    discount_items: BTreeMap<u64, String>,
    /// Non-inventory sale items (a credit memo's lines for refunds not returned to stock).
    noninventory_items: BTreeMap<u64, String>,
    next_cm_number: u64,
    counts: BTreeMap<RecordType, WriteCounts>,
    /// The values of each matrix option (custom item field), in order; value id = index + 1.
    matrix_values: BTreeMap<String, Vec<String>>,
    /// Saves a user event script would see (`None` until pushes are on), and what wakes the
    /// pusher.
    saves: Option<(Vec<Saved>, Arc<tokio::sync::Notify>)>,
    /// Every record deleted, in order: SuiteQL's `deletedrecord` table.
    deleted: Vec<Deleted>,
}

/// A deleted record, as SuiteQL's `deletedrecord` table lists it.
#[derive(Clone, Debug)]
pub struct Deleted {
    /// The record's type.
    pub record_type: RecordType,
    /// Its internal id.
    pub id: u64,
    /// Its name (an item's `itemId`, a customer's `entityId`, a transaction's `tranId`).
    pub name: Option<String>,
    /// When it was deleted.
    pub at: DateTime<Utc>,
}

/// A record save as a user event script's `afterSubmit` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The record's type.
    pub record_type: RecordType,
    /// Its internal id.
    pub id: u64,
    /// `create`, `edit` or `delete`.
    pub event: &'static str,
    /// Its `lastModifiedDate` after the save (the time of a delete).
    pub modified: DateTime<Utc>,
}

/// `true` if `s` is a valid NetSuite external id (letters, digits, `_`, `-`).
pub fn valid_external_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn rest_href(base: &str, rt: &str, id: u64) -> String {
    format!("{base}/services/rest/record/v1/{rt}/{id}")
}

fn self_link(href: String) -> Value {
    json!([{"rel": "self", "href": href}])
}

/// Renders a quantity: integral values as JSON integers.
fn qty(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// Each price line names a currency and a price level, and no two lines share a currency,
/// level and quantity break.
fn check_price_lines(fields: &Map<String, Value>) -> Result<(), NsError> {
    let Some(Value::Array(lines)) = fields.get("price") else {
        return Ok(());
    };
    let mut seen = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let path = format!("price.items[{i}]");
        let currency = l
            .get("currencyPage")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("Currency", &format!("{path}.currencyPage")))?;
        let level = l
            .get("priceLevel")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("Price Level", &format!("{path}.priceLevel")))?;
        let quantity = l
            .pointer("/quantity/value")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let key = (currency.to_owned(), level.to_owned(), quantity.to_bits());
        if seen.contains(&key) {
            return Err(NsError::bad_request(
                "INVALID_FLD_VALUE",
                format!("Invalid {path}: a price for currency {currency}, price level {level} and quantity {quantity} is already given."),
            )
            .at(path));
        }
        seen.push(key);
    }
    Ok(())
}

fn missing(label: &str, path: &str) -> NsError {
    NsError::bad_request("USER_ERROR", format!("Please enter value(s) for: {label}")).at(path)
}

impl Db {
    /// A store with the given seeded locations (ids 1..), one subsidiary and one adjustment
    /// account.
    pub fn new(location_names: &[String], now: DateTime<Utc>) -> Self {
        let mut db = Db {
            records: RecordType::ALL
                .into_iter()
                .map(|t| (t, BTreeMap::new()))
                .collect(),
            eids: HashMap::new(),
            item_names: HashMap::new(),
            stock: BTreeMap::new(),
            committed: BTreeMap::new(),
            backordered: BTreeMap::new(),
            next_if_number: 1,
            next_item: 1000,
            next_entity: 300,
            next_txn: 9000,
            next_so_number: 1001,
            next_adj_number: 1,
            subsidiaries: BTreeMap::from([(1, "Parent Company".to_owned())]),
            accounts: BTreeMap::from([(1, "Inventory Adjustment".to_owned())]),
            ship_items: BTreeMap::from([
                (1, "Ground".to_owned()),
                (2, "Express".to_owned()),
                (3, "Pickup".to_owned()),
            ]),
            discount_items: BTreeMap::from([(1, "Web Discount".to_owned())]),
            noninventory_items: BTreeMap::from([(
                NON_INVENTORY_REFUND_ITEM,
                "Refund - Not Returned".to_owned(),
            )]),
            next_cm_number: 1,
            counts: BTreeMap::new(),
            matrix_values: BTreeMap::new(),
            saves: None,
            deleted: Vec::new(),
        };
        for (i, name) in location_names.iter().enumerate() {
            let id = i as u64 + 1;
            let mut fields = Map::new();
            fields.insert("name".into(), json!(name));
            fields.insert("isInactive".into(), json!(false));
            db.records
                .get_mut(&RecordType::Location)
                .expect("all types")
                .insert(
                    id,
                    Record {
                        id,
                        fields,
                        created: now,
                        modified: now,
                    },
                );
        }
        db
    }

    /// Starts keeping record saves for a user event script, waking `wake` at each.
    pub fn keep_saves(&mut self, wake: Arc<tokio::sync::Notify>) {
        self.saves.get_or_insert_with(|| (Vec::new(), wake));
    }

    /// The saves kept since the last call.
    pub fn take_saves(&mut self) -> Vec<Saved> {
        self.saves
            .as_mut()
            .map(|(v, _)| std::mem::take(v))
            .unwrap_or_default()
    }

    fn saved(&mut self, record_type: RecordType, id: u64, event: &'static str, at: DateTime<Utc>) {
        if let Some((v, wake)) = &mut self.saves {
            v.push(Saved {
                record_type,
                id,
                event,
                modified: at,
            });
            wake.notify_one();
        }
    }

    /// A record by type and internal id.
    pub fn get(&self, rt: RecordType, id: u64) -> Option<&Record> {
        self.records.get(&rt).and_then(|m| m.get(&id))
    }

    /// The internal id of the record with this external id.
    pub fn by_external_id(&self, rt: RecordType, eid: &str) -> Option<u64> {
        self.eids.get(&(rt, eid.to_owned())).copied()
    }

    /// All records of a type, by ascending internal id.
    pub fn all(&self, rt: RecordType) -> impl Iterator<Item = &Record> {
        self.records.get(&rt).into_iter().flat_map(|m| m.values())
    }

    /// Number of records of a type.
    pub fn count(&self, rt: RecordType) -> usize {
        self.records.get(&rt).map_or(0, BTreeMap::len)
    }

    /// Whether an inventory item with this `itemId` exists.
    pub fn item_id_taken(&self, item_id: &str) -> bool {
        self.item_names.contains_key(item_id)
    }

    /// Quantity on hand of an item at a location.
    pub fn on_hand(&self, item: u64, location: u64) -> f64 {
        self.stock.get(&(item, location)).copied().unwrap_or(0.0)
    }

    /// The quantities NetSuite keeps of an item at a location.
    pub fn quantities(&self, item: u64, location: u64) -> Quantities {
        let on_hand = self.on_hand(item, location);
        let committed = self
            .committed
            .get(&(item, location))
            .copied()
            .unwrap_or(0.0);
        Quantities {
            on_hand,
            committed,
            available: on_hand - committed,
            on_order: 0.0,
            back_ordered: self
                .backordered
                .get(&(item, location))
                .copied()
                .unwrap_or(0.0),
        }
    }

    /// The default location of a transaction line without one (the account's first location,
    /// standing for the user's or subsidiary's default location preference).
    fn default_location(&self) -> Option<u64> {
        self.location_ids().first().copied()
    }

    /// Seeded location ids.
    pub fn location_ids(&self) -> Vec<u64> {
        self.all(RecordType::Location).map(|r| r.id).collect()
    }

    /// Write counts per record type.
    pub fn counts(&self) -> BTreeMap<String, WriteCounts> {
        self.counts
            .iter()
            .map(|(t, c)| (t.name().to_owned(), c.clone()))
            .collect()
    }

    /// Resolves a URL id segment (`123` or `eid:abc`) to an internal id.
    pub fn resolve_segment(&self, rt: RecordType, seg: &str) -> Result<u64, NsError> {
        if let Some(eid) = seg.strip_prefix("eid:") {
            if !valid_external_id(eid) {
                return Err(invalid_eid(eid));
            }
            return self.by_external_id(rt, eid).ok_or_else(NsError::not_found);
        }
        let id: u64 = seg.parse().map_err(|_| NsError::not_found())?;
        self.get(rt, id)
            .map(|r| r.id)
            .ok_or_else(NsError::not_found)
    }

    /// The display name a reference to this record carries as `refName`.
    fn ref_name(&self, target: RefTarget, id: u64) -> Option<String> {
        match target {
            RefTarget::Subsidiary => self.subsidiaries.get(&id).cloned(),
            RefTarget::Account => self.accounts.get(&id).cloned(),
            RefTarget::ShipItem => self.ship_items.get(&id).cloned(),
            RefTarget::DiscountItem => self.discount_items.get(&id).cloned(),
            RefTarget::CreditItem => match self.noninventory_items.get(&id) {
                Some(n) => Some(n.clone()),
                None => self.ref_name(RefTarget::Record(RecordType::InventoryItem), id),
            },
            RefTarget::WeightUnit => WEIGHT_UNITS
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| (*n).to_owned()),
            RefTarget::Currency => CURRENCIES
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| (*n).to_owned()),
            RefTarget::PriceLevel => PRICE_LEVELS
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| (*n).to_owned()),
            RefTarget::SubscriptionStatus => SUBSCRIPTION_STATUSES
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| (*n).to_owned()),
            RefTarget::Record(rt) => {
                let r = self.get(rt, id)?;
                Some(match rt {
                    RecordType::InventoryItem => r.text("itemId").unwrap_or_default().to_owned(),
                    RecordType::Location => r.text("name").unwrap_or_default().to_owned(),
                    RecordType::Customer => customer_name(r),
                    _ => r.text("tranId").unwrap_or_default().to_owned(),
                })
            }
        }
    }

    fn ref_exists(&self, target: RefTarget, id: u64) -> bool {
        self.ref_name(target, id).is_some()
    }

    /// Resolves a reference object `{id}` / `{externalId}` to an internal id string.
    fn parse_ref(&self, target: RefTarget, v: &Value, path: &str) -> Result<Value, NsError> {
        let obj = v.as_object().ok_or_else(|| {
            NsError::bad_request(
                "INVALID_FLD_VALUE",
                format!("Invalid value for field {path}: a reference must be an object such as {{\"id\": \"123\"}} or {{\"externalId\": \"abc\"}}."),
            )
            .at(path)
        })?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "id" | "externalId" | "refName" | "links") {
                return Err(NsError::bad_request(
                    "INVALID_FIELD",
                    format!("Invalid field {path}.{k}: a reference accepts only id, externalId and refName."),
                )
                .at(format!("{path}.{k}")));
            }
        }
        let bad_ref = |shown: &str| {
            NsError::bad_request(
                "INVALID_KEY_OR_REF",
                format!("Invalid {path} reference key {shown}."),
            )
            .at(path)
        };
        let id = match (obj.get("id"), obj.get("externalId")) {
            (Some(id), _) => {
                let s = match id {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(bad_ref(&id.to_string())),
                };
                let n: u64 = s.parse().map_err(|_| bad_ref(&s))?;
                if !self.ref_exists(target, n) {
                    return Err(bad_ref(&s));
                }
                n
            }
            (None, Some(Value::String(eid))) => match target {
                RefTarget::Record(rt) => {
                    self.by_external_id(rt, eid).ok_or_else(|| bad_ref(eid))?
                }
                RefTarget::CreditItem => self
                    .by_external_id(RecordType::InventoryItem, eid)
                    .ok_or_else(|| bad_ref(eid))?,
                _ => return Err(bad_ref(eid)),
            },
            (None, Some(other)) => return Err(bad_ref(&other.to_string())),
            (None, None) => {
                return Err(NsError::bad_request(
                    "INVALID_KEY_OR_REF",
                    format!("Invalid {path} reference: give an id or an externalId."),
                )
                .at(path));
            }
        };
        Ok(json!(id.to_string()))
    }

    /// Validates one body value for a field and converts it to stored form (`Null` clears).
    fn parse_value(&self, kind: Kind, v: &Value, path: &str) -> Result<Value, NsError> {
        let wrong = |want: &str| {
            NsError::bad_request(
                "INVALID_FLD_VALUE",
                format!("Invalid value {v} for field {path}: expected {want}."),
            )
            .at(path)
        };
        if v.is_null() {
            return Ok(Value::Null);
        }
        match kind {
            Kind::Text => v
                .as_str()
                .map(|_| v.clone())
                .ok_or_else(|| wrong("a string")),
            Kind::Bool => v
                .as_bool()
                .map(|_| v.clone())
                .ok_or_else(|| wrong("true or false")),
            Kind::Number => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(v.clone()),
                _ => Err(wrong("a number")),
            },
            Kind::Date => {
                let s = v.as_str().ok_or_else(|| wrong("a date YYYY-MM-DD"))?;
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| wrong("a date YYYY-MM-DD"))?;
                Ok(v.clone())
            }
            Kind::Status => {
                let s = match v {
                    Value::String(s) => s.as_str(),
                    Value::Object(o) => o.get("id").and_then(Value::as_str).unwrap_or(""),
                    _ => "",
                };
                if ORDER_STATUSES.iter().any(|(k, _)| *k == s) {
                    Ok(json!(s))
                } else {
                    Err(wrong("an order status A..H"))
                }
            }
            Kind::Ref(target) => self.parse_ref(target, v, path),
            Kind::Subrecord(fields) => {
                let obj = v.as_object().ok_or_else(|| wrong("an address object"))?;
                let mut out = Map::new();
                for (k, sv) in obj {
                    if k == "links" || k == "addrText" {
                        continue;
                    }
                    let fpath = format!("{path}.{k}");
                    let field = fields.iter().find(|fd| fd.name == k).ok_or_else(|| {
                        NsError::bad_request(
                            "INVALID_FIELD",
                            format!("Invalid field {fpath}: {k} is not a field of this subrecord."),
                        )
                        .at(fpath.clone())
                    })?;
                    let pv = self.parse_value(field.kind, sv, &fpath)?;
                    if !pv.is_null() {
                        out.insert(k.clone(), pv);
                    }
                }
                if let Some(c) = out.get("country").and_then(Value::as_str)
                    && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    return Err(NsError::bad_request(
                        "INVALID_FLD_VALUE",
                        format!("Invalid value {c:?} for field {path}.country: expected a country code such as \"US\"."),
                    )
                    .at(format!("{path}.country")));
                }
                Ok(Value::Object(out))
            }
            Kind::Lines(fields) => {
                let obj = v.as_object().ok_or_else(|| wrong("{\"items\": [...]}"))?;
                if let Some(k) = obj.keys().find(|k| *k != "items" && *k != "links") {
                    return Err(NsError::bad_request(
                        "INVALID_FIELD",
                        format!("Invalid field {path}.{k}: a sublist accepts only items."),
                    )
                    .at(format!("{path}.{k}")));
                }
                let items = obj
                    .get("items")
                    .and_then(Value::as_array)
                    .ok_or_else(|| wrong("{\"items\": [...]}"))?;
                let mut lines = Vec::with_capacity(items.len());
                for (i, line) in items.iter().enumerate() {
                    let lpath = format!("{path}.items[{i}]");
                    let lobj = line.as_object().ok_or_else(|| {
                        NsError::bad_request(
                            "INVALID_FLD_VALUE",
                            format!("Invalid sublist line {lpath}: expected an object."),
                        )
                        .at(lpath.clone())
                    })?;
                    let mut out = Map::new();
                    for (k, lv) in lobj {
                        if k == "links" {
                            continue;
                        }
                        let fpath = format!("{lpath}.{k}");
                        if LINE_READ_ONLY.contains(&k.as_str()) {
                            return Err(NsError::bad_request(
                                "INVALID_FIELD",
                                format!("Invalid field {fpath}: the field is read-only."),
                            )
                            .at(fpath));
                        }
                        if k.starts_with("custcol_") && k.len() > "custcol_".len() {
                            // Free custom column fields, scalars only.
                            if lv.is_array() || lv.is_object() {
                                return Err(NsError::bad_request(
                                    "INVALID_FLD_VALUE",
                                    format!("Invalid value for custom field {fpath}."),
                                )
                                .at(fpath));
                            }
                            if !lv.is_null() {
                                out.insert(k.clone(), lv.clone());
                            }
                            continue;
                        }
                        let field = fields.iter().find(|fd| fd.name == k).ok_or_else(|| {
                            NsError::bad_request(
                                "INVALID_FIELD",
                                format!(
                                    "Invalid field {fpath}: {k} is not a field of this sublist."
                                ),
                            )
                            .at(fpath.clone())
                        })?;
                        let pv = self.parse_value(field.kind, lv, &fpath)?;
                        if !pv.is_null() {
                            out.insert(k.clone(), pv);
                        }
                    }
                    lines.push(Value::Object(out));
                }
                Ok(Value::Array(lines))
            }
        }
    }

    /// A matrix option value `{"id"}` (an existing value of the option) or `{"refName"}` (its
    /// name; a name the option does not have yet is added to it), stored as the value's name.
    fn parse_matrix_value(&self, field: &str, path: &str, v: &Value) -> Result<Value, NsError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let values = self.matrix_values.get(field);
        let bad = |shown: String| {
            NsError::bad_request(
                "INVALID_KEY_OR_REF",
                format!("Invalid {path} reference key {shown}."),
            )
            .at(path)
        };
        match (v.get("id"), v.get("refName")) {
            (Some(id), _) => {
                let text = match id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let n: usize = text.parse().map_err(|_| bad(text.clone()))?;
                values
                    .and_then(|l| n.checked_sub(1).and_then(|i| l.get(i)))
                    .map(|name| json!(name))
                    .ok_or_else(|| bad(text))
            }
            (None, Some(Value::String(name))) if !name.trim().is_empty() => Ok(json!(name)),
            _ => Err(NsError::bad_request(
                "INVALID_FLD_VALUE",
                format!("Invalid value for field {path}: a matrix option value is {{\"id\": \"1\"}} or {{\"refName\": \"M\"}}."),
            )
            .at(path)),
        }
    }

    /// The internal id of a matrix option value (its position in the option's list).
    fn matrix_value_id(&self, field: &str, name: &str) -> Option<usize> {
        self.matrix_values
            .get(field)?
            .iter()
            .position(|v| v == name)
            .map(|i| i + 1)
    }

    /// Validates a request body against the record type's field set.
    fn parse_body(&self, rt: RecordType, body: &Value) -> Result<Map<String, Value>, NsError> {
        let obj = body.as_object().ok_or_else(|| {
            NsError::bad_request("INVALID_CONTENT", "The request body must be a JSON object.")
        })?;
        let mut out = Map::new();
        for (k, v) in obj {
            if rt == RecordType::InventoryItem
                && let Some(field) = matrix_option_field(k)
            {
                out.insert(k.clone(), self.parse_matrix_value(field, k, v)?);
                continue;
            }
            if let Some(prefix) = rt.custom_prefix()
                && k.starts_with(prefix)
                && k.len() > prefix.len()
            {
                if v.is_array() {
                    return Err(NsError::bad_request(
                        "INVALID_FLD_VALUE",
                        format!("Invalid value for custom field {k}."),
                    )
                    .at(k.clone()));
                }
                out.insert(k.clone(), v.clone());
                continue;
            }
            if rt.read_only().contains(&k.as_str()) {
                return Err(NsError::bad_request(
                    "INVALID_FIELD",
                    format!(
                        "Invalid field {k}: the field is read-only on record type {}.",
                        rt.name()
                    ),
                )
                .at(k.clone()));
            }
            let field = rt.schema().iter().find(|fd| fd.name == k).ok_or_else(|| {
                NsError::bad_request(
                    "INVALID_FIELD",
                    format!(
                        "Invalid field {k}: it is not a field of record type {}.",
                        rt.name()
                    ),
                )
                .at(k.clone())
            })?;
            let pv = self.parse_value(field.kind, v, k)?;
            if k == "externalId"
                && let Some(s) = pv.as_str()
                && !valid_external_id(s)
            {
                return Err(invalid_eid(s).at("externalId"));
            }
            out.insert(k.clone(), pv);
        }
        Ok(out)
    }

    /// Applies a write (POST / PATCH / PUT-upsert) and returns the record's id.
    ///
    /// `replace` names the sublists a PATCH replaces wholesale (NetSuite's `replace` query
    /// parameter); other sublist lines in a PATCH body are added. A POST and a PUT set the
    /// sublists they carry to exactly the given lines.
    pub fn write(
        &mut self,
        rt: RecordType,
        target: WriteTarget,
        body: &Value,
        replace: &[String],
        now: DateTime<Utc>,
    ) -> Result<WriteOutcome, NsError> {
        if rt == RecordType::Location {
            return Err(NsError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "INVALID_REQUEST",
                "Location records are read-only in this account.",
            ));
        }
        let (existing_id, path_eid, replace_all) = match &target {
            WriteTarget::Create => (None, None, true),
            WriteTarget::Update(id) => {
                if self.get(rt, *id).is_none() {
                    return Err(NsError::not_found());
                }
                (Some(*id), None, false)
            }
            WriteTarget::Upsert(eid) => {
                if !valid_external_id(eid) {
                    return Err(invalid_eid(eid));
                }
                (self.by_external_id(rt, eid), Some(eid.clone()), true)
            }
        };
        let parsed = self.parse_body(rt, body)?;
        if rt == RecordType::ItemFulfillment {
            if existing_id.is_none() {
                return Err(NsError::bad_request(
                    "INVALID_REQUEST",
                    "An itemFulfillment record is created by transforming its sales order: POST /record/v1/salesOrder/{id}/!transform/itemFulfillment.",
                ));
            }
            if parsed.contains_key("item") {
                return Err(NsError::bad_request(
                    "INVALID_FIELD",
                    "The simulator does not edit the item lines of a fulfilment: delete it and transform the sales order again.",
                )
                .at("item"));
            }
        }
        if let (Some(path_eid), Some(Value::String(body_eid))) =
            (&path_eid, parsed.get("externalId"))
            && body_eid != path_eid
        {
            return Err(NsError::bad_request(
                "INVALID_FLD_VALUE",
                format!("The externalId {body_eid} in the request body differs from eid:{path_eid} in the URL."),
            )
            .at("externalId"));
        }
        if let Some(Value::String(eid)) = parsed.get("externalId")
            && let Some(other) = self.by_external_id(rt, eid)
            && Some(other) != existing_id
        {
            return Err(NsError::bad_request(
                "DUP_RCRD",
                format!(
                    "A {} record with externalId {eid} already exists (id {other}).",
                    rt.name()
                ),
            )
            .at("externalId"));
        }
        let old = existing_id.and_then(|id| self.get(rt, id)).cloned();
        let mut fields = old.as_ref().map(|r| r.fields.clone()).unwrap_or_default();
        for (k, v) in parsed {
            let is_lines = matches!(
                rt.schema().iter().find(|fd| fd.name == k).map(|fd| fd.kind),
                Some(Kind::Lines(_))
            );
            if v.is_null() {
                fields.remove(&k);
            } else if is_lines && !replace_all && !replace.iter().any(|r| r == &k) {
                let mut lines = fields
                    .get(&k)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                lines.extend(v.as_array().cloned().unwrap_or_default());
                fields.insert(k, Value::Array(lines));
            } else {
                fields.insert(k, v);
            }
        }
        if let Some(eid) = &path_eid {
            fields.insert("externalId".into(), json!(eid));
        }
        let id = match existing_id {
            Some(id) => id,
            None => self.peek_id(rt),
        };
        self.finalize(rt, id, &mut fields, now)?;
        if rt == RecordType::SalesOrder && existing_id.is_some() {
            self.check_against_fulfilments(id, &fields)?;
        }
        // Everything validated: commit.
        let created = existing_id.is_none();
        if created {
            self.take_id(rt);
        }
        if let Some(o) = &old {
            if let Some(e) = o.text("externalId") {
                self.eids.remove(&(rt, e.to_owned()));
            }
            if rt == RecordType::InventoryItem
                && let Some(n) = o.text("itemId")
            {
                self.item_names.remove(n);
            }
        }
        if let Some(e) = fields.get("externalId").and_then(Value::as_str) {
            self.eids.insert((rt, e.to_owned()), id);
        }
        if rt == RecordType::InventoryItem
            && let Some(n) = fields.get("itemId").and_then(Value::as_str)
        {
            self.item_names.insert(n.to_owned(), id);
        }
        if rt == RecordType::InventoryItem {
            for (k, v) in &fields {
                if let (Some(field), Some(name)) = (matrix_option_field(k), v.as_str()) {
                    let values = self.matrix_values.entry(field.to_owned()).or_default();
                    if !values.iter().any(|x| x == name) {
                        values.push(name.to_owned());
                    }
                }
            }
        }
        if rt == RecordType::InventoryAdjustment {
            self.repost_adjustment(old.as_ref(), &fields);
        }
        if rt == RecordType::CreditMemo {
            self.repost_credit(old.as_ref(), &fields);
        }
        let record = Record {
            id,
            fields,
            created: old.as_ref().map(|o| o.created).unwrap_or(now),
            modified: now,
        };
        self.records
            .get_mut(&rt)
            .expect("all types")
            .insert(id, record);
        let c = self.counts.entry(rt).or_default();
        if created {
            c.creates += 1;
        } else {
            c.updates += 1;
        }
        if matches!(
            rt,
            RecordType::SalesOrder | RecordType::InventoryAdjustment | RecordType::CreditMemo
        ) {
            self.recommit(now);
        }
        self.saved(rt, id, if created { "create" } else { "edit" }, now);
        Ok(WriteOutcome { id, created })
    }

    /// Quantity fulfilled per order line (`line` number) of a sales order, with the line's
    /// item.
    fn fulfilled_lines(&self, so: u64) -> BTreeMap<u64, (String, f64)> {
        let so = so.to_string();
        let mut out: BTreeMap<u64, (String, f64)> = BTreeMap::new();
        for f in self
            .all(RecordType::ItemFulfillment)
            .filter(|f| f.text("createdFrom") == Some(so.as_str()))
        {
            for l in f
                .fields
                .get("item")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(n), Some(q)) = (
                    l.get("orderLine").and_then(Value::as_f64),
                    l.get("quantity").and_then(Value::as_f64),
                ) else {
                    continue;
                };
                let item = l
                    .get("item")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let e = out.entry(n as u64).or_insert((item, 0.0));
                e.1 += q;
            }
        }
        out
    }

    /// A sales order edit may not remove, re-point or shrink below its fulfilled quantity a
    /// line that was fulfilled, nor cancel an order with fulfilments (close it instead).
    fn check_against_fulfilments(
        &self,
        so: u64,
        fields: &Map<String, Value>,
    ) -> Result<(), NsError> {
        let fulfilled = self.fulfilled_lines(so);
        if fulfilled.is_empty() {
            return Ok(());
        }
        if fields.get("orderStatus").and_then(Value::as_str) == Some("C") {
            return Err(NsError::bad_request(
                "USER_ERROR",
                "You cannot cancel a sales order that has been fulfilled. Close its remaining lines instead.",
            )
            .at("orderStatus"));
        }
        let lines = fields
            .get("item")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (n, (item, q)) in fulfilled {
            let line = lines.get(n as usize - 1);
            let ok = line.is_some_and(|l| {
                l.get("item").and_then(Value::as_str) == Some(item.as_str())
                    && l.get("quantity").and_then(Value::as_f64).unwrap_or(0.0) >= q
            });
            if !ok {
                return Err(NsError::bad_request(
                    "USER_ERROR",
                    format!(
                        "Line {n} has been fulfilled ({}): it cannot be removed, changed to another item or lowered below the fulfilled quantity.",
                        qty(q)
                    ),
                )
                .at(format!("item.items[{}]", n - 1)));
            }
        }
        Ok(())
    }

    /// Recomputes every open sales order line's commitment, in order of entry (as NetSuite's
    /// "commit as available" does, backorders included, when stock arrives): a line commits
    /// what remains to fulfil up to what its location still has available; the rest is back
    /// ordered. Closed lines and cancelled or closed orders commit nothing. An order whose
    /// fulfilled quantities or status change is modified `now`.
    fn recommit(&mut self, now: DateTime<Utc>) {
        let so_ids: Vec<u64> = self.all(RecordType::SalesOrder).map(|r| r.id).collect();
        let fulfilled: BTreeMap<u64, BTreeMap<u64, (String, f64)>> = so_ids
            .iter()
            .map(|&id| (id, self.fulfilled_lines(id)))
            .collect();
        let mut committed: BTreeMap<(u64, u64), f64> = BTreeMap::new();
        let mut backordered: BTreeMap<(u64, u64), f64> = BTreeMap::new();
        let stock = &self.stock;
        let orders = self
            .records
            .get_mut(&RecordType::SalesOrder)
            .expect("all types");
        for id in so_ids {
            let Some(rec) = orders.get_mut(&id) else {
                continue;
            };
            let status = rec.text("orderStatus").unwrap_or("B").to_owned();
            let dead = status == "C" || status == "H";
            let done = &fulfilled[&id];
            let (mut any_fulfilled, mut all_done, mut all_closed) = (false, true, true);
            let mut fulfilment_moved = false;
            let lines = rec
                .fields
                .get_mut("item")
                .and_then(Value::as_array_mut)
                .map(Vec::as_mut_slice)
                .unwrap_or_default();
            for (i, line) in lines.iter_mut().enumerate() {
                let Some(l) = line.as_object_mut() else {
                    continue;
                };
                let n = i as u64 + 1;
                let q = l.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
                let f = done.get(&n).map_or(0.0, |d| d.1);
                let closed = l.get("isClosed").and_then(Value::as_bool) == Some(true);
                let remaining = if closed || dead {
                    0.0
                } else {
                    (q - f).max(0.0)
                };
                let id_of = |k: &str| {
                    l.get(k)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<u64>().ok())
                };
                let (c, b) = match (id_of("item"), id_of("location")) {
                    (Some(item), Some(loc)) => {
                        let on_hand = stock.get(&(item, loc)).copied().unwrap_or(0.0);
                        let used = committed.get(&(item, loc)).copied().unwrap_or(0.0);
                        let c = remaining.min((on_hand - used).max(0.0));
                        *committed.entry((item, loc)).or_default() += c;
                        *backordered.entry((item, loc)).or_default() += remaining - c;
                        (c, remaining - c)
                    }
                    _ => (0.0, remaining),
                };
                if l.get("quantityFulfilled")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
                    != f
                {
                    fulfilment_moved = true;
                }
                l.insert("line".into(), json!(n));
                l.insert("quantityCommitted".into(), json!(c));
                l.insert("quantityFulfilled".into(), json!(f));
                l.insert("quantityBackOrdered".into(), json!(b));
                any_fulfilled |= f > 0.0;
                if !closed && f < q {
                    all_done = false;
                }
                if !closed {
                    all_closed = false;
                }
            }
            // Billing is not modelled: a status set by hand to Billed stays.
            let new_status = if dead || status == "A" || status == "G" {
                status.clone()
            } else if all_closed {
                "H".to_owned()
            } else if any_fulfilled {
                if all_done { "F" } else { "D" }.to_owned()
            } else {
                "B".to_owned()
            };
            if new_status != status {
                rec.fields.insert("orderStatus".into(), json!(new_status));
                fulfilment_moved = true;
            }
            if fulfilment_moved && rec.modified < now {
                rec.modified = now;
            }
        }
        committed.retain(|_, v| *v != 0.0);
        backordered.retain(|_, v| *v != 0.0);
        self.committed = committed;
        self.backordered = backordered;
    }

    /// `POST /salesOrder/{id}/!transform/itemFulfillment`: fulfils lines of a sales order
    /// (all committed quantities when the body names no lines), lowering on hand and the
    /// order's commitment. A line ships at most its committed quantity; `package` lines carry
    /// tracking numbers.
    pub fn transform_fulfillment(
        &mut self,
        so: u64,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<WriteOutcome, NsError> {
        let rt = RecordType::ItemFulfillment;
        let order = self
            .get(RecordType::SalesOrder, so)
            .cloned()
            .ok_or_else(NsError::not_found)?;
        let status = order.text("orderStatus").unwrap_or("B");
        if matches!(status, "A" | "C" | "H" | "F" | "G") {
            return Err(NsError::bad_request(
                "USER_ERROR",
                format!(
                    "Sales order {} cannot be fulfilled in its status ({status}).",
                    order.text("tranId").unwrap_or_default()
                ),
            ));
        }
        let mut fields = self.parse_body(rt, body)?;
        if let Some(Value::String(eid)) = fields.get("externalId")
            && let Some(other) = self.by_external_id(rt, eid)
        {
            return Err(NsError::bad_request(
                "DUP_RCRD",
                format!(
                    "An itemFulfillment record with externalId {eid} already exists (id {other})."
                ),
            )
            .at("externalId"));
        }
        let so_lines = order
            .fields
            .get("item")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let committed_of = |n: u64| -> f64 {
            so_lines
                .get(n as usize - 1)
                .and_then(|l| l.get("quantityCommitted"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        let wanted: Vec<(u64, f64)> = match fields.get("item").and_then(Value::as_array) {
            None => (1..=so_lines.len() as u64)
                .map(|n| (n, committed_of(n)))
                .filter(|(_, q)| *q > 0.0)
                .collect(),
            Some(lines) => {
                let mut out = Vec::new();
                for (i, l) in lines.iter().enumerate() {
                    if l.get("itemReceive").and_then(Value::as_bool) == Some(false) {
                        continue;
                    }
                    let n = l
                        .get("orderLine")
                        .and_then(Value::as_f64)
                        .filter(|n| *n >= 1.0 && n.fract() == 0.0 && *n as usize <= so_lines.len())
                        .ok_or_else(|| {
                            missing("Order Line", &format!("item.items[{i}].orderLine"))
                        })? as u64;
                    let q = l
                        .get("quantity")
                        .and_then(Value::as_f64)
                        .unwrap_or_else(|| committed_of(n));
                    if q <= 0.0 {
                        continue;
                    }
                    let sol = &so_lines[n as usize - 1];
                    if let Some(item) = l.get("item")
                        && sol.get("item") != Some(item)
                    {
                        return Err(NsError::bad_request(
                            "INVALID_FLD_VALUE",
                            format!("Line item.items[{i}] names another item than order line {n}."),
                        )
                        .at(format!("item.items[{i}].item")));
                    }
                    let already: f64 = out.iter().filter(|(m, _)| *m == n).map(|(_, q)| q).sum();
                    if q + already > committed_of(n) {
                        return Err(NsError::bad_request(
                            "USER_ERROR",
                            format!(
                                "You cannot fulfill more than the committed quantity of order line {n} ({}).",
                                qty(committed_of(n))
                            ),
                        )
                        .at(format!("item.items[{i}].quantity")));
                    }
                    out.push((n, q));
                }
                out
            }
        };
        if wanted.is_empty() {
            return Err(NsError::bad_request(
                "USER_ERROR",
                "You must enter at least one line item for this transaction.",
            )
            .at("item"));
        }
        let lines: Vec<Value> = wanted
            .iter()
            .map(|&(n, q)| {
                let sol = &so_lines[n as usize - 1];
                json!({
                    "orderLine": n,
                    "item": sol.get("item").cloned().unwrap_or(Value::Null),
                    "location": sol.get("location").cloned().unwrap_or(Value::Null),
                    "quantity": q,
                    "itemReceive": true,
                })
            })
            .collect();
        fields.insert("item".into(), Value::Array(lines.clone()));
        fields.insert("createdFrom".into(), json!(so.to_string()));
        fields
            .entry("tranId")
            .or_insert_with(|| json!(format!("IF{}", self.next_if_number)));
        fields
            .entry("tranDate")
            .or_insert(json!(now.format("%Y-%m-%d").to_string()));
        fields.entry("shipStatus").or_insert(json!("C"));
        let id = self.peek_id(rt);
        self.take_id(rt);
        for l in &lines {
            let id_of = |k: &str| {
                l.get(k)
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<u64>().ok())
            };
            if let (Some(item), Some(loc), Some(q)) = (
                id_of("item"),
                id_of("location"),
                l.get("quantity").and_then(Value::as_f64),
            ) {
                *self.stock.entry((item, loc)).or_default() -= q;
            }
        }
        if let Some(e) = fields.get("externalId").and_then(Value::as_str) {
            self.eids.insert((rt, e.to_owned()), id);
        }
        self.records.get_mut(&rt).expect("all types").insert(
            id,
            Record {
                id,
                fields,
                created: now,
                modified: now,
            },
        );
        self.counts.entry(rt).or_default().creates += 1;
        self.recommit(now);
        self.saved(rt, id, "create", now);
        Ok(WriteOutcome { id, created: true })
    }

    /// Deletes a record (an adjustment's stock movements are reversed).
    pub fn delete(&mut self, rt: RecordType, id: u64, now: DateTime<Utc>) -> Result<(), NsError> {
        if rt == RecordType::Location {
            return Err(NsError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "INVALID_REQUEST",
                "Location records are read-only in this account.",
            ));
        }
        let referenced = match rt {
            RecordType::SalesOrder => self
                .all(RecordType::ItemFulfillment)
                .any(|f| f.text("createdFrom") == Some(&id.to_string())),
            RecordType::Customer => self
                .all(RecordType::SalesOrder)
                .chain(self.all(RecordType::CreditMemo))
                .any(|o| o.text("entity") == Some(&id.to_string())),
            RecordType::InventoryItem => {
                let sid = id.to_string();
                self.all(RecordType::SalesOrder)
                    .chain(self.all(RecordType::InventoryAdjustment))
                    .chain(self.all(RecordType::ItemFulfillment))
                    .chain(self.all(RecordType::CreditMemo))
                    .any(|t| {
                        ["item", "inventory"].iter().any(|sub| {
                            t.fields
                                .get(*sub)
                                .and_then(Value::as_array)
                                .is_some_and(|ls| {
                                    ls.iter().any(|l| {
                                        l.get("item").and_then(Value::as_str) == Some(&sid)
                                    })
                                })
                        })
                    })
            }
            _ => false,
        };
        if referenced {
            return Err(NsError::bad_request(
                "THIS_RECORD_CANNOT_BE_DELETED_BECAUSE_IT_HAS_DEPENDENT_RECORDS",
                "This record cannot be deleted because it has dependent records.",
            ));
        }
        let old = self
            .records
            .get_mut(&rt)
            .and_then(|m| m.remove(&id))
            .ok_or_else(NsError::not_found)?;
        if let Some(e) = old.text("externalId") {
            self.eids.remove(&(rt, e.to_owned()));
        }
        if rt == RecordType::InventoryItem {
            if let Some(n) = old.text("itemId") {
                self.item_names.remove(n);
            }
            self.stock.retain(|(item, _), _| *item != id);
        }
        if rt == RecordType::InventoryAdjustment {
            self.repost_adjustment(Some(&old), &Map::new());
        }
        if rt == RecordType::CreditMemo {
            self.repost_credit(Some(&old), &Map::new());
        }
        if rt == RecordType::ItemFulfillment {
            // Deleting a fulfilment puts its quantities back on hand and re-opens the lines.
            for l in old
                .fields
                .get("item")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id_of = |k: &str| {
                    l.get(k)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<u64>().ok())
                };
                if let (Some(item), Some(loc), Some(q)) = (
                    id_of("item"),
                    id_of("location"),
                    l.get("quantity").and_then(Value::as_f64),
                ) {
                    *self.stock.entry((item, loc)).or_default() += q;
                }
            }
        }
        if matches!(
            rt,
            RecordType::SalesOrder
                | RecordType::InventoryAdjustment
                | RecordType::ItemFulfillment
                | RecordType::CreditMemo
                | RecordType::InventoryItem
        ) {
            self.recommit(now);
        }
        self.counts.entry(rt).or_default().deletes += 1;
        let name = ["itemId", "entityId", "tranId"]
            .into_iter()
            .find_map(|k| old.text(k))
            .map(str::to_owned);
        self.deleted.push(Deleted {
            record_type: rt,
            id,
            name,
            at: now,
        });
        self.saved(rt, id, "delete", now);
        Ok(())
    }

    /// Every record deleted, in order of deletion.
    pub fn deleted(&self) -> &[Deleted] {
        &self.deleted
    }

    fn peek_id(&self, rt: RecordType) -> u64 {
        match rt {
            RecordType::InventoryItem => self.next_item,
            RecordType::Customer => self.next_entity,
            _ => self.next_txn,
        }
    }

    fn take_id(&mut self, rt: RecordType) {
        match rt {
            RecordType::InventoryItem => self.next_item += 1,
            RecordType::Customer => self.next_entity += 1,
            RecordType::SalesOrder => {
                self.next_txn += 1;
                self.next_so_number += 1;
            }
            RecordType::InventoryAdjustment => {
                self.next_txn += 1;
                self.next_adj_number += 1;
            }
            RecordType::ItemFulfillment => {
                self.next_txn += 1;
                self.next_if_number += 1;
            }
            RecordType::CreditMemo => {
                self.next_txn += 1;
                self.next_cm_number += 1;
            }
            RecordType::Location => {}
        }
    }

    /// Type-specific required fields, defaults and computed fields.
    /// Matrix rules: a `CHILD` names a `PARENT` item in `parent` and a value for one or more
    /// matrix options, no two children of a parent share a combination, a `PARENT` has no
    /// parent (NetSuite: `INVALID_MATRIX_PARENT`, "Item {1} is not a parent matrix item.").
    fn check_matrix(&self, id: u64, fields: &Map<String, Value>) -> Result<(), NsError> {
        let matrix_type = fields.get("matrixType").and_then(Value::as_str);
        let options: BTreeMap<&str, &str> = fields
            .iter()
            .filter_map(|(k, v)| Some((matrix_option_field(k)?, v.as_str()?)))
            .collect();
        match matrix_type {
            None => {
                if fields.contains_key("parent") || !options.is_empty() {
                    return Err(NsError::bad_request(
                        "INVALID_FLD_VALUE",
                        "An item with a parent or matrix options must set matrixType to CHILD.",
                    )
                    .at("matrixType"));
                }
            }
            Some("PARENT") => {
                if fields.contains_key("parent") || !options.is_empty() {
                    return Err(NsError::bad_request(
                        "INVALID_FLD_VALUE",
                        "A parent matrix item has no parent and no matrix option values.",
                    )
                    .at("parent"));
                }
            }
            Some("CHILD") => {
                let parent: u64 = fields
                    .get("parent")
                    .and_then(Value::as_str)
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| missing("Subitem of", "parent"))?;
                let is_parent = self
                    .get(RecordType::InventoryItem, parent)
                    .is_some_and(|p| p.text("matrixType") == Some("PARENT"));
                if !is_parent {
                    return Err(NsError::bad_request(
                        "INVALID_MATRIX_PARENT",
                        format!("Item {parent} is not a parent matrix item."),
                    )
                    .at("parent"));
                }
                if options.is_empty() {
                    return Err(missing("Matrix Options", "matrixOption"));
                }
                let sibling = self.all(RecordType::InventoryItem).find(|r| {
                    r.id != id
                        && r.text("parent") == Some(parent.to_string().as_str())
                        && r.fields
                            .iter()
                            .filter_map(|(k, v)| Some((matrix_option_field(k)?, v.as_str()?)))
                            .collect::<BTreeMap<_, _>>()
                            == options
                });
                if let Some(other) = sibling {
                    return Err(NsError::bad_request(
                        "DUP_MATRIX_OPTN_ABBRV",
                        format!(
                            "Item {} of parent {parent} already has these matrix options.",
                            other.id
                        ),
                    )
                    .at("matrixOption"));
                }
            }
            Some(other) => {
                return Err(NsError::bad_request(
                    "INVALID_FLD_VALUE",
                    format!(
                        "Invalid value {other:?} for field matrixType: expected PARENT or CHILD."
                    ),
                )
                .at("matrixType"));
            }
        }
        Ok(())
    }

    fn finalize(
        &self,
        rt: RecordType,
        id: u64,
        fields: &mut Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(), NsError> {
        let today = json!(now.format("%Y-%m-%d").to_string());
        match rt {
            RecordType::InventoryItem => {
                let name = fields
                    .get("itemId")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| missing("Item Name/Number", "itemId"))?;
                if let Some(&other) = self.item_names.get(name)
                    && other != id
                {
                    return Err(NsError::bad_request(
                        "DUP_ITEM",
                        format!("An item record with itemId {name} already exists (id {other})."),
                    )
                    .at("itemId"));
                }
                fields.entry("isInactive").or_insert(json!(false));
                self.check_matrix(id, fields)?;
                check_price_lines(fields)?;
            }
            RecordType::Customer => {
                // One default billing and one default shipping line: a later line checked as
                // default unchecks the earlier ones, as in the UI.
                if let Some(Value::Array(lines)) = fields.get_mut("addressBook") {
                    for flag in ["defaultBilling", "defaultShipping"] {
                        let last = lines
                            .iter()
                            .rposition(|l| l.get(flag) == Some(&Value::Bool(true)));
                        for (i, l) in lines.iter_mut().enumerate() {
                            if let Some(o) = l.as_object_mut() {
                                o.insert(flag.into(), json!(Some(i) == last));
                            }
                        }
                    }
                }
                fields
                    .entry("entityId")
                    .or_insert_with(|| json!(format!("CUST{id}")));
                fields.entry("subsidiary").or_insert(json!("1"));
                // The account's "Customers Default to Taxable" preference is on; a new
                // record's email subscription is Soft Opt-Out until someone says otherwise.
                fields.entry("taxable").or_insert(json!(true));
                fields
                    .entry("globalSubscriptionStatus")
                    .or_insert(json!("2"));
                if !fields.contains_key("isPerson") {
                    let person = !fields.contains_key("companyName")
                        && (fields.contains_key("firstName") || fields.contains_key("lastName"));
                    fields.insert("isPerson".into(), json!(person));
                }
            }
            RecordType::SalesOrder => {
                if !fields.contains_key("entity") {
                    return Err(missing("Customer", "entity"));
                }
                let header_location = fields.get("location").cloned();
                let lines = fields
                    .get_mut("item")
                    .and_then(Value::as_array_mut)
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| {
                        NsError::bad_request(
                            "USER_ERROR",
                            "You must enter at least one line item for this transaction.",
                        )
                        .at("item")
                    })?;
                let mut total = 0.0;
                // A line without a location takes the order's, else the default location.
                let location = header_location
                    .or_else(|| self.default_location().map(|l| json!(l.to_string())));
                let mut tax = 0.0;
                for (i, line) in lines.iter_mut().enumerate() {
                    let l = line.as_object_mut().expect("lines are objects");
                    if !l.contains_key("item") {
                        return Err(missing("Item", &format!("item.items[{i}].item")));
                    }
                    if !l.contains_key("location")
                        && let Some(loc) = &location
                    {
                        l.insert("location".into(), loc.clone());
                    }
                    let q = l
                        .get("quantity")
                        .and_then(Value::as_f64)
                        .ok_or_else(|| missing("Quantity", &format!("item.items[{i}].quantity")))?;
                    let rate = match l.get("rate").and_then(Value::as_f64) {
                        Some(r) => r,
                        None => {
                            let item: u64 =
                                l["item"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                            let r = self
                                .get(RecordType::InventoryItem, item)
                                .and_then(|it| it.fields.get("basePrice"))
                                .and_then(Value::as_f64)
                                .unwrap_or(0.0);
                            l.insert("rate".into(), json!(r));
                            r
                        }
                    };
                    let amount = match l.get("amount").and_then(Value::as_f64) {
                        Some(a) => a,
                        None => {
                            let a = round2(q * rate);
                            l.insert("amount".into(), json!(a));
                            a
                        }
                    };
                    total += amount;
                    tax += l.get("tax1Amt").and_then(Value::as_f64).unwrap_or(0.0);
                }
                // Legacy tax: the line and shipping tax amounts are given, not computed from
                // tax codes. The discount item's rate is an amount (negative) on the subtotal.
                tax += fields
                    .get("shippingTax1Amt")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                let discount = fields
                    .get("discountRate")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                if discount != 0.0 && !fields.contains_key("discountItem") {
                    return Err(missing("Discount Item", "discountItem"));
                }
                if discount > 0.0 {
                    return Err(NsError::bad_request(
                        "INVALID_FLD_VALUE",
                        "Invalid value for field discountRate: a discount is a negative amount.",
                    )
                    .at("discountRate"));
                }
                let shipping = fields
                    .get("shippingCost")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                fields.insert("subtotal".into(), json!(round2(total)));
                fields.insert("discountTotal".into(), json!(round2(discount)));
                fields.insert("taxTotal".into(), json!(round2(tax)));
                fields.insert(
                    "total".into(),
                    json!(round2(total + discount + tax + shipping)),
                );
                fields
                    .entry("tranId")
                    .or_insert_with(|| json!(format!("SO{}", self.next_so_number)));
                fields.entry("tranDate").or_insert(today);
                fields.entry("orderStatus").or_insert(json!("B"));
                fields.entry("subsidiary").or_insert(json!("1"));
            }
            RecordType::InventoryAdjustment => {
                let adj_location = fields.get("adjLocation").cloned();
                let lines = fields
                    .get_mut("inventory")
                    .and_then(Value::as_array_mut)
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| {
                        NsError::bad_request(
                            "USER_ERROR",
                            "You must enter at least one line item for this transaction.",
                        )
                        .at("inventory")
                    })?;
                for (i, line) in lines.iter_mut().enumerate() {
                    let l = line.as_object_mut().expect("lines are objects");
                    if !l.contains_key("item") {
                        return Err(missing("Item", &format!("inventory.items[{i}].item")));
                    }
                    if !l.contains_key("location") {
                        match &adj_location {
                            Some(loc) => {
                                l.insert("location".into(), loc.clone());
                            }
                            None => {
                                return Err(missing(
                                    "Location",
                                    &format!("inventory.items[{i}].location"),
                                ));
                            }
                        }
                    }
                    if l.get("adjustQtyBy").and_then(Value::as_f64).is_none() {
                        return Err(missing(
                            "Adjust Qty. By",
                            &format!("inventory.items[{i}].adjustQtyBy"),
                        ));
                    }
                }
                fields
                    .entry("tranId")
                    .or_insert_with(|| json!(format!("ADJ{}", self.next_adj_number)));
                fields.entry("tranDate").or_insert(today);
                fields.entry("account").or_insert(json!("1"));
                fields.entry("subsidiary").or_insert(json!("1"));
            }
            RecordType::CreditMemo => {
                if !fields.contains_key("entity") {
                    return Err(missing("Customer", "entity"));
                }
                let header_location = fields.get("location").cloned();
                let default_location = self.default_location().map(|l| json!(l.to_string()));
                let lines = fields
                    .get_mut("item")
                    .and_then(Value::as_array_mut)
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| {
                        NsError::bad_request(
                            "USER_ERROR",
                            "You must enter at least one line item for this transaction.",
                        )
                        .at("item")
                    })?;
                let mut total = 0.0;
                for (i, line) in lines.iter_mut().enumerate() {
                    let l = line.as_object_mut().expect("lines are objects");
                    let Some(item) = l.get("item").and_then(Value::as_str) else {
                        return Err(missing("Item", &format!("item.items[{i}].item")));
                    };
                    let inventory = !self
                        .noninventory_items
                        .contains_key(&item.parse::<u64>().unwrap_or(0));
                    let quantity = l.get("quantity").and_then(Value::as_f64);
                    if inventory {
                        // An inventory item goes back on hand: it needs a quantity and a
                        // location (the line's, else the memo's, else the default).
                        match quantity {
                            Some(q) if q > 0.0 => {}
                            _ => {
                                return Err(missing(
                                    "Quantity",
                                    &format!("item.items[{i}].quantity"),
                                ));
                            }
                        }
                        if !l.contains_key("location")
                            && let Some(loc) = header_location.clone().or(default_location.clone())
                        {
                            l.insert("location".into(), loc);
                        }
                    }
                    let amount = match (
                        l.get("amount").and_then(Value::as_f64),
                        l.get("rate").and_then(Value::as_f64),
                    ) {
                        (Some(a), _) => a,
                        (None, Some(r)) => r * quantity.unwrap_or(1.0),
                        (None, None) => {
                            return Err(missing("Amount", &format!("item.items[{i}].amount")));
                        }
                    };
                    let amount = round2(amount);
                    l.insert("amount".into(), json!(amount));
                    total += amount;
                }
                fields.insert("total".into(), json!(round2(total)));
                fields
                    .entry("tranId")
                    .or_insert_with(|| json!(format!("CM{}", self.next_cm_number)));
                fields.entry("tranDate").or_insert(today);
                fields.entry("subsidiary").or_insert(json!("1"));
            }
            RecordType::Location | RecordType::ItemFulfillment => {}
        }
        Ok(())
    }

    /// Applies the difference between a credit memo's old and new inventory lines to on hand
    /// (a stand-alone credit memo returns its inventory items to stock; re-posted as a
    /// difference on edit, so a repeated upsert by one externalId applies once; reversed on
    /// delete). Lines of non-inventory items move nothing.
    fn repost_credit(&mut self, old: Option<&Record>, new: &Map<String, Value>) {
        let mut delta: BTreeMap<(u64, u64), f64> = BTreeMap::new();
        let mut add = |fields: &Map<String, Value>, sign: f64| {
            for line in fields
                .get("item")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = |k: &str| {
                    line.get(k)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<u64>().ok())
                };
                if let (Some(item), Some(loc), Some(q)) = (
                    id("item"),
                    id("location"),
                    line.get("quantity").and_then(Value::as_f64),
                ) && !self.noninventory_items.contains_key(&item)
                {
                    *delta.entry((item, loc)).or_default() += sign * q;
                }
            }
        };
        if let Some(o) = old {
            add(&o.fields, -1.0);
        }
        add(new, 1.0);
        for ((item, loc), d) in delta {
            if d != 0.0 {
                *self.stock.entry((item, loc)).or_default() += d;
            }
        }
    }

    /// Applies the difference between an adjustment's old and new lines to stock (as NetSuite
    /// re-posts the transaction on edit). The items' `lastModifiedDate` does not move: a
    /// transaction changes the item's quantities, not the item record.
    fn repost_adjustment(&mut self, old: Option<&Record>, new: &Map<String, Value>) {
        let mut delta: BTreeMap<(u64, u64), f64> = BTreeMap::new();
        let mut add = |fields: &Map<String, Value>, sign: f64| {
            for line in fields
                .get("inventory")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = |k: &str| {
                    line.get(k)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<u64>().ok())
                };
                if let (Some(item), Some(loc), Some(q)) = (
                    id("item"),
                    id("location"),
                    line.get("adjustQtyBy").and_then(Value::as_f64),
                ) {
                    *delta.entry((item, loc)).or_default() += sign * q;
                }
            }
        };
        if let Some(o) = old {
            add(&o.fields, -1.0);
        }
        add(new, 1.0);
        for ((item, loc), d) in delta {
            if d == 0.0 {
                continue;
            }
            *self.stock.entry((item, loc)).or_default() += d;
        }
    }

    /// Renders a reference as the REST API does: `{links, id, refName}`.
    fn render_ref(&self, target: RefTarget, id_str: &str, base: &str) -> Value {
        let id: u64 = id_str.parse().unwrap_or(0);
        let type_name = match target {
            RefTarget::Record(rt) => rt.name(),
            RefTarget::Subsidiary => "subsidiary",
            RefTarget::Account => "account",
            RefTarget::ShipItem => "shipItem",
            RefTarget::DiscountItem => "discountItem",
            RefTarget::CreditItem if self.noninventory_items.contains_key(&id) => {
                "nonInventorySaleItem"
            }
            RefTarget::CreditItem => "inventoryItem",
            RefTarget::WeightUnit => "weightUnit",
            RefTarget::Currency => "currency",
            RefTarget::PriceLevel => "priceLevel",
            RefTarget::SubscriptionStatus => {
                let mut m = Map::new();
                m.insert("id".into(), json!(id_str));
                if let Some(name) = self.ref_name(target, id) {
                    m.insert("refName".into(), json!(name));
                }
                return Value::Object(m);
            }
        };
        let mut m = Map::new();
        m.insert("links".into(), self_link(rest_href(base, type_name, id)));
        m.insert("id".into(), json!(id_str));
        if let Some(name) = self.ref_name(target, id) {
            m.insert("refName".into(), json!(name));
        }
        Value::Object(m)
    }

    fn render_value(&self, kind: Kind, v: &Value, base: &str, expand: bool, href: String) -> Value {
        match kind {
            Kind::Ref(t) => self.render_ref(t, v.as_str().unwrap_or_default(), base),
            Kind::Lines(fields) => {
                let lines: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|line| {
                        let mut out = Map::new();
                        out.insert("links".into(), json!([]));
                        for fd in fields {
                            if let Some(lv) = line.get(fd.name) {
                                let rendered = match fd.kind {
                                    Kind::Ref(t) => {
                                        self.render_ref(t, lv.as_str().unwrap_or_default(), base)
                                    }
                                    Kind::Number if fd.name != "rate" && fd.name != "amount" => {
                                        qty(lv.as_f64().unwrap_or(0.0))
                                    }
                                    _ => lv.clone(),
                                };
                                out.insert(fd.name.into(), rendered);
                            }
                        }
                        let mut custom: Vec<(&String, &Value)> = line
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(k, _)| k.starts_with("custcol_"))
                            .collect();
                        custom.sort_by(|a, b| a.0.cmp(b.0));
                        for (k, cv) in custom {
                            out.insert(k.clone(), cv.clone());
                        }
                        Value::Object(out)
                    })
                    .collect();
                sublist(href, lines, expand)
            }
            Kind::Subrecord(fields) => {
                let mut out = Map::new();
                out.insert("links".into(), self_link(href));
                let mut text = Vec::new();
                for fd in fields {
                    if let Some(sv) = v.get(fd.name) {
                        out.insert(fd.name.into(), sv.clone());
                        if fd.name != "addrPhone"
                            && let Some(t) = sv.as_str()
                        {
                            text.push(t.to_owned());
                        }
                    }
                }
                out.insert("addrText".into(), json!(text.join("\n")));
                Value::Object(out)
            }
            _ => v.clone(),
        }
    }

    /// Renders a record as `GET /record/v1/{type}/{id}` returns it.
    pub fn render(&self, rt: RecordType, rec: &Record, base: &str, expand: bool) -> Value {
        let href = rest_href(base, rt.name(), rec.id);
        let mut out = Map::new();
        out.insert("links".into(), self_link(href.clone()));
        out.insert("id".into(), json!(rec.id.to_string()));
        if rt == RecordType::Location {
            for (k, v) in &rec.fields {
                out.insert(k.clone(), v.clone());
            }
            return Value::Object(out);
        }
        for fd in rt.schema() {
            if let Some(v) = rec.fields.get(fd.name) {
                let sub_href = format!("{href}/{}", fd.name);
                out.insert(
                    fd.name.into(),
                    self.render_value(fd.kind, v, base, expand, sub_href),
                );
            }
        }
        let mut custom: Vec<(&String, &Value)> = rec
            .fields
            .iter()
            .filter(|(k, _)| rt.custom_prefix().is_some_and(|p| k.starts_with(p)))
            .collect();
        custom.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in custom {
            out.insert(k.clone(), v.clone());
        }
        for (k, v) in &rec.fields {
            if let (Some(field), Some(name)) = (matrix_option_field(k), v.as_str()) {
                let mut r = Map::new();
                if let Some(i) = self.matrix_value_id(field, name) {
                    r.insert("id".into(), json!(i.to_string()));
                }
                r.insert("refName".into(), json!(name));
                out.insert(k.clone(), Value::Object(r));
            }
        }
        for k in ["subtotal", "discountTotal", "taxTotal", "total"] {
            if let Some(t) = rec.fields.get(k) {
                out.insert(k.into(), t.clone());
            }
        }
        if let Some(so) = rec.text("createdFrom") {
            out.insert(
                "createdFrom".into(),
                self.render_ref(RefTarget::Record(RecordType::SalesOrder), so, base),
            );
        }
        out.insert(
            rt.created_field().into(),
            json!(format_datetime(rec.created)),
        );
        out.insert(
            "lastModifiedDate".into(),
            json!(format_datetime(rec.modified)),
        );
        if rt == RecordType::InventoryItem {
            let lines = self
                .all(RecordType::Location)
                .map(|loc| {
                    let q = self.quantities(rec.id, loc.id);
                    json!({
                        "links": [],
                        "location": self.render_ref(RefTarget::Record(RecordType::Location), &loc.id.to_string(), base),
                        "quantityOnHand": qty(q.on_hand),
                        "quantityCommitted": qty(q.committed),
                        "quantityAvailable": qty(q.available),
                        "quantityOnOrder": qty(q.on_order),
                        "quantityBackOrdered": qty(q.back_ordered),
                    })
                })
                .collect();
            out.insert(
                "locations".into(),
                sublist(format!("{href}/locations"), lines, expand),
            );
        }
        Value::Object(out)
    }

    /// Renders one sublist of a record (`GET /record/v1/{type}/{id}/{sublist}`), or `None` if the
    /// type has no such sublist.
    pub fn render_sublist(
        &self,
        rt: RecordType,
        rec: &Record,
        name: &str,
        base: &str,
    ) -> Option<Value> {
        let full = self.render(rt, rec, base, true);
        let sub = full.get(name)?;
        sub.get("items").is_some().then(|| sub.clone())
    }
}

/// A sublist value: collapsed to its link, or expanded with its lines.
fn sublist(href: String, lines: Vec<Value>, expand: bool) -> Value {
    if !expand {
        return json!({"links": self_link(href)});
    }
    let n = lines.len();
    json!({
        "links": self_link(href),
        "count": n,
        "hasMore": false,
        "items": lines,
        "offset": 0,
        "totalResults": n,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A customer's display name: company, else first and last name, else entity id.
pub fn customer_name(r: &Record) -> String {
    if let Some(c) = r.text("companyName").filter(|s| !s.is_empty()) {
        return c.to_owned();
    }
    let name = [r.text("firstName"), r.text("lastName")]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        r.text("entityId").unwrap_or_default().to_owned()
    } else {
        name
    }
}

fn invalid_eid(eid: &str) -> NsError {
    NsError::bad_request(
        "INVALID_ID",
        format!(
            "Invalid external ID {eid}: external IDs may contain only letters, digits, underscores (_) and hyphens (-)."
        ),
    )
}
