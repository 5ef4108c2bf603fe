//! Deletes and archives.
//!
//! A platform journals a deletion as a *tombstone* document
//! ([`weft_platform::webhook::tombstone`], recognised by [`weft_platform::Platform::is_deletion`]):
//! a delete webhook (`{"id": N}`), a record gone from a full read. The step maps the document
//! weft last held for that entity (what the system showed before it deleted it) to find the
//! canonical records it carried, and applies the store's [`DeletePolicy`] to each:
//!
//! - every record gets a tombstone for that system in its golden meta ([`DELETED`]): no write
//!   is ever planned to that system for it again (so nothing recreates what its own side
//!   deleted), until that system shows the record again (a real re-creation), which clears it;
//! - [`OnDelete::Archive`] (the default) also makes the golden record inactive
//!   (`active = false`, for records that carry `active`), which every other system's mapper
//!   writes as its archived state (Shopify product status `ARCHIVED`, NetSuite `isInactive`);
//! - [`OnDelete::Delete`] removes the record from the other systems: the golden meta records
//!   the removal ([`REMOVED`]) and every other system that holds the record gets a write
//!   request with `deleted` set, which the mapper answers with a `delete` command (or skips);
//!   a system that never held it gets nothing. Records that live on a removed variant (its
//!   price, its stock levels) are written nowhere while it is removed. The tombstones the
//!   other systems then journal (their delete webhooks, the write's own answer) are weft's
//!   own deletions' echoes (`"echo": true`): they apply no policy and do not count toward the
//!   guard. When a system shows the record again (a real re-creation), the removal is lifted
//!   with the echoes, so the record is written again wherever weft removed it (never to the
//!   system that deleted it first, until it shows it again too);
//! - [`OnDelete::Ignore`] changes nothing on the other systems.
//!
//! A document of the entity no newer than its tombstone (or after it in the same step) is
//! stale: it was read or sent before the deletion. Writes to the deleting system for its
//! records are moot: unsent ones are withdrawn, their dead letters and unsent retries become
//! `superseded` ([`weft_store::MootWrites`]), and a write that fails there for good once the
//! tombstone is known is superseded rather than left as a dead letter.
//!
//! **The mass-delete guard**: when the deletions of one step plus those applied in the last
//! minute would remove more than `guard_percent` of a kind's golden records (and at least
//! `guard_min` of them), the step applies none of those deletions: it holds them
//! ([`weft_store::HeldDelete`], shown by `weft status`, `/metrics` `weft_deletes_held` and `weft
//! deletes list`) until an operator releases them (the next step applies exactly those
//! entries) or discards them. While a store has held deletions, every new one is held too.

use std::collections::VecDeque;

use serde_json::{Map, Value, json};

/// Golden meta key of a record's tombstones: `{ "<system>": {seq, version, entity, at} }`.
pub const DELETED: &str = "weft:deleted";

/// Golden meta key of a record removed everywhere by the `delete` policy:
/// `{system, seq, at}` of the deletion that decided it.
pub const REMOVED: &str = "weft:removed";

/// How long applied deletions count toward the guard (one minute of webhooks).
pub const GUARD_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// What a deletion on one system does to the record on the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDelete {
    /// The golden record becomes inactive everywhere else (default).
    #[default]
    Archive,
    /// The record is removed from the other systems too (the mapper's `delete` writes).
    Delete,
    /// Nothing changes on the other systems.
    Ignore,
}

/// A store's delete policy (`[deletes]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePolicy {
    /// Per canonical kind; kinds not named are archived.
    pub kinds: Vec<(String, OnDelete)>,
    /// Hold a round that would delete more than this percentage of a kind.
    pub guard_percent: u64,
    /// ...and at least this many records.
    pub guard_min: u64,
}

impl Default for DeletePolicy {
    fn default() -> Self {
        DeletePolicy {
            kinds: Vec::new(),
            guard_percent: 10,
            guard_min: 3,
        }
    }
}

