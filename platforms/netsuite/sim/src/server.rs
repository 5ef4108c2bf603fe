//! HTTP front: `/services/rest/...` (auth, concurrency gate, latency, record API, SuiteQL,
//! request log) and the simulator's own `/_sim/...` activity and inspection endpoints.

use crate::auth;
use crate::error::NsError;
use crate::filter;
use crate::oauth1;
use crate::records::{RecordType, WriteTarget};
use crate::sim::{LoginAuditEntry, NetSuiteSim, RequestLogEntry};
use crate::suiteql;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, patch, post};
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Largest request body accepted (NetSuite's REST request size limit).
const MAX_BODY: usize = 104 * 1024 * 1024;

impl NetSuiteSim {
    /// The simulator's axum router (REST API and `/_sim` endpoints).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/services/rest/{*rest}", any(rest_entry))
            .route("/_sim/stats", get(sim_stats))
            .route("/_sim/state", get(sim_state))
            .route("/_sim/requests", get(sim_requests))
            .route("/_sim/login-audit", get(sim_audit))
            .route("/_sim/credentials", get(sim_credentials))
            .route("/_sim/clock", get(sim_clock_get).post(sim_clock))
            .route("/_sim/erp/seed", post(sim_seed))
            .route("/_sim/erp/random", post(sim_random))
            .route("/_sim/erp/inventory-adjust", post(sim_adjust))
            .route("/_sim/erp/fulfil", post(sim_fulfil))
            .route(
                "/_sim/erp/quantities/{item}/{location}",
                get(sim_quantities),
            )
            .route("/_sim/erp/{rtype}", post(sim_create))
            .route("/_sim/erp/{rtype}/{id}", patch(sim_update).get(sim_get))
            .with_state(self.clone())
    }
}

fn no_content(location: Option<String>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(l) = location
        && let Ok(v) = http::HeaderValue::from_str(&l)
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn json_response(v: Value) -> Response {
    let mut r = (StatusCode::OK, axum::Json(v)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/vnd.oracle.resource+json; type=singular-resource",
        ),
    );
    r
}

fn collection_response(v: Value) -> Response {
    let mut r = (StatusCode::OK, axum::Json(v)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/vnd.oracle.resource+json; type=collection"),
    );
    r
}

async fn rest_entry(State(sim): State<NetSuiteSim>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let uri = parts.uri.clone();
    let path = uri.path().to_owned();
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    let base = format!("http://{host}");
    let inner = &sim.inner;
    let arrived = crate::clock::format_datetime(inner.clock.now());

    let query = match oauth1::parse_query(uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            let err = NsError::bad_request("INVALID_PARAMETER", e.to_string());
            return finish(
                &sim,
                &arrived,
                &method,
                &path_and_query,
                None,
                with_code(err),
            );
        }
    };

    // Authentication.
    let caller = {
        let now = inner.clock.now();
        let mut s = inner.state.lock();
        s.requests += 1;
        let st = &mut *s;
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        match auth::verify(
            &inner.config,
            &mut st.nonces,
            now,
            method.as_str(),
            &oauth1::split_url(&format!("{base}{path}"))
                .map(|(u, _)| u)
                .unwrap_or_else(|_| format!("{base}{path}")),
            &query,
            header_value,
        ) {
            Ok(c) => {
                st.per_integration
                    .entry(c.integration.clone())
                    .or_default()
                    .requests += 1;
                c
            }
            Err(refusal) => {
                st.auth_failures += 1;
                if let Some(ck) = &refusal.consumer_key
                    && let Some(i) = inner
                        .config
                        .integrations
                        .iter()
                        .find(|i| &i.consumer_key == ck)
                {
                    st.per_integration
                        .entry(i.name.clone())
                        .or_default()
                        .auth_failures += 1;
                }
                st.audit.push(LoginAuditEntry {
                    at: arrived.clone(),
                    consumer_key: refusal.consumer_key,
                    reason: refusal.reason,
                    request: format!("{method} {path}"),
                });
                drop(s);
                return finish(
                    &sim,
                    &arrived,
                    &method,
                    &path_and_query,
                    None,
                    with_code(NsError::invalid_login()),
                );
            }
        }
    };

    // Account-wide concurrency governance.
    let Some(slot) = inner.gate.enter(inner.config.concurrency_limit) else {
        inner
            .state
            .lock()
            .per_integration
            .entry(caller.integration.clone())
            .or_default()
            .over_limit += 1;
        return finish(
            &sim,
            &arrived,
            &method,
            &path_and_query,
            Some(&caller.integration),
            with_code(NsError::concurrency()),
        );
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            drop(slot);
            let err = NsError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "INVALID_CONTENT",
                "The request body exceeds the 104 MB REST request size limit.",
            );
            return finish(
                &sim,
                &arrived,
                &method,
                &path_and_query,
                Some(&caller.integration),
                with_code(err),
            );
        }
    };
    if !inner.config.latency.is_zero() {
        tokio::time::sleep(inner.config.latency).await;
    }
    let resp = dispatch(&sim, &method, &path, &query, &parts.headers, &bytes, &base);
    drop(slot);
    finish(
        &sim,
        &arrived,
        &method,
        &path_and_query,
        Some(&caller.integration),
        resp,
    )
}

