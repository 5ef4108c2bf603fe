//! Runtime-wide configuration ([`RuntimeConfig`]) and per-store limits ([`Limits`]).
//!
//! Limits are serde-deserializable so a store's config file can set them; every field has a safe
//! default and unknown keys are rejected. Durations accept integer milliseconds or a string with a
//! unit (`"250ms"`, `"2s"`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// The default fuel budget of one call (see [`RuntimeConfig::default_fuel`]).
pub const DEFAULT_FUEL: u64 = 2_000_000_000;

/// The limits one store's plugin calls run under. One batch call gets a fresh instance bounded by
/// all of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-time budget of one batch call, instantiation included (enforced with epochs).
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Instruction budget (wasmtime fuel) per batch call; deterministic, unlike `timeout`, so a
    /// call that fits passes however loaded the machine is. Fuel is metered on every call;
    /// `None` means the runtime's [`RuntimeConfig::default_fuel`].
    pub fuel: Option<u64>,
    /// Linear memory cap of one instance, in bytes.
    pub memory_bytes: u64,
    /// Wasm stack cap, in bytes. Wasmtime sets this per engine, so the runtime's
    /// `max_stack_bytes` applies to every store; a store's value is reported, and the effective
    /// value is the engine's (see [`crate::Runtime::effective_limits`]).
    pub stack_bytes: u64,
    /// Cap on the input of one call: the sum of the JSON text and ids sent in.
    pub max_input_bytes: u64,
    /// Cap on the output of one call: the sum of the text the plugin returns.
    pub max_output_bytes: u64,
    /// Cap on the log text one call may keep (lines past it are counted, not kept).
    pub max_log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(2),
            fuel: None,
            memory_bytes: 64 * MIB,
            stack_bytes: 512 * KIB,
            max_input_bytes: 8 * MIB,
            max_output_bytes: 8 * MIB,
            max_log_bytes: 16 * KIB,
        }
    }
}

/// How the runtime itself is set up (one per process).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Where precompiled components are kept, so a restart does not recompile. `None` keeps them
    /// in memory only.
    pub cache_dir: Option<PathBuf>,
    /// How many plugin instances may be live at once (the pooling allocator's slots). Calls past
    /// this wait for a free slot.
    pub max_instances: u32,
    /// The largest `memory_bytes` any store may ask for (the size of a pool memory slot).
    pub max_memory_bytes: u64,
    /// The wasm stack cap for every store (wasmtime sets it per engine).
    pub max_stack_bytes: u64,
    /// How often the epoch ticker advances; the granularity of `Limits::timeout`.
    #[serde(with = "duration_text")]
    pub epoch_tick: Duration,
    /// The fuel (instruction) budget of a call whose store sets no `Limits::fuel`. Fuel is
    /// always metered: it is the deterministic limit (the same call passes or fails the same way
    /// under any load), and `Limits::timeout` stays as the wall-clock backstop. The default is
    /// sized so that a call that uses all of it takes a fraction of the default 2 s timeout on
    /// an idle machine (see README, "Limits").
    pub default_fuel: u64,
    /// The largest component accepted, in bytes (checked before compiling).
    pub max_component_bytes: u64,
    /// How long compiling one component of up to [`COMPILE_BUDGET_UNIT`] (2 MiB) may take; a
    /// larger component gets this much per started 2 MiB ([`RuntimeConfig::compile_budget`]):
    /// compile time grows with code size, and a Python or JavaScript plugin carries its
    /// interpreter (12 to 19 MiB; 53 s and 71 s to compile on a busy 2-core machine), so a flat
    /// budget would refuse it.
    /// Compilation runs on its own thread; past the budget the load fails with
    /// `PluginError::CompileTimeout` and the thread is abandoned (Cranelift cannot be
    /// interrupted: it finishes in the background and its result is dropped, never cached).
    #[serde(with = "duration_text")]
    pub compile_timeout: Duration,
    /// How many compilations may run at once (abandoned ones count until they finish); a load
    /// waits for a slot within its `compile_timeout`.
    pub max_concurrent_compiles: usize,
    /// The most commands one write request may produce (`from-canonical`).
    pub max_commands_per_request: usize,
    /// The deepest nesting of arrays/objects accepted in JSON text a plugin returns.
    pub max_json_depth: usize,
    /// The most log records one call keeps (on top of the `max_log_bytes` budget).
    pub max_log_records: u64,
    /// Use the pooling instance allocator (falls back to on-demand allocation, with a warning,
    /// when the address space cannot be reserved).
    pub pooling: bool,
    /// Bytes of each pooled memory slot kept resident between instances (zeroed in place
    /// instead of returned to the kernel): fewer page faults per call, more resident memory.
    pub keep_resident_bytes: u64,
    /// Limits for stores that set none.
    pub default_limits: Limits,
    /// Seed of the randomness plugins see (`wasi:random`); fixed so runs are deterministic.
    pub random_seed: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_instances: 1000,
            max_memory_bytes: 256 * MIB,
            max_stack_bytes: 512 * KIB,
            epoch_tick: Duration::from_millis(5),
            default_fuel: DEFAULT_FUEL,
            max_component_bytes: 32 * MIB,
            compile_timeout: Duration::from_secs(30),
            max_concurrent_compiles: 2,
            max_commands_per_request: 16,
            max_json_depth: 64,
            max_log_records: 256,
            pooling: true,
            keep_resident_bytes: 2 * MIB,
            default_limits: Limits::default(),
            random_seed: 0x5EED_0F5E,
        }
    }
}

