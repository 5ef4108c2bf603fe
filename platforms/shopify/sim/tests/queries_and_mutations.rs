//! Reads and writes over HTTP as a client does: pagination, `updated_at` search, ids above
//! 2^53, `productSet` full-state variants, compare-and-set, `@idempotent` semantics, orders.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use weft_sim_shopify::{NewOrder, NewOrderLine, NewProduct, NewVariant, ProductEdit};

fn numeric(gid: &Value) -> u64 {
    gid.as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn merchant_product(
    sim: &weft_sim_shopify::ShopifySim,
    title: &str,
    sku: &str,
) -> weft_sim_shopify::CreatedProduct {
    sim.create_product(NewProduct {
        title: title.into(),
        variants: vec![NewVariant {
            sku: Some(sku.into()),
            price: "5.00".into(),
            ..NewVariant::default()
        }],
        ..NewProduct::default()
    })
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn cursor_pagination_walks_every_product_once() {
    let sim = sim();
    for i in 0..7 {
        merchant_product(&sim, &format!("Product {i}"), &format!("SKU-{i}"));
    }
    let q = r#"query($after: String) { products(first: 3, after: $after) {
        edges { cursor node { id title } } nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } }"#;
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let body = gql(&sim, q, json!({"after": after})).await;
        let conn = &body["data"]["products"];
        let edges = conn["edges"].as_array().unwrap();
        assert_eq!(edges.len(), conn["nodes"].as_array().unwrap().len());
        for e in edges {
            seen.push(numeric(&e["node"]["id"]));
        }
        pages += 1;
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 1);
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "ids ascending and unique");
    assert!(seen.iter().all(|id| *id > (1u64 << 53)), "ids exceed 2^53");

    // last/before from the end.
    let body = gql(
        &sim,
        "{ products(last: 2) { nodes { title } pageInfo { hasPreviousPage hasNextPage } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["products"]["nodes"],
        json!([{"title": "Product 5"}, {"title": "Product 6"}])
    );
    assert_eq!(
        body["data"]["products"]["pageInfo"]["hasPreviousPage"],
        true
    );

    // More than 250 per page is an error; so is neither first nor last.
    let body = gql(&sim, "{ products(first: 251) { nodes { id } } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "MAX_PAGE_SIZE_EXCEEDED"
    );
    let body = gql(&sim, "{ products { nodes { id } } }", json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("first or last")
    );
}

#[tokio::test(start_paused = true)]
async fn updated_at_search_and_sort() {
    let sim = sim();
    let a = merchant_product(&sim, "Alpha", "A-1");
    merchant_product(&sim, "Beta", "B-1");
    let t0 = sim.now();
    tokio::time::advance(Duration::from_secs(10)).await;
    sim.edit_product(
        a.id,
        ProductEdit {
            title: Some("Alpha 2".into()),
            ..ProductEdit::default()
        },
    )
    .unwrap();
    let t1 = sim.now();
    assert_eq!((t1 - t0).num_seconds(), 10);

    let q = "query($q: String) { products(first: 10, query: $q, sortKey: UPDATED_AT) { nodes { title updatedAt } } }";
    let iso = t0.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = gql(&sim, q, json!({"q": format!("updated_at:>'{iso}'")})).await;
    assert_eq!(
        body["data"]["products"]["nodes"],
        json!([{"title": "Alpha 2", "updatedAt": t1.format("%Y-%m-%dT%H:%M:%SZ").to_string()}])
    );
    let body = gql(&sim, q, json!({"q": format!("updated_at:>='{iso}'")})).await;
    let titles: Vec<&str> = body["data"]["products"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Beta", "Alpha 2"], "sorted by updated_at");
    let body = gql(
        &sim,
        q,
        json!({"q": format!("updated_at:<='{iso}' AND sku:B-1")}),
    )
    .await;
    assert_eq!(body["data"]["products"]["nodes"][0]["title"], "Beta");

    // Variants by SKU and id range.
    let body = gql(&sim, r#"{ productVariants(first: 5, query: "sku:A-1") { nodes { sku price product { title } } } }"#, json!({})).await;
    assert_eq!(
        body["data"]["productVariants"]["nodes"],
        json!([{"sku": "A-1", "price": "5.00", "product": {"title": "Alpha 2"}}])
    );
    let q = format!(
        r#"{{ products(first: 5, query: "id:>{}") {{ nodes {{ title }} }} }}"#,
        a.id
    );
    let body = gql(&sim, &q, json!({})).await;
    assert_eq!(
        body["data"]["products"]["nodes"],
        json!([{"title": "Beta"}])
    );
}

#[tokio::test(start_paused = true)]
async fn product_set_treats_variants_as_full_state() {
    let sim = sim();
    let p = create_product(&sim, "Tee", &["S", "M", "L"]).await;
    let vids: Vec<&Value> = p["variants"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["id"])
        .collect();
    assert_eq!(vids.len(), 3);
    let body = gql(
        &sim,
        r#"mutation($input: ProductSetInput!) { productSet(input: $input) {
            product { title variants(first: 10) { nodes { id sku price } } } userErrors { field message code } } }"#,
        json!({"input": {"id": p["id"], "title": "Tee v2",
            "productOptions": [{"name": "Size", "values": [{"name": "S"}, {"name": "M"}]}],
            "variants": [
                {"id": vids[0], "optionValues": [{"optionName": "Size", "name": "S"}], "price": "12.50"},
                {"id": vids[1], "optionValues": [{"optionName": "Size", "name": "M"}]}
            ]}}),
    )
    .await;
    let prod = &body["data"]["productSet"]["product"];
    assert_eq!(prod["title"], "Tee v2");
    assert_eq!(
        prod["variants"]["nodes"],
        json!([{"id": vids[0], "sku": "S", "price": "12.50"}, {"id": vids[1], "sku": "M", "price": "10.00"}])
    );
    // A variant without optionValues is a schema error; a bad money value too.
    let body = gql(&sim, r#"mutation { productSet(input: {title: "X", productOptions: [{name: "Size", values: [{name: "S"}]}], variants: [{sku: "X"}]}) { userErrors { message } } }"#, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("optionValues"),
        "{body}"
    );
    let body = gql(&sim, r#"mutation { productSet(input: {title: "X", productOptions: [{name: "Size", values: [{name: "S"}]}], variants: [{optionValues: [{optionName: "Size", name: "S"}], price: "1.999"}]}) { userErrors { message } } }"#, json!({})).await;
    assert!(body["errors"].is_array(), "{body}");
    // Variants for a new product need productOptions.
    let body = gql(&sim, r#"mutation { productSet(input: {title: "X", variants: [{optionValues: [{optionName: "Size", name: "S"}]}]}) { product { id } userErrors { code } } }"#, json!({})).await;
    assert_eq!(
        body["data"]["productSet"]["userErrors"][0]["code"],
        "PRODUCT_OPTIONS_INPUT_MISSING"
    );
    assert!(body["data"]["productSet"]["product"].is_null());
    assert_eq!(sim.stats().creates.api["product"], 1);
}

const SET: &str = r#"mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
    userErrors { field message code } } }"#;

