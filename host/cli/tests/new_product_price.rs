//! A product the ERP creates in a storefront carries the ERP's price, whoever owns prices.
//!
//! weft writes a variant before its price (the price lives on the variant, so its write waits
//! for the variant to exist): Shopify creates the variant at 0.00, and BigCommerce and Magento
//! require a price on a new product (weft's mapper sends 0, the price write follows). What the storefront
//! shows for the new variant's price before weft's price write lands is the platform's initial
//! value, not a merchant's change: taken for one, it would replace the ERP's price everywhere
//! (when the storefront owns prices, or its reading is the newest). The real host runs each
//! storefront's simulator with a NetSuite simulator; the ERP's new items reach the storefront,
//! and both systems must end with the ERP's prices.

mod common;

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, ensure};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use weft::app::SystemSetup;
use weft::app::{Host, StoreSetup};
use weft_runtime::Limits;
use weft_sim_bigcommerce::{BcSim, DEFAULT_STORE_HASH, DEFAULT_TOKEN};
use weft_sim_magento::MagentoSim;
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::ShopifySim;

const STORE: &str = "fresh";
const API_VERSION: &str = "2026-04";
const NS_LOCATION: &str = "1";
const SETTLE: Duration = Duration::from_secs(120);

/// SKU and ERP price of each item the ERP creates.
const ITEMS: [(&str, f64, &str); 3] = [
    ("NP-1", 49.99, "49.99"),
    ("NP-2", 12.5, "12.50"),
    ("NP-3", 1020.0, "1020.00"),
];

/// A storefront simulator under the test.
enum Shop {
    Shopify(ShopifySim, weft_sim_shopify::SimHandle),
    BigCommerce(BcSim, weft_sim_bigcommerce::SimHandle),
    Magento(MagentoSim, weft_sim_magento::SimHandle),
}

impl Shop {
    async fn shopify(seed: u64) -> Result<Shop> {
        let (sim, server) = common::serve_shopify(seed, API_VERSION).await?;
        Ok(Shop::Shopify(sim, server))
    }

    async fn bigcommerce(seed: u64) -> Result<Shop> {
        let sim =
            BcSim::new(weft::demo_bc::sim_config(seed, 0.0, 0.0, 0)).map_err(|e| anyhow!("{e}"))?;
        let server = sim.serve_local().await.map_err(|e| anyhow!("{e}"))?;
        Ok(Shop::BigCommerce(sim, server))
    }

    async fn magento(seed: u64) -> Result<Shop> {
        let sim = MagentoSim::new(weft_sim_magento::SimConfig {
            seed,
            ..weft_sim_magento::SimConfig::default()
        });
        let server = sim
            .serve(TcpListener::bind("127.0.0.1:0").await?)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Shop::Magento(sim, server))
    }

    fn system(&self) -> SystemSetup {
        match self {
            Shop::Shopify(sim, server) => {
                common::shopify_system("shopify", sim, &server.base_url, API_VERSION)
            }
            Shop::BigCommerce(_, server) => weft::platforms::bigcommerce_system(
                "bigcommerce",
                &server.base_url,
                DEFAULT_STORE_HASH,
                DEFAULT_TOKEN,
                150,
                Vec::new(),
            ),
            Shop::Magento(_, server) => weft::platforms::magento_system(
                "magento",
                &server.base_url,
                weft_sim_magento::DEFAULT_STORE_CODE,
                weft_sim_magento::DEFAULT_TOKEN,
                weft_magento::BulkSettings {
                    poll: Duration::from_millis(500),
                    ..Default::default()
                },
            ),
        }
    }

    /// The storefront location the ERP's stock goes to.
    fn location(&self) -> Result<String> {
        match self {
            Shop::Shopify(sim, _) => Ok(sim
                .location_ids()
                .first()
                .context("a Shopify location")?
                .to_string()),
            Shop::BigCommerce(..) => Ok("1".into()),
            Shop::Magento(..) => Ok(format!("magento:{}", weft_sim_magento::DEFAULT_SOURCE)),
        }
    }

    /// Shopify delivers webhooks to the host; BigCommerce's changes are polled here.
    fn subscribe(&self, host: &Host) -> Result<()> {
        if let Shop::Shopify(sim, _) = self {
            sim.subscribe_all(&format!("http://{}/webhooks/shopify/{STORE}", host.addr))
                .map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    }

    /// The price the storefront shows for `sku`, as its API writes it.
    fn price(&self, sku: &str) -> Option<String> {
        match self {
            Shop::Shopify(sim, _) => {
                let variant = sim.variant_by_sku(sku)?;
                let product = sim.product_of_variant(variant)?;
                sim.product_json(product)["variants"]
                    .as_array()?
                    .iter()
                    .find(|v| v["sku"] == sku)
                    .and_then(|v| v["price"].as_str())
                    .map(str::to_owned)
            }
            Shop::BigCommerce(sim, _) => {
                let v = sim.variant(sku)?;
                let p = v["price"].as_f64().or(v["calculated_price"].as_f64())?;
                Some(format!("{p:.2}"))
            }
            Shop::Magento(sim, _) => {
                let p = sim.product(sku)?["price"].as_f64()?;
                Some(format!("{p:.2}"))
            }
        }
    }

    async fn settle(&self, host: &Host) -> Result<()> {
        let shops: Vec<&ShopifySim> = match self {
            Shop::Shopify(sim, _) => vec![sim],
            Shop::BigCommerce(..) | Shop::Magento(..) => Vec::new(),
        };
        common::settle(host, STORE, &shops, SETTLE).await
    }
}

