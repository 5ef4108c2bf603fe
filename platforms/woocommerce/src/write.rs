//! Executes write commands against the WooCommerce REST API v3.
//!
//! | kind | op | call |
//! |---|---|---|
//! | product (also variant, price) | upsert | `POST products/batch` (`products/{parent}/variations/batch` for a variation): `update` by id, else by SKU, else `create` |
//! | inventory-level | set-quantity | read the record, compare, then `update` `stock_quantity` in the same batch calls |
//! | customer | upsert | `PUT customers/{id}` (customers are created in WooCommerce, never by weft) |
//! | product, variant | delete | a product: `DELETE products/{id}` (to the trash); a variation (the body names its `parent_id`): `DELETE products/{parent}/variations/{id}?force=true`, then the parent to the trash when no variation is left |
//! | customer | delete | `DELETE customers/{id}?force=true` |
//!
//! Product and stock writes are batched: at most [`MAX_BATCH`] items a call (WooCommerce's
//! limit across `create + update + delete`; above it the whole call is 413
//! `woocommerce_rest_request_entity_too_large`), one call per endpoint (the products, or one
//! variable product's variations). A site that lowered the limit (the
//! `woocommerce_rest_batch_items_limit` filter) answers 413 naming its own, and the call's items
//! are sent again in calls of that size. Commands carry WooCommerce field names; a variation's
//! body names its `parent_id`.
//!
//! # Idempotency
//!
//! - **Creates** manage their stock from the start (`stock_quantity` 0 until weft sets it), so
//!   the new product's level is read like any other. They are found again by SKU: every call first reads the records its items name (by
//!   id, or by SKU when the id is not known yet), and an item whose SKU exists already becomes
//!   an update. A create that was applied but whose answer was lost is therefore never created
//!   twice when it is re-sent.
//! - **Stock**: WooCommerce has no compare-and-set and no delta for `stock_quantity`. A stock
//!   set is read, compare, write: the record is read in the call's first request; a record that
//!   no longer holds the guard quantity (`expected_quantity`, what weft last recorded) is
//!   refused as [`ConnectorError::Stale`] (weft re-reads it and plans again from what it
//!   finds); otherwise the update sets the quantity **and** the meta entry [`MARKER`] = the
//!   write's idempotency key, in one save. A resend (a lost answer, a killed process) reads the
//!   record first and finds its own key in [`MARKER`]: the write applied, nothing is sent
//!   again. The platform marks these writes [`weft_platform::Idempotency::SentMayHaveApplied`].
//!   What remains is the window between the read and the write (one round trip, no other call
//!   in between): a sale landing exactly there is overwritten. weft reads the record's
//!   `total_sales` in both and, when it moved, re-applies the units it took (see
//!   [`sales_in_window`]), so the sale is counted once.
//!
//! # Deletes
//!
//! A record another system deleted is removed here one by one, never in a batch call (a batch
//! delete is always forced in WooCommerce, and fires no webhook).
//!
//! - **A product** goes to the trash, as the merchant's own "Move to Trash" does: its SKU is
//!   free again, WooCommerce sends `product.deleted`, the poll lists it among the trashed, and
//!   the merchant can restore it for 30 days (weft then sees it again, a re-creation).
//! - **A variation** is deleted for good (`force=true`), as WooCommerce's own "Remove
//!   variation" does: a trashed variation shows nowhere in the admin. WooCommerce sends no
//!   webhook for it (woocommerce/woocommerce#31620); the write's answer is weft's observation.
//!   Then the parent is read, and a variable product with no variation left goes to the trash
//!   as well (a product without variations sells nothing, and weft maps none of its own
//!   fields); its `product.deleted` (and the poll) report that. The variation's parent is the
//!   body's `parent_id`; without it, `DELETE products/{id}` answers
//!   `woocommerce_rest_invalid_product_id` for a variation, and the parent is read from
//!   `GET products/{id}` instead.
//! - **A customer** is deleted for good (WooCommerce cannot trash customers) and sends
//!   `customer.deleted`. A user whose role WooCommerce will not delete through the API (only
//!   `customer` and `subscriber`) is refused with a 401, which here is the record's failure
//!   (a dead letter), not refused credentials.
//! - A record gone already (404 with WooCommerce's not-found code, 410 already trashed) is
//!   success: the outcome is the same as the deletion's.
//!
//! The outcome's document is a [`weft_platform::webhook::tombstone`] of the removed product,
//! variation or customer, under its own id (the id its documents are journaled under: a
//! variation is a `product` document of its own), versioned now ([`crate::now_version`], as a
//! `…deleted` delivery is).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use weft_platform::write::{bad_field, missing, unsupported};
use weft_platform::{
    BatchCall, BatchResult, ChildId, ConnectorError, EntityKind, Planned, WriteCommand, WriteOp,
    WriteOutcome,
};

