//! The dispatcher's work queue: pending writes coalesced per entity key to the latest state,
//! handed out in batches (up to the API's per-call maximum), by priority within a store and
//! round robin across stores, with at most one batch in flight per key.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Shopify's maximum number of items in an array input (e.g. `inventorySetQuantities`).
pub const SHOPIFY_ARRAY_INPUT_MAX: usize = 250;

/// Urgency of a write. Orders go first, then inventory, prices, and catalog last.
///
/// ```
/// use weft_ratelimit::Priority;
/// assert!(Priority::Order > Priority::Inventory);
/// assert!(Priority::Price > Priority::Catalog);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Product and catalog content.
    Catalog = 0,
    /// Prices.
    Price = 1,
    /// Stock levels.
    Inventory = 2,
    /// Orders (money is waiting).
    Order = 3,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const DESCENDING: [Priority; 4] = [
        Priority::Order,
        Priority::Inventory,
        Priority::Price,
        Priority::Catalog,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Largest batch handed out per priority (one API call's worth of items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Orders per batch (one sales order per request in NetSuite).
    pub order: usize,
    /// Inventory updates per batch (Shopify array inputs take at most 250).
    pub inventory: usize,
    /// Price updates per batch.
    pub price: usize,
    /// Catalog writes per batch.
    pub catalog: usize,
}

impl BatchLimits {
    /// The same limit for every priority.
    pub const fn uniform(n: usize) -> Self {
        Self {
            order: n,
            inventory: n,
            price: n,
            catalog: n,
        }
    }

    /// The limit for `priority` (at least 1).
    pub fn get(&self, priority: Priority) -> usize {
        match priority {
            Priority::Order => self.order,
            Priority::Inventory => self.inventory,
            Priority::Price => self.price,
            Priority::Catalog => self.catalog,
        }
        .max(1)
    }
}

impl Default for BatchLimits {
    /// One order, price or catalog write per call; inventory batched up to Shopify's 250.
    fn default() -> Self {
        Self {
            order: 1,
            inventory: SHOPIFY_ARRAY_INPUT_MAX,
            price: 1,
            catalog: 1,
        }
    }
}

/// Behaviour of a [`WorkQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Batch size per priority.
    pub batch_limits: BatchLimits,
    /// A write waiting longer than this is served before more urgent classes of its store, so
    /// constant order traffic cannot starve catalog writes forever. `None`: strict priority.
    pub max_wait: Option<Duration>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            batch_limits: BatchLimits::default(),
            max_wait: Some(Duration::from_secs(300)),
        }
    }
}

/// What [`WorkQueue::push`] did with a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// A new pending entry.
    Queued,
    /// Replaced the pending value for the same key.
    Coalesced,
}

/// One write handed out in a [`Batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem<K, V> {
    /// Entity key.
    pub key: K,
    /// Latest state for the key.
    pub value: V,
    /// When the first of the coalesced writes was queued.
    pub enqueued_at: Instant,
    /// How many writes were folded into this one (1 = none coalesced).
    pub writes: u32,
    /// Queue position of the first coalesced write, kept so a requeued write keeps its place.
    seq: u64,
}

/// Writes of one store and one priority, to be sent in one API call.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<K, V> {
    /// Identifies the batch for [`WorkQueue::complete`] / [`WorkQueue::requeue`].
    pub id: u64,
    /// Store the writes belong to.
    pub store: Arc<str>,
    /// Priority of every item.
    pub priority: Priority,
    /// The writes, oldest first.
    pub items: Vec<WorkItem<K, V>>,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    priority: Priority,
    enqueued_at: Instant,
    seq: u64,
    writes: u32,
    /// Whether it sits in a class queue (false while its key is in flight).
    queued: bool,
}

#[derive(Debug)]
struct StoreQueue<K, V> {
    pending: HashMap<K, Entry<V>>,
    /// Per priority, queued keys by first-enqueue sequence (oldest first).
    classes: [BTreeMap<u64, K>; 4],
    in_flight: HashSet<K>,
}

