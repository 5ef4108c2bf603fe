//! Privacy requests: a platform's request to erase one customer's personal data
//! ([`PrivacyAction::Redact`]), to hand it over ([`PrivacyAction::Export`]), or to erase what
//! weft learned from a whole account ([`PrivacyAction::ShopRedact`]).
//!
//! A request is stored ([`Store::record_privacy_request`]) before the platform's delivery is
//! acknowledged, so a crash before it is processed loses nothing; the store's runner processes
//! pending requests ([`Store::redact_subject`], [`Store::privacy_export`]) and the row stays as
//! the audit of what was done.
//!
//! **What is redacted.** The rows that belong to the subject: its customer records and the
//! orders the request names or whose canonical `customer` is the subject (and their
//! fulfilments), in every system of the store (found through the cross references), in the
//! journal, the per-system state, the golden records, what each system last held, the outbox
//! (pending, done and dead letters alike) and the saved batch calls. In those rows every string
//! under a personal key ([`RedactionPlan`]: per canonical kind, and per system's document kind)
//! is replaced with [`REDACTED`]; the values so found (and the request's own emails and phones)
//! are then looked for in every string of those rows, which catches copies under other names
//! (a NetSuite `refName` "Ada Lovelace", an `addrText`). Distinctive values (emails, phones and
//! values of two words or more and at least 8 characters) are also looked for in every other row
//! of the store (other journal entries, set-aside reasons, errors, intake rejects): a row that
//! holds one names the subject, and its strings holding any of the values are redacted too.
//!
//! A journal entry keeps its body hash: a system that sends the same document again (a poll's
//! overlap) is still recognised as a duplicate and not journaled again, so weft does not
//! re-import what it erased from a read of an unchanged record.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db::{RowExt, from_ms, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// What a privacy request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrivacyAction {
    /// Erase one customer's personal data (and that of the orders named).
    Redact,
    /// Hand over the data weft holds about one customer.
    Export,
    /// Erase the personal data of every customer and order learned from one system's account.
    ShopRedact,
}

impl PrivacyAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyAction::Redact => "redact",
            PrivacyAction::Export => "export",
            PrivacyAction::ShopRedact => "shop-redact",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "redact" => PrivacyAction::Redact,
            "export" => PrivacyAction::Export,
            "shop-redact" => PrivacyAction::ShopRedact,
            other => {
                return Err(StoreError::UnknownValue {
                    what: "privacy_requests.action",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// Whom a request is about, as the platform names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySubject {
    /// The customer's ids in the requesting system.
    #[serde(default)]
    pub customer_ids: Vec<String>,
    /// The customer's email addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// The customer's phone numbers.
    #[serde(default)]
    pub phones: Vec<String>,
    /// Order ids in the requesting system whose personal data goes too.
    #[serde(default)]
    pub orders: Vec<String>,
}

/// A request as it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrivacyRequest {
    /// The store.
    pub store_id: String,
    /// The system that asked.
    pub system: String,
    /// What it asks for.
    pub action: PrivacyAction,
    /// The platform's delivery id (a retried delivery is the same request).
    pub delivery_id: Option<String>,
    /// Whom it is about.
    pub subject: PrivacySubject,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacyRequest {
    /// Its id.
    pub id: i64,
    /// The store.
    pub store_id: String,
    /// The system that asked.
    pub system: String,
    /// What it asks for.
    pub action: PrivacyAction,
    /// The platform's delivery id.
    pub delivery_id: Option<String>,
    /// Whom it is about (after a redaction, its emails and phones are [`REDACTED`]).
    pub subject: PrivacySubject,
    /// `pending` or `done`.
    pub status: String,
    /// Processing attempts that failed.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When it was done.
    pub completed_at: Option<DateTime<Utc>>,
    /// What was done (rows and fields per table, the export's file).
    pub report: Option<Value>,
}

/// Which keys hold personal data. A key matches at any depth of a document; every string
/// beneath a matching key is redacted (an `addresses` list, a `billing_address` object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionPlan {
    /// Personal keys of canonical records (golden records, what each system last held), by
    /// canonical kind.
    pub canonical: BTreeMap<String, Vec<String>>,
    /// Personal keys of a system's documents (journal, per-system state) and of its write
    /// bodies (outbox), by `(system, kind)`.
    pub documents: BTreeMap<(String, String), Vec<String>>,
    /// The journal kind of a system's documents that carry a canonical kind, by `(system,
    /// canonical kind)`; absent: the same name.
    pub journal_kinds: BTreeMap<(String, String), String>,
}

impl RedactionPlan {
    fn journal_kind<'a>(&'a self, system: &str, kind: &'a str) -> &'a str {
        self.journal_kinds
            .get(&(system.to_owned(), kind.to_owned()))
            .map_or(kind, String::as_str)
    }

    fn document_keys(&self, system: &str, kind: &str) -> &[String] {
        self.documents
            .get(&(system.to_owned(), kind.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    fn canonical_keys(&self, kind: &str) -> &[String] {
        self.canonical.get(kind).map_or(&[], Vec::as_slice)
    }
}

/// What a redaction did: rows changed and strings replaced, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedactionReport {
    /// Rows changed per table.
    pub rows: BTreeMap<String, u64>,
    /// Strings replaced per table.
    pub fields: BTreeMap<String, u64>,
}

impl RedactionReport {
    /// Rows changed in all tables.
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }

    /// Strings replaced in all tables.
    pub fn total_fields(&self) -> u64 {
        self.fields.values().sum()
    }

    fn add(&mut self, table: &str, fields: usize) {
        if fields > 0 {
            *self.rows.entry(table.to_owned()).or_default() += 1;
            *self.fields.entry(table.to_owned()).or_default() += fields as u64;
        }
    }
}

/// Why a redaction did not run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedactionOutcome {
    /// Done, with what it did.
    Done(RedactionReport),
    /// A write of the subject's records is in flight: its settling could record what it sent
    /// after the redaction, so the request waits for it (try again shortly).
    WritesInFlight(u64),
}

// ---------------------------------------------------------------------------------------------
// JSON walking

/// The values that give a subject away, lowercased.
#[derive(Debug, Default)]
struct Matcher {
    /// Matched as whole words inside any string.
    words: BTreeSet<String>,
    /// Matched when a whole string equals them (digits-only values such as a postcode).
    exact: BTreeSet<String>,
}

impl Matcher {
    fn add(&mut self, v: &str) {
        let v = v.trim().to_lowercase();
        if v.chars().count() < 3 || v == REDACTED {
            return;
        }
        if v.chars().any(char::is_alphabetic) || v.contains('@') || v.chars().count() >= 7 {
            self.words.insert(v);
        } else {
            self.exact.insert(v);
        }
    }

    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.exact.is_empty()
    }

    fn matches(&self, s: &str) -> bool {
        if s == REDACTED {
            return false;
        }
        let l = s.to_lowercase();
        if self.exact.contains(l.trim()) {
            return true;
        }
        self.words.iter().any(|w| contains_word(&l, w))
    }

    /// Distinctive values only (to look for outside the subject's own rows).
    fn distinctive(&self) -> Matcher {
        let words = self
            .words
            .iter()
            .filter(|w| {
                w.contains('@')
                    || w.chars().filter(char::is_ascii_digit).count() >= 7
                    || (w.split_whitespace().count() >= 2 && w.chars().count() >= 8)
            })
            .cloned()
            .collect();
        Matcher {
            words,
            exact: BTreeSet::new(),
        }
    }
}

