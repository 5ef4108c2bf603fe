//! `weft demo --storefront magento`: the storefront demo ([`crate::demo_storefront`]) with a
//! simulated Magento 2 store view (Magento Open Source: no webhooks, so weft learns of every
//! merchant edit, order and customer change by polling), whose catalog and stock weft writes
//! through the asynchronous bulk API under the simulator's seeded bulk chaos
//! ([`MagentoChaos`]): operations that fail retriably and are sent again, operations the
//! consumer applies late (their bulk stays open), and bulks whose status never arrives (the
//! consumer applied them but recorded nothing: weft stops waiting after its bulk timeout, finds
//! the target holding the write and never posts it again).
//!
//! The run's webhook options (`--drop-rate`, …) do not apply: there are no webhooks. The
//! report's `storefront_chaos` counts the bulks and what the chaos did to their operations;
//! `throttled` counts NetSuite's over-limit answers only (the simulator models no Magento rate
//! limit: Magento Open Source has none of its own).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use parking_lot::Mutex;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use weft_magento::{BulkSettings, MgClient, MgConfig};
use weft_runtime::types::PlatformDoc;
pub use weft_sim_magento::ChaosConfig;
use weft_sim_magento::{
    DEFAULT_SOURCE, DEFAULT_STORE_CODE, DEFAULT_TOKEN, MagentoSim, OrderLine, STATUS_OPEN,
    STATUS_RETRIABLE, SimConfig,
};

use crate::app::SystemSetup;
use crate::demo::{DemoOptions, DemoReport, NS_LOCATION, cents};
use crate::demo_storefront::{DemoStorefront, StorefrontApi, WebhookCounts, doc};
use crate::platforms;

/// The system name of the demo's Magento store view.
const SYSTEM: &str = weft_magento::PLATFORM;

/// The bulk chaos of a demo Magento store, and how weft waits for its bulks.
#[derive(Debug, Clone)]
pub struct MagentoChaos {
    /// The simulator's bulk chaos.
    pub sim: ChaosConfig,
    /// How often weft asks for an accepted bulk's status.
    pub bulk_poll: Duration,
}

impl MagentoChaos {
    /// How long weft waits for an open operation before it counts its bulk's status as never
    /// arriving: three times the longest the consumer takes (at least 3 s), so only lost
    /// bulks reach it.
    pub fn bulk_timeout(&self) -> Duration {
        ((self.sim.consumer_delay + self.sim.consumer_jitter) * 3).max(Duration::from_secs(3))
    }

    /// weft's bulk settings for this chaos.
    pub fn bulk_settings(&self) -> BulkSettings {
        BulkSettings {
            poll: self.bulk_poll,
            timeout: self.bulk_timeout(),
        }
    }
}

impl Default for MagentoChaos {
    /// The demo's: 5% of operations fail retriably, the consumer takes 0.3 s to 1.8 s, and 2%
    /// of bulks never get a status (their operations applied all the same).
    fn default() -> Self {
        MagentoChaos {
            sim: ChaosConfig {
                retriable_failure_share: 0.05,
                consumer_delay: Duration::from_millis(300),
                consumer_jitter: Duration::from_millis(1500),
                lost_bulk_share: 0.02,
                lost_bulk_applies: true,
            },
            bulk_poll: Duration::from_millis(250),
        }
    }
}

/// Runs the Magento demo under `chaos` (the CLI's demo runs [`MagentoChaos::default`]).
pub async fn run(opts: DemoOptions, chaos: MagentoChaos) -> Result<DemoReport> {
    crate::demo_storefront::run_with::<Mg>(opts, chaos).await
}

/// A simulated Magento store view of a demo store.
pub(crate) struct Mg {
    sim: MagentoSim,
    _server: weft_sim_magento::SimHandle,
    url: String,
    bulk: BulkSettings,
    /// Customer id -> email (the simulator's shopper orders by email).
    emails: Mutex<HashMap<u64, String>>,
}

