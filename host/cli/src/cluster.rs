//! Several hosts, one database: which host runs which store's loops.
//!
//! Every store is served by one host at a time, the holder of its lease
//! ([`weft_store::Store::acquire_lease`]); everything the host writes for the store goes through
//! a handle fenced by that lease ([`weft_store::Store::fenced`]), so a host that lost a store
//! (paused, partitioned, or slow to notice) writes nothing more to it. Every host accepts every
//! configured store's webhooks (the journal is shared); the owner's processing loop reads the
//! journal from the database on every turn, so it sees entries another host's intake wrote.
//!
//! The [`Coordinator`] of each host, every `renew_interval`:
//!
//! 1. records the host's heartbeat (`hosts` table), which renews all its leases (one row, not
//!    one per store: see `weft_store::lease`), and counts the leases it holds; a store whose
//!    lease is no longer its (taken over while it was paused) stops at once, and so does a
//!    store one of whose writes was fenced;
//! 2. counts the live hosts (unexpired heartbeats) and takes free or expired leases up to its
//!    fair share, `ceil(stores / hosts)`, preferring stores by rendezvous hash so hosts do not
//!    all reach for the same ones; a host holding more than its share hands the surplus back
//!    (stops their loops, then releases the lease) for the others to take;
//! 3. when it wants more stores and a lease it could take will expire before the next round,
//!    it wakes at that expiry: a dead host's stores move within the lease TTL.
//!
//! A new tenure starts by recovering the writes the previous one left in flight (sent again
//! under their idempotency keys), then runs the store's loops. On a clean shutdown the host
//! stops every store's loops, hands back every lease and removes its heartbeat, so the other
//! hosts take its stores at once: on PostgreSQL a hand-back, a clean stop and a host's arrival
//! are announced (`weft_store::Store::host_notices`), and a coordinator hearing one runs a
//! round then instead of at its next renewal. So are new journal entries, per store: the
//! holder of a store whose webhook another host's intake took wakes its processing at once.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{error, info, warn};
use weft_engine::LoopHealth;
use weft_store::{Fence, HostNotice, HostNotices, LeaseGrant, OutboxStatus, Store, StoreError};

use crate::app::StoreBuild;

/// How this host takes part among the hosts sharing a database (`[cluster]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// This host's id, unique among the processes running on the database.
    pub host_id: String,
    /// A lease lasts this long unless renewed.
    pub lease_ttl: Duration,
    /// How often leases and the heartbeat are renewed and stores rebalanced.
    pub renew_interval: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        let c = weft_config::ClusterConfig::default();
        ClusterOptions {
            host_id: default_host_id(),
            lease_ttl: c.lease_ttl,
            renew_interval: c.renew_interval,
        }
    }
}

impl ClusterOptions {
    /// The options `[cluster]` sets (the default host id when it names none).
    pub fn from_config(c: &weft_config::ClusterConfig) -> Self {
        ClusterOptions {
            host_id: c.host_id.clone().unwrap_or_else(default_host_id),
            lease_ttl: c.lease_ttl,
            renew_interval: c.renew_interval,
        }
    }
}

/// `<hostname>-<pid>`, and `-<n>` for the n-th host started in this process (tests and demos
/// start several).
pub fn default_host_id() -> String {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let n = STARTED.fetch_add(1, Ordering::SeqCst);
    let base = format!("{}-{}", hostname(), std::process::id());
    if n == 0 { base } else { format!("{base}-{n}") }
}

/// The machine's name (Linux's, else `$HOSTNAME`, else `weft`), in host-id characters.
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() { "weft".into() } else { name }
}

/// The stores whose loops run on this host now, with the fence of each one's tenure (shared
/// with what reports on them and with the console, which writes a store's rows only through
/// its fenced handle).
pub(crate) type Owned = Arc<parking_lot::Mutex<BTreeMap<String, Fence>>>;

/// How soon a host asks again for a free lease it could not take (its row was still locked by
/// the previous holder's transaction, or the database failed).
const RETRY_ACQUIRE: Duration = Duration::from_millis(250);

