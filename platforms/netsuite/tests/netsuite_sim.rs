//! The NetSuite connector against the NetSuite simulator over real HTTP on 127.0.0.1:0:
//! OAuth 1.0a accepted (and a wrong secret refused), upsert by external id, platform error
//! messages, SuiteQL CDC across same-timestamp page boundaries, the account concurrency
//! governor, idempotent inventory adjustments through write execution, and stock captured from
//! the transactions that move it (the item's `lastModifiedDate` does not move).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_netsuite::NetSuiteConnection;
use weft_netsuite::{CdcSource, Credentials, NetSuiteClient, NetSuiteConfig, RecordRef, Watermark};
use weft_platform::gate::ConcurrencyGovernor;
use weft_platform::{Connection as _, ConnectorError, EntityKind, WriteCommand, WriteOp};
use weft_sim_netsuite::{NetSuiteSim, RecordType, SimConfig, SimServer};

struct Env {
    sim: NetSuiteSim,
    server: SimServer,
    creds: Credentials,
}

async fn start(config: SimConfig) -> Env {
    let sim = NetSuiteSim::new(config).expect("valid sim config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await.unwrap();
    let c = sim.credentials()[0].clone();
    let creds = Credentials {
        account_id: c.realm,
        consumer_key: c.consumer_key,
        consumer_secret: c.consumer_secret,
        token_id: c.token_id,
        token_secret: c.token_secret,
    };
    Env { sim, server, creds }
}

impl Env {
    fn client(&self, governor: &ConcurrencyGovernor, store: &str) -> NetSuiteClient {
        NetSuiteClient::new(
            NetSuiteConfig::new(self.server.base_url(), self.creds.clone()),
            governor.clone(),
            store,
        )
        .unwrap()
    }
}

fn governor(env: &Env, limit: usize) -> ConcurrencyGovernor {
    ConcurrencyGovernor::new(env.creds.account_id.clone(), limit)
}

#[tokio::test]
async fn signed_requests_are_accepted_and_upsert_twice_makes_one_record() {
    let env = start(SimConfig::new(1)).await;
    let client = env.client(&governor(&env, 5), "store-a");
    let ext = "shopify-customer-9007199254740993";
    assert_eq!(
        client
            .get_record("customer", &RecordRef::ExternalId(ext.into()))
            .await
            .unwrap(),
        None
    );
    let body = json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                      "isPerson": true});
    let id1 = client.upsert("customer", ext, &body).await.unwrap();
    let mut body2 = body.clone();
    body2["lastName"] = json!("King");
    let id2 = client.upsert("customer", ext, &body2).await.unwrap();
    assert_eq!(id1, id2);
    assert_eq!(env.sim.records(RecordType::Customer).len(), 1);
    let rec = client
        .get_record("customer", &RecordRef::Id(id1.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec["lastName"], "King");
    assert_eq!(rec["externalId"], ext);
    assert_eq!(env.sim.stats().auth_failures, 0);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_permanent() {
    let env = start(SimConfig::new(2)).await;
    let mut creds = env.creds.clone();
    creds.token_secret.push('x');
    let client = NetSuiteClient::new(
        NetSuiteConfig::new(env.server.base_url(), creds),
        governor(&env, 5),
        "store-a",
    )
    .unwrap();
    let err = client
        .get_record("customer", &RecordRef::Id("1".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(env.sim.stats().auth_failures, 1);
}

#[tokio::test]
async fn validation_errors_carry_the_platform_message() {
    let env = start(SimConfig::new(3)).await;
    let client = env.client(&governor(&env, 5), "store-a");
    let err = client
        .upsert(
            "customer",
            "c-1",
            &json!({"firstName": "A", "favouriteColour": "red"}),
        )
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Permanent {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(code, "INVALID_FIELD");
            assert!(message.contains("favouriteColour"), "{message}");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    // A bad external id never leaves the host.
    let err = client
        .upsert("customer", "a|b", &json!({"firstName": "A"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid { .. }));
}

fn ids(rows: &[weft_netsuite::CdcRow]) -> Vec<String> {
    rows.iter().map(|r| r.id.clone()).collect()
}

#[tokio::test]
async fn cdc_pages_through_same_timestamp_rows_without_skipping() {
    let env = start(SimConfig::new(4)).await;
    let client = env.client(&governor(&env, 5), "store-a");
    env.sim.freeze_clock();
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            env.sim
                .erp_create(RecordType::Customer, json!({"firstName": format!("C{i}")}))
                .unwrap(),
        );
    }
    env.sim.advance_clock(Duration::from_secs(1));
    for i in 7..10 {
        created.push(
            env.sim
                .erp_create(RecordType::Customer, json!({"firstName": format!("C{i}")}))
                .unwrap(),
        );
    }
    let overlap = Duration::from_secs(60);
    let batch = client
        .changes_since(CdcSource::table("customer"), None, overlap, 2)
        .await
        .unwrap();
    assert_eq!(
        ids(&batch.rows),
        created,
        "every row once, in (time, id) order"
    );
    let wm = batch.watermark.clone().unwrap();
    assert_eq!(&wm.last_id, created.last().unwrap());

    // Nothing new: the overlap re-reads recent rows, the watermark stays.
    let again = client
        .changes_since(CdcSource::table("customer"), Some(wm.clone()), overlap, 2)
        .await
        .unwrap();
    assert_eq!(again.watermark, Some(wm.clone()));

    // Two edits and a create in the same second as the watermark row are all caught.
    env.sim
        .erp_update(RecordType::Customer, &created[1], json!({"lastName": "X"}))
        .unwrap();
    env.sim
        .erp_update(RecordType::Customer, &created[8], json!({"lastName": "Y"}))
        .unwrap();
    let new_id = env
        .sim
        .erp_create(RecordType::Customer, json!({"firstName": "N"}))
        .unwrap();
    let next = client
        .changes_since(CdcSource::table("customer"), Some(wm), overlap, 2)
        .await
        .unwrap();
    let got = ids(&next.rows);
    for id in [&created[1], &created[8], &new_id] {
        assert!(got.contains(id), "{id} missing from {got:?}");
    }
}

#[tokio::test]
async fn cdc_reads_sales_orders_by_type() {
    let env = start(SimConfig::new(5)).await;
    let client = env.client(&governor(&env, 5), "store-a");
    let item = env
        .sim
        .erp_create(
            RecordType::InventoryItem,
            json!({"itemId": "SKU-A", "basePrice": 5.0}),
        )
        .unwrap();
    let cust = env
        .sim
        .erp_create(RecordType::Customer, json!({"firstName": "B"}))
        .unwrap();
    let so = env
        .sim
        .erp_create(
            RecordType::SalesOrder,
            json!({"entity": {"id": cust}, "item": {"items": [{"item": {"id": item}, "quantity": 1}]}}),
        )
        .unwrap();
    env.sim.erp_adjust_inventory(&item, "1", 3.0, None).unwrap();
    let orders = client
        .changes_since(
            CdcSource::for_record_type("salesOrder").unwrap(),
            None,
            Duration::from_secs(60),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&orders.rows),
        vec![so],
        "adjustments are not sales orders"
    );
    let items = client
        .changes_since(
            CdcSource::for_record_type("inventoryItem").unwrap(),
            None,
            Duration::from_secs(60),
            100,
        )
        .await
        .unwrap();
    assert_eq!(ids(&items.rows), vec![item.clone()]);
    assert_eq!(items.rows[0].values["itemid"], "SKU-A");
    let rec = client
        .get_record("inventoryItem", &RecordRef::Id(item))
        .await
        .unwrap()
        .unwrap();
    let levels = weft_netsuite::inventory_level_docs(&rec);
    assert!(
        levels
            .iter()
            .any(|l| l["location_id"] == "1" && l["quantity_on_hand"].as_f64() == Some(3.0)),
        "{levels:?}"
    );
}

#[tokio::test]
async fn the_account_governor_keeps_requests_under_the_limit() {
    let mut cfg = SimConfig::new(6);
    cfg.concurrency_limit = 3;
    cfg.latency = Duration::from_millis(20);
    let env = start(cfg).await;
    let gov = governor(&env, 3);
    let clients: Vec<Arc<NetSuiteClient>> = (0..4)
        .map(|i| Arc::new(env.client(&gov, &format!("store-{i}"))))
        .collect();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = clients[i % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            c.suiteql("SELECT id FROM location ORDER BY id", 10, 0)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = env.sim.stats();
    assert_eq!(stats.over_limit, 0);
    assert!(stats.attempted_high_water <= 3, "{stats:?}");
    assert_eq!(gov.stats().high_water, 3);
}

#[tokio::test]
async fn over_limit_answers_are_classified_as_throttled() {
    let mut cfg = SimConfig::new(7);
    cfg.concurrency_limit = 1;
    cfg.latency = Duration::from_millis(50);
    let env = start(cfg).await;
    // A governor that believes the account allows 8: the platform refuses the excess.
    let client = Arc::new(env.client(&governor(&env, 8), "store-a"));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.suiteql("SELECT id FROM location ORDER BY id", 10, 0)
                .await
        }));
    }
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => {}
            Err(e @ ConnectorError::Throttled { .. }) => {
                assert!(e.is_retryable());
                throttled += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(throttled > 0);
    assert_eq!(env.sim.stats().over_limit, throttled);
}

