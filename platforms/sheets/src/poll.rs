//! Change capture for a sheet: it has no change log and no webhooks, so each round reads the
//! whole sheet (one read request), turns rows into documents keyed by the key column, and
//! journals those whose content differs from the snapshot of the last round, under the read
//! time as their version, together with the new snapshot in ONE transaction (the snapshot is
//! the stream's watermark). Re-sorted, inserted or moved rows change nothing; a key missing
//! for `delete_after_rounds` rounds is journaled as deleted; problem rows are reported, not
//! journaled.
//!
//! The round's read is shared ([`crate::read`]): write batches waiting for a read use it
//! too. After journaling, the round writes each row's status back in weft's own columns (created
//! in row 1 when absent, and never read as merchant data): the row's problem, the reason its
//! document was set aside by the processing step (a mapper refusing `price 'abc'`), the
//! error of a write to another system that died (`shopify: …`), or `synced` and the time once
//! the step processed it and no write it planned for another system is still queued. Status cells are targeted by key in the
//! round's own read (no second read: a round is one read request).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weft_platform::poll::{patient, round_source};
use weft_platform::version::format_ts;
use weft_platform::{PollReport, Poller, SourceError};
use weft_store::{NewJournalEntry, OutboxStatus, SetAsideFilter, Source, Store, WatermarkUpdate};

use crate::client::SheetsClient;
use crate::config::Layout;
use crate::read::SharedRead;
use crate::status::Target;
use crate::table::{self, RowProblem, Table};
use crate::{ROW_KIND, status};

/// What the last round found wrong, for the host's report and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SheetReport {
    /// A problem with the sheet as a whole (a bound column gone): nothing was journaled.
    pub sheet: Option<String>,
    /// Rows not journaled, and why.
    pub rows: Vec<RowProblem>,
    /// Statuses written by the last round.
    pub statuses_written: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Known {
    /// Hash of the last journaled document.
    h: String,
    /// Its journal seq, once known.
    #[serde(default)]
    seq: i64,
}

/// The stream's watermark: the snapshot.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Snapshot {
    /// Fields whose headers were found once (their loss refuses a read).
    #[serde(default)]
    bound: BTreeSet<String>,
    /// Keys journaled and what was journaled.
    #[serde(default)]
    rows: BTreeMap<String, Known>,
    /// Keys missing, and for how many rounds.
    #[serde(default)]
    missing: BTreeMap<String, u32>,
    /// The status weft last wrote per key.
    #[serde(default)]
    status: BTreeMap<String, String>,
}

/// The reason a row was set aside, as the merchant reads it: the mapper's own message when
/// the host wrapped it (`plugin shopify-netsuite 0.5.0 failed: InvalidInput("price 'abc' is
/// not a number")` becomes `price 'abc' is not a number`), else the reason as it is.
pub fn in_words(reason: &str) -> String {
    reason
        .split_once(" failed: ")
        .and_then(|(_, after)| after.split_once("(\""))
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .and_then(|quoted| serde_json::from_str::<String>(&format!("\"{quoted}")).ok())
        .unwrap_or_else(|| reason.to_owned())
}

