//! Webhook delivery as `WC_Webhook::deliver` does it: one POST per (event, webhook), the
//! `X-WC-Webhook-*` headers, `X-WC-Webhook-Signature` = base64 HMAC-SHA256 of the exact body
//! with the webhook's secret, success = a status in 200..303, **never re-sent**; a failure
//! with `failure_count` already above the maximum disables the webhook. Seeded chaos (drop,
//! duplicate, reorder window, delay) is decided when the event fires; every delivery is logged.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::config::WebhookConfig;
use crate::sim::Shared;
use crate::store::{Event, Kind};

const USER_AGENT: &str = "WooCommerce/9.4.0 Hookshot (WordPress/6.7.1)";

/// base64(HMAC-SHA256(body, secret)): `WC_Webhook::generate_signature`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `wp_json_encode`: JSON with `/` escaped as `\/` and non-ASCII as `\uXXXX`, as PHP's
/// `json_encode` writes it (so a receiver must verify the raw bytes, not a re-serialisation).
pub fn php_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if (c as u32) > 0x7f => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Which copy a sent request was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    /// The delivery.
    Original,
    /// A chaos duplicate.
    Duplicate,
}

/// One HTTP request made for a delivery.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// Copy.
    pub copy: CopyKind,
    /// Real milliseconds since the simulator started (tokio clock).
    pub at_ms: u64,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// Transport error or timeout.
    pub error: Option<String>,
}

/// The fate of one (event, webhook) delivery.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    /// Sequence in firing order.
    pub seq: u64,
    /// `X-WC-Webhook-Delivery-ID`.
    pub delivery_id: String,
    /// `X-WC-Webhook-ID`.
    pub webhook_id: u64,
    /// Topic.
    pub topic: String,
    /// Resource id.
    pub resource_id: u64,
    /// Delivery URL at fire time.
    pub delivery_url: String,
    /// Chaos: never sent.
    pub dropped: bool,
    /// Chaos: sent twice.
    pub duplicated: bool,
    /// Chaos: held back by the delay.
    pub delayed: bool,
    /// Real milliseconds held back before sending.
    pub delay_ms: u64,
    /// Sent after a later delivery of the same webhook.
    pub reordered: bool,
    /// The original copy was accepted (200..303).
    pub delivered: bool,
    /// The original copy failed (never re-sent).
    pub failed: bool,
    /// This failure disabled the webhook.
    pub disabled_webhook: bool,
    /// Requests made.
    pub attempts: Vec<Attempt>,
}

/// Aggregate counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct WebhookStats {
    /// Deliveries created.
    pub deliveries: u64,
    /// Dropped by chaos.
    pub dropped: u64,
    /// Duplicated by chaos.
    pub duplicated: u64,
    /// Delayed by chaos.
    pub delayed: u64,
    /// Sent out of order.
    pub reordered: u64,
    /// Accepted.
    pub delivered: u64,
    /// Failed.
    pub failed: u64,
    /// Requests not finished yet.
    pub pending: u64,
    /// HTTP requests made.
    pub requests: u64,
    /// Webhooks disabled after repeated failures.
    pub webhooks_disabled: u64,
}

/// A webhook as a delivery needs it.
#[derive(Clone, Debug)]
pub struct Target {
    /// Id.
    pub id: u64,
    /// Topic.
    pub topic: String,
    /// URL.
    pub delivery_url: String,
    /// Secret.
    pub secret: String,
}

struct HubState {
    pings: Vec<(u64, Option<u16>)>,
    rng: ChaCha8Rng,
    log: Vec<DeliveryRecord>,
    max_sent_seq: BTreeMap<u64, u64>,
    in_flight: u64,
    disabled: u64,
}

struct Job {
    index: usize,
    copy: CopyKind,
    delay: Duration,
    body: Arc<Vec<u8>>,
    secret: String,
}

/// Chaos decisions, the delivery log and the sending loop.
pub struct WebhookHub {
    config: WebhookConfig,
    state: Mutex<HubState>,
    tx: mpsc::UnboundedSender<Job>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    started_at: tokio::time::Instant,
}

