//! The operator's console over HTTP: no page without the token (bearer or the login's
//! cookie), pages show the store's figures, a record's copies side by side with its lineage,
//! dead letters with the platform's message; retry and discard act, only with the form's CSRF
//! field; nothing secret appears in any page; `/healthz` names a stopped loop. Also measures
//! page render times on a store with many records.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use common::*;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use weft_server::{ConsoleOptions, LoopStatus, ServerState};

const TOKEN: &str = "console-token-for-tests-0123456789";

async fn send(
    state: &ServerState,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let r = state.app().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, form: &str, auth: bool) -> Request<Body> {
    let mut b =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if auth {
        b = b.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    b.body(Body::from(form.to_owned())).unwrap()
}

async fn console() -> Harness {
    let h = harness(vec![acme()]).await;
    h.state
        .set_console(ConsoleOptions::new(TOKEN.as_bytes().to_vec()));
    h
}

fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field")
        + 19;
    page[at..at + 64].to_owned()
}

#[tokio::test]
async fn no_page_without_the_token() {
    let h = console().await;
    conflicted_price(&h.store, "WS-M", 0).await;
    let ids = dead_letter_all(&h.store, "Price must be positive").await;
    let paths = [
        "/console".to_owned(),
        "/console/stores/acme".into(),
        "/console/stores/acme/search?q=WS-M".into(),
        "/console/stores/acme/records/price/WS-M".into(),
        "/console/stores/acme/dead".into(),
        "/console/stores/acme/replay".into(),
    ];
    for p in &paths {
        // No credentials, a wrong token, a wrong cookie: 401 and the login form only.
        for req in [
            Request::get(p.as_str()).body(Body::empty()).unwrap(),
            Request::get(p.as_str())
                .header(
                    header::AUTHORIZATION,
                    "Bearer console-token-for-tests-0123456788",
                )
                .body(Body::empty())
                .unwrap(),
            Request::get(p.as_str())
                .header(header::COOKIE, "weft_console=00")
                .body(Body::empty())
                .unwrap(),
        ] {
            let (status, headers, body) = send(&h.state, req).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{p}");
            assert!(headers.contains_key(header::WWW_AUTHENTICATE));
            assert!(
                !body.contains("WS-M") && !body.contains("acme"),
                "{p}: {body}"
            );
            assert!(body.contains("Console token"), "{p}");
        }
        let (status, _, _) = send(&h.state, get(p)).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::SEE_OTHER,
            "{p}: {status}"
        );
    }
    // Actions too.
    let (status, _, _) = send(
        &h.state,
        post(
            &format!("/console/stores/acme/dead/{}/retry", ids[0]),
            "csrf=x",
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.store
            .outbox_row(ids[0])
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "dead"
    );
    // Without a configured token the console does not exist.
    let off = harness(vec![acme()]).await;
    let (status, _, body) = send(&off.state, get("/console")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("[console] token"), "{body}");
}

