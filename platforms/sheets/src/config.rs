//! A Google Sheet's config section: `[systems.<name>]` with `platform = "sheets"`.
//!
//! ```toml
//! [systems.sheet]
//! platform = "sheets"
//! spreadsheet_id = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
//! sheet = "Products"                     # the tab; default: the first sheet
//! service_account = { file = "/etc/weft/acme-sheets.json" }   # the key file, a secret
//! # key_column = "SKU"
//! # title_column = "Title"
//! # description_column = "Description"
//! # price_column = "Price"
//! # compare_at_price_column = "Compare at price"
//! # stock_column = "Stock"
//! # active_column = "Active"
//! # status_column = "weft status"         # weft writes `synced` or the error here
//! # synced_at_column = "weft synced at"   # and the time of the last sync here
//! # token_url = "https://oauth2.googleapis.com/token"   # default: the key file's token_uri
//! # base_url = "https://sheets.googleapis.com"
//! # reads_per_minute = 50                 # below Google's 60 per user, for headroom
//! # writes_per_minute = 50
//! ```
//!
//! Columns are found by their header in row 1, not by position; a header set to `""` turns
//! that field off.

use std::any::Any;
use std::sync::Arc;

use url::Url;
use weft_config::{PlatformSection, Secret, Section, SystemSettings};

use crate::PLATFORM;

/// The sheet's section of the starter store `weft init --source sheet` writes.
pub const STARTER_SECTION: &str = r#"[systems.sheet]
platform = "sheets"
# The spreadsheet's id: the part of its URL between /d/ and /edit.
spreadsheet_id = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
# The tab that holds the products (default: the first).
sheet = "Products"
# A Google Cloud service account's JSON key file. Share the spreadsheet with the account's
# email (client_email in the file) as an Editor.
service_account = { file = "acme-sheets-key.json" }
# Columns are found by their header in row 1, wherever they stand: SKU (the key), Title,
# Description, Price, Compare at price, Stock, Active. A header set to "" turns a field off.
# weft adds two columns of its own: "weft status" (`synced`, or the row's problem in words,
# e.g. "price 'abc' is not a number") and "weft synced at".
# key_column = "SKU"
# price_column = "Price"
# stock_column = "Stock"
# Requests per minute weft allows itself (Google allows 60 per user and 300 per project).
# reads_per_minute = 50
# writes_per_minute = 50
# A key missing from this many reads in a row is a removed row (the store's plugin config
# `sheet_deleted_rows` says what follows: archive, the default, or ignore).
# delete_after_rounds = 2
# Point it at `weft sandbox` to develop offline.
# base_url = "http://127.0.0.1:9004"

"#;

const KEYS: [&str; 17] = [
    "spreadsheet_id",
    "sheet",
    "service_account",
    "key_column",
    "title_column",
    "description_column",
    "price_column",
    "compare_at_price_column",
    "stock_column",
    "active_column",
    "status_column",
    "synced_at_column",
    "token_url",
    "base_url",
    "reads_per_minute",
    "writes_per_minute",
    "delete_after_rounds",
];

/// Google's Sheets API.
pub const DEFAULT_BASE_URL: &str = "https://sheets.googleapis.com";

/// The fields a row carries and the headers that hold them by default.
pub const DEFAULT_FIELDS: [(&str, &str); 6] = [
    ("title", "Title"),
    ("description", "Description"),
    ("price", "Price"),
    ("compare_at_price", "Compare at price"),
    ("stock", "Stock"),
    ("active", "Active"),
];

/// What a sheet system's section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetsSettings {
    /// The spreadsheet's id (from its URL).
    pub spreadsheet_id: String,
    /// The sheet (tab) title; `None`: the first sheet.
    pub sheet: Option<String>,
    /// The service-account key file (JSON), as a secret reference.
    pub service_account: Secret,
    /// The layout: key column and field headers.
    pub layout: Layout,
    /// The token endpoint, when not the key file's `token_uri`.
    pub token_url: Option<Url>,
    /// The API base URL.
    pub base_url: Url,
    /// Read requests per minute weft allows itself.
    pub reads_per_minute: u32,
    /// Write requests per minute weft allows itself.
    pub writes_per_minute: u32,
    /// Rounds a key must be missing before its deletion is journaled.
    pub delete_after_rounds: u32,
}

/// Which headers hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The key column's header (`SKU`).
    pub key: String,
    /// Field name → header (fields turned off are absent).
    pub fields: Vec<(String, String)>,
    /// weft's status column.
    pub status: String,
    /// weft's last-synced column.
    pub synced_at: String,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            key: "SKU".into(),
            fields: DEFAULT_FIELDS
                .iter()
                .map(|(f, h)| ((*f).to_owned(), (*h).to_owned()))
                .collect(),
            status: "weft status".into(),
            synced_at: "weft synced at".into(),
        }
    }
}

