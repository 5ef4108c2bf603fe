//! Hostile plugin: writes to stdout and stderr on every call, `info()` included (a single
//! `eprintln!` there used to crash `weft check` and `weft run` at start-up when the host loaded
//! it from async context). Then it answers normally, so the host must neither crash nor let the
//! output reach its own stdout/stderr, and must keep what it keeps bounded.

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::types::{CanonicalRecord, PlatformDoc, PluginError, PluginInfo};

struct Hostile;

/// Writes `lines` lines to both streams.
fn chatter(what: &str, lines: usize) {
    for i in 0..lines {
        println!("stdout from hostile stdio-writer {what} line {i}");
        eprintln!("stderr from hostile stdio-writer {what} line {i}");
    }
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        chatter("info", 3);
        PluginInfo {
            name: "stdio-writer".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Writes to stdout and stderr on every call.".to_string(),
        }
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        // Far more than the host keeps: the capture must stay bounded.
        chatter("to-canonical", 2_000);
        Ok(docs
            .into_iter()
            .map(|doc| {
                ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
                    kind: doc.kind,
                    key: doc.id,
                    fields: doc.body,
                }])
            })
            .collect())
    }

    fn from_canonical(
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        chatter("from-canonical", 10);
        Ok(requests
            .iter()
            .map(|_| FromCanonicalOutcome::Commands(Vec::new()))
            .collect())
    }
}

export!(Hostile);
