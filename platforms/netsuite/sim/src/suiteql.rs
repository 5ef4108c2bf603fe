//! SuiteQL: a hand-written lexer and recursive-descent parser for the `SELECT` subset weft
//! needs, and an evaluator over the simulator's records.
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! query    := SELECT select FROM table [alias] [WHERE expr] [ORDER BY key {, key}] [;]
//! select   := * | item {, item}
//! item     := (column | TO_CHAR(column, 'fmt')) [[AS] alias]
//! column   := name | alias.name
//! expr     := and {OR and} ; and := not {AND not} ; not := NOT not | cond
//! cond     := ( expr ) | operand cmp operand | operand IS [NOT] NULL
//!           | operand [NOT] IN (operand {, operand}) | operand [NOT] BETWEEN operand AND operand
//!           | operand [NOT] LIKE 'pattern'
//! cmp      := = | <> | != | < | <= | > | >=
//! operand  := column | 'string' | number | NULL
//!           | TO_TIMESTAMP('text', 'fmt') | TO_DATE('text', 'fmt')
//! key      := (column | alias | position) [ASC | DESC]
//! ```
//!
//! Tables and columns (`SELECT *` returns them in this order):
//! - `item`: id, externalid, itemid, displayname, salesdescription, upccode, vendorname,
//!   isinactive, itemtype, createddate, lastmodifieddate, matrixtype (`PARENT`, `CHILD` or
//!   null), parent (a child's matrix parent)
//! - `customer`: id, externalid, entityid, companyname, firstname, lastname, email, phone,
//!   isperson, datecreated, lastmodifieddate
//! - `transaction`: id, externalid, tranid, type (`SalesOrd` / `InvAdjst` / `ItemShip`), entity, trandate,
//!   status, memo, otherrefnum, foreigntotal, createddate, lastmodifieddate
//! - `inventoryitemlocations`: item, location, quantityonhand, quantityavailable,
//!   quantitycommitted, quantityonorder, quantitybackordered
//! - `transactionline`: transaction, linesequencenumber, item, location, quantity (fulfilment
//!   lines negative), isclosed
//! - `location`: id, name, isinactive
//! - `deletedrecord`: recordid, type (the record type's script id in lower case, as a user
//!   event script names it: `inventoryitem`, `customer`, `salesorder`, ...), name, deleteddate,
//!   iscustomrecord (always `F`), context (`WEBSERVICES`: the simulator does not tell the UI
//!   from an integration). Every deletion is kept (NetSuite's retention is not modelled).
//!
//! Values come back as NetSuite returns them: ids and text as strings, numbers as numbers,
//! booleans as `"T"` / `"F"`, dates and date-times in the default date preference `M/D/YYYY`
//! (no time! use `TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS')` for the time), null
//! columns omitted, column names lower-case, unaliased expressions named `expr1`, `expr2`, ...
//! Date-times are UTC. A string literal compared with a date column may be RFC 3339,
//! `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD` or `M/D/YYYY`.

