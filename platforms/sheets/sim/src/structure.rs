//! `spreadsheets.batchUpdate`, the structural subset client libraries use to manage a sheet:
//! `addSheet`, `deleteSheet`, `updateSheetProperties` (title, grid size), `insertDimension`,
//! `deleteDimension`, `appendDimension`. Other request kinds are refused with 400 naming them.

use serde_json::{Value, json};

use crate::book::{Sheet, Spreadsheet};
use crate::cell::Cell;
use crate::error::GoogleError;

fn sheet_pos(book: &Spreadsheet, id: &Value) -> Result<usize, GoogleError> {
    let id = id.as_i64().unwrap_or(0);
    book.sheets
        .iter()
        .position(|s| s.sheet_id == id)
        .ok_or_else(|| GoogleError::invalid(format!("No grid with id: {id}")))
}

fn insert_cols(s: &mut Sheet, at: u32, n: u32) {
    for row in &mut s.cells {
        if (at as usize) < row.len() {
            for _ in 0..n {
                row.insert(at as usize, Cell::default());
            }
        }
    }
    s.cols += n;
}

fn delete_cols(s: &mut Sheet, at: u32, n: u32) {
    for row in &mut s.cells {
        let a = (at as usize).min(row.len());
        let b = ((at + n) as usize).min(row.len());
        row.drain(a..b);
    }
    s.cols -= n;
}

/// Applies one request to `book`; returns its reply. `new_id` is the `sheetId` an added
/// sheet gets when the request does not choose one.
pub fn apply(book: &mut Spreadsheet, req: &Value, new_id: i64) -> Result<Value, GoogleError> {
    let Some((kind, body)) = req.as_object().and_then(|o| o.iter().next()) else {
        return Err(GoogleError::invalid("Must specify at least one request."));
    };
    match kind.as_str() {
        "addSheet" => {
            let p = &body["properties"];
            let title = p["title"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("Sheet{}", book.sheets.len() + 1));
            if book.sheets.iter().any(|s| s.title == title) {
                return Err(GoogleError::invalid(format!(
                    "A sheet with the name \"{title}\" already exists. Please enter another name."
                )));
            }
            let id = p["sheetId"].as_i64().unwrap_or(new_id);
            let rows = p
                .pointer("/gridProperties/rowCount")
                .and_then(Value::as_u64)
                .unwrap_or(1000) as u32;
            let cols = p
                .pointer("/gridProperties/columnCount")
                .and_then(Value::as_u64)
                .unwrap_or(26) as u32;
            let index = p["index"]
                .as_u64()
                .map_or(book.sheets.len(), |i| (i as usize).min(book.sheets.len()));
            book.sheets.insert(index, Sheet::new(id, title, rows, cols));
            Ok(json!({"addSheet": {"properties": book.sheets[index].properties(index)}}))
        }
        "deleteSheet" => {
            let i = sheet_pos(book, &body["sheetId"])?;
            if book.sheets.len() == 1 {
                return Err(GoogleError::invalid(
                    "You can't remove all the sheets in a document.",
                ));
            }
            book.sheets.remove(i);
            Ok(json!({}))
        }
        "updateSheetProperties" => {
            let p = &body["properties"];
            let i = sheet_pos(book, &p["sheetId"])?;
            let fields = body["fields"].as_str().unwrap_or("*");
            let wants = |f: &str| {
                fields == "*"
                    || fields
                        .split(',')
                        .any(|x| x.trim() == f || f.starts_with(&format!("{}.", x.trim())))
            };
            if wants("title")
                && let Some(t) = p["title"].as_str()
            {
                book.sheets[i].title = t.to_owned();
            }
            let s = &mut book.sheets[i];
            if wants("gridProperties.rowCount")
                && let Some(r) = p
                    .pointer("/gridProperties/rowCount")
                    .and_then(Value::as_u64)
            {
                let r = r as u32;
                if r < s.rows {
                    s.delete_rows(r, s.rows - r);
                } else {
                    s.rows = r;
                }
            }
            if wants("gridProperties.columnCount")
                && let Some(c) = p
                    .pointer("/gridProperties/columnCount")
                    .and_then(Value::as_u64)
            {
                let c = c as u32;
                if c < s.cols {
                    delete_cols(s, c, s.cols - c);
                } else {
                    s.cols = c;
                }
            }
            Ok(json!({}))
        }
        "insertDimension" | "deleteDimension" => {
            let r = &body["range"];
            let i = sheet_pos(book, &r["sheetId"])?;
            let start = r["startIndex"].as_u64().unwrap_or(0) as u32;
            let end = r["endIndex"].as_u64().unwrap_or(u64::from(start)) as u32;
            if end <= start {
                return Err(GoogleError::invalid("Range is empty."));
            }
            let s = &mut book.sheets[i];
            let rows = r["dimension"] == "ROWS";
            let limit = if rows { s.rows } else { s.cols };
            if kind == "deleteDimension" && end > limit {
                return Err(GoogleError::invalid(format!(
                    "Range ('{}'!{}) exceeds grid limits.",
                    s.title, end
                )));
            }
            match (kind.as_str(), rows) {
                ("insertDimension", true) => s.insert_rows(start, end - start),
                ("insertDimension", false) => insert_cols(s, start, end - start),
                (_, true) => s.delete_rows(start, end - start),
                (_, false) => delete_cols(s, start, end - start),
            }
            Ok(json!({}))
        }
        "appendDimension" => {
            let i = sheet_pos(book, &body["sheetId"])?;
            let n = body["length"].as_u64().unwrap_or(0) as u32;
            let s = &mut book.sheets[i];
            if body["dimension"] == "ROWS" {
                s.rows += n;
            } else {
                s.cols += n;
            }
            Ok(json!({}))
        }
        other => Err(GoogleError::invalid(format!(
            "{other} is not supported by the simulator"
        ))),
    }
}
