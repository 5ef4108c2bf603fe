//! The records, their rules, and the asynchronous bulk operations with the simulated consumer.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::{DEFAULT_SOURCE, SimConfig};
use crate::error::MgError;

/// Operation status: complete.
pub const STATUS_COMPLETE: u8 = 1;
/// Operation status: failed, may be tried again.
pub const STATUS_RETRIABLE: u8 = 2;
/// Operation status: failed, the request must change.
pub const STATUS_MUST_CHANGE: u8 = 3;
/// Operation status: open (not processed yet).
pub const STATUS_OPEN: u8 = 4;
/// Operation status: rejected when the bulk was accepted.
pub const STATUS_REJECTED: u8 = 5;

/// The topic of a product save.
pub const TOPIC_PRODUCTS: &str = "async.magento.catalog.api.productrepositoryinterface.save.post";
/// The topic of a source items save.
pub const TOPIC_SOURCE_ITEMS: &str =
    "async.magento.inventoryapi.api.sourceitemssaveinterface.execute.post";

/// A product.
#[derive(Clone, Debug)]
pub struct Product {
    /// Entity id.
    pub id: u64,
    /// SKU (unique).
    pub sku: String,
    /// Name.
    pub name: String,
    /// Price.
    pub price: f64,
    /// 1 enabled, 2 disabled.
    pub status: i64,
    /// Weight.
    pub weight: Option<f64>,
    /// Custom attributes by code.
    pub custom: BTreeMap<String, Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A customer.
#[derive(Clone, Debug)]
pub struct Customer {
    /// Id.
    pub id: u64,
    /// Email.
    pub email: String,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// Addresses as Magento writes them.
    pub addresses: Vec<Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One line of a shopper's order.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct OrderLine {
    /// SKU.
    pub sku: String,
    /// Quantity.
    pub qty: i64,
}

/// An order.
#[derive(Clone, Debug)]
pub struct Order {
    /// Entity id.
    pub id: u64,
    /// Increment id.
    pub increment_id: String,
    /// The buyer's customer id (`None`: a guest, or a customer deleted since: Magento's
    /// foreign key sets it to null).
    pub customer_id: Option<u64>,
    /// Whether it was placed by a guest (`customer_is_guest`, kept when the customer is
    /// deleted).
    pub guest: bool,
    /// Email.
    pub email: String,
    /// Names.
    pub firstname: String,
    /// Names.
    pub lastname: String,
    /// `(item_id, product_id, sku, name, qty, price)`.
    pub lines: Vec<(u64, u64, String, String, i64, f64)>,
    /// The source its stock came from.
    pub source: String,
    /// State and status.
    pub state: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One operation of a bulk.
#[derive(Clone, Debug, Serialize)]
pub struct Operation {
    /// Its index in the bulk.
    pub id: usize,
    /// The request body it carries.
    pub data: Value,
    /// Its status.
    pub status: u8,
    /// The result message.
    pub result_message: Option<String>,
    /// The error code.
    pub error_code: Option<i64>,
    /// The serialized output of the service call (the saved product; `null` for source items).
    pub result_data: Option<String>,
    /// When the consumer applies it (simulated time).
    #[serde(skip)]
    pub due: DateTime<Utc>,
    /// Whether the consumer fails it retriably.
    #[serde(skip)]
    pub fail_retriably: bool,
}

/// One accepted bulk.
#[derive(Clone, Debug, Serialize)]
pub struct BulkRecord {
    /// `bulk_uuid`.
    pub uuid: String,
    /// The queue topic.
    pub topic: String,
    /// Accepted at.
    pub start_time: DateTime<Utc>,
    /// Its operations, in request order.
    pub operations: Vec<Operation>,
    /// Whether its status never arrives.
    pub lost: bool,
}

/// The shop.
pub struct Store {
    /// Products by SKU.
    pub products: BTreeMap<String, Product>,
    /// Source quantities and statuses by (SKU, source).
    pub source_items: BTreeMap<(String, String), (f64, i64)>,
    /// Sources.
    pub sources: Vec<String>,
    /// Customers by id.
    pub customers: BTreeMap<u64, Customer>,
    /// Orders by id.
    pub orders: BTreeMap<u64, Order>,
    /// Bulks by uuid.
    pub bulks: BTreeMap<String, BulkRecord>,
    /// Bulks in acceptance order.
    pub bulk_order: Vec<String>,
    next_product: u64,
    next_customer: u64,
    next_order: u64,
    next_item: u64,
    rng: ChaCha8Rng,
    /// Chaos settings (changeable while running).
    pub chaos: crate::config::ChaosConfig,
}

/// Magento's time stamp format.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn money(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Store {
    /// An empty shop.
    pub fn new(config: &SimConfig) -> Self {
        let mut sources = vec![DEFAULT_SOURCE.to_owned()];
        for s in &config.sources {
            if !sources.contains(s) {
                sources.push(s.clone());
            }
        }
        Store {
            products: BTreeMap::new(),
            source_items: BTreeMap::new(),
            sources,
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            bulks: BTreeMap::new(),
            bulk_order: Vec::new(),
            next_product: 1,
            next_customer: 1,
            next_order: 1,
            next_item: 1,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            chaos: config.chaos.clone(),
        }
    }

