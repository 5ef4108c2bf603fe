//! Webhooks of the second weft holds. Platforms version to the second, and a webhook may be
//! delivered late: one sent before an edit (or before weft's own write) can arrive after a read
//! of the edit's result, carrying the same version and the older body. Applied, it looked like
//! a change back and was written to the other system (one chaos run in six of the refunds test
//! ended with a product description reverted that way in both systems). Such a webhook is not
//! applied on its word: the pollers are asked for a round, and a read of the platform settles
//! the tie (a read that finds another body at the held second is journaled just after it).

mod common;

use common::*;
use serde_json::json;
use weft_store::Source;

fn polled(mut e: weft_store::NewJournalEntry) -> weft_store::NewJournalEntry {
    e.source = Source::Poll;
    e
}

#[tokio::test]
async fn a_late_webhook_of_the_held_second_is_left_to_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = processor(&db, &runtime, &["shopify"], &[], json!({}));
    db.append(erp_item(20.0, T0)).await.unwrap();
    db.append(shop_product("shopify", "20.00", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("20.00"));

    // The merchant sets 25.00 at T1; a poll reads it.
    db.append(polled(shop_product("shopify", "25.00", T1)))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("25.00"));
    let to_erp = price_writes(&db, "netsuite").await.len();
    assert_eq!(to_erp, 1);

    // A webhook of an edit earlier in that second (20.00 again) arrives late.
    db.append(shop_product("shopify", "20.00", T1))
        .await
        .unwrap();
    let r = p.step(100).await.unwrap();
    assert_eq!(r.ties_deferred, 1, "{r:?}");
    assert_eq!(
        golden_price(&db).await.0,
        json!("25.00"),
        "not a change back"
    );
    assert_eq!(price_writes(&db, "netsuite").await.len(), to_erp);
    let counters = db.counters(STORE).await.unwrap();
    assert_eq!(counters.get("tie_read_again"), Some(&1), "{counters:?}");

    // The read it asked for finds the body weft holds (the journal keeps one copy of it):
    // nothing changes.
    db.append(polled(shop_product("shopify", "25.00", T1)))
        .await
        .unwrap();
    let r = p.step(100).await.unwrap();
    assert_eq!(r.ties_deferred, 0, "{r:?}");
    assert_eq!(golden_price(&db).await.0, json!("25.00"));
    assert_eq!(price_writes(&db, "netsuite").await.len(), to_erp);
}

#[tokio::test]
async fn a_webhook_of_a_later_edit_in_the_held_second_arrives_through_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = processor(&db, &runtime, &["shopify"], &[], json!({}));
    db.append(erp_item(20.0, T0)).await.unwrap();
    db.append(shop_product("shopify", "20.00", T0))
        .await
        .unwrap();
    p.step(100).await.unwrap();

    // Two edits in one second, their webhooks in order: the second is the newer one, but its
    // version cannot say so.
    db.append(shop_product("shopify", "30.00", T1))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("30.00"));
    db.append(shop_product("shopify", "31.00", T1))
        .await
        .unwrap();
    let r = p.step(100).await.unwrap();
    assert_eq!(r.ties_deferred, 1, "{r:?}");
    assert_eq!(golden_price(&db).await.0, json!("30.00"));

    // The poll reads 31.00 at the held second and journals it just after (see
    // `weft_platform::poll::observed_version`): applied.
    db.append(polled(shop_product(
        "shopify",
        "31.00",
        "2026-11-26T10:05:00.000001Z",
    )))
    .await
    .unwrap();
    p.step(100).await.unwrap();
    assert_eq!(golden_price(&db).await.0, json!("31.00"));
    let to_erp = price_writes(&db, "netsuite").await;
    assert_eq!(to_erp.last().unwrap()["price"], "31.00", "{to_erp:?}");
}
