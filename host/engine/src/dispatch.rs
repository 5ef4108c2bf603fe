//! The dispatcher: executes one store's outbox rows through its connectors.
//!
//! Rows are claimed with a lease (a crashed dispatcher's rows become due again when it
//! expires), executed through the target system's [`Connection`] with the idempotency the row
//! carries (an upsert by external id, an idempotency key, a compare-and-set guard), and
//! settled:
//! - success: the row is done, and in the same transaction the target's last-known state becomes
//!   the fields written and the ids the target assigned are recorded as cross-references;
//! - a stale compare-and-set: the row is done and the target's current state is re-read into the
//!   journal, so the next step re-merges against what the target really holds;
//! - retryable errors: exponential backoff with full jitter, never sooner than `Retry-After`;
//! - permanent errors (or retries exhausted): a dead letter with the platform's message.
//!
//! Rows for one entity run in order (the store hands out at most one row per target entity at a
//! time, and a newer coalescing row replaces an older pending one: only the latest state of an
//! entity is sent); different entities run concurrently, each connection under its own rate
//! limits (a cost bucket, an account's concurrency governor).
//!
//! Rows a system can batch ([`Connection::batch_size`], e.g. stock sets that share one call)
//! travel together in calls planned by the connection ([`Connection::plan_batches`]), each
//! keeping its own compare-and-set guard. When a claim comes back full and holds such rows, the
//! dispatcher claims more of them to fill a call. Each row is still settled on its own (done,
//! stale and re-read, retried or dead-lettered) together with what it records; the rows a call
//! applied complete in one transaction ([`Store::complete_many`]), so a batch costs one commit,
//! not hundreds.
//!
//! The guard alone does not make a retried call safe: after the platform applied "set 62 -> 63"
//! and the answer was lost, an order can move the level back to 62, and the same call sent again
//! would match and erase the sale. So every call is saved before it is sent
//! ([`Store::open_calls`]: its exact input, the rows it carries, a fresh key) and sent under
//! that key. Until the platform answers it, its rows keep pointing at it, are never
//! superseded, and their next send is that same call again: the platform then returns the
//! original answer and applies nothing twice. Rows an answered call refused are released from it
//! ([`Store::release_calls`]); rows it left unapplied because others were refused go into a new
//! saved call.
//!
//! [`Dispatcher::run_urgent`] dispatches only urgent rows (orders), for quiet hours.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{debug, info, warn};
use weft_platform::{
    BatchResult, Connection, ConnectorError, EntityKind, InvalidRequest, PlannedWrite, Systems,
    WriteCommand, WriteOp, WriteOutcome,
};
use weft_ratelimit::Backoff;
use weft_store::{
    ClaimFilter, Completion, NewJournalEntry, NewOutboxCall, OutboxRow, OutboxStatus, Source,
    Store, StoreError, TargetStateUpsert, Xref,
};

use crate::error::EngineError;

/// What one dispatch round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    /// Rows claimed.
    pub claimed: u64,
    /// Rows applied by the target.
    pub applied: u64,
    /// Compare-and-set writes found stale (re-read and re-merged).
    pub stale: u64,
    /// Rows scheduled for a retry.
    pub retried: u64,
    /// Rows that became dead letters.
    pub dead: u64,
    /// Throttled responses seen.
    pub throttled: u64,
}

/// Re-reads a target's current document after a stale compare-and-set, to journal it.
pub type Reobserve = Arc<
    dyn Fn(
            String,
            String,
            String,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), EngineError>> + Send>>
        + Send
        + Sync,
>;

/// How many full batched calls one dispatch round claims for a system that batches.
const PIPELINED_CALLS: usize = 4;

/// How soon a write held back because the store's lease may have run out is due again: by then
/// the lease is renewed (and the write sent) or the store is another host's.
const HELD_BACK: Duration = Duration::from_secs(1);

/// One store's dispatcher.
#[derive(Clone)]
pub struct Dispatcher {
    store_id: String,
    db: Store,
    systems: Systems,
    backoff: Arc<Backoff>,
    lease: Duration,
    batch: u32,
    reobserve: Option<Reobserve>,
    observer: Arc<dyn crate::observe::Observer>,
    /// Only this system's rows (a lane of the store's dispatch: see [`Dispatcher::lane`]).
    system: Option<String>,
}

impl Dispatcher {
    /// A dispatcher for `store_id`, writing to `systems` through their connections.
    pub fn new(
        store_id: impl Into<String>,
        db: Store,
        systems: Systems,
        backoff: Arc<Backoff>,
    ) -> Self {
        Dispatcher {
            store_id: store_id.into(),
            db,
            systems,
            backoff,
            lease: Duration::from_secs(120),
            batch: 64,
            reobserve: None,
            observer: Arc::new(crate::observe::Discard),
            system: None,
        }
    }

    /// This dispatcher restricted to the rows for `system`: one lane of the store's dispatch.
    /// The runner runs one lane per system, so a system's slow calls (a busy ERP's concurrency
    /// limit, a throttled shop, a sheet batch waiting for its read) hold back only that
    /// system's next writes, never another system's: a round waits for its slowest call.
    pub fn lane(&self, system: &str) -> Dispatcher {
        Dispatcher {
            system: Some(system.to_owned()),
            ..self.clone()
        }
    }

    /// The systems this dispatcher writes to, one lane each (the store's systems; just its
    /// own for a lane).
    pub fn lanes(&self) -> Vec<String> {
        match &self.system {
            Some(s) => vec![s.clone()],
            None => self.systems.names().map(str::to_owned).collect(),
        }
    }

    /// The system a lane writes to (`None`: every system).
    pub fn system(&self) -> Option<&str> {
        self.system.as_deref()
    }

