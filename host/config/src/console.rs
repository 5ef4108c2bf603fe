//! `[console]` of the host file: the operator's web console `weft run` serves under
//! `/console` on its listener. Owned here so the rest of the loader only hands it the table.
//!
//! ```toml
//! [console]
//! token = { env = "WEFT_CONSOLE_TOKEN" }   # a secret reference, never inline
//! lineage_retention = "90d"                 # optional: purge older lineage rows
//! ```
//!
//! Without a token the console is off (`/console` answers 404 saying how to turn it on).
//! `lineage_retention` (at least a day) lets `weft run` purge lineage rows (the history `weft
//! explain` and the record page read) older than that, except the newest of each field of each
//! record, which still explains its value; without it they are kept (`weft lineage purge`
//! purges on request).

use crate::load::{Cx, Tbl};
use crate::secret::Secret;

const CONSOLE_KEYS: [&str; 2] = ["token", "lineage_retention"];

/// `[console]`: the web console's access token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// The token an operator gives to open the console (a secret reference); `None`: the
    /// console is off.
    pub token: Option<Secret>,
    /// How long lineage rows are kept (`None`: as long as the database).
    pub lineage_retention: Option<std::time::Duration>,
}

/// Reads `[console]` from the host file's root table.
pub(crate) fn read(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> ConsoleConfig {
    let mut console = ConsoleConfig::default();
    if let Some(t) = cx.sub_table(root, "console", "console") {
        cx.check_keys(&t, &CONSOLE_KEYS);
        if let Some(v) = t.get("token") {
            console.token = cx.secret_value(&t, "token", v, "console.token");
        }
        if t.get("lineage_retention").is_some() {
            console.lineage_retention = cx.duration(
                &t,
                "lineage_retention",
                std::time::Duration::from_secs(86_400),
            );
        }
    }
    console
}

#[cfg(test)]
mod tests {
    use crate::load;

    fn host(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stores")).unwrap();
        let path = dir.path().join("weft.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_token_is_a_reference_and_nothing_else_is_accepted() {
        let (_d, path) = host("[console]\ntoken = { env = \"WEFT_CONSOLE_TOKEN\" }\n");
        let config = load(&path, &[]).unwrap();
        assert!(config.console.token.is_some());
        assert!(
            config.secrets().len() == 1,
            "the token is checked with the other secrets"
        );

        let (_d, path) = host("");
        assert!(load(&path, &[]).unwrap().console.token.is_none());

        let (_d, path) = host("[console]\ntoken = \"s3cret-written-inline\"\ntokn = 1\n");
        let err = load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("secret written inline"), "{err}");
        assert!(
            !err.contains("s3cret-written-inline"),
            "the value is not echoed: {err}"
        );
        assert!(err.contains("tokn"), "unknown keys are reported: {err}");
    }

    #[test]
    fn lineage_retention_is_a_duration_of_at_least_a_day() {
        let (_d, path) = host("[console]\nlineage_retention = \"90d\"\n");
        let config = load(&path, &[]).unwrap();
        assert_eq!(
            config.console.lineage_retention,
            Some(std::time::Duration::from_secs(90 * 86_400))
        );
        assert!(
            config.console.token.is_none(),
            "retention alone keeps the console off"
        );
        let (_d, path) = host("");
        assert_eq!(load(&path, &[]).unwrap().console.lineage_retention, None);
        let (_d, path) = host("[console]\nlineage_retention = \"2h\"\n");
        let err = load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("at least 1d"), "{err}");
        let (_d, path) = host("[console]\nlineage_retention = \"forever\"\n");
        assert!(load(&path, &[]).is_err());
    }
}
