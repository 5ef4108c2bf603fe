//! Plain data types of the store's API: journal entries, projection rows, outbox rows, step
//! commits, leases and status figures.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Result, StoreError};

/// Where an observed change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A platform webhook delivery.
    Webhook,
    /// A reconciliation poll (Shopify `updated_at` watermark).
    Poll,
    /// ERP change capture (NetSuite SuiteQL on `lastModifiedDate`).
    Cdc,
    /// Re-journaled by an operator's replay.
    Replay,
    /// Entered by hand (CLI, tests).
    Manual,
    /// A backfill: a read of a stream whole, at a first sync or a full resync (a platform's
    /// bulk export, or its pages read from no watermark). Writes planned from it alone queue
    /// after live ones.
    Backfill,
}

impl Source {
    /// The text stored in the `source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Poll => "poll",
            Source::Cdc => "cdc",
            Source::Replay => "replay",
            Source::Manual => "manual",
            Source::Backfill => "backfill",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "webhook" => Source::Webhook,
            "poll" => Source::Poll,
            "cdc" => Source::Cdc,
            "replay" => Source::Replay,
            "manual" => Source::Manual,
            "backfill" => Source::Backfill,
            other => {
                return Err(StoreError::UnknownValue {
                    what: "journal source",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// The sortable form of a source version: the RFC 3339 timestamp converted to UTC and written
/// with nine fractional digits (`2024-05-01T12:00:00.000000000Z`), so that text order is time
/// order and `...+02:00` and `...Z` spellings of one instant are equal.
pub fn version_key(version: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(version.trim()).ok()?;
    Some(
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Nanos, true),
    )
}

/// An observed change to append to the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJournalEntry {
    /// The store (tenant) it belongs to.
    pub store_id: String,
    /// Platform, e.g. `shopify`, `netsuite`.
    pub system: String,
    /// Entity kind, e.g. `product`, `variant`, `inventory-level`, `customer`, `order`.
    pub kind: String,
    /// The entity's id in that system (always text).
    pub entity_id: String,
    /// The source version (`updated_at`, `lastModifiedDate`), RFC 3339.
    pub version: String,
    /// How it was observed.
    pub source: Source,
    /// The platform's delivery id (`X-Shopify-Webhook-Id`), when there is one: a second
    /// append with the same delivery id for the same store is a duplicate.
    pub delivery_id: Option<String>,
    /// The document in the one shape per entity the mapping plugin receives.
    pub body: Value,
    /// When the host received it.
    pub received_at: DateTime<Utc>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AppendOutcome {
    /// Newly journaled at this sequence number.
    Inserted(i64),
    /// Already journaled (same observation key or same delivery id) at this sequence number;
    /// nothing was written except the store's `journal_duplicate_<source>` counter.
    Duplicate(i64),
}

impl AppendOutcome {
    /// The journal sequence number, new or existing.
    pub fn seq(self) -> i64 {
        match self {
            AppendOutcome::Inserted(s) | AppendOutcome::Duplicate(s) => s,
        }
    }
    /// Whether this append created a new journal entry.
    pub fn is_inserted(self) -> bool {
        matches!(self, AppendOutcome::Inserted(_))
    }
}

/// A journaled change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// Sequence number: unique in the database, increasing in commit order.
    pub seq: i64,
    /// Store id.
    pub store_id: String,
    /// Platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Entity id in that system.
    pub entity_id: String,
    /// The source version as received.
    pub version: String,
    /// Its sortable form (see [`version_key`]).
    pub version_key: String,
    /// How it was observed.
    pub source: Source,
    /// Delivery id, if any.
    pub delivery_id: Option<String>,
    /// The document.
    pub body: Value,
    /// SHA-256 (hex) of the body's canonical JSON (object keys sorted).
    pub body_hash: String,
    /// When the host received it.
    pub received_at: DateTime<Utc>,
}

/// A raw request intake refused, kept for inspection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntakeReject {
    /// Row id (0 when not yet stored).
    pub id: i64,
    /// Store id the request was addressed to.
    pub store_id: String,
    /// Why it was refused.
    pub reason: String,
    /// The request headers as a JSON object (secrets must be removed by the caller).
    pub headers: Value,
    /// The raw body bytes.
    pub body: Vec<u8>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// Upsert of one system's last-seen state of an entity.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityStateUpsert {
    /// Platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Entity id in that system.
    pub entity_id: String,
    /// Source version, RFC 3339. The row is only replaced when this is not older than the
    /// stored version (principle 3: order by version, not by arrival).
    pub version: String,
    /// The document.
    pub body: Value,
    /// The canonical key the mapper derived, if any.
    pub canonical_key: Option<String>,
    /// The journal entry this state came from.
    pub journal_seq: i64,
}

/// A system's last-seen state of an entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityState {
    /// Platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Entity id.
    pub entity_id: String,
    /// Source version.
    pub version: String,
    /// Sortable form of the version.
    pub version_key: String,
    /// The document.
    pub body: Value,
    /// Canonical key, if known.
    pub canonical_key: Option<String>,
    /// Journal entry it came from.
    pub journal_seq: i64,
    /// When the projection row was written.
    pub updated_at: DateTime<Utc>,
}

