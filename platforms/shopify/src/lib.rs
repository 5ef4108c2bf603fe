//! Shopify: everything weft knows about the Shopify Admin GraphQL API, behind the platform
//! interface ([`weft_platform`]).
//!
//! - [`ShopifyClient`] posts to `{base}/admin/api/{version}/graphql.json` with the
//!   `X-Shopify-Access-Token` header, reserves every call's cost from the shop's
//!   `ShopifyCostLimiter`, detects `THROTTLED` on HTTP 200 (and 429), turns mutation
//!   `userErrors` into typed errors (`CHANGE_FROM_QUANTITY_STALE` ->
//!   [`weft_platform::ConnectorError::Stale`]), and offers the paged reads and the writes weft
//!   uses.
//! - [`normalize`] converts both of Shopify's data shapes (REST-shaped webhook bodies, GraphQL
//!   reads) into the one document shape per entity the mapping plugins see.
//! - [`write`]: write execution, one at a time and batched `inventorySetQuantities` calls.
//! - [`poll`]: list-then-fetch reconciliation by `updated_at` watermark, and the catalog-scale
//!   first sync / full resync through [`bulk`] query operations.
//! - [`webhook`]: signature verification, delivery parsing, and the [`webhook::WebhookKeeper`]
//!   that keeps the shop's subscriptions to weft in place.
//! - [`Shopify`] and [`ShopifyConnection`]: the platform interface.
//! - The simulator is the `weft-sim-shopify` crate in `sim/` beside this one.

pub mod access;
pub mod bulk;
mod client;
pub mod config;
pub mod normalize;
pub mod poll;
pub mod queries;
pub mod webhook;
pub mod write;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use weft_platform::{
    BatchResult, Connection, ConnectorError, EntityKind, Planned, Platform, Poller, Role,
    SourceCtx, StockFields, WebhookIntake, WriteCommand, WriteOutcome,
};

pub(crate) use client::check_user_errors;
pub use client::{
    AdjustChange, Backfill, Entity, GraphqlResponse, Listed, Listing, Page, Paging, QuantityChange,
    ReadResult, ShopifyClient, ShopifyConfig,
};
pub use normalize::ShopifyDoc;
pub use poll::ShopifyReconciler;
pub(crate) use weft_platform::{InvalidRequest, error, gate};

/// The platform's name.
pub const PLATFORM: &str = "shopify";

/// The Shopify platform.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shopify;

impl Platform for Shopify {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn role(&self) -> Role {
        Role::Storefront
    }

    /// Product webhooks carry no SEO, metafields, category or collections (a GraphQL read does:
    /// see `normalize`), nor price lists' fixed prices (a read adds them when the system syncs
    /// other currencies: `ShopifyClient::attach_price_lists`).
    fn delivered_without(&self, kind: &str) -> &'static [&'static str] {
        match kind {
            "product" => &[
                "category",
                "collections",
                "metafields",
                "price_lists",
                "seo",
            ],
            _ => &[],
        }
    }

    /// A product lists its variants whole, unless its webhook carried only the first 100 of
    /// more (`variants_partial`, from the payload's `variant_gids`).
    fn lists_children(&self, kind: &str, doc: &Value) -> bool {
        kind == "product" && doc.get("variants_partial") != Some(&Value::Bool(true))
    }

    /// Variants and their prices travel inside their product.
    fn document_kind(&self, canonical: EntityKind) -> EntityKind {
        match canonical {
            EntityKind::Variant | EntityKind::Price => EntityKind::Product,
            k => k,
        }
    }

    fn stock_fields(&self) -> StockFields {
        StockFields {
            quantity: "available",
            version: "updated_at",
        }
    }

    /// Inventory level webhooks name the inventory item, not its SKU.
    fn item_without_sku(&self, level: &Value) -> Option<String> {
        if level.get("sku").is_some_and(Value::is_string) {
            return None;
        }
        level
            .get("inventory_item_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn item_skus(&self, kind: &str, doc: &Value) -> Vec<(String, String)> {
        if kind != EntityKind::Product.as_str() {
            return Vec::new();
        }
        doc.get("variants")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| {
                Some((
                    v.get("inventory_item_id")?.as_str()?.to_owned(),
                    v.get("sku")?.as_str()?.to_owned(),
                ))
            })
            .collect()
    }

    fn webhooks(&self) -> Option<Arc<dyn WebhookIntake>> {
        Some(Arc::new(webhook::ShopifyWebhooks))
    }

    /// A person's data in Shopify documents (the normalized shape, docs/document-shapes.md
    /// §1.1, and Shopify's REST webhook fields) and in customer write bodies.
    fn personal_fields(&self, kind: &str) -> &'static [&'static str] {
        match kind {
            "customer" => &[
                "email",
                "first_name",
                "last_name",
                "phone",
                "addresses",
                "default_address",
                "note",
                "multipass_identifier",
            ],
            "order" => &[
                "email",
                "contact_email",
                "phone",
                "first_name",
                "last_name",
                "note",
                "note_attributes",
                "billing_address",
                "shipping_address",
                "default_address",
                "browser_ip",
                "client_details",
            ],
            _ => &[],
        }
    }
}

