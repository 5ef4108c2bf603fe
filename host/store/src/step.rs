//! Projections and the engine's atomic step: [`Store::commit_step`], the projection reads,
//! watermarks, the per-store cursor, counters, projection rebuild and operator status.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::{RowExt, Tx, from_ms, json, ms};
use crate::error::{Result, StoreError};
use crate::journal::BUMP_COUNTER;
use crate::store::Store;
use crate::types::{
    EntityState, GoldenRecord, OutboxDepth, StepCommit, StepOutcome, StoreStatus, TargetState,
    WatermarkUpdate, version_key,
};

const UPSERT_ENTITY_STATE: &str = "INSERT INTO entity_state
     (store_id, system, kind, entity_id, version, version_key, body, canonical_key, journal_seq, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (store_id, system, kind, entity_id) DO UPDATE SET
       version = excluded.version, version_key = excluded.version_key, body = excluded.body,
       canonical_key = excluded.canonical_key, journal_seq = excluded.journal_seq,
       updated_at = excluded.updated_at
     WHERE entity_state.version_key <= excluded.version_key
     RETURNING journal_seq";

const UPSERT_GOLDEN: &str = "INSERT INTO golden (store_id, kind, key, fields, field_meta, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (store_id, kind, key) DO UPDATE SET
       fields = excluded.fields, field_meta = excluded.field_meta, updated_at = excluded.updated_at";

const MOVE_XREF: &str = "DELETE FROM xref
     WHERE store_id = $1 AND kind = $2 AND system = $3 AND entity_id = $4 AND key <> $5";

const UPSERT_XREF: &str = "INSERT INTO xref (store_id, kind, key, system, entity_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (store_id, kind, key, system) DO UPDATE SET entity_id = excluded.entity_id";

const UPSERT_TARGET: &str =
    "INSERT INTO target_state (store_id, system, kind, key, fields, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (store_id, system, kind, key) DO UPDATE SET
       fields = excluded.fields, updated_at = excluded.updated_at";

// A step's record of a target: only over the fields it read (the text is compared as stored;
// every writer stores `Value::to_string`, and reading then re-serializing reproduces it).
const UPDATE_OBSERVED_TARGET: &str = "UPDATE target_state SET fields = $5, updated_at = $6
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4 AND fields = $7";

const INSERT_OBSERVED_TARGET: &str =
    "INSERT INTO target_state (store_id, system, kind, key, fields, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (store_id, system, kind, key) DO NOTHING";

// A pending row still bound to a saved call was sent in that call and its answer was lost
// (a timeout, or a process killed before it recorded the outcome): the platform may hold its
// value already, so it is a write in flight, not one still to send.
const SETTLING_WRITES: &str = "SELECT id,
            CASE WHEN status = 'pending' THEN 'inflight' ELSE status END AS status,
            body, created_at, updated_at FROM outbox
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4
       AND (status = 'inflight'
            -- sent, outcome unknown: bound to a saved call, or a write whose resend may find it
            -- applied, sent before (sent alone: its effect may exist)
            OR (status = 'pending' AND (call_key IS NOT NULL
                OR (resend_may_apply = 1 AND attempts > 0)))
            -- applied: its result is journaled (`WRITE_RESULT_DELIVERY_PREFIX`)
            OR (status = 'done' AND updated_at >= $5 AND EXISTS (
                  SELECT 1 FROM journal j
                   WHERE j.store_id = outbox.store_id
                     AND j.delivery_id = 'weft-write:' || outbox.idempotency_key)))
     ORDER BY id";

const HELD_QUANTITY: &str = "SELECT fields FROM target_state
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4";
const HELD_QUANTITY_LOCKED: &str = "SELECT fields FROM target_state
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4 FOR UPDATE";

const WRITES_DONE_AFTER: &str = "SELECT id, status, body, created_at, updated_at FROM outbox
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4
       AND status = 'done' AND updated_at > $5
     ORDER BY id";

const UNSETTLED_WRITES: &str = "SELECT o.id,
            CASE WHEN o.status = 'pending' THEN 'inflight' ELSE o.status END AS status,
            o.body, o.created_at, o.updated_at FROM outbox o
       LEFT JOIN journal j
         ON j.store_id = o.store_id AND j.delivery_id = 'weft-write:' || o.idempotency_key
     WHERE o.store_id = $1 AND o.system = $2 AND o.kind = $3 AND o.key = $4
       AND (o.status = 'inflight'
            OR (o.status = 'pending' AND (o.call_key IS NOT NULL
                OR (o.resend_may_apply = 1 AND o.attempts > 0)))
            OR (o.status = 'done' AND j.seq > $5))
     ORDER BY o.id";

const UPSERT_WATERMARK: &str = "INSERT INTO watermarks (store_id, stream, value, updated_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (store_id, stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

const ADVANCE_CURSOR: &str = "INSERT INTO cursors (store_id, seq) VALUES ($1, $2)
     ON CONFLICT (store_id) DO UPDATE SET seq = excluded.seq WHERE cursors.seq < excluded.seq";

const OUTBOX_EXISTS: &str = "SELECT id FROM outbox WHERE idempotency_key = $1";

const OUTBOX_COALESCE: &str = "UPDATE outbox SET status = 'superseded', updated_at = $6
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4 AND op = $5
       AND status IN ('pending', 'dead') AND coalescing = 1 AND call_key IS NULL
       AND NOT (resend_may_apply = 1 AND attempts > 0)";

const OUTBOX_WITHDRAW: &str = "UPDATE outbox SET status = 'superseded', updated_at = $5
     WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4
       AND status = 'pending' AND coalescing = 1 AND call_key IS NULL
       AND NOT (resend_may_apply = 1 AND attempts > 0)";

const OUTBOX_INSERT: &str = "INSERT INTO outbox
     (store_id, system, kind, key, op, idempotency_key, body, priority, coalescing, status,
      attempts, next_attempt_at, created_at, updated_at, resend_may_apply)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10, $10, $11)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";