    /// A product as the API answers it.
    pub fn product_json(&self, p: &Product) -> Value {
        let custom: Vec<Value> = p
            .custom
            .iter()
            .map(|(k, v)| json!({"attribute_code": k, "value": v}))
            .collect();
        json!({
            "id": p.id, "sku": p.sku, "name": p.name, "attribute_set_id": 4, "price": p.price,
            "status": p.status, "visibility": 4, "type_id": "simple",
            "created_at": stamp(p.created_at), "updated_at": stamp(p.updated_at),
            "weight": p.weight,
            "extension_attributes": {"website_ids": [1]},
            "custom_attributes": custom,
        })
    }

    /// Saves a product by SKU (`ProductRepositoryInterface::save`): creates it or changes the
    /// fields given. Returns the product's JSON.
    pub fn save_product(&mut self, body: &Value, now: DateTime<Utc>) -> Result<Value, MgError> {
        let Some(p) = body.get("product").and_then(Value::as_object) else {
            return Err(
                MgError::bad_request("\"%fieldName\" is required. Enter and try again.")
                    .params(json!({"fieldName": "product"})),
            );
        };
        let Some(sku) = p.get("sku").and_then(Value::as_str).map(str::trim) else {
            return Err(MgError::bad_request(
                "The \"%1\" attribute value is empty. Set the attribute and try again.",
            )
            .params(json!(["sku"])));
        };
        if sku.is_empty() || sku.len() > 64 {
            return Err(MgError::bad_request(
                "SKU length should be 64 characters or less.",
            ));
        }
        let price = match p.get("price") {
            None | Some(Value::Null) => None,
            Some(v) => match money(v) {
                Some(x) if x >= 0.0 => Some(x),
                _ => {
                    return Err(MgError::bad_request(
                        "Invalid value of \"%1\" provided for the %2 field.",
                    )
                    .params(json!([crate::store::plain(v), "price"])));
                }
            },
        };
        let name = p.get("name").and_then(Value::as_str).map(str::to_owned);
        let exists = self.products.contains_key(sku);
        if !exists {
            for (field, missing) in [("name", name.is_none()), ("price", price.is_none())] {
                if missing {
                    return Err(MgError::bad_request(
                        "The \"%1\" attribute value is empty. Set the attribute and try again.",
                    )
                    .params(json!([field])));
                }
            }
            let id = self.next_product;
            self.next_product += 1;
            self.products.insert(
                sku.to_owned(),
                Product {
                    id,
                    sku: sku.to_owned(),
                    name: String::new(),
                    price: 0.0,
                    status: 1,
                    weight: None,
                    custom: BTreeMap::new(),
                    created_at: now,
                    updated_at: now,
                },
            );
            self.source_items
                .entry((sku.to_owned(), DEFAULT_SOURCE.to_owned()))
                .or_insert((0.0, 0));
        }
        let prod = self.products.get_mut(sku).ok_or_else(MgError::no_product)?;
        let before = (
            prod.name.clone(),
            prod.price,
            prod.status,
            prod.weight,
            prod.custom.clone(),
        );
        if let Some(n) = name {
            prod.name = n;
        }
        if let Some(x) = price {
            prod.price = x;
        }
        if let Some(s) = p.get("status").and_then(Value::as_i64) {
            prod.status = s;
        }
        if let Some(w) = p.get("weight").and_then(money) {
            prod.weight = Some(w);
        }
        if let Some(attrs) = p.get("custom_attributes").and_then(Value::as_array) {
            for a in attrs {
                if let Some(code) = a.get("attribute_code").and_then(Value::as_str) {
                    prod.custom.insert(
                        code.to_owned(),
                        a.get("value").cloned().unwrap_or(Value::Null),
                    );
                }
            }
        }
        let after = (
            prod.name.clone(),
            prod.price,
            prod.status,
            prod.weight,
            prod.custom.clone(),
        );
        if before != after || !exists {
            prod.updated_at = now;
        }
        let prod = prod.clone();
        Ok(self.product_json(&prod))
    }

