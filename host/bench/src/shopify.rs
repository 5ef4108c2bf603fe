//! The Shopify scenario: inventory changes into a simulated shop through weft's real write
//! path (outbox rows queued by a step commit, coalescing, the store's [`Dispatcher`] claiming
//! them and sending 250-quantity `inventorySetQuantities` calls through the Shopify connection
//! and its learned [`ShopifyCostLimiter`]) and through a naive one-mutation-per-change client,
//! each on its own simulator so they do not share a bucket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use weft_engine::{Dispatcher, System, Systems};
use weft_platform::{EntityKind, PlannedWrite, WriteCommand, WriteOp};
use weft_ratelimit::{Backoff, BackoffConfig, ShopifyCostLimiter};
use weft_shopify::write::MAX_QUANTITIES as SHOPIFY_ARRAY_INPUT_MAX;
use weft_shopify::{Shopify, ShopifyClient, ShopifyConfig, ShopifyConnection, queries};
use weft_sim_shopify::{NewProduct, NewVariant, PlanPreset, ShopifySim, SimConfig, SimHandle};
use weft_store::{NewOutboxRow, StepCommit, Store};

use crate::{BenchError, secs};

const VERSION: &str = "2026-04";
const VARIANTS_PER_PRODUCT: usize = 5;

/// Options of the Shopify scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopifyOptions {
    /// Distinct inventory items (one location), created before the clock starts.
    pub items: usize,
    /// Changes per item (the first `items` changes touch every item once, and so on).
    pub changes_per_item: usize,
    /// Distinct items of the sustained run (one change each, more than the initial bucket can
    /// pay for, so the restore rate binds and the steady-state rate can be measured); 0 skips it.
    pub sustained_items: usize,
    /// Time budget of the naive baseline (it stops there if not done).
    pub naive_budget: Duration,
    /// `(maximumAvailable, restoreRate)` of the simulated bucket; `None` = the standard plan.
    pub bucket: Option<(f64, f64)>,
    /// Seed of the generated quantities.
    pub seed: u64,
}

impl Default for ShopifyOptions {
    fn default() -> Self {
        Self {
            items: 2_000,
            changes_per_item: 5,
            sustained_items: 200_000,
            naive_budget: Duration::from_secs(20),
            bucket: None,
            seed: 7,
        }
    }
}