fn hash(doc: &Value) -> String {
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

/// A sheet's change capture.
pub struct SheetsPoller {
    store_id: String,
    system: String,
    name: String,
    db: Store,
    client: Arc<SheetsClient>,
    reads: Arc<SharedRead>,
    layout: Layout,
    sheet: String,
    delete_after: u32,
    report: Arc<Mutex<SheetReport>>,
}

impl SheetsPoller {
    /// The change capture of `sheet` (a title) for `store_id`, journaling as `system`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store_id: impl Into<String>,
        system: impl Into<String>,
        db: Store,
        client: Arc<SheetsClient>,
        reads: Arc<SharedRead>,
        layout: Layout,
        sheet: impl Into<String>,
        delete_after: u32,
        report: Arc<Mutex<SheetReport>>,
    ) -> Self {
        let system = system.into();
        SheetsPoller {
            store_id: store_id.into(),
            name: format!("{system}-snapshot"),
            system,
            db,
            client,
            reads,
            layout,
            sheet: sheet.into(),
            delete_after: delete_after.max(1),
            report,
        }
    }

    /// What the last round found wrong.
    pub fn report(&self) -> SheetReport {
        self.report.lock().clone()
    }

    fn stream(&self) -> String {
        format!("{}:sheet", self.system)
    }

    fn entry(
        &self,
        key: &str,
        version: &str,
        body: Value,
        source: Source,
        now: chrono::DateTime<Utc>,
    ) -> NewJournalEntry {
        NewJournalEntry {
            store_id: self.store_id.clone(),
            system: self.system.clone(),
            kind: ROW_KIND.into(),
            entity_id: key.to_owned(),
            version: version.to_owned(),
            source,
            delivery_id: None,
            body,
            received_at: now,
        }
    }

    async fn round(&self, full: bool) -> Result<PollReport, SourceError> {
        let range = crate::sheet_range(&self.sheet);
        let read = patient(|| self.reads.read(&self.client, &range, Duration::ZERO)).await?;
        let now = Utc::now();
        // The reading's version is when the read was sent, not when it was answered: a write
        // batch that shared this read writes after it, with a later version, so this reading
        // (which cannot show that write) is never taken for newer than it.
        let version = format_ts(read.1);
        let table = Table::from_values(read.0.clone());
        let mark = self.db.watermark(&self.store_id, &self.stream()).await?;
        // Rows read whole (a full resync, or a first sync: the sheet never read) journal as a
        // backfill.
        let source = round_source(full || mark.is_none(), Source::Poll);
        let mut snap: Snapshot = mark
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let mut report = PollReport {
            read: table.rows.len() as u64,
            journaled: 0,
        };
        let cols = match table::bind(&table, &self.layout, &snap.bound) {
            Ok(c) => c,
            Err(problem) => {
                tracing::warn!(store = %self.store_id, system = %self.system, %problem, "sheet not read");
                *self.report.lock() = SheetReport {
                    sheet: Some(problem),
                    ..SheetReport::default()
                };
                return Ok(report);
            }
        };
        snap.bound.extend(cols.keys().cloned());
        // Rows weft wrote since the snapshot was taken, the sheet answering before this read was
        // sent: the snapshot holds them as they were before, so they are journaled whatever
        // they show (a person typing the snapshot's values back changed them from weft's write).
        for key in self.reads.written_before(read.1) {
            if let Some(k) = snap.rows.get_mut(&key) {
                k.h.clear();
            }
        }
        let cap = table::capture(&table, &self.layout, &cols, &self.sheet);
        let mut entries = Vec::new();
        let mut keys = Vec::new();
        for (key, (_, doc)) in &cap.docs {
            let h = hash(doc);
            if full || snap.rows.get(key).is_none_or(|k| k.h != h) {
                entries.push(self.entry(key, &version, doc.clone(), source, now));
                keys.push(key.clone());
                snap.rows.insert(key.clone(), Known { h, seq: 0 });
                // A new version of the row: its status is decided again once it is processed.
                snap.status.remove(key);
            }
        }
        snap.missing.retain(|k, _| !cap.present.contains(k));
        snap.status.retain(|k, _| {
            k.starts_with('#') || cap.present.contains(k) || snap.rows.contains_key(k)
        });
        let gone: Vec<String> = snap
            .rows
            .keys()
            .filter(|k| !cap.present.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            let n = snap.missing.entry(key.clone()).or_default();
            *n += 1;
            if *n >= self.delete_after {
                let doc = json!({"id": key, "sheet": self.sheet, "deleted": true});
                entries.push(self.entry(&key, &version, doc, source, now));
                snap.rows.remove(&key);
                snap.missing.remove(&key);
                snap.status.remove(&key);
            }
        }
        if !entries.is_empty() {
            let outcomes = self
                .db
                .append_with_watermark(
                    entries,
                    &self.store_id,
                    WatermarkUpdate {
                        stream: self.stream(),
                        value: serde_json::to_value(&snap).unwrap_or(Value::Null),
                    },
                    now,
                )
                .await?;
            report.journaled = outcomes.iter().filter(|o| o.is_inserted()).count() as u64;
            for (key, o) in keys.iter().zip(&outcomes) {
                if let Some(k) = snap.rows.get_mut(key) {
                    k.seq = o.seq();
                }
            }
        }
        for p in &cap.problems {
            tracing::info!(store = %self.store_id, system = %self.system, row = p.row, problem = %p.message, "sheet row not synced");
        }
        self.save(&snap, now).await?;
        // The status write-back never fails a round: what was journaled stays journaled, and
        // statuses not written are decided again next round.
        let written = match self.write_statuses(&mut snap, &table, &cap.problems).await {
            Ok(0) => 0,
            Ok(n) => {
                self.save(&snap, now).await?;
                n
            }
            Err(SourceError::Connector(e)) => {
                tracing::warn!(store = %self.store_id, system = %self.system, error = %e, "sheet statuses not written");
                0
            }
            Err(e) => return Err(e),
        };
        *self.report.lock() = SheetReport {
            sheet: None,
            rows: cap.problems,
            statuses_written: written,
        };
        Ok(report)
    }

    async fn save(&self, snap: &Snapshot, now: chrono::DateTime<Utc>) -> Result<(), SourceError> {
        self.db
            .set_watermark(
                &self.store_id,
                &WatermarkUpdate {
                    stream: self.stream(),
                    value: serde_json::to_value(snap).unwrap_or(Value::Null),
                },
                now,
            )
            .await?;
        Ok(())
    }

    /// Decides each row's status and writes the ones that changed.
    async fn write_statuses(
        &self,
        snap: &mut Snapshot,
        table: &Table,
        problems: &[RowProblem],
    ) -> Result<u64, SourceError> {
        let mut want: BTreeMap<String, (String, bool)> = BTreeMap::new();
        // Rows without a key are remembered by what they hold (`#<hash>`).
        let mut keyless: BTreeMap<String, Target> = BTreeMap::new();
        for p in problems {
            if let Some(k) = &p.key {
                want.insert(k.clone(), (p.message.clone(), false));
            } else if let Some(f) = &p.fingerprint {
                let id = format!("#{}", &hash(&json!([p.row, f]))[..16]);
                keyless.insert(
                    id.clone(),
                    Target::Keyless {
                        row: p.row,
                        fingerprint: f.clone(),
                    },
                );
                want.insert(id, (p.message.clone(), false));
            }
        }
        // Forget keyless rows no longer there (their ids are not keys).
        snap.status
            .retain(|k, _| !k.starts_with('#') || keyless.contains_key(k));
        let pending: Vec<(String, i64)> = snap
            .rows
            .iter()
            .filter(|(k, known)| {
                known.seq > 0
                    && !want.contains_key(*k)
                    && snap.status.get(*k).is_none_or(|s| s != status::SYNCED)
            })
            .map(|(k, known)| (k.clone(), known.seq))
            .collect();
        if !pending.is_empty() {
            let cursor = self.db.cursor(&self.store_id).await?;
            // The writes the step planned for other systems: a dead one is the row's error in
            // words; one still queued means the row is not synced yet.
            let mut dead: BTreeMap<String, String> = BTreeMap::new();
            let mut queued: BTreeSet<String> = BTreeSet::new();
            for st in [
                OutboxStatus::Pending,
                OutboxStatus::Inflight,
                OutboxStatus::Dead,
            ] {
                for row in self
                    .db
                    .list_outbox(Some(&self.store_id), Some(st), 10_000)
                    .await?
                {
                    if row.system == self.system {
                        continue;
                    }
                    let key = row.key.split('@').next().unwrap_or_default().to_owned();
                    if st == OutboxStatus::Dead {
                        let why = row.last_error.unwrap_or_else(|| "refused".into());
                        dead.insert(key, format!("{}: {why}", row.system));
                    } else {
                        queued.insert(key);
                    }
                }
            }
            let aside = self
                .db
                .list_set_aside(
                    &SetAsideFilter {
                        store: Some(self.store_id.clone()),
                        ..SetAsideFilter::default()
                    },
                    10_000,
                )
                .await?;
            for (key, seq) in pending {
                let reason = aside
                    .iter()
                    .rev()
                    // Any entry still set aside for the row: a later successful mapping of it
                    // would have cleared it (the newest document may be one a write answered,
                    // journaled before this round's own, which was then stale).
                    .find(|(_, a)| a.system == self.system && a.entity_id == key)
                    .map(|(_, a)| in_words(&a.reason));
                match reason {
                    Some(r) => {
                        want.insert(key, (r, false));
                    }
                    None if cursor < seq || queued.contains(&key) => {}
                    None => match dead.remove(&key) {
                        Some(why) => {
                            want.insert(key, (why, false));
                        }
                        None => {
                            want.insert(key, (status::SYNCED.into(), true));
                        }
                    },
                }
            }
        }
        // What each keyed row's status cell shows in this round's read. A status is written
        // where the sheet does not show it, not only where it changed: the write-back finds
        // rows in the round's read, so a person who re-sorted the rows just before it lands
        // sends a status to another row, and the next round puts both right.
        let shown: BTreeMap<String, String> =
            match (table.col(&self.layout.key), table.col(&self.layout.status)) {
                (Some(k), Some(c)) => (0..table.rows.len())
                    .rev()
                    .map(|i| (table.key_at(i, k), table::text(table.cell(i, c))))
                    .filter(|(key, _)| !key.is_empty())
                    .collect(),
                _ => BTreeMap::new(),
            };
        for (k, s) in &snap.status {
            if s == status::SYNCED
                && !want.contains_key(k)
                && shown.get(k).is_some_and(|shows| shows != status::SYNCED)
            {
                want.insert(k.clone(), (s.clone(), true));
            }
        }
        want.retain(|k, (s, _)| match shown.get(k) {
            Some(shows) => shows != s,
            // Keyless rows (and rows not in the read) by what weft last wrote.
            None => snap.status.get(k) != Some(s),
        });
        if want.is_empty() {
            return Ok(0);
        }
        let ids: Vec<&String> = want.keys().collect();
        let statuses: Vec<(Target, String, bool)> = want
            .iter()
            .map(|(k, (s, synced))| {
                let target = keyless
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| Target::Key(k.clone()));
                (target, s.clone(), *synced)
            })
            .collect();
        let written =
            status::write(&self.client, &self.layout, &self.sheet, table, &statuses).await?;
        for n in &written {
            let k = ids[*n];
            snap.status.insert(k.clone(), want[k].0.clone());
        }
        Ok(written.len() as u64)
    }
}

impl Poller for SheetsPoller {
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
    #[test]
    fn a_mapper_refusal_reads_as_its_message() {
        assert_eq!(
            super::in_words(
                "plugin shopify-netsuite 0.5.0 failed: InvalidInput(\"price 'abc' is not a number\")"
            ),
            "price 'abc' is not a number"
        );
        assert_eq!(super::in_words("shopify: refused"), "shopify: refused");
    }
}
