//! Account-wide concurrency governor (NetSuite): one per ERP account, shared by every store and
//! flow that uses the account, never more requests in flight than the account's limit, and
//! waiting stores served round robin so a deep backlog cannot starve a shallow one.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// Counters of a [`ConcurrencyGovernor`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GovernorStats {
    /// Current limit.
    pub limit: usize,
    /// Requests in flight now.
    pub in_flight: usize,
    /// Most requests ever in flight at once.
    pub high_water: usize,
    /// Acquisitions waiting now.
    pub waiting: usize,
    /// Guards handed out since creation.
    pub granted: u64,
}

#[derive(Debug)]
struct GovState {
    limit: usize,
    in_flight: usize,
    high_water: usize,
    granted: u64,
    waiting: usize,
    /// Per store, the waiters in arrival order.
    queues: HashMap<Arc<str>, VecDeque<oneshot::Sender<Guard>>>,
    /// Stores with waiters, in round-robin order.
    ring: VecDeque<Arc<str>>,
}

#[derive(Debug)]
struct GovInner {
    account: Arc<str>,
    state: Mutex<GovState>,
}

impl GovInner {
    /// Hand free slots to waiters, one store at a time in ring order.
    fn dispatch(self: &Arc<Self>, st: &mut GovState) {
        while st.in_flight < st.limit {
            let Some(store) = st.ring.pop_front() else {
                break;
            };
            let Some(queue) = st.queues.get_mut(&store) else {
                continue;
            };
            let waiter = queue.pop_front();
            if queue.is_empty() {
                st.queues.remove(&store);
            } else {
                st.ring.push_back(store.clone());
            }
            let Some(waiter) = waiter else {
                continue;
            };
            st.waiting = st.waiting.saturating_sub(1);
            st.in_flight += 1;
            let guard = Guard {
                inner: self.clone(),
                store,
                armed: true,
            };
            match waiter.send(guard) {
                Ok(()) => {
                    st.granted += 1;
                    st.high_water = st.high_water.max(st.in_flight);
                }
                Err(mut unclaimed) => {
                    // The waiter gave up; keep the slot for the next one.
                    unclaimed.armed = false;
                    st.in_flight -= 1;
                }
            }
        }
    }
}

/// Limits requests in flight against one ERP account (NetSuite's account-wide concurrency limit
/// covers every integration on the account). Clone it freely; clones share the account.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use weft_ratelimit::ConcurrencyGovernor;
/// let governor = ConcurrencyGovernor::new("TSTDRV123", 15);
/// let guard = governor.acquire("store-a").await;
/// // ... send the NetSuite request while `guard` lives ...
/// drop(guard);
/// assert_eq!(governor.stats().high_water, 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ConcurrencyGovernor {
    inner: Arc<GovInner>,
}

impl ConcurrencyGovernor {
    /// A governor for `account` allowing `limit` requests in flight (0 pauses the account).
    pub fn new(account: impl Into<Arc<str>>, limit: usize) -> Self {
        Self {
            inner: Arc::new(GovInner {
                account: account.into(),
                state: Mutex::new(GovState {
                    limit,
                    in_flight: 0,
                    high_water: 0,
                    granted: 0,
                    waiting: 0,
                    queues: HashMap::new(),
                    ring: VecDeque::new(),
                }),
            }),
        }
    }

    /// The account this governor guards.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Wait for a slot on behalf of `store_id`. The returned guard holds the slot until dropped.
    ///
    /// Waiting stores are served round robin, one slot per store per turn, each store's own
    /// requests first come, first served. Cancel-safe: a dropped waiter takes no slot.
    pub async fn acquire(&self, store_id: &str) -> Guard {
        loop {
            let receiver = {
                let mut st = self.inner.state.lock();
                if st.in_flight < st.limit && st.ring.is_empty() {
                    st.in_flight += 1;
                    st.granted += 1;
                    st.high_water = st.high_water.max(st.in_flight);
                    return Guard {
                        inner: self.inner.clone(),
                        store: Arc::from(store_id),
                        armed: true,
                    };
                }
                let (sender, receiver) = oneshot::channel();
                let store: Arc<str> = Arc::from(store_id);
                match st.queues.get_mut(&store) {
                    Some(queue) => queue.push_back(sender),
                    None => {
                        st.queues.insert(store.clone(), VecDeque::from([sender]));
                        st.ring.push_back(store);
                    }
                }
                st.waiting += 1;
                receiver
            };
            if let Ok(guard) = receiver.await {
                return guard;
            }
            // The sender can only vanish if the queue was torn down; queue again.
        }
    }

