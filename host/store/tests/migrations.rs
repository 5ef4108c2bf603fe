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