/// Whether `w` occurs in `s` with no letter or digit right before or after it.
fn contains_word(s: &str, w: &str) -> bool {
    let mut from = 0;
    while let Some(i) = s[from..].find(w) {
        let start = from + i;
        let end = start + w.len();
        let before = s[..start].chars().next_back();
        let after = s[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return true;
        }
        from = start + s[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Replaces every string under a key of `keys` (at any depth) with [`REDACTED`], adding the
/// values replaced to `found`. Returns how many strings it replaced.
fn redact_keys(v: &mut Value, keys: &[String], found: &mut Matcher) -> usize {
    match v {
        Value::Object(map) => map
            .iter_mut()
            .map(|(k, child)| {
                if keys.iter().any(|p| p == k) {
                    redact_strings(child, found)
                } else {
                    redact_keys(child, keys, found)
                }
            })
            .sum(),
        Value::Array(items) => items.iter_mut().map(|c| redact_keys(c, keys, found)).sum(),
        _ => 0,
    }
}

/// Replaces every string of `v` with [`REDACTED`].
fn redact_strings(v: &mut Value, found: &mut Matcher) -> usize {
    match v {
        Value::String(s) if s != REDACTED => {
            found.add(s);
            *s = REDACTED.to_owned();
            1
        }
        Value::Object(map) => map.values_mut().map(|c| redact_strings(c, found)).sum(),
        Value::Array(items) => items.iter_mut().map(|c| redact_strings(c, found)).sum(),
        _ => 0,
    }
}

/// Replaces every string of `v` that gives the subject away with [`REDACTED`].
fn redact_matching(v: &mut Value, m: &Matcher) -> usize {
    match v {
        Value::String(s) if m.matches(s) => {
            *s = REDACTED.to_owned();
            1
        }
        Value::Object(map) => map.values_mut().map(|c| redact_matching(c, m)).sum(),
        Value::Array(items) => items.iter_mut().map(|c| redact_matching(c, m)).sum(),
        _ => 0,
    }
}

/// Redacts a text column that may or may not be JSON: JSON is walked, other text is replaced
/// whole when it gives the subject away.
fn redact_text(text: &str, m: &Matcher) -> Option<(String, usize)> {
    if let Ok(mut v) = serde_json::from_str::<Value>(text)
        && (v.is_object() || v.is_array())
    {
        let n = redact_matching(&mut v, m);
        return (n > 0).then(|| (v.to_string(), n));
    }
    m.matches(text).then(|| (REDACTED.to_owned(), 1))
}

/// Replaces every occurrence of the matcher's values in raw bytes (an intake reject), in the
/// case it had and lowercased.
fn redact_bytes(raw: &[u8], m: &Matcher) -> Option<(Vec<u8>, usize)> {
    let mut out = raw.to_vec();
    let mut n = 0;
    for w in m.words.iter().chain(m.exact.iter()) {
        let lower = String::from_utf8_lossy(&out).to_lowercase();
        let needle = w.as_bytes();
        if !lower.as_bytes().windows(needle.len()).any(|x| x == needle) {
            continue;
        }
        // Case-insensitive replace over the lowercased copy's positions (lowercasing keeps
        // ASCII lengths; a non-ASCII body falls back to a whole-body replacement).
        if lower.len() != out.len() {
            return Some((REDACTED.as_bytes().to_vec(), n + 1));
        }
        let mut next = Vec::with_capacity(out.len());
        let mut i = 0;
        let lb = lower.as_bytes();
        while i < out.len() {
            if lb[i..].starts_with(needle) {
                next.extend_from_slice(REDACTED.as_bytes());
                i += needle.len();
                n += 1;
            } else {
                next.push(out[i]);
                i += 1;
            }
        }
        out = next;
    }
    (n > 0).then_some((out, n))
}

/// A `LIKE` pattern finding `v` anywhere (wildcards escaped with `\`).
fn like(v: &str) -> String {
    let mut p = String::from("%");
    for c in v.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// How `v` appears inside stored JSON text (escaped as serde_json writes it).
fn json_inner(v: &str) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    s[1..s.len().saturating_sub(1)].to_owned()
}

// ---------------------------------------------------------------------------------------------
// Requests

const COLUMNS: &str = "id, store_id, system, action, delivery_id, subject, status, attempts, \
                       last_error, received_at, completed_at, report";

macro_rules! privacy_row {
    ($r:expr, $op:expr) => {{
        let r = $r;
        let t = |c: &str| r.text(c).map_err(StoreError::db($op));
        let subject: PrivacySubject =
            serde_json::from_str(&t("subject")?).map_err(|source| StoreError::CorruptJson {
                what: "privacy_requests.subject",
                source,
            })?;
        let report = match r.opt_text("report").map_err(StoreError::db($op))? {
            Some(s) => Some(crate::db::json("privacy_requests.report", &s)?),
            None => None,
        };
        Ok::<PrivacyRequest, StoreError>(PrivacyRequest {
            id: r.i64("id").map_err(StoreError::db($op))?,
            store_id: t("store_id")?,
            system: t("system")?,
            action: PrivacyAction::parse(&t("action")?)?,
            delivery_id: r.opt_text("delivery_id").map_err(StoreError::db($op))?,
            subject,
            status: t("status")?,
            attempts: r.i64("attempts").map_err(StoreError::db($op))?,
            last_error: r.opt_text("last_error").map_err(StoreError::db($op))?,
            received_at: from_ms(r.i64("received_at").map_err(StoreError::db($op))?),
            completed_at: r
                .opt_i64("completed_at")
                .map_err(StoreError::db($op))?
                .map(from_ms),
            report,
        })
    }};
}

impl Store {
    /// Stores a privacy request (durably: the call returns after the commit). Returns its id
    /// and whether it is new (`false`: the same delivery was stored before).
    pub async fn record_privacy_request(&self, req: &NewPrivacyRequest) -> Result<(i64, bool)> {
        const OP: &str = "record privacy request";
        let subject = serde_json::to_string(&req.subject).unwrap_or_else(|_| "{}".into());
        let mut w = self.begin_write(OP).await?;
        let out = on_tx!(&mut w.tx, c => {
            if let Some(d) = &req.delivery_id {
                let found = sqlx::query(
                    "SELECT id FROM privacy_requests
                     WHERE store_id = $1 AND system = $2 AND delivery_id = $3",
                )
                .bind(&req.store_id)
                .bind(&req.system)
                .bind(d)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                if let Some(r) = found {
                    return Ok((r.i64("id").map_err(StoreError::db(OP))?, false));
                }
            }
            let r = sqlx::query(
                "INSERT INTO privacy_requests
                   (store_id, system, action, delivery_id, subject, status, received_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id",
            )
            .bind(&req.store_id)
            .bind(&req.system)
            .bind(req.action.as_str())
            .bind(&req.delivery_id)
            .bind(&subject)
            .bind(ms(req.received_at))
            .fetch_one(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            Ok::<_, StoreError>((r.i64("id").map_err(StoreError::db(OP))?, true))
        })?;
        w.commit(OP).await?;
        Ok(out)
    }

    /// Privacy requests, oldest first: of one store (or all), pending only or all.
    pub async fn privacy_requests(
        &self,
        store_id: Option<&str>,
        pending_only: bool,
    ) -> Result<Vec<PrivacyRequest>> {
        const OP: &str = "list privacy requests";
        let sql = format!(
            "SELECT {COLUMNS} FROM privacy_requests
             WHERE ($1 = '' OR store_id = $1) AND ($2 = 0 OR status = 'pending')
             ORDER BY id"
        );
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql)
                .bind(store_id.unwrap_or_default())
                .bind(i64::from(pending_only))
                .fetch_all(p)
                .await
                .map_err(StoreError::db(OP))?;
            rows.iter().map(|r| privacy_row!(r, OP)).collect()
        })
    }

    /// Records a failed attempt at request `id` (it stays pending).
    pub async fn privacy_request_failed(&self, id: i64, error: &str) -> Result<()> {
        const OP: &str = "record privacy request failure";
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            sqlx::query(
                "UPDATE privacy_requests SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            Ok::<(), StoreError>(())
        })?;
        w.commit(OP).await
    }

    /// Marks request `id` done with `report` (an export's file, or who exported it).
    pub async fn complete_privacy_request(
        &self,
        id: i64,
        report: &Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const OP: &str = "complete privacy request";
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            sqlx::query(
                "UPDATE privacy_requests SET status = 'done', completed_at = $2, report = $3,
                   last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(ms(now))
            .bind(report.to_string())
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            Ok::<(), StoreError>(())
        })?;
        w.commit(OP).await
    }
}

