//! Magento side: documents as the `weft-magento` connector journals them (products as
//! `/V1/products` answers them, `inventory-level` per MSI source item, customers, orders with
//! their `items`) to canonical records, and canonical records to Magento write commands (product
//! saves by SKU and source item saves, both sent through Magento's asynchronous bulk API).
//!
//! - A (simple) product is one canonical `variant` and `price` (key: SKU). Web title = `name`,
//!   active = `status` 1 (2 is disabled), description = the `description` EAV attribute (in
//!   `custom_attributes`; empty is none). Price: `price`; a `special_price` custom attribute
//!   below it is the selling price, with `price` as the compare-at price.
//! - Stock per source: the NetSuite location of source `<code>` of system `<system>` is the
//!   entry `"<system>:<code>"` of config key `locations`, e.g.
//!   `locations = { "magento:default" = "1", "magento:wh2" = "2" }`. Writes are absolute
//!   `set-quantity` commands (the connector reads and compares before it posts them).
//! - Customers both ways (Magento creates them; weft saves existing ones: the whole customer
//!   Magento requires, `email`, `firstname`, `lastname`, `website_id`, and for a new telephone
//!   the customer's addresses with the first one's `telephone` changed; a customer without an
//!   address has no telephone to change); orders one way, to NetSuite sales orders, committed at the location of `order_location` or the
//!   system's `"<system>:default"` source. Their keys are qualified with the system's name
//!   (`magento:7`).

use crate::canonical::{
    self, CustomerFields, LevelFields, OrderFields, OrderLine, PriceFields, VariantFields, money_lt,
};
use crate::config::Config;
use crate::orders::{Address, ShippingLine};
use weft_plugin_sdk::json::{Node, parse};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The platform name.
pub const SYSTEM: &str = "magento";

/// The variant fields this mapping does not map for Magento: its records leave them out.
pub const UNMAPPED_VARIANT_FIELDS: [&str; 13] = [
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
    "vendor",
    "barcode",
];

fn custom<'a>(p: &Node<'a>, code: &str) -> Result<Option<&'a Value>, ItemError> {
    for a in p.opt_array("custom_attributes")? {
        if a.opt_str("attribute_code")? == Some(code) {
            return Ok(a.value().get("value"));
        }
    }
    Ok(None)
}

/// A product read: its id and, when it has a SKU, its canonical fields.
pub type ReadProduct = (Option<String>, Option<(VariantFields, PriceFields)>);

