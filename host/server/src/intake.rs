//! `POST /webhooks/{system}/{store_id}`: webhook intake for every platform that has webhooks.
//!
//! The route names the store and one of its systems (`/webhooks/shopify/acme` for a store whose
//! Shopify system is called `shopify`); the system's platform says how a delivery is
//! authenticated and what it carries ([`weft_platform::WebhookIntake`]). Order of checks (each
//! one before any work the next one needs):
//! 1. the store must be configured and the system one of its systems with webhooks (404);
//! 2. the body must fit the store's cap: a `Content-Length` above it is refused at once, and a
//!    streamed body is read only up to the cap (413; the rest is never read); it must arrive
//!    within the store's body timeout (408);
//! 3. a platform's unsigned delivery test (`WebhookIntake::is_ping`, a ping sent when a
//!    subscription is created) is answered 200 and nothing is stored;
//! 4. the signature must verify against one of the system's accepted secrets (401; nothing is
//!    stored, not even a reject row, so unauthenticated input cannot fill the disk);
//! 5. the platform must accept the delivery as a document (400 with the reason; the raw
//!    request, minus the signature header and any credentials, is kept via
//!    `Store::record_reject`);
//! 6. a privacy request (`WebhookIntake::privacy_request`: a platform's customer redaction,
//!    data request or shop redaction) is stored durably (`Store::record_privacy_request`), the
//!    store's loop is woken to carry it out, and only then is 200 sent;
//! 7. the document is journaled through the group-committing [`JournalWriter`]
//!    (`weft_store::JournalWriter`), and only then is 200 sent (duplicates too). A journal error is
//!    503 so the platform retries.
//!
//! The journal entry: the system's name, the document's kind, id and version, source `webhook`,
//! and the platform's delivery id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tracing::Instrument as _;
use weft_platform::{Platform, WebhookIntake};
use weft_store::{AppendOutcome, NewJournalEntry, Source, StoreError};

pub use weft_platform::WebhookSecret;

use crate::metrics::WebhookOutcome;
use crate::state::ServerState;

/// Default future-version skew: 5 minutes.
pub const DEFAULT_MAX_FUTURE_SKEW: Duration = Duration::from_secs(300);

/// Default body cap: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default time allowed to receive a whole body. Platforms give up on a delivery after a few
/// seconds (Shopify after 5 s), so a body still arriving after 10 s is a stalled or hostile
/// client, not a platform.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers never kept with a reject, whatever the platform: anything that could carry a
/// credential.
const STRIPPED_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// One system of a store that takes webhooks.
#[derive(Clone)]
pub struct IntakeSystem {
    /// The system's name in the store (the route's `{system}`, the journal's system).
    pub name: String,
    /// Its platform.
    pub platform: Arc<dyn Platform>,
    /// The platform's webhook intake.
    pub intake: Arc<dyn WebhookIntake>,
    /// Accepted signing secrets: the current one and, during a rotation, the previous one(s).
    /// A system with none refuses every delivery (401).
    pub secrets: Vec<WebhookSecret>,
    /// The system's own account as its platform names it in deliveries (a Shopify shop
    /// domain): a delivery for another account is refused (400, kept).
    pub account: Option<String>,
}

impl std::fmt::Debug for IntakeSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeSystem")
            .field("name", &self.name)
            .field("platform", &self.platform.name())
            .field("secrets", &self.secrets)
            .field("account", &self.account)
            .finish()
    }
}

/// One store's intake configuration (the host fills it from `weft-config`).
#[derive(Debug, Clone)]
pub struct IntakeStore {
    /// The store id, as in the URL path.
    pub id: String,
    /// The store's systems that take webhooks.
    pub systems: Vec<IntakeSystem>,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time allowed to receive the whole body; a slower request gets 408 and nothing is
    /// stored.
    pub body_timeout: Duration,
    /// How far a delivery's version may be ahead of this host's clock: one further ahead is
    /// refused (400, kept), since journaling it would make every later real edit look stale.
    pub max_future_skew: Duration,
}

impl IntakeStore {
    /// A store with no webhook systems yet, the default 1 MiB body cap and the default 10 s body
    /// timeout.
    pub fn new(id: impl Into<String>) -> Self {
        IntakeStore {
            id: id.into(),
            systems: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_future_skew: DEFAULT_MAX_FUTURE_SKEW,
        }
    }

