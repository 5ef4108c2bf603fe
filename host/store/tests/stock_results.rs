//! What the engine's stock rules rely on from the store, on SQLite and on PostgreSQL (at
//! `WEFT_TEST_POSTGRES_URL`; skipped with a message when unset):
//! - a completion journals the write's result in its own transaction, once per idempotency key;
//! - `unsettled_writes` tells writes in flight and applied writes whose result lies after what
//!   a step read from writes whose effect is known (results already read, writes refused);
//! - a NetSuite stock set that was sent is never superseded or coalesced away;
//! - readings set aside by a step come back with what they wait for, and leave when processed;
//! - a stock write without a versioned result records its target unless a step recorded it
//!   since the write was planned (atomically on PostgreSQL too).

#[macro_use]
mod common;

use std::time::Duration;

use common::{TestDb, t0};
use serde_json::json;
use weft_store::{
    Completion, NewJournalEntry, NewOutboxRow, ObservedTarget, OutboxStatus, Parked, Source,
    StepCommit, TargetStateUpsert, WRITE_RESULT_DELIVERY_PREFIX,
};

suite!(
    a_completion_journals_its_result_once,
    unsettled_writes_follow_results_not_clocks,
    a_sent_netsuite_stock_set_is_never_replaced,
    parked_readings_come_back_until_processed,
    a_result_without_a_version_records_the_target_unless_it_moved,
);

const LEASE: Duration = Duration::from_secs(30);
const KEY: &str = "SKU-1@1";

fn stock_row(system: &str, idem: &str, quantity: i64) -> NewOutboxRow {
    NewOutboxRow {
        system: system.into(),
        kind: "inventory-level".into(),
        key: KEY.into(),
        op: "set-quantity".into(),
        idempotency_key: idem.into(),
        body: json!({"desired": {"quantity": quantity}, "expected_quantity": 50}),
        priority: 30,
        coalesce: true,
        // The ERP's stock set is read, compare, adjust: a resend may find it applied.
        resend_may_apply: system == "netsuite",
    }
}

fn result(system: &str, idem: &str, version: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: "s1".into(),
        system: system.into(),
        kind: "inventory-level".into(),
        entity_id: "1201@1".into(),
        version: version.into(),
        source: Source::Poll,
        delivery_id: Some(format!("{WRITE_RESULT_DELIVERY_PREFIX}{idem}")),
        body: json!({"weft_write": {"key": KEY, "before": 50, "after": {"quantity": 60}}}),
        received_at: t0(),
    }
}

fn reading(version: &str, quantity: i64) -> NewJournalEntry {
    NewJournalEntry {
        store_id: "s1".into(),
        system: "netsuite".into(),
        kind: "inventory-level".into(),
        entity_id: "1201@1".into(),
        version: version.into(),
        source: Source::Cdc,
        delivery_id: None,
        body: json!({"item_id": "1201", "location_id": "1", "quantity_on_hand": quantity}),
        received_at: t0(),
    }
}

async fn enqueue(db: &TestDb, rows: Vec<NewOutboxRow>) {
    let mut step = StepCommit::new("s1", t0());
    step.outbox = rows;
    db.store.commit_step(&step).await.unwrap();
}

