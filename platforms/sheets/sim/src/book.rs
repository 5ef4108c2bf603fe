//! Spreadsheets and their sheets: the grid, reading a rectangle as the API renders it
//! (trailing empty cells and rows trimmed), writing one, finding the table `values:append`
//! appends to, and the structural edits a person makes (insert, delete, sort rows; move a
//! column).

use serde_json::{Value, json};

use crate::a1::{self, Rect};
use crate::cell::{self, Cell, CellValue, DateRender, Evaluated, InputOption, RenderOption};
use crate::error::GoogleError;

/// Rows or columns first (`majorDimension`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    /// `ROWS` (the default).
    Rows,
    /// `COLUMNS`.
    Columns,
}

impl Major {
    /// Parses the API value (`DIMENSION_UNSPECIFIED` is rows).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ROWS" | "DIMENSION_UNSPECIFIED" => Some(Major::Rows),
            "COLUMNS" => Some(Major::Columns),
            _ => None,
        }
    }

    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Major::Rows => "ROWS",
            Major::Columns => "COLUMNS",
        }
    }
}

/// One sheet (tab) of a spreadsheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// `sheetId` (the first sheet's is 0).
    pub sheet_id: i64,
    /// Its title.
    pub title: String,
    /// `gridProperties.rowCount`.
    pub rows: u32,
    /// `gridProperties.columnCount`.
    pub cols: u32,
    /// Cells by row then column; shorter rows and fewer rows are empty cells.
    pub cells: Vec<Vec<Cell>>,
}

static EMPTY: Cell = Cell {
    value: CellValue::Empty,
    format: cell::NumFormat::General,
    formula: None,
};

impl Sheet {
    /// An empty sheet of `rows` × `cols`.
    pub fn new(sheet_id: i64, title: impl Into<String>, rows: u32, cols: u32) -> Self {
        Sheet {
            sheet_id,
            title: title.into(),
            rows,
            cols,
            cells: Vec::new(),
        }
    }

    /// The cell at (row, col), 0-based.
    pub fn get(&self, r: u32, c: u32) -> &Cell {
        self.cells
            .get(r as usize)
            .and_then(|row| row.get(c as usize))
            .unwrap_or(&EMPTY)
    }

    /// Sets the cell at (row, col); the grid must already hold it.
    pub fn set(&mut self, r: u32, c: u32, cell: Cell) {
        let (r, c) = (r as usize, c as usize);
        if self.cells.len() <= r {
            if cell.is_empty() {
                return;
            }
            self.cells.resize_with(r + 1, Vec::new);
        }
        let row = &mut self.cells[r];
        if row.len() <= c {
            if cell.is_empty() {
                return;
            }
            row.resize_with(c + 1, Cell::default);
        }
        row[c] = cell;
    }

    /// The value a cell evaluates to (formulas computed).
    pub fn evaluated(&self, r: u32, c: u32, depth: u32) -> Evaluated {
        if r >= self.rows || c >= self.cols {
            return Evaluated::Error("#REF!");
        }
        let cell = self.get(r, c);
        match &cell.formula {
            None => Evaluated::Value(cell.value.clone()),
            Some(f) => match crate::formula::eval(f, &|r, c, d| self.evaluated(r, c, d), depth) {
                Ok(n) => Evaluated::Value(CellValue::Number(n)),
                Err(e) => Evaluated::Error(e),
            },
        }
    }

    /// One cell rendered.
    pub fn render(&self, r: u32, c: u32, opt: RenderOption, dates: DateRender) -> Value {
        cell::render(
            self.get(r, c),
            opt,
            dates,
            &|r, c, d| self.evaluated(r, c, d),
            0,
        )
    }

