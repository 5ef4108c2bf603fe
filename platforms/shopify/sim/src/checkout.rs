//! What a checkout adds to an order beyond its lines: addresses, shipping lines, taxes, a
//! discount code, the payment gateway and a note, and the arithmetic that makes the order's
//! totals.
//!
//! What the simulator assumes (Shopify's documented behaviour, simplified where noted):
//!
//! - Prices exclude tax (`taxes_included: false`); tax-inclusive shops are not modelled.
//! - The shop's tax rates (`tax_lines` of the spec: a title and a rate such as `"0.2"`) apply to
//!   every line after its discount allocation, and to every shipping line. Each tax line's
//!   amount is rounded half up to the cent per order line, as Shopify computes line-level tax.
//! - One discount code per order (Shopify allows one order-level code at checkout), of type
//!   `percentage` (0 < value <= 100) or `fixed_amount` (capped at the line items' total),
//!   applied `across` `all` line items (`target_type: line_item`, `allocation_method: across`).
//!   It is allocated to the lines in proportion to their totals, remainder cents to the first
//!   lines, so the allocations add up to the order's `total_discounts` exactly.
//! - Totals: `total_line_items_price` = Σ price × quantity; `subtotal_price` =
//!   `total_line_items_price` − `total_discounts`; `total_tax` = Σ line tax + Σ shipping tax;
//!   `total_price` = `subtotal_price` + shipping + `total_tax`.
//! - A shipping or billing address needs `address1` and a two-letter `country_code` (Shopify's
//!   checkout refuses an address without them); shipping prices are >= 0.
//! - `gateway` is the one payment gateway (`payment_gateway_names` in GraphQL);
//!   `financial_status` defaults to `PAID`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::{format_money, parse_money};
use crate::state::UserErr;

/// A postal address as given at checkout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Address {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Street line 1 (required).
    pub address1: Option<String>,
    /// Street line 2.
    pub address2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Province / state code (`ON`, `CA`).
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code (required).
    pub country_code: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// A shipping line as chosen at checkout.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShippingLineInput {
    /// Method title shown to the buyer (`Standard`).
    pub title: String,
    /// Carrier / rate code (`STANDARD`).
    pub code: Option<String>,
    /// Price, a decimal string.
    pub price: String,
}

/// One of the shop's tax rates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaxRateInput {
    /// Title (`VAT`, `GST`).
    pub title: String,
    /// Rate as a decimal fraction (`"0.2"` = 20 %).
    pub rate: String,
}

/// A discount code used at checkout.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscountInput {
    /// The code (`SUMMER10`).
    pub code: String,
    /// `percentage` or `fixed_amount`.
    pub value_type: String,
    /// Percent (`"10"`) or amount (`"5.00"`).
    pub value: String,
}

/// What a checkout adds to an order's lines.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckoutSpec {
    /// Billing address.
    pub billing_address: Option<Address>,
    /// Shipping address.
    pub shipping_address: Option<Address>,
    /// Shipping lines.
    pub shipping_lines: Vec<ShippingLineInput>,
    /// The shop's tax rates that apply.
    pub tax_lines: Vec<TaxRateInput>,
    /// Discount code.
    pub discount_code: Option<DiscountInput>,
    /// Payment gateway (`shopify_payments`, `manual`).
    pub gateway: Option<String>,
    /// Order note.
    pub note: Option<String>,
    /// `PAID` (default), `PENDING`, `AUTHORIZED`, `PARTIALLY_PAID`.
    pub financial_status: Option<String>,
}

/// A tax line: title, rate in parts per million, amount in cents.
#[derive(Clone, Debug, Serialize)]
pub struct TaxLine {
    /// Title.
    pub title: String,
    /// Rate, parts per million (200000 = 20 %).
    pub rate_ppm: i64,
    /// Amount in cents.
    pub price: i64,
}

/// A priced shipping line.
#[derive(Clone, Debug, Serialize)]
pub struct ShippingLine {
    /// Numeric id.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Code.
    pub code: Option<String>,
    /// Price in cents.
    pub price: i64,
    /// Taxes on it.
    pub tax_lines: Vec<TaxLine>,
}

/// The discount applied.
#[derive(Clone, Debug, Serialize)]
pub struct Discount {
    /// Code.
    pub code: String,
    /// `percentage` or `fixed_amount`.
    pub value_type: String,
    /// Value as given (percent or amount).
    pub value: String,
    /// Amount in cents actually taken off.
    pub amount: i64,
}

