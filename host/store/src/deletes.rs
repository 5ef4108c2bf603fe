//! Deletions the mass-delete guard holds ([`HeldDelete`]): a poll round or a minute of webhooks
//! that would delete more than the store's share of a kind's golden records is not applied but
//! kept here, one row per journaled tombstone, until an operator decides. Releasing moves the
//! rows into the `parked` list under [`RELEASE_KEY`]: the next processing step applies exactly
//! those entries, past the guard. Discarding drops them: the tombstones stay in the journal
//! (append-only) and are never applied.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{RowExt, from_ms, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// The `parked.key` of a held deletion an operator released.
pub const RELEASE_KEY: &str = "weft:release-delete";

/// One journaled deletion the mass-delete guard holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldDelete {
    /// The tombstone's journal entry.
    pub seq: i64,
    /// The system that deleted it.
    pub system: String,
    /// Its journal kind and id there.
    pub kind: String,
    /// Its id in that system.
    pub entity_id: String,
    /// The canonical kind whose share tripped the guard.
    pub record_kind: String,
    /// How many canonical records the deletion carries.
    pub records: i64,
    /// Why it is held (the figures).
    pub reason: String,
    /// When it was held.
    pub at: DateTime<Utc>,
}

impl Store {
    /// The deletions held for `store_id`, oldest first.
    pub async fn held_deletes(&self, store_id: &str) -> Result<Vec<HeldDelete>> {
        const OP: &str = "list held deletes";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT seq, system, kind, entity_id, record_kind, records, reason, held_at
                 FROM held_deletes WHERE store_id = $1 ORDER BY seq",
            )
            .bind(store_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    let t = |c: &str| r.text(c).map_err(StoreError::db(OP));
                    let n = |c: &str| r.i64(c).map_err(StoreError::db(OP));
                    Ok(HeldDelete {
                        seq: n("seq")?,
                        system: t("system")?,
                        kind: t("kind")?,
                        entity_id: t("entity_id")?,
                        record_kind: t("record_kind")?,
                        records: n("records")?,
                        reason: t("reason")?,
                        at: from_ms(n("held_at")?),
                    })
                })
                .collect()
        })
    }

    /// Releases every deletion held for `store_id`: the next processing step applies exactly
    /// those journal entries (first, past the guard). Returns the entries released.
    pub async fn release_held_deletes(
        &self,
        store_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<HeldDelete>> {
        self.decide_held_deletes(store_id, Some(now)).await
    }

    /// Drops every deletion held for `store_id`: none of them is ever applied. Returns the
    /// entries discarded.
    pub async fn discard_held_deletes(&self, store_id: &str) -> Result<Vec<HeldDelete>> {
        self.decide_held_deletes(store_id, None).await
    }

    async fn decide_held_deletes(
        &self,
        store_id: &str,
        release_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<HeldDelete>> {
        const OP: &str = "decide held deletes";
        let held = self.held_deletes(store_id).await?;
        if held.is_empty() {
            return Ok(held);
        }
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            for h in &held {
                if let Some(at) = release_at {
                    sqlx::query(
                        "INSERT INTO parked (store_id, seq, system, kind, key, parked_at)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id, seq) DO NOTHING",
                    )
                    .bind(store_id)
                    .bind(h.seq)
                    .bind(&h.system)
                    .bind(&h.kind)
                    .bind(RELEASE_KEY)
                    .bind(ms(at))
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                }
                sqlx::query("DELETE FROM held_deletes WHERE store_id = $1 AND seq = $2")
                    .bind(store_id)
                    .bind(h.seq)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            }
            Ok::<(), StoreError>(())
        })?;
        let counter = if release_at.is_some() {
            "deletes_released"
        } else {
            "deletes_discarded"
        };
        crate::step::bump_in_tx(&mut w.tx, store_id, counter, held.len() as i64).await?;
        w.commit(OP).await?;
        Ok(held)
    }

    /// The ids of the `system` documents of journal `kind` the processing step holds for
    /// `store_id`, except those whose body contains `except` (a platform's tombstone marker):
    /// what a full read of that kind must find again, or the entity was deleted.
    pub async fn entity_ids(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        except: &str,
    ) -> Result<Vec<String>> {
        const OP: &str = "list entity ids";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT entity_id, body FROM entity_state
                 WHERE store_id = $1 AND system = $2 AND kind = $3 ORDER BY entity_id",
            )
            .bind(store_id)
            .bind(system)
            .bind(kind)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let body = r.text("body").map_err(StoreError::db(OP))?;
                if except.is_empty() || !body.contains(except) {
                    out.push(r.text("entity_id").map_err(StoreError::db(OP))?);
                }
            }
            Ok(out)
        })
    }

    /// The golden records of `store_id` whose meta holds a tombstone (`"weft:deleted"`): each
    /// record's kind and meta. The mass-delete guard's window is rebuilt from them at start.
    pub async fn golden_tombstones(
        &self,
        store_id: &str,
    ) -> Result<Vec<(String, serde_json::Value)>> {
        const OP: &str = "list golden tombstones";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT kind, field_meta FROM golden
                 WHERE store_id = $1 AND field_meta LIKE '%\"weft:deleted\"%'",
            )
            .bind(store_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    let kind = r.text("kind").map_err(StoreError::db(OP))?;
                    let meta = r.text("field_meta").map_err(StoreError::db(OP))?;
                    Ok((kind, serde_json::from_str(&meta).unwrap_or_default()))
                })
                .collect()
        })
    }

    /// How many golden records of `kind` `store_id` holds (the base of the mass-delete guard's
    /// share).
    pub async fn golden_count(&self, store_id: &str, kind: &str) -> Result<i64> {
        const OP: &str = "count golden records";
        on_db!(self.db(), p => {
            sqlx::query("SELECT COUNT(*) AS n FROM golden WHERE store_id = $1 AND kind = $2")
                .bind(store_id)
                .bind(kind)
                .fetch_one(p)
                .await
                .map_err(StoreError::db(OP))?
                .i64("n")
                .map_err(StoreError::db(OP))
        })
    }
}