impl DeletePolicy {
    /// The action for canonical `kind`.
    pub fn action(&self, kind: &str) -> OnDelete {
        self.kinds
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, a)| *a)
            .unwrap_or_default()
    }

    /// Whether deleting `n` records of a kind the store holds `total` of trips the guard.
    pub fn trips(&self, n: u64, total: u64) -> bool {
        n >= self.guard_min && n.saturating_mul(100) > self.guard_percent.saturating_mul(total)
    }
}

/// Whether `meta` (a golden record's) says the record is removed everywhere ([`REMOVED`]).
pub fn removed(meta: &Value) -> bool {
    meta.get(REMOVED).is_some_and(Value::is_object)
}

/// Records that the record is removed everywhere, decided by `system`'s deletion `seq`.
pub(crate) fn mark_removed(meta: &mut Value, system: &str, seq: i64, at: &str) {
    if !meta.is_object() {
        *meta = json!({});
    }
    meta[REMOVED] = json!({"system": system, "seq": seq, "at": at});
}

/// Lifts a removal ([`REMOVED`]) and the tombstones that were its echoes; returns whether
/// there was one.
pub(crate) fn lift_removal(meta: &mut Value) -> bool {
    let Value::Object(m) = meta else { return false };
    if m.remove(REMOVED).is_none() {
        return false;
    }
    if let Some(Value::Object(d)) = m.get_mut(DELETED) {
        d.retain(|_, t| t.get("echo") != Some(&Value::Bool(true)));
        if d.is_empty() {
            m.remove(DELETED);
        }
    }
    true
}

/// Whether `meta` (a golden record's) holds a tombstone for `system`.
pub fn deleted_on(meta: &Value, system: &str) -> bool {
    meta.get(DELETED).and_then(|d| d.get(system)).is_some()
}

/// Records `system`'s tombstone in `meta`.
pub(crate) fn mark(meta: &mut Value, system: &str, tomb: Value) {
    if !meta.is_object() {
        *meta = json!({});
    }
    let Value::Object(m) = meta else { return };
    let d = m
        .entry(DELETED.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !d.is_object() {
        *d = Value::Object(Map::new());
    }
    if let Value::Object(d) = d {
        d.insert(system.to_owned(), tomb);
    }
}

/// Removes `system`'s tombstone from `meta`; returns whether there was one.
pub(crate) fn clear(meta: &mut Value, system: &str) -> bool {
    let Some(Value::Object(d)) = meta.get_mut(DELETED) else {
        return false;
    };
    let had = d.remove(system).is_some();
    if d.is_empty()
        && let Value::Object(m) = meta
    {
        m.remove(DELETED);
    }
    had
}

/// Whether `system` deleted record `kind`/`key` of `store` (its tombstone is in the stored
/// golden record's meta, or, for what lives on a variant, in the variant's).
pub(crate) async fn stored_deleted_on(
    db: &weft_store::Store,
    store: &str,
    system: &str,
    kind: &str,
    key: &str,
) -> Result<bool, weft_store::StoreError> {
    stored_on(db, store, kind, key, |m| deleted_on(m, system)).await
}

/// Whether `holds` says so of stored record `kind`/`key`'s golden meta, or, for what lives on
/// a variant, of the variant's.
async fn stored_on(
    db: &weft_store::Store,
    store: &str,
    kind: &str,
    key: &str,
    holds: impl Fn(&Value) -> bool,
) -> Result<bool, weft_store::StoreError> {
    let on = |g: Option<weft_store::GoldenRecord>| g.is_some_and(|g| holds(&g.field_meta));
    if on(db.golden(store, kind, key).await?) {
        return Ok(true);
    }
    if matches!(kind, "price" | "inventory-level") {
        let sku = key.split('@').next().unwrap_or(key);
        return Ok(on(db.golden(store, "variant", sku).await?));
    }
    Ok(false)
}

/// Whether record `kind`/`key` of `store` is removed everywhere in the stored golden records
/// (its meta's [`REMOVED`], or, for what lives on a variant, the variant's).
pub(crate) async fn stored_removed(
    db: &weft_store::Store,
    store: &str,
    kind: &str,
    key: &str,
) -> Result<bool, weft_store::StoreError> {
    stored_on(db, store, kind, key, removed).await
}

/// The seq of the deletion that removed a record everywhere ([`REMOVED`]).
pub(crate) fn removed_by(meta: &Value) -> Option<i64> {
    meta.get(REMOVED)?.get("seq")?.as_i64()
}

/// Deletions applied recently, per canonical kind (the guard's one-minute window). Rebuilt
/// from the stored tombstones the first time a processor guards ([`Recent::seed`]), so a
/// restart does not forget what was deleted in the last minute.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    seeded: bool,
    window: VecDeque<(tokio::time::Instant, String, u64)>,
}