/// Per order line: its discount allocation and taxes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LinePricing {
    /// Discount allocated to the line, cents.
    pub discount: i64,
    /// Taxes on the line.
    pub tax_lines: Vec<TaxLine>,
}

/// An order's checkout, priced.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Checkout {
    /// Billing address.
    pub billing_address: Option<Address>,
    /// Shipping address.
    pub shipping_address: Option<Address>,
    /// Shipping lines.
    pub shipping_lines: Vec<ShippingLine>,
    /// Discount, if any.
    pub discount: Option<Discount>,
    /// Per order line, in line order.
    pub lines: Vec<LinePricing>,
    /// Payment gateway.
    pub gateway: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Σ price × quantity.
    pub line_items_total: i64,
    /// Σ shipping prices.
    pub shipping_total: i64,
    /// Σ taxes.
    pub tax_total: i64,
    /// The discount amount.
    pub discount_total: i64,
    /// line items − discount + shipping + tax.
    pub total: i64,
}

/// Parses a rate (`"0.2"`, `"0.0825"`) into parts per million.
fn parse_rate(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<6}").parse().ok()?;
    Some(w * 1_000_000 + f)
}

/// `cents × ppm / 10^6`, rounded half up.
fn apply_rate(cents: i64, ppm: i64) -> i64 {
    (cents * ppm + 500_000).div_euclid(1_000_000)
}

fn check_address(a: &Address, field: &str, errors: &mut Vec<UserErr>) {
    if a.address1.as_deref().is_none_or(|s| s.trim().is_empty()) {
        errors.push(UserErr::new(
            &[field, "address1"],
            "Address1 can't be blank",
            "BLANK",
        ));
    }
    match a.country_code.as_deref() {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => {}
        _ => errors.push(UserErr::new(
            &[field, "countryCode"],
            "Country is not a valid ISO 3166-1 alpha-2 code",
            "INVALID",
        )),
    }
}

