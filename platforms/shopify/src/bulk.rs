//! Catalog-scale reads through Shopify bulk query operations.
//!
//! A paged read of a large catalog spends the shop's GraphQL budget (100 points a second on a
//! standard plan) for hours, a budget weft's incremental polls and writes share. A bulk query
//! costs a mutation (10 points) to start and one point per status poll, whatever the catalog's
//! size: Shopify runs it in the background and answers with a JSONL file at a URL. This module
//! starts one (`bulkOperationRunQuery`), polls it (`node(id:)`) until it is `COMPLETED`,
//! `FAILED` or `CANCELED`, downloads the file, and rebuilds the documents a paged read makes
//! (nested connections arrive flattened, each child line naming its parent in `__parentId`,
//! not necessarily right after it), so both reads normalize to the same document.
//!
//! Shopify runs one bulk query per app and shop at a time (five from API version 2026-01); a
//! second one is refused with the user error `OPERATION_IN_PROGRESS`, which is returned here
//! as [`BulkError::InProgress`] so the caller can fall back to paging.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ShopifyClient;
use crate::error::ConnectorError;
use crate::normalize::{self, ShopifyDoc};
use weft_platform::poll::patient;

const SYSTEM: &str = "shopify";

/// Products with their variants, images and metafields: the fields of a paged product read
/// (`queries::PRODUCTS`), plus each variant's `position` (children are not guaranteed to
/// arrive in order) and `__typename` (to tell the nested connections apart).
pub const PRODUCTS_BULK: &str = r#"{
  products {
    edges { node {
      id title descriptionHtml vendor productType handle status tags updatedAt
      seo { title description } category { id }
      options { name values }
      images { edges { node { __typename url altText } } }
      metafields { edges { node { __typename namespace key type value } } }
      variants { edges { node { __typename id title sku price compareAtPrice barcode updatedAt position selectedOptions { name value } inventoryItem { id measurement { weight { unit value } } } } } }
    } }
  }
}"#;

/// Inventory items with their levels at every location (`queries::INVENTORY_ITEMS`'s fields).
pub const LEVELS_BULK: &str = r#"{
  inventoryItems {
    edges { node {
      id sku
      inventoryLevels { edges { node { __typename id updatedAt quantities(names: ["available"]) { name quantity } location { id } } } }
    } }
  }
}"#;

const RUN: &str = r#"mutation WeftBulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status createdAt }
    userErrors { field message code }
  }
}"#;

const STATUS: &str = r#"query WeftBulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode createdAt completedAt objectCount rootObjectCount url partialDataUrl }
  }
}"#;

const VARIANTS_COUNT: &str = r#"query WeftVariantsCount($limit: Int) {
  productVariantsCount(limit: $limit) { count precision }
}"#;

/// A started bulk query.
#[derive(Debug, Clone)]
pub struct BulkStarted {
    /// The operation's id.
    pub id: String,
    /// When Shopify created it (the shop's clock).
    pub created_at: DateTime<Utc>,
}

/// A finished bulk query.
#[derive(Debug, Clone)]
pub struct BulkResult {
    /// The operation's id.
    pub id: String,
    /// When Shopify created it (the shop's clock): every edit made before this instant is in
    /// the result; an object edited after it may show the edit or not.
    pub created_at: DateTime<Utc>,
    /// The JSONL lines.
    pub lines: Vec<Value>,
}

/// Why a bulk read gave no result.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// Another bulk query of this app runs on the shop.
    #[error("shopify refused the bulk query: {0}")]
    InProgress(String),
    /// The operation ended without a complete result (`FAILED` with its `errorCode`,
    /// `CANCELED`, `EXPIRED`).
    #[error("shopify bulk operation {id} ended {status}{}", .error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Ended {
        /// The operation.
        id: String,
        /// Its final status.
        status: String,
        /// `errorCode`.
        error_code: Option<String>,
    },
    /// The operation ran longer than allowed.
    #[error("shopify bulk operation {id} still {status} after {waited:?}")]
    TimedOut {
        /// The operation.
        id: String,
        /// Its last status.
        status: String,
        /// How long weft waited.
        waited: Duration,
    },
    /// A call failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

