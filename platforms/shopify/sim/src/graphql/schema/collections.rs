//! Collections and product membership: the queries `collection(id:)`,
//! `collectionByHandle(handle:)`, `collectionByIdentifier(identifier:)`, `collections`,
//! `collectionsCount`, `job(id:)`, the field `Product.collections`, and the mutations
//! `collectionCreate`, `collectionAddProducts`, `collectionAddProductsV2`,
//! `collectionRemoveProducts` and `collectionDelete`. What is enforced and what is assumed
//! (jobs done at once, messages, membership firing `collections/update` only) is stated in
//! [`crate::collections`]; changes go through the `ShopState` collection methods.

use super::*;
use crate::collections::{
    AddMode, CollectionProbe, CollectionRec, CollectionRule as RuleRec, RuleSet, codes,
};
use crate::state::ShopState;

/// Sort keys for collections.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CollectionSortKeys {
    /// By id.
    Id,
    /// By relevance (id order here).
    Relevance,
    /// By title.
    Title,
    /// By last update.
    UpdatedAt,
}

/// The product attribute a smart collection rule tests (the simulator's subset).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CollectionRuleColumn {
    /// A product tag.
    Tag,
    /// The product title.
    Title,
    /// The product type.
    Type,
    /// The product vendor.
    Vendor,
}

impl CollectionRuleColumn {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tag => "TAG",
            Self::Title => "TITLE",
            Self::Type => "TYPE",
            Self::Vendor => "VENDOR",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "TITLE" => Self::Title,
            "TYPE" => Self::Type,
            "VENDOR" => Self::Vendor,
            _ => Self::Tag,
        }
    }
}

/// How a rule compares the column with its condition.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CollectionRuleRelation {
    /// Equal (case-insensitive).
    Equals,
    /// Not equal.
    NotEquals,
    /// Contains.
    Contains,
    /// Does not contain.
    NotContains,
    /// Starts with.
    StartsWith,
    /// Ends with.
    EndsWith,
}

impl CollectionRuleRelation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "EQUALS",
            Self::NotEquals => "NOT_EQUALS",
            Self::Contains => "CONTAINS",
            Self::NotContains => "NOT_CONTAINS",
            Self::StartsWith => "STARTS_WITH",
            Self::EndsWith => "ENDS_WITH",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "NOT_EQUALS" => Self::NotEquals,
            "CONTAINS" => Self::Contains,
            "NOT_CONTAINS" => Self::NotContains,
            "STARTS_WITH" => Self::StartsWith,
            "ENDS_WITH" => Self::EndsWith,
            _ => Self::Equals,
        }
    }
}

/// A rule of a smart collection.
#[derive(SimpleObject, Clone)]
pub struct CollectionRule {
    /// The attribute tested.
    pub column: CollectionRuleColumn,
    /// The comparison.
    pub relation: CollectionRuleRelation,
    /// The value compared against.
    pub condition: String,
}

/// The rules of a smart collection.
#[derive(SimpleObject, Clone)]
pub struct CollectionRuleSet {
    /// Whether a product must match any rule (true) or all of them (false).
    pub applied_disjunctively: bool,
    /// The rules.
    pub rules: Vec<CollectionRule>,
}

/// A rule to create.
#[derive(InputObject, Clone)]
pub struct CollectionRuleInput {
    /// The attribute tested.
    pub column: CollectionRuleColumn,
    /// The comparison.
    pub relation: CollectionRuleRelation,
    /// The value compared against.
    pub condition: String,
}

/// The rules of a smart collection to create.
#[derive(InputObject, Clone)]
pub struct CollectionRuleSetInput {
    /// Whether a product must match any rule (true) or all of them (false).
    pub applied_disjunctively: bool,
    /// The rules.
    pub rules: Option<Vec<CollectionRuleInput>>,
}

/// `collectionCreate` input (the simulator's subset of `CollectionInput`).
#[derive(InputObject, Clone)]
pub struct CollectionInput {
    /// Title (required to create).
    pub title: Option<String>,
    /// Handle (generated from the title when absent).
    pub handle: Option<String>,
    /// Description (HTML).
    pub description_html: Option<String>,
    /// Rules: makes a smart collection.
    pub rule_set: Option<CollectionRuleSetInput>,
    /// Initial products (custom collections only).
    pub products: Option<Vec<ID>>,
}

/// `collectionDelete` input.
#[derive(InputObject, Clone)]
pub struct CollectionDeleteInput {
    /// The collection.
    pub id: ID,
}

