//! `weft run` and `weft replay`: a host driven by the configuration files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use weft_config::{ChangeAction, Config, StockOwnerConfig, StorageConfig, StoreConfig};
use weft_engine::{
    Mode, OnChange, Ownership, Processor, ResolverRule, StepReport, StockOwner, StockPolicy, Timing,
};
use weft_runtime::{Limits, Runtime, RuntimeConfig};
use weft_store::Store;

use crate::app::{Host, StorePlugin, StoreSetup};
use crate::cluster::{ClusterOptions, CommandLease};

/// Loads and validates the configuration (secrets resolved now, so a missing one fails at
/// start, with its file and line).
pub fn load(host_file: &Path) -> Result<Config> {
    let config = crate::platforms::load_config(host_file).map_err(|d| anyhow!("{d}"))?;
    let problems = config.check_secrets();
    if problems.iter().next().is_some() {
        return Err(anyhow!("{problems}"));
    }
    Ok(config)
}

/// Opens the configured database.
pub async fn open_store(config: &Config) -> Result<Store> {
    let url = match &config.storage {
        StorageConfig::Sqlite { .. } => config
            .storage
            .sqlite_url()
            .context("sqlite storage without a path")?,
        StorageConfig::Postgres { url } => url.resolve()?.expose().to_owned(),
    };
    // PostgreSQL sessions limited for several hosts: a host stopped inside a transaction
    // holds no lock past a third of the lease TTL (see `[cluster]`).
    let options = weft_store::OpenOptions::default().with_lease_ttl(config.cluster.lease_ttl);
    Store::open_with(&url, options)
        .await
        .context("cannot open the database")
}

/// The plugin runtime the configuration describes.
pub fn runtime(config: &Config) -> Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        cache_dir: Some(config.runtime.cache_dir.clone()),
        max_instances: config.runtime.pool_size,
        // The stack limit is the engine's, one for every store ([runtime.limits] stack_kb).
        max_stack_bytes: config.runtime.limits.stack_bytes(),
        ..RuntimeConfig::default()
    })?)
}

fn limits(store: &StoreConfig) -> Limits {
    let l = &store.limits;
    Limits {
        timeout: l.timeout(),
        fuel: l.fuel,
        memory_bytes: l.memory_bytes(),
        stack_bytes: l.stack_bytes(),
        max_input_bytes: l.max_input_bytes(),
        max_output_bytes: l.max_output_bytes(),
        max_log_bytes: l.max_log_bytes(),
    }
}

/// The plugins a host's stores load, by source: stores naming the same plugin share one load
/// (one compile per plugin per process, not one per store: a host of many stores would
/// otherwise queue the same compile once per store behind the runtime's compile budget).
#[derive(Default)]
pub struct PluginLoads(std::collections::HashMap<String, StorePlugin>);

/// Starts loading a plugin in the background (compiling is bounded but can take seconds): the
/// host starts every store whose plugins are ready, and a store whose plugin is still
/// compiling waits for it. A missing file or unknown stock plugin fails here. A plugin already
/// in `loads` is shared.
fn start_loading(
    runtime: &Runtime,
    source: &weft_config::PluginSource,
    loads: &mut PluginLoads,
) -> Result<StorePlugin> {
    let key = match source {
        weft_config::PluginSource::Builtin(name) => format!("builtin:{name}"),
        weft_config::PluginSource::File(path) => format!("file:{}", path.display()),
    };
    if let Some(p) = loads.0.get(&key) {
        return Ok(p.clone());
    }
    let plugin = start_loading_one(runtime, source)?;
    loads.0.insert(key, plugin.clone());
    Ok(plugin)
}

fn start_loading_one(runtime: &Runtime, source: &weft_config::PluginSource) -> Result<StorePlugin> {
    Ok(match source {
        weft_config::PluginSource::Builtin(name) => {
            let bytes = weft_plugin_artifacts::stock(name).with_context(|| {
                let known: Vec<_> = weft_plugin_artifacts::STOCK.iter().map(|s| s.1).collect();
                format!(
                    "no stock plugin `{name}` (stock plugins: {})",
                    known.join(", ")
                )
            })?;
            StorePlugin::Loading(runtime.load_in_background(name, bytes))
        }
        weft_config::PluginSource::File(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read plugin {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "plugin".to_string());
            StorePlugin::Loading(runtime.load_in_background(&name, bytes))
        }
    })
}

