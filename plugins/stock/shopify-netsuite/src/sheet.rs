//! Google Sheets side: a merchant's product sheet as the sheet connector journals it
//! (`docs/document-shapes.md` §1.4, one document per row, keyed by SKU) to canonical records,
//! and canonical records to row writes (§3.6). Kept apart from the storefront and ERP modules.
//!
//! - A row is one canonical `variant` (SKU, title, description, active), `price` (price,
//!   compare-at price) and `inventory-level` (its stock). Only the columns the sheet has are
//!   observed: the sheet says nothing of vendors, barcodes, options or catalog fields, so its
//!   records leave them out and the other systems keep theirs.
//! - Cells are read as a person types them. A cell weft cannot read refuses **that row only**,
//!   with the reason in words (`price 'abc' is not a number`), which the connector writes to
//!   the row's status column; the rest of the sheet syncs. Prices are numbers with a point for
//!   decimals: `12,5` is refused (`use a point for decimals: 12.5`), not read as 12.50. Google
//!   parses what a person types by the spreadsheet's locale, so in a sheet whose locale writes
//!   decimals with a comma, `12,5` already arrives as the number 12.5; text `12,5` reaches weft
//!   only from a sheet whose locale does not, where it is as likely a mistyped `1,250` as a
//!   decimal comma, and a wrong price on a storefront costs more than a price that waits.
//!   Negative prices and stock that is not a whole number are refused too.
//! - `Active`: `TRUE`/`FALSE` (a checkbox), or `yes`/`no`, `y`/`n`, `1`/`0`, `active`/`inactive`,
//!   `draft`, `archived`; an empty cell, or a sheet without the column, is active (a row on the
//!   sheet is for sale unless it says otherwise).
//! - Stock: the sheet's one stock figure is the level at the canonical location of config key
//!   `sheet_location` (default: the store's one location of `locations`, or `order_location`).
//!   Writes are absolute `set-quantity` commands; the host guards them with the quantity weft
//!   last read (the connector refuses a write over a cell the person changed meanwhile).
//! - A row removed from the sheet follows config key `sheet_deleted_rows`: `archive` (the
//!   default: the variant becomes inactive everywhere, a Shopify product is archived, never
//!   deleted) or `ignore` (nothing changes elsewhere). Once removed, weft never adds the row back.
//! - A row whose price cell is empty is one weft appended (people's half-typed rows are not
//!   journaled): it shows only its text fields and asks for its price and stock to be written.
//! - Writes: a row weft does not hold is appended with the variant's fields; price and stock
//!   follow once it exists. A row with a cell weft cannot read is not written at all until the
//!   merchant fixes it (writing the agreed value over a typo would hide the mistake and the
//!   status that names it).

use crate::canonical::{self, LevelFields, PriceFields, VariantFields};
use crate::config::Config;
use weft_plugin_sdk::json::{decimal_to_number, normalize_decimal, parse};
use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::{Map, Value, json};

/// The platform name.
pub const SYSTEM: &str = "sheets";

/// The variant fields a sheet never carries.
pub const UNMAPPED_VARIANT_FIELDS: [&str; 13] = [
    "vendor",
    "barcode",
    "product",
    "option_values",
    "product_type",
    "category",
    "tags",
    "weight",
    "weight_unit",
    "images",
    "seo_title",
    "seo_description",
    "custom",
];

pub use crate::config::DeletedRows;

/// A row as the mapper reads it: each field `None` when the sheet has no column for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The key (SKU).
    pub sku: String,
    /// Title (`Some(None)`: the column is there, the cell empty).
    pub title: Option<Option<String>>,
    /// Description.
    pub description: Option<Option<String>>,
    /// Price, a normalised decimal.
    pub price: Option<Option<String>>,
    /// Compare-at price, a normalised decimal.
    pub compare_at_price: Option<Option<String>>,
    /// Stock.
    pub stock: Option<Option<i64>>,
    /// Active (an empty cell is active).
    pub active: Option<bool>,
    /// Removed from the sheet.
    pub deleted: bool,
}

