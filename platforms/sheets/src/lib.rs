//! Google Sheets: a sheet as a catalog, price and stock source edited by people, behind the
//! platform interface ([`weft_platform`]), in the role [`Role::SheetSource`].
//!
//! - [`auth`]: the service-account key file and the OAuth 2.0 JWT-bearer exchange; the
//!   access token is cached until five minutes before it expires.
//! - [`client`]: the Sheets API v4 client; every request waits for room in the account's
//!   per-minute budget ([`QuotaLimiter`]), so steady state never meets a 429; a 429 anyway
//!   holds the account back with truncated exponential backoff and is reported as throttled.
//! - [`table`] and [`poll`]: change capture as a snapshot diff per row, keyed by the key
//!   column, columns found by header; row documents journaled under the read time; problem
//!   rows reported; each row's status written back ([`status`]).
//! - [`write`]: row writes by key at write time, batched in one `values:batchUpdate`.
//! - [`read`]: one read of the sheet shared by the change capture and the write batches.
//! - [`Sheets`] and [`SheetsConnection`]: the platform interface. The simulator is the
//!   `weft-sim-sheets` crate in `sim/` beside this one.
//!
//! # Choices
//!
//! **ring** signs the RS256 assertion: it is already in the workspace (rustls), reads the
//! PKCS#8 key of Google's key files directly and signs in constant time; `jsonwebtoken` would
//! add a second JWT and key stack for one signature, and the `rsa` crate has an open timing
//! advisory (RUSTSEC-2023-0071).

pub mod auth;
pub mod client;
pub mod config;
pub mod poll;
pub mod read;
pub mod status;
pub mod table;
pub mod write;

use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use weft_platform::{
    BatchCall, BatchResult, Connection, ConnectorError, EntityKind, Planned, Platform, Poller,
    Role, SourceCtx, StockFields, WriteCommand, WriteOutcome,
};

pub use auth::{ServiceAccountKey, TokenSource};
pub use client::{QuotaLimiter, SheetsClient};
pub use config::{Layout, SheetsSection, SheetsSettings};
pub use poll::{SheetReport, SheetsPoller};
pub use read::SharedRead;
pub use table::RowProblem;

/// The platform's name.
pub const PLATFORM: &str = "sheets";

/// The journal kind of a row document.
pub const ROW_KIND: &str = "variant";

/// Commands one batched call carries.
pub const BATCH_SIZE: usize = 100;

/// How long a write batch waits for another read of the sheet to start (the change capture's
/// next round, or another batch's) before it reads the sheet itself ([`read`]).
pub const READ_SHARE_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// A whole sheet as a range: its title, quoted.
pub fn sheet_range(title: &str) -> String {
    format!("'{}'", title.replace('\'', "''"))
}

