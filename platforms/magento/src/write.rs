//! Catalog and stock writes through the asynchronous bulk API, settled when Magento's consumer
//! has applied them.
//!
//! A call ([`plan_calls`]) is one bulk of one topic: product saves
//! (`/async/bulk/V1/products`, `{"product": {…}}` per operation, saved by SKU) or source item
//! saves (`/async/bulk/V1/inventory/source-items`, `{"sourceItems": [one]}` per operation). The
//! dispatcher persists the call before it is sent; [`send_call`] then:
//!
//! 1. **Submits** a call that carries no `bulk_uuid` yet. Stock first: the source items are read
//!    and each level compared with its write's guard (a level that no longer holds the guard
//!    is refused as stale, one that already holds the quantity is satisfied: neither is sent).
//!    The bulk is posted and the answer is [`ConnectorError::Accepted`] with the call's input
//!    plus the `bulk_uuid`, the time it was accepted and each command's operation: the
//!    dispatcher keeps that as the call's input, so every later send of the call asks for the
//!    bulk's status and never posts it again.
//! 2. **Settles** a call that carries a `bulk_uuid` from `GET /V1/bulk/{uuid}/detailed-status`:
//!    while an operation is open (4) the answer is `Accepted` again (ask later); once every one
//!    is final, each command gets its result: 1 complete is applied, 2 failed-retriable is a
//!    retryable error (the dispatcher sends it again in a new bulk), 3 must-change and
//!    5 rejected are permanent errors with Magento's `result_message` (dead letters).
//! 3. A bulk whose status never arrives (open past [`BulkSettings::timeout`], or unknown to
//!    Magento) is never posted again: each open command's target is read, and one that holds
//!    what the write set is applied. One that has moved since the bulk was accepted (a product
//!    whose `updated_at` is after the bulk's `start_time`, a level that holds neither the
//!    write's quantity nor its guard) is stale: something changed it after (a sale, a
//!    merchant's edit, a later write of weft's), so its newer state is read and merged again
//!    (a level is re-planned from a fresh read) rather than the old write judged. The others,
//!    untouched since, are dead letters that say so (their operation may still apply; an
//!    operator decides).
//!
//! Nothing is written twice: a call is posted once, then only asked about. The one window left
//! is a post whose answer is lost (a timeout, a crash before the answer was saved): Magento
//! takes no client key for a bulk, so the call is posted again; stock is read first, so a level
//! the lost bulk already set is found satisfied, but one still queued is set again (to the
//! same quantity).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weft_platform::version::format_ts;
use weft_platform::write::{bad_field, missing, unsupported};
use weft_platform::{
    BatchCall, BatchResult, ConnectorError, EntityKind, Planned, WriteCommand, WriteOp,
    WriteOutcome,
};

use crate::PLATFORM;
use crate::client::{MgClient, filter};
use crate::normalize;
use crate::poll::LevelClock;

/// Operations per bulk.
pub const OPS_PER_BULK: usize = 100;

/// How bulks are waited for.
#[derive(Debug, Clone, Copy)]
pub struct BulkSettings {
    /// How long after a send the bulk's status is asked for again.
    pub poll: Duration,
    /// How long an operation may stay open before its bulk counts as one whose status never
    /// arrives.
    pub timeout: Duration,
}

