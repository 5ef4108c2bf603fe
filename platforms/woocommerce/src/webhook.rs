//! WooCommerce webhooks.
//!
//! - **Signature**: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw body keyed
//!   with the webhook's secret (by default the consumer secret of the key that created it);
//!   checked in constant time against every accepted secret (rotation).
//! - **Headers**: `X-WC-Webhook-Topic` (`product.updated`), `-Resource` (`product`), `-Event`
//!   (`updated`), `-ID` (the webhook), `-Delivery-ID` (the delivery: dedupes a duplicate),
//!   `-Source` (the site's home URL with a final `/`: a delivery from another site is refused).
//! - **Body**: the resource as `GET` returns it, journaled as it is: kind `product` (a
//!   variation too, `type: "variation"`), `order` or `customer`, version `date_modified_gmt`.
//! - **Deletions**: `product.deleted` (WooCommerce sends it when a product or a variation goes
//!   to the trash, its only hook being `wp_trash_post`: a deletion for good, `force=true` or a
//!   batch delete, sends nothing, and the poll's full read finds it) and `customer.deleted`
//!   carry `{"id": N}` only, and no time: each is journaled as a tombstone of that product
//!   or customer ([`weft_platform::webhook::tombstone`]) versioned by its receipt (so a
//!   product restored from the trash shows again once its `date_modified` is later, which
//!   holds while the site's clock is right). Order deletions are not subscribed to. The poll
//!   finds what a lost delivery missed ([`crate::WooPoller`]).
//! - **Ping**: creating or re-activating a webhook makes WooCommerce POST `webhook_id=<id>` as
//!   a form, unsigned; it must be answered 200 or the webhook is not activated. It is
//!   acknowledged and not journaled ([`WebhookIntake::is_ping`]).
//! - WooCommerce never re-sends a failed delivery and disables a webhook after its 7th failure
//!   in a row: the poll is the safety net, and [`WebhookKeeper`] re-activates a disabled
//!   webhook (counted as `webhooks_reactivated`) and recreates a deleted one.

use std::sync::Arc;

use futures::future::BoxFuture;
use http::HeaderMap;
use serde_json::{Value, json};
use weft_platform::webhook::{clip, header_str};
use weft_platform::{
    ConnectorError, PollReport, Poller, SourceError, WebhookDelivery, WebhookIntake, WebhookSecret,
    signature,
};
use weft_store::Store;

use crate::{WooClient, id_text, version_of};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-wc-webhook-signature";
/// The topic header.
pub const TOPIC_HEADER: &str = "x-wc-webhook-topic";
/// The resource header.
pub const RESOURCE_HEADER: &str = "x-wc-webhook-resource";
/// The event header.
pub const EVENT_HEADER: &str = "x-wc-webhook-event";
/// The webhook id header.
pub const WEBHOOK_ID_HEADER: &str = "x-wc-webhook-id";
/// The delivery id header.
pub const DELIVERY_ID_HEADER: &str = "x-wc-webhook-delivery-id";
/// The source (site URL) header.
pub const SOURCE_HEADER: &str = "x-wc-webhook-source";

/// The topics weft subscribes to.
pub const TOPICS: [&str; 8] = [
    "product.created",
    "product.updated",
    "product.deleted",
    "order.created",
    "order.updated",
    "customer.created",
    "customer.updated",
    "customer.deleted",
];

/// WooCommerce's webhook intake.
#[derive(Debug, Clone, Copy, Default)]
pub struct WooWebhooks;

/// Whether a body is WooCommerce's activation ping (`webhook_id=<digits>`).
fn ping_body(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.trim().strip_prefix("webhook_id="))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

impl WebhookIntake for WooWebhooks {
    fn secret_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn describe(&self, headers: &HeaderMap) -> (String, String) {
        (
            header_str(headers, TOPIC_HEADER).unwrap_or("").to_owned(),
            header_str(headers, DELIVERY_ID_HEADER)
                .unwrap_or("")
                .to_owned(),
        )
    }

