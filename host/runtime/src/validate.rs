//! The ONE check of what a plugin returns, used by every call path (the engine's batches,
//! `weft plugin test`) so the two can never disagree:
//!
//! - [`json_text`]: JSON text a plugin returns (canonical record `fields`, write command
//!   `body`, resolver `value`) must be valid JSON, nested at most `max_depth` deep, with finite
//!   numbers (`1e400` is refused), no lone UTF-16 surrogate escapes (`"\ud800"`), no raw control
//!   characters in strings, and at most `max_bytes` long. The scan is iterative (a
//!   100,000-deep document cannot overflow the host's stack) and allocates nothing.
//! - [`to_canonical_outcome`] / [`decision`]: the JSON checks applied to one outcome, naming the
//!   record.
//! - [`commands`]: the from-canonical contract for one write request: every command answers that
//!   request (its target system, a kind that writes the requested kind, and a record the request
//!   names), the body is valid JSON, and there are at most `max_commands` of them.
//!
//! Each check returns a typed [`OutputFault`]; the runtime wraps it in
//! [`crate::PluginError::InvalidOutput`] with the store, plugin, call and index.

use std::fmt;

use serde::Serialize;

use crate::types::{
    Decision, EntityKind, FieldChange, FromCanonicalOutcome, ToCanonicalOutcome, WriteCommand,
    WriteOp, WriteRequest,
};

/// Bounds for [`json_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonBounds {
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Longest text, in bytes.
    pub max_bytes: usize,
}

/// Why a JSON text was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum JsonFault {
    /// Not JSON at all (or trailing text after the value).
    #[error("not valid JSON at byte {offset}: {detail}")]
    Syntax { offset: usize, detail: String },
    /// Nested deeper than allowed.
    #[error("JSON nested deeper than {limit} levels (at byte {offset})")]
    TooDeep { limit: usize, offset: usize },
    /// A number that is not a finite double (`1e400`).
    #[error("JSON number `{number}` at byte {offset} is not a finite number")]
    NonFinite { number: String, offset: usize },
    /// A `\uD800`-`\uDFFF` escape without its pair.
    #[error("JSON string has a lone surrogate escape at byte {offset}")]
    LoneSurrogate { offset: usize },
    /// Longer than allowed.
    #[error("JSON text of {actual} bytes is over the limit of {limit} bytes")]
    TooLarge { limit: usize, actual: usize },
    /// Valid JSON, but not the object the contract asks for here.
    #[error("expected a JSON object, got {got}")]
    NotAnObject { got: &'static str },
}

/// Why one item of a plugin's output was refused.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "violation", rename_all = "snake_case")]
pub enum OutputFault {
    /// A JSON text field (`fields`, `body`, `value`) is not acceptable JSON.
    #[error("`{field}` of {item}: {fault}")]
    Json {
        /// Which item: `record 0 (key "SKU-1")`, `command 2`, `decision`.
        item: String,
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        fault: JsonFault,
    },
    /// A command for a system other than the request's target.
    #[error("command {command} writes to system `{got}`, but the request was for `{asked}`")]
    WrongSystem {
        command: usize,
        asked: String,
        got: String,
    },
    /// A command writing a kind the request did not ask for.
    #[error("command {command} writes a {got:?}, but the request was for a {asked:?}")]
    WrongKind {
        command: usize,
        asked: EntityKind,
        got: EntityKind,
    },
    /// A command addressing a record the request does not name.
    #[error(
        "command {command} targets record `{target_id}`, which the request does not name (it names: {named})"
    )]
    UnrelatedRecord {
        command: usize,
        target_id: String,
        named: String,
    },
    /// A `delete` command answering a request that does not ask for one (a mapper never
    /// removes a record on its own).
    #[error(
        "command {command} deletes a record, but the request is not a deletion (`deleted` is false)"
    )]
    UnaskedDelete { command: usize },
    /// A deletion answered by anything but one `delete` command for the request's own record.
    #[error(
        "the request deletes `{target_id}`: the answer is one `delete` command for it (or skipped), not {got}"
    )]
    DeleteAnswer { target_id: String, got: String },
    /// More commands than allowed for one request.
    #[error("{got} commands for one request, over the limit of {limit}")]
    TooManyCommands { limit: usize, got: usize },
    /// A decision that takes the value of a system the field was not put with.
    #[error(
        "the decision takes system `{got}`, which is not a side of this field (sides: {sides})"
    )]
    UnknownSide { got: String, sides: String },
    /// A refusal without a reason.
    #[error("the decision refuses the change without a reason")]
    RefusedWithoutReason,
}