pub(crate) async fn set_watermark_in_tx(
    tx: &mut Tx,
    store_id: &str,
    w: &WatermarkUpdate,
    at: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(UPSERT_WATERMARK)
            .bind(store_id)
            .bind(&w.stream)
            .bind(w.value.to_string())
            .bind(ms(at))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db("set watermark"))?;
    });
    Ok(())
}

pub(crate) async fn upsert_xref_in_tx(
    tx: &mut Tx,
    store_id: &str,
    x: &crate::types::Xref,
) -> Result<()> {
    const OP: &str = "upsert xref";
    on_tx!(tx, c => {
        if x.one_per_entity {
            sqlx::query(MOVE_XREF)
                .bind(store_id)
                .bind(&x.kind)
                .bind(&x.system)
                .bind(&x.entity_id)
                .bind(&x.key)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
        }
        sqlx::query(UPSERT_XREF)
            .bind(store_id)
            .bind(&x.kind)
            .bind(&x.key)
            .bind(&x.system)
            .bind(&x.entity_id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
    });
    Ok(())
}

pub(crate) async fn upsert_target_in_tx(
    tx: &mut Tx,
    store_id: &str,
    t: &crate::types::TargetStateUpsert,
    at: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(UPSERT_TARGET)
            .bind(store_id)
            .bind(&t.system)
            .bind(&t.kind)
            .bind(&t.key)
            .bind(t.fields.to_string())
            .bind(ms(at))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db("upsert target state"))?;
    });
    Ok(())
}

/// Records what an applied write (outbox row `row_id`) made the target hold. (Stock writes
/// whose answer carries the level's version journal their result instead, and the processing
/// step records it in order with the level's readings; this path takes the others.) Unless a
/// stock write's target was recorded anew since the write was planned: the row's compare-and-set
/// guard is the quantity the target was recorded at then, and a processing step that since
/// merged the write's echo and the side's later moves (a sale) holds a newer state than the
/// write's own value. Overwriting it would make the next reading count that sale again.
pub(crate) async fn record_written_target_in_tx(
    tx: &mut Tx,
    store_id: &str,
    row_id: i64,
    t: &crate::types::TargetStateUpsert,
    at: DateTime<Utc>,
) -> Result<()> {
    const OP: &str = "record written target state";
    if t.kind == "inventory-level" {
        // The check and the upsert must see one record: PostgreSQL locks the row it read
        // (READ COMMITTED would let a step's record land in between); SQLite's write
        // transaction already excludes every other writer.
        let held_sql = match tx {
            Tx::Sqlite(_) => HELD_QUANTITY,
            Tx::Postgres(_) => HELD_QUANTITY_LOCKED,
        };
        let (body, held) = on_tx!(tx, c => {
            let body = sqlx::query("SELECT body FROM outbox WHERE id = $1")
                .bind(row_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .map(|r| r.text("body"))
                .transpose()
                .map_err(StoreError::db(OP))?;
            let held = sqlx::query(held_sql)
                .bind(store_id)
                .bind(&t.system)
                .bind(&t.kind)
                .bind(&t.key)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .map(|r| r.text("fields"))
                .transpose()
                .map_err(StoreError::db(OP))?;
            (body, held)
        });
        let quantity =
            |text: Option<String>, what: &'static str, field: &str| -> Result<Option<i64>> {
                Ok(match text {
                    Some(text) => json(what, &text)?.get(field).and_then(Value::as_i64),
                    None => None,
                })
            };
        let guard = quantity(body, "outbox.body", "expected_quantity")?;
        let held = quantity(held, "target_state.fields", "quantity")?;
        if let (Some(guard), Some(held)) = (guard, held)
            && guard != held
        {
            return Ok(());
        }
    }
    upsert_target_in_tx(tx, store_id, t, at).await
}

