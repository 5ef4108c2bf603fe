//! Executes write commands against the NetSuite REST record API.
//!
//! | kind | op | call |
//! |---|---|---|
//! | product, variant, price | upsert | `PUT inventoryItem/eid:{external_id}` |
//! | customer | upsert | `PUT customer/eid:{external_id}` |
//! | order | upsert | `PUT salesOrder/eid:{external_id}` |
//! | refund | upsert | `PUT creditMemo/eid:{external_id}` (the external id comes from the storefront refund's id, so a resend re-posts the same lines and returns nothing to stock twice) |
//! | inventory-level | adjust-quantity | `PUT inventoryAdjustment/eid:{external id from the key}` |
//! | inventory-level | set-quantity | read `locations`, compare, then the adjustment above for the difference |
//! | variant, customer | delete | `DELETE inventoryItem/{id}` / `customer/{id}` (a tombstone; gone already is done); refused because transactions depend on it: `PATCH isInactive = true` instead, answering the kept record |
//!
//! Bodies are record JSON with NetSuite's field names. An item body may carry `weft:parent`,
//! the record of its matrix parent (with its `externalId`): the parent is upserted first by
//! that external id (an idempotent PUT, so a retry repeats it harmlessly), then the item,
//! whose `parent` names it. A mapper sends it when the child does not exist yet or its parent
//! changes.

use serde_json::{Map, Value, json};
use weft_platform::version::format_ts;
use weft_platform::write::{bad_field, body_i64, missing, unsupported};
use weft_platform::{ConnectorError, EntityKind, WriteCommand, WriteOp, WriteOutcome};

use crate::{NetSuiteClient, RecordRef};

const NETSUITE: &str = crate::PLATFORM;

/// A required id from the body (a decimal string or a number).
fn body_id(
    system: &'static str,
    cmd: &WriteCommand,
    field: &'static str,
) -> Result<String, ConnectorError> {
    match cmd.body.get(field) {
        None | Some(Value::Null) => Err(missing(system, field, cmd)),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        Some(_) => Err(bad_field(system, field, "not an id")),
    }
}

/// The record type a kind is written as on NetSuite.
pub fn netsuite_record_type(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Product | EntityKind::Variant | EntityKind::Price => "inventoryItem",
        EntityKind::Customer => "customer",
        EntityKind::Order => "salesOrder",
        EntityKind::InventoryLevel => "inventoryAdjustment",
        EntityKind::Fulfillment => "itemFulfillment",
        EntityKind::Refund => "creditMemo",
    }
}

/// The external id of the inventory adjustment made for an idempotency key: the key itself,
/// with characters NetSuite does not allow in external ids written `-`.
pub fn adjustment_external_id(idempotency_key: &str) -> String {
    crate::sanitize_external_id(idempotency_key)
}

async fn upsert_and_read(
    c: &NetSuiteClient,
    record_type: &str,
    external_id: &str,
    body: &Value,
) -> Result<WriteOutcome, ConnectorError> {
    let id = c.upsert(record_type, external_id, body).await?;
    read_back(c, record_type, id).await
}

/// Reads a written record back for its version (`lastModifiedDate`) and current document.
async fn read_back(
    c: &NetSuiteClient,
    record_type: &str,
    id: String,
) -> Result<WriteOutcome, ConnectorError> {
    let rec = c
        .get_record(record_type, &RecordRef::Id(id.clone()))
        .await?;
    let version = rec
        .as_ref()
        .and_then(|r| r.get("lastModifiedDate"))
        .and_then(Value::as_str)
        .and_then(crate::cdc::parse_netsuite_date)
        .map(format_ts);
    Ok(WriteOutcome {
        target_id: id,
        version,
        document: rec,
        children: Vec::new(),
        applied: true,
        created: false,
    })
}

