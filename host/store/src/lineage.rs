//! Why a record holds what it holds: the lineage rows each processing step writes in its own
//! transaction ([`LineageRow`], table `lineage`), read back with the journal entries they came
//! from, each system's copy and the writes they caused ([`Store::explain`]); and finding a
//! record by SKU, canonical key or any system's id ([`Store::find_records`]).
//!
//! Everything here is read from durable state (journal, lineage, projections, outbox), so it is
//! as true after a restart or a replay as before: a replay writes lineage rows of its own
//! (`mode = replay`) after the live ones.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::WRITE_RESULT_DELIVERY_PREFIX;
use crate::db::{RowExt, Tx, from_ms, json};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::LineageRow;

const INSERT: &str =
    "INSERT INTO lineage (store_id, seq, kind, key, system, mode, mapper, fields, writes, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Writes a step's lineage rows (inside [`Store::commit_step`]'s transaction).
pub(crate) async fn insert_in_tx(
    tx: &mut Tx,
    store_id: &str,
    rows: &[LineageRow],
    at: i64,
) -> Result<()> {
    const OP: &str = "record lineage";
    on_tx!(tx, c => {
        for r in rows {
            sqlx::query(INSERT)
                .bind(store_id)
                .bind(r.seq)
                .bind(&r.kind)
                .bind(&r.key)
                .bind(&r.system)
                .bind(&r.mode)
                .bind(&r.mapper)
                .bind(r.fields.to_string())
                .bind(r.writes.to_string())
                .bind(at)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
        }
        Ok::<(), StoreError>(())
    })
}

/// One step's decisions for a record, with the journal entry they came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageStep {
    /// Lineage row id (the order decisions were made in).
    pub id: i64,
    /// The journal entry.
    pub seq: i64,
    /// When the step committed.
    pub at: DateTime<Utc>,
    /// `live` or `replay`.
    pub mode: String,
    /// The system the entry observed (empty for a row that only records writes).
    pub system: String,
    /// The mapper that mapped it (`name version`).
    pub mapper: String,
    /// How the change was observed: `webhook`, `poll`, `cdc`, `write result` (what a target
    /// answered to weft's write), `replay`, `manual`; empty when the entry is gone.
    pub source: String,
    /// The system's version of the document.
    pub version: Option<String>,
    /// When weft received it.
    pub received_at: Option<DateTime<Utc>>,
    /// The journal's kind and the system's id of the document.
    pub document: Option<(String, String)>,
    /// Per field: the decision (`decision`: changed, conflict, refused, vetted, echo,
    /// observed; `value`; for a resolver's decision `resolver`, `rule`, `decided`, ...).
    pub fields: Value,
    /// The writes the step planned for the record from this entry, as they ended.
    pub writes: Vec<RecordWrite>,
}

/// One system's copy of a record: what weft last knew it to hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordCopy {
    /// The system.
    pub system: String,
    /// The record's id there, when known.
    pub entity_id: Option<String>,
    /// Canonical fields.
    pub fields: Value,
    /// When weft last recorded them.
    pub updated_at: DateTime<Utc>,
}

/// A write to a record and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordWrite {
    /// Outbox row id (0 when the row was purged).
    pub id: i64,
    /// Target system.
    pub system: String,
    /// Operation.
    pub op: String,
    /// `pending`, `inflight`, `done`, `dead`, `discarded`, `superseded`, or `purged`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The platform's last answer, when it failed.
    pub last_error: Option<String>,
    /// Idempotency key.
    pub idempotency_key: String,
    /// The canonical fields the write makes the target hold.
    pub desired: Value,
    /// Queued at.
    pub created_at: Option<DateTime<Utc>>,
    /// Last changed at.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Everything known about why one record holds what it holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Store id.
    pub store_id: String,
    /// Canonical kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// The golden record's fields (null when there is none).
    pub golden: Value,
    /// Per field, which system's change made the golden value (and a refusal, if any).
    pub provenance: Value,
    /// Each system's copy.
    pub copies: Vec<RecordCopy>,
    /// Every step that decided something for the record, oldest first.
    pub steps: Vec<LineageStep>,
    /// Every write to the record still in the outbox, oldest first.
    pub writes: Vec<RecordWrite>,
}

