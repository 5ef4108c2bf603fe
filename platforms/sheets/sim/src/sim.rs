//! [`SheetsSim`]: the embeddable simulator handle, its shared state, and the Rust API for what
//! a person does in the sheet.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::a1;
use crate::auth::{BUILTIN_KEYS, ServiceAccount, Tokens};
use crate::book::{Major, Sheet, Spreadsheet};
use crate::cell::{DateRender, InputOption, RenderOption};
use crate::error::GoogleError;
use crate::quota::{Group, Quota, QuotaLimits};

/// The simulator's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed for ids, tokens and the person's chaos.
    pub seed: u64,
    /// The per-minute quotas.
    pub quota: QuotaLimits,
    /// How long an access token lives (Google: one hour; `expires_in` says one second less).
    pub token_lifetime: Duration,
    /// The URL clients reach the simulator at, when not the served address (used in the key
    /// file's `token_uri` and the audience check).
    pub base_url: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 7,
            quota: QuotaLimits::default(),
            token_lifetime: Duration::from_secs(3600),
            base_url: None,
        }
    }
}

/// The default service account's email.
pub const DEFAULT_ACCOUNT: &str = "weft-sync@weft-sandbox.iam.gserviceaccount.com";
/// A second account of the same project (another user for the per-user quota).
pub const OTHER_ACCOUNT: &str = "weft-other@weft-sandbox.iam.gserviceaccount.com";
/// The accounts' project.
pub const PROJECT_ID: &str = "weft-sandbox";
/// The project's number (in quota errors).
pub const PROJECT_NUMBER: u64 = 415_104_041_262;

/// One request the API answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// The API method, e.g. `values.get`.
    pub op: String,
    /// Read or write (`None` for the token endpoint and unknown paths).
    pub group: Option<Group>,
    /// The account, when authenticated.
    pub user: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Simulator clock, milliseconds.
    pub at_ms: u64,
}

/// Mutable state.
pub struct State {
    /// Spreadsheets by id.
    pub books: BTreeMap<String, Spreadsheet>,
    /// Issued tokens.
    pub tokens: Tokens,
    /// Quota windows.
    pub quota: Quota,
    /// The request log.
    pub requests: Vec<RequestRecord>,
    /// The next this many API requests answer 503.
    pub unavailable: u64,
    /// Ids and tokens.
    pub rng: ChaCha8Rng,
    /// Clock advances.
    pub offset: Duration,
}

/// State shared by the handlers and the Rust API.
pub struct Shared {
    /// Settings.
    pub config: SimConfig,
    /// The service accounts the simulator issued.
    pub accounts: Vec<ServiceAccount>,
    /// Everything that changes.
    pub state: Mutex<State>,
    start: tokio::time::Instant,
    base_url: OnceLock<String>,
}

impl Shared {
    /// The simulator clock: tokio time since creation plus advances.
    pub fn now(&self) -> Duration {
        self.start.elapsed() + self.state.lock().offset
    }

    /// The base URL clients use.
    pub fn base_url(&self) -> String {
        self.config
            .base_url
            .clone()
            .or_else(|| self.base_url.get().cloned())
            .unwrap_or_else(|| "http://localhost".into())
            .trim_end_matches('/')
            .to_owned()
    }

    /// The token endpoint's URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The account with this email.
    pub fn account(&self, email: &str) -> Option<&ServiceAccount> {
        self.accounts.iter().find(|a| a.client_email == email)
    }
}

/// A running HTTP server.
pub struct SimHandle {
    /// Bound address.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
}

impl SimHandle {
    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.join).await;
    }
}