use crate::client::item_error;
use crate::{PLATFORM, WooClient, id_text, level_doc, version_of};

/// Items per batch call (WooCommerce's default `woocommerce_rest_batch_items_limit`).
pub const MAX_BATCH: usize = 100;

/// The meta entry a stock set writes with the quantity: the write's idempotency key.
pub const MARKER: &str = "_weft_stock_write";

/// Whether a command travels in a batch call.
pub fn is_batchable(cmd: &WriteCommand) -> bool {
    matches!(
        (cmd.kind, cmd.op),
        (
            EntityKind::Product | EntityKind::Variant | EntityKind::Price,
            WriteOp::Upsert
        ) | (EntityKind::InventoryLevel, WriteOp::SetQuantity)
    )
}

fn parent_of(body: &Value) -> u64 {
    match body.get("parent_id") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The collection a call writes to.
fn collection(parent: u64) -> String {
    if parent == 0 {
        "products".into()
    } else {
        format!("products/{parent}/variations")
    }
}

/// One command as a call item.
fn item(cmd: &WriteCommand) -> Result<Value, ConnectorError> {
    let sku = cmd
        .body
        .get("sku")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let id = cmd.target_id.clone().filter(|t| !t.is_empty());
    if id.is_none() && sku.is_none() {
        return Err(missing(PLATFORM, "target_id or sku", cmd));
    }
    let mut fields: Map<String, Value> = cmd.body.as_object().cloned().unwrap_or_default();
    fields.remove("id");
    fields.remove("parent_id");
    let (op, expected) = match cmd.op {
        WriteOp::SetQuantity => {
            let q = weft_platform::write::body_i64(PLATFORM, cmd, "stock_quantity")?;
            fields = Map::new();
            fields.insert("stock_quantity".into(), json!(q));
            ("stock", cmd.expected_quantity)
        }
        _ => ("upsert", None),
    };
    Ok(json!({
        "op": op,
        "key": cmd.idempotency_key,
        "id": id,
        "sku": sku,
        "expected": expected,
        "fields": fields,
    }))
}

/// Plans batchable commands into calls: one per endpoint and at most [`MAX_BATCH`] items.
pub fn plan(commands: &[WriteCommand]) -> Planned {
    let mut groups: BTreeMap<u64, Vec<(usize, Value)>> = BTreeMap::new();
    let mut failed = Vec::new();
    for (i, cmd) in commands.iter().enumerate() {
        if !is_batchable(cmd) {
            failed.push((i, unsupported(PLATFORM, cmd)));
            continue;
        }
        match item(cmd) {
            Ok(v) => groups.entry(parent_of(&cmd.body)).or_default().push((i, v)),
            Err(e) => failed.push((i, e)),
        }
    }
    let mut calls = Vec::new();
    for (parent, items) in groups {
        for chunk in items.chunks(MAX_BATCH) {
            calls.push(BatchCall {
                members: chunk.iter().map(|(i, _)| *i).collect(),
                input: json!({
                    "parent": parent,
                    "items": chunk.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
                }),
            });
        }
    }
    (calls, failed)
}

/// The input of a call carrying only the items at `positions`.
pub fn subset(input: &Value, positions: &[usize]) -> Value {
    let items = input["items"].as_array().cloned().unwrap_or_default();
    json!({
        "parent": input["parent"],
        "items": positions.iter().filter_map(|p| items.get(*p).cloned()).collect::<Vec<_>>(),
    })
}

fn marker_of(record: &Value) -> Option<&str> {
    record
        .get("meta_data")?
        .as_array()?
        .iter()
        .find(|m| m.get("key").and_then(Value::as_str) == Some(MARKER))?
        .get("value")?
        .as_str()
}

fn managed_quantity(record: &Value) -> Option<i64> {
    (record.get("manage_stock") == Some(&Value::Bool(true)))
        .then(|| record.get("stock_quantity").and_then(Value::as_i64))
        .flatten()
}

fn total_sales(record: &Value) -> Option<i64> {
    record.get("total_sales").and_then(Value::as_i64)
}

/// Units sold between the read of a stock set and its write, when the record shows it: a
/// product's `total_sales` moved while its quantity shows exactly what the write set (a sale
/// after the write would have lowered it). Variations keep `total_sales` on their parent, so
/// only products tell.
pub fn sales_in_window(before: &Value, after: &Value, set: i64) -> i64 {
    match (
        total_sales(before),
        total_sales(after),
        managed_quantity(after),
    ) {
        (Some(b), Some(a), Some(q)) if a > b && q == set => a - b,
        _ => 0,
    }
}

fn outcome(doc: &Value, stock: bool) -> WriteOutcome {
    let id = doc.get("id").and_then(id_text).unwrap_or_default();
    let children = match doc.get("sku").and_then(Value::as_str) {
        Some(sku) if !sku.is_empty() && !stock => vec![ChildId {
            kind: EntityKind::Variant,
            key: sku.to_owned(),
            id: id.clone(),
            inventory_item_id: None,
        }],
        _ => Vec::new(),
    };
    WriteOutcome {
        target_id: id,
        version: version_of(doc),
        document: if stock {
            level_doc(doc)
        } else {
            Some(doc.clone())
        },
        children,
        applied: true,
        created: false,
    }
}

fn not_found(what: &str) -> ConnectorError {
    ConnectorError::Permanent {
        system: PLATFORM,
        status: 404,
        code: "NOT_FOUND".into(),
        message: what.to_owned(),
    }
}

/// Reads the records a call's items name: by id, and by SKU for items without an id.
async fn read_current(
    client: &WooClient,
    coll: &str,
    items: &[Value],
) -> Result<(HashMap<String, Value>, HashMap<String, Value>), ConnectorError> {
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    let skus: Vec<&str> = items
        .iter()
        .filter(|i| i["id"].is_null())
        .filter_map(|i| i["sku"].as_str())
        .collect();
    let mut by_id = HashMap::new();
    let mut by_sku = HashMap::new();
    if !ids.is_empty() {
        let q = vec![
            ("include".to_owned(), ids.join(",")),
            ("status".to_owned(), "any".to_owned()),
        ];
        for r in client.list_all(coll, &q).await? {
            if let Some(id) = r.get("id").and_then(id_text) {
                by_id.insert(id, r);
            }
        }
    }
    if !skus.is_empty() {
        let q = vec![
            ("sku".to_owned(), skus.join(",")),
            ("status".to_owned(), "any".to_owned()),
        ];
        for r in client.list_all(coll, &q).await? {
            if let Some(sku) = r.get("sku").and_then(Value::as_str) {
                by_sku.insert(sku.to_lowercase(), r);
            }
        }
    }
    Ok((by_id, by_sku))
}

/// Sends one planned call (see the module's header for what makes it safe to resend).
pub async fn send(client: &WooClient, input: &Value) -> Result<Vec<BatchResult>, ConnectorError> {
    let parent = input["parent"].as_u64().unwrap_or(0);
    let coll = collection(parent);
    let items = input["items"].as_array().cloned().unwrap_or_default();
    let (by_id, by_sku) = read_current(client, &coll, &items).await?;
    let mut results: Vec<Option<BatchResult>> = vec![None; items.len()];
    let mut creates: Vec<(usize, Value)> = Vec::new();
    let mut updates: Vec<(usize, Value)> = Vec::new();
    let mut read_before: HashMap<usize, Value> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        let record = match it["id"].as_str() {
            Some(id) => by_id.get(id),
            None => it["sku"]
                .as_str()
                .and_then(|s| by_sku.get(&s.to_lowercase())),
        };
        let what = it["id"]
            .as_str()
            .map(|id| format!("product {id}"))
            .unwrap_or_else(|| format!("sku {}", it["sku"].as_str().unwrap_or("")));
        let fields = it["fields"].as_object().cloned().unwrap_or_default();
        if it["op"] == "stock" {
            let Some(rec) = record else {
                results[i] = Some(BatchResult::Failed(not_found(&format!(
                    "{what} is not in WooCommerce (yet)"
                ))));
                continue;
            };
            let id = rec.get("id").and_then(id_text).unwrap_or_default();
            let key = it["key"].as_str().unwrap_or("");
            if !key.is_empty() && marker_of(rec) == Some(key) {
                // Sent before and applied: its answer was lost.
                results[i] = Some(BatchResult::Applied(outcome(rec, true)));
                continue;
            }
            let have = managed_quantity(rec);
            if let Some(expected) = it["expected"].as_i64()
                && have != Some(expected)
            {
                results[i] = Some(BatchResult::Failed(ConnectorError::Stale {
                    system: PLATFORM,
                    what: format!("stock of {what}"),
                    message: format!(
                        "expected stock_quantity {expected}, found {}",
                        have.map_or("none (stock not managed)".into(), |q| q.to_string())
                    ),
                }));
                continue;
            }
            let want = fields
                .get("stock_quantity")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if have == Some(want) {
                results[i] = Some(BatchResult::Applied(WriteOutcome {
                    target_id: id,
                    version: None,
                    document: None,
                    children: Vec::new(),
                    applied: false,
                    created: false,
                }));
                continue;
            }
            read_before.insert(i, rec.clone());
            updates.push((
                i,
                json!({
                    "id": id.parse::<u64>().unwrap_or(0),
                    "manage_stock": true,
                    "stock_quantity": want,
                    "meta_data": [{"key": MARKER, "value": key}],
                }),
            ));
        } else {
            let mut body = fields.clone();
            match (record, it["id"].as_str()) {
                (Some(rec), _) => {
                    let id = rec.get("id").and_then(Value::as_u64).unwrap_or(0);
                    body.insert("id".into(), json!(id));
                    updates.push((i, Value::Object(body)));
                }
                // Known to weft, gone from WooCommerce: never recreated behind the merchant.
                (None, Some(id)) => {
                    results[i] = Some(BatchResult::Failed(ConnectorError::Permanent {
                        system: PLATFORM,
                        status: 404,
                        code: "woocommerce_rest_product_invalid_id".into(),
                        message: format!("product {id} no longer exists in WooCommerce"),
                    }));
                }
                // A product weft creates manages its stock from the start (at 0 until weft
                // sets it): its level is read with it, and that reading plans the stock write.
                (None, None) => {
                    body.entry("manage_stock").or_insert(json!(true));
                    body.entry("stock_quantity").or_insert(json!(0));
                    creates.push((i, Value::Object(body)))
                }
            }
        }
    }
    if creates.is_empty() && updates.is_empty() {
        return Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(BatchResult::NotApplied))
            .collect());
    }
    let body = json!({
        "create": creates.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "update": updates.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
    });
    let answer = post_batch(client, &coll, body).await?;
    let mut corrections = Vec::new();
    for (list, sent) in [("create", &creates), ("update", &updates)] {
        let got = answer[list].as_array().cloned().unwrap_or_default();
        for (k, (i, _)) in sent.iter().enumerate() {
            let r = match got.get(k) {
                None => BatchResult::Failed(ConnectorError::Transport {
                    system: PLATFORM,
                    message: format!("the batch answer has no {list}[{k}]"),
                    retryable: false,
                }),
                Some(doc) if doc.get("error").is_some_and(|e| !e.is_null()) => {
                    let e = item_error(&doc["error"]);
                    // A create whose SKU exists already (another writer won): the retry
                    // finds it by SKU and updates it.
                    let e = match e {
                        ConnectorError::Permanent { code, message, .. }
                            if code == "product_invalid_sku" && list == "create" =>
                        {
                            ConnectorError::Retryable {
                                system: PLATFORM,
                                status: Some(400),
                                message: format!("{code}: {message}"),
                                retry_after: None,
                            }
                        }
                        e => e,
                    };
                    BatchResult::Failed(e)
                }
                Some(doc) => {
                    let stock = items[*i]["op"] == "stock";
                    if stock && let Some(before) = read_before.get(i) {
                        let set = items[*i]["fields"]["stock_quantity"].as_i64().unwrap_or(0);
                        let sold = sales_in_window(before, doc, set);
                        if sold > 0 {
                            corrections.push((*i, set - sold));
                        }
                    }
                    BatchResult::Applied(outcome(doc, stock))
                }
            };
            results[*i] = Some(r);
        }
    }
    if !corrections.is_empty() {
        // Sales that landed between the read and the write: take their units off again, so
        // the level moves by them after the write (the next reading shows it as a change).
        let update: Vec<Value> = corrections
            .iter()
            .map(|(i, q)| {
                json!({"id": items[*i]["id"].as_str().and_then(|s| s.parse::<u64>().ok())
                    .or_else(|| match &results[*i] { Some(BatchResult::Applied(o)) => o.target_id.parse().ok(), _ => None }),
                    "stock_quantity": q})
            })
            .collect();
        tracing::warn!(
            count = update.len(),
            "woocommerce sales landed between a stock read and its write; re-applied"
        );
        if let Err(e) = client
            .post(&format!("{coll}/batch"), &json!({"update": update}))
            .await
        {
            tracing::warn!(error = %e, "could not re-apply sales overwritten by a stock write; the next poll re-reads the level");
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or(BatchResult::NotApplied))
        .collect())
}

