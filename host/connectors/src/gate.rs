//! Hooks through which every connector request passes the host's rate limiters.
//!
//! The connectors do not own rate-limit policy; `weft-ratelimit` does. A Shopify client asks a
//! [`CostBudget`] for the requested cost before each GraphQL call and reports the
//! `extensions.cost` it got back; a NetSuite client takes a permit from its account's
//! [`ConcurrencyGate`] for the whole duration of each HTTP request. Both are object-safe
//! traits so one limiter instance can be shared by every store and flow that use the same shop
//! or account.

use std::sync::Arc;

use futures::future::BoxFuture;

/// The cost section of a Shopify GraphQL response (`extensions.cost`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCost {
    /// The cost Shopify computed before running the query.
    pub requested_query_cost: Option<f64>,
    /// The cost actually spent (absent / null when the call was throttled).
    pub actual_query_cost: Option<f64>,
    /// The bucket after the call.
    pub throttle_status: Option<ThrottleStatus>,
}

/// Shopify's leaky bucket as of one response (`extensions.cost.throttleStatus`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// Bucket size in cost points.
    pub maximum_available: f64,
    /// Points available now.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// A Shopify cost budget: reserve before a GraphQL call, settle after it.
pub trait CostBudget: Send + Sync {
    /// Waits until `cost` points may be spent, then holds them for the caller.
    fn reserve(&self, cost: f64) -> BoxFuture<'_, ()>;
    /// Settles a reservation of `reserved` points with what the server reported (`None` when
    /// the response carried no cost, e.g. a transport failure: the reservation is released).
    fn settle(&self, reserved: f64, cost: Option<&QueryCost>);
}

/// A budget that never waits: for tests and for tools that manage limits themselves.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unbudgeted;

impl CostBudget for Unbudgeted {
    fn reserve(&self, _cost: f64) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn settle(&self, _reserved: f64, _cost: Option<&QueryCost>) {}
}

/// A held concurrency permit; dropping it releases the slot.
pub type GatePermit = Box<dyn Send + Sync>;

/// A NetSuite account's concurrency limit, shared by every client of the account.
pub trait ConcurrencyGate: Send + Sync {
    /// Waits for a free slot and returns a permit that holds it until dropped.
    fn acquire(&self) -> BoxFuture<'_, GatePermit>;
}

/// A fixed-size gate over a tokio semaphore: the default when no governor is configured.
#[derive(Debug, Clone)]
pub struct SemaphoreGate {
    sem: Arc<tokio::sync::Semaphore>,
}

impl SemaphoreGate {
    /// A gate admitting at most `limit` requests at once (at least 1).
    pub fn new(limit: usize) -> Self {
        SemaphoreGate {
            sem: Arc::new(tokio::sync::Semaphore::new(limit.max(1))),
        }
    }
}

impl ConcurrencyGate for SemaphoreGate {
    fn acquire(&self) -> BoxFuture<'_, GatePermit> {
        let sem = self.sem.clone();
        Box::pin(async move {
            // The semaphore is never closed, so acquisition cannot fail.
            let permit = sem
                .acquire_owned()
                .await
                .expect("connector semaphore is never closed");
            Box::new(permit) as GatePermit
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn semaphore_gate_caps_concurrency() {
        let gate = Arc::new(SemaphoreGate::new(2));
        let a = gate.acquire().await;
        let _b = gate.acquire().await;
        let g2 = gate.clone();
        let third = tokio::spawn(async move {
            let _p = g2.acquire().await;
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(a);
        third.await.unwrap();
    }

    #[test]
    fn cost_parses_from_shopify_extensions() {
        let v = serde_json::json!({
            "requestedQueryCost": 70, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 66, "restoreRate": 50}
        });
        let c: QueryCost = serde_json::from_value(v).unwrap();
        assert_eq!(c.requested_query_cost, Some(70.0));
        assert_eq!(c.actual_query_cost, None);
        assert_eq!(c.throttle_status.unwrap().restore_rate, 50.0);
    }
}
