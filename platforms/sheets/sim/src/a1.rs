//! A1 notation: parsing ranges as the Sheets API reads them (`Sheet1!A1:B2`, `'My sheet'!A:C`,
//! `A2:F`, `2:5`, a bare sheet title, no sheet name meaning the first sheet) and writing them
//! back as Google does in responses (sheet titles quoted only when needed).

use crate::error::GoogleError;

/// One side of a range: a column, a row, or both (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    /// Column index, when given.
    pub col: Option<u32>,
    /// Row index, when given.
    pub row: Option<u32>,
}

/// A parsed A1 range, not yet resolved against a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A1 {
    /// The sheet title, when the range names one.
    pub sheet: Option<String>,
    /// The cells: `None` for the whole sheet; else the first side and, after a colon, the
    /// second.
    pub area: Option<(Side, Option<Side>)>,
}

/// A range resolved against a sheet's grid: inclusive, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// First row.
    pub r0: u32,
    /// First column.
    pub c0: u32,
    /// Last row.
    pub r1: u32,
    /// Last column.
    pub c1: u32,
}

impl Rect {
    /// Rows covered.
    pub fn rows(&self) -> u32 {
        self.r1 - self.r0 + 1
    }
    /// Columns covered.
    pub fn cols(&self) -> u32 {
        self.c1 - self.c0 + 1
    }
}

/// The column letters of a 0-based index: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn col_letters(mut c: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The 0-based index of column letters (`A` → 0), case-insensitive; `None` past `ZZZ`.
pub fn col_index(letters: &str) -> Option<u32> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut n: u32 = 0;
    for b in letters.bytes() {
        if !b.is_ascii_alphabetic() {
            return None;
        }
        n = n * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1;
    }
    Some(n - 1)
}

/// A sheet title as Google writes it in a range: quoted (with `'` doubled) unless it is
/// letters, digits and `_`, starts with a letter or `_`, and is not itself a cell reference.
pub fn quote_sheet(title: &str) -> String {
    let plain = !title.is_empty()
        && title.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !title.starts_with(|c: char| c.is_ascii_digit())
        && parse_side(title).is_none_or(|s| s.col.is_none() || s.row.is_none());
    if plain {
        title.to_owned()
    } else {
        format!("'{}'", title.replace('\'', "''"))
    }
}

/// `Sheet!A1:B2` for a resolved rect (a single cell is `Sheet!A1`).
pub fn format_rect(title: &str, r: &Rect) -> String {
    let a = format!("{}{}", col_letters(r.c0), r.r0 + 1);
    if r.r0 == r.r1 && r.c0 == r.c1 {
        format!("{}!{a}", quote_sheet(title))
    } else {
        format!(
            "{}!{a}:{}{}",
            quote_sheet(title),
            col_letters(r.c1),
            r.r1 + 1
        )
    }
}

fn parse_side(s: &str) -> Option<Side> {
    let s = s.trim().replace('$', "");
    if s.is_empty() {
        return None;
    }
    let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (letters, digits) = s.split_at(split);
    let col = if letters.is_empty() {
        None
    } else {
        Some(col_index(letters)?)
    };
    let row = if digits.is_empty() {
        None
    } else {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = digits.parse().ok()?;
        if n == 0 {
            return None;
        }
        Some(n - 1)
    };
    Some(Side { col, row })
}

fn parse_area(s: &str) -> Option<(Side, Option<Side>)> {
    match s.split_once(':') {
        None => {
            let side = parse_side(s)?;
            // A lone column or row is not a range (`A` or `5`): only a cell is.
            (side.col.is_some() && side.row.is_some()).then_some((side, None))
        }
        Some((a, b)) => {
            let (a, b) = (parse_side(a)?, parse_side(b)?);
            // `A:5` mixes a column-only side with a row-only side.
            let a_col_only = a.row.is_none();
            let a_row_only = a.col.is_none();
            if (a_col_only && b.col.is_none()) || (a_row_only && b.row.is_none()) {
                return None;
            }
            Some((a, Some(b)))
        }
    }
}

