//! One read of the sheet shared by everyone who needs one: the change capture's round and the
//! write batches of one connection (the status write-back uses its round's own read).
//!
//! A sheet has no conditional write, so a write batch reads the sheet to find its rows by key
//! and to compare the cells it guards (a stock count, a cell weft read) before it writes. That
//! read must start no earlier than the batch was asked for (else a person's edit made before
//! the batch could be overwritten), but it need not be the batch's own: a read in flight when
//! the batch asks, or one started while it waits, serves it as well. So a batch first waits up
//! to [`SharedRead::new`]'s `wait` for another read to start (the change capture's next
//! round, or another batch's), and reads itself only if none does; everyone waiting then
//! shares that one read. A read that has completed is never handed out again: writes may have
//! followed it.
//!
//! Google counts requests, not cells, against the 60 reads a minute of a service account, so
//! sharing whole reads is what keeps a busy store's change capture from waiting for room.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;
use weft_platform::ConnectorError;

use crate::client::SheetsClient;

/// A sheet's values as read (rows of cells), and when the read was sent: the sheet as read
/// holds every write answered before then, so it is the reading's version.
pub type Values = Arc<(Vec<Vec<Value>>, DateTime<Utc>)>;

#[derive(Default)]
struct State {
    /// Reads started so far; the newest one's number.
    started: u64,
    /// Whether read number `started` is still in flight.
    in_flight: bool,
    /// The newest completed read: its number and what it answered.
    last: Option<(u64, Result<Values, ConnectorError>)>,
}

/// Reads of one range shared between callers (see the module docs).
pub struct SharedRead {
    state: Mutex<State>,
    changed: Notify,
    wait: Duration,
    reads: std::sync::atomic::AtomicU64,
    shared: std::sync::atomic::AtomicU64,
}

impl SharedRead {
    /// Shared reads where a write batch waits up to `wait` for another read to start.
    pub fn new(wait: Duration) -> Self {
        SharedRead {
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            wait,
            reads: Default::default(),
            shared: Default::default(),
        }
    }

    /// How long a write batch waits for another read.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Reads made, and answers handed to a caller that did not make the read itself.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.reads.load(Relaxed), self.shared.load(Relaxed))
    }

    /// The values of `range`, from a read in flight now or started after this call: at once
    /// when `wait` is zero (the change capture), else after waiting up to `wait` for another
    /// caller to start one (a write batch).
    pub async fn read(
        &self,
        client: &SheetsClient,
        range: &str,
        wait: Duration,
    ) -> Result<Values, ConnectorError> {
        use std::sync::atomic::Ordering::Relaxed;
        let deadline = Instant::now() + wait;
        let target = {
            let s = self.state.lock();
            if s.in_flight {
                s.started
            } else {
                s.started + 1
            }
        };
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let start = {
                let mut s = self.state.lock();
                if let Some((n, r)) = &s.last
                    && *n >= target
                {
                    self.shared.fetch_add(1, Relaxed);
                    return r.clone();
                }
                if s.in_flight || s.started >= target {
                    // A read that serves this caller (or an older one) is in flight.
                    None
                } else if Instant::now() >= deadline {
                    s.started += 1;
                    s.in_flight = true;
                    Some(s.started)
                } else {
                    None
                }
            };
            match start {
                Some(n) => {
                    self.changed.notify_waiters();
                    self.reads.fetch_add(1, Relaxed);
                    let mut guard = Reading {
                        shared: self,
                        n: Some(n),
                    };
                    let r = client.get_stamped(range).await.map(Arc::new);
                    guard.n = None;
                    {
                        let mut s = self.state.lock();
                        s.in_flight = false;
                        s.last = Some((n, r.clone()));
                    }
                    self.changed.notify_waiters();
                    return r;
                }
                None => {
                    let in_flight = self.state.lock().in_flight;
                    if in_flight {
                        notified.await;
                    } else {
                        let _ = tokio::time::timeout_at(deadline, notified).await;
                    }
                }
            }
        }
    }
}

/// A read in flight: if its caller is dropped before the answer, the read never happened (its
/// number is given back) and the callers waiting for it start another.
struct Reading<'a> {
    shared: &'a SharedRead,
    n: Option<u64>,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.n {
            let mut s = self.shared.state.lock();
            if s.in_flight && s.started == n {
                s.in_flight = false;
                s.started -= 1;
            }
            drop(s);
            self.shared.changed.notify_waiters();
        }
    }
}
