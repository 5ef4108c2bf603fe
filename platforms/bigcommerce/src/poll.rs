//! Change capture by `date_modified` watermark with overlap: webhooks are a fast path (and
//! carry only ids), this is the truth.
//!
//! Each round reads, per stream, everything modified since the stream's watermark minus the
//! overlap (inclusive `date_modified:min`; V2 `min_date_modified`), paged by keyset on id:
//! products with their variants (and then the stock of those products at every location,
//! `/v3/inventory/items?product_id:in=`), customers, orders (each order's lines are fetched
//! only when weft does not already hold that order at that version). Journal entries and the
//! new watermark (the newest `date_modified` read) commit in one transaction. The same
//! fetching serves the webhook hints ([`fetch_hinted`]).
//!
//! Deletions: a deleted product or customer is in no listing, and `date_modified` never shows
//! it. A full read (which lists every product and customer) journals a tombstone
//! ([`weft_platform::webhook::tombstone`]) for each one weft held that it no longer lists,
//! versioned by weft's clock at the read, so a lost `store/product/deleted` (or
//! `store/customer/deleted`) is found by the next full resync.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use weft_platform::poll::{FirstSync, Held, later, minus, observed_version, round_source};
use weft_platform::{ConnectorError, PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::client::BcClient;
use crate::normalize::{self, BcDoc};

/// Product ids per `/v3/inventory/items` or `id:in` read.
pub const IDS_PER_READ: usize = 50;

/// Reads the stock of `products` (ids) at every location, versioned by `versions`.
pub async fn levels_of(
    client: &BcClient,
    products: &[String],
    versions: &BTreeMap<String, String>,
) -> Result<Vec<BcDoc>, ConnectorError> {
    let mut out = Vec::new();
    for chunk in products.chunks(IDS_PER_READ) {
        let items = client
            .list_v3_paged(
                "/v3/inventory/items",
                &format!("product_id:in={}", chunk.join(",")),
            )
            .await?;
        out.extend(normalize::levels(&items, |p| versions.get(p).cloned()));
    }
    Ok(out)
}

/// Products (with variants) and their stock levels for a V3 filter.
pub async fn products_where(client: &BcClient, filter: &str) -> Result<Vec<BcDoc>, ConnectorError> {
    let mut query = "include=variants".to_owned();
    if !filter.is_empty() {
        query.push('&');
        query.push_str(filter);
    }
    let raw = client.list_v3("/v3/catalog/products", &query).await?;
    let docs: Vec<BcDoc> = raw.iter().filter_map(normalize::product).collect();
    let versions: BTreeMap<String, String> = docs
        .iter()
        .map(|d| (d.id.clone(), d.version.clone()))
        .collect();
    let ids: Vec<String> = versions.keys().cloned().collect();
    let mut out = docs;
    out.extend(levels_of(client, &ids, &versions).await?);
    Ok(out)
}

/// Customers for a V3 filter.
pub async fn customers_where(
    client: &BcClient,
    filter: &str,
) -> Result<Vec<BcDoc>, ConnectorError> {
    Ok(client
        .list_v3("/v3/customers", filter)
        .await?
        .iter()
        .filter_map(normalize::customer)
        .collect())
}

/// One order with its lines, reusing the lines weft holds for the same version.
async fn order_doc(
    client: &BcClient,
    o: &Value,
    known: Option<&Value>,
) -> Result<Option<BcDoc>, ConnectorError> {
    let Some(id) = o["id"].as_u64() else {
        return Ok(None);
    };
    let lines = match known {
        Some(k) => k["line_items"].clone(),
        None => client
            .call(
                reqwest::Method::GET,
                &format!("/v2/orders/{id}/products"),
                None,
            )
            .await?
            .unwrap_or(json!([])),
    };
    Ok(normalize::order(o, &lines))
}

/// The journal-side context a reader needs.
#[derive(Clone)]
pub struct Journal {
    /// The store.
    pub store_id: String,
    /// The system name entries are journaled under.
    pub system: String,
    /// The database.
    pub db: Store,
    /// Orders this process read, by id: their version and document (so an order read again
    /// at the same version needs no second `/products` call).
    pub orders: Arc<parking_lot::Mutex<std::collections::HashMap<String, (String, Value)>>>,
}

impl Journal {
    /// A journal context for `system` of `store_id`.
    pub fn new(store_id: impl Into<String>, system: impl Into<String>, db: Store) -> Self {
        Journal {
            store_id: store_id.into(),
            system: system.into(),
            db,
            orders: Arc::default(),
        }
    }
}

impl Journal {
    /// The entries for `docs`, read from `read_at` on (versions placed against what weft
    /// holds, see [`observed_version`]; the read time counts for products and customers, the
    /// kinds the connection can read again alone).
    pub async fn entries(
        &self,
        docs: Vec<BcDoc>,
        source: Source,
        read_at: chrono::DateTime<Utc>,
    ) -> Result<Vec<NewJournalEntry>, SourceError> {
        let now = Utc::now();
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            let kind = d.kind.as_str();
            let read_at = matches!(
                d.kind,
                weft_platform::EntityKind::Product | weft_platform::EntityKind::Customer
            )
            .then_some(read_at);
            let version = observed_version(
                &self.db,
                &self.store_id,
                &self.system,
                kind,
                &d.id,
                &d.version,
                &d.body,
                read_at,
            )
            .await?;
            out.push(NewJournalEntry {
                store_id: self.store_id.clone(),
                system: self.system.clone(),
                kind: kind.into(),
                entity_id: d.id,
                version,
                source,
                delivery_id: None,
                body: d.body,
                received_at: now,
            });
        }
        Ok(out)
    }

    /// The order weft holds at `version`, if it does.
    pub async fn known_order(&self, id: &str, version: &str) -> Result<Option<Value>, SourceError> {
        if let Some((v, body)) = self.orders.lock().get(id)
            && v == version
        {
            return Ok(Some(body.clone()));
        }
        Ok(self
            .db
            .entity_state(&self.store_id, &self.system, "order", id)
            .await?
            .filter(|k| k.version == version)
            .map(|k| k.body))
    }
}

