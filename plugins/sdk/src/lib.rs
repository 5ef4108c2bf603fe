//! The weft plugin SDK: write a mapping or conflict-resolution plugin in plain Rust.
//!
//! A plugin is a type implementing [`Mapper`] (or the per-document [`DocMapper`]) or
//! [`Resolver`], exported with [`export_mapper!`] / [`export_resolver!`]. Built for
//! `wasm32-wasip2` it is a component implementing the `mapper` / `resolver` world of
//! `wit/plugin.wit`; built natively the same code runs under [`testing::Harness`], which applies
//! the host's rules (one outcome per input, valid JSON, bounded logs, panics reported as traps).
//!
//! ```
//! use weft_plugin_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Upper;
//!
//! impl DocMapper for Upper {
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new("upper", "0.1.0", "Upper-cases customer emails.")
//!     }
//!     fn map_doc(&self, _cx: &Context, doc: PlatformDoc) -> ToCanonicalOutcome {
//!         let body = match json::parse("customer", &doc.body) {
//!             Ok(body) => body,
//!             Err(e) => return ToCanonicalOutcome::Failed(e),
//!         };
//!         let root = json::Node::root("customer", &body);
//!         match root.opt_str("email") {
//!             Ok(email) => ToCanonicalOutcome::Mapped(vec![CanonicalRecord::new(
//!                 EntityKind::Customer,
//!                 doc.id,
//!                 &serde_json::json!({"email": email.map(str::to_uppercase)}),
//!             )]),
//!             Err(e) => ToCanonicalOutcome::Failed(e),
//!         }
//!     }
//!     fn write_request(&self, _cx: &Context, _req: WriteRequest) -> FromCanonicalOutcome {
//!         FromCanonicalOutcome::Skipped("read only".into())
//!     }
//! }
//!
//! weft_plugin_sdk::export_mapper!(Upper);
//!
//! let out = testing::Harness::new(Upper)
//!     .to_canonical(vec![PlatformDoc::from_json(
//!         "shopify", EntityKind::Customer, "1", "2026-01-01T00:00:00Z",
//!         &serde_json::json!({"email": "a@b.c"}),
//!     )])
//!     .unwrap();
//! assert_eq!(
//!     out,
//!     vec![ToCanonicalOutcome::Mapped(vec![CanonicalRecord::new(
//!         EntityKind::Customer, "1", &serde_json::json!({"email": "A@B.C"}),
//!     )])]
//! );
//! ```

pub mod context;
pub mod json;
pub mod resolve;
pub mod testing;
pub mod time;
pub mod types;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod glue;

pub use context::{ConfigError, Context, write_log};
pub use types::{
    CanonicalRecord, Decision, EntityKind, FieldChange, FromCanonicalOutcome, ItemError, Level,
    Occasion, PlatformDoc, PluginError, PluginInfo, Side, ToCanonicalOutcome, WriteCommand,
    WriteOp, WriteRequest,
};

/// Re-exported so plugins need no direct dependency on `serde_json`.
pub use serde_json;

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::context::{ConfigError, Context};
    pub use crate::json;
    pub use crate::testing;
    pub use crate::types::*;
    pub use crate::{DocMapper, Mapper, Resolver};
}

/// The mapping role: platform documents to canonical records and back to write commands.
pub trait Mapper {
    /// Describes the plugin.
    fn info(&self) -> PluginInfo;

