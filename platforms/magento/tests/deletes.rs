//! Deletes, both ways.
//!
//! Magento sends nothing when a product or customer is deleted, and a deleted one is in no
//! listing: a full read journals a tombstone for each product and customer weft held that it
//! no longer lists (an incremental round cannot tell), versioned by weft's clock without
//! moving the watermark.
//!
//! weft's own deletes (the `delete` policy): a variant (a simple product) by
//! `DELETE /V1/products/{sku}` after finding it by its id, a customer by
//! `DELETE /V1/customers/{id}`, one request each; the outcome is the record's tombstone with
//! the id and shape the change capture journals, so the dispatcher's journal entry of it is the
//! one a later full read would have made (and that read journals nothing more); a record gone
//! already is a success that sends no delete.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weft_engine::{Dispatcher, Systems};
use weft_magento::poll::{Journal, LevelClock, MgChangeCapture};
use weft_magento::{BulkSettings, Magento, MagentoConnection, MgClient, MgConfig};
use weft_platform::webhook::{is_tombstone, tombstone};
use weft_platform::{
    Connection, ConnectorError, EntityKind, Platform, Poller, WriteCommand, WriteOp,
};
use weft_ratelimit::{Backoff, BackoffConfig};
use weft_sim_magento::{DEFAULT_TOKEN, MagentoSim, OrderLine, SimConfig, SimHandle};
use weft_store::{EntityStateUpsert, NewOutboxRow, OutboxStatus, StepCommit, Store};

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

struct Rig {
    sim: MagentoSim,
    handle: SimHandle,
    db: Store,
    _dir: tempfile::TempDir,
    conn: Arc<MagentoConnection>,
    capture: MgChangeCapture,
}

async fn rig(config: SimConfig) -> Rig {
    let sim = MagentoSim::new(config);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(l).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("w.db").display()
    ))
    .await
    .unwrap();
    let client =
        Arc::new(MgClient::new(MgConfig::new(&handle.base_url, "default", DEFAULT_TOKEN)).unwrap());
    let conn = Arc::new(MagentoConnection::new(
        client.clone(),
        BulkSettings::default(),
    ));
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
    Rig {
        sim,
        handle,
        db,
        _dir: dir,
        conn,
        capture,
    }
}

/// A full read journaled and recorded as what weft holds (what the processing step records).
async fn read_and_hold(r: &Rig) {
    r.capture.poll_full().await.unwrap();
    let entries = r.db.journal_since(STORE, 0, 1000).await.unwrap();
    let mut step = StepCommit::new(STORE, Utc::now());
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
    r.db.commit_step(&step).await.unwrap();
}

/// The journal id of the product with `sku` (as the change capture journaled it).
async fn product_id(db: &Store, sku: &str) -> String {
    db.journal_since(STORE, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "product" && e.body["sku"] == sku)
        .unwrap()
        .entity_id
}

fn delete_cmd(kind: EntityKind, target: &str, body: Value) -> WriteCommand {
    WriteCommand {
        system: "magento".into(),
        kind,
        op: WriteOp::Delete,
        target_id: Some(target.into()),
        external_id: None,
        body,
        idempotency_key: format!("del-{kind}-{target}"),
        expected_quantity: None,
    }
}

fn delete_row(kind: &str, key: &str, target: &str, body: Value) -> NewOutboxRow {
    NewOutboxRow {
        system: "magento".into(),
        kind: kind.into(),
        key: key.into(),
        op: "delete".into(),
        idempotency_key: format!("t-delete-{kind}-{key}"),
        body: json!({"system": "magento", "kind": kind, "op": "delete", "target_id": target,
            "external_id": null, "body": body, "desired": {}}),
        priority: 20,
        coalesce: false,
        resend_may_apply: false,
    }
}

fn dispatcher(r: &Rig) -> Dispatcher {
    let systems = Systems::new(vec![weft_engine::System {
        name: "magento".into(),
        platform: Arc::new(Magento),
        connection: Some(r.conn.clone()),
    }]);
    let backoff = Arc::new(Backoff::seeded(
        BackoffConfig {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            max_retries: 3,
        },
        7,
    ));
    Dispatcher::new(STORE, r.db.clone(), systems, backoff)
}

fn at(v: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v).unwrap().with_timezone(&Utc)
}

/// The DELETE requests the simulator answered: (path, status).
fn deletes(sim: &MagentoSim) -> Vec<(String, u16)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.path, r.status))
        .collect()
}

/// Tombstones journaled after `seq`.
async fn tombs_after(db: &Store, seq: i64) -> Vec<weft_store::JournalEntry> {
    db.journal_since(STORE, seq, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| is_tombstone(&e.body))
        .collect()
}

