//! The outbox (writes leaving the host) and dead letters.
//!
//! Rules the dispatcher can rely on:
//! - **Idempotency**: an idempotency key is enqueued at most once, ever (until purged).
//! - **Coalescing**: a new row with `coalesce = true` replaces every still-`pending`
//!   coalescing row of the same (store, system, kind, key, op), and every such dead letter,
//!   which becomes `superseded` (kept with its last answer, so its key stays used): the new
//!   row carries the latest state, so retrying the old one would only send a stale one, and
//!   a record refused again and again leaves one dead letter, not one per change. Rows
//!   already `inflight` are never touched (see [`NewOutboxRow`](crate::NewOutboxRow)).
//! - **Per-target order**: a row is claimable only when no older `pending` or `inflight` row
//!   exists for the same (store, system, kind, key), so two writes to one entity are never in
//!   flight together and land in the order they were enqueued. Dead letters do not block.
//!   One claim therefore holds at most one row per target entity.
//! - **Latest state only**: a coalescing row sent back to `pending` by [`Store::retry`] while a
//!   newer pending coalescing row for the same target and op exists (enqueued while it was in
//!   flight) becomes `superseded` instead: only the latest state is sent.
//! - **Persisted calls**: a platform call carrying several rows (Shopify inventory batches) is
//!   saved with [`Store::open_calls`] before it is sent, and its rows point at it (`call_key`).
//!   While they do, the call's outcome is unknown: they are never superseded (the call may have
//!   applied them) and their next send must be that exact call again, under the same
//!   idempotency key, so the platform answers with the original result instead of applying it
//!   twice. [`Store::release_calls`] detaches rows whose call was answered but did not apply
//!   them, so they may join a new call.
//! - **NetSuite stock sets** are sent one by one, outside saved calls: once sent, one may have
//!   applied (its adjustment exists under its key) whatever the error said, so it is never
//!   superseded or coalesced away; its next send finds the adjustment and records its result.
//! - **Stock write results**: a completion may journal the write's result in its transaction
//!   ([`Completion::journal`](crate::Completion::journal)).
//! - **Leases**: [`Store::claim_due`] marks rows `inflight` until `now + lease` under a fresh
//!   claim token; when a dispatcher crashes, its rows become due again once the lease expires.
//!   Settling (`complete`, `retry`, `dead_letter`) requires the claim token, so a dispatcher
//!   whose lease expired and whose row was re-claimed gets [`StoreError::LeaseLost`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{Db, RowExt, from_ms, json, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::{Completion, NewOutboxCall, OutboxCall, OutboxRow, OutboxStatus};

const COLUMNS: &str = "id, store_id, system, kind, key, op, idempotency_key, body, priority, coalescing, status, attempts, next_attempt_at, lease_until, claim_token, last_error, created_at, updated_at, call_key";