impl Explanation {
    /// The explanation of one field: its golden value, each copy's value, the steps that
    /// decided it and the writes that carried it.
    pub fn field(&self, field: &str) -> Explanation {
        let only = |v: &Value| match v.get(field) {
            Some(x) => serde_json::json!({ field: x }),
            None => serde_json::json!({}),
        };
        let carries = |w: &RecordWrite| w.desired.get(field).is_some();
        Explanation {
            store_id: self.store_id.clone(),
            kind: self.kind.clone(),
            key: self.key.clone(),
            golden: only(&self.golden),
            provenance: only(&self.provenance),
            copies: self
                .copies
                .iter()
                .map(|c| RecordCopy {
                    fields: only(&c.fields),
                    ..c.clone()
                })
                .collect(),
            steps: self
                .steps
                .iter()
                .filter(|s| s.fields.get(field).is_some() || s.writes.iter().any(carries))
                .map(|s| LineageStep {
                    fields: only(&s.fields),
                    writes: s.writes.iter().filter(|w| carries(w)).cloned().collect(),
                    ..s.clone()
                })
                .collect(),
            writes: self.writes.iter().filter(|w| carries(w)).cloned().collect(),
        }
    }
}

/// A journal source as an operator reads it (weft's own write results named as such).
fn source_name(source: &str, delivery_id: Option<&str>) -> String {
    match delivery_id {
        Some(d) if d.starts_with(WRITE_RESULT_DELIVERY_PREFIX) => "write result".into(),
        Some(d) if d.starts_with("weft-replan:") => "write refused as stale".into(),
        _ => source.to_owned(),
    }
}

fn write_from_row<R: RowExt>(r: &R, op: &'static str) -> Result<RecordWrite> {
    let d = StoreError::db;
    let body = json("outbox.body", &r.text("body").map_err(d(op))?)?;
    Ok(RecordWrite {
        id: r.i64("id").map_err(d(op))?,
        system: r.text("system").map_err(d(op))?,
        op: r.text("op").map_err(d(op))?,
        status: r.text("status").map_err(d(op))?,
        attempts: r.i64("attempts").map_err(d(op))?,
        last_error: r.opt_text("last_error").map_err(d(op))?,
        idempotency_key: r.text("idempotency_key").map_err(d(op))?,
        desired: body.get("desired").cloned().unwrap_or(Value::Null),
        created_at: Some(from_ms(r.i64("created_at").map_err(d(op))?)),
        updated_at: Some(from_ms(r.i64("updated_at").map_err(d(op))?)),
    })
}

/// A found record: its kind and key, and why it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundRecord {
    /// Canonical kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// `key`, `sku` (a stock level of the SKU), or `<system> id`.
    pub matched: String,
}

