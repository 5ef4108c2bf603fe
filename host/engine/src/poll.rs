//! The pollers: webhooks are a fast path, not the truth.
//!
//! - [`ShopifyReconciler`] reads every entity updated since its watermark minus an overlap
//!   window and journals what it finds. Documents a webhook already journaled are recognised by
//!   the journal's observation key (same entity, version and body) and not counted; the rest
//!   are changes the webhooks dropped (or have not delivered yet) and are counted as `recovered`.
//! - [`NetSuiteCdc`] reads changed rows with SuiteQL on `lastModifiedDate` with an overlap and
//!   an id tie-break, fetches each changed record in full and journals it.
//!
//! In both, the journal entries and the new watermark are committed in ONE transaction, so the
//! watermark never advances past a change that is not journaled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use weft_connectors::ConnectorError;
use weft_connectors::netsuite::cdc::{CdcSource, Watermark};
use weft_connectors::netsuite::{NetSuiteClient, RecordRef, inventory_level_docs};
use weft_connectors::shopify::{Entity, ReadResult, ShopifyClient, ShopifyDoc};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::error::EngineError;
use crate::runner::{PollReport, Poller};
use crate::version::Version;

/// Shopify reconciliation by `updated_at` watermark.
pub struct ShopifyReconciler {
    store_id: String,
    db: Store,
    client: Arc<ShopifyClient>,
    overlap: Duration,
    /// Per stream and id, the document this reconciler read in full after its version's
    /// second was over (so no same-second edit can follow it) and journaled. The overlap
    /// window lists such documents again every round: they are not fetched again, but their
    /// final body is offered to the journal again, so a late webhook carrying an earlier edit
    /// of the same second that was processed meanwhile is still corrected.
    settled: std::sync::Mutex<HashMap<(String, String), ShopifyDoc>>,
}

