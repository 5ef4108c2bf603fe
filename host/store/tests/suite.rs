//! The behavioural suite, run against SQLite (temp files) and PostgreSQL (a fresh schema per
//! test at `WEFT_TEST_POSTGRES_URL`; skipped with a message when unset). Every behaviour is one
//! `async fn(&TestDb)`, instantiated for both backends by `suite!`.

#[macro_use]
mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{TestDb, outbox, product, t0};
use serde_json::json;
use weft_store::{
    AppendOutcome, Completion, EntityStateUpsert, GoldenUpsert, GroupCommitConfig, JournalWriter,
    OutboxStatus, Source, StepCommit, StoreError, TargetStateUpsert, WatermarkUpdate, Xref,
};

suite!(
    dedupe_by_observation_key_and_delivery_id,
    group_commit_batches_concurrent_appends,
    commit_step_is_all_or_nothing,
    entity_state_never_goes_back_in_version,
    outbox_coalesces_pending_and_skips_known_keys,
    outbox_claim_lease_retry_and_dead_letters,
    outbox_keeps_per_target_order,
    concurrent_claimers_never_share_a_row,
    completion_updates_projections,
    migrations_are_idempotent,
    watermark_moves_with_its_page,
    journal_reads_status_and_rebuild,
    intake_rejects_are_kept,
);

async fn dedupe_by_observation_key_and_delivery_id(db: &TestDb) {
    let s = &db.store;
    let mut e = product("101", "2026-11-26T10:00:00Z", "Sweater");
    e.delivery_id = Some("d-1".into());
    let first = s.append(e.clone()).await.unwrap();
    assert!(matches!(first, AppendOutcome::Inserted(_)));

    // The same webhook delivered twice.
    assert_eq!(
        s.append(e.clone()).await.unwrap(),
        AppendOutcome::Duplicate(first.seq())
    );

    // A poll that sees the same document: other key order, other offset spelling, no delivery id.
    let mut polled = e.clone();
    polled.source = Source::Poll;
    polled.delivery_id = None;
    polled.version = "2026-11-26T12:00:00+02:00".into();
    polled.body = json!({"variants": [], "updated_at": "2026-11-26T10:00:00Z", "title": "Sweater", "id": "101"});
    assert_eq!(
        s.append(polled).await.unwrap(),
        AppendOutcome::Duplicate(first.seq())
    );

    // A retry with the same delivery id but a different (stale) body is still a duplicate.
    let mut retried = product("101", "2026-11-26T09:00:00Z", "Old title");
    retried.delivery_id = Some("d-1".into());
    assert_eq!(
        s.append(retried).await.unwrap(),
        AppendOutcome::Duplicate(first.seq())
    );

    // Same version, different body: a real change, journaled.
    let changed = product("101", "2026-11-26T10:00:00Z", "Sweater (blue)");
    let second = s.append(changed).await.unwrap();
    assert!(second.is_inserted());
    assert!(second.seq() > first.seq());

    // Another store may see the very same document.
    let mut other = e.clone();
    other.store_id = "s2".into();
    assert!(s.append(other).await.unwrap().is_inserted());

    // Duplicates inside one batch.
    let b = product("202", "2026-11-26T10:00:00Z", "Hat");
    let out = s.append_batch(vec![b.clone(), b]).await.unwrap();
    assert!(out[0].is_inserted());
    assert_eq!(out[1], AppendOutcome::Duplicate(out[0].seq()));

    // Same content under a known delivery id, then without one: the first is a duplicate of
    // the delivery, the second is new.
    let mut by_known_delivery = product("404", "2026-11-26T10:00:00Z", "Scarf");
    by_known_delivery.delivery_id = Some("d-1".into());
    let fresh = product("404", "2026-11-26T10:00:00Z", "Scarf");
    let out = s
        .append_batch(vec![by_known_delivery, fresh])
        .await
        .unwrap();
    assert_eq!(out[0], AppendOutcome::Duplicate(first.seq()));
    assert!(out[1].is_inserted());

    let counters = s.counters("s1").await.unwrap();
    assert_eq!(counters.get("journal_duplicate_webhook"), Some(&4));
    assert_eq!(counters.get("journal_duplicate_poll"), Some(&1));
    assert_eq!(s.journal_since("s1", 0, 100).await.unwrap().len(), 4);

    // A batch larger than one INSERT statement, repeating entries across statement boundaries.
    let big: Vec<_> = (0..400)
        .map(|i| product(&format!("b{}", i % 300), "2026-11-26T10:00:00Z", "bulk"))
        .collect();
    let out = s.append_batch(big).await.unwrap();
    assert_eq!(out.iter().filter(|o| o.is_inserted()).count(), 300);
    for i in 300..400 {
        assert_eq!(out[i], AppendOutcome::Duplicate(out[i - 300].seq()));
    }
    let seqs: Vec<_> = out[..300].iter().map(|o| o.seq()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq follows batch order"
    );

    // Invalid input is refused before anything is written.
    let bad = product("303", "yesterday", "x");
    assert!(matches!(
        s.append(bad).await,
        Err(StoreError::InvalidVersion { .. })
    ));
    let mut empty = product("303", "2026-11-26T10:00:00Z", "x");
    empty.entity_id.clear();
    assert!(matches!(
        s.append(empty).await,
        Err(StoreError::InvalidArgument { .. })
    ));
}