impl WebhookHub {
    /// A hub.
    pub fn new(config: WebhookConfig, seed: u64) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        WebhookHub {
            config,
            state: Mutex::new(HubState {
                pings: Vec::new(),
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5743_5748),
                log: Vec::new(),
                max_sent_seq: BTreeMap::new(),
                in_flight: 0,
                disabled: 0,
            }),
            tx,
            rx: Mutex::new(Some(rx)),
            started_at: tokio::time::Instant::now(),
        }
    }

    /// Starts the sending loop on the current runtime (idempotent).
    pub fn start(&self, shared: Weak<Shared>) {
        let Some(mut rx) = self.rx.lock().take() else {
            return;
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(self.config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client builds");
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let Some(sh) = shared.upgrade() else { break };
                let client = client.clone();
                tokio::spawn(async move { run_job(sh, client, job).await });
            }
        });
    }

    /// Creates deliveries for fired events to the active webhooks of their topics, deciding
    /// each one's chaos now from the seeded generator.
    pub fn dispatch(&self, events: Vec<Event>, targets: &[Target]) {
        let chaos = self.config.chaos.clone();
        let mut jobs = Vec::new();
        {
            let mut st = self.state.lock();
            for ev in events {
                for t in targets.iter().filter(|t| t.topic == ev.topic) {
                    let delivery_id: String = (0..32)
                        .map(|_| char::from_digit(st.rng.random_range(0..16), 16).unwrap_or('0'))
                        .collect();
                    let dropped = st.rng.random_bool(chaos.drop_rate);
                    let duplicated = !dropped && st.rng.random_bool(chaos.duplicate_rate);
                    let delayed = !dropped && st.rng.random_bool(chaos.delay_rate);
                    let mut delay_ms = if chaos.reorder_window_ms > 0 {
                        st.rng.random_range(0..=chaos.reorder_window_ms)
                    } else {
                        0
                    };
                    if delayed {
                        delay_ms += chaos.delay_ms;
                    }
                    let index = st.log.len();
                    st.log.push(DeliveryRecord {
                        seq: index as u64,
                        delivery_id,
                        webhook_id: t.id,
                        topic: ev.topic.clone(),
                        resource_id: ev.resource_id,
                        delivery_url: t.delivery_url.clone(),
                        dropped,
                        duplicated,
                        delayed,
                        delay_ms,
                        reordered: false,
                        delivered: false,
                        failed: false,
                        disabled_webhook: false,
                        attempts: Vec::new(),
                    });
                    if dropped {
                        continue;
                    }
                    let body = Arc::new(php_json(&ev.body).trim().as_bytes().to_vec());
                    let delay = Duration::from_millis(delay_ms);
                    jobs.push(Job {
                        index,
                        copy: CopyKind::Original,
                        delay,
                        body: body.clone(),
                        secret: t.secret.clone(),
                    });
                    st.in_flight += 1;
                    if duplicated {
                        jobs.push(Job {
                            index,
                            copy: CopyKind::Duplicate,
                            delay: delay + Duration::from_millis(1),
                            body,
                            secret: t.secret.clone(),
                        });
                        st.in_flight += 1;
                    }
                }
            }
        }
        for job in jobs {
            let _ = self.tx.send(job);
        }
    }

    /// Sends the activation ping `WC_Webhook::deliver_ping` sends: a form POST with
    /// `webhook_id=N`, unsigned; only a 200 clears the webhook's pending state. Its outcome
    /// never counts as a delivery failure.
    pub fn ping(&self, sh: Arc<Shared>, id: u64, url: String) {
        self.state.lock().in_flight += 1;
        let timeout = Duration::from_millis(self.config.timeout_ms);
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("reqwest client builds");
            let status = client
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("User-Agent", USER_AGENT)
                .body(format!("webhook_id={id}"))
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16());
            if status == Some(200) {
                sh.store.lock().ping_succeeded(id);
            }
            let mut st = sh.hub.state.lock();
            st.pings.push((id, status));
            st.in_flight -= 1;
        });
    }

    /// Pings sent: (webhook id, status).
    pub fn pings(&self) -> Vec<(u64, Option<u16>)> {
        self.state.lock().pings.clone()
    }

    /// Counters.
    pub fn stats(&self) -> WebhookStats {
        let st = self.state.lock();
        let mut s = WebhookStats {
            deliveries: st.log.len() as u64,
            pending: st.in_flight,
            webhooks_disabled: st.disabled,
            ..WebhookStats::default()
        };
        for r in &st.log {
            s.dropped += r.dropped as u64;
            s.duplicated += r.duplicated as u64;
            s.delayed += r.delayed as u64;
            s.reordered += r.reordered as u64;
            s.delivered += r.delivered as u64;
            s.failed += r.failed as u64;
            s.requests += r.attempts.len() as u64;
        }
        s
    }

    /// The delivery log.
    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.state.lock().log.clone()
    }

    /// True when nothing is waiting or in flight.
    pub fn idle(&self) -> bool {
        self.state.lock().in_flight == 0
    }

    fn elapsed_ms(&self) -> u64 {
        tokio::time::Instant::now()
            .saturating_duration_since(self.started_at)
            .as_millis() as u64
    }
}

