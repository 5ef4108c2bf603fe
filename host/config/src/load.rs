//! The loader: reads the host file and every store file with toml's spanned parser, walks each
//! document against the schema by hand, and collects every problem (with file, line, column and
//! a hint) instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use url::Url;

use crate::diag::{Diagnostic, Diagnostics, SourceFile, unknown_hint};
use crate::model::{
    ChangeAction, Config, ConflictPolicy, ENTITY_KINDS, LimitOverrides, LogConfig, LogFormat,
    PluginLimits, PluginRef, PluginSource, PluginsConfig, PolicyConfig, PrivacyConfig,
    RuntimeConfig, ScheduleConfig, ServerConfig, StockConfig, StockOwnerConfig, StorageConfig,
    StoreConfig,
};
use crate::secret::Secret;
use crate::section::{Claim, PlatformSection, Section, SystemConfig};
use crate::time::{CronSchedule, QuietHours, parse_duration};

/// The hint for every secret written inline.
pub const INLINE_SECRET_HINT: &str =
    "secrets must be references: use { env = \"...\" } or { file = \"...\" }";

const DURATION_HINT: &str =
    "write a whole number with a unit: `250ms`, `30s`, `5m`, `1h`, `1d`, or combined like `1h30m`";

const HOST_KEYS: [&str; 9] = [
    "cluster",
    "console",
    "server",
    "storage",
    "runtime",
    "log",
    "privacy",
    "stores_dir",
    "stores",
];
const SERVER_KEYS: [&str; 10] = [
    "listen",
    "public_url",
    "webhook_max_body_kb",
    "ops_listen",
    "header_read_timeout",
    "idle_timeout",
    "max_connections",
    "max_connections_per_ip",
    "shutdown_grace",
    "future_version_skew",
];
const STORAGE_KEYS: [&str; 1] = ["url"];
const RUNTIME_KEYS: [&str; 3] = ["cache_dir", "pool_size", "limits"];
const LOG_KEYS: [&str; 2] = ["level", "format"];
const PRIVACY_KEYS: [&str; 1] = ["export_dir"];
const LIMIT_KEYS: [&str; 7] = [
    "timeout_ms",
    "fuel",
    "memory_mb",
    "stack_kb",
    "max_input_kb",
    "max_output_kb",
    "max_log_kb",
];
const STORE_FILE_KEYS: [&str; 8] = [
    "store", "systems", "plugins", "policy", "limits", "schedule", "stock", "deletes",
];
const STOCK_KEYS: [&str; 2] = ["owner", "buffer"];
const STORE_KEYS: [&str; 3] = ["id", "name", "enabled"];
const PLUGINS_KEYS: [&str; 4] = ["mapper", "resolver", "resolvers", "config"];
const SCHEDULE_KEYS: [&str; 6] = [
    "reconcile_interval",
    "cdc_interval",
    "full_resync_cron",
    "quiet_hours",
    "cdc_overlap",
    "poll_overlap",
];
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

type Value<'i> = Spanned<DeValue<'i>>;

/// Where a store file was named: (source index, span of the path in that file).
type NamedAt = Option<(usize, Range<usize>)>;

/// A table being read: its dotted path (empty for the document root) and its header span.
pub(crate) struct Tbl<'a, 'i> {
    pub(crate) path: &'a str,
    pub(crate) table: &'a DeTable<'i>,
    pub(crate) span: Range<usize>,
}

