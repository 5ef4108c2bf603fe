//! Runs a plugin natively with the host's semantics, for unit tests and benchmarks.
//!
//! ```
//! # use weft_plugin_sdk::prelude::*;
//! # #[derive(Default)] struct Noop;
//! # impl Resolver for Noop {
//! #     fn info(&self) -> PluginInfo { PluginInfo::new("noop", "0.1.0", "Always the incoming side.") }
//! #     fn resolve(&self, _: &Context, c: Vec<FieldChange>) -> Result<Vec<Decision>, PluginError> {
//! #         Ok(c.into_iter().map(|c| Decision::Take(c.incoming)).collect())
//! #     }
//! # }
//! let decisions = testing::Harness::new(Noop)
//!     .with_config(serde_json::json!({"tie": "netsuite"}))
//!     .resolve(vec![])
//!     .unwrap();
//! assert!(decisions.is_empty());
//! ```
//!
//! What the harness checks, as the host does: one outcome per input, every record's `fields`
//! a JSON object and every command's `body` valid JSON, log lines bounded (1 KiB a line, 16 KiB a
//! call), and a panic becomes [`HarnessError::Trap`] with the panic message instead of unwinding
//! into the test.

use crate::context::{CapturedLog, Context, take_captured_log};
use crate::types::*;
use crate::{Mapper, Resolver};
use serde_json::Value;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How a native plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    /// The plugin returned its `plugin-error`.
    #[error("plugin error: {0}")]
    Plugin(PluginError),
    /// The plugin panicked (on the host: a trap).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The plugin broke the contract's shape rules.
    #[error("plugin broke the contract: {0}")]
    Contract(String),
    /// A fixture file is malformed.
    #[error("fixture: {0}")]
    Fixture(String),
}

/// Runs one plugin natively against a store config.
pub struct Harness<P> {
    plugin: P,
    config: Value,
    last_log: RefCell<CapturedLog>,
}

impl<P> Harness<P> {
    /// A harness with an empty store config.
    pub fn new(plugin: P) -> Harness<P> {
        Harness {
            plugin,
            config: Value::Object(serde_json::Map::new()),
            last_log: RefCell::new(CapturedLog::default()),
        }
    }

    /// Sets the store's `[plugin.config]` table, as JSON.
    ///
    /// # Panics
    /// When `config` is not a JSON object (a test bug).
    pub fn with_config(mut self, config: Value) -> Harness<P> {
        assert!(
            config.is_object(),
            "Harness::with_config takes a JSON object, got {config}"
        );
        self.config = config;
        self
    }

    /// The plugin under test.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    /// A context over the harness config, as a call would see it.
    pub fn context(&self) -> Context {
        Context::native(self.config.clone())
    }

    /// The log lines of the last call.
    pub fn last_log(&self) -> CapturedLog {
        self.last_log.borrow().clone()
    }

    fn read_fixture(&mut self, fixture: &Value) -> Result<(String, Value), HarnessError> {
        let call = fixture
            .get("call")
            .and_then(Value::as_str)
            .ok_or_else(|| HarnessError::Fixture("missing string field `call`".into()))?
            .to_owned();
        let config = fixture
            .get("config")
            .cloned()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        if !config.is_object() {
            return Err(HarnessError::Fixture("`config` must be an object".into()));
        }
        self.config = config;
        let input = fixture
            .get("input")
            .cloned()
            .ok_or_else(|| HarnessError::Fixture("missing field `input`".into()))?;
        Ok((call, input))
    }

    fn call<T>(&self, f: impl FnOnce(&P, &Context) -> T) -> Result<T, HarnessError> {
        let cx = self.context();
        take_captured_log();
        let out = catch_unwind(AssertUnwindSafe(|| f(&self.plugin, &cx)));
        *self.last_log.borrow_mut() = take_captured_log();
        out.map_err(|payload| {
            let msg = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_owned()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "panic with a non-text payload".to_owned()
            };
            HarnessError::Trap(msg)
        })
    }
}

