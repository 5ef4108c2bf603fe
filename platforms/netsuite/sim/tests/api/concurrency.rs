//! Account-wide concurrency governance with parallel clients of two integrations.

use crate::common::{Client, REC, config, start};
use futures::future::join_all;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn over_limit_requests_are_refused_and_counted_across_integrations() {
    let mut cfg = config(60).with_integration("celigo", 2);
    cfg.concurrency_limit = 3;
    cfg.latency = Duration::from_millis(150);
    let h = start(cfg).await;
    let creds = h.sim.credentials();
    assert_eq!(creds.len(), 3, "weft + two celigo tokens");
    let clients: Vec<Client> = creds
        .iter()
        .map(|c| h.client.with_creds(c.clone()))
        .collect();

    let calls = (0..24).map(|i| {
        let c = clients[i % clients.len()].clone();
        async move { c.get(&format!("{REC}/customer")).await }
    });
    let results = join_all(calls).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    let limited: Vec<_> = results.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + limited.len(), 24);
    assert!(ok >= 3, "at least the first three got through: {ok}");
    assert!(
        !limited.is_empty(),
        "24 simultaneous requests over a limit of 3"
    );
    let r = limited[0];
    assert_eq!(r.code(), "CONCURRENCY_LIMIT_EXCEEDED");
    assert_eq!(
        r.detail(),
        "Concurrent request limit exceeded. Request blocked."
    );
    assert_eq!(r.body["status"], json!(429));

    let stats = h.sim.stats();
    assert_eq!(
        stats.high_water, 3,
        "never above the limit, and the limit was reached"
    );
    assert_eq!(stats.over_limit as usize, limited.len());
    let per: u64 = stats.per_integration.values().map(|s| s.over_limit).sum();
    assert_eq!(
        per as usize,
        limited.len(),
        "every over-limit answer is attributed"
    );
    assert_eq!(stats.per_integration["weft"].requests, 8);
    assert_eq!(stats.per_integration["celigo"].requests, 16);
    assert_eq!(stats.in_flight, 0);
    let log_429 = h
        .sim
        .request_log()
        .iter()
        .filter(|e| e.status == 429)
        .count();
    assert_eq!(log_429, limited.len());
}

#[tokio::test]
async fn a_client_that_respects_the_limit_never_sees_429() {
    let mut cfg = config(61).with_integration("celigo", 1);
    cfg.concurrency_limit = 4;
    cfg.latency = Duration::from_millis(20);
    let h = start(cfg).await;
    let creds = h.sim.credentials();
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let calls = (0..40).map(|i| {
        let c = h.client.with_creds(creds[i % 2].clone());
        let permits = permits.clone();
        async move {
            let _p = permits.acquire().await.unwrap();
            c.put(
                &format!("{REC}/customer/eid:c-{i}"),
                &json!({"lastName": format!("L{i}")}),
            )
            .await
        }
    });
    let results = join_all(calls).await;
    assert!(results.iter().all(|r| r.status == 204));
    let stats = h.sim.stats();
    assert_eq!(stats.over_limit, 0);
    assert_eq!(stats.high_water, 4, "the whole budget was used");
    assert_eq!(stats.attempted_high_water, 4);
    assert_eq!(stats.api_writes["customer"].creates, 40);
    assert_eq!(
        h.sim.records(weft_sim_netsuite::RecordType::Customer).len(),
        40
    );
}