/// The limit a 413 `woocommerce_rest_request_entity_too_large` names ("Unable to accept more
/// than N items for this request."), when a site lowered it below [`MAX_BATCH`].
pub fn batch_limit_of(e: &ConnectorError) -> Option<usize> {
    match e {
        ConnectorError::Permanent {
            status: 413,
            code,
            message,
            ..
        } if code == "woocommerce_rest_request_entity_too_large" => message
            .split_whitespace()
            .find_map(|w| w.parse::<usize>().ok())
            .filter(|n| *n > 0),
        _ => None,
    }
}

/// Posts `{create, update}` to `{coll}/batch`; a site whose batch limit is below
/// [`MAX_BATCH`] (the `woocommerce_rest_batch_items_limit` filter) answers 413 naming its
/// limit, and the same items are sent again in calls of that size, answers joined in order.
async fn post_batch(client: &WooClient, coll: &str, body: Value) -> Result<Value, ConnectorError> {
    let path = format!("{coll}/batch");
    let e = match client.post(&path, &body).await {
        Ok(answer) => return Ok(answer),
        Err(e) => e,
    };
    let Some(limit) = batch_limit_of(&e) else {
        return Err(e);
    };
    let mut items: Vec<(&str, Value)> = Vec::new();
    for list in ["create", "update"] {
        for v in body[list].as_array().into_iter().flatten() {
            items.push((list, v.clone()));
        }
    }
    let mut joined = json!({"create": [], "update": []});
    for chunk in items.chunks(limit) {
        let mut part = json!({"create": [], "update": []});
        for (list, v) in chunk {
            part[*list]
                .as_array_mut()
                .expect("an array")
                .push(v.clone());
        }
        let answer = client.post(&path, &part).await?;
        for list in ["create", "update"] {
            let got = answer[list].as_array().cloned().unwrap_or_default();
            joined[list].as_array_mut().expect("an array").extend(got);
        }
    }
    Ok(joined)
}