    /// Deletes product `sku` (`DELETE /V1/products/{sku}`, `ProductRepositoryInterface::
    /// deleteById`): 404 when there is none; its source items go with it (MSI removes them with
    /// the product). Orders keep their lines (`sales_order_item` has its own copy of the SKU,
    /// name and price, and no foreign key to the product).
    pub fn delete_product(&mut self, sku: &str) -> Result<(), MgError> {
        if self.products.remove(sku).is_none() {
            return Err(MgError::no_product());
        }
        self.source_items.retain(|(s, _), _| s != sku);
        Ok(())
    }

    /// Deletes customer `id` (`DELETE /V1/customers/{id}`, `CustomerRepositoryInterface::
    /// deleteById`): 404 "No such entity with customerId = …" when there is none; their
    /// addresses go with them. Their orders stay, with `customer_id` null (the foreign key's
    /// `ON DELETE SET NULL`) and the rest of the buyer's details as the order copied them;
    /// `customer_is_guest` and `updated_at` do not change.
    pub fn delete_customer(&mut self, id: u64) -> Result<(), MgError> {
        if self.customers.remove(&id).is_none() {
            return Err(MgError::no_entity("customerId", &id.to_string()));
        }
        for o in self.orders.values_mut() {
            if o.customer_id == Some(id) {
                o.customer_id = None;
            }
        }
        Ok(())
    }

    /// A source item as the API answers it.
    pub fn source_item_json(sku: &str, source: &str, qty: f64, status: i64) -> Value {
        json!({"sku": sku, "source_code": source, "quantity": qty, "status": status})
    }

    /// Every source item, in (SKU, source) order.
    pub fn source_items_json(&self) -> Vec<Value> {
        self.source_items
            .iter()
            .map(|((sku, src), (q, s))| Self::source_item_json(sku, src, *q, *s))
            .collect()
    }

