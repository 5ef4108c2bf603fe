//! Work leases for scale-out: which host works on which store. Each lease carries an epoch that
//! grows whenever a new tenure starts (a fencing token). Acquisition is one atomic
//! upsert (`... ON CONFLICT DO UPDATE ... WHERE expires_at <= now OR holder = me`) on both
//! backends. Times come from the caller's clock, so hosts sharing a database need synchronised
//! clocks (NTP) and a TTL well above their skew.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{RowExt, from_ms, ms};
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::LeaseGrant;

const ACQUIRE: &str = "INSERT INTO leases (store_id, holder, expires_at, acquired_at, epoch)
     VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (store_id) DO UPDATE SET
       holder = excluded.holder,
       expires_at = excluded.expires_at,
       acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $4
                          THEN leases.acquired_at ELSE excluded.acquired_at END,
       epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $4
                    THEN leases.epoch ELSE leases.epoch + 1 END
     WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder
     RETURNING expires_at, epoch";

fn ttl_ms(op: &'static str, ttl: Duration) -> Result<i64> {
    i64::try_from(ttl.as_millis())
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| StoreError::InvalidArgument {
            op,
            reason: format!("ttl {ttl:?} must be at least 1 ms"),
        })
}

impl Store {
    /// Takes (or extends, if `holder` already has it) the lease on `store_id` until
    /// `now + ttl`. Succeeds only when the lease is free, expired, or already `holder`'s.
    pub async fn acquire_lease(
        &self,
        store_id: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<LeaseGrant> {
        const OP: &str = "acquire lease";
        let ttl = ttl_ms(OP, ttl)?;
        let mut w = self.begin_write(OP).await?;
        let grant = on_tx!(&mut w.tx, c => {
            let row = sqlx::query(ACQUIRE)
                .bind(store_id)
                .bind(holder)
                .bind(ms(now) + ttl)
                .bind(ms(now))
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::db(OP))?;
            match row {
                Some(r) => LeaseGrant::Acquired {
                    expires_at: from_ms(r.i64("expires_at").map_err(StoreError::db(OP))?),
                    epoch: r.i64("epoch").map_err(StoreError::db(OP))?,
                },
                None => {
                    let r = sqlx::query("SELECT holder, expires_at FROM leases WHERE store_id = $1")
                        .bind(store_id)
                        .fetch_one(&mut *c)
                        .await
                        .map_err(StoreError::db(OP))?;
                    LeaseGrant::HeldBy {
                        holder: r.text("holder").map_err(StoreError::db(OP))?,
                        expires_at: from_ms(r.i64("expires_at").map_err(StoreError::db(OP))?),
                    }
                }
            }
        });
        w.commit(OP).await?;
        Ok(grant)
    }

    /// Extends `holder`'s unexpired lease on `store_id` to `now + ttl`. Returns false when the
    /// lease expired or belongs to someone else: the caller must stop working on the store.
    pub async fn renew_lease(
        &self,
        store_id: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const OP: &str = "renew lease";
        let ttl = ttl_ms(OP, ttl)?;
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query("UPDATE leases SET expires_at = $3 WHERE store_id = $1 AND holder = $2 AND expires_at > $4")
                .bind(store_id)
                .bind(holder)
                .bind(ms(now) + ttl)
                .bind(ms(now))
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected()
        });
        w.commit(OP).await?;
        Ok(n == 1)
    }

    /// Gives up `holder`'s lease on `store_id` (it expires at once; the row and its epoch stay,
    /// so the next holder's epoch is still larger). Returns false when `holder` did not hold it.
    pub async fn release_lease(&self, store_id: &str, holder: &str) -> Result<bool> {
        const OP: &str = "release lease";
        let mut w = self.begin_write(OP).await?;
        let n = on_tx!(&mut w.tx, c => {
            sqlx::query("UPDATE leases SET expires_at = 0 WHERE store_id = $1 AND holder = $2 AND expires_at > 0")
                .bind(store_id)
                .bind(holder)
                .execute(&mut *c)
                .await
                .map_err(StoreError::db(OP))?
                .rows_affected()
        });
        w.commit(OP).await?;
        Ok(n == 1)
    }
}
