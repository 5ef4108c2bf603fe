//! `/_sim/...`: the service-account key file, what a person does in a sheet, and inspection.
//!
//! | Route | Does |
//! |---|---|
//! | `GET /_sim/service-account[?email=...]` | the key file (JSON with `private_key`, `token_uri`) |
//! | `POST /_sim/spreadsheets` | `{"title","sheets":[{"title","rows","columns"}]}` → `{"spreadsheetId"}` |
//! | `GET /_sim/spreadsheets/{id}` | the spreadsheet as `spreadsheets.get` returns it |
//! | `GET /_sim/spreadsheets/{id}/values?range=...` | values as a person sees them |
//! | `PUT /_sim/spreadsheets/{id}/values` | `{"range","values":[["typed",...]]}`: a person types |
//! | `POST /_sim/spreadsheets/{id}/rows/insert` | `{"sheet"?,"row","count"}` |
//! | `POST /_sim/spreadsheets/{id}/rows/delete` | `{"sheet"?,"row","count"}` |
//! | `POST /_sim/spreadsheets/{id}/rows/sort` | `{"sheet"?,"from","column","descending"}` |
//! | `POST /_sim/spreadsheets/{id}/columns/move` | `{"sheet"?,"from":"B","to":"D"}` |
//! | `POST /_sim/spreadsheets/{id}/chaos` | `{"sheet"?,"key_header","seed","edits"}` → the edits made |
//! | `POST /_sim/spreadsheets/{id}/share` | `{"email","shared":false}`: stop (or start) sharing with an account |
//! | `POST /_sim/clock/advance` | `{"seconds":N}` |
//! | `POST /_sim/unavailable` | `{"requests":N}`: the next N API requests answer 503 |
//! | `POST /_sim/tokens/revoke` | every issued token stops working |
//! | `GET /_sim/requests`, `GET /_sim/stats` | the request log; counters (reads, writes, 429s) |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::error::{GoogleError, json_response};
use crate::sim::{ChaosMix, Shared, SheetsSim};

type St = State<Arc<Shared>>;

fn sim(sh: &Arc<Shared>) -> SheetsSim {
    SheetsSim { shared: sh.clone() }
}

fn done(r: Result<Value, GoogleError>) -> Response {
    match r {
        Ok(v) => json_response(200, &v),
        Err(e) => json_response(e.code, &e.body()),
    }
}

fn u32_of(b: &Value, k: &str, default: u32) -> u32 {
    b[k].as_u64().map_or(default, |n| n as u32)
}

/// The `/_sim` routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/service-account", get(service_account))
        .route("/_sim/spreadsheets", post(create))
        .route("/_sim/spreadsheets/{id}", get(show))
        .route(
            "/_sim/spreadsheets/{id}/values",
            get(values).put(type_values),
        )
        .route("/_sim/spreadsheets/{id}/rows/insert", post(insert_rows))
        .route("/_sim/spreadsheets/{id}/rows/delete", post(delete_rows))
        .route("/_sim/spreadsheets/{id}/rows/sort", post(sort_rows))
        .route("/_sim/spreadsheets/{id}/columns/move", post(move_column))
        .route("/_sim/spreadsheets/{id}/chaos", post(chaos))
        .route("/_sim/spreadsheets/{id}/share", post(share))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/unavailable", post(unavailable))
        .route("/_sim/tokens/revoke", post(revoke))
        .route("/_sim/requests", get(requests))
        .route("/_sim/stats", get(stats))
}

async fn service_account(State(sh): St, Query(q): Query<HashMap<String, String>>) -> Response {
    done(
        sim(&sh)
            .service_account_json(q.get("email").map(String::as_str))
            .ok_or_else(GoogleError::not_found),
    )
}

async fn create(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    let sheets: Vec<(String, u32, u32)> = b["sheets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["title"].as_str().unwrap_or("Sheet1").to_owned(),
                        u32_of(s, "rows", 1000),
                        u32_of(s, "columns", 26),
                    )
                })
                .collect()
        })
        .unwrap_or_else(|| vec![("Sheet1".into(), 1000, 26)]);
    let refs: Vec<(&str, u32, u32)> = sheets
        .iter()
        .map(|(t, r, c)| (t.as_str(), *r, *c))
        .collect();
    let id =
        sim(&sh).create_spreadsheet(b["title"].as_str().unwrap_or("Untitled spreadsheet"), &refs);
    done(Ok(json!({"spreadsheetId": id})))
}

async fn show(State(sh): St, Path(id): Path<String>) -> Response {
    done(sim(&sh).spreadsheet(&id).ok_or_else(GoogleError::not_found))
}

async fn values(
    State(sh): St,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let range = q.get("range").cloned().unwrap_or_else(|| "A1:ZZ".into());
    done(
        sim(&sh)
            .values(&id, &range)
            .map(|v| json!({"range": range, "values": v})),
    )
}

async fn type_values(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let rows: Vec<Vec<String>> = b["values"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    r.as_array()
                        .map(|cs| {
                            cs.iter()
                                .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let refs: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    let range = b["range"].as_str().unwrap_or("A1");
    done(sim(&sh).type_values(&id, range, &refs).map(|_| json!({})))
}

async fn insert_rows(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    done(
        sim(&sh)
            .insert_rows(
                &id,
                b["sheet"].as_str(),
                u32_of(&b, "row", 2),
                u32_of(&b, "count", 1),
            )
            .map(|_| json!({})),
    )
}

async fn delete_rows(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    done(
        sim(&sh)
            .delete_rows(
                &id,
                b["sheet"].as_str(),
                u32_of(&b, "row", 2),
                u32_of(&b, "count", 1),
            )
            .map(|_| json!({})),
    )
}

async fn sort_rows(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    done(
        sim(&sh)
            .sort_rows(
                &id,
                b["sheet"].as_str(),
                u32_of(&b, "from", 2),
                b["column"].as_str().unwrap_or("A"),
                b["descending"].as_bool().unwrap_or(false),
            )
            .map(|_| json!({})),
    )
}

async fn move_column(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    done(
        sim(&sh)
            .move_column(
                &id,
                b["sheet"].as_str(),
                b["from"].as_str().unwrap_or(""),
                b["to"].as_str().unwrap_or(""),
            )
            .map(|_| json!({})),
    )
}

async fn chaos(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    done(
        sim(&sh)
            .person_chaos(
                &id,
                b["sheet"].as_str(),
                b["key_header"].as_str().unwrap_or("SKU"),
                b["seed"].as_u64().unwrap_or(1),
                b["edits"].as_u64().unwrap_or(10) as usize,
                &ChaosMix::default(),
            )
            .map(|edits| json!(edits)),
    )
}

async fn share(
    State(sh): St,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    done(
        sim(&sh)
            .share(
                &id,
                b["email"].as_str().unwrap_or_default(),
                b["shared"].as_bool().unwrap_or(true),
            )
            .map(|_| json!({})),
    )
}

async fn advance(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    sim(&sh).advance_clock(Duration::from_secs(b["seconds"].as_u64().unwrap_or(0)));
    done(Ok(json!({})))
}

async fn unavailable(State(sh): St, axum::Json(b): axum::Json<Value>) -> Response {
    sim(&sh).set_unavailable(b["requests"].as_u64().unwrap_or(1));
    done(Ok(json!({})))
}

async fn revoke(State(sh): St) -> Response {
    sim(&sh).revoke_tokens();
    done(Ok(json!({})))
}

async fn requests(State(sh): St) -> Response {
    done(Ok(json!(sim(&sh).requests())))
}

async fn stats(State(sh): St) -> Response {
    done(Ok(sim(&sh).stats()))
}
