//! The one place that knows both of Shopify's data shapes.
//!
//! Shopify describes the same entity two ways: webhook bodies are REST-shaped (snake_case,
//! numeric ids that can exceed 2^53, local-offset timestamps, tags as one comma-separated
//! string), GraphQL reads are camelCase with `gid://shopify/...` ids, enums in upper case and
//! money in nested objects. The mapping plugins see exactly one shape per entity: the REST /
//! webhook field names listed below, with these rules applied to both inputs so a product read
//! by GraphQL and the same product delivered by webhook normalize to identical JSON:
//!
//! - every id is a decimal string (`"8079745990737254412"`), never a JSON number or a gid;
//! - timestamps are RFC 3339 in UTC with a `Z` suffix (`"2020-09-03T12:44:10Z"`);
//! - `tags` is one string, tags trimmed, de-duplicated, sorted and joined with `", "`;
//! - money amounts are decimal strings with at least two fraction digits (`"19.90"`);
//! - enums (`status`, `financial_status`) are lower snake case (`"active"`, `"partially_paid"`);
//! - only the fields below appear, each always present (`null` when the source has none).
//!
//! | kind | fields |
//! |---|---|
//! | product | id, title, body_html, vendor, product_type, handle, status, tags, updated_at, variants, options, images; GraphQL reads also category (a taxonomy id), seo, metafields |
//! | variant (inside product) | id, product_id, title, sku, price, compare_at_price, barcode, inventory_item_id, updated_at, option1, option2, option3, weight, weight_unit |
//! | product option | name, values |
//! | product image | url, alt (in order) |
//! | seo | title, description |
//! | metafield | namespace, key, type, value |
//! | customer | id, email, first_name, last_name, phone, tags, tax_exempt, email_marketing (the consent state in lower case: `subscribed`, `not_subscribed`, `unsubscribed`, `pending`, `redacted`, `invalid`; null when unknown), updated_at, addresses |
//! | customer address | the address fields below and `default` (the customer's default address) |
//! | order | id, name, email, created_at, updated_at, customer, line_items, total_price, currency, financial_status, cancelled_at, subtotal_price, total_discounts, total_tax, total_shipping, taxes_included, billing_address, shipping_address, shipping_lines, discount_codes, payment_gateway_names, note |
//! | order customer | id, email, first_name, last_name |
//! | line item | id, sku, quantity, price, variant_id, product_id, tax_lines, discount_allocations |
//! | address (billing, shipping) | first_name, last_name, company, address1, address2, city, province_code, country_code, zip, phone |
//! | shipping line | title, code, price, tax_lines |
//! | tax line | title, rate (a JSON number, `0.2` = 20 %), price |
//! | discount allocation | amount |
//!
//! `subtotal_price` is after discounts (Shopify's meaning); `discount_codes` is the list of
//! codes applied (GraphQL has no per-code amount; the lines' `discount_allocations` carry the
//! amounts).
//! | inventory level | inventory_item_id, location_id, available, updated_at, sku |
//!
//! Webhook bodies carry no category (Shopify's REST has none), no SEO fields and no metafields (Shopify sends them only to
//! subscriptions that name metafield namespaces): a product normalized from a webhook has no
//! `seo` or `metafields` key at all, so a mapper can tell "not delivered" from "empty". A
//! variant's `weight` is a JSON number, `weight_unit` one of `g`, `kg`, `oz`, `lb`.
//!
//! Inventory levels have no id of their own; their document id is
//! `"<inventory_item_id>@<location_id>"` ([`inventory_level_doc_id`]). Webhooks for inventory
//! levels lack the SKU; the host looks it up and passes it in.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::EntityKind;

/// Why a payload could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// A required field is absent or null.
    #[error("shopify {entity}: missing field `{field}`")]
    Missing {
        /// The entity being normalized.
        entity: &'static str,
        /// The missing field (source name).
        field: String,
    },
    /// A field has a value of the wrong type or format.
    #[error("shopify {entity}: field `{field}` is invalid: {reason}")]
    Invalid {
        /// The entity being normalized.
        entity: &'static str,
        /// The offending field (source name).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The webhook topic is not one weft syncs.
    #[error("shopify webhook topic `{0}` is not synced by weft")]
    UnknownTopic(String),
}

/// A normalized Shopify document, ready to journal and hand to a mapping plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopifyDoc {
    /// The entity kind (product, customer, order or inventory-level).
    pub kind: EntityKind,
    /// The document id: the numeric id as a decimal string, or `item@location` for levels.
    pub id: String,
    /// The source version: `updated_at` in RFC 3339 UTC.
    pub updated_at: String,
    /// The document in the one shape described in the module docs.
    pub body: Value,
}

/// The document id of an inventory level.
pub fn inventory_level_doc_id(inventory_item_id: &str, location_id: &str) -> String {
    format!("{inventory_item_id}@{location_id}")
}

/// Extracts the numeric id from a gid (`gid://shopify/Product/123` -> `"123"`; the query
/// string of `gid://shopify/InventoryLevel/1?inventory_item_id=2` is dropped).
pub fn id_from_gid(gid: &str) -> Option<String> {
    let rest = gid.strip_prefix("gid://shopify/")?;
    let (_, tail) = rest.split_once('/')?;
    let id = tail.split('?').next()?;
    is_decimal(id).then(|| id.to_owned())
}

/// Builds a gid from a resource name and a decimal id.
pub fn gid(resource: &str, id: &str) -> String {
    format!("gid://shopify/{resource}/{id}")
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Converts any id representation (JSON number, decimal string, gid) to a decimal string.
/// JSON numbers are read as exact 64-bit integers, so ids above 2^53 are not rounded.
pub fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(|u| u.to_string())
            .or_else(|| n.as_i64().filter(|i| *i >= 0).map(|i| i.to_string())),
        Value::String(s) if is_decimal(s) => Some(s.clone()),
        Value::String(s) => id_from_gid(s),
        _ => None,
    }
}

/// Normalizes a timestamp (any RFC 3339 offset) to UTC with a `Z` suffix.
pub fn timestamp(s: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    Some(format_ts(t))
}

