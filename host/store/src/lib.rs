//! Durable storage for weft: the append-only journal, the projections derived from it, the
//! outbox and dead letters, work leases and counters, on SQLite (embedded default) or
//! PostgreSQL (scale-out) behind one API, [`Store`].
//!
//! # Guarantees
//!
//! - **Log first.** [`Store::append`], [`Store::append_batch`] and [`JournalWriter::append`]
//!   return only after the transaction committed. SQLite runs in WAL mode with
//!   `synchronous=FULL`, so a commit survives power loss; the [`JournalWriter`] group-commits
//!   concurrent appends so a burst costs one fsync per batch.
//! - **Dedupe.** An append is a duplicate when its observation key (store, system, kind,
//!   entity id, sortable version, SHA-256 of the body's canonical JSON) or its delivery id was
//!   journaled before; the store's `journal_duplicate_<source>` counter is bumped.
//! - **One step, one transaction.** [`Store::commit_step`] applies projection upserts, outbox
//!   rows, watermarks, counters and the cursor advance atomically.
//! - **Order by version.** Entity-state upserts never replace a newer version with an older one.
//! - **Idempotent effects.** Outbox idempotency keys are unique; coalescing, per-target order
//!   and claim leases are described in the `outbox` module docs and on [`NewOutboxRow`].
//! - **Fencing.** A handle made by [`Store::fenced`] writes nothing once the store's lease has a
//!   newer tenure than its own ([`StoreError::Fenced`]): a host that lost a store cannot change
//!   its rows, however late it wakes up.
//! - **Watermarks never pass the journal.** [`Store::append_with_watermark`] journals a poll
//!   page and moves the watermark in one transaction.
//!
//! # Layout
//!
//! - `db`: URLs, pools, the per-backend macros and row decoding; `migrate`: versioned
//!   migrations (`migrations/{sqlite,postgres}`).
//! - `journal`: appends, dedupe, reads, intake rejects; `writer`: group commit.
//! - `step`: `commit_step`, projections, watermarks, cursor, counters, status.
//! - `outbox`: claim/complete/retry/dead letters; `lease`: store leases, fencing
//!   ([`Store::fenced`]) and the hosts' heartbeats, for several hosts on one database.
//! - `lineage`: why a record holds what it holds ([`Store::explain`]), record search.
//! - `privacy`: privacy requests (stored before they are acknowledged), redaction of a
//!   customer's personal data, and the export of what weft holds about them.
//! - `bench`: [`bench_intake`].
//!
//! Times are passed in by the caller (the host owns time) and stored as Unix milliseconds.

#[macro_use]
mod db;
mod bench;
mod deletes;
mod error;
mod journal;
mod lease;
mod lineage;
mod loop_health;
mod migrate;
mod outbox;
mod privacy;
mod set_aside;
mod step;
mod store;
mod types;
mod writer;

pub use bench::{IntakeBench, bench_intake};
pub use db::{Backend, OpenOptions};
pub use deletes::{HeldDelete, MootWrites, RELEASE_KEY};
pub use error::{Result, StoreError};
pub use journal::{HINT_KIND, body_hash};
pub use lease::{
    ClusterHost, Fence, HostNotice, HostNotices, JOURNAL_CHANNEL, LEASE_CHANNEL, Lease,
};
pub use lineage::{
    Explanation, FoundRecord, LineageStep, RecordCopy, RecordWrite, describe_decision,
};
pub use loop_health::{HostBeat, LoopHealthRecord, STALE_BEATS};
pub use outbox::ClaimFilter;
pub use privacy::{
    NewPrivacyRequest, PrivacyAction, PrivacyRequest, PrivacySubject, REDACTED, RedactionOutcome,
    RedactionPlan, RedactionReport,
};
pub use set_aside::{RETRY_KEY, SetAsideFilter, SystemHealthRecord};
pub use store::Store;
pub use types::{
    AppendOutcome, Completion, EntityState, EntityStateUpsert, GoldenRecord, GoldenUpsert,
    IntakeReject, JournalEntry, LeaseGrant, LineageRow, NewJournalEntry, NewOutboxCall,
    NewOutboxRow, ObservedTarget, OutboxCall, OutboxDepth, OutboxRow, OutboxStatus, Parked,
    SetAside, SettlingWrite, Source, StepCommit, StepOutcome, StoreStatus, TargetState,
    TargetStateUpsert, WatermarkUpdate, Xref, version_key,
};
pub use writer::{GroupCommitConfig, GroupCommitStats, JournalWriter};

/// Cross-reference kind under which a system's inventory item id maps to its variant's SKU
/// (recorded by the engine from what the platform says its documents show; read by the intake
/// to stamp inventory level webhooks that carry no SKU, the same way a poll stamps them).
pub const INVENTORY_ITEM_XREF: &str = "inventory-item";

/// Cross-reference "system" of [`INVENTORY_ITEM_XREF`] rows of `system`: the entity id is the
/// SKU (`<system>-sku`).
pub fn sku_xref_system(system: &str) -> String {
    format!("{system}-sku")
}
/// Delivery-id prefix of a journaled stock write result; the written row's idempotency key
/// follows (so a write sent again journals nothing new, and
/// [`Store::settling_writes`] tells an applied write from one refused as stale).
pub const WRITE_RESULT_DELIVERY_PREFIX: &str = "weft-write:";