impl Default for BulkSettings {
    fn default() -> Self {
        BulkSettings {
            poll: Duration::from_secs(5),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

const TOPIC_PRODUCTS: &str = "products";
const TOPIC_STOCK: &str = "source-items";

/// Whether `cmd` travels in a bulk: product saves (products, their prices, a simple product as
/// a variant) and stock sets.
pub fn is_batchable(cmd: &WriteCommand) -> bool {
    matches!(
        (cmd.kind, cmd.op),
        (
            EntityKind::Product | EntityKind::Variant | EntityKind::Price,
            WriteOp::Upsert
        ) | (EntityKind::InventoryLevel, WriteOp::SetQuantity)
    )
}

/// A level id's SKU and source.
fn split_level(id: &str) -> Option<(&str, &str)> {
    id.rsplit_once('@')
}

/// One command as a bulk member: its topic and `{"op", …}`.
fn member(cmd: &WriteCommand) -> Result<(&'static str, Value), ConnectorError> {
    if cmd.op == WriteOp::Delete {
        // Deletes are sent one by one ([`crate::delete`]), never in a bulk.
        return Err(unsupported(PLATFORM, cmd));
    }
    match cmd.kind {
        EntityKind::InventoryLevel => {
            let (sku, source) = match (cmd.body["sku"].as_str(), cmd.body["source_code"].as_str()) {
                (Some(s), Some(c)) => (s.to_owned(), c.to_owned()),
                _ => {
                    let id = cmd
                        .target_id
                        .as_deref()
                        .ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
                    let (s, c) = split_level(id)
                        .ok_or_else(|| bad_field(PLATFORM, "target_id", "not `<sku>@<source>`"))?;
                    (s.to_owned(), c.to_owned())
                }
            };
            let qty = weft_platform::write::body_i64(PLATFORM, cmd, "available")
                .or_else(|_| weft_platform::write::body_i64(PLATFORM, cmd, "quantity"))?;
            Ok((
                TOPIC_STOCK,
                json!({
                    "op": {"sourceItems": [{"sku": sku, "source_code": source,
                        "quantity": qty, "status": i64::from(qty > 0)}]},
                    "level": normalize::level_id(&sku, &source),
                    "sku": sku, "quantity": qty, "expected": cmd.expected_quantity,
                }),
            ))
        }
        EntityKind::Product | EntityKind::Variant | EntityKind::Price => {
            let Some(fields) = cmd.body.as_object() else {
                return Err(bad_field(PLATFORM, "body", "not an object"));
            };
            let sku = fields
                .get("sku")
                .and_then(Value::as_str)
                .ok_or_else(|| missing(PLATFORM, "sku", cmd))?
                .to_owned();
            // No target id: the product is new to weft, and the write makes it (Magento's
            // save by SKU creates it; weft's mapper sends what a new product needs).
            Ok((
                TOPIC_PRODUCTS,
                json!({"op": {"product": fields}, "sku": sku, "create": cmd.target_id.is_none()}),
            ))
        }
        _ => Err(unsupported(PLATFORM, cmd)),
    }
}

/// Plans batchable commands into bulks of one topic, up to [`OPS_PER_BULK`] each.
pub fn plan_calls(commands: &[WriteCommand]) -> Planned {
    let mut by_topic: Vec<(&'static str, Vec<(usize, Value)>)> = Vec::new();
    let mut failed = Vec::new();
    for (i, cmd) in commands.iter().enumerate() {
        match member(cmd) {
            Ok((topic, m)) => match by_topic.iter_mut().find(|(t, _)| *t == topic) {
                Some((_, v)) => v.push((i, m)),
                None => by_topic.push((topic, vec![(i, m)])),
            },
            Err(e) => failed.push((i, e)),
        }
    }
    let mut calls = Vec::new();
    for (topic, members) in by_topic {
        for chunk in members.chunks(OPS_PER_BULK) {
            calls.push(BatchCall {
                members: chunk.iter().map(|(i, _)| *i).collect(),
                input: json!({
                    "topic": topic,
                    "members": chunk.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
                }),
            });
        }
    }
    (calls, failed)
}

/// A call like `input` with only the members at `positions` (never one already posted).
pub fn call_subset(input: &Value, positions: &[usize]) -> Value {
    let members = input["members"].as_array().cloned().unwrap_or_default();
    json!({
        "topic": input["topic"],
        "members": positions.iter().filter_map(|p| members.get(*p).cloned()).collect::<Vec<_>>(),
    })
}

fn bulk_path(topic: &str) -> &'static str {
    if topic == TOPIC_STOCK {
        "/async/bulk/V1/inventory/source-items"
    } else {
        "/async/bulk/V1/products"
    }
}

/// Reads the source items of `skus`: quantity by level id.
async fn quantities(
    client: &MgClient,
    skus: &[String],
) -> Result<HashMap<String, i64>, ConnectorError> {
    let mut out = HashMap::new();
    let mut unique: Vec<&String> = skus.iter().collect();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(50) {
        let list = chunk
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let items = client
            .search(
                "/V1/inventory/source-items",
                &filter(0, "sku", &list, "in"),
                "sku",
                |r| format!("{}@{}", r["sku"], r["source_code"]),
            )
            .await?;
        for it in items {
            if let (Some(sku), Some(src), Some(q)) = (
                it["sku"].as_str(),
                it["source_code"].as_str(),
                it["quantity"].as_f64(),
            ) {
                out.insert(normalize::level_id(sku, src), q.round() as i64);
            }
        }
    }
    Ok(out)
}

/// Sends one planned call (see the module header): submits it, or settles the bulk it was
/// submitted as.
pub async fn send_call(
    client: &MgClient,
    levels: &LevelClock,
    settings: BulkSettings,
    input: &Value,
) -> Result<Vec<BatchResult>, ConnectorError> {
    if input["bulk_uuid"].is_string() {
        settle(client, levels, settings, input).await
    } else {
        submit(client, settings, input).await
    }
}

fn stale(m: &Value, found: i64) -> ConnectorError {
    ConnectorError::Stale {
        system: PLATFORM,
        what: format!(
            "inventory level {}",
            m["level"].as_str().unwrap_or_default()
        ),
        message: format!(
            "expected quantity {}, found {found}",
            m["expected"].as_i64().unwrap_or_default()
        ),
    }
}

async fn submit(
    client: &MgClient,
    settings: BulkSettings,
    input: &Value,
) -> Result<Vec<BatchResult>, ConnectorError> {
    let topic = input["topic"].as_str().unwrap_or(TOPIC_PRODUCTS);
    let members = input["members"].as_array().cloned().unwrap_or_default();
    // Stock: read, compare with each guard; only levels that still hold it are sent.
    let mut pre: Vec<Value> = vec![Value::Null; members.len()];
    if topic == TOPIC_STOCK {
        let skus: Vec<String> = members
            .iter()
            .filter_map(|m| m["sku"].as_str().map(str::to_owned))
            .collect();
        let now = quantities(client, &skus).await?;
        for (i, m) in members.iter().enumerate() {
            let level = m["level"].as_str().unwrap_or_default();
            let found = now.get(level).copied();
            let want = m["quantity"].as_i64();
            if found.is_some() && found == want {
                pre[i] = json!({"satisfied": found});
            } else if let Some(expected) = m["expected"].as_i64()
                && found.unwrap_or(0) != expected
            {
                pre[i] = json!({"stale": found.unwrap_or(0)});
            }
        }
    }
    let mut ops = Vec::new();
    let mut positions = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        if pre[i].is_null() {
            positions.push(json!(ops.len()));
            ops.push(m["op"].clone());
        } else {
            positions.push(Value::Null);
        }
    }
    if ops.is_empty() {
        return Ok(members
            .iter()
            .zip(&pre)
            .map(|(m, p)| pre_result(m, p))
            .collect());
    }
    let answer = client.post(bulk_path(topic), &Value::Array(ops)).await?;
    let Some(uuid) = answer["bulk_uuid"].as_str() else {
        return Err(ConnectorError::Transport {
            system: PLATFORM,
            message: format!("bulk answer without bulk_uuid: {answer}"),
            retryable: false,
        });
    };
    let mut kept = input.clone();
    kept["bulk_uuid"] = json!(uuid);
    kept["accepted_at"] = json!(format_ts(Utc::now()));
    kept["positions"] = Value::Array(positions);
    kept["pre"] = Value::Array(pre);
    kept["request_items"] = answer["request_items"].clone();
    Err(ConnectorError::Accepted {
        system: PLATFORM,
        input: Box::new(kept),
        message: format!("bulk {uuid} queued"),
        retry_after: Some(settings.poll),
    })
}

fn pre_result(m: &Value, pre: &Value) -> BatchResult {
    if let Some(found) = pre.get("stale").and_then(Value::as_i64) {
        return BatchResult::Failed(stale(m, found));
    }
    BatchResult::Applied(WriteOutcome {
        target_id: m["level"].as_str().unwrap_or_default().to_owned(),
        version: None,
        document: None,
        children: Vec::new(),
        applied: false,
        created: false,
    })
}

/// What a completed (or verified) member left on the target.
async fn applied(
    client: &MgClient,
    levels: &LevelClock,
    m: &Value,
    result: Option<&str>,
) -> Result<WriteOutcome, ConnectorError> {
    if let Some(level) = m["level"].as_str() {
        // The write's result is placed at the moment weft learned it; the level's next
        // reading is journaled after it.
        levels.forget(level);
        return Ok(WriteOutcome {
            target_id: level.to_owned(),
            version: Some(format_ts(Utc::now())),
            document: None,
            children: Vec::new(),
            applied: true,
            created: false,
        });
    }
    let saved = match result.and_then(|r| serde_json::from_str::<Value>(r).ok()) {
        Some(p) if p["id"].is_number() => p,
        _ => {
            let sku = m["sku"].as_str().unwrap_or_default();
            client.get(&format!("/V1/products/{}", enc(sku))).await?
        }
    };
    let doc = normalize::product(&saved);
    Ok(WriteOutcome {
        target_id: doc.as_ref().map(|d| d.id.clone()).unwrap_or_default(),
        version: doc.as_ref().map(|d| d.version.clone()),
        document: doc.map(|d| d.body),
        children: Vec::new(),
        applied: true,
        created: m["create"] == true,
    })
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn num_eq(a: &Value, b: &Value) -> bool {
    let f = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    match (f(a), f(b)) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// What the target of an operation without a status holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// What the operation writes.
    Held,
    /// Something else, and it changed after the bulk was accepted (what changed it).
    Moved(String),
    /// Something else, unchanged since the bulk was accepted (as far as Magento says).
    NotHeld,
}

/// Whether the target holds what member `m` writes; `started` is the bulk's `start_time`
/// (Magento's clock, as RFC 3339).
async fn holds(
    client: &MgClient,
    m: &Value,
    stock: &HashMap<String, i64>,
    started: Option<&str>,
) -> Result<Found, ConnectorError> {
    if let Some(level) = m["level"].as_str() {
        let found = stock.get(level).copied();
        return Ok(if found == m["quantity"].as_i64() {
            Found::Held
        } else if m["expected"]
            .as_i64()
            .is_some_and(|e| found.unwrap_or(0) != e)
        {
            Found::Moved(format!(
                "the level holds {} (neither the write's {} nor its guard {})",
                found.unwrap_or(0),
                m["quantity"],
                m["expected"]
            ))
        } else {
            Found::NotHeld
        });
    }
    let sku = m["sku"].as_str().unwrap_or_default();
    let p = match client.get(&format!("/V1/products/{}", enc(sku))).await {
        Ok(p) => p,
        Err(ConnectorError::Permanent { status: 404, .. }) => return Ok(Found::NotHeld),
        Err(e) => return Err(e),
    };
    let at = |t: &str| DateTime::parse_from_rfc3339(t).ok();
    let updated = p["updated_at"]
        .as_str()
        .map(normalize::version)
        .and_then(|t| at(&t));
    let moved = match (updated, started.and_then(at)) {
        (Some(u), Some(s)) if u > s => Some(format!(
            "the product was saved at {} after the bulk was accepted at {}",
            p["updated_at"].as_str().unwrap_or_default(),
            started.unwrap_or_default()
        )),
        _ => None,
    };
    let want = m["op"]["product"].as_object().cloned().unwrap_or_default();
    for (k, v) in &want {
        let ok = match k.as_str() {
            "custom_attributes" => v.as_array().into_iter().flatten().all(|a| {
                p["custom_attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|b| b["attribute_code"] == a["attribute_code"] && b["value"] == a["value"])
            }),
            "extension_attributes" | "id" | "updated_at" | "created_at" => true,
            _ => v.is_null() || num_eq(&p[k], v),
        };
        if !ok {
            return Ok(moved.map_or(Found::NotHeld, Found::Moved));
        }
    }
    Ok(Found::Held)
}

async fn settle(
    client: &MgClient,
    levels: &LevelClock,
    settings: BulkSettings,
    input: &Value,
) -> Result<Vec<BatchResult>, ConnectorError> {
    let uuid = input["bulk_uuid"].as_str().unwrap_or_default();
    let members = input["members"].as_array().cloned().unwrap_or_default();
    let positions = input["positions"].as_array().cloned().unwrap_or_default();
    let pre = input["pre"].as_array().cloned().unwrap_or_default();
    let status = match client
        .get(&format!("/V1/bulk/{}/detailed-status", enc(uuid)))
        .await
    {
        Ok(s) => Some(s),
        // Unknown to Magento (never recorded, or cleaned up): its status will not arrive.
        Err(ConnectorError::Permanent { status: 404, .. }) => None,
        Err(e) => return Err(e),
    };
    let ops: HashMap<u64, &Value> = status
        .as_ref()
        .and_then(|s| s["operations_list"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["id"].as_u64()?, o)))
        .collect();
    let op_of = |i: usize| {
        positions
            .get(i)
            .and_then(Value::as_u64)
            .and_then(|p| ops.get(&p).copied())
    };
    let open = members
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            pre.get(*i).is_none_or(Value::is_null)
                && op_of(*i).is_none_or(|o| o["status"].as_u64() == Some(4))
        })
        .count();
    let accepted_at = input["accepted_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let waited = (Utc::now() - accepted_at).to_std().unwrap_or_default();
    // When Magento accepted the bulk, by its own clock.
    let started = status
        .as_ref()
        .and_then(|s| s["start_time"].as_str())
        .map(normalize::version);
    let given_up = waited >= settings.timeout || status.is_none();
    if open > 0 && !given_up {
        return Err(ConnectorError::Accepted {
            system: PLATFORM,
            input: Box::new(input.clone()),
            message: format!("bulk {uuid}: {open} of {} operations open", members.len()),
            retry_after: Some(settings.poll),
        });
    }
    // Stock targets of open operations, read once for the verification.
    let open_skus: Vec<String> = members
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            m["level"].is_string()
                && pre.get(*i).is_none_or(Value::is_null)
                && op_of(*i).is_none_or(|o| o["status"].as_u64() == Some(4))
        })
        .filter_map(|(_, m)| m["sku"].as_str().map(str::to_owned))
        .collect();
    let stock = if open_skus.is_empty() {
        HashMap::new()
    } else {
        quantities(client, &open_skus).await?
    };
    let mut out = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        if let Some(p) = pre.get(i).filter(|p| !p.is_null()) {
            out.push(pre_result(m, p));
            continue;
        }
        let op = op_of(i);
        let message = op
            .and_then(|o| o["result_message"].as_str())
            .unwrap_or_default()
            .to_owned();
        let code = op.and_then(|o| o["status"].as_u64()).unwrap_or(4);
        out.push(match code {
            1 => BatchResult::Applied(
                applied(client, levels, m, op.and_then(|o| o["result_serialized_data"].as_str()))
                    .await?,
            ),
            2 => BatchResult::Failed(ConnectorError::Retryable {
                system: PLATFORM,
                status: None,
                message: format!("bulk {uuid} operation failed, retriable: {message}"),
                retry_after: None,
            }),
            3 | 5 => BatchResult::Failed(ConnectorError::Permanent {
                system: PLATFORM,
                status: 400,
                code: if code == 3 {
                    "BULK_MUST_CHANGE".into()
                } else {
                    "BULK_REJECTED".into()
                },
                message,
            }),
            _ => match holds(client, m, &stock, started.as_deref()).await? {
                Found::Held => BatchResult::Applied(applied(client, levels, m, None).await?),
                Found::Moved(what) => {
                    if let Some(level) = m["level"].as_str() {
                        // Its next reading is journaled, after this result.
                        levels.forget(level);
                    }
                    BatchResult::Failed(ConnectorError::Stale {
                        system: PLATFORM,
                        what: m["level"].as_str().map_or_else(
                            || format!("product {}", m["sku"].as_str().unwrap_or_default()),
                            |l| format!("inventory level {l}"),
                        ),
                        message: format!(
                            "bulk {uuid}: no status for this operation after {} s, and {what}",
                            waited.as_secs()
                        ),
                    })
                }
                Found::NotHeld => BatchResult::Failed(ConnectorError::Permanent {
                    system: PLATFORM,
                    status: 0,
                    code: "BULK_NO_STATUS".into(),
                    message: format!(
                        "bulk {uuid}: no status for this operation after {} s and the target does not hold it; not sent again, as it may still apply",
                        waited.as_secs()
                    ),
                }),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(kind: EntityKind, op: WriteOp, target: Option<&str>, body: Value) -> WriteCommand {
        WriteCommand {
            system: "magento".into(),
            kind,
            op,
            target_id: target.map(str::to_owned),
            external_id: None,
            body,
            idempotency_key: "k".into(),
            expected_quantity: Some(3),
        }
    }

    #[test]
    fn calls_are_one_topic_each_and_bad_commands_fail_alone() {
        let cmds = vec![
            cmd(
                EntityKind::Variant,
                WriteOp::Upsert,
                None,
                json!({"sku": "A", "price": 2.5}),
            ),
            cmd(
                EntityKind::InventoryLevel,
                WriteOp::SetQuantity,
                Some("A@default"),
                json!({"available": 4}),
            ),
            cmd(
                EntityKind::Product,
                WriteOp::Upsert,
                None,
                json!({"name": "no sku"}),
            ),
            cmd(EntityKind::Customer, WriteOp::Upsert, None, json!({})),
        ];
        let (calls, failed) = plan_calls(&cmds);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].members, vec![0]);
        assert_eq!(
            calls[0].input["members"][0]["op"],
            json!({"product": {"sku": "A", "price": 2.5}})
        );
        assert_eq!(calls[1].input["topic"], "source-items");
        assert_eq!(
            calls[1].input["members"][0]["op"]["sourceItems"][0],
            json!({"sku": "A", "source_code": "default", "quantity": 4, "status": 1})
        );
        assert_eq!(calls[1].input["members"][0]["expected"], 3);
        assert_eq!(
            failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(!is_batchable(&cmds[3]));
    }

    #[test]
    fn deletes_never_travel_in_a_bulk() {
        let del = cmd(
            EntityKind::Variant,
            WriteOp::Delete,
            Some("5"),
            json!({"sku": "A"}),
        );
        assert!(!is_batchable(&del));
        let (calls, failed) = plan_calls(std::slice::from_ref(&del));
        assert!(calls.is_empty());
        assert_eq!(failed.len(), 1);
    }
}