/// What the person did, one edit of [`SheetsSim::person_chaos`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PersonEdit {
    /// Typed a new value into a cell.
    EditCell {
        /// The cell, e.g. `C4`.
        cell: String,
        /// What was typed.
        typed: String,
    },
    /// Typed a value that is not what the column holds (`12,5`, `abc`).
    Typo {
        /// The cell.
        cell: String,
        /// What was typed.
        typed: String,
    },
    /// Inserted a blank row before this 1-based row.
    InsertRow {
        /// Row number.
        row: u32,
    },
    /// Typed a complete new row.
    AddRow {
        /// Row number.
        row: u32,
        /// Its key.
        key: String,
    },
    /// Started a row and stopped half way (a key and a title, nothing else).
    HalfTypedRow {
        /// Row number.
        row: u32,
        /// Its key.
        key: String,
    },
    /// Deleted a row.
    DeleteRow {
        /// Row number.
        row: u32,
        /// The key it held.
        key: String,
    },
    /// Sorted the data rows by a column.
    Sort {
        /// Column letter.
        column: String,
        /// Descending.
        descending: bool,
    },
    /// Renamed a column header.
    RenameHeader {
        /// Old header.
        from: String,
        /// New header.
        to: String,
    },
    /// Moved a column to another position.
    MoveColumn {
        /// Its header.
        header: String,
        /// Old letter.
        from: String,
        /// New letter.
        to: String,
    },
}

/// Which edits [`SheetsSim::person_chaos`] may make (weights; 0 turns one off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosMix {
    /// Cell edits.
    pub edit_cell: u32,
    /// Typos in number columns.
    pub typo: u32,
    /// Blank rows inserted.
    pub insert_row: u32,
    /// Complete rows added.
    pub add_row: u32,
    /// Half-typed rows.
    pub half_typed_row: u32,
    /// Rows deleted.
    pub delete_row: u32,
    /// Re-sorts.
    pub sort: u32,
    /// Header renames.
    pub rename_header: u32,
    /// Columns moved.
    pub move_column: u32,
}

impl Default for ChaosMix {
    fn default() -> Self {
        ChaosMix {
            edit_cell: 10,
            typo: 2,
            insert_row: 2,
            add_row: 2,
            half_typed_row: 1,
            delete_row: 1,
            sort: 1,
            rename_header: 0,
            move_column: 1,
        }
    }
}

/// The Google Sheets simulator. Cheap to clone; clones share one state.
#[derive(Clone)]
pub struct SheetsSim {
    pub(crate) shared: Arc<Shared>,
}

impl SheetsSim {
    /// A simulator with no spreadsheets and two service accounts of one project.
    pub fn new(config: SimConfig) -> Self {
        let accounts = vec![
            ServiceAccount::new(
                DEFAULT_ACCOUNT,
                PROJECT_ID,
                PROJECT_NUMBER,
                "104470128559180131001",
                "5f1b0c3a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
                BUILTIN_KEYS[0],
            ),
            ServiceAccount::new(
                OTHER_ACCOUNT,
                PROJECT_ID,
                PROJECT_NUMBER,
                "104470128559180131002",
                "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
                BUILTIN_KEYS[1],
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        let state = State {
            books: BTreeMap::new(),
            tokens: Tokens::default(),
            quota: Quota::default(),
            requests: Vec::new(),
            unavailable: 0,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            offset: Duration::ZERO,
        };
        SheetsSim {
            shared: Arc::new(Shared {
                config,
                accounts,
                state: Mutex::new(state),
                start: tokio::time::Instant::now(),
                base_url: OnceLock::new(),
            }),
        }
    }

    /// A simulator with the default settings.
    pub fn with_defaults() -> Self {
        Self::new(SimConfig::default())
    }

    /// The router (API, `/token`, `/_sim`) for in-process use.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.shared.clone())
    }

    /// Serves on `listener` until the handle is shut down.
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<SimHandle> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let _ = self.shared.base_url.set(base_url.clone());
        let app = self.router();
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(SimHandle {
            addr,
            base_url,
            shutdown: Some(tx),
            join,
        })
    }

    /// Binds `127.0.0.1:0` and serves.
    pub async fn serve_local(&self) -> std::io::Result<SimHandle> {
        self.serve(TcpListener::bind("127.0.0.1:0").await?).await
    }

