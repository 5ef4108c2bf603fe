//! Shopify side: REST/webhook-shaped documents (`docs/document-shapes.md` §1.1) to canonical
//! records, and canonical records to Shopify write commands (§3.2).

use std::collections::BTreeMap;

use crate::canonical::{
    self, CustomerAddress, CustomerFields, Image, LevelFields, OrderFields, OrderLine, PriceFields,
    VariantFields,
};
use crate::config::Config;
use weft_plugin_sdk::json::{Node, parse};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The system name.
pub const SYSTEM: &str = "shopify";

/// One variant of a Shopify product, read into canonical fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductVariant {
    /// Canonical variant fields (product-level fields repeated).
    pub variant: VariantFields,
    /// Canonical price fields.
    pub price: PriceFields,
    /// Shopify variant id.
    pub variant_id: Option<String>,
}

/// A Shopify product, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Product id.
    pub id: Option<String>,
    /// Shopify status (`active`, `draft`, `archived`).
    pub status: String,
    /// Variants that carry a SKU, in order.
    pub variants: Vec<ProductVariant>,
    /// Names of the product's options (empty for a product with only Shopify's default
    /// `Title` option).
    pub options: Vec<String>,
    /// Canonical fields the document did not deliver (a webhook has no SEO fields and no
    /// metafields).
    pub undelivered: Vec<&'static str>,
}

/// Tags as a sorted, de-duplicated list; `None` when there are none.
pub fn tag_list(text: Option<&str>) -> Option<Vec<String>> {
    let mut tags: Vec<String> = text
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tags.sort();
    tags.dedup();
    (!tags.is_empty()).then_some(tags)
}

/// A weight as a canonical decimal, `None` when zero or absent.
pub fn weight_of(n: &Node<'_>, field: &str) -> Result<Option<String>, ItemError> {
    let w = n.opt_decimal(field)?;
    Ok(w.filter(|d| d.parse::<f64>().is_ok_and(|x| x != 0.0)))
}