/// Logs the answered request and returns the response.
fn finish(
    sim: &NetSuiteSim,
    arrived: &str,
    method: &Method,
    uri: &str,
    integration: Option<&str>,
    resp: Response,
) -> Response {
    let status = resp.status().as_u16();
    let error_code = resp.extensions().get::<ErrorCode>().map(|c| c.0.to_owned());
    let mut s = sim.inner.state.lock();
    let seq = s.next_seq;
    s.next_seq += 1;
    s.log.push_back(RequestLogEntry {
        seq,
        at: arrived.to_owned(),
        method: method.to_string(),
        uri: uri.to_owned(),
        status,
        integration: integration.map(str::to_owned),
        error_code,
    });
    while s.log.len() > sim.inner.config.request_log_capacity {
        s.log.pop_front();
    }
    resp
}

/// The `o:errorCode` of an error response, attached for the request log.
#[derive(Clone, Copy)]
pub(crate) struct ErrorCode(pub &'static str);

fn with_code(e: NsError) -> Response {
    let code = e.code;
    let mut r = e.into_response();
    r.extensions_mut().insert(ErrorCode(code));
    r
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `limit` / `offset` query parameters (limit 1..=1000, default 1000).
fn paging(query: &[(String, String)]) -> Result<(usize, usize), NsError> {
    let limit = match param(query, "limit") {
        None => 1000,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(NsError::bad_request(
                    "INVALID_PARAMETER",
                    format!("Invalid value {v} for query parameter limit: use an integer from 1 to 1000."),
                )
                .param("limit"));
            }
        },
    };
    let offset = match param(query, "offset") {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            NsError::bad_request(
                "INVALID_PARAMETER",
                format!(
                    "Invalid value {v} for query parameter offset: use a non-negative integer."
                ),
            )
            .param("offset")
        })?,
    };
    Ok((limit, offset))
}

/// Paging links: `self`, `first`, `prev`, `next`, `last` as NetSuite returns them.
fn page_links(href: &str, extra: &str, limit: usize, offset: usize, total: usize) -> Value {
    let link = |rel: &str, off: usize| json!({"rel": rel, "href": format!("{href}?{extra}limit={limit}&offset={off}")});
    let last = if total == 0 {
        0
    } else {
        ((total - 1) / limit) * limit
    };
    let mut links = vec![link("first", 0)];
    if offset > 0 {
        links.push(link("prev", offset.saturating_sub(limit)));
    }
    if offset + limit < total {
        links.push(link("next", offset + limit));
    }
    links.push(link("last", last));
    links.push(link("self", offset));
    Value::Array(links)
}

fn page_body(
    href: &str,
    extra: &str,
    items: Vec<Value>,
    limit: usize,
    offset: usize,
    total: usize,
) -> Value {
    let has_more = offset + items.len() < total;
    json!({
        "links": page_links(href, extra, limit, offset, total),
        "count": items.len(),
        "hasMore": has_more,
        "items": items,
        "offset": offset,
        "totalResults": total,
    })
}

fn parse_json(bytes: &Bytes) -> Result<Value, NsError> {
    if bytes.is_empty() {
        return Err(NsError::bad_request(
            "INVALID_CONTENT",
            "The request body is empty; a JSON object is required.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        NsError::bad_request(
            "INVALID_CONTENT",
            format!("The request body is not valid JSON: {e}."),
        )
    })
}

fn decode_segment(s: &str) -> String {
    oauth1::percent_decode(s).unwrap_or_else(|_| s.to_owned())
}

