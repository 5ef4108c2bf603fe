//! What the host-level tests share.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use weft::app::Host;
use weft_sim_shopify::ShopifySim;

/// Waits until `store` is quiet: every shop's webhooks delivered, the journal processed, the
/// outbox drained, nothing set aside for a write, and two poll rounds in a row (each started
/// after it was asked for) that found nothing new.
pub async fn settle(
    host: &Host,
    store: &str,
    shops: &[&ShopifySim],
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    for s in shops {
        s.wait_webhooks_idle(deadline.saturating_duration_since(Instant::now()))
            .await;
    }
    let mut quiet_rounds = 0;
    let mut last_head = None;
    while quiet_rounds < 2 {
        ensure!(
            Instant::now() < deadline,
            "weft did not settle within {limit:?}"
        );
        let requests = host.poll_now();
        while !host.polled_since(&requests) {
            ensure!(Instant::now() < deadline, "polls did not complete in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let st = host.db.status(store).await?;
        let busy = st.lag > 0 || st.outbox.pending > 0 || st.outbox.inflight > 0 || st.parked > 0;
        let moved = last_head.replace(st.journal_head) != Some(st.journal_head);
        quiet_rounds = if busy || moved { 0 } else { quiet_rounds + 1 };
    }
    Ok(())
}

/// A Shopify simulator seeded with `seed`, serving `api_version` on a free local port, its
/// clock running an hour a second (Shopify's hours of webhook retries take seconds).
pub async fn serve_shopify(
    seed: u64,
    api_version: &str,
) -> Result<(ShopifySim, weft_sim_shopify::SimHandle)> {
    let sim = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(seed)
            .time_compression(3600.0)
            .api_versions(vec![api_version.into()])
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((sim, server))
}

/// The timing of a test's host: polls every `poll_interval`, idle processing and dispatch
/// loops look again after 50 ms.
pub fn quick_timing(poll_interval: Duration) -> weft_engine::Timing {
    weft_engine::Timing {
        poll_interval,
        process_idle: Duration::from_millis(50),
        dispatch_idle: Duration::from_millis(50),
        ..weft_engine::Timing::default()
    }
}

/// Logs the host to the test's output as `WEFT_TEST_LOG` says (default: warnings).
pub fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("WEFT_TEST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// A scratch database and plugin runtime in `dir`.
pub async fn store_and_runtime(
    dir: &std::path::Path,
) -> Result<(weft_store::Store, weft_runtime::Runtime)> {
    let db = weft_store::Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("weft.db").display()
    ))
    .await?;
    let runtime = weft_runtime::Runtime::new(weft_runtime::RuntimeConfig {
        cache_dir: Some(dir.join("cache")),
        ..weft_runtime::RuntimeConfig::default()
    })?;
    Ok((db, runtime))
}

/// Stock plugin `name`, loaded.
pub fn stock(runtime: &weft_runtime::Runtime, name: &str) -> Result<weft::app::StorePlugin> {
    let bytes = weft_plugin_artifacts::stock(name).expect("stock plugins are embedded");
    Ok(runtime.load(name, bytes)?.into())
}

/// Shopify system `name` on the simulator `sim`, reached at `url` with `api_version`: the
/// shop's domain, its first access token and every client secret (for webhook signatures).
pub fn shopify_system(
    name: &str,
    sim: &ShopifySim,
    url: &str,
    api_version: &str,
) -> weft::app::SystemSetup {
    let c = sim.config();
    weft::platforms::shopify_system(
        name,
        &c.shop_domain,
        url,
        api_version,
        &c.access_tokens[0],
        c.client_secrets
            .iter()
            .map(|x| x.as_bytes().to_vec())
            .collect(),
    )
}

/// The NetSuite system of `store` on the simulator `sim`, reached at `url`.
pub fn netsuite_system(
    sim: &weft_sim_netsuite::NetSuiteSim,
    store: &str,
    url: &str,
) -> Result<weft::app::SystemSetup> {
    let c = sim
        .credentials()
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the NetSuite simulator has no credentials"))?;
    Ok(weft::platforms::netsuite_system(
        "netsuite",
        store,
        url,
        weft_netsuite::Credentials {
            account_id: c.realm,
            consumer_key: c.consumer_key,
            consumer_secret: c.consumer_secret,
            token_id: c.token_id,
            token_secret: c.token_secret,
        },
        sim.config().concurrency_limit,
    ))
}