/// Records a target state a step derived from its reading, only if the record still holds
/// what the step read; otherwise fails with [`StoreError::TargetChanged`] (the caller's
/// transaction is dropped, so nothing of the step is applied).
async fn record_observed_target_in_tx(
    tx: &mut Tx,
    store_id: &str,
    o: &crate::types::ObservedTarget,
    at: DateTime<Utc>,
) -> Result<()> {
    const OP: &str = "record observed target state";
    let t = &o.upsert;
    let applied = on_tx!(tx, c => {
        let r = match &o.read {
            Some(read) => sqlx::query(UPDATE_OBSERVED_TARGET)
                .bind(store_id)
                .bind(&t.system)
                .bind(&t.kind)
                .bind(&t.key)
                .bind(t.fields.to_string())
                .bind(ms(at))
                .bind(read.to_string())
                .execute(&mut *c)
                .await,
            None => sqlx::query(INSERT_OBSERVED_TARGET)
                .bind(store_id)
                .bind(&t.system)
                .bind(&t.kind)
                .bind(&t.key)
                .bind(t.fields.to_string())
                .bind(ms(at))
                .execute(&mut *c)
                .await,
        };
        r.map_err(StoreError::db(OP))?.rows_affected()
    });
    if applied == 0 {
        return Err(StoreError::TargetChanged {
            system: t.system.clone(),
            kind: t.kind.clone(),
            key: t.key.clone(),
        });
    }
    Ok(())
}

pub(crate) async fn bump_in_tx(tx: &mut Tx, store_id: &str, name: &str, n: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(BUMP_COUNTER)
            .bind(store_id)
            .bind(name)
            .bind(n)
            .execute(&mut *c)
            .await
            .map_err(StoreError::db("bump counter"))?;
    });
    Ok(())
}

fn entity_state_from_row<R: RowExt>(r: &R) -> Result<EntityState> {
    const OP: &str = "read entity state";
    let d = StoreError::db;
    Ok(EntityState {
        system: r.text("system").map_err(d(OP))?,
        kind: r.text("kind").map_err(d(OP))?,
        entity_id: r.text("entity_id").map_err(d(OP))?,
        version: r.text("version").map_err(d(OP))?,
        version_key: r.text("version_key").map_err(d(OP))?,
        body: json("entity_state.body", &r.text("body").map_err(d(OP))?)?,
        canonical_key: r.opt_text("canonical_key").map_err(d(OP))?,
        journal_seq: r.i64("journal_seq").map_err(d(OP))?,
        updated_at: from_ms(r.i64("updated_at").map_err(d(OP))?),
    })
}

const ENTITY_COLUMNS: &str =
    "system, kind, entity_id, version, version_key, body, canonical_key, journal_seq, updated_at";