/// A cell as text, as a person reading the sheet sees it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A text cell (`None` when empty).
fn text_cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A money cell: `Ok(None)` when empty, `Err(reason in words)` when it is not an amount.
pub fn money_cell(field: &str, v: &Value) -> Result<Option<String>, String> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().to_owned(),
        other => return Err(format!("{field} '{}' is not a number", shown(other))),
    };
    if text.contains(',')
        && !text.contains('.')
        && normalize_decimal(&text.replace(',', ".")).is_some()
    {
        return Err(format!(
            "{field} '{text}' is not a number (use a point for decimals: {})",
            text.replace(',', ".")
        ));
    }
    let Some(norm) = normalize_decimal(&text) else {
        return Err(format!("{field} '{text}' is not a number"));
    };
    if norm.starts_with('-') {
        return Err(format!("{field} '{text}' is negative"));
    }
    Ok(Some(norm))
}

/// A stock cell: `Ok(None)` when empty.
pub fn stock_cell(v: &Value) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(f as i64)),
                _ => Err(format!("stock '{n}' is not a whole number")),
            }
        }
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(Some(i)),
            Err(_) if s.trim().parse::<f64>().is_ok() => {
                Err(format!("stock '{}' is not a whole number", s.trim()))
            }
            Err(_) => Err(format!("stock '{}' is not a number", s.trim())),
        },
        other => Err(format!("stock '{}' is not a number", shown(other))),
    }
}

/// An `Active` cell (empty: active).
pub fn active_cell(v: &Value) -> Result<bool, String> {
    match v {
        Value::Null => Ok(true),
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "" | "true" | "yes" | "y" | "1" | "active" => Ok(true),
            "false" | "no" | "n" | "0" | "inactive" | "draft" | "archived" => Ok(false),
            _ => Err(format!(
                "active '{}' is not yes or no (TRUE/FALSE, yes/no)",
                s.trim()
            )),
        },
        other => Err(format!("active '{}' is not yes or no", shown(other))),
    }
}

/// Reads a row document; `Err` carries every bad cell, in words.
pub fn read_row(key: &str, body: &Value) -> Result<Row, ItemError> {
    let Value::Object(o) = body else {
        return Err(ItemError::InvalidInput(format!(
            "row {key}: the document is not an object"
        )));
    };
    let sku = o
        .get("sku")
        .or_else(|| o.get("id"))
        .map(crate::sheet::shown)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| key.to_owned())
        .trim()
        .to_owned();
    if o.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(Row {
            sku,
            deleted: true,
            ..Row::default()
        });
    }
    let mut problems = Vec::new();
    let mut row = Row {
        sku,
        title: o.get("title").map(text_cell),
        description: o.get("description").map(text_cell),
        ..Row::default()
    };
    for (field, slot) in [
        ("price", &mut row.price),
        ("compare_at_price", &mut row.compare_at_price),
    ] {
        if let Some(v) = o.get(field) {
            let name = if field == "price" {
                "price"
            } else {
                "compare-at price"
            };
            match money_cell(name, v) {
                Ok(m) => *slot = Some(m),
                Err(p) => problems.push(p),
            }
        }
    }
    if let Some(v) = o.get("stock") {
        match stock_cell(v) {
            Ok(s) => row.stock = Some(s),
            Err(p) => problems.push(p),
        }
    }
    if let Some(v) = o.get("active") {
        match active_cell(v) {
            Ok(a) => row.active = Some(a),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(row)
    } else {
        Err(ItemError::InvalidInput(problems.join("; ")))
    }
}

/// The canonical location of the sheet's stock column: config `sheet_location`, else the
/// store's one location.
pub fn location(cfg: &Config) -> Option<&String> {
    cfg.sheet_location.as_ref()
}

/// What becomes of a row removed from the sheet.
pub fn deleted_rows(cfg: &Config) -> DeletedRows {
    cfg.sheet_deleted_rows
}

