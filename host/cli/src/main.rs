//! The `weft` command line: parses arguments, sets up logging, and hands each command to its
//! module. Nothing here decides behaviour; the library crates do.

mod bench;
mod sandbox;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// weft keeps commerce storefronts and an ERP in two-way sync without losing or duplicating
/// anything. Per-store mapping and conflict resolution run as sandboxed WebAssembly plugins.
///
/// Start with `weft sandbox` (simulated Shopify and NetSuite) and `weft plugin check` while you
/// write a plugin; `weft init` writes a commented starter config and `weft check` validates it.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about)]
struct Cli {
    /// Log output format. Default: text (`weft run`: the config's `[log] format`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter in `RUST_LOG` syntax (e.g. `info`, `weft_engine=debug`). Default: warn
    /// (`weft run`: the config's `[log] level`).
    #[arg(long, global = true, env = "WEFT_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with store, entity and plugin fields.
    Json,
}

/// The storefront of the starter store `weft init` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InitStorefront {
    /// Shopify (the default).
    Shopify,
    /// WooCommerce.
    #[value(name = "woocommerce")]
    WooCommerce,
    /// BigCommerce.
    #[value(name = "bigcommerce")]
    BigCommerce,
    /// Magento 2 / Adobe Commerce.
    Magento,
}

