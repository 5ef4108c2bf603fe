//! Operator commands: `weft check`, `weft init`, `weft status`, `weft dlq ...`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use weft_config::{Config, PluginSource, StorageConfig};
use weft_store::Store;

/// `weft check`: validates the config and, when asked, loads every store's plugins.
pub fn check(host_file: &Path, plugins: bool) -> Result<ExitCode> {
    let config = match weft_config::load(host_file) {
        Ok(c) => c,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut failed = false;
    let secrets = config.check_secrets();
    if secrets.iter().next().is_some() {
        eprintln!("{secrets}");
        failed = true;
    }
    // The schedule as `weft run` builds it, so what `check` accepts the runner accepts.
    for store in &config.stores {
        if let Err(e) = crate::run::schedule(store) {
            eprintln!("error: {e:#}");
            failed = true;
        }
    }
    if plugins {
        let runtime = crate::plugin::tool_runtime()?;
        for store in &config.stores {
            let mut roles = vec![("mapper".to_owned(), &store.plugins.mapper)];
            for (pattern, plugin) in store.plugins.resolver_rules() {
                roles.push((format!("resolver for {pattern}"), plugin));
            }
            for (role, plugin) in roles {
                match load_plugin(&runtime, &plugin.source) {
                    Ok(p) => println!(
                        "store {}: {role} {} {} ({:?}, {})",
                        store.id,
                        p.info().name,
                        p.info().version,
                        p.role(),
                        &p.hash()[..12]
                    ),
                    Err(e) => {
                        failed = true;
                        let at = plugin
                            .origin
                            .as_ref()
                            .map(|o| format!(" (named at {o})"))
                            .unwrap_or_default();
                        eprintln!("error: store {}: {role}{at}: {e:#}", store.id);
                    }
                }
            }
        }
    }
    if failed {
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{}: ok ({} store{})",
        host_file.display(),
        config.stores.len(),
        if config.stores.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads a configured plugin: a stock one embedded in this binary, or a component file.
pub fn load_plugin(
    runtime: &weft_runtime::Runtime,
    source: &PluginSource,
) -> Result<std::sync::Arc<weft_runtime::Plugin>> {
    match source {
        PluginSource::Builtin(name) => {
            let bytes = weft_plugin_artifacts::stock(name).with_context(|| {
                let known: Vec<_> = weft_plugin_artifacts::STOCK.iter().map(|s| s.1).collect();
                format!(
                    "no stock plugin `{name}` (stock plugins: {})",
                    known.join(", ")
                )
            })?;
            Ok(runtime.load(name, bytes)?)
        }
        PluginSource::File(path) => Ok(runtime.load_file(path)?),
    }
}

/// `weft init`: writes a commented starter config.
pub fn init(dir: &Path) -> Result<ExitCode> {
    let written = weft_config::init(dir)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "next: set the environment variables it names ({}), then `weft check {}`",
        weft_config::STARTER_ENV_VARS.join(", "),
        written
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// Where the operator commands find the database.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The host config file (its `[storage]` names the database).
    #[arg(long, short, default_value = "weft.toml")]
    pub config: PathBuf,
    /// A database URL instead of the config's (`sqlite://path`, `postgres://...`).
    #[arg(long, env = "WEFT_DATABASE_URL")]
    pub database: Option<String>,
}

impl StoreArgs {
    async fn open(&self) -> Result<Store> {
        let url = match &self.database {
            Some(url) => url.clone(),
            None => {
                let config: Config = weft_config::load(&self.config)
                    .map_err(|d| anyhow::anyhow!("{d}"))
                    .with_context(|| format!("cannot load {}", self.config.display()))?;
                match &config.storage {
                    StorageConfig::Sqlite { .. } => config
                        .storage
                        .sqlite_url()
                        .context("sqlite storage without a path")?,
                    StorageConfig::Postgres { url } => url
                        .resolve()
                        .context("cannot resolve the storage URL")?
                        .expose()
                        .to_owned(),
                }
            }
        };
        Store::open(&url).await.context("cannot open the database")
    }
}

/// Flags of `weft status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: StoreArgs,
    /// Only this store.
    #[arg(long)]
    pub store: Option<String>,
    /// Print one JSON object per store, one per line.
    #[arg(long)]
    pub json: bool,
}

/// `weft status`: per-store lag, outbox depth, dead letters and counters.
pub async fn status(args: StatusArgs) -> Result<ExitCode> {
    let store = args.db.open().await?;
    let ids = match &args.store {
        Some(id) => vec![id.clone()],
        None => store.store_ids().await?,
    };
    if ids.is_empty() && !args.json {
        println!("no stores have journaled anything yet");
    }
    for id in ids {
        let s = store.status(&id).await?;
        if args.json {
            println!("{}", serde_json::to_string(&s)?);
            continue;
        }
        println!(
            "{id}: lag {} | outbox pending {} inflight {} done {} | dead letters {} | stock readings waiting for a write {} | intake rejects {}",
            s.lag,
            s.outbox.pending,
            s.outbox.inflight,
            s.outbox.done,
            s.outbox.dead,
            s.parked,
            s.intake_rejects
        );
        for (name, n) in &s.counters {
            println!("  {name}: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `weft dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, newest first.
    List {
        #[command(flatten)]
        db: StoreArgs,
        /// Only this store.
        #[arg(long)]
        store: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter in full: the write, its attempts and the platform's message.
    Show {
        #[command(flatten)]
        db: StoreArgs,
        /// The dead letter's id (from `weft dlq list`).
        id: i64,
    },
    /// Queue a dead letter again (for example after fixing the mapping or the data).
    Retry {
        #[command(flatten)]
        db: StoreArgs,
        /// The dead letter's id.
        id: i64,
    },
    /// Give up on a dead letter; it is kept, marked discarded, so its write is never re-sent.
    Discard {
        #[command(flatten)]
        db: StoreArgs,
        /// The dead letter's id.
        id: i64,
    },
}

/// Runs a `weft dlq` subcommand.
pub async fn dlq(cmd: DlqCommand) -> Result<ExitCode> {
    let now = chrono::Utc::now();
    match cmd {
        DlqCommand::List {
            db,
            store,
            limit,
            json,
        } => {
            let rows = db
                .open()
                .await?
                .list_dead_letters(store.as_deref(), limit)
                .await?;
            if rows.is_empty() && !json {
                println!("no dead letters");
            }
            for r in rows {
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    println!(
                        "#{} {} {} {}/{} {} attempts {}: {}",
                        r.id,
                        r.store_id,
                        r.system,
                        r.kind,
                        r.key,
                        r.op,
                        r.attempts,
                        r.last_error.as_deref().unwrap_or("")
                    );
                }
            }
        }
        DlqCommand::Show { db, id } => match db.open().await?.outbox_row(id).await? {
            Some(row) => println!("{}", serde_json::to_string_pretty(&row)?),
            None => bail!("no outbox row #{id}"),
        },
        DlqCommand::Retry { db, id } => {
            if !db.open().await?.retry_dead_letter(id, now).await? {
                bail!("#{id} is not a dead letter");
            }
            println!("#{id} queued again");
        }
        DlqCommand::Discard { db, id } => {
            if !db.open().await?.discard_dead_letter(id, now).await? {
                bail!("#{id} is not a dead letter");
            }
            println!("#{id} discarded");
        }
    }
    Ok(ExitCode::SUCCESS)
}
