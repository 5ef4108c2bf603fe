//! The migration runner refuses databases it does not understand: a recorded migration whose
//! SQL differs from this binary's, or a schema newer than this binary.

use sqlx::Connection;
use weft_store::{Store, StoreError};

async fn tamper(path: &str, sql: &str) {
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{path}"))
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn changed_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.sqlite").to_string_lossy().into_owned();
    Store::open(&path).await.unwrap().close().await;
    tamper(
        &path,
        "UPDATE weft_schema_migrations SET checksum = 'x' WHERE version = 1",
    )
    .await;
    match Store::open(&path).await {
        Err(StoreError::MigrationChecksum { version: 1, .. }) => {}
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.sqlite").to_string_lossy().into_owned();
    Store::open(&path).await.unwrap().close().await;
    tamper(
        &path,
        "INSERT INTO weft_schema_migrations (version, name, checksum) VALUES (999, 'future', 'y')",
    )
    .await;
    match Store::open(&path).await {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        other => panic!("expected schema-too-new, got {other:?}"),
    }
}

#[tokio::test]
async fn urls_are_understood_and_passwords_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("a.sqlite").display()
    );
    Store::open(&url).await.unwrap().close().await;
    Store::open(&format!("sqlite:{}", dir.path().join("b.sqlite").display()))
        .await
        .unwrap()
        .close()
        .await;
    let mem = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(mem.journal_head("s").await.unwrap(), 0);
    mem.close().await;
    assert!(matches!(
        Store::open("mysql://x").await,
        Err(StoreError::InvalidUrl { .. })
    ));
    let err = Store::open("postgres://weft:hunter2@127.0.0.1:1/nope")
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    assert!(text.contains("weft:***@127.0.0.1:1/nope"), "{text}");
}

fn entry(id: &str, source: weft_store::Source) -> weft_store::NewJournalEntry {
    weft_store::NewJournalEntry {
        store_id: "s".into(),
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: id.into(),
        version: "2026-12-07T10:00:00Z".into(),
        source,
        delivery_id: Some(format!("d-{id}")),
        body: serde_json::json!({"id": id}),
        received_at: chrono::Utc::now(),
    }
}

/// Migration 15 rebuilds SQLite's journal to let a backfill's entries in: every entry keeps its
/// seq and body, a seq once handed out is never handed out again (the deleted newest entry's
/// included), and the rebuilt table keeps its unique indexes.
#[tokio::test]
async fn the_journal_rebuild_keeps_every_entry_and_seq() {
    use weft_store::Source;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.sqlite").to_string_lossy().into_owned();
    let db = Store::open(&path).await.unwrap();
    let mut seqs = Vec::new();
    for id in ["1", "2", "3"] {
        seqs.push(db.append(entry(id, Source::Webhook)).await.unwrap().seq());
    }
    db.close().await;
    // The newest entry gone (a redaction tool run by hand, say), and migration 15 not applied.
    tamper(
        &path,
        &format!("DELETE FROM journal WHERE seq = {}", seqs[2]),
    )
    .await;
    tamper(
        &path,
        "DELETE FROM weft_schema_migrations WHERE version = 15",
    )
    .await;

    let db = Store::open(&path).await.unwrap();
    for (id, seq) in ["1", "2"].iter().zip(&seqs) {
        let e = db.journal_entry(*seq).await.unwrap().unwrap();
        assert_eq!((e.entity_id.as_str(), e.source), (*id, Source::Webhook));
    }
    assert!(db.journal_entry(seqs[2]).await.unwrap().is_none());
    let next = db.append(entry("4", Source::Backfill)).await.unwrap();
    assert!(next.is_inserted());
    assert!(next.seq() > seqs[2], "seq {} handed out again", next.seq());
    assert_eq!(
        db.journal_entry(next.seq()).await.unwrap().unwrap().source,
        Source::Backfill
    );
    // The same delivery again is recognised, not journaled twice.
    assert!(
        !db.append(entry("4", Source::Backfill))
            .await
            .unwrap()
            .is_inserted()
    );
    db.close().await;
}
