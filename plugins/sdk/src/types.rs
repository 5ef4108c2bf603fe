//! Native Rust mirrors of the records in `wit/plugin.wit`.
//!
//! Plugin logic is written against these types so it compiles and runs on any target; on
//! `wasm32` the export glue converts them to and from the wit-bindgen types at the boundary.
//! Field names and meanings are exactly the WIT ones (kebab-case turned into snake_case).
//!
//! The serde shape is the host's (`weft-runtime` types): structs by Rust field name, enums by
//! Rust variant name (`"InventoryLevel"`, `{"Mapped": [...]}`, `{"InvalidInput": "..."}`), so
//! fixture files read and written here match what `weft plugin test` compares.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The kind of entity a document or record describes (WIT `entity-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    /// A sellable product (Shopify product; NetSuite inventory item family).
    Product,
    /// One variant of a product (Shopify variant; NetSuite inventory item).
    Variant,
    /// Stock quantity of one item at one location.
    InventoryLevel,
    /// A price of one item (list price, compare-at price).
    Price,
    /// A customer.
    Customer,
    /// A storefront order (Shopify order; NetSuite sales order).
    Order,
    /// A shipment of some of an order's lines, with tracking (NetSuite item fulfilment;
    /// Shopify fulfillment).
    Fulfillment,
    /// Money given back on some of an order's lines, each returned to stock or not (Shopify
    /// refund; NetSuite credit memo).
    Refund,
}

impl EntityKind {
    /// Every kind, in WIT declaration order.
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

    /// The WIT spelling (`product`, `variant`, `inventory-level`, `price`, `customer`, `order`).
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

    /// Parses the WIT spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document as one external system holds it (WIT `platform-doc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformDoc {
    /// The system that holds it: "shopify", "netsuite", ...
    pub system: String,
    /// What the document describes.
    pub kind: EntityKind,
    /// The system's own id, as text.
    pub id: String,
    /// The source version (RFC 3339 modification time).
    pub version: String,
    /// The document as JSON text, in the shape of `docs/document-shapes.md`.
    pub body: String,
}

impl PlatformDoc {
    /// Builds a document from a JSON value (serialised compactly into `body`).
    pub fn from_json(
        system: &str,
        kind: EntityKind,
        id: &str,
        version: &str,
        body: &Value,
    ) -> PlatformDoc {
        PlatformDoc {
            system: system.to_owned(),
            kind,
            id: id.to_owned(),
            version: version.to_owned(),
            body: body.to_string(),
        }
    }
}

/// A record in weft's canonical model (WIT `canonical-record`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalRecord {
    /// What the record describes.
    pub kind: EntityKind,
    /// The canonical key that identifies the entity in every system.
    pub key: String,
    /// A JSON object mapping field name to JSON value, as text.
    pub fields: String,
}

impl CanonicalRecord {
    /// Builds a record from a JSON object of fields.
    pub fn new(kind: EntityKind, key: impl Into<String>, fields: &Value) -> CanonicalRecord {
        CanonicalRecord {
            kind,
            key: key.into(),
            fields: fields.to_string(),
        }
    }

    /// Parses `fields` as a JSON object, naming the record in the error.
    pub fn fields_json(&self) -> Result<serde_json::Map<String, Value>, ItemError> {
        match serde_json::from_str::<Value>(&self.fields) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(ItemError::InvalidInput(format!(
                "{} {}: fields must be a JSON object, found {}",
                self.kind,
                self.key,
                crate::json::type_name(&other)
            ))),
            Err(e) => Err(ItemError::InvalidInput(format!(
                "{} {}: fields are not valid JSON: {e}",
                self.kind, self.key
            ))),
        }
    }
}

/// How a write command changes the target system (WIT `write-op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WriteOp {
    /// Create or update the record, keyed by external id or target id.
    Upsert,
    /// Set an absolute quantity with compare-and-set against the last known quantity.
    SetQuantity,
    /// Add a signed delta to a quantity (the host adds the idempotency key).
    AdjustQuantity,
    /// Remove the record from the target, by target id: only the answer to a request whose
    /// [`WriteRequest::deleted`] is true (contract 0.5.0).
    Delete,
}

impl WriteOp {
    /// The WIT spelling (`upsert`, `set-quantity`, `adjust-quantity`, `delete`).
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Upsert => "upsert",
            WriteOp::SetQuantity => "set-quantity",
            WriteOp::AdjustQuantity => "adjust-quantity",
            WriteOp::Delete => "delete",
        }
    }

    /// Parses the WIT spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<WriteOp> {
        [
            WriteOp::Upsert,
            WriteOp::SetQuantity,
            WriteOp::AdjustQuantity,
            WriteOp::Delete,
        ]
        .into_iter()
        .find(|op| op.as_str() == text)
    }
}

/// One write the host should perform on a target system (WIT `write-command`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteCommand {
    /// Target system ("shopify", "netsuite", ...).
    pub system: String,
    /// What is written.
    pub kind: EntityKind,
    /// How it is written.
    pub op: WriteOp,
    /// The target's id of the record, when known.
    pub target_id: Option<String>,
    /// The external id under which the record is upserted, when the target supports one.
    pub external_id: Option<String>,
    /// The request payload as JSON text, in the target's document shape.
    pub body: String,
}

