//! Hostile plugin: floods the host log. The attack is chosen by the store's config key `attack`:
//!
//! - `empty-lines`: 200,000 empty lines (they used to cost nothing against the byte budget);
//! - `one-byte-lines`: 100,000 one-byte lines (16,384 records per call fitted the budget);
//! - `huge-line`: one 48 MiB line (cut at 1 KiB for output, but the host used to copy it whole);
//! - `newline-forgery`: a message with newlines that forges a log line for another store.
//!
//! Then it answers normally: the call itself must succeed, with the log bounded.

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::host::{Level, config, log};
use weft::plugin::types::{CanonicalRecord, PlatformDoc, PluginError, PluginInfo};

/// The forged message of `newline-forgery`.
pub const FORGED: &str = "ok\n2026-12-04T00:00:00.000000Z ERROR weft_engine: store=victim-store plugin=stock payment captured twice; refunding\r\n\x1b[31mred\x1b[0m";

struct Hostile;

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "log-flood".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Floods the host log, chosen by config `attack`.".to_string(),
        }
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let attack = config("attack").unwrap_or_default();
        match attack.trim_matches('"') {
            "empty-lines" => (0..200_000).for_each(|_| log(Level::Info, "")),
            "one-byte-lines" => (0..100_000).for_each(|_| log(Level::Info, "x")),
            "huge-line" => {
                let line = "y".repeat(48 << 20);
                log(Level::Warn, &line);
            }
            "newline-forgery" => log(Level::Info, FORGED),
            _ => {}
        }
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
        Ok(requests
            .iter()
            .map(|_| FromCanonicalOutcome::Commands(Vec::new()))
            .collect())
    }
}

export!(Hostile);
