//! BigCommerce webhooks are **hints**: the body names a resource (`data.type`, `data.id`) and
//! nothing else, and BigCommerce signs nothing. So:
//!
//! - **Authentication** is the custom header weft registers its hooks with
//!   ([`SECRET_HEADER`], the system's webhook secret), compared in constant time with every
//!   accepted secret (rotation: the current one first). The producer must be this system's
//!   store (`stores/<hash>`).
//! - **Deletions**: `store/product/deleted` and `store/customer/deleted` name a record that no
//!   longer exists: the intake journals it as a tombstone of that product or customer
//!   ([`weft_platform::webhook::tombstone`], under the id change capture journals it with) at
//!   the callback's `created_at`, with no hint to fetch. (A dropped one is not found by change
//!   capture, which reads by `date_modified`; the next full read journals the tombstone.) A
//!   variant removed from its product is seen in the product's next document, which no longer
//!   lists it (`store/product/updated`).
//! - **Intake** journals the hint (kind [`weft_platform::webhook::HINT_KIND`], delivery id the
//!   scope and the payload's `hash`, so a duplicate callback dedupes), which the engine never
//!   maps, and wakes the system's [`HintFetcher`] through its [`HintBus`].
//! - **The [`HintFetcher`]** (weft's shared one, reading through [`BcHints`]) waits a short
//!   gathering delay, reads the hints journaled since its watermark (so a burst of hints for
//!   one entity fetches it once, and a hint acknowledged before a crash is still fetched after
//!   it), reads each named entity through the quota limiter (a product with its variants and
//!   stock per location, a customer, an order with its lines), and journals what it read with
//!   its new watermark in one transaction. A dropped callback is caught by change capture,
//!   which reads every change again by `date_modified`. In a cluster, a hint another host's
//!   intake journaled wakes it through the journal notice ([`weft_platform::Platform::hint_bus`]).
//! - **The [`HookKeeper`]** keeps one active hook per scope of [`SCOPES`] delivering to weft
//!   with the secret header: it creates the missing ones and re-activates the ones BigCommerce
//!   deactivated after failed callbacks.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use http::HeaderMap;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use weft_platform::hints::HintSource;
pub use weft_platform::hints::{HintBus, HintFetcher};
use weft_platform::webhook::{HINT_KIND, clip, header_str};
use weft_platform::{
    ConnectorError, PollReport, Poller, SourceError, WebhookDelivery, WebhookIntake, WebhookSecret,
};
use weft_store::Source;

use crate::client::BcClient;
use crate::poll::{Journal, fetch_hinted};

/// The header weft registers its hooks with; its value is the system's webhook secret.
pub const SECRET_HEADER: &str = "x-weft-webhook-secret";

/// The scopes weft subscribes to.
pub const SCOPES: [&str; 3] = ["store/product/*", "store/customer/*", "store/order/*"];

/// BigCommerce's webhook intake for one system (its bus, when it fetches hints).
#[derive(Debug, Clone, Default)]
pub struct BcWebhooks {
    bus: Option<Arc<HintBus>>,
}

impl BcWebhooks {
    /// An intake handing hints to `bus`.
    pub fn new(bus: Option<Arc<HintBus>>) -> Self {
        BcWebhooks { bus }
    }
}

/// Where a hint is journaled: its `(type, id)` as `type:id`.
pub fn hint_id(data_type: &str, id: u64) -> String {
    format!("{data_type}:{id}")
}