impl SystemSettings for SheetsSettings {
    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.service_account]
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same_as(&self, other: &dyn SystemSettings) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }
}

/// Reads sheet sections.
#[derive(Debug, Clone, Copy, Default)]
pub struct SheetsSection;

impl PlatformSection for SheetsSection {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn read(&self, s: &mut Section<'_, '_, '_, '_>) -> Option<Arc<dyn SystemSettings>> {
        s.keys(&KEYS);
        let name = s.name();
        let id = s
            .string_req(
                "spreadsheet_id",
                "spreadsheet_id = \"1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms\"",
            )
            .and_then(|(id, span)| {
                if !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    Some((id, span))
                } else {
                    s.error(
                        &span,
                        format!("invalid spreadsheet id `{id}` in {name}"),
                        "the id is the part of the sheet's URL between /d/ and /edit",
                    );
                    None
                }
            });
        let sheet = s.string("sheet", "sheet = \"Products\"").map(|(t, _)| t);
        let service_account = s.secret_req("service_account", "GOOGLE_SERVICE_ACCOUNT_JSON");
        let mut layout = Layout::default();
        let mut ok = true;
        if let Some((k, span)) = s.string("key_column", "key_column = \"SKU\"") {
            if k.trim().is_empty() {
                s.error(
                    &span,
                    format!("`key_column` in {name} is empty"),
                    "the header of the column that identifies a row, e.g. \"SKU\"",
                );
                ok = false;
            } else {
                layout.key = k;
            }
        }
        for (field, header) in layout.fields.iter_mut() {
            let key = format!("{field}_column");
            if let Some((h, _)) = s.string(&key, &format!("{key} = \"{header}\"")) {
                *header = h;
            }
        }
        layout.fields.retain(|(_, h)| !h.trim().is_empty());
        if let Some((h, _)) = s.string("status_column", "status_column = \"weft status\"") {
            layout.status = h;
        }
        if let Some((h, _)) = s.string("synced_at_column", "synced_at_column = \"weft synced at\"")
        {
            layout.synced_at = h;
        }
        let mut headers: Vec<&str> = vec![
            layout.key.as_str(),
            layout.status.as_str(),
            layout.synced_at.as_str(),
        ];
        headers.extend(layout.fields.iter().map(|(_, h)| h.as_str()));
        let mut seen = std::collections::BTreeSet::new();
        for h in &headers {
            if !h.is_empty() && !seen.insert(h.trim().to_lowercase()) {
                if let Some(span) = s
                    .span_of("key_column")
                    .or_else(|| s.span_of("status_column"))
                    .or_else(|| s.span_of("spreadsheet_id"))
                {
                    s.error(
                        &span,
                        format!("header `{h}` is given to two columns in {name}"),
                        "each field needs its own column",
                    );
                }
                ok = false;
            }
        }
        let token_url = s.url(
            "token_url",
            "token_url = \"https://oauth2.googleapis.com/token\"",
        );
        let token_given = s.has("token_url");
        let base_given = s.has("base_url");
        let base_url = s.url("base_url", "base_url = \"https://sheets.googleapis.com\"");
        let reads = s.integer("reads_per_minute", 1, 300, "reads_per_minute = 50");
        let writes = s.integer("writes_per_minute", 1, 300, "writes_per_minute = 50");
        let delete_after = s.integer("delete_after_rounds", 1, 100, "delete_after_rounds = 2");
        if (reads.is_none() && s.has("reads_per_minute"))
            || (writes.is_none() && s.has("writes_per_minute"))
            || (delete_after.is_none() && s.has("delete_after_rounds"))
            || (token_url.is_none() && token_given)
        {
            return None;
        }
        if let Some((id, span)) = &id {
            s.claim_unique(
                "spreadsheet",
                &format!("{id}/{}", sheet.as_deref().unwrap_or("")),
                span,
                "two systems writing status into one sheet would overwrite each other",
            );
        }
        let base_url = match base_url {
            Some(u) => u,
            None if !base_given => Url::parse(DEFAULT_BASE_URL).ok()?,
            None => return None,
        };
        let ((spreadsheet_id, _), service_account) = (id?, service_account?);
        if !ok {
            return None;
        }
        Some(Arc::new(SheetsSettings {
            spreadsheet_id,
            sheet,
            service_account,
            layout,
            token_url,
            base_url,
            reads_per_minute: reads.map_or(50, |(n, _)| n as u32),
            writes_per_minute: writes.map_or(50, |(n, _)| n as u32),
            delete_after_rounds: delete_after.map_or(2, |(n, _)| n as u32),
        }))
    }
}
