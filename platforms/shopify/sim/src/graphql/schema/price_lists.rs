//! Price lists with fixed prices (the Markets / catalogs pricing API): the queries
//! `priceList(id:)` and `priceLists`, `PriceList.prices(originType:, query:)`, and the
//! mutations `priceListFixedPricesAdd`, `priceListFixedPricesDelete` and
//! `priceListFixedPricesUpdate`. What is enforced and what is assumed (no markets or catalogs,
//! relative prices by a per-list rate, `BLANK` for empty calls, no webhooks) is stated in
//! [`crate::price_lists`]; changes go through [`ShopState::change_fixed_prices`].

use super::*;
use crate::price_lists::{FixedPrice, Origin, PriceInput, PriceListRec, codes, prices_query};
use crate::state::ShopState;

/// The origin of a price on a price list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PriceListPriceOriginType {
    /// The price is defined on the price list.
    Fixed,
    /// The price is relative to the adjustment type and value.
    Relative,
}

/// Sort keys for `priceLists`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PriceListSortKeys {
    /// By id.
    Id,
    /// By name.
    Name,
}

/// Codes of `PriceListPriceUserError`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PriceListPriceUserErrorCode {
    /// The input value is blank.
    Blank,
    /// The issuance currency of a local currency gift card must match the price list currency
    /// (never returned: the simulator has no gift cards).
    LocalCurrencyGiftCardIssuanceCurrencyMismatch,
    /// The price of a local currency gift card cannot exceed the maximum gift card purchase
    /// limit (never returned: the simulator has no gift cards).
    LocalCurrencyGiftCardLimitExceeded,
    /// The specified currency doesn't match the price list's currency.
    PriceListCurrencyMismatch,
    /// The price list doesn't exist.
    PriceListNotFound,
    /// Only fixed prices can be deleted (never returned by the simulator).
    PriceNotFixed,
    /// A fixed price for the specified product variant doesn't exist.
    VariantNotFound,
}

impl PriceListPriceUserErrorCode {
    fn parse(code: &str) -> Option<Self> {
        Some(match code {
            codes::BLANK => Self::Blank,
            codes::PRICE_LIST_CURRENCY_MISMATCH => Self::PriceListCurrencyMismatch,
            codes::PRICE_LIST_NOT_FOUND => Self::PriceListNotFound,
            codes::VARIANT_NOT_FOUND => Self::VariantNotFound,
            _ => return None,
        })
    }
}

/// An error of a price list price operation.
#[derive(SimpleObject, Clone)]
pub struct PriceListPriceUserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<PriceListPriceUserErrorCode>,
}

impl From<UserErr> for PriceListPriceUserError {
    fn from(e: UserErr) -> Self {
        PriceListPriceUserError {
            field: e.field,
            message: e.message,
            code: e
                .code
                .as_deref()
                .and_then(PriceListPriceUserErrorCode::parse),
        }
    }
}

/// An amount with its currency.
#[derive(InputObject, Clone)]
pub struct MoneyInput {
    /// Decimal amount.
    pub amount: Decimal,
    /// Currency.
    pub currency_code: CurrencyCode,
}

/// A fixed price to set on a price list.
#[derive(InputObject, Clone)]
pub struct PriceListPriceInput {
    /// The variant.
    pub variant_id: ID,
    /// Price, in the list's currency.
    pub price: MoneyInput,
    /// Compare-at price, in the list's currency (omitted: none).
    pub compare_at_price: Option<MoneyInput>,
}

/// A variant's price on a price list.
#[derive(SimpleObject, Clone)]
pub struct PriceListPrice {
    /// The price.
    pub price: MoneyV2,
    /// The compare-at price.
    pub compare_at_price: Option<MoneyV2>,
    /// Fixed (set on the list) or relative (converted from the variant's price).
    pub origin_type: PriceListPriceOriginType,
    /// The variant.
    pub variant: ProductVariant,
}

connection!(
    PriceListPriceConnection,
    PriceListPriceEdge,
    PriceListPrice,
    "price list prices"
);
connection!(PriceListConnection, PriceListEdge, PriceList, "price lists");

fn money_v2(cents: i64, currency: CurrencyCode) -> MoneyV2 {
    MoneyV2 {
        amount: Decimal(cents),
        currency_code: currency,
    }
}

fn price_obj(
    list: &PriceListRec,
    variant: VariantRec,
    p: FixedPrice,
    fixed: bool,
) -> PriceListPrice {
    let c = CurrencyCode::parse(&list.currency).unwrap_or(CurrencyCode::USD);
    PriceListPrice {
        price: money_v2(p.price, c),
        compare_at_price: p.compare_at.map(|x| money_v2(x, c)),
        origin_type: if fixed {
            PriceListPriceOriginType::Fixed
        } else {
            PriceListPriceOriginType::Relative
        },
        variant: ProductVariant(variant),
    }
}