/// The component size each [`RuntimeConfig::compile_timeout`] covers.
pub const COMPILE_BUDGET_UNIT: u64 = 2 * MIB;

impl RuntimeConfig {
    /// The compile budget of a component of `bytes`: `compile_timeout` per started
    /// [`COMPILE_BUDGET_UNIT`] (at least one; at most `max_component_bytes` / unit of them).
    pub fn compile_budget(&self, bytes: u64) -> Duration {
        let units = bytes.div_ceil(COMPILE_BUDGET_UNIT).max(1);
        let cap = self
            .max_component_bytes
            .div_ceil(COMPILE_BUDGET_UNIT)
            .max(1);
        self.compile_timeout
            .saturating_mul(units.min(cap).min(u32::MAX as u64) as u32)
    }
}

/// Serde for durations as integer milliseconds or text with a unit (`ms`, `s`, `m`).
pub(crate) mod duration_text {
    use std::time::Duration;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
            Raw::Text(t) => parse(&t).map_err(D::Error::custom),
        }
    }

    /// `1500ms` -> 1.5 s; `2s`; `1m`; a bare number is milliseconds.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
            Some(i) => (&t[..i], t[i..].trim()),
            None => (t, "ms"),
        };
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: expected e.g. `500ms` or `2s`"))?;
        let secs = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            _ => {
                return Err(format!(
                    "invalid duration unit in `{text}`: use `ms`, `s` or `m`"
                ));
            }
        };
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("invalid duration `{text}`"));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    /// The shortest exact text for `d`: `2s`, `250ms`, `1.5ms`.
    pub fn format(d: Duration) -> String {
        if d.subsec_nanos() == 0 {
            format!("{}s", d.as_secs())
        } else if d.as_nanos().is_multiple_of(1_000_000) {
            format!("{}ms", d.as_millis())
        } else {
            format!("{}ms", d.as_secs_f64() * 1000.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_toml_like_json_with_units_and_defaults() {
        let l: Limits =
            serde_json::from_str(r#"{"timeout": "250ms", "memory_bytes": 1048576}"#).unwrap();
        assert_eq!(l.timeout, Duration::from_millis(250));
        assert_eq!(l.memory_bytes, 1 << 20);
        assert_eq!(l.max_log_bytes, Limits::default().max_log_bytes);
        let l: Limits = serde_json::from_str(r#"{"timeout": 1500}"#).unwrap();
        assert_eq!(l.timeout, Duration::from_millis(1500));
        let back: Limits = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn limits_reject_unknown_keys_and_bad_units() {
        let err = serde_json::from_str::<Limits>(r#"{"timeout_ms": 5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<Limits>(r#"{"timeout": "5 fortnights"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid duration unit"), "{err}");
    }

    #[test]
    fn the_compile_budget_grows_with_the_component() {
        let c = RuntimeConfig::default();
        assert_eq!(c.compile_budget(300 * KIB), Duration::from_secs(30));
        assert_eq!(c.compile_budget(2 * MIB), Duration::from_secs(30));
        assert_eq!(c.compile_budget(2 * MIB + 1), Duration::from_secs(60));
        // A Python plugin (CPython inside, ~17.7 MiB): nine units.
        assert_eq!(c.compile_budget(18_535_721), Duration::from_secs(270));
        // Never more than the largest accepted component's.
        assert_eq!(c.compile_budget(u64::MAX), Duration::from_secs(480));
    }

    #[test]
    fn durations_format_exactly() {
        assert_eq!(duration_text::format(Duration::from_secs(2)), "2s");
        assert_eq!(duration_text::format(Duration::from_millis(250)), "250ms");
        assert_eq!(
            duration_text::parse("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
    }
}
