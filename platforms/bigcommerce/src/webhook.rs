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
//! - **The [`HintFetcher`]** waits a short gathering delay, reads the hints journaled since its
//!   watermark (so a burst of hints for one entity fetches it once, and a hint acknowledged
//!   before a crash is still fetched after it), reads each named entity through the quota
//!   limiter (a product with its variants and stock per location, a customer, an order with
//!   its lines), and journals what it read with its new watermark in one transaction. A
//!   dropped callback is caught by change capture, which reads every change again by
//!   `date_modified`.
//! - **The [`HookKeeper`]** keeps one active hook per scope of [`SCOPES`] delivering to weft
//!   with the secret header: it creates the missing ones and re-activates the ones BigCommerce
//!   deactivated after failed callbacks.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use http::HeaderMap;
use parking_lot::Mutex;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;
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

/// Hints waiting to be fetched, shared by a system's intake and its fetcher.
#[derive(Debug, Default)]
pub struct HintBus {
    pending: Mutex<BTreeSet<(String, u64)>>,
    notify: Notify,
    received: std::sync::atomic::AtomicU64,
}

impl HintBus {
    /// A bus.
    pub fn new() -> Arc<Self> {
        Arc::new(HintBus::default())
    }

    /// Adds a hint.
    pub fn push(&self, data_type: &str, id: u64) {
        self.received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pending.lock().insert((data_type.to_owned(), id));
        self.notify.notify_one();
    }

    /// Takes every pending hint (each entity once).
    pub fn drain(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut *self.pending.lock())
            .into_iter()
            .collect()
    }

    /// Hints received so far (duplicates included).
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }
}

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
            bus.push(data_type, id);
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

/// Fetches what the hints on a bus name and journals it.
pub struct HintFetcher {
    name: String,
    journal: Journal,
    client: Arc<BcClient>,
    bus: Arc<HintBus>,
    gather: Duration,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    round: tokio::sync::Mutex<()>,
}

/// Hints read from the journal per page.
const HINT_PAGE: u32 = 1000;

impl HintFetcher {
    /// A fetcher; `gather` is how long it lets a burst of hints collect before fetching.
    pub fn new(
        journal: Journal,
        client: Arc<BcClient>,
        bus: Arc<HintBus>,
        gather: Duration,
    ) -> Arc<Self> {
        Arc::new(HintFetcher {
            name: format!("{}-hints", journal.system),
            journal,
            client,
            bus,
            gather,
            task: Mutex::new(None),
            round: tokio::sync::Mutex::new(()),
        })
    }

    /// Fetches what the hints journaled since the last round name, each entity once, and
    /// journals it together with the new hint watermark (the last hint's sequence number): a
    /// hint acknowledged to BigCommerce is fetched even if weft stopped before fetching it. A
    /// first round (no watermark) takes the hints of the last hour; older changes are change
    /// capture's.
    pub async fn fetch_now(&self) -> Result<PollReport, SourceError> {
        let _one_round_at_a_time = self.round.lock().await;
        // The bus only wakes the fetcher; the journal is the list.
        self.bus.drain();
        let j = &self.journal;
        let stream = format!("{}:hints", j.system);
        let mark =
            j.db.watermark(&j.store_id, &stream)
                .await?
                .and_then(|v| v["seq"].as_i64());
        let since = mark
            .is_none()
            .then(|| chrono::Utc::now() - chrono::Duration::hours(1));
        let mut after = mark.unwrap_or(0);
        let mut hints: Vec<(String, u64)> = Vec::new();
        loop {
            let page =
                j.db.journal_range(&j.store_id, since, Some(HINT_KIND), after, HINT_PAGE)
                    .await?;
            let n = page.len();
            for e in page {
                after = e.seq;
                if e.system != j.system {
                    continue;
                }
                if let Some((t, id)) = e.entity_id.split_once(':')
                    && let Ok(id) = id.parse::<u64>()
                    && !hints.iter().any(|(ht, hid)| ht == t && *hid == id)
                {
                    hints.push((t.to_owned(), id));
                }
            }
            if n < HINT_PAGE as usize {
                break;
            }
        }
        if Some(after) == mark || (mark.is_none() && after == 0) {
            return Ok(PollReport::default());
        }
        let read_at = chrono::Utc::now();
        let docs = fetch_hinted(&self.client, j, &hints).await?;
        let read = docs.len() as u64;
        let entries = j.entries(docs, Source::Webhook, read_at).await?;
        let outcomes =
            j.db.append_with_watermark(
                entries,
                &j.store_id,
                weft_store::WatermarkUpdate {
                    stream,
                    value: json!({ "seq": after }),
                },
                chrono::Utc::now(),
            )
            .await?;
        Ok(PollReport {
            read,
            journaled: outcomes
                .iter()
                .filter(|o| matches!(o, weft_store::AppendOutcome::Inserted(_)))
                .count() as u64,
        })
    }

    /// Starts fetching in the background as hints arrive (once; stops when the fetcher is
    /// dropped).
    pub fn start(self: &Arc<Self>) {
        let mut task = self.task.lock();
        if task.is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let me = Arc::downgrade(self);
        let bus = self.bus.clone();
        *task = Some(tokio::spawn(async move {
            loop {
                bus.notify.notified().await;
                let Some(f) = me.upgrade() else { return };
                // Let a burst gather (and the intake commit the hints it is acknowledging).
                tokio::time::sleep(f.gather).await;
                match f.fetch_now().await {
                    // Woken before the hint was committed: look once more.
                    Ok(r) if r.read == 0 => {
                        tokio::time::sleep(f.gather).await;
                        let _ = f.fetch_now().await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(fetcher = %f.name, error = %e, "fetching hinted entities failed; the next round retries");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }
}

impl Drop for HintFetcher {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }
}

impl Poller for HintFetcher {
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.fetch_now())
    }
    fn poll_full(&self) -> BoxFuture<'_, Result<PollReport, SourceError>> {
        Box::pin(self.fetch_now())
    }
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
        assert_eq!(bus.received(), 2);
        assert_eq!(
            bus.drain(),
            vec![("product".to_owned(), 111)],
            "once per entity"
        );
        assert!(bus.drain().is_empty());
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
