//! The Shopify connector's collections against the simulator: a product write puts the
//! product in exactly the custom collections it names (added, removed), reads carry its
//! custom collections (never smart ones), and a handle the shop has no collection for, or a
//! smart collection's, is refused with the reason.

use serde_json::{Value, json};
use weft_platform::{Connection as _, EntityKind, WriteCommand, WriteOp};
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::{Entity, ShopifyClient, ShopifyConfig, ShopifyConnection};
use weft_sim_shopify::{ShopifySim, SimConfig};

const TOKEN: &str = "shpat_sim_access_token";

fn product_cmd(target: Option<&str>, body: Value) -> WriteCommand {
    WriteCommand {
        system: "shopify".into(),
        kind: EntityKind::Product,
        op: WriteOp::Upsert,
        target_id: target.map(str::to_owned),
        external_id: None,
        body,
        idempotency_key: "k".into(),
        expected_quantity: None,
    }
}

#[tokio::test]
async fn a_product_write_sets_its_custom_collections_and_reads_carry_them() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await.unwrap();
    for handle in ["basics", "summer", "sale"] {
        sim.create_collection(&handle.to_uppercase(), Some(handle), false)
            .unwrap();
    }
    sim.create_smart_collection("Cotton", Some("cotton"), "cotton")
        .unwrap();
    let client = || {
        let mut config = ShopifyConfig::new(server.base_url.clone(), "2026-04", TOKEN);
        config.collections = true;
        ShopifyClient::new(config, ShopifyCostLimiter::new()).unwrap()
    };
    let cs = ShopifyConnection::new(std::sync::Arc::new(client()));

    // Created in two collections; its tag puts it in the smart one too, which reads leave out.
    let out = cs
        .execute(&product_cmd(
            None,
            json!({"title": "Tee", "status": "active", "tags": "cotton",
                   "collections": ["summer", "basics"],
                   "variants": [{"sku": "TEE", "price": "19.00"}]}),
        ))
        .await
        .unwrap();
    let id = out.target_id.clone();
    let gid = format!("gid://shopify/Product/{id}");
    assert_eq!(
        out.document.unwrap()["collections"],
        json!(["basics", "summer"])
    );
    let mut in_shop = sim.collections_of(&gid);
    in_shop.sort();
    assert_eq!(in_shop, ["basics", "cotton", "summer"]);
    let read = client().product(&id).await.unwrap().unwrap();
    assert_eq!(read.body["collections"], json!(["basics", "summer"]));
    // Without `collections` the reads carry none (not "none").
    let plain = ShopifyClient::new(
        ShopifyConfig::new(server.base_url.clone(), "2026-04", TOKEN),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let read = plain.product(&id).await.unwrap().unwrap();
    assert!(read.body.get("collections").is_none(), "{}", read.body);
    let paged = client().read_since(&Entity::Products, None).await.unwrap();
    assert_eq!(
        paged.docs[0].body["collections"],
        json!(["basics", "summer"])
    );

    // Moved: out of one, into another; the smart one is left to its rules. Sent twice (an
    // answer lost), the second finds nothing to do.
    for _ in 0..2 {
        let out = cs
            .execute(&product_cmd(
                Some(&id),
                json!({"collections": ["sale", "summer"],
                       "variants": [{"sku": "TEE", "price": "19.00"}]}),
            ))
            .await
            .unwrap();
        assert_eq!(
            out.document.unwrap()["collections"],
            json!(["sale", "summer"])
        );
    }
    let mut in_shop = sim.collections_of(&gid);
    in_shop.sort();
    assert_eq!(in_shop, ["cotton", "sale", "summer"]);
    // None: out of every custom collection.
    cs.execute(&product_cmd(
        Some(&id),
        json!({"collections": [], "variants": [{"sku": "TEE", "price": "19.00"}]}),
    ))
    .await
    .unwrap();
    assert_eq!(sim.collections_of(&gid), ["cotton"]);

    // A handle the shop has no collection for, and a smart collection: refused, not retried.
    for (handle, words) in [("winter", "no collection with handle"), ("cotton", "smart")] {
        let err = cs
            .execute(&product_cmd(
                Some(&id),
                json!({"collections": [handle], "variants": [{"sku": "TEE", "price": "19.00"}]}),
            ))
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert!(err.to_string().contains(words), "{err}");
    }
}
