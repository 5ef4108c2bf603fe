//! Complete orders: what a checkout adds to an order's lines (addresses, shipping lines, taxes
//! per line, the discount code and its allocation, payment gateway, note, totals), read from
//! the Shopify order and written as the NetSuite sales order's own fields.
//!
//! NetSuite side (legacy tax, as the simulator models it): `billingAddress` / `shippingAddress`
//! subrecords, `shippingCost` and `shippingTax1Amt`, `shipMethod` (a ship item, when config
//! `ship_methods` maps the Shopify shipping line's code or title), the order discount as
//! `discountItem` (config `discount_item`) with `discountRate` = − the discount total, per line
//! `tax1Amt` / `taxRate1` and the line's discount allocation in `custcol_shopify_discount`, and
//! `custbody_shopify_discount_codes`, `_payment_gateway`, `_shipping_method`, `_note`. NetSuite
//! then holds `subtotal + shippingCost + taxTotal + discountTotal = total`, the same total as
//! Shopify's `subtotal + shipping + tax − discounts`.

use serde::{Deserialize, Serialize};
use weft_plugin_sdk::json::{Node, decimal_to_number, normalize_decimal, same_value};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Value, json};

use crate::canonical::OrderFields;
use crate::config::Config;

/// A postal address (billing or shipping).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Street, line 1.
    pub address1: Option<String>,
    /// Street, line 2.
    pub address2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Province / state code.
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// One tax charged on an order line or shipping line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxLine {
    /// Title (`VAT`).
    pub title: Option<String>,
    /// Rate as a decimal fraction (`"0.20"` = 20 %).
    pub rate: String,
    /// Amount, a normalised decimal string.
    pub price: String,
}

/// One shipping line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingLine {
    /// Method title (`Standard`).
    pub title: Option<String>,
    /// Method code (`STANDARD`).
    pub code: Option<String>,
    /// Price, a normalised decimal string.
    pub price: String,
    /// Taxes on the shipping line.
    pub tax_lines: Vec<TaxLine>,
}

/// Exact decimal arithmetic on normalised decimal strings (as 10^-6 units).
const SCALE: u32 = 6;

fn units(d: &str) -> Option<i128> {
    let (neg, digits) = match d.strip_prefix('-') {
        Some(x) => (true, x),
        None => (false, d),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if frac.len() > SCALE as usize {
        return None;
    }
    let v: i128 = format!("{int}{frac:0<6}").parse().ok()?;
    Some(if neg { -v } else { v })
}

fn text(u: i128) -> String {
    let div = 10i128.pow(SCALE);
    let sign = if u < 0 { "-" } else { "" };
    let a = u.abs();
    normalize_decimal(&format!("{sign}{}.{:06}", a / div, a % div)).unwrap_or_default()
}

/// Σ of decimal strings.
pub fn sum<'a>(items: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut t = 0i128;
    for i in items {
        t = t.checked_add(units(i)?)?;
    }
    Some(text(t))
}

/// `a − b`.
pub fn sub(a: &str, b: &str) -> Option<String> {
    Some(text(units(a)?.checked_sub(units(b)?)?))
}

/// `price × quantity`.
pub fn times(price: &str, quantity: i64) -> Option<String> {
    Some(text(units(price)?.checked_mul(i128::from(quantity))?))
}

fn opt_text(n: &Node<'_>, f: &str) -> Result<Option<String>, ItemError> {
    Ok(n.opt_str(f)?.map(str::to_owned))
}

fn read_address(o: &Node<'_>, field: &str) -> Result<Option<Address>, ItemError> {
    let Some(a) = o.opt_obj(field)? else {
        return Ok(None);
    };
    Ok(Some(Address {
        first_name: opt_text(&a, "first_name")?,
        last_name: opt_text(&a, "last_name")?,
        company: opt_text(&a, "company")?,
        address1: opt_text(&a, "address1")?,
        address2: opt_text(&a, "address2")?,
        city: opt_text(&a, "city")?,
        province_code: opt_text(&a, "province_code")?,
        country_code: opt_text(&a, "country_code")?,
        zip: opt_text(&a, "zip")?,
        phone: opt_text(&a, "phone")?,
    }))
}