    /// The key file of the default service account (or of `email`).
    pub fn service_account_json(&self, email: Option<&str>) -> Option<Value> {
        let email = email.unwrap_or(DEFAULT_ACCOUNT);
        let token_url = self.shared.token_url();
        self.shared.account(email).map(|a| a.key_json(&token_url))
    }

    /// The token endpoint's URL.
    pub fn token_url(&self) -> String {
        self.shared.token_url()
    }

    // ------------------------------------------------------------------ person

    /// Creates a spreadsheet with sheets `(title, rows, columns)`; returns its id.
    pub fn create_spreadsheet(&self, title: &str, sheets: &[(&str, u32, u32)]) -> String {
        let mut st = self.shared.state.lock();
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let id: String = std::iter::once('1')
            .chain((0..43).map(|_| ALPHABET[st.rng.random_range(0..ALPHABET.len())] as char))
            .collect();
        let sheets: Vec<Sheet> = sheets
            .iter()
            .enumerate()
            .map(|(i, (t, r, c))| {
                let sheet_id = if i == 0 {
                    0
                } else {
                    st.rng.random_range(1..2_000_000_000)
                };
                Sheet::new(sheet_id, *t, *r, *c)
            })
            .collect();
        st.books.insert(
            id.clone(),
            Spreadsheet {
                id: id.clone(),
                title: title.into(),
                sheets,
                next_sheet_id: 1,
                shared_with: None,
            },
        );
        id
    }

