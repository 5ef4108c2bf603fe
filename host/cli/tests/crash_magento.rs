//! Crash test of the real `weft` binary with a Magento store view (the harness and what it
//! checks: `common/crash.rs`). Magento Open Source sends no webhooks, so weft learns of every
//! merchant edit, order and customer change by polling, and a process killed between rounds
//! loses nothing it had not read: the next process reads from the saved watermarks. Catalog and
//! stock are written through the asynchronous bulk API under the simulator's seeded chaos (a
//! share of operations fail retriably and are sent again, the consumer applies each one up to
//! 1.3 s after its bulk was accepted): a bulk accepted before a kill is kept with its outbox
//! call and only asked about by the next process, never posted again; a post whose answer the
//! kill lost is posted again (Magento takes no client key for a bulk): a product save by SKU
//! is the same save, and stock is read first, so a level already set is found satisfied. The
//! two systems are compared through `weft::demo_storefront::verify_store`.

#[path = "common/crash.rs"]
mod crash;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use crash::{NS_LOCATION, Storefront};
use serde_json::{Value, json};
use weft::demo::Verification;
use weft::demo_magento::MgApi;
use weft_runtime::MapperInstance;
use weft_sim_magento::{
    ChaosConfig, DEFAULT_SOURCE, DEFAULT_TOKEN, MagentoSim, OrderLine, STATUS_OPEN,
    STATUS_RETRIABLE, SimConfig,
};
use weft_sim_netsuite::NetSuiteSim;

const SEED: u64 = 20_261_205;

struct Mg {
    sim: MagentoSim,
    _server: weft_sim_magento::SimHandle,
    url: String,
    /// Customer id -> email (the simulator's shopper orders by email).
    emails: Mutex<HashMap<u64, String>>,
}

impl Mg {
    fn email(&self, customer: u64) -> String {
        self.emails.lock().expect("emails")[&customer].clone()
    }
}

impl Storefront for Mg {
    const SYSTEM: &'static str = "magento";
    const LABEL: &'static str = "Magento";
    const FULFILS: bool = false;

    fn env(&self) -> Vec<(String, String)> {
        vec![("CRASH_MAGENTO_TOKEN".to_owned(), DEFAULT_TOKEN.to_owned())]
    }

    fn section(&self) -> String {
        format!(
            r#"[systems.magento]
platform = "magento"
base_url = "{url}"
store_code = "default"
access_token = {{ env = "CRASH_MAGENTO_TOKEN" }}
bulk_poll_secs = 1
"#,
            url = self.url
        )
    }

    fn locations(&self) -> Value {
        json!({ format!("magento:{DEFAULT_SOURCE}"): NS_LOCATION })
    }

    /// There are none to keep (no `public_url`).
    fn keeps_webhooks(&self) -> bool {
        false
    }

    /// No webhooks: nothing to subscribe.
    fn subscribe(&self, _url: &str) {}

    fn create_customer(&self, k: usize) -> u64 {
        let email = format!("buyer{k}@crash.example");
        let c = self
            .sim
            .save_customer(
                json!({"email": email, "firstname": format!("Buyer{k}"), "lastname": "Crash"}),
            )
            .expect("create a customer");
        let id = c["id"].as_u64().expect("a customer id");
        self.emails.lock().expect("emails").insert(id, email);
        id
    }

    fn set_price(&self, sku: &str, price: &str) {
        self.sim
            .set_price(sku, price.parse().expect("a price"))
            .expect("edit a price in Magento");
    }

    fn place_order(&self, customer: u64, sku: &str, qty: i64) -> u64 {
        let o = self
            .sim
            .place_order(
                &self.email(customer),
                &[OrderLine {
                    sku: sku.to_owned(),
                    qty,
                }],
                DEFAULT_SOURCE,
            )
            .expect("place an order in Magento");
        o["entity_id"].as_u64().expect("an order id")
    }

    fn set_phone(&self, customer: u64, phone: &str) {
        self.sim
            .save_customer(json!({"email": self.email(customer), "addresses": [{
                "firstname": "Crash", "lastname": "Buyer", "street": ["1 Crash Street"],
                "city": "London", "postcode": "N1 1AA", "country_id": "GB",
                "telephone": phone, "default_billing": true}]}))
            .expect("edit a customer in Magento");
    }

    fn shows(&self, sku: &str) -> Option<i64> {
        self.sim
            .stock(sku, DEFAULT_SOURCE)
            .map(|q| q.round() as i64)
    }

    fn sku_counts(&self) -> BTreeMap<String, usize> {
        let mut skus: BTreeMap<String, usize> = BTreeMap::new();
        for p in self.sim.state()["products"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(sku) = p["sku"].as_str().filter(|s| !s.is_empty()) {
                *skus.entry(sku.to_owned()).or_default() += 1;
            }
        }
        skus
    }

    /// No webhooks: nothing is ever pending.
    async fn webhooks_idle(&self, _limit: Duration) -> bool {
        true
    }

    async fn verify(
        &self,
        netsuite: &NetSuiteSim,
        netsuite_url: &str,
        orders: &[u64],
        mapper: &MapperInstance,
    ) -> anyhow::Result<Verification> {
        weft::demo_storefront::verify_store(
            &MgApi::new(&self.url)?,
            netsuite,
            netsuite_url,
            orders,
            mapper,
        )
        .await
    }

    /// Every operation of every bulk has a final status (none left open), and what the bulks
    /// were, for the summary.
    fn check(&self, problems: &mut Vec<String>) -> String {
        let bulks = self.sim.bulks();
        let ops: Vec<_> = bulks.iter().flat_map(|b| b.operations.iter()).collect();
        let open = ops.iter().filter(|o| o.status == STATUS_OPEN).count();
        if open > 0 {
            problems.push(format!("{open} bulk operations are still open"));
        }
        format!(
            "none (Magento polls); {} bulks, {} operations, {} failed retriably",
            bulks.len(),
            ops.len(),
            ops.iter().filter(|o| o.status == STATUS_RETRIABLE).count()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_with_magento_survives_repeated_sigkill_without_losing_or_duplicating() {
    let sim = MagentoSim::new(SimConfig {
        seed: SEED,
        chaos: ChaosConfig {
            retriable_failure_share: 0.05,
            consumer_delay: Duration::from_millis(300),
            consumer_jitter: Duration::from_millis(1000),
            ..ChaosConfig::default()
        },
        ..SimConfig::default()
    });
    let server = sim
        .serve(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
        .await
        .expect("serve Magento");
    let shop = Mg {
        url: server.base_url.clone(),
        sim,
        _server: server,
        emails: Mutex::new(HashMap::new()),
    };
    crash::run(shop, SEED).await;
}
