//! The one write representation, from the mapper's command to the connector.
//!
//! The engine turns each command a mapping plugin returns into a [`WriteCommand`] (the system's
//! [`crate::Platform::prepare_write`] may rewrite it), keeps it in the outbox as a
//! [`PlannedWrite`] (the command and the golden fields it brings the target to, serialized with
//! serde), and the dispatcher hands exactly that command to the system's
//! [`crate::Connection`]. Nothing on the way is hand-built JSON parsed back by field names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::EntityKind;
use crate::error::{ConnectorError, InvalidRequest};

/// How a write changes the target (the WIT `write-op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteOp {
    /// Create or update, keyed by external id or target id.
    Upsert,
    /// Set an absolute quantity with compare-and-set.
    SetQuantity,
    /// Add a signed delta, idempotent by key.
    AdjustQuantity,
    /// Remove the record, by `target_id` (the body carries what else the platform needs to
    /// find it, e.g. the product a variant belongs to). Succeeds when the record is gone,
    /// also when it was gone already. The outcome's `document` says what the target shows
    /// now, for the engine to journal as that system's observation: a [`crate::webhook::tombstone`]
    /// of the removed entity (versioned by when it was removed), or the new document of the
    /// parent a child was removed from. A platform that refuses to remove a record others
    /// depend on (an ERP item with transactions) may keep it inactive instead and answer with
    /// that document.
    Delete,
}

impl WriteOp {
    /// The WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Upsert => "upsert",
            WriteOp::SetQuantity => "set-quantity",
            WriteOp::AdjustQuantity => "adjust-quantity",
            WriteOp::Delete => "delete",
        }
    }

    /// Parses a WIT name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            WriteOp::Upsert,
            WriteOp::SetQuantity,
            WriteOp::AdjustQuantity,
            WriteOp::Delete,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One write to perform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteCommand {
    /// The target system's name in the store.
    pub system: String,
    /// What is written.
    pub kind: EntityKind,
    /// How it is written.
    pub op: WriteOp,
    /// The target's id, when known from the cross-reference table.
    #[serde(default)]
    pub target_id: Option<String>,
    /// The external id to upsert under (platforms that upsert by external id).
    #[serde(default)]
    pub external_id: Option<String>,
    /// The payload, in the platform's document shape.
    #[serde(default)]
    pub body: Value,
    /// The outbox row's idempotency key (stable across retries of this write). Kept in its
    /// own outbox column, not in the serialized command.
    #[serde(skip)]
    pub idempotency_key: String,
    /// For set-quantity: the quantity the target held when the write was computed (the
    /// compare-and-set guard). `None` sets without a guard.
    #[serde(default)]
    pub expected_quantity: Option<i64>,
}

/// A write as the outbox keeps it: the command and the canonical fields it brings the target
/// to (what the target holds once it is applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedWrite {
    /// The command.
    #[serde(flatten)]
    pub command: WriteCommand,
    /// The golden record's fields the write brings the target to.
    #[serde(default)]
    pub desired: Map<String, Value>,
}

impl PlannedWrite {
    /// Reads an outbox row's body back, with the row's idempotency key.
    pub fn from_row_body(body: &Value, idempotency_key: &str) -> Result<Self, String> {
        let mut w: PlannedWrite = serde_json::from_value(body.clone())
            .map_err(|e| format!("outbox row does not hold a write command: {e}"))?;
        w.command.idempotency_key = idempotency_key.to_owned();
        Ok(w)
    }
}

/// A cross-reference learned from a write (e.g. the ids a storefront gave new variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildId {
    /// The child's kind.
    pub kind: EntityKind,
    /// Its natural key (the SKU for variants).
    pub key: String,
    /// The target's id for it.
    pub id: String,
    /// The inventory item id of a variant, where the platform has one apart from the variant.
    pub inventory_item_id: Option<String>,
}

