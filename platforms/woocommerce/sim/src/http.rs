//! The REST surface at `/wp-json/wc/v3/...`: authentication, routing, WordPress argument
//! validation, pagination headers, filters, `/batch`, the host rate limit, and the `/_sim`
//! routes merged in.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use crate::auth::{AuthRequest, authenticate};
use crate::error::WcError;
use crate::inspect::RequestRecord;
use crate::sim::Shared;
use crate::store::{Actor, Kind, Rec, Store, money};
use crate::webhooks::php_json;

/// Builds the router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/wp-json", any(api))
        .route("/wp-json/", any(api))
        .route("/wp-json/{*rest}", any(api))
        .merge(crate::merchant::routes())
        .with_state(shared)
}

/// A JSON response as WordPress writes it.
pub fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        php_json(body),
    )
        .into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

fn error_response(e: &WcError) -> Response {
    json_response(e.status, &e.body())
}

/// What a route does, for the permission check's codes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    List,
    Read,
    Create,
    Edit,
    Delete,
    Batch,
}

fn refused(op: Op) -> WcError {
    let (code, msg) = match op {
        Op::List => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        ),
        Op::Read => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        ),
        Op::Create => (
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        ),
        Op::Edit => (
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        ),
        Op::Delete => (
            "woocommerce_rest_cannot_delete",
            "Sorry, you are not allowed to delete this resource.",
        ),
        Op::Batch => (
            "woocommerce_rest_cannot_batch",
            "Sorry, you are not allowed to batch manipulate this resource.",
        ),
    };
    WcError::new(401, code, msg)
}

