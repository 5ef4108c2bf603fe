//! The error type of `weft-server`: what failed and where.

use thiserror::Error;

/// Errors of the server's library functions (serving and benchmarking). Request-level failures
/// never surface here: they become HTTP answers.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The HTTP listener failed.
    #[error("http server on {addr} failed")]
    Serve {
        /// The local address being served.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file or socket operation of the intake benchmark failed.
    #[error("i/o error in intake benchmark: {what}")]
    BenchIo {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store failed during the intake benchmark.
    #[error("store error in intake benchmark while {what}")]
    BenchStore {
        /// What was being done.
        what: &'static str,
        /// The store's error.
        #[source]
        source: weft_store::StoreError,
    },
    /// A benchmark request failed or was refused.
    #[error("intake benchmark request failed: {0}")]
    BenchRequest(String),
    /// The benchmark options are out of range.
    #[error("invalid intake benchmark options: {0}")]
    BenchOptions(String),
}