#[tokio::test]
async fn deleting_a_variant_removes_its_simple_product_alone_and_answers_its_tombstone() {
    let r = rig(SimConfig::default()).await;
    // A family of three sizes in the other systems: three simple products in Magento.
    for sku in ["TEE-S", "TEE-M", "TEE-L"] {
        r.sim
            .save_product(json!({"sku": sku, "name": format!("Tee {sku}"), "price": 20.0}))
            .unwrap();
        r.sim.set_stock(sku, "default", 5.0).unwrap();
    }
    read_and_hold(&r).await;
    let id = product_id(&r.db, "TEE-M").await;
    let before = Utc::now();

    let cmd = delete_cmd(EntityKind::Variant, &id, json!({"sku": "TEE-M"}));
    assert_eq!(r.conn.batch_size(&cmd), None, "deletes go one by one");
    let out = r.conn.execute(&cmd).await.unwrap();
    assert!(out.applied);
    assert!(!out.created);
    assert!(out.children.is_empty());
    assert_eq!(out.target_id, id);
    // The product's tombstone, under the id its documents are journaled under.
    let doc = out.document.clone().unwrap();
    assert_eq!(doc, tombstone(&id));
    assert!(Magento.is_deletion("product", &doc));
    assert_eq!(
        Magento.document_kind(EntityKind::Variant),
        EntityKind::Product
    );
    // Versioned by weft's clock (the simulator's, 2026-01-15, is behind it).
    let v = at(out.version.as_deref().unwrap());
    assert!(
        v >= before && v <= Utc::now() + chrono::Duration::seconds(1),
        "{v}"
    );

    // Magento: the product and its source items are gone; its siblings are untouched.
    assert!(r.sim.product("TEE-M").is_none());
    assert_eq!(r.sim.stock("TEE-M", "default"), None);
    for sku in ["TEE-S", "TEE-L"] {
        assert_eq!(r.sim.product(sku).unwrap()["price"], 20.0);
        assert_eq!(r.sim.stock(sku, "default"), Some(5.0));
    }
    assert_eq!(
        deletes(&r.sim),
        vec![("/rest/default/V1/products/TEE%2DM".to_owned(), 200)],
        "one DELETE, by the SKU (percent-encoded)"
    );

    // Deleted again (a resend, or it was gone already): a success that sends no delete.
    let again = r.conn.execute(&cmd).await.unwrap();
    assert!(again.applied);
    assert_eq!(again.document, Some(tombstone(&id)));
    assert_eq!(deletes(&r.sim).len(), 1);
    r.handle.shutdown().await;
}