async fn claim_one(db: &TestDb) -> weft_store::OutboxRow {
    let mut rows = db
        .store
        .claim_due(t0(), 10, LEASE, Some("s1"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

async fn complete(db: &TestDb, row: &weft_store::OutboxRow, journal: Vec<NewJournalEntry>) {
    let completion = Completion {
        journal,
        ..Completion::default()
    };
    db.store
        .complete(
            row.id,
            row.claim_token.as_deref().unwrap(),
            &completion,
            t0(),
        )
        .await
        .unwrap();
}

async fn a_completion_journals_its_result_once(db: &TestDb) {
    let s = &db.store;
    enqueue(db, vec![stock_row("netsuite", "w1", 60)]).await;
    let row = claim_one(db).await;
    complete(
        db,
        &row,
        vec![result("netsuite", "w1", "2026-11-26T12:00:05Z")],
    )
    .await;
    let journal = s.journal_since("s1", 0, 100).await.unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(
        journal[0].delivery_id.as_deref(),
        Some(format!("{WRITE_RESULT_DELIVERY_PREFIX}w1").as_str())
    );
    assert_eq!(
        s.outbox_row(row.id).await.unwrap().unwrap().status,
        OutboxStatus::Done
    );
    // The same write answered again (sent again after a lost answer) journals nothing new.
    let again = s
        .append(result("netsuite", "w1", "2026-11-26T12:00:05Z"))
        .await
        .unwrap();
    assert!(!again.is_inserted());
    // A lost claim commits neither the done nor the result.
    enqueue(db, vec![stock_row("netsuite", "w2", 61)]).await;
    let row = claim_one(db).await;
    let lost = s
        .complete(
            row.id,
            "not-the-token",
            &Completion {
                journal: vec![result("netsuite", "w2", "2026-11-26T12:00:06Z")],
                ..Completion::default()
            },
            t0(),
        )
        .await;
    assert!(lost.is_err());
    assert_eq!(s.journal_since("s1", 0, 100).await.unwrap().len(), 1);
}

async fn unsettled_writes_follow_results_not_clocks(db: &TestDb) {
    let s = &db.store;
    let unsettled = |after: i64| async move {
        db.store
            .unsettled_writes("s1", "netsuite", "inventory-level", KEY, after)
            .await
            .unwrap()
            .into_iter()
            .map(|w| (w.id, w.status))
            .collect::<Vec<_>>()
    };
    enqueue(db, vec![stock_row("netsuite", "w1", 60)]).await;
    assert!(
        unsettled(0).await.is_empty(),
        "queued, not sent: nothing to wait for"
    );
    let row = claim_one(db).await;
    assert_eq!(unsettled(0).await, vec![(row.id, OutboxStatus::Inflight)]);
    complete(
        db,
        &row,
        vec![result("netsuite", "w1", "2026-11-26T12:00:05Z")],
    )
    .await;
    let seq = s.journal_head("s1").await.unwrap();
    // Applied: unsettled for a reader that has not reached its result, settled after it.
    assert_eq!(unsettled(seq - 1).await, vec![(row.id, OutboxStatus::Done)]);
    assert!(unsettled(seq).await.is_empty());
    // A write refused as stale journals no result: nothing to wait for once it is done.
    enqueue(db, vec![stock_row("netsuite", "w2", 61)]).await;
    let row = claim_one(db).await;
    complete(db, &row, Vec::new()).await;
    assert!(unsettled(0).await.iter().all(|(id, _)| *id != row.id));
    // `settling_writes` reports the applied one from the instant given.
    let applied = s
        .settling_writes("s1", "netsuite", "inventory-level", KEY, Some(t0()))
        .await
        .unwrap();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0].desired, json!({"quantity": 60}));
}

async fn a_sent_netsuite_stock_set_is_never_replaced(db: &TestDb) {
    let s = &db.store;
    enqueue(db, vec![stock_row("netsuite", "w1", 60)]).await;
    let sent = claim_one(db).await;
    // A newer state is queued while it is in flight; then its answer is lost (a timeout).
    enqueue(db, vec![stock_row("netsuite", "w2", 70)]).await;
    s.retry(
        sent.id,
        sent.claim_token.as_deref().unwrap(),
        t0(),
        "netsuite transient failure: timeout",
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.outbox_row(sent.id).await.unwrap().unwrap().status,
        OutboxStatus::Pending,
        "its adjustment may exist: it is sent again, not superseded"
    );
    // Still unsettled (it may have applied), and a newer row does not coalesce it away.
    let unsettled = s
        .unsettled_writes("s1", "netsuite", "inventory-level", KEY, 0)
        .await
        .unwrap();
    assert_eq!(unsettled.len(), 1);
    assert_eq!(unsettled[0].id, sent.id);
    enqueue(db, vec![stock_row("netsuite", "w3", 80)]).await;
    assert_eq!(
        s.outbox_row(sent.id).await.unwrap().unwrap().status,
        OutboxStatus::Pending
    );
    // It goes first, alone; the newest queued state follows it (w2 was coalesced by w3).
    let next = claim_one(db).await;
    assert_eq!(next.id, sent.id);
}

async fn parked_readings_come_back_until_processed(db: &TestDb) {
    let s = &db.store;
    for (v, q) in [("2026-11-26T12:00:01Z", 49), ("2026-11-26T12:00:02Z", 48)] {
        s.append(reading(v, q)).await.unwrap();
    }
    let journal = s.journal_since("s1", 0, 10).await.unwrap();
    let parked = |seq: i64| Parked {
        seq,
        system: "netsuite".into(),
        kind: "inventory-level".into(),
        key: KEY.into(),
    };
    let mut step = StepCommit::new("s1", t0());
    step.park = journal.iter().map(|e| parked(e.seq)).collect();
    step.advance_cursor_to = Some(journal[1].seq);
    s.commit_step(&step).await.unwrap();
    // Parking one again is harmless.
    let mut again = StepCommit::new("s1", t0());
    again.park = vec![parked(journal[0].seq)];
    s.commit_step(&again).await.unwrap();
    let back = s.parked_entries("s1").await.unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].0, parked(journal[0].seq));
    assert_eq!(back[0].1.body["quantity_on_hand"], 49);
    assert_eq!(back[1].1.seq, journal[1].seq);
    assert_eq!(s.status("s1").await.unwrap().parked, 2);
    // Processed: gone, in the step's transaction.
    let mut done = StepCommit::new("s1", t0());
    done.unpark = vec![journal[0].seq];
    s.commit_step(&done).await.unwrap();
    let back = s.parked_entries("s1").await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].1.seq, journal[1].seq);
    assert!(s.parked_entries("other").await.unwrap().is_empty());
}

