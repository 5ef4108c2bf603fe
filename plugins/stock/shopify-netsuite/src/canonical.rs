//! The canonical records this mapper produces and consumes (see `docs/document-shapes.md` §2),
//! as serde structs so both directions agree on field names, order and nullability.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weft_plugin_sdk::json::{normalize_decimal, same_value};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json;

/// Canonical `variant` (key: SKU).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFields {
    /// Canonical SKU (Shopify's, without the NetSuite prefix).
    pub sku: String,
    /// Web title (Shopify product title); `None` when the ERP has none.
    pub title: Option<String>,
    /// Description HTML.
    pub description: Option<String>,
    /// Vendor name.
    pub vendor: Option<String>,
    /// Barcode (UPC/EAN).
    pub barcode: Option<String>,
    /// Sellable on the storefront. For a variant of an option group: this variant is (a
    /// retired option value's variants are not).
    pub active: bool,
    /// The option group (product) the variant belongs to: the Shopify product `handle` of a
    /// product with options, the NetSuite matrix parent's `itemId` minus `sku_prefix`; `None`
    /// for a product without options (one NetSuite item per variant, as before).
    #[serde(default)]
    pub product: Option<String>,
    /// The variant's value of each option, by Shopify option name (`{"Size": "M"}`); `None`
    /// without options.
    #[serde(default)]
    pub option_values: Option<BTreeMap<String, String>>,
    /// Product type.
    #[serde(default)]
    pub product_type: Option<String>,
    /// Category in Shopify's standard product taxonomy (`aa-1-13-8`). Absent like
    /// `seo_title` (Shopify's webhooks have no category).
    #[serde(default)]
    pub category: Option<String>,
    /// Tags, sorted and unique; `None` when there are none.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Shipping weight, a normalised decimal string; `None` when unknown or zero.
    #[serde(default)]
    pub weight: Option<String>,
    /// Weight unit: `g`, `kg`, `oz` or `lb`; `None` without a weight.
    #[serde(default)]
    pub weight_unit: Option<String>,
    /// Images in order (position = index + 1); `None` when there are none.
    #[serde(default)]
    pub images: Option<Vec<Image>>,
    /// SEO title. Absent from a record whose source did not deliver it (a Shopify webhook).
    #[serde(default)]
    pub seo_title: Option<String>,
    /// SEO description (absent like `seo_title`).
    #[serde(default)]
    pub seo_description: Option<String>,
    /// The custom fields the config maps (`custom_fields`), by metafield key; each `None` when
    /// the product has no value. Absent like `seo_title`.
    #[serde(default)]
    pub custom: Option<BTreeMap<String, Option<String>>>,
    /// Handles of the custom collections the product is in, sorted (empty: none), when the
    /// config maps them (`collections_field`); `None` (left out) when it does not, or when the
    /// source did not deliver them (a Shopify webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collections: Option<Vec<String>>,
}

/// A product image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Source URL.
    pub url: String,
    /// Alt text.
    pub alt: Option<String>,
}

/// The variant fields a Shopify webhook does not deliver (left out of its records, so the
/// merge sees them as not observed rather than cleared).
pub const UNDELIVERED_BY_WEBHOOK: [&str; 5] = [
    "category",
    "seo_title",
    "seo_description",
    "custom",
    "collections",
];

/// The variant fields that live on a Shopify product, not its variant: every variant of a
/// product reads them from the product, but only the product's first variant (its
/// *representative*) writes them, so the siblings' records, each of which may still hold an
/// older value while the ERP's children are read one by one, never race on the one product.
pub const PRODUCT_LEVEL: [&str; 11] = [
    "title",
    "description",
    "vendor",
    "product_type",
    "category",
    "tags",
    "images",
    "seo_title",
    "seo_description",
    "custom",
    "collections",
];

/// A customer's address. The person is one `name` (NetSuite keeps one addressee, so a split
/// into given and family name would not survive the round trip).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerAddress {
    /// The person (`first_name last_name` in Shopify).
    pub name: Option<String>,
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

