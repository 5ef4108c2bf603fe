//! The REST surface: batch limit, WordPress pagination and argument validation, filters, error
//! shapes, products/variations/orders/customers rules.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use weft_sim_woocommerce::{Kind, OrderLine};

async fn product(sim: &weft_sim_woocommerce::WooSim, sku: &str, qty: i64) -> u64 {
    let r = post(
        sim,
        "/wp-json/wc/v3/products",
        json!({"name": format!("Widget {sku}"), "sku": sku, "regular_price": "9.50",
            "manage_stock": true, "stock_quantity": qty}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_u64().unwrap()
}

#[tokio::test]
async fn batch_over_one_hundred_items_is_413_with_woocommerce_body() {
    let sim = sim();
    let create: Vec<Value> = (0..60)
        .map(|i| json!({"name": format!("P{i}"), "sku": format!("S{i}")}))
        .collect();
    let update: Vec<Value> = (0..30).map(|i| json!({"id": 1000 + i})).collect();
    let delete: Vec<u64> = (0..11).collect();
    let r = post(
        &sim,
        "/wp-json/wc/v3/products/batch",
        json!({"create": create, "update": update, "delete": delete}),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_request_entity_too_large",
            "message": "Unable to accept more than 100 items for this request.",
            "data": {"status": 413}})
    );
    assert!(sim.all(Kind::Product).is_empty(), "nothing applied");

    // Exactly 100 is accepted; failing items carry their error in place.
    let mut create: Vec<Value> = (0..99)
        .map(|i| json!({"name": format!("P{i}"), "sku": format!("S{i}")}))
        .collect();
    create.push(json!({"name": "dup", "sku": "S1"}));
    let r = post(
        &sim,
        "/wp-json/wc/v3/products/batch",
        json!({"create": create}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.body["create"].as_array().unwrap();
    assert_eq!(out.len(), 100);
    assert_eq!(out[99]["id"], 0);
    assert_eq!(out[99]["error"]["code"], "product_invalid_sku");
    assert_eq!(out[99]["error"]["data"]["status"], 400);
    assert_eq!(sim.all(Kind::Product).len(), 99);
}

#[tokio::test]
async fn batch_updates_and_force_deletes_with_per_item_errors() {
    let sim = sim();
    let a = product(&sim, "A", 1).await;
    let b = product(&sim, "B", 1).await;
    let r = call(
        &sim,
        "PUT",
        "/wp-json/wc/v3/products/batch",
        Some(
            json!({"update": [{"id": a, "regular_price": "4.00"}, {"id": 999_999, "name": "x"}],
            "delete": [b]}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["update"][0]["price"], "4.00");
    assert_eq!(r.body["update"][1]["id"], 999_999);
    assert_eq!(
        r.body["update"][1]["error"]["code"],
        "woocommerce_rest_product_invalid_id"
    );
    assert_eq!(r.body["delete"][0]["id"], b);
    assert_eq!(
        get(&sim, &format!("/wp-json/wc/v3/products/{b}"))
            .await
            .status,
        404,
        "batch deletes are forced, not trashed"
    );
}

#[tokio::test]
async fn per_page_outside_one_to_one_hundred_is_rest_invalid_param() {
    let sim = sim();
    for bad in ["0", "101", "-1", "abc"] {
        let r = get(&sim, &format!("/wp-json/wc/v3/products?per_page={bad}")).await;
        assert_eq!(r.status, 400, "per_page={bad}");
        assert_eq!(r.body["code"], "rest_invalid_param");
        assert_eq!(r.body["message"], "Invalid parameter(s): per_page");
        assert_eq!(r.body["data"]["status"], 400);
        assert!(r.body["data"]["params"]["per_page"].is_string());
    }
    let r = get(&sim, "/wp-json/wc/v3/products?per_page=101").await;
    assert_eq!(
        r.body["data"]["params"]["per_page"],
        "per_page must be between 1 (inclusive) and 100 (inclusive)"
    );
    for ok in ["1", "100"] {
        let r = get(&sim, &format!("/wp-json/wc/v3/orders?per_page={ok}")).await;
        assert_eq!(r.status, 200);
    }
    let r = get(&sim, "/wp-json/wc/v3/customers?page=0").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "Invalid parameter(s): page");
}

#[tokio::test]
async fn pagination_headers_and_link_follow_wordpress() {
    let sim = sim();
    for i in 0..25 {
        sim.create_product(json!({"name": format!("P{i}"), "sku": format!("S{i:02}")}))
            .unwrap();
    }
    let r = get(
        &sim,
        "/wp-json/wc/v3/products?per_page=10&page=2&orderby=id&order=asc",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-wp-total"], "25");
    assert_eq!(r.headers["x-wp-totalpages"], "3");
    let items = r.body.as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(items[0]["sku"], "S10");
    let link = r.headers["link"].to_str().unwrap();
    assert!(
        link.contains("<http://localhost/wp-json/wc/v3/products?per_page=10&orderby=id&order=asc&page=1>; rel=\"prev\""),
        "{link}"
    );
    assert!(link.contains("page=3>; rel=\"next\""), "{link}");

    let last = get(&sim, "/wp-json/wc/v3/products?per_page=10&page=3").await;
    assert_eq!(last.body.as_array().unwrap().len(), 5);
    let l = last.headers["link"].to_str().unwrap();
    assert!(
        l.contains("rel=\"prev\"") && !l.contains("rel=\"next\""),
        "{l}"
    );
    let first = get(&sim, "/wp-json/wc/v3/products").await;
    assert_eq!(
        first.body.as_array().unwrap().len(),
        10,
        "default per_page is 10"
    );
    assert!(!first.headers["link"].to_str().unwrap().contains("prev"));
    let beyond = get(&sim, "/wp-json/wc/v3/products?page=9").await;
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.body, json!([]));
    let off = get(
        &sim,
        "/wp-json/wc/v3/products?orderby=id&order=asc&offset=24",
    )
    .await;
    assert_eq!(off.body[0]["sku"], "S24");
}

#[tokio::test]
async fn modified_after_is_strict_and_reads_the_site_zone_unless_gmt() {
    let sim = sim();
    let a = product(&sim, "A", 1).await;
    sim.advance_clock(Duration::from_secs(60));
    let b = product(&sim, "B", 1).await;
    let pb = get(&sim, &format!("/wp-json/wc/v3/products/{b}"))
        .await
        .body;
    let gmt = pb["date_modified_gmt"].as_str().unwrap().to_string();
    let local = pb["date_modified"].as_str().unwrap().to_string();
    assert_ne!(gmt, local, "the site zone is not UTC");
    assert_eq!(gmt, "2026-01-15T12:01:00");
    assert_eq!(local, "2026-01-15T07:01:00");

    let ids = |r: &Resp| -> Vec<u64> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect()
    };
    let r = get(
        &sim,
        "/wp-json/wc/v3/products?modified_after=2026-01-15T12:00:30&dates_are_gmt=true",
    )
    .await;
    assert_eq!(ids(&r), vec![b]);
    // Strict: a product modified exactly at the watermark is not returned.
    let r = get(
        &sim,
        &format!("/wp-json/wc/v3/products?modified_after={gmt}&dates_are_gmt=true"),
    )
    .await;
    assert_eq!(ids(&r), Vec::<u64>::new());
    // Without dates_are_gmt the value is site-local time.
    let r = get(
        &sim,
        "/wp-json/wc/v3/products?modified_after=2026-01-15T07:00:30",
    )
    .await;
    assert_eq!(ids(&r), vec![b]);
    let r = get(
        &sim,
        "/wp-json/wc/v3/products?modified_after=2026-01-15T12:00:30",
    )
    .await;
    assert_eq!(
        ids(&r),
        Vec::<u64>::new(),
        "a UTC value read as local time is 5 h later"
    );
    // An explicit zone is honoured.
    let r = get(
        &sim,
        "/wp-json/wc/v3/products?modified_after=2026-01-15T12:00:30Z",
    )
    .await;
    assert_eq!(ids(&r), vec![b]);
    // Editing A moves it past the watermark.
    sim.advance_clock(Duration::from_secs(60));
    sim.set_price(a, "1.00", "").unwrap();
    let r = get(&sim, "/wp-json/wc/v3/products?modified_after=2026-01-15T12:01:00&dates_are_gmt=true&orderby=modified").await;
    assert_eq!(ids(&r), vec![a]);
    let bad = get(&sim, "/wp-json/wc/v3/products?modified_after=yesterday").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["data"]["params"]["modified_after"],
        "Invalid date."
    );
}

#[tokio::test]
async fn filters_sku_include_orderby() {
    let sim = sim();
    let a = product(&sim, "A-1", 1).await;
    let b = product(&sim, "B-1", 1).await;
    let c = product(&sim, "C-1", 1).await;
    let r = get(&sim, "/wp-json/wc/v3/products?sku=B-1").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["id"], b);
    let r = get(
        &sim,
        "/wp-json/wc/v3/products?sku=a-1,C-1&orderby=id&order=asc",
    )
    .await;
    assert_eq!(r.body[0]["id"], a);
    assert_eq!(r.body[1]["id"], c);
    let r = get(
        &sim,
        &format!("/wp-json/wc/v3/products?include={c},{a}&orderby=include"),
    )
    .await;
    assert_eq!(r.body[0]["id"], c);
    assert_eq!(r.body[1]["id"], a);
    let r = get(
        &sim,
        &format!("/wp-json/wc/v3/products?include[]={a}&include[]={b}"),
    )
    .await;
    assert_eq!(r.headers["x-wp-total"], "2");
    let r = get(&sim, "/wp-json/wc/v3/products?orderby=sku").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "rest_invalid_param");
}