fn no_location() -> ItemError {
    ItemError::Config(
        "the sheet's stock has no location: set config key `sheet_location` (the canonical location id its Stock column counts, e.g. \"1\")".into(),
    )
}

/// Maps one row document to canonical records.
pub fn to_canonical(cfg: &Config, doc: &PlatformDoc) -> Result<ToCanonicalOutcome, ItemError> {
    if doc.kind != EntityKind::Variant {
        return Err(ItemError::Unsupported(format!(
            "sheets {} documents: a sheet journals one variant document per row",
            doc.kind
        )));
    }
    let body = parse(&format!("sheets row {}", doc.id), &doc.body)?;
    let row = read_row(&doc.id, &body)?;
    if row.deleted {
        return Ok(match deleted_rows(cfg) {
            DeletedRows::Archive => ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
                kind: EntityKind::Variant,
                key: row.sku.clone(),
                fields: json!({"sku": row.sku, "active": false}).to_string(),
            }]),
            DeletedRows::Ignore => ToCanonicalOutcome::Skipped(format!(
                "row {} was removed from the sheet; config `sheet_deleted_rows` = \"ignore\"",
                row.sku
            )),
        });
    }
    // A row weft appended shows only what weft wrote into it; its price and stock are still
    // to be written (a person's row without a price is never journaled).
    let appended = matches!(row.price, Some(None));
    let mut out = Vec::new();
    let variant = VariantFields {
        sku: row.sku.clone(),
        title: row.title.clone().flatten(),
        description: row.description.clone().flatten(),
        active: row.active.unwrap_or(true),
        ..VariantFields::default()
    };
    let mut omit: Vec<&str> = UNMAPPED_VARIANT_FIELDS.to_vec();
    if row.title.is_none() || matches!(row.title, Some(None)) {
        omit.push("title");
    }
    if row.description.is_none() {
        omit.push("description");
    }
    if appended && row.active.is_none() {
        omit.push("active");
    }
    out.push(canonical::record_without(
        EntityKind::Variant,
        &row.sku,
        &variant,
        &omit,
    ));
    if row.price.is_some() || row.compare_at_price.is_some() {
        let price = PriceFields {
            sku: row.sku.clone(),
            price: row.price.clone().flatten(),
            compare_at_price: row.compare_at_price.clone().flatten(),
            currencies: None,
        }
        .marked_down();
        let mut omit = Vec::new();
        if row.price.as_ref().is_none_or(Option::is_none) {
            omit.push("price");
        }
        if row.compare_at_price.is_none() || appended {
            omit.push("compare_at_price");
        }
        out.push(canonical::record_without(
            EntityKind::Price,
            &row.sku,
            &price,
            &omit,
        ));
    }
    match row.stock {
        Some(Some(quantity)) => {
            let loc = location(cfg).ok_or_else(no_location)?;
            let level = LevelFields {
                sku: row.sku.clone(),
                location: loc.clone(),
                quantity,
            };
            out.push(canonical::record(
                EntityKind::InventoryLevel,
                &crate::shopify::level_key(&level),
                &level,
            ));
        }
        Some(None) if appended => {
            // Not observed: the record only asks for the level to be written here.
            let loc = location(cfg).ok_or_else(no_location)?;
            out.push(CanonicalRecord {
                kind: EntityKind::InventoryLevel,
                key: format!("{}@{loc}", row.sku),
                fields: json!({"sku": row.sku, "location": loc}).to_string(),
            });
        }
        _ => {}
    }
    Ok(ToCanonicalOutcome::Mapped(out))
}

/// The row weft last read for a write, with its document's members (the sheet's columns).
type CurrentRow = Option<(Row, Map<String, Value>)>;

