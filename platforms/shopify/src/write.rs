//! Executes write commands against the Shopify Admin GraphQL API.
//!
//! | kind | op | call |
//! |---|---|---|
//! | product | upsert | `productSet` (id from `target_id`, else looked up by a variant's SKU, else, for a variant of an option group, the product of its `handle`, which it joins without writing the product's own fields: those are the group's) |
//! | variant, price | upsert | `productVariantsBulkUpdate` (needs `product_id`) |
//! | inventory-level | set-quantity | `inventorySetQuantities`, `changeFromQuantity` = `expected_quantity`; `@idempotent(key: idempotency_key)`; many in one call with [`plan_inventory_calls`] and [`send_inventory_call`] |
//! | inventory-level | adjust-quantity | `inventoryAdjustQuantities` `@idempotent(key: idempotency_key)` |
//! | customer | upsert | `customerUpdate` (id from `target_id`, else found by email) or `customerCreate`; `addresses` is the full list, the default first; `tax_exempt`; `email_marketing` (`subscribed`, `unsubscribed` or `pending`) by `customerEmailMarketingConsentUpdate` after the update when the customer's state differs (`customerCreate` takes it directly) |
//! | variant | delete | `productVariantsBulkDelete` of the body's `variant_id` from product `target_id`, then the product read for its new document; the product's last variant: `productDelete` (tombstone of the product) |
//! | product | delete | `productDelete` (tombstone) |
//! | customer | delete | `customerDelete` (tombstone); refused by Shopify for a customer with orders |
//! | fulfillment | upsert | `fulfillmentCreate` per fulfilment order of the order, `@idempotent(key: idempotency_key)`; body `{order_id, lines: [{sku, quantity}], tracking_number, tracking_company, tracking_url, notify_customer}` |
//!
//! Bodies are documents in the normalized Shopify shape ([`crate::normalize`]).

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::{Map, Value, json};
use weft_platform::write::{bad_field, body_i64, missing, unsupported};
use weft_platform::{
    BatchCall, BatchResult, ChildId, ConnectorError, EntityKind, WriteCommand, WriteOp,
    WriteOutcome,
};

use crate::client::VariantDelete;
use crate::normalize::{self, gid, id_string};
use crate::{AdjustChange, QuantityChange, ShopifyClient};

const SHOPIFY: &str = crate::PLATFORM;

/// Most quantities one `inventorySetQuantities` call takes: Shopify caps every array input at
/// 250 items (the simulator answers `MAX_INPUT_SIZE_EXCEEDED` above that).
pub const MAX_QUANTITIES: usize = 250;

