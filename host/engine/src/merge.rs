//! Three-way merge of canonical records, field by field.
//!
//! The store's golden record is the agreed state. A system *changed* a field when the value it
//! now shows differs from the value it was last known to hold (its target state). A change made
//! from the agreed value is taken; a change made from an older value, while the golden record
//! moved on because of the other system, is a conflict for the store's resolver (base = the
//! value the changing side started from, other = the golden value).
//!
//! Two consequences the engine relies on:
//! - An echo of weft's own write shows the golden value, so it merges to no change: no ping-pong.
//!   Except for **counters** (stock quantities): their changes are deltas, and a side that moved
//!   from an older value to exactly the golden value by a change of its own (three sales that
//!   happen to land on the agreed quantity) moved by `value - before`, which must count. So a
//!   counter showing the golden value from a different, older value is a conflict for the
//!   resolver (the counter merge adds both deltas). Weft's own stock writes are placed before
//!   their echoes by their journaled results, so an echo of one shows the side's previous value.
//! - A document that still shows a value weft has not finished writing (the write is queued)
//!   shows the side's *previous* value, so it is not mistaken for a change: no regression.
//!
//! Fields a document does not carry are "not observed", not deleted: an inventory webhook says
//! nothing about a product's title, so the title keeps its golden value.
//!
//! A field new to a record weft already holds (a mapper that now maps it, while the golden
//! record and the systems' last-known states predate it) is taken from the first side that
//! shows a value for it. A side showing `null` for it says only that it has none: that is not
//! taken, so it is never written as a removal over the value another system holds (which
//! that system's next observation brings in).

use serde_json::{Map, Value};

/// A canonical record's fields: field name to JSON value.
pub type Fields = Map<String, Value>;

/// A field that both sides changed, to different values.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The field name.
    pub field: String,
    /// The value the observed side changed from; `None` when it was never known there.
    pub base: Option<Value>,
    /// The value in the observation being merged.
    pub incoming: Value,
    /// The golden value, which the other system moved it to.
    pub other: Value,
}

/// The outcome of merging one observation into the golden record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merge {
    /// The new golden record, with conflicting fields still at their golden value until
    /// [`Merge::settle`] applies the resolver's decisions.
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
    /// Keep the golden (other system's) value.
    Other,
    /// Use this value (e.g. a merged counter).
    Value(Value),
}

