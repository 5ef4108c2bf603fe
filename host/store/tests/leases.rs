//! Store leases and fencing on both backends (PostgreSQL skipped with a message when
//! `WEFT_TEST_POSTGRES_URL` is unset): one holder at a time, a new epoch for every tenure, a
//! handle fenced by a lost tenure writes nothing (steps, outbox claims and settlements,
//! watermarks, journal pages with their watermark), renewals and hand-backs, heartbeats, and
//! the notices that tell other hosts of a hand-back, a clean stop or an arrival.

#[macro_use]
mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{TestDb, outbox, product, t0};
use serde_json::json;
use weft_store::{
    Completion, Fence, HostNotice, LeaseGrant, StepCommit, StoreError, WatermarkUpdate,
};

suite!(
    leases_are_exclusive_and_every_tenure_has_a_larger_epoch,
    a_fenced_handle_writes_nothing_after_a_takeover,
    a_restarted_host_with_the_same_id_fences_its_predecessor,
    renewals_hand_backs_and_heartbeats,
    a_heartbeat_renews_every_lease_of_its_process,
    hosts_hear_of_hand_backs_clean_stops_arrivals_and_new_entries,
);

const TTL: Duration = Duration::from_secs(10);

async fn take(db: &TestDb, store: &str, holder: &str, instance: &str, at_s: i64) -> Fence {
    match db
        .store
        .acquire_lease(
            store,
            holder,
            instance,
            TTL,
            t0() + TimeDelta::seconds(at_s),
        )
        .await
        .unwrap()
    {
        LeaseGrant::Acquired(f) => f,
        other => panic!("{holder} should get the lease of {store} at +{at_s}s: {other:?}"),
    }
}

async fn leases_are_exclusive_and_every_tenure_has_a_larger_epoch(db: &TestDb) {
    let s = &db.store;
    let a = take(db, "s1", "host-a", "a1", 0).await;
    assert_eq!(a.epoch(), 1);
    assert_eq!(a.expires_at(), t0() + TimeDelta::seconds(10));
    match s
        .acquire_lease("s1", "host-b", "b1", TTL, t0() + TimeDelta::seconds(5))
        .await
        .unwrap()
    {
        LeaseGrant::HeldBy { holder, expires_at } => {
            assert_eq!(holder, "host-a");
            assert_eq!(expires_at, t0() + TimeDelta::seconds(10));
        }
        other => panic!("host-b got {other:?}"),
    }
    // The holder renews; host-b still cannot take it at +15 s.
    assert_eq!(
        s.renew_lease(&a, TTL, t0() + TimeDelta::seconds(9))
            .await
            .unwrap(),
        t0() + TimeDelta::seconds(19)
    );
    assert!(
        !s.acquire_lease("s1", "host-b", "b1", TTL, t0() + TimeDelta::seconds(15))
            .await
            .unwrap()
            .is_acquired()
    );
    // Expired: host-b takes it over with a larger epoch; host-a's renewal is refused.
    let b = take(db, "s1", "host-b", "b1", 20).await;
    assert!(b.epoch() > a.epoch());
    let err = s
        .renew_lease(&a, TTL, t0() + TimeDelta::seconds(20))
        .await
        .unwrap_err();
    assert!(err.is_fenced(), "{err}");
    assert!(err.to_string().contains("host-b"), "{err}");
    assert!(a.is_lost());
    assert!(!s.release_lease(&a).await.unwrap());
    let lease = s.lease("s1").await.unwrap().unwrap();
    assert_eq!((lease.holder.as_str(), lease.epoch), ("host-b", b.epoch()));
    // Handed back: free at once, and the next tenure's epoch is larger still.
    assert!(s.release_lease(&b).await.unwrap());
    assert!(b.is_lost());
    let a2 = take(db, "s1", "host-a", "a1", 21).await;
    assert!(a2.epoch() > b.epoch());

    // Many hosts race for one free lease: exactly one wins.
    let mut tasks = Vec::new();
    for h in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.acquire_lease("s-race", &format!("host-{h}"), "i", TTL, t0())
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap().is_acquired() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    let all = s.leases().await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.store_id.as_str()).collect::<Vec<_>>(),
        ["s-race", "s1"]
    );
}

