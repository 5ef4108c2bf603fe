//! What a plugin call can see of its surroundings: the store's plugin config and a log.
//!
//! On `wasm32` both go through the host imports (`host.config`, `host.log`); natively the config
//! is a JSON map and log lines are captured, with the host's bounds, for the test harness.

use crate::types::Level;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::cell::{Cell, RefCell};

/// A log line is cut at this many bytes (the host's bound).
pub const MAX_LOG_LINE: usize = 1024;
/// A call's total log output is cut at this many bytes (each line's text plus
/// [`LOG_RECORD_OVERHEAD`]); later lines are counted, not kept.
pub const MAX_LOG_TOTAL: usize = 16 * 1024;
/// What each line costs against [`MAX_LOG_TOTAL`] on top of its text (the host's bound: empty
/// lines are not free).
pub const LOG_RECORD_OVERHEAD: usize = 64;
/// The most lines one call keeps (the host's default `max_log_records`).
pub const MAX_LOG_RECORDS: usize = 256;

/// A store config value that is missing or has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config key `{key}`: {message}")]
pub struct ConfigError {
    /// The `[plugin.config]` key.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// Builds an error for `key`.
    pub fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl From<ConfigError> for crate::PluginError {
    fn from(e: ConfigError) -> Self {
        crate::PluginError::Config(e.to_string())
    }
}

impl From<ConfigError> for crate::ItemError {
    fn from(e: ConfigError) -> Self {
        crate::ItemError::Config(e.to_string())
    }
}

enum ConfigSource {
    Map(serde_json::Map<String, Value>),
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    Host(fn(&str) -> Option<String>),
}

/// The context of one plugin call: config lookups and logging.
pub struct Context {
    config: ConfigSource,
}

impl Context {
    /// A context whose config is this JSON object (how the host sees `[plugin.config]`, after
    /// TOML is turned into JSON). Non-object values give an empty config.
    pub fn native(config: Value) -> Context {
        let map = match config {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        Context {
            config: ConfigSource::Map(map),
        }
    }

    /// A context that reads config through a host import (used by the wasm export glue).
    #[doc(hidden)]
    pub fn from_host(config: fn(&str) -> Option<String>) -> Context {
        Context {
            config: ConfigSource::Host(config),
        }
    }

    /// Reads config key `key` as `T`; `Ok(None)` when the key is absent or `null`.
    pub fn config<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        let value = match &self.config {
            ConfigSource::Map(map) => map.get(key).cloned(),
            ConfigSource::Host(read) => match read(key) {
                None => None,
                Some(text) => Some(serde_json::from_str::<Value>(&text).map_err(|e| {
                    ConfigError::new(key, format!("host returned invalid JSON: {e}"))
                })?),
            },
        };
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| ConfigError::new(key, e.to_string())),
        }
    }

    /// Reads config key `key` as `T`, or `default` when it is absent.
    pub fn config_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        Ok(self.config(key)?.unwrap_or(default))
    }

    /// Reads config key `key` as `T`; an error when it is absent.
    pub fn require_config<T: DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        self.config(key)?
            .ok_or_else(|| ConfigError::new(key, "is required but not set"))
    }

    /// Writes one log line (see the `info!` family of macros for formatting).
    pub fn log(&self, level: Level, message: &str) {
        write_log(level, message);
    }
}

/// One captured log line (native runs only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Severity.
    pub level: Level,
    /// The text, escaped as the host escapes it (newlines and other control characters as
    /// `\\n`, `\\u{..}`), cut at [`MAX_LOG_LINE`] bytes.
    pub message: String,
}

