//! Entries a plugin could not map ([`SetAside`]): listed for an operator and processed again
//! on request. A retry moves an entry into the `parked` list under [`RETRY_KEY`], which the
//! processing step releases at its next run (nothing settles under that key), and processes it
//! even when weft already holds the same document (it was recorded, not mapped).

use chrono::{DateTime, Utc};

use crate::db::{RowExt, from_ms, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::SetAside;

/// The `parked.key` of an entry an operator asked to process again.
pub const RETRY_KEY: &str = "weft:retry";

const COLUMNS: &str = "store_id, seq, stage, target, system, kind, entity_id, reason, set_aside_at";

/// Which set-aside entries a list or a retry takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetAsideFilter {
    /// Only this store's.
    pub store: Option<String>,
    /// Only entries of this kind.
    pub kind: Option<String>,
    /// Only entries set aside at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only this journal entry.
    pub seq: Option<i64>,
}

impl Store {
    /// Set-aside entries (oldest first), with their store, up to `limit`.
    pub async fn list_set_aside(
        &self,
        filter: &SetAsideFilter,
        limit: u32,
    ) -> Result<Vec<(String, SetAside)>> {
        const OP: &str = "list set-aside entries";
        let sql = format!(
            "SELECT {COLUMNS} FROM set_aside
             WHERE ($1 = '' OR store_id = $1) AND ($2 = '' OR kind = $2)
               AND set_aside_at >= $3
             ORDER BY set_aside_at, seq LIMIT $4"
        );
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql)
                .bind(filter.store.clone().unwrap_or_default())
                .bind(filter.kind.clone().unwrap_or_default())
                .bind(filter.since.map(ms).unwrap_or(i64::MIN))
                // One entry: filtered below, over all of them.
                .bind(if filter.seq.is_some() { i64::MAX } else { i64::from(limit) })
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter()
                .filter(|r| filter.seq.is_none_or(|s| r.i64("seq").is_ok_and(|q| q == s)))
                .map(|r| {
                    let t = |c: &str| r.text(c).map_err(StoreError::db(OP));
                    Ok((
                        t("store_id")?,
                        SetAside {
                            seq: r.i64("seq").map_err(StoreError::db(OP))?,
                            stage: t("stage")?,
                            target: t("target")?,
                            system: t("system")?,
                            kind: t("kind")?,
                            entity_id: t("entity_id")?,
                            reason: t("reason")?,
                            at: from_ms(r.i64("set_aside_at").map_err(StoreError::db(OP))?),
                        },
                    ))
                })
                .collect()
        })
    }

    /// Queues the matching set-aside entries for processing again (the store's next step
    /// processes them first, through the plugins it has then) and removes them from the list.
    /// Returns how many were queued.
    pub async fn retry_set_aside(
        &self,
        filter: &SetAsideFilter,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const OP: &str = "retry set-aside entries";
        let entries = self.list_set_aside(filter, u32::MAX).await?;
        if entries.is_empty() {
            return Ok(0);
        }
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            for (store, a) in &entries {
                sqlx::query(
                    "INSERT INTO parked (store_id, seq, system, kind, key, parked_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id, seq) DO NOTHING",
                )
                .bind(store)
                .bind(a.seq)
                .bind(&a.system)
                .bind(&a.kind)
                .bind(RETRY_KEY)
                .bind(ms(now))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                sqlx::query(
                    "DELETE FROM set_aside
                     WHERE store_id = $1 AND seq = $2 AND stage = $3 AND target = $4",
                )
                .bind(store)
                .bind(a.seq)
                .bind(&a.stage)
                .bind(&a.target)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            }
            Ok::<(), StoreError>(())
        })?;
        w.commit(OP).await?;
        Ok(entries.len() as u64)
    }
}

/// Where one store's connection to one system stands, as the running host last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SystemHealthRecord {
    /// The system.
    pub system: String,
    /// Since when it has been down (its breaker open); `None` while it answers.
    pub down_since: Option<DateTime<Utc>>,
    /// The last error that said it was down.
    pub last_error: Option<String>,
    /// When the host recorded this.
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Records where `store_id`'s connection to `system` stands (the host does, for
    /// `weft status`, which runs in another process).
    pub async fn set_system_health(
        &self,
        store_id: &str,
        system: &str,
        down_since: Option<DateTime<Utc>>,
        last_error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const OP: &str = "record system health";
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            sqlx::query(
                "INSERT INTO system_health (store_id, system, down_since, last_error, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (store_id, system) DO UPDATE SET down_since = excluded.down_since,
                   last_error = excluded.last_error, updated_at = excluded.updated_at",
            )
            .bind(store_id)
            .bind(system)
            .bind(down_since.map(ms))
            .bind(last_error)
            .bind(ms(now))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            Ok::<(), StoreError>(())
        })?;
        w.commit(OP).await
    }

    /// Where each of `store_id`'s systems stands, as the host last recorded it.
    pub async fn system_health(&self, store_id: &str) -> Result<Vec<SystemHealthRecord>> {
        const OP: &str = "read system health";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT system, down_since, last_error, updated_at FROM system_health
                 WHERE store_id = $1 ORDER BY system",
            )
            .bind(store_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    Ok(SystemHealthRecord {
                        system: r.text("system").map_err(StoreError::db(OP))?,
                        down_since: r.opt_i64("down_since").map_err(StoreError::db(OP))?.map(from_ms),
                        last_error: r.opt_text("last_error").map_err(StoreError::db(OP))?,
                        updated_at: from_ms(r.i64("updated_at").map_err(StoreError::db(OP))?),
                    })
                })
                .collect()
        })
    }
}
