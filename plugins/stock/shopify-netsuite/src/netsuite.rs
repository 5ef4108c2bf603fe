//! NetSuite side: REST record JSON (`docs/document-shapes.md` §1.2) to canonical records, and
//! canonical records to NetSuite write commands (§3.1).

use std::collections::BTreeMap;

use crate::canonical::{
    self, CustomerAddress, CustomerFields, FulfillmentFields, FulfillmentLine, Image, LevelFields,
    OrderFields, PriceFields, RefundFields, Tracking, VariantFields,
};
use crate::config::Config;
use crate::ids;
use weft_plugin_sdk::json::{Node, decimal_to_number, parse, same_value};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The system name.
pub const SYSTEM: &str = "netsuite";

/// Custom item field holding the Shopify product type.
pub const PRODUCT_TYPE_FIELD: &str = "custitem_web_product_type";
/// Custom item field holding the Shopify taxonomy category id.
pub const CATEGORY_FIELD: &str = "custitem_web_category";
/// Custom item field holding the tags, joined with `, `.
pub const TAGS_FIELD: &str = "custitem_web_tags";

/// The custom item fields the mapper keeps catalog fields in (no config field may reuse one).
pub const CATALOG_FIELDS: [&str; 4] =
    [PRODUCT_TYPE_FIELD, CATEGORY_FIELD, TAGS_FIELD, IMAGES_FIELD];

/// Custom entity field holding a customer's tags, joined with `, `.
pub const CUSTOMER_TAGS_FIELD: &str = "custentity_web_tags";

/// A canonical email marketing state as a NetSuite `globalSubscriptionStatus` id: Shopify's
/// pending (awaiting confirmation) is a soft opt-in, never asked a soft opt-out; subscribed
/// and unsubscribed are the confirmed ones.
fn subscription_status(state: &str) -> Option<&'static str> {
    Some(match state {
        "pending" => "1",
        "not_subscribed" => "2",
        "subscribed" => "3",
        "unsubscribed" => "4",
        _ => return None,
    })
}

/// The canonical email marketing state of a `globalSubscriptionStatus` (`{id, refName}`).
fn subscription_state(c: &Node<'_>) -> Result<Option<String>, ItemError> {
    let Some(r) = c.opt_obj("globalSubscriptionStatus")? else {
        return Ok(None);
    };
    Ok(match r.opt_id("id")?.as_deref() {
        Some("1") => Some("pending".into()),
        Some("2") => Some("not_subscribed".into()),
        Some("3") => Some("subscribed".into()),
        Some("4") => Some("unsubscribed".into()),
        _ => None,
    })
}
/// Custom item field holding the images as JSON text `[{"url", "alt"}]`, in order.
pub const IMAGES_FIELD: &str = "custitem_web_images";
/// Item field holding the SEO title.
pub const SEO_TITLE_FIELD: &str = "pageTitle";
/// Item field holding the SEO description.
pub const SEO_DESCRIPTION_FIELD: &str = "storeDescription";

/// NetSuite's weight units (`weightUnit` ids).
const WEIGHT_UNITS: [(&str, &str); 4] = [("1", "lb"), ("2", "oz"), ("3", "kg"), ("4", "g")];

/// An inventory item, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Canonical variant fields.
    pub variant: VariantFields,
    /// Canonical price fields.
    pub price: PriceFields,
    /// Internal id.
    pub id: Option<String>,
    /// External id, when the item has one.
    pub external_id: Option<String>,
}

/// Whether a `price` line is the one of `level` and `currency` at the first quantity break.
fn is_price_line(line: &Value, level: &str, currency: &str) -> bool {
    let id = |f: &str| line.get(f).and_then(|r| r.get("id")).map(id_of);
    let quantity = line
        .pointer("/quantity/value")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    id("priceLevel").as_deref() == Some(level)
        && id("currencyPage").as_deref() == Some(currency)
        && quantity == 0.0
}

fn id_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The storefront price from the item's pricing matrix (`price` sublist).
fn storefront_price(
    i: &Node<'_>,
    level: &str,
    currency: &str,
) -> Result<Option<String>, ItemError> {
    let Some(price) = i.opt_obj("price")? else {
        return Ok(None);
    };
    for line in price.opt_array("items")? {
        if is_price_line(line.value(), level, currency) {
            return line.opt_decimal("price");
        }
    }
    Ok(None)
}

