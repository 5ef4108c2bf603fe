//! Executes write commands against the BigCommerce REST API.
//!
//! | kind | op | call |
//! |---|---|---|
//! | product | upsert | `PUT /v3/catalog/products/{target_id}`, else the product with the body's `sku` (`GET ?sku=`) updated, else `POST /v3/catalog/products` |
//! | variant | upsert | `PUT /v3/catalog/variants` `[{id, …}]`, else `POST /v3/catalog/products/{product_id}/variants` (answers the product's id, the variant as a child) |
//! | price | upsert | `PUT /v3/catalog/variants` `[{id, price}]` (answers the product's id) |
//! | customer | upsert | `PUT /v3/customers` `[{id, …}]`, else `POST /v3/customers` `[{…}]` |
//! | inventory-level | set-quantity | read the levels (`/v3/inventory/items`), compare, `PUT /v3/inventory/adjustments/absolute`; many levels in one call with [`plan_stock_calls`] / [`send_stock_call`] |
//! | product | delete | `GET /v3/catalog/products/{target_id}`, `DELETE /v3/catalog/products/{target_id}` |
//! | variant | delete | `GET /v3/catalog/products/{product_id}?include=variants`, then `DELETE /v3/catalog/products/{product_id}/variants/{variant_id}` and the product read again, or the product deleted when the variant is its last (see [`delete`]) |
//! | customer | delete | `GET /v3/customers?id:in={target_id}`, `DELETE /v3/customers?id:in={target_id}` |
//!
//! Deletes are never batched, and one whose record is gone already (404, or not listed)
//! succeeds: the outcome says what the store shows now (see [`delete`]).
//!
//! **How a resend is made safe.** Catalog and customer writes are absolute (a field set to a
//! value) and keyed by the target's id, so sending one again sets the same values. A stock set
//! is an *absolute* adjustment guarded by a read: each level is read first, and a level that
//! already holds the quantity is reported applied without writing (the resend of a write whose
//! answer was lost finds its own result), one that holds neither the guard
//! (`expected_quantity`) nor the quantity is [`ConnectorError::Stale`] (someone sold or
//! received since weft read it: re-read and re-merge), and only the rest are set. BigCommerce has
//! no compare-and-set, so a sale landing between the read and the set (one round trip) is
//! overwritten; relative adjustments would not overwrite it but could apply twice on a resend,
//! which is worse. So the platform marks stock writes `SentMayHaveApplied`
//! ([`crate::BigCommerce`]'s `prepare_write`): once sent, one is never replaced or coalesced
//! away, only sent again to find what it did. Orders are never written to BigCommerce.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Map, Value, json};
use weft_platform::write::{bad_field, missing, unsupported};
use weft_platform::{
    BatchCall, BatchResult, ChildId, ConnectorError, EntityKind, WriteCommand, WriteOp,
    WriteOutcome,
};

use crate::PLATFORM;
use crate::client::BcClient;
use crate::normalize;

/// Levels per stock call (one `/v3/inventory/items` read of up to 50 variants, one absolute
/// adjustment).
pub const MAX_LEVELS: usize = 50;

const PRODUCT_FIELDS: [&str; 7] = [
    "name",
    "price",
    "sku",
    "weight",
    "is_visible",
    "inventory_tracking",
    "type",
];
const VARIANT_FIELDS: [&str; 3] = ["sku", "price", "option_values"];
const CUSTOMER_FIELDS: [&str; 6] = [
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "notes",
];

fn pick(body: &Value, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| body.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect()
}

/// A numeric id from text or a number.
fn num_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn target(cmd: &WriteCommand) -> Option<u64> {
    cmd.target_id.as_deref().and_then(|t| t.parse().ok())
}

/// Whether `cmd` can share a stock call with others like it.
pub fn is_batchable(cmd: &WriteCommand) -> bool {
    cmd.kind == EntityKind::InventoryLevel && cmd.op == WriteOp::SetQuantity
}

/// One level to set: variant, location, quantity and guard.
#[derive(Debug, Clone, PartialEq)]
struct LevelSet {
    variant: u64,
    location: u64,
    quantity: i64,
    expected: Option<i64>,
}

