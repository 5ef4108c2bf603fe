//! The append-only journal: appends with dedupe, intake rejects, and the reads the engine and
//! replay use.
//!
//! Dedupe rule: an append is a duplicate when the store already journaled the same
//! observation key — (store, system, kind, entity_id, sortable version, SHA-256 of the body's
//! canonical JSON) — or the same `delivery_id`. So a repeated webhook, or a poll that returns
//! what a webhook already delivered, is recognised; a different body under the same version
//! (Shopify's one-second `updated_at`) is still journaled.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::{RowExt, Tx, from_ms, json, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::{
    AppendOutcome, IntakeReject, JournalEntry, NewJournalEntry, Parked, Source, WatermarkUpdate,
    version_key,
};

/// The journal kind of a *hint*: a delivery that names an entity without carrying it (webhooks
/// that are thin by design). It is journaled like any delivery (acknowledged only once durable;
/// a duplicate dedupes by its delivery id) but never mapped: the processing step skips it, and
/// the platform's own change source fetches the entity it names. A transaction that journals a
/// hint names its system in the store's [`crate::JOURNAL_CHANNEL`] notice.
pub const HINT_KIND: &str = "hint";

/// Class of the advisory locks PostgreSQL journal appends hold, one per store (the two-key
/// form: `pg_advisory_xact_lock(class, store key)`). Serialising a store's appends makes its
/// `seq` commit order equal its `seq` order, so a reader paging the store by `seq > cursor`
/// can never skip an entry committed late by a concurrent transaction with a smaller `seq`.
/// Readers page one store at a time, so appends for different stores need not wait on each
/// other: one lock for the whole journal made every host's intake, pollers and settlements
/// queue behind each other, and a host stopped while holding it (SIGSTOP, a VM pause) stopped
/// every append of every host until its session ended.
const PG_JOURNAL_LOCK_CLASS: i32 = 0x776a_6e6c;

/// A store's key in [`PG_JOURNAL_LOCK_CLASS`] (32-bit FNV-1a of its id: stable across hosts
/// and versions; two stores sharing a key only share a lock).
fn journal_lock_key(store_id: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in store_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

pub(crate) const BUMP_COUNTER: &str =
    "INSERT INTO counters (store_id, name, value) VALUES ($1, $2, $3)
     ON CONFLICT (store_id, name) DO UPDATE SET value = counters.value + excluded.value";

const FIND: &str = "SELECT seq FROM journal
     WHERE (store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4 AND version_key = $5 AND body_hash = $6)
        OR (store_id = $1 AND delivery_id = $7)
     ORDER BY seq LIMIT 1";

const COLUMNS: &str = "seq, store_id, system, kind, entity_id, version, version_key, source, delivery_id, body, body_hash, received_at";

/// A validated entry, ready to insert: checked and hashed by the caller's task, so the
/// journal writer's batch only does I/O.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) entry: NewJournalEntry,
    version_key: String,
    body_text: String,
    body_hash: String,
}

/// Writes `v` as JSON with object keys sorted, recursively, into `out` (a hasher): two
/// documents that differ only in key order hash alike. Keys and scalars are written by
/// serde_json's own serializer, so the bytes are exactly those of the compact JSON text of the
/// document with its keys sorted (what earlier versions hashed through an intermediate
/// string: stored hashes stay valid).
fn canonical_json<W: std::io::Write>(v: &Value, out: &mut W) -> std::io::Result<()> {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.write_all(b"{")?;
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, k)?;
                out.write_all(b":")?;
                canonical_json(item, out)?;
            }
            out.write_all(b"}")
        }
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                canonical_json(item, out)?;
            }
            out.write_all(b"]")
        }
        scalar => serde_json::to_writer(&mut *out, scalar).map_err(std::io::Error::from),
    }
}

