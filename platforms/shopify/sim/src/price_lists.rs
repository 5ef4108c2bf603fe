//! Price lists with fixed prices: the pricing half of Shopify's Markets / catalogs API.
//!
//! A price list has a name, a currency and, per variant, at most one **fixed price** (`price`
//! and an optional `compareAtPrice`). The Admin GraphQL surface is in
//! `graphql/schema/price_lists.rs`: `priceList(id:)`, `priceLists` (`first`/`after`,
//! `last`/`before`, `reverse`, `sortKey: ID | NAME`), `PriceList { id name currency
//! fixedPricesCount prices(originType:, query:) }`, `PriceListPrice { price compareAtPrice
//! originType variant }`, and the mutations `priceListFixedPricesAdd`,
//! `priceListFixedPricesDelete` and `priceListFixedPricesUpdate` with their
//! `PriceListPriceUserError { field message code }` (`PriceListPriceUserErrorCode`).
//!
//! What shopify.dev documents and the simulator enforces:
//! - Reading price lists needs `read_products`; the three fixed-price mutations need
//!   `write_products` (the mutation and object pages say so).
//! - Adding a fixed price replaces the variant's existing fixed price on the list.
//! - A price (or compare-at price) in a currency other than the list's is
//!   `PRICE_LIST_CURRENCY_MISMATCH`; an unknown price list is `PRICE_LIST_NOT_FOUND`.
//! - Deleting a variant's fixed price when the list has none for it is `VARIANT_NOT_FOUND`
//!   (the enum documents that code as "a fixed price for the specified product variant
//!   doesn't exist").
//! - An input array longer than 250 is refused with `MAX_INPUT_SIZE_EXCEEDED` (Shopify's
//!   input limit for every array argument); `prices(first:)` above 250 is
//!   `MAX_PAGE_SIZE_EXCEEDED`, as for every connection.
//! - `prices(query:)` filters on `product_id` and `variant_id` (changelog "Filter price list
//!   prices by product and variant IDs", 2024-01), combinable with `OR`/`AND`/`NOT` through
//!   the simulator's search syntax ([`crate::search`]).
//!
//! Assumptions where shopify.dev is silent:
//! - **Markets and catalogs are not modelled.** The real `priceListCreate` needs a catalog (and
//!   through it a market) and a `parent` adjustment; the simulator creates lists through the
//!   merchant API only ([`ShopifySim::create_price_list`]), `catalog`, `parent` and
//!   `quantityRules` are absent, and a list applies to nothing at checkout.
//! - **Relative prices**: a list's relative adjustment is none, and its prices are converted
//!   from the shop's variant prices by a per-list rate the merchant API sets (default 1),
//!   rounded half up to the cent. `prices` without `originType` lists every variant of the
//!   shop: its fixed price where it has one, else its relative price (`originType: RELATIVE`);
//!   `originType: FIXED` lists only fixed prices, `RELATIVE` only the relative ones.
//!   Prices are ordered by variant id.
//! - An unknown variant in `priceListFixedPricesAdd` / `pricesToAdd` is `VARIANT_NOT_FOUND`
//!   (field `[<argument>, <index>, "variantId"]`); a variant given twice in one call keeps the
//!   later entry and is listed once in the payload.
//! - `PRICE_NOT_FIXED` (documented as "only fixed prices can be deleted") is never returned:
//!   deleting a variant that has only a relative price is `VARIANT_NOT_FOUND`, as above.
//!   The local-currency gift card codes are in the enum but never returned (no gift cards).
//! - An empty call is `BLANK`: `prices: []`, `variantIds: []`, or both `pricesToAdd` and
//!   `variantIdsToDelete` empty.
//! - Every mutation is all or nothing: any user error leaves the list untouched and the
//!   payload's data fields `null`. `priceListFixedPricesUpdate` deletes first, then adds, both
//!   checked against the list as it was before the call.
//! - User error messages are the codes' documented descriptions.
//! - `prices(query:)` takes numeric ids (`product_id:123`, as Shopify's search syntax does);
//!   a gid value matches nothing; other fields and bare words are ignored.
//! - **No webhook** fires for a price-list change and a product's `updatedAt` does not move:
//!   Shopify's `WebhookSubscriptionTopic` has no price-list topic (its catalog-related topics
//!   are about markets, collections and publications), and a fixed price is not a product
//!   field.
//! - Deleting a variant or a product removes its fixed prices from every list.
//!
//! Merchant side ([`ShopifySim::create_price_list`], [`ShopifySim::set_fixed_price`],
//! [`ShopifySim::remove_fixed_price`], [`ShopifySim::fixed_prices`]) and the matching `/_sim`
//! routes: `POST /_sim/price_lists` `{name, currency, rate}`, `GET
//! /_sim/price_lists/{id}/fixed_prices`, `PUT` / `DELETE
//! /_sim/price_lists/{id}/fixed_prices/{variant_id}` (`{price, compare_at_price}`), ids as
//! decimal strings.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::{format_money, gid, parse_gid};
use crate::merchant::{ApiResult, id, money, sim};
use crate::search::{FieldValue, SearchQuery, Searchable};
use crate::sim::{Shared, ShopifySim, SimError};
use crate::state::{ShopState, UserErr, VariantRec};