/// The row weft last read for a write, if any: `Ok(Err(skip reason))` when the row must not
/// be written.
fn current_row(req: &WriteRequest) -> Result<Result<CurrentRow, String>, ItemError> {
    let Some(text) = req.current.as_deref() else {
        return Ok(Ok(None));
    };
    let body = parse(
        &format!("current sheets {} {}", req.record.kind, req.record.key),
        text,
    )?;
    let sku = req.record.key.split('@').next().unwrap_or(&req.record.key);
    let fields = body.as_object().cloned().unwrap_or_default();
    match read_row(sku, &body) {
        Ok(row) if row.deleted => Ok(Err(format!(
            "row {sku} was removed from the sheet: weft does not add it back"
        ))),
        Ok(row) => Ok(Ok(Some((row, fields)))),
        Err(e) => Ok(Err(format!(
            "row {sku} has a cell weft cannot read ({}): it is written once the merchant fixes it",
            match e {
                ItemError::InvalidInput(m) | ItemError::Unsupported(m) | ItemError::Config(m) => m,
            }
        ))),
    }
}

/// A row write. `read`: the row as weft read it; the connector then neither appends it again
/// when the person removed it meanwhile nor writes over a cell the person changed since.
fn row_command(
    kind: EntityKind,
    sku: &str,
    fields: Map<String, Value>,
    read: Option<&Map<String, Value>>,
) -> WriteCommand {
    let expected: Option<Map<String, Value>> = read.map(|read| {
        fields
            .keys()
            .map(|f| (f.clone(), read.get(f).cloned().unwrap_or(Value::Null)))
            .collect()
    });
    let mut body = json!({"key": sku, "fields": fields});
    if let Some(expected) = expected {
        body["only_if_present"] = json!(true);
        body["expected"] = Value::Object(expected);
    }
    WriteCommand {
        system: SYSTEM.to_owned(),
        kind,
        op: WriteOp::Upsert,
        target_id: Some(sku.to_owned()),
        external_id: None,
        body: body.to_string(),
    }
}

fn money_value(m: &Option<String>) -> Value {
    m.as_deref()
        .and_then(decimal_to_number)
        .unwrap_or(Value::Null)
}