    /// Sets the future-version skew.
    #[must_use]
    pub fn with_max_future_skew(mut self, skew: Duration) -> Self {
        self.max_future_skew = skew;
        self
    }

    /// Adds system `name` of `platform`, accepting deliveries signed with `secrets` and
    /// addressed to `account` (when the platform names accounts in its deliveries). A platform
    /// without webhooks adds nothing.
    #[must_use]
    pub fn with_system(
        mut self,
        name: impl Into<String>,
        platform: Arc<dyn Platform>,
        secrets: Vec<WebhookSecret>,
        account: Option<String>,
    ) -> Self {
        if let Some(intake) = platform.webhooks() {
            self.systems.push(IntakeSystem {
                name: name.into(),
                platform,
                intake,
                secrets,
                account,
            });
        }
        self
    }

    /// The system named `name`, when it takes webhooks.
    pub fn system(&self, name: &str) -> Option<&IntakeSystem> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// Sets the body timeout.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets the body cap.
    #[must_use]
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
}

/// The intake router: `POST /webhooks/{system}/{store_id}`.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/webhooks/{system}/{store_id}", post(webhook))
        .with_state(state)
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response()
}

async fn webhook(
    State(state): State<ServerState>,
    Path((system, store_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (topic, delivery) = state
        .intake_store(&store_id)
        .and_then(|s| s.system(&system).map(|s| s.intake.describe(&headers)))
        .unwrap_or_default();
    let span = tracing::info_span!(
        "webhook",
        store = %crate::clip_for_log(&store_id),
        system = %crate::clip_for_log(&system),
        topic = %crate::clip_for_log(&topic),
        delivery = %crate::clip_for_log(&delivery),
    );
    handle(state, store_id, system, headers, body, started)
        .instrument(span)
        .await
}

enum ReadError {
    TooLarge,
    Io(String),
}

/// Reads at most `cap` bytes of `body`; stops at the first frame that would exceed it.
async fn read_capped(mut body: Body, cap: usize) -> Result<Bytes, ReadError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Io(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > cap {
                return Err(ReadError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

async fn handle(
    state: ServerState,
    store_id: String,
    system: String,
    headers: HeaderMap,
    body: Body,
    started: Instant,
) -> Response {
    let metrics = state.metrics().clone();
    let Some(cfg) = state.intake_store(&store_id) else {
        metrics.inc_unknown_store();
        tracing::debug!("webhook for an unknown store");
        return text(StatusCode::NOT_FOUND, "unknown store");
    };
    let Some(sys) = cfg.system(&system).cloned() else {
        metrics.inc_unknown_store();
        tracing::debug!("webhook for a system the store does not have, or that takes no webhooks");
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "store {store_id} has no system `{}` that takes webhooks",
                crate::clip_for_log(&system)
            ),
        );
    };
    let too_large = || {
        metrics.inc_webhook(&cfg.id, WebhookOutcome::TooLarge);
        tracing::warn!(
            cap = cfg.max_body_bytes,
            "webhook body over the store's cap"
        );
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body exceeds {} bytes", cfg.max_body_bytes),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.max_body_bytes as u64) {
        return too_large();
    }
    let read = tokio::time::timeout(cfg.body_timeout, read_capped(body, cfg.max_body_bytes));
    let raw = match read.await {
        Err(_) => {
            tracing::warn!(
                timeout_ms = cfg.body_timeout.as_millis() as u64,
                "webhook body not received in time"
            );
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            );
        }
        Ok(Ok(raw)) => raw,
        Ok(Err(ReadError::TooLarge)) => return too_large(),
        Ok(Err(ReadError::Io(e))) => {
            tracing::debug!(error = %e, "webhook body could not be read");
            return text(StatusCode::BAD_REQUEST, "request body could not be read");
        }
    };

    if sys.intake.is_ping(&headers, &raw) {
        tracing::info!("webhook delivery test (ping) acknowledged; nothing journaled");
        return text(StatusCode::OK, "pong");
    }

    if !sys.intake.verify(&headers, &raw, &sys.secrets) {
        metrics.inc_webhook(&cfg.id, WebhookOutcome::BadSignature);
        tracing::warn!("webhook with a missing or invalid signature refused");
        return text(StatusCode::UNAUTHORIZED, "invalid webhook signature");
    }

    if let Some(request) = sys
        .intake
        .privacy_request(&headers, &raw, sys.account.as_deref())
    {
        return match request {
            Ok(request) => privacy_request(&state, &cfg, &sys, request, started).await,
            Err(reason) => malformed(&state, &cfg.id, &sys, &headers, &raw, reason).await,
        };
    }

    let parsed = sys
        .intake
        .parse(&headers, &raw, sys.account.as_deref())
        .and_then(|d| too_far_ahead(&d.version, cfg.max_future_skew).map_or(Ok(d), Err));
    let mut entry = match parsed {
        Ok(d) => NewJournalEntry {
            store_id: cfg.id.clone(),
            system: sys.name.clone(),
            kind: d.kind,
            entity_id: d.entity_id,
            version: d.version,
            source: Source::Webhook,
            delivery_id: d.delivery_id,
            body: d.body,
            received_at: Utc::now(),
        },
        Err(reason) => return malformed(&state, &cfg.id, &sys, &headers, &raw, reason).await,
    };
    stamp_sku(&state, sys.platform.as_ref(), &mut entry).await;

    // The append and the engine's wake-up run in their own task: a client that hangs up
    // mid-commit cancels this handler, but its entry (already queued) is still journaled, and
    // the engine must still hear of it.
    let appended = {
        let (writer, notifier, id) = (
            state.writer().clone(),
            std::sync::Arc::clone(&state.shared.notifier),
            cfg.id.clone(),
        );
        tokio::spawn(async move {
            let outcome = writer.append(entry).await;
            if let Ok(AppendOutcome::Inserted(_)) = outcome {
                notifier(&id);
            }
            outcome
        })
    };
    let mut appended = appended.await.unwrap_or(Err(StoreError::WriterClosed));
    // A database file deleted or replaced under the host still takes commits nobody will read:
    // never acknowledge into it.
    if appended.is_ok()
        && let Some(fault) = state.database_fault_error()
    {
        appended = Err(fault);
    }
    match appended {
        Ok(outcome) => {
            let kind = match outcome {
                AppendOutcome::Inserted(seq) => {
                    tracing::debug!(seq, "webhook journaled");
                    WebhookOutcome::Accepted
                }
                AppendOutcome::Duplicate(seq) => {
                    tracing::debug!(seq, "duplicate webhook");
                    WebhookOutcome::Duplicate
                }
            };
            metrics.inc_webhook(&cfg.id, kind);
            metrics.observe_ack(&cfg.id, started.elapsed());
            text(StatusCode::OK, "ok")
        }
        Err(e @ (StoreError::InvalidVersion { .. } | StoreError::InvalidArgument { .. })) => {
            malformed(&state, &cfg.id, &sys, &headers, &raw, e.to_string()).await
        }
        Err(e) => {
            metrics.inc_webhook(&cfg.id, WebhookOutcome::Unavailable);
            tracing::error!(error = %e, "journal append failed; answering 503 so the platform retries");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "journal unavailable; retry later",
            )
        }
    }
}

/// A privacy request: stored durably (a retried delivery finds the stored one), then the
/// store's processing loop is woken to carry it out, and only then 200. Like a journal append,
/// the write runs in its own task so a client that hangs up cannot cancel it half way.
async fn privacy_request(
    state: &ServerState,
    cfg: &IntakeStore,
    sys: &IntakeSystem,
    request: weft_platform::PrivacyDelivery,
    started: Instant,
) -> Response {
    let metrics = state.metrics().clone();
    let new = weft_store::NewPrivacyRequest {
        store_id: cfg.id.clone(),
        system: sys.name.clone(),
        action: request.action,
        delivery_id: request.delivery_id,
        subject: request.subject,
        received_at: Utc::now(),
    };
    let (store, notifier, id) = (
        state.store().clone(),
        std::sync::Arc::clone(&state.shared.notifier),
        cfg.id.clone(),
    );
    let stored = tokio::spawn(async move {
        let out = store.record_privacy_request(&new).await;
        if let Ok((_, true)) = out {
            notifier(&id);
        }
        out
    })
    .await
    .unwrap_or(Err(StoreError::WriterClosed));
    let stored = match (stored, state.database_fault_error()) {
        (Ok(_), Some(fault)) => Err(fault),
        (r, _) => r,
    };
    match stored {
        Ok((request_id, new)) => {
            tracing::info!(
                request_id,
                action = request.action.as_str(),
                new,
                "privacy request stored"
            );
            metrics.inc_webhook(
                &cfg.id,
                if new {
                    WebhookOutcome::Accepted
                } else {
                    WebhookOutcome::Duplicate
                },
            );
            metrics.observe_ack(&cfg.id, started.elapsed());
            text(StatusCode::OK, "ok")
        }
        Err(e) => {
            metrics.inc_webhook(&cfg.id, WebhookOutcome::Unavailable);
            tracing::error!(error = %e, "privacy request could not be stored; answering 503 so the platform retries");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "privacy request could not be stored; retry later",
            )
        }
    }
}

