//! A person's seeded edits of a sheet laid out as a table (headers in row 1, one record per
//! row, a key column): what [`crate::SheetsSim::person_chaos`] does.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::a1::col_letters;
use crate::book::Sheet;
use crate::cell::{self, CellValue};
use crate::sim::{ChaosMix, PersonEdit};

/// What a cell shows, as a person reads it.
pub(crate) fn text_of(s: &Sheet, r: u32, c: u32) -> String {
    match &s.get(r, c).value {
        CellValue::Text(t) => t.clone(),
        CellValue::Number(n) => cell::general(*n),
        CellValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        CellValue::Empty => String::new(),
    }
}

fn type_into(s: &mut Sheet, r: u32, c: u32, text: &str) {
    if r >= s.rows {
        s.rows = r + 1;
    }
    s.set(r, c, cell::typed(text));
}

fn numeric_value(rng: &mut ChaCha8Rng, header: &str) -> String {
    let h = header.to_lowercase();
    if h.contains("stock") || h.contains("qty") || h.contains("quantity") {
        rng.random_range(0..200).to_string()
    } else {
        format!(
            "{}.{:02}",
            rng.random_range(1..300),
            rng.random_range(0..100)
        )
    }
}

/// One edit, or `None` when the sheet offers nothing for the chosen kind.
pub fn one_edit(
    s: &mut Sheet,
    key_header: &str,
    rng: &mut ChaCha8Rng,
    mix: &ChaosMix,
    seed: u64,
    n: usize,
) -> Option<PersonEdit> {
    let headers: Vec<String> = (0..s.cols).map(|c| text_of(s, 0, c)).collect();
    let named: Vec<u32> = (0..s.cols)
        .filter(|&c| !headers[c as usize].is_empty())
        .collect();
    let key = headers.iter().position(|h| h == key_header)? as u32;
    let last = s.last_data_row().unwrap_or(0);
    let data: Vec<u32> = (1..=last)
        .filter(|&r| !text_of(s, r, key).is_empty())
        .collect();
    let numeric: Vec<u32> = named
        .iter()
        .copied()
        .filter(|&c| {
            c != key
                && data
                    .iter()
                    .any(|&r| matches!(s.get(r, c).value, CellValue::Number(_)))
        })
        .collect();
    let others: Vec<u32> = named.iter().copied().filter(|&c| c != key).collect();
    let weights = [
        mix.edit_cell,
        mix.typo,
        mix.insert_row,
        mix.add_row,
        mix.half_typed_row,
        mix.delete_row,
        mix.sort,
        mix.rename_header,
        mix.move_column,
    ];
    let total: u32 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut pick = rng.random_range(0..total);
    let mut kind = 0;
    for (i, w) in weights.iter().enumerate() {
        if pick < *w {
            kind = i;
            break;
        }
        pick -= w;
    }
    let any = |rng: &mut ChaCha8Rng, v: &[u32]| -> Option<u32> {
        (!v.is_empty()).then(|| v[rng.random_range(0..v.len())])
    };
    let new_key = format!("NEW-{seed}-{n}");
    match kind {
        0 => {
            let (r, c) = (any(rng, &data)?, any(rng, &others)?);
            let typed = if numeric.contains(&c) {
                numeric_value(rng, &headers[c as usize])
            } else {
                format!("{} v{n}", headers[c as usize])
            };
            type_into(s, r, c, &typed);
            Some(PersonEdit::EditCell {
                cell: format!("{}{}", col_letters(c), r + 1),
                typed,
            })
        }
        1 => {
            let (r, c) = (any(rng, &data)?, any(rng, &numeric)?);
            let typed = if rng.random_bool(0.5) {
                format!("{},{}", rng.random_range(1..100), rng.random_range(1..10))
            } else {
                "abc".to_owned()
            };
            type_into(s, r, c, &typed);
            Some(PersonEdit::Typo {
                cell: format!("{}{}", col_letters(c), r + 1),
                typed,
            })
        }
        2 => {
            let at = rng.random_range(1..=last + 1);
            s.insert_rows(at, 1);
            Some(PersonEdit::InsertRow { row: at + 1 })
        }
        3 => {
            let r = last + 1;
            type_into(s, r, key, &new_key);
            for &c in &others {
                let h = &headers[c as usize];
                let v = if numeric.contains(&c) {
                    numeric_value(rng, h)
                } else if h.to_lowercase().contains("active") {
                    "TRUE".into()
                } else {
                    format!("{h} {n}")
                };
                type_into(s, r, c, &v);
            }
            Some(PersonEdit::AddRow {
                row: r + 1,
                key: new_key,
            })
        }
        4 => {
            let r = last + 1;
            type_into(s, r, key, &new_key);
            if let Some(&c) = others.iter().find(|c| !numeric.contains(c)) {
                type_into(s, r, c, "Half");
            }
            Some(PersonEdit::HalfTypedRow {
                row: r + 1,
                key: new_key,
            })
        }
        5 => {
            let r = any(rng, &data)?;
            let k = text_of(s, r, key);
            s.delete_rows(r, 1);
            Some(PersonEdit::DeleteRow { row: r + 1, key: k })
        }
        6 => {
            let c = any(rng, &named)?;
            let descending = rng.random_bool(0.5);
            s.sort_rows(1, c, descending);
            Some(PersonEdit::Sort {
                column: col_letters(c),
                descending,
            })
        }
        7 => {
            let c = any(rng, &others)?;
            let from = headers[c as usize].clone();
            let to = format!("{from} (new)");
            type_into(s, 0, c, &to);
            Some(PersonEdit::RenameHeader { from, to })
        }
        _ => {
            let from = any(rng, &named)?;
            let to = any(rng, &named)?;
            if from == to {
                return None;
            }
            s.move_column(from, to);
            Some(PersonEdit::MoveColumn {
                header: headers[from as usize].clone(),
                from: col_letters(from),
                to: col_letters(to),
            })
        }
    }
}