    /// Reports throttled responses to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn crate::observe::Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Sets the hook that re-reads a target after a stale compare-and-set.
    pub fn with_reobserve(mut self, reobserve: Reobserve) -> Self {
        self.reobserve = Some(reobserve);
        self
    }

    /// Claims due rows and executes them; returns when all claimed rows are settled.
    pub async fn run_once(&self) -> Result<DispatchReport, EngineError> {
        self.run(None).await
    }

    /// When the store's next outbox row falls due (a pending row's next attempt, or the end of
    /// an in-flight row's lease), if it has any: an idle runner sleeps until then rather than
    /// looking again and again.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, EngineError> {
        Ok(self
            .db
            .outbox_next_due(&self.store_id, self.system.as_deref())
            .await?)
    }

    /// Like [`Dispatcher::run_once`], but claims only urgent rows: orders (the most urgent
    /// priority). The runner dispatches this way during the store's quiet hours; everything
    /// else stays queued (and coalesces) until the window ends.
    pub async fn run_urgent(&self) -> Result<DispatchReport, EngineError> {
        self.run(Some(crate::sync::priority("order"))).await
    }

    /// The store's connection to `system`, or the error a write to it settles with.
    fn connection(&self, system: &str) -> Result<&Arc<dyn Connection>, ConnectorError> {
        self.systems
            .get(system)
            .and_then(|s| s.connection.as_ref())
            .ok_or_else(|| ConnectorError::Invalid {
                system: "weft",
                reason: InvalidRequest::BadField {
                    field: "system".into(),
                    reason: format!(
                        "store {} has no connection to system `{system}`",
                        self.store_id
                    ),
                },
            })
    }

    /// How many rows like `cmd` share one call (`None`: sent alone).
    fn batch_size(&self, cmd: &WriteCommand) -> Option<usize> {
        self.connection(&cmd.system).ok()?.batch_size(cmd)
    }

    async fn run(&self, max_priority: Option<i64>) -> Result<DispatchReport, EngineError> {
        let started = std::time::Instant::now();
        let now = Utc::now();
        let general = ClaimFilter {
            max_priority,
            system: self.system.clone(),
            ..ClaimFilter::default()
        };
        let mut rows = self
            .db
            .claim_due_filtered(now, self.batch, self.lease, Some(&self.store_id), &general)
            .await?;
        // The claim's limit bounds how many rows are written concurrently, one call each; batched
        // rows share calls, so when the claim is full and holds some, fill a few whole calls:
        // they are saved in one transaction, sent together and settled in one, so a commit's
        // fsync is paid once per `PIPELINED_CALLS` calls rather than once per call.
        if rows.len() >= self.batch as usize {
            let mut batchable: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
            for row in &rows {
                if let Ok(w) = command(row)
                    && let Some(size) = self.batch_size(&w)
                {
                    let e = batchable
                        .entry((row.system.clone(), row.kind.clone(), row.op.clone()))
                        .or_insert((0, size));
                    e.0 += 1;
                }
            }
            for ((system, kind, op), (claimed, size)) in batchable {
                if claimed >= size * PIPELINED_CALLS {
                    continue;
                }
                let more = ClaimFilter {
                    system: Some(system),
                    kind: Some(kind),
                    op: Some(op),
                    max_priority,
                };
                let limit = (size * PIPELINED_CALLS - claimed) as u32;
                rows.extend(
                    self.db
                        .claim_due_filtered(now, limit, self.lease, Some(&self.store_id), &more)
                        .await?,
                );
            }
        }
        let claimed_in = started.elapsed();
        let mut report = DispatchReport {
            claimed: rows.len() as u64,
            ..DispatchReport::default()
        };
        let mut batch = Vec::new();
        // One queue per entity, in claim (id) order.
        let mut groups: BTreeMap<(String, String, String), Vec<OutboxRow>> = BTreeMap::new();
        for row in rows {
            if self.deleted_there(&row).await? {
                continue;
            }
            let cmd = command(&row);
            if let Ok(cmd) = &cmd
                && let Some(stale) = self.outdated_guard(&row, cmd).await?
            {
                let outcome = self.settle(row, cmd, Err(stale), false, &mut report).await;
                self.lease_lost_is_fine(outcome)?;
                continue;
            }
            match cmd {
                Ok(cmd) if self.batch_size(&cmd).is_some() => batch.push((row, cmd)),
                _ => groups
                    .entry((row.system.clone(), row.kind.clone(), row.key.clone()))
                    .or_default()
                    .push(row),
            }
        }
        let guarded_in = started.elapsed() - claimed_in;
        let singles = futures::future::join_all(groups.into_values().map(|rows| async move {
            let mut r = DispatchReport::default();
            for row in rows {
                let outcome = self.execute(row, &mut r).await;
                self.lease_lost_is_fine(outcome)?;
            }
            Ok::<_, EngineError>(r)
        }));
        let (singles, batched) = futures::join!(singles, self.execute_batch(batch));
        for r in singles.into_iter().chain([batched]) {
            let r = r?;
            report.applied += r.applied;
            report.stale += r.stale;
            report.retried += r.retried;
            report.dead += r.dead;
            report.throttled += r.throttled;
        }
        if report.claimed > 0 {
            debug!(store = %self.store_id, claimed = report.claimed, applied = report.applied,
                claim_ms = claimed_in.as_millis() as u64, guard_ms = guarded_in.as_millis() as u64,
                total_ms = started.elapsed().as_millis() as u64, "dispatch round");
        }
        Ok(report)
    }

    /// An upsert whose record its target deleted after the row was queued (claimed before the
    /// step that learned of the deletion withdrew it): sent, it could recreate the record
    /// there (a variant written by SKU into the product it was removed from). Settled as
    /// superseded instead (counted as `writes_moot_after_delete`); returns whether. Quantity
    /// writes cannot recreate anything (they fail on a missing item, and such a dead letter
    /// is superseded the same way).
    async fn deleted_there(&self, row: &OutboxRow) -> Result<bool, EngineError> {
        if !matches!(row.op.as_str(), "upsert" | "delete") || !self.target_deleted(row).await? {
            return Ok(false);
        }
        info!(store = %self.store_id, system = %row.system, kind = %row.kind, key = %row.key, "write not sent: its record was deleted there since it was queued");
        let token = row.claim_token.clone().unwrap_or_default();
        let settled = self
            .db
            .supersede_claimed(
                row.id,
                &token,
                "not sent: the record was deleted on this system after the write was queued",
                Utc::now(),
            )
            .await;
        self.lease_lost_is_fine(settled.map_err(EngineError::from))?;
        self.db
            .bump_counter(&self.store_id, "writes_moot_after_delete", 1)
            .await?;
        Ok(true)
    }

    /// A set-quantity row is planned against the quantity weft last recorded for its target
    /// (its compare-and-set guard). When weft has recorded another quantity since (a write of
    /// its own completed meanwhile, typically one planned from the same reading), the row's
    /// intent is outdated: sent as is, its guard could match again after the target moved back
    /// (an order taking the level back to the guarded value) and erase that change. Such a row
    /// is treated as stale without being sent: the target is re-read and re-merged. Rows an
    /// earlier attempt may have applied are exempt (a Shopify row waiting for the answer of
    /// the call it was sent in; a NetSuite row on a retry, whose adjustment may exist): only
    /// sending them again can tell, and it records what they made the target hold.
    async fn outdated_guard(
        &self,
        row: &OutboxRow,
        cmd: &WriteCommand,
    ) -> Result<Option<ConnectorError>, EngineError> {
        let Some(expected) = cmd.expected_quantity else {
            return Ok(None);
        };
        let may_have_applied =
            row.call_key.is_some() || (self.batch_size(cmd).is_none() && row.attempts > 1);
        if cmd.op != WriteOp::SetQuantity || may_have_applied {
            return Ok(None);
        }
        let known = self
            .db
            .target_state(&self.store_id, &row.system, &row.kind, &row.key)
            .await?;
        // A stock write applied since the record was made: the level holds what it set (its
        // result is journaled, and the step records it when it gets there).
        let since = known
            .as_ref()
            .map_or(chrono::DateTime::<Utc>::MIN_UTC, |k| k.updated_at);
        let applied = self
            .db
            .settling_writes(
                &self.store_id,
                &row.system,
                &row.kind,
                &row.key,
                Some(since),
            )
            .await?
            .into_iter()
            .rev()
            .find(|w| w.status == OutboxStatus::Done && w.id != row.id);
        let fields = match (&applied, &known) {
            (Some(w), _) => &w.desired,
            (None, Some(k)) => &k.fields,
            (None, None) => return Ok(None),
        };
        let Some(recorded) = fields.get("quantity").and_then(Value::as_i64) else {
            return Ok(None);
        };
        if recorded == expected {
            return Ok(None);
        }
        Ok(Some(ConnectorError::Stale {
            // weft's own guard refused it; the platform never saw it.
            system: "weft",
            what: format!("inventory level {}", row.key),
            message: format!(
                "planned against quantity {expected}, but weft has recorded {recorded} since; not sent"
            ),
        }))
    }

    /// A row whose claim expired is settled by whoever claimed it next: not an error here.
    fn lease_lost_is_fine(&self, outcome: Result<(), EngineError>) -> Result<(), EngineError> {
        match outcome {
            Err(EngineError::Store(StoreError::LeaseLost { .. })) => {
                warn!(store = %self.store_id, "outbox claim expired before the write settled");
                Ok(())
            }
            other => other,
        }
    }

    /// Sends batchable rows in persisted `inventorySetQuantities` calls and settles each row on
    /// its own. Rows still pointing at a call whose answer was lost (a timeout, a crash) are
    /// sent again in exactly that call, under its key, before they may join any other; the
    /// others are planned into new calls, each saved with the rows it carries before it is sent.
    async fn execute_batch(
        &self,
        rows: Vec<(OutboxRow, WriteCommand)>,
    ) -> Result<DispatchReport, EngineError> {
        let mut by_system: BTreeMap<String, Vec<(OutboxRow, WriteCommand)>> = BTreeMap::new();
        for (row, cmd) in rows {
            by_system
                .entry(row.system.clone())
                .or_default()
                .push((row, cmd));
        }
        let mut report = DispatchReport::default();
        for (system, rows) in by_system {
            // Only rows whose connection batches them get here.
            let Ok(conn) = self.connection(&system) else {
                continue;
            };
            let r = self.execute_batch_on(conn.as_ref(), rows).await?;
            report.applied += r.applied;
            report.stale += r.stale;
            report.retried += r.retried;
            report.dead += r.dead;
            report.throttled += r.throttled;
        }
        Ok(report)
    }

    /// [`Dispatcher::execute_batch`] for the rows of one system.
    async fn execute_batch_on(
        &self,
        conn: &dyn Connection,
        rows: Vec<(OutboxRow, WriteCommand)>,
    ) -> Result<DispatchReport, EngineError> {
        let mut report = DispatchReport::default();
        if rows.is_empty() {
            return Ok(report);
        }
        let mut applied = Vec::new();
        let mut fresh = Vec::new();
        let mut open: BTreeMap<String, Vec<(OutboxRow, WriteCommand)>> = BTreeMap::new();
        for (row, cmd) in rows {
            match row.call_key.clone() {
                Some(key) => open.entry(key).or_default().push((row, cmd)),
                None => fresh.push((row, cmd)),
            }
        }
        // Calls still to persist and send: their input and the rows they carry, in order.
        let mut next: Vec<(Value, Vec<(OutboxRow, WriteCommand)>)> = Vec::new();
        for (key, members) in open {
            let Some(call) = self.db.outbox_call(&key).await? else {
                // Calls are purged only once no row points at them: a row cannot get here.
                warn!(store = %self.store_id, call = %key, "outbox rows point at a call that is not stored; sending them in a new call");
                self.release(&members).await?;
                fresh.extend(members);
                continue;
            };
            let mut held = Vec::new();
            for (row, cmd) in members {
                match call.row_ids.iter().position(|id| *id == row.id) {
                    Some(p) => held.push((p, row, cmd)),
                    None => {
                        warn!(store = %self.store_id, call = %key, row = row.id, "outbox row is not part of the call it points at; sending it in a new call");
                        self.release(std::slice::from_ref(&(row.clone(), cmd.clone())))
                            .await?;
                        fresh.push((row, cmd));
                    }
                }
            }
            self.send_call(
                conn,
                &key,
                &call.payload,
                held,
                &mut next,
                &mut applied,
                &mut report,
            )
            .await?;
        }
        let cmds: Vec<WriteCommand> = fresh.iter().map(|(_, c)| c.clone()).collect();
        let (calls, failed) = conn.plan_batches(&cmds).await;
        let mut slots: Vec<Option<(OutboxRow, WriteCommand)>> =
            fresh.into_iter().map(Some).collect();
        for call in calls {
            let members = call
                .members
                .iter()
                .filter_map(|i| slots.get_mut(*i).and_then(Option::take))
                .collect();
            next.push((call.input, members));
        }
        for (i, e) in failed {
            if let Some((row, cmd)) = slots.get_mut(i).and_then(Option::take) {
                let outcome = self.settle(row, &cmd, Err(e), false, &mut report).await;
                self.lease_lost_is_fine(outcome)?;
            }
        }
        let (mut open_time, mut send_time) = (Duration::ZERO, Duration::ZERO);
        while !next.is_empty() {
            let round = std::mem::take(&mut next);
            let opening = std::time::Instant::now();
            let new: Vec<NewOutboxCall> = round
                .iter()
                .map(|(input, rows)| NewOutboxCall {
                    payload: input.clone(),
                    rows: rows
                        .iter()
                        .map(|(r, _)| (r.id, r.claim_token.clone().unwrap_or_default()))
                        .collect(),
                })
                .collect();
            let keys = match self.db.open_calls(&self.store_id, &new, Utc::now()).await? {
                Ok(keys) => keys,
                Err(lost) => {
                    // Their claims expired and another dispatcher holds them: leave them out.
                    warn!(store = %self.store_id, rows = lost.len(), "outbox claims expired before the inventory call was sent");
                    for (input, rows) in round {
                        let (positions, kept): (Vec<usize>, Vec<_>) = rows
                            .into_iter()
                            .enumerate()
                            .filter(|(_, (r, _))| !lost.contains(&r.id))
                            .unzip();
                        if !kept.is_empty() {
                            next.push((conn.batch_subset(&input, &positions), kept));
                        }
                    }
                    continue;
                }
            };
            open_time += opening.elapsed();
            let sending = std::time::Instant::now();
            // The round's calls carry disjoint levels (one open row per level is claimed), so
            // they are sent together: the platform's limiter orders them, and their round
            // trips overlap instead of adding up.
            let sends = keys
                .iter()
                .zip(round)
                .map(|(key, (input, rows))| async move {
                    let held = rows
                        .into_iter()
                        .enumerate()
                        .map(|(p, (r, c))| (p, r, c))
                        .collect();
                    let (mut next, mut applied) = (Vec::new(), Vec::new());
                    let mut report = DispatchReport::default();
                    self.send_call(
                        conn,
                        key,
                        &input,
                        held,
                        &mut next,
                        &mut applied,
                        &mut report,
                    )
                    .await
                    .map(|()| (next, applied, report))
                });
            for sent in futures::future::join_all(sends).await {
                let (n, a, r) = sent?;
                next.extend(n);
                applied.extend(a);
                report.applied += r.applied;
                report.stale += r.stale;
                report.retried += r.retried;
                report.dead += r.dead;
                report.throttled += r.throttled;
            }
            send_time += sending.elapsed();
        }
        // Applied rows complete in one transaction (a level write journals nothing).
        if !applied.is_empty() {
            report.applied += applied.len() as u64;
            let completing = std::time::Instant::now();
            let lost = self.db.complete_many(&applied, Utc::now()).await?;
            debug!(store = %self.store_id, rows = applied.len(),
                open_ms = open_time.as_millis() as u64, send_ms = send_time.as_millis() as u64,
                complete_ms = completing.elapsed().as_millis() as u64, "batched calls settled");
            if !lost.is_empty() {
                warn!(store = %self.store_id, rows = lost.len(), "outbox claims expired before the writes settled");
            }
            debug!(store = %self.store_id, writes = applied.len(), "inventory batch applied");
        }
        Ok(report)
    }

    /// Sends the persisted call `key` (`input`, carrying `held`: each row we hold with its
    /// position in the call) and settles what its answer decided. Applied rows are collected
    /// into `applied`; rows the call did not apply because others were refused go to `next`,
    /// a new call of exactly their quantities. Without an answer every held row keeps the call
    /// and is retried at one time for all (so they are claimed, and the call re-sent, together);
    /// a throttled call ran nothing, so its rows are released before they are retried.
    #[allow(clippy::too_many_arguments)]
    async fn send_call(
        &self,
        conn: &dyn Connection,
        key: &str,
        input: &Value,
        held: Vec<(usize, OutboxRow, WriteCommand)>,
        next: &mut Vec<(Value, Vec<(OutboxRow, WriteCommand)>)>,
        applied: &mut Vec<(i64, String, Completion)>,
        report: &mut DispatchReport,
    ) -> Result<(), EngineError> {
        if held.is_empty() {
            return Ok(());
        }
        let system = held
            .first()
            .map(|(_, r, _)| r.system.clone())
            .unwrap_or_default();
        if let Some(why) = self.hold_back() {
            // The call stays saved with its rows: whoever sends them next sends it as it is.
            for (_, row, _) in &held {
                let outcome = self.put_back(row, &why, report).await;
                self.lease_lost_is_fine(outcome)?;
            }
            return Ok(());
        }
        let results = match conn.send_batch(input, key).await {
            Ok(results) => results,
            Err(ConnectorError::Accepted {
                input: receipt,
                message,
                retry_after,
                ..
            }) => {
                // Taken by the platform, settled later (an asynchronous bulk): keep what it
                // answered as the call's input, so the next send asks for the results and
                // never submits the call again; the rows keep the call until it settles.
                self.db.update_call_payload(key, &receipt).await?;
                let now = Utc::now();
                let at = now + chrono_delay(retry_after.unwrap_or(Duration::from_secs(1)));
                debug!(store = %self.store_id, call = %key, rows = held.len(), %message, "call accepted, settled later");
                for (_, row, _) in held {
                    let token = row.claim_token.clone().unwrap_or_default();
                    report.retried += 1;
                    let outcome = self
                        .db
                        .retry(
                            row.id,
                            &token,
                            at,
                            &format!("accepted, settled later: {message}"),
                            now,
                        )
                        .await;
                    self.lease_lost_is_fine(outcome.map_err(EngineError::from))?;
                }
                return Ok(());
            }
            Err(e) => {
                if matches!(e, ConnectorError::Throttled { .. }) {
                    report.throttled += 1;
                    self.observer.throttled(&self.store_id, &system);
                }
                let attempt = held
                    .iter()
                    .map(|(_, r, _)| r.attempts)
                    .max()
                    .unwrap_or(1)
                    .max(1) as u32
                    - 1;
                let now = Utc::now();
                // An unanswered call is the world's failure (or a malformed call, which no
                // retry fixes): waited out, never dead-lettered for an outage.
                let retry = e.is_outage();
                if retry {
                    self.observer
                        .waiting_out(&self.store_id, &system, &e.to_string());
                }
                let at = now + chrono_delay(self.backoff.next_delay(attempt, e.retry_after()));
                let message = e.to_string();
                if matches!(e, ConnectorError::Throttled { .. }) {
                    // Throttled before it ran: it applied nothing, so its rows are free again
                    // (to be superseded by newer states, or to join another call).
                    let rows: Vec<(OutboxRow, WriteCommand)> = held
                        .iter()
                        .map(|(_, r, c)| (r.clone(), c.clone()))
                        .collect();
                    self.release(&rows).await?;
                }
                if !retry {
                    warn!(store = %self.store_id, call = %key, rows = held.len(), error = %e, "inventory call failed permanently: dead letters (they keep the call, so a retry sends it again unchanged)");
                }
                for (_, row, _) in held {
                    let token = row.claim_token.clone().unwrap_or_default();
                    let outcome = if retry {
                        report.retried += 1;
                        self.db.retry(row.id, &token, at, &message, now).await
                    } else {
                        self.db.dead_letter(row.id, &token, &message, now).await
                    };
                    let settled = outcome.is_ok();
                    self.lease_lost_is_fine(outcome.map_err(EngineError::from))?;
                    if !retry && settled && !self.moot_after_delete(&row, &e).await? {
                        report.dead += 1;
                    }
                }
                return Ok(());
            }
        };
        let mut refused = Vec::new();
        let mut again = Vec::new();
        let level_kind = conn.platform().document_kind(EntityKind::InventoryLevel);
        for (p, row, cmd) in held {
            match results.get(p) {
                Some(BatchResult::Applied(outcome)) => {
                    let token = row.claim_token.clone().unwrap_or_default();
                    applied.push((
                        row.id,
                        token,
                        applied_completion(&row, outcome, level_kind.as_str()),
                    ));
                }
                Some(BatchResult::NotApplied) => again.push((p, (row, cmd))),
                Some(BatchResult::Failed(e)) => refused.push((row, cmd, e.clone())),
                None => {
                    let e = ConnectorError::Transport {
                        system: conn.platform().name(),
                        message: format!(
                            "batched call {key} answered fewer results than it carried commands"
                        ),
                        retryable: false,
                    };
                    refused.push((row, cmd, e));
                }
            }
        }
        // The call is answered: the refused rows' next send is a new call.
        let release: Vec<(OutboxRow, WriteCommand)> = refused
            .iter()
            .map(|(r, c, _)| (r.clone(), c.clone()))
            .collect();
        self.release(&release).await?;
        for (row, cmd, e) in refused {
            let outcome = self.settle(row, &cmd, Err(e), false, report).await;
            self.lease_lost_is_fine(outcome)?;
        }
        if !again.is_empty() {
            let (positions, rows): (Vec<usize>, Vec<_>) = again.into_iter().unzip();
            next.push((conn.batch_subset(input, &positions), rows));
        }
        Ok(())
    }

    /// Why a claimed write must not be sent now, if it must not: the dispatcher writes through
    /// a handle fenced by the store's lease and that lease may have run out by this host's own
    /// clock ([`weft_store::Fence::unsafe_to_act`]: a host frozen, or cut off from the database,
    /// after claiming a write and before sending it). The database fences the host's next
    /// write, not a platform call, so the check is made here, just before each call. Never
    /// for an unfenced handle.
    fn hold_back(&self) -> Option<String> {
        self.db.fence()?.unsafe_to_act(Utc::now())
    }

    /// Puts claimed `row` back unsent, due again shortly, saying `why`. A fenced write: when
    /// another host has taken the store it is refused (that host made the row due again when
    /// its tenure began) and the error ends this tenure.
    async fn put_back(
        &self,
        row: &OutboxRow,
        why: &str,
        report: &mut DispatchReport,
    ) -> Result<(), EngineError> {
        warn!(store = %self.store_id, row = row.id, reason = %why, "write not sent");
        report.retried += 1;
        let now = Utc::now();
        let token = row.claim_token.clone().unwrap_or_default();
        self.db
            .retry(row.id, &token, now + chrono_delay(HELD_BACK), why, now)
            .await?;
        Ok(())
    }

    /// Whether the system `row` writes to deleted its record (the golden record's tombstone).
    async fn target_deleted(&self, row: &OutboxRow) -> Result<bool, EngineError> {
        Ok(crate::deletes::stored_deleted_on(
            &self.db,
            &self.store_id,
            &row.system,
            &row.kind,
            &row.key,
        )
        .await?)
    }

    /// After a write failed for good and became dead letter `row`: when its target deleted the
    /// record (the write was queued before weft learned of it), the dead letter is moot and
    /// becomes `superseded`; returns whether. Checked after the dead letter is written, so a
    /// deletion the processing step applies meanwhile is seen either here or by the step
    /// (which supersedes the dead letters of what it deletes).
    async fn moot_after_delete(
        &self,
        row: &OutboxRow,
        e: &ConnectorError,
    ) -> Result<bool, EngineError> {
        if !self.target_deleted(row).await? {
            return Ok(false);
        }
        info!(store = %self.store_id, system = %row.system, kind = %row.kind, key = %row.key, error = %e, "write failed: its record was deleted there; dropped");
        self.db.supersede_dead_letter(row.id, Utc::now()).await?;
        Ok(true)
    }

    /// After a stale compare-and-set, reads the target again where its connection can
    /// ([`Connection::reread`]) and journals the platform's state now just after the version
    /// weft holds (even when its body is the one weft holds: the step then records it again
    /// over what weft's own writes made it assume), ahead of the replan the refusal journals.
    /// Without it the replan could start from the same belief and send the same refused
    /// guard again, for as long as the pollers return no newer reading of the target (one
    /// older than their overlap, or ignored within its second). Best effort: a connection that
    /// cannot read the target, or a read that fails, leaves it to the pollers.
    async fn read_target_again(
        &self,
        row: &OutboxRow,
        cmd: &WriteCommand,
    ) -> Result<(), EngineError> {
        let (Ok(conn), Some(id)) = (self.connection(&cmd.system), cmd.target_id.as_deref()) else {
            return Ok(());
        };
        let Some(read) = conn.reread(&row.kind, id, &cmd.body) else {
            return Ok(());
        };
        let began = crate::sync::read_began();
        let read = match tokio::time::timeout(crate::sync::REREAD_TIMEOUT, read).await {
            Ok(Ok(Some(read))) => read,
            Ok(Err(e)) => {
                debug!(store = %self.store_id, system = %row.system, kind = %row.kind, key = %row.key, error = %e, "reading a stale write's target again failed; left to the pollers");
                return Ok(());
            }
            Ok(Ok(None)) | Err(_) => return Ok(()),
        };
        if crate::sync::journaled_since(&self.db, &self.store_id, &row.system, &row.kind, id, began)
            .await?
        {
            // Something of the target was journaled while the read ran: it may be newer than
            // the read within their second, and journaled just after the version weft holds
            // the read would undo it. That entry tells the step the target's state.
            return Ok(());
        }
        let known = self
            .db
            .entity_state(&self.store_id, &row.system, &row.kind, id)
            .await?;
        let version = match known {
            Some(k) => match crate::sync::version_after(&read.version, &k.version) {
                Some(v) => v,
                None => return Ok(()),
            },
            None => read.version,
        };
        crate::sync::journal_read(
            &self.db,
            &self.store_id,
            &row.system,
            &row.kind,
            id,
            version,
            read.body,
        )
        .await?;
        self.db
            .bump_counter(&self.store_id, "stale_target_read", 1)
            .await?;
        Ok(())
    }

    /// Detaches rows from the call they were sent in ([`Store::release_calls`]).
    async fn release(&self, rows: &[(OutboxRow, WriteCommand)]) -> Result<(), EngineError> {
        let ids: Vec<(i64, String)> = rows
            .iter()
            .map(|(r, _)| (r.id, r.claim_token.clone().unwrap_or_default()))
            .collect();
        Ok(self.db.release_calls(&ids).await?)
    }

    async fn execute(
        &self,
        row: OutboxRow,
        report: &mut DispatchReport,
    ) -> Result<(), EngineError> {
        let token = row.claim_token.clone().unwrap_or_default();
        let now = Utc::now();
        let cmd = match command(&row) {
            Ok(c) => c,
            Err(msg) => {
                report.dead += 1;
                self.db.dead_letter(row.id, &token, &msg, now).await?;
                return Ok(());
            }
        };
        if let Some(why) = self.hold_back() {
            let outcome = self.put_back(&row, &why, report).await;
            return self.lease_lost_is_fine(outcome);
        }
        let result = match self.connection(&cmd.system) {
            Ok(conn) => conn.execute(&cmd).await,
            Err(e) => Err(e),
        };
        self.settle(row, &cmd, result, true, report).await
    }

    /// Records what became of one row's write, in one transaction per row. `count_throttle`:
    /// whether a throttled result is counted here (a batch counts its calls itself).
    async fn settle(
        &self,
        row: OutboxRow,
        cmd: &WriteCommand,
        result: Result<WriteOutcome, ConnectorError>,
        count_throttle: bool,
        report: &mut DispatchReport,
    ) -> Result<(), EngineError> {
        let token = row.claim_token.clone().unwrap_or_default();
        let now = Utc::now();
        match result {
            Ok(outcome) => {
                report.applied += 1;
                // What the target answered is an observation of it, newer than anything it
                // sent before the write: journal it, so an older document still in flight
                // (a delayed webhook, a poll page read before the write) is stale by version
                // and cannot be mistaken for a change that undoes the write.
                if let (Some(doc), Some(version), false) = (
                    &outcome.document,
                    &outcome.version,
                    row.kind == "inventory-level",
                ) {
                    let doc_kind = match self.systems.platform(&row.system) {
                        Some(p) => p.document_kind(cmd.kind),
                        None => cmd.kind,
                    };
                    // The document's own id when it has one (a variant written inside its
                    // product answers with the product's document), else the written id.
                    let entity_id = doc
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or(&outcome.target_id)
                        .to_owned();
                    self.db
                        .append(NewJournalEntry {
                            store_id: self.store_id.clone(),
                            system: row.system.clone(),
                            kind: doc_kind.as_str().to_owned(),
                            entity_id,
                            version: version.clone(),
                            source: Source::Poll,
                            delivery_id: None,
                            body: doc.clone(),
                            received_at: now,
                        })
                        .await?;
                }
                let level_kind = self
                    .systems
                    .platform(&row.system)
                    .map_or(EntityKind::InventoryLevel, |p| {
                        p.document_kind(EntityKind::InventoryLevel)
                    });
                let completion = applied_completion(&row, &outcome, level_kind.as_str());
                self.db
                    .complete(row.id, &token, &completion, Utc::now())
                    .await?;
                debug!(store = %self.store_id, system = %row.system, kind = %row.kind, key = %row.key, op = %row.op, "write applied");
            }
            Err(ConnectorError::Stale { message, .. }) => {
                report.stale += 1;
                self.read_target_again(&row, cmd).await?;
                let completion = refused_completion(&row);
                if let Some(re) = &self.reobserve
                    && let Err(e) = re(row.system.clone(), row.kind.clone(), row.key.clone()).await
                {
                    // Could not re-read: retry the row later instead of losing the write.
                    let at = now + chrono_delay(self.backoff.next_delay(row.attempts as u32, None));
                    self.db
                        .retry(
                            row.id,
                            &token,
                            at,
                            &format!("stale ({message}); re-read failed: {e}"),
                            now,
                        )
                        .await?;
                    report.retried += 1;
                    return Ok(());
                }
                self.db
                    .complete(row.id, &token, &completion, Utc::now())
                    .await?;
            }
            Err(e) => {
                if count_throttle && matches!(e, ConnectorError::Throttled { .. }) {
                    report.throttled += 1;
                    self.observer.throttled(&self.store_id, &row.system);
                }
                let attempt = row.attempts.max(1) as u32 - 1;
                // The world's failures (an outage, throttling, refused credentials) are waited
                // out behind the connection's breaker: never a dead letter, however long.
                if e.is_outage() || (waits_for_dependency(&e) && !self.backoff.exhausted(attempt)) {
                    if e.is_outage() {
                        self.observer
                            .waiting_out(&self.store_id, &row.system, &e.to_string());
                    }
                    report.retried += 1;
                    let delay = self.backoff.next_delay(attempt, e.retry_after());
                    self.db
                        .retry(
                            row.id,
                            &token,
                            now + chrono_delay(delay),
                            &e.to_string(),
                            now,
                        )
                        .await?;
                } else {
                    self.db
                        .dead_letter(row.id, &token, &e.to_string(), now)
                        .await?;
                    if self.moot_after_delete(&row, &e).await? {
                        return Ok(());
                    }
                    report.dead += 1;
                    warn!(store = %self.store_id, system = %row.system, kind = %row.kind, key = %row.key, error = %e, "write failed permanently: dead letter");
                }
            }
        }
        Ok(())
    }
}

