//! The store: products with their variants, stock per variant and location, customers, orders
//! with their products, webhooks (hooks), the clock, and the events that changes fire.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::BcError;

/// Who made a change (for the stock ledger).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A client of the REST API.
    Api,
    /// The merchant (control panel), through `/_sim` or the Rust API.
    Merchant,
    /// An order taking or giving back stock.
    Order,
}

/// One change of a stock figure.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StockChange {
    /// Variant.
    pub variant_id: u64,
    /// SKU.
    pub sku: String,
    /// Location.
    pub location_id: u64,
    /// Before.
    pub before: i64,
    /// After.
    pub after: i64,
    /// Who.
    pub actor: Actor,
    /// Shop time.
    pub at: String,
}

/// An event that fires webhooks: `scope` and the `data` object's `type` and `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `store/product/updated`, ...
    pub scope: String,
    /// `product`, `order`, `customer`, `sku`.
    pub data_type: String,
    /// The resource id.
    pub id: u64,
    /// What else the `data` object carries (a `store/sku/*` event's `sku` object), if any.
    pub detail: Option<(String, Value)>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A product.
#[derive(Clone, Debug)]
pub struct Product {
    /// Id.
    pub id: u64,
    /// Name (unique per store).
    pub name: String,
    /// `physical` or `digital`.
    pub kind: String,
    /// Price.
    pub price: f64,
    /// Weight.
    pub weight: f64,
    /// `none`, `product` or `variant`.
    pub inventory_tracking: String,
    /// Visible on the storefront.
    pub is_visible: bool,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last modified (moved by its variants' and its stock's changes too).
    pub date_modified: DateTime<Utc>,
    /// Its variants; the first is the base variant.
    pub variants: Vec<u64>,
}

/// A variant (the base variant of a product without options, or one of its option variants).
#[derive(Clone, Debug)]
pub struct Variant {
    /// Id.
    pub id: u64,
    /// Product.
    pub product_id: u64,
    /// SKU (unique across the store, case-insensitive, may be empty).
    pub sku: String,
    /// Its own price, or `None` to take the product's.
    pub price: Option<f64>,
    /// Option values (`{"option_display_name","label"}`).
    pub option_values: Vec<Value>,
    /// The product's base variant.
    pub is_base: bool,
}

/// A customer.
#[derive(Clone, Debug)]
pub struct Customer {
    /// Id.
    pub id: u64,
    /// The customer's fields as the API shows them (email, names, company, phone).
    pub fields: Map<String, Value>,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Modified.
    pub date_modified: DateTime<Utc>,
}

/// One product line of an order.
#[derive(Clone, Debug)]
pub struct OrderLine {
    /// Line id.
    pub id: u64,
    /// Product.
    pub product_id: u64,
    /// Variant.
    pub variant_id: u64,
    /// SKU at the time of the order.
    pub sku: String,
    /// Product name at the time of the order.
    pub name: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price.
    pub price: f64,
}

/// An order (V2).
#[derive(Clone, Debug)]
pub struct Order {
    /// Id.
    pub id: u64,
    /// Customer (0: guest).
    pub customer_id: u64,
    /// Status id.
    pub status_id: u64,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Modified.
    pub date_modified: DateTime<Utc>,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Billing address as given.
    pub billing_address: Value,
    /// Whether the order holds its stock now.
    pub holds_stock: bool,
}

