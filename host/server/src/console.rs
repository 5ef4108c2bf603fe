//! The operator's console: server-rendered HTML under `/console` on the host's listener, with
//! a few lines of progressive JavaScript (the store list refreshes itself; `/` focuses the
//! search). No build step, no external assets.
//!
//! # Pages
//!
//! | path | what |
//! |---|---|
//! | `GET /console` | every store: lag, outbox depth, throttling, dead letters, systems down (breakers), last poll per source, loop health |
//! | `GET /console/stores/{store}` | one store: systems, loops, recent activity (lineage), search, links |
//! | `GET /console/stores/{store}/search?q=` | records named by a SKU, canonical key or any system's id (one: straight to it) |
//! | `GET /console/stores/{store}/records/{kind}/{key}` | each system's copy beside the golden record, then the lineage and the writes |
//! | `GET /console/stores/{store}/dead` | dead letters with the platform's message; retry and discard |
//! | `POST /console/stores/{store}/dead/{id}/{retry,discard}` | acts on one dead letter |
//! | `GET`/`POST /console/stores/{store}/replay` | the replay form and its dry-run preview (what would be written) |
//! | `POST /console/stores/{store}/replay/run` | runs the previewed replay (what `weft replay` runs, taking turns with the store's processing loop) and shows what it queued |
//!
//! # Access
//!
//! No page without the token (`[console] token`): every request carries it as
//! `Authorization: Bearer <token>`, or the session cookie `POST /console/login` sets (an HMAC
//! of the token, never the token; `HttpOnly`, `SameSite=Strict`). Both are compared in
//! constant time. Without either a request gets 401 and the login form, which shows nothing
//! else. Actions are POSTs carrying a CSRF field (an HMAC of the token bound to the action's
//! purpose), refused when it does not match or when the browser says the request came from
//! another site (`Sec-Fetch-Site`). No page shows a secret: webhook secrets, tokens and keys
//! are never read by the console, and journal bodies are not shown.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use weft_store::{Explanation, LineageStep, RecordWrite, describe_decision};

use crate::health::LoopStatus;
use crate::state::ServerState;

/// The session cookie's name.
pub const COOKIE: &str = "weft_console";

/// What the console asks of the host beyond the database: a replay and its dry run need the
/// store's plugins, which the host holds.
pub trait ConsoleActions: Send + Sync {
    /// What a replay of `store` (entries received at or after `since`, of entity kind
    /// `entity`) would write, without queuing anything.
    fn replay_preview(
        &self,
        store: String,
        since: Option<DateTime<Utc>>,
        entity: Option<String>,
    ) -> Pin<Box<dyn Future<Output = Result<ReplayPreview, String>> + Send>>;

    /// Runs that replay through `db` (the handle fenced by this host's lease on the store,
    /// [`crate::ServerState::store_for_writes`]): the writes it plans are queued for the store's
    /// dispatch loop to send. Its steps take turns with the store's live processing steps (the
    /// store's step lock).
    fn replay_run(
        &self,
        db: weft_store::Store,
        store: String,
        since: Option<DateTime<Utc>>,
        entity: Option<String>,
    ) -> Pin<Box<dyn Future<Output = Result<ReplayOutcome, String>> + Send>>;
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayOutcome {
    /// Journal entries re-run.
    pub entries: u64,
    /// Entries the mapper mapped.
    pub mapped: u64,
    /// Entries that failed (set aside).
    pub failed: u64,
    /// Conflicts settled by a resolver.
    pub conflicts: u64,
    /// Writes queued (a write queued before under the same idempotency key is not queued
    /// again).
    pub writes: u64,
}

/// A replay's dry run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayPreview {
    /// Journal entries it would re-run.
    pub entries: u64,
    /// Writes it would queue, per record, with the fields they change.
    pub writes: Vec<PreviewWrite>,
    /// Set when the selection was larger than one preview covers (narrow it with `since`).
    pub truncated: bool,
}

/// One write a replay would queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewWrite {
    /// Target system.
    pub system: String,
    /// Canonical kind.
    pub kind: String,
    /// Canonical key.
    pub key: String,
    /// Operation.
    pub op: String,
    /// Field, what weft knows the target holds, what the write would make it hold.
    pub fields: Vec<(String, Value, Value)>,
}

/// The console's settings.
pub struct ConsoleOptions {
    token: Vec<u8>,
    /// Replay previews (absent: the replay page says it is not available here).
    pub actions: Option<Arc<dyn ConsoleActions>>,
}

impl std::fmt::Debug for ConsoleOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleOptions")
            .field("token", &"***")
            .field("actions", &self.actions.is_some())
            .finish()
    }
}

impl ConsoleOptions {
    /// A console opened by `token` (resolved from its secret reference).
    pub fn new(token: impl Into<Vec<u8>>) -> Self {
        ConsoleOptions {
            token: token.into(),
            actions: None,
        }
    }