/// A fixed price (or a computed relative one): amounts in cents of the list's currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FixedPrice {
    /// Price.
    pub price: i64,
    /// Compare-at price.
    pub compare_at: Option<i64>,
}

/// A price list.
#[derive(Clone, Debug, Serialize)]
pub struct PriceListRec {
    /// Id.
    pub id: u64,
    /// Unique name.
    pub name: String,
    /// ISO currency code of its prices.
    pub currency: String,
    /// Conversion from the shop's variant prices to relative prices, in millionths.
    pub rate_ppm: i64,
    /// Fixed prices by variant id.
    pub fixed: BTreeMap<u64, FixedPrice>,
}

/// `cents × ppm / 10^6`, rounded half up.
fn convert(cents: i64, ppm: i64) -> i64 {
    let v = (i128::from(cents) * i128::from(ppm) + 500_000).div_euclid(1_000_000);
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One price of a list as `PriceList.prices` lists it.
#[derive(Clone, Debug)]
pub struct ListedPrice {
    /// The variant.
    pub variant: VariantRec,
    /// Its price on the list.
    pub price: FixedPrice,
    /// Fixed (set on the list) or relative (converted from the variant's price).
    pub fixed: bool,
}

/// Which prices `PriceList.prices` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Fixed prices and, for the other variants, relative ones.
    All,
    /// Fixed prices only.
    Fixed,
    /// Relative prices only.
    Relative,
}

/// What `prices(query:)` can filter on.
struct PriceProbe<'a>(&'a VariantRec);

impl Searchable for PriceProbe<'_> {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "product_id" => FieldValue::Num(i128::from(self.0.product_id)),
            "variant_id" => FieldValue::Num(i128::from(self.0.id)),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Parses `prices(query:)`: bare words are dropped (ignored), as unknown fields are.
pub fn prices_query(query: Option<&str>) -> SearchQuery {
    let mut q = query.map(crate::search::parse).unwrap_or_default();
    for g in &mut q.groups {
        g.retain(|t| t.field.is_some());
    }
    q
}

impl PriceListRec {
    /// A variant's relative price on this list.
    pub fn relative(&self, v: &VariantRec) -> FixedPrice {
        FixedPrice {
            price: convert(v.price, self.rate_ppm),
            compare_at: v.compare_at_price.map(|c| convert(c, self.rate_ppm)),
        }
    }

    /// The list's prices by variant id, filtered by origin and `query`.
    pub fn prices(&self, st: &ShopState, origin: Origin, query: &SearchQuery) -> Vec<ListedPrice> {
        let matches = |v: &VariantRec| query.matches(&PriceProbe(v));
        match origin {
            Origin::Fixed => self
                .fixed
                .iter()
                .filter_map(|(vid, p)| st.variants.get(vid).map(|v| (v, *p)))
                .filter(|(v, _)| matches(v))
                .map(|(v, p)| ListedPrice {
                    variant: v.clone(),
                    price: p,
                    fixed: true,
                })
                .collect(),
            Origin::All | Origin::Relative => st
                .variants
                .values()
                .filter(|v| matches(v))
                .filter_map(|v| match self.fixed.get(&v.id) {
                    Some(p) if origin == Origin::All => Some(ListedPrice {
                        variant: v.clone(),
                        price: *p,
                        fixed: true,
                    }),
                    Some(_) => None,
                    None => Some(ListedPrice {
                        variant: v.clone(),
                        price: self.relative(v),
                        fixed: false,
                    }),
                })
                .collect(),
        }
    }
}

/// One fixed price to add: amounts with the currency the caller gave them in.
#[derive(Clone, Debug)]
pub struct PriceInput {
    /// The variant.
    pub variant_id: u64,
    /// Price in cents.
    pub price: i64,
    /// Currency of `price`.
    pub currency: String,
    /// Compare-at price in cents, with its currency.
    pub compare_at: Option<(i64, String)>,
}