use crate::error::NsError;
use crate::filter::parse_datetime;
use crate::records::{Db, RecordType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;

/// The most rows one SuiteQL query may page through.
pub const MAX_RESULTS: usize = 100_000;

fn err(detail: impl std::fmt::Display) -> NsError {
    NsError::bad_request(
        "INVALID_PARAMETER",
        format!(
            "Invalid search query. Detailed unprocessed description follows. Search error occurred: {detail}"
        ),
    )
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn lex(src: &str) -> Result<Vec<Token>, NsError> {
    let bytes: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == '$')
            {
                s.push(bytes[i]);
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(s),
                pos: start,
            });
            continue;
        }
        if c == '"' {
            // Quoted identifier.
            i += 1;
            let mut s = String::new();
            while i < bytes.len() && bytes[i] != '"' {
                s.push(bytes[i]);
                i += 1;
            }
            if i >= bytes.len() {
                return Err(err(format!(
                    "unterminated quoted identifier at position {}",
                    start + 1
                )));
            }
            i += 1;
            out.push(Token {
                tok: Tok::Ident(s),
                pos: start,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let mut s = String::new();
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == '.') {
                s.push(bytes[i]);
                i += 1;
            }
            let n: f64 = s
                .parse()
                .map_err(|_| err(format!("invalid number {s} at position {}", start + 1)))?;
            out.push(Token {
                tok: Tok::Num(n),
                pos: start,
            });
            continue;
        }
        if c == '\'' {
            i += 1;
            let mut s = String::new();
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(err(format!(
                            "unterminated string literal at position {}",
                            start + 1
                        )));
                    }
                    Some('\'') if bytes.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                pos: start,
            });
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let (sym, len): (&'static str, usize) = match (c, next) {
            ('<', Some('>')) | ('!', Some('=')) => ("<>", 2),
            ('<', Some('=')) => ("<=", 2),
            ('>', Some('=')) => (">=", 2),
            ('=', _) => ("=", 1),
            ('<', _) => ("<", 1),
            ('>', _) => (">", 1),
            (',', _) => (",", 1),
            ('(', _) => ("(", 1),
            (')', _) => (")", 1),
            ('*', _) => ("*", 1),
            ('.', _) => (".", 1),
            (';', _) => (";", 1),
            _ => {
                return Err(err(format!(
                    "unexpected character '{c}' at position {}",
                    start + 1
                )));
            }
        };
        i += len;
        out.push(Token {
            tok: Tok::Sym(sym),
            pos: start,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- tables

#[derive(Debug, Clone, Copy, PartialEq)]
enum ColType {
    Id,
    Text,
    Num,
    Bool,
    DateTime,
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Table {
    Item,
    Customer,
    Transaction,
    InventoryItemLocations,
    Location,
    TransactionLine,
    DeletedRecord,
}

impl Table {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "item" => Table::Item,
            "customer" => Table::Customer,
            "transaction" => Table::Transaction,
            "inventoryitemlocations" => Table::InventoryItemLocations,
            "location" => Table::Location,
            "transactionline" => Table::TransactionLine,
            "deletedrecord" => Table::DeletedRecord,
            _ => return None,
        })
    }

    fn columns(self) -> &'static [(&'static str, ColType)] {
        use ColType::*;
        match self {
            Table::Item => &[
                ("id", Id),
                ("externalid", Text),
                ("itemid", Text),
                ("displayname", Text),
                ("salesdescription", Text),
                ("upccode", Text),
                ("vendorname", Text),
                ("isinactive", Bool),
                ("itemtype", Text),
                ("createddate", DateTime),
                ("lastmodifieddate", DateTime),
                ("matrixtype", Text),
                ("parent", Id),
            ],
            Table::Customer => &[
                ("id", Id),
                ("externalid", Text),
                ("entityid", Text),
                ("companyname", Text),
                ("firstname", Text),
                ("lastname", Text),
                ("email", Text),
                ("phone", Text),
                ("isperson", Bool),
                ("datecreated", DateTime),
                ("lastmodifieddate", DateTime),
            ],
            Table::Transaction => &[
                ("id", Id),
                ("externalid", Text),
                ("tranid", Text),
                ("type", Text),
                ("entity", Id),
                ("trandate", Date),
                ("status", Text),
                ("memo", Text),
                ("otherrefnum", Text),
                ("foreigntotal", Num),
                ("createddate", DateTime),
                ("lastmodifieddate", DateTime),
            ],
            Table::InventoryItemLocations => &[
                ("item", Id),
                ("location", Id),
                ("quantityonhand", Num),
                ("quantityavailable", Num),
                ("quantitycommitted", Num),
                ("quantityonorder", Num),
                ("quantitybackordered", Num),
            ],
            Table::Location => &[("id", Id), ("name", Text), ("isinactive", Bool)],
            Table::TransactionLine => &[
                ("transaction", Id),
                ("linesequencenumber", Num),
                ("item", Id),
                ("location", Id),
                ("quantity", Num),
                ("isclosed", Bool),
            ],
            Table::DeletedRecord => &[
                ("recordid", Id),
                ("type", Text),
                ("name", Text),
                ("deleteddate", DateTime),
                ("iscustomrecord", Bool),
                ("context", Text),
            ],
        }
    }

    fn rows(self, db: &Db) -> Vec<Vec<Val>> {
        let text = |r: &crate::records::Record, k: &str| match r.fields.get(k) {
            Some(Value::String(s)) => Val::Text(s.clone()),
            _ => Val::Null,
        };
        let boolean = |r: &crate::records::Record, k: &str| match r.fields.get(k) {
            Some(Value::Bool(b)) => Val::Text(if *b { "T" } else { "F" }.into()),
            _ => Val::Text("F".into()),
        };
        let id_of = |r: &crate::records::Record, k: &str| match r.fields.get(k) {
            Some(Value::String(s)) => s.parse().map(|n: f64| Val::Num(n)).unwrap_or(Val::Null),
            _ => Val::Null,
        };
        match self {
            Table::Item => db
                .all(RecordType::InventoryItem)
                .map(|r| {
                    vec![
                        Val::Num(r.id as f64),
                        text(r, "externalId"),
                        text(r, "itemId"),
                        text(r, "displayName"),
                        text(r, "salesDescription"),
                        text(r, "upcCode"),
                        text(r, "vendorName"),
                        boolean(r, "isInactive"),
                        Val::Text("InvtPart".into()),
                        Val::Time(r.created),
                        Val::Time(r.modified),
                        text(r, "matrixType"),
                        id_of(r, "parent"),
                    ]
                })
                .collect(),
            Table::Customer => db
                .all(RecordType::Customer)
                .map(|r| {
                    vec![
                        Val::Num(r.id as f64),
                        text(r, "externalId"),
                        text(r, "entityId"),
                        text(r, "companyName"),
                        text(r, "firstName"),
                        text(r, "lastName"),
                        text(r, "email"),
                        text(r, "phone"),
                        boolean(r, "isPerson"),
                        Val::Time(r.created),
                        Val::Time(r.modified),
                    ]
                })
                .collect(),
            Table::Transaction => {
                let mut rows: Vec<(u64, Vec<Val>)> = Vec::new();
                for rt in [
                    RecordType::SalesOrder,
                    RecordType::InventoryAdjustment,
                    RecordType::ItemFulfillment,
                    RecordType::CreditMemo,
                ] {
                    let ty = rt.transaction_type().unwrap_or_default();
                    for r in db.all(rt) {
                        let date = r
                            .fields
                            .get("tranDate")
                            .and_then(Value::as_str)
                            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                            .map(|d| Val::Time(d.and_utc()))
                            .unwrap_or(Val::Null);
                        rows.push((
                            r.id,
                            vec![
                                Val::Num(r.id as f64),
                                text(r, "externalId"),
                                text(r, "tranId"),
                                Val::Text(ty.into()),
                                id_of(r, "entity"),
                                date,
                                text(r, "orderStatus"),
                                text(r, "memo"),
                                text(r, "otherRefNum"),
                                r.fields
                                    .get("total")
                                    .and_then(Value::as_f64)
                                    .map(Val::Num)
                                    .unwrap_or(Val::Null),
                                Val::Time(r.created),
                                Val::Time(r.modified),
                            ],
                        ));
                    }
                }
                rows.sort_by_key(|(id, _)| *id);
                rows.into_iter().map(|(_, r)| r).collect()
            }
            Table::InventoryItemLocations => {
                let locations = db.location_ids();
                db.all(RecordType::InventoryItem)
                    .flat_map(|item| {
                        locations.iter().map(move |loc| {
                            let q = db.quantities(item.id, *loc);
                            vec![
                                Val::Num(item.id as f64),
                                Val::Num(*loc as f64),
                                Val::Num(q.on_hand),
                                Val::Num(q.available),
                                Val::Num(q.committed),
                                Val::Num(q.on_order),
                                Val::Num(q.back_ordered),
                            ]
                        })
                    })
                    .collect()
            }
            Table::Location => db
                .all(RecordType::Location)
                .map(|r| {
                    vec![
                        Val::Num(r.id as f64),
                        text(r, "name"),
                        boolean(r, "isInactive"),
                    ]
                })
                .collect(),
            Table::TransactionLine => {
                // Item lines of stock transactions: sales order lines (`item`), adjustment lines
                // (`inventory`, quantity = adjustQtyBy) and fulfilment lines (`item`, shipped
                // quantity negative, as NetSuite signs lines that lower stock).
                let mut rows: Vec<(u64, Vec<Val>)> = Vec::new();
                for (rt, sub, qty_field, sign) in [
                    (RecordType::SalesOrder, "item", "quantity", 1.0),
                    (
                        RecordType::InventoryAdjustment,
                        "inventory",
                        "adjustQtyBy",
                        1.0,
                    ),
                    (RecordType::ItemFulfillment, "item", "quantity", -1.0),
                    (RecordType::CreditMemo, "item", "quantity", 1.0),
                ] {
                    for r in db.all(rt) {
                        let lines = r.fields.get(sub).and_then(Value::as_array);
                        for (i, l) in lines.into_iter().flatten().enumerate() {
                            let id = |k: &str| match l.get(k) {
                                Some(Value::String(s)) => {
                                    s.parse().map(Val::Num).unwrap_or(Val::Null)
                                }
                                _ => Val::Null,
                            };
                            rows.push((
                                r.id,
                                vec![
                                    Val::Num(r.id as f64),
                                    Val::Num(i as f64 + 1.0),
                                    id("item"),
                                    id("location"),
                                    l.get(qty_field)
                                        .and_then(Value::as_f64)
                                        .map(|q| Val::Num(sign * q))
                                        .unwrap_or(Val::Null),
                                    Val::Text(
                                        if l.get("isClosed").and_then(Value::as_bool) == Some(true)
                                        {
                                            "T"
                                        } else {
                                            "F"
                                        }
                                        .into(),
                                    ),
                                ],
                            ));
                        }
                    }
                }
                rows.sort_by_key(|(id, _)| *id);
                rows.into_iter().map(|(_, r)| r).collect()
            }
            Table::DeletedRecord => db
                .deleted()
                .iter()
                .map(|d| {
                    vec![
                        Val::Num(d.id as f64),
                        Val::Text(d.record_type.name().to_ascii_lowercase()),
                        d.name.clone().map_or(Val::Null, Val::Text),
                        Val::Time(d.at),
                        Val::Text("F".into()),
                        Val::Text("WEBSERVICES".into()),
                    ]
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- AST

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Text(String),
    Num(f64),
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone)]
enum Operand {
    Col(usize),
    Lit(Val),
}

#[derive(Debug, Clone)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, &'static str, Operand),
    IsNull(Operand, bool),
    In(Operand, Vec<Operand>, bool),
    Between(Operand, Operand, Operand, bool),
    Like(Operand, String, bool),
}

#[derive(Debug, Clone)]
enum SelExpr {
    Col(usize),
    ToChar(usize, Vec<FmtPart>),
}

#[derive(Debug, Clone)]
struct SelItem {
    expr: SelExpr,
    name: String,
}

#[derive(Debug, Clone)]
enum OrderKey {
    Col(usize),
    Output(usize),
}

/// The matching rows of one query, taken from the store.
#[derive(Debug)]
pub struct Snapshot(Vec<Vec<Val>>);

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    table: Table,
    items: Vec<SelItem>,
    filter: Option<Expr>,
    order: Vec<(OrderKey, bool)>,
}