    /// Saves source items (`SourceItemsSaveInterface::execute`), all or nothing.
    pub fn save_source_items(&mut self, body: &Value) -> Result<(), MgError> {
        let Some(items) = body.get("sourceItems").and_then(Value::as_array) else {
            return Err(
                MgError::bad_request("\"%fieldName\" is required. Enter and try again.")
                    .params(json!({"fieldName": "sourceItems"})),
            );
        };
        let mut parsed = Vec::new();
        for it in items {
            let sku = it.get("sku").and_then(Value::as_str).unwrap_or_default();
            let source = it
                .get("source_code")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !self.products.contains_key(sku) {
                return Err(MgError::validation(
                    "Product with SKU \"%sku\" does not exist.",
                    json!({"sku": sku}),
                ));
            }
            if !self.sources.iter().any(|s| s == source) {
                return Err(MgError::validation(
                    "Source with code \"%code\" does not exist.",
                    json!({"code": source}),
                ));
            }
            let Some(q) = it.get("quantity").and_then(money) else {
                return Err(MgError::validation(
                    "\"%field\" should be numeric.",
                    json!({"field": "quantity"}),
                ));
            };
            let status = it.get("status").and_then(Value::as_i64).unwrap_or(1);
            if status != 0 && status != 1 {
                return Err(MgError::validation(
                    "\"%field\" should specify a valid status.",
                    json!({"field": "status"}),
                ));
            }
            parsed.push((sku.to_owned(), source.to_owned(), q, status));
        }
        for (sku, source, q, status) in parsed {
            self.source_items.insert((sku, source), (q, status));
        }
        Ok(())
    }

    /// A customer as the API answers it.
    pub fn customer_json(c: &Customer) -> Value {
        json!({"id": c.id, "group_id": 1, "website_id": 1, "store_id": 1, "email": c.email,
            "firstname": c.firstname, "lastname": c.lastname, "addresses": c.addresses,
            "created_at": stamp(c.created_at), "updated_at": stamp(c.updated_at),
            "created_in": "Default Store View", "disable_auto_group_change": 0})
    }

    /// Creates or edits a customer by email (merchant).
    pub fn upsert_customer(&mut self, body: &Value, now: DateTime<Utc>) -> Result<Value, MgError> {
        let email = body
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@'))
            .ok_or_else(|| {
                MgError::bad_request("\"%1\" is not a valid email address.")
                    .params(json!([body.get("email").cloned().unwrap_or(Value::Null)]))
            })?
            .to_owned();
        let found = self
            .customers
            .values()
            .find(|c| c.email.eq_ignore_ascii_case(&email))
            .map(|c| c.id);
        let id = match found {
            Some(id) => id,
            None => {
                let id = self.next_customer;
                self.next_customer += 1;
                self.customers.insert(
                    id,
                    Customer {
                        id,
                        email: email.clone(),
                        firstname: String::new(),
                        lastname: String::new(),
                        addresses: Vec::new(),
                        created_at: now,
                        updated_at: now,
                    },
                );
                id
            }
        };
        let c = self
            .customers
            .get_mut(&id)
            .ok_or_else(|| MgError::no_entity("customerId", &id.to_string()))?;
        if let Some(f) = body.get("firstname").and_then(Value::as_str) {
            c.firstname = f.to_owned();
        }
        if let Some(l) = body.get("lastname").and_then(Value::as_str) {
            c.lastname = l.to_owned();
        }
        if let Some(a) = body.get("addresses").and_then(Value::as_array) {
            c.addresses = a.clone();
        }
        c.updated_at = now;
        Ok(Self::customer_json(c))
    }

