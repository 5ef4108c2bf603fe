//! Magento 2 / Adobe Commerce: everything weft knows about Magento's REST API, behind the
//! platform interface ([`weft_platform`]).
//!
//! - [`client::MgClient`]: integration-token Bearer requests to `{base}/rest/{store_code}/…`
//!   through the connection's breaker; Magento's error shape (`{"message": "…%1…",
//!   "parameters"}`) becomes [`weft_platform::ConnectorError`]s; lists paged by
//!   `searchCriteria` until `total_count` (a page past the last repeats the last page).
//! - [`normalize`]: the one document shape per kind (ids as strings, RFC 3339 versions).
//! - [`poll`]: change capture by polling only (Magento Open Source has no webhooks):
//!   `updated_at` watermarks with overlap for products, customers and orders; every source
//!   item each round, journaled when it changed.
//! - [`write`]: catalog and stock writes through the asynchronous bulk API, each operation's
//!   final status settled back into the outbox ([`weft_platform::ConnectorError::Accepted`]
//!   keeps the bulk's id with the call, so a call is posted once and then only asked about).
//! - [`config`]: the `[systems.<name>]` section.
//! - [`customer`]: saves of existing customers (`PUT /V1/customers/{id}`, synchronous).
//! - [`delete`]: removal of a product (`DELETE /V1/products/{sku}`, found by its id first) or
//!   a customer (`DELETE /V1/customers/{id}`), synchronous and one by one; the answer is the
//!   record's tombstone, as the change capture journals it.
//! - Not written: orders (they flow from the storefront to the ERP); customers are not created.
//! - The simulator is the `weft-sim-magento` crate in `sim/` beside this one.

pub mod client;
pub mod config;
pub mod customer;
pub mod delete;
pub mod normalize;
pub mod poll;
pub mod write;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use weft_platform::{
    BatchResult, Connection, ConnectorError, EntityKind, Idempotency, Planned, Platform, Poller,
    Prepared, Role, SourceCtx, StockFields, WriteCommand, WriteOp, WriteOutcome,
};

pub use client::{MgClient, MgConfig};
pub use poll::LevelClock;
pub use write::BulkSettings;

/// The platform's name.
pub const PLATFORM: &str = "magento";

/// The Magento platform.
#[derive(Debug, Clone, Copy, Default)]
pub struct Magento;

impl Platform for Magento {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn role(&self) -> Role {
        Role::Storefront
    }

    /// A person's data in Magento customers and orders (REST representation).
    fn personal_fields(&self, kind: &str) -> &'static [&'static str] {
        match kind {
            "customer" => &[
                "email",
                "firstname",
                "middlename",
                "lastname",
                "prefix",
                "suffix",
                "dob",
                "taxvat",
                "telephone",
                "addresses",
            ],
            "order" => &[
                "customer_email",
                "customer_firstname",
                "customer_middlename",
                "customer_lastname",
                "customer_dob",
                "customer_taxvat",
                "customer_note",
                "remote_ip",
                "billing_address",
                "address",
            ],
            _ => &[],
        }
    }

    /// A simple product is the sellable item: variants and prices travel in it.
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

    /// Stock writes are absolute source item saves, read and compared before they are posted;
    /// once posted they are only asked about, so a sent stock write is never replaced or
    /// coalesced away. A delta a mapper asks for becomes the set of the quantity the golden
    /// record brings the level to.
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

/// One store's connection to one Magento store view.
pub struct MagentoConnection {
    client: Arc<MgClient>,
    levels: Arc<LevelClock>,
    /// How bulks are waited for.
    pub bulk: BulkSettings,
}

impl MagentoConnection {
    /// A connection through `client`.
    pub fn new(client: Arc<MgClient>, bulk: BulkSettings) -> Self {
        MagentoConnection {
            client,
            levels: Arc::default(),
            bulk,
        }
    }

    /// The client.
    pub fn client(&self) -> &Arc<MgClient> {
        &self.client
    }
}

impl Connection for MagentoConnection {
    fn platform(&self) -> Arc<dyn Platform> {
        Arc::new(Magento)
    }

    /// Customer saves and deletes (products and customers, one by one); catalog and stock
    /// writes go through bulks ([`Connection::send_batch`]); nothing else is written to
    /// Magento.
    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        Box::pin(async move {
            if customer::is_customer_save(command) {
                return customer::save(&self.client, command).await;
            }
            if delete::is_delete(command) {
                return delete::delete(&self.client, &self.levels, command).await;
            }
            Err(weft_platform::write::unsupported(PLATFORM, command))
        })
    }

    fn batch_size(&self, command: &WriteCommand) -> Option<usize> {
        write::is_batchable(command).then_some(write::OPS_PER_BULK)
    }

    fn plan_batches<'a>(&'a self, commands: &'a [WriteCommand]) -> BoxFuture<'a, Planned> {
        Box::pin(async move { write::plan_calls(commands) })
    }

    fn send_batch<'a>(
        &'a self,
        input: &'a Value,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<BatchResult>, ConnectorError>> {
        Box::pin(write::send_call(
            &self.client,
            &self.levels,
            self.bulk,
            input,
        ))
    }

    fn batch_subset(&self, input: &Value, positions: &[usize]) -> Value {
        write::call_subset(input, positions)
    }

    fn breaker(&self) -> Option<&weft_platform::gate::CircuitBreaker> {
        self.client.breaker()
    }

    /// Products, customers and orders, through the listing change capture reads
    /// (`searchCriteria` on `entity_id`), so the document has the shape it journals. Stock
    /// levels are not read alone (source items carry no time stamp of their own).
    fn reread<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        _delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<weft_platform::EntityRead>, ConnectorError>>> {
        let (path, norm) = poll::stream_of(kind)?;
        Some(Box::pin(async move {
            let filters = client::filter(0, "entity_id", id, "eq");
            let raw = self
                .client
                .search(path, &filters, "entity_id", poll::record_identity)
                .await?;
            Ok(raw.iter().filter_map(norm).find(|d| d.id == id).map(|d| {
                weft_platform::EntityRead {
                    version: d.version,
                    body: d.body,
                }
            }))
        }))
    }

    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        let journal = poll::Journal {
            store_id: ctx.store_id.clone(),
            system: ctx.system.clone(),
            db: ctx.db.clone(),
        };
        vec![Arc::new(poll::MgChangeCapture::new(
            journal,
            self.client.clone(),
            self.levels.clone(),
            ctx.overlap,
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_writes_are_sets_that_are_never_replaced_once_sent() {
        let desired = json!({"quantity": 9}).as_object().cloned().unwrap();
        let cmd = WriteCommand {
            system: "magento".into(),
            kind: EntityKind::InventoryLevel,
            op: WriteOp::AdjustQuantity,
            target_id: Some("A@default".into()),
            external_id: None,
            body: json!({"delta": 5}),
            idempotency_key: "k".into(),
            expected_quantity: Some(4),
        };
        let p = Magento.prepare_write(cmd, &desired);
        assert_eq!(p.idempotency, Idempotency::SentMayHaveApplied);
        assert_eq!(
            (p.command.op, &p.command.body),
            (WriteOp::SetQuantity, &json!({"available": 9}))
        );
        assert_eq!(
            Magento.document_kind(EntityKind::Price),
            EntityKind::Product
        );
    }
}
