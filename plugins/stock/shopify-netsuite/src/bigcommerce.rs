//! BigCommerce side: V3 catalog and customer documents and V2 orders as the connector journals
//! them (`docs/document-shapes.md` §1.5) to canonical records, and canonical records to
//! BigCommerce write commands (§3.4). Kept apart like the WooCommerce module.
//!
//! - Every variant of a product that has a SKU is one canonical `variant` and `price` (key:
//!   SKU); a product with option variants is their container, so its base variant (which
//!   BigCommerce hides once a product has options) maps to nothing. Web title = product
//!   `name`; `active` = product `is_visible`; price = the variant's own `price`, else the
//!   product's (`calculated_price` says which applies). BigCommerce's description, brand, UPC,
//!   sale and retail prices are not read by the connector's simulator shape: those canonical
//!   fields are left out of its records (not observed) and never written.
//! - Stock per inventory location: config `locations` maps a BigCommerce location id to a
//!   NetSuite one, keyed `<system>:<id>`, `bigcommerce:<id>` or the bare id (`"1" = "1"`; a
//!   store that also has a Shopify shop uses the qualified form). Writes are absolute
//!   `set-quantity` commands on `<variant_id>@<location_id>` (the connector reads, compares and
//!   sets).
//! - Customers both ways (BigCommerce creates them; weft updates them); orders one way, to
//!   NetSuite sales orders, committed at the NetSuite location of BigCommerce's default
//!   location (1: where BigCommerce takes an order's stock), else `order_location`. Their keys
//!   are qualified with the system's name (`bigcommerce:100`), like WooCommerce's.
//! - Fulfilments are not written: the connector has no shipment writes.

use crate::canonical::{
    self, CustomerFields, LevelFields, OrderFields, OrderLine, PriceFields, VariantFields,
};
use crate::config::Config;
use crate::orders::{Address, ShippingLine, sum};
use weft_plugin_sdk::json::{Node, decimal_to_number, parse};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The platform name.
pub const SYSTEM: &str = "bigcommerce";

/// BigCommerce's default inventory location, where it takes an order's stock.
pub const DEFAULT_LOCATION: &str = "1";

/// The variant fields this mapping does not map for BigCommerce: its records leave them out
/// (not observed), and its writes neither compare nor write them.
pub const UNMAPPED_VARIANT_FIELDS: [&str; 14] = [
    "description",
    "vendor",
    "barcode",
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

/// One variant of a product, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The variant's id.
    pub id: Option<String>,
    /// Whether it is the product's base variant.
    pub base: bool,
    /// Whether it has its own price (else it takes the product's).
    pub own_price: bool,
    /// Its canonical fields.
    pub variant: VariantFields,
    /// Its price.
    pub price: PriceFields,
}

/// A product with its variants, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The product's id.
    pub id: Option<String>,
    /// The variants that map (a SKU each).
    pub variants: Vec<Variant>,
}

/// Reads a product document (with `variants`).
pub fn read_product(body: &Value) -> Result<Product, ItemError> {
    let p = Node::root("product", body);
    let name = p.opt_str("name")?.map(str::to_owned);
    let visible = p.opt_bool("is_visible")?.unwrap_or(true);
    let product_price = p.opt_decimal("price")?;
    let base_id = p.opt_id("base_variant_id")?;
    let listed = p.opt_array("variants")?;
    let has_options = listed
        .iter()
        .any(|v| v.opt_id("id").ok().flatten() != base_id);
    let mut variants = Vec::new();
    for v in listed {
        let id = v.opt_id("id")?;
        let base = id.is_some() && id == base_id;
        if base && has_options {
            continue;
        }
        let Some(sku) = v.opt_str("sku")? else {
            continue;
        };
        let own = v.opt_decimal("price")?;
        let price = match &own {
            Some(p) => Some(p.clone()),
            None => v.opt_decimal("calculated_price")?.or(product_price.clone()),
        };
        variants.push(Variant {
            id,
            base,
            own_price: own.is_some(),
            variant: VariantFields {
                sku: sku.to_owned(),
                title: name.clone(),
                active: visible,
                ..VariantFields::default()
            },
            price: PriceFields {
                sku: sku.to_owned(),
                price,
                compare_at_price: None,
                currencies: None,
            },
        });
    }
    // A product read without its variants: its own SKU is its base variant's.
    if p.get("variants")?.is_none()
        && let Some(sku) = p.opt_str("sku")?
    {
        variants.push(Variant {
            id: base_id,
            base: true,
            own_price: false,
            variant: VariantFields {
                sku: sku.to_owned(),
                title: name,
                active: visible,
                ..VariantFields::default()
            },
            price: PriceFields {
                sku: sku.to_owned(),
                price: product_price,
                compare_at_price: None,
                currencies: None,
            },
        });
    }
    Ok(Product {
        id: p.opt_id("id")?,
        variants,
    })
}

