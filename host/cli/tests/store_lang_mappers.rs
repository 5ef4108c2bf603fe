//! A store run by the real host with a Python (and a JavaScript) mapper: the worked example
//! `title-price` maps a Shopify product created in the simulator into NetSuite items (item id and
//! title; prices see below) through webhooks, the merge and the dispatcher, under the
//! default runtime config and store limits; an edited title follows; once quiet nothing more is
//! written. Prices reach the items once they exist.
//!
//! Toolchains as in `plugin_languages.rs`: installed as the READMEs say, or `SKIPPED:`.

mod common;
mod common_lang;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};
use weft::app::{Host, StoreSetup};
use weft_runtime::Limits;
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{NewProduct, NewVariant, ProductEdit};

const STORE: &str = "lang";
const API_VERSION: &str = "2026-04";
const SETTLE: Duration = Duration::from_secs(120);

fn item<'a>(items: &'a [Value], eid: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["externalId"] == eid)
}

async fn store_with(mapper_wasm: &Path, name: &str) -> Result<()> {
    common::init_log();
    let (shop, shop_server) = common::serve_shopify(41, API_VERSION).await?;
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(42)).map_err(|e| anyhow!("{e}"))?;
    let ns_server = netsuite
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await?;

    let dir = tempfile::tempdir()?;
    // The default runtime config (pooling slots, component size, compile budget) and the
    // default store limits: nothing raised for an interpreter.
    let (db, runtime) = common::store_and_runtime(dir.path()).await?;
    let bytes = std::fs::read(mapper_wasm)?;
    let mapper = runtime.load(name, &bytes)?.into();
    let setup = StoreSetup {
        id: STORE.into(),
        systems: vec![
            common::shopify_system("shopify", &shop, &shop_server.base_url, API_VERSION),
            common::netsuite_system(&netsuite, STORE, &ns_server.base_url())?,
        ],
        mapper,
        resolvers: vec![("*".into(), common::stock(&runtime, "last-write-wins")?)],
        plugin_config: json!({"sku_prefix": "WEB-"})
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
    shop.subscribe_all(&format!("http://{}/webhooks/shopify/{STORE}", host.addr))
        .map_err(|e| anyhow!("{e}"))?;

    let product = shop
        .create_product(NewProduct {
            title: "Polyglot Shirt".into(),
            variants: vec![
                NewVariant {
                    sku: Some("PG-S".into()),
                    price: "49.00".into(),
                    compare_at_price: Some("59.00".into()),
                    ..NewVariant::default()
                },
                NewVariant {
                    sku: Some("PG-M".into()),
                    price: "49.50".into(),
                    ..NewVariant::default()
                },
            ],
            ..NewProduct::default()
        })
        .map_err(|e| anyhow!("{e}"))?;
    host.poll_now();
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    let items = netsuite.records(RecordType::InventoryItem);
    for (eid, item_id) in [("item-PG-S", "WEB-PG-S"), ("item-PG-M", "WEB-PG-M")] {
        let i = item(&items, eid)
            .with_context(|| format!("{name}: no NetSuite item {eid}: {items:?}"))?;
        ensure!(i["itemId"] == item_id, "{name}: {i}");
        ensure!(i["displayName"] == "Polyglot Shirt", "{name}: {i}");
    }
    // The prices: their writes wait until the item exists in NetSuite, and the item's creation
    // has them planned again (`dispatch::dependents_entry`; this mapper maps no NetSuite
    // document, so nothing else would).
    for (eid, price, compare_at) in [("item-PG-S", 49.0, Some(59.0)), ("item-PG-M", 49.5, None)] {
        let i = item(&items, eid).with_context(|| format!("{name}: no NetSuite item {eid}"))?;
        ensure!(
            i["basePrice"].as_f64() == Some(price),
            "{name}: price of {eid}: {i}"
        );
        if let Some(c) = compare_at {
            ensure!(
                i["custitem_compare_at_price"].as_f64() == Some(c),
                "{name}: compare-at price of {eid}: {i}"
            );
        }
    }

    // An edited title follows.
    shop.edit_product(
        product.id,
        ProductEdit {
            title: Some("Polyglot Shirt II".into()),
            ..ProductEdit::default()
        },
    )
    .map_err(|e| anyhow!("{e}"))?;
    host.poll_now();
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    let items = netsuite.records(RecordType::InventoryItem);
    ensure!(
        item(&items, "item-PG-M").context("item-PG-M")?["displayName"] == "Polyglot Shirt II",
        "{name}: the edited title did not follow: {items:?}"
    );

    // Quiet: another round writes nothing (weft's own writes do not echo).
    let before = netsuite.records(RecordType::InventoryItem);
    host.poll_now();
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    ensure!(
        netsuite.records(RecordType::InventoryItem) == before,
        "{name}: written again once quiet"
    );
    host.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_runs_the_python_mapper() -> Result<()> {
    if let Err(skip) = common_lang::python() {
        println!("{skip}");
        return Ok(());
    }
    let wasm = common_lang::build(
        &common_lang::root().join("plugins/examples/title-price/python"),
        "title-price-python-store",
        &[],
    );
    store_with(&wasm, "title-price-python").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_runs_the_javascript_mapper() -> Result<()> {
    let toolchain = match common_lang::js() {
        Ok(t) => t,
        Err(skip) => {
            println!("{skip}");
            return Ok(());
        }
    };
    let wasm = common_lang::build(
        &common_lang::root().join("plugins/examples/title-price/js"),
        "title-price-js-store",
        &[("WEFT_JS_TOOLCHAIN", &toolchain)],
    );
    store_with(&wasm, "title-price-js").await
}
