//! The state shared by the intake and operations routers, the host's readiness flag, and
//! [`serve`], which runs both routers on one listener.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use weft_store::{JournalWriter, Store};

use crate::error::ServerError;
use crate::intake::IntakeStore;
use crate::metrics::Metrics;

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
}

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

    /// The intake and operations routers merged, with a request tracing layer (method and
    /// path, which carries the store id; never headers or bodies).
    pub fn app(&self) -> Router {
        crate::intake::router(self.clone())
            .merge(crate::ops::router(self.clone()))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                }),
            )
    }
}

/// Serves the intake and operations routers on `listener` until `shutdown` completes, then
/// finishes the requests in flight (each of which is answered only after its journal append).
pub async fn serve(
    listener: TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "<unknown>".into());
    tracing::info!(%addr, "serving webhooks and metrics");
    axum::serve(listener, state.app())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServerError::Serve { addr, source })
}
