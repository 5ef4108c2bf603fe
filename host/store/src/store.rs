//! [`Store`]: the handle the host uses for everything durable. Cheap to clone (one pool shared).

use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

use crate::db::{self, Backend, Db, OpenOptions, Tx};
use crate::error::Result;

/// Durable storage for weft: the journal, projections, outbox, dead letters, leases and
/// counters, on SQLite or PostgreSQL behind one API.
///
/// Every method is one transaction. Times are passed in by the caller (the host owns time) and
/// stored with millisecond precision.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    /// When set ([`Store::fenced`]), every write transaction first checks that this lease is
    /// still the store's current one, and fails with
    /// [`StoreError::Fenced`](crate::StoreError::Fenced) otherwise.
    pub(crate) fence: Option<crate::lease::Fence>,
    /// On SQLite, whether this handle's writes go ahead of the queue of the process's writers
    /// ([`Store::with_own_pool`]: lease renewals must not wait behind thousands of stores'
    /// steps, or the leases lapse while the host is busy).
    pub(crate) priority: bool,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) backend: Backend,
    pub(crate) url: String,
    /// The SQLite file opened (none for PostgreSQL and in-memory databases).
    identity: Option<db::FileIdentity>,
    /// SQLite allows one writer at a time; queueing writers of this process here (fairly, in
    /// order) beats having them spin in SQLite's busy handler.
    write_lock: Mutex<()>,
    /// The queue of ordinary writers in front of `write_lock`: at most one of them waits on
    /// the lock itself, so a priority writer waits for at most two transactions.
    write_gate: Mutex<()>,
    /// Each store's step lock ([`Store::step_lock`]).
    step_locks: std::sync::Mutex<std::collections::HashMap<String, Arc<Mutex<()>>>>,
}

/// A write transaction plus, on SQLite, this process's write turn.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Tx,
    _turn: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self, op: &'static str) -> Result<()> {
        self.tx.commit(op).await
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`:
    /// `sqlite://path?mode=rwc`, `sqlite:path`, a bare file path, `sqlite::memory:`, or
    /// `postgres://user:pass@host/db`.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, OpenOptions::default()).await
    }

    /// [`Store::open`] with explicit pool options (PostgreSQL schema, pool size).
    pub async fn open_with(url: &str, options: OpenOptions) -> Result<Store> {
        let (db, backend, identity) = db::connect(url, &options).await?;
        tracing::debug!(url = %db::redact(url), ?backend, "opened store");
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                backend,
                url: db::redact(url),
                identity,
                write_lock: Mutex::new(()),
                write_gate: Mutex::new(()),
                step_locks: std::sync::Mutex::default(),
            }),
            fence: None,
            priority: false,
        })
    }

    /// The lock a processing step of `store_id` holds while it plans and commits, shared by
    /// every clone of this handle: the store's processing loop and a replay started in the
    /// same process (the console's) take turns, step by step, so neither plans from what the
    /// other is about to change. Another process's steps are not covered (`weft replay` must
    /// not run while a host serves the store).
    pub fn step_lock(&self, store_id: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .step_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(store_id.to_owned()).or_default().clone()
    }

    /// [`Store::open`] for commands that only inspect or amend an existing database: a SQLite
    /// file that does not exist is [`StoreError::NotFound`](crate::StoreError::NotFound) and
    /// nothing is created.
    pub async fn open_existing(url: &str) -> Result<Store> {
        Store::open_existing_with(url, OpenOptions::default()).await
    }

    /// [`Store::open_existing`] with explicit options (`create_if_missing` is forced off).
    pub async fn open_existing_with(url: &str, options: OpenOptions) -> Result<Store> {
        let options = OpenOptions {
            create_if_missing: false,
            ..options
        };
        Store::open_with(url, options).await
    }

    /// A handle on the same database with a pool of its own of at most `max_connections`
    /// (PostgreSQL), for work that must not wait behind the rest of the host (lease
    /// renewals). On SQLite it shares this pool, and its writes go ahead of the process's
    /// queue of writers (at most two transactions' wait).
    pub async fn with_own_pool(&self, max_connections: u32) -> Result<Store> {
        let db = match &self.inner.db {
            Db::Sqlite(_) => {
                return Ok(Store {
                    priority: true,
                    ..self.clone()
                });
            }
            Db::Postgres(p) => {
                let options = (*p.connect_options()).clone();
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(max_connections.max(1))
                    .acquire_timeout(std::time::Duration::from_secs(30))
                    .connect_with(options)
                    .await
                    .map_err(|source| crate::StoreError::Connect {
                        url: self.inner.url.clone(),
                        source,
                    })?;
                Db::Postgres(pool)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                backend: self.inner.backend,
                url: self.inner.url.clone(),
                identity: None,
                write_lock: Mutex::new(()),
                write_gate: Mutex::new(()),
                // Its own: this handle is for lease work, never a processing step.
                step_locks: std::sync::Mutex::default(),
            }),
            fence: self.fence.clone(),
            priority: self.priority,
        })
    }

    /// Whether the SQLite file this store opened is still the file at its path: an error
    /// ([`StoreError::DatabaseGone`](crate::StoreError::DatabaseGone)) once it was deleted or
    /// replaced. One `stat`; always `Ok` for PostgreSQL and in-memory databases.
    pub fn check_file(&self) -> Result<()> {
        match &self.inner.identity {
            Some(id) => id.check(),
            None => Ok(()),
        }
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The database URL with any password redacted.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Closes the pool (shared with every clone and fenced handle), waiting for connections to
    /// finish.
    pub async fn close(&self) {
        on_db!(&self.inner.db, p => p.close().await)
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) async fn begin_write(&self, op: &'static str) -> Result<WriteTx<'_>> {
        let turn = match self.inner.backend {
            Backend::Sqlite if self.priority => Some(self.inner.write_lock.lock().await),
            Backend::Sqlite => {
                let _queue = self.inner.write_gate.lock().await;
                Some(self.inner.write_lock.lock().await)
            }
            Backend::Postgres => None,
        };
        if let Some(f) = &self.fence {
            // Once fenced, always fenced: a newer tenure never goes back.
            f.check_not_lost()?;
        }
        let mut tx = db::begin(&self.inner.db, op).await?;
        if let Some(f) = &self.fence {
            crate::lease::check_fence(&mut tx, f, op).await?;
        }
        Ok(WriteTx { tx, _turn: turn })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex as StdMutex};

    use super::*;

    /// A lease renewal (the priority handle of `with_own_pool`) waits for at most the one
    /// ordinary writer already waiting on the lock, not for the whole queue behind it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_priority_writer_goes_ahead_of_the_queue_of_writers() {
        let dir = tempfile::tempdir().unwrap();
        let db = Store::open(&dir.path().join("w.db").to_string_lossy())
            .await
            .unwrap();
        let leases = db.with_own_pool(1).await.unwrap();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let first = db.begin_write("held").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (db, order) = (db.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let w = db.begin_write("ordinary").await.unwrap();
                order.lock().unwrap().push(format!("ordinary {i}"));
                w.commit("ordinary").await.unwrap();
            }));
            tokio::task::yield_now().await;
        }
        let o = order.clone();
        tasks.push(tokio::spawn(async move {
            let w = leases.begin_write("renew").await.unwrap();
            o.lock().unwrap().push("renewal".to_owned());
            w.commit("renew").await.unwrap();
        }));
        tokio::task::yield_now().await;
        first.commit("held").await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order.len(), 6);
        assert_eq!(order[0], "ordinary 0", "{order:?}");
        assert_eq!(order[1], "renewal", "{order:?}");
    }
}