/// Parses an A1 range. A string without `!` is a range on the first sheet when it reads as
/// one, else a sheet title.
pub fn parse(input: &str) -> Result<A1, GoogleError> {
    let bad = || GoogleError::bad_range(input);
    let s = input.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Some(rest) = s.strip_prefix('\'') {
        // A quoted title: up to a `'` not doubled.
        let mut title = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    title.push('\'');
                    chars.next();
                    continue;
                }
                end = Some(i + 1);
                break;
            }
            title.push(c);
        }
        let end = end.ok_or_else(bad)?;
        let after = &rest[end..];
        if after.is_empty() {
            return Ok(A1 {
                sheet: Some(title),
                area: None,
            });
        }
        let area = after.strip_prefix('!').ok_or_else(bad)?;
        return Ok(A1 {
            sheet: Some(title),
            area: Some(parse_area(area).ok_or_else(bad)?),
        });
    }
    if let Some((title, area)) = s.rsplit_once('!') {
        if title.is_empty() {
            return Err(bad());
        }
        return Ok(A1 {
            sheet: Some(title.to_owned()),
            area: Some(parse_area(area).ok_or_else(bad)?),
        });
    }
    match parse_area(s) {
        Some(area) => Ok(A1 {
            sheet: None,
            area: Some(area),
        }),
        None => Ok(A1 {
            sheet: Some(s.to_owned()),
            area: None,
        }),
    }
}

/// Resolves a parsed range's cells against a grid of `rows` × `cols`: open sides run to the
/// grid's edge, reversed corners are swapped, an explicit side past the grid is the
/// "exceeds grid limits" error (`text` is the range as the request gave it, sheet quoted).
pub fn resolve(
    area: Option<(Side, Option<Side>)>,
    rows: u32,
    cols: u32,
    text: &str,
) -> Result<Rect, GoogleError> {
    let (last_r, last_c) = (rows.saturating_sub(1), cols.saturating_sub(1));
    let rect = match area {
        None => Rect {
            r0: 0,
            c0: 0,
            r1: last_r,
            c1: last_c,
        },
        Some((a, None)) => {
            let (r, c) = (a.row.unwrap_or(0), a.col.unwrap_or(0));
            Rect {
                r0: r,
                c0: c,
                r1: r,
                c1: c,
            }
        }
        Some((a, Some(b))) => {
            let r0 = a.row.unwrap_or(0);
            let c0 = a.col.unwrap_or(0);
            let r1 = b.row.unwrap_or(last_r.max(r0));
            let c1 = b.col.unwrap_or(last_c.max(c0));
            Rect {
                r0: r0.min(r1),
                c0: c0.min(c1),
                r1: r0.max(r1),
                c1: c0.max(c1),
            }
        }
    };
    if rows == 0 || cols == 0 || rect.r1 > last_r || rect.c1 > last_c {
        return Err(GoogleError::invalid(format!(
            "Range ({text}) exceeds grid limits. Max rows: {rows}, max columns: {cols}"
        )));
    }
    Ok(rect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip() {
        for (i, s) in [
            (0, "A"),
            (25, "Z"),
            (26, "AA"),
            (51, "AZ"),
            (701, "ZZ"),
            (702, "AAA"),
        ] {
            assert_eq!(col_letters(i), s);
            assert_eq!(col_index(s), Some(i));
        }
        assert_eq!(col_index("a"), Some(0));
        assert_eq!(col_index("A1"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_sheet("Sheet1"), "Sheet1");
        assert_eq!(quote_sheet("My Sheet"), "'My Sheet'");
        assert_eq!(quote_sheet("Bob's"), "'Bob''s'");
        assert_eq!(quote_sheet("A1"), "'A1'");
        assert_eq!(quote_sheet("2024"), "'2024'");
    }

    #[test]
    fn forms() {
        let p = parse("'Bob''s list'!A2:F").unwrap();
        assert_eq!(p.sheet.as_deref(), Some("Bob's list"));
        let r = resolve(p.area, 1000, 26, "x").unwrap();
        assert_eq!((r.r0, r.c0, r.r1, r.c1), (1, 0, 999, 5));
        let r = resolve(parse("A:C").unwrap().area, 10, 26, "x").unwrap();
        assert_eq!((r.r0, r.c0, r.r1, r.c1), (0, 0, 9, 2));
        let r = resolve(parse("2:5").unwrap().area, 10, 4, "x").unwrap();
        assert_eq!((r.r0, r.c0, r.r1, r.c1), (1, 0, 4, 3));
        let r = resolve(parse("C3:A1").unwrap().area, 10, 4, "x").unwrap();
        assert_eq!((r.r0, r.c0, r.r1, r.c1), (0, 0, 2, 2));
        assert_eq!(
            parse("Products").unwrap().sheet.as_deref(),
            Some("Products")
        );
        assert!(parse("Products").unwrap().area.is_none());
        assert!(parse("Sheet1!A0").is_err());
        assert!(parse("Sheet1!A1:[5").is_err());
        assert!(parse("'open").is_err());
        let e = resolve(parse("A1:A2000").unwrap().area, 1000, 26, "Sheet1!A1:A2000").unwrap_err();
        assert_eq!(
            e.message,
            "Range (Sheet1!A1:A2000) exceeds grid limits. Max rows: 1000, max columns: 26"
        );
    }
}
