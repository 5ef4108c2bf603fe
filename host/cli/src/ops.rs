//! Operator commands: `weft check`, `weft init`, `weft status`, `weft dlq ...`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use weft_config::{Config, PluginSource, StorageConfig};
use weft_store::Store;

/// `weft check`: validates the config and, when asked, loads every store's plugins.
pub fn check(host_file: &Path, plugins: bool) -> Result<ExitCode> {
    let config = match crate::platforms::load_config(host_file) {
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
                    Ok(p) => crate::outln!(
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
    crate::outln!(
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

/// `weft check --webhooks`: asks each enabled store's systems with webhooks which of weft's
/// subscriptions to `<public_url>/webhooks/<system>/<store>` they are missing (the running host
/// creates and repairs them; this reports what a platform holds now). Fails when any is missing.
pub async fn check_webhooks(host_file: &Path) -> Result<ExitCode> {
    let config = crate::run::load(host_file)?;
    let Some(public) = config.server.public_url.as_ref() else {
        bail!(
            "[server] public_url is not set: weft does not know where the platforms should deliver webhooks"
        );
    };
    let base = public.as_str().trim_end_matches('/');
    let shared = crate::app::HostShared::new();
    let mut missing_any = false;
    for store in config.enabled_stores() {
        for sys in crate::platforms::store_systems(store)? {
            if sys.platform.webhooks().is_none() {
                continue;
            }
            let url = format!("{base}/webhooks/{}/{}", sys.name, store.id);
            let conn = (sys.connect)(&shared)?;
            let missing = conn.missing_webhooks(&url).await.with_context(|| {
                format!(
                    "store {}: cannot read {}'s webhook subscriptions",
                    store.id, sys.name
                )
            })?;
            if missing.is_empty() {
                crate::outln!(
                    "store {}: {}: every webhook subscription to {url} is in place",
                    store.id,
                    sys.name
                );
            } else {
                missing_any = true;
                crate::outln!(
                    "store {}: {}: missing webhook subscriptions to {url}: {} (weft run creates them)",
                    store.id,
                    sys.name,
                    missing.join(", ")
                );
            }
        }
    }
    Ok(if missing_any {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `weft check --access`: asks each enabled store's systems whether their credentials carry
/// the access weft needs (Shopify: the app's access scopes). Fails when any is missing.
pub async fn check_access(host_file: &Path) -> Result<ExitCode> {
    let config = crate::run::load(host_file)?;
    let shared = crate::app::HostShared::new();
    let mut missing_any = false;
    for store in config.enabled_stores() {
        for sys in crate::platforms::store_systems(store)? {
            let conn = (sys.connect)(&shared)?;
            let missing = conn.missing_access().await.with_context(|| {
                format!(
                    "store {}: cannot ask {} which access it holds",
                    store.id, sys.name
                )
            })?;
            if missing.is_empty() {
                crate::outln!("store {}: {}: access ok", store.id, sys.name);
            } else {
                missing_any = true;
                crate::outln!(
                    "store {}: {}: missing access: {} (writes needing it are refused until it is granted)",
                    store.id,
                    sys.name,
                    missing.join(", ")
                );
            }
        }
    }
    Ok(if missing_any {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `weft init`: writes a commented starter config.
pub fn init(dir: &Path, storefront: &str) -> Result<ExitCode> {
    let (store, vars) = crate::platforms::starter_store(storefront)?;
    let written = weft_config::init_with(dir, &store)?;
    for path in &written {
        crate::outln!("wrote {}", path.display());
    }
    crate::outln!(
        "next: set the environment variables it names ({}), then `weft check {}`",
        vars.join(", "),
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
    pub(crate) async fn open(&self) -> Result<Store> {
        let url = match &self.database {
            Some(url) => url.clone(),
            None => {
                let config: Config = crate::platforms::load_config(&self.config)
                    .map_err(|d| anyhow::anyhow!("{d}"))
                    .with_context(|| format!("cannot load {}", self.config.display()))?;
                storage_url(&config)?
            }
        };
        Store::open_existing(&url)
            .await
            .context("cannot open the database")
    }
}

/// The database URL a configuration names (secrets resolved).
pub fn storage_url(config: &Config) -> Result<String> {
    Ok(match &config.storage {
        StorageConfig::Sqlite { .. } => config
            .storage
            .sqlite_url()
            .context("sqlite storage without a path")?,
        StorageConfig::Postgres { url } => url
            .resolve()
            .context("cannot resolve the storage URL")?
            .expose()
            .to_owned(),
    })
}

/// Opens the configured database for a command that works on an existing one (`weft replay`):
/// a SQLite file that does not exist is an error naming its path, and nothing is created.
pub async fn open_existing_store(config: &Config) -> Result<Store> {
    let options = weft_store::OpenOptions::default().with_lease_ttl(config.cluster.lease_ttl);
    Store::open_existing_with(&storage_url(config)?, options)
        .await
        .context("cannot open the database")
}

/// Raises this process's open-file limit to its hard limit (as Go's runtime does: the soft
/// default of 1024 is far below what a server needs) and warns when `[server]`'s connection
/// caps, with room for the database and outbound clients, still do not fit under it: then a
/// flood would exhaust descriptors before the cap refuses it.
pub fn raise_fd_limit(server: &weft_config::ServerConfig) {
    let needed = server.max_connections
        + if server.ops_listen.is_some() {
            weft_server::OPS_MAX_CONNECTIONS as u64
        } else {
            0
        }
        + 256;
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return;
        }
    };
    if limit < needed {
        tracing::warn!(
            limit,
            max_connections = server.max_connections,
            "the open-file limit is below [server] max_connections plus 256 for the database and clients: lower max_connections or raise the limit (LimitNOFILE=)"
        );
    }
}

/// The HTTP serving limits `[server]` sets.
pub fn serve_options(server: &weft_config::ServerConfig) -> weft_server::ServeOptions {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    weft_server::ServeOptions {
        header_read_timeout: server.header_read_timeout,
        idle_timeout: server.idle_timeout,
        max_connections: n(server.max_connections),
        max_connections_per_ip: n(server.max_connections_per_ip),
        shutdown_grace: server.shutdown_grace,
        max_body_bytes: n(server.webhook_max_body_kb.saturating_mul(1024)),
        max_future_skew: server.future_version_skew,
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
        crate::outln!("no stores have journaled anything yet");
    }
    let now = chrono::Utc::now();
    let leases: std::collections::BTreeMap<String, weft_store::Lease> = store
        .leases()
        .await?
        .into_iter()
        .map(|l| (l.store_id.clone(), l))
        .collect();
    if !args.json {
        let hosts: Vec<String> = store
            .hosts()
            .await?
            .into_iter()
            .filter(|h| h.expires_at > now)
            .map(|h| {
                let n = leases
                    .values()
                    .filter(|l| l.holder == h.host_id && l.instance == h.instance && l.is_held(now))
                    .count();
                format!(
                    "{} ({n} stores, up since {})",
                    h.host_id,
                    h.started_at.to_rfc3339()
                )
            })
            .collect();
        if !hosts.is_empty() {
            crate::outln!("hosts: {}", hosts.join(", "));
        }
    }
    let hosts = store.host_beats().await?;
    // Every store's figures and loops in a few reads, not several per store.
    let statuses = store.statuses(&ids).await?;
    let mut loops_of: std::collections::HashMap<String, Vec<LoopVerdict>> =
        std::collections::HashMap::new();
    for r in store.loop_health(args.store.as_deref()).await? {
        loops_of
            .entry(r.store_id.clone())
            .or_default()
            .push(LoopVerdict::judge(r, &hosts, now));
    }
    for s in statuses {
        let id = s.store_id.clone();
        let proposals = crate::proposals::open_count(&store, &id).await?;
        let lease = leases.get(&id);
        let loops = loops_of.remove(&id).unwrap_or_default();
        if args.json {
            let mut v = serde_json::to_value(&s)?;
            v["proposals"] = serde_json::json!(proposals);
            v["owner"] = match lease {
                Some(l) if l.is_held(now) => serde_json::json!({
                    "host": l.holder,
                    "since": l.acquired_at,
                    "lease_expires": l.expires_at,
                    "epoch": l.epoch,
                }),
                _ => serde_json::Value::Null,
            };
            v["loops"] = serde_json::to_value(&loops)?;
            v["unhealthy_loops"] =
                serde_json::json!(loops.iter().filter(|l| l.verdict != "ok").count());
            crate::outln!("{v}");
            continue;
        }
        crate::outln!(
            "{id}: lag {} | outbox pending {} inflight {} done {} | dead letters {} | set aside (not mapped) {} | stock readings waiting for a write {} | intake rejects {} | proposals open {proposals}",
            s.lag,
            s.outbox.pending,
            s.outbox.inflight,
            s.outbox.done,
            s.outbox.dead,
            s.set_aside,
            s.parked,
            s.intake_rejects
        );
        crate::outln!("  {}", owner_line(lease, now));
        if s.deletes_held > 0 {
            crate::outln!(
                "  DELETES HELD {} by the mass-delete guard: `weft deletes list --store {id}`, then `weft deletes release|discard --store {id}`",
                s.deletes_held
            );
        }
        for h in store.system_health(&id).await? {
            match h.down_since {
                Some(since) => crate::outln!(
                    "  system {} DOWN since {} (writes wait behind its breaker); last error: {} [as of {}]",
                    h.system,
                    since.to_rfc3339(),
                    h.last_error.as_deref().unwrap_or("-"),
                    h.updated_at.to_rfc3339()
                ),
                None => crate::outln!(
                    "  system {} up [as of {}]",
                    h.system,
                    h.updated_at.to_rfc3339()
                ),
            }
        }
        for l in &loops {
            crate::outln!("  {}", l.line(now));
        }
        for (name, n) in &s.counters {
            crate::outln!("  {name}: {n}");
        }
        for r in store.privacy_requests(Some(&id), false).await? {
            crate::outln!("  privacy {}", crate::privacy::line(&r));
        }
    }
    if !args.json {
        // Last, so the store lines come first (`weft status | head`).
        crate::outln!("{}", host_line(&hosts, now));
    }
    Ok(ExitCode::SUCCESS)
}

/// Who serves a store, as `weft status` prints it.
fn owner_line(lease: Option<&weft_store::Lease>, now: chrono::DateTime<chrono::Utc>) -> String {
    match lease {
        Some(l) if l.is_held(now) => format!(
            "served by host {} since {} (lease epoch {}, expires in {:.1} s unless renewed)",
            l.holder,
            l.acquired_at.to_rfc3339(),
            l.epoch,
            (l.expires_at - now).num_milliseconds() as f64 / 1000.0
        ),
        Some(l) if l.expires_at.timestamp_millis() == 0 => format!(
            "served by no host: handed back by {} (epoch {})",
            l.holder, l.epoch
        ),
        Some(l) => format!(
            "served by no host: the lease of {} expired at {} (epoch {})",
            l.holder,
            l.expires_at.to_rfc3339(),
            l.epoch
        ),
        None => "served by no host yet (never leased)".into(),
    }
}

/// How long ago `t` was, for people (`3 s`, `12 min`, `5 h`, `2 d`).
fn ago(now: chrono::DateTime<chrono::Utc>, t: chrono::DateTime<chrono::Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// The first line of `weft status`: whether a host runs on this database.
fn host_line(hosts: &[weft_store::HostBeat], now: chrono::DateTime<chrono::Utc>) -> String {
    let live: Vec<_> = hosts.iter().filter(|h| h.is_live(now)).collect();
    if !live.is_empty() {
        return live
            .iter()
            .map(|h| {
                format!(
                    "host (pid {}) running since {}, last beat {} ago",
                    h.pid,
                    h.started_at.to_rfc3339(),
                    ago(now, h.beat_at)
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    match hosts.first() {
        None => "NO HOST has run on this database yet (or one older than store loop health)".into(),
        Some(h) => match h.stopped_at {
            Some(at) => format!(
                "NO HOST RUNNING: the last one (pid {}, started {}) stopped at {} ({} ago)",
                h.pid,
                h.started_at.to_rfc3339(),
                at.to_rfc3339(),
                ago(now, at)
            ),
            None => format!(
                "NO HOST RUNNING: the last one (pid {}, started {}) stopped beating at {} ({} ago; it beats every {} s) without stopping cleanly: it died, was killed, or hangs",
                h.pid,
                h.started_at.to_rfc3339(),
                h.beat_at.to_rfc3339(),
                ago(now, h.beat_at),
                h.beat_every.as_secs_f64()
            ),
        },
    }
}

/// One store loop as `weft status` judges it: the host's own judgement while that host still
/// beats, else "host not running".
#[derive(Debug, serde::Serialize)]
pub struct LoopVerdict {
    /// What the host recorded.
    #[serde(flatten)]
    pub record: weft_store::LoopHealthRecord,
    /// `ok`, `unhealthy`, or `host not running`.
    pub verdict: &'static str,
    /// Whether the host that runs it still beats.
    pub host_running: bool,
}

impl LoopVerdict {
    fn judge(
        record: weft_store::LoopHealthRecord,
        hosts: &[weft_store::HostBeat],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let host_running = hosts
            .iter()
            .any(|h| h.host == record.host && h.is_live(now));
        let verdict = if !host_running {
            "host not running"
        } else if record.healthy {
            "ok"
        } else {
            "unhealthy"
        };
        LoopVerdict {
            record,
            verdict,
            host_running,
        }
    }

    fn line(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let r = &self.record;
        let last = r.last_round.map_or_else(
            || "no round yet".into(),
            |t| format!("last round {} ago", ago(now, t)),
        );
        match self.verdict {
            // A loop in a round says how long it has run and, if it says, how far it has got
            // (a backfill's bulk operation).
            "ok" if r.detail.starts_with("in a round") => format!(
                "loop {} ok ({}): {} rounds, {last}",
                r.name, r.detail, r.rounds
            ),
            "ok" => format!("loop {} ok: {} rounds, {last}", r.name, r.rounds),
            "unhealthy" => format!(
                "loop {} UNHEALTHY since {} ({} ago): {}; {last}{}",
                r.name,
                r.unhealthy_since.unwrap_or(r.updated_at).to_rfc3339(),
                ago(now, r.unhealthy_since.unwrap_or(r.updated_at)),
                r.detail,
                r.last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ),
            _ => format!(
                "loop {} NOT RUNNING: its host {} is not running; as of {} it was {}: {}; {last}",
                r.name,
                r.host,
                r.updated_at.to_rfc3339(),
                r.state,
                r.detail
            ),
        }
    }
}

/// A dead letter's id as `weft dlq list` prints it (`#65`) or bare (`65`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlqId(pub i64);

impl std::str::FromStr for DlqId {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let digits = s.trim().strip_prefix('#').unwrap_or(s.trim());
        match digits.parse::<i64>() {
            Ok(n) if n > 0 => Ok(DlqId(n)),
            _ => Err(format!(
                "`{s}` is not a dead letter id: expected a number as `weft dlq list` prints it, e.g. `#65` or `65`"
            )),
        }
    }
}

/// Which dead letters `weft dlq retry --all` re-queues.
#[derive(Debug, Clone, Default, Args)]
pub struct DlqFilter {
    /// Only this store's.
    #[arg(long)]
    pub store: Option<String>,
    /// Only writes of this entity kind (as `weft dlq list` prints it, e.g. `product`).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only those that died at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl DlqFilter {
    fn matches(&self, row: &weft_store::OutboxRow) -> bool {
        self.store.as_deref().is_none_or(|s| row.store_id == s)
            && self.kind.as_deref().is_none_or(|k| row.kind == k)
            && self.since.is_none_or(|t| row.updated_at >= t)
    }
}

/// The `weft dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (writes a platform refused) and set-aside entries (journal entries a
    /// plugin could not map, `set aside ...`), oldest first.
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
        /// The dead letter's id, as `weft dlq list` prints it (`#65`) or bare (`65`).
        id: DlqId,
    },
    /// Queue dead letters again (for example after fixing the mapping or the data): the ids
    /// given, or with `--all` every one matching `--store`, `--kind` and `--since`, and every
    /// matching set-aside entry (processed again through the store's plugins as they are then).
    Retry {
        #[command(flatten)]
        db: StoreArgs,
        /// Dead letter ids, as `weft dlq list` prints them (`#65`) or bare (`65`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<DlqId>,
        /// Every dead letter matching the filters (all of them without filters).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: DlqFilter,
    },
    /// Give up on a dead letter; it is kept, marked discarded, so its write is never re-sent.
    Discard {
        #[command(flatten)]
        db: StoreArgs,
        /// The dead letter's id, as `weft dlq list` prints it (`#65`) or bare (`65`).
        id: DlqId,
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
            let db = db.open().await?;
            let rows = db.list_dead_letters(store.as_deref(), limit).await?;
            let aside = db
                .list_set_aside(
                    &weft_store::SetAsideFilter {
                        store: store.clone(),
                        ..Default::default()
                    },
                    limit,
                )
                .await?;
            if rows.is_empty() && aside.is_empty() && !json {
                crate::outln!("no dead letters");
            }
            for (store_id, a) in &aside {
                if json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({ "set_aside": a, "store_id": store_id })
                    );
                } else {
                    let target = if a.target.is_empty() {
                        String::new()
                    } else {
                        format!(" for {}", a.target)
                    };
                    crate::outln!(
                        "set aside {store_id} journal entry {} ({}{target}) {} {}/{}: {}",
                        a.seq,
                        a.stage,
                        a.system,
                        a.kind,
                        a.entity_id,
                        a.reason
                    );
                }
            }
            for r in rows {
                if json {
                    crate::outln!("{}", serde_json::to_string(&r)?);
                } else {
                    crate::outln!(
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
        DlqCommand::Show { db, id: DlqId(id) } => match db.open().await?.outbox_row(id).await? {
            Some(row) => crate::outln!("{}", serde_json::to_string_pretty(&row)?),
            None => bail!("no outbox row #{id}"),
        },
        DlqCommand::Retry {
            db,
            ids,
            all,
            filter,
        } => {
            let store = db.open().await?;
            let ids: Vec<i64> = if all {
                store
                    .list_dead_letters(filter.store.as_deref(), u32::MAX)
                    .await?
                    .into_iter()
                    .filter(|r| filter.matches(r))
                    .map(|r| r.id)
                    .collect()
            } else {
                anyhow::ensure!(
                    filter.store.is_none() && filter.kind.is_none() && filter.since.is_none(),
                    "--store, --kind and --since select dead letters for --all; with ids, give only the ids"
                );
                ids.into_iter().map(|DlqId(id)| id).collect()
            };
            // Each store concerned is leased for the retry (refused, naming the host, while a
            // host serves it), so nothing races the store's own loops.
            let aside_filter = weft_store::SetAsideFilter {
                store: filter.store.clone(),
                kind: filter.kind.clone(),
                since: filter.since,
                seq: None,
            };
            let mut of_store = Vec::with_capacity(ids.len());
            let mut stores = std::collections::BTreeSet::new();
            for id in ids {
                let s = store.outbox_row(id).await?.map(|r| r.store_id);
                stores.extend(s.clone());
                of_store.push((id, s));
            }
            if all {
                // The store named is leased even with nothing to retry: the answer is the same
                // whether or not a host serves it.
                stores.extend(filter.store.clone());
                stores.extend(
                    store
                        .list_set_aside(&aside_filter, u32::MAX)
                        .await?
                        .into_iter()
                        .map(|(s, _)| s),
                );
            }
            let ttl = weft_config::ClusterConfig::default().lease_ttl;
            let mut leases = std::collections::BTreeMap::new();
            for s in &stores {
                match crate::cluster::CommandLease::take(&store, s, "dlq retry", ttl).await {
                    Ok(l) => {
                        leases.insert(s.clone(), l);
                    }
                    Err(e) => {
                        for (_, l) in leases {
                            let _ = l.release().await;
                        }
                        return Err(e);
                    }
                }
            }
            let result = async {
                let mut missing = Vec::new();
                let mut queued = 0usize;
                for (id, s) in of_store {
                    let lease = s.as_ref().and_then(|s| leases.get(s));
                    let retried = match lease {
                        Some(l) => l.db.retry_dead_letter(id, now).await?,
                        None => false,
                    };
                    if retried {
                        queued += 1;
                        crate::outln!("#{id} queued again");
                    } else {
                        missing.push(format!("#{id}"));
                    }
                }
                if all {
                    crate::outln!(
                        "{queued} dead letter{} queued again",
                        if queued == 1 { "" } else { "s" }
                    );
                    let mut aside = 0;
                    for (s, l) in &leases {
                        let one = weft_store::SetAsideFilter {
                            store: Some(s.clone()),
                            ..aside_filter.clone()
                        };
                        aside += l.db.retry_set_aside(&one, now).await?;
                    }
                    crate::outln!(
                        "{aside} set-aside entr{} queued to be processed again",
                        if aside == 1 { "y" } else { "ies" }
                    );
                }
                Ok::<_, anyhow::Error>(missing)
            }
            .await;
            for (_, l) in leases {
                l.release().await?;
            }
            let missing = result?;
            if !missing.is_empty() {
                bail!("not a dead letter: {}", missing.join(", "));
            }
        }
        DlqCommand::Discard { db, id: DlqId(id) } => {
            if !db.open().await?.discard_dead_letter(id, now).await? {
                bail!("#{id} is not a dead letter");
            }
            crate::outln!("#{id} discarded");
        }
    }
    Ok(ExitCode::SUCCESS)
}
