//! Store leases and fencing: which process works on which store, for several hosts on one
//! database (and the same code path for one host on SQLite).
//!
//! - A lease row per store names its holder (a host id), the holder's process (`instance`, a
//!   fresh id per process) and an **epoch**, the fencing token: every acquisition starts a new
//!   tenure and increments it. A lease is acquired when it is free, expired, handed back, or
//!   held under the caller's own host id by another process (host ids are unique among running
//!   processes, so that process is a predecessor that died: a restarted host takes its stores
//!   back at once and fences it).
//! - [`Store::fenced`] returns a handle whose every write transaction first reads the store's
//!   lease row and refuses to write ([`StoreError::Fenced`]) unless the lease still carries the
//!   handle's epoch. On PostgreSQL the read takes `FOR KEY SHARE` on the lease row and an
//!   acquisition takes `FOR UPDATE`: a takeover waits for the old holder's transactions in
//!   progress, and any transaction the old holder starts after it sees the new epoch. So once a
//!   host has taken a store over, nothing the previous holder does can change the store's rows,
//!   however late it wakes up. SQLite has one writer at a time, so its read is enough.
//! - Renewals (`renew_*`) extend the lease only while its epoch is unchanged: an expired lease
//!   nobody took is extended safely (no one else wrote), a lease taken over is lost for good.
//! - Hosts record a heartbeat ([`Store::heartbeat`]); hosts whose heartbeat has not expired
//!   share the stores between them. **A heartbeat renews every lease of its process**: a
//!   lease held by a process whose heartbeat row (same host id and instance) runs later than
//!   the lease's own expiry runs until then, so a host of 10,000 stores renews them by writing
//!   one row, not 10,000 (it confirms it still holds them with a count:
//!   [`Store::held_lease_count`]). A lease's own expiry is its floor: set when it is taken
//!   (and by [`Store::renew_lease`], for holders without a heartbeat, such as `weft replay`),
//!   and 0 once handed back, which no heartbeat extends. A clean stop writes its leases' own
//!   expiry ([`Store::renew_leases`]) before it removes its heartbeat, so they stay held
//!   while its loops wind down.
//!
//! Times come from the caller's clock, so hosts sharing a database need synchronised clocks
//! (NTP) and a TTL well above their skew. Fencing itself does not depend on clocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Db, RowExt, Tx, from_ms, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::LeaseGrant;

/// A store's lease as this process holds it: the fencing token its writes are checked against.
/// Cheap to clone; every clone sees the same state.
#[derive(Clone, Debug)]
pub struct Fence {
    inner: Arc<FenceInner>,
}

#[derive(Debug)]
struct FenceInner {
    store_id: String,
    holder: String,
    instance: String,
    epoch: i64,
    /// Expiry as last granted or renewed (Unix ms).
    expires_at: AtomicI64,
    /// The TTL the lease was granted for (ms).
    ttl_ms: i64,
    lost: AtomicBool,
    lost_tx: tokio::sync::watch::Sender<bool>,
    /// How the lease stood when the tenure ended (the refusal's wording); the first cause wins.
    why: std::sync::Mutex<Option<String>>,
}

impl PartialEq for Fence {
    fn eq(&self, other: &Self) -> bool {
        self.inner.store_id == other.inner.store_id
            && self.inner.epoch == other.inner.epoch
            && self.inner.instance == other.inner.instance
    }
}