/// Canonical `price` (key: SKU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFields {
    /// Canonical SKU.
    pub sku: String,
    /// List price, a normalised decimal string; `None` when the ERP has none.
    pub price: Option<String>,
    /// Compare-at price, a normalised decimal string: the price the variant was marked down
    /// from, so always above `price` (see [`PriceFields::marked_down`]).
    pub compare_at_price: Option<String>,
    /// The price in each of the store's other currencies (config `currencies`), by ISO 4217
    /// code: a normalised decimal string, or `None` where the source has no price in that
    /// currency (a Shopify variant without a fixed price on that currency's price list, a
    /// NetSuite item without that pricing-matrix line). Absent (`None`) from a record whose
    /// source did not deliver them (a Shopify webhook) or does not keep them (the other
    /// storefronts): the merge keeps what it knew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currencies: Option<BTreeMap<String, Option<String>>>,
}

impl PriceFields {
    /// Normalises both prices (`"59"` → `"59.00"`); an error when one is not a decimal.
    pub fn normalized(mut self, key: &str) -> Result<PriceFields, ItemError> {
        let mut slots = vec![
            ("price".to_owned(), &mut self.price),
            ("compare_at_price".to_owned(), &mut self.compare_at_price),
        ];
        for (code, v) in self.currencies.iter_mut().flatten() {
            slots.push((format!("currencies.{code}"), v));
        }
        for (name, v) in slots {
            if let Some(text) = v.as_deref() {
                let norm = normalize_decimal(text).ok_or_else(|| {
                    ItemError::InvalidInput(format!(
                        "price {key}.{name}: expected a decimal string, found {text:?}"
                    ))
                })?;
                *v = Some(norm);
            }
        }
        Ok(self.marked_down())
    }

    /// A compare-at price is the price the variant was marked down from: one not above the
    /// price marks nothing down and is none. The storefronts that keep a markdown as a sale
    /// price below a regular price (WooCommerce, Magento) can hold no other; NetSuite and
    /// Shopify can, and an ERP price raised past its compare-at price ends the sale on every
    /// system instead of leaving one holding a compare-at the others cannot show.
    pub fn marked_down(mut self) -> PriceFields {
        if let (Some(p), Some(c)) = (&self.price, &self.compare_at_price)
            && !money_lt(p, c)
        {
            self.compare_at_price = None;
        }
        self
    }
}

/// Whether decimal `a` is below decimal `b` (false when either is not a decimal).
pub fn money_lt(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x < y,
        _ => false,
    }
}

/// Canonical `inventory-level` (key: `<sku>@<netsuite location id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelFields {
    /// Canonical SKU.
    pub sku: String,
    /// NetSuite location id.
    pub location: String,
    /// Available to sell: NetSuite's available less what it back ordered; a Shopify level's
    /// `available`. (With NetSuite owning the stock, the host computes what Shopify shows.)
    pub quantity: i64,
}

/// Canonical `customer` (key: Shopify customer id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    /// Email address.
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Addresses, the default (Shopify's default address, NetSuite's default shipping
    /// address) first; `None` when there are none.
    #[serde(default)]
    pub addresses: Option<Vec<CustomerAddress>>,
    /// Tags, sorted and unique; `None` when there are none.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Whether the customer is exempt from tax.
    #[serde(default)]
    pub tax_exempt: Option<bool>,
    /// Email marketing consent: `subscribed`, `not_subscribed` (never asked), `unsubscribed`
    /// or `pending` (awaiting confirmation); `None` when not known (no email address).
    #[serde(default)]
    pub email_marketing: Option<String>,
}

/// The customer fields a storefront that maps only contact details (email, names, phone)
/// does not deliver: its records leave them out, so the merge keeps what the others said.
pub const BEYOND_CONTACT: &[&str] = &["addresses", "tags", "tax_exempt", "email_marketing"];

/// The email marketing states of a canonical customer.
pub const EMAIL_MARKETING_STATES: &[&str] =
    &["subscribed", "not_subscribed", "unsubscribed", "pending"];

impl CustomerFields {
    /// The contact details alone (what a storefront mapping only those compares).
    pub fn contact(self) -> CustomerFields {
        CustomerFields {
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            ..CustomerFields::default()
        }
    }
}

