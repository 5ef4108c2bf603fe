//! weft's HTTP front door: Shopify webhook intake and the operations endpoints.
//!
//! # Intake ([`intake::router`])
//!
//! `POST /webhooks/shopify/{store_id}` takes a Shopify webhook delivery and answers only once it
//! is durable in the journal (principle 1, log first):
//!
//! | condition | answer | stored |
//! |---|---|---|
//! | store not configured | 404 | nothing |
//! | body larger than the store's cap (`Content-Length` or streamed) | 413, rest unread | nothing |
//! | body not received within the store's body timeout (default 10 s) | 408 | nothing |
//! | `X-Shopify-Hmac-Sha256` missing or not matching any accepted secret | 401 | nothing (counted) |
//! | body not JSON, unknown topic, or a document normalize refuses | 400 with the reason | raw request via `record_reject` |
//! | journal append failed (database down), or the database file was deleted or replaced while open | 503 (Shopify retries) | nothing |
//! | new or duplicate delivery | 200 after the group commit | journal entry (once) |
//!
//! Signatures are checked in constant time against every accepted secret of the store (current
//! and previous during rotation). Neither secrets nor bodies are ever logged.
//!
//! # Operations ([`ops::router`])
//!
//! `GET /metrics` (Prometheus text format 0.0.4, see [`Metrics`]), `GET /healthz` (200 while the
//! process runs) and `GET /readyz` (200 only when the database answers, its file is still the
//! one opened, and the host has said it is ready; 503 with the reason otherwise).
//!
//! # Serving and benchmarking
//!
//! [`serve`] / [`serve_with`] merge both routers behind a tracing layer (client-controlled text
//! cut to [`LOG_VALUE_MAX`] bytes) and serve them under the connection limits and timeouts of
//! [`listen`]: connection caps, per-address fairness, slow-header and idle timeouts, a shutdown
//! deadline, an optional operations-only listener. [`bench_http_intake`] measures the real
//! intake over loopback HTTP against the raw one-fsync-per-request rate of the same disk.

pub mod bench;
pub mod error;
pub mod intake;
pub mod listen;
pub mod metrics;
pub mod ops;
pub mod signature;
mod state;

pub use bench::{IntakeHttpBench, IntakeHttpBenchOptions, bench_http_intake};
pub use error::ServerError;
pub use intake::{DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, IntakeStore, WebhookSecret};
pub use listen::{Listeners, MAX_HEADER_BYTES, OPS_MAX_CONNECTIONS, ServeOptions};
pub use metrics::{Metrics, WebhookOutcome};
pub use state::{
    DB_FILE_CHECK_INTERVAL, LOG_VALUE_MAX, Notifier, Readiness, ServerState, clip_for_log,
    notifier_from_map, serve, serve_with,
};
