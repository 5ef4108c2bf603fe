//! Hostile plugin (a probe): returns the first 16 KiB that `wasi:random` gives it, as hex, in
//! one record per call. The host's stream must not repeat within a call, must differ between
//! stores and between different batches, and must be the same for the same store and batch
//! (replay needs determinism).

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::types::{CanonicalRecord, EntityKind, PlatformDoc, PluginError, PluginInfo};

// The same manual import the `getrandom` crate uses on wasm32-wasip2 (std already imports
// `wasi:random/random`, so the component carries its type information).
#[link(wasm_import_module = "wasi:random/random@0.2.0")]
unsafe extern "C" {
    #[link_name = "get-random-u64"]
    safe fn get_random_u64() -> u64;
}

/// Bytes of randomness returned per call.
const BYTES: usize = 16 * 1024;

struct Hostile;

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "randomness".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Returns 16 KiB of wasi:random output as hex.".to_string(),
        }
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let mut hex = String::with_capacity(BYTES * 2);
        for _ in 0..BYTES / 8 {
            for b in get_random_u64().to_le_bytes() {
                hex.push_str(&format!("{b:02x}"));
            }
        }
        let mut out = vec![ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
            kind: EntityKind::Product,
            key: "random".to_string(),
            fields: format!("{{\"hex\":\"{hex}\"}}"),
        }])];
        out.extend(
            docs.iter()
                .skip(1)
                .map(|d| ToCanonicalOutcome::Skipped(d.id.clone())),
        );
        Ok(out)
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