/// The NetSuite location of BigCommerce location `location` of `system` (config `locations`,
/// keyed `<system>:<id>`, `bigcommerce:<id>` or the bare id).
pub fn to_netsuite_location<'a>(
    cfg: &'a Config,
    system: &str,
    location: &str,
) -> Option<&'a String> {
    let m = &cfg.to_netsuite_location;
    m.get(&format!("{system}:{location}"))
        .or_else(|| m.get(&format!("{SYSTEM}:{location}")))
        .or_else(|| m.get(location))
}

/// The BigCommerce location of `system` that NetSuite location `netsuite` is mapped from.
pub fn to_bigcommerce_location(cfg: &Config, system: &str, netsuite: &str) -> Option<String> {
    let key = cfg.to_shopify_location.get(netsuite)?;
    let id = key
        .strip_prefix(&format!("{system}:"))
        .or_else(|| key.strip_prefix(&format!("{SYSTEM}:")))
        .unwrap_or(key);
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
}

/// Reads an inventory-level document: `Ok(Err(reason))` when it is not synced.
pub fn read_level(
    cfg: &Config,
    system: &str,
    body: &Value,
) -> Result<Result<LevelFields, String>, ItemError> {
    let l = Node::root("inventory_level", body);
    let id = l.id("id")?;
    let Some(sku) = l.opt_str("sku")? else {
        return Ok(Err(format!("variant of level {id} has no sku")));
    };
    let location = l.id("location_id")?;
    let Some(ns) = to_netsuite_location(cfg, system, &location) else {
        return Ok(Err(format!(
            "bigcommerce location {location} is not in config key `locations` (e.g. `\"{location}\" = \"1\"`)"
        )));
    };
    Ok(Ok(LevelFields {
        sku: sku.to_owned(),
        location: ns.clone(),
        quantity: l.opt_i64("available")?.unwrap_or(0),
    }))
}