/// Reads a product.
pub fn read_product(body: &Value) -> Result<ReadProduct, ItemError> {
    let p = Node::root("product", body);
    let id = p.opt_id("id")?;
    let Some(sku) = p.opt_str("sku")? else {
        return Ok((id, None));
    };
    let price = p.opt_decimal("price")?;
    let special = match custom(&p, "special_price")? {
        Some(Value::String(s)) if !s.is_empty() => weft_plugin_sdk::json::normalize_decimal(s),
        Some(Value::Number(n)) => weft_plugin_sdk::json::normalize_decimal(&n.to_string()),
        _ => None,
    };
    let (price, compare_at_price) = match (&price, &special) {
        (Some(p), Some(s)) if money_lt(s, p) => (Some(s.clone()), Some(p.clone())),
        _ => (price.clone(), None),
    };
    let description = match custom(&p, "description")? {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok((
        id,
        Some((
            VariantFields {
                sku: sku.to_owned(),
                title: p.opt_str("name")?.map(str::to_owned),
                description,
                active: p.opt_i64("status")?.unwrap_or(1) == 1,
                ..VariantFields::default()
            },
            PriceFields {
                sku: sku.to_owned(),
                price,
                compare_at_price,
                currencies: None,
            },
        )),
    ))
}

/// The `locations` key of source `source` of `system`.
fn source_key(system: &str, source: &str) -> String {
    format!("{system}:{source}")
}

/// Reads a source item level: `Ok(Err(reason))` when it is not synced.
pub fn read_level(
    cfg: &Config,
    system: &str,
    body: &Value,
) -> Result<Result<LevelFields, String>, ItemError> {
    let l = Node::root("inventory_level", body);
    let sku = l.str("sku")?;
    let source = l.str("source_code")?;
    let key = source_key(system, source);
    let Some(loc) = cfg.to_netsuite_location.get(&key) else {
        return Ok(Err(format!(
            "config key `locations` names no NetSuite location for source {source:?} of {system} (e.g. `\"{key}\" = \"1\"`)"
        )));
    };
    Ok(Ok(LevelFields {
        sku: sku.to_owned(),
        location: loc.clone(),
        quantity: l.opt_i64("available")?.unwrap_or(0),
    }))
}

/// Reads a customer.
pub fn read_customer(body: &Value) -> Result<(String, CustomerFields), ItemError> {
    let c = Node::root("customer", body);
    let mut phone = None;
    for a in c.opt_array("addresses")? {
        if let Some(t) = a.opt_str("telephone")? {
            phone = Some(t.to_owned());
            break;
        }
    }
    Ok((
        c.id("id")?,
        CustomerFields {
            email: c.opt_str("email")?.map(str::to_owned),
            first_name: c.opt_str("firstname")?.map(str::to_owned),
            last_name: c.opt_str("lastname")?.map(str::to_owned),
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
    let street: Vec<String> = a
        .opt_array("street")?
        .iter()
        .filter_map(|s| s.value().as_str().map(str::to_owned))
        .collect();
    let addr = Address {
        first_name: t("firstname")?,
        last_name: t("lastname")?,
        company: t("company")?,
        address1: street.first().cloned(),
        address2: street.get(1).cloned(),
        city: t("city")?,
        province_code: t("region_code")?,
        country_code: t("country_id")?,
        zip: t("postcode")?,
        phone: t("telephone")?,
    };
    Ok((addr != Address::default()).then_some(addr))
}

fn money(o: &Node<'_>, field: &str) -> Result<String, ItemError> {
    Ok(o.opt_decimal(field)?.unwrap_or_else(|| "0.00".into()))
}

/// Reads an order.
pub fn read_order(body: &Value) -> Result<(String, OrderFields), ItemError> {
    let o = Node::root("order", body);
    let id = o.id("id")?;
    let customer = o
        .opt_id("customer_id")?
        .filter(|c| !c.is_empty() && c != "0");
    let mut lines = Vec::new();
    for li in o.array("items")? {
        // A configurable's child line repeats its parent's SKU: only lines without a parent.
        if li
            .get("parent_item_id")?
            .is_some_and(|p| !p.value().is_null())
        {
            continue;
        }
        let sku = li.str("sku")?;
        let qty = match li.value().get("qty_ordered") {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0).round() as i64,
            Some(Value::String(s)) => s.parse::<f64>().unwrap_or(0.0).round() as i64,
            _ => 0,
        };
        lines.push(OrderLine {
            sku: sku.to_owned(),
            current_quantity: None,
            quantity: qty,
            price: li.decimal("price")?,
            tax: money(&li, "tax_amount")?,
            tax_lines: Vec::new(),
            discount: money(&li, "discount_amount")?
                .trim_start_matches('-')
                .to_owned(),
        });
    }
    let shipping_total = money(&o, "shipping_amount")?;
    let shipping_lines = match o.opt_str("shipping_description")? {
        Some(title) => vec![ShippingLine {
            title: Some(title.to_owned()),
            code: o.opt_str("shipping_method")?.map(str::to_owned),
            price: shipping_total.clone(),
            tax_lines: Vec::new(),
        }],
        None => Vec::new(),
    };
    let state = o.opt_str("state")?.unwrap_or("new");
    let created = o.str("created_at")?;
    let created_at = if created.contains('T') {
        created.to_owned()
    } else {
        format!("{}Z", created.replace(' ', "T"))
    };
    let number = o.opt_str("increment_id")?.map(str::to_owned);
    let fields = OrderFields {
        name: format!("#{}", number.unwrap_or_else(|| id.clone())),
        email: o.opt_str("customer_email")?.map(str::to_owned),
        customer,
        created_at,
        currency: o
            .opt_str("order_currency_code")?
            .unwrap_or("USD")
            .to_owned(),
        total_price: o.decimal("grand_total")?,
        financial_status: Some(
            match state {
                "closed" => "refunded",
                "processing" | "complete" => "paid",
                _ => "pending",
            }
            .to_owned(),
        ),
        cancelled: state == "canceled",
        subtotal: Some(money(&o, "subtotal")?),
        shipping_total: Some(shipping_total),
        tax_total: Some(money(&o, "tax_amount")?),
        discount_total: Some(
            money(&o, "discount_amount")?
                .trim_start_matches('-')
                .to_owned(),
        ),
        taxes_included: false,
        billing_address: read_address(&o, "billing_address")?,
        shipping_address: None,
        shipping_lines,
        discount_codes: o
            .opt_str("coupon_code")?
            .map(|c| vec![c.to_owned()])
            .unwrap_or_default(),
        payment_gateway: None,
        note: None,
        lines,
        location: None,
    };
    Ok((id, fields))
}

/// `v` without the fields of [`UNMAPPED_VARIANT_FIELDS`].
fn mapped_view(v: &VariantFields) -> VariantFields {
    VariantFields {
        sku: v.sku.clone(),
        title: v.title.clone(),
        description: v.description.clone(),
        active: v.active,
        ..VariantFields::default()
    }
}

/// One Magento document to canonical records.
pub fn to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    let body = parse(&format!("magento {} {}", doc.kind, doc.id), &doc.body)?;
    Ok(match doc.kind {
        EntityKind::Product | EntityKind::Variant => match read_product(&body)? {
            (_, Some((variant, price))) => ToCanonicalOutcome::Mapped(vec![
                canonical::record_without(
                    EntityKind::Variant,
                    &variant.sku,
                    &variant,
                    &UNMAPPED_VARIANT_FIELDS,
                ),
                canonical::record(EntityKind::Price, &price.sku, &price),
            ]),
            (_, None) => ToCanonicalOutcome::Skipped(format!("product {} has no sku", doc.id)),
        },
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
        EntityKind::Order => {
            let (id, mut fields) = read_order(&body)?;
            fields.location = cfg.order_location.clone().or_else(|| {
                cfg.to_netsuite_location
                    .get(&source_key(&doc.system, "default"))
                    .cloned()
            });
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
                "magento price documents: prices arrive inside their product".into(),
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

/// A product save (by SKU) for a canonical `variant` or `price` record.
pub fn product_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let current = parse_current(req)?.map(|c| read_product(&c)).transpose()?;
    let sku = &req.record.key;
    let (target_id, have) = match &current {
        Some((id, have)) => (id.clone().or_else(|| req.target_id.clone()), have.clone()),
        None => (req.target_id.clone(), None),
    };
    let mut body = Map::new();
    body.insert("sku".into(), json!(sku));
    match req.record.kind {
        EntityKind::Variant => {
            let fields: VariantFields = canonical::parse(&req.record)?;
            if let Some((h, _)) = &have {
                let want = VariantFields {
                    title: fields.title.clone().or_else(|| h.title.clone()),
                    ..mapped_view(&fields)
                };
                if canonical::same(&want, &mapped_view(h)) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            match &fields.title {
                Some(t) => {
                    body.insert("name".into(), json!(t));
                }
                None if have.is_none() => {
                    body.insert("name".into(), json!(sku));
                }
                None => {}
            }
            if have.is_none() {
                // A new product: Magento needs its type, attribute set and a price.
                body.insert("type_id".into(), json!("simple"));
                body.insert("attribute_set_id".into(), json!(4));
                body.insert("visibility".into(), json!(4));
                body.insert("price".into(), json!(0));
            }
            body.insert("status".into(), json!(if fields.active { 1 } else { 2 }));
            body.insert(
                "custom_attributes".into(),
                json!([{"attribute_code": "description",
                    "value": fields.description.clone().unwrap_or_default()}]),
            );
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
            if have.is_none() {
                body.insert("name".into(), json!(sku));
                body.insert("type_id".into(), json!("simple"));
                body.insert("attribute_set_id".into(), json!(4));
                body.insert("visibility".into(), json!(4));
            }
            let number = |d: &str| weft_plugin_sdk::json::decimal_to_number(d).unwrap_or(json!(0));
            match (&fields.price, &fields.compare_at_price) {
                (Some(p), Some(c)) if money_lt(p, c) => {
                    body.insert("price".into(), number(c));
                    body.insert(
                        "custom_attributes".into(),
                        json!([{"attribute_code": "special_price", "value": p}]),
                    );
                }
                (Some(p), _) => {
                    body.insert("price".into(), number(p));
                    body.insert(
                        "custom_attributes".into(),
                        json!([{"attribute_code": "special_price", "value": ""}]),
                    );
                }
                (None, _) if have.is_none() => {
                    body.insert("price".into(), json!(0));
                }
                (None, _) => {}
            }
        }
        other => {
            return Err(ItemError::Unsupported(format!(
                "magento product writes from canonical {other}"
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

/// A source item quantity set for a canonical `inventory-level`.
pub fn level_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: LevelFields = canonical::parse(&req.record)?;
    let prefix = format!("{}:", req.target);
    let Some(source) = cfg
        .to_shopify_location
        .get(&fields.location)
        .and_then(|k| k.strip_prefix(&prefix))
    else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "netsuite location {} is not a source of {} in config key `locations`",
            fields.location, req.target
        )));
    };
    if let Some(c) = parse_current(req)? {
        let l = Node::root("inventory_level", &c);
        if l.opt_i64("available")? == Some(fields.quantity) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::InventoryLevel,
        WriteOp::SetQuantity,
        Some(format!("{}@{source}", fields.sku)),
        json!({"sku": fields.sku, "source_code": source, "available": fields.quantity}),
    )]))
}

/// A customer save for a canonical `customer` record (existing Magento customers only).
pub fn customer_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields = canonical::parse::<CustomerFields>(&req.record)?.contact();
    let Some(current) = parse_current(req)? else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "customer {} is not in magento; customers are created there",
            req.record.key
        )));
    };
    let (id, have) = read_customer(&current)?;
    let addresses: Vec<Value> = current
        .get("addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut carried = canonical::carried(&req.record);
    if addresses.is_empty() {
        // Magento keeps a telephone only on an address.
        carried.retain(|f| f != "phone");
    }
    if canonical::same_on(&fields, &have, &carried) {
        return Ok(FromCanonicalOutcome::Commands(vec![]));
    }
    let pick = |want: &Option<String>, had: &Option<String>, name: &str| -> Value {
        if carried.iter().any(|c| c == name) {
            json!(want.clone().unwrap_or_default())
        } else {
            json!(had.clone().unwrap_or_default())
        }
    };
    let mut body = Map::new();
    body.insert("email".into(), pick(&fields.email, &have.email, "email"));
    body.insert(
        "firstname".into(),
        pick(&fields.first_name, &have.first_name, "first_name"),
    );
    body.insert(
        "lastname".into(),
        pick(&fields.last_name, &have.last_name, "last_name"),
    );
    body.insert(
        "website_id".into(),
        current.get("website_id").cloned().unwrap_or(json!(1)),
    );
    if carried.iter().any(|c| c == "phone") && fields.phone != have.phone {
        let mut addresses = addresses;
        if let Some(first) = addresses.first_mut().and_then(Value::as_object_mut) {
            first.insert(
                "telephone".into(),
                json!(fields.phone.clone().unwrap_or_default()),
            );
        }
        body.insert("addresses".into(), Value::Array(addresses));
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Customer,
        WriteOp::Upsert,
        Some(id),
        Value::Object(body),
    )]))
}

