//! Magento sends nothing when a product or customer is deleted, and a deleted one is in no
//! listing: a full read journals a tombstone for each product and customer weft held that it
//! no longer lists (an incremental round cannot tell), versioned by weft's clock without
//! moving the watermark.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_magento::poll::{Journal, LevelClock, MgChangeCapture};
use weft_magento::{Magento, MgClient, MgConfig};
use weft_platform::webhook::is_tombstone;
use weft_platform::{Platform, Poller};
use weft_sim_magento::{DEFAULT_TOKEN, MagentoSim, SimConfig};
use weft_store::{EntityStateUpsert, StepCommit, Store};

const STORE: &str = "acme";

#[tokio::test]
async fn a_full_read_journals_a_tombstone_for_a_product_or_customer_magento_no_longer_lists() {
    let sim = MagentoSim::new(SimConfig::default());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(l).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    for sku in ["M1", "M2", "M3"] {
        sim.save_product(
            json!({"sku": sku, "name": format!("Product {sku}"), "price": 10.0,
            "type_id": "simple", "attribute_set_id": 4, "status": 1}),
        )
        .unwrap();
    }
    let ann = sim
        .save_customer(json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    sim.save_customer(json!({"email": "bo@example.com", "firstname": "Bo", "lastname": "Ng"}))
        .unwrap();
    let client =
        Arc::new(MgClient::new(MgConfig::new(&handle.base_url, "default", DEFAULT_TOKEN)).unwrap());
    let capture = MgChangeCapture::new(
        Journal {
            store_id: STORE.into(),
            system: "magento".into(),
            db: db.clone(),
        },
        client,
        Arc::new(LevelClock::default()),
        Duration::from_secs(5),
    );
    capture.poll().await.unwrap();
    // What the processing step records of the products it read.
    let entries = db.journal_since(STORE, 0, 1000).await.unwrap();
    let mut step = StepCommit::new(STORE, chrono::Utc::now());
    for e in entries
        .iter()
        .filter(|e| e.kind == "product" || e.kind == "customer")
    {
        step.entity_states.push(EntityStateUpsert {
            system: e.system.clone(),
            kind: e.kind.clone(),
            entity_id: e.entity_id.clone(),
            version: e.version.clone(),
            body: e.body.clone(),
            canonical_key: None,
            journal_seq: e.seq,
        });
    }
    assert_eq!(step.entity_states.len(), 5);
    db.commit_step(&step).await.unwrap();
    let head = entries.last().unwrap().seq;
    let gone = entries
        .iter()
        .find(|e| e.kind == "product" && e.body["sku"] == "M2")
        .unwrap()
        .entity_id
        .clone();
    let mark = db.watermark(STORE, "magento:products").await.unwrap();

    assert!(sim.delete_product("M2"));
    assert!(sim.product("M2").is_none());
    assert!(sim.delete_customer(ann));
    // An incremental round lists what changed: a deleted product is not among it.
    capture.poll().await.unwrap();
    let tombs = |all: Vec<weft_store::JournalEntry>| -> Vec<weft_store::JournalEntry> {
        all.into_iter().filter(|e| is_tombstone(&e.body)).collect()
    };
    assert!(tombs(db.journal_since(STORE, head, 1000).await.unwrap()).is_empty());
    // A full read lists every product: the one gone is journaled as deleted.
    capture.poll_full().await.unwrap();
    let t = tombs(db.journal_since(STORE, head, 1000).await.unwrap());
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(t[0].kind, "product");
    assert_eq!(t[0].entity_id, gone);
    assert_eq!(t[1].kind, "customer");
    assert_eq!(t[1].entity_id, ann.to_string());
    for e in &t {
        assert_eq!(e.source, weft_store::Source::Poll);
        assert!(Magento.is_deletion(&e.kind, &e.body));
    }
    // Another full read before the processing step reached them journals nothing more.
    capture.poll_full().await.unwrap();
    assert_eq!(
        tombs(db.journal_since(STORE, head, 1000).await.unwrap()).len(),
        2
    );
    assert_eq!(
        db.watermark(STORE, "magento:products").await.unwrap(),
        mark,
        "weft's clock never moves Magento's watermark"
    );
    handle.shutdown().await;
}