/// Formats a UTC instant as weft's version string (seconds, plus fraction only when present).
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Normalizes a money amount: numbers and strings become a decimal string with at least two
/// fraction digits.
pub fn money(v: &Value) -> Option<String> {
    let raw = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let (neg, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !is_decimal(int) || !(frac.is_empty() || is_decimal(frac)) {
        return None;
    }
    let mut frac = frac.to_owned();
    while frac.len() < 2 {
        frac.push('0');
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(format!("{}{int}.{frac}", if neg { "-" } else { "" }))
}

/// Normalizes tags from a comma-separated string or a list of strings.
pub fn tags(v: &Value) -> String {
    let mut out: Vec<String> = match v {
        Value::String(s) => s.split(',').map(|t| t.trim().to_owned()).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|t| t.trim().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    out.retain(|t| !t.is_empty());
    out.sort();
    out.dedup();
    out.join(", ")
}

/// Lower snake case for GraphQL enums (`PARTIALLY_PAID` -> `partially_paid`); REST values
/// already are.
fn enum_value(v: &Value) -> Value {
    match v.as_str() {
        Some(s) => Value::String(s.to_ascii_lowercase()),
        None => Value::Null,
    }
}

/// Accessor helper bound to one entity for error messages.
struct Src<'a> {
    entity: &'static str,
    obj: &'a Map<String, Value>,
}

impl<'a> Src<'a> {
    fn new(entity: &'static str, v: &'a Value) -> Result<Self, NormalizeError> {
        let obj = v.as_object().ok_or_else(|| NormalizeError::Invalid {
            entity,
            field: "<root>".into(),
            reason: "expected a JSON object".into(),
        })?;
        Ok(Src { entity, obj })
    }

    fn get(&self, field: &str) -> &'a Value {
        self.obj.get(field).unwrap_or(&Value::Null)
    }

    /// A nested path (`a.b.c`), null when any step is missing.
    fn path(&self, path: &str) -> &'a Value {
        let mut cur = self.obj.get(path.split('.').next().unwrap_or_default());
        for step in path.split('.').skip(1) {
            cur = cur.and_then(|v| v.get(step));
        }
        cur.unwrap_or(&Value::Null)
    }

    fn id(&self, field: &str) -> Result<String, NormalizeError> {
        let v = self.path(field);
        if v.is_null() {
            return Err(self.missing(field));
        }
        id_string(v).ok_or_else(|| self.invalid(field, "not a numeric id or gid"))
    }

    fn opt_id(&self, field: &str) -> Result<Value, NormalizeError> {
        let v = self.path(field);
        if v.is_null() {
            return Ok(Value::Null);
        }
        id_string(v)
            .map(Value::String)
            .ok_or_else(|| self.invalid(field, "not a numeric id or gid"))
    }

    fn ts(&self, field: &str) -> Result<String, NormalizeError> {
        let v = self.path(field);
        let s = v.as_str().ok_or_else(|| self.missing(field))?;
        timestamp(s).ok_or_else(|| self.invalid(field, "not an RFC 3339 timestamp"))
    }

    fn opt_ts(&self, field: &str) -> Result<Value, NormalizeError> {
        match self.path(field) {
            Value::Null => Ok(Value::Null),
            Value::String(s) => timestamp(s)
                .map(Value::String)
                .ok_or_else(|| self.invalid(field, "not an RFC 3339 timestamp")),
            _ => Err(self.invalid(field, "not a string")),
        }
    }

    fn opt_bool(&self, field: &str) -> Result<Value, NormalizeError> {
        match self.path(field) {
            v @ (Value::Null | Value::Bool(_)) => Ok(v.clone()),
            _ => Err(self.invalid(field, "not a boolean")),
        }
    }

    /// An enum value in lower case (REST spells `subscribed` what GraphQL spells `SUBSCRIBED`).
    fn lower(&self, field: &str) -> Value {
        match self.path(field) {
            Value::String(s) => Value::String(s.to_ascii_lowercase()),
            _ => Value::Null,
        }
    }

    fn text(&self, field: &str) -> Value {
        match self.path(field) {
            Value::String(s) => Value::String(s.clone()),
            _ => Value::Null,
        }
    }

    fn opt_money(&self, field: &str) -> Result<Value, NormalizeError> {
        let v = self.path(field);
        if v.is_null() {
            return Ok(Value::Null);
        }
        money(v)
            .map(Value::String)
            .ok_or_else(|| self.invalid(field, "not a decimal amount"))
    }

    fn opt_int(&self, field: &str) -> Result<Value, NormalizeError> {
        match self.path(field) {
            Value::Null => Ok(Value::Null),
            Value::Number(n) if n.is_i64() => Ok(Value::Number(n.clone())),
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| self.invalid(field, "not an integer")),
            _ => Err(self.invalid(field, "not an integer")),
        }
    }

    fn list(&self, field: &str) -> Result<&'a [Value], NormalizeError> {
        match self.path(field) {
            Value::Null => Ok(&[]),
            Value::Array(a) => Ok(a),
            _ => Err(self.invalid(field, "not a list")),
        }
    }

    fn missing(&self, field: &str) -> NormalizeError {
        NormalizeError::Missing {
            entity: self.entity,
            field: field.to_owned(),
        }
    }

    fn invalid(&self, field: &str, reason: &str) -> NormalizeError {
        NormalizeError::Invalid {
            entity: self.entity,
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// Nodes of a GraphQL connection, given either as `{nodes: [...]}` or `{edges: [{node}]}`.
fn connection_nodes(v: &Value) -> Vec<&Value> {
    if let Some(nodes) = v.get("nodes").and_then(Value::as_array) {
        return nodes.iter().collect();
    }
    if let Some(edges) = v.get("edges").and_then(Value::as_array) {
        return edges.iter().filter_map(|e| e.get("node")).collect();
    }
    Vec::new()
}

fn doc(kind: EntityKind, id: String, updated_at: String, body: Value) -> ShopifyDoc {
    ShopifyDoc {
        kind,
        id,
        updated_at,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// Products and variants
// ---------------------------------------------------------------------------------------------

/// Normalizes a `products/create` / `products/update` webhook body (or a REST product).
pub fn product_from_webhook(body: &Value) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("product", body)?;
    let id = s.id("id")?;
    let updated_at = s.ts("updated_at")?;
    let mut variants = Vec::new();
    for v in s.list("variants")? {
        let vs = Src::new("variant", v)?;
        variants.push(json!({
            "id": vs.id("id")?,
            "product_id": id,
            "title": vs.text("title"),
            "sku": vs.text("sku"),
            "price": vs.opt_money("price")?,
            "compare_at_price": vs.opt_money("compare_at_price")?,
            "barcode": vs.text("barcode"),
            "inventory_item_id": vs.opt_id("inventory_item_id")?,
            "updated_at": vs.opt_ts("updated_at")?,
            "option1": vs.text("option1"),
            "option2": vs.text("option2"),
            "option3": vs.text("option3"),
            "weight": number(vs.get("weight")),
            "weight_unit": weight_unit(vs.get("weight_unit")),
        }));
    }
    let images: Vec<Value> = s
        .list("images")?
        .iter()
        .map(|i| json!({"url": text_of(i.get("src")), "alt": text_of(i.get("alt"))}))
        .collect();
    // A webhook carries the first 100 variants of a product with more, and every variant's id
    // in `variant_gids` (`variant_ids` in some versions): such a payload is partial.
    let listed = [s.get("variant_gids"), s.get("variant_ids")]
        .iter()
        .filter_map(|v| v.as_array().map(Vec::len))
        .max()
        .unwrap_or(0);
    let partial = listed > variants.len();
    let mut body = json!({
        "id": id,
        "title": s.text("title"),
        "body_html": s.text("body_html"),
        "vendor": s.text("vendor"),
        "product_type": s.text("product_type"),
        "handle": s.text("handle"),
        "status": enum_value(s.get("status")),
        "tags": tags(s.get("tags")),
        "updated_at": updated_at,
        "variants": variants,
        "options": options(s.list("options")?),
        "images": images,
    });
    if partial {
        body["variants_partial"] = Value::Bool(true);
    }
    Ok(doc(EntityKind::Product, id, updated_at, body))
}

/// Normalizes a GraphQL `Product` node (as selected by [`super::queries::PRODUCT_FIELDS`]).
/// `extra_variants` are variant nodes fetched by follow-up pages of the product's variants.
pub fn product_from_graphql(
    node: &Value,
    extra_variants: &[Value],
) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("product", node)?;
    let id = s.id("id")?;
    let updated_at = s.ts("updatedAt")?;
    let mut variants = Vec::new();
    let options = options(s.list("options")?);
    let names: Vec<&str> = options
        .iter()
        .filter_map(|o| o.get("name").and_then(Value::as_str))
        .collect();
    let nodes = connection_nodes(s.get("variants"));
    for v in nodes.into_iter().chain(extra_variants.iter()) {
        let mut nv = variant_from_graphql(v, &id)?;
        // `optionN` follows the product's option order, as REST numbers them.
        for (i, name) in names.iter().enumerate() {
            let value = v
                .get("selectedOptions")
                .and_then(Value::as_array)
                .and_then(|sel| {
                    sel.iter()
                        .find(|o| o.get("name").and_then(Value::as_str) == Some(name))
                })
                .map(|o| text_of(o.get("value")))
                .unwrap_or(Value::Null);
            nv[format!("option{}", i + 1)] = value;
        }
        variants.push(nv);
    }
    let images: Vec<Value> = connection_nodes(s.get("images"))
        .into_iter()
        .map(|i| json!({"url": text_of(i.get("url")), "alt": text_of(i.get("altText"))}))
        .collect();
    let mut body = json!({
        "id": id,
        "title": s.text("title"),
        "body_html": s.text("descriptionHtml"),
        "vendor": s.text("vendor"),
        "product_type": s.text("productType"),
        "handle": s.text("handle"),
        "status": enum_value(s.get("status")),
        "tags": tags(s.get("tags")),
        "updated_at": updated_at,
        "variants": variants,
        "options": options,
        "images": images,
    });
    // Only what the read selected: a node without them says nothing about SEO or metafields.
    if let Some(category) = node.get("category") {
        // `gid://shopify/TaxonomyCategory/aa-1-13-8` -> `aa-1-13-8`.
        body["category"] = match category.get("id").and_then(Value::as_str) {
            Some(gid) => json!(gid.rsplit('/').next().unwrap_or(gid)),
            None => Value::Null,
        };
    }
    if let Some(seo) = node.get("seo") {
        body["seo"] = json!({
            "title": text_of(seo.get("title")),
            "description": text_of(seo.get("description")),
        });
    }
    // The custom collections the product is in (a smart collection's rules decide its
    // products: nothing to sync), by handle; not carried when the read did not see them all.
    if let Some(c) = node.get("collections")
        && c.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool) != Some(true)
    {
        let mut handles: Vec<String> = connection_nodes(c)
            .into_iter()
            .filter(|n| n.get("ruleSet").is_none_or(Value::is_null))
            .filter_map(|n| n.get("handle").and_then(Value::as_str).map(str::to_owned))
            .collect();
        handles.sort();
        handles.dedup();
        body["collections"] = json!(handles);
    }
    if node.get("metafields").is_some() {
        body["metafields"] = Value::Array(
            connection_nodes(s.get("metafields"))
                .into_iter()
                .map(|m| {
                    json!({
                        "namespace": text_of(m.get("namespace")),
                        "key": text_of(m.get("key")),
                        "type": text_of(m.get("type")),
                        "value": text_of(m.get("value")),
                    })
                })
                .collect(),
        );
    }
    Ok(doc(EntityKind::Product, id, updated_at, body))
}

/// Normalizes a GraphQL `ProductVariant` node of product `product_id`.
pub fn variant_from_graphql(v: &Value, product_id: &str) -> Result<Value, NormalizeError> {
    let vs = Src::new("variant", v)?;
    // `sku` moved to the inventory item in newer versions; read either.
    let sku = match vs.text("sku") {
        Value::Null => vs.text("inventoryItem.sku"),
        s => s,
    };
    Ok(json!({
        "id": vs.id("id")?,
        "product_id": product_id,
        "title": vs.text("title"),
        "sku": sku,
        "price": vs.opt_money("price")?,
        "compare_at_price": vs.opt_money("compareAtPrice")?,
        "barcode": vs.text("barcode"),
        "inventory_item_id": vs.opt_id("inventoryItem.id")?,
        "updated_at": vs.opt_ts("updatedAt")?,
        "option1": Value::Null,
        "option2": Value::Null,
        "option3": Value::Null,
        "weight": number(vs.path("inventoryItem.measurement.weight.value")),
        "weight_unit": weight_unit(vs.path("inventoryItem.measurement.weight.unit")),
    }))
}

/// A product's options as `[{name, values}]`.
fn options(list: &[Value]) -> Vec<Value> {
    list.iter()
        .map(|o| {
            json!({
                "name": text_of(o.get("name")),
                "values": o.get("values").cloned().unwrap_or_else(|| json!([])),
            })
        })
        .collect()
}

/// Text or `null` (an empty string is `null`).
fn text_of(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
        _ => Value::Null,
    }
}