/// Reads a product body; variants without a SKU are left out.
pub fn read_product(cfg: &Config, body: &Value) -> Result<Product, ItemError> {
    let p = Node::root("product", body);
    let id = p.opt_id("id")?;
    let title = p.opt_str("title")?.map(str::to_owned);
    let description = p.opt_str("body_html")?.map(str::to_owned);
    let vendor = p.opt_str("vendor")?.map(str::to_owned);
    let status = p.opt_str("status")?.unwrap_or("active").to_owned();
    let mut options: Vec<String> = Vec::new();
    for o in p.opt_array("options")? {
        options.push(o.str("name")?.to_owned());
    }
    if options.len() == 1 && options[0] == "Title" {
        options.clear();
    }
    let handle = p.opt_str("handle")?.map(str::to_owned);
    let product = if options.is_empty() {
        None
    } else {
        Some(handle.clone().ok_or_else(|| {
            p.error("a product with options needs a handle: it names the option group")
        })?)
    };
    let product_type = p.opt_str("product_type")?.map(str::to_owned);
    let tags = tag_list(p.opt_str("tags")?);
    let mut images = Vec::new();
    for i in p.opt_array("images")? {
        images.push(Image {
            url: i.str("url")?.to_owned(),
            alt: i.opt_str("alt")?.map(str::to_owned),
        });
    }
    let images = (!images.is_empty()).then_some(images);
    let mut undelivered = Vec::new();
    let category = if body.get("category").is_some() {
        p.opt_str("category")?.map(str::to_owned)
    } else {
        undelivered.push("category");
        None
    };
    let (seo_title, seo_description) = match p.opt_obj("seo")? {
        Some(seo) => (
            seo.opt_str("title")?.map(str::to_owned),
            seo.opt_str("description")?.map(str::to_owned),
        ),
        None => {
            undelivered.extend(["seo_title", "seo_description"]);
            (None, None)
        }
    };
    let custom = if cfg.custom_fields.is_empty() {
        None
    } else if body.get("metafields").is_some() {
        let mut have: BTreeMap<String, Option<String>> = cfg
            .custom_fields
            .keys()
            .map(|k| (k.clone(), None))
            .collect();
        for m in p.opt_array("metafields")? {
            if m.opt_str("namespace")? != Some(cfg.metafield_namespace.as_str()) {
                continue;
            }
            if let Some(slot) = have.get_mut(m.str("key")?) {
                *slot = m.opt_str("value")?.map(str::to_owned);
            }
        }
        Some(have)
    } else {
        undelivered.push("custom");
        None
    };
    // The other currencies' fixed prices, when the document carries each mapped currency's
    // (a read does when the connector syncs it; a webhook never does).
    let price_lists = if cfg.currencies.is_empty() {
        None
    } else {
        match p.opt_obj("price_lists")? {
            Some(lists)
                if cfg
                    .currencies
                    .keys()
                    .all(|c| lists.value().get(c).is_some()) =>
            {
                Some(lists)
            }
            _ => None,
        }
    };
    // Collections: the custom ones the product is in, when the config maps them and the
    // document carries them (a read does; a webhook never).
    let collections = match (&cfg.collections_field, body.get("collections")) {
        (None, _) => None,
        (Some(_), None) => {
            undelivered.push("collections");
            None
        }
        (Some(_), Some(_)) => {
            let mut list = Vec::new();
            for c in p.opt_array("collections")? {
                list.push(
                    c.value()
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| c.error("expected a collection handle (a string)"))?,
                );
            }
            list.sort();
            list.dedup();
            Some(list)
        }
    };
    let mut variants: Vec<ProductVariant> = Vec::new();
    for v in p.opt_array("variants")? {
        let Some(sku) = v.opt_str("sku")? else {
            continue;
        };
        if let Some(first) = variants.iter().position(|x| x.variant.sku == sku) {
            return Err(v.error(format!(
                "sku {sku:?} repeats product.variants[{first}]; a sku must identify one variant"
            )));
        }
        let option_values = if options.is_empty() {
            None
        } else {
            let mut values = BTreeMap::new();
            for (i, name) in options.iter().enumerate() {
                let value = v.opt_str(&format!("option{}", i + 1))?.ok_or_else(|| {
                    v.error(format!("no value for option {name:?} (option{})", i + 1))
                })?;
                values.insert(name.clone(), value.to_owned());
            }
            Some(values)
        };
        let weight = weight_of(&v, "weight")?;
        let weight_unit = match &weight {
            Some(_) => v.opt_str("weight_unit")?.map(str::to_owned),
            None => None,
        };
        variants.push(ProductVariant {
            variant: VariantFields {
                sku: sku.to_owned(),
                title: title.clone(),
                description: description.clone(),
                vendor: vendor.clone(),
                barcode: v.opt_str("barcode")?.map(str::to_owned),
                active: status == "active",
                product: product.clone(),
                option_values,
                product_type: product_type.clone(),
                category: category.clone(),
                tags: tags.clone(),
                weight,
                weight_unit,
                images: images.clone(),
                seo_title: seo_title.clone(),
                seo_description: seo_description.clone(),
                custom: custom.clone(),
                collections: collections.clone(),
            },
            price: PriceFields {
                sku: sku.to_owned(),
                price: v.opt_decimal("price")?,
                compare_at_price: v.opt_decimal("compare_at_price")?,
                currencies: match (&price_lists, v.opt_id("id")?) {
                    (Some(lists), Some(id)) => {
                        let mut out = BTreeMap::new();
                        for code in cfg.currencies.keys() {
                            let price = match lists.opt_obj(code)? {
                                Some(list) => match list.opt_obj(&id)? {
                                    Some(fixed) => fixed.opt_decimal("price")?,
                                    None => None,
                                },
                                None => None,
                            };
                            out.insert(code.clone(), price);
                        }
                        Some(out)
                    }
                    _ => None,
                },
            }
            .marked_down(),
            variant_id: v.opt_id("id")?,
        });
    }
    Ok(Product {
        id,
        status,
        variants,
        options,
        undelivered,
    })
}

/// A Shopify inventory level, read: `Ok(Err(reason))` when it is deliberately not synced.
pub fn read_level(
    cfg: &Config,
    body: &Value,
) -> Result<Result<(LevelFields, String), String>, ItemError> {
    let l = Node::root("inventory_level", body);
    let item = l.id("inventory_item_id")?;
    let location = l.id("location_id")?;
    let Some(sku) = l.opt_str("sku")? else {
        return Ok(Err(format!("inventory item {item} has no sku")));
    };
    let Some(ns_location) = cfg.to_netsuite_location.get(&location) else {
        return Ok(Err(format!(
            "shopify location {location} is not in config key `locations`"
        )));
    };
    let Some(quantity) = l.opt_i64("available")? else {
        return Ok(Err(format!(
            "inventory item {item} is not tracked at location {location}"
        )));
    };
    Ok(Ok((
        LevelFields {
            sku: sku.to_owned(),
            location: ns_location.clone(),
            quantity,
        },
        item,
    )))
}

