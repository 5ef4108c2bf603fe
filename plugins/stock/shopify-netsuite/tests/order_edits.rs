//! Order edits and cancelled lines: a Shopify line's `current_quantity` (after edits and
//! refunds) becomes the canonical line's `current_quantity` (units still ordered: shipped
//! units refunded later still count), and the NetSuite sales order line orders that many, or
//! is closed (`isClosed`) when none are left; an added variant is a new line.

use serde_json::{Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn harness() -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(json!({
        "locations": {"61000000001": "1"},
        "order_location": "1",
        "refund_item": "1",
    }))
}

/// Three units of LS-S (one shipped and refunded with return, one refunded before it shipped,
/// one still ordered), the cap edited away, and two socks added by an edit.
fn order() -> Value {
    json!({
        "id": "1001", "name": "#1001", "email": "ada@example.com",
        "created_at": "2026-11-26T09:59:00Z", "updated_at": V,
        "customer": {"id": "7001", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "location_id": "61000000001",
        "line_items": [
            {"id": "1", "sku": "LS-S", "quantity": 3, "current_quantity": 1, "price": "10.00"},
            {"id": "2", "sku": "CAP", "quantity": 1, "current_quantity": 0, "price": "5.00"},
            {"id": "3", "sku": "SOCK", "quantity": 2, "current_quantity": 2, "price": "2.00"}
        ],
        "total_price": "39.00", "currency": "EUR", "financial_status": "partially_refunded",
        "cancelled_at": null,
        "refunds": [
            {"id": "9001", "created_at": V, "note": null, "lines": [
                {"line_item_id": "1", "sku": "LS-S", "quantity": 1, "restock_type": "return",
                 "location_id": "61000000001", "subtotal": "10.00"}]},
            {"id": "9002", "created_at": V, "note": null, "lines": [
                {"line_item_id": "1", "sku": "LS-S", "quantity": 1, "restock_type": "cancel",
                 "location_id": "61000000001", "subtotal": "10.00"}]}
        ]
    })
}

fn order_record(h: &Harness<ShopifyNetsuite>, o: &Value) -> CanonicalRecord {
    let d = PlatformDoc::from_json("shopify", EntityKind::Order, "1001", V, o);
    match h.to_canonical(vec![d]).unwrap().remove(0) {
        ToCanonicalOutcome::Mapped(r) => {
            r.into_iter().find(|r| r.kind == EntityKind::Order).unwrap()
        }
        other => panic!("expected Mapped, got {other:?}"),
    }
}

fn lines(r: &CanonicalRecord) -> Vec<Value> {
    let f: Value = serde_json::from_str(&r.fields).unwrap();
    f["lines"].as_array().unwrap().clone()
}

fn write(h: &Harness<ShopifyNetsuite>, r: &CanonicalRecord, current: Option<&Value>) -> Vec<Value> {
    match h
        .from_canonical(vec![WriteRequest {
            deleted: false,
            target: "netsuite".into(),
            record: r.clone(),
            current: current.map(Value::to_string),
            target_id: None,
        }])
        .unwrap()
        .remove(0)
    {
        FromCanonicalOutcome::Commands(c) => c
            .into_iter()
            .map(|c| serde_json::from_str(&c.body).unwrap())
            .collect(),
        other => panic!("expected commands, got {other:?}"),
    }
}

#[test]
fn a_lines_current_quantity_keeps_shipped_refunds_and_drops_removed_units() {
    let h = harness();
    let r = order_record(&h, &order());
    let l = lines(&r);
    // 1 current + 1 shipped and refunded (sold) = 2; the cancelled unit is gone.
    assert_eq!(l[0]["quantity"], json!(3));
    assert_eq!(l[0]["current_quantity"], json!(2));
    assert_eq!(l[1]["current_quantity"], json!(0));
    assert!(l[2].get("current_quantity").is_none(), "unchanged: absent");

    // Without the order's refunds (an older document) the current quantity is not read: a
    // refunded shipped unit could not be told from a removed one.
    let mut o = order();
    o.as_object_mut().unwrap().remove("refunds");
    assert!(
        lines(&order_record(&h, &o))
            .iter()
            .all(|l| l.get("current_quantity").is_none())
    );
    // A cancelled order is cancelled whole, its lines as ordered.
    let mut o = order();
    o["cancelled_at"] = json!(V);
    assert!(
        lines(&order_record(&h, &o))
            .iter()
            .all(|l| l.get("current_quantity").is_none())
    );
}

#[test]
fn the_sales_order_orders_what_is_left_and_closes_emptied_lines() {
    let h = harness();
    let r = order_record(&h, &order());
    let bodies = write(&h, &r, None);
    assert_eq!(bodies.len(), 1);
    let items = bodies[0]["item"]["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["quantity"], json!(2));
    assert_eq!(items[0].get("isClosed"), None);
    // Money stays what was charged: refunds travel as credit memos.
    assert_eq!(items[0]["amount"], json!(30.0));
    assert_eq!(items[1]["quantity"], json!(1));
    assert_eq!(items[1]["isClosed"], json!(true));
    assert_eq!(items[2]["quantity"], json!(2));

    // A sales order that holds the edit already is not written again (duplicate webhooks).
    let mut so = bodies[0].clone();
    so["id"] = json!("9001");
    for (i, l) in so["item"]["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        l["line"] = json!(i + 1);
    }
    assert!(write(&h, &r, Some(&so)).is_empty());
    // One that still holds the old lines is.
    let mut old = so.clone();
    old["item"]["items"][0]["quantity"] = json!(3);
    assert_eq!(write(&h, &r, Some(&old)).len(), 1);
    let mut old = so;
    old["item"]["items"][1]
        .as_object_mut()
        .unwrap()
        .remove("isClosed");
    assert_eq!(write(&h, &r, Some(&old)).len(), 1);
}

#[test]
fn a_line_cut_below_what_netsuite_shipped_keeps_the_shipped_units_and_is_closed() {
    let h = harness();
    // The shopper's edit left one LS-S of three, but the warehouse had shipped two before the
    // edit reached NetSuite.
    let r = order_record(&h, &order());
    let mut so = write(&h, &r, None).remove(0);
    so["id"] = json!("9001");
    for (i, l) in so["item"]["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        l["line"] = json!(i + 1);
        l["quantityFulfilled"] = json!(0);
    }
    so["item"]["items"][0]["quantity"] = json!(3);
    so["item"]["items"][0]["quantityFulfilled"] = json!(3);
    let bodies = write(&h, &r, Some(&so));
    assert_eq!(bodies.len(), 1);
    let items = bodies[0]["item"]["items"].as_array().unwrap();
    // NetSuite refuses a line below its fulfilled quantity: it keeps the three that shipped,
    // closed, and the other lines are written as the edit left them.
    assert_eq!(items[0]["quantity"], json!(3));
    assert_eq!(items[0]["isClosed"], json!(true));
    assert_eq!(items[1]["isClosed"], json!(true));
    assert_eq!(items[2]["quantity"], json!(2));

    // Once NetSuite holds that, nothing more is written (no write NetSuite would refuse, again
    // and again).
    let mut held = so.clone();
    held["item"]["items"][0]["isClosed"] = json!(true);
    held["item"]["items"][1]["isClosed"] = json!(true);
    assert!(write(&h, &r, Some(&held)).is_empty());
}
