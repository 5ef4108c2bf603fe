//! The validated, typed configuration: what the loader produces and what code (the demo, tests)
//! builds directly. Every struct is public and constructible; defaults are the safe ones.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::diag::{Diagnostic, Diagnostics, Origin};
use crate::secret::Secret;
use crate::section::SystemConfig;
use crate::time::{CronSchedule, QuietHours};

/// The whole configuration: host settings plus every store.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The host file this was loaded from (empty for configs built in code).
    pub host_file: PathBuf,
    /// How this host shares the stores with other hosts on the database (`[cluster]`).
    pub cluster: crate::cluster::ClusterConfig,
    /// The operator's web console (`[console]`).
    pub console: crate::console::ConsoleConfig,
    /// Webhook and metrics listener.
    pub server: ServerConfig,
    /// Journal, projections and outbox storage.
    pub storage: StorageConfig,
    /// Plugin runtime settings and default limits.
    pub runtime: RuntimeConfig,
    /// Logging.
    pub log: LogConfig,
    /// Privacy requests (`[privacy]`).
    pub privacy: PrivacyConfig,
    /// Every store, in file-name order.
    pub stores: Vec<StoreConfig>,
}

/// `[privacy]`: where the exports of privacy data requests are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyConfig {
    /// The directory (relative to the host file; default `privacy-exports`) a data request's
    /// export is written to as `<store>-<system>-request-<id>.json`, readable by its owner
    /// only.
    pub export_dir: PathBuf,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            export_dir: PathBuf::from("privacy-exports"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host_file: PathBuf::new(),
            cluster: crate::cluster::ClusterConfig::default(),
            console: crate::console::ConsoleConfig::default(),
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            runtime: RuntimeConfig::default(),
            log: LogConfig::default(),
            privacy: PrivacyConfig::default(),
            stores: Vec::new(),
        }
    }
}

impl Config {
    /// The store with this id.
    pub fn store(&self, id: &str) -> Option<&StoreConfig> {
        self.stores.iter().find(|s| s.id == id)
    }

    /// Stores with `enabled = true`.
    pub fn enabled_stores(&self) -> impl Iterator<Item = &StoreConfig> {
        self.stores.iter().filter(|s| s.enabled)
    }

    /// Every secret reference in the configuration (storage URL, then each store's).
    pub fn secrets(&self) -> Vec<&Secret> {
        let mut out = Vec::new();
        if let StorageConfig::Postgres { url } = &self.storage {
            out.push(url);
        }
        out.extend(self.console.token.as_ref());
        for store in &self.stores {
            out.extend(store.secrets());
        }
        out
    }

    /// Resolves every secret now and reports each one that fails, located at the reference in
    /// its file (for `weft check` and start-up). Values are dropped immediately.
    pub fn check_secrets(&self) -> Diagnostics {
        let mut diags = Diagnostics::new();
        for secret in self.secrets() {
            if let Err(e) = secret.resolve() {
                let origin = secret.origin().cloned().unwrap_or_else(|| Origin {
                    file: self.host_file.clone(),
                    line: 0,
                    column: 0,
                });
                diags.push(Diagnostic::at(&origin, e.to_string()).with_hint(
                    "set the environment variable or create the file before starting weft; \
                     secrets are read when needed, never stored in config",
                ));
            }
        }
        diags
    }
}