/// Reads a customer document into its id and canonical fields.
pub fn read_customer(body: &Value) -> Result<(String, CustomerFields), ItemError> {
    let c = Node::root("customer", body);
    let t = |f: &str| -> Result<Option<String>, ItemError> { Ok(c.opt_str(f)?.map(str::to_owned)) };
    Ok((
        c.id("id")?,
        CustomerFields {
            email: t("email")?,
            first_name: t("first_name")?,
            last_name: t("last_name")?,
            phone: t("phone")?,
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
        address1: t("street_1")?,
        address2: t("street_2")?,
        city: t("city")?,
        province_code: t("state")?,
        country_code: t("country_iso2")?,
        zip: t("zip")?,
        phone: t("phone")?,
    };
    Ok((addr != Address::default()).then_some(addr))
}

fn overflow(what: &str) -> ItemError {
    ItemError::InvalidInput(format!("{what}: amount out of range"))
}

/// V2 order statuses that are not (or no longer) a sale: 4 Refunded, 5 Cancelled,
/// 6 Declined. (0 Incomplete is not an order yet.)
fn cancelled_status(status: i64) -> bool {
    matches!(status, 4..=6)
}

/// Reads an order document (V2, lines in `line_items`) into its id and canonical fields;
/// `Ok(None)` for an incomplete order (status 0: the checkout was not finished).
pub fn read_order(body: &Value) -> Result<Option<(String, OrderFields)>, ItemError> {
    let o = Node::root("order", body);
    let status = o.opt_i64("status_id")?.unwrap_or(1);
    if status == 0 {
        return Ok(None);
    }
    let customer = o.opt_id("customer_id")?.filter(|c| c != "0");
    let mut lines = Vec::new();
    let mut subtotals = Vec::new();
    for li in o.array("line_items")? {
        let sku = li.opt_str("sku")?.ok_or_else(|| {
            ItemError::InvalidInput(format!(
                "{}.sku: empty; every line must name a sku to become a netsuite item",
                li.path()
            ))
        })?;
        let quantity = li.i64("quantity")?;
        let price = li.decimal("price_ex_tax")?;
        let total_ex = match li.opt_decimal("total_ex_tax")? {
            Some(t) => t,
            None => crate::orders::times(&price, quantity).ok_or_else(|| overflow(li.path()))?,
        };
        let total_inc = li
            .opt_decimal("total_inc_tax")?
            .unwrap_or_else(|| total_ex.clone());
        let tax = crate::orders::sub(&total_inc, &total_ex).ok_or_else(|| overflow(li.path()))?;
        let mut discounts = Vec::new();
        for d in li.opt_array("applied_discounts")? {
            discounts.push(d.decimal("amount")?);
        }
        let discount =
            sum(discounts.iter().map(String::as_str)).ok_or_else(|| overflow(li.path()))?;
        subtotals.push(crate::orders::times(&price, quantity).ok_or_else(|| overflow(li.path()))?);
        lines.push(OrderLine {
            sku: sku.to_owned(),
            current_quantity: None,
            quantity,
            price,
            tax,
            tax_lines: Vec::new(),
            discount,
        });
    }
    let zero = || "0.00".to_owned();
    let shipping_total = o.opt_decimal("shipping_cost_ex_tax")?.unwrap_or_else(zero);
    let tax_total = match o.opt_decimal("total_tax")? {
        Some(t) => t,
        None => sum(lines.iter().map(|l| l.tax.as_str())).ok_or_else(|| overflow("order"))?,
    };
    let discount_total = match o.opt_decimal("discount_amount")? {
        Some(d) => d,
        None => sum(lines.iter().map(|l| l.discount.as_str())).ok_or_else(|| overflow("order"))?,
    };
    let shipping_lines = if shipping_total != "0.00" {
        vec![ShippingLine {
            title: o.opt_str("shipping_method")?.map(str::to_owned),
            code: None,
            price: shipping_total.clone(),
            tax_lines: Vec::new(),
        }]
    } else {
        Vec::new()
    };
    let mut codes = Vec::new();
    for c in o.opt_array("coupons")? {
        if let Some(code) = c.opt_str("code")? {
            codes.push(code.to_owned());
        }
    }
    let financial_status = match (status, o.opt_str("payment_status")?) {
        (4, _) => "refunded".to_owned(),
        (14, _) => "partially_refunded".to_owned(),
        (_, Some("captured" | "paid")) => "paid".to_owned(),
        (_, Some(s)) if !s.is_empty() => s.to_owned(),
        (1 | 7, _) => "pending".to_owned(),
        _ => "paid".to_owned(),
    };
    let id = o.id("id")?;
    let created = o
        .opt_str("date_created")?
        .ok_or_else(|| ItemError::InvalidInput("order.date_created: missing".into()))?;
    let email = match o.opt_obj("billing_address")? {
        Some(b) => b.opt_str("email")?.map(str::to_owned),
        None => None,
    };
    let fields = OrderFields {
        name: format!("#{id}"),
        email,
        customer,
        created_at: created.to_owned(),
        currency: o
            .opt_str("currency_code")?
            .or(o.opt_str("default_currency_code")?)
            .unwrap_or("USD")
            .to_owned(),
        total_price: o.decimal("total_inc_tax")?,
        financial_status: Some(financial_status),
        cancelled: cancelled_status(status),
        subtotal: Some(sum(subtotals.iter().map(String::as_str)).ok_or_else(|| overflow("order"))?),
        shipping_total: Some(shipping_total),
        tax_total: Some(tax_total),
        discount_total: Some(discount_total),
        taxes_included: false,
        billing_address: read_address(&o, "billing_address")?,
        shipping_address: None,
        shipping_lines,
        discount_codes: codes,
        payment_gateway: o
            .opt_str("payment_method")?
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        note: o
            .opt_str("customer_message")?
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        lines,
        location: None,
    };
    Ok(Some((id, fields)))
}

/// `v` without the fields of [`UNMAPPED_VARIANT_FIELDS`].
fn mapped_view(v: &VariantFields) -> VariantFields {
    VariantFields {
        sku: v.sku.clone(),
        title: v.title.clone(),
        active: v.active,
        ..VariantFields::default()
    }
}

/// Maps one BigCommerce document to canonical records.
pub fn to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    let body = parse(&format!("bigcommerce {} {}", doc.kind, doc.id), &doc.body)?;
    Ok(match doc.kind {
        EntityKind::Product | EntityKind::Variant => {
            let product = read_product(&body)?;
            if product.variants.is_empty() {
                return Ok(ToCanonicalOutcome::Skipped(format!(
                    "product {} has no variant with a sku",
                    doc.id
                )));
            }
            let mut out = Vec::new();
            for v in &product.variants {
                out.push(canonical::record_without(
                    EntityKind::Variant,
                    &v.variant.sku,
                    &v.variant,
                    &UNMAPPED_VARIANT_FIELDS,
                ));
                out.push(canonical::record_without(
                    EntityKind::Price,
                    &v.price.sku,
                    &v.price,
                    &["compare_at_price"],
                ));
            }
            ToCanonicalOutcome::Mapped(out)
        }
        EntityKind::InventoryLevel => match read_level(cfg, &doc.system, &body)? {
            Ok(level) => ToCanonicalOutcome::Mapped(vec![canonical::record(
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
        EntityKind::Order => match read_order(&body)? {
            Some((id, mut fields)) => {
                fields.location = to_netsuite_location(cfg, &doc.system, DEFAULT_LOCATION)
                    .cloned()
                    .or_else(|| cfg.order_location.clone());
                ToCanonicalOutcome::Mapped(vec![canonical::record(EntityKind::Order, &id, &fields)])
            }
            None => ToCanonicalOutcome::Skipped(format!(
                "order {} is incomplete (status 0): not placed yet",
                doc.id
            )),
        },
        EntityKind::Fulfillment => ToCanonicalOutcome::Skipped(
            "fulfilments flow from netsuite to the storefront only".into(),
        ),
        EntityKind::Refund => {
            ToCanonicalOutcome::Skipped("refunds are read from shopify orders only".into())
        }
        EntityKind::Price => {
            return Err(ItemError::Unsupported(
                "bigcommerce price documents: prices arrive inside their product".into(),
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

fn money(price: &str, what: &str) -> Result<Value, ItemError> {
    decimal_to_number(price)
        .ok_or_else(|| ItemError::InvalidInput(format!("{what}: {price:?} is not an amount")))
}

/// A product update (or a simple product's creation) for a canonical `variant`, a product or
/// variant price for a canonical `price`.
pub fn product_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let current = parse_current(req)?.map(|c| read_product(&c)).transpose()?;
    let sku = &req.record.key;
    let product_id = current
        .as_ref()
        .and_then(|p| p.id.clone())
        .or_else(|| req.target_id.clone());
    let have = current
        .as_ref()
        .and_then(|p| p.variants.iter().find(|v| &v.variant.sku == sku).cloned());
    match req.record.kind {
        EntityKind::Variant => {
            let fields: VariantFields = canonical::parse(&req.record)?;
            if let Some(h) = &have {
                let want = VariantFields {
                    title: fields.title.clone().or_else(|| h.variant.title.clone()),
                    ..mapped_view(&fields)
                };
                if canonical::same(&want, &mapped_view(&h.variant)) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            let mut body = Map::new();
            if let Some(t) = &fields.title {
                body.insert("name".into(), json!(t));
            }
            body.insert("is_visible".into(), json!(fields.active));
            if product_id.is_none() {
                // A new simple product: BigCommerce requires a name, a price and a weight;
                // the price record sets the price once the product exists.
                body.entry("name").or_insert(json!(sku));
                body.insert("sku".into(), json!(sku));
                body.insert("type".into(), json!("physical"));
                body.insert("price".into(), json!(0));
                body.insert("weight".into(), json!(0));
                body.insert("inventory_tracking".into(), json!("product"));
            }
            Ok(FromCanonicalOutcome::Commands(vec![command(
                EntityKind::Product,
                WriteOp::Upsert,
                product_id,
                Value::Object(body),
            )]))
        }
        EntityKind::Price => {
            let fields =
                canonical::parse::<PriceFields>(&req.record)?.normalized(&req.record.key)?;
            let Some(price) = &fields.price else {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            };
            if let Some(h) = &have
                && h.price.price.as_deref() == Some(price.as_str())
            {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            }
            let price = money(price, &format!("price {sku}"))?;
            match &have {
                // An option variant, or a base variant with a price of its own: the variant.
                Some(h) if !h.base || h.own_price => {
                    Ok(FromCanonicalOutcome::Commands(vec![command(
                        EntityKind::Price,
                        WriteOp::Upsert,
                        h.id.clone(),
                        json!({ "price": price }),
                    )]))
                }
                // The base variant takes the product's price.
                _ => match product_id {
                    Some(id) => Ok(FromCanonicalOutcome::Commands(vec![command(
                        EntityKind::Product,
                        WriteOp::Upsert,
                        Some(id),
                        json!({ "price": price }),
                    )])),
                    None => Ok(FromCanonicalOutcome::Skipped(format!(
                        "{sku} is not in bigcommerce yet: its variant record creates the product"
                    ))),
                },
            }
        }
        other => Err(ItemError::Unsupported(format!(
            "bigcommerce product writes from canonical {other}"
        ))),
    }
}

/// An absolute stock set for a canonical `inventory-level`.
pub fn level_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: LevelFields = canonical::parse(&req.record)?;
    let Some(location) = to_bigcommerce_location(cfg, &req.target, &fields.location) else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "netsuite location {} is not mapped from a bigcommerce location of {} in config key `locations`",
            fields.location, req.target
        )));
    };
    let mut variant = req
        .target_id
        .as_deref()
        .and_then(|t| t.split_once('@'))
        .map(|(v, _)| v.to_owned());
    if let Some(c) = parse_current(req)? {
        let l = Node::root("inventory_level", &c);
        if let Some(v) = l.opt_id("variant_id")? {
            variant = Some(v);
        }
        if l.opt_i64("available")? == Some(fields.quantity) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let Some(variant) = variant else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "the stock of {} at bigcommerce location {location} has not been read yet",
            fields.sku
        )));
    };
    let (Ok(v), Ok(l)) = (variant.parse::<u64>(), location.parse::<u64>()) else {
        return Err(ItemError::InvalidInput(format!(
            "inventory level {variant}@{location}: ids must be integers"
        )));
    };
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::InventoryLevel,
        WriteOp::SetQuantity,
        Some(format!("{variant}@{location}")),
        json!({"variant_id": v, "location_id": l, "available": fields.quantity, "sku": fields.sku}),
    )]))
}

