//! Writes planned from a backfill's entries alone (a first sync's catalog, journaled with
//! source `backfill`) queue after live writes: a product edited while a catalog-scale first
//! sync's writes wait in the outbox is sent first, and a live edit of a product whose backfill
//! write still waits replaces it at live priority (its price waits for the variant to exist in
//! the ERP, as any price does).

mod common;

use std::time::Duration;

use chrono::Utc;
use common::STORE;
use serde_json::json;
use weft_engine::BACKFILL_PRIORITY;
use weft_store::{NewJournalEntry, OutboxRow, OutboxStatus, Source, Store};

/// Shopify product `n` with one variant `SKU-<n>` at `price`.
fn product(n: u32, price: &str, version: &str, source: Source) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: format!("{}", 800 + n),
        version: version.into(),
        source,
        delivery_id: None,
        body: json!({
            "id": format!("{}", 800 + n), "title": format!("Shirt {n}"), "body_html": null,
            "vendor": "Acme", "product_type": null, "handle": format!("shirt-{n}"),
            "status": "active", "tags": "", "updated_at": version, "options": [], "images": [],
            "variants": [{"id": format!("{}", 400 + n), "product_id": format!("{}", 800 + n),
                          "title": "One", "sku": format!("SKU-{n}"), "price": price,
                          "compare_at_price": null, "barcode": null,
                          "inventory_item_id": format!("{}", 500 + n), "updated_at": version,
                          "option1": null, "option2": null, "option3": null,
                          "weight": null, "weight_unit": null}]
        }),
        received_at: Utc::now(),
    }
}

async fn open_rows(db: &Store) -> Vec<OutboxRow> {
    db.list_outbox(Some(STORE), Some(OutboxStatus::Pending), 1000)
        .await
        .unwrap()
}

#[tokio::test]
async fn live_writes_go_before_a_backfills_and_replace_its_queued_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = common::open(&dir).await;
    let p = common::processor(&db, &runtime, &["shopify"], &[], json!({}));
    let v1 = "2026-12-07T10:00:00Z";
    for n in 1..=5 {
        db.append(product(n, "10.00", v1, Source::Backfill))
            .await
            .unwrap();
    }
    p.step(100).await.unwrap();
    let backfill = open_rows(&db).await;
    assert!(
        backfill.iter().any(|r| r.system == "netsuite"),
        "the backfill planned no NetSuite write: {backfill:?}"
    );
    for r in &backfill {
        assert!(
            r.priority >= BACKFILL_PRIORITY,
            "a backfill's write queued at live priority: {r:?}"
        );
    }

    // A product created live, and a live price edit of a product the backfill brought.
    let v2 = "2026-12-07T10:01:00Z";
    db.append(product(9, "30.00", v2, Source::Webhook))
        .await
        .unwrap();
    db.append(product(2, "12.50", v2, Source::Webhook))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    let rows = open_rows(&db).await;
    let live: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| r.priority < BACKFILL_PRIORITY)
        .collect();
    assert!(
        live.iter()
            .any(|r| r.system == "netsuite" && r.key == "SKU-9"),
        "{rows:?}"
    );
    let sku2: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| r.system == "netsuite" && r.key.starts_with("SKU-2"))
        .collect();
    assert!(
        sku2.iter().all(|r| r.priority < BACKFILL_PRIORITY),
        "SKU-2's writes are live now: {sku2:?}"
    );
    // The backfill's queued write of it is replaced, not sent as well.
    assert_eq!(
        sku2.iter().filter(|r| r.kind == "variant").count(),
        1,
        "one open variant write for SKU-2: {sku2:?}"
    );
    // The other backfill writes keep their place after the live ones.
    assert!(
        rows.iter()
            .filter(|r| !r.key.starts_with("SKU-2") && !r.key.starts_with("SKU-9"))
            .all(|r| r.priority >= BACKFILL_PRIORITY),
        "{rows:?}"
    );

    // The dispatcher takes every live write before any of the backfill's, though they were
    // queued later.
    let live_count = live.len();
    let claimed = db
        .claim_due(
            Utc::now() + chrono::Duration::seconds(1),
            live_count as u32,
            Duration::from_secs(30),
            Some(STORE),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), live_count);
    assert!(
        claimed.iter().all(|r| r.priority < BACKFILL_PRIORITY),
        "{claimed:?}"
    );
    let mut want: Vec<i64> = live.iter().map(|r| r.id).collect();
    let mut got: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}