/// The `price` sublist to write: the item's lines as they are, with each line of `set`
/// (`(level, currency, price)`) set to its price, or left out where the price is `None` (the
/// upsert replaces the sublist, so every other level and currency is written back unchanged).
fn price_sublist(current: Option<&Value>, set: &[(&str, &str, Option<Value>)]) -> Value {
    let mut items: Vec<Value> = Vec::new();
    let mut found = vec![false; set.len()];
    let lines = current
        .and_then(|c| c.pointer("/price/items"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for line in lines {
        let reference = |f: &str| json!({"id": line.get(f).and_then(|r| r.get("id")).map(id_of)});
        let mut out = json!({
            "currencyPage": reference("currencyPage"),
            "priceLevel": reference("priceLevel"),
            "quantity": {"value": line.pointer("/quantity/value").cloned().unwrap_or(json!(0))},
            "price": line.get("price").cloned().unwrap_or(Value::Null),
        });
        if let Some(k) = set
            .iter()
            .position(|(level, currency, _)| is_price_line(line, level, currency))
        {
            found[k] = true;
            match &set[k].2 {
                Some(price) => out["price"] = price.clone(),
                None => continue,
            }
        }
        items.push(out);
    }
    for ((level, currency, price), found) in set.iter().zip(found) {
        if let (false, Some(price)) = (found, price) {
            items.push(json!({
                "currencyPage": {"id": currency},
                "priceLevel": {"id": level},
                "quantity": {"value": 0},
                "price": price,
            }));
        }
    }
    json!({"items": items})
}

/// A custom field's value as text (NetSuite returns text, numbers, booleans or references).
fn custom_text(i: &Node<'_>, field: &str) -> Option<String> {
    match i.value().get(field)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("refName").and_then(Value::as_str).map(str::to_owned),
        other => Some(other.to_string()),
    }
}

/// Reads an inventoryItem: `Ok(Err(reason))` when it is not a web item (no SKU prefix) or is
/// a matrix parent (its children are the variants).
pub fn read_item(cfg: &Config, body: &Value) -> Result<Result<Item, String>, ItemError> {
    let i = Node::root("inventoryItem", body);
    let item_id = i.str("itemId")?;
    let Some(sku) = cfg.sku_of_item_id(item_id) else {
        return Ok(Err(format!(
            "item {item_id:?} does not start with the sku_prefix {:?}; not a web item",
            cfg.sku_prefix
        )));
    };
    let matrix_type = i.opt_str("matrixType")?;
    if matrix_type == Some("PARENT") {
        return Ok(Err(format!(
            "item {item_id:?} is a matrix parent: its child items are the variants"
        )));
    }
    let (product, option_values) = if matrix_type == Some("CHILD") {
        let parent = i.obj("parent")?;
        let name = parent.str("refName").map_err(|_| {
            parent.error("a matrix child's parent needs its refName (the parent's itemId)")
        })?;
        let product = cfg.sku_of_item_id(name).unwrap_or(name).to_owned();
        let mut values = BTreeMap::new();
        if let Some(obj) = body.as_object() {
            for (k, v) in obj {
                let Some(field) = k.strip_prefix("matrixOption") else {
                    continue;
                };
                let option = cfg.option_of_field(field).ok_or_else(|| {
                    ItemError::Config(format!(
                        "item {item_id:?}: matrix option field {field:?} is not in config key `matrix_options`"
                    ))
                })?;
                let value = v
                    .get("refName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| i.error(format!("{k} has no refName")))?;
                values.insert(option.to_owned(), value.to_owned());
            }
        }
        (Some(product), Some(values))
    } else {
        (None, None)
    };
    let weight = crate::shopify::weight_of(&i, "weight")?;
    let weight_unit = match &weight {
        Some(_) => match i.opt_obj("weightUnit")? {
            Some(u) => {
                let id = u.opt_id("id")?;
                WEIGHT_UNITS
                    .iter()
                    .find(|(wid, _)| id.as_deref() == Some(*wid))
                    .map(|(_, n)| (*n).to_owned())
                    .or(u.opt_str("refName")?.map(str::to_owned))
            }
            None => None,
        },
        None => None,
    };
    let images = match custom_text(&i, IMAGES_FIELD) {
        Some(text) => {
            let list: Vec<Image> = weft_plugin_sdk::serde_json::from_str(&text).map_err(|e| {
                i.error(format!(
                    "{IMAGES_FIELD}: expected JSON [{{\"url\", \"alt\"}}]: {e}"
                ))
            })?;
            (!list.is_empty()).then_some(list)
        }
        None => None,
    };
    let custom: BTreeMap<String, Option<String>> = cfg
        .custom_fields
        .iter()
        .map(|(key, field)| (key.clone(), custom_text(&i, field)))
        .collect();
    Ok(Ok(Item {
        variant: VariantFields {
            sku: sku.to_owned(),
            title: i.opt_str(&cfg.title_field)?.map(str::to_owned),
            description: i.opt_str("salesDescription")?.map(str::to_owned),
            vendor: i.opt_str("vendorName")?.map(str::to_owned),
            barcode: i.opt_str("upcCode")?.map(str::to_owned),
            active: !i.opt_bool("isInactive")?.unwrap_or(false),
            product,
            option_values,
            product_type: custom_text(&i, PRODUCT_TYPE_FIELD),
            category: custom_text(&i, CATEGORY_FIELD),
            tags: crate::shopify::tag_list(custom_text(&i, TAGS_FIELD).as_deref()),
            weight,
            weight_unit,
            images,
            seo_title: i.opt_str(SEO_TITLE_FIELD)?.map(str::to_owned),
            seo_description: i.opt_str(SEO_DESCRIPTION_FIELD)?.map(str::to_owned),
            custom: (!custom.is_empty()).then_some(custom),
            collections: cfg.collections_field.as_deref().map(|f| {
                crate::shopify::tag_list(custom_text(&i, f).as_deref()).unwrap_or_default()
            }),
        },
        price: PriceFields {
            sku: sku.to_owned(),
            price: match &cfg.price_line {
                None => i.opt_decimal("basePrice")?,
                Some((level, currency)) => storefront_price(&i, level, currency)?,
            },
            compare_at_price: i.opt_decimal("custitem_compare_at_price")?,
            currencies: if cfg.currencies.is_empty() {
                None
            } else {
                let mut out = BTreeMap::new();
                for (code, currency) in &cfg.currencies {
                    out.insert(
                        code.clone(),
                        storefront_price(&i, cfg.currency_level(), currency)?,
                    );
                }
                Some(out)
            },
        }
        .marked_down(),
        id: i.opt_id("id")?,
        external_id: i.opt_str("externalId")?.map(str::to_owned),
    }))
}

/// Reads a host-derived inventory level: `Ok(Err(reason))` when it is not synced.
pub fn read_level(
    cfg: &Config,
    body: &Value,
) -> Result<Result<(LevelFields, String), String>, ItemError> {
    let l = Node::root("inventory_level", body);
    let item = l.id("item_id")?;
    let location = l.id("location_id")?;
    let item_id = l.str("sku")?;
    let Some(sku) = cfg.sku_of_item_id(item_id) else {
        return Ok(Err(format!(
            "item {item_id:?} does not start with the sku_prefix {:?}; not a web item",
            cfg.sku_prefix
        )));
    };
    if !cfg.to_shopify_location.contains_key(&location) {
        return Ok(Err(format!(
            "netsuite location {location} is not mapped in config key `locations`"
        )));
    }
    Ok(Ok((
        LevelFields {
            sku: sku.to_owned(),
            location,
            quantity: available_to_sell(&l)?,
        },
        item,
    )))
}

/// What a NetSuite level can still sell: available (on hand less committed) less what is
/// back ordered (open sales order quantity that could not be committed).
fn available_to_sell(l: &Node<'_>) -> Result<i64, ItemError> {
    if let Some(q) = l.opt_i64("quantity_sellable")? {
        return Ok(q);
    }
    let available = match l.opt_i64("quantity_available")? {
        Some(a) => a,
        None => {
            l.opt_i64("quantity_on_hand")?.unwrap_or(0)
                - l.opt_i64("quantity_committed")?.unwrap_or(0)
        }
    };
    Ok(available - l.opt_i64("quantity_backordered")?.unwrap_or(0))
}

/// Reads a customer: `Ok(Err(reason))` when it was not created from Shopify.
pub fn read_customer(body: &Value) -> Result<Result<(String, CustomerFields), String>, ItemError> {
    let c = Node::root("customer", body);
    let eid = c.opt_str("externalId")?;
    let Some(key) = eid.and_then(ids::customer_id_of_external_id) else {
        let id = c.opt_id("id")?.unwrap_or_default();
        return Ok(Err(match eid {
            Some(e) => format!(
                "customer {id} has externalId {e:?}, not shopify-customer-<id>; web customers are created in shopify"
            ),
            None => format!(
                "customer {id} has no externalId, so it is not a shopify customer; web customers are created in shopify"
            ),
        }));
    };
    let mut default = Vec::new();
    let mut others = Vec::new();
    let book = match c.opt_obj("addressBook")? {
        Some(b) => b.opt_array("items")?,
        None => Vec::new(),
    };
    for line in book {
        let Some(a) = line.opt_obj("addressBookAddress")? else {
            continue;
        };
        let text =
            |f: &str| -> Result<Option<String>, ItemError> { Ok(a.opt_str(f)?.map(str::to_owned)) };
        let addressee = text("addressee")?;
        let attention = text("attention")?;
        // The company is the addressee with a person to the attention of; without one, the
        // addressee is the person unless the address is marked not residential.
        let residential = line.opt_bool("isResidential")?.unwrap_or(true);
        let (name, company) = match (addressee, attention) {
            (Some(c), Some(p)) => (Some(p), Some(c)),
            (Some(x), None) if !residential => (None, Some(x)),
            (x, p) => (x.or(p), None),
        };
        let address = CustomerAddress {
            name,
            company,
            address1: text("addr1")?,
            address2: text("addr2")?,
            city: text("city")?,
            province_code: text("state")?,
            country_code: text("country")?,
            zip: text("zip")?,
            phone: text("addrPhone")?,
        };
        let is_default = line.opt_bool("defaultShipping")? == Some(true)
            || (line.opt_bool("defaultBilling")? == Some(true));
        if is_default && default.is_empty() {
            default.push(address);
        } else {
            others.push(address);
        }
    }
    default.extend(others);
    Ok(Ok((
        key,
        CustomerFields {
            email: c.opt_str("email")?.map(str::to_owned),
            first_name: c.opt_str("firstName")?.map(str::to_owned),
            last_name: c.opt_str("lastName")?.map(str::to_owned),
            phone: c.opt_str("phone")?.map(str::to_owned),
            addresses: (!default.is_empty()).then_some(default),
            tags: crate::shopify::tag_list(custom_text(&c, CUSTOMER_TAGS_FIELD).as_deref()),
            tax_exempt: c.opt_bool("taxable")?.map(|t| !t),
            email_marketing: subscription_state(&c)?,
        },
    )))
}

/// The `addressBook` sublist for canonical addresses: the first is the default billing and
/// shipping address.
fn address_book(addresses: &Option<Vec<CustomerAddress>>) -> Value {
    let items: Vec<Value> = addresses
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let (addressee, attention) = match (&a.company, &a.name) {
                (Some(c), p) if !c.is_empty() => (Some(c.clone()), p.clone()),
                (_, p) => (p.clone(), None),
            };
            let residential = a.company.as_deref().is_none_or(str::is_empty) || a.name.is_some();
            json!({
                "defaultBilling": i == 0,
                "defaultShipping": i == 0,
                "isResidential": residential,
                "addressBookAddress": {
                    "addressee": addressee, "attention": attention, "addr1": a.address1,
                    "addr2": a.address2, "city": a.city, "state": a.province_code,
                    "zip": a.zip, "country": a.country_code, "addrPhone": a.phone,
                },
            })
        })
        .collect();
    json!({"items": items})
}