impl Fence {
    fn new(
        store_id: &str,
        holder: &str,
        instance: &str,
        epoch: i64,
        expires_at: DateTime<Utc>,
        ttl_ms: i64,
    ) -> Fence {
        let (lost_tx, _) = tokio::sync::watch::channel(false);
        Fence {
            inner: Arc::new(FenceInner {
                store_id: store_id.to_owned(),
                holder: holder.to_owned(),
                instance: instance.to_owned(),
                epoch,
                expires_at: AtomicI64::new(ms(expires_at)),
                ttl_ms,
                lost: AtomicBool::new(false),
                lost_tx,
                why: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The store.
    pub fn store_id(&self) -> &str {
        &self.inner.store_id
    }

    /// The host id holding it.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// The holding process.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// The fencing token: the lease's epoch for this tenure.
    pub fn epoch(&self) -> i64 {
        self.inner.epoch
    }

    /// The lease's expiry as last granted or renewed.
    pub fn expires_at(&self) -> DateTime<Utc> {
        from_ms(self.inner.expires_at.load(Ordering::SeqCst))
    }

    /// Records the expiry a renewal of this tenure granted ([`Store::renew_leases`]).
    pub fn renewed_until(&self, expires_at: DateTime<Utc>) {
        self.inner
            .expires_at
            .store(ms(expires_at), Ordering::SeqCst);
    }

    /// Why this process must not act outside the database on the store's behalf (send a claimed
    /// write to a platform) at `now` by its own clock, if it must not: the tenure is over, or
    /// the lease as last renewed has at most a quarter of its TTL left. Holders renew at least
    /// every half TTL, so a live holder keeps more than that; one that was frozen, cut off from
    /// the database or starved past that has another host's takeover near or done, which the
    /// database would fence at its next write but a platform call would not see. The quarter
    /// also covers clock skew between hosts up to that much. One atomic load: cheap enough
    /// before every send.
    pub fn unsafe_to_act(&self, now: DateTime<Utc>) -> Option<String> {
        if self.is_lost() {
            return Some(format!(
                "the store's lease {}",
                self.lost_reason()
                    .unwrap_or_else(|| "is no longer held".into())
            ));
        }
        let expires = self.inner.expires_at.load(Ordering::SeqCst);
        let left = expires - ms(now);
        (left <= self.inner.ttl_ms / 4).then(|| {
            format!(
                "this host's lease on the store (epoch {}) was last renewed until {} ({} ms from now by this host's clock, at most a quarter of its {} ms TTL): not sent, left for whoever holds the store",
                self.inner.epoch,
                from_ms(expires).to_rfc3339(),
                left,
                self.inner.ttl_ms
            )
        })
    }

    /// Whether the tenure is over (a write was fenced, a renewal found the lease taken, or it
    /// was released): no write through a handle of this fence can succeed any more.
    pub fn is_lost(&self) -> bool {
        self.inner.lost.load(Ordering::SeqCst)
    }

    /// Resolves once the tenure is over ([`Fence::is_lost`]).
    pub async fn lost(&self) {
        let mut rx = self.inner.lost_tx.subscribe();
        let _ = rx.wait_for(|l| *l).await;
    }

    /// Why the tenure ended, once it has.
    pub fn lost_reason(&self) -> Option<String> {
        self.inner
            .why
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Ends the tenure locally, saying `now` (how the lease stands: "is held by ...").
    pub fn mark_lost(&self, now: String) {
        self.inner
            .why
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(now);
        self.inner.lost.store(true, Ordering::SeqCst);
        self.inner.lost_tx.send_replace(true);
    }

    fn refusal(&self) -> StoreError {
        StoreError::Fenced {
            store_id: self.inner.store_id.clone(),
            epoch: self.inner.epoch,
            now: self
                .lost_reason()
                .unwrap_or_else(|| "is no longer held".into()),
        }
    }

    pub(crate) fn check_not_lost(&self) -> Result<()> {
        if self.is_lost() {
            Err(self.refusal())
        } else {
            Ok(())
        }
    }
}

/// A store's lease as the database holds it (for `weft status` and the hosts' balancing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The store.
    pub store_id: String,
    /// The host id holding (or last holding) it.
    pub holder: String,
    /// The holding process.
    pub instance: String,
    /// The fencing token of the current (or last) tenure.
    pub epoch: i64,
    /// When the tenure started.
    pub acquired_at: DateTime<Utc>,
    /// When it expires unless renewed (the Unix epoch once handed back).
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// Whether someone holds it at `now`.
    pub fn is_held(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// A host among those sharing the database, as its lease heartbeat ([`Store::heartbeat`])
/// records it (the `hosts` table; the loop-health beat of a running host is
/// [`crate::HostBeat`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterHost {
    /// The host id.
    pub host_id: String,
    /// Its current process.
    pub instance: String,
    /// When that process started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// When it counts as gone unless it beats again.
    pub expires_at: DateTime<Utc>,
}

fn ttl_ms(op: &'static str, ttl: Duration) -> Result<i64> {
    i64::try_from(ttl.as_millis())
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| StoreError::InvalidArgument {
            op,
            reason: format!("ttl {ttl:?} must be at least 1 ms"),
        })
}

/// How a lease row stands, in words for [`StoreError::Fenced`].
fn describe(row: Option<(String, i64, i64)>, now_ms: i64) -> String {
    match row {
        None => "is gone".into(),
        Some((_, epoch, 0)) => format!("was handed back (epoch {epoch})"),
        Some((holder, epoch, exp)) if exp > now_ms => {
            format!("is held by host `{holder}` (epoch {epoch})")
        }
        Some((holder, epoch, _)) => {
            format!("was taken by host `{holder}` (epoch {epoch}), now expired")
        }
    }
}

/// Checks, inside write transaction `tx`, that `fence` is still the store's current tenure
/// (PostgreSQL: under `FOR KEY SHARE`, so a takeover waits for this transaction).
pub(crate) async fn check_fence(tx: &mut Tx, fence: &Fence, op: &'static str) -> Result<()> {
    let sql = if matches!(tx, Tx::Postgres(_)) {
        "SELECT holder, epoch, expires_at FROM leases WHERE store_id = $1 FOR KEY SHARE"
    } else {
        "SELECT holder, epoch, expires_at FROM leases WHERE store_id = $1"
    };
    let row = on_tx!(tx, c => {
        let r = sqlx::query(sql)
            .bind(fence.store_id())
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::db(op))?;
        match r {
            Some(r) => Some((
                r.text("holder").map_err(StoreError::db(op))?,
                r.i64("epoch").map_err(StoreError::db(op))?,
                r.i64("expires_at").map_err(StoreError::db(op))?,
            )),
            None => None,
        }
    });
    match row {
        Some((_, epoch, _)) if epoch == fence.epoch() => Ok(()),
        other => {
            fence.mark_lost(describe(other, ms(Utc::now())));
            Err(fence.refusal())
        }
    }
}

/// How long an acquisition waits for the lease row's lock (PostgreSQL) before answering that
/// the lease is not free yet: the holder's fenced transactions are short, and a stopped
/// holder's are ended by the server, so the caller asks again at its next round rather than
/// queue behind them.
const ACQUIRE_LOCK_WAIT: Duration = Duration::from_millis(500);

/// Whether PostgreSQL refused a lock wait (`lock_not_available`, 55P03: `lock_timeout` or
/// `NOWAIT`).
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"))
}

/// A lease's effective expiry, over `LEASE_FROM`: its own, or its holder's heartbeat's when
/// that is later (see the module docs), never for a lease handed back (0).
const EFFECTIVE_EXPIRY: &str = "CASE WHEN l.expires_at > 0 AND h.expires_at > l.expires_at
        THEN h.expires_at ELSE l.expires_at END AS expires_at";

/// Lease rows (`l`) beside the heartbeat of the process holding each (`h`).
const LEASE_FROM: &str =
    "FROM leases l LEFT JOIN hosts h ON h.host_id = l.holder AND h.instance = l.instance";

/// A lease row with its effective expiry.
fn lease_select() -> String {
    format!(
        "SELECT l.store_id, l.holder, l.instance, l.epoch, l.acquired_at, {EFFECTIVE_EXPIRY} {LEASE_FROM}"
    )
}

fn lease_from<R: RowExt>(r: &R, op: &'static str) -> Result<Lease> {
    let d = StoreError::db;
    Ok(Lease {
        store_id: r.text("store_id").map_err(d(op))?,
        holder: r.text("holder").map_err(d(op))?,
        instance: r.text("instance").map_err(d(op))?,
        epoch: r.i64("epoch").map_err(d(op))?,
        acquired_at: from_ms(r.i64("acquired_at").map_err(d(op))?),
        expires_at: from_ms(r.i64("expires_at").map_err(d(op))?),
    })
}

impl Store {
    /// A handle on the same database whose every write transaction is fenced by `fence`: it
    /// fails with [`StoreError::Fenced`] (writing nothing) once the store's lease is no longer
    /// `fence`'s tenure. Reads are not fenced. Use it for everything done on the store's
    /// behalf while holding its lease (steps, outbox claims and settlements, watermarks).
    pub fn fenced(&self, fence: Fence) -> Store {
        Store {
            inner: self.inner.clone(),
            fence: Some(fence),
            priority: self.priority,
        }
    }

    /// The fence of a handle made by [`Store::fenced`].
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// Takes the lease on `store_id` for host `holder`, process `instance`, until `now + ttl`,
    /// starting a new tenure (the epoch grows). Succeeds when the lease is free, expired,
    /// handed back, or held under `holder` by another process (a predecessor with the same host
    /// id, taken to be dead); otherwise says who holds it.
    pub async fn acquire_lease(
        &self,
        store_id: &str,
        holder: &str,
        instance: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<LeaseGrant> {
        const OP: &str = "acquire lease";
        let ttl = ttl_ms(OP, ttl)?;
        let pg = matches!(self.db(), Db::Postgres(_));
        // The expiry is the effective one: the holder's heartbeat renews its leases.
        let select = format!(
            "SELECT l.holder, l.instance, l.epoch, {EFFECTIVE_EXPIRY} {LEASE_FROM} WHERE l.store_id = $1{}",
            if pg { " FOR UPDATE OF l" } else { "" }
        );
        let expires = ms(now) + ttl;
        let mut w = self.begin_write(OP).await?;
        if pg {
            // The previous holder's fenced transactions hold the row under `FOR KEY SHARE`
            // until they end: wait for them briefly, not for as long as a stopped holder's
            // session lasts (its server ends it: `idle_in_transaction_session_timeout`).
            on_tx!(&mut w.tx, c => {
                sqlx::query(&format!("SET LOCAL lock_timeout = '{}ms'", ACQUIRE_LOCK_WAIT.as_millis()))
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
            });
        }
        let grant = on_tx!(&mut w.tx, c => {
            let mut current = None;
            let mut inserted = false;
            for _ in 0..2 {
                let row = match sqlx::query(&select)
                    .bind(store_id)
                    .fetch_optional(&mut *c)
                    .await
                {
                    Ok(row) => row,
                    // A transaction of the holder is still open on the row: not free yet.
                    Err(e) if is_lock_timeout(&e) => {
                        drop(w);
                        return self.busy_lease(store_id, now).await;
                    }
                    Err(e) => return Err(StoreError::db(OP)(e)),
                };
                if let Some(r) = row {
                    current = Some((
                        r.text("holder").map_err(StoreError::db(OP))?,
                        r.text("instance").map_err(StoreError::db(OP))?,
                        r.i64("epoch").map_err(StoreError::db(OP))?,
                        r.i64("expires_at").map_err(StoreError::db(OP))?,
                    ));
                    break;
                }
                let inserted_row = sqlx::query(
                    "INSERT INTO leases (store_id, holder, instance, expires_at, acquired_at, epoch)
                     VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (store_id) DO NOTHING RETURNING epoch",
                )
                .bind(store_id)
                .bind(holder)
                .bind(instance)
                .bind(expires)
                .bind(ms(now))
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
                if inserted_row.is_some() {
                    inserted = true;
                    break;
                }
                // Another process inserted it meanwhile: read what it holds.
            }
            match current {
                // Inserted by another process and gone again: someone else's turn; ask later.
                None if !inserted => LeaseGrant::HeldBy {
                    holder: "another process".into(),
                    expires_at: now,
                },
                None => LeaseGrant::Acquired(Fence::new(store_id, holder, instance, 1, from_ms(expires), ttl)),
                Some((h, _, _, exp)) if exp > ms(now) && h != holder => LeaseGrant::HeldBy {
                    holder: h,
                    expires_at: from_ms(exp),
                },
                Some((_, _, epoch, _)) => {
                    sqlx::query(
                        "UPDATE leases SET holder = $2, instance = $3, epoch = $4, acquired_at = $5,
                                expires_at = $6
                         WHERE store_id = $1 AND epoch = $7",
                    )
                    .bind(store_id)
                    .bind(holder)
                    .bind(instance)
                    .bind(epoch + 1)
                    .bind(ms(now))
                    .bind(expires)
                    .bind(epoch)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?;
                    LeaseGrant::Acquired(Fence::new(store_id, holder, instance, epoch + 1, from_ms(expires), ttl))
                }
            }
        });
        w.commit(OP).await?;
        Ok(grant)
    }

    /// How a lease whose row another transaction still locks stands, for [`LeaseGrant::HeldBy`].
    async fn busy_lease(&self, store_id: &str, now: DateTime<Utc>) -> Result<LeaseGrant> {
        let lease = self.lease(store_id).await?;
        Ok(LeaseGrant::HeldBy {
            holder: match &lease {
                Some(l) => format!("{} (a transaction of its is still open)", l.holder),
                None => "another process".into(),
            },
            expires_at: lease.map_or(now, |l| l.expires_at.max(now)),
        })
    }

    /// Extends `fence`'s lease to `now + ttl` while it is still its tenure (even if it expired
    /// meanwhile and nobody took it). Otherwise the fence is lost and this is
    /// [`StoreError::Fenced`].
    pub async fn renew_lease(
        &self,
        fence: &Fence,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        const OP: &str = "renew lease";
        let ttl = ttl_ms(OP, ttl)?;
        fence.check_not_lost()?;
        let mut w = self.begin_write(OP).await?;
        let (n, row) = on_tx!(&mut w.tx, c => {
            let n = sqlx::query("UPDATE leases SET expires_at = $3 WHERE store_id = $1 AND epoch = $2")
                .bind(fence.store_id())
                .bind(fence.epoch())
                .bind(ms(now) + ttl)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected();
            let row = if n == 0 {
                sqlx::query("SELECT holder, epoch, expires_at FROM leases WHERE store_id = $1")
                    .bind(fence.store_id())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::db(OP))?
                    .map(|r| -> Result<_> {
                        Ok((
                            r.text("holder").map_err(StoreError::db(OP))?,
                            r.i64("epoch").map_err(StoreError::db(OP))?,
                            r.i64("expires_at").map_err(StoreError::db(OP))?,
                        ))
                    })
                    .transpose()?
            } else {
                None
            };
            (n, row)
        });
        w.commit(OP).await?;
        if n == 1 {
            fence
                .inner
                .expires_at
                .store(ms(now) + ttl, Ordering::SeqCst);
            Ok(from_ms(ms(now) + ttl))
        } else {
            fence.mark_lost(describe(row, ms(now)));
            Err(fence.refusal())
        }
    }

    /// Extends, in one statement, every lease process `instance` of host `holder` holds to
    /// `now + ttl` (their own expiry, which outlasts the heartbeat: a host about to remove its
    /// heartbeat keeps its stores while its loops stop), and returns them as
    /// `(store_id, epoch)`. A fence of this process whose store is missing (or has another
    /// epoch) is no longer held.
    pub async fn renew_leases(
        &self,
        holder: &str,
        instance: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>> {
        const OP: &str = "renew leases";
        let ttl = ttl_ms(OP, ttl)?;
        let mut w = self.begin_write(OP).await?;
        let held = on_tx!(&mut w.tx, c => {
            let rows = sqlx::query(
                "UPDATE leases SET expires_at = $3
                 WHERE holder = $1 AND instance = $2 AND expires_at > 0
                 RETURNING store_id, epoch",
            )
            .bind(holder)
            .bind(instance)
            .bind(ms(now) + ttl)
            .fetch_all(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| Ok((r.text("store_id").map_err(StoreError::db(OP))?, r.i64("epoch").map_err(StoreError::db(OP))?)))
                .collect::<Result<Vec<_>>>()?
        });
        w.commit(OP).await?;
        Ok(held)
    }

    /// How many leases process `instance` of host `holder` holds (handed-back ones not
    /// counted): a host that beat ([`Store::heartbeat`]) and finds as many as it has tenures
    /// knows every one is still its own and renewed, without reading or writing each.
    pub async fn held_lease_count(&self, holder: &str, instance: &str) -> Result<usize> {
        const OP: &str = "count held leases";
        on_db!(self.db(), p => {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM leases WHERE holder = $1 AND instance = $2 AND expires_at > 0",
            )
            .bind(holder)
            .bind(instance)
            .fetch_one(p)
            .await
            .map_err(StoreError::db(OP))?;
            Ok(usize::try_from(n).unwrap_or_default())
        })
    }

    /// The leases process `instance` of host `holder` holds (handed-back ones not included),
    /// with their epochs: for a host whose [`Store::held_lease_count`] did not match its
    /// tenures, to find which it lost.
    pub async fn held_leases(&self, holder: &str, instance: &str) -> Result<Vec<(String, i64)>> {
        const OP: &str = "read held leases";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT store_id, epoch FROM leases WHERE holder = $1 AND instance = $2 AND expires_at > 0",
            )
            .bind(holder)
            .bind(instance)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| Ok((r.text("store_id").map_err(StoreError::db(OP))?, r.i64("epoch").map_err(StoreError::db(OP))?)))
                .collect()
        })
    }

    /// Hands `fence`'s lease back (it expires at once; the epoch stays, so the next tenure's is
    /// larger) and ends the tenure locally. Returns false when it was no longer `fence`'s.
    pub async fn release_lease(&self, fence: &Fence) -> Result<bool> {
        const OP: &str = "release lease";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query("UPDATE leases SET expires_at = 0 WHERE store_id = $1 AND epoch = $2 AND expires_at > 0")
                .bind(fence.store_id())
                .bind(fence.epoch())
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected()
        });
        if n == 1 {
            notify_lease_change(&mut w.tx, OP).await?;
        }
        w.commit(OP).await?;
        fence.mark_lost(format!("was handed back (epoch {})", fence.epoch()));
        Ok(n == 1)
    }

    /// Every store's lease row, by store id.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        const OP: &str = "read leases";
        let sql = format!("{} ORDER BY l.store_id", lease_select());
        on_db!(self.db(), p => {
            let rows = sqlx::query(&sql).fetch_all(p).await.map_err(StoreError::db(OP))?;
            rows.iter().map(|r| lease_from(r, OP)).collect()
        })
    }

    /// The lease row of `store_id`, if it was ever leased.
    pub async fn lease(&self, store_id: &str) -> Result<Option<Lease>> {
        const OP: &str = "read lease";
        let sql = format!("{} WHERE l.store_id = $1", lease_select());
        on_db!(self.db(), p => {
            let row = sqlx::query(&sql).bind(store_id).fetch_optional(p).await.map_err(StoreError::db(OP))?;
            row.as_ref().map(|r| lease_from(r, OP)).transpose()
        })
    }

    /// Records host `host_id`'s heartbeat from process `instance` (started at `started_at`),
    /// valid until `now + ttl`. Returns the other process that beat under the same host id
    /// since this one started and has not expired, if any: two live processes share one host id
    /// (a configuration mistake the caller should report; their leases fence each other). The
    /// unexpired beat of a process that beat last before this one started is its predecessor's,
    /// killed and restarted (a supervisor's restart after a crash), not a second live process.
    pub async fn heartbeat(
        &self,
        host_id: &str,
        instance: &str,
        started_at: DateTime<Utc>,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        const OP: &str = "record heartbeat";
        let ttl = ttl_ms(OP, ttl)?;
        let mut w = self.begin_write(OP).await?;
        let other = on_tx!(&mut w.tx, c => {
            let prev = sqlx::query(
                "SELECT instance, heartbeat_at, expires_at FROM hosts WHERE host_id = $1",
            )
            .bind(host_id)
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            // A host joins when its beat is new, or follows an expired one or another
            // process's: the others then owe it its share.
            let (other, joins) = match prev {
                Some(r) => {
                    let i = r.text("instance").map_err(StoreError::db(OP))?;
                    let beat = r.i64("heartbeat_at").map_err(StoreError::db(OP))?;
                    let exp = r.i64("expires_at").map_err(StoreError::db(OP))?;
                    let live = exp > ms(now);
                    let other =
                        (i != instance && live && beat >= ms(started_at)).then(|| i.clone());
                    (other, i != instance || !live)
                }
                None => (None, true),
            };
            sqlx::query(
                "INSERT INTO hosts (host_id, instance, started_at, heartbeat_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (host_id) DO UPDATE SET instance = excluded.instance,
                   started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                   expires_at = excluded.expires_at",
            )
            .bind(host_id)
            .bind(instance)
            .bind(ms(started_at))
            .bind(ms(now))
            .bind(ms(now) + ttl)
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            (other, joins)
        });
        let (other, joins) = other;
        if joins {
            notify_lease_change(&mut w.tx, OP).await?;
        }
        w.commit(OP).await?;
        Ok(other)
    }

    /// Removes host `host_id`'s heartbeat if process `instance` wrote it (a clean shutdown).
    pub async fn remove_host(&self, host_id: &str, instance: &str) -> Result<()> {
        const OP: &str = "remove host";
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            sqlx::query("DELETE FROM hosts WHERE host_id = $1 AND instance = $2")
                .bind(host_id)
                .bind(instance)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
        });
        notify_lease_change(&mut w.tx, OP).await?;
        w.commit(OP).await
    }

    /// What tells this host, between its rounds, what other hosts did: handed a lease back,
    /// stopped cleanly or joined (the shares changed), or journaled entries for a store (its
    /// holder should process them now). PostgreSQL only (`LISTEN` on a connection of its
    /// own); `None` on SQLite, where one host runs.
    pub async fn host_notices(&self) -> Result<Option<HostNotices>> {
        const OP: &str = "listen for other hosts' notices";
        if !matches!(self.db(), Db::Postgres(_)) {
            return Ok(None);
        }
        let own = self.with_own_pool(1).await?;
        let Db::Postgres(own) = own.db() else {
            return Ok(None);
        };
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(own)
            .await
            .map_err(StoreError::db(OP))?;
        let mut listener = sqlx::postgres::PgListener::connect_with(own)
            .await
            .map_err(StoreError::db(OP))?;
        listener
            .listen_all([LEASE_CHANNEL, JOURNAL_CHANNEL])
            .await
            .map_err(StoreError::db(OP))?;
        Ok(Some(HostNotices { listener, schema }))
    }

    /// Every host's last heartbeat, by host id (expired ones included: filter by
    /// `expires_at`).
    pub async fn hosts(&self) -> Result<Vec<ClusterHost>> {
        const OP: &str = "read hosts";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT host_id, instance, started_at, heartbeat_at, expires_at FROM hosts ORDER BY host_id",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    let d = StoreError::db;
                    Ok(ClusterHost {
                        host_id: r.text("host_id").map_err(d(OP))?,
                        instance: r.text("instance").map_err(d(OP))?,
                        started_at: from_ms(r.i64("started_at").map_err(d(OP))?),
                        heartbeat_at: from_ms(r.i64("heartbeat_at").map_err(d(OP))?),
                        expires_at: from_ms(r.i64("expires_at").map_err(d(OP))?),
                    })
                })
                .collect()
        })
    }
}