/// What a row's applied write records in the same transaction as its `done`: the ids the
/// target assigned, the `writes_applied` counter, and either the write's result as a journal
/// entry (a stock write whose answer carries the level's version: the processing step records
/// what the level holds when it gets there, in order with the level's readings) or, for other
/// writes, the target's new last-known state (the row's desired fields). `level_kind`: the
/// journal kind of the target's documents that carry stock levels
/// ([`Platform::document_kind`](weft_platform::Platform::document_kind) of
/// `inventory-level`), under which a stock write's result is journaled.
pub fn applied_completion(row: &OutboxRow, outcome: &WriteOutcome, level_kind: &str) -> Completion {
    let mut completion = Completion::default();
    let desired = row.body.get("desired").cloned().unwrap_or(Value::Null);
    if let Some(result) = stock_write_result(row, outcome, level_kind) {
        // The step records what the level holds when it reaches this entry, in journal order
        // with the readings of the level (see `sync::StockWrite`).
        completion.journal.push(result);
    } else if desired.is_object() {
        completion.target_states.push(TargetStateUpsert {
            system: row.system.clone(),
            kind: row.kind.clone(),
            key: row.key.clone(),
            fields: desired,
        });
    }
    if outcome.created && row.kind == "variant" {
        // The variant is new there: the records written after it hold the target's initial
        // values until weft's own writes of them land, and the first reading of them says which.
        for kind in crate::sync::WRITTEN_AFTER_VARIANT {
            completion.target_states.push(TargetStateUpsert {
                system: row.system.clone(),
                kind: (*kind).to_owned(),
                key: row.key.clone(),
                fields: json!({ crate::sync::INITIAL_MARK: true }),
            });
        }
    }
    let deleted = row.op == WriteOp::Delete.as_str();
    if !outcome.target_id.is_empty() && !deleted {
        // The answer names the entity, not the other keys it carries: it moves nothing.
        completion.xrefs.push(Xref {
            kind: row.kind.clone(),
            key: row.key.clone(),
            system: row.system.clone(),
            entity_id: outcome.target_id.clone(),
            one_per_entity: false,
        });
    }
    for child in &outcome.children {
        if let Some(item) = &child.inventory_item_id {
            completion.xrefs.push(Xref {
                kind: "inventory-item".into(),
                key: item.clone(),
                system: weft_store::sku_xref_system(&row.system),
                entity_id: child.key.clone(),
                one_per_entity: true,
            });
        }
    }
    if !deleted {
        completion.journal.extend(dependents_entry(row, outcome));
    }
    completion.counters.push(("writes_applied".into(), 1));
    completion
}

