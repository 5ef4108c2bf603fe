//! NetSuite pushes end to end: the simulator runs the push script on its saves, weft's real
//! intake server verifies and journals the notifications as hints, the connection's fetcher
//! reads what they name (a burst for one record once), change capture catches what the chaos
//! lost; a bad signature is refused, a rotated secret accepted, an unreachable weft blocks no
//! save; and the script's own JavaScript, run in Node with stand-ins for the `N/` modules,
//! signs what the intake verifies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_netsuite::{
    Credentials, NetSuiteClient, NetSuiteConfig, NetSuiteConnection, NetSuiteWithPush, PushSettings,
};
use weft_platform::gate::ConcurrencyGovernor;
use weft_platform::hints::HintBus;
use weft_platform::webhook::HINT_KIND;
use weft_platform::{Connection as _, Poller, SourceCtx};
use weft_server::{IntakeStore, Metrics, ServerState, WebhookSecret};
use weft_sim_netsuite::{NetSuiteSim, PushConfig, RecordType, SimConfig};
use weft_store::{GroupCommitConfig, JournalWriter, Source, Store};

const STORE: &str = "acme";
const SYSTEM: &str = "netsuite";

struct World {
    sim: NetSuiteSim,
    _ns: weft_sim_netsuite::SimServer,
    db: Store,
    _dir: tempfile::TempDir,
    hook_url: String,
    sources: Vec<Arc<dyn Poller>>,
}