impl<K: Hash + Eq + Clone, V> StoreQueue<K, V> {
    fn new() -> Self {
        Self {
            pending: HashMap::new(),
            classes: Default::default(),
            in_flight: HashSet::new(),
        }
    }

    fn has_queued(&self) -> bool {
        self.classes.iter().any(|c| !c.is_empty())
    }

    fn queued_len(&self) -> usize {
        self.classes.iter().map(BTreeMap::len).sum()
    }

    /// Insert or coalesce; returns whether it coalesced.
    fn upsert(&mut self, item: WorkItem<K, V>, priority: Priority, replace_value: bool) -> bool {
        let WorkItem {
            key,
            value,
            enqueued_at,
            writes,
            seq,
        } = item;
        let in_flight = self.in_flight.contains(&key);
        match self.pending.get_mut(&key) {
            Some(entry) => {
                if replace_value {
                    entry.value = value;
                }
                entry.writes = entry.writes.saturating_add(writes);
                let new_priority = entry.priority.max(priority);
                let new_seq = entry.seq.min(seq);
                entry.enqueued_at = entry.enqueued_at.min(enqueued_at);
                if entry.queued && (new_priority != entry.priority || new_seq != entry.seq) {
                    self.classes[entry.priority.index()].remove(&entry.seq);
                    self.classes[new_priority.index()].insert(new_seq, key);
                }
                entry.priority = new_priority;
                entry.seq = new_seq;
                true
            }
            None => {
                if !in_flight {
                    self.classes[priority.index()].insert(seq, key.clone());
                }
                self.pending.insert(
                    key,
                    Entry {
                        value,
                        priority,
                        enqueued_at,
                        seq,
                        writes,
                        queued: !in_flight,
                    },
                );
                false
            }
        }
    }

    /// Priority class to serve next: the most urgent, unless a less urgent class's oldest write
    /// has waited past `max_wait` (then the oldest such overdue class).
    fn pick_class(&self, now: Instant, max_wait: Option<Duration>) -> Option<Priority> {
        if let Some(max_wait) = max_wait {
            let overdue = Priority::DESCENDING
                .iter()
                .filter_map(|p| {
                    let (_, key) = self.classes[p.index()].first_key_value()?;
                    let entry = self.pending.get(key)?;
                    (now.saturating_duration_since(entry.enqueued_at) > max_wait)
                        .then_some((entry.enqueued_at, *p))
                })
                .min_by_key(|(at, _)| *at);
            if let Some((_, p)) = overdue {
                return Some(p);
            }
        }
        Priority::DESCENDING
            .into_iter()
            .find(|p| !self.classes[p.index()].is_empty())
    }
}

/// A queue of pending writes for many stores.
///
/// - **Coalescing:** a write for a key that is already pending replaces its value (latest state
///   wins), keeps the earliest enqueue time and the most urgent priority.
/// - **Batching:** [`next_batch`](Self::next_batch) hands out up to the priority's batch limit of
///   one store's writes of one priority.
/// - **Fairness:** stores are served round robin, one batch per turn, so a store with a huge
///   backlog gets the same number of calls as one with a handful. Within a store the most
///   urgent priority goes first (with aging, see [`QueueConfig::max_wait`]).
/// - **One write per key in flight:** a key handed out is not handed out again until its batch
///   is [`complete`](Self::complete)d or [`requeue`](Self::requeue)d; newer writes for it wait,
///   coalesced, so writes for one entity never overtake each other.
///
/// ```
/// use weft_ratelimit::{Priority, WorkQueue};
/// let mut queue: WorkQueue<String, i64> = WorkQueue::default();
/// queue.push("acme", "sku-1".into(), Priority::Inventory, 5);
/// queue.push("acme", "sku-1".into(), Priority::Inventory, 7); // coalesced: 7 wins
/// queue.push("acme", "order-9".into(), Priority::Order, 1);
/// let batch = queue.next_batch().unwrap();
/// assert_eq!(batch.priority, Priority::Order);
/// queue.complete(&batch);
/// let batch = queue.next_batch().unwrap();
/// assert_eq!((batch.items[0].value, batch.items[0].writes), (7, 2));
/// queue.complete(&batch);
/// assert!(queue.is_empty());
/// ```
#[derive(Debug)]
pub struct WorkQueue<K, V> {
    config: QueueConfig,
    stores: HashMap<Arc<str>, StoreQueue<K, V>>,
    /// Stores with queued (not held) writes, in service order.
    ring: VecDeque<Arc<str>>,
    next_seq: u64,
    next_batch_id: u64,
    /// Keys of each batch in flight.
    in_flight: HashMap<u64, (Arc<str>, Vec<K>)>,
}

