//! WooCommerce: everything weft knows about the WooCommerce REST API v3, behind the platform
//! interface ([`weft_platform`]).
//!
//! - [`WooClient`] ([`client`]): REST v3 with HTTP Basic over https and one-legged OAuth 1.0a
//!   over plain http, WordPress pagination, WordPress errors classified for retries, a
//!   configurable concurrency and rate limit.
//! - [`poll`]: change capture by `modified_after` watermark with an overlap (`orderby=modified`),
//!   products with their variations, customers, orders; stock levels derived from the products
//!   and variations that manage stock.
//! - [`write`]: writes through `/products/batch` and `/products/{id}/variations/batch` (at most
//!   100 items a call); stock as read, compare, write, made safe to resend by a marker;
//!   deletes one by one (a product to the trash, a variation and a customer for good),
//!   answering a tombstone.
//! - [`webhook`]: `X-WC-Webhook-Signature` verification, delivery parsing, the activation ping,
//!   and the [`webhook::WebhookKeeper`] that keeps the site's webhooks to weft active.
//! - [`WooCommerce`] and [`WooConnection`]: the platform interface.
//! - The simulator is the `weft-sim-woocommerce` crate in `sim/` beside this one.
//!
//! # Documents
//!
//! Journal kinds: `product` (products and variations as `GET` returns them: they share one id
//! space, and a variation has `type: "variation"` and its `parent_id`), `customer`, `order`, and
//! `inventory-level` (derived, one per product or variation that manages its own stock:
//! [`level_doc`]). Versions are `date_modified_gmt` read as UTC ([`version_of`]).

pub mod client;
pub mod config;
pub mod poll;
pub mod webhook;
pub mod write;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use weft_platform::{
    BatchResult, Connection, ConnectorError, EntityKind, Idempotency, Planned, Platform, Poller,
    Prepared, Role, SourceCtx, StockFields, WebhookIntake, WriteCommand, WriteOp, WriteOutcome,
};

pub use client::{WooClient, WooConfig};

/// The platform's name.
pub const PLATFORM: &str = "woocommerce";

/// The WooCommerce platform.
#[derive(Debug, Clone, Copy, Default)]
pub struct WooCommerce;

impl Platform for WooCommerce {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn role(&self) -> Role {
        Role::Storefront
    }

    /// A person's data in WooCommerce customers and orders (REST v3 representation).
    fn personal_fields(&self, kind: &str) -> &'static [&'static str] {
        match kind {
            "customer" => &[
                "email",
                "first_name",
                "last_name",
                "username",
                "billing",
                "shipping",
                "avatar_url",
            ],
            "order" => &[
                "billing",
                "shipping",
                "customer_note",
                "customer_ip_address",
                "customer_user_agent",
            ],
            _ => &[],
        }
    }

    /// Variants (simple products and variations) and their prices are product documents.
    fn document_kind(&self, canonical: EntityKind) -> EntityKind {
        match canonical {
            EntityKind::Variant | EntityKind::Price => EntityKind::Product,
            k => k,
        }
    }

    fn stock_fields(&self) -> StockFields {
        StockFields {
            quantity: "stock_quantity",
            version: "date_modified_gmt",
        }
    }

    /// A stock set is read, compare, write (WooCommerce has no compare-and-set): once sent it
    /// may have applied, and a resend finds its marker ([`write`]).
    fn prepare_write(&self, command: WriteCommand, _desired: &Map<String, Value>) -> Prepared {
        let idempotency =
            if command.kind == EntityKind::InventoryLevel && command.op == WriteOp::SetQuantity {
                Idempotency::SentMayHaveApplied
            } else {
                Idempotency::Keyed
            };
        Prepared {
            command,
            idempotency,
        }
    }

    fn webhooks(&self) -> Option<Arc<dyn WebhookIntake>> {
        Some(Arc::new(webhook::WooWebhooks))
    }
}

/// A document's version: its `date_modified_gmt` (else `date_created_gmt`) as RFC 3339 UTC.
pub fn version_of(doc: &Value) -> Option<String> {
    ["date_modified_gmt", "date_created_gmt"]
        .iter()
        .filter_map(|k| doc.get(*k).and_then(Value::as_str))
        .find(|s| !s.is_empty())
        .map(gmt)
}

/// The current time as a version (`2026-01-15T12:00:07Z`, as [`version_of`] gives): what a
/// deletion weft learns of without a time of WooCommerce's is versioned by.
pub fn now_version() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// WooCommerce's `…_gmt` times carry no zone: they are UTC.
pub fn gmt(s: &str) -> String {
    let s = s.trim();
    if s.ends_with('Z') || s.contains('+') || s.get(10..).is_some_and(|t| t.contains('-')) {
        s.to_owned()
    } else {
        format!("{s}Z")
    }
}

/// A WooCommerce id (a number, or a decimal string) as text.
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0).map(|n| n.to_string()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    }
}

