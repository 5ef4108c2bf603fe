//! Connection handling shared by both backends: URL parsing, pool options (SQLite WAL with
//! `synchronous=FULL`), the migration runner, transaction helpers and row decoding.
//!
//! SQL text is shared between SQLite and PostgreSQL wherever the dialects agree (positional
//! `$n` parameters, `ON CONFLICT ... DO UPDATE/NOTHING`, `RETURNING` all work in both); the
//! [`on_db!`] and [`on_tx!`] macros expand one query body once per backend so the same Rust code
//! binds and decodes for either.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, Postgres, Row, Sqlite, Transaction};

use crate::error::{Result, StoreError};

/// Which database a [`Store`](crate::Store) talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (WAL, `synchronous=FULL`).
    Sqlite,
    /// PostgreSQL (scale-out).
    Postgres,
}

/// The pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction of either backend.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn commit(self, op: &'static str) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await.map_err(StoreError::db(op)),
            Tx::Postgres(t) => t.commit().await.map_err(StoreError::db(op)),
        }
    }
}

/// Runs `$body` with `$c` bound to the pool of whichever backend `$db` is.
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($c) => $body,
            $crate::db::Db::Postgres($c) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the connection inside transaction `$tx`. Use `&mut *$c`
/// as the executor.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut **t;
                $body
            }
        }
    };
}

/// Options for [`Store::open_with`](crate::Store::open_with).
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Pool size (SQLite in-memory databases always use one connection).
    pub max_connections: u32,
    /// PostgreSQL only: the schema to use (created if missing; `search_path` is set to it on
    /// every connection). Letters, digits and `_` only. Lets several weft deployments, or tests,
    /// share one database.
    pub postgres_schema: Option<String>,
    /// SQLite only: how long a writer waits for another process's write lock.
    pub busy_timeout: Duration,
    /// SQLite only: create the database file when it does not exist (`true` by default, what
    /// `weft run` wants). Commands that only inspect a database set it to `false`, so a
    /// mistyped path is a [`StoreError::NotFound`] naming the path, not a new empty database.
    pub create_if_missing: bool,
    /// PostgreSQL only: the server ends a session that sits inside a transaction, waiting for
    /// this process, longer than this (`idle_in_transaction_session_timeout`). A process that
    /// stops mid-transaction (SIGSTOP, a VM pause, a stalled runtime) would otherwise keep the
    /// transaction's row locks, among them the store lease row a fenced write reads under
    /// `FOR KEY SHARE`, and whoever takes its stores over would wait on them for as long as it
    /// stays stopped. The transaction is rolled back, so nothing it did is written. Several
    /// hosts set it below the lease TTL (see `weft run`'s `[cluster]`). `None`: no limit.
    pub postgres_idle_in_transaction_timeout: Option<Duration>,
    /// PostgreSQL only: the longest any statement waits for a lock (`lock_timeout`) before it
    /// fails with an error the caller retries, so no wait on another session is unbounded even
    /// where the idle timeout does not reach (a session stuck while running a statement).
    /// `None`: no limit.
    pub postgres_lock_timeout: Option<Duration>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: 8,
            postgres_schema: None,
            busy_timeout: Duration::from_secs(30),
            create_if_missing: true,
            postgres_idle_in_transaction_timeout: Some(DEFAULT_IDLE_IN_TRANSACTION),
            postgres_lock_timeout: Some(DEFAULT_LOCK_TIMEOUT),
        }
    }
}

impl OpenOptions {
    /// The settings every PostgreSQL session of a store opened with these options starts with
    /// (`-c name=value` at connection).
    pub fn postgres_session_settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = Vec::new();
        if let Some(d) = self.postgres_idle_in_transaction_timeout {
            settings.push(("idle_in_transaction_session_timeout", pg_ms(d)));
        }
        if let Some(d) = self.postgres_lock_timeout {
            settings.push(("lock_timeout", pg_ms(d)));
        }
        settings
    }

    /// The PostgreSQL session limits for a process holding store leases of `ttl`: a stopped
    /// process's transactions end after a third of the TTL (so its locks are gone before its
    /// leases can expire: renewals run at least every TTL / 2), and no lock wait outlasts the
    /// TTL.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.postgres_idle_in_transaction_timeout = Some((ttl / 3).max(Duration::from_millis(200)));
        self.postgres_lock_timeout = Some(ttl.max(Duration::from_secs(1)));
        self
    }
}

