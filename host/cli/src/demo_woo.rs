//! `weft demo --storefront woocommerce`: the storefront demo ([`crate::demo_storefront`]) with a
//! simulated WooCommerce site, under its seeded webhook chaos (drops, duplicates, reordering,
//! late stale payloads; and WooCommerce never re-sends, so the poll is the only safety net).

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use weft_runtime::MapperInstance;
use weft_runtime::types::{EntityKind, PlatformDoc};
use weft_sim_netsuite::NetSuiteSim;
use weft_sim_woocommerce::{DEFAULT_KEY, DEFAULT_SECRET, OrderLine, WooSim};
use weft_woocommerce::{WooClient, WooConfig};

use crate::app::SystemSetup;
use crate::demo::{DemoOptions, NS_LOCATION, Verification, cents};
use crate::demo_storefront::{DemoStorefront, StorefrontApi, WebhookCounts, doc};
use crate::platforms;

/// The system name of the demo's WooCommerce site.
const SYSTEM: &str = weft_woocommerce::PLATFORM;

/// A simulated WooCommerce site of a demo store.
pub(crate) struct Woo {
    sim: WooSim,
    _server: weft_sim_woocommerce::SimHandle,
    url: String,
}

fn err(e: weft_sim_woocommerce::SimError) -> anyhow::Error {
    anyhow!("{e}")
}

impl Woo {
    fn id(&self, sku: &str) -> Result<u64> {
        self.sim
            .id_by_sku(sku)
            .with_context(|| format!("no WooCommerce product for {sku}"))
    }
}

impl DemoStorefront for Woo {
    type Api = WooApi;
    type Chaos = ();
    const SYSTEM: &'static str = SYSTEM;
    const SKU_PREFIX: &'static str = "W";
    const STOCK_FIGURE: &'static str = "WooCommerce stock_quantity";

    async fn start(opts: &DemoOptions, _chaos: &(), seed: u64) -> Result<Self> {
        let mut config = weft_sim_woocommerce::SimConfig {
            seed,
            ..weft_sim_woocommerce::SimConfig::default()
        };
        config.webhooks.chaos = weft_sim_woocommerce::ChaosConfig {
            drop_rate: opts.drop_rate,
            duplicate_rate: opts.duplicate_rate,
            reorder_window_ms: opts.reorder_ms,
            delay_rate: opts.late_rate,
            delay_ms: 2_000,
        };
        let sim = WooSim::new(config).map_err(err)?;
        let server = sim.serve_local().await.map_err(err)?;
        let url = server.base_url.clone();
        Ok(Woo {
            sim,
            _server: server,
            url,
        })
    }

    /// WooCommerce's one stock figure is NetSuite location 1.
    fn locations(&self) -> Value {
        json!({ SYSTEM: NS_LOCATION })
    }

    fn system(&self) -> Result<SystemSetup> {
        Ok(platforms::woocommerce_system(
            SYSTEM,
            &self.url,
            WooConfig::new(&self.url, DEFAULT_KEY, DEFAULT_SECRET),
            vec![DEFAULT_SECRET.as_bytes().to_vec()],
        ))
    }

    /// As a merchant would in WooCommerce > Settings > Advanced > Webhooks (the secret is the
    /// consumer secret, WooCommerce's default). Each creation pings weft (unsigned
    /// `webhook_id=<id>`): it must be answered 200 and nothing stored, or WooCommerce would not
    /// activate the webhook.
    async fn subscribe(&self, url: &str, opts: &DemoOptions) -> Result<()> {
        for topic in weft_woocommerce::webhook::TOPICS {
            self.sim
                .create_webhook(topic, url, DEFAULT_SECRET)
                .map_err(|e| anyhow!("cannot create a webhook: {e}"))?;
        }
        self.sim.wait_webhooks_idle(opts.settle_timeout).await;
        let pings = self.sim.webhook_pings();
        anyhow::ensure!(
            pings.len() == weft_woocommerce::webhook::TOPICS.len()
                && pings.iter().all(|(_, status)| *status == Some(200)),
            "WooCommerce's activation pings were not all answered 200: {pings:?}"
        );
        Ok(())
    }

