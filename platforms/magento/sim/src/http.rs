//! The REST surface under `/rest/{store_code}` (Bearer integration token, Magento's error
//! shape) and the merchant and inspection API under `/_sim`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::Method;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::config::{MAX_ASYNC_ENTITIES, MAX_SYNC_ENTITIES};
use crate::error::MgError;
use crate::search;
use crate::sim::{RequestRecord, Shared};
use crate::store::{OrderLine, Store, TOPIC_PRODUCTS, TOPIC_SOURCE_ITEMS};

type S = State<Arc<Shared>>;
type Res = Result<Response, MgError>;

/// The router.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/V1/products", get(list_products).post(post_product))
        .route(
            "/V1/products/{sku}",
            get(get_product).put(put_product).delete(delete_product),
        )
        .route(
            "/V1/inventory/source-items",
            get(list_source_items).post(post_source_items),
        )
        .route("/V1/customers/search", get(search_customers))
        .route(
            "/V1/customers/{id}",
            get(get_customer).put(put_customer).delete(delete_customer),
        )
        .route("/V1/orders", get(list_orders))
        .route("/V1/orders/{id}", get(get_order))
        .route("/V1/bulk/{uuid}/status", get(bulk_status))
        .route("/V1/bulk/{uuid}/detailed-status", get(bulk_detailed))
        .route("/async/bulk/V1/products", post(bulk_products))
        .route(
            "/async/bulk/V1/inventory/source-items",
            post(bulk_source_items),
        )
        .fallback(|| async {
            MgError::new(404, "Request does not match any route.").into_response()
        });
    let sim = Router::new()
        .route("/products", post(sim_product))
        .route("/stock", post(sim_stock))
        .route("/customers", post(sim_customer))
        .route("/orders", post(sim_order))
        .route("/state", get(sim_state))
        .route("/bulks", get(sim_bulks));
    Router::new()
        .nest("/rest/{store}", api)
        .nest("/_sim", sim)
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .layer(middleware::from_fn_with_state(shared.clone(), log))
        .with_state(shared)
}

async fn log(State(sh): S, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let res = next.run(req).await;
    if !path.starts_with("/_sim") {
        sh.log_request(RequestRecord {
            method,
            path,
            query,
            status: res.status().as_u16(),
        });
    }
    res
}

fn resource_of(method: &Method, path: &str) -> &'static str {
    if path.contains("/inventory/") {
        "Magento_InventoryApi::source"
    } else if path.contains("/customers") && (method == Method::PUT || method == Method::DELETE) {
        "Magento_Customer::manage"
    } else if path.contains("/customers") {
        "Magento_Customer::customer"
    } else if path.contains("/orders") {
        "Magento_Sales::actions_view"
    } else if path.contains("/bulk/") && !path.contains("/async/") {
        "Magento_Logging::system_magento_logging_bulk_operations"
    } else {
        "Magento_Catalog::products"
    }
}

async fn authenticate(State(sh): S, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/rest/") else {
        return next.run(req).await;
    };
    let store = rest.split('/').next().unwrap_or_default();
    if store != sh.config.store_code && store != "all" {
        return MgError::bad_request(
            "The store that was requested wasn't found. Verify the store and try again.",
        )
        .into_response();
    }
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let ok = sh.config.bearer_enabled
        && token.is_some_and(|t| {
            sh.config
                .tokens
                .iter()
                .any(|k| bool::from(k.as_bytes().ct_eq(t.as_bytes())))
        });
    if !ok {
        return MgError::unauthorized(resource_of(req.method(), &path)).into_response();
    }
    next.run(req).await
}

fn body_json(body: &Bytes) -> Result<Value, MgError> {
    serde_json::from_slice(body)
        .map_err(|_| MgError::bad_request("Decoding error: \nSyntax error\n"))
}

fn ok(v: Value) -> Res {
    Ok(axum::Json(v).into_response())
}

async fn list_products(State(sh): S, RawQuery(q): RawQuery) -> Res {
    let c = search::parse(q.as_deref().unwrap_or_default())?;
    let recs = sh.current().products_json();
    ok(search::answer(&c, recs, sh.config.input_limits)?)
}

async fn get_product(State(sh): S, Path((_, sku)): Path<(String, String)>) -> Res {
    let st = sh.current();
    let p = st.products.get(&sku).ok_or_else(MgError::no_product)?;
    ok(st.product_json(p))
}

async fn post_product(State(sh): S, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let now = sh.now();
    ok(sh.current().save_product(&b, now)?)
}

async fn put_product(State(sh): S, Path((_, sku)): Path<(String, String)>, body: Bytes) -> Res {
    let mut b = body_json(&body)?;
    if let Some(p) = b.get_mut("product").and_then(Value::as_object_mut) {
        p.insert("sku".into(), json!(sku));
    }
    let now = sh.now();
    ok(sh.current().save_product(&b, now)?)
}

async fn delete_product(State(sh): S, Path((_, sku)): Path<(String, String)>) -> Res {
    sh.current().delete_product(&sku)?;
    ok(json!(true))
}

async fn list_source_items(State(sh): S, RawQuery(q): RawQuery) -> Res {
    let c = search::parse(q.as_deref().unwrap_or_default())?;
    let recs = sh.current().source_items_json();
    ok(search::answer(&c, recs, sh.config.input_limits)?)
}

async fn post_source_items(State(sh): S, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let n = b
        .get("sourceItems")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if sh.config.input_limits && n > MAX_SYNC_ENTITIES {
        return Err(
            MgError::bad_request("Maximum items of type \"%type\" is %max")
                .params(json!({"type": "sourceItems", "max": MAX_SYNC_ENTITIES})),
        );
    }
    sh.current().save_source_items(&b)?;
    ok(json!([]))
}