fn read_tax_lines(n: &Node<'_>) -> Result<Vec<TaxLine>, ItemError> {
    let mut out = Vec::new();
    for t in n.opt_array("tax_lines")? {
        out.push(TaxLine {
            title: opt_text(&t, "title")?,
            rate: t.decimal("rate")?,
            price: t.decimal("price")?,
        });
    }
    Ok(out)
}

fn overflow(what: &str) -> ItemError {
    ItemError::InvalidInput(format!("{what}: amount out of range"))
}

/// Fills the checkout fields of a canonical order (and its lines) from a Shopify order body.
pub fn read_checkout(o: &Node<'_>, fields: &mut OrderFields) -> Result<(), ItemError> {
    for (line, li) in fields.lines.iter_mut().zip(o.array("line_items")?) {
        line.tax_lines = read_tax_lines(&li)?;
        line.tax = sum(line.tax_lines.iter().map(|t| t.price.as_str()))
            .ok_or_else(|| overflow(li.path()))?;
        let mut alloc = Vec::new();
        for a in li.opt_array("discount_allocations")? {
            alloc.push(a.decimal("amount")?);
        }
        line.discount = sum(alloc.iter().map(String::as_str)).ok_or_else(|| overflow(li.path()))?;
    }
    let mut shipping = Vec::new();
    for s in o.opt_array("shipping_lines")? {
        shipping.push(ShippingLine {
            title: opt_text(&s, "title")?,
            code: opt_text(&s, "code")?,
            price: s.decimal("price")?,
            tax_lines: read_tax_lines(&s)?,
        });
    }
    let path = o.path().to_owned();
    let subtotal = fields
        .lines
        .iter()
        .map(|l| times(&l.price, l.quantity))
        .collect::<Option<Vec<_>>>()
        .and_then(|v| sum(v.iter().map(String::as_str)))
        .ok_or_else(|| overflow(&path))?;
    let shipping_total =
        sum(shipping.iter().map(|s| s.price.as_str())).ok_or_else(|| overflow(&path))?;
    let tax_total = sum(fields
        .lines
        .iter()
        .flat_map(|l| &l.tax_lines)
        .chain(shipping.iter().flat_map(|s| &s.tax_lines))
        .map(|t| t.price.as_str()))
    .ok_or_else(|| overflow(&path))?;
    // The order's own figure when it gives one (order-level discounts on shipping count too);
    // else the lines' allocations.
    let discount_total = match o.opt_decimal("total_discounts")? {
        Some(d) => d,
        None => {
            sum(fields.lines.iter().map(|l| l.discount.as_str())).ok_or_else(|| overflow(&path))?
        }
    };
    let mut codes = Vec::new();
    for c in o.opt_array("discount_codes")? {
        codes.push(match c.value() {
            Value::String(s) => s.clone(),
            _ => c.str("code")?.to_owned(),
        });
    }
    let gateway = o
        .opt_array("payment_gateway_names")?
        .first()
        .and_then(|g| g.value().as_str().map(str::to_owned));
    fields.subtotal = Some(subtotal);
    fields.shipping_total = Some(shipping_total);
    fields.tax_total = Some(tax_total);
    fields.discount_total = Some(discount_total);
    fields.taxes_included = o.opt_bool("taxes_included")?.unwrap_or(false);
    fields.billing_address = read_address(o, "billing_address")?;
    fields.shipping_address = read_address(o, "shipping_address")?;
    fields.shipping_lines = shipping;
    fields.discount_codes = codes;
    fields.payment_gateway = gateway;
    fields.note = opt_text(o, "note")?;
    Ok(())
}

fn number(d: &str, what: &str) -> Result<Value, ItemError> {
    decimal_to_number(d)
        .ok_or_else(|| ItemError::InvalidInput(format!("{what}: {d:?} is not an amount")))
}

/// An amount as a number, `null` when zero: NetSuite reads an absent amount as zero, and a
/// sales order written before these fields existed then already holds an order without them.
fn amount_or_null(d: &str, what: &str) -> Result<Value, ItemError> {
    if nonzero(d) {
        number(d, what)
    } else {
        Ok(Value::Null)
    }
}

