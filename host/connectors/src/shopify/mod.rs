//! Shopify GraphQL Admin API connector.
//!
//! [`ShopifyClient`] posts to `{base}/admin/api/{version}/graphql.json` with the
//! `X-Shopify-Access-Token` header, reserves every call's cost from the shop's `ShopifyCostLimiter`,
//! detects `THROTTLED` on HTTP 200 (and 429), turns mutation `userErrors` into typed errors
//! (`CHANGE_FROM_QUANTITY_STALE` -> [`crate::ConnectorError::Stale`]), and offers the paged
//! reconciliation reads and the writes weft uses. [`normalize`] converts both of Shopify's data
//! shapes into the one document shape per entity.

mod client;
pub mod normalize;
pub mod queries;

pub(crate) use client::check_user_errors;
pub use client::{
    AdjustChange, Entity, GraphqlResponse, Listed, Listing, Page, Paging, QuantityChange,
    ReadResult, ShopifyClient, ShopifyConfig,
};
pub use normalize::ShopifyDoc;