/// Maps one NetSuite document to canonical records.
pub fn to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    let body = parse(&format!("netsuite {} {}", doc.kind, doc.id), &doc.body)?;
    Ok(match doc.kind {
        EntityKind::Variant => match read_item(cfg, &body)? {
            Ok(item) => ToCanonicalOutcome::Mapped(vec![
                canonical::record(EntityKind::Variant, &item.variant.sku, &item.variant),
                canonical::record(EntityKind::Price, &item.price.sku, &item.price),
            ]),
            Err(reason) => ToCanonicalOutcome::Skipped(reason),
        },
        EntityKind::InventoryLevel => match read_level(cfg, &body)? {
            Ok((level, _)) => ToCanonicalOutcome::Mapped(vec![canonical::record(
                EntityKind::InventoryLevel,
                &crate::shopify::level_key(&level),
                &level,
            )]),
            Err(reason) => ToCanonicalOutcome::Skipped(reason),
        },
        EntityKind::Customer => match read_customer(&body)? {
            Ok((key, fields)) => ToCanonicalOutcome::Mapped(vec![canonical::record(
                EntityKind::Customer,
                &key,
                &fields,
            )]),
            Err(reason) => ToCanonicalOutcome::Skipped(reason),
        },
        EntityKind::Order => {
            // A sales order made from a storefront order says which order NetSuite now holds
            // (the host moves the order's stock demand to NetSuite's quantities); its fields
            // flow from the storefront only, so the record carries none.
            let so = Node::root("salesOrder", &body);
            match so
                .opt_str("externalId")?
                .and_then(ids::order_id_of_external_id)
            {
                Some(key) => ToCanonicalOutcome::Mapped(vec![canonical::record(
                    EntityKind::Order,
                    &key,
                    &weft_plugin_sdk::serde_json::Map::new(),
                )]),
                None => ToCanonicalOutcome::Skipped(format!(
                    "sales order {} was not made from a storefront order",
                    doc.id
                )),
            }
        }
        EntityKind::Fulfillment => match read_fulfillment(cfg, &body)? {
            Ok((key, fields)) => ToCanonicalOutcome::Mapped(vec![canonical::record(
                EntityKind::Fulfillment,
                &key,
                &fields,
            )]),
            Err(reason) => ToCanonicalOutcome::Skipped(reason),
        },
        EntityKind::Refund => ToCanonicalOutcome::Skipped(
            "credit memos are written from storefront refunds; nothing flows back".into(),
        ),
        EntityKind::Product | EntityKind::Price => {
            return Err(ItemError::Unsupported(format!(
                "netsuite {} documents: items arrive as kind variant",
                doc.kind
            )));
        }
    })
}

