//! WooCommerce side: REST v3 documents as the connector journals them
//! (`docs/document-shapes.md` §1.3) to canonical records, and canonical records to WooCommerce
//! write commands (§3.3). Kept apart from the Shopify and NetSuite modules so the stock and
//! order mapping can follow the canonical model as it changes.
//!
//! - A simple product (or any non-variable product) and a variation are one canonical `variant`
//!   and `price` each (key: SKU); a variable product carries no SKU of its own and maps to
//!   nothing (its variations do). Web title = product `name` (a variation has none: `null`,
//!   which leaves the other side's alone). Prices: on sale, `price` = `sale_price` and
//!   `compare_at_price` = `regular_price`; else `price` = `regular_price`.
//! - Stock: WooCommerce keeps one figure per product or variation; its NetSuite location is
//!   the entry of config key `locations` named after the system (or `woocommerce`), e.g.
//!   `locations = { woocommerce = "1" }`. Writes are absolute `set-quantity` commands (the
//!   connector guards them by reading first).
//! - Customers both ways (WooCommerce creates them; weft updates them); orders one way, to
//!   NetSuite sales orders. The dispatcher qualifies their keys with the system's name
//!   (`woocommerce:42`), so they never meet a Shopify shop's ids.

use crate::canonical::{
    self, CustomerFields, LevelFields, OrderFields, OrderLine, PriceFields, VariantFields, money_lt,
};
use crate::config::Config;
use crate::orders::{Address, ShippingLine, sum};
use weft_plugin_sdk::json::{Node, parse};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The platform name.
pub const SYSTEM: &str = "woocommerce";

/// A product or variation, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Its id.
    pub id: Option<String>,
    /// Its parent (0 for a product).
    pub parent_id: u64,
    /// `simple`, `variable`, `variation`, ...
    pub kind: String,
    /// `publish`, `draft`, `private`, `pending`.
    pub status: String,
    /// Canonical fields, when it has a SKU and is not a variable product.
    pub fields: Option<(VariantFields, PriceFields)>,
}

/// Reads a product or variation document.
pub fn read_product(body: &Value) -> Result<Product, ItemError> {
    let p = Node::root("product", body);
    let kind = p.opt_str("type")?.unwrap_or("simple").to_owned();
    let status = p.opt_str("status")?.unwrap_or("publish").to_owned();
    let parent_id = p.opt_i64("parent_id")?.unwrap_or(0).max(0) as u64;
    let sku = p.opt_str("sku")?;
    let fields = match sku {
        Some(sku) if kind != "variable" => {
            let regular = p.opt_decimal("regular_price")?;
            let sale = p.opt_decimal("sale_price")?;
            let (price, compare_at_price) = match (&regular, &sale) {
                (Some(r), Some(s)) if money_lt(s, r) => (Some(s.clone()), Some(r.clone())),
                (None, Some(s)) => (Some(s.clone()), None),
                _ => (regular.clone(), None),
            };
            Some((
                VariantFields {
                    sku: sku.to_owned(),
                    title: if kind == "variation" {
                        None
                    } else {
                        p.opt_str("name")?.map(str::to_owned)
                    },
                    description: p.opt_str("description")?.map(str::to_owned),
                    vendor: None,
                    barcode: None,
                    active: status == "publish",
                    ..VariantFields::default()
                },
                PriceFields {
                    sku: sku.to_owned(),
                    price,
                    compare_at_price,
                    currencies: None,
                },
            ))
        }
        _ => None,
    };
    Ok(Product {
        id: p.opt_id("id")?,
        parent_id,
        kind,
        status,
        fields,
    })
}

/// The NetSuite location of `system`'s stock (config `locations`, keyed by the system's name
/// or `woocommerce`).
pub fn location<'a>(cfg: &'a Config, system: &str) -> Option<&'a String> {
    cfg.to_netsuite_location
        .get(system)
        .or_else(|| cfg.to_netsuite_location.get(SYSTEM))
}

