//! Stock resolver `system-of-record`: every field has an owning system, named in the store
//! config, and the owner's value wins a conflict on that field.
//!
//! Config (`[plugin.config]`):
//!
//! ```toml
//! [plugin.config.owners]
//! "price.price" = "netsuite"      # one field of one kind
//! "variant.title" = "shopify"
//! "customer.*" = "shopify"        # every field of a kind
//! "*.quantity" = "netsuite"       # one field name in every kind
//! "*" = "netsuite"                # everything else
//! ```
//!
//! The most specific rule wins: `kind.field`, then `kind.*`, then `*.field`, then `*`. Kinds
//! are spelled as in the WIT (`inventory-level`). A conflict no rule covers, or whose owner is
//! not a system of the store, fails the batch with a config error that names it.

use std::collections::BTreeMap;
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::resolve::{describe, side_of};

/// The resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemOfRecord;

/// Parsed ownership rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owners {
    rules: BTreeMap<(Option<EntityKind>, Option<String>), String>,
}

impl Owners {
    /// Parses the `owners` table; errors name the offending key.
    pub fn parse(table: BTreeMap<String, String>) -> Result<Owners, PluginError> {
        let mut rules = BTreeMap::new();
        for (pattern, owner) in table {
            let bad = |why: &str| {
                PluginError::Config(format!("config key `owners`: rule {pattern:?} {why}"))
            };
            if owner.is_empty() {
                return Err(bad("has an empty owner"));
            }
            let key = if pattern == "*" {
                (None, None)
            } else {
                let (kind, field) = pattern
                    .split_once('.')
                    .ok_or_else(|| bad("must be \"*\" or \"<kind>.<field>\" (either may be *)"))?;
                let kind = match kind {
                    "*" => None,
                    k => Some(EntityKind::parse(k).ok_or_else(|| {
                        bad("names an unknown kind (product, variant, inventory-level, price, customer, order)")
                    })?),
                };
                let field = match field {
                    "*" => None,
                    "" => return Err(bad("has an empty field name")),
                    f => Some(f.to_owned()),
                };
                (kind, field)
            };
            rules.insert(key, owner);
        }
        Ok(Owners { rules })
    }

    /// The owner of `field` of `kind`, by the most specific rule.
    pub fn owner(&self, kind: EntityKind, field: &str) -> Option<&str> {
        let field = Some(field.to_owned());
        [
            (Some(kind), field.clone()),
            (Some(kind), None),
            (None, field),
            (None, None),
        ]
        .iter()
        .find_map(|k| self.rules.get(k))
        .map(String::as_str)
    }
}

impl Resolver for SystemOfRecord {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "system-of-record",
            env!("CARGO_PKG_VERSION"),
            "Each field's owning system, from the store config, wins its conflicts.",
        )
    }

    fn resolve(
        &self,
        cx: &Context,
        changes: Vec<FieldChange>,
    ) -> Result<Vec<Decision>, PluginError> {
        let owners = Owners::parse(cx.require_config("owners")?)?;
        changes
            .iter()
            .map(|c| {
                let owner = owners.owner(c.kind, &c.field).ok_or_else(|| {
                    PluginError::Config(format!(
                        "{}: no owner in config key `owners` (add \"{}.{}\" or \"*\")",
                        describe(c),
                        c.kind,
                        c.field
                    ))
                })?;
                side_of(c, owner)
            })
            .collect()
    }
}

weft_plugin_sdk::export_resolver!(SystemOfRecord);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::serde_json::{Value, json};
    use weft_plugin_sdk::testing::{Harness, HarnessError, conflict};

    fn c(kind: EntityKind, field: &str) -> FieldChange {
        conflict(
            kind,
            "K",
            field,
            None,
            ("shopify", Some(json!(1)), "2026-11-26T10:00:05Z"),
            ("netsuite", Some(json!(2)), "2026-11-26T10:00:00Z"),
        )
    }

    fn harness(owners: Value) -> Harness<SystemOfRecord> {
        Harness::new(SystemOfRecord).with_config(json!({ "owners": owners }))
    }

    #[test]
    fn most_specific_rule_wins() {
        let h = harness(json!({
            "price.price": "netsuite",
            "variant.title": "shopify",
            "customer.*": "shopify",
            "*.quantity": "netsuite",
            "inventory-level.quantity": "shopify",
            "*": "netsuite",
        }));
        let out = h
            .resolve(vec![
                c(EntityKind::Price, "price"),
                c(EntityKind::Variant, "title"),
                c(EntityKind::Variant, "barcode"),
                c(EntityKind::Customer, "email"),
                c(EntityKind::Order, "quantity"),
                c(EntityKind::InventoryLevel, "quantity"),
            ])
            .unwrap();
        assert_eq!(
            out,
            vec![
                Decision::Take("netsuite".into()),
                Decision::Take("shopify".into()),
                Decision::Take("netsuite".into()),
                Decision::Take("shopify".into()),
                Decision::Take("netsuite".into()),
                Decision::Take("shopify".into()),
            ]
        );
    }

    #[test]
    fn owner_wins_even_when_older() {
        // netsuite's edit is older, but netsuite owns the field.
        let h = harness(json!({"*": "netsuite"}));
        assert_eq!(
            h.resolve(vec![c(EntityKind::Price, "price")]).unwrap(),
            vec![Decision::Take("netsuite".into())]
        );
    }

    #[test]
    fn uncovered_fields_and_foreign_owners_are_config_errors() {
        let h = harness(json!({"price.price": "netsuite"}));
        let err = h
            .resolve(vec![c(EntityKind::Variant, "title")])
            .unwrap_err();
        assert_eq!(
            err,
            HarnessError::Plugin(PluginError::Config(
                "variant K field title: no owner in config key `owners` (add \"variant.title\" or \"*\")"
                    .into()
            ))
        );
        let h = harness(json!({"*": "woocommerce"}));
        assert!(matches!(
            h.resolve(vec![c(EntityKind::Variant, "title")]),
            Err(HarnessError::Plugin(PluginError::Config(m))) if m.contains("is not a side")
        ));
    }

    #[test]
    fn malformed_rules_are_rejected_with_their_name() {
        for (owners, needle) in [
            (json!({"widget.x": "shopify"}), "unknown kind"),
            (json!({"variant": "shopify"}), "must be \"*\""),
            (json!({"variant.": "shopify"}), "empty field"),
            (json!({"*": ""}), "empty owner"),
        ] {
            let err = harness(owners.clone()).resolve(vec![]).unwrap_err();
            assert!(
                matches!(&err, HarnessError::Plugin(PluginError::Config(m)) if m.contains(needle)),
                "{owners}: {err}"
            );
        }
        let err = Harness::new(SystemOfRecord).resolve(vec![]).unwrap_err();
        assert_eq!(
            err,
            HarnessError::Plugin(PluginError::Config(
                "config key `owners`: is required but not set".into()
            ))
        );
    }
}
