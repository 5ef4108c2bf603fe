//! [`ShopifySim`]: the embeddable simulator handle tying state, limits, GraphQL and webhooks.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bucket::LeakyBucket;
use crate::config::SimConfig;
use crate::graphql::{ShopifySchema, build_schema};
use crate::inspect::{Inspect, RequestRecord, SimStats};
use crate::state::{ShopState, Topic};
use crate::webhooks::{DeliveryRecord, Subscription, WebhookHub, WebhookStats};

/// State shared by every request handler and the Rust API.
pub struct Shared {
    /// Configuration.
    pub config: SimConfig,
    /// The shop.
    pub state: Mutex<ShopState>,
    /// GraphQL cost bucket.
    pub gql_bucket: Mutex<LeakyBucket>,
    /// REST request bucket.
    pub rest_bucket: Mutex<LeakyBucket>,
    /// Webhooks.
    pub hub: Arc<WebhookHub>,
    /// Counters and request log.
    pub inspect: Mutex<Inspect>,
    /// Executable schema.
    pub schema: ShopifySchema,
    /// Base URL once serving.
    pub base_url: OnceLock<String>,
    /// The app's compliance webhook URL ([`crate::compliance`]).
    pub compliance_uri: Mutex<Option<String>>,
    /// Bulk query operations and their result files.
    pub bulk: crate::bulk::BulkOps,
    /// The app's access scopes now ([`crate::scopes`]).
    pub access_scopes: Mutex<std::collections::BTreeSet<String>>,
    pub(crate) started: tokio::time::Instant,
}

impl Shared {
    /// Hands events recorded by state changes to the webhook hub.
    pub fn flush_events(&self) {
        let events = std::mem::take(&mut self.state.lock().outbox);
        if !events.is_empty() {
            self.hub.dispatch(events);
        }
    }

    pub(crate) fn log_request(&self, rec: RequestRecord) {
        self.inspect.lock().push(rec);
    }

    pub(crate) fn elapsed_ms(&self) -> u64 {
        tokio::time::Instant::now()
            .saturating_duration_since(self.started)
            .as_millis() as u64
    }

    /// Starts the webhook delivery loop if a tokio runtime is running.
    pub fn ensure_started(&self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.hub.start();
        }
    }
}

/// Errors from the simulator's Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The change was rejected the way Shopify would reject it.
    #[error("shopify simulator rejected the change: {0}")]
    Rejected(String),
    /// An id or SKU does not exist.
    #[error("shopify simulator has no {0}")]
    NotFound(String),
    /// An input value is malformed.
    #[error("invalid input to shopify simulator: {0}")]
    Invalid(String),
    /// Binding or serving failed.
    #[error("shopify simulator could not serve: {0}")]
    Io(#[from] std::io::Error),
}

impl SimError {
    pub(crate) fn from_user_errors(errs: &[crate::state::UserErr]) -> Self {
        SimError::Rejected(
            errs.iter()
                .map(|e| match &e.code {
                    Some(c) => format!("{} ({c})", e.message),
                    None => e.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// The Shopify simulator. Cheap to clone; all clones share one shop.
#[derive(Clone)]
pub struct ShopifySim {
    pub(crate) shared: Arc<Shared>,
}

/// A running HTTP server for a simulator.
pub struct SimHandle {
    /// Bound address.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
}

impl SimHandle {
    /// Stops accepting connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.join).await;
    }
}

impl ShopifySim {
    /// Creates a simulator (an empty shop with the configured locations).
    pub fn new(config: SimConfig) -> Self {
        let state = ShopState::new(
            config.seed,
            config.base_time,
            &config.currency,
            config.utc_offset_minutes,
            &config.locations,
        );
        let hub = Arc::new(WebhookHub::new(
            config.webhooks.clone(),
            &config.shop_domain,
            &config.client_secrets,
            config.seed,
        ));
        let shared = Arc::new(Shared {
            gql_bucket: Mutex::new(LeakyBucket::new(
                config.maximum_available,
                config.restore_rate,
            )),
            rest_bucket: Mutex::new(LeakyBucket::new(
                config.rest_bucket_size,
                config.rest_leak_rate,
            )),
            state: Mutex::new(state),
            hub,
            inspect: Mutex::new(Inspect::default()),
            schema: build_schema(),
            base_url: OnceLock::new(),
            compliance_uri: Mutex::new(None),
            bulk: crate::bulk::BulkOps::default(),
            access_scopes: Mutex::new(config.access_scopes.iter().cloned().collect()),
            started: tokio::time::Instant::now(),
            config,
        });
        let sim = ShopifySim { shared };
        sim.shared.ensure_started();
        sim
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The axum router (Admin API + `/_sim` endpoints) for in-process use.
    pub fn router(&self) -> axum::Router {
        self.shared.ensure_started();
        crate::http::router(self.shared.clone())
    }

    /// Serves on `listener` until the handle is shut down.
    pub async fn serve(&self, listener: TcpListener) -> Result<SimHandle, SimError> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let _ = self.shared.base_url.set(base_url.clone());
        let app = self.router();
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "shopify simulator server stopped");
            }
        });
        Ok(SimHandle {
            addr,
            base_url,
            shutdown: Some(tx),
            join,
        })
    }