// ---------------------------------------------------------------------------------------------
// Finding the subject's rows

/// The subject's records: canonical `(kind, key)`s and documents `(system, kind, entity id)`.
#[derive(Debug, Default)]
struct Related {
    keys: BTreeSet<(String, String)>,
    entities: BTreeSet<(String, String, String)>,
}

macro_rules! find_related {
    ($c:expr, $store:expr, $system:expr, $action:expr, $subject:expr, $plan:expr, $op:expr) => {{
        let (c, store, system, action, subject, plan, op) =
            ($c, $store, $system, $action, $subject, $plan, $op);
        let mut rel = Related::default();
        let mut customers: BTreeSet<String> = BTreeSet::new();
        let mut orders: BTreeSet<String> = BTreeSet::new();
        if action == PrivacyAction::ShopRedact {
            for kind in ["customer", "order"] {
                let rows = sqlx::query(
                    "SELECT key FROM xref WHERE store_id = $1 AND system = $2 AND kind = $3",
                )
                .bind(store)
                .bind(system)
                .bind(kind)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
                for r in &rows {
                    let k = r.text("key").map_err(StoreError::db(op))?;
                    if kind == "customer" {
                        customers.insert(k);
                    } else {
                        orders.insert(k);
                    }
                }
                let jk = plan.journal_kind(system, kind).to_owned();
                let rows = sqlx::query(
                    "SELECT DISTINCT entity_id FROM journal
                     WHERE store_id = $1 AND system = $2 AND kind = $3",
                )
                .bind(store)
                .bind(system)
                .bind(&jk)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
                for r in &rows {
                    rel.entities.insert((
                        system.to_owned(),
                        jk.clone(),
                        r.text("entity_id").map_err(StoreError::db(op))?,
                    ));
                }
            }
        } else {
            for (kind, ids) in [("customer", &subject.customer_ids), ("order", &subject.orders)] {
                let jk = plan.journal_kind(system, kind).to_owned();
                for id in ids {
                    rel.entities
                        .insert((system.to_owned(), jk.clone(), id.clone()));
                    let rows = sqlx::query(
                        "SELECT key FROM xref
                         WHERE store_id = $1 AND kind = $2 AND system = $3 AND entity_id = $4",
                    )
                    .bind(store)
                    .bind(kind)
                    .bind(system)
                    .bind(id)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(StoreError::db(op))?;
                    for r in &rows {
                        let k = r.text("key").map_err(StoreError::db(op))?;
                        if kind == "customer" {
                            customers.insert(k);
                        } else {
                            orders.insert(k);
                        }
                    }
                    let rows = sqlx::query(
                        "SELECT canonical_key FROM entity_state
                         WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4
                           AND canonical_key IS NOT NULL",
                    )
                    .bind(store)
                    .bind(system)
                    .bind(&jk)
                    .bind(id)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(StoreError::db(op))?;
                    for r in &rows {
                        if let Some(k) = r.opt_text("canonical_key").map_err(StoreError::db(op))? {
                            if kind == "customer" {
                                customers.insert(k);
                            } else {
                                orders.insert(k);
                            }
                        }
                    }
                }
            }
            // A customer named by email only: golden customers with that email.
            for email in &subject.emails {
                let rows = sqlx::query(
                    "SELECT key, fields FROM golden
                     WHERE store_id = $1 AND kind = 'customer'
                       AND (fields LIKE $2 ESCAPE '\\' OR lower(fields) LIKE $3 ESCAPE '\\')",
                )
                .bind(store)
                .bind(like(&json_inner(email)))
                .bind(like(&json_inner(&email.to_lowercase())))
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
                for r in &rows {
                    let fields = crate::db::json("golden.fields", &r.text("fields").map_err(StoreError::db(op))?)?;
                    if fields
                        .get("email")
                        .and_then(Value::as_str)
                        .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
                    {
                        customers.insert(r.text("key").map_err(StoreError::db(op))?);
                    }
                }
            }
            // The subject's other orders: golden orders whose canonical `customer` is one of
            // its keys.
            for ck in &customers {
                let rows = sqlx::query(
                    "SELECT key, fields FROM golden
                     WHERE store_id = $1 AND kind = 'order' AND fields LIKE $2 ESCAPE '\\'",
                )
                .bind(store)
                .bind(like(&json_inner(ck)))
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
                for r in &rows {
                    let fields = crate::db::json("golden.fields", &r.text("fields").map_err(StoreError::db(op))?)?;
                    if fields.get("customer").and_then(Value::as_str) == Some(ck.as_str()) {
                        orders.insert(r.text("key").map_err(StoreError::db(op))?);
                    }
                }
            }
        }
        // Fulfilments of those orders: keys `<order key>#...`.
        let mut fulfillments = BTreeSet::new();
        for ok in &orders {
            let prefix = format!("{ok}#");
            for table in ["golden", "target_state", "outbox"] {
                let sql = format!(
                    "SELECT DISTINCT key FROM {table}
                     WHERE store_id = $1 AND kind = 'fulfillment' AND key LIKE $2 ESCAPE '\\'"
                );
                let mut pattern = like(&prefix);
                pattern.remove(0);
                let rows = sqlx::query(&sql)
                    .bind(store)
                    .bind(&pattern)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(StoreError::db(op))?;
                for r in &rows {
                    fulfillments.insert(r.text("key").map_err(StoreError::db(op))?);
                }
            }
        }
        for (kind, keys) in [("customer", &customers), ("order", &orders), ("fulfillment", &fulfillments)] {
            for key in keys {
                rel.keys.insert((kind.to_owned(), key.clone()));
                let rows = sqlx::query(
                    "SELECT system, entity_id FROM xref WHERE store_id = $1 AND kind = $2 AND key = $3",
                )
                .bind(store)
                .bind(kind)
                .bind(key)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
                for r in &rows {
                    let sys = r.text("system").map_err(StoreError::db(op))?;
                    let jk = plan.journal_kind(&sys, kind).to_owned();
                    rel.entities.insert((sys, jk, r.text("entity_id").map_err(StoreError::db(op))?));
                }
                let rows = sqlx::query(
                    "SELECT system, kind, entity_id FROM entity_state
                     WHERE store_id = $1 AND canonical_key = $2",
                )
                .bind(store)
                .bind(key)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
                for r in &rows {
                    let k = r.text("kind").map_err(StoreError::db(op))?;
                    let sys = r.text("system").map_err(StoreError::db(op))?;
                    if k == plan.journal_kind(&sys, kind) {
                        rel.entities.insert((sys, k, r.text("entity_id").map_err(StoreError::db(op))?));
                    }
                }
            }
        }
        Ok::<Related, StoreError>(rel)
    }};
}

