//! The whole webhook path: the simulator's callbacks to weft's real intake server (a
//! BigCommerce system whose platform value carries the hint bus), hints journaled and
//! deduplicated, the fetcher journaling the entities they name, a wrong secret refused.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_bigcommerce::poll::Journal;
use weft_bigcommerce::webhook::{SECRET_HEADER, ensure_hooks};
use weft_bigcommerce::{BcClient, BcConfig, BigCommerce, HintBus, QuotaLimiter, hint_fetcher};
use weft_platform::webhook::HINT_KIND;
use weft_server::{IntakeStore, Metrics, ServerState, WebhookSecret};
use weft_sim_bigcommerce::{BcSim, ChaosConfig, SimConfig, WebhookConfig};
use weft_store::{GroupCommitConfig, JournalWriter, Source, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_become_hints_and_hints_become_documents_once() {
    // Every callback is sent twice (same hash): the journal keeps one hint per callback.
    let sim = BcSim::new(SimConfig {
        webhooks: WebhookConfig {
            chaos: ChaosConfig {
                duplicate_rate: 1.0,
                ..ChaosConfig::default()
            },
            retry_delays: vec![Duration::from_millis(20); 2],
            ..WebhookConfig::default()
        },
        ..SimConfig::default()
    })
    .unwrap();
    let api = sim.serve_local().await.unwrap();
    let hash = sim.config().store_hash.clone();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&dir.path().join("w.sqlite").to_string_lossy())
        .await
        .unwrap();
    let bus = HintBus::new();
    let state = ServerState::new(
        db.clone(),
        JournalWriter::spawn(db.clone(), GroupCommitConfig::default()),
        vec![IntakeStore::new("acme").with_system(
            "bc",
            Arc::new(BigCommerce::with_bus(bus.clone())),
            vec![WebhookSecret::new("s3cret")],
            Some(hash.clone()),
        )],
        Arc::new(|_: &str| {}),
        Arc::new(Metrics::new()),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let weft_url = format!("http://{}", l.local_addr().unwrap());
    let app = state.app();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let client = Arc::new(
        BcClient::new(
            BcConfig::new(&api.base_url, &hash, &sim.config().tokens[0]),
            QuotaLimiter::new(weft_bigcommerce::limiter::DEFAULT_MARGIN),
        )
        .unwrap(),
    );
    let hook_url = format!("{weft_url}/webhooks/bc/acme");
    ensure_hooks(&client, &hook_url, "s3cret").await.unwrap();
    let fetcher = hint_fetcher(
        Journal::new("acme", "bc", db.clone()),
        client.clone(),
        bus.clone(),
        Duration::from_millis(100),
    );
    fetcher.start();

    let p = sim
        .create_product(
            json!({"name": "Cap", "type": "physical", "price": 5.0, "sku": "CAP",
            "inventory_tracking": "product", "inventory_level": 3}),
        )
        .unwrap();
    sim.edit_product(p, json!({"price": 6.0})).unwrap();
    sim.set_stock("CAP", 1, 9).unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let stats = sim.webhook_stats();
    assert_eq!(stats.delivered, stats.callbacks, "{stats:?}");
    assert_eq!(stats.requests, 2 * stats.callbacks, "each sent twice");

    let mut entries = Vec::new();
    for _ in 0..100 {
        entries = db.journal_since("acme", 0, 1000).await.unwrap();
        if entries
            .iter()
            .any(|e| e.kind == "inventory-level" && e.body["available"] == 9)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hints: Vec<_> = entries.iter().filter(|e| e.kind == HINT_KIND).collect();
    assert_eq!(
        hints.len() as u64,
        stats.callbacks,
        "duplicates deduplicated"
    );
    assert!(hints.iter().all(|h| h.entity_id == format!("product:{p}")));
    let product = entries
        .iter()
        .rev()
        .find(|e| e.kind == "product")
        .expect("the hinted product was fetched");
    assert_eq!(product.source, Source::Webhook);
    assert_eq!(product.body["price"], 6.0);
    assert!(
        entries.iter().any(|e| e.kind == "inventory-level"
            && e.body["available"] == 9
            && e.body["sku"] == "CAP"),
        "{entries:#?}"
    );
    // Three callbacks for one product: fetched in far fewer reads than one per callback.
    let reads = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/v3/catalog/products") && r.query.contains("id:in"))
        .count();
    assert!(
        reads < stats.callbacks as usize,
        "{reads} reads for {} callbacks",
        stats.callbacks
    );

    // A callback without the secret header, or with another value, is refused.
    let http = reqwest::Client::new();
    let body = json!({"scope": "store/product/updated", "store_id": "1", "producer": format!("stores/{hash}"),
        "data": {"type": "product", "id": p}, "hash": "x", "created_at": 1_768_478_400});
    let r = http.post(&hook_url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&hook_url)
        .header(SECRET_HEADER, "wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // From another store: kept as malformed (400), never fetched.
    let other = json!({"scope": "store/product/updated", "store_id": "1", "producer": "stores/other",
        "data": {"type": "product", "id": p}, "hash": "y", "created_at": 1_768_478_400});
    let r = http
        .post(&hook_url)
        .header(SECRET_HEADER, "s3cret")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The merchant deletes the product: `store/product/deleted` names it and nothing else, and
    // becomes a tombstone of it (sent twice, journaled once), with no hint to fetch.
    let hints_before = bus.received();
    sim.delete_product(p).unwrap();
    assert!(sim.wait_webhooks_idle(Duration::from_secs(5)).await);
    let log = sim.webhook_log();
    let last = log.last().expect("a callback");
    assert_eq!(last.scope, "store/product/deleted");
    let mut tombs = Vec::new();
    for _ in 0..100 {
        tombs = db
            .journal_since("acme", 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| weft_platform::webhook::is_tombstone(&e.body))
            .collect::<Vec<_>>();
        if !tombs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tombs.len(), 1, "{tombs:#?}");
    assert_eq!(tombs[0].kind, "product");
    assert_eq!(tombs[0].entity_id, p.to_string());
    assert_eq!(tombs[0].source, Source::Webhook);
    assert!(tombs[0].version.ends_with('Z'), "{}", tombs[0].version);
    assert!(weft_platform::Platform::is_deletion(
        &BigCommerce::default(),
        &tombs[0].kind,
        &tombs[0].body
    ));
    assert_eq!(bus.received(), hints_before, "a deletion is no hint");
}
