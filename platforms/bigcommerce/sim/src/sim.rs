//! [`BcSim`]: the embeddable simulator handle, its shared state and the merchant Rust API.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, SimConfig};
use crate::error::BcError;
use crate::quota::{Quota, WindowStats};
use crate::store::{Actor, StockChange, Store};
use crate::webhooks::{DeliveryRecord, WebhookHub, WebhookStats};

/// One API request as the simulator answered it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query.
    pub query: String,
    /// Status answered.
    pub status: u16,
}

/// State shared by the handlers, the senders and the Rust API.
pub struct Shared {
    /// Configuration.
    pub config: SimConfig,
    /// The shop.
    pub store: Mutex<Store>,
    /// The request quota.
    pub quota: Mutex<Quota>,
    /// Webhook delivery.
    pub hub: WebhookHub,
    requests: Mutex<Vec<RequestRecord>>,
    base_url: OnceLock<String>,
    me: OnceLock<Weak<Shared>>,
}

impl Shared {
    /// The served URL, or `http://localhost`.
    pub fn base_url(&self) -> String {
        self.base_url
            .get()
            .cloned()
            .unwrap_or_else(|| "http://localhost".into())
    }

    /// Hands fired events to the hub for the hooks active now.
    pub fn flush_events(&self) {
        let (events, targets) = {
            let mut st = self.store.lock();
            let events = std::mem::take(&mut st.outbox);
            let targets: Vec<_> = st
                .hooks
                .values()
                .filter(|h| h.is_active)
                .map(|h| {
                    (
                        h.id,
                        h.destination.clone(),
                        h.headers.clone(),
                        h.scope.clone(),
                    )
                })
                .collect();
            (events, targets)
        };
        if events.is_empty() || targets.is_empty() {
            return;
        }
        if let Some(me) = self.me.get() {
            self.hub.dispatch(
                me.clone(),
                events,
                &targets,
                &self.config.store_id,
                &self.config.store_hash,
            );
        }
    }

    /// Whether hook `id` exists and is active.
    pub fn hook_active(&self, id: u64) -> bool {
        self.store
            .lock()
            .hooks
            .get(&id)
            .is_some_and(|h| h.is_active)
    }

