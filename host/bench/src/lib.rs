//! weft's benchmarks. [`bench_http_intake`] is `weft bench intake`: the real webhook intake
//! over loopback HTTP against one fsync per request. [`ratelimit`] is `weft bench ratelimit`: it syncs inventory changes into
//! the Shopify simulator through weft's real write path (coalescing work queue, batches of up to
//! 250 quantities per `inventorySetQuantities`, the learned cost limiter) next to a naive
//! one-mutation-per-change baseline, drives 200 stores through one NetSuite account's
//! concurrency governor, and writes stock into a BigCommerce store whose request quota another
//! app spends half of. Every figure is read from the simulators' own accounting.

mod bigcommerce;
mod intake;
mod netsuite;
mod shopify;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use bigcommerce::{BigCommerceBench, BigCommerceOptions, bigcommerce_scenario};
pub use intake::{IntakeBenchError, IntakeHttpBench, IntakeHttpBenchOptions, bench_http_intake};
pub use netsuite::{NetSuiteBench, NetSuiteOptions, netsuite_scenario};
pub use shopify::{ShopifyBench, ShopifyOptions, shopify_scenario};
pub use weft_sim_bigcommerce::BackgroundShape;

/// What went wrong while running a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A simulator could not be configured, bound or seeded.
    #[error("bench setup failed in {what}: {message}")]
    Setup {
        /// Which step.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// A request failed permanently (the benchmark cannot give honest figures).
    #[error("bench request failed in {scenario}: {message}")]
    Request {
        /// `shopify-weft`, `shopify-naive` or `netsuite`.
        scenario: &'static str,
        /// The error.
        message: String,
    },
    /// The simulator's final state disagrees with what was sent.
    #[error("bench verification failed in {scenario}: {message}")]
    Verification {
        /// Which scenario.
        scenario: &'static str,
        /// What disagreed.
        message: String,
    },
    /// The options cannot describe a run.
    #[error("invalid bench option {option}: {message}")]
    InvalidOption {
        /// Option name.
        option: &'static str,
        /// Why.
        message: String,
    },
}

/// Options of `weft bench ratelimit`. [`Default`] is issue 5's scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RatelimitOptions {
    /// The Shopify scenario.
    pub shopify: ShopifyOptions,
    /// The NetSuite scenario.
    pub netsuite: NetSuiteOptions,
    /// The BigCommerce scenario.
    pub bigcommerce: BigCommerceOptions,
}

impl Default for RatelimitOptions {
    /// Shopify standard plan, 2,000 inventory items × 5 changes = 10,000 changes, then a
    /// sustained run of 60,000 items × 1 change (rate-bound), naive baseline for 20 s; NetSuite: 200 stores on one account, limit 15, 50 ms latency, 20 requests each.
    fn default() -> Self {
        Self {
            shopify: ShopifyOptions::default(),
            netsuite: NetSuiteOptions::default(),
            bigcommerce: BigCommerceOptions::default(),
        }
    }
}

/// Every figure of `weft bench ratelimit`, flat and snake_case (one JSON object).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RatelimitBench {
    /// Shopify figures.
    #[serde(flatten)]
    pub shopify: ShopifyBench,
    /// NetSuite figures.
    #[serde(flatten)]
    pub netsuite: NetSuiteBench,
    /// BigCommerce figures.
    #[serde(flatten)]
    pub bigcommerce: BigCommerceBench,
}