// ---------------------------------------------------------------- date formats

#[derive(Debug, Clone, PartialEq)]
enum FmtPart {
    Year4,
    Year2,
    Month,
    Day,
    Hour24,
    Hour12,
    Minute,
    Second,
    Meridian,
    /// `.FF` / `.FF1`..`.FF9`: a dot and fractional seconds (digits, if fixed).
    DotFraction(Option<usize>),
    Lit(String),
}

fn parse_fmt(fmt: &str) -> Result<Vec<FmtPart>, NsError> {
    let mut parts = Vec::new();
    let up = fmt.to_ascii_uppercase();
    let chars: Vec<char> = fmt.chars().collect();
    let upc: Vec<char> = up.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = upc[i..].iter().collect();
        let (part, len) = if rest.starts_with("YYYY") {
            (FmtPart::Year4, 4)
        } else if rest.starts_with("YY") {
            (FmtPart::Year2, 2)
        } else if rest.starts_with("MM") {
            (FmtPart::Month, 2)
        } else if rest.starts_with("DD") {
            (FmtPart::Day, 2)
        } else if rest.starts_with("HH24") {
            (FmtPart::Hour24, 4)
        } else if rest.starts_with("HH12") {
            (FmtPart::Hour12, 4)
        } else if rest.starts_with("HH") {
            (FmtPart::Hour12, 2)
        } else if rest.starts_with("MI") {
            (FmtPart::Minute, 2)
        } else if rest.starts_with("SS") {
            (FmtPart::Second, 2)
        } else if rest.starts_with(".FF") {
            let digit = upc
                .get(i + 3)
                .and_then(|c| c.to_digit(10))
                .filter(|d| (1..=9).contains(d));
            match digit {
                Some(d) => (FmtPart::DotFraction(Some(d as usize)), 4),
                None => (FmtPart::DotFraction(None), 3),
            }
        } else if rest.starts_with("AM") || rest.starts_with("PM") {
            (FmtPart::Meridian, 2)
        } else if chars[i] == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|c| *c == '"')
                .ok_or_else(|| err(format!("unterminated quoted text in date format '{fmt}'")))?;
            let lit: String = chars[i + 1..i + 1 + end].iter().collect();
            (FmtPart::Lit(lit), end + 2)
        } else if " -/:.,T".contains(chars[i]) {
            (FmtPart::Lit(chars[i].to_string()), 1)
        } else {
            return Err(err(format!(
                "unsupported element '{}' in date format '{fmt}'",
                chars[i]
            )));
        };
        parts.push(part);
        i += len;
    }
    Ok(parts)
}

