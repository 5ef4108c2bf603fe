//! The one error type of `weft-store`: every variant says what failed and where.

use thiserror::Error;

/// Everything that can go wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database URL or path could not be understood.
    #[error("invalid database url `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The SQLite file does not exist and the caller asked not to create one.
    #[error(
        "database `{path}` does not exist (nothing was created; check --config / --database, or start `weft run` once to create it)"
    )]
    NotFound {
        /// The path that was looked for.
        path: String,
    },
    /// The SQLite file this store opened is no longer at its path (deleted or replaced while
    /// open): writes would land in a file nobody can read again.
    #[error("database file `{path}` {what} since weft opened it; restart weft")]
    DatabaseGone {
        /// The database file's path.
        path: String,
        /// What happened to it.
        what: String,
    },
    /// Connecting to the database failed.
    #[error("cannot open database `{url}`")]
    Connect {
        /// The URL with any password replaced by `***`.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A schema migration failed to apply.
    #[error("migration {version} `{name}` failed")]
    Migration {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// An applied migration differs from the one compiled into this binary.
    #[error(
        "migration {version} `{name}` was applied with different SQL (checksum {applied}, this binary has {expected}); the database belongs to another weft version"
    )]
    MigrationChecksum {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: &'static str,
        /// Checksum recorded in the database.
        applied: String,
        /// Checksum of the SQL compiled into this binary.
        expected: String,
    },
    /// The database has migrations this binary does not know (a newer weft wrote it).
    #[error("database schema version {found} is newer than this binary's {known}")]
    SchemaTooNew {
        /// Highest version recorded in the database.
        found: i64,
        /// Highest version this binary knows.
        known: i64,
    },
    /// A query failed. The driver's error is part of the message (loops log errors with their
    /// message only, and "database error" alone does not tell a lock timeout from a lost
    /// connection or a full pool).
    #[error("database error in {op}: {cause}")]
    Database {
        /// The store operation that was running.
        op: &'static str,
        /// The driver's error (printed in the message, so not also a `source()`).
        cause: sqlx::Error,
    },
    /// A source version is not an RFC 3339 timestamp.
    #[error("invalid version `{value}` for {what}: expected an RFC 3339 timestamp")]
    InvalidVersion {
        /// The offending text.
        value: String,
        /// Which record it belonged to.
        what: String,
    },
    /// A JSON column held text that does not parse (the database was edited by hand?).
    #[error("stored JSON in {what} does not parse")]
    CorruptJson {
        /// Table and column.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored enum column held an unknown value.
    #[error("unknown {what} `{value}` in the database")]
    UnknownValue {
        /// Which column.
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// A dispatcher tried to settle an outbox row whose lease it no longer holds (it expired
    /// and the row was claimed again, or it was already settled).
    #[error("outbox row {id} is no longer held by claim `{token}`")]
    LeaseLost {
        /// Outbox row id.
        id: i64,
        /// The claim token the caller presented.
        token: String,
    },
    /// An argument was out of range.
    #[error("invalid argument to {op}: {reason}")]
    InvalidArgument {
        /// The store operation.
        op: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A processing step recorded a target's last-known state from a reading, but the record
    /// changed after the step read it (a write completed meanwhile): the step applied nothing
    /// and must be re-run from what the store holds now.
    #[error(
        "the last-known state of {system} {kind} `{key}` changed while a processing step ran; \
         the step was not applied"
    )]
    TargetChanged {
        /// Platform.
        system: String,
        /// Entity kind.
        kind: String,
        /// Canonical key.
        key: String,
    },
    /// A write through a fenced handle ([`Store::fenced`](crate::Store::fenced)) for a store
    /// whose lease this process no longer holds: another host (or command) took the store over
    /// since, or the lease was handed back. Nothing was written; the caller must stop working
    /// on the store.
    #[error(
        "store `{store_id}` is no longer this process's: the lease it held (epoch {epoch}) {now}; \
         nothing was written (fenced)"
    )]
    Fenced {
        /// The store.
        store_id: String,
        /// The fencing token (lease epoch) this process held.
        epoch: i64,
        /// Who holds the lease now, in words (`is held by host `h2` (epoch 4)`, `was handed
        /// back`).
        now: String,
    },
    /// The journal writer task has stopped (its store was closed or it panicked).
    #[error("the journal writer has stopped; the append was not journaled")]
    WriterClosed,
    /// A file operation of the intake benchmark failed.
    #[error("i/o error on `{path}`")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether this is [`StoreError::Fenced`]: the process lost the store's lease.
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Fenced { .. })
    }

    /// Wraps a driver error with the name of the operation that was running.
    pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |cause| StoreError::Database { op, cause }
    }
}

/// Shorthand for `Result<T, StoreError>`.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