/// Resolves one store's configuration into what the host runs.
pub fn setup(
    store: &StoreConfig,
    runtime: &Runtime,
    public_url: Option<&str>,
) -> Result<StoreSetup> {
    setup_with(store, runtime, public_url, &mut PluginLoads::default())
}

/// [`setup`], sharing plugin loads with the other stores set up with the same `loads`.
pub fn setup_with(
    store: &StoreConfig,
    runtime: &Runtime,
    public_url: Option<&str>,
    loads: &mut PluginLoads,
) -> Result<StoreSetup> {
    let ctx = |what: &str| format!("store {}: {what}", store.id);
    let mut resolvers = Vec::new();
    for (pattern, plugin) in store.plugins.resolver_rules() {
        resolvers.push((
            pattern,
            start_loading(runtime, &plugin.source, loads).with_context(|| ctx("resolver"))?,
        ));
    }
    Ok(StoreSetup {
        id: store.id.clone(),
        systems: crate::platforms::store_systems(store)?,
        mapper: start_loading(runtime, &store.plugins.mapper.source, loads)
            .with_context(|| ctx("mapper"))?,
        resolvers,
        plugin_config: store.plugin_config(),
        limits: limits(store),
        timing: Timing {
            poll_interval: store.schedule.cdc_interval,
            schedule: Some(schedule(store)?),
            reconcile_interval: Some(store.schedule.reconcile_interval),
            ..Timing::default()
        },
        poll_overlap: store.schedule.poll_overlap.max(store.schedule.cdc_overlap),
        public_url: public_url.map(str::to_owned),
        stock: stock_policy(store),
        ownership: ownership(store),
        deletes: delete_policy(store),
    })
}

/// The store's `[deletes]` as the engine holds it.
pub(crate) fn delete_policy(store: &StoreConfig) -> weft_engine::DeletePolicy {
    weft_engine::DeletePolicy {
        kinds: store
            .deletes
            .kinds
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    match a {
                        weft_config::DeleteAction::Archive => weft_engine::OnDelete::Archive,
                        weft_config::DeleteAction::Delete => weft_engine::OnDelete::Delete,
                        weft_config::DeleteAction::Ignore => weft_engine::OnDelete::Ignore,
                    },
                )
            })
            .collect(),
        guard_percent: store.deletes.guard_percent,
        guard_min: store.deletes.guard_min,
    }
}

/// The store's `[policy]` owners and `on_change` actions as the engine holds them.
pub(crate) fn ownership(store: &StoreConfig) -> Ownership {
    Ownership::new(
        store.policy.owners.clone(),
        store.policy.on_change.iter().map(|(p, a)| {
            (
                p.clone(),
                match a {
                    ChangeAction::Revert => OnChange::Revert,
                    ChangeAction::Propose => OnChange::Propose,
                    ChangeAction::Accept => OnChange::Accept,
                },
            )
        }),
    )
}

/// The store's `[stock]` as the engine keeps it.
pub(crate) fn stock_policy(store: &StoreConfig) -> StockPolicy {
    StockPolicy {
        owner: match &store.stock.owner {
            StockOwnerConfig::Erp => StockOwner::Erp,
            StockOwnerConfig::System(s) => StockOwner::System(s.clone()),
            StockOwnerConfig::None => StockOwner::Counters,
        },
        buffer: i64::try_from(store.stock.buffer).unwrap_or(i64::MAX),
    }
}

/// The store's `[schedule]` as the runner applies it (times in UTC): change capture every
/// `cdc_interval` (the sources that reconcile behind webhooks every `reconcile_interval`, see
/// `Timing::reconcile_interval`), the full-resync cron, quiet hours.
pub(crate) fn schedule(store: &StoreConfig) -> Result<weft_ratelimit::Schedule> {
    let s = &store.schedule;
    let quiet = s
        .quiet_hours
        .map(|q| format!("{}-{}", q.start.format("%H:%M"), q.end.format("%H:%M")));
    weft_ratelimit::Schedule::parse(
        s.cdc_interval,
        s.full_resync_cron.as_ref().map(|c| c.as_str()),
        quiet.as_deref(),
        None,
    )
    .with_context(|| format!("store {}: [schedule]", store.id))
}