/// Figures of the Shopify scenario.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShopifyBench {
    /// Bucket size of the simulated shop (points).
    pub shopify_bucket_size: f64,
    /// Restore rate of the simulated shop (points/s).
    pub shopify_restore_rate: f64,
    /// Distinct inventory items.
    pub shopify_items: usize,
    /// Changes per item.
    pub shopify_changes_per_item: usize,
    /// Changes generated.
    pub shopify_changes: usize,
    /// Changes folded into a later change of the same item before being sent.
    pub weft_changes_coalesced: u64,
    /// Distinct writes applied by the simulator (sent and accepted).
    pub weft_items_applied: u64,
    /// `inventorySetQuantities` calls that succeeded.
    pub weft_calls: u64,
    /// From the first change queued to the last batch acknowledged.
    pub weft_elapsed_s: f64,
    /// Applied writes per second.
    pub weft_items_per_s: f64,
    /// Changes absorbed (applied or coalesced) per second.
    pub weft_changes_per_s: f64,
    /// Points the simulator charged per successful call (its own accounting).
    pub weft_cost_per_call: f64,
    /// Average quantities per call.
    pub weft_items_per_call: f64,
    /// restore rate / cost per call × 250: the steady-state maximum.
    pub theoretical_max_items_per_s: f64,
    /// `weft_items_per_s / theoretical_max_items_per_s`.
    pub weft_ratio_to_theoretical: f64,
    /// True when the whole run cost less than the initial bucket (the limit never bound).
    pub weft_burst_covered_run: bool,
    /// THROTTLED responses to weft's calls.
    pub weft_throttled_total: u64,
    /// THROTTLED responses to weft's calls at or after 1 s into the run.
    pub weft_throttled_after_1s: u64,
    /// Reservations the cost limiter made wait for the bucket.
    pub weft_limiter_waits: u64,
    /// Items whose final simulator quantity was checked equal to the last change.
    pub weft_verified_items: u64,
    /// Distinct items (= changes) of the sustained run, 0 when skipped.
    pub sustained_items: usize,
    /// `inventorySetQuantities` calls of the sustained run.
    pub sustained_calls: u64,
    /// Calls the initial bucket could pay for (floor(bucket / cost per call)).
    pub sustained_burst_calls: u64,
    /// Sustained run time, first change queued to last batch acknowledged.
    pub sustained_elapsed_s: f64,
    /// Items/s over the whole sustained run (initial bucket included).
    pub sustained_items_per_s: f64,
    /// Items/s once the initial bucket was spent: from the first call by which the run had
    /// used everything the bucket could have paid for (its size plus its restore since the
    /// first answer), to the last call. `None` when fewer than 20 calls followed that point
    /// (the run never became rate-bound).
    pub sustained_steady_items_per_s: Option<f64>,
    /// `sustained_steady_items_per_s / theoretical_max_items_per_s`.
    pub sustained_ratio_to_theoretical: Option<f64>,
    /// Sustained items / the most the bucket could pay for in the run's time
    /// ((bucket + restore × elapsed) / cost per call × 250): the whole-run efficiency.
    pub sustained_ratio_to_bound: f64,
    /// THROTTLED responses during the sustained run.
    pub sustained_throttled_total: u64,
    /// THROTTLED responses at or after 1 s into the sustained run.
    pub sustained_throttled_after_1s: u64,
    /// Changes the naive baseline applied.
    pub naive_changes_applied: u64,
    /// Naive calls sent (including throttled ones).
    pub naive_calls: u64,
    /// Naive calls answered THROTTLED.
    pub naive_throttled: u64,
    /// Naive run time.
    pub naive_elapsed_s: f64,
    /// Whether the naive baseline finished every change within its budget.
    pub naive_completed: bool,
    /// Naive applied changes per second.
    pub naive_items_per_s: f64,
    /// The naive path's own steady-state ceiling: restore rate / cost per call × 1 item.
    pub naive_theoretical_items_per_s: f64,
    /// `weft_items_per_s / naive_items_per_s`.
    pub weft_over_naive: f64,
    /// `sustained_items_per_s / naive_items_per_s` (both whole-run rates, initial bucket
    /// included); 0 when the sustained run was skipped.
    pub sustained_over_naive: f64,
    /// `weft_changes_per_s / naive_items_per_s`.
    pub weft_over_naive_changes: f64,
}

/// One generated change: set `item` to `quantity`.
#[derive(Debug, Clone, Copy)]
struct Change {
    item: u64,
    quantity: i64,
}

struct Shop {
    sim: ShopifySim,
    handle: SimHandle,
    items: Vec<u64>,
    location: u64,
    created: Instant,
}

async fn start_shop(opts: &ShopifyOptions, count: usize) -> Result<Shop, BenchError> {
    let setup = |message: String| BenchError::Setup {
        what: "shopify simulator",
        message,
    };
    let mut builder = SimConfig::builder()
        .seed(opts.seed)
        .plan(PlanPreset::Standard);
    if let Some((max, rate)) = opts.bucket {
        builder = builder.graphql_bucket(max, rate);
    }
    let config = builder.build().map_err(|e| setup(e.to_string()))?;
    let created = Instant::now();
    let sim = ShopifySim::new(config);
    let location = *sim
        .location_ids()
        .first()
        .ok_or_else(|| setup("the simulated shop has no location".into()))?;
    let mut items = Vec::with_capacity(count);
    let mut n = 0;
    while items.len() < count {
        let variants = VARIANTS_PER_PRODUCT.min(count - items.len());
        let p = sim
            .create_product(NewProduct {
                title: format!("Bench product {n}"),
                variants: (0..variants)
                    .map(|v| NewVariant {
                        sku: Some(format!("BENCH-{n}-{v}")),
                        price: "10.00".into(),
                        option: Some(format!("V{v}")),
                        available: Some(0),
                        ..NewVariant::default()
                    })
                    .collect(),
                ..NewProduct::default()
            })
            .map_err(|e| setup(e.to_string()))?;
        items.extend(p.inventory_item_ids);
        n += 1;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| setup(e.to_string()))?;
    let handle = sim
        .serve(listener)
        .await
        .map_err(|e| setup(e.to_string()))?;
    Ok(Shop {
        sim,
        handle,
        items,
        location,
        created,
    })
}