/// Looks for `find`'s (distinctive) values in the text of every other row of the store that can
/// hold a document or a message: such a row names the subject, and every string of it that
/// holds one of `m`'s values is redacted.
macro_rules! sweep {
    ($c:expr, $store:expr, $request:expr, $find:expr, $m:expr, $report:expr, $op:expr) => {{
        let (c, store, request, find, m, report, op): (_, &str, i64, &Matcher, &Matcher, &mut RedactionReport, &'static str) =
            ($c, $store, $request, $find, $m, $report, $op);
        // (table, id columns, text columns)
        const TABLES: [(&str, &str, &[&str]); 8] = [
            ("journal", "seq", &["body"]),
            ("lineage", "id", &["fields"]),
            ("entity_state", "system, kind, entity_id", &["body"]),
            ("golden", "kind, key", &["fields", "field_meta"]),
            ("target_state", "system, kind, key", &["fields"]),
            ("outbox", "id", &["body", "last_error"]),
            ("outbox_calls", "call_key", &["payload"]),
            ("set_aside", "seq, stage, target", &["reason"]),
        ];
        for (table, ids, cols) in TABLES {
            for col in cols {
                for w in &find.words {
                    let inner = json_inner(w);
                    let sql = format!(
                        "SELECT {ids}, {col} AS v FROM {table}
                         WHERE store_id = $1 AND (lower({col}) LIKE $2 ESCAPE '\\' OR {col} LIKE $3 ESCAPE '\\')"
                    );
                    let found = sqlx::query(&sql)
                        .bind(store)
                        .bind(like(&inner.to_lowercase()))
                        .bind(like(&inner))
                        .fetch_all(&mut *c)
                        .await
                        .map_err(StoreError::db(op))?;
                    for r in &found {
                        let Some(text) = r.opt_text("v").map_err(StoreError::db(op))? else { continue };
                        let Some((new, n)) = redact_text(&text, m) else { continue };
                        report.add(table, n);
                        let (set_extra, cond) = match table {
                            "journal" => (", redacted_by = $3", "seq = $4"),
                            "lineage" => ("", "id = $4"),
                            "entity_state" => ("", "system = $4 AND kind = $5 AND entity_id = $6"),
                            "golden" => ("", "kind = $4 AND key = $5"),
                            "target_state" => ("", "system = $4 AND kind = $5 AND key = $6"),
                            "outbox" => ("", "id = $4"),
                            "outbox_calls" => ("", "call_key = $4"),
                            _ => ("", "seq = $4 AND stage = $5 AND target = $6"),
                        };
                        let sql = format!(
                            "UPDATE {table} SET {col} = $2{set_extra}
                             WHERE store_id = $1 AND ($3 = $3) AND {cond}"
                        );
                        let q = sqlx::query(&sql).bind(store).bind(&new).bind(request);
                        let q = match table {
                            "journal" => q.bind(r.i64("seq").map_err(StoreError::db(op))?),
                            "outbox" | "lineage" => q.bind(r.i64("id").map_err(StoreError::db(op))?),
                            "outbox_calls" => q.bind(r.text("call_key").map_err(StoreError::db(op))?),
                            "golden" => q
                                .bind(r.text("kind").map_err(StoreError::db(op))?)
                                .bind(r.text("key").map_err(StoreError::db(op))?),
                            "set_aside" => q
                                .bind(r.i64("seq").map_err(StoreError::db(op))?)
                                .bind(r.text("stage").map_err(StoreError::db(op))?)
                                .bind(r.text("target").map_err(StoreError::db(op))?),
                            "entity_state" => q
                                .bind(r.text("system").map_err(StoreError::db(op))?)
                                .bind(r.text("kind").map_err(StoreError::db(op))?)
                                .bind(r.text("entity_id").map_err(StoreError::db(op))?),
                            _ => q
                                .bind(r.text("system").map_err(StoreError::db(op))?)
                                .bind(r.text("kind").map_err(StoreError::db(op))?)
                                .bind(r.text("key").map_err(StoreError::db(op))?),
                        };
                        q.execute(&mut *c).await.map_err(StoreError::db(op))?;
                    }
                }
            }
        }
        // Errors recorded per system, and intake rejects (raw bytes).
        let found = sqlx::query("SELECT system, last_error FROM system_health WHERE store_id = $1")
            .bind(store)
            .fetch_all(&mut *c)
            .await
            .map_err(StoreError::db(op))?;
        for r in &found {
            let Some(text) = r.opt_text("last_error").map_err(StoreError::db(op))? else { continue };
            let lower = text.to_lowercase();
            if !find.words.iter().any(|w| lower.contains(w.as_str())) {
                continue;
            }
            let Some((new, n)) = redact_text(&text, m) else { continue };
            report.add("system_health", n);
            sqlx::query("UPDATE system_health SET last_error = $3 WHERE store_id = $1 AND system = $2")
                .bind(store)
                .bind(r.text("system").map_err(StoreError::db(op))?)
                .bind(new)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
        }
        let found = sqlx::query("SELECT id, headers, body FROM intake_rejects WHERE store_id = $1")
            .bind(store)
            .fetch_all(&mut *c)
            .await
            .map_err(StoreError::db(op))?;
        for r in &found {
            let body = r.bytes("body").map_err(StoreError::db(op))?;
            let headers = r.text("headers").map_err(StoreError::db(op))?;
            let names = |raw: &[u8]| {
                let l = String::from_utf8_lossy(raw).to_lowercase();
                find.words.iter().any(|w| l.contains(w.as_str()))
            };
            if !names(&body) && !names(headers.as_bytes()) {
                continue;
            }
            let b = redact_bytes(&body, m);
            let h = redact_bytes(headers.as_bytes(), m);
            if b.is_none() && h.is_none() {
                continue;
            }
            let n = b.as_ref().map_or(0, |x| x.1) + h.as_ref().map_or(0, |x| x.1);
            report.add("intake_rejects", n);
            let body = b.map_or(body, |x| x.0);
            let headers = h.map_or(headers, |x| String::from_utf8_lossy(&x.0).into_owned());
            sqlx::query("UPDATE intake_rejects SET body = $2, headers = $3 WHERE id = $1")
                .bind(r.i64("id").map_err(StoreError::db(op))?)
                .bind(body)
                .bind(headers)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(op))?;
        }
        Ok::<(), StoreError>(())
    }?};
}