/// Why one document or record could not be handled (WIT `item-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ItemError {
    /// The input is not what the plugin expects (a missing or ill-typed field).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The plugin does not handle this kind of entity or this system.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The store's plugin config is missing something or is wrong.
    #[error("config: {0}")]
    Config(String),
}

/// Why a whole batch failed (WIT `plugin-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PluginError {
    /// The store's plugin config is missing something or is wrong.
    #[error("config: {0}")]
    Config(String),
    /// Anything else; the text is shown to operators.
    #[error("{0}")]
    Other(String),
}

/// Static facts a plugin states about itself (WIT `plugin-info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Short name, e.g. "shopify-netsuite".
    pub name: String,
    /// The plugin's own version, e.g. "1.2.0".
    pub version: String,
    /// One sentence on what it does.
    pub description: String,
}

impl PluginInfo {
    /// Builds the info record.
    pub fn new(name: &str, version: &str, description: &str) -> PluginInfo {
        PluginInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
        }
    }
}

/// What became of one input document (WIT `to-canonical-outcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToCanonicalOutcome {
    /// The document maps to these records.
    Mapped(Vec<CanonicalRecord>),
    /// The document is deliberately not synced; the text says why.
    Skipped(String),
    /// The document could not be mapped.
    Failed(ItemError),
}

/// One canonical record to write to a target system (WIT `write-request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRequest {
    /// The target system.
    pub target: String,
    /// The merged canonical record the target should end up holding.
    pub record: CanonicalRecord,
    /// The target's current document for this entity as JSON text, when weft has seen it.
    pub current: Option<String>,
    /// The target's id for this entity, when weft's cross-reference table has one.
    pub target_id: Option<String>,
    /// Another system deleted the record and the store's `[deletes]` policy removes it here:
    /// answer one [`WriteOp::Delete`] command for `target_id` (always set then), or skip it.
    #[serde(default)]
    pub deleted: bool,
}

impl WriteRequest {
    /// The one command that removes this request's record from its target (for a request
    /// whose [`WriteRequest::deleted`] is true), with `body` (what else the target needs to
    /// find it; `{}` when nothing). `None` when weft knows no id for it there.
    pub fn delete_command(&self, body: &serde_json::Value) -> Option<WriteCommand> {
        Some(WriteCommand {
            system: self.target.clone(),
            kind: self.record.kind,
            op: WriteOp::Delete,
            target_id: Some(self.target_id.clone()?),
            external_id: None,
            body: body.to_string(),
        })
    }
}

/// What to write for one write request (WIT `from-canonical-outcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromCanonicalOutcome {
    /// These writes make the target hold the record (empty when it already does).
    Commands(Vec<WriteCommand>),
    /// The record is deliberately not written to this target; the text says why.
    Skipped(String),
    /// The record could not be mapped.
    Failed(ItemError),
}

/// One system's value of a field (WIT `side`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// The system's name in the store.
    pub system: String,
    /// The value as JSON text; `None` when the field was removed there or never known.
    pub value: Option<String>,
    /// That value's source version (RFC 3339 modification time); empty when unknown.
    pub version: String,
    /// Whether this system changed the field since the agreed value.
    pub changed: bool,
}

/// Why a field is put to the resolver (WIT `occasion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Occasion {
    /// Several systems changed the field since the agreed value.
    Conflict,
    /// One system changed a field the resolver guards; taking it needs the resolver's consent.
    Change,
}

/// A field to decide (WIT `field-change`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Why it is put to the resolver.
    pub occasion: Occasion,
    /// The entity kind.
    pub kind: EntityKind,
    /// The canonical key of the entity.
    pub key: String,
    /// The field name.
    pub field: String,
    /// The agreed value the incoming system changed from, as JSON text; `None` if the field is
    /// new to it.
    pub base: Option<String>,
    /// The agreed value now, as JSON text; `None` if nothing was agreed yet.
    pub agreed: Option<String>,
    /// The system whose change is being merged now.
    pub incoming: String,
    /// Every system of the store, in the store's order.
    pub sides: Vec<Side>,
}

impl FieldChange {
    /// The side of system `system`.
    pub fn side(&self, system: &str) -> Option<&Side> {
        self.sides.iter().find(|s| s.system == system)
    }

    /// The incoming system's side.
    pub fn incoming_side(&self) -> Option<&Side> {
        self.side(&self.incoming)
    }

    /// The sides that changed the field since the agreed value.
    pub fn changed(&self) -> impl Iterator<Item = &Side> {
        self.sides.iter().filter(|s| s.changed)
    }
}

/// How one field is decided (WIT `decision`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Keep this system's value.
    Take(String),
    /// Use this value (JSON text), for example a merged counter or a clamped price.
    Value(String),
    /// Refuse the incoming change and keep the agreed value (written back to the system that
    /// changed it); the text says why.
    Refuse(String),
}

/// Severity of a log line (WIT `host.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// Something failed.
    Error,
}
