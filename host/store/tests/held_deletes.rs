//! Deletions the mass-delete guard holds (`held_deletes`), on SQLite and PostgreSQL
//! (PostgreSQL runs when `WEFT_TEST_POSTGRES_URL` is set, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`; otherwise its half prints that it is skipped):
//! held in the step's transaction, counted by `status`, released into the parked list under
//! `RELEASE_KEY` (exactly those entries), or discarded.

#[macro_use]
mod common;

use common::{TestDb, product, t0};
use weft_store::{HeldDelete, RELEASE_KEY, StepCommit};

fn held(seq: i64, id: &str) -> HeldDelete {
    HeldDelete {
        seq,
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: id.into(),
        record_kind: "variant".into(),
        records: 2,
        reason: "this round would delete 3 of 10 variant records (30%), more than the guard's 10%"
            .into(),
        at: t0(),
    }
}

/// Three tombstones journaled and held by one step.
async fn hold_three(db: &TestDb) -> Vec<i64> {
    let store = &db.store;
    let mut seqs = Vec::new();
    for id in ["p1", "p2", "p3"] {
        let mut e = product(id, "2026-11-26T10:05:00Z", "gone");
        e.body = serde_json::json!({"id": id, "weft_deleted": true});
        seqs.push(store.append(e).await.unwrap().seq());
    }
    let mut step = StepCommit::new("s1", t0());
    for (seq, id) in seqs.iter().zip(["p1", "p2", "p3"]) {
        step.hold_deletes.push(held(*seq, id));
    }
    step.advance_cursor_to = seqs.last().copied();
    store.commit_step(&step).await.unwrap();
    // Held again (a re-run of the step) is kept once.
    let mut again = StepCommit::new("s1", t0());
    again.hold_deletes.push(held(seqs[0], "p1"));
    store.commit_step(&again).await.unwrap();
    seqs
}

