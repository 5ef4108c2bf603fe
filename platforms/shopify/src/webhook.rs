//! Shopify webhooks: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body keyed
//! with the app's client secret; the topic (`X-Shopify-Topic`) says what the REST-shaped body
//! is, and [`crate::normalize::from_webhook`] turns it into the one document shape the mapper
//! sees. The version is the document's `updated_at`; when the payload has none,
//! `X-Shopify-Triggered-At` is written into it before normalizing. The delivery id is
//! `X-Shopify-Webhook-Id` (Shopify retries a delivery with the same id).
//!
//! The mandatory compliance topics (`customers/redact`, `customers/data_request`,
//! `shop/redact`) are privacy requests, not documents ([`WebhookIntake::privacy_request`]): the
//! customer's id, email and phone and the orders named (`orders_to_redact` /
//! `orders_requested`; numbers in Shopify's payloads, text here). The shop must be the system's
//! in the header and in the body's `shop_domain`. They are subscribed in the app's
//! configuration (Partner Dashboard, `compliance_topics` in `shopify.app.toml`) with
//! `<public_url>/webhooks/<system>/<store>` as the URL, not by the keeper (the Admin API does not
//! offer them).

use http::HeaderMap;
use serde_json::Value;
use weft_platform::webhook::header_str;
use weft_platform::{PrivacyDelivery, WebhookDelivery, WebhookIntake, WebhookSecret, signature};
use weft_store::{PrivacyAction, PrivacySubject};

use crate::normalize;

/// The signature header.
pub const HMAC_HEADER: &str = "x-shopify-hmac-sha256";
/// The topic header.
pub const TOPIC_HEADER: &str = "x-shopify-topic";
/// The delivery id header (dedupe key).
pub const WEBHOOK_ID_HEADER: &str = "x-shopify-webhook-id";
/// When the event fired (version fallback).
pub const TRIGGERED_AT_HEADER: &str = "x-shopify-triggered-at";
/// The shop the delivery is for.
pub const SHOP_DOMAIN_HEADER: &str = "x-shopify-shop-domain";

