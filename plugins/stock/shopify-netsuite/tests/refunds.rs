//! Refunds: a Shopify order's refunds become canonical `refund` records (lines by SKU, each
//! restocked or not, the amount, the order), and each becomes one NetSuite credit memo, once:
//! restocked lines name their inventory item at the location they return to, the others the
//! store's non-inventory `refund_item`, so they move no stock.

use serde_json::{Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn harness(config: Value) -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(config)
}

fn config() -> Value {
    json!({
        "sku_prefix": "WEB-",
        "locations": {"61000000001": "1", "61000000002": "2"},
        "order_location": "1",
        "refund_item": "1",
    })
}

/// An order (the normalized shape) with two refunds: one returning a unit to the second
/// location and refunding another without return; one cancelling the unshipped cap.
fn order() -> Value {
    json!({
        "id": "820982911946154508", "name": "#1001", "email": "ada@example.com",
        "created_at": "2026-11-26T09:59:00-05:00", "updated_at": V,
        "customer": {"id": "7001", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "location_id": "61000000001",
        "line_items": [
            {"id": "1", "sku": "LS-S", "quantity": 2, "price": "49.00", "variant_id": "44", "product_id": "88"},
            {"id": "2", "sku": "CAP", "quantity": 1, "price": "0.1", "variant_id": "45", "product_id": "89"}
        ],
        "total_price": "98.10", "currency": "EUR", "financial_status": "partially_refunded",
        "cancelled_at": null,
        "refunds": [
            {"id": "9001", "created_at": "2026-11-27T08:00:00Z", "note": "too small",
             "lines": [
                {"line_item_id": "1", "sku": "LS-S", "quantity": 1, "restock_type": "return",
                 "location_id": "61000000002", "subtotal": "49.00"},
                {"line_item_id": "1", "sku": "LS-S", "quantity": 1, "restock_type": "no_restock",
                 "location_id": null, "subtotal": null}
             ]},
            {"id": "9002", "created_at": "2026-11-27T09:00:00Z", "note": null,
             "lines": [
                {"line_item_id": "2", "sku": "CAP", "quantity": 1, "restock_type": "cancel",
                 "location_id": "61000000001", "subtotal": "0.10"}
             ]}
        ]
    })
}

fn records(h: &Harness<ShopifyNetsuite>, system: &str, o: &Value) -> Vec<CanonicalRecord> {
    let d = PlatformDoc::from_json(system, EntityKind::Order, "820982911946154508", V, o);
    match h.to_canonical(vec![d]).unwrap().remove(0) {
        ToCanonicalOutcome::Mapped(r) => r,
        other => panic!("expected Mapped, got {other:?}"),
    }
}

fn write(
    h: &Harness<ShopifyNetsuite>,
    r: &CanonicalRecord,
    current: Option<&Value>,
) -> FromCanonicalOutcome {
    h.from_canonical(vec![WriteRequest {
        deleted: false,
        target: "netsuite".into(),
        record: r.clone(),
        current: current.map(Value::to_string),
        target_id: None,
    }])
    .unwrap()
    .remove(0)
}

#[test]
fn an_orders_refunds_become_canonical_refunds() {
    let h = harness(config());
    let rs = records(&h, "shopify", &order());
    assert_eq!(rs.len(), 3, "the order and its two refunds");
    assert_eq!(rs[0].kind, EntityKind::Order);
    assert_eq!(rs[1].kind, EntityKind::Refund);
    assert_eq!(rs[1].key, "820982911946154508#9001");
    let f: Value = serde_json::from_str(&rs[1].fields).unwrap();
    assert_eq!(
        f,
        json!({
            "order": "820982911946154508", "order_name": "#1001", "customer": "7001",
            "created_at": "2026-11-27T08:00:00Z", "currency": "EUR", "amount": "98.00",
            "note": "too small",
            "lines": [
                {"sku": "LS-S", "quantity": 1, "restock": true, "restock_type": "return",
                 "amount": "49.00", "location": "2"},
                // No subtotal: the order line's price × quantity.
                {"sku": "LS-S", "quantity": 1, "restock": false, "restock_type": "no_restock",
                 "amount": "49.00", "location": null}
            ]
        })
    );
    let f: Value = serde_json::from_str(&rs[2].fields).unwrap();
    assert_eq!(
        f["lines"][0]["restock"],
        json!(false),
        "cancelled units never left stock"
    );
    assert_eq!(f["amount"], json!("0.10"));

    // An order without `refunds` (a GraphQL read) yields the order alone.
    let mut o = order();
    o.as_object_mut().unwrap().remove("refunds");
    assert_eq!(records(&h, "shopify", &o).len(), 1);

    // A second shop's refund names its system in its key, order and customer.
    let h2 = harness(
        json!({"refund_item": "1", "weft:systems": {"shop2": "shopify", "netsuite": "netsuite"}}),
    );
    let rs = records(&h2, "shop2", &order());
    assert_eq!(rs[1].key, "shop2:820982911946154508#9001");
    let f: Value = serde_json::from_str(&rs[1].fields).unwrap();
    assert_eq!(f["order"], json!("shop2:820982911946154508"));
    assert_eq!(f["customer"], json!("shop2:7001"));
}

#[test]
fn a_refund_is_one_credit_memo_written_once() {
    let h = harness(config());
    let rs = records(&h, "shopify", &order());
    let cmds = match write(&h, &rs[1], None) {
        FromCanonicalOutcome::Commands(c) => c,
        other => panic!("expected a command, got {other:?}"),
    };
    assert_eq!(cmds.len(), 1);
    let c = &cmds[0];
    assert_eq!(c.kind, EntityKind::Refund);
    assert_eq!(c.op, WriteOp::Upsert);
    assert_eq!(
        c.external_id.as_deref(),
        Some("shopify-refund-820982911946154508_239001")
    );
    let body: Value = serde_json::from_str(&c.body).unwrap();
    assert_eq!(
        body,
        json!({
            "externalId": "shopify-refund-820982911946154508_239001",
            "entity": {"externalId": "shopify-customer-7001"},
            "tranDate": "2026-11-27",
            "memo": "Refund of #1001",
            "otherRefNum": "#1001",
            "item": {"items": [
                {"item": {"externalId": "item-LS-S"}, "quantity": 1, "amount": 49.0,
                 "location": {"id": "2"}},
                {"item": {"id": "1"}, "quantity": 1, "amount": 49.0,
                 "description": "LS-S not returned (no_restock)"}
            ]},
            "custbody_shopify_currency": "EUR",
            "custbody_weft_order": "shopify-order-820982911946154508",
        })
    );
    // Once written (NetSuite holds it), never again.
    assert_eq!(
        write(&h, &rs[1], Some(&json!({"id": "9100"}))),
        FromCanonicalOutcome::Commands(vec![])
    );
    // To Shopify: nothing.
    assert!(matches!(
        h.from_canonical(vec![WriteRequest {
            deleted: false,
            target: "shopify".into(),
            record: rs[1].clone(),
            current: None,
            target_id: None,
        }])
        .unwrap()
        .remove(0),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn a_refund_not_returned_needs_a_refund_item() {
    let mut cfg = config();
    cfg.as_object_mut().unwrap().remove("refund_item");
    let h = harness(cfg);
    let rs = records(&h, "shopify", &order());
    match write(&h, &rs[1], None) {
        FromCanonicalOutcome::Failed(ItemError::Config(m)) => {
            assert!(m.contains("refund_item"), "{m}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}