/// After a write created a variant in its target (the command named no target id, the answer
/// does), the journal entry that has the processing step plan the records that live on it
/// (its price and stock levels), whose writes waited for it (`writes_waiting_for_variant`):
/// nothing else would plan them when the mapper does not map the target's own documents.
/// Delivery id `weft-replan:<idempotency key>`, kind `variant`; `None` for other writes.
fn dependents_entry(row: &OutboxRow, outcome: &WriteOutcome) -> Option<NewJournalEntry> {
    if row.kind != "variant" || outcome.target_id.is_empty() {
        return None;
    }
    let created = command(row).is_ok_and(|c| c.target_id.is_none());
    created.then(|| {
        let now = Utc::now();
        NewJournalEntry {
            store_id: row.store_id.clone(),
            system: row.system.clone(),
            kind: row.kind.clone(),
            entity_id: row.key.clone(),
            version: now.to_rfc3339(),
            source: Source::Poll,
            delivery_id: Some(format!(
                "{}{}",
                crate::sync::REPLAN_PREFIX,
                row.idempotency_key
            )),
            body: json!({ crate::sync::REPLAN_FIELD: { "key": row.key, "row": row.id, "dependents": true } }),
            received_at: now,
        }
    })
}

/// The journal entry that records an applied stock write: the level's platform version after
/// it, the quantity its guard found (`before`) and the fields it set (`after`), keyed by the
/// row's idempotency key (a re-sent write journals nothing new). `None` when the write is not a
/// stock write or its answer carries no version; the completion then records the target state
/// itself.
///
/// It is journaled as the document that carries the level (`level_kind`, with the id the
/// write answered): where stock is a member of a larger document (a sheet's row), a reading of
/// that document taken before the write landed is then older than the result, so stale after
/// it, and is not taken for the level changing back to the quantity the write replaced.
fn stock_write_result(
    row: &OutboxRow,
    outcome: &WriteOutcome,
    level_kind: &str,
) -> Option<NewJournalEntry> {
    if row.kind != "inventory-level" || row.op != WriteOp::SetQuantity.as_str() {
        return None;
    }
    let version = outcome.version.clone()?;
    // A stock write answers with the level's id (`item@location`).
    let entity_id = outcome.target_id.clone();
    let desired = row.body.get("desired").filter(|d| d.is_object())?;
    Some(NewJournalEntry {
        store_id: row.store_id.clone(),
        system: row.system.clone(),
        kind: level_kind.to_owned(),
        entity_id,
        version,
        source: Source::Poll,
        delivery_id: Some(format!(
            "{}{}",
            crate::sync::WRITE_RESULT_PREFIX,
            row.idempotency_key
        )),
        body: json!({ crate::sync::WRITE_RESULT_FIELD: {
            "key": row.key,
            "before": row.body.get("expected_quantity").cloned().unwrap_or(Value::Null),
            "after": desired,
            "queued_at": row.created_at.to_rfc3339(),
            "row": row.id,
        }}),
        received_at: Utc::now(),
    })
}

