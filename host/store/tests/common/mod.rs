//! Shared fixtures for the behavioural suite: stores on both backends, entries and rows.

#![allow(dead_code)]

/// Runs each named `async fn(&TestDb)` of the including test file once on SQLite and once on
/// PostgreSQL (skipped, as `postgres_db` says, when `WEFT_TEST_POSTGRES_URL` is unset).
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::common::sqlite_db().await;
                    crate::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::common::postgres_db().await else { return };
                    crate::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use weft_store::{NewJournalEntry, NewOutboxRow, OpenOptions, Source, Store};

/// A test database: a store plus whatever keeps it alive and lets a test reopen it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub options: OpenOptions,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Opens a second, independent handle on the same database (fresh pool).
    pub async fn reopen(&self) -> Store {
        Store::open_with(&self.url, self.options.clone())
            .await
            .expect("reopen store")
    }

    /// Drops a PostgreSQL test schema.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(schema) = &self.options.postgres_schema {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&mut c)
                .await
                .expect("drop schema");
        }
    }
}

pub async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = dir
        .path()
        .join("weft.sqlite")
        .to_string_lossy()
        .into_owned();
    let options = OpenOptions::default();
    let store = Store::open_with(&url, options.clone())
        .await
        .expect("open sqlite");
    TestDb {
        store,
        url,
        options,
        _dir: Some(dir),
    }
}

/// A store in a fresh schema of the PostgreSQL at `WEFT_TEST_POSTGRES_URL`, or `None` (with a
/// message) when the variable is unset.
pub async fn postgres_db() -> Option<TestDb> {
    let Ok(url) = std::env::var("WEFT_TEST_POSTGRES_URL") else {
        println!("skipping: WEFT_TEST_POSTGRES_URL is unset");
        return None;
    };
    let schema = format!("weft_test_{}", uuid::Uuid::new_v4().simple());
    let options = OpenOptions {
        postgres_schema: Some(schema),
        max_connections: 8,
        ..OpenOptions::default()
    };
    let store = Store::open_with(&url, options.clone())
        .await
        .expect("open postgres");
    Some(TestDb {
        store,
        url,
        options,
        _dir: None,
    })
}

/// Fixed test clock origin.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

pub fn product(id: &str, version: &str, title: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: "s1".into(),
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: id.into(),
        version: version.into(),
        source: Source::Webhook,
        delivery_id: None,
        body: json!({"id": id, "title": title, "updated_at": version, "variants": []}),
        received_at: t0(),
    }
}

pub fn outbox(key: &str, idem: &str, body: Value, coalesce: bool) -> NewOutboxRow {
    NewOutboxRow {
        system: "netsuite".into(),
        kind: "variant".into(),
        key: key.into(),
        op: "upsert".into(),
        idempotency_key: idem.into(),
        body,
        priority: 20,
        coalesce,
        resend_may_apply: false,
    }
}
