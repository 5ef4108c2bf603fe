//! A Magento store's config section: `[systems.<name>]` with `platform = "magento"`.
//!
//! ```toml
//! [systems.magento]
//! platform = "magento"
//! base_url = "https://shop.example.com"
//! store_code = "default"          # the store view in /rest/<store_code>/
//! access_token = { env = "ACME_MAGENTO_TOKEN" }
//! # bulk_poll_secs = 5            # how often an accepted bulk's status is asked for
//! # bulk_timeout_secs = 1800      # an operation open this long: its status never arrives
//! ```
//!
//! The access token is an integration's access token, used as a Bearer token: the store must
//! allow that (Stores › Configuration › Services › OAuth › Consumer Settings › Allow OAuth
//! Access Tokens to be used as standalone Bearer tokens; off by default since 2.4.4).
//! The bulk API needs the `async.operations.all` consumer running (cron or supervisor).

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;
use crate::write::BulkSettings;

/// The `[systems.magento]` section `weft init --storefront magento` writes.
pub const STARTER_SECTION: &str = r#"[systems.magento]
platform = "magento"
# The shop's base URL: the REST API answers under <base_url>/rest/<store_code>/. One system per
# store view; point it at `weft sandbox` to develop offline.
base_url = "https://shop.example.com"
# store_code = "default"
# An integration's access token (System > Extensions > Integrations), used as a Bearer token:
# allow that under Stores > Configuration > Services > OAuth > Consumer Settings.
access_token = { env = "ACME_MAGENTO_TOKEN" }
# Catalog and stock are written through the asynchronous bulk API (the async.operations.all
# consumer must run); how often a bulk's status is asked for, and how long an operation may
# stay open before weft stops waiting for it.
# bulk_poll_secs = 5
# bulk_timeout_secs = 1800

"#;

/// The environment variables [`STARTER_SECTION`] names.
pub const STARTER_ENV_VARS: [&str; 1] = ["ACME_MAGENTO_TOKEN"];

const KEYS: [&str; 5] = [
    "base_url",
    "store_code",
    "access_token",
    "bulk_poll_secs",
    "bulk_timeout_secs",
];

/// What a Magento system's section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagentoSettings {
    /// The shop's base URL (the REST API is under `{base_url}/rest/`).
    pub base_url: Url,
    /// The store view code.
    pub store_code: String,
    /// The integration's access token.
    pub access_token: Secret,
    /// How often an accepted bulk's status is asked for.
    pub bulk_poll: Duration,
    /// How long an operation may stay open before its status counts as never arriving.
    pub bulk_timeout: Duration,
}

impl MagentoSettings {
    /// The bulk settings.
    pub fn bulk(&self) -> BulkSettings {
        BulkSettings {
            poll: self.bulk_poll,
            timeout: self.bulk_timeout,
        }
    }
}

impl SystemSettings for MagentoSettings {
    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.access_token]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn SystemSettings) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }
}

/// Reads Magento sections.
#[derive(Debug, Clone, Copy, Default)]
pub struct MagentoSection;

impl PlatformSection for MagentoSection {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn read(&self, s: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>> {
        s.keys(&KEYS);
        let name = s.name();
        let example = "base_url = \"https://shop.example.com\"";
        let base_url = if s.has("base_url") {
            s.url("base_url", example)
        } else {
            // Reports it missing.
            let _ = s.string_req("base_url", example);
            None
        };
        let store_code = match s.string("store_code", "store_code = \"default\"") {
            Some((code, span)) => {
                if !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    Some(code)
                } else {
                    s.error(
                        &span,
                        format!("invalid store code `{code}` in {name}"),
                        "a store view code: lowercase letters, digits and `_`, e.g. `default`",
                    );
                    None
                }
            }
            None => Some("default".to_owned()),
        };
        let access_token = s.secret_req("access_token", "MAGENTO_ACCESS_TOKEN");
        let poll = s
            .integer("bulk_poll_secs", 1, 3600, "bulk_poll_secs = 5")
            .map_or(5, |(n, _)| n);
        let timeout = s
            .integer(
                "bulk_timeout_secs",
                60,
                7 * 24 * 3600,
                "bulk_timeout_secs = 1800",
            )
            .map_or(1800, |(n, _)| n);
        let (base_url, store_code, access_token) = (base_url?, store_code?, access_token?);
        if let Some(span) = s.span_of("base_url") {
            s.claim_unique(
                "Magento store",
                &format!(
                    "{}/rest/{store_code}",
                    base_url.as_str().trim_end_matches('/')
                ),
                &span,
                "one system per Magento store view: two would sync the same data twice",
            );
        }
        Some(Arc::new(MagentoSettings {
            base_url,
            store_code,
            access_token,
            bulk_poll: Duration::from_secs(poll),
            bulk_timeout: Duration::from_secs(timeout),
        }))
    }
}