    /// The values of `rect` as the API returns them: trailing empty cells of each row (or
    /// column) and trailing empty rows (or columns) left out.
    pub fn read(
        &self,
        rect: &Rect,
        major: Major,
        opt: RenderOption,
        dates: DateRender,
    ) -> Vec<Vec<Value>> {
        let (outer, inner) = match major {
            Major::Rows => ((rect.r0, rect.r1), (rect.c0, rect.c1)),
            Major::Columns => ((rect.c0, rect.c1), (rect.r0, rect.r1)),
        };
        let mut out: Vec<Vec<Value>> = Vec::new();
        // Rows past the last stored one are empty: stop early on big open ranges.
        let stored_rows = self.cells.len() as u32;
        for o in outer.0..=outer.1 {
            if major == Major::Rows && o >= stored_rows {
                break;
            }
            let mut line = Vec::new();
            let mut last = 0;
            for i in inner.0..=inner.1 {
                let (r, c) = match major {
                    Major::Rows => (o, i),
                    Major::Columns => (i, o),
                };
                if major == Major::Columns && r >= stored_rows {
                    break;
                }
                let empty = self.get(r, c).is_empty();
                line.push(if empty {
                    Value::String(String::new())
                } else {
                    self.render(r, c, opt, dates)
                });
                if !empty {
                    last = line.len();
                }
            }
            line.truncate(last);
            out.push(line);
        }
        while out.last().is_some_and(Vec::is_empty) {
            out.pop();
        }
        out
    }

    /// Writes `values` from the top-left of `rect`, which they must fit (`range_text` names
    /// the range in the error). Null entries leave their cell alone. Returns the rect written
    /// and the number of cells set.
    pub fn write(
        &mut self,
        rect: &Rect,
        range_text: &str,
        values: &[Vec<Value>],
        major: Major,
        opt: InputOption,
    ) -> Result<(Rect, u32), GoogleError> {
        let mut cells = Vec::new();
        let (mut max_r, mut max_c) = (0u32, 0u32);
        for (o, line) in values.iter().enumerate() {
            for (i, v) in line.iter().enumerate() {
                if v.is_array() || v.is_object() {
                    return Err(GoogleError::invalid(format!(
                        "Invalid values[{o}][{i}]: {}",
                        if v.is_array() {
                            "list_value"
                        } else {
                            "struct_value"
                        }
                    )));
                }
                let (dr, dc) = match major {
                    Major::Rows => (o as u32, i as u32),
                    Major::Columns => (i as u32, o as u32),
                };
                let (r, c) = (rect.r0 + dr, rect.c0 + dc);
                if r > rect.r1 {
                    return Err(GoogleError::invalid(format!(
                        "Requested writing within range [{range_text}], but tried writing to row [{}]",
                        r + 1
                    )));
                }
                if c > rect.c1 {
                    return Err(GoogleError::invalid(format!(
                        "Requested writing within range [{range_text}], but tried writing to column [{}]",
                        a1::col_letters(c)
                    )));
                }
                max_r = max_r.max(dr + 1);
                max_c = max_c.max(dc + 1);
                if let Some(cell) = cell::from_input(v, opt) {
                    cells.push((r, c, cell));
                }
            }
        }
        let n = cells.len() as u32;
        for (r, c, cell) in cells {
            self.set(r, c, cell);
        }
        let written = Rect {
            r0: rect.r0,
            c0: rect.c0,
            r1: rect.r0 + max_r.max(1) - 1,
            c1: rect.c0 + max_c.max(1) - 1,
        };
        Ok((written, n))
    }

    fn row_has_data(&self, r: u32, c0: u32, c1: u32) -> bool {
        (c0..=c1).any(|c| !self.get(r, c).is_empty())
    }

    /// The table `values:append` finds from `rect`: the first run of consecutive rows with
    /// data in its columns at or below its first row (a table runs on past the range's last
    /// row, so `Sheet1!A1` finds the whole table), from the first of its columns holding data
    /// in those rows to the last adjacent column that does.
    pub fn find_table(&self, rect: &Rect) -> Option<Rect> {
        let last = self.cells.len() as u32;
        let first = (rect.r0..last).find(|&r| self.row_has_data(r, rect.c0, rect.c1))?;
        let mut end = first;
        while end + 1 < last && self.row_has_data(end + 1, rect.c0, rect.c1) {
            end += 1;
        }
        let cols: Vec<u32> = (rect.c0..=rect.c1)
            .filter(|&c| (first..=end).any(|r| !self.get(r, c).is_empty()))
            .collect();
        let (c0, mut c1) = (*cols.first()?, *cols.last()?);
        // The table runs on to the right while the next column holds data in its rows.
        while c1 + 1 < self.cols && (first..=end).any(|r| !self.get(r, c1 + 1).is_empty()) {
            c1 += 1;
        }
        Some(Rect {
            r0: first,
            r1: end,
            c0,
            c1,
        })
    }