/// Reads a customer body into its id and canonical fields.
pub fn read_customer(body: &Value) -> Result<(String, CustomerFields), ItemError> {
    let c = Node::root("customer", body);
    let mut default = Vec::new();
    let mut others = Vec::new();
    for a in c.opt_array("addresses")? {
        let text =
            |f: &str| -> Result<Option<String>, ItemError> { Ok(a.opt_str(f)?.map(str::to_owned)) };
        let name = [a.opt_str("first_name")?, a.opt_str("last_name")?]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let address = CustomerAddress {
            name: (!name.is_empty()).then_some(name),
            company: text("company")?,
            address1: text("address1")?,
            address2: text("address2")?,
            city: text("city")?,
            province_code: text("province_code")?,
            country_code: text("country_code")?,
            zip: text("zip")?,
            phone: text("phone")?,
        };
        if a.opt_bool("default")? == Some(true) && default.is_empty() {
            default.push(address);
        } else {
            others.push(address);
        }
    }
    default.extend(others);
    Ok((
        c.id("id")?,
        CustomerFields {
            email: c.opt_str("email")?.map(str::to_owned),
            first_name: c.opt_str("first_name")?.map(str::to_owned),
            last_name: c.opt_str("last_name")?.map(str::to_owned),
            phone: c.opt_str("phone")?.map(str::to_owned),
            addresses: (!default.is_empty()).then_some(default),
            tags: tag_list(c.opt_str("tags")?),
            tax_exempt: c.opt_bool("tax_exempt")?,
            email_marketing: c.opt_str("email_marketing")?.map(|m| match m {
                // Shopify's own states: erased or undeliverable addresses get no mail.
                "redacted" | "invalid" => "unsubscribed".to_owned(),
                other => other.to_owned(),
            }),
        },
    ))
}

/// The consent state a Shopify customer can be brought to for `want`, given the state `have`:
/// the API sets subscribed, unsubscribed and pending, never not_subscribed, so a customer who
/// had consented and is now not to be mailed becomes unsubscribed, and one not mailed already
/// stays as they are.
fn reachable_consent(want: Option<&str>, have: Option<&str>) -> Option<String> {
    match (want, have) {
        (Some("not_subscribed"), Some("subscribed" | "pending")) => Some("unsubscribed".into()),
        (Some("not_subscribed"), have) => have.map(str::to_owned),
        (want, _) => want.map(str::to_owned),
    }
}

/// A canonical address's person split into Shopify's given and family name (the last word is
/// the family name).
fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => (None, None),
        Some(n) => match n.rsplit_once(' ') {
            Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
            None => (None, Some(n.to_owned())),
        },
    }
}

/// Reads an order body into its id and canonical fields.
pub fn read_order(body: &Value) -> Result<(String, OrderFields), ItemError> {
    let o = Node::root("order", body);
    let customer = match o.opt_obj("customer")? {
        Some(c) => c.opt_id("id")?,
        None => None,
    };
    // Units of each line refunded after they shipped (`return`, `no_restock`,
    // `legacy_restock`): Shopify's `current_quantity` leaves them out, the sales order keeps
    // them (they were sold). Without the order's refunds the current quantity cannot be told
    // apart from them, so it is not read.
    let mut refunded_shipped: Option<std::collections::BTreeMap<String, i64>> = None;
    if body.get("refunds").is_some_and(Value::is_array) {
        let mut m = std::collections::BTreeMap::new();
        for r in o.opt_array("refunds")? {
            for l in r.array("lines")? {
                if l.opt_str("restock_type")? != Some("cancel") {
                    *m.entry(l.id("line_item_id")?).or_default() += l.i64("quantity")?;
                }
            }
        }
        refunded_shipped = Some(m);
    }
    let cancelled = o.opt_str("cancelled_at")?.is_some();
    let mut lines = Vec::new();
    for li in o.array("line_items")? {
        let quantity = li.i64("quantity")?;
        let current_quantity = match (&refunded_shipped, li.opt_i64("current_quantity")?) {
            // A cancelled order is cancelled whole (`cancelled`), its lines as ordered.
            (Some(m), Some(c)) if !cancelled => {
                let kept = c + m.get(&li.id("id")?).copied().unwrap_or(0);
                (kept != quantity).then_some(kept.clamp(0, quantity))
            }
            _ => None,
        };
        lines.push(OrderLine {
            current_quantity,
            sku: li.str("sku").and_then(|s| {
                if s.is_empty() {
                    Err(ItemError::InvalidInput(format!(
                        "{}.sku: empty; every line must name a sku to become a netsuite item",
                        li.path()
                    )))
                } else {
                    Ok(s.to_owned())
                }
            })?,
            quantity,
            price: li.decimal("price")?,
            ..OrderLine::default()
        });
    }
    let mut fields = OrderFields {
        name: o.str("name")?.to_owned(),
        email: o.opt_str("email")?.map(str::to_owned),
        customer,
        created_at: o.str("created_at")?.to_owned(),
        currency: o.str("currency")?.to_owned(),
        total_price: o.decimal("total_price")?,
        financial_status: o.opt_str("financial_status")?.map(str::to_owned),
        cancelled,
        lines,
        ..OrderFields::default()
    };
    crate::orders::read_checkout(&o, &mut fields)?;
    Ok((o.id("id")?, fields))
}