/// The claim: due rows (pending and due, or in flight with an expired lease), at most one per
/// target entity (the oldest open row of each), in (priority, next_attempt_at, id) order.
///
/// On SQLite the two kinds of due rows are found by two index walks (`outbox_claim_store` /
/// `outbox_claim` for pending rows in claim order, `outbox_lease` for expired leases), each
/// stopping at the limit, and merged: one query with `status = 'pending' OR status =
/// 'inflight'` made SQLite collect and sort the whole backlog on every claim (180 ms for a
/// 60,000-row backlog, against 5 ms). PostgreSQL keeps
/// one query (`FOR UPDATE SKIP LOCKED` cannot lock through a `UNION`).
fn claim_sql(postgres: bool, by_store: bool) -> String {
    let store = if by_store {
        "o.store_id = $4"
    } else {
        "$4 IS NULL"
    };
    let filters = format!(
        "{store}
             AND ($6 IS NULL OR o.system = $6)
             AND ($7 IS NULL OR o.kind = $7)
             AND ($8 IS NULL OR o.op = $8)
             AND ($9 IS NULL OR o.priority <= $9)
             AND NOT EXISTS (
               SELECT 1 FROM outbox p
               WHERE p.store_id = o.store_id AND p.system = o.system AND p.kind = o.kind
                 AND p.key = o.key AND p.status IN ('pending', 'inflight') AND p.id < o.id)"
    );
    let pick = if postgres {
        format!(
            "SELECT o.id FROM outbox o
           WHERE ((o.status = 'pending' AND o.next_attempt_at <= $1)
                  OR (o.status = 'inflight' AND o.lease_until <= $1))
             AND {filters}
           ORDER BY o.priority, o.next_attempt_at, o.id
           LIMIT $5 FOR UPDATE SKIP LOCKED"
        )
    } else {
        // Without statistics SQLite prefers `outbox_due` for the `next_attempt_at` range and
        // then sorts every due row; the claim-order index stops after `limit` rows instead.
        let index = if by_store {
            "outbox_claim_store"
        } else {
            "outbox_claim"
        };
        format!(
            "SELECT id FROM (
             SELECT * FROM (
               SELECT o.id, o.priority, o.next_attempt_at FROM outbox o INDEXED BY {index}
               WHERE o.status = 'pending' AND o.next_attempt_at <= $1 AND {filters}
               ORDER BY o.priority, o.next_attempt_at, o.id LIMIT $5)
             UNION ALL
             SELECT * FROM (
               SELECT o.id, o.priority, o.next_attempt_at FROM outbox o
               WHERE o.status = 'inflight' AND o.lease_until <= $1 AND {filters}
               ORDER BY o.priority, o.next_attempt_at, o.id LIMIT $5))
           ORDER BY priority, next_attempt_at, id LIMIT $5"
        )
    };
    format!(
        "UPDATE outbox SET status = 'inflight', lease_until = $2, claim_token = $3,
                attempts = attempts + 1, updated_at = $1
         WHERE id IN ({pick})
         RETURNING {COLUMNS}"
    )
}

fn row_from<R: RowExt>(r: &R) -> Result<OutboxRow> {
    const OP: &str = "read outbox";
    let d = StoreError::db;
    Ok(OutboxRow {
        id: r.i64("id").map_err(d(OP))?,
        store_id: r.text("store_id").map_err(d(OP))?,
        system: r.text("system").map_err(d(OP))?,
        kind: r.text("kind").map_err(d(OP))?,
        key: r.text("key").map_err(d(OP))?,
        op: r.text("op").map_err(d(OP))?,
        idempotency_key: r.text("idempotency_key").map_err(d(OP))?,
        body: json("outbox.body", &r.text("body").map_err(d(OP))?)?,
        priority: r.i64("priority").map_err(d(OP))?,
        coalesce: r.i64("coalescing").map_err(d(OP))? != 0,
        status: r.text("status").map_err(d(OP))?.parse()?,
        attempts: r.i64("attempts").map_err(d(OP))?,
        next_attempt_at: from_ms(r.i64("next_attempt_at").map_err(d(OP))?),
        lease_until: r.opt_i64("lease_until").map_err(d(OP))?.map(from_ms),
        claim_token: r.opt_text("claim_token").map_err(d(OP))?,
        last_error: r.opt_text("last_error").map_err(d(OP))?,
        created_at: from_ms(r.i64("created_at").map_err(d(OP))?),
        updated_at: from_ms(r.i64("updated_at").map_err(d(OP))?),
        call_key: r.opt_text("call_key").map_err(d(OP))?,
    })
}

fn lease_ms(op: &'static str, lease: Duration) -> Result<i64> {
    i64::try_from(lease.as_millis())
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| StoreError::InvalidArgument {
            op,
            reason: format!("lease {lease:?} must be at least 1 ms"),
        })
}

/// Which due rows a claim may take ([`Store::claim_due_filtered`]); `None` fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFilter {
    /// Only rows for this target system.
    pub system: Option<String>,
    /// Only rows of this entity kind.
    pub kind: Option<String>,
    /// Only rows with this operation.
    pub op: Option<String>,
    /// Only rows at least this urgent (priority number at most this).
    pub max_priority: Option<i64>,
}

