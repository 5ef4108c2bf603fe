//! Hostile plugin: tries to read, list and write files. The host gives no preopened
//! directories, so every attempt must fail; the plugin reports what it saw as a record.

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

fn outcome<T>(r: std::io::Result<T>, show: impl Fn(T) -> String) -> String {
    match r {
        Ok(v) => format!("{{\"ok\":{}}}", json_str(&show(v))),
        Err(e) => format!("{{\"err\":{}}}", json_str(&e.to_string())),
    }
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        describe(
            "open-file",
            "Tries to read /etc/passwd, list / and write /tmp.",
        )
    }

    fn to_canonical(_docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let read = outcome(std::fs::read_to_string("/etc/passwd"), |s| s);
        let read_rel = outcome(std::fs::read_to_string("Cargo.toml"), |s| s);
        let list = outcome(std::fs::read_dir("/"), |d| d.count().to_string());
        let write = outcome(
            std::fs::write("/tmp/weft-hostile-open-file", b"pwned"),
            |_| "written".to_string(),
        );
        Ok(report(format!(
            "{{\"read\":{read},\"read_relative\":{read_rel},\"list\":{list},\"write\":{write}}}"
        )))
    }

    fn from_canonical(
        _requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(Vec::new())
    }
}

export!(Hostile);
