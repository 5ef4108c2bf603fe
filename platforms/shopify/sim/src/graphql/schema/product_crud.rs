//! The product mutations most Admin API clients call, beside `productSet`: `productCreate`
//! and `productUpdate` (the 2024-04 product model: `ProductCreateInput` takes options but no
//! variants, and creates the one variant their first values make; `ProductUpdateInput`
//! changes product fields only), `productDelete`, `productVariantsBulkCreate` (with its
//! `strategy` for the standalone variant) and `productVariantsBulkDelete`. Each goes through
//! the same state as `productSet`, so it fires the same webhooks (`products/create`,
//! `products/update`, `products/delete`).
//!
//! Assumptions where shopify.dev is silent: `productVariantsBulkCreate` adds option values a
//! new variant names to their option (Shopify does since 2024-07) but refuses an option the
//! product does not have, except when the standalone "Default Title" variant is being
//! removed, when the new variants' option names become the product's options; a failed
//! mutation changes nothing (all or nothing); `productDelete` runs synchronously whatever
//! `synchronous` says and returns no `productDeleteOperation`.

use super::*;

/// An option value of a new option.
#[derive(InputObject, Clone)]
pub struct OptionValueCreateInput {
    /// Value name.
    pub name: Option<String>,
}

/// An option of a product being created (`productOptions`).
#[derive(InputObject, Clone)]
pub struct OptionCreateInput {
    /// Name.
    pub name: Option<String>,
    /// Position.
    pub position: Option<i32>,
    /// Values (the first is the one variant's value).
    pub values: Option<Vec<OptionValueCreateInput>>,
}

/// `productCreate` input (2024-04 onwards: no variants).
#[derive(InputObject, Clone)]
pub struct ProductCreateInput {
    /// Title (required).
    pub title: Option<String>,
    /// Handle (made from the title when absent).
    pub handle: Option<String>,
    /// Description.
    pub description_html: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Product type.
    pub product_type: Option<String>,
    /// Status (default `ACTIVE`).
    pub status: Option<ProductStatus>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Options; the product's one variant takes each option's first value.
    pub product_options: Option<Vec<OptionCreateInput>>,
    /// Category (`gid://shopify/TaxonomyCategory/<id>`).
    pub category: MaybeUndefined<ID>,
    /// SEO title and description.
    pub seo: Option<SeoInput>,
    /// Metafields.
    pub metafields: Option<Vec<MetafieldInput>>,
}

/// `productUpdate` input: product fields only (variants have their own mutations).
#[derive(InputObject, Clone)]
pub struct ProductUpdateInput {
    /// The product (required).
    pub id: Option<ID>,
    /// Title.
    pub title: Option<String>,
    /// Handle.
    pub handle: Option<String>,
    /// Description.
    pub description_html: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Product type.
    pub product_type: Option<String>,
    /// Status.
    pub status: Option<ProductStatus>,
    /// Tags (the full list).
    pub tags: Option<Vec<String>>,
    /// Category; `null` removes it.
    pub category: MaybeUndefined<ID>,
    /// SEO title and description.
    pub seo: Option<SeoInput>,
    /// Metafields to create or update (others are kept).
    pub metafields: Option<Vec<MetafieldInput>>,
}

/// `productDelete` input.
#[derive(InputObject, Clone)]
pub struct ProductDeleteInput {
    /// The product.
    pub id: ID,
}

