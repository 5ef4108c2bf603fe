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
//! # Pushes from weft's user event script (platforms/netsuite/suitescript/weft_push.js), posted
//! # to <public_url>/webhooks/<system>/<store>: the HMAC secrets it signs with, the current
//! # one first, then a previous one still accepted during a rotation.
//! # push_secrets = [{ env = "ACME_NETSUITE_PUSH_SECRET" }]
//! # While pushes arrive and change capture finds nothing they missed, poll this seldom:
//! # push_poll_interval_secs = 300
//! ```

use std::any::Any;
use std::sync::Arc;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;

const KEYS: [&str; 9] = [
    "push_secrets",
    "push_poll_interval_secs",
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
    /// The secrets the push script signs its notifications with (the current one first, then
    /// previous ones still accepted during a rotation); empty: pushes are off.
    pub push_secrets: Vec<Secret>,
    /// Change capture's relaxed interval while pushes arrive without gaps (`None`: the store's
    /// interval always).
    pub push_poll_interval: Option<std::time::Duration>,
}

impl SystemSettings for NetSuiteSettings {
    fn secrets(&self) -> Vec<&Secret> {
        let mut out = vec![
            &self.consumer_key,
            &self.consumer_secret,
            &self.token_id,
            &self.token_secret,
        ];
        out.extend(self.push_secrets.iter());
        out
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
        let push_secrets = if s.has("push_secrets") {
            s.secret_list_req("push_secrets", "NETSUITE_PUSH_SECRET")?
        } else {
            Vec::new()
        };
        let relaxed = s.integer(
            "push_poll_interval_secs",
            1,
            86_400,
            "push_poll_interval_secs = 300",
        );
        if let Some((_, span)) = &relaxed
            && push_secrets.is_empty()
        {
            s.error(
                span,
                format!("`push_poll_interval_secs` in {name} needs `push_secrets`"),
                "polling relaxes only while signed pushes arrive: add push_secrets = [{ env = \"NETSUITE_PUSH_SECRET\" }]",
            );
            return None;
        }
        if relaxed.is_none() && s.has("push_poll_interval_secs") {
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
            push_secrets,
            push_poll_interval: relaxed.map(|(n, _)| std::time::Duration::from_secs(n)),
        }))
    }
}
