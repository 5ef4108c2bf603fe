//! The HTTP surface: Admin GraphQL (`POST /admin/api/{version}/graphql.json`) with cost-based
//! throttling, REST-style endpoints with the request bucket (`shop.json`, `products/count.json`),
//! and the `/_sim` merchant and inspection endpoints.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::config::ThrottleStatusCode;
use crate::graphql::ReqCtx;
use crate::graphql::cost::{actual_cost, requested_cost, select_operation};
use crate::inspect::RequestRecord;
use crate::sim::Shared;

/// Shopify's body for a bad access token.
pub const INVALID_TOKEN_BODY: &str =
    r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;

static REQUEST_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Builds the router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route("/admin/api/{version}/shop.json", get(rest_shop))
        .route(
            "/admin/api/{version}/products/count.json",
            get(rest_products_count),
        )
        .route("/_sim/bulk/{file}", get(bulk_file))
        .merge(crate::merchant::routes())
        .layer(axum::middleware::map_response_with_state(
            shared.clone(),
            shop_date,
        ))
        .with_state(shared)
}

/// A bulk operation's JSONL file, as its signed storage URL serves it: no access token.
async fn bulk_file(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let id = file
        .strip_suffix(".jsonl")
        .and_then(|n| n.parse::<u64>().ok());
    match id.and_then(|id| shared.bulk.file(id)) {
        Some(body) => {
            let mut resp = (StatusCode::OK, body.as_str().to_owned()).into_response();
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/jsonl"),
            );
            resp
        }
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// Stamps every response with the shop's own clock as its `Date` header, as Shopify's servers
/// do: the same clock as every `updatedAt`, so a client can tell whether a read happened after
/// a given second was over (hyper's own `Date` would be the host's clock, which the simulated
/// shop clock is not).
async fn shop_date(State(shared): State<Arc<Shared>>, mut resp: Response) -> Response {
    let now = shared.state.lock().clock.now();
    if let Ok(v) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        resp.headers_mut().insert(axum::http::header::DATE, v);
    }
    resp
}

fn json_response(status: StatusCode, body: &Value, version: Option<&str>) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("x-shopify-api-version", v);
    }
    let id = REQUEST_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(v) = HeaderValue::from_str(&format!("sim-{id:016x}")) {
        h.insert("x-request-id", v);
    }
    resp
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            shared
                .config
                .access_tokens
                .iter()
                .any(|ok| subtle_eq(ok.as_bytes(), t.as_bytes()))
        })
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Response {
    let mut resp = (StatusCode::UNAUTHORIZED, INVALID_TOKEN_BODY).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn throttle_status(shared: &Shared) -> Value {
    let mut b = shared.gql_bucket.lock();
    json!({
        "maximumAvailable": b.capacity(),
        "currentlyAvailable": b.available().floor() as i64,
        "restoreRate": b.rate(),
    })
}

fn record(
    shared: &Shared,
    method: &str,
    path: String,
    status: u16,
    operation: Option<String>,
    cost: Option<(u64, Option<u64>)>,
    throttled: bool,
) {
    shared.log_request(RequestRecord {
        seq: 0,
        at_ms: shared.elapsed_ms(),
        method: method.to_string(),
        path,
        status,
        operation,
        requested_cost: cost.map(|c| c.0),
        actual_cost: cost.and_then(|c| c.1),
        throttled,
    });
}

async fn graphql(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/admin/api/{version}/graphql.json");
    shared.inspect.lock().graphql += 1;
    if !authorized(&shared, &headers) {
        shared.inspect.lock().unauthorized += 1;
        record(&shared, "POST", path, 401, None, None, false);
        return unauthorized();
    }
    if !shared.config.api_versions.contains(&version) && version != "unstable" {
        record(&shared, "POST", path, 404, None, None, false);
        return json_response(StatusCode::NOT_FOUND, &json!({"errors": "Not Found"}), None);
    }
    let is_graphql_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/graphql"));
    let (query, variables, op_name) = if is_graphql_body {
        (String::from_utf8_lossy(&body).into_owned(), json!({}), None)
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => match v.get("query").and_then(Value::as_str) {
                Some(q) => (
                    q.to_string(),
                    v.get("variables")
                        .filter(|x| !x.is_null())
                        .cloned()
                        .unwrap_or(json!({})),
                    v.get("operationName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                ),
                None => {
                    record(&shared, "POST", path, 400, None, None, false);
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"errors": {"query": "Required parameter missing or invalid"}}),
                        Some(&version),
                    );
                }
            },
            Err(_) => {
                record(&shared, "POST", path, 400, None, None, false);
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"errors": {"query": "Required parameter missing or invalid"}}),
                    Some(&version),
                );
            }
        }
    };

    let doc = async_graphql_parser::parse_query(&query).ok();
    let op = doc
        .as_ref()
        .and_then(|d| select_operation(d, op_name.as_deref()));
    let (requested, operation) = match (&doc, op) {
        (Some(d), Some(o)) => {
            let c = requested_cost(d, o, &variables);
            let names: Vec<String> = o
                .selection_set
                .node
                .items
                .iter()
                .filter_map(|s| match &s.node {
                    async_graphql_parser::types::Selection::Field(f) => {
                        Some(f.node.name.node.to_string())
                    }
                    _ => None,
                })
                .collect();
            (c.requested, Some(names.join(",")))
        }
        _ => (0, None),
    };

    if requested > shared.config.max_query_cost {
        shared.inspect.lock().max_cost_exceeded += 1;
        let max = shared.config.max_query_cost;
        let body = json!({
            "errors": [{
                "message": format!("Query cost is {requested}, which exceeds the single query max cost limit ({max}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulkoperations-with-admin-api for usage details.\n"),
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": max},
            }],
            "extensions": {"cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": null,
                "throttleStatus": throttle_status(&shared),
            }},
        });
        record(
            &shared,
            "POST",
            path,
            200,
            operation,
            Some((requested, None)),
            false,
        );
        return json_response(StatusCode::OK, &body, Some(&version));
    }

    let admitted = shared.gql_bucket.lock().try_take(requested as f64);
    if !admitted {
        shared.inspect.lock().throttled_graphql += 1;
        let body = json!({
            "errors": [{
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
            }],
            "extensions": {"cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": null,
                "throttleStatus": throttle_status(&shared),
            }},
        });
        let status = match shared.config.throttle_status {
            ThrottleStatusCode::Ok200 => StatusCode::OK,
            ThrottleStatusCode::TooMany429 => StatusCode::TOO_MANY_REQUESTS,
        };
        record(
            &shared,
            "POST",
            path,
            status.as_u16(),
            operation,
            Some((requested, None)),
            true,
        );
        return json_response(status, &body, Some(&version));
    }

    let mut request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables.clone()))
        .data(shared.clone())
        .data(ReqCtx::new(&version));
    if let Some(n) = op_name {
        request = request.operation_name(n);
    }
    let response = shared.schema.execute(request).await;
    shared.flush_events();

    let data = response.data.clone().into_json().unwrap_or(Value::Null);
    let actual = match (&doc, op) {
        (Some(d), Some(o)) => actual_cost(d, o, &variables, &data).min(requested),
        _ => 0,
    };
    shared.gql_bucket.lock().refund((requested - actual) as f64);
    shared.inspect.lock().cost_charged += actual;

    let mut out = serde_json::Map::new();
    if !response.errors.is_empty() {
        out.insert(
            "errors".into(),
            serde_json::to_value(&response.errors).unwrap_or(Value::Null),
        );
    }
    if !data.is_null() || response.errors.is_empty() {
        out.insert("data".into(), data);
    }
    out.insert(
        "extensions".into(),
        json!({"cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": throttle_status(&shared),
        }}),
    );
    record(
        &shared,
        "POST",
        path,
        200,
        operation,
        Some((requested, Some(actual))),
        false,
    );
    json_response(StatusCode::OK, &Value::Object(out), Some(&version))
}

