//! A write claimed before the processing step learned its record was deleted on its target
//! (the step withdraws only rows still pending) is not sent: sent, an upsert could recreate the
//! record there (a variant written by SKU into the product it was removed from). The
//! dispatcher checks the tombstones before sending an upsert and settles it `superseded`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeDelta, Utc};
use common::{STORE, counting_dispatcher};
use serde_json::json;
use weft_store::{GoldenUpsert, NewOutboxRow, OpenOptions, OutboxStatus, StepCommit, Store};

fn upsert(key: &str) -> NewOutboxRow {
    NewOutboxRow {
        system: "shopify".into(),
        kind: "variant".into(),
        key: key.into(),
        op: "upsert".into(),
        idempotency_key: format!("weft-test-{key}"),
        body: json!({
            "system": "shopify", "kind": "variant", "op": "upsert", "target_id": null,
            "external_id": null, "body": {"variants": [{"sku": key}]},
            "desired": {"sku": key, "active": true},
        }),
        priority: 20,
        coalesce: false,
        resend_may_apply: false,
    }
}

#[tokio::test]
async fn an_upsert_of_a_record_its_target_deleted_since_it_was_queued_is_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open_with(
        &dir.path().join("weft.sqlite").to_string_lossy(),
        OpenOptions::default(),
    )
    .await
    .unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let dispatcher = counting_dispatcher(db.clone(), &sent);

    // Two writes queued; then the shop removes variant GONE (its tombstone in the golden
    // record's meta), as the step records it while the writes wait to be sent.
    let mut queued = StepCommit::new(STORE, Utc::now() - TimeDelta::seconds(60));
    queued.outbox = vec![upsert("GONE"), upsert("KEPT")];
    db.commit_step(&queued).await.unwrap();
    let mut deleted = StepCommit::new(STORE, Utc::now() - TimeDelta::seconds(59));
    for (key, meta) in [
        (
            "GONE",
            json!({"weft:deleted": {"shopify": {"seq": 9, "entity": "88", "applied": Utc::now().to_rfc3339()}}}),
        ),
        ("KEPT", json!({})),
    ] {
        deleted.golden.push(GoldenUpsert {
            kind: "variant".into(),
            key: key.into(),
            fields: json!({"sku": key, "active": true}),
            field_meta: meta,
        });
    }
    db.commit_step(&deleted).await.unwrap();

    let r = dispatcher.run_once().await.unwrap();
    assert_eq!(r.claimed, 2, "{r:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 1, "only KEPT is sent");
    let rows = db.list_outbox(Some(STORE), None, 10).await.unwrap();
    let status = |key: &str| rows.iter().find(|r| r.key == key).unwrap().status;
    assert_eq!(status("GONE"), OutboxStatus::Superseded);
    assert_eq!(status("KEPT"), OutboxStatus::Done);
    assert_eq!(
        db.counters(STORE)
            .await
            .unwrap()
            .get("writes_moot_after_delete")
            .copied(),
        Some(1)
    );
}
