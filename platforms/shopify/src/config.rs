//! A Shopify shop's config section: `[systems.<name>]` with `platform = "shopify"` (or, as
//! before systems were named, a store file's `[shopify]` table).
//!
//! ```toml
//! [systems.shopify]
//! platform = "shopify"
//! shop = "acme.myshopify.com"
//! access_token = { env = "ACME_SHOPIFY_ACCESS_TOKEN" }
//! webhook_secrets = [{ env = "ACME_SHOPIFY_WEBHOOK_SECRET" }]
//! # api_version = "2025-10"
//! # base_url = "https://acme.myshopify.com"
//! # currencies = ["EUR"]   # other currencies sold, each through its price list's fixed prices
//! # collections = true     # product reads carry the product's custom collections
//! # bulk_above_variants = 2000  # first sync and full resyncs through bulk operations from here
//! # bulk_backfill = false       # never: always page
//! # bulk_max_wait = "6h"        # an operation running longer is given up for paging
//! ```

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;

/// The Admin API version used when a system does not name one.
pub const DEFAULT_API_VERSION: &str = "2025-10";

const KEYS: [&str; 11] = [
    "bulk_above_variants",
    "bulk_backfill",
    "bulk_max_wait",
    "collections",
    "currencies",
    "shop",
    "base_url",
    "api_version",
    "access_token",
    "webhook_secrets",
    "location_ids",
];

/// What a Shopify system's section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifySettings {
    /// The shop's domain, e.g. `acme.myshopify.com`.
    pub shop: String,
    /// API base URL (default `https://{shop}`); point it at the simulator for tests.
    pub base_url: Url,
    /// Admin API version, e.g. `2025-10`.
    pub api_version: String,
    /// Admin API access token.
    pub access_token: Secret,
    /// Webhook signing secrets: the current one first, then previous ones still accepted during
    /// a rotation.
    pub webhook_secrets: Vec<Secret>,
    /// Currencies besides the shop's own whose prices weft syncs (ISO 4217 codes, e.g. `EUR`):
    /// each is the fixed prices of the shop's one price list in that currency (a market's).
    pub currencies: Vec<String>,
    /// Whether product reads carry the product's custom collections (the mapper's
    /// `collections_field` syncs them).
    pub collections: bool,
    /// How the catalog is read in full (`bulk_above_variants`, `bulk_backfill`,
    /// `bulk_max_wait`; the rest keeps its defaults).
    pub backfill: crate::Backfill,
}

/// The longest a bulk operation may be waited for: Shopify cancels one after ten days.
const BULK_MAX_WAIT_LIMIT: Duration = Duration::from_secs(10 * 24 * 3600);