/// One order line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// Canonical SKU.
    pub sku: String,
    /// Units ordered.
    pub quantity: i64,
    /// Units still ordered: `quantity` less the units removed before they shipped (order
    /// edits, `cancel` refunds); shipped units refunded later still count (they were sold).
    /// Absent when it is `quantity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_quantity: Option<i64>,
    /// Unit price, a normalised decimal string.
    pub price: String,
    /// Σ of the line's taxes, a normalised decimal string.
    #[serde(default = "crate::orders::zero")]
    pub tax: String,
    /// The line's taxes.
    #[serde(default)]
    pub tax_lines: Vec<crate::orders::TaxLine>,
    /// The order discount allocated to the line, a normalised decimal string.
    #[serde(default = "crate::orders::zero")]
    pub discount: String,
}

/// Canonical `order` (key: Shopify order id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderFields {
    /// Order name (`#1001`).
    pub name: String,
    /// Buyer email.
    pub email: Option<String>,
    /// Shopify customer id; `None` for a guest checkout.
    pub customer: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// ISO currency code.
    pub currency: String,
    /// Order total, a normalised decimal string.
    pub total_price: String,
    /// Shopify financial status (`paid`, `pending`, ...).
    pub financial_status: Option<String>,
    /// Whether the order was cancelled.
    pub cancelled: bool,
    /// Lines, in Shopify's order.
    pub lines: Vec<OrderLine>,
    /// Σ price × quantity of the lines, before discounts.
    #[serde(default)]
    pub subtotal: Option<String>,
    /// Σ shipping line prices.
    #[serde(default)]
    pub shipping_total: Option<String>,
    /// Σ taxes (lines and shipping).
    #[serde(default)]
    pub tax_total: Option<String>,
    /// Order discounts.
    #[serde(default)]
    pub discount_total: Option<String>,
    /// Whether prices include tax.
    #[serde(default)]
    pub taxes_included: bool,
    /// Billing address.
    #[serde(default)]
    pub billing_address: Option<crate::orders::Address>,
    /// Shipping address.
    #[serde(default)]
    pub shipping_address: Option<crate::orders::Address>,
    /// Shipping lines.
    #[serde(default)]
    pub shipping_lines: Vec<crate::orders::ShippingLine>,
    /// Discount codes applied.
    #[serde(default)]
    pub discount_codes: Vec<String>,
    /// Payment gateway.
    #[serde(default)]
    pub payment_gateway: Option<String>,
    /// Order note.
    #[serde(default)]
    pub note: Option<String>,
    /// The NetSuite location the order's lines are committed at (the order's Shopify
    /// location mapped by `locations`, else `order_location`, else the one mapped location);
    /// `None` when it cannot be told.
    #[serde(default)]
    pub location: Option<String>,
}

/// One shipped line of a fulfilment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentLine {
    /// Canonical SKU.
    pub sku: String,
    /// Units shipped.
    pub quantity: i64,
}

/// A parcel's tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracking {
    /// The tracking number.
    pub number: String,
    /// The carrier (NetSuite `shipCarrier`, Shopify tracking company).
    pub company: Option<String>,
    /// The tracking page, when known.
    pub url: Option<String>,
}

/// Canonical `fulfillment` (key: `<order key>#<NetSuite item fulfilment id>`): a shipment of
/// some of an order's lines. Fulfilments flow from NetSuite to the storefront the order came
/// from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentFields {
    /// The canonical key of the order it ships.
    pub order: String,
    /// What it ships.
    pub lines: Vec<FulfillmentLine>,
    /// Its parcels' tracking numbers (the first goes to the storefront).
    pub tracking: Vec<Tracking>,
}

/// One refunded line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    /// Canonical SKU.
    pub sku: String,
    /// Units refunded.
    pub quantity: i64,
    /// Whether the units go back to stock (Shopify restock type `return`); `false` for
    /// `no_restock` and for `cancel` (units never shipped: they never left stock).
    pub restock: bool,
    /// The storefront's restock type (`return`, `cancel`, `no_restock`).
    pub restock_type: String,
    /// The money refunded on the line, a normalised decimal string.
    pub amount: String,
    /// The NetSuite location the units return to (restocked lines; `None` when unknown).
    pub location: Option<String>,
}

