//! The REST surface: `/stores/{hash}/v3/...` and `/stores/{hash}/v2/...`, behind
//! `X-Auth-Token` authentication and the store's request quota, with BigCommerce's envelopes
//! (`{"data","meta"}` on V3, bare JSON on V2) and error shapes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::error::BcError;
use crate::sim::{RequestRecord, Shared};
use crate::store::{ORDER_STATUSES, Store, Variant};

type S = State<Arc<Shared>>;
type Res = Result<Response, Failure>;

/// An error and the API version it is rendered for.
pub struct Failure(BcError, bool);

impl From<BcError> for Failure {
    fn from(e: BcError) -> Self {
        Failure(e, false)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        self.0.response(self.1)
    }
}

fn v2(e: BcError) -> Failure {
    Failure(e, true)
}

/// The router: the API under `/stores/{hash}` and the merchant/inspection API under `/_sim`.
pub fn router(shared: Arc<Shared>) -> Router {
    let v3 = Router::new()
        .route(
            "/v3/catalog/products",
            get(list_products)
                .post(create_product)
                .put(batch_products)
                .delete(delete_products),
        )
        .route(
            "/v3/catalog/products/{id}",
            get(get_product).put(update_product).delete(delete_product),
        )
        .route(
            "/v3/catalog/products/{id}/variants",
            get(list_product_variants).post(create_variant),
        )
        .route(
            "/v3/catalog/products/{id}/variants/{vid}",
            get(get_variant).put(update_variant).delete(delete_variant),
        )
        .route(
            "/v3/catalog/variants",
            get(list_variants).put(batch_variants),
        )
        .route(
            "/v3/customers",
            get(list_customers)
                .post(create_customers)
                .put(update_customers)
                .delete(delete_customers),
        )
        .route("/v3/inventory/locations", get(list_locations))
        .route("/v3/inventory/items", get(list_inventory_items))
        .route(
            "/v3/inventory/adjustments/absolute",
            axum::routing::put(adjust_absolute),
        )
        .route(
            "/v3/inventory/adjustments/relative",
            axum::routing::post(adjust_relative),
        )
        .route("/v3/hooks", get(list_hooks).post(create_hook))
        .route(
            "/v3/hooks/{id}",
            get(get_hook).put(update_hook).delete(delete_hook),
        )
        .route("/v2/orders", get(list_orders).post(create_order))
        .route("/v2/orders/count", get(count_orders))
        .route("/v2/orders/{id}", get(get_order).put(update_order))
        .route("/v2/orders/{id}/products", get(order_products))
        .route("/v2/order_statuses", get(order_statuses))
        .fallback(no_route);
    Router::new()
        .nest("/stores/{hash}", v3)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .merge(crate::merchant::router())
        .with_state(shared)
}

async fn no_route(req: Request) -> Response {
    let v2 = req.uri().path().contains("/v2/");
    let e = BcError::new(404, "The requested resource was not found.");
    e.response(v2)
}

fn quota_headers(resp: &mut Response, a: &crate::quota::QuotaAnswer) {
    let h = resp.headers_mut();
    h.insert("x-rate-limit-requests-left", HeaderValue::from(a.left));
    h.insert("x-rate-limit-requests-quota", HeaderValue::from(a.quota));
    h.insert(
        "x-rate-limit-time-window-ms",
        HeaderValue::from(a.window_ms),
    );
    h.insert("x-rate-limit-time-reset-ms", HeaderValue::from(a.reset_ms));
}

