//! Inspection: the request log and counters (throttled responses, cost rejections, auth
//! failures), combined with entity-create counts and webhook stats in [`SimStats`].

use std::collections::VecDeque;

use serde::Serialize;

use crate::state::CreateCounts;
use crate::webhooks::WebhookStats;

/// Requests kept in the log (oldest are dropped beyond this).
pub const REQUEST_LOG_CAP: usize = 200_000;

/// One HTTP request to the Admin API.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Sequence number.
    pub seq: u64,
    /// Milliseconds since start (tokio clock).
    pub at_ms: u64,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// Root fields of the GraphQL operation (e.g. `products`, `productSet`).
    pub operation: Option<String>,
    /// Requested cost.
    pub requested_cost: Option<u64>,
    /// Actual cost.
    pub actual_cost: Option<u64>,
    /// Rejected by the rate limiter.
    pub throttled: bool,
}

/// Request counters and log.
#[derive(Debug, Default)]
pub struct Inspect {
    /// Log.
    pub requests: VecDeque<RequestRecord>,
    /// Total requests seen.
    pub total: u64,
    /// GraphQL requests.
    pub graphql: u64,
    /// GraphQL `THROTTLED` responses.
    pub throttled_graphql: u64,
    /// REST 429 responses.
    pub throttled_rest: u64,
    /// `MAX_COST_EXCEEDED` rejections.
    pub max_cost_exceeded: u64,
    /// 401 responses.
    pub unauthorized: u64,
    /// Fields and REST calls refused for a missing access scope ([`crate::scopes`]).
    pub access_denied: u64,
    /// Sum of actual costs charged.
    pub cost_charged: u64,
}

impl Inspect {
    /// Appends a record.
    pub fn push(&mut self, mut rec: RequestRecord) {
        rec.seq = self.total;
        self.total += 1;
        if self.requests.len() >= REQUEST_LOG_CAP {
            self.requests.pop_front();
        }
        self.requests.push_back(rec);
    }
}

/// Everything a test or the demo report needs in one value.
#[derive(Clone, Debug, Serialize)]
pub struct SimStats {
    /// Admin API requests (GraphQL and REST).
    pub requests: u64,
    /// GraphQL requests.
    pub graphql_requests: u64,
    /// GraphQL `THROTTLED` responses.
    pub throttled_graphql: u64,
    /// REST 429 responses.
    pub throttled_rest: u64,
    /// `MAX_COST_EXCEEDED` rejections.
    pub max_cost_exceeded: u64,
    /// 401 responses.
    pub unauthorized: u64,
    /// Fields and REST calls refused for a missing access scope ([`crate::scopes`]).
    pub access_denied: u64,
    /// Sum of actual GraphQL costs charged.
    pub cost_charged: u64,
    /// Entity creations per type and actor.
    pub creates: CreateCounts,
    /// Webhook delivery counters.
    pub webhooks: WebhookStats,
}