impl<'a, 'i> Tbl<'a, 'i> {
    pub(crate) fn name(&self) -> String {
        if self.path.is_empty() {
            "the top level".to_string()
        } else {
            format!("[{}]", self.path)
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.table.get(key)
    }
}

/// Reading context for one file.
pub(crate) struct Cx<'a> {
    pub(crate) src: &'a SourceFile,
    pub(crate) diags: &'a mut Diagnostics,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn de_int(v: &DeValue<'_>) -> Option<i128> {
    match v {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

impl<'a> Cx<'a> {
    pub(crate) fn err(&mut self, span: Range<usize>, message: String, hint: Option<String>) {
        let mut d = self.src.error(span, message);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.diags.push(d);
    }

    /// Reports every key of `tbl` not in `known`.
    pub(crate) fn check_keys(&mut self, tbl: &Tbl<'_, '_>, known: &[&str]) {
        for (k, v) in tbl.table.iter() {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let msg = if tbl.path.is_empty() && matches!(v.get_ref(), DeValue::Table(_)) {
                format!("unknown table `[{key}]`")
            } else {
                format!("unknown key `{key}` in {}", tbl.name())
            };
            // A misspelt secret key (`acess_token = "..."`) may carry an inline value: never
            // echo such a line.
            if crate::diag::looks_secret(key) && matches!(v.get_ref(), DeValue::String(_)) {
                self.diags.push(
                    self.src
                        .error_redacted(k.span(), msg)
                        .with_hint(unknown_hint(key, known)),
                );
            } else {
                self.err(k.span(), msg, Some(unknown_hint(key, known)));
            }
        }
    }

    pub(crate) fn type_err(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        v: &Value<'_>,
        expected: &str,
        example: &str,
    ) {
        self.err(
            v.span(),
            format!(
                "`{key}` in {} must be {expected}, found {}",
                tbl.name(),
                type_name(v.get_ref())
            ),
            Some(format!("for example: {example}")),
        );
    }

    /// True when `tbl` holds a misspelling of `key` (already reported as an unknown key with
    /// a "did you mean" hint), so a "missing" error for `key` would only repeat it.
    fn misspelled_present(tbl: &Tbl<'_, '_>, key: &str) -> bool {
        tbl.table.iter().any(|(k, _)| {
            let k = k.get_ref().as_ref();
            k != key && crate::diag::suggest(k, &[key]).is_some()
        })
    }

    pub(crate) fn missing(&mut self, tbl: &Tbl<'_, '_>, key: &str, example: &str) {
        if Self::misspelled_present(tbl, key) {
            return;
        }
        self.err(
            tbl.span.clone(),
            format!("missing required key `{key}` in {}", tbl.name()),
            Some(format!("add `{example}`")),
        );
    }

    /// [`Self::sub`] for the sections other modules own.
    pub(crate) fn sub_table<'t, 'i>(
        &mut self,
        tbl: &Tbl<'t, 'i>,
        key: &str,
        path: &'t str,
    ) -> Option<Tbl<'t, 'i>> {
        self.sub(tbl, key, path)
    }

    fn sub<'t, 'i>(&mut self, tbl: &Tbl<'t, 'i>, key: &str, path: &'t str) -> Option<Tbl<'t, 'i>> {
        let v = tbl.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Tbl {
                path,
                table: t,
                span: v.span(),
            }),
            _ => {
                self.type_err(tbl, key, v, "a table", &format!("[{path}]"));
                None
            }
        }
    }

    fn sub_req<'t, 'i>(
        &mut self,
        tbl: &Tbl<'t, 'i>,
        key: &str,
        path: &'t str,
    ) -> Option<Tbl<'t, 'i>> {
        if tbl.get(key).is_none() {
            if Self::misspelled_present(tbl, key) {
                return None;
            }
            self.err(
                0..0,
                format!("missing required table `[{path}]`"),
                Some(format!(
                    "add a `[{path}]` section (`weft init` writes a commented example)"
                )),
            );
            return None;
        }
        self.sub(tbl, key, path)
    }

    pub(crate) fn string(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        example: &str,
    ) -> Option<(String, Range<usize>)> {
        let v = tbl.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span())),
            _ => {
                self.type_err(tbl, key, v, "a string", example);
                None
            }
        }
    }

    pub(crate) fn string_req(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        example: &str,
    ) -> Option<(String, Range<usize>)> {
        if tbl.get(key).is_none() {
            self.missing(tbl, key, example);
            return None;
        }
        self.string(tbl, key, example)
    }

    pub(crate) fn boolean(&mut self, tbl: &Tbl<'_, '_>, key: &str, example: &str) -> Option<bool> {
        let v = tbl.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_err(tbl, key, v, "a boolean (`true` or `false`)", example);
                None
            }
        }
    }

    fn integer(&mut self, tbl: &Tbl<'_, '_>, key: &str, min: u64, max: u64) -> Option<u64> {
        let example = match key {
            "timeout_ms" => "timeout_ms = 2000 (milliseconds)".to_string(),
            "fuel" => "fuel = 10000000000 (0 for no fuel limit)".to_string(),
            "memory_mb" => "memory_mb = 64".to_string(),
            "stack_kb" => "stack_kb = 512".to_string(),
            "max_input_kb" | "max_output_kb" => format!("{key} = 8192"),
            "max_log_kb" => "max_log_kb = 16".to_string(),
            "webhook_max_body_kb" => "webhook_max_body_kb = 1024".to_string(),
            "pool_size" => "pool_size = 1000".to_string(),
            _ => format!("{key} = {}", min.max(1)),
        };
        self.integer_with(tbl, key, min, max, &example)
    }

    /// An integer in `min..=max`, with the example shown on a type error.
    pub(crate) fn integer_with(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        min: u64,
        max: u64,
        example: &str,
    ) -> Option<u64> {
        let v = tbl.get(key)?;
        let Some(n) = de_int(v.get_ref()) else {
            self.type_err(tbl, key, v, "an integer", example);
            return None;
        };
        if n < i128::from(min) || n > i128::from(max) {
            self.err(
                v.span(),
                format!(
                    "`{key}` in {} must be between {min} and {max}, found {n}",
                    tbl.name()
                ),
                None,
            );
            return None;
        }
        u64::try_from(n).ok()
    }

    pub(crate) fn duration(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        min: Duration,
    ) -> Option<Duration> {
        let (s, span) = self.string(tbl, key, &format!("{key} = \"5m\""))?;
        match parse_duration(&s) {
            Ok(d) if d < min => {
                self.err(
                    span,
                    format!(
                        "`{key}` in {} must be at least {}, found `{s}`",
                        tbl.name(),
                        crate::time::format_duration(min)
                    ),
                    None,
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    span,
                    format!("invalid duration `{s}` for `{key}` in {}: {e}", tbl.name()),
                    Some(DURATION_HINT.to_string()),
                );
                None
            }
        }
    }

    pub(crate) fn url(&mut self, tbl: &Tbl<'_, '_>, key: &str, example: &str) -> Option<Url> {
        let v = tbl.get(key)?;
        let DeValue::String(s) = v.get_ref() else {
            self.type_err(tbl, key, v, "a string", example);
            return None;
        };
        let span = v.span();
        let bad = |cx: &mut Self, why: String| {
            cx.err(
                span.clone(),
                format!("invalid URL for `{key}` in {}: {why}", tbl.name()),
                Some(format!("for example: {example}")),
            );
        };
        match Url::parse(s) {
            Err(e) => bad(self, format!("`{s}`: {e}")),
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                self.diags.push(
                    self.src
                        .error_redacted(
                            span.clone(),
                            format!(
                                "`{key}` in {} has credentials written inline in the URL",
                                tbl.name()
                            ),
                        )
                        .with_hint("remove them from the URL; credentials are configured as secret references"),
                );
            }
            Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
                bad(self, format!("`{s}`: scheme must be `http` or `https`"));
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                bad(self, format!("`{s}`: no host"));
            }
            Ok(u) if u.query().is_some() || u.fragment().is_some() => {
                bad(
                    self,
                    format!("`{s}`: a base URL takes no query or fragment"),
                );
            }
            Ok(u) => return Some(u),
        }
        None
    }

    /// A secret reference value: `{ env = "X" }` or `{ file = "path" }`.
    pub(crate) fn secret_value(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        v: &Value<'_>,
        label: &str,
    ) -> Option<Secret> {
        let origin = self.src.origin(&v.span());
        match v.get_ref() {
            DeValue::String(_) => {
                self.diags.push(
                    self.src
                        .error_redacted(
                            v.span(),
                            format!("`{key}` in {} is a secret written inline", tbl.name()),
                        )
                        .with_hint(INLINE_SECRET_HINT),
                );
                None
            }
            DeValue::Table(t) => {
                let inner = Tbl {
                    path: tbl.path,
                    table: t,
                    span: v.span(),
                };
                let mut ok = true;
                for (k, _) in t.iter() {
                    let name = k.get_ref().as_ref();
                    if name != "env" && name != "file" {
                        ok = false;
                        self.err(
                            k.span(),
                            format!("unknown key `{name}` in the secret reference `{key}`"),
                            Some(unknown_hint(name, &["env", "file"])),
                        );
                    }
                }
                let env = self.string(&inner, "env", "{ env = \"SHOPIFY_TOKEN\" }");
                let file = self.string(&inner, "file", "{ file = \"/run/secrets/token\" }");
                if !ok {
                    return None;
                }
                let secret = match (env, file) {
                    (Some(_), Some(_)) => {
                        self.err(
                            v.span(),
                            format!("secret reference `{key}` names both `env` and `file`"),
                            Some("use one: { env = \"...\" } or { file = \"...\" }".to_string()),
                        );
                        return None;
                    }
                    (Some((name, span)), None) => {
                        let valid = !name.is_empty()
                            && !name.starts_with(|c: char| c.is_ascii_digit())
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid {
                            self.err(
                                span,
                                format!("`{name}` is not a valid environment variable name"),
                                Some(
                                    "use letters, digits and `_`, not starting with a digit"
                                        .to_string(),
                                ),
                            );
                            return None;
                        }
                        Secret::env(name)
                    }
                    (None, Some((path, span))) => {
                        if path.is_empty() {
                            self.err(span, "empty secret file path".to_string(), None);
                            return None;
                        }
                        Secret::file(self.src.dir().join(path))
                    }
                    (None, None) => {
                        // When a key is present but ill-typed, its type error was reported.
                        if !t.contains_key("env") && !t.contains_key("file") {
                            self.err(
                                v.span(),
                                format!("secret reference `{key}` names neither `env` nor `file`"),
                                Some(INLINE_SECRET_HINT.to_string()),
                            );
                        }
                        return None;
                    }
                };
                Some(secret.with_label(label).with_origin(origin))
            }
            _ => {
                self.type_err(
                    tbl,
                    key,
                    v,
                    "a secret reference",
                    "{ env = \"SHOPIFY_TOKEN\" }",
                );
                None
            }
        }
    }

    pub(crate) fn secret_req(
        &mut self,
        tbl: &Tbl<'_, '_>,
        key: &str,
        label: &str,
        env_example: &str,
    ) -> Option<Secret> {
        match tbl.get(key) {
            None => {
                self.missing(tbl, key, &format!("{key} = {{ env = \"{env_example}\" }}"));
                None
            }
            Some(v) => self.secret_value(tbl, key, v, label),
        }
    }

    fn limits(&mut self, tbl: &Tbl<'_, '_>) -> LimitOverrides {
        self.check_keys(tbl, &LIMIT_KEYS);
        LimitOverrides {
            timeout_ms: self.integer(tbl, "timeout_ms", 1, 600_000),
            fuel: self
                .integer(tbl, "fuel", 0, i64::MAX as u64)
                .map(|f| (f != 0).then_some(f)),
            memory_mb: self.integer(tbl, "memory_mb", 1, 4_096),
            stack_kb: self.integer(tbl, "stack_kb", 16, 16_384),
            max_input_kb: self.integer(tbl, "max_input_kb", 1, 1_048_576),
            max_output_kb: self.integer(tbl, "max_output_kb", 1, 1_048_576),
            max_log_kb: self.integer(tbl, "max_log_kb", 0, 16_384),
        }
    }
}

