//! NetSuite change capture: SuiteQL on `lastModifiedDate` with an overlap and an id
//! tie-break; each changed record is fetched in full and journaled (an inventory item with its
//! stock levels, one document per location), together with the new watermark in one
//! transaction.
//!
//! Stock is captured from the transactions that move it, not from the item: NetSuite's
//! quantities are sums over transaction lines and a sales order, fulfilment or adjustment does
//! not modify the item record. A third stream reads changed stock transactions (sales orders,
//! adjustments, fulfilments) by the same watermark, their lines' items (`transactionline`),
//! then those items, and journals their levels at the newest `lastModifiedDate` of the
//! transactions that touched them (or the item's own, if later): the instant the quantities
//! last moved as far as this round saw.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;
use weft_platform::poll::{FirstSync, observed_version, round_source};
use weft_platform::{PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, Source, Store, WatermarkUpdate};

use crate::cdc::{CdcSource, Watermark, cmp_ids};
use crate::{NetSuiteClient, RecordRef, inventory_level_docs};

/// Record fetches a change-capture round keeps in flight.
const FETCH_CONCURRENCY: usize = 4;

/// Transaction ids per `transactionline` query.
const LINE_QUERY_CHUNK: usize = 200;

/// The SuiteQL transaction types that move an item's quantities.
/// A credit memo (`CustCred`) returns a refund's inventory lines to stock.
const STOCK_TRANSACTIONS: &str = "type IN ('SalesOrd', 'InvAdjst', 'ItemShip', 'CustCred')";

/// Reads NetSuite records and turns them into journal entries: shared by change capture and
/// the push hints ([`crate::push`]), so a record journals the same documents under the same
/// versions whichever path read it (and the journal dedupes the second read).
#[derive(Clone)]
pub struct Reader {
    pub(crate) store_id: String,
    /// The system name entries are journaled under.
    pub(crate) system: String,
    pub(crate) db: Store,
    pub(crate) client: Arc<NetSuiteClient>,
    pub(crate) page_size: u32,
}

/// NetSuite change capture by `lastModifiedDate` watermark with an id tie-break.
pub struct NetSuiteCdc {
    reader: Reader,
    store_id: String,
    system: String,
    /// `<system>-cdc`.
    name: String,
    db: Store,
    client: Arc<NetSuiteClient>,
    overlap: Duration,
    page_size: u32,
    pace: Option<crate::push::PushPace>,
    first_sync: FirstSync,
}

impl NetSuiteCdc {
    /// A change-capture poller reading with `overlap` before its watermark.
    pub fn new(
        store_id: impl Into<String>,
        system: impl Into<String>,
        db: Store,
        client: Arc<NetSuiteClient>,
        overlap: Duration,
    ) -> Self {
        let (store_id, system) = (store_id.into(), system.into());
        NetSuiteCdc {
            reader: Reader {
                store_id: store_id.clone(),
                system: system.clone(),
                db: db.clone(),
                client: client.clone(),
                page_size: 1000,
            },
            store_id,
            name: format!("{system}-cdc"),
            system,
            db,
            client,
            overlap,
            page_size: 1000,
            pace: None,
            first_sync: FirstSync::default(),
        }
    }

    /// How it reads and journals records (shared with the push hints).
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// The same, polling at the relaxed pace of `pace` while pushes arrive and no gap is seen;
    /// what a round journals is then counted as recovered (`recovered_push`): changes the
    /// pushes did not deliver.
    pub fn with_pace(mut self, pace: crate::push::PushPace) -> Self {
        self.pace = Some(pace);
        self
    }

    /// A paced round: skipped while pushes keep the system current, else a round whose
    /// result tells the pace whether pushes missed something.
    async fn paced_round(&self) -> Result<PollReport, SourceError> {
        if let Some(pace) = &self.pace
            && pace.may_skip()
        {
            return Ok(PollReport::default());
        }
        let report = self.round(false).await?;
        if let Some(pace) = &self.pace {
            pace.round_done(report.journaled);
            if report.journaled > 0 {
                self.db
                    .bump_counter(&self.store_id, "recovered_push", report.journaled as i64)
                    .await?;
            }
        }
        Ok(report)
    }