/// `productCreate` payload.
#[derive(SimpleObject)]
pub struct ProductCreatePayload {
    /// The new product.
    pub product: Option<Product>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `productUpdate` payload.
#[derive(SimpleObject)]
pub struct ProductUpdatePayload {
    /// The product.
    pub product: Option<Product>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `productDelete` payload.
#[derive(SimpleObject)]
pub struct ProductDeletePayload {
    /// The deleted product's id.
    pub deleted_product_id: Option<ID>,
    /// The shop.
    pub shop: Shop,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// What `productVariantsBulkCreate` does with a product's one (standalone) variant.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum ProductVariantsBulkCreateStrategy {
    /// Deletes the standalone "Default Title" variant; keeps a custom one.
    #[default]
    Default,
    /// Keeps the standalone variant, default or custom.
    PreserveStandaloneVariant,
    /// Deletes the standalone variant, default or custom.
    RemoveStandaloneVariant,
}

/// `productVariantsBulkCreate` user error.
#[derive(SimpleObject, Clone)]
pub struct ProductVariantsBulkCreateUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

/// `productVariantsBulkDelete` user error.
#[derive(SimpleObject, Clone)]
pub struct ProductVariantsBulkDeleteUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<String>,
}

from_user_err!(ProductVariantsBulkCreateUserError);
from_user_err!(ProductVariantsBulkDeleteUserError);

/// `productVariantsBulkCreate` payload.
#[derive(SimpleObject)]
pub struct ProductVariantsBulkCreatePayload {
    /// The product.
    pub product: Option<Product>,
    /// The new variants.
    pub product_variants: Option<Vec<ProductVariant>>,
    /// Errors.
    pub user_errors: Vec<ProductVariantsBulkCreateUserError>,
}

/// `productVariantsBulkDelete` payload.
#[derive(SimpleObject)]
pub struct ProductVariantsBulkDeletePayload {
    /// The product.
    pub product: Option<Product>,
    /// Errors.
    pub user_errors: Vec<ProductVariantsBulkDeleteUserError>,
}

pub(super) fn shop_of(ctx: &Context<'_>) -> Shop {
    let sh = shared(ctx);
    Shop {
        id: ID(gid("Shop", 1)),
        name: sh
            .config
            .shop_domain
            .trim_end_matches(".myshopify.com")
            .to_string(),
        myshopify_domain: sh.config.shop_domain.clone(),
        currency_code: CurrencyCode::parse(&sh.config.currency).unwrap_or(CurrencyCode::USD),
    }
}

/// A category argument (`None`: not given; `Some(None)`: removed).
pub(super) fn category_arg(
    category: &MaybeUndefined<ID>,
    field: &[&str],
    errors: &mut Vec<UserErr>,
) -> Option<Option<String>> {
    match category {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => match id
            .as_str()
            .strip_prefix("gid://shopify/TaxonomyCategory/")
            .filter(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }) {
            Some(c) => Some(Some(c.to_owned())),
            None => {
                errors.push(UserErr::new(
                    field,
                    "Product category does not exist",
                    "INVALID_PRODUCT_CATEGORY",
                ));
                None
            }
        },
    }
}

/// Metafields to create or update, each needing a key, a type and a value.
pub(super) fn metafields_arg(
    metafields: &Option<Vec<MetafieldInput>>,
    field: &str,
    errors: &mut Vec<UserErr>,
) -> Option<Vec<(String, String, String, String)>> {
    let ms = metafields.as_ref()?;
    let mut list = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        match (&m.key, &m.type_, &m.value) {
            (Some(k), Some(t), Some(v)) if !k.is_empty() && !v.is_empty() => list.push((
                m.namespace.clone().unwrap_or_else(|| "custom".to_owned()),
                k.clone(),
                t.clone(),
                v.clone(),
            )),
            _ => errors.push(UserErr::new(
                &[field, "metafields", &i.to_string(), "value"],
                "Metafields need a key, a type and a value that is not blank",
                "INVALID_VALUE",
            )),
        }
    }
    Some(list)
}

fn seo_fields(seo: &Option<SeoInput>) -> (Option<Option<String>>, Option<Option<String>>) {
    (
        seo.as_ref().and_then(|s| string_opt(s.title.clone())),
        seo.as_ref().and_then(|s| string_opt(s.description.clone())),
    )
}

fn user_errors<T: From<UserErr>>(errs: Vec<UserErr>) -> Vec<T> {
    errs.into_iter().map(Into::into).collect()
}

/// Re-roots `productSet`'s error paths (`["input", ...]`) at `root`.
fn rerooted(errs: Vec<UserErr>, root: &str) -> Vec<UserErr> {
    errs.into_iter()
        .map(|mut e| {
            if let Some(f) = e.field.as_mut()
                && f.first().is_some_and(|s| s == "input")
            {
                f[0] = root.to_owned();
            }
            e
        })
        .collect()
}

/// Applies `spec` as `productSet` does: the product, or the errors under `product`.
fn saved(ctx: &Context<'_>, spec: ProductSpec) -> (Option<Product>, Vec<UserError>) {
    let sh = shared(ctx);
    let mut st = sh.state.lock();
    match st.product_set(spec, Actor::Api) {
        Ok(pid) => (st.products.get(&pid).cloned().map(Product), Vec::new()),
        Err(errs) => (None, user_errors(rerooted(errs, "product"))),
    }
}