/// The column letters of a 0-based index.
pub fn col_letters(mut c: usize) -> String {
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

/// One cell of a sheet: `'Products'!C5` for 0-based column `col`, 1-based `row`.
pub fn a1_cell(sheet: &str, col: usize, row: usize) -> String {
    format!("{}!{}{row}", sheet_range(sheet), col_letters(col))
}

/// The Google Sheets platform.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sheets;

impl Platform for Sheets {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn role(&self) -> Role {
        Role::SheetSource
    }

    /// A row carries the product, the item, its price and its stock: one document.
    fn document_kind(&self, canonical: EntityKind) -> EntityKind {
        match canonical {
            EntityKind::Product
            | EntityKind::Variant
            | EntityKind::Price
            | EntityKind::InventoryLevel => EntityKind::Variant,
            k => k,
        }
    }

    fn stock_fields(&self) -> StockFields {
        StockFields {
            quantity: "stock",
            version: "version",
        }
    }
}

/// One store's connection to one sheet.
pub struct SheetsConnection {
    client: Arc<SheetsClient>,
    reads: Arc<SharedRead>,
    layout: Layout,
    sheet: Option<String>,
    title: OnceCell<String>,
    delete_after: u32,
    report: Arc<Mutex<SheetReport>>,
}

impl SheetsConnection {
    /// A connection to `sheet` (a title; the first sheet when `None`) through `client`.
    pub fn new(
        client: Arc<SheetsClient>,
        layout: Layout,
        sheet: Option<String>,
        delete_after: u32,
    ) -> Self {
        SheetsConnection {
            client,
            reads: Arc::new(SharedRead::new(READ_SHARE_WAIT)),
            layout,
            sheet,
            title: OnceCell::new(),
            delete_after,
            report: Arc::default(),
        }
    }

    /// With write batches waiting up to `wait` for another read of the sheet (default
    /// [`READ_SHARE_WAIT`]; zero: each batch reads at once, sharing only a read in flight).
    pub fn with_read_wait(mut self, wait: std::time::Duration) -> Self {
        self.reads = Arc::new(SharedRead::new(wait));
        self
    }

    /// The client.
    pub fn client(&self) -> &Arc<SheetsClient> {
        &self.client
    }

    /// The reads shared by the change capture and the write batches.
    pub fn reads(&self) -> &Arc<SharedRead> {
        &self.reads
    }

    /// What the change capture's last round found wrong.
    pub fn report(&self) -> SheetReport {
        self.report.lock().clone()
    }

    /// The sheet's title (the first sheet's, read once, when not configured).
    pub async fn sheet_title(&self) -> Result<String, ConnectorError> {
        if let Some(s) = &self.sheet {
            return Ok(s.clone());
        }
        self.title
            .get_or_try_init(|| self.client.first_sheet_title())
            .await
            .cloned()
    }

    async fn apply(
        &self,
        writes: &[write::RowWrite],
    ) -> Result<Vec<Result<WriteOutcome, ConnectorError>>, ConnectorError> {
        let title = self.sheet_title().await?;
        let values = self
            .reads
            .read(&self.client, &sheet_range(&title), self.reads.wait())
            .await?;
        let (results, answered) =
            write::apply(&self.client, &self.layout, &title, &values.0, writes).await?;
        // The change capture's next round journals these rows whatever they show (see `read`).
        self.reads.wrote(
            answered,
            results.iter().flatten().map(|o| o.target_id.clone()),
        );
        Ok(results)
    }
}

impl Connection for SheetsConnection {
    fn platform(&self) -> Arc<dyn Platform> {
        Arc::new(Sheets)
    }

    fn execute<'a>(
        &'a self,
        command: &'a WriteCommand,
    ) -> BoxFuture<'a, Result<WriteOutcome, ConnectorError>> {
        Box::pin(async move {
            let w = write::row_write(command)?;
            let mut r = self.apply(std::slice::from_ref(&w)).await?;
            r.pop().unwrap_or_else(|| Err(write::missing_result()))
        })
    }

    fn batch_size(&self, _command: &WriteCommand) -> Option<usize> {
        Some(BATCH_SIZE)
    }

    fn plan_batches<'a>(&'a self, commands: &'a [WriteCommand]) -> BoxFuture<'a, Planned> {
        Box::pin(async move {
            let mut calls = Vec::new();
            let mut errors = Vec::new();
            let mut current: (Vec<usize>, Vec<Value>) = (Vec::new(), Vec::new());
            for (i, c) in commands.iter().enumerate() {
                match write::row_write(c) {
                    Ok(w) => {
                        current.0.push(i);
                        current
                            .1
                            .push(serde_json::to_value(&w).unwrap_or(Value::Null));
                        if current.0.len() == BATCH_SIZE {
                            let (m, rows) = std::mem::take(&mut current);
                            calls.push(BatchCall {
                                members: m,
                                input: json!({"rows": rows}),
                            });
                        }
                    }
                    Err(e) => errors.push((i, e)),
                }
            }
            if !current.0.is_empty() {
                calls.push(BatchCall {
                    members: current.0,
                    input: json!({"rows": current.1}),
                });
            }
            (calls, errors)
        })
    }

    fn send_batch<'a>(
        &'a self,
        input: &'a Value,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<BatchResult>, ConnectorError>> {
        Box::pin(async move {
            let writes: Vec<write::RowWrite> = serde_json::from_value(input["rows"].clone())
                .map_err(|e| weft_platform::write::bad_field(PLATFORM, "rows", &e.to_string()))?;
            let results = self.apply(&writes).await?;
            Ok(results
                .into_iter()
                .map(|r| match r {
                    Ok(o) => BatchResult::Applied(o),
                    Err(e) => BatchResult::Failed(e),
                })
                .collect())
        })
    }

    fn batch_subset(&self, input: &Value, positions: &[usize]) -> Value {
        let rows = input["rows"].as_array().cloned().unwrap_or_default();
        let kept: Vec<Value> = positions
            .iter()
            .filter_map(|p| rows.get(*p).cloned())
            .collect();
        json!({"rows": kept})
    }

    fn breaker(&self) -> Option<&weft_platform::gate::CircuitBreaker> {
        self.client.breaker()
    }

    fn change_sources(&self, ctx: &SourceCtx) -> Vec<Arc<dyn Poller>> {
        // The title is needed before the first round; a configured one is used as is, else the
        // poller's first round... keeps the first sheet's title resolved by the connection.
        let title = self.sheet.clone().or_else(|| self.title.get().cloned());
        vec![Arc::new(LazyPoller {
            inner: OnceCell::new(),
            title,
            ctx: ctx.clone(),
            client: self.client.clone(),
            reads: self.reads.clone(),
            layout: self.layout.clone(),
            delete_after: self.delete_after,
            report: self.report.clone(),
            name: format!("{}-snapshot", ctx.system),
        })]
    }
}

/// A poller that learns the sheet's title on its first round when the config names none.
struct LazyPoller {
    inner: OnceCell<SheetsPoller>,
    title: Option<String>,
    ctx: SourceCtx,
    client: Arc<SheetsClient>,
    reads: Arc<SharedRead>,
    layout: Layout,
    delete_after: u32,
    report: Arc<Mutex<SheetReport>>,
    name: String,
}

impl LazyPoller {
    async fn get(&self) -> Result<&SheetsPoller, ConnectorError> {
        self.inner
            .get_or_try_init(|| async {
                let title = match &self.title {
                    Some(t) => t.clone(),
                    None => self.client.first_sheet_title().await?,
                };
                Ok::<_, ConnectorError>(SheetsPoller::new(
                    self.ctx.store_id.clone(),
                    self.ctx.system.clone(),
                    self.ctx.db.clone(),
                    self.client.clone(),
                    self.reads.clone(),
                    self.layout.clone(),
                    title,
                    self.delete_after,
                    self.report.clone(),
                ))
            })
            .await
    }
}

impl Poller for LazyPoller {
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&self) -> BoxFuture<'_, Result<weft_platform::PollReport, weft_platform::SourceError>> {
        Box::pin(async move { self.get().await?.poll().await })
    }
    fn poll_full(
        &self,
    ) -> BoxFuture<'_, Result<weft_platform::PollReport, weft_platform::SourceError>> {
        Box::pin(async move { self.get().await?.poll_full().await })
    }
}