/// What the host file says, before stores are read.
struct Host {
    cluster: crate::cluster::ClusterConfig,
    console: crate::console::ConsoleConfig,
    server: ServerConfig,
    storage: StorageConfig,
    runtime: RuntimeConfig,
    log: LogConfig,
    privacy: PrivacyConfig,
    stores: StoreFiles,
}

enum StoreFiles {
    Dir {
        path: PathBuf,
        span: Option<Range<usize>>,
    },
    List(Vec<(PathBuf, Range<usize>)>),
}

fn validate_log_level(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("empty log level".to_string());
    }
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (target, level) = match part.split_once('=') {
            Some((t, l)) => (Some(t), l),
            None => (None, part),
        };
        if let Some(t) = target
            && (t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_:-".contains(c)))
        {
            return Err(format!("`{t}` is not a module path"));
        }
        if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let hint = unknown_hint(level, &LOG_LEVELS);
            return Err(format!("unknown level `{level}` ({hint})"));
        }
    }
    Ok(())
}

fn read_host(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> Host {
    cx.check_keys(root, &HOST_KEYS);
    let dir = cx.src.dir().to_path_buf();

    let mut server = ServerConfig::default();
    if let Some(t) = cx.sub(root, "server", "server") {
        cx.check_keys(&t, &SERVER_KEYS);
        for key in ["listen", "ops_listen"] {
            let example = format!("{key} = \"127.0.0.1:8080\"");
            if let Some((s, span)) = cx.string(&t, key, &example) {
                match s.parse::<SocketAddr>() {
                    Ok(a) if key == "listen" => server.listen = a,
                    Ok(a) => server.ops_listen = Some(a),
                    Err(_) => cx.err(
                        span,
                        format!("invalid {key} address `{s}` in [server]"),
                        Some(
                            "an IP address and a port, e.g. `127.0.0.1:8080` or `0.0.0.0:8080`"
                                .into(),
                        ),
                    ),
                }
            }
        }
        if let Some(n) = cx.integer(&t, "webhook_max_body_kb", 1, 1_048_576) {
            server.webhook_max_body_kb = n;
        }
        server.public_url = cx.url(
            &t,
            "public_url",
            "public_url = \"https://weft.example.com\"",
        );
        let min = Duration::from_millis(100);
        if let Some(d) = cx.duration(&t, "header_read_timeout", min) {
            server.header_read_timeout = d;
        }
        if let Some(d) = cx.duration(&t, "idle_timeout", min) {
            server.idle_timeout = d;
        }
        if let Some(d) = cx.duration(&t, "future_version_skew", Duration::from_secs(1)) {
            server.future_version_skew = d;
        }
        if let Some(d) = cx.duration(&t, "shutdown_grace", Duration::ZERO) {
            server.shutdown_grace = d;
        }
        if let Some(n) = cx.integer(&t, "max_connections", 1, 1_000_000) {
            server.max_connections = n;
        }
        if let Some(n) = cx.integer(&t, "max_connections_per_ip", 1, 1_000_000) {
            server.max_connections_per_ip = n;
            if n > server.max_connections
                && let Some(v) = t.get("max_connections_per_ip")
            {
                cx.err(
                    v.span(),
                    format!(
                        "`max_connections_per_ip` in [server] ({n}) is above `max_connections` ({})",
                        server.max_connections
                    ),
                    Some("one address can never hold more than the whole cap".into()),
                );
            }
        }
    }

    let mut storage = StorageConfig::Sqlite {
        path: dir.join("weft.db"),
    };
    if let Some(t) = cx.sub(root, "storage", "storage") {
        cx.check_keys(&t, &STORAGE_KEYS);
        if let Some(v) = t.get("url") {
            match v.get_ref() {
                DeValue::String(s) => {
                    if let Some(st) = parse_storage_url(cx, s, v.span(), &dir) {
                        storage = st;
                    }
                }
                DeValue::Table(_) => {
                    if let Some(secret) = cx.secret_value(&t, "url", v, "storage.url") {
                        storage = StorageConfig::Postgres { url: secret };
                    }
                }
                _ => cx.type_err(&t, "url", v, "a string", "url = \"weft.db\""),
            }
        }
    }

    let mut runtime = RuntimeConfig {
        cache_dir: dir.join(".weft/cache"),
        ..RuntimeConfig::default()
    };
    if let Some(t) = cx.sub(root, "runtime", "runtime") {
        cx.check_keys(&t, &RUNTIME_KEYS);
        if let Some((s, span)) = cx.string(&t, "cache_dir", "cache_dir = \".weft/cache\"") {
            if s.is_empty() {
                cx.err(span, "`cache_dir` in [runtime] is empty".into(), None);
            } else {
                runtime.cache_dir = dir.join(s);
            }
        }
        if let Some(n) = cx.integer(&t, "pool_size", 1, 100_000) {
            runtime.pool_size = n as u32;
        }
        if let Some(l) = cx.sub(&t, "limits", "runtime.limits") {
            let o = cx.limits(&l);
            runtime.limits = runtime.limits.with_overrides(&o);
        }
    }

    let mut log = LogConfig::default();
    if let Some(t) = cx.sub(root, "log", "log") {
        cx.check_keys(&t, &LOG_KEYS);
        if let Some((s, span)) = cx.string(&t, "level", "level = \"info\"") {
            match validate_log_level(&s) {
                Ok(()) => log.level = s,
                Err(e) => cx.err(
                    span,
                    format!("invalid log level `{s}` in [log]: {e}"),
                    Some("a level (`error`, `warn`, `info`, `debug`, `trace`) or `target=level` pairs separated by commas, e.g. `info,weft_runtime=debug`".into()),
                ),
            }
        }
        if let Some((s, span)) = cx.string(&t, "format", "format = \"text\"") {
            match s.as_str() {
                "text" => log.format = LogFormat::Text,
                "json" => log.format = LogFormat::Json,
                other => cx.err(
                    span,
                    format!("unknown log format `{other}` in [log]"),
                    Some(unknown_hint(other, &["text", "json"])),
                ),
            }
        }
    }

    let stores_dir = cx.string(root, "stores_dir", "stores_dir = \"stores\"");
    let stores = match root.get("stores") {
        Some(v) => {
            if stores_dir.is_some() {
                cx.err(
                    v.span(),
                    "set either `stores_dir` or `stores`, not both".into(),
                    Some(
                        "`stores_dir` loads every `*.toml` in a directory; `stores` lists files"
                            .into(),
                    ),
                );
            }
            let mut files = Vec::new();
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(s) => files.push((dir.join(s.as_ref()), item.span())),
                            _ => cx.type_err(
                                root,
                                "stores",
                                item,
                                "an array of file paths",
                                "stores = [\"stores/acme.toml\"]",
                            ),
                        }
                    }
                }
                _ => cx.type_err(
                    root,
                    "stores",
                    v,
                    "an array of file paths",
                    "stores = [\"stores/acme.toml\"]",
                ),
            }
            StoreFiles::List(files)
        }
        None => match stores_dir {
            Some((s, span)) => StoreFiles::Dir {
                path: dir.join(s),
                span: Some(span),
            },
            None => StoreFiles::Dir {
                path: dir.join("stores"),
                span: None,
            },
        },
    };

    let mut privacy = PrivacyConfig {
        export_dir: dir.join("privacy-exports"),
    };
    if let Some(t) = cx.sub(root, "privacy", "privacy") {
        cx.check_keys(&t, &PRIVACY_KEYS);
        if let Some((s, span)) = cx.string(&t, "export_dir", "export_dir = \"privacy-exports\"") {
            if s.is_empty() {
                cx.err(span, "`export_dir` in [privacy] is empty".into(), None);
            } else {
                privacy.export_dir = dir.join(s);
            }
        }
    }

    Host {
        cluster: crate::cluster::read(cx, root),
        console: crate::console::read(cx, root),
        server,
        storage,
        runtime,
        log,
        privacy,
        stores,
    }
}