/// Identifies a collection by id or handle (exactly one).
#[derive(InputObject, Clone)]
pub struct CollectionIdentifierInput {
    /// The collection's id.
    pub id: Option<ID>,
    /// The collection's handle.
    pub handle: Option<String>,
}

/// Codes of `CollectionAddProductsV2UserError`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CollectionAddProductsV2UserErrorCode {
    /// Can't manually add products to a smart collection.
    CantAddToSmartCollection,
    /// Collection doesn't exist.
    CollectionDoesNotExist,
}

/// An error of `collectionAddProductsV2`.
#[derive(SimpleObject, Clone)]
pub struct CollectionAddProductsV2UserError {
    /// Field path.
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
    /// Code.
    pub code: Option<CollectionAddProductsV2UserErrorCode>,
}

impl From<UserErr> for CollectionAddProductsV2UserError {
    fn from(e: UserErr) -> Self {
        let code = match e.code.as_deref() {
            Some(codes::COLLECTION_DOES_NOT_EXIST) => {
                Some(CollectionAddProductsV2UserErrorCode::CollectionDoesNotExist)
            }
            Some(codes::CANT_ADD_TO_SMART_COLLECTION) => {
                Some(CollectionAddProductsV2UserErrorCode::CantAddToSmartCollection)
            }
            _ => None,
        };
        let message = match code {
            Some(CollectionAddProductsV2UserErrorCode::CollectionDoesNotExist) => {
                "Collection doesn't exist.".to_owned()
            }
            _ => e.message,
        };
        CollectionAddProductsV2UserError {
            field: e.field,
            message,
            code,
        }
    }
}

/// `collectionCreate` payload.
#[derive(SimpleObject)]
pub struct CollectionCreatePayload {
    /// The new collection.
    pub collection: Option<Collection>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `collectionAddProducts` payload.
#[derive(SimpleObject)]
pub struct CollectionAddProductsPayload {
    /// The updated collection (`null` on error).
    pub collection: Option<Collection>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `collectionAddProductsV2` payload.
#[derive(SimpleObject)]
pub struct CollectionAddProductsV2Payload {
    /// The job adding the products (done at once in the simulator).
    pub job: Option<Job>,
    /// Errors.
    pub user_errors: Vec<CollectionAddProductsV2UserError>,
}

/// `collectionRemoveProducts` payload.
#[derive(SimpleObject)]
pub struct CollectionRemoveProductsPayload {
    /// The job removing the products (done at once in the simulator).
    pub job: Option<Job>,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

/// `collectionDelete` payload.
#[derive(SimpleObject)]
pub struct CollectionDeletePayload {
    /// The deleted collection's id.
    pub deleted_collection_id: Option<ID>,
    /// The shop.
    pub shop: Shop,
    /// Errors.
    pub user_errors: Vec<UserError>,
}

connection!(
    CollectionConnection,
    CollectionEdge,
    Collection,
    "collections"
);

/// A group of products: custom (products listed by hand) or smart (products matching rules).
#[derive(Clone)]
pub struct Collection(pub CollectionRec);

impl Collection {
    /// This collection as the shop holds it now (a payload may carry an older snapshot).
    fn live<'s>(&'s self, st: &'s ShopState) -> &'s CollectionRec {
        st.collections.get(&self.0.id).unwrap_or(&self.0)
    }
}

#[Object]
impl Collection {
    /// A globally-unique id.
    pub async fn id(&self) -> ID {
        ID(gid("Collection", self.0.id))
    }
    /// The numeric id.
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id.to_string())
    }
    /// The unique handle.
    async fn handle(&self) -> &str {
        &self.0.handle
    }
    /// The title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The description (HTML).
    async fn description_html(&self) -> Html {
        Html(self.0.description_html.clone())
    }
    /// The last change of the collection or its products.
    async fn updated_at(&self) -> DateTimeScalar {
        dt(self.0.updated_at)
    }
    /// The rules of a smart collection; `null` for a custom one.
    async fn rule_set(&self) -> Option<CollectionRuleSet> {
        self.0.rule_set.as_ref().map(|r| CollectionRuleSet {
            applied_disjunctively: r.applied_disjunctively,
            rules: r
                .rules
                .iter()
                .map(|x| CollectionRule {
                    column: CollectionRuleColumn::parse(&x.column),
                    relation: CollectionRuleRelation::parse(&x.relation),
                    condition: x.condition.clone(),
                })
                .collect(),
        })
    }
    /// The number of products in the collection.
    async fn products_count(&self, ctx: &Context<'_>) -> Count {
        let st = shared(ctx).state.lock();
        Count {
            count: st.collection_members(self.live(&st)).len() as i64,
            precision: CountPrecision::Exact,
        }
    }
    /// Whether a product is in the collection.
    async fn has_product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let p = parse_id("Product", &id, "id")?;
        let st = shared(ctx).state.lock();
        Ok(st.collection_members(self.live(&st)).contains(&p))
    }
    /// The products: a custom collection's in the order they were added, a smart one's by id.
    #[allow(clippy::too_many_arguments)]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> async_graphql::Result<ProductConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let (page, info) = {
            let st = shared(ctx).state.lock();
            let items: Vec<_> = st
                .collection_members(self.live(&st))
                .into_iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    st.products
                        .get(&p)
                        .map(|rec| ((SortVal::Int(i as i64), p), rec))
                })
                .collect();
            let (page, info) = paginate(items, &args)?;
            let page: Vec<(String, Product)> = page
                .into_iter()
                .map(|(c, p)| (c, Product(p.clone())))
                .collect();
            (page, info)
        };
        Ok(ProductConnection::build(page, info))
    }
}