/// Reads an inventory-level document: `Ok(Err(reason))` when it is not synced.
pub fn read_level(
    cfg: &Config,
    system: &str,
    body: &Value,
) -> Result<Result<(LevelFields, String), String>, ItemError> {
    let l = Node::root("inventory_level", body);
    let id = l.id("id")?;
    let Some(sku) = l.opt_str("sku")? else {
        return Ok(Err(format!("product {id} has no sku")));
    };
    let Some(loc) = location(cfg, system) else {
        return Ok(Err(format!(
            "config key `locations` names no NetSuite location for {system} (e.g. `{SYSTEM} = \"1\"`)"
        )));
    };
    Ok(Ok((
        LevelFields {
            sku: sku.to_owned(),
            location: loc.clone(),
            quantity: l.opt_i64("stock_quantity")?.unwrap_or(0),
        },
        id,
    )))
}

/// Reads a customer document into its id and canonical fields.
pub fn read_customer(body: &Value) -> Result<(String, CustomerFields), ItemError> {
    let c = Node::root("customer", body);
    let phone = match c.opt_obj("billing")? {
        Some(b) => b.opt_str("phone")?.map(str::to_owned),
        None => None,
    };
    Ok((
        c.id("id")?,
        CustomerFields {
            email: c.opt_str("email")?.map(str::to_owned),
            first_name: c.opt_str("first_name")?.map(str::to_owned),
            last_name: c.opt_str("last_name")?.map(str::to_owned),
            phone,
            ..CustomerFields::default()
        },
    ))
}

fn read_address(o: &Node<'_>, field: &str) -> Result<Option<Address>, ItemError> {
    let Some(a) = o.opt_obj(field)? else {
        return Ok(None);
    };
    let t = |f: &str| -> Result<Option<String>, ItemError> { Ok(a.opt_str(f)?.map(str::to_owned)) };
    let addr = Address {
        first_name: t("first_name")?,
        last_name: t("last_name")?,
        company: t("company")?,
        address1: t("address_1")?,
        address2: t("address_2")?,
        city: t("city")?,
        province_code: t("state")?,
        country_code: t("country")?,
        zip: t("postcode")?,
        phone: t("phone")?,
    };
    Ok((addr != Address::default()).then_some(addr))
}

fn overflow(what: &str) -> ItemError {
    ItemError::InvalidInput(format!("{what}: amount out of range"))
}

/// Reads an order document into its id and canonical fields.
pub fn read_order(body: &Value) -> Result<(String, OrderFields), ItemError> {
    let o = Node::root("order", body);
    let customer = match o.opt_i64("customer_id")? {
        Some(c) if c > 0 => Some(c.to_string()),
        _ => None,
    };
    let mut lines = Vec::new();
    let mut subtotals = Vec::new();
    for li in o.array("line_items")? {
        let sku = li.opt_str("sku")?.ok_or_else(|| {
            ItemError::InvalidInput(format!(
                "{}.sku: empty; every line must name a sku to become a netsuite item",
                li.path()
            ))
        })?;
        let subtotal = li.opt_decimal("subtotal")?.unwrap_or_else(|| "0.00".into());
        let total = li.opt_decimal("total")?.unwrap_or_else(|| subtotal.clone());
        let discount = crate::orders::sub(&subtotal, &total).ok_or_else(|| overflow(li.path()))?;
        lines.push(OrderLine {
            sku: sku.to_owned(),
            current_quantity: None,
            quantity: li.i64("quantity")?,
            price: li.decimal("price")?,
            tax: li
                .opt_decimal("total_tax")?
                .unwrap_or_else(|| "0.00".into()),
            tax_lines: Vec::new(),
            discount,
        });
        subtotals.push(subtotal);
    }
    let mut shipping = Vec::new();
    for s in o.opt_array("shipping_lines")? {
        shipping.push(ShippingLine {
            title: s.opt_str("method_title")?.map(str::to_owned),
            code: s.opt_str("method_id")?.map(str::to_owned),
            price: s.opt_decimal("total")?.unwrap_or_else(|| "0.00".into()),
            tax_lines: Vec::new(),
        });
    }
    let mut codes = Vec::new();
    for c in o.opt_array("coupon_lines")? {
        if let Some(code) = c.opt_str("code")? {
            codes.push(code.to_owned());
        }
    }
    let status = o.opt_str("status")?.unwrap_or("pending");
    let paid = o.opt_str("date_paid_gmt")?.is_some() || o.opt_str("date_paid")?.is_some();
    let financial_status = match status {
        "refunded" => "refunded",
        _ if paid => "paid",
        _ => "pending",
    };
    let created = o
        .opt_str("date_created_gmt")?
        .ok_or_else(|| ItemError::InvalidInput("order.date_created_gmt: missing".into()))?;
    let number = o.opt_str("number")?.map(str::to_owned);
    let id = o.id("id")?;
    let fields = OrderFields {
        name: format!("#{}", number.unwrap_or_else(|| id.clone())),
        email: match o.opt_obj("billing")? {
            Some(b) => b.opt_str("email")?.map(str::to_owned),
            None => None,
        },
        customer,
        created_at: gmt(created),
        currency: o.str("currency")?.to_owned(),
        total_price: o.decimal("total")?,
        financial_status: Some(financial_status.to_owned()),
        cancelled: status == "cancelled",
        subtotal: Some(sum(subtotals.iter().map(String::as_str)).ok_or_else(|| overflow("order"))?),
        shipping_total: Some(
            o.opt_decimal("shipping_total")?
                .unwrap_or_else(|| "0.00".into()),
        ),
        tax_total: Some(o.opt_decimal("total_tax")?.unwrap_or_else(|| "0.00".into())),
        discount_total: Some(
            o.opt_decimal("discount_total")?
                .unwrap_or_else(|| "0.00".into()),
        ),
        taxes_included: o.opt_bool("prices_include_tax")?.unwrap_or(false),
        billing_address: read_address(&o, "billing")?,
        shipping_address: read_address(&o, "shipping")?,
        shipping_lines: shipping,
        discount_codes: codes,
        payment_gateway: o.opt_str("payment_method")?.map(str::to_owned),
        note: o.opt_str("customer_note")?.map(str::to_owned),
        lines,
        location: None,
    };
    Ok((id, fields))
}

