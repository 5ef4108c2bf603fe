//! A store with three systems: two Shopify shops (systems `shopify` and `shopify-eu`) and one
//! NetSuite account, run by the real host through the platform interface. A price edited in the
//! ERP reaches both storefronts; an order from each shop becomes exactly one sales order; stock
//! sold in one shop is committed in the ERP and shown sold in the other shop; customers and orders stay with the shop
//! they came from; and once quiet, nothing is written again (no ping-pong).

mod common;

use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};
use weft::app::{Host, StoreSetup};
use weft_platform::poll::patient;
use weft_ratelimit::ShopifyCostLimiter;
use weft_runtime::Limits;
use weft_shopify::{Entity, ShopifyClient, ShopifyConfig};
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{CustomerFields, NewOrder, NewOrderLine, ShopifySim};

const STORE: &str = "three";
const API_VERSION: &str = "2026-04";
const NS_LOCATION: &str = "1";
const SKUS: [&str; 3] = ["T-001", "T-002", "T-003"];
const OPENING: i64 = 50;
const SETTLE: Duration = Duration::from_secs(90);

struct Shop {
    system: &'static str,
    sim: ShopifySim,
    /// The test's own reader (its own cost limiter; reads wait out throttling).
    reader: ShopifyClient,
    _server: weft_sim_shopify::SimHandle,
    url: String,
    location: u64,
}

async fn start_shop(system: &'static str, seed: u64) -> Result<Shop> {
    let (sim, server) = common::serve_shopify(seed, API_VERSION).await?;
    let location = *sim
        .location_ids()
        .first()
        .context("the Shopify simulator has no location")?;
    let reader = ShopifyClient::new(
        ShopifyConfig::new(
            &server.base_url,
            API_VERSION,
            &sim.config().access_tokens[0],
        ),
        ShopifyCostLimiter::new(),
    )?;
    Ok(Shop {
        system,
        reader,
        url: server.base_url.clone(),
        sim,
        _server: server,
        location,
    })
}

impl Shop {
    /// Every document of `entity` as the shop's API reads it.
    async fn read(&self, entity: Entity) -> Result<Vec<Value>> {
        let read = patient(|| self.reader.read_since(&entity, None)).await?;
        Ok(read.docs.into_iter().map(|d| d.body).collect())
    }