fn level_set(cmd: &WriteCommand) -> Result<LevelSet, ConnectorError> {
    let (variant, location) = match cmd.target_id.as_deref().and_then(|t| t.split_once('@')) {
        Some((v, l)) => (v.parse().ok(), l.parse().ok()),
        None => (
            cmd.body.get("variant_id").and_then(num_id),
            cmd.body.get("location_id").and_then(num_id),
        ),
    };
    let variant = variant.ok_or_else(|| missing(PLATFORM, "variant_id", cmd))?;
    let location = location.ok_or_else(|| missing(PLATFORM, "location_id", cmd))?;
    let quantity = ["available", "quantity"]
        .iter()
        .find_map(|f| cmd.body.get(*f))
        .ok_or_else(|| missing(PLATFORM, "available", cmd))?;
    let quantity = match quantity {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad_field(PLATFORM, "available", "not an integer"))?;
    Ok(LevelSet {
        variant,
        location,
        quantity,
        expected: cmd.expected_quantity,
    })
}

/// Performs one write.
pub async fn execute(c: &BcClient, cmd: &WriteCommand) -> Result<WriteOutcome, ConnectorError> {
    match (cmd.kind, cmd.op) {
        (EntityKind::Product, WriteOp::Upsert) => {
            let fields = Value::Object(pick(&cmd.body, &PRODUCT_FIELDS));
            // A create looks its SKU up first: a resend of a create whose answer was lost (or
            // whose process was killed) finds the product it made (SKUs are unique).
            let existing = match target(cmd) {
                Some(id) => Some(id.to_string()),
                None => existing_product(c, &cmd.body)
                    .await?
                    .map(|id| id.to_string()),
            };
            let created = existing.is_none();
            let r = match existing {
                Some(id) => {
                    c.call(
                        Method::PUT,
                        &format!("/v3/catalog/products/{id}"),
                        Some(&fields),
                    )
                    .await?
                }
                None => {
                    c.call(Method::POST, "/v3/catalog/products", Some(&fields))
                        .await?
                }
            };
            let d = r.unwrap_or_default();
            let id = d["data"]["id"]
                .as_u64()
                .ok_or_else(|| bad_field(PLATFORM, "id", "the answer has no product id"))?;
            Ok(WriteOutcome {
                target_id: id.to_string(),
                version: d["data"]["date_modified"].as_str().map(normalize::version),
                document: None,
                children: Vec::new(),
                applied: true,
                created,
            })
        }
        (EntityKind::Variant | EntityKind::Price, WriteOp::Upsert) => {
            let fields = if cmd.kind == EntityKind::Price {
                pick(&cmd.body, &["price"])
            } else {
                pick(&cmd.body, &VARIANT_FIELDS)
            };
            let created = target(cmd).is_none();
            let answer = match target(cmd) {
                Some(id) => {
                    let mut item = fields;
                    item.insert("id".into(), json!(id));
                    let r = c
                        .call(Method::PUT, "/v3/catalog/variants", Some(&json!([item])))
                        .await?
                        .unwrap_or_default();
                    r["data"][0].clone()
                }
                None if cmd.kind == EntityKind::Variant => {
                    let pid = cmd
                        .body
                        .get("product_id")
                        .and_then(num_id)
                        .ok_or_else(|| missing(PLATFORM, "product_id", cmd))?;
                    let r = c
                        .call(
                            Method::POST,
                            &format!("/v3/catalog/products/{pid}/variants"),
                            Some(&Value::Object(fields)),
                        )
                        .await?
                        .unwrap_or_default();
                    r["data"].clone()
                }
                None => return Err(missing(PLATFORM, "target_id", cmd)),
            };
            let id = answer["id"]
                .as_u64()
                .ok_or_else(|| bad_field(PLATFORM, "id", "the answer has no variant id"))?;
            // Variants and prices are journaled inside their product: the write answers with
            // the product's id (what weft keeps for the SKU), the variant as a child.
            let product = answer["product_id"]
                .as_u64()
                .ok_or_else(|| bad_field(PLATFORM, "product_id", "the answer has no product id"))?;
            let children = answer["sku"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(|sku| ChildId {
                    kind: EntityKind::Variant,
                    key: sku.to_owned(),
                    id: id.to_string(),
                    inventory_item_id: None,
                })
                .into_iter()
                .collect();
            Ok(WriteOutcome {
                target_id: product.to_string(),
                version: None,
                document: None,
                children,
                applied: true,
                created,
            })
        }
        (EntityKind::Customer, WriteOp::Upsert) => {
            let mut item = pick(&cmd.body, &CUSTOMER_FIELDS);
            let r = match target(cmd) {
                Some(id) => {
                    item.insert("id".into(), json!(id));
                    c.call(Method::PUT, "/v3/customers", Some(&json!([item])))
                        .await?
                }
                None => {
                    c.call(Method::POST, "/v3/customers", Some(&json!([item])))
                        .await?
                }
            }
            .unwrap_or_default();
            let d = &r["data"][0];
            let id = d["id"]
                .as_u64()
                .ok_or_else(|| bad_field(PLATFORM, "id", "the answer has no customer id"))?;
            Ok(WriteOutcome {
                target_id: id.to_string(),
                version: d["date_modified"].as_str().map(normalize::version),
                document: normalize::customer(d).map(|d| d.body),
                children: Vec::new(),
                applied: true,
                created: false,
            })
        }
        (EntityKind::InventoryLevel, WriteOp::SetQuantity) => {
            let input = stock_input(&[level_set(cmd)?]);
            let mut results = send_stock_call(c, &input).await?;
            match results.remove(0) {
                BatchResult::Applied(o) => Ok(o),
                BatchResult::Failed(e) => Err(e),
                BatchResult::NotApplied => Err(ConnectorError::Retryable {
                    system: PLATFORM,
                    status: None,
                    message: "the stock call was not applied".into(),
                    retry_after: None,
                }),
            }
        }
        (EntityKind::Product | EntityKind::Variant | EntityKind::Customer, WriteOp::Delete) => {
            delete(c, cmd).await
        }
        _ => Err(unsupported(PLATFORM, cmd)),
    }
}

/// Whether `e` is BigCommerce's "not found".
fn not_found(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Permanent { status: 404, .. })
}

