//! Stock resolver `last-write-wins`: of the systems that changed a field, the one with the newest
//! source version (Shopify `updated_at`, NetSuite `lastModifiedDate`, compared as instants) wins.
//!
//! Config (`[plugin.config]`): `tie = "netsuite"` names the system that wins when the newest
//! versions are the same instant (default: the system that made the agreed value, so a tie
//! keeps what was agreed).

use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::resolve::last_write_wins;

/// The resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct LastWriteWins;

impl Resolver for LastWriteWins {
    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "last-write-wins",
            env!("CARGO_PKG_VERSION"),
            "The side with the newer source version wins; ties go to the configured system.",
        )
    }

    fn resolve(
        &self,
        cx: &Context,
        changes: Vec<FieldChange>,
    ) -> Result<Vec<Decision>, PluginError> {
        let tie: Option<String> = cx.config("tie")?;
        changes
            .iter()
            .map(|c| {
                let agreed_by = c
                    .changed()
                    .find(|s| s.system != c.incoming)
                    .map_or(c.incoming.as_str(), |s| s.system.as_str());
                last_write_wins(c, tie.as_deref().unwrap_or(agreed_by))
            })
            .collect()
    }
}

weft_plugin_sdk::export_resolver!(LastWriteWins);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::serde_json::json;
    use weft_plugin_sdk::testing::{Harness, HarnessError, conflict};

    const T1: &str = "2026-11-26T10:00:00Z";
    const T2: &str = "2026-11-26T10:00:00.001Z";

    fn c(lv: &str, rv: &str) -> FieldChange {
        conflict(
            EntityKind::Customer,
            "7001",
            "phone",
            Some(json!("+1")),
            ("shopify", Some(json!("+2")), lv),
            ("netsuite", None, rv),
        )
    }

    #[test]
    fn newer_wins_in_either_direction() {
        let h = Harness::new(LastWriteWins);
        assert_eq!(
            h.resolve(vec![c(T2, T1), c(T1, T2)]).unwrap(),
            vec![
                Decision::Take("shopify".into()),
                Decision::Take("netsuite".into())
            ]
        );
    }

    #[test]
    fn offsets_are_compared_as_instants() {
        let h = Harness::new(LastWriteWins);
        // 06:00-05:00 is 11:00Z, newer than 10:30Z even though it sorts first as text.
        assert_eq!(
            h.resolve(vec![c("2026-11-26T06:00:00-05:00", "2026-11-26T10:30:00Z")])
                .unwrap(),
            vec![Decision::Take("shopify".into())]
        );
    }

    #[test]
    fn ties_keep_the_agreed_value_unless_configured() {
        let h = Harness::new(LastWriteWins);
        assert_eq!(
            h.resolve(vec![c(T1, T1)]).unwrap(),
            vec![Decision::Take("netsuite".into())]
        );
        let h = Harness::new(LastWriteWins).with_config(json!({"tie": "shopify"}));
        assert_eq!(
            h.resolve(vec![c(T1, T1)]).unwrap(),
            vec![Decision::Take("shopify".into())]
        );
    }

    #[test]
    fn bad_config_and_bad_versions_fail_the_batch_and_foreign_ties_keep_the_change() {
        // A tie system that is not one of the tied sides (a third system of the store): the
        // incoming change is kept.
        let h = Harness::new(LastWriteWins).with_config(json!({"tie": "sheets"}));
        assert_eq!(
            h.resolve(vec![c(T1, T1)]).unwrap(),
            vec![Decision::Take("shopify".into())]
        );
        let h = Harness::new(LastWriteWins).with_config(json!({"tie": 3}));
        assert!(matches!(
            h.resolve(vec![]),
            Err(HarnessError::Plugin(PluginError::Config(m))) if m.starts_with("config key `tie`")
        ));
        let h = Harness::new(LastWriteWins);
        assert!(matches!(
            h.resolve(vec![c("never", T1)]),
            Err(HarnessError::Plugin(PluginError::Other(_)))
        ));
    }

    #[test]
    fn info_names_the_plugin() {
        assert_eq!(
            Harness::new(LastWriteWins).resolver_info().name,
            "last-write-wins"
        );
    }
}