/// The store's golden record for one canonical entity: the merge base.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoldenRecord {
    /// Entity kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Canonical fields (JSON object).
    pub fields: Value,
    /// Per-field provenance, e.g. `{"title": {"version": "...", "system": "netsuite"}}`.
    pub field_meta: Value,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// Cross-reference: which entity id a canonical key has in one system. An upsert moves an
/// entity id that was recorded under another key (one entity has one key per kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Xref {
    /// Entity kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Platform.
    pub system: String,
    /// Entity id in that platform.
    pub entity_id: String,
    /// Whether the entity carries one key of this kind (an ERP item its SKU): learning the
    /// key then moves the entity off any other key it had (a SKU renamed). False for an entity
    /// that carries several (a storefront product its variants' SKUs), and for what a write's
    /// answer says (it cannot tell): the other keys keep it.
    pub one_per_entity: bool,
}

/// The last-known canonical fields of an entity in a target system (what weft wrote or saw
/// there), used for the diff and echo detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetState {
    /// Platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Canonical fields (JSON object).
    pub fields: Value,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// An outbox row to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxRow {
    /// Target platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Canonical key of the entity written.
    pub key: String,
    /// Operation, e.g. `product-set`, `inventory-set`, `inventory-adjust`, `upsert`.
    pub op: String,
    /// Globally unique idempotency key. Enqueuing a key that already exists (in any status)
    /// does nothing: the same write is never queued twice.
    pub idempotency_key: String,
    /// The write command (JSON).
    pub body: Value,
    /// Lower runs first (orders 0, inventory 10, prices 20, catalog 30 is a sensible scale).
    pub priority: i64,
    /// When true, this row replaces every still-`pending` coalescing row for the same
    /// (store, system, kind, key, op): it carries the latest full state, so the older ones are
    /// obsolete and become `superseded`. Set it to false for writes that must all happen (inventory deltas).
    /// Rows already `inflight` are never replaced, nor are rows waiting for the outcome of a
    /// call they were sent in (`call_key` set): that call may have applied them.
    pub coalesce: bool,
    /// When true, a resend of this write may find it already applied (the platform executes it
    /// as read, compare, write under the row's key): once sent, the row is never superseded or
    /// coalesced away, and counts as in flight until it settles.
    pub resend_may_apply: bool,
}

/// Status of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStatus {
    /// Waiting to be claimed at `next_attempt_at`.
    Pending,
    /// Claimed by a dispatcher until `lease_until`.
    Inflight,
    /// Applied by the target.
    Done,
    /// Failed permanently; a dead letter.
    Dead,
    /// A dead letter an operator discarded (kept so its idempotency key stays used).
    Discarded,
    /// A pending row or dead letter replaced by a newer coalescing row for the same target
    /// and op (kept so its idempotency key stays used and an old write cannot be enqueued
    /// again).
    Superseded,
}

impl OutboxStatus {
    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Inflight => "inflight",
            OutboxStatus::Done => "done",
            OutboxStatus::Dead => "dead",
            OutboxStatus::Discarded => "discarded",
            OutboxStatus::Superseded => "superseded",
        }
    }
}