impl Journal {
    fn remember_order(&self, d: &BcDoc) {
        self.orders
            .lock()
            .insert(d.id.clone(), (d.version.clone(), d.body.clone()));
    }
}

/// Orders for a V2 filter (lines fetched only for versions weft does not hold).
pub async fn orders_where(
    client: &BcClient,
    journal: &Journal,
    filter: &str,
) -> Result<Vec<BcDoc>, SourceError> {
    let raw = client.list_v2("/v2/orders", filter).await?;
    let mut out = Vec::new();
    for o in &raw {
        let id = o["id"].as_u64().map(|i| i.to_string()).unwrap_or_default();
        let v = normalize::version(o["date_modified"].as_str().unwrap_or_default());
        let known = journal.known_order(&id, &v).await?;
        if let Some(d) = order_doc(client, o, known.as_ref()).await? {
            journal.remember_order(&d);
            out.push(d);
        }
    }
    Ok(out)
}

/// Fetches what webhook hints named: `(type, id)` pairs (`product`, `customer`, `order`);
/// each entity once however many hints named it.
pub async fn fetch_hinted(
    client: &BcClient,
    journal: &Journal,
    hints: &[(String, u64)],
) -> Result<Vec<BcDoc>, SourceError> {
    let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (t, id) in hints {
        let ids = by_type.entry(t.as_str()).or_default();
        let id = id.to_string();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let mut out = Vec::new();
    for (t, ids) in by_type {
        for chunk in ids.chunks(IDS_PER_READ) {
            let filter = format!("id:in={}", chunk.join(","));
            match t {
                "product" => out.extend(products_where(client, &filter).await?),
                "customer" => out.extend(customers_where(client, &filter).await?),
                "order" => {
                    for id in chunk {
                        let o = match client.get(&format!("/v2/orders/{id}")).await {
                            Ok(o) => o,
                            Err(ConnectorError::Permanent { status: 404, .. }) => continue,
                            Err(e) => return Err(e.into()),
                        };
                        let v = normalize::version(o["date_modified"].as_str().unwrap_or_default());
                        let known = journal.known_order(id, &v).await?;
                        if let Some(d) = order_doc(client, &o, known.as_ref()).await? {
                            journal.remember_order(&d);
                            out.push(d);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// BigCommerce change capture by `date_modified` watermark.
pub struct BcChangeCapture {
    name: String,
    journal: Journal,
    client: Arc<BcClient>,
    overlap: Duration,
    first_sync: FirstSync,
}

impl BcChangeCapture {
    /// A change capture reading `overlap` before its watermarks.
    pub fn new(journal: Journal, client: Arc<BcClient>, overlap: Duration) -> Self {
        BcChangeCapture {
            name: format!("{}-changes", journal.system),
            journal,
            client,
            overlap,
            first_sync: FirstSync::default(),
        }
    }

    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
        let mut report = PollReport::default();
        let mut streams = ["products", "customers", "orders"];
        let (db, store, system) = (
            &self.journal.db,
            &self.journal.store_id,
            &self.journal.system,
        );
        weft_platform::poll::stalest_first(db, store, system, &mut streams, |s| s).await?;
        let first = self.first_sync.pending(db, store, system).await?;
        // Read whole (a full resync, or a first sync): a backfill.
        let source = round_source(full || first, Source::Poll);
        for stream in streams {
            let key = format!("{}:{stream}", self.journal.system);
            let mark = self
                .journal
                .db
                .watermark(&self.journal.store_id, &key)
                .await?
                .and_then(|v| v["date_modified"].as_str().map(str::to_owned));
            // Read before the listing, so nothing created since can look deleted.
            let deletable = match stream {
                "products" => Some("product"),
                "customers" => Some("customer"),
                _ => None,
            };
            let held = match deletable {
                Some(kind) if full => Some(
                    Held::read(
                        &self.journal.db,
                        &self.journal.store_id,
                        &self.journal.system,
                        kind,
                    )
                    .await?,
                ),
                _ => None,
            };
            let read_at = Utc::now();
            let since = mark
                .as_deref()
                .filter(|_| !full)
                .map(|m| minus(m, self.overlap));
            let docs = match stream {
                "products" => {
                    let f = since
                        .as_ref()
                        .map(|s| format!("date_modified:min={}", enc(s)))
                        .unwrap_or_default();
                    products_where(&self.client, &f).await?
                }
                "customers" => {
                    let f = since
                        .as_ref()
                        .map(|s| format!("date_modified:min={}", enc(s)))
                        .unwrap_or_default();
                    customers_where(&self.client, &f).await?
                }
                _ => {
                    let f = since
                        .as_ref()
                        .map(|s| format!("min_date_modified={}", enc(s)))
                        .unwrap_or_default();
                    orders_where(&self.client, &self.journal, &f).await?
                }
            };
            report.read += docs.len() as u64;
            let newest = docs
                .iter()
                .filter(|d| d.kind != weft_platform::EntityKind::InventoryLevel)
                .map(|d| d.version.clone())
                .reduce(later);
            let next = match (mark, newest) {
                (Some(a), Some(b)) => Some(later(a, b)),
                (a, b) => a.or(b),
            };
            let listed: std::collections::HashSet<String> =
                docs.iter().map(|d| d.id.clone()).collect();
            let mut entries = self.journal.entries(docs, source, read_at).await?;
            if let Some(held) = held {
                // A full read lists every product and customer: one weft held that it no longer
                // lists was deleted (its `store/.../deleted` callback lost, or never sent).
                entries.extend(
                    held.tombstones(
                        &self.journal.db,
                        &self.journal.store_id,
                        &self.journal.system,
                        |id| listed.contains(id),
                        read_at,
                    )
                    .await?,
                );
            }
            let Some(next) = next else {
                if !entries.is_empty() {
                    report.journaled += self
                        .journal
                        .db
                        .append_batch(entries)
                        .await?
                        .iter()
                        .filter(|o| matches!(o, weft_store::AppendOutcome::Inserted(_)))
                        .count() as u64;
                }
                continue;
            };
            let outcomes = self
                .journal
                .db
                .append_with_watermark(
                    entries,
                    &self.journal.store_id,
                    WatermarkUpdate {
                        stream: key,
                        value: json!({ "date_modified": next }),
                    },
                    Utc::now(),
                )
                .await?;
            let inserted = outcomes
                .iter()
                .filter(|o| matches!(o, weft_store::AppendOutcome::Inserted(_)))
                .count();
            report.journaled += inserted as u64;
            // What the poll journals, no hint brought before it (a dropped callback, or one
            // not fetched yet): counted like the other platforms' recoveries. A first sync's
            // reading is not a recovery.
            if inserted > 0 && !first {
                self.journal
                    .db
                    .bump_counter(&self.journal.store_id, "recovered", inserted as i64)
                    .await?;
            }
        }
        if first {
            self.first_sync.done();
        }
        Ok(report)
    }
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

impl Poller for BcChangeCapture {
    // Change capture, not a reconciliation: weft subscribes to no `store/sku/*` scope, so a
    // variant's own stock change reaches weft only through this.
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(false))
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(true))
    }
}