#[tokio::test]
async fn write_execution_upserts_and_adjusts_idempotently() {
    let env = start(SimConfig::new(8)).await;
    let client = Arc::new(env.client(&governor(&env, 5), "store-a"));
    let connectors = NetSuiteConnection::new(client.clone());
    let item = WriteCommand {
        system: "netsuite".into(),
        kind: EntityKind::Variant,
        op: WriteOp::Upsert,
        target_id: None,
        external_id: Some("item-LS-S-WH".into()),
        body: json!({"externalId": "item-LS-S-WH", "itemId": "LS-S-WH", "displayName": "Linen Shirt",
                     "basePrice": 49.0}),
        idempotency_key: "k-item".into(),
        expected_quantity: None,
    };
    let out = connectors.execute(&item).await.unwrap();
    let out2 = connectors.execute(&item).await.unwrap();
    assert_eq!(out.target_id, out2.target_id);
    assert!(out.version.as_deref().is_some_and(|v| v.ends_with('Z')));
    assert_eq!(env.sim.records(RecordType::InventoryItem).len(), 1);
    let item_id = out.target_id;

    let adjust = WriteCommand {
        system: "netsuite".into(),
        kind: EntityKind::InventoryLevel,
        op: WriteOp::AdjustQuantity,
        target_id: Some(format!("{item_id}@1")),
        external_id: None,
        body: json!({"adjLocation": {"id": "1"}, "memo": "weft stock sync LS-S-WH",
                     "inventory": {"items": [{"item": {"id": item_id}, "location": {"id": "1"},
                                              "adjustQtyBy": 5}]}}),
        idempotency_key: "0b9f6c3e-5f5d-4e0a-9a57-3f1a2b3c4d5e".into(),
        expected_quantity: None,
    };
    connectors.execute(&adjust).await.unwrap();
    connectors.execute(&adjust).await.unwrap();
    assert_eq!(
        env.sim.on_hand(&item_id, "1"),
        5.0,
        "a retried adjustment applies once"
    );
    assert_eq!(env.sim.records(RecordType::InventoryAdjustment).len(), 1);

    // Set-quantity: of what the level can sell (on hand - committed - back ordered; nothing is
    // committed here), guarded by the quantity last seen, applied as one adjustment per key.
    let mut set = WriteCommand {
        system: "netsuite".into(),
        kind: EntityKind::InventoryLevel,
        op: WriteOp::SetQuantity,
        target_id: Some(item_id.clone()),
        external_id: None,
        body: json!({"item_id": item_id, "location_id": "1", "quantity_sellable": 12}),
        idempotency_key: "set-1".into(),
        expected_quantity: Some(4),
    };
    let stale = connectors.execute(&set).await.unwrap_err();
    assert!(stale.is_stale(), "{stale:?}");
    set.expected_quantity = Some(5);
    connectors.execute(&set).await.unwrap();
    connectors.execute(&set).await.unwrap();
    assert_eq!(env.sim.on_hand(&item_id, "1"), 12.0);

    // Upsert without an external id PATCHes by internal id.
    let patch = WriteCommand {
        system: "netsuite".into(),
        kind: EntityKind::Price,
        op: WriteOp::Upsert,
        target_id: Some(item_id.clone()),
        external_id: None,
        body: json!({"basePrice": 55.5}),
        idempotency_key: "k-price".into(),
        expected_quantity: None,
    };
    let out = connectors.execute(&patch).await.unwrap();
    assert_eq!(out.document.unwrap()["basePrice"], json!(55.5));
}

