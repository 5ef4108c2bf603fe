//! BigCommerce: everything weft knows about the BigCommerce REST API, behind the platform
//! interface ([`weft_platform`]).
//!
//! - [`client::BcClient`]: `X-Auth-Token` requests to `{base}/stores/{hash}/…`, every one through
//!   the store's [`limiter::QuotaLimiter`] (the store-wide window quota shared with other apps,
//!   learned from the `X-Rate-Limit-*` headers; reads and writes share what is left) and the
//!   connection's breaker; both error shapes become [`weft_platform::ConnectorError`]s.
//! - [`normalize`]: the one document shape per kind (ids as strings, RFC 3339 versions).
//! - [`poll`]: change capture by `date_modified` watermark with overlap.
//! - [`webhook`]: thin callbacks are hints: authenticated by the custom header weft registers
//!   its hooks with, journaled as hints, fetched once per entity by the [`webhook::HintFetcher`];
//!   the [`webhook::HookKeeper`] keeps the hooks registered and active.
//! - [`write`]: catalog, customer and stock writes (absolute adjustments per location, read and
//!   compared first; see its header for how a resend is made safe).
//! - [`config`]: the `[systems.<name>]` section.
//! - Deletions: `store/product/deleted` and `store/customer/deleted` are journaled as
//!   tombstones (see [`webhook`]); change capture by date cannot see a deletion, so one whose
//!   callback is lost waits for the next full read (see [`poll`]). weft's own deletes
//!   (`delete` writes, see [`write::delete`]) answer the same tombstones, or a product's new
//!   document when one of its variants was removed. Orders are never written to BigCommerce.
//! - The simulator is the `weft-sim-bigcommerce` crate in `sim/` beside this one.

pub mod client;
pub mod config;
pub mod limiter;
pub mod normalize;
pub mod poll;
pub mod webhook;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use weft_platform::{
    BatchResult, Connection, ConnectorError, EntityKind, Idempotency, Planned, Platform, Poller,
    Prepared, Role, SourceCtx, StockFields, WebhookIntake, WriteCommand, WriteOp, WriteOutcome,
};

pub use client::{BcClient, BcConfig};
pub use limiter::{Class, DEFAULT_MARGIN, QuotaLimiter, QuotaReading};
pub use webhook::{BcHints, HintBus, HintFetcher, HookKeeper, hint_fetcher};

/// The platform's name.
pub const PLATFORM: &str = "bigcommerce";

/// The BigCommerce platform. A system's value carries its [`HintBus`] (shared by its webhook
/// intake and its connection); the registry's has none.
#[derive(Debug, Clone, Default)]
pub struct BigCommerce {
    bus: Option<Arc<HintBus>>,
}

impl BigCommerce {
    /// The platform of one system, whose intake hands hints to `bus`.
    pub fn with_bus(bus: Arc<HintBus>) -> Self {
        BigCommerce { bus: Some(bus) }
    }
}

impl Platform for BigCommerce {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn role(&self) -> Role {
        Role::Storefront
    }

    /// A product is read with every variant (`include=variants`).
    fn lists_children(&self, kind: &str, _doc: &Value) -> bool {
        kind == "product"
    }