impl Store {
    /// Applies one engine step in ONE transaction: entity states (version-guarded), golden
    /// records, cross-references, target states, outbox rows (idempotent, coalescing),
    /// watermarks, counters and the cursor advance. If any part fails, nothing is applied;
    /// a crash at any instant leaves either the whole step or none of it.
    pub async fn commit_step(&self, step: &StepCommit) -> Result<StepOutcome> {
        const OP: &str = "commit step";
        let store = step.store_id.as_str();
        if store.is_empty() {
            return Err(StoreError::InvalidArgument {
                op: OP,
                reason: "store_id is empty".into(),
            });
        }
        let mut keys = Vec::with_capacity(step.entity_states.len());
        for s in &step.entity_states {
            keys.push(
                version_key(&s.version).ok_or_else(|| StoreError::InvalidVersion {
                    value: s.version.clone(),
                    what: format!("{store}/{}/{} {}", s.system, s.kind, s.entity_id),
                })?,
            );
        }
        let at = ms(step.at);
        let mut outcome = StepOutcome::default();
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            for (s, key) in step.entity_states.iter().zip(&keys) {
                let applied = sqlx::query(UPSERT_ENTITY_STATE)
                    .bind(store)
                    .bind(&s.system)
                    .bind(&s.kind)
                    .bind(&s.entity_id)
                    .bind(&s.version)
                    .bind(key)
                    .bind(s.body.to_string())
                    .bind(&s.canonical_key)
                    .bind(s.journal_seq)
                    .bind(at)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                if applied.is_none() {
                    outcome.stale_entity_states += 1;
                }
            }
            for g in &step.golden {
                sqlx::query(UPSERT_GOLDEN)
                    .bind(store)
                    .bind(&g.kind)
                    .bind(&g.key)
                    .bind(g.fields.to_string())
                    .bind(g.field_meta.to_string())
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            }
            Ok::<(), StoreError>(())
        })?;
        for x in &step.xrefs {
            upsert_xref_in_tx(&mut w.tx, store, x).await?;
        }
        for t in &step.target_states {
            upsert_target_in_tx(&mut w.tx, store, t, step.at).await?;
        }
        for o in &step.observed_targets {
            record_observed_target_in_tx(&mut w.tx, store, o, step.at).await?;
        }
        on_tx!(&mut w.tx, c => {
            for (system, kind, key) in &step.withdraw {
                let r = sqlx::query(OUTBOX_WITHDRAW)
                    .bind(store)
                    .bind(system)
                    .bind(kind)
                    .bind(key)
                    .bind(at)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                outcome.outbox_replaced += r.rows_affected();
            }
            for o in &step.outbox {
                let exists = sqlx::query(OUTBOX_EXISTS)
                    .bind(&o.idempotency_key)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                if exists.is_some() {
                    outcome.outbox_duplicates += 1;
                    continue;
                }
                if o.coalesce {
                    let r = sqlx::query(OUTBOX_COALESCE)
                        .bind(store)
                        .bind(&o.system)
                        .bind(&o.kind)
                        .bind(&o.key)
                        .bind(&o.op)
                        .bind(at)
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::db(OP))?;
                    outcome.outbox_replaced += r.rows_affected();
                }
                let row = sqlx::query(OUTBOX_INSERT)
                    .bind(store)
                    .bind(&o.system)
                    .bind(&o.kind)
                    .bind(&o.key)
                    .bind(&o.op)
                    .bind(&o.idempotency_key)
                    .bind(o.body.to_string())
                    .bind(o.priority)
                    .bind(i64::from(o.coalesce))
                    .bind(at)
                    .bind(i64::from(o.resend_may_apply))
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                match row {
                    Some(r) => outcome.outbox_inserted.push(r.i64("id").map_err(StoreError::db(OP))?),
                    None => outcome.outbox_duplicates += 1,
                }
            }
            Ok::<(), StoreError>(())
        })?;
        for wm in &step.watermarks {
            set_watermark_in_tx(&mut w.tx, store, wm, step.at).await?;
        }
        for (name, n) in &step.counters {
            bump_in_tx(&mut w.tx, store, name, *n).await?;
        }
        on_tx!(&mut w.tx, c => {
            for seq in &step.unpark {
                sqlx::query("DELETE FROM parked WHERE store_id = $1 AND seq = $2")
                    .bind(store)
                    .bind(seq)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            }
            for p in &step.park {
                sqlx::query(
                    "INSERT INTO parked (store_id, seq, system, kind, key, parked_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id, seq) DO NOTHING",
                )
                .bind(store)
                .bind(p.seq)
                .bind(&p.system)
                .bind(&p.kind)
                .bind(&p.key)
                .bind(at)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            }
            for (system, kind, id) in &step.clear_set_aside {
                sqlx::query(
                    "DELETE FROM set_aside
                     WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4",
                )
                .bind(store)
                .bind(system)
                .bind(kind)
                .bind(id)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            }
            for a in &step.set_aside {
                sqlx::query(
                    "INSERT INTO set_aside
                       (store_id, seq, stage, target, system, kind, entity_id, reason, set_aside_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (store_id, seq, stage, target)
                     DO UPDATE SET reason = excluded.reason, set_aside_at = excluded.set_aside_at",
                )
                .bind(store)
                .bind(a.seq)
                .bind(&a.stage)
                .bind(&a.target)
                .bind(&a.system)
                .bind(&a.kind)
                .bind(&a.entity_id)
                .bind(&a.reason)
                .bind(ms(a.at))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            }
            Ok::<(), StoreError>(())
        })?;
        crate::lineage::insert_in_tx(&mut w.tx, store, &step.lineage, at).await?;
        crate::deletes::hold_in_tx(&mut w.tx, store, &step.hold_deletes).await?;
        crate::deletes::moot_in_tx(&mut w.tx, store, &step.moot_writes, step.at).await?;
        if let Some(seq) = step.advance_cursor_to {
            on_tx!(&mut w.tx, c => {
                sqlx::query(ADVANCE_CURSOR)
                    .bind(store)
                    .bind(seq)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            });
        }
        w.commit(OP).await?;
        Ok(outcome)
    }

    /// `system`'s last-seen state of entity `entity_id`.
    pub async fn entity_state(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        entity_id: &str,
    ) -> Result<Option<EntityState>> {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM entity_state
             WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4"
        );
        on_db!(self.db(), p => {
            let row = sqlx::query(&sql)
                .bind(store_id)
                .bind(system)
                .bind(kind)
                .bind(entity_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db("read entity state"))?;
            row.as_ref().map(entity_state_from_row).transpose()
        })
    }

    /// Every system's last-seen state of the entities with canonical key `key`.
    pub async fn entity_states_by_key(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
    ) -> Result<Vec<EntityState>> {
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM entity_state
             WHERE store_id = $1 AND kind = $2 AND canonical_key = $3 ORDER BY system, entity_id"
        );
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql)
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .fetch_all(p)
                .await
                .map_err(StoreError::db("read entity state"))?;
            rows.iter().map(entity_state_from_row).collect()
        })
    }

    /// The golden record of (`kind`, `key`).
    pub async fn golden(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<GoldenRecord>> {
        const OP: &str = "read golden record";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT fields, field_meta, updated_at FROM golden
                                   WHERE store_id = $1 AND kind = $2 AND key = $3")
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(GoldenRecord {
                    kind: kind.to_owned(),
                    key: key.to_owned(),
                    fields: json("golden.fields", &r.text("fields").map_err(StoreError::db(OP))?)?,
                    field_meta: json("golden.field_meta", &r.text("field_meta").map_err(StoreError::db(OP))?)?,
                    updated_at: from_ms(r.i64("updated_at").map_err(StoreError::db(OP))?),
                })),
            }
        })
    }

    /// The store's golden records whose field meta contains `needle` as text (for example
    /// `"proposed"`, the open proposals an operator decides), by kind and key, at most `limit`.
    pub async fn golden_with_meta(
        &self,
        store_id: &str,
        needle: &str,
        limit: u32,
    ) -> Result<Vec<GoldenRecord>> {
        const OP: &str = "read golden records by meta";
        let pattern = format!(
            "%{}%",
            needle
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        on_db!(self.db(), p => {
            let rows = sqlx::query("SELECT kind, key, fields, field_meta, updated_at FROM golden
                                    WHERE store_id = $1 AND field_meta LIKE $2 ESCAPE '\\'
                                    ORDER BY kind, key LIMIT $3")
                .bind(store_id)
                .bind(&pattern)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    Ok(GoldenRecord {
                        kind: r.text("kind").map_err(StoreError::db(OP))?,
                        key: r.text("key").map_err(StoreError::db(OP))?,
                        fields: json("golden.fields", &r.text("fields").map_err(StoreError::db(OP))?)?,
                        field_meta: json("golden.field_meta", &r.text("field_meta").map_err(StoreError::db(OP))?)?,
                        updated_at: from_ms(r.i64("updated_at").map_err(StoreError::db(OP))?),
                    })
                })
                .collect()
        })
    }

    /// The keys of the store's golden records of `kind` that start with `prefix` (a SKU's
    /// levels: `<sku>@`), in order.
    pub async fn golden_keys_with_prefix(
        &self,
        store_id: &str,
        kind: &str,
        prefix: &str,
    ) -> Result<Vec<String>> {
        const OP: &str = "read golden keys";
        let chars = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        on_db!(self.db(), p => {
            let rows = sqlx::query("SELECT key FROM golden
                                    WHERE store_id = $1 AND kind = $2 AND substr(key, 1, $3) = $4
                                    ORDER BY key")
                .bind(store_id)
                .bind(kind)
                .bind(chars)
                .bind(prefix)
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| r.text("key").map_err(StoreError::db(OP)))
                .collect()
        })
    }

    /// The id canonical key `key` has in `system`.
    pub async fn xref_entity(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
        system: &str,
    ) -> Result<Option<String>> {
        const OP: &str = "read xref";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT entity_id FROM xref
                                   WHERE store_id = $1 AND kind = $2 AND key = $3 AND system = $4")
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .bind(system)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            row.map(|r| r.text("entity_id").map_err(StoreError::db(OP))).transpose()
        })
    }

    /// The SKU of `system`'s inventory item `item_id`, once an observation taught it.
    pub async fn inventory_item_sku(
        &self,
        store_id: &str,
        system: &str,
        item_id: &str,
    ) -> Result<Option<String>> {
        self.xref_entity(
            store_id,
            crate::INVENTORY_ITEM_XREF,
            item_id,
            &crate::sku_xref_system(system),
        )
        .await
    }

    /// The canonical key of `system`'s entity `entity_id`.
    pub async fn xref_key(
        &self,
        store_id: &str,
        kind: &str,
        system: &str,
        entity_id: &str,
    ) -> Result<Option<String>> {
        const OP: &str = "read xref";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT key FROM xref
                                   WHERE store_id = $1 AND kind = $2 AND system = $3 AND entity_id = $4")
                .bind(store_id)
                .bind(kind)
                .bind(system)
                .bind(entity_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            row.map(|r| r.text("key").map_err(StoreError::db(OP))).transpose()
        })
    }

    /// What weft last wrote to or saw in `system` for (`kind`, `key`).
    pub async fn target_state(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<TargetState>> {
        const OP: &str = "read target state";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT fields, updated_at FROM target_state
                                   WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4")
                .bind(store_id)
                .bind(system)
                .bind(kind)
                .bind(key)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(TargetState {
                    system: system.to_owned(),
                    kind: kind.to_owned(),
                    key: key.to_owned(),
                    fields: json("target_state.fields", &r.text("fields").map_err(StoreError::db(OP))?)?,
                    updated_at: from_ms(r.i64("updated_at").map_err(StoreError::db(OP))?),
                })),
            }
        })
    }

    /// The writes that bear on what `system` holds for `kind`/`key` now: every row in flight
    /// (sent or about to be; its outcome is not recorded yet; a pending row still bound to a
    /// saved call counts, reported as in flight: its call was sent), and the applied stock
    /// writes (whose result is journaled under `weft-write:<idempotency key>`) completed at or
    /// after `done_since` (`None`: none). In row order.
    pub async fn settling_writes(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        key: &str,
        done_since: Option<DateTime<Utc>>,
    ) -> Result<Vec<crate::types::SettlingWrite>> {
        let since = done_since.map(ms).unwrap_or(i64::MAX);
        self.writes_to(
            SETTLING_WRITES,
            "read settling writes",
            [store_id, system, kind, key],
            since,
        )
        .await
    }

    /// The applied writes to `system` for `kind`/`key` whose completion was recorded after
    /// `after`: a reading of the target received before then may have been taken before they
    /// landed. In row order.
    pub async fn writes_done_after(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        key: &str,
        after: DateTime<Utc>,
    ) -> Result<Vec<crate::types::SettlingWrite>> {
        let target = [store_id, system, kind, key];
        self.writes_to(
            WRITES_DONE_AFTER,
            "read writes done after",
            target,
            ms(after),
        )
        .await
    }

    /// The writes to `system` for `kind`/`key` whose effect a reader of the journal up to
    /// `processed` (a seq) cannot know yet: those in flight (as in
    /// [`Store::settling_writes`]) and the applied stock writes whose result is journaled after
    /// `processed`. In row order.
    pub async fn unsettled_writes(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        key: &str,
        processed: i64,
    ) -> Result<Vec<crate::types::SettlingWrite>> {
        let target = [store_id, system, kind, key];
        self.writes_to(UNSETTLED_WRITES, "read unsettled writes", target, processed)
            .await
    }

    /// Runs `sql`, a query of outbox rows bound to `(store, system, kind, key)` and one bound.
    async fn writes_to(
        &self,
        sql: &str,
        op: &'static str,
        [store_id, system, kind, key]: [&str; 4],
        bound: i64,
    ) -> Result<Vec<crate::types::SettlingWrite>> {
        on_db!(self.db(), p => {
            sqlx::query(sql)
                .bind(store_id)
                .bind(system)
                .bind(kind)
                .bind(key)
                .bind(bound)
                .fetch_all(p)
                .await
                .map_err(StoreError::db(op))?
                .iter()
                .map(|r| settling_write(r, op))
                .collect::<Result<Vec<_>>>()
        })
    }

    /// The watermark of `stream`, if one was stored.
    pub async fn watermark(&self, store_id: &str, stream: &str) -> Result<Option<Value>> {
        const OP: &str = "read watermark";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT value FROM watermarks WHERE store_id = $1 AND stream = $2")
                .bind(store_id)
                .bind(stream)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            row.map(|r| json("watermarks.value", &r.text("value").map_err(StoreError::db(OP))?))
                .transpose()
        })
    }

    /// Stores a watermark on its own. A poller that journals a page should use
    /// [`Store::append_with_watermark`] instead, so both land together.
    pub async fn set_watermark(
        &self,
        store_id: &str,
        watermark: &WatermarkUpdate,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut w = self.begin_write("set watermark").await?;
        set_watermark_in_tx(&mut w.tx, store_id, watermark, at).await?;
        w.commit("set watermark").await
    }

    /// The last journal seq the engine processed for `store_id` (0 before the first step).
    pub async fn cursor(&self, store_id: &str) -> Result<i64> {
        const OP: &str = "read cursor";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT seq FROM cursors WHERE store_id = $1")
                .bind(store_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            Ok(match row {
                Some(r) => r.i64("seq").map_err(StoreError::db(OP))?,
                None => 0,
            })
        })
    }

    /// Adds `n` to counter `name` of `store_id` (creating it at 0).
    pub async fn bump_counter(&self, store_id: &str, name: &str, n: i64) -> Result<()> {
        let mut w = self.begin_write("bump counter").await?;
        bump_in_tx(&mut w.tx, store_id, name, n).await?;
        w.commit("bump counter").await
    }

    /// All counters of `store_id`.
    pub async fn counters(&self, store_id: &str) -> Result<BTreeMap<String, i64>> {
        const OP: &str = "read counters";
        on_db!(self.db(), p => {
            let rows = sqlx::query("SELECT name, value FROM counters WHERE store_id = $1")
                .bind(store_id)
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| Ok((r.text("name").map_err(StoreError::db(OP))?, r.i64("value").map_err(StoreError::db(OP))?)))
                .collect()
        })
    }

    /// Deletes the projections of `store_id` (entity states, golden records, xrefs, target
    /// states) and resets its cursor to 0, in one transaction, so the engine re-derives them
    /// by re-running the journal. Watermarks, counters, the outbox and the journal are kept.
    pub async fn rebuild_projections(&self, store_id: &str) -> Result<()> {
        const OP: &str = "rebuild projections";
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            for table in ["entity_state", "golden", "xref", "target_state", "cursors"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE store_id = $1"))
                    .bind(store_id)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            }
        });
        w.commit(OP).await
    }

    /// Every store id that has journal entries, outbox rows or a cursor, sorted.
    pub async fn store_ids(&self) -> Result<Vec<String>> {
        const OP: &str = "list stores";
        on_db!(self.db(), p => {
            let rows = sqlx::query("SELECT DISTINCT store_id FROM journal
                                    UNION SELECT DISTINCT store_id FROM outbox
                                    UNION SELECT store_id FROM cursors ORDER BY 1")
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter().map(|r| r.text("store_id").map_err(StoreError::db(OP))).collect()
        })
    }

    /// [`Store::status`] of each of `store_ids`, in that order, in three queries whatever their
    /// number (one reading every per-store figure, the outbox per store and status, the
    /// counters, each of the listed stores only), rather than nine per store: what a
    /// `/metrics` scrape of a host of thousands of stores reads.
    pub async fn statuses(&self, store_ids: &[String]) -> Result<Vec<StoreStatus>> {
        const OP: &str = "store statuses";
        if store_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Each listed store's figures, each a correlated lookup by the store's own index.
        let figures = |list: &str| {
            format!(
                "SELECT s.id AS store_id,
                        COALESCE((SELECT c.seq FROM cursors c WHERE c.store_id = s.id), 0) AS cursor,
                        COALESCE((SELECT MAX(j.seq) FROM journal j WHERE j.store_id = s.id), 0) AS head,
                        (SELECT COUNT(*) FROM journal j WHERE j.store_id = s.id
                           AND j.seq > COALESCE((SELECT c.seq FROM cursors c WHERE c.store_id = s.id), 0)) AS lag,
                        (SELECT COUNT(*) FROM intake_rejects x WHERE x.store_id = s.id) AS rejects,
                        (SELECT COUNT(*) FROM parked x WHERE x.store_id = s.id) AS parked,
                        (SELECT COUNT(*) FROM set_aside x WHERE x.store_id = s.id) AS set_aside,
                        (SELECT COUNT(*) FROM held_deletes x WHERE x.store_id = s.id) AS deletes_held
                 FROM {list}"
            )
        };
        // The outbox and the counters of the listed stores only (by their index): the
        // background sweep asks for a few dozen stores of thousands.
        const COUNTERS: &str = "SELECT store_id, name, value FROM counters WHERE store_id";
        const OUTBOX: &str = "SELECT store_id, status, COUNT(*) AS n FROM outbox WHERE store_id";
        let (mut out, counters, outbox) = match self.db() {
            crate::db::Db::Sqlite(p) => {
                let list = serde_json::to_string(store_ids)
                    .map_err(|e| StoreError::db(OP)(sqlx::Error::Encode(Box::new(e))))?;
                let listed = "IN (SELECT value FROM json_each($1))";
                let rows = sqlx::query(&figures(
                    "(SELECT value AS id, key AS pos FROM json_each($1)) s ORDER BY s.pos",
                ))
                .bind(&list)
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
                let c = sqlx::query(&format!("{COUNTERS} {listed}"))
                    .bind(&list)
                    .fetch_all(p)
                    .await
                    .map_err(StoreError::db(OP))?;
                let o = sqlx::query(&format!("{OUTBOX} {listed} GROUP BY store_id, status"))
                    .bind(&list)
                    .fetch_all(p)
                    .await
                    .map_err(StoreError::db(OP))?;
                (
                    rows.iter().map(status_row).collect::<Result<Vec<_>>>()?,
                    by_store(&c, "name", "value")?,
                    by_store(&o, "status", "n")?,
                )
            }
            crate::db::Db::Postgres(p) => {
                let listed = "= ANY($1)";
                let rows = sqlx::query(&figures(
                    "unnest($1::text[]) WITH ORDINALITY AS s(id, pos) ORDER BY s.pos",
                ))
                .bind(store_ids)
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
                let c = sqlx::query(&format!("{COUNTERS} {listed}"))
                    .bind(store_ids)
                    .fetch_all(p)
                    .await
                    .map_err(StoreError::db(OP))?;
                let o = sqlx::query(&format!("{OUTBOX} {listed} GROUP BY store_id, status"))
                    .bind(store_ids)
                    .fetch_all(p)
                    .await
                    .map_err(StoreError::db(OP))?;
                (
                    rows.iter().map(status_row).collect::<Result<Vec<_>>>()?,
                    by_store(&c, "name", "value")?,
                    by_store(&o, "status", "n")?,
                )
            }
        };
        for st in &mut out {
            st.counters = counters
                .get(&st.store_id)
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            st.outbox = outbox_depth(outbox.get(&st.store_id).into_iter().flatten())?;
        }
        Ok(out)
    }

    /// Operator figures for `store_id`: journal head, cursor, lag, outbox depth per status,
    /// intake rejects and counters ([`Store::statuses`] of one store).
    pub async fn status(&self, store_id: &str) -> Result<StoreStatus> {
        let mut one = self.statuses(&[store_id.to_owned()]).await?;
        Ok(one.remove(0))
    }
}