fn dispatch(
    sim: &NetSuiteSim,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
    base: &str,
) -> Response {
    let segs: Vec<String> = path
        .trim_start_matches("/services/rest/")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let result = match segs.as_slice() {
        ["query", "v1", "suiteql"] => {
            if method == Method::POST {
                suiteql_request(sim, query, headers, body, base)
            } else {
                Err(method_not_allowed(method))
            }
        }
        ["record", "v1", rtype, rest @ ..] => match RecordType::parse(rtype) {
            Some(rt) => record_request(sim, rt, rest, method, query, body, base),
            None => Err(NsError::new(
                StatusCode::NOT_FOUND,
                "INVALID_RECORD_TYPE",
                format!(
                    "Record type '{rtype}' does not exist. This account serves inventoryItem, customer, salesOrder, inventoryAdjustment, itemFulfillment and location."
                ),
            )),
        },
        _ => Err(NsError::new(
            StatusCode::NOT_FOUND,
            "NONEXISTENT_PATH",
            format!("The path {path} does not exist."),
        )),
    };
    result.unwrap_or_else(with_code)
}

fn method_not_allowed(method: &Method) -> NsError {
    NsError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "INVALID_REQUEST",
        format!("The HTTP method {method} is not allowed on this resource."),
    )
}

fn record_request(
    sim: &NetSuiteSim,
    rt: RecordType,
    rest: &[&str],
    method: &Method,
    query: &[(String, String)],
    body: &Bytes,
    base: &str,
) -> Result<Response, NsError> {
    let inner = &sim.inner;
    let href = format!("{base}/services/rest/record/v1/{}", rt.name());
    let expand = param(query, "expandSubResources").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match (rest, method.clone()) {
        ([], Method::GET) => {
            let (limit, offset) = paging(query)?;
            let q = param(query, "q").map(filter::parse).transpose()?;
            let s = inner.state.lock();
            let mut ids = Vec::new();
            for rec in s.db.all(rt) {
                if let Some(f) = &q
                    && !filter::matches(f, rt, rec)?
                {
                    continue;
                }
                ids.push(rec.id);
            }
            let total = ids.len();
            let items: Vec<Value> = ids
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|id| {
                    json!({"links": [{"rel": "self", "href": format!("{href}/{id}")}], "id": id.to_string()})
                })
                .collect();
            let extra = match param(query, "q") {
                Some(q) => format!("q={}&", oauth1::percent_encode(q)),
                None => String::new(),
            };
            Ok(collection_response(page_body(
                &href, &extra, items, limit, offset, total,
            )))
        }
        ([], Method::POST) => {
            let v = parse_json(body)?;
            let now = inner.clock.now_secs();
            let mut s = inner.state.lock();
            let out = s.db.write(rt, WriteTarget::Create, &v, &[], now)?;
            s.api_writes.entry(rt).or_default().creates += 1;
            Ok(no_content(Some(format!("{href}/{}", out.id))))
        }
        ([], m) => Err(method_not_allowed(&m)),
        ([seg], Method::GET) => {
            let s = inner.state.lock();
            let id = s.db.resolve_segment(rt, seg)?;
            let rec = s.db.get(rt, id).ok_or_else(NsError::not_found)?;
            Ok(json_response(s.db.render(rt, rec, base, expand)))
        }
        ([seg], Method::PATCH) => {
            let v = parse_json(body)?;
            let replace: Vec<String> = param(query, "replace")
                .map(|r| r.split(',').map(|x| x.trim().to_owned()).collect())
                .unwrap_or_default();
            let now = inner.clock.now_secs();
            let mut s = inner.state.lock();
            let id = s.db.resolve_segment(rt, seg)?;
            let out = s.db.write(rt, WriteTarget::Update(id), &v, &replace, now)?;
            s.api_writes.entry(rt).or_default().updates += 1;
            Ok(no_content(Some(format!("{href}/{}", out.id))))
        }
        ([seg], Method::PUT) => {
            let Some(eid) = seg.strip_prefix("eid:") else {
                return Err(NsError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "INVALID_REQUEST",
                    "PUT is only supported with an external ID (eid:...) to upsert a record; use PATCH to update by internal ID.",
                ));
            };
            let v = parse_json(body)?;
            let now = inner.clock.now_secs();
            let mut s = inner.state.lock();
            let out =
                s.db.write(rt, WriteTarget::Upsert(eid.to_owned()), &v, &[], now)?;
            let c = s.api_writes.entry(rt).or_default();
            if out.created {
                c.creates += 1;
            } else {
                c.updates += 1;
            }
            Ok(no_content(Some(format!("{href}/{}", out.id))))
        }
        ([seg], Method::DELETE) => {
            let now = inner.clock.now_secs();
            let mut s = inner.state.lock();
            let id = s.db.resolve_segment(rt, seg)?;
            s.db.delete(rt, id, now)?;
            s.api_writes.entry(rt).or_default().deletes += 1;
            Ok(no_content(None))
        }
        ([_], m) => Err(method_not_allowed(&m)),
        ([seg, "!transform", target], Method::POST) => {
            if rt != RecordType::SalesOrder || !target.eq_ignore_ascii_case("itemFulfillment") {
                return Err(NsError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_TRANSFORM",
                    format!(
                        "The transformation of {} into {target} is not supported.",
                        rt.name()
                    ),
                ));
            }
            let v = if body.is_empty() {
                json!({})
            } else {
                parse_json(body)?
            };
            let now = inner.clock.now_secs();
            let mut s = inner.state.lock();
            let id = s.db.resolve_segment(rt, seg)?;
            let out = s.db.transform_fulfillment(id, &v, now)?;
            s.api_writes
                .entry(RecordType::ItemFulfillment)
                .or_default()
                .creates += 1;
            Ok(no_content(Some(format!(
                "{base}/services/rest/record/v1/itemFulfillment/{}",
                out.id
            ))))
        }
        ([seg, sub], Method::GET) => {
            let s = inner.state.lock();
            let id = s.db.resolve_segment(rt, seg)?;
            let rec = s.db.get(rt, id).ok_or_else(NsError::not_found)?;
            let v = s.db.render_sublist(rt, rec, sub, base).ok_or_else(|| {
                NsError::new(
                    StatusCode::NOT_FOUND,
                    "NONEXISTENT_PATH",
                    format!("Record type {} has no sublist {sub}.", rt.name()),
                )
            })?;
            Ok(collection_response(v))
        }
        _ => Err(NsError::new(
            StatusCode::NOT_FOUND,
            "NONEXISTENT_PATH",
            "The requested sub-resource does not exist.",
        )),
    }
}