/// When a record was removed, as the version of its tombstone: now (weft's clock, to the
/// second), or one second after `held` (the last version the store showed of it) when that is
/// later: BigCommerce's clock may run ahead of weft's, and a tombstone must be newer than what
/// it deletes.
pub fn removed_at(held: Option<&str>) -> String {
    let now = chrono::Utc::now();
    let now = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    weft_platform::version::deletion_version(now, held)
}

/// The outcome of a delete: what the store shows now (`document`, journaled by the engine
/// under the platform's document kind and the document's `id`).
fn deleted(target_id: String, document: Value, version: String) -> WriteOutcome {
    WriteOutcome {
        target_id,
        version: Some(version),
        document: Some(document),
        children: Vec::new(),
        applied: true,
        created: false,
    }
}

/// A product read with its variants (`None`: it does not exist).
async fn read_product(c: &BcClient, id: u64) -> Result<Option<Value>, ConnectorError> {
    match c
        .get(&format!("/v3/catalog/products/{id}?include=variants"))
        .await
    {
        Ok(r) => Ok(Some(r["data"].clone()).filter(|d| d.is_object())),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes product `id` (gone already counts as deleted); the outcome is its tombstone, the one
/// the `store/product/deleted` callback and a full read journal (kind `product`, its id).
async fn delete_product(
    c: &BcClient,
    target_id: String,
    id: u64,
    held: Option<&Value>,
) -> Result<WriteOutcome, ConnectorError> {
    match c
        .call(Method::DELETE, &format!("/v3/catalog/products/{id}"), None)
        .await
    {
        Ok(_) => {}
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e),
    }
    let mut out = WriteOutcome::removed(
        &id.to_string(),
        removed_at(held.and_then(|p| p["date_modified"].as_str())),
    );
    out.target_id = target_id;
    Ok(out)
}

/// Removes a record from the store ([`WriteOp::Delete`]). Succeeds when the record is gone,
/// also when it was gone already; the outcome's document is what the store shows now, in the
/// shape its change capture journals:
///
/// - **product** (`target_id` the product): the product is deleted; a tombstone of it.
/// - **customer** (`target_id` the customer): read (for its version), then deleted; a
///   tombstone of it.
/// - **variant** (`target_id`, or the body's `product_id`, the product weft journals it in; the
///   body's `variant_id`, else its `sku`, the variant): the product is read with its variants.
///   A product's variants are journaled inside it, so what the store shows of a removed
///   variant is its product: an option variant with another option variant beside it is
///   deleted and the product read again (the outcome: that product document, at its
///   `date_modified`). The last option variant of a product, or the base variant of a simple
///   product, takes the product with it (a product whose option variants are all gone would
///   show its hidden base variant as a new simple product): the product is deleted, and the
///   outcome is its tombstone. A product whose last option variant another delete took
///   meanwhile (two variants of one product are removed concurrently) is deleted by whichever
///   delete sees it so. A variant the product no longer has, or the hidden base variant of a
///   product with options (which maps to no record), leaves the store as it is: the outcome is
///   the product as read; a product gone already, its tombstone.
pub async fn delete(c: &BcClient, cmd: &WriteCommand) -> Result<WriteOutcome, ConnectorError> {
    match cmd.kind {
        EntityKind::Product => {
            let id = target(cmd).ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
            let held = read_product(c, id).await?;
            delete_product(c, id.to_string(), id, held.as_ref()).await
        }
        EntityKind::Customer => {
            let id = target(cmd).ok_or_else(|| missing(PLATFORM, "target_id", cmd))?;
            let held = c
                .list_v3("/v3/customers", &format!("id:in={id}"))
                .await?
                .into_iter()
                .find(|x| x["id"].as_u64() == Some(id));
            if held.is_some() {
                c.call(Method::DELETE, &format!("/v3/customers?id:in={id}"), None)
                    .await?;
            }
            Ok(WriteOutcome::removed(
                &id.to_string(),
                removed_at(held.as_ref().and_then(|x| x["date_modified"].as_str())),
            ))
        }
        EntityKind::Variant => delete_variant(c, cmd).await,
        _ => Err(unsupported(PLATFORM, cmd)),
    }
}

async fn delete_variant(c: &BcClient, cmd: &WriteCommand) -> Result<WriteOutcome, ConnectorError> {
    let product = cmd
        .body
        .get("product_id")
        .and_then(num_id)
        .or_else(|| target(cmd))
        .ok_or_else(|| missing(PLATFORM, "product_id", cmd))?;
    // The id weft keeps for the variant's SKU: its product's.
    let target_id = cmd.target_id.clone().unwrap_or_else(|| product.to_string());
    let variant_id = cmd.body.get("variant_id").and_then(num_id);
    let sku = cmd
        .body
        .get("sku")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if variant_id.is_none() && sku.is_none() {
        return Err(missing(PLATFORM, "variant_id", cmd));
    }
    let Some(held) = read_product(c, product).await? else {
        // The product is gone, and its variants with it.
        return delete_product(c, target_id, product, None).await;
    };
    let variants: Vec<Value> = held["variants"].as_array().cloned().unwrap_or_default();
    let base = held["base_variant_id"].as_u64();
    let options = |vs: &[Value]| -> Vec<u64> {
        vs.iter()
            .filter_map(|v| v["id"].as_u64())
            .filter(|id| Some(*id) != base)
            .collect()
    };
    let found = variants
        .iter()
        .find(|v| match variant_id {
            Some(id) => v["id"].as_u64() == Some(id),
            None => sku.is_some_and(|s| {
                v["sku"]
                    .as_str()
                    .is_some_and(|have| have.eq_ignore_ascii_case(s))
            }),
        })
        .and_then(|v| v["id"].as_u64());
    let as_read = |p: &Value| -> Result<WriteOutcome, ConnectorError> {
        let d = normalize::product(p)
            .ok_or_else(|| bad_field(PLATFORM, "date_modified", "the product has none"))?;
        Ok(deleted(target_id.clone(), d.body, d.version))
    };
    let left = options(&variants);
    match found {
        // Gone already: the store shows the product without it.
        None => as_read(&held),
        // The hidden base variant of a product with options maps to no record.
        Some(id) if Some(id) == base && !left.is_empty() => as_read(&held),
        // The base variant of a simple product, or the product's last option variant.
        Some(id) if left.iter().all(|o| *o == id) => {
            delete_product(c, target_id.clone(), product, Some(&held)).await
        }
        Some(id) => {
            match c
                .call(
                    Method::DELETE,
                    &format!("/v3/catalog/products/{product}/variants/{id}"),
                    None,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e),
            }
            match read_product(c, product).await? {
                // Another delete took the product meanwhile.
                None => delete_product(c, target_id.clone(), product, Some(&held)).await,
                // Another delete took its other option variants meanwhile: the product goes.
                Some(now)
                    if options(now["variants"].as_array().map_or(&[], Vec::as_slice))
                        .is_empty() =>
                {
                    delete_product(c, target_id.clone(), product, Some(&now)).await
                }
                Some(now) => as_read(&now),
            }
        }
    }
}

