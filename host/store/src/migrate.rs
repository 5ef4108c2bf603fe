//! Versioned schema migrations, one list per backend, compiled into the binary
//! (`migrations/{sqlite,postgres}/NNNN_name.sql`). Each applied migration is recorded with a
//! SHA-256 checksum in `weft_schema_migrations`; opening a database twice applies nothing new,
//! and a database whose recorded SQL differs from this binary's is refused.

use crate::db::{Db, RowExt, sha256_hex};
use crate::error::{Result, StoreError};

/// One schema migration.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "outbox_claim_index",
        sql: include_str!("../migrations/sqlite/0002_outbox_claim_index.sql"),
    },
    Migration {
        version: 3,
        name: "outbox_calls",
        sql: include_str!("../migrations/sqlite/0003_outbox_calls.sql"),
    },
    Migration {
        version: 4,
        name: "parked",
        sql: include_str!("../migrations/sqlite/0004_parked.sql"),
    },
    Migration {
        version: 5,
        name: "outbox_resend_may_apply",
        sql: include_str!("../migrations/sqlite/0005_outbox_resend_may_apply.sql"),
    },
    Migration {
        version: 6,
        name: "set_aside",
        sql: include_str!("../migrations/sqlite/0006_set_aside.sql"),
    },
    Migration {
        version: 7,
        name: "system_health",
        sql: include_str!("../migrations/sqlite/0007_system_health.sql"),
    },
    Migration {
        version: 8,
        name: "outbox_claim_by_store",
        sql: include_str!("../migrations/sqlite/0008_outbox_claim_by_store.sql"),
    },
    Migration {
        version: 9,
        name: "lineage",
        sql: include_str!("../migrations/sqlite/0009_lineage.sql"),
    },
    Migration {
        version: 10,
        name: "privacy",
        sql: include_str!("../migrations/sqlite/0010_privacy.sql"),
    },
    Migration {
        version: 11,
        name: "held_deletes",
        sql: include_str!("../migrations/sqlite/0011_held_deletes.sql"),
    },
    Migration {
        version: 12,
        name: "cluster_leases",
        sql: include_str!("../migrations/sqlite/0012_cluster_leases.sql"),
    },
    Migration {
        version: 13,
        name: "loop_health",
        sql: include_str!("../migrations/sqlite/0013_loop_health.sql"),
    },
    Migration {
        version: 14,
        name: "xref_entity_many_keys",
        sql: include_str!("../migrations/sqlite/0014_xref_entity_many_keys.sql"),
    },
    Migration {
        version: 15,
        name: "journal_source_backfill",
        sql: include_str!("../migrations/sqlite/0015_journal_source_backfill.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "outbox_claim_index",
        sql: include_str!("../migrations/postgres/0002_outbox_claim_index.sql"),
    },
    Migration {
        version: 3,
        name: "outbox_calls",
        sql: include_str!("../migrations/postgres/0003_outbox_calls.sql"),
    },
    Migration {
        version: 4,
        name: "parked",
        sql: include_str!("../migrations/postgres/0004_parked.sql"),
    },
    Migration {
        version: 5,
        name: "outbox_resend_may_apply",
        sql: include_str!("../migrations/postgres/0005_outbox_resend_may_apply.sql"),
    },
    Migration {
        version: 6,
        name: "set_aside",
        sql: include_str!("../migrations/postgres/0006_set_aside.sql"),
    },
    Migration {
        version: 7,
        name: "system_health",
        sql: include_str!("../migrations/postgres/0007_system_health.sql"),
    },
    Migration {
        version: 8,
        name: "outbox_claim_by_store",
        sql: include_str!("../migrations/postgres/0008_outbox_claim_by_store.sql"),
    },
    Migration {
        version: 9,
        name: "lineage",
        sql: include_str!("../migrations/postgres/0009_lineage.sql"),
    },
    Migration {
        version: 10,
        name: "privacy",
        sql: include_str!("../migrations/postgres/0010_privacy.sql"),
    },
    Migration {
        version: 11,
        name: "held_deletes",
        sql: include_str!("../migrations/postgres/0011_held_deletes.sql"),
    },
    Migration {
        version: 12,
        name: "cluster_leases",
        sql: include_str!("../migrations/postgres/0012_cluster_leases.sql"),
    },
    Migration {
        version: 13,
        name: "loop_health",
        sql: include_str!("../migrations/postgres/0013_loop_health.sql"),
    },
    Migration {
        version: 14,
        name: "xref_entity_many_keys",
        sql: include_str!("../migrations/postgres/0014_xref_entity_many_keys.sql"),
    },
    Migration {
        version: 15,
        name: "journal_source_backfill",
        sql: include_str!("../migrations/postgres/0015_journal_source_backfill.sql"),
    },
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS weft_schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL)";

/// Advisory lock id that serialises migrations of concurrent PostgreSQL hosts.
const PG_MIGRATION_LOCK: i64 = 0x0077_6566_746d_6967;

/// Brings the schema up to date. Each backend's whole run is one transaction holding the write
/// lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL a transaction-scoped advisory lock), so two
/// processes opening a new database at once cannot both apply a migration.
pub(crate) async fn run(db: &Db) -> Result<()> {
    let list = match db {
        Db::Sqlite(_) => SQLITE,
        Db::Postgres(_) => POSTGRES,
    };
    let mut tx = crate::db::begin(db, "migrate").await?;
    on_tx!(&mut tx, c => {
        if matches!(db, Db::Postgres(_)) {
            // Another host may be migrating: wait for it however long it takes (the
            // sessions' `lock_timeout` is for the running host's own writes).
            sqlx::query("SET LOCAL lock_timeout = 0")
                .execute(&mut *c)
                .await
                .map_err(StoreError::db("migrate"))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_MIGRATION_LOCK)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db("migrate"))?;
        }
        sqlx::query(CREATE_TABLE)
            .execute(&mut *c)
            .await
            .map_err(StoreError::db("migrate"))?;
        let rows = sqlx::query("SELECT version, checksum FROM weft_schema_migrations ORDER BY version")
            .fetch_all(&mut *c)
            .await
            .map_err(StoreError::db("migrate"))?;
        let mut applied = Vec::new();
        for r in &rows {
            applied.push((
                r.i64("version").map_err(StoreError::db("migrate"))?,
                r.text("checksum").map_err(StoreError::db("migrate"))?,
            ));
        }
        let known = list.last().map_or(0, |m| m.version);
        if let Some(&(found, _)) = applied.last()
            && found > known
        {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        for m in list {
            let expected = sha256_hex(m.sql.as_bytes());
            if let Some((_, sum)) = applied.iter().find(|(v, _)| *v == m.version) {
                if *sum != expected {
                    return Err(StoreError::MigrationChecksum {
                        version: m.version,
                        name: m.name,
                        applied: sum.clone(),
                        expected,
                    });
                }
                continue;
            }
            sqlx::raw_sql(m.sql)
                .execute(&mut *c)
                .await
                .map_err(|source| StoreError::Migration { version: m.version, name: m.name, source })?;
            sqlx::query("INSERT INTO weft_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(&expected)
                .execute(&mut *c)
                .await
                .map_err(|source| StoreError::Migration { version: m.version, name: m.name, source })?;
            tracing::info!(version = m.version, name = m.name, "applied schema migration");
        }
        Ok::<(), StoreError>(())
    })?;
    tx.commit("migrate").await
}