    /// Take a slot now if one is free and nobody is waiting.
    pub fn try_acquire(&self, store_id: &str) -> Option<Guard> {
        let mut st = self.inner.state.lock();
        if st.in_flight < st.limit && st.ring.is_empty() {
            st.in_flight += 1;
            st.granted += 1;
            st.high_water = st.high_water.max(st.in_flight);
            Some(Guard {
                inner: self.inner.clone(),
                store: Arc::from(store_id),
                armed: true,
            })
        } else {
            None
        }
    }

    /// Change the limit at runtime. Raising it lets waiters in at once; lowering it lets
    /// in-flight requests finish and admits nobody until in-flight is below the new limit.
    pub fn set_limit(&self, limit: usize) {
        let mut st = self.inner.state.lock();
        st.limit = limit;
        self.inner.dispatch(&mut st);
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.inner.state.lock().limit
    }

    /// Counters and current occupancy.
    pub fn stats(&self) -> GovernorStats {
        let st = self.inner.state.lock();
        GovernorStats {
            limit: st.limit,
            in_flight: st.in_flight,
            high_water: st.high_water,
            waiting: st.waiting,
            granted: st.granted,
        }
    }
}

/// A slot in a [`ConcurrencyGovernor`]; the slot is freed (and handed to the next store in
/// line) when the guard is dropped.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the guard is dropped"]
pub struct Guard {
    inner: Arc<GovInner>,
    store: Arc<str>,
    armed: bool,
}

impl Guard {
    /// The store this slot was granted to.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// The account the slot belongs to.
    pub fn account(&self) -> &str {
        &self.inner.account
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut st = self.inner.state.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        self.inner.dispatch(&mut st);
    }
}

/// The governors of every ERP account in this host, keyed by account id, so every store and flow
/// that uses an account shares its one governor.
///
/// ```
/// use weft_ratelimit::GovernorRegistry;
/// let registry = GovernorRegistry::new();
/// let a = registry.get_or_create("TSTDRV123", 15);
/// let b = registry.get_or_create("TSTDRV123", 99); // existing governor, limit unchanged
/// assert_eq!(b.limit(), 15);
/// registry.set_limit("TSTDRV123", 25);
/// assert_eq!(a.limit(), 25);
/// ```
#[derive(Debug, Default)]
pub struct GovernorRegistry {
    governors: Mutex<HashMap<String, ConcurrencyGovernor>>,
}

impl GovernorRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account's governor, created with `limit` if this is the first use of the account.
    /// An existing governor keeps its limit; change it with [`set_limit`](Self::set_limit).
    pub fn get_or_create(&self, account_id: &str, limit: usize) -> ConcurrencyGovernor {
        self.governors
            .lock()
            .entry(account_id.to_owned())
            .or_insert_with(|| ConcurrencyGovernor::new(account_id, limit))
            .clone()
    }

    /// The account's governor, if one exists.
    pub fn get(&self, account_id: &str) -> Option<ConcurrencyGovernor> {
        self.governors.lock().get(account_id).cloned()
    }

    /// Set an account's limit, creating its governor if needed.
    pub fn set_limit(&self, account_id: &str, limit: usize) {
        self.get_or_create(account_id, limit).set_limit(limit);
    }

    /// Ids of all accounts with a governor.
    pub fn accounts(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.governors.lock().keys().cloned().collect();
        ids.sort();
        ids
    }
}