async fn search_customers(State(sh): S, RawQuery(q): RawQuery) -> Res {
    let c = search::parse(q.as_deref().unwrap_or_default())?;
    let recs: Vec<Value> = sh
        .current()
        .customers
        .values()
        .map(Store::customer_json)
        .collect();
    ok(search::answer(&c, recs, sh.config.input_limits)?)
}

async fn get_customer(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let st = sh.current();
    let c = id
        .parse::<u64>()
        .ok()
        .and_then(|i| st.customers.get(&i))
        .ok_or_else(|| MgError::no_entity("customerId", &id))?;
    ok(Store::customer_json(c))
}

async fn put_customer(State(sh): S, Path((_, id)): Path<(String, String)>, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| MgError::no_entity("customerId", &id))?;
    let now = sh.now();
    ok(sh.current().update_customer(id, &b, now)?)
}

async fn delete_customer(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let numeric = id
        .parse::<u64>()
        .map_err(|_| MgError::no_entity("customerId", &id))?;
    sh.current().delete_customer(numeric)?;
    ok(json!(true))
}

async fn list_orders(State(sh): S, RawQuery(q): RawQuery) -> Res {
    let c = search::parse(q.as_deref().unwrap_or_default())?;
    let recs: Vec<Value> = sh
        .current()
        .orders
        .values()
        .map(Store::order_json)
        .collect();
    ok(search::answer(&c, recs, sh.config.input_limits)?)
}

async fn get_order(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let st = sh.current();
    let o = id
        .parse::<u64>()
        .ok()
        .and_then(|i| st.orders.get(&i))
        .ok_or_else(|| {
            MgError::new(
                404,
                "The entity that was requested doesn't exist. Verify the entity and try again.",
            )
        })?;
    ok(Store::order_json(o))
}

fn bulk_answer(sh: &Shared, uuid: &str, detailed: bool) -> Res {
    let st = sh.current();
    let b = st.bulks.get(uuid).ok_or_else(|| {
        MgError::new(404, "Bulk uuid %bulkUuid not exist").params(json!({"bulkUuid": uuid}))
    })?;
    ok(Store::bulk_status_json(b, detailed))
}

async fn bulk_status(State(sh): S, Path((_, uuid)): Path<(String, String)>) -> Res {
    bulk_answer(&sh, &uuid, false)
}

async fn bulk_detailed(State(sh): S, Path((_, uuid)): Path<(String, String)>) -> Res {
    bulk_answer(&sh, &uuid, true)
}

fn accept(sh: &Shared, topic: &str, body: &Bytes) -> Res {
    let b = body_json(body)?;
    let Some(items) = b.as_array() else {
        return Err(MgError::bad_request(
            "Request body is expected to be an array of entities.",
        ));
    };
    if sh.config.input_limits && items.len() > MAX_ASYNC_ENTITIES {
        return Err(
            MgError::bad_request("Maximum items of type \"%type\" is %max")
                .params(json!({"type": topic, "max": MAX_ASYNC_ENTITIES})),
        );
    }
    let now = sh.now();
    let answer = sh.current().accept_bulk(topic, items, now);
    Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
}

async fn bulk_products(State(sh): S, body: Bytes) -> Res {
    accept(&sh, TOPIC_PRODUCTS, &body)
}

async fn bulk_source_items(State(sh): S, body: Bytes) -> Res {
    accept(&sh, TOPIC_SOURCE_ITEMS, &body)
}

/// The whole state as JSON.
pub fn state_json(sh: &Shared) -> Value {
    let st = sh.current();
    json!({
        "products": st.products_json(),
        "source_items": st.source_items_json(),
        "customers": st.customers.values().map(Store::customer_json).collect::<Vec<_>>(),
        "orders": st.orders.values().map(Store::order_json).collect::<Vec<_>>(),
        "sources": st.sources,
    })
}

async fn sim_product(State(sh): S, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let now = sh.now();
    ok(sh.current().save_product(&json!({ "product": b }), now)?)
}

async fn sim_stock(State(sh): S, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let q = b.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
    let item = json!({"sku": b["sku"], "source_code": b.get("source_code").cloned()
        .unwrap_or(json!(crate::config::DEFAULT_SOURCE)), "quantity": q,
        "status": i64::from(q > 0.0)});
    sh.current()
        .save_source_items(&json!({ "sourceItems": [item] }))?;
    ok(item)
}

async fn sim_customer(State(sh): S, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let now = sh.now();
    ok(sh.current().upsert_customer(&b, now)?)
}

async fn sim_order(State(sh): S, body: Bytes) -> Res {
    let b = body_json(&body)?;
    let lines: Vec<OrderLine> = serde_json::from_value(b["lines"].clone())
        .map_err(|e| MgError::bad_request(format!("lines: {e}")))?;
    let email = b["customer_email"].as_str().unwrap_or("guest@example.com");
    let source = b["source_code"]
        .as_str()
        .unwrap_or(crate::config::DEFAULT_SOURCE);
    let now = sh.now();
    ok(sh.current().place_order(email, &lines, source, now)?)
}

async fn sim_state(State(sh): S) -> Res {
    ok(state_json(&sh))
}

async fn sim_bulks(State(sh): S) -> Res {
    let st = sh.current();
    let v: Vec<Value> = st
        .bulk_order
        .iter()
        .filter_map(|u| st.bulks.get(u))
        .map(|b| Store::bulk_status_json(b, true))
        .collect();
    ok(Value::Array(v))
}