    /// Deactivates hook `id`; whether it was active.
    pub fn deactivate_hook(&self, id: u64) -> bool {
        let mut st = self.store.lock();
        let now = st.now().timestamp();
        match st.hooks.get_mut(&id) {
            Some(h) if h.is_active => {
                h.is_active = false;
                h.updated_at = now;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn log_request(&self, rec: RequestRecord) {
        self.requests.lock().push(rec);
    }
}

/// Errors from the Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// BigCommerce refused the change.
    #[error("bigcommerce simulator refused: {0}")]
    Refused(#[from] BcError),
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Binding or serving failed.
    #[error("bigcommerce simulator could not serve: {0}")]
    Io(#[from] std::io::Error),
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
    /// The API root of the store: `{base_url}/stores/{hash}`.
    pub fn api_root(&self, store_hash: &str) -> String {
        format!("{}/stores/{store_hash}", self.base_url)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.join).await;
    }
}

/// The BigCommerce simulator. Cheap to clone; clones share one store.
#[derive(Clone)]
pub struct BcSim {
    pub(crate) shared: Arc<Shared>,
}

/// One line of an order placed through the merchant API.
#[derive(Clone, Debug)]
pub struct OrderLine {
    /// SKU.
    pub sku: String,
    /// Quantity.
    pub quantity: i64,
}

impl BcSim {
    /// A simulator with an empty store.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.validate()?;
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(config.base_time)),
            quota: Mutex::new(Quota::new(config.quota.clone())),
            hub: WebhookHub::new(config.webhooks.clone(), config.seed),
            requests: Mutex::new(Vec::new()),
            base_url: OnceLock::new(),
            me: OnceLock::new(),
            config,
        });
        let _ = shared.me.set(Arc::downgrade(&shared));
        Ok(BcSim { shared })
    }

    /// A simulator with the default configuration.
    pub fn with_defaults() -> Self {
        BcSim::new(SimConfig::default()).expect("default config is valid")
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
        let _ = self.shared.base_url.set(base_url.clone());
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

    fn act<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, BcError>) -> Result<T, SimError> {
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

    /// Creates a product from its V3 JSON (variants included); returns its id.
    pub fn create_product(&self, product: Value) -> Result<u64, SimError> {
        self.act(|s| s.create_product(&product))
    }

    /// Edits a product (V3 fields).
    pub fn edit_product(&self, id: u64, changes: Value) -> Result<(), SimError> {
        self.act(|s| s.update_product(id, &changes))
    }

    /// Deletes a product and its variants (fires `store/product/deleted`).
    pub fn delete_product(&self, id: u64) -> Result<(), SimError> {
        self.act(|s| s.delete_product(id))
    }

    /// Deletes a customer, as the merchant does in the control panel (fires
    /// `store/customer/deleted`).
    pub fn delete_customer(&self, id: u64) -> Result<(), SimError> {
        self.act(|s| s.delete_customer(id))
    }

    /// Deletes the variant with `sku` from its product, as the merchant does in the control
    /// panel (fires `store/product/updated` and, for an option variant, `store/sku/deleted`; a
    /// product's base variant is refused: delete the product).
    pub fn delete_variant(&self, sku: &str) -> Result<(), SimError> {
        self.act(|s| {
            let v = s.variant_by_sku(sku).ok_or_else(BcError::not_found)?;
            let (product, id) = (v.product_id, v.id);
            s.delete_variant(product, id)
        })
    }

    /// Whether customer `id` exists.
    pub fn has_customer(&self, id: u64) -> bool {
        self.shared.store.lock().customers.contains_key(&id)
    }

    /// Edits the variant with `sku` (sku, price, inventory_level).
    pub fn edit_variant(&self, sku: &str, changes: Value) -> Result<(), SimError> {
        self.act(|s| {
            let id = s.variant_by_sku(sku).ok_or_else(BcError::not_found)?.id;
            s.update_variant(id, None, &changes)
        })
    }

    /// Sets the stock of `sku` at `location`.
    pub fn set_stock(&self, sku: &str, location: u64, quantity: i64) -> Result<(), SimError> {
        self.act(|s| {
            s.adjust(
                true,
                &json!({"items": [{"location_id": location, "sku": sku, "quantity": quantity}]}),
                usize::MAX,
            )
        })
    }

    /// Adds `delta` to the stock of `sku` at `location` (a receipt, a count correction).
    pub fn adjust_stock(&self, sku: &str, location: u64, delta: i64) -> Result<(), SimError> {
        self.act(|s| {
            s.adjust(
                false,
                &json!({"items": [{"location_id": location, "sku": sku, "quantity": delta}]}),
                usize::MAX,
            )
        })
    }

    /// Creates a location; returns its id.
    pub fn create_location(&self, code: &str, label: &str) -> u64 {
        self.shared.store.lock().create_location(code, label)
    }

    /// Creates a customer; returns its id.
    pub fn create_customer(&self, customer: Value) -> Result<u64, SimError> {
        self.act(|s| s.create_customer(&customer))
    }

    /// Edits a customer.
    pub fn edit_customer(&self, id: u64, changes: Value) -> Result<(), SimError> {
        self.act(|s| s.update_customer(id, &changes))
    }

    /// A shopper's checkout: an order in Awaiting Fulfillment (11), stock taken at the default
    /// location; returns its id.
    pub fn place_order(&self, customer_id: u64, lines: &[OrderLine]) -> Result<u64, SimError> {
        let products: Vec<Value> = lines
            .iter()
            .map(|l| json!({"sku": l.sku, "quantity": l.quantity}))
            .collect();
        self.act(|s| {
            s.create_order(
                &json!({"customer_id": customer_id, "status_id": 11, "products": products}),
            )
        })
    }

    /// Changes an order's status.
    pub fn set_order_status(&self, id: u64, status_id: u64) -> Result<(), SimError> {
        self.act(|s| s.update_order(id, &json!({"status_id": status_id})))
    }

    /// Moves the shop clock forward (timestamps only; the quota follows `tokio::time`).
    pub fn advance_clock(&self, d: Duration) {
        self.shared.store.lock().advance(d);
    }

    /// Changes how many requests other apps spend per quota window.
    pub fn set_background_load(&self, per_window: u32) {
        self.shared.quota.lock().set_background(per_window);
    }

    // --------------------------------------------------------------- inspection

    /// Stock of `sku` at `location`.
    pub fn stock(&self, sku: &str, location: u64) -> Option<i64> {
        let st = self.shared.store.lock();
        let v = st.variant_by_sku(sku)?.id;
        Some(st.levels.get(&(v, location)).copied().unwrap_or(0))
    }

    /// The variant with `sku` as the API shows it.
    pub fn variant(&self, sku: &str) -> Option<Value> {
        let st = self.shared.store.lock();
        let v = st.variant_by_sku(sku)?;
        Some(st.variant_json(v))
    }

    /// A product as the API shows it, with variants.
    pub fn product(&self, id: u64) -> Option<Value> {
        let st = self.shared.store.lock();
        st.products.get(&id).map(|p| st.product_json(p, true))
    }

    /// Every order as V2 shows it, with its `products` lines inline.
    pub fn orders(&self) -> Vec<Value> {
        let st = self.shared.store.lock();
        let base = self.shared.base_url();
        st.orders
            .values()
            .map(|o| {
                let mut j = st.order_json(o, &base, &self.shared.config.store_hash);
                j["lines"] = st.order_products_json(o);
                j
            })
            .collect()
    }

    /// Every hook as the API shows it.
    pub fn hooks(&self) -> Vec<Value> {
        let st = self.shared.store.lock();
        st.hooks
            .values()
            .map(|h| h.json(&self.shared.config.store_hash))
            .collect()
    }

    /// The whole store.
    pub fn state(&self) -> Value {
        let st = self.shared.store.lock();
        json!({
            "products": st.products.values().map(|p| st.product_json(p, true)).collect::<Vec<_>>(),
            "customers": st.customers.values().map(|c| st.customer_json(c)).collect::<Vec<_>>(),
            "locations": st.locations.iter().map(|(id, (code, label))| json!({"id": id, "code": code, "label": label})).collect::<Vec<_>>(),
            "hooks": st.hooks.values().map(|h| h.json(&self.shared.config.store_hash)).collect::<Vec<_>>(),
        })
    }

    /// Every stock change with its cause.
    pub fn stock_ledger(&self) -> Vec<StockChange> {
        self.shared.store.lock().ledger.clone()
    }

    /// Every API request answered.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().clone()
    }

    /// The quota's windows so far (the current one last).
    pub fn quota_windows(&self) -> Vec<WindowStats> {
        self.shared.quota.lock().windows()
    }

    /// Every webhook callback so far.
    pub fn webhook_log(&self) -> Vec<DeliveryRecord> {
        self.shared.hub.log()
    }

    /// Webhook counters.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.shared.hub.stats()
    }

    /// Waits (real time) until no callback is pending; whether that happened within `limit`.
    pub async fn wait_webhooks_idle(&self, limit: Duration) -> bool {
        let end = std::time::Instant::now() + limit;
        loop {
            if self.shared.hub.stats().pending == 0 {
                return true;
            }
            if std::time::Instant::now() > end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
