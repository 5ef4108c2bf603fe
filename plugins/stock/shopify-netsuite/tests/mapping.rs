//! Native tests of the Shopify <-> NetSuite mapper through the SDK harness: every kind in both
//! directions, config options, errors, echo-safety and round-trip properties.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::testing::{Harness, HarnessError};
use weft_stock_shopify_netsuite::ShopifyNetsuite;

const V: &str = "2026-11-26T10:00:00Z";

fn harness(config: Value) -> Harness<ShopifyNetsuite> {
    Harness::new(ShopifyNetsuite).with_config(config)
}

fn default_config() -> Value {
    json!({
        "sku_prefix": "WEB-",
        "locations": {"61000000001": "1", "61000000002": "2"},
    })
}

fn doc(system: &str, kind: EntityKind, id: &str, body: &Value) -> PlatformDoc {
    PlatformDoc::from_json(system, kind, id, V, body)
}

fn shirt() -> Value {
    json!({
        "id": "8812345678901234567", "title": "Linen Shirt", "body_html": "<p>Soft.</p>",
        "vendor": "Acme", "product_type": "Shirts", "handle": "linen-shirt", "status": "active",
        "tags": "summer", "updated_at": V,
        "variants": [
            {"id": "4400000000000000001", "product_id": "8812345678901234567", "title": "S",
             "sku": "LS-S", "price": "49.00", "compare_at_price": "59.00", "barcode": "400638133393",
             "inventory_item_id": "5500000000000000001", "updated_at": V},
            {"id": "4400000000000000002", "product_id": "8812345678901234567", "title": "M",
             "sku": "LS-M", "price": "49.5", "compare_at_price": null, "barcode": null,
             "inventory_item_id": "5500000000000000002", "updated_at": V},
            {"id": "4400000000000000003", "product_id": "8812345678901234567", "title": "Gift",
             "sku": "", "price": "0.00", "compare_at_price": null, "barcode": null,
             "inventory_item_id": "5500000000000000003", "updated_at": V}
        ]
    })
}

fn ns_item() -> Value {
    json!({
        "id": "1201", "externalId": "item-LS-S", "itemId": "WEB-LS-S",
        "displayName": "Linen Shirt", "salesDescription": "<p>Soft.</p>", "upcCode": "400638133393",
        "vendorName": "Acme", "isInactive": false, "basePrice": 49.0,
        "custitem_compare_at_price": 59.0, "custitem_web_title": "Linen Shirt (web)",
        "lastModifiedDate": V, "createdDate": V,
        "locations": {"items": [{"location": {"id": "1", "refName": "Main"},
                                 "quantityOnHand": 12, "quantityAvailable": 10}]}
    })
}