/// Same-timestamp ties at every page boundary: for any tie pattern and page size, one sweep
/// delivers every row exactly once and in order.
mod ties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn any_tie_pattern_and_page_size(
            groups in proptest::collection::vec(1usize..6, 1..6),
            page in 1u32..5,
            edits in proptest::collection::vec(0usize..100, 0..6),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let env = start(SimConfig::new(9)).await;
                let client = env.client(&governor(&env, 5), "s");
                env.sim.freeze_clock();
                let mut created = Vec::new();
                for n in &groups {
                    for _ in 0..*n {
                        created.push(env.sim.erp_create(RecordType::Customer, json!({"firstName": "T"})).unwrap());
                    }
                    env.sim.advance_clock(Duration::from_secs(1));
                }
                let first = client
                    .changes_since(CdcSource::table("customer"), None, Duration::from_secs(30), page)
                    .await
                    .unwrap();
                prop_assert_eq!(ids(&first.rows), created.clone());
                // Edits land in the watermark's second or later: all are delivered next time.
                env.sim.advance_clock(Duration::from_secs(0));
                let mut edited = Vec::new();
                for e in &edits {
                    let id = created[e % created.len()].clone();
                    env.sim.erp_update(RecordType::Customer, &id, json!({"lastName": "E"})).unwrap();
                    edited.push(id);
                }
                let wm: Option<Watermark> = first.watermark.clone();
                let next = client
                    .changes_since(CdcSource::table("customer"), wm, Duration::from_secs(30), page)
                    .await
                    .unwrap();
                let got = ids(&next.rows);
                for id in &edited {
                    prop_assert!(got.contains(id), "{} missing", id);
                }
                let mut dedup = got.clone();
                dedup.dedup();
                prop_assert_eq!(dedup.len(), got.len(), "a row delivered twice in one sweep");
                Ok(())
            })?;
        }
    }
}

