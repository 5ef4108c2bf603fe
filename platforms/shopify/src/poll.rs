//! Shopify reconciliation by `updated_at` watermark: webhooks are a fast path, not the truth.
//!
//! [`ShopifyReconciler`] reads every entity updated since its watermark minus an overlap window
//! and journals what it finds. Products, customers and orders are *listed* first (ids and
//! `updatedAt`, one cost point each) and fetched in full (`nodes(ids:)`) only when not already
//! read after their version's second was over. Documents a webhook already journaled are
//! recognised by the journal's observation key (same entity, version and body) and not
//! counted; the rest are changes the webhooks dropped and are counted as `recovered`. Journal
//! entries and the new watermark commit in one transaction.
//!
//! # Catalog-scale first sync and full resync
//!
//! A shop with at least [`crate::Backfill::bulk_above_variants`] variants is not read in full
//! by paging (hours of the shop's query budget at 100,000 variants): its first sync and its
//! full resyncs are a **backfill** ([`Poller::full_read_apart`]) that the runner runs on a task
//! of its own while webhooks and incremental rounds go on. The backfill reads products (with
//! variants, images and metafields) and then inventory levels through two bulk query
//! operations ([`crate::bulk`]; one at a time, as Shopify allows before 2026-01), and:
//!
//! - on a first sync, sets the products and levels watermarks to the first operation's
//!   `createdAt` as soon as it is created (the incremental rounds skip those streams until
//!   then), so incremental rounds cover every edit from then on, and records the backfill as
//!   started (stream `<system>:backfill`; one a crash interrupts runs again at the next start);
//! - journals only documents settled before its operation was created (version's second before
//!   `createdAt`'s): an edit made while the operation runs may or may not be in the file, and
//!   belongs to the webhooks and incremental rounds, which read the shop *now*; so the bulk
//!   file's older snapshot of a record never lands after, or in the same second as, a live
//!   change of it (the stale guard drops an older version; a same-second one would be applied);
//! - journals in chunks paced by the store's processing ([`weft_platform::poll::journal_paced`]),
//!   so a live change waits behind one chunk, not behind the catalog;
//! - detects deleted products as a paged full read does (held before, not in the file);
//! - records each operation it starts (stream `<system>:bulk-operation`), so a backfill a
//!   restart interrupted adopts the operation still running in Shopify (or completed, if
//!   created less than an hour ago) instead of starting another, which Shopify refuses before
//!   API version 2026-01 (`OPERATION_IN_PROGRESS`: the backfill would fall back to paging);
//!   a restart during the levels operation resumes there (its record keeps when the products
//!   operation, whose documents are journaled, was created), never starting the products query
//!   again;
//! - on a failed operation (`FAILED` with `INTERNAL_SERVER_ERROR` or `TIMEOUT`) tries once more;
//!   when that fails too, or another bulk query of the app is running (`OPERATION_IN_PROGRESS`),
//!   or the operation runs past [`crate::Backfill::max_wait`], logs why and falls back to the
//!   paged full read (counter `backfill_fallbacks`).
//!
//! A smaller shop keeps the paged read, inside the incremental rounds, as before.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tracing::{info, warn};
use weft_platform::poll::{
    Held, journal_paced, later, minus, observed_version, patient, round_source, stalest_first,
};
use weft_platform::version::Version;
use weft_platform::{PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::bulk::{self, BulkError};
use crate::{Entity, ReadResult, ShopifyClient, ShopifyDoc};

/// How the shop's catalog is read in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FullRead {
    /// Pages, inside the incremental rounds.
    Paged,
    /// Bulk query operations, beside them.
    Bulk,
}

/// How recently an interrupted backfill's completed operation must have been created for a
/// new backfill to take its result rather than run the query again.
const ADOPT_COMPLETED_WITHIN: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The streams a bulk backfill covers.
const BULK_STREAMS: [&str; 2] = ["products", "inventory-levels"];

