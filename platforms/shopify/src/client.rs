//! The Shopify GraphQL Admin client: transport, error detection, cost accounting, reads and
//! writes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::normalize::{self, NormalizeError, ShopifyDoc, gid, id_string};
use super::queries as q;
use crate::error::{ConnectorError, parse_retry_after};
use weft_ratelimit::ShopifyCostLimiter;

use crate::gate::{CircuitBreaker, QueryCost, breaker_permit, breaker_record};

const SYSTEM: &str = "shopify";

/// How to reach one shop.
#[derive(Clone)]
pub struct ShopifyConfig {
    /// Scheme, host and port, e.g. `https://acme.myshopify.com` or `http://127.0.0.1:4001`.
    pub base_url: String,
    /// API version path segment, e.g. `2026-04`.
    pub api_version: String,
    /// The Admin API access token (sent as `X-Shopify-Access-Token`; never logged).
    pub access_token: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Page sizes of the reconciliation reads.
    pub paging: Paging,
    /// How a first sync or full resync reads a large catalog ([`Backfill`]).
    pub backfill: Backfill,
    /// Currencies besides the shop's own whose prices are synced, each through the fixed
    /// prices of the shop's one price list in it (empty: none; products read as before).
    pub currencies: Vec<String>,
    /// Whether product reads carry the product's custom collections (`collections`): off,
    /// reads cost about 18 points a product less and carry none.
    pub collections: bool,
}

/// How a first sync or a full resync reads the catalog (products and inventory levels).
///
/// A shop with at least `bulk_above_variants` variants is read through bulk query operations
/// ([`crate::bulk`]), beside the incremental rounds; a smaller one by the paged read, inside
/// them, as before. Why a threshold rather than always bulk: a paged read of 2,000 variants
/// costs about 15,000 points (a minute or two of a standard plan's 100 points a second), while
/// a bulk query, cheap in points, waits in Shopify's queue for seconds to minutes before its
/// file is ready; above the threshold the paged read's hold on the shop's budget (which every
/// incremental poll and write shares) costs more than the bulk query's latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    /// Variants from which the catalog is read in bulk (`u64::MAX`: never).
    pub bulk_above_variants: u64,
    /// Interval between status polls of a running operation.
    pub poll_every: Duration,
    /// How long an operation may run before weft gives up on it and pages instead.
    pub max_wait: Duration,
    /// Journal entries per chunk a backfill journals at once.
    pub chunk: usize,
    /// Wait for the store's processing to catch up with each chunk (at most this long) before
    /// journaling the next, so a live change journaled meanwhile waits behind one chunk, not
    /// behind the whole catalog. `None`: journal without waiting (no processor runs, as in
    /// connector tests and `weft bench backfill`'s read timing).
    pub pace: Option<Duration>,
}

impl Default for Backfill {
    fn default() -> Self {
        Backfill {
            bulk_above_variants: 2_000,
            poll_every: Duration::from_secs(2),
            max_wait: Duration::from_secs(6 * 3600),
            chunk: 100,
            pace: Some(Duration::from_secs(60)),
        }
    }
}

impl std::fmt::Debug for ShopifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyConfig")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("access_token", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("paging", &self.paging)
            .field("backfill", &self.backfill)
            .finish()
    }
}

impl ShopifyConfig {
    /// A config with a 30 s timeout and the default page sizes.
    pub fn new(
        base_url: impl Into<String>,
        api_version: impl Into<String>,
        access_token: impl Into<String>,
    ) -> Self {
        ShopifyConfig {
            base_url: base_url.into(),
            api_version: api_version.into(),
            access_token: access_token.into(),
            timeout: Duration::from_secs(30),
            paging: Paging::default(),
            backfill: Backfill::default(),
            currencies: Vec::new(),
            collections: false,
        }
    }
}

/// Page sizes of the reconciliation reads. The defaults keep every page's requested cost under
/// Shopify's 1,000-point single-query maximum; flat lists use the 250 maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Products per page.
    pub products: u32,
    /// Variants fetched with each product (more are fetched by follow-up pages).
    pub variants: u32,
    /// Customers per page.
    pub customers: u32,
    /// Orders per page.
    pub orders: u32,
    /// Line items fetched with each order.
    pub line_items: u32,
    /// Inventory items per page of an inventory-level read.
    pub inventory_items: u32,
    /// Levels fetched with each inventory item (more are fetched by follow-up pages).
    pub levels_per_item: u32,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            // A product with its SEO fields, options, images, metafields, collections and
            // variants' weights requests ~123 points with 15 variants. Pages of 3 ask for ~369:
            // a page that
            // needs most of the 1000-point bucket waits for a full bucket, which never comes
            // while another caller (weft's own pollers, another app) spends the restore rate.
            products: 3,
            variants: 15,
            // A customer with its addresses and default address asks for 3 points: pages of
            // 100 ask for 302, leaving the bucket to other callers.
            customers: 100,
            // An order with its addresses, shipping lines, taxes and discount allocations
            // requests ~213 points with 15 lines (~35 actual for one line): pages of 2 keep
            // the bucket share a call needs small enough for other callers to get theirs.
            orders: 2,
            line_items: 15,
            inventory_items: 25,
            levels_per_item: 10,
        }
    }
}

/// What a reconciliation read pages over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// Products with their variants.
    Products,
    /// Customers.
    Customers,
    /// Orders with their line items.
    Orders,
    /// Inventory levels, at one location (decimal id) or at all (`None`). Levels are read
    /// through their inventory items and filtered by `updated_at` client-side, so every page
    /// scans a page of items.
    InventoryLevels {
        /// Only levels at this location.
        location_id: Option<String>,
    },
}

/// One page of a reconciliation read.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Normalized documents, in the server's order (ascending `updated_at`).
    pub docs: Vec<ShopifyDoc>,
    /// The cursor to pass as `after` for the next page.
    pub end_cursor: Option<String>,
    /// Whether another page follows.
    pub has_next_page: bool,
    /// The greatest `updated_at` on this page.
    pub max_updated_at: Option<String>,
}

/// Every page of a reconciliation read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadResult {
    /// Normalized documents of every page.
    pub docs: Vec<ShopifyDoc>,
    /// The greatest `updated_at` seen (the caller's next watermark, once journaled).
    pub max_updated_at: Option<String>,
}

/// A successful GraphQL response.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlResponse {
    /// `data`.
    pub data: Value,
    /// `extensions.cost`, when present.
    pub cost: Option<QueryCost>,
    /// The server's clock when it answered (its `Date` header, whole seconds), when present.
    pub server_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// One entity of a change listing ([`ShopifyClient::list_changed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Decimal id.
    pub id: String,
    /// Normalized `updatedAt` (UTC, `Z`), the version a full read of it would carry.
    pub updated_at: String,
}

/// What changed since a time, without the documents themselves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// Changed entities, ascending `updated_at`.
    pub items: Vec<Listed>,
    /// The server's clock when the listing's first page was answered: a document read after
    /// this listing reflects every edit made before this instant.
    pub server_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// One absolute quantity to set, guarded by the quantity the caller last saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityChange {
    /// Decimal inventory item id.
    pub inventory_item_id: String,
    /// Decimal location id.
    pub location_id: String,
    /// The quantity to set.
    pub quantity: i64,
    /// The quantity the caller last saw (`changeFromQuantity`); `None` opts out of the guard.
    pub change_from: Option<i64>,
}

/// One delta to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustChange {
    /// Decimal inventory item id.
    pub inventory_item_id: String,
    /// Decimal location id.
    pub location_id: String,
    /// Signed change.
    pub delta: i64,
}

/// A Shopify GraphQL Admin API client for one shop.
pub struct ShopifyClient {
    pub(crate) http: reqwest::Client,
    endpoint: String,
    token: String,
    api_version: String,
    paging: Paging,
    backfill: Backfill,
    limiter: ShopifyCostLimiter,
    breaker: Option<CircuitBreaker>,
    /// Requested cost the server reported per document, so later reservations are exact.
    learned_cost: Mutex<HashMap<(String, u32), f64>>,
    /// Held across a product write's read and its `productSet`: `productSet` replaces the
    /// variant list, so two writes to one product (two SKUs of an option group) that read it
    /// at the same time would each drop the variant the other adds.
    product_writes: tokio::sync::Mutex<()>,
    /// [`ShopifyConfig::currencies`].
    currencies: Vec<String>,
    /// [`ShopifyConfig::collections`].
    collections: bool,
    /// The price list of each of `currencies` (currency, gid), looked up at first use.
    price_lists: tokio::sync::OnceCell<Vec<(String, String)>>,
}

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("endpoint", &self.endpoint)
            .field("access_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn normalize_err(e: NormalizeError) -> ConnectorError {
    ConnectorError::Transport {
        system: SYSTEM,
        message: format!("unexpected response shape: {e}"),
        retryable: false,
    }
}

