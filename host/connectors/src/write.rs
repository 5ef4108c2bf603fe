//! Executes one write command against the right platform API.
//!
//! The engine's outbox holds [`WriteCommand`]s (what a mapping plugin's `from-canonical`
//! returned, plus the host's idempotency key and compare-and-set guard). [`Connectors::execute`]
//! turns one into the platform call that makes it idempotent:
//!
//! | system | kind | op | call |
//! |---|---|---|---|
//! | shopify | product | upsert | `productSet` (id from `target_id`, else looked up by handle) |
//! | shopify | variant, price | upsert | `productVariantsBulkUpdate` (needs `product_id`) |
//! | shopify | inventory-level | set-quantity | `inventorySetQuantities`, `changeFromQuantity` = `expected_quantity`; `@idempotent(key: idempotency_key)`; many in one call with [`Connectors::plan_inventory_calls`] and [`Connectors::send_inventory_call`] |
//! | shopify | inventory-level | adjust-quantity | `inventoryAdjustQuantities` `@idempotent(key: idempotency_key)` |
//! | shopify | customer | upsert | `customerUpdate` (id from `target_id`, else found by email) or `customerCreate` |
//! | netsuite | product, variant, price | upsert | `PUT inventoryItem/eid:{external_id}` |
//! | netsuite | customer | upsert | `PUT customer/eid:{external_id}` |
//! | netsuite | order | upsert | `PUT salesOrder/eid:{external_id}` |
//! | netsuite | inventory-level | adjust-quantity | `PUT inventoryAdjustment/eid:{external id from the key}` |
//! | netsuite | inventory-level | set-quantity | read `locations`, compare, then the adjustment above for the difference |
//!
//! Shopify bodies are documents in the normalized Shopify shape ([`crate::shopify::normalize`]);
//! NetSuite bodies are record JSON with NetSuite's field names.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::EntityKind;
use crate::error::{ConnectorError, InvalidRequest};
use crate::netsuite::{self, NetSuiteClient, RecordRef};
use crate::shopify::normalize::{self, gid, id_string};
use crate::shopify::{AdjustChange, QuantityChange, ShopifyClient};

/// How a write changes the target (the WIT `write-op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteOp {
    /// Create or update, keyed by external id (NetSuite) or target id (Shopify).
    Upsert,
    /// Set an absolute quantity with compare-and-set.
    SetQuantity,
    /// Add a signed delta, idempotent by key.
    AdjustQuantity,
}

impl WriteOp {
    /// The WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Upsert => "upsert",
            WriteOp::SetQuantity => "set-quantity",
            WriteOp::AdjustQuantity => "adjust-quantity",
        }
    }
}

/// One write to perform.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCommand {
    /// Target system: "shopify" or "netsuite".
    pub system: String,
    /// What is written.
    pub kind: EntityKind,
    /// How it is written.
    pub op: WriteOp,
    /// The target's id, when known from the cross-reference table. For inventory levels on
    /// Shopify the body's ids are used instead; on NetSuite it is the item's internal id.
    pub target_id: Option<String>,
    /// The NetSuite external id to upsert under.
    pub external_id: Option<String>,
    /// The payload (see the module table).
    pub body: Value,
    /// The outbox row's idempotency key (stable across retries of this write).
    pub idempotency_key: String,
    /// For set-quantity: the quantity the target held when the write was computed
    /// (`changeFromQuantity`). `None` sets without a guard.
    pub expected_quantity: Option<i64>,
}

/// Most quantities one Shopify `inventorySetQuantities` call takes: Shopify caps every array
/// input at 250 items (the simulator answers `MAX_INPUT_SIZE_EXCEEDED` above that).
pub const SHOPIFY_MAX_QUANTITIES: usize = 250;

impl WriteCommand {
    /// Whether this command can share one platform call with others like it: Shopify
    /// set-quantity writes of inventory levels ([`Connectors::plan_inventory_calls`]).
    pub fn is_batchable(&self) -> bool {
        self.system == SHOPIFY
            && self.kind == EntityKind::InventoryLevel
            && self.op == WriteOp::SetQuantity
    }
}

/// A cross-reference learned from a write (e.g. the ids Shopify gave new variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildId {
    /// The child's kind.
    pub kind: EntityKind,
    /// Its natural key (the SKU for variants).
    pub key: String,
    /// The target's id for it.
    pub id: String,
    /// For Shopify variants, the inventory item id.
    pub inventory_item_id: Option<String>,
}

/// What a successful write left on the target.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    /// The target's id of the written record (for inventory levels: `item@location` on
    /// Shopify, the adjustment's internal id on NetSuite).
    pub target_id: String,
    /// The target's new version (Shopify `updated_at`, NetSuite `lastModifiedDate`) when the
    /// response tells it, so the engine can recognise the echo of its own write.
    pub version: Option<String>,
    /// The record as the target now holds it (normalized for Shopify), when returned.
    pub document: Option<Value>,
    /// Ids of children created or matched by the write.
    pub children: Vec<ChildId>,
    /// False when nothing needed writing (e.g. a NetSuite set-quantity already satisfied).
    pub applied: bool,
}

