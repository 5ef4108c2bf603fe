//! Stock resolver `counter-merge`: for counters such as stock quantities, every system's change
//! is kept by adding its delta to the base: `base + Σ (changed side − base)`.
//!
//! Example: base 10, the storefront sold 3 (left 7), the warehouse received 5 (right 15):
//! merged 12. A missing base (a new field) counts as 0. Integers stay integers (checked, an
//! overflow is an error); if any value has a fraction the sum is computed in floating point.
//!
//! Config (`[plugin.config]`): `min = 0` clamps the result from below (optional; by default
//! negative stock, an oversell, is kept so someone sees it).
//!
//! A value that is not a number, or a side that removed the field, fails the batch with an error
//! naming the entity and field: a counter cannot be merged with "nothing".

use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::resolve::describe;
use weft_plugin_sdk::serde_json::{self, Number, Value};

/// The resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct CounterMerge;

enum Num {
    Int(i64),
    Float(f64),
}

fn parse_num(c: &FieldChange, which: &str, text: Option<&str>) -> Result<Num, PluginError> {
    let Some(text) = text else {
        return Err(PluginError::Other(format!(
            "{}: {which} removed the field; a counter needs a number",
            describe(c)
        )));
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) => Ok(match n.as_i64() {
            Some(i) => Num::Int(i),
            None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        _ => Err(PluginError::Other(format!(
            "{}: {which} value {text} is not a number",
            describe(c)
        ))),
    }
}

/// Merges one counter conflict into the summed value (JSON text).
pub fn merge(c: &FieldChange, min: Option<f64>) -> Result<String, PluginError> {
    let base = match c.base.as_deref() {
        None => Num::Int(0),
        Some(b) => parse_num(c, "base", Some(b))?,
    };
    // Every system that changed the counter since the agreed value contributes its delta.
    let mut deltas = Vec::new();
    for side in c.changed() {
        deltas.push(parse_num(c, &side.system, side.value.as_deref())?);
    }
    let value = match (&base, deltas.iter().all(|d| matches!(d, Num::Int(_)))) {
        (Num::Int(b), true) => {
            let mut sum = *b;
            for d in &deltas {
                let Num::Int(v) = d else { unreachable!() };
                sum = v
                    .checked_sub(*b)
                    .and_then(|delta| sum.checked_add(delta))
                    .ok_or_else(|| {
                        PluginError::Other(format!("{}: merged counter overflows", describe(c)))
                    })?;
            }
            let sum = match min {
                Some(m) if (sum as f64) < m => m.ceil() as i64,
                _ => sum,
            };
            Value::Number(Number::from(sum))
        }
        _ => {
            let f = |n: &Num| match n {
                Num::Int(i) => *i as f64,
                Num::Float(x) => *x,
            };
            let b = f(&base);
            let mut sum = b + deltas.iter().map(|d| f(d) - b).sum::<f64>();
            if let Some(m) = min {
                sum = sum.max(m);
            }
            Value::Number(Number::from_f64(sum).ok_or_else(|| {
                PluginError::Other(format!("{}: merged counter is not finite", describe(c)))
            })?)
        }
    };
    Ok(value.to_string())
}

impl Resolver for CounterMerge {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "counter-merge",
            env!("CARGO_PKG_VERSION"),
            "Merges conflicting counters (stock) as base plus both sides' deltas.",
        )
    }

    fn resolve(
        &self,
        cx: &Context,
        changes: Vec<FieldChange>,
    ) -> Result<Vec<Decision>, PluginError> {
        let min: Option<f64> = cx.config("min")?;
        changes
            .iter()
            .map(|c| match c.occasion {
                // A one-sided change of a counter is that side's delta: taken as it is.
                Occasion::Change => Ok(Decision::Take(c.incoming.clone())),
                Occasion::Conflict => merge(c, min).map(Decision::Value),
            })
            .collect()
    }
}

weft_plugin_sdk::export_resolver!(CounterMerge);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::serde_json::json;
    use weft_plugin_sdk::testing::{Harness, HarnessError, conflict};

    fn c(base: Option<Value>, left: Option<Value>, right: Option<Value>) -> FieldChange {
        conflict(
            EntityKind::InventoryLevel,
            "SKU1@1",
            "quantity",
            base,
            ("shopify", left, "2026-11-26T10:00:00Z"),
            ("netsuite", right, "2026-11-26T10:00:01Z"),
        )
    }

    #[test]
    fn sums_both_deltas() {
        let h = Harness::new(CounterMerge);
        let out = h
            .resolve(vec![
                c(Some(json!(10)), Some(json!(7)), Some(json!(15))),
                c(None, Some(json!(2)), Some(json!(3))),
                c(Some(json!(5)), Some(json!(0)), Some(json!(0))),
                c(Some(json!(1.5)), Some(json!(2)), Some(json!(2.25))),
            ])
            .unwrap();
        assert_eq!(
            out,
            vec![
                Decision::Value("12".into()),
                Decision::Value("5".into()),
                Decision::Value("-5".into()),
                Decision::Value("2.75".into()),
            ]
        );
    }

    #[test]
    fn min_clamps_from_below() {
        let h = Harness::new(CounterMerge).with_config(json!({"min": 0}));
        assert_eq!(
            h.resolve(vec![c(Some(json!(5)), Some(json!(0)), Some(json!(0)))])
                .unwrap(),
            vec![Decision::Value("0".into())]
        );
    }

    #[test]
    fn non_numbers_removals_and_overflow_are_errors() {
        let h = Harness::new(CounterMerge);
        for (conflict, needle) in [
            (
                c(Some(json!(1)), Some(json!("3")), Some(json!(2))),
                "shopify value \"3\" is not a number",
            ),
            (
                c(Some(json!(1)), Some(json!(3)), None),
                "netsuite removed the field",
            ),
            (
                c(Some(json!("x")), Some(json!(3)), Some(json!(2))),
                "base value \"x\" is not a number",
            ),
            (
                c(Some(json!(-1)), Some(json!(i64::MAX)), Some(json!(1))),
                "overflows",
            ),
        ] {
            let err = h.resolve(vec![conflict]).unwrap_err();
            assert!(
                matches!(&err, HarnessError::Plugin(PluginError::Other(m))
                    if m.starts_with("inventory-level SKU1@1 field quantity:") && m.contains(needle)),
                "{err}"
            );
        }
    }
}
