//! SuiteQL over HTTP: `Prefer: transient`, parsing errors, filtering on lastModifiedDate,
//! ORDER BY with same-timestamp ties, paging, NetSuite's value rendering.

use crate::common::{REC, config, start};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const CDC: &str = "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS modified FROM item \
    WHERE lastModifiedDate >= TO_TIMESTAMP('2026-01-01 00:10:00', 'YYYY-MM-DD HH24:MI:SS') \
    ORDER BY lastModifiedDate ASC, id ASC";

#[tokio::test]
async fn requires_prefer_transient() {
    let h = start(config(20)).await;
    let path = "/services/rest/query/v1/suiteql";
    let url = format!("{}{path}", h.client.base);
    let auth = h.client.auth("POST", &url);
    let r = h
        .client
        .raw(
            Method::POST,
            path,
            Some(&json!({"q": "SELECT id FROM item"})),
            &[],
            Some(auth),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.detail().contains("Prefer: transient"), "{}", r.detail());
    let ok = h.client.suiteql("SELECT id FROM item", 10, 0).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["totalResults"], json!(0));
    assert_eq!(ok.body["items"], json!([]));
}

#[tokio::test]
async fn parse_errors_use_the_error_shape_with_a_helpful_detail() {
    let h = start(config(21)).await;
    for (q, needle) in [
        ("SELEC id FROM item", "expected SELECT"),
        ("SELECT id FROM item WHERE", "end of query"),
        ("SELECT idd FROM item", "Field 'idd'"),
        ("SELECT id FROM items", "Record 'items'"),
        ("SELECT id FROM item WHERE id >", "expected a value"),
        (
            "SELECT id FROM item WHERE itemid = 'open",
            "unterminated string",
        ),
        ("SELECT id FROM item ORDER BY", "expected an identifier"),
        (
            "SELECT id FROM item i JOIN customer c ON i.id = c.id",
            "joins are not supported",
        ),
    ] {
        let r = h.client.suiteql(q, 10, 0).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.code(), "INVALID_PARAMETER", "{q}");
        assert!(
            r.detail().starts_with("Invalid search query."),
            "{q}: {}",
            r.detail()
        );
        assert!(r.detail().contains(needle), "{q}: {}", r.detail());
    }
    let r = h.client.suiteql("SELECT id FROM item", 1001, 0).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_PARAMETER"));
}

#[tokio::test]
async fn same_timestamp_rows_page_without_gaps_or_duplicates() {
    let h = start(config(22)).await;
    // Five items before the watermark, then twelve sharing one lastModifiedDate second.
    for i in 0..5 {
        h.sim
            .erp_create(
                weft_sim_netsuite::RecordType::InventoryItem,
                json!({"itemId": format!("OLD-{i}")}),
            )
            .unwrap();
    }
    h.sim.advance_clock(Duration::from_secs(600));
    h.sim.freeze_clock();
    let mut tied = Vec::new();
    for i in 0..12 {
        tied.push(
            h.sim
                .erp_create(
                    weft_sim_netsuite::RecordType::InventoryItem,
                    json!({"itemId": format!("NEW-{i}")}),
                )
                .unwrap(),
        );
    }
    let frozen_at = h.sim.now();
    // Edit an old item inside the frozen second too: it now ties as well, with a low id.
    h.sim
        .erp_update(
            weft_sim_netsuite::RecordType::InventoryItem,
            "1000",
            json!({"displayName": "edited"}),
        )
        .unwrap();
    tied.insert(0, "1000".to_owned());

    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let r = h.client.suiteql(CDC, 5, offset).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["totalResults"], json!(13));
        for row in r.body["items"].as_array().unwrap() {
            assert_eq!(row["links"], json!([]));
            assert_eq!(
                row["modified"],
                json!(frozen_at.format("%Y-%m-%d %H:%M:%S").to_string())
            );
            seen.push(row["id"].as_str().unwrap().to_owned());
        }
        if !r.body["hasMore"].as_bool().unwrap() {
            break;
        }
        offset += 5;
    }
    assert_eq!(seen, tied, "every tied row exactly once, ordered by id");
}