/// Prices a checkout for lines of `(unit price cents, quantity)`; `next_id` numbers shipping
/// lines. Errors are Shopify-style user errors.
pub fn price(
    spec: &CheckoutSpec,
    lines: &[(i64, i64)],
    mut next_id: impl FnMut() -> u64,
) -> Result<Checkout, Vec<UserErr>> {
    let mut errors = Vec::new();
    if let Some(a) = &spec.billing_address {
        check_address(a, "billingAddress", &mut errors);
    }
    if let Some(a) = &spec.shipping_address {
        check_address(a, "shippingAddress", &mut errors);
    }
    let mut rates = Vec::new();
    for (i, t) in spec.tax_lines.iter().enumerate() {
        match parse_rate(&t.rate) {
            Some(r) if r <= 1_000_000 && !t.title.trim().is_empty() => {
                rates.push((t.title.clone(), r))
            }
            _ => errors.push(UserErr::new(
                &["taxLines", &i.to_string(), "rate"],
                "Tax rate must be a fraction between 0 and 1 with a title",
                "INVALID",
            )),
        }
    }
    let mut shipping = Vec::new();
    for (i, s) in spec.shipping_lines.iter().enumerate() {
        match parse_money(&s.price) {
            Some(p) if !s.title.trim().is_empty() => shipping.push((s, p)),
            _ => errors.push(UserErr::new(
                &["shippingLines", &i.to_string(), "price"],
                "Shipping line needs a title and a price >= 0",
                "INVALID",
            )),
        }
    }
    let line_items_total: i64 = lines.iter().map(|(p, q)| p * q).sum();
    let discount = match &spec.discount_code {
        None => None,
        Some(d) => {
            let amount = match d.value_type.as_str() {
                "percentage" => match parse_rate(&d.value) {
                    // parse_rate reads "10" as 10 × 10^6 ppm of a unit: percent × 10^6.
                    Some(p) if p > 0 && p <= 100_000_000 => {
                        Some(apply_rate(line_items_total, p / 100))
                    }
                    _ => None,
                },
                "fixed_amount" => parse_money(&d.value)
                    .filter(|v| *v > 0)
                    .map(|v| v.min(line_items_total)),
                _ => None,
            };
            match amount {
                Some(a) if !d.code.trim().is_empty() => Some(Discount {
                    code: d.code.clone(),
                    value_type: d.value_type.clone(),
                    value: d.value.clone(),
                    amount: a,
                }),
                _ => {
                    errors.push(UserErr::new(
                        &["discountCode"],
                        "Discount code needs a code and a percentage (0-100] or a positive fixed_amount",
                        "INVALID",
                    ));
                    None
                }
            }
        }
    };
    let financial = spec.financial_status.as_deref().unwrap_or("PAID");
    if !["PAID", "PENDING", "AUTHORIZED", "PARTIALLY_PAID"].contains(&financial) {
        errors.push(UserErr::new(
            &["financialStatus"],
            "Financial status must be PAID, PENDING, AUTHORIZED or PARTIALLY_PAID",
            "INVALID",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let discount_total = discount.as_ref().map_or(0, |d| d.amount);
    // Allocate in proportion to line totals (floor), remainder cents to the first lines.
    let mut alloc: Vec<i64> = lines
        .iter()
        .map(|(p, q)| {
            if line_items_total == 0 {
                0
            } else {
                ((p * q) as i128 * discount_total as i128 / line_items_total as i128) as i64
            }
        })
        .collect();
    let mut rest = discount_total - alloc.iter().sum::<i64>();
    for (i, (p, q)) in lines.iter().enumerate() {
        if rest == 0 {
            break;
        }
        if alloc[i] < p * q {
            alloc[i] += 1;
            rest -= 1;
        }
    }
    let taxes = |cents: i64| -> Vec<TaxLine> {
        rates
            .iter()
            .map(|(title, r)| TaxLine {
                title: title.clone(),
                rate_ppm: *r,
                price: apply_rate(cents, *r),
            })
            .collect()
    };
    let priced_lines: Vec<LinePricing> = lines
        .iter()
        .zip(&alloc)
        .map(|((p, q), a)| LinePricing {
            discount: *a,
            tax_lines: taxes(p * q - a),
        })
        .collect();
    let shipping_lines: Vec<ShippingLine> = shipping
        .into_iter()
        .map(|(s, p)| ShippingLine {
            id: next_id(),
            title: s.title.clone(),
            code: s.code.clone(),
            price: p,
            tax_lines: taxes(p),
        })
        .collect();
    let shipping_total: i64 = shipping_lines.iter().map(|s| s.price).sum();
    let tax_total: i64 = priced_lines
        .iter()
        .flat_map(|l| &l.tax_lines)
        .chain(shipping_lines.iter().flat_map(|s| &s.tax_lines))
        .map(|t| t.price)
        .sum();
    Ok(Checkout {
        billing_address: spec.billing_address.clone(),
        shipping_address: spec.shipping_address.clone(),
        shipping_lines,
        discount,
        lines: priced_lines,
        gateway: spec.gateway.clone(),
        note: spec.note.clone(),
        line_items_total,
        shipping_total,
        tax_total,
        discount_total,
        total: line_items_total - discount_total + shipping_total + tax_total,
    })
}

/// A rate in ppm as Shopify's float (`0.2`).
pub fn rate_f64(ppm: i64) -> f64 {
    ppm as f64 / 1_000_000.0
}

fn tax_lines_rest(t: &[TaxLine]) -> Value {
    Value::Array(
        t.iter()
            .map(|t| {
                json!({"title": t.title, "rate": rate_f64(t.rate_ppm), "price": format_money(t.price)})
            })
            .collect(),
    )
}

/// An address as REST renders it.
pub fn address_rest(a: &Option<Address>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => {
            let name = [a.first_name.as_deref(), a.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            json!({
                "first_name": a.first_name, "last_name": a.last_name, "name": name,
                "company": a.company, "address1": a.address1, "address2": a.address2,
                "city": a.city, "province": a.province_code, "province_code": a.province_code,
                "country": a.country_code, "country_code": a.country_code, "zip": a.zip,
                "phone": a.phone, "latitude": null, "longitude": null,
            })
        }
    }
}

/// Writes the checkout's fields into an order's REST body (`orders/create` shape): totals,
/// addresses, shipping lines, tax lines, discount codes and applications, each line's tax lines
/// and discount allocations, gateway, note.
pub fn render_rest(c: &Checkout, currency: &str, order: &mut Value) {
    let money_set = |cents: i64| {
        let m = json!({"amount": format_money(cents), "currency_code": currency});
        json!({"shop_money": m, "presentment_money": m})
    };
    let mut agg: Vec<TaxLine> = Vec::new();
    for t in c
        .lines
        .iter()
        .flat_map(|l| &l.tax_lines)
        .chain(c.shipping_lines.iter().flat_map(|s| &s.tax_lines))
    {
        match agg
            .iter_mut()
            .find(|a| a.title == t.title && a.rate_ppm == t.rate_ppm)
        {
            Some(a) => a.price += t.price,
            None => agg.push(t.clone()),
        }
    }
    let o = order.as_object_mut().expect("an order body is an object");
    o.insert(
        "total_line_items_price".into(),
        json!(format_money(c.line_items_total)),
    );
    o.insert(
        "subtotal_price".into(),
        json!(format_money(c.line_items_total - c.discount_total)),
    );
    o.insert(
        "total_discounts".into(),
        json!(format_money(c.discount_total)),
    );
    o.insert("total_tax".into(), json!(format_money(c.tax_total)));
    o.insert(
        "total_shipping_price_set".into(),
        money_set(c.shipping_total),
    );
    o.insert("taxes_included".into(), json!(false));
    o.insert("tax_lines".into(), tax_lines_rest(&agg));
    o.insert("billing_address".into(), address_rest(&c.billing_address));
    o.insert("shipping_address".into(), address_rest(&c.shipping_address));
    o.insert(
        "shipping_lines".into(),
        Value::Array(
            c.shipping_lines
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id, "title": s.title, "code": s.code, "source": "shopify",
                        "price": format_money(s.price), "discounted_price": format_money(s.price),
                        "tax_lines": tax_lines_rest(&s.tax_lines), "discount_allocations": [],
                    })
                })
                .collect(),
        ),
    );
    let (codes, apps) = match &c.discount {
        None => (json!([]), json!([])),
        Some(d) => (
            json!([{"code": d.code, "amount": format_money(d.amount), "type": d.value_type}]),
            json!([{"type": "discount_code", "code": d.code, "value": d.value,
                    "value_type": d.value_type, "allocation_method": "across",
                    "target_selection": "all", "target_type": "line_item"}]),
        ),
    };
    o.insert("discount_codes".into(), codes);
    o.insert("discount_applications".into(), apps);
    o.insert(
        "payment_gateway_names".into(),
        json!(c.gateway.iter().collect::<Vec<_>>()),
    );
    o.insert("gateway".into(), json!(c.gateway));
    o.insert("note".into(), json!(c.note));
    if let Some(lines) = o.get_mut("line_items").and_then(Value::as_array_mut) {
        for (l, p) in lines.iter_mut().zip(&c.lines) {
            l["tax_lines"] = tax_lines_rest(&p.tax_lines);
            l["total_discount"] = json!(format_money(p.discount));
            l["discount_allocations"] = if p.discount > 0 {
                json!([{"amount": format_money(p.discount), "discount_application_index": 0}])
            } else {
                json!([])
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_and_allocations_sum_to_the_discount() {
        let spec = CheckoutSpec {
            shipping_lines: vec![ShippingLineInput {
                title: "Standard".into(),
                code: Some("STD".into()),
                price: "4.99".into(),
            }],
            tax_lines: vec![TaxRateInput {
                title: "VAT".into(),
                rate: "0.2".into(),
            }],
            discount_code: Some(DiscountInput {
                code: "TEN".into(),
                value_type: "percentage".into(),
                value: "10".into(),
            }),
            ..CheckoutSpec::default()
        };
        let mut id = 0;
        let c = price(&spec, &[(1999, 3), (500, 1), (1, 1)], || {
            id += 1;
            id
        })
        .unwrap();
        assert_eq!(c.line_items_total, 6498);
        assert_eq!(c.discount_total, 650);
        assert_eq!(c.lines.iter().map(|l| l.discount).sum::<i64>(), 650);
        assert_eq!(
            c.total,
            c.line_items_total - c.discount_total + c.shipping_total + c.tax_total
        );
        assert_eq!(c.shipping_lines[0].tax_lines[0].price, 100);
        let fixed = CheckoutSpec {
            discount_code: Some(DiscountInput {
                code: "BIG".into(),
                value_type: "fixed_amount".into(),
                value: "500.00".into(),
            }),
            ..CheckoutSpec::default()
        };
        let c = price(&fixed, &[(1000, 1)], || 1).unwrap();
        assert_eq!((c.discount_total, c.total), (1000, 0));
        let bad = CheckoutSpec {
            shipping_address: Some(Address::default()),
            ..CheckoutSpec::default()
        };
        assert_eq!(price(&bad, &[(1, 1)], || 1).unwrap_err().len(), 2);
    }
}
