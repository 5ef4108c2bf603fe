//! Merchant and shopper activity (Rust API and `/_sim` HTTP endpoints): create and edit products,
//! variants, inventory, customers; place, fulfil (with tracking), refund and cancel orders (price
//! lists and their fixed prices: [`crate::price_lists`], routes merged here). Every
//! change bumps `updated_at` and
//! fires webhooks exactly like an admin edit. Also the `/_sim` inspection endpoints.
//!
//! HTTP ids are decimal strings (JSON numbers would lose precision above 2^53).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::parse_money;
use crate::sim::{Shared, ShopifySim, SimError};
use crate::state::{
    Actor, CustomerSpec, OrderLineSpec, OrderSpec, ProductSpec, Status, Topic, VariantPatch,
    VariantSpec,
};

/// A product to create as the merchant.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewProduct {
    /// Title.
    pub title: String,
    /// Description HTML.
    pub body_html: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Product type.
    pub product_type: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// `active` (default), `draft`, `archived`.
    pub status: Option<String>,
    /// Name of the single option (default `Title`).
    pub option_name: Option<String>,
    /// Variants (at least one; an empty list creates one default variant).
    pub variants: Vec<NewVariant>,
}

/// What a new product has beyond [`NewProduct`] ([`ShopifySim::create_product_with`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductExtras {
    /// Names of up to three options (instead of `option_name`).
    pub option_names: Vec<String>,
    /// Per variant of the product, in order: one value per name of `option_names`.
    pub variant_options: Vec<Vec<String>>,
    /// Per variant, in order: its weight and unit (`KILOGRAMS` when `None`).
    pub weights: Vec<Option<(f64, Option<String>)>>,
    /// Taxonomy category id (`aa-1-13-8`).
    pub category: Option<String>,
    /// SEO title.
    pub seo_title: Option<String>,
    /// SEO description.
    pub seo_description: Option<String>,
    /// Images, in order.
    pub images: Vec<ImageSpec>,
    /// Metafields.
    pub metafields: Vec<MetafieldSpec>,
}

/// A product image by URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageSpec {
    /// Source URL.
    pub url: String,
    /// Alt text.
    pub alt: Option<String>,
}

/// A product metafield.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetafieldSpec {
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// Type (default `single_line_text_field`).
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Value.
    pub value: String,
}

/// A variant of a new product.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewVariant {
    /// SKU.
    pub sku: Option<String>,
    /// Price as a decimal string.
    pub price: String,
    /// Compare-at price.
    pub compare_at_price: Option<String>,
    /// Barcode.
    pub barcode: Option<String>,
    /// Option value (default `Default Title` for one variant, else the SKU or `Variant N`).
    pub option: Option<String>,
    /// Initial available quantity at the first location.
    pub available: Option<i64>,
}

/// Product fields to edit.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductEdit {
    /// Title.
    pub title: Option<String>,
    /// Description HTML.
    pub body_html: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Product type.
    pub product_type: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Status.
    pub status: Option<String>,
    /// Taxonomy category id (`aa-1-13-8`).
    pub category: Option<String>,
    /// SEO title.
    pub seo_title: Option<String>,
    /// SEO description.
    pub seo_description: Option<String>,
    /// Images (the full list).
    pub images: Option<Vec<ImageSpec>>,
    /// Metafields to set.
    pub metafields: Option<Vec<MetafieldSpec>>,
}

/// Variant fields to edit.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VariantEdit {
    /// SKU.
    pub sku: Option<String>,
    /// Price.
    pub price: Option<String>,
    /// Compare-at price (`null` clears it when `clear_compare_at_price` is set).
    pub compare_at_price: Option<String>,
    /// Clears the compare-at price.
    pub clear_compare_at_price: bool,
    /// Barcode.
    pub barcode: Option<String>,
    /// New option value (the variant title).
    pub title: Option<String>,
    /// New value of a named option: `(option name, value)`.
    pub option: Option<(String, String)>,
    /// Weight and unit (`KILOGRAMS`, ...).
    pub weight: Option<(f64, String)>,
}

/// Customer fields (create: at least one of email, phone, names).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerFields {
    /// Email.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Tax exemption.
    pub tax_exempt: Option<bool>,
    /// Email marketing consent: `SUBSCRIBED`, `UNSUBSCRIBED` or `PENDING` (what the admin and
    /// the API can set), or `NOT_SUBSCRIBED` on a new customer (the default).
    pub email_marketing: Option<String>,
    /// Addresses (the full list; the first is the default).
    pub addresses: Option<Vec<crate::checkout::Address>>,
}

/// An order line by variant id or SKU.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewOrderLine {
    /// Variant id (decimal string).
    pub variant_id: Option<String>,
    /// Or the SKU.
    pub sku: Option<String>,
    /// Quantity.
    pub quantity: i64,
}

