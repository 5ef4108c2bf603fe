//! The state shared by the intake and operations routers, the host's readiness flag, the
//! database file watch, and [`serve`] / [`serve_with`], which run the routers on their
//! listeners (limits and timeouts in [`crate::listen`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use weft_store::{JournalWriter, Store};

use crate::error::ServerError;
use crate::intake::IntakeStore;
use crate::listen::{
    self, ListenerStats, Listeners, LoopLimits, OPS_MAX_CONNECTIONS, ServeOptions,
};
use crate::metrics::Metrics;

/// How often a serving host checks that its database file is still the one it opened.
pub const DB_FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Longest piece of client-controlled text (a header value, a path) that reaches the log.
pub const LOG_VALUE_MAX: usize = 128;

/// `s` cut to [`LOG_VALUE_MAX`] bytes (at a character boundary) with the original length noted,
/// so a forged request's megabyte header costs the log a line, not a megabyte.
pub fn clip_for_log(s: &str) -> Cow<'_, str> {
    if s.len() <= LOG_VALUE_MAX {
        return Cow::Borrowed(s);
    }
    let mut end = LOG_VALUE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...[{} bytes]", &s[..end], s.len()))
}

/// Called with a store id after a webhook was newly journaled for it (the engine waits on a
/// per-store `tokio::sync::Notify`; pass `move |id| notifies[id].notify_one()`).
pub type Notifier = Arc<dyn Fn(&str) + Send + Sync>;

/// A [`Notifier`] that wakes the `Notify` of the store it is called with (`notify_one`, so a
/// wake-up sent while the engine is busy is kept for its next wait). Unknown ids are ignored.
pub fn notifier_from_map(map: HashMap<String, Arc<tokio::sync::Notify>>) -> Notifier {
    Arc::new(move |store_id: &str| {
        if let Some(n) = map.get(store_id) {
            n.notify_one();
        }
    })
}

/// Whether the host says it is ready to serve (engine started, plugins loaded). Starts "not
/// ready: host starting".
#[derive(Debug, Clone)]
pub struct Readiness {
    inner: Arc<RwLock<Result<(), String>>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            inner: Arc::new(RwLock::new(Err("host starting".into()))),
        }
    }
}

impl Readiness {
    /// Marks the host ready.
    pub fn mark_ready(&self) {
        *self.inner.write() = Ok(());
    }

    /// Marks the host not ready, with the reason `/readyz` reports (e.g. "shutting down").
    pub fn mark_not_ready(&self, reason: impl Into<String>) {
        *self.inner.write() = Err(reason.into());
    }

    /// The current state: `Ok` or the reason it is not ready.
    pub fn get(&self) -> Result<(), String> {
        self.inner.read().clone()
    }
}

pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) writer: JournalWriter,
    pub(crate) stores: RwLock<HashMap<String, Arc<IntakeStore>>>,
    pub(crate) notifier: Notifier,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) readiness: Readiness,
    /// Set for good once the database file was found deleted or replaced: (path, what).
    pub(crate) db_fault: RwLock<Option<(String, String)>>,
    /// Connection figures of the listeners being served, for `/metrics`.
    pub(crate) listeners: RwLock<Vec<(&'static str, Arc<ListenerStats>)>>,
    /// The store loops' health, when the host reports it (`/healthz`, `/readyz`, console).
    pub(crate) loops: RwLock<Option<crate::health::LoopSource>>,
    /// The operator's console, when configured.
    pub(crate) console: RwLock<Option<Arc<crate::console::ConsoleOptions>>>,
    /// Which stores this host holds the lease of, when the host says (see
    /// [`ServerState::set_tenures`]).
    pub(crate) tenures: RwLock<Option<Tenures>>,
    /// Wakes a store's dispatcher, when the host says how (see
    /// [`ServerState::set_dispatch_waker`]).
    pub(crate) dispatch_waker: RwLock<Option<Notifier>>,
}

/// Which stores a host serves now: this host's id, and for a store whose lease it holds, the
/// database handle fenced by that lease (`None` for any other store).
#[derive(Clone)]
pub struct Tenures {
    /// This host's id among the hosts sharing the database.
    pub host_id: String,
    /// The fenced handle of a store this host holds, by store id.
    pub handle: TenureHandle,
}

/// A store's database handle fenced by this host's lease on it, by store id (`None` when this
/// host does not hold it).
pub type TenureHandle = Arc<dyn Fn(&str) -> Option<Store> + Send + Sync>;

