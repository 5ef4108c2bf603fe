//! Crash test of the real `weft` binary with a BigCommerce store (the harness and what it
//! checks: `common/crash.rs`): BigCommerce's thin callbacks are dropped, duplicated and
//! reordered, those sent while weft is down fail and are retried (seconds apart here) until
//! BigCommerce deactivates the hook, which weft's keeper (`[server] public_url` is set, so weft
//! registers its hooks itself) re-activates: at the end every hook must be active. Another app
//! spends half of the store's request quota all along (the window shortened to 1.5 s, as in
//! `weft demo --storefront bigcommerce`). A resent stock set finds the level already set and
//! applies nothing twice; a resent product create finds the product by SKU. The two systems are
//! compared through `weft::demo_storefront::verify_store`.

#[path = "common/crash.rs"]
mod crash;

use std::collections::BTreeMap;
use std::time::Duration;

use crash::{NS_LOCATION, Storefront};
use serde_json::{Value, json};
use weft::demo::Verification;
use weft::demo_bc::BcApi;
use weft_runtime::MapperInstance;
use weft_sim_bigcommerce::{BcSim, DEFAULT_STORE_HASH, DEFAULT_TOKEN, OrderLine};
use weft_sim_netsuite::NetSuiteSim;

const SEED: u64 = 20_261_217;
const SECRET: &str = "crash-hook-secret";

struct Bc {
    sim: BcSim,
    _server: weft_sim_bigcommerce::SimHandle,
    url: String,
}

impl Storefront for Bc {
    const SYSTEM: &'static str = "bigcommerce";
    const LABEL: &'static str = "BigCommerce";
    const FULFILS: bool = false;

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CRASH_BC_TOKEN".to_owned(), DEFAULT_TOKEN.to_owned()),
            ("CRASH_BC_WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
        ]
    }

    fn section(&self) -> String {
        format!(
            r#"[systems.bigcommerce]
platform = "bigcommerce"
store_hash = "{DEFAULT_STORE_HASH}"
base_url = "{url}"
access_token = {{ env = "CRASH_BC_TOKEN" }}
webhook_secrets = [{{ env = "CRASH_BC_WEBHOOK_SECRET" }}]
plan = "standard"
"#,
            url = self.url
        )
    }

    fn locations(&self) -> Value {
        json!({ "1": NS_LOCATION })
    }

    fn keeps_webhooks(&self) -> bool {
        true
    }

    fn subscribe(&self, _url: &str) {}

    fn create_customer(&self, k: usize) -> u64 {
        self.sim
            .create_customer(json!({"email": format!("buyer{k}@crash.example"),
                "first_name": format!("Buyer{k}"), "last_name": "Crash"}))
            .expect("create a customer")
    }

    fn set_price(&self, sku: &str, price: &str) {
        let price: f64 = price.parse().expect("a price");
        self.sim
            .edit_variant(sku, json!({ "price": price }))
            .expect("edit a price in BigCommerce");
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
            .expect("place an order in BigCommerce")
    }

    fn set_phone(&self, customer: u64, phone: &str) {
        self.sim
            .edit_customer(customer, json!({ "phone": phone }))
            .expect("edit a customer in BigCommerce");
    }

    fn shows(&self, sku: &str) -> Option<i64> {
        self.sim.stock(sku, 1)
    }

    fn sku_counts(&self) -> BTreeMap<String, usize> {
        let mut skus: BTreeMap<String, usize> = BTreeMap::new();
        for p in self.sim.state()["products"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for v in p["variants"].as_array().into_iter().flatten() {
                if let Some(sku) = v["sku"].as_str().filter(|s| !s.is_empty()) {
                    *skus.entry(sku.to_owned()).or_default() += 1;
                }
            }
        }
        skus
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
        weft::demo_storefront::verify_store(
            &BcApi::new(&self.url)?,
            netsuite,
            netsuite_url,
            orders,
            mapper,
        )
        .await
    }

    /// Every hook weft registered is active (the keeper re-activated those BigCommerce
    /// deactivated), and the store's quota answered weft no 429 once it had learned it.
    fn check(&self, problems: &mut Vec<String>) -> String {
        let hooks = self.sim.hooks();
        if hooks.len() != weft_bigcommerce::webhook::SCOPES.len()
            || hooks.iter().any(|h| h["is_active"] != true)
        {
            problems.push(format!(
                "weft's hooks are not one active hook per scope: {:?}",
                hooks
                    .iter()
                    .map(|h| (h["scope"].clone(), h["is_active"].clone()))
                    .collect::<Vec<_>>()
            ));
        }
        let ws = self.sim.webhook_stats();
        let windows = self.sim.quota_windows();
        let refused: u32 = windows.iter().map(|w| w.api_refused).sum();
        let others: u32 = windows.iter().map(|w| w.others_spent).sum();
        format!(
            "{} callbacks, {} dropped, {} failed, {} hooks deactivated; quota: {} windows, \
             {others} requests of the other app, {refused} answered 429",
            ws.callbacks,
            ws.dropped,
            ws.failed,
            ws.hooks_deactivated,
            windows.len()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_with_bigcommerce_survives_repeated_sigkill_without_losing_or_duplicating() {
    let sim = BcSim::new(weft::demo_bc::sim_config(SEED, 0.05, 0.05, 200))
        .expect("BigCommerce simulator config");
    let server = sim.serve_local().await.expect("serve BigCommerce");
    let shop = Bc {
        url: server.base_url.clone(),
        sim,
        _server: server,
    };
    crash::run(shop, SEED).await;
}
