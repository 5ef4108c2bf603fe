//! weft's user event script (`platforms/netsuite/suitescript/weft_push.js`) as the simulator
//! runs it: after each save of a record the script is deployed on (every record type the
//! simulator models but locations; creates, edits and deletes, by REST or as an ERP user), a
//! small notification is posted to weft, signed the same way, with seeded chaos on the way.
//!
//! Assumptions (what the script does, and what the network may do to it):
//!
//! - The body is the script's: `{"account", "recordType", "id", "event", "lastModifiedDate",
//!   "deliveryId"}` in that order, compact JSON; `recordType` as SuiteScript names it (the REST
//!   name in lower case), `id` as a string, `lastModifiedDate` the record's date after the save
//!   as JavaScript's `toISOString` renders it (milliseconds, `Z`; the time of the delete for a
//!   delete), `deliveryId` `<account>:<recordType>:<id>:<epoch ms>:<random>`.
//! - Headers: `Content-Type: application/json`, `X-Weft-Signature` (base64 HMAC-SHA256 of the
//!   body under the secret), `X-Weft-Delivery`, `X-Weft-Topic: <recordType>/<event>`.
//! - The script posts once and never retries (a user event runs once per save); what is lost
//!   is lost, and weft's change capture finds it. NetSuite's outbound HTTPS has a fixed 5 s
//!   connect timeout; the record is committed before `afterSubmit` runs, so an unreachable
//!   weft never fails a save. The simulator posts from a background task: a save never waits.
//! - Chaos (seeded from the simulator's seed): a notification dropped, sent twice, or held back
//!   by up to the reorder window (so later ones overtake it), plus a fixed delay.
//! - Saves by the system rather than a user (commitments recomputed, an order's status moved
//!   by its fulfilment) trigger no user event, as in NetSuite: the fulfilment's own save does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::Sha256;

use crate::records::Saved;
use crate::sim::NetSuiteSim;

/// Where and how the simulated script posts.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// weft's intake URL for the system (`<public_url>/webhooks/<system>/<store>`).
    pub url: String,
    /// The HMAC secret (the script's API secret).
    pub secret: String,
    /// Share of notifications lost.
    pub drop_rate: f64,
    /// Share of notifications sent twice.
    pub duplicate_rate: f64,
    /// Up to how long a held-back notification waits (ms); 30% are held back.
    pub reorder_window_ms: u64,
    /// Delay of every notification (ms).
    pub delay_ms: u64,
    /// Connect timeout (NetSuite's is 5 s).
    pub connect_timeout: Duration,
}

impl PushConfig {
    /// Posts to `url` signed with `secret`, without chaos.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        PushConfig {
            url: url.into(),
            secret: secret.into(),
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_window_ms: 0,
            delay_ms: 0,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// What the simulated script did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushStats {
    /// Saves the script ran for.
    pub saves: u64,
    /// Notifications lost by the chaos.
    pub dropped: u64,
    /// Sent twice.
    pub duplicated: u64,
    /// Held back (overtaken by later ones).
    pub reordered: u64,
    /// Posts answered 2xx.
    pub delivered: u64,
    /// Posts that failed (unreachable, timed out, refused with a non-2xx answer).
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    saves: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// The running script of one simulated account.
pub(crate) struct Pusher {
    config: Mutex<PushConfig>,
    rng: Mutex<ChaCha8Rng>,
    counters: Arc<Counters>,
    http: reqwest::Client,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Pusher {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }
}

/// The script's body for a save (see the module's assumptions).
pub fn notification(account: &str, save: &Saved, delivery_id: &str) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        account: &'a str,
        record_type: String,
        id: String,
        event: &'a str,
        last_modified_date: String,
        delivery_id: &'a str,
    }
    serde_json::to_string(&Body {
        account,
        record_type: save.record_type.name().to_ascii_lowercase(),
        id: save.id.to_string(),
        event: save.event,
        last_modified_date: save
            .modified
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        delivery_id,
    })
    .expect("a struct of strings serializes")
}