#[tokio::test]
async fn errors_have_the_wordpress_shape_and_woocommerce_codes() {
    let sim = sim();
    let r = get(&sim, "/wp-json/wc/v3/products/424242").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 404}})
    );
    let r = get(&sim, "/wp-json/wc/v3/orders/424242").await;
    assert_eq!(r.body["code"], "woocommerce_rest_shop_order_invalid_id");
    let r = get(&sim, "/wp-json/wc/v3/customers/424242").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "wc_user_invalid_id");
    assert_eq!(r.body["message"], "Invalid user ID.");
    let r = get(&sim, "/wp-json/wc/v3/nothing").await;
    assert_eq!(r.body["code"], "rest_no_route");
    assert_eq!(r.status, 404);
    // Prices are strings.
    let r = post(
        &sim,
        "/wp-json/wc/v3/products",
        json!({"name": "x", "regular_price": 9.5}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "rest_invalid_param");
    assert_eq!(
        r.body["data"]["params"]["regular_price"],
        "regular_price is not of type string."
    );
    // Duplicate SKU.
    product(&sim, "DUP", 1).await;
    let r = post(
        &sim,
        "/wp-json/wc/v3/products",
        json!({"name": "y", "sku": "dup"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "product_invalid_sku");
    assert_eq!(r.body["message"], "Invalid or duplicated SKU.");
    // Invalid JSON.
    let resp = send(
        &sim,
        "POST",
        "/wp-json/wc/v3/products",
        None,
        Some(&basic(KEY, SECRET)),
    )
    .await;
    assert_eq!(resp.status, 201, "an empty body creates a default product");
}

#[tokio::test]
async fn products_trash_then_force_delete() {
    let sim = sim();
    let a = product(&sim, "T", 1).await;
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{a}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["status"], "publish",
        "the answer is rendered before the trash"
    );
    assert_eq!(
        get(&sim, &format!("/wp-json/wc/v3/products/{a}"))
            .await
            .body["status"],
        "trash"
    );
    assert_eq!(get(&sim, "/wp-json/wc/v3/products").await.body, json!([]));
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{a}"),
        None,
    )
    .await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body["code"], "woocommerce_rest_already_trashed");
    // A trashed product's SKU is free again.
    product(&sim, "T", 1).await;
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{a}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        get(&sim, &format!("/wp-json/wc/v3/products/{a}"))
            .await
            .status,
        404
    );
    let c = sim.create_customer("a@example.com", "A", "B").unwrap();
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/customers/{c}"),
        None,
    )
    .await;
    assert_eq!(r.status, 501);
    assert_eq!(r.body["code"], "woocommerce_rest_trash_not_supported");
}