/// The stock level a product or variation document shows, when it manages its own stock and
/// has a SKU: `{id, product_id, parent_id, sku, stock_quantity, date_modified_gmt}` (the id is
/// the product's or variation's; the time is its version, in UTC).
pub fn level_doc(product: &Value) -> Option<Value> {
    if product.get("manage_stock") != Some(&Value::Bool(true)) {
        return None;
    }
    let id = product.get("id").and_then(id_text)?;
    let sku = product
        .get("sku")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let parent = product
        .get("parent_id")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some(json!({
        "id": id,
        "product_id": id.parse::<u64>().unwrap_or(0),
        "parent_id": parent,
        "sku": sku,
        "stock_quantity": product.get("stock_quantity").and_then(Value::as_i64).unwrap_or(0),
        "date_modified_gmt": version_of(product),
    }))
}

/// One store's connection to one WooCommerce site.
#[derive(Debug, Clone)]
pub struct WooConnection {
    client: Arc<WooClient>,
    webhook_secret: String,
}

impl WooConnection {
    /// A connection through `client`; `webhook_secret` signs the webhooks the keeper creates.
    pub fn new(client: Arc<WooClient>, webhook_secret: impl Into<String>) -> Self {
        WooConnection {
            client,
            webhook_secret: webhook_secret.into(),
        }
    }

    /// The client.
    pub fn client(&self) -> &Arc<WooClient> {
        &self.client
    }
}

impl Connection for WooConnection {
    fn platform(&self) -> Arc<dyn Platform> {
        Arc::new(WooCommerce)
    }

    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        Box::pin(write::execute(&self.client, command))
    }

    fn batch_size(&self, command: &WriteCommand) -> Option<usize> {
        write::is_batchable(command).then_some(write::MAX_BATCH)
    }

    fn plan_batches<'a>(&'a self, commands: &'a [WriteCommand]) -> BoxFuture<'a, Planned> {
        Box::pin(async move { write::plan(commands) })
    }

    fn send_batch<'a>(
        &'a self,
        input: &'a Value,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<BatchResult>, ConnectorError>> {
        Box::pin(write::send(&self.client, input))
    }

    fn batch_subset(&self, input: &Value, positions: &[usize]) -> Value {
        write::subset(input, positions)
    }

    fn missing_webhooks<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async move {
            let state = webhook::subscriptions(&self.client, url).await?;
            Ok(state.missing().into_iter().map(str::to_owned).collect())
        })
    }

    fn breaker(&self) -> Option<&weft_platform::gate::CircuitBreaker> {
        self.client.breaker()
    }

    fn reread<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<weft_platform::EntityRead>, ConnectorError>>> {
        // The resource as `GET` returns it, as webhooks and polls journal it: a variation
        // is read under its parent, as the poll lists it.
        let path = match kind {
            "product" => match delivered.get("parent_id").and_then(id_text) {
                Some(parent) if parent != "0" => {
                    format!("products/{parent}/variations/{}", client::encode(id))
                }
                _ => format!("products/{}", client::encode(id)),
            },
            "order" => format!("orders/{}", client::encode(id)),
            "customer" => format!("customers/{}", client::encode(id)),
            _ => return None,
        };
        Some(Box::pin(async move {
            match self.client.get(&path, &[]).await {
                Ok(body) => Ok(
                    version_of(&body).map(|version| weft_platform::EntityRead { version, body })
                ),
                Err(ConnectorError::Permanent { status: 404, .. }) => Ok(None),
                Err(e) => Err(e),
            }
        }))
    }

    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        let mut sources: Vec<Arc<dyn Poller>> = vec![Arc::new(poll::WooPoller::new(
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
                ctx.db.clone(),
                self.client.clone(),
                url.clone(),
                self.webhook_secret.clone(),
            )));
        }
        sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_from_records_that_manage_their_stock() {
        let p = json!({"id": 12, "sku": "TEE", "manage_stock": true, "stock_quantity": 7,
            "parent_id": 0, "date_modified_gmt": "2026-01-02T03:04:05"});
        assert_eq!(
            level_doc(&p).unwrap(),
            json!({"id": "12", "product_id": 12, "parent_id": 0, "sku": "TEE",
                "stock_quantity": 7, "date_modified_gmt": "2026-01-02T03:04:05Z"})
        );
        let parent_managed = json!({"id": 13, "sku": "TEE-S", "manage_stock": "parent"});
        assert!(level_doc(&parent_managed).is_none());
        let no_sku = json!({"id": 14, "sku": "", "manage_stock": true});
        assert!(level_doc(&no_sku).is_none());
    }

    #[test]
    fn gmt_times_are_utc() {
        assert_eq!(gmt("2026-01-02T03:04:05"), "2026-01-02T03:04:05Z");
        assert_eq!(gmt("2026-01-02T03:04:05Z"), "2026-01-02T03:04:05Z");
        assert_eq!(
            gmt("2026-01-02T03:04:05-05:00"),
            "2026-01-02T03:04:05-05:00"
        );
    }
}
