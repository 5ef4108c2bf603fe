//! The processing step: journal entries in, projections and outbox rows out, in one transaction.
//!
//! For one store, in journal order:
//! 1. **Stale guard**: an entry older than the version weft holds for that entity is never
//!    applied; the same version with the same body is a duplicate.
//! 2. **Mapping** to canonical records (the store's mapper plugin, one batched call).
//! 3. **Three-way merge** of each record into the golden record ([`crate::merge`]); fields
//!    changed on both sides go to the store's resolver plugin.
//! 4. **Diff** of the golden record against each system's last-known state: only systems that
//!    do not hold it yet get a write (no-op writes and echoes are dropped here).
//! 5. **Mapping** from canonical to write commands (one batched call), turned into outbox rows
//!    with idempotency keys.
//! 6. Everything above, and the cursor advance, is committed with [`Store::commit_step`]: a crash
//!    at any instant applies all of a step or none of it, and a re-run yields the same keys.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};
use weft_platform::version::{Freshness, Version, freshness};
use weft_platform::{Idempotency, PlannedWrite, Platform, Systems};
use weft_runtime::types::{
    CanonicalRecord, Decision, EntityKind, FieldChange, FromCanonicalOutcome, Occasion,
    PlatformDoc, Side, ToCanonicalOutcome, WriteCommand, WriteOp, WriteRequest,
};
use weft_runtime::{MapperInstance, PluginError, ResolverInstance};
use weft_store::{
    AppendOutcome, EntityStateUpsert, GoldenUpsert, HeldDelete, JournalEntry, LineageRow,
    NewJournalEntry, NewOutboxRow, ObservedTarget, OutboxStatus, Parked, RELEASE_KEY, RETRY_KEY,
    SetAside, Source, StepCommit, Store, StoreError, TargetStateUpsert, Xref,
};

use std::sync::Arc;

use crate::deletes::{self, DeletePolicy, OnDelete, Recent};
use crate::error::EngineError;
use crate::merge::{Fields, Settlement, merge, pending_fields};
use crate::observe::{Discard, Observer, timed_call};
use crate::ownership::{self, OnChange, Ownership, pattern_matches};
use crate::stock::{self, Demand, PENDING, StockPolicy};

/// Stages of a set-aside entry: the document could not be mapped to canonical records, a
/// write for one target could not be built from them, or a resolver failed on a conflict.
const TO_CANONICAL: &str = "to-canonical";
const FROM_CANONICAL: &str = "from-canonical";
/// A resolver could not settle a conflict of the entry's record.
const RESOLVE: &str = "resolve";

/// Delivery-id prefix of a journaled stock write result.
pub(crate) use weft_store::WRITE_RESULT_DELIVERY_PREFIX as WRITE_RESULT_PREFIX;
/// The body field of a journaled stock write result ([`StockWrite`]).
pub(crate) const WRITE_RESULT_FIELD: &str = "weft_write";
/// Delivery-id prefix of the entry a stock write refused as stale journals: the step plans
/// that level again when it gets there.
pub(crate) const REPLAN_PREFIX: &str = "weft-replan:";
/// The body field of a replan entry (`key`: the level's canonical key).
pub(crate) const REPLAN_FIELD: &str = "weft_replan";
/// The field of a target's last-known state that says the target holds the record (weft's
/// write created the variant it lives on) and nothing of its values is known yet: what the
/// target shows first is its initial values, not a change (see `Processor::merge_fields`).
pub(crate) const INITIAL_MARK: &str = "weft_created";
/// The kinds of record that live on a variant and are written after it (the variant's creation
/// does not carry them): a variant weft creates holds them with the target's initial values.
/// Stock levels are not among them: a storefront's quantity is computed (see `crate::stock`).
pub(crate) const WRITTEN_AFTER_VARIANT: &[&str] = &["price"];

// Xrefs mapping a system's inventory item id to its SKU (for levels whose documents lack it).
use weft_store::{INVENTORY_ITEM_XREF, sku_xref_system};

/// Whether entries are processed live (advancing the cursor) or replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// New journal entries after the store's cursor; the cursor advances.
    Live,
    /// Re-run of already processed entries through the current plugins; the cursor is left
    /// alone and the document weft holds for an entity is processed again (older versions, and
    /// earlier documents of the same second, are skipped), so a corrected mapping repairs what
    /// the old one got wrong.
    Replay,
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Journal entries read.
    pub entries: u64,
    /// Entries older than the known version: never applied.
    pub stale: u64,
    /// Entries at the known version with the same body.
    pub duplicates: u64,
    /// Inventory documents whose item is not known yet (the reconciliation poll brings them
    /// back with their SKU).
    pub deferred: u64,
    /// Documents mapped to canonical records.
    pub mapped: u64,
    /// Documents the mapper deliberately skipped.
    pub skipped: u64,
    /// Documents or records the mapper failed on.
    pub failed: u64,
    /// Field conflicts settled by the resolver.
    pub conflicts: u64,
    /// Stock readings newly set aside until weft's write to that level settles.
    pub parked: u64,
    /// Outbox rows queued (a write whose idempotency key was queued before is not queued
    /// again, so it is not counted).
    pub writes: u64,
    /// The cursor after the step (live mode).
    pub cursor: i64,
}

/// Which resolver settles which fields: `pattern` is `<kind>.<field>` where either part may be
/// `*` (e.g. `inventory-level.quantity` to a counter merge, `*` to a system-of-record policy).
#[derive(Clone)]
pub struct ResolverRule {
    /// The field pattern.
    pub pattern: String,
    /// The bound resolver.
    pub resolver: ResolverInstance,
}

/// What a rule's resolver guards: the field patterns whose one-sided changes it vets, asked once
/// (its `guards` export) and kept.
type Guards = Arc<tokio::sync::OnceCell<Vec<String>>>;

impl ResolverRule {
    fn matches(&self, kind: &str, field: &str) -> bool {
        pattern_matches(&self.pattern, kind, field)
    }

    /// How specific the pattern is (exact kind and field first).
    fn specificity(&self) -> u8 {
        ownership::specificity(&self.pattern)
    }
}

/// What the resolvers decided for one record: a settlement per conflict (in the merge's order),
/// per vetted one-sided change, and the refusals with their reasons.
#[derive(Debug, Default)]
struct Resolved {
    conflicts: Vec<Settlement>,
    changes: Vec<(String, Settlement)>,
    refusals: Vec<(String, String)>,
    /// Per field put to a resolver: who decided (`name version`), by which rule, and what
    /// (for the record's lineage).
    deciders: HashMap<String, Value>,
}

/// One store's processing: its database handle and its plugins.
#[derive(Clone)]
pub struct Processor {
    store_id: String,
    db: Store,
    systems: Systems,
    mapper: MapperInstance,
    resolvers: Vec<ResolverRule>,
    /// Per rule (same order), what its resolver guards.
    guards: Vec<Guards>,
    observer: Arc<dyn Observer>,
    /// The store's stock policy, and the system that owns its stock (if any).
    stock: StockPolicy,
    stock_owner: Option<String>,
    /// Field owners and what a non-owner's one-sided change does.
    ownership: Ownership,
    /// What a deletion does to the other systems, and the mass-delete guard.
    deletes: DeletePolicy,
    /// Deletions applied within the guard's window.
    recent_deletes: Arc<std::sync::Mutex<Recent>>,
}

impl Processor {
    /// A processor for `store_id` syncing `systems`, with its bound mapper and resolver rules
    /// (the most specific matching rule settles a field; a conflict no rule matches is an
    /// error).
    pub fn new(
        store_id: impl Into<String>,
        db: Store,
        systems: Systems,
        mapper: MapperInstance,
        mut resolvers: Vec<ResolverRule>,
    ) -> Self {
        resolvers.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let stock = StockPolicy::default();
        let stock_owner = stock.owner_in(&systems);
        Processor {
            store_id: store_id.into(),
            db,
            stock,
            stock_owner,
            systems,
            mapper,
            guards: resolvers.iter().map(|_| Guards::default()).collect(),
            resolvers,
            observer: Arc::new(Discard),
            ownership: Ownership::default(),
            deletes: DeletePolicy::default(),
            recent_deletes: Arc::default(),
        }
    }

    /// Applies the store's delete policy and mass-delete guard (see [`crate::deletes`]).
    pub fn with_deletes(mut self, policy: DeletePolicy) -> Self {
        self.deletes = policy;
        self
    }

    /// Holds the store's field owners on every change (see [`crate::ownership`]).
    pub fn with_ownership(mut self, ownership: Ownership) -> Self {
        self.ownership = ownership;
        self
    }

    /// Keeps the store's stock by `policy` (default: the store's ERP owns it).
    pub fn with_stock(mut self, policy: StockPolicy) -> Self {
        self.stock_owner = policy.owner_in(&self.systems);
        self.stock = policy;
        self
    }

    /// The system that owns the store's stock, if any (see [`crate::stock`]).
    pub fn stock_owner(&self) -> Option<&str> {
        self.stock_owner.as_deref()
    }

    /// Reports plugin call times and failures to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The store this processor works for.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Processes up to `limit` journal entries after the store's cursor, in one transaction.
    ///
    /// Stock readings set aside by earlier steps ([`StepCommit::park`]) come back once the
    /// write they wait for settled: right after its journaled result when that is in this
    /// batch, else first.
    pub async fn step(&self, limit: u32) -> Result<StepReport, EngineError> {
        // One step of the store at a time in this process: the live loop's and a replay's
        // (the console's) take turns (`Store::step_lock`).
        let lock = self.db.step_lock(&self.store_id);
        let _turn = lock.lock().await;
        let cursor = self.db.cursor(&self.store_id).await?;
        let entries = self.db.journal_since(&self.store_id, cursor, limit).await?;
        let parked = self.db.parked_entries(&self.store_id).await?;
        let batch = self.batch(entries, parked, cursor).await?;
        let mut report = self.run(batch, Mode::Live).await?;
        if report.cursor == 0 {
            report.cursor = cursor;
        }
        Ok(report)
    }

