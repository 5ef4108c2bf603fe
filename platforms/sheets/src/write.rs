//! Writes to the sheet: a command sets fields of the row that holds its key *when the write
//! runs* (people insert and re-sort rows, so no row number is remembered), or appends a row
//! when no row holds it. A batch of commands is one read of the sheet (shared with the change
//! capture and other batches: [`crate::read`]) and at most two writes (`values:batchUpdate`
//! for existing rows, `values:append` for new ones); each written row gets `synced` and the
//! time in weft's status columns.
//!
//! Command bodies: `{"key": "MUG-1", "fields": {"price": 9.5, "stock": 7}}` (the key may come
//! as `sku`, the target id or the external id; without `fields`, the body's other members are
//! the fields). A `set-quantity` command sets `stock` from `quantity` and, with an expected
//! quantity, refuses as stale when the cell holds another number. With `"only_if_present":
//! true` (a row weft has read) a command whose row is gone is refused as stale, never appended;
//! with `"expected": {"price": 8.5}` (what the cells held when weft read the row) a command is
//! refused as stale when a person changed one of them since: their edit is read and merged,
//! never overwritten.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_platform::write::{bad_field, missing};
use weft_platform::{ConnectorError, WriteCommand, WriteOp, WriteOutcome, version::format_ts};

use crate::client::SheetsClient;
use crate::config::Layout;
use crate::table::{self, Table};
use crate::{PLATFORM, a1_cell, status};

/// One row write, as a batched call's input carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowWrite {
    /// The row's key.
    pub key: String,
    /// Field name → value.
    pub fields: Map<String, Value>,
    /// The stock the row must hold for the write to apply.
    #[serde(default)]
    pub expected_stock: Option<i64>,
    /// What each written cell held when weft last read the row: a cell a person changed
    /// since refuses the write as stale (their edit is read and merged, never overwritten).
    #[serde(default)]
    pub expected: Map<String, Value>,
    /// The row must be on the sheet: a write for a row weft has read is never turned into a
    /// new row when the person removed it meanwhile (it is refused as stale instead).
    #[serde(default)]
    pub only_if_present: bool,
}

/// The row write a command asks for.
pub fn row_write(cmd: &WriteCommand) -> Result<RowWrite, ConnectorError> {
    let body = cmd.body.as_object().cloned().unwrap_or_default();
    let key = body
        .get("key")
        .or_else(|| body.get("sku"))
        .map(table::text)
        .filter(|k| !k.is_empty())
        .or_else(|| cmd.target_id.clone())
        .or_else(|| cmd.external_id.clone())
        .ok_or_else(|| missing(PLATFORM, "key", cmd))?;
    let mut fields = match body.get("fields") {
        Some(Value::Object(f)) => f.clone(),
        _ => {
            let mut f = body.clone();
            for k in [
                "key",
                "sku",
                "quantity",
                "id",
                "sheet",
                "extra",
                "only_if_present",
            ] {
                f.remove(k);
            }
            f
        }
    };
    let mut expected_stock = None;
    if matches!(cmd.op, WriteOp::SetQuantity | WriteOp::AdjustQuantity) {
        let q = body
            .get("quantity")
            .or_else(|| fields.get("stock"))
            .and_then(Value::as_i64)
            .ok_or_else(|| missing(PLATFORM, "quantity", cmd))?;
        if cmd.op == WriteOp::AdjustQuantity {
            return Err(bad_field(
                PLATFORM,
                "op",
                "a sheet holds absolute quantities: use set-quantity",
            ));
        }
        fields.insert("stock".into(), json!(q));
        expected_stock = cmd.expected_quantity;
    }
    let only_if_present = body
        .get("only_if_present")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let expected = match body.get("expected") {
        Some(Value::Object(e)) => e.clone(),
        _ => Map::new(),
    };
    Ok(RowWrite {
        key,
        fields,
        expected_stock,
        expected,
        only_if_present,
    })
}

/// Row writes' results, one per write in order, and when the sheet answered the writes.
pub type Applied = (
    Vec<Result<WriteOutcome, ConnectorError>>,
    chrono::DateTime<Utc>,
);

