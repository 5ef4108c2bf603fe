//! Three-way merge of canonical records, field by field.
//!
//! The store's golden record is the base: the last state both systems were brought to agree on.
//! A field changed on one side only takes that side; a field changed on both sides to different
//! values is a conflict for the store's resolver. An echo of weft's own write carries the values
//! already in the golden record, so it merges to no change: there is no ping-pong.
//!
//! Fields a document does not carry are "not observed", not deleted: an inventory webhook says
//! nothing about a product's title, so the title keeps its golden value.

use serde_json::{Map, Value};

/// A canonical record's fields: field name to JSON value.
pub type Fields = Map<String, Value>;

/// A field that both sides changed, to different values, since the base.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The field name.
    pub field: String,
    /// The agreed value before either change; `None` when the field was never agreed.
    pub base: Option<Value>,
    /// The value in the observation being merged.
    pub incoming: Value,
    /// The value the other system is known to hold.
    pub other: Value,
}

/// The outcome of merging one observation into the golden record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merge {
    /// The new golden record, with conflicting fields still at their base value (or absent)
    /// until [`Merge::settle`] applies the resolver's decisions.
    pub golden: Fields,
    /// Fields that changed on the observed side only and were taken.
    pub taken: Vec<String>,
    /// Fields changed on both sides, for the resolver.
    pub conflicts: Vec<Conflict>,
}

/// How a conflict was settled, in merge terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Keep the observed side's value.
    Incoming,
    /// Keep the other system's value.
    Other,
    /// Use this value (e.g. a merged counter).
    Value(Value),
}

/// Merges an observation (`incoming`, the fields one system now holds) into `golden`, given what
/// the other system is last known to hold (`other`, `None` when nothing is known there yet).
pub fn merge(golden: &Fields, incoming: &Fields, other: Option<&Fields>) -> Merge {
    let mut out = Merge {
        golden: golden.clone(),
        ..Merge::default()
    };
    for (field, value) in incoming {
        let base = golden.get(field);
        if base == Some(value) {
            continue; // unchanged on this side (or an echo of our own write)
        }
        let theirs = other.and_then(|o| o.get(field));
        match theirs {
            // The other side still holds the base (or nothing known), or already agrees.
            None => take(&mut out, field, value),
            Some(t) if Some(t) == base || t == value => take(&mut out, field, value),
            Some(t) => out.conflicts.push(Conflict {
                field: field.clone(),
                base: base.cloned(),
                incoming: value.clone(),
                other: t.clone(),
            }),
        }
    }
    out
}

fn take(out: &mut Merge, field: &str, value: &Value) {
    out.golden.insert(field.to_owned(), value.clone());
    out.taken.push(field.to_owned());
}

impl Merge {
    /// Applies one settlement per conflict, in order, completing the golden record.
    ///
    /// # Panics
    /// Never: a length mismatch is reported as an error by the caller before this is called;
    /// extra settlements are ignored and missing ones leave the base value.
    pub fn settle(&mut self, settlements: &[Settlement]) {
        for (conflict, settlement) in self.conflicts.iter().zip(settlements) {
            let value = match settlement {
                Settlement::Incoming => conflict.incoming.clone(),
                Settlement::Other => conflict.other.clone(),
                Settlement::Value(v) => v.clone(),
            };
            self.golden.insert(conflict.field.clone(), value);
        }
    }

    /// True when the observation changed nothing in the golden record.
    pub fn is_noop(&self) -> bool {
        self.taken.is_empty() && self.conflicts.is_empty()
    }
}

/// The diff against a target's last known state: the fields of `desired` the target does not
/// hold yet. Empty means no write is needed (no-op writes and echoes are dropped here).
pub fn pending_fields(desired: &Fields, known: Option<&Fields>) -> Vec<String> {
    desired
        .iter()
        .filter(|(k, v)| known.and_then(|m| m.get(*k)) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn f(v: Value) -> Fields {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn one_sided_change_is_taken() {
        let golden = f(json!({"title": "A", "price": "10.00"}));
        let m = merge(
            &golden,
            &f(json!({"title": "B", "price": "10.00"})),
            Some(&golden),
        );
        assert_eq!(m.golden, f(json!({"title": "B", "price": "10.00"})));
        assert_eq!(m.taken, vec!["title"]);
        assert!(m.conflicts.is_empty());
    }

    #[test]
    fn echo_merges_to_nothing() {
        let golden = f(json!({"title": "B"}));
        let m = merge(&golden, &golden, Some(&golden));
        assert!(m.is_noop());
    }

    #[test]
    fn both_sides_changed_is_a_conflict_with_base() {
        let golden = f(json!({"qty": 10}));
        let m = merge(&golden, &f(json!({"qty": 8})), Some(&f(json!({"qty": 15}))));
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                field: "qty".into(),
                base: Some(json!(10)),
                incoming: json!(8),
                other: json!(15)
            }]
        );
        let mut m = m;
        m.settle(&[Settlement::Value(json!(13))]);
        assert_eq!(m.golden["qty"], json!(13));
    }

    #[test]
    fn same_change_on_both_sides_is_not_a_conflict() {
        let golden = f(json!({"qty": 10}));
        let m = merge(&golden, &f(json!({"qty": 8})), Some(&f(json!({"qty": 8}))));
        assert!(m.conflicts.is_empty());
        assert_eq!(m.golden["qty"], json!(8));
    }

    #[test]
    fn first_sight_with_different_other_side_conflicts_without_base() {
        let m = merge(
            &Fields::new(),
            &f(json!({"title": "Shop"})),
            Some(&f(json!({"title": "Erp"}))),
        );
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(m.conflicts[0].base, None);
    }

    #[test]
    fn unobserved_fields_keep_their_golden_value() {
        let golden = f(json!({"title": "A", "qty": 3}));
        let m = merge(&golden, &f(json!({"qty": 4})), None);
        assert_eq!(m.golden, f(json!({"title": "A", "qty": 4})));
    }

    #[test]
    fn pending_fields_is_the_diff() {
        let desired = f(json!({"a": 1, "b": 2}));
        assert_eq!(
            pending_fields(&desired, Some(&f(json!({"a": 1, "b": 3})))),
            vec!["b"]
        );
        assert!(pending_fields(&desired, Some(&desired)).is_empty());
        assert_eq!(pending_fields(&desired, None).len(), 2);
    }

    fn small_fields() -> impl Strategy<Value = Fields> {
        proptest::collection::btree_map("[abc]", 0i64..4, 0..4).prop_map(|m| {
            m.into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect::<Fields>()
        })
    }

    proptest! {
        /// Merging the same observation twice changes nothing the second time: replay and
        /// duplicate deliveries are harmless.
        #[test]
        fn merge_is_idempotent(golden in small_fields(), incoming in small_fields(), other in small_fields()) {
            let mut first = merge(&golden, &incoming, Some(&other));
            first.settle(&vec![Settlement::Incoming; first.conflicts.len()]);
            let second = merge(&first.golden, &incoming, Some(&other));
            prop_assert!(second.is_noop(), "{second:?}");
        }

        /// Every field of the observation ends up either taken or in conflict, never silently lost.
        #[test]
        fn every_changed_field_is_accounted_for(golden in small_fields(), incoming in small_fields(), other in small_fields()) {
            let m = merge(&golden, &incoming, Some(&other));
            for (k, v) in &incoming {
                let changed = golden.get(k) != Some(v);
                let accounted = m.taken.contains(k) || m.conflicts.iter().any(|c| &c.field == k);
                prop_assert_eq!(changed, accounted);
            }
        }
    }
}
