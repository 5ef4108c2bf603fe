//! Which access scopes weft needs that the app's installation lacks, asked of the simulator
//! (`currentAppInstallation { accessScopes }`): nothing when every scope is granted; the
//! withdrawn ones, each with what it is for, when the merchant withdrew some; a `write_` scope
//! stands for its `read_` one.

use weft_ratelimit::ShopifyCostLimiter;
use weft_shopify::access::missing_scopes;
use weft_shopify::{ShopifyClient, ShopifyConfig};
use weft_sim_shopify::{ShopifySim, SimConfig};

#[tokio::test]
async fn missing_scopes_are_named_with_what_they_are_for() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    let client = ShopifyClient::new(
        ShopifyConfig::new(handle.base_url.clone(), "2026-04", "shpat_sim_access_token"),
        ShopifyCostLimiter::new(),
    )
    .unwrap();
    assert_eq!(missing_scopes(&client).await.unwrap(), Vec::<String>::new());

    let mut granted = sim.access_scopes();
    granted.retain(|s| s != "write_products" && s != "write_inventory" && s != "read_locations");
    granted.extend(["read_products".to_owned(), "write_locations".to_owned()]);
    sim.set_access_scopes(&granted);
    assert_eq!(
        missing_scopes(&client).await.unwrap(),
        vec![
            "write_products (product, variant and price writes)".to_owned(),
            "write_inventory (stock levels)".to_owned(),
        ]
    );
}
