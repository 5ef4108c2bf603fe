//! An unmodified third-party GraphQL client (`graphql_client` with its reqwest transport),
//! generated from the simulator's published schema, runs a query and a mutation against the
//! simulator over TCP. The committed schema file must match the live schema
//! (`WEFT_BLESS=1 cargo test -p weft-sim-shopify --test third_party_client` rewrites it).

use graphql_client::GraphQLQuery;
use weft_sim_shopify::{ShopifySim, SimConfig};

// Custom scalars map to strings (only those the two operations use are needed).
type DateTime = String;
type Money = String;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "tests/graphql/schema.graphql",
    query_path = "tests/graphql/products.graphql",
    response_derives = "Debug"
)]
struct RecentProducts;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "tests/graphql/schema.graphql",
    query_path = "tests/graphql/product_set.graphql",
    response_derives = "Debug",
    variables_derives = "Debug"
)]
struct UpsertProduct;

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/graphql/schema.graphql");

#[test]
fn committed_schema_matches_live_schema() {
    let live = ShopifySim::new(SimConfig::default()).sdl();
    if std::env::var("WEFT_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(SCHEMA_PATH, &live).unwrap();
    }
    let committed = std::fs::read_to_string(SCHEMA_PATH).unwrap();
    assert_eq!(committed, live, "schema drifted; rerun with WEFT_BLESS=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_client_query_and_mutation_work_unmodified() {
    let sim = ShopifySim::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.serve(listener).await.unwrap();
    let url = sim.graphql_url("2026-04").unwrap();

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "X-Shopify-Access-Token",
        "shpat_sim_access_token".parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();

    use upsert_product::*;
    let input = ProductSetInput {
        id: None,
        title: Some("Client Tee".into()),
        handle: None,
        description_html: None,
        vendor: Some("Acme".into()),
        product_type: None,
        status: Some(ProductStatus::ACTIVE),
        tags: Some(vec!["from-client".into()]),
        seo: None,
        category: None,
        files: None,
        metafields: None,
        product_options: Some(vec![OptionSetInput {
            id: None,
            name: Some("Size".into()),
            position: None,
            values: Some(vec![OptionValueSetInput {
                id: None,
                name: Some("M".into()),
            }]),
        }]),
        variants: Some(vec![ProductVariantSetInput {
            id: None,
            option_values: vec![VariantOptionValueInput {
                id: None,
                name: Some("M".into()),
                option_id: None,
                option_name: Some("Size".into()),
            }],
            sku: Some("CT-M".into()),
            price: Some("21.00".into()),
            compare_at_price: None,
            barcode: None,
            position: None,
            inventory_item: None,
            inventory_quantities: None,
        }]),
    };
    let resp = graphql_client::reqwest::post_graphql::<UpsertProduct, _>(
        &client,
        &url,
        Variables { input },
    )
    .await
    .unwrap();
    assert!(resp.errors.is_none(), "{:?}", resp.errors);
    let data = resp.data.unwrap();
    assert!(data.product_set.as_ref().unwrap().user_errors.is_empty());
    let product = data.product_set.unwrap().product.unwrap();
    assert_eq!(product.title, "Client Tee");
    assert_eq!(product.variants.nodes[0].sku.as_deref(), Some("CT-M"));
    assert_eq!(product.variants.nodes[0].price, "21.00");

    let resp = graphql_client::reqwest::post_graphql::<RecentProducts, _>(
        &client,
        &url,
        recent_products::Variables {
            first: 5,
            query: Some("updated_at:>'2020-01-01T00:00:00Z'".into()),
        },
    )
    .await
    .unwrap();
    assert!(resp.errors.is_none(), "{:?}", resp.errors);
    let products = resp.data.unwrap().products;
    assert!(!products.page_info.has_next_page);
    assert_eq!(products.nodes.len(), 1);
    assert_eq!(products.nodes[0].id, product.id);
    assert!(products.nodes[0].id.starts_with("gid://shopify/Product/"));
    assert_eq!(
        products.nodes[0].variants.nodes[0].sku.as_deref(),
        Some("CT-M")
    );
    // The client's cost is visible in the simulator's request log.
    let log = sim.request_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].operation.as_deref(), Some("productSet"));
    assert_eq!(log[1].requested_cost, Some(2 + 5 * (1 + 2 + 10 * 2)));
    handle.shutdown().await;
}