/// What a successful write left on the target.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    /// The target's id of the written record: the id its documents are journaled under (for
    /// an inventory level, the level's id `item@location`).
    pub target_id: String,
    /// The target's new version when the response tells it, so the engine can place its own
    /// write among the target's documents.
    pub version: Option<String>,
    /// The record as the target now holds it (in the platform's document shape), when
    /// returned.
    pub document: Option<Value>,
    /// Ids of children created or matched by the write.
    pub children: Vec<ChildId>,
    /// False when nothing needed writing (e.g. a stock set already satisfied).
    pub applied: bool,
    /// True when the write made the record in the target (nothing there held it before): what
    /// the answer's document shows beyond what the write sent (a price the create did not
    /// carry, say) is the platform's initial value, never a change made there. False when the
    /// record existed, or the connector cannot tell (a retried create that finds what its
    /// lost answer made).
    pub created: bool,
}

impl WriteOutcome {
    /// The outcome of a delete that removed entity `id` (or found it gone already): its
    /// [`crate::webhook::tombstone`] at `version` (see [`crate::version::deletion_version`]),
    /// which the engine journals as that system's deletion.
    pub fn removed(id: &str, version: String) -> Self {
        WriteOutcome {
            target_id: id.to_owned(),
            version: Some(version),
            document: Some(crate::webhook::tombstone(id)),
            children: Vec::new(),
            applied: true,
            created: false,
        }
    }
}

/// One batched call, built but not sent ([`crate::Connection::plan_batches`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCall {
    /// The planned commands it carries (positions in the slice that was planned), in the order
    /// of the call's input.
    pub members: Vec<usize>,
    /// The call's input, exactly as it is to be sent.
    pub input: Value,
}

/// What an answered batched call did to one of its commands.
#[derive(Debug, Clone)]
pub enum BatchResult {
    /// Applied: what [`crate::Connection::execute`] would have returned for it alone.
    Applied(WriteOutcome),
    /// Refused: its own error (a stale guard is [`ConnectorError::Stale`]).
    Failed(ConnectorError),
    /// Not applied because other commands of the call were refused (the call applies all or
    /// nothing): send it again in a new call without those.
    NotApplied,
}

/// The error for a command that lacks a field its kind and op need.
pub fn missing(system: &'static str, field: &'static str, cmd: &WriteCommand) -> ConnectorError {
    ConnectorError::invalid(
        system,
        InvalidRequest::Missing {
            field,
            kind: cmd.kind.to_string(),
            op: cmd.op.as_str().to_owned(),
        },
    )
}

/// The error for a kind and op the system does not write.
pub fn unsupported(system: &'static str, cmd: &WriteCommand) -> ConnectorError {
    ConnectorError::invalid(
        system,
        InvalidRequest::Unsupported {
            system: system.to_owned(),
            kind: cmd.kind.to_string(),
            op: cmd.op.as_str().to_owned(),
        },
    )
}

/// The error for a field whose value the connector cannot use.
pub fn bad_field(system: &'static str, field: &str, reason: &str) -> ConnectorError {
    ConnectorError::invalid(
        system,
        InvalidRequest::BadField {
            field: field.to_owned(),
            reason: reason.to_owned(),
        },
    )
}

/// A required integer field of the command's body (a number or a decimal string).
pub fn body_i64(
    system: &'static str,
    cmd: &WriteCommand,
    field: &'static str,
) -> Result<i64, ConnectorError> {
    match cmd.body.get(field) {
        None | Some(Value::Null) => Err(missing(system, field, cmd)),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad_field(system, field, "not an integer")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| bad_field(system, field, "not an integer")),
        Some(_) => Err(bad_field(system, field, "not an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_planned_write_round_trips_through_the_outbox_body() {
        let w = PlannedWrite {
            command: WriteCommand {
                system: "erp".into(),
                kind: EntityKind::InventoryLevel,
                op: WriteOp::SetQuantity,
                target_id: Some("7".into()),
                external_id: None,
                body: json!({"quantity_on_hand": 3}),
                idempotency_key: "k1".into(),
                expected_quantity: Some(2),
            },
            desired: json!({"quantity": 3}).as_object().cloned().unwrap(),
        };
        let body = serde_json::to_value(&w).unwrap();
        assert_eq!(body["kind"], "inventory-level");
        assert_eq!(body["op"], "set-quantity");
        assert!(body.get("idempotency_key").is_none());
        assert_eq!(PlannedWrite::from_row_body(&body, "k1").unwrap(), w);
        assert!(PlannedWrite::from_row_body(&json!({"kind": "widget"}), "k").is_err());
    }
}