/// A customer update for a canonical `customer` (BigCommerce creates customers).
pub fn customer_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields = canonical::parse::<CustomerFields>(&req.record)?.contact();
    let carried = canonical::carried(&req.record);
    if let Some(c) = parse_current(req)? {
        let (_, have) = read_customer(&c)?;
        if canonical::same_on(&fields, &have, &carried) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let Some(id) = req.target_id.clone() else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "customer {} is not in bigcommerce; customers are created there",
            req.record.key
        )));
    };
    let mut body = Map::new();
    for (name, value) in [
        ("email", &fields.email),
        ("first_name", &fields.first_name),
        ("last_name", &fields.last_name),
        ("phone", &fields.phone),
    ] {
        if carried.iter().any(|c| c == name) {
            body.insert(name.into(), json!(value.clone().unwrap_or_default()));
        }
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Customer,
        WriteOp::Upsert,
        Some(id),
        Value::Object(body),
    )]))
}

/// The one `delete` command that removes a record another system deleted (`req.deleted`, the
/// store's `delete` policy) from BigCommerce, by `req.target_id`:
///
/// - `variant`: the target id is the product the variant is journaled in (weft's
///   cross-reference for a SKU); the body names the product (`product_id`), the variant's
///   `sku` and, when the product weft holds lists it, its `variant_id`. The connector reads the
///   product first: it deletes the variant, or the whole product when the variant is its last
///   (a simple product's, or its last option variant), and finds one weft's copy does not list
///   yet by its SKU.
/// - `customer` (only the ones this store's BigCommerce owns reach here) and `product`: the
///   target id is the record; the body is empty.
///
/// Skipped: a target id that is not a BigCommerce id, and every other kind.
pub fn delete_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let kind = req.record.kind;
    let key = &req.record.key;
    let Some(target) = req
        .target_id
        .as_deref()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "{kind} {key}: {:?} is not a bigcommerce id to delete",
            req.target_id.as_deref().unwrap_or_default()
        )));
    };
    let body = match kind {
        EntityKind::Customer | EntityKind::Product => json!({}),
        EntityKind::Variant => {
            let held = parse_current(req)?.map(|c| read_product(&c)).transpose()?;
            let product = held
                .as_ref()
                .and_then(|p| p.id.clone())
                .unwrap_or_else(|| target.to_owned());
            let variant = held
                .as_ref()
                .and_then(|p| p.variants.iter().find(|v| &v.variant.sku == key))
                .and_then(|v| v.id.clone());
            let mut body = json!({"product_id": product, "sku": key});
            if let Some(v) = variant {
                body["variant_id"] = json!(v);
            }
            body
        }
        other => {
            return Ok(FromCanonicalOutcome::Skipped(format!(
                "bigcommerce removes products, variants and customers, not a {other} ({key})"
            )));
        }
    };
    Ok(match req.delete_command(&body) {
        Some(c) => FromCanonicalOutcome::Commands(vec![c]),
        None => FromCanonicalOutcome::Skipped(format!("{kind} {key} is not in bigcommerce")),
    })
}