fn mapped(outcome: &ToCanonicalOutcome) -> Vec<(EntityKind, String, Value)> {
    match outcome {
        ToCanonicalOutcome::Mapped(records) => records
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

fn commands(outcome: &FromCanonicalOutcome) -> Vec<(WriteCommand, Value)> {
    match outcome {
        FromCanonicalOutcome::Commands(cs) => cs
            .iter()
            .map(|c| (c.clone(), serde_json::from_str(&c.body).unwrap()))
            .collect(),
        other => panic!("expected Commands, got {other:?}"),
    }
}

fn req(
    target: &str,
    kind: EntityKind,
    key: &str,
    fields: Value,
    current: Option<&Value>,
) -> WriteRequest {
    WriteRequest {
        deleted: false,
        target: target.into(),
        record: CanonicalRecord::new(kind, key, &fields),
        current: current.map(Value::to_string),
        target_id: None,
    }
}

fn one(h: &Harness<ShopifyNetsuite>, d: PlatformDoc) -> ToCanonicalOutcome {
    h.to_canonical(vec![d]).unwrap().remove(0)
}

fn write(h: &Harness<ShopifyNetsuite>, r: WriteRequest) -> FromCanonicalOutcome {
    h.from_canonical(vec![r]).unwrap().remove(0)
}

// ---------------------------------------------------------------- to canonical: shopify

#[test]
fn shopify_product_yields_variant_and_price_per_sku() {
    let h = harness(default_config());
    let out = one(
        &h,
        doc(
            "shopify",
            EntityKind::Product,
            "8812345678901234567",
            &shirt(),
        ),
    );
    assert_eq!(
        mapped(&out),
        vec![
            (
                EntityKind::Variant,
                "LS-S".into(),
                json!({"sku": "LS-S", "title": "Linen Shirt",
                "description": "<p>Soft.</p>", "vendor": "Acme", "barcode": "400638133393", "active": true, "product": null, "option_values": null, "product_type": "Shirts",
                "tags": ["summer"], "weight": null, "weight_unit": null, "images": null, "custom": null})
            ),
            (
                EntityKind::Price,
                "LS-S".into(),
                json!({"sku": "LS-S", "price": "49.00", "compare_at_price": "59.00"})
            ),
            (
                EntityKind::Variant,
                "LS-M".into(),
                json!({"sku": "LS-M", "title": "Linen Shirt",
                "description": "<p>Soft.</p>", "vendor": "Acme", "barcode": null, "active": true, "product": null, "option_values": null, "product_type": "Shirts",
                "tags": ["summer"], "weight": null, "weight_unit": null, "images": null, "custom": null})
            ),
            (
                EntityKind::Price,
                "LS-M".into(),
                json!({"sku": "LS-M", "price": "49.50", "compare_at_price": null})
            ),
        ]
    );
}

#[test]
fn shopify_product_edge_cases() {
    let h = harness(default_config());
    let mut p = shirt();
    p["status"] = json!("draft");
    let recs = mapped(&one(&h, doc("shopify", EntityKind::Product, "1", &p)));
    assert_eq!(recs[0].2["active"], json!(false));

    let mut p = shirt();
    p["variants"] = json!([{"id": "1", "sku": null, "price": "1.00"}]);
    assert_eq!(
        one(&h, doc("shopify", EntityKind::Product, "77", &p)),
        ToCanonicalOutcome::Skipped("product 77 has no variant with a sku".into())
    );

    let mut p = shirt();
    p["variants"][1]["sku"] = json!("LS-S");
    assert_eq!(
        one(&h, doc("shopify", EntityKind::Product, "1", &p)),
        ToCanonicalOutcome::Failed(ItemError::InvalidInput(
            "product.variants[1]: sku \"LS-S\" repeats product.variants[0]; a sku must identify one variant".into()
        ))
    );

    let mut p = shirt();
    p["variants"][0]["price"] = json!(true);
    assert_eq!(
        one(&h, doc("shopify", EntityKind::Product, "1", &p)),
        ToCanonicalOutcome::Failed(ItemError::InvalidInput(
            "product.variants[0].price: expected decimal, found boolean".into()
        ))
    );

    let out = h
        .to_canonical(vec![PlatformDoc {
            body: "{not json".into(),
            ..doc("shopify", EntityKind::Product, "5", &json!({}))
        }])
        .unwrap();
    assert!(
        matches!(&out[0], ToCanonicalOutcome::Failed(ItemError::InvalidInput(m))
        if m.starts_with("shopify product 5: not valid JSON"))
    );
}

#[test]
fn shopify_inventory_levels_map_to_netsuite_locations() {
    let h = harness(default_config());
    // A webhook body with numeric ids beyond 2^53 (the connector normally stringifies them).
    let body: Value = serde_json::from_str(
        r#"{"inventory_item_id": 271878346596884015, "location_id": 61000000002, "available": 7,
            "updated_at": "2026-11-26T10:00:00Z", "sku": "LS-S"}"#,
    )
    .unwrap();
    let out = one(
        &h,
        doc(
            "shopify",
            EntityKind::InventoryLevel,
            "271878346596884015@61000000002",
            &body,
        ),
    );
    assert_eq!(
        mapped(&out),
        vec![(
            EntityKind::InventoryLevel,
            "LS-S@2".into(),
            json!({"sku": "LS-S", "location": "2", "quantity": 7})
        )]
    );

    let mut b = body.clone();
    b["location_id"] = json!("999");
    assert_eq!(
        one(&h, doc("shopify", EntityKind::InventoryLevel, "x", &b)),
        ToCanonicalOutcome::Skipped("shopify location 999 is not in config key `locations`".into())
    );
    let mut b = body.clone();
    b["available"] = Value::Null;
    assert!(
        matches!(one(&h, doc("shopify", EntityKind::InventoryLevel, "x", &b)),
        ToCanonicalOutcome::Skipped(m) if m.contains("not tracked"))
    );
    let mut b = body;
    b["sku"] = Value::Null;
    assert!(
        matches!(one(&h, doc("shopify", EntityKind::InventoryLevel, "x", &b)),
        ToCanonicalOutcome::Skipped(m) if m.contains("has no sku"))
    );
}

#[test]
fn shopify_customers_and_orders() {
    let h = harness(default_config());
    let c = json!({"id": "7001", "email": "ada@example.com", "first_name": "Ada",
                   "last_name": "Lovelace", "phone": "", "tags": "vip", "updated_at": V});
    assert_eq!(
        mapped(&one(&h, doc("shopify", EntityKind::Customer, "7001", &c))),
        vec![(
            EntityKind::Customer,
            "7001".into(),
            json!({"email": "ada@example.com",
            "first_name": "Ada", "last_name": "Lovelace", "phone": null, "addresses": null,
            "tags": ["vip"], "tax_exempt": null, "email_marketing": null})
        )]
    );
    let o = order();
    assert_eq!(
        mapped(&one(
            &h,
            doc("shopify", EntityKind::Order, "820982911946154508", &o)
        )),
        vec![(
            EntityKind::Order,
            "820982911946154508".into(),
            json!({
            "name": "#1001", "email": "ada@example.com", "customer": "7001",
            "created_at": "2026-11-26T09:59:00-05:00", "currency": "EUR", "total_price": "98.10",
            "financial_status": "paid", "cancelled": false,
            "lines": [{"sku": "LS-S", "quantity": 2, "price": "49.00",
                       "tax": "0.00", "tax_lines": [], "discount": "0.00"},
                      {"sku": "CAP", "quantity": 1, "price": "0.10",
                       "tax": "0.00", "tax_lines": [], "discount": "0.00"}],
            "subtotal": "98.10", "shipping_total": "0.00", "tax_total": "0.00",
            "discount_total": "0.00", "taxes_included": false,
            "billing_address": null, "shipping_address": null, "shipping_lines": [],
            "discount_codes": [], "payment_gateway": null, "note": null,
            // Two mapped locations and no `order_location`: where it commits is not known.
            "location": null})
        )]
    );
    let mut bad = o.clone();
    bad["line_items"][1]["sku"] = json!("");
    assert_eq!(
        one(&h, doc("shopify", EntityKind::Order, "1", &bad)),
        ToCanonicalOutcome::Failed(ItemError::InvalidInput(
            "order.line_items[1].sku: empty; every line must name a sku to become a netsuite item"
                .into()
        ))
    );
    assert!(matches!(
        one(&h, doc("shopify", EntityKind::Variant, "1", &json!({}))),
        ToCanonicalOutcome::Failed(ItemError::Unsupported(_))
    ));
}

fn order() -> Value {
    json!({
        "id": "820982911946154508", "name": "#1001", "email": "ada@example.com",
        "created_at": "2026-11-26T09:59:00-05:00", "updated_at": V,
        "customer": {"id": "7001", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "line_items": [
            {"id": "1", "sku": "LS-S", "quantity": 2, "price": "49.00", "variant_id": "44", "product_id": "88"},
            {"id": "2", "sku": "CAP", "quantity": 1, "price": "0.1", "variant_id": "45", "product_id": "89"}
        ],
        "total_price": "98.10", "currency": "EUR", "financial_status": "paid", "cancelled_at": null
    })
}

// ---------------------------------------------------------------- to canonical: netsuite

#[test]
fn netsuite_item_yields_variant_and_price_with_prefix_stripped() {
    let h = harness(default_config());
    assert_eq!(
        mapped(&one(
            &h,
            doc("netsuite", EntityKind::Variant, "1201", &ns_item())
        )),
        vec![
            (
                EntityKind::Variant,
                "LS-S".into(),
                json!({"sku": "LS-S", "title": "Linen Shirt",
                "description": "<p>Soft.</p>", "vendor": "Acme", "barcode": "400638133393", "active": true,
                "product": null, "option_values": null, "product_type": null, "category": null, "tags": null,
                "weight": null, "weight_unit": null, "images": null, "seo_title": null,
                "seo_description": null, "custom": null})
            ),
            (
                EntityKind::Price,
                "LS-S".into(),
                json!({"sku": "LS-S", "price": "49.00", "compare_at_price": "59.00"})
            ),
        ]
    );
    // title_field picks the web title from a custom field.
    let h2 = harness(json!({"sku_prefix": "WEB-", "title_field": "custitem_web_title"}));
    let recs = mapped(&one(
        &h2,
        doc("netsuite", EntityKind::Variant, "1201", &ns_item()),
    ));
    assert_eq!(recs[0].2["title"], json!("Linen Shirt (web)"));

    let mut other = ns_item();
    other["itemId"] = json!("RAW-MATERIAL-1");
    assert_eq!(
        one(&h, doc("netsuite", EntityKind::Variant, "9", &other)),
        ToCanonicalOutcome::Skipped(
            "item \"RAW-MATERIAL-1\" does not start with the sku_prefix \"WEB-\"; not a web item"
                .into()
        )
    );
    let mut bad = ns_item();
    bad["isInactive"] = json!("no");
    assert_eq!(
        one(&h, doc("netsuite", EntityKind::Variant, "9", &bad)),
        ToCanonicalOutcome::Failed(ItemError::InvalidInput(
            "inventoryItem.isInactive: expected boolean, found string".into()
        ))
    );
}

#[test]
fn netsuite_levels_customers_and_orders() {
    let h = harness(default_config());
    let level = json!({"item_id": "1201", "sku": "WEB-LS-S", "location_id": "1",
                       "quantity_on_hand": 12, "last_modified_date": V});
    assert_eq!(
        mapped(&one(
            &h,
            doc("netsuite", EntityKind::InventoryLevel, "1201@1", &level)
        )),
        vec![(
            EntityKind::InventoryLevel,
            "LS-S@1".into(),
            json!({"sku": "LS-S", "location": "1", "quantity": 12})
        )]
    );
    let mut unmapped = level.clone();
    unmapped["location_id"] = json!("3");
    assert!(
        matches!(one(&h, doc("netsuite", EntityKind::InventoryLevel, "1201@3", &unmapped)),
        ToCanonicalOutcome::Skipped(m) if m.contains("location 3 is not mapped"))
    );

    let cust = json!({"id": "301", "externalId": "shopify-customer-7001", "entityId": "CUST301",
        "companyName": null, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "phone": "+44", "isPerson": true, "lastModifiedDate": V});
    assert_eq!(
        mapped(&one(
            &h,
            doc("netsuite", EntityKind::Customer, "301", &cust)
        )),
        vec![(
            EntityKind::Customer,
            "7001".into(),
            json!({"email": "ada@example.com",
            "first_name": "Ada", "last_name": "Lovelace", "phone": "+44", "addresses": null,
            "tags": null, "tax_exempt": null, "email_marketing": null})
        )]
    );
    let mut erp_only = cust;
    erp_only["externalId"] = Value::Null;
    assert!(
        matches!(one(&h, doc("netsuite", EntityKind::Customer, "301", &erp_only)),
        ToCanonicalOutcome::Skipped(m) if m.contains("web customers are created in shopify"))
    );

    assert_eq!(
        one(
            &h,
            doc(
                "netsuite",
                EntityKind::Order,
                "9001",
                &json!({"id": "9001"})
            )
        ),
        ToCanonicalOutcome::Skipped("sales order 9001 was not made from a storefront order".into())
    );
    // One made from a storefront order names the order, with no fields: the host learns that
    // NetSuite holds it.
    assert_eq!(
        mapped(&one(
            &h,
            doc(
                "netsuite",
                EntityKind::Order,
                "9001",
                &json!({"id": "9001", "externalId": "shopify-order-820982911946154508"})
            )
        )),
        vec![(EntityKind::Order, "820982911946154508".into(), json!({}))]
    );
    assert!(matches!(
        one(&h, doc("prestashop", EntityKind::Product, "1", &json!({}))),
        ToCanonicalOutcome::Failed(ItemError::Unsupported(m)) if m.contains("\"prestashop\"")
    ));
}

// ---------------------------------------------------------------- from canonical: netsuite

fn variant_fields() -> Value {
    json!({"sku": "LS-S", "title": "Linen Shirt", "description": "<p>Soft.</p>",
           "vendor": "Acme", "barcode": "400638133393", "active": true})
}

#[test]
fn variant_to_netsuite_upserts_by_derived_external_id() {
    let h = harness(json!({"sku_prefix": "WEB-", "title_field": "custitem_web_title"}));
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::Variant,
            "LS/S",
            json!({
                "sku": "LS/S", "title": "T", "description": null, "vendor": null, "barcode": null, "active": false
            }),
            None,
        ),
    ));
    assert_eq!(cmds.len(), 1);
    let (c, body) = &cmds[0];
    assert_eq!(
        (c.system.as_str(), c.kind, c.op),
        ("netsuite", EntityKind::Variant, WriteOp::Upsert)
    );
    assert_eq!(c.external_id.as_deref(), Some("item-LS_2fS"));
    assert_eq!(c.target_id, None);
    assert_eq!(
        body,
        &json!({"externalId": "item-LS_2fS", "itemId": "WEB-LS/S",
        "custitem_web_title": "T", "salesDescription": null, "upcCode": null, "vendorName": null,
        "isInactive": true})
    );
}