/// How often `weft run` purges old lineage (`[console] lineage_retention`).
pub const LINEAGE_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// `weft run`: every enabled store until Ctrl-C.
pub async fn run(host_file: &Path) -> Result<ExitCode> {
    let config = load(host_file)?;
    crate::ops::raise_fd_limit(&config.server);
    // Listen first: a port clash stops start-up here, before any store's loops run.
    let listeners =
        weft_server::Listeners::bind(config.server.listen, config.server.ops_listen).await?;
    let db = open_store(&config).await?;
    let runtime = runtime(&config)?;
    let public_url = config
        .server
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned());
    let mut loads = PluginLoads::default();
    let setups = config
        .enabled_stores()
        .map(|s| setup_with(s, &runtime, public_url.as_deref(), &mut loads))
        .collect::<Result<Vec<_>>>()?;
    let n = setups.len();
    let serve = crate::ops::serve_options(&config.server);
    let console = crate::console::options(&config, &db, &runtime)?;
    let exports = Some(config.privacy.export_dir.clone());
    // Each store's loops start once this host holds its lease (the store's new holder recovers
    // the writes a previous holder left in flight); webhooks are accepted for every store.
    let cluster = ClusterOptions::from_config(&config.cluster);
    let host = Host::start_clustered(
        db, &runtime, setups, listeners, serve, console, exports, cluster,
    )
    .await?;
    eprintln!(
        "weft: host {} serving its share of {n} store{} (leases in the database); webhooks at http://{}/webhooks/<system>/<store>, metrics at /metrics. Ctrl-C stops.",
        host.host_id,
        if n == 1 { "" } else { "s" },
        host.addr
    );
    let purge = config.console.lineage_retention.map(|keep| {
        crate::explain::spawn_lineage_purge(host.db.clone(), keep, LINEAGE_PURGE_EVERY)
    });
    shutdown_signal().await?;
    if let Some(p) = purge {
        p.abort();
    }
    host.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM (what service managers send to stop).
async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot wait for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")
    }
}

