//! The HTTP surface: `/v4/spreadsheets/...` as Google's gRPC transcoding exposes it (paths
//! parsed by hand, because a range may hold `:`, `!`, quotes and encoded `/`, and methods are
//! `:verb` suffixes), the token endpoint `POST /token`, and the `/_sim` routes
//! ([`crate::person`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use percent_encoding::percent_decode_str;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::a1::{self, Rect};
use crate::auth::{self, Token};
use crate::book::{Major, Spreadsheet};
use crate::cell::{DateRender, InputOption, RenderOption};
use crate::error::{GoogleError, TokenError, json_response};
use crate::quota::Group;
use crate::sim::{RequestRecord, Shared};

/// The whole router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(token))
        .merge(crate::person::routes())
        .fallback(api)
        .with_state(shared)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Get(String),
    BatchUpdate(String),
    ValuesGet(String, String),
    ValuesUpdate(String, String),
    ValuesAppend(String, String),
    ValuesClear(String, String),
    BatchGet(String),
    ValuesBatchUpdate(String),
    BatchClear(String),
}

impl Route {
    fn op(&self) -> (&'static str, Group) {
        match self {
            Route::Get(_) => ("spreadsheets.get", Group::Read),
            Route::BatchUpdate(_) => ("spreadsheets.batchUpdate", Group::Write),
            Route::ValuesGet(..) => ("values.get", Group::Read),
            Route::ValuesUpdate(..) => ("values.update", Group::Write),
            Route::ValuesAppend(..) => ("values.append", Group::Write),
            Route::ValuesClear(..) => ("values.clear", Group::Write),
            Route::BatchGet(_) => ("values.batchGet", Group::Read),
            Route::ValuesBatchUpdate(_) => ("values.batchUpdate", Group::Write),
            Route::BatchClear(_) => ("values.batchClear", Group::Write),
        }
    }
    fn id(&self) -> &str {
        match self {
            Route::Get(id)
            | Route::BatchUpdate(id)
            | Route::ValuesGet(id, _)
            | Route::ValuesUpdate(id, _)
            | Route::ValuesAppend(id, _)
            | Route::ValuesClear(id, _)
            | Route::BatchGet(id)
            | Route::ValuesBatchUpdate(id)
            | Route::BatchClear(id) => id,
        }
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn parse_route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v4/spreadsheets/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let first = decode(segs[0]);
    if segs.len() == 1 {
        return match (method, first.strip_suffix(":batchUpdate")) {
            (&Method::POST, Some(id)) => Some(Route::BatchUpdate(id.into())),
            (&Method::GET, None) if !first.is_empty() => Some(Route::Get(first)),
            _ => None,
        };
    }
    let id = first;
    let second = decode(segs[1]);
    match (method, second.as_str(), segs.len()) {
        (&Method::GET, "values:batchGet", 2) => return Some(Route::BatchGet(id)),
        (&Method::POST, "values:batchUpdate", 2) => return Some(Route::ValuesBatchUpdate(id)),
        (&Method::POST, "values:batchClear", 2) => return Some(Route::BatchClear(id)),
        _ => {}
    }
    if second != "values" || segs.len() < 3 {
        return None;
    }
    let range = decode(&segs[2..].join("/"));
    if range.is_empty() {
        return None;
    }
    match *method {
        Method::GET => Some(Route::ValuesGet(id, range)),
        Method::PUT => Some(Route::ValuesUpdate(id, range)),
        Method::POST => {
            if let Some(r) = range.strip_suffix(":append") {
                Some(Route::ValuesAppend(id, r.into()))
            } else {
                range
                    .strip_suffix(":clear")
                    .map(|r| Route::ValuesClear(id, r.into()))
            }
        }
        _ => None,
    }
}

/// Query parameters (repeated keys kept in order).
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn flag(&self, k: &str) -> bool {
        self.get(k) == Some("true")
    }
}

fn enum_err(field: &str, ty: &str, v: &str) -> GoogleError {
    GoogleError::invalid(format!(
        "Invalid value at '{field}' (type.googleapis.com/google.apps.sheets.v4.{ty}), \"{v}\""
    ))
}