/// What a row refused as stale (its compare-and-set guard no longer held) records when it is
/// marked done: the `writes_stale` counter and, for a stock write, a journal entry that has the
/// processing step plan the level again once it gets there. The target is re-read too, but the
/// re-read may find nothing new to journal (the reading that outdated the guard may be
/// processed already: a write queued behind one that was never applied), and then nothing else
/// would plan the level.
pub fn refused_completion(row: &OutboxRow) -> Completion {
    let mut completion = Completion::default();
    completion.counters.push(("writes_stale".into(), 1));
    completion.journal.extend(replan_entry(row));
    completion
}

/// The journal entry that has the processing step plan a refused stock write's level again
/// (delivery id `weft-replan:<idempotency key>`; `None` for other writes).
fn replan_entry(row: &OutboxRow) -> Option<NewJournalEntry> {
    (row.kind == "inventory-level").then(|| {
        let now = Utc::now();
        NewJournalEntry {
            store_id: row.store_id.clone(),
            system: row.system.clone(),
            kind: row.kind.clone(),
            entity_id: row.key.clone(),
            version: now.to_rfc3339(),
            source: Source::Poll,
            delivery_id: Some(format!(
                "{}{}",
                crate::sync::REPLAN_PREFIX,
                row.idempotency_key
            )),
            body: json!({ crate::sync::REPLAN_FIELD: { "key": row.key, "row": row.id } }),
            received_at: now,
        }
    })
}

/// A write that references a record another queued write is still creating (an inventory level
/// whose variant is not in Shopify yet, a sales order whose customer is not in NetSuite yet)
/// fails with "not found" until that write lands: it is retried with backoff rather than
/// dead-lettered at once. If the record never appears, retries run out and it is a dead letter.
fn waits_for_dependency(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Permanent { code, .. }
        if matches!(code.as_str(), "NOT_FOUND" | "INVALID_KEY_OR_REF" | "RECORD_NOT_FOUND"))
}

fn chrono_delay(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

/// The command an outbox row holds ([`PlannedWrite`], with the row's idempotency key).
pub fn command(row: &OutboxRow) -> Result<WriteCommand, String> {
    PlannedWrite::from_row_body(&row.body, &row.idempotency_key).map(|w| w.command)
}
