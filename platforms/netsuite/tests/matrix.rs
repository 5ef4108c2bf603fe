//! Matrix children through write execution: a child's body names its parent in `weft:parent`,
//! which the connector upserts first (once, however often the child is retried), and the
//! child's document comes back with its parent and option values.

use std::sync::Arc;

use serde_json::json;
use weft_netsuite::{Credentials, NetSuiteClient, NetSuiteConfig, NetSuiteConnection};
use weft_platform::gate::ConcurrencyGovernor;
use weft_platform::{Connection as _, EntityKind, WriteCommand, WriteOp};
use weft_sim_netsuite::{NetSuiteSim, RecordType, SimConfig};

#[tokio::test]
async fn a_child_upserts_its_parent_first() {
    let (sim, _server, cs) = connection().await;
    let child = |sku: &str, size: &str| WriteCommand {
        system: "netsuite".into(),
        kind: EntityKind::Variant,
        op: WriteOp::Upsert,
        target_id: None,
        external_id: Some(format!("item-{sku}")),
        body: json!({"externalId": format!("item-{sku}"), "itemId": format!("WEB-{sku}"),
            "displayName": "Tee", "matrixType": "CHILD", "parent": {"externalId": "product-tee"},
            "matrixOptioncustitem_size": {"refName": size},
            "weft:parent": {"externalId": "product-tee", "itemId": "WEB-tee",
                            "matrixType": "PARENT", "displayName": "Tee", "isInactive": false}}),
        idempotency_key: format!("k-{sku}"),
        expected_quantity: None,
    };
    let s = cs.execute(&child("TEE-S", "S")).await.unwrap();
    let again = cs.execute(&child("TEE-S", "S")).await.unwrap();
    assert_eq!(s.target_id, again.target_id);
    cs.execute(&child("TEE-M", "M")).await.unwrap();
    let items = sim.records(RecordType::InventoryItem);
    assert_eq!(items.len(), 3, "one parent, two children: {items:?}");
    let doc = s.document.unwrap();
    assert_eq!(doc["parent"]["refName"], "WEB-tee");
    assert_eq!(doc["matrixOptioncustitem_size"]["refName"], "S");
    assert!(doc.get("weft:parent").is_none());
    // Without the parent in place, a child is refused as NetSuite refuses it.
    let mut orphan = child("SOCK-S", "S");
    orphan.body["parent"] = json!({"externalId": "product-sock"});
    orphan.body.as_object_mut().unwrap().remove("weft:parent");
    assert!(cs.execute(&orphan).await.is_err());
}

/// A connection to a fresh simulator.
async fn connection() -> (
    NetSuiteSim,
    weft_sim_netsuite::SimServer,
    NetSuiteConnection,
) {
    let sim = NetSuiteSim::new(SimConfig::new(3)).unwrap();
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
    let client = NetSuiteClient::new(
        NetSuiteConfig::new(server.base_url(), creds.clone()),
        ConcurrencyGovernor::new(creds.account_id.clone(), 4),
        "store",
    )
    .unwrap();
    (sim, server, NetSuiteConnection::new(Arc::new(client)))
}

fn delete(kind: EntityKind, id: &str) -> WriteCommand {
    WriteCommand {
        system: "netsuite".into(),
        kind,
        op: WriteOp::Delete,
        target_id: Some(id.into()),
        external_id: None,
        body: json!({}),
        idempotency_key: format!("del-{id}"),
        expected_quantity: None,
    }
}

#[tokio::test]
async fn a_delete_removes_an_item_or_keeps_one_with_transactions_inactive() {
    let (sim, _server, cs) = connection().await;
    let item = |sku: &str| {
        sim.erp_create(
            RecordType::InventoryItem,
            json!({"itemId": sku, "displayName": sku, "externalId": format!("item-{sku}")}),
        )
        .unwrap()
    };
    let fresh = item("NEW-1");
    let sold = item("OLD-1");
    sim.erp_adjust_inventory("eid:item-OLD-1", "1", 5.0, Some("receipt"))
        .unwrap();

    // No transaction depends on it: gone, answered with its tombstone.
    let out = cs
        .execute(&delete(EntityKind::Variant, &fresh))
        .await
        .unwrap();
    assert!(out.applied);
    let doc = out.document.unwrap();
    assert!(weft_platform::webhook::is_tombstone(&doc), "{doc}");
    assert_eq!(doc["id"], fresh);
    assert!(out.version.is_some());
    assert!(sim.record(RecordType::InventoryItem, &fresh).is_none());

    // Gone already: done, the same answer.
    let again = cs
        .execute(&delete(EntityKind::Variant, &fresh))
        .await
        .unwrap();
    assert!(weft_platform::webhook::is_tombstone(
        &again.document.unwrap()
    ));

    // An adjustment depends on it: NetSuite refuses the delete, so it is kept inactive and the
    // answer is the record as it is now.
    let out = cs
        .execute(&delete(EntityKind::Variant, &sold))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    assert!(!weft_platform::webhook::is_tombstone(&doc), "{doc}");
    assert_eq!(doc["isInactive"], json!(true), "{doc}");
    assert_eq!(
        sim.record(RecordType::InventoryItem, &sold).unwrap()["isInactive"],
        json!(true)
    );

    // A customer without orders.
    let customer = sim
        .erp_create(
            RecordType::Customer,
            json!({"companyName": "Ada", "email": "ada@example.com", "externalId": "c-1"}),
        )
        .unwrap();
    let out = cs
        .execute(&delete(EntityKind::Customer, &customer))
        .await
        .unwrap();
    assert!(weft_platform::webhook::is_tombstone(&out.document.unwrap()));
    assert!(sim.record(RecordType::Customer, &customer).is_none());
}