/// Canonical record → BigCommerce commands.
pub fn from_canonical(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    match req.record.kind {
        EntityKind::Variant | EntityKind::Price => product_write(req),
        EntityKind::InventoryLevel => level_write(cfg, req),
        EntityKind::Customer => customer_write(req),
        EntityKind::Order => Ok(FromCanonicalOutcome::Skipped(
            "orders flow from bigcommerce to netsuite only".into(),
        )),
        EntityKind::Fulfillment => Ok(FromCanonicalOutcome::Skipped(
            "fulfilments are not written to BigCommerce (its connector has no shipment writes)"
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
    fn the_base_variant_of_a_product_with_options_maps_to_nothing() {
        let p = read_product(&json!({"id": "111", "name": "Shirt", "price": 18.0,
            "is_visible": true, "base_variant_id": "70", "variants": [
                {"id": "70", "sku": "SHIRT", "price": null, "calculated_price": 18.0},
                {"id": "71", "sku": "SHIRT-S", "price": 19.5, "calculated_price": 19.5},
                {"id": "72", "sku": "SHIRT-M", "price": null, "calculated_price": 18.0}]}))
        .unwrap();
        let skus: Vec<_> = p.variants.iter().map(|v| v.variant.sku.as_str()).collect();
        assert_eq!(skus, ["SHIRT-S", "SHIRT-M"]);
        assert_eq!(p.variants[0].price.price.as_deref(), Some("19.50"));
        assert_eq!(p.variants[1].price.price.as_deref(), Some("18.00"));
        let simple = read_product(&json!({"id": "112", "name": "Mug", "price": 8,
            "base_variant_id": "73", "variants": [{"id": "73", "sku": "MUG", "price": null}]}))
        .unwrap();
        assert_eq!(simple.variants.len(), 1);
        assert!(simple.variants[0].base && !simple.variants[0].own_price);
        assert_eq!(simple.variants[0].price.price.as_deref(), Some("8.00"));
    }

    #[test]
    fn locations_are_keyed_by_system_platform_or_bare_id() {
        let cx = Context::native(json!({"locations": {"bc-eu:2": "7", "1": "5"}}));
        let cfg = Config::load(&cx).unwrap();
        assert_eq!(to_netsuite_location(&cfg, "bc-eu", "2").unwrap(), "7");
        assert_eq!(to_netsuite_location(&cfg, "bigcommerce", "1").unwrap(), "5");
        assert_eq!(to_netsuite_location(&cfg, "bigcommerce", "2"), None);
        assert_eq!(
            to_bigcommerce_location(&cfg, "bc-eu", "7").as_deref(),
            Some("2")
        );
        assert_eq!(
            to_bigcommerce_location(&cfg, "bigcommerce", "5").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn orders_read_lines_totals_status_and_customer() {
        let (id, o) = read_order(&json!({
            "id": "100", "customer_id": "3", "status_id": 11, "date_created": "2026-01-15T12:00:00Z",
            "total_inc_tax": "36.0000", "currency_code": "USD",
            "billing_address": {"first_name": "A", "email": "a@b.c", "street_1": "1 Way",
                "country_iso2": "GB"},
            "line_items": [{"sku": "SHIRT-S", "quantity": 2, "price_ex_tax": "18.0000",
                "total_ex_tax": "36.0000", "total_inc_tax": "36.0000"}]
        }))
        .unwrap()
        .unwrap();
        assert_eq!(id, "100");
        assert_eq!(o.customer.as_deref(), Some("3"));
        assert_eq!(o.email.as_deref(), Some("a@b.c"));
        assert_eq!(o.lines[0].price, "18.00");
        assert_eq!(o.total_price, "36.00");
        assert!(!o.cancelled);
        assert!(crate::orders::totals_reconcile(&o));
        let (_, c) = read_order(&json!({"id": "101", "customer_id": "0", "status_id": 5,
            "date_created": "2026-01-15T12:00:00Z", "total_inc_tax": "0.0000",
            "line_items": []}))
        .unwrap()
        .unwrap();
        assert!(c.cancelled && c.customer.is_none());
        assert!(
            read_order(&json!({"id": "102", "status_id": 0, "line_items": []}))
                .unwrap()
                .is_none()
        );
    }
}