fn suiteql_request(
    sim: &NetSuiteSim,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
    base: &str,
) -> Result<Response, NsError> {
    let transient = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("transient"))
        });
    if !transient {
        return Err(NsError::bad_request(
            "INVALID_HEADER",
            "SuiteQL queries require the header 'Prefer: transient'.",
        ));
    }
    let (limit, offset) = paging(query)?;
    if offset >= suiteql::MAX_RESULTS {
        return Err(NsError::bad_request(
            "INVALID_PARAMETER",
            format!(
                "SuiteQL returns at most {} results; narrow the query instead of paging past them.",
                suiteql::MAX_RESULTS
            ),
        )
        .param("offset"));
    }
    let v = parse_json(body)?;
    let q = v.get("q").and_then(Value::as_str).ok_or_else(|| {
        NsError::bad_request(
            "INVALID_CONTENT",
            "The request body must be a JSON object with the query as a string in q.",
        )
    })?;
    if let Some(k) = v.as_object().and_then(|o| o.keys().find(|k| *k != "q")) {
        return Err(NsError::bad_request(
            "INVALID_CONTENT",
            format!("Unknown property {k} in the request body; only q is accepted."),
        ));
    }
    let parsed = suiteql::parse(q)?;
    let snapshot = {
        let s = sim.inner.state.lock();
        parsed.snapshot(&s.db)
    };
    let rows = parsed.evaluate(snapshot);
    let total = rows.len().min(suiteql::MAX_RESULTS);
    let items: Vec<Value> = rows
        .into_iter()
        .take(total)
        .skip(offset)
        .take(limit)
        .collect();
    let href = format!("{base}/services/rest/query/v1/suiteql");
    Ok(collection_response(page_body(
        &href, "", items, limit, offset, total,
    )))
}

// ---------------------------------------------------------------- /_sim

