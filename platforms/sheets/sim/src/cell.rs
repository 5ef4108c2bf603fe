//! Cells: what a cell holds, how typed text becomes a value (`USER_ENTERED`, en_US locale, as a
//! person types it), how `RAW` input is stored, and how a value is rendered
//! (`FORMATTED_VALUE`, `UNFORMATTED_VALUE`, `FORMULA`; dates as serial numbers or strings).
//! Formulas are a small arithmetic subset (numbers, cell references on the same sheet, `+ - * /`,
//! parentheses, `SUM(range)`), evaluated when read, so they follow the cells they name.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::{Value, json};

/// A cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// Nothing.
    Empty,
    /// A number (dates and times are serial numbers: days since 1899-12-30).
    Number(f64),
    /// TRUE or FALSE.
    Bool(bool),
    /// Text.
    Text(String),
}

/// How a date or time was typed, which is how it is shown back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePattern {
    /// `2024-03-01`.
    Iso,
    /// `3/1/2024`.
    Us,
}

/// A cell's number format, set by what was typed (as Sheets' automatic format does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumFormat {
    /// Automatic: `12.5`, `3`.
    General,
    /// Thousands separators with this many decimals: `1,234.50`.
    Grouped(u8),
    /// Dollars: `$12.50`.
    Currency(u8),
    /// Percent with this many decimals: `12%`.
    Percent(u8),
    /// A date.
    Date(DatePattern),
    /// A date and time (seconds shown).
    DateTime(DatePattern),
    /// A time of day.
    Time,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Its value (for a formula, unused: formulas are evaluated when read).
    pub value: CellValue,
    /// Its number format.
    pub format: NumFormat,
    /// Its formula, without the leading `=`.
    pub formula: Option<String>,
}

impl Default for Cell {
    fn default() -> Self {
        Cell {
            value: CellValue::Empty,
            format: NumFormat::General,
            formula: None,
        }
    }
}

impl Cell {
    /// Whether the cell holds nothing.
    pub fn is_empty(&self) -> bool {
        self.formula.is_none() && self.value == CellValue::Empty
    }

    /// A text cell.
    pub fn text(s: impl Into<String>) -> Self {
        Cell {
            value: CellValue::Text(s.into()),
            ..Cell::default()
        }
    }

    /// A number cell in the automatic format.
    pub fn number(n: f64) -> Self {
        Cell {
            value: CellValue::Number(n),
            ..Cell::default()
        }
    }
}

/// How input values are read (`valueInputOption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOption {
    /// Stored as given.
    Raw,
    /// Parsed as if typed into the UI.
    UserEntered,
}

impl InputOption {
    /// Parses the query or body value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RAW" => Some(InputOption::Raw),
            "USER_ENTERED" => Some(InputOption::UserEntered),
            _ => None,
        }
    }
}

/// How values are rendered (`valueRenderOption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderOption {
    /// As shown in the UI (strings).
    Formatted,
    /// Calculated but not formatted.
    Unformatted,
    /// Formulas as typed, other cells unformatted.
    Formula,
}

impl RenderOption {
    /// Parses the query or body value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FORMATTED_VALUE" => Some(RenderOption::Formatted),
            "UNFORMATTED_VALUE" => Some(RenderOption::Unformatted),
            "FORMULA" => Some(RenderOption::Formula),
            _ => None,
        }
    }
}

/// How dates are rendered when not formatted (`dateTimeRenderOption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRender {
    /// Serial numbers.
    Serial,
    /// Formatted strings.
    FormattedString,
}

impl DateRender {
    /// Parses the query or body value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SERIAL_NUMBER" => Some(DateRender::Serial),
            "FORMATTED_STRING" => Some(DateRender::FormattedString),
            _ => None,
        }
    }
}

/// A cell from one input value; `None` for JSON null (the cell is left as it is).
pub fn from_input(v: &Value, opt: InputOption) -> Option<Cell> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(Cell {
            value: CellValue::Bool(*b),
            ..Cell::default()
        }),
        Value::Number(n) => Some(Cell::number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => Some(match opt {
            InputOption::Raw if s.is_empty() => Cell::default(),
            InputOption::Raw => Cell::text(s.clone()),
            InputOption::UserEntered => typed(s),
        }),
        // Google refuses lists and structs in values; the caller checks first.
        _ => None,
    }
}

/// What a person's typing `s` into a cell stores (en_US).
pub fn typed(s: &str) -> Cell {
    if s.is_empty() {
        return Cell::default();
    }
    if let Some(rest) = s.strip_prefix('\'') {
        return Cell::text(rest);
    }
    if let Some(f) = s.strip_prefix('=')
        && !f.trim().is_empty()
    {
        return Cell {
            formula: Some(f.trim().to_owned()),
            ..Cell::default()
        };
    }
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return Cell {
            value: CellValue::Bool(t.eq_ignore_ascii_case("true")),
            ..Cell::default()
        };
    }
    if let Some((n, format)) = parse_number(t) {
        return Cell {
            value: CellValue::Number(n),
            format,
            formula: None,
        };
    }
    if let Some((n, format)) = parse_date(t) {
        return Cell {
            value: CellValue::Number(n),
            format,
            formula: None,
        };
    }
    Cell::text(s)
}

