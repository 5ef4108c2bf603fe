//! The platform interface: what the generic host (engine, store, server, runner) knows of a
//! commerce platform or ERP, and the only way it speaks to one.
//!
//! A platform is a folder under `platforms/<name>/` that implements these traits once:
//!
//! - [`Platform`]: what the platform is (its name and [`Role`]) and what the generic engine
//!   must know of its documents (which document carries a canonical kind, the field names of
//!   its stock levels, inventory items that arrive without a SKU) and of its writes
//!   ([`Platform::prepare_write`]: how a mapper's command becomes the one the outbox keeps, and
//!   the idempotency it offers), and its webhook intake, if it has webhooks
//!   ([`Platform::webhooks`], a [`WebhookIntake`]).
//! - [`Connection`]: one store's authenticated connection to one system of that platform:
//!   write execution, one at a time and batched ([`Connection::execute`],
//!   [`Connection::plan_batches`], [`Connection::send_batch`]), and its change sources
//!   ([`Poller`]s: list-then-fetch reconciliation, watermark change capture).
//!
//! A store syncs two or more *systems*; a system is a named connection to a platform (two
//! Shopify shops are two systems of one platform). Journal entries, projections, outbox rows and
//! policies name systems, never platforms.
//!
//! The types every platform shares live here too: [`EntityKind`], [`WriteCommand`],
//! [`WriteOutcome`], [`ConnectorError`] with its retry classification, the rate-limit gates
//! ([`gate`]), source versions ([`version`]) and the common HMAC webhook signature
//! ([`signature`]).

pub mod error;
pub mod gate;
pub mod hints;
pub mod http;
pub mod poll;
pub mod signature;
pub mod version;
pub mod webhook;
pub mod write;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use error::{ConnectorError, InvalidRequest};
pub use poll::{PollReport, Poller, SourceError};
pub use webhook::{PrivacyDelivery, WebhookDelivery, WebhookIntake, WebhookSecret};
pub use write::{
    BatchCall, BatchResult, ChildId, PlannedWrite, WriteCommand, WriteOp, WriteOutcome,
};

/// The entity kinds weft syncs, with the names the WIT contract (`entity-kind`) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    /// A product.
    Product,
    /// A variant (a sellable item with a SKU).
    Variant,
    /// Stock of one item at one location.
    InventoryLevel,
    /// A price of one item.
    Price,
    /// A customer.
    Customer,
    /// An order (a storefront order; an ERP sales order).
    Order,
    /// A shipment of some of an order's lines, with tracking (an ERP item fulfilment; a
    /// storefront fulfilment).
    Fulfillment,
    /// Money given back on some of an order's lines, each returned to stock or not (a
    /// storefront refund; an ERP credit memo).
    Refund,
}

impl EntityKind {
    /// Every kind, in WIT order.
    pub const ALL: [EntityKind; 8] = [
        EntityKind::Product,
        EntityKind::Variant,
        EntityKind::InventoryLevel,
        EntityKind::Price,
        EntityKind::Customer,
        EntityKind::Order,
        EntityKind::Fulfillment,
        EntityKind::Refund,
    ];

    /// The WIT name: "product", "variant", "inventory-level", "price", "customer", "order".
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Product => "product",
            EntityKind::Variant => "variant",
            EntityKind::InventoryLevel => "inventory-level",
            EntityKind::Price => "price",
            EntityKind::Customer => "customer",
            EntityKind::Order => "order",
            EntityKind::Fulfillment => "fulfillment",
            EntityKind::Refund => "refund",
        }
    }

    /// Parses a WIT name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a platform is to a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A storefront: sells, takes orders (Shopify, WooCommerce, BigCommerce, Magento).
    Storefront,
    /// An ERP: owns items, stock and sales orders (NetSuite).
    Erp,
    /// A sheet: a catalog, price and stock source edited by people (Google Sheets).
    SheetSource,
}

impl Role {
    /// The name used in config and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Storefront => "storefront",
            Role::Erp => "erp",
            Role::SheetSource => "sheet-source",
        }
    }
}

/// The field names of a platform's stock level documents, as its connector normalizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockFields {
    /// The quantity the level holds.
    pub quantity: &'static str,
    /// The level's version (its modification time).
    pub version: &'static str,
}