/// Why a delivery's `version` is refused: further ahead of this host's clock than `skew`.
fn too_far_ahead(version: &str, skew: Duration) -> Option<String> {
    let weft_platform::version::Version::At(at) = weft_platform::version::Version::parse(version)
    else {
        return None;
    };
    let limit = Utc::now() + chrono::Duration::from_std(skew).unwrap_or(chrono::Duration::MAX);
    (at > limit).then(|| {
        format!(
            "version {at} is more than {}s ahead of this host's clock",
            skew.as_secs()
        )
    })
}

/// Stamps an inventory level webhook that names its item but not its SKU
/// ([`Platform::item_without_sku`]) with the SKU when weft knows it, so the journaled body is
/// the one a poll of the same level produces: the journal then recognises the poll's read as
/// the same observation instead of journaling it again. Unknown SKU (or a database hiccup):
/// the body keeps `sku: null` and the engine looks the SKU up when it processes the entry.
async fn stamp_sku(state: &ServerState, platform: &dyn Platform, entry: &mut NewJournalEntry) {
    if entry.kind != "inventory-level" || !entry.body.get("sku").is_some_and(Value::is_null) {
        return;
    }
    let Some(item) = platform.item_without_sku(&entry.body) else {
        return;
    };
    match state
        .store()
        .inventory_item_sku(&entry.store_id, &entry.system, &item)
        .await
    {
        Ok(Some(sku)) => {
            if let Some(o) = entry.body.as_object_mut() {
                o.insert("sku".into(), Value::String(sku));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "SKU lookup failed; the engine will stamp it"),
    }
}

/// The request headers as a JSON object, without the signature or credentials. Repeated
/// headers become arrays; non-UTF-8 values are kept lossily.
fn kept_headers(headers: &HeaderMap, secret: &[&str]) -> Value {
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        if STRIPPED_HEADERS.contains(&name) || secret.contains(&name) {
            continue;
        }
        let v = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        match map.get_mut(name) {
            None => {
                map.insert(name.to_owned(), v);
            }
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
        }
    }
    Value::Object(map.into_iter().collect())
}

/// 400 after keeping the raw request; 503 if it cannot be kept (so the delivery is retried
/// rather than lost).
async fn malformed(
    state: &ServerState,
    store_id: &str,
    system: &IntakeSystem,
    headers: &HeaderMap,
    raw: &[u8],
    reason: String,
) -> Response {
    let kept_headers = kept_headers(headers, system.intake.secret_headers());
    let kept = state
        .store()
        .record_reject(store_id, &reason, &kept_headers, raw, Utc::now())
        .await;
    match kept {
        Ok(id) => {
            state
                .metrics()
                .inc_webhook(store_id, WebhookOutcome::Malformed);
            tracing::warn!(reject = id, %reason, "malformed webhook kept for inspection");
            text(
                StatusCode::BAD_REQUEST,
                format!("malformed webhook: {reason}"),
            )
        }
        Err(e) => {
            state
                .metrics()
                .inc_webhook(store_id, WebhookOutcome::Unavailable);
            tracing::error!(error = %e, "could not keep a malformed webhook; answering 503");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not record the rejected request; retry later",
            )
        }
    }
}