impl InitStorefront {
    fn platform(self) -> &'static str {
        match self {
            InitStorefront::Shopify => weft::demo::Storefront::Shopify.platform(),
            InitStorefront::WooCommerce => weft::demo::Storefront::WooCommerce.platform(),
            InitStorefront::BigCommerce => weft::demo::Storefront::BigCommerce.platform(),
            InitStorefront::Magento => weft::demo::Storefront::Magento.platform(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Shopify and NetSuite simulators standalone, for offline development.
    ///
    /// Prints their URLs and credentials (with `--json`, as one JSON object on the first line of
    /// stdout once both are ready) and runs until Ctrl-C. Chaos flags make webhook delivery
    /// drop, duplicate, reorder and redeliver stale payloads, deterministically per `--seed`.
    Sandbox(sandbox::SandboxArgs),
    /// The main job on embedded defaults, with no setup: simulated Shopify and NetSuite, a host
    /// over SQLite in a temporary directory, merchant and ERP activity under webhook chaos, then
    /// a verification report. Exit code 1 if the two systems drift apart.
    Demo(DemoArgs),
    /// Run every enabled store of a configuration until Ctrl-C: webhook intake, processing,
    /// dispatch, reconciliation and change capture, with /metrics, /healthz and /readyz.
    Run {
        /// The host config file.
        #[arg(default_value = "weft.toml")]
        config: PathBuf,
    },
    /// Re-run journaled changes through the store's CURRENT plugins, so a corrected mapping
    /// repairs past data. Idempotent: a second replay queues no new writes.
    Replay {
        /// The host config file.
        #[arg(long, short, default_value = "weft.toml")]
        config: PathBuf,
        /// The store to replay.
        #[arg(long)]
        store: String,
        /// Only changes received at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only this entity kind (product, variant, inventory-level, price, customer, order).
        #[arg(long)]
        entity: Option<String>,
        /// Print the totals as one JSON object.
        #[arg(long)]
        json: bool,
        /// Queue nothing: list the writes the replay would make, per record and field.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate a configuration: every problem in every file at once, with file and line.
    Check {
        /// The host config file.
        #[arg(default_value = "weft.toml")]
        config: PathBuf,
        /// Also load every store's plugins (compiles them, checks them against the WIT).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        plugins: bool,
        /// Also ask each platform with webhooks which of weft's subscriptions to
        /// `[server] public_url` it is missing (contacts the platforms).
        #[arg(long)]
        webhooks: bool,
        /// Also ask each system whether its credentials carry the access weft needs (Shopify:
        /// the app's access scopes; contacts the platforms).
        #[arg(long)]
        access: bool,
    },
    /// Write a commented starter configuration (weft.toml and stores/example.toml).
    Init {
        /// Directory to write into; existing files are never overwritten.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The storefront the starter store syncs with NetSuite.
        #[arg(long, value_enum, default_value = "shopify")]
        storefront: InitStorefront,
        /// `sheet`: a Google Sheet as the catalog, price and stock source of a Shopify shop
        /// (instead of NetSuite).
        #[arg(long, value_enum, default_value = "erp")]
        source: weft::demo_sheet::Source,
    },
    /// Develop plugins without a store: check a component, run fixtures against it.
    #[command(subcommand)]
    Plugin(weft::plugin::PluginCommand),
    /// Measure weft on this machine; `--json` prints the figures as one JSON object on the last
    /// line of stdout.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Per-store lag, outbox depth, dead letters and recovered webhooks.
    Status(weft::ops::StatusArgs),
    /// Inspect and act on dead letters (writes that failed permanently).
    #[command(subcommand)]
    Dlq(weft::ops::DlqCommand),
    /// Changes by a system that does not own the field, kept for an operator (`[policy]
    /// on_change = { ... = "propose" }`): list, accept, refuse.
    #[command(subcommand)]
    Proposals(weft::proposals::ProposalsCommand),
    /// Why a record's fields hold their values: each observation that set them (source,
    /// version, mapper), the merge decision (conflict and the resolver that settled it,
    /// refusal, echo) and the writes it caused with their outcome.
    Explain(weft::explain::ExplainArgs),
    /// The lineage `weft explain` reads: `purge --older-than 90d` deletes old rows, keeping the
    /// newest of each field of each record.
    #[command(subcommand)]
    Lineage(weft::explain::LineageCommand),
    /// Privacy requests (customer redactions, data requests, shop redactions): list them,
    /// export what weft holds about a customer.
    #[command(subcommand)]
    Privacy(weft::privacy::PrivacyCommand),
    /// Deletions the mass-delete guard holds (`[deletes] guard_percent`): list, release,
    /// discard.
    #[command(subcommand)]
    Deletes(weft::deletes::DeletesCommand),
}

/// Flags of `weft demo`.
#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Seed for the simulators, the chaos and the activity: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Merchant and ERP edits to generate.
    #[arg(long, default_value_t = 400)]
    events: usize,
    /// Fraction of webhook deliveries dropped.
    #[arg(long, default_value_t = 0.05)]
    drop_rate: f64,
    /// Fraction of webhook deliveries sent twice.
    #[arg(long, default_value_t = 0.05)]
    duplicate_rate: f64,
    /// Deliveries held back by up to this many milliseconds (out of order).
    #[arg(long, default_value_t = 200)]
    reorder_ms: u64,
    /// Fraction of deliveries redelivered late with their original (stale) payload.
    #[arg(long, default_value_t = 0.02)]
    late_rate: f64,
    /// Stores, each with its own simulated shop and NetSuite account.
    #[arg(long, default_value_t = 1)]
    stores: usize,
    /// Catalog size per store.
    #[arg(long, default_value_t = 12)]
    items: usize,
    /// Print the report as one JSON object on the last line of stdout (no progress output).
    #[arg(long)]
    json: bool,
    /// Keep the demo's SQLite database in this directory (created if missing) for inspection
    /// with `weft status` or sqlite3, instead of a temporary directory removed at the end.
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
    /// The storefront synced with NetSuite.
    #[arg(long, value_enum, default_value = "shopify")]
    storefront: weft::demo::Storefront,
    /// The simulated Shopify shops' plan, which sets their query budget: `standard` (1,000
    /// points restored at 100 a second), `advanced`, `plus` (10,000 at 1,000), `enterprise`.
    #[arg(long, default_value = "standard", value_parser = parse_plan)]
    shopify_plan: weft_sim_shopify::PlanPreset,
    /// Where the catalog comes from: `erp` (NetSuite) or `sheet` (a Google Sheet edited by a
    /// simulated person, synced with a Shopify shop; events default to 150).
    #[arg(long, value_enum, default_value = "erp")]
    source: weft::demo_sheet::Source,
    /// Turn off NetSuite's push script (weft then learns ERP changes by polling only).
    #[arg(long)]
    no_erp_push: bool,
    /// With `--source sheet`: the store has this ERP too (`netsuite`: a sheet, a Shopify shop
    /// and NetSuite, which owns the stock).
    #[arg(long, value_enum)]
    erp: Option<weft::demo_sheet::Erp>,
    /// Per store, Shopify products the merchant deletes and NetSuite items made inactive
    /// during the run (Shopify storefront only); the report checks each archived on the other
    /// side and nothing recreated.
    #[arg(long, default_value_t = 0)]
    deletes: usize,
    /// What a deleted Shopify product does to its NetSuite items (`[deletes]`): `archive`
    /// (inactive) or `delete` (removed, or kept inactive when transactions depend on them).
    #[arg(long, value_enum, default_value = "archive")]
    delete_action: DeleteActionArg,
}

/// `weft demo --delete-action`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DeleteActionArg {
    Archive,
    Delete,
}

fn parse_plan(s: &str) -> Result<weft_sim_shopify::PlanPreset, String> {
    weft_sim_shopify::PlanPreset::parse(s)
        .ok_or_else(|| format!("unknown plan `{s}`: standard, advanced, plus or enterprise"))
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.source == weft::demo_sheet::Source::Sheet {
        return weft::demo_sheet::main(
            weft::demo::DemoOptions {
                seed: args.seed,
                events: if args.events == 400 { 150 } else { args.events },
                drop_rate: args.drop_rate,
                duplicate_rate: args.duplicate_rate,
                reorder_ms: args.reorder_ms,
                late_rate: args.late_rate,
                items: args.items,
                progress: !args.json,
                keep: args.keep,
                erp_push: !args.no_erp_push,
                ..weft::demo::DemoOptions::default()
            },
            args.erp,
            args.json,
        )
        .await;
    }
    anyhow::ensure!(
        args.erp.is_none(),
        "--erp is for `--source sheet`; the main demo's ERP is NetSuite already"
    );
    for (name, rate) in [
        ("--drop-rate", args.drop_rate),
        ("--duplicate-rate", args.duplicate_rate),
        ("--late-rate", args.late_rate),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&rate),
            "{name} must be between 0 and 1, got {rate}"
        );
    }
    anyhow::ensure!(
        args.deletes == 0 || args.storefront == weft::demo::Storefront::Shopify,
        "--deletes runs with the Shopify storefront only"
    );
    anyhow::ensure!(
        args.stores >= 1 && args.items >= 1,
        "--stores and --items must be at least 1"
    );
    weft::demo::deletes_fit_the_guard(args.deletes, args.items)?;
    let report = weft::demo::run(weft::demo::DemoOptions {
        seed: args.seed,
        events: args.events,
        drop_rate: args.drop_rate,
        duplicate_rate: args.duplicate_rate,
        reorder_ms: args.reorder_ms,
        late_rate: args.late_rate,
        stores: args.stores,
        items: args.items,
        progress: !args.json,
        keep: args.keep,
        storefront: args.storefront,
        shopify_plan: args.shopify_plan,
        erp_push: !args.no_erp_push,
        deletes: args.deletes,
        delete_action: match args.delete_action {
            DeleteActionArg::Archive => weft_engine::OnDelete::Archive,
            DeleteActionArg::Delete => weft_engine::OnDelete::Delete,
        },
        ..weft::demo::DemoOptions::default()
    })
    .await?;
    if args.json {
        weft::outln!("{}", serde_json::to_string(&report)?);
    } else {
        let v = serde_json::to_value(&report)?;
        weft::outln!("weft demo report");
        if let Some(m) = v.as_object() {
            for (k, v) in m {
                if !matches!(
                    k.as_str(),
                    "drift_details" | "dead_letter_details" | "stock_details" | "drift_lineage"
                ) {
                    weft::outln!("  {k:>22}  {v}");
                }
            }
        }
        for d in &report.dead_letter_details {
            weft::outln!("  dead letter: {d}");
        }
        for d in &report.drift_details {
            weft::outln!("  drift: {d}");
        }
        for d in &report.drift_lineage {
            weft::outln!("  lineage: {d}");
        }
        for d in &report.stock_details {
            weft::outln!("  stock ledger: {d}");
        }
        weft::outln!(
            "{}",
            match (report.drift, report.stock_mismatches) {
                (0, 0) => "both systems agree: drift 0, stock ledger balanced",
                (0, _) =>
                    "STOCK: both systems agree, but stock does not match the ledger (on hand, open demand, available; see above)",
                _ => "DRIFT: the systems disagree (see above)",
            }
        );
    }
    Ok(if report.drift == 0 && report.stock_mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// mimalloc rather than glibc's allocator: it gives freed pages back to the system (glibc keeps
/// them in its heaps) and allocates with less contention between threads. Measured in release
/// (`weft bench stores --stores 10000`): RSS 1,084 -> 993 MiB, idle CPU 7.6% -> 6.6% of a core;
/// `weft bench intake`: 133-160 -> 105-110 us of CPU per webhook.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `weft run` logs as its config's [log] says, unless a flag or WEFT_LOG says otherwise (a
    // config that does not load is reported by the command itself).
    let configured = match &cli.command {
        Command::Run { config } => weft::platforms::load_config(config).ok().map(|c| c.log),
        _ => None,
    };
    let format = cli
        .log_format
        .unwrap_or(match configured.as_ref().map(|l| l.format) {
            Some(weft_config::LogFormat::Json) => LogFormat::Json,
            _ => LogFormat::Text,
        });
    let filter = cli.log.clone().or_else(|| configured.map(|l| l.level));
    init_tracing(format, filter.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(cli.command));
    // Dropping the runtime would wait for any blocking task still running, however long;
    // whatever it is, the command's work is done.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(args) => demo(args).await,
        Command::Sandbox(args) => sandbox::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Run { config } => weft::run::run(&config).await,
        Command::Replay {
            config,
            store,
            since,
            entity,
            json,
            dry_run,
        } => weft::run::replay(&config, &store, since, entity.as_deref(), json, dry_run).await,
        Command::Check {
            config,
            plugins,
            webhooks,
            access,
        } => {
            let mut code = weft::ops::check(&config, plugins)?;
            if webhooks && code == ExitCode::SUCCESS {
                code = weft::ops::check_webhooks(&config).await?;
            }
            if access && code == ExitCode::SUCCESS {
                code = weft::ops::check_access(&config).await?;
            }
            Ok(code)
        }
        Command::Init {
            dir,
            storefront,
            source,
        } => weft::ops::init(
            &dir,
            match source {
                weft::demo_sheet::Source::Sheet => weft::demo_sheet::SHEETS_PLATFORM,
                weft::demo_sheet::Source::Erp => storefront.platform(),
            },
        ),
        Command::Plugin(cmd) => weft::plugin::run(cmd),
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Status(args) => weft::ops::status(args).await,
        Command::Dlq(cmd) => weft::ops::dlq(cmd).await,
        Command::Proposals(cmd) => weft::proposals::proposals(cmd).await,
        Command::Explain(args) => weft::explain::explain(args).await,
        Command::Lineage(cmd) => weft::explain::lineage(cmd).await,
        Command::Privacy(cmd) => weft::privacy::run(cmd).await,
        Command::Deletes(cmd) => weft::deletes::deletes(cmd).await,
    }
}

fn init_tracing(format: LogFormat, filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter.unwrap_or("warn")).unwrap_or_else(|e| {
        eprintln!("warning: bad log filter ({e}); using `warn`");
        EnvFilter::new("warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