fn parse_storage_url(
    cx: &mut Cx<'_>,
    s: &str,
    span: Range<usize>,
    dir: &Path,
) -> Option<StorageConfig> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        match Url::parse(s) {
            Ok(u) if u.password().is_some() => {
                cx.diags.push(
                    cx.src
                        .error_redacted(
                            span,
                            "`url` in [storage] has a password written inline".to_string(),
                        )
                        .with_hint(format!(
                            "{INLINE_SECRET_HINT}, e.g. url = {{ env = \"DATABASE_URL\" }}"
                        )),
                );
                None
            }
            Ok(_) => Some(StorageConfig::Postgres {
                url: Secret::value(s).with_label("storage.url"),
            }),
            Err(e) => {
                cx.err(
                    span,
                    format!("invalid PostgreSQL URL `{s}` in [storage]: {e}"),
                    Some("for example: url = \"postgres://weft@localhost/weft\"".into()),
                );
                None
            }
        }
    } else if let Some(rest) = s
        .strip_prefix("sqlite://")
        .or_else(|| s.strip_prefix("sqlite:"))
    {
        let path = rest.split('?').next().unwrap_or("");
        if path.is_empty() {
            cx.err(
                span,
                format!("`{s}` names no database file"),
                Some("for example: url = \"sqlite://weft.db\"".into()),
            );
            return None;
        }
        Some(StorageConfig::Sqlite {
            path: dir.join(path),
        })
    } else if let Some((scheme, _)) = s.split_once("://") {
        cx.err(
            span,
            format!("unsupported storage scheme `{scheme}` in [storage]"),
            Some(
                "use a SQLite file path (`weft.db`, `sqlite://weft.db`) or a `postgres://` URL"
                    .into(),
            ),
        );
        None
    } else if s.is_empty() {
        cx.err(
            span,
            "`url` in [storage] is empty".into(),
            Some("for example: url = \"weft.db\"".into()),
        );
        None
    } else {
        Some(StorageConfig::Sqlite { path: dir.join(s) })
    }
}

/// Spans of a store's identifying values, kept for cross-file checks.
struct StoreSide {
    file: usize,
    id: Option<(String, Range<usize>)>,
}

fn valid_store_id(id: &str) -> Result<(), String> {
    valid_name("store id", id)
}

/// A store id or system name: it appears in URLs, metrics and the journal's keys.
fn valid_name(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if id.len() > 63 {
        return Err(format!("{what} `{id}` is longer than 63 characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{what} `{id}` contains the forbidden character {c:?}"
        ));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Err(format!("{what} `{id}` must start with a letter or digit"));
    }
    Ok(())
}

fn suggested_id(id: &str) -> String {
    let mut out = String::new();
    for c in id.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "my-store".into()
    } else {
        out.chars().take(63).collect()
    }
}

fn json_of(cx: &mut Cx<'_>, v: &Value<'_>) -> Option<serde_json::Value> {
    Some(match v.get_ref() {
        DeValue::String(s) => serde_json::Value::from(s.as_ref()),
        DeValue::Integer(_) => match de_int(v.get_ref()).and_then(|n| i64::try_from(n).ok()) {
            Some(n) => serde_json::Value::from(n),
            None => {
                cx.err(
                    v.span(),
                    "integer out of range for plugin config".into(),
                    None,
                );
                return None;
            }
        },
        DeValue::Float(f) => {
            let parsed = f.as_str().replace('_', "").parse::<f64>().ok();
            match parsed.and_then(serde_json::Number::from_f64) {
                Some(n) => serde_json::Value::Number(n),
                None => {
                    cx.err(
                        v.span(),
                        format!(
                            "float `{}` cannot be passed to plugins (JSON has no inf or nan)",
                            f.as_str()
                        ),
                        None,
                    );
                    return None;
                }
            }
        }
        DeValue::Boolean(b) => serde_json::Value::Bool(*b),
        DeValue::Datetime(d) => serde_json::Value::from(d.to_string()),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items.iter() {
                out.push(json_of(cx, item)?);
            }
            serde_json::Value::Array(out)
        }
        DeValue::Table(t) => {
            let mut map = serde_json::Map::new();
            for (k, item) in t.iter() {
                map.insert(k.get_ref().to_string(), json_of(cx, item)?);
            }
            serde_json::Value::Object(map)
        }
    })
}

fn plugin_ref(cx: &mut Cx<'_>, tbl: &Tbl<'_, '_>, key: &str, default: &str) -> Option<PluginRef> {
    let example = format!("{key} = \"builtin:{default}\"");
    let Some((s, span)) = cx.string(tbl, key, &example) else {
        return tbl.get(key).is_none().then(|| PluginRef::builtin(default));
    };
    plugin_from_str(cx, &s, span, key, default)
}

/// A plugin reference: `builtin:<name>` or a component path relative to the store file.
fn plugin_from_str(
    cx: &mut Cx<'_>,
    s: &str,
    span: Range<usize>,
    key: &str,
    default: &str,
) -> Option<PluginRef> {
    let example = format!("{key} = \"builtin:{default}\"");
    let origin = cx.src.origin(&span);
    if let Some(name) = s.strip_prefix("builtin:") {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            cx.err(
                span,
                format!("invalid stock plugin name `{name}` for `{key}` in [plugins]"),
                Some(format!("stock plugins are named like `builtin:{default}`")),
            );
            return None;
        }
        return Some(PluginRef {
            source: PluginSource::Builtin(name.to_string()),
            origin: Some(origin),
        });
    }
    if s.is_empty() {
        cx.err(
            span,
            format!("`{key}` in [plugins] is empty"),
            Some(format!("for example: {example}")),
        );
        return None;
    }
    let path = cx.src.dir().join(s);
    if !path.is_file() {
        cx.err(
            span,
            format!("plugin file `{}` for `{key}` does not exist", path.display()),
            Some(format!(
                "paths are relative to the store file's directory; stock plugins are named like `builtin:{default}`"
            )),
        );
        return None;
    }
    Some(PluginRef {
        source: PluginSource::File(path),
        origin: Some(origin),
    })
}