impl WebhookIntake for BcWebhooks {
    fn secret_headers(&self) -> &'static [&'static str] {
        &[SECRET_HEADER, "x-auth-token"]
    }

    fn describe(&self, _headers: &HeaderMap) -> (String, String) {
        // The scope and hash are in the body, not the headers.
        (String::new(), String::new())
    }

    fn verify(&self, headers: &HeaderMap, _body: &[u8], secrets: &[WebhookSecret]) -> bool {
        let Some(given) = header_str(headers, SECRET_HEADER) else {
            return false;
        };
        // Every secret is compared (no early exit), each in constant time.
        secrets.iter().fold(false, |ok, s| {
            ok | bool::from(s.expose().ct_eq(given.as_bytes()))
        })
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw: &[u8],
        account: Option<&str>,
    ) -> Result<WebhookDelivery, String> {
        let v: Value =
            serde_json::from_slice(raw).map_err(|e| format!("body is not valid JSON: {e}"))?;
        let scope = v["scope"]
            .as_str()
            .filter(|s| s.starts_with("store/"))
            .ok_or("no `scope`: not a BigCommerce callback")?;
        let data_type = v["data"]["type"]
            .as_str()
            .ok_or("no `data.type`: not a BigCommerce callback")?;
        let id = v["data"]["id"]
            .as_u64()
            .ok_or("no numeric `data.id`: not a BigCommerce callback")?;
        let hash = v["hash"].as_str().filter(|h| !h.is_empty());
        let created_at = v["created_at"]
            .as_i64()
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .ok_or("no `created_at`")?;
        if let Some(store) = account {
            let producer = v["producer"].as_str().unwrap_or_default();
            if producer != format!("stores/{store}") {
                return Err(format!(
                    "callback from {}, not this system's store stores/{store}",
                    clip(producer)
                ));
            }
        }
        let deleted = match (scope, data_type) {
            ("store/product/deleted", "product") => Some("product"),
            ("store/customer/deleted", "customer") => Some("customer"),
            _ => None,
        };
        if let Some(kind) = deleted {
            // Nothing to fetch: the record is gone. A tombstone of it, at the callback's time.
            let id = id.to_string();
            return Ok(WebhookDelivery {
                kind: kind.into(),
                version: weft_platform::version::format_ts(created_at),
                delivery_id: hash.map(|h| format!("{scope}:{h}")),
                body: weft_platform::webhook::tombstone(&id),
                entity_id: id,
            });
        }
        if let Some(bus) = &self.bus {
            bus.push();
        }
        Ok(WebhookDelivery {
            kind: HINT_KIND.into(),
            entity_id: hint_id(data_type, id),
            version: weft_platform::version::format_ts(created_at),
            delivery_id: hash.map(|h| format!("{scope}:{h}")),
            body: v,
        })
    }
}

/// What BigCommerce reads for the hints of one system: each named product (with its variants
/// and stock per location), customer or order (with its lines), through the quota limiter.
pub struct BcHints {
    journal: Journal,
    client: Arc<BcClient>,
}

impl HintSource for BcHints {
    fn fetch<'a>(
        &'a self,
        hints: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<weft_store::NewJournalEntry>, SourceError>> {
        Box::pin(async move {
            let hints: Vec<(String, u64)> = hints
                .iter()
                .filter_map(|h| {
                    let (t, id) = h.split_once(':')?;
                    Some((t.to_owned(), id.parse().ok()?))
                })
                .collect();
            let read_at = chrono::Utc::now();
            let docs = fetch_hinted(&self.client, &self.journal, &hints).await?;
            self.journal.entries(docs, Source::Webhook, read_at).await
        })
    }
}

/// The fetcher of a system's hints ([`weft_platform::hints::HintFetcher`] reading through
/// [`BcHints`]); `gather` is how long it lets a burst of hints collect before fetching.
pub fn hint_fetcher(
    journal: Journal,
    client: Arc<BcClient>,
    bus: Arc<HintBus>,
    gather: Duration,
) -> Arc<HintFetcher> {
    HintFetcher::new(
        journal.store_id.clone(),
        journal.system.clone(),
        journal.db.clone(),
        Arc::new(BcHints { journal, client }),
        bus,
        gather,
    )
}

/// The scopes of [`SCOPES`] with no active hook delivering to `url` with `secret`.
pub async fn missing_hooks(
    client: &BcClient,
    url: &str,
    secret: &str,
) -> Result<Vec<&'static str>, ConnectorError> {
    let hooks = client.list_v3_paged("/v3/hooks", "").await?;
    Ok(SCOPES
        .iter()
        .copied()
        .filter(|scope| {
            !hooks.iter().any(|h| {
                h["scope"] == *scope
                    && h["destination"] == url
                    && h["is_active"] == true
                    && header_value(h, SECRET_HEADER) == Some(secret)
            })
        })
        .collect())
}

fn header_value<'a>(hook: &'a Value, name: &str) -> Option<&'a str> {
    hook["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// Creates or repairs the hooks of every missing scope; returns the scopes it touched.
pub async fn ensure_hooks(
    client: &BcClient,
    url: &str,
    secret: &str,
) -> Result<Vec<&'static str>, ConnectorError> {
    let missing = missing_hooks(client, url, secret).await?;
    if missing.is_empty() {
        return Ok(missing);
    }
    let hooks = client.list_v3_paged("/v3/hooks", "").await?;
    for scope in &missing {
        let body = json!({
            "scope": scope, "destination": url, "is_active": true,
            "headers": { SECRET_HEADER: secret },
        });
        let existing = hooks
            .iter()
            .find(|h| h["scope"] == *scope && h["destination"] == url)
            .and_then(|h| h["id"].as_u64());
        match existing {
            // Deactivated after failed callbacks, or its secret rotated: repair it.
            Some(id) => {
                client
                    .call(
                        reqwest::Method::PUT,
                        &format!("/v3/hooks/{id}"),
                        Some(&body),
                    )
                    .await?;
            }
            None => {
                client
                    .call(reqwest::Method::POST, "/v3/hooks", Some(&body))
                    .await?;
            }
        }
    }
    Ok(missing)
}

