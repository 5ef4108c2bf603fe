//! Collections and product membership over Admin GraphQL and the merchant API: create, add
//! (all or nothing), remove (a finished job), smart-collection refusal, unknown ids, handle
//! uniqueness, `Product.collections` wherever products are read, `collections(query:)`,
//! product deletion, scopes, and the webhooks fired (and not fired).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use weft_sim_shopify::{NewProduct, NewVariant, ShopifySim, Topic};

const CREATE: &str = r#"mutation($i: CollectionInput!) { collectionCreate(input: $i) {
    collection { id handle title updatedAt ruleSet { appliedDisjunctively rules { column relation condition } }
                 productsCount { count precision } }
    userErrors { field message } } }"#;

const ADD: &str = r#"mutation($id: ID!, $p: [ID!]!) { collectionAddProducts(id: $id, productIds: $p) {
    collection { id productsCount { count } products(first: 10) { nodes { id } } }
    userErrors { field message } } }"#;

const REMOVE: &str = r#"mutation($id: ID!, $p: [ID!]!) { collectionRemoveProducts(id: $id, productIds: $p) {
    job { id done } userErrors { field message } } }"#;

fn product(sim: &ShopifySim, title: &str, tags: &[&str]) -> String {
    let p = sim
        .create_product(NewProduct {
            title: title.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            variants: vec![NewVariant {
                sku: Some(format!("{title}-sku")),
                price: "10.00".into(),
                ..NewVariant::default()
            }],
            ..NewProduct::default()
        })
        .unwrap();
    format!("gid://shopify/Product/{}", p.id)
}

async fn create(sim: &ShopifySim, input: Value) -> Value {
    let body = gql(sim, CREATE, json!({"i": input})).await;
    body["data"]["collectionCreate"].clone()
}

