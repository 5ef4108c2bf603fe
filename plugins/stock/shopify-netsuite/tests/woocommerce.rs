//! Native tests of the mapper's WooCommerce side through the SDK harness: products and
//! variations, stock at WooCommerce's one location, customers and orders (keys qualified with
//! the system), and writes back, echo-safe.

use serde_json::{Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn harness() -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(json!({
        "locations": {"woocommerce": "1"},
        "weft:systems": {"woocommerce": "woocommerce", "netsuite": "netsuite"},
    }))
}

fn one(
    h: &Harness<ShopifyNetsuite>,
    kind: EntityKind,
    id: &str,
    body: &Value,
) -> ToCanonicalOutcome {
    let d = PlatformDoc::from_json("woocommerce", kind, id, V, body);
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
    target_id: Option<&str>,
) -> FromCanonicalOutcome {
    h.from_canonical(vec![WriteRequest {
        deleted: false,
        target: target.into(),
        record: CanonicalRecord::new(kind, key, &fields),
        current: current.map(Value::to_string),
        target_id: target_id.map(str::to_owned),
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
    json!({"id": 12, "type": "simple", "status": "publish", "name": "Tee", "sku": "TEE",
        "description": "", "regular_price": "20.00", "sale_price": "", "parent_id": 0,
        "manage_stock": true, "stock_quantity": 7, "date_modified_gmt": "2026-11-26T10:00:00"})
}

#[test]
fn products_and_variations_map_by_sku() {
    let h = harness();
    let out = records(&one(&h, EntityKind::Product, "12", &tee()));
    assert_eq!(out[0].1, "TEE");
    assert_eq!(out[0].2["title"], "Tee");
    assert_eq!(
        out[1].2,
        json!({"sku": "TEE", "price": "20.00", "compare_at_price": null})
    );
    let variable = json!({"id": 11, "type": "variable", "sku": "", "status": "publish"});
    assert!(matches!(
        one(&h, EntityKind::Product, "11", &variable),
        ToCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn stock_is_at_the_configured_location_and_written_back_as_a_set() {
    let h = harness();
    let level = json!({"id": "12", "product_id": 12, "parent_id": 0, "sku": "TEE",
        "stock_quantity": 7, "date_modified_gmt": V});
    let out = records(&one(&h, EntityKind::InventoryLevel, "12", &level));
    assert_eq!(out[0].1, "TEE@1");
    assert_eq!(
        out[0].2,
        json!({"sku": "TEE", "location": "1", "quantity": 7})
    );
    let fields = json!({"sku": "TEE", "location": "1", "quantity": 5});
    let cmds = bodies(&write(
        &h,
        "woocommerce",
        EntityKind::InventoryLevel,
        "TEE@1",
        fields.clone(),
        Some(&level),
        None,
    ));
    assert_eq!(cmds[0].0.op, WriteOp::SetQuantity);
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("12"));
    assert_eq!(cmds[0].1, json!({"sku": "TEE", "stock_quantity": 5}));
    // Echo: WooCommerce holds it already.
    let same = json!({"sku": "TEE", "location": "1", "quantity": 7});
    assert!(
        bodies(&write(
            &h,
            "woocommerce",
            EntityKind::InventoryLevel,
            "TEE@1",
            same,
            Some(&level),
            None
        ))
        .is_empty()
    );
    // Another location is not WooCommerce's.
    let other = json!({"sku": "TEE", "location": "2", "quantity": 7});
    assert!(matches!(
        write(
            &h,
            "woocommerce",
            EntityKind::InventoryLevel,
            "TEE@2",
            other,
            None,
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn prices_write_sale_and_regular() {
    let h = harness();
    let fields = json!({"sku": "TEE", "price": "15.00", "compare_at_price": "20.00"});
    let cmds = bodies(&write(
        &h,
        "woocommerce",
        EntityKind::Price,
        "TEE",
        fields,
        Some(&tee()),
        Some("12"),
    ));
    assert_eq!(cmds[0].0.kind, EntityKind::Product);
    assert_eq!(cmds[0].1["regular_price"], "20.00");
    assert_eq!(cmds[0].1["sale_price"], "15.00");
    let echo = json!({"sku": "TEE", "price": "20.00", "compare_at_price": null});
    assert!(
        bodies(&write(
            &h,
            "woocommerce",
            EntityKind::Price,
            "TEE",
            echo,
            Some(&tee()),
            Some("12")
        ))
        .is_empty()
    );
}

#[test]
fn orders_become_sales_orders_under_qualified_keys() {
    let h = harness();
    let order = json!({"id": 40, "number": "40", "status": "processing", "currency": "USD",
        "date_created_gmt": "2026-11-26T10:00:00", "date_modified_gmt": "2026-11-26T10:00:00",
        "date_paid_gmt": "2026-11-26T10:00:00", "total": "40.00", "total_tax": "0.00",
        "shipping_total": "0.00", "discount_total": "0.00", "customer_id": 2,
        "payment_method": "bacs", "prices_include_tax": false,
        "billing": {"email": "a@example.com", "first_name": "Ann"},
        "line_items": [{"sku": "TEE", "quantity": 2, "price": 20, "subtotal": "40.00",
            "total": "40.00", "total_tax": "0.00"}]});
    let out = records(&one(&h, EntityKind::Order, "40", &order));
    assert_eq!(out[0].1, "woocommerce:40");
    assert_eq!(out[0].2["customer"], "woocommerce:2");
    let cmds = bodies(&write(
        &h,
        "netsuite",
        EntityKind::Order,
        "woocommerce:40",
        out[0].2.clone(),
        None,
        None,
    ));
    assert_eq!(
        cmds[0].0.external_id.as_deref(),
        Some("shopify-order-woocommerce_3a40")
    );
    assert_eq!(
        cmds[0].1["entity"]["externalId"],
        "shopify-customer-woocommerce_3a2"
    );
    assert_eq!(cmds[0].1["item"]["items"][0]["quantity"], 2);
    // Never written back to a storefront.
    assert!(matches!(
        write(
            &h,
            "woocommerce",
            EntityKind::Order,
            "woocommerce:40",
            out[0].2.clone(),
            None,
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn customers_round_trip_through_netsuite_and_stay_with_their_site() {
    let h = harness();
    let c = json!({"id": 2, "email": "a@example.com", "first_name": "Ann", "last_name": "Lee",
        "billing": {"phone": "555"}, "date_modified_gmt": "2026-11-26T10:00:00"});
    let out = records(&one(&h, EntityKind::Customer, "2", &c));
    assert_eq!(out[0].1, "woocommerce:2");
    let ns = json!({"id": "77", "externalId": "shopify-customer-woocommerce_3a2",
        "email": "a@example.com", "firstName": "Ann", "lastName": "Lee", "phone": "555"});
    let d = PlatformDoc::from_json("netsuite", EntityKind::Customer, "77", V, &ns);
    let back = records(&h.to_canonical(vec![d]).unwrap().remove(0));
    assert_eq!(back[0].1, "woocommerce:2");
    // WooCommerce's record leaves out what it does not map (the address book, tags, tax
    // exemption, consent: not observed); NetSuite's has none of them here.
    let mut back_fields = back[0].2.clone();
    for k in ["addresses", "tags", "tax_exempt", "email_marketing"] {
        assert!(out[0].2.get(k).is_none(), "{k}: {}", out[0].2);
        assert_eq!(
            back_fields.as_object_mut().unwrap().remove(k),
            Some(Value::Null)
        );
    }
    assert_eq!(back_fields, out[0].2);
    let mut renamed = out[0].2.clone();
    renamed["last_name"] = json!("Li");
    let cmds = bodies(&write(
        &h,
        "woocommerce",
        EntityKind::Customer,
        "woocommerce:2",
        renamed.clone(),
        Some(&c),
        Some("2"),
    ));
    assert_eq!(cmds[0].1["last_name"], "Li");
    // A Shopify shop of the same store never gets it.
    let h3 = Harness::new(ShopifyNetsuite).with_config(json!({
        "locations": {"woocommerce": "1"},
        "weft:systems": {"woocommerce": "woocommerce", "shopify": "shopify", "netsuite": "netsuite"},
    }));
    assert!(matches!(
        write(
            &h3,
            "shopify",
            EntityKind::Customer,
            "woocommerce:2",
            renamed,
            None,
            Some("2")
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

// ------------------------------------------------------------------ deletes

/// A request to remove `key` from WooCommerce (another system deleted it, policy `delete`).
fn delete(
    h: &Harness<ShopifyNetsuite>,
    kind: EntityKind,
    key: &str,
    current: Option<&Value>,
    target_id: Option<&str>,
) -> FromCanonicalOutcome {
    h.from_canonical(vec![WriteRequest {
        deleted: true,
        target: "woocommerce".into(),
        record: CanonicalRecord::new(kind, key, &json!({})),
        current: current.map(Value::to_string),
        target_id: target_id.map(str::to_owned),
    }])
    .unwrap()
    .remove(0)
}

/// The one delete command of an outcome and its body.
fn the_delete(o: &FromCanonicalOutcome, kind: EntityKind, target_id: &str) -> Value {
    let cmds = bodies(o);
    assert_eq!(cmds.len(), 1, "{o:?}");
    let (c, body) = cmds.into_iter().next().unwrap();
    assert_eq!(c.op, WriteOp::Delete);
    assert_eq!(c.kind, kind);
    assert_eq!(c.system, "woocommerce");
    assert_eq!(c.target_id.as_deref(), Some(target_id));
    assert_eq!(c.external_id, None);
    body
}

fn skipped(o: &FromCanonicalOutcome) -> &str {
    match o {
        FromCanonicalOutcome::Skipped(r) => r,
        other => panic!("expected Skipped, got {other:?}"),
    }
}

fn variation() -> Value {
    json!({"id": 31, "type": "variation", "status": "publish", "parent_id": 30, "sku": "TEE-S",
        "regular_price": "9.00", "sale_price": "", "manage_stock": true, "stock_quantity": 2,
        "date_modified_gmt": "2026-11-26T10:00:00"})
}

#[test]
fn a_deleted_variation_is_one_delete_through_its_parent() {
    let h = harness();
    let o = delete(
        &h,
        EntityKind::Variant,
        "TEE-S",
        Some(&variation()),
        Some("31"),
    );
    assert_eq!(
        the_delete(&o, EntityKind::Variant, "31"),
        json!({"sku": "TEE-S", "parent_id": 30})
    );
}

#[test]
fn a_deleted_simple_product_is_one_delete_of_the_product() {
    let h = harness();
    let o = delete(&h, EntityKind::Variant, "TEE", Some(&tee()), Some("12"));
    assert_eq!(
        the_delete(&o, EntityKind::Variant, "12"),
        json!({"sku": "TEE"})
    );
    // Without the current document: the SKU alone (the connector finds a variation's parent).
    let o = delete(&h, EntityKind::Variant, "TEE", None, Some("12"));
    assert_eq!(
        the_delete(&o, EntityKind::Variant, "12"),
        json!({"sku": "TEE"})
    );
}

#[test]
fn a_deleted_product_record_is_one_delete_of_the_product() {
    let h = harness();
    let shirt = json!({"id": 30, "type": "variable", "status": "publish", "parent_id": 0,
        "sku": "", "name": "Shirt", "date_modified_gmt": "2026-11-26T10:00:00"});
    let o = delete(&h, EntityKind::Product, "SHIRT", Some(&shirt), Some("30"));
    assert_eq!(the_delete(&o, EntityKind::Product, "30"), json!({}));
    let o = delete(&h, EntityKind::Product, "SHIRT", None, Some("30"));
    assert_eq!(the_delete(&o, EntityKind::Product, "30"), json!({}));
}

#[test]
fn a_deleted_customer_is_one_delete_of_the_customer() {
    let h = harness();
    let ann = json!({"id": 42, "email": "ann@example.com", "first_name": "Ann",
        "last_name": "Bee", "billing": {"phone": ""}, "date_modified_gmt": "2026-11-26T10:00:00"});
    let o = delete(
        &h,
        EntityKind::Customer,
        "woocommerce:42",
        Some(&ann),
        Some("42"),
    );
    assert_eq!(the_delete(&o, EntityKind::Customer, "42"), json!({}));
    let o = delete(&h, EntityKind::Customer, "woocommerce:42", None, Some("42"));
    assert_eq!(the_delete(&o, EntityKind::Customer, "42"), json!({}));
}

#[test]
fn a_delete_weft_cannot_place_safely_is_skipped() {
    let h = harness();
    // No id, or not a WooCommerce id.
    let r = skipped(&delete(&h, EntityKind::Variant, "TEE", Some(&tee()), None)).to_owned();
    assert!(r.contains("no woocommerce id"), "{r}");
    let r = skipped(&delete(
        &h,
        EntityKind::Variant,
        "TEE",
        None,
        Some("gid://x/1"),
    ))
    .to_owned();
    assert!(r.contains("not a woocommerce id"), "{r}");
    // The held document is a variable product (its variations carry the SKUs), another SKU,
    // or another record: removing it would remove something else.
    let shirt = json!({"id": 30, "type": "variable", "status": "publish", "parent_id": 0,
        "sku": "", "name": "Shirt"});
    let r = skipped(&delete(
        &h,
        EntityKind::Variant,
        "SHIRT",
        Some(&shirt),
        Some("30"),
    ))
    .to_owned();
    assert!(r.contains("variable product"), "{r}");
    let r = skipped(&delete(
        &h,
        EntityKind::Variant,
        "OTHER",
        Some(&tee()),
        Some("12"),
    ))
    .to_owned();
    assert!(r.contains("sku TEE"), "{r}");
    let r = skipped(&delete(
        &h,
        EntityKind::Variant,
        "TEE",
        Some(&tee()),
        Some("13"),
    ))
    .to_owned();
    assert!(r.contains("held as product 12"), "{r}");
    let ann = json!({"id": 42, "email": "ann@example.com"});
    let r = skipped(&delete(
        &h,
        EntityKind::Customer,
        "woocommerce:43",
        Some(&ann),
        Some("43"),
    ))
    .to_owned();
    assert!(r.contains("held as customer 42"), "{r}");
    // Kinds WooCommerce does not remove for weft.
    for kind in [EntityKind::Price, EntityKind::InventoryLevel] {
        let r = skipped(&delete(&h, kind, "TEE", Some(&tee()), Some("12"))).to_owned();
        assert!(r.contains("not"), "{r}");
    }
    let r = skipped(&delete(
        &h,
        EntityKind::Order,
        "woocommerce:40",
        None,
        Some("40"),
    ))
    .to_owned();
    assert!(r.contains("products, variations and customers only"), "{r}");
}