async fn item_and_location(sim: &weft_sim_shopify::ShopifySim) -> (String, String) {
    let p = create_product(sim, "Mug", &["MUG"]).await;
    let item = p["variants"]["nodes"][0]["inventoryItem"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let loc = format!("gid://shopify/Location/{}", sim.location_ids()[0]);
    (item, loc)
}

#[tokio::test(start_paused = true)]
async fn an_adjustment_group_is_stamped_at_its_levels_updated_at() {
    // The levels a mutation changes get one instant, the group's `createdAt`: weft places
    // readings of a level against its own write by that version.
    let sim = sim();
    let (item, loc) = item_and_location(&sim).await;
    const STAMPED: &str = r#"mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) {
        inventoryAdjustmentGroup { createdAt } userErrors { code } } }"#;
    for qty in [5, 6, 7] {
        let q = json!({"inventoryItemId": item, "locationId": loc, "quantity": qty, "changeFromQuantity": null});
        let body = gql(
            &sim,
            STAMPED,
            json!({"input": {"name": "available", "reason": "correction", "quantities": [q]}}),
        )
        .await;
        let created =
            body["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]["createdAt"]
                .as_str()
                .expect("createdAt")
                .to_owned();
        let read = gql(
            &sim,
            r#"query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 5) { nodes { updatedAt } } } }"#,
            json!({"id": item}),
        )
        .await;
        assert_eq!(
            read["data"]["inventoryItem"]["inventoryLevels"]["nodes"][0]["updatedAt"],
            created.as_str()
        );
        tokio::time::advance(std::time::Duration::from_millis(700)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn inventory_set_quantities_compare_and_set() {
    let sim = sim();
    let (item, loc) = item_and_location(&sim).await;
    let input = |qty: i64, from: Option<Value>| {
        let mut q = json!({"inventoryItemId": item, "locationId": loc, "quantity": qty});
        if let Some(f) = from {
            q["changeFromQuantity"] = f;
        }
        json!({"input": {"name": "available", "reason": "correction", "quantities": [q]}})
    };
    let body = gql(&sim, SET, input(10, Some(json!(0)))).await;
    let p = &body["data"]["inventorySetQuantities"];
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(
        p["inventoryAdjustmentGroup"]["changes"],
        json!([{"name": "available", "delta": 10, "quantityAfterChange": 10}])
    );

    // Stale compare value: nothing applied.
    let body = gql(&sim, SET, input(3, Some(json!(0)))).await;
    let p = &body["data"]["inventorySetQuantities"];
    assert_eq!(p["userErrors"][0]["code"], "CHANGE_FROM_QUANTITY_STALE");
    assert_eq!(
        p["userErrors"][0]["field"],
        json!(["input", "quantities", "0", "changeFromQuantity"])
    );
    assert!(p["inventoryAdjustmentGroup"].is_null());

    // Omitted is an error in 2026-04; explicit null opts out.
    let body = gql(&sim, SET, input(3, None)).await;
    assert_eq!(
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "CHANGE_FROM_QUANTITY_REQUIRED"
    );
    let body = gql(&sim, SET, input(4, Some(Value::Null))).await;
    assert_eq!(
        body["data"]["inventorySetQuantities"]["userErrors"],
        json!([])
    );

    let read = gql(&sim, r#"query($id: ID!) { inventoryItem(id: $id) { sku inventoryLevels(first: 5) { nodes { location { id } quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } }"#, json!({"id": item})).await;
    let level = &read["data"]["inventoryItem"]["inventoryLevels"]["nodes"][0];
    assert_eq!(read["data"]["inventoryItem"]["sku"], "MUG");
    assert_eq!(level["location"]["id"], loc.as_str());
    assert_eq!(
        level["quantities"],
        json!([{"name": "available", "quantity": 4}, {"name": "on_hand", "quantity": 4}, {"name": "committed", "quantity": 0}])
    );

    // Before 2026-04 the guard is compareQuantity.
    let q = json!({"input": {"name": "available", "reason": "correction", "quantities": [{"inventoryItemId": item, "locationId": loc, "quantity": 9, "compareQuantity": 1}]}});
    let (_, body) = gql_at(&sim, "2026-01", SET, q).await;
    assert_eq!(
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "COMPARE_QUANTITY_STALE"
    );
    // Negative quantities and repeated (item, location) pairs are user errors.
    let body = gql(&sim, SET, input(-1, Some(Value::Null))).await;
    assert_eq!(
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "INVALID_QUANTITY_NEGATIVE"
    );
    let twice = json!({"inventoryItemId": item, "locationId": loc, "quantity": 1, "changeFromQuantity": null});
    let body = gql(&sim, SET, json!({"input": {"name": "available", "reason": "correction", "quantities": [twice, twice]}})).await;
    assert_eq!(
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"
    );
    // More than 250 entries is rejected outright.
    let many: Vec<Value> = (0..251).map(|_| json!({"inventoryItemId": item, "locationId": loc, "quantity": 1, "changeFromQuantity": null})).collect();
    let body = gql(
        &sim,
        SET,
        json!({"input": {"name": "available", "reason": "correction", "quantities": many}}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "MAX_INPUT_SIZE_EXCEEDED"
    );
}

#[tokio::test(start_paused = true)]
async fn idempotent_key_applies_once_and_replays_original_result() {
    let sim = sim();
    let (item, loc) = item_and_location(&sim).await;
    let m = |key: Option<&str>| {
        let directive = key
            .map(|k| format!(r#"@idempotent(key: "{k}")"#))
            .unwrap_or_default();
        format!(
            r#"mutation($input: InventoryAdjustQuantitiesInput!) {{ inventoryAdjustQuantities(input: $input) {directive} {{
                inventoryAdjustmentGroup {{ id changes {{ delta quantityAfterChange }} }} userErrors {{ code message }} }} }}"#
        )
    };
    let vars = |delta: i64| json!({"input": {"name": "available", "reason": "restock", "changes": [{"delta": delta, "inventoryItemId": item, "locationId": loc}]}});
    let first = gql(&sim, &m(Some("k-1")), vars(5)).await;
    assert_eq!(
        first["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]["changes"],
        json!([{"delta": 5, "quantityAfterChange": 5}])
    );
    let again = gql(&sim, &m(Some("k-1")), vars(5)).await;
    assert_eq!(again["data"], first["data"], "original result replayed");
    let item_id: u64 = item.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(
        sim.available(item_id, sim.location_ids()[0]),
        Some(5),
        "applied once"
    );

    // A new key applies again.
    let third = gql(&sim, &m(Some("k-2")), vars(5)).await;
    assert_eq!(
        third["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]["changes"][0]["quantityAfterChange"],
        10
    );
    // Same key, different arguments.
    let mismatch = gql(&sim, &m(Some("k-1")), vars(6)).await;
    assert_eq!(
        mismatch["errors"][0]["extensions"]["code"],
        "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    );
    // Missing key: runtime error in 2026-04, accepted in 2026-01.
    let missing = gql(&sim, &m(None), vars(1)).await;
    assert_eq!(
        missing["errors"][0]["extensions"]["code"],
        "IDEMPOTENCY_KEY_REQUIRED"
    );
    assert!(missing["data"].is_null());
    let (_, old) = gql_at(&sim, "2026-01", &m(None), vars(1)).await;
    assert_eq!(
        old["data"]["inventoryAdjustQuantities"]["userErrors"],
        json!([])
    );
    assert_eq!(sim.available(item_id, sim.location_ids()[0]), Some(11));
}

#[tokio::test(start_paused = true)]
async fn orders_customers_and_nodes_read_back() {
    let sim = sim();
    let p = merchant_product(&sim, "Lamp", "LAMP-1");
    sim.set_inventory(p.inventory_item_ids[0], sim.location_ids()[0], 5)
        .unwrap();
    let body = gql(&sim, r#"mutation { customerCreate(input: {email: "ann@example.com", firstName: "Ann", lastName: "Lee", tags: ["vip"]}) { customer { id email } userErrors { field message } } }"#, json!({})).await;
    let cid = body["data"]["customerCreate"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dup = gql(&sim, r#"mutation { customerCreate(input: {email: "ANN@example.com"}) { customer { id } userErrors { field message } } }"#, json!({})).await;
    assert_eq!(
        dup["data"]["customerCreate"]["userErrors"][0]["message"],
        "Email has already been taken"
    );

    let oid = sim
        .place_order(NewOrder {
            customer_id: Some(cid.rsplit('/').next().unwrap().to_string()),
            line_items: vec![NewOrderLine {
                sku: Some("LAMP-1".into()),
                quantity: 2,
                ..NewOrderLine::default()
            }],
            ..NewOrder::default()
        })
        .unwrap();
    assert_eq!(
        sim.available(p.inventory_item_ids[0], sim.location_ids()[0]),
        Some(3)
    );
    let body = gql(&sim, r#"{ orders(first: 5, query: "sku:LAMP-1") { nodes { id name email customer { id }
        lineItems(first: 5) { nodes { sku quantity originalUnitPriceSet { shopMoney { amount currencyCode } } variant { id } } }
        totalPriceSet { shopMoney { amount currencyCode } } displayFinancialStatus cancelledAt } } }"#, json!({})).await;
    let o = &body["data"]["orders"]["nodes"][0];
    assert_eq!(numeric(&o["id"]), oid);
    assert_eq!(o["name"], "#1001");
    assert_eq!(o["email"], "ann@example.com");
    assert_eq!(o["customer"]["id"], cid.as_str());
    assert_eq!(o["lineItems"]["nodes"][0]["quantity"], 2);
    assert_eq!(
        o["lineItems"]["nodes"][0]["originalUnitPriceSet"]["shopMoney"],
        json!({"amount": "5.00", "currencyCode": "USD"})
    );
    assert_eq!(o["totalPriceSet"]["shopMoney"]["amount"], "10.00");
    assert_eq!(o["displayFinancialStatus"], "PAID");
    assert!(o["cancelledAt"].is_null());

    let body = gql(&sim, r#"query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Customer { email } ... on Order { name } } }"#, json!({"ids": [cid, format!("gid://shopify/Order/{oid}"), "gid://shopify/Product/1"]})).await;
    assert_eq!(body["data"]["nodes"][0]["email"], "ann@example.com");
    assert_eq!(body["data"]["nodes"][1]["name"], "#1001");
    assert!(body["data"]["nodes"][2].is_null());
    assert_eq!(sim.stats().creates.merchant["order"], 1);
    assert_eq!(sim.stats().creates.api["customer"], 1);
}

/// An order's life over GraphQL: the order commits, `fulfillmentCreate` ships part of its
/// fulfilment order with tracking, `refundCreate` (idempotent) cancels the rest, `orderCancel`
/// on another order restocks it; each step shows in the named quantities and the order's
/// fields, and the lifecycle webhooks fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfilments_refunds_and_cancellations_move_named_quantities() {
    let sim = sim();
    let (url, seen) = receiver(|_, _| axum::http::StatusCode::OK).await;
    for t in [
        weft_sim_shopify::Topic::FulfillmentsCreate,
        weft_sim_shopify::Topic::OrdersPartiallyFulfilled,
        weft_sim_shopify::Topic::RefundsCreate,
        weft_sim_shopify::Topic::OrdersCancelled,
    ] {
        sim.subscribe_webhook(t, &url).unwrap();
    }
    let p = merchant_product(&sim, "Kettle", "KET-1");
    let (item, loc) = (p.inventory_item_ids[0], sim.location_ids()[0]);
    sim.set_inventory(item, loc, 10).unwrap();
    let order = |n: i64| {
        sim.place_order(NewOrder {
            line_items: vec![NewOrderLine {
                sku: Some("KET-1".into()),
                quantity: n,
                ..NewOrderLine::default()
            }],
            ..NewOrder::default()
        })
        .unwrap()
    };
    let oid = order(4);
    let level = r#"query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 1) { nodes {
        quantities(names: ["available", "committed", "on_hand", "unavailable"]) { name quantity } } } } }"#;
    let quantities = |body: Value| -> Vec<i64> {
        body["data"]["inventoryItem"]["inventoryLevels"]["nodes"][0]["quantities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["quantity"].as_i64().unwrap())
            .collect()
    };
    let item_gid = format!("gid://shopify/InventoryItem/{item}");
    assert_eq!(
        quantities(gql(&sim, level, json!({"id": item_gid})).await),
        vec![6, 4, 10, 0]
    );
    let body = gql(
        &sim,
        r#"query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id status
            lineItems(first: 5) { nodes { id remainingQuantity lineItem { id sku } } } } } } }"#,
        json!({"id": format!("gid://shopify/Order/{oid}")}),
    )
    .await;
    let fo = &body["data"]["order"]["fulfillmentOrders"]["nodes"][0];
    assert_eq!(fo["status"], "OPEN");
    let fo_id = fo["id"].as_str().unwrap().to_owned();
    let fo_line = fo["lineItems"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let line_id = fo["lineItems"]["nodes"][0]["lineItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = r#"mutation($fo: ID!, $line: ID!, $q: Int!) { fulfillmentCreate(fulfillment: {
        lineItemsByFulfillmentOrder: [{fulfillmentOrderId: $fo, fulfillmentOrderLineItems: [{id: $line, quantity: $q}]}],
        trackingInfo: {number: "1Z999AA1", url: "https://ups.example/1Z999AA1", company: "UPS"}, notifyCustomer: true}) {
        fulfillment { id status trackingInfo { number url company } fulfillmentLineItems(first: 5) { quantity lineItem { sku } } }
        userErrors { field message } } }"#;
    let over = gql(&sim, create, json!({"fo": fo_id, "line": fo_line, "q": 5})).await;
    assert!(
        over["data"]["fulfillmentCreate"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("quantity"),
        "{over}"
    );
    let made = gql(&sim, create, json!({"fo": fo_id, "line": fo_line, "q": 3})).await;
    let f = &made["data"]["fulfillmentCreate"]["fulfillment"];
    assert_eq!(f["trackingInfo"][0]["number"], "1Z999AA1", "{made}");
    assert_eq!(f["trackingInfo"][0]["company"], "UPS");
    assert_eq!(f["fulfillmentLineItems"][0]["quantity"], 3);
    assert_eq!(
        quantities(gql(&sim, level, json!({"id": item_gid})).await),
        vec![6, 1, 7, 0],
        "shipping lowers committed and on hand"
    );
    // refundCreate needs @idempotent; CANCEL releases the unshipped unit.
    let refund = r#"mutation($order: ID!, $line: ID!) { refundCreate(input: {orderId: $order, note: "out of stock",
        refundLineItems: [{lineItemId: $line, quantity: 1, restockType: CANCEL}]}) @idempotent(key: "refund-1") {
        refund { id refundLineItems(first: 5) { nodes { quantity restockType restocked } } } userErrors { field message } } }"#;
    let vars = json!({"order": format!("gid://shopify/Order/{oid}"), "line": line_id});
    let r1 = gql(&sim, refund, vars.clone()).await;
    let r2 = gql(&sim, refund, vars).await;
    assert_eq!(
        r1["data"]["refundCreate"]["refund"]["refundLineItems"]["nodes"][0]["restockType"],
        "CANCEL",
        "{r1}"
    );
    assert_eq!(
        r1["data"], r2["data"],
        "a repeated key replays the original refund"
    );
    assert_eq!(
        quantities(gql(&sim, level, json!({"id": item_gid})).await),
        vec![7, 0, 7, 0]
    );
    let body = gql(
        &sim,
        r#"query($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillments { id } refunds { id }
            lineItems(first: 5) { nodes { quantity currentQuantity unfulfilledQuantity } } } }"#,
        json!({"id": format!("gid://shopify/Order/{oid}")}),
    )
    .await;
    let o = &body["data"]["order"];
    assert_eq!(o["displayFulfillmentStatus"], "FULFILLED", "{body}");
    assert_eq!(o["lineItems"]["nodes"][0]["currentQuantity"], 3);
    assert_eq!(o["refunds"].as_array().unwrap().len(), 1);

    // orderCancel with restock on a second order.
    let other = order(2);
    let cancel = gql(
        &sim,
        r#"mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: true, restock: true, notifyCustomer: false) {
            job { done } orderCancelUserErrors { message code } } }"#,
        json!({"id": format!("gid://shopify/Order/{other}")}),
    )
    .await;
    assert_eq!(
        cancel["data"]["orderCancel"]["job"]["done"], true,
        "{cancel}"
    );
    assert_eq!(
        quantities(gql(&sim, level, json!({"id": item_gid})).await),
        vec![7, 0, 7, 0]
    );
    // A fulfilled order cannot be cancelled.
    let refused = gql(
        &sim,
        r#"mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: false, restock: true) {
            job { done } orderCancelUserErrors { message } } }"#,
        json!({"id": format!("gid://shopify/Order/{oid}")}),
    )
    .await;
    assert!(refused["data"]["orderCancel"]["job"].is_null());

    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let topics: Vec<String> = seen
        .lock()
        .iter()
        .map(|c| c.headers["x-shopify-topic"].to_str().unwrap().to_owned())
        .collect();
    for t in [
        "fulfillments/create",
        "orders/partially_fulfilled",
        "refunds/create",
        "orders/cancelled",
    ] {
        assert_eq!(
            topics.iter().filter(|x| *x == t).count(),
            1,
            "{t} once in {topics:?}"
        );
    }
    let fulfilment = seen
        .lock()
        .iter()
        .find(|c| c.headers["x-shopify-topic"] == "fulfillments/create")
        .map(|c| serde_json::from_slice::<Value>(&c.body).unwrap())
        .unwrap();
    assert_eq!(fulfilment["tracking_number"], "1Z999AA1");
    assert_eq!(fulfilment["line_items"][0]["quantity"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_edit_removes_raises_and_adds_lines_and_moves_stock() {
    let sim = sim();
    let (url, seen) = receiver(|_, _| axum::http::StatusCode::OK).await;
    for t in [
        weft_sim_shopify::Topic::OrdersEdited,
        weft_sim_shopify::Topic::OrdersUpdated,
    ] {
        sim.subscribe_webhook(t, &url).unwrap();
    }
    let kettle = merchant_product(&sim, "Kettle", "KET-1");
    let mug = merchant_product(&sim, "Mug", "MUG-1");
    let loc = sim.location_ids()[0];
    let (kettle_item, mug_item) = (kettle.inventory_item_ids[0], mug.inventory_item_ids[0]);
    sim.set_inventory(kettle_item, loc, 10).unwrap();
    sim.set_inventory(mug_item, loc, 5).unwrap();
    let oid = sim
        .place_order(NewOrder {
            line_items: vec![NewOrderLine {
                sku: Some("KET-1".into()),
                quantity: 4,
                ..NewOrderLine::default()
            }],
            ..NewOrder::default()
        })
        .unwrap();
    let level = r#"query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 1) { nodes {
        quantities(names: ["available", "committed", "on_hand"]) { name quantity } } } } }"#;
    let quantities = |body: Value| -> Vec<i64> {
        body["data"]["inventoryItem"]["inventoryLevels"]["nodes"][0]["quantities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["quantity"].as_i64().unwrap())
            .collect()
    };
    let gid_of = |t: &str, n: u64| format!("gid://shopify/{t}/{n}");
    let stock_of = |item: u64| {
        let (sim, quantities) = (&sim, &quantities);
        let vars = json!({"id": gid_of("InventoryItem", item)});
        async move { quantities(gql(sim, level, vars).await) }
    };
    const COMMIT_EDIT: &str = r#"mutation($id: ID!) { orderEditCommit(id: $id, notifyCustomer: false) { order { id
            lineItems(first: 5) { nodes { sku quantity currentQuantity } } } userErrors { field message } } }"#;
    let line = sim.order_lines(oid).unwrap().1[0];

    let begin = gql(
        &sim,
        r#"mutation($id: ID!) { orderEditBegin(id: $id) { calculatedOrder { id
            lineItems(first: 5) { nodes { id quantity editableQuantity sku } } } userErrors { field message } } }"#,
        json!({"id": gid_of("Order", oid)}),
    )
    .await;
    let calc = &begin["data"]["orderEditBegin"]["calculatedOrder"];
    let calc_id = calc["id"].as_str().unwrap().to_owned();
    assert!(
        calc_id.starts_with("gid://shopify/CalculatedOrder/"),
        "{begin}"
    );
    assert_eq!(calc["lineItems"]["nodes"][0]["quantity"], 4);
    let calc_line = calc["lineItems"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(calc_line, gid_of("CalculatedLineItem", line));

    let set = r#"mutation($id: ID!, $line: ID!, $q: Int!) { orderEditSetQuantity(id: $id, lineItemId: $line, quantity: $q, restock: true) {
        calculatedLineItem { quantity } userErrors { field message } } }"#;
    // A raise is staged like a lowering (the next set replaces it).
    let raised = gql(&sim, set, json!({"id": calc_id, "line": calc_line, "q": 5})).await;
    assert_eq!(
        raised["data"]["orderEditSetQuantity"]["calculatedLineItem"]["quantity"], 5,
        "{raised}"
    );
    let lowered = gql(&sim, set, json!({"id": calc_id, "line": calc_line, "q": 1})).await;
    assert_eq!(
        lowered["data"]["orderEditSetQuantity"]["calculatedLineItem"]["quantity"], 1,
        "{lowered}"
    );
    let added = gql(
        &sim,
        r#"mutation($id: ID!, $v: ID!) { orderEditAddVariant(id: $id, variantId: $v, quantity: 2) {
            calculatedLineItem { quantity sku } userErrors { field message } } }"#,
        json!({"id": calc_id, "v": gid_of("ProductVariant", mug.variant_ids[0])}),
    )
    .await;
    assert_eq!(
        added["data"]["orderEditAddVariant"]["calculatedLineItem"]["sku"], "MUG-1",
        "{added}"
    );
    // Nothing moves before the commit.
    assert_eq!(stock_of(kettle_item).await, vec![6, 4, 10]);
    let commit = gql(&sim, COMMIT_EDIT, json!({"id": calc_id})).await;
    let lines = &commit["data"]["orderEditCommit"]["order"]["lineItems"]["nodes"];
    assert_eq!(lines[0]["quantity"], 4, "{commit}");
    assert_eq!(lines[0]["currentQuantity"], 1);
    assert_eq!(lines[1]["sku"], "MUG-1");
    assert_eq!(lines[1]["currentQuantity"], 2);
    // Three kettles restocked (committed -> available), two mugs committed.
    assert_eq!(stock_of(kettle_item).await, vec![9, 1, 10]);
    assert_eq!(stock_of(mug_item).await, vec![3, 2, 5]);
    // The edit is closed: committing it again is refused.
    let again = gql(
        &sim,
        r#"mutation($id: ID!) { orderEditCommit(id: $id) { order { id } userErrors { message } } }"#,
        json!({"id": calc_id}),
    )
    .await;
    assert!(
        again["data"]["orderEditCommit"]["order"].is_null(),
        "{again}"
    );

    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    {
        let got = seen.lock();
        let edited = got
            .iter()
            .find(|c| c.headers["x-shopify-topic"] == "orders/edited")
            .map(|c| serde_json::from_slice::<Value>(&c.body).unwrap())
            .expect("orders/edited");
        assert_eq!(edited["order_edit"]["order_id"], json!(oid));
        assert_eq!(
            edited["order_edit"]["line_items"]["removals"][0]["delta"],
            3
        );
        assert_eq!(
            edited["order_edit"]["line_items"]["additions"][0]["delta"],
            2
        );
        let updated = got
            .iter()
            .rev()
            .find(|c| c.headers["x-shopify-topic"] == "orders/updated")
            .map(|c| serde_json::from_slice::<Value>(&c.body).unwrap())
            .expect("orders/updated");
        assert_eq!(updated["line_items"][0]["quantity"], 4);
        assert_eq!(updated["line_items"][0]["current_quantity"], 1);
        assert_eq!(updated["line_items"][1]["current_quantity"], 2);
    }

    // A second edit raises the kettle line by two: ordered on the same line (its quantity and
    // current quantity grow), available -> committed.
    let begin = gql(
        &sim,
        r#"mutation($id: ID!) { orderEditBegin(id: $id) { calculatedOrder { id } userErrors { message } } }"#,
        json!({"id": gid_of("Order", oid)}),
    )
    .await;
    let calc_id = begin["data"]["orderEditBegin"]["calculatedOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let raised = gql(&sim, set, json!({"id": calc_id, "line": calc_line, "q": 3})).await;
    assert_eq!(
        raised["data"]["orderEditSetQuantity"]["calculatedLineItem"]["quantity"], 3,
        "{raised}"
    );
    let commit = gql(&sim, COMMIT_EDIT, json!({"id": calc_id})).await;
    let lines = &commit["data"]["orderEditCommit"]["order"]["lineItems"]["nodes"];
    assert_eq!(lines[0]["quantity"], 6, "{commit}");
    assert_eq!(lines[0]["currentQuantity"], 3);
    assert_eq!(stock_of(kettle_item).await, vec![7, 3, 10]);
    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock();
    let edited = got
        .iter()
        .rev()
        .find(|c| c.headers["x-shopify-topic"] == "orders/edited")
        .map(|c| serde_json::from_slice::<Value>(&c.body).unwrap())
        .expect("orders/edited");
    assert_eq!(
        edited["order_edit"]["line_items"]["additions"],
        json!([{"id": line, "delta": 2}])
    );
}

