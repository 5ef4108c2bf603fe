//! weft's per-row status write-back: `synced` or the reason in words in the status column, the
//! time of the last sync in the synced-at column. Both columns are found by header and
//! created at the end of row 1 when absent; rows are found by key in the round's own read.

use chrono::Utc;
use serde_json::{Value, json};
use weft_platform::ConnectorError;

use crate::a1_cell;
use crate::client::SheetsClient;
use crate::config::Layout;
use crate::table::Table;

/// The status of a row that synced.
pub const SYNCED: &str = "synced";

/// Cells to write: `(range, rows of values)`.
pub type CellWrites = Vec<(String, Vec<Vec<Value>>)>;

/// The status and synced-at columns (0-based), and the header cells to write for the ones
/// that do not exist yet.
pub fn columns(table: &Table, layout: &Layout, sheet: &str) -> (usize, usize, CellWrites) {
    let mut next = table.headers.len();
    let mut writes = Vec::new();
    let mut find = |header: &str| match table.col(header) {
        Some(c) => c,
        None => {
            let c = next;
            next += 1;
            writes.push((a1_cell(sheet, c, 1), vec![vec![json!(header)]]));
            c
        }
    };
    let s = find(&layout.status);
    let t = find(&layout.synced_at);
    (s, t, writes)
}

/// The time written in the synced-at column.
pub fn now_text() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Which row a status is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The row (or rows) holding this key.
    Key(String),
    /// A row without a key: the one at this row number, if it still holds these cells.
    Keyless {
        /// The row number when it was read.
        row: u32,
        /// Its cells then ([`crate::table::fingerprint`]).
        fingerprint: String,
    },
}

/// Writes `(target, status, synced)` for each row (a synced row gets the time too), finding
/// each row in `table`, the change capture's read of this round (a row appended since is
/// not in it: its status waits for the next round). Returns the positions written.
pub async fn write(
    client: &SheetsClient,
    layout: &Layout,
    sheet: &str,
    table: &Table,
    statuses: &[(Target, String, bool)],
) -> Result<Vec<usize>, ConnectorError> {
    let Some(key_col) = table.col(&layout.key) else {
        return Ok(Vec::new());
    };
    let (status_col, time_col, mut data) = columns(table, layout, sheet);
    let now = now_text();
    let mut written = Vec::new();
    let own = crate::table::own_columns(table, layout);
    for (n, (target, text, synced)) in statuses.iter().enumerate() {
        let rows: Vec<usize> = match target {
            Target::Key(key) => (0..table.rows.len())
                .filter(|i| table.key_at(*i, key_col) == *key)
                .collect(),
            Target::Keyless { row, fingerprint } => {
                let i = (*row as usize).saturating_sub(2);
                let same = *row >= 2
                    && i < table.rows.len()
                    && table.key_at(i, key_col).is_empty()
                    && crate::table::fingerprint(table, i, &own) == *fingerprint;
                if same { vec![i] } else { Vec::new() }
            }
        };
        if rows.is_empty() {
            continue;
        }
        for i in rows {
            let row = Table::row_number(i) as usize;
            data.push((a1_cell(sheet, status_col, row), vec![vec![json!(text)]]));
            if *synced {
                data.push((a1_cell(sheet, time_col, row), vec![vec![json!(now)]]));
            }
        }
        written.push(n);
    }
    if !written.is_empty() {
        client.batch_update(&data).await?;
    }
    Ok(written)
}