/// The delete of a record another system deleted, when the store's `[deletes]` policy removes
/// it here (`req.deleted`): one `delete` command for `req.target_id`.
///
/// - `variant`: the simple product, by its entity id (the target id: the id its documents are
///   journaled under); the body carries its SKU as weft last saw it (`{"sku"}`, from the
///   current document, else the record's key), which names it (the connector finds the product
///   by its id, so a SKU renamed or taken by another product since changes nothing).
/// - `customer`: by its id; the body is `{}` (nothing else is needed, and no personal data is
///   kept in the outbox).
/// - `product`: skipped: this mapping keeps no canonical products in Magento (each simple
///   product is a variant and is removed as one). Other kinds are removed with their variant
///   (prices, stock) or never (orders).
///
/// Skipped when weft knows no Magento id for the record, or the id is not one (not numeric).
pub fn delete_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let what = match req.record.kind {
        EntityKind::Variant => "product",
        EntityKind::Customer => "customer",
        EntityKind::Product => {
            return Ok(FromCanonicalOutcome::Skipped(format!(
                "product {}: magento holds no canonical products (each simple product is a variant, removed on its own)",
                req.record.key
            )));
        }
        other => {
            return Ok(FromCanonicalOutcome::Skipped(format!(
                "{} records are not removed from magento (prices and stock go with their product)",
                other.as_str()
            )));
        }
    };
    let Some(id) = req.target_id.as_deref() else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "{} {}: no magento {what} id is known for it",
            req.record.kind, req.record.key
        )));
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "{} {}: {id:?} is not a magento {what} id",
            req.record.kind, req.record.key
        )));
    }
    let body = match req.record.kind {
        EntityKind::Variant => {
            let sku = match parse_current(req)? {
                Some(c) => Node::root("product", &c).opt_str("sku")?.map(str::to_owned),
                None => None,
            };
            json!({"sku": sku.unwrap_or_else(|| req.record.key.clone())})
        }
        _ => json!({}),
    };
    Ok(match req.delete_command(&body) {
        Some(cmd) => FromCanonicalOutcome::Commands(vec![cmd]),
        None => FromCanonicalOutcome::Skipped(format!(
            "{} {}: no magento {what} id is known for it",
            req.record.kind, req.record.key
        )),
    })
}