fn major(v: Option<&str>, field: &str) -> Result<Major, GoogleError> {
    match v {
        None => Ok(Major::Rows),
        Some(s) => Major::parse(s).ok_or_else(|| enum_err(field, "Dimension", s)),
    }
}

fn render_opt(v: Option<&str>, field: &str) -> Result<RenderOption, GoogleError> {
    match v {
        None => Ok(RenderOption::Formatted),
        Some(s) => RenderOption::parse(s).ok_or_else(|| enum_err(field, "ValueRenderOption", s)),
    }
}

fn date_opt(v: Option<&str>, field: &str) -> Result<DateRender, GoogleError> {
    match v {
        None => Ok(DateRender::Serial),
        Some(s) => DateRender::parse(s).ok_or_else(|| enum_err(field, "DateTimeRenderOption", s)),
    }
}

fn input_opt(v: Option<&str>, field: &str) -> Result<InputOption, GoogleError> {
    match v {
        None | Some("INPUT_VALUE_OPTION_UNSPECIFIED") => Err(GoogleError::invalid(
            "'valueInputOption' is required but not specified",
        )),
        Some(s) => InputOption::parse(s).ok_or_else(|| enum_err(field, "ValueInputOption", s)),
    }
}

fn json_body(body: &Bytes) -> Result<Value, GoogleError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| GoogleError::invalid(format!("Invalid JSON payload received. {e}")))
}

fn values_of(body: &Value, at: &str) -> Result<Vec<Vec<Value>>, GoogleError> {
    match body.get("values") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(rows)) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Value::Array(cells) => Ok(cells.clone()),
                _ => Err(GoogleError::invalid(format!(
                    "Invalid value at '{at}values[{i}]' (type.googleapis.com/google.protobuf.ListValue), {r}"
                ))),
            })
            .collect(),
        Some(v) => Err(GoogleError::invalid(format!(
            "Invalid value at '{at}values' (type.googleapis.com/google.protobuf.ListValue), {v}"
        ))),
    }
}

fn value_range(range: &str, major: Major, values: Vec<Vec<Value>>) -> Value {
    let mut o = json!({"range": range, "majorDimension": major.as_str()});
    if !values.is_empty() {
        o["values"] = json!(values);
    }
    o
}

/// Renders options for write responses that include values.
#[derive(Clone, Copy)]
struct Echo {
    include: bool,
    render: RenderOption,
    dates: DateRender,
}

fn echo(p: &Params) -> Result<Echo, GoogleError> {
    Ok(Echo {
        include: p.flag("includeValuesInResponse"),
        render: render_opt(
            p.get("responseValueRenderOption"),
            "response_value_render_option",
        )?,
        dates: date_opt(
            p.get("responseDateTimeRenderOption"),
            "response_date_time_render_option",
        )?,
    })
}

fn echo_body(b: &Value) -> Result<Echo, GoogleError> {
    Ok(Echo {
        include: b["includeValuesInResponse"].as_bool().unwrap_or(false),
        render: render_opt(
            b["responseValueRenderOption"].as_str(),
            "response_value_render_option",
        )?,
        dates: date_opt(
            b["responseDateTimeRenderOption"].as_str(),
            "response_date_time_render_option",
        )?,
    })
}

/// Writes one ValueRange into `book`; returns the UpdateValuesResponse and the sheet index.
fn write_range(
    book: &mut Spreadsheet,
    range: &str,
    body_range: Option<&str>,
    values: &[Vec<Value>],
    major: Major,
    opt: InputOption,
    echo: Echo,
) -> Result<(Value, usize), GoogleError> {
    let (idx, rect, text) = book.resolve(range)?;
    if let Some(br) = body_range {
        let (bi, brect, _) = book.resolve(br)?;
        if bi != idx || brect != rect {
            return Err(GoogleError::invalid(format!(
                "Invalid ValueRange range: {br} does not match the request range {range}"
            )));
        }
    }
    let (written, cells) = book.sheets[idx].write(&rect, &text, values, major, opt)?;
    Ok((
        update_response(book, idx, &written, values, major, cells, echo),
        idx,
    ))
}

