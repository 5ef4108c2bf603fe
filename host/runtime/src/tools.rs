//! The logic of `weft plugin check` and `weft plugin test`, as library functions (the CLI wires
//! them to clap and sets the exit code).
//!
//! Fixture format (documented in `host/runtime/README.md`): in a directory, each case is a pair
//! `<name>.input.json` + `<name>.expected.json`. The input names the call, the store config and
//! limits, and the input batch; the expected file is the output batch, or an expected error.
//! JSON-text fields (`body`, `fields`, `current`, `value`, `base`) may be written as JSON values
//! in fixtures; they are turned into text before the call and parsed back before comparing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Limits;
use crate::engine::Runtime;
use crate::error::PluginError;
use crate::plugin::{LoadSource, Plugin, Role, StoreCtx};
use crate::types::{FieldChange, PlatformDoc, PluginInfo, WriteRequest};

/// Why a tool could not run at all (as opposed to a plugin failing a check or a fixture).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The fixtures directory holds no `*.input.json` files.
    #[error("no fixtures (`<name>.input.json`) in {0}")]
    NoFixtures(PathBuf),
    /// The plugin runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::error::RuntimeError),
    /// The plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// What `weft plugin check` prints.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The component file.
    pub path: PathBuf,
    /// Size of the component, in bytes.
    pub size_bytes: u64,
    /// Full sha256 of the component.
    pub sha256: String,
    /// Which roles it exports.
    pub role: Role,
    /// What it says about itself.
    pub info: PluginInfo,
    /// Its exports.
    pub exports: Vec<String>,
    /// Its imports (weft:plugin/host and WASI 0.2 only, or it would not have loaded).
    pub imports: Vec<String>,
    /// The limits it would run under by default.
    pub limits: Limits,
    /// Whether it was compiled or taken from the cache, and how long loading took.
    pub load: LoadSource,
    /// Load time in milliseconds.
    pub load_ms: f64,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.limits;
        writeln!(f, "{}: ok", self.path.display())?;
        writeln!(
            f,
            "  plugin    {} {} — {}",
            self.info.name, self.info.version, self.info.description
        )?;
        writeln!(f, "  role      {:?}", self.role)?;
        writeln!(
            f,
            "  size      {} bytes, sha256 {}",
            self.size_bytes, self.sha256
        )?;
        writeln!(f, "  exports   {}", self.exports.join(", "))?;
        writeln!(f, "  imports   {}", self.imports.join(", "))?;
        writeln!(
            f,
            "  limits    timeout {}, fuel {}, memory {} B, stack {} B, input {} B, output {} B, log {} B",
            crate::config::duration_text::format(l.timeout),
            l.fuel.map_or("off".to_string(), |f| f.to_string()),
            l.memory_bytes,
            l.stack_bytes,
            l.max_input_bytes,
            l.max_output_bytes,
            l.max_log_bytes
        )?;
        write!(f, "  load      {:?} in {:.1} ms", self.load, self.load_ms)
    }
}

/// Loads a component, validates it against the WIT contract, calls each export it has once
/// with an empty batch (a plugin that panics, runs out of memory or answers wrongly even then
/// fails the check), and reports what it is. Every guest execution runs on the runtime's guest
/// threads, so this is safe to call from async context.
pub fn check(runtime: &Runtime, path: &Path) -> Result<CheckReport, ToolError> {
    let max = runtime.config().max_component_bytes;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > max
    {
        return Err(ToolError::Plugin(PluginError::TooLarge {
            plugin: crate::error::PluginRef {
                name: file_name(path),
                hash: "-".into(),
            },
            limit: max,
            actual: meta.len(),
        }));
    }
    let bytes = std::fs::read(path).map_err(|source| ToolError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let plugin = runtime.load(&file_name(path), &bytes)?;
    let ctx = StoreCtx {
        store_id: "plugin-check".into(),
        config: Default::default(),
        limits: runtime.config().default_limits.clone(),
    };
    if plugin.role() != Role::Resolver {
        let m = runtime.mapper(&plugin, ctx.clone())?;
        m.to_canonical(&[])?;
        m.from_canonical(&[])?;
    }
    if plugin.role() != Role::Mapper {
        runtime.resolver(&plugin, ctx)?.resolve(&[])?;
    }
    Ok(CheckReport {
        path: path.to_path_buf(),
        size_bytes: bytes.len() as u64,
        sha256: plugin.hash().to_string(),
        role: plugin.role(),
        info: plugin.info().clone(),
        exports: plugin.exports().to_vec(),
        imports: plugin.imports().to_vec(),
        limits: runtime.effective_limits(&runtime.config().default_limits),
        load: plugin.load_source(),
        load_ms: plugin.load_time().as_secs_f64() * 1e3,
    })
}

fn file_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}

/// Which export a fixture calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixtureCall {
    /// `mapping.to-canonical`; input: a list of platform docs.
    ToCanonical,
    /// `mapping.from-canonical`; input: a list of write requests.
    FromCanonical,
    /// `resolving.resolve`; input: a list of field conflicts.
    Resolve,
}