    /// Inserts `n` empty rows before row `at` (0-based); the grid grows.
    pub fn insert_rows(&mut self, at: u32, n: u32) {
        let at = at.min(self.rows) as usize;
        if at < self.cells.len() {
            let tail = self.cells.split_off(at);
            self.cells.extend((0..n).map(|_| Vec::new()));
            self.cells.extend(tail);
        }
        self.rows += n;
    }

    /// Deletes `n` rows from row `at`; the grid shrinks.
    pub fn delete_rows(&mut self, at: u32, n: u32) {
        let at = at.min(self.rows);
        let n = n.min(self.rows - at);
        let (a, b) = (at as usize, (at + n) as usize);
        if a < self.cells.len() {
            self.cells.drain(a..b.min(self.cells.len()));
        }
        self.rows -= n;
    }

    /// Adds `n` columns at the right edge.
    pub fn append_columns(&mut self, n: u32) {
        self.cols += n;
    }

    /// Sorts the rows from `from` to the last row with data by column `col` (numbers before
    /// text, empties last, stable), as Data > Sort range does.
    pub fn sort_rows(&mut self, from: u32, col: u32, descending: bool) {
        let from = from as usize;
        if from >= self.cells.len() {
            return;
        }
        let mut tail = self.cells.split_off(from);
        let key = |row: &Vec<Cell>| -> (u8, f64, String) {
            match row.get(col as usize).map(|c| &c.value) {
                Some(CellValue::Number(n)) => (0, *n, String::new()),
                Some(CellValue::Bool(b)) => (1, f64::from(u8::from(*b)), String::new()),
                Some(CellValue::Text(t)) => (2, 0.0, t.to_lowercase()),
                _ => (3, 0.0, String::new()),
            }
        };
        tail.sort_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            if ka.0 == 3 || kb.0 == 3 {
                return ka.0.cmp(&kb.0);
            }
            let o =
                ka.0.cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(ka.2.cmp(&kb.2));
            if descending { o.reverse() } else { o }
        });
        self.cells.extend(tail);
    }

    /// Moves column `from` to position `to` (cut and insert), shifting those between.
    pub fn move_column(&mut self, from: u32, to: u32) {
        let width = self.cols as usize;
        for row in &mut self.cells {
            if row.len() < width {
                row.resize_with(width, Cell::default);
            }
            let c = row.remove(from as usize);
            row.insert((to as usize).min(row.len()), c);
            while row.last().is_some_and(Cell::is_empty) {
                row.pop();
            }
        }
    }

    /// The last row holding data, 0-based.
    pub fn last_data_row(&self) -> Option<u32> {
        (0..self.cells.len() as u32)
            .rev()
            .find(|&r| self.cells[r as usize].iter().any(|c| !c.is_empty()))
    }

    /// `properties` as `spreadsheets.get` returns them.
    pub fn properties(&self, index: usize) -> Value {
        json!({
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.rows, "columnCount": self.cols}
        })
    }
}

/// A spreadsheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Spreadsheet {
    /// `spreadsheetId`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its sheets in tab order.
    pub sheets: Vec<Sheet>,
    /// The next `sheetId` for an added sheet.
    pub next_sheet_id: i64,
    /// The accounts it is shared with; `None`: every account the simulator issued.
    pub shared_with: Option<std::collections::BTreeSet<String>>,
}

impl Spreadsheet {
    /// The sheet a parsed range names (the first sheet when it names none).
    pub fn sheet_index(&self, title: Option<&str>, range: &str) -> Result<usize, GoogleError> {
        match title {
            None if self.sheets.is_empty() => Err(GoogleError::bad_range(range)),
            None => Ok(0),
            Some(t) => self
                .sheets
                .iter()
                .position(|s| s.title == t)
                .ok_or_else(|| GoogleError::bad_range(range)),
        }
    }