fn gmt(s: &str) -> String {
    if s.ends_with('Z') || s.contains('+') {
        s.to_owned()
    } else {
        format!("{s}Z")
    }
}

/// Maps one WooCommerce document to canonical records.
/// The variant fields this mapping does not map for WooCommerce (options, catalog fields): its
/// records leave them out (not observed), and its writes neither compare nor write them.
pub const UNMAPPED_VARIANT_FIELDS: [&str; 11] = [
    "product",
    "option_values",
    "product_type",
    "category",
    "tags",
    "weight",
    "weight_unit",
    "images",
    "seo_title",
    "seo_description",
    "custom",
];

/// `v` without the fields of [`UNMAPPED_VARIANT_FIELDS`].
fn mapped_view(v: &VariantFields) -> VariantFields {
    VariantFields {
        sku: v.sku.clone(),
        title: v.title.clone(),
        description: v.description.clone(),
        vendor: v.vendor.clone(),
        barcode: v.barcode.clone(),
        active: v.active,
        ..VariantFields::default()
    }
}

pub fn to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    let body = parse(&format!("woocommerce {} {}", doc.kind, doc.id), &doc.body)?;
    Ok(match doc.kind {
        EntityKind::Product | EntityKind::Variant => {
            let product = read_product(&body)?;
            match product.fields {
                Some((variant, price)) => ToCanonicalOutcome::Mapped(vec![
                    canonical::record_without(
                        EntityKind::Variant,
                        &variant.sku,
                        &variant,
                        &UNMAPPED_VARIANT_FIELDS,
                    ),
                    canonical::record(EntityKind::Price, &price.sku, &price),
                ]),
                None if product.kind == "variable" => ToCanonicalOutcome::Skipped(format!(
                    "variable product {}: its variations carry the skus",
                    doc.id
                )),
                None => ToCanonicalOutcome::Skipped(format!("product {} has no sku", doc.id)),
            }
        }
        EntityKind::InventoryLevel => match read_level(cfg, &doc.system, &body)? {
            Ok((level, _)) => ToCanonicalOutcome::Mapped(vec![canonical::record(
                EntityKind::InventoryLevel,
                &crate::shopify::level_key(&level),
                &level,
            )]),
            Err(reason) => ToCanonicalOutcome::Skipped(reason),
        },
        EntityKind::Customer => {
            let (id, fields) = read_customer(&body)?;
            ToCanonicalOutcome::Mapped(vec![canonical::record_without(
                EntityKind::Customer,
                &id,
                &fields,
                canonical::BEYOND_CONTACT,
            )])
        }
        EntityKind::Order => {
            let (id, mut fields) = read_order(&body)?;
            // WooCommerce keeps one stock figure per product: its orders draw on the NetSuite
            // location `locations` maps the system to.
            fields.location = cfg.order_location(Some(&doc.system));
            ToCanonicalOutcome::Mapped(vec![canonical::record(EntityKind::Order, &id, &fields)])
        }
        EntityKind::Fulfillment => ToCanonicalOutcome::Skipped(
            "fulfilments flow from netsuite to the storefront only".into(),
        ),
        EntityKind::Refund => {
            ToCanonicalOutcome::Skipped("refunds are read from shopify orders only".into())
        }
        EntityKind::Price => {
            return Err(ItemError::Unsupported(
                "woocommerce price documents: prices arrive inside their product".into(),
            ));
        }
    })
}

