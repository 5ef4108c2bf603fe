//! OAuth for service accounts, bearer tokens and the per-minute quotas.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use weft_sim_sheets::{
    OTHER_ACCOUNT, QuotaLimits, SCOPE_READONLY, SCOPE_SPREADSHEETS, SheetsSim, SimConfig,
};

#[tokio::test]
async fn the_key_file_and_the_exchange() {
    let sim = SheetsSim::with_defaults();
    let r = raw(&sim, "GET", "/_sim/service-account", None, "", None).await;
    let key = r.body;
    assert_eq!(key["type"], "service_account");
    assert!(
        key["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert_eq!(key["token_uri"], "http://localhost/token");
    let r = exchange(&sim, &assertion(&key, SCOPE_SPREADSHEETS, json!({}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3599);
    assert!(
        r.body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ya29.")
    );
    // Google's own audience is accepted too.
    let r = exchange(
        &sim,
        &assertion(
            &key,
            SCOPE_SPREADSHEETS,
            json!({"aud": "https://oauth2.googleapis.com/token"}),
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    // Refusals.
    let other = sim.service_account_json(Some(OTHER_ACCOUNT)).unwrap();
    let mut forged = key.clone();
    forged["private_key"] = other["private_key"].clone();
    let r = exchange(&sim, &assertion(&forged, SCOPE_SPREADSHEETS, json!({}))).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str().unwrap()),
        (400, "invalid_grant")
    );
    assert_eq!(r.body["error_description"], "Invalid JWT Signature.");
    let r = exchange(
        &sim,
        &assertion(
            &key,
            SCOPE_SPREADSHEETS,
            json!({"iat": now() - 7200, "exp": now() - 3600}),
        ),
    )
    .await;
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("short-lived")
    );
    let r = raw(
        &sim,
        "POST",
        "/token",
        Some("grant_type=client_credentials".into()),
        "application/x-www-form-urlencoded",
        None,
    )
    .await;
    assert_eq!(r.body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn bearer_tokens_scopes_and_expiry() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let path = format!("/v4/spreadsheets/{id}/values/A1");
    let r = raw(&sim, "GET", &path, None, "", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["status"], "UNAUTHENTICATED");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Request is missing required authentication credential")
    );
    assert!(r.headers.get("www-authenticate").is_some());
    let r = raw(&sim, "GET", &path, None, "", Some("ya29.made-up")).await;
    assert_eq!(r.status, 401);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Request had invalid authentication credentials")
    );
    let ro = token_for(&sim, None, SCOPE_READONLY).await;
    assert_eq!(call(&sim, &ro, "GET", &path, None).await.status, 200);
    let r = call(
        &sim,
        &ro,
        "PUT",
        &format!("{path}?valueInputOption=RAW"),
        Some(json!({"values": [["x"]]})),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["error"]["message"],
        "Request had insufficient authentication scopes."
    );
    // The query-string form works like the header.
    let r = raw(
        &sim,
        "GET",
        &format!("{path}?access_token={ro}"),
        None,
        "",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    // Tokens expire with the simulator clock.
    sim.advance_clock(Duration::from_secs(3599));
    assert_eq!(call(&sim, &ro, "GET", &path, None).await.status, 200);
    sim.advance_clock(Duration::from_secs(2));
    assert_eq!(call(&sim, &ro, "GET", &path, None).await.status, 401);
}

#[tokio::test(start_paused = true)]
async fn quotas_per_user_and_project_refill_each_minute() {
    let sim = SheetsSim::new(SimConfig {
        quota: QuotaLimits {
            reads_per_user: 5,
            reads_per_project: 8,
            writes_per_user: 2,
            writes_per_project: 300,
        },
        ..SimConfig::default()
    });
    let id = catalog(&sim);
    let a = token(&sim).await;
    let b = token_for(&sim, Some(OTHER_ACCOUNT), SCOPE_SPREADSHEETS).await;
    let path = format!("/v4/spreadsheets/{id}/values/A1");
    for _ in 0..5 {
        assert_eq!(call(&sim, &a, "GET", &path, None).await.status, 200);
    }
    let r = call(&sim, &a, "GET", &path, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        r.body["error"]["message"],
        "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:415104041262'."
    );
    assert_eq!(
        r.body["error"]["details"][0]["reason"],
        "RATE_LIMIT_EXCEEDED"
    );
    assert_eq!(
        r.body["error"]["details"][0]["metadata"]["quota_limit"],
        "ReadRequestsPerMinutePerUser"
    );
    assert!(r.headers.get("retry-after").is_none());
    // Writes have their own quota; another user of the project has theirs, up to the project's.
    let w = format!("{path}?valueInputOption=RAW");
    assert_eq!(
        call(&sim, &a, "PUT", &w, Some(json!({"values": [["x"]]})))
            .await
            .status,
        200
    );
    for _ in 0..3 {
        assert_eq!(call(&sim, &b, "GET", &path, None).await.status, 200);
    }
    let r = call(&sim, &b, "GET", &path, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.body["error"]["details"][0]["metadata"]["quota_limit"],
        "ReadRequestsPerMinutePerProject"
    );
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(call(&sim, &a, "GET", &path, None).await.status, 200);
    assert_eq!(sim.throttled(), 2);
    assert_eq!(sim.stats()["throttled"], json!({"read": 2, "write": 0}));
}

#[tokio::test]
async fn outages_on_demand() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let t = token(&sim).await;
    sim.set_unavailable(1);
    let path = format!("/v4/spreadsheets/{id}");
    let r = call(&sim, &t, "GET", &path, None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["error"]["status"], "UNAVAILABLE");
    assert_eq!(call(&sim, &t, "GET", &path, None).await.status, 200);
}

#[tokio::test]
async fn a_self_signed_jwt_is_a_bearer_token() {
    // Google's client libraries may skip the exchange and send a JWT signed with the key
    // ("service account authorization without OAuth"): for the API's audience, or with a scope.
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let key = sim.service_account_json(None).unwrap();
    let path = format!("/v4/spreadsheets/{id}/values/A1");
    let by_scope = assertion(&key, SCOPE_SPREADSHEETS, json!({"aud": "unused"}));
    assert_eq!(call(&sim, &by_scope, "GET", &path, None).await.status, 200);
    let by_aud = assertion(&key, "", json!({"aud": "https://sheets.googleapis.com/"}));
    assert_eq!(call(&sim, &by_aud, "GET", &path, None).await.status, 200);
    let readonly = assertion(&key, SCOPE_READONLY, json!({}));
    let w = format!("{path}?valueInputOption=RAW");
    let r = call(&sim, &readonly, "PUT", &w, Some(json!({"values": [["x"]]}))).await;
    assert_eq!(r.status, 403);
    // Not for this API, expired, or signed with another key: refused.
    let elsewhere = assertion(
        &key,
        "",
        json!({"aud": "https://www.googleapis.com/drive/"}),
    );
    assert_eq!(call(&sim, &elsewhere, "GET", &path, None).await.status, 401);
    let old = assertion(
        &key,
        SCOPE_SPREADSHEETS,
        json!({"iat": now() - 7200, "exp": now() - 3600}),
    );
    assert_eq!(call(&sim, &old, "GET", &path, None).await.status, 401);
    let mut forged = key.clone();
    forged["private_key"] =
        sim.service_account_json(Some(OTHER_ACCOUNT)).unwrap()["private_key"].clone();
    let bad = assertion(&forged, SCOPE_SPREADSHEETS, json!({}));
    assert_eq!(call(&sim, &bad, "GET", &path, None).await.status, 401);
}

#[tokio::test]
async fn a_spreadsheet_not_shared_with_the_account_is_forbidden() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    let a = token(&sim).await;
    let b = token_for(&sim, Some(OTHER_ACCOUNT), SCOPE_SPREADSHEETS).await;
    let path = format!("/v4/spreadsheets/{id}/values/A1");
    sim.share(&id, weft_sim_sheets::DEFAULT_ACCOUNT, false)
        .unwrap();
    let r = call(&sim, &a, "GET", &path, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["error"],
        json!({"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"})
    );
    assert_eq!(call(&sim, &b, "GET", &path, None).await.status, 200);
    sim.share(&id, weft_sim_sheets::DEFAULT_ACCOUNT, true)
        .unwrap();
    assert_eq!(call(&sim, &a, "GET", &path, None).await.status, 200);
}
