//! Filtered claims (batch top-ups, urgent-only dispatch in quiet hours) and the retry of a row a
//! newer coalescing row replaced, on SQLite and on PostgreSQL (at `WEFT_TEST_POSTGRES_URL`;
//! skipped with a message when unset).

#[macro_use]
mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{TestDb, outbox, t0};
use serde_json::json;
use weft_store::{
    ClaimFilter, Completion, NewOutboxRow, OutboxStatus, StepCommit, TargetStateUpsert,
};

suite!(
    claims_only_what_the_filter_matches,
    a_retried_row_replaced_meanwhile_is_superseded,
    complete_many_settles_each_row_with_its_records,
    next_due_is_the_earliest_retry_or_lapsing_lease,
);

const LEASE: Duration = Duration::from_secs(30);

fn row(system: &str, kind: &str, key: &str, op: &str, priority: i64) -> NewOutboxRow {
    NewOutboxRow {
        system: system.into(),
        kind: kind.into(),
        key: key.into(),
        op: op.into(),
        idempotency_key: format!("{system}-{kind}-{key}-{op}"),
        body: json!({}),
        priority,
        coalesce: true,
        resend_may_apply: false,
    }
}

async fn enqueue(db: &TestDb, rows: Vec<NewOutboxRow>) {
    let mut step = StepCommit::new("s1", t0());
    step.outbox = rows;
    db.store.commit_step(&step).await.unwrap();
}

fn keys(rows: &[weft_store::OutboxRow]) -> Vec<String> {
    let mut k: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    k.sort();
    k
}

async fn claims_only_what_the_filter_matches(db: &TestDb) {
    enqueue(
        db,
        vec![
            row("netsuite", "order", "o1", "upsert", 0),
            row("shopify", "inventory-level", "l1", "set-quantity", 10),
            row("shopify", "inventory-level", "l2", "set-quantity", 10),
            row("netsuite", "inventory-level", "l3", "set-quantity", 10),
            row("shopify", "inventory-level", "l4", "adjust-quantity", 10),
            row("shopify", "price", "p1", "upsert", 20),
        ],
    )
    .await;
    let s = &db.store;
    let now = t0() + TimeDelta::seconds(1);
    // Quiet hours: orders only.
    let urgent = ClaimFilter {
        max_priority: Some(0),
        ..ClaimFilter::default()
    };
    let got = s
        .claim_due_filtered(now, 10, LEASE, Some("s1"), &urgent)
        .await
        .unwrap();
    assert_eq!(keys(&got), ["o1"]);
    // A batch top-up: Shopify inventory set-quantity rows only.
    let batch = ClaimFilter {
        system: Some("shopify".into()),
        kind: Some("inventory-level".into()),
        op: Some("set-quantity".into()),
        max_priority: None,
    };
    let got = s
        .claim_due_filtered(now, 10, LEASE, Some("s1"), &batch)
        .await
        .unwrap();
    assert_eq!(keys(&got), ["l1", "l2"]);
    // The limit holds, and the rest are left to an unfiltered claim.
    let got = s.claim_due(now, 2, LEASE, Some("s1")).await.unwrap();
    assert_eq!(keys(&got), ["l3", "l4"]);
    let got = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    assert_eq!(keys(&got), ["p1"]);

    // Per-target order counts rows the filter does not match: a set-quantity row waits for
    // an older pending write to the same level, whatever its op.
    enqueue(
        db,
        vec![
            row("shopify", "inventory-level", "l9", "adjust-quantity", 10),
            row("shopify", "inventory-level", "l9", "set-quantity", 10),
        ],
    )
    .await;
    let got = s
        .claim_due_filtered(now, 10, LEASE, Some("s1"), &batch)
        .await
        .unwrap();
    assert!(got.is_empty(), "claimed {:?}", keys(&got));
}

async fn a_retried_row_replaced_meanwhile_is_superseded(db: &TestDb) {
    let s = &db.store;
    enqueue(db, vec![outbox("k", "a", json!({"v": 1}), true)]).await;
    enqueue(db, vec![outbox("other", "x", json!({"v": 1}), true)]).await;
    let now = t0() + TimeDelta::seconds(1);
    let claimed = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    assert_eq!(keys(&claimed), ["k", "other"]);
    // A newer state of `k` is queued while its row is in flight.
    enqueue(db, vec![outbox("k", "b", json!({"v": 2}), true)]).await;
    for r in &claimed {
        s.retry(r.id, r.claim_token.as_deref().unwrap(), now, "timeout", now)
            .await
            .unwrap();
    }
    let status = |key: &str| {
        let key = key.to_owned();
        let claimed = claimed.clone();
        async move {
            let id = claimed.iter().find(|r| r.key == key).unwrap().id;
            s.outbox_row(id).await.unwrap().unwrap().status
        }
    };
    // `k`'s old row is never sent again; `other` (nothing newer) is retried as usual.
    assert_eq!(status("k").await, OutboxStatus::Superseded);
    assert_eq!(status("other").await, OutboxStatus::Pending);
    let next = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    let bodies: Vec<_> = next
        .iter()
        .map(|r| (r.key.clone(), r.body.clone()))
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies.contains(&("k".into(), json!({"v": 2}))));
    assert!(bodies.contains(&("other".into(), json!({"v": 1}))));

    // A non-coalescing row (an inventory delta) is always retried: every delta must happen.
    enqueue(db, vec![outbox("d", "d1", json!({"delta": 1}), false)]).await;
    let first = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    let d1 = first.iter().find(|r| r.key == "d").unwrap();
    enqueue(db, vec![outbox("d", "d2", json!({"delta": 2}), false)]).await;
    s.retry(
        d1.id,
        d1.claim_token.as_deref().unwrap(),
        now,
        "timeout",
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        s.outbox_row(d1.id).await.unwrap().unwrap().status,
        OutboxStatus::Pending
    );
}