impl IntoResponse for crate::sim::SimStats {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

async fn sim_stats(State(sim): State<NetSuiteSim>) -> Response {
    sim.stats().into_response()
}

async fn sim_state(State(sim): State<NetSuiteSim>) -> Response {
    axum::Json(sim.dump()).into_response()
}

async fn sim_requests(
    State(sim): State<NetSuiteSim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let log = sim.request_log();
    let since: u64 = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
    let items: Vec<_> = log.into_iter().filter(|e| e.seq > since).collect();
    axum::Json(json!({"items": items})).into_response()
}

async fn sim_audit(State(sim): State<NetSuiteSim>) -> Response {
    axum::Json(json!({"items": sim.login_audit()})).into_response()
}

async fn sim_credentials(State(sim): State<NetSuiteSim>) -> Response {
    axum::Json(json!({
        "accountId": sim.account_id(),
        "baseUrl": sim.base_url(),
        "credentials": sim.credentials(),
    }))
    .into_response()
}

async fn sim_clock_get(State(sim): State<NetSuiteSim>) -> Response {
    axum::Json(json!({"now": crate::clock::format_datetime(sim.now())})).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    freeze: Option<bool>,
    advance_secs: Option<u64>,
}

async fn sim_clock(State(sim): State<NetSuiteSim>, body: Bytes) -> Response {
    let b: ClockBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return NsError::bad_request("INVALID_CONTENT", format!("clock body: {e}"))
                .into_response();
        }
    };
    if let Some(secs) = b.advance_secs {
        sim.advance_clock(std::time::Duration::from_secs(secs));
    }
    match b.freeze {
        Some(true) => sim.freeze_clock(),
        Some(false) => sim.unfreeze_clock(),
        None => {}
    }
    sim_clock_get(State(sim)).await
}

fn rtype(s: &str) -> Result<RecordType, NsError> {
    RecordType::parse(s).ok_or_else(|| {
        NsError::new(
            StatusCode::NOT_FOUND,
            "INVALID_RECORD_TYPE",
            format!("Record type '{s}' does not exist."),
        )
    })
}

async fn sim_create(
    State(sim): State<NetSuiteSim>,
    Path(t): Path<String>,
    body: Bytes,
) -> Response {
    let r = (|| {
        let rt = rtype(&t)?;
        let v = parse_json(&body)?;
        sim.erp_create(rt, v)
    })();
    match r {
        Ok(id) => (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn sim_update(
    State(sim): State<NetSuiteSim>,
    Path((t, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let r = (|| {
        let rt = rtype(&t)?;
        let v = parse_json(&body)?;
        sim.erp_update(rt, &id, v)
    })();
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn sim_get(
    State(sim): State<NetSuiteSim>,
    Path((t, id)): Path<(String, String)>,
) -> Response {
    match rtype(&t) {
        Ok(rt) => match sim.record(rt, &id) {
            Some(v) => axum::Json(v).into_response(),
            None => NsError::not_found().into_response(),
        },
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    item: String,
    location: String,
    delta: f64,
    memo: Option<String>,
}

async fn sim_adjust(State(sim): State<NetSuiteSim>, body: Bytes) -> Response {
    let b: AdjustBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return NsError::bad_request("INVALID_CONTENT", format!("adjust body: {e}"))
                .into_response();
        }
    };
    match sim.erp_adjust_inventory(&b.item, &b.location, b.delta, b.memo.as_deref()) {
        Ok(id) => (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilBody {
    /// Sales order, internal id or `eid:...`.
    sales_order: String,
    /// `[order line number, quantity]` pairs; empty = every committed quantity.
    #[serde(default)]
    lines: Vec<(u64, f64)>,
    #[serde(default)]
    tracking: Vec<String>,
    carrier: Option<String>,
}

async fn sim_fulfil(State(sim): State<NetSuiteSim>, body: Bytes) -> Response {
    let b: FulfilBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return NsError::bad_request("INVALID_CONTENT", format!("fulfil body: {e}"))
                .into_response();
        }
    };
    let tracking: Vec<&str> = b.tracking.iter().map(String::as_str).collect();
    match sim.erp_fulfil(&b.sales_order, &b.lines, &tracking, b.carrier.as_deref()) {
        Ok(id) => (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn sim_quantities(
    State(sim): State<NetSuiteSim>,
    Path((item, location)): Path<(String, String)>,
) -> Response {
    axum::Json(sim.quantities(&item, &location)).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    items: usize,
    customers: usize,
}

async fn sim_seed(State(sim): State<NetSuiteSim>, body: Bytes) -> Response {
    let b: SeedBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return NsError::bad_request("INVALID_CONTENT", format!("seed body: {e}"))
                .into_response();
        }
    };
    match sim.erp_seed_catalog(b.items, b.customers) {
        Ok(ids) => (
            StatusCode::CREATED,
            axum::Json(json!({"items": ids.0, "customers": ids.1})),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomBody {
    steps: usize,
}

async fn sim_random(State(sim): State<NetSuiteSim>, body: Bytes) -> Response {
    let b: RandomBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return NsError::bad_request("INVALID_CONTENT", format!("random body: {e}"))
                .into_response();
        }
    };
    match sim.erp_random_activity(b.steps) {
        Ok(events) => axum::Json(json!({"events": events})).into_response(),
        Err(e) => e.into_response(),
    }
}