impl Store {
    /// Claims up to `limit` due rows (of `store_id` only, when given): `pending` rows whose
    /// `next_attempt_at <= now` and `inflight` rows whose lease expired, respecting per-target
    /// order, highest priority (lowest number) first. Each is marked `inflight` until
    /// `now + lease` with a new claim token, and its `attempts` is incremented.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
        store_id: Option<&str>,
    ) -> Result<Vec<OutboxRow>> {
        self.claim_due_filtered(now, limit, lease, store_id, &ClaimFilter::default())
            .await
    }

    /// The earliest instant one of `store_id`'s outbox rows (for `system` only, when given)
    /// becomes claimable: a pending row's `next_attempt_at` or an in-flight row's
    /// `lease_until` (`None` when it has neither). A read, no write lock: what an idle
    /// dispatcher asks instead of claiming nothing.
    pub async fn outbox_next_due(
        &self,
        store_id: &str,
        system: Option<&str>,
    ) -> Result<Option<DateTime<Utc>>> {
        const OP: &str = "outbox next due";
        on_db!(self.db(), p => {
            let row = sqlx::query(
                "SELECT (SELECT MIN(next_attempt_at) FROM outbox WHERE store_id = $1 AND status = 'pending'
                                                                 AND ($2 IS NULL OR system = $2)) AS due,
                        (SELECT MIN(lease_until) FROM outbox WHERE store_id = $1 AND status = 'inflight'
                                                               AND ($2 IS NULL OR system = $2)) AS lease",
            )
            .bind(store_id)
            .bind(system)
            .fetch_one(p)
            .await
            .map_err(StoreError::db(OP))?;
            let due = row.opt_i64("due").map_err(StoreError::db(OP))?;
            let lease = row.opt_i64("lease").map_err(StoreError::db(OP))?;
            Ok([due, lease].into_iter().flatten().min().map(from_ms))
        })
    }

    /// [`Store::claim_due`] restricted to the rows `filter` matches (e.g. only Shopify
    /// inventory set-quantity rows, to fill a batch; only urgent rows, during quiet hours).
    /// Per-target order still counts every row: a row is not claimable while an older row for
    /// its target is pending or in flight, whether or not the filter matches that older row.
    pub async fn claim_due_filtered(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
        store_id: Option<&str>,
        filter: &ClaimFilter,
    ) -> Result<Vec<OutboxRow>> {
        const OP: &str = "claim outbox rows";
        let lease = lease_ms(OP, lease)?;
        let token = uuid::Uuid::new_v4().to_string();
        let sql = claim_sql(matches!(self.db(), Db::Postgres(_)), store_id.is_some());
        let mut w = self.begin_write(OP).await?;
        let mut rows = on_tx!(&mut w.tx, c => {
            let rows = sqlx::query(&sql)
                .bind(ms(now))
                .bind(ms(now) + lease)
                .bind(&token)
                .bind(store_id)
                .bind(i64::from(limit))
                .bind(filter.system.as_deref())
                .bind(filter.kind.as_deref())
                .bind(filter.op.as_deref())
                .bind(filter.max_priority)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter().map(row_from).collect::<Result<Vec<_>>>()?
        });
        w.commit(OP).await?;
        rows.sort_by_key(|r| (r.priority, r.next_attempt_at, r.id));
        Ok(rows)
    }

    /// Marks claimed row `id` done and, in the same transaction, records what the write made
    /// the target hold (`completion`). Fails with [`StoreError::LeaseLost`] when `token` no
    /// longer holds the row.
    pub async fn complete(
        &self,
        id: i64,
        token: &str,
        completion: &Completion,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const OP: &str = "complete outbox row";
        let journal = completion
            .journal
            .iter()
            .cloned()
            .map(crate::journal::prepare)
            .collect::<Result<Vec<_>>>()?;
        let mut w = self.begin_write(OP).await?;
        let store_id = on_tx!(&mut w.tx, c => {
            let row = sqlx::query("UPDATE outbox SET status = 'done', lease_until = NULL, claim_token = NULL,
                                          last_error = NULL, updated_at = $3
                                   WHERE id = $1 AND claim_token = $2 AND status = 'inflight'
                                   RETURNING store_id")
                .bind(id)
                .bind(token)
                .bind(ms(now))
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            match row {
                Some(r) => r.text("store_id").map_err(StoreError::db(OP))?,
                None => return Err(StoreError::LeaseLost { id, token: token.to_owned() }),
            }
        });
        for x in &completion.xrefs {
            crate::step::upsert_xref_in_tx(&mut w.tx, &store_id, x).await?;
        }
        for t in &completion.target_states {
            crate::step::record_written_target_in_tx(&mut w.tx, &store_id, id, t, now).await?;
        }
        for (name, n) in &completion.counters {
            crate::step::bump_in_tx(&mut w.tx, &store_id, name, *n).await?;
        }
        crate::journal::append_in_tx(&mut w.tx, &journal).await?;
        w.commit(OP).await
    }

    /// Marks many claimed rows done in ONE transaction (one fsync for a whole batch of writes),
    /// each with its own completion, exactly as [`Store::complete`] does for one row. Rows whose
    /// claim token no longer holds them are skipped (their new owner settles them) and their
    /// ids returned; the others commit.
    pub async fn complete_many(
        &self,
        rows: &[(i64, String, Completion)],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        const OP: &str = "complete outbox rows";
        let mut lost = Vec::new();
        let journals = rows
            .iter()
            .map(|(_, _, c)| {
                c.journal
                    .iter()
                    .cloned()
                    .map(crate::journal::prepare)
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let mut counters: std::collections::BTreeMap<(String, String), i64> =
            std::collections::BTreeMap::new();
        let mut w = self.begin_write(OP).await?;
        for ((id, token, completion), journal) in rows.iter().zip(&journals) {
            let store_id = on_tx!(&mut w.tx, c => {
                let row = sqlx::query("UPDATE outbox SET status = 'done', lease_until = NULL, claim_token = NULL,
                                              last_error = NULL, updated_at = $3
                                       WHERE id = $1 AND claim_token = $2 AND status = 'inflight'
                                       RETURNING store_id")
                    .bind(id)
                    .bind(token)
                    .bind(ms(now))
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                match row {
                    Some(r) => Some(r.text("store_id").map_err(StoreError::db(OP))?),
                    None => None,
                }
            });
            let Some(store_id) = store_id else {
                lost.push(*id);
                continue;
            };
            for x in &completion.xrefs {
                crate::step::upsert_xref_in_tx(&mut w.tx, &store_id, x).await?;
            }
            for t in &completion.target_states {
                crate::step::record_written_target_in_tx(&mut w.tx, &store_id, *id, t, now).await?;
            }
            for (name, n) in &completion.counters {
                *counters
                    .entry((store_id.clone(), name.clone()))
                    .or_default() += *n;
            }
            crate::journal::append_in_tx(&mut w.tx, journal).await?;
        }
        // One bump per counter for the whole batch, not one per row.
        for ((store_id, name), n) in &counters {
            crate::step::bump_in_tx(&mut w.tx, store_id, name, *n).await?;
        }
        w.commit(OP).await?;
        Ok(lost)
    }

    /// Puts claimed row `id` back to `pending`, due at `next_at`, recording `error`; or, when
    /// it is a coalescing row and a newer pending coalescing row for the same target and op was
    /// enqueued while it was in flight, marks it `superseded` (the newer row carries the latest
    /// state, so this one is never sent again).
    pub async fn retry(
        &self,
        id: i64,
        token: &str,
        next_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.settle(id, token, OutboxStatus::Pending, Some(next_at), error, now)
            .await
    }

    /// Settles claimed row `id` as superseded without sending it (`why` kept as its last
    /// error): what it would write is moot (its record was deleted on its target since it was
    /// queued).
    pub async fn supersede_claimed(
        &self,
        id: i64,
        token: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.settle(id, token, OutboxStatus::Superseded, None, why, now)
            .await
    }

    /// Moves claimed row `id` to the dead letters with the platform's `error`; or, like
    /// [`Store::retry`], marks it `superseded` (keeping `error`) when it is a coalescing row
    /// and a newer pending coalescing row for the same target and op was enqueued while it was
    /// in flight: that row carries the latest state and is the one to send (or to dead-letter).
    pub async fn dead_letter(
        &self,
        id: i64,
        token: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.settle(id, token, OutboxStatus::Dead, None, error, now)
            .await
    }

    async fn settle(
        &self,
        id: i64,
        token: &str,
        status: OutboxStatus,
        next_at: Option<DateTime<Utc>>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const OP: &str = "settle outbox row";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query("UPDATE outbox SET status = CASE
                                  WHEN $3 IN ('pending', 'dead') AND coalescing = 1 AND call_key IS NULL
                                    -- a write whose resend may find it applied (sent alone,
                                    -- outside a saved call) is sent again and finds its
                                    -- effect by key, never replaced
                                    AND resend_may_apply = 0 AND EXISTS (
                                    SELECT 1 FROM outbox n
                                    WHERE n.store_id = outbox.store_id AND n.system = outbox.system
                                      AND n.kind = outbox.kind AND n.key = outbox.key
                                      AND n.op = outbox.op AND n.status = 'pending'
                                      AND n.coalescing = 1 AND n.id > outbox.id)
                                  THEN 'superseded' ELSE $3 END,
                                next_attempt_at = COALESCE($4, next_attempt_at),
                                lease_until = NULL, claim_token = NULL, last_error = $5, updated_at = $6
                         WHERE id = $1 AND claim_token = $2 AND status = 'inflight'")
                .bind(id)
                .bind(token)
                .bind(status.as_str())
                .bind(next_at.map(ms))
                .bind(error)
                .bind(ms(now))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::LeaseLost {
                id,
                token: token.to_owned(),
            });
        }
        w.commit(OP).await
    }

    /// Persists `calls` before they are sent, in one transaction: each gets a new call key
    /// (a UUID, to be sent as the call's idempotency key) and its rows point at it. Every row
    /// must still be held by its claim token; when some are not (their lease expired and
    /// another dispatcher claimed them), nothing is persisted and their ids are returned
    /// (`Err` of the inner result), so the caller can leave them out and try again. Returns
    /// the call keys, in order.
    pub async fn open_calls(
        &self,
        store_id: &str,
        calls: &[NewOutboxCall],
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<Vec<String>, Vec<i64>>> {
        const OP: &str = "persist outbox calls";
        let mut keys = Vec::with_capacity(calls.len());
        let mut lost = Vec::new();
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            for call in calls {
                let key = uuid::Uuid::new_v4().to_string();
                let ids: Vec<i64> = call.rows.iter().map(|(id, _)| *id).collect();
                sqlx::query("INSERT INTO outbox_calls (call_key, store_id, payload, row_ids, created_at)
                             VALUES ($1, $2, $3, $4, $5)")
                    .bind(&key)
                    .bind(store_id)
                    .bind(call.payload.to_string())
                    .bind(serde_json::Value::from(ids).to_string())
                    .bind(ms(now))
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                for (id, token) in &call.rows {
                    let n = sqlx::query("UPDATE outbox SET call_key = $3
                                         WHERE id = $1 AND claim_token = $2 AND status = 'inflight'")
                        .bind(id)
                        .bind(token)
                        .bind(&key)
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::db(OP))?
                        .rows_affected();
                    if n == 0 {
                        lost.push(*id);
                    }
                }
                keys.push(key);
            }
            Ok::<(), StoreError>(())
        })?;
        if !lost.is_empty() {
            // Dropping the transaction rolls it back.
            return Ok(Err(lost));
        }
        w.commit(OP).await?;
        Ok(Ok(keys))
    }

    /// Replaces the input of persisted call `call_key`: the platform accepted the call and
    /// settles it later, and its next send must carry what the platform answered (its receipt)
    /// so that it asks for the results instead of submitting the call again. Returns false when
    /// the call is not stored.
    pub async fn update_call_payload(
        &self,
        call_key: &str,
        payload: &serde_json::Value,
    ) -> Result<bool> {
        const OP: &str = "update outbox call";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query("UPDATE outbox_calls SET payload = $2 WHERE call_key = $1")
                .bind(call_key)
                .bind(payload.to_string())
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected()
        });
        w.commit(OP).await?;
        Ok(n > 0)
    }

    /// The persisted call `call_key` ([`Store::open_calls`]).
    pub async fn outbox_call(&self, call_key: &str) -> Result<Option<OutboxCall>> {
        const OP: &str = "read outbox call";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT call_key, store_id, payload, row_ids, created_at
                                   FROM outbox_calls WHERE call_key = $1")
                .bind(call_key)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            let Some(r) = row else { return Ok(None) };
            let ids = json("outbox_calls.row_ids", &r.text("row_ids").map_err(StoreError::db(OP))?)?;
            let row_ids = ids
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
                .unwrap_or_default();
            Ok(Some(OutboxCall {
                call_key: r.text("call_key").map_err(StoreError::db(OP))?,
                store_id: r.text("store_id").map_err(StoreError::db(OP))?,
                payload: json("outbox_calls.payload", &r.text("payload").map_err(StoreError::db(OP))?)?,
                row_ids,
                created_at: from_ms(r.i64("created_at").map_err(StoreError::db(OP))?),
            }))
        })
    }

    /// Detaches claimed rows `(id, token)` from their persisted call, in one transaction: the
    /// call was answered and did not apply them, so their next send may be a new call (and a
    /// newer coalescing row may supersede them again). Rows no longer held are skipped.
    pub async fn release_calls(&self, rows: &[(i64, String)]) -> Result<()> {
        const OP: &str = "release outbox calls";
        if rows.is_empty() {
            return Ok(());
        }
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            for (id, token) in rows {
                sqlx::query("UPDATE outbox SET call_key = NULL
                             WHERE id = $1 AND claim_token = $2 AND status = 'inflight'")
                    .bind(id)
                    .bind(token)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            }
            Ok::<(), StoreError>(())
        })?;
        w.commit(OP).await
    }

    /// Outbox row `id`, in any status.
    pub async fn outbox_row(&self, id: i64) -> Result<Option<OutboxRow>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
        on_db!(self.db(), p => {
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db("read outbox"))?;
            row.as_ref().map(row_from).transpose()
        })
    }

    /// Up to `limit` outbox rows (of `store_id` / in `status` when given), oldest first.
    pub async fn list_outbox(
        &self,
        store_id: Option<&str>,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE ($1 IS NULL OR store_id = $1)
             AND ($2 IS NULL OR status = $2) ORDER BY id LIMIT $3"
        );
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql)
                .bind(store_id)
                .bind(status.map(OutboxStatus::as_str))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::db("list outbox"))?;
            rows.iter().map(row_from).collect()
        })
    }

    /// Dead letters (of `store_id` when given), oldest first.
    pub async fn list_dead_letters(
        &self,
        store_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>> {
        self.list_outbox(store_id, Some(OutboxStatus::Dead), limit)
            .await
    }

    /// Sends dead letter `id` back to `pending`, due at `now`, with `attempts` reset to 0.
    /// Returns false when `id` is not a dead letter.
    pub async fn retry_dead_letter(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.move_dead(id, "pending", now).await
    }

    /// Discards dead letter `id` (status `discarded`; its idempotency key stays used, so the
    /// same write is not enqueued again). Returns false when `id` is not a dead letter.
    pub async fn discard_dead_letter(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.move_dead(id, "discarded", now).await
    }

    /// Marks dead letter `id` `superseded`: its write failed because the target deleted the
    /// record (nothing for an operator to retry). Returns false when `id` is not a dead letter.
    pub async fn supersede_dead_letter(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.move_dead(id, "superseded", now).await
    }

    async fn move_dead(&self, id: i64, to: &'static str, now: DateTime<Utc>) -> Result<bool> {
        const OP: &str = "move dead letter";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query("UPDATE outbox SET status = $2, attempts = 0, next_attempt_at = $3, updated_at = $3
                         WHERE id = $1 AND status = 'dead'")
                .bind(id)
                .bind(to)
                .bind(ms(now))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected()
        });
        w.commit(OP).await?;
        Ok(n == 1)
    }

    /// Deletes `done`, `discarded` and `superseded` rows last changed before `before`,
    /// returning how many, and the persisted calls made before `before` that no row points at
    /// any more.
    /// Their idempotency keys are forgotten, so keep `before` well past any replay window.
    pub async fn purge_outbox(&self, before: DateTime<Utc>) -> Result<u64> {
        const OP: &str = "purge outbox";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            let n = sqlx::query("DELETE FROM outbox WHERE status IN ('done', 'discarded', 'superseded') AND updated_at < $1")
                .bind(ms(before))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected();
            sqlx::query("DELETE FROM outbox_calls WHERE created_at < $1 AND NOT EXISTS (
                           SELECT 1 FROM outbox o WHERE o.call_key = outbox_calls.call_key)")
                .bind(ms(before))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            n
        });
        w.commit(OP).await?;
        Ok(n)
    }
}
