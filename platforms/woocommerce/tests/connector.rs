//! The WooCommerce connector against the simulator: pagination, authentication over plain
//! http (OAuth 1.0a) and its refusals, error classification, batches split at 100, stock sets
//! that are safe to resend, creates found again by SKU, webhook verification and parsing
//! (rotation, bad signature, the ping), the poll's watermark with its overlap, and the keeper
//! that re-activates a disabled webhook.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use serde_json::{Value, json};
use weft_platform::{
    BatchResult, Connection, ConnectorError, EntityKind, Poller, WebhookIntake, WebhookSecret,
    WriteCommand, WriteOp,
};
use weft_sim_woocommerce::{
    DEFAULT_KEY, DEFAULT_SECRET, Kind, OrderLine, READ_ONLY_KEY, READ_ONLY_SECRET, SimConfig,
    WooSim,
};
use weft_store::Store;
use weft_woocommerce::webhook::{self, WooWebhooks};
use weft_woocommerce::write::{self, MARKER};
use weft_woocommerce::{WooClient, WooConfig, WooConnection};

struct Rig {
    sim: WooSim,
    server: weft_sim_woocommerce::SimHandle,
    client: Arc<WooClient>,
}

async fn rig_with(config: SimConfig) -> Rig {
    let sim = WooSim::new(config).unwrap();
    let server = sim.serve_local().await.unwrap();
    let mut cfg = WooConfig::new(&server.base_url, DEFAULT_KEY, DEFAULT_SECRET);
    cfg.requests_per_second = 1000;
    let client = Arc::new(WooClient::new(cfg).unwrap());
    Rig {
        sim,
        server,
        client,
    }
}

async fn rig() -> Rig {
    rig_with(SimConfig::default()).await
}

fn product(sku: &str, stock: i64) -> Value {
    json!({"name": format!("Product {sku}"), "type": "simple", "sku": sku,
        "regular_price": "10.00", "manage_stock": true, "stock_quantity": stock})
}

fn stock_cmd(id: u64, quantity: i64, expected: Option<i64>, key: &str) -> WriteCommand {
    WriteCommand {
        system: "woocommerce".into(),
        kind: EntityKind::InventoryLevel,
        op: WriteOp::SetQuantity,
        target_id: Some(id.to_string()),
        external_id: None,
        body: json!({"sku": "x", "stock_quantity": quantity}),
        idempotency_key: key.into(),
        expected_quantity: expected,
    }
}

fn batch_posts(sim: &WooSim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/batch"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn lists_every_page_with_oauth_over_http() {
    let r = rig().await;
    for i in 0..25 {
        r.sim
            .create_product(product(&format!("P{i:02}"), 1))
            .unwrap();
    }
    let mut cfg = WooConfig::new(&r.server.base_url, DEFAULT_KEY, DEFAULT_SECRET);
    cfg.per_page = 10;
    cfg.requests_per_second = 1000;
    let client = WooClient::new(cfg).unwrap();
    let all = client.list_all("products", &[]).await.unwrap();
    assert_eq!(all.len(), 25);
    let lists: Vec<_> = r
        .sim
        .requests()
        .into_iter()
        .filter(|q| q.method == "GET" && q.path.ends_with("/products"))
        .collect();
    assert_eq!(lists.len(), 3, "three pages of ten");
    assert!(lists.iter().all(|q| q.query.contains("oauth_signature=")));
    assert!(
        lists
            .iter()
            .all(|q| q.consumer_key.as_deref() == Some(DEFAULT_KEY))
    );
}

#[tokio::test]
async fn refused_credentials_are_an_outage_not_a_record_failure() {
    let r = rig().await;
    let bad = WooClient::new(WooConfig::new(&r.server.base_url, DEFAULT_KEY, "cs_wrong")).unwrap();
    let e = bad.get("products", &[]).await.unwrap_err();
    assert!(
        e.is_auth_failure() && e.is_outage() && !e.is_retryable(),
        "{e}"
    );
    assert!(e.to_string().contains("Invalid signature"), "{e}");
    let unknown = WooClient::new(WooConfig::new(&r.server.base_url, "ck_nobody", "cs_x")).unwrap();
    let e = unknown.get("products", &[]).await.unwrap_err();
    assert!(e.to_string().contains("Consumer key is invalid."), "{e}");
    let read_only = WooClient::new(WooConfig::new(
        &r.server.base_url,
        READ_ONLY_KEY,
        READ_ONLY_SECRET,
    ))
    .unwrap();
    assert!(read_only.get("products", &[]).await.is_ok());
    let e = read_only
        .post("products", &product("RO", 1))
        .await
        .unwrap_err();
    assert!(e.is_auth_failure(), "{e}");
    assert!(e.to_string().contains("write permissions"), "{e}");
}