/// A hook (`/v3/hooks`).
#[derive(Clone, Debug)]
pub struct Hook {
    /// Id.
    pub id: u64,
    /// Scope, possibly ending in `/*`.
    pub scope: String,
    /// Destination URL.
    pub destination: String,
    /// Active.
    pub is_active: bool,
    /// Custom headers sent with every callback.
    pub headers: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Hook {
    /// The hook as the API shows it.
    pub fn json(&self, store_hash: &str) -> Value {
        json!({
            "id": self.id,
            "client_id": "sim-client",
            "store_hash": store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "is_active": self.is_active,
            "headers": if self.headers.is_empty() { Value::Null } else { Value::Object(self.headers.clone()) },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// Whether an event of `scope` goes to this hook.
    pub fn matches(&self, scope: &str) -> bool {
        match self.scope.strip_suffix("/*") {
            Some(prefix) => scope.starts_with(&format!("{prefix}/")),
            None => self.scope == scope,
        }
    }
}

/// The statuses of V2 orders.
pub const ORDER_STATUSES: [(u64, &str); 15] = [
    (0, "Incomplete"),
    (1, "Pending"),
    (2, "Shipped"),
    (3, "Partially Shipped"),
    (4, "Refunded"),
    (5, "Cancelled"),
    (6, "Declined"),
    (7, "Awaiting Payment"),
    (8, "Awaiting Pickup"),
    (9, "Awaiting Shipment"),
    (10, "Completed"),
    (11, "Awaiting Fulfillment"),
    (12, "Manual Verification Required"),
    (13, "Disputed"),
    (14, "Partially Refunded"),
];

/// The name of status `id`.
pub fn status_name(id: u64) -> Option<&'static str> {
    ORDER_STATUSES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
}

/// Whether an order in status `id` holds its stock (assumption: every status but Incomplete,
/// Refunded, Cancelled and Declined).
pub fn status_holds_stock(id: u64) -> bool {
    !matches!(id, 0 | 4 | 5 | 6)
}

/// The id of the default location every store has.
pub const DEFAULT_LOCATION: u64 = 1;

/// V3 date: `2026-01-15T12:00:00+00:00`.
pub fn v3_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// V2 date (RFC 2822): `Thu, 15 Jan 2026 12:00:00 +0000`.
pub fn v2_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// Parses a date filter value: RFC 3339, RFC 2822, `YYYY-MM-DD[THH:MM:SS]` (UTC) or unix
/// seconds.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return DateTime::from_timestamp(n, 0);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn money(v: f64) -> String {
    format!("{v:.4}")
}

/// What [`Store::snapshot`] keeps.
pub struct Snapshot {
    next_id: BTreeMap<&'static str, u64>,
    products: BTreeMap<u64, Product>,
    variants: BTreeMap<u64, Variant>,
    levels: BTreeMap<(u64, u64), i64>,
    customers: BTreeMap<u64, Customer>,
    outbox: usize,
    ledger: usize,
}

/// The shop.
pub struct Store {
    base_time: DateTime<Utc>,
    started: tokio::time::Instant,
    advanced: Duration,
    next_id: BTreeMap<&'static str, u64>,
    /// Products.
    pub products: BTreeMap<u64, Product>,
    /// Variants.
    pub variants: BTreeMap<u64, Variant>,
    /// Stock per (variant, location).
    pub levels: BTreeMap<(u64, u64), i64>,
    /// Locations: id to (code, label).
    pub locations: BTreeMap<u64, (String, String)>,
    /// Customers.
    pub customers: BTreeMap<u64, Customer>,
    /// Orders.
    pub orders: BTreeMap<u64, Order>,
    /// Hooks.
    pub hooks: BTreeMap<u64, Hook>,
    /// Fired events not yet handed to the webhook hub.
    pub outbox: Vec<Event>,
    /// Every stock change.
    pub ledger: Vec<StockChange>,
    /// Who is acting.
    pub acting: Actor,
}

impl Store {
    /// An empty store with its default location.
    pub fn new(base_time: DateTime<Utc>) -> Self {
        let mut locations = BTreeMap::new();
        locations.insert(
            DEFAULT_LOCATION,
            ("BC-LOCATION-1".to_owned(), "Default location".to_owned()),
        );
        Store {
            base_time,
            started: tokio::time::Instant::now(),
            advanced: Duration::ZERO,
            next_id: BTreeMap::new(),
            products: BTreeMap::new(),
            variants: BTreeMap::new(),
            levels: BTreeMap::new(),
            locations,
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            hooks: BTreeMap::new(),
            outbox: Vec::new(),
            ledger: Vec::new(),
            acting: Actor::Api,
        }
    }

    /// Shop time now, to the second.
    pub fn now(&self) -> DateTime<Utc> {
        let t = self.base_time
            + chrono::Duration::from_std(self.started.elapsed() + self.advanced)
                .unwrap_or_default();
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
    }

    /// Moves the shop clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.advanced += d;
    }

    fn id(&mut self, kind: &'static str) -> u64 {
        let start = match kind {
            "product" => 111,
            "variant" => 70,
            "order" => 100,
            "line" => 1,
            "customer" => 1,
            "hook" => 20_172_984,
            "location" => 2,
            _ => 1,
        };
        let n = self.next_id.entry(kind).or_insert(start);
        let id = *n;
        *n += 1;
        id
    }

    /// A copy of everything a batch may change, to restore when one of its items fails.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            next_id: self.next_id.clone(),
            products: self.products.clone(),
            variants: self.variants.clone(),
            levels: self.levels.clone(),
            customers: self.customers.clone(),
            outbox: self.outbox.len(),
            ledger: self.ledger.len(),
        }
    }

    /// Puts a snapshot back.
    pub fn restore(&mut self, s: Snapshot) {
        self.next_id = s.next_id;
        self.products = s.products;
        self.variants = s.variants;
        self.levels = s.levels;
        self.customers = s.customers;
        self.outbox.truncate(s.outbox);
        self.ledger.truncate(s.ledger);
    }

    fn fire(&mut self, scope: &str, data_type: &str, id: u64) {
        let created_at = self.now().timestamp();
        self.outbox.push(Event {
            scope: scope.to_owned(),
            data_type: data_type.to_owned(),
            id,
            detail: None,
            created_at,
        });
    }

    fn touch_product(&mut self, id: u64) {
        let now = self.now();
        if let Some(p) = self.products.get_mut(&id) {
            p.date_modified = now;
        }
    }

    // ------------------------------------------------------------------ catalog

    /// Stock of a variant summed over locations.
    pub fn variant_level(&self, id: u64) -> i64 {
        self.levels
            .range((id, 0)..=(id, u64::MAX))
            .map(|(_, q)| *q)
            .sum()
    }

    fn sku_taken(&self, sku: &str, except: Option<u64>) -> bool {
        !sku.is_empty()
            && self
                .variants
                .values()
                .any(|v| Some(v.id) != except && v.sku.eq_ignore_ascii_case(sku))
    }

    /// The variant with `sku` (case-insensitive).
    pub fn variant_by_sku(&self, sku: &str) -> Option<&Variant> {
        self.variants
            .values()
            .find(|v| !sku.is_empty() && v.sku.eq_ignore_ascii_case(sku))
    }

    /// A variant as the API shows it.
    pub fn variant_json(&self, v: &Variant) -> Value {
        let p = &self.products[&v.product_id];
        let price = v.price.unwrap_or(p.price);
        json!({
            "id": v.id,
            "product_id": v.product_id,
            "sku": v.sku,
            "sku_id": if v.is_base { Value::Null } else { json!(v.id + 1000) },
            "price": v.price,
            "calculated_price": price,
            "sale_price": null,
            "weight": null,
            "inventory_level": self.variant_level(v.id),
            "inventory_warning_level": 0,
            "purchasing_disabled": false,
            "option_values": v.option_values,
        })
    }

    /// A product as the API shows it (with its variants when `variants`).
    pub fn product_json(&self, p: &Product, variants: bool) -> Value {
        let base = p.variants.first().and_then(|v| self.variants.get(v));
        let level: i64 = p.variants.iter().map(|v| self.variant_level(*v)).sum();
        let mut o = json!({
            "id": p.id,
            "name": p.name,
            "type": p.kind,
            "sku": base.map(|b| b.sku.clone()).unwrap_or_default(),
            "price": p.price,
            "calculated_price": p.price,
            "weight": p.weight,
            "inventory_level": level,
            "inventory_warning_level": 0,
            "inventory_tracking": p.inventory_tracking,
            "is_visible": p.is_visible,
            "base_variant_id": base.map(|b| b.id),
            "date_created": v3_date(p.date_created),
            "date_modified": v3_date(p.date_modified),
        });
        if variants {
            o["variants"] = Value::Array(
                p.variants
                    .iter()
                    .filter_map(|v| self.variants.get(v))
                    .map(|v| self.variant_json(v))
                    .collect(),
            );
        }
        o
    }

    fn set_level(&mut self, variant: u64, location: u64, qty: i64) {
        let before = self.levels.get(&(variant, location)).copied().unwrap_or(0);
        if before == qty && self.levels.contains_key(&(variant, location)) {
            return;
        }
        self.levels.insert((variant, location), qty);
        let sku = self.variants[&variant].sku.clone();
        let at = v3_date(self.now());
        self.ledger.push(StockChange {
            variant_id: variant,
            sku,
            location_id: location,
            before,
            after: qty,
            actor: self.acting,
            at,
        });
    }

    fn num(body: &Value, field: &str) -> Result<Option<f64>, BcError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| *f >= 0.0)
                .map(Some)
                .ok_or_else(|| BcError::invalid(field, "must be a non-negative number")),
            Some(_) => Err(BcError::invalid(field, "must be a number")),
        }
    }

    fn int(body: &Value, field: &str) -> Result<Option<i64>, BcError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| BcError::invalid(field, "must be an integer")),
            Some(_) => Err(BcError::invalid(field, "must be an integer")),
        }
    }

    fn text(body: &Value, field: &str) -> Result<Option<String>, BcError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(BcError::invalid(field, "must be a string")),
        }
    }

    /// Creates a product (and its variants) from its V3 JSON; returns its id.
    pub fn create_product(&mut self, body: &Value) -> Result<u64, BcError> {
        let name = Self::text(body, "name")?
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| BcError::invalid("name", "name is required"))?;
        let kind = Self::text(body, "type")?.unwrap_or_else(|| "physical".into());
        if kind != "physical" && kind != "digital" {
            return Err(BcError::invalid("type", "must be physical or digital"));
        }
        let price = Self::num(body, "price")?
            .ok_or_else(|| BcError::invalid("price", "price is required"))?;
        let weight = Self::num(body, "weight")?.unwrap_or(0.0);
        if self.products.values().any(|p| p.name == name) {
            return Err(BcError::new(409, "The product name is a duplicate").field(
                "name",
                format!("The product name '{name}' is already in use"),
            ));
        }
        let tracking = Self::text(body, "inventory_tracking")?.unwrap_or_else(|| "none".into());
        if !matches!(tracking.as_str(), "none" | "product" | "variant") {
            return Err(BcError::invalid(
                "inventory_tracking",
                "must be none, product or variant",
            ));
        }
        let sku = Self::text(body, "sku")?.unwrap_or_default();
        let level = Self::int(body, "inventory_level")?.unwrap_or(0);
        let variants = body
            .get("variants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut skus: Vec<String> = vec![sku.clone()];
        for v in &variants {
            skus.push(Self::text(v, "sku")?.unwrap_or_default());
        }
        for (i, s) in skus.iter().enumerate() {
            if self.sku_taken(s, None)
                || skus[..i]
                    .iter()
                    .any(|o| !o.is_empty() && o.eq_ignore_ascii_case(s))
            {
                return Err(sku_conflict(s));
            }
        }
        let now = self.now();
        let id = self.id("product");
        let base = self.id("variant");
        self.products.insert(
            id,
            Product {
                id,
                name,
                kind,
                price,
                weight,
                inventory_tracking: tracking,
                is_visible: body["is_visible"].as_bool().unwrap_or(true),
                date_created: now,
                date_modified: now,
                variants: vec![base],
            },
        );
        self.variants.insert(
            base,
            Variant {
                id: base,
                product_id: id,
                sku,
                price: None,
                option_values: Vec::new(),
                is_base: true,
            },
        );
        self.set_level(base, DEFAULT_LOCATION, level);
        for v in &variants {
            self.insert_variant(id, v)?;
        }
        self.fire("store/product/created", "product", id);
        Ok(id)
    }

    fn insert_variant(&mut self, product: u64, body: &Value) -> Result<u64, BcError> {
        let sku = Self::text(body, "sku")?.unwrap_or_default();
        if self.sku_taken(&sku, None) {
            return Err(sku_conflict(&sku));
        }
        let price = Self::num(body, "price")?;
        let level = Self::int(body, "inventory_level")?.unwrap_or(0);
        let id = self.id("variant");
        self.variants.insert(
            id,
            Variant {
                id,
                product_id: product,
                sku,
                price,
                option_values: body
                    .get("option_values")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                is_base: false,
            },
        );
        if let Some(p) = self.products.get_mut(&product) {
            p.variants.push(id);
        }
        self.set_level(id, DEFAULT_LOCATION, level);
        Ok(id)
    }

    /// Creates a variant of `product`.
    pub fn create_variant(&mut self, product: u64, body: &Value) -> Result<u64, BcError> {
        if !self.products.contains_key(&product) {
            return Err(BcError::not_found());
        }
        let id = self.insert_variant(product, body)?;
        self.touch_product(product);
        self.fire("store/product/updated", "product", product);
        Ok(id)
    }

    /// Updates a product from its V3 JSON (name, price, sku, weight, inventory_tracking,
    /// inventory_level, is_visible).
    pub fn update_product(&mut self, id: u64, body: &Value) -> Result<(), BcError> {
        let p = self.products.get(&id).ok_or_else(BcError::not_found)?;
        let base = p.variants[0];
        let name = Self::text(body, "name")?;
        if let Some(n) = &name
            && self.products.values().any(|o| o.id != id && &o.name == n)
        {
            return Err(BcError::new(409, "The product name is a duplicate")
                .field("name", format!("The product name '{n}' is already in use")));
        }
        let price = Self::num(body, "price")?;
        let weight = Self::num(body, "weight")?;
        let sku = Self::text(body, "sku")?;
        if let Some(s) = &sku
            && self.sku_taken(s, Some(base))
        {
            return Err(sku_conflict(s));
        }
        let tracking = Self::text(body, "inventory_tracking")?;
        if let Some(t) = &tracking
            && !matches!(t.as_str(), "none" | "product" | "variant")
        {
            return Err(BcError::invalid(
                "inventory_tracking",
                "must be none, product or variant",
            ));
        }
        let level = Self::int(body, "inventory_level")?;
        let p = self.products.get_mut(&id).expect("checked");
        if let Some(n) = name {
            p.name = n;
        }
        if let Some(v) = price {
            p.price = v;
        }
        if let Some(v) = weight {
            p.weight = v;
        }
        if let Some(t) = tracking {
            p.inventory_tracking = t;
        }
        if let Some(v) = body.get("is_visible").and_then(Value::as_bool) {
            p.is_visible = v;
        }
        if let Some(s) = sku {
            self.variants.get_mut(&base).expect("base").sku = s;
        }
        let mut stock = false;
        if let Some(l) = level {
            self.set_level(base, DEFAULT_LOCATION, l);
            stock = true;
        }
        self.touch_product(id);
        self.fire("store/product/updated", "product", id);
        if stock {
            self.fire("store/product/inventory/updated", "product", id);
        }
        Ok(())
    }

    /// Updates a variant (sku, price, inventory_level at the default location). With
    /// `product`, the variant must belong to it.
    pub fn update_variant(
        &mut self,
        id: u64,
        product: Option<u64>,
        body: &Value,
    ) -> Result<(), BcError> {
        let v = self.variants.get(&id).ok_or_else(BcError::not_found)?;
        if product.is_some_and(|p| p != v.product_id) {
            return Err(BcError::not_found());
        }
        let pid = v.product_id;
        let sku = Self::text(body, "sku")?;
        if let Some(s) = &sku
            && self.sku_taken(s, Some(id))
        {
            return Err(sku_conflict(s));
        }
        let price = match body.get("price") {
            Some(Value::Null) => Some(None),
            None => None,
            Some(_) => Some(Self::num(body, "price")?),
        };
        let level = Self::int(body, "inventory_level")?;
        let v = self.variants.get_mut(&id).expect("checked");
        if let Some(s) = sku {
            v.sku = s;
        }
        if let Some(p) = price {
            v.price = p;
        }
        if let Some(l) = level {
            self.set_level(id, DEFAULT_LOCATION, l);
        }
        self.touch_product(pid);
        self.fire("store/product/updated", "product", pid);
        if level.is_some() {
            self.fire("store/product/inventory/updated", "product", pid);
        }
        Ok(())
    }

    /// Deletes a product and its variants.
    pub fn delete_product(&mut self, id: u64) -> Result<(), BcError> {
        let p = self.products.remove(&id).ok_or_else(BcError::not_found)?;
        for v in p.variants {
            self.variants.remove(&v);
            self.levels.retain(|(var, _), _| *var != v);
        }
        self.fire("store/product/deleted", "product", id);
        Ok(())
    }

    /// Deletes the products `ids` (`DELETE /v3/catalog/products?id:in=…`), each as
    /// [`Store::delete_product`] does; ids that do not exist are passed over.
    pub fn delete_products(&mut self, ids: &[u64]) {
        for id in ids {
            let _gone_already = self.delete_product(*id);
        }
    }

    /// Deletes variant `id` of `product` (`DELETE /v3/catalog/products/{product}/variants/{id}`):
    /// 404 when the product has no such variant, 422 for the product's base variant (the
    /// product itself is deleted instead). Its stock goes with it; the product is modified
    /// (`date_modified`, `store/product/updated`), and a variant with a SKU record fires
    /// `store/sku/deleted`.
    pub fn delete_variant(&mut self, product: u64, id: u64) -> Result<(), BcError> {
        let v = self
            .variants
            .get(&id)
            .filter(|v| v.product_id == product)
            .ok_or_else(BcError::not_found)?;
        if v.is_base {
            return Err(BcError::new(
                422,
                "The base variant of a product cannot be deleted; delete the product instead.",
            )
            .field(
                "variant_id",
                format!("{id} is the base variant of product {product}"),
            ));
        }
        let sku_id = self.variant_json(v)["sku_id"].as_u64();
        self.variants.remove(&id);
        self.levels.retain(|(var, _), _| *var != id);
        if let Some(p) = self.products.get_mut(&product) {
            p.variants.retain(|v| *v != id);
        }
        self.touch_product(product);
        self.fire("store/product/updated", "product", product);
        if let Some(sku_id) = sku_id {
            let created_at = self.now().timestamp();
            self.outbox.push(Event {
                scope: "store/sku/deleted".into(),
                data_type: "sku".into(),
                id: sku_id,
                detail: Some((
                    "sku".into(),
                    json!({"product_id": product, "variant_id": id}),
                )),
                created_at,
            });
        }
        Ok(())
    }

    /// Deletes a customer (BigCommerce keeps the customer's orders; the simulator does too).
    pub fn delete_customer(&mut self, id: u64) -> Result<(), BcError> {
        self.customers.remove(&id).ok_or_else(BcError::not_found)?;
        self.fire("store/customer/deleted", "customer", id);
        Ok(())
    }

    /// Deletes the customers `ids` (`DELETE /v3/customers?id:in=…`); ids that do not exist are
    /// passed over. Returns the ids deleted.
    pub fn delete_customers(&mut self, ids: &[u64]) -> Vec<u64> {
        ids.iter()
            .copied()
            .filter(|id| self.delete_customer(*id).is_ok())
            .collect()
    }

    // ---------------------------------------------------------------- inventory

    /// Creates a location; returns its id.
    pub fn create_location(&mut self, code: &str, label: &str) -> u64 {
        let id = self.id("location");
        self.locations
            .insert(id, (code.to_owned(), label.to_owned()));
        id
    }

    fn resolve_item(&self, item: &Value) -> Result<u64, String> {
        let named = ["sku", "variant_id", "product_id"]
            .iter()
            .filter(|k| item.get(**k).is_some_and(|v| !v.is_null()))
            .count();
        if named != 1 {
            return Err("exactly one of sku, variant_id or product_id is required".into());
        }
        if let Some(sku) = item.get("sku").and_then(Value::as_str) {
            return self
                .variant_by_sku(sku)
                .map(|v| v.id)
                .ok_or_else(|| format!("sku {sku}"));
        }
        if let Some(v) = item.get("variant_id").and_then(Value::as_u64) {
            return self
                .variants
                .contains_key(&v)
                .then_some(v)
                .ok_or_else(|| format!("variant_id {v}"));
        }
        if let Some(p) = item.get("product_id").and_then(Value::as_u64) {
            return match self.products.get(&p) {
                Some(prod) if prod.variants.len() == 1 => Ok(prod.variants[0]),
                Some(_) => Err(format!("product_id {p} has variants; name one of them")),
                None => Err(format!("product_id {p}")),
            };
        }
        Err("the item identifier must be a string sku or an integer id".into())
    }

    /// An inventory adjustment (`absolute`: set, else add), all or nothing.
    pub fn adjust(&mut self, absolute: bool, body: &Value, limit: usize) -> Result<(), BcError> {
        let items = body
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| BcError::invalid("items", "items is required"))?;
        if items.is_empty() {
            return Err(BcError::invalid("items", "items must not be empty"));
        }
        if items.len() > limit {
            return Err(BcError::new(
                413,
                format!("The request payload is too large: at most {limit} items"),
            ));
        }
        let mut missing_locations = Vec::new();
        let mut missing_items = Vec::new();
        let mut plan: Vec<(u64, u64, i64)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let loc = item.get("location_id").and_then(Value::as_u64);
            let qty = item.get("quantity").and_then(Value::as_i64);
            let (Some(loc), Some(qty)) = (loc, qty) else {
                return Err(BcError::invalid(
                    &format!("items.{i}"),
                    "location_id and an integer quantity are required",
                ));
            };
            if !self.locations.contains_key(&loc) {
                missing_locations.push(loc);
                continue;
            }
            match self.resolve_item(item) {
                Ok(v) => plan.push((v, loc, qty)),
                Err(e) => missing_items.push(e),
            }
        }
        if !missing_locations.is_empty() {
            let ids: Vec<String> = missing_locations.iter().map(u64::to_string).collect();
            return Err(BcError::new(
                422,
                format!("Location not found, identities: [{}]", ids.join(",")),
            ));
        }
        if !missing_items.is_empty() {
            return Err(BcError::new(
                422,
                format!("Inventory item not found: {}", missing_items.join(", ")),
            ));
        }
        let mut result: BTreeMap<(u64, u64), i64> = BTreeMap::new();
        for (v, l, q) in &plan {
            let cur = result
                .get(&(*v, *l))
                .copied()
                .unwrap_or_else(|| self.levels.get(&(*v, *l)).copied().unwrap_or(0));
            let next = if absolute { *q } else { cur + q };
            if !(0..=1_000_000_000).contains(&next) {
                return Err(BcError::new(
                    422,
                    format!(
                        "Inventory level for variant {v} at location {l} would be {next}: it must be between 0 and 1000000000"
                    ),
                ));
            }
            result.insert((*v, *l), next);
        }
        let mut products = Vec::new();
        for ((v, l), q) in result {
            self.set_level(v, l, q);
            let p = self.variants[&v].product_id;
            if !products.contains(&p) {
                products.push(p);
            }
        }
        for p in products {
            self.touch_product(p);
            self.fire("store/product/inventory/updated", "product", p);
        }
        Ok(())
    }

    /// An inventory item (`/v3/inventory/items`) for one variant.
    pub fn inventory_item_json(&self, v: &Variant, locations: Option<&[u64]>) -> Value {
        let locs: Vec<Value> = self
            .locations
            .iter()
            .filter(|(id, _)| locations.is_none_or(|l| l.contains(id)))
            .map(|(id, (code, _))| {
                let q = self.levels.get(&(v.id, *id)).copied().unwrap_or(0);
                json!({
                    "location_id": id,
                    "location_code": code,
                    "available_to_sell": q,
                    "total_inventory_onhand": q,
                    "settings": { "safety_stock": 0, "is_in_stock": q > 0, "warning_level": 0, "bin_picking_number": "" },
                })
            })
            .collect();
        json!({
            "identity": { "sku": v.sku, "variant_id": v.id, "product_id": v.product_id, "sku_id": if v.is_base { Value::Null } else { json!(v.id + 1000) } },
            "locations": locs,
        })
    }

    // ---------------------------------------------------------------- customers

    /// A customer as the API shows it.
    pub fn customer_json(&self, c: &Customer) -> Value {
        let mut o = c.fields.clone();
        o.insert("id".into(), json!(c.id));
        o.insert("date_created".into(), json!(v3_date(c.date_created)));
        o.insert("date_modified".into(), json!(v3_date(c.date_modified)));
        Value::Object(o)
    }

    fn customer_fields(body: &Value) -> Result<Map<String, Value>, BcError> {
        let mut out = Map::new();
        for k in [
            "email",
            "first_name",
            "last_name",
            "company",
            "phone",
            "notes",
        ] {
            if let Some(v) = Self::text(body, k)? {
                out.insert(k.into(), Value::String(v));
            }
        }
        Ok(out)
    }

    /// Creates a customer; returns its id.
    pub fn create_customer(&mut self, body: &Value) -> Result<u64, BcError> {
        let mut fields = Self::customer_fields(body)?;
        let email = fields
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@'))
            .ok_or_else(|| BcError::invalid("email", "a valid email is required"))?
            .to_owned();
        for k in ["first_name", "last_name"] {
            if !fields.contains_key(k) {
                return Err(BcError::invalid(k, format!("{k} is required")));
            }
        }
        if self.customers.values().any(|c| {
            c.fields["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        }) {
            return Err(
                BcError::new(422, "The email address is already in use").field(
                    "email",
                    format!("The email address {email} is already in use"),
                ),
            );
        }
        for k in ["company", "phone", "notes"] {
            fields.entry(k).or_insert(json!(""));
        }
        let now = self.now();
        let id = self.id("customer");
        self.customers.insert(
            id,
            Customer {
                id,
                fields,
                date_created: now,
                date_modified: now,
            },
        );
        self.fire("store/customer/created", "customer", id);
        Ok(id)
    }

    /// Updates a customer.
    pub fn update_customer(&mut self, id: u64, body: &Value) -> Result<(), BcError> {
        if !self.customers.contains_key(&id) {
            return Err(BcError::not_found());
        }
        let fields = Self::customer_fields(body)?;
        let now = self.now();
        let c = self.customers.get_mut(&id).expect("checked");
        c.fields.extend(fields);
        c.date_modified = now;
        self.fire("store/customer/updated", "customer", id);
        Ok(())
    }

    // ------------------------------------------------------------------- orders

    fn take_stock(&mut self, order: u64, sign: i64) {
        let lines = self.orders[&order].lines.clone();
        let acting = std::mem::replace(&mut self.acting, Actor::Order);
        let mut products = Vec::new();
        for l in lines {
            if !self.variants.contains_key(&l.variant_id) {
                continue;
            }
            let tracked = self
                .products
                .get(&l.product_id)
                .is_some_and(|p| p.inventory_tracking != "none");
            if !tracked {
                continue;
            }
            let cur = self
                .levels
                .get(&(l.variant_id, DEFAULT_LOCATION))
                .copied()
                .unwrap_or(0);
            self.set_level(l.variant_id, DEFAULT_LOCATION, cur - sign * l.quantity);
            if !products.contains(&l.product_id) {
                products.push(l.product_id);
            }
        }
        self.acting = acting;
        for p in products {
            self.touch_product(p);
            self.fire("store/product/inventory/order/updated", "product", p);
        }
    }

    /// Creates an order from V2 JSON (`products: [{product_id, quantity, variant_id?} | {sku,
    /// quantity}]`, `customer_id`, `status_id`, `billing_address`); returns its id.
    pub fn create_order(&mut self, body: &Value) -> Result<u64, BcError> {
        let lines = body
            .get("products")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| BcError::new(400, "The field 'products' is invalid."))?;
        let customer_id = body.get("customer_id").and_then(Value::as_u64).unwrap_or(0);
        if customer_id != 0 && !self.customers.contains_key(&customer_id) {
            return Err(BcError::new(400, "The field 'customer_id' is invalid."));
        }
        let status_id = body.get("status_id").and_then(Value::as_u64).unwrap_or(1);
        if status_name(status_id).is_none() {
            return Err(BcError::new(400, "The field 'status_id' is invalid."));
        }
        let mut out = Vec::new();
        for l in lines {
            let quantity = l.get("quantity").and_then(Value::as_i64).unwrap_or(0);
            if quantity <= 0 {
                return Err(BcError::new(400, "The field 'quantity' is invalid."));
            }
            let variant = if let Some(sku) = l.get("sku").and_then(Value::as_str) {
                self.variant_by_sku(sku).map(|v| v.id)
            } else if let Some(v) = l.get("variant_id").and_then(Value::as_u64) {
                self.variants.contains_key(&v).then_some(v)
            } else {
                l.get("product_id")
                    .and_then(Value::as_u64)
                    .and_then(|p| self.products.get(&p))
                    .filter(|p| p.variants.len() == 1)
                    .map(|p| p.variants[0])
            };
            let Some(vid) = variant else {
                return Err(BcError::new(400, "The field 'product_id' is invalid."));
            };
            let v = &self.variants[&vid];
            let p = &self.products[&v.product_id];
            let price = l
                .get("price_inc_tax")
                .and_then(Value::as_f64)
                .unwrap_or(v.price.unwrap_or(p.price));
            out.push(OrderLine {
                id: 0,
                product_id: p.id,
                variant_id: vid,
                sku: v.sku.clone(),
                name: p.name.clone(),
                quantity,
                price,
            });
        }
        for l in &mut out {
            l.id = self.id("line");
        }
        let now = self.now();
        let id = self.id("order");
        self.orders.insert(
            id,
            Order {
                id,
                customer_id,
                status_id,
                date_created: now,
                date_modified: now,
                lines: out,
                billing_address: body.get("billing_address").cloned().unwrap_or(json!({})),
                holds_stock: false,
            },
        );
        if status_holds_stock(status_id) {
            self.take_stock(id, 1);
            self.orders.get_mut(&id).expect("created").holds_stock = true;
        }
        self.fire("store/order/created", "order", id);
        Ok(id)
    }

    /// Updates an order: its status (stock taken or given back as the status says).
    pub fn update_order(&mut self, id: u64, body: &Value) -> Result<(), BcError> {
        let o = self.orders.get(&id).ok_or_else(BcError::not_found)?;
        let old = o.status_id;
        let status = match body.get("status_id") {
            None => old,
            Some(v) => v
                .as_u64()
                .filter(|s| status_name(*s).is_some())
                .ok_or_else(|| BcError::new(400, "The field 'status_id' is invalid."))?,
        };
        let now = self.now();
        let o = self.orders.get_mut(&id).expect("checked");
        o.status_id = status;
        o.date_modified = now;
        let holds = o.holds_stock;
        let wants = status_holds_stock(status);
        if holds != wants {
            self.take_stock(id, if wants { 1 } else { -1 });
            self.orders.get_mut(&id).expect("checked").holds_stock = wants;
        }
        self.fire("store/order/updated", "order", id);
        if status != old {
            self.fire("store/order/statusUpdated", "order", id);
        }
        Ok(())
    }

    /// An order as V2 shows it.
    pub fn order_json(&self, o: &Order, base_url: &str, store_hash: &str) -> Value {
        let subtotal: f64 = o.lines.iter().map(|l| l.price * l.quantity as f64).sum();
        let items: i64 = o.lines.iter().map(|l| l.quantity).sum();
        json!({
            "id": o.id,
            "customer_id": o.customer_id,
            "date_created": v2_date(o.date_created),
            "date_modified": v2_date(o.date_modified),
            "status_id": o.status_id,
            "status": status_name(o.status_id).unwrap_or_default(),
            "subtotal_ex_tax": money(subtotal),
            "subtotal_inc_tax": money(subtotal),
            "total_ex_tax": money(subtotal),
            "total_inc_tax": money(subtotal),
            "items_total": items,
            "currency_code": "USD",
            "billing_address": o.billing_address,
            "products": {
                "url": format!("{base_url}/stores/{store_hash}/v2/orders/{}/products", o.id),
                "resource": format!("/orders/{}/products", o.id),
            },
        })
    }

    /// An order's product lines as V2 shows them.
    pub fn order_products_json(&self, o: &Order) -> Value {
        Value::Array(
            o.lines
                .iter()
                .map(|l| {
                    json!({
                        "id": l.id,
                        "order_id": o.id,
                        "product_id": l.product_id,
                        "variant_id": l.variant_id,
                        "name": l.name,
                        "sku": l.sku,
                        "quantity": l.quantity,
                        "price_ex_tax": money(l.price),
                        "price_inc_tax": money(l.price),
                        "total_ex_tax": money(l.price * l.quantity as f64),
                        "total_inc_tax": money(l.price * l.quantity as f64),
                    })
                })
                .collect(),
        )
    }

    // -------------------------------------------------------------------- hooks

    /// Creates a hook.
    pub fn create_hook(&mut self, body: &Value, require_https: bool) -> Result<u64, BcError> {
        let scope = Self::text(body, "scope")?
            .filter(|s| s.starts_with("store/"))
            .ok_or_else(|| BcError::invalid("scope", "scope is required and starts with store/"))?;
        let destination = Self::text(body, "destination")?
            .ok_or_else(|| BcError::invalid("destination", "destination is required"))?;
        check_destination(&destination, require_https)?;
        let headers = match body.get("headers") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) if m.values().all(Value::is_string) => m.clone(),
            Some(_) => {
                return Err(BcError::invalid(
                    "headers",
                    "headers must be an object of strings",
                ));
            }
        };
        let now = self.now().timestamp();
        let id = self.id("hook");
        self.hooks.insert(
            id,
            Hook {
                id,
                scope,
                destination,
                is_active: body["is_active"].as_bool().unwrap_or(true),
                headers,
                created_at: now,
                updated_at: now,
            },
        );
        Ok(id)
    }

    /// Updates a hook (scope, destination, is_active, headers).
    pub fn update_hook(
        &mut self,
        id: u64,
        body: &Value,
        require_https: bool,
    ) -> Result<(), BcError> {
        if !self.hooks.contains_key(&id) {
            return Err(BcError::not_found());
        }
        if let Some(d) = Self::text(body, "destination")? {
            check_destination(&d, require_https)?;
        }
        let now = self.now().timestamp();
        let h = self.hooks.get_mut(&id).expect("checked");
        if let Some(s) = body.get("scope").and_then(Value::as_str) {
            h.scope = s.to_owned();
        }
        if let Some(d) = body.get("destination").and_then(Value::as_str) {
            h.destination = d.to_owned();
        }
        if let Some(a) = body.get("is_active").and_then(Value::as_bool) {
            h.is_active = a;
        }
        if let Some(m) = body.get("headers").and_then(Value::as_object) {
            h.headers = m.clone();
        }
        h.updated_at = now;
        Ok(())
    }
}