/// Checks JSON text against the contract (see the module docs).
pub fn json_text(text: &str, bounds: JsonBounds) -> Result<(), JsonFault> {
    if text.len() > bounds.max_bytes {
        return Err(JsonFault::TooLarge {
            limit: bounds.max_bytes,
            actual: text.len(),
        });
    }
    Scanner {
        b: text.as_bytes(),
        i: 0,
        max_depth: bounds.max_depth,
    }
    .document()
}

/// [`json_text`], and the value must be an object (a canonical record's `fields`).
pub fn json_object(text: &str, bounds: JsonBounds) -> Result<(), JsonFault> {
    json_text(text, bounds)?;
    match text.trim_start().as_bytes().first() {
        Some(b'{') => Ok(()),
        Some(b'[') => Err(JsonFault::NotAnObject { got: "an array" }),
        Some(b'"') => Err(JsonFault::NotAnObject { got: "a string" }),
        _ => Err(JsonFault::NotAnObject {
            got: "a scalar value",
        }),
    }
}

/// Checks one to-canonical outcome: every record's `fields` is a JSON object within bounds.
pub fn to_canonical_outcome(
    outcome: &ToCanonicalOutcome,
    bounds: JsonBounds,
) -> Result<(), OutputFault> {
    if let ToCanonicalOutcome::Mapped(records) = outcome {
        for (i, r) in records.iter().enumerate() {
            json_object(&r.fields, bounds).map_err(|fault| OutputFault::Json {
                item: format!("record {i} (key {:?})", r.key),
                field: "fields",
                fault,
            })?;
        }
    }
    Ok(())
}