/// A NetSuite address subrecord: the company (else the person) as addressee, the person as
/// attention when there is a company.
fn address_body(a: &Option<Address>) -> Value {
    let Some(a) = a else {
        return Value::Null;
    };
    let person = [a.first_name.as_deref(), a.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let person = (!person.is_empty()).then_some(person);
    let (addressee, attention) = match &a.company {
        Some(c) if !c.is_empty() => (Some(c.clone()), person),
        _ => (person, None),
    };
    json!({
        "addressee": addressee,
        "attention": attention,
        "addr1": a.address1,
        "addr2": a.address2,
        "city": a.city,
        "state": a.province_code,
        "zip": a.zip,
        "country": a.country_code,
        "addrPhone": a.phone,
    })
}

fn rate_percent(lines: &[TaxLine]) -> Option<String> {
    // Σ rates × 100, e.g. 0.0625 + 0.02 -> 8.25.
    let r = sum(lines.iter().map(|t| t.rate.as_str()))?;
    Some(text(units(&r)?.checked_mul(100)?))
}

fn nonzero(d: &str) -> bool {
    units(d).is_some_and(|u| u != 0)
}

/// Adds the checkout's fields to a salesOrder body built from `o` (its `item.items` already
/// holding one line per order line, in order).
pub fn sales_order_fields(
    cfg: &Config,
    key: &str,
    o: &OrderFields,
    body: &mut Value,
) -> Result<(), ItemError> {
    if o.taxes_included {
        return Err(ItemError::Unsupported(format!(
            "order {key} ({}): prices include tax; this mapper writes tax-exclusive sales orders",
            o.name
        )));
    }
    let what = format!("order {key}");
    if let Some(items) = body["item"]["items"].as_array_mut() {
        for (i, (item, line)) in items.iter_mut().zip(&o.lines).enumerate() {
            let w = format!("{what}.lines[{i}]");
            item["tax1Amt"] = amount_or_null(&line.tax, &format!("{w}.tax"))?;
            item["taxRate1"] = match rate_percent(&line.tax_lines) {
                Some(r) if !line.tax_lines.is_empty() => number(&r, &format!("{w}.tax_lines"))?,
                _ => Value::Null,
            };
            item["custcol_shopify_discount"] =
                amount_or_null(&line.discount, &format!("{w}.discount"))?;
        }
    }
    let shipping_tax = sum(o
        .shipping_lines
        .iter()
        .flat_map(|s| &s.tax_lines)
        .map(|t| t.price.as_str()))
    .ok_or_else(|| overflow(&what))?;
    let shipping_total = o.shipping_total.clone().unwrap_or_else(|| "0.00".into());
    let discount_total = o.discount_total.clone().unwrap_or_else(|| "0.00".into());
    body["billingAddress"] = address_body(&o.billing_address);
    body["shippingAddress"] = address_body(&o.shipping_address);
    body["shippingCost"] = amount_or_null(&shipping_total, &format!("{what}.shipping_total"))?;
    body["shippingTax1Amt"] = amount_or_null(&shipping_tax, &format!("{what}.shipping_lines"))?;
    let ship_item = o.shipping_lines.first().and_then(|s| {
        s.code
            .as_ref()
            .and_then(|c| cfg.ship_methods.get(c))
            .or_else(|| s.title.as_ref().and_then(|t| cfg.ship_methods.get(t)))
    });
    if let Some(id) = ship_item {
        body["shipMethod"] = json!({"id": id});
    }
    if nonzero(&discount_total) {
        let Some(item) = &cfg.discount_item else {
            return Err(ItemError::Config(format!(
                "order {key} ({}) has a discount of {discount_total} and config key `discount_item` (the NetSuite discount item id) is not set",
                o.name
            )));
        };
        body["discountItem"] = json!({"id": item});
        let neg = sub("0", &discount_total).ok_or_else(|| overflow(&what))?;
        body["discountRate"] = number(&neg, &format!("{what}.discount_total"))?;
    } else {
        body["discountItem"] = Value::Null;
        body["discountRate"] = Value::Null;
    }
    let join = |v: Vec<&str>| (!v.is_empty()).then(|| v.join(", "));
    body["custbody_shopify_discount_codes"] =
        json!(join(o.discount_codes.iter().map(String::as_str).collect()));
    body["custbody_shopify_shipping_method"] = json!(join(
        o.shipping_lines
            .iter()
            .filter_map(|s| s.title.as_deref())
            .collect()
    ));
    body["custbody_shopify_payment_gateway"] = json!(o.payment_gateway);
    body["custbody_shopify_note"] = json!(o.note);
    Ok(())
}

/// The header fields [`sales_order_fields`] writes.
const HEADER: &[&str] = &[
    "billingAddress",
    "shippingAddress",
    "shippingCost",
    "shippingTax1Amt",
    "shipMethod",
    "discountItem",
    "discountRate",
    "custbody_shopify_discount_codes",
    "custbody_shopify_shipping_method",
    "custbody_shopify_payment_gateway",
    "custbody_shopify_note",
];

/// The line fields [`sales_order_fields`] writes.
const LINE: &[&str] = &["tax1Amt", "taxRate1", "custcol_shopify_discount"];

/// Whether `have` holds `want`: for objects, every field `want` names (references compare by
/// the fields given, `{"id"}` against `{"links", "id", "refName"}`), else by [`same_value`].
fn covers(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| covers(v, h.get(k).unwrap_or(&Value::Null))),
        (Value::Object(w), Value::Null) => w.values().all(|v| covers(v, &Value::Null)),
        _ => same_value(want, have),
    }
}

