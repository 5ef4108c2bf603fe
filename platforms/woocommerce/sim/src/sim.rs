//! [`WooSim`]: the embeddable simulator handle, its shared state and the merchant Rust API.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::NonceStore;
use crate::config::{ConfigError, RateLimit, SimConfig};
use crate::error::WcError;
use crate::inspect::RequestRecord;
use crate::store::{Actor, Kind, Store};
use crate::webhooks::{DeliveryRecord, Target, WebhookHub, WebhookStats};

struct Bucket {
    level: f64,
    at: tokio::time::Instant,
}

/// State shared by the handlers, the delivery loop and the Rust API.
pub struct Shared {
    /// Configuration.
    pub config: SimConfig,
    /// The shop.
    pub store: Mutex<Store>,
    /// Webhook delivery.
    pub hub: WebhookHub,
    /// OAuth nonces.
    pub nonces: Mutex<NonceStore>,
    requests: Mutex<Vec<RequestRecord>>,
    bucket: Mutex<Bucket>,
    /// Forced unavailability: (requests left, `Retry-After` seconds).
    unavailable: Mutex<Option<(u64, u64)>>,
    base_url: OnceLock<String>,
    me: OnceLock<std::sync::Weak<Shared>>,
}

impl Shared {
    /// The site URL: configured, else the served address, else `http://localhost`.
    pub fn site_url(&self) -> String {
        self.config
            .site_url
            .clone()
            .or_else(|| self.base_url.get().cloned())
            .unwrap_or_else(|| "http://localhost".to_string())
            .trim_end_matches('/')
            .to_string()
    }

    /// Hands fired events to the hub for the webhooks active now.
    pub fn flush_events(&self) {
        let (events, targets, pings) = {
            let mut st = self.store.lock();
            let events = std::mem::take(&mut st.outbox);
            let pings = std::mem::take(&mut st.pings);
            let targets: Vec<Target> = st
                .webhooks
                .values()
                .filter(|w| w.status() == "active")
                .map(|w| Target {
                    id: w.id,
                    topic: w.data["topic"].as_str().unwrap_or("").to_string(),
                    delivery_url: w.data["delivery_url"].as_str().unwrap_or("").to_string(),
                    secret: w.data["secret"].as_str().unwrap_or("").to_string(),
                })
                .collect();
            (events, targets, pings)
        };
        if !pings.is_empty()
            && tokio::runtime::Handle::try_current().is_ok()
            && let Some(me) = self.me.get().and_then(std::sync::Weak::upgrade)
        {
            for (id, url) in pings {
                self.hub.ping(me.clone(), id, url);
            }
        }
        if !events.is_empty() {
            self.ensure_started();
            self.hub.dispatch(events, &targets);
        }
    }

    fn ensure_started(&self) {
        if tokio::runtime::Handle::try_current().is_ok()
            && let Some(me) = self.me.get()
        {
            self.hub.start(me.clone());
        }
    }

    pub(crate) fn log_request(&self, rec: RequestRecord) {
        self.requests.lock().push(rec);
    }

    /// The status and `Retry-After` to refuse this request with, if the host is throttling.
    pub(crate) fn throttle(&self) -> Option<(u16, u64)> {
        {
            let mut un = self.unavailable.lock();
            if let Some((left, retry)) = un.as_mut() {
                if *left > 0 {
                    *left -= 1;
                    return Some((503, *retry));
                }
                *un = None;
            }
        }
        let rl: &RateLimit = self.config.rate_limit.as_ref()?;
        let mut b = self.bucket.lock();
        let now = tokio::time::Instant::now();
        let el = now.saturating_duration_since(b.at).as_secs_f64();
        b.level = (b.level + el * rl.per_second).min(rl.burst);
        b.at = now;
        if b.level >= 1.0 {
            b.level -= 1.0;
            None
        } else {
            Some((rl.status.code(), rl.retry_after_secs))
        }
    }

