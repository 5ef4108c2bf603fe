//! The engine's error type.

use weft_runtime::PluginError;
use weft_store::StoreError;

/// Why an engine step failed. A failed step commits nothing; it is retried from the same
/// cursor, so nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin call failed as a whole (trap, limit, interface): the typed error names the
    /// store, the plugin and the limit.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A platform call failed (after the connector's own classification).
    #[error(transparent)]
    Connector(#[from] weft_platform::ConnectorError),
    /// A plugin broke the contract (wrong number of outcomes, fields that are not JSON).
    #[error("plugin broke the contract: {0}")]
    PluginContract(String),
    /// A store names a system it has no connection to (or a platform it does not know).
    #[error("store {store}: {message}")]
    System {
        /// The store.
        store: String,
        /// What is missing.
        message: String,
    },
    /// A privacy request could not be carried out (its export file could not be written).
    #[error("privacy request: {0}")]
    Privacy(String),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Join(String),
}

impl From<weft_platform::SourceError> for EngineError {
    fn from(e: weft_platform::SourceError) -> Self {
        match e {
            weft_platform::SourceError::Connector(e) => EngineError::Connector(e),
            weft_platform::SourceError::Store(e) => EngineError::Store(e),
        }
    }
}
