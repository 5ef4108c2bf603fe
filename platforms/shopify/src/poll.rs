//! Shopify reconciliation by `updated_at` watermark: webhooks are a fast path, not the truth.
//!
//! [`ShopifyReconciler`] reads every entity updated since its watermark minus an overlap window
//! and journals what it finds. Products, customers and orders are *listed* first (ids and
//! `updatedAt`, one cost point each) and fetched in full (`nodes(ids:)`) only when not already
//! read after their version's second was over. Documents a webhook already journaled are
//! recognised by the journal's observation key (same entity, version and body) and not
//! counted; the rest are changes the webhooks dropped and are counted as `recovered`. Journal
//! entries and the new watermark commit in one transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use weft_platform::poll::{later, minus, observed_version, patient};
use weft_platform::version::Version;
use weft_platform::{PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::{Entity, ReadResult, ShopifyClient, ShopifyDoc};

/// Shopify reconciliation by `updated_at` watermark.
pub struct ShopifyReconciler {
    store_id: String,
    /// The system name entries are journaled under.
    system: String,
    /// `<system>-reconcile`.
    name: String,
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
        system: impl Into<String>,
        db: Store,
        client: Arc<ShopifyClient>,
        overlap: Duration,
    ) -> Self {
        let system = system.into();
        ShopifyReconciler {
            store_id: store_id.into(),
            name: format!("{system}-reconcile"),
            system,
            db,
            client,
            overlap,
            settled: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// One round; `full` reads every entity, not only those updated since the watermark.
    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
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
            let stream = format!("{}:{name}", self.system);
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
            // A full read lists every product and customer: one weft held before the listing
            // and not listed was deleted (read before the listing, so nothing created since
            // can look deleted).
            let vanish_kind = match &entity {
                Entity::Products if full => Some("product"),
                Entity::Customers if full => Some("customer"),
                _ => None,
            };
            let held = match vanish_kind {
                Some(kind) => {
                    let marker = format!("\"{}\":true", weft_platform::webhook::DELETED_FIELD);
                    self.db
                        .entity_ids(&self.store_id, &self.system, kind, &marker)
                        .await?
                }
                None => Vec::new(),
            };
            let (read, listing_time, fetched) =
                self.read(&stream, &entity, since.as_deref()).await?;
            let listed: std::collections::HashSet<&str> =
                read.docs.iter().map(|d| d.id.as_str()).collect();
            let vanished: Vec<String> = held
                .into_iter()
                .filter(|id| !listed.contains(id.as_str()))
                .collect();
            report.read += fetched.len() as u64;
            let now = Utc::now();
            let mut entries: Vec<NewJournalEntry> = Vec::with_capacity(read.docs.len());
            for d in read.docs {
                let kind = d.kind.as_str();
                let version = observed_version(
                    &self.db,
                    &self.store_id,
                    &self.system,
                    kind,
                    &d.id,
                    &d.updated_at,
                    &d.body,
                )
                .await?;
                entries.push(NewJournalEntry {
                    store_id: self.store_id.clone(),
                    system: self.system.clone(),
                    kind: kind.into(),
                    entity_id: d.id,
                    version,
                    source: Source::Poll,
                    delivery_id: None,
                    body: d.body,
                    received_at: now,
                });
            }
            if let Some(kind) = vanish_kind {
                let version = crate::normalize::format_ts(listing_time.unwrap_or(now));
                for id in vanished {
                    entries.push(NewJournalEntry {
                        store_id: self.store_id.clone(),
                        system: self.system.clone(),
                        kind: kind.into(),
                        body: weft_platform::webhook::tombstone(&id),
                        entity_id: id,
                        version: version.clone(),
                        source: Source::Poll,
                        delivery_id: None,
                        received_at: now,
                    });
                    report.read += 1;
                }
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
    ) -> Result<(ReadResult, Option<DateTime<Utc>>, Vec<ShopifyDoc>), SourceError> {
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
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(false))
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(true))
    }
}
