//! Native tests of the mapper's Magento side through the SDK harness: simple products with a
//! special price, stock per MSI source (`locations` keyed `"<system>:<source>"`), customers
//! and orders from Magento (keys qualified with the system), and writes back, echo-safe.

use serde_json::{Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-01-15T12:00:05Z";

fn harness() -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(json!({
        "locations": {"magento:default": "1", "magento:wh2": "2"},
        "weft:systems": {"magento": "magento", "netsuite": "netsuite"},
    }))
}

fn one(
    h: &Harness<ShopifyNetsuite>,
    kind: EntityKind,
    id: &str,
    body: &Value,
) -> ToCanonicalOutcome {
    let d = PlatformDoc::from_json("magento", kind, id, V, body);
    h.to_canonical(vec![d]).unwrap().remove(0)
}

fn records(o: &ToCanonicalOutcome) -> Vec<(EntityKind, String, Value)> {
    match o {
        ToCanonicalOutcome::Mapped(rs) => rs
            .iter()
            .map(|r| {
                (
                    r.kind,
                    r.key.clone(),
                    serde_json::from_str(&r.fields).unwrap(),
                )
            })
            .collect(),
        other => panic!("expected Mapped, got {other:?}"),
    }
}

fn write(
    h: &Harness<ShopifyNetsuite>,
    target: &str,
    kind: EntityKind,
    key: &str,
    fields: Value,
    current: Option<&Value>,
) -> FromCanonicalOutcome {
    h.from_canonical(vec![WriteRequest {
        deleted: false,
        target: target.into(),
        record: CanonicalRecord::new(kind, key, &fields),
        current: current.map(Value::to_string),
        target_id: None,
    }])
    .unwrap()
    .remove(0)
}

fn bodies(o: &FromCanonicalOutcome) -> Vec<(WriteCommand, Value)> {
    match o {
        FromCanonicalOutcome::Commands(cs) => cs
            .iter()
            .map(|c| (c.clone(), serde_json::from_str(&c.body).unwrap()))
            .collect(),
        other => panic!("expected Commands, got {other:?}"),
    }
}

fn tee() -> Value {
    json!({"id": "5", "sku": "TEE", "name": "Tee", "price": 20, "status": 1,
        "type_id": "simple", "updated_at": V, "custom_attributes": []})
}

#[test]
fn products_map_by_sku_with_their_price() {
    let h = harness();
    let out = records(&one(&h, EntityKind::Product, "5", &tee()));
    assert_eq!(
        (out[0].1.as_str(), &out[0].2["title"]),
        ("TEE", &json!("Tee"))
    );
    assert_eq!(
        out[1].2,
        json!({"sku": "TEE", "price": "20.00", "compare_at_price": null})
    );
    // A new price from NetSuite: a product save by SKU, the special price cleared.
    let cmds = bodies(&write(
        &h,
        "magento",
        EntityKind::Price,
        "TEE",
        json!({"sku": "TEE", "price": "22.00", "compare_at_price": null}),
        Some(&tee()),
    ));
    assert_eq!(cmds[0].0.kind, EntityKind::Product);
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("5"));
    assert_eq!(cmds[0].1["sku"], "TEE");
    assert_eq!(cmds[0].1["price"], 22.0);
    // Echo: Magento holds it.
    let echo = json!({"sku": "TEE", "price": "20.00", "compare_at_price": null});
    assert!(
        bodies(&write(
            &h,
            "magento",
            EntityKind::Price,
            "TEE",
            echo,
            Some(&tee())
        ))
        .is_empty()
    );
    // A product NetSuite has and Magento does not: created with what Magento requires.
    let new = bodies(&write(
        &h,
        "magento",
        EntityKind::Variant,
        "CAP",
        json!({"sku": "CAP", "title": "Cap", "active": true}),
        None,
    ));
    assert_eq!(new[0].1["type_id"], "simple");
    assert_eq!(new[0].1["name"], "Cap");
    assert_eq!(new[0].1["attribute_set_id"], 4);
}