    /// With replay previews from `actions`.
    pub fn with_actions(mut self, actions: Arc<dyn ConsoleActions>) -> Self {
        self.actions = Some(actions);
        self
    }

    fn derive(&self, purpose: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.token).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn session(&self) -> String {
        self.derive("weft-console-session")
    }

    /// The CSRF field of forms posting to `/console/stores/{store}/...`.
    fn csrf(&self, store: &str) -> String {
        self.derive(&format!("weft-console-csrf:{store}"))
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // `ct_eq` on slices of different lengths answers false at once; the lengths of a token
    // and of what is offered are not secret enough to matter, their bytes are.
    a.ct_eq(b).into()
}

/// The console's routes.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/login", get(login_form).post(login))
        .route("/console/stores/{store}", get(store_page))
        .route("/console/stores/{store}/search", get(search))
        .route("/console/stores/{store}/records/{kind}/{key}", get(record))
        .route("/console/stores/{store}/dead", get(dead_letters))
        .route(
            "/console/stores/{store}/dead/{id}/{action}",
            post(dead_action),
        )
        .route(
            "/console/stores/{store}/replay",
            get(replay_form).post(replay_preview),
        )
        .route("/console/stores/{store}/replay/run", post(replay_run))
        .with_state(state)
}

/// Why a request gets no page.
enum Denied {
    Off,
    Unauthorized,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Off => (
                StatusCode::NOT_FOUND,
                "the console is off: set `[console] token = { env = \"...\" }` in the host file",
            )
                .into_response(),
            Denied::Unauthorized => {
                let mut r = html(StatusCode::UNAUTHORIZED, login_page(None));
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"weft console\""),
                );
                r
            }
        }
    }
}

/// The console's options when the request carries the token (bearer) or the session cookie.
fn authorize(state: &ServerState, headers: &HeaderMap) -> Result<Arc<ConsoleOptions>, Denied> {
    let options = state.console().ok_or(Denied::Off)?;
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        && ct_eq(bearer.trim().as_bytes(), &options.token)
    {
        return Ok(options);
    }
    let session = options.session();
    for cookie in headers.get_all(header::COOKIE) {
        let Ok(text) = cookie.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == COOKIE
                && ct_eq(value.as_bytes(), session.as_bytes())
            {
                return Ok(options);
            }
        }
    }
    Err(Denied::Unauthorized)
}