#[tokio::test(start_paused = true)]
async fn email_marketing_consent_has_its_own_mutation_and_three_settable_states() {
    let sim = sim();
    let body = gql(&sim, r#"mutation { customerCreate(input: {email: "kim@example.com", taxExempt: true,
        emailMarketingConsent: {marketingState: PENDING}}) {
        customer { id taxExempt emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } }
        userErrors { field message } } }"#, json!({})).await;
    let c = &body["data"]["customerCreate"]["customer"];
    assert_eq!(c["taxExempt"], true);
    assert_eq!(c["emailMarketingConsent"]["marketingState"], "PENDING");
    assert!(c["emailMarketingConsent"]["consentUpdatedAt"].is_string());
    let cid = c["id"].as_str().unwrap().to_owned();
    // customerUpdate refuses the consent.
    let body = gql(
        &sim,
        r#"mutation($id: ID!) { customerUpdate(input: {id: $id, emailMarketingConsent: {marketingState: SUBSCRIBED}}) {
            customer { id } userErrors { field message } } }"#,
        json!({"id": cid}),
    )
    .await;
    let e = &body["data"]["customerUpdate"]["userErrors"][0];
    assert_eq!(e["field"], json!(["emailMarketingConsent"]));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("customerEmailMarketingConsentUpdate")
    );
    let consent = |state: &'static str, id: String| {
        let sim = &sim;
        async move {
            gql(
                sim,
                r#"mutation($input: CustomerEmailMarketingConsentUpdateInput!) {
                    customerEmailMarketingConsentUpdate(input: $input) {
                        customer { id emailMarketingConsent { marketingState } }
                        userErrors { field message code } } }"#,
                json!({"input": {"customerId": id, "emailMarketingConsent": {"marketingState": state}}}),
            )
            .await["data"]["customerEmailMarketingConsentUpdate"]
                .clone()
        }
    };
    let p = consent("SUBSCRIBED", cid.clone()).await;
    assert_eq!(
        p["customer"]["emailMarketingConsent"]["marketingState"],
        "SUBSCRIBED"
    );
    // NOT_SUBSCRIBED, REDACTED and INVALID cannot be set.
    for s in ["NOT_SUBSCRIBED", "REDACTED", "INVALID"] {
        let p = consent(s, cid.clone()).await;
        assert_eq!(p["userErrors"][0]["code"], "INCLUSION", "{s}");
    }
    // A customer without an email address has no consent and cannot be given one.
    let body = gql(
        &sim,
        r#"mutation { customerCreate(input: {firstName: "Nomail"}) {
        customer { id emailMarketingConsent { marketingState } } userErrors { field message } } }"#,
        json!({}),
    )
    .await;
    let c = &body["data"]["customerCreate"]["customer"];
    assert!(c["emailMarketingConsent"].is_null());
    let p = consent("SUBSCRIBED", c["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(p["userErrors"][0]["code"], "MISSING_ARGUMENT");
    // The webhook shape names the state in lower case.
    let rest = sim.customer_json(numeric(&json!(cid)));
    assert_eq!(rest["email_marketing_consent"]["state"], "subscribed");
    assert_eq!(rest["tax_exempt"], true);
}

/// The product mutations most clients call: `productCreate` (options, one variant),
/// `productVariantsBulkCreate` (the default variant removed by the DEFAULT strategy, new
/// option values added, initial quantities), `productUpdate`, `productVariantsBulkDelete`
/// (all or nothing) and `productDelete`, each firing the webhook `productSet` would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_create_update_variants_and_delete_fire_their_webhooks() {
    use weft_sim_shopify::Topic;
    let sim = sim();
    let (url, seen) = receiver(|_, _| axum::http::StatusCode::OK).await;
    for t in [
        Topic::ProductsCreate,
        Topic::ProductsUpdate,
        Topic::ProductsDelete,
    ] {
        sim.subscribe_webhook(t, &url).unwrap();
    }
    let body = gql(
        &sim,
        r#"mutation($p: ProductCreateInput!) { productCreate(product: $p) {
            product { id title handle status options { name values } variants(first: 5) { nodes { id title } } }
            userErrors { field message } } }"#,
        json!({"p": {"title": "Client tee", "status": "DRAFT", "tags": ["a"]}}),
    )
    .await;
    let p = &body["data"]["productCreate"]["product"];
    assert_eq!(p["handle"], "client-tee", "{body}");
    assert_eq!(p["status"], "DRAFT");
    assert_eq!(
        p["options"],
        json!([{"name": "Title", "values": ["Default Title"]}])
    );
    assert_eq!(p["variants"]["nodes"].as_array().unwrap().len(), 1);
    let pid = p["id"].clone();

    // A blank title is a user error, nothing created.
    let body = gql(
        &sim,
        r#"mutation { productCreate(product: {title: " "}) { product { id } userErrors { field message } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["productCreate"]["userErrors"][0]["field"],
        json!(["product", "title"])
    );

    let loc = sim.location_ids()[0];
    let bulk = r#"mutation($id: ID!, $v: [ProductVariantsBulkInput!]!) {
        productVariantsBulkCreate(productId: $id, variants: $v) {
            product { options { name values } variants(first: 10) { nodes { title } } }
            productVariants { id title sku price inventoryItem { id } }
            userErrors { field message code } } }"#;
    // A variant naming no option cannot replace the Default Title one.
    let body = gql(&sim, bulk, json!({"id": pid, "v": [{"price": "1.00"}]})).await;
    assert_eq!(
        body["data"]["productVariantsBulkCreate"]["userErrors"][0]["code"],
        "NEED_TO_ADD_OPTION_VALUES",
        "{body}"
    );
    let body = gql(
        &sim,
        bulk,
        json!({"id": pid, "v": [
            {"optionValues": [{"optionName": "Size", "name": "S"}], "price": "10.00",
             "inventoryItem": {"sku": "CT-S"},
             "inventoryQuantities": [{"availableQuantity": 4, "locationId": format!("gid://shopify/Location/{loc}")}]},
            {"optionValues": [{"optionName": "Size", "name": "M"}], "price": "11.00", "inventoryItem": {"sku": "CT-M"}}
        ]}),
    )
    .await;
    let r = &body["data"]["productVariantsBulkCreate"];
    assert_eq!(r["userErrors"], json!([]), "{body}");
    assert_eq!(
        r["product"]["options"],
        json!([{"name": "Size", "values": ["S", "M"]}])
    );
    let titles: Vec<&str> = r["product"]["variants"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["S", "M"], "the Default Title variant is gone");
    let small = r["productVariants"][0].clone();
    assert_eq!(small["sku"], "CT-S");
    assert_eq!(small["price"], "10.00");
    let item = numeric(&small["inventoryItem"]["id"]);
    assert_eq!(
        sim.available(item, loc),
        Some(4),
        "the initial quantity is set"
    );

    // A size that exists, and an option the product lacks: refused, nothing added.
    let body = gql(
        &sim,
        bulk,
        json!({"id": pid, "v": [
            {"optionValues": [{"optionName": "Size", "name": "L"}]},
            {"optionValues": [{"optionName": "Size", "name": "S"}]},
            {"optionValues": [{"optionName": "Colour", "name": "Red"}]}
        ]}),
    )
    .await;
    let codes: Vec<&str> = body["data"]["productVariantsBulkCreate"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["VARIANT_ALREADY_EXISTS", "OPTION_DOES_NOT_EXIST"]);

    let body = gql(
        &sim,
        r#"mutation($p: ProductUpdateInput!) { productUpdate(product: $p) {
            product { title vendor variants(first: 5) { nodes { sku } } } userErrors { field message } } }"#,
        json!({"p": {"id": pid, "title": "Client tee v2", "vendor": "Acme"}}),
    )
    .await;
    let u = &body["data"]["productUpdate"]["product"];
    assert_eq!(u["title"], "Client tee v2", "{body}");
    assert_eq!(
        u["variants"]["nodes"].as_array().unwrap().len(),
        2,
        "variants kept"
    );

    let del = r#"mutation($id: ID!, $v: [ID!]!) { productVariantsBulkDelete(productId: $id, variantsIds: $v) {
        product { variants(first: 5) { nodes { sku } } } userErrors { field message code } } }"#;
    let medium = r["productVariants"][1]["id"].clone();
    let body = gql(&sim, del, json!({"id": pid, "v": [small["id"], medium]})).await;
    assert_eq!(
        body["data"]["productVariantsBulkDelete"]["userErrors"][0]["code"],
        "CANNOT_DELETE_LAST_VARIANT"
    );
    let body = gql(&sim, del, json!({"id": pid, "v": [small["id"]]})).await;
    assert_eq!(
        body["data"]["productVariantsBulkDelete"]["product"]["variants"]["nodes"],
        json!([{"sku": "CT-M"}]),
        "{body}"
    );

    let body = gql(
        &sim,
        r#"mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { field message } } }"#,
        json!({"id": pid}),
    )
    .await;
    assert_eq!(body["data"]["productDelete"]["deletedProductId"], pid);
    let body = gql(
        &sim,
        r#"mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { field message } } }"#,
        json!({"id": pid}),
    )
    .await;
    assert_eq!(
        body["data"]["productDelete"]["userErrors"][0]["message"],
        "Product does not exist"
    );

    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    // Deliveries run concurrently, so their order is not the mutations' order (as on Shopify).
    let mut topics: Vec<String> = seen
        .lock()
        .iter()
        .map(|c| c.headers["x-shopify-topic"].to_str().unwrap().to_owned())
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            "products/create",
            "products/delete",
            "products/update",
            "products/update",
            "products/update"
        ]
    );
    let deleted = seen
        .lock()
        .iter()
        .find(|c| c.headers["x-shopify-topic"] == "products/delete")
        .map(|c| serde_json::from_slice::<Value>(&c.body).unwrap())
        .unwrap();
    assert_eq!(deleted, json!({"id": numeric(&pid)}));
}