/// The refunds an order document carries (`refunds`, see README "document shapes"), as
/// canonical `refund` records keyed `<order key>#<refund id>`. A line's amount is its
/// `subtotal`, else the order line's price × quantity; a `return` line goes back to stock at
/// its restock location mapped to NetSuite (else the order's); `cancel` (never shipped) and
/// `no_restock` lines move no stock.
pub fn read_refunds(
    cfg: &Config,
    body: &Value,
    order_key: &str,
    order: &crate::canonical::OrderFields,
) -> Result<Vec<(String, crate::canonical::RefundFields)>, ItemError> {
    use crate::canonical::{RefundFields, RefundLine};
    let o = Node::root("order", body);
    let mut prices = std::collections::BTreeMap::new();
    for li in o.array("line_items")? {
        prices.insert(li.id("id")?, li.decimal("price")?);
    }
    let mut out = Vec::new();
    for r in o.opt_array("refunds")? {
        let id = r.id("id")?;
        let mut lines = Vec::new();
        for l in r.array("lines")? {
            let line_item = l.id("line_item_id")?;
            let sku = match l.opt_str("sku")? {
                Some(s) if !s.is_empty() => s.to_owned(),
                _ => return Err(l.error("sku: a refunded line must name a sku")),
            };
            let quantity = l.i64("quantity")?;
            let amount = match l.opt_decimal("subtotal")? {
                Some(a) => a,
                None => prices
                    .get(&line_item)
                    .and_then(|p| crate::orders::times(p, quantity))
                    .ok_or_else(|| l.error("line_item_id: not a line of the order"))?,
            };
            let restock_type = l
                .opt_str("restock_type")?
                .unwrap_or("no_restock")
                .to_owned();
            let restock = matches!(restock_type.as_str(), "return" | "legacy_restock");
            let location = if restock {
                cfg.order_location(l.opt_id("location_id")?.as_deref())
                    .or_else(|| order.location.clone())
            } else {
                None
            };
            lines.push(RefundLine {
                sku,
                quantity,
                restock,
                restock_type,
                amount,
                location,
            });
        }
        let amount = crate::orders::sum(lines.iter().map(|l| l.amount.as_str()))
            .ok_or_else(|| r.error("lines: amounts do not add up"))?;
        out.push((
            format!("{order_key}#{id}"),
            RefundFields {
                order: order_key.to_owned(),
                order_name: order.name.clone(),
                customer: order.customer.clone(),
                created_at: r
                    .opt_str("created_at")?
                    .unwrap_or(&order.created_at)
                    .to_owned(),
                currency: order.currency.clone(),
                amount,
                note: r.opt_str("note")?.map(str::to_owned),
                lines,
            },
        ));
    }
    Ok(out)
}