fn decimals_of(s: &str) -> u8 {
    s.split_once('.').map_or(0, |(_, d)| d.len().min(10) as u8)
}

/// A number as typed in en_US: `12`, `-3.5`, `1,234.5` (groups of three only), `$12.50`,
/// `12%`, `1e3`. `12,5` is not a number.
fn parse_number(t: &str) -> Option<(f64, NumFormat)> {
    let (neg, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (currency, rest) = match rest.strip_prefix('$') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (percent, body) = match rest.strip_suffix('%') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if body.is_empty() || (currency && percent) {
        return None;
    }
    let grouped = body.contains(',');
    let plain = if grouped {
        let (int, frac) = body
            .split_once('.')
            .map_or((body, None), |(a, b)| (a, Some(b)));
        let groups: Vec<&str> = int.split(',').collect();
        let ok = !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return None;
        }
        match frac {
            Some(f) => format!("{}.{f}", groups.concat()),
            None => groups.concat(),
        }
    } else {
        body.to_owned()
    };
    let valid = plain
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && plain
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && plain.bytes().any(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let mut n: f64 = plain.parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    if neg {
        n = -n;
    }
    let d = decimals_of(&plain);
    let format = if percent {
        n /= 100.0;
        NumFormat::Percent(d)
    } else if currency {
        NumFormat::Currency(d.max(2))
    } else if grouped {
        NumFormat::Grouped(d)
    } else {
        NumFormat::General
    };
    Some((n, format))
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// The serial number of a date and time (days since 1899-12-30).
pub fn serial(dt: NaiveDateTime) -> f64 {
    let d = dt - epoch();
    d.num_seconds() as f64 / 86_400.0
}

/// The date and time of a serial number (to the second).
pub fn from_serial(n: f64) -> NaiveDateTime {
    epoch() + chrono::Duration::seconds((n * 86_400.0).round() as i64)
}

fn parse_date(t: &str) -> Option<(f64, NumFormat)> {
    let (date_part, time_part) = match t.split_once(' ') {
        Some((d, tm)) => (d, Some(tm.trim())),
        None => (t, None),
    };
    let time = |s: &str| {
        NaiveTime::parse_from_str(s, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .ok()
    };
    if time_part.is_none()
        && date_part.contains(':')
        && let Some(tm) = time(date_part)
    {
        return Some((
            f64::from(tm.num_seconds_from_midnight()) / 86_400.0,
            NumFormat::Time,
        ));
    }
    let (date, pattern) = if let Ok(d) = NaiveDate::parse_from_str(date_part, "%Y-%m-%d") {
        (d, DatePattern::Iso)
    } else if let Ok(d) = NaiveDate::parse_from_str(date_part, "%Y/%m/%d") {
        (d, DatePattern::Iso)
    } else if let Ok(d) = NaiveDate::parse_from_str(date_part, "%m/%d/%Y") {
        (d, DatePattern::Us)
    } else {
        return None;
    };
    if date.year() < 1000 {
        return None;
    }
    match time_part {
        None => Some((serial(date.and_hms_opt(0, 0, 0)?), NumFormat::Date(pattern))),
        Some(tp) => {
            let tm = time(tp)?;
            Some((serial(date.and_time(tm)), NumFormat::DateTime(pattern)))
        }
    }
}

/// Google's automatic number display: integers plainly, others with up to 10 decimals.
pub fn general(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{n:.0}");
    }
    if n.abs() >= 1e15 || (n != 0.0 && n.abs() < 1e-9) {
        let s = format!("{n:E}");
        return s.replace("E", "E+").replace("E+-", "E-");
    }
    let s = format!("{n:.10}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn grouped(n: f64, decimals: u8) -> String {
    let s = format!("{:.*}", usize::from(decimals), n.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    if n < 0.0 { format!("-{out}") } else { out }
}

fn format_date(n: f64, f: NumFormat) -> String {
    let dt = from_serial(n);
    let date = |p: DatePattern| match p {
        DatePattern::Iso => dt.format("%Y-%m-%d").to_string(),
        DatePattern::Us => format!("{}/{}/{}", dt.month(), dt.day(), dt.year()),
    };
    match f {
        NumFormat::Date(p) => date(p),
        NumFormat::DateTime(p) => format!("{} {}", date(p), dt.format("%H:%M:%S")),
        _ => format!("{}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second()),
    }
}

/// A number shown in its format.
pub fn format_number(n: f64, f: NumFormat) -> String {
    match f {
        NumFormat::General => general(n),
        NumFormat::Grouped(d) => grouped(n, d),
        NumFormat::Currency(d) => {
            let g = grouped(n.abs(), d);
            if n < 0.0 {
                format!("-${g}")
            } else {
                format!("${g}")
            }
        }
        NumFormat::Percent(d) => format!("{:.*}%", usize::from(d), n * 100.0),
        NumFormat::Date(_) | NumFormat::DateTime(_) | NumFormat::Time => format_date(n, f),
    }
}

/// What a cell evaluates to: a value, or a formula error text (`#DIV/0!`).
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluated {
    /// A value.
    Value(CellValue),
    /// An error such as `#VALUE!`.
    Error(&'static str),
}

/// Reads another cell's evaluated value (row, column) for formulas.
pub type Lookup<'a> = &'a dyn Fn(u32, u32, u32) -> Evaluated;

/// Renders one cell. `lookup(row, col, depth)` evaluates referenced cells.
pub fn render(
    cell: &Cell,
    opt: RenderOption,
    dates: DateRender,
    lookup: Lookup<'_>,
    depth: u32,
) -> Value {
    if let (Some(f), RenderOption::Formula) = (&cell.formula, opt) {
        return Value::String(format!("={f}"));
    }
    let value = match &cell.formula {
        Some(f) => match crate::formula::eval(f, lookup, depth) {
            Ok(n) => CellValue::Number(n),
            Err(e) => return Value::String(e.to_owned()),
        },
        None => cell.value.clone(),
    };
    match value {
        CellValue::Empty => Value::String(String::new()),
        CellValue::Bool(b) => match opt {
            RenderOption::Formatted => Value::String(if b { "TRUE" } else { "FALSE" }.into()),
            _ => Value::Bool(b),
        },
        CellValue::Text(s) => Value::String(s),
        CellValue::Number(n) => {
            let is_date = matches!(
                cell.format,
                NumFormat::Date(_) | NumFormat::DateTime(_) | NumFormat::Time
            );
            match opt {
                RenderOption::Formatted => Value::String(format_number(n, cell.format)),
                _ if is_date && dates == DateRender::FormattedString => {
                    Value::String(format_number(n, cell.format))
                }
                _ => number_json(n),
            }
        }
    }
}

/// A number as Google writes it in JSON (integral values without a fraction).
pub fn number_json(n: f64) -> Value {
    if n == n.trunc() && n.abs() < 9e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(s: &str) -> String {
        let c = typed(s);
        match render(
            &c,
            RenderOption::Formatted,
            DateRender::Serial,
            &|_, _, _| Evaluated::Value(CellValue::Empty),
            0,
        ) {
            Value::String(s) => s,
            v => v.to_string(),
        }
    }

    #[test]
    fn typing_numbers() {
        assert_eq!(typed("12").value, CellValue::Number(12.0));
        assert_eq!(typed(" 12.50 ").value, CellValue::Number(12.5));
        assert_eq!(shown("12.50"), "12.5");
        assert_eq!(typed("1,234.5").value, CellValue::Number(1234.5));
        assert_eq!(shown("1,234.5"), "1,234.5");
        assert_eq!(typed("$12.5").value, CellValue::Number(12.5));
        assert_eq!(shown("$12.5"), "$12.50");
        assert_eq!(shown("-$3"), "-$3.00");
        assert_eq!(typed("12%").value, CellValue::Number(0.12));
        assert_eq!(shown("12%"), "12%");
        assert_eq!(typed("1e3").value, CellValue::Number(1000.0));
        assert_eq!(typed("-7").value, CellValue::Number(-7.0));
    }

    #[test]
    fn typos_stay_text() {
        for s in ["12,5", "abc", "1,23", "12.5.1", "$", "1-2", "e5", "12 5"] {
            assert_eq!(typed(s).value, CellValue::Text(s.into()), "{s}");
        }
    }

    #[test]
    fn quote_booleans_dates() {
        assert_eq!(typed("'0012").value, CellValue::Text("0012".into()));
        assert_eq!(typed("true").value, CellValue::Bool(true));
        assert_eq!(shown("false"), "FALSE");
        let d = typed("2024-03-01");
        assert_eq!(d.value, CellValue::Number(45352.0));
        assert_eq!(shown("2024-03-01"), "2024-03-01");
        assert_eq!(shown("3/1/2024"), "3/1/2024");
        assert_eq!(typed("3/1/2024").value, CellValue::Number(45352.0));
        assert_eq!(shown("2024-03-01 14:30"), "2024-03-01 14:30:00");
        assert_eq!(typed("12:00").value, CellValue::Number(0.5));
        assert_eq!(
            typed("2024-02-30").value,
            CellValue::Text("2024-02-30".into())
        );
    }

    #[test]
    fn raw_is_stored_as_given() {
        let c = from_input(&json!("=1+1"), InputOption::Raw).unwrap();
        assert_eq!(c.value, CellValue::Text("=1+1".into()));
        assert_eq!(
            from_input(&json!("'x"), InputOption::Raw).unwrap().value,
            CellValue::Text("'x".into())
        );
        assert_eq!(
            from_input(&json!("12"), InputOption::Raw).unwrap().value,
            CellValue::Text("12".into())
        );
        assert!(from_input(&Value::Null, InputOption::Raw).is_none());
    }

    #[test]
    fn general_display() {
        assert_eq!(general(3.0), "3");
        assert_eq!(general(0.1 + 0.2), "0.3");
        assert_eq!(general(1.0 / 3.0), "0.3333333333");
        assert_eq!(general(-2.5), "-2.5");
    }
}