    /// One round; `full` reads every record, not only those modified since the watermark.
    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
        let mut report = PollReport::default();
        let first = self
            .first_sync
            .pending(&self.db, &self.store_id, &self.system)
            .await?;
        // Read whole (a full resync, or a first sync): a backfill.
        let entry_source = round_source(full || first, Source::Cdc);
        let mut streams = [
            ("inventoryItem", "variant"),
            ("customer", "customer"),
            ("salesOrder", "order"),
            ("itemFulfillment", "fulfillment"),
        ];
        weft_platform::poll::stalest_first(
            &self.db,
            &self.store_id,
            &self.system,
            &mut streams,
            |(t, _)| t,
        )
        .await?;
        for (record_type, kind) in streams {
            let Some(source) = CdcSource::for_record_type(record_type) else {
                continue;
            };
            let stream = format!("{}:{record_type}", self.system);
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
            let rows: Vec<(String, String)> = batch
                .rows
                .iter()
                .map(|r| (r.id.clone(), r.last_modified.to_rfc3339()))
                .collect();
            let (entries, read) = self
                .reader
                .record_entries(record_type, kind, &rows, entry_source)
                .await?;
            report.read += read;
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
        self.stock_round(full, entry_source, &mut report).await?;
        self.deleted_round(&mut report).await?;
        if first {
            self.first_sync.done();
        }
        Ok(report)
    }