#[tokio::test]
async fn errors_are_classified_for_retries() {
    let r = rig().await;
    r.sim.set_unavailable(1, 7);
    let e = r.client.get("products", &[]).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Throttled { .. }), "{e}");
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = r.client.get("products/999999", &[]).await.unwrap_err();
    match &e {
        ConnectorError::Permanent {
            status: 404,
            code,
            message,
            ..
        } => {
            assert_eq!(code, "woocommerce_rest_product_invalid_id");
            assert_eq!(message, "Invalid ID.");
        }
        other => panic!("{other:?}"),
    }
    let e = r
        .client
        .post("products", &json!({"name": "x", "regular_price": 10}))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Permanent { status: 400, code, .. } if code == "rest_invalid_param"),
        "{e}"
    );
    let too_many: Vec<Value> = (0..101).map(|i| product(&format!("B{i}"), 1)).collect();
    let e = r
        .client
        .post("products/batch", &json!({"create": too_many}))
        .await
        .unwrap_err();
    match &e {
        ConnectorError::Permanent {
            status: 413,
            code,
            message,
            ..
        } => {
            assert_eq!(code, "woocommerce_rest_request_entity_too_large");
            assert!(message.contains("100"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let down = WooClient::new(WooConfig::new(
        "http://127.0.0.1:9",
        DEFAULT_KEY,
        DEFAULT_SECRET,
    ))
    .unwrap();
    assert!(down.get("products", &[]).await.unwrap_err().is_retryable());
}

#[tokio::test]
async fn stock_writes_split_at_one_hundred_per_call() {
    let r = rig().await;
    let ids: Vec<u64> = (0..150)
        .map(|i| {
            r.sim
                .create_product(product(&format!("S{i:03}"), 5))
                .unwrap()
        })
        .collect();
    let cmds: Vec<WriteCommand> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| stock_cmd(*id, 9, Some(5), &format!("k{i}")))
        .collect();
    let conn = WooConnection::new(r.client.clone(), DEFAULT_SECRET);
    assert_eq!(conn.batch_size(&cmds[0]), Some(100));
    let (calls, failed) = conn.plan_batches(&cmds).await;
    assert!(failed.is_empty());
    assert_eq!(
        calls.iter().map(|c| c.members.len()).collect::<Vec<_>>(),
        vec![100, 50]
    );
    for c in &calls {
        let results = conn.send_batch(&c.input, "call").await.unwrap();
        assert!(
            results
                .iter()
                .all(|r| matches!(r, BatchResult::Applied(o) if o.applied))
        );
    }
    assert_eq!(batch_posts(&r.sim).len(), 2);
    assert!(ids.iter().all(|id| r.sim.stock(*id) == Some(9)));
}

#[tokio::test]
async fn a_resent_stock_set_applies_once_and_a_moved_level_is_stale() {
    let r = rig().await;
    let id = r.sim.create_product(product("TEE", 5)).unwrap();
    let cust = r
        .sim
        .create_customer("a@example.com", "Ann", "Lee")
        .unwrap();
    let cmd = stock_cmd(id, 9, Some(5), "weft-abc");
    let (calls, _) = write::plan(std::slice::from_ref(&cmd));
    let first = write::send(&r.client, &calls[0].input).await.unwrap();
    let BatchResult::Applied(o) = &first[0] else {
        panic!("{first:?}")
    };
    assert!(o.applied);
    assert_eq!(o.target_id, id.to_string());
    assert!(o.version.as_deref().is_some_and(|v| v.ends_with('Z')));
    let meta = &r.sim.get(Kind::Product, id)["meta_data"];
    assert!(
        meta.as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == MARKER && m["value"] == "weft-abc")
    );
    // A sale after the write; then the same call again (its answer was lost): it finds its
    // marker and writes nothing, so the sale stays.
    r.sim
        .place_order(
            cust,
            &[OrderLine {
                sku: "TEE".into(),
                quantity: 2,
            }],
        )
        .unwrap();
    assert_eq!(r.sim.stock(id), Some(7));
    let writes_before = batch_posts(&r.sim).len();
    let again = write::send(&r.client, &calls[0].input).await.unwrap();
    assert!(matches!(&again[0], BatchResult::Applied(o) if o.applied));
    assert_eq!(
        batch_posts(&r.sim).len(),
        writes_before,
        "nothing sent again"
    );
    assert_eq!(r.sim.stock(id), Some(7));
    // A new set planned against the old quantity: the level moved, so it is refused as stale.
    let stale = stock_cmd(id, 20, Some(9), "weft-def");
    let out = weft_woocommerce::write::execute(&r.client, &stale)
        .await
        .unwrap_err();
    assert!(out.is_stale(), "{out}");
    assert_eq!(r.sim.stock(id), Some(7));
    // Already holding the quantity: nothing to write.
    let done = weft_woocommerce::write::execute(&r.client, &stock_cmd(id, 7, Some(7), "weft-x"))
        .await
        .unwrap();
    assert!(!done.applied);
    let api_sets = r
        .sim
        .stock_log()
        .iter()
        .filter(|c| c.product_id == id && c.cause == "api")
        .count();
    assert_eq!(api_sets, 1);
}

#[tokio::test]
async fn a_resent_create_finds_the_product_by_sku() {
    let r = rig().await;
    let cmd = WriteCommand {
        system: "woocommerce".into(),
        kind: EntityKind::Product,
        op: WriteOp::Upsert,
        target_id: None,
        external_id: None,
        body: json!({"sku": "NEW-1", "name": "New", "regular_price": "12.00", "status": "publish"}),
        idempotency_key: "weft-new".into(),
        expected_quantity: None,
    };
    let a = weft_woocommerce::write::execute(&r.client, &cmd)
        .await
        .unwrap();
    let b = weft_woocommerce::write::execute(&r.client, &cmd)
        .await
        .unwrap();
    assert_eq!(a.target_id, b.target_id);
    assert_eq!(a.children[0].key, "NEW-1");
    assert_eq!(
        r.sim
            .creates(Kind::Product, weft_sim_woocommerce::Actor::Api),
        1
    );
    // A variation is written to its parent's variations.
    let parent = r
        .sim
        .create_product(json!({"name": "Var", "type": "variable"}))
        .unwrap();
    let v = r
        .sim
        .create_variation(parent, json!({"sku": "VAR-S", "regular_price": "5.00"}))
        .unwrap();
    let upd = WriteCommand {
        target_id: Some(v.to_string()),
        body: json!({"sku": "VAR-S", "parent_id": parent, "regular_price": "6.00"}),
        ..cmd.clone()
    };
    weft_woocommerce::write::execute(&r.client, &upd)
        .await
        .unwrap();
    assert_eq!(r.sim.get(Kind::Product, v)["regular_price"], "6.00");
    assert!(
        batch_posts(&r.sim)
            .iter()
            .any(|p| p.ends_with(&format!("/products/{parent}/variations/batch")))
    );
}

/// Captures the deliveries the simulator sends.
async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, b: Bytes| {
            let g = g.clone();
            async move {
                g.lock().push((h, b));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn webhooks_verify_with_rotation_and_pings_are_recognised() {
    let r = rig().await;
    let (url, got) = receiver().await;
    r.sim
        .create_webhook("product.updated", &url, "new-secret")
        .unwrap();
    let id = r.sim.create_product(product("W1", 3)).unwrap();
    r.sim.set_stock(id, 4).unwrap();
    assert!(r.sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let got = got.lock().clone();
    let intake = WooWebhooks;
    let (ph, pb) = got
        .iter()
        .find(|(_, b)| b.starts_with(b"webhook_id="))
        .expect("a ping");
    assert!(intake.is_ping(ph, pb));
    let (h, b) = got
        .iter()
        .find(|(h, _)| h.contains_key(webhook::TOPIC_HEADER))
        .expect("a delivery");
    assert!(!intake.is_ping(h, b));
    let rotation = [
        WebhookSecret::new("old-secret"),
        WebhookSecret::new("new-secret"),
    ];
    assert!(intake.verify(h, b, &rotation));
    assert!(!intake.verify(h, b, &[WebhookSecret::new("old-secret")]));
    let mut tampered = b.to_vec();
    tampered.push(b' ');
    assert!(!intake.verify(h, &tampered, &rotation));
    assert!(!intake.verify(ph, pb, &rotation), "a ping is unsigned");
    let d = intake.parse(h, b, Some(&r.server.base_url)).unwrap();
    assert_eq!(d.kind, "product");
    assert_eq!(d.entity_id, id.to_string());
    assert!(d.version.ends_with('Z'));
    assert_eq!(d.body["stock_quantity"], 4);
    assert!(d.delivery_id.is_some());
    let e = intake
        .parse(h, b, Some("https://elsewhere.example"))
        .unwrap_err();
    assert!(e.contains("not this system's site"), "{e}");
}

#[tokio::test]
async fn the_keeper_creates_webhooks_and_reactivates_disabled_ones() {
    let r = rig().await;
    let (url, _got) = receiver().await;
    let done = webhook::ensure(&r.client, &url, "s3cret").await.unwrap();
    assert_eq!(done.created.len(), webhook::TOPICS.len());
    let conn = WooConnection::new(r.client.clone(), "s3cret");
    assert!(conn.missing_webhooks(&url).await.unwrap().is_empty());
    let hooks = r.sim.all(Kind::Webhook);
    let first = hooks[0]["id"].as_u64().unwrap();
    r.sim.set_webhook_status(first, "disabled").unwrap();
    assert_eq!(conn.missing_webhooks(&url).await.unwrap().len(), 1);
    let done = webhook::ensure(&r.client, &url, "s3cret").await.unwrap();
    assert!(done.created.is_empty());
    assert_eq!(done.reactivated.len(), 1);
    assert_eq!(r.sim.webhook_health(first).unwrap().1, "active");
    assert_eq!(r.sim.all(Kind::Webhook).len(), webhook::TOPICS.len());
}

/// A store database in `dir` and store `s1`'s poller over it, reading 60 s before its
/// watermarks.
async fn poller_over(
    r: &Rig,
    dir: &tempfile::TempDir,
) -> (Store, weft_woocommerce::poll::WooPoller) {
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let poller = weft_woocommerce::poll::WooPoller::new(
        "s1",
        "woocommerce",
        db.clone(),
        r.client.clone(),
        Duration::from_secs(60),
    );
    (db, poller)
}

#[tokio::test]
async fn the_poll_reads_changes_since_its_watermark_with_an_overlap() {
    let r = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let (db, poller) = poller_over(&r, &dir).await;
    let a = r.sim.create_product(product("A", 3)).unwrap();
    let parent = r
        .sim
        .create_product(json!({"name": "Var", "type": "variable"}))
        .unwrap();
    let v = r
        .sim
        .create_variation(
            parent,
            json!({"sku": "V-S", "regular_price": "5.00",
            "manage_stock": true, "stock_quantity": 2}),
        )
        .unwrap();
    let c = r.sim.create_customer("b@example.com", "Bo", "Ek").unwrap();
    r.sim
        .place_order(
            c,
            &[OrderLine {
                sku: "A".into(),
                quantity: 1,
            }],
        )
        .unwrap();
    let first = poller.poll().await.unwrap();
    // A, the variable product, the variation, the customer, the order (+ two levels).
    assert_eq!(first.read, 5);
    assert_eq!(first.journaled, 7);
    let level = db
        .entity_state("s1", "woocommerce", "inventory-level", &a.to_string())
        .await
        .unwrap();
    assert!(level.is_none(), "journaled, not yet processed");
    let entries = db.journal_since("s1", 0, 100).await.unwrap();
    let lv = entries
        .iter()
        .find(|e| e.kind == "inventory-level" && e.entity_id == a.to_string())
        .unwrap();
    assert_eq!(lv.body["stock_quantity"], 2, "the order took one");
    // The first round read everything there was (a first sync): a backfill, whose writes
    // queue behind live ones.
    assert!(
        entries
            .iter()
            .all(|e| e.source == weft_store::Source::Backfill),
        "{:?}",
        entries.iter().map(|e| e.source).collect::<Vec<_>>()
    );
    let head = entries.last().unwrap().seq;
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "inventory-level" && e.entity_id == v.to_string())
    );
    let mark = db
        .watermark("s1", "woocommerce:products")
        .await
        .unwrap()
        .unwrap();
    assert!(mark["modified_gmt"].as_str().unwrap().ends_with('Z'));
    // Nothing changed: the overlap reads the same documents again, and nothing is new.
    let second = poller.poll().await.unwrap();
    assert_eq!(second.journaled, 0);
    // A variation's change (its parent does not move) and a product's, a minute later.
    r.sim.advance_clock(Duration::from_secs(60));
    r.sim.set_stock(v, 8).unwrap();
    r.sim.set_price(a, "11.00", "").unwrap();
    let third = poller.poll().await.unwrap();
    assert_eq!(third.journaled, 4, "two products and their levels");
    let after = db.journal_since("s1", 0, 100).await.unwrap();
    let last_v = after
        .iter()
        .rev()
        .find(|e| e.kind == "inventory-level" && e.entity_id == v.to_string())
        .unwrap();
    assert_eq!(last_v.body["stock_quantity"], 8);
    // An incremental round's findings are live.
    assert!(
        after
            .iter()
            .filter(|e| e.seq > head)
            .all(|e| e.source == weft_store::Source::Poll)
    );
    // The list asked only for what changed since the watermark less the overlap.
    let q = r
        .sim
        .requests()
        .into_iter()
        .rev()
        .find(|q| q.path.ends_with("/products") && q.method == "GET")
        .unwrap();
    assert!(q.query.contains("modified_after="), "{}", q.query);
    assert!(q.query.contains("orderby=modified"), "{}", q.query);
    // A full resync reads whole again: a backfill.
    let head = after.last().unwrap().seq;
    r.sim.advance_clock(Duration::from_secs(60));
    r.sim.set_price(a, "12.00", "").unwrap();
    assert!(poller.poll_full().await.unwrap().journaled > 0);
    let resync: Vec<_> = db
        .journal_since("s1", head, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "product")
        .collect();
    assert!(!resync.is_empty());
    assert!(
        resync
            .iter()
            .all(|e| e.source == weft_store::Source::Backfill)
    );
}

#[tokio::test]
async fn a_store_synced_before_reads_live_changes_as_live() {
    let r = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let (db, poller) = poller_over(&r, &dir).await;
    // A store that synced before (with an earlier weft): its streams' watermarks.
    db.set_watermark(
        "s1",
        &weft_store::WatermarkUpdate {
            stream: "woocommerce:products".into(),
            value: json!({"modified_gmt": "2020-01-01T00:00:00Z"}),
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    r.sim.create_product(product("UP", 3)).unwrap();
    assert!(poller.poll().await.unwrap().journaled > 0);
    let entries = db.journal_since("s1", 0, 100).await.unwrap();
    assert!(
        entries.iter().all(|e| e.source == weft_store::Source::Poll),
        "an upgrade does not take live changes for a backfill's"
    );
}

#[tokio::test]
async fn a_site_with_a_lower_batch_limit_gets_calls_of_its_size() {
    let r = rig_with(SimConfig {
        batch_limit: 30,
        ..SimConfig::default()
    })
    .await;
    let ids: Vec<u64> = (0..70)
        .map(|i| {
            r.sim
                .create_product(product(&format!("L{i:02}"), 1))
                .unwrap()
        })
        .collect();
    let cmds: Vec<WriteCommand> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| stock_cmd(*id, 4, Some(1), &format!("l{i}")))
        .collect();
    let (calls, _) = write::plan(&cmds);
    assert_eq!(calls.len(), 1);
    let results = write::send(&r.client, &calls[0].input).await.unwrap();
    assert!(
        results
            .iter()
            .all(|x| matches!(x, BatchResult::Applied(o) if o.applied))
    );
    assert!(ids.iter().all(|id| r.sim.stock(*id) == Some(4)));
    let statuses: Vec<u16> = r
        .sim
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/batch"))
        .map(|q| q.status)
        .collect();
    assert_eq!(
        statuses,
        vec![413, 200, 200, 200],
        "one refusal, then calls of 30"
    );
}

#[tokio::test]
async fn reads_wait_out_a_throttling_host() {
    let r = rig_with(SimConfig {
        rate_limit: Some(weft_sim_woocommerce::RateLimit {
            burst: 2.0,
            per_second: 5.0,
            status: weft_sim_woocommerce::LimitStatus::TooMany429,
            retry_after_secs: 1,
        }),
        ..SimConfig::default()
    })
    .await;
    for i in 0..12 {
        r.sim
            .create_product(product(&format!("T{i:02}"), 1))
            .unwrap();
    }
    let mut cfg = WooConfig::new(&r.server.base_url, DEFAULT_KEY, DEFAULT_SECRET);
    cfg.per_page = 2;
    cfg.requests_per_second = 1000;
    let client = WooClient::new(cfg).unwrap();
    let all = client.list_all("products", &[]).await.unwrap();
    assert_eq!(all.len(), 12);
    assert!(
        r.sim.requests().iter().any(|q| q.status == 429),
        "the host throttled some page"
    );
}

/// A sale that lands between a stock set's read and its write (forced here by a proxy that
/// places an order just before it forwards the batch call) is not overwritten: the write sees
/// `total_sales` move and takes the sold units off again.
#[tokio::test]
async fn a_sale_between_the_read_and_the_write_is_not_overwritten() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    // The site's URL is the proxy's, so OAuth signatures made for it verify at the simulator.
    let r = rig_with(SimConfig {
        site_url: Some(proxy_url.clone()),
        ..SimConfig::default()
    })
    .await;
    let id = r.sim.create_product(product("TEE", 10)).unwrap();
    let cust = r.sim.create_customer("c@example.com", "Cy", "Do").unwrap();
    let (sim, upstream, sold) = (
        r.sim.clone(),
        r.server.base_url.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let (sim, upstream, sold) = (sim.clone(), upstream.clone(), sold.clone());
            async move {
                if method == axum::http::Method::POST
                    && uri.path().ends_with("/products/batch")
                    && !sold.swap(true, Ordering::SeqCst)
                {
                    sim.place_order(
                        cust,
                        &[OrderLine {
                            sku: "TEE".into(),
                            quantity: 2,
                        }],
                    )
                    .unwrap();
                }
                let url = format!(
                    "{upstream}{}",
                    uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
                );
                let mut req = reqwest::Client::new()
                    .request(method, url)
                    .body(body.to_vec());
                for (k, v) in &headers {
                    if k != "host" {
                        req = req.header(k, v);
                    }
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let text = resp.bytes().await.unwrap();
                (
                    status,
                    [("content-type", "application/json")],
                    text.to_vec(),
                )
            }
        },
    );
    tokio::spawn(async move { axum::serve(proxy, app).await.unwrap() });
    let mut cfg = WooConfig::new(&proxy_url, DEFAULT_KEY, DEFAULT_SECRET);
    cfg.requests_per_second = 1000;
    let client = WooClient::new(cfg).unwrap();
    let out = write::execute(&client, &stock_cmd(id, 25, Some(10), "weft-race"))
        .await
        .unwrap();
    assert!(out.applied);
    // The write set 25 over the 8 the sale left; the 2 sold are taken off again.
    assert_eq!(r.sim.stock(id), Some(23));
    let log: Vec<(String, i64)> = r
        .sim
        .stock_log()
        .into_iter()
        .filter(|c| c.product_id == id)
        .map(|c| (c.cause, c.after))
        .collect();
    assert_eq!(
        log,
        vec![
            ("merchant".to_owned(), 10),
            ("order".to_owned(), 8),
            ("api".to_owned(), 25),
            ("api".to_owned(), 23)
        ]
    );
}