/// Refuses a POST another site made the browser send.
fn same_site(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None => true,
        Some(s) => matches!(s, "same-origin" | "none"),
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn json_text(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn ago(t: Option<DateTime<Utc>>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let s = (Utc::now() - t).num_seconds().max(0);
            match s {
                0..=119 => format!("{s} s ago"),
                120..=7199 => format!("{} min ago", s / 60),
                _ => format!("{} h ago", s / 3600),
            }
        }
    }
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#23303d;color:#fff;padding:.5rem 1rem;display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header a{color:#fff}
main{padding:1rem;max-width:1400px}
a{color:#0b5cad}
a:focus,button:focus,input:focus,select:focus{outline:3px solid #f5a623;outline-offset:1px}
table{border-collapse:collapse;margin:.5rem 0 1.25rem;background:#fff}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f4}
.wrap{overflow-x:auto}
.ok{color:#1a7f37}.bad{color:#b3261e;font-weight:600}.muted{color:#666}
td.diff{background:#fff4d6}
code{font:13px ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
.step{background:#fff;border:1px solid #d0d7de;border-left:4px solid #6e7781;padding:.4rem .7rem;margin:.4rem 0}
.step.replay{border-left-color:#8250df}
.badge{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:#eef1f4;font-size:13px}
.badge.dead{background:#ffd7d5}.badge.done{background:#d2f4d3}.badge.pending,.badge.inflight{background:#fff1c2}
form.inline{display:inline}
button{font:inherit;padding:.2rem .7rem}
input[type=search],input[type=text],input[type=password]{font:inherit;padding:.25rem .4rem;min-width:18rem}
";

const SCRIPT: &str = "
document.addEventListener('keydown',function(e){
  var q=document.getElementById('q');
  if(e.key==='/'&&q&&document.activeElement!==q){e.preventDefault();q.focus();}
});
(function(){
  var live=document.querySelector('[data-refresh]');
  if(!live||!window.fetch||!window.DOMParser)return;
  var every=parseInt(live.getAttribute('data-refresh'),10)*1000;
  setInterval(function(){
    fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(t){
      if(!t)return;
      var doc=new DOMParser().parseFromString(t,'text/html');
      var fresh=doc.getElementById(live.id);
      if(fresh)live.innerHTML=fresh.innerHTML;
    }).catch(function(){});
  },every);
})();
";

fn page(title: &str, store: Option<&str>, body: &str) -> Response {
    let nav = match store {
        Some(s) => format!(
            "<a href=\"/console\">Stores</a><a href=\"/console/stores/{e}\">Store {h}</a>\
             <a href=\"/console/stores/{e}/dead\">Dead letters</a>\
             <a href=\"/console/stores/{e}/replay\">Replay</a>\
             <form class=\"inline\" role=\"search\" action=\"/console/stores/{e}/search\">\
             <label>Find <input id=\"q\" type=\"search\" name=\"q\" placeholder=\"SKU or any system's id (press /)\"></label> \
             <button>Go</button></form>",
            e = enc(s),
            h = esc(s)
        ),
        None => "<a href=\"/console\">Stores</a>".into(),
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t} · weft</title><style>{STYLE}</style></head><body>\
         <header><strong>weft console</strong><nav style=\"display:flex;gap:1rem;align-items:center;flex-wrap:wrap\">{nav}</nav></header>\
         <main><h1>{t}</h1>{body}</main><script>{SCRIPT}</script></body></html>",
        t = esc(title)
    );
    html(StatusCode::OK, page)
}

/// An HTML answer with the console's headers (no caching, no framing, nothing from elsewhere).
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

fn login_page(error: Option<&str>) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>weft console</title>\
         <style>{STYLE}</style></head><body><main><h1>weft console</h1>{}\
         <form method=\"post\" action=\"/console/login\">\
         <label>Console token <input type=\"password\" name=\"token\" autofocus autocomplete=\"current-password\"></label> \
         <button>Open</button></form>\
         <p class=\"muted\">The token is <code>[console] token</code> of the host's configuration.</p></main></body></html>",
        error
            .map(|e| format!("<p class=\"bad\">{}</p>", esc(e)))
            .unwrap_or_default()
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let mut r = page(
        "Error",
        None,
        &format!("<p class=\"bad\">{}</p>", esc(message)),
    );
    *r.status_mut() = status;
    r
}

fn store_error(e: weft_store::StoreError) -> Response {
    if e.is_fenced() {
        // The store's lease moved to another host while the action ran: nothing was written.
        return error_page(
            StatusCode::CONFLICT,
            &format!("refused: this host no longer serves the store, nothing was written ({e})"),
        );
    }
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the database did not answer: {e}"),
    )
}

async fn login_form(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    match authorize(&state, &headers) {
        Ok(_) => Redirect::to("/console").into_response(),
        Err(Denied::Off) => Denied::Off.into_response(),
        Err(Denied::Unauthorized) => html(StatusCode::OK, login_page(None)),
    }
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

async fn login(State(state): State<ServerState>, Form(form): Form<Login>) -> Response {
    let Some(options) = state.console() else {
        return Denied::Off.into_response();
    };
    if !ct_eq(form.token.trim().as_bytes(), &options.token) {
        return html(
            StatusCode::UNAUTHORIZED,
            login_page(Some("That is not the console token.")),
        );
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict",
        options.session()
    );
    let mut r = Redirect::to("/console").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The loops of `store`.
fn store_loops<'a>(loops: &'a [LoopStatus], store: &str) -> Vec<&'a LoopStatus> {
    loops.iter().filter(|l| l.store == store).collect()
}

/// Every store the host serves or the database knows.
async fn store_ids(state: &ServerState) -> Result<Vec<String>, weft_store::StoreError> {
    let mut ids: Vec<String> = state.shared.stores.read().keys().cloned().collect();
    ids.extend(state.store().store_ids().await?);
    ids.sort();
    ids.dedup();
    Ok(ids)
}

async fn index(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    if let Err(d) = authorize(&state, &headers) {
        return d.into_response();
    }
    let ids = match store_ids(&state).await {
        Ok(ids) => ids,
        Err(e) => return store_error(e),
    };
    let loops = state.loops();
    let throttled = state.metrics().throttled_all();
    let systems = state.metrics().system_health_all();
    let mut body = String::from(
        "<div class=\"wrap\" id=\"stores\" data-refresh=\"5\"><table><caption class=\"muted\">Refreshes every 5 s</caption>\
         <tr><th scope=\"col\">Store</th><th scope=\"col\">Health</th><th scope=\"col\">Lag</th>\
         <th scope=\"col\">Outbox (pending / in flight)</th><th scope=\"col\">Dead letters</th>\
         <th scope=\"col\">Set aside</th><th scope=\"col\">Throttled</th><th scope=\"col\">Systems down</th>\
         <th scope=\"col\">Last poll per source</th></tr>",
    );
    for id in &ids {
        let status = match state.store().status(id).await {
            Ok(s) => s,
            Err(e) => return store_error(e),
        };
        let mine = store_loops(&loops, id);
        let bad: Vec<_> = mine.iter().filter(|l| !l.healthy).collect();
        let health = if mine.is_empty() {
            "<span class=\"muted\">not running here</span>".to_owned()
        } else if bad.is_empty() {
            format!("<span class=\"ok\">ok</span> ({} loops)", mine.len())
        } else {
            bad.iter()
                .map(|l| {
                    format!(
                        "<span class=\"bad\">{}: {}</span>",
                        esc(&l.name),
                        esc(&l.detail)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let throttle: Vec<String> = throttled
            .iter()
            .filter(|(s, _, n)| s == id && *n > 0)
            .map(|(_, sys, n)| format!("{} {n}", esc(sys)))
            .collect();
        let down: Vec<String> = systems
            .iter()
            .filter(|(s, _, h)| s == id && h.down_since.is_some())
            .map(|(_, sys, h)| {
                format!(
                    "<span class=\"bad\">{}</span> since {}{}",
                    esc(sys),
                    esc(&ago(h.down_since)),
                    h.last_error
                        .as_deref()
                        .map(|e| format!(": {}", esc(e)))
                        .unwrap_or_default()
                )
            })
            .collect();
        let polls: Vec<String> = mine
            .iter()
            .filter_map(|l| l.name.strip_prefix("poll ").map(|n| (n, l)))
            .map(|(n, l)| {
                format!(
                    "{} {}{}",
                    esc(n),
                    esc(&ago(l.last_round)),
                    l.last_error
                        .as_deref()
                        .map(|e| format!(" <span class=\"bad\">(failed: {})</span>", esc(e)))
                        .unwrap_or_default()
                )
            })
            .collect();
        let _ = write!(
            body,
            "<tr><th scope=\"row\"><a href=\"/console/stores/{e}\">{h}</a></th><td>{health}</td><td>{}</td>\
             <td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            status.lag,
            status.outbox.pending,
            status.outbox.inflight,
            if status.outbox.dead > 0 {
                format!(
                    "<a class=\"bad\" href=\"/console/stores/{}/dead\">{}</a>",
                    enc(id),
                    status.outbox.dead
                )
            } else {
                "0".into()
            },
            status.set_aside,
            if throttle.is_empty() {
                "0".into()
            } else {
                throttle.join("<br>")
            },
            if down.is_empty() {
                "<span class=\"ok\">none</span>".into()
            } else {
                down.join("<br>")
            },
            if polls.is_empty() {
                "-".into()
            } else {
                polls.join("<br>")
            },
            e = enc(id),
            h = esc(id)
        );
    }
    body.push_str("</table></div>");
    if ids.is_empty() {
        body.push_str("<p>No stores yet.</p>");
    }
    page("Stores", None, &body)
}

async fn store_page(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path(store): Path<String>,
) -> Response {
    if let Err(d) = authorize(&state, &headers) {
        return d.into_response();
    }
    let db = state.store();
    let status = match db.status(&store).await {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<p>Journal head #{}, processed to #{} (lag {}); outbox: {} pending, {} in flight, {} done, \
         <a href=\"/console/stores/{}/dead\">{} dead</a>; {} set aside; {} stock readings waiting for a write.</p>",
        status.journal_head,
        status.cursor,
        status.lag,
        status.outbox.pending,
        status.outbox.inflight,
        status.outbox.done,
        enc(&store),
        status.outbox.dead,
        status.set_aside,
        status.parked
    );
    // Systems: breaker and throttling.
    let throttled = state.metrics().throttled_all();
    let systems: Vec<_> = state
        .metrics()
        .system_health_all()
        .into_iter()
        .filter(|(s, _, _)| *s == store)
        .collect();
    body.push_str("<h2>Systems</h2><div class=\"wrap\"><table><tr><th scope=\"col\">System</th><th scope=\"col\">Breaker</th><th scope=\"col\">Last error</th><th scope=\"col\">Throttled responses</th></tr>");
    for (_, sys, h) in &systems {
        let n = throttled
            .iter()
            .find(|(s, y, _)| *s == store && y == sys)
            .map_or(0, |t| t.2);
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{n}</td></tr>",
            esc(sys),
            match h.down_since {
                Some(t) => format!(
                    "<span class=\"bad\">open (down since {})</span>",
                    esc(&t.to_rfc3339())
                ),
                None => "<span class=\"ok\">closed</span>".into(),
            },
            esc(h.last_error.as_deref().unwrap_or(""))
        );
    }
    body.push_str("</table></div>");
    // Loops.
    let loops = state.loops();
    let mine = store_loops(&loops, &store);
    body.push_str("<h2>Loops</h2>");
    if mine.is_empty() {
        body.push_str("<p class=\"muted\">This host runs no loops for the store.</p>");
    } else {
        body.push_str("<div class=\"wrap\"><table><tr><th scope=\"col\">Loop</th><th scope=\"col\">Health</th><th scope=\"col\">Last round</th><th scope=\"col\">Last error</th></tr>");
        for l in mine {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.name),
                if l.healthy { "ok" } else { "bad" },
                esc(&l.detail),
                esc(&ago(l.last_round)),
                esc(l.last_error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table></div>");
    }
    // Last poll per source, as the database keeps it (another host's too).
    if let Ok(marks) = db.watermark_times(&store).await
        && !marks.is_empty()
    {
        body.push_str("<h2>Change sources</h2><div class=\"wrap\"><table><tr><th scope=\"col\">Stream</th><th scope=\"col\">Watermark last moved</th></tr>");
        for (stream, at) in marks {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td>{} ({})</td></tr>",
                esc(&stream),
                esc(&at.to_rfc3339()),
                esc(&ago(Some(at)))
            );
        }
        body.push_str("</table></div>");
    }
    // Recent activity.
    body.push_str("<h2>Recent activity</h2>");
    match db.recent_lineage(&store, 50).await {
        Ok(steps) if steps.is_empty() => {
            body.push_str("<p class=\"muted\">Nothing processed yet.</p>")
        }
        Ok(steps) => {
            body.push_str("<div class=\"wrap\"><table><tr><th scope=\"col\">When</th><th scope=\"col\">Record</th><th scope=\"col\">From</th><th scope=\"col\">Decisions</th></tr>");
            for (kind, key, s) in steps {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td><a href=\"{}\">{} {}</a></td><td>{}</td><td>{}</td></tr>",
                    esc(&s.at.format("%H:%M:%S").to_string()),
                    record_href(&store, &kind, &key),
                    esc(&kind),
                    esc(&key),
                    esc(&step_origin(&s)),
                    s.fields
                        .as_object()
                        .map(|m| m
                            .iter()
                            .map(|(f, d)| format!(
                                "{} {}",
                                esc(f),
                                esc(d.get("decision").and_then(Value::as_str).unwrap_or(""))
                            ))
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
            body.push_str("</table></div>");
        }
        Err(e) => return store_error(e),
    }
    page(&format!("Store {store}"), Some(&store), &body)
}

fn record_href(store: &str, kind: &str, key: &str) -> String {
    format!(
        "/console/stores/{}/records/{}/{}",
        enc(store),
        enc(kind),
        enc(key)
    )
}

fn step_origin(s: &LineageStep) -> String {
    if s.system.is_empty() {
        return "writes planned".into();
    }
    format!(
        "{} {}{}",
        s.system,
        if s.source.is_empty() { "?" } else { &s.source },
        if s.mode == "replay" { " (replay)" } else { "" }
    )
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path(store): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Response {
    if let Err(d) = authorize(&state, &headers) {
        return d.into_response();
    }
    let found = match state.store().find_records(&store, &query.q, 100).await {
        Ok(f) => f,
        Err(e) => return store_error(e),
    };
    if found.len() == 1 {
        return Redirect::to(&record_href(&store, &found[0].kind, &found[0].key)).into_response();
    }
    let mut body = String::new();
    if found.is_empty() {
        let _ = write!(
            body,
            "<p>No record is named <code>{}</code> by its key, SKU or any system's id.</p>",
            esc(&query.q)
        );
    } else {
        body.push_str("<ul>");
        for f in found {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{} {}</a> <span class=\"muted\">(matched: {})</span></li>",
                record_href(&store, &f.kind, &f.key),
                esc(&f.kind),
                esc(&f.key),
                esc(&f.matched)
            );
        }
        body.push_str("</ul>");
    }
    page(&format!("Find “{}”", query.q), Some(&store), &body)
}

fn write_badge(w: &RecordWrite) -> String {
    format!("<span class=\"badge {s}\">{s}</span>", s = esc(&w.status))
}

/// The record page's body: copies side by side, lineage, writes.
pub fn render_record(e: &Explanation) -> String {
    let mut body = String::new();
    let mut fields: Vec<String> = e
        .golden
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for c in &e.copies {
        for k in c.fields.as_object().into_iter().flat_map(|m| m.keys()) {
            if !fields.contains(k) {
                fields.push(k.clone());
            }
        }
    }
    fields.sort();
    body.push_str("<h2>Each system's copy</h2><div class=\"wrap\"><table><tr><th scope=\"col\">Field</th><th scope=\"col\">Agreed (golden)</th>");
    for c in &e.copies {
        let _ = write!(
            body,
            "<th scope=\"col\">{}{}</th>",
            esc(&c.system),
            c.entity_id
                .as_deref()
                .map(|i| format!("<br><span class=\"muted\">id {}</span>", esc(i)))
                .unwrap_or_default()
        );
    }
    body.push_str("<th scope=\"col\">Agreed from</th></tr>");
    for f in &fields {
        let golden = e.golden.get(f);
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td>",
            esc(f),
            esc(&json_text(golden))
        );
        for c in &e.copies {
            let v = c.fields.get(f);
            let differs = golden.is_some() && v.is_some() && v != golden;
            let _ = write!(
                body,
                "<td{}><code>{}</code></td>",
                if differs { " class=\"diff\"" } else { "" },
                esc(&json_text(v))
            );
        }
        let prov = e.provenance.get(f);
        let mut from = prov
            .and_then(|p| p.get("system"))
            .and_then(Value::as_str)
            .map(|s| {
                format!(
                    "{} (#{})",
                    esc(s),
                    esc(&json_text(prov.and_then(|p| p.get("seq"))))
                )
            })
            .unwrap_or_default();
        if let Some(r) = prov.and_then(|p| p.get("refused")) {
            let _ = write!(
                from,
                "<br><span class=\"bad\">refused {} from {}: {}</span>",
                esc(&json_text(r.get("value"))),
                esc(&json_text(r.get("system"))),
                esc(&json_text(r.get("reason")))
            );
        }
        let _ = write!(body, "<td>{from}</td></tr>");
    }
    body.push_str("</table></div>");
    body.push_str("<h2>Lineage <span class=\"muted\">(oldest first)</span></h2>");
    if e.steps.is_empty() {
        body.push_str("<p class=\"muted\">No step recorded a decision for this record.</p>");
    }
    for s in &e.steps {
        let _ = write!(
            body,
            "<div class=\"step{}\"><strong>#{} {}</strong> · {} · version <code>{}</code> · mapped by {}<ul>",
            if s.mode == "replay" { " replay" } else { "" },
            s.seq,
            esc(&s
                .received_at
                .unwrap_or(s.at)
                .format("%Y-%m-%d %H:%M:%S%.3f UTC")
                .to_string()),
            esc(&step_origin(s)),
            esc(s.version.as_deref().unwrap_or("?")),
            esc(&s.mapper)
        );
        for (f, d) in s.fields.as_object().into_iter().flatten() {
            let _ = write!(
                body,
                "<li><strong>{}</strong>: {}</li>",
                esc(f),
                esc(&describe_decision(d))
            );
        }
        for w in &s.writes {
            let _ = write!(
                body,
                "<li>write {} {} to {}: {}{}</li>",
                if w.id > 0 {
                    format!("#{}", w.id)
                } else {
                    "-".into()
                },
                esc(&w.op),
                esc(&w.system),
                write_badge(w),
                w.last_error
                    .as_deref()
                    .map(|m| format!(" <span class=\"bad\">{}</span>", esc(m)))
                    .unwrap_or_default()
            );
        }
        body.push_str("</ul></div>");
    }
    body.push_str("<h2>Writes</h2>");
    if e.writes.is_empty() {
        body.push_str("<p class=\"muted\">None in the outbox.</p>");
    } else {
        body.push_str("<div class=\"wrap\"><table><tr><th scope=\"col\">#</th><th scope=\"col\">To</th><th scope=\"col\">Op</th><th scope=\"col\">Status</th><th scope=\"col\">Attempts</th><th scope=\"col\">Fields</th><th scope=\"col\">Last answer</th></tr>");
        for w in &e.writes {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                w.id,
                esc(&w.system),
                esc(&w.op),
                write_badge(w),
                w.attempts,
                esc(&w
                    .desired
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()),
                esc(w.last_error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table></div>");
    }
    body
}

async fn record(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path((store, kind, key)): Path<(String, String, String)>,
) -> Response {
    if let Err(d) = authorize(&state, &headers) {
        return d.into_response();
    }
    match state.store().explain(&store, &kind, &key, 500).await {
        Ok(Some(e)) => page(&format!("{kind} {key}"), Some(&store), &render_record(&e)),
        Ok(None) => {
            let mut r = page(
                &format!("{kind} {key}"),
                Some(&store),
                "<p>weft knows nothing of this record.</p>",
            );
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
        Err(e) => store_error(e),
    }
}

async fn dead_letters(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path(store): Path<String>,
) -> Response {
    let options = match authorize(&state, &headers) {
        Ok(o) => o,
        Err(d) => return d.into_response(),
    };
    let rows = match state.store().list_dead_letters(Some(&store), 500).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let csrf = options.csrf(&store);
    let mut body = String::new();
    if rows.is_empty() {
        body.push_str("<p class=\"ok\">No dead letters.</p>");
    } else {
        body.push_str("<div class=\"wrap\"><table><tr><th scope=\"col\">#</th><th scope=\"col\">Record</th><th scope=\"col\">To</th><th scope=\"col\">Op</th><th scope=\"col\">Attempts</th><th scope=\"col\">The platform said</th><th scope=\"col\">Since</th><th scope=\"col\">Act</th></tr>");
        for r in rows {
            let action = |what: &str, label: &str| {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/console/stores/{}/dead/{}/{what}\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button>{label}</button></form>",
                    enc(&store),
                    r.id
                )
            };
            let _ = write!(
                body,
                "<tr id=\"dead-{id}\"><td>{id}</td><td><a href=\"{}\">{} {}</a></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{} {}</td></tr>",
                record_href(&store, &r.kind, &r.key),
                esc(&r.kind),
                esc(&r.key),
                esc(&r.system),
                esc(&r.op),
                r.attempts,
                esc(r.last_error.as_deref().unwrap_or("")),
                esc(&ago(Some(r.updated_at))),
                action("retry", "Retry"),
                action("discard", "Discard"),
                id = r.id
            );
        }
        body.push_str("</table></div>");
    }
    page(&format!("Dead letters of {store}"), Some(&store), &body)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn check_post(options: &ConsoleOptions, headers: &HeaderMap, store: &str, csrf: &str) -> bool {
    same_site(headers) && ct_eq(csrf.as_bytes(), options.csrf(store).as_bytes())
}

async fn dead_action(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path((store, id, action)): Path<(String, i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let options = match authorize(&state, &headers) {
        Ok(o) => o,
        Err(d) => return d.into_response(),
    };
    if !check_post(&options, &headers, &store, &form.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "refused: the form did not come from this console (reload the page and try again)",
        );
    }
    // Only the store's lease holder changes its rows, through the handle fenced by its lease.
    let db = match state.store_for_writes(&store).await {
        Ok(db) => db,
        Err(msg) => return error_page(StatusCode::CONFLICT, &msg),
    };
    // The row must be this store's dead letter.
    match db.outbox_row(id).await {
        Ok(Some(r)) if r.store_id == store => {}
        Ok(_) => return error_page(StatusCode::NOT_FOUND, "no such dead letter in this store"),
        Err(e) => return store_error(e),
    }
    let now = Utc::now();
    let done = match action.as_str() {
        "retry" => db.retry_dead_letter(id, now).await,
        "discard" => db.discard_dead_letter(id, now).await,
        _ => return error_page(StatusCode::NOT_FOUND, "unknown action"),
    };
    match done {
        Ok(true) => {
            tracing::info!(%store, id, %action, "console: dead letter acted on");
            if action == "retry" {
                state.wake_dispatch(&store);
            }
            Redirect::to(&format!("/console/stores/{}/dead", enc(&store))).into_response()
        }
        Ok(false) => error_page(
            StatusCode::CONFLICT,
            "that write is no longer a dead letter (retried or discarded already)",
        ),
        Err(e) => store_error(e),
    }
}

/// The entity kinds a replay can be limited to (`weft replay --entity`).
const REPLAY_ENTITIES: [&str; 6] = [
    "product",
    "variant",
    "price",
    "inventory-level",
    "customer",
    "order",
];

fn replay_form_html(store: &str, csrf: &str, since: &str, entity: &str) -> String {
    let mut options = String::from("<option value=\"\">every kind</option>");
    for k in REPLAY_ENTITIES {
        let _ = write!(
            options,
            "<option{}>{k}</option>",
            if k == entity { " selected" } else { "" }
        );
    }
    format!(
        "<form method=\"post\" action=\"/console/stores/{}/replay\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p><label>Entries received since (RFC 3339, empty: all) <input type=\"text\" name=\"since\" value=\"{}\" placeholder=\"2026-12-05T09:00:00Z\"></label></p>\
         <p><label>Entity kind <select name=\"entity\">{options}</select></label></p>\
         <p><button>Preview the replay</button></p></form>\
         <p class=\"muted\">The preview runs the store's current plugins over the journal and lists what a replay \
         would write, per record and field, without queuing anything; the replay itself can then be run from here.</p>",
        enc(store),
        esc(since),
    )
}

async fn replay_form(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path(store): Path<String>,
) -> Response {
    let options = match authorize(&state, &headers) {
        Ok(o) => o,
        Err(d) => return d.into_response(),
    };
    page(
        &format!("Replay {store}"),
        Some(&store),
        &replay_form_html(&store, &options.csrf(&store), "", ""),
    )
}

#[derive(Deserialize)]
struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    entity: String,
}

/// The form's `since` and `entity`, or the message saying what is wrong with them.
fn replay_selection(form: &ReplayForm) -> Result<(Option<DateTime<Utc>>, Option<String>), String> {
    let since = match form.since.trim() {
        "" => None,
        s => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                return Err(format!(
                    "`since` is not an RFC 3339 time ({}): e.g. 2026-12-05T09:00:00Z",
                    esc(&e.to_string())
                ));
            }
        },
    };
    let entity = match form.entity.as_str() {
        "" => None,
        e if REPLAY_ENTITIES.contains(&e) => Some(e.to_owned()),
        other => return Err(format!("unknown entity kind `{}`", esc(other))),
    };
    Ok((since, entity))
}

async fn replay_preview(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path(store): Path<String>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let options = match authorize(&state, &headers) {
        Ok(o) => o,
        Err(d) => return d.into_response(),
    };
    if !check_post(&options, &headers, &store, &form.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "refused: the form did not come from this console (reload the page and try again)",
        );
    }
    let csrf = options.csrf(&store);
    let mut body = replay_form_html(&store, &csrf, &form.since, &form.entity);
    let (since, entity) = match replay_selection(&form) {
        Ok(s) => s,
        Err(msg) => {
            let _ = write!(body, "<p class=\"bad\">{msg}</p>");
            return page(&format!("Replay {store}"), Some(&store), &body);
        }
    };
    let Some(actions) = options.actions.clone() else {
        body.push_str("<p class=\"bad\">Replay previews are not available in this host.</p>");
        return page(&format!("Replay {store}"), Some(&store), &body);
    };
    match actions.replay_preview(store.clone(), since, entity).await {
        Ok(p) => {
            let _ = write!(
                body,
                "<h2>Preview</h2><p>{} journal entries would be re-run; {} writes would be queued{}.</p>",
                p.entries,
                p.writes.len(),
                if p.truncated {
                    " (the selection is larger than one preview covers: narrow it with a later `since`)"
                } else {
                    ""
                }
            );
            if !p.writes.is_empty() {
                body.push_str("<div class=\"wrap\"><table><tr><th scope=\"col\">Record</th><th scope=\"col\">To</th><th scope=\"col\">Op</th><th scope=\"col\">Field</th><th scope=\"col\">Now</th><th scope=\"col\">Would be</th></tr>");
                for w in &p.writes {
                    let rows = w.fields.len().max(1);
                    let _ = write!(
                        body,
                        "<tr><td rowspan=\"{rows}\"><a href=\"{}\">{} {}</a></td><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\">{}</td>",
                        record_href(&store, &w.kind, &w.key),
                        esc(&w.kind),
                        esc(&w.key),
                        esc(&w.system),
                        esc(&w.op)
                    );
                    if w.fields.is_empty() {
                        body.push_str("<td colspan=\"3\" class=\"muted\">(no field differs from what weft knows)</td></tr>");
                    }
                    for (i, (f, from, to)) in w.fields.iter().enumerate() {
                        if i > 0 {
                            body.push_str("<tr>");
                        }
                        let _ = write!(
                            body,
                            "<td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                            esc(f),
                            esc(&json_text(Some(from))),
                            esc(&json_text(Some(to)))
                        );
                    }
                }
                body.push_str("</table></div>");
            }
            if p.truncated {
                body.push_str("<p class=\"muted\">A selection larger than one preview is not run from here: narrow it, or run <code>weft replay</code> while no host serves the store.</p>");
            } else {
                let _ = write!(
                    body,
                    "<form method=\"post\" action=\"/console/stores/{}/replay/run\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input type=\"hidden\" name=\"since\" value=\"{}\">\
                     <input type=\"hidden\" name=\"entity\" value=\"{}\">\
                     <p><button id=\"run-replay\">Run this replay</button> \
                     <span class=\"muted\">re-runs these entries through the store's current plugins and queues the writes; \
                     the store's processing loop takes turns with it.</span></p></form>",
                    enc(&store),
                    esc(form.since.trim()),
                    esc(&form.entity)
                );
            }
        }
        Err(e) => {
            let _ = write!(body, "<p class=\"bad\">The preview failed: {}</p>", esc(&e));
        }
    }
    page(&format!("Replay {store}"), Some(&store), &body)
}

async fn replay_run(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Path(store): Path<String>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let options = match authorize(&state, &headers) {
        Ok(o) => o,
        Err(d) => return d.into_response(),
    };
    if !check_post(&options, &headers, &store, &form.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "refused: the form did not come from this console (reload the page and try again)",
        );
    }
    let csrf = options.csrf(&store);
    let mut body = String::new();
    let (since, entity) = match replay_selection(&form) {
        Ok(s) => s,
        Err(msg) => {
            let _ = write!(body, "<p class=\"bad\">{msg}</p>");
            body.push_str(&replay_form_html(&store, &csrf, &form.since, &form.entity));
            let mut r = page(&format!("Replay {store}"), Some(&store), &body);
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return r;
        }
    };
    let Some(actions) = options.actions.clone() else {
        return error_page(
            StatusCode::NOT_IMPLEMENTED,
            "Replays are not available in this host.",
        );
    };
    let selection = format!(
        "{}{}",
        since.map_or_else(
            || "every entry".to_owned(),
            |t| format!("entries received since {}", t.to_rfc3339())
        ),
        entity
            .as_deref()
            .map_or_else(String::new, |e| format!(" of kind {e}"))
    );
    let db = match state.store_for_writes(&store).await {
        Ok(db) => db,
        Err(msg) => return error_page(StatusCode::CONFLICT, &msg),
    };
    match actions.replay_run(db, store.clone(), since, entity).await {
        Ok(o) => {
            tracing::info!(%store, entries = o.entries, writes = o.writes, "console: replay run");
            if o.writes > 0 {
                state.wake_dispatch(&store);
            }
            let _ = write!(
                body,
                "<h2>Replayed</h2><p id=\"replay-outcome\">{} journal entries re-run ({}): {} mapped, {} failed, \
                 {} conflicts; <strong>{} writes queued</strong>.</p>\
                 <p class=\"muted\">The store's dispatch loop sends them; a write queued before under the same \
                 idempotency key is not queued again, so running the same replay twice queues nothing new.</p>\
                 <p><a href=\"/console/stores/{}\">Back to the store</a></p>",
                o.entries,
                esc(&selection),
                o.mapped,
                o.failed,
                o.conflicts,
                o.writes,
                enc(&store)
            );
        }
        Err(e) => {
            let _ = write!(body, "<p class=\"bad\">The replay failed: {}</p>", esc(&e));
        }
    }
    body.push_str(&replay_form_html(&store, &csrf, &form.since, &form.entity));
    page(&format!("Replay {store}"), Some(&store), &body)
}