/// `[server]`: the HTTP listener for webhooks, `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Listen address (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Largest accepted webhook body in KiB (default 1024); larger bodies get 413.
    pub webhook_max_body_kb: u64,
    /// The public base URL platforms deliver webhooks to (`https://weft.example.com`): when set,
    /// each system with webhooks keeps its subscriptions to
    /// `<public_url>/webhooks/<system>/<store>` in place.
    pub public_url: Option<Url>,
    /// A second listener serving only `/metrics`, `/healthz` and `/readyz`, with its own small
    /// connection budget, so they answer while intake is flooded (default: none; they are
    /// always served on `listen` too).
    pub ops_listen: Option<SocketAddr>,
    /// Time a client has to send a complete request head, from connection open or its previous
    /// response (default 10 s).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no byte moving for this long is closed
    /// (default 30 s).
    pub idle_timeout: Duration,
    /// Connections open at once on `listen`; one more is answered 503 and closed
    /// (default 4096). Keep it below the process's file-descriptor limit.
    pub max_connections: u64,
    /// Connections open at once from one source address (IPv6: one /64) (default 256; behind a
    /// reverse proxy set it to `max_connections`).
    pub max_connections_per_ip: u64,
    /// How long requests in flight at shutdown get to be answered (default 10 s).
    pub shutdown_grace: Duration,
    /// How far ahead of this host's clock a webhook's version may be (default 5 min): one
    /// further ahead is refused and kept, since journaling it would make later edits look stale.
    pub future_version_skew: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            webhook_max_body_kb: 1024,
            public_url: None,
            ops_listen: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 256,
            shutdown_grace: Duration::from_secs(10),
            future_version_skew: Duration::from_secs(300),
        }
    }
}

/// `[storage]`: where the journal, projections and outbox live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// An embedded SQLite file (the default: `weft.db` next to the host file).
    Sqlite {
        /// The database file, resolved against the host file's directory.
        path: PathBuf,
    },
    /// A PostgreSQL database. The URL is held as a secret: it usually carries a password.
    Postgres {
        /// The connection URL.
        url: Secret,
    },
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self::Sqlite {
            path: PathBuf::from("weft.db"),
        }
    }
}

impl StorageConfig {
    /// For SQLite, the sqlx connection URL (`sqlite://<path>?mode=rwc`, creating the file).
    pub fn sqlite_url(&self) -> Option<String> {
        match self {
            Self::Sqlite { path } => Some(format!("sqlite://{}?mode=rwc", path.display())),
            Self::Postgres { .. } => None,
        }
    }
}

/// `[runtime]`: the plugin runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Directory for precompiled plugins (default `.weft/cache` next to the host file).
    pub cache_dir: PathBuf,
    /// Most plugin instances alive at once across all stores (pooling allocator slots;
    /// default 1000).
    pub pool_size: u32,
    /// Default limits for every plugin call (`[runtime.limits]`); stores override with `[limits]`.
    pub limits: PluginLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: PathBuf::from(".weft/cache"),
            pool_size: 1000,
            limits: PluginLimits::default(),
        }
    }
}

/// Limits for one plugin call (one batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// Wall-time deadline per call in milliseconds (epoch interruption; default 2000).
    pub timeout_ms: u64,
    /// Fuel (instruction budget) per call, deterministic whatever the machine's load; `None`
    /// (the default, `fuel = 0` in TOML) is the runtime's default budget (2·10⁹). The wall-time
    /// deadline stays as a backstop.
    pub fuel: Option<u64>,
    /// Linear memory cap in MiB (default 64).
    pub memory_mb: u64,
    /// Wasm stack cap in KiB (default 512).
    pub stack_kb: u64,
    /// Largest input batch in KiB (default 8192).
    pub max_input_kb: u64,
    /// Largest output in KiB (default 8192).
    pub max_output_kb: u64,
    /// Most log output kept per call in KiB (default 16).
    pub max_log_kb: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            timeout_ms: 2_000,
            fuel: None,
            memory_mb: 64,
            stack_kb: 512,
            max_input_kb: 8_192,
            max_output_kb: 8_192,
            max_log_kb: 16,
        }
    }
}

impl PluginLimits {
    /// These limits with a store's overrides applied.
    pub fn with_overrides(&self, o: &LimitOverrides) -> Self {
        Self {
            timeout_ms: o.timeout_ms.unwrap_or(self.timeout_ms),
            fuel: o.fuel.unwrap_or(self.fuel),
            memory_mb: o.memory_mb.unwrap_or(self.memory_mb),
            stack_kb: o.stack_kb.unwrap_or(self.stack_kb),
            max_input_kb: o.max_input_kb.unwrap_or(self.max_input_kb),
            max_output_kb: o.max_output_kb.unwrap_or(self.max_output_kb),
            max_log_kb: o.max_log_kb.unwrap_or(self.max_log_kb),
        }
    }

