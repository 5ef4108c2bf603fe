//! The Shopify connector's other currencies against the simulator: a product write sets each
//! variant's fixed price on the shop's price list in that currency (and removes it), reads
//! carry the lists' fixed prices, and a currency the shop has no list in, or several, is a
//! clear error rather than a guess.

use serde_json::{Value, json};
use weft_platform::{Connection as _, ConnectorError, EntityKind, WriteCommand, WriteOp};
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

/// Serves the simulator; keep the handle (dropping it stops the server).
async fn serve(sim: &ShopifySim) -> (String, impl Sized) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h = sim.serve(listener).await.unwrap();
    (h.base_url.clone(), h)
}

fn client(base_url: &str, currencies: &[&str]) -> ShopifyClient {
    let mut config = ShopifyConfig::new(base_url, "2026-04", TOKEN);
    config.currencies = currencies.iter().map(|c| (*c).to_owned()).collect();
    ShopifyClient::new(config, ShopifyCostLimiter::new()).unwrap()
}

fn variant_id(doc: &Value, sku: &str) -> String {
    doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == sku)
        .and_then(|v| v["id"].as_str())
        .unwrap_or_else(|| panic!("no {sku} in {doc}"))
        .to_owned()
}

#[tokio::test]
async fn fixed_prices_are_written_read_and_removed_per_currency() {
    let sim = ShopifySim::new(SimConfig::default());
    let (url, _server) = serve(&sim).await;
    let eur = sim.create_price_list("Europe", "EUR", 0.92).unwrap();
    let cad = sim.create_price_list("Canada", "CAD", 1.35).unwrap();
    let cs = ShopifyConnection::new(std::sync::Arc::new(client(&url, &["EUR", "CAD"])));

    // A new product: both variants get their euro price, one a Canadian one too.
    let out = cs
        .execute(&product_cmd(
            None,
            json!({"title": "Mug", "status": "active", "variants": [
                {"sku": "MUG-1", "price": "10.00",
                 "price_lists": {"EUR": {"price": "9.20", "compare_at_price": "11.00"},
                                 "CAD": {"price": "13.50", "compare_at_price": null}}},
                {"sku": "MUG-2", "price": "12.00",
                 "price_lists": {"EUR": {"price": "11.10", "compare_at_price": null}}}]}),
        ))
        .await
        .unwrap();
    let doc = out.document.unwrap();
    let (v1, v2) = (variant_id(&doc, "MUG-1"), variant_id(&doc, "MUG-2"));
    assert_eq!(
        doc["price_lists"],
        json!({
            "EUR": {&v1: {"price": "9.20", "compare_at_price": "11.00"},
                    &v2: {"price": "11.10", "compare_at_price": null}},
            "CAD": {&v1: {"price": "13.50", "compare_at_price": null}},
        })
    );
    assert_eq!(sim.fixed_prices(&eur).len(), 2);
    assert_eq!(
        sim.fixed_prices(&cad),
        vec![(
            format!("gid://shopify/ProductVariant/{v1}"),
            "13.50".to_owned(),
            None
        )]
    );

    // A merchant's edit in the admin shows in the next read (paged, by id, one product).
    sim.set_fixed_price(
        &eur,
        &format!("gid://shopify/ProductVariant/{v2}"),
        "10.50",
        None,
    )
    .unwrap();
    let c = client(&url, &["EUR", "CAD"]);
    let paged = c.read_since(&Entity::Products, None).await.unwrap().docs;
    let by_id = c
        .fetch(&Entity::Products, std::slice::from_ref(&out.target_id))
        .await
        .unwrap();
    let one = c.product(&out.target_id).await.unwrap().unwrap();
    for d in [&paged[0], &by_id[0], &one] {
        assert_eq!(
            d.body["price_lists"]["EUR"][&v2]["price"], "10.50",
            "{}",
            d.body
        );
        assert_eq!(d.body["price_lists"]["CAD"][&v2], Value::Null, "{}", d.body);
    }
    // Without currencies the documents carry no `price_lists` at all (not "none").
    let plain = client(&url, &[]);
    let d = plain.product(&out.target_id).await.unwrap().unwrap();
    assert!(d.body.get("price_lists").is_none(), "{}", d.body);

    // `null` removes a fixed price; removing it again (an answer lost, the write sent twice)
    // finds nothing to do.
    for _ in 0..2 {
        let out = cs
            .execute(&product_cmd(
                Some(&out.target_id),
                json!({"variants": [{"sku": "MUG-1", "price": "10.00",
                    "price_lists": {"CAD": {"price": null, "compare_at_price": null}}}]}),
            ))
            .await
            .unwrap();
        assert_eq!(out.document.unwrap()["price_lists"]["CAD"], json!({}));
    }
    assert!(sim.fixed_prices(&cad).is_empty());
    assert_eq!(
        sim.fixed_prices(&eur).len(),
        2,
        "the other list is untouched"
    );

    // A currency the system does not sync is refused, naming the key to change.
    let err = cs
        .execute(&product_cmd(
            Some(&out.target_id),
            json!({"variants": [{"sku": "MUG-1",
                "price_lists": {"GBP": {"price": "8.00", "compare_at_price": null}}}]}),
        ))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("currencies"), "{err}");
}

#[tokio::test]
async fn a_currency_without_one_price_list_is_an_error_that_names_it() {
    let sim = ShopifySim::new(SimConfig::default());
    let (url, _server) = serve(&sim).await;
    let seed = client(&url, &[]);
    let cs = ShopifyConnection::new(std::sync::Arc::new(seed));
    cs.execute(&product_cmd(
        None,
        json!({"title": "Cup", "status": "active", "variants": [{"sku": "CUP", "price": "5.00"}]}),
    ))
    .await
    .unwrap();

    let expect = |err: ConnectorError, words: &[&str]| {
        assert!(!err.is_retryable(), "{err}");
        for w in words {
            assert!(err.to_string().contains(w), "{w:?} not in {err}");
        }
    };
    // No list in GBP.
    let c = client(&url, &["GBP"]);
    expect(
        c.read_since(&Entity::Products, None).await.unwrap_err(),
        &["no price list in GBP"],
    );
    // Two lists in EUR (two markets): weft cannot tell which one to keep.
    sim.create_price_list("Germany", "EUR", 1.0).unwrap();
    sim.create_price_list("France", "EUR", 1.0).unwrap();
    let c = client(&url, &["EUR"]);
    expect(
        c.read_since(&Entity::Products, None).await.unwrap_err(),
        &["several price lists in EUR", "Germany", "France"],
    );
}
