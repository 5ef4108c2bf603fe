//! Deletions in Shopify reach weft as tombstones: the simulator sends `products/delete` and
//! `customers/delete` with a body of `{"id": N}` only, the intake turns each into a tombstone
//! document of that entity (the platform says it is a deletion), and a full read journals a
//! tombstone for a product weft held that the shop no longer lists.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Value, json};
use weft_platform::webhook::is_tombstone;
use weft_platform::{Platform, Poller, WebhookIntake};
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::webhook::ShopifyWebhooks;
use weft_shopify::{Shopify, ShopifyClient, ShopifyConfig, ShopifyReconciler};
use weft_sim_shopify::{
    CustomerFields, NewProduct, NewVariant, ShopifySim, SimConfig, SimHandle, Topic,
};
use weft_store::{EntityStateUpsert, OpenOptions, StepCommit, Store};

const SHOP: &str = "weft-sim.myshopify.com";

async fn start() -> (ShopifySim, SimHandle) {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    (sim, handle)
}

fn product(n: u32) -> NewProduct {
    NewProduct {
        title: format!("Product {n}"),
        variants: vec![NewVariant {
            sku: Some(format!("SKU-{n}")),
            price: "10.00".into(),
            available: Some(3),
            ..NewVariant::default()
        }],
        ..NewProduct::default()
    }
}

