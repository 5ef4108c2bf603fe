//! A platform unreachable for a while is waited out, not dead-lettered. The real host syncs a
//! Shopify shop with a NetSuite account; one of them sits behind a switchable TCP proxy that is
//! cut (connections refused or dropped mid-request) for longer than the old retry budget (ten
//! attempts, about 20-70 s) while orders are placed and stock is received. During the outage
//! the system shows as down (`weft_system_down`, `/readyz`) and nothing becomes a dead letter;
//! once it answers again everything is delivered: every order is one sales order committed in
//! NetSuite (on hand = opening + received, committed = ordered), Shopify shows opening +
//! received - ordered, no dead letters.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use weft::app::{Host, StoreSetup};
use weft_runtime::Limits;
use weft_sim_netsuite::{NetSuiteSim, RecordType};
use weft_sim_shopify::{CustomerFields, NewOrder, NewOrderLine};

const STORE: &str = "outage";
const API_VERSION: &str = "2026-04";
const NS_LOCATION: &str = "1";
const SKUS: [&str; 3] = ["O-001", "O-002", "O-003"];
const OPENING: i64 = 50;
/// Longer than the retry budget that used to dead-letter writes (ten attempts, 0.2 s base,
/// 30 s cap: about 20-70 s).
const OUTAGE: Duration = Duration::from_secs(75);
const SETTLE: Duration = Duration::from_secs(150);

/// A TCP proxy to `target` that can be cut: while down, new connections are closed at once
/// and open ones are dropped (the platform is unreachable).
async fn proxy(target: SocketAddr) -> Result<(String, watch::Sender<bool>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (up, up_rx) = watch::channel(true);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !*up_rx.borrow() {
                continue; // dropped: connection closed
            }
            let mut down = up_rx.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = down.wait_for(|up| !up) => {}
                }
            });
        }
    });
    Ok((format!("http://{addr}"), up))
}