fn ids(conn: &Value) -> Vec<String> {
    conn["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn create_add_remove_and_read_membership() {
    let sim = sim();
    let a = product(&sim, "Alpha", &[]);
    let b = product(&sim, "Beta", &[]);
    let c = create(&sim, json!({"title": "Summer Sale"})).await;
    assert_eq!(c["userErrors"], json!([]), "{c}");
    let col = &c["collection"];
    assert_eq!(col["handle"], "summer-sale");
    assert!(col["ruleSet"].is_null());
    assert_eq!(
        col["productsCount"],
        json!({"count": 0, "precision": "EXACT"})
    );
    let cid = col["id"].as_str().unwrap().to_owned();
    assert!(cid.starts_with("gid://shopify/Collection/"));

    // Added in the given order; the product's updatedAt does not move.
    let before = gql(
        &sim,
        r#"query($id: ID!) { product(id: $id) { updatedAt } }"#,
        json!({"id": a}),
    )
    .await;
    tokio::time::advance(Duration::from_secs(5)).await;
    let body = gql(&sim, ADD, json!({"id": cid, "p": [b, a]})).await;
    let p = &body["data"]["collectionAddProducts"];
    assert_eq!(p["userErrors"], json!([]), "{body}");
    assert_eq!(p["collection"]["productsCount"]["count"], 2);
    assert_eq!(ids(&p["collection"]["products"]), [b.clone(), a.clone()]);
    let after = gql(
        &sim,
        r#"query($id: ID!) { product(id: $id) { updatedAt } }"#,
        json!({"id": a}),
    )
    .await;
    assert_eq!(
        before["data"]["product"]["updatedAt"],
        after["data"]["product"]["updatedAt"]
    );

    // Product.collections in product(id:), products and nodes(ids:).
    let body = gql(
        &sim,
        r#"query($id: ID!, $c: ID!) {
            product(id: $id) { collections(first: 5) { nodes { id handle title } } }
            products(first: 5) { nodes { id collections(first: 5) { nodes { handle } } } }
            nodes(ids: [$id]) { ... on Product { collections(first: 5) { nodes { handle } } } }
            collection(id: $c) { hasProduct(id: $id) updatedAt }
        }"#,
        json!({"id": a, "c": cid}),
    )
    .await;
    let d = &body["data"];
    assert_eq!(
        d["product"]["collections"]["nodes"],
        json!([{"id": cid, "handle": "summer-sale", "title": "Summer Sale"}]),
        "{body}"
    );
    for n in d["products"]["nodes"].as_array().unwrap() {
        assert_eq!(
            n["collections"]["nodes"],
            json!([{"handle": "summer-sale"}])
        );
    }
    assert_eq!(
        d["nodes"][0]["collections"]["nodes"][0]["handle"],
        "summer-sale"
    );
    assert_eq!(d["collection"]["hasProduct"], true);
    assert_ne!(d["collection"]["updatedAt"], col["updatedAt"]);
    // The nested connection is costed like any other (2 + 5 × 1 per product).
    assert!(
        body["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap()
            > 30
    );

    // Remove: a finished job; ids not in it are ignored.
    let body = gql(
        &sim,
        REMOVE,
        json!({"id": cid, "p": [b, "gid://shopify/Product/1"]}),
    )
    .await;
    let r = &body["data"]["collectionRemoveProducts"];
    assert_eq!(r["userErrors"], json!([]), "{body}");
    assert_eq!(r["job"]["done"], true);
    let job = r["job"]["id"].as_str().unwrap().to_owned();
    let body = gql(
        &sim,
        r#"query($j: ID!) { job(id: $j) { id done } }"#,
        json!({"j": job}),
    )
    .await;
    assert_eq!(body["data"]["job"], json!({"id": job, "done": true}));
    let body = gql(
        &sim,
        r#"{ job(id: "gid://shopify/Job/5") { id } }"#,
        json!({}),
    )
    .await;
    assert!(body["data"]["job"].is_null());
    assert_eq!(sim.collection_products(&cid), vec![a.clone()]);
    assert!(sim.collections_of(&b).is_empty());
    assert_eq!(sim.collections_of(&a), ["summer-sale"]);

    // productsCount / products filter by collection_id.
    let n = cid.rsplit('/').next().unwrap();
    let body = gql(
        &sim,
        r#"query($q: String) { products(first: 5, query: $q) { nodes { id } } }"#,
        json!({"q": format!("collection_id:{n}")}),
    )
    .await;
    assert_eq!(ids(&body["data"]["products"]), [a]);
}

#[tokio::test(start_paused = true)]
async fn errors_unknown_ids_duplicates_and_smart_collections() {
    let sim = sim();
    let a = product(&sim, "Alpha", &["summer"]);
    let b = product(&sim, "Beta", &[]);
    let cid = sim.create_collection("Manual", None, false).unwrap();
    sim.add_to_collection(&cid, &a).unwrap();

    // Already in it: error, nothing added (all or nothing).
    let body = gql(&sim, ADD, json!({"id": cid, "p": [b, a]})).await;
    let p = &body["data"]["collectionAddProducts"];
    assert!(p["collection"].is_null(), "{body}");
    assert_eq!(
        p["userErrors"],
        json!([{"field": ["productIds", "1"], "message": "Product is already in the collection"}])
    );
    assert_eq!(sim.collection_products(&cid), vec![a.clone()]);

    // Unknown product and unknown collection.
    let body = gql(
        &sim,
        ADD,
        json!({"id": cid, "p": ["gid://shopify/Product/7"]}),
    )
    .await;
    assert_eq!(
        body["data"]["collectionAddProducts"]["userErrors"],
        json!([{"field": ["productIds", "0"], "message": "Product does not exist"}])
    );
    let body = gql(
        &sim,
        ADD,
        json!({"id": "gid://shopify/Collection/9", "p": [b]}),
    )
    .await;
    assert_eq!(
        body["data"]["collectionAddProducts"]["userErrors"],
        json!([{"field": ["id"], "message": "Collection does not exist"}])
    );
    let body = gql(
        &sim,
        REMOVE,
        json!({"id": "gid://shopify/Collection/9", "p": [b]}),
    )
    .await;
    assert!(body["data"]["collectionRemoveProducts"]["job"].is_null());
    assert_eq!(
        body["data"]["collectionRemoveProducts"]["userErrors"][0]["message"],
        "Collection does not exist"
    );
    // A malformed id is a top-level error.
    let body = gql(
        &sim,
        ADD,
        json!({"id": "gid://shopify/Product/9", "p": [b]}),
    )
    .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid global id")
    );

    // Smart collections: created with rules, membership computed, manual adds refused.
    let c = create(
        &sim,
        json!({"title": "Summer", "ruleSet": {"appliedDisjunctively": false,
               "rules": [{"column": "TAG", "relation": "EQUALS", "condition": "summer"}]}}),
    )
    .await;
    assert_eq!(
        c["collection"]["ruleSet"],
        json!({"appliedDisjunctively": false, "rules": [{"column": "TAG", "relation": "EQUALS", "condition": "summer"}]})
    );
    assert_eq!(c["collection"]["productsCount"]["count"], 1);
    let smart = c["collection"]["id"].as_str().unwrap().to_owned();
    let body = gql(&sim, ADD, json!({"id": smart, "p": [b]})).await;
    assert_eq!(
        body["data"]["collectionAddProducts"]["userErrors"],
        json!([{"field": ["id"], "message": "Can't manually add products to a smart collection."}])
    );
    let body = gql(
        &sim,
        r#"mutation($id: ID!, $p: [ID!]!) { collectionAddProductsV2(id: $id, productIds: $p) {
            job { done } userErrors { field message code } } }"#,
        json!({"id": smart, "p": [b]}),
    )
    .await;
    assert_eq!(
        body["data"]["collectionAddProductsV2"]["userErrors"][0]["code"],
        "CANT_ADD_TO_SMART_COLLECTION"
    );
    assert!(sim.add_to_collection(&smart, &b).is_err());
    let mut of_a = sim.collections_of(&a);
    of_a.sort();
    assert_eq!(of_a, ["manual", "summer"]);

    // V2 is lenient: already-present and unknown products are skipped; the job is done.
    let body = gql(
        &sim,
        r#"mutation($id: ID!, $p: [ID!]!) { collectionAddProductsV2(id: $id, productIds: $p) {
            job { done } userErrors { field message code } } }"#,
        json!({"id": cid, "p": [a, b, "gid://shopify/Product/7"]}),
    )
    .await;
    assert_eq!(
        body["data"]["collectionAddProductsV2"]["job"]["done"], true,
        "{body}"
    );
    assert_eq!(sim.collection_products(&cid), [a.clone(), b.clone()]);

    // Blank title; more than 250 ids.
    let c = create(&sim, json!({"title": " "})).await;
    assert!(c["collection"].is_null());
    assert_eq!(
        c["userErrors"],
        json!([{"field": ["title"], "message": "Title can't be blank"}])
    );
    let many: Vec<String> = (0..251)
        .map(|i| format!("gid://shopify/Product/{i}"))
        .collect();
    let body = gql(&sim, ADD, json!({"id": cid, "p": many})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "MAX_INPUT_SIZE_EXCEEDED"
    );
}