pub(super) fn by_id(ctx: &Context<'_>, n: u64) -> Option<Collection> {
    shared(ctx)
        .state
        .lock()
        .collections
        .get(&n)
        .cloned()
        .map(Collection)
}

pub(super) fn collection(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Collection>> {
    let n = parse_id("Collection", id, "id")?;
    Ok(by_id(ctx, n))
}

pub(super) fn by_handle(ctx: &Context<'_>, handle: &str) -> Option<Collection> {
    shared(ctx)
        .state
        .lock()
        .collections
        .values()
        .find(|c| c.handle == handle)
        .cloned()
        .map(Collection)
}

pub(super) fn by_identifier(
    ctx: &Context<'_>,
    identifier: CollectionIdentifierInput,
) -> async_graphql::Result<Option<Collection>> {
    match (identifier.id, identifier.handle) {
        (Some(id), None) => collection(ctx, &id),
        (None, Some(h)) => Ok(by_handle(ctx, &h)),
        _ => Err(err(
            "CollectionIdentifierInput requires exactly one of id, handle",
            "INVALID_FIELD_ARGUMENTS",
        )),
    }
}

/// Collections matching `query`, optionally only those containing `product`.
pub(super) fn list(
    ctx: &Context<'_>,
    args: PageArgs,
    sort_key: CollectionSortKeys,
    query: &Option<String>,
    product: Option<u64>,
) -> async_graphql::Result<CollectionConnection> {
    let q = search_of(query);
    let items: Vec<_> = {
        let st = shared(ctx).state.lock();
        st.collections
            .values()
            .filter_map(|c| {
                let members = st.collection_members(c);
                if product.is_some_and(|p| !members.contains(&p)) {
                    return None;
                }
                if !q.matches(&CollectionProbe(c, members)) {
                    return None;
                }
                let key = match sort_key {
                    CollectionSortKeys::Id | CollectionSortKeys::Relevance => {
                        SortVal::Int(c.id as i64)
                    }
                    CollectionSortKeys::Title => SortVal::Str(c.title.to_lowercase()),
                    CollectionSortKeys::UpdatedAt => time_key(c.updated_at),
                };
                Some(((key, c.id), Collection(c.clone())))
            })
            .collect()
    };
    let (page, info) = paginate(items, &args)?;
    Ok(CollectionConnection::build(page, info))
}

pub(super) fn count(ctx: &Context<'_>, query: &Option<String>, limit: Option<i32>) -> Count {
    let q = search_of(query);
    let st = shared(ctx).state.lock();
    let n = st
        .collections
        .values()
        .filter(|c| q.matches(&CollectionProbe(c, st.collection_members(c))))
        .count() as i64;
    let limit = limit.map(i64::from);
    match limit {
        Some(l) if n > l => Count {
            count: l,
            precision: CountPrecision::AtLeast,
        },
        _ => Count {
            count: n,
            precision: CountPrecision::Exact,
        },
    }
}

pub(super) fn job(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Job>> {
    let n = parse_id("Job", id, "id")?;
    let known = shared(ctx).state.lock().jobs.contains(&n);
    Ok(known.then(|| Job {
        id: id.clone(),
        done: true,
    }))
}

fn product_ids(ids: &[ID], arg: &str) -> async_graphql::Result<Vec<u64>> {
    if ids.len() > MAX_PAGE as usize {
        return Err(input_too_large(ids.len()));
    }
    ids.iter().map(|id| parse_id("Product", id, arg)).collect()
}

fn done_job(st: &mut ShopState) -> Job {
    Job {
        id: ID(gid("Job", st.new_job())),
        done: true,
    }
}

pub(super) fn create(
    ctx: &Context<'_>,
    input: CollectionInput,
) -> async_graphql::Result<CollectionCreatePayload> {
    let products = product_ids(
        input.products.as_deref().unwrap_or_default(),
        "input.products",
    )?;
    let rules = input.rule_set.map(|r| RuleSet {
        applied_disjunctively: r.applied_disjunctively,
        rules: r
            .rules
            .unwrap_or_default()
            .into_iter()
            .map(|x| RuleRec {
                column: x.column.as_str().to_owned(),
                relation: x.relation.as_str().to_owned(),
                condition: x.condition,
            })
            .collect(),
    });
    let mut st = shared(ctx).state.lock();
    match st.create_collection(
        input.title.as_deref().unwrap_or_default(),
        input.handle.as_deref(),
        input.description_html.as_deref().unwrap_or_default(),
        rules,
        &products,
    ) {
        Ok(id) => Ok(CollectionCreatePayload {
            collection: st.collections.get(&id).cloned().map(Collection),
            user_errors: Vec::new(),
        }),
        Err(errs) => Ok(CollectionCreatePayload {
            collection: None,
            user_errors: errs.into_iter().map(Into::into).collect(),
        }),
    }
}

pub(super) fn add_products(
    ctx: &Context<'_>,
    id: ID,
    ids: Vec<ID>,
) -> async_graphql::Result<CollectionAddProductsPayload> {
    let c = parse_id("Collection", &id, "id")?;
    let products = product_ids(&ids, "productIds")?;
    let mut st = shared(ctx).state.lock();
    match st.collection_add_products(c, &products, AddMode::Strict) {
        Ok(_) => Ok(CollectionAddProductsPayload {
            collection: st.collections.get(&c).cloned().map(Collection),
            user_errors: Vec::new(),
        }),
        Err(errs) => Ok(CollectionAddProductsPayload {
            collection: None,
            user_errors: errs.into_iter().map(Into::into).collect(),
        }),
    }
}

pub(super) fn add_products_v2(
    ctx: &Context<'_>,
    id: ID,
    ids: Vec<ID>,
) -> async_graphql::Result<CollectionAddProductsV2Payload> {
    let c = parse_id("Collection", &id, "id")?;
    let products = product_ids(&ids, "productIds")?;
    let mut st = shared(ctx).state.lock();
    match st.collection_add_products(c, &products, AddMode::Lenient) {
        Ok(_) => Ok(CollectionAddProductsV2Payload {
            job: Some(done_job(&mut st)),
            user_errors: Vec::new(),
        }),
        Err(errs) => Ok(CollectionAddProductsV2Payload {
            job: None,
            user_errors: errs.into_iter().map(Into::into).collect(),
        }),
    }
}

pub(super) fn remove_products(
    ctx: &Context<'_>,
    id: ID,
    ids: Vec<ID>,
) -> async_graphql::Result<CollectionRemoveProductsPayload> {
    let c = parse_id("Collection", &id, "id")?;
    let products = product_ids(&ids, "productIds")?;
    let mut st = shared(ctx).state.lock();
    match st.collection_remove_products(c, &products) {
        Ok(_) => Ok(CollectionRemoveProductsPayload {
            job: Some(done_job(&mut st)),
            user_errors: Vec::new(),
        }),
        Err(e) => Ok(CollectionRemoveProductsPayload {
            job: None,
            user_errors: vec![e.into()],
        }),
    }
}

pub(super) fn delete(
    ctx: &Context<'_>,
    input: CollectionDeleteInput,
) -> async_graphql::Result<CollectionDeletePayload> {
    let c = parse_id("Collection", &input.id, "input.id")?;
    let shop = super::product_crud::shop_of(ctx);
    let result = shared(ctx).state.lock().delete_collection(c);
    Ok(match result {
        Ok(()) => CollectionDeletePayload {
            deleted_collection_id: Some(input.id),
            shop,
            user_errors: Vec::new(),
        },
        Err(e) => CollectionDeletePayload {
            deleted_collection_id: None,
            shop,
            user_errors: vec![e.into()],
        },
    })
}