/// Tracking pages of the carriers NetSuite names (`shipCarrier`), by tracking number.
fn tracking_url(carrier: Option<&str>, number: &str) -> Option<String> {
    let c = carrier?.to_ascii_lowercase();
    Some(if c.contains("ups") {
        format!("https://www.ups.com/track?tracknum={number}")
    } else if c.contains("fedex") {
        format!("https://www.fedex.com/fedextrack/?trknbr={number}")
    } else if c.contains("usps") {
        format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={number}")
    } else if c.contains("dhl") {
        format!("https://www.dhl.com/en/express/tracking.html?AWB={number}")
    } else {
        return None;
    })
}

/// Reads an item fulfilment (the connector adds `created_from_external_id`, the sales order's
/// external id): `Ok(Err(reason))` when its sales order was not made from a storefront order.
pub fn read_fulfillment(
    cfg: &Config,
    body: &Value,
) -> Result<Result<(String, FulfillmentFields), String>, ItemError> {
    let f = Node::root("itemFulfillment", body);
    let id = f.id("id")?;
    let Some(order) = f
        .opt_str("created_from_external_id")?
        .and_then(ids::order_id_of_external_id)
    else {
        return Ok(Err(format!(
            "item fulfilment {id} ships a sales order not made from a storefront order"
        )));
    };
    let mut lines = Vec::new();
    if let Some(items) = f.opt_obj("item")? {
        for l in items.opt_array("items")? {
            let item = l.obj("item")?;
            let sku = match (item.opt_str("externalId")?, item.opt_str("refName")?) {
                (Some(eid), _) => eid
                    .strip_prefix("item-")
                    .and_then(ids::unescape)
                    .ok_or_else(|| l.error(format!("item external id {eid:?} is not weft's")))?,
                (None, Some(item_id)) => match cfg.sku_of_item_id(item_id) {
                    Some(sku) => sku.to_owned(),
                    None => continue,
                },
                (None, None) => {
                    return Err(l.error("the line's item has neither externalId nor refName"));
                }
            };
            let quantity = l.i64("quantity")?;
            if quantity > 0 {
                lines.push(FulfillmentLine { sku, quantity });
            }
        }
    }
    if lines.is_empty() {
        return Ok(Err(format!("item fulfilment {id} ships no web item")));
    }
    let carrier = f.opt_str("shipCarrier")?;
    let mut tracking = Vec::new();
    if let Some(packages) = f.opt_obj("package")? {
        for p in packages.opt_array("items")? {
            if let Some(number) = p
                .opt_str("packageTrackingNumber")?
                .filter(|n| !n.is_empty())
            {
                tracking.push(Tracking {
                    number: number.to_owned(),
                    company: carrier.map(str::to_owned),
                    url: tracking_url(carrier, number),
                });
            }
        }
    }
    Ok(Ok((
        format!("{order}#{id}"),
        FulfillmentFields {
            order,
            lines,
            tracking,
        },
    )))
}

fn parse_current(req: &WriteRequest) -> Result<Option<Value>, ItemError> {
    req.current
        .as_deref()
        .map(|c| {
            parse(
                &format!("current netsuite {} {}", req.record.kind, req.record.key),
                c,
            )
        })
        .transpose()
}

fn command(
    kind: EntityKind,
    op: WriteOp,
    target_id: Option<String>,
    external_id: Option<String>,
    body: Value,
) -> WriteCommand {
    WriteCommand {
        system: SYSTEM.to_owned(),
        kind,
        op,
        target_id,
        external_id,
        body: body.to_string(),
    }
}

fn price_number(decimal: &str, what: &str) -> Result<Value, ItemError> {
    decimal_to_number(decimal)
        .ok_or_else(|| ItemError::InvalidInput(format!("{what}: {decimal:?} is not a price")))
}