fn target(url: &str) -> Result<SocketAddr> {
    let hostport = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .context("a base URL has a host")?;
    Ok(hostport.parse()?)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Down {
    Erp,
    Storefront,
}

async fn outage_is_waited_out(down: Down) -> Result<()> {
    // `WEFT_TEST_LOG=info cargo test --test outage` shows the host's log.
    common::init_log();
    let (shop, shop_server) = common::serve_shopify(41, API_VERSION).await?;
    let netsuite =
        NetSuiteSim::new(weft_sim_netsuite::SimConfig::new(42)).map_err(|e| anyhow!("{e}"))?;
    let ns_server = netsuite
        .serve(TcpListener::bind("127.0.0.1:0").await?)
        .await?;
    let location = *shop.location_ids().first().context("a location")?;
    let mut items = Vec::new();
    for (k, sku) in SKUS.iter().enumerate() {
        let id = netsuite
            .erp_create(
                RecordType::InventoryItem,
                json!({
                    "externalId": format!("item-{sku}"), "itemId": sku,
                    "displayName": format!("Outage product {k}"), "isInactive": false,
                    "basePrice": 30.0 + k as f64,
                }),
            )
            .map_err(|e| anyhow!("{e:?}"))?;
        netsuite
            .erp_adjust_inventory(&id, NS_LOCATION, OPENING as f64, Some("opening stock"))
            .map_err(|e| anyhow!("{e:?}"))?;
        items.push(id);
    }
    let (shop_url, shop_switch) = proxy(target(&shop_server.base_url)?).await?;
    let (ns_url, ns_switch) = proxy(target(&ns_server.base_url())?).await?;

    let dir = tempfile::tempdir()?;
    let (db, runtime) = common::store_and_runtime(dir.path()).await?;
    let stock = |name: &str| common::stock(&runtime, name);
    let setup = StoreSetup {
        id: STORE.into(),
        systems: vec![
            common::shopify_system("shopify", &shop, &shop_url, API_VERSION),
            common::netsuite_system(&netsuite, STORE, &ns_url)?,
        ],
        mapper: stock("shopify-netsuite")?,
        resolvers: vec![
            ("inventory-level.quantity".into(), stock("counter-merge")?),
            ("*".into(), stock("system-of-record")?),
        ],
        plugin_config: json!({
            "locations": { location.to_string(): NS_LOCATION },
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
    shop.subscribe_all(&format!("http://{}/webhooks/shopify/{STORE}", host.addr))
        .map_err(|e| anyhow!("{e}"))?;
    host.poll_now();
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    for sku in SKUS {
        ensure!(shop.variant_by_sku(sku).is_some(), "{sku} reached Shopify");
    }
    let customer = shop
        .create_customer(CustomerFields {
            email: Some("buyer@outage.example".into()),
            first_name: Some("Buyer".into()),
            last_name: Some("Outage".into()),
            ..CustomerFields::default()
        })
        .map_err(|e| anyhow!("{e}"))?;
    common::settle(&host, STORE, &[&shop], SETTLE).await?;

    // The outage: orders in Shopify and a receipt in NetSuite while one side is unreachable.
    let (system, switch) = match down {
        Down::Erp => ("netsuite", &ns_switch),
        Down::Storefront => ("shopify", &shop_switch),
    };
    switch.send_replace(false);
    let started = Instant::now();
    let mut orders = Vec::new();
    for (sku, qty) in [("O-001", 2), ("O-002", 1), ("O-001", 3)] {
        orders.push(
            shop.place_order(NewOrder {
                customer_id: Some(customer.to_string()),
                line_items: vec![NewOrderLine {
                    sku: Some(sku.into()),
                    quantity: qty,
                    ..NewOrderLine::default()
                }],
                ..NewOrder::default()
            })
            .map_err(|e| anyhow!("{e}"))?,
        );
    }
    netsuite
        .erp_adjust_inventory(&items[2], NS_LOCATION, 7.0, Some("receipt"))
        .map_err(|e| anyhow!("{e:?}"))?;
    let mut seen_down = false;
    while started.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        seen_down |= host
            .metrics
            .systems_down()
            .iter()
            .any(|(s, sys, h)| s == STORE && sys == system && h.down_since.is_some());
        let dead = host.db.status(STORE).await?.outbox.dead;
        ensure!(
            dead == 0,
            "{dead} writes became dead letters during the outage"
        );
    }
    ensure!(
        seen_down,
        "{system} was never shown as down during the outage"
    );
    let text = host.metrics.render();
    ensure!(
        text.contains(&format!(
            "weft_system_down{{store=\"{STORE}\",system=\"{system}\"}} 1"
        )),
        "the breaker is not visible in /metrics"
    );
    // `weft status` (another process) reads it from the database.
    let recorded = host.db.system_health(STORE).await?;
    ensure!(
        recorded
            .iter()
            .any(|h| h.system == system && h.down_since.is_some() && h.last_error.is_some()),
        "the database does not say {system} is down: {recorded:?}"
    );

    // Back up: everything is delivered, once.
    switch.send_replace(true);
    common::settle(&host, STORE, &[&shop], SETTLE).await?;
    let st = host.db.status(STORE).await?;
    ensure!(st.outbox.dead == 0, "{} dead letters", st.outbox.dead);
    let sales_orders = netsuite.records(RecordType::SalesOrder);
    ensure!(
        sales_orders.len() == orders.len(),
        "{} sales orders for {} orders",
        sales_orders.len(),
        orders.len()
    );
    for o in &orders {
        let eid = format!("shopify-order-{o}");
        let n = sales_orders
            .iter()
            .filter(|r| r["externalId"] == eid.as_str())
            .count();
        ensure!(n == 1, "order {o}: {n} sales orders");
    }
    // (sku, units received, units ordered): sales are committed in NetSuite, not adjusted.
    for (i, (sku, received, ordered)) in [("O-001", 0, 5), ("O-002", 0, 1), ("O-003", 7, 0)]
        .into_iter()
        .enumerate()
    {
        let expected = OPENING + received - ordered;
        let q = netsuite.quantities(&items[i], NS_LOCATION);
        ensure!(
            (q.on_hand, q.committed) == ((OPENING + received) as f64, ordered as f64),
            "{sku}: NetSuite on hand {} and committed {}, the ledger says {} and {ordered}",
            q.on_hand,
            q.committed,
            OPENING + received
        );
        let variant = shop.variant_by_sku(sku).context("variant")?;
        let item = shop.inventory_item_of(variant).context("item")?;
        ensure!(
            shop.available(item, location) == Some(expected),
            "{sku}: Shopify shows {:?}, the ledger says {expected}",
            shop.available(item, location)
        );
    }
    // The breaker closes on the first successful call after its cool-down (30 s), and the
    // health shown follows within a refresh.
    let recovered_by = Instant::now() + Duration::from_secs(60);
    while !host.metrics.systems_down().is_empty() {
        ensure!(
            Instant::now() < recovered_by,
            "still shown as down a minute after the outage: {:?}",
            host.metrics.systems_down()
        );
        host.poll_now();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    host.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erp_outage_is_waited_out_not_dead_lettered() -> Result<()> {
    outage_is_waited_out(Down::Erp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storefront_outage_is_waited_out_not_dead_lettered() -> Result<()> {
    outage_is_waited_out(Down::Storefront).await
}