impl<K: Hash + Eq + Clone, V> Default for WorkQueue<K, V> {
    fn default() -> Self {
        Self::new(QueueConfig::default())
    }
}

impl<K: Hash + Eq + Clone, V> WorkQueue<K, V> {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            stores: HashMap::new(),
            ring: VecDeque::new(),
            next_seq: 0,
            next_batch_id: 0,
            in_flight: HashMap::new(),
        }
    }

    /// Queue a write of `value` for `key` in `store`, coalescing with a pending one.
    pub fn push(&mut self, store: &str, key: K, priority: Priority, value: V) -> PushOutcome {
        let seq = self.next_seq;
        self.next_seq += 1;
        let now = Instant::now();
        let store_key: Arc<str> = match self.stores.get_key_value(store) {
            Some((k, _)) => k.clone(),
            None => Arc::from(store),
        };
        let queue = self
            .stores
            .entry(store_key.clone())
            .or_insert_with(StoreQueue::new);
        let was_active = queue.has_queued();
        let item = WorkItem {
            key,
            value,
            enqueued_at: now,
            writes: 1,
            seq,
        };
        let coalesced = queue.upsert(item, priority, true);
        if !was_active && queue.has_queued() {
            self.ring.push_back(store_key);
        }
        if coalesced {
            PushOutcome::Coalesced
        } else {
            PushOutcome::Queued
        }
    }

    /// The next batch: the next store in round-robin order, its most urgent class, up to the
    /// class's batch limit, oldest first. `None` when nothing is ready (all empty or in flight).
    pub fn next_batch(&mut self) -> Option<Batch<K, V>> {
        let now = Instant::now();
        while let Some(store) = self.ring.pop_front() {
            let Some(queue) = self.stores.get_mut(&store) else {
                continue;
            };
            let Some(priority) = queue.pick_class(now, self.config.max_wait) else {
                continue;
            };
            let limit = self.config.batch_limits.get(priority);
            let mut items = Vec::with_capacity(limit.min(queue.classes[priority.index()].len()));
            while items.len() < limit {
                let Some((_, key)) = queue.classes[priority.index()].pop_first() else {
                    break;
                };
                let Some(entry) = queue.pending.remove(&key) else {
                    continue;
                };
                queue.in_flight.insert(key.clone());
                items.push(WorkItem {
                    key,
                    value: entry.value,
                    enqueued_at: entry.enqueued_at,
                    writes: entry.writes,
                    seq: entry.seq,
                });
            }
            if queue.has_queued() {
                self.ring.push_back(store.clone());
            }
            if items.is_empty() {
                continue;
            }
            let id = self.next_batch_id;
            self.next_batch_id += 1;
            self.in_flight.insert(
                id,
                (store.clone(), items.iter().map(|i| i.key.clone()).collect()),
            );
            return Some(Batch {
                id,
                store,
                priority,
                items,
            });
        }
        None
    }

    /// The batch was written: release its keys so newer writes for them can go out.
    pub fn complete(&mut self, batch: &Batch<K, V>) {
        self.release(batch.id);
    }

    /// The batch failed and should be retried: its writes go back in the queue at their
    /// original place, unless a newer write for the key arrived meanwhile (that one wins, with
    /// the earlier enqueue time).
    pub fn requeue(&mut self, batch: Batch<K, V>) {
        self.release(batch.id);
        // Releasing may have dropped the store's (now empty) queue; the writes need one again.
        let queue = self
            .stores
            .entry(batch.store.clone())
            .or_insert_with(StoreQueue::new);
        let was_active = queue.has_queued();
        for item in batch.items {
            queue.upsert(item, batch.priority, false);
        }
        if !was_active && queue.has_queued() {
            self.ring.push_back(batch.store);
        }
    }

    fn release(&mut self, batch_id: u64) {
        let Some((store, keys)) = self.in_flight.remove(&batch_id) else {
            return;
        };
        let Some(queue) = self.stores.get_mut(&store) else {
            return;
        };
        let was_active = queue.has_queued();
        for key in keys {
            queue.in_flight.remove(&key);
            if let Some(entry) = queue.pending.get_mut(&key)
                && !entry.queued
            {
                entry.queued = true;
                queue.classes[entry.priority.index()].insert(entry.seq, key);
            }
        }
        if !was_active && queue.has_queued() {
            self.ring.push_back(store.clone());
        }
        if queue.pending.is_empty() && queue.in_flight.is_empty() {
            self.stores.remove(&store);
        }
    }

    /// Pending writes (queued or waiting for their key's batch), all stores.
    pub fn len(&self) -> usize {
        self.stores.values().map(|q| q.pending.len()).sum()
    }

    /// Whether nothing is pending and nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// Pending writes of one store.
    pub fn store_len(&self, store: &str) -> usize {
        self.stores.get(store).map_or(0, |q| q.pending.len())
    }

    /// Writes ready to hand out (not held behind an in-flight batch), all stores.
    pub fn ready_len(&self) -> usize {
        self.stores.values().map(StoreQueue::queued_len).sum()
    }

    /// Batches handed out and not yet completed or requeued.
    pub fn batches_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Age of the oldest pending write of `store` (its sync lag), if any.
    pub fn oldest_age(&self, store: &str) -> Option<Duration> {
        let now = Instant::now();
        self.stores
            .get(store)?
            .pending
            .values()
            .map(|e| now.saturating_duration_since(e.enqueued_at))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys<V>(batch: &Batch<u32, V>) -> Vec<u32> {
        batch.items.iter().map(|i| i.key).collect()
    }

    #[test]
    fn coalesces_to_latest_value_keeping_earliest_time_and_highest_priority() {
        let mut q: WorkQueue<u32, &str> = WorkQueue::default();
        assert_eq!(q.push("s", 1, Priority::Catalog, "a"), PushOutcome::Queued);
        let first_time = q.stores["s"].pending[&1].enqueued_at;
        assert_eq!(
            q.push("s", 1, Priority::Inventory, "b"),
            PushOutcome::Coalesced
        );
        assert_eq!(q.push("s", 1, Priority::Price, "c"), PushOutcome::Coalesced);
        assert_eq!(q.len(), 1);
        let batch = q.next_batch().unwrap();
        assert_eq!(batch.priority, Priority::Inventory);
        assert_eq!(batch.items.len(), 1);
        let item = &batch.items[0];
        assert_eq!(
            (item.value, item.writes, item.enqueued_at),
            ("c", 3, first_time)
        );
        q.complete(&batch);
        assert!(q.is_empty());
        assert!(q.next_batch().is_none());
    }

    #[test]
    fn priorities_order_within_a_store() {
        let mut q: WorkQueue<u32, ()> = WorkQueue::new(QueueConfig {
            batch_limits: BatchLimits::uniform(10),
            max_wait: None,
        });
        q.push("s", 1, Priority::Catalog, ());
        q.push("s", 2, Priority::Price, ());
        q.push("s", 3, Priority::Inventory, ());
        q.push("s", 4, Priority::Order, ());
        let order: Vec<Priority> = std::iter::from_fn(|| {
            let b = q.next_batch()?;
            q.complete(&b);
            Some(b.priority)
        })
        .collect();
        assert_eq!(order, Priority::DESCENDING.to_vec());
    }

    #[test]
    fn inventory_batches_up_to_the_api_maximum() {
        let mut q: WorkQueue<u32, u32> = WorkQueue::default();
        for k in 0..600 {
            q.push("s", k, Priority::Inventory, k);
        }
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = q.next_batch()?;
            q.complete(&b);
            Some(b.items.len())
        })
        .collect();
        assert_eq!(sizes, vec![250, 250, 100]);
        // Orders go one per call.
        q.push("s", 1, Priority::Order, 0);
        q.push("s", 2, Priority::Order, 0);
        assert_eq!(q.next_batch().unwrap().items.len(), 1);
    }

    #[test]
    fn stores_are_served_round_robin() {
        let mut q: WorkQueue<u32, ()> = WorkQueue::default();
        for k in 0..10_000 {
            q.push("big", k, Priority::Inventory, ());
        }
        for k in 0..10 {
            q.push("small", k, Priority::Order, ());
        }
        for k in 0..3 {
            q.push("other", k, Priority::Catalog, ());
        }
        let mut served = Vec::new();
        for _ in 0..30 {
            let b = q.next_batch().unwrap();
            served.push(b.store.to_string());
            q.complete(&b);
        }
        let small_done = served.iter().filter(|s| *s == "small").count();
        let other_done = served.iter().filter(|s| *s == "other").count();
        assert_eq!(small_done, 10, "{served:?}");
        assert_eq!(other_done, 3, "{served:?}");
        // The big store got one turn per round, not more.
        assert_eq!(&served[..3], &["big", "small", "other"]);
        assert_eq!(q.store_len("small"), 0);
        assert_eq!(q.store_len("big"), 10_000 - 17 * 250);
    }

    #[test]
    fn a_key_in_flight_is_held_until_its_batch_completes() {
        let mut q: WorkQueue<u32, u32> = WorkQueue::default();
        q.push("s", 7, Priority::Inventory, 1);
        let b1 = q.next_batch().unwrap();
        q.push("s", 7, Priority::Inventory, 2);
        q.push("s", 7, Priority::Inventory, 3);
        q.push("s", 8, Priority::Inventory, 1);
        let b2 = q.next_batch().unwrap();
        assert_eq!(
            keys(&b2),
            vec![8],
            "key 7 must wait for its in-flight batch"
        );
        assert!(q.next_batch().is_none());
        assert_eq!(q.ready_len(), 0);
        assert_eq!(q.len(), 1);
        q.complete(&b1);
        let b3 = q.next_batch().unwrap();
        assert_eq!(
            (b3.items[0].key, b3.items[0].value, b3.items[0].writes),
            (7, 3, 2)
        );
        q.complete(&b2);
        q.complete(&b3);
        assert!(q.is_empty());
        assert_eq!(q.batches_in_flight(), 0);
    }

    #[test]
    fn requeue_keeps_place_and_loses_to_newer_writes() {
        let mut q: WorkQueue<u32, u32> = WorkQueue::new(QueueConfig {
            batch_limits: BatchLimits::uniform(2),
            max_wait: None,
        });
        for k in 0..4 {
            q.push("s", k, Priority::Price, 10);
        }
        let b = q.next_batch().unwrap();
        assert_eq!(keys(&b), vec![0, 1]);
        q.push("s", 1, Priority::Price, 11); // newer state while the batch failed
        q.requeue(b);
        let b = q.next_batch().unwrap();
        assert_eq!(
            keys(&b),
            vec![0, 1],
            "retried writes keep their place in line"
        );
        assert_eq!(b.items[0].value, 10);
        assert_eq!(b.items[1].value, 11, "the newer write wins");
        assert_eq!(b.items[1].writes, 2);
        q.complete(&b);
        assert_eq!(keys(&q.next_batch().unwrap()), vec![2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn aging_lets_old_low_priority_work_through() {
        let mut q: WorkQueue<u32, ()> = WorkQueue::new(QueueConfig {
            batch_limits: BatchLimits::uniform(1),
            max_wait: Some(Duration::from_secs(60)),
        });
        q.push("s", 1, Priority::Catalog, ());
        tokio::time::advance(Duration::from_secs(61)).await;
        q.push("s", 2, Priority::Order, ());
        let b = q.next_batch().unwrap();
        assert_eq!(b.priority, Priority::Catalog, "overdue catalog write first");
        assert_eq!(q.oldest_age("s"), Some(Duration::ZERO));
        q.complete(&b);
        assert_eq!(q.next_batch().unwrap().priority, Priority::Order);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push { store: u8, key: u8, value: u32 },
        Take,
        Finish { index: usize, ok: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..3, 0u8..8, any::<u32>()).prop_map(|(store, key, value)| Op::Push { store, key, value }),
            2 => Just(Op::Take),
            2 => (any::<usize>(), any::<bool>()).prop_map(|(index, ok)| Op::Finish { index, ok }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever the interleaving of pushes, batches, completions and retries: the last value
        /// written for each key is the last one delivered, no key is ever in two batches in
        /// flight, and every pushed write is accounted for.
        #[test]
        fn coalescing_keeps_the_latest_value_per_key(ops in proptest::collection::vec(op(), 1..200)) {
            let mut q: WorkQueue<(u8, u8), u32> = WorkQueue::new(QueueConfig {
                batch_limits: BatchLimits::uniform(3),
                max_wait: None,
            });
            let mut latest: HashMap<(u8, u8), u32> = HashMap::new();
            let mut delivered: HashMap<(u8, u8), u32> = HashMap::new();
            let mut pushes = 0u32;
            let mut accounted = 0u32;
            let mut in_flight: Vec<Batch<(u8, u8), u32>> = Vec::new();
            let take = |q: &mut WorkQueue<(u8, u8), u32>, in_flight: &mut Vec<Batch<(u8, u8), u32>>| {
                if let Some(b) = q.next_batch() {
                    for item in &b.items {
                        let busy = in_flight.iter().any(|f| f.store == b.store && f.items.iter().any(|i| i.key == item.key));
                        assert!(!busy, "key {:?} handed out twice", item.key);
                    }
                    in_flight.push(b);
                    true
                } else {
                    false
                }
            };
            for op in ops {
                match op {
                    Op::Push { store, key, value } => {
                        q.push(&store.to_string(), (store, key), Priority::Inventory, value);
                        latest.insert((store, key), value);
                        pushes += 1;
                    }
                    Op::Take => { take(&mut q, &mut in_flight); }
                    Op::Finish { index, ok } => {
                        if !in_flight.is_empty() {
                            let b = in_flight.remove(index % in_flight.len());
                            if ok {
                                for item in &b.items {
                                    delivered.insert(item.key, item.value);
                                    accounted += item.writes;
                                }
                                q.complete(&b);
                            } else {
                                q.requeue(b);
                            }
                        }
                    }
                }
            }
            // Drain: complete everything.
            loop {
                for b in in_flight.drain(..) {
                    for item in &b.items {
                        delivered.insert(item.key, item.value);
                        accounted += item.writes;
                    }
                    q.complete(&b);
                }
                if !take(&mut q, &mut in_flight) {
                    break;
                }
            }
            prop_assert!(q.is_empty());
            prop_assert_eq!(delivered, latest);
            prop_assert_eq!(accounted, pushes);
        }
    }
}
