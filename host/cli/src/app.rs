//! Assembles a running host: the database, the plugin runtime, one runner per store (processing,
//! dispatch, pollers) and the HTTP server (webhook intake, metrics, health).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;
use weft_connectors::Connectors;
use weft_connectors::netsuite::{Credentials, NetSuiteClient, NetSuiteConfig};
use weft_connectors::shopify::{ShopifyClient, ShopifyConfig};
use weft_engine::{
    Dispatcher, NetSuiteCdc, Poller, Processor, ResolverRule, ShopifyReconciler, StoreRunner,
    Timing, Wakers,
};
use weft_ratelimit::{Backoff, BackoffConfig, GovernorRegistry, ShopifyCostLimiter};
use weft_runtime::{Limits, Plugin, Runtime, StoreCtx};
use weft_server::{IntakeStore, Listeners, Metrics, ServeOptions, ServerState, WebhookSecret};
use weft_store::{GroupCommitConfig, JournalWriter, Store};

/// Everything needed to run one store, already resolved (secrets in hand, plugins loaded).
pub struct StoreSetup {
    /// The store's id.
    pub id: String,
    /// Shopify API base URL (scheme, host, port).
    pub shopify_base_url: String,
    /// Shopify Admin API version.
    pub shopify_api_version: String,
    /// Shopify access token.
    pub shopify_token: String,
    /// Webhook secrets accepted (current first).
    pub webhook_secrets: Vec<Vec<u8>>,
    /// NetSuite API base URL.
    pub netsuite_base_url: String,
    /// NetSuite TBA credentials (the realm is the account id).
    pub netsuite_credentials: Credentials,
    /// The account's concurrency limit (every store on the account shares it).
    pub netsuite_concurrency: usize,
    /// The mapping plugin.
    pub mapper: Arc<Plugin>,
    /// Resolver rules: field pattern and plugin, most specific wins.
    pub resolvers: Vec<(String, Arc<Plugin>)>,
    /// The store's plugin config (`[plugins.config]`).
    pub plugin_config: serde_json::Map<String, serde_json::Value>,
    /// The store's plugin limits.
    pub limits: Limits,
    /// Loop timing.
    pub timing: Timing,
    /// Overlap of the poll windows before their watermarks.
    pub poll_overlap: Duration,
}

/// Feeds the engine's measurements into the Prometheus registry.
struct MetricsObserver(Arc<Metrics>);

impl weft_engine::Observer for MetricsObserver {
    fn plugin_call(&self, store: &str, plugin: &str, elapsed: Duration, error: Option<&str>) {
        self.0.observe_plugin_call(store, plugin, elapsed, error);
    }
    fn throttled(&self, store: &str, system: &str) {
        self.0.inc_throttled(store, system);
    }
}

/// A running host.
pub struct Host {
    /// The database.
    pub db: Store,
    /// The HTTP server's address (webhooks at `/webhooks/shopify/{store}`, `/metrics`).
    pub addr: SocketAddr,
    /// Each store's wakers.
    pub wakers: HashMap<String, Arc<Wakers>>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
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
        let addr = listeners.intake.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let governors = GovernorRegistry::new();
        let backoff = Arc::new(Backoff::from_entropy(BackoffConfig {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            max_retries: 10,
        }));
        let mut wakers = HashMap::new();
        let metrics = Arc::new(Metrics::new());
        let observer: Arc<dyn weft_engine::Observer> = Arc::new(MetricsObserver(metrics.clone()));
        let mut intake = Vec::new();
        for s in stores {
            let shopify = Arc::new(
                ShopifyClient::new(
                    ShopifyConfig::new(
                        &s.shopify_base_url,
                        &s.shopify_api_version,
                        &s.shopify_token,
                    ),
                    ShopifyCostLimiter::new(),
                )
                .with_context(|| format!("store {}: cannot build the Shopify client", s.id))?,
            );
            let governor =
                governors.get_or_create(&s.netsuite_credentials.account_id, s.netsuite_concurrency);
            let netsuite = Arc::new(
                NetSuiteClient::new(
                    NetSuiteConfig::new(&s.netsuite_base_url, s.netsuite_credentials.clone()),
                    governor,
                    s.id.clone(),
                )
                .with_context(|| format!("store {}: cannot build the NetSuite client", s.id))?,
            );
            let ctx = StoreCtx {
                store_id: s.id.clone(),
                config: s.plugin_config.clone(),
                limits: s.limits.clone(),
            };
            let mapper = runtime.mapper(&s.mapper, ctx.clone())?;
            let mut rules = Vec::new();
            for (pattern, plugin) in &s.resolvers {
                rules.push(ResolverRule {
                    pattern: pattern.clone(),
                    resolver: runtime.resolver(plugin, ctx.clone())?,
                });
            }
            let processor = Processor::new(s.id.clone(), db.clone(), mapper, rules)
                .with_observer(observer.clone());
            let connectors = Connectors {
                shopify: Some(shopify.clone()),
                netsuite: Some(netsuite.clone()),
            };
            let store_wakers = Arc::new(Wakers::default());
            // After a stale compare-and-set, read the target again now rather than at the next
            // scheduled poll: the re-read is journaled and re-merged.
            let reobserve: weft_engine::dispatch::Reobserve = {
                let w = store_wakers.clone();
                Arc::new(move |_system, _kind, _key| {
                    w.request_poll();
                    Box::pin(async { Ok(()) })
                })
            };
            let dispatcher = Dispatcher::new(s.id.clone(), db.clone(), connectors, backoff.clone())
                .with_reobserve(reobserve)
                .with_observer(observer.clone());
            let pollers: Vec<Arc<dyn Poller>> = vec![
                Arc::new(ShopifyReconciler::new(
                    s.id.clone(),
                    db.clone(),
                    shopify,
                    s.poll_overlap,
                )),
                Arc::new(NetSuiteCdc::new(
                    s.id.clone(),
                    db.clone(),
                    netsuite,
                    s.poll_overlap,
                )),
            ];
            let runner = StoreRunner::new(processor, dispatcher, pollers, s.timing, store_wakers);
            wakers.insert(s.id.clone(), runner.wakers());
            runner.spawn(&mut tasks, stop_rx.clone());
            intake.push(IntakeStore::new(
                s.id.clone(),
                s.webhook_secrets
                    .into_iter()
                    .map(WebhookSecret::new)
                    .collect(),
            ));
        }
        let writer = JournalWriter::spawn(db.clone(), GroupCommitConfig::default());
        let notify_map = wakers.clone();
        let notifier: weft_server::Notifier = Arc::new(move |store: &str| {
            if let Some(w) = notify_map.get(store) {
                w.journal.notify_one();
            }
        });
        let state = ServerState::new(db.clone(), writer, intake, notifier, metrics.clone());
        state.readiness().mark_ready();
        let mut server_stop = stop_rx.clone();
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
            tasks.spawn(async move {
                loop {
                    if let Err(e) = metrics.refresh_from_store(&db).await {
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
            stop,
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
                w.outbox.notify_one();
                (store.clone(), w.request_poll())
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

    /// Stops every loop and the server, waiting for them to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