/// A JSON number, or `null`.
fn number(v: &Value) -> Value {
    match v {
        Value::Number(_) => v.clone(),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// A weight unit as REST names it (`kg`), from REST or GraphQL (`KILOGRAMS`).
fn weight_unit(v: &Value) -> Value {
    let unit = match v.as_str() {
        Some("GRAMS" | "g") => "g",
        Some("KILOGRAMS" | "kg") => "kg",
        Some("OUNCES" | "oz") => "oz",
        Some("POUNDS" | "lb") => "lb",
        _ => return Value::Null,
    };
    json!(unit)
}

/// A customer's addresses in the normalized shape, each with `default`.
fn customer_addresses(
    list: &[Value],
    default: &Value,
    country: &str,
) -> Result<Vec<Value>, NormalizeError> {
    let default = address(default, country)?;
    let mut out = Vec::with_capacity(list.len());
    let mut seen_default = false;
    for a in list {
        let mut n = address(a, country)?;
        // REST flags the default address; GraphQL names it separately (the first equal one).
        let flagged = a.get("default").and_then(Value::as_bool);
        let is_default = match flagged {
            Some(d) => d,
            None => !seen_default && !default.is_null() && n == default,
        };
        seen_default |= is_default;
        n["default"] = json!(is_default);
        out.push(n);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------------------------

/// Normalizes a `customers/create` / `customers/update` webhook body.
pub fn customer_from_webhook(body: &Value) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("customer", body)?;
    let id = s.id("id")?;
    let updated_at = s.ts("updated_at")?;
    let body = json!({
        "id": id,
        "email": s.text("email"),
        "first_name": s.text("first_name"),
        "last_name": s.text("last_name"),
        "phone": s.text("phone"),
        "tags": tags(s.get("tags")),
        "tax_exempt": s.opt_bool("tax_exempt")?,
        "email_marketing": s.lower("email_marketing_consent.state"),
        "updated_at": updated_at,
        "addresses": customer_addresses(s.list("addresses")?, s.get("default_address"), "country_code")?,
    });
    Ok(doc(EntityKind::Customer, id, updated_at, body))
}

/// Normalizes a GraphQL `Customer` node.
pub fn customer_from_graphql(node: &Value) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("customer", node)?;
    let id = s.id("id")?;
    let updated_at = s.ts("updatedAt")?;
    let email = match s.text("email") {
        Value::Null => s.text("defaultEmailAddress.emailAddress"),
        e => e,
    };
    let phone = match s.text("phone") {
        Value::Null => s.text("defaultPhoneNumber.phoneNumber"),
        p => p,
    };
    let body = json!({
        "id": id,
        "email": email,
        "first_name": s.text("firstName"),
        "last_name": s.text("lastName"),
        "phone": phone,
        "tags": tags(s.get("tags")),
        "tax_exempt": s.opt_bool("taxExempt")?,
        "email_marketing": match s.lower("emailMarketingConsent.marketingState") {
            Value::Null => s.lower("defaultEmailAddress.marketingState"),
            m => m,
        },
        "updated_at": updated_at,
        "addresses": customer_addresses(s.list("addresses")?, s.get("defaultAddress"), "countryCodeV2")?,
    });
    Ok(doc(EntityKind::Customer, id, updated_at, body))
}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/// Normalizes an `orders/create` / `orders/updated` webhook body.
pub fn order_from_webhook(body: &Value) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("order", body)?;
    let id = s.id("id")?;
    let updated_at = s.ts("updated_at")?;
    let customer = match s.get("customer") {
        Value::Null => Value::Null,
        c => {
            let cs = Src::new("order customer", c)?;
            json!({
                "id": cs.id("id")?,
                "email": cs.text("email"),
                "first_name": cs.text("first_name"),
                "last_name": cs.text("last_name"),
            })
        }
    };
    let mut lines = Vec::new();
    for li in s.list("line_items")? {
        let ls = Src::new("line item", li)?;
        lines.push(json!({
            "id": ls.id("id")?,
            "sku": ls.text("sku"),
            "quantity": ls.opt_int("quantity")?,
            "current_quantity": ls.opt_int("current_quantity")?,
            "price": ls.opt_money("price")?,
            "variant_id": ls.opt_id("variant_id")?,
            "product_id": ls.opt_id("product_id")?,
            "tax_lines": tax_lines_rest(ls.list("tax_lines")?)?,
            "discount_allocations": allocations(ls.list("discount_allocations")?, "amount")?,
        }));
    }
    let mut body = json!({
        "id": id,
        "name": s.text("name"),
        "email": s.text("email"),
        "created_at": s.opt_ts("created_at")?,
        "updated_at": updated_at,
        "customer": customer,
        "line_items": lines,
        "total_price": s.opt_money("total_price")?,
        "currency": s.text("currency"),
        "financial_status": enum_value(s.get("financial_status")),
        "cancelled_at": s.opt_ts("cancelled_at")?,
    });
    // The order's refunds, when the body carries them (REST orders and their webhooks do).
    // GraphQL reads do not ask for them yet, so a polled order has no `refunds` key: the
    // mapper reads refunds only from documents that carry them.
    if !s.get("refunds").is_null() {
        body["refunds"] = refunds_from_webhook(s.list("refunds")?)?;
    }
    checkout_from_webhook(&s, &mut body)?;
    Ok(doc(EntityKind::Order, id, updated_at, body))
}

/// An order's REST `refunds`: `[{id, created_at, note, lines: [{line_item_id, sku, quantity,
/// restock_type (`return`, `cancel`, `no_restock`, `legacy_restock`), location_id, subtotal}]}]`.
fn refunds_from_webhook(list: &[Value]) -> Result<Value, NormalizeError> {
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        let rs = Src::new("refund", r)?;
        let mut lines = Vec::new();
        for l in rs.list("refund_line_items")? {
            let ls = Src::new("refund line item", l)?;
            lines.push(json!({
                "line_item_id": ls.id("line_item_id")?,
                "sku": ls.text("line_item.sku"),
                "quantity": ls.opt_int("quantity")?,
                "restock_type": enum_value(ls.get("restock_type")),
                "location_id": ls.opt_id("location_id")?,
                "subtotal": ls.opt_money("subtotal")?,
            }));
        }
        out.push(json!({
            "id": rs.id("id")?,
            "created_at": rs.opt_ts("created_at")?,
            "note": rs.text("note"),
            "lines": lines,
        }));
    }
    Ok(Value::Array(out))
}

