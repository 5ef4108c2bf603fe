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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::time::Instant;

    /// Tracks requests in flight as seen by a "server".
    #[derive(Default)]
    struct Server {
        in_flight: AtomicUsize,
        high_water: AtomicUsize,
    }

    impl Server {
        fn enter(&self) {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.high_water.fetch_max(now, Ordering::SeqCst);
        }
        fn leave(&self) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_hundred_stores_share_fifteen_slots_fairly() {
        let governor = ConcurrencyGovernor::new("ACCT", 15);
        let server = Arc::new(Server::default());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut handles = Vec::new();
        for store in 0..200u64 {
            let governor = governor.clone();
            let server = server.clone();
            handles.push(tokio::spawn(async move {
                let mut rng = ChaCha8Rng::seed_from_u64(store);
                let id = format!("store-{store}");
                // Stores differ in how many flows they run concurrently (1..=8).
                let flows = 1 + (store % 8) as usize;
                let done = Arc::new(AtomicUsize::new(0));
                let mut tasks = Vec::new();
                for _ in 0..flows {
                    let governor = governor.clone();
                    let server = server.clone();
                    let id = id.clone();
                    let done = done.clone();
                    let seed = rng.random::<u64>();
                    tasks.push(tokio::spawn(async move {
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        while Instant::now() < deadline {
                            let guard = governor.acquire(&id).await;
                            server.enter();
                            let ms = rng.random_range(50..150);
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            server.leave();
                            drop(guard);
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
                done.load(Ordering::SeqCst)
            }));
        }
        let mut counts = Vec::new();
        for h in handles {
            counts.push(h.await.unwrap());
        }
        let stats = governor.stats();
        assert!(server.high_water.load(Ordering::SeqCst) <= 15);
        assert!(stats.high_water <= 15);
        assert_eq!(
            stats.high_water, 15,
            "the account's slots were not all used"
        );
        assert_eq!(stats.in_flight, 0);
        let min = *counts.iter().min().unwrap();
        let max = *counts.iter().max().unwrap();
        assert!(min > 0);
        assert!(
            max <= 2 * min,
            "per-store throughput not within 2x: min {min}, max {max}"
        );
        // Slots stay busy: 15 slots * 120 s / ~100 ms mean hold.
        let total: usize = counts.iter().sum();
        assert!(total > 15 * 1200 * 9 / 10, "only {total} requests");
    }

    #[tokio::test(start_paused = true)]
    async fn deep_backlog_cannot_starve_a_shallow_one() {
        let governor = ConcurrencyGovernor::new("ACCT", 2);
        let big_done = Arc::new(AtomicUsize::new(0));
        let mut big = Vec::new();
        for _ in 0..10_000 {
            let governor = governor.clone();
            let big_done = big_done.clone();
            big.push(tokio::spawn(async move {
                let _g = governor.acquire("big").await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                big_done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        tokio::task::yield_now().await;
        let mut small = Vec::new();
        for _ in 0..10 {
            let governor = governor.clone();
            small.push(tokio::spawn(async move {
                let _g = governor.acquire("small").await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
        }
        for s in small {
            s.await.unwrap();
        }
        let big_so_far = big_done.load(Ordering::SeqCst);
        assert!(
            big_so_far <= 12,
            "the small store waited for {big_so_far} of the big store's requests"
        );
        for b in big {
            b.await.unwrap();
        }
        assert_eq!(governor.stats().granted, 10_010);
        assert!(governor.stats().high_water <= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn set_limit_admits_and_restrains() {
        let governor = ConcurrencyGovernor::new("ACCT", 1);
        let a = governor.acquire("s").await;
        let waiter = {
            let g = governor.clone();
            tokio::spawn(async move { g.acquire("s").await })
        };
        tokio::task::yield_now().await;
        assert_eq!(governor.stats().waiting, 1);
        governor.set_limit(2);
        let b = waiter.await.unwrap();
        assert_eq!(governor.stats().in_flight, 2);
        governor.set_limit(1);
        drop(a);
        // Still one in flight (b) with limit 1: nobody else gets in.
        assert!(governor.try_acquire("t").is_none());
        drop(b);
        assert!(governor.try_acquire("t").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_waiter_does_not_leak_a_slot() {
        let governor = ConcurrencyGovernor::new("ACCT", 1);
        let held = governor.acquire("a").await;
        let cancelled =
            tokio::time::timeout(Duration::from_millis(10), governor.acquire("b")).await;
        assert!(cancelled.is_err());
        drop(held);
        let g = tokio::time::timeout(Duration::from_millis(10), governor.acquire("c")).await;
        assert!(g.is_ok(), "slot leaked to a cancelled waiter");
        assert_eq!(governor.stats().in_flight, 1);
    }

    #[test]
    fn registry_shares_one_governor_per_account() {
        let registry = GovernorRegistry::new();
        let a = registry.get_or_create("A", 3);
        let a2 = registry.get_or_create("A", 10);
        let _b = registry.get_or_create("B", 5);
        let g = a.try_acquire("x").unwrap();
        assert_eq!(a2.stats().in_flight, 1);
        assert_eq!(g.account(), "A");
        assert_eq!(g.store(), "x");
        assert_eq!(registry.accounts(), vec!["A".to_owned(), "B".to_owned()]);
        assert!(registry.get("C").is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(32))]
        #[test]
        fn governor_never_exceeds_its_limit(
            limit in 1usize..8,
            jobs in proptest::collection::vec((0u8..6, 1u64..40), 1..120),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let governor = ConcurrencyGovernor::new("P", limit);
                let server = Arc::new(Server::default());
                let mut handles = Vec::new();
                for (store, ms) in jobs.clone() {
                    let governor = governor.clone();
                    let server = server.clone();
                    handles.push(tokio::spawn(async move {
                        let _g = governor.acquire(&store.to_string()).await;
                        server.enter();
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        server.leave();
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
                assert!(server.high_water.load(Ordering::SeqCst) <= limit);
                assert_eq!(governor.stats().granted, jobs.len() as u64);
                assert_eq!(governor.stats().in_flight, 0);
            });
        }
    }
}
