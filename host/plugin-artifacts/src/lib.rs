//! The guest plugins under `plugins/`, built for `wasm32-wasip2` by this crate's build script.
//!
//! - one `pub const <NAME>: &str` per component with its path on disk (for tests and tools),
//!   named after the crate without its `weft-` prefix (`weft-hostile-infinite-loop` is
//!   [`HOSTILE_INFINITE_LOOP`]-style);
//! - [`ALL`]: every component as `(crate name, path)`;
//! - [`STOCK`] and [`stock`]: the stock plugins, embedded in the binary with `include_bytes!`, so
//!   the `weft` binary ships them.
//! - test doubles under `plugins/testing/` are built like every guest but never embedded: the
//!   replay test loads [`TESTING_BUGGY_MAPPER`] (the stock mapper with one deliberate bug) from
//!   its path.

include!(concat!(env!("OUT_DIR"), "/gen.rs"));