    /// Saves customer `id` (`PUT /V1/customers/{id}`, `CustomerRepositoryInterface::save`):
    /// `email`, `firstname` and `lastname` are required; `addresses`, when given, replace the
    /// customer's (when left out they are kept); an email another customer of the website has
    /// is refused. `updated_at` moves only when something changed.
    pub fn update_customer(
        &mut self,
        id: u64,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, MgError> {
        let Some(c) = body.get("customer").and_then(Value::as_object) else {
            return Err(
                MgError::bad_request("\"%fieldName\" is required. Enter and try again.")
                    .params(json!({"fieldName": "customer"})),
            );
        };
        if !self.customers.contains_key(&id) {
            return Err(MgError::no_entity("customerId", &id.to_string()));
        }
        let text = |f: &str| c.get(f).and_then(Value::as_str).map(str::trim);
        for field in ["firstname", "lastname", "email"] {
            if text(field).is_none_or(str::is_empty) {
                return Err(MgError::bad_request("\"%fieldName\" is a required value.")
                    .params(json!({"fieldName": field})));
            }
        }
        let email = text("email").unwrap_or_default().to_owned();
        if !email.contains('@') {
            return Err(
                MgError::bad_request("\"%1\" is not a valid email address.").params(json!([email]))
            );
        }
        if self
            .customers
            .values()
            .any(|o| o.id != id && o.email.eq_ignore_ascii_case(&email))
        {
            return Err(MgError::bad_request(
                "A customer with the same email address already exists in an associated website.",
            ));
        }
        let cust = self
            .customers
            .get_mut(&id)
            .ok_or_else(|| MgError::no_entity("customerId", &id.to_string()))?;
        let before = (
            cust.email.clone(),
            cust.firstname.clone(),
            cust.lastname.clone(),
            cust.addresses.clone(),
        );
        cust.email = email;
        cust.firstname = text("firstname").unwrap_or_default().to_owned();
        cust.lastname = text("lastname").unwrap_or_default().to_owned();
        if let Some(a) = c.get("addresses").and_then(Value::as_array) {
            cust.addresses = a.clone();
        }
        let after = (
            cust.email.clone(),
            cust.firstname.clone(),
            cust.lastname.clone(),
            cust.addresses.clone(),
        );
        if before != after {
            cust.updated_at = now;
        }
        Ok(Self::customer_json(cust))
    }

    /// An order as the API answers it.
    pub fn order_json(o: &Order) -> Value {
        let items: Vec<Value> = o
            .lines
            .iter()
            .map(|(item, pid, sku, name, qty, price)| {
                json!({"item_id": item, "order_id": o.id, "product_id": pid, "sku": sku,
                    "name": name, "qty_ordered": qty, "price": price, "base_price": price,
                    "row_total": price * (*qty as f64), "product_type": "simple",
                    "created_at": stamp(o.created_at), "updated_at": stamp(o.updated_at)})
            })
            .collect();
        let total: f64 = o.lines.iter().map(|l| l.5 * l.4 as f64).sum();
        json!({"entity_id": o.id, "increment_id": o.increment_id, "state": o.state,
            "status": if o.state == "new" { "pending" } else { o.state.as_str() },
            "customer_id": o.customer_id, "customer_is_guest": i64::from(o.guest),
            "customer_email": o.email, "customer_firstname": o.firstname,
            "customer_lastname": o.lastname, "order_currency_code": "USD",
            "base_currency_code": "USD", "subtotal": total, "grand_total": total,
            "base_grand_total": total, "total_qty_ordered": o.lines.iter().map(|l| l.4).sum::<i64>(),
            "created_at": stamp(o.created_at), "updated_at": stamp(o.updated_at),
            "billing_address": {"address_type": "billing", "email": o.email,
                "firstname": o.firstname, "lastname": o.lastname},
            "items": items,
            "extension_attributes": {"weft_sim_source": o.source}})
    }

    /// A shopper's order: takes its lines from the source's quantities.
    pub fn place_order(
        &mut self,
        email: &str,
        lines: &[OrderLine],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, MgError> {
        if lines.is_empty() {
            return Err(MgError::bad_request("The order has no items."));
        }
        if !self.sources.iter().any(|s| s == source) {
            return Err(MgError::no_entity("sourceCode", source));
        }
        let mut out = Vec::new();
        for l in lines {
            let p = self.products.get(&l.sku).ok_or_else(MgError::no_product)?;
            if l.qty <= 0 {
                return Err(MgError::bad_request("The quantity must be above 0."));
            }
            out.push((p.id, l.sku.clone(), p.name.clone(), l.qty, p.price));
        }
        let customer = self
            .customers
            .values()
            .find(|c| c.email.eq_ignore_ascii_case(email))
            .cloned();
        let id = self.next_order;
        self.next_order += 1;
        let mut rows = Vec::new();
        for (pid, sku, name, qty, price) in out {
            let item = self.next_item;
            self.next_item += 1;
            let e = self
                .source_items
                .entry((sku.clone(), source.to_owned()))
                .or_insert((0.0, 1));
            e.0 -= qty as f64;
            rows.push((item, pid, sku, name, qty, price));
        }
        let o = Order {
            id,
            increment_id: format!("{id:09}"),
            customer_id: customer.as_ref().map(|c| c.id),
            guest: customer.is_none(),
            email: email.to_owned(),
            firstname: customer
                .as_ref()
                .map(|c| c.firstname.clone())
                .unwrap_or_default(),
            lastname: customer
                .as_ref()
                .map(|c| c.lastname.clone())
                .unwrap_or_default(),
            lines: rows,
            source: source.to_owned(),
            state: "new".into(),
            created_at: now,
            updated_at: now,
        };
        let j = Self::order_json(&o);
        self.orders.insert(id, o);
        Ok(j)
    }

    /// Accepts a bulk of `topic`: each item is validated for shape (else rejected), the rest
    /// get their due time and chaos draws. Returns the POST answer.
    pub fn accept_bulk(&mut self, topic: &str, items: &[Value], now: DateTime<Utc>) -> Value {
        let uuid = uuid::Uuid::from_u128(self.rng.random()).to_string();
        let lost = self
            .rng
            .random_bool(self.chaos.lost_bulk_share.clamp(0.0, 1.0));
        let mut ops = Vec::new();
        let mut request_items = Vec::new();
        let mut errors = false;
        for (i, item) in items.iter().enumerate() {
            let hash = hex::encode(Sha256::digest(item.to_string().as_bytes()));
            let shape = match topic {
                TOPIC_PRODUCTS => item.get("product").is_some_and(Value::is_object),
                _ => item.get("sourceItems").is_some_and(Value::is_array),
            };
            let jitter = self.chaos.consumer_jitter.as_millis() as u64;
            let extra = if jitter > 0 {
                self.rng.random_range(0..=jitter)
            } else {
                0
            };
            let delay = self.chaos.consumer_delay + Duration::from_millis(extra);
            let fail = self
                .rng
                .random_bool(self.chaos.retriable_failure_share.clamp(0.0, 1.0));
            let due = now + chrono::Duration::from_std(delay).unwrap_or_default();
            if shape {
                request_items.push(json!({"id": i, "data_hash": hash, "status": "accepted"}));
                ops.push(Operation {
                    id: i,
                    data: item.clone(),
                    status: STATUS_OPEN,
                    result_message: None,
                    error_code: None,
                    result_data: None,
                    due,
                    fail_retriably: fail,
                });
            } else {
                errors = true;
                let field = if topic == TOPIC_PRODUCTS {
                    "product"
                } else {
                    "sourceItems"
                };
                let msg = format!(
                    "Error processing {i} element of input data: \"{field}\" is required. Enter and try again."
                );
                request_items.push(json!({"id": i, "data_hash": hash, "status": "rejected",
                    "error_message": msg, "error_code": 0}));
                ops.push(Operation {
                    id: i,
                    data: item.clone(),
                    status: STATUS_REJECTED,
                    result_message: Some(msg),
                    error_code: Some(0),
                    result_data: None,
                    due,
                    fail_retriably: false,
                });
            }
        }
        self.bulks.insert(
            uuid.clone(),
            BulkRecord {
                uuid: uuid.clone(),
                topic: topic.to_owned(),
                start_time: now,
                operations: ops,
                lost,
            },
        );
        self.bulk_order.push(uuid.clone());
        json!({"bulk_uuid": uuid, "request_items": request_items, "errors": errors})
    }

    /// The consumer: applies every open operation due by `now`, in acceptance order.
    pub fn consume(&mut self, now: DateTime<Utc>) {
        let order = self.bulk_order.clone();
        for uuid in order {
            let Some(bulk) = self.bulks.get(&uuid) else {
                continue;
            };
            let (topic, lost) = (bulk.topic.clone(), bulk.lost);
            let due: Vec<(usize, Value, bool, DateTime<Utc>)> = bulk
                .operations
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    o.status == STATUS_OPEN && o.due <= now && o.result_message.is_none()
                })
                .map(|(i, o)| (i, o.data.clone(), o.fail_retriably, o.due))
                .collect();
            for (i, data, fail, at) in due {
                let mut result_data = None;
                let (status, message, code) = if lost {
                    if self.chaos.lost_bulk_applies {
                        let _ = self.apply(&topic, &data, at);
                    }
                    // Processed (or dropped) without a status: it stays open for good.
                    (STATUS_OPEN, Some(String::new()), None)
                } else if fail {
                    (
                        STATUS_RETRIABLE,
                        Some("SQLSTATE[HY000]: General error: 1205 Lock wait timeout exceeded; try restarting transaction".to_owned()),
                        Some(1205),
                    )
                } else {
                    match self.apply(&topic, &data, at) {
                        Ok(out) => (
                            data_out(&mut result_data, out),
                            Some(if topic == TOPIC_PRODUCTS {
                                "Service execution success Magento\\Catalog\\Model\\ProductRepository\\Interceptor::save".to_owned()
                            } else {
                                "Service execution success Magento\\InventoryCatalog\\Model\\SourceItemsSaveWithDefaultSource::execute".to_owned()
                            }),
                            None,
                        ),
                        Err(e) => (STATUS_MUST_CHANGE, Some(e.rendered()), Some(0)),
                    }
                };
                if let Some(op) = self
                    .bulks
                    .get_mut(&uuid)
                    .and_then(|b| b.operations.get_mut(i))
                {
                    op.status = status;
                    op.result_message = message;
                    op.error_code = code;
                    op.result_data = result_data;
                }
            }
        }
    }

