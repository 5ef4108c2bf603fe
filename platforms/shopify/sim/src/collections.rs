//! Collections and product membership: custom (manual) collections whose products are listed
//! by hand, and smart collections whose products are the ones matching a rule set.
//!
//! The Admin GraphQL surface is in `graphql/schema/collections.rs`: `collection(id:)`,
//! `collectionByHandle(handle:)`, `collectionByIdentifier(identifier: {id handle})`,
//! `collections` (`first`/`after`, `last`/`before`, `reverse`, `sortKey: ID | RELEVANCE |
//! TITLE | UPDATED_AT`, `query:`), `collectionsCount(query:, limit:)`, `Collection { id
//! legacyResourceId handle title descriptionHtml updatedAt ruleSet { appliedDisjunctively
//! rules { column relation condition } } productsCount { count precision } products
//! hasProduct(id:) }`, `Product.collections`, `job(id:)`, and the mutations
//! `collectionCreate`, `collectionAddProducts`, `collectionAddProductsV2`,
//! `collectionRemoveProducts` and `collectionDelete`.
//!
//! What shopify.dev documents and the simulator enforces:
//! - Reading collections needs `read_products`; the mutations need `write_products`.
//! - A handle is generated from the title when none is given ("Summer Sale" → `summer-sale`);
//!   `collectionByHandle` finds a collection by it.
//! - `collectionAddProducts` is for custom collections only and all or nothing: "If any of the
//!   products is already present in the input collection, then an error is raised and no
//!   products are added"; the payload's `collection` is `null` when an error is raised.
//! - `collectionAddProductsV2` runs as a job; its user errors carry the codes
//!   `CANT_ADD_TO_SMART_COLLECTION` ("Can't manually add products to a smart collection.") and
//!   `COLLECTION_DOES_NOT_EXIST` ("Collection doesn't exist."). The same message is used for a
//!   smart collection in `collectionAddProducts`.
//! - `collectionRemoveProducts` returns a `Job` to poll ("For use with manual collections
//!   only"), and "doesn't validate that the products belong to the collection or whether the
//!   products exist": such ids are ignored.
//! - `collections(query:)` filters on `handle`, `title`, `collection_type` (`custom` /
//!   `smart`), `product_id` (collections containing that product, numeric id), `id` and
//!   `updated_at`, through [`crate::search`]; bare words match the title. `products(query:)`
//!   filters on `collection_id` (numeric).
//! - At most 250 product ids per call (`MAX_INPUT_SIZE_EXCEEDED`, as every input array).
//! - Adding or removing products fires `collections/update` (Shopify fires it when products
//!   are added from the collection's side; a community report and third-party trigger docs
//!   say so); creating fires `collections/create`, deleting `collections/delete`.
//!
//! Assumptions where shopify.dev is silent:
//! - **Jobs finish at once**: `collectionRemoveProducts` and `collectionAddProductsV2` apply
//!   the change before answering and return `job { id done: true }`; `job(id:)` answers
//!   `done: true` for every job the simulator issued (`orderCancel`'s too) and `null` for
//!   others.
//! - **Membership does not touch products**: adding or removing a product neither moves the
//!   product's `updatedAt` nor fires `products/update`; only the collection's `updatedAt` moves
//!   and `collections/update` fires (once per call that changed something; a call that changes
//!   nothing fires nothing).
//! - **Messages** (Shopify's exact texts are unpublished): an unknown collection is
//!   `["id"]` "Collection does not exist"; an unknown product in `collectionAddProducts` is
//!   `["productIds", "<i>"]` "Product does not exist"; a product already in the collection (or
//!   given twice) is `["productIds", "<i>"]` "Product is already in the collection"; a smart
//!   collection in `collectionRemoveProducts` is `["id"]` "Can't manually remove products from
//!   a smart collection."; a blank title is `["title"]` "Title can't be blank".
//! - `collectionAddProductsV2` ignores unknown products and products already in the
//!   collection (its error codes name neither).
//! - A taken handle (given or generated) gets `-1`, `-2`, ... appended, as the simulator does
//!   for products; collection and product handles are separate namespaces.
//! - **Smart collections** take a simple rule set: columns `TAG`, `TITLE`, `TYPE`, `VENDOR`,
//!   relations `EQUALS`, `NOT_EQUALS`, `CONTAINS`, `NOT_CONTAINS`, `STARTS_WITH`,
//!   `ENDS_WITH`, case-insensitive; a rule set without rules matches nothing. Their products
//!   are computed when read (ordered by product id); membership changes of smart collections
//!   fire no webhook.
//! - Deleting a product removes it from every collection silently (only `products/delete`
//!   fires; no collection's `updatedAt` moves).
//! - Webhook bodies are REST collections: `id`, `handle`, `title`, `body_html`,
//!   `updated_at`, `sort_order` (`manual`: products stay in the order they were added),
//!   `published_scope` (`web`), `admin_graphql_api_id`, and for a smart collection `rules`
//!   (`column`, `relation`, `condition` in lower case) and `disjunctive`; no product list.
//!   `collections/delete` carries `{"id": N}` only, as `products/delete` does.
//!
//! Not modelled: `collectionUpdate`, `collectionReorderProducts`, `collectionDuplicate`,
//! `sortOrder`, images, SEO, metafields and publications of collections, rule columns other
//! than the four above, the bulk-query JSONL of collections.
//!
//! Merchant side ([`ShopifySim::create_collection`], [`ShopifySim::create_smart_collection`],
//! [`ShopifySim::add_to_collection`], [`ShopifySim::remove_from_collection`],
//! [`ShopifySim::delete_collection`], [`ShopifySim::collections_of`],
//! [`ShopifySim::collections`], [`ShopifySim::collection_products`]) and the `/_sim` routes
//! `POST /_sim/collections` `{title, handle, smart, tag}`, `GET /_sim/collections`, `DELETE
//! /_sim/collections/{id}`, `PUT` / `DELETE /_sim/collections/{id}/products/{product_id}`,
//! ids as decimal strings. They fire the same webhooks as the API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::{gid, parse_gid};
use crate::merchant::{ApiResult, id, sim};
use crate::search::{FieldValue, Searchable};
use crate::sim::{Shared, ShopifySim, SimError};
use crate::state::{Event, ProductRec, ShopState, Topic, UserErr, slugify};