async fn group_commit_batches_concurrent_appends(db: &TestDb) {
    let writer = JournalWriter::spawn(
        db.store.clone(),
        GroupCommitConfig {
            max_batch: 64,
            max_wait: Duration::from_millis(2),
            queue: 1024,
        },
    );
    let reader = db.reopen().await;
    let n = 200;
    let mut tasks = Vec::new();
    for i in 0..n {
        let writer = writer.clone();
        let reader = reader.clone();
        tasks.push(tokio::spawn(async move {
            let mut e = product(&format!("p{i}"), "2026-11-26T10:00:00Z", "t");
            e.delivery_id = Some(format!("d{i}"));
            let out = writer.append(e).await.unwrap();
            // Answered only after commit: an independent connection already sees it.
            let seen = reader.journal_entry(out.seq()).await.unwrap();
            assert_eq!(seen.map(|j| j.entity_id), Some(format!("p{i}")));
            out
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        let out = t.await.unwrap();
        assert!(out.is_inserted());
        seqs.push(out.seq());
    }
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), n);
    let stats = writer.stats();
    assert_eq!(stats.entries, n as u64);
    assert!(
        stats.batches < n as u64 / 4,
        "expected batching, got {} transactions for {n} appends",
        stats.batches
    );
    assert!(stats.largest_batch > 1 && stats.largest_batch <= 64);

    // Duplicates through the writer are recognised too.
    let mut again = product("p7", "2026-11-26T10:00:00Z", "t");
    again.delivery_id = Some("d7".into());
    assert!(!writer.append(again).await.unwrap().is_inserted());
    reader.close().await;
}

fn full_step(seq: i64) -> StepCommit {
    let mut step = StepCommit::new("s1", t0());
    step.entity_states.push(EntityStateUpsert {
        system: "shopify".into(),
        kind: "variant".into(),
        entity_id: "9001".into(),
        version: "2026-11-26T10:00:00Z".into(),
        body: json!({"id": "9001", "sku": "WEB-1"}),
        canonical_key: Some("WEB-1".into()),
        journal_seq: seq,
    });
    step.golden.push(GoldenUpsert {
        kind: "variant".into(),
        key: "WEB-1".into(),
        fields: json!({"title": "Sweater"}),
        field_meta: json!({"title": {"system": "shopify", "version": "2026-11-26T10:00:00Z"}}),
    });
    step.xrefs.push(Xref {
        kind: "variant".into(),
        key: "WEB-1".into(),
        system: "shopify".into(),
        entity_id: "9001".into(),
        one_per_entity: true,
    });
    step.target_states.push(TargetStateUpsert {
        system: "netsuite".into(),
        kind: "variant".into(),
        key: "WEB-1".into(),
        fields: json!({"title": "Sweater"}),
    });
    step.outbox.push(outbox(
        "WEB-1",
        "ns-WEB-1-v1",
        json!({"displayName": "Sweater"}),
        true,
    ));
    step.watermarks.push(WatermarkUpdate {
        stream: "shopify:products".into(),
        value: json!({"updated_at": "2026-11-26T10:00:00Z"}),
    });
    step.counters.push(("stale".into(), 2));
    step.advance_cursor_to = Some(seq);
    step
}

async fn commit_step_is_all_or_nothing(db: &TestDb) {
    let s = &db.store;
    let seq = s
        .append(product("1", "2026-11-26T10:00:00Z", "x"))
        .await
        .unwrap()
        .seq();

    // A failure in the middle (an empty xref key violates a CHECK after the entity state and
    // golden record were written) rolls back the whole step.
    let mut bad = full_step(seq);
    bad.xrefs.push(Xref {
        kind: "variant".into(),
        key: String::new(),
        system: "netsuite".into(),
        entity_id: "55".into(),
        one_per_entity: true,
    });
    assert!(matches!(
        s.commit_step(&bad).await,
        Err(StoreError::Database { .. })
    ));
    assert_eq!(
        s.entity_state("s1", "shopify", "variant", "9001")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.golden("s1", "variant", "WEB-1").await.unwrap(), None);
    assert_eq!(
        s.xref_entity("s1", "variant", "WEB-1", "shopify")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.target_state("s1", "netsuite", "variant", "WEB-1")
            .await
            .unwrap(),
        None
    );
    assert!(
        s.list_outbox(Some("s1"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.watermark("s1", "shopify:products").await.unwrap(), None);
    assert!(s.counters("s1").await.unwrap().is_empty());
    assert_eq!(s.cursor("s1").await.unwrap(), 0);

    // A failure at the very end (the last outbox row) also leaves nothing.
    let mut bad_end = full_step(seq);
    bad_end
        .outbox
        .push(outbox("", "ns-empty-key", json!({}), true));
    assert!(s.commit_step(&bad_end).await.is_err());
    assert_eq!(s.golden("s1", "variant", "WEB-1").await.unwrap(), None);
    assert_eq!(s.cursor("s1").await.unwrap(), 0);

    // The same step without the bad row applies completely.
    let out = s.commit_step(&full_step(seq)).await.unwrap();
    assert_eq!(out.outbox_inserted.len(), 1);
    let state = s
        .entity_state("s1", "shopify", "variant", "9001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.canonical_key.as_deref(), Some("WEB-1"));
    assert_eq!(state.journal_seq, seq);
    assert_eq!(
        s.golden("s1", "variant", "WEB-1")
            .await
            .unwrap()
            .unwrap()
            .fields,
        json!({"title": "Sweater"})
    );
    assert_eq!(
        s.xref_entity("s1", "variant", "WEB-1", "shopify")
            .await
            .unwrap()
            .as_deref(),
        Some("9001")
    );
    assert_eq!(
        s.xref_key("s1", "variant", "shopify", "9001")
            .await
            .unwrap()
            .as_deref(),
        Some("WEB-1")
    );
    assert!(
        s.target_state("s1", "netsuite", "variant", "WEB-1")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        s.watermark("s1", "shopify:products").await.unwrap(),
        Some(json!({"updated_at": "2026-11-26T10:00:00Z"}))
    );
    assert_eq!(s.counters("s1").await.unwrap().get("stale"), Some(&2));
    assert_eq!(s.cursor("s1").await.unwrap(), seq);

    // The cursor never moves back.
    let mut back = StepCommit::new("s1", t0());
    back.advance_cursor_to = Some(seq - 1);
    s.commit_step(&back).await.unwrap();
    assert_eq!(s.cursor("s1").await.unwrap(), seq);

    // An xref upsert moves an entity to its new key (SKU renamed).
    let mut rename = StepCommit::new("s1", t0());
    rename.xrefs.push(Xref {
        kind: "variant".into(),
        key: "WEB-1B".into(),
        system: "shopify".into(),
        entity_id: "9001".into(),
        one_per_entity: true,
    });
    s.commit_step(&rename).await.unwrap();
    assert_eq!(
        s.xref_key("s1", "variant", "shopify", "9001")
            .await
            .unwrap()
            .as_deref(),
        Some("WEB-1B")
    );
    assert_eq!(
        s.xref_entity("s1", "variant", "WEB-1", "shopify")
            .await
            .unwrap(),
        None
    );

    // A product carrying several variants keeps every key: none moves the others off.
    let mut product = StepCommit::new("s1", t0());
    for key in ["TEE-S", "TEE-M"] {
        product.xrefs.push(Xref {
            kind: "variant".into(),
            key: key.into(),
            system: "shopify".into(),
            entity_id: "7700".into(),
            one_per_entity: false,
        });
    }
    s.commit_step(&product).await.unwrap();
    for key in ["TEE-S", "TEE-M"] {
        assert_eq!(
            s.xref_entity("s1", "variant", key, "shopify")
                .await
                .unwrap()
                .as_deref(),
            Some("7700"),
            "{key}"
        );
    }
}

async fn entity_state_never_goes_back_in_version(db: &TestDb) {
    let s = &db.store;
    let upsert = |version: &str, title: &str| EntityStateUpsert {
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: "1".into(),
        version: version.into(),
        body: json!({"title": title}),
        canonical_key: None,
        journal_seq: 1,
    };
    let mut step = StepCommit::new("s1", t0());
    step.entity_states
        .push(upsert("2026-11-26T10:00:05Z", "new"));
    assert_eq!(s.commit_step(&step).await.unwrap().stale_entity_states, 0);
    let mut older = StepCommit::new("s1", t0());
    // 10:00:01+00:00 written as 11:00:01+01:00: older, even though it sorts later as text.
    older
        .entity_states
        .push(upsert("2026-11-26T11:00:01+01:00", "stale"));
    assert_eq!(s.commit_step(&older).await.unwrap().stale_entity_states, 1);
    let state = s
        .entity_state("s1", "shopify", "product", "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.body, json!({"title": "new"}));
    let mut newer = StepCommit::new("s1", t0());
    newer
        .entity_states
        .push(upsert("2026-11-26T10:00:06.5Z", "newer"));
    assert_eq!(s.commit_step(&newer).await.unwrap().stale_entity_states, 0);
    let state = s
        .entity_state("s1", "shopify", "product", "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.body, json!({"title": "newer"}));
}

async fn outbox_coalesces_pending_and_skips_known_keys(db: &TestDb) {
    let s = &db.store;
    let mut step = StepCommit::new("s1", t0());
    step.outbox.push(outbox("A", "A-v1", json!({"v": 1}), true));
    step.outbox
        .push(outbox("B", "B-adj-1", json!({"delta": 1}), false));
    s.commit_step(&step).await.unwrap();

    let mut step = StepCommit::new("s1", t0());
    step.outbox.push(outbox("A", "A-v2", json!({"v": 2}), true));
    step.outbox
        .push(outbox("B", "B-adj-2", json!({"delta": 2}), false));
    step.outbox.push(outbox("A", "A-v1", json!({"v": 1}), true));
    let out = s.commit_step(&step).await.unwrap();
    assert_eq!(out.outbox_replaced, 1, "A-v1 replaced by A-v2");
    assert_eq!(out.outbox_inserted.len(), 2);
    assert_eq!(
        out.outbox_duplicates, 1,
        "A-v1 stays known after it was superseded"
    );

    let pending = s
        .list_outbox(Some("s1"), Some(OutboxStatus::Pending), 10)
        .await
        .unwrap();
    let keys: Vec<_> = pending.iter().map(|r| r.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["B-adj-1", "A-v2", "B-adj-2"]);

    // An inflight row is never replaced.
    let claimed = s
        .claim_due(t0(), 10, Duration::from_secs(30), Some("s1"))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "one per target: A-v2 and B-adj-1");
    let mut step = StepCommit::new("s1", t0());
    step.outbox.push(outbox("A", "A-v3", json!({"v": 3}), true));
    let out = s.commit_step(&step).await.unwrap();
    assert_eq!(out.outbox_replaced, 0);
    let all = s.list_outbox(Some("s1"), None, 10).await.unwrap();
    let statuses: Vec<_> = all
        .iter()
        .map(|r| (r.idempotency_key.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("A-v1", OutboxStatus::Superseded),
            ("B-adj-1", OutboxStatus::Inflight),
            ("A-v2", OutboxStatus::Inflight),
            ("B-adj-2", OutboxStatus::Pending),
            ("A-v3", OutboxStatus::Pending),
        ]
    );

    // Refused while a newer write of the same target and op waits: superseded, not dead (the
    // newer one carries the latest state and is the one to send); a write that does not
    // coalesce (an adjustment) is a dead letter.
    for r in &claimed {
        s.dead_letter(r.id, r.claim_token.as_deref().unwrap(), "refused", t0())
            .await
            .unwrap();
    }
    let status = |key: &'static str| async move {
        let all = s.list_outbox(Some("s1"), None, 20).await.unwrap();
        let r = all.into_iter().find(|r| r.idempotency_key == key).unwrap();
        (r.status, r.last_error)
    };
    assert_eq!(
        status("A-v2").await,
        (OutboxStatus::Superseded, Some("refused".into()))
    );
    assert_eq!(status("B-adj-1").await.0, OutboxStatus::Dead);

    // A dead letter is replaced by a newer coalescing write of the same target and op
    // (retrying the old one would send a stale state; a record refused again and again leaves
    // one dead letter); a dead adjustment stays for the operator.
    let claimed = s
        .claim_due(t0(), 10, Duration::from_secs(30), Some("s1"))
        .await
        .unwrap();
    let a_v3 = claimed
        .iter()
        .find(|r| r.idempotency_key == "A-v3")
        .unwrap();
    s.dead_letter(
        a_v3.id,
        a_v3.claim_token.as_deref().unwrap(),
        "refused",
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(status("A-v3").await.0, OutboxStatus::Dead);
    let mut step = StepCommit::new("s1", t0());
    step.outbox.push(outbox("A", "A-v4", json!({"v": 4}), true));
    step.outbox
        .push(outbox("B", "B-adj-3", json!({"delta": 3}), false));
    let out = s.commit_step(&step).await.unwrap();
    assert_eq!(out.outbox_replaced, 1, "A-v3 (dead)");
    let dead: Vec<_> = s
        .list_dead_letters(Some("s1"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(dead, ["B-adj-1"]);
    assert_eq!(
        status("A-v3").await,
        (OutboxStatus::Superseded, Some("refused".into())),
        "its answer is kept"
    );
}

async fn outbox_claim_lease_retry_and_dead_letters(db: &TestDb) {
    let s = &db.store;
    let lease = Duration::from_secs(30);
    let mut step = StepCommit::new("s1", t0());
    step.outbox.push(outbox("A", "A-1", json!({"v": 1}), true));
    let mut urgent = outbox("O", "order-1", json!({"order": 1}), true);
    urgent.priority = 0;
    step.outbox.push(urgent);
    s.commit_step(&step).await.unwrap();

    let first = s.claim_due(t0(), 10, lease, None).await.unwrap();
    assert_eq!(
        first.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["O", "A"],
        "priority order"
    );
    assert!(
        first
            .iter()
            .all(|r| r.status == OutboxStatus::Inflight && r.attempts == 1)
    );
    let a = first.iter().find(|r| r.key == "A").unwrap().clone();
    let o = first.iter().find(|r| r.key == "O").unwrap().clone();
    assert!(
        s.claim_due(t0() + TimeDelta::seconds(29), 10, lease, None)
            .await
            .unwrap()
            .is_empty()
    );

    // The dispatcher "crashes": its lease expires and the row is claimed again.
    let later = t0() + TimeDelta::seconds(31);
    let again = s.claim_due(later, 1, lease, Some("s1")).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].id, o.id,
        "the higher-priority row comes back first"
    );
    assert_eq!(again[0].attempts, 2);
    let old_token = o.claim_token.clone().unwrap();
    let new_token = again[0].claim_token.clone().unwrap();
    assert_ne!(old_token, new_token);
    assert!(matches!(
        s.complete(o.id, &old_token, &Completion::default(), later)
            .await,
        Err(StoreError::LeaseLost { .. })
    ));
    s.complete(o.id, &new_token, &Completion::default(), later)
        .await
        .unwrap();
    assert_eq!(
        s.outbox_row(o.id).await.unwrap().unwrap().status,
        OutboxStatus::Done
    );

    // A (lease expired too) is reclaimed, fails, and is retried later.
    let a2 = s.claim_due(later, 10, lease, None).await.unwrap();
    assert_eq!(a2.len(), 1);
    assert_eq!(a2[0].id, a.id);
    let tok = a2[0].claim_token.clone().unwrap();
    let retry_at = later + TimeDelta::seconds(60);
    s.retry(a.id, &tok, retry_at, "HTTP 503", later)
        .await
        .unwrap();
    let row = s.outbox_row(a.id).await.unwrap().unwrap();
    assert_eq!(row.status, OutboxStatus::Pending);
    assert_eq!(row.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(row.next_attempt_at, retry_at);
    assert!(row.claim_token.is_none());
    assert!(
        s.claim_due(retry_at - TimeDelta::milliseconds(1), 10, lease, None)
            .await
            .unwrap()
            .is_empty()
    );
    let a3 = s.claim_due(retry_at, 10, lease, None).await.unwrap();
    assert_eq!(a3[0].attempts, 3);
    let tok = a3[0].claim_token.clone().unwrap();
    s.dead_letter(a.id, &tok, "INVALID_FLD_VALUE: displayName", retry_at)
        .await
        .unwrap();
    assert!(matches!(
        s.retry(a.id, &tok, retry_at, "late", retry_at).await,
        Err(StoreError::LeaseLost { .. })
    ));

    let dead = s.list_dead_letters(Some("s1"), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("INVALID_FLD_VALUE: displayName")
    );
    assert_eq!(s.status("s1").await.unwrap().outbox.dead, 1);

    // Operator retry: back to pending, attempts reset, due now.
    assert!(s.retry_dead_letter(a.id, retry_at).await.unwrap());
    assert!(
        !s.retry_dead_letter(a.id, retry_at).await.unwrap(),
        "no longer a dead letter"
    );
    let row = s.outbox_row(a.id).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (OutboxStatus::Pending, 0));
    let a4 = s.claim_due(retry_at, 10, lease, None).await.unwrap();
    let tok = a4[0].claim_token.clone().unwrap();
    s.dead_letter(a.id, &tok, "still broken", retry_at)
        .await
        .unwrap();
    assert!(s.discard_dead_letter(a.id, retry_at).await.unwrap());
    assert!(s.list_dead_letters(None, 10).await.unwrap().is_empty());
    let status = s.status("s1").await.unwrap().outbox;
    assert_eq!((status.discarded, status.done, status.pending), (1, 1, 0));

    // A discarded key stays used; purge forgets done/discarded rows.
    let mut step = StepCommit::new("s1", retry_at);
    step.outbox.push(outbox("A", "A-1", json!({"v": 1}), true));
    assert_eq!(s.commit_step(&step).await.unwrap().outbox_duplicates, 1);
    assert_eq!(
        s.purge_outbox(retry_at + TimeDelta::seconds(1))
            .await
            .unwrap(),
        2
    );
    assert!(s.list_outbox(None, None, 10).await.unwrap().is_empty());

    assert!(matches!(
        s.claim_due(t0(), 1, Duration::ZERO, None).await,
        Err(StoreError::InvalidArgument { .. })
    ));
}

async fn outbox_keeps_per_target_order(db: &TestDb) {
    let s = &db.store;
    let lease = Duration::from_secs(30);
    let mut step = StepCommit::new("s1", t0());
    for i in 1..=3 {
        step.outbox.push(outbox(
            "INV",
            &format!("adj-{i}"),
            json!({"delta": i}),
            false,
        ));
    }
    step.outbox
        .push(outbox("OTHER", "other-1", json!({}), false));
    s.commit_step(&step).await.unwrap();
    for expected in ["adj-1", "adj-2", "adj-3"] {
        let got = s.claim_due(t0(), 10, lease, None).await.unwrap();
        let inv: Vec<_> = got.iter().filter(|r| r.key == "INV").collect();
        assert_eq!(inv.len(), 1, "one write per target in flight");
        assert_eq!(inv[0].idempotency_key, expected);
        for r in &got {
            s.complete(
                r.id,
                r.claim_token.as_deref().unwrap(),
                &Completion::default(),
                t0(),
            )
            .await
            .unwrap();
        }
    }
}

async fn concurrent_claimers_never_share_a_row(db: &TestDb) {
    let s = &db.store;
    let mut step = StepCommit::new("s1", t0());
    for i in 0..40 {
        step.outbox.push(outbox(
            &format!("K{i}"),
            &format!("w-{i}"),
            json!({"i": i}),
            true,
        ));
    }
    s.commit_step(&step).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_due(t0(), 3, Duration::from_secs(60), None)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "every row claimed exactly once");
}

async fn completion_updates_projections(db: &TestDb) {
    let s = &db.store;
    let mut step = StepCommit::new("s1", t0());
    step.outbox.push(outbox(
        "WEB-9",
        "ns-WEB-9",
        json!({"itemId": "WEB-9"}),
        true,
    ));
    s.commit_step(&step).await.unwrap();
    let row = s
        .claim_due(t0(), 1, Duration::from_secs(5), None)
        .await
        .unwrap()
        .remove(0);
    let completion = Completion {
        xrefs: vec![Xref {
            kind: "variant".into(),
            key: "WEB-9".into(),
            system: "netsuite".into(),
            entity_id: "4242".into(),
            one_per_entity: true,
        }],
        target_states: vec![TargetStateUpsert {
            system: "netsuite".into(),
            kind: "variant".into(),
            key: "WEB-9".into(),
            fields: json!({"sku": "WEB-9"}),
        }],
        counters: vec![("writes_netsuite".into(), 1)],
        journal: Vec::new(),
    };
    s.complete(
        row.id,
        row.claim_token.as_deref().unwrap(),
        &completion,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.xref_entity("s1", "variant", "WEB-9", "netsuite")
            .await
            .unwrap()
            .as_deref(),
        Some("4242")
    );
    assert_eq!(
        s.target_state("s1", "netsuite", "variant", "WEB-9")
            .await
            .unwrap()
            .unwrap()
            .fields,
        json!({"sku": "WEB-9"})
    );
    assert_eq!(
        s.counters("s1").await.unwrap().get("writes_netsuite"),
        Some(&1)
    );
}

async fn migrations_are_idempotent(db: &TestDb) {
    let seq = db
        .store
        .append(product("1", "2026-11-26T10:00:00Z", "x"))
        .await
        .unwrap()
        .seq();
    let again = db.reopen().await;
    let third = db.reopen().await;
    assert_eq!(
        again.journal_entry(seq).await.unwrap().unwrap().entity_id,
        "1"
    );
    assert_eq!(third.journal_head("s1").await.unwrap(), seq);
    again.close().await;
    third.close().await;
}

async fn watermark_moves_with_its_page(db: &TestDb) {
    let s = &db.store;
    let mut page = vec![
        product("1", "2026-11-26T10:00:00Z", "a"),
        product("2", "2026-11-26T10:00:01Z", "b"),
    ];
    for e in &mut page {
        e.source = Source::Poll;
    }
    let wm = WatermarkUpdate {
        stream: "shopify:products".into(),
        value: json!({"updated_at": "2026-11-26T10:00:01Z", "id": "2"}),
    };
    let out = s
        .append_with_watermark(page.clone(), "s1", wm.clone(), t0())
        .await
        .unwrap();
    assert!(out.iter().all(|o| o.is_inserted()));
    assert_eq!(
        s.watermark("s1", "shopify:products").await.unwrap(),
        Some(wm.value.clone())
    );

    // A page that cannot be journaled does not move the watermark.
    let mut broken = page.clone();
    broken[1].version = "not a time".into();
    let wm2 = WatermarkUpdate {
        stream: "shopify:products".into(),
        value: json!({"updated_at": "2026-11-26T11:00:00Z"}),
    };
    assert!(
        s.append_with_watermark(broken, "s1", wm2.clone(), t0())
            .await
            .is_err()
    );
    let mut foreign = page.clone();
    foreign[0].store_id = "s2".into();
    assert!(matches!(
        s.append_with_watermark(foreign, "s1", wm2, t0()).await,
        Err(StoreError::InvalidArgument { .. })
    ));
    assert_eq!(
        s.watermark("s1", "shopify:products").await.unwrap(),
        Some(wm.value)
    );
}

async fn journal_reads_status_and_rebuild(db: &TestDb) {
    let s = &db.store;
    let mut seqs = Vec::new();
    for i in 0..5 {
        let mut e = product(&i.to_string(), "2026-11-26T10:00:00Z", "p");
        e.received_at = t0() + TimeDelta::minutes(i);
        if i % 2 == 1 {
            e.kind = "customer".into();
        }
        seqs.push(s.append(e).await.unwrap().seq());
    }
    let mut other = product("x", "2026-11-26T10:00:00Z", "p");
    other.store_id = "s2".into();
    s.append(other).await.unwrap();

    let page = s.journal_since("s1", seqs[1], 2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [seqs[2], seqs[3]]
    );
    assert_eq!(page[0].body["id"], "2");
    let customers = s
        .journal_range("s1", None, Some("customer"), 0, 10)
        .await
        .unwrap();
    assert_eq!(customers.len(), 2);
    let recent = s
        .journal_range("s1", Some(t0() + TimeDelta::minutes(3)), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        recent.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [seqs[3], seqs[4]]
    );
    assert_eq!(recent[0].received_at, t0() + TimeDelta::minutes(3));

    let mut step = full_step(seqs[2]);
    step.outbox.clear();
    s.commit_step(&step).await.unwrap();
    s.bump_counter("s1", "recovered", 3).await.unwrap();
    let st = s.status("s1").await.unwrap();
    assert_eq!(st.journal_head, seqs[4]);
    assert_eq!(st.cursor, seqs[2]);
    assert_eq!(st.lag, 2);
    assert_eq!(st.counters.get("recovered"), Some(&3));
    assert_eq!(s.store_ids().await.unwrap(), ["s1", "s2"]);

    // Every store's figures at once are each store's own, in the order asked; a store the
    // database does not know reads as empty.
    s.record_reject("s2", "malformed", &json!({}), b"{", t0())
        .await
        .unwrap();
    s.bump_counter("s2", "stale", 2).await.unwrap();
    let mut queued = StepCommit::new("s1", t0());
    queued
        .outbox
        .push(outbox("k1", "idem-k1", json!({"a": 1}), false));
    queued
        .outbox
        .push(outbox("k2", "idem-k2", json!({"a": 2}), false));
    s.commit_step(&queued).await.unwrap();
    let ids: Vec<String> = ["s2", "nobody", "s1"].map(String::from).to_vec();
    let all = s.statuses(&ids).await.unwrap();
    let mut one_by_one = Vec::new();
    for id in &ids {
        one_by_one.push(s.status(id).await.unwrap());
    }
    assert_eq!(all, one_by_one);
    assert_eq!(all[0].intake_rejects, 1);
    assert_eq!(all[0].counters.get("stale"), Some(&2));
    assert_eq!(all[1].journal_head, 0);
    assert_eq!(all[2].lag, 2);
    assert_eq!(all[2].outbox.pending, 2);
    assert!(s.statuses(&[]).await.unwrap().is_empty());

    s.rebuild_projections("s1").await.unwrap();
    assert_eq!(s.cursor("s1").await.unwrap(), 0);
    assert_eq!(s.golden("s1", "variant", "WEB-1").await.unwrap(), None);
    assert_eq!(
        s.entity_state("s1", "shopify", "variant", "9001")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.status("s1").await.unwrap().lag, 5);
    assert!(
        s.watermark("s1", "shopify:products")
            .await
            .unwrap()
            .is_some(),
        "watermarks survive"
    );
}

async fn intake_rejects_are_kept(db: &TestDb) {
    let s = &db.store;
    let body = b"{not json\xff";
    let id = s
        .record_reject(
            "s1",
            "malformed JSON at line 1",
            &json!({"x-shopify-topic": "products/update"}),
            body,
            t0(),
        )
        .await
        .unwrap();
    let rejects = s.list_rejects("s1", 10).await.unwrap();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].id, id);
    assert_eq!(rejects[0].body, body);
    assert_eq!(rejects[0].headers["x-shopify-topic"], "products/update");
    assert_eq!(s.status("s1").await.unwrap().intake_rejects, 1);
}