impl SystemSettings for ShopifySettings {
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

/// Reads Shopify sections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShopifySection;

fn valid_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn valid_api_version(s: &str) -> bool {
    if s == "unstable" {
        return true;
    }
    let Some((year, month)) = s.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.chars().all(|c| c.is_ascii_digit())
        && year >= "2019"
        && matches!(month, "01" | "04" | "07" | "10")
}

impl PlatformSection for ShopifySection {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn read(&self, s: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>> {
        s.keys(&KEYS);
        let name = s.name();
        let shop = s
            .string_req("shop", "shop = \"acme.myshopify.com\"")
            .and_then(|(shop, span)| {
                if valid_hostname(&shop) {
                    s.claim_unique(
                        "shop",
                        &shop,
                        &span,
                        "one system per shop: two would sync the same data twice",
                    );
                    Some(shop)
                } else {
                    s.error(
                        &span,
                        format!("invalid shop domain `{shop}` in {name}"),
                        "the shop's full domain, e.g. `acme.myshopify.com`",
                    );
                    None
                }
            });
        let base_url_given = s.has("base_url");
        let base_url = s.url("base_url", "base_url = \"https://acme.myshopify.com\"");
        let api_version = match s.string("api_version", "api_version = \"2025-10\"") {
            Some((v, span)) if !valid_api_version(&v) => {
                s.error(
                    &span,
                    format!("invalid Shopify API version `{v}` in {name}"),
                    format!(
                        "Shopify releases quarterly: `YYYY-01`, `YYYY-04`, `YYYY-07` or `YYYY-10` (e.g. `{DEFAULT_API_VERSION}`), or `unstable`"
                    ),
                );
                None
            }
            Some((v, _)) => Some(v),
            None => (!s.has("api_version")).then(|| DEFAULT_API_VERSION.to_owned()),
        };
        let access_token = s.secret_req("access_token", "SHOPIFY_ACCESS_TOKEN");
        let webhook_secrets = s.secret_list_req("webhook_secrets", "SHOPIFY_WEBHOOK_SECRET");
        // Which locations sync is the mapper's `locations` table; a list here was accepted and
        // ignored, so a non-empty one is refused rather than silently not applied.
        if let Some(span) = s.span_of("location_ids")
            && s.array_len("location_ids") != Some(0)
        {
            s.error(
                &span,
                format!("`location_ids` in {name} is not supported: the store's mapper decides which locations sync"),
                "map each Shopify location to an ERP location in [plugins.config.locations], e.g. `\"72471003\" = \"1\"`; levels at unmapped locations are skipped",
            );
            return None;
        }
        let mut currencies: Vec<String> = Vec::new();
        let listed = s.string_list("currencies", "currencies = [\"EUR\"]");
        // A value that is not a list of strings is reported by `string_list`.
        let mut currencies_ok = listed.is_some() || !s.has("currencies");
        for (code, span) in listed.unwrap_or_default() {
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                s.error(
                    &span,
                    format!("`{code}` in {name}.currencies is not an ISO 4217 currency code"),
                    "three capital letters, e.g. `EUR`, the currency of one of the shop's price lists",
                );
                currencies_ok = false;
            } else if currencies.contains(&code) {
                s.error(
                    &span,
                    format!("`{code}` is listed twice in {name}.currencies"),
                    "list each currency once",
                );
                currencies_ok = false;
            } else {
                currencies.push(code);
            }
        }
        let collections = s.boolean("collections", "collections = true");
        let collections_ok = collections.is_some() || !s.has("collections");
        let backfill = read_backfill(s);
        let (shop, api_version, access_token, webhook_secrets) =
            (shop?, api_version?, access_token?, webhook_secrets?);
        if !currencies_ok || !collections_ok {
            return None;
        }
        let backfill = backfill?;
        let base_url = match base_url {
            Some(u) => u,
            None if !base_url_given => Url::parse(&format!("https://{shop}")).ok()?,
            None => return None,
        };
        Some(Arc::new(ShopifySettings {
            shop,
            base_url,
            api_version,
            access_token,
            webhook_secrets,
            currencies,
            collections: collections.unwrap_or(false),
            backfill,
        }))
    }
}

/// The section's backfill keys over the defaults; `None` after reporting a bad one.
fn read_backfill(s: &mut Section<'_, '_, '_, '_>) -> Option<crate::Backfill> {
    let name = s.name();
    let mut backfill = crate::Backfill::default();
    let mut ok = true;
    let above = s.integer(
        "bulk_above_variants",
        0,
        u64::from(u32::MAX),
        "bulk_above_variants = 2000",
    );
    ok &= above.is_some() || !s.has("bulk_above_variants");
    let bulk = s.boolean("bulk_backfill", "bulk_backfill = false");
    ok &= bulk.is_some() || !s.has("bulk_backfill");
    if let Some((n, _)) = above {
        backfill.bulk_above_variants = n;
    }
    if bulk == Some(false) {
        if let Some((_, span)) = above {
            s.error(
                &span,
                format!(
                    "`bulk_above_variants` in {name} has no effect with `bulk_backfill = false`"
                ),
                "remove one: `bulk_backfill = false` always pages",
            );
            ok = false;
        }
        backfill.bulk_above_variants = u64::MAX;
    }
    if let Some((text, span)) = s.string("bulk_max_wait", "bulk_max_wait = \"6h\"") {
        match weft_config::parse_duration(&text) {
            Ok(d) if (Duration::from_secs(60)..=BULK_MAX_WAIT_LIMIT).contains(&d) => {
                backfill.max_wait = d;
            }
            Ok(_) => {
                s.error(
                    &span,
                    format!("`bulk_max_wait` in {name} must be between 1m and 10d, found `{text}`"),
                    "Shopify cancels a bulk operation after ten days; a large catalog takes minutes to hours",
                );
                ok = false;
            }
            Err(e) => {
                s.error(
                    &span,
                    format!("`bulk_max_wait` in {name} is not a duration: {e}"),
                    "e.g. `\"6h\"`, `\"90m\"`",
                );
                ok = false;
            }
        }
    } else if s.has("bulk_max_wait") {
        ok = false;
    }
    ok.then_some(backfill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_quarterly() {
        assert!(valid_api_version("2025-10"));
        assert!(valid_api_version("unstable"));
        assert!(!valid_api_version("2025-11"));
        assert!(!valid_api_version("25-10"));
    }

    #[test]
    fn shop_domains_are_hostnames() {
        assert!(valid_hostname("acme.myshopify.com"));
        assert!(!valid_hostname("acme"));
        assert!(!valid_hostname("acme..com"));
        assert!(!valid_hostname("-acme.com"));
    }
}