/// Maps one Shopify document to canonical records.
pub fn to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    let body = parse(&format!("shopify {} {}", doc.kind, doc.id), &doc.body)?;
    Ok(match doc.kind {
        EntityKind::Product => {
            let product = read_product(cfg, &body)?;
            if product.variants.is_empty() {
                return Ok(ToCanonicalOutcome::Skipped(format!(
                    "product {} has no variant with a sku",
                    doc.id
                )));
            }
            let mut records = Vec::with_capacity(product.variants.len() * 2);
            for v in &product.variants {
                records.push(canonical::record_without(
                    EntityKind::Variant,
                    &v.variant.sku,
                    &v.variant,
                    &product.undelivered,
                ));
                records.push(canonical::record(EntityKind::Price, &v.price.sku, &v.price));
            }
            ToCanonicalOutcome::Mapped(records)
        }
        EntityKind::InventoryLevel => match read_level(cfg, &body)? {
            Ok((level, _)) => ToCanonicalOutcome::Mapped(vec![canonical::record(
                EntityKind::InventoryLevel,
                &level_key(&level),
                &level,
            )]),
            Err(reason) => ToCanonicalOutcome::Skipped(reason),
        },
        EntityKind::Customer => {
            let (id, fields) = read_customer(&body)?;
            ToCanonicalOutcome::Mapped(vec![canonical::record(EntityKind::Customer, &id, &fields)])
        }
        EntityKind::Order => {
            let (id, mut fields) = read_order(&body)?;
            let shop_location = Node::root("order", &body).opt_id("location_id")?;
            fields.location = cfg.order_location(shop_location.as_deref());
            let mut records = vec![canonical::record(EntityKind::Order, &id, &fields)];
            for (key, refund) in read_refunds(cfg, &body, &id, &fields)? {
                records.push(canonical::record(EntityKind::Refund, &key, &refund));
            }
            ToCanonicalOutcome::Mapped(records)
        }
        EntityKind::Variant | EntityKind::Price => {
            return Err(ItemError::Unsupported(format!(
                "shopify {} documents: variants and prices arrive inside their product",
                doc.kind
            )));
        }
        EntityKind::Fulfillment => {
            ToCanonicalOutcome::Skipped("fulfilments flow from netsuite to shopify only".into())
        }
        EntityKind::Refund => {
            return Err(ItemError::Unsupported(
                "shopify refund documents: refunds arrive inside their order".into(),
            ));
        }
    })
}

/// The canonical key of an inventory level.
pub fn level_key(level: &LevelFields) -> String {
    format!("{}@{}", level.sku, level.location)
}

fn parse_current(req: &WriteRequest) -> Result<Option<Value>, ItemError> {
    crate::canonical::current_doc(req, SYSTEM)
}

fn command(kind: EntityKind, op: WriteOp, target_id: Option<String>, body: Value) -> WriteCommand {
    crate::canonical::write_command(SYSTEM, kind, op, target_id, body)
}

/// The status to write for `active`, given the product's current status (if it exists).
fn status_for(active: bool, current: Option<&str>) -> &'static str {
    match (active, current) {
        (true, _) => "active",
        (false, Some("draft")) => "draft",
        (false, Some("archived")) => "archived",
        (false, Some(_)) => "archived",
        (false, None) => "draft",
    }
}

/// The delete of a record another system deleted ([`WriteRequest::deleted`]): a variant by
/// its id in the product weft knows it in (`target_id`, the product), found by SKU in the
/// product's current document; a product or a customer by its id.
pub fn delete_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let body = match req.record.kind {
        EntityKind::Variant => {
            let Some(product) = parse_current(req)?
                .map(|c| read_product(cfg, &c))
                .transpose()?
            else {
                return Ok(FromCanonicalOutcome::Skipped(format!(
                    "variant {}: weft holds no document of its product to find it in",
                    req.record.key
                )));
            };
            let Some(id) = product
                .variants
                .iter()
                .find(|v| v.variant.sku == req.record.key)
                .and_then(|v| v.variant_id.clone())
            else {
                return Ok(FromCanonicalOutcome::Skipped(format!(
                    "variant {}: its product no longer lists it",
                    req.record.key
                )));
            };
            json!({"variant_id": id, "sku": req.record.key})
        }
        EntityKind::Product | EntityKind::Customer => json!({}),
        other => {
            return Ok(FromCanonicalOutcome::Skipped(format!(
                "{} records are not removed from shopify",
                other.as_str()
            )));
        }
    };
    Ok(match req.delete_command(&body) {
        Some(cmd) => FromCanonicalOutcome::Commands(vec![cmd]),
        None => FromCanonicalOutcome::Skipped("no shopify id is known for it".into()),
    })
}

