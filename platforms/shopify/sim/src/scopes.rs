//! The app's access scopes: what the merchant approved when installing the app, and what each
//! Admin API call requires.
//!
//! Shopify checks a call's scopes per field: a top-level field the app lacks the scope for
//! resolves to `null` with an error in `errors` (HTTP 200; the other fields of the same
//! request still resolve):
//!
//! ```json
//! {"errors": [{"message": "Access denied for productVariantsBulkUpdate field. Required access: `write_products` access scope.",
//!              "locations": [...], "path": ["productVariantsBulkUpdate"],
//!              "extensions": {"code": "ACCESS_DENIED",
//!                             "documentation": "https://shopify.dev/api/usage/access-scopes",
//!                             "requiredAccess": "`write_products` access scope."}}],
//!  "data": {"productVariantsBulkUpdate": null}}
//! ```
//!
//! A REST call the app lacks the scope for answers 403 with
//! `{"errors": "[API] This action requires merchant approval for read_products scope."}`.
//!
//! Assumptions (the documentation names each field's scope but not every rule between them):
//! - A `write_` scope grants the matching `read_` one, as Shopify's scope list says
//!   ("write_products" includes reading them).
//! - Scopes are checked on the top-level fields of a query or mutation (and of a bulk
//!   operation's query) only; `node`/`nodes`, `shop`, `webhookSubscriptions`, bulk operation
//!   fields and `metafieldsDelete` need none here (their scope depends on what they reach).
//!   A nested connection (an order's fulfilment orders, say) is not checked separately.
//! - Every scope the simulator knows is granted by default
//!   ([`crate::SimConfig::access_scopes`]); the merchant approves or withdraws them at run time
//!   ([`ShopifySim::set_access_scopes`]), and the change applies to the next call, as an
//!   approved scope update does.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerError, ServerResult, Value};

use crate::sim::{Shared, ShopifySim};

/// The scopes an installed app holds when the configuration does not say otherwise: every one
/// the simulator's API needs.
pub const ALL_SCOPES: &[&str] = &[
    "write_products",
    "write_inventory",
    "read_locations",
    "write_customers",
    "write_orders",
    "write_order_edits",
    "write_merchant_managed_fulfillment_orders",
];

/// The scope a top-level field requires, if any.
pub fn required_scope(parent_type: &str, field: &str) -> Option<&'static str> {
    let query = matches!(parent_type, "QueryRoot" | "Query");
    let mutation = parent_type == "Mutation";
    Some(match field {
        "product"
        | "products"
        | "productVariant"
        | "productVariants"
        | "productVariantsCount"
        | "priceList"
        | "priceLists"
        | "collection"
        | "collections"
        | "collectionByHandle"
        | "collectionByIdentifier"
        | "collectionsCount"
            if query =>
        {
            "read_products"
        }
        "inventoryItem" | "inventoryItems" if query => "read_inventory",
        "location" | "locations" if query => "read_locations",
        "customer" | "customers" if query => "read_customers",
        "order" | "orders" if query => "read_orders",
        "productSet"
        | "productCreate"
        | "productUpdate"
        | "productDelete"
        | "productVariantsBulkCreate"
        | "productVariantsBulkUpdate"
        | "productVariantsBulkDelete"
        | "priceListFixedPricesAdd"
        | "priceListFixedPricesDelete"
        | "priceListFixedPricesUpdate"
        | "collectionCreate"
        | "collectionAddProducts"
        | "collectionAddProductsV2"
        | "collectionRemoveProducts"
        | "collectionDelete"
            if mutation =>
        {
            "write_products"
        }
        "inventorySetQuantities" | "inventoryAdjustQuantities" if mutation => "write_inventory",
        "customerCreate" | "customerUpdate" | "customerEmailMarketingConsentUpdate" if mutation => {
            "write_customers"
        }
        "orderCancel" | "refundCreate" if mutation => "write_orders",
        "orderEditBegin" | "orderEditSetQuantity" | "orderEditAddVariant" | "orderEditCommit"
            if mutation =>
        {
            "write_order_edits"
        }
        "fulfillmentCreate" if mutation => "write_merchant_managed_fulfillment_orders",
        _ => return None,
    })
}

/// Whether `granted` covers `scope` (a `write_` scope covers its `read_`).
pub fn covers(granted: &BTreeSet<String>, scope: &str) -> bool {
    granted.contains(scope)
        || scope
            .strip_prefix("read_")
            .is_some_and(|rest| granted.contains(&format!("write_{rest}")))
}