async fn run_job(sh: Arc<Shared>, client: reqwest::Client, job: Job) {
    tokio::time::sleep(job.delay).await;
    let hub = &sh.hub;
    let rec = {
        let mut st = hub.state.lock();
        let rec = st.log[job.index].clone();
        if job.copy == CopyKind::Original {
            let max = st.max_sent_seq.entry(rec.webhook_id).or_insert(0);
            let reordered = rec.seq < *max;
            if !reordered {
                *max = rec.seq;
            }
            st.log[job.index].reordered = reordered;
        }
        rec
    };
    let (resource, event) = rec.topic.split_once('.').unwrap_or((&rec.topic, ""));
    let kind = match resource {
        "product" => Some(Kind::Product),
        "order" => Some(Kind::Order),
        "customer" => Some(Kind::Customer),
        _ => None,
    };
    let body: Arc<Vec<u8>> = match kind {
        Some(kind) if hub.config.payload_at_delivery && event != "deleted" => {
            let now = sh.store.lock().render(kind, rec.resource_id);
            if now.is_null() {
                job.body.clone()
            } else {
                Arc::new(php_json(&now).into_bytes())
            }
        }
        _ => job.body.clone(),
    };
    let source = format!("{}/", sh.site_url());
    let resp = client
        .post(&rec.delivery_url)
        .header("Content-Type", "application/json")
        .header("User-Agent", USER_AGENT)
        .header("X-WC-Webhook-Source", source)
        .header("X-WC-Webhook-Topic", &rec.topic)
        .header("X-WC-Webhook-Resource", resource)
        .header("X-WC-Webhook-Event", event)
        .header("X-WC-Webhook-Signature", sign(&job.secret, &body))
        .header("X-WC-Webhook-ID", rec.webhook_id.to_string())
        .header("X-WC-Webhook-Delivery-ID", &rec.delivery_id)
        .body(body.as_ref().clone())
        .send()
        .await;
    let at_ms = hub.elapsed_ms();
    let (status, error) = match &resp {
        Ok(r) => (Some(r.status().as_u16()), None),
        Err(e) => (
            None,
            Some(if e.is_timeout() {
                "timeout".to_string()
            } else if e.is_connect() {
                "connect error".to_string()
            } else {
                "transport error".to_string()
            }),
        ),
    };
    let ok = status.is_some_and(|s| (200..303).contains(&s));
    let disabled = if job.copy == CopyKind::Original {
        sh.store
            .lock()
            .delivery_outcome(rec.webhook_id, ok, hub.config.max_delivery_failures)
    } else {
        false
    };
    let mut st = hub.state.lock();
    let r = &mut st.log[job.index];
    r.attempts.push(Attempt {
        copy: job.copy,
        at_ms,
        status,
        error,
    });
    if job.copy == CopyKind::Original {
        r.delivered = ok;
        r.failed = !ok;
        r.disabled_webhook = disabled;
    }
    if disabled {
        st.disabled += 1;
    }
    st.in_flight -= 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_known_vector() {
        // echo -n '{"a":1}' | openssl dgst -sha256 -hmac secret -binary | base64
        assert_eq!(
            sign("secret", br#"{"a":1}"#),
            "qp4uNXX11wmLbKzNeQiIw21f22M0KnO62i1qUXR6hJQ="
        );
    }

    #[test]
    fn json_is_written_as_php_writes_it() {
        let v = serde_json::json!({"u": "http://x/é", "e": "😀", "n": 1.5});
        assert_eq!(
            php_json(&v),
            r#"{"u":"http:\/\/x\/\u00e9","e":"\ud83d\ude00","n":1.5}"#
        );
    }
}