    fn apply(
        &mut self,
        topic: &str,
        data: &Value,
        at: DateTime<Utc>,
    ) -> Result<Option<Value>, MgError> {
        if topic == TOPIC_PRODUCTS {
            self.save_product(data, at).map(Some)
        } else {
            self.save_source_items(data).map(|()| None)
        }
    }

    /// A bulk's detailed status as the API answers it.
    pub fn bulk_status_json(b: &BulkRecord, detailed: bool) -> Value {
        let ops: Vec<Value> = b
            .operations
            .iter()
            .map(|o| {
                let mut j = json!({"id": o.id, "status": o.status,
                    "result_message": o.result_message.clone().filter(|m| !m.is_empty()),
                    "error_code": o.error_code});
                if detailed {
                    j["topic_name"] = json!(b.topic);
                    j["bulk_uuid"] = json!(b.uuid);
                    j["serialized_data"] = json!(o.data.to_string());
                    j["result_serialized_data"] = json!(o.result_data);
                }
                j
            })
            .collect();
        json!({"operations_list": ops, "user_type": 1, "bulk_id": b.uuid,
            "description": format!("Topic {}", b.topic), "start_time": stamp(b.start_time),
            "user_id": 1, "operation_count": b.operations.len()})
    }

    /// The products as a list for searching.
    pub fn products_json(&self) -> Vec<Value> {
        let mut v: Vec<&Product> = self.products.values().collect();
        v.sort_by_key(|p| p.id);
        v.into_iter().map(|p| self.product_json(p)).collect()
    }
}

/// Keeps a service call's output as the operation's serialized result.
fn data_out(slot: &mut Option<String>, out: Option<Value>) -> u8 {
    *slot = out.map(|v| v.to_string());
    STATUS_COMPLETE
}

/// A JSON value as plain text.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A map of JSON (for merchant edits).
pub type Fields = Map<String, Value>;