fn parse_current(req: &WriteRequest) -> Result<Option<Value>, ItemError> {
    crate::canonical::current_doc(req, SYSTEM)
}

fn command(kind: EntityKind, op: WriteOp, target_id: Option<String>, body: Value) -> WriteCommand {
    crate::canonical::write_command(SYSTEM, kind, op, target_id, body)
}

/// A product (or variation) update, or a simple product's creation, for a canonical `variant`
/// or `price` record.
pub fn product_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let current = parse_current(req)?.map(|c| read_product(&c)).transpose()?;
    let sku = &req.record.key;
    let have = current.as_ref().and_then(|p| p.fields.clone());
    let target_id = current
        .as_ref()
        .and_then(|p| p.id.clone())
        .or_else(|| req.target_id.clone());
    let variation = current.as_ref().is_some_and(|p| p.kind == "variation");
    let mut body = Map::new();
    body.insert("sku".into(), json!(sku));
    if let Some(p) = current.as_ref().filter(|p| p.parent_id > 0) {
        body.insert("parent_id".into(), json!(p.parent_id));
    }
    match req.record.kind {
        EntityKind::Variant => {
            let fields: VariantFields = canonical::parse(&req.record)?;
            if let Some((h, _)) = &have {
                let want = VariantFields {
                    title: if variation {
                        h.title.clone()
                    } else {
                        fields.title.clone().or_else(|| h.title.clone())
                    },
                    vendor: h.vendor.clone(),
                    barcode: h.barcode.clone(),
                    ..mapped_view(&fields)
                };
                if canonical::same(&want, &mapped_view(h)) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            if !variation {
                match &fields.title {
                    Some(t) => {
                        body.insert("name".into(), json!(t));
                    }
                    None if current.is_none() => {
                        body.insert("name".into(), json!(sku));
                    }
                    None => {}
                }
            }
            body.insert(
                "description".into(),
                json!(fields.description.clone().unwrap_or_default()),
            );
            let status = match (fields.active, current.as_ref().map(|p| p.status.as_str())) {
                (true, _) => "publish",
                (false, Some(s @ ("private" | "pending" | "draft"))) => s,
                (false, _) => {
                    if variation {
                        "private"
                    } else {
                        "draft"
                    }
                }
            };
            body.insert("status".into(), json!(status));
        }
        EntityKind::Price => {
            let fields =
                canonical::parse::<PriceFields>(&req.record)?.normalized(&req.record.key)?;
            if let Some((_, h)) = &have {
                let want = PriceFields {
                    price: fields.price.clone().or_else(|| h.price.clone()),
                    // This storefront keeps no other currency: nothing to write for them.
                    currencies: h.currencies.clone(),
                    ..fields.clone()
                };
                if canonical::same(&want, h) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            match (&fields.price, &fields.compare_at_price) {
                (Some(p), Some(c)) if money_lt(p, c) => {
                    body.insert("regular_price".into(), json!(c));
                    body.insert("sale_price".into(), json!(p));
                }
                (Some(p), _) => {
                    body.insert("regular_price".into(), json!(p));
                    body.insert("sale_price".into(), json!(""));
                }
                (None, _) => {}
            }
        }
        other => {
            return Err(ItemError::Unsupported(format!(
                "woocommerce product writes from canonical {other}"
            )));
        }
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Product,
        WriteOp::Upsert,
        target_id,
        Value::Object(body),
    )]))
}

