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
//!
//! The keys of rows a batch wrote are kept here too ([`SharedRead::wrote`]), with the time the
//! sheet answered: a write lands after the read it was checked against, often the change
//! capture's own, whose snapshot then holds the row as it was before. The capture's next round
//! journals such a row whatever it shows ([`SharedRead::written_before`]): weft's write read
//! back, as before, and also the snapshot's own values typed back by a person (an undo)
//! before that round, which a comparison with the snapshot would take for no change.

use std::collections::BTreeSet;
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
    /// Rows written: when the sheet answered, and the row's key.
    written: Mutex<Vec<(DateTime<Utc>, String)>>,
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
            written: Mutex::new(Vec::new()),
        }
    }

    /// Records the keys of rows a write batch wrote, the sheet having answered at `answered`.
    pub fn wrote(&self, answered: DateTime<Utc>, keys: impl IntoIterator<Item = String>) {
        self.written
            .lock()
            .extend(keys.into_iter().map(|key| (answered, key)));
    }

    /// Takes the keys of rows written and answered before `sent` (when a read was sent, so the
    /// read shows those writes unless someone changed the rows since); rows answered later
    /// stay for the next read.
    pub fn written_before(&self, sent: DateTime<Utc>) -> BTreeSet<String> {
        let mut written = self.written.lock();
        let mut taken = BTreeSet::new();
        written.retain(|(answered, key)| {
            if *answered < sent {
                taken.insert(key.clone());
                false
            } else {
                true
            }
        });
        taken
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A read sent before a write was answered may not show it: that row waits for the next
    /// read.
    #[test]
    fn a_read_takes_the_rows_answered_before_it_was_sent() {
        let reads = SharedRead::new(Duration::ZERO);
        let t0 = Utc::now();
        let at = |ms| t0 + chrono::Duration::milliseconds(ms);
        reads.wrote(at(10), ["A".to_owned()]);
        reads.wrote(at(20), ["A".to_owned(), "C".to_owned()]);
        reads.wrote(at(30), ["B".to_owned()]);
        let taken = reads.written_before(at(25));
        assert_eq!(taken.into_iter().collect::<Vec<_>>(), vec!["A", "C"]);
        assert!(reads.written_before(at(25)).is_empty(), "taken once");
        let later = reads.written_before(at(31));
        assert_eq!(later.into_iter().collect::<Vec<_>>(), vec!["B"]);
    }
}