/// Canonical `refund` (key: `<order key>#<Shopify refund id>`): money given back on some of
/// an order's lines, each returned to stock or not. Refunds flow from the storefront to the
/// ERP (a NetSuite credit memo), once; a refund never changes after it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundFields {
    /// The canonical key of the order it refunds.
    pub order: String,
    /// The order's name (`#1001`).
    pub order_name: String,
    /// The order's customer (storefront id); `None` for a guest checkout.
    pub customer: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// ISO currency code.
    pub currency: String,
    /// Σ line amounts, a normalised decimal string.
    pub amount: String,
    /// Its note.
    pub note: Option<String>,
    /// Its lines.
    pub lines: Vec<RefundLine>,
}

/// Serialises canonical fields into a record.
pub fn record<T: Serialize>(kind: EntityKind, key: &str, fields: &T) -> CanonicalRecord {
    CanonicalRecord {
        kind,
        key: key.to_owned(),
        // Plain structs of strings, numbers and bools always serialise.
        fields: serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_owned()),
    }
}

/// Serialises canonical fields into a record, leaving out the fields named in `omit` (fields
/// its source did not deliver: the merge keeps what it knew of them).
pub fn record_without<T: Serialize>(
    kind: EntityKind,
    key: &str,
    fields: &T,
    omit: &[&str],
) -> CanonicalRecord {
    let mut value = serde_json::to_value(fields).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        for f in omit {
            map.remove(*f);
        }
    }
    CanonicalRecord {
        kind,
        key: key.to_owned(),
        fields: value.to_string(),
    }
}

/// The names of the fields a record carries (a field it lacks, from a golden record older
/// than the field or a source that did not deliver it, is left alone on the target).
pub fn carried(r: &CanonicalRecord) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(&r.fields)
        .ok()
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default()
}

/// Whether `want` and `have` agree on every field in `fields`.
pub fn same_on<T: Serialize>(want: &T, have: &T, fields: &[String]) -> bool {
    match (serde_json::to_value(want), serde_json::to_value(have)) {
        (Ok(x), Ok(y)) => fields.iter().all(|f| {
            same_value(
                x.get(f).unwrap_or(&serde_json::Value::Null),
                y.get(f).unwrap_or(&serde_json::Value::Null),
            )
        }),
        _ => false,
    }
}

/// Parses a record's fields into `T`, naming the record in the error.
pub fn parse<T: for<'de> Deserialize<'de>>(r: &CanonicalRecord) -> Result<T, ItemError> {
    serde_json::from_str(&r.fields).map_err(|e| {
        ItemError::InvalidInput(format!("{} {}: canonical fields: {e}", r.kind, r.key))
    })
}

/// Whether two sets of canonical fields are the same for sync purposes.
pub fn same<T: Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(x), Ok(y)) => same_value(&x, &y),
        _ => false,
    }
}

/// The target's current document of a write request, parsed (`None`: the record is new there),
/// with errors naming the platform, kind and key.
pub fn current_doc(
    req: &WriteRequest,
    platform: &str,
) -> Result<Option<serde_json::Value>, ItemError> {
    req.current
        .as_deref()
        .map(|c| {
            weft_plugin_sdk::json::parse(
                &format!("current {platform} {} {}", req.record.kind, req.record.key),
                c,
            )
        })
        .transpose()
}

/// A write command to `system` (the mapper's dispatch renames it to the system asked for).
pub fn write_command(
    system: &str,
    kind: EntityKind,
    op: WriteOp,
    target_id: Option<String>,
    body: serde_json::Value,
) -> WriteCommand {
    WriteCommand {
        system: system.to_owned(),
        kind,
        op,
        target_id,
        external_id: None,
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(price: Option<&str>, compare_at: Option<&str>) -> PriceFields {
        PriceFields {
            sku: "TEE".into(),
            price: price.map(str::to_owned),
            compare_at_price: compare_at.map(str::to_owned),
            currencies: None,
        }
    }

    #[test]
    fn a_compare_at_price_not_above_the_price_is_none() {
        let norm = |p, c| price(p, c).normalized("TEE").unwrap().compare_at_price;
        assert_eq!(norm(Some("15"), Some("20")), Some("20.00".into()));
        assert_eq!(norm(Some("20"), Some("20.00")), None);
        assert_eq!(norm(Some("25"), Some("20")), None);
        // Without a price there is nothing to compare with: kept as written.
        assert_eq!(norm(None, Some("20")), Some("20.00".into()));
    }
}
