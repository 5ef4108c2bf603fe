//! Field ownership holds for one-sided changes too (`[policy]` owners and `on_change`):
//!
//! - `revert` (the default): a storefront's change of a field the ERP owns is not taken; the
//!   owner's value is written back to the storefront within the same step, counted as
//!   `changes_reverted` and kept in the field's history.
//! - `propose`: the change is kept for an operator; nothing is written to either side until the
//!   operator accepts (the value reaches the owner) or refuses (the agreed value is written
//!   back to the proposer); a decision on a proposal that changed since is not applied.
//! - `accept`, and fields nobody owns: the change is taken and reaches the other systems.

mod common;

use chrono::Utc;
use common::*;
use serde_json::json;
use weft_engine::ownership::{Decision, decision_entry};
use weft_engine::{OnChange, Ownership, Processor};
use weft_runtime::Runtime;
use weft_store::Store;

fn owned(db: &Store, runtime: &Runtime, on_change: &[(&str, OnChange)]) -> Processor {
    processor(
        db,
        runtime,
        &["shopify"],
        &[
            ("*", "last-write-wins"),
            ("inventory-level.quantity", "counter-merge"),
        ],
        json!({}),
    )
    .with_ownership(Ownership::new(
        [("price.price".to_owned(), "netsuite".to_owned())],
        on_change.iter().map(|(p, a)| ((*p).to_owned(), *a)),
    ))
}

/// Both systems agree on 49.99.
async fn agreed(db: &Store, p: &Processor) {
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(shop_product("shopify", "49.99", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(db).await.0, json!("49.99"));
}

#[tokio::test]
async fn a_non_owner_change_is_reverted_within_the_step_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = owned(&db, &runtime, &[]);
    agreed(&db, &p).await;
    let shop_before = price_writes(&db, "shopify").await.len();

    db.append(shop_product("shopify", "39.00", T1))
        .await
        .unwrap();
    let report = p.step(100).await.unwrap();
    assert_eq!((report.failed, report.conflicts), (0, 0), "{report:?}");
    let (price, meta) = golden_price(&db).await;
    assert_eq!(price, json!("49.99"), "the owner's value stays agreed");
    assert_eq!(meta["reverted"]["system"], "shopify", "{meta}");
    assert_eq!(meta["reverted"]["value"], "39.00", "{meta}");
    assert_eq!(
        meta["system"], "netsuite",
        "provenance is still the owner's: {meta}"
    );
    assert_eq!(counter(&db, "changes_reverted").await, 1);
    // Written back to the shop in the same step; nothing reaches the owner.
    let shop = price_writes(&db, "shopify").await;
    assert_eq!(shop.len(), shop_before + 1, "{shop:?}");
    assert_eq!(shop.last().unwrap()["price"], "49.99");
    assert!(price_writes(&db, "netsuite").await.is_empty());

    // The owner's own change is taken and reaches the shop as before.
    db.append(erp_item(59.0, T2)).await.unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("59.00"));
    assert_eq!(
        price_writes(&db, "shopify").await.last().unwrap()["price"],
        "59.00"
    );
    assert_eq!(counter(&db, "changes_reverted").await, 1);
}

