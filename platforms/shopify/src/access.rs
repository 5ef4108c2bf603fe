//! The app's access scopes: which of those weft's calls need the installation lacks
//! (`currentAppInstallation { accessScopes }`), so an operator learns it from `weft check
//! --access` or the host's start-up warning before Shopify refuses a write with
//! `ACCESS_DENIED`.

use serde_json::json;

/// The access scopes weft's calls need, each with what it is for. A `write_` scope grants its
/// `read_` one.
pub const NEEDED_SCOPES: &[(&str, &str)] = &[
    ("write_products", "product, variant and price writes"),
    ("write_inventory", "stock levels"),
    ("read_locations", "mapping locations"),
    ("write_customers", "customers"),
    ("read_orders", "reading orders"),
    (
        "write_merchant_managed_fulfillment_orders",
        "fulfilments and tracking numbers",
    ),
];

const ACCESS_SCOPES: &str = "query { currentAppInstallation { accessScopes { handle } } }";

/// The scopes of [`NEEDED_SCOPES`] the app's installation lacks, each as
/// `write_products (product, variant and price writes)`.
pub async fn missing_scopes(
    client: &crate::ShopifyClient,
) -> Result<Vec<String>, weft_platform::ConnectorError> {
    let r = client.graphql(ACCESS_SCOPES, json!({}), 2).await?;
    let granted: std::collections::BTreeSet<&str> =
        r.data["currentAppInstallation"]["accessScopes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s["handle"].as_str())
            .collect();
    Ok(NEEDED_SCOPES
        .iter()
        .filter(|(scope, _)| {
            !granted.contains(scope)
                && !scope
                    .strip_prefix("read_")
                    .is_some_and(|rest| granted.contains(format!("write_{rest}").as_str()))
        })
        .map(|(scope, what)| format!("{scope} ({what})"))
        .collect())
}