/// A `<name>.input.json` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureInput {
    /// The export to call.
    pub call: FixtureCall,
    /// The store's plugin config, as `host.config` serves it.
    #[serde(default)]
    pub config: serde_json::Map<String, Value>,
    /// Limits for this case (defaults otherwise).
    #[serde(default)]
    pub limits: Option<Limits>,
    /// The batch.
    pub input: Value,
}

/// The result of one fixture case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case name (file name without `.input.json`).
    pub name: String,
    /// Whether the output matched.
    pub passed: bool,
    /// Differences, one per line (`path: expected X, got Y`); empty when passed.
    pub diff: Vec<String>,
    /// The output the plugin gave (normalized), for writing a new expected file.
    pub actual: Value,
}

/// What `weft plugin test` prints.
#[derive(Debug, Clone, Serialize)]
pub struct FixtureReport {
    /// The component file.
    pub component: PathBuf,
    /// The fixtures directory.
    pub dir: PathBuf,
    /// One result per case, sorted by name.
    pub cases: Vec<CaseResult>,
    /// Cases that matched.
    pub passed: usize,
    /// Cases that did not.
    pub failed: usize,
}

impl FixtureReport {
    /// True when every case matched (the CLI exits 1 otherwise).
    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

impl fmt::Display for FixtureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for case in &self.cases {
            if case.passed {
                writeln!(f, "ok    {}", case.name)?;
            } else {
                writeln!(f, "FAIL  {}", case.name)?;
                for line in &case.diff {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        write!(
            f,
            "{} passed, {} failed ({} in {})",
            self.passed,
            self.failed,
            self.component.display(),
            self.dir.display()
        )
    }
}

/// Runs every fixture in `dir` against the component at `component`.
pub fn run_fixtures(
    runtime: &Runtime,
    component: &Path,
    dir: &Path,
) -> Result<FixtureReport, ToolError> {
    let bytes = std::fs::read(component).map_err(|source| ToolError::Read {
        path: component.to_path_buf(),
        source,
    })?;
    let plugin = runtime.load(&file_name(component), &bytes)?;
    let entries = std::fs::read_dir(dir).map_err(|source| ToolError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".input.json"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(ToolError::NoFixtures(dir.to_path_buf()));
    }
    let mut cases = Vec::new();
    for name in names {
        cases.push(run_case(runtime, &plugin, dir, &name));
    }
    let passed = cases.iter().filter(|c| c.passed).count();
    Ok(FixtureReport {
        component: component.to_path_buf(),
        dir: dir.to_path_buf(),
        failed: cases.len() - passed,
        passed,
        cases,
    })
}

fn failed_case(name: &str, why: String) -> CaseResult {
    CaseResult {
        name: name.to_string(),
        passed: false,
        diff: vec![why],
        actual: Value::Null,
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

fn run_case(runtime: &Runtime, plugin: &Arc<Plugin>, dir: &Path, name: &str) -> CaseResult {
    let input_path = dir.join(format!("{name}.input.json"));
    let expected_path = dir.join(format!("{name}.expected.json"));
    let input = match read_json(&input_path).and_then(|v| {
        serde_json::from_value::<FixtureInput>(v)
            .map_err(|e| format!("{}: {e}", input_path.display()))
    }) {
        Ok(i) => i,
        Err(e) => return failed_case(name, e),
    };
    let expected = match read_json(&expected_path) {
        Ok(v) => v,
        Err(e) => return failed_case(name, e),
    };
    let ctx = StoreCtx {
        store_id: format!("fixture:{name}"),
        config: input.config.clone(),
        limits: input
            .limits
            .clone()
            .unwrap_or_else(|| runtime.config().default_limits.clone()),
    };
    let actual = match call(runtime, plugin, ctx, input.call, input.input) {
        Ok(v) => v,
        Err(e) => return failed_case(name, e),
    };
    let mut diff = Vec::new();
    match (expected.get("error"), actual.get("error")) {
        // An expected failure: the kind must match, and the message contain the given text.
        (Some(want), got) => {
            if got != Some(want) {
                diff.push(format!(
                    "$: expected error {want}, got {}",
                    got.map_or_else(
                        || format!("output {actual}"),
                        |g| format!("error {g}: {}", actual["message"])
                    )
                ));
            } else if let Some(text) = expected.get("message_contains").and_then(Value::as_str) {
                let message = actual["message"].as_str().unwrap_or_default();
                if !message.contains(text) {
                    diff.push(format!(
                        "$.message: expected it to contain {text:?}, got {message:?}"
                    ));
                }
            }
        }
        (None, Some(got)) => diff.push(format!(
            "$: expected output, got error {got}: {}",
            actual["message"]
        )),
        (None, None) => diff_json("$", &normalize_out(expected), &actual, &mut diff),
    }
    CaseResult {
        name: name.to_string(),
        passed: diff.is_empty(),
        diff,
        actual,
    }
}

/// Runs the call and returns its result as JSON: the output list, or
/// `{"error": "<kind>", "message": "..."}`.
fn call(
    runtime: &Runtime,
    plugin: &Arc<Plugin>,
    ctx: StoreCtx,
    which: FixtureCall,
    input: Value,
) -> Result<Value, String> {
    let input = normalize_in(input);
    let bad_input =
        |e: serde_json::Error| format!("the fixture's `input` does not fit the call: {e}");
    let result = match which {
        FixtureCall::ToCanonical => {
            let docs: Vec<PlatformDoc> = serde_json::from_value(input).map_err(bad_input)?;
            let m = runtime.mapper(plugin, ctx).map_err(|e| e.to_string())?;
            m.to_canonical(&docs)
                .map(|v| serde_json::to_value(v).expect("serializable"))
        }
        FixtureCall::FromCanonical => {
            // A request without `deleted` (a fixture written before contract 0.5.0) is no
            // deletion.
            let mut input = input;
            if let Value::Array(reqs) = &mut input {
                for r in reqs.iter_mut().filter_map(Value::as_object_mut) {
                    r.entry("deleted").or_insert(Value::Bool(false));
                }
            }
            let reqs: Vec<WriteRequest> = serde_json::from_value(input).map_err(bad_input)?;
            let m = runtime.mapper(plugin, ctx).map_err(|e| e.to_string())?;
            m.from_canonical(&reqs)
                .map(|v| serde_json::to_value(v).expect("serializable"))
        }
        FixtureCall::Resolve => {
            let cs: Vec<FieldChange> = serde_json::from_value(input).map_err(bad_input)?;
            let r = runtime.resolver(plugin, ctx).map_err(|e| e.to_string())?;
            r.resolve(&cs)
                .map(|v| serde_json::to_value(v).expect("serializable"))
        }
    };
    Ok(match result {
        Ok(v) => normalize_out(v),
        Err(e) => serde_json::json!({ "error": e.kind(), "message": e.to_string() }),
    })
}

/// Fields of the WIT records that carry JSON text.
const TEXT_FIELDS: &[&str] = &["body", "fields", "current", "value", "base"];
/// Variants whose payload is JSON text.
const TEXT_VARIANTS: &[&str] = &["Value"];

/// Fixture input: JSON values in text fields become text.
fn normalize_in(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if TEXT_FIELDS.contains(&k.as_str())
                        || TEXT_VARIANTS.contains(&k.as_str())
                    {
                        match v {
                            Value::Object(_)
                            | Value::Array(_)
                            | Value::Number(_)
                            | Value::Bool(_) => Value::String(v.to_string()),
                            other => normalize_in(other),
                        }
                    } else {
                        normalize_in(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_in).collect()),
        other => other,
    }
}

/// Output (and expected files): text fields holding a JSON object or array are parsed, so the
/// comparison is by value and the diff can point into them.
fn normalize_out(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s)
                            if TEXT_FIELDS.contains(&k.as_str())
                                || TEXT_VARIANTS.contains(&k.as_str()) =>
                        {
                            match serde_json::from_str::<Value>(&s) {
                                Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
                                _ => Value::String(s),
                            }
                        }
                        other => normalize_out(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_out).collect()),
        other => other,
    }
}