type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// An HTTP endpoint that keeps every delivery's headers and body.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let inbox = got.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let inbox = inbox.clone();
            async move {
                inbox.lock().unwrap().push((headers, body.to_vec()));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_webhooks_carry_only_the_id_and_become_tombstones() {
    let (sim, h) = start().await;
    let (url, got) = receiver().await;
    sim.subscribe_webhook(Topic::ProductsDelete, &url).unwrap();
    sim.subscribe_webhook(Topic::CustomersDelete, &url).unwrap();
    let p = sim.create_product(product(1)).unwrap();
    let c = sim
        .create_customer(CustomerFields {
            email: Some("lin@example.com".into()),
            ..CustomerFields::default()
        })
        .unwrap();
    sim.delete_product(p.id).unwrap();
    sim.delete_customer(c).unwrap();
    assert!(
        sim.delete_product(p.id).is_err(),
        "a deleted product is gone"
    );
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one delivery per deletion");
    let intake = ShopifyWebhooks;
    for (headers, body) in &got {
        let raw: Value = serde_json::from_slice(body).unwrap();
        let topic = headers["x-shopify-topic"].to_str().unwrap();
        let (kind, id) = match topic {
            "products/delete" => ("product", p.id),
            "customers/delete" => ("customer", c),
            other => panic!("unexpected topic {other}"),
        };
        assert_eq!(raw, json!({ "id": id }), "Shopify sends the id only");
        let d = intake.parse(headers, body, Some(SHOP)).unwrap();
        assert_eq!(d.kind, kind);
        assert_eq!(d.entity_id, id.to_string());
        assert!(is_tombstone(&d.body), "{}", d.body);
        assert!(Shopify.is_deletion(&d.kind, &d.body));
        assert!(
            d.version.ends_with('Z'),
            "versioned by X-Shopify-Triggered-At: {}",
            d.version
        );
        assert!(d.delivery_id.is_some());
    }
    // A delete delivery for another shop is refused like any other.
    let (headers, body) = &got[0];
    assert!(
        intake
            .parse(headers, body, Some("other.myshopify.com"))
            .is_err()
    );
    // A delete body without an id is refused, naming the field.
    let err = intake.parse(headers, b"{}", Some(SHOP)).unwrap_err();
    assert!(err.contains("id"), "{err}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_full_read_journals_a_tombstone_for_a_product_the_shop_no_longer_lists() {
    let (sim, h) = start().await;
    let ids: Vec<u64> = (1..=3)
        .map(|n| sim.create_product(product(n)).unwrap().id)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let db = Store::open_with(
        &dir.path().join("weft.sqlite").to_string_lossy(),
        OpenOptions::default(),
    )
    .await
    .unwrap();
    let client = ShopifyClient::new(
        ShopifyConfig::new(h.base_url.clone(), "2026-04", "shpat_sim_access_token"),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let poller = ShopifyReconciler::new(
        "acme",
        "shopify",
        db.clone(),
        Arc::new(client),
        Duration::ZERO,
    );
    poller.poll().await.unwrap();
    // What the processing step records of the products it read.
    let entries = db.journal_since("acme", 0, 1000).await.unwrap();
    let mut step = StepCommit::new("acme", chrono::Utc::now());
    for e in entries.iter().filter(|e| e.kind == "product") {
        step.entity_states.push(EntityStateUpsert {
            system: e.system.clone(),
            kind: e.kind.clone(),
            entity_id: e.entity_id.clone(),
            version: e.version.clone(),
            body: e.body.clone(),
            canonical_key: None,
            journal_seq: e.seq,
        });
    }
    assert_eq!(step.entity_states.len(), 3);
    db.commit_step(&step).await.unwrap();
    let head = entries.last().unwrap().seq;

    sim.delete_product(ids[1]).unwrap();
    // An incremental round lists what changed: a deleted product is not among it.
    poller.poll().await.unwrap();
    let tombs = |all: Vec<weft_store::JournalEntry>| -> Vec<weft_store::JournalEntry> {
        all.into_iter().filter(|e| is_tombstone(&e.body)).collect()
    };
    assert!(tombs(db.journal_since("acme", head, 1000).await.unwrap()).is_empty());
    // A full read lists every product: the one gone is journaled as deleted.
    poller.poll_full().await.unwrap();
    let t = tombs(db.journal_since("acme", head, 1000).await.unwrap());
    assert_eq!(t.len(), 1, "{t:#?}");
    assert_eq!(t[0].kind, "product");
    assert_eq!(t[0].entity_id, ids[1].to_string());
    assert_eq!(t[0].source, weft_store::Source::Poll);
    h.shutdown().await;
}

fn delete(kind: weft_platform::EntityKind, id: &str, body: Value) -> weft_platform::WriteCommand {
    weft_platform::WriteCommand {
        system: "shopify".into(),
        kind,
        op: weft_platform::WriteOp::Delete,
        target_id: Some(id.into()),
        external_id: None,
        body,
        idempotency_key: format!("del-{id}"),
        expected_quantity: None,
    }
}

#[tokio::test]
async fn a_delete_write_removes_a_variant_its_products_last_and_a_customer() {
    use weft_platform::{Connection as _, EntityKind};
    let (sim, h) = start().await;
    let client = ShopifyClient::new(
        ShopifyConfig::new(h.base_url.clone(), "2026-04", "shpat_sim_access_token"),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let cs = weft_shopify::ShopifyConnection::new(Arc::new(client));
    let mut two = product(1);
    two.variants.push(NewVariant {
        sku: Some("SKU-1B".into()),
        price: "11.00".into(),
        available: Some(1),
        ..NewVariant::default()
    });
    let p = sim.create_product(two).unwrap();
    let pid = p.id.to_string();

    // One of two variants: the product stays without it, answered with its new document.
    let out = cs
        .execute(&delete(
            EntityKind::Variant,
            &pid,
            json!({"variant_id": p.variant_ids[1].to_string(), "sku": "SKU-1B"}),
        ))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    assert!(!is_tombstone(&doc), "{doc}");
    assert_eq!(doc["id"], pid);
    assert_eq!(doc["variants"].as_array().unwrap().len(), 1, "{doc}");
    assert!(out.version.is_some());
    assert!(sim.variant_by_sku("SKU-1B").is_none());

    // The same again (gone already): done.
    cs.execute(&delete(
        EntityKind::Variant,
        &pid,
        json!({"variant_id": p.variant_ids[1].to_string(), "sku": "SKU-1B"}),
    ))
    .await
    .unwrap();

    // Its last variant: Shopify refuses a product without variants, so the product goes.
    let out = cs
        .execute(&delete(
            EntityKind::Variant,
            &pid,
            json!({"variant_id": p.variant_ids[0].to_string(), "sku": "SKU-1"}),
        ))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    assert!(is_tombstone(&doc), "{doc}");
    assert_eq!(doc["id"], pid);
    assert!(sim.variant_by_sku("SKU-1").is_none());
    // Gone already: done, the same tombstone.
    let again = cs
        .execute(&delete(EntityKind::Product, &pid, json!({})))
        .await
        .unwrap();
    assert!(is_tombstone(&again.document.unwrap()));

    // A customer without orders.
    let c = sim
        .create_customer(CustomerFields {
            email: Some("ada@example.com".into()),
            ..CustomerFields::default()
        })
        .unwrap();
    let out = cs
        .execute(&delete(EntityKind::Customer, &c.to_string(), json!({})))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    assert!(is_tombstone(&doc));
    assert_eq!(doc["id"], c.to_string());
    assert!(
        cs.execute(&delete(EntityKind::Customer, &c.to_string(), json!({})))
            .await
            .is_ok(),
        "gone already: done"
    );
    h.shutdown().await;
}
