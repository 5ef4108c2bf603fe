//! The connector against the simulator: change capture by watermark, hints fetched once per
//! entity, writes and their guards, the hook keeper, and the quota limiter while another app
//! spends half the quota.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use weft_bigcommerce::poll::{BcChangeCapture, Journal};
use weft_bigcommerce::webhook::{BcWebhooks, SECRET_HEADER, ensure_hooks, missing_hooks};
use weft_bigcommerce::{BcClient, BcConfig, HintBus, QuotaLimiter, hint_fetcher};
use weft_platform::{
    BatchResult, ConnectorError, EntityKind, Poller, WebhookIntake, WebhookSecret, WriteCommand,
    WriteOp,
};
use weft_sim_bigcommerce::{
    BackgroundShape, BcSim, DEFAULT_LOCATION, OrderLine, QuotaConfig, SimConfig, SimHandle,
};
use weft_store::Store;

struct Rig {
    sim: BcSim,
    server: SimHandle,
    db: Store,
    client: Arc<BcClient>,
    journal: Journal,
    _dir: tempfile::TempDir,
}

async fn rig(config: SimConfig) -> Rig {
    let sim = BcSim::new(config).unwrap();
    let server = sim.serve_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let c = sim.config();
    let client = Arc::new(
        BcClient::new(
            BcConfig::new(&server.base_url, &c.store_hash, &c.tokens[0]),
            QuotaLimiter::new(weft_bigcommerce::limiter::DEFAULT_MARGIN),
        )
        .unwrap(),
    );
    let journal = Journal::new("s1", "bigcommerce", db.clone());
    Rig {
        sim,
        server,
        db,
        client,
        journal,
        _dir: dir,
    }
}

fn catalogue(sim: &BcSim) -> u64 {
    let shirt = sim
        .create_product(
            json!({"name": "Shirt", "type": "physical", "price": 18.0, "sku": "SHIRT",
            "inventory_tracking": "variant", "variants": [
                {"sku": "SHIRT-S", "price": 18.0, "inventory_level": 10},
                {"sku": "SHIRT-M", "inventory_level": 4}]}),
        )
        .unwrap();
    sim.create_product(
        json!({"name": "Mug", "type": "physical", "price": 8.0, "sku": "MUG",
        "inventory_tracking": "product", "inventory_level": 25}),
    )
    .unwrap();
    shirt
}

async fn journaled(db: &Store) -> Vec<weft_store::JournalEntry> {
    db.journal_since("s1", 0, 10_000).await.unwrap()
}