/// Outbox rows per status from `(status, count)` pairs.
fn outbox_depth<'a>(by_status: impl IntoIterator<Item = &'a (String, i64)>) -> Result<OutboxDepth> {
    let mut outbox = OutboxDepth::default();
    for (status, n) in by_status {
        let n = *n;
        match status.parse()? {
            crate::types::OutboxStatus::Pending => outbox.pending = n,
            crate::types::OutboxStatus::Inflight => outbox.inflight = n,
            crate::types::OutboxStatus::Done => outbox.done = n,
            crate::types::OutboxStatus::Dead => outbox.dead = n,
            crate::types::OutboxStatus::Discarded => outbox.discarded = n,
            crate::types::OutboxStatus::Superseded => outbox.superseded = n,
        }
    }
    Ok(outbox)
}

/// One row of [`Store::statuses`]' figures query, without outbox and counters.
fn status_row<R: RowExt>(r: &R) -> Result<StoreStatus> {
    const OP: &str = "store statuses";
    let n = |col: &str| r.i64(col).map_err(StoreError::db(OP));
    Ok(StoreStatus {
        store_id: r.text("store_id").map_err(StoreError::db(OP))?,
        journal_head: n("head")?,
        cursor: n("cursor")?,
        lag: n("lag")?,
        outbox: OutboxDepth::default(),
        parked: n("parked")?,
        set_aside: n("set_aside")?,
        deletes_held: n("deletes_held")?,
        intake_rejects: n("rejects")?,
        counters: BTreeMap::new(),
    })
}

