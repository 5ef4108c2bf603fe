//! Resolvers see every system of the store and vet the changes of the fields they guard.
//!
//! - A storefront price more than the guard's limit below the ERP's, edited on the storefront
//!   alone, is refused (the agreed price stays, is written back to the storefront, and the
//!   refusal with its reason is counted and kept in the record's history), or clamped.
//! - In a store of three systems, a conflict between two of them is decided by the owner of the
//!   field even when the owner is the third system, which did not change it: the resolver sees
//!   all three.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn a_one_sided_price_under_the_guard_is_refused_with_its_reason_or_clamped() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let guard = |action: &str| {
        processor(
            &db,
            &runtime,
            &["shopify"],
            &[
                ("*", "price-guard"),
                ("inventory-level.quantity", "counter-merge"),
            ],
            json!({ "action": action }),
        )
    };
    let refuse = guard("refuse");
    // Both systems agree on 49.99.
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(shop_product("shopify", "49.99", T0))
        .await
        .unwrap();
    refuse.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("49.99"));
    let before = price_writes(&db, "shopify").await.len();

    // A fat-fingered 4.99 in the shop admin: one-sided, and refused.
    db.append(shop_product("shopify", "4.99", T1))
        .await
        .unwrap();
    let report = refuse.step(100).await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let (price, meta) = golden_price(&db).await;
    assert_eq!(price, json!("49.99"), "the agreed price stays");
    let refused = &meta["refused"];
    assert_eq!(refused["system"], "shopify", "{meta}");
    assert_eq!(refused["value"], "4.99", "{meta}");
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("more than 20% below netsuite price 49.99")),
        "{meta}"
    );
    let counters = db.counters(STORE).await.unwrap();
    assert_eq!(counters.get("changes_refused"), Some(&1), "{counters:?}");
    // The agreed price is written back to the shop, and nothing goes to the ERP.
    let writes = price_writes(&db, "shopify").await;
    assert_eq!(writes.len(), before + 1, "{writes:?}");
    assert_eq!(writes.last().unwrap()["price"], "49.99");
    assert!(price_writes(&db, "netsuite").await.is_empty());

    // Within the limit, a one-sided storefront price is taken as before.
    db.append(shop_product("shopify", "45.00", T2))
        .await
        .unwrap();
    refuse.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("45.00"));
    assert_eq!(price_writes(&db, "netsuite").await.len(), 1);

    // With the default action the price is clamped to the floor and reaches both systems.
    let clamp = guard("clamp");
    db.append(shop_product("shopify", "1.00", "2026-11-26T10:15:00Z"))
        .await
        .unwrap();
    clamp.step(100).await.unwrap();
    // 20% below the ERP's last known 49.99 is 39.992: 40.00.
    assert_eq!(golden_price(&db).await.0, json!("40.00"));
    let erp = price_writes(&db, "netsuite").await;
    assert_eq!(erp.last().unwrap()["price"], "40.00", "{erp:?}");
}

#[tokio::test]
async fn the_owner_decides_a_conflict_it_took_no_part_in() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let shops = ["shopify", "shop-eu"];
    let p = processor(
        &db,
        &runtime,
        &shops,
        &[("*", "system-of-record")],
        json!({ "owners": { "price.price": "shopify", "*": "netsuite" } }),
    );
    // All three agree on 49.99.
    db.append(erp_item(49.99, T0)).await.unwrap();
    db.append(shop_product("shopify", "49.99", T0))
        .await
        .unwrap();
    db.append(shop_product("shop-eu", "49.99", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("49.99"));

    // The EU shop changes it (one-sided: taken), then the ERP changes it from the old value:
    // a conflict between shop-eu and netsuite, owned by shopify, which holds 49.99.
    db.append(shop_product("shop-eu", "39.00", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("39.00"));
    db.append(erp_item(59.0, T2)).await.unwrap();
    let report = p.step(100).await.unwrap();
    assert_eq!((report.failed, report.conflicts), (0, 1), "{report:?}");
    assert_eq!(
        golden_price(&db).await.0,
        json!("49.99"),
        "the owner's value wins though it changed nothing"
    );
    // Both systems that moved away from it are written back.
    assert_eq!(
        price_writes(&db, "shop-eu").await.last().unwrap()["price"],
        "49.99"
    );
    assert_eq!(
        price_writes(&db, "netsuite").await.last().unwrap()["price"],
        "49.99"
    );
}