impl Store {
    /// Every lineage step of record (`kind`, `key`) of `store_id`, oldest first, up to `limit`
    /// (the newest `limit` when there are more), with their journal entries and writes.
    pub async fn lineage_steps(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
        limit: u32,
    ) -> Result<Vec<LineageStep>> {
        const OP: &str = "read lineage";
        let writes = self.record_writes(store_id, kind, key).await?;
        let by_key: HashMap<&str, &RecordWrite> = writes
            .iter()
            .map(|w| (w.idempotency_key.as_str(), w))
            .collect();
        let rows = on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT * FROM (
                   SELECT l.id, l.seq, l.at, l.mode, l.system, l.mapper, l.fields, l.writes,
                          j.source, j.version, j.received_at, j.kind AS doc_kind,
                          j.entity_id AS doc_id, j.delivery_id
                     FROM lineage l LEFT JOIN journal j ON j.seq = l.seq
                    WHERE l.store_id = $1 AND l.kind = $2 AND l.key = $3
                    ORDER BY l.id DESC LIMIT $4) t
                 ORDER BY id",
            )
            .bind(store_id)
            .bind(kind)
            .bind(key)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            let d = StoreError::db;
            rows.iter()
                .map(|r| {
                    let planned = json("lineage.writes", &r.text("writes").map_err(d(OP))?)?;
                    let source = r.opt_text("source").map_err(d(OP))?;
                    let delivery = r.opt_text("delivery_id").map_err(d(OP))?;
                    let doc = match (r.opt_text("doc_kind").map_err(d(OP))?, r.opt_text("doc_id").map_err(d(OP))?) {
                        (Some(k), Some(i)) => Some((k, i)),
                        _ => None,
                    };
                    Ok((
                        LineageStep {
                            id: r.i64("id").map_err(d(OP))?,
                            seq: r.i64("seq").map_err(d(OP))?,
                            at: from_ms(r.i64("at").map_err(d(OP))?),
                            mode: r.text("mode").map_err(d(OP))?,
                            system: r.text("system").map_err(d(OP))?,
                            mapper: r.text("mapper").map_err(d(OP))?,
                            source: source
                                .map(|s| source_name(&s, delivery.as_deref()))
                                .unwrap_or_default(),
                            version: r.opt_text("version").map_err(d(OP))?,
                            received_at: r.opt_i64("received_at").map_err(d(OP))?.map(from_ms),
                            document: doc,
                            fields: json("lineage.fields", &r.text("fields").map_err(d(OP))?)?,
                            writes: Vec::new(),
                        },
                        planned,
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(mut step, planned)| {
                for w in planned.as_array().into_iter().flatten() {
                    let key = w
                        .get("idempotency_key")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    step.writes.push(match by_key.get(key) {
                        Some(found) => (*found).clone(),
                        None => RecordWrite {
                            id: 0,
                            system: text(w, "target"),
                            op: text(w, "op"),
                            status: "purged".into(),
                            attempts: 0,
                            last_error: None,
                            idempotency_key: key.to_owned(),
                            desired: w.get("desired").cloned().unwrap_or(Value::Null),
                            created_at: None,
                            updated_at: None,
                        },
                    });
                }
                step
            })
            .collect())
    }

    /// Every outbox row (any status) writing record (`kind`, `key`) of `store_id`, oldest first.
    pub async fn record_writes(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
    ) -> Result<Vec<RecordWrite>> {
        const OP: &str = "read a record's writes";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT id, system, op, status, attempts, last_error, idempotency_key, body,
                        created_at, updated_at
                   FROM outbox WHERE store_id = $1 AND kind = $2 AND key = $3 ORDER BY id",
            )
            .bind(store_id)
            .bind(kind)
            .bind(key)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter().map(|r| write_from_row(r, OP)).collect()
        })
    }

    /// Each system's copy of record (`kind`, `key`): what weft last knew it to hold, with the
    /// record's id there.
    pub async fn record_copies(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
    ) -> Result<Vec<RecordCopy>> {
        const OP: &str = "read a record's copies";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT t.system, t.fields, t.updated_at, x.entity_id FROM target_state t
                   LEFT JOIN xref x ON x.store_id = t.store_id AND x.kind = t.kind
                                   AND x.key = t.key AND x.system = t.system
                  WHERE t.store_id = $1 AND t.kind = $2 AND t.key = $3 ORDER BY t.system",
            )
            .bind(store_id)
            .bind(kind)
            .bind(key)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            let d = StoreError::db;
            rows.iter()
                .map(|r| {
                    Ok(RecordCopy {
                        system: r.text("system").map_err(d(OP))?,
                        entity_id: r.opt_text("entity_id").map_err(d(OP))?,
                        fields: json("target_state.fields", &r.text("fields").map_err(d(OP))?)?,
                        updated_at: from_ms(r.i64("updated_at").map_err(d(OP))?),
                    })
                })
                .collect()
        })
    }

    /// Why record (`kind`, `key`) of `store_id` holds what it holds: golden record, each
    /// system's copy, the newest `limit` lineage steps (oldest first) and every write. `None`
    /// when weft knows nothing of the record.
    pub async fn explain(
        &self,
        store_id: &str,
        kind: &str,
        key: &str,
        limit: u32,
    ) -> Result<Option<Explanation>> {
        let golden = self.golden(store_id, kind, key).await?;
        let copies = self.record_copies(store_id, kind, key).await?;
        let steps = self.lineage_steps(store_id, kind, key, limit).await?;
        let writes = self.record_writes(store_id, kind, key).await?;
        if golden.is_none() && copies.is_empty() && steps.is_empty() && writes.is_empty() {
            return Ok(None);
        }
        let (golden, provenance) = match golden {
            Some(g) => (g.fields, g.field_meta),
            None => (Value::Null, Value::Null),
        };
        Ok(Some(Explanation {
            store_id: store_id.to_owned(),
            kind: kind.to_owned(),
            key: key.to_owned(),
            golden,
            provenance,
            copies,
            steps,
            writes,
        }))
    }

    /// Records of `store_id` that `query` names: a canonical key (a SKU), the stock levels of
    /// a SKU (`<sku>@<location>`), or any system's id of a record. Up to `limit`, by kind and
    /// key.
    pub async fn find_records(
        &self,
        store_id: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<FoundRecord>> {
        const OP: &str = "find records";
        let query = query.trim();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let rows = on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT kind, key, 'key' AS matched FROM golden
                  WHERE store_id = $1 AND key = $2
                 UNION
                 SELECT kind, key, 'sku' AS matched FROM golden
                  WHERE store_id = $1 AND substr(key, 1, length($2) + 1) = $2 || '@'
                 UNION
                 SELECT g.kind, g.key, x.system || ' id' AS matched FROM xref x
                   JOIN golden g ON g.store_id = x.store_id AND g.kind = x.kind AND g.key = x.key
                  WHERE x.store_id = $1 AND x.entity_id = $2
                 UNION
                 SELECT g.kind, g.key, e.system || ' id' AS matched FROM entity_state e
                   JOIN golden g ON g.store_id = e.store_id AND g.key = e.canonical_key
                  WHERE e.store_id = $1 AND e.entity_id = $2
                 ORDER BY kind, key LIMIT $3",
            )
            .bind(store_id)
            .bind(query)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            let d = StoreError::db;
            rows.iter()
                .map(|r| {
                    Ok(FoundRecord {
                        kind: r.text("kind").map_err(d(OP))?,
                        key: r.text("key").map_err(d(OP))?,
                        matched: r.text("matched").map_err(d(OP))?,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        });
        let mut out: Vec<FoundRecord> = Vec::new();
        for r in rows {
            if !out.iter().any(|o| o.kind == r.kind && o.key == r.key) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The newest `limit` lineage steps of `store_id` across its records, newest first
    /// (kind, key and the step; the steps' writes are not resolved).
    pub async fn recent_lineage(
        &self,
        store_id: &str,
        limit: u32,
    ) -> Result<Vec<(String, String, LineageStep)>> {
        const OP: &str = "read recent lineage";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT l.id, l.seq, l.at, l.mode, l.system, l.mapper, l.fields, l.kind, l.key,
                        j.source, j.version, j.received_at, j.kind AS doc_kind,
                        j.entity_id AS doc_id, j.delivery_id
                   FROM lineage l LEFT JOIN journal j ON j.seq = l.seq
                  WHERE l.store_id = $1 ORDER BY l.id DESC LIMIT $2",
            )
            .bind(store_id)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            let d = StoreError::db;
            rows.iter()
                .map(|r| {
                    let source = r.opt_text("source").map_err(d(OP))?;
                    let delivery = r.opt_text("delivery_id").map_err(d(OP))?;
                    let doc = match (r.opt_text("doc_kind").map_err(d(OP))?, r.opt_text("doc_id").map_err(d(OP))?) {
                        (Some(k), Some(i)) => Some((k, i)),
                        _ => None,
                    };
                    Ok((
                        r.text("kind").map_err(d(OP))?,
                        r.text("key").map_err(d(OP))?,
                        LineageStep {
                            id: r.i64("id").map_err(d(OP))?,
                            seq: r.i64("seq").map_err(d(OP))?,
                            at: from_ms(r.i64("at").map_err(d(OP))?),
                            mode: r.text("mode").map_err(d(OP))?,
                            system: r.text("system").map_err(d(OP))?,
                            mapper: r.text("mapper").map_err(d(OP))?,
                            source: source
                                .map(|s| source_name(&s, delivery.as_deref()))
                                .unwrap_or_default(),
                            version: r.opt_text("version").map_err(d(OP))?,
                            received_at: r.opt_i64("received_at").map_err(d(OP))?.map(from_ms),
                            document: doc,
                            fields: json("lineage.fields", &r.text("fields").map_err(d(OP))?)?,
                            writes: Vec::new(),
                        },
                    ))
                })
                .collect()
        })
    }

    /// The newest watermark update of each stream of `store_id` (a change source's last
    /// round that moved it): stream and when.
    pub async fn watermark_times(&self, store_id: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        const OP: &str = "read watermarks";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT stream, updated_at FROM watermarks WHERE store_id = $1 ORDER BY stream",
            )
            .bind(store_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.text("stream").map_err(StoreError::db(OP))?,
                        from_ms(r.i64("updated_at").map_err(StoreError::db(OP))?),
                    ))
                })
                .collect()
        })
    }
}