/// Escapes a message as the host does before keeping it: no line break or other control
/// character survives, so a message cannot forge a log line.
pub(crate) fn escape_log(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The log lines of one call, bounded as the host bounds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedLog {
    /// Kept lines.
    pub lines: Vec<LogLine>,
    /// Lines dropped because the call's total passed [`MAX_LOG_TOTAL`].
    pub dropped: usize,
    bytes: usize,
}

impl CapturedLog {
    fn push(&mut self, level: Level, message: &str) {
        let escaped = escape_log(message);
        let cut = truncate_utf8(&escaped, MAX_LOG_LINE);
        let cost = cut.len() + LOG_RECORD_OVERHEAD;
        if self.lines.len() >= MAX_LOG_RECORDS || self.bytes + cost > MAX_LOG_TOTAL {
            self.dropped += 1;
            return;
        }
        self.bytes += cost;
        self.lines.push(LogLine {
            level,
            message: cut.to_owned(),
        });
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A host log import.
type HostLog = fn(Level, &str);

thread_local! {
    static HOST_LOG: Cell<Option<HostLog>> = const { Cell::new(None) };
    static CAPTURED: RefCell<CapturedLog> = RefCell::new(CapturedLog::default());
}

/// Routes log lines to a host import (used by the wasm export glue).
#[doc(hidden)]
pub fn set_host_log(sink: HostLog) {
    HOST_LOG.with(|h| h.set(Some(sink)));
}

/// Writes one log line: to the host on wasm, to the per-thread capture natively.
pub fn write_log(level: Level, message: &str) {
    match HOST_LOG.with(|h| h.get()) {
        Some(sink) => sink(level, message),
        None => CAPTURED.with(|c| c.borrow_mut().push(level, message)),
    }
}

/// Takes and clears the log lines captured on this thread (native runs).
pub fn take_captured_log() -> CapturedLog {
    CAPTURED.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_reads_typed_values_and_reports_bad_ones() {
        let cx = Context::native(json!({"prefix": "WEB-", "limit": 5, "nothing": null}));
        assert_eq!(
            cx.config::<String>("prefix").unwrap(),
            Some("WEB-".to_owned())
        );
        assert_eq!(cx.config::<u32>("limit").unwrap(), Some(5));
        assert_eq!(cx.config::<u32>("nothing").unwrap(), None);
        assert_eq!(cx.config::<u32>("absent").unwrap(), None);
        assert_eq!(cx.config_or("absent", 7u32).unwrap(), 7);
        let err = cx.config::<u32>("prefix").unwrap_err();
        assert_eq!(err.key, "prefix");
        assert!(
            err.to_string()
                .starts_with("config key `prefix`: invalid type")
        );
        let err = cx.require_config::<String>("absent").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config key `absent`: is required but not set"
        );
    }

    #[test]
    fn host_config_source_parses_json_text() {
        fn read(key: &str) -> Option<String> {
            match key {
                "a" => Some("{\"x\": 1}".to_owned()),
                "bad" => Some("{".to_owned()),
                _ => None,
            }
        }
        let cx = Context::from_host(read);
        let v: Value = cx.config("a").unwrap().unwrap();
        assert_eq!(v, json!({"x": 1}));
        assert!(cx.config::<Value>("missing").unwrap().is_none());
        let err = cx.config::<Value>("bad").unwrap_err();
        assert!(err.message.contains("host returned invalid JSON"), "{err}");
    }

    #[test]
    fn captured_log_applies_the_host_bounds() {
        take_captured_log();
        let long = "é".repeat(MAX_LOG_LINE);
        write_log(Level::Info, &long);
        let log = take_captured_log();
        assert_eq!(log.lines.len(), 1);
        assert!(log.lines[0].message.len() <= MAX_LOG_LINE);
        assert!(log.lines[0].message.chars().all(|c| c == 'é'));

        let line = "x".repeat(1000);
        for _ in 0..20 {
            write_log(Level::Debug, &line);
        }
        let log = take_captured_log();
        let fit = MAX_LOG_TOTAL / (1000 + LOG_RECORD_OVERHEAD);
        assert_eq!(log.lines.len(), fit);
        assert_eq!(log.dropped, 20 - fit);

        for _ in 0..1000 {
            write_log(Level::Debug, "");
        }
        let log = take_captured_log();
        assert_eq!(log.lines.len(), MAX_LOG_TOTAL / LOG_RECORD_OVERHEAD);
        assert_eq!(log.dropped, 1000 - MAX_LOG_TOTAL / LOG_RECORD_OVERHEAD);

        write_log(Level::Info, "ok\nforged line\r\u{1b}[0m");
        let log = take_captured_log();
        assert_eq!(log.lines[0].message, "ok\\nforged line\\r\\u{1b}[0m");
    }
}
