//! A record the mapper cannot map is set aside, visible and retryable, while the rest of the
//! store goes on: a guest order (no customer) with no `default_customer` configured cannot
//! become a sales order; it shows up as a set-aside entry naming the record and the reason,
//! the other order syncs, and after the config is fixed a retry syncs it exactly once.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use weft_engine::{Processor, ResolverRule, System, Systems};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{NewJournalEntry, SetAsideFilter, Source, Store};

const STORE: &str = "acme";
const GUEST_ORDER: &str = "820982911946154508";
const CUSTOMER_ORDER: &str = "820982911946154509";

fn stock(runtime: &Runtime, name: &str) -> Arc<weft_runtime::Plugin> {
    let bytes = weft_plugin_artifacts::stock(name).expect("stock plugin is embedded");
    runtime.load(name, bytes).unwrap()
}

/// The store's two systems, offline (the step only plans).
fn systems() -> Systems {
    Systems::new(vec![
        System {
            name: "shopify".into(),
            platform: Arc::new(weft_shopify::Shopify),
            connection: None,
        },
        System {
            name: "netsuite".into(),
            platform: Arc::new(weft_netsuite::NetSuite),
            connection: None,
        },
    ])
}

/// A processor with `mapper` and `resolvers` (field pattern, stock resolver name), configured
/// with `config`.
fn processor_with(
    db: &Store,
    runtime: &Runtime,
    mapper: &Arc<weft_runtime::Plugin>,
    resolvers: &[(&str, &str)],
    config: Value,
) -> Processor {
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: config.as_object().cloned().unwrap(),
        limits: Limits::default(),
    };
    let rules = resolvers
        .iter()
        .map(|(pattern, name)| ResolverRule {
            pattern: (*pattern).into(),
            resolver: runtime
                .resolver(&stock(runtime, name), ctx.clone())
                .unwrap(),
        })
        .collect();
    let mapper = runtime.mapper(mapper, ctx).unwrap();
    Processor::new(STORE, db.clone(), systems(), mapper, rules)
}

/// The stock mapper and the system-of-record resolver.
fn processor(db: &Store, runtime: &Runtime, config: Value) -> Processor {
    let mapper = stock(runtime, "shopify-netsuite");
    processor_with(db, runtime, &mapper, &[("*", "system-of-record")], config)
}

async fn open(dir: &tempfile::TempDir) -> (Store, Runtime) {
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("weft.db").display()
    ))
    .await
    .unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    (db, runtime)
}

fn order(id: &str, customer: Value) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "shopify".into(),
        kind: "order".into(),
        entity_id: id.into(),
        version: "2026-11-26T10:00:00Z".into(),
        source: Source::Webhook,
        delivery_id: Some(format!("order-{id}")),
        body: json!({
            "id": id, "name": format!("#{id}"), "email": "ada@example.com",
            "created_at": "2026-11-26T09:59:00Z", "updated_at": "2026-11-26T10:00:00Z",
            "customer": customer,
            "line_items": [{"id": "1", "sku": "LS-S-WH", "quantity": 2, "price": "49.00",
                            "variant_id": "4400000000000000001",
                            "product_id": "8812345678901234567"}],
            "total_price": "98.00", "currency": "EUR", "financial_status": "paid",
            "cancelled_at": null
        }),
        received_at: Utc::now(),
    }
}

/// Sales order writes queued for Shopify order `id`.
async fn sales_orders(db: &Store, id: &str) -> usize {
    db.list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.system == "netsuite" && r.kind == "order" && r.key == id)
        .count()
}