/// inventoryItem upsert for a canonical `variant` or `price` record.
pub fn item_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let sku = &req.record.key;
    let current = parse_current(req)?;
    let have = match &current {
        Some(c) => read_item(cfg, c)?.ok(),
        None => None,
    };
    let current_id = match &current {
        Some(c) => Node::root("inventoryItem", c).opt_id("id")?,
        None => None,
    };
    let target_id = current_id.or_else(|| req.target_id.clone());
    let derived = ids::item_external_id(sku);
    let mut body = Map::new();
    let external_id = match (&current, have.as_ref().and_then(|h| h.external_id.clone())) {
        (_, Some(existing)) => {
            body.insert("externalId".into(), json!(existing));
            Some(existing)
        }
        // The item exists without an external id: PATCH it by id and stamp ours.
        (Some(_), None) if target_id.is_some() => {
            body.insert("externalId".into(), json!(derived));
            None
        }
        _ => {
            body.insert("externalId".into(), json!(derived));
            Some(derived)
        }
    };
    body.insert("itemId".into(), json!(cfg.item_id_of_sku(sku)));
    match req.record.kind {
        EntityKind::Variant => {
            let fields: VariantFields = canonical::parse(&req.record)?;
            let carried = canonical::carried(&req.record);
            if let Some(h) = &have {
                let want = VariantFields {
                    title: fields.title.clone().or_else(|| h.variant.title.clone()),
                    ..fields.clone()
                };
                if canonical::same_on(&want, &h.variant, &carried) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            if let Some(t) = &fields.title {
                body.insert(cfg.title_field.clone(), json!(t));
            }
            body.insert("salesDescription".into(), json!(fields.description));
            body.insert("upcCode".into(), json!(fields.barcode));
            body.insert("vendorName".into(), json!(fields.vendor));
            body.insert("isInactive".into(), json!(!fields.active));
            catalog_body(cfg, &fields, &carried, &mut body)?;
            if let (Some(group), Some(values)) = (&fields.product, &fields.option_values) {
                let parent_eid = ids::product_external_id(group);
                let parent_item = cfg.item_id_of_sku(group);
                body.insert("matrixType".into(), json!("CHILD"));
                body.insert("parent".into(), json!({"externalId": parent_eid}));
                for (option, value) in values {
                    let field = cfg.matrix_options.get(option).ok_or_else(|| {
                        ItemError::Config(format!(
                            "variant {sku}: option {option:?} is not in config key `matrix_options`"
                        ))
                    })?;
                    body.insert(format!("matrixOption{field}"), json!({"refName": value}));
                }
                // The parent is upserted first when the child does not name it yet.
                let has_parent = current
                    .as_ref()
                    .and_then(|c| c.pointer("/parent/refName"))
                    .and_then(Value::as_str)
                    == Some(parent_item.as_str());
                if !has_parent {
                    let mut parent = json!({
                        "externalId": parent_eid,
                        "itemId": parent_item,
                        "matrixType": "PARENT",
                        "isInactive": false,
                    });
                    parent[cfg.title_field.as_str()] =
                        json!(fields.title.clone().unwrap_or_else(|| group.clone()));
                    body.insert("weft:parent".into(), parent);
                }
            }
        }
        EntityKind::Price => {
            let fields =
                canonical::parse::<PriceFields>(&req.record)?.normalized(&req.record.key)?;
            if let Some(h) = &have {
                let want = PriceFields {
                    price: fields.price.clone().or_else(|| h.price.price.clone()),
                    currencies: fields
                        .currencies
                        .clone()
                        .or_else(|| h.price.currencies.clone()),
                    ..fields.clone()
                };
                if canonical::same(&want, &h.price) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            // The pricing-matrix lines to set: the storefront price's (with `price_level`) and
            // each other currency's the record carries (a currency it has no price in loses
            // its line).
            let mut lines: Vec<(&str, &str, Option<Value>)> = Vec::new();
            if let Some(p) = &fields.price {
                let number = price_number(p, &format!("price {sku}.price"))?;
                match &cfg.price_line {
                    None => {
                        body.insert("basePrice".into(), number);
                    }
                    Some((level, currency)) => lines.push((level, currency, Some(number))),
                }
            }
            if let Some(prices) = &fields.currencies {
                for (code, currency) in &cfg.currencies {
                    let Some(price) = prices.get(code) else {
                        continue;
                    };
                    let number = price
                        .as_deref()
                        .map(|p| price_number(p, &format!("price {sku}.currencies.{code}")))
                        .transpose()?;
                    lines.push((cfg.currency_level(), currency, number));
                }
            }
            if !lines.is_empty() {
                body.insert("price".into(), price_sublist(current.as_ref(), &lines));
            }
            let cap = match &fields.compare_at_price {
                Some(c) => price_number(c, &format!("price {sku}.compare_at_price"))?,
                None => Value::Null,
            };
            body.insert("custitem_compare_at_price".into(), cap);
        }
        other => {
            return Err(ItemError::Unsupported(format!(
                "netsuite item writes from canonical {other}"
            )));
        }
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        req.record.kind,
        WriteOp::Upsert,
        target_id,
        external_id,
        Value::Object(body),
    )]))
}

/// The catalog fields of an item body (those the record carries).
fn catalog_body(
    cfg: &Config,
    fields: &VariantFields,
    carried: &[String],
    body: &mut Map<String, Value>,
) -> Result<(), ItemError> {
    let has = |f: &str| carried.iter().any(|c| c == f);
    if has("product_type") {
        body.insert(PRODUCT_TYPE_FIELD.into(), json!(fields.product_type));
    }
    if has("category") {
        body.insert(CATEGORY_FIELD.into(), json!(fields.category));
    }
    if has("tags") {
        body.insert(
            TAGS_FIELD.into(),
            json!(fields.tags.as_ref().map(|t| t.join(", "))),
        );
    }
    if has("collections")
        && let (Some(field), Some(list)) = (&cfg.collections_field, &fields.collections)
    {
        let text = (!list.is_empty()).then(|| list.join(", "));
        body.insert(field.clone(), json!(text));
    }
    if has("images") {
        let text = fields
            .images
            .as_ref()
            .map(|l| weft_plugin_sdk::serde_json::to_string(l).unwrap_or_default());
        body.insert(IMAGES_FIELD.into(), json!(text));
    }
    if has("weight") {
        let weight = match &fields.weight {
            Some(w) => price_number(w, &format!("variant {}.weight", fields.sku))?,
            None => Value::Null,
        };
        body.insert("weight".into(), weight);
        let unit = fields.weight.as_ref().and_then(|_| {
            let u = fields.weight_unit.as_deref().unwrap_or("kg");
            WEIGHT_UNITS
                .iter()
                .find(|(_, n)| *n == u)
                .map(|(id, _)| json!({"id": id}))
        });
        body.insert("weightUnit".into(), unit.unwrap_or(Value::Null));
    }
    if has("seo_title") {
        body.insert(SEO_TITLE_FIELD.into(), json!(fields.seo_title));
    }
    if has("seo_description") {
        body.insert(SEO_DESCRIPTION_FIELD.into(), json!(fields.seo_description));
    }
    if has("custom")
        && let Some(custom) = &fields.custom
    {
        for (key, value) in custom {
            if let Some(field) = cfg.custom_fields.get(key) {
                body.insert(field.clone(), json!(value));
            }
        }
    }
    Ok(())
}

