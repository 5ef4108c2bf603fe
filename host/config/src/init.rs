//! `weft init`: writes a commented starter configuration (host file plus one example store)
//! that loads cleanly, refusing to overwrite anything.

use std::path::{Path, PathBuf};

/// Environment variables the starter store refers to; set them (or edit the references) before
/// running `weft run`. Loading does not need them: secrets are resolved lazily.
pub const STARTER_ENV_VARS: [&str; 6] = [
    "ACME_SHOPIFY_ACCESS_TOKEN",
    "ACME_SHOPIFY_WEBHOOK_SECRET",
    "ACME_NETSUITE_CONSUMER_KEY",
    "ACME_NETSUITE_CONSUMER_SECRET",
    "ACME_NETSUITE_TOKEN_ID",
    "ACME_NETSUITE_TOKEN_SECRET",
];

/// The starter host file (`weft.toml`).
pub const STARTER_HOST: &str = r#"# weft host configuration.
#
# This file holds what the whole host shares; each store (one Shopify shop synced with one
# NetSuite account) has its own file in `stores/`. Relative paths are resolved against the
# directory of the file that names them. Check everything with `weft check`.
#
# Unknown keys are errors, so a typo never silently falls back to a default.

# Where store files live: every `*.toml` in this directory is one store.
# Instead, you can list them: stores = ["stores/acme.toml", "/etc/weft/other.toml"]
stores_dir = "stores"

[server]
# Address of the HTTP listener for webhooks, Prometheus metrics (/metrics) and health checks (/healthz, /readyz).
listen = "127.0.0.1:8080"
# Largest webhook body accepted, in KiB; larger requests get 413 and are not stored.
webhook_max_body_kb = 1024
# Where the platforms can reach this listener from outside. When set, weft subscribes each
# store's systems with webhooks to <public_url>/webhooks/<system>/<store> at start, and checks
# and repairs the subscriptions every reconciliation round.
# public_url = "https://weft.example.com"
# Hostile clients: a request head must arrive within header_read_timeout; a connection idle
# (no request, no byte) for idle_timeout is closed; at most max_connections at once (one more
# gets 503 and is closed), at most max_connections_per_ip from one address (raise it to
# max_connections behind a reverse proxy); requests in flight get shutdown_grace at stop.
# header_read_timeout = "10s"
# idle_timeout = "30s"
# max_connections = 4096
# max_connections_per_ip = 256
# shutdown_grace = "10s"
# A separate listener for /metrics, /healthz and /readyz only, with its own small budget, so
# probes answer while intake is flooded: ops_listen = "127.0.0.1:9090"

# The operator's web console at /console on the same listener (stores, records and why they
# hold what they hold, dead letters, replay previews). Off without a token; no page without it.
# [console]
# token = { env = "WEFT_CONSOLE_TOKEN" }

# Several hosts on one PostgreSQL database share its stores: each store is served by one host
# at a time under a lease (writes of a host that lost it are refused), a host that stops renewing
# loses its stores to the others after lease_ttl, and a host stopped cleanly hands them back.
# host_id defaults to <hostname>-<pid>; set one that survives restarts to take stores back at once.
# [cluster]
# host_id = "weft-1"
# lease_ttl = "15s"
# renew_interval = "5s"

[storage]
# The journal, projections and outbox. A file path (or `sqlite://path`) means an embedded
# SQLite database in WAL mode; a `postgres://` URL means PostgreSQL. A URL with a password is a
# secret: write it as a reference, e.g. url = { env = "DATABASE_URL" }.
url = "weft.db"

[runtime]
# Where compiled plugins are cached, keyed by content hash, so restarts do not recompile.
cache_dir = ".weft/cache"
# Most plugin instances alive at once across all stores (pooling allocator slots).
pool_size = 1000