/// The connectors of one store.
#[derive(Debug, Clone, Default)]
pub struct Connectors {
    /// The store's Shopify client.
    pub shopify: Option<Arc<ShopifyClient>>,
    /// The store's NetSuite client.
    pub netsuite: Option<Arc<NetSuiteClient>>,
}

fn missing(system: &'static str, field: &'static str, cmd: &WriteCommand) -> ConnectorError {
    ConnectorError::invalid(
        system,
        InvalidRequest::Missing {
            field,
            kind: cmd.kind.to_string(),
            op: cmd.op.as_str().to_owned(),
        },
    )
}

fn unsupported(system: &'static str, cmd: &WriteCommand) -> ConnectorError {
    ConnectorError::invalid(
        system,
        InvalidRequest::Unsupported {
            system: system.to_owned(),
            kind: cmd.kind.to_string(),
            op: cmd.op.as_str().to_owned(),
        },
    )
}

fn bad_field(system: &'static str, field: &str, reason: &str) -> ConnectorError {
    ConnectorError::invalid(
        system,
        InvalidRequest::BadField {
            field: field.to_owned(),
            reason: reason.to_owned(),
        },
    )
}

/// A required decimal id from the body.
fn body_id(
    system: &'static str,
    cmd: &WriteCommand,
    field: &'static str,
) -> Result<String, ConnectorError> {
    let v = cmd
        .body
        .get(field)
        .ok_or_else(|| missing(system, field, cmd))?;
    id_string(v).ok_or_else(|| bad_field(system, field, "not a numeric id or gid"))
}

fn body_i64(
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

impl Connectors {
    /// Performs `cmd` against its target system.
    pub async fn execute(&self, cmd: &WriteCommand) -> Result<WriteOutcome, ConnectorError> {
        match cmd.system.as_str() {
            "shopify" => {
                let c = self.shopify.as_deref().ok_or_else(|| {
                    bad_field("shopify", "system", "this store has no shopify connection")
                })?;
                execute_shopify(c, cmd).await
            }
            "netsuite" => {
                let c = self.netsuite.as_deref().ok_or_else(|| {
                    bad_field(
                        "netsuite",
                        "system",
                        "this store has no netsuite connection",
                    )
                })?;
                execute_netsuite(c, cmd).await
            }
            other => Err(ConnectorError::invalid(
                "shopify",
                InvalidRequest::Unsupported {
                    system: other.to_owned(),
                    kind: cmd.kind.to_string(),
                    op: cmd.op.as_str().to_owned(),
                },
            )),
        }
    }
}

/// One Shopify `inventorySetQuantities` call, built but not sent
/// ([`Connectors::plan_inventory_calls`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryCall {
    /// The planned commands it carries (positions in the slice that was planned), in the order
    /// of the input's quantities.
    pub members: Vec<usize>,
    /// The mutation's `input`, exactly as it is to be sent. A durable caller saves it before
    /// sending, so a call whose response was lost can be sent again unchanged.
    pub input: Value,
}

/// What an answered `inventorySetQuantities` call did to one of its quantities
/// ([`Connectors::send_inventory_call`]).
#[derive(Debug, Clone)]
pub enum QuantityResult {
    /// Set: what [`Connectors::execute`] would have returned for it alone.
    Applied(WriteOutcome),
    /// Refused: its own error (a stale guard is [`ConnectorError::Stale`]); an error naming no
    /// quantity is every quantity's.
    Failed(ConnectorError),
    /// Not applied because other quantities of the call were refused (Shopify applies a call
    /// all or nothing): send it again, in a new call without those.
    NotApplied,
}

impl Connectors {
    /// Plans Shopify inventory set-quantity commands ([`WriteCommand::is_batchable`]) into as
    /// few `inventorySetQuantities` calls as [`SHOPIFY_MAX_QUANTITIES`] allows, each quantity
    /// keeping its own compare-and-set guard, guarded and unguarded quantities in separate
    /// calls and each inventory level at most once per call. Commands that cannot be planned
    /// (no Shopify connection, not batchable, an inventory item that cannot be resolved) are
    /// returned with their error instead.
    ///
    /// Nothing is sent. Send each call with [`Connectors::send_inventory_call`] under an
    /// idempotency key that stays the same until the call is answered: the dispatcher saves
    /// the call first and re-sends exactly it after a lost response or a crash, so a call
    /// Shopify applied is never applied again (its compare-and-set guard alone cannot tell:
    /// an order may have moved the quantity back to the guarded value meanwhile).
    pub async fn plan_inventory_calls(
        &self,
        cmds: &[WriteCommand],
    ) -> (Vec<InventoryCall>, Vec<(usize, ConnectorError)>) {
        match self.shopify.as_deref() {
            Some(c) => plan_inventory_calls(c, cmds).await,
            None => {
                let e = bad_field(SHOPIFY, "system", "this store has no shopify connection");
                (
                    Vec::new(),
                    (0..cmds.len()).map(|i| (i, e.clone())).collect(),
                )
            }
        }
    }

