//! weft's sandboxed plugin runtime.
//!
//! Per-store mapping and conflict-resolution logic runs as WebAssembly components (WIT contract
//! `wit/plugin.wit`, package `weft:plugin@0.1.0`) under wasmtime:
//!
//! - one [`Runtime`] per process: one engine with the pooling allocator, epoch interruption
//!   driven by a ticker thread, optional fuel; components compiled once per sha256 and kept
//!   precompiled on disk ([`RuntimeConfig::cache_dir`]);
//! - [`Runtime::load`] checks a component against the contract at load time and detects its
//!   [`Role`];
//! - [`Runtime::mapper`] / [`Runtime::resolver`] bind a plugin to a store ([`StoreCtx`]); each
//!   batch call runs in a fresh instance under the store's [`Limits`];
//! - every failure is a typed [`PluginError`] naming the store, the plugin and the limit hit.
//!
//! Plugins have no ambient authority: no files, sockets, env, args; fixed clocks; seeded
//! randomness (see `host_impl`).
//!
//! All calls are synchronous: run them on blocking threads (`tokio::task::spawn_blocking`, or a
//! plain thread). Never call them directly inside an async task: wasmtime-wasi's synchronous
//! WASI blocks on the ambient tokio runtime when a plugin writes to stderr or polls, which
//! panics inside an async execution context.

mod cache;
mod config;
mod engine;
mod error;
mod host_impl;
mod plugin;

pub mod bench;
pub mod tools;
pub mod types;

pub use config::{Limits, RuntimeConfig};
pub use engine::{Runtime, RuntimeStats};
pub use error::{PluginError, PluginRef, RuntimeError};
pub use host_impl::{CallLog, FIXED_MONOTONIC_CLOCK, FIXED_WALL_CLOCK, LogLine};
pub use plugin::{
    CallReport, LoadSource, MapperInstance, Plugin, ResolverInstance, Role, StoreCtx,
};