/// One store this host serves: its lease and the task running its loops.
struct Tenure {
    fence: Fence,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Takes, keeps, balances and hands back this host's store leases, and runs the loops of the
/// stores it holds (module docs).
pub(crate) struct Coordinator {
    /// The host's database, whose fenced handles the stores' loops write through.
    db: Store,
    /// The same database with a pool of its own: heartbeats, renewals and acquisitions never
    /// wait behind the stores' loops for a connection.
    leases: Store,
    opts: ClusterOptions,
    instance: String,
    started_at: chrono::DateTime<Utc>,
    builds: BTreeMap<String, Arc<StoreBuild>>,
    loops: Arc<LoopHealth>,
    owned: Owned,
    held: BTreeMap<String, Tenure>,
    /// Tenures begun in this round, each signalling once its loops run (or wait for plugins).
    starting: Vec<tokio::sync::oneshot::Receiver<()>>,
    /// Tenures ending: their loops finishing, then their leases handed back.
    retiring: JoinSet<()>,
    warned_duplicate: bool,
}

impl Coordinator {
    pub(crate) fn new(
        db: Store,
        leases: Store,
        opts: ClusterOptions,
        builds: BTreeMap<String, Arc<StoreBuild>>,
        loops: Arc<LoopHealth>,
        owned: Owned,
    ) -> Self {
        Coordinator {
            db,
            leases,
            opts,
            instance: uuid_like(),
            started_at: Utc::now(),
            builds,
            loops,
            owned,
            held: BTreeMap::new(),
            starting: Vec::new(),
            retiring: JoinSet::new(),
            warned_duplicate: false,
        }
    }

    pub(crate) fn host_id(&self) -> &str {
        &self.opts.host_id
    }

    /// The first round: returns once the stores it took have started (or wait for their
    /// plugins), and how long until the next round.
    pub(crate) async fn start(&mut self) -> Result<Duration> {
        info!(host = %self.opts.host_id, stores = self.builds.len(), "joining the hosts of this database");
        let wait = self.round().await?;
        for started in std::mem::take(&mut self.starting) {
            let _ = started.await;
        }
        Ok(wait)
    }

