//! Building blocks for resolvers: comparing the two sides of a conflict.

use crate::time::compare_versions;
use crate::types::{Decision, FieldConflict, PluginError};
use std::cmp::Ordering;

/// Names a conflict in messages: `variant ABC-1 field title`.
pub fn describe(c: &FieldConflict) -> String {
    format!("{} {} field {}", c.kind, c.key, c.field)
}

/// The side whose source version is newer; on a tie the side whose system is `tie_system`.
///
/// Errors: a version that is not RFC 3339, or a tie where `tie_system` is neither side.
pub fn last_write_wins(c: &FieldConflict, tie_system: &str) -> Result<Decision, PluginError> {
    let order = compare_versions(&c.left.version, &c.right.version).ok_or_else(|| {
        PluginError::Other(format!(
            "{}: versions must be RFC 3339, got left {:?} and right {:?}",
            describe(c),
            c.left.version,
            c.right.version
        ))
    })?;
    match order {
        Ordering::Greater => Ok(Decision::TakeLeft),
        Ordering::Less => Ok(Decision::TakeRight),
        Ordering::Equal => side_of(c, tie_system),
    }
}

/// The decision that keeps the value of system `system`.
///
/// Errors: `system` is neither side of the conflict.
pub fn side_of(c: &FieldConflict, system: &str) -> Result<Decision, PluginError> {
    if system == c.left.system {
        Ok(Decision::TakeLeft)
    } else if system == c.right.system {
        Ok(Decision::TakeRight)
    } else {
        Err(PluginError::Config(format!(
            "{}: system {system:?} is neither side ({} or {})",
            describe(c),
            c.left.system,
            c.right.system
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::conflict;
    use crate::types::EntityKind;
    use serde_json::json;

    fn c(lv: &str, rv: &str) -> FieldConflict {
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
        assert_eq!(
            last_write_wins(&c(t2, t1), "netsuite"),
            Ok(Decision::TakeLeft)
        );
        assert_eq!(
            last_write_wins(&c(t1, t2), "shopify"),
            Ok(Decision::TakeRight)
        );
        assert_eq!(
            last_write_wins(&c(t1, t1), "netsuite"),
            Ok(Decision::TakeRight)
        );
        assert_eq!(
            last_write_wins(&c(t1, t1), "shopify"),
            Ok(Decision::TakeLeft)
        );
        let err = last_write_wins(&c(t1, t1), "sheets").unwrap_err();
        assert_eq!(
            err,
            PluginError::Config(
                "variant SKU1 field title: system \"sheets\" is neither side (shopify or netsuite)"
                    .into()
            )
        );
        let err = last_write_wins(&c("soon", t1), "netsuite").unwrap_err();
        assert!(err.to_string().contains("must be RFC 3339"), "{err}");
    }
}