/// WooCommerce's codes for a record that is not there (or is in the trash already): a delete
/// that meets one has nothing left to do.
pub const GONE_CODES: [&str; 5] = [
    "woocommerce_rest_product_invalid_id",
    "woocommerce_rest_product_variation_invalid_id",
    "woocommerce_rest_already_trashed",
    // Customers: WooCommerce 9.x (404), and older versions (400).
    "wc_user_invalid_id",
    "woocommerce_rest_invalid_id",
];

/// Whether a delete's error says its record is gone already.
pub fn is_gone(e: &ConnectorError) -> bool {
    matches!(
        e,
        ConnectorError::Permanent { status: 400 | 404 | 410, code, .. }
            if GONE_CODES.contains(&code.as_str())
    )
}

/// The code `DELETE products/{id}` answers for a variation's id.
const VARIATION_ON_PRODUCTS: &str = "woocommerce_rest_invalid_product_id";

/// A delete's answer, or nothing when the record was gone already.
async fn delete_call(
    client: &WooClient,
    path: &str,
    force: bool,
) -> Result<Option<Value>, ConnectorError> {
    let q = if force {
        vec![("force".to_owned(), "true".to_owned())]
    } else {
        Vec::new()
    };
    match client.delete(path, &q).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A customer deletion's refusal by the user's role (WooCommerce answers it 401, "Sorry,
/// users with administrator role cannot be deleted via this endpoint…") is the record's
/// failure, not refused credentials: it is kept as a permanent error that is no
/// [`ConnectorError::is_auth_failure`].
pub fn role_refusal(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Permanent {
            system,
            status: 401 | 403,
            code,
            message,
        } if code == "woocommerce_rest_cannot_delete" && message.contains(" role") => {
            ConnectorError::Permanent {
                system,
                status: 400,
                code,
                message,
            }
        }
        e => e,
    }
}

/// The numeric id a delete names.
fn delete_id(cmd: &WriteCommand) -> Result<u64, ConnectorError> {
    let id = cmd
        .target_id
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_field(PLATFORM, "target_id", "not a WooCommerce id"))
}