/// A `stock_quantity` set for a canonical `inventory-level`.
pub fn level_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: LevelFields = canonical::parse(&req.record)?;
    if location(cfg, &req.target) != Some(&fields.location) {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "netsuite location {} is not {}'s location in config key `locations`",
            fields.location, req.target
        )));
    }
    let mut target = req.target_id.clone();
    let mut parent = 0;
    if let Some(c) = parse_current(req)? {
        let l = Node::root("inventory_level", &c);
        if let Some(id) = l.opt_id("id")? {
            target = Some(id);
        }
        parent = l.opt_i64("parent_id")?.unwrap_or(0);
        if l.opt_i64("stock_quantity")? == Some(fields.quantity) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let mut body = json!({"sku": fields.sku, "stock_quantity": fields.quantity});
    if parent > 0 {
        body["parent_id"] = json!(parent);
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::InventoryLevel,
        WriteOp::SetQuantity,
        target,
        body,
    )]))
}

/// A customer update for a canonical `customer` (WooCommerce creates customers).
pub fn customer_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields = canonical::parse::<CustomerFields>(&req.record)?.contact();
    if let Some(c) = parse_current(req)? {
        let (_, have) = read_customer(&c)?;
        if canonical::same(&fields, &have) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let Some(id) = req.target_id.clone() else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "customer {} is not in woocommerce; customers are created there",
            req.record.key
        )));
    };
    let mut body = json!({
        "email": fields.email,
        "first_name": fields.first_name.clone().unwrap_or_default(),
        "last_name": fields.last_name.clone().unwrap_or_default(),
    });
    if let Some(p) = &fields.phone {
        body["billing"] = json!({"phone": p});
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Customer,
        WriteOp::Upsert,
        Some(id),
        body,
    )]))
}

/// The removal of a record another system deleted (a request whose `deleted` is true, under
/// the store's `delete` policy): one `delete` command for `req.target_id`, the id weft holds
/// for the record in WooCommerce (a simple product's or a variation's own id for a variant,
/// as [`product_write`] writes it; the customer's id for a customer).
///
/// - **variant** (and **product**): the body carries the SKU and, for a variation, its
///   `parent_id`, read from the current document (the connector deletes a variation through
///   its product, `products/{parent}/variations/{id}`, and trashes a simple product). Without
///   a current document the body carries the record's SKU alone, and the connector finds the
///   parent itself. A variant whose current document is a variable product (its variations
///   carry the SKUs), or another SKU, is skipped: removing it would remove something else.
/// - **customer**: `{}`.
///
/// Skipped: another kind, no target id, or one that is not a WooCommerce id.
pub fn delete_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let kind = req.record.kind;
    let what = format!("{} {}", kind.as_str(), req.record.key);
    if !matches!(
        kind,
        EntityKind::Variant | EntityKind::Product | EntityKind::Customer
    ) {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "woocommerce removes products, variations and customers only, not {what}"
        )));
    }
    let Some(target_id) = req.target_id.as_deref() else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "{what}: weft knows no woocommerce id for it"
        )));
    };
    if target_id.is_empty() || !target_id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "{what}: {target_id} is not a woocommerce id"
        )));
    }
    let mut body = Map::new();
    match kind {
        EntityKind::Customer => {
            if let Some(c) = parse_current(req)? {
                let held = Node::root("customer", &c).opt_id("id")?;
                if held.as_deref().is_some_and(|id| id != target_id) {
                    return Ok(FromCanonicalOutcome::Skipped(format!(
                        "{what}: woocommerce customer {target_id} is held as customer {}",
                        held.unwrap_or_default()
                    )));
                }
            }
        }
        _ => match parse_current(req)?.map(|c| read_product(&c)).transpose()? {
            Some(p) => {
                if let Some(id) = p.id.as_deref().filter(|id| *id != target_id) {
                    return Ok(FromCanonicalOutcome::Skipped(format!(
                        "{what}: woocommerce product {target_id} is held as product {id}"
                    )));
                }
                let sku = p.fields.as_ref().map(|(v, _)| v.sku.clone());
                if kind == EntityKind::Variant {
                    if p.kind == "variable" {
                        return Ok(FromCanonicalOutcome::Skipped(format!(
                            "{what}: woocommerce product {target_id} is a variable product, \
                             whose variations carry the skus; it is not removed for one of them"
                        )));
                    }
                    if let Some(s) = sku
                        .as_deref()
                        .filter(|s| !s.eq_ignore_ascii_case(&req.record.key))
                    {
                        return Ok(FromCanonicalOutcome::Skipped(format!(
                            "{what}: woocommerce product {target_id} now has sku {s}"
                        )));
                    }
                }
                if let Some(s) = sku {
                    body.insert("sku".into(), json!(s));
                }
                if p.parent_id > 0 {
                    body.insert("parent_id".into(), json!(p.parent_id));
                }
            }
            None if kind == EntityKind::Variant => {
                body.insert("sku".into(), json!(req.record.key));
            }
            None => {}
        },
    }
    Ok(match req.delete_command(&Value::Object(body)) {
        Some(c) => FromCanonicalOutcome::Commands(vec![c]),
        None => {
            FromCanonicalOutcome::Skipped(format!("{what}: weft knows no woocommerce id for it"))
        }
    })
}