#[tokio::test]
async fn create_patch_and_suiteql_paging() {
    let env = start(SimConfig::new(10)).await;
    let client = env.client(&governor(&env, 5), "store-a");
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            client
                .create_record(
                    "customer",
                    &json!({"firstName": format!("P{i}"), "isPerson": true}),
                )
                .await
                .unwrap(),
        );
    }
    client
        .update_record(
            "customer",
            &RecordRef::Id(ids[3].clone()),
            &json!({"externalId": "shopify-customer-42"}),
        )
        .await
        .unwrap();
    let rec = client
        .get_record(
            "customer",
            &RecordRef::ExternalId("shopify-customer-42".into()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec["id"], ids[3].as_str());
    let rows = client
        .suiteql_all("SELECT id, firstname FROM customer ORDER BY id", 3)
        .await
        .unwrap();
    let got: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r.get("links").is_none()));
    // An unknown table is a permanent platform error.
    let err = client
        .suiteql("SELECT id FROM nosuchtable", 10, 0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent { status: 400, .. }),
        "{err:?}"
    );
}

/// Change capture of store `s1` against `env`'s account, without overlap, journaling into a
/// fresh database (the directory lives as long as the returned guard).
async fn change_capture(
    env: &Env,
) -> (
    weft_netsuite::NetSuiteCdc,
    weft_store::Store,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = weft_store::Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("weft.db").display()
    ))
    .await
    .unwrap();
    let gov = governor(env, 5);
    let client = Arc::new(env.client(&gov, "s1"));
    let cdc = weft_netsuite::NetSuiteCdc::new(
        "s1",
        "netsuite",
        db.clone(),
        client,
        Duration::from_secs(0),
    );
    (cdc, db, dir)
}