impl FromStr for OutboxStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => OutboxStatus::Pending,
            "inflight" => OutboxStatus::Inflight,
            "done" => OutboxStatus::Done,
            "dead" => OutboxStatus::Dead,
            "discarded" => OutboxStatus::Discarded,
            "superseded" => OutboxStatus::Superseded,
            other => {
                return Err(StoreError::UnknownValue {
                    what: "outbox status",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Store id.
    pub store_id: String,
    /// Target platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Operation.
    pub op: String,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Write command.
    pub body: Value,
    /// Priority (lower first).
    pub priority: i64,
    /// Whether it replaces older pending rows of the same target and op.
    pub coalesce: bool,
    /// Status.
    pub status: OutboxStatus,
    /// Claims so far (a claim counts as an attempt, so a crash mid-send is counted).
    pub attempts: i64,
    /// Earliest time it may be claimed.
    pub next_attempt_at: DateTime<Utc>,
    /// While inflight: when the claim expires and the row becomes claimable again.
    pub lease_until: Option<DateTime<Utc>>,
    /// While inflight: the claim token the dispatcher must present to settle it.
    pub claim_token: Option<String>,
    /// The last error (retry or dead letter).
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The persisted platform call ([`OutboxCall`]) this row was sent in while that call's
    /// outcome is unknown (a lost response, a crash): the row's next send must be exactly that
    /// call again. `None` for rows never sent in one, or released from it by its answer.
    pub call_key: Option<String>,
}

/// A platform call about to be sent on behalf of several claimed outbox rows
/// ([`Store::open_calls`](crate::Store::open_calls)).
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxCall {
    /// The call's input exactly as it will be sent.
    pub payload: Value,
    /// The claimed rows it carries, `(row id, claim token)`, in the payload's order.
    pub rows: Vec<(i64, String)>,
}

/// A persisted platform call: sent (or about to be) under `call_key` as its idempotency key,
/// and re-sent exactly while any of its rows still waits for its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxCall {
    /// The idempotency key the call is sent with (a UUID the store assigned).
    pub call_key: String,
    /// Store id.
    pub store_id: String,
    /// The call's input exactly as sent.
    pub payload: Value,
    /// The outbox row of each item of the payload, in order.
    pub row_ids: Vec<i64>,
    /// When it was persisted.
    pub created_at: DateTime<Utc>,
}

/// A watermark value to store.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkUpdate {
    /// Stream name, e.g. `shopify:products` or `netsuite:inventoryItem`.
    pub stream: String,
    /// Whatever the poller needs (timestamp and tie-break id, page cursor).
    pub value: Value,
}

/// Extra projection writes that settle together with an outbox row (see
/// [`Store::complete`](crate::Store::complete)): what the write made the target hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    /// Cross-references learnt from the response (e.g. the id NetSuite assigned).
    pub xrefs: Vec<Xref>,
    /// The target's new last-known state.
    pub target_states: Vec<TargetStateUpsert>,
    /// Counter increments, `(name, delta)`.
    pub counters: Vec<(String, i64)>,
    /// Observations the write's answer carries, journaled in the same transaction (a stock
    /// write's result with the platform's version: see the engine's stock rules).
    pub journal: Vec<NewJournalEntry>,
}

/// Upsert of a target's last-known state.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStateUpsert {
    /// Platform.
    pub system: String,
    /// Entity kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Canonical fields (JSON object).
    pub fields: Value,
}

/// A target's last-known state recorded by a processing step from what the target showed,
/// guarded by what the step read: a write that completed meanwhile recorded a newer state, and
/// a step working from the older one must not overwrite it (it is re-run instead).
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedTarget {
    /// The state to record.
    pub upsert: TargetStateUpsert,
    /// The fields the step read for this target (`None`: it had no record).
    pub read: Option<Value>,
}

/// An outbox row that bears on what a target holds now: a write in flight (sent or about to
/// be, outcome not recorded yet), or an applied write completed since a given instant
/// ([`Store::settling_writes`](crate::Store::settling_writes)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettlingWrite {
    /// Outbox row id.
    pub id: i64,
    /// `Inflight`, or `Done` for an applied write.
    pub status: OutboxStatus,
    /// The canonical fields the write makes the target hold (JSON object, or null).
    pub desired: Value,
    /// The target's last-known values of the fields the write changes (empty when it held
    /// none): what a reading taken before the write landed shows.
    pub replaces: serde_json::Map<String, Value>,
    /// The stock write's compare-and-set guard: the quantity the target held when it was
    /// planned, which a guarded write replaces (`None` for unguarded writes).
    pub expected_quantity: Option<i64>,
    /// When the row was queued: the write reached the target after this instant.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (for a done row: when its completion was recorded).
    pub updated_at: DateTime<Utc>,
}