/// Canonical record → WooCommerce commands.
pub fn from_canonical(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    match req.record.kind {
        EntityKind::Variant | EntityKind::Price => product_write(req),
        EntityKind::InventoryLevel => level_write(cfg, req),
        EntityKind::Customer => customer_write(req),
        EntityKind::Order => Ok(FromCanonicalOutcome::Skipped(
            "orders flow from woocommerce to netsuite only".into(),
        )),
        EntityKind::Fulfillment => Ok(FromCanonicalOutcome::Skipped(
            "fulfilments are not written to WooCommerce yet (it has no shipment API of its own)"
                .into(),
        )),
        EntityKind::Refund => Ok(FromCanonicalOutcome::Skipped(
            "refunds flow from the storefront to netsuite only".into(),
        )),
        EntityKind::Product => Err(ItemError::Unsupported(
            "canonical product records: this mapper syncs variants and prices".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sale_prices_map_to_price_and_compare_at() {
        let p = read_product(&json!({"id": 12, "type": "simple", "status": "publish",
            "sku": "TEE", "name": "Tee", "regular_price": "20", "sale_price": "15.5"}))
        .unwrap();
        let (v, price) = p.fields.unwrap();
        assert_eq!(v.title.as_deref(), Some("Tee"));
        assert_eq!(price.price.as_deref(), Some("15.50"));
        assert_eq!(price.compare_at_price.as_deref(), Some("20.00"));
        let var = read_product(&json!({"id": 13, "type": "variation", "parent_id": 11,
            "sku": "TEE-S", "regular_price": "9", "sale_price": "", "status": "publish"}))
        .unwrap();
        assert_eq!(var.parent_id, 11);
        let (v, price) = var.fields.unwrap();
        assert_eq!(v.title, None);
        assert_eq!(price.compare_at_price, None);
        let variable = read_product(&json!({"id": 11, "type": "variable", "sku": "TEE"})).unwrap();
        assert!(variable.fields.is_none());
    }

    #[test]
    fn orders_read_lines_totals_and_customer() {
        let (id, o) = read_order(&json!({
            "id": 40, "number": "40", "status": "processing", "currency": "USD",
            "date_created_gmt": "2026-01-02T03:04:05", "date_paid_gmt": "2026-01-02T03:04:05",
            "total": "30.00", "total_tax": "0.00", "shipping_total": "0.00",
            "discount_total": "0.00", "customer_id": 2, "prices_include_tax": false,
            "billing": {"email": "a@b.c", "first_name": "A"},
            "line_items": [{"sku": "TEE", "quantity": 2, "price": 15, "subtotal": "30.00",
                "total": "30.00", "total_tax": "0.00"}]
        }))
        .unwrap();
        assert_eq!(id, "40");
        assert_eq!(o.name, "#40");
        assert_eq!(o.customer.as_deref(), Some("2"));
        assert_eq!(o.created_at, "2026-01-02T03:04:05Z");
        assert_eq!(o.financial_status.as_deref(), Some("paid"));
        assert_eq!(o.lines[0].price, "15.00");
        assert_eq!(o.subtotal.as_deref(), Some("30.00"));
        assert!(crate::orders::totals_reconcile(&o));
    }
}
