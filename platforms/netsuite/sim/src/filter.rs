//! The record collection filter `?q=<field> <OPERATOR> <value> [AND|OR ...]`, e.g.
//! `q=lastModifiedDate ON_OR_AFTER "2026-01-01T00:00:00Z"`.
//!
//! Modelled operators: dates `AFTER`, `BEFORE`, `ON`, `ON_OR_AFTER`, `ON_OR_BEFORE` (and their
//! `_NOT` forms); numbers `EQUAL`, `EQUAL_NOT`, `GREATER`, `GREATER_OR_EQUAL`, `LESS`,
//! `LESS_OR_EQUAL`; strings `IS`, `IS_NOT`, `CONTAIN`, `START_WITH`; unary `EMPTY`,
//! `EMPTY_NOT`. Conditions join with `AND` / `OR` (AND binds tighter) and parentheses.

use crate::error::NsError;
use crate::records::{Record, RecordType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Both sides hold.
    And(Box<Filter>, Box<Filter>),
    /// Either side holds.
    Or(Box<Filter>, Box<Filter>),
    /// One condition.
    Cond {
        /// Field name.
        field: String,
        /// Operator, upper-case.
        op: String,
        /// Operand (absent for unary operators).
        value: Option<String>,
    },
}

fn err(detail: impl Into<String>) -> NsError {
    NsError::bad_request(
        "INVALID_PARAMETER",
        format!("Invalid query parameter q: {}", detail.into()),
    )
    .param("q")
}

fn tokenize(q: &str) -> Result<Vec<String>, NsError> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' {
            out.push(c.to_string());
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(err("unterminated quoted value")),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '(' || ch == ')' {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

const UNARY: &[&str] = &["EMPTY", "EMPTY_NOT"];
const BINARY: &[&str] = &[
    "AFTER",
    "AFTER_NOT",
    "BEFORE",
    "BEFORE_NOT",
    "ON",
    "ON_NOT",
    "ON_OR_AFTER",
    "ON_OR_AFTER_NOT",
    "ON_OR_BEFORE",
    "ON_OR_BEFORE_NOT",
    "EQUAL",
    "EQUAL_NOT",
    "GREATER",
    "GREATER_OR_EQUAL",
    "LESS",
    "LESS_OR_EQUAL",
    "IS",
    "IS_NOT",
    "CONTAIN",
    "CONTAIN_NOT",
    "START_WITH",
    "START_WITH_NOT",
];

struct Parser {
    toks: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }
    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Filter, NsError> {
        let mut left = self.and()?;
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("OR")) {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Filter, NsError> {
        let mut left = self.atom()?;
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("AND")) {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }
    fn atom(&mut self) -> Result<Filter, NsError> {
        if self.peek() == Some("(") {
            self.pos += 1;
            let f = self.or()?;
            if self.next().as_deref() != Some(")") {
                return Err(err("missing closing parenthesis"));
            }
            return Ok(f);
        }
        let field = self.next().ok_or_else(|| err("expected a field name"))?;
        let op = self
            .next()
            .ok_or_else(|| err(format!("expected an operator after {field}")))?
            .to_ascii_uppercase();
        if UNARY.contains(&op.as_str()) {
            return Ok(Filter::Cond {
                field,
                op,
                value: None,
            });
        }
        if !BINARY.contains(&op.as_str()) {
            return Err(err(format!("unknown operator {op}")));
        }
        let raw = self
            .next()
            .ok_or_else(|| err(format!("expected a value after {op}")))?;
        let value = raw.strip_prefix('"').map(str::to_owned).unwrap_or(raw);
        Ok(Filter::Cond {
            field,
            op,
            value: Some(value),
        })
    }
}

/// Parses a `q` expression.
pub fn parse(q: &str) -> Result<Filter, NsError> {
    let mut p = Parser {
        toks: tokenize(q)?,
        pos: 0,
    };
    let f = p.or()?;
    if let Some(t) = p.peek() {
        return Err(err(format!("unexpected {t}")));
    }
    Ok(f)
}

/// Parses a date or date-time literal: RFC 3339, `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD` or the
/// default US preference `M/D/YYYY`. Times without a zone are taken as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%m/%d/%Y %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    for fmt in ["%Y-%m-%d", "%m/%d/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
        }
    }
    None
}

enum FieldValue {
    Missing,
    Time(DateTime<Utc>),
    Json(Value),
}

