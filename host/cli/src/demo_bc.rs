//! `weft demo --storefront bigcommerce`: the storefront demo ([`crate::demo_storefront`]) with a
//! simulated BigCommerce store, whose thin webhooks are only hints (weft fetches what they
//! name) under the run's seeded chaos (drops, duplicates, reordering), and whose store-wide
//! request quota another app spends half of while weft syncs.
//!
//! The quota is the Standard plan's 150 requests per window, with the window shortened from
//! 30 s to [`QUOTA_WINDOW`] so the demo runs in seconds: weft's limiter learns the window from
//! the `X-Rate-Limit-*` headers like any other, so the shape is the same, only faster. The
//! report's `throttled` counts every 429 the simulator answered weft (and NetSuite's over-limit
//! answers).

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use weft_bigcommerce::{BcClient, BcConfig, QuotaLimiter};
use weft_runtime::types::PlatformDoc;
use weft_sim_bigcommerce::{
    BackgroundShape, BcSim, ChaosConfig, DEFAULT_STORE_HASH, DEFAULT_TOKEN, OrderLine, QuotaConfig,
    SimConfig, WebhookConfig,
};

use crate::app::SystemSetup;
use crate::demo::{DemoOptions, NS_LOCATION, cents};
use crate::demo_storefront::{DemoStorefront, StorefrontApi, WebhookCounts, doc};
use crate::platforms;

/// The system name of the demo's BigCommerce store.
const SYSTEM: &str = weft_bigcommerce::PLATFORM;

/// Requests per quota window (BigCommerce Standard and Plus plans).
pub const QUOTA: u32 = 150;

/// The demo's quota window (BigCommerce's is 30 s).
pub const QUOTA_WINDOW: Duration = Duration::from_millis(1500);

/// The share of each window the other app on the store spends.
pub const COMPETING_SHARE: f64 = 0.5;

/// The value of the custom header weft's hooks are registered with.
pub const WEBHOOK_SECRET: &str = "weft-demo-hook-secret";

/// BigCommerce's default inventory location: where it takes an order's stock.
const BC_LOCATION: u64 = 1;

/// The simulator's settings for a demo store: the seed, the shortened quota with the other
/// app, the run's webhook chaos, and retries seconds apart (weft is up: a retry only follows a
/// delivery the intake could not take).
pub fn sim_config(seed: u64, drop_rate: f64, duplicate_rate: f64, reorder_ms: u64) -> SimConfig {
    SimConfig {
        seed,
        quota: QuotaConfig {
            requests_per_window: QUOTA,
            window: QUOTA_WINDOW,
            background_per_window: (f64::from(QUOTA) * COMPETING_SHARE).round() as u32,
            background_shape: BackgroundShape::Even,
        },
        webhooks: WebhookConfig {
            chaos: ChaosConfig {
                drop_rate,
                duplicate_rate,
                reorder_window: Duration::from_millis(reorder_ms),
            },
            retry_delays: [1, 2, 5, 10].map(Duration::from_secs).to_vec(),
            ..WebhookConfig::default()
        },
        ..SimConfig::default()
    }
}

/// A simulated BigCommerce store of a demo store.
pub(crate) struct Bc {
    sim: BcSim,
    _server: weft_sim_bigcommerce::SimHandle,
    url: String,
}

fn err(e: weft_sim_bigcommerce::SimError) -> anyhow::Error {
    anyhow!("{e}")
}

impl DemoStorefront for Bc {
    type Api = BcApi;
    type Chaos = ();
    const SYSTEM: &'static str = SYSTEM;
    const SKU_PREFIX: &'static str = "B";
    const STOCK_FIGURE: &'static str = "BigCommerce available (default location)";

    async fn start(opts: &DemoOptions, _chaos: &(), seed: u64) -> Result<Self> {
        let sim = BcSim::new(sim_config(
            seed,
            opts.drop_rate,
            opts.duplicate_rate,
            opts.reorder_ms,
        ))
        .map_err(err)?;
        let server = sim.serve_local().await.map_err(err)?;
        let url = server.base_url.clone();
        Ok(Bc {
            sim,
            _server: server,
            url,
        })
    }

    /// BigCommerce's default location is NetSuite location 1.
    fn locations(&self) -> Value {
        json!({ BC_LOCATION.to_string(): NS_LOCATION })
    }

    fn system(&self) -> Result<SystemSetup> {
        Ok(platforms::bigcommerce_system(
            SYSTEM,
            &self.url,
            DEFAULT_STORE_HASH,
            DEFAULT_TOKEN,
            QUOTA,
            vec![WEBHOOK_SECRET.as_bytes().to_vec()],
        ))
    }

