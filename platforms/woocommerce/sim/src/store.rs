//! The shop: products and variations (one id space, as WordPress posts), customers, orders and
//! webhooks, every write rule and the events each change fires.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::error::WcError;

/// The shop clock: base time plus elapsed `tokio::time` plus explicit advances, in whole
/// seconds (WordPress stores seconds).
#[derive(Clone, Debug)]
pub struct Clock {
    base: DateTime<Utc>,
    started: tokio::time::Instant,
    advanced: Duration,
}

impl Clock {
    fn new(base: DateTime<Utc>) -> Self {
        Clock {
            base,
            started: tokio::time::Instant::now(),
            advanced: Duration::ZERO,
        }
    }

    /// Now, truncated to the second.
    pub fn now(&self) -> DateTime<Utc> {
        let el =
            tokio::time::Instant::now().saturating_duration_since(self.started) + self.advanced;
        let t = self.base + chrono::Duration::from_std(el).unwrap_or_default();
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
    }

    /// Moves the shop clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.advanced += d;
    }
}

/// Resource families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Products and variations.
    Product,
    /// Customers.
    Customer,
    /// Orders.
    Order,
    /// Webhooks.
    Webhook,
    /// Order refunds.
    Refund,
}

impl Kind {
    /// Webhook resource name.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Product => "product",
            Kind::Customer => "customer",
            Kind::Order => "order",
            Kind::Webhook => "webhook",
            Kind::Refund => "order_refund",
        }
    }
}

/// A fired change, payload snapshotted when it happened.
#[derive(Clone, Debug)]
pub struct Event {
    /// `product.updated` etc.
    pub topic: String,
    /// Resource id.
    pub resource_id: u64,
    /// The payload.
    pub body: Value,
}

/// One stored resource: identity, timestamps, writable fields.
#[derive(Clone, Debug)]
pub struct Rec {
    /// Id.
    pub id: u64,
    /// Created (UTC).
    pub created: DateTime<Utc>,
    /// Last modified (UTC).
    pub modified: DateTime<Utc>,
    /// Stored fields.
    pub data: Map<String, Value>,
}

impl Rec {
    fn s(&self, k: &str) -> &str {
        self.data.get(k).and_then(Value::as_str).unwrap_or("")
    }
    fn b(&self, k: &str) -> bool {
        self.data.get(k).and_then(Value::as_bool).unwrap_or(false)
    }
    fn i(&self, k: &str) -> Option<i64> {
        self.data.get(k).and_then(Value::as_i64)
    }
    /// Parent id (variations), 0 otherwise.
    pub fn parent(&self) -> u64 {
        self.data
            .get("parent_id")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
    /// Whether this is a variation.
    pub fn is_variation(&self) -> bool {
        self.parent() != 0
    }
    /// Status.
    pub fn status(&self) -> &str {
        self.s("status")
    }
}

/// Who made a change (for inspection counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// Through the REST API.
    Api,
    /// Through the merchant API (admin or shopper).
    Merchant,
}

/// One change of a stock figure, for tests that must show no sale was overwritten.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StockChange {
    /// Product or variation whose figure changed.
    pub product_id: u64,
    /// Quantity before (`None` when stock was not managed).
    pub before: Option<i64>,
    /// Quantity after.
    pub after: i64,
    /// `api`, `merchant` or `order`.
    pub cause: String,
    /// The order, when an order moved the stock.
    pub order_id: Option<u64>,
    /// Shop time (UTC).
    pub at: DateTime<Utc>,
}

/// The shop state.
pub struct Store {
    /// Clock.
    pub clock: Clock,
    offset: FixedOffset,
    /// Site URL for permalinks and `_links`.
    pub site_url: String,
    currency: String,
    /// Products and variations.
    pub products: BTreeMap<u64, Rec>,
    /// Customers.
    pub customers: BTreeMap<u64, Rec>,
    /// Orders.
    pub orders: BTreeMap<u64, Rec>,
    /// Webhooks.
    pub webhooks: BTreeMap<u64, Rec>,
    /// Order refunds (`parent_id` is the order).
    pub refunds: BTreeMap<u64, Rec>,
    next_post_id: u64,
    next_customer_id: u64,
    next_item_id: u64,
    next_webhook_id: u64,
    rng: ChaCha8Rng,
    /// Events waiting for delivery.
    pub outbox: Vec<Event>,
    /// Activation pings waiting to be sent: (webhook id, delivery URL).
    pub pings: Vec<(u64, String)>,
    /// `order_stock_saves_product`.
    pub order_stock_saves_product: bool,
    /// Creates per (kind, actor).
    pub creates: BTreeMap<(Kind, Actor), u64>,
    /// Who is making the current change (the REST API unless the merchant API says so).
    pub acting: Actor,
    /// Every stock change, in order.
    pub stock_log: Vec<StockChange>,
    order_in_progress: Option<u64>,
}

const PRODUCT_TYPES: &[&str] = &["simple", "grouped", "external", "variable"];
const PRODUCT_STATUSES: &[&str] = &["draft", "pending", "private", "publish", "future"];
const STOCK_STATUSES: &[&str] = &["instock", "outofstock", "onbackorder"];
const BACKORDERS: &[&str] = &["no", "notify", "yes"];
/// Order statuses the API accepts.
pub const ORDER_STATUSES: &[&str] = &[
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];
/// Webhook topics the simulator fires.
pub const TOPICS: &[&str] = &[
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "customer.created",
    "customer.updated",
    "customer.deleted",
];

fn one_of(name: &str, v: &str, allowed: &[&str]) -> Result<(), (String, String)> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err((
            name.to_string(),
            format!("{name} is not one of {}.", allowed.join(", ")),
        ))
    }
}

/// Reads a money string as cents-precision float ("" is 0).
pub fn money(s: &str) -> f64 {
    s.trim().parse::<f64>().unwrap_or(0.0)
}

fn fmt2(v: f64) -> String {
    format!("{v:.2}")
}

