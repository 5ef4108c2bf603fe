//! The dispatcher's lease guard: a host frozen (or cut off from the database) after claiming a
//! write and before sending it must not send it when it wakes. The database fences its next
//! write, not a platform call, so before each send the dispatcher checks by its own clock that
//! its lease on the store, as last renewed, has more than a quarter of its TTL left; otherwise
//! it puts the row back unsent (a fenced write, refused once another host holds the store).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{STORE, counting_dispatcher, variant_row};
use weft_store::{LeaseGrant, OpenOptions, OutboxStatus, StepCommit, Store};

const TTL: Duration = Duration::from_secs(8);

async fn enqueue(db: &Store, key: &str) {
    let mut step = StepCommit::new(STORE, Utc::now() - TimeDelta::seconds(60));
    step.outbox = vec![variant_row("shopify", key)];
    db.commit_step(&step).await.unwrap();
}

async fn pending(db: &Store) -> Vec<weft_store::OutboxRow> {
    db.list_outbox(Some(STORE), Some(OutboxStatus::Pending), 10)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_claimed_write_is_not_sent_once_the_lease_may_have_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open_with(
        &dir.path().join("weft.sqlite").to_string_lossy(),
        OpenOptions::default(),
    )
    .await
    .unwrap();
    let sent = Arc::new(AtomicUsize::new(0));

    // Host `a` took the lease 7 s ago with an 8 s TTL and has not renewed it since (it was
    // frozen): 1 s left by its own clock, under a quarter of the TTL.
    let LeaseGrant::Acquired(fence) = db
        .acquire_lease(STORE, "a", "a-1", TTL, Utc::now() - TimeDelta::seconds(7))
        .await
        .unwrap()
    else {
        panic!("the lease is free");
    };
    assert!(fence.unsafe_to_act(Utc::now()).is_some());
    let a = counting_dispatcher(db.fenced(fence.clone()), &sent);
    enqueue(&db, "v1").await;
    let r = a.run_once().await.unwrap();
    assert_eq!((r.claimed, r.applied, r.retried), (1, 0, 1), "{r:?}");
    assert_eq!(
        sent.load(Ordering::SeqCst),
        0,
        "sent on a lease that may have run out"
    );
    // The row is back in the queue, unsent, saying why.
    let rows = pending(&db).await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("not sent, left for whoever holds the store")),
        "{:?}",
        rows[0].last_error
    );

    // Renewed (the lease was still `a`'s): the write goes once it is due.
    db.renew_lease(&fence, TTL, Utc::now()).await.unwrap();
    assert!(fence.unsafe_to_act(Utc::now()).is_none());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = a.run_once().await.unwrap();
    assert_eq!((r.claimed, r.applied), (1, 1), "{r:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 1);

    // `a`'s renewer stalls (its last renewal 7 s ago by its clock) while its dispatcher claims
    // the next write: not sent, left in the queue.
    db.renew_lease(&fence, TTL, Utc::now() - TimeDelta::seconds(7))
        .await
        .unwrap();
    enqueue(&db, "v2").await;
    let r = a.run_once().await.unwrap();
    assert_eq!((r.claimed, r.applied, r.retried), (1, 0, 1), "{r:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 1);

    // Its lease expires; host `b` takes the store over and its dispatcher sends the write.
    let LeaseGrant::Acquired(b_fence) = db
        .acquire_lease(STORE, "b", "b-1", TTL, Utc::now() + TimeDelta::seconds(2))
        .await
        .unwrap()
    else {
        panic!("a's lease has expired by then");
    };
    assert!(b_fence.epoch() > fence.epoch());
    let b = counting_dispatcher(db.fenced(b_fence), &sent);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = b.run_once().await.unwrap();
    assert_eq!((r.claimed, r.applied), (1, 1), "{r:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 2);
    assert!(pending(&db).await.is_empty());

    // `a`, woken, writes nothing more: its next claim is fenced.
    enqueue(&db, "v3").await;
    let e = a.run_once().await.unwrap_err();
    assert!(e.to_string().contains("fenced") || fence.is_lost(), "{e}");
    assert!(fence.is_lost());
    assert_eq!(sent.load(Ordering::SeqCst), 2);
}
