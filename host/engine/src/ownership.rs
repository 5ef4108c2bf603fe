//! Field ownership on every change.
//!
//! A store's `[policy]` names an owner per field pattern (`"price.price" = "netsuite"`). The
//! resolver applies it to conflicts; this module applies it to **one-sided** changes, which
//! never reach a resolver: when a system that does not own a field changes it, the store's
//! `on_change` action for that field decides:
//!
//! - [`OnChange::Revert`] (the default for owned fields): the agreed value stays, so the diff
//!   writes it back to the system that changed it; counted (`changes_reverted`), logged, and
//!   kept in the field's history (meta `reverted`: system, value, version, seq).
//! - [`OnChange::Propose`]: the agreed value stays and the change is kept aside for an operator
//!   (meta `proposed`); nothing is written for that field to the proposing system while the
//!   proposal is open (it keeps what it shows), and the owner keeps the agreed value. An
//!   operator's decision ([`decision_entry`], `weft proposals accept|refuse`) is journaled and
//!   applied by the step in journal order: accepted, the value becomes the agreed one and
//!   reaches every system; refused, the agreed value is written back to the proposer. A change
//!   by the owner (or any system allowed to make it) supersedes an open proposal.
//! - [`OnChange::Accept`]: today's rule, the change is taken and reaches the owner.
//!
//! A field nobody owns is always taken. A field the golden record does not hold yet is taken
//! from whoever shows it first (there is nothing to revert to). Stock quantities have their own
//! owner (`[stock]`, see [`crate::stock`]) and are not judged here.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weft_store::{NewJournalEntry, Source};

/// What a change by a system that does not own the field does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnChange {
    /// The owner's value is written back (default).
    #[default]
    Revert,
    /// Kept aside for an operator to accept or refuse.
    Propose,
    /// Taken, and written to the owner.
    Accept,
}

impl OnChange {
    /// The config names, in the order of the variants.
    pub const NAMES: [&str; 3] = ["revert", "propose", "accept"];

    /// Parses a config name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "revert" => Some(Self::Revert),
            "propose" => Some(Self::Propose),
            "accept" => Some(Self::Accept),
            _ => None,
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Revert => "revert",
            Self::Propose => "propose",
            Self::Accept => "accept",
        }
    }
}

/// Whether `pattern` (`kind.field`, `kind.*`, `*.field`, `*`) matches a field.
pub(crate) fn pattern_matches(pattern: &str, kind: &str, field: &str) -> bool {
    let (k, f) = pattern.split_once('.').unwrap_or((pattern, "*"));
    (k == "*" || k == kind) && (f == "*" || f == field)
}

/// How specific a pattern is (exact kind and field first).
pub(crate) fn specificity(pattern: &str) -> u8 {
    let (k, f) = pattern.split_once('.').unwrap_or((pattern, "*"));
    u8::from(k != "*") * 2 + u8::from(f != "*")
}

/// A store's field owners and what a non-owner's change of each field does.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    /// `(pattern, owner)`, most specific first.
    owners: Vec<(String, String)>,
    /// `(pattern, action)`, most specific first.
    on_change: Vec<(String, OnChange)>,
}

impl Ownership {
    /// Ownership from `[policy]`'s owners and `on_change` actions (patterns as in
    /// [`pattern_matches`]; the most specific pattern wins).
    pub fn new(
        owners: impl IntoIterator<Item = (String, String)>,
        on_change: impl IntoIterator<Item = (String, OnChange)>,
    ) -> Self {
        let mut owners: Vec<_> = owners.into_iter().collect();
        owners.sort_by_key(|(p, _)| std::cmp::Reverse(specificity(p)));
        let mut on_change: Vec<_> = on_change.into_iter().collect();
        on_change.sort_by_key(|(p, _)| std::cmp::Reverse(specificity(p)));
        Ownership { owners, on_change }
    }

    /// True when no field has an owner.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The owner of `kind.field`, if any.
    pub fn owner(&self, kind: &str, field: &str) -> Option<&str> {
        self.owners
            .iter()
            .find(|(p, _)| pattern_matches(p, kind, field))
            .map(|(_, o)| o.as_str())
    }

