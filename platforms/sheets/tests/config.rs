//! The sheet's config section through the real loader: defaults, header overrides, a field
//! turned off, and the problems reported with file, line and hint.

use std::path::PathBuf;

use weft_config::{Config, Diagnostics};
use weft_sheets::config::{SheetsSection, SheetsSettings};

fn setup(store: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stores")).unwrap();
    std::fs::write(dir.path().join("weft.toml"), "stores_dir = \"stores\"\n").unwrap();
    std::fs::write(dir.path().join("stores").join("acme.toml"), store).unwrap();
    let host = dir.path().join("weft.toml");
    (dir, host)
}

fn load(store: &str) -> Result<Config, Diagnostics> {
    let (_dir, host) = setup(store);
    weft_config::load(&host, &[&SheetsSection])
}

const STORE: &str = r#"[store]
id = "acme"

[systems.prices]
platform = "sheets"
spreadsheet_id = "1OtherSpreadsheetId"
service_account = { env = "ACME_SHEETS_KEY" }

[systems.sheet]
platform = "sheets"
spreadsheet_id = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
sheet = "Products"
service_account = { env = "ACME_SHEETS_KEY" }
"#;

fn settings(c: &Config) -> SheetsSettings {
    c.stores[0]
        .system("sheet")
        .unwrap()
        .settings::<SheetsSettings>()
        .unwrap()
        .clone()
}

#[test]
fn defaults_and_overrides() {
    let c = load(STORE).unwrap_or_else(|d| panic!("{d}"));
    let s = settings(&c);
    assert_eq!(s.sheet.as_deref(), Some("Products"));
    assert_eq!(s.layout.key, "SKU");
    assert_eq!(s.layout.fields.len(), 6);
    assert_eq!(s.base_url.as_str(), "https://sheets.googleapis.com/");
    assert_eq!(
        (
            s.reads_per_minute,
            s.writes_per_minute,
            s.delete_after_rounds
        ),
        (50, 50, 2)
    );
    let c = load(&format!(
        "{STORE}key_column = \"Item code\"\nprice_column = \"Unit price\"\ndescription_column = \"\"\nbase_url = \"http://127.0.0.1:9\"\nreads_per_minute = 30\n"
    ))
    .unwrap_or_else(|d| panic!("{d}"));
    let s = settings(&c);
    assert_eq!(s.layout.key, "Item code");
    assert!(
        s.layout
            .fields
            .contains(&("price".into(), "Unit price".into()))
    );
    assert!(!s.layout.fields.iter().any(|(f, _)| f == "description"));
    assert_eq!(s.reads_per_minute, 30);
}

#[test]
fn problems_are_reported() {
    let d = load(&STORE.replace("1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "not/an id"))
        .unwrap_err();
    assert!(d.to_string().contains("invalid spreadsheet id"), "{d}");
    let d =
        load(&STORE.replace("service_account = { env = \"ACME_SHEETS_KEY\" }\n", "")).unwrap_err();
    assert!(d.to_string().contains("service_account"), "{d}");
    let d = load(&format!("{STORE}reads_per_minute = 1000\n")).unwrap_err();
    assert!(d.to_string().contains("reads_per_minute"), "{d}");
    let d = load(&format!("{STORE}title_column = \"SKU\"\n")).unwrap_err();
    assert!(d.to_string().contains("two columns"), "{d}");
    let d = load(&format!("{STORE}colour_column = \"Colour\"\n")).unwrap_err();
    assert!(d.to_string().contains("colour_column"), "{d}");
    // A key written inline is refused without being echoed.
    let d = load(&STORE.replace(
        "{ env = \"ACME_SHEETS_KEY\" }",
        "\"-----BEGIN PRIVATE KEY-----\"",
    ))
    .unwrap_err();
    assert!(!d.to_string().contains("BEGIN PRIVATE KEY"), "{d}");
}