/// Flattens nested tables into dotted paths, so `price.price = "x"` (unquoted, a nested table)
/// and `"price.price" = "x"` read the same.
fn flatten<'a, 'i>(
    prefix: &str,
    t: &'a DeTable<'i>,
    out: &mut Vec<(String, Range<usize>, &'a Value<'i>)>,
) {
    for (k, v) in t.iter() {
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        match v.get_ref() {
            DeValue::Table(inner) => flatten(&path, inner, out),
            _ => out.push((path, k.span(), v)),
        }
    }
}

/// Checks a field pattern's kind and field (`kind.field`, `kind.*`, `*.field`, `*`), reporting
/// a problem in `section`. Returns whether it is valid.
fn check_pattern(
    cx: &mut Cx<'_>,
    kind: &str,
    field: &str,
    path: &str,
    span: Range<usize>,
    section: &str,
) -> bool {
    if kind != "*" && !ENTITY_KINDS.contains(&kind) {
        cx.err(
            span,
            format!("unknown entity kind `{kind}` in field `{path}` in {section}"),
            Some(unknown_hint(kind, &ENTITY_KINDS)),
        );
        return false;
    }
    if field.is_empty()
        || field != "*"
            && !field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        cx.err(
            span,
            format!("invalid field name `{field}` in `{path}` in {section}"),
            Some("field names use letters, digits, `_`, `-` and `.`".into()),
        );
        return false;
    }
    true
}

fn read_resolvers(cx: &mut Cx<'_>, tbl: &Tbl<'_, '_>) -> BTreeMap<String, PluginRef> {
    let mut out = BTreeMap::new();
    let mut entries = Vec::new();
    flatten("", tbl.table, &mut entries);
    for (path, key_span, v) in entries {
        if path == "*" {
            cx.err(
                key_span,
                "the catch-all resolver goes in `resolver`, not [plugins.resolvers]".into(),
                Some("write `resolver = \"builtin:...\"` in [plugins]".into()),
            );
            continue;
        }
        let Some((kind, field)) = path.split_once('.') else {
            cx.err(
                key_span,
                format!("`{path}` in [plugins.resolvers] is not a field pattern"),
                Some("write `\"<entity>.<field>\" = \"builtin:<resolver>\"`, e.g. `\"inventory-level.quantity\" = \"builtin:counter-merge\"`".into()),
            );
            continue;
        };
        if !check_pattern(cx, kind, field, &path, key_span, "[plugins.resolvers]") {
            continue;
        }
        match v.get_ref() {
            DeValue::String(s) => {
                if let Some(r) = plugin_from_str(cx, s, v.span(), &path, "counter-merge") {
                    out.insert(path, r);
                }
            }
            _ => cx.type_err(
                tbl,
                &path,
                v,
                "a plugin name",
                &format!("\"{path}\" = \"builtin:counter-merge\""),
            ),
        }
    }
    out
}