/// A simulator, weft's intake accepting `secrets` for a NetSuite system with pushes, and the
/// connection's change sources (change capture, then the hint fetcher, started).
async fn world(seed: u64, secrets: &[&str]) -> World {
    let sim = NetSuiteSim::new(SimConfig::new(seed)).unwrap();
    let ns = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();
    let c = sim.credentials()[0].clone();
    let creds = Credentials {
        account_id: c.realm,
        consumer_key: c.consumer_key,
        consumer_secret: c.consumer_secret,
        token_id: c.token_id,
        token_secret: c.token_secret,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&dir.path().join("w.sqlite").to_string_lossy())
        .await
        .unwrap();
    let bus = HintBus::new();
    let state = ServerState::new(
        db.clone(),
        JournalWriter::spawn(db.clone(), GroupCommitConfig::default()),
        vec![IntakeStore::new(STORE).with_system(
            SYSTEM,
            Arc::new(NetSuiteWithPush::new(bus.clone())),
            secrets.iter().map(|s| WebhookSecret::new(*s)).collect(),
            Some(creds.account_id.clone()),
        )],
        Arc::new(|_: &str| {}),
        Arc::new(Metrics::new()),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!(
        "http://{}/webhooks/{SYSTEM}/{STORE}",
        l.local_addr().unwrap()
    );
    let app = state.app();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let client = NetSuiteClient::new(
        NetSuiteConfig::new(ns.base_url(), creds.clone()),
        ConcurrencyGovernor::new(creds.account_id.clone(), 4),
        STORE,
    )
    .unwrap();
    let mut push = PushSettings::new(bus);
    push.gather = Duration::from_millis(150);
    let conn = NetSuiteConnection::new(Arc::new(client)).with_push(push);
    let sources = conn.change_sources(&SourceCtx {
        store_id: STORE.into(),
        system: SYSTEM.into(),
        db: db.clone(),
        overlap: Duration::from_secs(5),
        webhook_url: None,
    });
    assert_eq!(sources.len(), 2, "change capture and the hint fetcher");
    World {
        sim,
        _ns: ns,
        db,
        _dir: dir,
        hook_url,
        sources,
    }
}

fn item(sim: &NetSuiteSim, sku: &str, price: f64) -> String {
    sim.erp_create(
        RecordType::InventoryItem,
        json!({"itemId": sku, "displayName": sku, "basePrice": price, "externalId": format!("item-{sku}")}),
    )
    .unwrap()
}

/// Waits until `f` holds of the journal (or 10 s).
async fn journal_until(
    db: &Store,
    f: impl Fn(&[weft_store::JournalEntry]) -> bool,
) -> Vec<weft_store::JournalEntry> {
    let mut entries = Vec::new();
    for _ in 0..200 {
        entries = db.journal_since(STORE, 0, 100_000).await.unwrap();
        if f(&entries) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    entries
}

/// The newest journaled body of each `kind` entity (by version as the engine compares them;
/// a tie goes to the later entry).
fn latest(entries: &[weft_store::JournalEntry], kind: &str) -> BTreeMap<String, Value> {
    use weft_platform::version::Version;
    let mut out: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == kind) {
        let newer = out.get(&e.entity_id).is_none_or(|(v, _)| {
            Version::parse(v).compare(&Version::parse(&e.version))
                != Some(std::cmp::Ordering::Greater)
        });
        if newer {
            out.insert(e.entity_id.clone(), (e.version.clone(), e.body.clone()));
        }
    }
    out.into_iter().map(|(k, (_, b))| (k, b)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_become_hints_and_a_burst_fetches_the_record_once() {
    let w = world(1, &["s3cret"]).await;
    w.sim.push_to(PushConfig::new(&w.hook_url, "s3cret"));
    let id = item(&w.sim, "CAP", 5.0);
    for price in [6.0, 7.0, 8.0, 9.0] {
        w.sim
            .erp_update(RecordType::InventoryItem, &id, json!({"basePrice": price}))
            .unwrap();
    }
    w.sim
        .erp_adjust_inventory(&id, "1", 12.0, Some("receipt"))
        .unwrap();
    let entries = journal_until(&w.db, |es| {
        es.iter().any(|e| {
            e.kind == "inventory-level"
                && e.source == Source::Webhook
                && e.body["quantity_on_hand"] == 12
        }) && es
            .iter()
            .any(|e| e.kind == "variant" && e.body["basePrice"] == 9.0)
    })
    .await;
    let stats = w.sim.push_stats();
    assert_eq!(stats.saves, 6, "{stats:?}");
    assert_eq!(stats.delivered, 6, "{stats:?}");
    let hints: Vec<_> = entries.iter().filter(|e| e.kind == HINT_KIND).collect();
    assert_eq!(hints.len(), 6, "one hint per save");
    assert!(hints.iter().all(|h| h.delivery_id.is_some()));
    let variant = entries
        .iter()
        .rev()
        .find(|e| e.kind == "variant")
        .expect("the hinted item was fetched");
    assert_eq!(variant.source, Source::Webhook);
    assert_eq!(variant.body["basePrice"], 9.0);
    assert!(
        entries.iter().any(|e| e.kind == "inventory-level"
            && e.source == Source::Webhook
            && e.body["quantity_on_hand"] == 12
            && e.body["sku"] == "CAP"),
        "the adjustment's hint fetched the item's stock: {entries:#?}"
    );
    // Five saves of the item within the gathering delay: far fewer reads than saves.
    let reads = w
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "GET" && r.uri.contains(&format!("/inventoryItem/{id}")))
        .count();
    assert!(reads <= 2, "{reads} reads of the item for 5 saves");

    // A duplicate (same delivery id) is acknowledged and journaled once.
    let dup = hints[0].clone();
    let body = dup.body.to_string();
    let http = reqwest::Client::new();
    let sig = weft_platform::signature::sign(b"s3cret", body.as_bytes());
    let r = http
        .post(&w.hook_url)
        .header("x-weft-signature", &sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = w.db.journal_since(STORE, 0, 100_000).await.unwrap();
    assert_eq!(
        after.iter().filter(|e| e.kind == HINT_KIND).count(),
        6,
        "the duplicate deduped by its delivery id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_are_refused_and_a_rotated_secret_is_accepted() {
    // weft accepts the new secret and, during the rotation, the old one.
    let w = world(2, &["new-secret", "old-secret"]).await;
    w.sim.push_to(PushConfig::new(&w.hook_url, "old-secret"));
    // The script signs when it runs: each save's post is made before the secret changes.
    let posted = |n: u64| {
        let sim = w.sim.clone();
        async move {
            for _ in 0..200 {
                let s = sim.push_stats();
                if s.delivered + s.failed >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("the push of save {n} was not posted");
        }
    };
    let a = item(&w.sim, "OLD", 1.0);
    posted(1).await;
    w.sim.set_push_secret("new-secret");
    let b = item(&w.sim, "NEW", 1.0);
    posted(2).await;
    w.sim.set_push_secret("someone-else");
    let c = item(&w.sim, "BAD", 1.0);
    posted(3).await;
    let entries = journal_until(&w.db, |es| {
        es.iter().filter(|e| e.kind == HINT_KIND).count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = w.sim.push_stats();
    assert_eq!((stats.delivered, stats.failed), (2, 1), "{stats:?}");
    let hinted: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == HINT_KIND)
        .map(|e| e.entity_id.clone())
        .collect();
    assert_eq!(
        hinted,
        vec![format!("inventoryitem:{a}"), format!("inventoryitem:{b}")],
        "the old and the new secret verify; another does not"
    );
    assert!(!hinted.contains(&format!("inventoryitem:{c}")));

    // Refused with 401 and nothing kept: unsigned, wrong secret, tampered body.
    let http = reqwest::Client::new();
    let body = json!({"account": w.sim.account_id(), "recordType": "inventoryitem", "id": c,
        "event": "edit", "lastModifiedDate": "2026-01-15T12:00:00.000Z", "deliveryId": "x-1"})
    .to_string();
    let post = |sig: Option<String>, body: String| {
        let mut r = http.post(&w.hook_url).body(body);
        if let Some(s) = sig {
            r = r.header("x-weft-signature", s);
        }
        r.send()
    };
    assert_eq!(post(None, body.clone()).await.unwrap().status(), 401);
    let wrong = weft_platform::signature::sign(b"guess", body.as_bytes());
    assert_eq!(post(Some(wrong), body.clone()).await.unwrap().status(), 401);
    let good = weft_platform::signature::sign(b"new-secret", body.as_bytes());
    let tampered = body.replace("\"edit\"", "\"delete\"");
    assert_eq!(
        post(Some(good.clone()), tampered).await.unwrap().status(),
        401
    );
    // Signed but from another account: 400 (kept for inspection, never journaled).
    let foreign = body.replace(w.sim.account_id(), "999999");
    let sig = weft_platform::signature::sign(b"new-secret", foreign.as_bytes());
    assert_eq!(post(Some(sig), foreign).await.unwrap().status(), 400);
    assert_eq!(post(Some(good), body).await.unwrap().status(), 200);
    let after = w.db.journal_since(STORE, 0, 100_000).await.unwrap();
    assert_eq!(after.iter().filter(|e| e.kind == HINT_KIND).count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_weft_never_blocks_a_save() {
    let sim = NetSuiteSim::new(SimConfig::new(3)).unwrap();
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks/netsuite/acme", l.local_addr().unwrap());
    drop(l);
    sim.push_to(PushConfig::new(url, "s"));
    let started = Instant::now();
    for i in 0..20 {
        item(&sim, &format!("U{i}"), 1.0);
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "20 saves took {:?}",
        started.elapsed()
    );
    for _ in 0..100 {
        if sim.push_stats().failed == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = sim.push_stats();
    assert_eq!((stats.saves, stats.failed, stats.delivered), (20, 20, 0));
    assert_eq!(
        sim.records(RecordType::InventoryItem).len(),
        20,
        "every save stands"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_duplicated_and_reordered_pushes_converge_with_change_capture() {
    let w = world(4, &["s"]).await;
    w.sim.push_to(PushConfig {
        drop_rate: 0.3,
        duplicate_rate: 0.3,
        reorder_window_ms: 300,
        delay_ms: 5,
        ..PushConfig::new(&w.hook_url, "s")
    });
    // First contact by change capture, as weft starts.
    let ids: Vec<String> = (0..10)
        .map(|i| item(&w.sim, &format!("C{i}"), 1.0))
        .collect();
    w.sources[0].poll().await.unwrap();
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    let mut rng = 7u64;
    for round in 0..60 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = &ids[(rng >> 33) as usize % ids.len()];
        let price = 2.0 + round as f64;
        w.sim
            .erp_update(RecordType::InventoryItem, id, json!({"basePrice": price}))
            .unwrap();
        if round % 7 == 0 {
            w.sim
                .erp_adjust_inventory(id, "1", 1.0, Some("receipt"))
                .unwrap();
        }
        expected.insert(id.clone(), price);
        w.sim.advance_clock(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // Let every push land (the longest hold-back is 300 ms) and the fetcher drain them.
    tokio::time::sleep(Duration::from_millis(900)).await;
    w.sources[1].poll().await.unwrap();
    // Then every push is lost for a while: only change capture can tell.
    w.sim.push_to(PushConfig {
        drop_rate: 1.0,
        ..PushConfig::new(&w.hook_url, "s")
    });
    for (k, id) in ids.iter().take(3).enumerate() {
        let price = 500.0 + k as f64;
        w.sim
            .erp_update(RecordType::InventoryItem, id, json!({"basePrice": price}))
            .unwrap();
        expected.insert(id.clone(), price);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.sources[1].poll().await.unwrap();
    let stats = w.sim.push_stats();
    assert!(
        stats.dropped > 0 && stats.duplicated > 0 && stats.reordered > 0,
        "{stats:?}"
    );
    let entries = w.db.journal_since(STORE, 0, 100_000).await.unwrap();
    let pushed = latest(&entries, "variant");
    let stale_after_push = ids
        .iter()
        .filter(|id| {
            pushed.get(*id).and_then(|b| b["basePrice"].as_f64()) != expected.get(*id).copied()
        })
        .count();
    // The safety net: one change-capture round reads whatever the pushes lost.
    let recovered = |c: &BTreeMap<String, i64>| c.get("recovered_push").copied().unwrap_or(0);
    let before = recovered(&w.db.status(STORE).await.unwrap().counters);
    let report = w.sources[0].poll().await.unwrap();
    let entries = w.db.journal_since(STORE, 0, 100_000).await.unwrap();
    let now = latest(&entries, "variant");
    let mut drift = 0;
    for (id, price) in &expected {
        if now.get(id).and_then(|b| b["basePrice"].as_f64()) != Some(*price) {
            drift += 1;
        }
    }
    // Stock: every level journaled equals the simulator's on hand.
    let levels = latest(&entries, "inventory-level");
    for id in &ids {
        let on_hand = w.sim.on_hand(id, "1");
        let got = levels
            .get(&format!("{id}@1"))
            .and_then(|b| b["quantity_on_hand"].as_f64())
            .unwrap_or(0.0);
        if (got - on_hand).abs() > f64::EPSILON {
            drift += 1;
        }
    }
    let counters = w.db.status(STORE).await.unwrap().counters;
    eprintln!(
        "pushes {stats:?}; records stale after the pushes alone: {stale_after_push}; change capture journaled {} (recovered_push {:?}); drift {drift}",
        report.journaled,
        counters.get("recovered_push")
    );
    assert_eq!(drift, 0);
    assert!(stale_after_push >= 3, "the lost pushes left records behind");
    assert!(report.journaled > 0);
    assert_eq!(
        recovered(&counters) - before,
        report.journaled as i64,
        "what polling recovered is counted"
    );
}

/// The script's JavaScript, run in Node against the real intake: its signature verifies,
/// its body parses into a hint. Skipped (with a message) when `node` is not installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripts_signature_is_what_the_intake_verifies() {
    let Ok(out) = std::process::Command::new("node").arg("--version").output() else {
        eprintln!("SKIPPED: node is not installed; the script's JavaScript was not run");
        return;
    };
    assert!(out.status.success());
    let w = world(5, &["api-secret-value"]).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suitescript");
    let spec = json!({
        "script": dir.join("weft_push.js"),
        "url": w.hook_url,
        "secretId": "custsecret_weft_push",
        "apiSecrets": {"custsecret_weft_push": "api-secret-value", "custsecret_other": "nope"},
        "accountId": w.sim.account_id(),
        "cases": [
            {"type": "edit", "recordType": "inventoryitem", "id": "1001", "lastModifiedDate": "2026-01-15T12:00:00Z"},
            {"type": "xedit", "recordType": "salesorder", "id": "9001"},
            {"type": "delete", "recordType": "customer", "id": "301"},
            {"type": "create", "recordType": "itemfulfillment", "id": "9002", "lastModifiedDate": "2026-01-15T12:00:01Z"},
            {"type": "view", "recordType": "inventoryitem", "id": "1001"},
        ],
    });
    let tmp = tempfile::tempdir().unwrap();
    let spec_path = tmp.path().join("cases.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    fn run(dir: &std::path::Path, spec_path: &std::path::Path) -> Vec<Value> {
        let out = std::process::Command::new("node")
            .arg(dir.join("test/harness.js"))
            .arg(spec_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    }
    let d = dir.clone();
    let results = tokio::task::spawn_blocking(move || run(&d, &spec_path))
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    for r in &results[..4] {
        assert_eq!(r["threw"], Value::Null, "{r}");
        assert_eq!(r["posted"].as_array().unwrap().len(), 1, "{r}");
        assert!(r["logs"].as_array().unwrap().is_empty(), "accepted: {r}");
    }
    assert!(
        results[4]["posted"].as_array().unwrap().is_empty(),
        "view posts nothing"
    );
    let entries = journal_until(&w.db, |es| {
        es.iter().filter(|e| e.kind == HINT_KIND).count() >= 3
            && es.iter().any(|e| e.kind == "customer")
    })
    .await;
    let hints: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == HINT_KIND)
        .map(|e| {
            (
                e.entity_id.as_str(),
                e.body["event"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        hints,
        vec![
            ("inventoryitem:1001", "edit"),
            ("salesorder:9001", "xedit"),
            ("itemfulfillment:9002", "create"),
        ]
    );
    // The deleted customer has nothing to fetch: it is journaled as a tombstone at once.
    let deleted: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "customer")
        .map(|e| (e.entity_id.as_str(), e.body.clone()))
        .collect();
    assert_eq!(
        deleted,
        vec![("301", weft_platform::webhook::tombstone("301"))],
        "{entries:#?}"
    );
    let first = entries.iter().find(|e| e.kind == HINT_KIND).unwrap();
    assert_eq!(first.version, "2026-01-15T12:00:00Z");

    // The script signing with another API secret is refused, and the save is untouched
    // (the script logs and returns).
    let mut spec = spec;
    spec["secretId"] = json!("custsecret_other");
    spec["cases"] = json!([{"type": "edit", "recordType": "customer", "id": "302"}]);
    let spec_path = tmp.path().join("bad.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let results = tokio::task::spawn_blocking(move || run(&dir, &spec_path))
        .await
        .unwrap();
    assert_eq!(results[0]["threw"], Value::Null);
    let log = results[0]["logs"].to_string();
    assert!(
        log.contains("weft push refused") && log.contains("HTTP 401"),
        "{log}"
    );
}

/// ERP save to weft's journal holding the change (the leg pushes shorten; the rest of the path
/// to the storefront is the same with or without them), with pushes and with change capture
/// alone polling every 2 s (a scaled-down interval: polling's lag is the wait for the next
/// round, so it scales with the interval). Prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_change_to_journal_lag_with_pushes_and_polling_only() {
    const CHANGES: usize = 20;
    const INTERVAL: Duration = Duration::from_secs(2);
    async fn measure(push: bool) -> Vec<f64> {
        let w = world(if push { 6 } else { 7 }, &["s"]).await;
        let ids: Vec<String> = (0..CHANGES)
            .map(|i| item(&w.sim, &format!("L{i}"), 1.0))
            .collect();
        w.sources[0].poll().await.unwrap();
        if push {
            w.sources[1].poll().await.unwrap();
            w.sim.push_to(PushConfig::new(&w.hook_url, "s"));
        }
        // Polling only: change capture on its interval, as the runner calls it.
        let cdc = w.sources[0].clone();
        let poller = (!push).then(|| {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(INTERVAL).await;
                    let _ = cdc.poll().await;
                }
            })
        });
        let mut lags = Vec::new();
        let spacing = INTERVAL.mul_f64(2.0) / CHANGES as u32;
        let mut watchers = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let price = 10.0 + i as f64;
            w.sim.advance_clock(Duration::from_secs(1));
            w.sim
                .erp_update(RecordType::InventoryItem, id, json!({"basePrice": price}))
                .unwrap();
            let saved = Instant::now();
            let (db, id) = (w.db.clone(), id.clone());
            watchers.push(tokio::spawn(async move {
                loop {
                    let es = db.journal_since(STORE, 0, 100_000).await.unwrap();
                    if es.iter().any(|e| {
                        e.kind == "variant" && e.entity_id == id && e.body["basePrice"] == price
                    }) {
                        return saved.elapsed().as_secs_f64() * 1000.0;
                    }
                    assert!(
                        saved.elapsed() < Duration::from_secs(20),
                        "{id} never journaled"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
            tokio::time::sleep(spacing).await;
        }
        for wt in watchers {
            lags.push(wt.await.unwrap());
        }
        if let Some(p) = poller {
            p.abort();
        }
        lags.sort_by(f64::total_cmp);
        lags
    }
    let pct = |v: &[f64], p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    let pushed = measure(true).await;
    let polled = measure(false).await;
    eprintln!(
        "ERP save -> journaled, {CHANGES} changes: pushes p50 {:.0} ms p99 {:.0} ms; polling only every {INTERVAL:?}: p50 {:.0} ms p99 {:.0} ms",
        pct(&pushed, 0.5),
        pct(&pushed, 0.99),
        pct(&polled, 0.5),
        pct(&polled, 0.99)
    );
    assert!(
        pct(&pushed, 0.5) < pct(&polled, 0.5),
        "pushes must beat polling: {pushed:?} vs {polled:?}"
    );
    assert!(pct(&pushed, 0.99) < 1_000.0, "{pushed:?}");
}