    /// Rounds until `stop` (the first after `first_wait`), then the clean hand-back.
    pub(crate) async fn run(mut self, first_wait: Duration, mut stop: watch::Receiver<bool>) {
        let mut wait = first_wait;
        // What other hosts do, heard at once (PostgreSQL's notices; the timer alone on SQLite):
        // a hand-back, clean stop or arrival starts a round rather than waiting for the next
        // renewal, and entries another host's intake journaled for a store held here wake its
        // processing, which would otherwise find them at its next idle look (up to minutes on
        // a host of thousands of stores).
        let mut notices = match self.leases.host_notices().await {
            Ok(n) => n,
            Err(e) => {
                warn!(host = %self.opts.host_id, error = %e, "cannot listen for other hosts' notices; shares move at each round, and entries other hosts journal wait for the store's next idle look");
                None
            }
        };
        let mut next_round = tokio::time::Instant::now() + wait;
        loop {
            let mut heard = Ok(None);
            tokio::select! {
                _ = tokio::time::sleep_until(next_round) => {}
                _ = stop.changed() => {}
                _ = self.any_lost() => {}
                r = next_notice(&mut notices) => heard = r.map(Some),
            }
            match heard {
                Ok(Some(HostNotice::Journal { store, hinted })) => {
                    if self.held.contains_key(&store)
                        && let Some(b) = self.builds.get(&store)
                    {
                        b.wakers.journal.notify_one();
                        // Hints another host's intake journaled: fetch what they name now,
                        // not at the next poll round. (This host's own intake has pushed
                        // already; a second push costs its fetcher one empty look.)
                        for system in &hinted {
                            if let Some(bus) =
                                b.systems.get(system).and_then(|s| s.platform.hint_bus())
                            {
                                bus.push();
                            }
                        }
                    }
                    if !*stop.borrow() {
                        continue;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(host = %self.opts.host_id, error = %e, "lost the listener of other hosts' notices; shares move at each round only");
                    notices = None;
                }
            }
            if *stop.borrow() {
                break;
            }
            wait = match self.round().await {
                Ok(wait) => wait,
                Err(e) => {
                    warn!(host = %self.opts.host_id, error = %format!("{e:#}"), "lease round failed; retrying");
                    self.opts.renew_interval
                }
            };
            next_round = tokio::time::Instant::now() + wait;
            self.starting.clear();
            while self.retiring.try_join_next().is_some() {}
        }
        self.shutdown().await;
    }

    /// Resolves when the tenure of a store held here ends (a fenced write): the next round
    /// stops that store at once instead of at the next renewal.
    async fn any_lost(&self) {
        if self.held.is_empty() {
            return std::future::pending().await;
        }
        let all = self.held.values().map(|t| Box::pin(t.fence.lost()));
        futures::future::select_all(all).await;
    }

    /// One round: heartbeat, renewals, balancing. Returns how long to wait for the next.
    async fn round(&mut self) -> Result<Duration> {
        // First, whatever ended since the last round (a fenced write), database or not.
        self.retire_lost();
        let now = Utc::now();
        let (ttl, host) = (self.opts.lease_ttl, self.opts.host_id.clone());
        if let Some(other) = self
            .leases
            .heartbeat(&host, &self.instance, self.started_at, ttl, now)
            .await
            .context("cannot record this host's heartbeat")?
            && !self.warned_duplicate
        {
            self.warned_duplicate = true;
            error!(host = %host, other_process = %other, "another live process runs with this host id: host ids must be unique ([cluster] host_id); the two keep taking each other's stores");
        }
        // The heartbeat renewed every lease of this process (see `weft_store::lease`): when
        // it holds as many as it has live tenures and no store is being handed back (whose row
        // is still its own), every one is still its own. Otherwise (a tenure taken over while
        // this host was paused or cut off, a hand-back under way) read which.
        let expires = now + chrono::TimeDelta::from_std(ttl).unwrap_or_default();
        let live: Vec<&Tenure> = self.held.values().filter(|t| !t.fence.is_lost()).collect();
        let count = self
            .leases
            .held_lease_count(&host, &self.instance)
            .await
            .context("cannot count this host's leases")?;
        let renewed: Option<BTreeMap<String, i64>> =
            if count == live.len() && self.retiring.is_empty() {
                None
            } else {
                Some(
                    self.leases
                        .held_leases(&host, &self.instance)
                        .await
                        .context("cannot read this host's leases")?
                        .into_iter()
                        .collect(),
                )
            };
        for t in live {
            let store = t.fence.store_id();
            if renewed
                .as_ref()
                .is_none_or(|r| r.get(store) == Some(&t.fence.epoch()))
            {
                t.fence.renewed_until(expires);
            } else {
                // Not this process's any more (taken over while it was paused or cut off):
                // renewing it alone says so as a fenced write, and ends the tenure.
                match self.leases.renew_lease(&t.fence, ttl, now).await {
                    Ok(_) => {}
                    Err(e) if e.is_fenced() => {
                        warn!(host = %host, %store, error = %e, "lease renewal refused")
                    }
                    // The database is unreachable: writes fail anyway; try again next round.
                    Err(e) => warn!(host = %host, %store, error = %e, "cannot renew the lease"),
                }
            }
        }
        self.retire_lost();

        // Balance.
        let beats = self.leases.hosts().await.context("cannot read the hosts")?;
        let live = beats
            .iter()
            .filter(|h| h.expires_at > now || h.host_id == host)
            .count()
            .max(1);
        // The next instant another host's heartbeat runs out (if it stops beating, its stores
        // are shared out then, not a round later).
        let next_expiry = beats
            .iter()
            .filter(|h| h.host_id != host && h.expires_at > now)
            .map(|h| h.expires_at)
            .min();
        let n = self.builds.len();
        let share = n.div_ceil(live);
        let mut wait = self.opts.renew_interval;
        if let Some(at) = next_expiry
            && let Ok(d) = (at - now).to_std()
        {
            wait = wait.min(d + Duration::from_millis(50));
        }
        if self.held.len() < share {
            // Read only when this host has room: at its share (the usual round), renewing is
            // all a round does, not a read of every store's lease.
            let leases: BTreeMap<String, weft_store::Lease> = self
                .leases
                .leases()
                .await
                .context("cannot read the leases")?
                .into_iter()
                .map(|l| (l.store_id.clone(), l))
                .collect();
            let mut free = Vec::new();
            let mut soon = None;
            for store in self.builds.keys() {
                if self.held.contains_key(store) {
                    continue;
                }
                match leases.get(store) {
                    None => free.push(store.clone()),
                    Some(l) if !l.is_held(now) => free.push(store.clone()),
                    // A predecessor of this host id (restarted): taken to be dead.
                    Some(l) if l.holder == host && l.instance != self.instance => {
                        free.push(store.clone())
                    }
                    Some(l) => {
                        soon =
                            Some(soon.map_or(l.expires_at, |s: chrono::DateTime<Utc>| {
                                s.min(l.expires_at)
                            }))
                    }
                }
            }
            free.sort_by_key(|s| std::cmp::Reverse(preference(&host, s)));
            let mut want = share - self.held.len();
            let mut retry_soon = false;
            for store in free {
                if want == 0 {
                    break;
                }
                match self
                    .leases
                    .acquire_lease(&store, &host, &self.instance, ttl, Utc::now())
                    .await
                {
                    Ok(LeaseGrant::Acquired(fence)) => {
                        want -= 1;
                        info!(host = %host, %store, epoch = fence.epoch(), "took the store's lease; its loops start here");
                        self.begin(&store, fence);
                    }
                    Ok(LeaseGrant::HeldBy { holder, .. }) => {
                        info!(host = %host, %store, %holder, "the store is not free yet (another host took it first, or its holder's last transaction is still open)");
                        retry_soon = true;
                    }
                    // One store's failure does not hold up the others (or the next round).
                    Err(e) => {
                        warn!(host = %host, %store, error = %e, "cannot take the store's lease; trying again at the next round");
                        retry_soon = true;
                    }
                }
            }
            // A free lease it could not take yet (its row still locked): ask again shortly
            // rather than a whole round later.
            if want > 0 && retry_soon {
                wait = wait.min(RETRY_ACQUIRE);
            }
            // Wake when a lease this host could take expires, if that is before the next round.
            if want > 0
                && let Some(at) = soon
                && let Ok(d) = (at - Utc::now()).to_std()
            {
                wait = wait.min(d + Duration::from_millis(50));
            }
        } else if self.held.len() > share {
            // Hand the surplus back, least preferred first.
            let mut mine: Vec<String> = self.held.keys().cloned().collect();
            mine.sort_by_key(|s| preference(&host, s));
            let surplus = self.held.len() - share;
            for store in mine.into_iter().take(surplus) {
                if let Some(t) = self.held.remove(&store) {
                    info!(host = %host, %store, hosts = live, share, "handing the store to another host (more than a fair share here)");
                    self.retire(t, true);
                }
            }
        }
        Ok(wait)
    }

    /// Starts a tenure: recovery, plugins, loops (in their own task).
    fn begin(&mut self, store: &str, fence: Fence) {
        let Some(build) = self.builds.get(store).cloned() else {
            return;
        };
        let (stop, stop_rx) = watch::channel(false);
        let (started, started_rx) = tokio::sync::oneshot::channel();
        self.starting.push(started_rx);
        let task = tokio::spawn(serve(
            build,
            self.db.fenced(fence.clone()),
            fence.clone(),
            self.loops.clone(),
            stop_rx,
            started,
        ));
        self.owned.lock().insert(store.to_owned(), fence.clone());
        self.held
            .insert(store.to_owned(), Tenure { fence, stop, task });
    }

    /// Stops the loops of the stores whose tenure ended (a fenced write, a renewal refused).
    fn retire_lost(&mut self) {
        let lost: Vec<String> = self
            .held
            .iter()
            .filter(|(_, t)| t.fence.is_lost())
            .map(|(s, _)| s.clone())
            .collect();
        for store in lost {
            if let Some(t) = self.held.remove(&store) {
                warn!(host = %self.opts.host_id, %store, epoch = t.fence.epoch(), now = %t.fence.lost_reason().unwrap_or_default(), "lost the store's lease; its loops stop here (another host serves it)");
                self.retire(t, false);
            }
        }
    }

    /// Ends a tenure without holding up the round (a loop may be in the middle of a platform
    /// call): its loops are told to stop, and once they have, the lease is handed back when
    /// `release` (the lease is renewed until then, so nobody else takes the store while this
    /// host's loops still run).
    fn retire(&mut self, t: Tenure, release: bool) {
        let (db, owned) = (self.leases.clone(), self.owned.clone());
        self.retiring.spawn(async move {
            let store = t.fence.store_id().to_owned();
            let _ = t.stop.send(true);
            if let Err(e) = t.task.await {
                warn!(%store, error = %e, "the store's task ended abnormally");
            }
            owned.lock().remove(&store);
            if release
                && !t.fence.is_lost()
                && let Err(e) = db.release_lease(&t.fence).await
            {
                warn!(%store, error = %e, "cannot hand the store's lease back; it expires on its own");
            }
        });
    }

    /// The clean stop: every store's loops stop, every lease is handed back, the heartbeat
    /// goes, so the other hosts take the stores at their next round.
    async fn shutdown(mut self) {
        // The leases' own expiry first: once the heartbeat is gone it no longer renews them,
        // and they must stay this host's while its loops stop.
        if let Err(e) = self
            .leases
            .renew_leases(
                &self.opts.host_id,
                &self.instance,
                self.opts.lease_ttl,
                Utc::now(),
            )
            .await
        {
            warn!(error = %e, "cannot renew this host's leases before handing them back");
        }
        // Then the heartbeat, so the others count one host fewer when the leases come free.
        if let Err(e) = self
            .leases
            .remove_host(&self.opts.host_id, &self.instance)
            .await
        {
            warn!(error = %e, "cannot remove this host's heartbeat; it expires on its own");
        }
        let held = std::mem::take(&mut self.held);
        let n = held.len();
        for (_, t) in held {
            self.retire(t, true);
        }
        while self.retiring.join_next().await.is_some() {}
        info!(host = %self.opts.host_id, stores = n, "handed every store back");
    }
}

/// One tenure of one store: recover what the previous holder left in flight, load the plugins,
/// run the loops until `stop` or until a write is fenced.
async fn serve(
    build: Arc<StoreBuild>,
    db: Store,
    fence: Fence,
    loops: Arc<LoopHealth>,
    mut stop: watch::Receiver<bool>,
    started: tokio::sync::oneshot::Sender<()>,
) {
    let store = build.setup.id.clone();
    // Boxed, as the plugin wait below: the task lives as long as the store runs, and its
    // future is as large as the largest of these (thousands of stores).
    match Box::pin(recover_in_flight(&db, &store)).await {
        Ok(0) => {}
        Ok(n) => {
            warn!(%store, writes = n, "writes the store's previous holder left in flight are due again")
        }
        Err(e) if fence.is_lost() => {
            warn!(%store, error = %format!("{e:#}"), "lost the store before it started");
            return;
        }
        Err(e) => {
            warn!(%store, error = %format!("{e:#}"), "cannot recover the writes left in flight; they are sent again when their claims expire")
        }
    }
    let mut started = Some(started);
    let plugins = match build.plugins_now() {
        Some(p) => p,
        None => {
            // Still compiling: the host goes on; this store starts when they are ready.
            if let Some(s) = started.take() {
                let _ = s.send(());
            }
            let p = tokio::select! {
                p = Box::pin(build.plugins_ready()) => p,
                _ = stop.wait_for(|s| *s) => return,
                _ = fence.lost() => return,
            };
            if p.is_ok() {
                info!(%store, "plugins loaded; the store starts");
            }
            p
        }
    };
    let runner = plugins
        .map_err(anyhow::Error::from)
        .and_then(|p| build.runner(p, &db));
    let runner = match runner {
        Ok(r) => r,
        Err(e) => {
            error!(%store, error = %format!("{e:#}"), "the store's plugins did not load: it does not run (its webhooks are still journaled)");
            tokio::select! {
                _ = stop.wait_for(|s| *s) => {}
                _ = fence.lost() => {}
            }
            return;
        }
    };
    let (inner, inner_rx) = watch::channel(false);
    let mut set = JoinSet::new();
    runner.with_health(loops.clone()).spawn(&mut set, inner_rx);
    if let Some(s) = started.take() {
        let _ = s.send(());
    }
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        _ = fence.lost() => {
            warn!(%store, epoch = fence.epoch(), now = %fence.lost_reason().unwrap_or_default(), "the store's lease is no longer this host's: its writes are refused (fenced) and its loops stop");
        }
    }
    let _ = inner.send(true);
    while set.join_next().await.is_some() {}
    loops.forget(&store);
}

/// Makes the writes of `store_id` that a previous holder claimed but never settled (it was
/// killed, paused past its lease, or its machine went down while they were in flight) due again
/// now, instead of when their claims expire, during which they and every later write to the
/// same records would wait. Returns how many. Run by the store's new lease holder through its
/// fenced handle, before its loops start: the previous holder can no longer settle them (its
/// writes are fenced), and each write carries its idempotency key or compare-and-set guard, so
/// one the platform already applied is not applied twice.
pub async fn recover_in_flight(db: &Store, store_id: &str) -> Result<u64> {
    let now = Utc::now();
    let mut released = 0;
    loop {
        let rows = db
            .list_outbox(Some(store_id), Some(OutboxStatus::Inflight), 500)
            .await
            .with_context(|| format!("store {store_id}: cannot read the outbox"))?;
        let mut page = 0;
        for row in rows {
            let token = row.claim_token.as_deref().unwrap_or_default();
            match db
                .retry(
                    row.id,
                    token,
                    now,
                    "the store's previous host stopped while this write was in flight; sent again by its new holder",
                    now,
                )
                .await
            {
                Ok(()) => page += 1,
                // Settled meanwhile: nothing to release.
                Err(StoreError::LeaseLost { .. }) => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("store {store_id}: cannot release write #{}", row.id)
                    });
                }
            }
        }
        if page == 0 {
            return Ok(released);
        }
        released += page;
    }
}