/// One store's connection to one Shopify shop.
#[derive(Debug, Clone)]
pub struct ShopifyConnection {
    client: Arc<ShopifyClient>,
}

impl ShopifyConnection {
    /// A connection through `client`.
    pub fn new(client: Arc<ShopifyClient>) -> Self {
        ShopifyConnection { client }
    }

    /// The client.
    pub fn client(&self) -> &Arc<ShopifyClient> {
        &self.client
    }
}

impl Connection for ShopifyConnection {
    fn platform(&self) -> Arc<dyn Platform> {
        Arc::new(Shopify)
    }

    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        Box::pin(write::execute(&self.client, command))
    }

    fn batch_size(&self, command: &WriteCommand) -> Option<usize> {
        write::is_batchable(command).then_some(write::MAX_QUANTITIES)
    }

    fn plan_batches<'a>(&'a self, commands: &'a [WriteCommand]) -> BoxFuture<'a, Planned> {
        Box::pin(write::plan_inventory_calls(&self.client, commands))
    }

    fn send_batch<'a>(
        &'a self,
        input: &'a Value,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<BatchResult>, ConnectorError>> {
        Box::pin(write::send_inventory_call(&self.client, input, key))
    }

    fn batch_subset(&self, input: &Value, positions: &[usize]) -> Value {
        write::inventory_call_subset(input, positions)
    }

    fn missing_webhooks<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async move {
            let missing = webhook::missing_subscriptions(&self.client, url).await?;
            Ok(missing.into_iter().map(str::to_owned).collect())
        })
    }

    fn missing_access(&self) -> BoxFuture<'_, Result<Vec<String>, ConnectorError>> {
        Box::pin(access::missing_scopes(&self.client))
    }

    fn breaker(&self) -> Option<&weft_platform::gate::CircuitBreaker> {
        self.client.breaker()
    }

    fn reread<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        _delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<weft_platform::EntityRead>, ConnectorError>>> {
        // Products, customers and orders are read by id, as reconciliation fetches them; an
        // inventory level (`item@location`) through its item at its location.
        let entity = match kind {
            "product" => client::Entity::Products,
            "customer" => client::Entity::Customers,
            "order" => client::Entity::Orders,
            "inventory-level" => {
                let (item, location) = id.split_once('@')?;
                return Some(Box::pin(async move {
                    Ok(self.client.inventory_level(item, location).await?.map(|d| {
                        weft_platform::EntityRead {
                            version: d.updated_at,
                            body: d.body,
                        }
                    }))
                }));
            }
            _ => return None,
        };
        Some(Box::pin(async move {
            let docs = self.client.fetch(&entity, &[id.to_owned()]).await?;
            Ok(docs
                .into_iter()
                .find(|d| d.id == id)
                .map(|d| weft_platform::EntityRead {
                    version: d.updated_at,
                    body: d.body,
                }))
        }))
    }

    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        let mut sources: Vec<Arc<dyn Poller>> = vec![Arc::new(ShopifyReconciler::new(
            ctx.store_id.clone(),
            ctx.system.clone(),
            ctx.db.clone(),
            self.client.clone(),
            ctx.overlap,
        ))];
        if let Some(url) = &ctx.webhook_url {
            sources.push(Arc::new(webhook::WebhookKeeper::new(
                ctx.store_id.clone(),
                &ctx.system,
                self.client.clone(),
                url.clone(),
            )));
        }
        sources
    }
}
