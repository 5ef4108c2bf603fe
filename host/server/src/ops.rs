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
    let mut text = m.render();
    render_listeners(&state, &mut text);
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response()
}

/// The HTTP listeners' connection figures and the database file check, appended to the
/// registry's text.
fn render_listeners(state: &ServerState, out: &mut String) {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;
    let listeners = state.shared.listeners.read();
    let _ = writeln!(
        out,
        "# HELP weft_http_connections_open HTTP connections open per listener.\n# TYPE weft_http_connections_open gauge"
    );
    for (name, s) in listeners.iter() {
        let _ = writeln!(
            out,
            "weft_http_connections_open{{listener=\"{name}\"}} {}",
            s.open.load(Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP weft_http_connections_closed_total HTTP connections refused (cap reached, per-address cap reached) or closed idle, per listener.\n# TYPE weft_http_connections_closed_total counter"
    );
    for (name, s) in listeners.iter() {
        for (reason, n) in [
            ("refused_cap", s.refused_full.load(Relaxed)),
            ("refused_per_address", s.refused_per_ip.load(Relaxed)),
            ("idle", s.timed_out_idle.load(Relaxed)),
        ] {
            let _ = writeln!(
                out,
                "weft_http_connections_closed_total{{listener=\"{name}\",reason=\"{reason}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP weft_database_file_ok 1 while the database file is the one opened at start, 0 once it was deleted or replaced.\n# TYPE weft_database_file_ok gauge\nweft_database_file_ok {}",
        u8::from(state.database_fault().is_none())
    );
}

/// 200 while every store loop turns (or the host reports none); 503 naming each store and
/// loop that stopped, stalled or is stuck.
async fn healthz(State(state): State<ServerState>) -> Response {
    let loops = state.loops();
    let bad = crate::health::unhealthy_lines(&loops);
    if bad.is_empty() {
        return (
            StatusCode::OK,
            format!("ok ({} store loops turning)", loops.len()),
        )
            .into_response();
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("unhealthy:\n  {}", bad.join("\n  ")),
    )
        .into_response()
}

/// 200 when the database answers a query, its file is still the one opened, and the host
/// reports ready; 503 with the reason.
async fn readyz(State(state): State<ServerState>) -> Response {
    if let Some(fault) = state.database_fault() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {fault}"),
        )
            .into_response();
    }
    let db = tokio::time::timeout(DB_TIMEOUT, state.store().journal_head("")).await;
    let reason = match db {
        Ok(Ok(_)) => match state.readiness().get().and_then(|()| {
            let bad = crate::health::unhealthy_lines(&state.loops());
            if bad.is_empty() {
                Ok(())
            } else {
                Err(format!("store loops unhealthy: {}", bad.join("; ")))
            }
        }) {
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