/// A call the app lacks the scope for is refused field by field, with Shopify's error shape;
/// the rest of the request still resolves, and approving the scope again lets the next call
/// through.
#[tokio::test(start_paused = true)]
async fn a_missing_access_scope_refuses_that_field_only() {
    let s = sim();
    let product = create_product(&s, "Scoped", &["SC-1"]).await;
    let pid = product["id"].as_str().unwrap().to_owned();
    let vid = product["variants"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.set_access_scopes(&["read_products", "write_inventory"]);
    assert_eq!(s.access_scopes(), vec!["read_products", "write_inventory"]);
    // The app can ask which scopes it holds (no scope needed).
    let installed = gql(
        &s,
        "{ currentAppInstallation { accessScopes { handle description } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        installed["data"]["currentAppInstallation"]["accessScopes"],
        json!([
            {"handle": "read_products", "description": "Read products"},
            {"handle": "write_inventory", "description": "Modify inventory"},
        ]),
        "{installed}"
    );
    let update = r#"mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) {
        productVariantsBulkUpdate(productId: $p, variants: $v) {
            productVariants { id price }
            userErrors { field message code }
        }
    }"#;
    let vars = json!({"p": pid, "v": [{"id": vid, "price": "12.50"}]});
    let refused = gql(&s, update, vars.clone()).await;
    assert_eq!(
        refused["data"]["productVariantsBulkUpdate"],
        Value::Null,
        "{refused}"
    );
    let e = &refused["errors"][0];
    assert_eq!(
        e["message"],
        "Access denied for productVariantsBulkUpdate field. Required access: `write_products` access scope.",
        "{refused}"
    );
    assert_eq!(e["path"], json!(["productVariantsBulkUpdate"]));
    assert_eq!(e["extensions"]["code"], "ACCESS_DENIED");
    assert_eq!(
        e["extensions"]["requiredAccess"],
        "`write_products` access scope."
    );
    // Reading is still allowed (and a write scope would cover it); orders are not.
    let both = gql(
        &s,
        &format!(r#"{{ product(id: "{pid}") {{ variants(first: 1) {{ nodes {{ price }} }} }} orders(first: 1) {{ nodes {{ id }} }} }}"#),
        json!({}),
    )
    .await;
    assert_eq!(
        both["data"]["product"]["variants"]["nodes"][0]["price"], "10.00",
        "{both}"
    );
    assert_eq!(both["data"]["orders"], Value::Null, "{both}");
    assert_eq!(both["errors"][0]["path"], json!(["orders"]), "{both}");
    assert_eq!(both["errors"].as_array().map(Vec::len), Some(1), "{both}");
    // REST: 403 with Shopify's body.
    s.set_access_scopes(&["write_inventory"]);
    let (status, _, body) = get(
        &s,
        &format!("/admin/api/{VERSION}/products/count.json"),
        TOKEN,
    )
    .await;
    assert_eq!(status, axum::http::StatusCode::FORBIDDEN);
    assert_eq!(
        body["errors"],
        "[API] This action requires merchant approval for read_products scope."
    );
    assert_eq!(s.stats().access_denied, 3, "{:?}", s.stats());
    // The merchant approves the scope again: the same write goes through.
    s.set_access_scopes(&["write_products", "write_inventory"]);
    let done = gql(&s, update, vars).await;
    assert_eq!(
        done["data"]["productVariantsBulkUpdate"]["productVariants"][0]["price"], "12.50",
        "{done}"
    );
}