    /// A person's data in BigCommerce customers (V3) and orders (V2).
    fn personal_fields(&self, kind: &str) -> &'static [&'static str] {
        match kind {
            "customer" => &[
                "email",
                "first_name",
                "last_name",
                "company",
                "phone",
                "notes",
                "addresses",
            ],
            "order" => &[
                "billing_address",
                "shipping_addresses",
                "customer_message",
                "staff_notes",
                "ip_address",
            ],
            _ => &[],
        }
    }

    /// Variants and their prices travel inside their product.
    fn document_kind(&self, canonical: weft_platform::EntityKind) -> weft_platform::EntityKind {
        use weft_platform::EntityKind::*;
        match canonical {
            Variant | Price => Product,
            k => k,
        }
    }

    fn stock_fields(&self) -> StockFields {
        StockFields {
            quantity: "available",
            version: "updated_at",
        }
    }

    fn webhooks(&self) -> Option<Arc<dyn WebhookIntake>> {
        Some(Arc::new(webhook::BcWebhooks::new(self.bus.clone())))
    }

    fn hint_bus(&self) -> Option<Arc<HintBus>> {
        self.bus.clone()
    }

    /// Stock writes are absolute sets executed as read, compare, set: a resend finds what the
    /// first send did (the level already holds the quantity), so once sent a stock write is
    /// never replaced or coalesced away. A delta a mapper asks for becomes the set of the
    /// quantity the golden record brings the level to (never a delta computed before it is
    /// sent, which a resend could apply twice).
    fn prepare_write(&self, mut command: WriteCommand, desired: &Map<String, Value>) -> Prepared {
        if command.kind != EntityKind::InventoryLevel {
            return Prepared {
                command,
                idempotency: Idempotency::Keyed,
            };
        }
        if command.op == WriteOp::AdjustQuantity
            && let Some(q) = desired.get("quantity").and_then(Value::as_i64)
        {
            command.op = WriteOp::SetQuantity;
            if let Some(o) = command.body.as_object_mut() {
                o.remove("delta");
                o.insert("available".into(), json!(q));
            } else {
                command.body = json!({ "available": q });
            }
        }
        Prepared {
            command,
            idempotency: Idempotency::SentMayHaveApplied,
        }
    }
}

/// How a listed record becomes a document.
type Normalize = fn(&Value) -> Option<normalize::BcDoc>;

/// One store's connection to one BigCommerce store.
pub struct BigCommerceConnection {
    client: Arc<BcClient>,
    bus: Arc<HintBus>,
    webhook_secret: Option<String>,
    /// How long hints gather before they are fetched.
    pub hint_gather: Duration,
}

impl BigCommerceConnection {
    /// A connection through `client`, fetching the hints of `bus`; `webhook_secret` is the
    /// header value its hooks are registered with.
    pub fn new(client: Arc<BcClient>, bus: Arc<HintBus>, webhook_secret: Option<String>) -> Self {
        BigCommerceConnection {
            client,
            bus,
            webhook_secret,
            hint_gather: Duration::from_millis(250),
        }
    }

    /// The client.
    pub fn client(&self) -> &Arc<BcClient> {
        &self.client
    }
}