/// The product whose base SKU is the body's `sku`, if one exists.
async fn existing_product(c: &BcClient, body: &Value) -> Result<Option<u64>, ConnectorError> {
    let Some(sku) = body
        .get("sku")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let sku: String = url::form_urlencoded::byte_serialize(sku.as_bytes()).collect();
    let found = c
        .list_v3("/v3/catalog/products", &format!("sku={sku}"))
        .await?;
    Ok(found.first().and_then(|p| p["id"].as_u64()))
}

fn stock_input(levels: &[LevelSet]) -> Value {
    json!({
        "levels": levels.iter().map(|l| json!({
            "variant_id": l.variant, "location_id": l.location,
            "quantity": l.quantity, "expected": l.expected,
        })).collect::<Vec<_>>()
    })
}

/// Plans set-quantity commands into calls of up to [`MAX_LEVELS`] levels, each level at most
/// once per call. Nothing is sent.
pub fn plan_stock_calls(cmds: &[WriteCommand]) -> (Vec<BatchCall>, Vec<(usize, ConnectorError)>) {
    let mut failed = Vec::new();
    let mut calls: Vec<(Vec<usize>, Vec<LevelSet>)> = Vec::new();
    for (i, cmd) in cmds.iter().enumerate() {
        if !is_batchable(cmd) {
            failed.push((i, unsupported(PLATFORM, cmd)));
            continue;
        }
        let l = match level_set(cmd) {
            Ok(l) => l,
            Err(e) => {
                failed.push((i, e));
                continue;
            }
        };
        let slot = calls.iter_mut().find(|(_, ls)| {
            ls.len() < MAX_LEVELS
                && !ls
                    .iter()
                    .any(|o| o.variant == l.variant && o.location == l.location)
        });
        match slot {
            Some((members, ls)) => {
                members.push(i);
                ls.push(l);
            }
            None => calls.push((vec![i], vec![l])),
        }
    }
    (
        calls
            .into_iter()
            .map(|(members, ls)| BatchCall {
                members,
                input: stock_input(&ls),
            })
            .collect(),
        failed,
    )
}

