//! The simulator handle: shared state, the account-wide concurrency gate, inspection, and
//! serving on a listener.

use crate::auth::NonceCache;
use crate::clock::{SimClock, format_datetime};
use crate::config::SimConfig;
use crate::error::ConfigError;
use crate::oauth1::Credentials;
use crate::records::{Db, RecordType, WriteCounts};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// A simulated NetSuite account. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct NetSuiteSim {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: SimConfig,
    pub(crate) clock: SimClock,
    pub(crate) state: Mutex<State>,
    pub(crate) gate: Gate,
    pub(crate) base_url: Mutex<Option<String>>,
    /// The push script, once deployed ([`NetSuiteSim::push_to`]).
    pub(crate) push: Mutex<Option<Arc<crate::push::Pusher>>>,
}

pub(crate) struct State {
    pub(crate) db: Db,
    pub(crate) nonces: NonceCache,
    pub(crate) log: VecDeque<RequestLogEntry>,
    pub(crate) next_seq: u64,
    pub(crate) audit: Vec<LoginAuditEntry>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) per_integration: BTreeMap<String, IntegrationStats>,
    pub(crate) api_writes: BTreeMap<RecordType, WriteCounts>,
    pub(crate) requests: u64,
    pub(crate) auth_failures: u64,
}

/// The account-wide in-flight counter.
#[derive(Default)]
pub(crate) struct Gate {
    in_flight: AtomicUsize,
    high_water: AtomicUsize,
    attempted_high_water: AtomicUsize,
    over_limit: AtomicU64,
}

/// A held concurrency slot; released on drop.
pub(crate) struct Slot<'a>(&'a Gate);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    /// Takes a slot, or `None` (counted as over-limit) when `limit` are already in flight.
    pub(crate) fn enter(&self, limit: usize) -> Option<Slot<'_>> {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.attempted_high_water.fetch_max(n, Ordering::SeqCst);
        if n > limit {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.over_limit.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        self.high_water.fetch_max(n, Ordering::SeqCst);
        Some(Slot(self))
    }
}

/// One answered REST request.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RequestLogEntry {
    /// Sequence number (1-based).
    pub seq: u64,
    /// Simulated time the request arrived.
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Response status.
    pub status: u16,
    /// Integration name, if authenticated.
    pub integration: Option<String>,
    /// `o:errorCode` of an error response.
    pub error_code: Option<String>,
}

/// One refused login (the simulator's Login Audit Trail).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LoginAuditEntry {
    /// Simulated time.
    pub at: String,
    /// Consumer key claimed, if any.
    pub consumer_key: Option<String>,
    /// Why it was refused.
    pub reason: String,
    /// The request's method and path.
    pub request: String,
}

/// Per-integration counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IntegrationStats {
    /// Authenticated requests (including over-limit ones).
    pub requests: u64,
    /// Requests refused for the concurrency limit.
    pub over_limit: u64,
    /// Refused logins that named this integration's consumer key.
    pub auth_failures: u64,
}

/// A snapshot of the inspection counters.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SimStats {
    /// The account's concurrency limit.
    pub concurrency_limit: usize,
    /// Requests in flight now.
    pub in_flight: usize,
    /// Most requests ever in flight at once (never above the limit).
    pub high_water: usize,
    /// Most requests ever in flight at once counting the ones refused for the limit: a client
    /// that governs itself correctly keeps this at or below the limit.
    pub attempted_high_water: usize,
    /// Requests answered 429 for the concurrency limit.
    pub over_limit: u64,
    /// REST requests received (all outcomes).
    pub requests: u64,
    /// Requests refused 401.
    pub auth_failures: u64,
    /// Counters per integration name.
    pub per_integration: BTreeMap<String, IntegrationStats>,
    /// Writes made through the REST API, per record type.
    pub api_writes: BTreeMap<String, WriteCounts>,
    /// All writes (API and ERP activity), per record type.
    pub all_writes: BTreeMap<String, WriteCounts>,
}