/// Store hash, authentication, the quota and the request log, around every API request.
async fn gate(State(shared): S, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().to_string();
    let is_v2 = path.contains("/v2/");
    let log = |status: u16| {
        shared.log_request(RequestRecord {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            status,
        })
    };
    let hash = path
        .strip_prefix("/stores/")
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    if hash != shared.config.store_hash {
        log(404);
        return BcError::new(404, "Store not found").response(is_v2);
    }
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let authorized = token.is_some_and(|t| {
        shared
            .config
            .tokens
            .iter()
            .any(|k| constant_eq(k.as_bytes(), t.as_bytes()))
    });
    if !authorized {
        log(401);
        let title = if token.is_none() {
            "No credentials were supplied in the request."
        } else {
            "The credentials supplied in the request are invalid."
        };
        return BcError::new(401, title).response(is_v2);
    }
    let answer = shared.quota.lock().charge();
    if !answer.allowed {
        log(429);
        let mut resp = BcError::new(
            429,
            "Too many requests: the store's request quota for this window is used up.",
        )
        .response(is_v2);
        quota_headers(&mut resp, &answer);
        return resp;
    }
    let mut resp = next.run(req).await;
    quota_headers(&mut resp, &answer);
    log(resp.status().as_u16());
    resp
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ------------------------------------------------------------------- helpers

/// Parsed query parameters.
struct Q(Vec<(String, String)>);

impl Q {
    fn new(raw: Option<String>) -> Self {
        Q(form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect())
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    fn u64(&self, k: &str) -> Result<Option<u64>, BcError> {
        self.get(k)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| bad_param(k, "must be a non-negative integer"))
            })
            .transpose()
    }

    fn ids(&self, k: &str) -> Result<Option<Vec<u64>>, BcError> {
        self.get(k)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| {
                        s.trim()
                            .parse()
                            .map_err(|_| bad_param(k, "must be a list of integers"))
                    })
                    .collect()
            })
            .transpose()
    }

    fn list(&self, k: &str) -> Option<Vec<String>> {
        self.get(k).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    fn date(&self, k: &str) -> Result<Option<DateTime<Utc>>, BcError> {
        self.get(k)
            .map(|v| crate::store::parse_date(v).ok_or_else(|| bad_param(k, "is not a valid date")))
            .transpose()
    }

    /// `page` and `limit` (1..=250, default 50).
    fn paging(&self) -> Result<(usize, usize), BcError> {
        let page = self.u64("page")?.unwrap_or(1);
        if page == 0 {
            return Err(bad_param("page", "must be 1 or more"));
        }
        let limit = self.u64("limit")?.unwrap_or(50);
        if limit == 0 {
            return Err(bad_param("limit", "must be 1 or more"));
        }
        if limit > 250 {
            return Err(BcError::new(
                413,
                "The limit parameter exceeds the maximum of 250.",
            ));
        }
        Ok((page as usize, limit as usize))
    }

    /// The query with `page` replaced, as a `?…` link.
    fn link(&self, page: usize, limit: usize) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            if k != "page" && k != "limit" {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &page.to_string());
        s.append_pair("limit", &limit.to_string());
        format!("?{}", s.finish())
    }
}

fn bad_param(name: &str, why: &str) -> BcError {
    BcError::new(422, format!("The filter(s): {name} {why}")).field(name, why.to_owned())
}

fn parse_body(body: &Bytes) -> Result<Value, BcError> {
    serde_json::from_slice(body)
        .map_err(|_| BcError::new(400, "The request body is not valid JSON."))
}

fn ok(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn data(d: Value) -> Response {
    ok(StatusCode::OK, json!({ "data": d, "meta": {} }))
}

/// A page of `items` with `meta.pagination`.
fn page_of(items: Vec<Value>, q: &Q) -> Res {
    let (page, limit) = q.paging()?;
    let total = items.len();
    let total_pages = total.div_ceil(limit);
    let start = (page - 1) * limit;
    let chunk: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut links = Map::new();
    if page > 1 {
        links.insert("previous".into(), json!(q.link(page - 1, limit)));
    }
    links.insert("current".into(), json!(q.link(page, limit)));
    if page < total_pages {
        links.insert("next".into(), json!(q.link(page + 1, limit)));
    }
    Ok(ok(
        StatusCode::OK,
        json!({
            "data": chunk.clone(),
            "meta": { "pagination": {
                "total": total, "count": chunk.len(), "per_page": limit,
                "current_page": page, "total_pages": total_pages, "links": links,
            }},
        }),
    ))
}

/// Id filters shared by V3 lists: `id`, `id:in`, `id:not_in`, `id:min`, `id:max`,
/// `id:greater`, `id:less`.
fn id_matches(q: &Q, id: u64) -> Result<bool, BcError> {
    if q.u64("id")?.is_some_and(|v| v != id) {
        return Ok(false);
    }
    if q.ids("id:in")?.is_some_and(|v| !v.contains(&id)) {
        return Ok(false);
    }
    if q.ids("id:not_in")?.is_some_and(|v| v.contains(&id)) {
        return Ok(false);
    }
    Ok(!(q.u64("id:min")?.is_some_and(|v| id < v)
        || q.u64("id:max")?.is_some_and(|v| id > v)
        || q.u64("id:greater")?.is_some_and(|v| id <= v)
        || q.u64("id:less")?.is_some_and(|v| id >= v)))
}

/// Date filters `date_modified`, `date_modified:min` (inclusive), `date_modified:max`.
fn date_matches(q: &Q, field: &str, t: DateTime<Utc>) -> Result<bool, BcError> {
    if q.date(field)?.is_some_and(|d| d != t) {
        return Ok(false);
    }
    Ok(!(q.date(&format!("{field}:min"))?.is_some_and(|d| t < d)
        || q.date(&format!("{field}:max"))?.is_some_and(|d| t > d)))
}

fn sorted(mut items: Vec<Value>, q: &Q, allowed: &[&str]) -> Result<Vec<Value>, BcError> {
    let key = q.get("sort").unwrap_or("id");
    if !allowed.contains(&key) {
        return Err(bad_param("sort", "is not a sortable field"));
    }
    let desc = match q.get("direction").unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        _ => return Err(bad_param("direction", "must be asc or desc")),
    };
    items.sort_by(|a, b| {
        let o = match (&a[key], &b[key]) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            (x, y) => x.as_str().cmp(&y.as_str()),
        }
        .then_with(|| a["id"].as_u64().cmp(&b["id"].as_u64()));
        if desc { o.reverse() } else { o }
    });
    Ok(items)
}