/// One rule of a smart collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CollectionRule {
    /// `TAG`, `TITLE`, `TYPE` or `VENDOR`.
    pub column: String,
    /// `EQUALS`, `NOT_EQUALS`, `CONTAINS`, `NOT_CONTAINS`, `STARTS_WITH` or `ENDS_WITH`.
    pub relation: String,
    /// The value compared against.
    pub condition: String,
}

/// The rules of a smart collection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    /// Any rule (true) or every rule (false) must match.
    pub applied_disjunctively: bool,
    /// The rules; none matches nothing.
    pub rules: Vec<CollectionRule>,
}

impl CollectionRule {
    fn matches(&self, p: &ProductRec) -> bool {
        let values: Vec<&str> = match self.column.as_str() {
            "TAG" => p.tags.iter().map(String::as_str).collect(),
            "TITLE" => vec![p.title.as_str()],
            "TYPE" => vec![p.product_type.as_str()],
            "VENDOR" => vec![p.vendor.as_str()],
            _ => return false,
        };
        let c = self.condition.to_lowercase();
        let one = |v: &str| {
            let v = v.to_lowercase();
            match self.relation.as_str() {
                "EQUALS" => v == c,
                "CONTAINS" => v.contains(&c),
                "STARTS_WITH" => v.starts_with(&c),
                "ENDS_WITH" => v.ends_with(&c),
                _ => false,
            }
        };
        match self.relation.as_str() {
            "NOT_EQUALS" => !values.iter().any(|v| v.eq_ignore_ascii_case(&c)),
            "NOT_CONTAINS" => !values.iter().any(|v| v.to_lowercase().contains(&c)),
            _ => values.iter().any(|v| one(v)),
        }
    }
}

impl RuleSet {
    /// Whether a product belongs to a collection with these rules.
    pub fn matches(&self, p: &ProductRec) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        if self.applied_disjunctively {
            self.rules.iter().any(|r| r.matches(p))
        } else {
            self.rules.iter().all(|r| r.matches(p))
        }
    }
}