fn sku_conflict(sku: &str) -> BcError {
    BcError::new(409, "The SKU is a duplicate").field("sku", format!("Sku '{sku}' is not unique"))
}

fn check_destination(d: &str, require_https: bool) -> Result<(), BcError> {
    let ok = if require_https {
        d.starts_with("https://") && !d[8..].split('/').next().unwrap_or("").contains(':')
            || d.starts_with("https://") && d[8..].split('/').next().unwrap_or("").ends_with(":443")
    } else {
        d.starts_with("https://") || d.starts_with("http://")
    };
    if ok {
        Ok(())
    } else {
        Err(BcError::invalid(
            "destination",
            "destination must be an https URL on port 443",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(
            DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn skus_are_unique_across_variants_ignoring_case() {
        let mut s = store();
        s.create_product(&json!({"name": "A", "type": "physical", "price": 1.0, "sku": "A-1"}))
            .unwrap();
        let e = s
            .create_product(&json!({"name": "B", "type": "physical", "price": 1.0, "sku": "a-1"}))
            .unwrap_err();
        assert_eq!(e.status, 409);
        let e = s
            .create_product(&json!({"name": "A", "type": "physical", "price": 1.0}))
            .unwrap_err();
        assert_eq!(e.status, 409, "names are unique too");
    }

    #[tokio::test(start_paused = true)]
    async fn absolute_adjustments_are_all_or_nothing() {
        let mut s = store();
        let p = s
            .create_product(
                &json!({"name": "A", "type": "physical", "price": 1.0, "sku": "A-1",
                "inventory_tracking": "product", "inventory_level": 5}),
            )
            .unwrap();
        let e = s
            .adjust(
                true,
                &json!({"items": [{"location_id": 1, "sku": "A-1", "quantity": 9},
                                   {"location_id": 7, "sku": "A-1", "quantity": 1}]}),
                2000,
            )
            .unwrap_err();
        assert_eq!(e.title, "Location not found, identities: [7]");
        let v = s.products[&p].variants[0];
        assert_eq!(s.variant_level(v), 5);
        s.adjust(
            true,
            &json!({"items": [{"location_id": 1, "product_id": p, "quantity": 9}]}),
            2000,
        )
        .unwrap();
        assert_eq!(s.variant_level(v), 9);
        s.adjust(
            false,
            &json!({"items": [{"location_id": 1, "variant_id": v, "quantity": -2}]}),
            2000,
        )
        .unwrap();
        assert_eq!(s.variant_level(v), 7);
        let e = s
            .adjust(
                false,
                &json!({"items": [{"location_id": 1, "variant_id": v, "quantity": -8}]}),
                2000,
            )
            .unwrap_err();
        assert_eq!(e.status, 422);
    }

    #[tokio::test(start_paused = true)]
    async fn orders_take_stock_and_cancelling_gives_it_back() {
        let mut s = store();
        let p = s
            .create_product(
                &json!({"name": "A", "type": "physical", "price": 2.5, "sku": "A-1",
                "inventory_tracking": "product", "inventory_level": 5}),
            )
            .unwrap();
        let v = s.products[&p].variants[0];
        let o = s
            .create_order(&json!({"products": [{"sku": "A-1", "quantity": 2}], "status_id": 11}))
            .unwrap();
        assert_eq!(s.variant_level(v), 3);
        s.update_order(o, &json!({"status_id": 5})).unwrap();
        assert_eq!(s.variant_level(v), 5);
        s.update_order(o, &json!({"status_id": 5})).unwrap();
        assert_eq!(s.variant_level(v), 5, "cancelling twice gives back once");
        let scopes: Vec<&str> = s.outbox.iter().map(|e| e.scope.as_str()).collect();
        assert!(scopes.contains(&"store/order/statusUpdated"));
        assert_eq!(
            scopes
                .iter()
                .filter(|s| **s == "store/order/statusUpdated")
                .count(),
            1
        );
    }

    #[test]
    fn hook_scopes_match_wildcards() {
        let h = Hook {
            id: 1,
            scope: "store/product/*".into(),
            destination: String::new(),
            is_active: true,
            headers: Map::new(),
            created_at: 0,
            updated_at: 0,
        };
        assert!(h.matches("store/product/updated"));
        assert!(h.matches("store/product/inventory/updated"));
        assert!(!h.matches("store/order/created"));
    }

    #[test]
    fn dates_parse_in_every_accepted_form() {
        let t = parse_date("2026-01-15T12:00:00+00:00").unwrap();
        assert_eq!(parse_date("2026-01-15T12:00:00Z"), Some(t));
        assert_eq!(parse_date("Thu, 15 Jan 2026 12:00:00 +0000"), Some(t));
        assert_eq!(parse_date(&t.timestamp().to_string()), Some(t));
        assert_eq!(parse_date("2026-01-15T12:00:00"), Some(t));
        assert!(parse_date("2026-01-15").is_some());
        assert!(parse_date("yesterday").is_none());
        assert_eq!(v2_date(t), "Thu, 15 Jan 2026 12:00:00 +0000");
        assert_eq!(v3_date(t), "2026-01-15T12:00:00+00:00");
    }
}