fn chrono_fmt(parts: &[FmtPart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            FmtPart::Year4 => "%Y".to_owned(),
            FmtPart::Year2 => "%y".to_owned(),
            FmtPart::Month => "%m".to_owned(),
            FmtPart::Day => "%d".to_owned(),
            FmtPart::Hour24 => "%H".to_owned(),
            FmtPart::Hour12 => "%I".to_owned(),
            FmtPart::Minute => "%M".to_owned(),
            FmtPart::Second => "%S".to_owned(),
            FmtPart::Meridian => "%p".to_owned(),
            FmtPart::DotFraction(None) => "%.f".to_owned(),
            FmtPart::DotFraction(Some(d)) => match d {
                1..=3 => "%.3f".to_owned(),
                4..=6 => "%.6f".to_owned(),
                _ => "%.9f".to_owned(),
            },
            FmtPart::Lit(s) => s.replace('%', "%%"),
        })
        .collect()
}

fn to_timestamp(text: &str, fmt: &str) -> Result<DateTime<Utc>, NsError> {
    let f = chrono_fmt(&parse_fmt(fmt)?);
    if let Ok(t) = NaiveDateTime::parse_from_str(text, &f) {
        return Ok(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, &f) {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(err(format!(
        "'{text}' does not match the date format '{fmt}'"
    )))
}

// ---------------------------------------------------------------- parser

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    table: Option<Table>,
    alias: Option<String>,
    src_len: usize,
}

const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "ORDER", "BY", "ASC", "DESC", "IS", "NULL",
    "IN", "BETWEEN", "LIKE", "AS", "GROUP", "HAVING", "JOIN", "ON", "UNION", "FETCH", "INNER",
    "LEFT", "RIGHT", "OUTER", "DISTINCT",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn here(&self) -> String {
        match self.toks.get(self.pos) {
            Some(t) => format!("near '{}' at position {}", show(&t.tok), t.pos + 1),
            None => format!("at end of query (position {})", self.src_len + 1),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), NsError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(err(format!("syntax error: expected {kw} {}", self.here())))
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), NsError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(err(format!("syntax error: expected '{s}' {}", self.here())))
        }
    }

    fn ident(&mut self) -> Result<String, NsError> {
        match self.peek() {
            Some(Tok::Ident(s)) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(err(format!(
                "syntax error: expected an identifier {}",
                self.here()
            ))),
        }
    }

    fn string(&mut self) -> Result<String, NsError> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(err(format!(
                "syntax error: expected a string literal {}",
                self.here()
            ))),
        }
    }

    fn table(&self) -> Table {
        self.table
            .expect("table parsed before columns are resolved")
    }

    /// Resolves `name` or `alias.name` to a column index.
    fn column(&mut self) -> Result<usize, NsError> {
        let first = self.ident()?;
        let name = if self.eat_sym(".") {
            let qual = first;
            let col = self.ident()?;
            let table = self.table();
            let ok = self
                .alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&qual))
                || Table::parse(&qual) == Some(table);
            if !ok {
                return Err(err(format!("unknown table or alias '{qual}'")));
            }
            col
        } else {
            first
        };
        self.resolve(&name)
    }

    fn resolve(&self, name: &str) -> Result<usize, NsError> {
        let table = self.table();
        table
            .columns()
            .iter()
            .position(|(c, _)| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                err(format!(
                    "Field '{name}' for record '{}' was not found. Known fields: {}.",
                    table_name(table),
                    table
                        .columns()
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    fn query(&mut self) -> Result<Query, NsError> {
        self.expect_kw("SELECT")?;
        if self.is_kw("DISTINCT") {
            return Err(err("DISTINCT is not supported by the simulator"));
        }
        // The select list refers to the table, which comes later: parse FROM first.
        let select_start = self.pos;
        let mut depth = 0i32;
        while let Some(t) = self.peek() {
            match t {
                Tok::Sym("(") => depth += 1,
                Tok::Sym(")") => depth -= 1,
                Tok::Ident(s) if depth == 0 && s.eq_ignore_ascii_case("FROM") => break,
                _ => {}
            }
            self.pos += 1;
        }
        let select_end = self.pos;
        self.expect_kw("FROM")?;
        let tname = self.ident()?;
        self.table = Some(Table::parse(&tname).ok_or_else(|| {
            err(format!(
                "Record '{tname}' was not found. The simulator serves item, customer, transaction, transactionline, inventoryitemlocations and location."
            ))
        })?);
        let aliased = self.eat_kw("AS")
            || matches!(self.peek(), Some(Tok::Ident(s)) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)));
        if aliased {
            self.alias = Some(self.ident()?);
        }
        if self.is_kw("JOIN")
            || self.is_kw("INNER")
            || self.is_kw("LEFT")
            || matches!(self.peek(), Some(Tok::Sym(",")))
        {
            return Err(err("joins are not supported by the simulator"));
        }
        let filter = if self.eat_kw("WHERE") {
            Some(self.or_expr()?)
        } else {
            None
        };
        if self.is_kw("GROUP") {
            return Err(err("GROUP BY is not supported by the simulator"));
        }
        let after_from = self.pos;
        // Parse the select list now that the table is known.
        self.pos = select_start;
        let items = self.select_list(select_end)?;
        self.pos = after_from;
        let mut order = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let key = self.order_key(&items)?;
                let desc = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                order.push((key, desc));
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.eat_sym(";");
        if self.pos < self.toks.len() {
            return Err(err(format!(
                "syntax error: unexpected input {}",
                self.here()
            )));
        }
        Ok(Query {
            table: self.table(),
            items,
            filter,
            order,
        })
    }

    fn select_list(&mut self, end: usize) -> Result<Vec<SelItem>, NsError> {
        if self.pos == end {
            return Err(err(format!(
                "syntax error: expected a column list {}",
                self.here()
            )));
        }
        if self.eat_sym("*") {
            if self.pos != end {
                return Err(err(format!(
                    "syntax error: unexpected input after * {}",
                    self.here()
                )));
            }
            return Ok(self
                .table()
                .columns()
                .iter()
                .enumerate()
                .map(|(i, (c, _))| SelItem {
                    expr: SelExpr::Col(i),
                    name: (*c).to_owned(),
                })
                .collect());
        }
        let mut items = Vec::new();
        let mut exprs = 0;
        loop {
            let (expr, default_name) = if self.is_kw("TO_CHAR") {
                self.pos += 1;
                self.expect_sym("(")?;
                let col = self.column()?;
                let fmt = if self.eat_sym(",") {
                    parse_fmt(&self.string()?)?
                } else {
                    parse_fmt("YYYY-MM-DD HH24:MI:SS")?
                };
                self.expect_sym(")")?;
                exprs += 1;
                (SelExpr::ToChar(col, fmt), format!("expr{exprs}"))
            } else if matches!(
                self.toks.get(self.pos + 1).map(|t| &t.tok),
                Some(Tok::Sym("("))
            ) && !matches!(self.peek(), Some(Tok::Sym(_)))
            {
                return Err(err(format!(
                    "function {} is not supported by the simulator (supported in the select list: TO_CHAR)",
                    self.here()
                )));
            } else {
                let col = self.column()?;
                (SelExpr::Col(col), self.table().columns()[col].0.to_owned())
            };
            let aliased =
                self.eat_kw("AS") || (self.pos < end && matches!(self.peek(), Some(Tok::Ident(_))));
            let name = if aliased {
                self.ident()?.to_ascii_lowercase()
            } else {
                default_name
            };
            items.push(SelItem { expr, name });
            if self.pos == end {
                break;
            }
            self.expect_sym(",")?;
        }
        Ok(items)
    }

    fn order_key(&mut self, items: &[SelItem]) -> Result<OrderKey, NsError> {
        if let Some(Tok::Num(n)) = self.peek() {
            let n = *n;
            self.pos += 1;
            let idx = n as usize;
            if n.fract() != 0.0 || idx == 0 || idx > items.len() {
                return Err(err(format!("ORDER BY position {n} is out of range")));
            }
            return Ok(OrderKey::Output(idx - 1));
        }
        let save = self.pos;
        let name = self.ident()?;
        if !matches!(self.peek(), Some(Tok::Sym(".")))
            && let Some(i) = items
                .iter()
                .position(|it| it.name.eq_ignore_ascii_case(&name))
        {
            if let SelExpr::Col(c) = items[i].expr {
                return Ok(OrderKey::Col(c));
            }
            return Ok(OrderKey::Output(i));
        }
        self.pos = save;
        Ok(OrderKey::Col(self.column()?))
    }

    fn or_expr(&mut self) -> Result<Expr, NsError> {
        let mut left = self.and_expr()?;
        while self.eat_kw("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, NsError> {
        let mut left = self.not_expr()?;
        while self.eat_kw("AND") {
            left = Expr::And(Box::new(left), Box::new(self.not_expr()?));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, NsError> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        self.cond()
    }

    fn cond(&mut self) -> Result<Expr, NsError> {
        if self.eat_sym("(") {
            let e = self.or_expr()?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        let left = self.operand()?;
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            self.expect_kw("NULL")?;
            return Ok(Expr::IsNull(left, negated));
        }
        let negated = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_sym(",") {
                list.push(self.operand()?);
            }
            self.expect_sym(")")?;
            return Ok(Expr::In(left, list, negated));
        }
        if self.eat_kw("BETWEEN") {
            let lo = self.operand()?;
            self.expect_kw("AND")?;
            let hi = self.operand()?;
            return Ok(Expr::Between(left, lo, hi, negated));
        }
        if self.eat_kw("LIKE") {
            let pat = self.string()?;
            return Ok(Expr::Like(left, pat, negated));
        }
        if negated {
            return Err(err(format!(
                "syntax error: expected IN, BETWEEN or LIKE {}",
                self.here()
            )));
        }
        let op = match self.peek() {
            Some(Tok::Sym(s)) if ["=", "<>", "<", "<=", ">", ">="].contains(s) => *s,
            _ => {
                return Err(err(format!(
                    "syntax error: expected a comparison operator {}",
                    self.here()
                )));
            }
        };
        self.pos += 1;
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, NsError> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Operand::Lit(Val::Text(s)))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Operand::Lit(Val::Num(n)))
            }
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("NULL") => {
                self.pos += 1;
                Ok(Operand::Lit(Val::Null))
            }
            Some(Tok::Ident(s))
                if s.eq_ignore_ascii_case("TO_TIMESTAMP") || s.eq_ignore_ascii_case("TO_DATE") =>
            {
                self.pos += 1;
                self.expect_sym("(")?;
                let text = self.string()?;
                let t = if self.eat_sym(",") {
                    let fmt = self.string()?;
                    to_timestamp(&text, &fmt)?
                } else {
                    parse_datetime(&text).ok_or_else(|| err(format!("'{text}' is not a date")))?
                };
                self.expect_sym(")")?;
                Ok(Operand::Lit(Val::Time(t)))
            }
            Some(Tok::Ident(_))
                if matches!(
                    self.toks.get(self.pos + 1).map(|t| &t.tok),
                    Some(Tok::Sym("("))
                ) =>
            {
                Err(err(format!(
                    "function {} is not supported by the simulator (supported in WHERE: TO_TIMESTAMP, TO_DATE)",
                    self.here()
                )))
            }
            Some(Tok::Ident(_)) => Ok(Operand::Col(self.column()?)),
            _ => Err(err(format!(
                "syntax error: expected a value or column {}",
                self.here()
            ))),
        }
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.clone(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => n.to_string(),
        Tok::Sym(s) => (*s).to_owned(),
    }
}