/// The cursor of a connection's next page, `None` on its last page (an error when the
/// connection says there is a next page but gives no cursor).
fn next_cursor(conn: &Value, what: &str) -> Result<Option<String>, ConnectorError> {
    if conn
        .pointer("/pageInfo/hasNextPage")
        .and_then(Value::as_bool)
        != Some(true)
    {
        return Ok(None);
    }
    conn.pointer("/pageInfo/endCursor")
        .and_then(Value::as_str)
        .map(|c| Some(c.to_owned()))
        .ok_or_else(|| shape_err(&format!("{what} hasNextPage without endCursor")))
}

fn shape_err(what: &str) -> ConnectorError {
    ConnectorError::Transport {
        system: SYSTEM,
        message: format!("unexpected response shape: {what}"),
        retryable: false,
    }
}

impl ShopifyClient {
    /// Builds a client. `limiter` is the shop's cost limiter: clone one limiter into every client
    /// of the same shop (it models the shop's single bucket).
    pub fn new(config: ShopifyConfig, limiter: ShopifyCostLimiter) -> Result<Self, ConnectorError> {
        // One client per process, shared by every store (weft_platform::http).
        let http = weft_platform::http::shared_client(config.timeout)
            .map_err(|e| ConnectorError::from_reqwest(SYSTEM, e))?;
        let endpoint = format!(
            "{}/admin/api/{}/graphql.json",
            config.base_url.trim_end_matches('/'),
            config.api_version
        );
        Ok(ShopifyClient {
            http,
            endpoint,
            token: config.access_token,
            api_version: config.api_version,
            paging: config.paging,
            backfill: config.backfill,
            limiter,
            breaker: None,
            learned_cost: Mutex::new(HashMap::new()),
            product_writes: tokio::sync::Mutex::new(()),
            currencies: config.currencies,
            collections: config.collections,
            price_lists: tokio::sync::OnceCell::new(),
        })
    }

    /// Adds a circuit breaker for this connection: calls fail fast while it is open.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The connection's circuit breaker, if it has one.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// How full reads choose between bulk and paged reads.
    pub fn backfill(&self) -> &Backfill {
        &self.backfill
    }

    /// The shop's cost limiter.
    pub fn limiter(&self) -> &ShopifyCostLimiter {
        &self.limiter
    }

    /// The GraphQL endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether this API version requires `changeFromQuantity` (2026-04 and later, and
    /// `unstable`) rather than `compareQuantity`.
    fn uses_change_from_quantity(&self) -> bool {
        self.api_version == "unstable" || self.api_version.as_str() >= "2026-04"
    }

    /// Sends one GraphQL document. Reserves `estimate` points (or the cost the server reported
    /// for this document last time) from the shop's limiter first, and settles the permit with
    /// the response's `extensions.cost`.
    pub async fn graphql(
        &self,
        document: &str,
        variables: Value,
        estimate: u32,
    ) -> Result<GraphqlResponse, ConnectorError> {
        // What the server last reported for this document with the same estimate: the
        // estimate stands for the variables that scale the cost (a `nodes(ids:)` fetch of 3 ids
        // costs a third of one of 10), so a cheap call never sets the reservation of a dear one.
        let key = (document.to_owned(), estimate);
        let reserve = self
            .learned_cost
            .lock()
            .expect("cost cache lock poisoned")
            .get(&key)
            .copied()
            .unwrap_or(f64::from(estimate));
        let probe = breaker_permit(self.breaker.as_ref(), SYSTEM)?;
        let asked = std::time::Instant::now();
        let permit =
            self.limiter
                .reserve(reserve)
                .await
                .map_err(|e| ConnectorError::Permanent {
                    system: SYSTEM,
                    status: 0,
                    code: "MAX_COST_EXCEEDED".into(),
                    message: e.to_string(),
                })?;
        if asked.elapsed() > std::time::Duration::from_millis(100) {
            tracing::debug!(
                operation = document.split(['(', '{']).next().unwrap_or_default().trim(),
                reserved = reserve,
                waited_ms = asked.elapsed().as_millis() as u64,
                "a call waited for the shop's cost bucket"
            );
        }
        let result = self.send(document, variables, reserve).await;
        let cost = match &result {
            Ok(r) => r.cost,
            Err((_, cost)) => *cost,
        };
        match cost {
            Some(c) => {
                self.learned_cost
                    .lock()
                    .expect("cost cache lock poisoned")
                    .insert(key, c.requested_query_cost);
                permit.settle_cost(&c);
            }
            // No cost reported (transport failure, non-JSON body): the limiter assumes the
            // whole reservation was spent.
            None => drop(permit),
        }
        let result = result.map_err(|(e, _)| e);
        breaker_record(probe, &result);
        result
    }