/// Appends one line per difference between `expected` and `actual`.
pub fn diff_json(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => diff_json(&p, ev, av, out),
                    None => out.push(format!("{p}: expected {ev}, missing")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected {av}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_json(&format!("{path}[{i}]"), ev, av, out);
            }
            if e.len() != a.len() {
                out.push(format!(
                    "{path}: expected {} items, got {}",
                    e.len(),
                    a.len()
                ));
            }
        }
        (Value::Number(e), Value::Number(a)) if same_number(e, a) => {}
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {e}, got {a}")),
    }
}

/// Numbers compare by value: `49` and `49.0` are one JSON number (JavaScript cannot tell them
/// apart, so a fixture must not either); integers compare exactly.
fn same_number(e: &serde_json::Number, a: &serde_json::Number) -> bool {
    match (e.as_i64(), a.as_i64(), e.as_u64(), a.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => e.as_f64() == a.as_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_points_at_each_difference() {
        let mut out = Vec::new();
        diff_json(
            "$",
            &json!([{"a": 1, "b": [1, 2]}, "x"]),
            &json!([{"a": 2, "b": [1], "c": true}, "x"]),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "$[0].a: expected 1, got 2",
                "$[0].b: expected 2 items, got 1",
                "$[0].c: unexpected true",
            ]
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        let mut out = Vec::new();
        diff_json(
            "$",
            &json!([49.0, 59, 1.5]),
            &json!([49, 59.0, 1.5]),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        diff_json("$", &json!([49.0, 7]), &json!([49.5, 8]), &mut out);
        assert_eq!(
            out,
            vec!["$[0]: expected 49.0, got 49.5", "$[1]: expected 7, got 8"]
        );
    }

    #[test]
    fn json_text_fields_round_trip_through_fixtures() {
        let input = json!([{"system": "shopify", "body": {"id": "1"}}]);
        let text = normalize_in(input);
        assert_eq!(text[0]["body"], json!("{\"id\":\"1\"}"));
        assert_eq!(normalize_out(text)[0]["body"], json!({"id": "1"}));
    }
}