/// Everything the routers need. Clone it freely (one `Arc` inside).
#[derive(Clone)]
pub struct ServerState {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<String> = self.shared.stores.read().keys().cloned().collect();
        ids.sort();
        f.debug_struct("ServerState")
            .field("stores", &ids)
            .field("readiness", &self.shared.readiness.get())
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// State for the given stores. `writer` must be a [`JournalWriter`] over `store` (the one
    /// the engine's store handle points at); `notifier` is called after each new journal entry.
    pub fn new(
        store: Store,
        writer: JournalWriter,
        stores: Vec<IntakeStore>,
        notifier: Notifier,
        metrics: Arc<Metrics>,
    ) -> Self {
        let state = ServerState {
            shared: Arc::new(Shared {
                store,
                writer,
                stores: RwLock::new(HashMap::new()),
                notifier,
                metrics,
                readiness: Readiness::default(),
                db_fault: RwLock::new(None),
                listeners: RwLock::new(Vec::new()),
                loops: RwLock::new(None),
                console: RwLock::new(None),
                tenures: RwLock::new(None),
                dispatch_waker: RwLock::new(None),
            }),
        };
        state.set_stores(stores);
        state
    }

    /// Replaces the configured stores (config reload, secret rotation). Requests already
    /// running keep the configuration they started with.
    pub fn set_stores(&self, stores: Vec<IntakeStore>) {
        for s in &stores {
            self.shared.metrics.register_store(&s.id);
            for sys in s.systems.iter().filter(|sys| sys.secrets.is_empty()) {
                tracing::warn!(store = %s.id, system = %sys.name, "system has no webhook secret: every delivery will be refused with 401");
            }
        }
        let map = stores
            .into_iter()
            .map(|s| (s.id.clone(), Arc::new(s)))
            .collect();
        *self.shared.stores.write() = map;
    }

    /// The intake configuration of `store_id`, if configured.
    pub fn intake_store(&self, store_id: &str) -> Option<Arc<IntakeStore>> {
        self.shared.stores.read().get(store_id).cloned()
    }

    /// Reports the store loops' health from `source` (see [`crate::health`]).
    pub fn set_loops(&self, source: crate::health::LoopSource) {
        *self.shared.loops.write() = Some(source);
    }

    /// How to wake a store's dispatcher: an operator's action that queues writes (a dead
    /// letter retried, a replay run from the console) sends them now, not at the dispatcher's
    /// next idle tick.
    pub fn set_dispatch_waker(&self, waker: Notifier) {
        *self.shared.dispatch_waker.write() = Some(waker);
    }

    /// Wakes `store`'s dispatcher (nothing when the host set no waker).
    pub(crate) fn wake_dispatch(&self, store: &str) {
        let waker = self.shared.dispatch_waker.read().clone();
        if let Some(w) = waker {
            w(store);
        }
    }

    /// Every store loop's status, when the host reports them (empty otherwise).
    pub fn loops(&self) -> Vec<crate::health::LoopStatus> {
        let source = self.shared.loops.read().clone();
        source.map(|f| f()).unwrap_or_default()
    }

    /// Serves the operator's console under `/console` with `options`.
    pub fn set_console(&self, options: crate::console::ConsoleOptions) {
        *self.shared.console.write() = Some(Arc::new(options));
    }

    /// Says which stores this host serves ([`Tenures`]): the console's actions that write a
    /// store's rows (replays, dead-letter retries and discards) then run only for those, through
    /// the handle fenced by the store's lease, and are refused for the others naming the host
    /// that holds them. Without it (a state with no host behind it) they write through
    /// [`ServerState::store`].
    pub fn set_tenures(&self, tenures: Tenures) {
        *self.shared.tenures.write() = Some(tenures);
    }

    /// The handle through which to write `store`'s rows on an operator's behalf: fenced by this
    /// host's lease on it, or, when this host does not hold it, why not (naming the holder).
    pub async fn store_for_writes(&self, store: &str) -> Result<Store, String> {
        let Some(t) = self.shared.tenures.read().clone() else {
            return Ok(self.shared.store.clone());
        };
        if let Some(db) = (t.handle)(store) {
            return Ok(db);
        }
        let now = chrono::Utc::now();
        let held = match self.shared.store.lease(store).await {
            Ok(Some(l)) if l.is_held(now) => format!(
                "host `{}` serves it (its lease runs until {}, renewed while it runs): use that host's console",
                l.holder,
                l.expires_at.to_rfc3339()
            ),
            Ok(_) => "no host serves it right now (its lease is free): try again in a moment, once a host has taken it".to_owned(),
            Err(e) => format!("its lease cannot be read ({e})"),
        };
        Err(format!(
            "this host (`{}`) does not serve store `{store}`: {held}",
            t.host_id
        ))
    }