    /// Sends one planned `inventorySetQuantities` call ([`InventoryCall::input`]) with
    /// `@idempotent(key: idempotency_key)`. Sending the same input under the same key again
    /// returns the original answer and applies nothing.
    ///
    /// `Ok`: Shopify answered; one result per quantity of `input`, in order. `Err`: the call
    /// was not answered (throttled, transport failure, 5xx, the key in use by a concurrent
    /// request, a malformed call): whether it applied is unknown, so the only safe next step is
    /// to send the same input under the same key again.
    pub async fn send_inventory_call(
        &self,
        input: &Value,
        idempotency_key: &str,
    ) -> Result<Vec<QuantityResult>, ConnectorError> {
        let c = self
            .shopify
            .as_deref()
            .ok_or_else(|| bad_field(SHOPIFY, "system", "this store has no shopify connection"))?;
        send_inventory_call(c, input, idempotency_key).await
    }
}

/// [`Connectors::plan_inventory_calls`] on `c`.
async fn plan_inventory_calls(
    c: &ShopifyClient,
    cmds: &[WriteCommand],
) -> (Vec<InventoryCall>, Vec<(usize, ConnectorError)>) {
    let mut failed = Vec::new();
    let mut queue: VecDeque<Pending> = VecDeque::new();
    for (i, cmd) in cmds.iter().enumerate() {
        if !cmd.is_batchable() {
            failed.push((i, unsupported(SHOPIFY, cmd)));
            continue;
        }
        match quantity_change(c, cmd).await {
            Ok(q) => queue.push_back((i, q)),
            Err(e) => failed.push((i, e)),
        }
    }
    let mut calls = Vec::new();
    while !queue.is_empty() {
        let chunk = next_chunk(&mut queue);
        let changes: Vec<QuantityChange> = chunk.iter().map(|(_, q)| q.clone()).collect();
        let reference = format!("weft://write/{}", cmds[chunk[0].0].idempotency_key);
        calls.push(InventoryCall {
            members: chunk.iter().map(|(i, _)| *i).collect(),
            input: c.inventory_set_quantities_input(&changes, "correction", Some(&reference)),
        });
    }
    (calls, failed)
}

/// [`Connectors::send_inventory_call`] on `c`.
async fn send_inventory_call(
    c: &ShopifyClient,
    input: &Value,
    idempotency_key: &str,
) -> Result<Vec<QuantityResult>, ConnectorError> {
    const MUTATION: &str = "inventorySetQuantities";
    if idempotency_key.is_empty() {
        return Err(bad_field(
            SHOPIFY,
            "idempotency_key",
            "an inventory call needs an idempotency key",
        ));
    }
    let quantities = input
        .get("quantities")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_field(SHOPIFY, "quantities", "not a list"))?;
    let levels: Vec<(String, String)> = quantities
        .iter()
        .map(|q| {
            let id = |f: &str| q.get(f).and_then(id_string).unwrap_or_default();
            (id("inventoryItemId"), id("locationId"))
        })
        .collect();
    let payload = c
        .inventory_set_quantities_send(input, Some(idempotency_key))
        .await
        .map_err(|e| match e {
            // Another request with this key has not finished: ask again later.
            ConnectorError::Permanent {
                system,
                status,
                code,
                message,
            } if code == "IDEMPOTENCY_CONCURRENT_REQUEST" => ConnectorError::Retryable {
                system,
                status: Some(status),
                message: format!("{code}: {message}"),
                retry_after: None,
            },
            other => other,
        })?;
    let errors: Vec<Value> = payload
        .get("userErrors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if errors.is_empty() {
        // The adjustment group's time is the levels' new `updatedAt` (one shop clock): the
        // version under which the engine places this write among readings of the levels.
        let version = payload
            .pointer("/inventoryAdjustmentGroup/createdAt")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| normalize::format_ts(t.with_timezone(&chrono::Utc)));
        return Ok(levels
            .iter()
            .map(|(item, location)| {
                QuantityResult::Applied(WriteOutcome {
                    target_id: normalize::inventory_level_doc_id(item, location),
                    version: version.clone(),
                    document: None,
                    children: Vec::new(),
                    applied: true,
                })
            })
            .collect());
    }
    // Which quantities the errors name, by position in this call.
    let mut named: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    let mut unattributed = false;
    for e in errors {
        match quantity_index(&e).filter(|k| *k < levels.len()) {
            Some(k) => named.entry(k).or_default().push(e),
            None => unattributed = true,
        }
    }
    if unattributed || named.is_empty() {
        let e = user_error(&payload, MUTATION);
        return Ok(levels
            .iter()
            .map(|_| QuantityResult::Failed(e.clone()))
            .collect());
    }
    Ok(levels
        .iter()
        .enumerate()
        .map(|(k, (item, location))| match named.remove(&k) {
            Some(errs) => {
                QuantityResult::Failed(match user_error(&json!({ "userErrors": errs }), MUTATION) {
                    ConnectorError::Stale {
                        system, message, ..
                    } => ConnectorError::Stale {
                        system,
                        what: format!("inventory level {item}@{location}"),
                        message,
                    },
                    other => other,
                })
            }
            None => QuantityResult::NotApplied,
        })
        .collect())
}