fn update_response(
    book: &Spreadsheet,
    idx: usize,
    written: &Rect,
    values: &[Vec<Value>],
    major: Major,
    cells: u32,
    echo: Echo,
) -> Value {
    let sheet = &book.sheets[idx];
    let updated = a1::format_rect(&sheet.title, written);
    let mut o = json!({"spreadsheetId": book.id});
    if values.is_empty() {
        o["updatedRange"] = json!(updated);
        return o;
    }
    o["updatedRange"] = json!(updated);
    o["updatedRows"] = json!(written.rows());
    o["updatedColumns"] = json!(written.cols());
    o["updatedCells"] = json!(cells);
    if echo.include {
        let v = sheet.read(written, major, echo.render, echo.dates);
        o["updatedData"] = value_range(&updated, major, v);
    }
    o
}

fn dispatch(
    sh: &Shared,
    st: &mut crate::sim::State,
    route: &Route,
    p: &Params,
    body: &Bytes,
    user: &str,
) -> Result<Value, GoogleError> {
    let base = sh.base_url();
    let book = st
        .books
        .get_mut(route.id())
        .ok_or_else(GoogleError::not_found)?;
    if book.shared_with.as_ref().is_some_and(|s| !s.contains(user)) {
        return Err(GoogleError::no_permission());
    }
    match route {
        Route::Get(_) => {
            let mut out = book.render(&base);
            let ranges = p.all("ranges");
            if !ranges.is_empty() {
                let mut keep = std::collections::BTreeSet::new();
                for r in &ranges {
                    keep.insert(book.resolve(r)?.0);
                }
                let sheets: Vec<Value> = out["sheets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep.contains(i))
                    .map(|(_, s)| s)
                    .collect();
                out["sheets"] = json!(sheets);
            }
            Ok(out)
        }
        Route::ValuesGet(_, range) => {
            let m = major(p.get("majorDimension"), "major_dimension")?;
            let r = render_opt(p.get("valueRenderOption"), "value_render_option")?;
            let d = date_opt(p.get("dateTimeRenderOption"), "date_time_render_option")?;
            let (idx, rect, text) = book.resolve(range)?;
            Ok(value_range(&text, m, book.sheets[idx].read(&rect, m, r, d)))
        }
        Route::BatchGet(_) => {
            let m = major(p.get("majorDimension"), "major_dimension")?;
            let r = render_opt(p.get("valueRenderOption"), "value_render_option")?;
            let d = date_opt(p.get("dateTimeRenderOption"), "date_time_render_option")?;
            let mut out = Vec::new();
            for range in p.all("ranges") {
                let (idx, rect, text) = book.resolve(&range)?;
                out.push(value_range(&text, m, book.sheets[idx].read(&rect, m, r, d)));
            }
            let mut o = json!({"spreadsheetId": book.id});
            if !out.is_empty() {
                o["valueRanges"] = json!(out);
            }
            Ok(o)
        }
        Route::ValuesUpdate(_, range) => {
            let opt = input_opt(p.get("valueInputOption"), "value_input_option")?;
            let e = echo(p)?;
            let b = json_body(body)?;
            let m = major(b["majorDimension"].as_str(), "major_dimension")?;
            let values = values_of(&b, "")?;
            let mut draft = book.clone();
            let (resp, _) =
                write_range(&mut draft, range, b["range"].as_str(), &values, m, opt, e)?;
            *book = draft;
            Ok(resp)
        }
        Route::ValuesBatchUpdate(_) => {
            let b = json_body(body)?;
            let opt = input_opt(b["valueInputOption"].as_str(), "value_input_option")?;
            let e = echo_body(&b)?;
            let data = b["data"].as_array().cloned().unwrap_or_default();
            let mut draft = book.clone();
            let mut responses = Vec::new();
            let (mut rows, mut cols, mut cells) = (0u64, 0u64, 0u64);
            let mut sheets = std::collections::BTreeSet::new();
            for (i, vr) in data.iter().enumerate() {
                let prefix = format!("Invalid data[{i}]: ");
                let range = vr["range"]
                    .as_str()
                    .ok_or_else(|| GoogleError::invalid(format!("{prefix}Missing range")))?;
                let m = major(
                    vr["majorDimension"].as_str(),
                    &format!("data[{i}].major_dimension"),
                )?;
                let values = values_of(vr, &format!("data[{i}]."))?;
                let (resp, idx) = write_range(&mut draft, range, None, &values, m, opt, e)
                    .map_err(|err| err.prefixed(&prefix))?;
                rows += resp["updatedRows"].as_u64().unwrap_or(0);
                cols += resp["updatedColumns"].as_u64().unwrap_or(0);
                cells += resp["updatedCells"].as_u64().unwrap_or(0);
                if !values.is_empty() {
                    sheets.insert(idx);
                }
                responses.push(resp);
            }
            *book = draft;
            let mut o = json!({"spreadsheetId": book.id});
            if !responses.is_empty() {
                o["totalUpdatedRows"] = json!(rows);
                o["totalUpdatedColumns"] = json!(cols);
                o["totalUpdatedCells"] = json!(cells);
                o["totalUpdatedSheets"] = json!(sheets.len());
                o["responses"] = json!(responses);
            }
            Ok(o)
        }
        Route::ValuesAppend(_, range) => {
            let opt = input_opt(p.get("valueInputOption"), "value_input_option")?;
            let insert = match p.get("insertDataOption") {
                None | Some("OVERWRITE") => false,
                Some("INSERT_ROWS") => true,
                Some(s) => return Err(enum_err("insert_data_option", "InsertDataOption", s)),
            };
            let e = echo(p)?;
            let b = json_body(body)?;
            let m = major(b["majorDimension"].as_str(), "major_dimension")?;
            let values = values_of(&b, "")?;
            let (idx, rect, _) = book.resolve(range)?;
            let mut draft = book.clone();
            let sheet = &mut draft.sheets[idx];
            let table = sheet.find_table(&rect);
            let (row, col) = match table {
                Some(t) => (t.r1 + 1, t.c0),
                None => (rect.r0, rect.c0),
            };
            let (h, w) = match m {
                Major::Rows => (
                    values.len() as u32,
                    values.iter().map(Vec::len).max().unwrap_or(0) as u32,
                ),
                Major::Columns => (
                    values.iter().map(Vec::len).max().unwrap_or(0) as u32,
                    values.len() as u32,
                ),
            };
            let (h, w) = (h.max(1), w.max(1));
            if insert {
                sheet.insert_rows(row, h);
            } else if row + h > sheet.rows {
                sheet.rows = row + h;
            }
            if col + w > sheet.cols {
                sheet.append_columns(col + w - sheet.cols);
            }
            let target = Rect {
                r0: row,
                c0: col,
                r1: row + h - 1,
                c1: col + w - 1,
            };
            let text = a1::format_rect(&sheet.title, &target);
            let (written, cells) = sheet.write(&target, &text, &values, m, opt)?;
            let updates = update_response(&draft, idx, &written, &values, m, cells, e);
            let mut o = json!({"spreadsheetId": draft.id, "updates": updates});
            if let Some(t) = table {
                o["tableRange"] = json!(a1::format_rect(&draft.sheets[idx].title, &t));
            }
            *book = draft;
            Ok(o)
        }
        Route::ValuesClear(_, range) => {
            let (idx, rect, text) = book.resolve(range)?;
            clear(&mut book.sheets[idx], &rect);
            Ok(json!({"spreadsheetId": book.id, "clearedRange": text}))
        }
        Route::BatchClear(_) => {
            let b = json_body(body)?;
            let ranges: Vec<String> = b["ranges"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let mut draft = book.clone();
            let mut cleared = Vec::new();
            for r in &ranges {
                let (idx, rect, text) = draft.resolve(r)?;
                clear(&mut draft.sheets[idx], &rect);
                cleared.push(text);
            }
            *book = draft;
            Ok(json!({"spreadsheetId": book.id, "clearedRanges": cleared}))
        }
        Route::BatchUpdate(_) => {
            let b = json_body(body)?;
            let requests = b["requests"].as_array().cloned().unwrap_or_default();
            let mut draft = book.clone();
            let mut replies = Vec::new();
            for (i, req) in requests.iter().enumerate() {
                let sid = st_next_id(&mut st_rng_seed(&draft, i));
                replies.push(
                    crate::structure::apply(&mut draft, req, sid)
                        .map_err(|e| e.prefixed(&format!("Invalid requests[{i}]: ")))?,
                );
            }
            *book = draft;
            Ok(json!({"spreadsheetId": book.id, "replies": replies}))
        }
    }
}

fn st_rng_seed(book: &Spreadsheet, i: usize) -> u64 {
    book.sheets.iter().map(|s| s.sheet_id as u64).sum::<u64>() + i as u64
}

fn st_next_id(seed: &mut u64) -> i64 {
    // A stable id for an added sheet that does not depend on request timing.
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 33) % 2_000_000_000) as i64 + 1
}

