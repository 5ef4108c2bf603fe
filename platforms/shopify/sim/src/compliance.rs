//! Shopify's mandatory compliance webhooks: `customers/redact`, `customers/data_request` and
//! `shop/redact`, sent to the app's compliance URL, signed like every webhook
//! (`X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body with the app's secret), with
//! Shopify's headers and payloads:
//!
//! ```json
//! customers/redact       {"shop_id", "shop_domain", "customer": {"id", "email", "phone"}, "orders_to_redact": [ids]}
//! customers/data_request {"shop_id", "shop_domain", "orders_requested": [ids], "customer": {"id", "email", "phone"}, "data_request": {"id"}}
//! shop/redact            {"shop_id", "shop_domain"}
//! ```
//!
//! Assumptions (Shopify's documentation is silent on these):
//! - The compliance URL is app configuration (Partner Dashboard, `compliance_topics` in
//!   `shopify.app.toml`), not a `webhookSubscriptionCreate` subscription: it is set through
//!   [`ShopifySim::set_compliance_uri`] or `POST /_sim/compliance/uri`, and the Admin API does
//!   not list it.
//! - Ids are JSON numbers, as in Shopify's examples; `phone` is `null` when the customer has
//!   none.
//! - Before `customers/redact` is sent, the simulator erases the customer in the shop as the
//!   merchant's erasure does: the customer keeps its id (so its orders keep their customer) and
//!   loses its email, names, phone and addresses; its orders lose their email, billing and
//!   shipping addresses and note. The erasure fires no webhook. `orders_to_redact` lists every
//!   order of the customer.
//! - A delivery is sent once per call and its answer returned; [`ShopifySim::redeliver`] sends
//!   the same delivery again with the same `X-Shopify-Webhook-Id`, as Shopify's retries do.

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::{Value, json};

use crate::sim::{ShopifySim, SimError};
use crate::webhooks::sign;

/// One compliance delivery and the answer it got.
#[derive(Clone, Debug, Serialize)]
pub struct ComplianceDelivery {
    /// `customers/redact`, `customers/data_request` or `shop/redact`.
    pub topic: String,
    /// `X-Shopify-Webhook-Id` (kept by a redelivery).
    pub webhook_id: String,
    /// The payload.
    pub body: Value,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
}

impl ShopifySim {
    /// Sets the app's compliance webhook URL.
    pub fn set_compliance_uri(&self, uri: &str) {
        *self.shared.compliance_uri.lock() = Some(uri.to_owned());
    }

    fn shop_id(&self) -> u64 {
        // A stable number per shop domain (the simulator has one shop).
        self.config()
            .shop_domain
            .bytes()
            .fold(548_380_009u64, |h, b| {
                h.wrapping_mul(31).wrapping_add(u64::from(b))
            })
            % 1_000_000_000
    }

    /// Erases `customer_id` in the shop (see the module docs) and sends `customers/redact`.
    pub async fn request_customer_redact(
        &self,
        customer_id: u64,
    ) -> Result<ComplianceDelivery, SimError> {
        let (customer, orders) = self.compliance_subject(customer_id)?;
        {
            let mut st = self.shared.state.lock();
            if let Some(c) = st.customers.get_mut(&customer_id) {
                c.email = None;
                c.first_name = None;
                c.last_name = None;
                c.phone = None;
                c.addresses.clear();
                c.default_address_id = None;
            }
            for o in st.orders.values_mut() {
                if o.customer_id == Some(customer_id) {
                    o.email = None;
                    o.checkout.billing_address = None;
                    o.checkout.shipping_address = None;
                    o.checkout.note = None;
                }
            }
        }
        let body = json!({
            "shop_id": self.shop_id(),
            "shop_domain": self.config().shop_domain,
            "customer": customer,
            "orders_to_redact": orders,
        });
        self.send_compliance("customers/redact", body, None).await
    }

    /// Sends `customers/data_request` for `customer_id` (nothing changes in the shop).
    pub async fn request_customer_data(
        &self,
        customer_id: u64,
    ) -> Result<ComplianceDelivery, SimError> {
        let (customer, orders) = self.compliance_subject(customer_id)?;
        let request_id = 9_000 + customer_id % 1_000;
        let body = json!({
            "shop_id": self.shop_id(),
            "shop_domain": self.config().shop_domain,
            "orders_requested": orders,
            "customer": customer,
            "data_request": {"id": request_id},
        });
        self.send_compliance("customers/data_request", body, None)
            .await
    }

    /// Sends `shop/redact` (48 hours after the app was uninstalled, in Shopify).
    pub async fn request_shop_redact(&self) -> Result<ComplianceDelivery, SimError> {
        let body = json!({
            "shop_id": self.shop_id(),
            "shop_domain": self.config().shop_domain,
        });
        self.send_compliance("shop/redact", body, None).await
    }

    /// Sends `delivery` again, with its webhook id.
    pub async fn redeliver(
        &self,
        delivery: &ComplianceDelivery,
    ) -> Result<ComplianceDelivery, SimError> {
        self.send_compliance(
            &delivery.topic,
            delivery.body.clone(),
            Some(delivery.webhook_id.clone()),
        )
        .await
    }

    fn compliance_subject(&self, customer_id: u64) -> Result<(Value, Vec<u64>), SimError> {
        let st = self.shared.state.lock();
        let c = st
            .customers
            .get(&customer_id)
            .ok_or_else(|| SimError::NotFound(format!("customer {customer_id}")))?;
        let customer = json!({"id": c.id, "email": c.email, "phone": c.phone});
        let orders = st
            .orders
            .values()
            .filter(|o| o.customer_id == Some(customer_id))
            .map(|o| o.id)
            .collect();
        Ok((customer, orders))
    }

    async fn send_compliance(
        &self,
        topic: &str,
        body: Value,
        webhook_id: Option<String>,
    ) -> Result<ComplianceDelivery, SimError> {
        let uri = self
            .shared
            .compliance_uri
            .lock()
            .clone()
            .ok_or_else(|| SimError::Invalid("no compliance webhook URL is set".into()))?;
        let webhook_id = webhook_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let raw = serde_json::to_vec(&body).map_err(|e| SimError::Invalid(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| SimError::Invalid(e.to_string()))?;
        let mut req = client
            .post(&uri)
            .header("Content-Type", "application/json")
            .header("User-Agent", "Shopify-Captain-Hook")
            .header("X-Shopify-Topic", topic)
            .header("X-Shopify-Shop-Domain", &self.config().shop_domain)
            .header("X-Shopify-API-Version", "2026-04")
            .header("X-Shopify-Webhook-Id", &webhook_id)
            .header(
                "X-Shopify-Triggered-At",
                self.now().to_rfc3339_opts(SecondsFormat::Millis, true),
            )
            .body(raw.clone());
        if let Some(secret) = self.signing_secret() {
            req = req.header("X-Shopify-Hmac-Sha256", sign(&secret, &raw));
        }
        let status = req.send().await.ok().map(|r| r.status().as_u16());
        Ok(ComplianceDelivery {
            topic: topic.to_owned(),
            webhook_id,
            body,
            status,
        })
    }
}