fn shape(what: &str) -> ConnectorError {
    ConnectorError::Transport {
        system: SYSTEM,
        message: format!("unexpected bulk operation response: {what}"),
        retryable: false,
    }
}

impl ShopifyClient {
    /// How many variants the shop holds, counted up to `limit` (Shopify's `productVariantsCount`).
    pub async fn variants_count(&self, limit: u32) -> Result<u64, ConnectorError> {
        let resp = patient(|| self.graphql(VARIANTS_COUNT, json!({ "limit": limit }), 1)).await?;
        resp.data
            .pointer("/productVariantsCount/count")
            .and_then(Value::as_u64)
            .ok_or_else(|| shape("productVariantsCount without count"))
    }

    /// Starts `query` as a bulk query operation.
    pub async fn bulk_start(&self, query: &str) -> Result<BulkStarted, BulkError> {
        let started = self
            .graphql(
                RUN,
                json!({ "query": query }),
                crate::queries::MUTATION_COST,
            )
            .await?;
        let payload = started
            .data
            .get("bulkOperationRunQuery")
            .ok_or_else(|| shape("no bulkOperationRunQuery"))?;
        if let Some(e) = payload
            .get("userErrors")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            let code = e.get("code").and_then(Value::as_str).unwrap_or_default();
            let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
            if code == "OPERATION_IN_PROGRESS" || code == "LIMIT_REACHED" {
                return Err(BulkError::InProgress(format!("{code}: {message}")));
            }
            return Err(ConnectorError::Permanent {
                system: SYSTEM,
                status: 200,
                code: code.to_owned(),
                message: message.to_owned(),
            }
            .into());
        }
        let op = payload
            .get("bulkOperation")
            .ok_or_else(|| shape("no bulkOperation"))?;
        let id = op
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("bulkOperation without id"))?
            .to_owned();
        let created_at = op
            .get("createdAt")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| shape("bulkOperation without createdAt"))?;
        Ok(BulkStarted { id, created_at })
    }

    /// The status of operation `id` (`CREATED`, `RUNNING`, `COMPLETED`, `FAILED`, ...) and the
    /// operation as started; `None` when Shopify knows no such operation.
    pub async fn bulk_status(
        &self,
        id: &str,
    ) -> Result<Option<(String, BulkStarted)>, ConnectorError> {
        let resp = patient(|| self.graphql(STATUS, json!({ "id": id }), 1)).await?;
        let Some(node) = resp.data.get("node").filter(|n| !n.is_null()) else {
            return Ok(None);
        };
        let (Some(status), Some(created_at)) = (
            node.get("status").and_then(Value::as_str),
            node.get("createdAt")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
        ) else {
            return Err(shape("BulkOperation without status or createdAt"));
        };
        Ok(Some((
            status.to_owned(),
            BulkStarted {
                id: id.to_owned(),
                created_at: created_at.with_timezone(&Utc),
            },
        )))
    }

    /// Polls a started operation every `poll_every` (one cost point each) for at most
    /// `max_wait`, telling `seen` each status and how many objects it has written so far
    /// (`objectCount`), then downloads its JSONL.
    pub async fn bulk_finish(
        &self,
        op: &BulkStarted,
        poll_every: Duration,
        max_wait: Duration,
        seen: &(dyn Fn(&str, u64) + Send + Sync),
    ) -> Result<BulkResult, BulkError> {
        let id = op.id.clone();
        let created_at = op.created_at;
        let begun = tokio::time::Instant::now();
        let node = loop {
            tokio::time::sleep(poll_every).await;
            let resp = patient(|| self.graphql(STATUS, json!({ "id": id }), 1)).await?;
            let node = resp.data.get("node").cloned().unwrap_or(Value::Null);
            let status = node
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN")
                .to_owned();
            // `UnsignedInt64`, a string in JSON.
            let objects = node
                .get("objectCount")
                .and_then(|c| c.as_str().and_then(|s| s.parse().ok()).or(c.as_u64()))
                .unwrap_or(0);
            seen(&status, objects);
            match status.as_str() {
                "CREATED" | "RUNNING" | "CANCELING" => {
                    if begun.elapsed() >= max_wait {
                        return Err(BulkError::TimedOut {
                            id,
                            status,
                            waited: begun.elapsed(),
                        });
                    }
                }
                "COMPLETED" => break node,
                _ => {
                    return Err(BulkError::Ended {
                        id,
                        status,
                        error_code: node
                            .get("errorCode")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    });
                }
            }
        };
        // No URL: the query matched nothing.
        let lines = match node.get("url").and_then(Value::as_str) {
            Some(url) => self.download_jsonl(url).await?,
            None => Vec::new(),
        };
        Ok(BulkResult {
            id,
            created_at,
            lines,
        })
    }

    /// Downloads a JSONL file (a signed URL: no access token is sent).
    async fn download_jsonl(&self, url: &str) -> Result<Vec<Value>, ConnectorError> {
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .map_err(|e| ConnectorError::from_reqwest(SYSTEM, e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ConnectorError::Retryable {
                system: SYSTEM,
                status: Some(status.as_u16()),
                message: "bulk operation result download failed".into(),
                retry_after: None,
            });
        }
        let text = resp
            .text()
            .await
            .map_err(|e| ConnectorError::from_reqwest(SYSTEM, e))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|_| shape("a JSONL line is not JSON")))
            .collect()
    }
}