    /// The timeout as a `Duration`.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mb * 1024 * 1024
    }

    /// The stack cap in bytes.
    pub fn stack_bytes(&self) -> u64 {
        self.stack_kb * 1024
    }

    /// The input cap in bytes.
    pub fn max_input_bytes(&self) -> u64 {
        self.max_input_kb * 1024
    }

    /// The output cap in bytes.
    pub fn max_output_bytes(&self) -> u64 {
        self.max_output_kb * 1024
    }

    /// The log cap in bytes.
    pub fn max_log_bytes(&self) -> u64 {
        self.max_log_kb * 1024
    }
}

/// A store's `[limits]`: each set field overrides the host default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// Overrides [`PluginLimits::timeout_ms`].
    pub timeout_ms: Option<u64>,
    /// Overrides [`PluginLimits::fuel`] (`Some(None)` disables fuel).
    pub fuel: Option<Option<u64>>,
    /// Overrides [`PluginLimits::memory_mb`].
    pub memory_mb: Option<u64>,
    /// Overrides [`PluginLimits::stack_kb`].
    pub stack_kb: Option<u64>,
    /// Overrides [`PluginLimits::max_input_kb`].
    pub max_input_kb: Option<u64>,
    /// Overrides [`PluginLimits::max_output_kb`].
    pub max_output_kb: Option<u64>,
    /// Overrides [`PluginLimits::max_log_kb`].
    pub max_log_kb: Option<u64>,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A tracing `EnvFilter` directive: a level (`info`) or `target=level` pairs separated by
    /// commas (`info,weft_runtime=debug`). `RUST_LOG`, when set, wins (default `info`).
    pub level: String,
    /// Output format (default text).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One store: the systems it keeps in sync (`stores/<id>.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// Unique id: lowercase letters, digits, `-`, `_`; at most 63 characters.
    pub id: String,
    /// Display name (defaults to the id).
    pub name: String,
    /// Disabled stores are loaded and checked but not synced.
    pub enabled: bool,
    /// The file this store was loaded from (empty for stores built in code).
    pub file: PathBuf,
    /// The systems it syncs (two or more), in file order.
    pub systems: Vec<SystemConfig>,
    /// The store's plugins and their config.
    pub plugins: PluginsConfig,
    /// Field ownership and the default conflict policy.
    pub policy: PolicyConfig,
    /// Effective plugin limits (host defaults with the store's `[limits]` applied).
    pub limits: PluginLimits,
    /// Reconciliation, CDC and resync timing.
    pub schedule: ScheduleConfig,
    /// Who owns the stock and what storefronts hold back (`[stock]`).
    pub stock: StockConfig,
    /// What a deletion does to the other systems, and the mass-delete guard (`[deletes]`).
    pub deletes: crate::DeletesConfig,
}

/// `[stock]`: who owns a store's stock, and the safety buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockConfig {
    /// Who owns the stock.
    pub owner: StockOwnerConfig,
    /// Units every storefront holds back from what the owner can sell (default 0).
    pub buffer: u64,
}

/// `[stock] owner`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StockOwnerConfig {
    /// Not set: the store's ERP (its one system whose platform is an ERP), if it has one.
    #[default]
    Erp,
    /// `owner = "<system>"`.
    System(String),
    /// `owner = "none"`: quantities are counters, every system's change counts.
    None,
}

impl StoreConfig {
    /// A store with default plugins, policy, limits and schedule.
    pub fn new(id: impl Into<String>, systems: Vec<SystemConfig>) -> Self {
        let id = id.into();
        Self {
            name: id.clone(),
            id,
            enabled: true,
            file: PathBuf::new(),
            systems,
            plugins: PluginsConfig::default(),
            policy: PolicyConfig::default(),
            limits: PluginLimits::default(),
            schedule: ScheduleConfig::default(),
            stock: StockConfig::default(),
            deletes: crate::DeletesConfig::default(),
        }
    }

    /// The store's secret references.
    pub fn secrets(&self) -> Vec<&Secret> {
        self.systems
            .iter()
            .flat_map(|s| s.settings.secrets())
            .collect()
    }

