//! What `/healthz` and `/readyz` say about the store loops: the host hands the server a
//! [`LoopSource`] (the engine's loop registry, `weft_engine::health`), and a loop that
//! stopped, stalled or is stuck makes the host unhealthy, named by store and loop.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where one store loop stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopStatus {
    /// The store.
    pub store: String,
    /// `process`, `dispatch`, or `poll <source>`.
    pub name: String,
    /// False when it stopped, stalled or is stuck.
    pub healthy: bool,
    /// What is wrong, or what it does.
    pub detail: String,
    /// When its last round ended.
    pub last_round: Option<DateTime<Utc>>,
    /// Its last round's error, when that round failed.
    pub last_error: Option<String>,
}

/// Every store loop's status now.
pub type LoopSource = Arc<dyn Fn() -> Vec<LoopStatus> + Send + Sync>;

/// The unhealthy loops of `loops`, one line each (`store s1, loop process: stopped: ...`).
pub fn unhealthy_lines(loops: &[LoopStatus]) -> Vec<String> {
    loops
        .iter()
        .filter(|l| !l.healthy)
        .map(|l| format!("store {}, loop {}: {}", l.store, l.name, l.detail))
        .collect()
}