/// Runs the ERP's items into `shop` with the `resolver` for every field but quantities and its
/// `owners`; returns each SKU's price in the shop and in NetSuite at the end.
async fn run(
    shop: Shop,
    seed: u64,
    resolver: &str,
    owners: Value,
) -> Result<Vec<(String, String, f64)>> {
    common::init_log();
    let netsuite = NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(seed + 1))
        .map_err(|e| anyhow!("{e}"))?;
    let ns_server = netsuite
        .serve(TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let mut items = Vec::new();
    for (sku, price, _) in ITEMS {
        let item = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"), "itemId": sku,
                    "displayName": format!("Item {sku}"), "isInactive": false, "basePrice": price,
                }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(&item, NS_LOCATION, 5.0, Some("opening stock"))
            .map_err(|e| anyhow!("{e:?}"))?;
        items.push(item);
    }
    let location = shop.location()?;

    let dir = tempfile::tempdir()?;
    let (db, runtime) = common::store_and_runtime(dir.path()).await?;
    let stock = |name: &str| common::stock(&runtime, name);
    let setup = StoreSetup {
        id: STORE.into(),
        systems: vec![
            shop.system(),
            common::netsuite_system(&netsuite, STORE, &ns_server.base_url())?,
        ],
        mapper: stock("shopify-netsuite")?,
        resolvers: vec![
            ("inventory-level.quantity".into(), stock("counter-merge")?),
            ("*".into(), stock(resolver)?),
        ],
        plugin_config: json!({
            "locations": { location: NS_LOCATION },
            "owners": owners,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
        limits: Limits::default(),
        timing: common::quick_timing(Duration::from_secs(1)),
        poll_overlap: Duration::from_secs(5),
        public_url: None,
        stock: Default::default(),
        ownership: Default::default(),
        deletes: Default::default(),
    };
    let host = Host::start(db.clone(), &runtime, vec![setup], "127.0.0.1:0".parse()?).await?;
    shop.subscribe(&host)?;
    host.poll_now();
    shop.settle(&host).await?;
    let mut out = Vec::new();
    for ((sku, _, _), item) in ITEMS.iter().zip(&items) {
        let in_shop = shop.price(sku).unwrap_or_default();
        let in_erp = netsuite
            .record(RecordType::InventoryItem, item)
            .and_then(|r| r["basePrice"].as_f64())
            .unwrap_or(f64::NAN);
        out.push(((*sku).to_owned(), in_shop, in_erp));
    }
    let dead = db.list_dead_letters(Some(STORE), 10).await?;
    ensure!(dead.is_empty(), "{dead:?}");
    host.stop().await;
    Ok(out)
}

fn check(label: &str, prices: &[(String, String, f64)]) -> Result<()> {
    for ((sku, shop, erp), (_, want, want_text)) in prices.iter().zip(ITEMS) {
        ensure!(
            shop == want_text && (erp - want).abs() < 1e-9,
            "{sku}: {label} shows {shop:?} and NetSuite {erp}, both should hold the ERP's {want_text}"
        );
    }
    Ok(())
}

/// Owners: the storefront owns prices, the ERP the rest of the catalog.
fn shop_owns_prices(shop: &str) -> Value {
    json!({ "*": "netsuite", "price.*": shop, "customer.*": shop })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_owning_prices_keeps_the_erp_price_of_a_product_weft_created() -> Result<()> {
    let prices = run(
        Shop::shopify(61).await?,
        61,
        "system-of-record",
        shop_owns_prices("shopify"),
    )
    .await?;
    check("Shopify", &prices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_newest_reading_winning_keeps_the_erp_price_of_a_product_weft_created() -> Result<()>
{
    let prices = run(Shop::shopify(63).await?, 63, "last-write-wins", json!({})).await?;
    check("Shopify", &prices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigcommerce_owning_prices_keeps_the_erp_price_of_a_product_weft_created() -> Result<()> {
    let prices = run(
        Shop::bigcommerce(65).await?,
        65,
        "system-of-record",
        shop_owns_prices("bigcommerce"),
    )
    .await?;
    check("BigCommerce", &prices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magento_owning_prices_keeps_the_erp_price_of_a_product_weft_created() -> Result<()> {
    let prices = run(
        Shop::magento(67).await?,
        67,
        "system-of-record",
        shop_owns_prices("magento"),
    )
    .await?;
    check("Magento", &prices)
}