/// `[policy]`; owners and `prefer-<system>` must name one of the store's `systems` (when the
/// systems could not be read, `systems` is empty and names are not checked).
fn read_policy(cx: &mut Cx<'_>, tbl: &Tbl<'_, '_>, systems: &[String]) -> PolicyConfig {
    let known = |name: &str| systems.is_empty() || systems.iter().any(|s| s == name);
    let names: Vec<&str> = systems.iter().map(String::as_str).collect();
    let mut policy = PolicyConfig::default();
    // Owners may be written `"price.price" = "netsuite"` or, unquoted, as nested tables; both
    // flatten to a dotted field path.
    let mut entries: Vec<(String, Range<usize>, &Value<'_>)> = Vec::new();
    flatten("", tbl.table, &mut entries);
    for (path, key_span, v) in entries {
        if path == "default" {
            match v.get_ref() {
                DeValue::String(s) => match ConflictPolicy::parse(s) {
                    Some(ConflictPolicy::Prefer(sys)) if !known(&sys) => cx.err(
                        v.span(),
                        format!(
                            "`{s}` in [policy] prefers `{sys}`, which is not a system of this store"
                        ),
                        Some(unknown_hint(&sys, &names)),
                    ),
                    Some(p) => policy.default = p,
                    None => {
                        let mut all: Vec<String> = ConflictPolicy::NAMES
                            .iter()
                            .map(|n| n.to_string())
                            .collect();
                        all.extend(systems.iter().map(|n| format!("prefer-{n}")));
                        let all: Vec<&str> = all.iter().map(String::as_str).collect();
                        cx.err(
                            v.span(),
                            format!("unknown conflict policy `{s}` in [policy]"),
                            Some(unknown_hint(s, &all)),
                        )
                    }
                },
                _ => cx.type_err(
                    tbl,
                    "default",
                    v,
                    "a string",
                    "default = \"last-write-wins\"",
                ),
            }
            continue;
        }
        if let Some(pattern) = path.strip_prefix("on_change.") {
            let pattern = pattern.to_owned();
            if pattern != "*" {
                let Some((kind, field)) = pattern.split_once('.') else {
                    cx.err(
                        key_span,
                        format!("`{pattern}` in [policy] on_change is not a field pattern"),
                        Some("write `\"<entity>.<field>\" = \"revert\"`; `<entity>.*`, `*.<field>` and `*` are wildcards".into()),
                    );
                    continue;
                };
                if !check_pattern(cx, kind, field, &pattern, key_span, "[policy] on_change") {
                    continue;
                }
            }
            match v.get_ref() {
                DeValue::String(s) => match ChangeAction::parse(s) {
                    Some(a) => {
                        policy.on_change.insert(pattern, a);
                    }
                    None => cx.err(
                        v.span(),
                        format!("unknown action `{s}` for `{pattern}` in [policy] on_change"),
                        Some(unknown_hint(s, &ChangeAction::NAMES)),
                    ),
                },
                _ => cx.type_err(
                    tbl,
                    &path,
                    v,
                    "one of revert, propose, accept",
                    &format!("on_change = {{ \"{pattern}\" = \"revert\" }}"),
                ),
            }
            continue;
        }
        if path == "on_change" {
            cx.err(
                key_span,
                "`on_change` in [policy] is a table of field patterns".into(),
                Some(
                    "write `on_change = { \"*\" = \"revert\", \"price.price\" = \"propose\" }`"
                        .into(),
                ),
            );
            continue;
        }
        let split = if path == "*" {
            Some(("*", "*"))
        } else {
            path.split_once('.')
        };
        let Some((kind, field)) = split else {
            let hint = match crate::diag::suggest(&path, &["default", "on_change"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "field owners are written `\"<entity>.<field>\" = \"<system>\"`, e.g. `\"price.price\" = \"netsuite\"`".into(),
            };
            cx.err(
                key_span,
                format!("unknown key `{path}` in [policy]"),
                Some(hint),
            );
            continue;
        };
        if !check_pattern(cx, kind, field, &path, key_span, "[policy]") {
            continue;
        }
        match v.get_ref() {
            DeValue::String(s) if known(s) => {
                policy.owners.insert(path, s.to_string());
            }
            DeValue::String(s) => cx.err(
                v.span(),
                format!("unknown system `{s}` as owner of `{path}` in [policy]"),
                Some(unknown_hint(s, &names)),
            ),
            _ => cx.type_err(
                tbl,
                &path,
                v,
                "a system name",
                &format!("\"{path}\" = \"netsuite\""),
            ),
        }
    }
    policy
}

/// `[stock]`: `owner` names one of the store's systems or is `"none"`; `buffer` is a count of
/// units.
fn read_stock(cx: &mut Cx<'_>, tbl: &Tbl<'_, '_>, systems: Option<&[SystemConfig]>) -> StockConfig {
    cx.check_keys(tbl, &STOCK_KEYS);
    let mut s = StockConfig::default();
    if let Some((owner, span)) = cx.string(tbl, "owner", "owner = \"netsuite\"") {
        if owner == "none" {
            s.owner = StockOwnerConfig::None;
        } else {
            match systems {
                Some(list) if !list.iter().any(|sys| sys.name == owner) => {
                    let names: Vec<&str> = list.iter().map(|sys| sys.name.as_str()).collect();
                    cx.err(
                        span,
                        format!("[stock] owner `{owner}` is not a system of this store"),
                        Some(format!(
                            "name one of {}, or `none` to count every system's stock changes",
                            crate::diag::list(&names)
                        )),
                    );
                }
                _ => s.owner = StockOwnerConfig::System(owner),
            }
        }
    }
    if let Some(n) = cx.integer_with(tbl, "buffer", 0, 1_000_000, "buffer = 2") {
        s.buffer = n;
    }
    s
}

fn read_schedule(cx: &mut Cx<'_>, tbl: &Tbl<'_, '_>) -> ScheduleConfig {
    cx.check_keys(tbl, &SCHEDULE_KEYS);
    let mut s = ScheduleConfig::default();
    let second = Duration::from_secs(1);
    if let Some(d) = cx.duration(tbl, "reconcile_interval", second) {
        s.reconcile_interval = d;
    }
    if let Some(d) = cx.duration(tbl, "cdc_interval", second) {
        s.cdc_interval = d;
    }
    if let Some(d) = cx.duration(tbl, "cdc_overlap", Duration::ZERO) {
        s.cdc_overlap = d;
    }
    if let Some(d) = cx.duration(tbl, "poll_overlap", Duration::ZERO) {
        s.poll_overlap = d;
    }
    if let Some((text, span)) =
        cx.string(tbl, "full_resync_cron", "full_resync_cron = \"0 3 * * *\"")
    {
        if text.trim().is_empty() || text.trim() == "never" {
            s.full_resync_cron = None;
        } else {
            match CronSchedule::parse(&text) {
                Ok(c) => s.full_resync_cron = Some(c),
                Err(e) => cx.err(
                    span,
                    format!("invalid cron expression `{text}` for `full_resync_cron` in [schedule]: {e}"),
                    Some("five fields: minute hour day-of-month month day-of-week, e.g. `0 3 * * *` (03:00 UTC daily), or `never`".into()),
                ),
            }
        }
    }
    if let Some((text, span)) = cx.string(tbl, "quiet_hours", "quiet_hours = \"01:00-05:00\"") {
        match QuietHours::parse(&text) {
            Ok(q) => s.quiet_hours = Some(q),
            Err(e) => cx.err(
                span,
                format!("invalid quiet hours `{text}` in [schedule]: {e}"),
                Some(
                    "a daily UTC window `HH:MM-HH:MM`, e.g. `01:00-05:00` or `22:00-06:00`".into(),
                ),
            ),
        }
    }
    s
}

fn read_store(
    cx: &mut Cx<'_>,
    root: &Tbl<'_, '_>,
    defaults: &PluginLimits,
    file: usize,
    platforms: &[&dyn PlatformSection],
    claims: &mut Vec<(usize, Claim)>,
) -> (Option<StoreConfig>, StoreSide) {
    let before = cx.diags.len();
    // A platform's name as a top-level table is the form before systems were named:
    // `[shopify]` reads as `[systems.shopify]` with `platform = "shopify"`.
    let mut file_keys = STORE_FILE_KEYS.to_vec();
    file_keys.extend(platforms.iter().map(|p| p.platform()));
    cx.check_keys(root, &file_keys);
    // A misspelt table (`[shopfy]`) was reported with a "did you mean": a count of systems that
    // misses it would only repeat it.
    let misspelt = root.table.iter().any(|(k, _)| {
        let k = k.get_ref().as_ref();
        !file_keys.contains(&k) && crate::diag::suggest(k, &file_keys).is_some()
    });
    let mut side = StoreSide { file, id: None };

    let mut name = None;
    let mut enabled = true;
    if let Some(t) = cx.sub_req(root, "store", "store") {
        cx.check_keys(&t, &STORE_KEYS);
        if let Some((id, span)) = cx.string_req(&t, "id", "id = \"acme\"") {
            match valid_store_id(&id) {
                Ok(()) => side.id = Some((id, span)),
                Err(e) => cx.err(
                    span,
                    e,
                    Some(format!(
                        "use lowercase letters, digits, `-` and `_`, starting with a letter or digit (e.g. `{}`)",
                        suggested_id(&id)
                    )),
                ),
            }
        }
        name = cx
            .string(&t, "name", "name = \"Acme Outdoor\"")
            .map(|(s, _)| s);
        if let Some(b) = cx.boolean(&t, "enabled", "enabled = true") {
            enabled = b;
        }
    }
    let id = side
        .id
        .as_ref()
        .map_or("?", |(s, _)| s.as_str())
        .to_string();

    let systems = read_systems(cx, root, &id, platforms, claims, file, misspelt);
    let system_names: Vec<String> = systems
        .as_ref()
        .map(|v| v.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();

    let before_policy = cx.diags.len();
    let policy_tbl = cx.sub(root, "policy", "policy");
    let policy = match &policy_tbl {
        Some(t) => read_policy(cx, t, &system_names),
        None => PolicyConfig::default(),
    };
    let policy_ok = cx.diags.len() == before_policy;
    let owner_rules = policy.owner_rules();

    let mut plugins = PluginsConfig {
        resolver: PluginRef::builtin(policy.stock_resolver()),
        ..PluginsConfig::default()
    };
    let mut resolver_span = None;
    if let Some(t) = cx.sub(root, "plugins", "plugins") {
        cx.check_keys(&t, &PLUGINS_KEYS);
        if let Some(m) = plugin_ref(cx, &t, "mapper", crate::model::DEFAULT_MAPPER) {
            plugins.mapper = m;
        }
        if let Some(r) = plugin_ref(cx, &t, "resolver", policy.stock_resolver()) {
            plugins.resolver = r;
            resolver_span = t.get("resolver").map(|v| v.span());
        }
        if let Some(r) = cx.sub(&t, "resolvers", "plugins.resolvers") {
            plugins.resolvers = read_resolvers(cx, &r);
        }
        if let Some(c) = cx.sub(&t, "config", "plugins.config") {
            for (k, v) in c.table.iter() {
                if k.get_ref() == "owners" && !owner_rules.is_empty() {
                    cx.err(
                        k.span(),
                        "`owners` in [plugins.config] clashes with the field owners in [policy]".into(),
                        Some("weft passes [policy] to the resolver as `owners`; write them in one place, [policy]".into()),
                    );
                    continue;
                }
                if let Some(j) = json_of(cx, v) {
                    plugins.config.insert(k.get_ref().to_string(), j);
                }
            }
        }
    }

    // The stock resolvers each read a different policy; catch a combination that would fail
    // every conflict at run time, or silently ignore the owners.
    if let (PluginSource::Builtin(name), true) = (&plugins.resolver.source, policy_ok) {
        let at = resolver_span
            .clone()
            .or_else(|| policy_tbl.as_ref().map(|t| t.span.clone()))
            .unwrap_or(0..0);
        if name == "system-of-record" && !owner_rules.contains_key("*") {
            cx.err(
                at,
                "the `system-of-record` resolver needs an owner for every field, but [policy] has no catch-all".into(),
                Some(format!(
                    "set `default = \"prefer-<system>\"` in [policy], or add `\"*\" = \"<system>\"` (systems of this store: {})",
                    crate::diag::list(&system_names.iter().map(String::as_str).collect::<Vec<_>>())
                )),
            );
        } else if (name == "last-write-wins" || name == "counter-merge")
            && !policy.owners.is_empty()
            && !plugins.resolvers.values().any(|r| match &r.source {
                PluginSource::Builtin(n) => n == "system-of-record",
                PluginSource::File(_) => true,
            })
        {
            cx.err(
                at,
                format!("the `{name}` resolver ignores the field owners in [policy]"),
                Some("use `resolver = \"builtin:system-of-record\"`, or remove the owners".into()),
            );
        }
    }
    let limits = match cx.sub(root, "limits", "limits") {
        Some(t) => {
            // wasmtime sets the stack limit per engine: one value for the whole host.
            if let Some((k, _)) = t.table.get_key_value("stack_kb") {
                cx.err(
                    k.span(),
                    "`stack_kb` cannot be set per store: the Wasm stack limit is host-wide".into(),
                    Some("set `stack_kb` in [runtime.limits] of the host file".into()),
                );
            }
            defaults.with_overrides(&cx.limits(&t))
        }
        None => *defaults,
    };
    let schedule = match cx.sub(root, "schedule", "schedule") {
        Some(t) => read_schedule(cx, &t),
        None => ScheduleConfig::default(),
    };

    let stock = match cx.sub(root, "stock", "stock") {
        Some(t) => read_stock(cx, &t, systems.as_deref()),
        None => StockConfig::default(),
    };

    let deletes = match cx.sub(root, "deletes", "deletes") {
        Some(t) => crate::deletes::read_deletes(cx, &t),
        None => crate::DeletesConfig::default(),
    };

    if cx.diags.len() != before {
        return (None, side);
    }
    let (Some((id, _)), Some(systems)) = (side.id.clone(), systems) else {
        return (None, side);
    };
    let store = StoreConfig {
        name: name.unwrap_or_else(|| id.clone()),
        id,
        enabled,
        file: cx.src.path.clone(),
        systems,
        plugins,
        policy,
        limits,
        schedule,
        stock,
        deletes,
    };
    (Some(store), side)
}

/// A system's table as found in a store file: its name, the name's span, the table's path, the
/// table and its span, and whether it is a platform's own top-level table.
type Found<'a, 'i> = (
    String,
    Range<usize>,
    String,
    &'a DeTable<'i>,
    Range<usize>,
    bool,
);

/// A store's systems: every `[systems.<name>]` table, plus a platform's own top-level table
/// (`[shopify]`, the form before systems were named). Each is read by the platform it names.
/// `None` when any could not be read, or when fewer than two are listed.
fn read_systems(
    cx: &mut Cx<'_>,
    root: &Tbl<'_, '_>,
    store: &str,
    platforms: &[&dyn PlatformSection],
    claims: &mut Vec<(usize, Claim)>,
    file: usize,
    misspelt: bool,
) -> Option<Vec<SystemConfig>> {
    let before = cx.diags.len();
    let platform_names: Vec<&str> = platforms.iter().map(|p| p.platform()).collect();
    // (name, the name's span, table path, the table and its span, platform implied by the name)
    let mut found: Vec<Found<'_, '_>> = Vec::new();
    for p in &platform_names {
        if let Some(v) = root.get(p) {
            match v.get_ref() {
                DeValue::Table(t) => {
                    found.push((p.to_string(), v.span(), p.to_string(), t, v.span(), true))
                }
                _ => cx.type_err(root, p, v, "a table", &format!("[systems.{p}]")),
            }
        }
    }
    let example = format!(
        "[systems.<name>] with `platform = \"<platform>\"`; this build knows {}",
        crate::diag::list(&platform_names)
    );
    if let Some(v) = root.get("systems") {
        match v.get_ref() {
            DeValue::Table(t) => {
                for (k, sv) in t.iter() {
                    let name = k.get_ref().to_string();
                    match sv.get_ref() {
                        DeValue::Table(st) => found.push((
                            name.clone(),
                            k.span(),
                            format!("systems.{name}"),
                            st,
                            sv.span(),
                            false,
                        )),
                        _ => cx.err(
                            sv.span(),
                            format!(
                                "`{name}` in [systems] must be a table, found {}",
                                type_name(sv.get_ref())
                            ),
                            Some(format!("write each system as {example}")),
                        ),
                    }
                }
            }
            _ => cx.type_err(root, "systems", v, "a table of systems", "[systems.erp]"),
        }
    }
    found.sort_by_key(|f| f.4.start);

    let mut systems: Vec<SystemConfig> = Vec::new();
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    for (name, name_span, path, table, span, legacy) in &found {
        let tbl = Tbl {
            path,
            table,
            span: span.clone(),
        };
        if let Err(e) = valid_name("system name", name) {
            cx.err(
                name_span.clone(),
                e,
                Some("use lowercase letters, digits, `-` and `_`, e.g. `[systems.shop-eu]`".into()),
            );
            continue;
        }
        if let Some(first) = seen.get(name) {
            let first = cx.src.origin(first);
            cx.diags.push(
                cx.src
                    .error(
                        name_span.clone(),
                        format!("system `{name}` is configured twice in store `{store}`"),
                    )
                    .with_note(format!("first configured at {first}"))
                    .with_hint("give each system its own name under [systems]"),
            );
            continue;
        }
        seen.insert(name.clone(), name_span.clone());
        let platform = match cx.string(&tbl, "platform", "platform = \"netsuite\"") {
            Some((p, pspan)) => match platforms.iter().find(|s| s.platform() == p) {
                Some(section) if !*legacy || p == *name => Some((*section, p)),
                Some(_) => {
                    cx.err(
                        pspan,
                        format!("[{name}] is the `{name}` platform's section; `platform = \"{p}\"` contradicts it"),
                        Some(format!("write it as `[systems.{name}]` with `platform = \"{p}\"`")),
                    );
                    None
                }
                None => {
                    cx.err(
                        pspan,
                        format!("unknown platform `{p}` for system `{name}`"),
                        Some(unknown_hint(&p, &platform_names)),
                    );
                    None
                }
            },
            None if tbl.get("platform").is_some() => None,
            None => match platforms.iter().find(|s| s.platform() == name) {
                Some(section) => Some((*section, name.clone())),
                None => {
                    cx.err(
                        span.clone(),
                        format!("missing required key `platform` in [{path}]"),
                        Some(format!(
                            "add `platform = \"<platform>\"`; this build knows {}",
                            crate::diag::list(&platform_names)
                        )),
                    );
                    None
                }
            },
        };
        let Some((section, platform)) = platform else {
            continue;
        };
        let mut s = Section {
            cx: &mut *cx,
            tbl: &tbl,
            store,
            system: name,
            platform: section.platform(),
            claims: &mut *claims,
            file,
        };
        if let Some(settings) = section.read(&mut s) {
            systems.push(SystemConfig {
                name: name.clone(),
                platform,
                settings,
            });
        }
    }
    if cx.diags.len() != before {
        return None;
    }
    if systems.len() < 2 {
        if misspelt {
            return None;
        }
        let listed = match systems.as_slice() {
            [] => "no system".to_string(),
            [one] => format!("one system (`{}`)", one.name),
            _ => unreachable!(),
        };
        let at = root.get("systems").map_or(0..0, |v| v.span());
        cx.err(
            at,
            format!("store `{store}` lists {listed}; a store syncs two or more"),
            Some(format!(
                "add each system as {example}, e.g. `[systems.erp]` with `platform = \"netsuite\"`"
            )),
        );
        return None;
    }
    Some(systems)
}

/// Reads and parses one file; syntax errors are reported and yield `None`.
fn parse_file(path: &Path, seq: usize, diags: &mut Diagnostics) -> Option<SourceFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(SourceFile::new(path.to_path_buf(), text, seq)),
        Err(e) => {
            let mut d =
                Diagnostic::file_level(path, format!("cannot read `{}`: {e}", path.display()));
            if e.kind() == std::io::ErrorKind::NotFound {
                d = d.with_hint(
                    "check the path; relative paths are resolved against the file that names them",
                );
            }
            diags.push(d);
            None
        }
    }
}

fn syntax_errors(src: &SourceFile, errors: Vec<toml::de::Error>, diags: &mut Diagnostics) {
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let mut d = src
            .error(
                span,
                format!("invalid TOML: {}", e.message().trim_end_matches('.')),
            )
            .with_hint("see https://toml.io for the syntax");
        d.mask_secretish_line();
        diags.push(d);
    }
}