#[tokio::test]
async fn change_capture_reads_what_changed_since_the_watermark_with_overlap() {
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    let c = r
        .sim
        .create_customer(json!({"email": "a@x.y", "first_name": "A", "last_name": "B"}))
        .unwrap();
    r.sim
        .place_order(
            c,
            &[OrderLine {
                sku: "MUG".into(),
                quantity: 2,
            }],
        )
        .unwrap();
    let cc = BcChangeCapture::new(r.journal.clone(), r.client.clone(), Duration::from_secs(2));
    let first = cc.poll().await.unwrap();
    let entries = journaled(&r.db).await;
    let kinds = |k: &str| entries.iter().filter(|e| e.kind == k).count();
    assert_eq!(kinds("product"), 2);
    assert_eq!(
        kinds("inventory-level"),
        4,
        "3 + 1 variants at the one location"
    );
    assert_eq!(kinds("customer"), 1);
    assert_eq!(kinds("order"), 1);
    assert_eq!(first.journaled, 8);
    // A first sync reads everything there is: a backfill, whose writes queue behind live ones.
    assert!(
        entries
            .iter()
            .all(|e| e.source == weft_store::Source::Backfill)
    );
    let order = entries.iter().find(|e| e.kind == "order").unwrap();
    assert_eq!(order.body["line_items"][0]["sku"], "MUG");
    assert_eq!(order.body["customer_id"], c.to_string());
    assert!(order.version.ends_with('Z'));
    let level = entries
        .iter()
        .find(|e| e.kind == "inventory-level" && e.body["sku"] == "MUG")
        .unwrap();
    assert_eq!(level.body["available"], 23, "the order took 2");
    assert_eq!(
        level.entity_id,
        format!("{}@1", level.body["variant_id"].as_str().unwrap())
    );

    // Nothing changed: the overlap re-reads, the journal recognises it all.
    let again = cc.poll().await.unwrap();
    assert_eq!(again.journaled, 0);
    // A later edit is read, and only what changed is new.
    r.sim.advance_clock(Duration::from_secs(60));
    r.sim
        .edit_variant("SHIRT-M", json!({"price": 20.0}))
        .unwrap();
    let before = r.sim.requests().len();
    let third = cc.poll().await.unwrap();
    assert!(third.journaled >= 1);
    let newest = journaled(&r.db).await;
    let p = newest
        .iter()
        .rev()
        .find(|e| e.kind == "product" && e.entity_id == shirt.to_string())
        .unwrap();
    assert_eq!(p.body["variants"][2]["price"], 20.0);
    // What an incremental round finds is live.
    assert!(
        newest[entries.len()..]
            .iter()
            .all(|e| e.source == weft_store::Source::Poll)
    );
    // The order at a version weft holds is not fetched again (no /products call).
    let calls: Vec<_> = r.sim.requests()[before..].to_vec();
    assert!(
        calls
            .iter()
            .all(|c| !c.path.ends_with("/products") || c.path.contains("catalog")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_burst_of_hints_fetches_each_entity_once() {
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    let bus = HintBus::new();
    let intake = BcWebhooks::new(Some(bus.clone()));
    let mut headers = http::HeaderMap::new();
    headers.insert(SECRET_HEADER, "s3cret".parse().unwrap());
    let secrets = [WebhookSecret::new("s3cret")];
    for i in 0..20 {
        let body = json!({"scope": "store/product/updated", "store_id": "1001234",
            "producer": format!("stores/{}", r.sim.config().store_hash),
            "data": {"type": "product", "id": shirt}, "hash": format!("h{i}"), "created_at": 1_768_478_400 + i})
        .to_string();
        assert!(intake.verify(&headers, body.as_bytes(), &secrets));
        let d = intake
            .parse(&headers, body.as_bytes(), Some(&r.sim.config().store_hash))
            .unwrap();
        assert_eq!(d.kind, weft_platform::webhook::HINT_KIND);
        journal_hint(&r.db, d).await;
    }
    let fetcher = hint_fetcher(
        r.journal.clone(),
        r.client.clone(),
        bus.clone(),
        Duration::ZERO,
    );
    let before = r.sim.requests().len();
    let report = fetcher.poll().await.unwrap();
    let calls = r.sim.requests()[before..].to_vec();
    assert_eq!(
        calls.len(),
        2,
        "one product read, one stock read: {calls:?}"
    );
    assert_eq!(report.journaled, 4, "the product and its three levels");
    assert_eq!(bus.received(), 20);
    assert!(
        journaled(&r.db)
            .await
            .iter()
            .all(|e| e.source == weft_store::Source::Webhook)
    );
    assert_eq!(fetcher.poll().await.unwrap().read, 0, "nothing pending");
}

/// What the server does with a delivery: journal it.
async fn journal_hint(db: &Store, d: weft_platform::WebhookDelivery) {
    db.append(weft_store::NewJournalEntry {
        store_id: "s1".into(),
        system: "bigcommerce".into(),
        kind: d.kind,
        entity_id: d.entity_id,
        version: d.version,
        source: weft_store::Source::Webhook,
        delivery_id: d.delivery_id,
        body: d.body,
        received_at: chrono::Utc::now(),
    })
    .await
    .unwrap();
}

/// A hint acknowledged before weft stopped is fetched after it starts again (a new bus, a new
/// fetcher: the journal and the fetcher's watermark are what survive).
#[tokio::test]
async fn a_hint_journaled_before_a_restart_is_fetched_after_it() {
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    let intake = BcWebhooks::new(Some(HintBus::new()));
    let body = json!({"scope": "store/product/updated", "store_id": "1001234",
        "producer": format!("stores/{}", r.sim.config().store_hash),
        "data": {"type": "product", "id": shirt}, "hash": "h", "created_at": 1_768_478_400})
    .to_string();
    let d = intake
        .parse(&http::HeaderMap::new(), body.as_bytes(), None)
        .unwrap();
    journal_hint(&r.db, d).await;
    // "Restart": another bus and fetcher.
    let fetcher = hint_fetcher(
        r.journal.clone(),
        r.client.clone(),
        HintBus::new(),
        Duration::ZERO,
    );
    let report = fetcher.poll().await.unwrap();
    assert_eq!(report.journaled, 4, "the product and its three levels");
    assert_eq!(
        fetcher.poll().await.unwrap().read,
        0,
        "its watermark moved past the hint"
    );
    let again = hint_fetcher(
        r.journal.clone(),
        r.client.clone(),
        HintBus::new(),
        Duration::ZERO,
    );
    assert_eq!(
        again.poll().await.unwrap().read,
        0,
        "and the watermark is durable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_from_real_callbacks_are_fetched_in_the_background() {
    let r = rig(SimConfig::default()).await;
    let bus = HintBus::new();
    let fetcher = hint_fetcher(
        r.journal.clone(),
        r.client.clone(),
        bus.clone(),
        Duration::from_millis(50),
    );
    fetcher.start();
    // A receiver doing what the server's intake does: verify, parse, journal.
    let intake = Arc::new(BcWebhooks::new(Some(bus.clone())));
    let hash = r.sim.config().store_hash.clone();
    let db = r.db.clone();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::post(move |h: http::HeaderMap, b: axum::body::Bytes| {
            let (intake, hash, db) = (intake.clone(), hash.clone(), db.clone());
            async move {
                if !intake.verify(&h, &b, &[WebhookSecret::new("s3cret")]) {
                    return http::StatusCode::UNAUTHORIZED;
                }
                match intake.parse(&h, &b, Some(&hash)) {
                    Ok(d) => {
                        journal_hint(&db, d).await;
                        http::StatusCode::OK
                    }
                    Err(_) => http::StatusCode::BAD_REQUEST,
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    assert_eq!(
        ensure_hooks(&r.client, &url, "s3cret").await.unwrap().len(),
        3
    );
    catalogue(&r.sim);
    r.sim.set_stock("SHIRT-S", DEFAULT_LOCATION, 1).unwrap();
    r.sim.set_stock("SHIRT-M", DEFAULT_LOCATION, 2).unwrap();
    assert!(r.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    assert_eq!(
        r.sim.webhook_stats().delivered,
        r.sim.webhook_stats().callbacks
    );
    let mut levels = Vec::new();
    for _ in 0..100 {
        levels = journaled(&r.db)
            .await
            .into_iter()
            .filter(|e| e.kind == "inventory-level" && e.body["sku"] == "SHIRT-M")
            .collect();
        if levels.iter().any(|e| e.body["available"] == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        levels.iter().any(|e| e.body["available"] == 2),
        "{levels:?}"
    );
}

#[tokio::test]
async fn the_hook_keeper_creates_missing_hooks_and_reactivates_deactivated_ones() {
    let r = rig(SimConfig::default()).await;
    let url = "https://weft.example/webhooks/bigcommerce/s1";
    assert_eq!(missing_hooks(&r.client, url, "k").await.unwrap().len(), 3);
    ensure_hooks(&r.client, url, "k").await.unwrap();
    assert!(missing_hooks(&r.client, url, "k").await.unwrap().is_empty());
    let hooks = r.sim.hooks();
    assert_eq!(hooks.len(), 3);
    assert_eq!(hooks[0]["headers"][SECRET_HEADER], "k");
    // BigCommerce deactivates one after failures; the keeper turns it back on.
    let id = hooks[1]["id"].as_u64().unwrap();
    let api = format!("{}/stores/{}", r.server.base_url, r.sim.config().store_hash);
    reqwest::Client::new()
        .put(format!("{api}/v3/hooks/{id}"))
        .header("x-auth-token", &r.sim.config().tokens[0])
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_hooks(&r.client, url, "k").await.unwrap().len(), 1);
    ensure_hooks(&r.client, url, "k").await.unwrap();
    assert_eq!(r.sim.hooks().len(), 3, "repaired in place");
    assert!(r.sim.hooks().iter().all(|h| h["is_active"] == true));
    // A rotated secret is written to the hooks.
    ensure_hooks(&r.client, url, "k2").await.unwrap();
    assert!(
        r.sim
            .hooks()
            .iter()
            .all(|h| h["headers"][SECRET_HEADER] == "k2")
    );
}

fn cmd(kind: EntityKind, op: WriteOp, target: Option<String>, body: Value) -> WriteCommand {
    WriteCommand {
        system: "bigcommerce".into(),
        kind,
        op,
        target_id: target,
        external_id: None,
        body,
        idempotency_key: "k1".into(),
        expected_quantity: None,
    }
}

#[tokio::test]
async fn catalog_and_customer_writes_land() {
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    let m = r.sim.variant("SHIRT-M").unwrap()["id"].as_u64().unwrap();
    let o = weft_bigcommerce::write::execute(
        &r.client,
        &cmd(
            EntityKind::Price,
            WriteOp::Upsert,
            Some(m.to_string()),
            json!({"price": 22.5}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        o.target_id,
        shirt.to_string(),
        "the product holds the variant"
    );
    assert_eq!(r.sim.variant("SHIRT-M").unwrap()["price"], 22.5);
    weft_bigcommerce::write::execute(
        &r.client,
        &cmd(
            EntityKind::Product,
            WriteOp::Upsert,
            Some(shirt.to_string()),
            json!({"name": "Tee", "variants": []}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.sim.product(shirt).unwrap()["name"], "Tee");
    let created = weft_bigcommerce::write::execute(
        &r.client,
        &cmd(
            EntityKind::Variant,
            WriteOp::Upsert,
            None,
            json!({"product_id": shirt.to_string(), "sku": "SHIRT-L", "price": 19.0}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(created.children[0].key, "SHIRT-L");
    let c = weft_bigcommerce::write::execute(
        &r.client,
        &cmd(
            EntityKind::Customer,
            WriteOp::Upsert,
            None,
            json!({"email": "n@x.y", "first_name": "N", "last_name": "M"}),
        ),
    )
    .await
    .unwrap();
    weft_bigcommerce::write::execute(
        &r.client,
        &cmd(
            EntityKind::Customer,
            WriteOp::Upsert,
            Some(c.target_id.clone()),
            json!({"phone": "5"}),
        ),
    )
    .await
    .unwrap();
    // A refusal carries BigCommerce's message.
    let e = weft_bigcommerce::write::execute(
        &r.client,
        &cmd(
            EntityKind::Variant,
            WriteOp::Upsert,
            Some(m.to_string()),
            json!({"sku": "MUG"}),
        ),
    )
    .await
    .unwrap_err();
    match e {
        ConnectorError::Permanent {
            status, message, ..
        } => {
            assert_eq!(status, 409);
            assert!(message.contains("not unique"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = weft_bigcommerce::write::execute(
        &r.client,
        &cmd(EntityKind::Order, WriteOp::Upsert, None, json!({})),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid { .. }));
}

#[tokio::test]
async fn stock_sets_are_read_compared_and_set_absolutely() {
    let r = rig(SimConfig::default()).await;
    catalogue(&r.sim);
    let wh = r.sim.create_location("WH", "Warehouse");
    let s = r.sim.variant("SHIRT-S").unwrap()["id"].as_u64().unwrap();
    let m = r.sim.variant("SHIRT-M").unwrap()["id"].as_u64().unwrap();
    let set = |variant: u64, loc: u64, q: i64, expected: Option<i64>| {
        let mut c = cmd(
            EntityKind::InventoryLevel,
            WriteOp::SetQuantity,
            Some(format!("{variant}@{loc}")),
            json!({"available": q}),
        );
        c.expected_quantity = expected;
        c
    };
    // One call for three levels: one set, one already there, one stale.
    let cmds = vec![
        set(s, 1, 7, Some(10)),
        set(m, 1, 4, Some(4)),
        set(s, wh, 5, Some(3)),
    ];
    let (calls, failed) = weft_bigcommerce::write::plan_stock_calls(&cmds);
    assert!(failed.is_empty());
    assert_eq!(calls.len(), 1);
    let before = r.sim.requests().len();
    let results = weft_bigcommerce::write::send_stock_call(&r.client, &calls[0].input)
        .await
        .unwrap();
    assert_eq!(
        r.sim.requests().len() - before,
        3,
        "read, set, read versions"
    );
    match &results[0] {
        BatchResult::Applied(o) => {
            assert!(o.applied);
            assert_eq!(o.target_id, format!("{s}@1"));
            assert!(o.version.is_some());
            assert_eq!(o.document.as_ref().unwrap()["available"], 7);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&results[1], BatchResult::Applied(o) if !o.applied));
    assert!(matches!(&results[2], BatchResult::Failed(e) if e.is_stale()));
    assert_eq!(r.sim.stock("SHIRT-S", 1), Some(7));
    assert_eq!(r.sim.stock("SHIRT-S", wh), Some(0));
    // The resend of an applied set (its answer lost) finds it applied and writes nothing.
    let again = weft_bigcommerce::write::send_stock_call(&r.client, &calls[0].input)
        .await
        .unwrap();
    assert!(matches!(&again[0], BatchResult::Applied(o) if !o.applied));
    let ledger_len = r.sim.stock_ledger().len();
    weft_bigcommerce::write::execute(&r.client, &set(s, 1, 7, Some(10)))
        .await
        .unwrap();
    assert_eq!(r.sim.stock_ledger().len(), ledger_len);
    // A sale after the read: the guard no longer holds, nothing is overwritten.
    r.sim
        .place_order(
            0,
            &[OrderLine {
                sku: "SHIRT-S".into(),
                quantity: 1,
            }],
        )
        .unwrap();
    let e = weft_bigcommerce::write::execute(&r.client, &set(s, 1, 9, Some(7)))
        .await
        .unwrap_err();
    assert!(e.is_stale());
    assert_eq!(r.sim.stock("SHIRT-S", 1), Some(6));
}

#[tokio::test]
async fn wrong_tokens_and_throttles_are_classified() {
    let r = rig(SimConfig::default()).await;
    let bad = BcClient::new(
        BcConfig::new(&r.server.base_url, &r.sim.config().store_hash, "wrong"),
        QuotaLimiter::new(0.0),
    )
    .unwrap();
    let e = bad.get("/v3/catalog/products").await.unwrap_err();
    assert!(e.is_auth_failure(), "{e:?}");
    assert!(e.to_string().contains("invalid"), "{e}");
}

/// Sustained stock writes for four quota windows while another app spends half the quota
/// evenly: no 429 after the first window, and weft uses at least 90% of what the other app
/// leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_writes_share_the_quota_with_another_app_without_429() {
    sustained(BackgroundShape::Even).await;
}

/// The same with the other app spending its half in a burst at each window's start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_writes_share_the_quota_with_a_bursting_app_without_429() {
    sustained(BackgroundShape::Burst).await;
}

async fn sustained(shape: BackgroundShape) {
    let window = Duration::from_millis(1500);
    let r = rig(SimConfig {
        quota: QuotaConfig {
            requests_per_window: 150,
            window,
            background_per_window: 75,
            background_shape: shape,
        },
        ..SimConfig::default()
    })
    .await;
    catalogue(&r.sim);
    let s = r.sim.variant("SHIRT-S").unwrap()["id"].as_u64().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (client, stop) = (r.client.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut throttled = 0u32;
            let mut q = w * 1000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                q += 1;
                let body = json!({"items": [{"location_id": 1, "variant_id": s, "quantity": q}]});
                match client
                    .call(
                        reqwest::Method::PUT,
                        "/v3/inventory/adjustments/absolute",
                        Some(&body),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(ConnectorError::Throttled { .. }) => throttled += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            throttled
        }));
    }
    tokio::time::sleep(window * 5).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let windows = r.sim.quota_windows();
    eprintln!("{shape:?}: {windows:?}");
    // Windows 1..=3 are whole windows after the first (warm-up).
    let steady = &windows[1..4];
    for w in steady {
        assert_eq!(w.api_refused, 0, "{windows:?}");
        assert_eq!(
            w.others_refused, 0,
            "the other app is never starved: {windows:?}"
        );
        let left = 150 - w.others_spent;
        let share = w.api_spent as f64 / left as f64;
        assert!(share >= 0.9, "share {share:.3} of {left}: {windows:?}");
    }
}

#[tokio::test]
async fn a_connection_offers_change_capture_hints_and_with_a_public_url_its_hook_keeper() {
    use weft_platform::{Connection, SourceCtx};
    let r = rig(SimConfig::default()).await;
    let conn = weft_bigcommerce::BigCommerceConnection::new(
        r.client.clone(),
        HintBus::new(),
        Some("k".into()),
    );
    let mut ctx = SourceCtx {
        store_id: "s1".into(),
        system: "shop".into(),
        db: r.db.clone(),
        overlap: Duration::from_secs(5),
        webhook_url: None,
    };
    let names = |c: &SourceCtx| -> Vec<String> {
        conn.change_sources(c)
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    };
    assert_eq!(names(&ctx), ["shop-changes", "shop-hints"]);
    ctx.webhook_url = Some("https://weft.example/webhooks/shop/s1".into());
    assert_eq!(names(&ctx), ["shop-changes", "shop-hints", "shop-hooks"]);
    let missing = conn
        .missing_webhooks("https://weft.example/webhooks/shop/s1")
        .await
        .unwrap();
    assert_eq!(missing.len(), 3);
    assert_eq!(conn.platform().name(), "bigcommerce");
    assert!(conn.platform().webhooks().is_some());
    let stock = cmd(
        EntityKind::InventoryLevel,
        WriteOp::SetQuantity,
        Some("1@1".into()),
        json!({"available": 1}),
    );
    assert_eq!(
        conn.batch_size(&stock),
        Some(weft_bigcommerce::write::MAX_LEVELS)
    );
    assert_eq!(
        conn.batch_size(&cmd(EntityKind::Price, WriteOp::Upsert, None, json!({}))),
        None
    );
}

/// Another app bursts through the whole window's quota: weft's request is answered 429, which
/// becomes a throttle error whose wait is the reset; the next window serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_a_throttle_that_waits_for_the_reset() {
    let r = rig(SimConfig {
        quota: QuotaConfig {
            requests_per_window: 10,
            window: Duration::from_millis(400),
            background_per_window: 10,
            background_shape: BackgroundShape::Burst,
        },
        ..SimConfig::default()
    })
    .await;
    let e = r.client.get("/v3/catalog/products").await.unwrap_err();
    match e {
        ConnectorError::Throttled {
            retry_after: Some(wait),
            ..
        } => assert!(wait <= Duration::from_millis(400), "{wait:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.client.limiter().stats().throttled, 1);
    // A read inside a poll round waits the throttle out (the others burst again each window,
    // so it keeps being refused: the patient read gives up after its retries).
    let e = weft_platform::poll::patient(|| r.client.get("/v3/catalog/products"))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Throttled { .. }));
    // The other app stops: the next window serves weft.
    r.sim.set_background_load(0);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(r.client.get("/v3/catalog/products").await.is_ok());
}

#[tokio::test]
async fn a_resent_product_create_finds_the_product_it_made() {
    let r = rig(SimConfig::default()).await;
    let create = cmd(
        EntityKind::Product,
        WriteOp::Upsert,
        None,
        json!({"name": "Cap", "sku": "CAP-1", "type": "physical", "price": 0, "weight": 0,
            "inventory_tracking": "product", "is_visible": true}),
    );
    let first = weft_bigcommerce::write::execute(&r.client, &create)
        .await
        .unwrap();
    // The answer was lost: the same create is sent again.
    let again = weft_bigcommerce::write::execute(&r.client, &create)
        .await
        .unwrap();
    assert_eq!(first.target_id, again.target_id);
    let products = r.sim.state()["products"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        products.iter().filter(|p| p["sku"] == "CAP-1").count(),
        1,
        "{products:?}"
    );
}

/// A tie (two readings of one second) is settled by reading the entity again: products (with
/// their variants) and customers are read through the listings change capture uses, so the
/// document has the shape it journals; levels and orders are not read alone.
#[tokio::test]
async fn products_and_customers_are_read_again_in_the_journaled_shape() {
    use weft_platform::Connection;
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    r.sim
        .create_customer(json!({"email": "a@x.y", "first_name": "A", "last_name": "B"}))
        .unwrap();
    let cc = BcChangeCapture::new(r.journal.clone(), r.client.clone(), Duration::from_secs(2));
    cc.poll().await.unwrap();
    let conn = weft_bigcommerce::BigCommerceConnection::new(r.client.clone(), HintBus::new(), None);
    let entries = journaled(&r.db).await;
    for kind in ["product", "customer"] {
        let held = entries.iter().find(|e| e.kind == kind).unwrap();
        let read = conn
            .reread(kind, &held.entity_id, &held.body)
            .expect("read again")
            .await
            .unwrap()
            .expect("it exists");
        assert_eq!(read.body, held.body, "{kind}");
        assert_eq!(read.version, held.version, "{kind}");
    }
    r.sim.advance_clock(Duration::from_secs(60));
    r.sim
        .edit_variant("SHIRT-M", json!({"price": 20.0}))
        .unwrap();
    let read = conn
        .reread("product", &shirt.to_string(), &json!({}))
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.body["variants"][2]["price"], 20.0);
    let level = entries
        .iter()
        .find(|e| e.kind == "inventory-level")
        .unwrap();
    assert!(
        conn.reread("inventory-level", &level.entity_id, &level.body)
            .is_none()
    );
    assert!(conn.reread("order", "1", &json!({})).is_none());
    let gone = conn
        .reread("product", "987654", &json!({}))
        .unwrap()
        .await
        .unwrap();
    assert!(gone.is_none());
}

/// A deleted product or customer is in no listing and `date_modified` never shows it: a full
/// read journals a tombstone for each one weft held that it no longer lists (a lost
/// `store/product/deleted`, a customer's deletion); an incremental round journals none.
#[tokio::test]
async fn a_full_read_journals_tombstones_for_products_and_customers_no_longer_listed() {
    let r = rig(SimConfig::default()).await;
    // The store's clock runs an hour ahead of weft's.
    r.sim.advance_clock(Duration::from_secs(3600));
    let shirt = catalogue(&r.sim);
    let c = r
        .sim
        .create_customer(json!({"email": "a@x.y", "first_name": "A", "last_name": "B"}))
        .unwrap();
    let cc = BcChangeCapture::new(r.journal.clone(), r.client.clone(), Duration::from_secs(2));
    cc.poll().await.unwrap();
    // What the processing step would hold of them.
    let mut step = weft_store::StepCommit::new("s1", chrono::Utc::now());
    for e in journaled(&r.db).await {
        step.entity_states.push(weft_store::EntityStateUpsert {
            system: e.system,
            kind: e.kind,
            entity_id: e.entity_id,
            version: e.version,
            body: e.body,
            canonical_key: None,
            journal_seq: e.seq,
        });
    }
    r.db.commit_step(&step).await.unwrap();
    let head = journaled(&r.db).await.last().unwrap().seq;

    r.sim.delete_product(shirt).unwrap();
    r.sim.delete_customer(c).unwrap();
    let tombstones = |entries: Vec<weft_store::JournalEntry>| -> Vec<(String, String)> {
        let mut t: Vec<_> = entries
            .into_iter()
            .filter(|e| weft_platform::webhook::is_tombstone(&e.body))
            .map(|e| (e.kind, e.entity_id))
            .collect();
        t.sort();
        t
    };
    cc.poll().await.unwrap();
    assert!(tombstones(r.db.journal_since("s1", head, 1000).await.unwrap()).is_empty());
    cc.poll_full().await.unwrap();
    let after = r.db.journal_since("s1", head, 1000).await.unwrap();
    assert_eq!(
        tombstones(after.clone()),
        vec![
            ("customer".to_owned(), c.to_string()),
            ("product".to_owned(), shirt.to_string()),
        ]
    );
    // Versioned after what weft held, though the store's clock is ahead of weft's: the
    // tombstone is not stale.
    for t in after
        .iter()
        .filter(|e| weft_platform::webhook::is_tombstone(&e.body))
    {
        let held = step
            .entity_states
            .iter()
            .find(|s| s.kind == t.kind && s.entity_id == t.entity_id)
            .unwrap();
        let at = |v: &str| chrono::DateTime::parse_from_rfc3339(v).unwrap();
        assert!(at(&t.version) > at(&held.version), "{t:?} vs {held:?}");
    }
}

/// What weft's intake makes of the simulator's callbacks: a receiver that verifies and parses
/// them as the server does (hints go to a bus nobody fetches).
async fn intake(r: &Rig) -> Arc<parking_lot::Mutex<Vec<weft_platform::WebhookDelivery>>> {
    let seen: Arc<parking_lot::Mutex<Vec<weft_platform::WebhookDelivery>>> = Arc::default();
    let parser = Arc::new(BcWebhooks::new(Some(HintBus::new())));
    let hash = r.sim.config().store_hash.clone();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::post(move |h: http::HeaderMap, b: axum::body::Bytes| {
            let (parser, hash, seen) = (parser.clone(), hash.clone(), s2.clone());
            async move {
                if !parser.verify(&h, &b, &[WebhookSecret::new("s3cret")]) {
                    return http::StatusCode::UNAUTHORIZED;
                }
                match parser.parse(&h, &b, Some(&hash)) {
                    Ok(d) => {
                        seen.lock().push(d);
                        http::StatusCode::OK
                    }
                    Err(_) => http::StatusCode::BAD_REQUEST,
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    ensure_hooks(&r.client, &url, "s3cret").await.unwrap();
    seen
}

fn delete(kind: EntityKind, target: u64, body: Value) -> WriteCommand {
    cmd(kind, WriteOp::Delete, Some(target.to_string()), body)
}

fn assert_deleted(o: &weft_platform::WriteOutcome, target: u64) {
    assert_eq!(o.target_id, target.to_string());
    assert!(o.applied && !o.created && o.children.is_empty(), "{o:?}");
}

/// A variant of a product with others beside it is deleted alone: the outcome is the
/// product's new document, exactly as change capture journals it (same id, shape and
/// version), and the store fires `store/product/updated` for it. The product's last option
/// variant takes the product with it: the outcome is the product's tombstone, the one the
/// intake journals from `store/product/deleted` (same kind and id), versioned after what the
/// store showed of it. Deleting either again succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_variants_removes_them_and_the_last_takes_the_product() {
    let r = rig(SimConfig::default()).await;
    let seen = intake(&r).await;
    let shirt = catalogue(&r.sim);
    let s = r.sim.variant("SHIRT-S").unwrap()["id"].as_u64().unwrap();
    let cc = BcChangeCapture::new(r.journal.clone(), r.client.clone(), Duration::from_secs(2));
    cc.poll().await.unwrap();
    r.sim.advance_clock(Duration::from_secs(60));

    let o = weft_bigcommerce::write::execute(
        &r.client,
        &delete(
            EntityKind::Variant,
            shirt,
            json!({"product_id": shirt.to_string(), "variant_id": s.to_string(), "sku": "SHIRT-S"}),
        ),
    )
    .await
    .unwrap();
    assert_deleted(&o, shirt);
    assert!(r.sim.variant("SHIRT-S").is_none());
    assert!(r.sim.stock("SHIRT-S", DEFAULT_LOCATION).is_none());
    assert!(r.sim.variant("SHIRT-M").is_some());
    let doc = o.document.clone().unwrap();
    assert_eq!(doc["id"], shirt.to_string(), "journaled under the product");
    let skus: Vec<&str> = doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["SHIRT", "SHIRT-M"]);
    assert_eq!(o.version.as_deref(), doc["date_modified"].as_str());
    // Change capture reads the same document at the same version.
    cc.poll().await.unwrap();
    let polled = journaled(&r.db)
        .await
        .into_iter()
        .rev()
        .find(|e| e.kind == "product" && e.entity_id == shirt.to_string())
        .unwrap();
    assert_eq!(polled.body, doc);
    assert_eq!(Some(polled.version.clone()), o.version);
    // Gone already: the product as it is.
    let again = weft_bigcommerce::write::execute(
        &r.client,
        &delete(
            EntityKind::Variant,
            shirt,
            json!({"variant_id": s, "sku": "SHIRT-S"}),
        ),
    )
    .await
    .unwrap();
    assert_deleted(&again, shirt);
    assert_eq!(again.document.as_ref(), Some(&doc));

    // The last option variant, named by its SKU alone: the product goes.
    let held = r.sim.product(shirt).unwrap();
    let last = weft_bigcommerce::write::execute(
        &r.client,
        &delete(EntityKind::Variant, shirt, json!({"sku": "shirt-m"})),
    )
    .await
    .unwrap();
    assert_deleted(&last, shirt);
    assert!(r.sim.product(shirt).is_none());
    assert!(r.sim.variant("SHIRT").is_none(), "no base left behind");
    let tomb = last.document.clone().unwrap();
    assert_eq!(tomb, weft_platform::webhook::tombstone(&shirt.to_string()));
    let at = |v: &str| chrono::DateTime::parse_from_rfc3339(v).unwrap();
    let version = last.version.clone().unwrap();
    assert!(at(&version) > at(held["date_modified"].as_str().unwrap()));
    assert!(version.ends_with('Z'), "{version}");

    // What the store's callbacks journal: the product's new document is fetched on the
    // `store/product/updated` hint; its deletion is the same tombstone.
    assert!(r.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let log = r.sim.webhook_log();
    let scopes: Vec<&str> = log.iter().map(|d| d.scope.as_str()).collect();
    assert!(scopes.contains(&"store/product/updated"), "{scopes:?}");
    let seen = seen.lock().clone();
    let from_hook = seen
        .iter()
        .find(|d| weft_platform::webhook::is_tombstone(&d.body))
        .expect("store/product/deleted");
    assert_eq!(
        (
            from_hook.kind.as_str(),
            &from_hook.entity_id,
            &from_hook.body
        ),
        ("product", &shirt.to_string(), &tomb)
    );
    assert!(
        seen.iter()
            .any(|d| d.kind == weft_platform::webhook::HINT_KIND
                && d.entity_id == format!("product:{shirt}"))
    );

    // Both deleted again: the product's tombstone.
    for c in [
        delete(EntityKind::Variant, shirt, json!({"sku": "SHIRT-M"})),
        delete(EntityKind::Product, shirt, json!({})),
    ] {
        let o = weft_bigcommerce::write::execute(&r.client, &c)
            .await
            .unwrap();
        assert_deleted(&o, shirt);
        assert_eq!(o.document.as_ref(), Some(&tomb));
    }
}

/// A simple product's only variant is its base variant: deleting it deletes the product. A
/// product deleted as a product is a tombstone too. The hidden base variant of a product with
/// options maps to no record: nothing is removed.
#[tokio::test]
async fn a_simple_product_goes_with_its_variant_and_a_hidden_base_variant_stays() {
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    let mug = shirt + 1;
    let base = r.sim.variant("MUG").unwrap()["id"].as_u64().unwrap();
    let o = weft_bigcommerce::write::execute(
        &r.client,
        &delete(
            EntityKind::Variant,
            mug,
            json!({"variant_id": base, "sku": "MUG"}),
        ),
    )
    .await
    .unwrap();
    assert_deleted(&o, mug);
    assert_eq!(
        o.document,
        Some(weft_platform::webhook::tombstone(&mug.to_string()))
    );
    assert!(r.sim.product(mug).is_none());

    let hidden = weft_bigcommerce::write::execute(
        &r.client,
        &delete(EntityKind::Variant, shirt, json!({"sku": "SHIRT"})),
    )
    .await
    .unwrap();
    assert_deleted(&hidden, shirt);
    assert_eq!(hidden.document.as_ref().unwrap()["id"], shirt.to_string());
    assert_eq!(
        r.sim.product(shirt).unwrap()["variants"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let deletes_before = r
        .sim
        .requests()
        .iter()
        .filter(|q| q.method == "DELETE")
        .count();
    let p =
        weft_bigcommerce::write::execute(&r.client, &delete(EntityKind::Product, shirt, json!({})))
            .await
            .unwrap();
    assert_deleted(&p, shirt);
    assert_eq!(
        p.document,
        Some(weft_platform::webhook::tombstone(&shirt.to_string()))
    );
    assert!(r.sim.product(shirt).is_none());
    assert!(r.sim.variant("SHIRT-S").is_none());
    let deletes: Vec<_> = r
        .sim
        .requests()
        .into_iter()
        .filter(|q| q.method == "DELETE")
        .skip(deletes_before)
        .map(|q| (q.path, q.status))
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(
        deletes[0]
            .0
            .ends_with(&format!("/v3/catalog/products/{shirt}"))
    );
    assert_eq!(deletes[0].1, 204);
    // Without a variant to name, nothing is sent.
    let e = weft_bigcommerce::write::execute(&r.client, &delete(EntityKind::Variant, 5, json!({})))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid { .. }), "{e:?}");
}

/// Two variants of one product removed at the same time (the dispatcher runs different
/// records concurrently): whichever delete finds no option variant left takes the product, so
/// the hidden base variant is never left behind as a product of its own.
#[tokio::test]
async fn the_last_two_variants_deleted_concurrently_take_the_product() {
    let r = rig(SimConfig::default()).await;
    let shirt = catalogue(&r.sim);
    // The limiter knows the quota (it lets one request through until it does).
    r.client
        .get(&format!("/v3/catalog/products/{shirt}"))
        .await
        .unwrap();
    let (a, b) = (
        delete(EntityKind::Variant, shirt, json!({"sku": "SHIRT-S"})),
        delete(EntityKind::Variant, shirt, json!({"sku": "SHIRT-M"})),
    );
    let (a, b) = tokio::join!(
        weft_bigcommerce::write::execute(&r.client, &a),
        weft_bigcommerce::write::execute(&r.client, &b)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Both read the product with its two option variants and deleted their own.
    let variant_deletes = r
        .sim
        .requests()
        .iter()
        .filter(|q| q.method == "DELETE" && q.path.contains("/variants/"))
        .count();
    assert_eq!(variant_deletes, 2);
    assert!(r.sim.product(shirt).is_none(), "{:?}", r.sim.product(shirt));
    let tomb = weft_platform::webhook::tombstone(&shirt.to_string());
    assert!(
        a.document.as_ref() == Some(&tomb) || b.document.as_ref() == Some(&tomb),
        "{a:?} {b:?}"
    );
}

/// A customer is read (for its version) and deleted: the outcome is its tombstone, the one the
/// intake journals from `store/customer/deleted` and a full read journals (kind `customer`, its
/// id), versioned after what the store showed though the store's clock runs an hour ahead of
/// weft's. Deleted again, or never there: the same tombstone, and no delete is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_customer_answers_its_tombstone() {
    let r = rig(SimConfig::default()).await;
    r.sim.advance_clock(Duration::from_secs(3600));
    let seen = intake(&r).await;
    let c = r
        .sim
        .create_customer(json!({"email": "a@x.y", "first_name": "A", "last_name": "B"}))
        .unwrap();
    let keep = r
        .sim
        .create_customer(json!({"email": "k@x.y", "first_name": "K", "last_name": "B"}))
        .unwrap();
    let cc = BcChangeCapture::new(r.journal.clone(), r.client.clone(), Duration::from_secs(2));
    cc.poll().await.unwrap();
    let held = journaled(&r.db)
        .await
        .into_iter()
        .find(|e| e.kind == "customer" && e.entity_id == c.to_string())
        .unwrap();
    let o =
        weft_bigcommerce::write::execute(&r.client, &delete(EntityKind::Customer, c, json!({})))
            .await
            .unwrap();
    assert_deleted(&o, c);
    assert!(!r.sim.has_customer(c) && r.sim.has_customer(keep));
    let tomb = weft_platform::webhook::tombstone(&c.to_string());
    assert_eq!(o.document.as_ref(), Some(&tomb));
    let at = |v: &str| chrono::DateTime::parse_from_rfc3339(v).unwrap();
    assert!(at(o.version.as_deref().unwrap()) > at(&held.version));
    assert!(weft_platform::Platform::is_deletion(
        &weft_bigcommerce::BigCommerce::default(),
        "customer",
        &tomb
    ));

    assert!(r.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let from_hook = seen
        .lock()
        .iter()
        .find(|d| weft_platform::webhook::is_tombstone(&d.body))
        .cloned()
        .expect("store/customer/deleted");
    assert_eq!(
        (
            from_hook.kind.as_str(),
            &from_hook.entity_id,
            &from_hook.body
        ),
        ("customer", &c.to_string(), &tomb)
    );

    let sent = r.sim.requests().len();
    for id in [c, 999] {
        let again = weft_bigcommerce::write::execute(
            &r.client,
            &delete(EntityKind::Customer, id, json!({})),
        )
        .await
        .unwrap();
        assert_deleted(&again, id);
        assert_eq!(
            again.document,
            Some(weft_platform::webhook::tombstone(&id.to_string()))
        );
    }
    assert!(
        r.sim.requests()[sent..].iter().all(|q| q.method == "GET"),
        "nothing left to delete"
    );
}