#[test]
fn variant_to_netsuite_is_silent_when_current_holds_it() {
    let h = harness(default_config());
    let out = write(
        &h,
        req(
            "netsuite",
            EntityKind::Variant,
            "LS-S",
            variant_fields(),
            Some(&ns_item()),
        ),
    );
    assert_eq!(out, FromCanonicalOutcome::Commands(vec![]));
    let out = write(
        &h,
        req(
            "netsuite",
            EntityKind::Price,
            "LS-S",
            json!({"sku": "LS-S", "price": "49.00", "compare_at_price": "59"}),
            Some(&ns_item()),
        ),
    );
    assert_eq!(out, FromCanonicalOutcome::Commands(vec![]));

    // A change is written under the item's own external id, with its internal id.
    let mut f = variant_fields();
    f["vendor"] = json!("Acme GmbH");
    let cmds = commands(&write(
        &h,
        req("netsuite", EntityKind::Variant, "LS-S", f, Some(&ns_item())),
    ));
    assert_eq!(cmds[0].0.external_id.as_deref(), Some("item-LS-S"));
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("1201"));
    assert_eq!(cmds[0].1["vendorName"], json!("Acme GmbH"));
    assert_eq!(cmds[0].1["displayName"], json!("Linen Shirt"));
}

#[test]
fn item_without_external_id_is_patched_by_id_and_stamped() {
    let h = harness(default_config());
    let mut current = ns_item();
    current.as_object_mut().unwrap().remove("externalId");
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::Price,
            "LS-S",
            json!({"sku": "LS-S", "price": "45.5", "compare_at_price": null}),
            Some(&current),
        ),
    ));
    let (c, body) = &cmds[0];
    assert_eq!(c.external_id, None);
    assert_eq!(c.target_id.as_deref(), Some("1201"));
    assert_eq!(
        body,
        &json!({"externalId": "item-LS-S", "itemId": "WEB-LS-S",
        "basePrice": 45.5, "custitem_compare_at_price": null})
    );
}