/// The PostgreSQL channel of lease changes; a notice's payload is the schema it happened in
/// (hosts of other databases' schemas on the same server ignore it).
pub const LEASE_CHANNEL: &str = "weft_lease_changes";

/// The PostgreSQL channel of new journal entries: a notice's payload is the schema, a space and
/// the store, one per store and transaction, then (space-separated) each system whose new
/// entries include a hint ([`crate::HINT_KIND`]).
pub const JOURNAL_CHANNEL: &str = "weft_journal";

/// Tells the hosts listening ([`Store::host_notices`]) that shares changed, when `tx`
/// commits. Nothing on SQLite.
async fn notify_lease_change(tx: &mut Tx, op: &'static str) -> Result<()> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_notify($1, current_schema()::text)")
            .bind(LEASE_CHANNEL)
            .execute(&mut **t)
            .await
            .map_err(StoreError::db(op))?;
    }
    Ok(())
}

/// What another host did, as [`HostNotices`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostNotice {
    /// The hosts' shares changed (a hand-back, a clean stop, an arrival), or notices may have
    /// been missed (the listener reconnected): a lease round is due.
    Shares,
    /// New journal entries for a store.
    Journal {
        /// The store.
        store: String,
        /// The systems whose new entries include a hint ([`crate::HINT_KIND`]): their hint
        /// fetchers have something to read.
        hinted: Vec<String>,
    },
}

/// Notices from the other hosts on this store's schema ([`Store::host_notices`]).
pub struct HostNotices {
    listener: sqlx::postgres::PgListener,
    schema: String,
}

impl std::fmt::Debug for HostNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostNotices")
            .field("schema", &self.schema)
            .finish()
    }
}

impl HostNotices {
    /// Waits for the next notice of this schema. A lost connection is reconnected and reported
    /// as [`HostNotice::Shares`] (notices sent meanwhile are lost, so a round is due).
    pub async fn next(&mut self) -> Result<HostNotice> {
        loop {
            let n = match self.listener.try_recv().await {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(HostNotice::Shares),
                Err(e) => return Err(StoreError::db("listen for other hosts' notices")(e)),
            };
            match n.channel() {
                LEASE_CHANNEL if n.payload() == self.schema => return Ok(HostNotice::Shares),
                JOURNAL_CHANNEL => {
                    let mut words = n.payload().split(' ');
                    if words.next() == Some(self.schema.as_str())
                        && let Some(store) = words.next()
                    {
                        return Ok(HostNotice::Journal {
                            store: store.to_owned(),
                            hinted: words.map(str::to_owned).collect(),
                        });
                    }
                }
                _ => {}
            }
        }
    }
}