    /// Registers weft's hooks (`/v3/hooks`, the secret as their custom header), as weft's
    /// keeper does when `[server] public_url` is set.
    async fn subscribe(&self, url: &str, _opts: &DemoOptions) -> Result<()> {
        let api = BcApi::new(&self.url)?;
        weft_bigcommerce::webhook::ensure_hooks(&api.client, url, WEBHOOK_SECRET)
            .await
            .context("cannot register the BigCommerce hooks")?;
        Ok(())
    }

    async fn wait_idle(&self, limit: Duration) {
        self.sim.wait_webhooks_idle(limit).await;
    }

    fn has_sku(&self, sku: &str) -> bool {
        self.sim.variant(sku).is_some()
    }

    fn create_customer(&self, email: &str, first: &str, last: &str) -> Result<u64> {
        self.sim
            .create_customer(json!({"email": email, "first_name": first, "last_name": last}))
            .map_err(err)
    }

    /// The merchant edits the product's price, or (as often) the variant's own.
    fn set_price(&self, sku: &str, price: &str, rng: &mut ChaCha8Rng) -> Result<()> {
        let price: f64 = price.parse().context("a demo price")?;
        if rng.random_bool(0.5) {
            return self
                .sim
                .edit_variant(sku, json!({ "price": price }))
                .map_err(err);
        }
        let product = self
            .sim
            .variant(sku)
            .and_then(|v| v["product_id"].as_u64())
            .with_context(|| format!("no BigCommerce product for {sku}"))?;
        self.sim
            .edit_product(product, json!({ "price": price }))
            .map_err(err)
    }

    fn place_order(&self, customer: u64, sku: &str, quantity: i64) -> Result<u64> {
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
            .edit_customer(customer, json!({ "phone": phone }))
            .map_err(err)
    }

    fn stock(&self, sku: &str) -> Option<i64> {
        self.sim.stock(sku, BC_LOCATION)
    }

    fn webhooks(&self) -> WebhookCounts {
        let ws = self.sim.webhook_stats();
        WebhookCounts {
            sent: ws.callbacks,
            dropped: ws.dropped,
            duplicated: ws.duplicated,
            ..WebhookCounts::default()
        }
    }

    /// Every 429 the store's quota answered an API client.
    fn throttled(&self) -> u64 {
        self.sim
            .quota_windows()
            .iter()
            .map(|w| u64::from(w.api_refused))
            .sum()
    }

    fn api(&self) -> Result<BcApi> {
        BcApi::new(&self.url)
    }
}

/// A simulated BigCommerce store read through its REST API (the simulator's default store and
/// token), with its own quota limiter.
pub struct BcApi {
    client: BcClient,
}

impl BcApi {
    /// A reader of the store whose API base is `url`.
    pub fn new(url: &str) -> Result<Self> {
        Ok(BcApi {
            client: BcClient::new(
                BcConfig::new(url, DEFAULT_STORE_HASH, DEFAULT_TOKEN),
                QuotaLimiter::new(weft_bigcommerce::limiter::DEFAULT_MARGIN),
            )?,
        })
    }
}

fn bc_doc(d: weft_bigcommerce::normalize::BcDoc) -> PlatformDoc {
    doc(
        SYSTEM,
        crate::demo::kind(d.kind.as_str()),
        d.id,
        d.version,
        &d.body,
    )
}

impl StorefrontApi for BcApi {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn label(&self) -> &'static str {
        "BigCommerce"
    }

    /// Products with their variants and stock levels, and customers.
    async fn docs(&self) -> Result<Vec<PlatformDoc>> {
        let mut docs: Vec<PlatformDoc> = weft_bigcommerce::poll::products_where(&self.client, "")
            .await?
            .into_iter()
            .map(bc_doc)
            .collect();
        docs.extend(
            weft_bigcommerce::poll::customers_where(&self.client, "")
                .await?
                .into_iter()
                .map(bc_doc),
        );
        Ok(docs)
    }

    async fn order(&self, id: u64) -> Result<(Option<i64>, PlatformDoc)> {
        let o = self.client.get(&format!("/v2/orders/{id}")).await?;
        let lines = self
            .client
            .get(&format!("/v2/orders/{id}/products"))
            .await?;
        let d = weft_bigcommerce::normalize::order(&o, &lines)
            .with_context(|| format!("BigCommerce order {id} has no id or date_modified"))?;
        Ok((cents(&o["total_inc_tax"]), bc_doc(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_app_spends_half_of_a_shortened_standard_window() {
        let c = sim_config(1, 0.01, 0.0, 0);
        assert_eq!(c.quota.requests_per_window, 150);
        assert_eq!(c.quota.background_per_window, 75);
        assert_eq!(c.quota.window, QUOTA_WINDOW);
        assert!(c.validate().is_ok());
    }
}
