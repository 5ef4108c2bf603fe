//! Record API: CRUD, upsert by external id, field validation and NetSuite's error shape,
//! sublists, inventory adjustments, collection paging and `q` filtering.

use crate::common::{Harness, REC, config, id_of, start};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn item(sku: &str) -> serde_json::Value {
    json!({"itemId": sku, "displayName": "Linen Shirt", "basePrice": 49.0, "isInactive": false,
           "custitem_web_title": "Linen Shirt"})
}

#[tokio::test]
async fn post_returns_204_with_location_and_get_renders_the_record() {
    let h = start(config(1)).await;
    let r = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("WEB-LS-1"))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, serde_json::Value::Null);
    let loc = r.location.clone().unwrap();
    assert!(
        loc.starts_with(&format!("{}{REC}/inventoryItem/", h.server.base_url())),
        "{loc}"
    );
    let id = id_of(&r.location);

    let got = h.client.get(&format!("{REC}/inventoryItem/{id}")).await;
    assert_eq!(got.status, 200);
    let b = &got.body;
    assert_eq!(b["id"], json!(id));
    assert_eq!(b["itemId"], "WEB-LS-1");
    assert_eq!(b["basePrice"], json!(49.0));
    assert_eq!(b["custitem_web_title"], "Linen Shirt");
    assert_eq!(b["links"][0]["rel"], "self");
    assert_eq!(b["links"][0]["href"], json!(loc));
    let lmd = b["lastModifiedDate"].as_str().unwrap();
    assert!(
        lmd.starts_with("2026-01-01T00:0") && lmd.ends_with('Z'),
        "{lmd}"
    );
    // Sublists are collapsed to a link unless expanded.
    assert_eq!(
        b["locations"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["links"]
    );
    assert_eq!(
        b["locations"]["links"][0]["href"],
        json!(format!("{loc}/locations"))
    );

    let exp = h
        .client
        .get(&format!("{REC}/inventoryItem/{id}?expandSubResources=true"))
        .await;
    let lines = exp.body["locations"]["items"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["location"]["id"], "1");
    assert_eq!(lines[0]["location"]["refName"], "Main Warehouse");
    assert_eq!(lines[0]["quantityOnHand"], json!(0));

    // The sublist is a sub-resource of its own.
    let sub = h
        .client
        .get(&format!("{REC}/inventoryItem/{id}/locations"))
        .await;
    assert_eq!(sub.status, 200);
    assert_eq!(sub.body["totalResults"], json!(3));
}

#[tokio::test]
async fn two_puts_with_one_external_id_make_one_record() {
    let h = start(config(2)).await;
    let path = format!("{REC}/customer/eid:shopify-customer-7000000000000000001");
    let body = json!({"externalId": "shopify-customer-7000000000000000001", "firstName": "Ada",
                      "lastName": "Lovelace", "email": "ada@example.com", "isPerson": true});
    let a = h.client.put(&path, &body).await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let mut body2 = body.clone();
    body2["email"] = json!("ada@lovelace.dev");
    let b = h.client.put(&path, &body2).await;
    assert_eq!(b.status, 204, "{:?}", b.body);
    assert_eq!(a.location, b.location, "the upsert updated the same record");

    let list = h.client.get(&format!("{REC}/customer")).await;
    assert_eq!(list.body["totalResults"], json!(1));
    let got = h.client.get(&path).await;
    assert_eq!(got.body["email"], "ada@lovelace.dev");
    assert_eq!(
        got.body["entityId"],
        json!(format!("CUST{}", id_of(&a.location)))
    );
    assert_eq!(got.body["subsidiary"]["id"], "1");
    let stats = h.sim.stats();
    assert_eq!(stats.api_writes["customer"].creates, 1);
    assert_eq!(stats.api_writes["customer"].updates, 1);
}