fn no_route() -> WcError {
    WcError::new(
        404,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
}

/// Decoded query parameters.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Self {
        Query {
            pairs: form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// `k=a,b` or `k[]=a&k[]=b` (or `k[0]=a`).
    fn list(&self, k: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut found = false;
        for (n, v) in &self.pairs {
            let base = n.split('[').next().unwrap_or(n);
            if base == k {
                found = true;
                out.extend(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
        }
        found.then_some(out)
    }

    fn int(&self, k: &str, min: i64, max: Option<i64>) -> Result<Option<i64>, (String, String)> {
        let Some(v) = self.get(k) else {
            return Ok(None);
        };
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| (k.to_string(), format!("{k} is not of type integer.")))?;
        match max {
            Some(max) if n < min || n > max => Err((
                k.to_string(),
                format!("{k} must be between {min} (inclusive) and {max} (inclusive)"),
            )),
            None if n < min => Err((
                k.to_string(),
                format!("{k} must be greater than or equal to {min}"),
            )),
            _ => Ok(Some(n)),
        }
    }

    fn bool(&self, k: &str) -> Result<Option<bool>, (String, String)> {
        match self.get(k) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0" | "") => Ok(Some(false)),
            Some(_) => Err((k.to_string(), format!("{k} is not of type boolean."))),
        }
    }
}

/// WordPress's `date-time` format: RFC 3339 with an optional zone.
fn parse_date(s: &str, zone: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(&s.replace(' ', "T")) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    naive
        .and_local_timezone(zone)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

struct Listing {
    page: u64,
    per_page: u64,
    offset: Option<u64>,
    desc: bool,
    orderby: String,
    include: Option<Vec<u64>>,
    exclude: Vec<u64>,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    modified_after: Option<DateTime<Utc>>,
    modified_before: Option<DateTime<Utc>>,
}

fn ids(v: Option<Vec<String>>, name: &str) -> Result<Option<Vec<u64>>, (String, String)> {
    match v {
        None => Ok(None),
        Some(v) => v
            .iter()
            .map(|s| {
                s.parse::<u64>().map_err(|_| {
                    (
                        name.to_string(),
                        format!("{name}[0] is not of type integer."),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn listing(q: &Query, kind: Kind, zone: FixedOffset) -> Result<Listing, WcError> {
    let mut bad = Vec::new();
    let mut take = |r: Result<Option<i64>, (String, String)>| match r {
        Ok(v) => v,
        Err(e) => {
            bad.push(e);
            None
        }
    };
    let page = take(q.int("page", 1, None)).unwrap_or(1) as u64;
    let per_page = take(q.int("per_page", 1, Some(100))).unwrap_or(10) as u64;
    let offset = take(q.int("offset", 0, None)).map(|o| o as u64);
    let default_desc = kind != Kind::Customer;
    let desc = match q.get("order") {
        None => default_desc,
        Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            bad.push(("order".into(), "order is not one of asc, desc.".into()));
            default_desc
        }
    };
    let allowed: &[&str] = match kind {
        Kind::Product => &[
            "date",
            "modified",
            "id",
            "include",
            "title",
            "slug",
            "price",
            "popularity",
            "rating",
            "menu_order",
        ],
        Kind::Order => &["date", "modified", "id", "include", "title", "slug"],
        Kind::Customer => &["id", "include", "name", "registered_date"],
        Kind::Webhook => &["date", "id", "include", "title"],
        Kind::Refund => &["date", "id", "include", "title", "slug", "modified"],
    };
    let default_orderby = if kind == Kind::Customer {
        "name"
    } else {
        "date"
    };
    let orderby = match q.get("orderby") {
        None => default_orderby.to_string(),
        Some(o) if allowed.contains(&o) => o.to_string(),
        Some(_) => {
            bad.push((
                "orderby".into(),
                format!("orderby is not one of {}.", allowed.join(", ")),
            ));
            default_orderby.to_string()
        }
    };
    let include = ids(q.list("include"), "include").unwrap_or_else(|e| {
        bad.push(e);
        None
    });
    let exclude = ids(q.list("exclude"), "exclude")
        .unwrap_or_else(|e| {
            bad.push(e);
            None
        })
        .unwrap_or_default();
    let gmt = q.bool("dates_are_gmt").unwrap_or_else(|e| {
        bad.push(e);
        None
    });
    let zone = if gmt == Some(true) {
        FixedOffset::east_opt(0).expect("zero")
    } else {
        zone
    };
    let mut date = |k: &str| -> Option<DateTime<Utc>> {
        let v = q.get(k)?;
        match parse_date(v, zone) {
            Some(t) => Some(t),
            None => {
                bad.push((k.to_string(), "Invalid date.".into()));
                None
            }
        }
    };
    // WooCommerce's customers endpoint has no date filters: WordPress ignores unknown args.
    let dated = kind != Kind::Customer;
    let after = if dated { date("after") } else { None };
    let before = if dated { date("before") } else { None };
    let modified_after = if dated { date("modified_after") } else { None };
    let modified_before = if dated { date("modified_before") } else { None };
    if !bad.is_empty() {
        return Err(WcError::invalid_params(&bad));
    }
    Ok(Listing {
        page,
        per_page,
        offset,
        desc,
        orderby,
        include,
        exclude,
        after,
        before,
        modified_after,
        modified_before,
    })
}

fn map_for(store: &Store, kind: Kind) -> &std::collections::BTreeMap<u64, Rec> {
    match kind {
        Kind::Product => &store.products,
        Kind::Customer => &store.customers,
        Kind::Order => &store.orders,
        Kind::Webhook => &store.webhooks,
        Kind::Refund => &store.refunds,
    }
}

fn s<'a>(r: &'a Rec, k: &str) -> &'a str {
    r.data.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Runs a collection GET: filters, order, page. Returns the page and the total.
fn list(
    store: &Store,
    kind: Kind,
    parent: Option<u64>,
    q: &Query,
) -> Result<(Vec<Value>, u64, Listing), WcError> {
    let l = listing(q, kind, store.offset())?;
    let status: Option<Vec<String>> = q.list("status");
    let skus: Option<Vec<String>> = q.list("sku");
    let search = q.get("search").map(str::to_lowercase);
    let mut bad = Vec::new();
    if let Some(st) = &status {
        let allowed: &[&str] = match kind {
            Kind::Product => &[
                "any", "future", "trash", "draft", "pending", "private", "publish",
            ],
            Kind::Order => &[
                "any",
                "trash",
                "pending",
                "processing",
                "on-hold",
                "completed",
                "cancelled",
                "refunded",
                "failed",
                "checkout-draft",
            ],
            Kind::Webhook => &["all", "active", "paused", "disabled"],
            Kind::Customer | Kind::Refund => &[],
        };
        if kind != Kind::Customer
            && kind != Kind::Refund
            && let Some(b) = st.iter().find(|s| !allowed.contains(&s.as_str()))
        {
            let _ = b;
            bad.push((
                "status".to_string(),
                format!("status is not one of {}.", allowed.join(", ")),
            ));
        }
    }
    let ptype = q.get("type");
    if let Some(t) = ptype
        && kind == Kind::Product
        && parent.is_none()
        && !["simple", "grouped", "external", "variable"].contains(&t)
    {
        bad.push((
            "type".into(),
            "type is not one of simple, grouped, external, variable.".into(),
        ));
    }
    if !bad.is_empty() {
        return Err(WcError::invalid_params(&bad));
    }
    let customer_filter = q.get("customer").and_then(|c| c.parse::<u64>().ok());
    let product_filter = q.get("product").and_then(|c| c.parse::<u64>().ok());
    let email = q.get("email").map(str::to_lowercase);
    let parents = q.list("parent").map(|v| {
        v.iter()
            .filter_map(|p| p.parse::<u64>().ok())
            .collect::<Vec<_>>()
    });
    let mut rows: Vec<&Rec> = map_for(store, kind)
        .values()
        .filter(|r| match kind {
            Kind::Product => match parent {
                Some(p) => r.parent() == p,
                None => !r.is_variation(),
            },
            Kind::Refund => Some(r.parent()) == parent,
            _ => true,
        })
        .filter(|r| {
            let st = r.status();
            match (&status, kind) {
                (_, Kind::Customer | Kind::Refund) => true,
                (None, Kind::Webhook) => true,
                (Some(v), Kind::Webhook) => v.iter().any(|s| s == "all" || s == st),
                (None, _) => st != "trash",
                (Some(v), _) => v.iter().any(|s| (s == "any" && st != "trash") || s == st),
            }
        })
        .filter(|r| l.include.as_ref().is_none_or(|inc| inc.contains(&r.id)))
        .filter(|r| !l.exclude.contains(&r.id))
        .filter(|r| l.after.is_none_or(|t| r.created > t))
        .filter(|r| l.before.is_none_or(|t| r.created < t))
        .filter(|r| l.modified_after.is_none_or(|t| r.modified > t))
        .filter(|r| l.modified_before.is_none_or(|t| r.modified < t))
        .filter(|r| {
            skus.as_ref()
                .is_none_or(|v| v.iter().any(|k| s(r, "sku").eq_ignore_ascii_case(k)))
        })
        .filter(|r| {
            kind != Kind::Product || parent.is_some() || ptype.is_none_or(|t| s(r, "type") == t)
        })
        .filter(|r| parents.as_ref().is_none_or(|p| p.contains(&r.parent())))
        .filter(|r| {
            customer_filter
                .is_none_or(|c| r.data.get("customer_id").and_then(Value::as_u64) == Some(c))
        })
        .filter(|r| {
            product_filter.is_none_or(|p| {
                r.data
                    .get("line_items")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter().any(|li| {
                            li["product_id"].as_u64() == Some(p)
                                || li["variation_id"].as_u64() == Some(p)
                        })
                    })
            })
        })
        .filter(|r| {
            email
                .as_ref()
                .is_none_or(|e| s(r, "email").to_lowercase() == *e)
        })
        .filter(|r| {
            search.as_ref().is_none_or(|needle| {
                [
                    "name",
                    "sku",
                    "email",
                    "first_name",
                    "last_name",
                    "description",
                ]
                .iter()
                .any(|k| s(r, k).to_lowercase().contains(needle.as_str()))
            })
        })
        .collect();
    let key = |r: &Rec| -> (String, f64, i64) {
        match l.orderby.as_str() {
            "date" | "registered_date" => (String::new(), 0.0, r.created.timestamp()),
            "modified" => (String::new(), 0.0, r.modified.timestamp()),
            "title" => (s(r, "name").to_lowercase(), 0.0, 0),
            "name" => (
                format!("{} {}", s(r, "first_name"), s(r, "last_name")).to_lowercase(),
                0.0,
                0,
            ),
            "slug" => (s(r, "slug").to_string(), 0.0, 0),
            "price" => (
                String::new(),
                money(store.render_product(r.id)["price"].as_str().unwrap_or("")),
                0,
            ),
            "popularity" => (
                String::new(),
                0.0,
                r.data
                    .get("total_sales")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            ),
            "menu_order" => (
                String::new(),
                0.0,
                r.data
                    .get("menu_order")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            ),
            "include" => {
                let pos = l
                    .include
                    .as_ref()
                    .and_then(|inc| inc.iter().position(|i| *i == r.id))
                    .unwrap_or(usize::MAX);
                (String::new(), 0.0, pos as i64)
            }
            _ => (String::new(), 0.0, 0),
        }
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let c =
            ka.0.cmp(&kb.0)
                .then(ka.1.total_cmp(&kb.1))
                .then(ka.2.cmp(&kb.2))
                .then(a.id.cmp(&b.id));
        if l.desc && l.orderby != "include" {
            c.reverse()
        } else {
            c
        }
    });
    let total = rows.len() as u64;
    let start = l.offset.unwrap_or((l.page - 1) * l.per_page) as usize;
    let page: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(l.per_page as usize)
        .map(|r| store.render(kind, r.id))
        .collect();
    Ok((page, total, l))
}

fn paged_response(
    shared: &Shared,
    path: &str,
    q: &Query,
    items: Vec<Value>,
    total: u64,
    l: &Listing,
) -> Response {
    let pages = total.div_ceil(l.per_page);
    let mut resp = json_response(200, &Value::Array(items));
    let h = resp.headers_mut();
    h.insert("x-wp-total", HeaderValue::from(total));
    h.insert("x-wp-totalpages", HeaderValue::from(pages));
    let base = format!("{}/wp-json/{path}", shared.site_url());
    let link = |page: u64| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &q.pairs {
            if k != "page" {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("page", &page.to_string());
        format!("<{base}?{}>", ser.finish())
    };
    let mut links = Vec::new();
    if l.page > 1 {
        let prev = (l.page - 1).min(pages.max(1));
        links.push(format!("{}; rel=\"prev\"", link(prev)));
    }
    if pages > l.page {
        links.push(format!("{}; rel=\"next\"", link(l.page + 1)));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        h.insert("link", v);
    }
    resp
}

/// Where a request is going.
#[derive(Clone, Copy, Debug)]
enum Target {
    Collection(Kind, Option<u64>),
    Batch(Kind, Option<u64>),
    Item(Kind, Option<u64>, u64),
}

fn kind_of(seg: &str) -> Option<Kind> {
    match seg {
        "products" => Some(Kind::Product),
        "customers" => Some(Kind::Customer),
        "orders" => Some(Kind::Order),
        "webhooks" => Some(Kind::Webhook),
        _ => None,
    }
}

fn route(segs: &[&str]) -> Option<Target> {
    let id = |s: &str| s.parse::<u64>().ok();
    match segs {
        [k] => Some(Target::Collection(kind_of(k)?, None)),
        [k, "batch"] => Some(Target::Batch(kind_of(k)?, None)),
        [k, i] => Some(Target::Item(kind_of(k)?, None, id(i)?)),
        ["products", p, "variations"] => Some(Target::Collection(Kind::Product, Some(id(p)?))),
        ["products", p, "variations", "batch"] => Some(Target::Batch(Kind::Product, Some(id(p)?))),
        ["products", p, "variations", i] => Some(Target::Item(Kind::Product, Some(id(p)?), id(i)?)),
        ["orders", o, "refunds"] => Some(Target::Collection(Kind::Refund, Some(id(o)?))),
        ["orders", o, "refunds", i] => Some(Target::Item(Kind::Refund, Some(id(o)?), id(i)?)),
        _ => None,
    }
}

fn force(q: &Query, body: Option<&Value>) -> bool {
    matches!(q.get("force"), Some("true" | "1"))
        || body
            .and_then(|b| b.get("force"))
            .is_some_and(|f| f == &json!(true) || f == &json!("true"))
}

fn create(
    store: &mut Store,
    kind: Kind,
    parent: Option<u64>,
    body: &Value,
    secret: &str,
    actor: Actor,
) -> Result<Value, WcError> {
    let id = match kind {
        Kind::Product => store.create_product(body, parent, actor)?,
        Kind::Customer => store.create_customer(body, actor)?,
        Kind::Order => store.create_order(body, actor)?,
        Kind::Webhook => store.create_webhook(body, secret)?,
        Kind::Refund => store.create_refund(parent.unwrap_or(0), body)?,
    };
    Ok(with_secret(store, kind, id))
}

fn update(
    store: &mut Store,
    kind: Kind,
    parent: Option<u64>,
    id: u64,
    body: &Value,
) -> Result<Value, WcError> {
    match kind {
        Kind::Product => store.update_product(id, body, parent)?,
        Kind::Customer => store.update_customer(id, body)?,
        Kind::Order => store.update_order(id, body)?,
        Kind::Webhook => store.update_webhook(id, body)?,
        Kind::Refund => return Err(no_route()),
    }
    Ok(with_secret(store, kind, id))
}

/// Create and update answer in the `edit` context, which includes a webhook's secret.
fn with_secret(store: &Store, kind: Kind, id: u64) -> Value {
    let mut v = store.render(kind, id);
    if kind == Kind::Webhook
        && let Some(w) = store.webhooks.get(&id)
        && let Some(o) = v.as_object_mut()
    {
        o.insert("secret".into(), w.data["secret"].clone());
    }
    v
}

fn delete(
    store: &mut Store,
    kind: Kind,
    parent: Option<u64>,
    id: u64,
    force: bool,
) -> Result<Value, WcError> {
    match kind {
        // The products endpoint refuses a variation's id (`WC_REST_Products_V2_Controller::
        // delete_item`), the message's `<` and `>` written as HTML entities, as WooCommerce does.
        Kind::Product if parent.is_none() && store.product(id)?.is_variation() => {
            Err(WcError::new(
                404,
                "woocommerce_rest_invalid_product_id",
                "To manipulate product variations you should use the \
                 /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.",
            ))
        }
        Kind::Product => store.delete_product(id, force, parent),
        Kind::Customer => store.delete_customer(id, force),
        Kind::Order => store.delete_order(id, force),
        Kind::Webhook => store.delete_webhook(id, force),
        Kind::Refund => store.delete_refund(parent.unwrap_or(0), id, force),
    }
}

fn read(store: &Store, kind: Kind, parent: Option<u64>, id: u64) -> Result<Value, WcError> {
    match (kind, parent) {
        (Kind::Product, Some(p)) => store.variation(p, id).map(|_| ()),
        (Kind::Product, None) => store.product(id).map(|_| ()),
        (Kind::Customer, _) => store.customer(id).map(|_| ()),
        (Kind::Order, _) => store.order(id).map(|_| ()),
        (Kind::Webhook, _) => store.webhook(id).map(|_| ()),
        (Kind::Refund, p) => store.refund(p.unwrap_or(0), id).map(|_| ()),
    }?;
    Ok(store.render(kind, id))
}

fn item_error(id: u64, e: &WcError) -> Value {
    json!({"id": id, "error": e.body()})
}

/// `POST …/batch`: create, update and delete together, at most `batch_limit` items.
fn batch(
    store: &mut Store,
    kind: Kind,
    parent: Option<u64>,
    body: &Value,
    secret: &str,
    limit: usize,
) -> Result<Value, WcError> {
    let Some(m) = body.as_object() else {
        return Err(WcError::new(
            400,
            "rest_invalid_json",
            "Invalid JSON body passed.",
        ));
    };
    let count = |k: &str| m.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    let n = count("create") + count("update") + count("delete");
    if n > limit {
        return Err(WcError::new(
            413,
            "woocommerce_rest_request_entity_too_large",
            format!("Unable to accept more than {limit} items for this request."),
        ));
    }
    let mut out = Map::new();
    if let Some(items) = m.get("create").and_then(Value::as_array) {
        let res: Vec<Value> = items
            .iter()
            .map(|it| {
                create(store, kind, parent, it, secret, Actor::Api)
                    .unwrap_or_else(|e| item_error(0, &e))
            })
            .collect();
        out.insert("create".into(), Value::Array(res));
    }
    if let Some(items) = m.get("update").and_then(Value::as_array) {
        let res: Vec<Value> = items
            .iter()
            .map(|it| {
                let id = it
                    .get("id")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(0);
                update(store, kind, parent, id, it).unwrap_or_else(|e| item_error(id, &e))
            })
            .collect();
        out.insert("update".into(), Value::Array(res));
    }
    if let Some(items) = m.get("delete").and_then(Value::as_array) {
        let res: Vec<Value> = items
            .iter()
            .map(|it| {
                let id = it
                    .as_u64()
                    .or_else(|| it.as_str()?.parse().ok())
                    .or_else(|| it.get("id")?.as_u64())
                    .unwrap_or(0);
                // WooCommerce's batch deletes with force = true.
                delete(store, kind, parent, id, true).unwrap_or_else(|e| item_error(id, &e))
            })
            .collect();
        out.insert("delete".into(), Value::Array(res));
    }
    Ok(Value::Object(out))
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let q = Query::parse(uri.query());
    let mut method = method.as_str().to_string();
    if method == "POST"
        && let Some(m) = q
            .get("_method")
            .or_else(|| headers.get("x-http-method-override")?.to_str().ok())
    {
        method = m.to_ascii_uppercase();
    }
    if let Some((status, retry_after)) = shared.throttle() {
        shared.log_request(RequestRecord {
            method,
            path,
            query: uri.query().unwrap_or("").to_string(),
            status,
            consumer_key: None,
        });
        return shared.throttle_response(status, retry_after);
    }
    let (resp, key) = handle(&shared, &method, &path, &q, &headers, &body);
    shared.log_request(RequestRecord {
        method,
        path,
        query: uri.query().unwrap_or("").to_string(),
        status: resp.status().as_u16(),
        consumer_key: key,
    });
    shared.flush_events();
    resp
}

fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Response, Option<String>) {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let base_url = match &shared.config.site_url {
        Some(site) => format!("{}{path}", site.trim_end_matches('/')),
        None => format!("{scheme}://{host}{path}"),
    };
    let req = AuthRequest {
        method,
        base_url,
        query: &q.pairs,
        authorization: headers.get("authorization").and_then(|h| h.to_str().ok()),
    };
    let now = Utc::now().timestamp();
    let auth = {
        let mut nonces = shared.nonces.lock();
        authenticate(
            &shared.config.keys,
            &mut nonces,
            shared.config.oauth_window_secs,
            now,
            &req,
        )
    };
    let key = match auth {
        Ok(k) => k,
        Err(e) => return (error_response(&e), None),
    };
    let key_name = key.as_ref().map(|k| k.consumer_key.clone());
    let rest = path.trim_start_matches("/wp-json").trim_matches('/');
    if rest.is_empty() || rest == "wc/v3" {
        if method != "GET" {
            return (error_response(&no_route()), key_name);
        }
        let route = |m: &[&str]| json!({"namespace": "wc/v3", "methods": m});
        let rw = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        let routes = json!({
            "/wc/v3": route(&["GET"]),
            "/wc/v3/products": route(&["GET", "POST"]),
            "/wc/v3/products/batch": route(&["POST", "PUT", "PATCH"]),
            "/wc/v3/products/(?P<id>[\\d]+)": route(&rw),
            "/wc/v3/products/(?P<product_id>[\\d]+)/variations": route(&["GET", "POST"]),
            "/wc/v3/products/(?P<product_id>[\\d]+)/variations/batch": route(&["POST", "PUT", "PATCH"]),
            "/wc/v3/products/(?P<product_id>[\\d]+)/variations/(?P<id>[\\d]+)": route(&rw),
            "/wc/v3/customers": route(&["GET", "POST"]),
            "/wc/v3/customers/batch": route(&["POST", "PUT", "PATCH"]),
            "/wc/v3/customers/(?P<id>[\\d]+)": route(&rw),
            "/wc/v3/orders": route(&["GET", "POST"]),
            "/wc/v3/orders/batch": route(&["POST", "PUT", "PATCH"]),
            "/wc/v3/orders/(?P<id>[\\d]+)": route(&rw),
            "/wc/v3/webhooks": route(&["GET", "POST"]),
            "/wc/v3/webhooks/batch": route(&["POST", "PUT", "PATCH"]),
            "/wc/v3/webhooks/(?P<id>[\\d]+)": route(&rw),
        });
        let site = shared.site_url();
        let body = if rest.is_empty() {
            // The WordPress index: public, names the namespaces a client probes for.
            json!({"name": "weft WooCommerce simulator", "description": "", "url": site,
                "home": site, "gmt_offset": shared.store.lock().offset().local_minus_utc() / 3600,
                "namespaces": ["wp/v2", "wc/v3"], "authentication": [], "routes": routes})
        } else {
            json!({"namespace": "wc/v3", "routes": routes})
        };
        return (json_response(200, &body), key_name);
    }
    let Some(api_path) = rest.strip_prefix("wc/v3/") else {
        return (error_response(&no_route()), key_name);
    };
    let segs: Vec<&str> = api_path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(target) = route(&segs) else {
        return (error_response(&no_route()), key_name);
    };
    let op = match (target, method) {
        (Target::Collection(..), "GET" | "HEAD") => Op::List,
        (Target::Collection(..), "POST") => Op::Create,
        (Target::Batch(..), "POST" | "PUT" | "PATCH") => Op::Batch,
        (Target::Item(..), "GET" | "HEAD") => Op::Read,
        (Target::Item(..), "POST" | "PUT" | "PATCH") => Op::Edit,
        (Target::Item(..), "DELETE") => Op::Delete,
        _ => return (error_response(&no_route()), key_name),
    };
    let json_body: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => Some(v),
            Err(_) => {
                let is_json = headers
                    .get("content-type")
                    .and_then(|h| h.to_str().ok())
                    .is_some_and(|c| c.contains("json"));
                if is_json {
                    let e = WcError::new(400, "rest_invalid_json", "Invalid JSON body passed.");
                    return (error_response(&e), key_name);
                }
                // A form-encoded body: WordPress reads it as parameters.
                let m: Map<String, Value> = form_urlencoded::parse(body)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
                Some(Value::Object(m))
            }
        }
    };
    // WordPress validates collection arguments before the permission check.
    if op == Op::List
        && let Target::Collection(kind, _) = target
        && let Err(e) = listing(q, kind, shared.store.lock().offset())
    {
        return (error_response(&e), key_name);
    }
    let Some(key) = key else {
        return (error_response(&refused(op)), None);
    };
    let secret = key.consumer_secret.clone();
    let empty = json!({});
    let input = json_body.as_ref().unwrap_or(&empty);
    let mut store = shared.store.lock();
    let result = match (target, op) {
        (Target::Collection(kind, parent), Op::List) => {
            let parent_check = |p: u64| {
                if kind == Kind::Refund {
                    store.order(p).map(|_| ())
                } else {
                    store.product(p).map(|_| ())
                }
            };
            if let Some(p) = parent
                && let Err(e) = parent_check(p)
            {
                return (error_response(&e), key_name);
            }
            let path = format!("wc/v3/{api_path}");
            return match list(&store, kind, parent, q) {
                Ok((items, total, l)) => {
                    (paged_response(shared, &path, q, items, total, &l), key_name)
                }
                Err(e) => (error_response(&e), key_name),
            };
        }
        (Target::Collection(kind, parent), Op::Create) => {
            create(&mut store, kind, parent, input, &secret, Actor::Api).map(|v| (201, v))
        }
        (Target::Batch(kind, parent), _) => {
            if let Some(p) = parent
                && let Err(e) = store.product(p)
            {
                return (error_response(&e), key_name);
            }
            batch(
                &mut store,
                kind,
                parent,
                input,
                &secret,
                shared.config.batch_limit,
            )
            .map(|v| (200, v))
        }
        (Target::Item(kind, parent, id), Op::Read) => {
            read(&store, kind, parent, id).map(|v| (200, v))
        }
        (Target::Item(kind, parent, id), Op::Edit) => {
            update(&mut store, kind, parent, id, input).map(|v| (200, v))
        }
        (Target::Item(kind, parent, id), Op::Delete) => {
            delete(&mut store, kind, parent, id, force(q, json_body.as_ref())).map(|v| (200, v))
        }
        _ => Err(no_route()),
    };
    drop(store);
    match result {
        Ok((status, v)) => (json_response(status, &v), key_name),
        Err(e) => (error_response(&e), key_name),
    }
}