/// A collection.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionRec {
    /// Id.
    pub id: u64,
    /// Unique handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Description (HTML).
    pub description_html: String,
    /// Last change (its own fields or its membership).
    pub updated_at: DateTime<Utc>,
    /// `None`: a custom collection; `Some`: a smart one.
    pub rule_set: Option<RuleSet>,
    /// A custom collection's products in the order they were added (empty for a smart one).
    pub products: Vec<u64>,
}

impl CollectionRec {
    /// `custom` or `smart`.
    pub fn kind(&self) -> &'static str {
        if self.rule_set.is_some() {
            "smart"
        } else {
            "custom"
        }
    }
}

/// What `collections(query:)` sees of a collection.
pub struct CollectionProbe<'a>(pub &'a CollectionRec, pub Vec<u64>);

impl Searchable for CollectionProbe<'_> {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        let c = self.0;
        Some(match field {
            "id" => FieldValue::Num(i128::from(c.id)),
            "handle" => FieldValue::Text(c.handle.clone()),
            "title" => FieldValue::Text(c.title.clone()),
            "collection_type" => FieldValue::Text(c.kind().to_owned()),
            "updated_at" => FieldValue::Time(c.updated_at),
            "product_id" => FieldValue::Texts(self.1.iter().map(u64::to_string).collect()),
            _ => return None,
        })
    }
    fn default_text(&self) -> Vec<String> {
        vec![self.0.title.clone()]
    }
}

/// Messages (see the module header).
pub mod messages {
    /// Unknown collection.
    pub const NO_COLLECTION: &str = "Collection does not exist";
    /// Unknown product.
    pub const NO_PRODUCT: &str = "Product does not exist";
    /// Product already a member.
    pub const ALREADY: &str = "Product is already in the collection";
    /// Adding to a smart collection (the documented description of `CANT_ADD_TO_SMART_COLLECTION`).
    pub const SMART_ADD: &str = "Can't manually add products to a smart collection.";
    /// Removing from a smart collection.
    pub const SMART_REMOVE: &str = "Can't manually remove products from a smart collection.";
    /// Blank title.
    pub const BLANK_TITLE: &str = "Title can't be blank";
    /// Initial products on a smart collection.
    pub const SMART_PRODUCTS: &str = "Products can't be added to a smart collection";
}

/// User error codes ([`UserErr::code`]) of collection changes.
pub mod codes {
    /// The collection does not exist.
    pub const COLLECTION_DOES_NOT_EXIST: &str = "COLLECTION_DOES_NOT_EXIST";
    /// The collection is smart.
    pub const CANT_ADD_TO_SMART_COLLECTION: &str = "CANT_ADD_TO_SMART_COLLECTION";
    /// A product does not exist.
    pub const PRODUCT_DOES_NOT_EXIST: &str = "PRODUCT_DOES_NOT_EXIST";
    /// A product is already in the collection.
    pub const ALREADY_IN_COLLECTION: &str = "ALREADY_IN_COLLECTION";
    /// Blank input.
    pub const BLANK: &str = "BLANK";
    /// Invalid input.
    pub const INVALID: &str = "INVALID";
}

/// How an add treats products that are unknown or already in the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddMode {
    /// `collectionAddProducts`: either is an error and nothing is added.
    Strict,
    /// `collectionAddProductsV2` and the merchant: both are skipped.
    Lenient,
}

impl ShopState {
    fn unique_collection_handle(&self, wanted: &str) -> String {
        let base = slugify(wanted);
        let base = if base.is_empty() {
            "collection".to_owned()
        } else {
            base
        };
        let taken = |h: &str| self.collections.values().any(|c| c.handle == h);
        if !taken(&base) {
            return base;
        }
        (1..)
            .map(|n| format!("{base}-{n}"))
            .find(|h| !taken(h))
            .expect("an unused handle exists")
    }

