//! `weft bench ...`: measurements printed as figures, with `--json` as one JSON object on the
//! last line of stdout.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde::Serialize;

/// The `weft bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The plugin runtime: instantiate-and-call cost, Wasm vs native mapping throughput, cold
    /// vs warm load, memory for many stores sharing one plugin.
    Plugin {
        /// Documents per batch.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Calls sampled for the latency figures.
        #[arg(long, default_value_t = 500)]
        iterations: usize,
        /// Documents mapped for the throughput figures.
        #[arg(long, default_value_t = 50_000)]
        docs: usize,
        /// Stores sharing the plugin for the memory figure.
        #[arg(long, default_value_t = 1_000)]
        stores: usize,
        /// Print the figures as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Shopify and NetSuite rate limits: 10,000 inventory changes into a simulated standard-plan
    /// shop (plus a sustained run that is rate-bound) against a naive baseline, and 200 stores on
    /// one NetSuite account with a concurrency limit of 15.
    Ratelimit {
        /// Print the figures as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Webhook intake over HTTP: signed webhooks accepted durably per second (group commit), with
    /// p50/p99 acknowledgement latency, next to one fsync'd transaction per request on the same disk.
    Intake {
        /// Webhooks to send.
        #[arg(long, default_value_t = 5_000)]
        events: usize,
        /// Concurrent appenders (webhook requests in flight).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Directory for the benchmark database (default: a temporary directory).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Print the figures as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `weft bench` subcommand.
pub async fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Plugin {
            batch,
            iterations,
            docs,
            stores,
            json,
        } => {
            let bytes = weft_plugin_artifacts::stock("shopify-netsuite")
                .context("the stock shopify-netsuite plugin is not embedded in this build")?;
            // The runtime's preset links the same mapper natively for the Wasm/native ratio.
            let mut opts =
                weft_runtime::bench::BenchOptions::stock_shopify_netsuite(bytes.to_vec());
            opts.batch_size = batch;
            opts.iterations = iterations;
            opts.throughput_docs = docs;
            opts.stores = stores;
            let report = tokio::task::spawn_blocking(move || weft_runtime::bench::run(opts))
                .await
                .context("the plugin benchmark panicked")??;
            print_report(&report, json)
        }
        BenchCommand::Intake {
            events,
            concurrency,
            dir,
            json,
        } => {
            let tmp = tempdir_for(dir.as_deref())?;
            let report = weft_bench::bench_http_intake(weft_bench::IntakeHttpBenchOptions {
                requests: events,
                concurrency,
                dir: Some(tmp.path().to_path_buf()),
                ..Default::default()
            })
            .await
            .context("intake benchmark failed")?;
            print_report(&report, json)
        }
        BenchCommand::Ratelimit { json } => {
            let report = weft_bench::ratelimit(weft_bench::RatelimitOptions::default())
                .await
                .context("rate-limit benchmark failed")?;
            if !json {
                weft::outln!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            print_report(&report, json)
        }
    }
}

fn print_report<T: Serialize + std::fmt::Debug>(report: &T, json: bool) -> Result<ExitCode> {
    let value = serde_json::to_value(report)?;
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            weft::outln!("{k:>28}  {v}");
        }
    }
    if json {
        weft::outln!("{}", serde_json::to_string(&value)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn tempdir_for(dir: Option<&std::path::Path>) -> Result<tempfile::TempDir> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            tempfile::tempdir_in(d).context("cannot create a benchmark directory")
        }
        None => tempfile::tempdir().context("cannot create a temporary directory"),
    }
}