/// `weft replay`: re-runs journaled changes through the store's current plugins, holding the
/// store's lease (refused while a host serves the store). Writes go to the outbox (the host
/// that takes the store next sends them); a second replay plans nothing new.
pub async fn replay(
    host_file: &Path,
    store_id: &str,
    since: Option<DateTime<Utc>>,
    entity: Option<&str>,
    json: bool,
    dry_run: bool,
) -> Result<ExitCode> {
    let config = load(host_file)?;
    let store = config
        .store(store_id)
        .with_context(|| format!("no store `{store_id}` in {}", host_file.display()))?;
    let db = crate::ops::open_existing_store(&config).await?;
    let runtime = runtime(&config)?;
    let s = setup(store, &runtime, None)?;
    if dry_run {
        let preview = crate::console::preview_store(&db, &runtime, &s, since, entity).await?;
        crate::console::print_preview(store_id, &preview, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    // The store's lease for as long as the replay runs: the host serving the store would
    // otherwise step it at the same time. Refused, naming that host, while one serves it; a
    // host running on this database can run the replay from its console instead.
    let lease = match CommandLease::take(&db, store_id, "replay", config.cluster.lease_ttl).await {
        Ok(lease) => lease,
        Err(e) => {
            let now = Utc::now();
            return Err(
                match db.host_beats().await?.into_iter().find(|h| h.is_live(now)) {
                    Some(h) => e.context(format!(
                        "a host (pid {}, started {}) is running on this database: run the replay from its console \
                         (/console/stores/{store_id}/replay), which takes turns with the store's processing loop, \
                         or stop the host first",
                        h.pid,
                        h.started_at.to_rfc3339()
                    )),
                    None => e,
                },
            );
        }
    };
    let bar = (!json).then(indicatif::ProgressBar::new_spinner);
    let total = replay_store(&lease.db, &runtime, &s, since, entity, bar.as_ref()).await;
    lease.release().await?;
    let total = total?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        crate::outln!("{}", serde_json::to_string(&total)?);
    } else {
        crate::outln!(
            "replayed {} journal entries of store {store_id}: {} mapped, {} failed, {} conflicts, {} writes queued",
            total.entries,
            total.mapped,
            total.failed,
            total.conflicts,
            total.writes
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The journal kinds holding the documents an entity kind is read from, which is what
/// `weft replay --entity` selects: prices and variants travel inside Shopify products and
/// NetSuite items (journal kind `variant`), so `price` and `variant` select both. An error names
/// the kinds accepted.
pub fn journal_kinds(entity: &str) -> Result<&'static [&'static str]> {
    Ok(match entity {
        "product" => &["product"],
        "variant" | "price" => &["product", "variant"],
        "inventory-level" => &["inventory-level"],
        "customer" => &["customer"],
        "order" => &["order"],
        other => {
            return Err(anyhow!(
                "unknown entity kind `{other}`: expected product, variant, price, inventory-level, customer or order"
            ));
        }
    })
}

/// A processor of `setup`'s store with its current plugins and no connections (it plans; a
/// running host sends).
pub async fn replay_processor(
    db: &Store,
    runtime: &Runtime,
    setup: &StoreSetup,
) -> Result<Processor> {
    let ctx = setup.plugin_ctx();
    let mut rules = Vec::new();
    for (pattern, plugin) in &setup.resolvers {
        rules.push(ResolverRule {
            pattern: pattern.clone(),
            resolver: runtime.resolver(&plugin.ready().await?, ctx.clone())?,
        });
    }
    Ok(Processor::new(
        setup.id.clone(),
        db.clone(),
        setup.offline_systems(),
        runtime.mapper(&setup.mapper.ready().await?, ctx)?,
        rules,
    )
    .with_stock(setup.stock.clone())
    .with_ownership(setup.ownership.clone())
    .with_deletes(setup.deletes.clone()))
}

/// The work of `weft replay` for one resolved store: re-runs the store's journal entries
/// received at or after `since` (all when `None`), of entity kind `entity` (all when `None`; see
/// [`journal_kinds`]), in journal order, through `setup`'s current mapper and resolvers
/// ([`Mode::Replay`]: the cursor is left alone). Planned writes go to the outbox for a running
/// host to send. Returns the totals; `progress`, when given, shows a running count.
pub async fn replay_store(
    db: &Store,
    runtime: &Runtime,
    setup: &StoreSetup,
    since: Option<DateTime<Utc>>,
    entity: Option<&str>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<StepReport> {
    let kinds = entity.map(journal_kinds).transpose()?;
    // One journal kind is filtered by the database; several are read together and filtered
    // here, so the entries keep their journal order across kinds.
    let db_kind = match kinds {
        Some([one]) => Some(*one),
        _ => None,
    };
    let processor = replay_processor(db, runtime, setup).await?;
    let mut after = 0;
    let mut total = StepReport::default();
    loop {
        let page = db
            .journal_range(&setup.id, since, db_kind, after, 500)
            .await?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        after = last;
        let page: Vec<_> = page
            .into_iter()
            .filter(|e| kinds.is_none_or(|k| k.contains(&e.kind.as_str())))
            .collect();
        if page.is_empty() {
            continue;
        }
        let r = processor
            .process(page, Mode::Replay)
            .await
            .with_context(|| format!("store {}: replay", setup.id))?;
        total.entries += r.entries;
        total.stale += r.stale;
        total.duplicates += r.duplicates;
        total.deferred += r.deferred;
        total.mapped += r.mapped;
        total.skipped += r.skipped;
        total.failed += r.failed;
        total.conflicts += r.conflicts;
        total.writes += r.writes;
        if let Some(b) = progress {
            b.set_message(format!(
                "{} entries replayed, {} writes planned",
                total.entries, total.writes
            ));
        }
    }
    Ok(total)
}