/// inventoryAdjustment (a delta) for a canonical `inventory-level`.
pub fn level_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: LevelFields = canonical::parse(&req.record)?;
    let mut item_id = req
        .target_id
        .as_deref()
        .and_then(|t| t.split_once('@'))
        .map(|(item, _)| item.to_owned());
    // An adjustment moves on hand, and so what the level can sell, one for one.
    let mut sellable = 0;
    if let Some(c) = parse_current(req)? {
        let l = Node::root("inventory_level", &c);
        if let Some(id) = l.opt_id("item_id")? {
            item_id = Some(id);
        }
        sellable = available_to_sell(&l)?;
    }
    let delta = fields.quantity.checked_sub(sellable).ok_or_else(|| {
        ItemError::InvalidInput(format!(
            "inventory-level {}: quantity delta overflows",
            req.record.key
        ))
    })?;
    if delta == 0 {
        return Ok(FromCanonicalOutcome::Commands(vec![]));
    }
    let item = match &item_id {
        Some(id) => json!({"id": id}),
        None => json!({"externalId": ids::item_external_id(&fields.sku)}),
    };
    let body = json!({
        "adjLocation": {"id": fields.location},
        "memo": format!("weft stock sync {}", cfg.item_id_of_sku(&fields.sku)),
        "inventory": {"items": [{
            "item": item,
            "location": {"id": fields.location},
            "adjustQtyBy": delta,
        }]},
    });
    let target = item_id
        .map(|i| format!("{i}@{}", fields.location))
        .or_else(|| req.target_id.clone());
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::InventoryLevel,
        WriteOp::AdjustQuantity,
        target,
        None,
        body,
    )]))
}

/// customer upsert for a canonical `customer`.
pub fn customer_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: CustomerFields = canonical::parse(&req.record)?;
    let carried = canonical::carried(&req.record);
    let mut target_id = req.target_id.clone();
    let mut current_book = None;
    if let Some(c) = parse_current(req)? {
        if let Some(id) = Node::root("customer", &c).opt_id("id")? {
            target_id = Some(id);
        }
        current_book = c.get("addressBook").cloned();
        if let Ok((_, have)) = read_customer(&c)?
            && canonical::same_on(&fields, &have, &carried)
        {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let eid = ids::customer_external_id(&req.record.key);
    let mut body = json!({
        "externalId": eid,
        "firstName": fields.first_name,
        "lastName": fields.last_name,
        "email": fields.email,
        "phone": fields.phone,
        "isPerson": true,
    });
    if let Some(s) = &cfg.subsidiary {
        body["subsidiary"] = json!({"id": s});
    }
    let has = |f: &str| carried.iter().any(|c| c == f);
    if has("tags") {
        body[CUSTOMER_TAGS_FIELD] = json!(fields.tags.as_ref().map(|t| t.join(", ")));
    }
    if has("tax_exempt")
        && let Some(t) = fields.tax_exempt
    {
        body["taxable"] = json!(!t);
    }
    if has("email_marketing")
        && let Some(id) = fields
            .email_marketing
            .as_deref()
            .and_then(subscription_status)
    {
        body["globalSubscriptionStatus"] = json!({"id": id});
    }
    // The upsert replaces the address book: a record without addresses (older than them)
    // keeps the one the customer has. The customer's company is its default address's.
    if has("addresses") {
        body["companyName"] = json!(
            fields
                .addresses
                .as_ref()
                .and_then(|a| a.first())
                .and_then(|a| a.company.clone())
        );
        body["addressBook"] = address_book(&fields.addresses);
    } else if let Some(book) = current_book.filter(|b| b.get("items").is_some()) {
        body["addressBook"] = keep_book(&book);
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Customer,
        WriteOp::Upsert,
        target_id,
        Some(eid),
        body,
    )]))
}

/// The address book a customer has, as a body that writes it back unchanged.
fn keep_book(book: &Value) -> Value {
    let items: Vec<Value> = book["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if let Some(o) = l.as_object_mut() {
                o.remove("links");
                if let Some(a) = o
                    .get_mut("addressBookAddress")
                    .and_then(Value::as_object_mut)
                {
                    a.remove("links");
                    a.remove("addrText");
                }
            }
            l
        })
        .collect();
    json!({"items": items})
}