async fn a_result_without_a_version_records_the_target_unless_it_moved(db: &TestDb) {
    let s = &db.store;
    let upsert = |quantity: i64| TargetStateUpsert {
        system: "netsuite".into(),
        kind: "inventory-level".into(),
        key: KEY.into(),
        fields: json!({"quantity": quantity}),
    };
    let holds = || async {
        s.target_state("s1", "netsuite", "inventory-level", KEY)
            .await
            .unwrap()
            .map(|t| t.fields["quantity"].as_i64().unwrap())
    };
    let mut step = StepCommit::new("s1", t0());
    step.observed_targets.push(ObservedTarget {
        upsert: upsert(50),
        read: None,
    });
    s.commit_step(&step).await.unwrap();
    // Planned against 50 (the row's guard) and applied: the target holds what it set.
    enqueue(db, vec![stock_row("netsuite", "w1", 60)]).await;
    let row = claim_one(db).await;
    let completion = Completion {
        target_states: vec![upsert(60)],
        ..Completion::default()
    };
    s.complete(
        row.id,
        row.claim_token.as_deref().unwrap(),
        &completion,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(holds().await, Some(60));
    // A step recorded 58 since this one was planned against 50: its record stays.
    enqueue(db, vec![stock_row("netsuite", "w2", 70)]).await;
    let row = claim_one(db).await;
    let mut step = StepCommit::new("s1", t0());
    step.observed_targets.push(ObservedTarget {
        upsert: upsert(58),
        read: Some(json!({"quantity": 60})),
    });
    s.commit_step(&step).await.unwrap();
    let completion = Completion {
        target_states: vec![upsert(70)],
        ..Completion::default()
    };
    s.complete(
        row.id,
        row.claim_token.as_deref().unwrap(),
        &completion,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(holds().await, Some(58));
}
