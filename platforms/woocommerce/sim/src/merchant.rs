//! `/_sim/...`: what a shop admin or a shopper does (each change fires webhooks as WooCommerce
//! would), and inspection for tests. Ids are JSON numbers; bodies are the REST JSON shapes.
//!
//! | Route | Does |
//! |---|---|
//! | `POST /_sim/products` | create a product (REST body) |
//! | `POST /_sim/products/{id}/variations` | add a variation |
//! | `PUT /_sim/products/{id}` | edit a product or variation (REST fields) |
//! | `POST /_sim/products/{id}/stock` | `{"stock_quantity":N}` or `{"adjust":±N}` |
//! | `DELETE /_sim/products/{id}?force=true` | trash or delete |
//! | `POST /_sim/customers` / `PUT /_sim/customers/{id}` / `DELETE /_sim/customers/{id}` | customers |
//! | `POST /_sim/checkout` | `{"customer_id", "line_items":[{"sku","quantity"}]}`: a paid order |
//! | `POST /_sim/orders` | an admin-created order (REST body) |
//! | `POST /_sim/orders/{id}/status` | `{"status":"cancelled"}` etc. |
//! | `POST /_sim/orders/{id}/refund` | `{"line_items":[{"sku","quantity"}],"restock":true}` |
//! | `DELETE /_sim/orders/{id}?force=true` | trash or delete |
//! | `POST /_sim/webhooks/{id}/status` | `{"status":"active"}` |
//! | `POST /_sim/clock/advance` | `{"seconds":N}` |
//! | `POST /_sim/unavailable` | `{"requests":N,"retry_after":S}`: next N REST calls get 503 |
//! | `GET /_sim/state` | every resource, rendered |
//! | `GET /_sim/webhooks/log`, `/_sim/webhooks/stats`, `/_sim/webhooks/health` | deliveries |
//! | `GET /_sim/requests` | the REST request log |
//! | `GET /_sim/stock/log` | every stock change with its cause (`api`, `merchant`, `order`) |
//! | `GET /_sim/keys` | the configured API keys (a sandbox prints them) |

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use crate::error::WcError;
use crate::http::json_response;
use crate::sim::{Shared, WooSim};
use crate::store::{Actor, Kind};

type St = State<Arc<Shared>>;

fn sim(sh: &Arc<Shared>) -> WooSim {
    WooSim { shared: sh.clone() }
}

fn done(r: Result<Value, crate::sim::SimError>) -> Response {
    match r {
        Ok(v) => json_response(200, &v),
        Err(crate::sim::SimError::Refused(e)) => json_response(e.status, &e.body()),
        Err(e) => json_response(500, &WcError::new(500, "sim_error", e.to_string()).body()),
    }
}

fn forced(q: &std::collections::HashMap<String, String>) -> bool {
    q.get("force").is_some_and(|f| f == "true" || f == "1")
}

/// The `/_sim` routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/products", post(create_product))
        .route(
            "/_sim/products/{id}",
            put(update_product).delete(delete_product),
        )
        .route("/_sim/products/{id}/variations", post(create_variation))
        .route("/_sim/products/{id}/stock", post(stock))
        .route("/_sim/customers", post(create_customer))
        .route(
            "/_sim/customers/{id}",
            put(update_customer).delete(delete_customer),
        )
        .route("/_sim/checkout", post(checkout))
        .route("/_sim/orders", post(create_order))
        .route("/_sim/orders/{id}/status", post(order_status))
        .route("/_sim/orders/{id}/refund", post(refund))
        .route("/_sim/orders/{id}", delete(delete_order))
        .route("/_sim/webhooks/{id}/status", post(webhook_status))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/unavailable", post(unavailable))
        .route("/_sim/state", get(state))
        .route("/_sim/webhooks/log", get(webhook_log))
        .route("/_sim/webhooks/stats", get(webhook_stats))
        .route("/_sim/webhooks/health", get(webhook_health))
        .route("/_sim/requests", get(requests))
        .route("/_sim/stock/log", get(stock_log))
        .route("/_sim/keys", get(keys))
}

async fn create_product(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let s = sim(&sh);
    done(s.create_product(b).map(|id| s.get(Kind::Product, id)))
}

async fn create_variation(
    State(sh): St,
    Path(id): Path<u64>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let s = sim(&sh);
    done(s.create_variation(id, b).map(|v| s.get(Kind::Product, v)))
}

async fn update_product(
    State(sh): St,
    Path(id): Path<u64>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let s = sim(&sh);
    done(s.update_product(id, b).map(|_| s.get(Kind::Product, id)))
}

async fn stock(State(sh): St, Path(id): Path<u64>, axum::Json(b): axum::Json<Value>) -> Response {
    let s = sim(&sh);
    let qty = match (
        b.get("stock_quantity").and_then(Value::as_i64),
        b.get("adjust").and_then(Value::as_i64),
    ) {
        (Some(q), _) => q,
        (None, Some(d)) => s.stock(id).unwrap_or(0) + d,
        _ => {
            return json_response(
                400,
                &WcError::invalid_param("stock_quantity", "give stock_quantity or adjust").body(),
            );
        }
    };
    done(s.set_stock(id, qty).map(|_| s.get(Kind::Product, id)))
}