    /// Maps a batch of platform documents: exactly one outcome per input, in order.
    fn to_canonical(
        &self,
        cx: &Context,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError>;

    /// Maps a batch of write requests to commands: exactly one outcome per input, in order.
    // The name mirrors the WIT function `from-canonical`.
    #[allow(clippy::wrong_self_convention)]
    fn from_canonical(
        &self,
        cx: &Context,
        reqs: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError>;
}

/// A mapper written one document at a time; [`Mapper`] is implemented for it by mapping each
/// input in order. Override [`DocMapper::prepare`] to validate config once per batch.
pub trait DocMapper {
    /// Describes the plugin.
    fn info(&self) -> PluginInfo;

    /// Called once per batch before any document; an error fails the whole batch.
    fn prepare(&self, _cx: &Context) -> Result<(), PluginError> {
        Ok(())
    }

    /// Maps one platform document.
    fn map_doc(&self, cx: &Context, doc: PlatformDoc) -> ToCanonicalOutcome;

    /// Maps one write request.
    fn write_request(&self, cx: &Context, req: WriteRequest) -> FromCanonicalOutcome;
}

impl<T: DocMapper> Mapper for T {
    fn info(&self) -> PluginInfo {
        DocMapper::info(self)
    }

    fn to_canonical(
        &self,
        cx: &Context,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        self.prepare(cx)?;
        Ok(docs.into_iter().map(|d| self.map_doc(cx, d)).collect())
    }

    fn from_canonical(
        &self,
        cx: &Context,
        reqs: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        self.prepare(cx)?;
        Ok(reqs
            .into_iter()
            .map(|r| self.write_request(cx, r))
            .collect())
    }
}

/// The resolution role.
pub trait Resolver {
    /// Describes the plugin.
    fn info(&self) -> PluginInfo;

    /// Field patterns (`kind.field`, `kind.*`, `*.field`, `*`) whose one-sided changes this
    /// resolver vets ([`Occasion::Change`]); none by default (conflicts only).
    fn guards(&self, _cx: &Context) -> Result<Vec<String>, PluginError> {
        Ok(Vec::new())
    }

    /// Decides a batch: exactly one decision per input, in order.
    fn resolve(
        &self,
        cx: &Context,
        changes: Vec<FieldChange>,
    ) -> Result<Vec<Decision>, PluginError>;
}

/// Writes a formatted log line at the given level: `weft_plugin_sdk::log!(Level::Warn, "x {}", 1)`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        $crate::write_log($level, &::std::format!($($arg)+))
    };
}

/// Logs at `trace` level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Trace, $($arg)+) };
}

/// Logs at `debug` level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Debug, $($arg)+) };
}

/// Logs at `info` level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Info, $($arg)+) };
}

/// Logs at `warn` level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Warn, $($arg)+) };
}

/// Logs at `error` level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Error, $($arg)+) };
}

/// Exports a [`Mapper`] type (which must implement `Default`) as the component's `mapping`
/// interface. Expands to nothing when not compiling for `wasm32`, so the same crate builds and
/// tests natively.
#[macro_export]
macro_rules! export_mapper {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __WeftMapperExport;
            impl $crate::glue::mapper::exports::weft::plugin::mapping::Guest for __WeftMapperExport {
                fn info() -> $crate::glue::mapper::weft::plugin::types::PluginInfo {
                    $crate::glue::mapper_info::<$ty>()
                }
                fn to_canonical(
                    docs: ::std::vec::Vec<$crate::glue::mapper::weft::plugin::types::PlatformDoc>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<
                        $crate::glue::mapper::exports::weft::plugin::mapping::ToCanonicalOutcome,
                    >,
                    $crate::glue::mapper::weft::plugin::types::PluginError,
                > {
                    $crate::glue::mapper_to_canonical::<$ty>(docs)
                }
                fn from_canonical(
                    requests: ::std::vec::Vec<
                        $crate::glue::mapper::exports::weft::plugin::mapping::WriteRequest,
                    >,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<
                        $crate::glue::mapper::exports::weft::plugin::mapping::FromCanonicalOutcome,
                    >,
                    $crate::glue::mapper::weft::plugin::types::PluginError,
                > {
                    $crate::glue::mapper_from_canonical::<$ty>(requests)
                }
            }
            $crate::glue::mapper::__weft_export_mapper_world!(__WeftMapperExport with_types_in $crate::glue::mapper);
        };
    };
}

/// Exports a [`Resolver`] type (which must implement `Default`) as the component's `resolving`
/// interface. Expands to nothing when not compiling for `wasm32`.
#[macro_export]
macro_rules! export_resolver {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __WeftResolverExport;
            impl $crate::glue::resolver::exports::weft::plugin::resolving::Guest
                for __WeftResolverExport
            {
                fn info() -> $crate::glue::resolver::weft::plugin::types::PluginInfo {
                    $crate::glue::resolver_info::<$ty>()
                }
                fn guards() -> ::std::result::Result<
                    ::std::vec::Vec<::std::string::String>,
                    $crate::glue::resolver::weft::plugin::types::PluginError,
                > {
                    $crate::glue::resolver_guards::<$ty>()
                }
                fn resolve(
                    conflicts: ::std::vec::Vec<
                        $crate::glue::resolver::exports::weft::plugin::resolving::FieldChange,
                    >,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<
                        $crate::glue::resolver::exports::weft::plugin::resolving::Decision,
                    >,
                    $crate::glue::resolver::weft::plugin::types::PluginError,
                > {
                    $crate::glue::resolver_resolve::<$ty>(conflicts)
                }
            }
            $crate::glue::resolver::__weft_export_resolver_world!(__WeftResolverExport with_types_in $crate::glue::resolver);
        };
    };
}