    /// Journals a tombstone for every item and customer SuiteQL's `deletedrecord` lists as
    /// deleted since the `deleted` watermark (less the overlap), at its deletion time: the
    /// same entry the push script's `delete` notification journals, so a lost notification
    /// (or an account without the script) still brings the deletion. The first round reads
    /// every deletion the account keeps; tombstones of records weft never read change nothing.
    async fn deleted_round(&self, report: &mut PollReport) -> Result<(), SourceError> {
        let stream = format!("{}:deleted", self.system);
        let mark = self
            .db
            .watermark(&self.store_id, &stream)
            .await?
            .and_then(|v| v.get("at").and_then(Value::as_str).map(str::to_owned))
            .and_then(|t| crate::cdc::parse_netsuite_date(&t));
        let mut sql =
            "SELECT recordid, type, TO_CHAR(deletedDate, 'YYYY-MM-DD HH24:MI:SS') AS deleted \
             FROM deletedrecord WHERE type IN ('inventoryitem', 'customer')"
                .to_owned();
        if let Some(mark) = mark {
            let lower = mark - chrono::Duration::from_std(self.overlap).unwrap_or_default();
            // Deletions are stamped to the second: the mark's own second is read again (its
            // tombstones are the same journal entries).
            let lower = lower - chrono::Duration::seconds(1);
            sql.push_str(&format!(
                " AND deletedDate >= {}",
                crate::cdc::date_literal(lower)
            ));
        }
        sql.push_str(" ORDER BY deletedDate, recordid");
        let rows = self.client.suiteql_all(&sql, self.page_size).await?;
        let now = Utc::now();
        let mut newest = mark;
        let mut entries = Vec::new();
        for row in rows {
            let text = |k: &str| {
                row.get(k).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            let (Some(id), Some(kind), Some(at)) = (
                text("recordid"),
                text("type").and_then(|t| match t.as_str() {
                    "inventoryitem" => Some("variant"),
                    "customer" => Some("customer"),
                    _ => None,
                }),
                text("deleted").and_then(|t| crate::cdc::parse_netsuite_date(&t)),
            ) else {
                continue;
            };
            newest = Some(newest.map_or(at, |n| n.max(at)));
            entries.push(NewJournalEntry {
                store_id: self.store_id.clone(),
                system: self.system.clone(),
                kind: kind.into(),
                body: weft_platform::webhook::tombstone(&id),
                entity_id: id,
                version: weft_platform::version::format_ts(at),
                source: Source::Cdc,
                delivery_id: None,
                received_at: now,
            });
        }
        let Some(newest) = newest else {
            return Ok(());
        };
        let outcomes = self
            .db
            .append_with_watermark(
                entries,
                &self.store_id,
                WatermarkUpdate {
                    stream,
                    value: serde_json::json!({ "at": newest.to_rfc3339() }),
                },
                now,
            )
            .await?;
        report.journaled += outcomes.iter().filter(|o| o.is_inserted()).count() as u64;
        Ok(())
    }

    /// Reads the stock levels of every item a stock transaction changed since the `stock`
    /// watermark touched, versioned by the newest such transaction.
    async fn stock_round(
        &self,
        full: bool,
        entry_source: Source,
        report: &mut PollReport,
    ) -> Result<(), SourceError> {
        let source = CdcSource {
            table: "transaction".into(),
            columns: Vec::new(),
            filter: Some(STOCK_TRANSACTIONS.into()),
        };
        let stream = format!("{}:stock", self.system);
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
        let next = if full {
            later_mark(mark, batch.watermark)
        } else {
            batch.watermark
        };
        let Some(next) = next else {
            return Ok(());
        };
        // The newest change per transaction, then per item its lines name.
        let changed: BTreeMap<String, chrono::DateTime<Utc>> = batch
            .rows
            .iter()
            .map(|r| (r.id.clone(), r.last_modified))
            .collect();
        let (entries, read) = self.reader.stock_entries(&changed, entry_source).await?;
        report.read += read;
        let now = Utc::now();
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
        report.journaled += outcomes.iter().filter(|o| o.is_inserted()).count() as u64;
        Ok(())
    }
}

impl Reader {
    /// Fetches the records of `record_type` named by `rows` (id, the version to use when the
    /// record has no `lastModifiedDate`), four at a time under the account's governor, and
    /// returns their entries (an inventory item with its stock levels, a fulfilment with its
    /// sales order's external id) and how many records it read. A record deleted since is
    /// skipped.
    pub async fn record_entries(
        &self,
        record_type: &str,
        kind: &str,
        rows: &[(String, String)],
        source: Source,
    ) -> Result<(Vec<NewJournalEntry>, u64), SourceError> {
        let now = Utc::now();
        let read_at = now;
        let mut entries = Vec::new();
        let mut read = 0;
        // Records are fetched a few at a time (the account's governor still caps what is
        // in flight), in row order: a round of a hundred changes at NetSuite's typical
        // few hundred milliseconds per request must not take a minute.
        let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let records: Vec<Option<Value>> = futures::stream::iter(ids)
            .map(|id| {
                let client = self.client.clone();
                async move { client.get_record(record_type, &RecordRef::Id(id)).await }
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut orders_eid: std::collections::HashMap<String, Option<String>> =
            std::collections::HashMap::new();
        for ((row_id, row_version), record) in rows.iter().zip(records) {
            let Some(mut record) = record else {
                continue; // deleted since the row was listed
            };
            if kind == "fulfillment" {
                // Which order it ships: its sales order's external id (the fulfilment
                // names the sales order by internal id only).
                let so = record
                    .pointer("/createdFrom/id")
                    .or_else(|| record.get("createdFrom"))
                    .and_then(crate::client::id_text);
                if let Some(so) = so {
                    let eid = match orders_eid.get(&so) {
                        Some(e) => e.clone(),
                        None => {
                            let e = self
                                .client
                                .get_record("salesOrder", &RecordRef::Id(so.clone()))
                                .await?
                                .and_then(|o| {
                                    o.get("externalId")
                                        .and_then(Value::as_str)
                                        .map(str::to_owned)
                                });
                            orders_eid.insert(so, e.clone());
                            e
                        }
                    };
                    record["created_from_external_id"] = eid.map_or(Value::Null, Value::from);
                }
            }
            read += 1;
            let version = record
                .get("lastModifiedDate")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| row_version.clone());
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
                        source,
                    ));
                }
            }
            entries.push(self.entry(kind, row_id.clone(), version, record, now, source));
        }
        self.observed(&mut entries, read_at).await?;
        Ok((entries, read))
    }

    /// Journals each of `entries`, read from `read_at` on, under the version
    /// [`observed_version`] gives it: NetSuite stamps records to the second, so a read that
    /// finds another body than weft holds in the same second is the later one when it began
    /// after everything of the entity was received (a level back to what it showed earlier in
    /// that second would otherwise be the same journal entry as the earlier one, and never
    /// seen again), and a tie the step settles by reading it again otherwise.
    async fn observed(
        &self,
        entries: &mut [NewJournalEntry],
        read_at: chrono::DateTime<Utc>,
    ) -> Result<(), SourceError> {
        for e in entries.iter_mut() {
            e.version = observed_version(
                &self.db,
                &self.store_id,
                &self.system,
                &e.kind,
                &e.entity_id,
                &e.version,
                &e.body,
                Some(read_at),
            )
            .await?;
        }
        Ok(())
    }

    /// The stock levels of every item the transactions of `changed` (id, its
    /// `lastModifiedDate`) name in their lines, each versioned by the newest of those
    /// transactions that touched it (or the item's own date, if later), and how many items it
    /// read.
    pub async fn stock_entries(
        &self,
        changed: &BTreeMap<String, chrono::DateTime<Utc>>,
        source: Source,
    ) -> Result<(Vec<NewJournalEntry>, u64), SourceError> {
        let mut read = 0;
        let read_at = Utc::now();
        let mut items: BTreeMap<String, chrono::DateTime<Utc>> = BTreeMap::new();
        let ids: Vec<String> = changed
            .keys()
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .cloned()
            .collect();
        for chunk in ids.chunks(LINE_QUERY_CHUNK) {
            let list = chunk.join(", ");
            if list.is_empty() {
                continue;
            }
            let rows = self
                .client
                .suiteql_all(
                    &format!(
                        "SELECT transaction, linesequencenumber, item FROM transactionline WHERE transaction IN ({list}) ORDER BY transaction, linesequencenumber"
                    ),
                    self.page_size,
                )
                .await?;
            for row in rows {
                let text = |k: &str| {
                    row.get(k).and_then(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                };
                let (Some(txn), Some(item)) = (text("transaction"), text("item")) else {
                    continue;
                };
                if let Some(&at) = changed.get(&txn) {
                    let e = items.entry(item).or_insert(at);
                    *e = (*e).max(at);
                }
            }
        }
        let mut order: Vec<(String, chrono::DateTime<Utc>)> = items.into_iter().collect();
        order.sort_by(|a, b| cmp_ids(&a.0, &b.0));
        let fetch: Vec<String> = order.iter().map(|(id, _)| id.clone()).collect();
        let records: Vec<Option<Value>> = futures::stream::iter(fetch)
            .map(|id| {
                let client = self.client.clone();
                async move { client.get_record("inventoryItem", &RecordRef::Id(id)).await }
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let now = Utc::now();
        let mut entries = Vec::new();
        for ((_, moved), record) in order.iter().zip(records) {
            let Some(record) = record else {
                continue; // deleted since
            };
            read += 1;
            let item_version = record
                .get("lastModifiedDate")
                .and_then(Value::as_str)
                .and_then(crate::cdc::parse_netsuite_date);
            let version = item_version.map_or(*moved, |v| v.max(*moved));
            let version_text = version.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            for mut level in inventory_level_docs(&record) {
                level["last_modified_date"] = Value::String(version_text.clone());
                let id = format!(
                    "{}@{}",
                    level["item_id"].as_str().unwrap_or_default(),
                    level["location_id"].as_str().unwrap_or_default()
                );
                entries.push(self.entry(
                    "inventory-level",
                    id,
                    version_text.clone(),
                    level,
                    now,
                    source,
                ));
            }
        }
        self.observed(&mut entries, read_at).await?;
        Ok((entries, read))
    }

    fn entry(
        &self,
        kind: &str,
        id: String,
        version: String,
        body: Value,
        now: chrono::DateTime<Utc>,
        source: Source,
    ) -> NewJournalEntry {
        NewJournalEntry {
            store_id: self.store_id.clone(),
            system: self.system.clone(),
            kind: kind.into(),
            entity_id: id,
            version,
            source,
            delivery_id: None,
            body,
            received_at: now,
        }
    }
}

impl Poller for NetSuiteCdc {
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.paced_round())
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round(true))
    }
}

/// The later of two CDC watermarks by `(lastModifiedDate, id)`.
fn later_mark(a: Option<Watermark>, b: Option<Watermark>) -> Option<Watermark> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let a_later = a.last_modified > b.last_modified
                || (a.last_modified == b.last_modified
                    && crate::cdc::cmp_ids(&a.last_id, &b.last_id).is_gt());
            Some(if a_later { a } else { b })
        }
        (a, b) => a.or(b),
    }
}