/// An order's GraphQL `refunds` in the shape of [`refunds_from_webhook`] (`subtotal` null: the
/// query does not ask for it; the mapper takes the line's price × quantity). A refund whose
/// lines do not fit in one page is left out (a refund is journaled whole or not at all; its
/// webhook body carries every line).
fn refunds_from_graphql(list: &[Value]) -> Result<Value, NormalizeError> {
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        let rs = Src::new("refund", r)?;
        if rs.path("refundLineItems.pageInfo.hasNextPage") == &Value::Bool(true) {
            continue;
        }
        let mut lines = Vec::new();
        for l in connection_nodes(rs.get("refundLineItems")) {
            let ls = Src::new("refund line item", l)?;
            lines.push(json!({
                "line_item_id": ls.id("lineItem.id")?,
                "sku": ls.text("lineItem.sku"),
                "quantity": ls.opt_int("quantity")?,
                "restock_type": enum_value(ls.get("restockType")),
                "location_id": ls.opt_id("location.id")?,
                "subtotal": Value::Null,
            }));
        }
        out.push(json!({
            "id": rs.id("id")?,
            "created_at": rs.opt_ts("createdAt")?,
            "note": rs.text("note"),
            "lines": lines,
        }));
    }
    Ok(Value::Array(out))
}

/// Normalizes a GraphQL `Order` node.
pub fn order_from_graphql(node: &Value) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("order", node)?;
    let id = s.id("id")?;
    let updated_at = s.ts("updatedAt")?;
    let customer = match s.get("customer") {
        Value::Null => Value::Null,
        c => {
            let cs = Src::new("order customer", c)?;
            let email = match cs.text("email") {
                Value::Null => cs.text("defaultEmailAddress.emailAddress"),
                e => e,
            };
            json!({
                "id": cs.id("id")?,
                "email": email,
                "first_name": cs.text("firstName"),
                "last_name": cs.text("lastName"),
            })
        }
    };
    let mut lines = Vec::new();
    for li in connection_nodes(s.get("lineItems")) {
        let ls = Src::new("line item", li)?;
        lines.push(json!({
            "id": ls.id("id")?,
            "sku": ls.text("sku"),
            "quantity": ls.opt_int("quantity")?,
            "current_quantity": ls.opt_int("currentQuantity")?,
            "price": ls.opt_money("originalUnitPriceSet.shopMoney.amount")?,
            "variant_id": ls.opt_id("variant.id")?,
            "product_id": ls.opt_id("product.id")?,
            "tax_lines": tax_lines_graphql(ls.list("taxLines")?)?,
            "discount_allocations": allocations(
                ls.list("discountAllocations")?,
                "allocatedAmountSet.shopMoney.amount",
            )?,
        }));
    }
    let currency = match s.text("currencyCode") {
        Value::Null => s.text("totalPriceSet.shopMoney.currencyCode"),
        c => c,
    };
    let mut body = json!({
        "id": id,
        "name": s.text("name"),
        "email": s.text("email"),
        "created_at": s.opt_ts("createdAt")?,
        "updated_at": updated_at,
        "customer": customer,
        "line_items": lines,
        "total_price": s.opt_money("totalPriceSet.shopMoney.amount")?,
        "currency": currency,
        "financial_status": enum_value(s.get("displayFinancialStatus")),
        "cancelled_at": s.opt_ts("cancelledAt")?,
    });
    if !s.get("refunds").is_null() {
        body["refunds"] = refunds_from_graphql(s.list("refunds")?)?;
    }
    checkout_from_graphql(&s, &mut body)?;
    Ok(doc(EntityKind::Order, id, updated_at, body))
}

