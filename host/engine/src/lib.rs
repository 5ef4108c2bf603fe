//! The per-store sync engine: stale guard, mapping, three-way merge, conflict resolution,
//! diff against each target's last known state, and the outbox.
//!
//! # Layout
//! - [`version`]: source versions and the stale guard (order by version, not by arrival).
//! - [`merge`]: field-by-field three-way merge against the golden record, and the write diff.
//! - [`sync`]: the processing step from journal entries to projections and outbox rows.
//! - [`dispatch`]: executes outbox rows through the connectors, with retries and dead letters.
//! - [`observe`]: the measurements the engine reports (plugin times, throttles).
//! - [`poll`]: Shopify reconciliation and NetSuite change capture, journaling what webhooks missed.
//! - [`runner`]: one store's loops (processing, dispatch, polls), resilient to errors, on the
//!   store's schedule (reconciliation interval, full-resync cron, quiet hours).
//! - [`error`]: the engine's error type, [`EngineError`].

pub mod dispatch;
pub mod error;
pub mod merge;
pub mod observe;
pub mod poll;
pub mod runner;
pub mod sync;
pub mod version;

pub use dispatch::{DispatchReport, Dispatcher};
pub use error::EngineError;
pub use observe::Observer;
pub use poll::{NetSuiteCdc, ShopifyReconciler};
pub use runner::{Clock, PollReport, Poller, StoreRunner, SystemClock, Timing, TokioClock, Wakers};
pub use sync::{Mode, Processor, ResolverRule, StepReport};
