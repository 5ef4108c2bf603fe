//! Inspection: the request log.

use serde::Serialize;

/// One REST request as the simulator answered it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RequestRecord {
    /// Method after overrides.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Status answered.
    pub status: u16,
    /// Consumer key the request authenticated as.
    pub consumer_key: Option<String>,
}