    fn is_ping(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        header_str(headers, TOPIC_HEADER).is_none()
            && header_str(headers, SIGNATURE_HEADER).is_none()
            && ping_body(body)
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], secrets: &[WebhookSecret]) -> bool {
        header_str(headers, SIGNATURE_HEADER)
            .is_some_and(|sig| signature::verify(secrets, body, sig))
    }

    fn parse(
        &self,
        headers: &HeaderMap,
        raw: &[u8],
        account: Option<&str>,
    ) -> Result<WebhookDelivery, String> {
        let topic = header_str(headers, TOPIC_HEADER)
            .ok_or_else(|| "missing X-WC-Webhook-Topic header".to_string())?;
        if let Some(site) = account {
            match header_str(headers, SOURCE_HEADER) {
                Some(s) if crate::config::site_key(s) == crate::config::site_key(site) => {}
                Some(s) => {
                    return Err(format!(
                        "delivery from site {}, not this system's site {site}",
                        clip(s)
                    ));
                }
                None => return Err("missing X-WC-Webhook-Source header".into()),
            }
        }
        let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
        if let Some(r) = header_str(headers, RESOURCE_HEADER)
            && r != resource
        {
            return Err(format!(
                "X-WC-Webhook-Resource {} does not match topic {}",
                clip(r),
                clip(topic)
            ));
        }
        let kind = match resource {
            "product" => "product",
            "order" => "order",
            "customer" => "customer",
            other => return Err(format!("topic {} is not synced", clip(other))),
        };
        if event == "deleted" && kind == "order" {
            return Err(format!(
                "{} deliveries carry only an id; weft does not subscribe to them",
                clip(topic)
            ));
        }
        let body: Value =
            serde_json::from_slice(raw).map_err(|e| format!("body is not valid JSON: {e}"))?;
        if !body.is_object() {
            return Err("body is not a JSON object".into());
        }
        if event == "deleted" {
            let id = body
                .get("id")
                .and_then(id_text)
                .ok_or_else(|| format!("a {} delivery without an id", clip(topic)))?;
            return Ok(WebhookDelivery {
                kind: kind.to_owned(),
                version: crate::now_version(),
                delivery_id: header_str(headers, DELIVERY_ID_HEADER).map(str::to_owned),
                body: weft_platform::webhook::tombstone(&id),
                entity_id: id,
            });
        }
        let id = body
            .get("id")
            .and_then(id_text)
            .ok_or_else(|| format!("a {} delivery without an id", clip(topic)))?;
        let shape_ok = match kind {
            "product" => body.get("sku").is_some() && body.get("type").is_some(),
            "order" => body.get("line_items").is_some(),
            _ => body.get("email").is_some(),
        };
        if !shape_ok {
            return Err(format!(
                "a {} delivery whose body is not a {kind}",
                clip(topic)
            ));
        }
        let version = version_of(&body)
            .ok_or_else(|| format!("a {} delivery without date_modified_gmt", clip(topic)))?;
        Ok(WebhookDelivery {
            kind: kind.to_owned(),
            entity_id: id,
            version,
            delivery_id: header_str(headers, DELIVERY_ID_HEADER).map(str::to_owned),
            body,
        })
    }
}

/// What a site's webhooks to one URL look like.
#[derive(Debug, Clone, Default)]
pub struct Subscriptions {
    /// Per topic of [`TOPICS`]: the webhooks delivering to the URL, `(id, status)`.
    pub by_topic: Vec<(&'static str, Vec<(u64, String)>)>,
}

impl Subscriptions {
    /// Topics with no active (or paused by an admin) webhook to the URL.
    pub fn missing(&self) -> Vec<&'static str> {
        self.by_topic
            .iter()
            .filter(|(_, hooks)| !hooks.iter().any(|(_, s)| s == "active" || s == "paused"))
            .map(|(t, _)| *t)
            .collect()
    }
}