/// The `X-Weft-Signature` of `body` under `secret`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl NetSuiteSim {
    /// Deploys the push script: from now on every save posts a notification as `config`
    /// says (call again to change the URL, secret or chaos). Needs a tokio runtime.
    pub fn push_to(&self, config: PushConfig) {
        let mut slot = self.inner.push.lock();
        if let Some(p) = slot.as_ref() {
            *p.config.lock() = config;
            return;
        }
        let pusher = Arc::new(Pusher {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(
                self.inner.config.seed ^ 0x5eed_9005,
            )),
            http: reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .timeout(Duration::from_secs(45))
                .build()
                .expect("a plain HTTP client builds"),
            config: Mutex::new(config),
            counters: Arc::default(),
            task: Mutex::new(None),
        });
        let wake = Arc::new(tokio::sync::Notify::new());
        self.inner.state.lock().db.keep_saves(wake.clone());
        let sim = Arc::downgrade(&self.inner);
        let me = Arc::downgrade(&pusher);
        let account = self.inner.config.account_id.clone();
        *pusher.task.lock() = Some(tokio::spawn(async move {
            loop {
                wake.notified().await;
                let (Some(inner), Some(p)) = (sim.upgrade(), me.upgrade()) else {
                    return;
                };
                let saves = inner.state.lock().db.take_saves();
                for save in saves {
                    p.post(&account, &save);
                }
            }
        }));
        *slot = Some(pusher);
    }

    /// Changes the secret the script signs with (a rotation).
    pub fn set_push_secret(&self, secret: impl Into<String>) {
        if let Some(p) = self.inner.push.lock().as_ref() {
            p.config.lock().secret = secret.into();
        }
    }

    /// What the script did so far.
    pub fn push_stats(&self) -> PushStats {
        let Some(p) = self.inner.push.lock().as_ref().map(|p| p.counters.clone()) else {
            return PushStats::default();
        };
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PushStats {
            saves: l(&p.saves),
            dropped: l(&p.dropped),
            duplicated: l(&p.duplicated),
            reordered: l(&p.reordered),
            delivered: l(&p.delivered),
            failed: l(&p.failed),
        }
    }
}

impl Pusher {
    fn post(&self, account: &str, save: &Saved) {
        let c = &self.counters;
        c.saves.fetch_add(1, Ordering::Relaxed);
        let cfg = self.config.lock().clone();
        let mut rng = self.rng.lock();
        let delivery = format!(
            "{account}:{}:{}:{}:{:08x}",
            save.record_type.name().to_ascii_lowercase(),
            save.id,
            save.modified.timestamp_millis(),
            rng.random::<u32>()
        );
        if rng.random::<f64>() < cfg.drop_rate {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let body = notification(account, save, &delivery);
        let signature = signature(&cfg.secret, &body);
        let topic = format!(
            "{}/{}",
            save.record_type.name().to_ascii_lowercase(),
            save.event
        );
        let hold = |rng: &mut ChaCha8Rng| {
            let mut d = cfg.delay_ms;
            if cfg.reorder_window_ms > 0 && rng.random::<f64>() < 0.3 {
                c.reordered.fetch_add(1, Ordering::Relaxed);
                d += rng.random_range(0..=cfg.reorder_window_ms);
            }
            Duration::from_millis(d)
        };
        let mut sends = vec![hold(&mut rng)];
        if rng.random::<f64>() < cfg.duplicate_rate {
            c.duplicated.fetch_add(1, Ordering::Relaxed);
            sends.push(hold(&mut rng));
        }
        drop(rng);
        for delay in sends {
            let (http, url, body, signature, delivery, topic, counters) = (
                self.http.clone(),
                cfg.url.clone(),
                body.clone(),
                signature.clone(),
                delivery.clone(),
                topic.clone(),
                self.counters.clone(),
            );
            tokio::spawn(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let ok = http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-weft-signature", signature)
                    .header("x-weft-delivery", delivery)
                    .header("x-weft-topic", topic)
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }
}