/// Refuses a body that is not the topic's resource: its `admin_graphql_api_id` names another
/// type, or it lacks what every such resource has (a product topic with an order body would
/// otherwise become an empty product).
fn check_shape(topic: &str, body: &Value) -> Result<(), String> {
    let (resource, required): (&str, &[&str]) = match topic.split('/').next() {
        Some("products") => ("Product", &["title", "variants"]),
        Some("orders") => ("Order", &["line_items"]),
        Some("customers") => ("Customer", &[]),
        Some("inventory_levels") => ("InventoryLevel", &["inventory_item_id"]),
        _ => return Ok(()), // an unknown topic is refused by the normalizer
    };
    if let Some(gid) = body.get("admin_graphql_api_id").and_then(Value::as_str)
        && !gid.starts_with(&format!("gid://shopify/{resource}/"))
    {
        return Err(format!(
            "a {topic} delivery whose body is not a {resource} (it is {gid})"
        ));
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| body.get(*k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "a {topic} delivery whose body has no {}: not a {resource}",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The mandatory compliance topics (subscribed in the Partner Dashboard, not by the API).
pub const CUSTOMERS_REDACT: &str = "customers/redact";
/// A customer asked the shop for their data.
pub const CUSTOMERS_DATA_REQUEST: &str = "customers/data_request";
/// 48 hours after the app was uninstalled: erase the shop's data.
pub const SHOP_REDACT: &str = "shop/redact";

/// An id of a compliance payload: Shopify sends numbers; text is taken too.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Reads a compliance delivery (`{"shop_id", "shop_domain", "customer": {"id", "email",
/// "phone"}, "orders_to_redact" | "orders_requested": [ids], "data_request": {"id"}}`; a
/// customer may come with its email only). The shop must be the system's, in the header and
/// in the body.
fn parse_privacy(
    headers: &HeaderMap,
    raw: &[u8],
    account: Option<&str>,
    topic: &str,
    action: PrivacyAction,
) -> Result<PrivacyDelivery, String> {
    let body: Value =
        serde_json::from_slice(raw).map_err(|e| format!("{topic} body is not valid JSON: {e}"))?;
    if !body.is_object() {
        return Err(format!("{topic} body is not a JSON object"));
    }
    if let Some(shop) = account {
        let header = header_str(headers, SHOP_DOMAIN_HEADER)
            .ok_or_else(|| "missing X-Shopify-Shop-Domain header".to_string())?;
        for (what, d) in [
            ("delivery", Some(header)),
            (
                "body's shop_domain",
                body.get("shop_domain").and_then(Value::as_str),
            ),
        ] {
            match d {
                Some(d) if d.eq_ignore_ascii_case(shop) => {}
                Some(d) => {
                    return Err(format!(
                        "{topic} {what} names shop {}, not this system's shop {shop}",
                        weft_platform::webhook::clip(d)
                    ));
                }
                None => return Err(format!("{topic} body has no shop_domain")),
            }
        }
    }
    let mut subject = PrivacySubject::default();
    if action != PrivacyAction::ShopRedact {
        let customer = body
            .get("customer")
            .filter(|c| c.is_object())
            .ok_or_else(|| format!("{topic} body has no customer object"))?;
        subject
            .customer_ids
            .extend(customer.get("id").and_then(id_text));
        subject.emails.extend(
            customer
                .get("email")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
        );
        subject.phones.extend(
            customer
                .get("phone")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        if subject.customer_ids.is_empty() && subject.emails.is_empty() {
            return Err(format!("{topic} customer has neither an id nor an email"));
        }
        let list = if action == PrivacyAction::Redact {
            "orders_to_redact"
        } else {
            "orders_requested"
        };
        match body.get(list) {
            None | Some(Value::Null) => {}
            Some(Value::Array(ids)) => {
                for id in ids {
                    subject
                        .orders
                        .push(id_text(id).ok_or_else(|| {
                            format!("{topic} {list} holds {id}, not an order id")
                        })?);
                }
            }
            Some(other) => {
                return Err(format!(
                    "{topic} {list} is {other}, not a list of order ids"
                ));
            }
        }
    }
    Ok(PrivacyDelivery {
        action,
        subject,
        delivery_id: header_str(headers, WEBHOOK_ID_HEADER).map(str::to_owned),
    })
}

/// Shopify's webhook intake.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShopifyWebhooks;

impl WebhookIntake for ShopifyWebhooks {
    fn secret_headers(&self) -> &'static [&'static str] {
        &[HMAC_HEADER, "x-shopify-access-token"]
    }

    fn describe(&self, headers: &HeaderMap) -> (String, String) {
        (
            header_str(headers, TOPIC_HEADER).unwrap_or("").to_owned(),
            header_str(headers, WEBHOOK_ID_HEADER)
                .unwrap_or("")
                .to_owned(),
        )
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8], secrets: &[WebhookSecret]) -> bool {
        header_str(headers, HMAC_HEADER).is_some_and(|sig| signature::verify(secrets, body, sig))
    }

    fn privacy_request(
        &self,
        headers: &HeaderMap,
        raw: &[u8],
        account: Option<&str>,
    ) -> Option<Result<PrivacyDelivery, String>> {
        let topic = header_str(headers, TOPIC_HEADER)?;
        let action = match topic {
            CUSTOMERS_REDACT => PrivacyAction::Redact,
            CUSTOMERS_DATA_REQUEST => PrivacyAction::Export,
            SHOP_REDACT => PrivacyAction::ShopRedact,
            _ => return None,
        };
        Some(parse_privacy(headers, raw, account, topic, action))
    }

    fn parse(
        &self,
        headers: &HeaderMap,
        raw: &[u8],
        account: Option<&str>,
    ) -> Result<WebhookDelivery, String> {
        let topic = header_str(headers, TOPIC_HEADER)
            .ok_or_else(|| "missing X-Shopify-Topic header".to_string())?;
        if let Some(shop) = account {
            match header_str(headers, SHOP_DOMAIN_HEADER) {
                Some(d) if d.eq_ignore_ascii_case(shop) => {}
                Some(d) => {
                    return Err(format!(
                        "delivery for shop {}, not this system's shop {shop}",
                        weft_platform::webhook::clip(d)
                    ));
                }
                None => return Err("missing X-Shopify-Shop-Domain header".into()),
            }
        }
        let mut value = normalize::parse_webhook_body(raw)
            .map_err(|e| format!("body is not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err("body is not a JSON object".into());
        }
        if value.get("updated_at").is_none_or(Value::is_null)
            && let Some(at) = header_str(headers, TRIGGERED_AT_HEADER)
            && let Some(obj) = value.as_object_mut()
        {
            obj.insert("updated_at".into(), Value::String(at.to_owned()));
        }
        // A delete topic carries only the id: journaled as a tombstone of that entity.
        let doc =
            match normalize::deletion_from_webhook(topic, &value).map_err(|e| e.to_string())? {
                Some(doc) => doc,
                None => {
                    let doc =
                        normalize::from_webhook(topic, &value, None).map_err(|e| e.to_string())?;
                    check_shape(topic, &value)?;
                    doc
                }
            };
        Ok(WebhookDelivery {
            kind: doc.kind.as_str().to_owned(),
            entity_id: doc.id,
            version: doc.updated_at,
            delivery_id: header_str(headers, WEBHOOK_ID_HEADER).map(str::to_owned),
            body: doc.body,
        })
    }
}

/// The topics weft subscribes to (GraphQL `WebhookSubscriptionTopic` names): everything the
/// normalizer reads.
pub const TOPICS: [&str; 9] = [
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "INVENTORY_LEVELS_UPDATE",
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "CUSTOMERS_CREATE",
    "CUSTOMERS_UPDATE",
    "PRODUCTS_DELETE",
    "CUSTOMERS_DELETE",
];

const LIST_SUBSCRIPTIONS: &str = "query WeftWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic callbackUrl }
    pageInfo { hasNextPage endCursor }
  }
}";

const CREATE_SUBSCRIPTION: &str = "mutation WeftWebhookCreate($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}";

/// The topics of [`TOPICS`] with no subscription delivering to `url` (a subscription Shopify
/// removed after failed deliveries, or one somebody deleted, is missing too).
pub async fn missing_subscriptions(
    client: &crate::ShopifyClient,
    url: &str,
) -> Result<Vec<&'static str>, weft_platform::ConnectorError> {
    let mut present = std::collections::BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let r = client
            .graphql(
                LIST_SUBSCRIPTIONS,
                serde_json::json!({ "after": after }),
                12,
            )
            .await?;
        let page = &r.data["webhookSubscriptions"];
        for n in page["nodes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if n["callbackUrl"].as_str() == Some(url)
                && let Some(t) = n["topic"].as_str()
            {
                present.insert(t.to_owned());
            }
        }
        if page["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
        if after.is_null() {
            break;
        }
    }
    Ok(TOPICS
        .iter()
        .copied()
        .filter(|t| !present.contains(*t))
        .collect())
}

