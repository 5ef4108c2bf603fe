//! The Admin GraphQL API: schema and resolvers ([`schema`]) and calculated query cost ([`cost`]).

pub mod cost;
pub mod schema;

pub use schema::{ReqCtx, ShopifySchema, build_schema};
