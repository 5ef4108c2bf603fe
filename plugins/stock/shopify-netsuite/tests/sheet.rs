//! Native tests of the mapper's Google Sheets side through the SDK harness: rows to variant,
//! price and stock; a bad cell refusing its row only, in words; removed rows archived (never
//! deleted); writes back to the sheet, echo-safe, never over a typo or a removed row; and a
//! sheet row reaching Shopify and NetSuite.

use serde_json::{Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn harness() -> Harness<ShopifyNetsuite> {
    harness_with(json!({}))
}

fn harness_with(extra: Value) -> Harness<ShopifyNetsuite> {
    let mut config = json!({
        "locations": {"61000000001": "1"},
        "weft:systems": {"sheet": "sheets", "shopify": "shopify", "netsuite": "netsuite"},
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    Harness::new(ShopifyNetsuite).with_config(config)
}

fn row(sku: &str, cells: Value) -> Value {
    let mut r = json!({"id": sku, "sheet": "Products", "sku": sku, "title": "Mug",
        "description": null, "price": 8.5, "compare_at_price": null, "stock": 25,
        "active": true, "extra": {}});
    for (k, v) in cells.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn doc(sku: &str, body: &Value) -> PlatformDoc {
    PlatformDoc::from_json("sheet", EntityKind::Variant, sku, V, body)
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
        target_id: current.map(|_| key.split('@').next().unwrap().to_owned()),
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

#[test]
fn a_row_is_a_variant_a_price_and_the_stock_at_the_sheet_location() {
    let h = harness();
    let body = row(
        "MUG-1",
        json!({"description": "Stoneware", "compare_at_price": "12", "extra": {"Vendor": "Acme"}}),
    );
    let out = records(&h.to_canonical(vec![doc("MUG-1", &body)]).unwrap()[0]);
    assert_eq!(
        out,
        vec![
            (
                EntityKind::Variant,
                "MUG-1".into(),
                json!({"sku": "MUG-1", "title": "Mug", "description": "Stoneware", "active": true})
            ),
            (
                EntityKind::Price,
                "MUG-1".into(),
                json!({"sku": "MUG-1", "price": "8.50", "compare_at_price": "12.00"})
            ),
            (
                EntityKind::InventoryLevel,
                "MUG-1@1".into(),
                json!({"sku": "MUG-1", "location": "1", "quantity": 25})
            ),
        ],
        "vendor, barcode and catalog fields are not the sheet's: left out, not cleared"
    );
    // Columns the sheet does not have are not observed either.
    let bare = json!({"id": "A", "sheet": "Products", "sku": "A", "title": "A", "price": 3,
        "extra": {}});
    let out = records(&h.to_canonical(vec![doc("A", &bare)]).unwrap()[0]);
    assert_eq!(out.len(), 2, "no stock column, no level");
    assert_eq!(out[0].2, json!({"sku": "A", "title": "A", "active": true}));
    assert_eq!(out[1].2, json!({"sku": "A", "price": "3.00"}));
    // A configured location wins over the store's one location.
    let h2 = harness_with(json!({"sheet_location": "7"}));
    let out = records(
        &h2.to_canonical(vec![doc("MUG-1", &row("MUG-1", json!({})))])
            .unwrap()[0],
    );
    assert_eq!(out[2].1, "MUG-1@7");
}

#[test]
fn a_bad_cell_refuses_that_row_only_with_the_reason_in_words() {
    let h = harness();
    let docs = vec![
        doc("A", &row("A", json!({"price": "abc"}))),
        doc("B", &row("B", json!({}))),
        doc("C", &row("C", json!({"price": "12,5"}))),
        doc("D", &row("D", json!({"stock": 2.5, "active": "maybe"}))),
        doc(
            "E",
            &row(
                "E",
                json!({"price": "  19.99 ", "active": "No", "stock": "4"}),
            ),
        ),
    ];
    let out = h.to_canonical(docs).unwrap();
    let failed = |o: &ToCanonicalOutcome| match o {
        ToCanonicalOutcome::Failed(ItemError::InvalidInput(m)) => m.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(failed(&out[0]), "price 'abc' is not a number");
    assert_eq!(records(&out[1]).len(), 3, "the rest of the sheet syncs");
    assert_eq!(
        failed(&out[2]),
        "price '12,5' is not a number (use a point for decimals: 12.5)",
        "a decimal comma is refused, not guessed"
    );
    assert_eq!(
        failed(&out[3]),
        "stock '2.5' is not a whole number; active 'maybe' is not yes or no (TRUE/FALSE, yes/no)"
    );
    let e = records(&out[4]);
    assert_eq!(e[0].2["active"], false);
    assert_eq!(e[1].2["price"], "19.99");
    assert_eq!(e[2].2["quantity"], 4);
}

#[test]
fn a_removed_row_archives_its_variant_and_is_never_deleted_or_added_back() {
    let gone = json!({"id": "OLD", "sheet": "Products", "deleted": true});
    let out = records(&harness().to_canonical(vec![doc("OLD", &gone)]).unwrap()[0]);
    assert_eq!(
        out,
        vec![(
            EntityKind::Variant,
            "OLD".into(),
            json!({"sku": "OLD", "active": false})
        )]
    );
    let ignore = harness_with(json!({"sheet_deleted_rows": "ignore"}));
    assert!(matches!(
        ignore.to_canonical(vec![doc("OLD", &gone)]).unwrap()[0],
        ToCanonicalOutcome::Skipped(_)
    ));
    let bad = harness_with(json!({"sheet_deleted_rows": "delete"}));
    assert!(
        bad.to_canonical(vec![doc("OLD", &gone)])
            .unwrap_err()
            .to_string()
            .contains("sheet_deleted_rows")
    );
    // A change from elsewhere does not put the row back.
    let fields = json!({"sku": "OLD", "title": "Old", "description": null, "active": true});
    assert!(matches!(
        write(&harness(), "sheet", EntityKind::Variant, "OLD", fields, Some(&gone)),
        FromCanonicalOutcome::Skipped(r) if r.contains("removed from the sheet")
    ));
}

#[test]
fn writes_to_the_sheet_are_echo_safe_and_never_cover_a_typo() {
    let h = harness();
    let current = row("MUG-1", json!({"compare_at_price": 12}));
    let price = json!({"sku": "MUG-1", "price": "9.00", "compare_at_price": "12.00"});
    let cmds = bodies(&write(
        &h,
        "sheet",
        EntityKind::Price,
        "MUG-1",
        price,
        Some(&current),
    ));
    assert_eq!(cmds[0].0.system, "sheet");
    assert_eq!(cmds[0].0.op, WriteOp::Upsert);
    assert_eq!(
        cmds[0].1,
        json!({"key": "MUG-1", "fields": {"price": 9.0}, "only_if_present": true,
            "expected": {"price": 8.5}})
    );
    let echo = json!({"sku": "MUG-1", "price": "8.5", "compare_at_price": "12"});
    assert!(
        bodies(&write(
            &h,
            "sheet",
            EntityKind::Price,
            "MUG-1",
            echo,
            Some(&current)
        ))
        .is_empty()
    );
    let variant = json!({"sku": "MUG-1", "title": "Mug", "description": null, "active": false,
        "vendor": "Acme"});
    let cmds = bodies(&write(
        &h,
        "sheet",
        EntityKind::Variant,
        "MUG-1",
        variant,
        Some(&current),
    ));
    assert_eq!(
        cmds[0].1,
        json!({"key": "MUG-1", "fields": {"active": false}, "only_if_present": true,
            "expected": {"active": true}})
    );
    // Stock: an absolute set at the sheet's location only.
    let level = json!({"sku": "MUG-1", "location": "1", "quantity": 23});
    let cmds = bodies(&write(
        &h,
        "sheet",
        EntityKind::InventoryLevel,
        "MUG-1@1",
        level,
        Some(&current),
    ));
    assert_eq!(cmds[0].0.op, WriteOp::SetQuantity);
    assert_eq!(
        cmds[0].1,
        json!({"key": "MUG-1", "quantity": 23, "only_if_present": true})
    );
    let same = json!({"sku": "MUG-1", "location": "1", "quantity": 25});
    assert!(
        bodies(&write(
            &h,
            "sheet",
            EntityKind::InventoryLevel,
            "MUG-1@1",
            same,
            Some(&current)
        ))
        .is_empty()
    );
    let elsewhere = json!({"sku": "MUG-1", "location": "2", "quantity": 3});
    assert!(matches!(
        write(
            &h,
            "sheet",
            EntityKind::InventoryLevel,
            "MUG-1@2",
            elsewhere,
            Some(&current)
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
    // A row holding a typo is left for the merchant: its status names the typo.
    let typo = row("MUG-1", json!({"price": "abc"}));
    let level = json!({"sku": "MUG-1", "location": "1", "quantity": 23});
    assert!(matches!(
        write(&h, "sheet", EntityKind::InventoryLevel, "MUG-1@1", level, Some(&typo)),
        FromCanonicalOutcome::Skipped(r) if r.contains("price 'abc' is not a number")
    ));
    // Orders and customers have no place on a product sheet.
    assert!(matches!(
        write(
            &h,
            "sheet",
            EntityKind::Customer,
            "9",
            json!({"email": null, "first_name": null, "last_name": null, "phone": null}),
            None
        ),
        FromCanonicalOutcome::Skipped(_)
    ));
}

#[test]
fn a_product_the_sheet_lacks_is_appended_then_given_its_price_and_stock() {
    let h = harness();
    let variant = json!({"sku": "NEW", "title": "New", "description": "Made in Shopify",
        "vendor": "Acme", "barcode": null, "active": true});
    let cmds = bodies(&write(
        &h,
        "sheet",
        EntityKind::Variant,
        "NEW",
        variant,
        None,
    ));
    assert_eq!(
        cmds[0].1,
        json!({"key": "NEW", "fields": {"title": "New", "description": "Made in Shopify", "active": true}})
    );
    // The appended row as the connector answers it: its price and stock cells are empty.
    let appended = row(
        "NEW",
        json!({"title": "New", "description": "Made in Shopify", "price": null, "stock": null}),
    );
    let out = records(&h.to_canonical(vec![doc("NEW", &appended)]).unwrap()[0]);
    assert_eq!(out[1].2, json!({"sku": "NEW"}), "no price observed");
    assert_eq!(
        out[2],
        (
            EntityKind::InventoryLevel,
            "NEW@1".into(),
            json!({"sku": "NEW", "location": "1"})
        ),
        "no quantity observed: the level is only asked for"
    );
    let price = json!({"sku": "NEW", "price": "15.00", "compare_at_price": null});
    let cmds = bodies(&write(
        &h,
        "sheet",
        EntityKind::Price,
        "NEW",
        price,
        Some(&appended),
    ));
    assert_eq!(
        cmds[0].1,
        json!({"key": "NEW", "fields": {"price": 15.0}, "only_if_present": true,
            "expected": {"price": null}})
    );
}

#[test]
fn a_sheet_row_creates_the_product_in_shopify_and_the_item_in_netsuite() {
    let h = harness();
    let out = h
        .to_canonical(vec![doc(
            "MUG-1",
            &row("MUG-1", json!({"description": "Stoneware"})),
        )])
        .unwrap();
    let ToCanonicalOutcome::Mapped(records) = &out[0] else {
        panic!("{out:?}")
    };
    let reqs: Vec<WriteRequest> = ["shopify", "netsuite"]
        .iter()
        .flat_map(|t| {
            records.iter().map(move |r| WriteRequest {
                deleted: false,
                target: (*t).into(),
                record: r.clone(),
                current: None,
                target_id: None,
            })
        })
        .collect();
    let outs = h.from_canonical(reqs).unwrap();
    let shopify = bodies(&outs[0]);
    assert_eq!(shopify[0].0.system, "shopify");
    assert_eq!(shopify[0].1["title"], "Mug");
    assert_eq!(shopify[0].1["status"], "active");
    let netsuite = bodies(&outs[3]);
    assert_eq!(netsuite[0].0.system, "netsuite");
    assert_eq!(netsuite[0].1["itemId"], "MUG-1");
}