fn err(e: weft_sim_magento::MgError) -> anyhow::Error {
    anyhow!("Magento: {}", e.rendered())
}

impl Mg {
    fn email(&self, customer: u64) -> Result<String> {
        self.emails
            .lock()
            .get(&customer)
            .cloned()
            .with_context(|| format!("no Magento customer {customer}"))
    }
}

impl DemoStorefront for Mg {
    type Api = MgApi;
    type Chaos = MagentoChaos;
    const SYSTEM: &'static str = SYSTEM;
    const SKU_PREFIX: &'static str = "M";
    const STOCK_FIGURE: &'static str = "Magento source quantity (default source)";

    async fn start(_opts: &DemoOptions, chaos: &MagentoChaos, seed: u64) -> Result<Self> {
        let sim = MagentoSim::new(SimConfig {
            seed,
            chaos: chaos.sim.clone(),
            ..SimConfig::default()
        });
        let server = sim
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await
            .context("cannot serve the Magento simulator")?;
        let url = server.base_url.clone();
        Ok(Mg {
            sim,
            _server: server,
            url,
            bulk: chaos.bulk_settings(),
            emails: Mutex::new(HashMap::new()),
        })
    }

    /// The default source is NetSuite location 1.
    fn locations(&self) -> Value {
        json!({ format!("{SYSTEM}:{DEFAULT_SOURCE}"): NS_LOCATION })
    }

    fn system(&self) -> Result<SystemSetup> {
        Ok(platforms::magento_system(
            SYSTEM,
            &self.url,
            DEFAULT_STORE_CODE,
            DEFAULT_TOKEN,
            self.bulk,
        ))
    }

    /// Magento Open Source has no webhooks: weft polls.
    async fn subscribe(&self, _url: &str, _opts: &DemoOptions) -> Result<()> {
        Ok(())
    }

    /// Nothing is delivered: there are no webhooks.
    async fn wait_idle(&self, _limit: Duration) {}

    fn has_sku(&self, sku: &str) -> bool {
        self.sim.product(sku).is_some()
    }

    fn create_customer(&self, email: &str, first: &str, last: &str) -> Result<u64> {
        let c = self
            .sim
            .save_customer(json!({"email": email, "firstname": first, "lastname": last}))
            .map_err(err)?;
        let id = c["id"].as_u64().context("a Magento customer without id")?;
        self.emails.lock().insert(id, email.to_owned());
        Ok(id)
    }

    /// The merchant edits the price, or (as often) sets a special price below it, which the
    /// mapper reads as the selling price with the price as the compare-at price.
    fn set_price(&self, sku: &str, price: &str, rng: &mut ChaCha8Rng) -> Result<()> {
        let p: f64 = price.parse().context("a demo price")?;
        if rng.random_bool(0.5) {
            return self.sim.set_price(sku, p).map(drop).map_err(err);
        }
        let current = self
            .sim
            .product(sku)
            .and_then(|v| v["price"].as_f64())
            .with_context(|| format!("no Magento product for {sku}"))?;
        let special = (current * 0.8 * 100.0).round() / 100.0;
        self.sim
            .save_product(json!({"sku": sku, "custom_attributes": [
                {"attribute_code": "special_price", "value": format!("{special:.2}")}]}))
            .map(drop)
            .map_err(err)
    }

    fn place_order(&self, customer: u64, sku: &str, quantity: i64) -> Result<u64> {
        let o = self
            .sim
            .place_order(
                &self.email(customer)?,
                &[OrderLine {
                    sku: sku.to_owned(),
                    qty: quantity,
                }],
                DEFAULT_SOURCE,
            )
            .map_err(err)?;
        o["entity_id"]
            .as_u64()
            .context("a Magento order without id")
    }

    /// The customer's (one) address gets the new telephone.
    fn set_phone(&self, customer: u64, phone: &str) -> Result<()> {
        let email = self.email(customer)?;
        self.sim
            .save_customer(json!({"email": email, "addresses": [{
                "firstname": "Demo", "lastname": "Buyer", "street": ["1 Demo Street"],
                "city": "London", "postcode": "N1 1AA", "country_id": "GB",
                "telephone": phone, "default_billing": true, "default_shipping": true}]}))
            .map(drop)
            .map_err(err)
    }

