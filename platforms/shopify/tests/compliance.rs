//! Shopify's compliance webhooks as the simulator sends them, read by weft's Shopify intake: a
//! `customers/redact` (after the shop erased the customer), a `customers/data_request` and a
//! `shop/redact` are signed with the app's secret, verify, and classify as privacy requests
//! naming the customer's id, email, phone and orders; another secret does not verify, and a
//! delivery for another shop is refused.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use std::sync::Mutex;
use weft_platform::{WebhookIntake, WebhookSecret};
use weft_shopify::webhook::ShopifyWebhooks;
use weft_sim_shopify::checkout::{Address, CheckoutSpec};
use weft_sim_shopify::{
    CustomerFields, NewOrder, NewOrderLine, NewProduct, NewVariant, ShopifySim, SimConfig,
};
use weft_store::PrivacyAction;

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/compliance",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/compliance", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn compliance_webhooks_are_signed_verified_and_name_the_customer() {
    let sim = ShopifySim::new(SimConfig::default());
    let (url, got) = receiver().await;
    sim.set_compliance_uri(&url);
    sim.create_product(NewProduct {
        title: "Mug".into(),
        variants: vec![NewVariant {
            sku: Some("MUG".into()),
            price: "8.00".into(),
            available: Some(10),
            ..NewVariant::default()
        }],
        ..NewProduct::default()
    })
    .unwrap();
    let address = Address {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        address1: Some("12 St James's Square".into()),
        city: Some("London".into()),
        country_code: Some("GB".into()),
        zip: Some("SW1Y 4JH".into()),
        ..Address::default()
    };
    let customer = sim
        .create_customer(CustomerFields {
            email: Some("ada@example.com".into()),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            phone: Some("+442071234567".into()),
            addresses: Some(vec![address.clone()]),
            ..CustomerFields::default()
        })
        .unwrap();
    let order = sim
        .place_order(NewOrder {
            customer_id: Some(customer.to_string()),
            email: Some("ada@example.com".into()),
            line_items: vec![NewOrderLine {
                sku: Some("MUG".into()),
                quantity: 1,
                ..NewOrderLine::default()
            }],
            checkout: CheckoutSpec {
                billing_address: Some(address.clone()),
                shipping_address: Some(address),
                note: Some("Leave with the porter".into()),
                ..CheckoutSpec::default()
            },
            ..NewOrder::default()
        })
        .unwrap();

    let data = sim.request_customer_data(customer).await.unwrap();
    assert_eq!(data.status, Some(200));
    let redact = sim.request_customer_redact(customer).await.unwrap();
    assert_eq!(redact.status, Some(200));
    let again = sim.redeliver(&redact).await.unwrap();
    assert_eq!(again.webhook_id, redact.webhook_id);
    let shop = sim.request_shop_redact().await.unwrap();
    assert_eq!(shop.status, Some(200));

    // The shop erased the customer before asking weft to.
    let c = sim.customer_json(customer);
    assert!(c["email"].is_null() && c["first_name"].is_null(), "{c}");
    assert!(c["addresses"].as_array().unwrap().is_empty());

    let secret = sim.signing_secret().unwrap();
    let intake = ShopifyWebhooks;
    let secrets = [WebhookSecret::new(secret.as_bytes())];
    let wrong = [WebhookSecret::new(b"another secret".to_vec())];
    let shop_domain = sim.config().shop_domain.clone();
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let mut actions = Vec::new();
    for (headers, body) in &got {
        assert!(intake.verify(headers, body, &secrets));
        assert!(!intake.verify(headers, body, &wrong));
        let req = intake
            .privacy_request(headers, body, Some(&shop_domain))
            .expect("a compliance topic is a privacy request")
            .expect("it reads");
        assert!(
            matches!(
                intake.privacy_request(headers, body, Some("other.myshopify.com")),
                Some(Err(_))
            ),
            "a delivery for another shop is refused"
        );
        actions.push(req.action);
        if req.action != PrivacyAction::ShopRedact {
            assert_eq!(req.subject.customer_ids, vec![customer.to_string()]);
            assert_eq!(req.subject.emails, vec!["ada@example.com".to_string()]);
            assert_eq!(req.subject.phones, vec!["+442071234567".to_string()]);
            assert_eq!(req.subject.orders, vec![order.to_string()]);
        }
    }
    assert_eq!(
        actions,
        vec![
            PrivacyAction::Export,
            PrivacyAction::Redact,
            PrivacyAction::Redact,
            PrivacyAction::ShopRedact
        ]
    );
    // Ordinary topics are not privacy requests.
    let mut h = got[0].0.clone();
    h.insert("x-shopify-topic", "orders/updated".parse().unwrap());
    assert!(intake.privacy_request(&h, &got[0].1, None).is_none());
}