#[tokio::test]
async fn a_proposed_change_waits_for_the_operator_then_accepted_reaches_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = owned(&db, &runtime, &[("price.price", OnChange::Propose)]);
    agreed(&db, &p).await;
    let shop_before = price_writes(&db, "shopify").await.len();

    db.append(shop_product("shopify", "39.00", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    let (price, meta) = golden_price(&db).await;
    assert_eq!(price, json!("49.99"), "agreed until an operator decides");
    assert_eq!(meta["proposed"]["system"], "shopify", "{meta}");
    assert_eq!(meta["proposed"]["value"], "39.00", "{meta}");
    assert_eq!(counter(&db, "changes_proposed").await, 1);
    assert_eq!(
        price_writes(&db, "shopify").await.len(),
        shop_before,
        "the shop keeps 39.00"
    );
    assert!(
        price_writes(&db, "netsuite").await.is_empty(),
        "the owner keeps 49.99"
    );
    // The operator's list (`weft proposals list`) finds it.
    let open = db
        .golden_with_meta(STORE, "\"proposed\"", 100)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].kind.as_str(), open[0].key.as_str()),
        ("price", SKU)
    );

    // The shop shows the same proposal again (a poll): still one proposal, nothing written.
    db.append(shop_product_by("shopify", "39.00", "Acme", T2))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(counter(&db, "changes_proposed").await, 1);
    assert_eq!(price_writes(&db, "shopify").await.len(), shop_before);

    // A decision on another value than the open proposal is not applied.
    let decide = |accept: bool, value: &str| {
        decision_entry(
            STORE,
            "shopify",
            "price",
            SKU,
            &Decision {
                field: "price".into(),
                accept,
                value: json!(value),
            },
            Utc::now(),
        )
    };
    db.append(decide(true, "12.00")).await.unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("49.99"));
    assert_eq!(counter(&db, "decisions_stale").await, 1);

    // Accepted: the value becomes agreed and reaches the owner; the shop already holds it.
    db.append(decide(true, "39.00")).await.unwrap();
    p.step(100).await.unwrap();
    let (price, meta) = golden_price(&db).await;
    assert_eq!(price, json!("39.00"));
    assert!(meta.get("proposed").is_none(), "{meta}");
    assert_eq!(meta["decided"]["accept"], true, "{meta}");
    let erp = price_writes(&db, "netsuite").await;
    assert_eq!(erp.len(), 1, "{erp:?}");
    assert_eq!(erp[0]["price"], "39.00");
    assert_eq!(price_writes(&db, "shopify").await.len(), shop_before);
    assert_eq!(counter(&db, "proposals_accepted").await, 1);
    assert!(
        db.golden_with_meta(STORE, "\"proposed\"", 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_refused_proposal_is_written_back_and_an_owner_change_supersedes_one() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = owned(&db, &runtime, &[("*", OnChange::Propose)]);
    agreed(&db, &p).await;
    let shop_before = price_writes(&db, "shopify").await.len();

    db.append(shop_product("shopify", "35.00", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(decision_entry(
        STORE,
        "shopify",
        "price",
        SKU,
        &Decision {
            field: "price".into(),
            accept: false,
            value: json!("35.00"),
        },
        Utc::now(),
    ))
    .await
    .unwrap();
    p.step(100).await.unwrap();
    let (price, meta) = golden_price(&db).await;
    assert_eq!(price, json!("49.99"));
    assert!(meta.get("proposed").is_none(), "{meta}");
    assert_eq!(meta["decided"]["accept"], false, "{meta}");
    let shop = price_writes(&db, "shopify").await;
    assert_eq!(shop.len(), shop_before + 1, "{shop:?}");
    assert_eq!(
        shop.last().unwrap()["price"],
        "49.99",
        "written back to the proposer"
    );
    assert!(price_writes(&db, "netsuite").await.is_empty());
    assert_eq!(counter(&db, "proposals_refused").await, 1);

    // A new proposal, then the owner changes the field: the owner's value wins everywhere
    // and the proposal is closed.
    db.append(shop_product("shopify", "30.00", T2))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.1["proposed"]["value"], "30.00");
    db.append(erp_item(55.0, T3)).await.unwrap();
    p.step(100).await.unwrap();
    let (price, meta) = golden_price(&db).await;
    assert_eq!(price, json!("55.00"));
    assert!(meta.get("proposed").is_none(), "{meta}");
    assert_eq!(counter(&db, "proposals_superseded").await, 1);
    assert_eq!(
        price_writes(&db, "shopify").await.last().unwrap()["price"],
        "55.00"
    );
}

#[tokio::test]
async fn a_change_is_accepted_where_nobody_owns_the_field_or_the_policy_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = owned(&db, &runtime, &[("price.price", OnChange::Accept)]);
    agreed(&db, &p).await;
    // The vendor has no owner: the shop's change is taken and reaches NetSuite.
    db.append(shop_product_by("shopify", "49.99", "Acme Mills", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    let variant = db.golden(STORE, "variant", SKU).await.unwrap().unwrap();
    assert_eq!(
        variant.fields["vendor"], "Acme Mills",
        "{:?}",
        variant.fields
    );
    let erp = writes(&db, "netsuite", "variant").await;
    assert_eq!(
        erp.last().map(|w| &w["vendor"]),
        Some(&json!("Acme Mills")),
        "{erp:?}"
    );
    // The price is owned by NetSuite, but the policy accepts the shop's changes of it.
    db.append(shop_product("shopify", "44.00", T2))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("44.00"));
    assert_eq!(
        price_writes(&db, "netsuite").await.last().unwrap()["price"],
        "44.00"
    );
    assert_eq!(counter(&db, "changes_reverted").await, 0);
    assert_eq!(counter(&db, "changes_proposed").await, 0);
}
