//! Crash test of the real `weft` binary with a Shopify shop (the harness and what it checks:
//! `common/crash.rs`): Shopify's webhooks are dropped, duplicated and reordered, and those sent
//! while weft is down fail, so Shopify retries them or gives up (the reconciliation polls must
//! find those changes); the warehouse ships orders in NetSuite, so every fulfilment must reach
//! Shopify once. The two systems are compared through `weft::demo::verify_store`.

#[path = "common/crash.rs"]
mod crash;

use std::collections::BTreeMap;
use std::time::Duration;

use crash::{NS_LOCATION, Storefront};
use serde_json::{Value, json};
use weft::demo::Verification;
use weft_runtime::MapperInstance;
use weft_sim_netsuite::NetSuiteSim;
use weft_sim_shopify::{
    ChaosConfig, CustomerFields, NewOrder, NewOrderLine, ShopifySim, VariantEdit,
};

const SEED: u64 = 20_261_127;
const API_VERSION: &str = "2026-04";

struct Shopify {
    sim: ShopifySim,
    _server: weft_sim_shopify::SimHandle,
    url: String,
    location: u64,
}

impl Storefront for Shopify {
    const SYSTEM: &'static str = "shopify";
    const LABEL: &'static str = "Shopify";
    const FULFILS: bool = true;

    fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CRASH_SHOPIFY_TOKEN".to_owned(),
                self.sim.config().access_tokens[0].clone(),
            ),
            (
                "CRASH_SHOPIFY_WEBHOOK_SECRET".to_owned(),
                self.sim.config().client_secrets[0].clone(),
            ),
        ]
    }

    fn section(&self) -> String {
        format!(
            r#"[systems.shopify]
platform = "shopify"
shop = "{shop}"
base_url = "{url}"
api_version = "{API_VERSION}"
access_token = {{ env = "CRASH_SHOPIFY_TOKEN" }}
webhook_secrets = [{{ env = "CRASH_SHOPIFY_WEBHOOK_SECRET" }}]
"#,
            shop = self.sim.config().shop_domain,
            url = self.url,
        )
    }

    fn locations(&self) -> Value {
        json!({ self.location.to_string(): NS_LOCATION })
    }

    fn keeps_webhooks(&self) -> bool {
        false
    }

    fn subscribe(&self, url: &str) {
        self.sim.subscribe_all(url).expect("subscribe to webhooks");
    }

    fn create_customer(&self, k: usize) -> u64 {
        self.sim
            .create_customer(CustomerFields {
                email: Some(format!("buyer{k}@crash.example")),
                first_name: Some(format!("Buyer{k}")),
                last_name: Some("Crash".into()),
                ..CustomerFields::default()
            })
            .expect("create a customer")
    }

    fn set_price(&self, sku: &str, price: &str) {
        let variant = self.sim.variant_by_sku(sku).expect("live variant");
        self.sim
            .edit_variant(
                variant,
                VariantEdit {
                    price: Some(price.to_owned()),
                    ..VariantEdit::default()
                },
            )
            .expect("edit a price in Shopify");
    }

    fn place_order(&self, customer: u64, sku: &str, qty: i64) -> u64 {
        self.sim
            .place_order(NewOrder {
                customer_id: Some(customer.to_string()),
                line_items: vec![NewOrderLine {
                    sku: Some(sku.to_owned()),
                    quantity: qty,
                    ..NewOrderLine::default()
                }],
                ..NewOrder::default()
            })
            .expect("place an order in Shopify")
    }

    fn set_phone(&self, customer: u64, phone: &str) {
        self.sim
            .edit_customer(
                customer,
                CustomerFields {
                    phone: Some(phone.to_owned()),
                    ..CustomerFields::default()
                },
            )
            .expect("edit a customer in Shopify");
    }

    fn shows(&self, sku: &str) -> Option<i64> {
        self.sim
            .variant_by_sku(sku)
            .and_then(|v| self.sim.inventory_item_of(v))
            .and_then(|item| self.sim.available(item, self.location))
    }

    fn sku_counts(&self) -> BTreeMap<String, usize> {
        let dump = self.sim.dump();
        let mut variants: BTreeMap<String, usize> = BTreeMap::new();
        for p in dump["products"].as_array().into_iter().flatten() {
            for v in p["variants"].as_array().into_iter().flatten() {
                *variants
                    .entry(v["sku"].as_str().unwrap_or("").to_owned())
                    .or_default() += 1;
            }
        }
        variants
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
        weft::demo::verify_store(&self.sim, &self.url, netsuite, netsuite_url, orders, mapper).await
    }

    fn check(&self, _problems: &mut Vec<String>) -> String {
        let ws = self.sim.webhook_stats();
        format!("{} sent, {} failed or dropped", ws.deliveries, ws.dropped)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_survives_repeated_sigkill_without_losing_or_duplicating() {
    let sim = ShopifySim::new(
        weft_sim_shopify::SimConfig::builder()
            .seed(SEED)
            .chaos(ChaosConfig {
                drop_rate: 0.05,
                duplicate_rate: 0.05,
                reorder_window_ms: 200,
                late_rate: 0.02,
                ..ChaosConfig::default()
            })
            // Shopify's 4 hours of webhook retries take 4 seconds.
            .time_compression(3600.0)
            .api_versions(vec![API_VERSION.into()])
            .build()
            .expect("Shopify simulator config"),
    );
    let server = sim
        .serve(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
        .expect("serve Shopify");
    let location = sim.location_ids()[0];
    let shop = Shopify {
        url: server.base_url.clone(),
        sim,
        _server: server,
        location,
    };
    crash::run(shop, SEED).await;
}