/// The input of a call like `input` carrying only its quantities at `positions` (in that
/// order), each exactly as `input` had it: the follow-up of a call Shopify refused because of
/// other quantities.
pub fn inventory_call_subset(input: &Value, positions: &[usize]) -> Value {
    let mut out = input.clone();
    let quantities: Vec<Value> = input
        .get("quantities")
        .and_then(Value::as_array)
        .map(|qs| {
            positions
                .iter()
                .filter_map(|p| qs.get(*p).cloned())
                .collect()
        })
        .unwrap_or_default();
    out["quantities"] = Value::Array(quantities);
    out
}

// -------------------------------------------------------------------------------------------
// Shopify
// -------------------------------------------------------------------------------------------

const SHOPIFY: &str = "shopify";

/// Copies `src` (normalized name) to `dst` (GraphQL name) when present in the body.
fn copy_field(body: &Value, out: &mut Map<String, Value>, src: &str, dst: &str) {
    if let Some(v) = body.get(src) {
        out.insert(dst.to_owned(), v.clone());
    }
}

/// What Shopify holds of a product a write merges into: its option names and its variants as
/// `{id, sku, title, selectedOptions: [{name, value}]}` ([`ShopifyClient::product_for_set`]).
pub type ExistingProduct = (Vec<String>, Vec<Value>);

/// Option values for a variant the product does not have yet: the title split on `" / "` when
/// it names every option, else the title (or SKU) for the first option and "Default" for the
/// others.
fn new_option_values(options: &[String], v: &Value, index: usize) -> Value {
    let title = v
        .get("title")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            v.get("sku")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Variant {}", index + 1));
    let parts: Vec<&str> = title.split(" / ").collect();
    let values: Vec<Value> = options
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let name = if parts.len() == options.len() {
                parts[i].to_owned()
            } else if i == 0 {
                title.clone()
            } else {
                "Default".to_owned()
            };
            json!({"optionName": o, "name": name})
        })
        .collect();
    Value::Array(values)
}

/// Builds a `ProductSetInput` from a (partial) product document in the normalized Shopify
/// shape, with patch semantics: absent scalars are not sent (left unchanged); listed variants
/// are matched to `existing` by id, else by SKU, and updated, or created; variants of
/// `existing` that the body does not list are added by id so `productSet` keeps them.
pub fn product_set_input(
    body: &Value,
    id: Option<&str>,
    existing: Option<&ExistingProduct>,
) -> Result<Value, ConnectorError> {
    let mut input = Map::new();
    if let Some(id) = id {
        input.insert("id".into(), json!(gid("Product", id)));
    }
    copy_field(body, &mut input, "title", "title");
    copy_field(body, &mut input, "body_html", "descriptionHtml");
    copy_field(body, &mut input, "vendor", "vendor");
    copy_field(body, &mut input, "product_type", "productType");
    copy_field(body, &mut input, "handle", "handle");
    if let Some(s) = body.get("status").and_then(Value::as_str) {
        input.insert("status".into(), json!(s.to_ascii_uppercase()));
    }
    if let Some(t) = body.get("tags") {
        let list: Vec<String> = normalize::tags(t)
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        input.insert("tags".into(), json!(list));
    }
    let Some(vs) = body.get("variants") else {
        return Ok(Value::Object(input));
    };
    let vs = vs
        .as_array()
        .ok_or_else(|| bad_field(SHOPIFY, "variants", "not a list"))?;
    let options: Vec<String> = match existing {
        Some((opts, _)) if !opts.is_empty() => opts.clone(),
        _ => vec!["Title".to_owned()],
    };
    let current: &[Value] = existing.map(|(_, v)| v.as_slice()).unwrap_or_default();
    let mut matched = vec![false; current.len()];
    let mut variants = Vec::new();
    let mut new_values: Vec<Value> = Vec::new();
    for (i, v) in vs.iter().enumerate() {
        let vid = v.get("id").and_then(id_string);
        let sku = v
            .get("sku")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let hit = current
            .iter()
            .position(|c| vid.is_some() && c.get("id").and_then(Value::as_str) == vid.as_deref())
            .or_else(|| {
                sku.and_then(|s| {
                    current
                        .iter()
                        .position(|c| c.get("sku").and_then(Value::as_str) == Some(s))
                })
            });
        let mut vi = Map::new();
        let option_values = match hit {
            Some(h) => {
                matched[h] = true;
                vi.insert(
                    "id".into(),
                    json!(gid(
                        "ProductVariant",
                        current[h]["id"].as_str().unwrap_or_default()
                    )),
                );
                selected_options(&current[h])
            }
            None => {
                if let Some(id) = &vid {
                    vi.insert("id".into(), json!(gid("ProductVariant", id)));
                }
                let ov = new_option_values(&options, v, i);
                if let Some(first) = ov.get(0).and_then(|o| o.get("name")) {
                    new_values.push(json!({"name": first}));
                }
                ov
            }
        };
        copy_field(v, &mut vi, "sku", "sku");
        copy_field(v, &mut vi, "price", "price");
        copy_field(v, &mut vi, "compare_at_price", "compareAtPrice");
        copy_field(v, &mut vi, "barcode", "barcode");
        vi.insert("optionValues".into(), option_values);
        variants.push(Value::Object(vi));
    }
    for (c, m) in current.iter().zip(&matched) {
        if !m {
            variants.push(json!({
                "id": gid("ProductVariant", c["id"].as_str().unwrap_or_default()),
                "optionValues": selected_options(c),
            }));
        }
    }
    if existing.is_none() {
        // A new product declares its option; an existing one keeps its own.
        input.insert(
            "productOptions".into(),
            json!([{"name": "Title", "values": new_values}]),
        );
    }
    input.insert("variants".into(), Value::Array(variants));
    Ok(Value::Object(input))
}

