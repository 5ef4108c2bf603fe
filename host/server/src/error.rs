//! The error type of `weft-server`: what failed and where.

use thiserror::Error;

/// Errors of the server's library functions (serving). Request-level failures
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
}