fn text(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// One line saying what a step decided for a field (a [`LineageStep::fields`] value), for
/// people: `conflict: "11.00" from shopify against "12.50"; price-guard 0.2.0 (rule
/// variant.price) decided take netsuite -> "12.50"`.
pub fn describe_decision(d: &Value) -> String {
    let v = |k: &str| d.get(k).map(Value::to_string).unwrap_or_else(|| "-".into());
    let decision = d.get("decision").and_then(Value::as_str).unwrap_or("?");
    let mut out = match decision {
        "changed" => format!(
            "changed {} -> {} (one-sided change, taken)",
            v("from"),
            v("value")
        ),
        "vetted" => format!(
            "changed {} -> {} (one-sided change, vetted)",
            v("from"),
            v("incoming")
        ),
        "conflict" => format!(
            "conflict: {} (changed from {}) against the agreed {}",
            v("incoming"),
            v("base"),
            v("other")
        ),
        "refused" => format!(
            "refused {} -> {}: {}; the agreed {} stays and is written back",
            v("from"),
            v("value"),
            d.get("reason").and_then(Value::as_str).unwrap_or(""),
            v("kept")
        ),
        "reverted" => format!(
            "{} -> {} not taken; the agreed value stays",
            v("from"),
            v("incoming")
        ),
        "owner-reverted" => format!(
            "{} -> {} by a system that does not own the field; {} owns it: the agreed {} is written back",
            v("from"),
            v("incoming"),
            d.get("owner")
                .and_then(Value::as_str)
                .unwrap_or("another system"),
            v("value")
        ),
        "proposed" => format!(
            "{} -> {} proposed by a system that does not own the field ({} owns it); the agreed {} stays until an operator decides",
            v("from"),
            v("incoming"),
            d.get("owner")
                .and_then(Value::as_str)
                .unwrap_or("another system"),
            v("value")
        ),
        "proposal-accepted" => format!("an operator accepted the proposed {}", v("value")),
        "proposal-refused" => format!(
            "an operator refused the proposed {}; the agreed {} is written back",
            v("incoming"),
            v("value")
        ),
        "echo" => format!(
            "now {} = the agreed value (an echo of weft's write, or the same change)",
            v("value")
        ),
        "not-owner" => format!(
            "now {} (not merged: {} owns stock quantities)",
            v("value"),
            d.get("owner")
                .and_then(Value::as_str)
                .unwrap_or("the owner")
        ),
        _ => format!("now {}", v("value")),
    };
    if let Some(r) = d.get("resolver") {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!(
            "; resolver {} (rule {}) decided {}",
            s("resolver"),
            s("rule"),
            s("decided")
        ));
        if decision == "conflict" {
            out.push_str(&format!(" -> {}", v("value")));
        }
    }
    out
}