/// How a resend of a write the platform may already have applied is made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// The platform dedupes by the write's key or external id (an upsert by external id,
    /// an `@idempotent` key) or guards it with compare-and-set: a resend applies nothing twice,
    /// and a queued write may be replaced by a newer one for the same record.
    Keyed,
    /// The write is found again by its key when it is resent, but it may have applied already
    /// (a stock set executed as read, compare, adjust): once sent, it is never replaced or
    /// coalesced away; it is sent again and finds what it did.
    SentMayHaveApplied,
}

/// A mapper's write command as the outbox keeps it ([`Platform::prepare_write`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The command to execute.
    pub command: WriteCommand,
    /// How a resend is made safe.
    pub idempotency: Idempotency,
}

/// What weft knows of one platform, independent of any store (one value per platform, in the
/// host's registry).
pub trait Platform: Send + Sync + 'static {
    /// The platform's name (`shopify`, `netsuite`): the `platform` of a system in config, and
    /// the default system name.
    fn name(&self) -> &'static str;

    /// What the platform is to a store.
    fn role(&self) -> Role;

    /// The journal kind of this platform's document that carries records of `canonical` kind
    /// (a platform whose variants travel inside their product answers `product` for
    /// `variant`). Write results are journaled under it.
    fn document_kind(&self, canonical: EntityKind) -> EntityKind {
        canonical
    }

    /// The field names of this platform's stock level documents.
    fn stock_fields(&self) -> StockFields;

    /// The inventory item an inventory-level document names when the document lacks its SKU
    /// (`None`: it has one, or the platform always sends it). The engine fills the SKU in
    /// from what [`Platform::item_skus`] taught it, or waits for reconciliation.
    fn item_without_sku(&self, _level: &Value) -> Option<String> {
        None
    }

    /// The inventory items and their SKUs that a document of `kind` shows (learned so that
    /// levels arriving without a SKU can be placed).
    fn item_skus(&self, _kind: &str, _doc: &Value) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Turns a mapper's command into the command the outbox keeps. `desired` is the golden
    /// record the write brings the target to. The default keeps the command and makes it
    /// [`Idempotency::Keyed`].
    fn prepare_write(&self, command: WriteCommand, _desired: &Map<String, Value>) -> Prepared {
        Prepared {
            command,
            idempotency: Idempotency::Keyed,
        }
    }

    /// The platform's webhook intake, when it has webhooks.
    fn webhooks(&self) -> Option<Arc<dyn WebhookIntake>> {
        None
    }

    /// The bus that wakes this system's hint fetcher, when its webhooks are hints
    /// ([`hints`]). Its own intake pushes on it; the host pushes on it too when another host's
    /// intake journaled a hint for this system (a cluster's journal notice names it), so the
    /// store's lease holder fetches the entity at once, not at its next poll round.
    fn hint_bus(&self) -> Option<Arc<hints::HintBus>> {
        None
    }

    /// The keys of this platform's documents of journal kind `kind` (and of its write bodies
    /// for records of that kind) that hold a person's data: a privacy redaction replaces every
    /// string under them, at any depth ([`weft_store::RedactionPlan`]). The default: none.
    fn personal_fields(&self, _kind: &str) -> &'static [&'static str] {
        &[]
    }

    /// Whether a journaled document of `kind` says its entity was deleted on this platform (a
    /// delete webhook, a record gone from a full read): the engine then applies the store's
    /// delete policy to the records weft last read from that entity. The default recognises
    /// [`webhook::tombstone`] documents, which is how a platform should journal a deletion.
    fn is_deletion(&self, _kind: &str, doc: &Value) -> bool {
        webhook::is_tombstone(doc)
    }

    /// Top-level fields of a document of `kind` that some of this platform's deliveries leave
    /// out (not carried, which is not "none": Shopify's product webhooks carry no SEO,
    /// metafields or category). A document lacking only these, and equal in every field it
    /// carries to the one weft holds at the same version, is that document again: no tie to
    /// settle by reading the entity again. The default: none.
    fn delivered_without(&self, _kind: &str) -> &'static [&'static str] {
        &[]
    }

    /// Whether `doc`, a document of `kind`, lists its children whole (a Shopify or BigCommerce
    /// product its variants; not a payload cut short): when both it and the entity's previous
    /// document do, a record the previous one carried and it does not was removed on this
    /// platform (a variant deleted, a size retired), and the engine applies the store's delete
    /// policy to it as to a deleted entity's records. The default: no (each record is an
    /// entity of its own, deleted by a tombstone).
    fn lists_children(&self, _kind: &str, _doc: &Value) -> bool {
        false
    }
}