/// An order's checkout fields from a webhook body (see the table at the top).
fn checkout_from_webhook(s: &Src<'_>, body: &mut Value) -> Result<(), NormalizeError> {
    let mut shipping = Vec::new();
    for l in s.list("shipping_lines")? {
        let ls = Src::new("shipping line", l)?;
        shipping.push(json!({
            "title": ls.text("title"),
            "code": ls.text("code"),
            "price": ls.opt_money("price")?,
            "tax_lines": tax_lines_rest(ls.list("tax_lines")?)?,
        }));
    }
    let mut codes = Vec::new();
    for c in s.list("discount_codes")? {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            codes.push(Value::String(code.to_owned()));
        }
    }
    let o = body.as_object_mut().expect("an order body is an object");
    o.insert("subtotal_price".into(), s.opt_money("subtotal_price")?);
    o.insert("total_discounts".into(), s.opt_money("total_discounts")?);
    o.insert("total_tax".into(), s.opt_money("total_tax")?);
    o.insert(
        "total_shipping".into(),
        s.opt_money("total_shipping_price_set.shop_money.amount")?,
    );
    o.insert(
        "taxes_included".into(),
        Value::Bool(s.get("taxes_included").as_bool().unwrap_or(false)),
    );
    o.insert(
        "billing_address".into(),
        address(s.get("billing_address"), "country_code")?,
    );
    o.insert(
        "shipping_address".into(),
        address(s.get("shipping_address"), "country_code")?,
    );
    o.insert("shipping_lines".into(), Value::Array(shipping));
    o.insert("discount_codes".into(), Value::Array(codes));
    o.insert(
        "payment_gateway_names".into(),
        strings(s.get("payment_gateway_names")),
    );
    o.insert("note".into(), s.text("note"));
    Ok(())
}

/// An order's checkout fields from a GraphQL `Order` node.
fn checkout_from_graphql(s: &Src<'_>, body: &mut Value) -> Result<(), NormalizeError> {
    let mut shipping = Vec::new();
    for l in connection_nodes(s.get("shippingLines")) {
        let ls = Src::new("shipping line", l)?;
        shipping.push(json!({
            "title": ls.text("title"),
            "code": ls.text("code"),
            "price": ls.opt_money("originalPriceSet.shopMoney.amount")?,
            "tax_lines": tax_lines_graphql(ls.list("taxLines")?)?,
        }));
    }
    let o = body.as_object_mut().expect("an order body is an object");
    o.insert(
        "subtotal_price".into(),
        s.opt_money("subtotalPriceSet.shopMoney.amount")?,
    );
    o.insert(
        "total_discounts".into(),
        s.opt_money("totalDiscountsSet.shopMoney.amount")?,
    );
    o.insert(
        "total_tax".into(),
        s.opt_money("totalTaxSet.shopMoney.amount")?,
    );
    o.insert(
        "total_shipping".into(),
        s.opt_money("totalShippingPriceSet.shopMoney.amount")?,
    );
    o.insert(
        "taxes_included".into(),
        Value::Bool(s.get("taxesIncluded").as_bool().unwrap_or(false)),
    );
    o.insert(
        "billing_address".into(),
        address(s.get("billingAddress"), "countryCodeV2")?,
    );
    o.insert(
        "shipping_address".into(),
        address(s.get("shippingAddress"), "countryCodeV2")?,
    );
    o.insert("shipping_lines".into(), Value::Array(shipping));
    o.insert("discount_codes".into(), strings(s.get("discountCodes")));
    o.insert(
        "payment_gateway_names".into(),
        strings(s.get("paymentGatewayNames")),
    );
    o.insert("note".into(), s.text("note"));
    Ok(())
}

/// A list of strings (anything else: empty).
fn strings(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|x| x.is_string())
            .cloned()
            .collect(),
    )
}

/// A mailing address, REST (snake_case) or GraphQL (camelCase; the country field named).
fn address(v: &Value, country: &str) -> Result<Value, NormalizeError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let a = Src::new("address", v)?;
    let pick = |snake: &str, camel: &str| match a.text(snake) {
        Value::Null => a.text(camel),
        t => t,
    };
    Ok(json!({
        "first_name": pick("first_name", "firstName"),
        "last_name": pick("last_name", "lastName"),
        "company": a.text("company"),
        "address1": a.text("address1"),
        "address2": a.text("address2"),
        "city": a.text("city"),
        "province_code": pick("province_code", "provinceCode"),
        "country_code": a.text(country),
        "zip": a.text("zip"),
        "phone": a.text("phone"),
    }))
}

/// A tax rate as a JSON number (REST sends a number, GraphQL a Float).
fn rate(v: &Value) -> Value {
    match v {
        Value::Number(_) => v.clone(),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        _ => Value::Null,
    }
}

fn tax_lines_rest(list: &[Value]) -> Result<Value, NormalizeError> {
    let mut out = Vec::new();
    for t in list {
        let ts = Src::new("tax line", t)?;
        out.push(json!({
            "title": ts.text("title"),
            "rate": rate(ts.get("rate")),
            "price": ts.opt_money("price")?,
        }));
    }
    Ok(Value::Array(out))
}

fn tax_lines_graphql(list: &[Value]) -> Result<Value, NormalizeError> {
    let mut out = Vec::new();
    for t in list {
        let ts = Src::new("tax line", t)?;
        out.push(json!({
            "title": ts.text("title"),
            "rate": rate(ts.get("rate")),
            "price": ts.opt_money("priceSet.shopMoney.amount")?,
        }));
    }
    Ok(Value::Array(out))
}

fn allocations(list: &[Value], amount: &str) -> Result<Value, NormalizeError> {
    let mut out = Vec::new();
    for a in list {
        let s = Src::new("discount allocation", a)?;
        out.push(json!({"amount": s.opt_money(amount)?}));
    }
    Ok(Value::Array(out))
}

// ---------------------------------------------------------------------------------------------
// Inventory levels
// ---------------------------------------------------------------------------------------------

/// Normalizes an `inventory_levels/update` (or `/connect`) webhook body. The webhook has no
/// SKU; pass the one the host knows for the inventory item (or `None`).
pub fn inventory_level_from_webhook(
    body: &Value,
    sku: Option<&str>,
) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("inventory level", body)?;
    let item = s.id("inventory_item_id")?;
    let location = s.id("location_id")?;
    let updated_at = s.ts("updated_at")?;
    let body = json!({
        "inventory_item_id": item,
        "location_id": location,
        "available": s.opt_int("available")?,
        "updated_at": updated_at,
        "sku": sku,
    });
    Ok(doc(
        EntityKind::InventoryLevel,
        inventory_level_doc_id(&item, &location),
        updated_at,
        body,
    ))
}

/// Normalizes a GraphQL `InventoryLevel` node (`item { id sku }`, `location { id }`,
/// `quantities(names: ["available"]) { name quantity }`, `updatedAt`). `location_id` is used
/// when the node does not select its location (levels read through a location).
pub fn inventory_level_from_graphql(
    node: &Value,
    location_id: Option<&str>,
) -> Result<ShopifyDoc, NormalizeError> {
    let s = Src::new("inventory level", node)?;
    let item = s.id("item.id")?;
    let location = match (s.path("location.id"), location_id) {
        (Value::Null, Some(l)) => l.to_owned(),
        _ => s.id("location.id")?,
    };
    let updated_at = s.ts("updatedAt")?;
    let mut available = Value::Null;
    for q in s.list("quantities")? {
        if q.get("name").and_then(Value::as_str) == Some("available") {
            let qs = Src::new("inventory quantity", q)?;
            available = qs.opt_int("quantity")?;
        }
    }
    let body = json!({
        "inventory_item_id": item,
        "location_id": location,
        "available": available,
        "updated_at": updated_at,
        "sku": s.text("item.sku"),
    });
    Ok(doc(
        EntityKind::InventoryLevel,
        inventory_level_doc_id(&item, &location),
        updated_at,
        body,
    ))
}

// ---------------------------------------------------------------------------------------------
// Webhooks by topic
// ---------------------------------------------------------------------------------------------

