//! Hostile plugin: allocates (and touches) memory without bound. The host must stop it at
//! the store's memory cap with `PluginError::MemoryLimit`.

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
        describe("memory-growth", "Allocates until the memory cap stops it.")
    }

    fn to_canonical(_docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let chunk = vec![std::hint::black_box(0xA5u8); 1 << 20];
            hoard.push(std::hint::black_box(chunk));
            if hoard.len() == usize::MAX {
                return Ok(report(format!("{{\"chunks\":{}}}", hoard.len())));
            }
        }
    }

    fn from_canonical(
        _requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(Vec::new())
    }
}

export!(Hostile);