    /// What a change of `kind.field` by `system` does: `None` when `system` may make it (it
    /// owns the field, or nobody does).
    pub fn judge(&self, kind: &str, field: &str, system: &str) -> Option<OnChange> {
        let owner = self.owner(kind, field)?;
        if owner == system {
            return None;
        }
        Some(
            self.on_change
                .iter()
                .find(|(p, _)| pattern_matches(p, kind, field))
                .map(|(_, a)| *a)
                .unwrap_or_default(),
        )
    }
}

/// Field meta key of an open proposal (`{system, value, version, seq, at}`).
pub const PROPOSED: &str = "proposed";
/// Field meta key of the last reverted change (`{system, value, version, seq}`).
pub const REVERTED: &str = "reverted";
/// Field meta key of an operator's last decision on a proposal.
pub const DECIDED: &str = "decided";

/// Delivery-id prefix of an operator's decision on a proposal.
pub const DECISION_PREFIX: &str = "weft-decision:";
/// The body field of a decision entry.
pub const DECISION_FIELD: &str = "weft_decision";

/// An operator's decision on the open proposal of `kind`/`key`.`field` by `system` (the value
/// the operator saw: a decision on a proposal that changed since is not applied).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The field.
    pub field: String,
    /// Accept (the proposed value becomes the agreed one) or refuse (written back).
    pub accept: bool,
    /// The proposed value the operator decided on.
    pub value: Value,
}

/// The journal entry that carries an operator's decision: journaled like an observation of the
/// proposing system (so it is ordered with that system's changes, and a replay applies it
/// again), under a delivery id of its own.
pub fn decision_entry(
    store_id: &str,
    system: &str,
    kind: &str,
    key: &str,
    decision: &Decision,
    now: DateTime<Utc>,
) -> NewJournalEntry {
    NewJournalEntry {
        store_id: store_id.to_owned(),
        system: system.to_owned(),
        kind: kind.to_owned(),
        entity_id: key.to_owned(),
        version: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        source: Source::Manual,
        delivery_id: Some(format!(
            "{DECISION_PREFIX}{kind}:{key}:{}:{}",
            decision.field,
            now.timestamp_nanos_opt().unwrap_or_default()
        )),
        body: json!({
            DECISION_FIELD: {
                "field": decision.field,
                "accept": decision.accept,
                "value": decision.value,
            }
        }),
        received_at: now,
    }
}

/// The decision an entry carries, if it is one.
pub(crate) fn decision_of(delivery_id: Option<&str>, body: &Value) -> Option<Decision> {
    if !delivery_id.is_some_and(|d| d.starts_with(DECISION_PREFIX)) {
        return None;
    }
    let d = body.get(DECISION_FIELD)?;
    Some(Decision {
        field: d.get("field")?.as_str()?.to_owned(),
        accept: d.get("accept")?.as_bool()?,
        value: d.get("value").cloned().unwrap_or(Value::Null),
    })
}

/// The open proposals of one golden record's meta: `(field, proposal)`.
pub fn proposals(meta: &Value) -> Vec<(String, Value)> {
    meta.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(field, m)| Some((field.clone(), m.get(PROPOSED)?.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_owner_and_action_win() {
        let o = Ownership::new(
            [
                ("*".to_owned(), "netsuite".to_owned()),
                ("variant.title".to_owned(), "shopify".to_owned()),
            ],
            [
                ("price.price".to_owned(), OnChange::Propose),
                ("*.description".to_owned(), OnChange::Accept),
            ],
        );
        assert_eq!(o.owner("variant", "title"), Some("shopify"));
        assert_eq!(o.owner("price", "price"), Some("netsuite"));
        assert_eq!(o.judge("variant", "title", "shopify"), None);
        assert_eq!(
            o.judge("variant", "title", "netsuite"),
            Some(OnChange::Revert)
        );
        assert_eq!(
            o.judge("price", "price", "shopify"),
            Some(OnChange::Propose)
        );
        assert_eq!(
            o.judge("variant", "description", "shopify"),
            Some(OnChange::Accept)
        );
        assert!(Ownership::default().judge("price", "price", "x").is_none());
    }

    #[test]
    fn a_decision_round_trips_through_its_entry() {
        let d = Decision {
            field: "price".into(),
            accept: true,
            value: json!("4.99"),
        };
        let e = decision_entry("acme", "shopify", "price", "SKU-1", &d, Utc::now());
        assert_eq!(decision_of(e.delivery_id.as_deref(), &e.body), Some(d));
        assert_eq!(decision_of(Some("other"), &e.body), None);
    }
}
