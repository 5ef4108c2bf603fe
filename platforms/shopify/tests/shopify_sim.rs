//! The Shopify connector against the Shopify simulator over real HTTP on 127.0.0.1:0:
//! pagination (including follow-up variant pages), `updated_at` filters, normalized shapes,
//! THROTTLED detection and the cost limiter, compare-and-set staleness, idempotent adjustments,
//! and product / customer upserts that a retry does not duplicate.

use std::sync::Arc;

use serde_json::json;
use weft_platform::{Connection as _, ConnectorError, EntityKind, WriteCommand, WriteOp};
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::ShopifyConnection;
use weft_shopify::{Entity, Paging, ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{
    CustomerFields, NewOrder, NewOrderLine, NewProduct, NewVariant, ShopifySim, SimConfig,
    SimHandle,
};

const TOKEN: &str = "shpat_sim_access_token";
const VERSION: &str = "2026-04";

async fn start(config: SimConfig) -> (ShopifySim, SimHandle) {
    let sim = ShopifySim::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    (sim, handle)
}

fn client(h: &SimHandle, paging: Paging, limiter: ShopifyCostLimiter) -> ShopifyClient {
    let mut cfg = ShopifyConfig::new(h.base_url.clone(), VERSION, TOKEN);
    cfg.paging = paging;
    ShopifyClient::new(cfg, limiter).unwrap()
}

fn product(title: &str, skus: &[&str]) -> NewProduct {
    NewProduct {
        title: title.into(),
        body_html: Some("<p>x</p>".into()),
        vendor: Some("Acme".into()),
        product_type: None,
        tags: vec!["b".into(), "a".into()],
        status: None,
        option_name: None,
        variants: skus
            .iter()
            .map(|s| NewVariant {
                sku: Some((*s).into()),
                price: "10.5".into(),
                compare_at_price: None,
                barcode: None,
                option: Some((*s).into()),
                available: Some(7),
            })
            .collect(),
    }
}

#[tokio::test]
async fn products_page_filter_and_normalize() {
    let (sim, h) = start(SimConfig::default()).await;
    let mut expected = Vec::new();
    for i in 0..23 {
        let p = sim
            .create_product(product(&format!("P{i}"), &[&format!("SKU-{i}")]))
            .unwrap();
        expected.push(p.id.to_string());
    }
    let many: Vec<String> = (0..25).map(|i| format!("BIG-{i}")).collect();
    let big = sim
        .create_product(product(
            "Big",
            &many.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .unwrap();
    expected.push(big.id.to_string());
    let paging = Paging {
        products: 5,
        variants: 10,
        ..Paging::default()
    };
    let c = client(&h, paging, ShopifyCostLimiter::new());
    let all = c.read_since(&Entity::Products, None).await.unwrap();
    let mut got: Vec<String> = all.docs.iter().map(|d| d.id.clone()).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    let big_doc = all
        .docs
        .iter()
        .find(|d| d.id == big.id.to_string())
        .unwrap();
    let variants = big_doc.body["variants"].as_array().unwrap();
    assert_eq!(
        variants.len(),
        25,
        "variants beyond the first page are fetched"
    );
    // Ids above 2^53 survive as exact decimal strings.
    assert_eq!(variants[0]["id"], big.variant_ids[0].to_string());
    assert!(big.variant_ids[0] > (1u64 << 53));
    assert_eq!(
        variants[0]["inventory_item_id"],
        big.inventory_item_ids[0].to_string()
    );
    assert_eq!(big_doc.body["tags"], "a, b");
    assert_eq!(big_doc.body["status"], "active");
    assert_eq!(variants[0]["price"], "10.50");
    assert!(big_doc.updated_at.ends_with('Z'));

    // `>=`: the maximum itself includes every row sharing that second; a second later none.
    let max = all.max_updated_at.clone().unwrap();
    let tied = c.read_since(&Entity::Products, Some(&max)).await.unwrap();
    assert!(tied.docs.iter().any(|d| d.updated_at == max));
    let later = (chrono::DateTime::parse_from_rfc3339(&max).unwrap()
        + chrono::Duration::seconds(1))
    .with_timezone(&chrono::Utc)
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        c.read_since(&Entity::Products, Some(&later))
            .await
            .unwrap()
            .docs
            .is_empty()
    );
    assert_eq!(sim.stats().throttled_graphql, 0);
    h.shutdown().await;
}

#[tokio::test]
async fn customers_orders_and_levels_read_in_the_one_shape() {
    let (sim, h) = start(SimConfig::default()).await;
    let p = sim.create_product(product("Shirt", &["SH-1"])).unwrap();
    let cust = sim
        .create_customer(CustomerFields {
            email: Some("ada@example.com".into()),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            phone: None,
            tags: Some(vec!["vip".into()]),
            ..CustomerFields::default()
        })
        .unwrap();
    let order = sim
        .place_order(NewOrder {
            customer_id: Some(cust.to_string()),
            email: Some("ada@example.com".into()),
            location_id: None,
            line_items: vec![NewOrderLine {
                variant_id: None,
                sku: Some("SH-1".into()),
                quantity: 2,
            }],
            ..NewOrder::default()
        })
        .unwrap();
    let c = client(&h, Paging::default(), ShopifyCostLimiter::new());
    let customers = c.read_since(&Entity::Customers, None).await.unwrap();
    assert_eq!(customers.docs.len(), 1);
    let cd = &customers.docs[0].body;
    assert_eq!(cd["id"], cust.to_string());
    assert_eq!(cd["email"], "ada@example.com");
    assert_eq!(cd["tags"], "vip");

    let orders = c.read_since(&Entity::Orders, None).await.unwrap();
    assert_eq!(orders.docs.len(), 1);
    let od = &orders.docs[0].body;
    assert_eq!(od["id"], order.to_string());
    assert_eq!(od["customer"]["id"], cust.to_string());
    assert_eq!(od["line_items"][0]["sku"], "SH-1");
    assert_eq!(od["line_items"][0]["quantity"], 2);
    assert_eq!(
        od["line_items"][0]["variant_id"],
        p.variant_ids[0].to_string()
    );
    assert_eq!(od["total_price"], "21.00");

    // The cheap listing names the same entities and versions, and a fetch by id normalizes
    // exactly as the paged read does (the reconciler mixes both).
    for (entity, paged) in [
        (Entity::Customers, &customers),
        (Entity::Orders, &orders),
        (
            Entity::Products,
            &c.read_since(&Entity::Products, None).await.unwrap(),
        ),
    ] {
        let listing = c.list_changed(&entity, None).await.unwrap();
        let listed: Vec<(String, String)> = listing
            .items
            .iter()
            .map(|l| (l.id.clone(), l.updated_at.clone()))
            .collect();
        let read: Vec<(String, String)> = paged
            .docs
            .iter()
            .map(|d| (d.id.clone(), d.updated_at.clone()))
            .collect();
        assert_eq!(listed, read, "{entity:?}");
        let shop_now = sim.now();
        let server = listing
            .server_time
            .expect("the listing carries the server's Date");
        assert!(
            (server - shop_now).num_seconds().abs() <= 1,
            "Date is the shop clock: {server} vs {shop_now}"
        );
        let mut ids: Vec<String> = listed.iter().map(|(id, _)| id.clone()).collect();
        ids.push("999999999".into()); // deleted or never existed: left out
        let fetched = c.fetch(&entity, &ids).await.unwrap();
        assert_eq!(&fetched, &paged.docs, "{entity:?}");
    }
    assert!(
        c.list_changed(&Entity::InventoryLevels { location_id: None }, None)
            .await
            .is_err(),
        "inventory levels have no listing"
    );

    let locations = c.locations().await.unwrap();
    assert_eq!(locations.len(), 1);
    let levels = c
        .read_since(
            &Entity::InventoryLevels {
                location_id: Some(locations[0].clone()),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(levels.docs.len(), 1);
    let l = &levels.docs[0];
    assert_eq!(
        l.id,
        format!("{}@{}", p.inventory_item_ids[0], locations[0])
    );
    assert_eq!(l.body["sku"], "SH-1");
    assert_eq!(l.body["available"], 5, "7 minus the 2 ordered");
    let one = c
        .inventory_level(&p.inventory_item_ids[0].to_string(), &locations[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&one, l);
    h.shutdown().await;
}

#[tokio::test]
async fn throttled_is_detected_and_the_limiter_prevents_it() {
    // Seven customers a page cost 30 points (2 + 7 × 4), the whole of the test's bucket.
    let paging = Paging {
        customers: 7,
        ..Paging::default()
    };
    // A client whose limiter never learns (a fresh one per call) runs into THROTTLED. The
    // bucket barely refills (1 point/s), so this holds however slow the machine is.
    {
        let config = SimConfig::builder()
            .graphql_bucket(30.0, 1.0)
            .build()
            .unwrap();
        let (sim, h) = start(config).await;
        sim.create_customer(CustomerFields {
            email: Some("a@example.com".into()),
            ..Default::default()
        })
        .unwrap();
        let mut throttled = None;
        for _ in 0..40 {
            let naive = client(&h, paging, ShopifyCostLimiter::new());
            if let Err(e) = naive.read_page(&Entity::Customers, None, None).await {
                throttled = Some(e);
                break;
            }
        }
        let e = throttled.expect("a burst past the bucket is throttled");
        assert!(
            matches!(
                e,
                ConnectorError::Throttled {
                    retry_after: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_retryable());
        assert!(sim.stats().throttled_graphql >= 1);
        h.shutdown().await;
    }

    let config = SimConfig::builder()
        .graphql_bucket(30.0, 100.0)
        .build()
        .unwrap();
    let (sim, h) = start(config).await;
    sim.create_customer(CustomerFields {
        email: Some("a@example.com".into()),
        ..Default::default()
    })
    .unwrap();
    let before = sim.stats().throttled_graphql;

    // One shared limiter learns the bucket from the first response and waits instead.
    let governed = Arc::new(client(&h, paging, ShopifyCostLimiter::new()));
    governed
        .read_page(&Entity::Customers, None, None)
        .await
        .ok();
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let g = governed.clone();
        tasks.push(tokio::spawn(async move {
            g.read_page(&Entity::Customers, None, None).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let after = sim.stats().throttled_graphql;
    assert!(
        after - before <= 1,
        "{} throttled with the limiter",
        after - before
    );
    h.shutdown().await;
}

fn connectors(c: ShopifyClient) -> ShopifyConnection {
    ShopifyConnection::new(Arc::new(c))
}

#[tokio::test]
async fn inventory_compare_and_set_and_idempotent_adjust() {
    let (sim, h) = start(SimConfig::default()).await;
    let p = sim.create_product(product("Mug", &["MUG-1"])).unwrap();
    let loc = sim.location_ids()[0];
    let item = p.inventory_item_ids[0];
    sim.set_inventory(item, loc, 10).unwrap();
    let cs = connectors(client(&h, Paging::default(), ShopifyCostLimiter::new()));
    let mut set = WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::InventoryLevel,
        op: WriteOp::SetQuantity,
        target_id: None,
        external_id: None,
        // No inventory item id: found by SKU.
        body: json!({"location_id": loc.to_string(), "available": 4, "sku": "MUG-1"}),
        idempotency_key: "set-1".into(),
        expected_quantity: Some(9),
    };
    let stale = cs.execute(&set).await.unwrap_err();
    assert!(stale.is_stale(), "{stale:?}");
    assert!(stale.to_string().contains(&format!("{item}@{loc}")));
    assert_eq!(sim.available(item, loc), Some(10));
    // A write against the fresh reading is a new write, with its own key.
    set.expected_quantity = Some(10);
    set.idempotency_key = "set-2".into();
    let out = cs.execute(&set).await.unwrap();
    assert_eq!(out.target_id, format!("{item}@{loc}"));
    assert_eq!(sim.available(item, loc), Some(4));
    // Its answer is "lost", and something moves the level back to the guarded 10 before the
    // retry: the retry (same key, same call) gets the original answer and applies nothing.
    sim.set_inventory(item, loc, 10).unwrap();
    let again = cs.execute(&set).await.unwrap();
    assert_eq!(again.target_id, out.target_id);
    assert_eq!(
        sim.available(item, loc),
        Some(10),
        "a repeated set under its key applies once"
    );
    sim.set_inventory(item, loc, 4).unwrap();

    let adjust = WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::InventoryLevel,
        op: WriteOp::AdjustQuantity,
        target_id: None,
        external_id: None,
        body: json!({"inventory_item_id": item.to_string(), "location_id": loc.to_string(), "delta": 3}),
        idempotency_key: "5d2c6f7e-0c1b-4a8e-9d3f-1a2b3c4d5e6f".into(),
        expected_quantity: None,
    };
    cs.execute(&adjust).await.unwrap();
    cs.execute(&adjust).await.unwrap();
    assert_eq!(
        sim.available(item, loc),
        Some(7),
        "a repeated key applies once"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn product_and_customer_upserts_survive_retries() {
    let (sim, h) = start(SimConfig::default()).await;
    let cs = connectors(client(&h, Paging::default(), ShopifyCostLimiter::new()));
    let create = WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::Product,
        op: WriteOp::Upsert,
        target_id: None,
        external_id: None,
        body: json!({"title": "Linen Shirt", "body_html": "<p>Soft.</p>", "vendor": "Acme",
                     "status": "draft",
                     "variants": [{"sku": "LS-S", "price": "49.00", "compare_at_price": "59.00"},
                                  {"sku": "LS-M", "price": "49.00", "barcode": "4006381333931"}]}),
        idempotency_key: "p-1".into(),
        expected_quantity: None,
    };
    let first = cs.execute(&create).await.unwrap();
    // The response was "lost": the retry finds the product by SKU instead of making another.
    let retry = cs.execute(&create).await.unwrap();
    assert_eq!(first.target_id, retry.target_id);
    assert_eq!(
        sim.stats().creates.api.get("product").copied().unwrap_or(0),
        1
    );
    assert_eq!(first.children.len(), 2);
    let doc = first.document.unwrap();
    assert_eq!(doc["status"], "draft");
    assert_eq!(doc["variants"][0]["compare_at_price"], "59.00");

    // A partial write lists one variant: the other is kept, not deleted.
    let patch = WriteCommand {
        target_id: Some(first.target_id.clone()),
        body: json!({"title": "Linen Shirt II", "variants": [{"sku": "LS-M", "price": "45.00"}]}),
        idempotency_key: "p-2".into(),
        ..create.clone()
    };
    let out = cs.execute(&patch).await.unwrap();
    let doc = out.document.unwrap();
    assert_eq!(doc["title"], "Linen Shirt II");
    let vs = doc["variants"].as_array().unwrap();
    assert_eq!(vs.len(), 2);
    let m = vs.iter().find(|v| v["sku"] == "LS-M").unwrap();
    assert_eq!(m["price"], "45.00");
    assert_eq!(m["barcode"], "4006381333931");
    let s = vs.iter().find(|v| v["sku"] == "LS-S").unwrap();
    assert_eq!(s["price"], "49.00");

    let customer = WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::Customer,
        op: WriteOp::Upsert,
        target_id: None,
        external_id: None,
        body: json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper",
                     "phone": null}),
        idempotency_key: "c-1".into(),
        expected_quantity: None,
    };
    let c1 = cs.execute(&customer).await.unwrap();
    let c2 = cs.execute(&customer).await.unwrap();
    assert_eq!(c1.target_id, c2.target_id);
    let update = WriteCommand {
        target_id: Some(c1.target_id.clone()),
        body: json!({"id": c1.target_id, "last_name": "Murray Hopper"}),
        ..customer.clone()
    };
    let c3 = cs.execute(&update).await.unwrap();
    assert_eq!(c3.document.unwrap()["last_name"], "Murray Hopper");

    // Prices through productVariantsBulkUpdate.
    let price = WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::Price,
        op: WriteOp::Upsert,
        target_id: Some(m["id"].as_str().unwrap().to_owned()),
        external_id: None,
        body: json!({"product_id": first.target_id, "price": "44.00", "compare_at_price": null}),
        idempotency_key: "pr-1".into(),
        expected_quantity: None,
    };
    let out = cs.execute(&price).await.unwrap();
    assert_eq!(out.document.unwrap()["price"], "44.00");
    h.shutdown().await;
}

#[tokio::test]
async fn customer_tax_exemption_tags_and_consent_are_written_as_shopify_takes_them() {
    let (sim, h) = start(SimConfig::default()).await;
    let cs = connectors(client(&h, Paging::default(), ShopifyCostLimiter::new()));
    let id = sim
        .create_customer(CustomerFields {
            email: Some("ada@example.com".into()),
            first_name: Some("Ada".into()),
            ..Default::default()
        })
        .unwrap();
    let write = |body: serde_json::Value| WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::Customer,
        op: WriteOp::Upsert,
        target_id: Some(id.to_string()),
        external_id: None,
        body,
        idempotency_key: "c".into(),
        expected_quantity: None,
    };
    // customerUpdate takes tags and the exemption; the consent goes by its own mutation.
    let out = cs
        .execute(&write(json!({"id": id.to_string(), "tags": "vip, b2b",
                                "tax_exempt": true, "email_marketing": "subscribed"})))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    assert_eq!(doc["tags"], "b2b, vip");
    assert_eq!(doc["tax_exempt"], true);
    assert_eq!(doc["email_marketing"], "subscribed");
    let rest = sim.customer_json(id);
    assert_eq!(rest["tax_exempt"], true);
    assert_eq!(rest["email_marketing_consent"]["state"], "subscribed");
    // Writing the state it has already makes no consent call.
    let before = sim.stats().graphql_requests;
    cs.execute(&write(
        json!({"id": id.to_string(), "email_marketing": "subscribed"}),
    ))
    .await
    .unwrap();
    assert_eq!(
        sim.stats().graphql_requests - before,
        1,
        "customerUpdate only"
    );
    // Shopify's API cannot set "not subscribed": the connector says so before calling.
    let e = cs
        .execute(&write(
            json!({"id": id.to_string(), "email_marketing": "not_subscribed"}),
        ))
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("email_marketing"), "{e}");
    // A customer without an email address cannot be given consent: Shopify's user error.
    let anon = sim
        .create_customer(CustomerFields {
            first_name: Some("Anon".into()),
            ..Default::default()
        })
        .unwrap();
    let e = cs
        .execute(&WriteCommand {
            target_id: Some(anon.to_string()),
            ..write(json!({"id": anon.to_string(), "email_marketing": "pending"}))
        })
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("email"), "{e}");
}

#[tokio::test]
async fn a_wrong_token_is_permanent() {
    let (_sim, h) = start(SimConfig::default()).await;
    let c = ShopifyClient::new(
        ShopifyConfig::new(h.base_url.clone(), VERSION, "shpat_wrong"),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let e = c
        .read_page(&Entity::Customers, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectorError::Permanent { status: 401, .. }),
        "{e:?}"
    );
    h.shutdown().await;
}

/// Real webhook bodies from the simulator (REST shape, numeric ids, `-05:00` offsets) and
/// GraphQL reads of the same state normalize to identical documents.
#[tokio::test]
async fn webhooks_and_graphql_reads_normalize_identically() {
    use weft_shopify::normalize;
    use weft_sim_shopify::{ProductEdit, Topic};

    let received: Arc<inbox::Inbox> = Arc::default();
    let inbox = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let inbox = inbox.clone();
                async move {
                    let topic = headers
                        .get("x-shopify-topic")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    inbox.push(topic, body.to_vec());
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (sim, h) = start(SimConfig::default()).await;
    for t in [
        Topic::ProductsUpdate,
        Topic::CustomersCreate,
        Topic::InventoryLevelsUpdate,
    ] {
        sim.subscribe_webhook(t, &hook_url).unwrap();
    }
    let p = sim
        .create_product(product("Lamp", &["LAMP-1", "LAMP-2"]))
        .unwrap();
    sim.edit_product(
        p.id,
        ProductEdit {
            title: Some("Desk Lamp".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let cust = sim
        .create_customer(CustomerFields {
            email: Some("lin@example.com".into()),
            first_name: Some("Lin".into()),
            tags: Some(vec!["b2b".into(), "eu".into()]),
            tax_exempt: Some(true),
            email_marketing: Some("SUBSCRIBED".into()),
            ..Default::default()
        })
        .unwrap();
    let loc = sim.location_ids()[0];
    sim.adjust_inventory(p.inventory_item_ids[1], loc, 4)
        .unwrap();
    assert!(
        sim.wait_webhooks_idle(std::time::Duration::from_secs(10))
            .await
    );

    let c = client(&h, Paging::default(), ShopifyCostLimiter::new());
    let hooks = received.take();
    let body_of = |topic: &str| {
        let (_, raw) = hooks
            .iter()
            .rev()
            .find(|(t, _)| t == topic)
            .unwrap_or_else(|| {
                panic!(
                    "no {topic} webhook in {:?}",
                    hooks.iter().map(|h| &h.0).collect::<Vec<_>>()
                )
            });
        normalize::parse_webhook_body(raw).unwrap()
    };

    let from_hook =
        normalize::from_webhook("products/update", &body_of("products/update"), None).unwrap();
    let mut from_read = c.product(&p.id.to_string()).await.unwrap().unwrap();
    // Webhook bodies carry no category, SEO fields or metafields; reads do.
    let read_body = from_read.body.as_object_mut().unwrap();
    for only_read in ["category", "seo", "metafields"] {
        assert!(read_body.remove(only_read).is_some(), "{only_read}");
    }
    assert_eq!(from_hook, from_read);
    assert_eq!(from_hook.body["title"], "Desk Lamp");

    let from_hook =
        normalize::from_webhook("customers/create", &body_of("customers/create"), None).unwrap();
    let from_read = c.read_since(&Entity::Customers, None).await.unwrap();
    assert_eq!(from_read.docs.len(), 1);
    assert_eq!(from_hook, from_read.docs[0]);
    assert_eq!(from_hook.id, cust.to_string());

    let from_hook = normalize::from_webhook(
        "inventory_levels/update",
        &body_of("inventory_levels/update"),
        Some("LAMP-2"),
    )
    .unwrap();
    let from_read = c
        .inventory_level(&p.inventory_item_ids[1].to_string(), &loc.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from_hook, from_read);
    assert_eq!(from_hook.body["available"], 11);
    h.shutdown().await;
}

/// A tiny thread-safe inbox for webhook bodies.
mod inbox {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Inbox(Mutex<Vec<(String, Vec<u8>)>>);

    impl Inbox {
        pub fn push(&self, topic: String, body: Vec<u8>) {
            self.0.lock().unwrap().push((topic, body));
        }
        pub fn take(&self) -> Vec<(String, Vec<u8>)> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }
}

/// The variants a product write must keep are read in pages of 40 (a small reservation beside
/// live writes), all of them, past the 250 a single page used to stop at.
#[tokio::test]
async fn a_product_write_reads_every_variant_it_keeps_in_small_pages() {
    let (sim, h) = start(SimConfig::default()).await;
    let skus: Vec<String> = (0..97).map(|i| format!("PG-{i:03}")).collect();
    let refs: Vec<&str> = skus.iter().map(String::as_str).collect();
    let created = sim.create_product(product("Many sizes", &refs)).unwrap();
    let c = client(&h, Paging::default(), ShopifyCostLimiter::new());
    let before = sim.stats().requests;
    let (options, variants) = c
        .product_for_set(&created.id.to_string())
        .await
        .unwrap()
        .expect("the product exists");
    assert_eq!(options.len(), 1);
    let got: Vec<&str> = variants
        .iter()
        .map(|v| v["sku"].as_str().unwrap())
        .collect();
    assert_eq!(got, refs);
    assert_eq!(
        sim.stats().requests - before,
        3,
        "97 variants in pages of 40"
    );
    assert!(
        c.product_for_set("1").await.unwrap().is_none(),
        "an unknown product is none"
    );
}
