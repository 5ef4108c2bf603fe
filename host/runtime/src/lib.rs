//! weft's sandboxed plugin runtime.
//!
//! Per-store mapping and conflict-resolution logic runs as WebAssembly components (WIT contract
//! `wit/plugin.wit`, package `weft:plugin@0.5.0`) under wasmtime:
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
//! Every guest execution (load probe, `info`, batches, resolvers, `plugin check`/`test`) runs on
//! the runtime's own guest threads, which are never inside a tokio runtime: wasmtime-wasi's
//! synchronous WASI blocks on the *ambient* tokio runtime when a plugin writes to stdout/stderr
//! or polls, which panicked ("Cannot start a runtime from within a runtime") when a call was
//! made from async context. So every public method is safe to call from anywhere. The blocking
//! forms (`load`, `to_canonical`, ...) block the calling thread until the guest thread is done;
//! async code should use the `*_async` forms (`load_async`, `load_in_background`,
//! `to_canonical_async`, `from_canonical_per_request_async`, `resolve_async`), which await it.

mod cache;
mod config;
mod engine;
mod error;
mod host_impl;
mod lift;
mod plugin;
mod pool;

pub mod bench;
pub mod tools;
pub mod types;
pub mod validate;

pub use config::{COMPILE_BUDGET_UNIT, DEFAULT_FUEL, Limits, RuntimeConfig};
pub use engine::{PendingPlugin, Runtime, RuntimeStats};
pub use error::{Export, PluginError, PluginRef, RequestRef, RuntimeError};
pub use host_impl::{
    CallLog, FIXED_MONOTONIC_CLOCK, FIXED_WALL_CLOCK, LOG_RECORD_OVERHEAD, LogLine, MAX_LOG_LINE,
    escape_log,
};
pub use plugin::{
    CallReport, LoadSource, MapperInstance, Plugin, ResolverInstance, Role, StoreCtx,
};