/// Loads the host file and every store file it names, validating everything and collecting
/// every problem. Relative paths resolve against the file that names them. `platforms` are the
/// platforms this build knows: each reads the sections of the systems that name it.
pub fn load(
    host_file: impl AsRef<Path>,
    platforms: &[&dyn PlatformSection],
) -> Result<Config, Diagnostics> {
    let host_path = host_file.as_ref();
    let mut diags = Diagnostics::new();
    let Some(host_src) = parse_file(host_path, 0, &mut diags) else {
        return Err(diags);
    };
    let (host_doc, errors) = DeTable::parse_recoverable(&host_src.text);
    let host_syntax_ok = errors.is_empty();
    syntax_errors(&host_src, errors, &mut diags);
    let root = Tbl {
        path: "",
        table: host_doc.get_ref(),
        span: 0..0,
    };
    // After a syntax error the recovered document may hold placeholders: read it anyway to find
    // the store files, but report only the syntax errors for this file.
    let mut host_diags = Diagnostics::new();
    let host = read_host(
        &mut Cx {
            src: &host_src,
            diags: &mut host_diags,
        },
        &root,
    );
    if host_syntax_ok {
        diags.extend(host_diags);
    }

    let mut files: Vec<(PathBuf, NamedAt)> = Vec::new();
    match &host.stores {
        StoreFiles::List(list) => {
            for (p, span) in list {
                files.push((p.clone(), Some((0, span.clone()))));
            }
        }
        StoreFiles::Dir { path, span } => match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.extension().is_some_and(|e| e == "toml")
                            && p.file_name()
                                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                            && p.is_file()
                    })
                    .collect();
                found.sort();
                files.extend(found.into_iter().map(|p| (p, None)));
            }
            Err(e) => {
                let msg = format!("cannot read store directory `{}`: {e}", path.display());
                let hint = "create it with one `<store-id>.toml` per store, set `stores_dir`, or list files in `stores = [...]`";
                let d = match span {
                    Some(span) => host_src.error(span.clone(), msg),
                    None => Diagnostic::file_level(host_path, msg),
                };
                diags.push(d.with_hint(hint));
            }
        },
    }

    let mut sources = vec![host_src];
    let mut stores = Vec::new();
    let mut sides = Vec::new();
    let mut claims = Vec::new();
    for (path, named_at) in files {
        let seq = sources.len();
        let Some(src) = (match std::fs::read_to_string(&path) {
            Ok(text) => Some(SourceFile::new(path.clone(), text, seq)),
            Err(e) => {
                let msg = format!("cannot read store file `{}`: {e}", path.display());
                let d = match &named_at {
                    Some((file, span)) => sources[*file].error(span.clone(), msg),
                    None => Diagnostic::file_level(&path, msg),
                };
                diags.push(d.with_hint("paths in `stores` are relative to the host file"));
                None
            }
        }) else {
            continue;
        };
        let (doc, errors) = DeTable::parse_recoverable(&src.text);
        if !errors.is_empty() {
            syntax_errors(&src, errors, &mut diags);
            sources.push(src);
            continue;
        }
        let root = Tbl {
            path: "",
            table: doc.get_ref(),
            span: 0..0,
        };
        let (store, side) = read_store(
            &mut Cx {
                src: &src,
                diags: &mut diags,
            },
            &root,
            &host.runtime.limits,
            seq,
            platforms,
            &mut claims,
        );
        stores.extend(store);
        sides.push(side);
        sources.push(src);
    }

    cross_checks(&sources, &sides, &claims, &mut diags);

    if diags.is_empty() {
        Ok(Config {
            host_file: host_path.to_path_buf(),
            cluster: host.cluster,
            console: host.console,
            server: host.server,
            storage: host.storage,
            runtime: host.runtime,
            log: host.log,
            privacy: host.privacy,
            stores,
        })
    } else {
        diags.finish();
        Err(diags)
    }
}