/// A sales order, an adjustment and a fulfilment move an item's quantities without modifying
/// the item; change capture finds them through the changed transactions and journals the
/// levels at the newest transaction's `lastModifiedDate`.
#[tokio::test]
async fn stock_moved_by_transactions_is_captured() {
    use weft_platform::Poller as _;
    let env = start(SimConfig::new(11)).await;
    let (cdc, db, _dir) = change_capture(&env).await;
    let (items, customers) = env.sim.erp_seed_catalog(1, 1).unwrap();
    let item = &items[0];
    let levels = |entries: &[weft_store::JournalEntry]| -> Vec<serde_json::Value> {
        entries
            .iter()
            .filter(|e| e.kind == "inventory-level" && e.entity_id == format!("{item}@1"))
            .map(|e| e.body.clone())
            .collect()
    };
    cdc.poll().await.unwrap();
    let seen = db.journal_since("s1", 0, 1000).await.unwrap();
    // The first round reads each stream whole (a first sync): a backfill, whose writes queue
    // behind live ones.
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|e| e.source == weft_store::Source::Backfill)
    );
    let head = seen.last().map_or(0, |e| e.seq);
    let opening = env.sim.quantities(item, "1");
    let item_lmd =
        env.sim.record(RecordType::InventoryItem, item).unwrap()["lastModifiedDate"].clone();

    // A sales order commits 2; the warehouse fulfils it with a tracking number.
    env.sim.advance_clock(Duration::from_secs(10));
    let so = env
        .sim
        .erp_create(
            RecordType::SalesOrder,
            json!({"entity": {"id": customers[0]}, "item": {"items": [{"item": {"id": item}, "quantity": 2}]}}),
        )
        .unwrap();
    env.sim.advance_clock(Duration::from_secs(10));
    env.sim
        .erp_fulfil(&so, &[], &["1Z0001"], Some("UPS"))
        .unwrap();
    let after = env.sim.quantities(item, "1");
    assert_eq!(after.on_hand, opening.on_hand - 2.0);
    assert_eq!(after.committed, 0.0);
    assert_eq!(
        env.sim.record(RecordType::InventoryItem, item).unwrap()["lastModifiedDate"],
        item_lmd,
        "transactions do not modify the item"
    );
    cdc.poll().await.unwrap();
    let new = db.journal_since("s1", head, 1000).await.unwrap();
    assert!(new.iter().all(|e| e.source == weft_store::Source::Cdc));
    let got = levels(&new);
    let last = got.last().expect("the level was captured");
    assert_eq!(last["quantity_on_hand"], json!(after.on_hand as i64));
    assert_eq!(last["quantity_committed"], json!(0));
    let fulfilled_at = weft_sim_netsuite::clock::format_datetime(env.sim.now());
    assert_eq!(
        last["last_modified_date"],
        json!(fulfilled_at),
        "versioned by the fulfilment"
    );
    // A quiet round journals nothing new.
    let head = new.last().map_or(head, |e| e.seq);
    cdc.poll().await.unwrap();
    assert!(levels(&db.journal_since("s1", head, 1000).await.unwrap()).is_empty());
}