/// The site's webhooks delivering to `url`, per topic weft needs.
pub async fn subscriptions(client: &WooClient, url: &str) -> Result<Subscriptions, ConnectorError> {
    let q = vec![("status".to_owned(), "all".to_owned())];
    let hooks = client.list_all("webhooks", &q).await?;
    let by_topic = TOPICS
        .iter()
        .map(|t| {
            let ids = hooks
                .iter()
                .filter(|h| {
                    h["topic"].as_str() == Some(t) && h["delivery_url"].as_str() == Some(url)
                })
                .filter_map(|h| {
                    Some((
                        h["id"].as_u64()?,
                        h["status"].as_str().unwrap_or("").to_owned(),
                    ))
                })
                .collect();
            (*t, ids)
        })
        .collect();
    Ok(Subscriptions { by_topic })
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Topics a webhook was created for.
    pub created: Vec<&'static str>,
    /// Webhooks WooCommerce had disabled, set active again: `(id, topic)`.
    pub reactivated: Vec<(u64, &'static str)>,
}

/// Makes every topic of [`TOPICS`] deliver to `url`: a disabled webhook is set active again
/// (WooCommerce disables one after repeated failed deliveries, silently), a missing one is
/// created with `secret`.
pub async fn ensure(
    client: &WooClient,
    url: &str,
    secret: &str,
) -> Result<Repaired, ConnectorError> {
    let state = subscriptions(client, url).await?;
    let mut done = Repaired::default();
    for topic in state.missing() {
        let hooks = state
            .by_topic
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, h)| h.clone())
            .unwrap_or_default();
        match hooks.iter().find(|(_, s)| s == "disabled") {
            Some((id, _)) => {
                client
                    .put(&format!("webhooks/{id}"), &json!({"status": "active"}))
                    .await?;
                done.reactivated.push((*id, topic));
            }
            None => {
                client
                    .post(
                        "webhooks",
                        &json!({
                            "name": format!("weft {topic}"),
                            "topic": topic,
                            "delivery_url": url,
                            "secret": secret,
                            "status": "active",
                        }),
                    )
                    .await?;
                done.created.push(topic);
            }
        }
    }
    Ok(done)
}

/// Keeps a site's webhooks to weft active: creates the missing ones when the store starts and
/// checks them every round, re-activating what WooCommerce disabled.
pub struct WebhookKeeper {
    name: String,
    store_id: String,
    db: Store,
    client: Arc<WooClient>,
    url: String,
    secret: String,
}

impl WebhookKeeper {
    /// A keeper of `store_id`'s webhooks of system `system` to `url`, creating them signed
    /// with `secret`.
    pub fn new(
        store_id: impl Into<String>,
        system: &str,
        db: Store,
        client: Arc<WooClient>,
        url: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        WebhookKeeper {
            name: format!("{system}-webhooks"),
            store_id: store_id.into(),
            db,
            client,
            url: url.into(),
            secret: secret.into(),
        }
    }

    async fn round(&self) -> Result<PollReport, SourceError> {
        let done = ensure(&self.client, &self.url, &self.secret).await?;
        if !done.created.is_empty() {
            tracing::warn!(store = %self.store_id, keeper = %self.name, url = %self.url, topics = ?done.created, "woocommerce webhooks were missing; created them");
        }
        if !done.reactivated.is_empty() {
            tracing::warn!(store = %self.store_id, keeper = %self.name, url = %self.url, webhooks = ?done.reactivated, "woocommerce had disabled webhooks after failed deliveries; re-activated them");
            self.db
                .bump_counter(
                    &self.store_id,
                    "webhooks_reactivated",
                    done.reactivated.len() as i64,
                )
                .await?;
        }
        Ok(PollReport::default())
    }
}

impl Poller for WebhookKeeper {
    /// Keeps the webhooks in place: no hurry between checks.
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

    #[test]
    fn pings_are_form_bodies_with_a_webhook_id() {
        assert!(ping_body(b"webhook_id=12"));
        assert!(!ping_body(b"webhook_id="));
        assert!(!ping_body(b"{\"id\":1}"));
    }
}