impl Connection for BigCommerceConnection {
    fn platform(&self) -> Arc<dyn Platform> {
        Arc::new(BigCommerce::with_bus(self.bus.clone()))
    }

    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        Box::pin(write::execute(&self.client, command))
    }

    fn batch_size(&self, command: &WriteCommand) -> Option<usize> {
        write::is_batchable(command).then_some(write::MAX_LEVELS)
    }

    fn plan_batches<'a>(&'a self, commands: &'a [WriteCommand]) -> BoxFuture<'a, Planned> {
        Box::pin(async move { write::plan_stock_calls(commands) })
    }

    fn send_batch<'a>(
        &'a self,
        input: &'a Value,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<BatchResult>, ConnectorError>> {
        Box::pin(write::send_stock_call(&self.client, input))
    }

    fn batch_subset(&self, input: &Value, positions: &[usize]) -> Value {
        write::stock_call_subset(input, positions)
    }

    fn missing_webhooks<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async move {
            let Some(secret) = &self.webhook_secret else {
                return Ok(webhook::SCOPES.iter().map(|s| (*s).to_owned()).collect());
            };
            let missing = webhook::missing_hooks(&self.client, url, secret).await?;
            Ok(missing.into_iter().map(str::to_owned).collect())
        })
    }

    fn breaker(&self) -> Option<&weft_platform::gate::CircuitBreaker> {
        self.client.breaker()
    }

    /// Products (with their variants) and customers, through the listings change capture
    /// reads (`id:in=`), so the document has the shape it journals. Stock levels (versioned by
    /// their product) and orders (lines read separately) are not read alone.
    fn reread<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        _delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<weft_platform::EntityRead>, ConnectorError>>> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (path, query, norm): (&str, String, Normalize) = match kind {
            "product" => (
                "/v3/catalog/products",
                format!("include=variants&id:in={id}"),
                normalize::product,
            ),
            "customer" => ("/v3/customers", format!("id:in={id}"), normalize::customer),
            _ => return None,
        };
        Some(Box::pin(async move {
            let raw = self.client.list_v3(path, &query).await?;
            Ok(raw.iter().filter_map(norm).find(|d| d.id == id).map(|d| {
                weft_platform::EntityRead {
                    version: d.version,
                    body: d.body,
                }
            }))
        }))
    }

    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        let journal = poll::Journal::new(ctx.store_id.clone(), ctx.system.clone(), ctx.db.clone());
        let fetcher = hint_fetcher(
            journal.clone(),
            self.client.clone(),
            self.bus.clone(),
            self.hint_gather,
        );
        fetcher.start();
        let mut sources: Vec<Arc<dyn Poller>> = vec![
            Arc::new(poll::BcChangeCapture::new(
                journal,
                self.client.clone(),
                ctx.overlap,
            )),
            fetcher,
        ];
        if let (Some(url), Some(secret)) = (&ctx.webhook_url, &self.webhook_secret) {
            sources.push(Arc::new(HookKeeper::new(
                &ctx.system,
                self.client.clone(),
                url.clone(),
                secret.clone(),
            )));
        }
        sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(op: WriteOp, body: Value) -> WriteCommand {
        WriteCommand {
            system: "bc".into(),
            kind: EntityKind::InventoryLevel,
            op,
            target_id: Some("70@1".into()),
            external_id: None,
            body,
            idempotency_key: "k".into(),
            expected_quantity: Some(4),
        }
    }

    #[test]
    fn stock_writes_are_sets_that_a_resend_finds() {
        let desired = json!({"quantity": 9}).as_object().cloned().unwrap();
        let p = BigCommerce::default()
            .prepare_write(cmd(WriteOp::AdjustQuantity, json!({"delta": 5})), &desired);
        assert_eq!(p.idempotency, Idempotency::SentMayHaveApplied);
        assert_eq!(p.command.op, WriteOp::SetQuantity);
        assert_eq!(p.command.body, json!({"available": 9}));
        assert_eq!(p.command.expected_quantity, Some(4));
        let p = BigCommerce::default()
            .prepare_write(cmd(WriteOp::SetQuantity, json!({"available": 9})), &desired);
        assert_eq!(p.idempotency, Idempotency::SentMayHaveApplied);
        let mut price = cmd(WriteOp::Upsert, json!({"price": 1.0}));
        price.kind = EntityKind::Price;
        let p = BigCommerce::default().prepare_write(price.clone(), &desired);
        assert_eq!((p.idempotency, p.command), (Idempotency::Keyed, price));
    }

    #[test]
    fn deletes_go_one_by_one_as_sent() {
        let desired = Map::new();
        for kind in [
            EntityKind::Product,
            EntityKind::Variant,
            EntityKind::Customer,
        ] {
            let mut del = cmd(WriteOp::Delete, json!({"sku": "A"}));
            del.kind = kind;
            del.target_id = Some("111".into());
            assert!(!write::is_batchable(&del), "{kind:?}");
            let (calls, refused) = write::plan_stock_calls(std::slice::from_ref(&del));
            assert!(calls.is_empty() && refused.len() == 1, "{kind:?}");
            let p = BigCommerce::default().prepare_write(del.clone(), &desired);
            assert_eq!((p.idempotency, p.command), (Idempotency::Keyed, del));
        }
    }
}
