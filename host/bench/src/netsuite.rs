//! The NetSuite scenario: many stores on ONE account, each with its own [`NetSuiteClient`],
//! all sharing the account's [`ConcurrencyGovernor`], against a simulator that enforces the
//! account's concurrency limit and holds every request for a fixed latency.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;
use weft_netsuite::{Credentials, NetSuiteClient, NetSuiteConfig, RecordRef};
use weft_ratelimit::ConcurrencyGovernor;
use weft_sim_netsuite::{NetSuiteSim, SimConfig};

use crate::{BenchError, secs};

/// Integrations (consumer keys) the stores are spread over; all count against one account.
const INTEGRATIONS: usize = 4;

/// Options of the NetSuite scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSuiteOptions {
    /// Stores sharing the account.
    pub stores: usize,
    /// The account's concurrency limit (simulator and governor).
    pub limit: usize,
    /// Simulated latency per request (holds the slot).
    pub latency: Duration,
    /// Operations per store, alternating an upsert by external id and a read of it.
    pub ops_per_store: usize,
    /// Simulator seed.
    pub seed: u64,
}

impl Default for NetSuiteOptions {
    fn default() -> Self {
        Self {
            stores: 200,
            limit: 15,
            latency: Duration::from_millis(50),
            ops_per_store: 20,
            seed: 11,
        }
    }
}

/// Figures of the NetSuite scenario.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NetSuiteBench {
    /// Stores on the account.
    pub netsuite_stores: usize,
    /// Account concurrency limit.
    pub netsuite_limit: usize,
    /// Simulated latency per request.
    pub netsuite_latency_ms: u64,
    /// Operations per store.
    pub netsuite_ops_per_store: usize,
    /// HTTP requests the simulator served (all stores).
    pub netsuite_requests: u64,
    /// Operations that failed.
    pub netsuite_errors: u64,
    /// Most requests the simulator ever had in flight.
    pub netsuite_high_water: usize,
    /// Requests the simulator refused as over the limit.
    pub netsuite_over_limit: u64,
    /// Wall time of the whole scenario.
    pub netsuite_elapsed_s: f64,
    /// Requests per second achieved.
    pub netsuite_req_per_s: f64,
    /// limit / latency.
    pub netsuite_theoretical_req_per_s: f64,
    /// `netsuite_req_per_s / netsuite_theoretical_req_per_s`.
    pub netsuite_ratio_to_theoretical: f64,
    /// Slowest store's operations per second (its ops / its completion time).
    pub netsuite_store_min_ops_per_s: f64,
    /// Fastest store's operations per second.
    pub netsuite_store_max_ops_per_s: f64,
    /// Fastest / slowest.
    pub netsuite_store_max_over_min: f64,
}

/// Runs the NetSuite scenario.
pub async fn netsuite_scenario(opts: &NetSuiteOptions) -> Result<NetSuiteBench, BenchError> {
    if opts.stores == 0 || opts.limit == 0 || opts.ops_per_store == 0 {
        return Err(BenchError::InvalidOption {
            option: "netsuite stores/limit/ops",
            message: "must all be at least 1".into(),
        });
    }
    let setup = |message: String| BenchError::Setup {
        what: "netsuite simulator",
        message,
    };
    let mut config = SimConfig::new(opts.seed);
    for i in 1..INTEGRATIONS {
        config = config.with_integration(&format!("store-group-{i}"), 1);
    }
    config.concurrency_limit = opts.limit;
    config.latency = opts.latency;
    config.request_log_capacity = 1_000;
    let sim = NetSuiteSim::new(config).map_err(|e| setup(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| setup(e.to_string()))?;
    let server = sim
        .serve(listener)
        .await
        .map_err(|e| setup(e.to_string()))?;
    let creds: Vec<Credentials> = sim
        .credentials()
        .into_iter()
        .map(|c| Credentials {
            account_id: c.realm,
            consumer_key: c.consumer_key,
            consumer_secret: c.consumer_secret,
            token_id: c.token_id,
            token_secret: c.token_secret,
        })
        .collect();
    let governor = ConcurrencyGovernor::new(sim.account_id().to_owned(), opts.limit);
    let mut clients = Vec::with_capacity(opts.stores);
    for s in 0..opts.stores {
        let c = NetSuiteClient::new(
            NetSuiteConfig::new(server.base_url(), creds[s % creds.len()].clone()),
            governor.clone(),
            format!("store-{s}"),
        )
        .map_err(|e| setup(e.to_string()))?;
        clients.push(c);
    }
    let before = sim.stats().requests;
    let start = Instant::now();
    let ops = opts.ops_per_store;
    let runs = clients.into_iter().enumerate().map(|(s, client)| async move {
        let mut errors = 0u64;
        for op in 0..ops {
            let eid = format!("bench-s{s}-c{}", op / 2);
            let result = if op % 2 == 0 {
                client
                    .upsert(
                        "customer",
                        &eid,
                        &json!({"firstName": format!("Store {s}"), "lastName": format!("Customer {op}")}),
                    )
                    .await
                    .map(|_| ())
            } else {
                client
                    .get_record("customer", &RecordRef::ExternalId(eid))
                    .await
                    .map(|_| ())
            };
            if result.is_err() {
                errors += 1;
            }
        }
        (start.elapsed(), errors)
    });
    let finished = futures::future::join_all(runs).await;
    let elapsed = start.elapsed();
    let stats = sim.stats();
    server.shutdown().await.map_err(|e| setup(e.to_string()))?;

    let requests = stats.requests.saturating_sub(before);
    let errors = finished.iter().map(|(_, e)| e).sum();
    let rates: Vec<f64> = finished
        .iter()
        .map(|(t, _)| ops as f64 / secs(*t).max(1e-9))
        .collect();
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    let req_per_s = requests as f64 / secs(elapsed).max(1e-9);
    let theoretical = if opts.latency.is_zero() {
        f64::INFINITY
    } else {
        opts.limit as f64 / secs(opts.latency)
    };
    Ok(NetSuiteBench {
        netsuite_stores: opts.stores,
        netsuite_limit: opts.limit,
        netsuite_latency_ms: opts.latency.as_millis() as u64,
        netsuite_ops_per_store: ops,
        netsuite_requests: requests,
        netsuite_errors: errors,
        netsuite_high_water: stats.high_water,
        netsuite_over_limit: stats.over_limit,
        netsuite_elapsed_s: secs(elapsed),
        netsuite_req_per_s: req_per_s,
        netsuite_theoretical_req_per_s: theoretical,
        netsuite_ratio_to_theoretical: req_per_s / theoretical,
        netsuite_store_min_ops_per_s: min,
        netsuite_store_max_ops_per_s: max,
        netsuite_store_max_over_min: max / min.max(1e-9),
    })
}