    fn stock(&self, sku: &str) -> Option<i64> {
        self.sim
            .stock(sku, DEFAULT_SOURCE)
            .map(|q| q.round() as i64)
    }

    fn webhooks(&self) -> WebhookCounts {
        WebhookCounts::default()
    }

    fn throttled(&self) -> u64 {
        0
    }

    /// Bulks accepted, their operations, and what the chaos did to them.
    fn chaos_counts(&self) -> Vec<(&'static str, u64)> {
        let bulks = self.sim.bulks();
        let ops = || bulks.iter().flat_map(|b| b.operations.iter());
        vec![
            ("bulks", bulks.len() as u64),
            ("bulk_operations", ops().count() as u64),
            (
                "bulk_operations_failed_retriably",
                ops().filter(|o| o.status == STATUS_RETRIABLE).count() as u64,
            ),
            (
                "bulks_without_status",
                bulks.iter().filter(|b| b.lost).count() as u64,
            ),
            (
                "bulk_operations_open",
                bulks
                    .iter()
                    .filter(|b| !b.lost)
                    .flat_map(|b| b.operations.iter())
                    .filter(|o| o.status == STATUS_OPEN)
                    .count() as u64,
            ),
        ]
    }

    fn api(&self) -> Result<MgApi> {
        MgApi::new(&self.url)
    }
}

/// A simulated Magento store view read through its REST API (the simulator's default store
/// code and integration token).
pub struct MgApi {
    client: MgClient,
}

impl MgApi {
    /// A reader of the shop whose base URL is `url`.
    pub fn new(url: &str) -> Result<Self> {
        Ok(MgApi {
            client: MgClient::new(MgConfig::new(url, DEFAULT_STORE_CODE, DEFAULT_TOKEN))?,
        })
    }
}

fn mg_doc(d: weft_magento::normalize::MgDoc) -> PlatformDoc {
    doc(
        SYSTEM,
        crate::demo::kind(d.kind.as_str()),
        d.id,
        d.version,
        &d.body,
    )
}

fn by_id(r: &Value) -> String {
    r.get("id")
        .or_else(|| r.get("entity_id"))
        .map(Value::to_string)
        .unwrap_or_default()
}

impl StorefrontApi for MgApi {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn label(&self) -> &'static str {
        "Magento"
    }

    /// Products, their source items and customers.
    async fn docs(&self) -> Result<Vec<PlatformDoc>> {
        use weft_magento::normalize;
        let mut docs = Vec::new();
        for p in self
            .client
            .search("/V1/products", "", "entity_id", by_id)
            .await?
        {
            docs.extend(normalize::product(&p).map(mg_doc));
        }
        for it in self
            .client
            .search("/V1/inventory/source-items", "", "sku", |r| {
                format!("{}@{}", r["sku"], r["source_code"])
            })
            .await?
        {
            docs.extend(normalize::level(&it, "read").map(mg_doc));
        }
        for c in self
            .client
            .search("/V1/customers/search", "", "entity_id", by_id)
            .await?
        {
            docs.extend(normalize::customer(&c).map(mg_doc));
        }
        Ok(docs)
    }

    async fn order(&self, id: u64) -> Result<(Option<i64>, PlatformDoc)> {
        let o = self.client.get(&format!("/V1/orders/{id}")).await?;
        let d = weft_magento::normalize::order(&o)
            .with_context(|| format!("Magento order {id} has no entity_id or updated_at"))?;
        Ok((cents(&o["grand_total"]), mg_doc(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lost_bulks_outlast_the_bulk_timeout() {
        let c = MagentoChaos::default();
        let longest = c.sim.consumer_delay + c.sim.consumer_jitter;
        assert!(c.bulk_timeout() >= longest * 3);
        assert!(c.sim.lost_bulk_applies);
    }
}