#[tokio::test]
async fn a_refused_order_is_set_aside_and_a_retry_after_the_fix_syncs_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let broken = processor(&db, &runtime, json!({ "owners": { "*": "netsuite" } }));
    db.append(order(GUEST_ORDER, Value::Null)).await.unwrap();
    db.append(order(
        CUSTOMER_ORDER,
        json!({"id": "7000000000000000001", "email": "ada@example.com",
               "first_name": "Ada", "last_name": "Lovelace"}),
    ))
    .await
    .unwrap();

    let report = broken.step(100).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    // The rest of the store went on: the other order is queued, the cursor moved past both.
    assert_eq!(sales_orders(&db, CUSTOMER_ORDER).await, 1);
    assert_eq!(sales_orders(&db, GUEST_ORDER).await, 0);
    assert_eq!(db.cursor(STORE).await.unwrap(), report.cursor);
    // The refused one is visible, naming the record, the plugin and the reason.
    let aside = db
        .list_set_aside(&SetAsideFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let (store, a) = &aside[0];
    assert_eq!(store, STORE);
    assert_eq!(
        (
            a.stage.as_str(),
            a.target.as_str(),
            a.kind.as_str(),
            a.entity_id.as_str()
        ),
        ("from-canonical", "netsuite", "order", GUEST_ORDER)
    );
    assert!(a.reason.contains("shopify-netsuite"), "{}", a.reason);
    assert!(a.reason.contains("default_customer"), "{}", a.reason);
    assert_eq!(db.status(STORE).await.unwrap().set_aside, 1);
    // It is not retried on its own.
    broken.step(100).await.unwrap();
    assert_eq!(sales_orders(&db, GUEST_ORDER).await, 0);

    // The config is fixed; the operator retries: it syncs, once.
    let fixed = processor(
        &db,
        &runtime,
        json!({ "owners": { "*": "netsuite" }, "default_customer": "42" }),
    );
    let queued = db
        .retry_set_aside(
            &SetAsideFilter {
                store: Some(STORE.into()),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let report = fixed.step(100).await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(sales_orders(&db, GUEST_ORDER).await, 1);
    assert!(
        db.list_set_aside(&SetAsideFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.status(STORE).await.unwrap().set_aside, 0);
    // Nothing is left to retry, and more steps queue nothing again.
    assert_eq!(
        db.retry_set_aside(&SetAsideFilter::default(), Utc::now())
            .await
            .unwrap(),
        0
    );
    fixed.step(100).await.unwrap();
    assert_eq!(sales_orders(&db, GUEST_ORDER).await, 1);
    assert_eq!(sales_orders(&db, CUSTOMER_ORDER).await, 1);
}

fn item(id: &str, sku: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "netsuite".into(),
        kind: "variant".into(),
        entity_id: id.into(),
        version: "2026-11-26T10:00:00Z".into(),
        source: Source::Cdc,
        delivery_id: None,
        body: json!({
            "id": id, "itemId": sku, "displayName": format!("Product {sku}"),
            "basePrice": 12.5, "isInactive": false,
            "lastModifiedDate": "2026-11-26T10:00:00Z",
        }),
        received_at: Utc::now(),
    }
}

/// Writes queued to Shopify for SKU `sku` (any kind).
async fn shopify_writes(db: &Store, sku: &str) -> usize {
    db.list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.system == "shopify" && r.key.starts_with(sku))
        .count()
}

#[tokio::test]
async fn a_mapper_that_traps_on_one_item_stops_only_that_item_until_it_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let config = json!({ "owners": { "*": "netsuite" } });
    // The same store with the panicky mapper: it traps on any batch holding the marked item.
    let panicky = {
        let bytes = std::fs::read(weft_plugin_artifacts::TESTING_PANICKY_MAPPER).unwrap();
        let plugin = runtime.load("panicky", &bytes).unwrap();
        processor_with(
            &db,
            &runtime,
            &plugin,
            &[("*", "system-of-record")],
            config.clone(),
        )
    };
    for (id, sku) in [("1", "ITEM-1"), ("2", "ITEM-PANIC-2"), ("3", "ITEM-3")] {
        db.append(item(id, sku)).await.unwrap();
    }
    let report = panicky.step(100).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(report.mapped, 2, "{report:?}");
    assert!(shopify_writes(&db, "ITEM-1").await > 0);
    assert!(shopify_writes(&db, "ITEM-3").await > 0);
    assert_eq!(shopify_writes(&db, "ITEM-PANIC-2").await, 0);
    let aside = db
        .list_set_aside(&SetAsideFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let a = &aside[0].1;
    assert_eq!(
        (a.stage.as_str(), a.system.as_str(), a.entity_id.as_str()),
        ("to-canonical", "netsuite", "2")
    );
    assert!(a.reason.contains("panicky"), "{}", a.reason);

    // The plugin is replaced by the stock mapper; the operator retries.
    let fixed = processor(&db, &runtime, config);
    assert_eq!(
        db.retry_set_aside(&SetAsideFilter::default(), Utc::now())
            .await
            .unwrap(),
        1
    );
    let report = fixed.step(100).await.unwrap();
    assert_eq!((report.failed, report.mapped), (0, 1), "{report:?}");
    assert!(shopify_writes(&db, "ITEM-PANIC-2").await > 0);
    assert_eq!(db.status(STORE).await.unwrap().set_aside, 0);
}

fn shopify_product(price: &str, version: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: "8812345678901234567".into(),
        version: version.into(),
        source: Source::Webhook,
        delivery_id: None,
        body: json!({
            "id": "8812345678901234567", "title": "Linen Shirt", "body_html": "<p>Linen.</p>",
            "vendor": "Acme", "product_type": "Shirts", "handle": "linen-shirt",
            "status": "active", "tags": "", "updated_at": version,
            "variants": [{"id": "4400000000000000001", "product_id": "8812345678901234567",
                          "title": "S", "sku": "LS-S", "price": price, "compare_at_price": null,
                          "barcode": null, "inventory_item_id": "5500000000000000001",
                          "updated_at": version}]
        }),
        received_at: Utc::now(),
    }
}