/// `productSet` for a canonical `variant` or `price` record.
pub fn product_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let current_json = parse_current(req)?;
    let current = current_json
        .as_ref()
        .map(|c| read_product(cfg, c))
        .transpose()?;
    let sku = &req.record.key;
    let existing = current
        .as_ref()
        .and_then(|p| p.variants.iter().find(|v| &v.variant.sku == sku));
    let product_id = current
        .as_ref()
        .and_then(|p| p.id.clone())
        .or_else(|| req.target_id.clone());
    let mut variant = Map::new();
    if let Some(id) = existing.and_then(|v| v.variant_id.clone()) {
        variant.insert("id".into(), json!(id));
    }
    variant.insert("sku".into(), json!(sku));
    let mut body = Map::new();
    if let Some(id) = &product_id {
        body.insert("id".into(), json!(id));
    }
    match req.record.kind {
        EntityKind::Variant => {
            let fields: VariantFields = canonical::parse(&req.record)?;
            // Fields the record does not carry (a golden record older than them) are left
            // alone, and so are the ones the current document did not deliver.
            let carried = canonical::carried(&req.record);
            // A product with options has one set of product-level fields: only its first
            // variant writes them (see `canonical::PRODUCT_LEVEL`). A variant weft does not
            // know in the product yet (a new size) writes them only when it creates the
            // product.
            let grouped = fields.product.is_some() && fields.option_values.is_some();
            let representative = !grouped
                || current
                    .as_ref()
                    .is_none_or(|p| p.variants.first().is_none_or(|v| &v.variant.sku == sku));
            let carried: Vec<String> = carried
                .into_iter()
                .filter(|f| representative || !canonical::PRODUCT_LEVEL.contains(&f.as_str()))
                .collect();
            let has = |f: &str| carried.iter().any(|c| c == f);
            if let Some(have) = existing {
                // `title: null` means "the ERP has no web title": leave Shopify's alone.
                let want = VariantFields {
                    title: fields.title.clone().or_else(|| have.variant.title.clone()),
                    ..fields.clone()
                };
                let compared: Vec<String> = carried
                    .iter()
                    .filter(|f| {
                        !current
                            .as_ref()
                            .is_some_and(|p| p.undelivered.contains(&f.as_str()))
                    })
                    .cloned()
                    .collect();
                if canonical::same_on(&want, &have.variant, &compared) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            let product_active = current.as_ref().is_some_and(|p| p.status == "active");
            if grouped && !fields.active && (product_active || current.is_none()) {
                // A retired option value: its variant leaves the product, unless it is the
                // product's last one (then the product is archived, below).
                let others = current.as_ref().map_or(0, |p| {
                    p.variants.iter().filter(|v| &v.variant.sku != sku).count()
                });
                if existing.is_none() {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
                if others > 0 {
                    variant.insert("retired".into(), json!(true));
                    body.insert("variants".into(), json!([Value::Object(variant)]));
                    return Ok(FromCanonicalOutcome::Commands(vec![command(
                        EntityKind::Product,
                        WriteOp::Upsert,
                        product_id,
                        Value::Object(body),
                    )]));
                }
            }
            if let (Some(group), Some(values)) = (&fields.product, &fields.option_values) {
                if current.is_none() {
                    // A new product, or a new variant of the option group's product (the
                    // connector finds it by handle).
                    body.insert("handle".into(), json!(group));
                    let names: Vec<Value> = values.keys().map(|n| json!({"name": n})).collect();
                    body.insert("options".into(), Value::Array(names));
                }
                variant.insert("option_values".into(), json!(values));
            }
            if has("product_type") {
                body.insert(
                    "product_type".into(),
                    json!(fields.product_type.clone().unwrap_or_default()),
                );
            }
            if has("category") {
                body.insert("category".into(), json!(fields.category));
            }
            if has("tags") {
                body.insert(
                    "tags".into(),
                    json!(fields.tags.clone().unwrap_or_default().join(", ")),
                );
            }
            if has("collections")
                && cfg.collections_field.is_some()
                && let Some(list) = &fields.collections
            {
                body.insert("collections".into(), json!(list));
            }
            if has("images") {
                body.insert(
                    "images".into(),
                    json!(fields.images.clone().unwrap_or_default()),
                );
            }
            if has("seo_title") || has("seo_description") {
                let have = existing.map(|e| &e.variant);
                let pick = |f: &str, want: &Option<String>, had: Option<&Option<String>>| {
                    if has(f) {
                        want.clone()
                    } else {
                        had.cloned().flatten()
                    }
                };
                body.insert(
                    "seo".into(),
                    json!({
                        "title": pick("seo_title", &fields.seo_title, have.map(|h| &h.seo_title)),
                        "description": pick(
                            "seo_description",
                            &fields.seo_description,
                            have.map(|h| &h.seo_description),
                        ),
                    }),
                );
            }
            if has("custom")
                && let Some(custom) = &fields.custom
            {
                let list: Vec<Value> = cfg
                    .custom_fields
                    .keys()
                    .filter(|k| custom.contains_key(*k))
                    .map(|k| {
                        json!({
                            "namespace": cfg.metafield_namespace,
                            "key": k,
                            "type": "single_line_text_field",
                            "value": custom.get(k).cloned().flatten(),
                        })
                    })
                    .collect();
                body.insert("metafields".into(), Value::Array(list));
            }
            if has("weight") {
                variant.insert(
                    "weight".into(),
                    json!(fields.weight.clone().unwrap_or_else(|| "0".to_owned())),
                );
                variant.insert(
                    "weight_unit".into(),
                    json!(
                        fields
                            .weight_unit
                            .clone()
                            .unwrap_or_else(|| "kg".to_owned())
                    ),
                );
            }
            if representative {
                match &fields.title {
                    Some(t) => {
                        body.insert("title".into(), json!(t));
                    }
                    None if current.is_none() => {
                        body.insert("title".into(), json!(sku));
                    }
                    None => {}
                }
                body.insert("body_html".into(), json!(fields.description));
                body.insert("vendor".into(), json!(fields.vendor));
            }
            // An option group's variant that is sold keeps the product active; one retired
            // (the product's last) archives it.
            body.insert(
                "status".into(),
                json!(status_for(
                    fields.active,
                    current.as_ref().map(|p| p.status.as_str())
                )),
            );
            variant.insert("barcode".into(), json!(fields.barcode));
        }
        EntityKind::Price => {
            let fields =
                canonical::parse::<PriceFields>(&req.record)?.normalized(&req.record.key)?;
            let have_currencies = existing.and_then(|h| h.price.currencies.as_ref());
            if let Some(have) = existing {
                let want = PriceFields {
                    price: fields.price.clone().or_else(|| have.price.price.clone()),
                    currencies: fields
                        .currencies
                        .clone()
                        .or_else(|| have.price.currencies.clone()),
                    ..fields.clone()
                };
                if canonical::same(&want, &have.price) {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            if let Some(p) = &fields.price {
                variant.insert("price".into(), json!(p));
            }
            variant.insert("compare_at_price".into(), json!(fields.compare_at_price));
            // The other currencies: each price that differs from the variant's fixed price on
            // that currency's price list (all of them when the document did not carry the
            // lists), keeping the list's compare-at price, which weft does not map.
            if let Some(prices) = &fields.currencies {
                let mut lists = Map::new();
                for code in cfg.currencies.keys() {
                    let Some(price) = prices.get(code) else {
                        continue;
                    };
                    if have_currencies.and_then(|h| h.get(code)) == Some(price) {
                        continue;
                    }
                    let compare_at = current_json
                        .as_ref()
                        .zip(existing.and_then(|e| e.variant_id.as_deref()))
                        .and_then(|(c, id)| {
                            c.pointer(&format!("/price_lists/{code}/{id}/compare_at_price"))
                        })
                        .cloned()
                        .unwrap_or(Value::Null);
                    lists.insert(
                        code.clone(),
                        json!({"price": price, "compare_at_price": compare_at}),
                    );
                }
                if !lists.is_empty() {
                    variant.insert("price_lists".into(), Value::Object(lists));
                }
            }
        }
        other => {
            return Err(ItemError::Unsupported(format!(
                "shopify product writes from canonical {other}"
            )));
        }
    }
    body.insert("variants".into(), json!([Value::Object(variant)]));
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Product,
        WriteOp::Upsert,
        product_id,
        Value::Object(body),
    )]))
}

