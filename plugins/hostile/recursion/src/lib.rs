//! Hostile plugin: recurses without bound. The frames live on the wasm stack (no locals in
//! linear memory), so the host must stop it at its stack cap with `PluginError::StackOverflow`.

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

#[inline(never)]
fn descend(depth: u64) -> u64 {
    // Never true at run time, but the compiler cannot know: the recursion stays unbounded.
    if std::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    let below = descend(std::hint::black_box(depth + 1));
    std::hint::black_box(below ^ depth)
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        describe("recursion", "Recurses until the stack cap stops it.")
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let depth = descend(docs.len() as u64);
        Ok(report(format!("{{\"depth\":{depth}}}")))
    }

    fn from_canonical(
        _requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(Vec::new())
    }
}

export!(Hostile);