/// Feeds what is written straight into a SHA-256 (no intermediate string).
struct HashWriter(sha2::Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// SHA-256 (hex) of the canonical JSON of `body`: the body part of the observation key.
pub fn body_hash(body: &Value) -> String {
    let mut w = HashWriter(<sha2::Sha256 as sha2::Digest>::new());
    canonical_json(body, &mut w).expect("hashing never fails to write");
    hex::encode(sha2::Digest::finalize(w.0))
}

pub(crate) fn prepare(entry: NewJournalEntry) -> Result<Prepared> {
    let what = || {
        format!(
            "{}/{}/{} {}",
            entry.store_id, entry.system, entry.kind, entry.entity_id
        )
    };
    for (name, value) in [
        ("store_id", &entry.store_id),
        ("system", &entry.system),
        ("kind", &entry.kind),
        ("entity_id", &entry.entity_id),
    ] {
        if value.is_empty() {
            return Err(StoreError::InvalidArgument {
                op: "journal append",
                reason: format!("{name} is empty in {}", what()),
            });
        }
    }
    if entry.delivery_id.as_deref() == Some("") {
        return Err(StoreError::InvalidArgument {
            op: "journal append",
            reason: format!("delivery_id is empty (use None) in {}", what()),
        });
    }
    let version_key = version_key(&entry.version).ok_or_else(|| StoreError::InvalidVersion {
        value: entry.version.clone(),
        what: what(),
    })?;
    let body_text = entry.body.to_string();
    let body_hash = body_hash(&entry.body);
    Ok(Prepared {
        entry,
        version_key,
        body_text,
        body_hash,
    })
}

/// Rows per multi-row INSERT (11 parameters each; well under both backends' limits).
const CHUNK: usize = 128;

/// `INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING RETURNING ...` for `rows` rows.
/// SQLite gets anonymous `?` parameters: sqlx looks each numbered parameter's name up by
/// index, and SQLite finds a name by walking the statement's list of names, so `$n` costs
/// time quadratic in the parameters (1,408 in a full chunk). By `perf` that lookup was the
/// hottest function of the whole webhook intake; without it `weft bench intake` takes 17% more
/// webhooks a second. PostgreSQL needs `$n`.
fn insert_sql(rows: usize, numbered: bool) -> String {
    let mut sql = String::from(
        "INSERT INTO journal (store_id, system, kind, entity_id, version, version_key, source, \
         delivery_id, body, body_hash, received_at) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let b = r * 11;
        sql.push('(');
        for c in 1..=11 {
            if c > 1 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(b + c).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql.push_str(
        " ON CONFLICT DO NOTHING RETURNING seq, store_id, system, kind, entity_id, version_key, \
         body_hash, delivery_id",
    );
    sql
}

/// What identifies an inserted row among a batch's RETURNING rows.
type RowKey = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

fn prepared_key(p: &Prepared) -> RowKey {
    let e = &p.entry;
    (
        e.store_id.clone(),
        e.system.clone(),
        e.kind.clone(),
        e.entity_id.clone(),
        p.version_key.clone(),
        p.body_hash.clone(),
        e.delivery_id.clone(),
    )
}

fn returned_key<R: RowExt>(r: &R) -> std::result::Result<(RowKey, i64), sqlx::Error> {
    Ok((
        (
            r.text("store_id")?,
            r.text("system")?,
            r.text("kind")?,
            r.text("entity_id")?,
            r.text("version_key")?,
            r.text("body_hash")?,
            r.opt_text("delivery_id")?,
        ),
        r.i64("seq")?,
    ))
}

/// Appends `entries` inside `tx`, answering each with its outcome.
///
/// Each chunk is one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING`; rows are inserted
/// in the given order, so of several equal entries the first is the one inserted. Entries whose
/// row was not returned conflicted with an existing row (or an earlier entry of the batch) and
/// are looked up to report the seq they duplicate.
pub(crate) async fn append_in_tx(tx: &mut Tx, entries: &[Prepared]) -> Result<Vec<AppendOutcome>> {
    const OP: &str = "journal append";
    let mut out = Vec::with_capacity(entries.len());
    let mut duplicates: HashMap<(String, Source), i64> = HashMap::new();
    if entries.is_empty() {
        return Ok(out);
    }
    if let Tx::Postgres(t) = tx {
        // The locks of the stores appended to, in key order (every transaction takes them in
        // the same order, so two never wait on each other's), in one statement.
        let mut keys: Vec<i32> = entries
            .iter()
            .map(|p| journal_lock_key(&p.entry.store_id))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        sqlx::query("SELECT count(pg_advisory_xact_lock($1, k)) AS n FROM unnest($2::int4[]) AS k")
            .bind(PG_JOURNAL_LOCK_CLASS)
            .bind(&keys)
            .execute(&mut **t)
            .await
            .map_err(StoreError::db(OP))?;
    }
    let numbered = matches!(tx, Tx::Postgres(_));
    on_tx!(tx, c => {
        for chunk in entries.chunks(CHUNK) {
            let sql = insert_sql(chunk.len(), numbered);
            let mut q = sqlx::query(&sql);
            for p in chunk {
                let e = &p.entry;
                q = q
                    .bind(&e.store_id)
                    .bind(&e.system)
                    .bind(&e.kind)
                    .bind(&e.entity_id)
                    .bind(&e.version)
                    .bind(&p.version_key)
                    .bind(e.source.as_str())
                    .bind(&e.delivery_id)
                    .bind(&p.body_text)
                    .bind(&p.body_hash)
                    .bind(ms(e.received_at));
            }
            let rows = q.fetch_all(&mut *c).await.map_err(StoreError::db(OP))?;
            let mut inserted: HashMap<RowKey, i64> = HashMap::with_capacity(rows.len());
            for r in &rows {
                let (k, seq) = returned_key(r).map_err(StoreError::db(OP))?;
                inserted.insert(k, seq);
            }
            for p in chunk {
                let e = &p.entry;
                if let Some(seq) = inserted.remove(&prepared_key(p)) {
                    out.push(AppendOutcome::Inserted(seq));
                    continue;
                }
                let row = sqlx::query(FIND)
                    .bind(&e.store_id)
                    .bind(&e.system)
                    .bind(&e.kind)
                    .bind(&e.entity_id)
                    .bind(&p.version_key)
                    .bind(&p.body_hash)
                    .bind(&e.delivery_id)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                out.push(AppendOutcome::Duplicate(row.i64("seq").map_err(StoreError::db(OP))?));
                *duplicates.entry((e.store_id.clone(), e.source)).or_default() += 1;
            }
        }
        for ((store_id, source), n) in &duplicates {
            sqlx::query(BUMP_COUNTER)
                .bind(store_id)
                .bind(format!("journal_duplicate_{source}"))
                .bind(*n)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
        }
        Ok::<(), StoreError>(())
    })?;
    if let Tx::Postgres(t) = tx {
        // The stores that got new entries, told to every host on commit: the one that holds a
        // store's lease runs its processing now, whichever host's intake took the delivery, and
        // wakes the hint fetchers of the systems named after the store (those with new hints).
        let mut hinted: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (p, _) in entries.iter().zip(&out).filter(|(_, o)| o.is_inserted()) {
            let systems = hinted.entry(p.entry.store_id.as_str()).or_default();
            if p.entry.kind == HINT_KIND && !systems.contains(&p.entry.system.as_str()) {
                systems.push(p.entry.system.as_str());
            }
        }
        let stores: Vec<String> = hinted
            .into_iter()
            .map(|(store, systems)| {
                std::iter::once(store)
                    .chain(systems)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if !stores.is_empty() {
            sqlx::query(
                "SELECT count(pg_notify($1, current_schema()::text || ' ' || s)) AS n FROM unnest($2::text[]) AS s",
            )
            .bind(crate::lease::JOURNAL_CHANNEL)
            .bind(&stores)
            .execute(&mut **t)
            .await
            .map_err(StoreError::db(OP))?;
        }
    }
    Ok(out)
}

fn entry_from_row<R: RowExt>(r: &R) -> Result<JournalEntry> {
    const OP: &str = "journal read";
    let get = |res: std::result::Result<String, sqlx::Error>| res.map_err(StoreError::db(OP));
    Ok(JournalEntry {
        seq: r.i64("seq").map_err(StoreError::db(OP))?,
        store_id: get(r.text("store_id"))?,
        system: get(r.text("system"))?,
        kind: get(r.text("kind"))?,
        entity_id: get(r.text("entity_id"))?,
        version: get(r.text("version"))?,
        version_key: get(r.text("version_key"))?,
        source: get(r.text("source"))?.parse()?,
        delivery_id: r.opt_text("delivery_id").map_err(StoreError::db(OP))?,
        body: json("journal.body", &get(r.text("body"))?)?,
        body_hash: get(r.text("body_hash"))?,
        received_at: from_ms(r.i64("received_at").map_err(StoreError::db(OP))?),
    })
}

impl Store {
    /// Appends one entry in its own transaction (one fsync). For intake bursts use a
    /// [`JournalWriter`](crate::JournalWriter), which batches concurrent appends.
    pub async fn append(&self, entry: NewJournalEntry) -> Result<AppendOutcome> {
        let mut v = self.append_batch(vec![entry]).await?;
        Ok(v.remove(0))
    }

    /// Appends `entries` in one transaction; outcomes are in the same order. An entry that
    /// duplicates an earlier one of the same batch is reported as [`AppendOutcome::Duplicate`].
    pub async fn append_batch(&self, entries: Vec<NewJournalEntry>) -> Result<Vec<AppendOutcome>> {
        let prepared = entries
            .into_iter()
            .map(prepare)
            .collect::<Result<Vec<_>>>()?;
        self.append_prepared(&prepared).await
    }

    /// Appends a poll page and advances the poller's watermark in the SAME transaction, so a
    /// watermark never moves past a change that is not journaled.
    pub async fn append_with_watermark(
        &self,
        entries: Vec<NewJournalEntry>,
        store_id: &str,
        watermark: WatermarkUpdate,
        at: DateTime<Utc>,
    ) -> Result<Vec<AppendOutcome>> {
        const OP: &str = "journal append with watermark";
        let prepared = entries
            .into_iter()
            .map(prepare)
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = prepared.iter().find(|p| p.entry.store_id != store_id) {
            return Err(StoreError::InvalidArgument {
                op: OP,
                reason: format!(
                    "entry for store `{}` in a page for store `{store_id}`",
                    p.entry.store_id
                ),
            });
        }
        let mut w = self.begin_write(OP).await?;
        let out = append_in_tx(&mut w.tx, &prepared).await?;
        crate::step::set_watermark_in_tx(&mut w.tx, store_id, &watermark, at).await?;
        w.commit(OP).await?;
        Ok(out)
    }

    pub(crate) async fn append_prepared(
        &self,
        prepared: &[Prepared],
    ) -> Result<Vec<AppendOutcome>> {
        if prepared.is_empty() {
            return Ok(Vec::new());
        }
        let mut w = self.begin_write("journal append").await?;
        let out = append_in_tx(&mut w.tx, prepared).await?;
        w.commit("journal append").await?;
        Ok(out)
    }

    /// Up to `limit` entries of `store_id` with `seq > after_seq`, in seq order: the engine's
    /// work queue (pass the store's cursor).
    pub async fn journal_since(
        &self,
        store_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<JournalEntry>> {
        self.journal_range(store_id, None, None, after_seq, limit)
            .await
    }

    /// Up to `limit` entries of `store_id` received at or after `since` (all when `None`), of
    /// kind `kind` (all when `None`), with `seq > after_seq`, in seq order. Replay pages
    /// through it by passing the last seq it saw.
    pub async fn journal_range(
        &self,
        store_id: &str,
        since: Option<DateTime<Utc>>,
        kind: Option<&str>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<JournalEntry>> {
        const OP: &str = "journal read";
        let sql = format!(
            "SELECT {COLUMNS} FROM journal WHERE store_id = $1 AND seq > $2
             AND ($3 IS NULL OR received_at >= $3) AND ($4 IS NULL OR kind = $4)
             ORDER BY seq LIMIT $5"
        );
        let since = since.map(ms);
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql)
                .bind(store_id)
                .bind(after_seq)
                .bind(since)
                .bind(kind)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter().map(entry_from_row).collect()
        })
    }

    /// When the last entry of one entity was received (`None`: nothing of it is journaled).
    /// A read begun after it has seen everything journaled of the entity; one begun before it
    /// may be older than an entry already journaled (a write's result, a webhook), whatever
    /// the two versions say within one second.
    pub async fn last_received(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        entity_id: &str,
    ) -> Result<Option<DateTime<Utc>>> {
        const OP: &str = "journal read";
        let sql = "SELECT MAX(received_at) FROM journal
                   WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4";
        on_db!(self.db(), p => {
            let v: Option<i64> = sqlx::query_scalar(sql)
                .bind(store_id)
                .bind(system)
                .bind(kind)
                .bind(entity_id)
                .fetch_one(p)
                .await
                .map_err(StoreError::db(OP))?;
            Ok(v.map(from_ms))
        })
    }

    /// Whether the journal holds this observation of an entity already: the same version and
    /// body (what an append of it would be deduplicated against).
    pub async fn journal_holds(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        entity_id: &str,
        version: &str,
        body: &serde_json::Value,
    ) -> Result<bool> {
        const OP: &str = "journal read";
        let Some(key) = version_key(version) else {
            return Ok(false);
        };
        let sql = "SELECT COUNT(*) FROM journal WHERE store_id = $1 AND system = $2 AND kind = $3
                   AND entity_id = $4 AND version_key = $5 AND body_hash = $6";
        on_db!(self.db(), p => {
            let n: i64 = sqlx::query_scalar(sql)
                .bind(store_id)
                .bind(system)
                .bind(kind)
                .bind(entity_id)
                .bind(&key)
                .bind(body_hash(body))
                .fetch_one(p)
                .await
                .map_err(StoreError::db(OP))?;
            Ok(n > 0)
        })
    }

    /// Whether the newest journal entry of an entity has this body (a tombstone journaled
    /// already, whether or not the processing step has reached it).
    pub async fn journal_latest_is(
        &self,
        store_id: &str,
        system: &str,
        kind: &str,
        entity_id: &str,
        body: &serde_json::Value,
    ) -> Result<bool> {
        const OP: &str = "journal read";
        let sql = "SELECT body_hash FROM journal WHERE store_id = $1 AND system = $2 AND kind = $3
                   AND entity_id = $4 ORDER BY seq DESC LIMIT 1";
        on_db!(self.db(), p => {
            let h: Option<String> = sqlx::query_scalar(sql)
                .bind(store_id)
                .bind(system)
                .bind(kind)
                .bind(entity_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            Ok(h.as_deref() == Some(body_hash(body).as_str()))
        })
    }

    /// The entry with sequence number `seq`, if any.
    pub async fn journal_entry(&self, seq: i64) -> Result<Option<JournalEntry>> {
        const OP: &str = "journal read";
        let sql = format!("SELECT {COLUMNS} FROM journal WHERE seq = $1");
        on_db!(self.db(), p => {
            let row = sqlx::query(&sql)
                .bind(seq)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?;
            row.as_ref().map(entry_from_row).transpose()
        })
    }

    /// The entries of `store_id` set aside by processing steps ([`crate::StepCommit::park`]),
    /// each with what it waits for, in seq order.
    pub async fn parked_entries(&self, store_id: &str) -> Result<Vec<(Parked, JournalEntry)>> {
        const OP: &str = "read parked entries";
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("j.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, p.system AS p_system, p.kind AS p_kind, p.key AS p_key
             FROM parked p JOIN journal j ON j.seq = p.seq
             WHERE p.store_id = $1 ORDER BY p.seq"
        );
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql)
                .bind(store_id)
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    let entry = entry_from_row(r)?;
                    let parked = Parked {
                        seq: entry.seq,
                        system: r.text("p_system").map_err(StoreError::db(OP))?,
                        kind: r.text("p_kind").map_err(StoreError::db(OP))?,
                        key: r.text("p_key").map_err(StoreError::db(OP))?,
                    };
                    Ok((parked, entry))
                })
                .collect()
        })
    }

    /// Highest journal seq of `store_id` (0 when it has none).
    pub async fn journal_head(&self, store_id: &str) -> Result<i64> {
        const OP: &str = "journal head";
        on_db!(self.db(), p => {
            let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS head FROM journal WHERE store_id = $1")
                .bind(store_id)
                .fetch_one(p)
                .await
                .map_err(StoreError::db(OP))?;
            row.i64("head").map_err(StoreError::db(OP))
        })
    }

    /// Keeps a request intake refused (malformed body), returning its id. The caller must
    /// strip secrets (signature headers are fine; tokens are not) from `headers`.
    pub async fn record_reject(
        &self,
        store_id: &str,
        reason: &str,
        headers: &Value,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<i64> {
        const OP: &str = "record intake reject";
        let mut w = self.begin_write(OP).await?;
        let id = on_tx!(&mut w.tx, c => {
            let row = sqlx::query("INSERT INTO intake_rejects (store_id, reason, headers, body, received_at)
                                   VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(store_id)
                .bind(reason)
                .bind(headers.to_string())
                .bind(body)
                .bind(ms(received_at))
                .fetch_one(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            row.i64("id").map_err(StoreError::db(OP))?
        });
        w.commit(OP).await?;
        Ok(id)
    }

    /// The newest `limit` intake rejects of `store_id`, newest first.
    pub async fn list_rejects(&self, store_id: &str, limit: u32) -> Result<Vec<IntakeReject>> {
        const OP: &str = "list intake rejects";
        on_db!(self.db(), p => {
            let rows = sqlx::query("SELECT id, store_id, reason, headers, body, received_at FROM intake_rejects
                                    WHERE store_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(store_id)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    Ok(IntakeReject {
                        id: r.i64("id").map_err(StoreError::db(OP))?,
                        store_id: r.text("store_id").map_err(StoreError::db(OP))?,
                        reason: r.text("reason").map_err(StoreError::db(OP))?,
                        headers: json("intake_rejects.headers", &r.text("headers").map_err(StoreError::db(OP))?)?,
                        body: r.bytes("body").map_err(StoreError::db(OP))?,
                        received_at: from_ms(r.i64("received_at").map_err(StoreError::db(OP))?),
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash as the first versions computed it (a sorted-key string, then SHA-256): stored
    /// hashes must keep matching.
    fn old_body_hash(body: &Value) -> String {
        fn canonical(v: &Value, out: &mut String) {
            match v {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    out.push('{');
                    for (i, k) in keys.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&Value::String(k.clone()).to_string());
                        out.push(':');
                        canonical(&map[k.as_str()], out);
                    }
                    out.push('}');
                }
                Value::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        canonical(item, out);
                    }
                    out.push(']');
                }
                scalar => out.push_str(&scalar.to_string()),
            }
        }
        let mut s = String::new();
        canonical(body, &mut s);
        crate::db::sha256_hex(s.as_bytes())
    }

    #[test]
    fn sqlite_inserts_take_anonymous_parameters_and_postgres_numbered_ones() {
        let sqlite = insert_sql(3, false);
        assert!(!sqlite.contains('$'), "{sqlite}");
        assert_eq!(sqlite.matches('?').count(), 33);
        let pg = insert_sql(3, true);
        assert!(!pg.contains('?'), "{pg}");
        assert!(pg.contains("$33)") && !pg.contains("$34"), "{pg}");
    }

    #[test]
    fn body_hash_is_unchanged_and_ignores_key_order() {
        let a: Value = serde_json::from_str(
            r#"{"z":1,"a":{"y":[1,2.5,-3e-7,{"q":null,"b":true}],"x":"é \"quoted\" \u0001 /"},
                "id":8079745990737254412,"m":"line\nbreak","e":{},"l":[]}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"l":[],"e":{},"m":"line\nbreak","id":8079745990737254412,
                "a":{"x":"é \"quoted\" \u0001 /","y":[1,2.5,-3e-7,{"b":true,"q":null}]},"z":1}"#,
        )
        .unwrap();
        assert_eq!(body_hash(&a), old_body_hash(&a));
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_ne!(body_hash(&a), body_hash(&serde_json::json!({"z": 2})));
    }
}