/// Runs the scenarios (Shopify, NetSuite, then BigCommerce) and returns their figures.
pub async fn ratelimit(opts: RatelimitOptions) -> Result<RatelimitBench, BenchError> {
    let shopify = shopify_scenario(&opts.shopify).await?;
    let netsuite = netsuite_scenario(&opts.netsuite).await?;
    let bigcommerce = bigcommerce_scenario(&opts.bigcommerce).await?;
    Ok(RatelimitBench {
        shopify,
        netsuite,
        bigcommerce,
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl fmt::Display for RatelimitBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shopify;
        writeln!(
            f,
            "Shopify: bucket {} pts @ {} pts/s, {} items x {} changes = {} changes",
            s.shopify_bucket_size,
            s.shopify_restore_rate,
            s.shopify_items,
            s.shopify_changes_per_item,
            s.shopify_changes
        )?;
        writeln!(
            f,
            "  weft   : {} writes applied ({} changes coalesced away) in {} calls, {:.3} s",
            s.weft_items_applied, s.weft_changes_coalesced, s.weft_calls, s.weft_elapsed_s
        )?;
        writeln!(
            f,
            "           {:.0} items/s applied ({:.0} changes/s absorbed); cost {:.1} pts/call, {:.1} items/call",
            s.weft_items_per_s, s.weft_changes_per_s, s.weft_cost_per_call, s.weft_items_per_call
        )?;
        writeln!(
            f,
            "           theoretical max {:.0} items/s (restore / cost per call x 250), ratio {:.2}{}",
            s.theoretical_max_items_per_s,
            s.weft_ratio_to_theoretical,
            if s.weft_burst_covered_run {
                " (run fit in the initial bucket: not rate-bound)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "           throttled: {} total, {} after the first second; final quantities verified: {}",
            s.weft_throttled_total, s.weft_throttled_after_1s, s.weft_verified_items
        )?;
        if s.sustained_items > 0 {
            writeln!(
                f,
                "  sustained: {} items (1 change each) in {} calls ({} paid by the initial bucket), {:.2} s, {:.0} items/s overall",
                s.sustained_items,
                s.sustained_calls,
                s.sustained_burst_calls,
                s.sustained_elapsed_s,
                s.sustained_items_per_s
            )?;
            match (
                s.sustained_steady_items_per_s,
                s.sustained_ratio_to_theoretical,
            ) {
                (Some(rate), Some(r)) => writeln!(
                    f,
                    "           steady state {rate:.0} items/s of theoretical {:.0}: ratio {r:.3}",
                    s.theoretical_max_items_per_s
                )?,
                _ => writeln!(
                    f,
                    "           too few calls after the burst for a steady-state rate"
                )?,
            }
            writeln!(
                f,
                "           whole run vs what the bucket could pay in that time: ratio {:.3}",
                s.sustained_ratio_to_bound
            )?;
            writeln!(
                f,
                "           throttled: {} total, {} after the first second",
                s.sustained_throttled_total, s.sustained_throttled_after_1s
            )?;
        }
        writeln!(
            f,
            "  naive  : {} of {} changes applied in {:.1} s ({} calls, {} throttled){}",
            s.naive_changes_applied,
            s.shopify_changes,
            s.naive_elapsed_s,
            s.naive_calls,
            s.naive_throttled,
            if s.naive_completed {
                ""
            } else {
                ", stopped at the time budget"
            }
        )?;
        writeln!(
            f,
            "           {:.1} items/s (its steady-state ceiling: {:.0} items/s, one item per call)",
            s.naive_items_per_s, s.naive_theoretical_items_per_s
        )?;
        writeln!(
            f,
            "  weft/naive: {:.1}x (applied items/s), {:.1}x (changes/s); sustained/naive {:.1}x",
            s.weft_over_naive, s.weft_over_naive_changes, s.sustained_over_naive
        )?;
        let n = &self.netsuite;
        writeln!(
            f,
            "NetSuite: {} stores on one account, limit {}, latency {} ms, {} ops per store",
            n.netsuite_stores, n.netsuite_limit, n.netsuite_latency_ms, n.netsuite_ops_per_store
        )?;
        writeln!(
            f,
            "  {} requests in {:.2} s = {:.0} req/s of theoretical {:.0} (ratio {:.2}); errors {}",
            n.netsuite_requests,
            n.netsuite_elapsed_s,
            n.netsuite_req_per_s,
            n.netsuite_theoretical_req_per_s,
            n.netsuite_ratio_to_theoretical,
            n.netsuite_errors
        )?;
        writeln!(
            f,
            "  high-water {} (limit {}), over-limit responses {}",
            n.netsuite_high_water, n.netsuite_limit, n.netsuite_over_limit
        )?;
        writeln!(
            f,
            "  per-store ops/s min {:.2} max {:.2}, max/min {:.2}",
            n.netsuite_store_min_ops_per_s,
            n.netsuite_store_max_ops_per_s,
            n.netsuite_store_max_over_min
        )?;
        let b = &self.bigcommerce;
        writeln!(
            f,
            "BigCommerce: quota {} per {} ms window, another app spends {} of it",
            b.bigcommerce_quota, b.bigcommerce_window_ms, b.bigcommerce_other_apps_per_window
        )?;
        writeln!(
            f,
            "  {} stock writes, {} requests; 429s {} total, {} after the warm-up window; the other app refused {}",
            b.bigcommerce_writes,
            b.bigcommerce_requests,
            b.bigcommerce_throttled_total,
            b.bigcommerce_throttled_after_warmup,
            b.bigcommerce_other_app_refused
        )?;
        write!(
            f,
            "  share of what the other app left used by weft: {:.3} over {} windows (lowest window {:.3}); final quantities verified: {}",
            b.bigcommerce_share,
            b.bigcommerce_windows_measured,
            b.bigcommerce_share_min,
            b.bigcommerce_verified_items
        )
    }
}
