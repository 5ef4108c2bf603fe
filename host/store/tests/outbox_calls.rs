//! Persisted platform calls (Shopify inventory batches sent with `@idempotent`): a call is saved
//! with its rows before it is sent; while a row points at it the row is never superseded (the
//! call may have applied it), a lost claim persists nothing, releasing a row lets it be replaced
//! again, and purging keeps every call a row still points at. On SQLite and on PostgreSQL (at
//! `WEFT_TEST_POSTGRES_URL`; skipped with a message when unset).

#[macro_use]
mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{TestDb, outbox, t0};
use serde_json::json;
use weft_store::{NewOutboxCall, OutboxStatus, StepCommit};

suite!(
    a_row_waiting_for_its_call_is_not_superseded,
    a_lost_claim_persists_no_call,
    purge_keeps_calls_rows_point_at,
);

const LEASE: Duration = Duration::from_secs(30);

async fn enqueue(db: &TestDb, rows: Vec<weft_store::NewOutboxRow>) {
    let mut step = StepCommit::new("s1", t0());
    step.outbox = rows;
    db.store.commit_step(&step).await.unwrap();
}

fn held(r: &weft_store::OutboxRow) -> (i64, String) {
    (r.id, r.claim_token.clone().unwrap())
}

async fn a_row_waiting_for_its_call_is_not_superseded(db: &TestDb) {
    let s = &db.store;
    enqueue(
        db,
        vec![
            outbox("a", "a1", json!({"v": 1}), true),
            outbox("b", "b1", json!({"v": 1}), true),
        ],
    )
    .await;
    let now = t0() + TimeDelta::seconds(1);
    let claimed = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let payload = json!({"quantities": [{"q": 1}, {"q": 2}]});
    let keys = s
        .open_calls(
            "s1",
            &[NewOutboxCall {
                payload: payload.clone(),
                rows: claimed.iter().map(held).collect(),
            }],
            now,
        )
        .await
        .unwrap()
        .expect("every row is held");
    assert_eq!(keys.len(), 1);
    let call = s.outbox_call(&keys[0]).await.unwrap().unwrap();
    assert_eq!(call.payload, payload);
    assert_eq!(
        call.row_ids,
        claimed.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    assert_eq!(call.store_id, "s1");

    // The call's answer is lost: both rows go back to pending, still pointing at it.
    for r in &claimed {
        s.retry(r.id, r.claim_token.as_deref().unwrap(), now, "timeout", now)
            .await
            .unwrap();
    }
    // Newer states are queued for both: neither old row may be superseded, the call may have
    // applied it.
    enqueue(
        db,
        vec![
            outbox("a", "a2", json!({"v": 2}), true),
            outbox("b", "b2", json!({"v": 2}), true),
        ],
    )
    .await;
    for r in &claimed {
        let now = s.outbox_row(r.id).await.unwrap().unwrap();
        assert_eq!(now.status, OutboxStatus::Pending);
        assert_eq!(now.call_key.as_deref(), Some(keys[0].as_str()));
    }
    // Per-target order: the old rows (and their call) go first.
    let again = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    let mut ids: Vec<i64> = again.iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, call.row_ids);
    assert!(
        again
            .iter()
            .all(|r| r.call_key.as_deref() == Some(keys[0].as_str()))
    );

    // The re-sent call is answered and refuses `a`: released, a retry of `a` is superseded
    // by its newer row as usual; `b` keeps its call until it settles.
    let a = again.iter().find(|r| r.key == "a").unwrap();
    s.release_calls(&[held(a)]).await.unwrap();
    assert_eq!(s.outbox_row(a.id).await.unwrap().unwrap().call_key, None);
    s.retry(a.id, a.claim_token.as_deref().unwrap(), now, "refused", now)
        .await
        .unwrap();
    assert_eq!(
        s.outbox_row(a.id).await.unwrap().unwrap().status,
        OutboxStatus::Superseded
    );
    let b = again.iter().find(|r| r.key == "b").unwrap();
    s.retry(b.id, b.claim_token.as_deref().unwrap(), now, "timeout", now)
        .await
        .unwrap();
    assert_eq!(
        s.outbox_row(b.id).await.unwrap().unwrap().status,
        OutboxStatus::Pending
    );
}

async fn a_lost_claim_persists_no_call(db: &TestDb) {
    let s = &db.store;
    enqueue(
        db,
        vec![
            outbox("a", "a1", json!({"v": 1}), true),
            outbox("b", "b1", json!({"v": 1}), true),
        ],
    )
    .await;
    let now = t0() + TimeDelta::seconds(1);
    let claimed = s
        .claim_due(now, 10, Duration::from_millis(1), Some("s1"))
        .await
        .unwrap();
    // `b`'s lease expired and another dispatcher claimed it.
    let later = now + TimeDelta::seconds(1);
    let stolen = s.claim_due(later, 1, LEASE, Some("s1")).await.unwrap();
    assert_eq!(stolen.len(), 1);
    let rows: Vec<(i64, String)> = claimed.iter().map(held).collect();
    let call = NewOutboxCall {
        payload: json!({"quantities": [{"q": 1}, {"q": 2}]}),
        rows,
    };
    let lost = s
        .open_calls("s1", std::slice::from_ref(&call), later)
        .await
        .unwrap()
        .expect_err("a row is no longer held");
    assert_eq!(lost, vec![stolen[0].id]);
    for r in &claimed {
        assert_eq!(s.outbox_row(r.id).await.unwrap().unwrap().call_key, None);
    }
}

async fn purge_keeps_calls_rows_point_at(db: &TestDb) {
    let s = &db.store;
    enqueue(
        db,
        vec![
            outbox("a", "a1", json!({"v": 1}), true),
            outbox("b", "b1", json!({"v": 1}), true),
        ],
    )
    .await;
    let now = t0() + TimeDelta::seconds(1);
    let claimed = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    let (a, b) = (&claimed[0], &claimed[1]);
    let keys = s
        .open_calls(
            "s1",
            &[
                NewOutboxCall {
                    payload: json!({"n": 1}),
                    rows: vec![held(a)],
                },
                NewOutboxCall {
                    payload: json!({"n": 2}),
                    rows: vec![held(b)],
                },
            ],
            now,
        )
        .await
        .unwrap()
        .unwrap();
    // `a`'s call was answered and refused it: released, it is a dead letter, then discarded.
    s.release_calls(&[held(a)]).await.unwrap();
    s.dead_letter(a.id, a.claim_token.as_deref().unwrap(), "refused", now)
        .await
        .unwrap();
    assert!(s.discard_dead_letter(a.id, now).await.unwrap());
    // `b`'s answer was lost.
    s.retry(b.id, b.claim_token.as_deref().unwrap(), now, "timeout", now)
        .await
        .unwrap();
    let purged = s.purge_outbox(now + TimeDelta::seconds(10)).await.unwrap();
    assert_eq!(purged, 1);
    assert!(s.outbox_call(&keys[0]).await.unwrap().is_none());
    assert!(
        s.outbox_call(&keys[1]).await.unwrap().is_some(),
        "b still waits for its call's answer"
    );
}