fn clear(sheet: &mut crate::book::Sheet, rect: &Rect) {
    for r in rect.r0..=rect.r1.min(sheet.cells.len() as u32) {
        for c in rect.c0..=rect.c1 {
            sheet.set(r, c, crate::cell::Cell::default());
        }
    }
}

/// The audiences a self-signed JWT may name: Google's Sheets endpoint and this simulator.
fn api_audiences(sh: &Shared) -> Vec<String> {
    vec![
        "https://sheets.googleapis.com/".to_owned(),
        format!("{}/", sh.base_url()),
    ]
}

/// A self-signed service-account JWT used as the bearer token, as a token.
fn self_signed_token(sh: &Shared, jwt: &str, now: std::time::Duration) -> Option<Token> {
    if jwt.split('.').count() != 3 {
        return None;
    }
    let grant = auth::self_signed(jwt, &sh.accounts, &api_audiences(sh))?;
    let project = sh.account(&grant.client_email)?.project_id.clone();
    Some(Token {
        client_email: grant.client_email,
        project_id: project,
        scopes: grant.scopes,
        expires_at: now + std::time::Duration::from_secs(1),
    })
}

fn bearer(headers: &HeaderMap, p: &Params) -> Option<String> {
    let h = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    h.or_else(|| p.get("access_token").map(str::to_owned))
}

