//! Building blocks for resolvers: comparing the sides of a field.

use crate::time::compare_versions;
use crate::types::{Decision, FieldChange, PluginError};
use std::cmp::Ordering;

/// Names a field in messages: `variant ABC-1 field title`.
pub fn describe(c: &FieldChange) -> String {
    format!("{} {} field {}", c.kind, c.key, c.field)
}

/// The changed side whose source version is newest; on a tie, the side of `tie_system` if it is
/// one of the tied sides, else the incoming one.
///
/// Errors: a changed side's version that is not RFC 3339.
pub fn last_write_wins(c: &FieldChange, tie_system: &str) -> Result<Decision, PluginError> {
    let mut best: Option<&crate::types::Side> = None;
    let mut tied: Vec<&str> = Vec::new();
    for side in c.changed() {
        let Some(b) = best else {
            best = Some(side);
            tied = vec![side.system.as_str()];
            continue;
        };
        let order = compare_versions(&side.version, &b.version).ok_or_else(|| {
            PluginError::Other(format!(
                "{}: versions must be RFC 3339, got {:?} ({}) and {:?} ({})",
                describe(c),
                side.version,
                side.system,
                b.version,
                b.system
            ))
        })?;
        match order {
            Ordering::Greater => {
                best = Some(side);
                tied = vec![side.system.as_str()];
            }
            Ordering::Equal => tied.push(side.system.as_str()),
            Ordering::Less => {}
        }
    }
    let Some(best) = best else {
        return Ok(Decision::Take(c.incoming.clone()));
    };
    if tied.len() > 1 {
        let winner = if tied.contains(&tie_system) {
            tie_system
        } else if tied.contains(&c.incoming.as_str()) {
            c.incoming.as_str()
        } else {
            tied[0]
        };
        return Ok(Decision::Take(winner.to_owned()));
    }
    Ok(Decision::Take(best.system.clone()))
}

/// The decision that keeps the value of system `system`.
///
/// Errors: `system` is not a side of the field.
pub fn side_of(c: &FieldChange, system: &str) -> Result<Decision, PluginError> {
    if c.side(system).is_some() {
        Ok(Decision::Take(system.to_owned()))
    } else {
        Err(PluginError::Config(format!(
            "{}: system {system:?} is not a side ({})",
            describe(c),
            c.sides
                .iter()
                .map(|s| s.system.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::conflict;
    use crate::types::EntityKind;
    use serde_json::json;

    fn c(lv: &str, rv: &str) -> FieldChange {
        conflict(
            EntityKind::Variant,
            "SKU1",
            "title",
            Some(json!("a")),
            ("shopify", Some(json!("b")), lv),
            ("netsuite", Some(json!("c")), rv),
        )
    }

    #[test]
    fn newer_side_wins_and_ties_go_to_the_named_system() {
        let t1 = "2026-11-26T10:00:00Z";
        let t2 = "2026-11-26T10:00:01Z";
        let take = |s: &str| Ok(Decision::Take(s.into()));
        assert_eq!(last_write_wins(&c(t2, t1), "netsuite"), take("shopify"));
        assert_eq!(last_write_wins(&c(t1, t2), "shopify"), take("netsuite"));
        assert_eq!(last_write_wins(&c(t1, t1), "netsuite"), take("netsuite"));
        assert_eq!(last_write_wins(&c(t1, t1), "shopify"), take("shopify"));
        // A tie system that is not a side: the incoming side keeps its change.
        assert_eq!(last_write_wins(&c(t1, t1), "sheets"), take("shopify"));
        let err = last_write_wins(&c("soon", t1), "netsuite").unwrap_err();
        assert!(err.to_string().contains("must be RFC 3339"), "{err}");
        assert_eq!(
            side_of(&c(t1, t1), "sheets").unwrap_err(),
            PluginError::Config(
                "variant SKU1 field title: system \"sheets\" is not a side (shopify, netsuite)"
                    .into()
            )
        );
    }

    #[test]
    fn unchanged_sides_never_win_by_version() {
        let mut x = c("2026-11-26T10:00:00Z", "2026-11-26T10:00:01Z");
        x.sides.push(crate::types::Side {
            system: "shop-eu".into(),
            value: Some("\"old\"".into()),
            version: "2026-12-01T00:00:00Z".into(),
            changed: false,
        });
        assert_eq!(
            last_write_wins(&x, "shopify"),
            Ok(Decision::Take("netsuite".into()))
        );
    }
}
