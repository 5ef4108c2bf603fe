//! Hostile plugin: built against its own WIT (`wit/plugin.wit` in this crate) that exports
//! `weft:plugin/mapping@0.5.0` (the current contract version) with different function types. Loading it must fail with
//! `PluginError::InterfaceMismatch`, not at the first call.

wit_bindgen::generate!({ world: "mapper", path: "wit" });

use exports::weft::plugin::mapping::Guest;

struct Wrong;

impl Guest for Wrong {
    fn info() -> String {
        "wrong-interface".to_string()
    }

    fn to_canonical(docs: Vec<String>) -> Vec<String> {
        docs
    }
}

export!(Wrong);