fn conn(nodes: Vec<Value>) -> Value {
    json!({ "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": nodes })
}

/// Splits JSONL lines into root objects (in file order) and children by parent id, each
/// child's `__parentId` and `__typename` removed and its type returned beside it.
#[allow(clippy::type_complexity)]
fn tree(lines: &[Value]) -> (Vec<Value>, HashMap<String, Vec<(String, Value)>>) {
    let mut roots = Vec::new();
    let mut children: HashMap<String, Vec<(String, Value)>> = HashMap::new();
    for line in lines {
        let mut l = line.clone();
        let Some(o) = l.as_object_mut() else { continue };
        match o
            .remove("__parentId")
            .and_then(|p| p.as_str().map(str::to_owned))
        {
            Some(parent) => {
                let ty = o
                    .remove("__typename")
                    .and_then(|t| t.as_str().map(str::to_owned))
                    .unwrap_or_default();
                children.entry(parent).or_default().push((ty, l));
            }
            None => roots.push(l),
        }
    }
    (roots, children)
}

/// What a paged read keeps of a product's images and metafields (`first: 10`).
const NESTED_PAGE: usize = 10;

/// The product documents of a [`PRODUCTS_BULK`] result, as a paged read normalizes them.
pub fn products_from_bulk(lines: &[Value]) -> Result<Vec<ShopifyDoc>, ConnectorError> {
    let (roots, mut children) = tree(lines);
    let mut docs = Vec::with_capacity(roots.len());
    for mut product in roots {
        let id = product
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let (mut variants, mut images, mut metafields) = (Vec::new(), Vec::new(), Vec::new());
        for (ty, child) in children.remove(&id).unwrap_or_default() {
            match ty.as_str() {
                "ProductVariant" => variants.push(child),
                "Metafield" => metafields.push(child),
                _ => images.push(child),
            }
        }
        variants.sort_by_key(|v| v.get("position").and_then(Value::as_i64).unwrap_or(0));
        for v in &mut variants {
            if let Some(o) = v.as_object_mut() {
                o.remove("position");
            }
        }
        images.truncate(NESTED_PAGE);
        metafields.truncate(NESTED_PAGE);
        product["variants"] = conn(variants);
        product["images"] = conn(images);
        product["metafields"] = conn(metafields);
        docs.push(
            normalize::product_from_graphql(&product, &[]).map_err(|e| shape(&e.to_string()))?,
        );
    }
    Ok(docs)
}

/// The inventory level documents of a [`LEVELS_BULK`] result, as a paged read normalizes them.
pub fn levels_from_bulk(lines: &[Value]) -> Result<Vec<ShopifyDoc>, ConnectorError> {
    let (items, mut children) = tree(lines);
    let mut docs = Vec::new();
    for item in items {
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let item_ref = json!({ "id": item.get("id"), "sku": item.get("sku") });
        for (_, mut level) in children.remove(id).unwrap_or_default() {
            if let Some(o) = level.as_object_mut() {
                o.insert("item".into(), item_ref.clone());
            }
            docs.push(
                normalize::inventory_level_from_graphql(&level, None)
                    .map_err(|e| shape(&e.to_string()))?,
            );
        }
    }
    Ok(docs)
}
