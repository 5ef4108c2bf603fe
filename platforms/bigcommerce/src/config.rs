//! A BigCommerce store's config section: `[systems.<name>]` with `platform = "bigcommerce"`.
//!
//! ```toml
//! [systems.bigcommerce]
//! platform = "bigcommerce"
//! store_hash = "abc123"
//! access_token = { env = "ACME_BC_ACCESS_TOKEN" }
//! webhook_secrets = [{ env = "ACME_BC_WEBHOOK_SECRET" }]
//! plan = "plus"            # standard | plus | pro | enterprise (then `quota`)
//! # quota = 900            # requests per 30 s window, for enterprise plans
//! # base_url = "https://api.bigcommerce.com"
//! ```
//!
//! The webhook secret is sent by BigCommerce as the custom header weft registers its hooks
//! with (`X-Weft-Webhook-Secret`): BigCommerce signs nothing, so that header is the only proof
//! a callback comes from the store. The plan's quota is only assumed when answers carry no
//! rate-limit headers (a proxy stripped them): the limiter learns the real quota, the window
//! and the other apps' share from every answer's headers.

use std::any::Any;
use std::sync::Arc;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;

/// The `[systems.bigcommerce]` section of the starter store `weft init --storefront
/// bigcommerce` writes.
pub const STARTER_SECTION: &str = r#"[systems.bigcommerce]
platform = "bigcommerce"
# The letters and digits after /stores/ in the store's API path. One system per store.
store_hash = "abc123"
# The API host; point it at `weft sandbox` to develop offline.
# base_url = "http://127.0.0.1:9004"
# An API account's access token (Settings > API > Store-level API accounts), sent as
# X-Auth-Token. Scopes: products, customers, orders (read), information & settings (read).
access_token = { env = "ACME_BC_ACCESS_TOKEN" }
# BigCommerce signs no webhook: weft registers its hooks (with [server] public_url set) with
# this value as a custom header, the only proof a callback comes from the store. The current
# one first, then previous ones still accepted during a rotation.
webhook_secrets = [{ env = "ACME_BC_WEBHOOK_SECRET" }]
# The store's plan: its request quota per 30 s, shared with every other app on the store
# (standard and plus 150, pro 450; enterprise: set `quota`). Only assumed when answers carry no
# rate-limit headers: weft learns the quota and the other apps' share from every answer.
plan = "standard"
# quota = 900

"#;

/// The environment variables [`STARTER_SECTION`] names.
pub const STARTER_ENV_VARS: [&str; 2] = ["ACME_BC_ACCESS_TOKEN", "ACME_BC_WEBHOOK_SECRET"];

/// The API host when a system does not name one.
pub const DEFAULT_BASE_URL: &str = "https://api.bigcommerce.com";

const KEYS: [&str; 6] = [
    "store_hash",
    "base_url",
    "access_token",
    "webhook_secrets",
    "plan",
    "quota",
];

/// What a BigCommerce system's section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigCommerceSettings {
    /// The store hash (`stores/{hash}`).
    pub store_hash: String,
    /// API base URL (default `https://api.bigcommerce.com`); the simulator's for tests.
    pub base_url: Url,
    /// The API account's access token (`X-Auth-Token`).
    pub access_token: Secret,
    /// Webhook secrets (the custom header's value): the current one first, then previous ones
    /// still accepted during a rotation.
    pub webhook_secrets: Vec<Secret>,
    /// Requests per 30 s window of the store's plan.
    pub quota: u32,
}

impl SystemSettings for BigCommerceSettings {
    fn secrets(&self) -> Vec<&Secret> {
        let mut out = vec![&self.access_token];
        out.extend(self.webhook_secrets.iter());
        out
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn SystemSettings) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }
}

/// Reads BigCommerce sections.
#[derive(Debug, Clone, Copy, Default)]
pub struct BigCommerceSection;

/// The quota per 30 s of a plan name (`None`: not a plan, or enterprise without a figure).
pub fn plan_quota(plan: &str) -> Option<u32> {
    match plan {
        "standard" | "plus" => Some(150),
        "pro" => Some(450),
        _ => None,
    }
}

impl PlatformSection for BigCommerceSection {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn read(&self, s: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>> {
        s.keys(&KEYS);
        let name = s.name();
        let store_hash = s
            .string_req("store_hash", "store_hash = \"abc123\"")
            .and_then(|(hash, span)| {
                if !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric()) {
                    s.claim_unique(
                        "store hash",
                        &hash,
                        &span,
                        "one system per BigCommerce store: two would sync the same data twice and split its quota",
                    );
                    Some(hash)
                } else {
                    s.error(
                        &span,
                        format!("invalid store hash `{hash}` in {name}"),
                        "the letters and digits after `/stores/` in the store's API path, e.g. `abc123`",
                    );
                    None
                }
            });
        let base_url_given = s.has("base_url");
        let base_url = s.url("base_url", "base_url = \"https://api.bigcommerce.com\"");
        let access_token = s.secret_req("access_token", "BIGCOMMERCE_ACCESS_TOKEN");
        let webhook_secrets = s.secret_list_req("webhook_secrets", "BIGCOMMERCE_WEBHOOK_SECRET");
        let quota_given = s.integer("quota", 1, 1_000_000, "quota = 900");
        let quota = match s.string("plan", "plan = \"plus\"") {
            Some((plan, span)) => match (plan_quota(&plan), plan.as_str(), &quota_given) {
                (Some(q), _, None) => Some(q),
                (Some(_), _, Some((_, qspan))) => {
                    s.error(
                        qspan,
                        format!("`quota` in {name} is set by the plan `{plan}`"),
                        "remove `quota`, or set `plan = \"enterprise\"` with your contract's quota",
                    );
                    None
                }
                (None, "enterprise", Some((q, _))) => Some(*q as u32),
                (None, "enterprise", None) => {
                    s.error(
                        &span,
                        format!("plan `enterprise` in {name} needs a `quota`"),
                        "the requests per 30 s window of your contract, e.g. `quota = 900`",
                    );
                    None
                }
                (None, _, _) => {
                    s.error(
                        &span,
                        format!("unknown BigCommerce plan `{plan}` in {name}"),
                        "one of `standard`, `plus`, `pro`, `enterprise`",
                    );
                    None
                }
            },
            None => Some(quota_given.map_or(150, |(q, _)| q as u32)),
        };
        let (store_hash, access_token, webhook_secrets, quota) =
            (store_hash?, access_token?, webhook_secrets?, quota?);
        let base_url = match base_url {
            Some(u) => u,
            None if !base_url_given => Url::parse(DEFAULT_BASE_URL).ok()?,
            None => return None,
        };
        Some(Arc::new(BigCommerceSettings {
            store_hash,
            base_url,
            access_token,
            webhook_secrets,
            quota,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_have_their_quotas() {
        assert_eq!(plan_quota("standard"), Some(150));
        assert_eq!(plan_quota("plus"), Some(150));
        assert_eq!(plan_quota("pro"), Some(450));
        assert_eq!(plan_quota("enterprise"), None);
        assert_eq!(plan_quota("gold"), None);
    }
}