/// A price list.
#[derive(Clone)]
pub struct PriceList(pub PriceListRec);

#[Object]
impl PriceList {
    /// A globally-unique id.
    pub async fn id(&self) -> ID {
        ID(gid("PriceList", self.0.id))
    }
    /// The unique name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The currency of the list's prices.
    async fn currency(&self) -> CurrencyCode {
        CurrencyCode::parse(&self.0.currency).unwrap_or(CurrencyCode::USD)
    }
    /// The number of fixed prices on the list.
    async fn fixed_prices_count(&self) -> i32 {
        i32::try_from(self.0.fixed.len()).unwrap_or(i32::MAX)
    }
    /// Prices by variant: fixed ones, and relative ones for variants without a fixed price
    /// (`originType` picks one kind); `query` filters on `product_id` and `variant_id`.
    #[allow(clippy::too_many_arguments)]
    async fn prices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
        origin_type: Option<PriceListPriceOriginType>,
        query: Option<String>,
    ) -> async_graphql::Result<PriceListPriceConnection> {
        let origin = match origin_type {
            None => Origin::All,
            Some(PriceListPriceOriginType::Fixed) => Origin::Fixed,
            Some(PriceListPriceOriginType::Relative) => Origin::Relative,
        };
        let q = prices_query(query.as_deref());
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        // The list as it is now (this object may be a snapshot from a mutation payload).
        let (page, info) = {
            let st = shared(ctx).state.lock();
            let list = st.price_lists.get(&self.0.id).unwrap_or(&self.0);
            let items: Vec<_> = list
                .prices(&st, origin, &q)
                .into_iter()
                .map(|p| ((SortVal::Int(p.variant.id as i64), p.variant.id), p))
                .collect();
            let (page, info) = paginate(items, &args)?;
            let page: Vec<(String, PriceListPrice)> = page
                .into_iter()
                .map(|(c, p)| (c, price_obj(list, p.variant, p.price, p.fixed)))
                .collect();
            (page, info)
        };
        Ok(PriceListPriceConnection::build(page, info))
    }
}

/// `priceListFixedPricesAdd` payload.
#[derive(SimpleObject)]
pub struct PriceListFixedPricesAddPayload {
    /// The fixed prices added or replaced.
    pub prices: Option<Vec<PriceListPrice>>,
    /// Errors.
    pub user_errors: Vec<PriceListPriceUserError>,
}

/// `priceListFixedPricesDelete` payload.
#[derive(SimpleObject)]
pub struct PriceListFixedPricesDeletePayload {
    /// Variants whose fixed prices were removed.
    pub deleted_fixed_price_variant_ids: Option<Vec<ID>>,
    /// Errors.
    pub user_errors: Vec<PriceListPriceUserError>,
}

/// `priceListFixedPricesUpdate` payload.
#[derive(SimpleObject)]
pub struct PriceListFixedPricesUpdatePayload {
    /// Variants whose fixed prices were removed.
    pub deleted_fixed_price_variant_ids: Option<Vec<ID>>,
    /// The price list.
    pub price_list: Option<PriceList>,
    /// The fixed prices added.
    pub prices_added: Option<Vec<PriceListPrice>>,
    /// Errors.
    pub user_errors: Vec<PriceListPriceUserError>,
}