fn field_value(rt: RecordType, rec: &Record, field: &str) -> Result<FieldValue, NsError> {
    if !rt.has_field(field) {
        return Err(err(format!(
            "{field} is not a field of record type {}",
            rt.name()
        )));
    }
    let created = if rt == RecordType::Customer {
        "dateCreated"
    } else {
        "createdDate"
    };
    Ok(match field {
        "id" => FieldValue::Json(Value::from(rec.id)),
        "lastModifiedDate" => FieldValue::Time(rec.modified),
        f if f == created => FieldValue::Time(rec.created),
        f => match rec.fields.get(f) {
            Some(v) => FieldValue::Json(v.clone()),
            None => FieldValue::Missing,
        },
    })
}

/// Evaluates a filter on a record.
pub fn matches(f: &Filter, rt: RecordType, rec: &Record) -> Result<bool, NsError> {
    match f {
        Filter::And(a, b) => Ok(matches(a, rt, rec)? && matches(b, rt, rec)?),
        Filter::Or(a, b) => Ok(matches(a, rt, rec)? || matches(b, rt, rec)?),
        Filter::Cond { field, op, value } => {
            let fv = field_value(rt, rec, field)?;
            let (base, negate) = match op.strip_suffix("_NOT") {
                Some(b) if b != "EMPTY" || op == "EMPTY_NOT" => (b, true),
                _ => (op.as_str(), false),
            };
            let r = eval(base, &fv, value.as_deref())?;
            Ok(r != negate)
        }
    }
}

fn eval(op: &str, fv: &FieldValue, value: Option<&str>) -> Result<bool, NsError> {
    if op == "EMPTY" {
        return Ok(match fv {
            FieldValue::Missing => true,
            FieldValue::Json(Value::String(s)) => s.is_empty(),
            FieldValue::Json(Value::Null) => true,
            _ => false,
        });
    }
    let value = value.unwrap_or_default();
    match op {
        "AFTER" | "BEFORE" | "ON" | "ON_OR_AFTER" | "ON_OR_BEFORE" => {
            let lit = parse_datetime(value)
                .ok_or_else(|| err(format!("{value} is not a date (use 2026-01-01T00:00:00Z)")))?;
            let t = match fv {
                FieldValue::Time(t) => *t,
                FieldValue::Json(Value::String(s)) => match parse_datetime(s) {
                    Some(t) => t,
                    None => return Ok(false),
                },
                _ => return Ok(false),
            };
            Ok(match op {
                "AFTER" => t > lit,
                "BEFORE" => t < lit,
                "ON" => t.date_naive() == lit.date_naive(),
                "ON_OR_AFTER" => t >= lit,
                _ => t <= lit,
            })
        }
        "EQUAL" | "GREATER" | "GREATER_OR_EQUAL" | "LESS" | "LESS_OR_EQUAL" => {
            let lit: f64 = value
                .parse()
                .map_err(|_| err(format!("{value} is not a number")))?;
            let x = match fv {
                FieldValue::Json(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
                FieldValue::Json(Value::String(s)) => s.parse().unwrap_or(f64::NAN),
                _ => return Ok(false),
            };
            Ok(match op {
                "EQUAL" => x == lit,
                "GREATER" => x > lit,
                "GREATER_OR_EQUAL" => x >= lit,
                "LESS" => x < lit,
                _ => x <= lit,
            })
        }
        _ => {
            let s = match fv {
                FieldValue::Json(Value::String(s)) => s.clone(),
                FieldValue::Json(Value::Bool(b)) => b.to_string(),
                FieldValue::Json(Value::Number(n)) => n.to_string(),
                FieldValue::Time(t) => crate::clock::format_datetime(*t),
                _ => return Ok(false),
            };
            Ok(match op {
                "IS" => s.eq_ignore_ascii_case(value),
                "CONTAIN" => s.to_lowercase().contains(&value.to_lowercase()),
                _ => s.to_lowercase().starts_with(&value.to_lowercase()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_quotes() {
        let f = parse(
            r#"lastModifiedDate ON_OR_AFTER "2026-01-01 10:00:00" AND (email IS a OR email EMPTY)"#,
        )
        .unwrap();
        assert!(matches!(f, Filter::And(_, _)));
        assert!(parse("x BOGUS 1").is_err());
        assert!(parse("(x IS 1").is_err());
    }

    #[test]
    fn date_literals() {
        let want = parse_datetime("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(parse_datetime("2026-01-02 03:04:05"), Some(want));
        assert_eq!(
            parse_datetime("1/2/2026").unwrap().date_naive(),
            want.date_naive()
        );
    }
}
