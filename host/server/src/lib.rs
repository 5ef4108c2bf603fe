//! weft's HTTP front door: webhook intake for every platform and the operations endpoints.
//! The server never names a platform: a store's systems bring their platform's
//! [`weft_platform::WebhookIntake`].
//!
//! # Intake ([`intake::router`])
//!
//! `POST /webhooks/{system}/{store_id}` takes a delivery for one of the store's systems and
//! answers only once it is durable in the journal (principle 1, log first):
//!
//! | condition | answer | stored |
//! |---|---|---|
//! | store not configured, or no such system with webhooks | 404 | nothing |
//! | body larger than the store's cap (`Content-Length` or streamed) | 413, rest unread | nothing |
//! | body not received within the store's body timeout (default 10 s) | 408 | nothing |
//! | signature missing or not matching any accepted secret of the system | 401 | nothing (counted) |
//! | a delivery the platform cannot read as a document (not the topic's resource, another account's, a version further ahead than the skew) | 400 with the reason | raw request via `record_reject` |
//! | journal append failed (database down), or the database file was deleted or replaced while open | 503 (the platform retries) | nothing |
//! | new or duplicate delivery | 200 after the group commit | journal entry (once) |
//!
//! Signatures are checked in constant time against every accepted secret of the system (current
//! and previous during rotation). Neither secrets nor bodies are ever logged.
//!
//! # Operations ([`ops::router`])
//!
//! `GET /metrics` (Prometheus text format 0.0.4, see [`Metrics`]), `GET /healthz` (200 while
//! every store loop the host reports turns; 503 naming each store and loop that stopped,
//! stalled or is stuck, see [`health`]) and `GET /readyz` (200 only when the database answers,
//! its file is still the one opened, the host has said it is ready and its loops are healthy;
//! 503 with the reason otherwise).
//!
//! # Console ([`console::router`])
//!
//! `/console`: the operator's web console (stores, records with their lineage, dead letters,
//! replay preview), server-rendered HTML behind a token (`[console] token`).
//!
//! # Serving
//!
//! [`serve`] / [`serve_with`] merge both routers behind a tracing layer (client-controlled text
//! cut to [`LOG_VALUE_MAX`] bytes) and serve them under the connection limits and timeouts of
//! [`listen`]: connection caps, per-address fairness, slow-header and idle timeouts, a shutdown
//! deadline, an optional operations-only listener. `weft bench intake` (crate `weft-bench`)
//! measures the real intake over loopback HTTP against the raw one-fsync-per-request rate of
//! the same disk.

pub mod console;
pub mod error;
pub mod health;
pub mod intake;
pub mod listen;
pub mod metrics;
pub mod ops;
mod state;

pub use console::{ConsoleActions, ConsoleOptions, PreviewWrite, ReplayOutcome, ReplayPreview};
pub use error::ServerError;
pub use health::{LoopSource, LoopStatus};
pub use intake::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_FUTURE_SKEW, IntakeStore,
    IntakeSystem, WebhookSecret,
};
pub use listen::{Listeners, MAX_HEADER_BYTES, OPS_MAX_CONNECTIONS, ServeOptions};
pub use metrics::{Metrics, SystemHealth, WebhookOutcome};
pub use state::{
    DB_FILE_CHECK_INTERVAL, LOG_VALUE_MAX, Notifier, Readiness, ServerState, Tenures, clip_for_log,
    notifier_from_map, serve, serve_with,
};
