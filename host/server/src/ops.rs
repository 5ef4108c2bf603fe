//! Operations endpoints: `GET /metrics`, `GET /healthz`, `GET /readyz`.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::ServerState;

/// Content type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long `/readyz` and the `/metrics` refresh wait for the database.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// The operations router.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Refreshes the database-derived series (within [`DB_TIMEOUT`]; on failure the last figures
/// are served and a warning logged) and renders every series.
async fn metrics(State(state): State<ServerState>) -> Response {
    let m = state.metrics();
    match tokio::time::timeout(DB_TIMEOUT, m.refresh_from_store(state.store())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics refresh from the store failed"),
        Err(_) => tracing::warn!("metrics refresh from the store timed out"),
    }
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], m.render()).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

/// 200 when the database answers a query and the host reports ready; 503 with the reason.
async fn readyz(State(state): State<ServerState>) -> Response {
    let db = tokio::time::timeout(DB_TIMEOUT, state.store().journal_head("")).await;
    let reason = match db {
        Ok(Ok(_)) => match state.readiness().get() {
            Ok(()) => {
                // Ready to take webhooks; systems that are down (their writes wait) are said,
                // but do not make the host unready: intake still journals everything.
                let down = state.metrics().systems_down();
                if down.is_empty() {
                    return (StatusCode::OK, "ready").into_response();
                }
                let mut body = String::from("ready; writes waiting for systems that are down:");
                for (store, system, h) in down {
                    body.push_str(&format!(
                        "\n  store {store}, system {system}: down since {}; last error: {}",
                        h.down_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        h.last_error.unwrap_or_default()
                    ));
                }
                return (StatusCode::OK, body).into_response();
            }
            Err(reason) => format!("not ready: {reason}"),
        },
        Ok(Err(e)) => format!("not ready: database does not answer: {e}"),
        Err(_) => format!(
            "not ready: database did not answer within {} ms",
            DB_TIMEOUT.as_millis()
        ),
    };
    (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
}
