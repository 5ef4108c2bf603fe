//! Change sources: webhooks are a fast path, not the truth.
//!
//! Each platform's sources (list-then-fetch reconciliation, watermark change capture, snapshot
//! diff) implement [`Poller`]; the runner calls them on the store's schedule. A source commits
//! its journal entries and its new watermark in ONE transaction
//! ([`weft_store::Store::append_with_watermark`]), so a watermark never advances past a change
//! that is not journaled. The helpers here are what every source shares.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use weft_store::{Store, StoreError};

use crate::error::ConnectorError;
use crate::version::Version;

/// What one poll round found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    /// Documents read from the platform.
    pub read: u64,
    /// Documents newly journaled (changes the webhooks had not delivered).
    pub journaled: u64,
}

/// Why a poll round failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The platform call failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A source that is polled on a schedule.
///
/// A round may be dropped at any await (the host's shutdown cancels it, as a crash would end
/// it): a round journals what it read before it moves its watermark, and what it keeps in
/// memory between rounds it records only after journaling, so the next round reads again what
/// a cancelled one did not finish.
pub trait Poller: Send + Sync {
    /// A short name for logs (`<system>-reconcile`, `<system>-cdc`).
    fn name(&self) -> &str;
    /// One round: read what changed since the watermark, journal it, advance the watermark.
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>>;
    /// A full resync: one round that reads every entity from no watermark, journaled like any
    /// round (the journal recognises what it already holds, so only real differences lead to
    /// writes). The watermark never moves backwards.
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>>;
    /// Whether this source is a safety net behind the platform's webhooks (a reconciliation:
    /// it finds what deliveries dropped), polled at the store's reconciliation interval
    /// (`[schedule] reconcile_interval`), rather than the platform's change capture (no
    /// webhooks, or webhooks that only hint), polled at the change-capture interval
    /// (`cdc_interval`). The default: change capture.
    fn reconciles(&self) -> bool {
        false
    }
    /// Whether [`Poller::poll_full`] runs beside the incremental rounds instead of in their
    /// place: a backfill (a platform's bulk export, minutes to hours long) during which webhooks
    /// and incremental rounds must keep flowing. The runner then runs it on a task of its own,
    /// at start when [`Poller::backfill_pending`] says so and when the full-resync schedule
    /// fires. Such a full read journals only what was settled before it began (documents
    /// versioned before its start): a later edit is the incremental rounds' and the webhooks',
    /// whose watermark starts before it, so the backfill's older snapshot never overwrites it.
    fn full_read_apart(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
    /// Whether a backfill is owed before the incremental rounds cover this source: a first
    /// sync (nothing read yet) of a source whose full reads run apart, or one a crash
    /// interrupted. Asked once when the store starts.
    fn backfill_pending(&self) -> BoxFuture<'_, Result<bool, SourceError>> {
        Box::pin(async { Ok(false) })
    }
    /// How far the backfill under way ([`Poller::full_read_apart`]) has got, in a few words
    /// for operators (`products: bulk operation RUNNING, 61000 objects written`): the runner
    /// asks every few seconds while it runs and shows it with the backfill's loop (`weft
    /// status`, `/healthz`). `None`: nothing to say (the default).
    fn progress(&self) -> Option<String> {
        None
    }
}

/// The source a round's entries are journaled under: [`weft_store::Source::Backfill`] when
/// it reads its streams whole (a full resync, or a first sync: see [`FirstSync`]), so
/// the writes planned only from what it read queue behind live changes' (a first sync of a
/// catalog the ERP lacks plans one write per record, which a live edit must not wait behind);
/// `incremental` (`poll`, or `cdc` for change capture) for a round that reads what changed.
pub fn round_source(whole: bool, incremental: weft_store::Source) -> weft_store::Source {
    if whole {
        weft_store::Source::Backfill
    } else {
        incremental
    }
}

/// Whether `system`'s first sync is still to come for the store: it holds no watermark of the
/// system's streams yet, so the next round reads every stream whole. A store that synced
/// before (with this weft or an earlier one) holds some; a first sync a crash cut short holds
/// those of the streams it finished, and the rest are read whole as ordinary rounds. A system
/// that had nothing at all to read at first sets none: see [`FirstSync`].
async fn first_sync_pending(db: &Store, store_id: &str, system: &str) -> Result<bool, StoreError> {
    let prefix = format!("{system}:");
    Ok(!db
        .watermark_times(store_id)
        .await?
        .iter()
        .any(|(stream, _)| stream.starts_with(&prefix)))
}

/// [`first_sync_pending`] for one change source, remembering once the first sync is over so
/// its rounds stop asking the database (a host of thousands of stores polls each every minute
/// or so), and taking a completed round as the end of it even when the system had nothing to
/// read (no watermark set): what it finds later is live.
#[derive(Debug, Default)]
pub struct FirstSync {
    over: std::sync::atomic::AtomicBool,
}

