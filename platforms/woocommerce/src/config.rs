//! A WooCommerce site's config section: `[systems.<name>]` with `platform = "woocommerce"`.
//!
//! ```toml
//! [systems.woocommerce]
//! platform = "woocommerce"
//! site_url = "https://shop.example.com"
//! consumer_key = { env = "ACME_WC_CONSUMER_KEY" }
//! consumer_secret = { env = "ACME_WC_CONSUMER_SECRET" }
//! # webhook_secrets = [{ env = "ACME_WC_WEBHOOK_SECRET" }]  # default: the consumer secret
//! # base_url = "https://shop.example.com"   # where the REST API is reached, default site_url
//! # per_page = 100                          # list page size, 1..=100
//! # concurrency = 4                         # requests in flight at once
//! # requests_per_second = 10                # steady request rate
//! ```
//!
//! WooCommerce documents no rate limit; a typical WordPress host serves a few PHP workers, so
//! the defaults keep 4 requests in flight and 10 per second, and the client backs off on 429
//! and 503 with `Retry-After`.

use std::any::Any;
use std::sync::Arc;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;

/// A WooCommerce system's section as `weft init --storefront woocommerce` writes it.
pub const STARTER_SECTION: &str = r#"[systems.woocommerce]
platform = "woocommerce"
# The site's home URL (WooCommerce names it in every webhook delivery). One system per site.
site_url = "https://shop.example.com"
# Where the REST API (/wp-json/wc/v3) answers, if not at site_url; point it at `weft sandbox`
# to develop offline (plain http uses OAuth 1.0a, https uses HTTP Basic).
# base_url = "http://127.0.0.1:9003"
# A read/write REST API key (WooCommerce > Settings > Advanced > REST API).
consumer_key = { env = "ACME_WC_CONSUMER_KEY" }
consumer_secret = { env = "ACME_WC_CONSUMER_SECRET" }
# Webhook secrets, the current one first; by default the consumer secret, which is what
# WooCommerce signs a webhook with when none is given.
# webhook_secrets = [{ env = "ACME_WC_WEBHOOK_SECRET" }]
# WooCommerce documents no rate limit; these keep within what a typical host serves.
# per_page = 100
# concurrency = 4
# requests_per_second = 10

"#;

/// The environment variables [`STARTER_SECTION`] names.
pub const STARTER_ENV_VARS: [&str; 2] = ["ACME_WC_CONSUMER_KEY", "ACME_WC_CONSUMER_SECRET"];

/// The default list page size (WordPress's maximum).
pub const DEFAULT_PER_PAGE: u32 = 100;
/// The default number of requests in flight.
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// The default steady request rate.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 10;

const KEYS: [&str; 8] = [
    "site_url",
    "base_url",
    "consumer_key",
    "consumer_secret",
    "webhook_secrets",
    "per_page",
    "concurrency",
    "requests_per_second",
];

/// What a WooCommerce system's section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WooCommerceSettings {
    /// The site's home URL (`X-WC-Webhook-Source` of its deliveries, less the final `/`).
    pub site_url: Url,
    /// Where the REST API is reached (default: `site_url`).
    pub base_url: Url,
    /// REST API consumer key (`ck_…`).
    pub consumer_key: Secret,
    /// REST API consumer secret (`cs_…`).
    pub consumer_secret: Secret,
    /// Webhook secrets: the current one first, then previous ones still accepted during a
    /// rotation. Empty: the consumer secret (WooCommerce's default webhook secret).
    pub webhook_secrets: Vec<Secret>,
    /// List page size.
    pub per_page: u32,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Steady request rate.
    pub requests_per_second: u32,
}

impl SystemSettings for WooCommerceSettings {
    fn secrets(&self) -> Vec<&Secret> {
        let mut out = vec![&self.consumer_key, &self.consumer_secret];
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

/// Reads WooCommerce sections.
#[derive(Debug, Clone, Copy, Default)]
pub struct WooCommerceSection;

/// The site URL as weft compares it: no trailing `/`.
pub fn site_key(url: &str) -> String {
    url.trim_end_matches('/').to_ascii_lowercase()
}

impl PlatformSection for WooCommerceSection {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn read(&self, s: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>> {
        s.keys(&KEYS);
        let site_span = s.span_of("site_url");
        let site_url = s.url("site_url", "site_url = \"https://shop.example.com\"");
        if site_span.is_none() {
            // `url` is optional; the site is not.
            s.string_req("site_url", "site_url = \"https://shop.example.com\"");
        }
        if let (Some(u), Some(span)) = (&site_url, &site_span) {
            s.claim_unique(
                "site_url",
                &site_key(u.as_str()),
                span,
                "one system per WooCommerce site: two would sync the same data twice",
            );
        }
        let base_given = s.has("base_url");
        let base_url = s.url("base_url", "base_url = \"https://shop.example.com\"");
        let consumer_key = s.secret_req("consumer_key", "WC_CONSUMER_KEY");
        let consumer_secret = s.secret_req("consumer_secret", "WC_CONSUMER_SECRET");
        let webhook_secrets = if s.has("webhook_secrets") {
            s.secret_list_req("webhook_secrets", "WC_WEBHOOK_SECRET")
        } else {
            Some(Vec::new())
        };
        let mut int = |key: &str, min: u64, max: u64, default: u32, example: &str| {
            if s.has(key) {
                s.integer(key, min, max, example).map(|(v, _)| v as u32)
            } else {
                Some(default)
            }
        };
        let per_page = int("per_page", 1, 100, DEFAULT_PER_PAGE, "per_page = 100");
        let concurrency = int("concurrency", 1, 64, DEFAULT_CONCURRENCY, "concurrency = 4");
        let requests_per_second = int(
            "requests_per_second",
            1,
            1000,
            DEFAULT_REQUESTS_PER_SECOND,
            "requests_per_second = 10",
        );
        let site_url = site_url?;
        let base_url = match base_url {
            Some(u) => u,
            None if !base_given => site_url.clone(),
            None => return None,
        };
        Some(Arc::new(WooCommerceSettings {
            site_url,
            base_url,
            consumer_key: consumer_key?,
            consumer_secret: consumer_secret?,
            webhook_secrets: webhook_secrets?,
            per_page: per_page?,
            concurrency: concurrency?,
            requests_per_second: requests_per_second?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_keys_ignore_the_trailing_slash_and_case() {
        assert_eq!(
            site_key("https://Shop.example.com/"),
            "https://shop.example.com"
        );
    }
}