fn check_count(what: &str, inputs: usize, outputs: usize) -> Result<(), HarnessError> {
    if inputs == outputs {
        Ok(())
    } else {
        Err(HarnessError::Contract(format!(
            "{what} returned {outputs} outcomes for {inputs} inputs"
        )))
    }
}

fn check_record(r: &CanonicalRecord) -> Result<(), HarnessError> {
    r.fields_json()
        .map(|_| ())
        .map_err(|e| HarnessError::Contract(e.to_string()))
}

fn check_command(c: &WriteCommand) -> Result<(), HarnessError> {
    serde_json::from_str::<Value>(&c.body)
        .map(|_| ())
        .map_err(|e| {
            HarnessError::Contract(format!(
                "{} {} command body is not valid JSON: {e}",
                c.system, c.kind
            ))
        })
}

impl<P: Mapper> Harness<P> {
    /// The plugin's `info`.
    pub fn info(&self) -> PluginInfo {
        self.plugin.info()
    }

    /// Runs `to-canonical` on a batch.
    pub fn to_canonical(
        &self,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, HarnessError> {
        let n = docs.len();
        let out = self
            .call(|p, cx| p.to_canonical(cx, docs))?
            .map_err(HarnessError::Plugin)?;
        check_count("to-canonical", n, out.len())?;
        for o in &out {
            if let ToCanonicalOutcome::Mapped(records) = o {
                records.iter().try_for_each(check_record)?;
            }
        }
        Ok(out)
    }

    /// Runs `from-canonical` on a batch.
    pub fn from_canonical(
        &self,
        reqs: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, HarnessError> {
        let n = reqs.len();
        let out = self
            .call(|p, cx| p.from_canonical(cx, reqs))?
            .map_err(HarnessError::Plugin)?;
        check_count("from-canonical", n, out.len())?;
        for o in &out {
            if let FromCanonicalOutcome::Commands(cmds) = o {
                cmds.iter().try_for_each(check_command)?;
            }
        }
        Ok(out)
    }

    /// Runs a mapper fixture in the format of `weft plugin test` (`host/runtime/README.md`):
    /// `{"call": "to-canonical"|"from-canonical", "config": {...}, "input": [...]}`, inputs in the
    /// serde shape of [`PlatformDoc`] / [`WriteRequest`], JSON-text fields (`body`, `fields`,
    /// `current`) written either as text or as JSON values. Returns the outcomes as JSON with
    /// JSON-text fields holding objects or arrays parsed, as an `.expected.json` file holds them.
    /// The fixture's `config` replaces the harness config.
    pub fn run_mapper_fixture(&mut self, fixture: &Value) -> Result<Value, HarnessError> {
        let (call, input) = self.read_fixture(fixture)?;
        let input = fixture_text_in(input);
        let json = |e: serde_json::Error| HarnessError::Fixture(e.to_string());
        let out = match call.as_str() {
            "to-canonical" => {
                let docs: Vec<PlatformDoc> = serde_json::from_value(input).map_err(json)?;
                serde_json::to_value(self.to_canonical(docs)?).map_err(json)?
            }
            "from-canonical" => {
                let reqs: Vec<WriteRequest> = serde_json::from_value(input).map_err(json)?;
                serde_json::to_value(self.from_canonical(reqs)?).map_err(json)?
            }
            other => {
                return Err(HarnessError::Fixture(format!(
                    "call must be \"to-canonical\" or \"from-canonical\" for a mapper, found {other:?}"
                )));
            }
        };
        Ok(fixture_text_out(out))
    }
}

impl<P: Resolver> Harness<P> {
    /// The resolver's `info`.
    pub fn resolver_info(&self) -> PluginInfo {
        self.plugin.info()
    }

    /// Runs a resolver fixture (`"call": "resolve"`, input: list of [`FieldChange`]); see
    /// [`Harness::run_mapper_fixture`] for the format.
    pub fn run_resolver_fixture(&mut self, fixture: &Value) -> Result<Value, HarnessError> {
        let (call, input) = self.read_fixture(fixture)?;
        if call != "resolve" {
            return Err(HarnessError::Fixture(format!(
                "call must be \"resolve\" for a resolver, found {call:?}"
            )));
        }
        let json = |e: serde_json::Error| HarnessError::Fixture(e.to_string());
        let conflicts: Vec<FieldChange> =
            serde_json::from_value(fixture_text_in(input)).map_err(json)?;
        let out = serde_json::to_value(self.resolve(conflicts)?).map_err(json)?;
        Ok(fixture_text_out(out))
    }

    /// Runs `guards`.
    pub fn guards(&self) -> Result<Vec<String>, HarnessError> {
        self.call(|p, cx| p.guards(cx))?
            .map_err(HarnessError::Plugin)
    }

    /// Runs `resolve` on a batch, checking each decision as the host does.
    pub fn resolve(&self, changes: Vec<FieldChange>) -> Result<Vec<Decision>, HarnessError> {
        let n = changes.len();
        let sides: Vec<Vec<String>> = changes
            .iter()
            .map(|c| c.sides.iter().map(|s| s.system.clone()).collect())
            .collect();
        let out = self
            .call(|p, cx| p.resolve(cx, changes))?
            .map_err(HarnessError::Plugin)?;
        check_count("resolve", n, out.len())?;
        for (d, sides) in out.iter().zip(&sides) {
            match d {
                Decision::Value(v) => {
                    serde_json::from_str::<Value>(v).map_err(|e| {
                        HarnessError::Contract(format!("decision value is not valid JSON: {e}"))
                    })?;
                }
                Decision::Take(s) if !sides.contains(s) => {
                    return Err(HarnessError::Contract(format!(
                        "the decision takes system `{s}`, which is not a side of this field (sides: {})",
                        sides.join(", ")
                    )));
                }
                Decision::Refuse(r) if r.trim().is_empty() => {
                    return Err(HarnessError::Contract(
                        "the decision refuses the change without a reason".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

impl HarnessError {
    /// The error kind as `weft plugin test` names it in `{"error": "<kind>"}` expected files.
    pub fn fixture_kind(&self) -> &'static str {
        match self {
            HarnessError::Plugin(_) => "guest",
            HarnessError::Trap(_) => "trap",
            HarnessError::Contract(_) => "contract",
            HarnessError::Fixture(_) => "fixture",
        }
    }
}

/// Runs every `<name>.input.json` in `dir` through `run` and compares the result with
/// `<name>.expected.json`, as `weft plugin test` does with the component: outputs compare as
/// JSON values, and an expected `{"error": "<kind>", "message_contains": "..."}` matches a
/// failed call. With the environment variable `WEFT_BLESS` set, the expected files are
/// (re)written from the actual outputs instead. Returns the number of cases, or every
/// mismatch.
pub fn check_fixture_dir(
    dir: &std::path::Path,
    mut run: impl FnMut(&Value) -> Result<Value, HarnessError>,
) -> Result<usize, String> {
    let read = |p: &std::path::Path| -> Result<Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".input.json")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no *.input.json fixtures in {}", dir.display()));
    }
    let bless = std::env::var_os("WEFT_BLESS").is_some();
    let mut failures = Vec::new();
    for name in &names {
        let input = read(&dir.join(format!("{name}.input.json")))?;
        let expected_path = dir.join(format!("{name}.expected.json"));
        let actual = match run(&input) {
            Ok(v) => v,
            Err(HarnessError::Fixture(m)) => return Err(format!("{name}: fixture: {m}")),
            Err(e) => serde_json::json!({"error": e.fixture_kind(), "message": e.to_string()}),
        };
        if bless {
            let mut text = serde_json::to_string_pretty(&actual).map_err(|e| e.to_string())?;
            text.push('\n');
            std::fs::write(&expected_path, text)
                .map_err(|e| format!("{}: {e}", expected_path.display()))?;
            continue;
        }
        let expected = fixture_text_out(read(&expected_path)?);
        let ok = match expected.get("error") {
            Some(kind) => {
                actual.get("error") == Some(kind)
                    && expected
                        .get("message_contains")
                        .and_then(Value::as_str)
                        .is_none_or(|t| actual["message"].as_str().unwrap_or("").contains(t))
            }
            None => expected == actual,
        };
        if !ok {
            failures.push(format!("{name}: expected {expected}\n  actual {actual}"));
        }
    }
    if failures.is_empty() {
        Ok(names.len())
    } else {
        Err(failures.join("\n"))
    }
}

/// Record fields that carry JSON text.
const TEXT_FIELDS: &[&str] = &["body", "fields", "current", "value", "base"];
/// Variants whose payload is JSON text.
const TEXT_VARIANTS: &[&str] = &["Value"];

fn is_text_key(k: &str) -> bool {
    TEXT_FIELDS.contains(&k) || TEXT_VARIANTS.contains(&k)
}

/// Fixture input: JSON values written in text fields become text (as `weft plugin test` does).
pub fn fixture_text_in(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        v @ (Value::Object(_)
                        | Value::Array(_)
                        | Value::Number(_)
                        | Value::Bool(_))
                            if is_text_key(&k) =>
                        {
                            Value::String(v.to_string())
                        }
                        other => fixture_text_in(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(fixture_text_in).collect()),
        other => other,
    }
}

/// Fixture output: text fields holding a JSON object or array are parsed (as `weft plugin test`
/// compares them).
pub fn fixture_text_out(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if is_text_key(&k) => {
                            match serde_json::from_str::<Value>(&s) {
                                Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
                                _ => Value::String(s),
                            }
                        }
                        other => fixture_text_out(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(fixture_text_out).collect()),
        other => other,
    }
}

/// Builds a conflict for resolver tests: `incoming` changed the field from `base` while `other`
/// made the agreed value; both are sides, in that order. Values are JSON (`None` = removed).
pub fn conflict(
    kind: EntityKind,
    key: &str,
    field: &str,
    base: Option<Value>,
    incoming: (&str, Option<Value>, &str),
    other: (&str, Option<Value>, &str),
) -> FieldChange {
    let side = |(system, value, version): (&str, Option<Value>, &str)| Side {
        system: system.to_owned(),
        value: value.map(|v| v.to_string()),
        version: version.to_owned(),
        changed: true,
    };
    FieldChange {
        occasion: Occasion::Conflict,
        kind,
        key: key.to_owned(),
        field: field.to_owned(),
        base: base.map(|v| v.to_string()),
        agreed: other.1.as_ref().map(Value::to_string),
        incoming: incoming.0.to_owned(),
        sides: vec![side(incoming), side(other)],
    }
}

/// Builds a one-sided change for resolver tests: `incoming` changed the field from the agreed
/// value, which `holder` still holds.
pub fn change(
    kind: EntityKind,
    key: &str,
    field: &str,
    agreed: Option<Value>,
    incoming: (&str, Option<Value>, &str),
    holder: (&str, &str),
) -> FieldChange {
    FieldChange {
        occasion: Occasion::Change,
        kind,
        key: key.to_owned(),
        field: field.to_owned(),
        base: agreed.as_ref().map(Value::to_string),
        agreed: agreed.as_ref().map(Value::to_string),
        incoming: incoming.0.to_owned(),
        sides: vec![
            Side {
                system: incoming.0.to_owned(),
                value: incoming.1.map(|v| v.to_string()),
                version: incoming.2.to_owned(),
                changed: true,
            },
            Side {
                system: holder.0.to_owned(),
                value: agreed.map(|v| v.to_string()),
                version: holder.1.to_owned(),
                changed: false,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocMapper;
    use serde_json::json;

    #[derive(Default)]
    struct Echo {
        panic_on: Option<String>,
        drop_outcome: bool,
    }

    impl Mapper for Echo {
        fn info(&self) -> PluginInfo {
            PluginInfo::new("echo", "0.0.1", "Copies bodies.")
        }
        fn to_canonical(
            &self,
            cx: &Context,
            docs: Vec<PlatformDoc>,
        ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
            let strict: bool = cx.config_or("strict", false)?;
            crate::info!("mapping {} docs", docs.len());
            let mut out = Vec::new();
            for d in docs {
                if self.panic_on.as_deref() == Some(d.id.as_str()) {
                    panic!("boom on {}", d.id);
                }
                if strict && d.body == "null" {
                    return Err(PluginError::Other("null body".into()));
                }
                out.push(ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
                    kind: d.kind,
                    key: d.id,
                    fields: d.body,
                }]));
            }
            if self.drop_outcome {
                out.pop();
            }
            Ok(out)
        }
        fn from_canonical(
            &self,
            _cx: &Context,
            reqs: Vec<WriteRequest>,
        ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
            Ok(reqs
                .into_iter()
                .map(|r| {
                    FromCanonicalOutcome::Commands(vec![WriteCommand {
                        system: r.target,
                        kind: r.record.kind,
                        op: WriteOp::Upsert,
                        target_id: r.target_id,
                        external_id: None,
                        body: r.record.fields,
                    }])
                })
                .collect())
        }
    }

    fn doc(id: &str, body: Value) -> PlatformDoc {
        PlatformDoc::from_json("shopify", EntityKind::Customer, id, "v", &body)
    }

    #[test]
    fn maps_and_captures_logs() {
        let h = Harness::new(Echo::default());
        let out = h.to_canonical(vec![doc("1", json!({"a": 1}))]).unwrap();
        assert_eq!(
            out,
            vec![ToCanonicalOutcome::Mapped(vec![CanonicalRecord::new(
                EntityKind::Customer,
                "1",
                &json!({"a": 1})
            )])]
        );
        let log = h.last_log();
        assert_eq!(log.lines.len(), 1);
        assert_eq!(log.lines[0].message, "mapping 1 docs");
        assert_eq!(log.lines[0].level, Level::Info);
    }

    #[test]
    fn panics_become_traps_with_the_message() {
        let h = Harness::new(Echo {
            panic_on: Some("2".into()),
            ..Echo::default()
        });
        let err = h
            .to_canonical(vec![doc("1", json!({})), doc("2", json!({}))])
            .unwrap_err();
        assert_eq!(err, HarnessError::Trap("boom on 2".into()));
    }

    #[test]
    fn contract_breaches_are_reported() {
        let h = Harness::new(Echo {
            drop_outcome: true,
            ..Echo::default()
        });
        let err = h.to_canonical(vec![doc("1", json!({}))]).unwrap_err();
        assert_eq!(
            err,
            HarnessError::Contract("to-canonical returned 0 outcomes for 1 inputs".into())
        );
        let h = Harness::new(Echo::default());
        let err = h.to_canonical(vec![doc("1", json!([1]))]).unwrap_err();
        assert!(
            matches!(&err, HarnessError::Contract(m) if m.contains("must be a JSON object")),
            "{err}"
        );
    }

    #[test]
    fn plugin_errors_and_config_errors_surface() {
        let h = Harness::new(Echo::default()).with_config(json!({"strict": true}));
        let err = h.to_canonical(vec![doc("1", Value::Null)]).unwrap_err();
        assert_eq!(
            err,
            HarnessError::Plugin(PluginError::Other("null body".into()))
        );
        let h = Harness::new(Echo::default()).with_config(json!({"strict": "yes"}));
        let err = h.to_canonical(vec![]).unwrap_err();
        assert!(
            matches!(&err, HarnessError::Plugin(PluginError::Config(m)) if m.starts_with("config key `strict`")),
            "{err}"
        );
    }

    #[test]
    fn fixtures_round_trip_through_serde_shapes() {
        let mut h = Harness::new(Echo::default());
        let fixture = json!({
            "call": "from-canonical",
            "config": {},
            "input": [{"target": "netsuite",
                       "record": {"kind": "InventoryLevel", "key": "k", "fields": {"q": 1}},
                       "current": null, "target_id": "9"}]
        });
        let out = h.run_mapper_fixture(&fixture).unwrap();
        assert_eq!(
            out,
            json!([{"Commands": [{"system": "netsuite", "kind": "InventoryLevel", "op": "Upsert",
                                  "target_id": "9", "external_id": null, "body": {"q": 1}}]}])
        );
        let bad = json!({"call": "resolve", "input": []});
        assert!(matches!(
            h.run_mapper_fixture(&bad),
            Err(HarnessError::Fixture(_))
        ));
    }

    #[derive(Default)]
    struct PerDoc;
    impl DocMapper for PerDoc {
        fn info(&self) -> PluginInfo {
            PluginInfo::new("per-doc", "0.0.1", "Skips everything.")
        }
        fn prepare(&self, cx: &Context) -> Result<(), PluginError> {
            cx.require_config::<String>("needed")?;
            Ok(())
        }
        fn map_doc(&self, _cx: &Context, doc: PlatformDoc) -> ToCanonicalOutcome {
            ToCanonicalOutcome::Skipped(format!("skip {}", doc.id))
        }
        fn write_request(&self, _cx: &Context, req: WriteRequest) -> FromCanonicalOutcome {
            FromCanonicalOutcome::Skipped(req.record.key)
        }
    }

    #[test]
    fn doc_mapper_maps_in_order_after_prepare() {
        let h = Harness::new(PerDoc).with_config(json!({"needed": "x"}));
        let out = h
            .to_canonical(vec![doc("a", json!({})), doc("b", json!({}))])
            .unwrap();
        assert_eq!(
            out,
            vec![
                ToCanonicalOutcome::Skipped("skip a".into()),
                ToCanonicalOutcome::Skipped("skip b".into())
            ]
        );
        let err = Harness::new(PerDoc).to_canonical(vec![]).unwrap_err();
        assert_eq!(
            err,
            HarnessError::Plugin(PluginError::Config(
                "config key `needed`: is required but not set".into()
            ))
        );
    }

    #[test]
    fn fixture_dirs_compare_values_and_error_kinds() {
        let dir = std::env::temp_dir().join(format!("weft-sdk-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, v: Value| {
            std::fs::write(dir.join(name), serde_json::to_string(&v).unwrap()).unwrap()
        };
        let input = json!({"call": "to-canonical", "config": {"strict": true}, "input": [
            {"system": "shopify", "kind": "Customer", "id": "1", "version": "v", "body": {"a": 1}}
        ]});
        write("ok.input.json", input.clone());
        write(
            "ok.expected.json",
            json!([{"Mapped": [{"kind": "Customer", "key": "1", "fields": {"a": 1}}]}]),
        );
        let mut failing = input;
        failing["input"][0]["body"] = json!("null");
        write("err.input.json", failing);
        write(
            "err.expected.json",
            json!({"error": "guest", "message_contains": "null body"}),
        );
        let run = |v: &Value| Harness::new(Echo::default()).run_mapper_fixture(v);
        assert_eq!(check_fixture_dir(&dir, run), Ok(2));

        write("ok.expected.json", json!([{"Skipped": "no"}]));
        let err = check_fixture_dir(&dir, run).unwrap_err();
        assert!(err.starts_with("ok: expected"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(check_fixture_dir(&dir, run).is_err());
    }
}