# Default limits for every plugin call (one batch). A store can override any of them in its
# own [limits] section. A plugin that exceeds one fails with an error naming the limit.
[runtime.limits]
# Wall-clock deadline per call, in milliseconds.
timeout_ms = 2000
# Instruction budget per call (deterministic, unlike the deadline, but metering costs
# speed); 0 means no fuel limit, only the deadline.
fuel = 0
# Linear memory cap, in MiB.
memory_mb = 64
# Wasm stack cap, in KiB (deep recursion traps instead of crashing the host).
stack_kb = 512
# Largest input batch and output handed across the boundary, in KiB.
max_input_kb = 8192
max_output_kb = 8192
# Log output kept per call, in KiB; the rest is counted and dropped.
max_log_kb = 16

[log]
# A level (error, warn, info, debug, trace) or per-module levels like
# "info,weft_runtime=debug". The RUST_LOG environment variable, when set, wins.
level = "info"
# "text" for people, "json" for log pipelines (one object per line).
format = "text"
"#;

/// The starter store file (`stores/acme.toml`).
pub const STARTER_STORE: &str = r#"# One store: a Shopify shop kept in sync with a NetSuite account.
#
# Secrets are never written here: every credential is a reference to an environment variable
# ({ env = "NAME" }) or a file ({ file = "/run/secrets/name" }), read only when needed and never
# logged. Writing a secret inline is an error.

[store]
# Unique id: lowercase letters, digits, `-` and `_`. It appears in URLs, metrics and logs and
# must not change once the store has synced (weft's journal is keyed by it).
id = "acme"
# Display name for humans.
name = "Acme Outdoor"
# A disabled store is loaded and checked, but not synced.
enabled = true

# The systems this store syncs, two or more, each `[systems.<name>]` with the platform it
# connects to. The name is how weft refers to the system: in webhook URLs
# (/webhooks/<name>/<store>), in [policy] and in plugin commands. A store may list two
# systems of one platform (two shops), each with its own name.
[systems.shopify]
platform = "shopify"
# The shop's myshopify.com domain.
shop = "acme.myshopify.com"
# API base URL. Defaults to https://<shop>; point it at `weft sandbox` to develop offline.
# base_url = "http://127.0.0.1:9001"
# Admin API version (Shopify releases quarterly: YYYY-01, -04, -07, -10).
api_version = "2025-10"
# Admin API access token of the custom app.
access_token = { env = "ACME_SHOPIFY_ACCESS_TOKEN" }
# Webhook signing secrets: the current one first, then any previous one still accepted while a
# rotation is in progress.
webhook_secrets = [{ env = "ACME_SHOPIFY_WEBHOOK_SECRET" }]

[systems.netsuite]
platform = "netsuite"
# Account id, e.g. "1234567", or "1234567_SB1" for a sandbox.
account_id = "1234567"
# Defaults to https://<account>.suitetalk.api.netsuite.com.
# base_url = "http://127.0.0.1:9002"
# Token-based authentication (OAuth 1.0a, HMAC-SHA256) of the integration record and token.
consumer_key = { env = "ACME_NETSUITE_CONSUMER_KEY" }
consumer_secret = { env = "ACME_NETSUITE_CONSUMER_SECRET" }
token_id = { env = "ACME_NETSUITE_TOKEN_ID" }
token_secret = { env = "ACME_NETSUITE_TOKEN_SECRET" }
# The account's concurrency limit, shared by every store and integration on the account.
# Leave it out to have weft learn it from the responses.
# concurrency_limit = 15

[plugins]
# The mapping plugin: a stock plugin (builtin:<name>) or a path to a .wasm component,
# relative to this file. `weft plugin check <file>` validates a component.
mapper = "builtin:shopify-netsuite"
# The conflict resolver for fields changed on both sides. Stock resolvers: system-of-record
# (applies [policy]), last-write-wins, counter-merge. Leave it out to get the one that
# implements [policy].
resolver = "builtin:system-of-record"

# Resolvers for particular fields ("<entity>.<field>", "<entity>.*" or "*.<field>"); the most
# specific pattern wins and `resolver` takes the rest. Stock quantities merge as counters:
# both sides' changes are added, so a sale and a restock never overwrite each other.
[plugins.resolvers]
"inventory-level.quantity" = "builtin:counter-merge"