#[tokio::test]
async fn filters_order_and_render_like_netsuite() {
    let h = start(config(23)).await;
    let c = &h.client;
    c.put(&format!("{REC}/customer/eid:shopify-customer-1"), &json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "isPerson": true})).await;
    h.sim.advance_clock(Duration::from_secs(3600));
    c.put(
        &format!("{REC}/customer/eid:shopify-customer-2"),
        &json!({"companyName": "Acme", "isPerson": false}),
    )
    .await;
    c.put(
        &format!("{REC}/customer/eid:shopify-customer-3"),
        &json!({"firstName": "Grace", "lastName": "Hopper", "isPerson": true}),
    )
    .await;

    let r = c
        .suiteql(
            "select * from customer where externalid like 'shopify-%' order by id desc",
            10,
            0,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rows = r.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["externalid"], "shopify-customer-3");
    assert!(rows[0]["id"].is_string(), "ids are strings");
    assert_eq!(rows[0]["isperson"], "T");
    assert_eq!(rows[1]["isperson"], "F");
    assert!(rows[1].get("email").is_none(), "null columns are omitted");
    assert_eq!(
        rows[2]["lastmodifieddate"], "1/1/2026",
        "dates use the M/D/YYYY preference"
    );

    let r = c
        .suiteql(
            "SELECT c.id AS customer_id, email FROM customer c WHERE (c.lastModifiedDate > '2026-01-01T00:30:00Z' AND email IS NULL) OR email = 'ada@example.com' ORDER BY customer_id",
            10,
            0,
        )
        .await;
    let ids: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["customer_id"].clone())
        .collect();
    assert_eq!(ids.len(), 3, "{:?}", r.body);
    let r = c
        .suiteql("SELECT id FROM customer WHERE lastmodifieddate < TO_DATE('2026-01-01', 'YYYY-MM-DD') OR id IN (300, 302)", 10, 0)
        .await;
    assert_eq!(r.body["totalResults"], json!(2), "{:?}", r.body);

    // Transactions and stock.
    let item = h
        .sim
        .erp_create(
            weft_sim_netsuite::RecordType::InventoryItem,
            json!({"itemId": "Q-1", "basePrice": 3.5}),
        )
        .unwrap();
    h.sim.erp_adjust_inventory(&item, "2", 9.0, None).unwrap();
    c.put(
        &format!("{REC}/salesOrder/eid:shopify-order-1"),
        &json!({"entity": {"externalId": "shopify-customer-1"}, "item": {"items": [{"item": {"id": item}, "quantity": 2}]}}),
    )
    .await;
    let r = c
        .suiteql(
            "SELECT tranid, type, foreigntotal, entity FROM transaction WHERE type = 'SalesOrd'",
            10,
            0,
        )
        .await;
    assert_eq!(r.body["items"][0]["tranid"], "SO1001");
    assert_eq!(r.body["items"][0]["foreigntotal"], json!(7));
    assert_eq!(r.body["items"][0]["entity"], "300");
    let r = c
        .suiteql(&format!("SELECT location, quantityonhand FROM inventoryitemlocations WHERE item = {item} AND quantityonhand > 0"), 10, 0)
        .await;
    assert_eq!(
        r.body["items"],
        json!([{"links": [], "location": "2", "quantityonhand": 9}])
    );
}

#[tokio::test]
async fn paging_links_and_bounds() {
    let h = start(config(24)).await;
    h.sim.erp_seed_catalog(7, 0).unwrap();
    let r = h
        .client
        .suiteql("SELECT id, itemid FROM item ORDER BY itemid", 3, 6)
        .await;
    assert_eq!(r.body["count"], json!(1));
    assert_eq!(r.body["hasMore"], json!(false));
    assert_eq!(r.body["offset"], json!(6));
    assert_eq!(r.body["totalResults"], json!(7));
    assert_eq!(r.body["items"][0]["itemid"], "SKU-00007");
    let r = h.client.suiteql("SELECT id FROM item", 3, 0).await;
    assert_eq!(r.body["hasMore"], json!(true));
    let next = r.body["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap();
    assert!(
        next["href"]
            .as_str()
            .unwrap()
            .ends_with("/services/rest/query/v1/suiteql?limit=3&offset=3")
    );
    let r = h.client.suiteql("SELECT id FROM item", 3, 100_000).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_PARAMETER"));
}

#[tokio::test]
async fn keyset_cursor_queries_as_weft_writes_them() {
    let h = start(config(25)).await;
    h.sim.freeze_clock();
    for i in 0..4 {
        h.sim
            .erp_create(
                weft_sim_netsuite::RecordType::InventoryItem,
                json!({"itemId": format!("K-{i}")}),
            )
            .unwrap();
    }
    let t = h.sim.now().format("%Y-%m-%d %H:%M:%S").to_string();
    let lit = format!("TO_TIMESTAMP('{t}', 'YYYY-MM-DD HH24:MI:SS')");
    let frac = format!("TO_TIMESTAMP('{t}.0', 'YYYY-MM-DD HH24:MI:SS.FF')");
    let q = format!(
        "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified, itemId FROM item \
         WHERE (itemType = 'InvtPart') AND lastModifiedDate >= {frac} \
         AND (lastModifiedDate > {lit} OR (lastModifiedDate = {lit} AND id > 1001)) \
         ORDER BY lastModifiedDate ASC, id ASC"
    );
    let r = h.client.suiteql(&q, 100, 0).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rows = r.body["items"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1002", "1003"]);
    assert_eq!(rows[0]["itemid"], "K-2");
    assert_eq!(rows[0]["lastmodified"], json!(t));
    let head = h
        .client
        .suiteql(
            "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM item ORDER BY lastModifiedDate DESC, id DESC",
            1,
            0,
        )
        .await;
    assert_eq!(head.body["items"][0]["id"], "1003");
    assert_eq!(head.body["hasMore"], json!(true));
}
