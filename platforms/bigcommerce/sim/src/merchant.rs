//! The `/_sim` routes: what a merchant does in the control panel and shoppers do at checkout
//! (create and edit products, variants, stock, customers; place orders; change their status),
//! the other apps' load on the quota, the clock, and inspection (state, requests, quota
//! windows, webhook log and counters, stock ledger). They spend no quota and need no token.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::error::BcError;
use crate::sim::{BcSim, OrderLine, Shared, SimError};

type S = State<Arc<Shared>>;

fn sim(sh: &Arc<Shared>) -> BcSim {
    BcSim { shared: sh.clone() }
}

fn answer(r: Result<Value, SimError>) -> Response {
    match r {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(SimError::Refused(e)) => e.response(false),
        Err(e) => BcError::new(500, e.to_string()).response(false),
    }
}

fn body(b: &Bytes) -> Result<Value, SimError> {
    serde_json::from_slice(b)
        .map_err(|_| SimError::Refused(BcError::new(400, "The request body is not valid JSON.")))
}

/// The `/_sim` router.
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/products", post(create_product))
        .route("/_sim/products/{id}", post(edit_product))
        .route("/_sim/variants/{sku}", post(edit_variant))
        .route("/_sim/stock", post(stock))
        .route("/_sim/locations", post(create_location))
        .route("/_sim/customers", post(create_customer))
        .route("/_sim/orders", post(place_order).get(orders))
        .route("/_sim/orders/{id}/status", post(order_status))
        .route("/_sim/background", post(background))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/state", get(state))
        .route("/_sim/requests", get(requests))
        .route("/_sim/quota", get(quota))
        .route("/_sim/webhooks/log", get(webhook_log))
        .route("/_sim/webhooks/stats", get(webhook_stats))
        .route("/_sim/stock/ledger", get(ledger))
}

async fn create_product(State(sh): S, b: Bytes) -> Response {
    answer(
        body(&b)
            .and_then(|v| sim(&sh).create_product(v))
            .map(|id| json!({ "id": id })),
    )
}

async fn edit_product(State(sh): S, Path(id): Path<u64>, b: Bytes) -> Response {
    answer(
        body(&b)
            .and_then(|v| sim(&sh).edit_product(id, v))
            .map(|()| json!({})),
    )
}

async fn edit_variant(State(sh): S, Path(sku): Path<String>, b: Bytes) -> Response {
    answer(
        body(&b)
            .and_then(|v| sim(&sh).edit_variant(&sku, v))
            .map(|()| json!({})),
    )
}

/// `{"sku", "location_id", "quantity"}` sets; `{"sku", "location_id", "delta"}` adds.
async fn stock(State(sh): S, b: Bytes) -> Response {
    answer(body(&b).and_then(|v| {
        let sku = v["sku"].as_str().unwrap_or_default().to_owned();
        let loc = v["location_id"]
            .as_u64()
            .unwrap_or(crate::store::DEFAULT_LOCATION);
        let s = sim(&sh);
        match (v["quantity"].as_i64(), v["delta"].as_i64()) {
            (Some(q), _) => s.set_stock(&sku, loc, q),
            (None, Some(d)) => s.adjust_stock(&sku, loc, d),
            _ => Err(SimError::Refused(BcError::invalid(
                "quantity",
                "quantity or delta is required",
            ))),
        }?;
        Ok(json!({ "sku": sku, "location_id": loc, "quantity": s.stock(&sku, loc) }))
    }))
}

async fn create_location(State(sh): S, b: Bytes) -> Response {
    answer(body(&b).map(|v| {
        let id = sim(&sh).create_location(
            v["code"].as_str().unwrap_or("LOCATION"),
            v["label"].as_str().unwrap_or("Location"),
        );
        json!({ "id": id })
    }))
}

async fn create_customer(State(sh): S, b: Bytes) -> Response {
    answer(
        body(&b)
            .and_then(|v| sim(&sh).create_customer(v))
            .map(|id| json!({ "id": id })),
    )
}

/// `{"customer_id", "lines": [{"sku", "quantity"}]}`.
async fn place_order(State(sh): S, b: Bytes) -> Response {
    answer(body(&b).and_then(|v| {
        let lines: Vec<OrderLine> = v["lines"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|l| OrderLine {
                sku: l["sku"].as_str().unwrap_or_default().to_owned(),
                quantity: l["quantity"].as_i64().unwrap_or(1),
            })
            .collect();
        let id = sim(&sh).place_order(v["customer_id"].as_u64().unwrap_or(0), &lines)?;
        Ok(json!({ "id": id }))
    }))
}

async fn orders(State(sh): S) -> Response {
    answer(Ok(Value::Array(sim(&sh).orders())))
}

async fn order_status(State(sh): S, Path(id): Path<u64>, b: Bytes) -> Response {
    answer(body(&b).and_then(|v| {
        sim(&sh).set_order_status(id, v["status_id"].as_u64().unwrap_or(u64::MAX))?;
        Ok(json!({}))
    }))
}

/// `{"requests_per_window": N}`: other apps' load from now on.
async fn background(State(sh): S, b: Bytes) -> Response {
    answer(body(&b).map(|v| {
        let n = v["requests_per_window"].as_u64().unwrap_or(0) as u32;
        sim(&sh).set_background_load(n);
        json!({ "requests_per_window": sh.quota.lock().config().background_per_window })
    }))
}

async fn advance(State(sh): S, b: Bytes) -> Response {
    answer(body(&b).map(|v| {
        sim(&sh).advance_clock(Duration::from_secs(v["seconds"].as_u64().unwrap_or(0)));
        json!({})
    }))
}

async fn state(State(sh): S) -> Response {
    answer(Ok(sim(&sh).state()))
}

async fn requests(State(sh): S) -> Response {
    answer(Ok(json!(sim(&sh).requests())))
}

async fn quota(State(sh): S) -> Response {
    let cfg = sh.quota.lock().config().clone();
    answer(Ok(json!({
        "requests_per_window": cfg.requests_per_window,
        "window_ms": cfg.window.as_millis() as u64,
        "background_per_window": cfg.background_per_window,
        "windows": sim(&sh).quota_windows(),
    })))
}

async fn webhook_log(State(sh): S) -> Response {
    answer(Ok(json!(sim(&sh).webhook_log())))
}

async fn webhook_stats(State(sh): S) -> Response {
    answer(Ok(json!(sim(&sh).webhook_stats())))
}

async fn ledger(State(sh): S) -> Response {
    answer(Ok(json!(sim(&sh).stock_ledger())))
}
