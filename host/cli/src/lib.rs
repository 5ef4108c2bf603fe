//! The `weft` product around the engine: host assembly and the demo, shared by the binary and
//! the end-to-end tests.
//!
//! # Layout
//! - [`app`]: builds a running host (stores' loops, webhook intake, metrics) from resolved setups.
//! - [`demo`]: `weft demo`, the whole job on simulators with a verification report.

pub mod app;
pub mod demo;