    /// Each SKU's variant as the shop's API reads it.
    async fn variants(&self) -> Result<Vec<Value>> {
        let read = self.read(Entity::Products).await?;
        Ok(read
            .iter()
            .flat_map(|d| {
                d.get("variants")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect())
    }

    async fn price(&self, sku: &str) -> Result<Option<String>> {
        Ok(self
            .variants()
            .await?
            .into_iter()
            .find(|v| v["sku"] == sku)
            .and_then(|v| v["price"].as_str().map(str::to_owned)))
    }

    fn available(&self, sku: &str) -> Option<i64> {
        let variant = self.sim.variant_by_sku(sku)?;
        let item = self.sim.inventory_item_of(variant)?;
        self.sim.available(item, self.location)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_storefronts_and_an_erp_sync_without_ping_pong() -> Result<()> {
    // `WEFT_TEST_LOG=info cargo test --test three_systems` shows the host's log.
    common::init_log();
    let shop = start_shop("shopify", 31).await?;
    let eu = start_shop("shopify-eu", 32).await?;
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(33)).map_err(|e| anyhow!("{e}"))?;
    let ns_server = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let mut item_ids = Vec::new();
    for (k, sku) in SKUS.iter().enumerate() {
        let id = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"),
                    "itemId": sku,
                    "displayName": format!("Three-system product {k}"),
                    "salesDescription": format!("<p>Product {k}.</p>"),
                    "vendorName": "Acme",
                    "isInactive": false,
                    "basePrice": 20.0 + k as f64,
                }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(&id, NS_LOCATION, OPENING as f64, Some("opening stock"))
            .map_err(|e| anyhow!("{e:?}"))?;
        item_ids.push(id);
    }

    let dir = tempfile::tempdir()?;
    let (db, runtime) = common::store_and_runtime(dir.path()).await?;
    let stock = |name: &str| common::stock(&runtime, name);
    let shop_system = |s: &Shop| common::shopify_system(s.system, &s.sim, &s.url, API_VERSION);
    ensure!(
        shop.location == eu.location,
        "both shops' first location maps to the ERP's"
    );
    let setup = StoreSetup {
        id: STORE.into(),
        systems: vec![
            shop_system(&shop),
            shop_system(&eu),
            common::netsuite_system(&netsuite, STORE, &ns_server.base_url())?,
        ],
        mapper: stock("shopify-netsuite")?,
        resolvers: vec![
            ("inventory-level.quantity".into(), stock("counter-merge")?),
            ("*".into(), stock("system-of-record")?),
        ],
        plugin_config: json!({
            "locations": { shop.location.to_string(): NS_LOCATION },
            "owners": { "*": "netsuite", "customer.*": "shopify" },
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
        limits: Limits::default(),
        timing: common::quick_timing(Duration::from_secs(2)),
        poll_overlap: Duration::from_secs(5),
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    };
    let host = Host::start(db.clone(), &runtime, vec![setup], "127.0.0.1:0".parse()?).await?;
    for s in [&shop, &eu] {
        s.sim
            .subscribe_all(&format!(
                "http://{}/webhooks/{}/{STORE}",
                host.addr, s.system
            ))
            .map_err(|e| anyhow!("{e}"))?;
    }
    let shops = [&shop, &eu];

    // The ERP's catalog reaches both storefronts.
    host.poll_now();
    common::settle(&host, STORE, &[&shop.sim, &eu.sim], SETTLE).await?;
    for s in shops {
        for (k, sku) in SKUS.iter().enumerate() {
            ensure!(
                s.price(sku).await?.as_deref() == Some(&format!("{:.2}", 20.0 + k as f64)),
                "{}: {sku} has price {:?}",
                s.system,
                s.price(sku).await?
            );
            ensure!(
                s.available(sku) == Some(OPENING),
                "{}: {sku} has {:?} available",
                s.system,
                s.available(sku)
            );
        }
    }

    // A price edited in the ERP reaches both storefronts.
    netsuite
        .erp_update(
            RecordType::InventoryItem,
            "eid:item-T-001",
            json!({ "basePrice": 42.5 }),
        )
        .map_err(|e| anyhow!("{e:?}"))?;
    // One order in each shop, each by that shop's own customer.
    let mut orders = Vec::new();
    for (s, qty) in [(&shop, 2), (&eu, 3)] {
        let customer = s
            .sim
            .create_customer(CustomerFields {
                email: Some(format!("buyer@{}.example", s.system)),
                first_name: Some("Buyer".into()),
                last_name: Some(s.system.into()),
                ..CustomerFields::default()
            })
            .map_err(|e| anyhow!("{e}"))?;
        let order = s
            .sim
            .place_order(NewOrder {
                customer_id: Some(customer.to_string()),
                line_items: vec![NewOrderLine {
                    sku: Some("T-002".into()),
                    quantity: qty,
                    ..NewOrderLine::default()
                }],
                ..NewOrder::default()
            })
            .map_err(|e| anyhow!("{e}"))?;
        orders.push((s.system, order));
    }
    common::settle(&host, STORE, &[&shop.sim, &eu.sim], SETTLE).await?;

    for s in shops {
        ensure!(
            s.price("T-001").await?.as_deref() == Some("42.50"),
            "{}: the ERP's new price did not arrive: {:?}",
            s.system,
            s.price("T-001").await?
        );
        ensure!(
            s.available("T-002") == Some(OPENING - 5),
            "{}: T-002 has {:?} available, not {}",
            s.system,
            s.available("T-002"),
            OPENING - 5
        );
    }
    // The sales are the sales orders, committed in the ERP: on hand does not move until the
    // warehouse ships them, and no adjustment counts them a second time.
    let q = netsuite.quantities(&item_ids[1], NS_LOCATION);
    ensure!(
        (q.on_hand, q.committed, q.available) == (OPENING as f64, 5.0, (OPENING - 5) as f64),
        "NetSuite keeps T-002 as on hand {}, committed {}, available {}; expected {OPENING}, 5, {}",
        q.on_hand,
        q.committed,
        q.available,
        OPENING - 5
    );

    // Each order is exactly one sales order, and they do not collide though the shops' order
    // ids may be the same numbers.
    let sales_orders = netsuite.records(RecordType::SalesOrder);
    ensure!(
        sales_orders.len() == 2,
        "expected 2 sales orders, found {}: {:?}",
        sales_orders.len(),
        sales_orders
            .iter()
            .map(|o| o["externalId"].clone())
            .collect::<Vec<_>>()
    );
    let eids: std::collections::BTreeSet<String> = sales_orders
        .iter()
        .filter_map(|o| o["externalId"].as_str().map(str::to_owned))
        .collect();
    ensure!(
        eids.len() == 2,
        "sales orders share an external id: {eids:?}"
    );
    // Customers stay with their shop: the ERP has both, each shop only its own.
    ensure!(
        netsuite.records(RecordType::Customer).len() == 2,
        "expected 2 NetSuite customers, found {}",
        netsuite.records(RecordType::Customer).len()
    );
    for s in shops {
        let customers = s.read(Entity::Customers).await?;
        ensure!(
            customers.len() == 1,
            "{}: a customer of the other shop was copied here ({} customers)",
            s.system,
            customers.len()
        );
    }

    // No ping-pong: more poll rounds write nothing.
    let done = host.db.status(STORE).await?.outbox.done;
    for _ in 0..3 {
        common::settle(&host, STORE, &[&shop.sim, &eu.sim], SETTLE).await?;
    }
    let st = host.db.status(STORE).await?;
    ensure!(
        st.outbox.done == done && st.outbox.dead == 0,
        "writes went on after the store was quiet: {} done before, {} after, {} dead",
        done,
        st.outbox.done,
        st.outbox.dead
    );
    host.stop().await;
    Ok(())
}
