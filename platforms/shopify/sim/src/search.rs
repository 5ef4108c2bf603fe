//! Shopify's search syntax for connection `query:` arguments, the subset weft uses:
//! `field:value`, `field:>value`, `>=`, `<`, `<=`, quoted values, implicit or explicit `AND`,
//! `OR` between groups, and bare words (substring match on the entity's default text fields).
//! Unknown fields are ignored, as Shopify does.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Comparison operator of a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `field:value`
    Eq,
    /// `field:>value`
    Gt,
    /// `field:>=value`
    Ge,
    /// `field:<value`
    Lt,
    /// `field:<=value`
    Le,
}

/// One search term.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// Field name (lowercase); `None` for a bare word.
    pub field: Option<String>,
    /// Operator.
    pub op: Op,
    /// Value with quotes removed.
    pub value: String,
    /// `-field:value` or `NOT`.
    pub negated: bool,
}

/// A parsed query: OR of AND-groups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchQuery {
    /// Disjunction of conjunctions.
    pub groups: Vec<Vec<Term>>,
}

/// A value an entity exposes to the search.
#[derive(Clone, Debug)]
pub enum FieldValue {
    /// A timestamp.
    Time(DateTime<Utc>),
    /// A numeric id or count.
    Num(i128),
    /// Text (compared case-insensitively).
    Text(String),
    /// Several texts; the term matches if any does.
    Texts(Vec<String>),
}

/// Implemented by entities that can be filtered.
pub trait Searchable {
    /// The value of `field`, or `None` if the entity has no such field (term ignored).
    fn search_field(&self, field: &str) -> Option<FieldValue>;
    /// Texts a bare word is matched against.
    fn default_text(&self) -> Vec<String>;
}

fn tokenize(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for ch in input.chars() {
        match quote {
            Some(q) if ch == q => {
                quote = None;
                cur.push(ch);
            }
            Some(_) => cur.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                cur.push(ch);
            }
            None if ch.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(v: &str) -> String {
    let t = v.trim();
    for q in ['\'', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_string();
        }
    }
    t.to_string()
}

/// Parses a search string.
pub fn parse(input: &str) -> SearchQuery {
    let mut groups = vec![Vec::new()];
    let mut negate_next = false;
    for tok in tokenize(input) {
        match tok.as_str() {
            "AND" => continue,
            "OR" => {
                groups.push(Vec::new());
                continue;
            }
            "NOT" => {
                negate_next = true;
                continue;
            }
            _ => {}
        }
        let (negated, body) = match tok.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, tok.as_str()),
        };
        let negated = negated ^ negate_next;
        negate_next = false;
        let term = match body.split_once(':') {
            Some((field, raw)) if !field.is_empty() && !field.starts_with(['\'', '"']) => {
                let (op, rest) = if let Some(r) = raw.strip_prefix(">=") {
                    (Op::Ge, r)
                } else if let Some(r) = raw.strip_prefix("<=") {
                    (Op::Le, r)
                } else if let Some(r) = raw.strip_prefix('>') {
                    (Op::Gt, r)
                } else if let Some(r) = raw.strip_prefix('<') {
                    (Op::Lt, r)
                } else {
                    (Op::Eq, raw)
                };
                Term {
                    field: Some(field.to_ascii_lowercase()),
                    op,
                    value: unquote(rest),
                    negated,
                }
            }
            _ => Term {
                field: None,
                op: Op::Eq,
                value: unquote(body),
                negated,
            },
        };
        if let Some(g) = groups.last_mut() {
            g.push(term);
        }
    }
    groups.retain(|g| !g.is_empty());
    SearchQuery { groups }
}

/// Parses a timestamp as Shopify's search accepts it: RFC 3339, a naive date-time (UTC) or a date.
pub fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    None
}

fn cmp_ok(ord: std::cmp::Ordering, op: Op) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ord == Equal,
        Op::Gt => ord == Greater,
        Op::Ge => ord != Less,
        Op::Lt => ord == Less,
        Op::Le => ord != Greater,
    }
}

fn text_matches(text: &str, term: &Term) -> bool {
    let t = text.to_lowercase();
    let v = term.value.to_lowercase();
    match term.op {
        Op::Eq => {
            if let Some(prefix) = v.strip_suffix('*') {
                t.starts_with(prefix)
            } else {
                t == v
            }
        }
        _ => cmp_ok(t.as_str().cmp(v.as_str()), term.op),
    }
}

fn term_matches<S: Searchable>(item: &S, term: &Term) -> bool {
    let hit = match &term.field {
        None => {
            let v = term.value.to_lowercase();
            item.default_text()
                .iter()
                .any(|t| t.to_lowercase().contains(&v))
        }
        Some(field) => match item.search_field(field) {
            // Unknown fields do not filter (Shopify ignores them with a warning).
            None => return true,
            Some(FieldValue::Time(t)) => match parse_time(&term.value) {
                Some(q) => cmp_ok(t.timestamp().cmp(&q.timestamp()), term.op),
                None => false,
            },
            Some(FieldValue::Num(n)) => match term.value.parse::<i128>() {
                Ok(q) => cmp_ok(n.cmp(&q), term.op),
                Err(_) => false,
            },
            Some(FieldValue::Text(s)) => text_matches(&s, term),
            Some(FieldValue::Texts(list)) => list.iter().any(|s| text_matches(s, term)),
        },
    };
    hit != term.negated
}

impl SearchQuery {
    /// True when the item satisfies the query (an empty query matches everything).
    pub fn matches<S: Searchable>(&self, item: &S) -> bool {
        self.groups.is_empty()
            || self
                .groups
                .iter()
                .any(|g| g.iter().all(|t| term_matches(item, t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item {
        updated: DateTime<Utc>,
        id: i128,
        sku: String,
    }
    impl Searchable for Item {
        fn search_field(&self, field: &str) -> Option<FieldValue> {
            match field {
                "updated_at" => Some(FieldValue::Time(self.updated)),
                "id" => Some(FieldValue::Num(self.id)),
                "sku" => Some(FieldValue::Text(self.sku.clone())),
                _ => None,
            }
        }
        fn default_text(&self) -> Vec<String> {
            vec![self.sku.clone()]
        }
    }

    #[test]
    fn parses_operators_quotes_and_groups() {
        let q = parse("updated_at:>'2026-01-01T00:00:00Z' AND sku:ABC-1 OR id:>=5");
        assert_eq!(q.groups.len(), 2);
        assert_eq!(q.groups[0][0].op, Op::Gt);
        assert_eq!(q.groups[0][0].value, "2026-01-01T00:00:00Z");
        assert_eq!(q.groups[0][1].value, "ABC-1");
        assert_eq!(q.groups[1][0].op, Op::Ge);
    }

    #[test]
    fn filters_items() {
        let item = Item {
            updated: parse_time("2026-01-02T00:00:00Z").unwrap(),
            id: 10,
            sku: "ABC-1".into(),
        };
        assert!(parse("updated_at:>'2026-01-01T00:00:00Z'").matches(&item));
        assert!(!parse("updated_at:>'2026-01-02T00:00:00Z'").matches(&item));
        assert!(parse("updated_at:>='2026-01-02T00:00:00Z'").matches(&item));
        assert!(parse("updated_at:<2026-01-03").matches(&item));
        assert!(parse("id:>9 sku:abc-1").matches(&item));
        assert!(!parse("id:>10").matches(&item));
        assert!(parse("-sku:XYZ").matches(&item));
        assert!(parse("nosuchfield:1").matches(&item));
        assert!(parse("abc").matches(&item));
        assert!(parse("sku:ABC*").matches(&item));
    }
}
