//! A mapper that maps a field the store's records predate (a golden record and last-known
//! states written by an older mapper): the side that first shows the field without a value
//! does not make weft write a removal over the value another system holds; that system's value
//! is taken when it is next observed, and reaches the first side.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use weft_engine::{Processor, System, Systems};
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};
use weft_store::{GoldenUpsert, NewJournalEntry, Source, StepCommit, Store, TargetStateUpsert};

const STORE: &str = "acme";
const SKU: &str = "LS-S";

fn processor(db: &Store, runtime: &Runtime) -> Processor {
    let ctx = StoreCtx {
        store_id: STORE.into(),
        config: json!({"weft:systems": {"shopify": "shopify", "netsuite": "netsuite"}})
            .as_object()
            .cloned()
            .unwrap(),
        limits: Limits::default(),
    };
    let bytes = weft_plugin_artifacts::stock("shopify-netsuite").expect("embedded");
    let mapper = runtime
        .mapper(&runtime.load("shopify-netsuite", bytes).unwrap(), ctx)
        .unwrap();
    let systems = Systems::new(vec![
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
    ]);
    Processor::new(STORE, db.clone(), systems, mapper, Vec::new())
}

/// A Shopify product read by GraphQL (so it carries `seo`).
fn shop_product(seo_title: Value, version: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "shopify".into(),
        kind: "product".into(),
        entity_id: "88".into(),
        version: version.into(),
        source: Source::Poll,
        delivery_id: None,
        body: json!({
            "id": "88", "title": "Linen Shirt", "body_html": null, "vendor": "Acme",
            "product_type": null, "handle": "linen-shirt", "status": "active", "tags": "",
            "updated_at": version, "options": [], "images": [],
            "seo": {"title": seo_title, "description": null},
            "variants": [{"id": "44", "product_id": "88", "title": "S", "sku": SKU,
                          "price": "49.00", "compare_at_price": null, "barcode": null,
                          "inventory_item_id": "55", "updated_at": version,
                          "option1": null, "option2": null, "option3": null,
                          "weight": null, "weight_unit": null}]
        }),
        received_at: Utc::now(),
    }
}

fn erp_item(version: &str) -> NewJournalEntry {
    NewJournalEntry {
        store_id: STORE.into(),
        system: "netsuite".into(),
        kind: "variant".into(),
        entity_id: "7".into(),
        version: version.into(),
        source: Source::Cdc,
        delivery_id: None,
        body: json!({
            "id": "7", "externalId": "item-LS-S", "itemId": SKU, "displayName": "Linen Shirt",
            "vendorName": "Acme", "basePrice": 49.0, "isInactive": false,
            "pageTitle": "Linen shirts for summer", "lastModifiedDate": version,
        }),
        received_at: Utc::now(),
    }
}

/// The command bodies of the outbox rows for the SKU's variant to `system`.
async fn variant_writes(db: &Store, system: &str) -> Vec<Value> {
    db.list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.system == system && r.key == SKU && r.kind == "variant")
        .map(|r| r.body["body"].clone())
        .collect()
}

const SEO: [&str; 2] = ["seo_title", "seo_description"];

#[tokio::test]
async fn a_side_without_a_value_for_a_new_field_does_not_clear_the_other_sides() {
    let dir = tempfile::tempdir().unwrap();
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
    let p = processor(&db, &runtime);
    // Both systems agree; NetSuite holds an SEO title, Shopify none yet... as a store synced by
    // an older mapper: its golden record and last-known states have no SEO fields.
    db.append(erp_item("2026-11-26T10:00:00Z")).await.unwrap();
    db.append(shop_product(
        json!("Linen shirts for summer"),
        "2026-11-26T10:00:00Z",
    ))
    .await
    .unwrap();
    p.step(100).await.unwrap();
    let mut downgrade = StepCommit::new(STORE, Utc::now());
    let mut golden = db.golden(STORE, "variant", SKU).await.unwrap().unwrap();
    for f in SEO {
        golden.fields.as_object_mut().unwrap().remove(f);
    }
    downgrade.golden.push(GoldenUpsert {
        kind: "variant".into(),
        key: SKU.into(),
        fields: golden.fields.clone(),
        field_meta: golden.field_meta.clone(),
    });
    for system in ["shopify", "netsuite"] {
        let mut held = db
            .target_state(STORE, system, "variant", SKU)
            .await
            .unwrap()
            .unwrap()
            .fields;
        for f in SEO {
            held.as_object_mut().unwrap().remove(f);
        }
        downgrade.target_states.push(TargetStateUpsert {
            system: system.into(),
            kind: "variant".into(),
            key: SKU.into(),
            fields: held,
        });
    }
    db.commit_step(&downgrade).await.unwrap();
    let before = variant_writes(&db, "netsuite").await.len();

    // Shopify, read afresh, has no SEO title (its editor cleared it before the upgrade, say):
    // no value to agree on, so NetSuite's title is not cleared.
    db.append(shop_product(Value::Null, "2026-11-26T10:05:00Z"))
        .await
        .unwrap();
    p.step(100).await.unwrap();
    let writes = variant_writes(&db, "netsuite").await;
    assert!(writes.iter().all(Value::is_object), "{writes:?}");
    assert!(
        writes[before..]
            .iter()
            .all(|b| b.get("pageTitle").is_none()),
        "a removal was written over NetSuite's SEO title: {writes:?}"
    );
    let golden = db.golden(STORE, "variant", SKU).await.unwrap().unwrap();
    assert!(
        golden.fields.get("seo_title").is_none(),
        "{}",
        golden.fields
    );

    // NetSuite's next observation brings its title into the record and on to Shopify.
    db.append(erp_item("2026-11-26T10:10:00Z")).await.unwrap();
    p.step(100).await.unwrap();
    let golden = db.golden(STORE, "variant", SKU).await.unwrap().unwrap();
    assert_eq!(golden.fields["seo_title"], "Linen shirts for summer");
    let shop = db
        .list_outbox(Some(STORE), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.system == "shopify" && r.key == SKU && r.kind == "variant")
        .map(|r| r.body["body"].clone())
        .collect::<Vec<_>>();
    assert_eq!(
        shop.last().unwrap()["seo"]["title"],
        "Linen shirts for summer",
        "{shop:?}"
    );
}