/// The salesOrder body for a canonical order.
pub fn order_body(cfg: &Config, key: &str, o: &OrderFields) -> Result<Value, ItemError> {
    let entity = match (&o.customer, &cfg.default_customer) {
        (Some(c), _) => json!({"externalId": ids::customer_external_id(c)}),
        (None, Some(d)) => json!({"id": d}),
        (None, None) => {
            return Err(ItemError::Config(format!(
                "order {key} ({}) has no customer and config key `default_customer` is not set",
                o.name
            )));
        }
    };
    let tran_date = match o.created_at.get(..10) {
        Some(d) if weft_plugin_sdk::time::parse_rfc3339(&o.created_at).is_some() => d,
        _ => {
            return Err(ItemError::InvalidInput(format!(
                "order {key}.created_at: expected RFC 3339, found {:?}",
                o.created_at
            )));
        }
    };
    let mut items = Vec::with_capacity(o.lines.len());
    for (i, line) in o.lines.iter().enumerate() {
        let what = format!("order {key}.lines[{i}]");
        let rate = price_number(&line.price, &format!("{what}.price"))?;
        let amount = amount(&line.price, line.quantity)
            .ok_or_else(|| ItemError::InvalidInput(format!("{what}: amount overflows")))?;
        // A line edited or cancelled down in the storefront (`current_quantity`) orders fewer
        // units, so NetSuite commits fewer; one with none left is closed (its commitment
        // released). Its amount stays what the buyer was charged: money removed units give
        // back travels as the storefront's refund (a credit memo), never twice.
        let kept = line.current_quantity.unwrap_or(line.quantity);
        let mut l = json!({
            "item": {"externalId": ids::item_external_id(&line.sku)},
            "quantity": if kept > 0 { kept } else { line.quantity },
            "rate": rate,
            "amount": price_number(&amount, &format!("{what}.amount"))?,
        });
        if kept <= 0 && line.quantity > 0 {
            l["isClosed"] = json!(true);
        }
        items.push(l);
    }
    let mut body = json!({
        "externalId": ids::order_external_id(key),
        "entity": entity,
        "tranDate": tran_date,
        "memo": o.name,
        "otherRefNum": o.name,
        "item": {"items": items},
        "custbody_shopify_financial_status": o.financial_status,
        "custbody_shopify_currency": o.currency,
        "custbody_shopify_total": price_number(&o.total_price, &format!("order {key}.total_price"))?,
    });
    if o.cancelled {
        body["orderStatus"] = json!("C");
    }
    if let Some(l) = &o.location {
        body["location"] = json!({"id": l});
    }
    if let Some(s) = &cfg.subsidiary {
        body["subsidiary"] = json!({"id": s});
    }
    crate::orders::sales_order_fields(cfg, key, o, &mut body)?;
    Ok(body)
}

/// `price × quantity` exactly, as a normalised decimal string.
fn amount(price: &str, quantity: i64) -> Option<String> {
    let (neg, digits) = match price.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, price),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = frac.len() as u32;
    let units: i128 = format!("{int}{frac}").parse().ok()?;
    let total = units.checked_mul(i128::from(quantity))?;
    let total = if neg { -total } else { total };
    let div = 10i128.checked_pow(scale)?;
    let sign = if total < 0 { "-" } else { "" };
    let t = total.abs();
    let text = if scale == 0 {
        format!("{sign}{t}")
    } else {
        format!(
            "{sign}{}.{:0width$}",
            t / div,
            t % div,
            width = scale as usize
        )
    };
    weft_plugin_sdk::json::normalize_decimal(&text)
}

/// Whether the current salesOrder already holds what `want` would write.
fn order_matches(cfg: &Config, want: &Value, current: &Value) -> bool {
    let scalar = [
        "tranDate",
        "memo",
        "otherRefNum",
        "custbody_shopify_financial_status",
        "custbody_shopify_currency",
        "custbody_shopify_total",
    ];
    if !scalar
        .iter()
        .all(|k| same_value(&want[*k], current.get(*k).unwrap_or(&Value::Null)))
    {
        return false;
    }
    if want.get("orderStatus").is_some() && current.get("orderStatus") != want.get("orderStatus") {
        return false;
    }
    let want_lines = want["item"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let have_lines = current
        .get("item")
        .and_then(|i| i.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    want_lines.len() == have_lines.len()
        && want_lines.iter().zip(&have_lines).all(|(w, h)| {
            let item_ok = match (h["item"].get("externalId"), h["item"].get("refName")) {
                (Some(eid), _) => eid == &w["item"]["externalId"],
                (None, Some(Value::String(name))) => {
                    // refName is the itemId; compare with the prefix applied to the line's sku.
                    w["item"]["externalId"]
                        .as_str()
                        .and_then(|e| e.strip_prefix("item-"))
                        .and_then(ids::unescape)
                        .is_some_and(|sku| *name == cfg.item_id_of_sku(&sku))
                }
                _ => true,
            };
            item_ok
                && same_value(&w["quantity"], &h["quantity"])
                && same_value(&w["rate"], &h["rate"])
                && (w.get("isClosed") != Some(&json!(true))
                    || h.get("isClosed") == Some(&json!(true)))
        })
}

/// Whether a sales order shipped any of its lines.
fn shipped_any(so: &Value) -> bool {
    so.pointer("/item/items")
        .and_then(Value::as_array)
        .is_some_and(|lines| {
            lines.iter().any(|l| {
                l.get("quantityFulfilled")
                    .and_then(Value::as_f64)
                    .is_some_and(|q| q > 0.0)
            })
        })
}

/// A line the storefront cut below what NetSuite already shipped of it (an edit that raced the
/// warehouse): NetSuite refuses to shrink a line below its fulfilled quantity, and shipped units
/// cannot be unshipped, so the line keeps what shipped and is closed (nothing more of it is
/// committed). Units the edit removed that had shipped come back, if at all, as a return (the
/// storefront's refund with restock). Lines are matched by position, as weft writes them.
fn keep_shipped(body: &mut Value, current: &Value) {
    let shipped: Vec<f64> = current
        .pointer("/item/items")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    l.get("quantityFulfilled")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .unwrap_or_default();
    let lines = body
        .pointer_mut("/item/items")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for (line, shipped) in lines.zip(shipped) {
        let ordered = line.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
        if shipped > 0.0 && ordered < shipped {
            line["quantity"] = json!(shipped.round() as i64);
            line["isClosed"] = json!(true);
        }
    }
}

/// salesOrder upsert for a canonical `order`.
pub fn order_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: OrderFields = canonical::parse(&req.record)?;
    let mut body = order_body(cfg, &req.record.key, &fields)?;
    let mut target_id = req.target_id.clone();
    if let Some(c) = parse_current(req)? {
        if let Some(id) = Node::root("salesOrder", &c).opt_id("id")? {
            target_id = Some(id);
        }
        if fields.cancelled && shipped_any(&c) {
            // NetSuite refuses to cancel a sales order that shipped anything: what is left
            // to ship is closed instead, which releases its commitment all the same.
            if let Some(o) = body.as_object_mut() {
                o.remove("orderStatus");
            }
            for line in body
                .pointer_mut("/item/items")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                line["isClosed"] = json!(true);
            }
        }
        keep_shipped(&mut body, &c);
        if order_matches(cfg, &body, &c) && crate::orders::checkout_matches(&body, &c) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let eid = ids::order_external_id(&req.record.key);
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Order,
        WriteOp::Upsert,
        target_id,
        Some(eid),
        body,
    )]))
}