impl Store {
    /// An empty shop.
    pub fn new(
        seed: u64,
        base: DateTime<Utc>,
        utc_offset_minutes: i32,
        currency: &str,
        order_stock_saves_product: bool,
    ) -> Self {
        Store {
            clock: Clock::new(base),
            offset: FixedOffset::east_opt(utc_offset_minutes * 60)
                .unwrap_or(FixedOffset::east_opt(0).expect("zero offset")),
            site_url: "http://localhost".to_string(),
            currency: currency.to_string(),
            products: BTreeMap::new(),
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            refunds: BTreeMap::new(),
            next_post_id: 10,
            next_customer_id: 2,
            next_item_id: 1,
            next_webhook_id: 1,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x574f_4f43),
            outbox: Vec::new(),
            pings: Vec::new(),
            order_stock_saves_product,
            creates: BTreeMap::new(),
            acting: Actor::Api,
            stock_log: Vec::new(),
            order_in_progress: None,
        }
    }

    /// The site's UTC offset.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// `2026-01-15T07:00:00` in the site's zone.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    }

    /// `2026-01-15T12:00:00` in UTC (WooCommerce's `*_gmt`, no suffix).
    pub fn gmt(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    fn dates(&self, rec: &Rec, out: &mut Map<String, Value>) {
        out.insert("date_created".into(), json!(self.local(rec.created)));
        out.insert("date_created_gmt".into(), json!(Store::gmt(rec.created)));
        out.insert("date_modified".into(), json!(self.local(rec.modified)));
        out.insert("date_modified_gmt".into(), json!(Store::gmt(rec.modified)));
    }

    fn links(&self, path: &str, id: u64, up: Option<String>) -> Value {
        let base = format!("{}/wp-json/wc/v3/{path}", self.site_url);
        let mut l = json!({
            "self": [{"href": format!("{base}/{id}")}],
            "collection": [{"href": base}],
        });
        if let Some(up) = up {
            l["up"] = json!([{"href": up}]);
        }
        l
    }

    fn emit(&mut self, topic: &str, id: u64, body: Value) {
        self.outbox.push(Event {
            topic: topic.to_string(),
            resource_id: id,
            body,
        });
    }

    fn count_create(&mut self, kind: Kind, actor: Actor) {
        *self.creates.entry((kind, actor)).or_insert(0) += 1;
    }

    // ---------------------------------------------------------------- products

    /// Looks a product or variation up by id.
    pub fn product(&self, id: u64) -> Result<&Rec, WcError> {
        self.products
            .get(&id)
            .ok_or_else(|| WcError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID."))
    }

    /// A variation of `parent`, or WooCommerce's error.
    pub fn variation(&self, parent: u64, id: u64) -> Result<&Rec, WcError> {
        self.product(parent)?;
        match self.products.get(&id) {
            Some(r) if r.parent() == parent => Ok(r),
            _ => Err(WcError::new(
                404,
                "woocommerce_rest_product_variation_invalid_id",
                "Invalid ID.",
            )),
        }
    }

    /// Id of the live (not trashed) product or variation with this SKU (case-insensitive).
    pub fn id_by_sku(&self, sku: &str) -> Option<u64> {
        if sku.is_empty() {
            return None;
        }
        self.products
            .values()
            .find(|r| r.status() != "trash" && r.s("sku").eq_ignore_ascii_case(sku))
            .map(|r| r.id)
    }

    /// Live variation ids of a product, in menu order.
    pub fn variation_ids(&self, parent: u64) -> Vec<u64> {
        let mut v: Vec<&Rec> = self
            .products
            .values()
            .filter(|r| r.parent() == parent && r.status() != "trash")
            .collect();
        v.sort_by_key(|r| (r.i("menu_order").unwrap_or(0), r.id));
        v.into_iter().map(|r| r.id).collect()
    }

    /// The record holding stock for a product or variation, if stock is managed.
    pub fn stock_holder(&self, id: u64) -> Option<u64> {
        let r = self.products.get(&id)?;
        if r.b("manage_stock") {
            return Some(id);
        }
        if r.is_variation()
            && let Some(p) = self.products.get(&r.parent())
            && p.b("manage_stock")
        {
            return Some(p.id);
        }
        None
    }

    fn stock_status_of(&self, r: &Rec) -> String {
        if let Some(h) = self.stock_holder(r.id) {
            let h = &self.products[&h];
            let qty = h.i("stock_quantity").unwrap_or(0);
            if qty > 0 {
                "instock".into()
            } else if h.s("backorders") != "no" && !h.s("backorders").is_empty() {
                "onbackorder".into()
            } else {
                "outofstock".into()
            }
        } else if r.s("type") == "variable" {
            let kids: Vec<String> = self
                .variation_ids(r.id)
                .iter()
                .map(|v| self.stock_status_of(&self.products[v]))
                .collect();
            ["instock", "onbackorder"]
                .iter()
                .find(|s| kids.iter().any(|k| k == *s))
                .map(|s| s.to_string())
                .unwrap_or_else(|| "outofstock".into())
        } else {
            let s = r.s("stock_status");
            if s.is_empty() {
                "instock".into()
            } else {
                s.into()
            }
        }
    }

    fn prices(&self, r: &Rec) -> (String, String, String, bool) {
        if r.s("type") == "variable" {
            let min = self
                .variation_ids(r.id)
                .iter()
                .map(|v| self.prices(&self.products[v]).0)
                .filter(|p| !p.is_empty())
                .min_by(|a, b| money(a).total_cmp(&money(b)));
            let on_sale = self
                .variation_ids(r.id)
                .iter()
                .any(|v| self.prices(&self.products[v]).3);
            return (
                min.unwrap_or_default(),
                String::new(),
                String::new(),
                on_sale,
            );
        }
        let regular = r.s("regular_price").to_string();
        let sale = r.s("sale_price").to_string();
        let on_sale = !sale.is_empty() && (regular.is_empty() || money(&sale) < money(&regular));
        let price = if on_sale {
            sale.clone()
        } else {
            regular.clone()
        };
        (price, regular, sale, on_sale)
    }

    /// The product or variation as `GET /products/{id}` (or the variation route) returns it.
    pub fn render_product(&self, id: u64) -> Value {
        let Some(r) = self.products.get(&id) else {
            return Value::Null;
        };
        let (price, regular, sale, on_sale) = self.prices(r);
        let holder = self.stock_holder(id);
        let qty = holder.and_then(|h| self.products[&h].i("stock_quantity"));
        let stock_status = self.stock_status_of(r);
        let backorders = {
            let b = r.s("backorders");
            if b.is_empty() { "no" } else { b }
        };
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        if r.is_variation() {
            let parent = r.parent();
            self.dates(r, &mut o);
            let manage = if r.b("manage_stock") {
                json!(true)
            } else if holder.is_some() {
                json!("parent")
            } else {
                json!(false)
            };
            let parent_slug = self
                .products
                .get(&parent)
                .map(|p| p.s("slug"))
                .unwrap_or("");
            for (k, v) in [
                ("type", json!("variation")),
                ("parent_id", json!(parent)),
                ("description", json!(r.s("description"))),
                (
                    "permalink",
                    json!(format!(
                        "{}/product/{}/?variation_id={id}",
                        self.site_url, parent_slug
                    )),
                ),
                ("sku", json!(r.s("sku"))),
                ("price", json!(price)),
                ("regular_price", json!(regular)),
                ("sale_price", json!(sale)),
                ("on_sale", json!(on_sale)),
                ("status", json!(r.status())),
                ("purchasable", json!(!price.is_empty())),
                ("virtual", json!(r.b("virtual"))),
                ("downloadable", json!(r.b("downloadable"))),
                ("tax_status", json!(or(r.s("tax_status"), "taxable"))),
                ("tax_class", json!(r.s("tax_class"))),
                ("manage_stock", manage),
                ("stock_quantity", json!(qty)),
                ("stock_status", json!(stock_status)),
                ("backorders", json!(backorders)),
                ("backorders_allowed", json!(backorders != "no")),
                ("backordered", json!(false)),
                ("low_stock_amount", json!(r.i("low_stock_amount"))),
                ("weight", json!(r.s("weight"))),
                ("dimensions", dims(r)),
                ("shipping_class", json!("")),
                ("image", r.data.get("image").cloned().unwrap_or(Value::Null)),
                ("attributes", arr(r, "attributes")),
                ("menu_order", json!(r.i("menu_order").unwrap_or(0))),
                ("meta_data", arr(r, "meta_data")),
            ] {
                o.insert(k.into(), v);
            }
            let up = format!("{}/wp-json/wc/v3/products/{parent}", self.site_url);
            o.insert(
                "_links".into(),
                self.links(&format!("products/{parent}/variations"), id, Some(up)),
            );
            return Value::Object(o);
        }
        let slug = r.s("slug");
        o.insert("name".into(), json!(r.s("name")));
        o.insert("slug".into(), json!(slug));
        o.insert(
            "permalink".into(),
            json!(format!("{}/product/{slug}/", self.site_url)),
        );
        self.dates(r, &mut o);
        let ty = or(r.s("type"), "simple");
        for (k, v) in [
            ("type", json!(ty)),
            ("status", json!(r.status())),
            ("featured", json!(r.b("featured"))),
            (
                "catalog_visibility",
                json!(or(r.s("catalog_visibility"), "visible")),
            ),
            ("description", json!(r.s("description"))),
            ("short_description", json!(r.s("short_description"))),
            ("sku", json!(r.s("sku"))),
            ("price", json!(price)),
            ("regular_price", json!(regular)),
            ("sale_price", json!(sale)),
            ("on_sale", json!(on_sale)),
            ("purchasable", json!(!price.is_empty())),
            ("total_sales", json!(r.i("total_sales").unwrap_or(0))),
            ("virtual", json!(r.b("virtual"))),
            ("downloadable", json!(r.b("downloadable"))),
            ("tax_status", json!(or(r.s("tax_status"), "taxable"))),
            ("tax_class", json!(r.s("tax_class"))),
            ("manage_stock", json!(r.b("manage_stock"))),
            ("stock_quantity", json!(qty)),
            ("backorders", json!(backorders)),
            ("backorders_allowed", json!(backorders != "no")),
            ("backordered", json!(false)),
            ("low_stock_amount", json!(r.i("low_stock_amount"))),
            ("sold_individually", json!(r.b("sold_individually"))),
            ("weight", json!(r.s("weight"))),
            ("dimensions", dims(r)),
            ("shipping_required", json!(!r.b("virtual"))),
            ("reviews_allowed", json!(true)),
            ("average_rating", json!("0")),
            ("rating_count", json!(0)),
            ("parent_id", json!(0)),
            ("categories", arr(r, "categories")),
            ("tags", arr(r, "tags")),
            ("images", arr(r, "images")),
            ("attributes", arr(r, "attributes")),
            ("default_attributes", arr(r, "default_attributes")),
            (
                "variations",
                json!(if ty == "variable" {
                    self.variation_ids(id)
                } else {
                    vec![]
                }),
            ),
            ("grouped_products", json!([])),
            ("menu_order", json!(r.i("menu_order").unwrap_or(0))),
            ("meta_data", arr(r, "meta_data")),
            ("stock_status", json!(stock_status)),
            ("has_options", json!(ty == "variable")),
        ] {
            o.insert(k.into(), v);
        }
        o.insert("_links".into(), self.links("products", id, None));
        Value::Object(o)
    }

    fn apply_product(
        &self,
        data: &mut Map<String, Value>,
        input: &Map<String, Value>,
        variation: bool,
    ) -> Result<(), WcError> {
        let mut bad: Vec<(String, String)> = Vec::new();
        let strings: &[&str] = &[
            "name",
            "slug",
            "description",
            "short_description",
            "sku",
            "regular_price",
            "sale_price",
            "tax_status",
            "tax_class",
            "weight",
            "catalog_visibility",
            "backorders",
            "stock_status",
            "status",
            "type",
        ];
        for k in strings {
            let Some(v) = input.get(*k) else { continue };
            if (variation && (*k == "type" || *k == "name" || *k == "slug")) || v.is_null() {
                continue;
            }
            let Some(s) = v.as_str() else {
                bad.push((k.to_string(), format!("{k} is not of type string.")));
                continue;
            };
            let check = match *k {
                "type" => one_of(k, s, PRODUCT_TYPES),
                "status" => one_of(k, s, PRODUCT_STATUSES),
                "stock_status" => one_of(k, s, STOCK_STATUSES),
                "backorders" => one_of(k, s, BACKORDERS),
                _ => Ok(()),
            };
            match check {
                Ok(()) => {
                    data.insert(k.to_string(), json!(s.trim()));
                }
                Err(e) => bad.push(e),
            }
        }
        for k in [
            "manage_stock",
            "featured",
            "virtual",
            "downloadable",
            "sold_individually",
        ] {
            let Some(v) = input.get(k) else { continue };
            match v {
                Value::Bool(b) => {
                    data.insert(k.into(), json!(b));
                }
                Value::String(s) if ["true", "1", "false", "0"].contains(&s.as_str()) => {
                    data.insert(k.into(), json!(s == "true" || s == "1"));
                }
                _ => bad.push((k.into(), format!("{k} is not of type boolean."))),
            }
        }
        for k in ["stock_quantity", "menu_order", "low_stock_amount"] {
            let Some(v) = input.get(k) else { continue };
            let n = match v {
                Value::Null => Some(Value::Null),
                Value::Number(n) if n.is_i64() => Some(json!(n.as_i64())),
                Value::Number(n) => n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0)
                    .map(|f| json!(f as i64)),
                Value::String(s) => s.trim().parse::<i64>().ok().map(|n| json!(n)),
                _ => None,
            };
            match n {
                Some(n) => {
                    data.insert(k.into(), n);
                }
                None => bad.push((k.into(), format!("{k} is not of type integer."))),
            }
        }
        for k in [
            "categories",
            "tags",
            "images",
            "attributes",
            "default_attributes",
            "meta_data",
            "dimensions",
            "image",
        ] {
            if let Some(v) = input.get(k) {
                if k == "meta_data"
                    && let (Some(Value::Array(old)), Value::Array(new)) = (data.get(k), v)
                {
                    // meta_data updates merge by key, as WooCommerce's update_meta_data does.
                    let mut merged = old.clone();
                    for m in new {
                        let key = m.get("key").cloned();
                        match merged.iter_mut().find(|o| o.get("key") == key.as_ref()) {
                            Some(o) => *o = m.clone(),
                            None => merged.push(m.clone()),
                        }
                    }
                    data.insert(k.into(), Value::Array(merged));
                } else {
                    data.insert(k.into(), v.clone());
                }
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(WcError::invalid_params(&bad))
        }
    }

    fn check_sku(&self, id: Option<u64>, data: &Map<String, Value>) -> Result<(), WcError> {
        let sku = data.get("sku").and_then(Value::as_str).unwrap_or("");
        if let Some(other) = self.id_by_sku(sku)
            && Some(other) != id
        {
            return Err(
                WcError::new(400, "product_invalid_sku", "Invalid or duplicated SKU.")
                    .with("resource_id", json!(other))
                    .with("unique_sku", json!(format!("{sku}-1"))),
            );
        }
        Ok(())
    }

    fn slugify(&self, name: &str, id: u64) -> String {
        let base: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let base = if base.is_empty() {
            format!("product-{id}")
        } else {
            base
        };
        let taken = |s: &str| {
            self.products
                .values()
                .any(|r| r.id != id && !r.is_variation() && r.s("slug") == s)
        };
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|s| !taken(s))
            .expect("a free slug")
    }

    /// Creates a product (or a variation of `parent`); fires `product.created`.
    pub fn create_product(
        &mut self,
        input: &Value,
        parent: Option<u64>,
        actor: Actor,
    ) -> Result<u64, WcError> {
        let input = obj(input)?;
        if let Some(p) = parent {
            let pr = self.product(p)?;
            if pr.s("type") != "variable" {
                return Err(WcError::new(
                    400,
                    "woocommerce_rest_product_variation_invalid_parent",
                    "Variations can only be added to variable products.",
                ));
            }
        }
        let mut data = Map::new();
        data.insert("status".into(), json!("publish"));
        data.insert("backorders".into(), json!("no"));
        if parent.is_none() {
            data.insert("type".into(), json!("simple"));
        }
        self.apply_product(&mut data, input, parent.is_some())?;
        self.check_sku(None, &data)?;
        let id = self.next_post_id;
        self.next_post_id += 1;
        if let Some(p) = parent {
            data.insert("parent_id".into(), json!(p));
        } else {
            let name = data
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = if name.is_empty() {
                "Product".to_string()
            } else {
                name
            };
            data.insert("name".into(), json!(name));
            let want = data
                .get("slug")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let slug = self.slugify(if want.is_empty() { &name } else { &want }, id);
            data.insert("slug".into(), json!(slug));
        }
        let now = self.clock.now();
        if data.get("manage_stock") == Some(&json!(true)) {
            let cause = match self.acting {
                Actor::Api => "api",
                Actor::Merchant => "merchant",
            };
            self.stock_log.push(StockChange {
                product_id: id,
                before: None,
                after: data
                    .get("stock_quantity")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                cause: cause.to_string(),
                order_id: None,
                at: now,
            });
        }
        self.products.insert(
            id,
            Rec {
                id,
                created: now,
                modified: now,
                data,
            },
        );
        self.count_create(Kind::Product, actor);
        let body = self.render_product(id);
        self.emit("product.created", id, body);
        Ok(id)
    }

    /// Updates a product or variation; fires `product.updated`.
    pub fn update_product(
        &mut self,
        id: u64,
        input: &Value,
        parent: Option<u64>,
    ) -> Result<(), WcError> {
        let input = obj(input)?;
        let rec = match parent {
            Some(p) => self.variation(p, id)?,
            None => self.product(id)?,
        };
        let variation = rec.is_variation();
        let mut data = rec.data.clone();
        self.apply_product(&mut data, input, variation)?;
        self.check_sku(Some(id), &data)?;
        if !variation && input.contains_key("name") && !input.contains_key("slug") {
            // WordPress keeps a published post's slug when its title changes.
        } else if let Some(s) = input.get("slug").and_then(Value::as_str) {
            let slug = self.slugify(s, id);
            data.insert("slug".into(), json!(slug));
        }
        let now = self.clock.now();
        let before = self.products[&id]
            .data
            .get("stock_quantity")
            .and_then(Value::as_i64);
        let was_managed = self.products[&id].b("manage_stock");
        let after = data.get("stock_quantity").and_then(Value::as_i64);
        let managed = data
            .get("manage_stock")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if managed && (before != after || !was_managed) {
            let cause = match self.acting {
                Actor::Api => "api",
                Actor::Merchant => "merchant",
            };
            self.stock_log.push(StockChange {
                product_id: id,
                before: if was_managed { before } else { None },
                after: after.unwrap_or(0),
                cause: cause.to_string(),
                order_id: None,
                at: now,
            });
        }
        let rec = self.products.get_mut(&id).expect("checked above");
        rec.data = data;
        rec.modified = now;
        let body = self.render_product(id);
        self.emit("product.updated", id, body);
        Ok(())
    }

    /// Deletes (force) or trashes a product or variation; returns it as it was (WooCommerce
    /// renders the answer before it deletes or trashes).
    ///
    /// `parent` is the variations endpoint's product id: that endpoint deletes any record by
    /// its id and never compares the parent (`WC_REST_Product_Variations_V2_Controller::
    /// delete_item`), and a missing one is `woocommerce_rest_product_variation_invalid_id`.
    ///
    /// - **Trash** (`wp_trash_post`): the record's status becomes `trash` and `date_modified`
    ///   moves; trashing a product also trashes its variations (`WC_Post_Data::trash_post`);
    ///   each record trashed fires `product.deleted` with `{"id":N}` (the parent first). A
    ///   second trash is 410 `woocommerce_rest_already_trashed`.
    /// - **Force** (`wp_delete_post`): the record is gone, and a variable product's variations
    ///   with it (only through the products endpoint). **No webhook fires**: `product.deleted`
    ///   hooks `wp_trash_post` only (woocommerce/woocommerce#28541).
    pub fn delete_product(
        &mut self,
        id: u64,
        force: bool,
        parent: Option<u64>,
    ) -> Result<Value, WcError> {
        let post_type = match parent {
            Some(_) => {
                if !self.products.contains_key(&id) {
                    return Err(WcError::new(
                        404,
                        "woocommerce_rest_product_variation_invalid_id",
                        "Invalid ID.",
                    ));
                }
                "product_variation"
            }
            None => {
                self.product(id)?;
                "product"
            }
        };
        let before = self.render_product(id);
        if force {
            if parent.is_none() {
                let kids: Vec<u64> = self
                    .products
                    .values()
                    .filter(|r| r.parent() == id)
                    .map(|r| r.id)
                    .collect();
                for k in kids {
                    self.products.remove(&k);
                }
            }
            self.products.remove(&id);
            return Ok(before);
        }
        if self.products[&id].status() == "trash" {
            return Err(WcError::new(
                410,
                "woocommerce_rest_already_trashed",
                format!("The {post_type} has already been deleted."),
            ));
        }
        let now = self.clock.now();
        let mut trashed = vec![id];
        if !self.products[&id].is_variation() {
            let mut kids: Vec<u64> = self
                .products
                .values()
                .filter(|r| r.parent() == id && r.status() != "trash")
                .map(|r| r.id)
                .collect();
            kids.sort_unstable();
            trashed.extend(kids);
        }
        for t in trashed {
            let rec = self.products.get_mut(&t).expect("listed above");
            rec.data.insert("status".into(), json!("trash"));
            rec.modified = now;
            self.emit("product.deleted", t, json!({"id": t}));
        }
        Ok(before)
    }

    /// Sets stock on the record holding it (merchant or API write path share this).
    pub fn set_stock(&mut self, id: u64, qty: i64) -> Result<(), WcError> {
        self.product(id)?;
        self.update_product(
            id,
            &json!({"manage_stock": true, "stock_quantity": qty}),
            None,
        )
    }

    fn change_stock(&mut self, id: u64, delta: i64, sold: i64) {
        self.change_stock_for(id, delta, sold, "order");
    }

    fn change_stock_for(&mut self, id: u64, delta: i64, sold: i64, cause: &str) {
        // total_sales is kept on the parent product (`update_product_sales($product_id)`).
        let sales_id = match self.products.get(&id) {
            Some(r) if r.is_variation() => r.parent(),
            _ => id,
        };
        if let Some(r) = self.products.get_mut(&sales_id) {
            let sales = r.i("total_sales").unwrap_or(0) + sold;
            r.data.insert("total_sales".into(), json!(sales.max(0)));
        }
        let Some(h) = self.stock_holder(id) else {
            return;
        };
        let now = self.clock.now();
        let saves = self.order_stock_saves_product;
        let order_id = self.order_in_progress;
        let r = self.products.get_mut(&h).expect("holder exists");
        let before = r.i("stock_quantity").unwrap_or(0);
        let q = before + delta;
        r.data.insert("stock_quantity".into(), json!(q));
        self.stock_log.push(StockChange {
            product_id: h,
            before: Some(before),
            after: q,
            cause: cause.to_string(),
            order_id,
            at: now,
        });
        let r = self.products.get_mut(&h).expect("holder exists");
        if saves {
            r.modified = now;
            let body = self.render_product(h);
            self.emit("product.updated", h, body);
        }
    }

    // ---------------------------------------------------------------- customers

    /// Looks a customer up; a missing one is 404 `wc_user_invalid_id`, "Invalid user ID."
    /// (`Users::get_user_in_current_site`, which the customers endpoints' permission checks
    /// call before anything else since WooCommerce 9.x; older versions answered
    /// `woocommerce_rest_invalid_id`).
    pub fn customer(&self, id: u64) -> Result<&Rec, WcError> {
        self.customers
            .get(&id)
            .ok_or_else(|| WcError::new(404, "wc_user_invalid_id", "Invalid user ID."))
    }

    /// The customer as `GET /customers/{id}` returns it.
    pub fn render_customer(&self, id: u64) -> Value {
        let Some(r) = self.customers.get(&id) else {
            return Value::Null;
        };
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        self.dates(r, &mut o);
        let addr = |k: &str, with_email: bool| {
            let mut base = json!({"first_name":"","last_name":"","company":"","address_1":"",
                "address_2":"","city":"","postcode":"","country":"","state":"","phone":""});
            if with_email {
                base["email"] = json!("");
            }
            if let Some(Value::Object(m)) = r.data.get(k) {
                for (f, v) in m {
                    base[f] = v.clone();
                }
            }
            base
        };
        for (k, v) in [
            ("email", json!(r.s("email"))),
            ("first_name", json!(r.s("first_name"))),
            ("last_name", json!(r.s("last_name"))),
            ("role", json!("customer")),
            ("username", json!(r.s("username"))),
            ("billing", addr("billing", true)),
            ("shipping", addr("shipping", false)),
            ("is_paying_customer", json!(r.b("is_paying_customer"))),
            (
                "avatar_url",
                json!("https://secure.gravatar.com/avatar/?s=96&d=mm&r=g"),
            ),
            ("meta_data", arr(r, "meta_data")),
        ] {
            o.insert(k.into(), v);
        }
        o.insert("_links".into(), self.links("customers", id, None));
        Value::Object(o)
    }

    fn apply_customer(
        &self,
        id: Option<u64>,
        data: &mut Map<String, Value>,
        input: &Map<String, Value>,
    ) -> Result<(), WcError> {
        let mut bad = Vec::new();
        for k in ["email", "first_name", "last_name", "username", "password"] {
            let Some(v) = input.get(k) else { continue };
            let Some(s) = v.as_str() else {
                bad.push((k.to_string(), format!("{k} is not of type string.")));
                continue;
            };
            if k == "email" && !(s.contains('@') && s.contains('.')) {
                bad.push((k.into(), "Invalid email address.".into()));
                continue;
            }
            if k != "password" {
                data.insert(k.into(), json!(s.trim()));
            }
        }
        for k in ["billing", "shipping"] {
            let Some(v) = input.get(k) else { continue };
            let Some(m) = v.as_object() else {
                bad.push((k.into(), format!("{k} is not of type object.")));
                continue;
            };
            let mut cur = data
                .get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (f, v) in m {
                cur.insert(f.clone(), v.clone());
            }
            data.insert(k.into(), Value::Object(cur));
        }
        if let Some(v) = input.get("meta_data") {
            data.insert("meta_data".into(), v.clone());
        }
        if !bad.is_empty() {
            return Err(WcError::invalid_params(&bad));
        }
        let email = data.get("email").and_then(Value::as_str).unwrap_or("");
        if self
            .customers
            .values()
            .any(|c| Some(c.id) != id && c.s("email").eq_ignore_ascii_case(email))
        {
            return Err(WcError::new(
                400,
                "registration-error-email-exists",
                "An account is already registered with your email address. Please log in.",
            ));
        }
        Ok(())
    }

    /// Creates a customer; fires `customer.created`.
    pub fn create_customer(&mut self, input: &Value, actor: Actor) -> Result<u64, WcError> {
        let input = obj(input)?;
        if input
            .get("email")
            .is_none_or(|e| e.as_str().is_none_or(str::is_empty))
        {
            return Err(WcError::new(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): email",
            )
            .with("params", json!(["email"])));
        }
        let mut data = Map::new();
        self.apply_customer(None, &mut data, input)?;
        if data
            .get("username")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let email = data["email"].as_str().unwrap_or("").to_string();
            let user = email.split('@').next().unwrap_or("customer").to_string();
            data.insert("username".into(), json!(user));
        }
        let id = self.next_customer_id;
        self.next_customer_id += 1;
        let now = self.clock.now();
        self.customers.insert(
            id,
            Rec {
                id,
                created: now,
                modified: now,
                data,
            },
        );
        self.count_create(Kind::Customer, actor);
        let body = self.render_customer(id);
        self.emit("customer.created", id, body);
        Ok(id)
    }

    /// Updates a customer; fires `customer.updated`.
    pub fn update_customer(&mut self, id: u64, input: &Value) -> Result<(), WcError> {
        let input = obj(input)?;
        let mut data = self.customer(id)?.data.clone();
        self.apply_customer(Some(id), &mut data, input)?;
        let now = self.clock.now();
        let r = self.customers.get_mut(&id).expect("checked above");
        r.data = data;
        r.modified = now;
        let body = self.render_customer(id);
        self.emit("customer.updated", id, body);
        Ok(())
    }

    /// Deletes a customer (customers cannot be trashed); fires `customer.deleted` with
    /// `{"id":N}` (the `delete_user` hook, for users with the customer role). A missing
    /// customer is 404 even without `force` (the permission check looks it up first); an
    /// existing one without `force` is 501 `woocommerce_rest_trash_not_supported`. Returns the
    /// customer as it was.
    pub fn delete_customer(&mut self, id: u64, force: bool) -> Result<Value, WcError> {
        self.customer(id)?;
        if !force {
            return Err(WcError::new(
                501,
                "woocommerce_rest_trash_not_supported",
                "Customers do not support trashing.",
            ));
        }
        let before = self.render_customer(id);
        self.customers.remove(&id);
        self.emit("customer.deleted", id, json!({"id": id}));
        Ok(before)
    }

    // ---------------------------------------------------------------- orders

    /// Looks an order up.
    pub fn order(&self, id: u64) -> Result<&Rec, WcError> {
        self.orders.get(&id).ok_or_else(|| {
            WcError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        })
    }

    /// The order as `GET /orders/{id}` returns it.
    pub fn render_order(&self, id: u64) -> Value {
        let Some(r) = self.orders.get(&id) else {
            return Value::Null;
        };
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        o.insert("parent_id".into(), json!(0));
        o.insert("status".into(), json!(r.status()));
        o.insert(
            "currency".into(),
            json!(or(r.s("currency"), &self.currency)),
        );
        o.insert("version".into(), json!("9.4.0"));
        o.insert("prices_include_tax".into(), json!(false));
        self.dates(r, &mut o);
        let items = arr(r, "line_items");
        let total: f64 = items
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| money(i["total"].as_str().unwrap_or("0")))
                    .sum()
            })
            .unwrap_or(0.0);
        let at = |k: &str| -> (Value, Value) {
            match r.data.get(k).and_then(Value::as_i64) {
                Some(ts) => {
                    let t = DateTime::from_timestamp(ts, 0).unwrap_or_default();
                    (json!(self.local(t)), json!(Store::gmt(t)))
                }
                None => (Value::Null, Value::Null),
            }
        };
        let (paid, paid_gmt) = at("paid_at");
        let (done, done_gmt) = at("completed_at");
        for (k, v) in [
            ("discount_total", json!("0.00")),
            ("discount_tax", json!("0.00")),
            ("shipping_total", json!("0.00")),
            ("shipping_tax", json!("0.00")),
            ("cart_tax", json!("0.00")),
            ("total", json!(fmt2(total))),
            ("total_tax", json!("0.00")),
            ("customer_id", json!(r.i("customer_id").unwrap_or(0))),
            ("order_key", json!(r.s("order_key"))),
            (
                "billing",
                r.data.get("billing").cloned().unwrap_or(json!({})),
            ),
            (
                "shipping",
                r.data.get("shipping").cloned().unwrap_or(json!({})),
            ),
            ("payment_method", json!(r.s("payment_method"))),
            ("payment_method_title", json!(r.s("payment_method_title"))),
            ("transaction_id", json!(r.s("transaction_id"))),
            ("customer_note", json!(r.s("customer_note"))),
            ("created_via", json!(or(r.s("created_via"), "rest-api"))),
            ("date_paid", paid),
            ("date_paid_gmt", paid_gmt),
            ("date_completed", done),
            ("date_completed_gmt", done_gmt),
            ("number", json!(id.to_string())),
            ("meta_data", arr(r, "meta_data")),
            ("line_items", items),
            ("tax_lines", json!([])),
            ("shipping_lines", json!([])),
            ("fee_lines", json!([])),
            ("coupon_lines", json!([])),
            ("refunds", self.order_refunds(id)),
            ("set_paid", json!(false)),
        ] {
            o.insert(k.into(), v);
        }
        o.insert("_links".into(), self.links("orders", id, None));
        Value::Object(o)
    }

    fn line_item(&mut self, li: &Value) -> Result<Value, WcError> {
        let m = li.as_object().ok_or_else(|| {
            WcError::invalid_param("line_items", "line_items[0] is not of type object.")
        })?;
        let num = |k: &str| {
            m.get(k)
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        };
        let mut pid = num("product_id").unwrap_or(0);
        let mut vid = num("variation_id").unwrap_or(0);
        if pid == 0
            && vid == 0
            && let Some(sku) = m.get("sku").and_then(Value::as_str)
        {
            match self.id_by_sku(sku) {
                Some(id) => pid = id,
                None => {
                    return Err(WcError::new(
                        400,
                        "woocommerce_rest_invalid_product_id",
                        "Invalid product ID.",
                    ));
                }
            }
        }
        if pid == 0 && vid == 0 {
            return Err(WcError::new(
                400,
                "woocommerce_rest_required_product_reference",
                "Product ID or SKU is required.",
            ));
        }
        // A variation id given as product_id is a variation, as WooCommerce resolves it.
        if vid == 0 && self.products.get(&pid).is_some_and(Rec::is_variation) {
            vid = pid;
        }
        if vid != 0 {
            match self.products.get(&vid) {
                Some(v) if v.is_variation() => pid = v.parent(),
                _ => {
                    return Err(WcError::new(
                        400,
                        "woocommerce_rest_invalid_product_id",
                        "Invalid product ID.",
                    ));
                }
            }
        }
        if self.products.get(&pid).is_none_or(|p| p.is_variation()) {
            return Err(WcError::new(
                400,
                "woocommerce_rest_invalid_product_id",
                "Invalid product ID.",
            ));
        }
        let qty = m
            .get("quantity")
            .map(|q| q.as_f64().or_else(|| q.as_str()?.parse().ok()))
            .unwrap_or(Some(1.0));
        let qty = match qty {
            Some(q) if q > 0.0 && q.fract() == 0.0 => q as i64,
            _ => {
                return Err(WcError::new(
                    400,
                    "woocommerce_rest_invalid_product_quantity",
                    "Product quantity must be a positive float.",
                ));
            }
        };
        let target = if vid != 0 { vid } else { pid };
        let rec = &self.products[&target];
        let (price, ..) = self.prices(rec);
        let unit = money(&price);
        let total = match m.get("total").and_then(Value::as_str) {
            Some(t) => money(t),
            None => unit * qty as f64,
        };
        let subtotal = match m.get("subtotal").and_then(Value::as_str) {
            Some(t) => money(t),
            None => total,
        };
        let name = if vid != 0 {
            format!("{} - {}", self.products[&pid].s("name"), vid)
        } else {
            rec.s("name").to_string()
        };
        let item_id = self.next_item_id;
        self.next_item_id += 1;
        Ok(json!({
            "id": item_id,
            "name": m.get("name").and_then(Value::as_str).unwrap_or(&name),
            "product_id": pid,
            "variation_id": vid,
            "quantity": qty,
            "tax_class": "",
            "subtotal": fmt2(subtotal),
            "subtotal_tax": "0.00",
            "total": fmt2(total),
            "total_tax": "0.00",
            "taxes": [],
            "meta_data": m.get("meta_data").cloned().unwrap_or(json!([])),
            "sku": self.products[&target].s("sku"),
            "price": if qty > 0 { total / qty as f64 } else { unit },
            "image": {"id": "", "src": ""},
            "parent_name": if vid != 0 { json!(self.products[&pid].s("name")) } else { Value::Null },
        }))
    }

    fn reduces(status: &str) -> bool {
        matches!(status, "processing" | "completed" | "on-hold")
    }

    fn restores(status: &str) -> bool {
        matches!(status, "cancelled" | "pending")
    }

    /// Reduces or restores stock for a status change, as `wc_maybe_reduce_stock_levels` and
    /// `wc_maybe_increase_stock_levels` do (tracked by the order's `_order_stock_reduced`).
    fn stock_for_status(&mut self, id: u64) {
        let r = &self.orders[&id];
        let reduced = r.b("stock_reduced");
        let status = r.status().to_string();
        let lines: Vec<(u64, i64)> = arr(r, "line_items")
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|li| {
                        let v = li["variation_id"].as_u64().unwrap_or(0);
                        let p = li["product_id"].as_u64().unwrap_or(0);
                        (
                            if v != 0 { v } else { p },
                            li["quantity"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.order_in_progress = Some(id);
        let sign = if !reduced && Store::reduces(&status) {
            -1
        } else if reduced && Store::restores(&status) {
            1
        } else {
            return;
        };
        for (pid, q) in lines {
            self.change_stock(pid, sign * q, -sign * q);
        }
        let r = self.orders.get_mut(&id).expect("order exists");
        r.data.insert("stock_reduced".into(), json!(sign < 0));
    }

    /// A paid order makes its customer a paying customer (`set_is_paying_customer` + save,
    /// which fires `customer.updated`).
    fn mark_paying(&mut self, id: u64) {
        let r = &self.orders[&id];
        if r.data.get("paid_at").is_none() {
            return;
        }
        let cid = r.i("customer_id").unwrap_or(0) as u64;
        let now = self.clock.now();
        let Some(c) = self.customers.get_mut(&cid) else {
            return;
        };
        if c.b("is_paying_customer") {
            return;
        }
        c.data.insert("is_paying_customer".into(), json!(true));
        c.modified = now;
        let body = self.render_customer(cid);
        self.emit("customer.updated", cid, body);
    }

    fn apply_order(
        &mut self,
        data: &mut Map<String, Value>,
        input: &Map<String, Value>,
    ) -> Result<(), WcError> {
        let mut bad = Vec::new();
        if let Some(v) = input.get("status") {
            match v.as_str() {
                Some(s) => match one_of("status", s, ORDER_STATUSES) {
                    Ok(()) => {
                        data.insert("status".into(), json!(s));
                    }
                    Err(e) => bad.push(e),
                },
                None => bad.push(("status".into(), "status is not of type string.".into())),
            }
        }
        for k in [
            "payment_method",
            "payment_method_title",
            "transaction_id",
            "customer_note",
            "currency",
            "created_via",
        ] {
            if let Some(v) = input.get(k) {
                match v.as_str() {
                    Some(s) => {
                        data.insert(k.into(), json!(s));
                    }
                    None => bad.push((k.into(), format!("{k} is not of type string."))),
                }
            }
        }
        for k in ["billing", "shipping", "meta_data"] {
            if let Some(v) = input.get(k) {
                data.insert(k.into(), v.clone());
            }
        }
        if !bad.is_empty() {
            return Err(WcError::invalid_params(&bad));
        }
        if let Some(v) = input.get("customer_id") {
            let c = v
                .as_u64()
                .or_else(|| v.as_str()?.parse().ok())
                .unwrap_or(u64::MAX);
            if c != 0 && !self.customers.contains_key(&c) {
                return Err(WcError::new(
                    400,
                    "woocommerce_rest_invalid_customer_id",
                    "Customer ID is invalid.",
                ));
            }
            data.insert("customer_id".into(), json!(c));
        }
        if input.get("set_paid").and_then(Value::as_bool) == Some(true) {
            // payment_complete(): paid now, and processing if the order was awaiting payment.
            let st = data
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending");
            if matches!(st, "pending" | "on-hold" | "failed" | "cancelled") {
                data.insert("status".into(), json!("processing"));
            }
            let now = self.clock.now().timestamp();
            data.entry("paid_at").or_insert(json!(now));
        }
        let st = data.get("status").and_then(Value::as_str).unwrap_or("");
        if st == "completed" {
            let now = self.clock.now().timestamp();
            data.entry("completed_at").or_insert(json!(now));
            data.entry("paid_at").or_insert(json!(now));
        }
        Ok(())
    }

    /// Creates an order; fires `order.created` (and stock changes).
    pub fn create_order(&mut self, input: &Value, actor: Actor) -> Result<u64, WcError> {
        let input = obj(input)?;
        let mut data = Map::new();
        data.insert("status".into(), json!("pending"));
        data.insert("customer_id".into(), json!(0));
        self.apply_order(&mut data, input)?;
        let mut items = Vec::new();
        if let Some(v) = input.get("line_items") {
            let Some(a) = v.as_array() else {
                return Err(WcError::invalid_param(
                    "line_items",
                    "line_items is not of type array.",
                ));
            };
            let saved = self.next_item_id;
            for li in a {
                match self.line_item(li) {
                    Ok(i) => items.push(i),
                    Err(e) => {
                        self.next_item_id = saved;
                        return Err(e);
                    }
                }
            }
        }
        data.insert("line_items".into(), Value::Array(items));
        let key: String = (0..13)
            .map(|_| {
                let c = self.rng.random_range(0..36u8);
                (if c < 10 { b'0' + c } else { b'a' + c - 10 }) as char
            })
            .collect();
        data.insert("order_key".into(), json!(format!("wc_order_{key}")));
        let id = self.next_post_id;
        self.next_post_id += 1;
        let now = self.clock.now();
        self.orders.insert(
            id,
            Rec {
                id,
                created: now,
                modified: now,
                data,
            },
        );
        self.count_create(Kind::Order, actor);
        let body = self.render_order(id);
        self.emit("order.created", id, body);
        self.stock_for_status(id);
        self.mark_paying(id);
        Ok(id)
    }

    /// Updates an order; fires `order.updated` (and stock changes on status transitions).
    pub fn update_order(&mut self, id: u64, input: &Value) -> Result<(), WcError> {
        let input = obj(input)?;
        let mut data = self.order(id)?.data.clone();
        if input.contains_key("line_items") {
            return Err(WcError::new(
                400,
                "woocommerce_rest_sim_unsupported",
                "The simulator does not model editing an order's line items.",
            ));
        }
        self.apply_order(&mut data, input)?;
        let now = self.clock.now();
        let r = self.orders.get_mut(&id).expect("checked above");
        r.data = data;
        r.modified = now;
        let body = self.render_order(id);
        self.emit("order.updated", id, body);
        self.stock_for_status(id);
        self.mark_paying(id);
        Ok(())
    }

    /// Deletes (force) or trashes an order; fires `order.deleted` with `{"id":N}`.
    pub fn delete_order(&mut self, id: u64, force: bool) -> Result<Value, WcError> {
        let r = self.order(id)?;
        let before = self.render_order(id);
        if force {
            self.orders.remove(&id);
            self.emit("order.deleted", id, json!({"id": id}));
            return Ok(before);
        }
        if r.status() == "trash" {
            return Err(WcError::new(
                410,
                "woocommerce_rest_already_trashed",
                "The order has already been deleted.",
            ));
        }
        let now = self.clock.now();
        let r = self.orders.get_mut(&id).expect("checked above");
        r.data.insert("status".into(), json!("trash"));
        r.modified = now;
        self.emit("order.deleted", id, json!({"id": id}));
        Ok(self.render_order(id))
    }

    // ---------------------------------------------------------------- webhooks

    /// Looks a webhook up.
    pub fn webhook(&self, id: u64) -> Result<&Rec, WcError> {
        self.webhooks.get(&id).ok_or_else(|| {
            WcError::new(
                404,
                "woocommerce_rest_shop_webhook_invalid_id",
                "Invalid ID.",
            )
        })
    }

    /// The webhook as `GET /webhooks/{id}` returns it (`secret` is write-only).
    pub fn render_webhook(&self, id: u64) -> Value {
        let Some(r) = self.webhooks.get(&id) else {
            return Value::Null;
        };
        let topic = r.s("topic");
        let (res, ev) = topic.split_once('.').unwrap_or((topic, ""));
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        o.insert("name".into(), json!(r.s("name")));
        o.insert("status".into(), json!(r.status()));
        o.insert("topic".into(), json!(topic));
        o.insert("resource".into(), json!(res));
        o.insert("event".into(), json!(ev));
        o.insert("hooks".into(), json!([format!("woocommerce_{res}_{ev}")]));
        o.insert("delivery_url".into(), json!(r.s("delivery_url")));
        self.dates(r, &mut o);
        o.insert("_links".into(), self.links("webhooks", id, None));
        Value::Object(o)
    }

    fn apply_webhook(
        &self,
        data: &mut Map<String, Value>,
        input: &Map<String, Value>,
    ) -> Result<(), WcError> {
        for k in ["name", "topic", "delivery_url", "secret", "status"] {
            let Some(v) = input.get(k) else { continue };
            let Some(s) = v.as_str() else {
                return Err(WcError::invalid_param(
                    k,
                    format!("{k} is not of type string."),
                ));
            };
            if k == "status" {
                one_of("status", s, &["active", "paused", "disabled"])
                    .map_err(|(n, w)| WcError::invalid_param(&n, w))?;
            }
            if k == "topic" && !TOPICS.contains(&s) && !s.starts_with("action.") {
                return Err(WcError::new(
                    400,
                    "woocommerce_rest_shop_webhook_invalid_topic",
                    "Webhook topic is required and must be valid.",
                ));
            }
            if k == "delivery_url" && !(s.starts_with("http://") || s.starts_with("https://")) {
                return Err(WcError::new(
                    400,
                    "woocommerce_rest_shop_webhook_invalid_delivery_url",
                    "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                ));
            }
            data.insert(k.into(), json!(s));
        }
        Ok(())
    }

    /// Creates a webhook; `default_secret` is the creating key's consumer secret.
    pub fn create_webhook(&mut self, input: &Value, default_secret: &str) -> Result<u64, WcError> {
        let input = obj(input)?;
        if input.get("topic").is_none() {
            return Err(WcError::new(
                400,
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            ));
        }
        if input.get("delivery_url").is_none() {
            return Err(WcError::new(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): delivery_url",
            )
            .with("params", json!(["delivery_url"])));
        }
        let mut data = Map::new();
        data.insert("status".into(), json!("active"));
        data.insert("secret".into(), json!(default_secret));
        self.apply_webhook(&mut data, input)?;
        let id = self.next_webhook_id;
        self.next_webhook_id += 1;
        if data.get("name").is_none() {
            let name = format!(
                "Webhook created on {}",
                self.clock.now().format("%B %-d, %Y @ %-I:%M %p")
            );
            data.insert("name".into(), json!(name));
        }
        data.insert("failure_count".into(), json!(0));
        data.insert("pending_delivery".into(), json!(true));
        let now = self.clock.now();
        if data.get("status") == Some(&json!("active")) {
            let url = data["delivery_url"].as_str().unwrap_or("").to_string();
            self.pings.push((id, url));
        }
        self.webhooks.insert(
            id,
            Rec {
                id,
                created: now,
                modified: now,
                data,
            },
        );
        Ok(id)
    }

    /// Updates a webhook. Re-activating resets its failure count (an assumption).
    pub fn update_webhook(&mut self, id: u64, input: &Value) -> Result<(), WcError> {
        let input = obj(input)?;
        let Some(rec) = self.webhooks.get(&id) else {
            // The update route answers 400 here, unlike GET's 404.
            return Err(WcError::new(
                400,
                "woocommerce_rest_shop_webhook_invalid_id",
                "ID is invalid.",
            ));
        };
        let mut data = rec.data.clone();
        let was = data.get("status").cloned();
        self.apply_webhook(&mut data, input)?;
        if data.get("status") == Some(&json!("active")) && was != Some(json!("active")) {
            data.insert("failure_count".into(), json!(0));
        }
        // WC_Webhook_Data_Store::update pings an active webhook whose ping never succeeded.
        if data.get("status") == Some(&json!("active"))
            && data.get("pending_delivery") == Some(&json!(true))
        {
            let url = data["delivery_url"].as_str().unwrap_or("").to_string();
            self.pings.push((id, url));
        }
        let now = self.clock.now();
        let r = self.webhooks.get_mut(&id).expect("checked above");
        r.data = data;
        r.modified = now;
        Ok(())
    }

    /// Deletes a webhook (force only).
    pub fn delete_webhook(&mut self, id: u64, force: bool) -> Result<Value, WcError> {
        self.webhook(id)?;
        if !force {
            return Err(WcError::new(
                501,
                "woocommerce_rest_trash_not_supported",
                "Webhooks do not support trashing.",
            ));
        }
        let before = self.render_webhook(id);
        self.webhooks.remove(&id);
        Ok(before)
    }

    /// Records a delivery outcome as `WC_Webhook::deliver` does: success (200..303) resets
    /// `failure_count`; a failure with `failure_count > max` disables the webhook, otherwise
    /// increments it. Returns true when this call disabled it.
    pub fn delivery_outcome(&mut self, id: u64, ok: bool, max: u32) -> bool {
        let Some(r) = self.webhooks.get_mut(&id) else {
            return false;
        };
        let n = r.i("failure_count").unwrap_or(0);
        if ok {
            r.data.insert("failure_count".into(), json!(0));
            return false;
        }
        if n > max as i64 {
            if r.status() != "disabled" {
                r.data.insert("status".into(), json!("disabled"));
                return true;
            }
            return false;
        }
        r.data.insert("failure_count".into(), json!(n + 1));
        false
    }

    // ---------------------------------------------------------------- refunds

    fn order_refunds(&self, order: u64) -> Value {
        let mut v: Vec<Value> = self
            .refunds
            .values()
            .filter(|r| r.parent() == order)
            .map(|r| json!({"id": r.id, "reason": r.s("reason"), "total": format!("-{}", r.s("amount"))}))
            .collect();
        v.reverse();
        Value::Array(v)
    }

    /// Looks a refund of `order` up.
    pub fn refund(&self, order: u64, id: u64) -> Result<&Rec, WcError> {
        self.order(order)?;
        match self.refunds.get(&id) {
            Some(r) if r.parent() == order => Ok(r),
            _ => Err(WcError::new(
                404,
                "woocommerce_rest_shop_order_refund_invalid_id",
                "Invalid ID.",
            )),
        }
    }

    /// The refund as `GET /orders/{order}/refunds/{id}` returns it.
    pub fn render_refund(&self, id: u64) -> Value {
        let Some(r) = self.refunds.get(&id) else {
            return Value::Null;
        };
        let mut o = Map::new();
        o.insert("id".into(), json!(id));
        o.insert("date_created".into(), json!(self.local(r.created)));
        o.insert("date_created_gmt".into(), json!(Store::gmt(r.created)));
        o.insert("amount".into(), json!(r.s("amount")));
        o.insert("reason".into(), json!(r.s("reason")));
        o.insert("refunded_by".into(), json!(1));
        o.insert("refunded_payment".into(), json!(false));
        o.insert("meta_data".into(), arr(r, "meta_data"));
        o.insert("line_items".into(), arr(r, "line_items"));
        o.insert(
            "_links".into(),
            self.links(&format!("orders/{}/refunds", r.parent()), id, None),
        );
        Value::Object(o)
    }

    /// Creates a refund as `wc_create_refund` does: the amount (or the sum of the lines'
    /// `refund_total`) must be positive and within what is left to refund; with `api_refund`
    /// (default true) the payment gateway must refund it, which no simulated gateway can; with
    /// `api_restock` (default true) refunded line quantities go back to stock. A full refund
    /// sets the order `refunded`. Fires `order.updated`.
    pub fn create_refund(&mut self, order: u64, input: &Value) -> Result<u64, WcError> {
        let input = obj(input)?;
        let o = self.order(order)?;
        let gateway = o.s("payment_method").to_string();
        let items = arr(o, "line_items");
        let items = items.as_array().cloned().unwrap_or_default();
        let order_total: f64 = items
            .iter()
            .map(|i| money(i["total"].as_str().unwrap_or("0")))
            .sum();
        let refunded: f64 = self
            .refunds
            .values()
            .filter(|r| r.parent() == order)
            .map(|r| money(r.s("amount")))
            .sum();
        let mut lines = Vec::new();
        let mut lines_total = 0.0;
        for li in input
            .get("line_items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let lid = li
                .get("id")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
            let Some(item) = items
                .iter()
                .find(|i| i["id"].as_u64() == lid && lid.is_some())
            else {
                return Err(WcError::new(
                    400,
                    "woocommerce_rest_invalid_order_refund",
                    "Invalid line item ID.",
                ));
            };
            let qty = li
                .get("quantity")
                .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
                .unwrap_or(0);
            let already: i64 = self
                .refunds
                .values()
                .filter(|r| r.parent() == order)
                .flat_map(|r| arr(r, "line_items").as_array().cloned().unwrap_or_default())
                .filter(|x| x["refunded_item_id"] == item["id"])
                .map(|x| -x["quantity"].as_i64().unwrap_or(0))
                .sum();
            if qty < 0 || qty + already > item["quantity"].as_i64().unwrap_or(0) {
                return Err(WcError::new(
                    500,
                    "woocommerce_rest_cannot_create_order_refund",
                    "Invalid refund quantity.",
                ));
            }
            let total = li
                .get("refund_total")
                .map(|v| v.as_f64().or_else(|| v.as_str().map(money)).unwrap_or(0.0))
                .unwrap_or(0.0);
            lines_total += total;
            lines.push(json!({
                "id": 0, "name": item["name"], "product_id": item["product_id"],
                "variation_id": item["variation_id"], "quantity": -qty, "tax_class": "",
                "subtotal": fmt2(-total), "subtotal_tax": "0.00", "total": fmt2(-total),
                "total_tax": "0.00", "taxes": [], "meta_data": [], "sku": item["sku"],
                "price": item["price"], "refund_total": total, "refunded_item_id": item["id"],
            }));
        }
        let amount = match input.get("amount") {
            Some(v) => v.as_str().map(money).or_else(|| v.as_f64()).unwrap_or(0.0),
            None => lines_total,
        };
        if amount <= 0.0 {
            return Err(WcError::new(
                400,
                "woocommerce_rest_invalid_order_refund",
                "Refund amount must be greater than zero.",
            ));
        }
        if amount > order_total - refunded + 1e-9 {
            return Err(WcError::new(
                500,
                "woocommerce_rest_cannot_create_order_refund",
                "Invalid refund amount.",
            ));
        }
        let flag = |k: &str| {
            input
                .get(k)
                .map(|v| v == &json!(true) || v == &json!("true") || v == &json!("1"))
                .unwrap_or(true)
        };
        if flag("api_refund") {
            let msg = if ["bacs", "cheque", "cod"].contains(&gateway.as_str()) {
                "The payment gateway for this order does not support automatic refunds."
            } else {
                "The payment gateway for this order does not exist."
            };
            return Err(WcError::new(
                500,
                "woocommerce_rest_cannot_create_order_refund",
                msg,
            ));
        }
        for l in &mut lines {
            l["id"] = json!(self.next_item_id);
            self.next_item_id += 1;
        }
        let id = self.next_post_id;
        self.next_post_id += 1;
        let now = self.clock.now();
        let mut data = Map::new();
        data.insert("parent_id".into(), json!(order));
        data.insert("amount".into(), json!(fmt2(amount)));
        data.insert(
            "reason".into(),
            json!(input.get("reason").and_then(Value::as_str).unwrap_or("")),
        );
        data.insert("line_items".into(), Value::Array(lines.clone()));
        self.refunds.insert(
            id,
            Rec {
                id,
                created: now,
                modified: now,
                data,
            },
        );
        if flag("api_restock") {
            self.order_in_progress = Some(order);
            for l in &lines {
                let v = l["variation_id"].as_u64().unwrap_or(0);
                let p = l["product_id"].as_u64().unwrap_or(0);
                let q = -l["quantity"].as_i64().unwrap_or(0);
                if q > 0 {
                    self.change_stock_for(if v != 0 { v } else { p }, q, 0, "refund");
                }
            }
        }
        let full = (order_total - refunded - amount).abs() < 0.005;
        let r = self.orders.get_mut(&order).expect("checked above");
        if full {
            r.data.insert("status".into(), json!("refunded"));
        }
        r.modified = now;
        let body = self.render_order(order);
        self.emit("order.updated", order, body);
        Ok(id)
    }

    /// Deletes a refund (force only; stock is not taken back, as in WooCommerce).
    pub fn delete_refund(&mut self, order: u64, id: u64, force: bool) -> Result<Value, WcError> {
        self.refund(order, id)?;
        if !force {
            return Err(WcError::new(
                501,
                "woocommerce_rest_trash_not_supported",
                "Refunds do not support trashing.",
            ));
        }
        let before = self.render_refund(id);
        self.refunds.remove(&id);
        Ok(before)
    }

    /// A ping answered 200: the webhook is no longer pending its first delivery.
    pub fn ping_succeeded(&mut self, id: u64) {
        if let Some(r) = self.webhooks.get_mut(&id) {
            r.data.insert("pending_delivery".into(), json!(false));
        }
    }

    /// Rendered resource by kind.
    pub fn render(&self, kind: Kind, id: u64) -> Value {
        match kind {
            Kind::Product => self.render_product(id),
            Kind::Customer => self.render_customer(id),
            Kind::Order => self.render_order(id),
            Kind::Webhook => self.render_webhook(id),
            Kind::Refund => self.render_refund(id),
        }
    }
}

fn or<'a>(s: &'a str, d: &'a str) -> &'a str {
    if s.is_empty() { d } else { s }
}

fn arr(r: &Rec, k: &str) -> Value {
    r.data.get(k).cloned().unwrap_or(json!([]))
}

fn dims(r: &Rec) -> Value {
    let mut d = json!({"length": "", "width": "", "height": ""});
    if let Some(Value::Object(m)) = r.data.get("dimensions") {
        for (k, v) in m {
            d[k] = v.clone();
        }
    }
    d
}

fn obj(v: &Value) -> Result<&Map<String, Value>, WcError> {
    v.as_object()
        .ok_or_else(|| WcError::new(400, "rest_invalid_json", "Invalid JSON body passed."))
}
