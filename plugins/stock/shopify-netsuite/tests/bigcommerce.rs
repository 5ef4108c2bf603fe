//! Native tests of the mapper's BigCommerce side through the SDK harness: products with their
//! variants, stock per inventory location, customers and orders (keys qualified with the
//! system), and writes back, echo-safe.

use serde_json::{Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn harness() -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(json!({
        "locations": {"1": "1", "bigcommerce:2": "2"},
        "weft:systems": {"bigcommerce": "bigcommerce", "netsuite": "netsuite"},
    }))
}

fn one(
    h: &Harness<ShopifyNetsuite>,
    kind: EntityKind,
    id: &str,
    body: &Value,
) -> ToCanonicalOutcome {
    let d = PlatformDoc::from_json("bigcommerce", kind, id, V, body);
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

fn shirt() -> Value {
    json!({"id": "111", "name": "Shirt", "type": "physical", "sku": "SHIRT", "price": 18.0,
        "calculated_price": 18.0, "is_visible": true, "base_variant_id": "70",
        "inventory_tracking": "variant", "date_modified": V,
        "variants": [
            {"id": "70", "product_id": "111", "sku": "SHIRT", "price": null, "calculated_price": 18.0},
            {"id": "71", "product_id": "111", "sku": "SHIRT-S", "price": null, "calculated_price": 18.0},
            {"id": "72", "product_id": "111", "sku": "SHIRT-M", "price": 21.5, "calculated_price": 21.5}]})
}

fn mug() -> Value {
    json!({"id": "112", "name": "Mug", "type": "physical", "sku": "MUG", "price": 8.0,
        "calculated_price": 8.0, "is_visible": true, "base_variant_id": "73",
        "date_modified": V,
        "variants": [{"id": "73", "product_id": "112", "sku": "MUG", "price": null,
            "calculated_price": 8.0}]})
}

#[test]
fn variants_map_by_sku_and_the_base_of_a_product_with_options_does_not() {
    let h = harness();
    let out = records(&one(&h, EntityKind::Product, "111", &shirt()));
    let keys: Vec<_> = out.iter().map(|r| (r.0, r.1.as_str())).collect();
    assert_eq!(
        keys,
        [
            (EntityKind::Variant, "SHIRT-S"),
            (EntityKind::Price, "SHIRT-S"),
            (EntityKind::Variant, "SHIRT-M"),
            (EntityKind::Price, "SHIRT-M"),
        ]
    );
    assert_eq!(
        out[0].2,
        json!({"sku": "SHIRT-S", "title": "Shirt", "active": true})
    );
    assert_eq!(out[1].2, json!({"sku": "SHIRT-S", "price": "18.00"}));
    assert_eq!(out[3].2, json!({"sku": "SHIRT-M", "price": "21.50"}));
    let out = records(&one(&h, EntityKind::Product, "112", &mug()));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].1, "MUG");
}

#[test]
fn netsuite_items_write_products_and_prices_echo_safe() {
    let h = harness();
    // A new item: a simple product, created with what BigCommerce requires.
    let v = json!({"sku": "CAP", "title": "Cap", "description": "<p>Hat.</p>", "vendor": null,
        "barcode": null, "active": true});
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::Variant,
        "CAP",
        v,
        None,
        None,
    ));
    assert_eq!(cmds[0].0.kind, EntityKind::Product);
    assert_eq!(cmds[0].0.target_id, None);
    assert_eq!(
        cmds[0].1,
        json!({"name": "Cap", "is_visible": true, "sku": "CAP", "type": "physical",
            "price": 0, "weight": 0, "inventory_tracking": "product"})
    );
    // A renamed item renames its product; the same name is an echo.
    let v = json!({"sku": "MUG", "title": "Big mug", "active": true});
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::Variant,
        "MUG",
        v,
        Some(&mug()),
        Some("112"),
    ));
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("112"));
    assert_eq!(cmds[0].1, json!({"name": "Big mug", "is_visible": true}));
    let v = json!({"sku": "MUG", "title": "Mug", "description": "ignored", "active": true});
    assert!(
        bodies(&write(
            &h,
            "bigcommerce",
            EntityKind::Variant,
            "MUG",
            v,
            Some(&mug()),
            Some("112")
        ))
        .is_empty()
    );
    // A base variant's price is its product's; an option variant's its own.
    let p = json!({"sku": "MUG", "price": "9.5", "compare_at_price": "12.00"});
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::Price,
        "MUG",
        p,
        Some(&mug()),
        Some("112"),
    ));
    assert_eq!(
        (cmds[0].0.kind, cmds[0].0.target_id.as_deref()),
        (EntityKind::Product, Some("112"))
    );
    assert_eq!(cmds[0].1, json!({"price": 9.5}));
    let p = json!({"sku": "SHIRT-S", "price": "17.00", "compare_at_price": null});
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::Price,
        "SHIRT-S",
        p,
        Some(&shirt()),
        Some("111"),
    ));
    assert_eq!(
        (cmds[0].0.kind, cmds[0].0.target_id.as_deref()),
        (EntityKind::Price, Some("71"))
    );
    assert_eq!(cmds[0].1, json!({"price": 17.0}));
    let p = json!({"sku": "SHIRT-M", "price": "21.50", "compare_at_price": null});
    assert!(
        bodies(&write(
            &h,
            "bigcommerce",
            EntityKind::Price,
            "SHIRT-M",
            p,
            Some(&shirt()),
            Some("111")
        ))
        .is_empty()
    );
}