pub(super) fn product_create(
    ctx: &Context<'_>,
    product: ProductCreateInput,
) -> async_graphql::Result<ProductCreatePayload> {
    let mut errors = Vec::new();
    let options = match &product.product_options {
        None => None,
        Some(opts) => {
            let mut out = Vec::new();
            for (i, o) in opts.iter().enumerate() {
                let idx = i.to_string();
                let name = o.name.clone().unwrap_or_default();
                let values: Vec<String> = o
                    .values
                    .iter()
                    .flatten()
                    .filter_map(|v| v.name.clone())
                    .collect();
                if name.trim().is_empty() {
                    errors.push(UserErr::new(
                        &["product", "productOptions", &idx, "name"],
                        "Option name can't be blank",
                        "OPTION_NAME_MISSING",
                    ));
                }
                if values.is_empty() {
                    errors.push(UserErr::new(
                        &["product", "productOptions", &idx, "values"],
                        format!("Option '{name}' must have at least one value"),
                        "OPTION_VALUES_MISSING",
                    ));
                }
                out.push((name, values));
            }
            Some(out)
        }
    };
    let category = category_arg(&product.category, &["product", "category"], &mut errors);
    let metafields = metafields_arg(&product.metafields, "product", &mut errors);
    if !errors.is_empty() {
        return Ok(ProductCreatePayload {
            product: None,
            user_errors: user_errors(errors),
        });
    }
    let (seo_title, seo_description) = seo_fields(&product.seo);
    let spec = ProductSpec {
        id: None,
        title: product.title,
        handle: product.handle,
        description_html: product.description_html,
        vendor: product.vendor,
        product_type: product.product_type,
        status: product.status.map(Into::into),
        tags: product.tags,
        options,
        variants: None,
        category,
        seo_title,
        seo_description,
        images: None,
        metafields,
    };
    let (product, user_errors) = saved(ctx, spec);
    Ok(ProductCreatePayload {
        product,
        user_errors,
    })
}

pub(super) fn product_update(
    ctx: &Context<'_>,
    product: ProductUpdateInput,
) -> async_graphql::Result<ProductUpdatePayload> {
    let Some(id) = &product.id else {
        return Ok(ProductUpdatePayload {
            product: None,
            user_errors: user_errors(vec![UserErr::new(
                &["product", "id"],
                "Product id is required to update a product",
                "INVALID",
            )]),
        });
    };
    let pid = parse_id("Product", id, "product.id")?;
    let mut errors = Vec::new();
    let category = category_arg(&product.category, &["product", "category"], &mut errors);
    let metafields = metafields_arg(&product.metafields, "product", &mut errors);
    if let Some(t) = &product.title
        && t.trim().is_empty()
    {
        errors.push(UserErr::new(
            &["product", "title"],
            "Title can't be blank",
            "BLANK",
        ));
    }
    if !errors.is_empty() {
        return Ok(ProductUpdatePayload {
            product: None,
            user_errors: user_errors(errors),
        });
    }
    let (seo_title, seo_description) = seo_fields(&product.seo);
    let spec = ProductSpec {
        id: Some(pid),
        title: product.title,
        handle: product.handle,
        description_html: product.description_html,
        vendor: product.vendor,
        product_type: product.product_type,
        status: product.status.map(Into::into),
        tags: product.tags,
        options: None,
        variants: None,
        category,
        seo_title,
        seo_description,
        images: None,
        metafields,
    };
    let (product, user_errors) = saved(ctx, spec);
    Ok(ProductUpdatePayload {
        product,
        user_errors,
    })
}

pub(super) fn product_delete(
    ctx: &Context<'_>,
    input: ProductDeleteInput,
) -> async_graphql::Result<ProductDeletePayload> {
    let pid = parse_id("Product", &input.id, "input.id")?;
    let result = {
        let sh = shared(ctx);
        let mut st = sh.state.lock();
        st.delete_product(pid)
    };
    Ok(match result {
        Ok(()) => ProductDeletePayload {
            deleted_product_id: Some(input.id),
            shop: shop_of(ctx),
            user_errors: Vec::new(),
        },
        Err(_) => ProductDeletePayload {
            deleted_product_id: None,
            shop: shop_of(ctx),
            user_errors: user_errors(vec![UserErr::new(
                &["id"],
                "Product does not exist",
                "PRODUCT_DOES_NOT_EXIST",
            )]),
        },
    })
}