/// Applies row writes to the sheet as `values` shows it (a read that started no earlier than
/// the writes were asked for: [`crate::read::SharedRead`]). `Err` when the calls were not
/// answered.
pub async fn apply(
    client: &SheetsClient,
    layout: &Layout,
    sheet: &str,
    values: &[Vec<Value>],
    writes: &[RowWrite],
) -> Result<Applied, ConnectorError> {
    let t = Table::from_values(values.to_vec());
    let key_col = t.col(&layout.key).ok_or_else(|| {
        bad_field(
            PLATFORM,
            "key",
            &format!("the sheet has no `{}` column in row 1", layout.key),
        )
    })?;
    let (status_col, time_col, header_writes) = status::columns(&t, layout, sheet);
    let column_of = |field: &str| -> Option<usize> {
        if field == "sku" {
            return Some(key_col);
        }
        layout
            .fields
            .iter()
            .find(|(f, _)| f == field)
            .and_then(|(_, h)| t.col(h))
    };
    let now_text = status::now_text();
    let mut data = header_writes;
    let mut appended: Vec<Vec<Value>> = Vec::new();
    let mut results = Vec::new();
    let width = t.headers.len().max(status_col + 1).max(time_col + 1);
    for w in writes {
        let mut cells: Vec<(usize, Value)> = Vec::new();
        let mut bad = None;
        for (field, value) in &w.fields {
            match column_of(field) {
                Some(c) => cells.push((c, value.clone())),
                None => {
                    let configured = layout.fields.iter().find(|(f, _)| f == field);
                    bad = Some(match configured {
                        // The header was renamed or deleted: the sheet's problem, not the
                        // record's; the write waits until the column is back.
                        Some((_, header)) => ConnectorError::Retryable {
                            system: PLATFORM,
                            status: None,
                            message: format!("the sheet has no `{header}` column in row 1"),
                            retry_after: Some(std::time::Duration::from_secs(60)),
                        },
                        None => bad_field(PLATFORM, field, "the sheet has no column for it"),
                    });
                    break;
                }
            }
        }
        if let Some(e) = bad {
            results.push(Err(e));
            continue;
        }
        let rows: Vec<usize> = (0..t.rows.len())
            .filter(|i| t.key_at(*i, key_col) == w.key)
            .collect();
        if rows.len() > 1 {
            results.push(Err(bad_field(
                PLATFORM,
                "key",
                &format!("`{}` is on more than one row", w.key),
            )));
            continue;
        }
        if rows.is_empty() && w.only_if_present {
            results.push(Err(ConnectorError::Stale {
                system: PLATFORM,
                what: format!("row `{}`", w.key),
                message: "the row is not on the sheet any more; it is not added back".into(),
            }));
            continue;
        }
        let mut doc_cells: Vec<Value> = match rows.first() {
            Some(i) => (0..width).map(|c| t.cell(*i, c).clone()).collect(),
            None => {
                let mut r = vec![Value::Null; width];
                r[key_col] = json!(w.key);
                r
            }
        };
        if let (Some(expected), Some(i)) = (w.expected_stock, rows.first())
            && let Some(c) = column_of("stock")
        {
            let held = t.cell(*i, c);
            if held.as_f64() != Some(expected as f64) {
                results.push(Err(ConnectorError::Stale {
                    system: PLATFORM,
                    what: format!("stock of row `{}`", w.key),
                    message: format!("the sheet holds {}, not {expected}", table::text(held)),
                }));
                continue;
            }
        }
        if let Some(i) = rows.first()
            && let Some((field, _)) = w.expected.iter().find(|(field, held)| {
                column_of(field).is_some_and(|c| !same_cell(t.cell(*i, c), held))
            })
        {
            results.push(Err(ConnectorError::Stale {
                system: PLATFORM,
                what: format!("{field} of row `{}`", w.key),
                message: "the cell changed since weft read it".into(),
            }));
            continue;
        }
        for (c, v) in &cells {
            doc_cells[*c] = v.clone();
        }
        doc_cells[status_col] = json!(status::SYNCED);
        doc_cells[time_col] = json!(now_text);
        match rows.first() {
            Some(i) => {
                let row = Table::row_number(*i) as usize;
                for (c, v) in cells.iter().cloned().chain([
                    (status_col, json!(status::SYNCED)),
                    (time_col, json!(now_text)),
                ]) {
                    let v = if v.is_null() { json!("") } else { v };
                    data.push((a1_cell(sheet, c, row), vec![vec![v]]));
                }
            }
            None => appended.push(
                doc_cells
                    .iter()
                    .map(|v| if v.is_null() { json!("") } else { v.clone() })
                    .collect(),
            ),
        }
        // The row as the change capture will read it.
        let mut after = t.clone();
        after.rows = vec![doc_cells];
        // A row weft appended may be incomplete until its price and stock are written (they
        // follow once the row exists): it is answered all the same, so the processing step
        // learns the row exists.
        let document = table::bind(&after, layout, &Default::default())
            .ok()
            .map(|cols| table::document(&after, layout, &cols, 0, sheet));
        results.push(Ok(WriteOutcome {
            target_id: w.key.clone(),
            // Set once the sheet answered the writes (below).
            version: None,
            document,
            children: Vec::new(),
            applied: true,
            created: false,
        }));
    }
    if !data.is_empty() && results.iter().any(Result::is_ok) {
        client.batch_update(&data).await?;
    }
    if !appended.is_empty() {
        client
            .append(&format!("{}!A1", crate::sheet_range(sheet)), appended)
            .await?;
    }
    // The writes' version is when the sheet answered them: every read sent after it shows
    // them, so a reading that does not show them is never taken for newer (the writes may
    // have waited for the quota after this batch's read).
    let answered = Utc::now();
    let version = format_ts(answered);
    for o in results.iter_mut().flatten() {
        o.version = Some(version.clone());
    }
    Ok((results, answered))
}

/// Whether a cell holds what weft read: empty and `null` alike, numbers by value, text trimmed.
fn same_cell(cell: &Value, held: &Value) -> bool {
    match (cell, held) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) if a.is_null() || b.is_null() => table::text(a) == table::text(b),
        (a, b) => table::text(a) == table::text(b) && a.is_number() == b.is_number(),
    }
}

/// The error for a write whose result went missing (never expected).
pub fn missing_result() -> ConnectorError {
    bad_field(PLATFORM, "rows", "no result for the write")
}