impl Store {
    /// Whether a write with this idempotency key was ever queued (any status, until purged).
    pub async fn outbox_key_exists(&self, idempotency_key: &str) -> Result<bool> {
        const OP: &str = "look up an idempotency key";
        on_db!(self.db(), p => {
            Ok(sqlx::query("SELECT id FROM outbox WHERE idempotency_key = $1")
                .bind(idempotency_key)
                .fetch_optional(p)
                .await
                .map_err(StoreError::db(OP))?
                .is_some())
        })
    }
}

/// Records examined per pass of [`Store::purge_lineage`].
const PURGE_PAGE: i64 = 200;

impl Store {
    /// Deletes `store_id`'s lineage rows written before `before`, except, for each record, the
    /// newest row of each system and field (whatever its age): that row explains the value the
    /// field holds now, so `weft explain` still explains every current value. Rows that only
    /// recorded writes go once they are old. Returns how many rows were deleted.
    pub async fn purge_lineage(&self, store_id: &str, before: DateTime<Utc>) -> Result<u64> {
        const OP: &str = "purge lineage";
        let d = StoreError::db;
        let cutoff = crate::db::ms(before);
        let (mut after_kind, mut after_key) = (String::new(), String::new());
        let mut deleted = 0;
        loop {
            // The next records with rows older than the cutoff.
            let records: Vec<(String, String)> = on_db!(self.db(), p => {
                let rows = sqlx::query(
                    "SELECT DISTINCT kind, key FROM lineage
                     WHERE store_id = $1 AND at < $2 AND (kind > $3 OR (kind = $3 AND key > $4))
                     ORDER BY kind, key LIMIT $5",
                )
                .bind(store_id)
                .bind(cutoff)
                .bind(&after_kind)
                .bind(&after_key)
                .bind(PURGE_PAGE)
                .fetch_all(p)
                .await
                .map_err(d(OP))?;
                rows.iter()
                    .map(|r| Ok((r.text("kind").map_err(d(OP))?, r.text("key").map_err(d(OP))?)))
                    .collect::<Result<Vec<_>>>()?
            });
            let Some(last) = records.last().cloned() else {
                return Ok(deleted);
            };
            let mut doomed: Vec<i64> = Vec::new();
            for (kind, key) in &records {
                let rows: Vec<(i64, String, Value, i64)> = on_db!(self.db(), p => {
                    let rows = sqlx::query(
                        "SELECT id, system, fields, at FROM lineage
                         WHERE store_id = $1 AND kind = $2 AND key = $3 ORDER BY id DESC",
                    )
                    .bind(store_id)
                    .bind(kind)
                    .bind(key)
                    .fetch_all(p)
                    .await
                    .map_err(d(OP))?;
                    rows.iter()
                        .map(|r| {
                            Ok((
                                r.i64("id").map_err(d(OP))?,
                                r.text("system").map_err(d(OP))?,
                                json("lineage.fields", &r.text("fields").map_err(d(OP))?)?,
                                r.i64("at").map_err(d(OP))?,
                            ))
                        })
                        .collect::<Result<Vec<_>>>()?
                });
                doomed.extend(purgeable(&rows, cutoff));
            }
            if !doomed.is_empty() {
                let mut w = self.begin_write(OP).await?;
                on_tx!(&mut w.tx, c => {
                    for chunk in doomed.chunks(200) {
                        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                        // Ids are integers read from the table, never text from outside.
                        sqlx::query(&format!("DELETE FROM lineage WHERE id IN ({list})"))
                            .execute(&mut *c)
                            .await
                            .map_err(d(OP))?;
                    }
                    Ok::<(), StoreError>(())
                })?;
                w.commit(OP).await?;
                deleted += doomed.len() as u64;
            }
            (after_kind, after_key) = last;
        }
    }
}