#[test]
fn stock_is_per_mapped_location_and_written_back_as_a_set() {
    let h = harness();
    let level = json!({"id": "71@2", "variant_id": "71", "product_id": "111", "sku": "SHIRT-S",
        "location_id": "2", "available": 7, "updated_at": V});
    let out = records(&one(&h, EntityKind::InventoryLevel, "71@2", &level));
    assert_eq!(out[0].1, "SHIRT-S@2");
    assert_eq!(
        out[0].2,
        json!({"sku": "SHIRT-S", "location": "2", "quantity": 7})
    );
    let unmapped = json!({"id": "71@3", "variant_id": "71", "sku": "SHIRT-S",
        "location_id": "3", "available": 1});
    assert!(matches!(
        one(&h, EntityKind::InventoryLevel, "71@3", &unmapped),
        ToCanonicalOutcome::Skipped(_)
    ));
    let fields = json!({"sku": "SHIRT-S", "location": "2", "quantity": 5});
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::InventoryLevel,
        "SHIRT-S@2",
        fields,
        Some(&level),
        Some("71@2"),
    ));
    assert_eq!(cmds[0].0.op, WriteOp::SetQuantity);
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("71@2"));
    assert_eq!(
        cmds[0].1,
        json!({"variant_id": 71, "location_id": 2, "available": 5, "sku": "SHIRT-S"})
    );
    let same = json!({"sku": "SHIRT-S", "location": "2", "quantity": 7});
    assert!(
        bodies(&write(
            &h,
            "bigcommerce",
            EntityKind::InventoryLevel,
            "SHIRT-S@2",
            same,
            Some(&level),
            Some("71@2")
        ))
        .is_empty()
    );
    // The bare key maps location 1; a NetSuite location no BigCommerce location maps to is skipped.
    let fields = json!({"sku": "SHIRT-S", "location": "1", "quantity": 3});
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::InventoryLevel,
        "SHIRT-S@1",
        fields,
        None,
        Some("71@1"),
    ));
    assert_eq!(cmds[0].1["location_id"], 1);
    let other = json!({"sku": "SHIRT-S", "location": "9", "quantity": 3});
    assert!(matches!(
        write(
            &h,
            "bigcommerce",
            EntityKind::InventoryLevel,
            "SHIRT-S@9",
            other,
            None,
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn orders_become_sales_orders_exactly_once_under_qualified_keys() {
    let h = harness();
    let order = json!({"id": "100", "customer_id": "3", "status_id": 11,
        "status": "Awaiting Fulfillment", "date_created": "2026-11-26T10:00:00Z",
        "date_modified": V, "subtotal_ex_tax": "36.0000", "total_ex_tax": "36.0000",
        "total_inc_tax": "36.0000", "items_total": 2, "currency_code": "USD",
        "billing_address": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
        "line_items": [{"id": "1", "order_id": "100", "product_id": "111", "variant_id": "71",
            "sku": "SHIRT-S", "quantity": 2, "price_ex_tax": "18.0000", "price_inc_tax": "18.0000",
            "total_ex_tax": "36.0000", "total_inc_tax": "36.0000"}]});
    let out = records(&one(&h, EntityKind::Order, "100", &order));
    assert_eq!(out[0].1, "bigcommerce:100");
    assert_eq!(out[0].2["customer"], "bigcommerce:3");
    // Committed where BigCommerce took the stock: its default location, mapped.
    assert_eq!(out[0].2["location"], "1");
    assert_eq!(out[0].2["total_price"], "36.00");
    let cmds = bodies(&write(
        &h,
        "netsuite",
        EntityKind::Order,
        "bigcommerce:100",
        out[0].2.clone(),
        None,
        None,
    ));
    assert_eq!(
        cmds[0].0.external_id.as_deref(),
        Some("shopify-order-bigcommerce_3a100")
    );
    assert_eq!(
        cmds[0].1["entity"]["externalId"],
        "shopify-customer-bigcommerce_3a3"
    );
    assert_eq!(cmds[0].1["item"]["items"][0]["quantity"], 2);
    // NetSuite's sales order maps back to the same key (the host learns it holds the order).
    let so = json!({"id": "9001", "externalId": "shopify-order-bigcommerce_3a100"});
    let d = PlatformDoc::from_json("netsuite", EntityKind::Order, "9001", V, &so);
    let back = records(&h.to_canonical(vec![d]).unwrap().remove(0));
    assert_eq!(back[0].1, "bigcommerce:100");
    // Cancelled in BigCommerce: the canonical order says so; never written back.
    let mut cancelled = order.clone();
    cancelled["status_id"] = json!(5);
    assert_eq!(
        records(&one(&h, EntityKind::Order, "100", &cancelled))[0].2["cancelled"],
        true
    );
    assert!(matches!(
        write(
            &h,
            "bigcommerce",
            EntityKind::Order,
            "bigcommerce:100",
            out[0].2.clone(),
            None,
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
    let mut incomplete = order;
    incomplete["status_id"] = json!(0);
    assert!(matches!(
        one(&h, EntityKind::Order, "100", &incomplete),
        ToCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn customers_round_trip_through_netsuite_and_stay_with_their_store() {
    let h = harness();
    let c = json!({"id": "3", "email": "ann@example.com", "first_name": "Ann",
        "last_name": "Lee", "company": "", "phone": "555", "notes": "", "date_modified": V});
    let out = records(&one(&h, EntityKind::Customer, "3", &c));
    assert_eq!(out[0].1, "bigcommerce:3");
    assert!(out[0].2.get("addresses").is_none(), "{}", out[0].2);
    let ns = json!({"id": "77", "externalId": "shopify-customer-bigcommerce_3a3",
        "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "phone": "555"});
    let d = PlatformDoc::from_json("netsuite", EntityKind::Customer, "77", V, &ns);
    let back = records(&h.to_canonical(vec![d]).unwrap().remove(0));
    assert_eq!(back[0].1, "bigcommerce:3");
    let mut renamed = out[0].2.clone();
    renamed["phone"] = json!("556");
    let cmds = bodies(&write(
        &h,
        "bigcommerce",
        EntityKind::Customer,
        "bigcommerce:3",
        renamed.clone(),
        Some(&c),
        Some("3"),
    ));
    assert_eq!(
        cmds[0].1,
        json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone": "556"})
    );
    assert!(
        bodies(&write(
            &h,
            "bigcommerce",
            EntityKind::Customer,
            "bigcommerce:3",
            out[0].2.clone(),
            Some(&c),
            Some("3")
        ))
        .is_empty()
    );
    // Not in BigCommerce: customers are created there.
    assert!(matches!(
        write(
            &h,
            "bigcommerce",
            EntityKind::Customer,
            "bigcommerce:4",
            renamed.clone(),
            None,
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
    // A Shopify shop of the same store never gets it.
    let h3 = Harness::new(ShopifyNetsuite).with_config(json!({
        "locations": {"bigcommerce:1": "1"},
        "weft:systems": {"bigcommerce": "bigcommerce", "shopify": "shopify", "netsuite": "netsuite"},
    }));
    assert!(matches!(
        write(
            &h3,
            "shopify",
            EntityKind::Customer,
            "bigcommerce:3",
            renamed,
            None,
            Some("3")
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

fn del(
    h: &Harness<ShopifyNetsuite>,
    kind: EntityKind,
    key: &str,
    current: Option<&Value>,
    target_id: Option<&str>,
) -> FromCanonicalOutcome {
    h.from_canonical(vec![WriteRequest {
        deleted: true,
        target: "bigcommerce".into(),
        record: CanonicalRecord::new(kind, key, &json!({"sku": key, "active": true})),
        current: current.map(Value::to_string),
        target_id: target_id.map(str::to_owned),
    }])
    .unwrap()
    .remove(0)
}

/// The one delete command of a deleted record, with what the connector reads from its body.
fn the_delete(o: &FromCanonicalOutcome, kind: EntityKind, target: &str) -> Value {
    let cmds = bodies(o);
    assert_eq!(cmds.len(), 1, "{o:?}");
    let (c, body) = cmds.into_iter().next().unwrap();
    assert_eq!(c.op, WriteOp::Delete);
    assert_eq!(c.kind, kind);
    assert_eq!(c.target_id.as_deref(), Some(target));
    assert_eq!(c.system, "bigcommerce");
    body
}

#[test]
fn deleted_variants_become_one_delete_of_the_variant_in_its_product() {
    let h = harness();
    // Weft's id for a SKU is its product's; the product weft holds names the variant.
    let body = the_delete(
        &del(
            &h,
            EntityKind::Variant,
            "SHIRT-S",
            Some(&shirt()),
            Some("111"),
        ),
        EntityKind::Variant,
        "111",
    );
    assert_eq!(
        body,
        json!({"product_id": "111", "variant_id": "71", "sku": "SHIRT-S"})
    );
    // A simple product's only variant: the connector takes the product with it.
    let body = the_delete(
        &del(&h, EntityKind::Variant, "MUG", Some(&mug()), Some("112")),
        EntityKind::Variant,
        "112",
    );
    assert_eq!(
        body,
        json!({"product_id": "112", "variant_id": "73", "sku": "MUG"})
    );
    // Weft holds no document of the product (or one from before the variant was made): the
    // connector finds the variant by its SKU.
    for current in [None, Some(&shirt())] {
        let body = the_delete(
            &del(&h, EntityKind::Variant, "SHIRT-L", current, Some("111")),
            EntityKind::Variant,
            "111",
        );
        assert_eq!(body, json!({"product_id": "111", "sku": "SHIRT-L"}));
    }
}

#[test]
fn deleted_customers_and_products_become_one_delete_by_id() {
    let h = harness();
    let c = json!({"id": "3", "email": "ann@example.com", "first_name": "Ann",
        "last_name": "Lee", "date_modified": V});
    let body = the_delete(
        &del(
            &h,
            EntityKind::Customer,
            "bigcommerce:3",
            Some(&c),
            Some("3"),
        ),
        EntityKind::Customer,
        "3",
    );
    assert_eq!(body, json!({}));
    let body = the_delete(
        &del(
            &h,
            EntityKind::Product,
            "SHIRT",
            Some(&shirt()),
            Some("111"),
        ),
        EntityKind::Product,
        "111",
    );
    assert_eq!(body, json!({}));
}

#[test]
fn a_delete_without_a_bigcommerce_id_or_of_another_kind_is_skipped() {
    let h = harness();
    for (kind, key, target) in [
        (EntityKind::Variant, "SHIRT-S", None),
        (EntityKind::Variant, "SHIRT-S", Some("")),
        (EntityKind::Variant, "SHIRT-S", Some("gid://x/1")),
        (
            EntityKind::Customer,
            "bigcommerce:3",
            Some("ann@example.com"),
        ),
        (EntityKind::Price, "SHIRT-S", Some("111")),
        (EntityKind::InventoryLevel, "SHIRT-S@1", Some("71@1")),
        (EntityKind::Order, "bigcommerce:100", Some("100")),
    ] {
        let o = del(&h, kind, key, None, target);
        assert!(
            matches!(o, FromCanonicalOutcome::Skipped(_)),
            "{kind:?} {key} {target:?}: {o:?}"
        );
    }
    // Another storefront's customer is never this one's to delete.
    let o = del(&h, EntityKind::Customer, "shopify:9", None, Some("9"));
    assert!(matches!(o, FromCanonicalOutcome::Skipped(_)), "{o:?}");
}