async fn api(
    State(sh): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params(
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
    );
    let now = sh.now();
    let Some(route) = parse_route(&method, uri.path()) else {
        let e = GoogleError::new(
            404,
            "NOT_FOUND",
            format!("Method not found: {} {}", method, uri.path()),
        );
        log(&sh, &method, "unknown", None, None, 404, now);
        return e.into_response();
    };
    let (op, group) = route.op();
    let mut st = sh.state.lock();
    type Failure = Box<(GoogleError, Option<String>)>;
    let fail = |e: GoogleError, user: Option<String>| -> Failure { Box::new((e, user)) };
    let result = (|| -> Result<(Value, Option<String>), Failure> {
        if st.unavailable > 0 {
            st.unavailable -= 1;
            return Err(fail(GoogleError::unavailable(), None));
        }
        let token =
            bearer(&headers, &p).ok_or_else(|| fail(GoogleError::missing_credentials(), None))?;
        let tok: Token = match st.tokens.live(&token, now).cloned() {
            Some(t) => t,
            None => self_signed_token(&sh, &token, now)
                .ok_or_else(|| fail(GoogleError::invalid_credentials(), None))?,
        };
        let user = Some(tok.client_email.clone());
        if !tok.allows(group == Group::Write) {
            return Err(fail(GoogleError::insufficient_scopes(), user));
        }
        let number = sh
            .account(&tok.client_email)
            .map_or(0, |a| a.project_number);
        let limits = sh.config.quota;
        st.quota
            .take(
                &limits,
                group,
                &tok.client_email,
                &tok.project_id,
                number,
                now.as_secs(),
            )
            .map_err(|e| fail(e, user.clone()))?;
        let mask = match p.get("fields") {
            Some(f) => Some(crate::fields::parse(f).map_err(|e| fail(e, user.clone()))?),
            None => None,
        };
        dispatch(&sh, &mut st, &route, &p, &body, &tok.client_email)
            .map(|v| match &mask {
                Some(m) => crate::fields::select(&v, m),
                None => v,
            })
            .map(|v| (v, user.clone()))
            .map_err(|e| fail(e, user))
    })();
    let (status, user, resp) = match result {
        Ok((v, user)) => (200, user, json_response(200, &v)),
        Err(f) => {
            let (e, user) = *f;
            (e.code, user, e.into_response())
        }
    };
    st.requests.push(RequestRecord {
        method: method.to_string(),
        op: op.into(),
        group: Some(group),
        user,
        status,
        at_ms: now.as_millis() as u64,
    });
    resp
}