/// An order to place.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewOrder {
    /// Customer id.
    pub customer_id: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Location id (default: first location).
    pub location_id: Option<String>,
    /// Lines.
    pub line_items: Vec<NewOrderLine>,
    /// Addresses, shipping lines, tax rates, discount code, gateway, note, financial status.
    pub checkout: crate::checkout::CheckoutSpec,
}

/// Ids of a created product.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedProduct {
    /// Product id.
    pub id: u64,
    /// Variant ids in position order.
    pub variant_ids: Vec<u64>,
    /// Inventory item ids, one per variant.
    pub inventory_item_ids: Vec<u64>,
}

pub(crate) fn money(s: &str) -> Result<i64, SimError> {
    parse_money(s).ok_or_else(|| SimError::Invalid(format!("price {s:?} is not a decimal amount")))
}

fn status(s: &str) -> Result<Status, SimError> {
    match s.to_ascii_lowercase().as_str() {
        "active" => Ok(Status::Active),
        "draft" => Ok(Status::Draft),
        "archived" => Ok(Status::Archived),
        other => Err(SimError::Invalid(format!("product status {other:?}"))),
    }
}

fn weight(x: &ProductExtras, i: usize) -> Option<(f64, String)> {
    x.weights
        .get(i)
        .cloned()
        .flatten()
        .map(|(w, u)| (w, u.unwrap_or_else(|| "KILOGRAMS".to_owned())))
}

fn metafields(list: Vec<MetafieldSpec>) -> Vec<(String, String, String, String)> {
    list.into_iter()
        .map(|m| {
            (
                m.namespace,
                m.key,
                m.type_
                    .unwrap_or_else(|| "single_line_text_field".to_owned()),
                m.value,
            )
        })
        .collect()
}

/// The catalog fields of a new product (SEO, images, metafields).
fn catalog_spec(p: &ProductExtras) -> ProductSpec {
    ProductSpec {
        category: p.category.clone().map(Some),
        seo_title: p.seo_title.clone().map(Some),
        seo_description: p.seo_description.clone().map(Some),
        images: Some(
            p.images
                .iter()
                .map(|i| (i.url.clone(), i.alt.clone()))
                .collect(),
        ),
        metafields: Some(metafields(p.metafields.clone())),
        ..ProductSpec::default()
    }
}

pub(crate) fn id(s: &str, what: &str) -> Result<u64, SimError> {
    s.parse()
        .map_err(|_| SimError::Invalid(format!("{what} id {s:?} is not a decimal id")))
}

impl ShopifySim {
    fn with_state<T>(
        &self,
        f: impl FnOnce(&mut crate::state::ShopState) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let out = {
            let mut st = self.shared.state.lock();
            f(&mut st)
        };
        self.shared.flush_events();
        out
    }

    /// Ids of the locations.
    pub fn location_ids(&self) -> Vec<u64> {
        self.shared.state.lock().locations.keys().copied().collect()
    }

    /// Adds a location; existing variants are stocked there with 0.
    pub fn create_location(&self, name: &str) -> u64 {
        let mut st = self.shared.state.lock();
        let lid = st.new_id();
        st.locations.insert(
            lid,
            crate::state::LocationRec {
                id: lid,
                name: name.to_string(),
                is_active: true,
            },
        );
        let now = st.clock.now();
        let items: Vec<u64> = st.inventory_items.keys().copied().collect();
        for item in items {
            let level_id = st.new_id();
            st.levels.insert(
                (item, lid),
                crate::state::LevelRec {
                    id: level_id,
                    inventory_item_id: item,
                    location_id: lid,
                    updated_at: now,
                    ..crate::state::LevelRec::default()
                },
            );
        }
        lid
    }

    /// Creates a product as the merchant (fires `products/create`).
    /// Seeds a catalog of `products` products of `variants_each` variants (option `Size`,
    /// SKUs `BF-<product>-<variant>`, 5 available each), for backfill tests and benchmarks.
    pub fn seed_catalog(
        &self,
        products: usize,
        variants_each: usize,
    ) -> Result<Vec<CreatedProduct>, SimError> {
        (0..products)
            .map(|p| {
                self.create_product(NewProduct {
                    title: format!("Backfill product {p}"),
                    option_name: (variants_each > 1).then(|| "Size".to_owned()),
                    variants: (0..variants_each.max(1))
                        .map(|v| NewVariant {
                            sku: Some(format!("BF-{p:06}-{v:03}")),
                            price: format!("{}.{:02}", 10 + p % 90, v % 100),
                            option: (variants_each > 1).then(|| format!("S{v}")),
                            available: Some(5),
                            ..NewVariant::default()
                        })
                        .collect(),
                    ..NewProduct::default()
                })
            })
            .collect()
    }