/// The creditMemo body for a canonical refund: a stand-alone credit memo returns its
/// inventory item lines to stock, so only restocked lines name their item (at the location
/// they return to); the others credit their amount on the store's non-inventory
/// `refund_item`, described with the sku, and move no stock.
pub fn refund_body(cfg: &Config, key: &str, r: &RefundFields) -> Result<Value, ItemError> {
    let entity = match (&r.customer, &cfg.default_customer) {
        (Some(c), _) => json!({"externalId": ids::customer_external_id(c)}),
        (None, Some(d)) => json!({"id": d}),
        (None, None) => {
            return Err(ItemError::Config(format!(
                "refund {key} of order {} has no customer and config key `default_customer` is not set",
                r.order_name
            )));
        }
    };
    let tran_date = match r.created_at.get(..10) {
        Some(d) if weft_plugin_sdk::time::parse_rfc3339(&r.created_at).is_some() => d,
        _ => {
            return Err(ItemError::InvalidInput(format!(
                "refund {key}.created_at: expected RFC 3339, found {:?}",
                r.created_at
            )));
        }
    };
    let mut items = Vec::with_capacity(r.lines.len());
    for (i, line) in r.lines.iter().enumerate() {
        let what = format!("refund {key}.lines[{i}]");
        let amount = price_number(&line.amount, &format!("{what}.amount"))?;
        if line.restock {
            let mut l = json!({
                "item": {"externalId": ids::item_external_id(&line.sku)},
                "quantity": line.quantity,
                "amount": amount,
            });
            if let Some(loc) = &line.location {
                l["location"] = json!({"id": loc});
            }
            items.push(l);
        } else {
            let Some(item) = &cfg.refund_item else {
                return Err(ItemError::Config(format!(
                    "{what} ({} × {}, {}) is not returned to stock and config key `refund_item` (a non-inventory item) is not set",
                    line.quantity, line.sku, line.restock_type
                )));
            };
            items.push(json!({
                "item": {"id": item},
                "quantity": line.quantity,
                "amount": amount,
                "description": format!("{} not returned ({})", line.sku, line.restock_type),
            }));
        }
    }
    let mut body = json!({
        "externalId": ids::refund_external_id(key),
        "entity": entity,
        "tranDate": tran_date,
        "memo": format!("Refund of {}", r.order_name),
        "otherRefNum": r.order_name,
        "item": {"items": items},
        "custbody_shopify_currency": r.currency,
        "custbody_weft_order": ids::order_external_id(&r.order),
    });
    if let Some(s) = &cfg.subsidiary {
        body["subsidiary"] = json!({"id": s});
    }
    Ok(body)
}

/// creditMemo upsert for a canonical `refund`, once: a refund never changes, so a credit
/// memo weft already wrote (`current` or a cross-reference known) is not written again. The
/// external id comes from the refund's id, so a resend re-posts the same lines (NetSuite
/// applies the difference: nothing) and never returns stock twice.
pub fn refund_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    if req.current.is_some() || req.target_id.is_some() {
        return Ok(FromCanonicalOutcome::Commands(vec![]));
    }
    let fields: RefundFields = canonical::parse(&req.record)?;
    let body = refund_body(cfg, &req.record.key, &fields)?;
    let eid = ids::refund_external_id(&req.record.key);
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Refund,
        WriteOp::Upsert,
        None,
        Some(eid),
        body,
    )]))
}

/// The delete of a record another system deleted ([`WriteRequest::deleted`]): an item or a
/// customer by its internal id (the connector keeps it inactive when transactions depend on
/// it). A matrix parent is not removed by a product's deletion: its children are, one by one.
pub fn delete_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    if !matches!(req.record.kind, EntityKind::Variant | EntityKind::Customer) {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "{} records are not removed from netsuite",
            req.record.kind.as_str()
        )));
    }
    Ok(match req.delete_command(&json!({})) {
        Some(cmd) => FromCanonicalOutcome::Commands(vec![cmd]),
        None => FromCanonicalOutcome::Skipped("no netsuite id is known for it".into()),
    })
}

/// Canonical record → NetSuite commands.
pub fn from_canonical(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    match req.record.kind {
        EntityKind::Variant | EntityKind::Price => item_write(cfg, req),
        EntityKind::InventoryLevel => level_write(cfg, req),
        EntityKind::Customer => customer_write(cfg, req),
        EntityKind::Order => order_write(cfg, req),
        EntityKind::Fulfillment => Ok(FromCanonicalOutcome::Commands(vec![])),
        EntityKind::Refund => refund_write(cfg, req),
        EntityKind::Product => Err(ItemError::Unsupported(
            "canonical product records: this mapper syncs variants and prices".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::amount;

    #[test]
    fn amounts_are_exact() {
        assert_eq!(amount("49.00", 2).as_deref(), Some("98.00"));
        assert_eq!(amount("0.10", 3).as_deref(), Some("0.30"));
        assert_eq!(amount("1.2345", 3).as_deref(), Some("3.7035"));
        assert_eq!(amount("-5.50", 2).as_deref(), Some("-11.00"));
        assert_eq!(amount("19.99", 0).as_deref(), Some("0.00"));
    }
}