#[tokio::test]
async fn put_on_internal_id_is_not_allowed_and_patch_updates() {
    let h = start(config(3)).await;
    let r = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("A-1"))
        .await;
    let id = id_of(&r.location);
    let put = h
        .client
        .put(&format!("{REC}/inventoryItem/{id}"), &item("A-1"))
        .await;
    assert_eq!(put.status, 405);
    assert_eq!(put.code(), "INVALID_REQUEST");

    h.sim.advance_clock(Duration::from_secs(90));
    let p = h
        .client
        .patch(
            &format!("{REC}/inventoryItem/{id}"),
            &json!({"externalId": "item-A-1", "basePrice": 51.5}),
        )
        .await;
    assert_eq!(p.status, 204, "{:?}", p.body);
    let got = h
        .client
        .get(&format!("{REC}/inventoryItem/eid:item-A-1"))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["basePrice"], json!(51.5));
    assert_eq!(
        got.body["displayName"], "Linen Shirt",
        "PATCH leaves other fields"
    );
    let lmd = got.body["lastModifiedDate"].as_str().unwrap();
    assert!(lmd.starts_with("2026-01-01T00:01:3"), "{lmd}");
}

#[tokio::test]
async fn error_shapes_for_bad_writes() {
    let h = start(config(4)).await;
    // Unknown field.
    let r = h
        .client
        .post(
            &format!("{REC}/inventoryItem"),
            &json!({"itemId": "X", "title": "no such field"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "INVALID_FIELD");
    assert_eq!(r.body["o:errorDetails"][0]["o:errorPath"], "title");
    assert_eq!(r.body["status"], json!(400));
    assert_eq!(r.body["title"], "Bad Request");
    assert!(r.body["type"].as_str().unwrap().starts_with("https://"));
    // Read-only sublist.
    let r = h
        .client
        .post(
            &format!("{REC}/inventoryItem"),
            &json!({"itemId": "X", "locations": {"items": []}}),
        )
        .await;
    assert_eq!(r.code(), "INVALID_FIELD");
    // Wrong type.
    let r = h
        .client
        .post(
            &format!("{REC}/inventoryItem"),
            &json!({"itemId": "X", "basePrice": "12.00"}),
        )
        .await;
    assert_eq!(r.code(), "INVALID_FLD_VALUE");
    // Missing mandatory value.
    let r = h
        .client
        .post(
            &format!("{REC}/inventoryItem"),
            &json!({"displayName": "x"}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR");
    assert!(
        r.detail().contains("Please enter value(s) for"),
        "{}",
        r.detail()
    );
    // Bad external id characters, in the URL and in the body.
    let r = h
        .client
        .put(
            &format!("{REC}/customer/eid:bad.id"),
            &json!({"lastName": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "INVALID_ID"));
    let r = h
        .client
        .post(
            &format!("{REC}/customer"),
            &json!({"externalId": "a|b", "lastName": "x"}),
        )
        .await;
    assert_eq!(r.code(), "INVALID_ID");
    // Reference to a customer that doesn't exist.
    let it = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("SO-ITEM"))
        .await;
    let item_id = id_of(&it.location);
    let r = h
        .client
        .post(
            &format!("{REC}/salesOrder"),
            &json!({"entity": {"id": "999999"}, "item": {"items": [{"item": {"id": item_id}, "quantity": 1, "rate": 5.0}]}}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "INVALID_KEY_OR_REF"));
    assert_eq!(r.body["o:errorDetails"][0]["o:errorPath"], "entity");
    let r = h
        .client
        .post(
            &format!("{REC}/salesOrder"),
            &json!({"entity": {"externalId": "nobody"}, "item": {"items": [{"item": {"id": item_id}, "quantity": 1}]}}),
        )
        .await;
    assert_eq!(r.code(), "INVALID_KEY_OR_REF");
    // Duplicate itemId and duplicate externalId.
    let r = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("SO-ITEM"))
        .await;
    assert_eq!(r.code(), "DUP_ITEM");
    h.client
        .post(
            &format!("{REC}/customer"),
            &json!({"externalId": "c1", "lastName": "x"}),
        )
        .await;
    let r = h
        .client
        .post(
            &format!("{REC}/customer"),
            &json!({"externalId": "c1", "lastName": "y"}),
        )
        .await;
    assert_eq!(r.code(), "DUP_RCRD");
    // Not found, unknown type, malformed JSON, body eid differing from the URL.
    let r = h.client.get(&format!("{REC}/customer/424242")).await;
    assert_eq!((r.status, r.code()), (404, "NONEXISTENT_ID"));
    let r = h.client.get(&format!("{REC}/widget/1")).await;
    assert_eq!(r.status, 404);
    let url = format!("{}{REC}/customer", h.client.base);
    let auth = h.client.auth("POST", &url);
    let resp = h
        .client
        .http
        .post(&url)
        .header("Authorization", auth)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["o:errorDetails"][0]["o:errorCode"], "INVALID_CONTENT");
    let r = h
        .client
        .put(
            &format!("{REC}/customer/eid:c2"),
            &json!({"externalId": "c3", "lastName": "x"}),
        )
        .await;
    assert_eq!(r.code(), "INVALID_FLD_VALUE");
    // Nothing invalid was stored.
    assert_eq!(h.sim.stats().all_writes["customer"].creates, 1);
    assert_eq!(h.sim.stats().all_writes["inventoryItem"].creates, 1);
}

#[tokio::test]
async fn sales_orders_compute_totals_and_reference_by_external_id() {
    let h = start(config(5)).await;
    h.client
        .put(
            &format!("{REC}/inventoryItem/eid:item-LS-S-WH"),
            &item("WEB-LS-S-WH"),
        )
        .await;
    h.client
        .put(
            &format!("{REC}/customer/eid:shopify-customer-1"),
            &json!({"firstName": "Ada", "lastName": "Lovelace", "isPerson": true}),
        )
        .await;
    let order = json!({
        "externalId": "shopify-order-820982911946154508",
        "entity": {"externalId": "shopify-customer-1"},
        "tranDate": "2026-01-01", "memo": "#1001", "otherRefNum": "#1001",
        "item": {"items": [
            {"item": {"externalId": "item-LS-S-WH"}, "quantity": 2, "rate": 49.0, "amount": 98.0},
            {"item": {"externalId": "item-LS-S-WH"}, "quantity": 1}
        ]},
        "custbody_shopify_currency": "EUR"
    });
    let path = format!("{REC}/salesOrder/eid:shopify-order-820982911946154508");
    let r = h.client.put(&path, &order).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r2 = h.client.put(&path, &order).await;
    assert_eq!(r2.status, 204);
    let got = h
        .client
        .get(&format!("{path}?expandSubResources=true"))
        .await;
    let b = &got.body;
    assert_eq!(b["tranId"], "SO1001");
    assert_eq!(b["orderStatus"], "B");
    assert_eq!(b["entity"]["refName"], "Ada Lovelace");
    assert_eq!(b["total"], json!(147.0));
    let lines = b["item"]["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "PUT replaces lines, never appends");
    assert_eq!(lines[1]["rate"], json!(49.0), "rate defaults to basePrice");
    assert_eq!(lines[0]["item"]["refName"], "WEB-LS-S-WH");
    assert_eq!(b["custbody_shopify_currency"], "EUR");
    assert_eq!(h.sim.stats().all_writes["salesOrder"].creates, 1);

    // Cancelling is a status change.
    let r = h.client.patch(&path, &json!({"orderStatus": "C"})).await;
    assert_eq!(r.status, 204);
    assert_eq!(h.client.get(&path).await.body["orderStatus"], "C");
    // A sales order without lines is refused.
    let r = h
        .client
        .post(
            &format!("{REC}/salesOrder"),
            &json!({"entity": {"externalId": "shopify-customer-1"}}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR");
    // A customer with orders cannot be deleted.
    let r = h
        .client
        .send(
            Method::DELETE,
            &format!("{REC}/customer/eid:shopify-customer-1"),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn adjustments_move_stock_once_per_external_id() {
    let h = start(config(6)).await;
    let it = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("STOCK-1"))
        .await;
    let item_id = id_of(&it.location);
    let before = h
        .client
        .get(&format!("{REC}/inventoryItem/{item_id}"))
        .await
        .body["lastModifiedDate"]
        .clone();
    h.sim.advance_clock(Duration::from_secs(5));
    let adj = json!({
        "tranDate": "2026-01-01", "memo": "weft stock sync STOCK-1",
        "adjLocation": {"id": "2"},
        "inventory": {"items": [{"item": {"id": item_id}, "location": {"id": "2"}, "adjustQtyBy": 7}]}
    });
    let path = format!("{REC}/inventoryAdjustment/eid:weft-adj-1");
    assert_eq!(h.client.put(&path, &adj).await.status, 204);
    assert_eq!(
        h.client.put(&path, &adj).await.status,
        204,
        "a retried upsert"
    );
    assert_eq!(h.sim.on_hand(&item_id, "2"), 7.0, "applied once");
    let got = h
        .client
        .get(&format!(
            "{REC}/inventoryItem/{item_id}?expandSubResources=true"
        ))
        .await;
    assert_eq!(
        got.body["locations"]["items"][1]["quantityOnHand"],
        json!(7)
    );
    assert_eq!(
        got.body["lastModifiedDate"], before,
        "a transaction moves the item's quantities, not the item record"
    );

    // Editing the adjustment re-posts only the difference.
    let mut edited = adj.clone();
    edited["inventory"]["items"][0]["adjustQtyBy"] = json!(4);
    assert_eq!(h.client.put(&path, &edited).await.status, 204);
    assert_eq!(h.sim.on_hand(&item_id, "2"), 4.0);
    // A line without a location takes adjLocation; an unknown location is refused.
    let r = h
        .client
        .post(
            &format!("{REC}/inventoryAdjustment"),
            &json!({"adjLocation": {"id": "3"}, "inventory": {"items": [{"item": {"id": item_id}, "adjustQtyBy": -2}]}}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(h.sim.on_hand(&item_id, "3"), -2.0);
    let r = h
        .client
        .post(
            &format!("{REC}/inventoryAdjustment"),
            &json!({"inventory": {"items": [{"item": {"id": item_id}, "location": {"id": "99"}, "adjustQtyBy": 1}]}}),
        )
        .await;
    assert_eq!(r.code(), "INVALID_KEY_OR_REF");
    // Deleting the adjustment reverses it.
    let r = h.client.send(Method::DELETE, &path, None).await;
    assert_eq!(r.status, 204);
    assert_eq!(h.sim.on_hand(&item_id, "2"), 0.0);
}

#[tokio::test]
async fn patch_adds_sublist_lines_unless_replaced() {
    let h = start(config(7)).await;
    let a = id_of(
        &h.client
            .post(&format!("{REC}/inventoryItem"), &item("P-1"))
            .await
            .location,
    );
    let c = id_of(
        &h.client
            .post(&format!("{REC}/customer"), &json!({"lastName": "L"}))
            .await
            .location,
    );
    let so = h
        .client
        .post(
            &format!("{REC}/salesOrder"),
            &json!({"entity": {"id": c}, "item": {"items": [{"item": {"id": a}, "quantity": 1, "rate": 10.0}]}}),
        )
        .await;
    let so_id = id_of(&so.location);
    let line = json!({"item": {"items": [{"item": {"id": a}, "quantity": 2, "rate": 10.0}]}});
    h.client
        .patch(&format!("{REC}/salesOrder/{so_id}"), &line)
        .await;
    let got = h
        .client
        .get(&format!("{REC}/salesOrder/{so_id}?expandSubResources=true"))
        .await;
    assert_eq!(got.body["item"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(got.body["total"], json!(30.0));
    h.client
        .patch(&format!("{REC}/salesOrder/{so_id}?replace=item"), &line)
        .await;
    let got = h
        .client
        .get(&format!("{REC}/salesOrder/{so_id}?expandSubResources=true"))
        .await;
    assert_eq!(got.body["item"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(got.body["total"], json!(20.0));
}

#[tokio::test]
async fn collections_page_and_filter_by_last_modified_date() {
    let h = start(config(8)).await;
    for i in 0..5 {
        h.client
            .post(
                &format!("{REC}/customer"),
                &json!({"lastName": format!("C{i}")}),
            )
            .await;
        h.sim.advance_clock(Duration::from_secs(60));
    }
    let page = h
        .client
        .get(&format!("{REC}/customer?limit=2&offset=2"))
        .await;
    assert_eq!(page.status, 200);
    let b = &page.body;
    assert_eq!(
        (
            b["count"].clone(),
            b["totalResults"].clone(),
            b["offset"].clone()
        ),
        (json!(2), json!(5), json!(2))
    );
    assert_eq!(b["hasMore"], json!(true));
    let items = b["items"].as_array().unwrap();
    assert_eq!(
        items[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["links", "id"]
    );
    let rels: Vec<&str> = b["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(
        rels.contains(&"next") && rels.contains(&"self") && rels.contains(&"last"),
        "{rels:?}"
    );
    let last = h
        .client
        .get(&format!("{REC}/customer?limit=2&offset=4"))
        .await;
    assert_eq!(last.body["hasMore"], json!(false));
    assert_eq!(last.body["count"], json!(1));
    let bad = h.client.get(&format!("{REC}/customer?limit=1001")).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_PARAMETER"));

    let q = "/customer?q=lastModifiedDate%20ON_OR_AFTER%20%222026-01-01T00%3A02%3A00Z%22";
    let f = h.client.get(&format!("{REC}{q}")).await;
    assert_eq!(f.status, 200, "{:?}", f.body);
    assert_eq!(f.body["totalResults"], json!(3));
    let bad = h
        .client
        .get(&format!("{REC}/customer?q=lastModifiedDate%20SOMEDAY%20x"))
        .await;
    assert_eq!(bad.code(), "INVALID_PARAMETER");
}

#[tokio::test]
async fn sales_orders_carry_addresses_shipping_legacy_tax_and_a_discount_and_total_them() {
    let h = start(config(5)).await;
    h.client
        .put(
            &format!("{REC}/inventoryItem/eid:item-LS-S-WH"),
            &item("WEB-LS-S-WH"),
        )
        .await;
    h.client
        .put(
            &format!("{REC}/customer/eid:shopify-customer-1"),
            &json!({"firstName": "Ada", "lastName": "Lovelace", "isPerson": true}),
        )
        .await;
    let order = json!({
        "externalId": "shopify-order-1",
        "entity": {"externalId": "shopify-customer-1"},
        "item": {"items": [
            {"item": {"externalId": "item-LS-S-WH"}, "quantity": 2, "rate": 49.0, "amount": 98.0,
             "taxRate1": 20.0, "tax1Amt": 17.64, "custcol_shopify_discount": 9.8}
        ]},
        "billingAddress": {"addressee": "Engines Ltd", "attention": "Ada Lovelace",
                           "addr1": "12 St James's Square", "city": "London", "country": "GB"},
        "shippingAddress": {"addressee": "Ada Lovelace", "addr1": "12 St James's Square",
                            "zip": "SW1Y 4JH", "country": "GB", "addrPhone": "+442071234567"},
        "shipMethod": {"id": "1"}, "shippingCost": 4.95, "shippingTax1Amt": 0.99,
        "discountItem": {"id": "1"}, "discountRate": -9.8
    });
    let path = format!("{REC}/salesOrder/eid:shopify-order-1");
    let r = h.client.put(&path, &order).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let b = h
        .client
        .get(&format!("{path}?expandSubResources=true"))
        .await
        .body;
    // subtotal + discountTotal + taxTotal + shippingCost = total
    assert_eq!(b["subtotal"], json!(98.0));
    assert_eq!(b["discountTotal"], json!(-9.8));
    assert_eq!(b["taxTotal"], json!(18.63));
    assert_eq!(b["total"], json!(111.78));
    assert_eq!(b["shipMethod"]["refName"], "Ground");
    assert_eq!(b["discountItem"]["refName"], "Web Discount");
    assert_eq!(b["billingAddress"]["attention"], "Ada Lovelace");
    assert_eq!(b["shippingAddress"]["country"], "GB");
    assert!(
        b["shippingAddress"]["addrText"]
            .as_str()
            .unwrap()
            .contains("SW1Y 4JH")
    );
    let line = &b["item"]["items"][0];
    assert_eq!(line["tax1Amt"], json!(17.64));
    assert_eq!(line["custcol_shopify_discount"], json!(9.8));

    // What the real API refuses: a discount without its item, a positive discount, a country
    // that is not a code, an unknown address field, an unknown ship item, a read-only total.
    for (patch, code) in [
        (
            json!({"discountItem": null, "discountRate": -1.0}),
            "USER_ERROR",
        ),
        (json!({"discountRate": 5.0}), "INVALID_FLD_VALUE"),
        (
            json!({"shippingAddress": {"country": "United Kingdom"}}),
            "INVALID_FLD_VALUE",
        ),
        (json!({"shippingAddress": {"street": "x"}}), "INVALID_FIELD"),
        (json!({"shipMethod": {"id": "99"}}), "INVALID_KEY_OR_REF"),
        (json!({"taxTotal": 1.0}), "INVALID_FIELD"),
    ] {
        let r = h.client.patch(&path, &patch).await;
        assert_eq!(r.code(), code, "{patch}: {:?}", r.body);
    }
    // Clearing the shipping makes the total follow.
    let r = h
        .client
        .patch(
            &path,
            &json!({"shippingCost": null, "shippingTax1Amt": null, "shipMethod": null}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(h.client.get(&path).await.body["total"], json!(105.84));
}

/// A sales order commits its lines at their location, an item fulfilment transformed from it
/// lowers on hand and the commitment, closing a line releases what it still commits, and stock
/// arriving commits what was back ordered.
#[tokio::test]
async fn orders_commit_fulfilments_ship_and_closing_releases() {
    let h = start(config(7)).await;
    let it = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("LEDGER-1"))
        .await;
    let item_id = id_of(&it.location);
    h.sim
        .erp_adjust_inventory(&item_id, "1", 10.0, Some("opening"))
        .unwrap();
    h.client
        .post(
            &format!("{REC}/customer"),
            &json!({"externalId": "c-1", "firstName": "Ada", "lastName": "L"}),
        )
        .await;
    let q = |h: &Harness| h.sim.quantities(&item_id, "1");
    assert_eq!(
        (q(&h).on_hand, q(&h).committed, q(&h).available),
        (10.0, 0.0, 10.0)
    );

    // Two lines of one item: 4 and 8 against 10 on hand: 4 + 6 committed, 2 back ordered.
    let so_path = format!("{REC}/salesOrder/eid:so-1");
    let so = json!({"entity": {"externalId": "c-1"}, "item": {"items": [
        {"item": {"id": item_id}, "quantity": 4, "rate": 5},
        {"item": {"id": item_id}, "quantity": 8, "rate": 5},
    ]}});
    assert_eq!(h.client.put(&so_path, &so).await.status, 204);
    let got = q(&h);
    assert_eq!(
        (got.on_hand, got.committed, got.available, got.back_ordered),
        (10.0, 10.0, 0.0, 2.0)
    );
    let body = h
        .client
        .get(&format!("{so_path}?expandSubResources=true"))
        .await
        .body;
    let lines = &body["item"]["items"];
    assert_eq!(lines[0]["location"]["id"], "1", "the default location");
    assert_eq!(lines[1]["quantityCommitted"], json!(6));
    assert_eq!(lines[1]["quantityBackOrdered"], json!(2));
    // Read-only line fields are refused on write.
    let mut bad = so.clone();
    bad["item"]["items"][0]["quantityCommitted"] = json!(1);
    assert_eq!(h.client.put(&so_path, &bad).await.code(), "INVALID_FIELD");

    // An item fulfilment cannot be posted directly; it is transformed from the order.
    let r = h
        .client
        .post(&format!("{REC}/itemFulfillment"), &json!({"memo": "x"}))
        .await;
    assert_eq!(r.code(), "INVALID_REQUEST");
    let so_id = {
        let b = h.client.get(&so_path).await.body;
        b["id"].as_str().unwrap().to_owned()
    };
    let transform = format!("{REC}/salesOrder/{so_id}/!transform/itemFulfillment");
    // More than the line commits is refused.
    let r = h
        .client
        .post(
            &transform,
            &json!({"item": {"items": [{"orderLine": 2, "quantity": 7}]}}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR", "{:?}", r.body);
    // A partial fulfilment with a tracking number.
    h.sim.advance_clock(Duration::from_secs(3));
    let r = h
        .client
        .post(
            &transform,
            &json!({"item": {"items": [{"orderLine": 1, "quantity": 3, "itemReceive": true}]},
                    "package": {"items": [{"packageTrackingNumber": "1Z999"}]},
                    "shipCarrier": "UPS"}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let if_id = id_of(&r.location);
    let got = q(&h);
    assert_eq!(
        (got.on_hand, got.committed, got.available, got.back_ordered),
        (7.0, 7.0, 0.0, 2.0)
    );
    let f = h
        .client
        .get(&format!(
            "{REC}/itemFulfillment/{if_id}?expandSubResources=true"
        ))
        .await
        .body;
    assert_eq!(f["createdFrom"]["id"], so_id);
    assert_eq!(f["package"]["items"][0]["packageTrackingNumber"], "1Z999");
    assert_eq!(f["shipCarrier"], "UPS");
    assert_eq!(f["item"]["items"][0]["quantity"], json!(3));
    let body = h
        .client
        .get(&format!("{so_path}?expandSubResources=true"))
        .await
        .body;
    assert_eq!(body["orderStatus"], "D", "partially fulfilled");
    assert_eq!(body["item"]["items"][0]["quantityFulfilled"], json!(3));
    // The fulfilment modified the order, not the item.
    assert_eq!(
        body["lastModifiedDate"],
        json!(weft_sim_netsuite::clock::format_datetime(h.sim.now()))
    );

    // A fulfilled order cannot be cancelled, nor its fulfilled line shrunk; closing the
    // second line releases its commitment.
    let r = h
        .client
        .patch(
            &so_path.replace("eid:so-1", &so_id),
            &json!({"orderStatus": "C"}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR");
    let mut shrunk = so.clone();
    shrunk["item"]["items"][0]["quantity"] = json!(2);
    assert_eq!(h.client.put(&so_path, &shrunk).await.code(), "USER_ERROR");
    let mut closed = so.clone();
    closed["item"]["items"][1]["isClosed"] = json!(true);
    assert_eq!(h.client.put(&so_path, &closed).await.status, 204);
    let got = q(&h);
    assert_eq!(
        (got.on_hand, got.committed, got.available, got.back_ordered),
        (7.0, 1.0, 6.0, 0.0)
    );
    // The rest of line 1 ships with no body: every committed quantity. The order is then
    // fully fulfilled (its closed line aside).
    let r = h.client.post(&transform, &json!({})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let got = q(&h);
    assert_eq!((got.on_hand, got.committed, got.available), (6.0, 0.0, 6.0));
    assert_eq!(h.client.get(&so_path).await.body["orderStatus"], "F");
    // Deleting a fulfilment puts its stock back and re-commits the line.
    let r = h
        .client
        .send(
            Method::DELETE,
            &format!("{REC}/itemFulfillment/{if_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let got = q(&h);
    assert_eq!((got.on_hand, got.committed, got.available), (9.0, 3.0, 6.0));

    // SuiteQL sees the quantities, the fulfilment transaction and its lines.
    let rows = h
        .client
        .suiteql(&format!(
            "SELECT quantityonhand, quantitycommitted, quantityavailable, quantitybackordered FROM inventoryitemlocations WHERE item = {item_id} AND location = 1"
        ), 10, 0)
        .await
        .body["items"]
        .clone();
    assert_eq!(rows[0]["quantitycommitted"], json!(3), "{rows:?}");
    let rows = h
        .client
        .suiteql(
            &format!(
                "SELECT transaction, item, quantity FROM transactionline WHERE item = {item_id}"
            ),
            10,
            0,
        )
        .await
        .body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(rows.len() >= 3, "{rows:?}");
}

/// Stock arriving commits what was back ordered, in order of entry; cancelling an order
/// releases everything it committed.
#[tokio::test]
async fn receipts_commit_back_orders_and_cancelling_releases() {
    let h = start(config(8)).await;
    let it = h
        .client
        .post(&format!("{REC}/inventoryItem"), &item("LEDGER-2"))
        .await;
    let item_id = id_of(&it.location);
    h.client
        .post(
            &format!("{REC}/customer"),
            &json!({"externalId": "c-2", "firstName": "Alan", "lastName": "T"}),
        )
        .await;
    let order = |n: u32| {
        json!({"entity": {"externalId": "c-2"}, "location": {"id": "2"}, "item": {"items": [
            {"item": {"id": item_id}, "quantity": n, "rate": 1}
        ]}})
    };
    assert_eq!(
        h.client
            .put(&format!("{REC}/salesOrder/eid:a"), &order(3))
            .await
            .status,
        204
    );
    assert_eq!(
        h.client
            .put(&format!("{REC}/salesOrder/eid:b"), &order(2))
            .await
            .status,
        204
    );
    let q = |h: &Harness| h.sim.quantities(&item_id, "2");
    assert_eq!((q(&h).committed, q(&h).back_ordered), (0.0, 5.0));
    h.sim
        .erp_adjust_inventory(&item_id, "2", 4.0, None)
        .unwrap();
    assert_eq!(
        (q(&h).committed, q(&h).back_ordered, q(&h).available),
        (4.0, 1.0, 0.0)
    );
    let a = h
        .client
        .get(&format!("{REC}/salesOrder/eid:a?expandSubResources=true"))
        .await
        .body;
    assert_eq!(
        a["item"]["items"][0]["quantityCommitted"],
        json!(3),
        "first entered, first committed"
    );
    let mut cancelled = order(3);
    cancelled["orderStatus"] = json!("C");
    assert_eq!(
        h.client
            .put(&format!("{REC}/salesOrder/eid:a"), &cancelled)
            .await
            .status,
        204
    );
    assert_eq!(
        (q(&h).committed, q(&h).back_ordered, q(&h).available),
        (2.0, 0.0, 2.0)
    );
    // A cancelled order cannot be fulfilled.
    let a_id = a["id"].as_str().unwrap();
    let r = h
        .client
        .post(
            &format!("{REC}/salesOrder/{a_id}/!transform/itemFulfillment"),
            &json!({}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR");
}

#[tokio::test]
async fn credit_memos_return_inventory_lines_to_stock_once_and_non_inventory_lines_never() {
    let h = start(config(7)).await;
    let item_id = id_of(
        &h.client
            .post(&format!("{REC}/inventoryItem"), &item("RET-1"))
            .await
            .location,
    );
    let cust = id_of(
        &h.client
            .post(
                &format!("{REC}/customer"),
                &json!({"firstName": "Ada", "lastName": "L", "externalId": "c-1"}),
            )
            .await
            .location,
    );
    // A customer is required, and at least one line.
    let r = h
        .client
        .post(
            &format!("{REC}/creditMemo"),
            &json!({"item": {"items": [{"item": {"id": item_id}, "quantity": 1, "amount": 5}]}}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR", "{:?}", r.body);
    let r = h
        .client
        .post(
            &format!("{REC}/creditMemo"),
            &json!({"entity": {"id": cust}, "item": {"items": []}}),
        )
        .await;
    assert_eq!(r.code(), "USER_ERROR", "{:?}", r.body);

    // Two returned to location 2, one refunded without return on the non-inventory item.
    let memo = json!({
        "entity": {"externalId": "c-1"}, "tranDate": "2026-01-02", "otherRefNum": "#1001",
        "item": {"items": [
            {"item": {"externalId": "missing"}, "quantity": 1, "amount": 1}
        ]}
    });
    let path = format!("{REC}/creditMemo/eid:shopify-refund-1");
    assert_eq!(
        h.client.put(&path, &memo).await.code(),
        "INVALID_KEY_OR_REF",
        "an item named by an unknown external id"
    );
    let memo = json!({
        "entity": {"externalId": "c-1"}, "tranDate": "2026-01-02", "otherRefNum": "#1001",
        "item": {"items": [
            {"item": {"id": item_id}, "quantity": 2, "amount": 98, "location": {"id": "2"}},
            {"item": {"id": "1"}, "quantity": 1, "amount": 49, "description": "RET-1 not returned"}
        ]}
    });
    assert_eq!(h.client.put(&path, &memo).await.status, 204);
    assert_eq!(h.client.put(&path, &memo).await.status, 204, "a resend");
    assert_eq!(h.sim.on_hand(&item_id, "2"), 2.0, "returned once");
    assert_eq!(h.sim.on_hand(&item_id, "1"), 0.0, "nothing elsewhere");
    let got = h
        .client
        .get(&format!("{path}?expandSubResources=true"))
        .await;
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(got.body["total"], json!(147.0));
    assert_eq!(got.body["tranId"], json!("CM1"));
    assert_eq!(
        got.body["item"]["items"][1]["item"]["refName"],
        json!("Refund - Not Returned")
    );
    // SuiteQL sees it as a CustCred transaction with positive lines.
    let q = h
        .client
        .suiteql(
            "SELECT id, type FROM transaction WHERE type = 'CustCred'",
            10,
            0,
        )
        .await;
    assert_eq!(
        q.body["items"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        q.body
    );
    // A customer with a credit memo cannot be deleted; deleting the memo takes the units back.
    let r = h
        .client
        .send(Method::DELETE, &format!("{REC}/customer/{cust}"), None)
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(h.client.send(Method::DELETE, &path, None).await.status, 204);
    assert_eq!(h.sim.on_hand(&item_id, "2"), 0.0);
}