    /// The system named `name`.
    pub fn system(&self, name: &str) -> Option<&SystemConfig> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// What the store's plugins read through the `config` host import: the `[plugins.config]`
    /// table plus, when `[policy]` names owners, an `owners` key (`{ "<kind>.<field>": system,
    /// "*": system }`, see [`PolicyConfig::owner_rules`]) in the shape the stock
    /// `system-of-record` resolver reads. Never contains secrets.
    pub fn plugin_config(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = self.plugins.config.clone();
        let rules = self.policy.owner_rules();
        if !rules.is_empty() {
            let owners: serde_json::Map<String, serde_json::Value> = rules
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::from(v)))
                .collect();
            map.insert("owners".to_string(), serde_json::Value::Object(owners));
        }
        map
    }
}

/// `[plugins]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginsConfig {
    /// The mapping plugin (default `builtin:shopify-netsuite`).
    pub mapper: PluginRef,
    /// The resolver plugin (default: the stock resolver for the store's policy, see
    /// [`PolicyConfig::stock_resolver`]; `builtin:last-write-wins` for the default policy).
    pub resolver: PluginRef,
    /// `[plugins.resolvers]`: resolvers for particular fields, by pattern (`kind.field`,
    /// `kind.*`, `*.field`), e.g. `"inventory-level.quantity" = "builtin:counter-merge"`;
    /// `resolver` handles every other field.
    pub resolvers: BTreeMap<String, PluginRef>,
    /// `[plugins.config]`: free-form settings passed to the plugins (see
    /// [`StoreConfig::plugin_config`]).
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl PluginsConfig {
    /// Every resolver rule: `("*", resolver)` first, then each field pattern of
    /// [`Self::resolvers`]. The most specific pattern that matches a field wins.
    pub fn resolver_rules(&self) -> Vec<(String, &PluginRef)> {
        let mut rules = vec![("*".to_string(), &self.resolver)];
        rules.extend(self.resolvers.iter().map(|(k, v)| (k.clone(), v)));
        rules
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            mapper: PluginRef::builtin(DEFAULT_MAPPER),
            resolver: PluginRef::builtin(DEFAULT_RESOLVER),
            resolvers: BTreeMap::new(),
            config: serde_json::Map::new(),
        }
    }
}

/// The stock mapper used when a store names none.
pub const DEFAULT_MAPPER: &str = "shopify-netsuite";
/// The stock resolver for the default policy (last write wins, no owners).
pub const DEFAULT_RESOLVER: &str = "last-write-wins";

/// A plugin named by a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRef {
    /// Where the component comes from.
    pub source: PluginSource,
    /// Where it was named, for located errors when it fails to load.
    pub origin: Option<Origin>,
}

impl PluginRef {
    /// A stock plugin shipped with weft (`builtin:<name>` in TOML).
    pub fn builtin(name: impl Into<String>) -> Self {
        Self {
            source: PluginSource::Builtin(name.into()),
            origin: None,
        }
    }

    /// A component file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            source: PluginSource::File(path.into()),
            origin: None,
        }
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            PluginSource::Builtin(name) => write!(f, "builtin:{name}"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Where a plugin component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A stock plugin by name (`builtin:shopify-netsuite`).
    Builtin(String),
    /// A `.wasm` component file, resolved against the store file's directory.
    File(PathBuf),
}

/// `[policy]`: who owns which field, and what settles the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The policy for conflicting fields without an owner.
    pub default: ConflictPolicy,
    /// Field owners, written in `[policy]` as `"<kind>.<field>" = "<system>"` (a system name of
    /// the store, e.g. `"price.price" = "erp"`); `kind.*`, `*.field` and `*` are wildcards, the
    /// most specific rule wins. That system's value wins conflicts on that field.
    pub owners: BTreeMap<String, String>,
    /// What a one-sided change by a system that does not own the field does, per field pattern
    /// (`on_change = { "*" = "revert", "price.price" = "propose" }`; the most specific pattern
    /// wins; default [`ChangeAction::Revert`]). Fields without an owner are always taken.
    pub on_change: BTreeMap<String, ChangeAction>,
}

/// `[policy] on_change`: what a change by a system that does not own the field does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChangeAction {
    /// The owner's value is written back, counted and logged as an override (default).
    #[default]
    Revert,
    /// Kept aside for an operator to accept or refuse (`weft proposals`).
    Propose,
    /// Taken and written to the owner.
    Accept,
}

