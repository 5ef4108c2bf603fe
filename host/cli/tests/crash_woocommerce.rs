//! Crash test of the real `weft` binary with a WooCommerce site (the harness and what it checks:
//! `common/crash.rs`): WooCommerce never re-sends, so deliveries made while weft is down are
//! lost (the poll must find those changes), and after seven failures in a row WooCommerce
//! disables the webhook, which weft's keeper (`[server] public_url` is set, so weft creates the
//! webhooks itself) re-activates: at the end every webhook must be active. A resent stock set
//! is found by its marker, never applied twice. The two systems are compared through
//! `weft::demo_woo::verify_woo_store`.

#[path = "common/crash.rs"]
mod crash;

use std::collections::BTreeMap;
use std::time::Duration;

use crash::{NS_LOCATION, Storefront};
use serde_json::{Value, json};
use weft::demo::Verification;
use weft_runtime::MapperInstance;
use weft_sim_netsuite::NetSuiteSim;
use weft_sim_woocommerce::{ChaosConfig, DEFAULT_KEY, DEFAULT_SECRET, Kind, OrderLine, WooSim};

const SEED: u64 = 20_261_205;

struct Woo {
    sim: WooSim,
    _server: weft_sim_woocommerce::SimHandle,
    url: String,
}

impl Storefront for Woo {
    const SYSTEM: &'static str = "woocommerce";
    const LABEL: &'static str = "WooCommerce";
    const FULFILS: bool = false;

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CRASH_WC_KEY".to_owned(), DEFAULT_KEY.to_owned()),
            ("CRASH_WC_SECRET".to_owned(), DEFAULT_SECRET.to_owned()),
            (
                "CRASH_WC_WEBHOOK_SECRET".to_owned(),
                "crash-webhook-secret".to_owned(),
            ),
        ]
    }

    fn section(&self) -> String {
        format!(
            r#"[systems.woocommerce]
platform = "woocommerce"
site_url = "{url}"
consumer_key = {{ env = "CRASH_WC_KEY" }}
consumer_secret = {{ env = "CRASH_WC_SECRET" }}
webhook_secrets = [{{ env = "CRASH_WC_WEBHOOK_SECRET" }}]
requests_per_second = 200
"#,
            url = self.url
        )
    }

    fn locations(&self) -> Value {
        json!({ "woocommerce": NS_LOCATION })
    }

    fn keeps_webhooks(&self) -> bool {
        true
    }

    fn subscribe(&self, _url: &str) {}

    fn create_customer(&self, k: usize) -> u64 {
        self.sim
            .create_customer(
                &format!("buyer{k}@crash.example"),
                &format!("Buyer{k}"),
                "Crash",
            )
            .expect("create a customer")
    }

    fn set_price(&self, sku: &str, price: &str) {
        let id = self.sim.id_by_sku(sku).expect("live product");
        self.sim
            .set_price(id, price, "")
            .expect("edit a price in WooCommerce");
    }

    fn place_order(&self, customer: u64, sku: &str, qty: i64) -> u64 {
        self.sim
            .place_order(
                customer,
                &[OrderLine {
                    sku: sku.to_owned(),
                    quantity: qty,
                }],
            )
            .expect("place an order in WooCommerce")
    }

    fn set_phone(&self, customer: u64, phone: &str) {
        self.sim
            .update_customer(customer, json!({"billing": {"phone": phone}}))
            .expect("edit a customer in WooCommerce");
    }

    fn shows(&self, sku: &str) -> Option<i64> {
        self.sim.id_by_sku(sku).and_then(|id| self.sim.stock(id))
    }

    fn sku_counts(&self) -> BTreeMap<String, usize> {
        let mut products: BTreeMap<String, usize> = BTreeMap::new();
        for p in self.sim.all(Kind::Product) {
            if p["status"] != "trash" {
                *products
                    .entry(p["sku"].as_str().unwrap_or("").to_owned())
                    .or_default() += 1;
            }
        }
        products
    }

    async fn webhooks_idle(&self, limit: Duration) -> bool {
        self.sim.wait_webhooks_idle(limit).await
    }

    async fn verify(
        &self,
        netsuite: &NetSuiteSim,
        netsuite_url: &str,
        orders: &[u64],
        mapper: &MapperInstance,
    ) -> anyhow::Result<Verification> {
        weft::demo_woo::verify_woo_store(&self.url, netsuite, netsuite_url, orders, mapper).await
    }

    /// Every webhook weft made is active (the keeper re-activated those WooCommerce disabled).
    fn check(&self, problems: &mut Vec<String>) -> String {
        let hooks = self.sim.all(Kind::Webhook);
        if hooks.len() != weft_woocommerce::webhook::TOPICS.len()
            || hooks.iter().any(|h| h["status"] != "active")
        {
            problems.push(format!(
                "weft's webhooks are not one active webhook per topic: {:?}",
                hooks
                    .iter()
                    .map(|h| (h["topic"].clone(), h["status"].clone()))
                    .collect::<Vec<_>>()
            ));
        }
        let ws = self.sim.webhook_stats();
        format!(
            "{} sent, {} failed or dropped, {} disabled by WooCommerce",
            ws.deliveries,
            ws.dropped + ws.failed,
            ws.webhooks_disabled
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_with_woocommerce_survives_repeated_sigkill_without_losing_or_duplicating() {
    let mut config = weft_sim_woocommerce::SimConfig {
        seed: SEED,
        ..weft_sim_woocommerce::SimConfig::default()
    };
    config.webhooks.chaos = ChaosConfig {
        drop_rate: 0.05,
        duplicate_rate: 0.05,
        reorder_window_ms: 200,
        delay_rate: 0.02,
        delay_ms: 2_000,
    };
    let sim = WooSim::new(config).expect("WooCommerce simulator config");
    let server = sim.serve_local().await.expect("serve WooCommerce");
    let shop = Woo {
        url: server.base_url.clone(),
        sim,
        _server: server,
    };
    crash::run(shop, SEED).await;
}