async fn delete_product(
    State(sh): St,
    Path(id): Path<u64>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let s = sim(&sh);
    done(s.delete_product(id, forced(&q)).map(|_| json!({"id": id})))
}

async fn create_customer(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let s = sim(&sh);
    let r = {
        let r = sh.store.lock().create_customer(&b, Actor::Merchant);
        sh.flush_events();
        r
    };
    done(r.map(|id| s.get(Kind::Customer, id)).map_err(Into::into))
}

async fn update_customer(
    State(sh): St,
    Path(id): Path<u64>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let s = sim(&sh);
    done(s.update_customer(id, b).map(|_| s.get(Kind::Customer, id)))
}

async fn delete_customer(State(sh): St, Path(id): Path<u64>) -> Response {
    let s = sim(&sh);
    done(s.delete_customer(id).map(|_| json!({"id": id})))
}

async fn checkout(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let s = sim(&sh);
    let mut body = b.clone();
    body["set_paid"] = json!(true);
    body["created_via"] = json!("checkout");
    done(s.create_order(body).map(|id| s.get(Kind::Order, id)))
}

async fn create_order(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let s = sim(&sh);
    done(s.create_order(b).map(|id| s.get(Kind::Order, id)))
}

async fn order_status(
    State(sh): St,
    Path(id): Path<u64>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let s = sim(&sh);
    let status = b["status"].as_str().unwrap_or("").to_string();
    done(
        s.set_order_status(id, &status)
            .map(|_| s.get(Kind::Order, id)),
    )
}

async fn delete_order(
    State(sh): St,
    Path(id): Path<u64>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let s = sim(&sh);
    done(s.delete_order(id, forced(&q)).map(|_| json!({"id": id})))
}

async fn webhook_status(
    State(sh): St,
    Path(id): Path<u64>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let s = sim(&sh);
    let status = b["status"].as_str().unwrap_or("").to_string();
    done(
        s.set_webhook_status(id, &status)
            .map(|_| s.get(Kind::Webhook, id)),
    )
}

async fn advance(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let secs = b["seconds"].as_f64().unwrap_or(0.0).max(0.0);
    sim(&sh).advance_clock(Duration::from_secs_f64(secs));
    let now = sh.store.lock().clock.now();
    json_response(200, &json!({"now_gmt": crate::store::Store::gmt(now)}))
}

async fn unavailable(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let n = b["requests"].as_u64().unwrap_or(1);
    let retry = b["retry_after"].as_u64().unwrap_or(30);
    sim(&sh).set_unavailable(n, retry);
    json_response(200, &json!({"requests": n, "retry_after": retry}))
}

async fn state(State(sh): St) -> Response {
    let s = sim(&sh);
    json_response(
        200,
        &json!({
            "products": s.all(Kind::Product),
            "customers": s.all(Kind::Customer),
            "orders": s.all(Kind::Order),
            "webhooks": s.all(Kind::Webhook),
        }),
    )
}

async fn webhook_log(State(sh): St) -> Response {
    json_response(200, &serde_json::to_value(sh.hub.log()).unwrap_or_default())
}

async fn webhook_stats(State(sh): St) -> Response {
    json_response(
        200,
        &serde_json::to_value(sh.hub.stats()).unwrap_or_default(),
    )
}

async fn webhook_health(State(sh): St) -> Response {
    let st = sh.store.lock();
    let v: Vec<Value> = st
        .webhooks
        .values()
        .map(|w| json!({"id": w.id, "status": w.status(), "failure_count": w.data.get("failure_count")}))
        .collect();
    json_response(200, &Value::Array(v))
}

async fn requests(State(sh): St) -> Response {
    let s = sim(&sh);
    json_response(200, &serde_json::to_value(s.requests()).unwrap_or_default())
}

async fn keys(State(sh): St) -> Response {
    let v: Vec<Value> = sh
        .config
        .keys
        .iter()
        .map(|k| {
            json!({"consumer_key": k.consumer_key, "consumer_secret": k.consumer_secret,
            "permissions": k.permissions})
        })
        .collect();
    json_response(200, &Value::Array(v))
}

async fn stock_log(State(sh): St) -> Response {
    let s = sim(&sh);
    json_response(
        200,
        &serde_json::to_value(s.stock_log()).unwrap_or_default(),
    )
}

async fn refund(State(sh): St, Path(id): Path<u64>, axum::Json(b): axum::Json<Value>) -> Response {
    let s = sim(&sh);
    let lines: Vec<crate::sim::OrderLine> = b["line_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| crate::sim::OrderLine {
            sku: l["sku"].as_str().unwrap_or("").to_string(),
            quantity: l["quantity"].as_i64().unwrap_or(0),
        })
        .collect();
    let restock = b["restock"].as_bool().unwrap_or(true);
    done(
        s.refund_order(id, &lines, restock)
            .map(|r| s.get(Kind::Refund, r)),
    )
}
