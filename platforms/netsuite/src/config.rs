//! A NetSuite account's config section: `[systems.<name>]` with `platform = "netsuite"` (or, as
//! before systems were named, a store file's `[netsuite]` table).
//!
//! ```toml
//! [systems.netsuite]
//! platform = "netsuite"
//! account_id = "1234567"
//! consumer_key = { env = "ACME_NETSUITE_CONSUMER_KEY" }
//! consumer_secret = { env = "ACME_NETSUITE_CONSUMER_SECRET" }
//! token_id = { env = "ACME_NETSUITE_TOKEN_ID" }
//! token_secret = { env = "ACME_NETSUITE_TOKEN_SECRET" }
//! # concurrency_limit = 15   # the account's; every store on it must agree
//! # base_url = "https://1234567.suitetalk.api.netsuite.com"
//! ```

use std::any::Any;
use std::sync::Arc;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;

const KEYS: [&str; 7] = [
    "account_id",
    "base_url",
    "consumer_key",
    "consumer_secret",
    "token_id",
    "token_secret",
    "concurrency_limit",
];

/// What a NetSuite system's section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSuiteSettings {
    /// Account id, e.g. `1234567` or `1234567_SB1` (also the OAuth realm).
    pub account_id: String,
    /// API base URL (default `https://{account}.suitetalk.api.netsuite.com`, with the account id
    /// lowercased and `_` as `-`).
    pub base_url: Url,
    /// OAuth 1.0a consumer key.
    pub consumer_key: Secret,
    /// OAuth 1.0a consumer secret.
    pub consumer_secret: Secret,
    /// OAuth 1.0a token id.
    pub token_id: Secret,
    /// OAuth 1.0a token secret.
    pub token_secret: Secret,
    /// The account's concurrency limit, if known. Every store on one account shares it.
    pub concurrency_limit: Option<u32>,
}

impl SystemSettings for NetSuiteSettings {
    fn secrets(&self) -> Vec<&Secret> {
        vec![
            &self.consumer_key,
            &self.consumer_secret,
            &self.token_id,
            &self.token_secret,
        ]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn SystemSettings) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }
}

impl NetSuiteSettings {
    /// The OAuth realm: the account id in upper case.
    pub fn realm(&self) -> String {
        self.account_id.to_ascii_uppercase()
    }
}

/// The default NetSuite base URL for an account id.
pub fn default_base_url(account_id: &str) -> Option<Url> {
    let host = account_id.to_ascii_lowercase().replace('_', "-");
    Url::parse(&format!("https://{host}.suitetalk.api.netsuite.com")).ok()
}

/// Reads NetSuite sections.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetSuiteSection;

impl PlatformSection for NetSuiteSection {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn read(&self, s: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>> {
        s.keys(&KEYS);
        let name = s.name();
        let account = s
            .string_req("account_id", "account_id = \"1234567\"")
            .and_then(|(id, span)| {
                if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    Some((id, span))
                } else {
                    s.error(
                        &span,
                        format!("invalid NetSuite account id `{id}` in {name}"),
                        "letters, digits and `_`, e.g. `1234567` or `1234567_SB1` for a sandbox",
                    );
                    None
                }
            });
        let base_url_given = s.has("base_url");
        let base_url = s.url(
            "base_url",
            "base_url = \"https://1234567.suitetalk.api.netsuite.com\"",
        );
        let consumer_key = s.secret_req("consumer_key", "NETSUITE_CONSUMER_KEY");
        let consumer_secret = s.secret_req("consumer_secret", "NETSUITE_CONSUMER_SECRET");
        let token_id = s.secret_req("token_id", "NETSUITE_TOKEN_ID");
        let token_secret = s.secret_req("token_secret", "NETSUITE_TOKEN_SECRET");
        let limit = s.integer("concurrency_limit", 1, 1_000, "concurrency_limit = 15");
        if let (Some((account, _)), Some((n, span))) = (&account, &limit) {
            s.claim_agreeing(
                &format!("NetSuite account `{}`", account.to_ascii_uppercase()),
                "concurrency_limit",
                &n.to_string(),
                span,
                "the limit belongs to the account and is shared by every store on it; use one value",
            );
        }
        if limit.is_none() && s.has("concurrency_limit") {
            return None;
        }
        let ((account_id, _), consumer_key, consumer_secret, token_id, token_secret) = (
            account?,
            consumer_key?,
            consumer_secret?,
            token_id?,
            token_secret?,
        );
        let base_url = match base_url {
            Some(u) => u,
            None if !base_url_given => default_base_url(&account_id)?,
            None => return None,
        };
        Some(Arc::new(NetSuiteSettings {
            account_id,
            base_url,
            consumer_key,
            consumer_secret,
            token_id,
            token_secret,
            concurrency_limit: limit.map(|(n, _)| n as u32),
        }))
    }
}