fn table_name(t: Table) -> &'static str {
    match t {
        Table::Item => "item",
        Table::Customer => "customer",
        Table::Transaction => "transaction",
        Table::InventoryItemLocations => "inventoryitemlocations",
        Table::Location => "location",
        Table::TransactionLine => "transactionline",
        Table::DeletedRecord => "deletedrecord",
    }
}

/// Parses a SuiteQL query.
pub fn parse(q: &str) -> Result<Query, NsError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err(err("the query is empty"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        table: None,
        alias: None,
        src_len: q.chars().count(),
    };
    p.query()
}

// ---------------------------------------------------------------- evaluation

fn coerce_cmp(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Null, _) | (_, Val::Null) => None,
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Text(x), Val::Text(y)) => Some(x.cmp(y)),
        (Val::Time(x), Val::Time(y)) => Some(x.cmp(y)),
        (Val::Time(x), Val::Text(s)) => parse_datetime(s).map(|y| x.cmp(&y)),
        (Val::Text(s), Val::Time(y)) => parse_datetime(s).map(|x| x.cmp(y)),
        (Val::Num(x), Val::Text(s)) => s.trim().parse::<f64>().ok().and_then(|y| x.partial_cmp(&y)),
        (Val::Text(s), Val::Num(y)) => s.trim().parse::<f64>().ok().and_then(|x| x.partial_cmp(y)),
        _ => None,
    }
}

