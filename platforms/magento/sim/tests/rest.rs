//! The simulator's REST surface: auth, search criteria and its paging quirk, source items,
//! orders, and the asynchronous bulk API with its chaos.

use std::time::Duration;

use serde_json::{Value, json};
use weft_sim_magento::{
    ChaosConfig, DEFAULT_TOKEN, MagentoSim, OrderLine, STATUS_COMPLETE, STATUS_MUST_CHANGE,
    STATUS_OPEN, STATUS_REJECTED, STATUS_RETRIABLE, SimConfig, SimHandle,
};

async fn start(config: SimConfig) -> (MagentoSim, SimHandle, String) {
    let sim = MagentoSim::new(config);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h = sim.serve(l).await.unwrap();
    let root = h.api_root("default");
    (sim, h, root)
}

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(DEFAULT_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn seed(sim: &MagentoSim, n: usize) {
    for i in 0..n {
        sim.save_product(json!({"sku": format!("SKU-{i}"), "name": format!("Item {i}"), "price": 10.0 + i as f64}))
            .unwrap();
    }
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_in_magentos_shape() {
    let (_sim, _h, root) = start(SimConfig::default()).await;
    let r = reqwest::get(format!("{root}/V1/products")).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b["message"],
        "The consumer isn't authorized to access %resources."
    );
    assert_eq!(b["parameters"]["resources"], "Magento_Catalog::products");
    let r = reqwest::Client::new()
        .get(format!("{root}/V1/orders"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let c = SimConfig {
        bearer_enabled: false,
        ..SimConfig::default()
    };
    let (_sim, _h, root) = start(c).await;
    assert_eq!(
        get(&format!("{root}/V1/products")).await.0,
        401,
        "bearer use of integration tokens disabled"
    );
}

#[tokio::test]
async fn search_criteria_filter_on_updated_at_and_a_page_past_the_last_repeats_it() {
    let (sim, _h, root) = start(SimConfig::default()).await;
    seed(&sim, 5);
    let since = "2026-01-15 12:00:00";
    let q = |page: usize| {
        format!(
            "{root}/V1/products?searchCriteria[filter_groups][0][filters][0][field]=updated_at&searchCriteria[filter_groups][0][filters][0][value]={since}&searchCriteria[filter_groups][0][filters][0][condition_type]=gteq&searchCriteria[pageSize]=2&searchCriteria[currentPage]={page}"
        )
    };
    let (s, p1) = get(&q(1)).await;
    assert_eq!(s, 200);
    assert_eq!(p1["total_count"], 5);
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let (_, p3) = get(&q(3)).await;
    let (_, p4) = get(&q(4)).await;
    assert_eq!(p3["items"], p4["items"], "page 4 of 3 answers page 3 again");
    assert_eq!(p4["items"][0]["sku"], "SKU-4");
    // The cap: 300.
    let (s, e) = get(&format!("{root}/V1/products?searchCriteria[pageSize]=301")).await;
    assert_eq!(
        (s, e["message"].as_str().unwrap()),
        (400, "Maximum SearchCriteria pageSize is %1")
    );
    // No page size: 20 by default with the input limits on.
    seed(&sim, 25);
    let (_, all) = get(&format!("{root}/V1/products")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 20);
    assert_eq!(all["total_count"], 25);
    // An unknown store code.
    let (s, _) = get(&format!("{}/rest/nowhere/V1/products", _h.base_url)).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn source_items_are_saved_all_or_nothing_and_orders_take_stock() {
    let c = SimConfig {
        sources: vec!["wh2".into()],
        ..SimConfig::default()
    };
    let (sim, _h, root) = start(c).await;
    seed(&sim, 1);
    let (s, _) = post(
        &format!("{root}/V1/inventory/source-items"),
        json!({"sourceItems": [
        {"sku": "SKU-0", "source_code": "wh2", "quantity": 7, "status": 1},
        {"sku": "SKU-0", "source_code": "nowhere", "quantity": 1, "status": 1}]}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(sim.stock("SKU-0", "wh2"), None, "nothing saved");
    let (s, _) = post(
        &format!("{root}/V1/inventory/source-items"),
        json!({"sourceItems": [
        {"sku": "SKU-0", "source_code": "wh2", "quantity": 7, "status": 1}]}),
    )
    .await;
    assert_eq!(s, 200);
    sim.save_customer(json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}))
        .unwrap();
    sim.place_order(
        "ann@example.com",
        &[OrderLine {
            sku: "SKU-0".into(),
            qty: 2,
        }],
        "wh2",
    )
    .unwrap();
    assert_eq!(sim.stock("SKU-0", "wh2"), Some(5.0));
    let (_, items) = get(&format!("{root}/V1/inventory/source-items?searchCriteria[filter_groups][0][filters][0][field]=source_code&searchCriteria[filter_groups][0][filters][0][value]=wh2")).await;
    assert_eq!(items["total_count"], 1);
    assert_eq!(items["items"][0]["quantity"], 5.0);
    let (_, orders) = get(&format!("{root}/V1/orders?searchCriteria[pageSize]=10")).await;
    assert_eq!(orders["items"][0]["increment_id"], "000000001");
    assert_eq!(orders["items"][0]["items"][0]["qty_ordered"], 2);
    assert_eq!(orders["items"][0]["customer_id"], 1);
    let (_, cs) = get(&format!("{root}/V1/customers/search?searchCriteria[filter_groups][0][filters][0][field]=email&searchCriteria[filter_groups][0][filters][0][value]=%25example.com&searchCriteria[filter_groups][0][filters][0][condition_type]=like")).await;
    assert_eq!(cs["total_count"], 1);
}

#[tokio::test]
async fn bulk_operations_are_applied_later_and_report_their_status() {
    let mut c = SimConfig::default();
    // Long enough that the first status read comes before the consumer even on a loaded
    // machine; the test then waits for the operations to settle, however long that takes.
    c.chaos.consumer_delay = Duration::from_millis(1500);
    let (sim, _h, root) = start(c).await;
    seed(&sim, 1);
    let (s, a) = post(
        &format!("{root}/async/bulk/V1/products"),
        json!([
        {"product": {"sku": "SKU-0", "price": 99.5}},
        {"product": {"sku": "NEW", "price": 1.0}},
        {"nope": 1},
        {"product": {"sku": "SKU-0", "price": -1}}]),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(a["errors"], true);
    assert_eq!(a["request_items"][2]["status"], "rejected");
    let uuid = a["bulk_uuid"].as_str().unwrap().to_owned();
    let status = |b: &Value| -> Vec<u8> {
        b["operations_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_u64().unwrap() as u8)
            .collect()
    };
    let (_, d) = get(&format!("{root}/V1/bulk/{uuid}/detailed-status")).await;
    assert_eq!(
        status(&d),
        vec![STATUS_OPEN, STATUS_OPEN, STATUS_REJECTED, STATUS_OPEN]
    );
    assert_eq!(
        sim.product("SKU-0").unwrap()["price"],
        10.0,
        "not applied yet"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let d = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, d) = get(&format!("{root}/V1/bulk/{uuid}/detailed-status")).await;
        if !status(&d).contains(&STATUS_OPEN) || std::time::Instant::now() > deadline {
            break d;
        }
    };
    assert_eq!(
        status(&d),
        vec![
            STATUS_COMPLETE,
            STATUS_MUST_CHANGE,
            STATUS_REJECTED,
            STATUS_MUST_CHANGE
        ]
    );
    assert_eq!(
        d["operations_list"][1]["result_message"],
        "The \"name\" attribute value is empty. Set the attribute and try again."
    );
    assert_eq!(
        d["operations_list"][3]["result_message"],
        "Invalid value of \"-1\" provided for the price field."
    );
    assert_eq!(sim.product("SKU-0").unwrap()["price"], 99.5);
    let (s, _) = get(&format!(
        "{root}/V1/bulk/00000000-0000-0000-0000-000000000000/detailed-status"
    ))
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn chaos_fails_some_operations_retriably_and_loses_some_bulks() {
    let mut c = SimConfig {
        chaos: ChaosConfig {
            retriable_failure_share: 0.3,
            consumer_delay: Duration::from_millis(20),
            consumer_jitter: Duration::from_millis(30),
            lost_bulk_share: 0.0,
            lost_bulk_applies: false,
        },
        ..SimConfig::default()
    };
    let (sim, _h, root) = start(c.clone()).await;
    seed(&sim, 20);
    let ops: Vec<Value> = (0..20).map(|i| json!({"sourceItems": [{"sku": format!("SKU-{i}"), "source_code": "default", "quantity": 3, "status": 1}]})).collect();
    let (_, a) = post(
        &format!("{root}/async/bulk/V1/inventory/source-items"),
        Value::Array(ops),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, d) = get(&format!(
        "{root}/V1/bulk/{}/detailed-status",
        a["bulk_uuid"].as_str().unwrap()
    ))
    .await;
    let failed: Vec<usize> = d["operations_list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == STATUS_RETRIABLE)
        .map(|o| o["id"].as_u64().unwrap() as usize)
        .collect();
    assert!(!failed.is_empty() && failed.len() < 20, "{failed:?}");
    for i in 0..20 {
        let want = if failed.contains(&i) { 0.0 } else { 3.0 };
        assert_eq!(sim.stock(&format!("SKU-{i}"), "default"), Some(want));
    }
    // A lost bulk: open forever, applied or not as configured.
    for applies in [false, true] {
        c.chaos.retriable_failure_share = 0.0;
        c.chaos.lost_bulk_share = 1.0;
        c.chaos.lost_bulk_applies = applies;
        sim.set_chaos(c.chaos.clone());
        let (_, a) = post(
            &format!("{root}/async/bulk/V1/products"),
            json!([{"product": {"sku": "SKU-1", "price": if applies {2.0} else {3.0}}}]),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, d) = get(&format!(
            "{root}/V1/bulk/{}/detailed-status",
            a["bulk_uuid"].as_str().unwrap()
        ))
        .await;
        assert_eq!(d["operations_list"][0]["status"], STATUS_OPEN);
        assert_eq!(
            sim.product("SKU-1").unwrap()["price"],
            if applies { 2.0 } else { 11.0 }
        );
    }
}

async fn delete(url: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .delete(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn products_and_customers_are_deleted_by_sku_and_id_and_a_second_delete_is_404() {
    let (sim, _h, root) = start(SimConfig::default()).await;
    seed(&sim, 2);
    sim.set_stock("SKU-0", "default", 4.0).unwrap();
    let ann = sim
        .save_customer(json!({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    sim.place_order(
        "ann@example.com",
        &[OrderLine {
            sku: "SKU-0".into(),
            qty: 1,
        }],
        "default",
    )
    .unwrap();
    let order_before = get(&format!("{root}/V1/orders/1")).await.1;
    assert_eq!(order_before["customer_id"], ann);

    // Without a valid token: 401, naming what a customer delete needs.
    let (s, e) = delete(&format!("{root}/V1/customers/{ann}"), "wrong").await;
    assert_eq!(
        (s, e["parameters"]["resources"].as_str()),
        (401, Some("Magento_Customer::manage"))
    );
    assert!(sim.customer(ann).is_some());

    // A product: `true`, gone from the listing with its source items; the order keeps its line.
    let (s, b) = delete(&format!("{root}/V1/products/SKU-0"), DEFAULT_TOKEN).await;
    assert_eq!((s, b), (200, json!(true)));
    assert!(sim.product("SKU-0").is_none());
    assert_eq!(sim.stock("SKU-0", "default"), None);
    let (_, list) = get(&format!("{root}/V1/products?searchCriteria[pageSize]=10")).await;
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["items"][0]["sku"], "SKU-1");
    let (s, e) = get(&format!("{root}/V1/products/SKU-0")).await;
    assert_eq!(s, 404);
    assert_eq!(
        e["message"],
        "The product that was requested doesn't exist. Verify the product and try again."
    );
    // Deleting it again: 404 in the same words.
    let (s, e) = delete(&format!("{root}/V1/products/SKU-0"), DEFAULT_TOKEN).await;
    assert_eq!(s, 404);
    assert_eq!(
        e["message"],
        "The product that was requested doesn't exist. Verify the product and try again."
    );
    // Made again under the same SKU: a new id.
    let again = sim
        .save_product(json!({"sku": "SKU-0", "name": "Again", "price": 1.0}))
        .unwrap();
    assert_eq!(again["id"], 3);

    // A customer: `true`; their order stays, with `customer_id` null and nothing else moved.
    let (s, b) = delete(&format!("{root}/V1/customers/{ann}"), DEFAULT_TOKEN).await;
    assert_eq!((s, b), (200, json!(true)));
    assert!(sim.customer(ann).is_none());
    let (s, e) = get(&format!("{root}/V1/customers/{ann}")).await;
    assert_eq!(s, 404);
    assert_eq!(e["message"], "No such entity with %fieldName = %fieldValue");
    let order = get(&format!("{root}/V1/orders/1")).await.1;
    assert_eq!(order["customer_id"], Value::Null);
    assert_eq!(order["customer_is_guest"], 0);
    assert_eq!(order["customer_email"], "ann@example.com");
    assert_eq!(order["updated_at"], order_before["updated_at"]);
    let (s, e) = delete(&format!("{root}/V1/customers/{ann}"), DEFAULT_TOKEN).await;
    assert_eq!(s, 404);
    assert_eq!(
        e["parameters"],
        json!({"fieldName": "customerId", "fieldValue": ann.to_string()})
    );
    let (s, _) = delete(&format!("{root}/V1/customers/abc"), DEFAULT_TOKEN).await;
    assert_eq!(s, 404);
    // Nothing else listens: Magento sends no webhook (the simulator has no subscriptions).
    let deletes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.status)
        .collect();
    assert_eq!(deletes, vec![401, 200, 404, 200, 404, 404]);
}