/// [`OpenOptions::postgres_idle_in_transaction_timeout`] by default: a third of the default
/// lease TTL (15 s), so a stopped holder's locks are gone before its leases expire.
pub const DEFAULT_IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);

/// [`OpenOptions::postgres_lock_timeout`] by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// A duration as a PostgreSQL setting in milliseconds (at least 1: 0 would mean no limit).
fn pg_ms(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// Replaces the password in a URL with `***` so errors and logs never carry it.
pub(crate) fn redact(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!(
                    "{}://{}:***{}",
                    &url[..scheme_end],
                    &userinfo[..colon],
                    &rest[at..]
                );
            }
        }
    }
    url.to_owned()
}

/// What identifies the SQLite file a store opened: its path and the (device, inode) it had
/// at open. A file deleted or replaced under a running host still answers queries (the open
/// handles keep the old inode alive) while nothing written to it can ever be read again, so
/// the host compares this with the path's current identity ([`FileIdentity::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    path: std::path::PathBuf,
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    fn of(path: &std::path::Path) -> std::io::Result<FileIdentity> {
        let (dev, ino) = dev_ino(&std::fs::metadata(path)?);
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev,
            ino,
        })
    }

    /// `Ok` while `path` is still the file that was opened; otherwise the error says whether it
    /// was deleted or replaced. One `stat`, cheap enough for every acknowledgement.
    pub(crate) fn check(&self) -> Result<()> {
        let gone = |what: String| StoreError::DatabaseGone {
            path: self.path.display().to_string(),
            what,
        };
        match std::fs::metadata(&self.path) {
            Ok(m) if dev_ino(&m) == (self.dev, self.ino) => Ok(()),
            Ok(_) => Err(gone("was replaced by another file".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(gone("was deleted".into())),
            Err(e) => Err(gone(format!("cannot be checked: {e}"))),
        }
    }
}

#[cfg(unix)]
fn dev_ino(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    (m.dev(), m.ino())
}

/// No inode numbers off Unix: only deletion is detected there.
#[cfg(not(unix))]
fn dev_ino(_m: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Opens a pool for `url` and migrates it; for a SQLite file, also returns the file's identity.
pub(crate) async fn connect(
    url: &str,
    opts: &OpenOptions,
) -> Result<(Db, Backend, Option<FileIdentity>)> {
    let shown = redact(url);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut pg = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        // One direct connection first: fails fast (the pool would retry until its acquire
        // timeout) and creates the schema when one is asked for.
        let mut probe = sqlx::PgConnection::connect_with(&pg)
            .await
            .map_err(|source| StoreError::Connect {
                url: shown.clone(),
                source,
            })?;
        if let Some(schema) = &opts.postgres_schema {
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(StoreError::InvalidUrl {
                    url: shown,
                    reason: format!("schema `{schema}` must be letters, digits and `_` only"),
                });
            }
            sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&mut probe)
                .await
                .map_err(StoreError::db("create schema"))?;
            pg = pg.options([("search_path", schema.as_str())]);
        }
        probe
            .close()
            .await
            .map_err(StoreError::db("create schema"))?;
        // Every session of the pool (and of pools cloned from its options, `with_own_pool`).
        pg = pg.options(opts.postgres_session_settings());
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(pg)
            .await
            .map_err(|source| StoreError::Connect {
                url: shown.clone(),
                source,
            })?;
        let db = Db::Postgres(pool);
        crate::migrate::run(&db).await?;
        return Ok((db, Backend::Postgres, None));
    }

    let (sqlite, in_memory) = if url.starts_with("sqlite:") {
        let o = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        (o, url.contains(":memory:") || url.contains("mode=memory"))
    } else if url.contains("://") {
        return Err(StoreError::InvalidUrl {
            url: shown,
            reason: "expected `sqlite:...`, `postgres://...` or a file path".into(),
        });
    } else if url.is_empty() {
        return Err(StoreError::InvalidUrl {
            url: shown,
            reason: "empty path".into(),
        });
    } else {
        (SqliteConnectOptions::new().filename(url), false)
    };
    // synchronous=FULL: in WAL mode NORMAL only syncs at checkpoints, so a power cut could lose
    // commits that intake already acknowledged. FULL syncs the WAL on every commit; group
    // commit (JournalWriter) makes that one fsync per batch, not per webhook.
    let file = (!in_memory).then(|| sqlite.get_filename().to_path_buf());
    if let Some(path) = &file
        && !opts.create_if_missing
        && !path.exists()
    {
        return Err(StoreError::NotFound {
            path: path.display().to_string(),
        });
    }
    let sqlite = sqlite
        .create_if_missing(opts.create_if_missing)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(opts.busy_timeout);
    let mut pool_opts = SqlitePoolOptions::new().acquire_timeout(Duration::from_secs(60));
    pool_opts = if in_memory {
        // Every connection to a shared in-memory database must stay open or it vanishes.
        pool_opts
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool_opts.max_connections(opts.max_connections.max(2))
    };
    let pool = pool_opts
        .connect_with(sqlite)
        .await
        .map_err(|source| StoreError::Connect {
            url: shown.clone(),
            source,
        })?;
    let db = Db::Sqlite(pool);
    crate::migrate::run(&db).await?;
    let identity = match file {
        Some(path) => Some(
            FileIdentity::of(&path).map_err(|e| StoreError::DatabaseGone {
                path: path.display().to_string(),
                what: format!("cannot be checked right after opening it: {e}"),
            })?,
        ),
        None => None,
    };
    Ok((db, Backend::Sqlite, identity))
}

