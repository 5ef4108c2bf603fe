//! Hostile plugin: answers every batch with 6 MiB of output. The host must refuse it
//! with `PluginError::OutputTooLarge` once the store's output cap is passed.

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
        describe("oversized-output", "Returns 6 MiB for any batch.")
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        // One 6 MiB record, built in place (no copies), then one outcome per further document.
        let mut fields = String::with_capacity((6 << 20) + 16);
        fields.push_str("{\"blob\":\"");
        fields.extend(std::iter::repeat_n('x', 6 << 20));
        fields.push_str("\"}");
        let mut out = report(fields);
        out.extend(
            docs.iter()
                .skip(1)
                .map(|d| ToCanonicalOutcome::Skipped(d.id.clone())),
        );
        Ok(out)
    }

    fn from_canonical(
        _requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(Vec::new())
    }
}

export!(Hostile);
