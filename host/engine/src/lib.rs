//! The per-store sync engine: stale guard, mapping, three-way merge, conflict resolution,
//! diff against each target's last known state, and the outbox.
//!
//! The engine never names a platform: it speaks to each of a store's systems through the
//! platform interface ([`weft_platform`]).
//!
//! # Layout
//! - [`merge`]: field-by-field three-way merge against the golden record, and the write diff.
//! - [`sync`]: the processing step from journal entries to projections and outbox rows.
//! - [`dispatch`]: executes outbox rows through the connectors, with retries and dead letters.
//! - [`observe`]: the measurements the engine reports (plugin times, throttles).
//! - [`privacy`]: privacy requests (redaction of a customer's personal data, data exports).
//! - [`stock`]: stock as available-to-sell with one owner (pending storefront demand).
//! - [`deletes`]: deletions journaled as tombstones: archive, ignore, the mass-delete guard.
//! - [`ownership`]: field owners held on every change (revert, propose, accept).
//! - [`runner`]: one store's loops (processing, dispatch, its systems' change sources), resilient
//!   to errors, on the
//!   store's schedule (reconciliation interval, full-resync cron, quiet hours).
//! - [`health`]: whether each store's loops are alive (stopped, stalled, stuck), for `/healthz`.
//! - [`error`]: the engine's error type, [`EngineError`].

pub mod deletes;
pub mod dispatch;
pub mod error;
pub mod health;
pub mod merge;
pub mod observe;
pub mod ownership;
pub mod privacy;
pub mod runner;
pub mod stock;
pub mod sync;

pub use deletes::{DeletePolicy, OnDelete};
pub use dispatch::{DispatchReport, Dispatcher};
pub use error::EngineError;
pub use health::{Beat, DueLoop, HealthPolicy, HealthRecorder, LoopHealth, LoopReport};
pub use observe::Observer;
pub use ownership::{OnChange, Ownership};
pub use privacy::{PrivacyPass, PrivacyProcessor};
pub use runner::{
    Clock, OutboxWaker, StoreRunner, SystemClock, Timing, TokioClock, Wakers, idle_cap, idle_loops,
};
pub use stock::{StockOwner, StockPolicy};
pub use sync::{BACKFILL_PRIORITY, Mode, Processor, ResolverRule, StepReport};
pub use weft_platform::version;
pub use weft_platform::{PollReport, Poller, System, Systems};