/// Whether `doc` is `held` again: equal, or lacking only fields `omitted` says a delivery may
/// leave out and equal in every field it carries ([`Platform::delivered_without`]).
pub fn same_document(doc: &Value, held: &Value, omitted: &[&str]) -> bool {
    if doc == held {
        return true;
    }
    if omitted.is_empty() {
        return false;
    }
    match (doc.as_object(), held.as_object()) {
        (Some(d), Some(h)) => {
            d.keys().all(|k| h.contains_key(k))
                && h.iter().all(|(k, v)| match d.get(k) {
                    Some(dv) => dv == v,
                    None => omitted.contains(&k.as_str()),
                })
        }
        _ => false,
    }
}

/// The keys of canonical records of `kind` that hold a person's data (the contract's
/// `customer` and `order`, docs/document-shapes.md §2): what a privacy redaction replaces in
/// golden records and in what each system last held.
pub fn canonical_personal_fields(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Customer => &["email", "first_name", "last_name", "phone", "addresses"],
        EntityKind::Order => &["email", "billing_address", "shipping_address", "note"],
        _ => &[],
    }
}

/// The batches a connection can plan: calls built but not sent, and the commands that could
/// not be planned with their errors (by position in the planned slice).
pub type Planned = (Vec<BatchCall>, Vec<(usize, ConnectorError)>);

/// One store's connection to one system: the only code that sends requests to it. A
/// connection never retries: the dispatcher decides from the [`ConnectorError`].
pub trait Connection: Send + Sync {
    /// The platform this connection speaks to.
    fn platform(&self) -> Arc<dyn Platform>;

    /// Performs one write.
    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>>;

    /// How many commands like `command` one batched call carries; `None` when it is sent on
    /// its own with [`Connection::execute`].
    fn batch_size(&self, _command: &WriteCommand) -> Option<usize> {
        None
    }

    /// Plans batchable commands into calls ([`BatchCall`]), nothing sent. A durable caller
    /// saves each call's input before sending it, and re-sends exactly it under the same key
    /// until it is answered.
    fn plan_batches<'a>(&'a self, commands: &'a [WriteCommand]) -> BoxFuture<'a, Planned> {
        Box::pin(async move {
            let e = ConnectorError::Invalid {
                system: self.platform().name(),
                reason: InvalidRequest::Unsupported {
                    system: self.platform().name().to_owned(),
                    kind: "batch".into(),
                    op: "plan".into(),
                },
            };
            (
                Vec::new(),
                (0..commands.len()).map(|i| (i, e.clone())).collect(),
            )
        })
    }

    /// Sends one planned call under `key`. `Ok`: one result per command of the call, in
    /// order. `Err`: not answered; whether it applied is unknown, so the only safe next step is
    /// the same input under the same key. `Err(ConnectorError::Accepted { input, .. })`: the
    /// platform took the call and settles it later (an asynchronous bulk): the caller keeps
    /// `input` as the call's input and sends it again later under the same key, which asks for
    /// the results instead of submitting the call again.
    fn send_batch<'a>(
        &'a self,
        _input: &'a Value,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<BatchResult>, ConnectorError>> {
        Box::pin(async move {
            Err(ConnectorError::Invalid {
                system: self.platform().name(),
                reason: InvalidRequest::Unsupported {
                    system: self.platform().name().to_owned(),
                    kind: "batch".into(),
                    op: "send".into(),
                },
            })
        })
    }

    /// The input of a call like `input` carrying only the commands at `positions`, each
    /// exactly as `input` had it (the follow-up of a call refused because of others).
    fn batch_subset(&self, input: &Value, _positions: &[usize]) -> Value {
        input.clone()
    }

    /// The webhook topics this system is not subscribed to at `url` (empty for a platform
    /// without webhooks): what `weft check --webhooks` reports and the keeper repairs.
    fn missing_webhooks<'a>(
        &'a self,
        _url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The access weft needs that these credentials lack, each named with what it is for
    /// (empty when the platform cannot say, or nothing is missing): what `weft check --access`
    /// reports and the host warns of at start, before a write is refused for it.
    fn missing_access(&self) -> BoxFuture<'_, Result<Vec<String>, ConnectorError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The connection's circuit breaker (open while the system is down), when it has one.
    fn breaker(&self) -> Option<&gate::CircuitBreaker> {
        None
    }

    /// Reads one entity again, now. Versions are to the second and deliveries arrive in any
    /// order, so a delivered document of the second weft holds, with another body, may be
    /// older or newer than it: only the platform's state now can tell (the engine journals
    /// what this returns in its place). `kind` and `id` are the journal's; `delivered` is the
    /// delivered body (where the entity's parent is needed to read it). `Ok(None)`: the
    /// entity is gone. `None`: this connection cannot read single entities of `kind`, and
    /// the engine applies such a document in journal order.
    fn reread<'a>(
        &'a self,
        _kind: &'a str,
        _id: &'a str,
        _delivered: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Option<EntityRead>, ConnectorError>>> {
        None
    }

    /// The change sources of this system for one store (reconciliation, change capture),
    /// journaling under system name `ctx.system`.
    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>>;
}