async fn complete_many_settles_each_row_with_its_records(db: &TestDb) {
    let s = &db.store;
    enqueue(
        db,
        (0..3)
            .map(|i| {
                row(
                    "shopify",
                    "inventory-level",
                    &format!("l{i}"),
                    "set-quantity",
                    10,
                )
            })
            .collect(),
    )
    .await;
    let now = t0() + TimeDelta::seconds(1);
    let mut claimed = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    claimed.sort_by_key(|r| r.key.clone());
    let done = |r: &weft_store::OutboxRow, token: &str, q: i64| {
        let mut c = Completion::default();
        c.target_states.push(TargetStateUpsert {
            system: r.system.clone(),
            kind: r.kind.clone(),
            key: r.key.clone(),
            fields: json!({"quantity": q}),
        });
        c.counters.push(("writes_applied".into(), 1));
        (r.id, token.to_owned(), c)
    };
    let batch = vec![
        done(&claimed[0], claimed[0].claim_token.as_deref().unwrap(), 10),
        // Its claim expired and someone else holds it now: skipped, reported.
        done(&claimed[1], "someone-else", 11),
        done(&claimed[2], claimed[2].claim_token.as_deref().unwrap(), 12),
    ];
    let lost = s.complete_many(&batch, now).await.unwrap();
    assert_eq!(lost, [claimed[1].id]);
    for (r, want) in [
        (&claimed[0], Some(10)),
        (&claimed[1], None),
        (&claimed[2], Some(12)),
    ] {
        let status = s.outbox_row(r.id).await.unwrap().unwrap().status;
        let state = s
            .target_state("s1", "shopify", "inventory-level", &r.key)
            .await
            .unwrap()
            .map(|t| t.fields["quantity"].as_i64().unwrap());
        assert_eq!(state, want, "{}", r.key);
        let expected = if want.is_some() {
            OutboxStatus::Done
        } else {
            OutboxStatus::Inflight
        };
        assert_eq!(status, expected, "{}", r.key);
    }
    assert_eq!(
        s.counters("s1").await.unwrap().get("writes_applied"),
        Some(&2)
    );
}

/// What an idle dispatcher sleeps until: the earliest pending row's next attempt or in-flight
/// row's lease end, of one system when asked; nothing for a store without open rows.
async fn next_due_is_the_earliest_retry_or_lapsing_lease(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.outbox_next_due("s1", None).await.unwrap(), None);
    enqueue(
        db,
        vec![
            row("netsuite", "order", "o1", "upsert", 0),
            row("netsuite", "order", "o2", "upsert", 0),
        ],
    )
    .await;
    let now = t0() + TimeDelta::seconds(1);
    // Pending and due (at or before now).
    let due = s.outbox_next_due("s1", None).await.unwrap().unwrap();
    assert!(due <= now, "{due} should be due by {now}");
    let claimed = s.claim_due(now, 10, LEASE, Some("s1")).await.unwrap();
    assert_eq!(claimed.len(), 2);
    // Both in flight: due when their lease lapses.
    let lease_end = now + TimeDelta::from_std(LEASE).unwrap();
    assert_eq!(
        s.outbox_next_due("s1", None).await.unwrap(),
        Some(lease_end)
    );
    // One waits out a retry backoff of 10 s: that comes first.
    let retry_at = now + TimeDelta::seconds(10);
    let r = &claimed[0];
    s.retry(
        r.id,
        r.claim_token.as_deref().unwrap(),
        retry_at,
        "timeout",
        now,
    )
    .await
    .unwrap();
    assert_eq!(s.outbox_next_due("s1", None).await.unwrap(), Some(retry_at));
    // Another store's rows are not this store's.
    assert_eq!(s.outbox_next_due("s2", None).await.unwrap(), None);
    // A dispatch lane asks for its system's rows only.
    assert_eq!(
        s.outbox_next_due("s1", Some("netsuite")).await.unwrap(),
        Some(retry_at)
    );
    assert_eq!(
        s.outbox_next_due("s1", Some("shopify")).await.unwrap(),
        None
    );
}
