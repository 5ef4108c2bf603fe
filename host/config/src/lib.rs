//! weft configuration: one host file (`weft.toml`) plus one file per store
//! (`stores/<id>.toml`), loaded into typed, validated structs. A store lists its systems
//! (`[systems.<name>]`); each system's section is read by its platform's [`PlatformSection`],
//! registered by the host, so this crate names no platform.
//!
//! - [`load`] reads every file with toml's spanned parser and walks it against the schema by
//!   hand, so it reports every problem in every file at once (unknown keys with "did you mean",
//!   type errors, bad durations, URLs, cron expressions, quiet hours, ids, duplicates, missing
//!   keys), each with file, line, column and a hint, as [`Diagnostics`].
//! - Secrets are only ever references (`{ env = "..." }` / `{ file = "..." }`); an inline secret
//!   is an error. A [`Secret`] prints as `Secret(***)` and is read only by [`Secret::resolve`].
//! - [`init`] writes a commented starter configuration that loads cleanly.
//! - Every struct is public and constructible, so demo and test configs are built in code.

mod cluster;
mod console;
mod deletes;
mod diag;
mod init;
mod load;
mod model;
mod secret;
mod section;
mod time;

pub use cluster::{ClusterConfig, valid_host_id};
pub use console::ConsoleConfig;
pub use deletes::{DeleteAction, DeletesConfig};
pub use diag::{Diagnostic, Diagnostics, Origin};
pub use init::{InitError, STARTER_ENV_VARS, STARTER_HOST, STARTER_STORE, init, init_with};
pub use load::{INLINE_SECRET_HINT, load};
pub use model::{
    ChangeAction, Config, ConflictPolicy, DEFAULT_MAPPER, DEFAULT_RESOLVER, ENTITY_KINDS,
    LimitOverrides, LogConfig, LogFormat, PluginLimits, PluginRef, PluginSource, PluginsConfig,
    PolicyConfig, PrivacyConfig, RuntimeConfig, ScheduleConfig, ServerConfig, StockConfig,
    StockOwnerConfig, StorageConfig, StoreConfig,
};
pub use secret::{Secret, SecretError, SecretSource, SecretString};
pub use section::{PlatformSection, Section, Span, SystemConfig, SystemSettings};
pub use time::{CronSchedule, QuietHours, format_duration, parse_duration};