impl FirstSync {
    /// Whether the store's first sync of `system` is still to come.
    pub async fn pending(
        &self,
        db: &Store,
        store_id: &str,
        system: &str,
    ) -> Result<bool, StoreError> {
        use std::sync::atomic::Ordering;
        if self.over.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let pending = first_sync_pending(db, store_id, system).await?;
        if !pending {
            self.over.store(true, Ordering::Relaxed);
        }
        Ok(pending)
    }

    /// A round of the change source completed: the first sync is over.
    pub fn done(&self) {
        self.over.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Journals a backfill's `entries` in chunks of `chunk`. With `pace`, before each chunk after
/// the first it waits (at most `pace`) until the store's processing has passed the previous
/// one, so the journal never holds more than a chunk of backfill ahead of a live change: a
/// webhook journaled during a catalog-scale backfill is processed after one chunk, not after
/// the whole catalog. Each entry is journaled with source [`weft_store::Source::Backfill`], so
/// the writes planned from it alone queue after live ones. Returns how many entries were new.
pub async fn journal_paced(
    db: &Store,
    store_id: &str,
    mut entries: Vec<weft_store::NewJournalEntry>,
    chunk: usize,
    pace: Option<Duration>,
) -> Result<u64, StoreError> {
    for e in &mut entries {
        e.source = weft_store::Source::Backfill;
    }
    let mut inserted = 0;
    let mut last: Option<i64> = None;
    let mut rest = entries;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.max(1).min(rest.len()));
        if let (Some(wait), Some(seq)) = (pace, last) {
            let deadline = tokio::time::Instant::now() + wait;
            while db.cursor(store_id).await? < seq && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let outcomes = db.append_batch(std::mem::replace(&mut rest, tail)).await?;
        inserted += outcomes.iter().filter(|o| o.is_inserted()).count() as u64;
        last = outcomes.iter().map(|o| o.seq()).max().or(last);
    }
    Ok(inserted)
}

/// How many times a read inside a round waits out a throttled answer.
pub const THROTTLE_RETRIES: u32 = 8;

/// The shortest wait after a throttled answer. A bucket shared with other callers (the
/// platform's budget is per shop, not per poller) can name a wait of a fraction of a
/// millisecond, refilled and drained again by the time the read is retried.
pub const THROTTLE_MIN_WAIT: Duration = Duration::from_millis(100);

/// How long to wait after throttled answer `e`.
pub fn throttle_wait(e: &ConnectorError) -> Duration {
    e.retry_after()
        .unwrap_or(Duration::from_secs(1))
        .max(THROTTLE_MIN_WAIT)
}

/// Runs a platform read, waiting out a throttled answer instead of failing the round (which
/// would discard what the round already read and spend the budget again next round).
pub async fn patient<T, F, Fut>(mut read: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let mut attempt = 0;
    loop {
        match read().await {
            Err(e @ ConnectorError::Throttled { .. }) if attempt < THROTTLE_RETRIES => {
                attempt += 1;
                tokio::time::sleep(throttle_wait(&e)).await;
            }
            other => return other,
        }
    }
}

/// The version under which a polled document is journaled.
///
/// Platforms stamp versions to the second, so two edits in one second share a version, and
/// webhooks for them may arrive in either order: the order of such a tie cannot be known from
/// the deliveries. A poll reads the platform's state at `read_at` (when the read began), so
/// when it finds a body different from the one weft holds at the same second, and everything
/// journaled of the entity was received before `read_at`, that body is the truth: it is
/// journaled with a version just after the known one, and the engine applies it. When
/// something of the entity was received after the read began (a write's result, a webhook),
/// the read may be the older one: it is journaled at the known version, a tie the processing
/// step settles by reading the entity again (`Connection::reread`), unless the journal holds
/// that body at that version already (an append would be deduplicated away, and the read
/// never seen), when it is taken as the later one as before. `read_at` `None`: the platform's
/// connection cannot read an entity again, so such a tie could not be settled (and a document
/// journaled at the version weft holds does not win the merge): the read is taken as the
/// later one.
/// Strictly older documents keep their version (the stale guard ignores them).
#[allow(clippy::too_many_arguments)]
pub async fn observed_version(
    db: &Store,
    store_id: &str,
    system: &str,
    kind: &str,
    id: &str,
    version: &str,
    body: &Value,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<String, StoreError> {
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
            let last = match read_at {
                Some(_) => db.last_received(store_id, system, kind, id).await?,
                None => None,
            };
            if last.is_some_and(|t| Some(t) >= read_at)
                && !db
                    .journal_holds(store_id, system, kind, id, &known.version, body)
                    .await?
            {
                return Ok(known.version);
            }
            Ok((old + chrono::Duration::microseconds(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        _ => Ok(version.to_owned()),
    }
}

/// The records of one kind weft holds live from a system, read **before** a full listing so
/// that nothing created since can look deleted. A deleted record is in no listing and no date
/// filter shows it: the held ones a full listing no longer shows were deleted (their delete
/// webhook lost, or never sent), and [`Held::vanished`] journals a tombstone
/// ([`crate::webhook::tombstone`]) for each.
#[derive(Debug, Clone)]
pub struct Held {
    kind: String,
    ids: Vec<String>,
}

/// A held record a full listing no longer shows, and the version its tombstone takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vanished {
    /// The record's id in the system.
    pub id: String,
    /// The tombstone's version.
    pub version: String,
}

impl Held {
    /// What weft holds of `kind` from `system` that is not already deleted.
    pub async fn read(
        db: &Store,
        store_id: &str,
        system: &str,
        kind: &str,
    ) -> Result<Held, StoreError> {
        let deleted = format!("\"{}\":true", crate::webhook::DELETED_FIELD);
        Ok(Held {
            kind: kind.to_owned(),
            ids: db.entity_ids(store_id, system, kind, &deleted).await?,
        })
    }

    /// Nothing held (a round that is not a full listing).
    pub fn none(kind: &str) -> Held {
        Held {
            kind: kind.to_owned(),
            ids: Vec::new(),
        }
    }

    /// The held ids `listed` says the listing did not show and whose tombstone the journal does
    /// not hold yet, each versioned at `at` (when the listing was read: a deleted id never
    /// comes back), or one second after the version weft holds when that is later (the
    /// platform's clock ahead of weft's: a tombstone must be newer than what it deletes).
    pub async fn vanished(
        self,
        db: &Store,
        store_id: &str,
        system: &str,
        listed: impl Fn(&str) -> bool,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Vanished>, StoreError> {
        let mut out = Vec::new();
        for id in self.ids.into_iter().filter(|id| !listed(id)) {
            // Journaled already, and nothing since (a delete webhook, an earlier round the
            // processing step has not reached): once is enough.
            if db
                .journal_latest_is(
                    store_id,
                    system,
                    &self.kind,
                    &id,
                    &crate::webhook::tombstone(&id),
                )
                .await?
            {
                continue;
            }
            let known = db.entity_state(store_id, system, &self.kind, &id).await?;
            out.push(Vanished {
                version: crate::version::deletion_version(at, known.map(|k| k.version).as_deref()),
                id,
            });
        }
        Ok(out)
    }

    /// [`Held::vanished`] as journal entries (source `poll`, received now).
    pub async fn tombstones(
        self,
        db: &Store,
        store_id: &str,
        system: &str,
        listed: impl Fn(&str) -> bool,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<weft_store::NewJournalEntry>, StoreError> {
        let kind = self.kind.clone();
        let now = chrono::Utc::now();
        Ok(self
            .vanished(db, store_id, system, listed, at)
            .await?
            .into_iter()
            .map(|v| weft_store::NewJournalEntry {
                store_id: store_id.to_owned(),
                system: system.to_owned(),
                kind: kind.clone(),
                body: crate::webhook::tombstone(&v.id),
                entity_id: v.id,
                version: v.version,
                source: weft_store::Source::Poll,
                delivery_id: None,
                received_at: now,
            })
            .collect())
    }
}

/// Orders a round's `streams` (each named `<system>:<name(stream)>` in the watermarks) so the
/// one whose round committed longest ago, or never, goes first; the rest keep their order. A
/// process restarted again and again (or rounds cut short by an error) then reads every stream
/// in turn, instead of the first ones every time and never the last: an order whose webhook was
/// lost waited for an orders round that never came while a crash loop went on.
pub async fn stalest_first<T>(
    db: &Store,
    store_id: &str,
    system: &str,
    streams: &mut [T],
    name: impl Fn(&T) -> &str,
) -> Result<(), StoreError> {
    let committed: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        db.watermark_times(store_id).await?.into_iter().collect();
    streams.sort_by_key(|s| committed.get(&format!("{system}:{}", name(s))).copied());
    Ok(())
}

/// `ts` minus `d`, as RFC 3339 (unparseable timestamps are returned unchanged).
pub fn minus(ts: &str, d: Duration) -> String {
    match Version::parse(ts) {
        Version::At(t) => (t - chrono::Duration::from_std(d).unwrap_or_default())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Version::Opaque(s) => s,
    }
}

/// The later of two RFC 3339 timestamps.
pub fn later(a: String, b: String) -> String {
    match Version::parse(&a).compare(&Version::parse(&b)) {
        Some(std::cmp::Ordering::Less) => b,
        _ => a,
    }
}