#[tokio::test]
async fn the_login_sets_a_cookie_that_is_not_the_token() {
    let h = console().await;
    let (status, _, body) = send(&h.state, post("/console/login", "token=wrong", false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("not the console token"));
    let (status, headers, _) = send(
        &h.state,
        post("/console/login", &format!("token={TOKEN}"), false),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let (status, _, body) = send(
        &h.state,
        Request::get("/console")
            .header(header::COOKIE, pair)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("acme"));
}

#[tokio::test]
async fn pages_show_the_store_the_record_and_its_lineage() {
    let h = console().await;
    conflicted_price(&h.store, "WS-M", 0).await;
    dead_letter_all(&h.store, "Price must be positive").await;
    h.state.set_loops(Arc::new(|| {
        vec![LoopStatus {
            store: "acme".into(),
            name: "poll netsuite".into(),
            healthy: true,
            detail: "idle, last turn 1 s ago".into(),
            last_round: Some(Utc::now()),
            last_error: None,
        }]
    }));
    let (_, _, index) = send(&h.state, get("/console")).await;
    assert!(index.contains("href=\"/console/stores/acme\""), "{index}");
    assert!(
        index.contains("/console/stores/acme/dead\">1</a>"),
        "one dead letter: {index}"
    );
    assert!(
        index.contains("netsuite 0 s ago") || index.contains("netsuite 1 s ago"),
        "{index}"
    );

    let (_, _, store) = send(&h.state, get("/console/stores/acme")).await;
    assert!(store.contains("Recent activity"), "{store}");
    assert!(store.contains("price WS-M"), "{store}");
    assert!(store.contains("price conflict"), "{store}");

    // Found by SKU, by the shop's id and by the ERP's id.
    for q in ["WS-M", "9007199254740993", "7"] {
        let (status, headers, _) =
            send(&h.state, get(&format!("/console/stores/acme/search?q={q}"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{q}");
        assert_eq!(
            headers[header::LOCATION],
            "/console/stores/acme/records/price/WS%2DM",
            "{q}"
        );
    }
    let (status, _, none) = send(&h.state, get("/console/stores/acme/search?q=NOPE")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(none.contains("No record is named"));

    let (status, _, record) =
        send(&h.state, get("/console/stores/acme/records/price/WS%2DM")).await;
    assert_eq!(status, StatusCode::OK);
    // Side by side: the golden value, the ERP's copy, the shop's differing one (marked).
    assert!(record.contains("<td><code>59.90</code></td><td><code>59.90</code></td><td class=\"diff\"><code>55.00</code></td>"), "{record}");
    assert!(record.contains("id 9007199254740993"));
    // The lineage, in order, naming the resolver that decided and the write's outcome.
    let changed = record
        .find("changed &quot;49.99&quot; -&gt; &quot;55.00&quot;")
        .expect("the shop's change");
    let conflict = record
        .find("resolver system-of-record 0.2.0 (rule *) decided take netsuite")
        .expect("the resolver");
    assert!(changed < conflict);
    assert!(record.contains("<span class=\"badge dead\">dead</span> <span class=\"bad\">Price must be positive</span>"), "{record}");

    let (_, _, dead) = send(&h.state, get("/console/stores/acme/dead")).await;
    assert!(dead.contains("Price must be positive"));
    assert!(dead.contains("Retry") && dead.contains("Discard"));

    let (status, _, missing) = send(&h.state, get("/console/stores/acme/records/price/NOPE")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("knows nothing"));

    // Nothing secret anywhere: not the console token, not a webhook secret.
    for page in [&index, &store, &record, &dead] {
        assert!(!page.contains(TOKEN) && !page.contains(SECRET));
    }
}

#[tokio::test]
async fn retry_and_discard_act_only_with_the_forms_csrf_field() {
    let h = console().await;
    conflicted_price(&h.store, "WS-M", 0).await;
    conflicted_price(&h.store, "WS-L", 1).await;
    let ids = dead_letter_all(&h.store, "Price must be positive").await;
    assert_eq!(ids.len(), 2);
    let (_, _, dead) = send(&h.state, get("/console/stores/acme/dead")).await;
    let csrf = csrf_of(&dead);
    let status_of = |id: i64| {
        let store = h.store.clone();
        async move {
            store
                .outbox_row(id)
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str()
                .to_owned()
        }
    };
    // A missing or wrong field, or a cross-site request, is refused and changes nothing.
    for (form, site) in [
        (String::new(), None),
        ("csrf=0000".to_owned(), None),
        (format!("csrf={csrf}"), Some("cross-site")),
    ] {
        let mut req = post(
            &format!("/console/stores/acme/dead/{}/retry", ids[0]),
            &form,
            true,
        );
        if let Some(s) = site {
            req.headers_mut()
                .insert("sec-fetch-site", s.parse().unwrap());
        }
        let (status, _, _) = send(&h.state, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{form} {site:?}");
        assert_eq!(status_of(ids[0]).await, "dead");
    }
    // Another store's field does not work either.
    let (status, _, _) = send(
        &h.state,
        post(
            &format!("/console/stores/other/dead/{}/retry", ids[0]),
            &format!("csrf={csrf}"),
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, headers, _) = send(
        &h.state,
        post(
            &format!("/console/stores/acme/dead/{}/retry", ids[0]),
            &format!("csrf={csrf}"),
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/console/stores/acme/dead");
    assert_eq!(status_of(ids[0]).await, "pending", "retried: due again");
    // Acting again on what is no longer a dead letter says so.
    let (status, _, _) = send(
        &h.state,
        post(
            &format!("/console/stores/acme/dead/{}/discard", ids[0]),
            &format!("csrf={csrf}"),
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = send(
        &h.state,
        post(
            &format!("/console/stores/acme/dead/{}/discard", ids[1]),
            &format!("csrf={csrf}"),
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(ids[1]).await, "discarded");
    let (_, _, dead) = send(&h.state, get("/console/stores/acme/dead")).await;
    assert!(dead.contains("No dead letters"), "{dead}");
}

#[tokio::test]
async fn healthz_names_the_store_and_loop_that_stopped() {
    let h = harness(vec![acme()]).await;
    let (status, _, body) = send(&h.state, get("/healthz")).await;
    assert_eq!((status, body.starts_with("ok")), (StatusCode::OK, true));
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = healthy.clone();
    h.state.set_loops(Arc::new(move || {
        let ok = flag.load(std::sync::atomic::Ordering::SeqCst);
        vec![LoopStatus {
            store: "acme".into(),
            name: "process".into(),
            healthy: ok,
            detail: if ok {
                "idle".into()
            } else {
                "stopped: the loop panicked".into()
            },
            last_round: None,
            last_error: None,
        }]
    }));
    let (status, _, _) = send(&h.state, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    healthy.store(false, std::sync::atomic::Ordering::SeqCst);
    let (status, _, body) = send(&h.state, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("store acme, loop process: stopped: the loop panicked"),
        "{body}"
    );
    h.state.readiness().mark_ready();
    let (status, _, body) = send(&h.state, get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("loop process"), "{body}");
}

/// Page render times with many records (figures printed for the record; the bound is loose).
#[tokio::test]
async fn pages_render_quickly_on_a_store_with_many_records() {
    const N: usize = 2_000;
    let h = console().await;
    for i in 0..N {
        conflicted_price(&h.store, &format!("SKU-{i:05}"), i).await;
    }
    dead_letter_all(&h.store, "Price must be positive").await;
    let mut figures = Vec::new();
    for path in [
        "/console",
        "/console/stores/acme",
        "/console/stores/acme/records/price/SKU%2D01000",
        "/console/stores/acme/search?q=9007199254741993",
        "/console/stores/acme/dead",
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let (status, _, _) = send(&h.state, get(path)).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::SEE_OTHER,
                "{path}"
            );
            times.push(t.elapsed());
        }
        times.sort();
        figures.push((path, times[2]));
        assert!(times[2] < Duration::from_secs(2), "{path}: {:?}", times[2]);
    }
    for (path, t) in figures {
        eprintln!(
            "render {path} with {N} records: median {:.1} ms",
            t.as_secs_f64() * 1000.0
        );
    }
}