    /// The products of a collection, in order: a custom collection's as added, a smart one's
    /// by product id.
    pub fn collection_members(&self, c: &CollectionRec) -> Vec<u64> {
        match &c.rule_set {
            None => c
                .products
                .iter()
                .copied()
                .filter(|p| self.products.contains_key(p))
                .collect(),
            Some(rules) => self
                .products
                .values()
                .filter(|p| rules.matches(p))
                .map(|p| p.id)
                .collect(),
        }
    }

    /// The collections a product belongs to, by collection id.
    pub fn collections_of_product(&self, product: u64) -> Vec<&CollectionRec> {
        let Some(p) = self.products.get(&product) else {
            return Vec::new();
        };
        self.collections
            .values()
            .filter(|c| match &c.rule_set {
                None => c.products.contains(&product),
                Some(r) => r.matches(p),
            })
            .collect()
    }

    /// Creates a collection (`collectionCreate`, the merchant): a handle is generated from
    /// the title unless given, and made unique. `products` (custom collections only) are its
    /// initial members. Fires `collections/create`.
    pub fn create_collection(
        &mut self,
        title: &str,
        handle: Option<&str>,
        description_html: &str,
        rule_set: Option<RuleSet>,
        products: &[u64],
    ) -> Result<u64, Vec<UserErr>> {
        let mut errors = Vec::new();
        if title.trim().is_empty() {
            errors.push(UserErr::new(
                &["title"],
                messages::BLANK_TITLE,
                codes::BLANK,
            ));
        }
        if rule_set.is_some() && !products.is_empty() {
            errors.push(UserErr::new(
                &["products"],
                messages::SMART_PRODUCTS,
                codes::INVALID,
            ));
        }
        let mut members: Vec<u64> = Vec::new();
        for (i, p) in products.iter().enumerate() {
            let idx = i.to_string();
            if !self.products.contains_key(p) {
                errors.push(UserErr::new(
                    &["products", &idx],
                    messages::NO_PRODUCT,
                    codes::PRODUCT_DOES_NOT_EXIST,
                ));
            } else if members.contains(p) {
                errors.push(UserErr::new(
                    &["products", &idx],
                    messages::ALREADY,
                    codes::ALREADY_IN_COLLECTION,
                ));
            } else {
                members.push(*p);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let handle = match handle.map(str::trim).filter(|h| !h.is_empty()) {
            Some(h) => self.unique_collection_handle(h),
            None => self.unique_collection_handle(title),
        };
        let id = self.new_id();
        let now = self.clock.now();
        self.collections.insert(
            id,
            CollectionRec {
                id,
                handle,
                title: title.trim().to_owned(),
                description_html: description_html.to_owned(),
                updated_at: now,
                rule_set,
                products: members,
            },
        );
        self.emit_collection(id, Topic::CollectionsCreate);
        Ok(id)
    }

    fn custom_collection(&self, id: u64, smart_message: &str) -> Result<&CollectionRec, UserErr> {
        let c = self.collections.get(&id).ok_or_else(|| {
            UserErr::new(
                &["id"],
                messages::NO_COLLECTION,
                codes::COLLECTION_DOES_NOT_EXIST,
            )
        })?;
        if c.rule_set.is_some() {
            return Err(UserErr::new(
                &["id"],
                smart_message,
                codes::CANT_ADD_TO_SMART_COLLECTION,
            ));
        }
        Ok(c)
    }

    /// Adds products to the end of a custom collection, in the given order. `Strict`
    /// (`collectionAddProducts`) refuses unknown products and products already in it, all or
    /// nothing; `Lenient` skips them. When something was added the collection's `updatedAt`
    /// moves and `collections/update` fires; products are not touched. Returns the products
    /// added.
    pub fn collection_add_products(
        &mut self,
        id: u64,
        product_ids: &[u64],
        mode: AddMode,
    ) -> Result<Vec<u64>, Vec<UserErr>> {
        let c = self
            .custom_collection(id, messages::SMART_ADD)
            .map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let mut added: Vec<u64> = Vec::new();
        for (i, p) in product_ids.iter().enumerate() {
            let idx = i.to_string();
            if !self.products.contains_key(p) {
                if mode == AddMode::Strict {
                    errors.push(UserErr::new(
                        &["productIds", &idx],
                        messages::NO_PRODUCT,
                        codes::PRODUCT_DOES_NOT_EXIST,
                    ));
                }
            } else if c.products.contains(p) || added.contains(p) {
                if mode == AddMode::Strict {
                    errors.push(UserErr::new(
                        &["productIds", &idx],
                        messages::ALREADY,
                        codes::ALREADY_IN_COLLECTION,
                    ));
                }
            } else {
                added.push(*p);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !added.is_empty() {
            let now = self.clock.now();
            let c = self.collections.get_mut(&id).expect("found above");
            c.products.extend(added.iter().copied());
            c.updated_at = now;
            self.emit_collection(id, Topic::CollectionsUpdate);
        }
        Ok(added)
    }

    /// Removes products from a custom collection; ids not in it (or of no product) are
    /// ignored. When something was removed the collection's `updatedAt` moves and
    /// `collections/update` fires. Returns the products removed.
    pub fn collection_remove_products(
        &mut self,
        id: u64,
        product_ids: &[u64],
    ) -> Result<Vec<u64>, UserErr> {
        let c = self.custom_collection(id, messages::SMART_REMOVE)?;
        let removed: Vec<u64> = c
            .products
            .iter()
            .copied()
            .filter(|p| product_ids.contains(p))
            .collect();
        if !removed.is_empty() {
            let now = self.clock.now();
            let c = self.collections.get_mut(&id).expect("found above");
            c.products.retain(|p| !removed.contains(p));
            c.updated_at = now;
            self.emit_collection(id, Topic::CollectionsUpdate);
        }
        Ok(removed)
    }

    /// Deletes a collection (its products stay) and fires `collections/delete` with
    /// `{"id": N}`.
    pub fn delete_collection(&mut self, id: u64) -> Result<(), UserErr> {
        if self.collections.remove(&id).is_none() {
            return Err(UserErr::new(
                &["id"],
                messages::NO_COLLECTION,
                codes::COLLECTION_DOES_NOT_EXIST,
            ));
        }
        self.outbox.push(Event {
            topic: Topic::CollectionsDelete,
            body: json!({ "id": id }),
            triggered_at: self.clock.now(),
            entity_gid: gid("Collection", id),
        });
        Ok(())
    }

    /// Removes a deleted product from every custom collection, silently.
    pub(crate) fn drop_from_collections(&mut self, product: u64) {
        for c in self.collections.values_mut() {
            c.products.retain(|p| *p != product);
        }
    }

    fn emit_collection(&mut self, id: u64, topic: Topic) {
        let Some(c) = self.collections.get(&id) else {
            return;
        };
        let at = c.updated_at;
        let body = self.collection_rest(id);
        self.outbox.push(Event {
            topic,
            body,
            triggered_at: at,
            entity_gid: gid("Collection", id),
        });
    }

    /// REST/webhook shape of a collection (see the module header).
    pub fn collection_rest(&self, id: u64) -> Value {
        let Some(c) = self.collections.get(&id) else {
            return Value::Null;
        };
        let mut body = json!({
            "id": c.id,
            "handle": c.handle,
            "title": c.title,
            "body_html": c.description_html,
            "updated_at": self.rest_time(c.updated_at),
            "sort_order": "manual",
            "published_scope": "web",
            "admin_graphql_api_id": gid("Collection", c.id),
        });
        if let Some(r) = &c.rule_set {
            body["rules"] = r
                .rules
                .iter()
                .map(|x| {
                    json!({
                        "column": x.column.to_lowercase(),
                        "relation": x.relation.to_lowercase(),
                        "condition": x.condition,
                    })
                })
                .collect();
            body["disjunctive"] = json!(r.applied_disjunctively);
        }
        body
    }
}

// ---------------------------------------------------------------------------------------------
// Merchant API

fn collection_id(c: &str) -> Result<u64, SimError> {
    parse_gid("Collection", c)
        .ok_or_else(|| SimError::Invalid(format!("{c:?} is not a Collection gid")))
}

fn product_id(p: &str) -> Result<u64, SimError> {
    parse_gid("Product", p).ok_or_else(|| SimError::Invalid(format!("{p:?} is not a Product gid")))
}

fn sim_error(errs: &[UserErr], what: &str) -> SimError {
    match errs.first().and_then(|e| e.code.as_deref()) {
        Some(codes::COLLECTION_DOES_NOT_EXIST) => SimError::NotFound(format!("collection {what}")),
        _ => SimError::from_user_errors(errs),
    }
}

impl ShopifySim {
    fn with_shop<T>(
        &self,
        f: impl FnOnce(&mut ShopState) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let out = {
            let mut st = self.shared.state.lock();
            f(&mut st)
        };
        self.shared.flush_events();
        out
    }

    /// Creates a collection as the merchant does in the admin; returns its gid
    /// (`gid://shopify/Collection/N`). The handle is generated from the title unless given
    /// (and made unique). `smart: true` makes a smart collection without rules (it matches
    /// nothing and refuses manual additions; see [`ShopifySim::create_smart_collection`]).
    /// Fires `collections/create`.
    pub fn create_collection(
        &self,
        title: &str,
        handle: Option<&str>,
        smart: bool,
    ) -> Result<String, SimError> {
        let rules = smart.then(RuleSet::default);
        self.with_shop(|st| {
            st.create_collection(title, handle, "", rules, &[])
                .map(|id| gid("Collection", id))
                .map_err(|e| SimError::from_user_errors(&e))
        })
    }

    /// Creates a smart collection of the products tagged `tag` (rule `TAG EQUALS tag`).
    /// Fires `collections/create`.
    pub fn create_smart_collection(
        &self,
        title: &str,
        handle: Option<&str>,
        tag: &str,
    ) -> Result<String, SimError> {
        let rules = RuleSet {
            applied_disjunctively: false,
            rules: vec![CollectionRule {
                column: "TAG".into(),
                relation: "EQUALS".into(),
                condition: tag.to_owned(),
            }],
        };
        self.with_shop(|st| {
            st.create_collection(title, handle, "", Some(rules), &[])
                .map(|id| gid("Collection", id))
                .map_err(|e| SimError::from_user_errors(&e))
        })
    }

    /// Adds a product to a custom collection, as a merchant's edit in the admin does (fires
    /// `collections/update`; a product already in it changes nothing and fires nothing). A
    /// smart collection is refused.
    pub fn add_to_collection(&self, collection: &str, product: &str) -> Result<(), SimError> {
        let (c, p) = (collection_id(collection)?, product_id(product)?);
        self.with_shop(|st| {
            if !st.products.contains_key(&p) {
                return Err(SimError::NotFound(format!("product {p}")));
            }
            st.collection_add_products(c, &[p], AddMode::Lenient)
                .map(|_| ())
                .map_err(|e| sim_error(&e, &c.to_string()))
        })
    }

    /// Removes a product from a custom collection (fires `collections/update`; a product not
    /// in it changes nothing and fires nothing). A smart collection is refused.
    pub fn remove_from_collection(&self, collection: &str, product: &str) -> Result<(), SimError> {
        let (c, p) = (collection_id(collection)?, product_id(product)?);
        self.with_shop(|st| {
            st.collection_remove_products(c, &[p])
                .map(|_| ())
                .map_err(|e| sim_error(&[e], &c.to_string()))
        })
    }

    /// Deletes a collection (fires `collections/delete` with `{"id": N}`).
    pub fn delete_collection(&self, collection: &str) -> Result<(), SimError> {
        let c = collection_id(collection)?;
        self.with_shop(|st| {
            st.delete_collection(c)
                .map_err(|e| sim_error(&[e], &c.to_string()))
        })
    }

    /// The handles of the collections a product belongs to (smart ones included), by
    /// collection id. Empty for an unknown product.
    pub fn collections_of(&self, product: &str) -> Vec<String> {
        let Some(p) = parse_gid("Product", product) else {
            return Vec::new();
        };
        let st = self.shared.state.lock();
        st.collections_of_product(p)
            .into_iter()
            .map(|c| c.handle.clone())
            .collect()
    }

    /// The shop's collections: `(gid, handle)`, in the order they were made.
    pub fn collections(&self) -> Vec<(String, String)> {
        let st = self.shared.state.lock();
        st.collections
            .values()
            .map(|c| (gid("Collection", c.id), c.handle.clone()))
            .collect()
    }

    /// The product gids of a collection, in its order. Empty for an unknown collection.
    pub fn collection_products(&self, collection: &str) -> Vec<String> {
        let Some(c) = parse_gid("Collection", collection) else {
            return Vec::new();
        };
        let st = self.shared.state.lock();
        st.collections
            .get(&c)
            .map(|c| {
                st.collection_members(c)
                    .into_iter()
                    .map(|p| gid("Product", p))
                    .collect()
            })
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP (`/_sim`, ids as decimal strings)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectionBody {
    title: String,
    handle: Option<String>,
    #[serde(default)]
    smart: bool,
    tag: Option<String>,
}

/// The collection `/_sim` routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/collections", get(http_list).post(http_create))
        .route("/_sim/collections/{id}", axum::routing::delete(http_delete))
        .route(
            "/_sim/collections/{id}/products/{product_id}",
            put(http_add).delete(http_remove),
        )
}

fn number(g: &str) -> String {
    g.rsplit('/').next().unwrap_or_default().to_owned()
}

async fn http_create(State(sh): State<Arc<Shared>>, Json(b): Json<CollectionBody>) -> ApiResult {
    let s = sim(sh);
    let g = match (&b.tag, b.smart) {
        (Some(tag), _) => s.create_smart_collection(&b.title, b.handle.as_deref(), tag)?,
        (None, smart) => s.create_collection(&b.title, b.handle.as_deref(), smart)?,
    };
    let handle = s
        .collections()
        .into_iter()
        .find(|(x, _)| *x == g)
        .map(|(_, h)| h)
        .unwrap_or_default();
    Ok(Json(
        json!({"id": number(&g), "admin_graphql_api_id": g, "handle": handle}),
    ))
}

async fn http_list(State(sh): State<Arc<Shared>>) -> ApiResult {
    let s = sim(sh);
    let list: Vec<Value> = s
        .collections()
        .into_iter()
        .map(|(g, h)| {
            let products: Vec<String> = s
                .collection_products(&g)
                .iter()
                .map(|p| number(p))
                .collect();
            json!({"id": number(&g), "handle": h, "product_ids": products})
        })
        .collect();
    Ok(Json(json!({ "collections": list })))
}

async fn http_delete(State(sh): State<Arc<Shared>>, Path(c): Path<String>) -> ApiResult {
    let c = gid("Collection", id(&c, "collection")?);
    sim(sh).delete_collection(&c)?;
    Ok(Json(json!({"deleted": true})))
}

fn gids(c: &str, p: &str) -> Result<(String, String), SimError> {
    Ok((
        gid("Collection", id(c, "collection")?),
        gid("Product", id(p, "product")?),
    ))
}

async fn http_add(
    State(sh): State<Arc<Shared>>,
    Path((c, p)): Path<(String, String)>,
) -> ApiResult {
    let (cg, pg) = gids(&c, &p)?;
    sim(sh).add_to_collection(&cg, &pg)?;
    Ok(Json(json!({"collection_id": c, "product_id": p})))
}

async fn http_remove(
    State(sh): State<Arc<Shared>>,
    Path((c, p)): Path<(String, String)>,
) -> ApiResult {
    let (cg, pg) = gids(&c, &p)?;
    sim(sh).remove_from_collection(&cg, &pg)?;
    Ok(Json(json!({"removed": true})))
}

/// A searchable entity seen with the collections it belongs to: answers `collection_id`
/// (numeric ids) and delegates every other field (`products(query: "collection_id:N")`).
pub struct InCollections<'a, S>(pub &'a S, pub Vec<u64>);

impl<S: Searchable> Searchable for InCollections<'_, S> {
    fn search_field(&self, field: &str) -> Option<FieldValue> {
        if field == "collection_id" {
            return Some(FieldValue::Texts(
                self.1.iter().map(u64::to_string).collect(),
            ));
        }
        self.0.search_field(field)
    }
    fn default_text(&self) -> Vec<String> {
        self.0.default_text()
    }
}