/// Deletes variation `id` of `parent` for good, then trashes the parent when it is a variable
/// product with no variation left.
async fn delete_variation(client: &WooClient, parent: u64, id: u64) -> Result<(), ConnectorError> {
    delete_call(client, &format!("products/{parent}/variations/{id}"), true).await?;
    let product = match client.get(&format!("products/{parent}"), &[]).await {
        Ok(p) => p,
        Err(e) if is_gone(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    let empty = product.get("type").and_then(Value::as_str) == Some("variable")
        && product.get("status").and_then(Value::as_str) != Some("trash")
        && product
            .get("variations")
            .and_then(Value::as_array)
            .is_some_and(|v| v.is_empty());
    if empty {
        tracing::info!(
            product = parent,
            variation = id,
            "woocommerce variable product has no variation left; moving it to the trash"
        );
        delete_call(client, &format!("products/{parent}"), false).await?;
    }
    Ok(())
}

/// Removes a product, a variation or a customer (see "Deletes" in the module's header).
async fn delete(client: &WooClient, cmd: &WriteCommand) -> Result<WriteOutcome, ConnectorError> {
    let id = delete_id(cmd)?;
    match cmd.kind {
        EntityKind::Customer => {
            delete_call(client, &format!("customers/{id}"), true)
                .await
                .map_err(role_refusal)?;
        }
        EntityKind::Product | EntityKind::Variant => match parent_of(&cmd.body) {
            0 => match delete_call(client, &format!("products/{id}"), false).await {
                Ok(_) => {}
                // A variation whose parent the body did not name: its own document does.
                Err(ConnectorError::Permanent { code, .. }) if code == VARIATION_ON_PRODUCTS => {
                    let v = client.get(&format!("products/{id}"), &[]).await?;
                    match parent_of(&v) {
                        0 => {
                            return Err(bad_field(
                                PLATFORM,
                                "target_id",
                                "WooCommerce calls it a variation but names no parent",
                            ));
                        }
                        parent => delete_variation(client, parent, id).await?,
                    }
                }
                Err(e) => return Err(e),
            },
            parent => delete_variation(client, parent, id).await?,
        },
        _ => return Err(unsupported(PLATFORM, cmd)),
    }
    // The shape a `…deleted` delivery and the poll journal: `{"id", "weft_deleted": true}`.
    Ok(WriteOutcome::removed(&id.to_string(), crate::now_version()))
}

/// Performs one write.
pub async fn execute(
    client: &WooClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    if is_batchable(cmd) {
        let (calls, mut failed) = plan(std::slice::from_ref(cmd));
        if let Some((_, e)) = failed.pop() {
            return Err(e);
        }
        let call = calls
            .into_iter()
            .next()
            .ok_or_else(|| missing(PLATFORM, "body", cmd))?;
        return match send(client, &call.input).await?.into_iter().next() {
            Some(BatchResult::Applied(o)) => Ok(o),
            Some(BatchResult::Failed(e)) => Err(e),
            _ => Err(ConnectorError::Retryable {
                system: PLATFORM,
                status: None,
                message: "the write was not applied".into(),
                retry_after: None,
            }),
        };
    }
    match (cmd.kind, cmd.op) {
        (EntityKind::Product | EntityKind::Variant | EntityKind::Customer, WriteOp::Delete) => {
            delete(client, cmd).await
        }
        (EntityKind::Customer, WriteOp::Upsert) => {
            let id = cmd
                .target_id
                .clone()
                .or_else(|| cmd.body.get("id").and_then(id_text))
                .ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
            let mut body = cmd.body.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("id");
            }
            let doc = client.put(&format!("customers/{id}"), &body).await?;
            Ok(WriteOutcome {
                target_id: id,
                version: version_of(&doc),
                document: Some(doc),
                children: Vec::new(),
                applied: true,
                created: false,
            })
        }
        _ => Err(unsupported(PLATFORM, cmd)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(id: &str, q: i64) -> WriteCommand {
        WriteCommand {
            system: "woocommerce".into(),
            kind: EntityKind::InventoryLevel,
            op: WriteOp::SetQuantity,
            target_id: Some(id.into()),
            external_id: None,
            body: json!({"sku": format!("S{id}"), "stock_quantity": q}),
            idempotency_key: format!("k{id}"),
            expected_quantity: Some(1),
        }
    }

    #[test]
    fn calls_split_at_the_limit_and_by_endpoint() {
        let mut cmds: Vec<WriteCommand> =
            (0..250).map(|i| stock(&(100 + i).to_string(), 3)).collect();
        let mut v = stock("9000", 2);
        v.body["parent_id"] = json!(50);
        cmds.push(v);
        let (calls, failed) = plan(&cmds);
        assert!(failed.is_empty());
        let sizes: Vec<usize> = calls.iter().map(|c| c.members.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50, 1]);
        assert_eq!(calls[3].input["parent"], 50);
        assert_eq!(calls[0].input["items"][0]["key"], "k100");
        assert_eq!(calls[0].input["items"][0]["expected"], 1);
        let sub = subset(&calls[2].input, &[1, 3]);
        assert_eq!(sub["items"].as_array().unwrap().len(), 2);
        assert_eq!(sub["items"][1]["id"], "303");
    }

    #[test]
    fn deletes_are_done_when_the_record_is_gone_and_a_role_refusal_is_the_record_s() {
        let err = |status: u16, code: &str| ConnectorError::Permanent {
            system: PLATFORM,
            status,
            code: code.into(),
            message: "x".into(),
        };
        assert!(is_gone(&err(404, "woocommerce_rest_product_invalid_id")));
        assert!(is_gone(&err(
            404,
            "woocommerce_rest_product_variation_invalid_id"
        )));
        assert!(is_gone(&err(410, "woocommerce_rest_already_trashed")));
        assert!(is_gone(&err(404, "wc_user_invalid_id")));
        assert!(is_gone(&err(400, "woocommerce_rest_invalid_id")));
        // A missing route or a variation sent to the products endpoint is no deletion.
        assert!(!is_gone(&err(404, "rest_no_route")));
        assert!(!is_gone(&err(404, "woocommerce_rest_invalid_product_id")));
        assert!(!is_gone(&err(401, "woocommerce_rest_cannot_delete")));

        let role = ConnectorError::Permanent {
            system: PLATFORM,
            status: 401,
            code: "woocommerce_rest_cannot_delete".into(),
            message: "Sorry, users with administrator role cannot be deleted via this endpoint. \
                Allowed roles: customer, subscriber"
                .into(),
        };
        assert!(role.is_auth_failure());
        let e = role_refusal(role);
        assert!(!e.is_auth_failure() && !e.is_outage(), "{e:?}");
        let creds = err(401, "woocommerce_rest_cannot_delete");
        assert!(
            role_refusal(creds).is_auth_failure(),
            "refused credentials stay so"
        );
    }

    #[test]
    fn sales_in_the_window_show_in_total_sales() {
        let before = json!({"total_sales": 4, "manage_stock": true, "stock_quantity": 10});
        let after = json!({"total_sales": 6, "manage_stock": true, "stock_quantity": 20});
        assert_eq!(sales_in_window(&before, &after, 20), 2);
        assert_eq!(sales_in_window(&before, &after, 21), 0);
        assert_eq!(sales_in_window(&before, &before, 10), 0);
    }
}
