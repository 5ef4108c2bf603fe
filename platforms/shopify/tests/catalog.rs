//! The Shopify connector's catalog against the simulator: a product with options written and
//! read in the one normalized shape (options and option values, weights, images, SEO fields,
//! metafields), a variant of an option group joining its product by handle, option values
//! renamed and retired, a metafield cleared, customer addresses; webhook bodies lack SEO and
//! metafields, GraphQL reads carry them.

use serde_json::{Value, json};
use weft_platform::{Connection as _, EntityKind, WriteCommand, WriteOp};
use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::{Entity, Paging, ShopifyClient, ShopifyConfig, ShopifyConnection};
use weft_sim_shopify::{
    ImageSpec, MetafieldSpec, NewProduct, NewVariant, ProductExtras, ShopifySim, SimConfig,
};

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

fn variant<'a>(doc: &'a Value, sku: &str) -> &'a Value {
    doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == sku)
        .unwrap_or_else(|| panic!("no {sku} in {doc}"))
}

#[tokio::test]
async fn option_groups_and_catalog_fields_round_trip_through_the_connector() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h = sim.serve(listener).await.unwrap();
    let client = ShopifyClient::new(
        ShopifyConfig::new(h.base_url.clone(), "2026-04", TOKEN),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    let cs = ShopifyConnection::new(std::sync::Arc::new(client));

    // A new product with two options, created by its first variant.
    let first = cs
        .execute(&product_cmd(
            None,
            json!({"title": "Tee", "handle": "tee", "status": "active", "product_type": "Shirts",
                   "tags": "summer, cotton", "options": [{"name": "Size"}, {"name": "Colour"}],
                   "category": "aa-1-13-8",
                   "seo": {"title": "Cotton tee", "description": "Soft."},
                   "images": [{"url": "https://cdn.example.com/tee.jpg", "alt": "Front"}],
                   "metafields": [{"namespace": "custom", "key": "material",
                                   "type": "single_line_text_field", "value": "Cotton"}],
                   "variants": [{"sku": "TEE-S-W", "price": "19.00",
                                 "option_values": {"Size": "S", "Colour": "White"},
                                 "weight": "0.25", "weight_unit": "kg"}]}),
        ))
        .await
        .unwrap();
    let doc = first.document.unwrap();
    assert_eq!(
        doc["options"],
        json!([{"name": "Size", "values": ["S"]}, {"name": "Colour", "values": ["White"]}])
    );
    assert_eq!(
        doc["seo"],
        json!({"title": "Cotton tee", "description": "Soft."})
    );
    assert_eq!(
        doc["images"],
        json!([{"url": "https://cdn.example.com/tee.jpg", "alt": "Front"}])
    );
    assert_eq!(doc["metafields"][0]["value"], "Cotton");
    let s = variant(&doc, "TEE-S-W");
    assert_eq!(
        (s["option1"].clone(), s["option2"].clone()),
        (json!("S"), json!("White"))
    );
    assert_eq!(s["weight"], json!(0.25));
    assert_eq!(s["weight_unit"], "kg");

    // A second variant of the group, written without the product's id (weft has not seen the
    // product for this SKU): it joins the product by handle, and leaves the product's own
    // fields as they are (they are the group's; the new size's record may hold older ones).
    let second = cs
        .execute(&product_cmd(
            None,
            json!({"handle": "tee", "options": [{"name": "Colour"}, {"name": "Size"}],
                   "title": "Old tee", "body_html": "<p>Old.</p>", "tags": "old",
                   "variants": [{"sku": "TEE-M-W", "price": "21.00",
                                 "option_values": {"Size": "M", "Colour": "White"}}]}),
        ))
        .await
        .unwrap();
    assert_eq!(second.target_id, first.target_id);
    let doc = second.document.unwrap();
    assert_eq!(doc["variants"].as_array().unwrap().len(), 2);
    assert_eq!(doc["title"], "Tee", "{doc}");
    assert_ne!(doc["body_html"], "<p>Old.</p>", "{doc}");
    assert_ne!(doc["tags"], json!("old"), "{doc}");
    assert_eq!(
        doc["options"][0],
        json!({"name": "Size", "values": ["S", "M"]})
    );

    // Rename M to Medium, retire S, clear the metafield.
    let out = cs
        .execute(&product_cmd(
            Some(&first.target_id),
            json!({"metafields": [{"namespace": "custom", "key": "material", "value": null}],
                   "variants": [{"sku": "TEE-M-W", "option_values": {"Size": "Medium"}},
                                {"sku": "TEE-S-W", "retired": true}]}),
        ))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    assert_eq!(doc["variants"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["options"],
        json!([{"name": "Size", "values": ["Medium"]}, {"name": "Colour", "values": ["White"]}])
    );
    assert_eq!(doc["metafields"], json!([]));

    // Reads (GraphQL) carry SEO and metafields; webhook bodies normalize without them.
    let read = cs
        .client()
        .read_since(&Entity::Products, None)
        .await
        .unwrap();
    let d = read.docs.iter().find(|d| d.id == first.target_id).unwrap();
    assert!(d.body.get("seo").is_some() && d.body.get("metafields").is_some());
    assert_eq!(d.body["category"], "aa-1-13-8");
    assert_eq!(variant(&d.body, "TEE-M-W")["option1"], "Medium");
    let pid: u64 = first.target_id.parse().unwrap();
    let hook = weft_shopify::normalize::product_from_webhook(&sim.product_json(pid)).unwrap();
    assert!(hook.body.get("seo").is_none() && hook.body.get("metafields").is_none());
    assert!(hook.body.get("category").is_none());
    assert_eq!(hook.body["options"], d.body["options"]);
    assert_eq!(hook.body["images"], d.body["images"]);
    assert_eq!(hook.body["variants"], d.body["variants"]);
    h.shutdown().await;
}

#[tokio::test]
async fn merchant_products_with_options_and_customers_with_addresses_read_back() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h = sim.serve(listener).await.unwrap();
    let mut config = ShopifyConfig::new(h.base_url.clone(), "2026-04", TOKEN);
    config.paging = Paging::default();
    let client = ShopifyClient::new(config, ShopifyCostLimiter::new()).unwrap();
    let variants = ["S", "M", "L"]
        .iter()
        .map(|s| NewVariant {
            sku: Some(format!("HOOD-{s}")),
            price: "40.00".into(),
            ..NewVariant::default()
        })
        .collect();
    sim.create_product_with(
        NewProduct {
            title: "Hoodie".into(),
            variants,
            ..NewProduct::default()
        },
        ProductExtras {
            option_names: vec!["Size".into(), "Colour".into(), "Fit".into()],
            variant_options: ["S", "M", "L"]
                .iter()
                .map(|s| vec![(*s).into(), "Grey".into(), "Regular".into()])
                .collect(),
            weights: vec![Some((500.0, Some("GRAMS".into()))), None, None],
            images: vec![ImageSpec {
                url: "https://cdn.example.com/hood.jpg".into(),
                alt: None,
            }],
            metafields: vec![MetafieldSpec {
                namespace: "custom".into(),
                key: "material".into(),
                type_: None,
                value: "Fleece".into(),
            }],
            ..ProductExtras::default()
        },
    )
    .unwrap();
    let read = client.read_since(&Entity::Products, None).await.unwrap();
    let p = &read.docs[0].body;
    assert_eq!(p["options"].as_array().unwrap().len(), 3);
    let s = variant(p, "HOOD-S");
    assert_eq!(
        (
            s["option1"].clone(),
            s["option3"].clone(),
            s["weight"].clone(),
            s["weight_unit"].clone()
        ),
        (json!("S"), json!("Regular"), json!(500.0), json!("g"))
    );
    assert_eq!(p["metafields"][0]["value"], "Fleece");

    let cs = ShopifyConnection::new(std::sync::Arc::new(client));
    let out = cs
        .execute(&WriteCommand {
            system: "shopify".into(),
            kind: EntityKind::Customer,
            op: WriteOp::Upsert,
            target_id: None,
            external_id: None,
            body: json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                "addresses": [
                    {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines",
                     "address1": "12 Square", "address2": null, "city": "London",
                     "province_code": null, "country_code": "GB", "zip": "SW1", "phone": null},
                    {"first_name": "Ada", "last_name": "King", "company": null,
                     "address1": "1 Row", "address2": null, "city": "Ockham",
                     "province_code": null, "country_code": "GB", "zip": "KT1", "phone": null}]}),
            idempotency_key: "c".into(),
            expected_quantity: None,
        })
        .await
        .unwrap();
    let doc = out.document.unwrap();
    let addresses = doc["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0]["default"], true);
    assert_eq!(addresses[0]["company"], "Engines");
    assert_eq!(addresses[1]["default"], false);
    let cid: u64 = out.target_id.parse().unwrap();
    let hook = weft_shopify::normalize::customer_from_webhook(&sim.customer_json(cid)).unwrap();
    assert_eq!(hook.body["addresses"], doc["addresses"]);
    h.shutdown().await;
}