async fn held_deletions_are_listed_counted_and_released_exactly(db: &TestDb) {
    let store = &db.store;
    let seqs = hold_three(db).await;
    let list = store.held_deletes("s1").await.unwrap();
    assert_eq!(list.iter().map(|h| h.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(list[1], held(seqs[1], "p2"));
    assert_eq!(store.status("s1").await.unwrap().deletes_held, 3);
    assert!(store.held_deletes("other").await.unwrap().is_empty());

    let released = store.release_held_deletes("s1", t0()).await.unwrap();
    assert_eq!(released.len(), 3);
    assert_eq!(store.status("s1").await.unwrap().deletes_held, 0);
    let parked = store.parked_entries("s1").await.unwrap();
    let mut back: Vec<i64> = parked
        .iter()
        .filter(|(p, _)| p.key == RELEASE_KEY)
        .map(|(p, e)| {
            assert_eq!(p.seq, e.seq);
            p.seq
        })
        .collect();
    back.sort();
    assert_eq!(back, seqs, "exactly the held entries come back");
    assert_eq!(store.counters("s1").await.unwrap()["deletes_released"], 3);
    assert!(
        store
            .release_held_deletes("s1", t0())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn discarded_deletions_are_dropped(db: &TestDb) {
    let store = &db.store;
    hold_three(db).await;
    assert_eq!(store.discard_held_deletes("s1").await.unwrap().len(), 3);
    assert!(store.held_deletes("s1").await.unwrap().is_empty());
    assert!(store.parked_entries("s1").await.unwrap().is_empty());
    assert_eq!(store.counters("s1").await.unwrap()["deletes_discarded"], 3);
}

async fn golden_counts_and_entity_ids_by_kind(db: &TestDb) {
    let store = &db.store;
    hold_three(db).await;
    assert_eq!(store.golden_count("s1", "variant").await.unwrap(), 0);
    let mut step = StepCommit::new("s1", t0());
    for (id, body) in [
        ("p1", serde_json::json!({"id": "p1"})),
        ("p2", serde_json::json!({"id": "p2", "weft_deleted": true})),
    ] {
        step.entity_states.push(weft_store::EntityStateUpsert {
            system: "shopify".into(),
            kind: "product".into(),
            entity_id: id.into(),
            version: "2026-11-26T10:00:00Z".into(),
            body,
            canonical_key: None,
            journal_seq: 1,
        });
    }
    step.golden.push(weft_store::GoldenUpsert {
        kind: "variant".into(),
        key: "SKU-1".into(),
        fields: serde_json::json!({"active": true}),
        field_meta: serde_json::json!({}),
    });
    store.commit_step(&step).await.unwrap();
    assert_eq!(store.golden_count("s1", "variant").await.unwrap(), 1);
    assert_eq!(
        store
            .entity_ids("s1", "shopify", "product", "\"weft_deleted\":true")
            .await
            .unwrap(),
        vec!["p1".to_owned()]
    );
}

fn write(kind: &str, key: &str) -> weft_store::NewOutboxRow {
    weft_store::NewOutboxRow {
        system: "shopify".into(),
        kind: kind.into(),
        key: key.into(),
        op: "upsert".into(),
        idempotency_key: format!("{kind}-{key}"),
        body: serde_json::json!({}),
        priority: 0,
        coalesce: true,
        resend_may_apply: false,
    }
}

/// A deletion makes the writes to its system for its records moot: a dead letter and an
/// unsent write of the record (and of its levels, by key prefix) become `superseded`; another
/// record's, and another system's, stay.
async fn writes_a_deletion_made_moot_are_superseded(db: &TestDb) {
    let store = &db.store;
    let mut step = StepCommit::new("s1", t0());
    step.outbox = vec![
        write("variant", "SKU-1"),
        write("inventory-level", "SKU-1@1"),
        write("inventory-level", "SKU-10@1"),
        write("variant", "SKU-2"),
    ];
    store.commit_step(&step).await.unwrap();
    // The variant's write was sent and died.
    let claimed = store
        .claim_due(
            t0() + chrono::Duration::hours(1),
            1,
            std::time::Duration::from_secs(60),
            Some("s1"),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let dead = &claimed[0];
    store
        .dead_letter(dead.id, dead.claim_token.as_deref().unwrap(), "gone", t0())
        .await
        .unwrap();
    let mut step = StepCommit::new("s1", t0());
    for (kind, key, prefix) in [
        ("variant", "SKU-1", false),
        ("inventory-level", "SKU-1@", true),
    ] {
        step.moot_writes.push(weft_store::MootWrites {
            system: "shopify".into(),
            kind: kind.into(),
            key: key.into(),
            prefix,
        });
    }
    step.golden.push(weft_store::GoldenUpsert {
        kind: "variant".into(),
        key: "SKU-1".into(),
        fields: serde_json::json!({"active": false}),
        field_meta: serde_json::json!({"weft:deleted": {"shopify": {"seq": 1}}}),
    });
    store.commit_step(&step).await.unwrap();
    let rows = store.list_outbox(Some("s1"), None, 100).await.unwrap();
    let status = |kind: &str, key: &str| {
        rows.iter()
            .find(|r| r.kind == kind && r.key == key)
            .map(|r| r.status)
            .unwrap()
    };
    use weft_store::OutboxStatus::{Pending, Superseded};
    assert_eq!(status("variant", "SKU-1"), Superseded, "the dead letter");
    assert_eq!(status("inventory-level", "SKU-1@1"), Superseded, "unsent");
    assert_eq!(
        status("inventory-level", "SKU-10@1"),
        Pending,
        "another SKU's level"
    );
    assert_eq!(status("variant", "SKU-2"), Pending);
    assert_eq!(store.status("s1").await.unwrap().outbox.dead, 0);
    let tombs = store.golden_tombstones("s1").await.unwrap();
    assert_eq!(tombs.len(), 1);
    assert_eq!(tombs[0].0, "variant");
}

suite!(
    held_deletions_are_listed_counted_and_released_exactly,
    discarded_deletions_are_dropped,
    golden_counts_and_entity_ids_by_kind,
    writes_a_deletion_made_moot_are_superseded,
);