    /// Puts a step's entries in processing order: journal order, except that a stock reading
    /// journaled after weft's write to that level was queued goes right after the write's
    /// result when the result is in the batch (it may show the write's effect, so it is judged
    /// against what the write left, never against what the write replaced), and readings set
    /// aside earlier come back the same way, or first when their write settled without a
    /// result to wait for. Readings whose write is still unsettled stay aside.
    async fn batch(
        &self,
        entries: Vec<JournalEntry>,
        parked: Vec<(Parked, JournalEntry)>,
        cursor: i64,
    ) -> Result<Batch, EngineError> {
        let advance_to = entries.last().map(|e| e.seq);
        let end = advance_to.unwrap_or(cursor);
        let fresh = entries.len() as u64;
        // Write results in the batch: position, entity, when the write was queued.
        let results: Vec<(usize, (String, String), DateTime<Utc>)> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let w = StockWrite::from_entry(e)?;
                Some((i, (e.system.clone(), e.entity_id.clone()), w.queued_at))
            })
            .collect();
        let mut after: HashMap<usize, Vec<JournalEntry>> = HashMap::new();
        let mut moved = vec![false; entries.len()];
        if !results.is_empty() {
            for (i, e) in entries.iter().enumerate() {
                if e.kind != "inventory-level" || StockWrite::from_entry(e).is_some() {
                    continue;
                }
                if let Some((r, _, _)) = results.iter().find(|(r, (system, id), queued)| {
                    *r > i && *system == e.system && *id == e.entity_id && *queued <= e.received_at
                }) {
                    after.entry(*r).or_default().push(e.clone());
                    moved[i] = true;
                }
            }
        }
        let mut released = BTreeSet::new();
        let mut retried = BTreeSet::new();
        let mut held = BTreeSet::new();
        let mut blocked: HashMap<Key3, bool> = HashMap::new();
        let mut front = Vec::new();
        let mut release_deletes = BTreeSet::new();
        for (p, e) in parked {
            if p.key == RELEASE_KEY {
                // A held deletion an operator released: applied now, past the guard.
                released.insert(e.seq);
                release_deletes.insert(e.seq);
                front.push(e);
                continue;
            }
            if p.key == RETRY_KEY {
                released.insert(e.seq);
                retried.insert(e.seq);
                front.push(e);
                continue;
            }
            let group = (p.system.clone(), p.kind.clone(), p.key.clone());
            if let Some((r, _, _)) = results
                .iter()
                .find(|(_, (system, id), _)| *system == e.system && *id == e.entity_id)
            {
                released.insert(e.seq);
                after.entry(*r).or_default().push(e);
                continue;
            }
            let is_blocked = match blocked.get(&group) {
                Some(b) => *b,
                None => {
                    let b = !self
                        .db
                        .unsettled_writes(&self.store_id, &p.system, &p.kind, &p.key, end)
                        .await?
                        .is_empty();
                    blocked.insert(group.clone(), b);
                    b
                }
            };
            if is_blocked {
                held.insert(group);
            } else {
                released.insert(e.seq);
                front.push(e);
            }
        }
        let mut ordered = front;
        for (i, e) in entries.into_iter().enumerate() {
            if moved[i] {
                continue;
            }
            ordered.push(e);
            if let Some(mut rest) = after.remove(&i) {
                rest.sort_by_key(|e| e.seq);
                ordered.extend(rest);
            }
        }
        Ok(Batch {
            entries: ordered,
            fresh,
            released,
            retried,
            release_deletes,
            held,
            advance_to,
            end,
        })
    }

    /// Processes `entries` (in seq order) and commits the result.
    ///
    /// A step records what each observed system now holds from what it read of that record. If
    /// a write to the same record completed while the step ran (the dispatcher recorded a newer
    /// state), the commit refuses the step whole and it is run again from what the store holds
    /// now: a step working from an older record must not overwrite a newer one.
    pub async fn process(
        &self,
        entries: Vec<JournalEntry>,
        mode: Mode,
    ) -> Result<StepReport, EngineError> {
        let last = entries.last().map(|e| e.seq);
        let batch = Batch {
            fresh: entries.len() as u64,
            advance_to: last,
            entries,
            released: BTreeSet::new(),
            retried: BTreeSet::new(),
            release_deletes: BTreeSet::new(),
            held: BTreeSet::new(),
            end: last.unwrap_or(i64::MAX),
        };
        let lock = self.db.step_lock(&self.store_id);
        let _turn = lock.lock().await;
        self.run(batch, mode).await
    }

    /// Runs a step; the caller holds the store's step lock.
    async fn run(&self, batch: Batch, mode: Mode) -> Result<StepReport, EngineError> {
        let mut attempt = 1;
        loop {
            match self.process_once(&batch, mode).await {
                Err(EngineError::Store(StoreError::TargetChanged { system, kind, key }))
                    if attempt < STEP_ATTEMPTS =>
                {
                    debug!(store = %self.store_id, %system, %kind, %key, attempt, "a write completed while the step ran: running it again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn process_once(&self, batch: &Batch, mode: Mode) -> Result<StepReport, EngineError> {
        let (mut report, step, deleted) = self.plan_step(batch, mode).await?;
        let Some(step) = step else {
            return Ok(report);
        };
        let outcome = self.db.commit_step(&step).await?;
        if !deleted.is_empty()
            && let Ok(mut recent) = self.recent_deletes.lock()
        {
            // The mass-delete guard's window, once the deletions are durable.
            let now = tokio::time::Instant::now();
            for (kind, n) in deleted {
                recent.add(&kind, n, now);
            }
        }
        // An idempotency key is queued at most once, ever: a write planned again with the key
        // of one already queued (a re-run after a crash, a replay of a write that was sent or
        // dead-lettered) is not queued again, and the report says what really went out.
        report.writes = outcome.outbox_inserted.len() as u64;
        Ok(report)
    }

    /// What a replay of `entries` would do ([`Mode::Replay`]), without committing anything:
    /// the report, and the writes it would queue (a write whose idempotency key was queued
    /// before is left out, as the commit would leave it out). Entries are planned in one step,
    /// so pass the whole selection.
    pub async fn preview(
        &self,
        entries: Vec<JournalEntry>,
    ) -> Result<(StepReport, Vec<NewOutboxRow>), EngineError> {
        let last = entries.last().map(|e| e.seq);
        let batch = Batch {
            fresh: entries.len() as u64,
            advance_to: last,
            entries,
            released: BTreeSet::new(),
            retried: BTreeSet::new(),
            release_deletes: BTreeSet::new(),
            held: BTreeSet::new(),
            end: last.unwrap_or(i64::MAX),
        };
        let (mut report, step, _) = self.plan_step(&batch, Mode::Replay).await?;
        let mut rows = Vec::new();
        let mut keys = BTreeSet::new();
        for row in step.map(|s| s.outbox).unwrap_or_default() {
            if keys.insert(row.idempotency_key.clone())
                && !self.db.outbox_key_exists(&row.idempotency_key).await?
            {
                rows.push(row);
            }
        }
        report.writes = rows.len() as u64;
        Ok((report, rows))
    }

    /// Settles a tie by reading the entity again: `entry` shows another body than `known` in
    /// the same second, so either may be the later one (a delivery sent before weft's write or
    /// before an edit can arrive after a read of its result; a read begun before a write's
    /// result was journaled is journaled after it). The platform's state now is the truth:
    /// when it is what weft holds, `entry` was the older one and nothing changes; otherwise it
    /// is journaled just after `known` (or at its own, later version) and applied when the
    /// step gets to it. A read during which an entry of the entity was journaled may be older
    /// than that entry, so it is not journaled as the later one: the entity is read again
    /// (up to [`TIE_READS`] reads). `true`: settled
    /// (leave `entry` unapplied); `false`: the entity cannot be read here (no connection, a
    /// platform that reads no single entities of that kind, a failed read), and `entry` is
    /// applied in journal order as before.
    async fn settle_tie(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        known: &Seen,
        reread: &mut BTreeMap<(String, String, String), (Value, String)>,
    ) -> Result<bool, EngineError> {
        let id = (
            entry.system.clone(),
            entry.kind.clone(),
            entry.entity_id.clone(),
        );
        if let Some((shown, shown_version)) = reread.get(&id) {
            // Read in this step already. A reading other than what the read showed is older
            // than it (the read began after every entry of the batch was journaled). One equal
            // to it is the platform's state, and must win over what weft holds now (an entry
            // applied since the read, of the same second): it is journaled just after that, as
            // the read was, to be applied as the later observation (in journal order, a
            // document of the same second would not say what it no longer lists). Its append
            // may be a duplicate of an entry still to come in the journal, which applies it.
            if entry.body != *shown {
                return Ok(true);
            }
            let Some(version) = version_after(shown_version, &known.version) else {
                return Ok(false);
            };
            return Ok(
                match self
                    .journal_tie_read(entry, version, entry.body.clone())
                    .await?
                {
                    AppendOutcome::Inserted(_) => true,
                    AppendOutcome::Duplicate(seq) => seq > entry.seq,
                },
            );
        }
        let Some(connection) = self
            .systems
            .get(&entry.system)
            .and_then(|s| s.connection.clone())
        else {
            return Ok(false);
        };
        let mut attempts = 0;
        let (read, version) = loop {
            let Some(read) = connection.reread(&entry.kind, &entry.entity_id, &entry.body) else {
                return Ok(false);
            };
            let began = read_began();
            let started = std::time::Instant::now();
            let read = tokio::time::timeout(REREAD_TIMEOUT, read).await;
            debug!(store = %self.store_id, system = %entry.system, kind = %entry.kind, id = %entry.entity_id, took_ms = started.elapsed().as_millis() as u64, "a tie was read again");
            let read = match read {
                Ok(Ok(Some(read))) => read,
                Ok(Ok(None)) => return Ok(false),
                Ok(Err(e)) => {
                    debug!(store = %self.store_id, system = %entry.system, kind = %entry.kind, id = %entry.entity_id, error = %e, "a tie could not be read again; applied in journal order");
                    work.count("tie_reread_failed");
                    return Ok(false);
                }
                Err(_) => {
                    work.count("tie_reread_failed");
                    return Ok(false);
                }
            };
            attempts += 1;
            if read.body == known.body {
                reread.insert(id, (read.body, read.version));
                return Ok(true);
            }
            let Some(version) = version_after(&read.version, &known.version) else {
                // A read older than what weft holds (a clock gone back): journal order decides.
                return Ok(false);
            };
            // Something of the entity journaled while the read ran (a poll, a webhook, a
            // write's result) may be newer than the read within their second: journaled as the
            // later observation, the read would undo it (a product read before a variant was
            // added, taken as newer, removes the variant). The entity is read again, by a read
            // that begins after that entry was received.
            let overtaken = version != read.version
                && journaled_since(
                    &self.db,
                    &self.store_id,
                    &entry.system,
                    &entry.kind,
                    &entry.entity_id,
                    began,
                )
                .await?;
            if !overtaken {
                break (read, version);
            }
            work.count("tie_read_overtaken");
            if attempts >= TIE_READS {
                // Overtaken each time: the entries that overtook the reads are ties or newer
                // readings the steps that take them settle; this one, and any later tie of the
                // step (all older than the reads), is dropped. No read stands for the platform
                // here (each may be older than what overtook it), so none is remembered.
                reread.insert(id, (Value::Null, read.version));
                return Ok(true);
            }
        };
        reread.insert(id, (read.body.clone(), read.version.clone()));
        self.journal_tie_read(entry, version, read.body).await?;
        Ok(true)
    }

    /// Journals what a read again showed of `entry`'s entity ([`journal_read`]).
    async fn journal_tie_read(
        &self,
        entry: &JournalEntry,
        version: String,
        body: Value,
    ) -> Result<AppendOutcome, StoreError> {
        journal_read(
            &self.db,
            &self.store_id,
            &entry.system,
            &entry.kind,
            &entry.entity_id,
            version,
            body,
        )
        .await
    }

    /// Plans a step over `batch`: the report and the commit it would make (`None` for an
    /// empty batch).
    async fn plan_step(
        &self,
        batch: &Batch,
        mode: Mode,
    ) -> Result<(StepReport, Option<StepCommit>, BTreeMap<String, u64>), EngineError> {
        let mut report = StepReport::default();
        if batch.entries.is_empty() {
            return Ok((report, None, BTreeMap::new()));
        }
        let now = Utc::now();
        let mut work = Work::new(&self.db, &self.store_id, &self.systems, now);
        work.mode = mode;
        work.end = batch.end;
        work.held = batch.held.clone();
        work.released = batch.released.clone();

        // 1. Stale guard and enrichment.
        // Each fresh entry with the document weft held before it (restored if it is deferred),
        // and the stock write results, in processing order.
        let mut fresh: Vec<Fresh> = Vec::new();
        // The deletions this step takes up, by (system, kind, entity id), with their version:
        // a later entry of the same entity in the step is judged against the deletion (its
        // entity state is recorded only once the deletion is applied, in step 3).
        let mut step_tombstones: BTreeMap<(String, String, String), String> = BTreeMap::new();
        // The entities read again in this step to settle a tie ([`Self::settle_tie`]).
        let mut reread: BTreeMap<(String, String, String), (Value, String)> = BTreeMap::new();
        for entry in batch.entries.iter().cloned() {
            if entry.kind == weft_platform::webhook::HINT_KIND {
                // A thin webhook: its platform's change source fetches what it names.
                work.count("webhook_hints");
                continue;
            }
            if let Some(decision) =
                ownership::decision_of(entry.delivery_id.as_deref(), &entry.body)
            {
                fresh.push(Fresh::Decision(entry, decision));
                continue;
            }
            if let Some(key) = dependents_key(&entry) {
                if mode == Mode::Live {
                    fresh.push(Fresh::Dependents(entry, key));
                }
                continue;
            }
            if let Some(key) = replan_key(&entry) {
                if mode == Mode::Live {
                    fresh.push(Fresh::Replan(entry, key));
                }
                continue;
            }
            if let Some(write) = StockWrite::from_entry(&entry) {
                if mode == Mode::Replay {
                    // Weft's own writes: a replay derives its writes anew.
                    continue;
                }
                let known = work
                    .entity(&entry.system, &entry.kind, &entry.entity_id)
                    .await?;
                let age = freshness(known.as_ref().map(|k| k.version.as_str()), &entry.version);
                if age != Freshness::Stale {
                    // The level now holds what the write set, at the write's version: older
                    // readings of it are stale from here on.
                    let body =
                        write.level_doc(&entry, known.as_ref(), work.platform(&entry.system)?);
                    work.remember_entity(&entry, &body);
                }
                work.stock_writes.insert(
                    (
                        entry.system.clone(),
                        entry.kind.clone(),
                        entry.entity_id.clone(),
                    ),
                    (entry.version.clone(), write.before),
                );
                fresh.push(Fresh::Write(entry, write));
                continue;
            }
            if let Ok(platform) = work.platform(&entry.system)
                && platform.is_deletion(&entry.kind, &entry.body)
            {
                let known = work
                    .entity(&entry.system, &entry.kind, &entry.entity_id)
                    .await?;
                let id = (
                    entry.system.clone(),
                    entry.kind.clone(),
                    entry.entity_id.clone(),
                );
                if step_tombstones.contains_key(&id) {
                    report.duplicates += 1;
                    work.count("deletes_duplicate");
                    continue;
                }
                let Some(known) = known else {
                    // Nothing of it was ever read: there is nothing to delete elsewhere, and
                    // older documents of it are stale from here on.
                    work.count("deletes_unknown");
                    if mode == Mode::Live {
                        work.remember_entity(&entry, &entry.body);
                    }
                    continue;
                };
                if platform.is_deletion(&entry.kind, &known.body) {
                    report.duplicates += 1;
                    work.count("deletes_duplicate");
                    continue;
                }
                if freshness(Some(known.version.as_str()), &entry.version) == Freshness::Stale {
                    report.stale += 1;
                    work.count("deletes_stale");
                    continue;
                }
                let Some(kind) = parse_kind(&entry.kind) else {
                    report.failed += 1;
                    work.count("map_failed");
                    continue;
                };
                let doc = PlatformDoc {
                    system: entry.system.clone(),
                    kind,
                    id: entry.entity_id.clone(),
                    version: known.version.clone(),
                    body: known.body.to_string(),
                };
                step_tombstones.insert(id, entry.version.clone());
                fresh.push(Fresh::Delete(entry, doc));
                continue;
            }
            let known = work
                .entity(&entry.system, &entry.kind, &entry.entity_id)
                .await?;
            let age = freshness(known.as_ref().map(|k| k.version.as_str()), &entry.version);
            let deleted_in_step = step_tombstones
                .get(&(
                    entry.system.clone(),
                    entry.kind.clone(),
                    entry.entity_id.clone(),
                ))
                .is_some_and(|v| freshness(Some(v), &entry.version) != Freshness::Newer);
            if deleted_in_step
                || (age == Freshness::Same
                    && known.as_ref().is_some_and(|k| {
                        work.platform(&entry.system)
                            .is_ok_and(|p| p.is_deletion(&entry.kind, &k.body))
                    }))
            {
                // A document of the same second as the entity's deletion was read or sent
                // before it (a write's result, a delayed webhook): only a strictly newer one
                // shows the entity again.
                report.stale += 1;
                work.count("stale_after_delete");
                continue;
            }
            if superseded(mode, age, known.as_ref().map(|k| k.seq), entry.seq) {
                report.stale += 1;
                debug!(store = %self.store_id, system = %entry.system, kind = %entry.kind, id = %entry.entity_id, seq = entry.seq, "replay: skipped a document superseded within its second");
                continue;
            }
            if age == Freshness::Same
                && work.shows_replaced_quantity(&entry, known.as_ref()).await?
            {
                // Same second as weft's write, showing the quantity the write replaced: the
                // level before the write (the platform's compare-and-set matched it then).
                report.stale += 1;
                work.count("stale_before_write");
                continue;
            }
            match age {
                Freshness::Stale => {
                    report.stale += 1;
                    work.count(&format!("stale_ignored_{}", entry.source));
                    continue;
                }
                Freshness::Same
                    if mode == Mode::Live
                        && !batch.retried.contains(&entry.seq)
                        && known.as_ref().is_some_and(|k| {
                            let omitted = work
                                .platform(&entry.system)
                                .map_or(&[][..], |p| p.delivered_without(&entry.kind));
                            weft_platform::same_document(&entry.body, &k.body, omitted)
                        }) =>
                {
                    report.duplicates += 1;
                    work.count("duplicate_ignored");
                    continue;
                }
                _ => {}
            }
            let mut body = entry.body.clone();
            if !work.enrich(&entry, &mut body).await? {
                report.deferred += 1;
                work.count("deferred_unknown_item");
                continue;
            }
            if age == Freshness::Same
                && mode == Mode::Live
                && is_observation(&entry)
                && let Some(k) = known.as_ref()
                && k.body != body
                && self.settle_tie(&mut work, &entry, k, &mut reread).await?
            {
                // An observation of the second weft holds, with another body (a late delivery,
                // or a read begun before what weft holds was journaled): the entity was read
                // again and what the read showed is journaled in its place.
                report.stale += 1;
                work.count("tie_settled_by_read");
                continue;
            }
            let Some(kind) = parse_kind(&entry.kind) else {
                report.failed += 1;
                work.count("map_failed");
                warn!(store = %self.store_id, kind = %entry.kind, seq = entry.seq, "journal entry of an unknown entity kind");
                continue;
            };
            work.remember_entity(&entry, &body);
            // A newer document of an entity that lists its children whole: what the one weft
            // held carried and this one does not was removed there.
            let before = match (known.as_ref(), work.platform(&entry.system)) {
                (Some(k), Ok(p))
                    if age == Freshness::Newer
                        && p.lists_children(&entry.kind, &body)
                        && p.lists_children(&entry.kind, &k.body)
                        && !p.is_deletion(&entry.kind, &k.body) =>
                {
                    Some(PlatformDoc {
                        system: entry.system.clone(),
                        kind,
                        id: entry.entity_id.clone(),
                        version: k.version.clone(),
                        body: k.body.to_string(),
                    })
                }
                _ => None,
            };
            let doc = PlatformDoc {
                system: entry.system.clone(),
                kind,
                id: entry.entity_id.clone(),
                version: entry.version.clone(),
                body: body.to_string(),
            };
            match before {
                Some(before) => {
                    fresh.push(Fresh::Doc(entry.clone(), doc, known));
                    fresh.push(Fresh::Dropped(entry, before));
                }
                None => fresh.push(Fresh::Doc(entry, doc, known)),
            }
        }

        // 2. Map to canonical.
        if !fresh.is_empty() {
            let docs: Vec<PlatformDoc> = fresh
                .iter()
                .filter_map(|f| match f {
                    Fresh::Doc(_, d, _) | Fresh::Delete(_, d) | Fresh::Dropped(_, d) => {
                        Some(d.clone())
                    }
                    Fresh::Write(..)
                    | Fresh::Replan(..)
                    | Fresh::Decision(..)
                    | Fresh::Dependents(..) => None,
                })
                .collect();
            let outcomes = if docs.is_empty() {
                Vec::new()
            } else {
                self.docs_to_canonical(docs).await?
            };
            let held = self
                .guard_deletes(mode, &fresh, &outcomes, &batch.release_deletes)
                .await?;
            let mut outcomes = outcomes.into_iter();
            let mut plans: BTreeMap<(String, String, String), Plan> = BTreeMap::new();
            // The records each entry's document carried (for a `Dropped` after it).
            let mut carried: BTreeMap<i64, BTreeSet<(String, String)>> = BTreeMap::new();
            for item in &fresh {
                let (entry, prior) = match item {
                    Fresh::Doc(entry, _, prior) => (entry, prior),
                    Fresh::Dropped(entry, _) => {
                        let Some(outcome) = outcomes.next() else {
                            return Err(EngineError::PluginContract(
                                "mapper returned fewer outcomes than documents".into(),
                            ));
                        };
                        self.apply_dropped(
                            &mut work,
                            entry,
                            outcome,
                            carried.get(&entry.seq),
                            &mut plans,
                        )
                        .await?;
                        continue;
                    }
                    Fresh::Delete(entry, _) => {
                        let Some(outcome) = outcomes.next() else {
                            return Err(EngineError::PluginContract(
                                "mapper returned fewer outcomes than documents".into(),
                            ));
                        };
                        self.apply_deletion(
                            &mut work,
                            entry,
                            outcome,
                            held.get(&entry.seq),
                            &mut plans,
                        )
                        .await?;
                        continue;
                    }
                    Fresh::Write(entry, write) => {
                        self.apply_stock_write(&mut work, &mut report, entry, write, &mut plans)
                            .await?;
                        continue;
                    }
                    Fresh::Dependents(entry, sku) => {
                        // A variant weft created: plan what lives on it (see
                        // `dispatch::dependents_entry`).
                        let mut n = 0;
                        if work.golden_exists("price", sku).await? {
                            plan_everywhere(
                                &mut plans,
                                &self.systems,
                                EntityKind::Price,
                                "price",
                                sku,
                                entry,
                            );
                            n += 1;
                        }
                        for level in self
                            .db
                            .golden_keys_with_prefix(
                                &self.store_id,
                                "inventory-level",
                                &format!("{sku}@"),
                            )
                            .await?
                        {
                            plan_everywhere(
                                &mut plans,
                                &self.systems,
                                EntityKind::InventoryLevel,
                                "inventory-level",
                                &level,
                                entry,
                            );
                            n += 1;
                        }
                        work.count_by("dependents_replanned", n);
                        continue;
                    }
                    Fresh::Decision(entry, decision) => {
                        self.apply_decision(&mut work, entry, decision, &mut plans)
                            .await?;
                        continue;
                    }
                    Fresh::Replan(entry, key) => {
                        // A refused stock write: diff the level again against what weft holds.
                        plan_everywhere(
                            &mut plans,
                            &self.systems,
                            EntityKind::InventoryLevel,
                            "inventory-level",
                            key,
                            entry,
                        );
                        work.count("stock_levels_replanned");
                        continue;
                    }
                };
                let Some(outcome) = outcomes.next() else {
                    return Err(EngineError::PluginContract(
                        "mapper returned fewer outcomes than documents".into(),
                    ));
                };
                let outcome = match outcome {
                    Ok(o) => o,
                    Err(e) => {
                        // This document broke the plugin's contract (invalid output, a trap on
                        // it alone): set aside, counted and logged with its record; the rest of
                        // the batch and the store go on.
                        report.failed += 1;
                        work.count("map_failed");
                        warn!(store = %self.store_id, system = %entry.system, kind = %entry.kind, id = %entry.entity_id, seq = entry.seq, error = %e, "mapper output refused for a document: set aside");
                        work.set_aside(entry, TO_CANONICAL, "", e.to_string());
                        continue;
                    }
                };
                match outcome {
                    ToCanonicalOutcome::Mapped(records) => {
                        report.mapped += 1;
                        work.clear_set_aside(&entry.system, &entry.kind, &entry.entity_id);
                        if let Some(key) = work.waits_for_variant(entry, &records).await? {
                            // The system shows a record weft never saw there while weft's write
                            // of the variant it lives on is unsettled: if that write created the
                            // variant, this reading shows the system's initial values (see
                            // `merge_fields`), which the write's completion says. The whole
                            // reading is set aside until it settles, before any of its records
                            // is merged (one merged now would be merged again, older than what
                            // a later reading brought, when this one comes back).
                            if work.park(entry, prior.as_ref(), &entry.system, "variant", &key) {
                                report.parked += 1;
                                work.count("readings_parked_for_variant");
                            }
                            continue;
                        }
                        work.learn_xrefs(entry, &records);
                        carried.insert(
                            entry.seq,
                            records
                                .iter()
                                .map(|r| (kind_str(r.kind).to_owned(), r.key.clone()))
                                .collect(),
                        );
                        for record in records {
                            self.merge_record(
                                &mut work,
                                &mut report,
                                entry,
                                prior.as_ref(),
                                record,
                                &mut plans,
                            )
                            .await?;
                        }
                    }
                    ToCanonicalOutcome::Skipped(reason) => {
                        report.skipped += 1;
                        debug!(store = %self.store_id, system = %entry.system, id = %entry.entity_id, %reason, "mapper skipped a document");
                    }
                    ToCanonicalOutcome::Failed(err) => {
                        report.failed += 1;
                        work.count("map_failed");
                        warn!(store = %self.store_id, system = %entry.system, kind = %entry.kind, id = %entry.entity_id, seq = entry.seq, error = ?err, "mapper failed on a document: set aside");
                        let reason = format!("{} failed: {err:?}", self.mapper_name());
                        work.set_aside(entry, TO_CANONICAL, "", reason);
                    }
                }
            }
            // 4-5. Writes for every system that does not hold the golden record yet.
            self.plan_writes(&mut work, &mut report, plans).await?;
        }

        // 6. Commit.
        let reparked = work.reparked.clone();
        let deleted = std::mem::take(&mut work.deleted);
        let mut step = work.into_step();
        step.unpark = batch
            .released
            .iter()
            .filter(|s| !reparked.contains(s))
            .copied()
            .collect();
        // Entries read: the new ones, and those set aside earlier that were processed now.
        report.entries = batch.fresh + step.unpark.len() as u64;
        if mode == Mode::Live
            && let Some(last_seq) = batch.advance_to
        {
            step.advance_cursor_to = Some(last_seq);
            report.cursor = last_seq;
        }
        step.counters
            .push(("journal_processed".into(), report.entries as i64));
        Ok((report, Some(step), deleted))
    }

    async fn merge_record(
        &self,
        work: &mut Work<'_>,
        report: &mut StepReport,
        entry: &JournalEntry,
        prior: Option<&Seen>,
        record: CanonicalRecord,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        let kind = kind_str(record.kind).to_owned();
        let incoming: Fields = match serde_json::from_str::<Value>(&record.fields) {
            Ok(Value::Object(m)) => m,
            _ => {
                report.failed += 1;
                work.count("map_failed");
                warn!(store = %self.store_id, kind = %kind, key = %record.key, "mapper returned canonical fields that are not a JSON object");
                return Ok(());
            }
        };
        let system = entry.system.as_str();
        let mut incoming = incoming;
        if kind != "inventory-level" && work.mode == Mode::Live && is_observation(entry) {
            // A reading received before weft's applied write to this system completed (in
            // flight meanwhile, or planned only after the reading was received) that shows
            // what the write replaced was taken before the write landed: the system holds the
            // write's fields. The completion records them as the system's last-known state, so
            // such a reading, processed after it, looks like the system changing them back,
            // and weft writes the old value everywhere (an ERP edit undone through the shop; a
            // step slowed by reads again reads that state after completions made during it). A
            // reading showing anything else is taken as it is (the write's effect as the
            // system shows it, or a change). Writes not applied yet are left out: one that
            // never lands (refused, superseded) must not stand for the system's state.
            // (Stock readings wait for their writes' results instead: see `Work::must_park`.)
            let landed = self
                .db
                .writes_done_after(
                    &self.store_id,
                    system,
                    &kind,
                    &record.key,
                    entry.received_at,
                )
                .await?;
            for write in landed {
                for (field, value) in write.desired.as_object().into_iter().flatten() {
                    if let Some(shown) = incoming.get_mut(field)
                        && shown != value
                        && write.replaces.get(field) == Some(&*shown)
                    {
                        *shown = value.clone();
                        work.count("read_before_write");
                    }
                }
            }
        }
        if kind == "inventory-level"
            && work.mode == Mode::Live
            && work.must_park(system, &kind, &record.key, entry).await?
        {
            if work.park(entry, prior, system, &kind, &record.key) {
                report.parked += 1;
                work.count("stock_readings_parked");
            }
            debug!(store = %self.store_id, %system, %kind, key = %record.key, seq = entry.seq, "a stock reading taken while weft's write to that level is unsettled: set aside until it settles");
            return Ok(());
        }
        self.merge_fields(
            work,
            report,
            entry,
            &kind,
            &record.key,
            record.kind,
            incoming,
            plans,
        )
        .await
    }

    /// Merges `incoming`, what `entry`'s system shows for `kind`/`key`, into the golden record,
    /// records that the system holds it, and plans the record's writes.
    #[allow(clippy::too_many_arguments)]
    async fn merge_fields(
        &self,
        work: &mut Work<'_>,
        report: &mut StepReport,
        entry: &JournalEntry,
        kind: &str,
        key: &str,
        canonical_kind: EntityKind,
        incoming: Fields,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        let system = entry.system.as_str();
        let (kind, record_key) = (kind.to_owned(), key.to_owned());
        let (golden, mut meta) = work.golden(&kind, &record_key).await?;
        // The system that deleted the record shows it again: a real re-creation, so weft
        // writes it there again from here on.
        let recreated = deletes::clear(&mut meta, system);
        if recreated {
            work.count("deletes_recreated");
            info!(store = %self.store_id, %system, %kind, key = %record_key, seq = entry.seq, "a record its system had deleted is shown there again: its tombstone is cleared");
            if deletes::lift_removal(&mut meta) {
                // It was removed everywhere (the `delete` policy): it exists again, so it is
                // written again wherever weft removed it.
                work.count("removals_lifted");
            }
        }
        // A re-created record held nothing there since its deletion: what it shows now is that
        // system's change from the agreed record (so, say, an archive is undone by a product
        // created again active, unless the field's owner says otherwise).
        let mut previous = work.target(system, &kind, &record_key).await?;
        if recreated {
            previous = Some(golden.clone());
        }
        if previous
            .as_ref()
            .is_some_and(|p| p.contains_key(INITIAL_MARK))
        {
            // The first reading of a record weft's write created here with the variant it
            // lives on (a price the variant's creation could not carry): what it shows is the
            // system's initial value, which nobody chose there. The system holds it; the agreed
            // record stays, and what differs is written there.
            work.count("initial_values_recorded");
            debug!(store = %self.store_id, %system, %kind, key = %record_key, seq = entry.seq, "the first reading of a record weft created: its values are the system's initial ones, not changes");
            work.set_target(system, &kind, &record_key, incoming);
            plan_everywhere(
                plans,
                &self.systems,
                canonical_kind,
                &kind,
                &record_key,
                entry,
            );
            return Ok(());
        }
        let stock_level = kind == "inventory-level";
        let owner = self.stock_owner.as_deref();
        // With an owner, only the owner's readings set a level's quantity; a storefront's is
        // computed from it (see `crate::stock`) and written back when it differs. Without one,
        // quantities are counters: every change of a side is a delta that counts.
        let counter = |field: &str| stock_level && owner.is_none() && field == "quantity";
        let mut observed = incoming.clone();
        if stock_level
            && owner.is_some_and(|o| o != system)
            && let Some(q) = observed.remove("quantity")
        {
            let before = previous.as_ref().and_then(|p| p.get("quantity"));
            if before.is_some_and(|b| *b != q) {
                // Judged once the step's orders are in (see `plan_writes`).
                work.stock_changed
                    .insert((system.to_owned(), kind.clone(), record_key.clone()));
            }
        }
        let released = stock_level
            && owner == Some(system)
            && self
                .release_demand(work, entry, &record_key, &mut meta, plans)
                .await?;
        // A system with an open proposal for a field shows the proposed value; for the merge it
        // holds the agreed one, so showing another value is a new proposal (or a change back to
        // the agreed value withdraws it), never a conflict with its own proposal.
        let open = self.open_proposals(&meta, system);
        let mut merge_previous = previous.clone();
        if !open.is_empty() {
            let p = merge_previous.get_or_insert_with(Fields::new);
            for field in &open {
                match golden.get(field) {
                    Some(v) => p.insert(field.clone(), v.clone()),
                    None => p.remove(field),
                };
            }
        }
        let mut m = merge(&golden, merge_previous.as_ref(), &observed, counter);
        // One-sided changes by a system that does not own the field: the store's policy
        // reverts them, proposes them to an operator, or accepts them.
        let mut overrides: Vec<(String, OnChange)> = Vec::new();
        for field in m.taken.clone() {
            if stock_level && field == "quantity" {
                continue; // stock has its own owner (`[stock]`)
            }
            let Some(agreed) = golden.get(&field) else {
                continue; // nothing agreed yet: the first value shown is taken
            };
            if let Some(action @ (OnChange::Revert | OnChange::Propose)) =
                self.ownership.judge(&kind, &field, system)
            {
                m.golden.insert(field.clone(), agreed.clone());
                m.taken.retain(|f| *f != field);
                overrides.push((field, action));
            }
        }
        // The same holds when the non-owner's change meets another (a conflict): the owner's
        // rule decides it before any resolver (an owner's own conflicting change still goes to
        // the resolver, which with owners is `system-of-record`).
        let mut kept = Vec::with_capacity(m.conflicts.len());
        for c in std::mem::take(&mut m.conflicts) {
            let judged = if stock_level && c.field == "quantity" {
                None
            } else {
                self.ownership.judge(&kind, &c.field, system)
            };
            match judged {
                Some(action @ (OnChange::Revert | OnChange::Propose)) => {
                    // The golden record still holds the agreed value of a conflicting field.
                    overrides.push((c.field, action));
                }
                _ => kept.push(c),
            }
        }
        m.conflicts = kept;
        // A proposer that shows the agreed value again withdrew its proposal.
        let withdrawn: Vec<String> = open
            .into_iter()
            .filter(|f| observed.contains_key(f) && observed.get(f) == golden.get(f))
            .collect();
        // One-sided changes of fields a resolver guards are put to it, as conflicts are.
        let guarded = self.guarded(&kind, &m.taken).await;
        let mut refusals: Vec<(String, String)> = Vec::new();
        let mut deciders: HashMap<String, Value> = HashMap::new();
        if !m.conflicts.is_empty() || !guarded.is_empty() {
            let mut resolved = match self
                .resolve(
                    work,
                    &kind,
                    &record_key,
                    system,
                    &entry.version,
                    &golden,
                    &m,
                    &guarded,
                    &meta,
                )
                .await
            {
                Ok(s) => s,
                Err(e @ (EngineError::Plugin(_) | EngineError::PluginContract(_))) => {
                    // The resolver failed on this record (a trap, a refused value, no rule for
                    // the field): the entry is set aside for a retry once the plugin or the
                    // config is fixed; the record keeps what it had, the store goes on.
                    report.failed += 1;
                    work.count("resolve_failed");
                    warn!(store = %self.store_id, %system, %kind, key = %record_key, seq = entry.seq, error = %e, "resolver failed on a conflict: set aside");
                    work.set_aside(entry, RESOLVE, "", e.to_string());
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            deciders = std::mem::take(&mut resolved.deciders);
            let settlements = resolved.conflicts;
            report.conflicts += settlements.len() as u64;
            work.count_by("conflicts_resolved", settlements.len() as i64);
            for (c, s) in m.conflicts.iter().zip(&settlements) {
                let how = match s {
                    Settlement::Incoming => system,
                    Settlement::Other => "golden",
                    Settlement::Value(_) => "merged",
                };
                debug!(store = %self.store_id, kind = %kind, key = %record_key, field = %c.field, how, "conflict settled");
                work.count(&format!(
                    "conflict_{}",
                    match s {
                        Settlement::Incoming | Settlement::Other => "took_side",
                        Settlement::Value(_) => "merged_value",
                    }
                ));
            }
            m.settle(&settlements);
            // Vetted one-sided changes: kept, changed, or refused (the agreed value stays, so
            // weft writes it back to the system that changed it).
            for (field, settlement) in resolved.changes {
                match settlement {
                    Settlement::Incoming => work.count("changes_vetted"),
                    Settlement::Value(v) => {
                        work.count("changes_vetted");
                        m.golden.insert(field, v);
                    }
                    Settlement::Other => {
                        match golden.get(&field) {
                            Some(v) => m.golden.insert(field.clone(), v.clone()),
                            None => m.golden.remove(&field),
                        };
                        m.taken.retain(|f| *f != field);
                    }
                }
            }
            for (field, reason) in resolved.refusals {
                work.count("changes_refused");
                warn!(store = %self.store_id, %system, %kind, key = %record_key, %field, seq = entry.seq, %reason, "resolver refused a change: the agreed value stays and is written back");
                refusals.push((field, reason));
            }
        }
        // Provenance of the fields this observation decided; a refusal is kept with the field's
        // provenance, so the record's history says what was refused and why. A conflict settled
        // for the agreed value keeps that value's provenance: the other system made it.
        let decided = m
            .taken
            .iter()
            .chain(
                m.conflicts
                    .iter()
                    .filter(|c| c.incoming == c.other || m.golden.get(&c.field) != Some(&c.other))
                    .map(|c| &c.field),
            )
            .filter(|f| !refusals.iter().any(|(r, _)| r == *f));
        let mut proposals_changed = !withdrawn.is_empty();
        if let Value::Object(meta_map) = &mut meta {
            for field in decided {
                if meta_map
                    .get(field.as_str())
                    .is_some_and(|f| f.get(ownership::PROPOSED).is_some())
                {
                    work.count("proposals_superseded");
                    info!(store = %self.store_id, %system, %kind, key = %record_key, %field, seq = entry.seq, "a change of the field superseded its open proposal");
                }
                meta_map.insert(
                    field.clone(),
                    json!({"system": system, "version": entry.version, "seq": entry.seq}),
                );
            }
            for (field, reason) in &refusals {
                let entry_meta = meta_map.entry(field.clone()).or_insert_with(|| json!({}));
                if let Value::Object(o) = entry_meta {
                    o.insert(
                        "refused".into(),
                        json!({
                            "system": system,
                            "value": incoming.get(field),
                            "version": entry.version,
                            "seq": entry.seq,
                            "reason": reason,
                        }),
                    );
                }
            }
            for field in &withdrawn {
                if let Some(Value::Object(f)) = meta_map.get_mut(field.as_str()) {
                    f.remove(ownership::PROPOSED);
                }
                work.count("proposals_withdrawn");
            }
            for (field, action) in &overrides {
                let value = incoming.get(field).cloned().unwrap_or(Value::Null);
                let field_meta = meta_map.entry(field.clone()).or_insert_with(|| json!({}));
                let Value::Object(f) = field_meta else {
                    continue;
                };
                let record = json!({
                    "system": system,
                    "value": value,
                    "version": entry.version,
                    "seq": entry.seq,
                });
                match action {
                    OnChange::Revert => {
                        work.count("changes_reverted");
                        info!(store = %self.store_id, %system, %kind, key = %record_key, %field, seq = entry.seq, owner = self.ownership.owner(&kind, field).unwrap_or(""), "a change by a system that does not own the field: the owner's value is written back");
                        f.insert(ownership::REVERTED.into(), record);
                        proposals_changed = true;
                    }
                    OnChange::Propose => {
                        let same = f
                            .get(ownership::PROPOSED)
                            .and_then(|p| p.get("value"))
                            .is_some_and(|v| *v == value);
                        if !same {
                            work.count("changes_proposed");
                            info!(store = %self.store_id, %system, %kind, key = %record_key, %field, seq = entry.seq, "a change by a system that does not own the field: kept for an operator (weft proposals)");
                            let mut record = record;
                            record["at"] = json!(entry.received_at.to_rfc3339());
                            f.insert(ownership::PROPOSED.into(), record);
                            proposals_changed = true;
                        }
                    }
                    OnChange::Accept => {}
                }
            }
        }
        self.record_lineage(
            work,
            entry,
            &kind,
            &record_key,
            (&golden, previous.as_ref(), &incoming),
            &m,
            &refusals,
            &deciders,
            &overrides,
        );
        let changed_by_refusal = !refusals.is_empty() || proposals_changed;
        let mut changed = !m.is_noop() || changed_by_refusal || recreated;
        // Pending demand the owner's reading released lives in the meta only.
        changed |= released;
        if kind == "order" && owner.is_some_and(|o| o != system) {
            changed |= self
                .track_demand(work, entry, &record_key, &m.golden, &mut meta, plans)
                .await?;
        }
        if kind == "order" && owner == Some(system) {
            // The owner shows the order (its sales order): the order's demand moves to the
            // owner's quantities.
            changed |= self
                .order_in_erp(work, entry, &record_key, &mut meta, plans)
                .await?;
        }
        work.set_golden(&kind, &record_key, m.golden, meta, changed);
        // This system now holds what it showed.
        let mut holds = previous.unwrap_or_default();
        holds.extend(incoming);
        work.set_target(system, &kind, &record_key, holds);
        plan_everywhere(
            plans,
            &self.systems,
            canonical_kind,
            &kind,
            &record_key,
            entry,
        );
        Ok(())
    }

    /// The mass-delete guard (see [`crate::deletes`]): the deletions of this step to hold, by
    /// journal seq, with the kind whose share tripped it, the records each carries, and why.
    async fn guard_deletes(
        &self,
        mode: Mode,
        fresh: &[Fresh],
        outcomes: &[Result<ToCanonicalOutcome, PluginError>],
        released: &BTreeSet<i64>,
    ) -> Result<BTreeMap<i64, (String, i64, String)>, EngineError> {
        let mut held = BTreeMap::new();
        if mode != Mode::Live {
            return Ok(held);
        }
        // Each deletion of the step (not released by an operator) with its records.
        let mut deletions: Vec<(i64, Vec<(String, String)>)> = Vec::new();
        let mut i = 0;
        for f in fresh {
            match f {
                Fresh::Doc(..) | Fresh::Dropped(..) => i += 1,
                Fresh::Delete(entry, _) => {
                    if !released.contains(&entry.seq)
                        && let Some(Ok(ToCanonicalOutcome::Mapped(records))) = outcomes.get(i)
                    {
                        let mut keys = Vec::new();
                        for r in records {
                            let kind = kind_str(r.kind);
                            // The echo of weft's own removal is no deletion to guard.
                            if !deletes::stored_removed(&self.db, &self.store_id, kind, &r.key)
                                .await?
                            {
                                keys.push((kind.to_owned(), r.key.clone()));
                            }
                        }
                        if !keys.is_empty() {
                            deletions.push((entry.seq, keys));
                        }
                    }
                    i += 1;
                }
                _ => {}
            }
        }
        if deletions.is_empty() {
            return Ok(held);
        }
        let already = self.db.held_deletes(&self.store_id).await?.len();
        if already > 0 {
            for (seq, keys) in deletions {
                let kind = keys.first().map(|k| k.0.clone()).unwrap_or_default();
                let reason = format!(
                    "{already} earlier deletions of this store are held: every new one waits for `weft deletes release|discard`"
                );
                held.insert(seq, (kind, keys.len() as i64, reason));
            }
            return Ok(held);
        }
        let mut per_kind: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (_, keys) in &deletions {
            for (k, key) in keys {
                per_kind.entry(k.as_str()).or_default().insert(key.as_str());
            }
        }
        let now = tokio::time::Instant::now();
        if !self.recent_deletes.lock().is_ok_and(|r| r.seeded()) {
            // The first guard of this process: the window as the stored tombstones left it.
            let stored = self.db.golden_tombstones(&self.store_id).await?;
            if let Ok(mut r) = self.recent_deletes.lock()
                && !r.seeded()
            {
                r.seed(&stored, chrono::Utc::now(), now);
            }
        }
        let mut tripped: BTreeMap<String, String> = BTreeMap::new();
        for (kind, keys) in per_kind {
            let recent = self
                .recent_deletes
                .lock()
                .map(|mut r| r.count(kind, now))
                .unwrap_or(0);
            let n = keys.len() as u64 + recent;
            let total = self.db.golden_count(&self.store_id, kind).await?.max(0) as u64;
            if self.deletes.trips(n, total) {
                let reason = format!(
                    "this round and the last minute would delete {n} of {total} {kind} records ({}%), more than the guard's {}%",
                    n * 100 / total.max(1),
                    self.deletes.guard_percent
                );
                warn!(store = %self.store_id, %kind, deletes = n, of = total, "mass-delete guard: deletions held for an operator (weft deletes release|discard)");
                tripped.insert(kind.to_owned(), reason);
            }
        }
        for (seq, keys) in deletions {
            if let Some((kind, reason)) = keys
                .iter()
                .find_map(|(k, _)| tripped.get(k).map(|r| (k.clone(), r.clone())))
            {
                held.insert(seq, (kind, keys.len() as i64, reason));
            }
        }
        Ok(held)
    }

    /// Applies one deletion (or holds it, when the guard says so): each record the deleted
    /// document carried gets the deleting system's tombstone and the store's delete policy.
    async fn apply_deletion(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        outcome: Result<ToCanonicalOutcome, PluginError>,
        held: Option<&(String, i64, String)>,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        if let Some((record_kind, records, reason)) = held {
            work.count("deletes_held");
            work.step.hold_deletes.push(HeldDelete {
                seq: entry.seq,
                system: entry.system.clone(),
                kind: entry.kind.clone(),
                entity_id: entry.entity_id.clone(),
                record_kind: record_kind.clone(),
                records: *records,
                reason: reason.clone(),
                at: work.step.at,
            });
            return Ok(());
        }
        let records = match outcome {
            Ok(ToCanonicalOutcome::Mapped(records)) => records,
            other => {
                // What the system showed before cannot be mapped (any more): nothing is known
                // to delete elsewhere.
                work.count("deletes_unmapped");
                debug!(store = %self.store_id, system = %entry.system, kind = %entry.kind, id = %entry.entity_id, outcome = ?other.map(|_| ()), "a deletion whose last document does not map to records");
                work.remember_entity(entry, &entry.body);
                return Ok(());
            }
        };
        self.delete_records(work, entry, records, true, plans)
            .await?;
        work.count("deletes_applied");
        work.remember_entity(entry, &entry.body);
        Ok(())
    }

    /// The records a newer document of an entity no longer carries, of those the one weft held
    /// carried (`before`, mapped): removed on that system, so deleted there like a deleted
    /// entity's records. Nothing when the newer document did not map (`now` unknown).
    async fn apply_dropped(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        before: Result<ToCanonicalOutcome, PluginError>,
        now: Option<&BTreeSet<(String, String)>>,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        let (Some(now), Ok(ToCanonicalOutcome::Mapped(records))) = (now, before) else {
            return Ok(());
        };
        let dropped: Vec<CanonicalRecord> = records
            .into_iter()
            .filter(|r| !now.contains(&(kind_str(r.kind).to_owned(), r.key.clone())))
            .collect();
        if dropped.is_empty() {
            return Ok(());
        }
        work.count_by("children_removed", dropped.len() as i64);
        self.delete_records(work, entry, dropped, false, plans)
            .await
    }

    /// Gives each record the deleting system's tombstone and the store's delete policy;
    /// `guarded`: the deletion counts toward the mass-delete guard's minute (a deleted entity's
    /// records; not children a document no longer lists, which it says itself).
    async fn delete_records(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        records: Vec<CanonicalRecord>,
        guarded: bool,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        let system = entry.system.as_str();
        for record in records {
            let kind = kind_str(record.kind);
            let (mut golden, mut meta) = work.golden(kind, &record.key).await?;
            if golden.is_empty() {
                continue;
            }
            // Removed everywhere already (the `delete` policy): this system's deletion is the
            // echo of weft's own, which applies no policy and is no deletion to guard.
            let echo = self
                .removed_before(work, kind, &record.key, &meta, entry.seq)
                .await?;
            let guarded = guarded && !echo;
            deletes::mark(
                &mut meta,
                system,
                json!({
                    "seq": entry.seq,
                    "version": entry.version,
                    "entity": entry.entity_id,
                    "at": entry.received_at.to_rfc3339(),
                    "applied": work.step.at.to_rfc3339(),
                    "guarded": guarded,
                    "echo": echo,
                }),
            );
            let action = if echo {
                work.count("deletes_echoed");
                None
            } else {
                Some(self.deletes.action(kind))
            };
            match action {
                None => {}
                Some(OnDelete::Delete) => {
                    deletes::mark_removed(&mut meta, system, entry.seq, &work.step.at.to_rfc3339());
                    work.count("deletes_removing");
                }
                Some(OnDelete::Archive)
                    if golden.get("active").is_some_and(|a| *a != json!(false)) =>
                {
                    golden.insert("active".into(), json!(false));
                    let prov =
                        json!({"system": system, "version": entry.version, "seq": entry.seq});
                    match meta.get_mut("active") {
                        Some(Value::Object(f)) => {
                            if let Value::Object(p) = prov {
                                f.extend(p);
                            }
                        }
                        _ => {
                            meta["active"] = prov;
                        }
                    }
                    work.count("deletes_archived");
                }
                Some(OnDelete::Archive) => {}
                Some(OnDelete::Ignore) => work.count("deletes_ignored"),
            }
            info!(store = %self.store_id, %system, %kind, key = %record.key, seq = entry.seq, ?action, echo, "a record was deleted on one system");
            // What was queued for it there, or died trying, is moot now.
            work.step.moot_writes.push(weft_store::MootWrites {
                system: system.to_owned(),
                kind: kind.to_owned(),
                key: record.key.clone(),
                prefix: false,
            });
            if kind == "variant" {
                work.step.moot_writes.push(weft_store::MootWrites {
                    system: system.to_owned(),
                    kind: "inventory-level".into(),
                    key: format!("{}@", record.key),
                    prefix: true,
                });
            }
            if guarded {
                *work.deleted.entry(kind.to_owned()).or_default() += 1;
            }
            work.set_golden(kind, &record.key, golden, meta, true);
            if echo {
                // Its removal was planned everywhere when it was decided.
                continue;
            }
            work.count("records_deleted");
            plan_everywhere(plans, &self.systems, record.kind, kind, &record.key, entry);
        }
        Ok(())
    }

    /// Whether record `kind`/`key` is removed everywhere (the `delete` policy): its meta says
    /// so, or, for what lives on a variant, the variant's.
    async fn removed(
        &self,
        work: &mut Work<'_>,
        kind: &str,
        key: &str,
        meta: &Value,
    ) -> Result<bool, EngineError> {
        self.on_record_or_variant(work, kind, key, meta, deletes::removed)
            .await
    }

    /// Whether `holds` says so of `meta` (record `kind`/`key`'s golden meta), or, for what lives
    /// on a variant (its price, its stock levels), of the variant's.
    async fn on_record_or_variant(
        &self,
        work: &mut Work<'_>,
        kind: &str,
        key: &str,
        meta: &Value,
        holds: impl Fn(&Value) -> bool,
    ) -> Result<bool, EngineError> {
        if holds(meta) {
            return Ok(true);
        }
        if matches!(kind, "price" | "inventory-level") {
            let sku = key.split('@').next().unwrap_or(key);
            let (_, variant_meta) = work.golden("variant", sku).await?;
            return Ok(holds(&variant_meta));
        }
        Ok(false)
    }

    /// Whether record `kind`/`key` was removed everywhere by a deletion other than `seq` (its
    /// meta, or, for what lives on a variant, the variant's): a deletion of it now is an echo.
    async fn removed_before(
        &self,
        work: &mut Work<'_>,
        kind: &str,
        key: &str,
        meta: &Value,
        seq: i64,
    ) -> Result<bool, EngineError> {
        self.on_record_or_variant(work, kind, key, meta, |m| {
            deletes::removed_by(m).is_some_and(|s| s != seq)
        })
        .await
    }

    /// Whether `target` deleted record `kind`/`key` (its tombstone is in the record's meta, or,
    /// for what lives on a variant, in the variant's).
    async fn deleted_on(
        &self,
        work: &mut Work<'_>,
        target: &str,
        kind: &str,
        key: &str,
        meta: &Value,
    ) -> Result<bool, EngineError> {
        self.on_record_or_variant(work, kind, key, meta, |m| deletes::deleted_on(m, target))
            .await
    }

    /// The fields of a golden record's `meta` with an open proposal by `system`.
    fn open_proposals(&self, meta: &Value, system: &str) -> Vec<String> {
        ownership::proposals(meta)
            .into_iter()
            .filter(|(_, p)| p.get("system").and_then(Value::as_str) == Some(system))
            .map(|(f, _)| f)
            .collect()
    }

    /// Applies an operator's decision on an open proposal: accepted, the proposed value becomes
    /// the agreed one (and reaches every system); refused, the proposal is closed and the
    /// agreed value is written back to the proposer. A decision on a proposal that is no longer
    /// open with the value the operator saw is not applied (counted as `decisions_stale`).
    async fn apply_decision(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        decision: &ownership::Decision,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        let (kind, key, field) = (
            entry.kind.as_str(),
            entry.entity_id.as_str(),
            &decision.field,
        );
        let Some(canonical_kind) = parse_kind(kind) else {
            work.count("decisions_stale");
            return Ok(());
        };
        let (mut golden, mut meta) = work.golden(kind, key).await?;
        let open = meta
            .get(field)
            .and_then(|m| m.get(ownership::PROPOSED))
            .filter(|p| {
                p.get("system").and_then(Value::as_str) == Some(entry.system.as_str())
                    && p.get("value") == Some(&decision.value)
            })
            .cloned();
        let Some(open) = open else {
            work.count("decisions_stale");
            warn!(store = %self.store_id, system = %entry.system, %kind, %key, %field, seq = entry.seq, "a decision on a proposal that is no longer open with that value: not applied");
            return Ok(());
        };
        let decided = json!({
            "accept": decision.accept,
            "system": entry.system,
            "value": decision.value,
            "seq": entry.seq,
            "at": entry.received_at.to_rfc3339(),
        });
        let Value::Object(meta_map) = &mut meta else {
            return Ok(());
        };
        if decision.accept {
            golden.insert(field.clone(), decision.value.clone());
            meta_map.insert(
                field.clone(),
                json!({
                    "system": entry.system,
                    "version": open.get("version").cloned().unwrap_or(Value::Null),
                    "seq": open.get("seq").cloned().unwrap_or(Value::Null),
                    ownership::DECIDED: decided,
                }),
            );
            work.count("proposals_accepted");
        } else {
            if let Some(Value::Object(f)) = meta_map.get_mut(field.as_str()) {
                f.remove(ownership::PROPOSED);
                f.insert(ownership::DECIDED.into(), decided);
            }
            work.count("proposals_refused");
        }
        info!(store = %self.store_id, system = %entry.system, %kind, %key, %field, accept = decision.accept, "an operator decided a proposal");
        let mode = work.mode_label().to_owned();
        work.step.lineage.push(LineageRow {
            seq: entry.seq,
            kind: kind.to_owned(),
            key: key.to_owned(),
            system: entry.system.clone(),
            mode,
            mapper: "operator".to_owned(),
            fields: json!({ field.as_str(): {
                "decision": if decision.accept { "proposal-accepted" } else { "proposal-refused" },
                "value": if decision.accept { decision.value.clone() } else { golden.get(field).cloned().unwrap_or(Value::Null) },
                "incoming": decision.value,
            }}),
            writes: json!([]),
        });
        work.set_golden(kind, key, golden, meta, true);
        plan_everywhere(plans, &self.systems, canonical_kind, kind, key, entry);
        Ok(())
    }

    /// Applies the journaled result of weft's stock write to `entry.system`: the level held
    /// the write's guard quantity when the write replaced it (merged like a reading, so a
    /// change weft had not read yet counts once), and holds what the write set after it (weft's
    /// own change, not the side's).
    async fn apply_stock_write(
        &self,
        work: &mut Work<'_>,
        report: &mut StepReport,
        entry: &JournalEntry,
        write: &StockWrite,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        const KIND: &str = "inventory-level";
        let system = entry.system.as_str();
        if let Some(before) = write.before {
            let incoming: Fields = [("quantity".to_owned(), json!(before))]
                .into_iter()
                .collect();
            self.merge_fields(
                work,
                report,
                entry,
                KIND,
                &write.key,
                EntityKind::InventoryLevel,
                incoming,
                plans,
            )
            .await?;
        }
        let mut holds = work
            .target(system, KIND, &write.key)
            .await?
            .unwrap_or_default();
        holds.extend(write.after.clone());
        work.set_target(system, KIND, &write.key, holds);
        plan_everywhere(
            plans,
            &self.systems,
            EntityKind::InventoryLevel,
            KIND,
            &write.key,
            entry,
        );
        work.count("stock_writes_recorded");
        debug!(store = %self.store_id, %system, key = %write.key, before = ?write.before, seq = entry.seq, "stock write result recorded");
        Ok(())
    }

    /// A storefront order's demand on the stock levels it draws from (see [`crate::stock`]):
    /// while the owner has not seen its sales order, its lines are pending on their levels, so
    /// every storefront shows them sold; a cancellation or an edit before then changes them.
    /// Returns whether the order's meta changed.
    async fn track_demand(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        order_key: &str,
        order: &Fields,
        order_meta: &mut Value,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<bool, EngineError> {
        let had = Demand::of(order_meta);
        if had.as_ref().is_some_and(|d| d.state != "pending") {
            // The owner holds its sales order: its quantities carry the order from here on.
            return Ok(false);
        }
        let want = stock::demand(order);
        if had.is_none()
            && let Some(owner) = self.stock_owner.as_deref()
            && work.target(owner, "order", order_key).await?.is_some()
        {
            // The owner already holds it (a store upgraded with open orders): its quantities
            // carry the order, nothing is pending.
            Demand {
                lines: want,
                open: Vec::new(),
                state: "erp".into(),
            }
            .store(order_meta);
            return Ok(true);
        }
        let had_lines = had.map(|d| d.lines).unwrap_or_default();
        if want == had_lines {
            return Ok(false);
        }
        let levels: BTreeSet<&String> = want.keys().chain(had_lines.keys()).collect();
        for level in levels {
            let (fields, mut meta) = work.golden("inventory-level", level).await?;
            let pending = stock::meta_obj(&mut meta, PENDING);
            match want.get(level) {
                Some(q) => {
                    pending.insert(order_key.to_owned(), json!({ "quantity": q }));
                }
                None => {
                    pending.remove(order_key);
                }
            }
            work.set_golden("inventory-level", level, fields, meta, true);
            plan_everywhere(
                plans,
                &self.systems,
                EntityKind::InventoryLevel,
                "inventory-level",
                level,
                entry,
            );
        }
        work.count("stock_demand_changed");
        Demand {
            open: want.keys().cloned().collect(),
            lines: want,
            state: "pending".into(),
        }
        .store(order_meta);
        Ok(true)
    }

    /// The owner shows order `order_key` (its sales order, read or written by weft): the order's pending
    /// demand is released from each level as soon as a reading of the level by the owner shows
    /// the sales order (read after this entry, at or after its version), which may be the
    /// level's last reading already.
    /// Returns whether the order's meta changed.
    async fn order_in_erp(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        order_key: &str,
        order_meta: &mut Value,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<bool, EngineError> {
        let Some(owner) = self.stock_owner.as_deref() else {
            return Ok(false);
        };
        let Some(mut demand) = Demand::of(order_meta) else {
            return Ok(false);
        };
        if demand.state != "pending" {
            return Ok(false);
        }
        demand.state = "erp".into();
        let erp = json!({ "seq": entry.seq, "version": entry.version });
        let doc_kind = work
            .platform(owner)?
            .document_kind(platform_kind("inventory-level"));
        let mut open = Vec::new();
        for level in &demand.open {
            let (fields, mut meta) = work.golden("inventory-level", level).await?;
            // The owner's last reading of the level, if it already shows the sales order.
            let last = match work.xref("inventory-level", level, owner).await? {
                Some(id) => work.entity(owner, doc_kind.as_str(), &id).await?,
                None => None,
            };
            let shown = last
                .as_ref()
                .is_some_and(|l| stock::at_or_after(&l.version, &entry.version));
            let pending = stock::meta_obj(&mut meta, PENDING);
            if shown {
                pending.remove(order_key);
                plan_everywhere(
                    plans,
                    &self.systems,
                    EntityKind::InventoryLevel,
                    "inventory-level",
                    level,
                    entry,
                );
                work.count("stock_demand_released");
            } else {
                if let Some(Value::Object(p)) = pending.get_mut(order_key) {
                    p.insert("erp".into(), erp.clone());
                }
                open.push(level.clone());
            }
            work.set_golden("inventory-level", level, fields, meta, true);
        }
        demand.open = open;
        demand.store(order_meta);
        Ok(true)
    }

    /// An owner's reading of a level (`entry`): releases the pending demand of the orders whose
    /// sales order it shows. Returns whether any was released.
    async fn release_demand(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        level: &str,
        meta: &mut Value,
        plans: &mut BTreeMap<(String, String, String), Plan>,
    ) -> Result<bool, EngineError> {
        let Some(pending) = meta.get_mut(PENDING).and_then(Value::as_object_mut) else {
            return Ok(false);
        };
        let released: Vec<String> = pending
            .iter()
            .filter(|(_, p)| {
                let erp = &p["erp"];
                match (erp["seq"].as_i64(), erp["version"].as_str()) {
                    (Some(seq), Some(version)) => {
                        stock::reflects(entry.seq, &entry.version, seq, version)
                    }
                    _ => false,
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        for order_key in &released {
            pending.remove(order_key);
        }
        for order_key in &released {
            let (order, mut order_meta) = work.golden("order", order_key).await?;
            if let Some(mut d) = Demand::of(&order_meta) {
                d.open.retain(|l| l != level);
                d.store(&mut order_meta);
                work.set_golden("order", order_key, order, order_meta, true);
            }
            work.count("stock_demand_released");
        }
        if !released.is_empty() {
            plan_everywhere(
                plans,
                &self.systems,
                EntityKind::InventoryLevel,
                "inventory-level",
                level,
                entry,
            );
        }
        Ok(!released.is_empty())
    }

    /// The fields of `taken` (one-sided changes of `kind`) whose resolver guards them: the most
    /// specific rule matching the field decides, and it is asked only if its resolver's
    /// `guards` name the field. A resolver whose `guards` fails guards everything its rule
    /// covers (fail closed: the change goes to it and is set aside with its error).
    async fn guarded(&self, kind: &str, taken: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for field in taken {
            let Some(i) = self.resolvers.iter().position(|r| r.matches(kind, field)) else {
                continue;
            };
            let rule = &self.resolvers[i];
            let guards = self.guards[i]
                .get_or_init(|| async {
                    match rule.resolver.guards_async().await {
                        Ok(g) => g,
                        Err(e) => {
                            warn!(store = %self.store_id, pattern = %rule.pattern, error = %e, "resolver guards failed: it vets every change its rule covers");
                            vec![rule.pattern.clone()]
                        }
                    }
                })
                .await;
            if guards.iter().any(|g| pattern_matches(g, kind, field)) {
                out.push(field.clone());
            }
        }
        out
    }

    /// Puts the merge's conflicts and the `guarded` one-sided changes to their resolvers, each
    /// with every system of the store as a side.
    #[allow(clippy::too_many_arguments)]
    async fn resolve(
        &self,
        work: &mut Work<'_>,
        kind: &str,
        key: &str,
        system: &str,
        version: &str,
        agreed: &Fields,
        m: &crate::merge::Merge,
        guarded: &[String],
        meta: &Value,
    ) -> Result<Resolved, EngineError> {
        let entity_kind = parse_kind(kind).unwrap_or(EntityKind::Product);
        // What every other system was last known to hold.
        let mut held: Vec<(String, Option<Fields>)> = Vec::new();
        for name in self.systems.names() {
            if name != system {
                let known = work.target(name, kind, key).await?;
                held.push((name.to_owned(), known));
            }
        }
        let text = |v: Option<&Value>| v.map(Value::to_string);
        // Per input: the field, its occasion, the system that made the agreed value (conflicts).
        let mut inputs: Vec<(String, Occasion, Option<String>)> = Vec::new();
        let mut changes: Vec<FieldChange> = Vec::new();
        let mut build = |field: &str,
                         occasion: Occasion,
                         base: Option<&Value>,
                         incoming_value: Option<&Value>,
                         agreed_value: Option<&Value>,
                         other: Option<(&str, &str)>| {
            let mut sides = Vec::with_capacity(held.len() + 1);
            for name in self.systems.names() {
                let side = if name == system {
                    Side {
                        system: name.to_owned(),
                        value: text(incoming_value),
                        version: version.to_owned(),
                        changed: true,
                    }
                } else if let Some((o, o_version)) = other.filter(|(o, _)| *o == name) {
                    Side {
                        system: o.to_owned(),
                        value: text(agreed_value),
                        version: o_version.to_owned(),
                        changed: true,
                    }
                } else {
                    let known = held
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, f)| f.as_ref())
                        .and_then(|f| f.get(field));
                    Side {
                        system: name.to_owned(),
                        value: text(known),
                        version: String::new(),
                        changed: false,
                    }
                };
                sides.push(side);
            }
            inputs.push((field.to_owned(), occasion, other.map(|(o, _)| o.to_owned())));
            changes.push(FieldChange {
                occasion,
                kind: entity_kind,
                key: key.to_owned(),
                field: field.to_owned(),
                base: text(base),
                agreed: text(agreed_value),
                incoming: system.to_owned(),
                sides,
            });
        };
        for c in &m.conflicts {
            let provenance = meta.get(&c.field);
            let other_version = provenance
                .and_then(|v| v.get("version"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let other_system = self.other_side(
                system,
                provenance
                    .and_then(|v| v.get("system"))
                    .and_then(Value::as_str),
            );
            build(
                &c.field,
                Occasion::Conflict,
                c.base.as_ref(),
                Some(&c.incoming),
                Some(&c.other),
                Some((other_system, other_version)),
            );
        }
        for field in guarded {
            let before = agreed.get(field);
            build(
                field,
                Occasion::Change,
                before,
                m.golden.get(field),
                before,
                None,
            );
        }
        let n = changes.len();
        let mut decisions: Vec<Option<Decision>> = vec![None; n];
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            let Some(r) = self
                .resolvers
                .iter()
                .position(|r| r.matches(kind, &c.field))
            else {
                return Err(EngineError::PluginContract(format!(
                    "no resolver rule matches {kind}.{} for store {}",
                    c.field, self.store_id
                )));
            };
            match groups.iter_mut().find(|(g, _)| *g == r) {
                Some((_, idx)) => idx.push(i),
                None => groups.push((r, vec![i])),
            }
        }
        let mut deciders: Vec<(String, String)> = vec![(String::new(), String::new()); n];
        for (r, idx) in groups {
            let resolver = self.resolvers[r].resolver.clone();
            let name = resolver.plugin().info().name.clone();
            let named = format!("{name} {}", resolver.plugin().info().version);
            for &i in &idx {
                deciders[i] = (named.clone(), self.resolvers[r].pattern.clone());
            }
            let batch: Vec<FieldChange> = idx.iter().map(|&i| changes[i].clone()).collect();
            // The runtime guarantees one decision per input, each naming a side (a contract
            // error otherwise).
            let out = timed_call(&self.observer, &self.store_id, &name, move || {
                resolver.resolve(&batch)
            })
            .await?;
            for (i, d) in idx.into_iter().zip(out) {
                decisions[i] = Some(d);
            }
        }
        let mut resolved = Resolved::default();
        for (((d, (field, occasion, other)), change), (resolver, rule)) in decisions
            .into_iter()
            .zip(inputs)
            .zip(&changes)
            .zip(deciders)
        {
            let Some(d) = d else { continue };
            resolved.deciders.insert(
                field.clone(),
                json!({
                    "occasion": match occasion {
                        Occasion::Conflict => "conflict",
                        Occasion::Change => "change",
                    },
                    "resolver": resolver,
                    "rule": rule,
                    "decided": match &d {
                        Decision::Take(s) => format!("take {s}"),
                        Decision::Value(v) => format!("value {v}"),
                        Decision::Refuse(r) => format!("refuse: {r}"),
                    },
                    "other_system": other,
                }),
            );
            let settlement = match d {
                Decision::Take(s) if s == system => Settlement::Incoming,
                Decision::Take(s) if other.as_deref() == Some(s.as_str()) => Settlement::Other,
                Decision::Take(s) => match change
                    .sides
                    .iter()
                    .find(|side| side.system == s)
                    .and_then(|side| side.value.as_deref())
                    .map(serde_json::from_str::<Value>)
                {
                    Some(Ok(v)) => Settlement::Value(v),
                    _ => Settlement::Other,
                },
                Decision::Value(text) => {
                    Settlement::Value(serde_json::from_str(&text).map_err(|e| {
                        EngineError::PluginContract(format!(
                            "resolver decided a value that is not JSON ({e}): {text}"
                        ))
                    })?)
                }
                Decision::Refuse(reason) => {
                    resolved.refusals.push((field.clone(), reason));
                    Settlement::Other
                }
            };
            match occasion {
                Occasion::Conflict => resolved.conflicts.push(settlement),
                Occasion::Change => resolved.changes.push((field, settlement)),
            }
        }
        Ok(resolved)
    }

    /// The system whose change made the agreed value of a field `incoming` changed too: its
    /// provenance, when that is another system of the store; else the first other system.
    fn other_side<'s>(&'s self, incoming: &str, provenance: Option<&'s str>) -> &'s str {
        provenance
            .filter(|p| *p != incoming && self.systems.names().any(|n| n == *p))
            .or_else(|| self.systems.names().find(|s| *s != incoming))
            .unwrap_or("")
    }

    async fn plan_writes(
        &self,
        work: &mut Work<'_>,
        report: &mut StepReport,
        plans: BTreeMap<(String, String, String), Plan>,
    ) -> Result<(), EngineError> {
        let mut requests = Vec::new();
        let mut meta = Vec::new();
        for ((target, kind, key), plan) in plans {
            let (mut golden, golden_meta) = work.golden(&kind, &key).await?;
            if self
                .deleted_on(work, &target, &kind, &key, &golden_meta)
                .await?
            {
                // Never recreate a record on the side that deleted it; a write to it queued
                // before the deletion and not sent yet is no longer wanted either.
                work.count("writes_skipped_deleted");
                work.step.withdraw.push((target, kind, key));
                continue;
            }
            if self.removed(work, &kind, &key, &golden_meta).await? {
                // Removed everywhere (the `delete` policy): the target's copy is deleted, if
                // it has one; what lives on a removed variant goes with it.
                let target_id = match kind.as_str() {
                    "price" | "inventory-level" => None,
                    _ => work.xref(&kind, &key, &target).await?,
                };
                let Some(target_id) = target_id else {
                    work.count("writes_skipped_removed");
                    work.step.withdraw.push((target, kind, key));
                    continue;
                };
                let doc_kind = work.platform(&target)?.document_kind(platform_kind(&kind));
                let current = work
                    .entity(&target, doc_kind.as_str(), &target_id)
                    .await?
                    .map(|e| e.body.to_string());
                requests.push(WriteRequest {
                    target: target.clone(),
                    record: CanonicalRecord {
                        kind: plan.kind,
                        key: key.clone(),
                        fields: Value::Object(golden.clone()).to_string(),
                    },
                    current,
                    target_id: Some(target_id),
                    deleted: true,
                });
                meta.push((target, kind, key, (plan.seq, plan.live), golden, None));
                continue;
            }
            if kind == "inventory-level"
                && let Some(owner) = self.stock_owner.as_deref()
            {
                // What a storefront shows is computed from the owner's quantity (see
                // `crate::stock`); nothing is written anywhere until the owner was read.
                let Some(q) = golden.get("quantity").and_then(Value::as_i64) else {
                    continue;
                };
                if target == owner {
                    continue;
                }
                let shown = stock::storefront_quantity(
                    q,
                    stock::pending_total(&golden_meta),
                    self.stock.buffer,
                );
                golden.insert("quantity".into(), json!(shown));
            }
            // A system with an open proposal keeps what it shows until an operator decides.
            for (field, p) in ownership::proposals(&golden_meta) {
                if p.get("system").and_then(Value::as_str) == Some(target.as_str())
                    && let Some(v) = p.get("value")
                {
                    golden.insert(field, v.clone());
                }
            }
            let mut known = work.target(&target, &kind, &key).await?;
            if kind == "inventory-level"
                && let Some((sent, queued_at)) = work.in_flight(&target, &kind, &key).await?
                && work
                    .target_recorded_at(&target, &kind, &key)
                    .is_none_or(|at| at <= queued_at)
            {
                // A stock write in flight (or applied, its result not recorded yet) makes the
                // target hold its value: the next write starts from there (its guard is that
                // value), and none is needed if it already carries the golden record.
                // Guarding with the quantity the write replaces would let a later write land
                // over sales that took the level back to it, undoing them. (Once the step has
                // recorded the target after the write was queued, that record is newer.)
                let mut holds = known.unwrap_or_default();
                holds.extend(sent);
                known = Some(holds);
            }
            if golden.is_empty() || pending_fields(&golden, known.as_ref()).is_empty() {
                if kind == "inventory-level" && !golden.is_empty() {
                    // The target holds what weft wants (a cancelled order gave its units
                    // back, say): a write queued for it and not sent yet would undo that.
                    work.step
                        .withdraw
                        .push((target.clone(), kind.clone(), key.clone()));
                }
                continue;
            }
            if kind == "inventory-level"
                && work
                    .stock_changed
                    .contains(&(target.clone(), kind.clone(), key.clone()))
            {
                // The storefront changed its stock in this step, and after every order of the
                // step it still does not show what the owner says: not a sale weft knows of.
                work.count("stock_overridden");
                debug!(store = %self.store_id, %target, %key, owner_says = ?golden.get("quantity"), "a storefront's stock changed by something other than an order weft knows of: the owner's quantity is written back");
            }
            // Prices and stock levels live on a variant: until the variant exists in the target
            // (its creation is queued), writing them would fail or create a half product. The
            // target's observation of the created variant re-plans them.
            if matches!(kind.as_str(), "price" | "inventory-level") {
                let sku = key.split('@').next().unwrap_or(&key);
                if work.xref("variant", sku, &target).await?.is_none()
                    && work.xref(&kind, &key, &target).await?.is_none()
                {
                    work.count("writes_waiting_for_variant");
                    continue;
                }
            }
            let mut target_id = work.xref(&kind, &key, &target).await?;
            let current = match &target_id {
                Some(id) => {
                    let platform = work.platform(&target)?;
                    let doc_kind = platform.document_kind(platform_kind(&kind));
                    match work.entity(&target, doc_kind.as_str(), id).await? {
                        // The entity weft knew it by is gone there (weft removed it, and it
                        // exists again elsewhere): it is made anew.
                        Some(e) if platform.is_deletion(doc_kind.as_str(), &e.body) => {
                            target_id = None;
                            None
                        }
                        Some(e) => Some(e.body.to_string()),
                        None => None,
                    }
                }
                None => None,
            };
            requests.push(WriteRequest {
                deleted: false,
                target: target.clone(),
                record: CanonicalRecord {
                    kind: plan.kind,
                    key: key.clone(),
                    fields: Value::Object(golden.clone()).to_string(),
                },
                current,
                target_id,
            });
            meta.push((target, kind, key, (plan.seq, plan.live), golden, known));
        }
        if requests.is_empty() {
            return Ok(());
        }
        let outcomes = self.canonical_to_writes(requests).await?;
        for ((target, kind, key, (seq, live), golden, known), outcome) in
            meta.into_iter().zip(outcomes)
        {
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    // Commands the request did not ask for (another system, another record,
                    // too many), or output that is not valid: none of this request's commands
                    // are queued; the other requests go on.
                    report.failed += 1;
                    work.count("map_failed");
                    warn!(store = %self.store_id, %target, %kind, %key, error = %e, "mapper commands refused for a write: set aside");
                    work.set_aside_write(seq, &target, &kind, &key, e.to_string());
                    continue;
                }
            };
            match outcome {
                FromCanonicalOutcome::Commands(cmds) => {
                    work.clear_set_aside(&target, &kind, &key);
                    for cmd in cmds {
                        let Some(platform) = self.systems.platform(&cmd.system) else {
                            report.failed += 1;
                            work.count("map_failed");
                            warn!(store = %self.store_id, %target, %kind, %key, system = %cmd.system, "mapper wrote a command for a system this store does not sync");
                            continue;
                        };
                        let mut row = outbox_row(
                            &self.store_id,
                            platform.as_ref(),
                            seq,
                            &kind,
                            &key,
                            cmd,
                            &golden,
                            known.as_ref(),
                        )?;
                        if !live {
                            row.priority += BACKFILL_PRIORITY;
                        }
                        let planned = json!({
                            "target": row.system,
                            "op": row.op,
                            "idempotency_key": row.idempotency_key,
                        });
                        let mapper = self.mapper_label();
                        work.lineage_write(seq, &kind, &key, planned, mapper);
                        work.step.outbox.push(row);
                        report.writes += 1;
                    }
                }
                FromCanonicalOutcome::Skipped(reason) => {
                    debug!(store = %self.store_id, %target, %kind, %key, %reason, "mapper skipped a write");
                }
                FromCanonicalOutcome::Failed(err) => {
                    report.failed += 1;
                    work.count("map_failed");
                    warn!(store = %self.store_id, %target, %kind, %key, error = ?err, "mapper failed to build a write: set aside");
                    let reason = format!("{} failed: {err:?}", self.mapper_name());
                    work.set_aside_write(seq, &target, &kind, &key, reason);
                }
            }
        }
        work.count_by("writes_planned", report.writes as i64);
        Ok(())
    }

    /// Records what the merge decided for each field of `entry`'s system's copy of the record
    /// that changed (the record's lineage, see [`LineageRow`]): taken as a one-sided change,
    /// settled as a conflict, vetted, refused or reverted by a resolver (named with its rule
    /// and decision), an echo of the agreed value, or observed only (a storefront's stock
    /// under an owner).
    #[allow(clippy::too_many_arguments)]
    fn record_lineage(
        &self,
        work: &mut Work<'_>,
        entry: &JournalEntry,
        kind: &str,
        key: &str,
        (golden, previous, incoming): (&Fields, Option<&Fields>, &Fields),
        m: &crate::merge::Merge,
        refusals: &[(String, String)],
        deciders: &HashMap<String, Value>,
        overrides: &[(String, OnChange)],
    ) {
        let mut fields = serde_json::Map::new();
        for (field, value) in incoming {
            let before = previous.and_then(|p| p.get(field));
            if before == Some(value) {
                continue;
            }
            let settled = m.golden.get(field);
            let mut d = if let Some((_, action)) = overrides.iter().find(|(f, _)| f == field) {
                // A change by a system that does not own the field (`[policy] on_change`).
                let decision = match action {
                    OnChange::Propose => "proposed",
                    _ => "owner-reverted",
                };
                json!({"decision": decision, "value": golden.get(field), "incoming": value, "from": before, "owner": self.ownership.owner(kind, field)})
            } else if let Some((_, reason)) = refusals.iter().find(|(f, _)| f == field) {
                json!({"decision": "refused", "value": value, "reason": reason, "kept": golden.get(field), "from": before})
            } else if let Some(c) = m.conflicts.iter().find(|c| &c.field == field) {
                json!({"decision": "conflict", "value": settled, "incoming": value, "base": c.base, "other": c.other})
            } else if m.taken.contains(field) {
                let decision = if deciders.contains_key(field) {
                    "vetted"
                } else {
                    "changed"
                };
                json!({"decision": decision, "value": settled, "incoming": value, "from": before})
            } else if deciders.contains_key(field) {
                json!({"decision": "reverted", "value": settled, "incoming": value, "from": before})
            } else if golden.get(field) == Some(value) {
                json!({"decision": "echo", "value": value, "from": before})
            } else if kind == "inventory-level"
                && field == "quantity"
                && self
                    .stock_owner
                    .as_deref()
                    .is_some_and(|o| o != entry.system)
            {
                json!({"decision": "not-owner", "value": value, "from": before, "owner": self.stock_owner})
            } else {
                json!({"decision": "observed", "value": value, "from": before})
            };
            if let (Some(dec), Value::Object(o)) = (deciders.get(field), &mut d) {
                o.insert("resolver".into(), dec.clone());
            }
            fields.insert(field.clone(), d);
        }
        if fields.is_empty() {
            return;
        }
        let mapper = self.mapper_label();
        work.step.lineage.push(LineageRow {
            seq: entry.seq,
            kind: kind.to_owned(),
            key: key.to_owned(),
            system: entry.system.clone(),
            mode: work.mode_label().to_owned(),
            mapper,
            fields: Value::Object(fields),
            writes: json!([]),
        });
    }

    /// The mapper as lineage names it: `name version`.
    fn mapper_label(&self) -> String {
        let info = self.mapper.plugin().info();
        format!("{} {}", info.name, info.version)
    }

    fn mapper_name(&self) -> String {
        let info = self.mapper.plugin().info();
        format!("plugin {} {}", info.name, info.version)
    }

    /// Maps documents to canonical records, one result per document: a document whose output
    /// the runtime refuses fails alone. When the call fails as a whole on something a document
    /// can cause (a trap, a limit), the documents are mapped one at a time, so only the one
    /// that causes it fails.
    async fn docs_to_canonical(
        &self,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<Result<ToCanonicalOutcome, PluginError>>, EngineError> {
        let mapper = self.mapper.clone();
        let whole = docs.clone();
        let all = self
            .mapper_call(move || {
                mapper
                    .to_canonical_per_document(&whole)
                    .map(|(items, _)| items)
            })
            .await;
        self.one_at_a_time(all, docs, |mapper, doc| {
            mapper
                .to_canonical_per_document(std::slice::from_ref(&doc))
                .map(|(items, _)| items)
        })
        .await
    }

    /// Maps write requests to commands, one result per request: the runtime checks each
    /// request's commands against it (system, kind, record, count). A call that fails as a
    /// whole is retried one request at a time, as for documents.
    async fn canonical_to_writes(
        &self,
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<Result<FromCanonicalOutcome, PluginError>>, EngineError> {
        let mapper = self.mapper.clone();
        let whole = requests.clone();
        let all = self
            .mapper_call(move || {
                mapper
                    .from_canonical_per_request(&whole)
                    .map(|(items, _)| items)
            })
            .await;
        self.one_at_a_time(all, requests, |mapper, req| {
            mapper
                .from_canonical_per_request(std::slice::from_ref(&req))
                .map(|(items, _)| items)
        })
        .await
    }

    async fn mapper_call<T, F>(&self, call: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, PluginError> + Send + 'static,
    {
        let name = self.mapper.plugin().info().name.clone();
        timed_call(&self.observer, &self.store_id, &name, call).await
    }

    /// `all`, or, when the batch call failed as a whole on something one item can cause, each
    /// item's own result, mapped alone with `one`.
    async fn one_at_a_time<I, T, F>(
        &self,
        all: Result<Vec<Result<T, PluginError>>, EngineError>,
        items: Vec<I>,
        one: F,
    ) -> Result<Vec<Result<T, PluginError>>, EngineError>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(MapperInstance, I) -> Result<Vec<Result<T, PluginError>>, PluginError>
            + Clone
            + Send
            + 'static,
    {
        let e = match all {
            Err(EngineError::Plugin(e)) if caused_by_an_item(&e) => e,
            other => return other,
        };
        if items.len() == 1 {
            return Ok(vec![Err(e)]);
        }
        warn!(store = %self.store_id, items = items.len(), error = %e, "a mapper call failed as a whole: mapping its items one at a time");
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let (mapper, one) = (self.mapper.clone(), one.clone());
            match self.mapper_call(move || one(mapper, item)).await {
                Ok(mut v) if v.len() == 1 => out.push(v.remove(0)),
                Ok(_) => {
                    return Err(EngineError::PluginContract(
                        "mapper returned another number of outcomes than items".into(),
                    ));
                }
                Err(EngineError::Plugin(e)) if caused_by_an_item(&e) => out.push(Err(e)),
                Err(other) => return Err(other),
            }
        }
        Ok(out)
    }
}

/// Whether a plugin call's failure is one an item of its batch can cause (a trap, a limit, a
/// refused output), as opposed to the plugin or host being unusable (no such export, a
/// compile failure, the host itself): the former is retried item by item.
fn caused_by_an_item(e: &PluginError) -> bool {
    matches!(
        e.kind(),
        "timeout"
            | "out_of_fuel"
            | "memory_limit"
            | "stack_overflow"
            | "input_too_large"
            | "output_too_large"
            | "trap"
            | "guest"
            | "contract"
            | "invalid_output"
            | "command_rejected"
    )
}

/// Whether a replayed entry is a document that a later one superseded within the same second.
///
/// Versions are second-granular on every platform, so an entity can have several journaled
/// documents at one version (a merchant's edit and weft's own write a moment later; a poll's
/// read of the platform's state). Live processing holds the one it settled on: the last it
/// applied, where a later one of the same second with another body was settled by reading the
/// entity again (its read journaled at a later version) and not applied. A replay that
/// re-applied any other would roll that system back to it in the merge and forward again, and
/// the second step looks like a fresh change on that side: it would be taken and written to
/// the other system (a merchant's edit replayed before weft's damaged write-back of it would
/// push the damage into the ERP; a late delivery live processing left unapplied, replayed
/// after the held document, would push the state before the damage's repair). So at the
/// version weft holds, a replay applies only the entry weft holds (`held_seq`); older versions
/// are skipped as stale anyway, and entries after the cursor are left to live processing.
fn superseded(mode: Mode, freshness: Freshness, held_seq: Option<i64>, seq: i64) -> bool {
    mode == Mode::Replay && freshness == Freshness::Same && held_seq.is_some_and(|h| h != seq)
}

/// How many times a step is run when writes keep completing under it (each run re-reads what
/// it needs; a refused run applied nothing).
const STEP_ATTEMPTS: u32 = 8;

/// A step's entries in processing order ([`Processor::batch`]).
struct Batch {
    entries: Vec<JournalEntry>,
    /// How many of them are new (after the cursor).
    fresh: u64,
    /// Entries set aside earlier that come back in this batch.
    released: BTreeSet<i64>,
    /// Of those, entries an operator asked to process again (a plugin could not map them):
    /// processed even though weft holds the same document (it was recorded, not mapped).
    retried: BTreeSet<i64>,
    /// Of those, held deletions an operator released: applied past the mass-delete guard.
    release_deletes: BTreeSet<i64>,
    /// Levels whose set-aside readings still wait: new readings of them wait too.
    held: BTreeSet<Key3>,
    /// The last new entry (the cursor moves there).
    advance_to: Option<i64>,
    /// The last journal seq the step reads (write results after it are unknown to it).
    end: i64,
}

/// An entry that passed the stale guard: a platform document to map, a stock write result, or
/// a refused stock write's level to plan again.
enum Fresh {
    Doc(JournalEntry, PlatformDoc, Option<Seen>),
    Write(JournalEntry, StockWrite),
    Replan(JournalEntry, String),
    Decision(JournalEntry, ownership::Decision),
    /// A variant weft created in a target: its price and levels are planned again.
    Dependents(JournalEntry, String),
    /// A deletion, with the document weft last held for the entity (mapped to find the records
    /// it carried).
    Delete(JournalEntry, PlatformDoc),
    /// The document weft held for an entity that lists its children whole
    /// ([`weft_platform::Platform::lists_children`]), mapped beside the newer one just before it
    /// (a `Doc` of the same entry): the records it carried that the newer one does not were
    /// removed on that system.
    Dropped(JournalEntry, PlatformDoc),
}

/// The variant a dependents replan entry names (journaled when weft created a variant).
fn dependents_key(entry: &JournalEntry) -> Option<String> {
    let ours = entry.kind == "variant"
        && entry
            .delivery_id
            .as_deref()
            .is_some_and(|d| d.starts_with(REPLAN_PREFIX));
    let r = entry.body.get(REPLAN_FIELD).filter(|_| ours)?;
    r.get("dependents")?.as_bool()?.then_some(())?;
    Some(r.get("key")?.as_str()?.to_owned())
}

/// The level a replan entry (journaled when a stock write was refused as stale) names.
fn replan_key(entry: &JournalEntry) -> Option<String> {
    Some(
        stock_entry_by_weft(entry, REPLAN_PREFIX, REPLAN_FIELD)?
            .get("key")?
            .as_str()?
            .to_owned(),
    )
}

/// The body field `field` of a stock entry weft journaled itself under delivery id prefix
/// `prefix` (a write result, a replan); `None` for any other entry. Its kind is the journal
/// kind of the document carrying the level (a sheet's row for a sheet), so only the delivery
/// id, which no platform's document carries, tells it apart.
fn stock_entry_by_weft<'e>(
    entry: &'e JournalEntry,
    prefix: &str,
    field: &str,
) -> Option<&'e Value> {
    let ours = entry
        .delivery_id
        .as_deref()
        .is_some_and(|d| d.starts_with(prefix));
    if ours { entry.body.get(field) } else { None }
}

/// The journaled result of one of weft's stock writes (written by the dispatcher when the
/// platform answered; see `dispatch::stock_write_result`).
///
/// Stock readings carry the platform's version to the second only, and a reading taken while
/// weft's write was in flight can show the write's effect or not. So weft places readings
/// against its writes by the journal instead of by the host's clock: the result is journaled
/// with the level's version after the write (Shopify's adjustment group `createdAt`,
/// NetSuite's `lastModifiedDate`); readings journaled after the write was queued wait until
/// the result has been applied ([`Work::must_park`]); then older readings are stale by version
/// and newer ones are changes from what the write set. The guard quantity (`before`) is merged
/// like a reading first: the platform's compare-and-set proved the level held it, so a change
/// weft had not read yet is counted exactly once, whatever order its readings arrive in.
#[derive(Debug, Clone)]
struct StockWrite {
    /// Canonical key of the level.
    key: String,
    /// The compare-and-set guard the platform matched (`None`: unguarded).
    before: Option<i64>,
    /// The canonical fields the write set.
    after: Fields,
    /// When the write was queued.
    queued_at: DateTime<Utc>,
}

impl StockWrite {
    fn from_entry(entry: &JournalEntry) -> Option<StockWrite> {
        let w = stock_entry_by_weft(entry, WRITE_RESULT_PREFIX, WRITE_RESULT_FIELD)?;
        Some(StockWrite {
            key: w.get("key")?.as_str()?.to_owned(),
            before: w.get("before").and_then(Value::as_i64),
            after: w.get("after")?.as_object()?.clone(),
            queued_at: DateTime::parse_from_rfc3339(w.get("queued_at")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
        })
    }

    /// The level's document after the write: what weft held for it with the quantity and the
    /// version the write left (the platform's own reading of that state dedupes against it).
    fn level_doc(
        &self,
        entry: &JournalEntry,
        known: Option<&Seen>,
        platform: &dyn Platform,
    ) -> Value {
        let fields = platform.stock_fields();
        let (quantity_field, version_field) = (fields.quantity, fields.version);
        let mut body = known
            .map(|k| k.body.clone())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let (Some(o), Some(q)) = (
            body.as_object_mut(),
            self.after.get("quantity").and_then(Value::as_i64),
        ) {
            // A platform that reads quantities as decimals keeps the number's form.
            let value = match o.get(quantity_field) {
                Some(Value::Number(n)) if n.is_f64() => json!(q as f64),
                _ => json!(q),
            };
            o.insert(quantity_field.to_owned(), value);
            o.insert(version_field.to_owned(), json!(entry.version));
        }
        body
    }
}

/// The quantity a stock level document of `platform` shows.
fn level_quantity(platform: &dyn Platform, body: &Value) -> Option<i64> {
    let q = body.get(platform.stock_fields().quantity)?;
    q.as_i64().or_else(|| q.as_f64().map(|f| f.round() as i64))
}

/// The platform interface's kind for a canonical kind name (`product` for an unknown one).
fn platform_kind(kind: &str) -> weft_platform::EntityKind {
    weft_platform::EntityKind::parse(kind).unwrap_or(weft_platform::EntityKind::Product)
}

/// Plans a diff of `kind`/`key` against every system of the store, as of journal entry `seq`.
fn plan_everywhere(
    plans: &mut BTreeMap<(String, String, String), Plan>,
    systems: &Systems,
    canonical_kind: EntityKind,
    kind: &str,
    key: &str,
    entry: &JournalEntry,
) {
    let live = entry.source != Source::Backfill;
    for target in systems.names() {
        plans
            .entry((target.to_owned(), kind.to_owned(), key.to_owned()))
            .and_modify(|p| {
                p.seq = entry.seq;
                p.live |= live;
            })
            .or_insert(Plan {
                kind: canonical_kind,
                seq: entry.seq,
                live,
            });
    }
}

/// A pending decision to diff one canonical record against one target.
struct Plan {
    kind: EntityKind,
    /// The last journal entry that asked for it.
    seq: i64,
    /// Whether a live entry (anything but a backfill) asked for it: a write only backfill
    /// entries asked for queues after live writes ([`BACKFILL_PRIORITY`]).
    live: bool,
}

/// The outbox row for one write command: the command as the target's platform prepares it
/// ([`Platform::prepare_write`]), plus what the host adds (idempotency key, compare-and-set
/// guard, the desired canonical fields for the completion).
#[allow(clippy::too_many_arguments)]
fn outbox_row(
    store_id: &str,
    platform: &dyn Platform,
    seq: i64,
    kind: &str,
    key: &str,
    cmd: WriteCommand,
    golden: &Fields,
    known: Option<&Fields>,
) -> Result<NewOutboxRow, EngineError> {
    let body: Value = serde_json::from_str(&cmd.body).map_err(|e| {
        EngineError::PluginContract(format!("write command body is not JSON ({e})"))
    })?;
    let command = weft_platform::WriteCommand {
        system: cmd.system.clone(),
        kind: platform_kind(kind_str(cmd.kind)),
        op: match cmd.op {
            WriteOp::Upsert => weft_platform::WriteOp::Upsert,
            WriteOp::SetQuantity => weft_platform::WriteOp::SetQuantity,
            WriteOp::AdjustQuantity => weft_platform::WriteOp::AdjustQuantity,
            WriteOp::Delete => weft_platform::WriteOp::Delete,
        },
        target_id: cmd.target_id.clone(),
        external_id: cmd.external_id.clone(),
        body,
        idempotency_key: String::new(),
        expected_quantity: None,
    };
    // A deletion brings the target to holding nothing.
    let nothing = Fields::new();
    let golden = if cmd.op == WriteOp::Delete {
        &nothing
    } else {
        golden
    };
    let prepared = platform.prepare_write(command, golden);
    let mut command = prepared.command;
    let op = command.op;
    if op == weft_platform::WriteOp::SetQuantity {
        command.expected_quantity = known
            .and_then(|k| k.get("quantity"))
            .and_then(Value::as_i64);
    }
    let payload = serde_json::to_value(PlannedWrite {
        command,
        desired: golden.clone(),
    })
    .map_err(|e| EngineError::PluginContract(format!("write command cannot be kept ({e})")))?;
    let op_name = op.as_str();
    let mut h = Sha256::new();
    for part in [
        store_id,
        &seq.to_string(),
        &cmd.system,
        kind,
        key,
        op_name,
        &payload.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let idempotency_key = format!(
        "weft-{}",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(NewOutboxRow {
        system: cmd.system.clone(),
        kind: kind.to_owned(),
        key: key.to_owned(),
        op: op_name.to_owned(),
        idempotency_key,
        priority: priority(kind),
        coalesce: op != weft_platform::WriteOp::AdjustQuantity,
        resend_may_apply: prepared.idempotency == Idempotency::SentMayHaveApplied,
        body: with_replaced(payload, golden, known),
    })
}

/// `payload` with `replaces`: the target's last-known values of the fields the write changes,
/// which a reading taken before the write landed still shows (see `Processor::merge_record`).
/// Kept beside the command, outside its idempotency key.
fn with_replaced(mut payload: Value, desired: &Fields, known: Option<&Fields>) -> Value {
    let replaces: Fields = known
        .into_iter()
        .flatten()
        .filter(|(field, was)| desired.get(*field).is_some_and(|v| v != *was))
        .map(|(field, was)| (field.clone(), was.clone()))
        .collect();
    if !replaces.is_empty()
        && let Some(body) = payload.as_object_mut()
    {
        body.insert("replaces".into(), Value::Object(replaces));
    }
    payload
}

/// Added to the [`priority`] of a write only backfill entries asked for (a first sync's or a
/// full resync's catalog): every live write of any kind goes before it, so a live edit made
/// while a catalog-scale first sync's writes queue is not sent after them.
pub const BACKFILL_PRIORITY: i64 = 100;

/// Dispatch priority: orders before inventory before prices before catalog (lower first).
pub fn priority(kind: &str) -> i64 {
    match kind {
        "order" => 0,
        "fulfillment" => 5,
        "refund" => 6,
        "inventory-level" => 10,
        "price" => 20,
        "customer" => 25,
        _ => 30,
    }
}

/// The WIT name of an entity kind.
pub fn kind_str(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Product => "product",
        EntityKind::Variant => "variant",
        EntityKind::InventoryLevel => "inventory-level",
        EntityKind::Price => "price",
        EntityKind::Customer => "customer",
        EntityKind::Order => "order",
        EntityKind::Fulfillment => "fulfillment",
        EntityKind::Refund => "refund",
    }
}

/// Parses a WIT entity-kind name.
pub fn parse_kind(s: &str) -> Option<EntityKind> {
    Some(match s {
        "product" => EntityKind::Product,
        "variant" => EntityKind::Variant,
        "inventory-level" => EntityKind::InventoryLevel,
        "price" => EntityKind::Price,
        "customer" => EntityKind::Customer,
        "order" => EntityKind::Order,
        "fulfillment" => EntityKind::Fulfillment,
        "refund" => EntityKind::Refund,
        _ => return None,
    })
}

/// How long a step waits for a tie's entity to be read again ([`Processor::settle_tie`])
/// before applying the observation in journal order.
pub(crate) const REREAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How many times a tie's entity is read again when each read is overtaken by an entry of the
/// entity journaled while it ran ([`Processor::settle_tie`]).
const TIE_READS: u32 = 3;

/// The version to journal a read of an entity under, given the version weft holds: its own
/// when later, just after the known one when in the same second (the read is the platform's
/// state now, so it is the later observation), `None` when older (a clock gone back).
pub(crate) fn version_after(read: &str, known: &str) -> Option<String> {
    match (Version::parse(read), Version::parse(known)) {
        (Version::At(r), Version::At(k)) if r <= k && r.timestamp() == k.timestamp() => Some(
            (k + chrono::Duration::microseconds(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
        _ if freshness(Some(known), read) == Freshness::Newer => Some(read.to_owned()),
        _ => None,
    }
}

/// Journals what a read of one entity again showed ([`Connection::reread`]), as a read, under
/// `version` (see [`version_after`]).
///
/// [`Connection::reread`]: weft_platform::Connection::reread
pub(crate) async fn journal_read(
    db: &Store,
    store_id: &str,
    system: &str,
    kind: &str,
    id: &str,
    version: String,
    body: Value,
) -> Result<AppendOutcome, StoreError> {
    let outcome = db
        .append_batch(vec![NewJournalEntry {
            store_id: store_id.to_owned(),
            system: system.to_owned(),
            kind: kind.to_owned(),
            entity_id: id.to_owned(),
            version,
            source: Source::Poll,
            delivery_id: None,
            body,
            received_at: Utc::now(),
        }])
        .await?;
    Ok(outcome
        .into_iter()
        .next()
        .unwrap_or(AppendOutcome::Inserted(i64::MAX)))
}

/// When a read of a platform begins, to the millisecond (as the journal keeps when entries
/// were received), for [`journaled_since`].
pub(crate) fn read_began() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now)
}

/// Whether anything of an entity was journaled since `began` (a read's start, see
/// [`read_began`]): such an entry may be newer than the read within their second, so the read
/// must not be journaled as the later observation.
pub(crate) async fn journaled_since(
    db: &Store,
    store_id: &str,
    system: &str,
    kind: &str,
    id: &str,
    began: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(db
        .last_received(store_id, system, kind, id)
        .await?
        .is_some_and(|t| t >= began))
}

/// Whether `entry` is an observation of a platform (a webhook body, which may arrive after later
/// reads, or a read, which may have begun before an entry journaled ahead of it), not one of
/// weft's own records (a write's result, a replan, a decision).
fn is_observation(entry: &JournalEntry) -> bool {
    !entry
        .delivery_id
        .as_deref()
        .is_some_and(|d| d.starts_with("weft-"))
}

/// A system's last-seen document of an entity.
#[derive(Debug, Clone)]
struct Seen {
    version: String,
    body: Value,
    /// The journal entry this document came from.
    seq: i64,
}

type Key3 = (String, String, String);

/// The step's working set: projections read from the database on first use, updated in memory
/// as entries are processed (so a later entry in the batch sees an earlier one's effect), and
/// written out as one [`StepCommit`].
struct Work<'a> {
    db: &'a Store,
    store_id: &'a str,
    systems: &'a Systems,
    step: StepCommit,
    entities: HashMap<Key3, Option<Seen>>,
    golden: HashMap<(String, String), (Fields, Value)>,
    golden_dirty: Vec<(String, String)>,
    targets: HashMap<Key3, Option<Fields>>,
    /// What the store held for each target when the step first read it: its fields (the step
    /// records a target only over these) and when they were recorded.
    targets_read: HashMap<Key3, (Option<Value>, Option<DateTime<Utc>>)>,
    targets_dirty: Vec<Key3>,
    xrefs: HashMap<Key3, Option<String>>,
    counters: BTreeMap<String, i64>,
    mode: Mode,
    /// The last journal seq the step reads: write results after it are unknown to it.
    end: i64,
    /// Stock levels (system, kind, key) whose readings wait for weft's write to settle.
    held: BTreeSet<Key3>,
    /// Entries set aside earlier that this step processes.
    released: BTreeSet<i64>,
    /// Entries this step set aside (again).
    reparked: BTreeSet<i64>,
    /// Per entity with readings set aside in this step, the document weft held before them.
    parked_prior: HashMap<Key3, Option<Seen>>,
    /// Storefront stock levels whose quantity a reading of this step changed (with an owner).
    stock_changed: BTreeSet<Key3>,
    /// Per stock level entity, the version and guard quantity of the last write result this
    /// step applied.
    stock_writes: HashMap<Key3, (String, Option<i64>)>,
    /// Records deleted by this step, per canonical kind (the guard's window, once committed).
    deleted: BTreeMap<String, u64>,
}

impl<'a> Work<'a> {
    fn new(db: &'a Store, store_id: &'a str, systems: &'a Systems, now: DateTime<Utc>) -> Self {
        Work {
            db,
            store_id,
            systems,
            step: StepCommit::new(store_id, now),
            entities: HashMap::new(),
            golden: HashMap::new(),
            golden_dirty: Vec::new(),
            targets: HashMap::new(),
            targets_read: HashMap::new(),
            targets_dirty: Vec::new(),
            xrefs: HashMap::new(),
            counters: BTreeMap::new(),
            mode: Mode::Live,
            end: i64::MAX,
            held: BTreeSet::new(),
            released: BTreeSet::new(),
            reparked: BTreeSet::new(),
            parked_prior: HashMap::new(),
            stock_writes: HashMap::new(),
            stock_changed: BTreeSet::new(),
            deleted: BTreeMap::new(),
        }
    }

    /// The platform of the store's system `system`.
    fn platform(&self, system: &str) -> Result<&'a dyn Platform, EngineError> {
        self.systems
            .platform(system)
            .map(|p| p.as_ref())
            .ok_or_else(|| EngineError::System {
                store: self.store_id.to_owned(),
                message: format!(
                    "the journal names system `{system}`, which the store does not sync"
                ),
            })
    }

    /// Sets `entry` aside for an operator: a plugin could not map it (`stage`), for `target`
    /// (a write's) or none. Live processing only: a replay reports, it does not queue.
    fn set_aside(&mut self, entry: &JournalEntry, stage: &str, target: &str, reason: String) {
        if self.mode != Mode::Live {
            return;
        }
        self.step.set_aside.push(SetAside {
            seq: entry.seq,
            stage: stage.to_owned(),
            target: target.to_owned(),
            system: entry.system.clone(),
            kind: entry.kind.clone(),
            entity_id: entry.entity_id.clone(),
            reason,
            at: self.step.at,
        });
    }

    /// Sets aside the write for `target` of canonical `kind`/`key` planned from journal entry
    /// `seq`: processing that entry again plans the write again.
    fn set_aside_write(&mut self, seq: i64, target: &str, kind: &str, key: &str, reason: String) {
        if self.mode != Mode::Live {
            return;
        }
        self.step.set_aside.push(SetAside {
            seq,
            stage: FROM_CANONICAL.to_owned(),
            target: target.to_owned(),
            system: target.to_owned(),
            kind: kind.to_owned(),
            entity_id: key.to_owned(),
            reason,
            at: self.step.at,
        });
    }

    /// A record mapped or written since: its set-aside entries are done.
    fn clear_set_aside(&mut self, system: &str, kind: &str, id: &str) {
        if self.mode == Mode::Live {
            self.step
                .clear_set_aside
                .push((system.to_owned(), kind.to_owned(), id.to_owned()));
        }
    }

    fn count(&mut self, name: &str) {
        self.count_by(name, 1);
    }

    fn mode_label(&self) -> &'static str {
        match self.mode {
            Mode::Live => "live",
            Mode::Replay => "replay",
        }
    }

    /// Adds a write planned from journal entry `seq` for record (`kind`, `key`) to that
    /// entry's lineage row for the record (a row of its own when the entry changed none of
    /// the record's fields: a write planned for another system's sake).
    fn lineage_write(&mut self, seq: i64, kind: &str, key: &str, planned: Value, mapper: String) {
        let mode = self.mode_label();
        let row = match self
            .step
            .lineage
            .iter()
            .rposition(|r| r.seq == seq && r.kind == kind && r.key == key)
        {
            Some(i) => &mut self.step.lineage[i],
            None => {
                self.step.lineage.push(LineageRow {
                    seq,
                    kind: kind.to_owned(),
                    key: key.to_owned(),
                    system: String::new(),
                    mode: mode.to_owned(),
                    mapper,
                    fields: json!({}),
                    writes: json!([]),
                });
                self.step.lineage.last_mut().expect("just pushed")
            }
        };
        if let Value::Array(w) = &mut row.writes {
            w.push(planned);
        }
    }

    fn count_by(&mut self, name: &str, n: i64) {
        if n != 0 {
            *self.counters.entry(name.to_owned()).or_default() += n;
        }
    }

    async fn entity(
        &mut self,
        system: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<Seen>, EngineError> {
        let k = (system.to_owned(), kind.to_owned(), id.to_owned());
        if let Some(v) = self.entities.get(&k) {
            return Ok(v.clone());
        }
        let v = self
            .db
            .entity_state(self.store_id, system, kind, id)
            .await?
            .map(|e| Seen {
                version: e.version,
                body: e.body,
                seq: e.journal_seq,
            });
        self.entities.insert(k, v.clone());
        Ok(v)
    }

    fn remember_entity(&mut self, entry: &JournalEntry, body: &Value) {
        self.entities.insert(
            (
                entry.system.clone(),
                entry.kind.clone(),
                entry.entity_id.clone(),
            ),
            Some(Seen {
                version: entry.version.clone(),
                body: body.clone(),
                seq: entry.seq,
            }),
        );
        self.step.entity_states.push(EntityStateUpsert {
            system: entry.system.clone(),
            kind: entry.kind.clone(),
            entity_id: entry.entity_id.clone(),
            version: entry.version.clone(),
            body: body.clone(),
            canonical_key: None,
            journal_seq: entry.seq,
        });
    }

    /// Adds what the host knows and the platform's document lacks. Returns false when the
    /// document cannot be mapped yet.
    async fn enrich(
        &mut self,
        entry: &JournalEntry,
        body: &mut Value,
    ) -> Result<bool, EngineError> {
        if entry.kind != "inventory-level" {
            return Ok(true);
        }
        // A level that names its SKU, or a malformed one the mapper reports.
        let Some(item) = self.platform(&entry.system)?.item_without_sku(body) else {
            return Ok(true);
        };
        match self
            .xref(INVENTORY_ITEM_XREF, &item, &sku_xref_system(&entry.system))
            .await?
        {
            Some(sku) => {
                if let Some(o) = body.as_object_mut() {
                    o.insert("sku".into(), Value::String(sku));
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Records which entity id a canonical key has in the observed system, and the SKU of
    /// each inventory item the document shows ([`Platform::item_skus`]).
    fn learn_xrefs(&mut self, entry: &JournalEntry, records: &[CanonicalRecord]) {
        for r in records {
            let k = (
                kind_str(r.kind).to_owned(),
                r.key.clone(),
                entry.system.clone(),
            );
            if self.xrefs.get(&k) != Some(&Some(entry.entity_id.clone())) {
                self.xrefs.insert(k.clone(), Some(entry.entity_id.clone()));
                // A document carrying one key of this kind moves the entity off any other (a
                // SKU renamed); one carrying several (a product's variants) keeps them all.
                let one_per_entity = records.iter().filter(|o| o.kind == r.kind).count() == 1;
                self.step.xrefs.push(Xref {
                    kind: k.0,
                    key: k.1,
                    system: k.2,
                    entity_id: entry.entity_id.clone(),
                    one_per_entity,
                });
            }
        }
        if let Some(first) = records.first()
            && let Some(es) = self
                .step
                .entity_states
                .iter_mut()
                .rev()
                .find(|e| e.journal_seq == entry.seq)
        {
            es.canonical_key = Some(first.key.clone());
        }
        let skus = self
            .systems
            .platform(&entry.system)
            .map(|p| p.item_skus(&entry.kind, &entry.body))
            .unwrap_or_default();
        let sku_system = sku_xref_system(&entry.system);
        for (item, sku) in skus {
            let k = (INVENTORY_ITEM_XREF.to_owned(), item, sku_system.clone());
            self.xrefs.insert(k.clone(), Some(sku.clone()));
            self.step.xrefs.push(Xref {
                kind: k.0,
                key: k.1,
                system: k.2,
                entity_id: sku,
                one_per_entity: true,
            });
        }
    }

    async fn xref(
        &mut self,
        kind: &str,
        key: &str,
        system: &str,
    ) -> Result<Option<String>, EngineError> {
        let k = (kind.to_owned(), key.to_owned(), system.to_owned());
        if let Some(v) = self.xrefs.get(&k) {
            return Ok(v.clone());
        }
        let v = self
            .db
            .xref_entity(self.store_id, kind, key, system)
            .await?;
        self.xrefs.insert(k, v.clone());
        Ok(v)
    }

    async fn golden(&mut self, kind: &str, key: &str) -> Result<(Fields, Value), EngineError> {
        let k = (kind.to_owned(), key.to_owned());
        if let Some(v) = self.golden.get(&k) {
            return Ok(v.clone());
        }
        let v = match self.db.golden(self.store_id, kind, key).await? {
            Some(g) => (
                g.fields.as_object().cloned().unwrap_or_default(),
                if g.field_meta.is_object() {
                    g.field_meta
                } else {
                    json!({})
                },
            ),
            None => (Fields::new(), json!({})),
        };
        self.golden.insert(k, v.clone());
        Ok(v)
    }

    /// Whether a golden record of (`kind`, `key`) with fields exists (in this step or stored).
    async fn golden_exists(&mut self, kind: &str, key: &str) -> Result<bool, EngineError> {
        Ok(!self.golden(kind, key).await?.0.is_empty())
    }

    fn set_golden(&mut self, kind: &str, key: &str, fields: Fields, meta: Value, changed: bool) {
        let k = (kind.to_owned(), key.to_owned());
        if changed && !self.golden_dirty.contains(&k) {
            self.golden_dirty.push(k.clone());
        }
        self.golden.insert(k, (fields, meta));
    }

    async fn target(
        &mut self,
        system: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<Fields>, EngineError> {
        let k = (system.to_owned(), kind.to_owned(), key.to_owned());
        if let Some(v) = self.targets.get(&k) {
            return Ok(v.clone());
        }
        let read = self
            .db
            .target_state(self.store_id, system, kind, key)
            .await?;
        let v = read.as_ref().and_then(|t| t.fields.as_object().cloned());
        self.targets_read.insert(
            k.clone(),
            match read {
                Some(t) => (Some(t.fields), Some(t.updated_at)),
                None => (None, None),
            },
        );
        self.targets.insert(k, v.clone());
        Ok(v)
    }

    /// The fields the latest write to `system` for `kind`/`key` that is in flight, or applied
    /// since the target was recorded (its result not processed yet), makes it hold, and when
    /// it was queued.
    async fn in_flight(
        &mut self,
        system: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<(Fields, DateTime<Utc>)>, EngineError> {
        self.target(system, kind, key).await?;
        let recorded = self
            .target_recorded_at(system, kind, key)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let writes = self
            .db
            .settling_writes(self.store_id, system, kind, key, Some(recorded))
            .await?;
        // Its queueing time, not its claim time: a row claimed again after a restart was sent
        // before that too.
        Ok(writes
            .into_iter()
            .rev()
            .find(|w| matches!(w.status, OutboxStatus::Inflight | OutboxStatus::Done))
            .and_then(|w| Some((w.desired.as_object().cloned()?, w.created_at))))
    }

    /// Whether a stock reading of `system` for `kind`/`key` must wait: weft's write to that
    /// level was queued before the reading was journaled and is not settled yet (in flight, or
    /// applied, its result journaled after the step's entries), or earlier
    /// readings of the level already wait.
    async fn must_park(
        &mut self,
        system: &str,
        kind: &str,
        key: &str,
        entry: &JournalEntry,
    ) -> Result<bool, EngineError> {
        let group = (system.to_owned(), kind.to_owned(), key.to_owned());
        if self.held.contains(&group) {
            return Ok(true);
        }
        let writes = self
            .db
            .unsettled_writes(self.store_id, system, kind, key, self.end)
            .await?;
        Ok(writes.iter().any(|w| w.created_at <= entry.received_at))
    }

    /// The variant key a live reading waits for, if it does: one of its records of a kind
    /// written after its variant ([`WRITTEN_AFTER_VARIANT`]) the system never showed, while a
    /// write of that variant there queued before the reading is unsettled; or an earlier
    /// reading of the step waits for that variant already.
    async fn waits_for_variant(
        &mut self,
        entry: &JournalEntry,
        records: &[CanonicalRecord],
    ) -> Result<Option<String>, EngineError> {
        if self.mode != Mode::Live || !is_observation(entry) {
            return Ok(None);
        }
        let system = entry.system.as_str();
        for r in records {
            let kind = kind_str(r.kind);
            if !WRITTEN_AFTER_VARIANT.contains(&kind) {
                continue;
            }
            let group = (system.to_owned(), "variant".to_owned(), r.key.clone());
            // A record the system showed before is no creation's initial value.
            if !self.held.contains(&group) && self.target(system, kind, &r.key).await?.is_some() {
                continue;
            }
            if self.must_park(system, "variant", &r.key, entry).await? {
                return Ok(Some(r.key.clone()));
            }
        }
        Ok(None)
    }

    /// Sets `entry` aside (see [`Work::must_park`]): nothing of it is applied, the entity keeps
    /// the document it had before the first reading set aside, and later readings of the level
    /// wait behind it. Returns whether it was newly set aside (not one that came back and waits
    /// again).
    fn park(
        &mut self,
        entry: &JournalEntry,
        prior: Option<&Seen>,
        system: &str,
        kind: &str,
        key: &str,
    ) -> bool {
        let entity = (
            entry.system.clone(),
            entry.kind.clone(),
            entry.entity_id.clone(),
        );
        let before = self
            .parked_prior
            .entry(entity.clone())
            .or_insert_with(|| prior.cloned())
            .clone();
        self.step
            .entity_states
            .retain(|e| e.journal_seq != entry.seq);
        self.entities.insert(entity, before);
        self.held
            .insert((system.to_owned(), kind.to_owned(), key.to_owned()));
        self.reparked.insert(entry.seq);
        self.step.park.push(Parked {
            seq: entry.seq,
            system: system.to_owned(),
            kind: kind.to_owned(),
            key: key.to_owned(),
        });
        !self.released.contains(&entry.seq)
    }

    /// When what the step holds for a target was recorded: now if this step recorded it, else
    /// when the store did (`None`: never, or not read).
    fn target_recorded_at(&self, system: &str, kind: &str, key: &str) -> Option<DateTime<Utc>> {
        let k = (system.to_owned(), kind.to_owned(), key.to_owned());
        if self.targets_dirty.contains(&k) {
            return Some(self.step.at);
        }
        self.targets_read.get(&k).and_then(|(_, at)| *at)
    }

    /// Whether `entry` reads a stock level at the version of a write result weft applied,
    /// showing the quantity that write replaced: a reading taken just before the write, in the
    /// same second (versions are second-granular), arriving after its result. The write is
    /// this step's, or the one whose result is the document weft holds (`known`), recorded by
    /// an earlier step: a reading set aside until its write settled is released in a later
    /// step, and applied as the newer document it would make weft believe the level holds
    /// the replaced quantity, plan a write against it that the platform refuses, and plan it
    /// again, without end.
    async fn shows_replaced_quantity(
        &self,
        entry: &JournalEntry,
        known: Option<&Seen>,
    ) -> Result<bool, EngineError> {
        let Some(platform) = self.systems.platform(&entry.system) else {
            return Ok(false);
        };
        let Some(quantity) = level_quantity(platform.as_ref(), &entry.body) else {
            return Ok(false);
        };
        let k = (
            entry.system.clone(),
            entry.kind.clone(),
            entry.entity_id.clone(),
        );
        if let Some((version, before)) = self.stock_writes.get(&k) {
            return Ok(freshness(Some(version), &entry.version) == Freshness::Same
                && *before == Some(quantity));
        }
        let Some(known) = known else {
            return Ok(false);
        };
        if freshness(Some(&known.version), &entry.version) != Freshness::Same {
            return Ok(false);
        }
        let Some(held) = self.db.journal_entry(known.seq).await? else {
            return Ok(false);
        };
        Ok(StockWrite::from_entry(&held).is_some_and(|w| w.before == Some(quantity)))
    }

    fn set_target(&mut self, system: &str, kind: &str, key: &str, fields: Fields) {
        let k = (system.to_owned(), kind.to_owned(), key.to_owned());
        if !self.targets_dirty.contains(&k) {
            self.targets_dirty.push(k.clone());
        }
        self.targets.insert(k, Some(fields));
    }

    fn into_step(mut self) -> StepCommit {
        for k in std::mem::take(&mut self.golden_dirty) {
            if let Some((fields, meta)) = self.golden.get(&k) {
                self.step.golden.push(GoldenUpsert {
                    kind: k.0.clone(),
                    key: k.1.clone(),
                    fields: Value::Object(fields.clone()),
                    field_meta: meta.clone(),
                });
            }
        }
        for k in std::mem::take(&mut self.targets_dirty) {
            if let Some(Some(fields)) = self.targets.get(&k) {
                let read = self.targets_read.get(&k).and_then(|(f, _)| f.clone());
                self.step.observed_targets.push(ObservedTarget {
                    upsert: TargetStateUpsert {
                        system: k.0.clone(),
                        kind: k.1.clone(),
                        key: k.2.clone(),
                        fields: Value::Object(fields.clone()),
                    },
                    read,
                });
            }
        }
        self.step.counters.extend(self.counters);
        self.step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_applies_only_the_document_weft_holds_at_its_version() {
        // Weft holds the document of entry 12; entry 10 (same second) was superseded by it.
        assert!(superseded(Mode::Replay, Freshness::Same, Some(12), 10));
        // The held entry itself is applied; a later one of the same second was left unapplied
        // by live processing (a tie it settled by reading again), or is after the cursor and
        // left to it.
        assert!(!superseded(Mode::Replay, Freshness::Same, Some(12), 12));
        assert!(superseded(Mode::Replay, Freshness::Same, Some(12), 14));
        // Newer versions, first sights and live processing are never "superseded".
        assert!(!superseded(Mode::Replay, Freshness::Newer, Some(12), 10));
        assert!(!superseded(Mode::Replay, Freshness::Same, None, 10));
        assert!(!superseded(Mode::Live, Freshness::Same, Some(12), 10));
    }
}