/// A new variant's `(option, value)` pairs, options named by name or by id.
fn new_variant_options(
    values: &[VariantOptionValueInput],
    product: &crate::state::ProductRec,
    field: &[&str],
) -> Result<Vec<(String, String)>, UserErr> {
    values
        .iter()
        .map(|v| {
            let option = match (&v.option_name, &v.option_id) {
                (Some(n), _) => Some(n.clone()),
                (None, Some(id)) => parse_gid("ProductOption", id.as_str()).and_then(|oid| {
                    product
                        .options
                        .iter()
                        .find(|o| o.id == oid)
                        .map(|o| o.name.clone())
                }),
                (None, None) => None,
            };
            match (option, &v.name) {
                (Some(o), Some(n)) if !n.is_empty() => Ok((o, n.clone())),
                (None, _) if v.option_id.is_some() => Err(UserErr::new(
                    field,
                    "Option does not exist",
                    "OPTION_DOES_NOT_EXIST",
                )),
                _ => Err(UserErr::new(
                    field,
                    "Option values must give an option (optionName or optionId) and a name",
                    "INVALID_INPUT",
                )),
            }
        })
        .collect()
}

pub(super) fn product_variants_bulk_create(
    ctx: &Context<'_>,
    product_id: ID,
    variants: Vec<ProductVariantsBulkInput>,
    strategy: ProductVariantsBulkCreateStrategy,
) -> async_graphql::Result<ProductVariantsBulkCreatePayload> {
    if variants.len() > 2048 {
        return Err(input_too_large(variants.len()));
    }
    let pid = parse_id("Product", &product_id, "productId")?;
    let sh = shared(ctx);
    let mut st = sh.state.lock();
    let fail = |errs: Vec<UserErr>| {
        Ok(ProductVariantsBulkCreatePayload {
            product: None,
            product_variants: None,
            user_errors: user_errors(errs),
        })
    };
    let Some(product) = st.products.get(&pid).cloned() else {
        return fail(vec![UserErr::new(
            &["productId"],
            "Product does not exist",
            "PRODUCT_DOES_NOT_EXIST",
        )]);
    };
    let standalone = product.variant_ids.len() == 1;
    let default_only = standalone
        && product.options.len() == 1
        && product.options[0].name == "Title"
        && product.options[0].values == ["Default Title"];
    let remove_standalone = match strategy {
        ProductVariantsBulkCreateStrategy::Default => default_only,
        ProductVariantsBulkCreateStrategy::RemoveStandaloneVariant => standalone,
        ProductVariantsBulkCreateStrategy::PreserveStandaloneVariant => false,
    };
    // The variants kept, and the options the product will have.
    let kept: Vec<VariantSpec> = if remove_standalone {
        Vec::new()
    } else {
        product
            .variant_ids
            .iter()
            .filter_map(|vid| st.variants.get(vid))
            .map(|v| VariantSpec {
                id: Some(v.id),
                option_values: v.selected_options.clone(),
                ..VariantSpec::default()
            })
            .collect()
    };
    // Options from scratch when the default variant goes (its "Title" option goes with it).
    let open_options = remove_standalone && default_only;
    let mut options: Vec<(String, Vec<String>)> = if open_options {
        Vec::new()
    } else {
        product
            .options
            .iter()
            .map(|o| {
                let used: Vec<String> = o
                    .values
                    .iter()
                    .filter(|val| {
                        kept.iter().any(|k| {
                            k.option_values
                                .iter()
                                .any(|(n, x)| n == &o.name && x == *val)
                        })
                    })
                    .cloned()
                    .collect();
                (o.name.clone(), used)
            })
            .collect()
    };
    let mut errors = Vec::new();
    let mut combos: Vec<Vec<(String, String)>> =
        kept.iter().map(|k| k.option_values.clone()).collect();
    let mut specs = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let idx = i.to_string();
        let field = ["variants", idx.as_str(), "optionValues"];
        let pairs = match new_variant_options(
            v.option_values.as_deref().unwrap_or_default(),
            &product,
            &field,
        ) {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if open_options && pairs.is_empty() {
            errors.push(UserErr::new(
                &field,
                "You need to add option values for the new variant",
                "NEED_TO_ADD_OPTION_VALUES",
            ));
            continue;
        }
        if open_options {
            for (n, _) in &pairs {
                if !options.iter().any(|(o, _)| o == n) {
                    options.push((n.clone(), Vec::new()));
                }
            }
        }
        if options.len() > 3 {
            errors.push(UserErr::new(
                &field,
                "Can only specify a maximum of 3 options",
                "TOO_MANY_OPTIONS",
            ));
            continue;
        }
        if let Some((n, _)) = pairs
            .iter()
            .find(|(n, _)| !options.iter().any(|(o, _)| o == n))
        {
            errors.push(UserErr::new(
                &field,
                format!("Option '{n}' does not exist"),
                "OPTION_DOES_NOT_EXIST",
            ));
            continue;
        }
        // In the product's option order, one value for each option.
        let mut ordered = Vec::new();
        let mut missing = Vec::new();
        for (o, _) in &options {
            match pairs.iter().find(|(n, _)| n == o) {
                Some(p) => ordered.push(p.clone()),
                None => missing.push(o.clone()),
            }
        }
        if !missing.is_empty() {
            errors.push(UserErr::new(
                &field,
                format!("You need to add option values for {}", missing.join(", ")),
                "NEED_TO_ADD_OPTION_VALUES",
            ));
            continue;
        }
        if combos.contains(&ordered) {
            let title: Vec<&str> = ordered.iter().map(|(_, v)| v.as_str()).collect();
            errors.push(UserErr::new(
                &["variants", &idx],
                format!("The variant '{}' already exists.", title.join(" / ")),
                "VARIANT_ALREADY_EXISTS",
            ));
            continue;
        }
        combos.push(ordered.clone());
        for (n, val) in &ordered {
            if let Some((_, vals)) = options.iter_mut().find(|(o, _)| o == n)
                && !vals.contains(val)
            {
                vals.push(val.clone());
            }
        }
        let mut locations = Vec::new();
        for q in v.inventory_quantities.iter().flatten() {
            let loc = parse_id("Location", &q.location_id, "inventoryQuantities.locationId")?;
            if !st.locations.contains_key(&loc) {
                errors.push(UserErr::new(
                    &["variants", &idx, "inventoryQuantities"],
                    "Location does not exist",
                    "TRACKED_VARIANT_LOCATION_NOT_FOUND",
                ));
            }
            locations.push((loc, q.available_quantity));
        }
        specs.push((
            VariantSpec {
                id: None,
                option_values: ordered,
                sku: v
                    .inventory_item
                    .as_ref()
                    .and_then(|i| i.sku.clone())
                    .map(Some),
                price: v.price.as_ref().map(|m| m.0),
                compare_at_price: money_opt(v.compare_at_price.clone()),
                barcode: string_opt(v.barcode.clone()),
                weight: weight_of(&v.inventory_item),
            },
            locations,
        ));
    }
    if !errors.is_empty() {
        return fail(errors);
    }
    let kept_len = kept.len();
    let mut all = kept;
    all.extend(specs.iter().map(|(s, _)| s.clone()));
    let spec = ProductSpec {
        id: Some(pid),
        options: Some(options),
        variants: Some(all),
        ..ProductSpec::default()
    };
    match st.product_set(spec, Actor::Api) {
        Ok(pid) => {
            let new_ids: Vec<u64> = st.products[&pid].variant_ids[kept_len..].to_vec();
            for (vid, (_, levels)) in new_ids.iter().zip(&specs) {
                let item = st.variants[vid].inventory_item_id;
                for (loc, qty) in levels {
                    if let Err(e) = st.set_available(item, *loc, *qty, None) {
                        return fail(vec![e]);
                    }
                }
            }
            Ok(ProductVariantsBulkCreatePayload {
                product: st.products.get(&pid).cloned().map(Product),
                product_variants: Some(
                    new_ids
                        .iter()
                        .filter_map(|v| st.variants.get(v).cloned())
                        .map(ProductVariant)
                        .collect(),
                ),
                user_errors: Vec::new(),
            })
        }
        Err(errs) => fail(rerooted(errs, "variants")),
    }
}

pub(super) fn product_variants_bulk_delete(
    ctx: &Context<'_>,
    product_id: ID,
    variants_ids: Vec<ID>,
) -> async_graphql::Result<ProductVariantsBulkDeletePayload> {
    if variants_ids.len() > 2048 {
        return Err(input_too_large(variants_ids.len()));
    }
    let pid = parse_id("Product", &product_id, "productId")?;
    let ids = variants_ids
        .iter()
        .map(|id| parse_id("ProductVariant", id, "variantsIds"))
        .collect::<async_graphql::Result<Vec<u64>>>()?;
    let sh = shared(ctx);
    let mut st = sh.state.lock();
    Ok(match st.remove_variants(pid, &ids) {
        Ok(()) => ProductVariantsBulkDeletePayload {
            product: st.products.get(&pid).cloned().map(Product),
            user_errors: Vec::new(),
        },
        Err(e) => ProductVariantsBulkDeletePayload {
            product: None,
            user_errors: user_errors(vec![e]),
        },
    })
}