/// `(store_id, name, value)` rows grouped by store.
fn by_store<R: RowExt>(
    rows: &[R],
    name: &str,
    value: &str,
) -> Result<HashMap<String, Vec<(String, i64)>>> {
    const OP: &str = "store statuses";
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for r in rows {
        out.entry(r.text("store_id").map_err(StoreError::db(OP))?)
            .or_default()
            .push((
                r.text(name).map_err(StoreError::db(OP))?,
                r.i64(value).map_err(StoreError::db(OP))?,
            ));
    }
    Ok(out)
}

fn settling_write<R: RowExt>(r: &R, op: &'static str) -> Result<crate::types::SettlingWrite> {
    let body = json("outbox.body", &r.text("body").map_err(StoreError::db(op))?)?;
    Ok(crate::types::SettlingWrite {
        id: r.i64("id").map_err(StoreError::db(op))?,
        status: r.text("status").map_err(StoreError::db(op))?.parse()?,
        desired: body.get("desired").cloned().unwrap_or(Value::Null),
        replaces: body
            .get("replaces")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        expected_quantity: body.get("expected_quantity").and_then(Value::as_i64),
        created_at: from_ms(r.i64("created_at").map_err(StoreError::db(op))?),
        updated_at: from_ms(r.i64("updated_at").map_err(StoreError::db(op))?),
    })
}
