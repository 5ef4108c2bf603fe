//! Price lists with fixed prices over Admin GraphQL and the merchant API: add, replace, delete
//! and update; errors that leave the list untouched; `prices(originType:, query:)` filtering
//! and paging; relative prices; deletions of variants and products; scopes, cost, no webhooks.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_sim_shopify::{CreatedProduct, NewProduct, NewVariant, ShopifySim, VariantEdit};

const ADD: &str = r#"mutation($l: ID!, $p: [PriceListPriceInput!]!) {
    priceListFixedPricesAdd(priceListId: $l, prices: $p) {
        prices { price { amount currencyCode } compareAtPrice { amount currencyCode } originType variant { id } }
        userErrors { field code message }
    }
}"#;

const DELETE: &str = r#"mutation($l: ID!, $v: [ID!]!) {
    priceListFixedPricesDelete(priceListId: $l, variantIds: $v) {
        deletedFixedPriceVariantIds
        userErrors { field code message }
    }
}"#;

const UPDATE: &str = r#"mutation($l: ID!, $a: [PriceListPriceInput!]!, $d: [ID!]!) {
    priceListFixedPricesUpdate(priceListId: $l, pricesToAdd: $a, variantIdsToDelete: $d) {
        priceList { id fixedPricesCount }
        pricesAdded { price { amount } compareAtPrice { amount } variant { id } }
        deletedFixedPriceVariantIds
        userErrors { field code message }
    }
}"#;

const FIXED: &str = r#"query($l: ID!) { priceList(id: $l) { id name currency fixedPricesCount
    prices(first: 100, originType: FIXED) { nodes { price { amount currencyCode } compareAtPrice { amount } originType variant { id } } } } }"#;

fn product(sim: &ShopifySim, title: &str, prices: &[&str]) -> CreatedProduct {
    sim.create_product(NewProduct {
        title: title.into(),
        option_name: Some("Size".into()),
        variants: prices
            .iter()
            .enumerate()
            .map(|(i, p)| NewVariant {
                sku: Some(format!("{title}-{i}")),
                price: (*p).into(),
                compare_at_price: (i == 0).then(|| "99.00".into()),
                option: Some(format!("S{i}")),
                ..NewVariant::default()
            })
            .collect(),
        ..NewProduct::default()
    })
    .unwrap()
}

fn vgid(id: u64) -> String {
    format!("gid://shopify/ProductVariant/{id}")
}

fn pgid(id: u64) -> String {
    format!("gid://shopify/Product/{id}")
}

fn price(variant: u64, amount: &str, currency: &str, compare_at: Option<&str>) -> Value {
    let mut p =
        json!({"variantId": vgid(variant), "price": {"amount": amount, "currencyCode": currency}});
    if let Some(c) = compare_at {
        p["compareAtPrice"] = json!({"amount": c, "currencyCode": currency});
    }
    p
}