#[tokio::test]
async fn variable_products_and_variations() {
    let sim = sim();
    let p = post(
        &sim,
        "/wp-json/wc/v3/products",
        json!({"name": "Shirt", "type": "variable", "sku": "SHIRT"}),
    )
    .await;
    let pid = p.body["id"].as_u64().unwrap();
    let mut vids = Vec::new();
    for (sku, price) in [("SHIRT-S", "12.00"), ("SHIRT-M", "10.00")] {
        let v = post(
            &sim,
            &format!("/wp-json/wc/v3/products/{pid}/variations"),
            json!({"sku": sku, "regular_price": price, "manage_stock": true, "stock_quantity": 5,
                "attributes": [{"name": "Size", "option": sku}]}),
        )
        .await;
        assert_eq!(v.status, 201, "{}", v.body);
        vids.push(v.body["id"].as_u64().unwrap());
    }
    let parent = get(&sim, &format!("/wp-json/wc/v3/products/{pid}"))
        .await
        .body;
    assert_eq!(parent["variations"], json!(vids));
    assert_eq!(parent["price"], "10.00");
    let list = get(&sim, &format!("/wp-json/wc/v3/products/{pid}/variations")).await;
    assert_eq!(list.headers["x-wp-total"], "2");
    assert_eq!(
        get(&sim, "/wp-json/wc/v3/products")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A variation SKU collides with products too.
    let dup = post(
        &sim,
        "/wp-json/wc/v3/products",
        json!({"name": "x", "sku": "SHIRT-M"}),
    )
    .await;
    assert_eq!(dup.body["code"], "product_invalid_sku");
    // Wrong parent.
    let other = product(&sim, "OTHER", 1).await;
    let r = get(
        &sim,
        &format!("/wp-json/wc/v3/products/{other}/variations/{}", vids[0]),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body["code"],
        "woocommerce_rest_product_variation_invalid_id"
    );
    // An order of a variation reduces the variation's stock.
    sim.place_order(
        0,
        &[OrderLine {
            sku: "SHIRT-M".into(),
            quantity: 2,
        }],
    )
    .unwrap();
    assert_eq!(sim.stock(vids[1]), Some(3));
    assert_eq!(
        sim.get(Kind::Product, pid)["total_sales"],
        2,
        "sales count on the parent"
    );
    assert_eq!(sim.stock(vids[0]), Some(5));
}

#[tokio::test]
async fn orders_reduce_stock_once_and_cancel_restores_it() {
    let sim = sim();
    let a = product(&sim, "A", 10).await;
    let r = post(
        &sim,
        "/wp-json/wc/v3/orders",
        json!({"line_items": [{"sku": "A", "quantity": 3}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let oid = r.body["id"].as_u64().unwrap();
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["line_items"][0]["product_id"], a);
    assert_eq!(r.body["line_items"][0]["price"], json!(9.5));
    assert_eq!(r.body["total"], "28.50");
    assert_eq!(sim.stock(a), Some(10), "pending orders hold no stock");
    let r = call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/orders/{oid}"),
        Some(json!({"status": "processing"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(sim.stock(a), Some(7));
    call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/orders/{oid}"),
        Some(json!({"status": "completed"})),
    )
    .await;
    assert_eq!(sim.stock(a), Some(7), "reduced once");
    call(
        &sim,
        "PUT",
        &format!("/wp-json/wc/v3/orders/{oid}"),
        Some(json!({"status": "cancelled"})),
    )
    .await;
    assert_eq!(sim.stock(a), Some(10));
    let p = get(&sim, &format!("/wp-json/wc/v3/products/{a}"))
        .await
        .body;
    assert_eq!(p["stock_status"], "instock");
    // Paid at creation.
    let r = post(
        &sim,
        "/wp-json/wc/v3/orders",
        json!({"set_paid": true, "line_items": [{"product_id": a, "quantity": 10}]}),
    )
    .await;
    assert_eq!(r.body["status"], "processing");
    assert!(r.body["date_paid_gmt"].is_string());
    let p = get(&sim, &format!("/wp-json/wc/v3/products/{a}"))
        .await
        .body;
    assert_eq!(p["stock_quantity"], 0);
    assert_eq!(p["stock_status"], "outofstock");
    // A paid order makes its customer a paying customer.
    let c = sim.create_customer("buyer@example.com", "B", "C").unwrap();
    assert_eq!(sim.get(Kind::Customer, c)["is_paying_customer"], false);
    sim.set_stock(a, 5).unwrap();
    sim.place_order(
        c,
        &[OrderLine {
            sku: "A".into(),
            quantity: 1,
        }],
    )
    .unwrap();
    assert_eq!(sim.get(Kind::Customer, c)["is_paying_customer"], true);
    assert_eq!(sim.get(Kind::Product, a)["total_sales"], 11);
    // The stock ledger names every change and its cause.
    let log: Vec<(Option<i64>, i64, String, Option<u64>)> = sim
        .stock_log()
        .into_iter()
        .filter(|c| c.product_id == a)
        .map(|c| (c.before, c.after, c.cause, c.order_id))
        .collect();
    assert_eq!(log[0], (None, 10, "api".to_string(), None));
    assert_eq!(log[1], (Some(10), 7, "order".to_string(), Some(oid)));
    assert_eq!(log[2], (Some(7), 10, "order".to_string(), Some(oid)));
    assert_eq!(log[4], (Some(0), 5, "merchant".to_string(), None));
    assert_eq!(log.len(), 6);
    let r = post(
        &sim,
        "/wp-json/wc/v3/orders",
        json!({"line_items": [{"quantity": 1}]}),
    )
    .await;
    assert_eq!(
        r.body["code"],
        "woocommerce_rest_required_product_reference"
    );
    let r = post(&sim, "/wp-json/wc/v3/orders", json!({"status": "shipped"})).await;
    assert_eq!(r.body["code"], "rest_invalid_param");
}

#[tokio::test]
async fn customers_need_a_unique_email() {
    let sim = sim();
    let r = post(
        &sim,
        "/wp-json/wc/v3/customers",
        json!({"email": "jo@example.com", "first_name": "Jo"}),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["username"], "jo");
    assert_eq!(r.body["role"], "customer");
    let r = post(
        &sim,
        "/wp-json/wc/v3/customers",
        json!({"email": "JO@example.com"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "registration-error-email-exists");
    let r = post(&sim, "/wp-json/wc/v3/customers", json!({"first_name": "x"})).await;
    assert_eq!(r.body["code"], "rest_missing_callback_param");
    let r = get(&sim, "/wp-json/wc/v3/customers?email=jo@example.com").await;
    assert_eq!(r.headers["x-wp-total"], "1");
}

#[tokio::test]
async fn the_index_is_public_and_names_the_namespace() {
    let sim = sim();
    let r = send(&sim, "GET", "/wp-json/", None, None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!("wc/v3"))
    );
    assert_eq!(r.body["gmt_offset"], -5);
    let r = get(&sim, "/wp-json/wc/v3").await;
    assert_eq!(r.body["namespace"], "wc/v3");
    assert!(r.body["routes"]["/wc/v3/products/batch"]["methods"].is_array());
}

#[tokio::test]
async fn refunds_need_a_gateway_unless_api_refund_is_off_and_restock() {
    let sim = sim();
    let a = product(&sim, "R", 10).await;
    let r = post(
        &sim,
        "/wp-json/wc/v3/orders",
        json!({"set_paid": true, "payment_method": "bacs", "line_items": [{"sku": "R", "quantity": 4}]}),
    )
    .await;
    let oid = r.body["id"].as_u64().unwrap();
    let item = r.body["line_items"][0]["id"].as_u64().unwrap();
    assert_eq!(sim.stock(a), Some(6));
    let path = format!("/wp-json/wc/v3/orders/{oid}/refunds");
    // api_refund defaults to true and bank transfer cannot refund automatically.
    let r = post(&sim, &path, json!({"amount": "9.50"})).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body["code"],
        "woocommerce_rest_cannot_create_order_refund"
    );
    assert_eq!(
        r.body["message"],
        "The payment gateway for this order does not support automatic refunds."
    );
    let r = post(
        &sim,
        &path,
        json!({"amount": "100.00", "api_refund": false}),
    )
    .await;
    assert_eq!(r.body["message"], "Invalid refund amount.");
    let r = post(
        &sim,
        &path,
        json!({"api_refund": false, "reason": "broken",
            "line_items": [{"id": item, "quantity": 1, "refund_total": "9.50"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], "9.50");
    assert_eq!(r.body["line_items"][0]["quantity"], -1);
    assert_eq!(sim.stock(a), Some(7), "restocked by default");
    let o = get(&sim, &format!("/wp-json/wc/v3/orders/{oid}"))
        .await
        .body;
    assert_eq!(o["refunds"][0]["total"], "-9.50");
    assert_eq!(o["status"], "processing");
    // The merchant refunds the rest without restocking: the order is fully refunded.
    sim.refund_order(
        oid,
        &[OrderLine {
            sku: "R".into(),
            quantity: 3,
        }],
        false,
    )
    .unwrap();
    assert_eq!(sim.stock(a), Some(7));
    assert_eq!(sim.get(Kind::Order, oid)["status"], "refunded");
    let list = get(&sim, &path).await;
    assert_eq!(list.headers["x-wp-total"], "2");
    let cause: Vec<String> = sim.stock_log().into_iter().map(|c| c.cause).collect();
    assert_eq!(cause, vec!["api", "order", "refund"]);
}

#[tokio::test]
async fn deletes_of_variations_and_customers_answer_as_woocommerce_does() {
    let sim = sim();
    let shirt = sim
        .create_product(json!({"name": "Shirt", "type": "variable"}))
        .unwrap();
    let v = sim
        .create_variation(shirt, json!({"sku": "SHIRT-S", "regular_price": "5.00"}))
        .unwrap();
    let w = sim
        .create_variation(shirt, json!({"sku": "SHIRT-M", "regular_price": "5.00"}))
        .unwrap();
    // The products endpoint refuses a variation's id.
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/{v}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"code": "woocommerce_rest_invalid_product_id",
            "message": "To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.",
            "data": {"status": 404}})
    );
    assert_eq!(sim.get(Kind::Product, v)["sku"], "SHIRT-S");
    // The variations endpoint: trash, then 410 naming the post type.
    let path = format!("/wp-json/wc/v3/products/{shirt}/variations/{v}");
    let r = call(&sim, "DELETE", &path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], v);
    assert_eq!(r.body["status"], "publish", "rendered before the trash");
    let r = call(&sim, "DELETE", &path, None).await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body["code"], "woocommerce_rest_already_trashed");
    assert_eq!(
        r.body["message"],
        "The product_variation has already been deleted."
    );
    // Forced: gone for good, the parent keeps its other variation.
    let r = call(&sim, "DELETE", &format!("{path}?force=true"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sim.get(Kind::Product, v), Value::Null);
    let r = call(&sim, "DELETE", &format!("{path}?force=true"), None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body["code"],
        "woocommerce_rest_product_variation_invalid_id"
    );
    assert_eq!(sim.get(Kind::Product, shirt)["variations"], json!([w]));
    // The variations endpoint finds the record by its id alone, whatever the product named.
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/products/424242/variations/{w}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sim.get(Kind::Product, shirt)["variations"], json!([]));
    assert_eq!(
        sim.get(Kind::Product, shirt)["type"],
        "variable",
        "the parent stays, without variations"
    );
    // Customers: a missing one is 404 before the force check; deleting answers it as it was.
    let r = call(&sim, "DELETE", "/wp-json/wc/v3/customers/424242", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"code": "wc_user_invalid_id", "message": "Invalid user ID.", "data": {"status": 404}})
    );
    let c = sim.create_customer("a@example.com", "A", "B").unwrap();
    let r = call(
        &sim,
        "DELETE",
        &format!("/wp-json/wc/v3/customers/{c}?force=true"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["email"], "a@example.com");
    assert_eq!(sim.get(Kind::Customer, c), Value::Null);
}