    async fn send(
        &self,
        document: &str,
        variables: Value,
        reserved: f64,
    ) -> Result<GraphqlResponse, (ConnectorError, Option<QueryCost>)> {
        let resp = self
            .http
            .post(&self.endpoint)
            .header("X-Shopify-Access-Token", &self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({"query": document, "variables": variables}))
            .send()
            .await
            .map_err(|e| (ConnectorError::from_reqwest(SYSTEM, e), None))?;
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers());
        let server_time = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| (ConnectorError::from_reqwest(SYSTEM, e), None))?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let cost: Option<QueryCost> = body
            .as_ref()
            .and_then(|b| b.pointer("/extensions/cost"))
            .and_then(|c| serde_json::from_value(c.clone()).ok());
        classify_response(status, retry_after, body, &bytes, reserved)
            .map(|data| GraphqlResponse {
                data,
                cost,
                server_time,
            })
            .map_err(|e| (e, cost))
    }

    // -----------------------------------------------------------------------------------------
    // Reads
    // -----------------------------------------------------------------------------------------

    /// Reads one page of `entity` updated at or after `since` (RFC 3339), sorted by
    /// `updated_at`, starting after cursor `after`.
    pub async fn read_page(
        &self,
        entity: &Entity,
        since: Option<&str>,
        after: Option<&str>,
    ) -> Result<Page, ConnectorError> {
        if let Entity::InventoryLevels { location_id } = entity {
            return self
                .read_levels_page(location_id.as_deref(), since, after)
                .await;
        }
        let query = since.map(|s| format!("updated_at:>='{s}'"));
        let p = self.paging;
        let (doc, vars, estimate, root) = match entity {
            Entity::Products => (
                q::PRODUCTS,
                json!({"first": p.products, "after": after, "query": query, "variants": p.variants, "collections": self.collections}),
                q::products_cost(p.products, p.variants),
                "/products",
            ),
            Entity::Customers => (
                q::CUSTOMERS,
                json!({"first": p.customers, "after": after, "query": query}),
                q::connection_cost(p.customers, q::CUSTOMER_COST),
                "/customers",
            ),
            Entity::Orders => (
                q::ORDERS,
                json!({"first": p.orders, "after": after, "query": query, "lines": p.line_items}),
                q::orders_cost(p.orders, p.line_items),
                "/orders",
            ),
            Entity::InventoryLevels { .. } => unreachable!("handled above"),
        };
        let resp = self.graphql(doc, vars, estimate).await?;
        let conn = resp
            .data
            .pointer(root)
            .ok_or_else(|| shape_err(&format!("no `{root}` in data")))?;
        let nodes = conn
            .get("nodes")
            .and_then(Value::as_array)
            .ok_or_else(|| shape_err("connection without `nodes`"))?;
        let mut docs = Vec::with_capacity(nodes.len());
        for node in nodes {
            let d = match entity {
                Entity::Products => {
                    let extra =
                        weft_platform::poll::patient(|| self.remaining_variants(node)).await?;
                    normalize::product_from_graphql(node, &extra)
                }
                Entity::Customers => normalize::customer_from_graphql(node),
                Entity::Orders => normalize::order_from_graphql(node),
                Entity::InventoryLevels { .. } => unreachable!("handled above"),
            }
            .map_err(normalize_err)?;
            docs.push(d);
        }
        if matches!(entity, Entity::Products) {
            self.attach_price_lists(&mut docs).await?;
        }
        let end_cursor = next_cursor(conn, "page")?;
        let max_updated_at = max_version(&docs);
        Ok(Page {
            docs,
            has_next_page: end_cursor.is_some(),
            end_cursor,
            max_updated_at,
        })
    }

    /// Fetches the variants of a product node beyond its first page.
    async fn remaining_variants(&self, node: &Value) -> Result<Vec<Value>, ConnectorError> {
        self.remaining_nodes(
            node,
            "variants",
            q::PRODUCT_VARIANTS,
            5,
            "/product/variants",
            250,
        )
        .await
    }

    /// Fetches the nodes of `parent`'s connection `field` beyond its first page, with `query`
    /// (`$id`, `$first`, `$after`; `fields` per node for its cost), whose answer holds the
    /// connection at `path`, at most `page` nodes a request.
    async fn remaining_nodes(
        &self,
        parent: &Value,
        field: &str,
        query: &str,
        fields: u32,
        path: &str,
        page: u32,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let what = format!("{field} page");
        let mut after = match parent.get(field) {
            Some(conn) => next_cursor(conn, &what)?,
            None => None,
        };
        let id = parent.get("id").and_then(Value::as_str).unwrap_or_default();
        // As many as Shopify's page maximum (250) and the single-query maximum (1,000) allow.
        let first = (997 / fields.max(1)).min(250).min(page.max(1));
        while let Some(cursor) = after {
            let resp = self
                .graphql(
                    query,
                    json!({"id": id, "first": first, "after": cursor}),
                    1 + q::connection_cost(first, fields),
                )
                .await?;
            let conn = resp
                .data
                .pointer(path)
                .ok_or_else(|| shape_err(&format!("{what} without `{path}`")))?;
            if let Some(nodes) = conn.get("nodes").and_then(Value::as_array) {
                out.extend(nodes.iter().cloned());
            }
            after = next_cursor(conn, &what)?;
        }
        Ok(out)
    }

    /// One page of inventory items, yielding their levels (at `location`, when given) updated
    /// at or after `since`.
    async fn read_levels_page(
        &self,
        location: Option<&str>,
        since: Option<&str>,
        after: Option<&str>,
    ) -> Result<Page, ConnectorError> {
        let since_t = match since {
            Some(s) => Some(chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
                ConnectorError::invalid(
                    SYSTEM,
                    crate::InvalidRequest::BadField {
                        field: "since".into(),
                        reason: e.to_string(),
                    },
                )
            })?),
            None => None,
        };
        let p = self.paging;
        let resp = self
            .graphql(
                q::INVENTORY_ITEMS,
                json!({"first": p.inventory_items, "after": after, "levels": p.levels_per_item}),
                q::connection_cost(
                    p.inventory_items,
                    1 + q::connection_cost(p.levels_per_item, 3),
                ),
            )
            .await?;
        let conn = resp
            .data
            .get("inventoryItems")
            .ok_or_else(|| shape_err("no `inventoryItems` in data"))?;
        let items = conn
            .get("nodes")
            .and_then(Value::as_array)
            .ok_or_else(|| shape_err("connection without `nodes`"))?;
        let mut docs = Vec::new();
        for item in items {
            let item_ref = json!({"id": item.get("id"), "sku": item.get("sku")});
            let mut levels: Vec<Value> = item
                .pointer("/inventoryLevels/nodes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            levels.extend(self.remaining_levels(item).await?);
            for mut level in levels {
                if let Some(o) = level.as_object_mut() {
                    o.insert("item".into(), item_ref.clone());
                }
                let d =
                    normalize::inventory_level_from_graphql(&level, None).map_err(normalize_err)?;
                if location.is_some_and(|l| d.body["location_id"].as_str() != Some(l)) {
                    continue;
                }
                if let Some(t) = since_t {
                    let at = chrono::DateTime::parse_from_rfc3339(&d.updated_at)
                        .map_err(|_| shape_err("level updatedAt is not RFC 3339"))?;
                    if at < t {
                        continue;
                    }
                }
                docs.push(d);
            }
        }
        let end_cursor = next_cursor(conn, "page")?;
        let max_updated_at = max_version(&docs);
        Ok(Page {
            docs,
            has_next_page: end_cursor.is_some(),
            end_cursor,
            max_updated_at,
        })
    }

    /// Fetches the levels of an inventory item node beyond its first page.
    async fn remaining_levels(&self, item: &Value) -> Result<Vec<Value>, ConnectorError> {
        self.remaining_nodes(
            item,
            "inventoryLevels",
            q::ITEM_LEVELS,
            3,
            "/inventoryItem/inventoryLevels",
            250,
        )
        .await
    }

    /// Reads every page of `entity` updated at or after `since`.
    pub async fn read_since(
        &self,
        entity: &Entity,
        since: Option<&str>,
    ) -> Result<ReadResult, ConnectorError> {
        let mut out = ReadResult::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.read_page(entity, since, after.as_deref()).await?;
            out.docs.extend(page.docs);
            if !page.has_next_page {
                break;
            }
            after = page.end_cursor;
        }
        out.max_updated_at = max_version(&out.docs);
        Ok(out)
    }

    /// Lists the ids and versions of `entity` (products, customers or orders) updated at or
    /// after `since`: one point per entity, against the dozens a full read costs, so a
    /// reconciliation round can fetch only what it has not read yet ([`ShopifyClient::fetch`]).
    pub async fn list_changed(
        &self,
        entity: &Entity,
        since: Option<&str>,
    ) -> Result<Listing, ConnectorError> {
        let (doc, root) = match entity {
            Entity::Products => (q::LIST_PRODUCTS, "products"),
            Entity::Customers => (q::LIST_CUSTOMERS, "customers"),
            Entity::Orders => (q::LIST_ORDERS, "orders"),
            Entity::InventoryLevels { .. } => {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    crate::InvalidRequest::BadField {
                        field: "entity".into(),
                        reason: "inventory levels have no change listing; read them".into(),
                    },
                ));
            }
        };
        let query = since.map(|s| format!("updated_at:>='{s}'"));
        let mut out = Listing::default();
        let mut after: Option<String> = None;
        loop {
            let resp = self
                .graphql(
                    doc,
                    json!({"first": 250, "after": after, "query": query}),
                    q::connection_cost(250, 1),
                )
                .await?;
            if out.server_time.is_none() {
                out.server_time = resp.server_time;
            }
            let conn = resp
                .data
                .get(root)
                .ok_or_else(|| shape_err(&format!("no `{root}` in data")))?;
            for n in conn
                .get("nodes")
                .and_then(Value::as_array)
                .ok_or_else(|| shape_err("connection without `nodes`"))?
            {
                let id = n
                    .get("id")
                    .and_then(id_string)
                    .ok_or_else(|| shape_err("listed node without an id"))?;
                let updated_at = n
                    .get("updatedAt")
                    .and_then(Value::as_str)
                    .and_then(normalize::timestamp)
                    .ok_or_else(|| shape_err("listed node without an RFC 3339 updatedAt"))?;
                out.items.push(Listed { id, updated_at });
            }
            after = next_cursor(conn, "listing")?;
            if after.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Reads products, customers or orders by decimal id (`nodes(ids:)`), normalized exactly
    /// as a paged read normalizes them. Ids that no longer exist are left out.
    pub async fn fetch(
        &self,
        entity: &Entity,
        ids: &[String],
    ) -> Result<Vec<ShopifyDoc>, ConnectorError> {
        let p = self.paging;
        let (doc, resource, per_call, node_cost) = match entity {
            Entity::Products => (
                q::PRODUCTS_BY_ID,
                "Product",
                p.products,
                q::product_cost(p.variants),
            ),
            Entity::Customers => (
                q::CUSTOMERS_BY_ID,
                "Customer",
                p.customers,
                q::CUSTOMER_COST,
            ),
            Entity::Orders => (
                q::ORDERS_BY_ID,
                "Order",
                p.orders,
                q::order_cost(p.line_items),
            ),
            Entity::InventoryLevels { .. } => {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    crate::InvalidRequest::BadField {
                        field: "entity".into(),
                        reason: "inventory levels are not fetched by id".into(),
                    },
                ));
            }
        };
        let mut docs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(per_call.max(1) as usize) {
            let gids: Vec<String> = chunk.iter().map(|id| gid(resource, id)).collect();
            let resp = self
                .graphql(
                    doc,
                    json!({"ids": gids, "variants": p.variants, "lines": p.line_items, "collections": self.collections}),
                    chunk.len() as u32 * (1 + node_cost),
                )
                .await?;
            for node in resp
                .data
                .get("nodes")
                .and_then(Value::as_array)
                .ok_or_else(|| shape_err("no `nodes` in data"))?
            {
                if node.is_null() || node.get("id").is_none() {
                    continue; // deleted since it was listed
                }
                let d = match entity {
                    Entity::Products => {
                        let extra =
                            weft_platform::poll::patient(|| self.remaining_variants(node)).await?;
                        normalize::product_from_graphql(node, &extra)
                    }
                    Entity::Customers => normalize::customer_from_graphql(node),
                    _ => normalize::order_from_graphql(node),
                }
                .map_err(normalize_err)?;
                docs.push(d);
            }
        }
        if matches!(entity, Entity::Products) {
            self.attach_price_lists(&mut docs).await?;
        }
        Ok(docs)
    }

    /// The decimal ids of the shop's locations.
    pub async fn locations(&self) -> Result<Vec<String>, ConnectorError> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let resp = self
                .graphql(
                    q::LOCATIONS,
                    json!({"first": 250, "after": after}),
                    q::connection_cost(250, 1),
                )
                .await?;
            let conn = resp
                .data
                .get("locations")
                .ok_or_else(|| shape_err("no `locations` in data"))?;
            for n in conn
                .get("nodes")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let id = n
                    .get("id")
                    .and_then(id_string)
                    .ok_or_else(|| shape_err("location without a gid"))?;
                ids.push(id);
            }
            after = next_cursor(conn, "locations")?;
            if after.is_none() {
                break;
            }
        }
        Ok(ids)
    }

    /// The custom collection with exactly this handle (its gid), or why weft cannot add a
    /// product to it: none has the handle (weft does not invent a shop's collections), or it
    /// is a smart collection (its rules decide its products). Errors are not retryable.
    async fn custom_collection(&self, handle: &str) -> Result<String, ConnectorError> {
        let resp = self
            .graphql(
                q::COLLECTION_BY_HANDLE,
                json!({"query": format!("handle:{handle}")}),
                q::connection_cost(10, 2),
            )
            .await?;
        let found = resp
            .data
            .pointer("/collections/nodes")
            .and_then(Value::as_array)
            .ok_or_else(|| shape_err("no `collections` in data"))?
            .iter()
            .find(|n| n.get("handle").and_then(Value::as_str) == Some(handle))
            .cloned();
        let refuse = |reason: String| {
            ConnectorError::invalid(
                SYSTEM,
                crate::InvalidRequest::BadField {
                    field: "collections".into(),
                    reason,
                },
            )
        };
        match found {
            None => Err(refuse(format!(
                "the shop has no collection with handle {handle:?}: create it in Shopify, or correct the product's collections where they are kept"
            ))),
            Some(n) if n.get("ruleSet").is_some_and(|r| !r.is_null()) => Err(refuse(format!(
                "collection {handle:?} is a smart collection: its rules decide its products, so none can be added to it"
            ))),
            Some(n) => n
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| shape_err("collection without an id")),
        }
    }

    /// Puts product `product_id` (decimal) in exactly the custom collections `want` (handles):
    /// added to those it is not in, removed from those of `have` (what a read showed) it
    /// should leave; with `have` unknown, only added. A removal's job is waited for (a few
    /// seconds at most), so a read that follows shows it.
    pub async fn set_collections(
        &self,
        product_id: &str,
        want: &[String],
        have: Option<&[String]>,
    ) -> Result<(), ConnectorError> {
        let product = gid("Product", product_id);
        let have = have.unwrap_or_default();
        for handle in want.iter().filter(|h| !have.contains(h)) {
            let id = self.custom_collection(handle).await?;
            let resp = self
                .graphql(
                    q::COLLECTION_ADD_PRODUCTS,
                    json!({"id": id, "productIds": [product]}),
                    q::MUTATION_COST,
                )
                .await?;
            let payload = payload(&resp.data, "collectionAddProducts")?;
            check_user_errors(payload, "collectionAddProducts")?;
        }
        for handle in have.iter().filter(|h| !want.contains(h)) {
            let id = self.custom_collection(handle).await?;
            let resp = self
                .graphql(
                    q::COLLECTION_REMOVE_PRODUCTS,
                    json!({"id": id, "productIds": [product]}),
                    q::MUTATION_COST,
                )
                .await?;
            let payload = payload(&resp.data, "collectionRemoveProducts")?;
            check_user_errors(payload, "collectionRemoveProducts")?;
            let mut job = payload.get("job").cloned().unwrap_or(Value::Null);
            for _ in 0..20 {
                if job.is_null() || job.get("done").and_then(Value::as_bool) == Some(true) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Some(job_id) = job.get("id").and_then(Value::as_str) else {
                    break;
                };
                let resp = self.graphql(q::JOB, json!({"id": job_id}), 1).await?;
                job = resp.data.get("job").cloned().unwrap_or(Value::Null);
            }
        }
        Ok(())
    }

    /// The currencies whose price lists this client reads and writes.
    pub fn currencies(&self) -> &[String] {
        &self.currencies
    }

    /// The price list of each configured currency, `(currency, gid)`: the shop's one list in
    /// that currency. Looked up once; an error (not retried by waiting) when a currency has no
    /// list or several, since weft would not know which one sells in it.
    pub async fn price_lists(&self) -> Result<&[(String, String)], ConnectorError> {
        let lists = self
            .price_lists
            .get_or_try_init(|| async {
                let mut all: Vec<(String, String, String)> = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let resp = self
                        .graphql(
                            q::PRICE_LISTS,
                            json!({"first": 50, "after": after}),
                            q::connection_cost(50, 1),
                        )
                        .await?;
                    let conn = resp
                        .data
                        .get("priceLists")
                        .ok_or_else(|| shape_err("no `priceLists` in data"))?;
                    for node in conn
                        .get("nodes")
                        .and_then(Value::as_array)
                        .ok_or_else(|| shape_err("priceLists without `nodes`"))?
                    {
                        let field = |f: &str| node.get(f).and_then(Value::as_str).unwrap_or("");
                        all.push((
                            field("currency").to_owned(),
                            field("id").to_owned(),
                            field("name").to_owned(),
                        ));
                    }
                    after = next_cursor(conn, "priceLists")?;
                    if after.is_none() {
                        break;
                    }
                }
                let mut out = Vec::with_capacity(self.currencies.len());
                for currency in &self.currencies {
                    let found: Vec<&(String, String, String)> =
                        all.iter().filter(|(c, _, _)| c == currency).collect();
                    match found.as_slice() {
                        [(_, id, _)] => out.push((currency.clone(), id.clone())),
                        [] => {
                            return Err(ConnectorError::invalid(
                                SYSTEM,
                                crate::InvalidRequest::BadField {
                                    field: "currencies".into(),
                                    reason: format!(
                                        "the shop has no price list in {currency}: sell in it through a market with its own price list, or remove {currency} from the system's `currencies`"
                                    ),
                                },
                            ));
                        }
                        several => {
                            let names: Vec<String> = several
                                .iter()
                                .map(|(_, id, name)| format!("{name:?} ({id})"))
                                .collect();
                            return Err(ConnectorError::invalid(
                                SYSTEM,
                                crate::InvalidRequest::BadField {
                                    field: "currencies".into(),
                                    reason: format!(
                                        "the shop has several price lists in {currency} ({}): weft syncs one price per currency and cannot tell which one to keep",
                                        names.join(", ")
                                    ),
                                },
                            ));
                        }
                    }
                }
                Ok::<_, ConnectorError>(out)
            })
            .await?;
        Ok(lists)
    }

    /// Adds each configured currency's fixed prices to product documents: a top-level
    /// `price_lists` object, `{currency: {variant id: {price, compare_at_price}}}`, a variant
    /// without a fixed price in a currency absent from it. Nothing when no currency is
    /// configured (the documents carry no `price_lists`: not delivered, not "none").
    pub async fn attach_price_lists(&self, docs: &mut [ShopifyDoc]) -> Result<(), ConnectorError> {
        if self.currencies.is_empty() {
            return Ok(());
        }
        let products: Vec<String> = docs
            .iter()
            .filter(|d| d.kind == crate::EntityKind::Product)
            .map(|d| d.id.clone())
            .collect();
        if products.is_empty() {
            return Ok(());
        }
        let lists = self.price_lists().await?;
        let mut found: HashMap<String, serde_json::Map<String, Value>> = HashMap::new();
        for chunk in products.chunks(25) {
            let search = chunk
                .iter()
                .map(|id| format!("product_id:{id}"))
                .collect::<Vec<_>>()
                .join(" OR ");
            for (currency, list) in lists {
                let prices = found.entry(currency.clone()).or_default();
                let mut after: Option<String> = None;
                loop {
                    let resp = self
                        .graphql(
                            q::PRICE_LIST_PRICES,
                            json!({"id": list, "first": q::PRICE_LIST_PAGE, "after": after, "query": search}),
                            q::connection_cost(q::PRICE_LIST_PAGE, 3),
                        )
                        .await?;
                    let Some(pl) = resp.data.get("priceList").filter(|p| !p.is_null()) else {
                        return Err(ConnectorError::Transport {
                            system: SYSTEM,
                            message: format!(
                                "the price list of {currency} ({list}) is gone; restart the store to look it up again"
                            ),
                            retryable: false,
                        });
                    };
                    let conn = pl
                        .get("prices")
                        .ok_or_else(|| shape_err("priceList without `prices`"))?;
                    for node in conn
                        .get("nodes")
                        .and_then(Value::as_array)
                        .ok_or_else(|| shape_err("prices without `nodes`"))?
                    {
                        let variant = node
                            .pointer("/variant/id")
                            .and_then(id_string)
                            .ok_or_else(|| shape_err("price without its variant"))?;
                        let amount = |f: &str| {
                            node.get(f)
                                .and_then(|m| m.get("amount"))
                                .and_then(normalize::money)
                        };
                        prices.insert(
                            variant,
                            json!({"price": amount("price"), "compare_at_price": amount("compareAtPrice")}),
                        );
                    }
                    after = next_cursor(conn, "prices")?;
                    if after.is_none() {
                        break;
                    }
                }
            }
        }
        for d in docs
            .iter_mut()
            .filter(|d| d.kind == crate::EntityKind::Product)
        {
            let ids: Vec<String> = d.body["variants"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.get("id").and_then(id_string))
                .collect();
            let mut out = serde_json::Map::new();
            for (currency, _) in lists {
                let mut of_product = serde_json::Map::new();
                if let Some(prices) = found.get(currency) {
                    for id in &ids {
                        if let Some(p) = prices.get(id) {
                            of_product.insert(id.clone(), p.clone());
                        }
                    }
                }
                out.insert(currency.clone(), Value::Object(of_product));
            }
            if let Some(body) = d.body.as_object_mut() {
                body.insert("price_lists".into(), Value::Object(out));
            }
        }
        Ok(())
    }

    /// Sets and removes fixed prices of the price list of `currency` in one call
    /// (`priceListFixedPricesUpdate`): `add` as `(variant id, price, compare-at price)`,
    /// `remove` as variant ids. Removing a price that is not there is not an error.
    pub async fn set_fixed_prices(
        &self,
        currency: &str,
        add: &[(String, String, Option<String>)],
        remove: &[String],
    ) -> Result<(), ConnectorError> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let lists = self.price_lists().await?;
        let Some((_, list)) = lists.iter().find(|(c, _)| c == currency) else {
            return Err(ConnectorError::invalid(
                SYSTEM,
                crate::InvalidRequest::BadField {
                    field: "price_lists".into(),
                    reason: format!(
                        "{currency} is not one of this system's `currencies` ({}): add it there to sync its prices",
                        self.currencies.join(", ")
                    ),
                },
            ));
        };
        let money = |amount: &str| json!({"amount": amount, "currencyCode": currency});
        let add: Vec<Value> = add
            .iter()
            .map(|(variant, price, compare_at)| {
                json!({
                    "variantId": gid("ProductVariant", variant),
                    "price": money(price),
                    "compareAtPrice": compare_at.as_deref().map(money),
                })
            })
            .collect();
        // Only a fixed price can be deleted: ask for those the list has, so a removal sent
        // again (its answer lost) finds nothing to do rather than an error.
        let mut remove_now = Vec::new();
        if !remove.is_empty() {
            let search = remove
                .iter()
                .map(|id| format!("variant_id:{id}"))
                .collect::<Vec<_>>()
                .join(" OR ");
            let resp = self
                .graphql(
                    q::PRICE_LIST_PRICES,
                    json!({"id": list, "first": q::PRICE_LIST_PAGE, "after": null, "query": search}),
                    q::connection_cost(q::PRICE_LIST_PAGE, 3),
                )
                .await?;
            for node in resp
                .data
                .pointer("/priceList/prices/nodes")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(id) = node.pointer("/variant/id").and_then(Value::as_str) {
                    remove_now.push(id.to_owned());
                }
            }
        }
        if add.is_empty() && remove_now.is_empty() {
            return Ok(());
        }
        let resp = self
            .graphql(
                q::PRICE_LIST_FIXED_PRICES_UPDATE,
                json!({"id": list, "add": add, "delete": remove_now}),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "priceListFixedPricesUpdate")?;
        check_user_errors(payload, "priceListFixedPricesUpdate")
    }

    /// One product by decimal id, `None` when it does not exist.
    pub async fn product(&self, id: &str) -> Result<Option<ShopifyDoc>, ConnectorError> {
        let resp = self
            .graphql(
                q::PRODUCT,
                json!({"id": gid("Product", id), "variants": q::PRODUCT_VARIANTS_PER_READ, "collections": self.collections}),
                q::product_cost(q::PRODUCT_VARIANTS_PER_READ),
            )
            .await?;
        match resp.data.get("product") {
            None | Some(Value::Null) => Ok(None),
            Some(node) => {
                let extra = weft_platform::poll::patient(|| self.remaining_variants(node)).await?;
                let mut doc =
                    [normalize::product_from_graphql(node, &extra).map_err(normalize_err)?];
                self.attach_price_lists(&mut doc).await?;
                let [doc] = doc;
                Ok(Some(doc))
            }
        }
    }

    /// One inventory level, `None` when the item is not stocked at the location.
    pub async fn inventory_level(
        &self,
        inventory_item_id: &str,
        location_id: &str,
    ) -> Result<Option<ShopifyDoc>, ConnectorError> {
        let resp = self
            .graphql(
                q::INVENTORY_LEVEL,
                json!({"item": gid("InventoryItem", inventory_item_id),
                       "location": gid("Location", location_id)}),
                5,
            )
            .await?;
        match resp.data.pointer("/inventoryItem/inventoryLevel") {
            None | Some(Value::Null) => Ok(None),
            Some(node) => normalize::inventory_level_from_graphql(node, Some(location_id))
                .map(Some)
                .map_err(normalize_err),
        }
    }

    /// Variants with exactly this SKU: `(variant id, product id, inventory item id)`.
    pub async fn find_variants_by_sku(
        &self,
        sku: &str,
    ) -> Result<Vec<(String, String, Option<String>)>, ConnectorError> {
        let resp = self
            .graphql(
                q::VARIANTS_BY_SKU,
                json!({"query": format!("sku:'{}'", sku.replace('\'', "\\'"))}),
                q::connection_cost(10, 3),
            )
            .await?;
        let nodes = resp
            .data
            .pointer("/productVariants/nodes")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Searches may be fuzzy (prefixes, case): only an exact SKU counts.
        Ok(nodes
            .iter()
            .filter(|n| n.get("sku").and_then(Value::as_str) == Some(sku))
            .filter_map(|n| {
                Some((
                    id_string(n.get("id")?)?,
                    id_string(n.pointer("/product/id")?)?,
                    n.pointer("/inventoryItem/id").and_then(id_string),
                ))
            })
            .collect())
    }

    /// A product's option names and its variants as `{id, sku, title, selectedOptions}` (ids as
    /// decimal strings), for merging a partial write into a full `productSet` list; `None` when
    /// the product does not exist.
    pub async fn product_for_set(
        &self,
        product_id: &str,
    ) -> Result<Option<(Vec<String>, Vec<Value>)>, ConnectorError> {
        let resp = self
            .graphql(
                q::PRODUCT_FOR_SET,
                json!({"id": gid("Product", product_id), "first": q::PRODUCT_FOR_SET_PAGE}),
                2 + q::connection_cost(q::PRODUCT_FOR_SET_PAGE, 2),
            )
            .await?;
        let Some(p) = resp.data.get("product").filter(|p| !p.is_null()) else {
            return Ok(None);
        };
        let mut nodes: Vec<Value> = p
            .pointer("/variants/nodes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        nodes.extend(
            self.remaining_nodes(
                p,
                "variants",
                q::PRODUCT_FOR_SET,
                2,
                "/product/variants",
                q::PRODUCT_FOR_SET_PAGE,
            )
            .await?,
        );
        let options = p
            .get("options")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let variants = nodes
            .iter()
            .filter_map(|v| {
                Some(json!({
                    "id": id_string(v.get("id")?)?,
                    "sku": v.get("sku").cloned().unwrap_or(Value::Null),
                    "title": v.get("title").cloned().unwrap_or(Value::Null),
                    "selectedOptions": v.get("selectedOptions").cloned().unwrap_or(json!([])),
                }))
            })
            .collect();
        Ok(Some((options, variants)))
    }

    /// Serializes product writes of this connection (see the field).
    pub async fn lock_product_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.product_writes.lock().await
    }

    /// The id of the product with this handle, if any.
    pub async fn find_product_by_handle(
        &self,
        handle: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let resp = self
            .graphql(
                q::PRODUCT_BY_HANDLE,
                json!({"query": format!("handle:'{}'", handle.replace('\'', "\\'"))}),
                q::connection_cost(1, 1),
            )
            .await?;
        Ok(resp
            .data
            .pointer("/products/nodes")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .find(|n| n.get("handle").and_then(Value::as_str) == Some(handle))
            .and_then(|n| id_string(n.get("id")?)))
    }

    /// Deletes metafields `(namespace, key)` of a product.
    pub async fn delete_product_metafields(
        &self,
        product_id: &str,
        keys: &[(String, String)],
    ) -> Result<(), ConnectorError> {
        if keys.is_empty() {
            return Ok(());
        }
        let list: Vec<Value> = keys
            .iter()
            .map(
                |(ns, k)| json!({"ownerId": gid("Product", product_id), "namespace": ns, "key": k}),
            )
            .collect();
        let resp = self
            .graphql(
                q::METAFIELDS_DELETE,
                json!({"metafields": list}),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "metafieldsDelete")?;
        check_user_errors(payload, "metafieldsDelete")
    }

    /// The customer with this email, if any.
    pub async fn find_customer_by_email(
        &self,
        email: &str,
    ) -> Result<Option<ShopifyDoc>, ConnectorError> {
        let resp = self
            .graphql(
                q::CUSTOMER_SEARCH,
                json!({"query": format!("email:'{}'", email.replace('\'', "\\'"))}),
                q::connection_cost(1, 1),
            )
            .await?;
        let nodes = resp
            .data
            .pointer("/customers/nodes")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for n in nodes {
            let d = normalize::customer_from_graphql(n).map_err(normalize_err)?;
            if d.body["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
            {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    // -----------------------------------------------------------------------------------------
    // Writes
    // -----------------------------------------------------------------------------------------

    /// `productSet` (synchronous): upserts a product and its variants from a
    /// `ProductSetInput`; returns the normalized product as Shopify now holds it.
    pub async fn product_set(&self, input: Value) -> Result<ShopifyDoc, ConnectorError> {
        let resp = self
            .graphql(
                q::PRODUCT_SET,
                json!({"input": input, "collections": self.collections}),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "productSet")?;
        check_user_errors(payload, "productSet")?;
        let node = payload
            .get("product")
            .filter(|p| !p.is_null())
            .ok_or_else(|| shape_err("productSet returned no product"))?;
        let extra = weft_platform::poll::patient(|| self.remaining_variants(node)).await?;
        normalize::product_from_graphql(node, &extra).map_err(normalize_err)
    }

    /// `productVariantsBulkUpdate` on variants of one product; returns the normalized variants
    /// and the product's new `updated_at`.
    pub async fn variants_bulk_update(
        &self,
        product_id: &str,
        variants: Value,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let resp = self
            .graphql(
                q::VARIANTS_BULK_UPDATE,
                json!({"productId": gid("Product", product_id), "variants": variants}),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "productVariantsBulkUpdate")?;
        check_user_errors(payload, "productVariantsBulkUpdate")?;
        let mut out = Vec::new();
        for v in payload
            .get("productVariants")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            out.push(normalize::variant_from_graphql(v, product_id).map_err(normalize_err)?);
        }
        let updated = payload
            .pointer("/product/updatedAt")
            .and_then(Value::as_str)
            .and_then(normalize::timestamp);
        Ok((out, updated))
    }

    /// `inventorySetQuantities` of the `available` quantity with compare-and-set. A changed
    /// quantity gives [`ConnectorError::Stale`]: re-read, re-merge, write again.
    pub async fn inventory_set_quantities(
        &self,
        changes: &[QuantityChange],
        reason: &str,
        reference: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        let input = self.inventory_set_quantities_input(changes, reason, reference);
        let payload = self.inventory_set_quantities_send(&input, None).await?;
        check_user_errors(&payload, "inventorySetQuantities")?;
        Ok(payload
            .get("inventoryAdjustmentGroup")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// The `input` of an `inventorySetQuantities` call of the `available` quantity: one entry
    /// per change, in order, each with its compare-and-set guard in the form this API version
    /// takes. Build it once and keep it: a retried call must send exactly the same input.
    pub fn inventory_set_quantities_input(
        &self,
        changes: &[QuantityChange],
        reason: &str,
        reference: Option<&str>,
    ) -> Value {
        let cfq = self.uses_change_from_quantity();
        let quantities: Vec<Value> = changes
            .iter()
            .map(|c| {
                let mut q = json!({
                    "inventoryItemId": gid("InventoryItem", &c.inventory_item_id),
                    "locationId": gid("Location", &c.location_id),
                    "quantity": c.quantity,
                });
                if cfq {
                    q["changeFromQuantity"] = json!(c.change_from);
                } else if let Some(cmp) = c.change_from {
                    q["compareQuantity"] = json!(cmp);
                }
                q
            })
            .collect();
        let mut input = json!({"name": "available", "reason": reason, "quantities": quantities});
        if !cfq {
            input["ignoreCompareQuantity"] = json!(changes.iter().all(|c| c.change_from.is_none()));
        }
        if let Some(r) = reference {
            input["referenceDocumentUri"] = json!(r);
        }
        input
    }

    /// Sends `inventorySetQuantities` with `input` ([`Self::inventory_set_quantities_input`]),
    /// under `@idempotent(key:)` when `idempotency_key` is given: a repeated key with the same
    /// input returns the original result and applies nothing. Returns the mutation's payload
    /// with its `userErrors` unchecked, so a batch can tell which of its quantities failed
    /// (each error's `field` is `["input", "quantities", "<index>", ...]`).
    pub async fn inventory_set_quantities_send(
        &self,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        let doc = q::inventory_set_quantities(idempotency_key);
        let resp = self
            .graphql(&doc, json!({"input": input}), q::MUTATION_COST)
            .await?;
        payload(&resp.data, "inventorySetQuantities").cloned()
    }

    /// `inventoryAdjustQuantities` of the `available` quantity with `@idempotent(key:)`: a
    /// repeated key returns the original result and applies nothing.
    pub async fn inventory_adjust_quantities(
        &self,
        changes: &[AdjustChange],
        reason: &str,
        idempotency_key: &str,
    ) -> Result<Value, ConnectorError> {
        let input = json!({
            "name": "available",
            "reason": reason,
            "changes": changes.iter().map(|c| json!({
                "delta": c.delta,
                "inventoryItemId": gid("InventoryItem", &c.inventory_item_id),
                "locationId": gid("Location", &c.location_id),
            })).collect::<Vec<_>>(),
        });
        let doc =
            q::INVENTORY_ADJUST_QUANTITIES.replace("{KEY}", &q::string_literal(idempotency_key));
        let resp = self
            .graphql(&doc, json!({"input": input}), q::MUTATION_COST)
            .await?;
        let payload = payload(&resp.data, "inventoryAdjustQuantities")?;
        check_user_errors(payload, "inventoryAdjustQuantities")?;
        Ok(payload
            .get("inventoryAdjustmentGroup")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Ships `lines` (`(sku, quantity)`) of order `order_id` with `tracking`, one
    /// `fulfillmentCreate` per fulfilment order the lines are on, each under
    /// `idempotency_key` (suffixed per fulfilment order): sent again, it returns the original
    /// fulfilment. Lines are placed on the fulfilment order lines of their SKU by total
    /// quantity, never by what remains, so a resend asks for exactly what the first send did.
    /// Returns the first fulfilment (id, `createdAt`, the payload).
    pub async fn fulfill_order(
        &self,
        order_id: &str,
        lines: &[(String, i64)],
        tracking: Option<Value>,
        notify_customer: bool,
        idempotency_key: &str,
    ) -> Result<ShopifyDoc, ConnectorError> {
        let resp = self
            .graphql(
                q::ORDER_FULFILLMENT_ORDERS,
                json!({"id": gid("Order", order_id)}),
                q::ORDER_FULFILLMENT_ORDERS_COST,
            )
            .await?;
        let order = resp
            .data
            .get("order")
            .filter(|o| !o.is_null())
            .ok_or_else(|| ConnectorError::Permanent {
                system: crate::PLATFORM,
                status: 200,
                code: "NOT_FOUND".into(),
                message: format!("order {order_id} does not exist"),
            })?;
        let fos = order
            .pointer("/fulfillmentOrders/nodes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // (fulfilment order, [(line id, quantity)]) in the order Shopify lists them.
        let mut plan: Vec<(String, Vec<(String, i64)>)> = Vec::new();
        for (sku, quantity) in lines {
            let mut left = *quantity;
            for fo in &fos {
                let fo_id = fo.get("id").and_then(Value::as_str).unwrap_or_default();
                for li in fo
                    .pointer("/lineItems/nodes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if left == 0 || li.get("sku").and_then(Value::as_str) != Some(sku.as_str()) {
                        continue;
                    }
                    let total = li.get("totalQuantity").and_then(Value::as_i64).unwrap_or(0);
                    let take = left.min(total);
                    if take == 0 {
                        continue;
                    }
                    left -= take;
                    let li_id = li.get("id").and_then(Value::as_str).unwrap_or_default();
                    match plan.iter_mut().find(|(f, _)| f == fo_id) {
                        Some((_, ls)) => ls.push((li_id.to_owned(), take)),
                        None => plan.push((fo_id.to_owned(), vec![(li_id.to_owned(), take)])),
                    }
                }
            }
            if left > 0 {
                return Err(ConnectorError::Permanent {
                    system: crate::PLATFORM,
                    status: 200,
                    code: "FULFILLMENT_LINES".into(),
                    message: format!(
                        "order {order_id} has no line for {left} more of sku {sku:?} to fulfil"
                    ),
                });
            }
        }
        let mut first: Option<ShopifyDoc> = None;
        for (n, (fo, items)) in plan.iter().enumerate() {
            let mut input = json!({
                "lineItemsByFulfillmentOrder": [{
                    "fulfillmentOrderId": fo,
                    "fulfillmentOrderLineItems": items
                        .iter()
                        .map(|(id, q)| json!({"id": id, "quantity": q}))
                        .collect::<Vec<_>>(),
                }],
                "notifyCustomer": notify_customer,
            });
            if let Some(t) = &tracking {
                input["trackingInfo"] = t.clone();
            }
            let key = if n == 0 {
                idempotency_key.to_owned()
            } else {
                format!("{idempotency_key}:{n}")
            };
            let doc = q::FULFILLMENT_CREATE.replace("{KEY}", &q::string_literal(&key));
            let resp = self
                .graphql(&doc, json!({"fulfillment": input}), q::MUTATION_COST)
                .await?;
            let payload = payload(&resp.data, "fulfillmentCreate")?;
            check_user_errors(payload, "fulfillmentCreate")?;
            let f = payload
                .get("fulfillment")
                .filter(|f| !f.is_null())
                .ok_or_else(|| shape_err("fulfillmentCreate returned no fulfillment"))?;
            if first.is_none() {
                first = Some(ShopifyDoc {
                    kind: weft_platform::EntityKind::Fulfillment,
                    id: f
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(normalize::id_from_gid)
                        .unwrap_or_default(),
                    updated_at: f
                        .get("createdAt")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    body: f.clone(),
                });
            }
        }
        first.ok_or_else(|| shape_err("no fulfilment order carries the lines"))
    }

    /// `productDelete`: `false` when the product does not exist (deleted already).
    pub async fn product_delete(&self, id: &str) -> Result<bool, ConnectorError> {
        let resp = self
            .graphql(
                q::PRODUCT_DELETE,
                json!({"input": {"id": gid("Product", id)}}),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "productDelete")?;
        if payload
            .get("deletedProductId")
            .is_some_and(|d| !d.is_null())
        {
            return Ok(true);
        }
        if user_error_says(payload, "does not exist") {
            return Ok(false);
        }
        check_user_errors(payload, "productDelete")?;
        Err(shape_err("productDelete deleted nothing and said no error"))
    }

    /// `productVariantsBulkDelete` of one variant of a product.
    pub async fn variant_delete(
        &self,
        product_id: &str,
        variant_id: &str,
    ) -> Result<VariantDelete, ConnectorError> {
        let resp = self
            .graphql(
                q::VARIANTS_BULK_DELETE,
                json!({
                    "productId": gid("Product", product_id),
                    "variantsIds": [gid("ProductVariant", variant_id)],
                }),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "productVariantsBulkDelete")?;
        let codes: Vec<&str> = payload
            .get("userErrors")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.get("code").and_then(Value::as_str))
            .collect();
        if codes.contains(&"CANNOT_DELETE_LAST_VARIANT") {
            return Ok(VariantDelete::Last);
        }
        if codes.contains(&"PRODUCT_DOES_NOT_EXIST") {
            return Ok(VariantDelete::ProductGone);
        }
        if codes.contains(&"AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT") {
            return Ok(VariantDelete::NotThere);
        }
        check_user_errors(payload, "productVariantsBulkDelete")?;
        Ok(VariantDelete::Deleted)
    }

    /// `customerDelete`: `false` when the customer does not exist (deleted already). Shopify
    /// refuses to delete a customer with orders: a permanent error that says so.
    pub async fn customer_delete(&self, id: &str) -> Result<bool, ConnectorError> {
        let resp = self
            .graphql(
                q::CUSTOMER_DELETE,
                json!({"input": {"id": gid("Customer", id)}}),
                q::MUTATION_COST,
            )
            .await?;
        let payload = payload(&resp.data, "customerDelete")?;
        if payload
            .get("deletedCustomerId")
            .is_some_and(|d| !d.is_null())
        {
            return Ok(true);
        }
        if user_error_says(payload, "does not exist") {
            return Ok(false);
        }
        check_user_errors(payload, "customerDelete")?;
        Err(shape_err(
            "customerDelete deleted nothing and said no error",
        ))
    }

    /// `customerCreate` from a `CustomerInput`.
    pub async fn customer_create(&self, input: Value) -> Result<ShopifyDoc, ConnectorError> {
        self.customer_mutation(q::CUSTOMER_CREATE, "customerCreate", input)
            .await
    }

    /// `customerEmailMarketingConsentUpdate`: `state` is `SUBSCRIBED`, `UNSUBSCRIBED` or
    /// `PENDING` (the only states the API sets).
    pub async fn customer_consent_update(
        &self,
        id: &str,
        state: &str,
    ) -> Result<ShopifyDoc, ConnectorError> {
        let input = json!({
            "customerId": gid("Customer", id),
            "emailMarketingConsent": {"marketingState": state, "marketingOptInLevel": "SINGLE_OPT_IN"},
        });
        self.customer_mutation(
            q::CUSTOMER_CONSENT_UPDATE,
            "customerEmailMarketingConsentUpdate",
            input,
        )
        .await
    }

    /// `customerUpdate` from a `CustomerInput` carrying `id`.
    pub async fn customer_update(&self, input: Value) -> Result<ShopifyDoc, ConnectorError> {
        self.customer_mutation(q::CUSTOMER_UPDATE, "customerUpdate", input)
            .await
    }

    async fn customer_mutation(
        &self,
        doc: &str,
        field: &str,
        input: Value,
    ) -> Result<ShopifyDoc, ConnectorError> {
        let resp = self
            .graphql(doc, json!({"input": input}), q::MUTATION_COST)
            .await?;
        let payload = payload(&resp.data, field)?;
        check_user_errors(payload, field)?;
        let node = payload
            .get("customer")
            .filter(|c| !c.is_null())
            .ok_or_else(|| shape_err(&format!("{field} returned no customer")))?;
        normalize::customer_from_graphql(node).map_err(normalize_err)
    }
}

fn max_version(docs: &[ShopifyDoc]) -> Option<String> {
    // Versions are UTC RFC 3339 with `Z`; compare as instants (fractions vary in length).
    docs.iter()
        .filter_map(|d| {
            chrono::DateTime::parse_from_rfc3339(&d.updated_at)
                .ok()
                .map(|t| (t, &d.updated_at))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, s)| s.clone())
}

fn payload<'a>(data: &'a Value, field: &str) -> Result<&'a Value, ConnectorError> {
    data.get(field)
        .filter(|p| !p.is_null())
        .ok_or_else(|| shape_err(&format!("no `{field}` payload in data")))
}

/// Turns a mutation payload's `userErrors` into a typed error.
/// What `productVariantsBulkDelete` did with one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantDelete {
    /// Deleted: the product has the others.
    Deleted,
    /// Refused: it is the product's last variant (delete the product instead).
    Last,
    /// The product does not exist (deleted already).
    ProductGone,
    /// The product does not hold the variant (deleted already).
    NotThere,
}

/// Whether one of the payload's `userErrors` says `what` (Shopify's "... does not exist").
fn user_error_says(payload: &Value, what: &str) -> bool {
    payload
        .get("userErrors")
        .and_then(Value::as_array)
        .is_some_and(|es| {
            es.iter().any(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.contains(what))
            })
        })
}

