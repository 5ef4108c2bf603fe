//! Test double: a well-formed mapper, built against the contract's previous version
//! (`wit/plugin.wit` here is `weft:plugin@0.1.0` as it was released). A host that speaks another
//! version must refuse it when loading and say which versions are involved, rather than report
//! unsatisfiable imports.

wit_bindgen::generate!({ world: "mapper", path: "wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::types::{PlatformDoc, PluginError, PluginInfo};

struct Old;

impl Guest for Old {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "old-contract".into(),
            version: "0.1.0".into(),
            description: "Built against weft:plugin@0.1.0.".into(),
        }
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        Ok(docs
            .iter()
            .map(|_| ToCanonicalOutcome::Skipped("old contract".into()))
            .collect())
    }

    fn from_canonical(
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(requests
            .iter()
            .map(|_| FromCanonicalOutcome::Skipped("old contract".into()))
            .collect())
    }
}

export!(Old);