/// Inserts the step's held deletions (kept if already held).
pub(crate) async fn hold_in_tx(
    tx: &mut crate::db::Tx,
    store_id: &str,
    held: &[HeldDelete],
) -> Result<()> {
    const OP: &str = "hold deletes";
    on_tx!(tx, c => {
        for h in held {
            sqlx::query(
                "INSERT INTO held_deletes
                   (store_id, seq, system, kind, entity_id, record_kind, records, reason, held_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (store_id, seq) DO NOTHING",
            )
            .bind(store_id)
            .bind(h.seq)
            .bind(&h.system)
            .bind(&h.kind)
            .bind(&h.entity_id)
            .bind(&h.record_kind)
            .bind(h.records)
            .bind(&h.reason)
            .bind(ms(h.at))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
        }
        Ok::<(), StoreError>(())
    })
}

/// Writes to one system that a deletion there made moot ([`crate::StepCommit::moot_writes`]):
/// the records of `kind` whose key is `key` (or, with `prefix`, starts with it: the stock
/// levels `<sku>@<location>` of a variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MootWrites {
    /// The system that deleted the record.
    pub system: String,
    /// The canonical kind.
    pub kind: String,
    /// The key, or its beginning.
    pub key: String,
    /// Whether `key` is a prefix.
    pub prefix: bool,
}

/// Marks `superseded` the dead letters and the pending writes not bound to a saved call that
/// `moot` names (their record is gone from the system they write to: an operator has nothing
/// to retry, and a send would fail); appends why to their last error. Returns how many.
pub(crate) async fn moot_in_tx(
    tx: &mut crate::db::Tx,
    store_id: &str,
    moot: &[MootWrites],
    at: DateTime<Utc>,
) -> Result<u64> {
    const OP: &str = "drop writes a deletion made moot";
    let mut n = 0;
    on_tx!(tx, c => {
        for m in moot {
            let r = sqlx::query(
                "UPDATE outbox SET status = 'superseded', updated_at = $6,
                        last_error = COALESCE(last_error || '; ', '') || 'the record was deleted there'
                 WHERE store_id = $1 AND system = $2 AND kind = $3
                   AND (key = $4 OR ($5 = 1 AND substr(key, 1, length($4)) = $4))
                   AND (status = 'dead' OR (status = 'pending' AND call_key IS NULL))",
            )
            .bind(store_id)
            .bind(&m.system)
            .bind(&m.kind)
            .bind(&m.key)
            .bind(i64::from(m.prefix))
            .bind(ms(at))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            n += r.rows_affected();
        }
        Ok::<(), StoreError>(())
    })?;
    Ok(n)
}