/// The non-empty SKUs of a product body's variants.
fn variant_skus(body: &Value) -> impl Iterator<Item = &str> {
    body.get("variants")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.get("sku").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

/// The keys of a product body that are the product's own (shared by its variants), as
/// opposed to its identity (`id`, `handle`), `options`, `status` and `variants`.
const PRODUCT_LEVEL_KEYS: &[&str] = &[
    "title",
    "body_html",
    "vendor",
    "product_type",
    "category",
    "tags",
    "images",
    "seo",
    "metafields",
    "collections",
];

/// Whether `cmd` can share an `inventorySetQuantities` call with others like it.
pub fn is_batchable(cmd: &WriteCommand) -> bool {
    cmd.kind == EntityKind::InventoryLevel && cmd.op == WriteOp::SetQuantity
}

/// A required decimal id from the body (a number, a decimal string or a gid).
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

/// Plans set-quantity commands into as few `inventorySetQuantities` calls as
/// [`MAX_QUANTITIES`] allows, each quantity keeping its own compare-and-set guard, guarded and
/// unguarded quantities in separate calls and each inventory level at most once per call.
/// Commands that cannot be planned are returned with their error instead. Nothing is sent.
pub async fn plan_inventory_calls(
    c: &ShopifyClient,
    cmds: &[WriteCommand],
) -> (Vec<BatchCall>, Vec<(usize, ConnectorError)>) {
    let mut failed = Vec::new();
    let mut queue: VecDeque<Pending> = VecDeque::new();
    for (i, cmd) in cmds.iter().enumerate() {
        if !is_batchable(cmd) {
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
        calls.push(BatchCall {
            members: chunk.iter().map(|(i, _)| *i).collect(),
            input: c.inventory_set_quantities_input(&changes, "correction", Some(&reference)),
        });
    }
    (calls, failed)
}

/// Sends one planned `inventorySetQuantities` call with `@idempotent(key: idempotency_key)`:
/// sending the same input under the same key again returns the original answer and applies
/// nothing. `Ok`: one result per quantity of `input`, in order; `Err`: not answered.
pub async fn send_inventory_call(
    c: &ShopifyClient,
    input: &Value,
    idempotency_key: &str,
) -> Result<Vec<BatchResult>, ConnectorError> {
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
                BatchResult::Applied(WriteOutcome {
                    target_id: normalize::inventory_level_doc_id(item, location),
                    version: version.clone(),
                    document: None,
                    children: Vec::new(),
                    applied: true,
                    created: false,
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
            .map(|_| BatchResult::Failed(e.clone()))
            .collect());
    }
    Ok(levels
        .iter()
        .enumerate()
        .map(|(k, (item, location))| match named.remove(&k) {
            Some(errs) => {
                BatchResult::Failed(match user_error(&json!({ "userErrors": errs }), MUTATION) {
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
            None => BatchResult::NotApplied,
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
/// `existing` that the body does not list are added by id so `productSet` keeps them; a listed
/// variant marked `"retired": true` is left out (so `productSet` deletes it).
///
/// Beyond the document's own fields, a write body may carry on a variant `option_values`
/// (`{"Size": "M"}`: its value of each named option), `weight` and `weight_unit`; on the
/// product `options` (`[{name, values}]`, the option names in order, for a new product),
/// `seo`, `images` and `metafields` (a metafield with a `null` value is deleted: see
/// [`metafields_to_delete`]). `productOptions` is sent whenever `variants` is (Shopify wants
/// both or neither since 2024-07), each option with exactly the values the variants use.
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
    match body.get("category") {
        Some(Value::String(c)) => {
            input.insert(
                "category".into(),
                json!(format!("gid://shopify/TaxonomyCategory/{c}")),
            );
        }
        Some(Value::Null) => {
            input.insert("category".into(), Value::Null);
        }
        _ => {}
    }
    if let Some(seo) = body.get("seo").filter(|v| v.is_object()) {
        input.insert(
            "seo".into(),
            json!({"title": seo.get("title"), "description": seo.get("description")}),
        );
    }
    if let Some(images) = body.get("images") {
        let list = images
            .as_array()
            .ok_or_else(|| bad_field(SHOPIFY, "images", "not a list"))?;
        let files: Vec<Value> = list
            .iter()
            .map(|i| {
                json!({"originalSource": i.get("url"), "alt": i.get("alt"), "contentType": "IMAGE"})
            })
            .collect();
        input.insert("files".into(), Value::Array(files));
    }
    if let Some(ms) = body.get("metafields").and_then(Value::as_array) {
        let set: Vec<Value> = ms
            .iter()
            .filter(|m| m.get("value").is_some_and(|v| !v.is_null()))
            .map(|m| {
                json!({
                    "namespace": m.get("namespace"),
                    "key": m.get("key"),
                    "type": m.get("type").filter(|t| !t.is_null()).cloned()
                        .unwrap_or_else(|| json!("single_line_text_field")),
                    "value": m.get("value"),
                })
            })
            .collect();
        if !set.is_empty() {
            input.insert("metafields".into(), Value::Array(set));
        }
    }
    let Some(vs) = body.get("variants") else {
        return Ok(Value::Object(input));
    };
    let vs = vs
        .as_array()
        .ok_or_else(|| bad_field(SHOPIFY, "variants", "not a list"))?;
    let declared: Vec<String> = body
        .get("options")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let options: Vec<String> = match existing {
        Some((opts, _)) if !opts.is_empty() => opts.clone(),
        _ if !declared.is_empty() => declared,
        _ => vec!["Title".to_owned()],
    };
    let current: &[Value] = existing.map(|(_, v)| v.as_slice()).unwrap_or_default();
    let mut matched = vec![false; current.len()];
    // Updated variants stay in their place; new ones come after the product's own.
    let mut updated: Vec<Option<Value>> = vec![None; current.len()];
    let mut added = Vec::new();
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
        if let Some(h) = hit {
            matched[h] = true;
        }
        if v.get("retired").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let wanted = v.get("option_values").and_then(Value::as_object);
        if let Some(w) = wanted
            && let Some(unknown) = w.keys().find(|k| !options.contains(k))
        {
            return Err(bad_field(
                SHOPIFY,
                "option_values",
                &format!(
                    "the product has no option {unknown:?} (its options: {})",
                    options.join(", ")
                ),
            ));
        }
        let mut vi = Map::new();
        let option_values = match hit {
            Some(h) => {
                vi.insert(
                    "id".into(),
                    json!(gid(
                        "ProductVariant",
                        current[h]["id"].as_str().unwrap_or_default()
                    )),
                );
                let mut ov = selected_options(&current[h]);
                if let (Some(w), Some(list)) = (wanted, ov.as_array_mut()) {
                    for o in list.iter_mut() {
                        if let Some(val) = o
                            .get("optionName")
                            .and_then(Value::as_str)
                            .and_then(|n| w.get(n))
                        {
                            o["name"] = val.clone();
                        }
                    }
                }
                ov
            }
            None => {
                if let Some(id) = &vid {
                    vi.insert("id".into(), json!(gid("ProductVariant", id)));
                }
                match wanted {
                    Some(w) => {
                        let mut list = Vec::new();
                        for o in &options {
                            let val = w.get(o).filter(|v| v.is_string()).ok_or_else(|| {
                                bad_field(
                                    SHOPIFY,
                                    "option_values",
                                    &format!("a new variant needs a value for option {o:?}"),
                                )
                            })?;
                            list.push(json!({"optionName": o, "name": val}));
                        }
                        Value::Array(list)
                    }
                    None => new_option_values(&options, v, i),
                }
            }
        };
        copy_field(v, &mut vi, "sku", "sku");
        copy_field(v, &mut vi, "price", "price");
        copy_field(v, &mut vi, "compare_at_price", "compareAtPrice");
        copy_field(v, &mut vi, "barcode", "barcode");
        if let Some(w) = v.get("weight").filter(|w| !w.is_null()) {
            let value = match w {
                Value::Number(n) => n.as_f64(),
                Value::String(t) => t.parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| bad_field(SHOPIFY, "weight", "not a number"))?;
            let unit = match v.get("weight_unit").and_then(Value::as_str) {
                Some("g") => "GRAMS",
                Some("oz") => "OUNCES",
                Some("lb") => "POUNDS",
                _ => "KILOGRAMS",
            };
            vi.insert(
                "inventoryItem".into(),
                json!({"measurement": {"weight": {"unit": unit, "value": value}}}),
            );
        }
        vi.insert("optionValues".into(), option_values);
        match hit {
            Some(h) => updated[h] = Some(Value::Object(vi)),
            None => added.push(Value::Object(vi)),
        }
    }
    let mut variants = Vec::new();
    for ((c, m), u) in current.iter().zip(&matched).zip(updated) {
        match (m, u) {
            (true, Some(u)) => variants.push(u),
            // Retired: left out, so productSet deletes it.
            (true, None) => {}
            (false, _) => variants.push(json!({
                "id": gid("ProductVariant", c["id"].as_str().unwrap_or_default()),
                "optionValues": selected_options(c),
            })),
        }
    }
    variants.extend(added);
    if variants.is_empty() {
        return Err(bad_field(
            SHOPIFY,
            "variants",
            "a product keeps at least one variant: archive it instead of retiring its last variant",
        ));
    }
    // Each option with exactly the values its variants use, in their order: a value no
    // variant uses any more is retired with its variants.
    let product_options: Vec<Value> = options
        .iter()
        .map(|o| {
            let mut values: Vec<Value> = Vec::new();
            for v in &variants {
                let val = v["optionValues"]
                    .as_array()
                    .and_then(|l| l.iter().find(|x| x["optionName"] == json!(o)))
                    .map(|x| x["name"].clone());
                if let Some(val) = val
                    && !values.iter().any(|x| x["name"] == val)
                {
                    values.push(json!({"name": val}));
                }
            }
            json!({"name": o, "values": values})
        })
        .collect();
    input.insert("productOptions".into(), Value::Array(product_options));
    input.insert("variants".into(), Value::Array(variants));
    Ok(Value::Object(input))
}

/// The metafields a product write clears (`value: null`): `(namespace, key)`, deleted with
/// `metafieldsDelete` after the `productSet`.
pub fn metafields_to_delete(body: &Value) -> Vec<(String, String)> {
    body.get("metafields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|m| m.get("value").is_none_or(Value::is_null))
        .filter_map(|m| {
            Some((
                m.get("namespace")?.as_str()?.to_owned(),
                m.get("key")?.as_str()?.to_owned(),
            ))
        })
        .collect()
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
        Some(BatchResult::Applied(outcome)) => Ok(outcome),
        Some(BatchResult::Failed(e)) => Err(e),
        Some(BatchResult::NotApplied) | None => Err(bad_field(
            SHOPIFY,
            "batch",
            "the call neither applied nor refused the quantity",
        )),
    }
}

/// Takes the next call's quantities off `queue`: at most [`MAX_QUANTITIES`], each
/// inventory item and location once (Shopify refuses a repeated pair in one call), and either
/// all guarded or all unguarded (before API 2026-04, a call without compare quantities says so
/// for the whole call with `ignoreCompareQuantity`). The others wait for a later call, keeping
/// their place in order.
fn next_chunk(queue: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut chunk = Vec::new();
    let mut deferred = Vec::new();
    let mut seen = HashSet::new();
    let guarded = queue.front().map(|p| p.1.change_from.is_some());
    while chunk.len() < MAX_QUANTITIES {
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
    match crate::check_user_errors(payload, mutation) {
        Err(e) => e,
        Ok(()) => bad_field(SHOPIFY, "userErrors", "expected at least one user error"),
    }
}

/// Performs one write.
/// The fixed prices a product write asks for: each written variant's `price_lists`
/// (`{currency: {price, compare_at_price}}`, `null` for "no fixed price": the price list's
/// own rule applies), set in each currency's price list once `productSet` has given every
/// variant its id (`written`, the product as Shopify now holds it).
async fn write_price_lists(
    c: &ShopifyClient,
    body: &Value,
    written: &Value,
) -> Result<(), ConnectorError> {
    type Changes = (Vec<(String, String, Option<String>)>, Vec<String>);
    let mut by_currency: BTreeMap<String, Changes> = BTreeMap::new();
    let variants = body
        .get("variants")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for v in variants {
        let Some(lists) = v.get("price_lists") else {
            continue;
        };
        let lists = lists
            .as_object()
            .ok_or_else(|| bad_field(SHOPIFY, "variants[].price_lists", "not an object"))?;
        let sku = v.get("sku").and_then(Value::as_str).unwrap_or_default();
        let id = written["variants"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .find(|w| w["sku"].as_str() == Some(sku))
            .and_then(|w| w.get("id").and_then(id_string))
            .ok_or_else(|| {
                bad_field(
                    SHOPIFY,
                    "variants[].price_lists",
                    &format!("variant {sku:?} is not in the product productSet returned"),
                )
            })?;
        for (currency, want) in lists {
            let changes = by_currency.entry(currency.clone()).or_default();
            let amount = |f: &str| -> Result<Option<String>, ConnectorError> {
                match want.get(f) {
                    None | Some(Value::Null) => Ok(None),
                    Some(a) => normalize::money(a).map(Some).ok_or_else(|| {
                        bad_field(
                            SHOPIFY,
                            &format!("variants[].price_lists.{currency}.{f}"),
                            &format!("{a} is not a decimal amount"),
                        )
                    }),
                }
            };
            match amount("price")? {
                Some(p) => changes.0.push((id.clone(), p, amount("compare_at_price")?)),
                None => changes.1.push(id.clone()),
            }
        }
    }
    for (currency, (add, remove)) in by_currency {
        c.set_fixed_prices(&currency, &add, &remove).await?;
    }
    Ok(())
}

pub async fn execute(
    c: &ShopifyClient,
    cmd: &WriteCommand,
) -> Result<WriteOutcome, ConnectorError> {
    match (cmd.kind, cmd.op) {
        (EntityKind::Product, WriteOp::Upsert) => {
            // One product write at a time: each reads the variants it must keep.
            let _guard = c.lock_product_writes().await;
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
                for sku in variant_skus(&cmd.body) {
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
            let mut joined = false;
            if id.is_none()
                && cmd.body.get("options").is_some()
                && let Some(handle) = cmd.body.get("handle").and_then(Value::as_str)
                && let Some(product) = c.find_product_by_handle(handle).await?
            {
                // A variant of an option group whose product exists: it joins that product.
                existing = c.product_for_set(&product).await?;
                if existing.is_some() {
                    id = Some(product);
                    joined = true;
                }
            }
            // Joining, it leaves the product's own fields alone: they are the group's, which its
            // representative variant writes. A new size's record may still hold older ones (its
            // item was made from a sibling before the group's last edit), and written here they
            // would undo that edit in the shop, and from there in the ERP.
            let joining;
            let body = if joined {
                let mut b = cmd.body.clone();
                if let Some(o) = b.as_object_mut() {
                    for k in PRODUCT_LEVEL_KEYS {
                        o.remove(*k);
                    }
                }
                joining = b;
                &joining
            } else {
                &cmd.body
            };
            // The written variants are new unless the product found already holds their SKU.
            let created = existing.as_ref().is_none_or(|(_, have)| {
                !variant_skus(&cmd.body).any(|sku| have.iter().any(|v| v["sku"] == sku))
            });
            let input = product_set_input(body, id.as_deref(), existing.as_ref())?;
            let mut d = c.product_set(input).await?;
            let clear = metafields_to_delete(body);
            if !clear.is_empty() {
                let have: Vec<(String, String)> = d.body["metafields"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| {
                        Some((
                            m["namespace"].as_str()?.to_owned(),
                            m["key"].as_str()?.to_owned(),
                        ))
                    })
                    .collect();
                let clear: Vec<(String, String)> =
                    clear.into_iter().filter(|k| have.contains(k)).collect();
                if !clear.is_empty() {
                    c.delete_product_metafields(&d.id, &clear).await?;
                    if let Some(list) = d.body["metafields"].as_array_mut() {
                        list.retain(|m| {
                            !clear
                                .iter()
                                .any(|(ns, k)| m["namespace"] == json!(ns) && m["key"] == json!(k))
                        });
                    }
                }
            }
            if let Some(want) = body.get("collections") {
                let want: Vec<String> = want
                    .as_array()
                    .and_then(|l| l.iter().map(|h| h.as_str().map(str::to_owned)).collect())
                    .ok_or_else(|| bad_field(SHOPIFY, "collections", "not a list of handles"))?;
                // The read may not have seen them all (`collections` absent): then only adds.
                let have: Option<Vec<String>> = d.body.get("collections").and_then(|h| {
                    h.as_array()?
                        .iter()
                        .map(|x| x.as_str().map(str::to_owned))
                        .collect()
                });
                c.set_collections(&d.id, &want, have.as_deref()).await?;
                // The answer shows the product in them now (unless it was in more than a read
                // sees, and so still says nothing about them).
                if have.is_some()
                    && let Some(o) = d.body.as_object_mut()
                {
                    let mut sorted = want;
                    sorted.sort();
                    sorted.dedup();
                    o.insert("collections".into(), json!(sorted));
                }
            }
            write_price_lists(c, &cmd.body, &d.body).await?;
            let mut d = [d];
            c.attach_price_lists(&mut d).await?;
            let [d] = d;
            Ok(WriteOutcome {
                target_id: d.id,
                version: Some(d.updated_at),
                children: variant_children(&d.body),
                document: Some(d.body),
                applied: true,
                created,
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
                created: false,
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
                created: false,
            })
        }
        (EntityKind::Customer, WriteOp::Upsert) => {
            let mut input = Map::new();
            copy_field(&cmd.body, &mut input, "email", "email");
            copy_field(&cmd.body, &mut input, "first_name", "firstName");
            copy_field(&cmd.body, &mut input, "last_name", "lastName");
            copy_field(&cmd.body, &mut input, "phone", "phone");
            if let Some(list) = cmd.body.get("addresses") {
                let list = list
                    .as_array()
                    .ok_or_else(|| bad_field(SHOPIFY, "addresses", "not a list"))?;
                let addresses: Vec<Value> = list
                    .iter()
                    .map(|a| {
                        json!({
                            "firstName": a.get("first_name"), "lastName": a.get("last_name"),
                            "company": a.get("company"), "address1": a.get("address1"),
                            "address2": a.get("address2"), "city": a.get("city"),
                            "provinceCode": a.get("province_code"),
                            "countryCode": a.get("country_code"), "zip": a.get("zip"),
                            "phone": a.get("phone"),
                        })
                    })
                    .collect();
                input.insert("addresses".into(), Value::Array(addresses));
            }
            if let Some(t) = cmd.body.get("tags") {
                let list: Vec<String> = normalize::tags(t)
                    .split(", ")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                input.insert("tags".into(), json!(list));
            }
            if let Some(t) = cmd.body.get("tax_exempt").filter(|t| !t.is_null()) {
                let t = t
                    .as_bool()
                    .ok_or_else(|| bad_field(SHOPIFY, "tax_exempt", "not a boolean"))?;
                input.insert("taxExempt".into(), json!(t));
            }
            // Consent: one of the three states the API sets, written by its own mutation on
            // an existing customer (`customerUpdate` refuses it), with `customerCreate` on a
            // new one.
            let mut consent = match cmd.body.get("email_marketing") {
                None | Some(Value::Null) => None,
                Some(Value::String(m))
                    if ["subscribed", "unsubscribed", "pending"].contains(&m.as_str()) =>
                {
                    Some(m.to_ascii_uppercase())
                }
                Some(other) => {
                    return Err(bad_field(
                        SHOPIFY,
                        "email_marketing",
                        &format!(
                            "{other} is not subscribed, unsubscribed or pending (the states Shopify's API sets)"
                        ),
                    ));
                }
            };
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
            let mut d = match id {
                Some(id) => {
                    input.insert("id".into(), json!(gid("Customer", &id)));
                    c.customer_update(Value::Object(input)).await?
                }
                None => {
                    if let Some(state) = consent.take() {
                        input.insert(
                            "emailMarketingConsent".into(),
                            json!({"marketingState": state, "marketingOptInLevel": "SINGLE_OPT_IN"}),
                        );
                    }
                    c.customer_create(Value::Object(input)).await?
                }
            };
            if let Some(state) = consent
                && d.body.get("email_marketing").and_then(Value::as_str)
                    != Some(state.to_ascii_lowercase().as_str())
            {
                d = c.customer_consent_update(&d.id, &state).await?;
            }
            Ok(WriteOutcome {
                target_id: d.id,
                version: Some(d.updated_at),
                document: Some(d.body),
                children: Vec::new(),
                applied: true,
                created: false,
            })
        }
        (EntityKind::Fulfillment, WriteOp::Upsert) => {
            if cmd.idempotency_key.is_empty() {
                return Err(missing(SHOPIFY, "idempotency_key", cmd));
            }
            let order = body_id(SHOPIFY, cmd, "order_id")?;
            let mut lines = Vec::new();
            for l in cmd
                .body
                .get("lines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let sku = l
                    .get("sku")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad_field(SHOPIFY, "lines[].sku", "expected a string"))?;
                let q = l
                    .get("quantity")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| bad_field(SHOPIFY, "lines[].quantity", "expected an integer"))?;
                lines.push((sku.to_owned(), q));
            }
            let text = |k: &str| cmd.body.get(k).and_then(Value::as_str).map(str::to_owned);
            let tracking = text("tracking_number").map(|number| {
                json!({"number": number, "company": text("tracking_company"), "url": text("tracking_url")})
            });
            let notify = cmd
                .body
                .get("notify_customer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let d = c
                .fulfill_order(&order, &lines, tracking, notify, &cmd.idempotency_key)
                .await?;
            Ok(WriteOutcome {
                target_id: d.id,
                version: None,
                document: None,
                children: Vec::new(),
                applied: true,
                created: false,
            })
        }
        (EntityKind::Variant, WriteOp::Delete) => {
            let product = cmd
                .target_id
                .clone()
                .ok_or_else(|| missing(SHOPIFY, "target_id", cmd))?;
            let variant = body_id(SHOPIFY, cmd, "variant_id")?;
            let _guard = c.lock_product_writes().await;
            match c.variant_delete(&product, &variant).await? {
                VariantDelete::Deleted | VariantDelete::NotThere => {
                    // The product without it, for the engine to see the variant gone there.
                    match c.product(&product).await? {
                        Some(d) => Ok(deleted(&product, Some(d.body), Some(d.updated_at))),
                        None => Ok(gone(&product)),
                    }
                }
                VariantDelete::Last => {
                    // A product's last variant goes with the product (Shopify refuses a
                    // product without variants).
                    c.product_delete(&product).await?;
                    Ok(gone(&product))
                }
                VariantDelete::ProductGone => Ok(gone(&product)),
            }
        }
        (EntityKind::Product, WriteOp::Delete) => {
            let product = cmd
                .target_id
                .clone()
                .ok_or_else(|| missing(SHOPIFY, "target_id", cmd))?;
            let _guard = c.lock_product_writes().await;
            c.product_delete(&product).await?;
            Ok(gone(&product))
        }
        (EntityKind::Customer, WriteOp::Delete) => {
            let customer = cmd
                .target_id
                .clone()
                .ok_or_else(|| missing(SHOPIFY, "target_id", cmd))?;
            c.customer_delete(&customer).await?;
            Ok(gone(&customer))
        }
        _ => Err(unsupported(SHOPIFY, cmd)),
    }
}

/// The outcome of a delete that left `document` (the parent's new document) or nothing.
fn deleted(id: &str, document: Option<Value>, version: Option<String>) -> WriteOutcome {
    WriteOutcome {
        target_id: id.to_owned(),
        version,
        document,
        children: Vec::new(),
        applied: true,
        created: false,
    }
}

/// The outcome of a delete that removed entity `id` (or found it gone): its tombstone, as of
/// now, which the engine journals as Shopify's deletion (the `products/delete` or
/// `customers/delete` webhook says the same).
fn gone(id: &str) -> WriteOutcome {
    WriteOutcome::removed(
        id,
        weft_platform::version::deletion_version(chrono::Utc::now(), None),
    )
}

// -------------------------------------------------------------------------------------------
// NetSuite
// -------------------------------------------------------------------------------------------

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
        assert_eq!(first.len(), MAX_QUANTITIES);
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
}