/// Normalizes a webhook body by its `X-Shopify-Topic`. `sku` is used for inventory levels only.
/// Delete topics are not handled here (they carry only an id).
pub fn from_webhook(
    topic: &str,
    body: &Value,
    sku: Option<&str>,
) -> Result<ShopifyDoc, NormalizeError> {
    match topic {
        "products/create" | "products/update" => product_from_webhook(body),
        "customers/create" | "customers/update" | "customers/enable" | "customers/disable" => {
            customer_from_webhook(body)
        }
        "orders/create"
        | "orders/updated"
        | "orders/paid"
        | "orders/cancelled"
        | "orders/fulfilled"
        | "orders/partially_fulfilled" => order_from_webhook(body),
        "inventory_levels/update" | "inventory_levels/connect" => {
            inventory_level_from_webhook(body, sku)
        }
        other => Err(NormalizeError::UnknownTopic(other.to_owned())),
    }
}

/// The tombstone a delete topic's body (`{"id": N}`, nothing else) becomes: the deleted
/// entity's kind and id, versioned by `updated_at` (the intake writes
/// `X-Shopify-Triggered-At` there, as the body has none), and a
/// [`weft_platform::webhook::tombstone`] body. `Ok(None)` for a topic that is not a deletion.
pub fn deletion_from_webhook(
    topic: &str,
    body: &Value,
) -> Result<Option<ShopifyDoc>, NormalizeError> {
    let kind = match topic {
        "products/delete" => EntityKind::Product,
        "customers/delete" => EntityKind::Customer,
        _ => return Ok(None),
    };
    let entity = if kind == EntityKind::Product {
        "product"
    } else {
        "customer"
    };
    let s = Src::new(entity, body)?;
    let id = s.id("id")?;
    let at = s.ts("updated_at")?;
    Ok(Some(doc(
        kind,
        id.clone(),
        at,
        weft_platform::webhook::tombstone(&id),
    )))
}