fn generate(items: &[u64], per_item: usize, seed: u64) -> Vec<Change> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(items.len() * per_item);
    for _ in 0..per_item {
        for &item in items {
            out.push(Change {
                item,
                quantity: rng.random_range(0..1_000),
            });
        }
    }
    out
}

/// Throttled responses in the request log at or after `from_ms` (ms since the sim started).
fn throttled_since(sim: &ShopifySim, from_ms: u64) -> (u64, u64) {
    let log = sim.request_log();
    let total = log
        .iter()
        .filter(|r| r.throttled && r.at_ms >= from_ms)
        .count() as u64;
    let after = log
        .iter()
        .filter(|r| r.throttled && r.at_ms >= from_ms + 1_000)
        .count() as u64;
    (total, after)
}

/// Runs the Shopify scenario: weft's path, then the naive baseline.
pub async fn shopify_scenario(opts: &ShopifyOptions) -> Result<ShopifyBench, BenchError> {
    if opts.items == 0 || opts.changes_per_item == 0 {
        return Err(BenchError::InvalidOption {
            option: "shopify items/changes",
            message: "must all be at least 1".into(),
        });
    }
    let weft = run_weft(opts, opts.items, opts.changes_per_item).await?;
    let sustained = if opts.sustained_items > 0 {
        Some(run_weft(opts, opts.sustained_items, 1).await?)
    } else {
        None
    };
    let naive = run_naive(opts).await?;
    let changes = opts.items * opts.changes_per_item;
    let naive_items_per_s = ratio(naive.applied as f64, naive.elapsed_s);
    Ok(ShopifyBench {
        shopify_bucket_size: weft.bucket,
        shopify_restore_rate: weft.restore,
        shopify_items: opts.items,
        shopify_changes_per_item: opts.changes_per_item,
        shopify_changes: changes,
        weft_changes_coalesced: weft.coalesced,
        weft_items_applied: weft.applied,
        weft_calls: weft.calls,
        weft_elapsed_s: weft.elapsed_s,
        weft_items_per_s: weft.items_per_s,
        weft_changes_per_s: ratio(changes as f64, weft.elapsed_s),
        weft_cost_per_call: weft.cost_per_call,
        weft_items_per_call: ratio(weft.applied as f64, weft.calls as f64),
        theoretical_max_items_per_s: weft.theoretical,
        weft_ratio_to_theoretical: ratio(weft.items_per_s, weft.theoretical),
        weft_burst_covered_run: weft.cost_per_call * weft.calls as f64 <= weft.bucket,
        weft_throttled_total: weft.throttled_total,
        weft_throttled_after_1s: weft.throttled_after_1s,
        weft_limiter_waits: weft.waits,
        weft_verified_items: weft.verified,
        sustained_items: sustained.as_ref().map_or(0, |_| opts.sustained_items),
        sustained_calls: sustained.as_ref().map_or(0, |r| r.calls),
        sustained_burst_calls: sustained.as_ref().map_or(0, |r| r.burst_calls()),
        sustained_elapsed_s: sustained.as_ref().map_or(0.0, |r| r.elapsed_s),
        sustained_items_per_s: sustained.as_ref().map_or(0.0, |r| r.items_per_s),
        sustained_steady_items_per_s: sustained.as_ref().and_then(WeftRun::steady_items_per_s),
        sustained_ratio_to_theoretical: sustained
            .as_ref()
            .and_then(WeftRun::steady_items_per_s)
            .map(|r| ratio(r, weft.theoretical)),
        sustained_ratio_to_bound: sustained
            .as_ref()
            .map_or(0.0, |r| ratio(r.applied as f64, r.bound_items())),
        sustained_throttled_total: sustained.as_ref().map_or(0, |r| r.throttled_total),
        sustained_throttled_after_1s: sustained.as_ref().map_or(0, |r| r.throttled_after_1s),
        naive_changes_applied: naive.applied,
        naive_calls: naive.calls,
        naive_throttled: naive.throttled,
        naive_elapsed_s: naive.elapsed_s,
        naive_completed: naive.applied as usize == changes,
        naive_items_per_s,
        naive_theoretical_items_per_s: ratio(weft.restore, weft.cost_per_call),
        weft_over_naive: ratio(weft.items_per_s, naive_items_per_s),
        sustained_over_naive: sustained
            .as_ref()
            .map_or(0.0, |r| ratio(r.items_per_s, naive_items_per_s)),
        weft_over_naive_changes: ratio(ratio(changes as f64, weft.elapsed_s), naive_items_per_s),
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

struct WeftRun {
    bucket: f64,
    restore: f64,
    coalesced: u64,
    applied: u64,
    calls: u64,
    elapsed_s: f64,
    items_per_s: f64,
    cost_per_call: f64,
    theoretical: f64,
    throttled_total: u64,
    throttled_after_1s: u64,
    waits: u64,
    verified: u64,
    /// Per successful call: when its answer arrived (since the run started) and its items.
    completions: Vec<(Duration, usize)>,
}

impl WeftRun {
    fn burst_calls(&self) -> u64 {
        if self.cost_per_call > 0.0 {
            (self.bucket / self.cost_per_call).floor() as u64
        } else {
            0
        }
    }

    /// Applied items/s once the initial bucket is spent (see
    /// [`ShopifyBench::sustained_steady_items_per_s`]): from the first call by which the run
    /// had used all the bucket could have paid for (its size plus what it restored since the
    /// first answer, less one call of slack), to the last call.
    fn steady_items_per_s(&self) -> Option<f64> {
        if self.cost_per_call <= 0.0 || self.completions.is_empty() {
            return None;
        }
        let mut done = self.completions.clone();
        done.sort_by_key(|(t, _)| *t);
        let first = done[0].0;
        let spent = done.iter().enumerate().position(|(k, (t, _))| {
            let paid = (k + 1) as f64 * self.cost_per_call;
            paid >= self.bucket + self.restore * secs(t.saturating_sub(first)) - self.cost_per_call
        })?;
        if done.len() - spent - 1 < 20 {
            return None;
        }
        let from = done[spent].0;
        let to = done.last()?.0;
        let items: usize = done[spent + 1..].iter().map(|(_, n)| n).sum();
        Some(ratio(items as f64, secs(to.saturating_sub(from))))
    }

    /// Items the bucket could pay for in this run's time: (bucket + restore × elapsed) / cost
    /// per call × 250.
    fn bound_items(&self) -> f64 {
        ratio(
            self.bucket + self.restore * self.elapsed_s,
            self.cost_per_call,
        ) * SHOPIFY_ARRAY_INPUT_MAX as f64
    }
}

/// Runs `changes` through weft's real write path: each change is a set-quantity outbox row
/// queued by a processing-step commit (so a later change of the same item coalesces an
/// earlier pending one, as in the product), and the store's [`Dispatcher`] sends them through
/// the Shopify connection (claims with leases, 250-quantity `inventorySetQuantities` calls saved
/// before they are sent, the learned cost limiter, settlements in one transaction per call).
async fn run_weft(
    opts: &ShopifyOptions,
    items: usize,
    per_item: usize,
) -> Result<WeftRun, BenchError> {
    let shop = start_shop(opts, items).await?;
    let changes = generate(&shop.items, per_item, opts.seed);
    let setup = |what: &'static str| move |e: String| BenchError::Setup { what, message: e };
    let limiter = ShopifyCostLimiter::new();
    let client = Arc::new(
        ShopifyClient::new(
            ShopifyConfig::new(
                shop.handle.base_url.clone(),
                VERSION,
                shop.sim.config().access_tokens[0].clone(),
            ),
            limiter.clone(),
        )
        .map_err(|e| setup("shopify client")(e.to_string()))?,
    );
    let dir = tempfile::tempdir().map_err(|e| setup("scratch directory")(e.to_string()))?;
    let db = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("outbox.sqlite").display()
    ))
    .await
    .map_err(|e| setup("outbox database")(e.to_string()))?;
    let systems = Systems::new(vec![System {
        name: SYSTEM.into(),
        platform: Arc::new(Shopify),
        connection: Some(Arc::new(ShopifyConnection::new(client))),
    }]);
    let backoff = Arc::new(Backoff::seeded(BackoffConfig::default(), opts.seed));
    let dispatcher = Dispatcher::new(STORE, db.clone(), systems, backoff);

    // Queue every change as the processing step does: one commit per round of changes.
    let location = shop.location.to_string();
    let start = Instant::now();
    let start_ms = start.saturating_duration_since(shop.created).as_millis() as u64;
    let mut coalesced = 0u64;
    for (round, chunk) in changes.chunks(shop.items.len().max(1)).enumerate() {
        let mut step = StepCommit::new(STORE, chrono::Utc::now());
        for (i, c) in chunk.iter().enumerate() {
            step.outbox
                .push(outbox_row(c, &location, round * chunk.len() + i)?);
        }
        let outcome = db
            .commit_step(&step)
            .await
            .map_err(|e| request(e.to_string()))?;
        coalesced += outcome.outbox_replaced;
    }

    // Dispatch until the outbox is drained, as the store's dispatch loop does.
    let mut completions = Vec::new();
    let (mut applied, mut calls) = (0u64, 0u64);
    let deadline = start + Duration::from_secs(600);
    loop {
        let report = dispatcher
            .run_once()
            .await
            .map_err(|e| request(e.to_string()))?;
        if report.dead > 0 {
            return Err(request(format!(
                "{} writes became dead letters",
                report.dead
            )));
        }
        if report.applied > 0 {
            // A round sends up to a few calls together; every row here is a fresh set of its
            // own level, so its calls are full but the last (their answers arrive together:
            // one completion per call, at the round's end).
            let at = start.elapsed();
            let mut left = report.applied as usize;
            while left > 0 {
                let n = left.min(SHOPIFY_ARRAY_INPUT_MAX);
                completions.push((at, n));
                calls += 1;
                left -= n;
            }
            applied += report.applied;
        }
        // As the store's dispatch loop does: another round at once while rows were claimed;
        // only an empty claim asks whether anything is left (a count over the whole outbox).
        if Instant::now() > deadline {
            return Err(request("the outbox did not drain within 600 s".into()));
        }
        if report.claimed > 0 {
            continue;
        }
        let depth = db
            .status(STORE)
            .await
            .map_err(|e| request(e.to_string()))?
            .outbox;
        if depth.pending == 0 && depth.inflight == 0 {
            break;
        }
        // Rows waiting for a retry time: let it come.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();

    // Every item must hold the last value generated for it.
    let mut last: HashMap<u64, i64> = HashMap::new();
    for c in &changes {
        last.insert(c.item, c.quantity);
    }
    let mut verified = 0u64;
    for (&item, &want) in &last {
        let got = shop.sim.available(item, shop.location);
        if got != Some(want) {
            return Err(BenchError::Verification {
                scenario: "shopify-weft",
                message: format!("inventory item {item} holds {got:?}, expected {want}"),
            });
        }
        verified += 1;
    }
    let stats = shop.sim.stats();
    let ok_calls = stats
        .graphql_requests
        .saturating_sub(stats.throttled_graphql);
    let cost_per_call = ratio(stats.cost_charged as f64, ok_calls as f64);
    let config = shop.sim.config();
    let (bucket, restore) = (config.maximum_available, config.restore_rate);
    let theoretical = ratio(restore, cost_per_call) * SHOPIFY_ARRAY_INPUT_MAX as f64;
    let (throttled_total, throttled_after_1s) = throttled_since(&shop.sim, start_ms);
    let items_per_s = ratio(applied as f64, secs(elapsed));
    let waits = limiter.stats().waited;
    db.close().await;
    shop.handle.shutdown().await;
    Ok(WeftRun {
        bucket,
        restore,
        coalesced,
        applied,
        calls,
        elapsed_s: secs(elapsed),
        items_per_s,
        cost_per_call,
        theoretical,
        throttled_total,
        throttled_after_1s,
        waits,
        verified,
        completions,
    })
}

const STORE: &str = "bench-shop";
const SYSTEM: &str = "shopify";

fn request(message: String) -> BenchError {
    BenchError::Request {
        scenario: "shopify-weft",
        message,
    }
}

/// The outbox row the processing step queues for one change: an unguarded set of the item's
/// quantity (the ERP is the system of record for stock), in the one write representation.
fn outbox_row(c: &Change, location: &str, n: usize) -> Result<NewOutboxRow, BenchError> {
    let command = WriteCommand {
        system: SYSTEM.into(),
        kind: EntityKind::InventoryLevel,
        op: WriteOp::SetQuantity,
        target_id: Some(format!("{}@{location}", c.item)),
        external_id: None,
        body: json!({
            "inventory_item_id": c.item.to_string(),
            "location_id": location,
            "available": c.quantity,
        }),
        idempotency_key: String::new(),
        expected_quantity: None,
    };
    let body = serde_json::to_value(PlannedWrite {
        command,
        desired: json!({ "quantity": c.quantity })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    })
    .map_err(|e| request(e.to_string()))?;
    Ok(NewOutboxRow {
        system: SYSTEM.into(),
        kind: EntityKind::InventoryLevel.as_str().into(),
        key: format!("level-{}", c.item),
        op: WriteOp::SetQuantity.as_str().into(),
        idempotency_key: format!("bench-{n}"),
        body,
        priority: weft_engine::sync::priority("inventory-level"),
        coalesce: true,
        resend_may_apply: false,
    })
}

struct NaiveRun {
    applied: u64,
    calls: u64,
    throttled: u64,
    elapsed_s: f64,
}

/// One mutation per change, sequential, no limiter; on THROTTLED it sleeps `Retry-After` (or a
/// fixed second) and retries the same change.
async fn run_naive(opts: &ShopifyOptions) -> Result<NaiveRun, BenchError> {
    let shop = start_shop(opts, opts.items).await?;
    let changes = generate(&shop.items, opts.changes_per_item, opts.seed);
    let url = format!("{}/admin/api/{VERSION}/graphql.json", shop.handle.base_url);
    let token = shop.sim.config().access_tokens[0].clone();
    let http = reqwest::Client::new();
    let fail = |message: String| BenchError::Request {
        scenario: "shopify-naive",
        message,
    };
    let location = format!("gid://shopify/Location/{}", shop.location);
    let start = Instant::now();
    let deadline = start + opts.naive_budget;
    let (mut applied, mut calls, mut throttled) = (0u64, 0u64, 0u64);
    'changes: for c in &changes {
        loop {
            if Instant::now() >= deadline {
                break 'changes;
            }
            let body = json!({
                "query": queries::inventory_set_quantities(None),
                "variables": {"input": {"name": "available", "reason": "correction", "quantities": [{
                    "inventoryItemId": format!("gid://shopify/InventoryItem/{}", c.item),
                    "locationId": location,
                    "quantity": c.quantity,
                    "changeFromQuantity": null,
                }]}},
            });
            let resp = http
                .post(&url)
                .header("X-Shopify-Access-Token", &token)
                .json(&body)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            calls += 1;
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(Duration::from_secs_f64);
            let v: Value = resp.json().await.map_err(|e| fail(e.to_string()))?;
            let is_throttled = v["errors"].as_array().is_some_and(|errs| {
                errs.iter()
                    .any(|e| e["extensions"]["code"].as_str() == Some("THROTTLED"))
            });
            if is_throttled {
                throttled += 1;
                tokio::time::sleep(retry_after.unwrap_or(Duration::from_secs(1))).await;
                continue;
            }
            let user_errors = &v["data"]["inventorySetQuantities"]["userErrors"];
            if v.get("errors").is_some() || user_errors.as_array().is_none_or(|u| !u.is_empty()) {
                return Err(fail(format!("inventorySetQuantities refused: {v}")));
            }
            applied += 1;
            break;
        }
    }
    let elapsed = start.elapsed();
    shop.handle.shutdown().await;
    Ok(NaiveRun {
        applied,
        calls,
        throttled,
        elapsed_s: secs(elapsed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(completions: Vec<(Duration, usize)>, elapsed_s: f64) -> WeftRun {
        WeftRun {
            bucket: 1000.0,
            restore: 100.0,
            coalesced: 0,
            applied: completions.iter().map(|(_, n)| *n as u64).sum(),
            calls: completions.len() as u64,
            elapsed_s,
            items_per_s: 0.0,
            cost_per_call: 10.0,
            theoretical: 2500.0,
            throttled_total: 0,
            throttled_after_1s: 0,
            waits: 0,
            verified: 0,
            completions,
        }
    }

    #[test]
    fn steady_rate_ignores_the_burst_and_the_refill_spent_with_it() {
        // 100 burst calls in the first 0.5 s (50 more points refill meanwhile: 5 calls at
        // once after), then one 250-item call every 0.1 s.
        let mut c: Vec<(Duration, usize)> = (0..100)
            .map(|i| (Duration::from_millis(5 * i), 250))
            .collect();
        c.extend((0..5).map(|_| (Duration::from_millis(505), 250)));
        c.extend((1..=60).map(|i| (Duration::from_millis(505 + 100 * i), 250)));
        let r = run(c, 6.505);
        assert_eq!(r.burst_calls(), 100);
        let steady = r.steady_items_per_s().unwrap();
        assert!((steady - 2500.0).abs() < 1e-6, "{steady}");
        // 165 calls in 6.505 s; the bucket could pay for (1000 + 650.5) / 10 = 165.05.
        assert!((r.applied as f64 / r.bound_items() - 165.0 / 165.05).abs() < 1e-9);
    }

    #[test]
    fn steady_rate_needs_calls_past_the_burst() {
        let c: Vec<(Duration, usize)> = (0..110).map(|i| (Duration::from_millis(i), 250)).collect();
        assert_eq!(run(c, 0.11).steady_items_per_s(), None);
    }

    #[test]
    fn changes_are_generated_round_by_round_and_deterministically() {
        let a = generate(&[1, 2, 3], 2, 9);
        let b = generate(&[1, 2, 3], 2, 9);
        assert_eq!(
            a.iter().map(|c| c.item).collect::<Vec<_>>(),
            vec![1, 2, 3, 1, 2, 3]
        );
        assert_eq!(
            a.iter().map(|c| c.quantity).collect::<Vec<_>>(),
            b.iter().map(|c| c.quantity).collect::<Vec<_>>()
        );
    }
}