/// What a fixed-price change did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixedPricesChanged {
    /// Variants whose fixed price was added or replaced, in input order, once each.
    pub added: Vec<u64>,
    /// Variants whose fixed price was deleted, in input order, once each.
    pub deleted: Vec<u64>,
}

/// User error codes ([`UserErr::code`]) of fixed-price changes.
pub mod codes {
    /// The list does not exist.
    pub const PRICE_LIST_NOT_FOUND: &str = "PRICE_LIST_NOT_FOUND";
    /// Wrong currency.
    pub const PRICE_LIST_CURRENCY_MISMATCH: &str = "PRICE_LIST_CURRENCY_MISMATCH";
    /// No such variant, or no fixed price for it.
    pub const VARIANT_NOT_FOUND: &str = "VARIANT_NOT_FOUND";
    /// Nothing given.
    pub const BLANK: &str = "BLANK";
}

/// Messages: the codes' documented descriptions.
const MSG_LIST: &str = "The price list doesn't exist.";
const MSG_CURRENCY: &str = "The specified currency doesn't match the price list's currency.";
const MSG_NO_VARIANT: &str = "The specified product variant doesn't exist.";
const MSG_NO_FIXED: &str = "A fixed price for the specified product variant doesn't exist.";

fn unique(ids: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for i in ids {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

impl ShopState {
    /// Creates a price list (the merchant; see the module header on markets).
    pub fn create_price_list(
        &mut self,
        name: &str,
        currency: &str,
        rate_ppm: i64,
    ) -> Result<u64, UserErr> {
        if name.trim().is_empty() {
            return Err(UserErr::new(&["name"], "Name can't be blank", "BLANK"));
        }
        if self.price_lists.values().any(|l| l.name == name) {
            return Err(UserErr::new(
                &["name"],
                "Name has already been taken",
                "TAKEN",
            ));
        }
        if rate_ppm <= 0 {
            return Err(UserErr::new(&["rate"], "Rate must be positive", "INVALID"));
        }
        let id = self.new_id();
        self.price_lists.insert(
            id,
            PriceListRec {
                id,
                name: name.to_owned(),
                currency: currency.to_owned(),
                rate_ppm,
                fixed: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    /// Adds (replacing) and deletes fixed prices of one list, all or nothing: every input is
    /// checked against the list as it is before the call, then deletions apply, then
    /// additions in order (a later entry for the same variant wins). `fields` names the
    /// two arguments in error paths (`("prices", "variantIds")`, ...). No webhook fires and no
    /// product's `updatedAt` moves.
    pub fn change_fixed_prices(
        &mut self,
        list_id: u64,
        adds: &[PriceInput],
        deletes: &[u64],
        fields: (&str, &str),
    ) -> Result<FixedPricesChanged, Vec<UserErr>> {
        let Some(list) = self.price_lists.get(&list_id) else {
            return Err(vec![UserErr::new(
                &["priceListId"],
                MSG_LIST,
                codes::PRICE_LIST_NOT_FOUND,
            )]);
        };
        let (add_field, delete_field) = fields;
        let mut errors = Vec::new();
        for (i, a) in adds.iter().enumerate() {
            let idx = i.to_string();
            if !self.variants.contains_key(&a.variant_id) {
                errors.push(UserErr::new(
                    &[add_field, &idx, "variantId"],
                    MSG_NO_VARIANT,
                    codes::VARIANT_NOT_FOUND,
                ));
            }
            if a.currency != list.currency {
                errors.push(UserErr::new(
                    &[add_field, &idx, "price", "currencyCode"],
                    MSG_CURRENCY,
                    codes::PRICE_LIST_CURRENCY_MISMATCH,
                ));
            }
            if let Some((_, c)) = &a.compare_at
                && *c != list.currency
            {
                errors.push(UserErr::new(
                    &[add_field, &idx, "compareAtPrice", "currencyCode"],
                    MSG_CURRENCY,
                    codes::PRICE_LIST_CURRENCY_MISMATCH,
                ));
            }
        }
        for (i, v) in deletes.iter().enumerate() {
            if !list.fixed.contains_key(v) {
                errors.push(UserErr::new(
                    &[delete_field, &i.to_string()],
                    MSG_NO_FIXED,
                    codes::VARIANT_NOT_FOUND,
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let list = self
            .price_lists
            .get_mut(&list_id)
            .expect("the list was found above");
        for v in deletes {
            list.fixed.remove(v);
        }
        for a in adds {
            list.fixed.insert(
                a.variant_id,
                FixedPrice {
                    price: a.price,
                    compare_at: a.compare_at.as_ref().map(|(c, _)| *c),
                },
            );
        }
        Ok(FixedPricesChanged {
            added: unique(adds.iter().map(|a| a.variant_id)),
            deleted: unique(deletes.iter().copied()),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Merchant API

fn list_id(list: &str) -> Result<u64, SimError> {
    parse_gid("PriceList", list)
        .ok_or_else(|| SimError::Invalid(format!("{list:?} is not a PriceList gid")))
}

fn variant_id(variant: &str) -> Result<u64, SimError> {
    parse_gid("ProductVariant", variant)
        .ok_or_else(|| SimError::Invalid(format!("{variant:?} is not a ProductVariant gid")))
}

fn sim_error(errs: &[UserErr], list: u64, variant: u64) -> SimError {
    match errs.first().and_then(|e| e.code.as_deref()) {
        Some(codes::PRICE_LIST_NOT_FOUND) => SimError::NotFound(format!("price list {list}")),
        Some(codes::VARIANT_NOT_FOUND) => {
            SimError::NotFound(format!("fixed price of variant {variant} on list {list}"))
        }
        _ => SimError::from_user_errors(errs),
    }
}

impl ShopifySim {
    /// Creates a price list as the merchant does in the admin; returns its gid
    /// (`gid://shopify/PriceList/N`). `currency` is an ISO code the simulator models; `rate`
    /// converts the shop's variant prices into the list's relative prices (1.0: none). Markets
    /// and catalogs are not modelled (see [`crate::price_lists`]). Fires no webhook.
    pub fn create_price_list(
        &self,
        name: &str,
        currency: &str,
        rate: f64,
    ) -> Result<String, SimError> {
        if crate::graphql::schema::CurrencyCode::parse(currency).is_none() {
            return Err(SimError::Invalid(format!(
                "currency {currency:?} is not one the simulator models"
            )));
        }
        if !rate.is_finite() || rate <= 0.0 || rate > 1_000_000.0 {
            return Err(SimError::Invalid(format!(
                "rate {rate} is not a positive number"
            )));
        }
        let ppm = (rate * 1_000_000.0).round() as i64;
        let mut st = self.shared.state.lock();
        st.create_price_list(name, currency, ppm)
            .map(|id| gid("PriceList", id))
            .map_err(|e| SimError::from_user_errors(&[e]))
    }

    /// Sets a variant's fixed price on a list in the list's currency, as a merchant's edit in
    /// the admin does (replacing any fixed price it had; `compare_at: None` clears the
    /// compare-at price). Decimal amounts (`"19.99"`). Fires no webhook.
    pub fn set_fixed_price(
        &self,
        list: &str,
        variant: &str,
        price: &str,
        compare_at: Option<&str>,
    ) -> Result<(), SimError> {
        let (l, v) = (list_id(list)?, variant_id(variant)?);
        let price = money(price)?;
        let compare_at = compare_at.map(money).transpose()?;
        let mut st = self.shared.state.lock();
        let currency = st
            .price_lists
            .get(&l)
            .map(|x| x.currency.clone())
            .ok_or_else(|| SimError::NotFound(format!("price list {l}")))?;
        if !st.variants.contains_key(&v) {
            return Err(SimError::NotFound(format!("variant {v}")));
        }
        let input = PriceInput {
            variant_id: v,
            price,
            currency: currency.clone(),
            compare_at: compare_at.map(|c| (c, currency)),
        };
        st.change_fixed_prices(l, &[input], &[], ("prices", "variantIds"))
            .map(|_| ())
            .map_err(|e| sim_error(&e, l, v))
    }

    /// Removes a variant's fixed price from a list (its price becomes relative again).
    pub fn remove_fixed_price(&self, list: &str, variant: &str) -> Result<(), SimError> {
        let (l, v) = (list_id(list)?, variant_id(variant)?);
        let mut st = self.shared.state.lock();
        st.change_fixed_prices(l, &[], &[v], ("prices", "variantIds"))
            .map(|_| ())
            .map_err(|e| sim_error(&e, l, v))
    }

    /// The shop's price lists: `(gid, currency)`, in the order they were made.
    pub fn price_lists(&self) -> Vec<(String, String)> {
        let st = self.shared.state.lock();
        st.price_lists
            .iter()
            .map(|(id, l)| (gid("PriceList", *id), l.currency.clone()))
            .collect()
    }

    /// The fixed prices of a list by variant: `(variant gid, price, compare-at price)`,
    /// decimal strings, ordered by variant id. Empty for an unknown list.
    pub fn fixed_prices(&self, list: &str) -> Vec<(String, String, Option<String>)> {
        let Some(l) = parse_gid("PriceList", list) else {
            return Vec::new();
        };
        let st = self.shared.state.lock();
        st.price_lists
            .get(&l)
            .map(|x| {
                x.fixed
                    .iter()
                    .map(|(v, p)| {
                        (
                            gid("ProductVariant", *v),
                            format_money(p.price),
                            p.compare_at.map(format_money),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP (`/_sim`, ids as decimal strings)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceListBody {
    name: String,
    currency: String,
    rate: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedPriceBody {
    price: String,
    compare_at_price: Option<String>,
}

/// The price-list `/_sim` routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/price_lists", post(http_create))
        .route(
            "/_sim/price_lists/{id}/fixed_prices",
            get(http_fixed_prices),
        )
        .route(
            "/_sim/price_lists/{id}/fixed_prices/{variant_id}",
            put(http_set).delete(http_remove),
        )
}

fn gids(list: &str, variant: &str) -> Result<(String, String), SimError> {
    Ok((
        gid("PriceList", id(list, "price list")?),
        gid("ProductVariant", id(variant, "variant")?),
    ))
}

async fn http_create(State(sh): State<Arc<Shared>>, Json(b): Json<PriceListBody>) -> ApiResult {
    let g = sim(sh).create_price_list(&b.name, &b.currency, b.rate.unwrap_or(1.0))?;
    let n = g.rsplit('/').next().unwrap_or_default().to_owned();
    Ok(Json(json!({"id": n, "admin_graphql_api_id": g})))
}

async fn http_fixed_prices(State(sh): State<Arc<Shared>>, Path(list): Path<String>) -> ApiResult {
    let l = id(&list, "price list")?;
    let s = sim(sh);
    if !s.shared.state.lock().price_lists.contains_key(&l) {
        return Err(SimError::NotFound(format!("price list {l}")).into());
    }
    let prices = s.fixed_prices(&gid("PriceList", l));
    Ok(Json(
        json!({"fixed_prices": prices.into_iter().map(|(v, p, c)| json!({
        "variant_id": v.rsplit('/').next().unwrap_or_default(),
        "price": p,
        "compare_at_price": c,
    })).collect::<Vec<_>>()}),
    ))
}

async fn http_set(
    State(sh): State<Arc<Shared>>,
    Path((list, variant)): Path<(String, String)>,
    Json(b): Json<FixedPriceBody>,
) -> ApiResult {
    let (l, v) = gids(&list, &variant)?;
    sim(sh).set_fixed_price(&l, &v, &b.price, b.compare_at_price.as_deref())?;
    Ok(Json(json!({"price_list_id": list, "variant_id": variant})))
}

async fn http_remove(
    State(sh): State<Arc<Shared>>,
    Path((list, variant)): Path<(String, String)>,
) -> ApiResult {
    let (l, v) = gids(&list, &variant)?;
    sim(sh).remove_fixed_price(&l, &v)?;
    Ok(Json(json!({"deleted": true})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rounds_half_up_to_the_cent() {
        assert_eq!(convert(1000, 1_000_000), 1000);
        assert_eq!(convert(1999, 920_000), 1839); // 18.3908
        assert_eq!(convert(1, 1_500_000), 2); // 1.5 -> 2
        assert_eq!(convert(i64::MAX, 2_000_000), i64::MAX);
    }

    #[test]
    fn prices_query_ignores_bare_words_and_unknown_fields() {
        let v = VariantRec {
            id: 7,
            product_id: 3,
            title: "S".into(),
            sku: None,
            price: 100,
            compare_at_price: None,
            barcode: None,
            selected_options: Vec::new(),
            position: 1,
            inventory_item_id: 9,
            weight: 0.0,
            weight_unit: "KILOGRAMS".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let m = |q: &str| prices_query(Some(q)).matches(&PriceProbe(&v));
        assert!(m("product_id:3"));
        assert!(m("product_id:1 OR product_id:3"));
        assert!(!m("product_id:1 OR variant_id:8"));
        assert!(m("variant_id:7 AND product_id:3"));
        assert!(!m("-variant_id:7"));
        assert!(m("shirt"));
        assert!(m("sku:X"));
        assert!(!m("product_id:gid://shopify/Product/3"));
    }
}
