//! ERP activity and inspection endpoints, and determinism per seed.

use crate::common::{REC, config, start};
use serde_json::{Value, json};
use weft_sim_netsuite::{NetSuiteSim, RecordType};

fn run(seed: u64) -> Value {
    let sim = NetSuiteSim::new(config(seed)).unwrap();
    sim.freeze_clock();
    sim.erp_seed_catalog(5, 5).unwrap();
    sim.erp_random_activity(60).unwrap();
    sim.dump()
}

#[test]
fn activity_is_deterministic_per_seed() {
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a["records"], run(8)["records"]);
    assert!(
        a["records"]["inventoryAdjustment"]
            .as_array()
            .unwrap()
            .len()
            > 5
    );
}

#[tokio::test]
async fn sim_endpoints_drive_and_inspect_the_account() {
    let h = start(config(70)).await;
    let http = reqwest::Client::new();
    let base = h.server.base_url();
    let post = |path: &str, body: Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (st, seeded) = post("/_sim/erp/seed", json!({"items": 3, "customers": 2})).await;
    assert_eq!(st, 201);
    let item = seeded["items"][0].as_str().unwrap().to_owned();

    // Same-second edits: freeze, edit two items, read lastModifiedDate.
    let (_, clock) = post("/_sim/clock", json!({"freeze": true, "advance_secs": 120})).await;
    assert!(
        clock["now"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-01T00:02:0")
    );
    let r = http
        .patch(format!("{base}/_sim/erp/inventoryItem/{item}"))
        .json(&json!({"basePrice": 12.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (st, adj) = post(
        "/_sim/erp/inventory-adjust",
        json!({"item": seeded["items"][1], "location": "1", "delta": 5}),
    )
    .await;
    assert_eq!(st, 201, "{adj}");
    let a = h.sim.record(RecordType::InventoryItem, &item).unwrap();
    let item1 = seeded["items"][1].as_str().unwrap();
    let b = h.sim.record(RecordType::InventoryItem, item1).unwrap();
    assert_ne!(
        a["lastModifiedDate"], b["lastModifiedDate"],
        "an adjustment moves the item's stock, not the item record"
    );
    let r = http
        .patch(format!("{base}/_sim/erp/inventoryItem/{item1}"))
        .json(&json!({"displayName": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let b = h.sim.record(RecordType::InventoryItem, item1).unwrap();
    assert_eq!(a["lastModifiedDate"], b["lastModifiedDate"]);
    assert_eq!(a["basePrice"], json!(12.5));
    // Validation applies to ERP edits too.
    let r = http
        .patch(format!("{base}/_sim/erp/inventoryItem/{item}"))
        .json(&json!({"colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A sales order fulfilled over /_sim/erp/fulfil; quantities read back.
    h.sim.erp_adjust_inventory(&item, "1", 5.0, None).unwrap();
    let (st, so) = post(
        "/_sim/erp/salesOrder",
        json!({"entity": {"id": seeded["customers"][0]}, "item": {"items": [{"item": {"id": item}, "quantity": 1}]}}),
    )
    .await;
    assert_eq!(st, 201, "{so}");
    let before = h.sim.quantities(&item, "1");
    let (st, f) = post(
        "/_sim/erp/fulfil",
        json!({"sales_order": so["id"], "tracking": ["1Z1"], "carrier": "UPS"}),
    )
    .await;
    assert_eq!(st, 201, "{f}");
    let q: Value = http
        .get(format!("{base}/_sim/erp/quantities/{item}/1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q["on_hand"], json!(before.on_hand - 1.0));
    assert_eq!(q["committed"], json!(0.0));

    let (st, events) = post("/_sim/erp/random", json!({"steps": 10})).await;
    assert_eq!(st, 200);
    assert_eq!(events["events"].as_array().unwrap().len(), 10);

    // An API request, then the inspection endpoints.
    h.client.get(&format!("{REC}/inventoryItem/{item}")).await;
    let stats: Value = http
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["concurrency_limit"], json!(15));
    assert_eq!(stats["requests"], json!(1));
    assert!(
        stats["all_writes"]["inventoryItem"]["creates"]
            .as_u64()
            .unwrap()
            >= 3
    );
    let log: Value = http
        .get(format!("{base}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"][0]["method"], "GET");
    assert_eq!(log["items"][0]["status"], json!(200));
    assert_eq!(log["items"][0]["integration"], "weft");
    let state: Value = http
        .get(format!("{base}/_sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["clockFrozen"], json!(true));
    assert_eq!(state["records"]["location"].as_array().unwrap().len(), 3);
    let creds: Value = http
        .get(format!("{base}/_sim/credentials"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(creds["accountId"], "1234567");
    assert_eq!(
        creds["credentials"][0]["consumer_key"],
        json!(h.client.creds.consumer_key)
    );
}