/// Merges an observation into `golden`: `incoming` is what one system now holds, `previous` what
/// that same system was last known to hold (`None` on first sight).
pub fn merge(
    golden: &Fields,
    previous: Option<&Fields>,
    incoming: &Fields,
    counter: impl Fn(&str) -> bool,
) -> Merge {
    let mut out = Merge {
        golden: golden.clone(),
        ..Merge::default()
    };
    for (field, value) in incoming {
        let agreed = golden.get(field);
        let before = previous.and_then(|p| p.get(field));
        if before == Some(value) {
            continue; // this side did not change it: a write to it is still on its way
        }
        if agreed == Some(value) && !(counter(field) && before.is_some()) {
            continue; // already agreed (or an echo of our own write)
        }
        if agreed.is_none() && before.is_none() && value.is_null() && !golden.is_empty() {
            continue; // a field new to the record, without a value here: nothing to agree on
        }
        if agreed.is_none() || before == agreed {
            take(&mut out, field, value); // changed from the agreed value
        } else {
            out.conflicts.push(Conflict {
                field: field.clone(),
                base: before.cloned(),
                incoming: value.clone(),
                other: agreed.cloned().unwrap_or(Value::Null),
            });
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
    fn a_counter_that_lands_on_the_golden_value_by_its_own_change_still_counts() {
        // Golden 45 (the other side moved it); this side last held 44 and now shows 45: it
        // moved by +1 of its own, which the counter merge adds (45 + 1 = 46).
        let golden = f(json!({"qty": 45}));
        let counter = |field: &str| field == "qty";
        let m = merge(
            &golden,
            Some(&f(json!({"qty": 44}))),
            &f(json!({"qty": 45})),
            counter,
        );
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                field: "qty".into(),
                base: Some(json!(44)),
                incoming: json!(45),
                other: json!(45),
            }]
        );
        // Not a counter: showing the agreed value is no change (an echo).
        let m = merge(
            &golden,
            Some(&f(json!({"qty": 44}))),
            &f(json!({"qty": 45})),
            |_| false,
        );
        assert!(m.is_noop());
        // A counter showing what it held, or a first sight of the agreed value, is no change.
        let m = merge(&golden, Some(&golden), &golden, counter);
        assert!(m.is_noop());
        let m = merge(&golden, None, &golden, counter);
        assert!(m.is_noop());
    }

    #[test]
    fn one_sided_change_is_taken() {
        let golden = f(json!({"title": "A", "price": "10.00"}));
        let m = merge(
            &golden,
            Some(&golden),
            &f(json!({"title": "B", "price": "10.00"})),
            |_| false,
        );
        assert_eq!(m.golden, f(json!({"title": "B", "price": "10.00"})));
        assert_eq!(m.taken, vec!["title"]);
        assert!(m.conflicts.is_empty());
    }

    #[test]
    fn echo_merges_to_nothing() {
        let golden = f(json!({"title": "B"}));
        let m = merge(&golden, Some(&f(json!({"title": "A"}))), &golden, |_| false);
        assert!(m.is_noop());
    }

    #[test]
    fn a_side_still_showing_its_old_value_is_not_a_change() {
        // NetSuite moved the price to 12; the write to Shopify is queued. A Shopify webhook for a
        // title edit still shows price 10, which Shopify held before: the price must not regress.
        let golden = f(json!({"title": "A", "price": "12.00"}));
        let before = f(json!({"title": "A", "price": "10.00"}));
        let m = merge(
            &golden,
            Some(&before),
            &f(json!({"title": "B", "price": "10.00"})),
            |_| false,
        );
        assert_eq!(m.golden, f(json!({"title": "B", "price": "12.00"})));
        assert!(m.conflicts.is_empty());
    }

    #[test]
    fn change_from_a_stale_value_is_a_conflict() {
        // Shopify sold 2 (10 -> 8) while NetSuite restocked to 20.
        let golden = f(json!({"qty": 20}));
        let mut m = merge(
            &golden,
            Some(&f(json!({"qty": 10}))),
            &f(json!({"qty": 8})),
            |_| false,
        );
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                field: "qty".into(),
                base: Some(json!(10)),
                incoming: json!(8),
                other: json!(20)
            }]
        );
        m.settle(&[Settlement::Value(json!(18))]);
        assert_eq!(m.golden["qty"], json!(18));
    }

    #[test]
    fn first_sight_with_a_different_golden_value_conflicts_without_base() {
        let m = merge(
            &f(json!({"title": "Erp"})),
            None,
            &f(json!({"title": "Shop"})),
            |_| false,
        );
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(m.conflicts[0].base, None);
    }

    #[test]
    fn first_sight_of_a_new_field_is_taken() {
        let m = merge(&Fields::new(), None, &f(json!({"title": "Shop"})), |_| {
            false
        });
        assert_eq!(m.taken, vec!["title"]);
    }

    #[test]
    fn a_new_field_without_a_value_is_not_taken_as_a_removal() {
        // The golden record predates `seo_title`; this side has none, another may have one.
        let golden = f(json!({"title": "A"}));
        let m = merge(
            &golden,
            Some(&golden),
            &f(json!({"title": "A", "seo_title": null})),
            |_| false,
        );
        assert!(m.is_noop(), "{m:?}");
        // A value is taken; a new record takes its nulls as before.
        let m = merge(
            &golden,
            Some(&golden),
            &f(json!({"title": "A", "seo_title": "S"})),
            |_| false,
        );
        assert_eq!(m.taken, vec!["seo_title"]);
        let m = merge(&Fields::new(), None, &f(json!({"seo_title": null})), |_| {
            false
        });
        assert_eq!(m.taken, vec!["seo_title"]);
    }

    #[test]
    fn unobserved_fields_keep_their_golden_value() {
        let golden = f(json!({"title": "A", "qty": 3}));
        let m = merge(&golden, Some(&golden), &f(json!({"qty": 4})), |_| false);
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
        fn merge_is_idempotent(golden in small_fields(), previous in small_fields(), incoming in small_fields()) {
            let mut first = merge(&golden, Some(&previous), &incoming, |_| false);
            first.settle(&vec![Settlement::Incoming; first.conflicts.len()]);
            let second = merge(&first.golden, Some(&previous), &incoming, |_| false);
            prop_assert!(second.is_noop(), "{second:?}");
        }

        /// Every field of the observation ends up either taken or in conflict, never silently lost.
        #[test]
        fn every_changed_field_is_accounted_for(golden in small_fields(), previous in small_fields(), incoming in small_fields()) {
            let m = merge(&golden, Some(&previous), &incoming, |_| false);
            for (k, v) in &incoming {
                let changed = golden.get(k) != Some(v) && previous.get(k) != Some(v);
                let accounted = m.taken.contains(k) || m.conflicts.iter().any(|c| &c.field == k);
                prop_assert_eq!(changed, accounted);
            }
        }
    }
}