    /// Resolves an A1 range: the sheet's index, the rect, and the range as responses write it.
    pub fn resolve(&self, range: &str) -> Result<(usize, Rect, String), GoogleError> {
        let parsed = a1::parse(range)?;
        let idx = self.sheet_index(parsed.sheet.as_deref(), range)?;
        let sheet = &self.sheets[idx];
        let text = match (&parsed.sheet, range.contains('!')) {
            (Some(_), true) | (None, _) => {
                let cells = range.rsplit_once('!').map_or(range, |(_, c)| c);
                format!("{}!{cells}", a1::quote_sheet(&sheet.title))
            }
            (Some(_), false) => a1::quote_sheet(&sheet.title),
        };
        let rect = a1::resolve(parsed.area, sheet.rows, sheet.cols, &text)?;
        Ok((idx, rect, a1::format_rect(&sheet.title, &rect)))
    }

    /// The `spreadsheets.get` body.
    pub fn render(&self, base_url: &str) -> Value {
        json!({
            "spreadsheetId": self.id,
            "properties": {
                "title": self.title,
                "locale": "en_US",
                "autoRecalc": "ON_CHANGE",
                "timeZone": "Etc/GMT",
                "defaultFormat": {
                    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
                    "verticalAlignment": "BOTTOM",
                    "wrapStrategy": "OVERFLOW_CELL",
                    "textFormat": {"fontFamily": "arial,sans,sans-serif", "fontSize": 10,
                        "bold": false, "italic": false, "strikethrough": false, "underline": false}
                }
            },
            "sheets": self.sheets.iter().enumerate()
                .map(|(i, s)| json!({"properties": s.properties(i)}))
                .collect::<Vec<_>>(),
            "spreadsheetUrl": format!("{base_url}/spreadsheets/d/{}/edit", self.id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Sheet {
        let mut s = Sheet::new(0, "S", 10, 4);
        for (r, row) in [
            ["SKU", "Price", "", ""],
            ["A", "2", "", ""],
            ["", "", "", ""],
            ["C", "1", "x", ""],
        ]
        .iter()
        .enumerate()
        {
            for (c, v) in row.iter().enumerate() {
                s.set(r as u32, c as u32, cell::typed(v));
            }
        }
        s
    }

    #[test]
    fn reads_trim_trailing_cells_and_rows() {
        let s = sheet();
        let all = Rect {
            r0: 0,
            c0: 0,
            r1: 9,
            c1: 3,
        };
        let v = s.read(
            &all,
            Major::Rows,
            RenderOption::Formatted,
            DateRender::Serial,
        );
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!([["SKU", "Price"], ["A", "2"], [], ["C", "1", "x"]])
        );
        let v = s.read(
            &all,
            Major::Columns,
            RenderOption::Unformatted,
            DateRender::Serial,
        );
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!([
                ["SKU", "A", "", "C"],
                ["Price", 2, "", 1],
                ["", "", "", "x"]
            ])
        );
    }

    #[test]
    fn table_structure_edits() {
        let mut s = sheet();
        let t = s
            .find_table(&Rect {
                r0: 0,
                c0: 0,
                r1: 9,
                c1: 3,
            })
            .unwrap();
        assert_eq!((t.r0, t.r1, t.c0, t.c1), (0, 1, 0, 1));
        s.sort_rows(1, 1, false);
        assert_eq!(s.get(1, 0).value, CellValue::Text("C".into()));
        assert_eq!(s.get(3, 0).value, CellValue::Empty);
        s.insert_rows(1, 2);
        assert_eq!(
            (s.rows, s.get(3, 0).value.clone()),
            (12, CellValue::Text("C".into()))
        );
        s.delete_rows(1, 2);
        assert_eq!(s.rows, 10);
        s.move_column(1, 0);
        assert_eq!(s.get(0, 0).value, CellValue::Text("Price".into()));
        assert_eq!(s.get(0, 1).value, CellValue::Text("SKU".into()));
    }
}
