//! Privacy requests through the intake (Shopify's compliance topics): verified like any
//! delivery (a bad signature is 401 and nothing is stored), stored durably before the 200
//! (pending, with the subject the platform names), a retry of the same delivery stored once, a
//! request for another shop refused with 400 and kept, and the store's loop woken.

mod common;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use common::*;
use tower::ServiceExt as _;
use weft_store::{PrivacyAction, PrivacySubject};

async fn send(h: &Harness, req: Request<Body>) -> (StatusCode, String) {
    let resp: Response = h.state.app().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

const REDACT: &str = r#"{"shop_id": 954889, "shop_domain": "acme.myshopify.com",
  "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
  "orders_to_redact": [299938, 280263, 220458]}"#;

const DATA_REQUEST: &str = r#"{"shop_id": 954889, "shop_domain": "acme.myshopify.com",
  "orders_requested": [299938], "customer": {"id": 191167, "email": "john@example.com",
  "phone": null}, "data_request": {"id": 9999}}"#;

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_stored() {
    let h = harness(vec![acme()]).await;
    for secret in [Some("not-the-secret"), None] {
        let (status, _) = send(
            &h,
            delivery("acme", "customers/redact", REDACT.as_bytes(), secret, "c-1"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(
        h.store
            .privacy_requests(None, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.store.list_rejects("acme", 10).await.unwrap().is_empty());
    assert!(h.notified.lock().is_empty());
}

#[tokio::test]
async fn a_signed_request_is_stored_pending_once_then_acknowledged() {
    let h = harness(vec![acme()]).await;
    for _ in 0..2 {
        let (status, body) = send(
            &h,
            delivery(
                "acme",
                "customers/redact",
                REDACT.as_bytes(),
                Some(SECRET),
                "c-1",
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "customers/data_request",
            DATA_REQUEST.as_bytes(),
            Some(SECRET),
            "c-2",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &h,
        delivery(
            "acme",
            "shop/redact",
            br#"{"shop_id": 954889, "shop_domain": "acme.myshopify.com"}"#,
            Some(SECRET),
            "c-3",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let list = h.store.privacy_requests(Some("acme"), true).await.unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[0].action, PrivacyAction::Redact);
    assert_eq!(list[0].system, "shopify");
    assert_eq!(list[0].delivery_id.as_deref(), Some("c-1"));
    assert_eq!(
        list[0].subject,
        PrivacySubject {
            customer_ids: vec!["191167".into()],
            emails: vec!["john@example.com".into()],
            phones: vec!["555-625-1199".into()],
            orders: vec!["299938".into(), "280263".into(), "220458".into()],
        }
    );
    assert_eq!(list[1].action, PrivacyAction::Export);
    assert_eq!(list[1].subject.orders, vec!["299938".to_string()]);
    assert!(list[1].subject.phones.is_empty());
    assert_eq!(list[2].action, PrivacyAction::ShopRedact);
    assert_eq!(list[2].subject, PrivacySubject::default());
    // Nothing of it is a journal entry; the loop was woken once per new request.
    assert!(
        h.store
            .journal_since("acme", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.notified.lock().len(), 3);
}

#[tokio::test]
async fn a_request_for_another_shop_or_without_a_customer_is_refused_and_kept() {
    let h = harness(vec![acme()]).await;
    let other = REDACT.replace("acme.myshopify.com", "evil.myshopify.com");
    let (status, body) = send(
        &h,
        delivery(
            "acme",
            "customers/redact",
            other.as_bytes(),
            Some(SECRET),
            "c-9",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("evil.myshopify.com"), "{body}");
    let (status, body) = send(
        &h,
        delivery(
            "acme",
            "customers/redact",
            br#"{"shop_domain": "acme.myshopify.com", "orders_to_redact": []}"#,
            Some(SECRET),
            "c-10",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("no customer"), "{body}");
    assert!(
        h.store
            .privacy_requests(None, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.store.list_rejects("acme", 10).await.unwrap().len(), 2);
}