    /// The console's options, when it is on.
    pub(crate) fn console(&self) -> Option<Arc<crate::console::ConsoleOptions>> {
        self.shared.console.read().clone()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The readiness flag `/readyz` reports; the host flips it.
    pub fn readiness(&self) -> &Readiness {
        &self.shared.readiness
    }

    /// The journal writer intake appends through (its stats show batches vs entries).
    pub fn writer(&self) -> &JournalWriter {
        &self.shared.writer
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Why the database must not be trusted any more, if it must not: its file was deleted or
    /// replaced since it was opened (writes would land where nobody reads them again). Checks
    /// the file now (one `stat`) unless a fault was already found; a fault is permanent until
    /// restart, logged once, and makes intake answer 503 and `/readyz` unready.
    pub fn database_fault(&self) -> Option<String> {
        self.database_fault_error().map(|e| e.to_string())
    }

    /// Whether a database fault was already found (by a request or the background check),
    /// without checking the file now.
    pub fn database_fault_recorded(&self) -> bool {
        self.shared.db_fault.read().is_some()
    }

    /// [`ServerState::database_fault`] as the store's error
    /// ([`StoreError::DatabaseGone`](weft_store::StoreError::DatabaseGone)).
    pub fn database_fault_error(&self) -> Option<weft_store::StoreError> {
        let gone =
            |(path, what): (String, String)| weft_store::StoreError::DatabaseGone { path, what };
        if let Some(f) = self.shared.db_fault.read().clone() {
            return Some(gone(f));
        }
        let Err(weft_store::StoreError::DatabaseGone { path, what }) =
            self.shared.store.check_file()
        else {
            return None;
        };
        let mut g = self.shared.db_fault.write();
        if g.is_none() {
            tracing::error!(%path, %what, "database file lost: refusing webhooks (503) and reporting not ready until restart");
            *g = Some((path, what));
        }
        g.clone().map(gone)
    }

    /// The intake and operations routers merged, with a request tracing layer (method and
    /// path, which carries the store id, cut to [`LOG_VALUE_MAX`]; never headers or bodies).
    pub fn app(&self) -> Router {
        crate::intake::router(self.clone())
            .merge(crate::ops::router(self.clone()))
            .merge(crate::console::router(self.clone()))
            .layer(trace_layer())
    }

    /// The operations router and the console (the operations listener), with the same
    /// tracing layer.
    pub fn ops_app(&self) -> Router {
        crate::ops::router(self.clone())
            .merge(crate::console::router(self.clone()))
            .layer(trace_layer())
    }
}

fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request) -> tracing::Span + Clone,
> {
    TraceLayer::new_for_http().make_span_with(|req: &Request| {
        tracing::info_span!(
            "http",
            method = %clip_for_log(req.method().as_str()),
            path = %clip_for_log(req.uri().path())
        )
    })
}

/// Serves the intake and operations routers on `listener` with the default [`ServeOptions`]
/// until `shutdown` completes; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listeners = Listeners {
        intake: listener,
        ops: None,
    };
    serve_with(listeners, state, ServeOptions::default(), shutdown).await
}

/// Serves the intake listener (webhooks and operations endpoints) and the optional operations
/// listener under `options` until `shutdown` completes: then stops accepting, closes idle
/// connections and gives requests in flight up to `options.shutdown_grace` (each webhook is
/// answered only after its journal append). Meanwhile, every [`DB_FILE_CHECK_INTERVAL`], checks
/// that the database file is still the one opened ([`ServerState::database_fault`]).
pub async fn serve_with(
    listeners: Listeners,
    state: ServerState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listeners
        .intake
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "<unknown>".into());
    let ops_addr = listeners
        .ops
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.to_string());
    tracing::info!(%addr, ops = ops_addr.as_deref().unwrap_or("-"), "serving webhooks and metrics");
    let stop = listen::shutdown_channel(shutdown);

    let watch = {
        let (state, mut stop) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                if state.database_fault().is_some() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(DB_FILE_CHECK_INTERVAL) => {}
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
                }
            }
        })
    };

    let intake_limits = LoopLimits {
        name: "intake",
        max_connections: options.max_connections,
        max_connections_per_ip: options.max_connections_per_ip,
        header_read_timeout: options.header_read_timeout,
        idle_timeout: options.idle_timeout,
        shutdown_grace: options.shutdown_grace,
    };
    let intake_stats = Arc::new(ListenerStats::default());
    state
        .shared
        .listeners
        .write()
        .push(("intake", Arc::clone(&intake_stats)));
    let intake = listen::accept_loop(
        listeners.intake,
        state.app(),
        intake_limits.clone(),
        intake_stats,
        stop.clone(),
    );
    match listeners.ops {
        Some(ops) => {
            let ops_limits = LoopLimits {
                name: "ops",
                max_connections: OPS_MAX_CONNECTIONS,
                max_connections_per_ip: OPS_MAX_CONNECTIONS,
                ..intake_limits
            };
            let ops_stats = Arc::new(ListenerStats::default());
            state
                .shared
                .listeners
                .write()
                .push(("ops", Arc::clone(&ops_stats)));
            let ops = listen::accept_loop(ops, state.ops_app(), ops_limits, ops_stats, stop);
            tokio::join!(intake, ops);
        }
        None => intake.await,
    }
    watch.abort();
    Ok(())
}