    async fn wait_idle(&self, limit: Duration) {
        self.sim.wait_webhooks_idle(limit).await;
    }

    fn has_sku(&self, sku: &str) -> bool {
        self.sim.id_by_sku(sku).is_some()
    }

    fn create_customer(&self, email: &str, first: &str, last: &str) -> Result<u64> {
        self.sim.create_customer(email, first, last).map_err(err)
    }

    fn set_price(&self, sku: &str, price: &str, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.sim.set_price(self.id(sku)?, price, "").map_err(err)
    }

    fn place_order(&self, customer: u64, sku: &str, quantity: i64) -> Result<u64> {
        self.id(sku)?;
        self.sim
            .place_order(
                customer,
                &[OrderLine {
                    sku: sku.to_owned(),
                    quantity,
                }],
            )
            .map_err(err)
    }

    fn set_phone(&self, customer: u64, phone: &str) -> Result<()> {
        self.sim
            .update_customer(customer, json!({"billing": {"phone": phone}}))
            .map_err(err)
    }

    fn stock(&self, sku: &str) -> Option<i64> {
        self.sim.id_by_sku(sku).and_then(|id| self.sim.stock(id))
    }

    fn webhooks(&self) -> WebhookCounts {
        let ws = self.sim.webhook_stats();
        WebhookCounts {
            sent: ws.deliveries,
            dropped: ws.dropped,
            duplicated: ws.duplicated,
            reordered: ws.reordered,
            late: ws.delayed,
        }
    }

    fn throttled(&self) -> u64 {
        0
    }

    fn api(&self) -> Result<WooApi> {
        WooApi::new(&self.url)
    }
}

/// A simulated WooCommerce site read through its REST API (the simulator's default key).
pub struct WooApi {
    client: WooClient,
}

impl WooApi {
    /// A reader of the site at `url`.
    pub fn new(url: &str) -> Result<Self> {
        Ok(WooApi {
            client: WooClient::new(WooConfig::new(url, DEFAULT_KEY, DEFAULT_SECRET))?,
        })
    }
}

fn woo_doc(kind: EntityKind, v: &Value) -> PlatformDoc {
    doc(
        SYSTEM,
        kind,
        v["id"].as_u64().map(|i| i.to_string()).unwrap_or_default(),
        weft_woocommerce::version_of(v).unwrap_or_default(),
        v,
    )
}

impl StorefrontApi for WooApi {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn label(&self) -> &'static str {
        "WooCommerce"
    }

    /// Products (with their levels) and customers.
    async fn docs(&self) -> Result<Vec<PlatformDoc>> {
        let mut docs = Vec::new();
        let q = vec![("status".to_owned(), "any".to_owned())];
        for p in self.client.list_all("products", &q).await? {
            docs.push(woo_doc(EntityKind::Product, &p));
            if let Some(level) = weft_woocommerce::level_doc(&p) {
                docs.push(woo_doc(EntityKind::InventoryLevel, &level));
            }
        }
        for c in self.client.list_all("customers", &[]).await? {
            docs.push(woo_doc(EntityKind::Customer, &c));
        }
        Ok(docs)
    }

    async fn order(&self, id: u64) -> Result<(Option<i64>, PlatformDoc)> {
        let body = self.client.get(&format!("orders/{id}"), &[]).await?;
        Ok((cents(&body["total"]), woo_doc(EntityKind::Order, &body)))
    }
}

/// Reads a simulated WooCommerce site (through its API at `woo_url`, the simulator's default
/// key) and NetSuite afresh and verifies them ([`crate::demo_storefront::verify_store`]).
pub async fn verify_woo_store(
    woo_url: &str,
    netsuite_sim: &NetSuiteSim,
    netsuite_url: &str,
    orders: &[u64],
    mapper: &MapperInstance,
) -> Result<Verification> {
    crate::demo_storefront::verify_store(
        &WooApi::new(woo_url)?,
        netsuite_sim,
        netsuite_url,
        orders,
        mapper,
    )
    .await
}