#[test]
fn inventory_to_netsuite_is_an_adjustment_delta() {
    let h = harness(default_config());
    let current = json!({"item_id": "1201", "sku": "WEB-LS-S", "location_id": "1",
                         "quantity_on_hand": 12, "last_modified_date": V});
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::InventoryLevel,
            "LS-S@1",
            json!({"sku": "LS-S", "location": "1", "quantity": 9}),
            Some(&current),
        ),
    ));
    let (c, body) = &cmds[0];
    assert_eq!(c.op, WriteOp::AdjustQuantity);
    assert_eq!(c.target_id.as_deref(), Some("1201@1"));
    assert_eq!(c.external_id, None);
    assert_eq!(
        body,
        &json!({"adjLocation": {"id": "1"}, "memo": "weft stock sync WEB-LS-S",
        "inventory": {"items": [{"item": {"id": "1201"}, "location": {"id": "1"}, "adjustQtyBy": -3}]}})
    );

    assert_eq!(
        write(
            &h,
            req(
                "netsuite",
                EntityKind::InventoryLevel,
                "LS-S@1",
                json!({"sku": "LS-S", "location": "1", "quantity": 12}),
                Some(&current)
            )
        ),
        FromCanonicalOutcome::Commands(vec![])
    );
    // Unknown item and no current stock: reference by external id, delta from zero.
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::InventoryLevel,
            "NEW@2",
            json!({"sku": "NEW", "location": "2", "quantity": 4}),
            None,
        ),
    ));
    assert_eq!(
        cmds[0].1["inventory"]["items"][0]["item"],
        json!({"externalId": "item-NEW"})
    );
    assert_eq!(cmds[0].1["inventory"]["items"][0]["adjustQtyBy"], json!(4));
}

#[test]
fn customer_to_netsuite() {
    let h = harness(json!({"subsidiary": "3"}));
    let fields = json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "phone": null});
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::Customer,
            "7001",
            fields.clone(),
            None,
        ),
    ));
    assert_eq!(
        cmds[0].0.external_id.as_deref(),
        Some("shopify-customer-7001")
    );
    assert_eq!(
        cmds[0].1,
        json!({"externalId": "shopify-customer-7001", "firstName": "Ada",
        "lastName": "Lovelace", "email": "ada@example.com", "phone": null, "isPerson": true,
        "subsidiary": {"id": "3"}})
    );
    let current = json!({"id": "301", "externalId": "shopify-customer-7001", "firstName": "Ada",
        "lastName": "Lovelace", "email": "ada@example.com", "phone": "", "isPerson": true});
    assert_eq!(
        write(
            &h,
            req(
                "netsuite",
                EntityKind::Customer,
                "7001",
                fields,
                Some(&current)
            )
        ),
        FromCanonicalOutcome::Commands(vec![])
    );
}

fn order_fields(h: &Harness<ShopifyNetsuite>, o: &Value) -> Value {
    mapped(&one(
        h,
        doc("shopify", EntityKind::Order, "820982911946154508", o),
    ))[0]
        .2
        .clone()
}

#[test]
fn order_becomes_one_sales_order_keyed_by_the_shopify_id() {
    let h = harness(json!({"sku_prefix": "WEB-"}));
    let fields = order_fields(&h, &order());
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::Order,
            "820982911946154508",
            fields.clone(),
            None,
        ),
    ));
    assert_eq!(cmds.len(), 1);
    let (c, body) = &cmds[0];
    assert_eq!(
        c.external_id.as_deref(),
        Some("shopify-order-820982911946154508")
    );
    assert_eq!(
        body,
        &json!({
            "externalId": "shopify-order-820982911946154508",
            "entity": {"externalId": "shopify-customer-7001"},
            "tranDate": "2026-11-26",
            "memo": "#1001", "otherRefNum": "#1001",
            "item": {"items": [
                {"item": {"externalId": "item-LS-S"}, "quantity": 2, "rate": 49.0, "amount": 98.0,
                 "tax1Amt": null, "taxRate1": null, "custcol_shopify_discount": null},
                {"item": {"externalId": "item-CAP"}, "quantity": 1, "rate": 0.1, "amount": 0.1,
                 "tax1Amt": null, "taxRate1": null, "custcol_shopify_discount": null}
            ]},
            "custbody_shopify_financial_status": "paid",
            "custbody_shopify_currency": "EUR",
            "custbody_shopify_total": 98.1,
            // No address, shipping, tax or discount: nulls (NetSuite reads absent as none).
            "billingAddress": null, "shippingAddress": null,
            "shippingCost": null, "shippingTax1Amt": null,
            "discountItem": null, "discountRate": null,
            "custbody_shopify_discount_codes": null, "custbody_shopify_shipping_method": null,
            "custbody_shopify_payment_gateway": null, "custbody_shopify_note": null
        })
    );

    // The sales order as NetSuite returns it (item refs by id/refName): no second write.
    let current = json!({"id": "9001", "externalId": "shopify-order-820982911946154508", "tranId": "SO9001",
        "entity": {"id": "301", "refName": "Ada Lovelace"}, "tranDate": "2026-11-26", "orderStatus": "B",
        "memo": "#1001", "otherRefNum": "#1001",
        "item": {"items": [{"item": {"id": "1201", "refName": "WEB-LS-S"}, "quantity": 2, "rate": 49, "amount": 98},
                           {"item": {"id": "1301", "refName": "WEB-CAP"}, "quantity": 1, "rate": 0.1, "amount": 0.1}]},
        "custbody_shopify_financial_status": "paid", "custbody_shopify_currency": "EUR",
        "custbody_shopify_total": 98.1, "total": 98.1, "lastModifiedDate": V});
    assert_eq!(
        write(
            &h,
            req(
                "netsuite",
                EntityKind::Order,
                "820982911946154508",
                fields.clone(),
                Some(&current)
            )
        ),
        FromCanonicalOutcome::Commands(vec![])
    );
    // Cancelling rewrites it with orderStatus C, same external id.
    let mut cancelled = order();
    cancelled["cancelled_at"] = json!("2026-11-27T08:00:00Z");
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::Order,
            "820982911946154508",
            order_fields(&h, &cancelled),
            Some(&current),
        ),
    ));
    assert_eq!(cmds[0].1["orderStatus"], json!("C"));
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("9001"));
    assert_eq!(
        cmds[0].0.external_id.as_deref(),
        Some("shopify-order-820982911946154508")
    );
}

