//! Hostile plugin: reads environment variables, arguments and the working directory. The host
//! gives none of them; the plugin reports what it saw.

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::types::{CanonicalRecord, EntityKind, PlatformDoc, PluginError, PluginInfo};

struct Hostile;

fn describe(name: &str, description: &str) -> PluginInfo {
    PluginInfo {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        description: description.to_string(),
    }
}

/// One canonical record whose fields are the given JSON object text.
#[allow(dead_code)]
fn report(fields: String) -> Vec<ToCanonicalOutcome> {
    vec![ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
        kind: EntityKind::Product,
        key: "observations".to_string(),
        fields,
    }])]
}

/// A JSON string literal for `s`.
#[allow(dead_code)]
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        describe(
            "read-env",
            "Reads env vars, args and the working directory.",
        )
    }

    fn to_canonical(_docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let vars: Vec<String> = std::env::vars().map(|(k, _)| json_str(&k)).collect();
        let args: Vec<String> = std::env::args().map(|a| json_str(&a)).collect();
        let home = match std::env::var("HOME") {
            Ok(v) => json_str(&v),
            Err(_) => "null".to_string(),
        };
        let cwd = match std::env::current_dir() {
            Ok(p) => json_str(&p.display().to_string()),
            Err(_) => "null".to_string(),
        };
        Ok(report(format!(
            "{{\"vars\":[{}],\"args\":[{}],\"home\":{home},\"cwd\":{cwd}}}",
            vars.join(","),
            args.join(",")
        )))
    }

    fn from_canonical(
        _requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(Vec::new())
    }
}

export!(Hostile);
