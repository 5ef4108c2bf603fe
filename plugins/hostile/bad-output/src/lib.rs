//! Hostile plugin: returns output the host must refuse. The attack is chosen by the store's
//! config key `attack` and applied only to the documents / write requests whose id or key
//! contains `evil`; the others get a well-formed answer, so the host can be checked to refuse
//! exactly the bad item (naming its index) and keep the rest.
//!
//! `to-canonical` attacks (the record's `fields` text): `invalid-json`, `deep-nesting`
//! (100,000 nested arrays), `huge-number` (`1e400`), `lone-surrogate` (`"\ud800"`),
//! `not-an-object`, `huge-output` (96 MiB of records, to check the output cap is enforced before
//! the host copies it).
//!
//! `from-canonical` attacks: `extra-command` (a second command overwriting an unrelated record
//! on the other system), `other-record` (same system, unrelated record id), `made-up-system`,
//! `wrong-kind`, `many-commands` (10,003 commands for one request), `invalid-body`.

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::host::config;
use weft::plugin::types::{
    CanonicalRecord, EntityKind, PlatformDoc, PluginError, PluginInfo, WriteCommand, WriteOp,
};

struct Hostile;

fn attack() -> String {
    config("attack")
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

fn bad_fields(attack: &str) -> String {
    match attack {
        "invalid-json" => r#"{"title": "unterminated"#.to_string(),
        "deep-nesting" => {
            let depth = 100_000;
            let mut s = String::with_capacity(2 * depth + 8);
            s.push_str("{\"a\":");
            s.extend(std::iter::repeat_n('[', depth));
            s.extend(std::iter::repeat_n(']', depth));
            s.push('}');
            s
        }
        "huge-number" => r#"{"price": 1e400}"#.to_string(),
        "lone-surrogate" => r#"{"title": "\ud800 alone"}"#.to_string(),
        "not-an-object" => "[1, 2, 3]".to_string(),
        other => format!("{{\"unknown-attack\": \"{other}\"}}"),
    }
}

fn command(req: &WriteRequest) -> WriteCommand {
    WriteCommand {
        system: req.target.clone(),
        kind: req.record.kind,
        op: WriteOp::Upsert,
        target_id: req.target_id.clone(),
        external_id: None,
        body: req.record.fields.clone(),
    }
}

fn bad_commands(attack: &str, req: &WriteRequest) -> Vec<WriteCommand> {
    let good = command(req);
    let other_system = if req.target == "shopify" {
        "netsuite"
    } else {
        "shopify"
    };
    match attack {
        "extra-command" => vec![
            good.clone(),
            WriteCommand {
                system: other_system.to_string(),
                target_id: Some("unrelated-999".to_string()),
                body: r#"{"title": "overwritten by another store's mapper"}"#.to_string(),
                ..good
            },
        ],
        "other-record" => vec![WriteCommand {
            target_id: Some("unrelated-999".to_string()),
            ..good
        }],
        "made-up-system" => vec![WriteCommand {
            system: "made-up-erp".to_string(),
            ..good
        }],
        "wrong-kind" => vec![WriteCommand {
            kind: if req.record.kind == EntityKind::Customer {
                EntityKind::Order
            } else {
                EntityKind::Customer
            },
            ..good
        }],
        "many-commands" => vec![good; 10_003],
        "invalid-body" => vec![WriteCommand {
            body: "{not json".to_string(),
            ..good
        }],
        _ => vec![good],
    }
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "bad-output".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Returns output the host must refuse, chosen by config `attack`."
                .to_string(),
        }
    }

    fn to_canonical(docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let attack = attack();
        if attack == "huge-output" {
            // 96 records of 1 MiB each: far past any output cap, within a 256 MiB memory cap.
            // One blob, copied (bulk memory copies cost little fuel).
            let mut blob = String::with_capacity((1 << 20) + 16);
            blob.push_str("{\"blob\":\"");
            blob.push_str(&"x".repeat(1 << 20));
            blob.push_str("\"}");
            let records = (0..96)
                .map(|i| CanonicalRecord {
                    kind: EntityKind::Product,
                    key: format!("blob-{i}"),
                    fields: blob.clone(),
                })
                .collect();
            let mut out = vec![ToCanonicalOutcome::Mapped(records)];
            out.extend(
                docs.iter()
                    .skip(1)
                    .map(|d| ToCanonicalOutcome::Skipped(d.id.clone())),
            );
            return Ok(out);
        }
        Ok(docs
            .into_iter()
            .map(|doc| {
                let fields = if doc.id.contains("evil") {
                    bad_fields(&attack)
                } else {
                    doc.body
                };
                ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
                    kind: doc.kind,
                    key: doc.id,
                    fields,
                }])
            })
            .collect())
    }

    fn from_canonical(
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        let attack = attack();
        Ok(requests
            .iter()
            .map(|req| {
                FromCanonicalOutcome::Commands(if req.record.key.contains("evil") {
                    bad_commands(&attack, req)
                } else {
                    vec![command(req)]
                })
            })
            .collect())
    }
}

export!(Hostile);
