//! A sheet read as a table: headers in row 1, one record per row keyed by the key column,
//! columns found by header (trimmed, case-insensitive), and the row documents weft journals.
//!
//! A row document (journal kind `variant`, entity id = the key):
//!
//! ```json
//! {"id": "MUG-1", "sheet": "Products", "sku": "MUG-1", "title": "Mug", "description": null,
//!  "price": 8.5, "compare_at_price": null, "stock": 25, "active": true,
//!  "extra": {"Vendor": "Acme"}}
//! ```
//!
//! Cells are as the API renders them unformatted: numbers as JSON numbers, `TRUE`/`FALSE` as
//! booleans, dates as shown, anything else (typos such as `12,5` or `abc`) as the string typed;
//! an empty cell is `null`. Only the fields whose headers are bound appear. `extra` holds the
//! other headed columns, but never weft's own status columns. A key gone from the sheet is
//! journaled as `{"id": key, "sheet": …, "deleted": true}`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::Layout;

/// A sheet's values: `headers` is row 1, `rows[i]` is sheet row `i + 2`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Row 1, as text.
    pub headers: Vec<String>,
    /// The data rows.
    pub rows: Vec<Vec<Value>>,
}

/// A cell as text: strings trimmed, numbers without a needless fraction.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f == f.trunc() && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        _ => String::new(),
    }
}

impl Table {
    /// From the rows a read returned.
    pub fn from_values(mut values: Vec<Vec<Value>>) -> Self {
        if values.is_empty() {
            return Table::default();
        }
        let headers = values.remove(0).iter().map(text).collect();
        Table {
            headers,
            rows: values,
        }
    }

    /// The 0-based column whose header is `header`.
    pub fn col(&self, header: &str) -> Option<usize> {
        let h = header.trim().to_lowercase();
        if h.is_empty() {
            return None;
        }
        self.headers
            .iter()
            .position(|x| x.trim().to_lowercase() == h)
    }

    /// A data cell (`Null` when empty or past the row's end).
    pub fn cell(&self, i: usize, c: usize) -> &Value {
        static NULL: Value = Value::Null;
        match self.rows.get(i).and_then(|r| r.get(c)) {
            Some(Value::String(s)) if s.is_empty() => &NULL,
            Some(v) => v,
            None => &NULL,
        }
    }

    /// The key of data row `i` (empty when none).
    pub fn key_at(&self, i: usize, key_col: usize) -> String {
        text(self.cell(i, key_col))
    }

    /// The sheet row number of data row `i`.
    pub fn row_number(i: usize) -> u32 {
        i as u32 + 2
    }
}

/// A row weft does not journal, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    /// Its sheet row number.
    pub row: u32,
    /// Its key, when it has one.
    pub key: Option<String>,
    /// Why, in words (what the status column shows).
    pub message: String,
    /// For a row without a key: what its cells hold ([`fingerprint`]), so its status is
    /// written only where a fresh read still finds that row.
    #[serde(skip)]
    pub fingerprint: Option<String>,
}

/// The columns weft writes itself (status, synced at).
pub fn own_columns(table: &Table, layout: &Layout) -> BTreeSet<usize> {
    [table.col(&layout.status), table.col(&layout.synced_at)]
        .into_iter()
        .flatten()
        .collect()
}

/// What data row `i` holds outside weft's own columns, as one text.
pub fn fingerprint(table: &Table, i: usize, own: &BTreeSet<usize>) -> String {
    let width = table.rows.get(i).map_or(0, Vec::len);
    (0..width)
        .filter(|c| !own.contains(c))
        .map(|c| text(table.cell(i, c)))
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// What one read of the sheet yields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capture {
    /// Row documents by key, with their row numbers.
    pub docs: BTreeMap<String, (u32, Value)>,
    /// Rows not journaled.
    pub problems: Vec<RowProblem>,
    /// Every key on the sheet, problem rows included (a key on a half-typed row is not gone).
    pub present: BTreeSet<String>,
}

/// The fields that must be filled for a row to be complete (when their columns exist).
pub const REQUIRED: [&str; 2] = ["title", "price"];

/// Binds the layout's headers to columns: `Ok(field → column)` with the key as `sku`, or the
/// sheet-level problem. A field bound before (`bound`) whose header is gone refuses the read:
/// journaling it would blank that field on every row.
pub fn bind(
    table: &Table,
    layout: &Layout,
    bound: &BTreeSet<String>,
) -> Result<BTreeMap<String, usize>, String> {
    let mut out = BTreeMap::new();
    let key = table.col(&layout.key).ok_or_else(|| {
        format!(
            "the key column `{}` is not in row 1 (renamed or deleted?); nothing is read until it is back",
            layout.key
        )
    })?;
    out.insert("sku".to_owned(), key);
    for (field, header) in &layout.fields {
        match table.col(header) {
            Some(c) => {
                out.insert(field.clone(), c);
            }
            None if bound.contains(field) => {
                return Err(format!(
                    "the column `{header}` is not in row 1 any more (renamed or deleted?); nothing is read until it is back or the config names its new header"
                ));
            }
            None => {}
        }
    }
    Ok(out)
}