/// A running HTTP server for a simulator.
pub struct SimServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SimServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port`, the account's base URL (`{base}/services/rest/...`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

impl NetSuiteSim {
    /// A simulator for `config`.
    pub fn new(config: SimConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let base = config
            .base_time
            .unwrap_or_else(|| chrono::SubsecRound::trunc_subsecs(Utc::now(), 0));
        let clock = SimClock::new(base);
        let db = Db::new(&config.locations, clock.now_secs());
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut per_integration = BTreeMap::new();
        for i in &config.integrations {
            per_integration.insert(i.name.clone(), IntegrationStats::default());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                clock,
                state: Mutex::new(State {
                    db,
                    nonces: NonceCache::default(),
                    log: VecDeque::new(),
                    next_seq: 1,
                    audit: Vec::new(),
                    rng,
                    per_integration,
                    api_writes: BTreeMap::new(),
                    requests: 0,
                    auth_failures: 0,
                }),
                gate: Gate::default(),
                base_url: Mutex::new(None),
                push: Mutex::new(None),
                config,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The account id (also the OAuth `realm`).
    pub fn account_id(&self) -> &str {
        &self.inner.config.account_id
    }

    /// Credentials of every (integration, token), for clients.
    pub fn credentials(&self) -> Vec<Credentials> {
        self.inner.config.credentials()
    }

    /// The base URL once [`NetSuiteSim::serve`] has bound a listener.
    pub fn base_url(&self) -> Option<String> {
        self.inner.base_url.lock().clone()
    }

    /// Serves the simulator on `listener` until the returned server is shut down or dropped
    /// with its runtime.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<SimServer> {
        let addr = listener.local_addr()?;
        *self.inner.base_url.lock() = Some(format!("http://{addr}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = self.router();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(SimServer {
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    // ------------------------------------------------------------ clock

    /// The simulated wall time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Freezes the clock: every write until [`NetSuiteSim::unfreeze_clock`] gets the same
    /// `lastModifiedDate` (to exercise same-timestamp tie-breaks).
    pub fn freeze_clock(&self) {
        self.inner.clock.freeze();
    }

    /// Lets a frozen clock run again from where it stopped.
    pub fn unfreeze_clock(&self) {
        self.inner.clock.unfreeze();
    }

    /// Moves the clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.inner.clock.advance(by);
    }

    // ------------------------------------------------------------ inspection

    /// Counters: concurrency high-water mark, over-limit answers, per-integration counts,
    /// writes per record type.
    pub fn stats(&self) -> SimStats {
        let g = &self.inner.gate;
        let s = self.inner.state.lock();
        SimStats {
            concurrency_limit: self.inner.config.concurrency_limit,
            in_flight: g.in_flight.load(Ordering::SeqCst),
            high_water: g.high_water.load(Ordering::SeqCst),
            attempted_high_water: g.attempted_high_water.load(Ordering::SeqCst),
            over_limit: g.over_limit.load(Ordering::SeqCst),
            requests: s.requests,
            auth_failures: s.auth_failures,
            per_integration: s.per_integration.clone(),
            api_writes: s
                .api_writes
                .iter()
                .map(|(t, c)| (t.name().to_owned(), c.clone()))
                .collect(),
            all_writes: s.db.counts(),
        }
    }

    /// Resets the concurrency high-water mark and over-limit count (e.g. after a warm-up).
    pub fn reset_concurrency_stats(&self) {
        let g = &self.inner.gate;
        let now = g.in_flight.load(Ordering::SeqCst);
        g.high_water.store(now, Ordering::SeqCst);
        g.attempted_high_water.store(now, Ordering::SeqCst);
        g.over_limit.store(0, Ordering::SeqCst);
    }

    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.inner.state.lock().log.iter().cloned().collect()
    }

    /// Refused logins with their reasons.
    pub fn login_audit(&self) -> Vec<LoginAuditEntry> {
        self.inner.state.lock().audit.clone()
    }

    /// A record rendered as `GET ...?expandSubResources=true` would return it.
    pub fn record(&self, rt: RecordType, id: &str) -> Option<Value> {
        let base = self.href_base();
        let s = self.inner.state.lock();
        let id = s.db.resolve_segment(rt, id).ok()?;
        let rec = s.db.get(rt, id)?;
        Some(s.db.render(rt, rec, &base, true))
    }

    /// Every record of one type (expanded), by ascending internal id.
    pub fn records(&self, rt: RecordType) -> Vec<Value> {
        let base = self.href_base();
        let s = self.inner.state.lock();
        s.db.all(rt)
            .map(|r| s.db.render(rt, r, &base, true))
            .collect()
    }

    /// Every record of every type (expanded), plus the clock, as one JSON document.
    pub fn dump(&self) -> Value {
        let base = self.href_base();
        let s = self.inner.state.lock();
        let mut types = serde_json::Map::new();
        for rt in RecordType::ALL {
            let recs: Vec<Value> =
                s.db.all(rt)
                    .map(|r| s.db.render(rt, r, &base, true))
                    .collect();
            types.insert(rt.name().to_owned(), Value::Array(recs));
        }
        json!({
            "account": self.inner.config.account_id,
            "now": format_datetime(self.inner.clock.now()),
            "clockFrozen": self.inner.clock.is_frozen(),
            "records": types,
        })
    }

    pub(crate) fn href_base(&self) -> String {
        self.base_url().unwrap_or_else(|| {
            format!("https://{}.suitetalk.api.netsuite.com", self.account_host())
        })
    }

    /// The account id in host form (`1234567_SB1` → `1234567-sb1`).
    pub fn account_host(&self) -> String {
        self.inner
            .config
            .account_id
            .to_ascii_lowercase()
            .replace('_', "-")
    }
}