/// Canonical record → Magento commands.
pub fn from_canonical(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    match req.record.kind {
        EntityKind::Variant | EntityKind::Price => product_write(req),
        EntityKind::InventoryLevel => level_write(cfg, req),
        EntityKind::Customer => customer_write(req),
        EntityKind::Order => Ok(FromCanonicalOutcome::Skipped(
            "orders flow from magento to netsuite only".into(),
        )),
        EntityKind::Fulfillment => Ok(FromCanonicalOutcome::Skipped(
            "fulfilments are not written to magento yet".into(),
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
    fn a_special_price_below_the_price_is_the_selling_price() {
        let (id, f) = read_product(&json!({"id": "5", "sku": "TEE", "name": "Tee", "price": 20,
            "status": 1, "custom_attributes": [{"attribute_code": "special_price", "value": "15.5"}]}))
        .unwrap();
        let (v, p) = f.unwrap();
        assert_eq!(id.as_deref(), Some("5"));
        assert_eq!(v.title.as_deref(), Some("Tee"));
        assert!(v.active);
        assert_eq!(p.price.as_deref(), Some("15.50"));
        assert_eq!(p.compare_at_price.as_deref(), Some("20.00"));
    }

    #[test]
    fn orders_read_lines_totals_and_customer() {
        let (id, o) = read_order(&json!({
            "id": "7", "entity_id": 7, "increment_id": "000000007", "state": "new",
            "customer_id": "3", "customer_email": "ann@example.com",
            "created_at": "2026-01-15 12:00:05", "order_currency_code": "USD",
            "subtotal": 30, "grand_total": 30,
            "items": [{"sku": "TEE", "qty_ordered": 2, "price": 15, "row_total": 30}]
        }))
        .unwrap();
        assert_eq!(id, "7");
        assert_eq!(o.name, "#000000007");
        assert_eq!(o.customer.as_deref(), Some("3"));
        assert_eq!(o.created_at, "2026-01-15T12:00:05Z");
        assert_eq!(o.lines[0].quantity, 2);
        assert_eq!(o.lines[0].price, "15.00");
        assert!(crate::orders::totals_reconcile(&o));
    }
}