/// Subscribes `url` to every topic of [`TOPICS`] it is missing; returns the topics created.
pub async fn ensure_subscriptions(
    client: &crate::ShopifyClient,
    url: &str,
) -> Result<Vec<&'static str>, weft_platform::ConnectorError> {
    let missing = missing_subscriptions(client, url).await?;
    for topic in &missing {
        let r = client
            .graphql(
                CREATE_SUBSCRIPTION,
                serde_json::json!({
                    "topic": topic,
                    "sub": { "callbackUrl": url, "format": "JSON" },
                }),
                10,
            )
            .await?;
        crate::check_user_errors(
            &r.data["webhookSubscriptionCreate"],
            "webhookSubscriptionCreate",
        )?;
    }
    Ok(missing)
}

/// Keeps a shop's webhook subscriptions to weft in place: creates the missing ones when the
/// store starts and checks them every reconciliation round, repairing what was removed
/// (Shopify deletes a subscription after repeated failed deliveries).
pub struct WebhookKeeper {
    name: String,
    store_id: String,
    client: std::sync::Arc<crate::ShopifyClient>,
    url: String,
}

impl WebhookKeeper {
    /// A keeper of `store_id`'s subscriptions of system `system` to `url`.
    pub fn new(
        store_id: impl Into<String>,
        system: &str,
        client: std::sync::Arc<crate::ShopifyClient>,
        url: impl Into<String>,
    ) -> Self {
        WebhookKeeper {
            name: format!("{system}-webhooks"),
            store_id: store_id.into(),
            client,
            url: url.into(),
        }
    }

    async fn round(&self) -> Result<weft_platform::PollReport, weft_platform::SourceError> {
        let created = ensure_subscriptions(&self.client, &self.url).await?;
        if !created.is_empty() {
            tracing::warn!(store = %self.store_id, keeper = %self.name, url = %self.url, topics = ?created, "webhook subscriptions were missing; created them");
        }
        Ok(weft_platform::PollReport::default())
    }
}

impl weft_platform::Poller for WebhookKeeper {
    /// Keeps the subscriptions in place: no hurry between checks.
    fn reconciles(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<weft_platform::PollReport, weft_platform::SourceError>>
    {
        Box::pin(self.round())
    }
    fn poll_full(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<weft_platform::PollReport, weft_platform::SourceError>>
    {
        Box::pin(self.round())
    }
}
