//! Hostile plugin: reads the wall and monotonic clocks, sleeps, and draws randomness. The host
//! fixes the clocks, makes sleeps return at once and seeds the randomness, so two runs of the
//! same batch give byte-identical output (the determinism test uses this plugin).

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

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

impl Guest for Hostile {
    fn info() -> PluginInfo {
        describe("read-clock", "Reports clock readings and random draws.")
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(3600));
        let slept = start.elapsed().as_nanos();
        let hash = RandomState::new().hash_one(docs.len());
        let ids: Vec<String> = docs.iter().map(|d| json_str(&d.id)).collect();
        let mut out = report(format!(
            "{{\"wall_nanos\":{wall},\"slept_nanos\":{slept},\"random_hash\":{hash},\"ids\":[{}]}}",
            ids.join(",")
        ));
        // One outcome per document: the rest are skipped.
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