    /// `http://host:port` once [`serve`](Self::serve) has run.
    pub fn base_url(&self) -> Option<String> {
        self.shared.base_url.get().cloned()
    }

    /// The GraphQL endpoint for `version` once serving.
    pub fn graphql_url(&self, version: &str) -> Option<String> {
        self.base_url()
            .map(|b| format!("{b}/admin/api/{version}/graphql.json"))
    }

    /// Subscribes `uri` to `topic` (as `webhookSubscriptionCreate` does).
    pub fn subscribe_webhook(&self, topic: Topic, uri: &str) -> Result<Subscription, SimError> {
        let now = self.now();
        let version = self
            .shared
            .config
            .api_versions
            .last()
            .cloned()
            .unwrap_or_default();
        self.shared
            .hub
            .subscribe(topic, uri, &version, now)
            .map_err(SimError::Rejected)
    }

    /// Subscribes `uri` to every topic the simulator emits.
    pub fn subscribe_all(&self, uri: &str) -> Result<Vec<Subscription>, SimError> {
        Topic::ALL
            .iter()
            .map(|t| self.subscribe_webhook(*t, uri))
            .collect()
    }

    /// Removes subscription `id` (as `webhookSubscriptionDelete` does): its topic's events are
    /// no longer delivered to its endpoint. False if there was none.
    pub fn unsubscribe_webhook(&self, id: u64) -> bool {
        self.shared.hub.unsubscribe(id)
    }

    /// Current subscriptions.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.shared.hub.subscriptions()
    }

    /// Adds a new app client secret (rotation starts; signing stays on the oldest unrevoked).
    pub fn rotate_secret(&self, new_secret: &str) {
        self.shared.hub.add_secret(new_secret);
    }

    /// Revokes a client secret; false if it was not active.
    pub fn revoke_secret(&self, secret: &str) -> bool {
        self.shared.hub.revoke_secret(secret)
    }

    /// The secret webhooks are signed with now.
    pub fn signing_secret(&self) -> Option<String> {
        self.shared.hub.signing_secret()
    }

    /// Webhook counters.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.shared.hub.stats()
    }

    /// Per-delivery webhook log.
    pub fn webhook_log(&self) -> Vec<DeliveryRecord> {
        self.shared.hub.log()
    }

    /// Waits (polling every 10 ms of tokio time) until no webhook is pending; false on timeout.
    pub async fn wait_webhooks_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.shared.hub.idle() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// All counters.
    pub fn stats(&self) -> SimStats {
        let i = self.shared.inspect.lock();
        SimStats {
            requests: i.total,
            graphql_requests: i.graphql,
            throttled_graphql: i.throttled_graphql,
            throttled_rest: i.throttled_rest,
            max_cost_exceeded: i.max_cost_exceeded,
            unauthorized: i.unauthorized,
            access_denied: i.access_denied,
            cost_charged: i.cost_charged,
            creates: self.shared.state.lock().creates.clone(),
            webhooks: self.shared.hub.stats(),
        }
    }

    /// The request log.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared
            .inspect
            .lock()
            .requests
            .iter()
            .cloned()
            .collect()
    }

    /// Full state dump (ids as strings).
    pub fn dump(&self) -> serde_json::Value {
        self.shared.state.lock().dump()
    }

    /// Shop wall time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.state.lock().clock.now()
    }

    /// Moves the shop's wall clock (simulates clock skew).
    pub fn skew_clock(&self, by: chrono::Duration) {
        self.shared.state.lock().clock.skew(by);
    }

    /// GraphQL bucket points available now.
    pub fn graphql_points_available(&self) -> f64 {
        self.shared.gql_bucket.lock().available()
    }

    /// Root nodes per page of a bulk operation (at most 250) and the pause between its pages
    /// (so a test can edit the shop while one runs).
    pub fn set_bulk_pacing(&self, page_size: usize, pause: Duration) {
        self.shared.bulk.set_pacing(page_size, pause);
    }

    /// The next bulk operation fails with `code` (`INTERNAL_SERVER_ERROR`, `TIMEOUT`,
    /// `ACCESS_DENIED`) once it has written `after_pages` pages (kept at `partialDataUrl`).
    pub fn fail_next_bulk(&self, code: &str, after_pages: usize) {
        self.shared.bulk.fail_next(code, after_pages);
    }

    /// Bulk operation counters.
    pub fn bulk_stats(&self) -> crate::bulk::BulkStats {
        self.shared.bulk.stats()
    }

    /// The most recent bulk operation.
    pub fn current_bulk_operation(&self) -> Option<crate::bulk::BulkOpRec> {
        self.shared.bulk.current()
    }

    /// The schema in SDL (for client code generation).
    pub fn sdl(&self) -> String {
        self.shared.schema.sdl()
    }
}