#[test]
fn guest_orders_need_a_default_customer() {
    let mut guest = order();
    guest["customer"] = Value::Null;
    let h = harness(json!({}));
    let fields = order_fields(&h, &guest);
    assert_eq!(
        write(&h, req("netsuite", EntityKind::Order, "820982911946154508", fields.clone(), None)),
        FromCanonicalOutcome::Failed(ItemError::Config(
            "order 820982911946154508 (#1001) has no customer and config key `default_customer` is not set".into()
        ))
    );
    let h = harness(json!({"default_customer": 42}));
    let cmds = commands(&write(
        &h,
        req(
            "netsuite",
            EntityKind::Order,
            "820982911946154508",
            fields,
            None,
        ),
    ));
    assert_eq!(cmds[0].1["entity"], json!({"id": "42"}));
}

// ---------------------------------------------------------------- from canonical: shopify

#[test]
fn variant_and_price_to_shopify_patch_the_product() {
    let h = harness(default_config());
    let current = shirt();
    let mut f = variant_fields();
    f["title"] = json!("Linen Shirt II");
    f["active"] = json!(false);
    let cmds = commands(&write(
        &h,
        WriteRequest {
            deleted: false,
            target_id: Some("8812345678901234567".into()),
            ..req("shopify", EntityKind::Variant, "LS-S", f, Some(&current))
        },
    ));
    let (c, body) = &cmds[0];
    assert_eq!((c.kind, c.op), (EntityKind::Product, WriteOp::Upsert));
    assert_eq!(c.target_id.as_deref(), Some("8812345678901234567"));
    assert_eq!(
        body,
        &json!({"id": "8812345678901234567", "title": "Linen Shirt II",
        "body_html": "<p>Soft.</p>", "vendor": "Acme", "status": "archived",
        "variants": [{"id": "4400000000000000001", "sku": "LS-S", "barcode": "400638133393"}]})
    );

    let cmds = commands(&write(
        &h,
        req(
            "shopify",
            EntityKind::Price,
            "LS-M",
            json!({"sku": "LS-M", "price": "52.00", "compare_at_price": "60.00"}),
            Some(&current),
        ),
    ));
    assert_eq!(
        cmds[0].1,
        json!({"id": "8812345678901234567",
        "variants": [{"id": "4400000000000000002", "sku": "LS-M", "price": "52.00", "compare_at_price": "60.00"}]})
    );

    // No product yet: create as draft titled by the record, matched by SKU by the connector.
    let mut f = variant_fields();
    f["title"] = Value::Null;
    f["active"] = json!(false);
    let cmds = commands(&write(
        &h,
        req("shopify", EntityKind::Variant, "NEW-1", f, None),
    ));
    assert_eq!(cmds[0].0.target_id, None);
    assert_eq!(cmds[0].1["title"], json!("NEW-1"));
    assert_eq!(cmds[0].1["status"], json!("draft"));
    assert_eq!(
        cmds[0].1["variants"],
        json!([{"sku": "NEW-1", "barcode": "400638133393"}])
    );
}

#[test]
fn shopify_writes_are_silent_when_current_holds_them() {
    let h = harness(default_config());
    let out = h
        .to_canonical(vec![doc("shopify", EntityKind::Product, "1", &shirt())])
        .unwrap();
    let reqs: Vec<WriteRequest> = match &out[0] {
        ToCanonicalOutcome::Mapped(rs) => rs
            .iter()
            .map(|r| WriteRequest {
                deleted: false,
                target: "shopify".into(),
                record: r.clone(),
                current: Some(shirt().to_string()),
                target_id: None,
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    for o in h.from_canonical(reqs).unwrap() {
        assert_eq!(o, FromCanonicalOutcome::Commands(vec![]));
    }
    // A draft product stays draft when the ERP marks the item inactive.
    let mut draft = shirt();
    draft["status"] = json!("draft");
    let mut f = variant_fields();
    f["active"] = json!(false);
    assert_eq!(
        write(
            &h,
            req("shopify", EntityKind::Variant, "LS-S", f, Some(&draft))
        ),
        FromCanonicalOutcome::Commands(vec![])
    );
    // An ERP item without a web title leaves Shopify's title alone.
    let mut f = variant_fields();
    f["title"] = Value::Null;
    assert_eq!(
        write(
            &h,
            req("shopify", EntityKind::Variant, "LS-S", f, Some(&shirt()))
        ),
        FromCanonicalOutcome::Commands(vec![])
    );
}

#[test]
fn inventory_to_shopify_sets_the_quantity() {
    let h = harness(default_config());
    let current = json!({"inventory_item_id": "5500000000000000001", "location_id": "61000000001",
                         "available": 3, "updated_at": V, "sku": "LS-S"});
    let cmds = commands(&write(
        &h,
        req(
            "shopify",
            EntityKind::InventoryLevel,
            "LS-S@1",
            json!({"sku": "LS-S", "location": "1", "quantity": 12}),
            Some(&current),
        ),
    ));
    let (c, body) = &cmds[0];
    assert_eq!(c.op, WriteOp::SetQuantity);
    assert_eq!(
        c.target_id.as_deref(),
        Some("5500000000000000001@61000000001")
    );
    assert_eq!(
        body,
        &json!({"inventory_item_id": "5500000000000000001",
        "location_id": "61000000001", "available": 12, "sku": "LS-S"})
    );
    assert_eq!(
        write(
            &h,
            req(
                "shopify",
                EntityKind::InventoryLevel,
                "LS-S@1",
                json!({"sku": "LS-S", "location": "1", "quantity": 3}),
                Some(&current)
            )
        ),
        FromCanonicalOutcome::Commands(vec![])
    );
    assert!(matches!(
        write(&h, req("shopify", EntityKind::InventoryLevel, "LS-S@7",
            json!({"sku": "LS-S", "location": "7", "quantity": 3}), None)),
        FromCanonicalOutcome::Skipped(m) if m.contains("netsuite location 7 is not mapped")
    ));
    // Unknown inventory item: the connector resolves it by SKU.
    let cmds = commands(&write(
        &h,
        req(
            "shopify",
            EntityKind::InventoryLevel,
            "NEW@2",
            json!({"sku": "NEW", "location": "2", "quantity": 5}),
            None,
        ),
    ));
    assert_eq!(
        cmds[0].1,
        json!({"location_id": "61000000002", "available": 5, "sku": "NEW"})
    );
    assert_eq!(cmds[0].0.target_id, None);
}

#[test]
fn customers_to_shopify_and_orders_never() {
    let h = harness(default_config());
    let fields = json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "King", "phone": null});
    let cmds = commands(&write(
        &h,
        req("shopify", EntityKind::Customer, "7001", fields, None),
    ));
    assert_eq!(cmds[0].0.target_id.as_deref(), Some("7001"));
    assert_eq!(
        cmds[0].1,
        json!({"id": "7001", "email": "ada@example.com", "first_name": "Ada",
        "last_name": "King", "phone": null})
    );
    assert_eq!(
        write(&h, req("shopify", EntityKind::Order, "1", json!({}), None)),
        FromCanonicalOutcome::Skipped("orders flow from shopify to netsuite only".into())
    );
}

#[test]
fn malformed_records_and_config_are_reported() {
    let h = harness(default_config());
    assert!(matches!(
        write(&h, req("netsuite", EntityKind::Price, "X", json!({"sku": "X", "price": 5}), None)),
        FromCanonicalOutcome::Failed(ItemError::InvalidInput(m)) if m.starts_with("price X: canonical fields:")
    ));
    assert!(matches!(
        write(
            &h,
            req("prestashop", EntityKind::Price, "X", json!({}), None)
        ),
        FromCanonicalOutcome::Failed(ItemError::Unsupported(_))
    ));
    let h = harness(json!({"title_field": "itemId"}));
    assert!(matches!(
        h.to_canonical(vec![]),
        Err(HarnessError::Plugin(PluginError::Config(m))) if m.contains("`title_field`")
    ));
}

// ---------------------------------------------------------------- round trips (properties)

/// Applies a NetSuite upsert body to a record (listed fields replace).
fn apply_netsuite(record: &mut Map<String, Value>, body: &Value) {
    for (k, v) in body.as_object().unwrap() {
        record.insert(k.clone(), v.clone());
    }
}

/// Applies a Shopify product patch as the connector + productSet would.
fn apply_shopify(product: &mut Value, body: &Value) {
    let b = body.as_object().unwrap();
    for k in [
        "id",
        "title",
        "body_html",
        "vendor",
        "status",
        "product_type",
        "category",
        "tags",
        "seo",
        "images",
        "handle",
        "options",
    ] {
        if let Some(v) = b.get(k) {
            product[k] = v.clone();
        }
    }
    if product.get("variants").is_none() {
        product["variants"] = json!([]);
    }
    for bv in b["variants"].as_array().unwrap() {
        let variants = product["variants"].as_array_mut().unwrap();
        let pos = variants
            .iter()
            .position(|v| (bv.get("id").is_some() && v["id"] == bv["id"]) || v["sku"] == bv["sku"]);
        let target = match pos {
            Some(i) => &mut variants[i],
            None => {
                variants.push(json!({"id": format!("{}", 9000 + variants.len())}));
                variants.last_mut().unwrap()
            }
        };
        for (k, v) in bv.as_object().unwrap() {
            target[k] = v.clone();
        }
        // Shopify numbers a variant's option values in the product's option order.
        if let Some(values) = bv.get("option_values").and_then(Value::as_object) {
            for (i, name) in values.keys().enumerate() {
                target[format!("option{}", i + 1)] = values[name].clone();
            }
        }
    }
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), "[a-zA-Z0-9 éü&<>/\"'-]{1,16}".prop_map(Some)]
}