/// One row loaded for redaction.
struct Loaded {
    table: &'static str,
    /// How to find it again: the columns and values of its key.
    id: RowId,
    /// The JSON columns, with the personal keys that apply to each.
    json: Vec<(&'static str, Value, Vec<String>)>,
    /// Plain text columns.
    text: Vec<(&'static str, Option<String>)>,
    fields: usize,
}

enum RowId {
    Seq(i64),
    Entity(String, String, String),
    Golden(String, String),
    Target(String, String, String),
    Outbox(i64),
    Lineage(i64),
}

impl Store {
    /// Erases the personal data of `request`'s subject from its store (as the system that asked
    /// names the subject), in one transaction that also marks the request done with the
    /// report and replaces the emails and phones it kept with [`REDACTED`]. See the module
    /// docs for what is redacted.
    pub async fn redact_subject(
        &self,
        request: &PrivacyRequest,
        plan: &RedactionPlan,
        now: DateTime<Utc>,
    ) -> Result<RedactionOutcome> {
        const OP: &str = "redact privacy subject";
        let (store_id, system, request_id, action, subject) = (
            request.store_id.as_str(),
            request.system.as_str(),
            request.id,
            request.action,
            &request.subject,
        );
        if action == PrivacyAction::Export {
            return Err(StoreError::InvalidArgument {
                op: OP,
                reason: "a data request is exported, not redacted".into(),
            });
        }
        // PostgreSQL: the subject's outbox rows are locked until the redaction commits, so the
        // dispatcher cannot claim one in between (SQLite's write lock already excludes it).
        let outbox_sql = format!(
            "SELECT id, system, status, body, last_error FROM outbox
             WHERE store_id = $1 AND kind = $2 AND key = $3{}",
            if self.backend() == crate::Backend::Postgres {
                " FOR UPDATE"
            } else {
                ""
            }
        );
        let mut w = self.begin_write(OP).await?;
        let outcome = on_tx!(&mut w.tx, c => {
            let rel = find_related!(&mut *c, store_id, system, action, subject, plan, OP)?;
            let mut rows: Vec<Loaded> = Vec::new();
            // Outbox rows first: a write in flight waits.
            let mut inflight = 0u64;
            for (kind, key) in &rel.keys {
                let found = sqlx::query(&outbox_sql)
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                for r in &found {
                    let status = r.text("status").map_err(StoreError::db(OP))?;
                    if status == "inflight" {
                        inflight += 1;
                        continue;
                    }
                    let sys = r.text("system").map_err(StoreError::db(OP))?;
                    // The command's body has the platform's names; its `desired` fields, the
                    // canonical ones.
                    let mut keys = plan.document_keys(&sys, kind).to_vec();
                    keys.extend(plan.canonical_keys(kind).iter().cloned());
                    rows.push(Loaded {
                        table: "outbox",
                        id: RowId::Outbox(r.i64("id").map_err(StoreError::db(OP))?),
                        json: vec![(
                            "body",
                            crate::db::json("outbox.body", &r.text("body").map_err(StoreError::db(OP))?)?,
                            keys,
                        )],
                        text: vec![("last_error", r.opt_text("last_error").map_err(StoreError::db(OP))?)],
                        fields: 0,
                    });
                }
            }
            if inflight > 0 {
                return Ok(RedactionOutcome::WritesInFlight(inflight));
            }
            for (sys, kind, id) in &rel.entities {
                let keys = plan.document_keys(sys, kind).to_vec();
                let found = sqlx::query(
                    "SELECT seq, body FROM journal
                     WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4",
                )
                .bind(store_id)
                .bind(sys)
                .bind(kind)
                .bind(id)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                for r in &found {
                    rows.push(Loaded {
                        table: "journal",
                        id: RowId::Seq(r.i64("seq").map_err(StoreError::db(OP))?),
                        json: vec![("body", crate::db::json("journal.body", &r.text("body").map_err(StoreError::db(OP))?)?, keys.clone())],
                        text: Vec::new(),
                        fields: 0,
                    });
                }
                let found = sqlx::query(
                    "SELECT body FROM entity_state
                     WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4",
                )
                .bind(store_id)
                .bind(sys)
                .bind(kind)
                .bind(id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                if let Some(r) = found {
                    rows.push(Loaded {
                        table: "entity_state",
                        id: RowId::Entity(sys.clone(), kind.clone(), id.clone()),
                        json: vec![("body", crate::db::json("entity_state.body", &r.text("body").map_err(StoreError::db(OP))?)?, keys.clone())],
                        text: Vec::new(),
                        fields: 0,
                    });
                }
            }
            for (kind, key) in &rel.keys {
                let keys = plan.canonical_keys(kind).to_vec();
                let found = sqlx::query(
                    "SELECT fields, field_meta FROM golden WHERE store_id = $1 AND kind = $2 AND key = $3",
                )
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                if let Some(r) = found {
                    rows.push(Loaded {
                        table: "golden",
                        id: RowId::Golden(kind.clone(), key.clone()),
                        json: vec![
                            ("fields", crate::db::json("golden.fields", &r.text("fields").map_err(StoreError::db(OP))?)?, keys.clone()),
                            ("field_meta", crate::db::json("golden.field_meta", &r.text("field_meta").map_err(StoreError::db(OP))?)?, Vec::new()),
                        ],
                        text: Vec::new(),
                        fields: 0,
                    });
                }
                let found = sqlx::query(
                    "SELECT system, fields FROM target_state WHERE store_id = $1 AND kind = $2 AND key = $3",
                )
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                for r in &found {
                    rows.push(Loaded {
                        table: "target_state",
                        id: RowId::Target(r.text("system").map_err(StoreError::db(OP))?, kind.clone(), key.clone()),
                        json: vec![("fields", crate::db::json("target_state.fields", &r.text("fields").map_err(StoreError::db(OP))?)?, keys.clone())],
                        text: Vec::new(),
                        fields: 0,
                    });
                }
                // The record's lineage: per field, the values each step saw and decided.
                let found = sqlx::query(
                    "SELECT id, fields FROM lineage WHERE store_id = $1 AND kind = $2 AND key = $3",
                )
                .bind(store_id)
                .bind(kind)
                .bind(key)
                .fetch_all(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                for r in &found {
                    rows.push(Loaded {
                        table: "lineage",
                        id: RowId::Lineage(r.i64("id").map_err(StoreError::db(OP))?),
                        json: vec![("fields", crate::db::json("lineage.fields", &r.text("fields").map_err(StoreError::db(OP))?)?, keys.clone())],
                        text: Vec::new(),
                        fields: 0,
                    });
                }
            }

            // Pass 1: personal keys; pass 2: the values found, anywhere in those rows.
            let mut m = Matcher::default();
            for v in subject.emails.iter().chain(&subject.phones) {
                m.add(v);
            }
            for row in &mut rows {
                for (_, v, keys) in &mut row.json {
                    row.fields += redact_keys(v, keys, &mut m);
                }
            }
            for row in &mut rows {
                for (_, v, _) in &mut row.json {
                    row.fields += redact_matching(v, &m);
                }
                for (_, t) in &mut row.text {
                    if let Some(s) = t
                        && let Some((new, n)) = redact_text(s, &m)
                    {
                        *s = new;
                        row.fields += n;
                    }
                }
            }
            let mut report = RedactionReport::default();
            for row in &rows {
                if row.fields == 0 {
                    continue;
                }
                report.add(row.table, row.fields);
                let col = |name: &str| {
                    row.json.iter().find(|(c, _, _)| *c == name).map(|(_, v, _)| v.to_string())
                };
                match &row.id {
                    RowId::Seq(seq) => {
                        sqlx::query("UPDATE journal SET body = $2, redacted_by = $3 WHERE seq = $1")
                            .bind(seq)
                            .bind(col("body"))
                            .bind(request_id)
                            .execute(&mut *c)
                            .await
                            .map_err(StoreError::db(OP))?;
                    }
                    RowId::Entity(sys, kind, id) => {
                        sqlx::query(
                            "UPDATE entity_state SET body = $5
                             WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4",
                        )
                        .bind(store_id)
                        .bind(sys)
                        .bind(kind)
                        .bind(id)
                        .bind(col("body"))
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::db(OP))?;
                    }
                    RowId::Golden(kind, key) => {
                        sqlx::query(
                            "UPDATE golden SET fields = $4, field_meta = $5
                             WHERE store_id = $1 AND kind = $2 AND key = $3",
                        )
                        .bind(store_id)
                        .bind(kind)
                        .bind(key)
                        .bind(col("fields"))
                        .bind(col("field_meta"))
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::db(OP))?;
                    }
                    RowId::Target(sys, kind, key) => {
                        sqlx::query(
                            "UPDATE target_state SET fields = $5
                             WHERE store_id = $1 AND system = $2 AND kind = $3 AND key = $4",
                        )
                        .bind(store_id)
                        .bind(sys)
                        .bind(kind)
                        .bind(key)
                        .bind(col("fields"))
                        .execute(&mut *c)
                        .await
                        .map_err(StoreError::db(OP))?;
                    }
                    RowId::Lineage(id) => {
                        sqlx::query("UPDATE lineage SET fields = $3 WHERE store_id = $1 AND id = $2")
                            .bind(store_id)
                            .bind(id)
                            .bind(col("fields"))
                            .execute(&mut *c)
                            .await
                            .map_err(StoreError::db(OP))?;
                    }
                    RowId::Outbox(id) => {
                        let err = row.text.first().and_then(|(_, t)| t.clone());
                        sqlx::query("UPDATE outbox SET body = $2, last_error = $3 WHERE id = $1")
                            .bind(id)
                            .bind(col("body"))
                            .bind(err)
                            .execute(&mut *c)
                            .await
                            .map_err(StoreError::db(OP))?;
                    }
                }
            }

            // Pass 3: distinctive values anywhere else in the store.
            let d = m.distinctive();
            if !d.is_empty() {
                sweep!(&mut *c, store_id, request_id, &d, &m, &mut report, OP);
            }

            // The request keeps the ids only.
            let mut kept = subject.clone();
            for v in kept.emails.iter_mut().chain(kept.phones.iter_mut()) {
                *v = REDACTED.to_owned();
            }
            let audit = json!({
                "rows": report.rows,
                "fields": report.fields,
                "total_rows": report.total_rows(),
                "total_fields": report.total_fields(),
                "records": rel.keys.len(),
                "documents": rel.entities.len(),
            });
            sqlx::query(
                "UPDATE privacy_requests SET status = 'done', completed_at = $2, report = $3,
                   subject = $4, last_error = NULL WHERE id = $1",
            )
            .bind(request_id)
            .bind(ms(now))
            .bind(audit.to_string())
            .bind(serde_json::to_string(&kept).unwrap_or_default())
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            Ok::<RedactionOutcome, StoreError>(RedactionOutcome::Done(report))
        })?;
        match outcome {
            RedactionOutcome::Done(_) => w.commit(OP).await?,
            RedactionOutcome::WritesInFlight(_) => drop(w),
        }
        Ok(outcome)
    }
}

impl Store {
    /// The data `store_id` holds about a subject (as `system` names it), as one JSON document:
    /// the canonical records (golden), what each system last held of them, every journal
    /// entry of their documents, the per-system state, and the outbox rows (dead letters
    /// included) that write them.
    pub async fn privacy_export(
        &self,
        store_id: &str,
        system: &str,
        subject: &PrivacySubject,
        plan: &RedactionPlan,
        now: DateTime<Utc>,
    ) -> Result<Value> {
        const OP: &str = "export privacy subject";
        // A read, but through a write transaction so the picture is consistent on SQLite too.
        let mut w = self.begin_write(OP).await?;
        let out = on_tx!(&mut w.tx, c => {
            let rel = find_related!(&mut *c, store_id, system, PrivacyAction::Export, subject, plan, OP)?;
            let mut records = Vec::new();
            let mut outbox = Vec::new();
            for (kind, key) in &rel.keys {
                let g = sqlx::query("SELECT fields FROM golden WHERE store_id = $1 AND kind = $2 AND key = $3")
                    .bind(store_id).bind(kind).bind(key)
                    .fetch_optional(&mut *c).await.map_err(StoreError::db(OP))?;
                let golden = match g {
                    Some(r) => crate::db::json("golden.fields", &r.text("fields").map_err(StoreError::db(OP))?)?,
                    None => Value::Null,
                };
                let t = sqlx::query("SELECT system, fields FROM target_state WHERE store_id = $1 AND kind = $2 AND key = $3 ORDER BY system")
                    .bind(store_id).bind(kind).bind(key)
                    .fetch_all(&mut *c).await.map_err(StoreError::db(OP))?;
                let mut held = serde_json::Map::new();
                for r in &t {
                    held.insert(
                        r.text("system").map_err(StoreError::db(OP))?,
                        crate::db::json("target_state.fields", &r.text("fields").map_err(StoreError::db(OP))?)?,
                    );
                }
                records.push(json!({"kind": kind, "key": key, "fields": golden, "held_by_system": held}));
                let o = sqlx::query("SELECT id, system, op, status, body, last_error, created_at FROM outbox WHERE store_id = $1 AND kind = $2 AND key = $3 ORDER BY id")
                    .bind(store_id).bind(kind).bind(key)
                    .fetch_all(&mut *c).await.map_err(StoreError::db(OP))?;
                for r in &o {
                    outbox.push(json!({
                        "id": r.i64("id").map_err(StoreError::db(OP))?,
                        "system": r.text("system").map_err(StoreError::db(OP))?,
                        "kind": kind, "key": key,
                        "op": r.text("op").map_err(StoreError::db(OP))?,
                        "status": r.text("status").map_err(StoreError::db(OP))?,
                        "body": crate::db::json("outbox.body", &r.text("body").map_err(StoreError::db(OP))?)?,
                        "last_error": r.opt_text("last_error").map_err(StoreError::db(OP))?,
                        "created_at": from_ms(r.i64("created_at").map_err(StoreError::db(OP))?),
                    }));
                }
            }
            let mut documents = Vec::new();
            let mut journal = Vec::new();
            for (sys, kind, id) in &rel.entities {
                let s = sqlx::query("SELECT version, body FROM entity_state WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4")
                    .bind(store_id).bind(sys).bind(kind).bind(id)
                    .fetch_optional(&mut *c).await.map_err(StoreError::db(OP))?;
                if let Some(r) = s {
                    documents.push(json!({
                        "system": sys, "kind": kind, "id": id,
                        "version": r.text("version").map_err(StoreError::db(OP))?,
                        "body": crate::db::json("entity_state.body", &r.text("body").map_err(StoreError::db(OP))?)?,
                    }));
                }
                let j = sqlx::query("SELECT seq, version, source, body, received_at FROM journal WHERE store_id = $1 AND system = $2 AND kind = $3 AND entity_id = $4 ORDER BY seq")
                    .bind(store_id).bind(sys).bind(kind).bind(id)
                    .fetch_all(&mut *c).await.map_err(StoreError::db(OP))?;
                for r in &j {
                    journal.push(json!({
                        "seq": r.i64("seq").map_err(StoreError::db(OP))?,
                        "system": sys, "kind": kind, "id": id,
                        "version": r.text("version").map_err(StoreError::db(OP))?,
                        "source": r.text("source").map_err(StoreError::db(OP))?,
                        "received_at": from_ms(r.i64("received_at").map_err(StoreError::db(OP))?),
                        "body": crate::db::json("journal.body", &r.text("body").map_err(StoreError::db(OP))?)?,
                    }));
                }
            }
            Ok::<Value, StoreError>(json!({
                "store": store_id,
                "system": system,
                "subject": {"customer_ids": subject.customer_ids, "orders": subject.orders},
                "generated_at": now,
                "records": records,
                "documents": documents,
                "journal": journal,
                "outbox": outbox,
            }))
        })?;
        drop(w);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whole_words_only() {
        let mut m = Matcher::default();
        m.add("Ada");
        m.add("ada@example.com");
        m.add("12345");
        assert!(m.matches("Ada Lovelace"));
        assert!(m.matches("attention: ADA"));
        assert!(!m.matches("Adamant shirt"));
        assert!(m.matches("mail ada@example.com now"));
        assert!(m.matches("12345"));
        assert!(!m.matches("LS-12345"));
        assert!(!m.matches(REDACTED));
    }

    #[test]
    fn keys_redact_every_string_beneath() {
        let mut v = json!({"id": "7", "email": "a@b.co", "addresses": [{"city": "Oslo", "default": true}],
                           "line_items": [{"sku": "X", "name": "Shirt"}]});
        let mut m = Matcher::default();
        let n = redact_keys(&mut v, &["email".into(), "addresses".into()], &mut m);
        assert_eq!(n, 2);
        assert_eq!(v["addresses"][0]["city"], REDACTED);
        assert_eq!(v["addresses"][0]["default"], true);
        assert_eq!(v["line_items"][0]["name"], "Shirt");
        assert!(m.matches("Oslo"));
    }

    #[test]
    fn bytes_are_replaced_case_insensitively() {
        let mut m = Matcher::default();
        m.add("ada@example.com");
        let (out, n) = redact_bytes(b"{\"email\":\"Ada@Example.com\"}", &m).unwrap();
        assert_eq!(n, 1);
        assert_eq!(out, b"{\"email\":\"[redacted]\"}");
    }
}
