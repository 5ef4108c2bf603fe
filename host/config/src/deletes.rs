//! `[deletes]`: what a deletion on one system does to the others, per entity kind, and the
//! mass-delete guard.
//!
//! ```toml
//! [deletes]
//! variant = "archive"      # default: the record becomes inactive on every other system
//! product = "delete"       # the record is removed from every other system that holds it
//! customer = "ignore"      # nothing changes elsewhere
//! guard_percent = 10       # hold a round that would delete more than 10% of a kind
//! guard_min = 3            # ...once it deletes at least 3 records
//! ```
//!
//! Whatever the action, weft never writes a record again to the system that deleted it (until
//! that system shows it again). `delete` is for the catalog and customers (`product`,
//! `variant`, `customer`): what lives on a variant (its price, its stock levels) goes with it,
//! and orders and what hangs off them are records of what happened, never removed.

use std::collections::BTreeMap;

use toml::de::DeValue;

use crate::diag::unknown_hint;
use crate::load::{Cx, Tbl};
use crate::model::ENTITY_KINDS;

/// What a deletion on one system does to the record on the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeleteAction {
    /// The golden record becomes inactive (`active = false`), so every other system archives it
    /// (default).
    #[default]
    Archive,
    /// The record is removed from every other system that holds it (the mapper's `delete`
    /// writes, `weft:plugin@0.5.0`).
    Delete,
    /// Nothing changes on the other systems.
    Ignore,
}

/// The kinds a deletion may remove from the other systems.
pub const DELETABLE_KINDS: [&str; 3] = ["product", "variant", "customer"];

impl DeleteAction {
    /// The config names.
    pub const NAMES: [&str; 3] = ["archive", "delete", "ignore"];

    /// Parses a config name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "archive" => Some(Self::Archive),
            "delete" => Some(Self::Delete),
            "ignore" => Some(Self::Ignore),
            _ => None,
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Archive => "archive",
            Self::Delete => "delete",
            Self::Ignore => "ignore",
        }
    }
}

/// `[deletes]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletesConfig {
    /// Per canonical entity kind; kinds not named are archived.
    pub kinds: BTreeMap<String, DeleteAction>,
    /// The mass-delete guard: a poll round or a minute of webhooks that would delete more than
    /// this percentage of a kind's golden records is held for an operator (default 10).
    pub guard_percent: u64,
    /// ...once it deletes at least this many records (default 3): one record gone from a
    /// small catalog is not a mass delete.
    pub guard_min: u64,
}

impl Default for DeletesConfig {
    fn default() -> Self {
        DeletesConfig {
            kinds: BTreeMap::new(),
            guard_percent: 10,
            guard_min: 3,
        }
    }
}

impl DeletesConfig {
    /// The action for a canonical kind.
    pub fn action(&self, kind: &str) -> DeleteAction {
        self.kinds.get(kind).copied().unwrap_or_default()
    }
}

const SETTINGS: [&str; 2] = ["guard_percent", "guard_min"];

pub(crate) fn read_deletes(cx: &mut Cx<'_>, tbl: &Tbl<'_, '_>) -> DeletesConfig {
    let mut d = DeletesConfig::default();
    let known: Vec<&str> = SETTINGS
        .iter()
        .chain(ENTITY_KINDS.iter())
        .copied()
        .collect();
    cx.check_keys(tbl, &known);
    if let Some(n) = cx.integer_with(tbl, "guard_percent", 0, 100, "guard_percent = 10") {
        d.guard_percent = n;
    }
    if let Some(n) = cx.integer_with(tbl, "guard_min", 1, 1_000_000, "guard_min = 3") {
        d.guard_min = n;
    }
    for kind in ENTITY_KINDS {
        let Some(v) = tbl.get(kind) else { continue };
        match v.get_ref() {
            DeValue::String(s) if *s == "delete" && !DELETABLE_KINDS.contains(&kind) => cx.err(
                v.span(),
                format!("`delete` for `{kind}` in [deletes] is not supported"),
                Some(format!(
                    "only {} records are removed from the other systems ({kind} records are kept: what lives on a variant goes with it, and orders are a record of what happened); use `archive` or `ignore`",
                    DELETABLE_KINDS.join(", ")
                )),
            ),
            DeValue::String(s) => match DeleteAction::parse(s) {
                Some(a) => {
                    d.kinds.insert(kind.to_owned(), a);
                }
                None => cx.err(
                    v.span(),
                    format!("unknown action `{s}` for `{kind}` in [deletes]"),
                    Some(unknown_hint(s, &DeleteAction::NAMES)),
                ),
            },
            _ => cx.type_err(
                tbl,
                kind,
                v,
                "one of archive, delete, ignore",
                &format!("{kind} = \"archive\""),
            ),
        }
    }
    d
}
