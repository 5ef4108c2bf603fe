//! Typed failures of plugin loading and calls. Every variant names the store (for calls), the
//! plugin (name and short content hash) and, for limit hits, the limit.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::duration_text;
use crate::types::{EntityKind, GuestError};
use crate::validate::OutputFault;

/// Which plugin: its name and the first 12 hex digits of its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PluginRef {
    /// The name it was loaded under.
    pub name: String,
    /// The first 12 hex digits of the component's sha256.
    pub hash: String,
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (sha256 {})", self.name, self.hash)
    }
}

/// A plugin export, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Export {
    /// `mapping.to-canonical`.
    ToCanonical,
    /// `mapping.from-canonical`.
    FromCanonical,
    /// `resolving.resolve`.
    Resolve,
}

impl Export {
    /// The WIT name: `to-canonical`, `from-canonical`, `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Export::ToCanonical => "to-canonical",
            Export::FromCanonical => "from-canonical",
            Export::Resolve => "resolve",
        }
    }
}

impl fmt::Display for Export {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The write request a refused command list answered: target system and record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRef {
    /// The request's target system.
    pub target: String,
    /// The requested record's kind.
    pub kind: EntityKind,
    /// The requested record's canonical key.
    pub key: String,
}

/// Why a plugin could not be loaded or a call did not produce an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PluginError {
    /// The call ran past the store's wall-time limit (epoch deadline).
    #[error("store `{store}`: plugin {plugin} hit its time limit of {}", duration_text::format(*limit))]
    Timeout {
        store: String,
        plugin: PluginRef,
        #[serde(with = "duration_text")]
        limit: Duration,
    },
    /// The call used up the store's fuel (instruction) budget.
    #[error("store `{store}`: plugin {plugin} used up its fuel budget of {limit} units")]
    OutOfFuel {
        store: String,
        plugin: PluginRef,
        limit: u64,
    },
    /// The instance asked for more linear memory than the store allows.
    #[error(
        "store `{store}`: plugin {plugin} hit its memory limit of {limit} bytes (asked for {requested})"
    )]
    MemoryLimit {
        store: String,
        plugin: PluginRef,
        limit: u64,
        requested: u64,
    },
    /// The call overflowed the wasm stack.
    #[error("store `{store}`: plugin {plugin} overflowed its stack limit of {limit} bytes")]
    StackOverflow {
        store: String,
        plugin: PluginRef,
        limit: u64,
    },
    /// The batch sent in is larger than the store's input cap; the plugin was not run.
    #[error(
        "store `{store}`: input of {actual} bytes for plugin {plugin} exceeds the input limit of {limit} bytes"
    )]
    InputTooLarge {
        store: String,
        plugin: PluginRef,
        limit: u64,
        actual: u64,
    },
    /// The plugin returned more than the store's output cap.
    #[error(
        "store `{store}`: plugin {plugin} returned {actual} bytes, over its output limit of {limit} bytes"
    )]
    OutputTooLarge {
        store: String,
        plugin: PluginRef,
        limit: u64,
        actual: u64,
    },
    /// The plugin trapped: a panic (message from its stderr), an `unreachable`, a bad memory
    /// access, or an exit.
    #[error("store `{store}`: plugin {plugin} trapped: {trap}{}", panic.as_ref().map(|p| format!(" (guest said: {p})")).unwrap_or_default())]
    Trap {
        store: String,
        plugin: PluginRef,
        trap: String,
        panic: Option<String>,
    },
    /// The plugin returned its own `plugin-error` for the whole batch.
    #[error(
        "store `{store}`: plugin {plugin} failed the batch: {}",
        guest_error_text(error)
    )]
    Guest {
        store: String,
        plugin: PluginRef,
        error: GuestError,
    },
    /// The plugin broke the contract (for example returned a different number of outcomes than
    /// inputs).
    #[error("store `{store}`: plugin {plugin} broke the contract: {detail}")]
    Contract {
        store: String,
        plugin: PluginRef,
        detail: String,
    },
    /// The component does not match the WIT contract (found at load, before any call).
    #[error("plugin {plugin} does not match the weft:plugin@0.5.0 contract: {detail}")]
    InterfaceMismatch { plugin: PluginRef, detail: String },
    /// The bytes are not a valid component, or wasmtime could not compile them.
    #[error("plugin {plugin} cannot be compiled: {detail}")]
    Invalid { plugin: PluginRef, detail: String },
    /// The component is larger than the runtime accepts (checked before compiling).
    #[error(
        "plugin {plugin} is {actual} bytes, over the component size limit of {limit} bytes; it was not compiled"
    )]
    TooLarge {
        plugin: PluginRef,
        limit: u64,
        actual: u64,
    },
    /// Compiling the component took longer than the runtime's compile budget. Nothing was
    /// cached; the compilation may still finish in the background and is then dropped.
    #[error(
        "plugin {plugin} did not compile within the compile budget of {}; refused and not cached",
        duration_text::format(*limit)
    )]
    CompileTimeout {
        plugin: PluginRef,
        #[serde(with = "duration_text")]
        limit: Duration,
    },
    /// One item of the plugin's output is not acceptable (bad JSON, a record that is not an
    /// object). `index` is the position of the document / request / conflict in the batch.
    #[error(
        "store `{store}`: plugin {plugin} returned invalid output from {call} for {item}: {fault}"
    )]
    InvalidOutput {
        store: String,
        plugin: PluginRef,
        /// Which export returned it.
        call: Export,
        /// The input's index in the batch.
        index: usize,
        /// The input, for people: `document 2 (shopify Product "123")`.
        item: Box<str>,
        fault: Box<OutputFault>,
    },
    /// The commands a mapper returned for one write request do not answer that request (another
    /// system, kind or record; too many; a bad body). Nothing of that request may be written.
    #[error(
        "store `{store}`: plugin {plugin} returned commands for write request {request} ({} {:?} {:?}) that were refused: {fault}",
        record.target, record.kind, record.key
    )]
    CommandRejected {
        store: String,
        plugin: PluginRef,
        /// The request's index in the batch.
        request: usize,
        /// Which record the request was for.
        record: Box<RequestRef>,
        fault: Box<OutputFault>,
    },
    /// The plugin was asked for a role it does not export.
    #[error("store `{store}`: plugin {plugin} is not a {wanted} (it exports: {exports})")]
    WrongRole {
        store: String,
        plugin: PluginRef,
        wanted: &'static str,
        exports: String,
    },
    /// The host could not run the call (for example it could not instantiate the component).
    #[error("store `{store}`: the host could not run plugin {plugin}: {detail}")]
    Host {
        store: String,
        plugin: PluginRef,
        detail: String,
    },
}