/// Checks across store files: unique store ids, and what platforms claimed (a shop configured
/// once, one concurrency limit per NetSuite account).
fn cross_checks(
    sources: &[SourceFile],
    sides: &[StoreSide],
    claims: &[(usize, Claim)],
    diags: &mut Diagnostics,
) {
    let mut ids: HashMap<&str, (usize, Range<usize>)> = HashMap::new();
    for side in sides {
        let src = &sources[side.file];
        if let Some((id, span)) = &side.id {
            match ids.get(id.as_str()) {
                Some((f, first)) => diags.push(
                    src.error(span.clone(), format!("duplicate store id `{id}`"))
                        .with_note(format!("first defined at {}", sources[*f].origin(first)))
                        .with_hint("every store needs its own id; rename one of them"),
                ),
                None => {
                    ids.insert(id, (side.file, span.clone()));
                }
            }
        }
    }
    let mut unique: HashMap<(&str, &str, &str), (usize, &Range<usize>)> = HashMap::new();
    // (platform, scope, key) -> (value, file, span) of the first system that set it.
    type Agreed<'c> = HashMap<(&'c str, &'c str, &'c str), (&'c str, usize, &'c Range<usize>)>;
    let mut agree: Agreed<'_> = HashMap::new();
    for (file, claim) in claims {
        let src = &sources[*file];
        match claim {
            Claim::Unique {
                platform,
                what,
                value,
                hint,
                span,
            } => match unique.get(&(*platform, what.as_str(), value.as_str())) {
                Some((f, first)) => diags.push(
                    src.error(
                        span.clone(),
                        format!("{what} `{value}` is configured by two systems"),
                    )
                    .with_note(format!("first configured at {}", sources[*f].origin(first)))
                    .with_hint(hint.clone()),
                ),
                None => {
                    unique.insert((platform, what, value), (*file, span));
                }
            },
            Claim::Agree {
                platform,
                scope,
                key,
                value,
                hint,
                span,
            } => match agree.get(&(*platform, scope.as_str(), key.as_str())) {
                Some((other, f, first)) if other != value => diags.push(
                    src.error(
                        span.clone(),
                        format!("{scope} has {key} {value} here but {other} elsewhere"),
                    )
                    .with_note(format!("set to {other} at {}", sources[*f].origin(first)))
                    .with_hint(hint.clone()),
                ),
                Some(_) => {}
                None => {
                    agree.insert((platform, scope, key), (value, *file, span));
                }
            },
        }
    }
}