/// Parses a raw webhook body, keeping ids above 2^53 exact (serde_json reads integers as
/// 64-bit, never as floats).
pub fn parse_webhook_body(raw: &[u8]) -> Result<Value, NormalizeError> {
    serde_json::from_slice(raw).map_err(|e| NormalizeError::Invalid {
        entity: "webhook",
        field: "<body>".into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `products/update` body as Shopify sends it (ids above 2^53, local offsets).
    const PRODUCT_WEBHOOK: &str = r#"{
      "admin_graphql_api_id": "gid://shopify/Product/8079745990737254412",
      "body_html": "<p>Warm wool.</p>",
      "created_at": "2024-01-10T09:00:00-05:00",
      "handle": "wool-sweater",
      "id": 8079745990737254412,
      "product_type": "Sweaters",
      "published_at": "2024-01-10T09:00:00-05:00",
      "template_suffix": null,
      "title": "Wool Sweater",
      "updated_at": "2024-03-01T10:15:30-05:00",
      "vendor": "Acme",
      "status": "active",
      "published_scope": "web",
      "tags": "winter, wool,  winter",
      "options": [{"id": 1, "name": "Size", "position": 1, "values": ["M"]}],
      "images": [{"id": 5, "position": 1, "src": "https://cdn.example.com/ws.jpg", "alt": "Front"}],
      "variants": [
        {"admin_graphql_api_id": "gid://shopify/ProductVariant/9007199254740993",
         "barcode": "0123456789012", "compare_at_price": null, "created_at": "2024-01-10T09:00:00-05:00",
         "id": 9007199254740993, "inventory_policy": "deny", "position": 1, "price": "59.9",
         "product_id": 8079745990737254412, "sku": "WS-M", "taxable": true, "title": "M",
         "updated_at": "2024-03-01T10:15:30-05:00", "option1": "M", "option2": null, "option3": null,
         "image_id": null, "inventory_item_id": 9223372036854775807, "inventory_quantity": 4,
         "old_inventory_quantity": 4, "weight": 0.4, "weight_unit": "kg", "grams": 400}
      ],
      "image": null
    }"#;

    /// The same product as a GraphQL read returns it.
    fn product_graphql() -> Value {
        json!({
          "id": "gid://shopify/Product/8079745990737254412",
          "title": "Wool Sweater",
          "descriptionHtml": "<p>Warm wool.</p>",
          "vendor": "Acme",
          "productType": "Sweaters",
          "handle": "wool-sweater",
          "status": "ACTIVE",
          "tags": ["wool", "winter"],
          "updatedAt": "2024-03-01T15:15:30Z",
          "options": [{"name": "Size", "values": ["M"]}],
          "images": {"nodes": [{"url": "https://cdn.example.com/ws.jpg", "altText": "Front"}]},
          "variants": {"nodes": [{
            "id": "gid://shopify/ProductVariant/9007199254740993",
            "title": "M", "sku": "WS-M", "price": "59.90", "compareAtPrice": null,
            "barcode": "0123456789012", "updatedAt": "2024-03-01T15:15:30Z",
            "selectedOptions": [{"name": "Size", "value": "M"}],
            "inventoryItem": {"id": "gid://shopify/InventoryItem/9223372036854775807",
                              "measurement": {"weight": {"unit": "KILOGRAMS", "value": 0.4}}}
          }], "pageInfo": {"hasNextPage": false, "endCursor": null}}
        })
    }

    #[test]
    fn product_webhook_and_graphql_normalize_identically() {
        let body = parse_webhook_body(PRODUCT_WEBHOOK.as_bytes()).unwrap();
        let a = from_webhook("products/update", &body, None).unwrap();
        let b = product_from_graphql(&product_graphql(), &[]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.id, "8079745990737254412");
        assert_eq!(a.updated_at, "2024-03-01T15:15:30Z");
        let v = &a.body["variants"][0];
        // 2^53 + 1: a float would have rounded it to ...992.
        assert_eq!(v["id"], "9007199254740993");
        assert_eq!(v["inventory_item_id"], "9223372036854775807");
        assert_eq!(v["product_id"], "8079745990737254412");
        assert_eq!(v["price"], "59.90");
        assert_eq!(a.body["tags"], "winter, wool");
        assert_eq!(a.body["status"], "active");
        let keys: Vec<&str> = a
            .body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "title",
                "body_html",
                "vendor",
                "product_type",
                "handle",
                "status",
                "tags",
                "updated_at",
                "variants",
                "options",
                "images"
            ]
        );
    }

    #[test]
    fn a_webhook_with_more_variants_than_it_carries_is_partial() {
        use weft_platform::Platform as _;
        let mut body = parse_webhook_body(PRODUCT_WEBHOOK.as_bytes()).unwrap();
        let carried = body["variants"].as_array().unwrap().len();
        let gids = |n: usize| -> Value {
            (0..n)
                .map(|i| {
                    json!({"admin_graphql_api_id": format!("gid://shopify/ProductVariant/{i}"),
                               "updated_at": "2024-03-01T15:15:30.000Z"})
                })
                .collect()
        };
        // Every variant carried: whole.
        body["variant_gids"] = gids(carried);
        let whole = from_webhook("products/update", &body, None).unwrap();
        assert!(whole.body.get("variants_partial").is_none());
        assert!(crate::Shopify.lists_children("product", &whole.body));
        // 101 variants, 100 carried: the product's children are not all here.
        body["variant_gids"] = gids(carried + 1);
        let partial = from_webhook("products/update", &body, None).unwrap();
        assert_eq!(partial.body["variants_partial"], true);
        assert!(!crate::Shopify.lists_children("product", &partial.body));
        assert!(!crate::Shopify.lists_children("customer", &whole.body));
    }

    #[test]
    fn extra_variant_pages_are_appended() {
        let extra = vec![json!({
            "id": "gid://shopify/ProductVariant/2", "title": "L", "sku": "WS-L",
            "price": "61.00", "compareAtPrice": "70", "barcode": null,
            "updatedAt": "2024-03-01T15:15:30Z", "inventoryItem": {"id": "gid://shopify/InventoryItem/3"}
        })];
        let d = product_from_graphql(&product_graphql(), &extra).unwrap();
        let vs = d.body["variants"].as_array().unwrap();
        assert_eq!(vs.len(), 2);
        assert_eq!(vs[1]["compare_at_price"], "70.00");
        assert_eq!(vs[1]["barcode"], Value::Null);
    }

    #[test]
    fn inventory_level_webhook_and_graphql_match() {
        let raw = br#"{"inventory_item_id":271878346596884015,"location_id":53716844710,"available":7,
            "updated_at":"2020-09-03T08:44:10-04:00",
            "admin_graphql_api_id":"gid://shopify/InventoryLevel/87892394150?inventory_item_id=271878346596884015"}"#;
        let body = parse_webhook_body(raw).unwrap();
        let a = from_webhook("inventory_levels/update", &body, Some("WS-M")).unwrap();
        let g = json!({
            "id": "gid://shopify/InventoryLevel/87892394150?inventory_item_id=271878346596884015",
            "updatedAt": "2020-09-03T12:44:10Z",
            "quantities": [{"name": "available", "quantity": 7}],
            "item": {"id": "gid://shopify/InventoryItem/271878346596884015", "sku": "WS-M"},
        });
        let b = inventory_level_from_graphql(&g, Some("53716844710")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.id, "271878346596884015@53716844710");
        assert_eq!(a.kind, EntityKind::InventoryLevel);
        assert_eq!(a.body["available"], 7);
        // Shopify's sample sends `available: null` for an untracked level.
        let null_avail = json!({"inventory_item_id": 1, "location_id": 2, "available": null,
            "updated_at": "2020-09-03T08:44:10-04:00"});
        let d = inventory_level_from_webhook(&null_avail, None).unwrap();
        assert_eq!(d.body["available"], Value::Null);
        assert_eq!(d.body["sku"], Value::Null);
    }

    #[test]
    fn order_webhook_and_graphql_match() {
        let raw = br##"{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508",
          "name":"#9999","email":"jon@example.com","created_at":"2024-05-01T10:00:00+02:00",
          "updated_at":"2024-05-01T10:05:00+02:00","cancelled_at":null,"currency":"EUR",
          "financial_status":"partially_paid","total_price":"398.00",
          "customer":{"id":115310627314723954,"email":"jon@example.com","first_name":"Jon","last_name":"Doe",
             "admin_graphql_api_id":"gid://shopify/Customer/115310627314723954"},
          "line_items":[{"id":866550311766439020,"sku":"IPOD2008PINK","quantity":2,"price":"199.00",
             "variant_id":808950810,"product_id":632910392,"tax_lines":[],"discount_allocations":[]},
             {"id":141249953214522974,"sku":null,"quantity":1,"price":"0.00","variant_id":null,"product_id":null}]}"##;
        let body = parse_webhook_body(raw).unwrap();
        let a = from_webhook("orders/create", &body, None).unwrap();
        let g = json!({
            "id": "gid://shopify/Order/820982911946154508", "name": "#9999", "email": "jon@example.com",
            "createdAt": "2024-05-01T08:00:00Z", "updatedAt": "2024-05-01T08:05:00Z", "cancelledAt": null,
            "currencyCode": "EUR", "displayFinancialStatus": "PARTIALLY_PAID",
            "totalPriceSet": {"shopMoney": {"amount": "398.0", "currencyCode": "EUR"}},
            "customer": {"id": "gid://shopify/Customer/115310627314723954", "email": "jon@example.com",
                          "firstName": "Jon", "lastName": "Doe"},
            "lineItems": {"nodes": [
                {"id": "gid://shopify/LineItem/866550311766439020", "sku": "IPOD2008PINK", "quantity": 2,
                 "originalUnitPriceSet": {"shopMoney": {"amount": "199.0"}},
                 "variant": {"id": "gid://shopify/ProductVariant/808950810"},
                 "product": {"id": "gid://shopify/Product/632910392"}},
                {"id": "gid://shopify/LineItem/141249953214522974", "sku": null, "quantity": 1,
                 "originalUnitPriceSet": {"shopMoney": {"amount": "0.0"}}, "variant": null, "product": null}
            ]}
        });
        let b = order_from_graphql(&g).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.body["financial_status"], "partially_paid");
        assert_eq!(a.body["customer"]["id"], "115310627314723954");
        assert_eq!(a.body["line_items"][0]["variant_id"], "808950810");
        assert_eq!(a.body["line_items"][1]["variant_id"], Value::Null);
    }

    #[test]
    fn order_refunds_from_webhook_and_graphql() {
        let w = json!({"id": 1, "updated_at": "2024-05-01T08:05:00Z", "line_items": [],
            "refunds": [{"id": 509562969, "admin_graphql_api_id": "gid://shopify/Refund/509562969",
                "created_at": "2024-05-02T10:00:00Z", "note": "it broke", "restock": true,
                "refund_line_items": [{"line_item_id": 866550311766439020_u64, "quantity": 1,
                    "restock_type": "return", "location_id": 24826418, "subtotal": "199.00",
                    "line_item": {"id": 866550311766439020_u64, "sku": "IPOD2008PINK"}},
                    {"line_item_id": 866550311766439020_u64, "quantity": 1,
                    "restock_type": "no_restock", "location_id": null, "subtotal": "199.00",
                    "line_item": {"id": 866550311766439020_u64, "sku": "IPOD2008PINK"}}]}]});
        let a = order_from_webhook(&w).unwrap();
        let line = |restock: &str, loc: Value, subtotal: Value| {
            json!({"line_item_id": "866550311766439020", "sku": "IPOD2008PINK", "quantity": 1,
                   "restock_type": restock, "location_id": loc, "subtotal": subtotal})
        };
        assert_eq!(
            a.body["refunds"],
            json!([{"id": "509562969", "created_at": "2024-05-02T10:00:00Z", "note": "it broke",
                    "lines": [line("return", json!("24826418"), json!("199.00")),
                              line("no_restock", Value::Null, json!("199.00"))]}])
        );
        let node = |restock: &str, loc: Value| {
            json!({"quantity": 1, "restockType": restock, "location": loc,
                   "lineItem": {"id": "gid://shopify/LineItem/866550311766439020", "sku": "IPOD2008PINK"}})
        };
        let g = json!({"id": "gid://shopify/Order/1", "updatedAt": "2024-05-01T08:05:00Z",
        "lineItems": {"nodes": []},
        "refunds": [
            {"id": "gid://shopify/Refund/509562969", "createdAt": "2024-05-02T10:00:00Z",
             "note": "it broke", "refundLineItems": {"pageInfo": {"hasNextPage": false}, "nodes": [
                node("RETURN", json!({"id": "gid://shopify/Location/24826418"})),
                node("NO_RESTOCK", Value::Null)]}},
            // More lines than the page: left out, never journaled in part.
            {"id": "gid://shopify/Refund/7", "createdAt": "2024-05-02T11:00:00Z", "note": null,
             "refundLineItems": {"pageInfo": {"hasNextPage": true}, "nodes": [node("RETURN", Value::Null)]}}
        ]});
        let b = order_from_graphql(&g).unwrap();
        assert_eq!(
            b.body["refunds"],
            json!([{"id": "509562969", "created_at": "2024-05-02T10:00:00Z", "note": "it broke",
                    "lines": [line("return", json!("24826418"), Value::Null),
                              line("no_restock", Value::Null, Value::Null)]}])
        );
        // A body without refunds has no key (not read, as opposed to none).
        let mut bare = w.clone();
        bare.as_object_mut().unwrap().remove("refunds");
        assert!(
            order_from_webhook(&bare)
                .unwrap()
                .body
                .get("refunds")
                .is_none()
        );
    }

    #[test]
    fn customer_webhook_and_graphql_match() {
        let w = json!({"id": 706405506930370084_u64, "email": "bob@example.com", "first_name": "Bob",
            "last_name": "Norman", "phone": "+16136120707", "tags": "vip,  loyal",
            "updated_at": "2024-02-02T12:00:00-00:00", "accepts_marketing": false,
            "tax_exempt": true, "email_marketing_consent": {"state": "unsubscribed",
            "opt_in_level": "single_opt_in", "consent_updated_at": "2024-02-01T10:00:00-00:00"}});
        let g = json!({"id": "gid://shopify/Customer/706405506930370084",
            "defaultEmailAddress": {"emailAddress": "bob@example.com"}, "firstName": "Bob",
            "lastName": "Norman", "phone": "+16136120707", "tags": ["loyal", "vip"],
            "taxExempt": true, "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"},
            "updatedAt": "2024-02-02T12:00:00Z"});
        let a = from_webhook("customers/update", &w, None).unwrap();
        let b = customer_from_graphql(&g).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.body["tags"], "loyal, vip");
        assert_eq!(a.body["tax_exempt"], true);
        assert_eq!(a.body["email_marketing"], "unsubscribed");
        // The newer API names the state on the default email address.
        let mut g2 = g.clone();
        g2["emailMarketingConsent"] = Value::Null;
        g2["defaultEmailAddress"]["marketingState"] = json!("UNSUBSCRIBED");
        assert_eq!(customer_from_graphql(&g2).unwrap(), b);
    }

    #[test]
    fn rejects_bad_payloads() {
        assert_eq!(
            from_webhook("products/update", &json!({"title": "x"}), None),
            Err(NormalizeError::Missing {
                entity: "product",
                field: "id".into()
            })
        );
        assert!(matches!(
            from_webhook(
                "products/update",
                &json!({"id": 1.5, "updated_at": "2024-01-01T00:00:00Z"}),
                None
            ),
            Err(NormalizeError::Invalid { .. })
        ));
        assert!(matches!(
            from_webhook(
                "products/update",
                &json!({"id": 1, "updated_at": "yesterday"}),
                None
            ),
            Err(NormalizeError::Invalid { .. })
        ));
        assert_eq!(
            from_webhook("carts/update", &json!({}), None),
            Err(NormalizeError::UnknownTopic("carts/update".into()))
        );
        assert!(parse_webhook_body(b"{not json").is_err());
    }

    #[test]
    fn helpers() {
        assert_eq!(
            id_from_gid("gid://shopify/Product/123").as_deref(),
            Some("123")
        );
        assert_eq!(id_from_gid("gid://shopify/Product/abc"), None);
        assert_eq!(id_from_gid("123"), None);
        assert_eq!(money(&json!("5")).as_deref(), Some("5.00"));
        assert_eq!(money(&json!(5.5)).as_deref(), Some("5.50"));
        assert_eq!(money(&json!("-0.125")).as_deref(), Some("-0.125"));
        assert_eq!(money(&json!("007.1")).as_deref(), Some("7.10"));
        assert_eq!(money(&json!("abc")), None);
        assert_eq!(tags(&json!(" b ,a,,b")), "a, b");
        assert_eq!(
            timestamp("2020-09-03T08:44:10.250-04:00").as_deref(),
            Some("2020-09-03T12:44:10.250Z")
        );
        assert_eq!(id_string(&json!(-1)), None);
        assert_eq!(
            id_string(&json!("18446744073709551615")).as_deref(),
            Some("18446744073709551615")
        );
    }

    #[test]
    fn order_checkout_webhook_and_graphql_match() {
        let w = json!({"id": 42, "name": "#1001", "email": null, "created_at": "2026-01-01T10:00:00Z",
          "updated_at": "2026-01-01T10:00:00Z", "cancelled_at": null, "currency": "GBP",
          "financial_status": "paid", "total_price": "111.78", "subtotal_price": "88.20",
          "total_discounts": "9.80", "total_tax": "18.63", "taxes_included": false,
          "total_shipping_price_set": {"shop_money": {"amount": "4.95", "currency_code": "GBP"}},
          "customer": null, "note": "porter", "gateway": "shopify_payments",
          "payment_gateway_names": ["shopify_payments"],
          "discount_codes": [{"code": "TEN", "amount": "9.80", "type": "percentage"}],
          "billing_address": {"first_name": "Ada", "last_name": "L", "name": "Ada L",
            "company": "Engines", "address1": "1 Row", "address2": null, "city": "London",
            "province": null, "province_code": null, "country": "GB", "country_code": "GB",
            "zip": "SW1", "phone": null},
          "shipping_address": null,
          "shipping_lines": [{"id": 7, "title": "Standard", "code": "STANDARD", "price": "4.95",
            "tax_lines": [{"title": "VAT", "rate": 0.2, "price": "0.99"}]}],
          "line_items": [{"id": 1, "sku": "A", "quantity": 2, "price": "49.00", "variant_id": 3,
            "product_id": 4, "tax_lines": [{"title": "VAT", "rate": 0.2, "price": "17.64"}],
            "discount_allocations": [{"amount": "9.80", "discount_application_index": 0}]}]});
        let money = |a: &str| json!({"shopMoney": {"amount": a, "currencyCode": "GBP"}});
        let g = json!({"id": "gid://shopify/Order/42", "name": "#1001", "email": null,
          "createdAt": "2026-01-01T10:00:00Z", "updatedAt": "2026-01-01T10:00:00Z",
          "cancelledAt": null, "currencyCode": "GBP", "displayFinancialStatus": "PAID",
          "totalPriceSet": money("111.78"), "subtotalPriceSet": money("88.2"),
          "totalDiscountsSet": money("9.8"), "totalTaxSet": money("18.63"),
          "totalShippingPriceSet": money("4.95"), "taxesIncluded": false,
          "discountCodes": ["TEN"], "paymentGatewayNames": ["shopify_payments"], "note": "porter",
          "billingAddress": {"firstName": "Ada", "lastName": "L", "company": "Engines",
            "address1": "1 Row", "address2": null, "city": "London", "provinceCode": null,
            "countryCodeV2": "GB", "zip": "SW1", "phone": null},
          "shippingAddress": null, "customer": null,
          "shippingLines": {"nodes": [{"title": "Standard", "code": "STANDARD",
            "originalPriceSet": money("4.95"),
            "taxLines": [{"title": "VAT", "rate": 0.2, "priceSet": money("0.99")}]}]},
          "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/1", "sku": "A", "quantity": 2,
            "originalUnitPriceSet": money("49.0"),
            "taxLines": [{"title": "VAT", "rate": 0.2, "priceSet": money("17.64")}],
            "discountAllocations": [{"allocatedAmountSet": money("9.8")}],
            "variant": {"id": "gid://shopify/ProductVariant/3"},
            "product": {"id": "gid://shopify/Product/4"}}]}});
        let a = order_from_webhook(&w).unwrap();
        let b = order_from_graphql(&g).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.body["total_shipping"], "4.95");
        assert_eq!(a.body["discount_codes"], json!(["TEN"]));
        assert_eq!(
            a.body["line_items"][0]["discount_allocations"][0]["amount"],
            "9.80"
        );
        assert_eq!(a.body["billing_address"]["country_code"], "GB");
    }
}