pub(crate) fn check_user_errors(payload: &Value, mutation: &str) -> Result<(), ConnectorError> {
    let errors = match payload.get("userErrors").and_then(Value::as_array) {
        Some(e) if !e.is_empty() => e,
        _ => return Ok(()),
    };
    let describe = |e: &Value| {
        let msg = e.get("message").and_then(Value::as_str).unwrap_or("error");
        match e.get("field").and_then(Value::as_array) {
            Some(f) if !f.is_empty() => {
                let path: Vec<String> = f
                    .iter()
                    .map(|p| match p {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                format!("{}: {msg}", path.join("."))
            }
            _ => msg.to_owned(),
        }
    };
    let message = errors.iter().map(describe).collect::<Vec<_>>().join("; ");
    let codes: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.get("code").and_then(Value::as_str))
        .collect();
    if codes
        .iter()
        .any(|c| matches!(*c, "CHANGE_FROM_QUANTITY_STALE" | "COMPARE_QUANTITY_STALE"))
    {
        return Err(ConnectorError::Stale {
            system: SYSTEM,
            what: mutation.to_owned(),
            message,
        });
    }
    if codes.iter().any(|c| c.contains("IDEMPOTENCY_CONCURRENT")) {
        return Err(ConnectorError::Retryable {
            system: SYSTEM,
            status: Some(200),
            message: format!("{mutation}: {message}"),
            retry_after: None,
        });
    }
    Err(ConnectorError::Permanent {
        system: SYSTEM,
        status: 200,
        code: codes.first().copied().unwrap_or("USER_ERROR").to_owned(),
        message: format!("{mutation}: {message}"),
    })
}

/// How long until a bucket holding `available` points at `restore` points/s holds `needed`.
fn refill_wait(needed: f64, status: Option<&QueryCost>) -> Option<Duration> {
    let wait = status?.throttle_status.time_until_available(needed);
    (wait != Duration::MAX).then(|| wait.min(Duration::from_secs(3600)))
}

/// Classifies a GraphQL HTTP response; returns `data` on success.
pub(crate) fn classify_response(
    status: u16,
    retry_after: Option<Duration>,
    body: Option<Value>,
    raw: &[u8],
    reserved: f64,
) -> Result<Value, ConnectorError> {
    let cost: Option<QueryCost> = body
        .as_ref()
        .and_then(|b| b.pointer("/extensions/cost"))
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let errors: Vec<Value> = match body.as_ref().and_then(|b| b.get("errors")) {
        Some(Value::Array(a)) => a.clone(),
        Some(other) if !other.is_null() => vec![other.clone()],
        _ => Vec::new(),
    };
    let code_of = |e: &Value| {
        e.pointer("/extensions/code")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let throttled = errors
        .iter()
        .any(|e| code_of(e).as_deref() == Some("THROTTLED"));
    if status == 429 || throttled {
        let needed = cost
            .as_ref()
            .map(|c| c.requested_query_cost)
            .unwrap_or(reserved);
        return Err(ConnectorError::Throttled {
            system: SYSTEM,
            retry_after: retry_after.or_else(|| refill_wait(needed, cost.as_ref())),
        });
    }
    let message_of = |e: &Value| match e {
        Value::String(s) => s.clone(),
        other => other
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| other.to_string()),
    };
    let joined = || {
        if errors.is_empty() {
            String::from_utf8_lossy(&raw[..raw.len().min(512)]).into_owned()
        } else {
            errors
                .iter()
                .map(&message_of)
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    if status >= 500 || status == 408 {
        return Err(ConnectorError::Retryable {
            system: SYSTEM,
            status: Some(status),
            message: joined(),
            retry_after,
        });
    }
    if !(200..300).contains(&status) {
        let code = match status {
            401 => "UNAUTHORIZED",
            402 => "PAYMENT_REQUIRED",
            403 => "FORBIDDEN",
            404 => "NOT_FOUND",
            _ => "HTTP_ERROR",
        };
        return Err(ConnectorError::Permanent {
            system: SYSTEM,
            status,
            code: code.into(),
            message: joined(),
        });
    }
    let Some(body) = body else {
        return Err(ConnectorError::Transport {
            system: SYSTEM,
            message: format!(
                "response is not JSON: {}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ),
            retryable: false,
        });
    };
    if !errors.is_empty() {
        if errors
            .iter()
            .any(|e| code_of(e).as_deref() == Some("INTERNAL_SERVER_ERROR"))
        {
            return Err(ConnectorError::Retryable {
                system: SYSTEM,
                status: Some(status),
                message: joined(),
                retry_after,
            });
        }
        let code = errors
            .iter()
            .find_map(code_of)
            .unwrap_or_else(|| "GRAPHQL_ERROR".into());
        return Err(ConnectorError::Permanent {
            system: SYSTEM,
            status,
            code,
            message: joined(),
        });
    }
    match body {
        Value::Object(mut m) => match m.remove("data") {
            Some(d) if !d.is_null() => Ok(d),
            _ => Err(shape_err("response without `data` or `errors`")),
        },
        _ => Err(shape_err("response is not a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: Value) -> Result<Value, ConnectorError> {
        let raw = serde_json::to_vec(&body).unwrap();
        classify_response(status, None, Some(body), &raw, 10.0)
    }

    #[test]
    fn throttled_on_200_is_detected_with_a_refill_wait() {
        let body = json!({
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": 70, "actualQueryCost": null,
                "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 66, "restoreRate": 50}}}
        });
        match classify(200, body) {
            Err(ConnectorError::Throttled { retry_after, .. }) => {
                // (70 - 66) / 50 s = 80 ms
                assert_eq!(retry_after, Some(Duration::from_millis(80)));
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
    }

    #[test]
    fn http_429_is_throttled_with_retry_after() {
        let r = classify_response(
            429,
            Some(Duration::from_secs(2)),
            None,
            b"Too Many Requests",
            10.0,
        );
        assert!(matches!(
            r,
            Err(ConnectorError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(2)
        ));
    }

    #[test]
    fn other_errors_are_classified() {
        let e = classify(
            200,
            json!({"errors": [{"message": "Field 'nope' doesn't exist on type 'Product'",
                "extensions": {"code": "undefinedField"}}]}),
        )
        .unwrap_err();
        assert!(matches!(&e, ConnectorError::Permanent { code, .. } if code == "undefinedField"));
        assert!(!e.is_retryable());
        let e = classify(
            401,
            json!({"errors": "[API] Invalid API key or access token"}),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Permanent { status: 401, message, .. } if message.contains("Invalid API key"))
        );
        let e = classify(503, json!({})).unwrap_err();
        assert!(e.is_retryable());
        let e = classify(
            200,
            json!({"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}),
        )
        .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(
            classify(200, json!({"data": {"x": 1}})).unwrap(),
            json!({"x": 1})
        );
        assert!(classify_response(200, None, None, b"<html>", 1.0).is_err());
    }

    #[test]
    fn user_errors_become_typed_errors() {
        let stale = json!({"userErrors": [{"field": ["input", "quantities", "0", "changeFromQuantity"],
            "message": "The specified compare quantity does not match", "code": "CHANGE_FROM_QUANTITY_STALE"}]});
        let e = check_user_errors(&stale, "inventorySetQuantities").unwrap_err();
        assert!(e.is_stale());
        assert!(
            e.to_string()
                .contains("input.quantities.0.changeFromQuantity")
        );
        let bad = json!({"userErrors": [{"field": ["input", "title"], "message": "Title can't be blank", "code": "BLANK"}]});
        let e = check_user_errors(&bad, "productSet").unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Permanent { code, message, .. } if code == "BLANK" && message == "productSet: input.title: Title can't be blank")
        );
        assert!(check_user_errors(&json!({"userErrors": []}), "x").is_ok());
    }

    #[test]
    fn max_version_compares_instants() {
        let d = |t: &str| ShopifyDoc {
            kind: crate::EntityKind::Customer,
            id: "1".into(),
            updated_at: t.into(),
            body: Value::Null,
        };
        let docs = [
            d("2024-01-01T00:00:00.5Z"),
            d("2024-01-01T00:00:00.25Z"),
            d("2023-12-31T23:59:59Z"),
        ];
        assert_eq!(
            max_version(&docs).as_deref(),
            Some("2024-01-01T00:00:00.5Z")
        );
    }
}
