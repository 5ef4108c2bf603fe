//! The store loops' health as the running host judges it, and the host's own beat, for
//! `weft status` (another process). The host (`weft_engine::health::HealthRecorder`) writes a
//! loop's row when its state changes and now and then otherwise, and its own beat every couple
//! of seconds; [`HostBeat::is_live`] says whether a host still beats.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{RowExt, from_ms, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// A host process and its last beat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostBeat {
    /// The host's name: `<pid>@<start, RFC 3339>`, unique per process.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it last beat.
    pub beat_at: DateTime<Utc>,
    /// How often it beats.
    #[serde(with = "millis")]
    pub beat_every: Duration,
    /// When it stopped cleanly (`None` while it runs, or when it died).
    pub stopped_at: Option<DateTime<Utc>>,
}

/// A host whose last beat is older than this many of its intervals is not running.
pub const STALE_BEATS: u32 = 5;

impl HostBeat {
    /// The beat of a host that starts now.
    pub fn starting(pid: u32, now: DateTime<Utc>, beat_every: Duration) -> Self {
        HostBeat {
            host: format!(
                "{pid}@{}",
                now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            pid: i64::from(pid),
            started_at: now,
            beat_at: now,
            beat_every,
            stopped_at: None,
        }
    }

    /// When the host counts as gone without a newer beat: [`STALE_BEATS`] intervals after its
    /// last beat.
    pub fn stale_at(&self) -> DateTime<Utc> {
        self.beat_at
            + chrono::TimeDelta::from_std(self.beat_every * STALE_BEATS)
                .unwrap_or(chrono::TimeDelta::MAX)
    }

    /// Whether the host still runs at `now`: not stopped, and beating.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.stopped_at.is_none() && now <= self.stale_at()
    }
}

