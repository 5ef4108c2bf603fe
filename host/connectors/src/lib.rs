//! weft's connectors: the host's only code that speaks Shopify's and NetSuite's protocols.
//!
//! # Layout
//!
//! - [`shopify`]: a GraphQL Admin API client (cost-aware, `THROTTLED` and `userErrors`
//!   detection on HTTP 200), paged reconciliation reads, the mutations weft writes with, and
//!   [`shopify::normalize`], the one place that turns GraphQL reads and webhook bodies into the
//!   one document shape per entity the mapping plugins see.
//! - [`netsuite`]: OAuth 1.0a (TBA, HMAC-SHA256) signing, the REST record API (GET, POST, PATCH,
//!   upsert by external id), SuiteQL paging, and change data capture by `lastModifiedDate`
//!   watermark with an id tie-break ([`netsuite::cdc`]).
//! - [`write`]: executes one write command (what the engine's outbox holds) against the right
//!   API and reports the target's id and version so the engine can record cross-references.
//! - [`error`]: [`ConnectorError`], the one error type, with its retry classification.
//! - [`gate`]: the hooks through which every request passes the host's rate limiters.
//!
//! All ids are strings end to end: Shopify's exceed 2^53.

pub mod error;
pub mod gate;
pub mod netsuite;
pub mod shopify;
pub mod write;

pub use error::{ConnectorError, InvalidRequest};
pub use write::{Connectors, WriteCommand, WriteOp, WriteOutcome};

/// The entity kinds weft syncs, with the names the WIT contract (`entity-kind`) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// A product (Shopify product).
    Product,
    /// A variant (Shopify variant; NetSuite inventory item).
    Variant,
    /// Stock of one item at one location.
    InventoryLevel,
    /// A price of one item.
    Price,
    /// A customer.
    Customer,
    /// An order (Shopify order; NetSuite sales order).
    Order,
}

impl EntityKind {
    /// The WIT name: "product", "variant", "inventory-level", "price", "customer", "order".
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Product => "product",
            EntityKind::Variant => "variant",
            EntityKind::InventoryLevel => "inventory-level",
            EntityKind::Price => "price",
            EntityKind::Customer => "customer",
            EntityKind::Order => "order",
        }
    }

    /// Parses a WIT name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "product" => EntityKind::Product,
            "variant" => EntityKind::Variant,
            "inventory-level" => EntityKind::InventoryLevel,
            "price" => EntityKind::Price,
            "customer" => EntityKind::Customer,
            "order" => EntityKind::Order,
            _ => return None,
        })
    }
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_kind_round_trips() {
        for k in [
            EntityKind::Product,
            EntityKind::Variant,
            EntityKind::InventoryLevel,
            EntityKind::Price,
            EntityKind::Customer,
            EntityKind::Order,
        ] {
            assert_eq!(EntityKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EntityKind::parse("widget"), None);
    }
}