# Free-form settings the plugins read (read-only; never put secrets here). Keys are up to
# the plugin; weft adds `owners` from [policy].
[plugins.config]
# sku_prefix = "WEB-"

[policy]
# Who wins when the same field changed on both sides since the last sync.
# The default for fields without an owner: "prefer-<system>" (that system wins, e.g.
# "prefer-netsuite"), "last-write-wins" (the newer edit wins; needs resolver last-write-wins) or
# "counter-merge" (numbers add both sides' changes; needs resolver counter-merge).
default = "prefer-netsuite"
# Field owners: "<entity>.<field>" = "<system>"; "<entity>.*", "*.<field>" and "*" are
# wildcards and the most specific rule wins. Entities: product, variant, inventory-level,
# price, customer, order. Systems: the names under [systems].
"price.price" = "netsuite"
"product.title" = "shopify"
"product.description" = "shopify"
# What a change by a system that does not own the field does: "revert" (the owner's value is
# written back; the default), "propose" (kept for an operator: `weft proposals`) or "accept".
# on_change = { "*" = "revert", "price.price" = "propose" }

[stock]
# Who owns stock: by default the store's ERP. Storefronts then show the ERP's available less
# orders it has not committed yet, less `buffer`; a sale is the order, never an adjustment too.
# owner = "netsuite"   # or "none": every system's stock change counts (counter-merge)
# buffer = 0

# Per-store overrides of [runtime.limits] in weft.toml; omit what you do not change.
[limits]
# timeout_ms = 5000

[schedule]
# All times are UTC. Durations are like "250ms", "30s", "5m", "1h", "1h30m".
# How often a storefront with webhooks is polled (Shopify by updated_at, WooCommerce by
# modified date) to catch webhooks that never arrived.
reconcile_interval = "5m"
# How often change capture polls: NetSuite (SuiteQL on lastModifiedDate) and the platforms
# without full webhooks (Magento, Sheets, BigCommerce).
cdc_interval = "30s"
# How far each poll reaches back before its watermark, so late or same-timestamp changes are
# never skipped (already-journaled changes are recognised and ignored).
poll_overlap = "2m"
cdc_overlap = "2m"
# When a full resync of every record runs (cron: minute hour day-of-month month day-of-week),
# or "never".
full_resync_cron = "0 3 * * *"
# A daily window (UTC) in which scheduled polls, full resyncs and every write except orders
# pause; webhooks are still taken and merged, and queued writes coalesce to one per record.
# quiet_hours = "01:00-05:00"
"#;

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A file it would write already exists.
    #[error("refusing to overwrite existing `{}`", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// Creating a directory or writing a file failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        /// The path being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Writes `weft.toml` and `stores/acme.toml` under `dir` (created if missing). Writes nothing
/// if either exists. Returns the written paths, host file first.
pub fn init(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, InitError> {
    init_with(dir, STARTER_STORE)
}

/// As [`init`], with `store` as the text of `stores/acme.toml` (another platform's starter
/// store, composed where platforms are registered).
pub fn init_with(dir: impl AsRef<Path>, store_text: &str) -> Result<Vec<PathBuf>, InitError> {
    let dir = dir.as_ref();
    let host = dir.join("weft.toml");
    let store = dir.join("stores").join("acme.toml");
    for path in [&host, &store] {
        if path.exists() {
            return Err(InitError::Exists { path: path.clone() });
        }
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InitError::Io { path, source }
    };
    std::fs::create_dir_all(dir.join("stores")).map_err(io(&dir.join("stores")))?;
    for (path, text) in [(&host, STARTER_HOST), (&store, store_text)] {
        // `create_new` so a file appearing between the check and the write is still not replaced.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    InitError::Exists { path: path.clone() }
                } else {
                    InitError::Io {
                        path: path.clone(),
                        source: e,
                    }
                }
            })?;
        f.write_all(text.as_bytes()).map_err(io(path))?;
    }
    Ok(vec![host, store])
}