/// Checks one resolver decision: a `value` must be JSON within bounds.
pub fn decision(d: &Decision, change: &FieldChange, bounds: JsonBounds) -> Result<(), OutputFault> {
    match d {
        Decision::Value(v) => json_text(v, bounds).map_err(|fault| OutputFault::Json {
            item: "decision".into(),
            field: "value",
            fault,
        }),
        Decision::Take(system) if change.sides.iter().any(|s| &s.system == system) => Ok(()),
        Decision::Take(system) => Err(OutputFault::UnknownSide {
            got: system.clone(),
            sides: change
                .sides
                .iter()
                .map(|s| format!("`{}`", s.system))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        Decision::Refuse(reason) if reason.trim().is_empty() => {
            Err(OutputFault::RefusedWithoutReason)
        }
        Decision::Refuse(_) => Ok(()),
    }
}

/// The kinds a command may write for a request of `asked`: the same kind, or, for a variant or
/// a price, the product that holds it (Shopify writes variants and prices with `productSet`),
/// and for a price, the variant (item) that carries it.
pub fn allowed_kinds(asked: EntityKind) -> &'static [EntityKind] {
    use EntityKind as K;
    match asked {
        K::Product => &[K::Product],
        K::Variant => &[K::Variant, K::Product],
        K::Price => &[K::Price, K::Variant, K::Product],
        K::InventoryLevel => &[K::InventoryLevel],
        K::Customer => &[K::Customer],
        K::Order => &[K::Order],
        K::Fulfillment => &[K::Fulfillment],
        K::Refund => &[K::Refund],
    }
}

/// The record ids a write request names: its `target_id`, its record key (for an inventory
/// level, `<sku>@<location>`, its SKU too), and the `id` / `*_id` / `*Id` scalar fields at the
/// top level of its `current` document (what weft last read from the target). A command's
/// `target_id` must be one of these, or `<one of these>@<location>` (an inventory level is
/// addressed as item@location: a platform that keys its levels by SKU and its own location,
/// such as Magento's source items, names a level weft has not read yet as `<sku>@<source>`).
pub fn named_ids(req: &WriteRequest) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(t) = &req.target_id {
        ids.push(t.clone());
    }
    ids.push(req.record.key.clone());
    if req.record.kind == EntityKind::InventoryLevel
        && let Some((sku, _)) = req.record.key.rsplit_once('@')
    {
        ids.push(sku.to_owned());
    }
    if let Some(current) = &req.current
        && let Ok(serde_json::Value::Object(doc)) =
            serde_json::from_str::<serde_json::Value>(current)
    {
        for (k, v) in &doc {
            if !(k == "id" || k.ends_with("_id") || k.ends_with("Id")) {
                continue;
            }
            let id = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => continue,
            };
            // Shopify's GraphQL ids (`gid://shopify/Product/1`) name the same record as `1`.
            if let Some((_, tail)) = id.rsplit_once('/') {
                ids.push(tail.to_string());
            }
            ids.push(id);
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Checks the commands a mapper returned for one write request (see the module docs).
/// `max_commands` bounds their number; `bounds` their bodies.
pub fn commands(
    req: &WriteRequest,
    commands: &[WriteCommand],
    max_commands: usize,
    bounds: JsonBounds,
) -> Result<(), OutputFault> {
    if commands.len() > max_commands {
        return Err(OutputFault::TooManyCommands {
            limit: max_commands,
            got: commands.len(),
        });
    }
    if req.deleted {
        // A deletion removes the request's own record there, by the id weft knows for it,
        // and nothing else.
        let target_id = req.target_id.clone().unwrap_or_default();
        let got = match commands {
            [] => Some("no command".to_owned()),
            [c] if c.op != WriteOp::Delete => Some(format!("a `{:?}` command", c.op)),
            [c] if c.kind != req.record.kind => Some(format!("a delete of a {:?}", c.kind)),
            [c] if c.target_id.as_deref() != Some(target_id.as_str()) => Some(format!(
                "a delete of `{}`",
                c.target_id.as_deref().unwrap_or("no id")
            )),
            [_] => None,
            more => Some(format!("{} commands", more.len())),
        };
        if let Some(got) = got {
            return Err(OutputFault::DeleteAnswer { target_id, got });
        }
    } else if let Some(i) = commands.iter().position(|c| c.op == WriteOp::Delete) {
        return Err(OutputFault::UnaskedDelete { command: i });
    }
    let mut named: Option<Vec<String>> = None;
    for (i, c) in commands.iter().enumerate() {
        if c.system != req.target {
            return Err(OutputFault::WrongSystem {
                command: i,
                asked: req.target.clone(),
                got: c.system.clone(),
            });
        }
        if !allowed_kinds(req.record.kind).contains(&c.kind) {
            return Err(OutputFault::WrongKind {
                command: i,
                asked: req.record.kind,
                got: c.kind,
            });
        }
        if let Some(target_id) = &c.target_id {
            let named = named.get_or_insert_with(|| named_ids(req));
            let head = target_id.split_once('@').map(|(h, _)| h);
            let ok = named
                .iter()
                .any(|n| n == target_id || head.is_some_and(|h| h == n));
            if !ok {
                return Err(OutputFault::UnrelatedRecord {
                    command: i,
                    target_id: target_id.clone(),
                    named: named.join(", "),
                });
            }
        }
        json_text(&c.body, bounds).map_err(|fault| OutputFault::Json {
            item: format!("command {i}"),
            field: "body",
            fault,
        })?;
    }
    Ok(())
}

/// Checks one from-canonical outcome against its request.
pub fn from_canonical_outcome(
    req: &WriteRequest,
    outcome: &FromCanonicalOutcome,
    max_commands: usize,
    bounds: JsonBounds,
) -> Result<(), OutputFault> {
    match outcome {
        FromCanonicalOutcome::Commands(cmds) => commands(req, cmds, max_commands, bounds),
        FromCanonicalOutcome::Skipped(_) | FromCanonicalOutcome::Failed(_) => Ok(()),
    }
}

/// An iterative JSON scanner: validates without building a value.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    max_depth: usize,
}

impl Scanner<'_> {
    fn err(&self, detail: impl fmt::Display) -> JsonFault {
        JsonFault::Syntax {
            offset: self.i,
            detail: detail.to_string(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn document(mut self) -> Result<(), JsonFault> {
        // The stack of open containers: true for an object.
        let mut stack: Vec<bool> = Vec::new();
        self.ws();
        loop {
            // A value is expected here.
            match self.peek() {
                Some(b'{') | Some(b'[') => {
                    let object = self.peek() == Some(b'{');
                    if stack.len() >= self.max_depth {
                        return Err(JsonFault::TooDeep {
                            limit: self.max_depth,
                            offset: self.i,
                        });
                    }
                    self.i += 1;
                    self.ws();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        stack.push(object);
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => self.string()?,
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(c) => return Err(self.err(format!("unexpected `{}`", c as char))),
                None => return Err(self.err("unexpected end of text")),
            }
            // After a value: close containers or move to the next element.
            loop {
                self.ws();
                let Some(&object) = stack.last() else {
                    if self.i != self.b.len() {
                        return Err(self.err("trailing text after the JSON value"));
                    }
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.i += 1;
                        stack.pop();
                    }
                    Some(b']') if !object => {
                        self.i += 1;
                        stack.pop();
                    }
                    _ => {
                        return Err(self.err(if object {
                            "expected `,` or `}`"
                        } else {
                            "expected `,` or `]`"
                        }));
                    }
                }
            }
        }
    }

    /// An object key and its colon; leaves the cursor at the value.
    fn key(&mut self) -> Result<(), JsonFault> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a string key"));
        }
        self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.err("expected `:`"));
        }
        self.i += 1;
        self.ws();
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonFault> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonFault> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.err("bad \\u escape"))?;
        let v = u16::from_str_radix(text, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<(), JsonFault> {
        self.i += 1; // the opening quote
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let at = self.i;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            let u = self.hex4()?;
                            if (0xDC00..=0xDFFF).contains(&u) {
                                return Err(JsonFault::LoneSurrogate { offset: at });
                            }
                            if (0xD800..=0xDBFF).contains(&u) {
                                // Must be followed by `\u` and a low surrogate.
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(JsonFault::LoneSurrogate { offset: at });
                                }
                                self.i += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..=0xDFFF).contains(&low) {
                                    return Err(JsonFault::LoneSurrogate { offset: at });
                                }
                            }
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(c) if c < 0x20 => {
                    return Err(self.err("raw control character in a string"));
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn number(&mut self) -> Result<(), JsonFault> {
        let start = self.i;
        let digits = |s: &mut Self| {
            let from = s.i;
            while let Some(b'0'..=b'9') = s.peek() {
                s.i += 1;
            }
            s.i - from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.err("invalid number: no digits after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.err("invalid number: no digits in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).expect("ASCII digits");
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(()),
            _ => Err(JsonFault::NonFinite {
                number: text.chars().take(40).collect(),
                offset: start,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CanonicalRecord;

    const B: JsonBounds = JsonBounds {
        max_depth: 64,
        max_bytes: 1 << 20,
    };

    #[test]
    fn valid_json_passes_and_matches_serde() {
        for ok in [
            r#"{}"#,
            r#"{"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00"], "b": {"c": []}}"#,
            "  [ ]  ",
            "0",
            r#""\n\t\"\\\/""#,
            "-0.0E+1",
        ] {
            assert_eq!(json_text(ok, B), Ok(()), "{ok}");
            serde_json::from_str::<serde_json::Value>(ok).unwrap();
        }
    }

    #[test]
    fn each_refusal_names_its_reason() {
        let cases: &[(&str, &str)] = &[
            (r#"{"title": "unterminated"#, "syntax"),
            ("{\"a\":1,}", "syntax"),
            ("[1] 2", "syntax"),
            ("01", "syntax"),
            ("{\"a\":\"tab\there\"}", "syntax"),
            ("{\"price\": 1e400}", "non_finite"),
            ("-1e309", "non_finite"),
            (r#"{"t": "\ud800 alone"}"#, "lone"),
            (r#"{"t": "\udc00"}"#, "lone"),
            (r#"{"t": "\ud800\u0041"}"#, "lone"),
        ];
        for (text, want) in cases {
            let got = json_text(text, B).unwrap_err();
            let name = match got {
                JsonFault::Syntax { .. } => "syntax",
                JsonFault::NonFinite { .. } => "non_finite",
                JsonFault::LoneSurrogate { .. } => "lone",
                _ => "other",
            };
            assert_eq!(name, *want, "{text}: {got}");
        }
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            json_text(&deep, B),
            Err(JsonFault::TooDeep { limit: 64, .. })
        ));
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(json_text(&ok, B), Ok(()));
        let too = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(json_text(&too, B).is_err());
        assert!(matches!(
            json_text("[1]", JsonBounds { max_bytes: 2, ..B }),
            Err(JsonFault::TooLarge { .. })
        ));
        assert!(matches!(
            json_object("[1]", B),
            Err(JsonFault::NotAnObject { .. })
        ));
    }

    fn req(target: &str, kind: EntityKind, key: &str, target_id: Option<&str>) -> WriteRequest {
        WriteRequest {
            deleted: false,
            target: target.into(),
            record: CanonicalRecord {
                kind,
                key: key.into(),
                fields: "{}".into(),
            },
            current: Some(r#"{"id": "gid://shopify/Product/77", "inventory_item_id": 55}"#.into()),
            target_id: target_id.map(str::to_string),
        }
    }

    fn cmd(system: &str, kind: EntityKind, target_id: Option<&str>) -> WriteCommand {
        WriteCommand {
            system: system.into(),
            kind,
            op: WriteOp::Upsert,
            target_id: target_id.map(str::to_string),
            external_id: None,
            body: "{}".into(),
        }
    }

    #[test]
    fn commands_must_answer_their_request() {
        let r = req("shopify", EntityKind::Variant, "SKU-1", Some("9"));
        let ok = [
            cmd("shopify", EntityKind::Product, Some("9")),
            cmd("shopify", EntityKind::Variant, Some("77")),
            cmd("shopify", EntityKind::Variant, Some("55@61")),
            cmd("shopify", EntityKind::Variant, None),
        ];
        assert_eq!(commands(&r, &ok, 16, B), Ok(()));
        let bad = |c: WriteCommand| commands(&r, &[c], 16, B).unwrap_err();
        assert!(matches!(
            bad(cmd("netsuite", EntityKind::Variant, Some("9"))),
            OutputFault::WrongSystem { .. }
        ));
        assert!(matches!(
            bad(cmd("shopify", EntityKind::Customer, Some("9"))),
            OutputFault::WrongKind { .. }
        ));
        assert!(matches!(
            bad(cmd("shopify", EntityKind::Variant, Some("unrelated-999"))),
            OutputFault::UnrelatedRecord { .. }
        ));
        let many = vec![cmd("shopify", EntityKind::Variant, None); 17];
        assert!(matches!(
            commands(&r, &many, 16, B),
            Err(OutputFault::TooManyCommands { limit: 16, got: 17 })
        ));
        let mut body = cmd("shopify", EntityKind::Variant, None);
        body.body = "{not json".into();
        assert!(matches!(bad(body), OutputFault::Json { .. }));
    }

    /// A level weft has not read from the target yet (no target id, no current document) is
    /// addressed by its SKU and the target's own location; another SKU's level is not.
    #[test]
    fn a_level_not_read_yet_is_addressed_by_its_sku() {
        let r = req("magento", EntityKind::InventoryLevel, "M0-0009@1", None);
        let level = |id: &str| cmd("magento", EntityKind::InventoryLevel, Some(id));
        assert_eq!(commands(&r, &[level("M0-0009@default")], 16, B), Ok(()));
        assert!(matches!(
            commands(&r, &[level("M0-0010@default")], 16, B),
            Err(OutputFault::UnrelatedRecord { .. })
        ));
        // Not for other kinds: a variant keyed `a@b` does not name `a`.
        let v = req("magento", EntityKind::Variant, "M0@9", None);
        assert!(matches!(
            commands(
                &v,
                &[cmd("magento", EntityKind::Variant, Some("M0"))],
                16,
                B
            ),
            Err(OutputFault::UnrelatedRecord { .. })
        ));
    }

    #[test]
    fn only_a_deletion_deletes_and_only_its_own_record() {
        let mut del = cmd("shopify", EntityKind::Variant, Some("9"));
        del.op = WriteOp::Delete;
        let plain = req("shopify", EntityKind::Variant, "SKU-1", Some("9"));
        assert!(matches!(
            commands(&plain, std::slice::from_ref(&del), 16, B),
            Err(OutputFault::UnaskedDelete { command: 0 })
        ));
        let mut asked = plain.clone();
        asked.deleted = true;
        assert_eq!(commands(&asked, std::slice::from_ref(&del), 16, B), Ok(()));
        let refused = |cs: &[WriteCommand]| match commands(&asked, cs, 16, B) {
            Err(OutputFault::DeleteAnswer { got, .. }) => got,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(&[]), "no command");
        assert!(refused(&[cmd("shopify", EntityKind::Variant, Some("9"))]).contains("Upsert"));
        let mut other = del.clone();
        other.target_id = Some("77".into());
        assert_eq!(refused(&[other]), "a delete of `77`");
        let mut product = del.clone();
        product.kind = EntityKind::Product;
        assert!(refused(&[product]).contains("Product"));
        assert_eq!(refused(&[del.clone(), del]), "2 commands");
    }
}