fn act<T>(shared: &Shared, f: impl FnOnce(&mut Store) -> Result<T, BcError>) -> Result<T, BcError> {
    let r = f(&mut shared.store.lock());
    shared.flush_events();
    r
}

fn path_id(s: &str) -> Result<u64, BcError> {
    s.parse().map_err(|_| BcError::not_found())
}

// ------------------------------------------------------------------- catalog

fn product_matches(st: &Store, p: &crate::store::Product, q: &Q) -> Result<bool, BcError> {
    if !id_matches(q, p.id)? || !date_matches(q, "date_modified", p.date_modified)? {
        return Ok(false);
    }
    let skus: Vec<&str> = p
        .variants
        .iter()
        .filter_map(|v| st.variants.get(v))
        .map(|v| v.sku.as_str())
        .collect();
    let sku_in = |want: &[String]| {
        want.iter()
            .any(|w| skus.iter().any(|s| s.eq_ignore_ascii_case(w)))
    };
    if let Some(s) = q.get("sku")
        && !sku_in(&[s.to_owned()])
    {
        return Ok(false);
    }
    if let Some(list) = q.list("sku:in")
        && !sku_in(&list)
    {
        return Ok(false);
    }
    if q.get("name").is_some_and(|n| n != p.name) {
        return Ok(false);
    }
    Ok(true)
}

fn includes_variants(q: &Q) -> bool {
    q.list("include")
        .is_some_and(|l| l.iter().any(|i| i == "variants"))
}

async fn list_products(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    let with = includes_variants(&q);
    let items = {
        let st = sh.store.lock();
        let mut out = Vec::new();
        for p in st.products.values() {
            if product_matches(&st, p, &q)? {
                out.push(st.product_json(p, with));
            }
        }
        out
    };
    let items = sorted(
        items,
        &q,
        &[
            "id",
            "name",
            "sku",
            "price",
            "date_modified",
            "inventory_level",
        ],
    )?;
    page_of(items, &q)
}

async fn get_product(
    State(sh): S,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Res {
    let q = Q::new(raw);
    let id = path_id(&id)?;
    let st = sh.store.lock();
    let p = st.products.get(&id).ok_or_else(BcError::not_found)?;
    Ok(data(st.product_json(p, includes_variants(&q))))
}

async fn create_product(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let id = act(&sh, |st| st.create_product(&body))?;
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::OK,
        json!({"data": st.product_json(&st.products[&id], true), "meta": {}}),
    ))
}

async fn update_product(State(sh): S, Path((_, id)): Path<(String, String)>, body: Bytes) -> Res {
    let id = path_id(&id)?;
    let body = parse_body(&body)?;
    act(&sh, |st| st.update_product(id, &body))?;
    let st = sh.store.lock();
    Ok(data(st.product_json(&st.products[&id], false)))
}