fn price_text() -> impl Strategy<Value = String> {
    (0u32..100_000, 0u32..100).prop_map(|(u, c)| format!("{u}.{c:02}"))
}

prop_compose! {
    fn arb_product()(
        title in "[a-zA-Z0-9 éü&-]{1,20}",
        body_html in opt_text(),
        vendor in opt_text(),
        active in any::<bool>(),
        variants in prop::collection::btree_map("[A-Z0-9/._ -]{1,10}", (price_text(), prop::option::of(price_text()), opt_text(), 0u32..5000), 1..4),
        product_type in opt_text(),
        tags in prop::collection::btree_set("[a-z]{1,6}", 0..3),
        category in prop::option::of("[a-z]{2}(-[0-9]{1,2}){0,3}"),
        seo_title in opt_text(),
        seo_description in opt_text(),
        images in prop::collection::vec(("[a-z]{1,8}", opt_text()), 0..3),
    ) -> Value {
        let variants: Vec<Value> = variants.into_iter().enumerate().map(|(i, (sku, (price, cap, barcode, grams)))| json!({
            "id": format!("{}", 4400 + i), "product_id": "88", "title": "v", "sku": sku,
            "price": price, "compare_at_price": cap, "barcode": barcode,
            "inventory_item_id": format!("{}", 5500 + i), "updated_at": V,
            "weight": grams as f64 / 1000.0, "weight_unit": "kg",
        })).collect();
        let images: Vec<Value> = images.into_iter().map(|(name, alt)| json!({
            "url": format!("https://cdn.example.com/{name}.jpg"), "alt": alt,
        })).collect();
        let tags: Vec<String> = tags.into_iter().collect();
        json!({"id": "88", "title": title, "body_html": body_html, "vendor": vendor,
               "status": if active { "active" } else { "draft" }, "variants": variants,
               "product_type": product_type, "tags": tags.join(", "), "images": images,
               "category": category,
               "seo": {"title": seo_title, "description": seo_description},
               "updated_at": V})
    }
}

fn canonical_of(h: &Harness<ShopifyNetsuite>, d: PlatformDoc) -> Vec<CanonicalRecord> {
    match h.to_canonical(vec![d]).unwrap().remove(0) {
        ToCanonicalOutcome::Mapped(rs) => rs,
        other => panic!("{other:?}"),
    }
}