/// Applies the REST bucket; `Err` is the 429 response.
fn rest_admit(shared: &Shared, path: &str, version: &str) -> Result<String, Box<Response>> {
    let mut b = shared.rest_bucket.lock();
    let cap = b.capacity();
    if b.try_take(1.0) {
        let used = (cap - b.available()).ceil().max(1.0) as u64;
        Ok(format!("{used}/{}", cap as u64))
    } else {
        let wait = b.seconds_until(1.0).ceil().max(1.0) as u64;
        let rate = b.rate();
        drop(b);
        shared.inspect.lock().throttled_rest += 1;
        record(shared, "GET", path.to_string(), 429, None, None, true);
        let mut resp = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"errors": format!("Exceeded {rate} calls per second for api client. Reduce request rates to resume uninterrupted service.")}),
            Some(version),
        );
        let h = resp.headers_mut();
        h.insert(
            "retry-after",
            HeaderValue::from_str(&wait.to_string()).expect("digits"),
        );
        h.insert(
            "x-shopify-shop-api-call-limit",
            HeaderValue::from_str(&format!("{}/{}", cap as u64, cap as u64)).expect("ascii"),
        );
        Err(Box::new(resp))
    }
}

fn rest_guard(
    shared: &Shared,
    headers: &HeaderMap,
    version: &str,
    path: &str,
) -> Result<String, Box<Response>> {
    if !authorized(shared, headers) {
        shared.inspect.lock().unauthorized += 1;
        record(shared, "GET", path.to_string(), 401, None, None, false);
        return Err(Box::new(unauthorized()));
    }
    if !shared.config.api_versions.iter().any(|v| v == version) {
        record(shared, "GET", path.to_string(), 404, None, None, false);
        return Err(Box::new(json_response(
            StatusCode::NOT_FOUND,
            &json!({"errors": "Not Found"}),
            None,
        )));
    }
    rest_admit(shared, path, version)
}

fn rest_ok(shared: &Shared, path: String, version: &str, limit: String, body: Value) -> Response {
    record(shared, "GET", path, 200, None, None, false);
    let mut resp = json_response(StatusCode::OK, &body, Some(version));
    resp.headers_mut().insert(
        "x-shopify-shop-api-call-limit",
        HeaderValue::from_str(&limit).expect("ascii"),
    );
    resp
}

async fn rest_shop(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/admin/api/{version}/shop.json");
    let limit = match rest_guard(&shared, &headers, &version, &path) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let c = &shared.config;
    let name = c.shop_domain.trim_end_matches(".myshopify.com").to_string();
    let body = json!({"shop": {
        "id": 1u64,
        "name": name,
        "domain": c.shop_domain,
        "myshopify_domain": c.shop_domain,
        "currency": c.currency,
        "plan_name": "basic",
        "iana_timezone": "Etc/GMT",
    }});
    rest_ok(&shared, path, &version, limit, body)
}

async fn rest_products_count(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/admin/api/{version}/products/count.json");
    let limit = match rest_guard(&shared, &headers, &version, &path) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    if !crate::scopes::covers(&shared.access_scopes.lock(), "read_products") {
        shared.inspect.lock().access_denied += 1;
        record(&shared, "GET", path, 403, None, None, false);
        return json_response(
            StatusCode::FORBIDDEN,
            &json!({"errors": crate::scopes::rest_denied_message("read_products")}),
            Some(&version),
        );
    }
    let count = shared.state.lock().products.len();
    rest_ok(&shared, path, &version, limit, json!({"count": count}))
}