    pub(crate) fn throttle_response(&self, status: u16, retry_after: u64) -> Response {
        let text = if status == 429 {
            "<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>"
        } else {
            "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>"
        };
        let mut resp = (
            axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE),
            text,
        )
            .into_response();
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(retry_after));
        resp.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        resp
    }
}

/// Errors from the Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// WooCommerce refused the change (its error code and message).
    #[error("woocommerce simulator refused: {0}")]
    Refused(WcError),
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Binding or serving failed.
    #[error("woocommerce simulator could not serve: {0}")]
    Io(#[from] std::io::Error),
}

impl From<WcError> for SimError {
    fn from(e: WcError) -> Self {
        SimError::Refused(e)
    }
}

/// A running HTTP server.
pub struct SimHandle {
    /// Bound address.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
}

impl SimHandle {
    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.join).await;
    }
}

/// The WooCommerce simulator. Cheap to clone; clones share one shop.
#[derive(Clone)]
pub struct WooSim {
    pub(crate) shared: Arc<Shared>,
}

/// One line of an order placed through the merchant API.
#[derive(Clone, Debug)]
pub struct OrderLine {
    /// SKU of the product or variation.
    pub sku: String,
    /// Quantity.
    pub quantity: i64,
}

impl WooSim {
    /// A simulator with an empty shop.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.validate()?;
        let mut store = Store::new(
            config.seed,
            config.base_time,
            config.utc_offset_minutes,
            &config.currency,
            config.order_stock_saves_product,
        );
        if let Some(site) = &config.site_url {
            store.site_url = site.trim_end_matches('/').to_string();
        }
        let burst = config.rate_limit.as_ref().map_or(0.0, |r| r.burst);
        let shared = Arc::new(Shared {
            hub: WebhookHub::new(config.webhooks.clone(), config.seed),
            store: Mutex::new(store),
            nonces: Mutex::new(NonceStore::default()),
            requests: Mutex::new(Vec::new()),
            bucket: Mutex::new(Bucket {
                level: burst,
                at: tokio::time::Instant::now(),
            }),
            unavailable: Mutex::new(None),
            base_url: OnceLock::new(),
            me: OnceLock::new(),
            config,
        });
        let _ = shared.me.set(Arc::downgrade(&shared));
        Ok(WooSim { shared })
    }

    /// A simulator with the default configuration.
    pub fn with_defaults() -> Self {
        WooSim::new(SimConfig::default()).expect("default config is valid")
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The router (REST API + `/_sim`) for in-process use.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.shared.clone())
    }

    /// Serves on `listener` until the handle is shut down.
    pub async fn serve(&self, listener: TcpListener) -> Result<SimHandle, SimError> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        if self.shared.base_url.set(base_url.clone()).is_ok()
            && self.shared.config.site_url.is_none()
        {
            self.shared.store.lock().site_url = base_url.clone();
        }
        let app = self.router();
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(SimHandle {
            addr,
            base_url,
            shutdown: Some(tx),
            join,
        })
    }

    /// Binds `127.0.0.1:0` and serves.
    pub async fn serve_local(&self) -> Result<SimHandle, SimError> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        self.serve(l).await
    }

    fn write<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, WcError>) -> Result<T, SimError> {
        let r = {
            let mut st = self.shared.store.lock();
            st.acting = Actor::Merchant;
            let r = f(&mut st);
            st.acting = Actor::Api;
            r
        };
        self.shared.flush_events();
        Ok(r?)
    }

    // ------------------------------------------------------------- merchant API

    /// Creates a product from its REST JSON (as an admin in wp-admin would); returns its id.
    pub fn create_product(&self, product: Value) -> Result<u64, SimError> {
        self.write(|s| s.create_product(&product, None, Actor::Merchant))
    }

    /// Adds a variation (REST JSON) to a variable product; returns its id.
    pub fn create_variation(&self, parent: u64, variation: Value) -> Result<u64, SimError> {
        self.write(|s| s.create_product(&variation, Some(parent), Actor::Merchant))
    }

    /// Edits a product or variation with REST JSON fields.
    pub fn update_product(&self, id: u64, fields: Value) -> Result<(), SimError> {
        self.write(|s| {
            let parent = s.product(id)?.parent();
            s.update_product(id, &fields, (parent != 0).then_some(parent))
        })
    }

    /// Sets a product's or variation's stock (turns stock management on).
    pub fn set_stock(&self, id: u64, quantity: i64) -> Result<(), SimError> {
        self.update_product(
            id,
            json!({"manage_stock": true, "stock_quantity": quantity}),
        )
    }

    /// Sets regular and sale price (`""` clears the sale).
    pub fn set_price(&self, id: u64, regular: &str, sale: &str) -> Result<(), SimError> {
        self.update_product(id, json!({"regular_price": regular, "sale_price": sale}))
    }

    /// Trashes (or with `force` deletes) a product or variation.
    pub fn delete_product(&self, id: u64, force: bool) -> Result<(), SimError> {
        self.write(|s| s.delete_product(id, force, None).map(|_| ()))
    }

    /// Registers a customer; returns the id.
    pub fn create_customer(&self, email: &str, first: &str, last: &str) -> Result<u64, SimError> {
        let body = json!({"email": email, "first_name": first, "last_name": last,
            "billing": {"first_name": first, "last_name": last, "email": email}});
        self.write(|s| s.create_customer(&body, Actor::Merchant))
    }

    /// Edits a customer with REST JSON fields.
    pub fn update_customer(&self, id: u64, fields: Value) -> Result<(), SimError> {
        self.write(|s| s.update_customer(id, &fields))
    }

    /// Deletes a customer.
    pub fn delete_customer(&self, id: u64) -> Result<(), SimError> {
        self.write(|s| s.delete_customer(id, true).map(|_| ()))
    }

    /// A shopper checks out: a paid order (`processing`) created via checkout, stock reduced.
    pub fn place_order(&self, customer_id: u64, lines: &[OrderLine]) -> Result<u64, SimError> {
        let items: Vec<Value> = lines
            .iter()
            .map(|l| json!({"sku": l.sku, "quantity": l.quantity}))
            .collect();
        let body = json!({"customer_id": customer_id, "line_items": items, "set_paid": true,
            "created_via": "checkout", "payment_method": "bacs",
            "payment_method_title": "Direct bank transfer"});
        self.write(|s| s.create_order(&body, Actor::Merchant))
    }

    /// Creates an order from REST JSON as an admin would.
    pub fn create_order(&self, order: Value) -> Result<u64, SimError> {
        self.write(|s| s.create_order(&order, Actor::Merchant))
    }

    /// Changes an order's status (stock follows as in WooCommerce).
    pub fn set_order_status(&self, id: u64, status: &str) -> Result<(), SimError> {
        self.write(|s| s.update_order(id, &json!({"status": status})))
    }

    /// The merchant refunds `quantity` of each SKU at its line price (no gateway refund), with
    /// or without putting the items back in stock; returns the refund id.
    pub fn refund_order(
        &self,
        order_id: u64,
        lines: &[OrderLine],
        restock: bool,
    ) -> Result<u64, SimError> {
        self.write(|s| {
            let order = s.render_order(order_id);
            if order.is_null() {
                s.order(order_id)?;
            }
            let items = order["line_items"].as_array().cloned().unwrap_or_default();
            let mut refund_lines = Vec::new();
            for l in lines {
                let item = items
                    .iter()
                    .find(|i| i["sku"].as_str() == Some(l.sku.as_str()))
                    .ok_or_else(|| {
                        WcError::new(
                            400,
                            "woocommerce_rest_invalid_order_refund",
                            "Invalid line item ID.",
                        )
                    })?;
                let price = item["price"].as_f64().unwrap_or(0.0);
                refund_lines.push(json!({"id": item["id"], "quantity": l.quantity,
                    "refund_total": format!("{:.2}", price * l.quantity as f64)}));
            }
            s.create_refund(
                order_id,
                &json!({"line_items": refund_lines, "api_refund": false, "api_restock": restock}),
            )
        })
    }

    /// Trashes (or with `force` deletes) an order.
    pub fn delete_order(&self, id: u64, force: bool) -> Result<(), SimError> {
        self.write(|s| s.delete_order(id, force).map(|_| ()))
    }

    /// Creates a webhook as an admin would (secret given); returns its id.
    pub fn create_webhook(&self, topic: &str, url: &str, secret: &str) -> Result<u64, SimError> {
        let body = json!({"topic": topic, "delivery_url": url, "secret": secret});
        self.write(|s| s.create_webhook(&body, secret))
    }

    /// Sets a webhook's status (`active`, `paused`, `disabled`).
    pub fn set_webhook_status(&self, id: u64, status: &str) -> Result<(), SimError> {
        self.write(|s| s.update_webhook(id, &json!({"status": status})))
    }

    /// Moves the shop clock forward.
    pub fn advance_clock(&self, d: Duration) {
        self.shared.store.lock().clock.advance(d);
    }

    /// Makes the next `requests` REST requests answer 503 with `Retry-After: retry_after`.
    pub fn set_unavailable(&self, requests: u64, retry_after_secs: u64) {
        *self.shared.unavailable.lock() = Some((requests, retry_after_secs));
    }

    // ------------------------------------------------------------- inspection

    /// A resource as the REST API renders it (`Value::Null` if absent).
    pub fn get(&self, kind: Kind, id: u64) -> Value {
        self.shared.store.lock().render(kind, id)
    }

    /// Id of the live product or variation with this SKU.
    pub fn id_by_sku(&self, sku: &str) -> Option<u64> {
        self.shared.store.lock().id_by_sku(sku)
    }

    /// Stock of a product or variation (of whichever record manages it).
    pub fn stock(&self, id: u64) -> Option<i64> {
        self.get(Kind::Product, id)["stock_quantity"].as_i64()
    }

    /// Every resource of a kind, rendered (variations included for products), by id.
    pub fn all(&self, kind: Kind) -> Vec<Value> {
        let st = self.shared.store.lock();
        let ids: Vec<u64> = match kind {
            Kind::Product => st.products.keys().copied().collect(),
            Kind::Customer => st.customers.keys().copied().collect(),
            Kind::Order => st.orders.keys().copied().collect(),
            Kind::Webhook => st.webhooks.keys().copied().collect(),
            Kind::Refund => st.refunds.keys().copied().collect(),
        };
        ids.into_iter().map(|id| st.render(kind, id)).collect()
    }

    /// Creates per kind split by who made them.
    pub fn creates(&self, kind: Kind, actor: Actor) -> u64 {
        self.shared
            .store
            .lock()
            .creates
            .get(&(kind, actor))
            .copied()
            .unwrap_or(0)
    }

    /// A webhook's failure count and status.
    pub fn webhook_health(&self, id: u64) -> Option<(i64, String)> {
        let st = self.shared.store.lock();
        let w = st.webhooks.get(&id)?;
        Some((
            w.data
                .get("failure_count")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            w.status().to_string(),
        ))
    }

    /// The REST request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().clone()
    }

    /// Webhook counters.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.shared.hub.stats()
    }

    /// The delivery log.
    pub fn webhook_log(&self) -> Vec<DeliveryRecord> {
        self.shared.hub.log()
    }

    /// Every stock change so far (cause `api`, `merchant` or `order`).
    pub fn stock_log(&self) -> Vec<crate::store::StockChange> {
        self.shared.store.lock().stock_log.clone()
    }

    /// Activation pings sent: (webhook id, status answered).
    pub fn webhook_pings(&self) -> Vec<(u64, Option<u16>)> {
        self.shared.hub.pings()
    }

    /// Waits (real time) until no delivery is pending; false on timeout.
    pub async fn wait_webhooks_idle(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.shared.hub.idle() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