pub(super) fn price_list(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<PriceList>> {
    let n = parse_id("PriceList", id, "id")?;
    Ok(by_id(ctx, n))
}

pub(super) fn by_id(ctx: &Context<'_>, n: u64) -> Option<PriceList> {
    shared(ctx)
        .state
        .lock()
        .price_lists
        .get(&n)
        .cloned()
        .map(PriceList)
}

pub(super) fn price_lists(
    ctx: &Context<'_>,
    args: PageArgs,
    sort_key: PriceListSortKeys,
) -> async_graphql::Result<PriceListConnection> {
    let items: Vec<_> = {
        let st = shared(ctx).state.lock();
        st.price_lists
            .values()
            .map(|l| {
                let key = match sort_key {
                    PriceListSortKeys::Id => SortVal::Int(l.id as i64),
                    PriceListSortKeys::Name => SortVal::Str(l.name.to_lowercase()),
                };
                ((key, l.id), PriceList(l.clone()))
            })
            .collect()
    };
    let (page, info) = paginate(items, &args)?;
    Ok(PriceListConnection::build(page, info))
}

fn inputs(prices: &[PriceListPriceInput], arg: &str) -> async_graphql::Result<Vec<PriceInput>> {
    if prices.len() > MAX_PAGE as usize {
        return Err(input_too_large(prices.len()));
    }
    prices
        .iter()
        .map(|p| {
            Ok(PriceInput {
                variant_id: parse_id("ProductVariant", &p.variant_id, &format!("{arg}.variantId"))?,
                price: p.price.amount.0,
                currency: p.price.currency_code.code().to_owned(),
                compare_at: p
                    .compare_at_price
                    .as_ref()
                    .map(|c| (c.amount.0, c.currency_code.code().to_owned())),
            })
        })
        .collect()
}

fn variant_ids(ids: &[ID], arg: &str) -> async_graphql::Result<Vec<u64>> {
    if ids.len() > MAX_PAGE as usize {
        return Err(input_too_large(ids.len()));
    }
    ids.iter()
        .map(|id| parse_id("ProductVariant", id, arg))
        .collect()
}

fn blank(field: &str, message: &str) -> Vec<PriceListPriceUserError> {
    vec![UserErr::new(&[field], message, codes::BLANK).into()]
}

fn fixed_prices_of(st: &ShopState, list: u64, variants: &[u64]) -> Vec<PriceListPrice> {
    let Some(l) = st.price_lists.get(&list) else {
        return Vec::new();
    };
    variants
        .iter()
        .filter_map(|v| {
            let p = l.fixed.get(v)?;
            let rec = st.variants.get(v)?.clone();
            Some(price_obj(l, rec, *p, true))
        })
        .collect()
}

fn variant_gids(ids: &[u64]) -> Vec<ID> {
    ids.iter().map(|v| ID(gid("ProductVariant", *v))).collect()
}

pub(super) fn fixed_prices_add(
    ctx: &Context<'_>,
    price_list_id: ID,
    prices: Vec<PriceListPriceInput>,
) -> async_graphql::Result<PriceListFixedPricesAddPayload> {
    let list = parse_id("PriceList", &price_list_id, "priceListId")?;
    let adds = inputs(&prices, "prices")?;
    let fail = |user_errors| {
        Ok(PriceListFixedPricesAddPayload {
            prices: None,
            user_errors,
        })
    };
    if adds.is_empty() {
        return fail(blank("prices", "Prices can't be blank"));
    }
    let mut st = shared(ctx).state.lock();
    match st.change_fixed_prices(list, &adds, &[], ("prices", "variantIds")) {
        Ok(done) => Ok(PriceListFixedPricesAddPayload {
            prices: Some(fixed_prices_of(&st, list, &done.added)),
            user_errors: Vec::new(),
        }),
        Err(errs) => fail(errs.into_iter().map(Into::into).collect()),
    }
}

pub(super) fn fixed_prices_delete(
    ctx: &Context<'_>,
    price_list_id: ID,
    variant_ids_arg: Vec<ID>,
) -> async_graphql::Result<PriceListFixedPricesDeletePayload> {
    let list = parse_id("PriceList", &price_list_id, "priceListId")?;
    let deletes = variant_ids(&variant_ids_arg, "variantIds")?;
    let fail = |user_errors| {
        Ok(PriceListFixedPricesDeletePayload {
            deleted_fixed_price_variant_ids: None,
            user_errors,
        })
    };
    if deletes.is_empty() {
        return fail(blank("variantIds", "Variant ids can't be blank"));
    }
    let mut st = shared(ctx).state.lock();
    match st.change_fixed_prices(list, &[], &deletes, ("prices", "variantIds")) {
        Ok(done) => Ok(PriceListFixedPricesDeletePayload {
            deleted_fixed_price_variant_ids: Some(variant_gids(&done.deleted)),
            user_errors: Vec::new(),
        }),
        Err(errs) => fail(errs.into_iter().map(Into::into).collect()),
    }
}

pub(super) fn fixed_prices_update(
    ctx: &Context<'_>,
    price_list_id: ID,
    prices_to_add: Vec<PriceListPriceInput>,
    variant_ids_to_delete: Vec<ID>,
) -> async_graphql::Result<PriceListFixedPricesUpdatePayload> {
    let list = parse_id("PriceList", &price_list_id, "priceListId")?;
    let adds = inputs(&prices_to_add, "pricesToAdd")?;
    let deletes = variant_ids(&variant_ids_to_delete, "variantIdsToDelete")?;
    let fail = |user_errors| {
        Ok(PriceListFixedPricesUpdatePayload {
            deleted_fixed_price_variant_ids: None,
            price_list: None,
            prices_added: None,
            user_errors,
        })
    };
    if adds.is_empty() && deletes.is_empty() {
        return fail(blank(
            "pricesToAdd",
            "Prices to add and variant ids to delete can't both be blank",
        ));
    }
    let mut st = shared(ctx).state.lock();
    match st.change_fixed_prices(list, &adds, &deletes, ("pricesToAdd", "variantIdsToDelete")) {
        Ok(done) => Ok(PriceListFixedPricesUpdatePayload {
            deleted_fixed_price_variant_ids: Some(variant_gids(&done.deleted)),
            price_list: st.price_lists.get(&list).cloned().map(PriceList),
            prices_added: Some(fixed_prices_of(&st, list, &done.added)),
            user_errors: Vec::new(),
        }),
        Err(errs) => fail(errs.into_iter().map(Into::into).collect()),
    }
}