/// Performs one write.
pub async fn execute(
    c: &NetSuiteClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    match (cmd.kind, cmd.op) {
        (
            EntityKind::Product
            | EntityKind::Variant
            | EntityKind::Price
            | EntityKind::Customer
            | EntityKind::Order
            | EntityKind::Refund,
            WriteOp::Upsert,
        ) => {
            let record_type = netsuite_record_type(cmd.kind);
            let mut stripped = None;
            if record_type == "inventoryItem"
                && let Some(parent) = cmd.body.get("weft:parent")
            {
                let eid = parent
                    .get("externalId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad_field(NETSUITE, "weft:parent", "has no externalId"))?;
                c.upsert(record_type, eid, parent).await?;
                let mut body = cmd.body.clone();
                if let Some(o) = body.as_object_mut() {
                    o.remove("weft:parent");
                }
                stripped = Some(body);
            }
            let body = stripped.as_ref().unwrap_or(&cmd.body);
            let ext = cmd.external_id.clone().or_else(|| {
                cmd.body
                    .get("externalId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            match (ext, &cmd.target_id) {
                (Some(ext), _) => upsert_and_read(c, record_type, &ext, body).await,
                // The record exists without an external id: PATCH it by internal id (the body
                // sets `externalId`, so later writes upsert by it).
                (None, Some(id)) => {
                    let r = RecordRef::Id(id.clone());
                    c.update_record(record_type, &r, body).await?;
                    read_back(c, record_type, id.clone()).await
                }
                (None, None) => Err(missing(NETSUITE, "external_id", cmd)),
            }
        }
        (EntityKind::InventoryLevel, WriteOp::AdjustQuantity) => {
            if cmd.idempotency_key.is_empty() && cmd.external_id.is_none() {
                return Err(missing(NETSUITE, "idempotency_key", cmd));
            }
            let ext = cmd
                .external_id
                .clone()
                .unwrap_or_else(|| adjustment_external_id(&cmd.idempotency_key));
            let mut body = cmd.body.clone();
            if let Some(o) = body.as_object_mut() {
                o.entry("tranDate")
                    .or_insert_with(|| json!(chrono::Utc::now().format("%Y-%m-%d").to_string()));
            }
            upsert_and_read(c, "inventoryAdjustment", &ext, &body).await
        }
        (EntityKind::InventoryLevel, WriteOp::SetQuantity) => set_quantity_netsuite(c, cmd).await,
        (EntityKind::Variant | EntityKind::Customer, WriteOp::Delete) => {
            let record_type = netsuite_record_type(cmd.kind);
            let id = cmd
                .target_id
                .clone()
                .ok_or_else(|| missing(NETSUITE, "target_id", cmd))?;
            match c
                .delete_record(record_type, &RecordRef::Id(id.clone()))
                .await
            {
                // Gone (now or before): NetSuite's deletion, as its deleted-record search would
                // show it.
                Ok(_) => Ok(WriteOutcome::removed(
                    &id,
                    weft_platform::version::deletion_version(chrono::Utc::now(), None),
                )),
                Err(ConnectorError::Permanent { code, .. })
                    if code == crate::client::DEPENDENT_RECORDS =>
                {
                    // Transactions (or orders) depend on it, and NetSuite keeps those: the
                    // record is kept inactive instead, as a merchant would do by hand.
                    let r = RecordRef::Id(id.clone());
                    c.update_record(record_type, &r, &json!({"isInactive": true}))
                        .await?;
                    read_back(c, record_type, id).await
                }
                Err(e) => Err(e),
            }
        }
        _ => Err(unsupported(NETSUITE, cmd)),
    }
}

/// NetSuite quantities change only through adjustments: read the item's on-hand quantity at
/// the location, check the guard, and post an adjustment for the difference under an external
/// id derived from the idempotency key (a retry finds the adjustment it already made).
///
/// The outcome's `target_id` is the level's id (`item@location`, the id its documents are
/// journaled under), not the adjustment's.
async fn set_quantity_netsuite(
    c: &NetSuiteClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    let item_id = match &cmd.target_id {
        Some(t) => t.clone(),
        None => body_id(NETSUITE, cmd, "item_id")?,
    };
    let location = body_id(NETSUITE, cmd, "location_id")?;
    let mut outcome = adjust_to_quantity(c, cmd, &item_id, &location).await?;
    outcome.target_id = format!("{item_id}@{location}");
    Ok(outcome)
}

async fn adjust_to_quantity(
    c: &NetSuiteClient,
    cmd: &WriteCommand,
    item_id: &str,
    location: &str,
) -> Result<WriteOutcome, ConnectorError> {
    let (item_id, location) = (item_id.to_owned(), location.to_owned());
    let ext = cmd
        .external_id
        .clone()
        .unwrap_or_else(|| adjustment_external_id(&cmd.idempotency_key));
    if let Some(done) = c
        .get_record("inventoryAdjustment", &RecordRef::ExternalId(ext.clone()))
        .await?
    {
        let id = done
            .get("id")
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let version = done
            .get("lastModifiedDate")
            .and_then(Value::as_str)
            .and_then(crate::cdc::parse_netsuite_date)
            .map(format_ts);
        return Ok(WriteOutcome {
            target_id: id,
            version,
            document: Some(done),
            children: Vec::new(),
            applied: true,
            created: false,
        });
    }
    let quantity = body_i64(NETSUITE, cmd, "quantity_sellable")?;
    let item = c
        .get_record("inventoryItem", &RecordRef::Id(item_id.clone()))
        .await?
        .ok_or_else(|| ConnectorError::Permanent {
            system: NETSUITE,
            status: 404,
            code: "RECORD_NOT_FOUND".into(),
            message: format!("inventoryItem {item_id} does not exist"),
        })?;
    let current = crate::inventory_level_docs(&item)
        .into_iter()
        .find(|d| d["location_id"].as_str() == Some(location.as_str()))
        .and_then(|d| d["quantity_sellable"].as_i64())
        .unwrap_or(0);
    if let Some(expected) = cmd.expected_quantity
        && expected != current
    {
        return Err(ConnectorError::Stale {
            system: NETSUITE,
            what: format!("inventory level {item_id}@{location}"),
            message: format!("expected quantity to sell {expected}, found {current}"),
        });
    }
    let delta = quantity - current;
    if delta == 0 {
        return Ok(WriteOutcome {
            target_id: item_id,
            version: None,
            document: None,
            children: Vec::new(),
            applied: false,
            created: false,
        });
    }
    let mut adj = Map::new();
    if let Some(extra) = cmd.body.get("adjustment").and_then(Value::as_object) {
        // Account, subsidiary and the like, as the store's plugin configures them.
        adj.extend(extra.clone());
    }
    adj.insert("externalId".into(), json!(ext));
    adj.insert(
        "tranDate".into(),
        json!(chrono::Utc::now().format("%Y-%m-%d").to_string()),
    );
    adj.entry("memo")
        .or_insert_with(|| json!(format!("weft: set quantity to {quantity}")));
    adj.insert("adjLocation".into(), json!({"id": location}));
    adj.insert(
        "inventory".into(),
        json!({"items": [{"item": {"id": item_id}, "location": {"id": location}, "adjustQtyBy": delta}]}),
    );
    upsert_and_read(c, "inventoryAdjustment", &ext, &Value::Object(adj)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_types_and_adjustment_ids() {
        assert_eq!(netsuite_record_type(EntityKind::Variant), "inventoryItem");
        assert_eq!(netsuite_record_type(EntityKind::Order), "salesOrder");
        assert_eq!(adjustment_external_id("ob:12/3"), "ob-12-3");
        assert!(crate::check_external_id(&adjustment_external_id("a b:c")).is_ok());
    }
}