async fn delete_product(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let id = path_id(&id)?;
    act(&sh, |st| st.delete_product(id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Products at most per `DELETE /v3/catalog/products`.
const PRODUCT_DELETE_LIMIT: usize = 250;

/// `DELETE /v3/catalog/products?…`: every product the filters match (the list's filters), at
/// most [`PRODUCT_DELETE_LIMIT`]; a request without a filter is refused (422), so a missing
/// query never deletes the catalog. 204.
async fn delete_products(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    // Only the filters the simulator applies count (an unknown parameter is ignored, as in
    // lists, and must not widen a delete to the whole catalog).
    let filtered = q.0.iter().any(|(k, _)| {
        matches!(
            k.as_str(),
            "id" | "id:in"
                | "id:not_in"
                | "id:min"
                | "id:max"
                | "id:greater"
                | "id:less"
                | "sku"
                | "sku:in"
                | "name"
                | "date_modified"
                | "date_modified:min"
                | "date_modified:max"
        )
    });
    if !filtered {
        return Err(BcError::new(
            422,
            "A filter is required to delete products, e.g. id:in=1,2,3.",
        )
        .into());
    }
    let ids = {
        let st = sh.store.lock();
        let mut ids = Vec::new();
        for p in st.products.values() {
            if product_matches(&st, p, &q)? {
                ids.push(p.id);
            }
        }
        ids
    };
    if ids.len() > PRODUCT_DELETE_LIMIT {
        return Err(BcError::new(
            422,
            format!("At most {PRODUCT_DELETE_LIMIT} products can be deleted at one time."),
        )
        .into());
    }
    act(&sh, |st| {
        st.delete_products(&ids);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /v3/catalog/products`: up to the batch limit, all or nothing.
async fn batch_products(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let items = body
        .as_array()
        .ok_or_else(|| BcError::new(422, "The request body must be an array of products."))?;
    if items.len() > sh.config.product_batch_limit {
        return Err(BcError::new(
            413,
            format!(
                "The request payload is too large: at most {} products per request",
                sh.config.product_batch_limit
            ),
        )
        .into());
    }
    let ids = batch(&sh, items, "products", |st, id, item| {
        st.update_product(id, item)
    })?;
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::OK,
        json!({"data": ids.iter().map(|i| st.product_json(&st.products[i], false)).collect::<Vec<_>>(), "meta": {}}),
    ))
}

/// Applies `f` to every item (each with an `id`), all or nothing.
fn batch(
    sh: &Shared,
    items: &[Value],
    what: &str,
    f: impl Fn(&mut Store, u64, &Value) -> Result<(), BcError>,
) -> Result<Vec<u64>, BcError> {
    let mut st = sh.store.lock();
    let mut ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = item
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| BcError::invalid(&format!("{what}.{i}.id"), "id is required"))?;
        ids.push(id);
    }
    // All or nothing: apply to a snapshot and restore it on the first failure.
    let snapshot = st.snapshot();
    for (i, item) in items.iter().enumerate() {
        if let Err(mut e) = f(&mut st, ids[i], item) {
            st.restore(snapshot);
            e.errors
                .insert(format!("{what}.{i}"), json!(e.title.clone()));
            return Err(e);
        }
    }
    drop(st);
    sh.flush_events();
    Ok(ids)
}

fn variant_matches(v: &Variant, q: &Q) -> Result<bool, BcError> {
    if !id_matches(q, v.id)? {
        return Ok(false);
    }
    if q.get("sku")
        .is_some_and(|s| !s.eq_ignore_ascii_case(&v.sku))
    {
        return Ok(false);
    }
    if let Some(l) = q.list("sku:in")
        && !l.iter().any(|s| s.eq_ignore_ascii_case(&v.sku))
    {
        return Ok(false);
    }
    if q.ids("product_id:in")?
        .is_some_and(|l| !l.contains(&v.product_id))
    {
        return Ok(false);
    }
    Ok(true)
}

async fn list_variants(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    let items = {
        let st = sh.store.lock();
        let mut out = Vec::new();
        for v in st.variants.values() {
            if variant_matches(v, &q)? {
                out.push(st.variant_json(v));
            }
        }
        out
    };
    page_of(items, &q)
}

async fn list_product_variants(
    State(sh): S,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Res {
    let q = Q::new(raw);
    let id = path_id(&id)?;
    let items = {
        let st = sh.store.lock();
        let p = st.products.get(&id).ok_or_else(BcError::not_found)?;
        let mut out = Vec::new();
        for v in p.variants.iter().filter_map(|v| st.variants.get(v)) {
            if variant_matches(v, &q)? {
                out.push(st.variant_json(v));
            }
        }
        out
    };
    page_of(items, &q)
}

async fn get_variant(State(sh): S, Path((_, id, vid)): Path<(String, String, String)>) -> Res {
    let (id, vid) = (path_id(&id)?, path_id(&vid)?);
    let st = sh.store.lock();
    match st.variants.get(&vid) {
        Some(v) if v.product_id == id => Ok(data(st.variant_json(v))),
        _ => Err(BcError::not_found().into()),
    }
}

async fn create_variant(State(sh): S, Path((_, id)): Path<(String, String)>, body: Bytes) -> Res {
    let id = path_id(&id)?;
    let body = parse_body(&body)?;
    let vid = act(&sh, |st| st.create_variant(id, &body))?;
    let st = sh.store.lock();
    Ok(data(st.variant_json(&st.variants[&vid])))
}

async fn update_variant(
    State(sh): S,
    Path((_, id, vid)): Path<(String, String, String)>,
    body: Bytes,
) -> Res {
    let (id, vid) = (path_id(&id)?, path_id(&vid)?);
    let body = parse_body(&body)?;
    act(&sh, |st| st.update_variant(vid, Some(id), &body))?;
    let st = sh.store.lock();
    Ok(data(st.variant_json(&st.variants[&vid])))
}

/// `DELETE /v3/catalog/products/{id}/variants/{vid}`: 204; 404 when the product has no such
/// variant; 422 for its base variant.
async fn delete_variant(State(sh): S, Path((_, id, vid)): Path<(String, String, String)>) -> Res {
    let (id, vid) = (path_id(&id)?, path_id(&vid)?);
    act(&sh, |st| st.delete_variant(id, vid))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /v3/catalog/variants`: up to the batch limit, all or nothing.
async fn batch_variants(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let items = body
        .as_array()
        .ok_or_else(|| BcError::new(422, "The request body must be an array of variants."))?;
    if items.len() > sh.config.variant_batch_limit {
        return Err(BcError::new(
            413,
            format!(
                "The request payload is too large: at most {} variants per request",
                sh.config.variant_batch_limit
            ),
        )
        .into());
    }
    let ids = batch(&sh, items, "variants", |st, id, item| {
        st.update_variant(id, None, item)
    })?;
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::OK,
        json!({"data": ids.iter().map(|i| st.variant_json(&st.variants[i])).collect::<Vec<_>>(), "meta": {}}),
    ))
}

// ----------------------------------------------------------------- customers

async fn list_customers(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    let items = {
        let st = sh.store.lock();
        let emails = q.list("email:in");
        let mut out = Vec::new();
        for c in st.customers.values() {
            if !id_matches(&q, c.id)?
                || !date_matches(&q, "date_modified", c.date_modified)?
                || !date_matches(&q, "date_created", c.date_created)?
            {
                continue;
            }
            if let Some(e) = &emails
                && !e.iter().any(|e| {
                    c.fields["email"]
                        .as_str()
                        .is_some_and(|m| m.eq_ignore_ascii_case(e))
                })
            {
                continue;
            }
            out.push(st.customer_json(c));
        }
        out
    };
    let items = sorted(
        items,
        &q,
        &["id", "date_modified", "date_created", "last_name"],
    )?;
    page_of(items, &q)
}

async fn create_customers(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let items = body
        .as_array()
        .ok_or_else(|| BcError::new(422, "The request body must be an array of customers."))?;
    let ids = {
        let mut st = sh.store.lock();
        let snap = st.snapshot();
        let mut ids = Vec::new();
        for (i, c) in items.iter().enumerate() {
            match st.create_customer(c) {
                Ok(id) => ids.push(id),
                Err(mut e) => {
                    st.restore(snap);
                    e.errors
                        .insert(format!("customers.{i}"), json!(e.title.clone()));
                    return Err(e.into());
                }
            }
        }
        ids
    };
    sh.flush_events();
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::OK,
        json!({"data": ids.iter().map(|i| st.customer_json(&st.customers[i])).collect::<Vec<_>>(), "meta": {}}),
    ))
}

async fn update_customers(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let items = body
        .as_array()
        .ok_or_else(|| BcError::new(422, "The request body must be an array of customers."))?;
    let ids = batch(&sh, items, "customers", |st, id, item| {
        st.update_customer(id, item)
    })?;
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::OK,
        json!({"data": ids.iter().map(|i| st.customer_json(&st.customers[i])).collect::<Vec<_>>(), "meta": {}}),
    ))
}