/// Upsert of a golden record.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenUpsert {
    /// Entity kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Canonical fields.
    pub fields: Value,
    /// Per-field provenance.
    pub field_meta: Value,
}

/// Everything one engine step changes, applied by [`Store::commit_step`](crate::Store::commit_step)
/// in ONE transaction: either all of it is durable or none of it.
///
/// Every row belongs to `store_id`; rows cannot name another store.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCommit {
    /// The store the step belongs to.
    pub store_id: String,
    /// The step's clock (the host owns time): `updated_at` of written rows.
    pub at: DateTime<Utc>,
    /// Per-system last-seen states (version-guarded: older versions are skipped).
    pub entity_states: Vec<EntityStateUpsert>,
    /// Golden records.
    pub golden: Vec<GoldenUpsert>,
    /// Cross-references.
    pub xrefs: Vec<Xref>,
    /// Target last-known states, written unconditionally.
    pub target_states: Vec<TargetStateUpsert>,
    /// Target last-known states the step derived from what it read: each is written only if
    /// the record still holds what the step read, else the whole step fails with
    /// [`StoreError::TargetChanged`](crate::StoreError::TargetChanged) and applies nothing.
    pub observed_targets: Vec<ObservedTarget>,
    /// Targets (`(system, kind, key)`) whose still-unsent coalescing writes are no longer
    /// wanted (the target already holds what they would write): they become `superseded`,
    /// before [`Self::outbox`] is queued. Rows sent before, or bound to a saved call, stay.
    pub withdraw: Vec<(String, String, String)>,
    /// New writes (see [`NewOutboxRow`] for coalescing and idempotency).
    pub outbox: Vec<NewOutboxRow>,
    /// Watermark updates.
    pub watermarks: Vec<WatermarkUpdate>,
    /// Counter increments, `(name, delta)`.
    pub counters: Vec<(String, i64)>,
    /// Advance the store's cursor to this journal seq (never moves it back).
    pub advance_cursor_to: Option<i64>,
    /// Journal entries set aside until a write settles (kept if already set aside).
    pub park: Vec<Parked>,
    /// Journal seqs no longer set aside (processed by this step).
    pub unpark: Vec<i64>,
    /// Entries a plugin could not map, kept for an operator ([`SetAside`]).
    pub set_aside: Vec<SetAside>,
    /// Records mapped or written successfully since: their set-aside entries are cleared
    /// (`(system, kind, entity id)`; for a write, the target system, canonical kind and key).
    pub clear_set_aside: Vec<(String, String, String)>,
    /// Why the step's records hold what they hold ([`LineageRow`]): written with the rest.
    pub lineage: Vec<LineageRow>,
    /// Deletions the mass-delete guard holds for an operator ([`crate::HeldDelete`]).
    pub hold_deletes: Vec<crate::HeldDelete>,
    /// Writes a deletion applied by this step made moot ([`crate::MootWrites`]): their dead
    /// letters and unsent pending rows become `superseded`.
    pub moot_writes: Vec<crate::MootWrites>,
}

/// What one processing step decided for one record from one journal entry: the observing
/// system's fields that changed with the merge decision for each, and the writes it planned.
/// Kept so `weft explain` and the console can say why a field holds its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageRow {
    /// The journal entry.
    pub seq: i64,
    /// Canonical kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// The system the entry observed (empty for a row that only records writes).
    pub system: String,
    /// `live` or `replay`.
    pub mode: String,
    /// The mapper that mapped the entry (`name version`).
    pub mapper: String,
    /// Per field: the decision (a JSON object with at least `decision` and `value`).
    pub fields: Value,
    /// The writes planned: objects with `target`, `op` and `idempotency_key`.
    pub writes: Value,
}