/// The document of data row `i` (its key in the key column), complete or not: what
/// [`capture`] journals for a complete row, and what a write answers for the row it wrote.
pub fn document(
    table: &Table,
    layout: &Layout,
    cols: &BTreeMap<String, usize>,
    i: usize,
    sheet: &str,
) -> Value {
    let key = table.key_at(i, cols["sku"]);
    let own = own_columns(table, layout);
    let mapped: BTreeSet<usize> = cols.values().copied().collect();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(key));
    doc.insert("sheet".into(), json!(sheet));
    doc.insert("sku".into(), json!(key));
    for (field, _) in &layout.fields {
        if let Some(c) = cols.get(field) {
            doc.insert(field.clone(), table.cell(i, *c).clone());
        }
    }
    let extra: Map<String, Value> = (0..table.headers.len())
        .filter(|c| !own.contains(c) && !mapped.contains(c) && !table.headers[*c].is_empty())
        .map(|c| (table.headers[c].clone(), table.cell(i, c).clone()))
        .collect();
    doc.insert("extra".into(), Value::Object(extra));
    Value::Object(doc)
}

/// Reads every row into documents and problems.
pub fn capture(
    table: &Table,
    layout: &Layout,
    cols: &BTreeMap<String, usize>,
    sheet: &str,
) -> Capture {
    let key_col = cols["sku"];
    let own = own_columns(table, layout);
    let mut out = Capture::default();
    let mut rows_of: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for i in 0..table.rows.len() {
        let row = Table::row_number(i);
        let key = table.key_at(i, key_col);
        let has_data =
            (0..table.rows[i].len()).any(|c| !own.contains(&c) && !table.cell(i, c).is_null());
        if !has_data {
            continue;
        }
        if key.is_empty() {
            out.problems.push(RowProblem {
                row,
                key: None,
                message: format!("no {} in this row", layout.key),
                fingerprint: Some(fingerprint(table, i, &own)),
            });
            continue;
        }
        out.present.insert(key.clone());
        rows_of.entry(key.clone()).or_default().push(row);
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|f| cols.get(**f).is_some_and(|c| table.cell(i, *c).is_null()))
            .filter_map(|f| {
                layout
                    .fields
                    .iter()
                    .find(|(x, _)| x == f)
                    .map(|(_, h)| h.as_str())
            })
            .collect();
        if !missing.is_empty() {
            out.problems.push(RowProblem {
                row,
                key: Some(key),
                message: format!("incomplete row: {} empty", missing.join(" and ")),
                fingerprint: None,
            });
            continue;
        }
        let doc = document(table, layout, cols, i, sheet);
        out.docs.insert(key, (row, doc));
    }
    for (key, rows) in rows_of.into_iter().filter(|(_, r)| r.len() > 1) {
        out.docs.remove(&key);
        out.problems
            .retain(|p| p.key.as_deref() != Some(key.as_str()));
        let list: Vec<String> = rows.iter().map(u32::to_string).collect();
        for row in rows {
            out.problems.push(RowProblem {
                row,
                key: Some(key.clone()),
                message: format!("{} `{key}` is on rows {}", layout.key, list.join(", ")),
                fingerprint: None,
            });
        }
    }
    out.problems.sort_by_key(|p| p.row);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table::from_values(vec![
            vec![
                json!("SKU"),
                json!("Title"),
                json!("Price"),
                json!("Vendor"),
                json!("weft status"),
            ],
            vec![
                json!("A"),
                json!("Mug"),
                json!(8.5),
                json!("Acme"),
                json!("synced"),
            ],
            vec![json!(""), json!("Orphan"), json!(1)],
            vec![json!("B"), json!("Half")],
            vec![json!("C"), json!("Cap"), json!("12,5")],
            vec![json!("D"), json!("x"), json!(1)],
            vec![json!("D"), json!("y"), json!(2)],
            vec![],
            vec![
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("old status"),
            ],
            vec![json!(1001), json!("Numeric key"), json!(3)],
        ])
    }

    #[test]
    fn rows_become_documents_or_problems() {
        let t = table();
        let layout = Layout::default();
        let cols = bind(&t, &layout, &BTreeSet::new()).unwrap();
        assert_eq!(cols.get("stock"), None, "an unbound optional column");
        let c = capture(&t, &layout, &cols, "Products");
        assert_eq!(
            c.docs["A"].1,
            json!({"id": "A", "sheet": "Products", "sku": "A", "title": "Mug", "price": 8.5,
                   "extra": {"Vendor": "Acme"}})
        );
        assert_eq!(
            c.docs["C"].1["price"],
            json!("12,5"),
            "a typo is journaled for the mapper to refuse"
        );
        assert_eq!(c.docs["1001"].0, 10);
        let p: Vec<(u32, Option<&str>, &str)> = c
            .problems
            .iter()
            .map(|p| (p.row, p.key.as_deref(), p.message.as_str()))
            .collect();
        assert_eq!(
            p,
            vec![
                (3, None, "no SKU in this row"),
                (4, Some("B"), "incomplete row: Price empty"),
                (6, Some("D"), "SKU `D` is on rows 6, 7"),
                (7, Some("D"), "SKU `D` is on rows 6, 7"),
            ]
        );
        assert!(c.present.contains("B") && c.present.contains("D"));
    }

    #[test]
    fn a_bound_column_that_disappears_refuses_the_read() {
        let mut t = table();
        let layout = Layout::default();
        let bound: BTreeSet<String> = ["sku", "title", "price"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(bind(&t, &layout, &bound).is_ok());
        t.headers[2] = "Price (USD)".into();
        assert!(bind(&t, &layout, &bound).unwrap_err().contains("`Price`"));
        t.headers[0] = "Sku code".into();
        assert!(
            bind(&t, &layout, &bound)
                .unwrap_err()
                .contains("key column")
        );
        // Headers are matched trimmed and case-insensitively, wherever they stand.
        t.headers = vec![" price ".into(), "sku".into(), "TITLE".into()];
        let cols = bind(&t, &layout, &bound).unwrap();
        assert_eq!((cols["sku"], cols["price"], cols["title"]), (1, 0, 2));
    }
}