fn single_command(h: &Harness<ShopifyNetsuite>, r: WriteRequest) -> Value {
    match h.from_canonical(vec![r]).unwrap().remove(0) {
        FromCanonicalOutcome::Commands(mut cs) => {
            assert_eq!(cs.len(), 1);
            serde_json::from_str(&cs.remove(0).body).unwrap()
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Shopify -> canonical -> Shopify with the product as current: nothing to write.
    #[test]
    fn shopify_echo_writes_nothing(p in arb_product()) {
        let h = harness(default_config());
        let records = canonical_of(&h, doc("shopify", EntityKind::Product, "88", &p));
        let reqs = records.into_iter().map(|r| WriteRequest {
            deleted: false,
            target: "shopify".into(), record: r, current: Some(p.to_string()), target_id: Some("88".into()),
        }).collect();
        for o in h.from_canonical(reqs).unwrap() {
            prop_assert_eq!(o, FromCanonicalOutcome::Commands(vec![]));
        }
    }

    /// Shopify -> canonical -> NetSuite (fresh items) -> canonical: the same records, and a
    /// second pass with the written items as current writes nothing.
    #[test]
    fn shopify_to_netsuite_round_trip(p in arb_product(), prefix in "[A-Z]{0,3}-?", custom_title in any::<bool>()) {
        let mut config = default_config();
        config["sku_prefix"] = json!(prefix);
        if custom_title {
            config["title_field"] = json!("custitem_web_title");
        }
        let h = harness(config);
        let records = canonical_of(&h, doc("shopify", EntityKind::Product, "88", &p));
        for pair in records.chunks(2) {
            let mut item = Map::new();
            item.insert("id".into(), json!("1"));
            for r in pair {
                let body = single_command(&h, WriteRequest {
                    deleted: false,
                    target: "netsuite".into(), record: r.clone(), current: None, target_id: None,
                });
                apply_netsuite(&mut item, &body);
            }
            let item = Value::Object(item);
            let back = canonical_of(&h, doc("netsuite", EntityKind::Variant, "1", &item));
            prop_assert_eq!(&back, &pair.to_vec());
            for r in pair {
                let o = h.from_canonical(vec![WriteRequest {
                    deleted: false,
                    target: "netsuite".into(), record: r.clone(), current: Some(item.to_string()), target_id: None,
                }]).unwrap();
                prop_assert_eq!(&o[0], &FromCanonicalOutcome::Commands(vec![]));
            }
        }
    }

    /// NetSuite item -> canonical -> Shopify (new product) -> canonical: the same records.
    #[test]
    fn netsuite_to_shopify_round_trip(
        sku in "[A-Z0-9/._-]{1,10}",
        title in "[a-zA-Z0-9 éü&-]{1,20}",
        desc in opt_text(), vendor in opt_text(), barcode in opt_text(),
        inactive in any::<bool>(), price in price_text(), cap in prop::option::of(price_text()),
    ) {
        let h = harness(default_config());
        let item = json!({"id": "1", "externalId": "item-x", "itemId": format!("WEB-{sku}"),
            "displayName": title, "salesDescription": desc, "vendorName": vendor, "upcCode": barcode,
            "isInactive": inactive, "basePrice": price.parse::<f64>().unwrap(),
            "custitem_compare_at_price": cap.as_ref().map(|c| c.parse::<f64>().unwrap())});
        let records = canonical_of(&h, doc("netsuite", EntityKind::Variant, "1", &item));
        let mut product = json!({});
        for r in &records {
            let current = if product.get("id").is_some() { Some(product.to_string()) } else { None };
            let body = single_command(&h, WriteRequest {
                deleted: false,
                target: "shopify".into(), record: r.clone(), current, target_id: None,
            });
            apply_shopify(&mut product, &body);
            if product.get("id").is_none() {
                product["id"] = json!("88");
            }
        }
        let back = canonical_of(&h, doc("shopify", EntityKind::Product, "88", &product));
        prop_assert_eq!(back, records);
    }

    /// Inventory: NetSuite level -> canonical -> Shopify set -> canonical, and back by delta.
    #[test]
    fn inventory_round_trip(on_hand in -50i64..500, shop in -50i64..500) {
        let h = harness(default_config());
        let ns = json!({"item_id": "1201", "sku": "WEB-LS-S", "location_id": "2",
                        "quantity_on_hand": on_hand, "last_modified_date": V});
        let rec = canonical_of(&h, doc("netsuite", EntityKind::InventoryLevel, "1201@2", &ns)).remove(0);
        let sh = json!({"inventory_item_id": "55", "location_id": "61000000002", "available": shop,
                        "updated_at": V, "sku": "LS-S"});
        let out = h.from_canonical(vec![WriteRequest {
            deleted: false,
            target: "shopify".into(), record: rec.clone(), current: Some(sh.to_string()), target_id: None,
        }]).unwrap();
        let mut shop_after = sh.clone();
        if let FromCanonicalOutcome::Commands(cs) = &out[0] {
            for c in cs {
                let body: Value = serde_json::from_str(&c.body).unwrap();
                shop_after["available"] = body["available"].clone();
            }
        }
        let back = canonical_of(&h, doc("shopify", EntityKind::InventoryLevel, "55@61000000002", &shop_after)).remove(0);
        prop_assert_eq!(&back, &rec);

        // Shopify level -> NetSuite delta applied -> same quantity.
        let srec = canonical_of(&h, doc("shopify", EntityKind::InventoryLevel, "55@61000000002", &sh)).remove(0);
        let out = h.from_canonical(vec![WriteRequest {
            deleted: false,
            target: "netsuite".into(), record: srec.clone(), current: Some(ns.to_string()), target_id: None,
        }]).unwrap();
        let mut qty = on_hand;
        if let FromCanonicalOutcome::Commands(cs) = &out[0] {
            for c in cs {
                let body: Value = serde_json::from_str(&c.body).unwrap();
                qty += body["inventory"]["items"][0]["adjustQtyBy"].as_i64().unwrap();
            }
        }
        prop_assert_eq!(qty, shop);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Customers: Shopify -> canonical -> NetSuite record -> canonical, and back to Shopify;
    /// each target, given what was written as current, writes nothing more.
    #[test]
    fn customer_round_trips(
        id in "[1-9][0-9]{0,18}",
        email in opt_text(), first in opt_text(), last in opt_text(), phone in opt_text(),
        tags in prop::collection::btree_set("[a-z]{1,6}", 0..4),
        tax_exempt in prop::option::of(any::<bool>()),
        marketing in prop::option::of(prop::sample::select(vec!["subscribed", "unsubscribed", "pending"])),
    ) {
        let h = harness(default_config());
        let tags: Vec<String> = tags.into_iter().collect();
        // Shopify has no consent for a customer without an email address.
        let marketing = marketing.filter(|_| email.is_some());
        let shop = json!({"id": id, "email": email, "first_name": first, "last_name": last,
                          "phone": phone, "tags": tags.join(", "), "tax_exempt": tax_exempt,
                          "email_marketing": marketing, "updated_at": V});
        let rec = canonical_of(&h, doc("shopify", EntityKind::Customer, &id, &shop)).remove(0);
        let body = single_command(&h, WriteRequest {
            deleted: false,
            target: "netsuite".into(), record: rec.clone(), current: None, target_id: None,
        });
        let mut ns = Map::new();
        ns.insert("id".into(), json!("301"));
        apply_netsuite(&mut ns, &body);
        let ns = Value::Object(ns);
        let back = canonical_of(&h, doc("netsuite", EntityKind::Customer, "301", &ns)).remove(0);
        prop_assert_eq!(&back, &rec);
        let again = h.from_canonical(vec![WriteRequest {
            deleted: false,
            target: "netsuite".into(), record: rec.clone(), current: Some(ns.to_string()), target_id: None,
        }]).unwrap();
        prop_assert_eq!(&again[0], &FromCanonicalOutcome::Commands(vec![]));

        let shop_body = single_command(&h, WriteRequest {
            deleted: false,
            target: "shopify".into(), record: back, current: None, target_id: None,
        });
        let back2 = canonical_of(&h, doc("shopify", EntityKind::Customer, &id, &shop_body)).remove(0);
        prop_assert_eq!(&back2, &rec);
        let again = h.from_canonical(vec![WriteRequest {
            deleted: false,
            target: "shopify".into(), record: rec, current: Some(shop.to_string()), target_id: None,
        }]).unwrap();
        prop_assert_eq!(&again[0], &FromCanonicalOutcome::Commands(vec![]));
    }

    /// Orders: the sales order NetSuite stores for an order (item references turned into
    /// {id, refName}, numbers as NetSuite prints them) is recognised: no second write.
    #[test]
    fn order_echo_writes_nothing(
        lines in prop::collection::vec(("[A-Z0-9-]{1,8}", 1i64..20, price_text()), 1..5),
        cancelled in any::<bool>(),
        guest in any::<bool>(),
    ) {
        let h = harness(json!({"sku_prefix": "WEB-", "default_customer": "42"}));
        let items: Vec<Value> = lines.iter().enumerate().map(|(i, (sku, q, p))| json!({
            "id": i.to_string(), "sku": sku, "quantity": q, "price": p,
            "variant_id": "1", "product_id": "2"})).collect();
        let o = json!({"id": "820982911946154508", "name": "#1001", "email": null,
            "created_at": "2026-11-26T23:59:00+09:00", "updated_at": V,
            "customer": if guest { Value::Null } else { json!({"id": "7001"}) },
            "line_items": items, "total_price": "10.00", "currency": "JPY",
            "financial_status": "pending",
            "cancelled_at": if cancelled { json!("2026-11-27T00:00:00Z") } else { Value::Null }});
        let rec = canonical_of(&h, doc("shopify", EntityKind::Order, "820982911946154508", &o)).remove(0);
        let body = single_command(&h, WriteRequest {
            deleted: false,
            target: "netsuite".into(), record: rec.clone(), current: None, target_id: None,
        });
        prop_assert_eq!(&body["tranDate"], &json!("2026-11-26"));
        let mut stored = body.clone();
        stored["id"] = json!("9001");
        stored["entity"] = json!({"id": "301", "refName": "Someone"});
        if !cancelled {
            stored["orderStatus"] = json!("B");
        }
        for (i, (sku, _, _)) in lines.iter().enumerate() {
            stored["item"]["items"][i]["item"] = json!({"id": format!("{}", 1200 + i), "refName": format!("WEB-{sku}")});
        }
        let again = h.from_canonical(vec![WriteRequest {
            deleted: false,
            target: "netsuite".into(), record: rec, current: Some(stored.to_string()), target_id: Some("9001".into()),
        }]).unwrap();
        prop_assert_eq!(&again[0], &FromCanonicalOutcome::Commands(vec![]));
    }
}

#[test]
fn prices_in_records_must_be_decimals() {
    let h = harness(default_config());
    assert_eq!(
        write(
            &h,
            req(
                "shopify",
                EntityKind::Price,
                "LS-S",
                json!({"sku": "LS-S", "price": "cheap", "compare_at_price": null}),
                Some(&shirt())
            )
        ),
        FromCanonicalOutcome::Failed(ItemError::InvalidInput(
            "price LS-S.price: expected a decimal string, found \"cheap\"".into()
        ))
    );
    assert!(matches!(
        write(
            &h,
            req("netsuite", EntityKind::Product, "P", json!({}), None)
        ),
        FromCanonicalOutcome::Failed(ItemError::Unsupported(_))
    ));
    assert!(matches!(
        one(&h, doc("netsuite", EntityKind::Price, "1", &json!({}))),
        ToCanonicalOutcome::Failed(ItemError::Unsupported(_))
    ));
}

// ---------------------------------------------------------------- deletes (contract 0.5.0)

fn deletion(
    target: &str,
    kind: EntityKind,
    key: &str,
    current: Option<&Value>,
    id: &str,
) -> WriteRequest {
    let mut r = req(target, kind, key, json!({"sku": key}), current);
    r.deleted = true;
    r.target_id = Some(id.into());
    r
}

#[test]
fn a_deletion_is_one_delete_of_the_record_weft_knows_there() {
    let h = harness(default_config());
    // A Shopify variant: by its id, found by SKU in the product weft knows it in.
    let product = shirt();
    let out = write(
        &h,
        deletion(
            "shopify",
            EntityKind::Variant,
            "LS-M",
            Some(&product),
            "8812345678901234567",
        ),
    );
    let cmds = commands(&out);
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let (c, body) = &cmds[0];
    assert_eq!((c.op, c.kind), (WriteOp::Delete, EntityKind::Variant));
    assert_eq!(c.system, "shopify");
    assert_eq!(c.target_id.as_deref(), Some("8812345678901234567"));
    assert_eq!(
        body,
        &json!({"variant_id": "4400000000000000002", "sku": "LS-M"})
    );

    // A SKU the product no longer lists: nothing to delete there.
    let out = write(
        &h,
        deletion(
            "shopify",
            EntityKind::Variant,
            "LS-XL",
            Some(&product),
            "8812345678901234567",
        ),
    );
    assert!(
        matches!(out, FromCanonicalOutcome::Skipped(ref r) if r.contains("no longer lists")),
        "{out:?}"
    );
    // No product document: it cannot be found.
    let out = write(
        &h,
        deletion("shopify", EntityKind::Variant, "LS-M", None, "88"),
    );
    assert!(matches!(out, FromCanonicalOutcome::Skipped(_)), "{out:?}");

    // A Shopify customer, a NetSuite item and customer: by id alone.
    for (target, kind, id) in [
        ("shopify", EntityKind::Customer, "7000000000000000001"),
        ("netsuite", EntityKind::Variant, "1201"),
        ("netsuite", EntityKind::Customer, "42"),
    ] {
        let cmds = commands(&write(&h, deletion(target, kind, "K-1", None, id)));
        assert_eq!(cmds.len(), 1, "{target} {kind:?}: {cmds:?}");
        let (c, body) = &cmds[0];
        assert_eq!(
            (c.op, c.kind, c.system.as_str()),
            (WriteOp::Delete, kind, target)
        );
        assert_eq!(c.target_id.as_deref(), Some(id));
        assert_eq!(body, &json!({}));
    }

    // What is never removed: stock, prices, orders; a NetSuite product (matrix parent).
    for (target, kind) in [
        ("netsuite", EntityKind::InventoryLevel),
        ("netsuite", EntityKind::Price),
        ("shopify", EntityKind::Order),
        ("netsuite", EntityKind::Product),
    ] {
        let out = write(&h, deletion(target, kind, "K-1", None, "1"));
        assert!(
            matches!(out, FromCanonicalOutcome::Skipped(_)),
            "{target} {kind:?}: {out:?}"
        );
    }
}