fn netsuite_item(price: f64, version: &str) -> NewJournalEntry {
    let mut e = item("7", "LS-S");
    e.version = version.into();
    e.body["basePrice"] = json!(price);
    e.body["lastModifiedDate"] = json!(version);
    e
}

#[tokio::test]
async fn a_conflict_no_resolver_can_settle_is_set_aside_not_a_stuck_store() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    // Only stock quantities have a resolver: a price conflict has none.
    let p = processor_with(
        &db,
        &runtime,
        &stock(&runtime, "shopify-netsuite"),
        &[("inventory-level.quantity", "counter-merge")],
        json!({ "owners": { "*": "netsuite" } }),
    );
    // Both sides agree on 12.50; then both change it from there: a conflict.
    db.append(netsuite_item(12.5, "2026-11-26T10:00:00Z"))
        .await
        .unwrap();
    db.append(shopify_product("12.50", "2026-11-26T10:00:00Z"))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    db.append(netsuite_item(13.0, "2026-11-26T10:01:00Z"))
        .await
        .unwrap();
    db.append(shopify_product("14.00", "2026-11-26T10:01:00Z"))
        .await
        .unwrap();
    // An unrelated record still syncs in the same step.
    db.append(item("8", "OTHER-1")).await.unwrap();
    let report = p.step(100).await.unwrap();
    assert!(report.failed >= 1, "{report:?}");
    assert_eq!(
        db.cursor(STORE).await.unwrap(),
        report.cursor,
        "the store went on"
    );
    assert!(shopify_writes(&db, "OTHER-1").await > 0);
    let aside = db
        .list_set_aside(&SetAsideFilter::default(), 10)
        .await
        .unwrap();
    assert!(
        aside
            .iter()
            .any(|(_, a)| a.stage == "resolve" && a.reason.contains("no resolver rule")),
        "{aside:?}"
    );
}

/// A hint (a thin webhook naming an entity, journaled under `HINT_KIND`) is never mapped: the
/// step passes over it without a failure, a set-aside entry or a write, and the cursor moves on.
#[tokio::test]
async fn a_hint_is_passed_over_not_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let (db, runtime) = open(&dir).await;
    let p = processor(&db, &runtime, json!({ "owners": { "*": "netsuite" } }));
    db.append(NewJournalEntry {
        store_id: STORE.into(),
        system: "shopify".into(),
        kind: weft_platform::webhook::HINT_KIND.into(),
        entity_id: "product:111".into(),
        version: "2026-11-26T10:00:00Z".into(),
        source: Source::Webhook,
        delivery_id: Some("hint-1".into()),
        body: json!({"scope": "store/product/updated", "data": {"type": "product", "id": 111}}),
        received_at: Utc::now(),
    })
    .await
    .unwrap();
    let report = p.step(100).await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(db.cursor(STORE).await.unwrap(), report.cursor);
    assert!(report.cursor > 0);
    assert!(
        db.list_set_aside(&SetAsideFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.list_outbox(Some(STORE), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