/// NetSuite stamps to the second: a level moved and moved back within one second shows the
/// same body at the same version as an earlier reading. Change capture journals it again just
/// after the version weft holds (`observed_version`), where the journal would have taken it for
/// the earlier entry and weft would have kept the state in between.
#[tokio::test]
async fn a_level_moved_back_within_its_second_is_journaled_again() {
    use weft_platform::Poller as _;
    let env = start(SimConfig::new(12)).await;
    let (cdc, db, _dir) = change_capture(&env).await;
    let (items, _) = env.sim.erp_seed_catalog(1, 1).unwrap();
    let item = items[0].clone();
    let level = format!("{item}@1");
    // Polls, then holds the newest reading of the level as the processing step would; returns
    // it.
    let poll_and_hold = || async {
        cdc.poll().await.unwrap();
        let e = db
            .journal_since("s1", 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .find(|e| e.kind == "inventory-level" && e.entity_id == level)
            .unwrap();
        let mut step = weft_store::StepCommit::new("s1", chrono::Utc::now());
        step.entity_states.push(weft_store::EntityStateUpsert {
            system: e.system.clone(),
            kind: e.kind.clone(),
            entity_id: e.entity_id.clone(),
            version: e.version.clone(),
            body: e.body.clone(),
            canonical_key: None,
            journal_seq: e.seq,
        });
        db.commit_step(&step).await.unwrap();
        e
    };
    let opening = poll_and_hold().await.body["quantity_on_hand"].clone();

    // Within one second: a receipt of 3, read; 2 more, read; the 2 taken out again, read.
    env.sim.advance_clock(Duration::from_secs(10));
    env.sim.erp_adjust_inventory(&item, "1", 3.0, None).unwrap();
    let first = poll_and_hold().await;
    env.sim.erp_adjust_inventory(&item, "1", 2.0, None).unwrap();
    let second = poll_and_hold().await;
    env.sim
        .erp_adjust_inventory(&item, "1", -2.0, None)
        .unwrap();
    let back = poll_and_hold().await;

    let on_hand = |e: &weft_store::JournalEntry| e.body["quantity_on_hand"].as_i64().unwrap();
    let opening = opening.as_i64().unwrap();
    assert_eq!(on_hand(&first), opening + 3);
    assert_eq!(on_hand(&second), opening + 5);
    assert!(second.version_key > first.version_key, "{second:?}");
    assert!(
        back.seq > second.seq,
        "the level moved back is journaled again"
    );
    assert_eq!(on_hand(&back), opening + 3);
    assert!(back.version_key > second.version_key, "{back:?}");
}

/// A deletion is found by change capture too (SuiteQL's `deletedrecord`), not only by the push
/// script's `delete` notification: an item and a customer deleted are journaled as tombstones
/// at their deletion time, once, and deletions of records weft does not sync are not.
#[tokio::test]
async fn deletions_are_captured_from_deleted_records() {
    use weft_platform::Poller as _;
    let env = start(SimConfig::new(13)).await;
    let (cdc, db, _dir) = change_capture(&env).await;
    let (_, customers) = env.sim.erp_seed_catalog(2, 2).unwrap();
    // An item nothing was ever stocked or sold of (one with transactions cannot be deleted).
    let item = env
        .sim
        .erp_create(
            RecordType::InventoryItem,
            json!({"externalId": "item-GONE", "itemId": "GONE", "basePrice": 5.0}),
        )
        .unwrap();
    cdc.poll().await.unwrap();
    let head = db.journal_since("s1", 0, 10_000).await.unwrap().len() as i64;

    env.sim.advance_clock(Duration::from_secs(10));
    env.sim
        .erp_delete(RecordType::InventoryItem, &item)
        .unwrap();
    env.sim
        .erp_delete(RecordType::Customer, &customers[1])
        .unwrap();
    let deleted_at = weft_sim_netsuite::clock::format_datetime(env.sim.now());
    cdc.poll().await.unwrap();
    let tombstones = |entries: Vec<weft_store::JournalEntry>| -> Vec<(String, String, String)> {
        entries
            .into_iter()
            .filter(|e| weft_platform::webhook::is_tombstone(&e.body))
            .map(|e| (e.kind, e.entity_id, e.version))
            .collect()
    };
    let new = db.journal_since("s1", head, 10_000).await.unwrap();
    let head = new.last().map_or(head, |e| e.seq);
    let mut found = tombstones(new);
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "customer".to_owned(),
                customers[1].clone(),
                deleted_at.clone()
            ),
            ("variant".to_owned(), item, deleted_at),
        ]
    );
    // The next rounds read the mark's second again and journal nothing new.
    env.sim.advance_clock(Duration::from_secs(1));
    cdc.poll().await.unwrap();
    assert!(tombstones(db.journal_since("s1", head, 10_000).await.unwrap()).is_empty());
}