/// One store loop as the host last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopHealthRecord {
    /// The store.
    pub store_id: String,
    /// `process`, `dispatch`, or `poll <source>`.
    pub name: String,
    /// The host that runs it ([`HostBeat::host`]).
    pub host: String,
    /// The host's judgement when it recorded this.
    pub healthy: bool,
    /// `running`, `stopped`, `stalled`, `stuck` or `shut down`.
    pub state: String,
    /// What is wrong, or what it does.
    pub detail: String,
    /// Rounds completed.
    pub rounds: i64,
    /// When its last round ended.
    pub last_round: Option<DateTime<Utc>>,
    /// The last round's error, if it failed.
    pub last_error: Option<String>,
    /// How often it turns at least while idle.
    #[serde(with = "millis")]
    pub interval: Duration,
    /// How long it may go without a turn before it counts as stalled.
    #[serde(with = "millis")]
    pub deadline: Duration,
    /// Since when it has been unhealthy.
    pub unhealthy_since: Option<DateTime<Utc>>,
    /// When the host wrote this.
    pub updated_at: DateTime<Utc>,
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn ms_dur(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

impl Store {
    /// Records `beat` (the host's row) and `loops` (each loop's row, replacing what another
    /// host wrote for the same store and loop), in one transaction.
    pub async fn record_loop_health(
        &self,
        beat: &HostBeat,
        loops: &[LoopHealthRecord],
    ) -> Result<()> {
        const OP: &str = "record loop health";
        let mut w = self.begin_write(OP).await?;
        on_tx!(&mut w.tx, c => {
            sqlx::query(
                "INSERT INTO host_beats (host, pid, started_at, beat_at, beat_every, stopped_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (host) DO UPDATE SET beat_at = excluded.beat_at,
                   beat_every = excluded.beat_every, stopped_at = excluded.stopped_at",
            )
            .bind(&beat.host)
            .bind(beat.pid)
            .bind(ms(beat.started_at))
            .bind(ms(beat.beat_at))
            .bind(dur_ms(beat.beat_every))
            .bind(beat.stopped_at.map(ms))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?;
            for l in loops {
                sqlx::query(
                    "INSERT INTO loop_health (store_id, loop_name, host, healthy, state, detail,
                       rounds, last_round, last_error, interval_ms, deadline_ms, unhealthy_since,
                       updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT (store_id, loop_name) DO UPDATE SET host = excluded.host,
                       healthy = excluded.healthy, state = excluded.state,
                       detail = excluded.detail, rounds = excluded.rounds,
                       last_round = excluded.last_round, last_error = excluded.last_error,
                       interval_ms = excluded.interval_ms, deadline_ms = excluded.deadline_ms,
                       unhealthy_since = excluded.unhealthy_since,
                       updated_at = excluded.updated_at",
                )
                .bind(&l.store_id)
                .bind(&l.name)
                .bind(&l.host)
                .bind(i64::from(l.healthy))
                .bind(&l.state)
                .bind(&l.detail)
                .bind(l.rounds)
                .bind(l.last_round.map(ms))
                .bind(l.last_error.as_deref())
                .bind(dur_ms(l.interval))
                .bind(dur_ms(l.deadline))
                .bind(l.unhealthy_since.map(ms))
                .bind(ms(l.updated_at))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            }
            Ok::<(), StoreError>(())
        })?;
        w.commit(OP).await
    }

    /// Forgets hosts that last beat before `before` and run no recorded loop (every process
    /// start adds a row).
    pub async fn forget_old_hosts(&self, before: DateTime<Utc>) -> Result<u64> {
        const OP: &str = "forget old hosts";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query(
                "DELETE FROM host_beats WHERE beat_at < $1
                   AND host NOT IN (SELECT host FROM loop_health)",
            )
            .bind(ms(before))
            .execute(&mut *c)
            .await
            .map_err(StoreError::db(OP))?
            .rows_affected()
        });
        w.commit(OP).await?;
        Ok(n)
    }

    /// Every host that recorded a beat, the latest first.
    pub async fn host_beats(&self) -> Result<Vec<HostBeat>> {
        const OP: &str = "read host beats";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT host, pid, started_at, beat_at, beat_every, stopped_at FROM host_beats
                 ORDER BY beat_at DESC, host",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    Ok(HostBeat {
                        host: r.text("host").map_err(StoreError::db(OP))?,
                        pid: r.i64("pid").map_err(StoreError::db(OP))?,
                        started_at: from_ms(r.i64("started_at").map_err(StoreError::db(OP))?),
                        beat_at: from_ms(r.i64("beat_at").map_err(StoreError::db(OP))?),
                        beat_every: ms_dur(r.i64("beat_every").map_err(StoreError::db(OP))?),
                        stopped_at: r.opt_i64("stopped_at").map_err(StoreError::db(OP))?.map(from_ms),
                    })
                })
                .collect()
        })
    }

    /// Every recorded loop of `store_id` (of every store when `None`), by store and name.
    pub async fn loop_health(&self, store_id: Option<&str>) -> Result<Vec<LoopHealthRecord>> {
        const OP: &str = "read loop health";
        on_db!(self.db(), p => {
            let rows = sqlx::query(
                "SELECT store_id, loop_name, host, healthy, state, detail, rounds, last_round,
                   last_error, interval_ms, deadline_ms, unhealthy_since, updated_at
                 FROM loop_health WHERE ($1 IS NULL OR store_id = $1)
                 ORDER BY store_id, loop_name",
            )
            .bind(store_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::db(OP))?;
            rows.iter()
                .map(|r| {
                    Ok(LoopHealthRecord {
                        store_id: r.text("store_id").map_err(StoreError::db(OP))?,
                        name: r.text("loop_name").map_err(StoreError::db(OP))?,
                        host: r.text("host").map_err(StoreError::db(OP))?,
                        healthy: r.i64("healthy").map_err(StoreError::db(OP))? != 0,
                        state: r.text("state").map_err(StoreError::db(OP))?,
                        detail: r.text("detail").map_err(StoreError::db(OP))?,
                        rounds: r.i64("rounds").map_err(StoreError::db(OP))?,
                        last_round: r.opt_i64("last_round").map_err(StoreError::db(OP))?.map(from_ms),
                        last_error: r.opt_text("last_error").map_err(StoreError::db(OP))?,
                        interval: ms_dur(r.i64("interval_ms").map_err(StoreError::db(OP))?),
                        deadline: ms_dur(r.i64("deadline_ms").map_err(StoreError::db(OP))?),
                        unhealthy_since: r.opt_i64("unhealthy_since").map_err(StoreError::db(OP))?.map(from_ms),
                        updated_at: from_ms(r.i64("updated_at").map_err(StoreError::db(OP))?),
                    })
                })
                .collect()
        })
    }
}
