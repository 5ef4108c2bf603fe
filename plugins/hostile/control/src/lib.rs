//! The control plugin for the hostile suite: a well-behaved mapper and resolver. A "good store"
//! runs it while each hostile plugin attacks, so the tests can measure that the host keeps
//! serving other stores. It is also the reference for role detection (it exports both roles).

wit_bindgen::generate!({
    inline: r#"
        package weft:control;
        world both {
            include weft:plugin/mapper@0.5.0;
            include weft:plugin/resolver@0.5.0;
        }
    "#,
    path: "../../../wit",
    world: "weft:control/both",
    generate_all,
});

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest as Mapping, ToCanonicalOutcome, WriteRequest,
};
use exports::weft::plugin::resolving::{Decision, FieldChange, Guest as Resolving};
use weft::plugin::host::{Level, config, log};
use weft::plugin::types::{
    CanonicalRecord, PlatformDoc, PluginError, PluginInfo, WriteCommand, WriteOp,
};

struct Control;

fn info() -> PluginInfo {
    PluginInfo {
        name: "control".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        description: "Echoes documents as canonical records; last-write-wins resolver.".to_string(),
    }
}

impl Mapping for Control {
    fn info() -> PluginInfo {
        info()
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let prefix = config("key-prefix").unwrap_or_default();
        log(Level::Debug, &format!("to-canonical: {} docs", docs.len()));
        Ok(docs
            .into_iter()
            .map(|doc| {
                ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
                    kind: doc.kind,
                    key: format!("{}{}:{}", prefix.trim_matches('"'), doc.system, doc.id),
                    fields: doc.body,
                }])
            })
            .collect())
    }

    fn from_canonical(
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(requests
            .into_iter()
            .map(|req| {
                if req.current.as_deref() == Some(req.record.fields.as_str()) {
                    return FromCanonicalOutcome::Commands(Vec::new());
                }
                FromCanonicalOutcome::Commands(vec![WriteCommand {
                    system: req.target,
                    kind: req.record.kind,
                    op: WriteOp::Upsert,
                    target_id: req.target_id,
                    external_id: Some(req.record.key.replace([':', '@'], "-")),
                    body: req.record.fields,
                }])
            })
            .collect())
    }
}

impl Resolving for Control {
    fn info() -> PluginInfo {
        info()
    }

    fn guards() -> Result<Vec<String>, PluginError> {
        Ok(Vec::new())
    }

    fn resolve(changes: Vec<FieldChange>) -> Result<Vec<Decision>, PluginError> {
        Ok(changes
            .into_iter()
            .map(|c| {
                // RFC 3339 times in one offset compare as text: the newest changed side wins.
                let newest = c
                    .sides
                    .iter()
                    .filter(|s| s.changed)
                    .max_by(|a, b| a.version.cmp(&b.version))
                    .map_or(c.incoming.clone(), |s| s.system.clone());
                Decision::Take(newest)
            })
            .collect())
    }
}

export!(Control);
