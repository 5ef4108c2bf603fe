//! The account governor against the real NetSuite simulator over HTTP: 200 stores on one account
//! with a concurrency limit of 15 never put more than 15 requests in flight, get no over-limit
//! answers, and share the account evenly.
//!
//! Client and simulator share tokio's paused clock, so the simulated request latency costs no
//! real time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use weft_ratelimit::ConcurrencyGovernor;
use weft_sim_netsuite::{NetSuiteSim, SimConfig, oauth1};

#[tokio::test(start_paused = true)]
async fn two_hundred_stores_on_one_account_stay_within_its_limit() {
    let mut config = SimConfig::new(7);
    config.concurrency_limit = 15;
    config.latency = Duration::from_millis(100);
    let sim = Arc::new(NetSuiteSim::new(config).expect("sim config"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await.expect("serve");
    let base = server.base_url();
    let creds = sim.credentials()[0].clone();
    let client = reqwest::Client::new();
    let governor = ConcurrencyGovernor::new(sim.account_id().to_owned(), 15);
    let nonce = Arc::new(AtomicU64::new(0));

    let run = Duration::from_secs(30);
    let start = Instant::now();
    let mut stores = Vec::new();
    for store in 0..200u32 {
        // Stores run 1 to 4 flows at once (orders, inventory, catalog, ...).
        let flows = 1 + store % 4;
        let done = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..flows {
            let (client, governor, creds, sim, nonce, done, failures) = (
                client.clone(),
                governor.clone(),
                creds.clone(),
                sim.clone(),
                nonce.clone(),
                done.clone(),
                failures.clone(),
            );
            let url = format!("{base}/services/rest/record/v1/location/{}", 1 + store % 3);
            let id = format!("store-{store}");
            tasks.push(tokio::spawn(async move {
                while start.elapsed() < run {
                    let _slot = governor.acquire(&id).await;
                    if start.elapsed() >= run {
                        break; // count only what was sent within the measured period
                    }
                    let n = nonce.fetch_add(1, Ordering::SeqCst);
                    let auth = oauth1::authorization_header(
                        &creds,
                        "GET",
                        &url,
                        sim.now().timestamp() as u64,
                        &format!("nonce{n:08}"),
                    )
                    .unwrap();
                    let response = client
                        .get(&url)
                        .header("Authorization", auth)
                        .send()
                        .await
                        .expect("simulator reachable");
                    if response.status().is_success() {
                        done.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = response.bytes().await;
                }
            }));
        }
        stores.push((tasks, done, failures));
    }
    let mut per_store = BTreeMap::new();
    let mut failed = 0;
    for (i, (tasks, done, failures)) in stores.into_iter().enumerate() {
        for t in tasks {
            t.await.unwrap();
        }
        per_store.insert(i, done.load(Ordering::SeqCst));
        failed += failures.load(Ordering::SeqCst);
    }
    let stats = sim.stats();
    let total: u64 = per_store.values().sum();
    let min = *per_store.values().min().unwrap();
    let max = *per_store.values().max().unwrap();
    println!(
        "netsuite sim: {total} requests in {run:?} ({:.1}/s, ideal 150/s), per store min {min} \
         max {max}, high water {} (attempted {}), over-limit {}",
        total as f64 / run.as_secs_f64(),
        stats.high_water,
        stats.attempted_high_water,
        stats.over_limit
    );
    assert_eq!(failed, 0, "some requests failed");
    assert_eq!(stats.over_limit, 0);
    assert!(stats.attempted_high_water <= 15);
    assert_eq!(stats.high_water, 15, "the account's capacity was not used");
    assert!(governor.stats().high_water <= 15);
    assert!(
        max <= 2 * min,
        "per-store throughput not within 2x: {min}..{max}"
    );
    // 15 slots × 100 ms latency = 150 requests/s at most.
    assert!(
        total as f64 >= 0.9 * 150.0 * run.as_secs_f64(),
        "{total} requests"
    );
    server.shutdown().await.unwrap();
}