/// `inventorySetQuantities` for a canonical `inventory-level` (NetSuite is the stock master).
pub fn level_write(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let fields: LevelFields = canonical::parse(&req.record)?;
    let Some(location) = cfg.to_shopify_location.get(&fields.location) else {
        return Ok(FromCanonicalOutcome::Skipped(format!(
            "netsuite location {} is not mapped to a shopify location in config key `locations`",
            fields.location
        )));
    };
    let current = parse_current(req)?;
    let mut item_id = req
        .target_id
        .as_deref()
        .and_then(|t| t.split_once('@'))
        .map(|(item, _)| item.to_owned());
    if let Some(c) = &current {
        let l = Node::root("inventory_level", c);
        if let Some(id) = l.opt_id("inventory_item_id")? {
            item_id = Some(id);
        }
        if l.opt_i64("available")? == Some(fields.quantity) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    }
    let mut body = Map::new();
    if let Some(id) = &item_id {
        body.insert("inventory_item_id".into(), json!(id));
    }
    body.insert("location_id".into(), json!(location));
    body.insert("available".into(), json!(fields.quantity));
    body.insert("sku".into(), json!(fields.sku));
    let target = item_id
        .map(|i| format!("{i}@{location}"))
        .or_else(|| req.target_id.clone());
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::InventoryLevel,
        WriteOp::SetQuantity,
        target,
        Value::Object(body),
    )]))
}