/// The list's fixed prices as `(variant gid, amount, compare-at amount)` read over GraphQL.
async fn fixed(sim: &ShopifySim, list: &str) -> Vec<(String, String, Option<String>)> {
    let body = gql(sim, FIXED, json!({"l": list})).await;
    let pl = &body["data"]["priceList"];
    let nodes = pl["prices"]["nodes"].as_array().expect("prices").clone();
    assert_eq!(pl["fixedPricesCount"], nodes.len(), "{body}");
    nodes
        .iter()
        .map(|n| {
            assert_eq!(n["originType"], "FIXED");
            assert_eq!(n["price"]["currencyCode"], pl["currency"]);
            (
                n["variant"]["id"].as_str().unwrap().to_owned(),
                n["price"]["amount"].as_str().unwrap().to_owned(),
                n["compareAtPrice"]["amount"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn entry(v: u64, p: &str, c: Option<&str>) -> (String, String, Option<String>) {
    (vgid(v), p.to_owned(), c.map(str::to_owned))
}

#[tokio::test(start_paused = true)]
async fn fixed_prices_are_added_replaced_deleted_and_updated() {
    let sim = sim();
    let a = product(&sim, "A", &["10.00", "11.00"]);
    let b = product(&sim, "B", &["20.00"]);
    let (a0, a1, b0) = (a.variant_ids[0], a.variant_ids[1], b.variant_ids[0]);
    let list = sim.create_price_list("Europe", "EUR", 1.0).unwrap();
    assert!(list.starts_with("gid://shopify/PriceList/"), "{list}");

    // Add two; amounts are normalised decimals.
    let body = gql(
        &sim,
        ADD,
        json!({"l": list, "p": [price(a0, "9.5", "EUR", Some("12")), price(a1, "8", "EUR", None)]}),
    )
    .await;
    let payload = &body["data"]["priceListFixedPricesAdd"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(
        payload["prices"],
        json!([
            {"price": {"amount": "9.50", "currencyCode": "EUR"}, "compareAtPrice": {"amount": "12.00", "currencyCode": "EUR"},
             "originType": "FIXED", "variant": {"id": vgid(a0)}},
            {"price": {"amount": "8.00", "currencyCode": "EUR"}, "compareAtPrice": null,
             "originType": "FIXED", "variant": {"id": vgid(a1)}},
        ]),
        "{body}"
    );
    assert_eq!(
        fixed(&sim, &list).await,
        vec![entry(a0, "9.50", Some("12.00")), entry(a1, "8.00", None)]
    );

    // Adding again replaces; an omitted compareAtPrice clears it.
    let body = gql(
        &sim,
        ADD,
        json!({"l": list, "p": [price(a0, "7.25", "EUR", None)]}),
    )
    .await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"]["userErrors"],
        json!([]),
        "{body}"
    );
    assert_eq!(
        fixed(&sim, &list).await,
        vec![entry(a0, "7.25", None), entry(a1, "8.00", None)]
    );

    // Delete one.
    let body = gql(&sim, DELETE, json!({"l": list, "v": [vgid(a1)]})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesDelete"],
        json!({"deletedFixedPriceVariantIds": [vgid(a1)], "userErrors": []}),
        "{body}"
    );
    assert_eq!(fixed(&sim, &list).await, vec![entry(a0, "7.25", None)]);

    // Update: add b0 and replace a0 while deleting a0 (deletion first, then the addition).
    let body = gql(
        &sim,
        UPDATE,
        json!({"l": list, "a": [price(b0, "18.00", "EUR", Some("25.00")), price(a0, "6.00", "EUR", None)], "d": [vgid(a0)]}),
    )
    .await;
    let payload = &body["data"]["priceListFixedPricesUpdate"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(
        payload["priceList"],
        json!({"id": list, "fixedPricesCount": 2})
    );
    assert_eq!(payload["deletedFixedPriceVariantIds"], json!([vgid(a0)]));
    assert_eq!(
        payload["pricesAdded"],
        json!([
            {"price": {"amount": "18.00"}, "compareAtPrice": {"amount": "25.00"}, "variant": {"id": vgid(b0)}},
            {"price": {"amount": "6.00"}, "compareAtPrice": null, "variant": {"id": vgid(a0)}},
        ])
    );
    // Update that only deletes.
    let body = gql(&sim, UPDATE, json!({"l": list, "a": [], "d": [vgid(b0)]})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesUpdate"]["priceList"]["fixedPricesCount"], 1,
        "{body}"
    );
    assert_eq!(sim.fixed_prices(&list), vec![entry(a0, "6.00", None)]);

    // priceLists and node(id:).
    let body = gql(
        &sim,
        r#"query($l: ID!) { priceLists(first: 5) { nodes { id name currency fixedPricesCount } pageInfo { hasNextPage } }
            node(id: $l) { id ... on PriceList { name } } }"#,
        json!({"l": list}),
    )
    .await;
    assert_eq!(
        body["data"]["priceLists"],
        json!({"nodes": [{"id": list, "name": "Europe", "currency": "EUR", "fixedPricesCount": 1}],
               "pageInfo": {"hasNextPage": false}}),
        "{body}"
    );
    assert_eq!(body["data"]["node"], json!({"id": list, "name": "Europe"}));
}

#[tokio::test(start_paused = true)]
async fn a_rejected_change_leaves_the_list_untouched() {
    let sim = sim();
    let a = product(&sim, "A", &["10.00", "11.00"]);
    let (a0, a1) = (a.variant_ids[0], a.variant_ids[1]);
    let list = sim.create_price_list("Europe", "EUR", 1.0).unwrap();
    sim.set_fixed_price(&list, &vgid(a0), "5.00", Some("6.00"))
        .unwrap();
    let before = vec![entry(a0, "5.00", Some("6.00"))];
    let missing_variant = a1 + 1_000_000;

    // A currency other than the list's, next to a valid entry: nothing applies.
    let body = gql(
        &sim,
        ADD,
        json!({"l": list, "p": [price(a1, "1.00", "EUR", None), price(a0, "2.00", "USD", None)]}),
    )
    .await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"],
        json!({"prices": null, "userErrors": [{
            "field": ["prices", "1", "price", "currencyCode"], "code": "PRICE_LIST_CURRENCY_MISMATCH",
            "message": "The specified currency doesn't match the price list's currency."}]}),
        "{body}"
    );
    // The compare-at price's currency is checked too.
    let mut p = price(a1, "1.00", "EUR", None);
    p["compareAtPrice"] = json!({"amount": "3.00", "currencyCode": "GBP"});
    let body = gql(&sim, ADD, json!({"l": list, "p": [p]})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"]["userErrors"][0]["field"],
        json!(["prices", "0", "compareAtPrice", "currencyCode"]),
        "{body}"
    );
    assert_eq!(fixed(&sim, &list).await, before);

    // An unknown variant.
    let body = gql(
        &sim,
        ADD,
        json!({"l": list, "p": [price(a1, "1.00", "EUR", None), price(missing_variant, "1.00", "EUR", None)]}),
    )
    .await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"]["userErrors"],
        json!([{"field": ["prices", "1", "variantId"], "code": "VARIANT_NOT_FOUND",
                "message": "The specified product variant doesn't exist."}]),
        "{body}"
    );
    assert_eq!(fixed(&sim, &list).await, before);

    // An unknown list.
    let body = gql(
        &sim,
        ADD,
        json!({"l": "gid://shopify/PriceList/1", "p": [price(a1, "1.00", "EUR", None)]}),
    )
    .await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"]["userErrors"],
        json!([{"field": ["priceListId"], "code": "PRICE_LIST_NOT_FOUND",
                "message": "The price list doesn't exist."}]),
        "{body}"
    );
    let body = gql(
        &sim,
        DELETE,
        json!({"l": "gid://shopify/PriceList/1", "v": [vgid(a0)]}),
    )
    .await;
    assert_eq!(
        body["data"]["priceListFixedPricesDelete"]["userErrors"][0]["code"], "PRICE_LIST_NOT_FOUND",
        "{body}"
    );

    // Deleting a variant without a fixed price (it has a relative one): VARIANT_NOT_FOUND, and
    // the valid deletion beside it does not happen.
    let body = gql(&sim, DELETE, json!({"l": list, "v": [vgid(a0), vgid(a1)]})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesDelete"],
        json!({"deletedFixedPriceVariantIds": null, "userErrors": [{
            "field": ["variantIds", "1"], "code": "VARIANT_NOT_FOUND",
            "message": "A fixed price for the specified product variant doesn't exist."}]}),
        "{body}"
    );
    // Update: a bad deletion keeps the valid addition from applying.
    let body = gql(
        &sim,
        UPDATE,
        json!({"l": list, "a": [price(a1, "4.00", "EUR", None)], "d": [vgid(a1)]}),
    )
    .await;
    let payload = &body["data"]["priceListFixedPricesUpdate"];
    assert_eq!(payload["priceList"], Value::Null, "{body}");
    assert_eq!(payload["pricesAdded"], Value::Null, "{body}");
    assert_eq!(
        payload["userErrors"],
        json!([{"field": ["variantIdsToDelete", "0"], "code": "VARIANT_NOT_FOUND",
                "message": "A fixed price for the specified product variant doesn't exist."}])
    );
    assert_eq!(fixed(&sim, &list).await, before);

    // Empty calls are BLANK.
    let body = gql(&sim, ADD, json!({"l": list, "p": []})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"]["userErrors"][0]["code"], "BLANK",
        "{body}"
    );
    let body = gql(&sim, UPDATE, json!({"l": list, "a": [], "d": []})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesUpdate"]["userErrors"][0]["code"], "BLANK",
        "{body}"
    );

    // More than 250 inputs: refused before anything runs.
    let many: Vec<Value> = (0..251).map(|_| price(a1, "1.00", "EUR", None)).collect();
    let body = gql(&sim, ADD, json!({"l": list, "p": many})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"],
        Value::Null,
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "MAX_INPUT_SIZE_EXCEEDED",
        "{body}"
    );
    // A negative amount is not a Decimal.
    let body = gql(
        &sim,
        ADD,
        json!({"l": list, "p": [price(a1, "-1.00", "EUR", None)]}),
    )
    .await;
    assert!(body["errors"].is_array(), "{body}");
    assert_eq!(fixed(&sim, &list).await, before);
}

#[tokio::test(start_paused = true)]
async fn prices_filter_by_product_and_variant_and_page_with_cursors() {
    let sim = sim();
    let p1 = product(&sim, "P1", &["10.00", "11.00"]);
    let p2 = product(&sim, "P2", &["20.00", "21.00"]);
    let p3 = product(&sim, "P3", &["30.00", "31.00"]);
    let list = sim.create_price_list("Wholesale", "USD", 1.0).unwrap();
    let all: Vec<u64> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| p.variant_ids.clone())
        .collect();
    let inputs: Vec<Value> = all.iter().map(|v| price(*v, "1.00", "USD", None)).collect();
    let body = gql(&sim, ADD, json!({"l": list, "p": inputs})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesAdd"]["userErrors"],
        json!([]),
        "{body}"
    );

    let q = r#"query($l: ID!, $q: String, $after: String) { priceList(id: $l) {
        prices(first: 3, after: $after, originType: FIXED, query: $q) {
            edges { cursor node { originType variant { id sku product { id } } } }
            nodes { variant { id } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;
    let filter = format!("product_id:{} OR product_id:{}", p1.id, p2.id);
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let body = gql(&sim, q, json!({"l": list, "q": filter, "after": after})).await;
        let conn = &body["data"]["priceList"]["prices"];
        let edges = conn["edges"].as_array().expect("edges").clone();
        assert_eq!(
            edges.len(),
            conn["nodes"].as_array().unwrap().len(),
            "{body}"
        );
        pages += 1;
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 1, "{body}");
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        for e in &edges {
            let n = &e["node"];
            assert_eq!(n["originType"], "FIXED");
            let product = n["variant"]["product"]["id"].as_str().unwrap().to_owned();
            assert!(product == pgid(p1.id) || product == pgid(p2.id), "{body}");
            assert!(n["variant"]["sku"].as_str().unwrap().starts_with('P'));
            seen.push(n["variant"]["id"].as_str().unwrap().to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 2);
    let expected: Vec<String> = p1
        .variant_ids
        .iter()
        .chain(&p2.variant_ids)
        .map(|v| vgid(*v))
        .collect();
    assert_eq!(seen, expected, "by variant id, each once");

    // variant_id, negation and combination.
    let filtered = |q: String| {
        let sim = sim.clone();
        let list = list.clone();
        async move {
            let body = gql(
                &sim,
                r#"query($l: ID!, $q: String) { priceList(id: $l) { prices(first: 50, originType: FIXED, query: $q) { nodes { variant { id } } } } }"#,
                json!({"l": list, "q": q}),
            )
            .await;
            body["data"]["priceList"]["prices"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["variant"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        filtered(format!("variant_id:{}", p3.variant_ids[1])).await,
        vec![vgid(p3.variant_ids[1])]
    );
    assert_eq!(
        filtered(format!(
            "product_id:{} -variant_id:{}",
            p3.id, p3.variant_ids[0]
        ))
        .await,
        vec![vgid(p3.variant_ids[1])]
    );
    assert_eq!(
        filtered(format!("product_id:{}", pgid(p3.id))).await,
        Vec::<String>::new()
    );
    assert_eq!(filtered(String::new()).await.len(), 6);

    // last/before from the end.
    let body = gql(
        &sim,
        r#"query($l: ID!) { priceList(id: $l) { prices(last: 2, originType: FIXED) { nodes { variant { id } } pageInfo { hasPreviousPage hasNextPage } } } }"#,
        json!({"l": list}),
    )
    .await;
    let conn = &body["data"]["priceList"]["prices"];
    assert_eq!(
        conn["pageInfo"],
        json!({"hasPreviousPage": true, "hasNextPage": false})
    );
    assert_eq!(
        conn["nodes"],
        json!([{"variant": {"id": vgid(p3.variant_ids[0])}}, {"variant": {"id": vgid(p3.variant_ids[1])}}])
    );

    // More than 250 per page is refused, as for every connection.
    let body = gql(
        &sim,
        r#"query($l: ID!) { priceList(id: $l) { prices(first: 251) { nodes { originType } } } }"#,
        json!({"l": list}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "MAX_PAGE_SIZE_EXCEEDED",
        "{body}"
    );
}

#[tokio::test(start_paused = true)]
async fn variants_without_a_fixed_price_have_a_relative_one() {
    let sim = sim();
    let p = product(&sim, "R", &["10.00", "19.99"]);
    let (v0, v1) = (p.variant_ids[0], p.variant_ids[1]);
    let list = sim.create_price_list("Europe", "EUR", 0.92).unwrap();
    sim.set_fixed_price(&list, &vgid(v1), "15.00", None)
        .unwrap();
    let q = r#"query($l: ID!, $o: PriceListPriceOriginType) { priceList(id: $l) {
        prices(first: 10, originType: $o) { nodes { originType price { amount currencyCode } compareAtPrice { amount } variant { id } } } } }"#;
    let body = gql(&sim, q, json!({"l": list, "o": null})).await;
    assert_eq!(
        body["data"]["priceList"]["prices"]["nodes"],
        json!([
            // 10.00 × 0.92 and the compare-at 99.00 × 0.92 = 91.08.
            {"originType": "RELATIVE", "price": {"amount": "9.20", "currencyCode": "EUR"}, "compareAtPrice": {"amount": "91.08"}, "variant": {"id": vgid(v0)}},
            {"originType": "FIXED", "price": {"amount": "15.00", "currencyCode": "EUR"}, "compareAtPrice": null, "variant": {"id": vgid(v1)}},
        ]),
        "{body}"
    );
    let body = gql(&sim, q, json!({"l": list, "o": "RELATIVE"})).await;
    let nodes = body["data"]["priceList"]["prices"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 1, "{body}");
    assert_eq!(nodes[0]["variant"]["id"], vgid(v0));
    // Removing the fixed price makes it relative again: 19.99 × 0.92 = 18.3908 -> 18.39.
    sim.remove_fixed_price(&list, &vgid(v1)).unwrap();
    let body = gql(&sim, q, json!({"l": list, "o": "RELATIVE"})).await;
    assert_eq!(
        body["data"]["priceList"]["prices"]["nodes"][1]["price"]["amount"], "18.39",
        "{body}"
    );
}

#[tokio::test(start_paused = true)]
async fn deleting_variants_and_products_drops_their_fixed_prices() {
    let sim = sim();
    let a = product(&sim, "A", &["10.00", "11.00", "12.00"]);
    let b = product(&sim, "B", &["20.00"]);
    let eu = sim.create_price_list("Europe", "EUR", 1.0).unwrap();
    let uk = sim.create_price_list("UK", "GBP", 1.0).unwrap();
    for l in [&eu, &uk] {
        for v in a.variant_ids.iter().chain(&b.variant_ids) {
            sim.set_fixed_price(l, &vgid(*v), "1.00", None).unwrap();
        }
    }
    // The merchant deletes a variant in the admin.
    sim.delete_variant(a.variant_ids[0]).unwrap();
    // The app deletes one through the API.
    let body = gql(
        &sim,
        r#"mutation($p: ID!, $v: [ID!]!) { productVariantsBulkDelete(productId: $p, variantsIds: $v) { userErrors { message } } }"#,
        json!({"p": pgid(a.id), "v": [vgid(a.variant_ids[1])]}),
    )
    .await;
    assert_eq!(
        body["data"]["productVariantsBulkDelete"]["userErrors"],
        json!([]),
        "{body}"
    );
    for l in [&eu, &uk] {
        assert_eq!(
            sim.fixed_prices(l),
            vec![
                entry(a.variant_ids[2], "1.00", None),
                entry(b.variant_ids[0], "1.00", None)
            ]
        );
    }
    // Deleting the product takes the rest of its prices.
    let body = gql(
        &sim,
        r#"mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId } }"#,
        json!({"id": pgid(a.id)}),
    )
    .await;
    assert_eq!(
        body["data"]["productDelete"]["deletedProductId"],
        pgid(a.id),
        "{body}"
    );
    for l in [&eu, &uk] {
        assert_eq!(
            fixed(&sim, l).await,
            vec![entry(b.variant_ids[0], "1.00", None)]
        );
    }
    sim.delete_product(b.id).unwrap();
    assert_eq!(fixed(&sim, &eu).await, vec![]);
    assert_eq!(sim.dump()["price_lists"][0]["fixed_prices"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn merchant_api_creates_lists_and_sets_prices() {
    let sim = sim();
    let a = product(&sim, "A", &["10.00"]);
    let v = vgid(a.variant_ids[0]);
    let list = sim.create_price_list("Europe", "EUR", 1.0).unwrap();
    sim.set_fixed_price(&list, &v, "8", Some("9.9")).unwrap();
    assert_eq!(
        sim.fixed_prices(&list),
        vec![entry(a.variant_ids[0], "8.00", Some("9.90"))]
    );
    sim.set_fixed_price(&list, &v, "7.00", None).unwrap();
    assert_eq!(
        sim.fixed_prices(&list),
        vec![entry(a.variant_ids[0], "7.00", None)]
    );

    use weft_sim_shopify::SimError;
    assert!(matches!(
        sim.create_price_list("Europe", "EUR", 1.0),
        Err(SimError::Rejected(_))
    ));
    assert!(matches!(
        sim.create_price_list(" ", "EUR", 1.0),
        Err(SimError::Rejected(_))
    ));
    assert!(matches!(
        sim.create_price_list("Yen", "JPY", 1.0),
        Err(SimError::Invalid(_))
    ));
    assert!(matches!(
        sim.create_price_list("Zero", "EUR", 0.0),
        Err(SimError::Invalid(_))
    ));
    assert!(matches!(
        sim.set_fixed_price("gid://shopify/PriceList/1", &v, "1.00", None),
        Err(SimError::NotFound(_))
    ));
    assert!(matches!(
        sim.set_fixed_price(&list, "gid://shopify/ProductVariant/1", "1.00", None),
        Err(SimError::NotFound(_))
    ));
    assert!(matches!(
        sim.set_fixed_price(&list, &v, "1.234", None),
        Err(SimError::Invalid(_))
    ));
    assert!(matches!(
        sim.set_fixed_price("42", &v, "1.00", None),
        Err(SimError::Invalid(_))
    ));
    sim.remove_fixed_price(&list, &v).unwrap();
    assert!(matches!(
        sim.remove_fixed_price(&list, &v),
        Err(SimError::NotFound(_))
    ));
    assert_eq!(sim.fixed_prices(&list), vec![]);
    assert_eq!(sim.fixed_prices("gid://shopify/PriceList/1"), vec![]);
}

async fn call(
    sim: &ShopifySim,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(start_paused = true)]
async fn merchant_http_endpoints_mirror_the_rust_api() {
    let sim = sim();
    let a = product(&sim, "A", &["10.00"]);
    let vid = a.variant_ids[0].to_string();
    let (s, created) = call(
        &sim,
        "POST",
        "/_sim/price_lists",
        Some(json!({"name": "Europe", "currency": "EUR", "rate": 0.5})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let lid = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["admin_graphql_api_id"],
        format!("gid://shopify/PriceList/{lid}")
    );
    let (s, body) = call(
        &sim,
        "PUT",
        &format!("/_sim/price_lists/{lid}/fixed_prices/{vid}"),
        Some(json!({"price": "4.00", "compare_at_price": "5.00"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = call(
        &sim,
        "GET",
        &format!("/_sim/price_lists/{lid}/fixed_prices"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!({"fixed_prices": [{"variant_id": vid, "price": "4.00", "compare_at_price": "5.00"}]})
    );
    let (s, _) = call(
        &sim,
        "DELETE",
        &format!("/_sim/price_lists/{lid}/fixed_prices/{vid}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &sim,
        "DELETE",
        &format!("/_sim/price_lists/{lid}/fixed_prices/{vid}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&sim, "GET", "/_sim/price_lists/1/fixed_prices", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &sim,
        "POST",
        "/_sim/price_lists",
        Some(json!({"name": "Yen", "currency": "JPY"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The state dump carries the lists.
    assert_eq!(sim.dump()["price_lists"][0]["name"], "Europe");
    assert_eq!(sim.dump()["price_lists"][0]["rate"], 0.5);
}

#[tokio::test(start_paused = true)]
async fn scopes_cost_and_no_webhooks() {
    let sim = sim();
    let a = product(&sim, "A", &["10.00"]);
    let list = sim.create_price_list("Europe", "EUR", 1.0).unwrap();
    let v = a.variant_ids[0];
    sim.subscribe_all("http://127.0.0.1:9/hooks").unwrap();
    let deliveries = sim.webhook_stats().deliveries;
    let updated = |sim: ShopifySim| async move {
        let body = gql(
            &sim,
            &format!(r#"{{ product(id: "{}") {{ updatedAt }} }}"#, pgid(a.id)),
            json!({}),
        )
        .await;
        body["data"]["product"]["updatedAt"].clone()
    };
    let before = updated(sim.clone()).await;
    tokio::time::advance(Duration::from_secs(5)).await;

    // A fixed-price mutation costs 10, like every mutation but productSet.
    let body = gql(
        &sim,
        ADD,
        json!({"l": list, "p": [price(v, "1.00", "EUR", None)]}),
    )
    .await;
    assert_eq!(
        body["extensions"]["cost"]["requestedQueryCost"], 10,
        "{body}"
    );
    sim.set_fixed_price(&list, &vgid(v), "2.00", None).unwrap();
    let body = gql(
        &sim,
        UPDATE,
        json!({"l": list, "a": [price(v, "3.00", "EUR", None)], "d": []}),
    )
    .await;
    assert_eq!(
        body["data"]["priceListFixedPricesUpdate"]["userErrors"],
        json!([]),
        "{body}"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        updated(sim.clone()).await,
        before,
        "a fixed price is not a product field"
    );
    assert_eq!(
        sim.webhook_stats().deliveries,
        deliveries,
        "no price-list webhook"
    );
    // The subscription itself works: a variant edit is delivered.
    sim.edit_variant(
        v,
        VariantEdit {
            price: Some("11.00".into()),
            ..VariantEdit::default()
        },
    )
    .unwrap();
    assert!(sim.webhook_stats().deliveries > deliveries);

    // prices(first: 250) is costed like any connection: 1 (priceList) + 2 + 250 × (1 + 1 + 1).
    let body = gql(
        &sim,
        r#"query($l: ID!) { priceList(id: $l) { prices(first: 250) { nodes { price { amount } variant { id } } } } }"#,
        json!({"l": list}),
    )
    .await;
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 1 + 2 + 250 * 3, "{body}");
    // Actual: the one price (1 + price 1 + variant 1) in a connection (2), in the list (1).
    assert_eq!(cost["actualQueryCost"], 1 + 2 + 3, "{body}");
    let body = gql(
        &sim,
        "{ priceLists(first: 10) { nodes { id prices(first: 250) { nodes { originType } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED",
        "{body}"
    );

    // Reading needs read_products; the mutations write_products.
    sim.set_access_scopes(&["read_products"]);
    let body = gql(&sim, FIXED, json!({"l": list})).await;
    assert_eq!(body["data"]["priceList"]["fixedPricesCount"], 1, "{body}");
    let body = gql(&sim, DELETE, json!({"l": list, "v": [vgid(v)]})).await;
    assert_eq!(
        body["data"]["priceListFixedPricesDelete"],
        Value::Null,
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["requiredAccess"],
        "`write_products` access scope."
    );
    sim.set_access_scopes(&["read_orders"]);
    let body = gql(&sim, "{ priceLists(first: 1) { nodes { id } } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["requiredAccess"], "`read_products` access scope.",
        "{body}"
    );
}