/// The message Shopify's REST API answers 403 with when the app lacks `scope`.
pub fn rest_denied_message(scope: &str) -> String {
    format!("[API] This action requires merchant approval for {scope} scope.")
}

/// The GraphQL extension that refuses top-level fields the app lacks the scope for.
pub(crate) struct AccessScopes;

impl ExtensionFactory for AccessScopes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AccessScopesCheck)
    }
}

struct AccessScopesCheck;

#[async_graphql::async_trait::async_trait]
impl Extension for AccessScopesCheck {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none()
            && let Some(scope) = required_scope(info.parent_type, info.name)
            && let Some(shared) = ctx.data_opt::<Arc<Shared>>()
            && !covers(&shared.access_scopes.lock(), scope)
        {
            shared.inspect.lock().access_denied += 1;
            let required = format!("`{scope}` access scope.");
            let mut e = ServerError::new(
                format!(
                    "Access denied for {} field. Required access: {required}",
                    info.name
                ),
                Some(info.field.name.pos),
            );
            e.path = vec![async_graphql::PathSegment::Field(
                info.alias.unwrap_or(info.name).to_owned(),
            )];
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "ACCESS_DENIED");
            ext.set(
                "documentation",
                "https://shopify.dev/api/usage/access-scopes",
            );
            ext.set("requiredAccess", required);
            e.extensions = Some(ext);
            return Err(e);
        }
        next.run(ctx, info).await
    }
}

/// `AppInstallation`: the app as installed on this shop (`currentAppInstallation`).
pub struct AppInstallation;

#[async_graphql::Object]
impl AppInstallation {
    /// The installation's id.
    async fn id(&self) -> async_graphql::ID {
        async_graphql::ID("gid://shopify/AppInstallation/1".into())
    }

    /// The access scopes the merchant granted the app.
    async fn access_scopes(&self, ctx: &async_graphql::Context<'_>) -> Vec<AccessScope> {
        ctx.data_unchecked::<Arc<Shared>>()
            .access_scopes
            .lock()
            .iter()
            .map(|h| AccessScope(h.clone()))
            .collect()
    }
}

/// `AccessScope`: one granted scope.
pub struct AccessScope(String);

#[async_graphql::Object]
impl AccessScope {
    /// The scope's handle (`write_products`).
    async fn handle(&self) -> &str {
        &self.0
    }

    /// What the scope allows.
    async fn description(&self) -> String {
        let (verb, what) = self.0.split_once('_').unwrap_or(("read", &self.0));
        let verb = if verb == "write" { "Modify" } else { "Read" };
        format!("{verb} {}", what.replace('_', " "))
    }
}

impl ShopifySim {
    /// The scopes the app holds now, sorted.
    pub fn access_scopes(&self) -> Vec<String> {
        self.shared.access_scopes.lock().iter().cloned().collect()
    }

    /// Replaces the app's scopes, as the merchant approving an update (or reinstalling the app
    /// with fewer) does; the next call is checked against them.
    pub fn set_access_scopes<S: AsRef<str>>(&self, scopes: &[S]) {
        *self.shared.access_scopes.lock() = scopes.iter().map(|s| s.as_ref().to_owned()).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_scope_covers_its_read_scope_only() {
        let granted: BTreeSet<String> = ["write_products".to_owned()].into();
        assert!(covers(&granted, "read_products"));
        assert!(covers(&granted, "write_products"));
        assert!(!covers(&granted, "read_orders"));
        let read: BTreeSet<String> = ["read_products".to_owned()].into();
        assert!(!covers(&read, "write_products"));
    }

    #[test]
    fn fields_name_their_scopes() {
        assert_eq!(
            required_scope("Mutation", "productVariantsBulkUpdate"),
            Some("write_products")
        );
        assert_eq!(required_scope("QueryRoot", "orders"), Some("read_orders"));
        assert_eq!(
            required_scope("QueryRoot", "priceLists"),
            Some("read_products")
        );
        assert_eq!(
            required_scope("Mutation", "priceListFixedPricesUpdate"),
            Some("write_products")
        );
        assert_eq!(
            required_scope("QueryRoot", "collectionByHandle"),
            Some("read_products")
        );
        assert_eq!(
            required_scope("Mutation", "collectionRemoveProducts"),
            Some("write_products")
        );
        assert_eq!(required_scope("QueryRoot", "job"), None);
        assert_eq!(required_scope("QueryRoot", "shop"), None);
        assert_eq!(required_scope("Product", "variants"), None);
        for s in ALL_SCOPES {
            assert!(s.starts_with("read_") || s.starts_with("write_"), "{s}");
        }
    }
}