    pub fn create_product(&self, p: NewProduct) -> Result<CreatedProduct, SimError> {
        self.create_product_with(p, ProductExtras::default())
    }

    /// Creates a product with up to three named options, weights, SEO fields, images and
    /// metafields (fires `products/create`).
    pub fn create_product_with(
        &self,
        p: NewProduct,
        x: ProductExtras,
    ) -> Result<CreatedProduct, SimError> {
        let named = !x.option_names.is_empty();
        let option_name = p.option_name.clone().unwrap_or_else(|| "Title".to_string());
        let single = p.variants.len() <= 1;
        let mut options: Vec<(String, Vec<String>)> = if named {
            x.option_names
                .iter()
                .map(|n| (n.clone(), Vec::new()))
                .collect()
        } else {
            vec![(option_name.clone(), Vec::new())]
        };
        let mut variants = Vec::new();
        let mut initial = Vec::new();
        let list = if p.variants.is_empty() {
            vec![NewVariant {
                price: "0.00".into(),
                ..NewVariant::default()
            }]
        } else {
            p.variants.clone()
        };
        for (i, v) in list.iter().enumerate() {
            let given: Vec<String> = if named {
                x.variant_options.get(i).cloned().unwrap_or_default()
            } else {
                vec![v.option.clone().unwrap_or_else(|| {
                    if single {
                        "Default Title".to_string()
                    } else {
                        v.sku
                            .clone()
                            .unwrap_or_else(|| format!("Variant {}", i + 1))
                    }
                })]
            };
            if given.len() != options.len() {
                return Err(SimError::Invalid(format!(
                    "variant {:?} gives {} option values for {} options",
                    v.sku,
                    given.len(),
                    options.len()
                )));
            }
            for ((_, values), value) in options.iter_mut().zip(&given) {
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
            initial.push(v.available);
            variants.push(VariantSpec {
                id: None,
                option_values: options.iter().map(|(n, _)| n.clone()).zip(given).collect(),
                sku: Some(v.sku.clone()),
                price: Some(money(&v.price)?),
                compare_at_price: Some(v.compare_at_price.as_deref().map(money).transpose()?),
                barcode: Some(v.barcode.clone()),
                weight: weight(&x, i),
            });
        }
        let spec = ProductSpec {
            id: None,
            title: Some(p.title.clone()),
            handle: None,
            description_html: p.body_html.clone(),
            vendor: p.vendor.clone(),
            product_type: p.product_type.clone(),
            status: p.status.as_deref().map(status).transpose()?,
            tags: Some(p.tags.clone()),
            options: Some(options),
            variants: Some(variants),
            ..catalog_spec(&x)
        };
        self.create_from_spec(spec, initial)
    }

    fn create_from_spec(
        &self,
        spec: ProductSpec,
        initial: Vec<Option<i64>>,
    ) -> Result<CreatedProduct, SimError> {
        self.with_state(|st| {
            let pid = st
                .product_set(spec, Actor::Merchant)
                .map_err(|e| SimError::from_user_errors(&e))?;
            let vids = st.products[&pid].variant_ids.clone();
            let items: Vec<u64> = vids
                .iter()
                .map(|v| st.variants[v].inventory_item_id)
                .collect();
            let loc = *st.locations.keys().next().expect("at least one location");
            for (item, qty) in items.iter().zip(initial) {
                if let Some(q) = qty {
                    st.set_available(*item, loc, q, None)
                        .map_err(|e| SimError::from_user_errors(&[e]))?;
                }
            }
            Ok(CreatedProduct {
                id: pid,
                variant_ids: vids,
                inventory_item_ids: items,
            })
        })
    }

    /// Edits product fields (fires `products/update`).
    pub fn edit_product(&self, product_id: u64, e: ProductEdit) -> Result<(), SimError> {
        let spec = ProductSpec {
            id: Some(product_id),
            title: e.title,
            description_html: e.body_html,
            vendor: e.vendor,
            product_type: e.product_type,
            tags: e.tags,
            status: e.status.as_deref().map(status).transpose()?,
            category: e.category.map(Some),
            seo_title: e.seo_title.map(Some),
            seo_description: e.seo_description.map(Some),
            images: e
                .images
                .map(|l| l.into_iter().map(|i| (i.url, i.alt)).collect()),
            metafields: e.metafields.map(metafields),
            ..ProductSpec::default()
        };
        self.with_state(|st| {
            if !st.products.contains_key(&product_id) {
                return Err(SimError::NotFound(format!("product {product_id}")));
            }
            st.product_set(spec, Actor::Merchant)
                .map(|_| ())
                .map_err(|e| SimError::from_user_errors(&e))
        })
    }

    /// Deletes a product (fires `products/delete` with `{"id": N}`).
    pub fn delete_product(&self, product_id: u64) -> Result<(), SimError> {
        self.with_state(|st| {
            st.delete_product(product_id)
                .map_err(|_| SimError::NotFound(format!("product {product_id}")))
        })
    }

    /// Deletes one variant of a product with others, as the merchant does in the admin (fires
    /// `products/update`, without the variant).
    pub fn delete_variant(&self, variant_id: u64) -> Result<(), SimError> {
        self.with_state(|st| {
            st.remove_variant(variant_id)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Deletes a customer without orders (fires `customers/delete` with `{"id": N}`).
    pub fn delete_customer(&self, customer_id: u64) -> Result<(), SimError> {
        self.with_state(|st| {
            st.delete_customer(customer_id)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Edits a variant (fires `products/update`).
    pub fn edit_variant(&self, variant_id: u64, e: VariantEdit) -> Result<(), SimError> {
        let price = e.price.as_deref().map(money).transpose()?;
        let compare = if e.clear_compare_at_price {
            Some(None)
        } else {
            e.compare_at_price
                .as_deref()
                .map(money)
                .transpose()?
                .map(Some)
        };
        self.with_state(|st| {
            let v = st
                .variants
                .get(&variant_id)
                .ok_or_else(|| SimError::NotFound(format!("variant {variant_id}")))?;
            let product_id = v.product_id;
            let mut option_values = e.title.map(|t| {
                v.selected_options
                    .first()
                    .map(|(n, _)| vec![(n.clone(), t)])
                    .unwrap_or_default()
            });
            if let Some((name, value)) = e.option {
                let mut all = v.selected_options.clone();
                match all.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = value,
                    None => {
                        return Err(SimError::Invalid(format!(
                            "variant {variant_id} has no option {name:?}"
                        )));
                    }
                }
                option_values = Some(all);
            }
            st.variants_bulk_update(
                product_id,
                vec![VariantPatch {
                    id: variant_id,
                    sku: e.sku.map(Some),
                    price,
                    compare_at_price: compare,
                    barcode: e.barcode.map(Some),
                    option_values,
                    weight: e.weight,
                }],
            )
            .map(|_| ())
            .map_err(|e| SimError::from_user_errors(&e))
        })
    }

    /// A product in the REST / webhook shape (what a `products/update` delivery carries).
    pub fn product_json(&self, product_id: u64) -> Value {
        self.shared.state.lock().product_rest(product_id)
    }

    /// A customer in the REST / webhook shape.
    pub fn customer_json(&self, customer_id: u64) -> Value {
        self.shared.state.lock().customer_rest(customer_id)
    }

    /// The variant id carrying `sku` (first by id).
    pub fn variant_by_sku(&self, sku: &str) -> Option<u64> {
        let st = self.shared.state.lock();
        st.variants
            .values()
            .find(|v| v.sku.as_deref() == Some(sku))
            .map(|v| v.id)
    }

    /// The product a variant belongs to.
    pub fn product_of_variant(&self, variant_id: u64) -> Option<u64> {
        let st = self.shared.state.lock();
        st.variants.get(&variant_id).map(|v| v.product_id)
    }

    /// The inventory item of a variant.
    pub fn inventory_item_of(&self, variant_id: u64) -> Option<u64> {
        let st = self.shared.state.lock();
        st.variants.get(&variant_id).map(|v| v.inventory_item_id)
    }

    /// Available quantity of an item at a location.
    pub fn available(&self, item: u64, location: u64) -> Option<i64> {
        let st = self.shared.state.lock();
        st.levels.get(&(item, location)).map(|l| l.available)
    }

    /// Sets available stock (fires `inventory_levels/update`).
    pub fn set_inventory(&self, item: u64, location: u64, quantity: i64) -> Result<(), SimError> {
        self.with_state(|st| {
            st.set_available(item, location, quantity, None)
                .map(|_| ())
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Adjusts available stock by `delta`; returns the new quantity.
    pub fn adjust_inventory(&self, item: u64, location: u64, delta: i64) -> Result<i64, SimError> {
        self.with_state(|st| {
            st.adjust_available(item, location, delta)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Creates a customer (fires `customers/create`).
    pub fn create_customer(&self, c: CustomerFields) -> Result<u64, SimError> {
        self.upsert_customer(None, c)
    }

    /// Edits a customer (fires `customers/update`).
    pub fn edit_customer(&self, customer_id: u64, c: CustomerFields) -> Result<(), SimError> {
        self.upsert_customer(Some(customer_id), c).map(|_| ())
    }

    fn upsert_customer(&self, id: Option<u64>, c: CustomerFields) -> Result<u64, SimError> {
        let spec = CustomerSpec {
            id,
            email: c.email.map(Some),
            first_name: c.first_name.map(Some),
            last_name: c.last_name.map(Some),
            phone: c.phone.map(Some),
            tags: c.tags,
            tax_exempt: c.tax_exempt,
            email_marketing: c.email_marketing,
            addresses: c.addresses,
        };
        self.with_state(|st| {
            if let Some(i) = id
                && !st.customers.contains_key(&i)
            {
                return Err(SimError::NotFound(format!("customer {i}")));
            }
            if let Some(m) = spec.email_marketing.as_deref() {
                let settable = ["SUBSCRIBED", "UNSUBSCRIBED", "PENDING"];
                if !(settable.contains(&m) || (id.is_none() && m == "NOT_SUBSCRIBED")) {
                    return Err(SimError::Invalid(format!(
                        "email_marketing {m:?}: expected one of {settable:?} (NOT_SUBSCRIBED only on a new customer)"
                    )));
                }
            }
            st.customer_upsert(spec, Actor::Merchant)
                .map_err(|e| SimError::from_user_errors(&e))
        })
    }

    /// Places an order as a shopper would (fires `orders/create` and stock updates).
    pub fn place_order(&self, o: NewOrder) -> Result<u64, SimError> {
        let mut lines = Vec::new();
        for l in &o.line_items {
            let variant_id = match (&l.variant_id, &l.sku) {
                (Some(v), _) => id(v, "variant")?,
                (None, Some(sku)) => self
                    .variant_by_sku(sku)
                    .ok_or_else(|| SimError::NotFound(format!("variant with sku {sku}")))?,
                (None, None) => {
                    return Err(SimError::Invalid(
                        "an order line needs variant_id or sku".into(),
                    ));
                }
            };
            lines.push(OrderLineSpec {
                variant_id,
                quantity: l.quantity,
            });
        }
        let spec = OrderSpec {
            customer_id: o
                .customer_id
                .as_deref()
                .map(|c| id(c, "customer"))
                .transpose()?,
            email: o.email,
            checkout: o.checkout,
            lines,
            location_id: o
                .location_id
                .as_deref()
                .map(|l| id(l, "location"))
                .transpose()?,
        };
        self.with_state(|st| {
            st.place_order(spec, Actor::Merchant)
                .map_err(|e| SimError::from_user_errors(&e))
        })
    }

    /// Cancels an order, restocking it (fires `orders/cancelled` and `orders/updated`).
    pub fn cancel_order(&self, order_id: u64) -> Result<(), SimError> {
        self.with_state(|st| {
            st.cancel_order(order_id)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Cancels an order as the merchant does in the admin, restocking or not.
    pub fn cancel_order_with(
        &self,
        order_id: u64,
        restock: bool,
        reason: &str,
    ) -> Result<(), SimError> {
        self.with_state(|st| {
            st.cancel_order_with(order_id, restock, reason)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// The order's fulfilment order id and its line item ids.
    pub fn order_lines(&self, order_id: u64) -> Option<(u64, Vec<u64>)> {
        let st = self.shared.state.lock();
        st.orders.get(&order_id).map(|o| {
            (
                o.fulfillment_order_id,
                o.line_items.iter().map(|l| l.id).collect(),
            )
        })
    }

    /// The order's fulfilments: each one's tracking number, carrier, URL and units shipped.
    pub fn fulfillments(&self, order_id: u64) -> Vec<ShippedFulfillment> {
        let st = self.shared.state.lock();
        st.orders
            .get(&order_id)
            .map(|o| {
                o.fulfillments
                    .iter()
                    .map(|f| ShippedFulfillment {
                        id: f.id,
                        tracking_number: f.tracking_number.clone(),
                        tracking_company: f.tracking_company.clone(),
                        tracking_url: f.tracking_url.clone(),
                        units: f.lines.iter().map(|(_, q)| q).sum(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fulfils lines of an order (`None` = everything fulfillable) with tracking, as the
    /// merchant or a fulfilment app does; returns the fulfilment id.
    pub fn fulfil_order(
        &self,
        order_id: u64,
        lines: Option<Vec<(u64, i64)>>,
        tracking: crate::lifecycle::Tracking,
    ) -> Result<u64, SimError> {
        self.with_state(|st| {
            let fo = st
                .orders
                .get(&order_id)
                .map(|o| o.fulfillment_order_id)
                .ok_or_else(|| SimError::NotFound(format!("order {order_id}")))?;
            st.fulfill(fo, lines, tracking)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Refunds lines of an order as the merchant does (restock per line); returns the refund id.
    pub fn refund_order(
        &self,
        order_id: u64,
        lines: Vec<crate::lifecycle::RefundLineSpec>,
        note: Option<String>,
    ) -> Result<u64, SimError> {
        self.with_state(|st| {
            st.refund(order_id, lines, note)
                .map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// Edits an order as the merchant does in the admin (one `orderEditBegin` ..
    /// `orderEditCommit`): `set` lowers lines' current quantities (`(line item id, new
    /// quantity, restock)`), `add` adds variants as new lines (`(variant id, quantity)`).
    pub fn edit_order(
        &self,
        order_id: u64,
        set: Vec<(u64, i64, bool)>,
        add: Vec<(u64, i64)>,
    ) -> Result<(), SimError> {
        self.with_state(|st| {
            let edit = st
                .order_edit_begin(order_id)
                .map_err(|e| SimError::from_user_errors(&[e]))?;
            let staged: Result<(), crate::state::UserErr> = (|| {
                for (line, q, restock) in set {
                    st.order_edit_set_quantity(edit, line, q, restock)?;
                }
                for (variant, q) in add {
                    st.order_edit_add_variant(edit, variant, q)?;
                }
                st.order_edit_commit(edit).map(|_| ())
            })();
            if staged.is_err() {
                st.order_edits.remove(&edit);
            }
            staged.map_err(|e| SimError::from_user_errors(&[e]))
        })
    }

    /// The quantity of a named inventory state (`available`, `committed`, `on_hand`, ...).
    pub fn quantity(&self, item: u64, location: u64, name: &str) -> Option<i64> {
        let st = self.shared.state.lock();
        st.levels.get(&(item, location))?.quantity(name)
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub(crate) struct ApiError(SimError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            SimError::NotFound(_) => StatusCode::NOT_FOUND,
            SimError::Invalid(_) | SimError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SimError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({"error": self.0.to_string()}))).into_response()
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        ApiError(e)
    }
}

pub(crate) type ApiResult = Result<Json<Value>, ApiError>;

pub(crate) fn sim(shared: Arc<Shared>) -> ShopifySim {
    ShopifySim { shared }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryBody {
    inventory_item_id: Option<String>,
    sku: Option<String>,
    location_id: Option<String>,
    available: Option<i64>,
    delta: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeBody {
    topic: String,
    uri: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationBody {
    name: String,
}

fn resolve_level(s: &ShopifySim, b: &InventoryBody) -> Result<(u64, u64), SimError> {
    let item = match (&b.inventory_item_id, &b.sku) {
        (Some(i), _) => id(i, "inventory item")?,
        (None, Some(sku)) => s
            .variant_by_sku(sku)
            .and_then(|v| s.inventory_item_of(v))
            .ok_or_else(|| SimError::NotFound(format!("inventory item with sku {sku}")))?,
        (None, None) => return Err(SimError::Invalid("give inventory_item_id or sku".into())),
    };
    let loc = match &b.location_id {
        Some(l) => id(l, "location")?,
        None => *s
            .location_ids()
            .first()
            .ok_or_else(|| SimError::NotFound("location".into()))?,
    };
    Ok((item, loc))
}

/// The `/_sim` routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/products", post(http_create_product))
        .route("/_sim/products/{id}", patch(http_edit_product))
        .route("/_sim/variants/{id}", patch(http_edit_variant))
        .route("/_sim/inventory/set", post(http_set_inventory))
        .route("/_sim/inventory/adjust", post(http_adjust_inventory))
        .route("/_sim/customers", post(http_create_customer))
        .route("/_sim/customers/{id}", patch(http_edit_customer))
        .route("/_sim/orders", post(http_place_order))
        .route("/_sim/orders/{id}/cancel", post(http_cancel_order))
        .route("/_sim/orders/{id}/fulfil", post(http_fulfil_order))
        .route("/_sim/orders/{id}/refund", post(http_refund_order))
        .route("/_sim/locations", post(http_create_location))
        .route(
            "/_sim/webhooks/subscriptions",
            post(http_subscribe).get(http_subscriptions),
        )
        .route("/_sim/webhooks/log", get(http_webhook_log))
        .route("/_sim/webhooks/stats", get(http_webhook_stats))
        .route("/_sim/compliance/uri", post(http_compliance_uri))
        .route(
            "/_sim/compliance/customers/{id}/redact",
            post(http_customer_redact),
        )
        .route(
            "/_sim/compliance/customers/{id}/data_request",
            post(http_customer_data),
        )
        .route("/_sim/compliance/shop/redact", post(http_shop_redact))
        .route("/_sim/secrets/rotate", post(http_rotate))
        .route("/_sim/secrets/revoke", post(http_revoke))
        .route("/_sim/state", get(http_state))
        .route("/_sim/requests", get(http_requests))
        .route("/_sim/stats", get(http_stats))
        .merge(crate::price_lists::routes())
        .merge(crate::collections::routes())
}

async fn http_create_product(
    State(sh): State<Arc<Shared>>,
    Json(p): Json<NewProduct>,
) -> ApiResult {
    let c = sim(sh).create_product(p)?;
    Ok(Json(json!({
        "id": c.id.to_string(),
        "variant_ids": c.variant_ids.iter().map(u64::to_string).collect::<Vec<_>>(),
        "inventory_item_ids": c.inventory_item_ids.iter().map(u64::to_string).collect::<Vec<_>>(),
    })))
}

async fn http_edit_product(
    State(sh): State<Arc<Shared>>,
    Path(pid): Path<String>,
    Json(e): Json<ProductEdit>,
) -> ApiResult {
    let pid = id(&pid, "product")?;
    sim(sh).edit_product(pid, e)?;
    Ok(Json(json!({"id": pid.to_string()})))
}

async fn http_edit_variant(
    State(sh): State<Arc<Shared>>,
    Path(vid): Path<String>,
    Json(e): Json<VariantEdit>,
) -> ApiResult {
    let vid = id(&vid, "variant")?;
    sim(sh).edit_variant(vid, e)?;
    Ok(Json(json!({"id": vid.to_string()})))
}

async fn http_set_inventory(
    State(sh): State<Arc<Shared>>,
    Json(b): Json<InventoryBody>,
) -> ApiResult {
    let s = sim(sh);
    let (item, loc) = resolve_level(&s, &b)?;
    let q = b
        .available
        .ok_or_else(|| SimError::Invalid("`available` is required".into()))?;
    s.set_inventory(item, loc, q)?;
    Ok(Json(
        json!({"inventory_item_id": item.to_string(), "location_id": loc.to_string(), "available": q}),
    ))
}

async fn http_adjust_inventory(
    State(sh): State<Arc<Shared>>,
    Json(b): Json<InventoryBody>,
) -> ApiResult {
    let s = sim(sh);
    let (item, loc) = resolve_level(&s, &b)?;
    let d = b
        .delta
        .ok_or_else(|| SimError::Invalid("`delta` is required".into()))?;
    let after = s.adjust_inventory(item, loc, d)?;
    Ok(Json(
        json!({"inventory_item_id": item.to_string(), "location_id": loc.to_string(), "available": after}),
    ))
}

async fn http_create_customer(
    State(sh): State<Arc<Shared>>,
    Json(c): Json<CustomerFields>,
) -> ApiResult {
    let cid = sim(sh).create_customer(c)?;
    Ok(Json(json!({"id": cid.to_string()})))
}

async fn http_edit_customer(
    State(sh): State<Arc<Shared>>,
    Path(cid): Path<String>,
    Json(c): Json<CustomerFields>,
) -> ApiResult {
    let cid = id(&cid, "customer")?;
    sim(sh).edit_customer(cid, c)?;
    Ok(Json(json!({"id": cid.to_string()})))
}

async fn http_place_order(State(sh): State<Arc<Shared>>, Json(o): Json<NewOrder>) -> ApiResult {
    let oid = sim(sh).place_order(o)?;
    Ok(Json(json!({"id": oid.to_string()})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    restock: Option<bool>,
    reason: Option<String>,
}

async fn http_cancel_order(
    State(sh): State<Arc<Shared>>,
    Path(oid): Path<String>,
    body: Option<Json<CancelBody>>,
) -> ApiResult {
    let oid = id(&oid, "order")?;
    let b = body.map(|Json(b)| b).unwrap_or_default();
    sim(sh).cancel_order_with(
        oid,
        b.restock.unwrap_or(true),
        b.reason.as_deref().unwrap_or("CUSTOMER"),
    )?;
    Ok(Json(json!({"id": oid.to_string()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilLine {
    line_item_id: String,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilBody {
    /// Lines to ship; absent = everything fulfillable.
    lines: Option<Vec<FulfilLine>>,
    tracking_number: Option<String>,
    tracking_url: Option<String>,
    tracking_company: Option<String>,
}

async fn http_fulfil_order(
    State(sh): State<Arc<Shared>>,
    Path(oid): Path<String>,
    Json(b): Json<FulfilBody>,
) -> ApiResult {
    let oid = id(&oid, "order")?;
    let lines = b
        .lines
        .map(|ls| {
            ls.into_iter()
                .map(|l| id(&l.line_item_id, "line item").map(|i| (i, l.quantity)))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let fid = sim(sh).fulfil_order(
        oid,
        lines,
        crate::lifecycle::Tracking {
            number: b.tracking_number,
            url: b.tracking_url,
            company: b.tracking_company,
        },
    )?;
    Ok(Json(json!({"id": fid.to_string()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundLine {
    line_item_id: String,
    quantity: i64,
    restock_type: Option<String>,
    location_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    lines: Vec<RefundLine>,
    note: Option<String>,
}

async fn http_refund_order(
    State(sh): State<Arc<Shared>>,
    Path(oid): Path<String>,
    Json(b): Json<RefundBody>,
) -> ApiResult {
    let oid = id(&oid, "order")?;
    let mut lines = Vec::new();
    for l in b.lines {
        lines.push(crate::lifecycle::RefundLineSpec {
            line_item_id: id(&l.line_item_id, "line item")?,
            quantity: l.quantity,
            restock_type: l
                .restock_type
                .unwrap_or_else(|| "RETURN".into())
                .to_ascii_uppercase(),
            location_id: l.location_id.map(|x| id(&x, "location")).transpose()?,
        });
    }
    let rid = sim(sh).refund_order(oid, lines, b.note)?;
    Ok(Json(json!({"id": rid.to_string()})))
}

async fn http_create_location(
    State(sh): State<Arc<Shared>>,
    Json(b): Json<LocationBody>,
) -> ApiResult {
    let lid = sim(sh).create_location(&b.name);
    Ok(Json(json!({"id": lid.to_string()})))
}

async fn http_subscribe(State(sh): State<Arc<Shared>>, Json(b): Json<SubscribeBody>) -> ApiResult {
    let s = sim(sh);
    let subs = if b.topic == "*" {
        s.subscribe_all(&b.uri)?
    } else {
        let topic = Topic::parse(&b.topic)
            .ok_or_else(|| SimError::Invalid(format!("unknown webhook topic {:?}", b.topic)))?;
        vec![s.subscribe_webhook(topic, &b.uri)?]
    };
    Ok(Json(json!({"subscriptions": subs.iter().map(|s| json!({
        "id": s.id.to_string(), "topic": s.topic.as_str(), "uri": s.uri,
    })).collect::<Vec<_>>()})))
}

async fn http_subscriptions(State(sh): State<Arc<Shared>>) -> ApiResult {
    let subs = sim(sh).subscriptions();
    Ok(Json(json!({"subscriptions": subs.iter().map(|s| json!({
        "id": s.id.to_string(), "topic": s.topic.as_str(), "uri": s.uri, "api_version": s.api_version,
    })).collect::<Vec<_>>()})))
}

async fn http_webhook_log(State(sh): State<Arc<Shared>>) -> ApiResult {
    Ok(Json(
        serde_json::to_value(sim(sh).webhook_log()).unwrap_or(Value::Null),
    ))
}

async fn http_webhook_stats(State(sh): State<Arc<Shared>>) -> ApiResult {
    Ok(Json(
        serde_json::to_value(sim(sh).webhook_stats()).unwrap_or(Value::Null),
    ))
}

async fn http_rotate(State(sh): State<Arc<Shared>>, Json(b): Json<SecretBody>) -> ApiResult {
    sim(sh).rotate_secret(&b.secret);
    Ok(Json(json!({"rotated": true})))
}

async fn http_revoke(State(sh): State<Arc<Shared>>, Json(b): Json<SecretBody>) -> ApiResult {
    if sim(sh).revoke_secret(&b.secret) {
        Ok(Json(json!({"revoked": true})))
    } else {
        Err(SimError::NotFound("active secret with that value".into()).into())
    }
}

async fn http_state(State(sh): State<Arc<Shared>>) -> ApiResult {
    Ok(Json(sim(sh).dump()))
}

async fn http_requests(State(sh): State<Arc<Shared>>) -> ApiResult {
    Ok(Json(
        serde_json::to_value(sim(sh).request_log()).unwrap_or(Value::Null),
    ))
}

async fn http_stats(State(sh): State<Arc<Shared>>) -> ApiResult {
    Ok(Json(
        serde_json::to_value(sim(sh).stats()).unwrap_or(Value::Null),
    ))
}

/// One fulfilment of an order, as [`ShopifySim::fulfillments`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedFulfillment {
    /// Numeric id.
    pub id: u64,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Carrier.
    pub tracking_company: Option<String>,
    /// Tracking URL.
    pub tracking_url: Option<String>,
    /// Units shipped.
    pub units: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComplianceUriBody {
    uri: String,
}

async fn http_compliance_uri(
    State(sh): State<Arc<Shared>>,
    Json(b): Json<ComplianceUriBody>,
) -> ApiResult {
    sim(sh).set_compliance_uri(&b.uri);
    Ok(Json(json!({"uri": b.uri})))
}

async fn http_customer_redact(State(sh): State<Arc<Shared>>, Path(cid): Path<String>) -> ApiResult {
    let d = sim(sh)
        .request_customer_redact(id(&cid, "customer")?)
        .await?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

async fn http_customer_data(State(sh): State<Arc<Shared>>, Path(cid): Path<String>) -> ApiResult {
    let d = sim(sh).request_customer_data(id(&cid, "customer")?).await?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

async fn http_shop_redact(State(sh): State<Arc<Shared>>) -> ApiResult {
    let d = sim(sh).request_shop_redact().await?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}