#[tokio::test]
async fn deleting_the_last_product_and_a_customer_through_the_dispatcher_journals_what_a_full_read_would()
 {
    let r = rig(SimConfig::default()).await;
    r.sim
        .save_product(json!({"sku": "SOLO", "name": "Solo", "price": 9.0}))
        .unwrap();
    let ann = r
        .sim
        .save_customer(json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    r.sim
        .place_order(
            "ann@example.com",
            &[OrderLine {
                sku: "SOLO".into(),
                qty: 1,
            }],
            "default",
        )
        .unwrap();
    read_and_hold(&r).await;
    let id = product_id(&r.db, "SOLO").await;
    let head =
        r.db.journal_since(STORE, 0, 1000)
            .await
            .unwrap()
            .last()
            .unwrap()
            .seq;

    let mut step = StepCommit::new(STORE, Utc::now());
    step.outbox = vec![
        delete_row("variant", "SOLO", &id, json!({"sku": "SOLO"})),
        delete_row("customer", &ann.to_string(), &ann.to_string(), json!({})),
    ];
    r.db.commit_step(&step).await.unwrap();
    let d = dispatcher(&r);
    let report = d.run_once().await.unwrap();
    assert_eq!(report.applied, 2, "{report:?}");
    let done =
        r.db.list_outbox(Some(STORE), Some(OutboxStatus::Done), 100)
            .await
            .unwrap();
    assert_eq!(done.len(), 2);

    // Magento no longer holds them; the customer's order stays, without its customer.
    assert!(r.sim.product("SOLO").is_none());
    assert!(r.sim.customer(ann).is_none());
    let orders = r.sim.state()["orders"].clone();
    assert_eq!(orders[0]["customer_id"], Value::Null);
    let mut sent = deletes(&r.sim);
    sent.sort();
    assert_eq!(
        sent,
        vec![
            (format!("/rest/default/V1/customers/{ann}"), 200),
            ("/rest/default/V1/products/SOLO".to_owned(), 200),
        ]
    );

    // The dispatcher journaled each answer as Magento's observation: the tombstone of the
    // product and of the customer, under the ids their documents have.
    let t = tombs_after(&r.db, head).await;
    assert_eq!(t.len(), 2, "{t:#?}");
    let product = t.iter().find(|e| e.kind == "product").unwrap();
    assert_eq!(product.entity_id, id);
    assert_eq!(product.body, tombstone(&id));
    let customer = t.iter().find(|e| e.kind == "customer").unwrap();
    assert_eq!(customer.entity_id, ann.to_string());
    assert_eq!(customer.body, tombstone(&ann.to_string()));
    for e in &t {
        assert!(Magento.is_deletion(&e.kind, &e.body));
    }

    // A full read finds both gone and journals nothing more: the dispatcher's entries are the
    // very tombstones it would have journaled.
    r.capture.poll_full().await.unwrap();
    assert_eq!(tombs_after(&r.db, head).await.len(), 2);
    r.handle.shutdown().await;
}

#[tokio::test]
async fn a_record_gone_already_is_deleted_and_a_product_that_took_its_sku_is_kept() {
    let r = rig(SimConfig::default()).await;
    r.sim
        .save_product(json!({"sku": "OLD", "name": "Old", "price": 1.0}))
        .unwrap();
    let bo = r
        .sim
        .save_customer(json!({"email": "bo@example.com", "firstname": "Bo", "lastname": "Ng"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    read_and_hold(&r).await;
    let old = product_id(&r.db, "OLD").await;
    // The merchant deleted both in Magento, then made a new product under the same SKU.
    assert!(r.sim.delete_product("OLD"));
    assert!(r.sim.delete_customer(bo));
    let new = r
        .sim
        .save_product(json!({"sku": "OLD", "name": "New", "price": 2.0}))
        .unwrap();
    assert_ne!(new["id"].to_string(), old);

    let out = r
        .conn
        .execute(&delete_cmd(
            EntityKind::Variant,
            &old,
            json!({"sku": "OLD"}),
        ))
        .await
        .unwrap();
    assert!(out.applied);
    assert_eq!(out.document, Some(tombstone(&old)));
    assert_eq!(
        r.sim.product("OLD").unwrap()["name"],
        "New",
        "the product that took the SKU is another record: kept"
    );
    let out = r
        .conn
        .execute(&delete_cmd(
            EntityKind::Customer,
            &bo.to_string(),
            json!({}),
        ))
        .await
        .unwrap();
    assert!(out.applied);
    assert_eq!(out.target_id, bo.to_string());
    assert_eq!(out.document, Some(tombstone(&bo.to_string())));
    assert!(
        deletes(&r.sim).is_empty(),
        "nothing left to delete: nothing sent"
    );
    r.handle.shutdown().await;
}

#[tokio::test]
async fn a_tombstone_is_newer_than_the_last_save_when_magentos_clock_is_ahead() {
    let r = rig(SimConfig {
        start_time: Utc::now() + chrono::Duration::hours(1),
        ..SimConfig::default()
    })
    .await;
    r.sim
        .save_product(json!({"sku": "AHEAD", "name": "Ahead", "price": 1.0}))
        .unwrap();
    let cy = r
        .sim
        .save_customer(json!({"email": "cy@example.com", "firstname": "Cy", "lastname": "Oh"}))
        .unwrap();
    read_and_hold(&r).await;
    let id = product_id(&r.db, "AHEAD").await;
    let saved = at(&weft_magento::normalize::version(
        r.sim.product("AHEAD").unwrap()["updated_at"]
            .as_str()
            .unwrap(),
    ));
    let out = r
        .conn
        .execute(&delete_cmd(
            EntityKind::Variant,
            &id,
            json!({"sku": "AHEAD"}),
        ))
        .await
        .unwrap();
    assert_eq!(
        at(out.version.as_deref().unwrap()),
        saved + chrono::Duration::seconds(1)
    );
    let cy_saved = at(&weft_magento::normalize::version(
        cy["updated_at"].as_str().unwrap(),
    ));
    let out = r
        .conn
        .execute(&delete_cmd(
            EntityKind::Customer,
            &cy["id"].to_string(),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(
        at(out.version.as_deref().unwrap()),
        cy_saved + chrono::Duration::seconds(1)
    );
    r.handle.shutdown().await;
}

#[tokio::test]
async fn deletes_of_other_kinds_or_ids_are_refused_for_good() {
    let r = rig(SimConfig::default()).await;
    let invalid = |e: ConnectorError| {
        assert!(!e.is_retryable() && !e.is_outage(), "{e}");
    };
    invalid(
        r.conn
            .execute(&delete_cmd(
                EntityKind::InventoryLevel,
                "A@default",
                json!({}),
            ))
            .await
            .unwrap_err(),
    );
    invalid(
        r.conn
            .execute(&delete_cmd(EntityKind::Variant, "TEE-M", json!({})))
            .await
            .unwrap_err(),
    );
    invalid(
        r.conn
            .execute(&delete_cmd(
                EntityKind::Customer,
                "ann@example.com",
                json!({}),
            ))
            .await
            .unwrap_err(),
    );
    assert!(r.sim.requests().is_empty(), "nothing sent");
    r.handle.shutdown().await;
}