fn log(
    sh: &Shared,
    method: &Method,
    op: &str,
    group: Option<Group>,
    user: Option<String>,
    status: u16,
    now: std::time::Duration,
) {
    sh.state.lock().requests.push(RequestRecord {
        method: method.to_string(),
        op: op.into(),
        group,
        user,
        status,
        at_ms: now.as_millis() as u64,
    });
}

async fn token(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: Map<String, Value> = form_urlencoded::parse(&body)
        .into_owned()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let now = sh.now();
    let result = (|| {
        let grant = form.get("grant_type").and_then(Value::as_str).unwrap_or("");
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            return Err(TokenError {
                status: 400,
                error: "unsupported_grant_type",
                description: format!("Invalid grant_type: {grant}"),
            });
        }
        let assertion = form
            .get("assertion")
            .and_then(Value::as_str)
            .ok_or(TokenError {
                status: 400,
                error: "invalid_request",
                description: "Missing required parameter: assertion".into(),
            })?;
        auth::verify_assertion(assertion, &sh.accounts, &sh.token_url())
    })();
    let (status, user, resp) = match result {
        Ok(grant) => {
            let mut st = sh.state.lock();
            let raw: Vec<u8> = (0..48).map(|_| st.rng.random::<u8>()).collect();
            let access = format!(
                "ya29.c.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
            );
            let project = sh
                .account(&grant.client_email)
                .map(|a| a.project_id.clone())
                .unwrap_or_default();
            let life = sh.config.token_lifetime;
            st.tokens.insert(
                access.clone(),
                Token {
                    client_email: grant.client_email.clone(),
                    project_id: project,
                    scopes: grant.scopes,
                    expires_at: now + life,
                },
            );
            drop(st);
            let body = json!({"access_token": access,
                "expires_in": life.as_secs().saturating_sub(1), "token_type": "Bearer"});
            (200, Some(grant.client_email), json_response(200, &body))
        }
        Err(e) => (e.status, None, e.into_response()),
    };
    log(&sh, &Method::POST, "token", None, user, status, now);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let g = Method::GET;
        assert_eq!(
            parse_route(&g, "/v4/spreadsheets/abc"),
            Some(Route::Get("abc".into()))
        );
        assert_eq!(
            parse_route(&g, "/v4/spreadsheets/abc/values/Sheet1%21A1%3AB2"),
            Some(Route::ValuesGet("abc".into(), "Sheet1!A1:B2".into()))
        );
        assert_eq!(
            parse_route(
                &Method::POST,
                "/v4/spreadsheets/abc/values/'My%20Sheet'!A1:append"
            ),
            Some(Route::ValuesAppend("abc".into(), "'My Sheet'!A1".into()))
        );
        assert_eq!(
            parse_route(&Method::POST, "/v4/spreadsheets/abc/values:batchUpdate"),
            Some(Route::ValuesBatchUpdate("abc".into()))
        );
        assert_eq!(
            parse_route(&Method::POST, "/v4/spreadsheets/abc:batchUpdate"),
            Some(Route::BatchUpdate("abc".into()))
        );
        assert_eq!(
            parse_route(&g, "/v4/spreadsheets/abc/values/a%2Fb!A1"),
            Some(Route::ValuesGet("abc".into(), "a/b!A1".into()))
        );
        assert_eq!(parse_route(&Method::DELETE, "/v4/spreadsheets/abc"), None);
        assert_eq!(parse_route(&g, "/v3/x"), None);
    }
}