#[tokio::test(start_paused = true)]
async fn handles_are_unique_and_searchable() {
    let sim = sim();
    let first = create(&sim, json!({"title": "Summer"})).await;
    assert_eq!(first["collection"]["handle"], "summer");
    let second = create(&sim, json!({"title": "Summer"})).await;
    assert_eq!(second["collection"]["handle"], "summer-1");
    let third = create(&sim, json!({"title": "Other", "handle": "summer"})).await;
    assert_eq!(third["collection"]["handle"], "summer-2");
    let smart = sim
        .create_collection("Winter Smart", Some("winter"), true)
        .unwrap();

    let q = r#"query($q: String) { collections(first: 10, query: $q) { nodes { handle } } }"#;
    let handles = |v: &Value| -> Vec<String> {
        v["data"]["collections"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["handle"].as_str().unwrap().to_owned())
            .collect()
    };
    let body = gql(&sim, q, json!({"q": "handle:summer"})).await;
    assert_eq!(handles(&body), ["summer"], "{body}");
    let body = gql(&sim, q, json!({"q": "collection_type:smart"})).await;
    assert_eq!(handles(&body), ["winter"]);
    let body = gql(&sim, q, json!({"q": "collection_type:custom title:other"})).await;
    assert_eq!(handles(&body), ["summer-2"]);
    let body = gql(&sim, q, json!({"q": "updated_at:>'2000-01-01T00:00:00Z'"})).await;
    assert_eq!(handles(&body).len(), 4);

    let a = product(&sim, "Alpha", &[]);
    let cid = first["collection"]["id"].as_str().unwrap();
    sim.add_to_collection(cid, &a).unwrap();
    let n = a.rsplit('/').next().unwrap();
    let body = gql(&sim, q, json!({"q": format!("product_id:{n}")})).await;
    assert_eq!(handles(&body), ["summer"]);

    let body = gql(
        &sim,
        r#"{ byHandle: collectionByHandle(handle: "summer-1") { title }
             byId: collectionByIdentifier(identifier: {handle: "winter"}) { id ruleSet { rules { column } } }
             missing: collectionByHandle(handle: "nope") { id }
             count: collectionsCount(query: "collection_type:custom") { count precision }
             sorted: collections(first: 2, sortKey: TITLE, reverse: true) { nodes { title } } }"#,
        json!({}),
    )
    .await;
    let d = &body["data"];
    assert_eq!(d["byHandle"]["title"], "Summer", "{body}");
    assert_eq!(d["byId"]["id"], smart);
    assert_eq!(d["byId"]["ruleSet"]["rules"], json!([]));
    assert!(d["missing"].is_null());
    assert_eq!(d["count"], json!({"count": 3, "precision": "EXACT"}));
    assert_eq!(
        d["sorted"]["nodes"],
        json!([{"title": "Winter Smart"}, {"title": "Summer"}])
    );
    assert_eq!(
        sim.collections()
            .into_iter()
            .map(|(_, h)| h)
            .collect::<Vec<_>>(),
        ["summer", "summer-1", "summer-2", "winter"]
    );
}