/// Begins a write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so a
/// transaction that reads before it writes never fails with `SQLITE_BUSY` on lock upgrade.
pub(crate) async fn begin(db: &Db, op: &'static str) -> Result<Tx> {
    Ok(match db {
        Db::Sqlite(p) => Tx::Sqlite(
            p.begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(StoreError::db(op))?,
        ),
        Db::Postgres(p) => Tx::Postgres(p.begin().await.map_err(StoreError::db(op))?),
    })
}

/// Column accessors with the same names for both backends' rows.
pub(crate) trait RowExt {
    fn i64(&self, col: &str) -> std::result::Result<i64, sqlx::Error>;
    fn opt_i64(&self, col: &str) -> std::result::Result<Option<i64>, sqlx::Error>;
    fn text(&self, col: &str) -> std::result::Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> std::result::Result<Option<String>, sqlx::Error>;
    fn bytes(&self, col: &str) -> std::result::Result<Vec<u8>, sqlx::Error>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn i64(&self, col: &str) -> std::result::Result<i64, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_i64(&self, col: &str) -> std::result::Result<Option<i64>, sqlx::Error> {
                self.try_get(col)
            }
            fn text(&self, col: &str) -> std::result::Result<String, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_text(&self, col: &str) -> std::result::Result<Option<String>, sqlx::Error> {
                self.try_get(col)
            }
            fn bytes(&self, col: &str) -> std::result::Result<Vec<u8>, sqlx::Error> {
                self.try_get(col)
            }
        }
    };
}
impl_row_ext!(SqliteRow);
impl_row_ext!(PgRow);

/// Milliseconds since the Unix epoch, the stored form of every time.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`ms`].
pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Parses a stored JSON column.
pub(crate) fn json(what: &'static str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|source| StoreError::CorruptJson { what, source })
}

/// SHA-256 of `data` as lowercase hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
