//! A person editing the sheet: structural edits and seeded chaos.

mod common;

use common::*;
use serde_json::json;
use weft_sim_sheets::{ChaosMix, PersonEdit, SheetsSim};

#[tokio::test]
async fn structural_edits_move_rows_and_columns() {
    let sim = SheetsSim::with_defaults();
    let id = catalog(&sim);
    sim.insert_rows(&id, Some("Products"), 3, 1).unwrap();
    assert_eq!(
        sim.values(&id, "Products!A2:A5").unwrap(),
        vec![vec!["MUG-1"], vec![], vec!["TEE-M"], vec!["CAP-1"]]
    );
    sim.sort_rows(&id, Some("Products"), 2, "C", true).unwrap();
    assert_eq!(
        sim.values(&id, "Products!A2:A4").unwrap(),
        vec![vec!["TEE-M"], vec!["CAP-1"], vec!["MUG-1"]]
    );
    sim.move_column(&id, Some("Products"), "C", "A").unwrap();
    assert_eq!(
        sim.values(&id, "Products!A1:C1").unwrap(),
        vec![vec!["Price", "SKU", "Title"]]
    );
    sim.delete_rows(&id, Some("Products"), 2, 1).unwrap();
    assert_eq!(sim.values(&id, "Products!B2").unwrap(), vec![vec!["CAP-1"]]);
    // Over HTTP too.
    let r = raw(
        &sim,
        "POST",
        &format!("/_sim/spreadsheets/{id}/rows/insert"),
        Some(json!({"sheet": "Products", "row": 2, "count": 2}).to_string()),
        "application/json",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(sim.values(&id, "Products!B4").unwrap(), vec![vec!["CAP-1"]]);
}

#[tokio::test]
async fn chaos_is_seeded_and_does_every_kind() {
    let run = |seed| {
        let sim = SheetsSim::with_defaults();
        let id = catalog(&sim);
        let mix = ChaosMix {
            rename_header: 1,
            ..ChaosMix::default()
        };
        let edits = sim
            .person_chaos(&id, Some("Products"), "SKU", seed, 200, &mix)
            .unwrap();
        (edits, sim.values(&id, "Products").unwrap())
    };
    let (a, sheet_a) = run(3);
    let (b, sheet_b) = run(3);
    assert_eq!(a, b);
    assert_eq!(sheet_a, sheet_b);
    let kinds: std::collections::BTreeSet<&str> = a
        .iter()
        .map(|e| match e {
            PersonEdit::EditCell { .. } => "edit",
            PersonEdit::Typo { .. } => "typo",
            PersonEdit::InsertRow { .. } => "insert",
            PersonEdit::AddRow { .. } => "add",
            PersonEdit::HalfTypedRow { .. } => "half",
            PersonEdit::DeleteRow { .. } => "delete",
            PersonEdit::Sort { .. } => "sort",
            PersonEdit::RenameHeader { .. } => "rename",
            PersonEdit::MoveColumn { .. } => "move",
        })
        .collect();
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    let typo = a.iter().find_map(|e| match e {
        PersonEdit::Typo { typed, .. } => Some(typed.clone()),
        _ => None,
    });
    assert!(typo.is_some_and(|t| t == "abc" || t.contains(',')));
    assert_ne!(run(4).0, a);
}