#[tokio::test(start_paused = true)]
async fn deleting_a_product_drops_its_membership_and_scopes_are_checked() {
    let sim = sim();
    let a = product(&sim, "Alpha", &[]);
    let b = product(&sim, "Beta", &[]);
    let cid = sim.create_collection("Both", None, false).unwrap();
    sim.add_to_collection(&cid, &a).unwrap();
    sim.add_to_collection(&cid, &b).unwrap();
    let n: u64 = a.rsplit('/').next().unwrap().parse().unwrap();
    sim.delete_product(n).unwrap();
    assert_eq!(sim.collection_products(&cid), vec![b.clone()]);
    let body = gql(
        &sim,
        r#"query($c: ID!) { collection(id: $c) { productsCount { count } products(first: 5) { nodes { id } } } }"#,
        json!({"c": cid}),
    )
    .await;
    assert_eq!(body["data"]["collection"]["productsCount"]["count"], 1);

    sim.set_access_scopes(&["read_products"]);
    let body = gql(&sim, REMOVE, json!({"id": cid, "p": [b]})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "ACCESS_DENIED");
    assert_eq!(
        body["errors"][0]["extensions"]["requiredAccess"],
        "`write_products` access scope."
    );
    let body = gql(
        &sim,
        r#"{ collections(first: 1) { nodes { id } } }"#,
        json!({}),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    sim.set_access_scopes(&["read_orders"]);
    let body = gql(
        &sim,
        r#"{ collections(first: 1) { nodes { id } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["requiredAccess"],
        "`read_products` access scope."
    );
    assert_eq!(sim.collection_products(&cid), [b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_fire_for_collections_not_for_products() {
    let sim = sim();
    let a = product(&sim, "Alpha", &[]);
    let (url, seen) = receiver(|_, _| axum::http::StatusCode::OK).await;
    // Subscribed through the API, as an app does.
    for t in [
        "COLLECTIONS_CREATE",
        "COLLECTIONS_UPDATE",
        "COLLECTIONS_DELETE",
        "PRODUCTS_UPDATE",
    ] {
        let body = gql(
            &sim,
            r#"mutation($t: WebhookSubscriptionTopic!, $u: URL!) {
                webhookSubscriptionCreate(topic: $t, webhookSubscription: {callbackUrl: $u, format: JSON}) {
                    webhookSubscription { topic } userErrors { message } } }"#,
            json!({"t": t, "u": url}),
        )
        .await;
        assert_eq!(
            body["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["topic"], t,
            "{body}"
        );
    }
    let c = create(&sim, json!({"title": "Summer"})).await;
    let cid = c["collection"]["id"].as_str().unwrap().to_owned();
    gql(&sim, ADD, json!({"id": cid, "p": [a]})).await;
    // Nothing changes: no webhook.
    gql(
        &sim,
        REMOVE,
        json!({"id": cid, "p": ["gid://shopify/Product/3"]}),
    )
    .await;
    // The merchant's edits fire the same topic.
    sim.remove_from_collection(&cid, &a).unwrap();
    sim.add_to_collection(&cid, &a).unwrap();
    sim.add_to_collection(&cid, &a).unwrap(); // already in: no change, no webhook
    let body = gql(
        &sim,
        r#"mutation($id: ID!) { collectionDelete(input: {id: $id}) { deletedCollectionId userErrors { message } } }"#,
        json!({"id": cid}),
    )
    .await;
    assert_eq!(body["data"]["collectionDelete"]["deletedCollectionId"], cid);

    assert!(sim.wait_webhooks_idle(Duration::from_secs(10)).await);
    let got = seen.lock().clone();
    let mut topics: Vec<String> = got
        .iter()
        .map(|c| c.headers["x-shopify-topic"].to_str().unwrap().to_owned())
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            "collections/create",
            "collections/delete",
            "collections/update",
            "collections/update",
            "collections/update"
        ]
    );
    let create_body: Value = serde_json::from_slice(
        &got.iter()
            .find(|c| c.headers["x-shopify-topic"] == "collections/create")
            .unwrap()
            .body,
    )
    .unwrap();
    let n: u64 = cid.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(create_body["id"], n);
    assert_eq!(create_body["handle"], "summer");
    assert_eq!(create_body["title"], "Summer");
    assert_eq!(create_body["admin_graphql_api_id"], cid);
    assert!(create_body.get("rules").is_none());
    let delete_body: Value = serde_json::from_slice(
        &got.iter()
            .find(|c| c.headers["x-shopify-topic"] == "collections/delete")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(delete_body, json!({"id": n}));
}

#[tokio::test(start_paused = true)]
async fn merchant_api_and_sim_routes() {
    let sim = sim();
    let a = product(&sim, "Alpha", &["x"]);
    let cid = sim
        .create_collection("Picks", Some("staff picks"), false)
        .unwrap();
    assert_eq!(sim.collections(), [(cid.clone(), "staff-picks".to_owned())]);
    sim.add_to_collection(&cid, &a).unwrap();
    assert_eq!(sim.collections_of(&a), ["staff-picks"]);
    assert!(matches!(
        sim.add_to_collection("gid://shopify/Collection/1", &a),
        Err(weft_sim_shopify::SimError::NotFound(_))
    ));
    assert!(matches!(
        sim.add_to_collection(&cid, "gid://shopify/Product/1"),
        Err(weft_sim_shopify::SimError::NotFound(_))
    ));
    assert!(sim.add_to_collection("nonsense", &a).is_err());
    let smart = sim.create_smart_collection("Tagged x", None, "x").unwrap();
    assert_eq!(sim.collection_products(&smart), vec![a.clone()]);
    assert!(sim.remove_from_collection(&smart, &a).is_err());
    sim.remove_from_collection(&cid, &a).unwrap();
    assert_eq!(sim.collections_of(&a), ["tagged-x"]);
    sim.delete_collection(&smart).unwrap();
    assert!(sim.collections_of(&a).is_empty());
    assert!(sim.create_collection("", None, false).is_err());

    // /_sim routes.
    let n = cid.rsplit('/').next().unwrap();
    let p = a.rsplit('/').next().unwrap();
    let (status, body) = sim_call(
        &sim,
        "PUT",
        &format!("/_sim/collections/{n}/products/{p}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = sim_call(&sim, "GET", "/_sim/collections", None).await;
    assert_eq!(
        body["collections"],
        json!([{"id": n, "handle": "staff-picks", "product_ids": [p]}])
    );
    let (status, body) = sim_call(
        &sim,
        "POST",
        "/_sim/collections",
        Some(json!({"title": "Smart one", "tag": "x"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["handle"], "smart-one");
    let (status, _) = sim_call(
        &sim,
        "DELETE",
        &format!("/_sim/collections/{n}/products/{p}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = sim_call(&sim, "DELETE", &format!("/_sim/collections/{n}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = sim_call(&sim, "DELETE", &format!("/_sim/collections/{n}"), None).await;
    assert_eq!(status, 404);
    let mut of_a = sim.collections_of(&a);
    of_a.sort();
    assert_eq!(of_a, ["smart-one"]);
    let dump = sim.dump();
    assert_eq!(dump["collections"][0]["type"], "smart");
}

async fn sim_call(sim: &ShopifySim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        ))
        .unwrap();
    let resp = sim.router().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[test]
fn topics_parse() {
    assert_eq!(
        Topic::parse("collections/update"),
        Some(Topic::CollectionsUpdate)
    );
    assert_eq!(
        Topic::parse("COLLECTIONS_DELETE"),
        Some(Topic::CollectionsDelete)
    );
}