/// A journal entry a plugin could not turn into records (stage `to-canonical`) or into writes
/// for one target (stage `from-canonical`), with the reason; processed again on request
/// ([`Store::retry_set_aside`](crate::Store::retry_set_aside)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAside {
    /// The journal entry.
    pub seq: i64,
    /// `to-canonical` or `from-canonical`.
    pub stage: String,
    /// For `from-canonical`: the system the write was for (else empty).
    pub target: String,
    /// The record: the observed system (the target, for a write)...
    pub system: String,
    /// ...its kind (journal kind; canonical kind for a write)...
    pub kind: String,
    /// ...and its id (entity id; canonical key for a write).
    pub entity_id: String,
    /// Why, naming the plugin.
    pub reason: String,
    /// When it was set aside.
    pub at: DateTime<Utc>,
}

/// A journal entry set aside by a processing step until weft's write to the same target
/// settles (see [`StepCommit::park`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parked {
    /// The journal entry.
    pub seq: i64,
    /// The system the entry observed.
    pub system: String,
    /// Canonical kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
}

impl StepCommit {
    /// An empty step for `store_id` at time `at`.
    pub fn new(store_id: impl Into<String>, at: DateTime<Utc>) -> Self {
        StepCommit {
            store_id: store_id.into(),
            at,
            entity_states: Vec::new(),
            golden: Vec::new(),
            xrefs: Vec::new(),
            target_states: Vec::new(),
            observed_targets: Vec::new(),
            withdraw: Vec::new(),
            outbox: Vec::new(),
            watermarks: Vec::new(),
            counters: Vec::new(),
            advance_cursor_to: None,
            park: Vec::new(),
            unpark: Vec::new(),
            set_aside: Vec::new(),
            clear_set_aside: Vec::new(),
            lineage: Vec::new(),
            hold_deletes: Vec::new(),
            moot_writes: Vec::new(),
        }
    }
}

/// What [`Store::commit_step`](crate::Store::commit_step) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// Ids of the outbox rows inserted, in the order given.
    pub outbox_inserted: Vec<i64>,
    /// Older pending rows superseded by coalescing.
    pub outbox_replaced: u64,
    /// Outbox rows skipped because their idempotency key already existed.
    pub outbox_duplicates: u64,
    /// Entity-state upserts skipped because the stored version was newer.
    pub stale_entity_states: u64,
}

/// Result of [`Store::acquire_lease`](crate::Store::acquire_lease).
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseGrant {
    /// The caller holds the lease: a new tenure whose epoch (the fencing token) is larger than
    /// every earlier one. Write through [`Store::fenced`](crate::Store::fenced) with it.
    Acquired(crate::lease::Fence),
    /// Another host holds it.
    HeldBy {
        /// The current holder (a host id, or a command's name).
        holder: String,
        /// Its expiry.
        expires_at: DateTime<Utc>,
    },
}

impl LeaseGrant {
    /// Whether the caller got the lease.
    pub fn is_acquired(&self) -> bool {
        matches!(self, LeaseGrant::Acquired(_))
    }
}

/// Outbox rows per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxDepth {
    /// Waiting.
    pub pending: i64,
    /// Claimed.
    pub inflight: i64,
    /// Applied.
    pub done: i64,
    /// Dead letters.
    pub dead: i64,
    /// Discarded dead letters.
    pub discarded: i64,
    /// Pending rows replaced by coalescing.
    pub superseded: i64,
}

/// Operator figures for one store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreStatus {
    /// Store id.
    pub store_id: String,
    /// Highest journal seq of this store (0 when empty).
    pub journal_head: i64,
    /// The store's cursor: last journal seq the engine processed.
    pub cursor: i64,
    /// Journal entries of this store after the cursor (seqs are shared by all stores, so this
    /// is a count, not `journal_head - cursor`).
    pub lag: i64,
    /// Outbox rows per status.
    pub outbox: OutboxDepth,
    /// Stock readings set aside until weft's write to their level settles.
    pub parked: i64,
    /// Journal entries a plugin could not map, waiting for an operator's retry.
    pub set_aside: i64,
    /// Deletions the mass-delete guard holds for an operator (`weft deletes`).
    pub deletes_held: i64,
    /// Intake rejects kept.
    pub intake_rejects: i64,
    /// Named counters (`recovered`, `stale`, `journal_duplicate_webhook`, ...).
    pub counters: BTreeMap<String, i64>,
}