impl Recent {
    /// Deletions of `kind` applied within [`GUARD_WINDOW`] of `now`.
    pub(crate) fn count(&mut self, kind: &str, now: tokio::time::Instant) -> u64 {
        while self
            .window
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) >= GUARD_WINDOW)
        {
            self.window.pop_front();
        }
        self.window
            .iter()
            .filter(|(_, k, _)| k == kind)
            .map(|(_, _, n)| n)
            .sum()
    }

    /// The window as the stored tombstones left it (a restart within a minute of deletions
    /// keeps counting them): each tombstone (`meta`'s [`DELETED`] entries of a record of
    /// `kind`) applied within [`GUARD_WINDOW`] of `wall_now` (its `applied` time), placed at
    /// the same distance before `now`.
    pub(crate) fn seed(
        &mut self,
        records: &[(String, Value)],
        wall_now: chrono::DateTime<chrono::Utc>,
        now: tokio::time::Instant,
    ) {
        let mut found: Vec<(tokio::time::Instant, String)> = Vec::new();
        for (kind, meta) in records {
            let Some(Value::Object(d)) = meta.get(DELETED) else {
                continue;
            };
            // (A child a document no longer listed is outside the guard: `"guarded": false`.)
            for tomb in d
                .values()
                .filter(|t| t.get("guarded") != Some(&Value::Bool(false)))
            {
                let Some(at) = tomb
                    .get("applied")
                    .and_then(Value::as_str)
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                else {
                    continue;
                };
                let Ok(ago) = (wall_now - at.with_timezone(&chrono::Utc)).to_std() else {
                    continue;
                };
                if ago < GUARD_WINDOW
                    && let Some(t) = now.checked_sub(ago)
                {
                    found.push((t, kind.clone()));
                }
            }
        }
        found.sort_by_key(|(t, _)| *t);
        // Before anything this process applied since.
        for (t, kind) in found.into_iter().rev() {
            self.window.push_front((t, kind, 1));
        }
        self.seeded = true;
    }

    /// Whether [`Recent::seed`] ran.
    pub(crate) fn seeded(&self) -> bool {
        self.seeded
    }

    pub(crate) fn add(&mut self, kind: &str, n: u64, now: tokio::time::Instant) {
        if n > 0 {
            self.window.push_back((now, kind.to_owned(), n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_trips_above_the_share_and_the_floor() {
        let p = DeletePolicy::default();
        assert!(p.trips(3, 10)); // 30% of 10
        assert!(!p.trips(1, 10)); // 10%: not more than the share
        assert!(!p.trips(2, 2)); // below the floor
        assert!(!p.trips(10, 100));
        assert!(p.trips(11, 100));
    }

    #[test]
    fn tombstones_are_marked_and_cleared_per_system() {
        let mut meta = json!({"price": {"system": "netsuite"}});
        mark(&mut meta, "shopify", json!({"seq": 4}));
        assert!(deleted_on(&meta, "shopify"));
        assert!(!deleted_on(&meta, "netsuite"));
        assert!(clear(&mut meta, "shopify"));
        assert!(!clear(&mut meta, "shopify"));
        assert_eq!(meta, json!({"price": {"system": "netsuite"}}));
    }
}