fn value<'a>(o: &'a Operand, row: &'a [Val]) -> &'a Val {
    match o {
        Operand::Col(i) => &row[*i],
        Operand::Lit(v) => v,
    }
}

fn like(s: &str, pat: &str) -> bool {
    fn go(s: &[char], p: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|i| go(&s[i..], &p[1..])),
            Some('_') => !s.is_empty() && go(&s[1..], &p[1..]),
            Some(c) => s.first() == Some(c) && go(&s[1..], &p[1..]),
        }
    }
    go(
        &s.chars().collect::<Vec<_>>(),
        &pat.chars().collect::<Vec<_>>(),
    )
}

/// Three-valued evaluation: `None` is SQL's UNKNOWN.
fn eval(e: &Expr, row: &[Val]) -> Option<bool> {
    match e {
        Expr::And(a, b) => match (eval(a, row), eval(b, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Or(a, b) => match (eval(a, row), eval(b, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::Not(a) => eval(a, row).map(|b| !b),
        Expr::Cmp(l, op, r) => {
            let ord = coerce_cmp(value(l, row), value(r, row))?;
            Some(match *op {
                "=" => ord == Ordering::Equal,
                "<>" => ord != Ordering::Equal,
                "<" => ord == Ordering::Less,
                "<=" => ord != Ordering::Greater,
                ">" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
        Expr::IsNull(o, negated) => Some((*value(o, row) == Val::Null) != *negated),
        Expr::In(o, list, negated) => {
            let v = value(o, row);
            let mut unknown = false;
            for item in list {
                match coerce_cmp(v, value(item, row)) {
                    Some(Ordering::Equal) => return Some(!negated),
                    None => unknown = true,
                    _ => {}
                }
            }
            if unknown { None } else { Some(*negated) }
        }
        Expr::Between(o, lo, hi, negated) => {
            let v = value(o, row);
            let a = coerce_cmp(v, value(lo, row))?;
            let b = coerce_cmp(v, value(hi, row))?;
            Some((a != Ordering::Less && b != Ordering::Greater) != *negated)
        }
        Expr::Like(o, pat, negated) => match value(o, row) {
            Val::Text(s) => Some(like(s, pat) != *negated),
            Val::Null => None,
            other => Some(like(&render_default(other, ColType::Text), pat) != *negated),
        },
    }
}

fn render_default(v: &Val, ty: ColType) -> String {
    match v {
        Val::Null => String::new(),
        Val::Text(s) => s.clone(),
        Val::Num(n) => json_num(*n).to_string(),
        Val::Time(t) => {
            let _ = ty;
            t.format("%-m/%-d/%Y").to_string()
        }
    }
}

fn json_num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn render(v: &Val, ty: ColType) -> Option<Value> {
    Some(match (v, ty) {
        (Val::Null, _) => return None,
        (Val::Num(n), ColType::Id) => json!(json_num(*n).to_string()),
        (Val::Num(n), _) => json_num(*n),
        (Val::Time(_), _) => json!(render_default(v, ty)),
        (Val::Text(s), _) => json!(s),
    })
}

fn format_time(t: &DateTime<Utc>, fmt: &[FmtPart]) -> String {
    t.format(&chrono_fmt(fmt)).to_string()
}

/// Sort key for one output row: SQL NULLs sort last ascending, first descending (Oracle).
fn order_cmp(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Greater,
        (_, Val::Null) => Ordering::Less,
        _ => coerce_cmp(a, b).unwrap_or(Ordering::Equal),
    }
}

impl Query {
    /// Runs the query; returns every matching row (paging is applied by the caller).
    pub fn run(&self, db: &Db) -> Vec<Value> {
        self.evaluate(self.snapshot(db))
    }

    /// The rows of the queried table that pass the WHERE clause (the only step that needs
    /// the store; callers hold its lock for this part only).
    pub fn snapshot(&self, db: &Db) -> Snapshot {
        Snapshot(
            self.table
                .rows(db)
                .into_iter()
                .filter(|r| {
                    self.filter
                        .as_ref()
                        .is_none_or(|f| eval(f, r) == Some(true))
                })
                .collect(),
        )
    }

    /// Orders and renders a snapshot's rows.
    pub fn evaluate(&self, snapshot: Snapshot) -> Vec<Value> {
        let cols = self.table.columns();
        let mut rows: Vec<Vec<Val>> = snapshot.0;
        let out_val = |row: &[Val], item: &SelItem| -> Val {
            match &item.expr {
                SelExpr::Col(c) => row[*c].clone(),
                SelExpr::ToChar(c, fmt) => match &row[*c] {
                    Val::Time(t) => Val::Text(format_time(t, fmt)),
                    Val::Null => Val::Null,
                    other => Val::Text(render_default(other, cols[*c].1)),
                },
            }
        };
        if !self.order.is_empty() {
            rows.sort_by(|a, b| {
                for (key, desc) in &self.order {
                    let (x, y) = match key {
                        OrderKey::Col(c) => (a[*c].clone(), b[*c].clone()),
                        OrderKey::Output(i) => {
                            (out_val(a, &self.items[*i]), out_val(b, &self.items[*i]))
                        }
                    };
                    let mut o = order_cmp(&x, &y);
                    if *desc {
                        o = o.reverse();
                    }
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
        rows.iter()
            .map(|row| {
                let mut m = Map::new();
                m.insert("links".into(), json!([]));
                for item in &self.items {
                    let ty = match item.expr {
                        SelExpr::Col(c) => cols[c].1,
                        SelExpr::ToChar(..) => ColType::Text,
                    };
                    if let Some(v) = render(&out_val(row, item), ty) {
                        m.insert(item.name.clone(), v);
                    }
                }
                Value::Object(m)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cdc_query() {
        let q = parse(
            "SELECT id, TO_CHAR(lastModifiedDate, 'YYYY-MM-DD HH24:MI:SS') AS modified FROM item \
             WHERE lastModifiedDate >= TO_TIMESTAMP('2026-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') \
             ORDER BY lastModifiedDate ASC, id ASC",
        )
        .unwrap();
        assert_eq!(q.items.len(), 2);
        assert_eq!(q.items[1].name, "modified");
        assert_eq!(q.order.len(), 2);
    }

    #[test]
    fn reports_helpful_errors() {
        let e = parse("SELECT id FROM item WHERE").unwrap_err();
        assert!(e.detail.contains("end of query"), "{}", e.detail);
        let e = parse("SELECT nope FROM item").unwrap_err();
        assert!(e.detail.contains("Field 'nope'"), "{}", e.detail);
        let e = parse("SELECT id FROM nowhere").unwrap_err();
        assert!(e.detail.contains("Record 'nowhere'"), "{}", e.detail);
        let e = parse("SELECT id FROM item WHERE id = = 3").unwrap_err();
        assert!(e.detail.contains("near '=' at position 32"), "{}", e.detail);
        assert!(
            parse(
                "SELECT id FROM item i WHERE i.id > 3 AND (i.itemid LIKE 'A%' OR i.itemid IS NULL)"
            )
            .is_ok()
        );
        assert!(
            parse("select * from transaction where type in ('SalesOrd') order by 1 desc;").is_ok()
        );
    }

    #[test]
    fn date_format_round_trip() {
        let t = to_timestamp("2026-03-04 05:06:07", "YYYY-MM-DD HH24:MI:SS").unwrap();
        assert_eq!(
            format_time(&t, &parse_fmt("YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"").unwrap()),
            "2026-03-04T05:06:07Z"
        );
        let frac = to_timestamp("2023-11-14 22:13:20.5", "YYYY-MM-DD HH24:MI:SS.FF").unwrap();
        assert_eq!(frac.timestamp_subsec_millis(), 500);
        assert_eq!(frac.timestamp(), 1_700_000_000);
        assert!(like("WEB-1", "WEB%"));
        assert!(!like("XWEB", "WEB%"));
    }
}