/// `customerUpdate` for a canonical `customer`.
pub fn customer_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let mut fields: CustomerFields = canonical::parse(&req.record)?;
    let carried = canonical::carried(&req.record);
    let has = |f: &str| carried.iter().any(|c| c == f);
    let mut consent_had = None;
    if let Some(c) = parse_current(req)? {
        let (_, have) = read_customer(&c)?;
        fields.email_marketing = reachable_consent(
            fields.email_marketing.as_deref(),
            have.email_marketing.as_deref(),
        );
        consent_had = have.email_marketing.clone();
        if canonical::same_on(&fields, &have, &carried) {
            return Ok(FromCanonicalOutcome::Commands(vec![]));
        }
    } else if fields.email_marketing.as_deref() == Some("not_subscribed") {
        // A new customer starts not subscribed.
        fields.email_marketing = None;
    }
    let id = req
        .target_id
        .clone()
        .unwrap_or_else(|| req.record.key.clone());
    let mut body = json!({
        "id": id,
        "email": fields.email,
        "first_name": fields.first_name,
        "last_name": fields.last_name,
        "phone": fields.phone,
    });
    if carried.iter().any(|f| f == "addresses") {
        let list: Vec<Value> = fields
            .addresses
            .iter()
            .flatten()
            .map(|a| {
                let (first, last) = split_name(a.name.as_deref());
                json!({
                    "first_name": first, "last_name": last, "company": a.company,
                    "address1": a.address1, "address2": a.address2, "city": a.city,
                    "province_code": a.province_code, "country_code": a.country_code,
                    "zip": a.zip, "phone": a.phone,
                })
            })
            .collect();
        body["addresses"] = Value::Array(list);
    }
    if has("tags") {
        body["tags"] = json!(
            fields
                .tags
                .as_ref()
                .map(|t| t.join(", "))
                .unwrap_or_default()
        );
    }
    if has("tax_exempt")
        && let Some(t) = fields.tax_exempt
    {
        body["tax_exempt"] = json!(t);
    }
    // Consent needs an email address, and is written only when it changes.
    if has("email_marketing")
        && fields.email.is_some()
        && let Some(m) = fields.email_marketing.as_deref()
        && m != "not_subscribed"
        && Some(m) != consent_had.as_deref()
    {
        body["email_marketing"] = json!(m);
    }
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Customer,
        WriteOp::Upsert,
        Some(id),
        body,
    )]))
}

/// A fulfilment of the shop's order (`fulfillmentCreate` on its open fulfilment orders), once:
/// a fulfilment weft already created (`current` known) is not written again.
fn fulfillment_write(req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    if req.current.is_some() || req.target_id.is_some() {
        return Ok(FromCanonicalOutcome::Commands(vec![]));
    }
    let f: crate::canonical::FulfillmentFields = crate::canonical::parse(&req.record)?;
    // The shop's own order id (a second shop's keys are qualified with its system).
    let order_id = f.order.rsplit(':').next().unwrap_or(&f.order).to_owned();
    let tracking = f.tracking.first();
    let body = json!({
        "order_id": order_id,
        "lines": f.lines.iter().map(|l| json!({"sku": l.sku, "quantity": l.quantity})).collect::<Vec<_>>(),
        "tracking_number": tracking.map(|t| t.number.clone()),
        "tracking_company": tracking.and_then(|t| t.company.clone()),
        "tracking_url": tracking.and_then(|t| t.url.clone()),
        "notify_customer": true,
    });
    Ok(FromCanonicalOutcome::Commands(vec![command(
        EntityKind::Fulfillment,
        WriteOp::Upsert,
        None,
        body,
    )]))
}

/// Canonical record → Shopify commands.
pub fn from_canonical(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    match req.record.kind {
        EntityKind::Variant | EntityKind::Price => product_write(cfg, req),
        EntityKind::InventoryLevel => level_write(cfg, req),
        EntityKind::Customer => customer_write(req),
        EntityKind::Order => Ok(FromCanonicalOutcome::Skipped(
            "orders flow from shopify to netsuite only".into(),
        )),
        EntityKind::Fulfillment => fulfillment_write(req),
        EntityKind::Refund => Ok(FromCanonicalOutcome::Skipped(
            "refunds flow from shopify to netsuite only".into(),
        )),
        EntityKind::Product => Err(ItemError::Unsupported(
            "canonical product records: this mapper syncs variants and prices".into(),
        )),
    }
}
