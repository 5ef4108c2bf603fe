//! Webhook callbacks: one POST per (event, active hook whose scope matches) with the thin
//! payload `{"scope","store_id","data":{"type","id"},"hash","created_at","producer"}` and the
//! hook's custom `headers` (the only shared secret BigCommerce offers). Only a 2xx
//! acknowledges; anything else (or no answer in time) is retried after the configured delays,
//! and a callback whose last retry fails deactivates its hook (`is_active: false`). Seeded chaos
//! (drop, duplicate, reorder) is decided when the event fires; every callback is logged.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use crate::config::WebhookConfig;
use crate::sim::Shared;
use crate::store::Event;

/// The thin payload of `event` for store `store_id` / `store_hash`.
pub fn payload(event: &Event, store_id: &str, store_hash: &str) -> Value {
    let mut data = json!({ "type": event.data_type, "id": event.id });
    if let Some((k, v)) = &event.detail {
        data[k.as_str()] = v.clone();
    }
    let hashed = json!({ "scope": event.scope, "data": data, "created_at": event.created_at });
    let hash = hex::encode(Sha1::digest(hashed.to_string().as_bytes()));
    json!({
        "scope": event.scope,
        "store_id": store_id,
        "data": data,
        "hash": hash,
        "created_at": event.created_at,
        "producer": format!("stores/{store_hash}"),
    })
}

/// One HTTP request made for a callback.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// Milliseconds since the simulator started (tokio clock).
    pub at_ms: u64,
    /// Status, if answered.
    pub status: Option<u16>,
    /// Transport error or timeout.
    pub error: Option<String>,
    /// A chaos duplicate.
    pub duplicate: bool,
}

/// The fate of one (event, hook) callback.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    /// Firing order.
    pub seq: u64,
    /// Hook.
    pub hook_id: u64,
    /// Scope.
    pub scope: String,
    /// `data.type`.
    pub data_type: String,
    /// `data.id`.
    pub resource_id: u64,
    /// `hash`.
    pub hash: String,
    /// Chaos: never sent.
    pub dropped: bool,
    /// Chaos: sent twice.
    pub duplicated: bool,
    /// Held back this long before the first attempt.
    pub delay_ms: u64,
    /// Acknowledged with a 2xx.
    pub delivered: bool,
    /// Every retry failed.
    pub failed: bool,
    /// This callback's failure deactivated its hook.
    pub deactivated_hook: bool,
    /// Abandoned because its hook was deactivated or deleted meanwhile.
    pub abandoned: bool,
    /// Requests made.
    pub attempts: Vec<Attempt>,
}

/// Aggregate counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct WebhookStats {
    /// Callbacks created.
    pub callbacks: u64,
    /// Dropped by chaos.
    pub dropped: u64,
    /// Duplicated by chaos.
    pub duplicated: u64,
    /// Acknowledged.
    pub delivered: u64,
    /// Failed after every retry.
    pub failed: u64,
    /// Retries made (attempts after the first).
    pub retries: u64,
    /// Hooks deactivated after failures.
    pub hooks_deactivated: u64,
    /// Callbacks not settled yet.
    pub pending: u64,
    /// HTTP requests made.
    pub requests: u64,
}

struct HubState {
    rng: ChaCha8Rng,
    log: Vec<DeliveryRecord>,
    pending: u64,
    deactivated: u64,
}

/// Chaos decisions, the delivery log and the senders.
pub struct WebhookHub {
    config: WebhookConfig,
    state: Mutex<HubState>,
    client: reqwest::Client,
    started: tokio::time::Instant,
}