/// Canonical record → sheet commands.
pub fn from_canonical(cfg: &Config, req: &WriteRequest) -> Result<FromCanonicalOutcome, ItemError> {
    let current = match current_row(req)? {
        Ok(c) => c,
        Err(reason) => return Ok(FromCanonicalOutcome::Skipped(reason)),
    };
    // The columns the sheet has: those of the row weft read (every bound column is in it).
    let has = |field: &str| current.as_ref().is_none_or(|(_, f)| f.contains_key(field));
    match req.record.kind {
        EntityKind::Variant => {
            let want: VariantFields = canonical::parse(&req.record)?;
            let carried = canonical::carried(&req.record);
            let row = current.as_ref().map(|(r, _)| r);
            let mut fields = Map::new();
            if carried.iter().any(|f| f == "title")
                && has("title")
                && let Some(t) = &want.title
                && row.is_none_or(|r| r.title.as_ref().and_then(|t| t.as_ref()) != Some(t))
            {
                fields.insert("title".into(), json!(t));
            }
            if carried.iter().any(|f| f == "description")
                && has("description")
                && row.is_none_or(|r| r.description.clone().flatten() != want.description)
            {
                fields.insert("description".into(), json!(want.description));
            }
            if carried.iter().any(|f| f == "active")
                && has("active")
                && row.is_none_or(|r| r.active.unwrap_or(true) != want.active)
            {
                fields.insert("active".into(), json!(want.active));
            }
            if fields.is_empty() {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            }
            if row.is_none() && !fields.contains_key("title") {
                fields.insert("title".into(), json!(want.sku));
            }
            Ok(FromCanonicalOutcome::Commands(vec![row_command(
                EntityKind::Variant,
                &want.sku,
                fields,
                current.as_ref().map(|(_, f)| f),
            )]))
        }
        EntityKind::Price => {
            let want = canonical::parse::<PriceFields>(&req.record)?.normalized(&req.record.key)?;
            let carried = canonical::carried(&req.record);
            let row = current.as_ref().map(|(r, _)| r);
            let mut fields = Map::new();
            if carried.iter().any(|f| f == "price")
                && has("price")
                && want.price.is_some()
                && row.is_none_or(|r| r.price.clone().flatten() != want.price)
            {
                fields.insert("price".into(), money_value(&want.price));
            }
            if carried.iter().any(|f| f == "compare_at_price")
                && has("compare_at_price")
                && row.is_none_or(|r| r.compare_at_price.clone().flatten() != want.compare_at_price)
            {
                fields.insert(
                    "compare_at_price".into(),
                    money_value(&want.compare_at_price),
                );
            }
            if fields.is_empty() {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            }
            Ok(FromCanonicalOutcome::Commands(vec![row_command(
                EntityKind::Price,
                &want.sku,
                fields,
                current.as_ref().map(|(_, f)| f),
            )]))
        }
        EntityKind::InventoryLevel => {
            let want: LevelFields = canonical::parse(&req.record)?;
            if location(cfg) != Some(&want.location) {
                return Ok(FromCanonicalOutcome::Skipped(format!(
                    "location {} is not the sheet's (config key `sheet_location`)",
                    want.location
                )));
            }
            if !has("stock") {
                return Ok(FromCanonicalOutcome::Skipped(
                    "the sheet has no stock column".into(),
                ));
            }
            if current
                .as_ref()
                .is_some_and(|(r, _)| r.stock == Some(Some(want.quantity)))
            {
                return Ok(FromCanonicalOutcome::Commands(vec![]));
            }
            Ok(FromCanonicalOutcome::Commands(vec![WriteCommand {
                system: SYSTEM.to_owned(),
                kind: EntityKind::InventoryLevel,
                op: WriteOp::SetQuantity,
                target_id: Some(want.sku.clone()),
                external_id: None,
                body: json!({"key": want.sku, "quantity": want.quantity,
                    "only_if_present": current.is_some()})
                .to_string(),
            }]))
        }
        EntityKind::Product => Err(ItemError::Unsupported(
            "canonical product records: this mapper syncs variants and prices".into(),
        )),
        EntityKind::Customer | EntityKind::Order | EntityKind::Fulfillment | EntityKind::Refund => {
            Ok(FromCanonicalOutcome::Skipped(format!(
                "a product sheet holds no {}s",
                req.record.kind
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_read_as_a_person_types_them() {
        assert_eq!(money_cell("price", &json!(8.5)), Ok(Some("8.50".into())));
        assert_eq!(
            money_cell("price", &json!(" 12 ")),
            Ok(Some("12.00".into()))
        );
        assert_eq!(money_cell("price", &json!("")), Ok(None));
        assert_eq!(
            money_cell("price", &json!("abc")),
            Err("price 'abc' is not a number".into())
        );
        assert_eq!(
            money_cell("price", &json!("12,5")),
            Err("price '12,5' is not a number (use a point for decimals: 12.5)".into())
        );
        assert_eq!(
            money_cell("price", &json!(-3)),
            Err("price '-3' is negative".into())
        );
        assert_eq!(stock_cell(&json!(7.0)), Ok(Some(7)));
        assert_eq!(
            stock_cell(&json!(2.5)),
            Err("stock '2.5' is not a whole number".into())
        );
        assert_eq!(
            stock_cell(&json!("x")),
            Err("stock 'x' is not a number".into())
        );
        assert_eq!(active_cell(&json!("No")), Ok(false));
        assert_eq!(active_cell(&Value::Null), Ok(true));
        assert!(active_cell(&json!("maybe")).is_err());
    }

    #[test]
    fn every_bad_cell_of_a_row_is_named() {
        let e = read_row(
            "A",
            &json!({"id": "A", "sku": "A", "title": "T", "price": "abc", "stock": "1.5"}),
        )
        .unwrap_err();
        assert_eq!(
            e,
            ItemError::InvalidInput(
                "price 'abc' is not a number; stock '1.5' is not a whole number".into()
            )
        );
    }
}