impl ChangeAction {
    /// The config names.
    pub const NAMES: [&str; 3] = ["revert", "propose", "accept"];

    /// Parses a config name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "revert" => Some(Self::Revert),
            "propose" => Some(Self::Propose),
            "accept" => Some(Self::Accept),
            _ => None,
        }
    }
}

impl PolicyConfig {
    /// The owner rules a resolver applies: [`Self::owners`], plus a catch-all `*` rule from a
    /// `prefer-<system>` default when the owners have none.
    pub fn owner_rules(&self) -> BTreeMap<String, String> {
        let mut rules = self.owners.clone();
        if let ConflictPolicy::Prefer(system) = &self.default {
            rules
                .entry("*".to_string())
                .or_insert_with(|| system.clone());
        }
        rules
    }

    /// The stock resolver that implements this policy, used when a store names none:
    /// `system-of-record` when there are owner rules, else `last-write-wins` or
    /// `counter-merge` after [`Self::default`].
    pub fn stock_resolver(&self) -> &'static str {
        if !self.owner_rules().is_empty() {
            "system-of-record"
        } else if matches!(self.default, ConflictPolicy::CounterMerge) {
            "counter-merge"
        } else {
            DEFAULT_RESOLVER
        }
    }
}

/// How a conflict on a field without an owner is settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// The side with the newer source version wins (default).
    #[default]
    LastWriteWins,
    /// This system's value wins (`prefer-<system>`).
    Prefer(String),
    /// Numeric fields merge by summing both sides' deltas from the base (stock quantities).
    CounterMerge,
}

impl ConflictPolicy {
    /// The fixed policy names (besides `prefer-<system>`).
    pub const NAMES: [&str; 2] = ["last-write-wins", "counter-merge"];

    /// The config name.
    pub fn name(&self) -> String {
        match self {
            Self::LastWriteWins => "last-write-wins".to_string(),
            Self::Prefer(system) => format!("prefer-{system}"),
            Self::CounterMerge => "counter-merge".to_string(),
        }
    }

    /// Parses a config name (`prefer-<system>` for any system name; the caller checks that the
    /// store has it).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "last-write-wins" => Some(Self::LastWriteWins),
            "counter-merge" => Some(Self::CounterMerge),
            _ => s
                .strip_prefix("prefer-")
                .filter(|sys| !sys.is_empty())
                .map(|sys| Self::Prefer(sys.to_string())),
        }
    }
}

/// Entity kinds a field owner may name (the WIT `entity-kind` names).
pub const ENTITY_KINDS: [&str; 6] = [
    "product",
    "variant",
    "inventory-level",
    "price",
    "customer",
    "order",
];

/// `[schedule]`: per-store timing of background work (times are UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// How often a change source that is a safety net behind webhooks polls (Shopify's and
    /// WooCommerce's reconciliation, catching dropped webhooks; default 5m).
    pub reconcile_interval: Duration,
    /// How often change capture polls: NetSuite with SuiteQL on `lastModifiedDate`, and the
    /// platforms without full webhooks (default 30s).
    pub cdc_interval: Duration,
    /// When a full resync of every entity runs (default `0 3 * * *`); `None` never.
    pub full_resync_cron: Option<CronSchedule>,
    /// A daily window (UTC) in which scheduled polls, full resyncs and every write except
    /// orders pause (webhooks are still taken and merged; queued writes coalesce).
    pub quiet_hours: Option<QuietHours>,
    /// How far each NetSuite poll reaches back before the watermark (default 2m).
    pub cdc_overlap: Duration,
    /// How far each Shopify poll reaches back before the watermark (default 2m).
    pub poll_overlap: Duration,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            reconcile_interval: Duration::from_secs(300),
            cdc_interval: Duration::from_secs(30),
            full_resync_cron: Some(CronSchedule::parse("0 3 * * *").expect("valid cron")),
            quiet_hours: None,
            cdc_overlap: Duration::from_secs(120),
            poll_overlap: Duration::from_secs(120),
        }
    }
}
