//! Change capture by polling only: Magento Open Source sends no webhooks, so this is the only
//! way weft learns of a change.
//!
//! Each round reads, per stream, everything whose `updated_at` is at or after the stream's
//! watermark minus the overlap (`searchCriteria` `gteq`, to the second), sorted by entity id
//! and paged until `total_count` (a page past the last repeats the last page, so the reader
//! never waits for an empty one): products, customers (`/V1/customers/search`), orders. Journal
//! entries and the new watermark (the newest `updated_at` read) commit in one transaction.
//!
//! Deletions: Magento sends nothing, and a deleted product or customer is in no listing. A
//! full read (which lists every product and customer) journals a tombstone
//! ([`weft_platform::poll::Held`]) for each one weft held that it no longer lists, versioned by
//! weft's clock at the read (a deleted id never comes back) without moving the watermark.
//!
//! Stock: MSI source items carry no time stamp and saving one does not touch its product, so
//! every round lists every source item (paged the same way) and journals those whose body
//! differs from what this process last journaled for them ([`LevelClock`]); a level's version
//! is the time weft first read it at that quantity. When a stock write of weft's settles, its
//! level is forgotten by the clock, so the next reading is journaled again, after the write's
//! result (a sale between the write applying and weft learning it did is read, not lost).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{Value, json};
use weft_platform::poll::{FirstSync, Held, later, minus, observed_version, round_source};
use weft_platform::version::format_ts;
use weft_platform::{PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::client::{MgClient, filter};
use crate::normalize::{self, MgDoc};

/// What this process last journaled for each stock level: its body and version. Shared by the
/// change capture and the connection's writes.
#[derive(Debug, Default)]
pub struct LevelClock {
    seen: Mutex<HashMap<String, (Value, String)>>,
}

impl LevelClock {
    /// The version to journal `item` (a source item) under: now, unless it was journaled with
    /// this quantity and status already (`None`).
    fn changed(&self, id: &str, item: &Value, now: &str) -> Option<(Value, String)> {
        let key = json!([item["quantity"], item["status"]]);
        match self.seen.lock().get(id) {
            Some((k, _)) if *k == key => None,
            _ => Some((key, now.to_owned())),
        }
    }

    /// Records that level `id` was journaled as `key` at `version`.
    fn record(&self, id: String, key: Value, version: String) {
        self.seen.lock().insert(id, (key, version));
    }

    /// Forgets level `id` (a write of weft's settled on it): its next reading is journaled.
    pub fn forget(&self, id: &str) {
        self.seen.lock().remove(id);
    }

    /// Forgets every level of `sku` (its product was deleted, its source items with it): a
    /// product made again under that SKU has its levels journaled again.
    pub fn forget_sku(&self, sku: &str) {
        self.seen
            .lock()
            .retain(|id, _| id.rsplit_once('@').is_none_or(|(s, _)| s != sku));
    }
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
}

impl Journal {
    /// The entries for `docs`, read from `read_at` on (versions placed against what weft
    /// holds, see [`observed_version`]; stock levels, which cannot be read again alone, pass
    /// `None`), journaled as `source`.
    pub async fn entries(
        &self,
        docs: Vec<MgDoc>,
        source: Source,
        read_at: Option<chrono::DateTime<Utc>>,
    ) -> Result<Vec<NewJournalEntry>, SourceError> {
        let now = Utc::now();
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            let kind = d.kind.as_str();
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
}

/// How a listed record becomes a document.
pub type Normalize = fn(&Value) -> Option<MgDoc>;

/// The streams read by `updated_at`: name, path, the id field lists are sorted by, and how a
/// record is normalized.
const STREAMS: [(&str, &str, &str, Normalize); 3] = [
    ("products", "/V1/products", "entity_id", normalize::product),
    (
        "customers",
        "/V1/customers/search",
        "entity_id",
        normalize::customer,
    ),
    ("orders", "/V1/orders", "entity_id", normalize::order),
];

/// The listing path and normalizer of entity kind `kind` (`None`: not read by `updated_at`).
pub fn stream_of(kind: &str) -> Option<(&'static str, Normalize)> {
    let stream = match kind {
        "product" => "products",
        "customer" => "customers",
        "order" => "orders",
        _ => return None,
    };
    STREAMS
        .iter()
        .find(|(name, ..)| *name == stream)
        .map(|(_, path, _, norm)| (*path, *norm))
}

/// What names a listed record: customers and products answer `id`, orders `entity_id`.
pub fn record_identity(r: &Value) -> String {
    r.get("id")
        .or_else(|| r.get("entity_id"))
        .map(Value::to_string)
        .unwrap_or_default()
}

/// Magento change capture.
pub struct MgChangeCapture {
    name: String,
    journal: Journal,
    client: Arc<MgClient>,
    levels: Arc<LevelClock>,
    overlap: Duration,
    first_sync: FirstSync,
}

impl MgChangeCapture {
    /// A change capture reading `overlap` before its watermarks; `levels` is shared with the
    /// connection's writes.
    pub fn new(
        journal: Journal,
        client: Arc<MgClient>,
        levels: Arc<LevelClock>,
        overlap: Duration,
    ) -> Self {
        MgChangeCapture {
            name: format!("{}-changes", journal.system),
            journal,
            client,
            levels,
            overlap,
            first_sync: FirstSync::default(),
        }
    }

    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
        let mut report = PollReport::default();
        let (db, store, system) = (
            &self.journal.db,
            &self.journal.store_id,
            &self.journal.system,
        );
        let first = self.first_sync.pending(db, store, system).await?;
        // Read whole (a full resync, or a first sync): a backfill.
        let source = round_source(full || first, Source::Poll);
        let mut streams = STREAMS;
        weft_platform::poll::stalest_first(db, store, system, &mut streams, |s| s.0).await?;
        for (stream, path, sort, norm) in streams {
            let key = format!("{}:{stream}", self.journal.system);
            let mark = self
                .journal
                .db
                .watermark(&self.journal.store_id, &key)
                .await?
                .and_then(|v| v["updated_at"].as_str().map(str::to_owned));
            let filters = mark
                .as_deref()
                .filter(|_| !full)
                .map(|m| {
                    filter(
                        0,
                        "updated_at",
                        &normalize::magento_time(&minus(m, self.overlap)),
                        "gteq",
                    )
                })
                .unwrap_or_default();
            // Read before the listing, so nothing created since can look deleted.
            let held = match (full, stream) {
                (true, "products") => Some("product"),
                (true, "customers") => Some("customer"),
                _ => None,
            };
            let held = match held {
                Some(kind) => Some(
                    Held::read(
                        &self.journal.db,
                        &self.journal.store_id,
                        &self.journal.system,
                        kind,
                    )
                    .await?,
                ),
                None => None,
            };
            let began = Utc::now();
            // Customers and products sort by `entity_id` as a search field; both answer `id`.
            let raw = self
                .client
                .search(path, &filters, sort, record_identity)
                .await?;
            let docs: Vec<MgDoc> = raw.iter().filter_map(norm).collect();
            report.read += docs.len() as u64;
            let newest = docs.iter().map(|d| d.version.clone()).reduce(later);
            let next = match (mark, newest) {
                (Some(a), Some(b)) => Some(later(a, b)),
                (a, b) => a.or(b),
            };
            let listed: std::collections::HashSet<String> =
                docs.iter().map(|d| d.id.clone()).collect();
            let mut entries = self.journal.entries(docs, source, Some(began)).await?;
            if let Some(held) = held {
                entries.extend(
                    held.tombstones(
                        &self.journal.db,
                        &self.journal.store_id,
                        &self.journal.system,
                        |id| listed.contains(id),
                        began,
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
            report.journaled += self
                .append(
                    entries,
                    WatermarkUpdate {
                        stream: key,
                        value: json!({ "updated_at": next }),
                    },
                )
                .await?;
        }
        report.journaled += self.levels_round(full, source, &mut report).await?;
        if first {
            self.first_sync.done();
        }
        Ok(report)
    }

    async fn levels_round(
        &self,
        full: bool,
        source: Source,
        report: &mut PollReport,
    ) -> Result<u64, SourceError> {
        let items = self
            .client
            .search("/V1/inventory/source-items", "", "sku", |r| {
                format!("{}@{}", r["sku"], r["source_code"])
            })
            .await?;
        report.read += items.len() as u64;
        let now = format_ts(Utc::now());
        let mut docs = Vec::new();
        let mut seen = Vec::new();
        for it in &items {
            let (Some(sku), Some(src)) = (it["sku"].as_str(), it["source_code"].as_str()) else {
                continue;
            };
            let id = normalize::level_id(sku, src);
            if full {
                self.levels.forget(&id);
            }
            if let Some((key, v)) = self.levels.changed(&id, it, &now)
                && let Some(d) = normalize::level(it, &v)
            {
                docs.push(d);
                seen.push((id, key, v));
            }
        }
        if docs.is_empty() {
            return Ok(0);
        }
        let stream = format!("{}:source-items", self.journal.system);
        let entries = self.journal.entries(docs, source, None).await?;
        let n = self
            .append(
                entries,
                WatermarkUpdate {
                    stream,
                    value: json!({ "read_at": now }),
                },
            )
            .await?;
        // Only once journaled: a failed round reads them again.
        for (id, key, v) in seen {
            self.levels.record(id, key, v);
        }
        Ok(n)
    }

    async fn append(
        &self,
        entries: Vec<NewJournalEntry>,
        mark: WatermarkUpdate,
    ) -> Result<u64, SourceError> {
        let outcomes = self
            .journal
            .db
            .append_with_watermark(entries, &self.journal.store_id, mark, Utc::now())
            .await?;
        Ok(outcomes
            .iter()
            .filter(|o| matches!(o, weft_store::AppendOutcome::Inserted(_)))
            .count() as u64)
    }
}

impl Poller for MgChangeCapture {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_products_levels_are_forgotten_and_no_other() {
        let clock = LevelClock::default();
        let item = json!({"quantity": 0.0, "status": 0});
        for id in ["A@default", "A@wh2", "A@B@default", "AB@default"] {
            let (key, v) = clock.changed(id, &item, "t").unwrap();
            clock.record(id.to_owned(), key, v);
        }
        clock.forget_sku("A");
        assert!(clock.changed("A@default", &item, "t").is_some());
        assert!(clock.changed("A@wh2", &item, "t").is_some());
        assert!(clock.changed("A@B@default", &item, "t").is_none());
        assert!(clock.changed("AB@default", &item, "t").is_none());
    }
}