// Callers pass `PluginError` around in `Result`s (and clippy's `result_large_err` flags errors
// over 128 bytes in every crate that does): keep it small, boxing the rare large payloads.
const _: () = assert!(std::mem::size_of::<PluginError>() <= 120);

impl PluginError {
    /// A short machine name of the variant (`timeout`, `memory_limit`, ...), as in its JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Timeout { .. } => "timeout",
            PluginError::OutOfFuel { .. } => "out_of_fuel",
            PluginError::MemoryLimit { .. } => "memory_limit",
            PluginError::StackOverflow { .. } => "stack_overflow",
            PluginError::InputTooLarge { .. } => "input_too_large",
            PluginError::OutputTooLarge { .. } => "output_too_large",
            PluginError::Trap { .. } => "trap",
            PluginError::Guest { .. } => "guest",
            PluginError::Contract { .. } => "contract",
            PluginError::InterfaceMismatch { .. } => "interface_mismatch",
            PluginError::Invalid { .. } => "invalid",
            PluginError::WrongRole { .. } => "wrong_role",
            PluginError::TooLarge { .. } => "too_large",
            PluginError::CompileTimeout { .. } => "compile_timeout",
            PluginError::InvalidOutput { .. } => "invalid_output",
            PluginError::CommandRejected { .. } => "command_rejected",
            PluginError::Host { .. } => "host",
        }
    }

    /// Whether the failure is the plugin's doing (limit hit, trap, bad answer) rather than the
    /// host's; the engine may dead-letter these without retrying.
    pub fn is_plugin_fault(&self) -> bool {
        !matches!(self, PluginError::Host { .. })
    }
}

fn guest_error_text(e: &GuestError) -> String {
    match e {
        GuestError::Config(m) => format!("config: {m}"),
        GuestError::Other(m) => m.clone(),
    }
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The wasmtime engine rejected the configuration.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The precompiled-component cache directory is unusable.
    #[error("cannot use plugin cache directory {path}: {source}")]
    CacheDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("invalid plugin runtime config: {0}")]
    Config(String),
}
