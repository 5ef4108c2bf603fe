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
//! | a delivery the platform cannot read as a document | 400 with the reason | raw request via `record_reject` |
//! | journal append failed (database down) | 503 (the platform retries) | nothing |
//! | new or duplicate delivery | 200 after the group commit | journal entry (once) |
//!
//! Signatures are checked in constant time against every accepted secret of the system (current
//! and previous during rotation). Neither secrets nor bodies are ever logged.
//!
//! # Operations ([`ops::router`])
//!
//! `GET /metrics` (Prometheus text format 0.0.4, see [`Metrics`]), `GET /healthz` (200 while the
//! process runs) and `GET /readyz` (200 only when the database answers and the host has said it
//! is ready; 503 with the reason otherwise).
//!
//! # Serving
//!
//! [`serve`] merges both routers behind a tracing layer. `weft bench intake` (crate
//! `weft-bench`) measures the real intake over loopback HTTP.

pub mod error;
pub mod intake;
pub mod metrics;
pub mod ops;
mod state;

pub use error::ServerError;
pub use intake::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, IntakeStore, IntakeSystem, WebhookSecret,
};
pub use metrics::{Metrics, SystemHealth, WebhookOutcome};
pub use state::{Notifier, Readiness, ServerState, notifier_from_map, serve};
