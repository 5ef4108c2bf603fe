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
    /// vs warm load, memory for many stores sharing one plugin. With `--lang`, the worked
    /// example `title-price` in that language next to its Rust build (Python and JavaScript
    /// need their toolchains: see `weft plugin build`).
    Plugin {
        /// Measure the worked example in this language (rust, python, js) instead of the stock
        /// mapper.
        #[arg(long, value_enum)]
        lang: Option<weft::plugin_dev::Lang>,
        /// With `--lang`: measure this component instead of building the example.
        #[arg(long, requires = "lang")]
        component: Option<std::path::PathBuf>,
        /// Documents per batch.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Calls sampled for the latency figures (default 500; 100 with --lang python|js).
        #[arg(long)]
        iterations: Option<usize>,
        /// Documents mapped for the throughput figures (default 50,000; 5,000 with --lang
        /// python|js).
        #[arg(long)]
        docs: Option<usize>,
        /// Stores sharing the plugin for the memory figure (default 1,000; 50 with --lang
        /// python|js, whose instances are tens of MiB).
        #[arg(long)]
        stores: Option<usize>,
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
    /// ERP -> storefront lag: a price saved in NetSuite until the simulated shop holds it,
    /// p50/p99, with NetSuite's push script and with change capture polling only.
    Lag {
        /// Price changes per run.
        #[arg(long, default_value_t = 20)]
        changes: usize,
        /// The store's poll interval (NetSuite change capture's), seconds.
        #[arg(long, default_value_t = 30)]
        poll_interval_secs: u64,
        /// Seed of the simulators.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stores in the host: the measured one plus idle ones (real stores over a shared,
        /// empty shop and NetSuite account).
        #[arg(long, default_value_t = 1)]
        stores: usize,
        /// Print the figures as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Many stores in one host: RSS and idle CPU with N stores running, the lag of a steady
    /// trickle of changes per store, and a quiet store's lag alone and while another store is
    /// flooded.
    Stores {
        /// Stores in the host.
        #[arg(long, default_value_t = 1_000)]
        stores: usize,
        /// Stores with a simulated shop and NetSuite account of their own (the others are idle
        /// stores over a shared, empty pair).
        #[arg(long, default_value_t = 20)]
        active: usize,
        /// Items per active store.
        #[arg(long, default_value_t = 40)]
        items: usize,
        /// Every store's reconciliation interval, seconds.
        #[arg(long, default_value_t = 3600)]
        poll_interval_secs: u64,
        /// The idle window, seconds.
        #[arg(long, default_value_t = 30)]
        idle_secs: u64,
        /// How long the trickle runs, seconds.
        #[arg(long, default_value_t = 30)]
        trickle_secs: u64,
        /// Each active store saves one price this often during the trickle, seconds.
        #[arg(long, default_value_t = 5.0)]
        trickle_period_secs: f64,
        /// NetSuite saves per second of the flooded store.
        #[arg(long, default_value_t = 50.0)]
        flood_rate: f64,
        /// Seed of the simulators.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the figures as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
    /// Catalog-scale first sync: a simulated standard-plan shop of `--variants` variants read
    /// through Shopify bulk operations next to the paged read (measured on `--paged-variants`,
    /// projected), and the lag of live Shopify price edits reaching NetSuite while the
    /// backfill's bulk operation runs (the real host).
    Backfill {
        /// Variants in the shop (10 per product).
        #[arg(long, default_value_t = 100_000)]
        variants: usize,
        /// Variants the paged read is measured on (its time is projected to `--variants`).
        #[arg(long, default_value_t = 2_000)]
        paged_variants: usize,
        /// Live price edits made during the backfill (0: skip the host run).
        #[arg(long, default_value_t = 10)]
        edits: usize,
        /// After the bulk operation, edit the prices again while the first sync's writes queue
        /// in the outbox (waited for up to three minutes each).
        #[arg(long)]
        while_writes_queue: bool,
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
            lang: Some(lang),
            component,
            batch,
            iterations,
            docs,
            stores,
            json,
        } => {
            let interpreted = lang != weft::plugin_dev::Lang::Rust;
            let pick = |v: Option<usize>, rust: usize, other: usize| {
                v.unwrap_or(if interpreted { other } else { rust })
            };
            let opts = weft::plugin_bench::LangBenchOptions {
                lang,
                component,
                batch,
                iterations: pick(iterations, 500, 100),
                docs: pick(docs, 50_000, 5_000),
                stores: pick(stores, 1_000, 50),
            };
            let report = tokio::task::spawn_blocking(move || weft::plugin_bench::run(opts))
                .await
                .context("the plugin benchmark panicked")??;
            weft::outln!("{report}");
            if json {
                weft::outln!("{}", serde_json::to_string(&report)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Plugin {
            lang: None,
            component: _,
            batch,
            iterations,
            docs,
            stores,
            json,
        } => {
            let (iterations, docs, stores) = (
                iterations.unwrap_or(500),
                docs.unwrap_or(50_000),
                stores.unwrap_or(1_000),
            );
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
        BenchCommand::Lag {
            changes,
            poll_interval_secs,
            seed,
            stores,
            json,
        } => {
            anyhow::ensure!(
                poll_interval_secs >= 1,
                "--poll-interval-secs must be at least 1"
            );
            let report = weft::bench_lag::run(weft::bench_lag::LagOptions {
                changes,
                poll_interval: std::time::Duration::from_secs(poll_interval_secs),
                seed,
                stores,
            })
            .await
            .context("lag benchmark failed")?;
            print_report(&report, json)
        }
        BenchCommand::Stores {
            stores,
            active,
            items,
            poll_interval_secs,
            idle_secs,
            trickle_secs,
            trickle_period_secs,
            flood_rate,
            seed,
            json,
        } => {
            anyhow::ensure!(
                trickle_period_secs > 0.0 && flood_rate > 0.0 && poll_interval_secs >= 1,
                "--trickle-period-secs and --flood-rate must be positive, --poll-interval-secs at least 1"
            );
            let secs = std::time::Duration::from_secs;
            let report = weft::bench_stores::run(weft::bench_stores::StoresOptions {
                stores,
                active,
                items,
                poll_interval: secs(poll_interval_secs),
                idle: secs(idle_secs),
                trickle: secs(trickle_secs),
                trickle_period: std::time::Duration::from_secs_f64(trickle_period_secs),
                flood_rate,
                seed,
            })
            .await
            .context("stores benchmark failed")?;
            print_report(&report, json)
        }
        BenchCommand::Backfill {
            variants,
            paged_variants,
            edits,
            while_writes_queue,
            json,
        } => {
            anyhow::ensure!(variants >= 10, "--variants must be at least 10");
            let report = weft::bench_backfill::run(weft::bench_backfill::BackfillOptions {
                variants,
                paged_variants,
                edits,
                while_writes_queue,
            })
            .await
            .context("backfill benchmark failed")?;
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
