//! Assembles a running host: the database, the plugin runtime, one runner per store (processing,
//! dispatch, pollers) and the HTTP server (webhook intake, metrics, health).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;
use weft_engine::{
    Dispatcher, HealthPolicy, LoopHealth, Ownership, Poller, Processor, ResolverRule, StockPolicy,
    StoreRunner, System, Systems, Timing, Wakers,
};
use weft_platform::{Connection, Platform, SourceCtx};
use weft_ratelimit::{
    Backoff, BackoffConfig, BreakerConfig, BreakerState, CircuitBreaker, GovernorRegistry,
};
use weft_runtime::{Limits, Plugin, Runtime, StoreCtx};
use weft_server::{
    ConsoleOptions, IntakeStore, Listeners, LoopStatus, Metrics, ServeOptions, ServerState,
    SystemHealth, WebhookSecret,
};
use weft_store::{GroupCommitConfig, JournalWriter, Store};

pub use crate::cluster::ClusterOptions;

/// What the host shares between the connections it builds: an ERP account's concurrency limit
/// is shared by every store on that account.
pub struct HostShared {
    /// Concurrency governors, one per account.
    pub governors: GovernorRegistry,
    breakers: parking_lot::Mutex<HashMap<String, CircuitBreaker>>,
}

impl HostShared {
    /// An empty set of shared resources.
    pub fn new() -> Self {
        HostShared {
            governors: GovernorRegistry::new(),
            breakers: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// The circuit breaker of platform account `account` (every store's connection to the
    /// same account shares it: an outage is the account's, not one store's).
    pub fn breaker(&self, account: &str) -> CircuitBreaker {
        self.breakers
            .lock()
            .entry(account.to_owned())
            .or_insert_with(|| CircuitBreaker::new(account.to_owned(), BreakerConfig::default()))
            .clone()
    }
}

impl Default for HostShared {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds one store's connection to one system (secrets already resolved).
pub type Connect = Arc<dyn Fn(&HostShared) -> Result<Arc<dyn Connection>> + Send + Sync>;

/// One system of a store, resolved from its config section ([`crate::platforms`]).
#[derive(Clone)]
pub struct SystemSetup {
    /// The system's name in the store.
    pub name: String,
    /// Its platform.
    pub platform: Arc<dyn Platform>,
    /// Webhook secrets accepted (current first); none for a platform without webhooks.
    pub webhook_secrets: Vec<Vec<u8>>,
    /// The system's account as its platform names it in deliveries (a Shopify shop domain):
    /// deliveries for another account are refused.
    pub account: Option<String>,
    /// Builds the connection.
    pub connect: Connect,
}

/// Everything needed to run one store, already resolved (secrets in hand, plugins loaded).
pub struct StoreSetup {
    /// The store's id.
    pub id: String,
    /// The systems it syncs, in config order.
    pub systems: Vec<SystemSetup>,
    /// The mapping plugin.
    pub mapper: StorePlugin,
    /// Resolver rules: field pattern and plugin, most specific wins.
    pub resolvers: Vec<(String, StorePlugin)>,
    /// The store's plugin config (`[plugins.config]`).
    pub plugin_config: serde_json::Map<String, serde_json::Value>,
    /// The store's plugin limits.
    pub limits: Limits,
    /// Loop timing.
    pub timing: Timing,
    /// Overlap of the poll windows before their watermarks.
    pub poll_overlap: Duration,
    /// The public base URL platforms deliver webhooks to (`https://weft.example.com`); when
    /// set, each system with webhooks keeps its subscriptions to
    /// `<url>/webhooks/<system>/<store>` in place.
    pub public_url: Option<String>,
    /// Who owns the store's stock and the storefronts' buffer (`[stock]`).
    pub stock: StockPolicy,
    /// Field owners and what a non-owner's change does (`[policy]`).
    pub ownership: Ownership,
    /// What a deletion does to the other systems, and the mass-delete guard (`[deletes]`).
    pub deletes: weft_engine::DeletePolicy,
}

/// A plugin a store runs: loaded, or still compiling in the background. A store whose plugins
/// are still compiling waits for them while the others run.
#[derive(Clone)]
pub enum StorePlugin {
    /// Loaded.
    Ready(Arc<Plugin>),
    /// Compiling ([`Runtime::load_in_background`]).
    Loading(weft_runtime::PendingPlugin),
}

impl From<Arc<Plugin>> for StorePlugin {
    fn from(p: Arc<Plugin>) -> Self {
        StorePlugin::Ready(p)
    }
}

impl StorePlugin {
    /// The plugin, once loaded.
    pub async fn ready(&self) -> Result<Arc<Plugin>, weft_runtime::PluginError> {
        match self {
            StorePlugin::Ready(p) => Ok(p.clone()),
            StorePlugin::Loading(p) => p.ready().await,
        }
    }

    /// The plugin if it is loaded already (a load that failed is an error).
    fn now(&self) -> Option<Result<Arc<Plugin>, weft_runtime::PluginError>> {
        match self {
            StorePlugin::Ready(p) => Some(Ok(p.clone())),
            StorePlugin::Loading(p) => p.try_get(),
        }
    }
}

/// The plugin config key under which the host tells plugins each system's platform
/// (`{"<system>": "<platform>"}`), so one mapper can serve two systems of one platform.
pub const SYSTEMS_CONFIG_KEY: &str = "weft:systems";

impl StoreSetup {
    /// The plugin context of this store: its config, with the systems' platforms under
    /// [`SYSTEMS_CONFIG_KEY`].
    pub fn plugin_ctx(&self) -> StoreCtx {
        let mut config = self.plugin_config.clone();
        config.insert(
            SYSTEMS_CONFIG_KEY.into(),
            serde_json::Value::Object(
                self.systems
                    .iter()
                    .map(|s| (s.name.clone(), s.platform.name().into()))
                    .collect(),
            ),
        );
        StoreCtx {
            store_id: self.id.clone(),
            config,
            limits: self.limits.clone(),
        }
    }

    /// The store's systems without connections (for planning only, e.g. `weft replay`).
    pub fn offline_systems(&self) -> Systems {
        Systems::new(
            self.systems
                .iter()
                .map(|s| System {
                    name: s.name.clone(),
                    platform: s.platform.clone(),
                    connection: None,
                })
                .collect(),
        )
    }
}

/// Feeds the engine's measurements into the Prometheus registry, and keeps the last outage
/// error per store and system for [`SystemHealth`].
struct MetricsObserver {
    metrics: Arc<Metrics>,
    last_errors: Arc<parking_lot::Mutex<HashMap<(String, String), String>>>,
}

impl weft_engine::Observer for MetricsObserver {
    fn plugin_call(&self, store: &str, plugin: &str, elapsed: Duration, error: Option<&str>) {
        self.metrics
            .observe_plugin_call(store, plugin, elapsed, error);
    }
    fn throttled(&self, store: &str, system: &str) {
        self.metrics.inc_throttled(store, system);
    }
    fn waiting_out(&self, store: &str, system: &str, error: &str) {
        self.last_errors
            .lock()
            .insert((store.to_owned(), system.to_owned()), error.to_owned());
    }
}

/// Where each store's connections stand, from their breakers: refreshed into the metrics
/// registry (and so `/metrics` and `/readyz`) every couple of seconds.
struct HealthWatch {
    connections: Vec<(String, String, Arc<dyn Connection>)>,
    last_errors: Arc<parking_lot::Mutex<HashMap<(String, String), String>>>,
    /// What was last put in the registry, per connection (same order).
    shown: Vec<Option<SystemHealth>>,
    /// Whether the registry changed since everything was last recorded.
    changed: bool,
    /// What was last written to the database (for `weft status`, another process).
    recorded: HashMap<(String, String), SystemHealth>,
    /// The stores this host serves now: only their health is this host's to report.
    owned: crate::cluster::Owned,
}

impl HealthWatch {
    fn refresh(&mut self, metrics: &Metrics) {
        let now = chrono::Utc::now();
        // A copy of the (usually empty) error map, so thousands of connections cost no lock
        // and no key allocation each when nothing is wrong.
        let errors = self.last_errors.lock().clone();
        self.shown.resize(self.connections.len(), None);
        for (i, (store, system, conn)) in self.connections.iter().enumerate() {
            let down = conn
                .breaker()
                .is_some_and(|b| !matches!(b.state(), BreakerState::Closed));
            let down_since = down.then(|| {
                self.shown[i]
                    .as_ref()
                    .and_then(|h| h.down_since)
                    .unwrap_or(now)
            });
            let last_error = if errors.is_empty() {
                None
            } else {
                errors.get(&(store.clone(), system.clone())).cloned()
            };
            let health = SystemHealth {
                down_since,
                last_error,
            };
            // Only what changed goes to the registry (and so to the database), and only for
            // a store this host serves (looked up then: thousands of stores cost no lookup
            // each while nothing changes).
            if self.shown[i].as_ref() != Some(&health) && self.owned.lock().contains_key(store) {
                metrics.set_system_health(store, system, health.clone());
                self.shown[i] = Some(health);
                self.changed = true;
            }
        }
    }

    /// Writes what changed since the last call to the database, for `weft status`.
    async fn record(&mut self, metrics: &Metrics, db: &Store) {
        if !self.changed {
            return;
        }
        let now = chrono::Utc::now();
        let mut all_recorded = true;
        let all = metrics.system_health_all();
        for (store, system, health) in all {
            if !self.owned.lock().contains_key(&store) {
                continue;
            }
            let key = (store, system);
            if self.recorded.get(&key) == Some(&health) {
                continue;
            }
            match db
                .set_system_health(
                    &key.0,
                    &key.1,
                    health.down_since,
                    health.last_error.as_deref(),
                    now,
                )
                .await
            {
                Ok(()) => {
                    self.recorded.insert(key, health);
                }
                Err(e) => {
                    all_recorded = false;
                    tracing::warn!(error = %e, "cannot record system health");
                }
            }
        }
        // A failed write is tried again next time.
        self.changed = !all_recorded;
    }
}

/// Everything one store's runner is built from, once its plugins are loaded. The runner's
/// database handle is given per tenure ([`StoreBuild::runner`]): fenced by the store's lease.
pub(crate) struct StoreBuild {
    pub(crate) setup: StoreSetup,
    ctx: StoreCtx,
    pub(crate) systems: Systems,
    runtime: Runtime,
    observer: Arc<dyn weft_engine::Observer>,
    backoff: Arc<Backoff>,
    pub(crate) wakers: Arc<Wakers>,
    privacy_exports: Option<std::path::PathBuf>,
    /// How long the store's idle loops may go without looking (see `weft_engine::idle_cap`).
    idle_cap: Duration,
}

/// A store's loaded plugins: the mapper and its resolver rules.
pub(crate) type Loaded = (Arc<Plugin>, Vec<(String, Arc<Plugin>)>);

impl StoreBuild {
    /// The plugins, if every one has finished loading.
    pub(crate) fn plugins_now(&self) -> Option<Result<Loaded, weft_runtime::PluginError>> {
        let mapper = self.setup.mapper.now()?;
        let mut rules = Vec::new();
        for (pattern, p) in &self.setup.resolvers {
            rules.push((pattern.clone(), p.now()?));
        }
        Some((|| {
            let rules = rules
                .into_iter()
                .map(|(pattern, p)| p.map(|p| (pattern, p)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((mapper?, rules))
        })())
    }

    /// The plugins, once every one has loaded.
    pub(crate) async fn plugins_ready(&self) -> Result<Loaded, weft_runtime::PluginError> {
        let mapper = self.setup.mapper.ready().await?;
        let mut rules = Vec::new();
        for (pattern, p) in &self.setup.resolvers {
            rules.push((pattern.clone(), p.ready().await?));
        }
        Ok((mapper, rules))
    }

    /// The store's runner over `db` (the handle fenced by this tenure's lease).
    pub(crate) fn runner(&self, (mapper, resolvers): Loaded, db: &Store) -> Result<StoreRunner> {
        let s = &self.setup;
        let mapper = self.runtime.mapper(&mapper, self.ctx.clone())?;
        let mut rules = Vec::new();
        for (pattern, plugin) in &resolvers {
            rules.push(ResolverRule {
                pattern: pattern.clone(),
                resolver: self.runtime.resolver(plugin, self.ctx.clone())?,
            });
        }
        let processor = Processor::new(
            s.id.clone(),
            db.clone(),
            self.systems.clone(),
            mapper,
            rules,
        )
        .with_stock(s.stock.clone())
        .with_ownership(s.ownership.clone())
        .with_deletes(s.deletes.clone())
        .with_observer(self.observer.clone());
        // After a stale compare-and-set, read the target again now rather than at the next
        // scheduled poll: the re-read is journaled and re-merged.
        let reobserve: weft_engine::dispatch::Reobserve = {
            let w = self.wakers.clone();
            Arc::new(move |_system, _kind, _key| {
                w.request_poll();
                Box::pin(async { Ok(()) })
            })
        };
        let dispatcher = Dispatcher::new(
            s.id.clone(),
            db.clone(),
            self.systems.clone(),
            self.backoff.clone(),
        )
        .with_reobserve(reobserve)
        .with_observer(self.observer.clone());
        let pollers: Vec<Arc<dyn Poller>> = self
            .systems
            .iter()
            .flat_map(|sys| {
                let ctx = SourceCtx {
                    store_id: s.id.clone(),
                    system: sys.name.clone(),
                    db: db.clone(),
                    overlap: s.poll_overlap,
                    webhook_url: s.public_url.as_ref().map(|u| {
                        format!("{}/webhooks/{}/{}", u.trim_end_matches('/'), sys.name, s.id)
                    }),
                };
                sys.connection
                    .as_ref()
                    .map(|c| c.change_sources(&ctx))
                    .unwrap_or_default()
            })
            .collect();
        let mut privacy =
            weft_engine::PrivacyProcessor::new(s.id.clone(), db.clone(), self.systems.clone());
        if let Some(dir) = &self.privacy_exports {
            privacy = privacy.with_export_dir(dir.clone());
        }
        Ok(StoreRunner::new(
            processor,
            dispatcher,
            pollers,
            s.timing.clone(),
            self.wakers.clone(),
        )
        .with_idle_cap(self.idle_cap)
        .with_privacy(privacy))
    }
}

/// Stores whose figures the background refresh reads every 2 s besides those that moved (so
/// a host of up to this many stores reads them all each time, as before).
const METRICS_SWEEP: usize = 64;

/// How often the host writes its beat and its loops' changed states to the database.
pub const HEALTH_BEAT: Duration = Duration::from_secs(2);

/// How long a stop waits before it says what it is still waiting for (and again each period).
const STOP_REPORT: Duration = Duration::from_secs(5);

/// How much longer than the server's drain (`shutdown_grace`, 10 s by default) a stop waits for
/// the host's tasks before it aborts those still running.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running host.
pub struct Host {
    /// The database.
    pub db: Store,
    /// The HTTP server's address (webhooks at `/webhooks/{system}/{store}`, `/metrics`).
    pub addr: SocketAddr,
    /// Each store's wakers.
    pub wakers: HashMap<String, Arc<Wakers>>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Every store loop's health (what `/healthz` reports).
    pub loops: Arc<LoopHealth>,
    /// This host's id among the hosts sharing the database.
    pub host_id: String,
    /// The stores whose loops run here now (their leases are this host's).
    owned: crate::cluster::Owned,
    stop: watch::Sender<bool>,
    /// How long a stop waits for the tasks before it aborts those left: the server's drain
    /// plus [`STOP_GRACE`].
    stop_grace: Duration,
    tasks: JoinSet<()>,
}

impl Host {
    /// Binds `listen`, then starts every store's loops and the server on it with the default
    /// [`ServeOptions`] (see [`Host::start_on`]).
    pub async fn start(
        db: Store,
        runtime: &Runtime,
        stores: Vec<StoreSetup>,
        listen: SocketAddr,
    ) -> Result<Host> {
        let listeners = Listeners::bind(listen, None).await?;
        Host::start_on(db, runtime, stores, listeners, ServeOptions::default()).await
    }

    /// Starts every store's loops and serves `listeners` (already bound, so a port clash has
    /// stopped start-up before any loop ran) under `serve`'s limits.
    pub async fn start_on(
        db: Store,
        runtime: &Runtime,
        stores: Vec<StoreSetup>,
        listeners: Listeners,
        serve: ServeOptions,
    ) -> Result<Host> {
        Host::start_full(db, runtime, stores, listeners, serve, None, None).await
    }

    /// [`Host::start_on`], serving the operator's console under `/console` when `console` is
    /// given.
    pub async fn start_with_console(
        db: Store,
        runtime: &Runtime,
        stores: Vec<StoreSetup>,
        listeners: Listeners,
        serve: ServeOptions,
        console: Option<ConsoleOptions>,
    ) -> Result<Host> {
        Host::start_full(db, runtime, stores, listeners, serve, console, None).await
    }

    /// [`Host::start_on`], writing the exports of privacy data requests into
    /// `privacy_exports` (`[privacy] export_dir`); without it, data requests wait for the
    /// operator (`weft privacy export`). Redactions run either way.
    pub async fn start_with(
        db: Store,
        runtime: &Runtime,
        stores: Vec<StoreSetup>,
        listeners: Listeners,
        serve: ServeOptions,
        privacy_exports: Option<std::path::PathBuf>,
    ) -> Result<Host> {
        Host::start_full(db, runtime, stores, listeners, serve, None, privacy_exports).await
    }

    /// [`Host::start_on`] with the console (when given) and the privacy exports directory
    /// (when given), under a default [`ClusterOptions`] (this process's own host id).
    pub async fn start_full(
        db: Store,
        runtime: &Runtime,
        stores: Vec<StoreSetup>,
        listeners: Listeners,
        serve: ServeOptions,
        console: Option<ConsoleOptions>,
        privacy_exports: Option<std::path::PathBuf>,
    ) -> Result<Host> {
        Host::start_clustered(
            db,
            runtime,
            stores,
            listeners,
            serve,
            console,
            privacy_exports,
            ClusterOptions::default(),
        )
        .await
    }

    /// [`Host::start_full`] as host `cluster.host_id` among the hosts sharing the database, as
    /// `weft run` starts it. Every store's webhooks are accepted here; a store's loops run on
    /// whichever host holds its lease (see [`crate::cluster`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_clustered(
        db: Store,
        runtime: &Runtime,
        stores: Vec<StoreSetup>,
        listeners: Listeners,
        serve: ServeOptions,
        console: Option<ConsoleOptions>,
        privacy_exports: Option<std::path::PathBuf>,
        cluster: ClusterOptions,
    ) -> Result<Host> {
        let addr = listeners.intake.local_addr()?;
        let loops = Arc::new(LoopHealth::new(HealthPolicy::default()));
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let backoff = Arc::new(Backoff::from_entropy(BackoffConfig {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            max_retries: 10,
        }));
        let mut wakers = HashMap::new();
        let metrics = Arc::new(Metrics::new());
        let last_errors = Arc::new(parking_lot::Mutex::new(HashMap::new()));
        let observer: Arc<dyn weft_engine::Observer> = Arc::new(MetricsObserver {
            metrics: metrics.clone(),
            last_errors: last_errors.clone(),
        });
        let owned = crate::cluster::Owned::default();
        let mut health = HealthWatch {
            connections: Vec::new(),
            last_errors,
            shown: Vec::new(),
            changed: false,
            recorded: HashMap::new(),
            owned: owned.clone(),
        };
        let mut intake = Vec::new();
        let mut builds = std::collections::BTreeMap::new();
        let shared = HostShared::new();
        // Idle loops of a host with many stores look at the database less often, so the host's
        // idle cost stays bounded (weft_engine::idle_cap); woken loops run at once.
        let idle_cap = weft_engine::idle_cap(
            stores
                .iter()
                .map(|s| weft_engine::idle_loops(s.systems.len()))
                .sum(),
            Duration::ZERO,
        );
        for s in stores {
            let mut systems = Vec::with_capacity(s.systems.len());
            let mut store_intake = IntakeStore::new(s.id.clone())
                .with_max_body_bytes(serve.max_body_bytes)
                .with_max_future_skew(serve.max_future_skew);
            for sys in &s.systems {
                let connection = (sys.connect)(&shared).with_context(|| {
                    format!("store {}: cannot connect to system {}", s.id, sys.name)
                })?;
                health
                    .connections
                    .push((s.id.clone(), sys.name.clone(), connection.clone()));
                systems.push(System {
                    name: sys.name.clone(),
                    platform: sys.platform.clone(),
                    connection: Some(connection),
                });
                store_intake = store_intake.with_system(
                    sys.name.clone(),
                    sys.platform.clone(),
                    sys.webhook_secrets
                        .iter()
                        .cloned()
                        .map(WebhookSecret::new)
                        .collect(),
                    sys.account.clone(),
                );
            }
            let systems = Systems::new(systems);
            let store_wakers = Arc::new(Wakers::default());
            wakers.insert(s.id.clone(), store_wakers.clone());
            let build = StoreBuild {
                ctx: s.plugin_ctx(),
                setup: s,
                systems,
                runtime: runtime.clone(),
                observer: observer.clone(),
                backoff: backoff.clone(),
                wakers: store_wakers,
                privacy_exports: privacy_exports.clone(),
                idle_cap,
            };
            builds.insert(build.setup.id.clone(), Arc::new(build));
            intake.push(store_intake);
        }
        // The stores' loops start as this host takes their leases.
        let lease_db = db
            .with_own_pool(2)
            .await
            .context("cannot open the leases' connections")?;
        let coordinator = crate::cluster::Coordinator::new(
            db.clone(),
            lease_db,
            cluster,
            builds,
            loops.clone(),
            owned.clone(),
        );
        let host_id = coordinator.host_id().to_owned();
        // The first round before returning: the stores this host takes now and whose plugins
        // are loaded are running when the host is returned (a store still compiling its
        // plugins starts when they are ready).
        let mut coordinator = coordinator;
        let first_wait = coordinator
            .start()
            .await
            .context("cannot take part among the hosts of the database")?;
        tasks.spawn(coordinator.run(first_wait, stop_rx.clone()));
        // Access the credentials lack is said at start, before a write is refused for it; one
        // connection after another, so thousands of stores add no burst of calls.
        {
            let connections: Vec<_> = health.connections.clone();
            tasks.spawn(async move {
                for (store, system, conn) in connections {
                    match conn.missing_access().await {
                        Ok(missing) if !missing.is_empty() => tracing::error!(
                            %store,
                            %system,
                            missing = %missing.join(", "),
                            "the credentials lack access weft needs: writes needing it will be refused (dead letters) until it is granted"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(%store, %system, error = %e, "could not ask which access the credentials hold"),
                    }
                }
            });
        }
        let writer = JournalWriter::spawn(db.clone(), GroupCommitConfig::default());
        let notify_map = wakers.clone();
        let notifier: weft_server::Notifier = Arc::new(move |store: &str| {
            if let Some(w) = notify_map.get(store) {
                w.journal.notify_one();
            }
        });
        let state = ServerState::new(db.clone(), writer, intake, notifier, metrics.clone());
        {
            let wakers = wakers.clone();
            state.set_dispatch_waker(Arc::new(move |store: &str| {
                if let Some(w) = wakers.get(store) {
                    w.outbox.wake();
                }
            }));
        }
        {
            let loops = loops.clone();
            state.set_loops(Arc::new(move || {
                loops
                    .report()
                    .into_iter()
                    .map(|r| LoopStatus {
                        store: r.store,
                        name: r.name,
                        healthy: r.healthy,
                        detail: r.detail,
                        last_round: r.last_round,
                        last_error: r.last_error,
                    })
                    .collect()
            }));
        }
        if let Some(c) = console {
            state.set_console(c);
        }
        // The console writes a store's rows only here, while this host holds its lease, and
        // through the handle that lease fences.
        {
            let (owned, db) = (owned.clone(), db.clone());
            state.set_tenures(weft_server::Tenures {
                host_id: host_id.clone(),
                handle: Arc::new(move |store: &str| {
                    let fence = owned.lock().get(store).cloned()?;
                    (!fence.is_lost()).then(|| db.fenced(fence))
                }),
            });
        }
        // The loops' health in the database, for `weft status` (another process).
        tasks.spawn(
            weft_engine::HealthRecorder::new(loops.clone(), db.clone(), HEALTH_BEAT)
                .run(stop_rx.clone()),
        );
        state.readiness().mark_ready();
        let mut server_stop = stop_rx.clone();
        let stop_grace = serve.shutdown_grace + STOP_GRACE;
        tasks.spawn(async move {
            let shutdown = async move {
                let _ = server_stop.wait_for(|s| *s).await;
            };
            if let Err(e) = weft_server::serve_with(listeners, state, serve, shutdown).await {
                tracing::error!(error = %e, "server stopped");
            }
        });
        {
            let metrics = metrics.clone();
            let db = db.clone();
            let mut stop = stop_rx.clone();
            let mut ids: Vec<String> = wakers.keys().cloned().collect();
            ids.sort();
            tasks.spawn(async move {
                loop {
                    health.refresh(&metrics);
                    health.record(&metrics, &db).await;
                    // The stores that moved, plus a bounded sweep of the others: a host with
                    // thousands of idle stores does not read each one's figures every 2 s.
                    if let Err(e) = metrics.refresh_some(&db, &ids, METRICS_SWEEP).await {
                        tracing::warn!(error = %e, "metrics refresh failed");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = stop.changed() => break,
                    }
                }
            });
        }
        Ok(Host {
            db,
            addr,
            wakers,
            metrics,
            loops,
            host_id,
            owned,
            stop,
            stop_grace,
            tasks,
        })
    }

    /// Asks every store's pollers for an immediate round; returns each store's request number
    /// for [`Host::polled_since`].
    pub fn poll_now(&self) -> HashMap<String, u64> {
        self.wakers
            .iter()
            .map(|(store, w)| {
                w.journal.notify_one();
                w.outbox.wake();
                (store.clone(), w.request_poll())
            })
            .collect()
    }

    /// Asks every poller of every store for an immediate full read (see
    /// [`weft_engine::Wakers::request_full`]); [`Host::polled_since`] says when each has run.
    pub fn resync_now(&self) -> HashMap<String, u64> {
        self.wakers
            .iter()
            .map(|(store, w)| {
                w.journal.notify_one();
                w.outbox.wake();
                (store.clone(), w.request_full())
            })
            .collect()
    }

    /// Whether every poller of every store has completed a round that started after the
    /// [`Host::poll_now`] call that returned `requests`.
    pub fn polled_since(&self, requests: &HashMap<String, u64>) -> bool {
        requests
            .iter()
            .all(|(store, n)| self.wakers.get(store).is_none_or(|w| w.polled_since(*n)))
    }

    /// The stores whose loops run on this host now.
    pub fn owned_stores(&self) -> Vec<String> {
        self.owned.lock().keys().cloned().collect()
    }

    /// Stops every loop and the server, waiting for them to finish; the stores' leases are
    /// handed back for other hosts to take at once. A stop that takes longer than
    /// [`STOP_REPORT`] says, every such period, which loops have not stopped yet and what they
    /// are doing; after the server's drain and [`STOP_GRACE`] more, the tasks still running
    /// are aborted, which is safe as a crash is (everything accepted is journaled, and writes
    /// in flight are recovered by the store's next holder), so a stuck loop cannot keep a
    /// service manager's stop waiting until it kills the process.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let loops = self.loops.clone();
        drain(&mut self.tasks, self.stop_grace, STOP_REPORT, || {
            unstopped_loops(&loops)
        })
        .await;
    }
}

/// Waits for `tasks` to finish, saying every `report_every` what is still running
/// (`unstopped`); after `grace` aborts the rest. Returns how many it aborted.
async fn drain(
    tasks: &mut JoinSet<()>,
    grace: Duration,
    report_every: Duration,
    unstopped: impl Fn() -> String,
) -> usize {
    let began = tokio::time::Instant::now();
    loop {
        let left = grace.saturating_sub(began.elapsed());
        if left.is_zero() {
            let aborted = tasks.len();
            tracing::error!(
                grace_s = grace.as_secs(),
                tasks = aborted,
                loops = %unstopped(),
                "stop: tasks still running after the grace period are aborted (as a crash would end them)"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            return aborted;
        }
        match tokio::time::timeout(report_every.min(left), tasks.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => return 0,
            Err(_) if began.elapsed() < grace => {
                tracing::warn!(
                    waited_s = began.elapsed().as_secs(),
                    tasks = tasks.len(),
                    loops = %unstopped(),
                    "still stopping: tasks have not finished"
                );
            }
            Err(_) => {}
        }
    }
}

/// The store loops that have not stopped yet, with what each is doing.
fn unstopped_loops(loops: &LoopHealth) -> String {
    let running: Vec<String> = loops
        .report()
        .into_iter()
        .filter(|r| !matches!(r.state, "shut down" | "stopped"))
        .map(|r| format!("{} {}: {} ({})", r.store, r.name, r.state, r.detail))
        .collect();
    if running.is_empty() {
        "none (a host task, not a store loop)".to_owned()
    } else {
        running.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that never stops is aborted at the grace, no sooner; those that stop in time
    /// are simply waited for.
    #[tokio::test(start_paused = true)]
    async fn a_stop_aborts_what_is_still_running_after_its_grace() {
        let mut tasks = JoinSet::new();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(3)));
        tasks.spawn(std::future::pending::<()>());
        let began = tokio::time::Instant::now();
        let aborted = drain(
            &mut tasks,
            Duration::from_secs(20),
            Duration::from_secs(5),
            || "s1 dispatch: running (in a round for 20 s)".to_owned(),
        )
        .await;
        assert_eq!(aborted, 1);
        assert!(tasks.is_empty());
        assert_eq!(began.elapsed(), Duration::from_secs(20));

        let mut tasks = JoinSet::new();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(7)));
        let began = tokio::time::Instant::now();
        assert_eq!(
            drain(
                &mut tasks,
                Duration::from_secs(20),
                Duration::from_secs(5),
                || { String::new() }
            )
            .await,
            0
        );
        assert_eq!(began.elapsed(), Duration::from_secs(7));
    }
}