/// Which of one record's lineage rows (`(id, system, fields, at)`, newest first) a purge of
/// rows older than `cutoff` removes: the old ones that are not the newest row of any system's
/// field.
fn purgeable(rows: &[(i64, String, Value, i64)], cutoff: i64) -> Vec<i64> {
    let mut seen: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (id, system, fields, at) in rows {
        let mut newest_of_some = false;
        for f in fields.as_object().into_iter().flat_map(|o| o.keys()) {
            newest_of_some |= seen.insert((system.as_str(), f.as_str()));
        }
        if *at < cutoff && !newest_of_some {
            out.push(*id);
        }
    }
    out
}

#[cfg(test)]
mod purge_tests {
    use super::purgeable;
    use serde_json::json;

    #[test]
    fn the_newest_row_of_each_field_stays_whatever_its_age() {
        // Newest first: 5 and 4 are recent; 3 set shopify's price (newest for it), 2 set the
        // price again before, 1 set shopify's title, 0 only recorded writes.
        let rows = vec![
            (5, "netsuite".to_owned(), json!({"price": {}}), 900),
            (4, "netsuite".to_owned(), json!({"price": {}}), 800),
            (3, "shopify".to_owned(), json!({"price": {}}), 30),
            (
                2,
                "shopify".to_owned(),
                json!({"price": {}, "title": {}}),
                20,
            ),
            (1, "shopify".to_owned(), json!({"title": {}}), 10),
            (0, String::new(), json!({}), 5),
        ];
        assert_eq!(purgeable(&rows, 100), vec![1, 0]);
        // Nothing is old: nothing goes.
        assert!(purgeable(&rows, 1).is_empty());
    }
}