impl ShopifyReconciler {
    /// A reconciler reading with `overlap` before its watermark (clock skew, same-second ties).
    pub fn new(
        store_id: impl Into<String>,
        db: Store,
        client: Arc<ShopifyClient>,
        overlap: Duration,
    ) -> Self {
        ShopifyReconciler {
            store_id: store_id.into(),
            db,
            client,
            overlap,
            settled: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// One round; `full` reads every entity, not only those updated since the watermark.
    async fn round(&self, full: bool) -> Result<PollReport, EngineError> {
        let mut report = PollReport::default();
        let entities = [
            ("products", Entity::Products),
            ("customers", Entity::Customers),
            ("orders", Entity::Orders),
            (
                "inventory-levels",
                Entity::InventoryLevels { location_id: None },
            ),
        ];
        for (name, entity) in entities {
            let stream = format!("shopify:{name}");
            let mark = self
                .db
                .watermark(&self.store_id, &stream)
                .await?
                .and_then(|v| {
                    v.get("updated_at")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            let since = mark
                .as_deref()
                .filter(|_| !full)
                .map(|m| minus(m, self.overlap));
            let (read, listing_time, fetched) =
                self.read(&stream, &entity, since.as_deref()).await?;
            report.read += fetched.len() as u64;
            let now = Utc::now();
            let mut entries: Vec<NewJournalEntry> = Vec::with_capacity(read.docs.len());
            for d in read.docs {
                let kind = d.kind.as_str();
                let version = observed_version(
                    &self.db,
                    &self.store_id,
                    "shopify",
                    kind,
                    &d.id,
                    &d.updated_at,
                    &d.body,
                )
                .await?;
                entries.push(NewJournalEntry {
                    store_id: self.store_id.clone(),
                    system: "shopify".into(),
                    kind: kind.into(),
                    entity_id: d.id,
                    version,
                    source: Source::Poll,
                    delivery_id: None,
                    body: d.body,
                    received_at: now,
                });
            }
            let next = match (mark, read.max_updated_at) {
                (Some(a), Some(b)) => Some(later(a, b)),
                (a, b) => a.or(b),
            };
            let Some(next) = next else { continue };
            let outcomes = self
                .db
                .append_with_watermark(
                    entries,
                    &self.store_id,
                    WatermarkUpdate {
                        stream: stream.clone(),
                        value: json!({ "updated_at": next }),
                    },
                    now,
                )
                .await?;
            let inserted = outcomes.iter().filter(|o| o.is_inserted()).count() as i64;
            report.journaled += inserted as u64;
            if inserted > 0 {
                self.db
                    .bump_counter(&self.store_id, "recovered", inserted)
                    .await?;
            }
            self.remember(&stream, &fetched, listing_time, since.as_deref());
        }
        Ok(report)
    }

    /// Reads what changed in `entity` since `since`. Products, customers and orders are listed
    /// first (ids and versions, one point each) and only the ones not already settled are
    /// fetched in full; inventory levels are read directly. Returns the read (its watermark
    /// covers everything listed) and the listing's server time.
    async fn read(
        &self,
        stream: &str,
        entity: &Entity,
        since: Option<&str>,
    ) -> Result<(ReadResult, Option<DateTime<Utc>>, Vec<ShopifyDoc>), EngineError> {
        if matches!(entity, Entity::InventoryLevels { .. }) {
            let read = patient(|| self.client.read_since(entity, since)).await?;
            let fetched = read.docs.clone();
            return Ok((read, None, fetched));
        }
        let listing = patient(|| self.client.list_changed(entity, since)).await?;
        let mut docs = Vec::new();
        let mut wanted = Vec::new();
        {
            let settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
            for l in &listing.items {
                match settled.get(&(stream.to_owned(), l.id.clone())) {
                    Some(d) if d.updated_at == l.updated_at => docs.push(d.clone()),
                    _ => wanted.push(l.id.clone()),
                }
            }
        }
        let fetched = if wanted.is_empty() {
            Vec::new()
        } else {
            patient(|| self.client.fetch(entity, &wanted)).await?
        };
        docs.extend(fetched.iter().cloned());
        let max_updated_at = listing
            .items
            .iter()
            .map(|l| l.updated_at.clone())
            .chain(docs.iter().map(|d| d.updated_at.clone()))
            .reduce(later);
        Ok((
            ReadResult {
                docs,
                max_updated_at,
            },
            listing.server_time,
            fetched,
        ))
    }

    /// Records the documents just journaled whose version's second was over before the
    /// listing that found them (so the read saw the last edit of that second), and forgets
    /// those older than the overlap window, which no listing returns again.
    fn remember(
        &self,
        stream: &str,
        fetched: &[ShopifyDoc],
        listing_time: Option<DateTime<Utc>>,
        since: Option<&str>,
    ) {
        let Some(listed_at) = listing_time else {
            return;
        };
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        for d in fetched {
            if let Version::At(v) = Version::parse(&d.updated_at)
                && listed_at.timestamp() > v.timestamp()
            {
                settled.insert((stream.to_owned(), d.id.clone()), d.clone());
            }
        }
        if let Some(Version::At(since)) = since.map(Version::parse) {
            settled.retain(|(s, _), d| {
                s != stream || !matches!(Version::parse(&d.updated_at), Version::At(t) if t < since)
            });
        }
    }
}

impl Poller for ShopifyReconciler {
    fn name(&self) -> &str {
        "shopify-reconcile"
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, EngineError>> {
        Box::pin(self.round(false))
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, EngineError>> {
        Box::pin(self.round(true))
    }
}

/// Throttled reads a reconciliation round waits out (honouring `Retry-After`) before it gives
/// up and lets the next round start over.
const THROTTLE_RETRIES: u32 = 4;

/// Runs a platform read, waiting out a throttled answer instead of failing the round (which
/// would discard what the round already read and spend the budget again next round).
async fn patient<T, F, Fut>(mut read: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let mut attempt = 0;
    loop {
        match read().await {
            Err(e @ ConnectorError::Throttled { .. }) if attempt < THROTTLE_RETRIES => {
                attempt += 1;
                tokio::time::sleep(e.retry_after().unwrap_or(Duration::from_secs(1))).await;
            }
            other => return other,
        }
    }
}

/// Record fetches a change-capture round keeps in flight.
const FETCH_CONCURRENCY: usize = 4;

/// NetSuite change capture by `lastModifiedDate` watermark with an id tie-break.
pub struct NetSuiteCdc {
    store_id: String,
    db: Store,
    client: Arc<NetSuiteClient>,
    overlap: Duration,
    page_size: u32,
}

impl NetSuiteCdc {
    /// A change-capture poller reading with `overlap` before its watermark.
    pub fn new(
        store_id: impl Into<String>,
        db: Store,
        client: Arc<NetSuiteClient>,
        overlap: Duration,
    ) -> Self {
        NetSuiteCdc {
            store_id: store_id.into(),
            db,
            client,
            overlap,
            page_size: 1000,
        }
    }

    /// One round; `full` reads every record, not only those modified since the watermark.
    async fn round(&self, full: bool) -> Result<PollReport, EngineError> {
        let mut report = PollReport::default();
        for (record_type, kind) in [
            ("inventoryItem", "variant"),
            ("customer", "customer"),
            ("salesOrder", "order"),
        ] {
            let Some(source) = CdcSource::for_record_type(record_type) else {
                continue;
            };
            let stream = format!("netsuite:{record_type}");
            let mark: Option<Watermark> = self
                .db
                .watermark(&self.store_id, &stream)
                .await?
                .and_then(|v| serde_json::from_value(v).ok());
            let from = if full { None } else { mark.clone() };
            let batch = self
                .client
                .changes_since(source, from, self.overlap, self.page_size)
                .await?;
            // A full sweep never moves the watermark backwards.
            let next = if full {
                later_mark(mark, batch.watermark)
            } else {
                batch.watermark
            };
            let Some(next) = next else {
                continue;
            };
            let now = Utc::now();
            let mut entries = Vec::new();
            // Records are fetched a few at a time (the account's governor still caps what is
            // in flight), in row order: a round of a hundred changes at NetSuite's typical
            // few hundred milliseconds per request must not take a minute.
            let ids: Vec<String> = batch.rows.iter().map(|r| r.id.clone()).collect();
            let records: Vec<Option<Value>> = futures::stream::iter(ids)
                .map(|id| {
                    let client = self.client.clone();
                    async move { client.get_record(record_type, &RecordRef::Id(id)).await }
                })
                .buffered(FETCH_CONCURRENCY)
                .try_collect()
                .await?;
            for (row, record) in batch.rows.iter().zip(records) {
                let Some(record) = record else {
                    continue; // deleted since the row was listed
                };
                report.read += 1;
                let version = record
                    .get("lastModifiedDate")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| row.last_modified.to_rfc3339());
                if kind == "variant" {
                    for level in inventory_level_docs(&record) {
                        let id = format!(
                            "{}@{}",
                            level["item_id"].as_str().unwrap_or_default(),
                            level["location_id"].as_str().unwrap_or_default()
                        );
                        entries.push(self.entry(
                            "inventory-level",
                            id,
                            version.clone(),
                            level,
                            now,
                        ));
                    }
                }
                entries.push(self.entry(kind, row.id.clone(), version, record, now));
            }
            let outcomes = self
                .db
                .append_with_watermark(
                    entries,
                    &self.store_id,
                    WatermarkUpdate {
                        stream,
                        value: serde_json::to_value(&next).unwrap_or(Value::Null),
                    },
                    now,
                )
                .await?;
            let inserted = outcomes.iter().filter(|o| o.is_inserted()).count() as u64;
            report.journaled += inserted;
        }
        Ok(report)
    }

    fn entry(
        &self,
        kind: &str,
        id: String,
        version: String,
        body: Value,
        now: chrono::DateTime<Utc>,
    ) -> NewJournalEntry {
        NewJournalEntry {
            store_id: self.store_id.clone(),
            system: "netsuite".into(),
            kind: kind.into(),
            entity_id: id,
            version,
            source: Source::Cdc,
            delivery_id: None,
            body,
            received_at: now,
        }
    }
}

impl Poller for NetSuiteCdc {
    fn name(&self) -> &str {
        "netsuite-cdc"
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, EngineError>> {
        Box::pin(self.round(false))
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, EngineError>> {
        Box::pin(self.round(true))
    }
}

/// The later of two CDC watermarks by `(lastModifiedDate, id)`.
fn later_mark(a: Option<Watermark>, b: Option<Watermark>) -> Option<Watermark> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let a_later = a.last_modified > b.last_modified
                || (a.last_modified == b.last_modified
                    && weft_connectors::netsuite::cdc::cmp_ids(&a.last_id, &b.last_id).is_gt());
            Some(if a_later { a } else { b })
        }
        (a, b) => a.or(b),
    }
}

/// The version under which a polled document is journaled.
///
/// Platforms stamp versions to the second, so two edits in one second share a version, and
/// webhooks for them may arrive in either order: the order of such a tie cannot be known from
/// the deliveries. A poll reads the platform's state *now*, after both edits, so when it finds
/// a body different from the one weft holds at the same second, that body is the truth: it is
/// journaled with a version just after the known one, and the engine applies it. Strictly
/// older documents keep their version (the stale guard ignores them).
pub async fn observed_version(
    db: &Store,
    store_id: &str,
    system: &str,
    kind: &str,
    id: &str,
    version: &str,
    body: &Value,
) -> Result<String, EngineError> {
    let Some(known) = db.entity_state(store_id, system, kind, id).await? else {
        return Ok(version.to_owned());
    };
    let (new, old) = (Version::parse(version), Version::parse(&known.version));
    if &known.body == body {
        // The body weft holds; if weft holds it under a nudged version of the same second,
        // it is that same observation (not a new one to journal and count as recovered).
        return Ok(match (new, old) {
            (Version::At(n), Version::At(o)) if n.timestamp() == o.timestamp() && n <= o => {
                known.version
            }
            _ => version.to_owned(),
        });
    }
    match (new, old) {
        (Version::At(new), Version::At(old))
            if new <= old && new.timestamp() == old.timestamp() =>
        {
            Ok((old + chrono::Duration::microseconds(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        _ => Ok(version.to_owned()),
    }
}

/// `ts` minus `d`, as RFC 3339 (unparseable timestamps are returned unchanged).
fn minus(ts: &str, d: Duration) -> String {
    match Version::parse(ts) {
        Version::At(t) => (t - chrono::Duration::from_std(d).unwrap_or_default())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Version::Opaque(s) => s,
    }
}

/// The later of two RFC 3339 timestamps.
fn later(a: String, b: String) -> String {
    match Version::parse(&a).compare(&Version::parse(&b)) {
        Some(std::cmp::Ordering::Less) => b,
        _ => a,
    }
}