/// What a backfill's bulk phase ended with.
enum BulkOutcome {
    Done(PollReport),
    /// Fall back to the paged read, for this reason.
    Fallback(String),
}

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
    /// Bulk or paged, decided once by the catalog's size.
    full_read: OnceCell<FullRead>,
    /// How far the backfill under way has got ([`Poller::progress`]).
    progress: std::sync::Mutex<Option<String>>,
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
            full_read: OnceCell::new(),
            progress: std::sync::Mutex::new(None),
        }
    }

    /// Says how far the backfill has got (`None`: it has ended).
    fn report_progress(&self, progress: Option<String>) {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = progress;
    }

    /// Bulk or paged: counts the shop's variants once (up to the threshold).
    async fn full_read(&self) -> FullRead {
        let threshold = self.client.backfill().bulk_above_variants;
        if threshold == u64::MAX {
            return FullRead::Paged;
        }
        let decided = self
            .full_read
            .get_or_try_init(|| async {
                let limit = u32::try_from(threshold).unwrap_or(u32::MAX).max(1);
                let n = self.client.variants_count(limit).await?;
                let mode = if n >= threshold {
                    FullRead::Bulk
                } else {
                    FullRead::Paged
                };
                info!(store = %self.store_id, system = %self.system, variants = n, ?mode, "catalog size read; full reads chosen by it");
                Ok::<_, weft_platform::ConnectorError>(mode)
            })
            .await;
        match decided {
            Ok(m) => *m,
            Err(e) => {
                warn!(store = %self.store_id, system = %self.system, error = %e, "catalog size unknown; this read pages");
                FullRead::Paged
            }
        }
    }

    fn marker_stream(&self) -> String {
        format!("{}:backfill", self.system)
    }

    /// Whether a backfill is owed: nothing of the catalog read yet, or a backfill started and
    /// not finished (a crash).
    async fn owes_backfill(&self) -> Result<bool, SourceError> {
        let marker = self
            .db
            .watermark(&self.store_id, &self.marker_stream())
            .await?;
        if let Some(m) = marker {
            return Ok(m.get("finished").and_then(Value::as_bool) != Some(true));
        }
        let products = self
            .db
            .watermark(&self.store_id, &format!("{}:products", self.system))
            .await?;
        Ok(products.is_none())
    }

    async fn set_marker(&self, started: &str, finished: bool) -> Result<(), SourceError> {
        self.db
            .set_watermark(
                &self.store_id,
                &WatermarkUpdate {
                    stream: self.marker_stream(),
                    value: json!({ "started_at": started, "finished": finished }),
                },
                Utc::now(),
            )
            .await?;
        Ok(())
    }

    /// A full read through bulk operations, falling back to the paged read.
    async fn backfill(&self) -> Result<PollReport, SourceError> {
        let began = std::time::Instant::now();
        info!(store = %self.store_id, system = %self.system, "backfill through bulk operations started");
        let outcome = self.bulk_backfill().await;
        self.report_progress(None);
        match outcome? {
            BulkOutcome::Done(report) => {
                info!(store = %self.store_id, system = %self.system, read = report.read, journaled = report.journaled, secs = began.elapsed().as_secs_f64(), "backfill through bulk operations finished");
                Ok(report)
            }
            BulkOutcome::Fallback(reason) => {
                warn!(store = %self.store_id, system = %self.system, %reason, "bulk backfill failed; falling back to the paged full read");
                self.db
                    .bump_counter(&self.store_id, "backfill_fallbacks", 1)
                    .await?;
                self.report_progress(Some(format!(
                    "reading page by page (bulk operations failed: {reason})"
                )));
                let report = self.round(true).await;
                self.report_progress(None);
                let report = report?;
                let at = crate::normalize::format_ts(Utc::now());
                self.set_marker(&at, true).await?;
                Ok(report)
            }
        }
    }

    /// The stream recording the bulk operation a backfill waits on (`{"id", "query"}`), so a
    /// backfill interrupted by a restart adopts it rather than starting another: before API
    /// version 2026-01 Shopify refuses a second one while it runs (the backfill would fall
    /// back to paging), and from 2026-01 it would run the same query twice.
    fn operation_stream(&self) -> String {
        format!("{}:bulk-operation", self.system)
    }

    async fn record_operation(&self, value: Value) -> Result<(), SourceError> {
        self.db
            .set_watermark(
                &self.store_id,
                &WatermarkUpdate {
                    stream: self.operation_stream(),
                    value,
                },
                Utc::now(),
            )
            .await?;
        Ok(())
    }

    /// The recorded operation of query `label`, if Shopify still runs it, or completed it and
    /// created it less than [`ADOPT_COMPLETED_WITHIN`] ago (an older result would stand for
    /// the catalog of a while back).
    async fn adoptable(&self, label: &str) -> Result<Option<bulk::BulkStarted>, SourceError> {
        let recorded = self
            .db
            .watermark(&self.store_id, &self.operation_stream())
            .await?;
        let Some(id) = recorded
            .as_ref()
            .filter(|r| r.get("query").and_then(Value::as_str) == Some(label))
            .and_then(|r| r.get("id").and_then(Value::as_str))
        else {
            return Ok(None);
        };
        let Some((status, op)) = self.client.bulk_status(id).await? else {
            return Ok(None);
        };
        let age = Utc::now() - op.created_at;
        let adopt = match status.as_str() {
            "CREATED" | "RUNNING" => true,
            "COMPLETED" => age < ADOPT_COMPLETED_WITHIN,
            _ => false,
        };
        if adopt {
            info!(store = %self.store_id, system = %self.system, operation = %op.id, %status, "adopting the bulk operation an interrupted backfill started");
        }
        Ok(adopt.then_some(op))
    }

    /// When the products operation of an interrupted backfill that had journaled its products
    /// was created: its recorded operation is the levels query (started only once the products
    /// were journaled). A restart then resumes at the levels phase: starting the products
    /// query again would be refused before API 2026-01 while the levels operation runs.
    async fn products_journaled(&self) -> Result<Option<DateTime<Utc>>, SourceError> {
        let recorded = self
            .db
            .watermark(&self.store_id, &self.operation_stream())
            .await?;
        Ok(recorded
            .as_ref()
            .filter(|r| r.get("query").and_then(Value::as_str) == Some("levels"))
            .and_then(|r| r.get("products_created_at").and_then(Value::as_str))
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    /// Runs one bulk query (`label` names it in the operation's record) to its result,
    /// adopting the one an interrupted backfill left, and trying a failed operation once more.
    /// `products_at`, for the levels query: when the products operation whose documents are
    /// journaled was created (kept in the record, see [`Self::products_journaled`]).
    async fn bulk_read(
        &self,
        label: &str,
        query: &str,
        first_sync: bool,
        products_at: Option<DateTime<Utc>>,
    ) -> Result<Result<bulk::BulkResult, String>, SourceError> {
        let settings = *self.client.backfill();
        let mut attempt = 0;
        let mut adopted = self.adoptable(label).await?;
        loop {
            attempt += 1;
            self.report_progress(Some(format!("{label}: starting a bulk operation")));
            let op = match adopted.take() {
                Some(op) => op,
                None => match patient_bulk(|| self.client.bulk_start(query)).await {
                    Ok(op) => {
                        let mut record = json!({ "id": op.id, "query": label });
                        if let Some(at) = products_at {
                            record["products_created_at"] =
                                json!(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
                        }
                        self.record_operation(record).await?;
                        op
                    }
                    Err(BulkError::Connector(e)) => return Err(e.into()),
                    Err(e) => return Ok(Err(e.to_string())),
                },
            };
            if first_sync {
                // Incremental rounds cover everything from the operation's creation on.
                let at = crate::normalize::format_ts(op.created_at);
                self.set_marker(&at, false).await?;
                for s in BULK_STREAMS {
                    let stream = format!("{}:{s}", self.system);
                    if self.db.watermark(&self.store_id, &stream).await?.is_none() {
                        self.db
                            .set_watermark(
                                &self.store_id,
                                &WatermarkUpdate {
                                    stream,
                                    value: json!({ "updated_at": at }),
                                },
                                Utc::now(),
                            )
                            .await?;
                    }
                }
            }
            let seen = |status: &str, objects: u64| {
                self.report_progress(Some(format!(
                    "{label}: bulk operation {status}, {objects} objects written"
                )));
            };
            match patient_bulk(|| {
                self.client
                    .bulk_finish(&op, settings.poll_every, settings.max_wait, &seen)
            })
            .await
            {
                Ok(r) => return Ok(Ok(r)),
                Err(BulkError::Connector(e)) => return Err(e.into()),
                Err(BulkError::Ended {
                    error_code,
                    id,
                    status,
                }) if attempt == 1
                    && matches!(
                        error_code.as_deref(),
                        Some("INTERNAL_SERVER_ERROR" | "TIMEOUT")
                    ) =>
                {
                    warn!(store = %self.store_id, system = %self.system, operation = %id, %status, ?error_code, "bulk operation failed; trying it once more");
                }
                Err(e) => return Ok(Err(e.to_string())),
            }
        }
    }

    async fn bulk_backfill(&self) -> Result<BulkOutcome, SourceError> {
        let first_sync = self.owes_backfill().await?;
        let mut report = PollReport::default();
        let products_at = match self.products_journaled().await? {
            Some(at) => {
                info!(store = %self.store_id, system = %self.system, "resuming the interrupted backfill at its inventory levels: its products are journaled");
                at
            }
            None => {
                let held = Held::read(&self.db, &self.store_id, &self.system, "product").await?;
                let products = match self
                    .bulk_read("products", bulk::PRODUCTS_BULK, first_sync, None)
                    .await?
                {
                    Ok(r) => r,
                    Err(reason) => return self.fall_back(reason).await,
                };
                self.report_progress(Some(format!(
                    "products: journaling {} objects",
                    products.lines.len()
                )));
                let docs = bulk::products_from_bulk(&products.lines).map_err(SourceError::from)?;
                let listed: std::collections::HashSet<String> =
                    docs.iter().map(|d| d.id.clone()).collect();
                report.read += docs.len() as u64;
                let mut entries = self.settled_entries(docs, products.created_at).await?;
                entries.extend(
                    held.tombstones(
                        &self.db,
                        &self.store_id,
                        &self.system,
                        |id| listed.contains(id),
                        products.created_at,
                    )
                    .await?,
                );
                report.journaled += self.journal(entries).await?;
                products.created_at
            }
        };
        let levels = match self
            .bulk_read("levels", bulk::LEVELS_BULK, false, Some(products_at))
            .await?
        {
            Ok(r) => r,
            Err(reason) => return self.fall_back(reason).await,
        };
        self.report_progress(Some(format!(
            "levels: journaling {} objects",
            levels.lines.len()
        )));
        let docs = bulk::levels_from_bulk(&levels.lines).map_err(SourceError::from)?;
        report.read += docs.len() as u64;
        let entries = self.settled_entries(docs, levels.created_at).await?;
        report.journaled += self.journal(entries).await?;
        let at = crate::normalize::format_ts(products_at);
        self.set_marker(&at, true).await?;
        // Only an interrupted backfill's operation is adopted, never a finished one's.
        self.record_operation(Value::Null).await?;
        Ok(BulkOutcome::Done(report))
    }

    /// Ends the bulk phase for `reason`, forgetting its operation (the paged read replaces it).
    async fn fall_back(&self, reason: String) -> Result<BulkOutcome, SourceError> {
        self.record_operation(Value::Null).await?;
        Ok(BulkOutcome::Fallback(reason))
    }

    /// Journal entries for the documents versioned before `created_at`'s second; the others
    /// (edited while the operation ran) are left to the webhooks and incremental rounds.
    async fn settled_entries(
        &self,
        docs: Vec<ShopifyDoc>,
        created_at: DateTime<Utc>,
    ) -> Result<Vec<NewJournalEntry>, SourceError> {
        let now = Utc::now();
        let mut entries = Vec::with_capacity(docs.len());
        let mut live = 0i64;
        for d in docs {
            let settled = matches!(Version::parse(&d.updated_at), Version::At(v) if v.timestamp() < created_at.timestamp());
            if !settled {
                live += 1;
                continue;
            }
            let kind = d.kind.as_str();
            let version = observed_version(
                &self.db,
                &self.store_id,
                &self.system,
                kind,
                &d.id,
                &d.updated_at,
                &d.body,
                Some(created_at),
            )
            .await?;
            entries.push(NewJournalEntry {
                store_id: self.store_id.clone(),
                system: self.system.clone(),
                kind: kind.into(),
                entity_id: d.id,
                version,
                source: Source::Backfill,
                delivery_id: None,
                body: d.body,
                received_at: now,
            });
        }
        if live > 0 {
            self.db
                .bump_counter(&self.store_id, "backfill_left_to_live", live)
                .await?;
        }
        Ok(entries)
    }

    async fn journal(&self, entries: Vec<NewJournalEntry>) -> Result<u64, SourceError> {
        let settings = self.client.backfill();
        let inserted = journal_paced(
            &self.db,
            &self.store_id,
            entries,
            settings.chunk,
            settings.pace,
        )
        .await?;
        if inserted > 0 {
            self.db
                .bump_counter(&self.store_id, "backfill_journaled", inserted as i64)
                .await?;
        }
        Ok(inserted)
    }

    /// One round; `full` reads every entity, not only those updated since the watermark.
    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
        let mut report = PollReport::default();
        let mut entities = [
            ("products", Entity::Products),
            ("customers", Entity::Customers),
            ("orders", Entity::Orders),
            (
                "inventory-levels",
                Entity::InventoryLevels { location_id: None },
            ),
        ];
        stalest_first(
            &self.db,
            &self.store_id,
            &self.system,
            &mut entities,
            |(n, _)| n,
        )
        .await?;
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
            if !full
                && mark.is_none()
                && BULK_STREAMS.contains(&name)
                && self.full_read().await == FullRead::Bulk
            {
                // The backfill reads it first and then sets its watermark.
                continue;
            }
            // The stream's first read (a first sync: a stream read and found empty gets a
            // watermark all the same, below) reads it whole, as a full read does.
            let first = mark.is_none();
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
                Some(kind) => Some(Held::read(&self.db, &self.store_id, &self.system, kind).await?),
                None => None,
            };
            let read_at = Utc::now();
            let (read, listing_time, fetched) =
                self.read(&stream, &entity, since.as_deref()).await?;
            let listed: std::collections::HashSet<String> =
                read.docs.iter().map(|d| d.id.clone()).collect();
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
                    Some(read_at),
                )
                .await?;
                entries.push(NewJournalEntry {
                    store_id: self.store_id.clone(),
                    system: self.system.clone(),
                    kind: kind.into(),
                    entity_id: d.id,
                    version,
                    // A whole read is a backfill (a first sync, a full resync, or the paged
                    // fallback of a bulk one): what it plans queues after live writes.
                    source: round_source(full || first, Source::Poll),
                    delivery_id: None,
                    body: d.body,
                    received_at: now,
                });
            }
            if let Some(held) = held {
                let tombstones = held
                    .tombstones(
                        &self.db,
                        &self.store_id,
                        &self.system,
                        |id| listed.contains(id),
                        listing_time.unwrap_or(now),
                    )
                    .await?;
                report.read += tombstones.len() as u64;
                entries.extend(tombstones);
            }
            // A stream read whole and found empty starts at the shop's clock when it listed:
            // without a watermark every later round would read it whole again, its cost
            // growing with every record created since.
            let next = match (mark, read.max_updated_at) {
                (Some(a), Some(b)) => Some(later(a, b)),
                (a, b) => a.or(b),
            }
            .or_else(|| listing_time.map(crate::normalize::format_ts));
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
            // What a round finds after the stream's first read is what webhooks did not bring;
            // the first read's findings are not recoveries.
            if inserted > 0 && !first {
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
    /// A safety net behind the webhooks.
    fn reconciles(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(false))
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(async move {
            match self.full_read().await {
                FullRead::Bulk => self.backfill().await,
                FullRead::Paged => self.round(true).await,
            }
        })
    }
    fn full_read_apart(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.full_read().await == FullRead::Bulk })
    }
    fn progress(&self) -> Option<String> {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    fn backfill_pending(&self) -> BoxFuture<'_, Result<bool, SourceError>> {
        Box::pin(async move {
            if !self.owes_backfill().await? {
                return Ok(false);
            }
            Ok(self.full_read().await == FullRead::Bulk)
        })
    }
}

/// Runs a bulk operation call, waiting out a throttled answer as [`patient`] does for reads:
/// the query budget is the shop's, shared with every other app and poller, so a start or a
/// status poll can meet an empty bucket; failing the backfill for it would start it over.
async fn patient_bulk<T, F, Fut>(mut call: F) -> Result<T, BulkError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BulkError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(BulkError::Connector(e @ weft_platform::ConnectorError::Throttled { .. }))
                if attempt < weft_platform::poll::THROTTLE_RETRIES =>
            {
                attempt += 1;
                tokio::time::sleep(weft_platform::poll::throttle_wait(&e)).await;
            }
            other => return other,
        }
    }
}
