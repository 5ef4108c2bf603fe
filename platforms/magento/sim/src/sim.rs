//! [`MagentoSim`]: the embeddable simulator handle, its shared state, the clock and the
//! merchant Rust API.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{ChaosConfig, SimConfig};
use crate::error::MgError;
use crate::store::{BulkRecord, OrderLine, Store};

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

/// State shared by the handlers and the Rust API.
pub struct Shared {
    /// Configuration.
    pub config: SimConfig,
    /// The shop.
    pub store: Mutex<Store>,
    requests: Mutex<Vec<RequestRecord>>,
    started: tokio::time::Instant,
    offset: Mutex<chrono::Duration>,
    base_url: OnceLock<String>,
}

impl Shared {
    /// The simulated clock: the configured start plus the (tokio) time since the simulator
    /// started, so tests with a paused clock control it.
    pub fn now(&self) -> DateTime<Utc> {
        self.config.start_time
            + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
            + *self.offset.lock()
    }

    /// The store with every operation due by now applied.
    pub fn current(&self) -> parking_lot::MutexGuard<'_, Store> {
        let now = self.now();
        let mut st = self.store.lock();
        st.consume(now);
        st
    }

    pub(crate) fn log_request(&self, rec: RequestRecord) {
        self.requests.lock().push(rec);
    }
}

/// A served simulator.
pub struct SimHandle {
    /// `http://127.0.0.1:port`.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SimHandle {
    /// The REST root for `store_code`: `{base}/rest/{store_code}`.
    pub fn api_root(&self, store_code: &str) -> String {
        format!("{}/rest/{store_code}", self.base_url)
    }

    /// Stops serving.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.task.await;
    }
}

/// The simulator.
#[derive(Clone)]
pub struct MagentoSim {
    shared: Arc<Shared>,
}

impl MagentoSim {
    /// A simulator with an empty catalog.
    pub fn new(config: SimConfig) -> Self {
        let store = Store::new(&config);
        MagentoSim {
            shared: Arc::new(Shared {
                config,
                store: Mutex::new(store),
                requests: Mutex::new(Vec::new()),
                started: tokio::time::Instant::now(),
                offset: Mutex::new(chrono::Duration::zero()),
                base_url: OnceLock::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The router (the API under `/rest/{store}` and `/_sim`).
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.shared.clone())
    }

    /// Serves on `listener` until the handle is shut down.
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<SimHandle> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let _ = self.shared.base_url.set(base_url.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = self.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(SimHandle {
            base_url,
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The simulated clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }

    /// Moves the simulated clock forward by `by` (operations that fall due are applied at
    /// the next request).
    pub fn advance(&self, by: std::time::Duration) {
        *self.shared.offset.lock() += chrono::Duration::from_std(by).unwrap_or_default();
    }

    /// Creates or edits a product (`{"sku", "name", "price", …}`, as `POST /V1/products`'s
    /// `product`), as the merchant does in the admin.
    pub fn save_product(&self, product: Value) -> Result<Value, MgError> {
        let now = self.now();
        self.shared
            .current()
            .save_product(&json!({ "product": product }), now)
    }

    /// Deletes a product and its source items, as the merchant does in the admin (or
    /// `DELETE /V1/products/{sku}`); false if there was none. Magento sends nothing: the
    /// product is simply no longer listed.
    pub fn delete_product(&self, sku: &str) -> bool {
        self.shared.current().delete_product(sku).is_ok()
    }

    /// Sets a product's price.
    pub fn set_price(&self, sku: &str, price: f64) -> Result<Value, MgError> {
        self.save_product(json!({"sku": sku, "price": price}))
    }

    /// Sets a source quantity (in stock when above 0).
    pub fn set_stock(&self, sku: &str, source: &str, quantity: f64) -> Result<(), MgError> {
        let status = i64::from(quantity > 0.0);
        self.shared
            .current()
            .save_source_items(&json!({"sourceItems": [
            {"sku": sku, "source_code": source, "quantity": quantity, "status": status}]}))
    }

    /// A source quantity.
    pub fn stock(&self, sku: &str, source: &str) -> Option<f64> {
        self.shared
            .current()
            .source_items
            .get(&(sku.to_owned(), source.to_owned()))
            .map(|(q, _)| *q)
    }

    /// A product as the API answers it.
    pub fn product(&self, sku: &str) -> Option<Value> {
        let st = self.shared.current();
        st.products.get(sku).map(|p| st.product_json(p))
    }

    /// Creates or edits a customer by email.
    pub fn save_customer(&self, customer: Value) -> Result<Value, MgError> {
        let now = self.now();
        self.shared.current().upsert_customer(&customer, now)
    }

    /// Deletes a customer, as the merchant does in the admin (or `DELETE
    /// /V1/customers/{id}`); false if there was none. Magento sends nothing: the customer is
    /// simply no longer listed. Their orders keep their copy of the customer's details, with
    /// `customer_id` null.
    pub fn delete_customer(&self, id: u64) -> bool {
        self.shared.current().delete_customer(id).is_ok()
    }

    /// A customer as the API answers it.
    pub fn customer(&self, id: u64) -> Option<Value> {
        self.shared
            .current()
            .customers
            .get(&id)
            .map(Store::customer_json)
    }

    /// A shopper's order, its stock taken from `source`.
    pub fn place_order(
        &self,
        email: &str,
        lines: &[OrderLine],
        source: &str,
    ) -> Result<Value, MgError> {
        let now = self.now();
        self.shared.current().place_order(email, lines, source, now)
    }

    /// Changes the bulk chaos while running.
    pub fn set_chaos(&self, chaos: ChaosConfig) {
        self.shared.store.lock().chaos = chaos;
    }

    /// Every bulk accepted so far, in order (operations as of now).
    pub fn bulks(&self) -> Vec<BulkRecord> {
        let st = self.shared.current();
        st.bulk_order
            .iter()
            .filter_map(|u| st.bulks.get(u).cloned())
            .collect()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().clone()
    }

    /// The whole state as JSON (products, source items, customers, orders).
    pub fn state(&self) -> Value {
        crate::http::state_json(&self.shared)
    }
}