/// Whether the current salesOrder already holds the checkout fields of `want`.
pub fn checkout_matches(want: &Value, current: &Value) -> bool {
    let header = HEADER.iter().all(|k| match want.get(*k) {
        None => true,
        Some(w) => covers(w, current.get(*k).unwrap_or(&Value::Null)),
    });
    let empty = Vec::new();
    let wl = want["item"]["items"].as_array().unwrap_or(&empty);
    let hl = current
        .get("item")
        .and_then(|i| i.get("items"))
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    header
        && wl.len() == hl.len()
        && wl.iter().zip(hl).all(|(w, h)| {
            LINE.iter()
                .all(|k| covers(&w[*k], h.get(*k).unwrap_or(&Value::Null)))
        })
}

/// Whether the order's figures add up: subtotal − discounts + shipping + tax = total.
pub fn totals_reconcile(o: &OrderFields) -> bool {
    let (Some(s), Some(d), Some(sh), Some(t)) = (
        &o.subtotal,
        &o.discount_total,
        &o.shipping_total,
        &o.tax_total,
    ) else {
        return false;
    };
    let total = || -> Option<i128> {
        let mut x = units(s)?.checked_sub(units(d)?)?.checked_add(units(sh)?)?;
        if !o.taxes_included {
            x = x.checked_add(units(t)?)?;
        }
        Some(x)
    };
    let total = total();
    total.is_some() && total == units(&o.total_price)
}

/// A default line's checkout fields (used by serde for records from before they existed).
pub fn zero() -> String {
    "0.00".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_arithmetic_is_exact() {
        assert_eq!(sum(["0.10", "0.20"]).as_deref(), Some("0.30"));
        assert_eq!(sub("10.00", "10.01").as_deref(), Some("-0.01"));
        assert_eq!(times("19.99", 3).as_deref(), Some("59.97"));
        assert_eq!(
            rate_percent(&[
                TaxLine {
                    title: None,
                    rate: "0.0625".into(),
                    price: "1.00".into()
                },
                TaxLine {
                    title: None,
                    rate: "0.02".into(),
                    price: "1.00".into()
                }
            ])
            .as_deref(),
            Some("8.25")
        );
    }

    #[test]
    fn references_and_subrecords_are_covered_by_what_netsuite_renders() {
        let want = json!({"id": "7"});
        let have = json!({"links": [], "id": "7", "refName": "UPS Ground"});
        assert!(covers(&want, &have));
        assert!(covers(&json!({"addr1": null}), &Value::Null));
        assert!(!covers(&json!({"addr1": "x"}), &Value::Null));
    }
}