/// A store's lease taken by a command (`weft replay`, `weft dlq retry`) for as long as it runs:
/// renewed in the background, handed back by [`CommandLease::release`].
pub struct CommandLease {
    /// The database, fenced by the lease: what the command writes through.
    pub db: Store,
    fence: Fence,
    keep: JoinHandle<()>,
    unfenced: Store,
}

impl CommandLease {
    /// Takes `store`'s lease for `command`, or refuses naming the host that holds it.
    pub async fn take(db: &Store, store: &str, command: &str, ttl: Duration) -> Result<Self> {
        let holder = format!("{command}@{}-{}", hostname(), std::process::id());
        match db
            .acquire_lease(store, &holder, &uuid_like(), ttl, Utc::now())
            .await
            .with_context(|| format!("store {store}: cannot take its lease"))?
        {
            LeaseGrant::Acquired(fence) => {
                let keep = {
                    let (db, fence) = (db.clone(), fence.clone());
                    tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(ttl / 3).await;
                            if let Err(e) = db.renew_lease(&fence, ttl, Utc::now()).await {
                                warn!(store = %fence.store_id(), error = %e, "cannot renew the store's lease");
                                if fence.is_lost() {
                                    return;
                                }
                            }
                        }
                    })
                };
                Ok(CommandLease {
                    db: db.fenced(fence.clone()),
                    fence,
                    keep,
                    unfenced: db.clone(),
                })
            }
            LeaseGrant::HeldBy { holder, expires_at } => bail!(
                "store `{store}` is served by host `{holder}` (its lease runs until {}, renewed while it runs): \
                 `weft {command}` takes the store's lease rather than race it; stop that host's `weft run` \
                 (the other hosts take the store over) or run it when nothing serves the store",
                expires_at.to_rfc3339()
            ),
        }
    }

    /// Hands the lease back: a host takes the store at its next round.
    pub async fn release(self) -> Result<()> {
        self.keep.abort();
        self.unfenced
            .release_lease(&self.fence)
            .await
            .context("cannot hand the store's lease back (it expires on its own)")?;
        Ok(())
    }
}

/// A fresh process instance id.
fn uuid_like() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// A stable pseudo-random preference of `host` for `store` (rendezvous hashing): hosts prefer
/// different stores, so they rarely contend for the same lease.
fn preference(host: &str, store: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    host.hash(&mut h);
    store.hash(&mut h);
    h.finish()
}

/// The next notice from another host; never, without a listener.
async fn next_notice(notices: &mut Option<HostNotices>) -> Result<HostNotice, StoreError> {
    match notices {
        Some(n) => n.next().await,
        None => std::future::pending().await,
    }
}