/// The input of a stock call carrying only the levels at `positions`.
pub fn stock_call_subset(input: &Value, positions: &[usize]) -> Value {
    let levels = input["levels"].as_array().cloned().unwrap_or_default();
    json!({ "levels": positions.iter().filter_map(|p| levels.get(*p).cloned()).collect::<Vec<_>>() })
}

/// Sends one stock call: reads the levels, compares, sets the ones that need it in one
/// absolute adjustment, then reads the products' `date_modified` (the levels' version).
pub async fn send_stock_call(
    c: &BcClient,
    input: &Value,
) -> Result<Vec<BatchResult>, ConnectorError> {
    let levels: Vec<LevelSet> = input["levels"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|l| LevelSet {
            variant: l["variant_id"].as_u64().unwrap_or(0),
            location: l["location_id"].as_u64().unwrap_or(0),
            quantity: l["quantity"].as_i64().unwrap_or(0),
            expected: l["expected"].as_i64(),
        })
        .collect();
    if levels.is_empty() {
        return Ok(Vec::new());
    }
    let mut variants: Vec<String> = levels.iter().map(|l| l.variant.to_string()).collect();
    variants.dedup();
    let mut locations: Vec<String> = levels.iter().map(|l| l.location.to_string()).collect();
    locations.sort();
    locations.dedup();
    let items = c
        .list_v3_paged(
            "/v3/inventory/items",
            &format!(
                "variant_id:in={}&location_id:in={}",
                variants.join(","),
                locations.join(",")
            ),
        )
        .await?;
    let mut current: BTreeMap<(u64, u64), (i64, u64, String)> = BTreeMap::new();
    for item in &items {
        let ident = &item["identity"];
        let (Some(v), Some(p)) = (ident["variant_id"].as_u64(), ident["product_id"].as_u64())
        else {
            continue;
        };
        let sku = ident["sku"].as_str().unwrap_or_default().to_owned();
        for loc in item["locations"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(l) = loc["location_id"].as_u64() {
                current.insert(
                    (v, l),
                    (
                        loc["available_to_sell"].as_i64().unwrap_or(0),
                        p,
                        sku.clone(),
                    ),
                );
            }
        }
    }
    enum Plan {
        Set,
        Already,
        Fail(ConnectorError),
    }
    let plans: Vec<Plan> = levels
        .iter()
        .map(|l| match current.get(&(l.variant, l.location)) {
            None => Plan::Fail(ConnectorError::Permanent {
                system: PLATFORM,
                status: 404,
                code: "NOT_FOUND".into(),
                message: format!(
                    "no inventory level for variant {} at location {}",
                    l.variant, l.location
                ),
            }),
            Some((q, _, _)) if *q == l.quantity => Plan::Already,
            Some((q, _, _)) if l.expected.is_some_and(|e| e != *q) => {
                Plan::Fail(ConnectorError::Stale {
                    system: PLATFORM,
                    what: format!("inventory level {}@{}", l.variant, l.location),
                    message: format!(
                        "holds {q}, not the {} the write was computed against",
                        l.expected.unwrap_or_default()
                    ),
                })
            }
            Some(_) => Plan::Set,
        })
        .collect();
    let to_set: Vec<Value> = levels
        .iter()
        .zip(&plans)
        .filter(|(_, p)| matches!(p, Plan::Set))
        .map(|(l, _)| json!({"variant_id": l.variant, "location_id": l.location, "quantity": l.quantity}))
        .collect();
    if !to_set.is_empty() {
        c.call(
            Method::PUT,
            "/v3/inventory/adjustments/absolute",
            Some(&json!({"reason": "weft sync", "items": to_set})),
        )
        .await?;
    }
    // The levels' version: their products' date_modified after the write.
    let mut products: Vec<String> = levels
        .iter()
        .filter_map(|l| {
            current
                .get(&(l.variant, l.location))
                .map(|c| c.1.to_string())
        })
        .collect();
    products.sort();
    products.dedup();
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    if !products.is_empty() {
        let listed = c
            .list_v3(
                "/v3/catalog/products",
                &format!("id:in={}", products.join(",")),
            )
            .await?;
        for p in listed {
            if let (Some(id), Some(d)) = (p["id"].as_u64(), p["date_modified"].as_str()) {
                versions.insert(id.to_string(), normalize::version(d));
            }
        }
    }
    Ok(levels
        .iter()
        .zip(plans)
        .map(|(l, plan)| match plan {
            Plan::Fail(e) => BatchResult::Failed(e),
            plan => {
                let (_, product, sku) = current[&(l.variant, l.location)].clone();
                let id = format!("{}@{}", l.variant, l.location);
                let version = versions.get(&product.to_string()).cloned();
                BatchResult::Applied(WriteOutcome {
                    target_id: id.clone(),
                    version: version.clone(),
                    document: Some(json!({
                        "id": id, "variant_id": l.variant.to_string(),
                        "product_id": product.to_string(), "sku": sku,
                        "location_id": l.location.to_string(), "available": l.quantity,
                        "updated_at": version,
                    })),
                    children: Vec::new(),
                    applied: matches!(plan, Plan::Set),
                    created: false,
                })
            }
        })
        .collect())
}