#[test]
fn stock_is_per_source_and_written_back_as_a_set() {
    let h = harness();
    let level = json!({"id": "TEE@wh2", "sku": "TEE", "source_code": "wh2", "available": 7,
        "status": 1, "updated_at": V});
    let out = records(&one(&h, EntityKind::InventoryLevel, "TEE@wh2", &level));
    assert_eq!(out[0].1, "TEE@2");
    assert_eq!(
        out[0].2,
        json!({"sku": "TEE", "location": "2", "quantity": 7})
    );
    let cmds = bodies(&write(
        &h,
        "magento",
        EntityKind::InventoryLevel,
        "TEE@2",
        json!({"sku": "TEE", "location": "2", "quantity": 4}),
        Some(&level),
    ));
    assert_eq!(cmds[0].0.op, WriteOp::SetQuantity);
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("TEE@wh2"));
    assert_eq!(
        cmds[0].1,
        json!({"sku": "TEE", "source_code": "wh2", "available": 4})
    );
    let same = json!({"sku": "TEE", "location": "2", "quantity": 7});
    assert!(
        bodies(&write(
            &h,
            "magento",
            EntityKind::InventoryLevel,
            "TEE@2",
            same,
            Some(&level)
        ))
        .is_empty()
    );
    // A source the config does not map is not synced; a location of no source is not written.
    let popup = json!({"id": "TEE@popup", "sku": "TEE", "source_code": "popup", "available": 1});
    assert!(matches!(
        one(&h, EntityKind::InventoryLevel, "TEE@popup", &popup),
        ToCanonicalOutcome::Skipped(_)
    ));
    let other = json!({"sku": "TEE", "location": "9", "quantity": 1});
    assert!(matches!(
        write(
            &h,
            "magento",
            EntityKind::InventoryLevel,
            "TEE@9",
            other,
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn orders_become_sales_orders_under_qualified_keys() {
    let h = harness();
    let order = json!({"id": "7", "entity_id": 7, "increment_id": "000000007", "state": "new",
        "customer_id": "3", "customer_email": "ann@example.com", "order_currency_code": "USD",
        "subtotal": 31, "grand_total": 31, "created_at": "2026-01-15 12:00:05",
        "updated_at": V, "items": [{"sku": "TEE", "qty_ordered": 2, "price": 15.5, "row_total": 31}]});
    let out = records(&one(&h, EntityKind::Order, "7", &order));
    assert_eq!(out[0].1, "magento:7");
    assert_eq!(out[0].2["customer"], "magento:3");
    assert_eq!(out[0].2["location"], "1", "the default source's location");
    let cmds = bodies(&write(
        &h,
        "netsuite",
        EntityKind::Order,
        "magento:7",
        out[0].2.clone(),
        None,
    ));
    assert_eq!(
        cmds[0].0.external_id.as_deref(),
        Some("shopify-order-magento_3a7")
    );
    assert_eq!(cmds[0].1["item"]["items"][0]["quantity"], 2);
    assert!(matches!(
        write(
            &h,
            "magento",
            EntityKind::Order,
            "magento:7",
            out[0].2.clone(),
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
    let c = json!({"id": "3", "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee",
        "addresses": [{"telephone": "555"}], "updated_at": V});
    let cust = records(&one(&h, EntityKind::Customer, "3", &c));
    assert_eq!(cust[0].1, "magento:3");
    assert_eq!(cust[0].2["phone"], "555");
    // Echo: Magento holds it, nothing is written.
    assert!(
        bodies(&write(
            &h,
            "magento",
            EntityKind::Customer,
            "magento:3",
            cust[0].2.clone(),
            Some(&c)
        ))
        .is_empty()
    );
}

#[test]
fn existing_customers_are_saved_whole_with_the_telephone_on_their_address() {
    let h = harness();
    let c = json!({"id": "3", "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee",
        "website_id": 1, "updated_at": V,
        "addresses": [{"id": 9, "city": "Austin", "telephone": "555"}, {"id": 10, "city": "Rome"}]});
    let want = json!({"email": "ann@example.com", "first_name": "Annie", "last_name": "Lee",
        "phone": "777"});
    let cmds = bodies(&write(
        &h,
        "magento",
        EntityKind::Customer,
        "magento:3",
        want.clone(),
        Some(&c),
    ));
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].0.kind, EntityKind::Customer);
    assert_eq!(cmds[0].0.op, WriteOp::Upsert);
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("3"));
    assert_eq!(
        cmds[0].1,
        json!({"email": "ann@example.com", "firstname": "Annie", "lastname": "Lee",
            "website_id": 1, "addresses": [{"id": 9, "city": "Austin", "telephone": "777"},
            {"id": 10, "city": "Rome"}]})
    );
    // Only a name: the addresses are left out (Magento keeps them).
    let cmds = bodies(&write(
        &h,
        "magento",
        EntityKind::Customer,
        "magento:3",
        json!({"email": "ann@example.com", "first_name": "Annie", "last_name": "Lee",
            "phone": "555"}),
        Some(&c),
    ));
    assert!(cmds[0].1.get("addresses").is_none(), "{:?}", cmds[0].1);
    // A customer Magento does not have is not created.
    assert!(matches!(
        write(&h, "magento", EntityKind::Customer, "magento:4", want, None),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn the_description_is_the_description_attribute_both_ways() {
    let h = harness();
    let mut p = tee();
    p["custom_attributes"] = json!([{"attribute_code": "description", "value": "<p>Soft.</p>"}]);
    let out = records(&one(&h, EntityKind::Product, "5", &p));
    assert_eq!(out[0].2["description"], "<p>Soft.</p>");
    // Empty is none.
    let out = records(&one(&h, EntityKind::Product, "5", &tee()));
    assert!(out[0].2["description"].is_null(), "{:?}", out[0].2);
    // NetSuite's new description: a product save carrying the attribute.
    let want =
        json!({"sku": "TEE", "title": "Tee", "description": "<p>Softer.</p>", "active": true});
    let cmds = bodies(&write(
        &h,
        "magento",
        EntityKind::Variant,
        "TEE",
        want,
        Some(&p),
    ));
    assert_eq!(
        cmds[0].1["custom_attributes"],
        json!([{"attribute_code": "description", "value": "<p>Softer.</p>"}])
    );
    // Echo: Magento holds it.
    let same = json!({"sku": "TEE", "title": "Tee", "description": "<p>Soft.</p>", "active": true});
    assert!(
        bodies(&write(
            &h,
            "magento",
            EntityKind::Variant,
            "TEE",
            same,
            Some(&p)
        ))
        .is_empty()
    );
}

fn delete_req(
    h: &Harness<ShopifyNetsuite>,
    kind: EntityKind,
    key: &str,
    fields: Value,
    current: Option<&Value>,
    target_id: Option<&str>,
) -> FromCanonicalOutcome {
    h.from_canonical(vec![WriteRequest {
        deleted: true,
        target: "magento".into(),
        record: CanonicalRecord::new(kind, key, &fields),
        current: current.map(Value::to_string),
        target_id: target_id.map(str::to_owned),
    }])
    .unwrap()
    .remove(0)
}

fn skipped(o: &FromCanonicalOutcome) -> &str {
    match o {
        FromCanonicalOutcome::Skipped(why) => why,
        other => panic!("expected Skipped, got {other:?}"),
    }
}

#[test]
fn a_deleted_variant_is_one_delete_of_its_simple_product_by_id_naming_its_sku() {
    let h = harness();
    let fields = json!({"sku": "TEE", "title": "Tee", "active": true});
    let out = delete_req(
        &h,
        EntityKind::Variant,
        "TEE",
        fields.clone(),
        Some(&tee()),
        Some("5"),
    );
    let cmds = bodies(&out);
    assert_eq!(cmds.len(), 1);
    let (c, body) = &cmds[0];
    assert_eq!(c.system, "magento");
    assert_eq!(c.kind, EntityKind::Variant);
    assert_eq!(c.op, WriteOp::Delete);
    assert_eq!(c.target_id.as_deref(), Some("5"));
    assert_eq!(c.external_id, None);
    assert_eq!(body, &json!({"sku": "TEE"}));
    // The SKU Magento holds, when it differs from the record's key (renamed there).
    let renamed = json!({"id": "5", "sku": "TEE-OLD", "name": "Tee", "price": 20,
        "status": 1, "updated_at": V});
    let out = delete_req(
        &h,
        EntityKind::Variant,
        "TEE",
        fields.clone(),
        Some(&renamed),
        Some("5"),
    );
    assert_eq!(bodies(&out)[0].1, json!({"sku": "TEE-OLD"}));
    // No current document: the record's key names it; the id is what the connector needs.
    let out = delete_req(
        &h,
        EntityKind::Variant,
        "TEE",
        fields.clone(),
        None,
        Some("5"),
    );
    let cmds = bodies(&out);
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("5"));
    assert_eq!(cmds[0].1, json!({"sku": "TEE"}));
    // Not deleted: the same request is a save, never a delete.
    let out = write(
        &h,
        "magento",
        EntityKind::Variant,
        "TEE",
        fields,
        Some(&tee()),
    );
    assert!(
        match &out {
            FromCanonicalOutcome::Commands(cs) => cs.iter().all(|c| c.op != WriteOp::Delete),
            _ => true,
        },
        "{out:?}"
    );
}

#[test]
fn a_deleted_customer_is_one_delete_by_id_with_an_empty_body() {
    let h = harness();
    let ann = json!({"id": "3", "email": "ann@example.com", "firstname": "Ann",
        "lastname": "Lee", "website_id": 1, "addresses": [], "updated_at": V});
    let fields = json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"});
    let out = delete_req(
        &h,
        EntityKind::Customer,
        "magento:3",
        fields.clone(),
        Some(&ann),
        Some("3"),
    );
    let cmds = bodies(&out);
    assert_eq!(cmds.len(), 1);
    let (c, body) = &cmds[0];
    assert_eq!(
        (c.kind, c.op, c.target_id.as_deref()),
        (EntityKind::Customer, WriteOp::Delete, Some("3"))
    );
    assert_eq!(body, &json!({}));
    // Without the current document too: the id is all Magento needs.
    let out = delete_req(
        &h,
        EntityKind::Customer,
        "magento:3",
        fields,
        None,
        Some("3"),
    );
    assert_eq!(bodies(&out).len(), 1);
}

#[test]
fn deletes_magento_cannot_make_are_skipped_with_the_reason() {
    let h = harness();
    let fields = json!({"sku": "TEE", "title": "Tee", "active": true});
    // No Magento id known, or one that is not a Magento id.
    let why = delete_req(&h, EntityKind::Variant, "TEE", fields.clone(), None, None);
    assert!(skipped(&why).contains("no magento product id"), "{why:?}");
    let why = delete_req(
        &h,
        EntityKind::Variant,
        "TEE",
        fields.clone(),
        Some(&tee()),
        Some("TEE"),
    );
    assert!(
        skipped(&why).contains("not a magento product id"),
        "{why:?}"
    );
    let why = delete_req(
        &h,
        EntityKind::Customer,
        "magento:3",
        json!({"email": "ann@example.com"}),
        None,
        Some("ann@example.com"),
    );
    assert!(
        skipped(&why).contains("not a magento customer id"),
        "{why:?}"
    );
    // Canonical products: this mapping keeps none in Magento.
    let why = delete_req(
        &h,
        EntityKind::Product,
        "FAM-1",
        json!({"title": "Tee"}),
        None,
        Some("5"),
    );
    assert!(skipped(&why).contains("no canonical products"), "{why:?}");
    // What lives on a variant goes with it.
    for (kind, key) in [
        (EntityKind::Price, "TEE"),
        (EntityKind::InventoryLevel, "TEE@1"),
    ] {
        let why = delete_req(&h, kind, key, json!({}), None, Some("TEE@default"));
        assert!(
            skipped(&why).contains("not removed from magento"),
            "{why:?}"
        );
    }
}