fn selected_options(v: &Value) -> Value {
    Value::Array(
        v.get("selectedOptions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|o| json!({"optionName": o.get("name"), "name": o.get("value")}))
            .collect(),
    )
}

fn variant_children(doc: &Value) -> Vec<ChildId> {
    doc.get("variants")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            Some(ChildId {
                kind: EntityKind::Variant,
                key: v.get("sku")?.as_str()?.to_owned(),
                id: v.get("id")?.as_str()?.to_owned(),
                inventory_item_id: v
                    .get("inventory_item_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// The inventory item of a Shopify inventory-level write: the body's `inventory_item_id`, else
/// the item part of `target_id` (`item@location`), else looked up by the body's `sku`.
async fn shopify_inventory_item(
    c: &ShopifyClient,
    cmd: &WriteCommand,
) -> Result<String, ConnectorError> {
    if let Some(v) = cmd.body.get("inventory_item_id").filter(|v| !v.is_null()) {
        return id_string(v)
            .ok_or_else(|| bad_field(SHOPIFY, "inventory_item_id", "not a numeric id or gid"));
    }
    if let Some((item, _)) = cmd.target_id.as_deref().and_then(|t| t.split_once('@')) {
        return Ok(item.to_owned());
    }
    let sku = cmd
        .body
        .get("sku")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(SHOPIFY, "inventory_item_id", cmd))?;
    c.find_variants_by_sku(sku)
        .await?
        .into_iter()
        .find_map(|(_, _, item)| item)
        .ok_or_else(|| ConnectorError::Permanent {
            system: SHOPIFY,
            status: 200,
            code: "NOT_FOUND".into(),
            message: format!("no Shopify variant has SKU `{sku}`"),
        })
}

/// One quantity of a Shopify set-quantity batch: the command's position and its change.
type Pending = (usize, QuantityChange);

/// The change a Shopify set-quantity command asks for.
async fn quantity_change(
    c: &ShopifyClient,
    cmd: &WriteCommand,
) -> Result<QuantityChange, ConnectorError> {
    Ok(QuantityChange {
        inventory_item_id: shopify_inventory_item(c, cmd).await?,
        location_id: body_id(SHOPIFY, cmd, "location_id")?,
        quantity: body_i64(SHOPIFY, cmd, "available")?,
        change_from: cmd.expected_quantity,
    })
}

/// One Shopify set-quantity command in a call of its own, sent under the command's idempotency
/// key: sending the same command again returns the original answer and applies nothing.
async fn set_quantity_shopify(
    c: &ShopifyClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    if cmd.idempotency_key.is_empty() {
        return Err(missing(SHOPIFY, "idempotency_key", cmd));
    }
    let (calls, mut failed) = plan_inventory_calls(c, std::slice::from_ref(cmd)).await;
    if let Some((_, e)) = failed.pop() {
        return Err(e);
    }
    let call = calls
        .into_iter()
        .next()
        .ok_or_else(|| bad_field(SHOPIFY, "batch", "no call planned for the quantity"))?;
    match send_inventory_call(c, &call.input, &cmd.idempotency_key)
        .await?
        .pop()
    {
        Some(QuantityResult::Applied(outcome)) => Ok(outcome),
        Some(QuantityResult::Failed(e)) => Err(e),
        Some(QuantityResult::NotApplied) | None => Err(bad_field(
            SHOPIFY,
            "batch",
            "the call neither applied nor refused the quantity",
        )),
    }
}

/// Takes the next call's quantities off `queue`: at most [`SHOPIFY_MAX_QUANTITIES`], each
/// inventory item and location once (Shopify refuses a repeated pair in one call), and either
/// all guarded or all unguarded (before API 2026-04, a call without compare quantities says so
/// for the whole call with `ignoreCompareQuantity`). The others wait for a later call, keeping
/// their place in order.
fn next_chunk(queue: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut chunk = Vec::new();
    let mut deferred = Vec::new();
    let mut seen = HashSet::new();
    let guarded = queue.front().map(|p| p.1.change_from.is_some());
    while chunk.len() < SHOPIFY_MAX_QUANTITIES {
        let Some(p) = queue.pop_front() else { break };
        if Some(p.1.change_from.is_some()) == guarded
            && seen.insert((p.1.inventory_item_id.clone(), p.1.location_id.clone()))
        {
            chunk.push(p);
        } else {
            deferred.push(p);
        }
    }
    for p in deferred.into_iter().rev() {
        queue.push_front(p);
    }
    chunk
}

/// The position of the quantity a `userError` names (`field: ["input", "quantities", "3", …]`).
fn quantity_index(error: &Value) -> Option<usize> {
    let field = error.get("field")?.as_array()?;
    if field.first()?.as_str()? != "input" || field.get(1)?.as_str()? != "quantities" {
        return None;
    }
    match field.get(2)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
    }
}

/// The typed error for a payload whose `userErrors` is not empty.
fn user_error(payload: &Value, mutation: &str) -> ConnectorError {
    match crate::shopify::check_user_errors(payload, mutation) {
        Err(e) => e,
        Ok(()) => bad_field(SHOPIFY, "userErrors", "expected at least one user error"),
    }
}

async fn execute_shopify(
    c: &ShopifyClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    match (cmd.kind, cmd.op) {
        (EntityKind::Product, WriteOp::Upsert) => {
            let mut id = cmd
                .target_id
                .clone()
                .or_else(|| cmd.body.get("id").and_then(id_string));
            let mut existing = None;
            if let Some(p) = &id {
                existing = c.product_for_set(p).await?;
                if existing.is_none() {
                    // Deleted in Shopify since weft learned its id: fall back to the SKU lookup.
                    id = None;
                }
            }
            if id.is_none() {
                // A retried create must find the product its lost response made.
                let skus = cmd
                    .body
                    .get("variants")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v.get("sku").and_then(Value::as_str))
                    .filter(|s| !s.is_empty());
                for sku in skus {
                    let found = c.find_variants_by_sku(sku).await?;
                    if let Some((_, product, _)) = found.into_iter().next() {
                        existing = c.product_for_set(&product).await?;
                        if existing.is_some() {
                            id = Some(product);
                            break;
                        }
                    }
                }
            }
            let input = product_set_input(&cmd.body, id.as_deref(), existing.as_ref())?;
            let d = c.product_set(input).await?;
            Ok(WriteOutcome {
                target_id: d.id,
                version: Some(d.updated_at),
                children: variant_children(&d.body),
                document: Some(d.body),
                applied: true,
            })
        }
        (EntityKind::Variant | EntityKind::Price, WriteOp::Upsert) => {
            let variant_id = match &cmd.target_id {
                Some(t) => t.clone(),
                None => body_id(SHOPIFY, cmd, "id")?,
            };
            let product_id = body_id(SHOPIFY, cmd, "product_id")?;
            let mut vi = Map::new();
            vi.insert("id".into(), json!(gid("ProductVariant", &variant_id)));
            copy_field(&cmd.body, &mut vi, "price", "price");
            copy_field(&cmd.body, &mut vi, "compare_at_price", "compareAtPrice");
            if cmd.kind == EntityKind::Variant {
                copy_field(&cmd.body, &mut vi, "barcode", "barcode");
                if let Some(sku) = cmd.body.get("sku") {
                    vi.insert("inventoryItem".into(), json!({"sku": sku}));
                }
            }
            let (variants, product_updated) = c
                .variants_bulk_update(&product_id, json!([Value::Object(vi)]))
                .await?;
            let doc = variants
                .into_iter()
                .find(|v| v.get("id").and_then(Value::as_str) == Some(variant_id.as_str()));
            let version = doc
                .as_ref()
                .and_then(|d| d.get("updated_at"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(product_updated);
            Ok(WriteOutcome {
                target_id: variant_id,
                version,
                document: doc,
                children: Vec::new(),
                applied: true,
            })
        }
        (EntityKind::InventoryLevel, WriteOp::SetQuantity) => set_quantity_shopify(c, cmd).await,
        (EntityKind::InventoryLevel, WriteOp::AdjustQuantity) => {
            let item = body_id(SHOPIFY, cmd, "inventory_item_id")?;
            let location = body_id(SHOPIFY, cmd, "location_id")?;
            let delta = body_i64(SHOPIFY, cmd, "delta")?;
            if cmd.idempotency_key.is_empty() {
                return Err(missing(SHOPIFY, "idempotency_key", cmd));
            }
            let group = c
                .inventory_adjust_quantities(
                    &[AdjustChange {
                        inventory_item_id: item.clone(),
                        location_id: location.clone(),
                        delta,
                    }],
                    "correction",
                    &cmd.idempotency_key,
                )
                .await?;
            Ok(WriteOutcome {
                target_id: normalize::inventory_level_doc_id(&item, &location),
                version: None,
                document: Some(group),
                children: Vec::new(),
                applied: true,
            })
        }
        (EntityKind::Customer, WriteOp::Upsert) => {
            let mut input = Map::new();
            copy_field(&cmd.body, &mut input, "email", "email");
            copy_field(&cmd.body, &mut input, "first_name", "firstName");
            copy_field(&cmd.body, &mut input, "last_name", "lastName");
            copy_field(&cmd.body, &mut input, "phone", "phone");
            if let Some(t) = cmd.body.get("tags") {
                let list: Vec<String> = normalize::tags(t)
                    .split(", ")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                input.insert("tags".into(), json!(list));
            }
            let mut id = cmd
                .target_id
                .clone()
                .or_else(|| cmd.body.get("id").and_then(id_string));
            if id.is_none()
                && let Some(email) = cmd.body.get("email").and_then(Value::as_str)
            {
                // Creating is not idempotent: find a customer a lost response already made.
                id = c.find_customer_by_email(email).await?.map(|d| d.id);
            }
            let d = match id {
                Some(id) => {
                    input.insert("id".into(), json!(gid("Customer", &id)));
                    c.customer_update(Value::Object(input)).await?
                }
                None => c.customer_create(Value::Object(input)).await?,
            };
            Ok(WriteOutcome {
                target_id: d.id,
                version: Some(d.updated_at),
                document: Some(d.body),
                children: Vec::new(),
                applied: true,
            })
        }
        _ => Err(unsupported(SHOPIFY, cmd)),
    }
}

// -------------------------------------------------------------------------------------------
// NetSuite
// -------------------------------------------------------------------------------------------

const NETSUITE: &str = "netsuite";

/// The record type a kind is written as on NetSuite.
pub fn netsuite_record_type(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Product | EntityKind::Variant | EntityKind::Price => "inventoryItem",
        EntityKind::Customer => "customer",
        EntityKind::Order => "salesOrder",
        EntityKind::InventoryLevel => "inventoryAdjustment",
    }
}

/// The external id of the inventory adjustment made for an idempotency key: the key itself,
/// with characters NetSuite does not allow in external ids written `-`.
pub fn adjustment_external_id(idempotency_key: &str) -> String {
    netsuite::sanitize_external_id(idempotency_key)
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
        .and_then(netsuite::cdc::parse_netsuite_date)
        .map(normalize::format_ts);
    Ok(WriteOutcome {
        target_id: id,
        version,
        document: rec,
        children: Vec::new(),
        applied: true,
    })
}

async fn execute_netsuite(
    c: &NetSuiteClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    match (cmd.kind, cmd.op) {
        (
            EntityKind::Product
            | EntityKind::Variant
            | EntityKind::Price
            | EntityKind::Customer
            | EntityKind::Order,
            WriteOp::Upsert,
        ) => {
            let record_type = netsuite_record_type(cmd.kind);
            let ext = cmd.external_id.clone().or_else(|| {
                cmd.body
                    .get("externalId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            match (ext, &cmd.target_id) {
                (Some(ext), _) => upsert_and_read(c, record_type, &ext, &cmd.body).await,
                // The record exists without an external id: PATCH it by internal id (the body
                // sets `externalId`, so later writes upsert by it).
                (None, Some(id)) => {
                    let r = RecordRef::Id(id.clone());
                    c.update_record(record_type, &r, &cmd.body).await?;
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
        _ => Err(unsupported(NETSUITE, cmd)),
    }
}

/// NetSuite quantities change only through adjustments: read the item's on-hand quantity at
/// the location, check the guard, and post an adjustment for the difference under an external
/// id derived from the idempotency key (a retry finds the adjustment it already made).
async fn set_quantity_netsuite(
    c: &NetSuiteClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
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
            .and_then(netsuite::cdc::parse_netsuite_date)
            .map(normalize::format_ts);
        return Ok(WriteOutcome {
            target_id: id,
            version,
            document: Some(done),
            children: Vec::new(),
            applied: true,
        });
    }
    let item_id = match &cmd.target_id {
        Some(t) => t.clone(),
        None => body_id(NETSUITE, cmd, "item_id")?,
    };
    let location = body_id(NETSUITE, cmd, "location_id")?;
    let quantity = body_i64(NETSUITE, cmd, "quantity_on_hand")?;
    let item = c
        .get_record("inventoryItem", &RecordRef::Id(item_id.clone()))
        .await?
        .ok_or_else(|| ConnectorError::Permanent {
            system: NETSUITE,
            status: 404,
            code: "RECORD_NOT_FOUND".into(),
            message: format!("inventoryItem {item_id} does not exist"),
        })?;
    let current = netsuite::inventory_level_docs(&item)
        .into_iter()
        .find(|d| d["location_id"].as_str() == Some(location.as_str()))
        .and_then(|d| d["quantity_on_hand"].as_f64())
        .map(|q| q.round() as i64)
        .unwrap_or(0);
    if let Some(expected) = cmd.expected_quantity
        && expected != current
    {
        return Err(ConnectorError::Stale {
            system: NETSUITE,
            what: format!("inventory level {item_id}@{location}"),
            message: format!("expected quantity on hand {expected}, found {current}"),
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
    fn product_set_input_from_a_normalized_product() {
        let body = json!({
            "id": "8079745990737254412", "title": "Wool Sweater", "body_html": "<p>x</p>",
            "vendor": "Acme", "product_type": "Sweaters", "handle": "wool-sweater",
            "status": "active", "tags": "winter, wool",
            "variants": [
                {"id": "9007199254740993", "title": "M", "sku": "WS-M", "price": "59.90",
                 "compare_at_price": null, "barcode": "012"},
                {"title": "", "sku": "WS-L", "price": "61.00"}
            ]
        });
        let input = product_set_input(&body, Some("8079745990737254412"), None).unwrap();
        assert_eq!(input["id"], "gid://shopify/Product/8079745990737254412");
        assert_eq!(input["descriptionHtml"], "<p>x</p>");
        assert_eq!(input["status"], "ACTIVE");
        assert_eq!(input["tags"], json!(["winter", "wool"]));
        assert_eq!(
            input["variants"][0]["id"],
            "gid://shopify/ProductVariant/9007199254740993"
        );
        assert_eq!(input["variants"][0]["compareAtPrice"], Value::Null);
        assert_eq!(input["variants"][1]["optionValues"][0]["name"], "WS-L");
        assert!(input["variants"][1].get("id").is_none());
        assert_eq!(
            input["productOptions"][0]["values"],
            json!([{"name": "M"}, {"name": "WS-L"}])
        );
        // Absent scalars are left alone (productSet updates only what is present).
        let partial = product_set_input(&json!({"title": "T"}), None, None).unwrap();
        assert_eq!(partial, json!({"title": "T"}));
    }

    fn pending(i: usize, item: &str) -> Pending {
        (
            i,
            QuantityChange {
                inventory_item_id: item.to_owned(),
                location_id: "1".to_owned(),
                quantity: 5,
                change_from: Some(3),
            },
        )
    }

    #[test]
    fn chunks_hold_at_most_250_and_each_level_once() {
        let mut queue: VecDeque<Pending> = (0..600).map(|i| pending(i, &i.to_string())).collect();
        // Two writes to one level in one claim: the second waits for the next call.
        queue.insert(3, pending(600, "1"));
        let first = next_chunk(&mut queue);
        assert_eq!(first.len(), SHOPIFY_MAX_QUANTITIES);
        assert!(first.iter().all(|(i, _)| *i != 600));
        assert_eq!(queue.front().map(|p| p.0), Some(600), "keeps its place");
        let sizes: Vec<usize> =
            std::iter::from_fn(|| (!queue.is_empty()).then(|| next_chunk(&mut queue).len()))
                .collect();
        assert_eq!(sizes, [250, 101]);

        // Guarded and unguarded quantities do not share a call.
        let mut unguarded = pending(1, "b");
        unguarded.1.change_from = None;
        let mut queue: VecDeque<Pending> = [pending(0, "a"), unguarded, pending(2, "c")]
            .into_iter()
            .collect();
        let calls: Vec<Vec<usize>> = std::iter::from_fn(|| {
            (!queue.is_empty()).then(|| next_chunk(&mut queue).iter().map(|p| p.0).collect())
        })
        .collect();
        assert_eq!(calls, [vec![0, 2], vec![1]]);
    }

    #[test]
    fn a_follow_up_call_keeps_each_quantity_exactly() {
        let input = json!({"name": "available", "reason": "correction",
                           "referenceDocumentUri": "weft://write/k",
                           "quantities": [{"q": 0, "changeFromQuantity": 1}, {"q": 1}, {"q": 2}]});
        let sub = inventory_call_subset(&input, &[2, 0]);
        assert_eq!(
            sub["quantities"],
            json!([{"q": 2}, {"q": 0, "changeFromQuantity": 1}])
        );
        assert_eq!(sub["referenceDocumentUri"], "weft://write/k");
        assert_eq!(sub["reason"], "correction");
    }

    #[test]
    fn user_errors_name_their_quantity() {
        let e = json!({"field": ["input", "quantities", "7", "changeFromQuantity"],
                       "code": "CHANGE_FROM_QUANTITY_STALE", "message": "stale"});
        assert_eq!(quantity_index(&e), Some(7));
        assert_eq!(
            quantity_index(&json!({"field": ["input", "quantities", 2]})),
            Some(2)
        );
        assert_eq!(quantity_index(&json!({"field": ["input", "name"]})), None);
        assert_eq!(quantity_index(&json!({"message": "no field"})), None);
        assert!(matches!(
            user_error(&json!({"userErrors": [e]}), "inventorySetQuantities"),
            ConnectorError::Stale { .. }
        ));
    }

    #[test]
    fn record_types_and_adjustment_ids() {
        assert_eq!(netsuite_record_type(EntityKind::Variant), "inventoryItem");
        assert_eq!(netsuite_record_type(EntityKind::Order), "salesOrder");
        assert_eq!(adjustment_external_id("ob:12/3"), "ob-12-3");
        assert!(netsuite::check_external_id(&adjustment_external_id("a b:c")).is_ok());
    }

    #[tokio::test]
    async fn missing_connection_and_unsupported_ops_are_invalid() {
        let cs = Connectors::default();
        let cmd = WriteCommand {
            system: "shopify".into(),
            kind: EntityKind::Order,
            op: WriteOp::Upsert,
            target_id: None,
            external_id: None,
            body: json!({}),
            idempotency_key: "k".into(),
            expected_quantity: None,
        };
        let e = cs.execute(&cmd).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Invalid { .. }));
        assert!(!e.is_retryable());
        let e = cs
            .execute(&WriteCommand {
                system: "magento".into(),
                ..cmd
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("magento"));
    }
}