impl WebhookHub {
    /// A hub.
    pub fn new(config: WebhookConfig, seed: u64) -> Self {
        WebhookHub {
            client: reqwest::Client::builder()
                .timeout(config.timeout)
                .build()
                .expect("reqwest client"),
            config,
            state: Mutex::new(HubState {
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x4243_4843),
                log: Vec::new(),
                pending: 0,
                deactivated: 0,
            }),
            started: tokio::time::Instant::now(),
        }
    }

    /// Sends `events` to the hooks of `targets` (id, destination, headers, scope matcher), each
    /// as a task of its own on the current runtime.
    pub fn dispatch(
        &self,
        shared: Weak<Shared>,
        events: Vec<Event>,
        targets: &[(u64, String, Map<String, Value>, String)],
        store_id: &str,
        store_hash: &str,
    ) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        for event in events {
            for (hook_id, destination, headers, scope) in targets {
                let h = crate::store::Hook {
                    id: *hook_id,
                    scope: scope.clone(),
                    destination: String::new(),
                    is_active: true,
                    headers: Map::new(),
                    created_at: 0,
                    updated_at: 0,
                };
                if !h.matches(&event.scope) {
                    continue;
                }
                let body = payload(&event, store_id, store_hash);
                let (index, dropped, duplicated, delay) = {
                    let mut st = self.state.lock();
                    let ch = &self.config.chaos;
                    let dropped = st.rng.random::<f64>() < ch.drop_rate;
                    let duplicated = !dropped && st.rng.random::<f64>() < ch.duplicate_rate;
                    let window = ch.reorder_window.as_millis() as u64;
                    let delay = if window > 0 {
                        st.rng.random_range(0..=window)
                    } else {
                        0
                    };
                    let seq = st.log.len() as u64;
                    st.log.push(DeliveryRecord {
                        seq,
                        hook_id: *hook_id,
                        scope: event.scope.clone(),
                        data_type: event.data_type.clone(),
                        resource_id: event.id,
                        hash: body["hash"].as_str().unwrap_or_default().to_owned(),
                        dropped,
                        duplicated,
                        delay_ms: delay,
                        delivered: false,
                        failed: false,
                        deactivated_hook: false,
                        abandoned: false,
                        attempts: Vec::new(),
                    });
                    if !dropped {
                        st.pending += 1;
                    }
                    (seq as usize, dropped, duplicated, delay)
                };
                if dropped {
                    continue;
                }
                let job = Job {
                    index,
                    hook_id: *hook_id,
                    url: destination.clone(),
                    headers: headers.clone(),
                    body: Arc::new(body.to_string()),
                    delay: Duration::from_millis(delay),
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let Some(s) = shared.upgrade() else { return };
                    s.hub.run(&s, job, duplicated).await;
                });
            }
        }
    }

    async fn send(&self, job: &Job, duplicate: bool) -> bool {
        let mut req = self
            .client
            .post(&job.url)
            .header("content-type", "application/json")
            .header("user-agent", "BigCommerce-Webhooks/1.0 (weft simulator)")
            .body(job.body.as_ref().clone());
        for (k, v) in &job.headers {
            if let Some(v) = v.as_str() {
                req = req.header(k.as_str(), v);
            }
        }
        let at_ms = self.started.elapsed().as_millis() as u64;
        let (status, error) = match req.send().await {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        self.state.lock().log[job.index].attempts.push(Attempt {
            at_ms,
            status,
            error,
            duplicate,
        });
        ok
    }

    async fn run(&self, shared: &Shared, job: Job, duplicated: bool) {
        if !job.delay.is_zero() {
            tokio::time::sleep(job.delay).await;
        }
        let mut attempt = 0usize;
        let outcome = loop {
            if !shared.hook_active(job.hook_id) {
                break Outcome::Abandoned;
            }
            let ok = self.send(&job, false).await;
            if ok {
                if duplicated && attempt == 0 {
                    self.send(&job, true).await;
                }
                break Outcome::Delivered;
            }
            match self.config.retry_delays.get(attempt) {
                Some(d) => {
                    attempt += 1;
                    tokio::time::sleep(*d).await;
                }
                None => break Outcome::Failed,
            }
        };
        let deactivated = matches!(outcome, Outcome::Failed) && shared.deactivate_hook(job.hook_id);
        let mut st = self.state.lock();
        st.pending = st.pending.saturating_sub(1);
        if deactivated {
            st.deactivated += 1;
        }
        let rec = &mut st.log[job.index];
        match outcome {
            Outcome::Delivered => rec.delivered = true,
            Outcome::Failed => {
                rec.failed = true;
                rec.deactivated_hook = deactivated;
            }
            Outcome::Abandoned => rec.abandoned = true,
        }
    }

    /// Every callback so far.
    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.state.lock().log.clone()
    }

    /// Counters.
    pub fn stats(&self) -> WebhookStats {
        let st = self.state.lock();
        let mut s = WebhookStats {
            callbacks: st.log.len() as u64,
            pending: st.pending,
            hooks_deactivated: st.deactivated,
            ..WebhookStats::default()
        };
        for r in &st.log {
            s.dropped += r.dropped as u64;
            s.duplicated += r.duplicated as u64;
            s.delivered += r.delivered as u64;
            s.failed += r.failed as u64;
            let originals = r.attempts.iter().filter(|a| !a.duplicate).count() as u64;
            s.retries += originals.saturating_sub(1);
            s.requests += r.attempts.len() as u64;
        }
        s
    }
}

enum Outcome {
    Delivered,
    Failed,
    Abandoned,
}

struct Job {
    index: usize,
    hook_id: u64,
    url: String,
    headers: Map<String, Value>,
    body: Arc<String>,
    delay: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_same_for_one_event_and_differs_between_events() {
        let e = Event {
            scope: "store/product/updated".into(),
            data_type: "product".into(),
            id: 111,
            detail: None,
            created_at: 1_768_478_400,
        };
        let a = payload(&e, "1001234", "abc");
        let b = payload(&e, "1001234", "abc");
        assert_eq!(a, b);
        assert_eq!(a["producer"], "stores/abc");
        assert_eq!(a["data"], json!({"type": "product", "id": 111}));
        assert_eq!(a["hash"].as_str().unwrap().len(), 40);
        let later = Event {
            created_at: e.created_at + 1,
            ..e.clone()
        };
        assert_ne!(payload(&later, "1001234", "abc")["hash"], a["hash"]);
    }
}