/// One entity as a platform shows it now ([`Connection::reread`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRead {
    /// Its version, as the platform stamps it (the same form its webhooks and polls carry).
    pub version: String,
    /// Its document, in the shape the system's webhooks and polls journal.
    pub body: Value,
}

/// What a change source needs of its store.
#[derive(Clone)]
pub struct SourceCtx {
    /// The store.
    pub store_id: String,
    /// The system name its entries are journaled under.
    pub system: String,
    /// The database (journal and watermarks).
    pub db: weft_store::Store,
    /// How far before its watermark a source reads again (clock skew, same-second ties).
    pub overlap: std::time::Duration,
    /// Where the platform delivers this system's webhooks (`<public url>/webhooks/<system>/<store>`),
    /// when the host has a public URL: a platform with webhooks keeps its subscriptions there.
    pub webhook_url: Option<String>,
}

/// One system of a store: its name, its platform and the store's connection to it.
#[derive(Clone)]
pub struct System {
    /// The system's name in the store (journal, policy, outbox).
    pub name: String,
    /// Its platform.
    pub platform: Arc<dyn Platform>,
    /// The store's connection to it (`None` offline, e.g. `weft replay`, which only plans).
    pub connection: Option<Arc<dyn Connection>>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("name", &self.name)
            .field("platform", &self.platform.name())
            .field("connected", &self.connection.is_some())
            .finish()
    }
}

/// The systems a store syncs, in the order its config lists them.
#[derive(Clone, Debug, Default)]
pub struct Systems(Arc<Vec<System>>);

impl Systems {
    /// A store's systems.
    pub fn new(systems: Vec<System>) -> Self {
        Systems(Arc::new(systems))
    }

    /// Every system, in order.
    pub fn iter(&self) -> impl Iterator<Item = &System> {
        self.0.iter()
    }

    /// Their names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| s.name.as_str())
    }

    /// The system named `name`.
    pub fn get(&self, name: &str) -> Option<&System> {
        self.0.iter().find(|s| s.name == name)
    }

    /// The platform of system `name`.
    pub fn platform(&self, name: &str) -> Option<&Arc<dyn Platform>> {
        self.get(name).map(|s| &s.platform)
    }

    /// How many systems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_kind_round_trips() {
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, Value::String(k.as_str().into()));
        }
        assert_eq!(EntityKind::parse("widget"), None);
    }
}

#[cfg(test)]
mod same_document_tests {
    use super::same_document;
    use serde_json::json;

    #[test]
    fn only_the_fields_a_delivery_may_leave_out_may_be_missing() {
        let held = json!({"id": 1, "title": "Tee", "seo": {"title": "Tee | Acme"}});
        let delivered = json!({"id": 1, "title": "Tee"});
        assert!(same_document(&delivered, &held, &["seo"]));
        assert!(!same_document(&delivered, &held, &[]));
        assert!(!same_document(&delivered, &held, &["metafields"]));
        // A carried field that differs, or one the held document lacks, is news.
        assert!(!same_document(
            &json!({"id": 1, "title": "Top"}),
            &held,
            &["seo"]
        ));
        assert!(!same_document(
            &json!({"id": 1, "title": "Tee", "tags": []}),
            &held,
            &["seo"]
        ));
        assert!(same_document(&held, &held, &[]));
    }
}