/// Keeps a store's hooks to weft in place (created at start, checked every round).
pub struct HookKeeper {
    name: String,
    client: Arc<BcClient>,
    url: String,
    secret: String,
}

impl HookKeeper {
    /// A keeper of `system`'s hooks to `url` with `secret`.
    pub fn new(system: &str, client: Arc<BcClient>, url: String, secret: String) -> Self {
        HookKeeper {
            name: format!("{system}-hooks"),
            client,
            url,
            secret,
        }
    }

    async fn round(&self) -> Result<PollReport, SourceError> {
        let touched = ensure_hooks(&self.client, &self.url, &self.secret).await?;
        if !touched.is_empty() {
            tracing::warn!(keeper = %self.name, url = %self.url, scopes = ?touched, "hooks were missing or inactive; repaired them");
        }
        Ok(PollReport::default())
    }
}

impl Poller for HookKeeper {
    /// Keeps the hooks in place: no hurry between checks.
    fn reconciles(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round())
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(secret: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(s) = secret {
            h.insert(SECRET_HEADER, s.parse().unwrap());
        }
        h
    }

    fn body(producer: &str) -> Vec<u8> {
        json!({"scope": "store/product/updated", "store_id": "1", "producer": producer,
            "data": {"type": "product", "id": 111}, "hash": "abc", "created_at": 1_768_478_400})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_custom_header_is_the_secret() {
        let w = BcWebhooks::default();
        let secrets = [WebhookSecret::new("new"), WebhookSecret::new("old")];
        assert!(w.verify(&headers(Some("new")), b"", &secrets));
        assert!(w.verify(&headers(Some("old")), b"", &secrets), "rotation");
        assert!(!w.verify(&headers(Some("neW")), b"", &secrets));
        assert!(!w.verify(&headers(Some("")), b"", &secrets));
        assert!(!w.verify(&headers(None), b"", &secrets));
        assert!(!w.verify(&headers(Some("new")), b"", &[]));
    }

    #[test]
    fn a_callback_is_a_hint_for_the_bus() {
        let bus = HintBus::new();
        let w = BcWebhooks::new(Some(bus.clone()));
        let d = w
            .parse(&headers(None), &body("stores/abc"), Some("abc"))
            .unwrap();
        assert_eq!(d.kind, HINT_KIND);
        assert_eq!(d.entity_id, "product:111");
        assert_eq!(d.version, "2026-01-15T12:00:00Z");
        assert_eq!(d.delivery_id.as_deref(), Some("store/product/updated:abc"));
        w.parse(&headers(None), &body("stores/abc"), Some("abc"))
            .unwrap();
        assert_eq!(bus.received(), 2, "each callback wakes the fetcher");
    }

    #[test]
    fn product_and_customer_deletions_are_tombstones_not_hints() {
        let bus = HintBus::new();
        let w = BcWebhooks::new(Some(bus.clone()));
        for (scope, kind) in [
            ("store/product/deleted", "product"),
            ("store/customer/deleted", "customer"),
        ] {
            let raw = json!({"scope": scope, "store_id": "1", "producer": "stores/abc",
                "data": {"type": kind, "id": 7}, "hash": "h", "created_at": 1_768_478_400});
            let d = w
                .parse(&headers(None), raw.to_string().as_bytes(), Some("abc"))
                .unwrap();
            assert_eq!(d.kind, kind);
            assert_eq!(d.entity_id, "7");
            assert_eq!(d.body, weft_platform::webhook::tombstone("7"));
            assert_eq!(d.version, "2026-01-15T12:00:00Z");
            assert_eq!(d.delivery_id, Some(format!("{scope}:h")));
        }
        assert_eq!(bus.received(), 0, "nothing to fetch");
    }

    #[test]
    fn callbacks_for_another_store_or_of_another_shape_are_refused() {
        let w = BcWebhooks::default();
        let e = w
            .parse(&headers(None), &body("stores/other"), Some("abc"))
            .unwrap_err();
        assert!(e.contains("stores/other"), "{e}");
        assert!(w.parse(&headers(None), b"[]", None).is_err());
        assert!(
            w.parse(&headers(None), b"{\"scope\":\"store/x\"}", None)
                .is_err()
        );
    }
}