async fn a_fenced_handle_writes_nothing_after_a_takeover(db: &TestDb) {
    let s = &db.store;
    let seq = s
        .append(product("101", "2026-11-26T10:00:00Z", "Sweater"))
        .await
        .unwrap()
        .seq();
    let seq2 = s
        .append(product("102", "2026-11-26T10:00:00Z", "Hat"))
        .await
        .unwrap()
        .seq();
    let fa = take(db, "s1", "host-a", "a1", 0).await;
    let a = s.fenced(fa.clone());
    assert_eq!(a.fence(), Some(&fa));

    // While it holds the lease, host-a writes as usual.
    let mut step = StepCommit::new("s1", t0());
    step.outbox
        .push(outbox("WEB-1", "k-1", json!({"price": "1"}), false));
    step.outbox
        .push(outbox("WEB-2", "k-2", json!({"price": "2"}), false));
    step.advance_cursor_to = Some(seq);
    a.commit_step(&step).await.unwrap();
    let claimed = a
        .claim_due(t0(), 1, Duration::from_secs(60), Some("s1"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let wm = WatermarkUpdate {
        stream: "shopify:products".into(),
        value: json!({"updated_at": "2026-11-26T10:00:00Z"}),
    };
    a.set_watermark("s1", &wm, t0()).await.unwrap();

    // host-a stalls past its TTL (a pause, a partition); host-b takes the store over.
    let fb = take(db, "s1", "host-b", "b1", 30).await;
    let b = s.fenced(fb.clone());
    assert!(!fa.is_lost(), "host-a has not noticed yet");

    // host-a wakes up: every write it tries is refused, and nothing of it lands.
    let fenced = |r: Result<(), StoreError>, what: &str| match r {
        Err(e) if e.is_fenced() => assert!(
            e.to_string().contains("host-b") || e.to_string().contains("no longer"),
            "{what}: {e}"
        ),
        other => panic!("{what} through a fenced handle: {other:?}"),
    };
    let mut late = StepCommit::new("s1", t0() + TimeDelta::seconds(31));
    late.outbox
        .push(outbox("WEB-3", "k-3", json!({"price": "3"}), false));
    late.advance_cursor_to = Some(seq2);
    fenced(a.commit_step(&late).await.map(|_| ()), "a step");
    assert!(fa.is_lost(), "the first refusal ends the tenure");
    tokio::time::timeout(Duration::from_secs(1), fa.lost())
        .await
        .expect("lost() resolves once fenced");
    fenced(
        a.claim_due(
            t0() + TimeDelta::seconds(31),
            10,
            Duration::from_secs(60),
            Some("s1"),
        )
        .await
        .map(|_| ()),
        "a claim",
    );
    let token = claimed[0].claim_token.clone().unwrap();
    fenced(
        a.complete(
            claimed[0].id,
            &token,
            &Completion::default(),
            t0() + TimeDelta::seconds(31),
        )
        .await,
        "a settlement",
    );
    fenced(
        a.retry(claimed[0].id, &token, t0(), "x", t0()).await,
        "a retry",
    );
    let wm2 = WatermarkUpdate {
        stream: "shopify:products".into(),
        value: json!({"updated_at": "2026-11-26T11:00:00Z"}),
    };
    fenced(
        a.set_watermark("s1", &wm2, t0() + TimeDelta::seconds(31))
            .await,
        "a watermark",
    );
    fenced(
        a.append_with_watermark(
            vec![product("103", "2026-11-26T11:00:00Z", "Scarf")],
            "s1",
            wm2.clone(),
            t0(),
        )
        .await
        .map(|_| ()),
        "a poll page",
    );
    fenced(
        a.renew_lease(&fa, TTL, t0() + TimeDelta::seconds(31))
            .await
            .map(|_| ()),
        "a renewal",
    );
    assert_eq!(s.cursor("s1").await.unwrap(), seq);
    assert_eq!(
        s.watermark("s1", "shopify:products").await.unwrap(),
        Some(wm.value.clone())
    );
    assert!(!s.outbox_key_exists("k-3").await.unwrap());
    let row = s.outbox_row(claimed[0].id).await.unwrap().unwrap();
    assert_eq!(row.claim_token.as_deref(), Some(token.as_str()));
    assert_eq!(s.journal_head("s1").await.unwrap(), seq2);

    // The new owner recovers host-a's write in flight and carries on.
    b.retry(
        claimed[0].id,
        &token,
        t0() + TimeDelta::seconds(30),
        "the previous owner stopped",
        t0() + TimeDelta::seconds(30),
    )
    .await
    .unwrap();
    let again = b
        .claim_due(
            t0() + TimeDelta::seconds(31),
            10,
            Duration::from_secs(60),
            Some("s1"),
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    b.commit_step(&late).await.unwrap();
    assert_eq!(s.cursor("s1").await.unwrap(), seq2);
    // Other stores' writes are not fenced by s1's lease; unfenced handles are never fenced.
    let mut other = StepCommit::new("s2", t0());
    other.advance_cursor_to = Some(seq2);
    s.commit_step(&other).await.unwrap();
}

async fn a_restarted_host_with_the_same_id_fences_its_predecessor(db: &TestDb) {
    let s = &db.store;
    let first = take(db, "s1", "host-a", "process-1", 0).await;
    // The process was killed; host-a starts again (same host id, new process) long before the
    // lease expires, and takes its store back at once with a new tenure.
    let second = take(db, "s1", "host-a", "process-2", 1).await;
    assert!(second.epoch() > first.epoch());
    // Had the first process only been paused, it can no longer write.
    let err = s
        .fenced(first.clone())
        .set_watermark(
            "s1",
            &WatermarkUpdate {
                stream: "x".into(),
                value: json!(1),
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert!(err.is_fenced(), "{err}");
    s.fenced(second)
        .set_watermark(
            "s1",
            &WatermarkUpdate {
                stream: "x".into(),
                value: json!(2),
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(s.watermark("s1", "x").await.unwrap(), Some(json!(2)));
}

async fn renewals_hand_backs_and_heartbeats(db: &TestDb) {
    let s = &db.store;
    let f1 = take(db, "s1", "host-a", "a1", 0).await;
    let f2 = take(db, "s2", "host-a", "a1", 0).await;
    let _other = take(db, "s3", "host-b", "b1", 0).await;
    let mut held = s
        .renew_leases("host-a", "a1", TTL, t0() + TimeDelta::seconds(5))
        .await
        .unwrap();
    held.sort();
    assert_eq!(
        held,
        [("s1".to_owned(), f1.epoch()), ("s2".to_owned(), f2.epoch())]
    );
    assert_eq!(
        s.lease("s1").await.unwrap().unwrap().expires_at,
        t0() + TimeDelta::seconds(15)
    );
    // An expired lease nobody took is renewed safely: its epoch is unchanged.
    assert!(
        s.renew_lease(&f1, TTL, t0() + TimeDelta::seconds(40))
            .await
            .is_ok()
    );
    // Handed back: it is not renewed any more, and another host takes it at once.
    assert!(s.release_lease(&f2).await.unwrap());
    let held = s
        .renew_leases("host-a", "a1", TTL, t0() + TimeDelta::seconds(41))
        .await
        .unwrap();
    assert_eq!(held, [("s1".to_owned(), f1.epoch())]);
    let b2 = take(db, "s2", "host-b", "b1", 41).await;
    assert!(b2.epoch() > f2.epoch());

    // Heartbeats: one row per host id; a second live process under one id is reported.
    let at = t0();
    assert_eq!(
        s.heartbeat("host-a", "a1", at, TTL, at).await.unwrap(),
        None
    );
    assert_eq!(
        s.heartbeat("host-b", "b1", at, TTL, at).await.unwrap(),
        None
    );
    assert_eq!(
        s.heartbeat("host-a", "a1", at, TTL, at + TimeDelta::seconds(3))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.heartbeat("host-a", "a2", at, TTL, at + TimeDelta::seconds(4))
            .await
            .unwrap(),
        Some("a1".to_owned())
    );
    let hosts = s.hosts().await.unwrap();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0].host_id, "host-a");
    assert_eq!(hosts[0].instance, "a2");
    assert_eq!(hosts[0].expires_at, at + TimeDelta::seconds(14));
    // A clean shutdown removes only its own process's heartbeat.
    s.remove_host("host-a", "a1").await.unwrap();
    assert_eq!(s.hosts().await.unwrap().len(), 2);
    s.remove_host("host-a", "a2").await.unwrap();
    assert_eq!(s.hosts().await.unwrap().len(), 1);
    // A process killed and restarted at once: its predecessor's beat has not expired, but it
    // was the last before the new process started, so it is no second live process; one that
    // beats after the new process started is.
    let beat = |instance: &'static str, started: i64, secs: i64| {
        s.heartbeat(
            "host-c",
            instance,
            at + TimeDelta::seconds(started),
            TTL,
            at + TimeDelta::seconds(secs),
        )
    };
    assert_eq!(beat("c1", 0, 10).await.unwrap(), None);
    assert_eq!(beat("c2", 12, 12).await.unwrap(), None);
    assert_eq!(beat("c1", 0, 13).await.unwrap(), Some("c2".to_owned()));
    assert_eq!(beat("c2", 12, 15).await.unwrap(), Some("c1".to_owned()));
}

/// A host renews its leases by beating: one row, however many stores it holds. Only the leases
/// of the beating process (host id and instance) are renewed, never one handed back, and once
/// the beats stop the leases run out a TTL after the last one.
async fn a_heartbeat_renews_every_lease_of_its_process(db: &TestDb) {
    let s = &db.store;
    let at = |secs: i64| t0() + TimeDelta::seconds(secs);
    let f1 = take(db, "s1", "host-a", "a1", 0).await;
    let f2 = take(db, "s2", "host-a", "a1", 0).await;
    let _b = take(db, "s3", "host-b", "b1", 0).await;
    assert_eq!(s.held_lease_count("host-a", "a1").await.unwrap(), 2);
    // Beats every 5 s: the leases (own expiry +10 s) run a TTL past the last beat.
    for secs in [5, 10, 15, 20] {
        s.heartbeat("host-a", "a1", t0(), TTL, at(secs))
            .await
            .unwrap();
    }
    assert_eq!(s.lease("s1").await.unwrap().unwrap().expires_at, at(30));
    // host-b's lease is not host-a's to renew.
    assert_eq!(s.lease("s3").await.unwrap().unwrap().expires_at, at(10));
    match s
        .acquire_lease("s1", "host-b", "b1", TTL, at(29))
        .await
        .unwrap()
    {
        LeaseGrant::HeldBy { holder, expires_at } => {
            assert_eq!(holder, "host-a");
            assert_eq!(expires_at, at(30));
        }
        other => panic!("host-b took a lease host-a's beats renewed: {other:?}"),
    }
    let mut held = s.held_leases("host-a", "a1").await.unwrap();
    held.sort();
    assert_eq!(
        held,
        [("s1".to_owned(), f1.epoch()), ("s2".to_owned(), f2.epoch())]
    );
    // Handed back: no beat keeps it.
    assert!(s.release_lease(&f2).await.unwrap());
    s.heartbeat("host-a", "a1", t0(), TTL, at(25))
        .await
        .unwrap();
    assert!(!s.lease("s2").await.unwrap().unwrap().is_held(at(26)));
    assert_eq!(s.held_lease_count("host-a", "a1").await.unwrap(), 1);
    let b2 = take(db, "s2", "host-b", "b1", 26).await;
    assert!(b2.epoch() > f2.epoch());
    // Another process under host-a's id beats: a1's leases keep only their own expiry.
    s.heartbeat("host-a", "a2", at(26), TTL, at(26))
        .await
        .unwrap();
    assert_eq!(s.lease("s1").await.unwrap().unwrap().expires_at, at(10));
    // The beats stopped (a2's too): the lease is free a TTL after the last one.
    let b1 = take(db, "s1", "host-b", "b1", 37).await;
    assert!(b1.epoch() > f1.epoch());
    assert_eq!(s.held_lease_count("host-a", "a1").await.unwrap(), 0);
    assert_eq!(s.held_lease_count("host-b", "b1").await.unwrap(), 3);
}

/// A holder stopped inside a fenced write (SIGSTOP, a VM pause) on PostgreSQL: its session sits
/// idle in a transaction holding the lease row under `FOR KEY SHARE` (what every fenced write
/// takes first) and the lock of an outbox row it claimed. The taker is told at once that the
/// lease is not free yet instead of queueing behind it, takes it as soon as the server has
/// ended the stopped session (`idle_in_transaction_session_timeout`, a third of the TTL), and
/// can settle the row the stopped holder had locked; the stopped transaction commits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_holder_stopped_inside_a_write_does_not_block_the_takeover() {
    use sqlx::Connection as _;
    use std::str::FromStr as _;
    let Some(db) = common::postgres_db().await else {
        return;
    };
    let lease_ttl = Duration::from_secs(6);
    let options = db.options.clone().with_lease_ttl(lease_ttl);
    assert_eq!(
        options.postgres_session_settings(),
        [
            ("idle_in_transaction_session_timeout", "2000ms".to_owned()),
            ("lock_timeout", "6000ms".to_owned())
        ]
    );
    let s = weft_store::Store::open_with(&db.url, options.clone())
        .await
        .unwrap();
    let fa = match s
        .acquire_lease("s1", "host-a", "a1", TTL, t0())
        .await
        .unwrap()
    {
        LeaseGrant::Acquired(f) => f,
        other => panic!("host-a: {other:?}"),
    };
    let a = s.fenced(fa.clone());
    let mut step = StepCommit::new("s1", t0());
    step.outbox
        .push(outbox("WEB-1", "k-1", json!({"price": "1"}), false));
    a.commit_step(&step).await.unwrap();
    let claimed = a
        .claim_due(t0(), 1, Duration::from_secs(60), Some("s1"))
        .await
        .unwrap();
    let (id, token) = (claimed[0].id, claimed[0].claim_token.clone().unwrap());

    // host-a's next write stops half way, in a session set up as the store sets up its own.
    let schema = db.options.postgres_schema.clone().unwrap();
    let connect = sqlx::postgres::PgConnectOptions::from_str(&db.url)
        .unwrap()
        .options([("search_path", schema.as_str())])
        .options(options.postgres_session_settings());
    let mut stopped = sqlx::PgConnection::connect_with(&connect).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut stopped).await.unwrap();
    sqlx::query("SELECT epoch FROM leases WHERE store_id = 's1' FOR KEY SHARE")
        .execute(&mut stopped)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET claim_token = claim_token WHERE id = $1")
        .bind(id)
        .execute(&mut stopped)
        .await
        .unwrap();
    let stopped_at = std::time::Instant::now();

    // host-b, once the lease has expired: not free yet, said without waiting on the lock.
    let later = t0() + TimeDelta::seconds(30);
    let asked = std::time::Instant::now();
    match s
        .acquire_lease("s1", "host-b", "b1", TTL, later)
        .await
        .unwrap()
    {
        LeaseGrant::HeldBy { holder, .. } => {
            assert!(
                holder.contains("host-a") && holder.contains("still open"),
                "{holder}"
            )
        }
        other => panic!("host-b took a lease whose holder's write is still open: {other:?}"),
    }
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "the acquisition waited {:?} on the stopped holder",
        asked.elapsed()
    );
    // The server ends the stopped session; host-b then takes the store, within the TTL.
    let fb = loop {
        match s
            .acquire_lease("s1", "host-b", "b1", TTL, later)
            .await
            .unwrap()
        {
            LeaseGrant::Acquired(f) => break f,
            LeaseGrant::HeldBy { .. } => {
                assert!(
                    stopped_at.elapsed() < lease_ttl,
                    "host-b could not take the lease {:?} after host-a stopped",
                    stopped_at.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(fb.epoch() > fa.epoch());
    // The row host-a had locked is host-b's to settle: its write is due again.
    let b = s.fenced(fb);
    b.retry(id, &token, later, "the previous holder stopped", later)
        .await
        .unwrap();
    assert_eq!(
        b.claim_due(later, 10, Duration::from_secs(60), Some("s1"))
            .await
            .unwrap()
            .len(),
        1
    );
    // host-a resumes: its transaction is gone, and its next write through the store is fenced.
    assert!(
        sqlx::raw_sql("COMMIT").execute(&mut stopped).await.is_err(),
        "the stopped session's transaction outlived the takeover"
    );
    let err = a
        .set_watermark(
            "s1",
            &WatermarkUpdate {
                stream: "x".into(),
                value: json!(1),
            },
            later,
        )
        .await
        .unwrap_err();
    assert!(err.is_fenced(), "{err}");
    s.close().await;
    db.cleanup().await;
}

/// On PostgreSQL a host hears at once when another hands a lease back, stops cleanly (removes
/// its heartbeat) or joins (its first beat), and not of a mere renewal; and which store got new
/// journal entries (once per store and transaction, not for duplicates), with the systems whose
/// new entries include hints. SQLite (one host) has no listener.
async fn hosts_hear_of_hand_backs_clean_stops_arrivals_and_new_entries(db: &TestDb) {
    let s = &db.store;
    let Some(mut notices) = s.host_notices().await.unwrap() else {
        assert_eq!(s.backend(), weft_store::Backend::Sqlite);
        return;
    };
    let beat = |at_s: i64| s.heartbeat("host-b", "b1", t0(), TTL, t0() + TimeDelta::seconds(at_s));
    beat(0).await.unwrap();
    assert_eq!(
        heard(&mut notices).await,
        Some(HostNotice::Shares),
        "an arrival"
    );
    beat(2).await.unwrap();
    assert!(quiet(&mut notices).await, "a renewal is no news");
    let f = take(db, "s1", "host-b", "b1", 2).await;
    assert!(s.release_lease(&f).await.unwrap());
    assert_eq!(
        heard(&mut notices).await,
        Some(HostNotice::Shares),
        "a hand-back"
    );
    s.remove_host("host-b", "b1").await.unwrap();
    assert_eq!(
        heard(&mut notices).await,
        Some(HostNotice::Shares),
        "a clean stop"
    );

    let a = product("p1", "2026-11-26T10:00:00Z", "Hat");
    let mut b = product("p2", "2026-11-26T10:00:00Z", "Scarf");
    b.store_id = "s2".into();
    // Hints in s2: two of system `bc` (named once), one of `ns`.
    let hint = |system: &str, id: &str| {
        let mut h = product(id, "2026-11-26T10:00:00Z", "");
        (h.store_id, h.system, h.kind) = ("s2".into(), system.into(), weft_store::HINT_KIND.into());
        h.body = json!({ "names": id });
        h
    };
    s.append_batch(vec![
        a.clone(),
        b,
        hint("bc", "product:1"),
        hint("ns", "item:7"),
        hint("bc", "product:2"),
        a.clone(),
    ])
    .await
    .unwrap();
    let mut got = vec![heard(&mut notices).await, heard(&mut notices).await];
    got.sort_by_key(|n| format!("{n:?}"));
    assert_eq!(
        got,
        [
            Some(HostNotice::Journal {
                store: "s1".into(),
                hinted: vec![]
            }),
            Some(HostNotice::Journal {
                store: "s2".into(),
                hinted: vec!["bc".into(), "ns".into()]
            })
        ]
    );
    assert!(
        quiet(&mut notices).await,
        "one notice per store and transaction"
    );
    assert!(!s.append(a).await.unwrap().is_inserted());
    assert!(quiet(&mut notices).await, "a duplicate is no news");
}

/// The next notice heard within 10 s, if any.
async fn heard(n: &mut weft_store::HostNotices) -> Option<HostNotice> {
    heard_within(n, Duration::from_secs(10)).await
}

/// Whether nothing is heard for half a second (a notice is delivered on commit: on a local
/// server, within milliseconds).
async fn quiet(n: &mut weft_store::HostNotices) -> bool {
    heard_within(n, Duration::from_millis(500)).await.is_none()
}

async fn heard_within(n: &mut weft_store::HostNotices, within: Duration) -> Option<HostNotice> {
    tokio::time::timeout(within, n.next())
        .await
        .ok()
        .map(|r| r.unwrap())
}