    fn with_book<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Spreadsheet) -> Result<T, GoogleError>,
    ) -> Result<T, GoogleError> {
        let mut st = self.shared.state.lock();
        let book = st.books.get_mut(id).ok_or_else(GoogleError::not_found)?;
        f(book)
    }

    fn with_sheet<T>(
        &self,
        id: &str,
        sheet: Option<&str>,
        f: impl FnOnce(&mut Sheet) -> Result<T, GoogleError>,
    ) -> Result<T, GoogleError> {
        self.with_book(id, |b| {
            let idx = b.sheet_index(sheet, sheet.unwrap_or(""))?;
            f(&mut b.sheets[idx])
        })
    }

    /// A person types `rows` from the top-left of `range` (each string as typed in the UI;
    /// the sheet grows if the rows go past its end).
    pub fn type_values(
        &self,
        id: &str,
        range: &str,
        rows: &[Vec<&str>],
    ) -> Result<(), GoogleError> {
        self.with_book(id, |b| {
            let parsed = a1::parse(range)?;
            let idx = b.sheet_index(parsed.sheet.as_deref(), range)?;
            let sheet = &mut b.sheets[idx];
            let (r0, c0) = parsed
                .area
                .map_or((0, 0), |(s, _)| (s.row.unwrap_or(0), s.col.unwrap_or(0)));
            let height = rows.len() as u32;
            let width = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
            if r0 + height > sheet.rows {
                sheet.rows = r0 + height;
            }
            if c0 + width > sheet.cols {
                sheet.cols = c0 + width;
            }
            let rect = a1::Rect {
                r0,
                c0,
                r1: r0 + height.max(1) - 1,
                c1: c0 + width.max(1) - 1,
            };
            let values: Vec<Vec<Value>> = rows
                .iter()
                .map(|r| r.iter().map(|s| Value::String((*s).to_owned())).collect())
                .collect();
            sheet
                .write(&rect, range, &values, Major::Rows, InputOption::UserEntered)
                .map(|_| ())
        })
    }

    /// A person types into one cell (`Sheet!C4` or `C4` on the first sheet).
    pub fn type_cell(&self, id: &str, cell: &str, text: &str) -> Result<(), GoogleError> {
        self.type_values(id, cell, &[vec![text]])
    }

    /// Inserts `count` blank rows before 1-based row `row`.
    pub fn insert_rows(
        &self,
        id: &str,
        sheet: Option<&str>,
        row: u32,
        count: u32,
    ) -> Result<(), GoogleError> {
        self.with_sheet(id, sheet, |s| {
            s.insert_rows(row.saturating_sub(1), count);
            Ok(())
        })
    }

    /// Deletes `count` rows from 1-based row `row`.
    pub fn delete_rows(
        &self,
        id: &str,
        sheet: Option<&str>,
        row: u32,
        count: u32,
    ) -> Result<(), GoogleError> {
        self.with_sheet(id, sheet, |s| {
            s.delete_rows(row.saturating_sub(1), count);
            Ok(())
        })
    }

    /// Sorts rows from 1-based row `from` by the column with these letters.
    pub fn sort_rows(
        &self,
        id: &str,
        sheet: Option<&str>,
        from: u32,
        column: &str,
        descending: bool,
    ) -> Result<(), GoogleError> {
        let col = a1::col_index(column).ok_or_else(|| GoogleError::bad_range(column))?;
        self.with_sheet(id, sheet, |s| {
            s.sort_rows(from.saturating_sub(1), col, descending);
            Ok(())
        })
    }

    /// Moves the column at letters `from` to `to`.
    pub fn move_column(
        &self,
        id: &str,
        sheet: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<(), GoogleError> {
        let (f, t) = (
            a1::col_index(from).ok_or_else(|| GoogleError::bad_range(from))?,
            a1::col_index(to).ok_or_else(|| GoogleError::bad_range(to))?,
        );
        self.with_sheet(id, sheet, |s| {
            if f >= s.cols || t >= s.cols {
                return Err(GoogleError::bad_range(from));
            }
            s.move_column(f, t);
            Ok(())
        })
    }

    /// Shares the spreadsheet with `email` (`shared`) or stops sharing it: an account it is not
    /// shared with gets 403 "The caller does not have permission". At first a spreadsheet is
    /// shared with every account the simulator issued.
    pub fn share(&self, id: &str, email: &str, shared: bool) -> Result<(), GoogleError> {
        let all: std::collections::BTreeSet<String> = self
            .shared
            .accounts
            .iter()
            .map(|a| a.client_email.clone())
            .collect();
        self.with_book(id, |b| {
            let set = b.shared_with.get_or_insert(all);
            if shared {
                set.insert(email.to_owned());
            } else {
                set.remove(email);
            }
            Ok(())
        })
    }

    /// Adds a sheet; returns its `sheetId`.
    pub fn add_sheet(
        &self,
        id: &str,
        title: &str,
        rows: u32,
        cols: u32,
    ) -> Result<i64, GoogleError> {
        let sid = self.shared.state.lock().rng.random_range(1..2_000_000_000);
        self.with_book(id, |b| {
            b.sheets.push(Sheet::new(sid, title, rows, cols));
            Ok(sid)
        })
    }

    /// Renames a sheet (tab).
    pub fn rename_sheet(&self, id: &str, from: &str, to: &str) -> Result<(), GoogleError> {
        self.with_sheet(id, Some(from), |s| {
            s.title = to.into();
            Ok(())
        })
    }

    /// The values of `range` as a person sees them (formatted, trimmed).
    pub fn values(&self, id: &str, range: &str) -> Result<Vec<Vec<String>>, GoogleError> {
        self.with_book(id, |b| {
            let (idx, rect, _) = b.resolve(range)?;
            let v = b.sheets[idx].read(
                &rect,
                Major::Rows,
                RenderOption::Formatted,
                DateRender::Serial,
            );
            Ok(v.into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|c| c.as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .collect())
        })
    }

    /// A spreadsheet as `spreadsheets.get` returns it.
    pub fn spreadsheet(&self, id: &str) -> Option<Value> {
        let base = self.shared.base_url();
        self.shared
            .state
            .lock()
            .books
            .get(id)
            .map(|b| b.render(&base))
    }

    /// `count` seeded edits of a person on a sheet whose first row holds headers and whose
    /// column `key_header` holds the row keys.
    pub fn person_chaos(
        &self,
        id: &str,
        sheet: Option<&str>,
        key_header: &str,
        seed: u64,
        count: usize,
        mix: &ChaosMix,
    ) -> Result<Vec<PersonEdit>, GoogleError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        for n in 0..count {
            let edit = self.with_sheet(id, sheet, |s| {
                Ok(crate::chaos::one_edit(
                    s, key_header, &mut rng, mix, seed, n,
                ))
            })?;
            if let Some(e) = edit {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// A person finds the row whose cell under the header `key_header` shows `key` and, in the
    /// column headed `header`, reads what the cell shows and types `f(shown)` over it, in one
    /// step (nothing lands between the look and the typing). Returns what was typed; `None`
    /// when no row holds the key or no column has the header.
    pub fn retype(
        &self,
        id: &str,
        sheet: Option<&str>,
        key_header: &str,
        key: &str,
        header: &str,
        f: impl FnOnce(&str) -> String,
    ) -> Result<Option<String>, GoogleError> {
        self.with_sheet(id, sheet, |s| {
            let col = |h: &str| (0..s.cols).find(|&c| crate::chaos::text_of(s, 0, c) == h);
            let (Some(kc), Some(c)) = (col(key_header), col(header)) else {
                return Ok(None);
            };
            let last = s.last_data_row().unwrap_or(0);
            let Some(r) = (1..=last).find(|&r| crate::chaos::text_of(s, r, kc) == key) else {
                return Ok(None);
            };
            let typed = f(&crate::chaos::text_of(s, r, c));
            s.set(r, c, crate::cell::typed(&typed));
            Ok(Some(typed))
        })
    }

    /// The 1-based row whose cell under `key_header` shows `key`.
    pub fn row_of(
        &self,
        id: &str,
        sheet: Option<&str>,
        key_header: &str,
        key: &str,
    ) -> Result<Option<u32>, GoogleError> {
        self.with_sheet(id, sheet, |s| {
            let Some(kc) = (0..s.cols).find(|&c| crate::chaos::text_of(s, 0, c) == key_header)
            else {
                return Ok(None);
            };
            let last = s.last_data_row().unwrap_or(0);
            Ok((1..=last)
                .find(|&r| crate::chaos::text_of(s, r, kc) == key)
                .map(|r| r + 1))
        })
    }

    /// A person renames the column header `from` to `to`; `false` when no header is `from`.
    pub fn rename_header(
        &self,
        id: &str,
        sheet: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<bool, GoogleError> {
        self.with_sheet(id, sheet, |s| {
            let Some(c) = (0..s.cols).find(|&c| crate::chaos::text_of(s, 0, c) == from) else {
                return Ok(false);
            };
            s.set(0, c, crate::cell::typed(to));
            Ok(true)
        })
    }

    /// The simulator clock now, in milliseconds (the request log's `at_ms`).
    pub fn now_ms(&self) -> u64 {
        self.shared.now().as_millis() as u64
    }

    // ------------------------------------------------------------------ host

    /// Moves the simulator clock forward (tokens expire, quota windows turn).
    pub fn advance_clock(&self, d: Duration) {
        self.shared.state.lock().offset += d;
    }

    /// The next `requests` API requests answer 503 `UNAVAILABLE`.
    pub fn set_unavailable(&self, requests: u64) {
        self.shared.state.lock().unavailable = requests;
    }

    /// Revokes every issued token.
    pub fn revoke_tokens(&self) {
        self.shared.state.lock().tokens.revoke_all();
    }

    /// The request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.state.lock().requests.clone()
    }

    /// Counters: requests answered per group, 429s per group, tokens issued.
    pub fn stats(&self) -> Value {
        let st = self.shared.state.lock();
        let count = |g: Group| {
            st.requests
                .iter()
                .filter(|r| r.group == Some(g) && r.status < 400)
                .count()
        };
        json!({
            "reads": count(Group::Read),
            "writes": count(Group::Write),
            "throttled": {
                "read": st.quota.throttled.get(&Group::Read).copied().unwrap_or(0),
                "write": st.quota.throttled.get(&Group::Write).copied().unwrap_or(0),
            },
            "tokens_issued": st.tokens.issued(),
        })
    }

    /// 429 answers so far.
    pub fn throttled(&self) -> u64 {
        self.shared.state.lock().quota.throttled.values().sum()
    }
}