/// `DELETE /v3/customers?id:in=…`: 204, also for ids that do not exist; without `id:in`, 204
/// and nothing deleted (the reference: "If not provided, a 204 is returned, with no changes to
/// the data").
async fn delete_customers(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    if let Some(ids) = q.ids("id:in")? {
        act(&sh, |st| Ok(st.delete_customers(&ids)))?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----------------------------------------------------------------- inventory

async fn list_locations(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    let items: Vec<Value> = sh
        .store
        .lock()
        .locations
        .iter()
        .map(|(id, (code, label))| {
            json!({"id": id, "code": code, "label": label, "enabled": true,
                   "type_id": "PHYSICAL", "storefront_visibility": true})
        })
        .collect();
    page_of(items, &q)
}

async fn list_inventory_items(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    let variant_ids = q.ids("variant_id:in")?;
    let product_ids = q.ids("product_id:in")?;
    let skus = q.list("sku:in");
    let locations = q.ids("location_id:in")?;
    let items = {
        let st = sh.store.lock();
        st.variants
            .values()
            .filter(|v| variant_ids.as_ref().is_none_or(|l| l.contains(&v.id)))
            .filter(|v| {
                product_ids
                    .as_ref()
                    .is_none_or(|l| l.contains(&v.product_id))
            })
            .filter(|v| {
                skus.as_ref()
                    .is_none_or(|l| l.iter().any(|s| s.eq_ignore_ascii_case(&v.sku)))
            })
            .map(|v| st.inventory_item_json(v, locations.as_deref()))
            .collect::<Vec<_>>()
    };
    page_of(items, &q)
}

async fn adjust(sh: &Shared, absolute: bool, body: &Bytes) -> Res {
    let body = parse_body(body)?;
    act(sh, |st| {
        st.adjust(absolute, &body, sh.config.adjustment_limit)
    })?;
    Ok(ok(
        StatusCode::OK,
        json!({ "transaction_id": uuid::Uuid::new_v4().to_string() }),
    ))
}

async fn adjust_absolute(State(sh): S, body: Bytes) -> Res {
    adjust(&sh, true, &body).await
}

async fn adjust_relative(State(sh): S, body: Bytes) -> Res {
    adjust(&sh, false, &body).await
}

// --------------------------------------------------------------------- hooks

async fn list_hooks(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = Q::new(raw);
    let items: Vec<Value> = sh
        .store
        .lock()
        .hooks
        .values()
        .map(|h| h.json(&sh.config.store_hash))
        .collect();
    page_of(items, &q)
}

async fn create_hook(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let mut st = sh.store.lock();
    let id = st.create_hook(&body, sh.config.webhooks.require_https)?;
    Ok(data(st.hooks[&id].json(&sh.config.store_hash)))
}

async fn get_hook(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let id = path_id(&id)?;
    let st = sh.store.lock();
    let h = st.hooks.get(&id).ok_or_else(BcError::not_found)?;
    Ok(data(h.json(&sh.config.store_hash)))
}

async fn update_hook(State(sh): S, Path((_, id)): Path<(String, String)>, body: Bytes) -> Res {
    let id = path_id(&id)?;
    let body = parse_body(&body)?;
    let mut st = sh.store.lock();
    st.update_hook(id, &body, sh.config.webhooks.require_https)?;
    Ok(data(st.hooks[&id].json(&sh.config.store_hash)))
}

async fn delete_hook(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let id = path_id(&id)?;
    let mut st = sh.store.lock();
    let h = st.hooks.remove(&id).ok_or_else(BcError::not_found)?;
    Ok(data(h.json(&sh.config.store_hash)))
}

// -------------------------------------------------------------------- orders

fn v2_q(raw: Option<String>) -> Q {
    Q::new(raw)
}

fn order_filter(st: &Store, q: &Q) -> Result<Vec<u64>, BcError> {
    let min_id = q.u64("min_id")?;
    let max_id = q.u64("max_id")?;
    let status = q.u64("status_id")?;
    let customer = q.u64("customer_id")?;
    let dmin = q.date("min_date_modified")?;
    let dmax = q.date("max_date_modified")?;
    let cmin = q.date("min_date_created")?;
    let cmax = q.date("max_date_created")?;
    Ok(st
        .orders
        .values()
        .filter(|o| min_id.is_none_or(|m| o.id >= m))
        .filter(|o| max_id.is_none_or(|m| o.id <= m))
        .filter(|o| status.is_none_or(|s| o.status_id == s))
        .filter(|o| customer.is_none_or(|c| o.customer_id == c))
        .filter(|o| dmin.is_none_or(|d| o.date_modified >= d))
        .filter(|o| dmax.is_none_or(|d| o.date_modified <= d))
        .filter(|o| cmin.is_none_or(|d| o.date_created >= d))
        .filter(|o| cmax.is_none_or(|d| o.date_created <= d))
        .map(|o| o.id)
        .collect())
}

async fn list_orders(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = v2_q(raw);
    let (page, limit) = q.paging().map_err(v2)?;
    let st = sh.store.lock();
    let mut ids = order_filter(&st, &q).map_err(v2)?;
    let sort = q.get("sort").unwrap_or("id:asc");
    let (field, dir) = sort.split_once(':').unwrap_or((sort, "asc"));
    match field {
        "id" => {}
        "date_modified" => ids.sort_by_key(|i| (st.orders[i].date_modified, *i)),
        "date_created" => ids.sort_by_key(|i| (st.orders[i].date_created, *i)),
        _ => return Err(v2(BcError::new(400, "The field 'sort' is invalid."))),
    }
    if dir == "desc" {
        ids.reverse();
    }
    let base = sh.base_url();
    let out: Vec<Value> = ids
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|i| st.order_json(&st.orders[i], &base, &sh.config.store_hash))
        .collect();
    if out.is_empty() {
        // V2 answers an empty collection with 204 and no body.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(ok(StatusCode::OK, Value::Array(out)))
}

async fn count_orders(State(sh): S, RawQuery(raw): RawQuery) -> Res {
    let q = v2_q(raw);
    let st = sh.store.lock();
    let n = order_filter(&st, &q).map_err(v2)?.len();
    Ok(ok(StatusCode::OK, json!({ "count": n })))
}

async fn get_order(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let id = path_id(&id).map_err(v2)?;
    let st = sh.store.lock();
    let o = st.orders.get(&id).ok_or_else(|| v2(BcError::not_found()))?;
    Ok(ok(
        StatusCode::OK,
        st.order_json(o, &sh.base_url(), &sh.config.store_hash),
    ))
}

async fn order_products(State(sh): S, Path((_, id)): Path<(String, String)>) -> Res {
    let id = path_id(&id).map_err(v2)?;
    let st = sh.store.lock();
    let o = st.orders.get(&id).ok_or_else(|| v2(BcError::not_found()))?;
    Ok(ok(StatusCode::OK, st.order_products_json(o)))
}

async fn create_order(State(sh): S, body: Bytes) -> Res {
    let body = parse_body(&body).map_err(v2)?;
    let id = act(&sh, |st| st.create_order(&body)).map_err(v2)?;
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::CREATED,
        st.order_json(&st.orders[&id], &sh.base_url(), &sh.config.store_hash),
    ))
}

async fn update_order(State(sh): S, Path((_, id)): Path<(String, String)>, body: Bytes) -> Res {
    let id = path_id(&id).map_err(v2)?;
    let body = parse_body(&body).map_err(v2)?;
    act(&sh, |st| st.update_order(id, &body)).map_err(v2)?;
    let st = sh.store.lock();
    Ok(ok(
        StatusCode::OK,
        st.order_json(&st.orders[&id], &sh.base_url(), &sh.config.store_hash),
    ))
}

async fn order_statuses() -> Res {
    Ok(ok(
        StatusCode::OK,
        Value::Array(
            ORDER_STATUSES
                .iter()
                .map(|(id, name)| json!({"id": id, "name": name, "system_label": name, "custom_label": name, "order": id}))
                .collect(),
        ),
    ))
}
