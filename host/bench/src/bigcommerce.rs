//! The BigCommerce scenario: sustained stock writes through the connector's real write path
//! (read, compare, absolute adjustment, versions read back: three requests per write) into a
//! store whose request quota another app spends half of, evenly over each window. Every figure
//! comes from the simulator's per-window accounting. The window is compressed (3 s instead of
//! 30 s by default: same quota per window, same proportions; the limiter learns the window
//! from the headers).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use weft_bigcommerce::{BcClient, BcConfig, BigCommerceConnection, HintBus, QuotaLimiter};
use weft_platform::{Connection, ConnectorError, EntityKind, WriteCommand, WriteOp};
use weft_sim_bigcommerce::{BackgroundShape, BcSim, QuotaConfig, SimConfig};

use crate::BenchError;

/// Options of the BigCommerce scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct BigCommerceOptions {
    /// Requests per window (150: Standard and Plus).
    pub quota: u32,
    /// The window (BigCommerce: 30 s; compressed here).
    pub window: Duration,
    /// Requests another app makes per window.
    pub other_apps: u32,
    /// When in the window it makes them.
    pub other_apps_shape: BackgroundShape,
    /// Windows to run; the first is warm-up, the last partial one is not measured.
    pub windows: u32,
    /// Concurrent writers.
    pub workers: usize,
    /// Items written (each a product with one variant at the default location).
    pub items: usize,
    /// Simulator seed.
    pub seed: u64,
}

impl Default for BigCommerceOptions {
    fn default() -> Self {
        BigCommerceOptions {
            quota: 150,
            window: Duration::from_secs(3),
            other_apps: 75,
            other_apps_shape: BackgroundShape::Even,
            windows: 6,
            workers: 4,
            items: 40,
            seed: 17,
        }
    }
}

/// Figures of the BigCommerce scenario.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BigCommerceBench {
    /// Requests per window.
    pub bigcommerce_quota: u32,
    /// Window length.
    pub bigcommerce_window_ms: u64,
    /// The other app's requests per window.
    pub bigcommerce_other_apps_per_window: u32,
    /// Whole windows measured after the warm-up window.
    pub bigcommerce_windows_measured: usize,
    /// Stock writes applied.
    pub bigcommerce_writes: u64,
    /// Requests weft made (served).
    pub bigcommerce_requests: u64,
    /// 429s weft got in total.
    pub bigcommerce_throttled_total: u64,
    /// 429s weft got in the measured windows.
    pub bigcommerce_throttled_after_warmup: u64,
    /// The other app's requests refused in the measured windows (weft crowding it out).
    pub bigcommerce_other_app_refused: u64,
    /// Weft's requests / what the other app left (quota − its requests), lowest measured window.
    pub bigcommerce_share_min: f64,
    /// The same over all measured windows.
    pub bigcommerce_share: f64,
    /// Items whose final quantity is the last one weft set.
    pub bigcommerce_verified_items: usize,
}

fn setup(what: &'static str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup {
        what,
        message: e.to_string(),
    }
}

/// Runs the scenario.
pub async fn bigcommerce_scenario(
    opts: &BigCommerceOptions,
) -> Result<BigCommerceBench, BenchError> {
    if opts.windows < 3 || opts.workers == 0 || opts.items < opts.workers {
        return Err(BenchError::InvalidOption {
            option: "windows/workers/items",
            message: "at least 3 windows, 1 worker and one item per worker".into(),
        });
    }
    let sim = BcSim::new(SimConfig {
        seed: opts.seed,
        quota: QuotaConfig {
            requests_per_window: opts.quota,
            window: opts.window,
            background_per_window: opts.other_apps,
            background_shape: opts.other_apps_shape,
        },
        ..SimConfig::default()
    })
    .map_err(|e| setup("bigcommerce simulator", e))?;
    let mut variants = Vec::new();
    let mut skus: BTreeMap<u64, String> = BTreeMap::new();
    for i in 0..opts.items {
        let p = sim
            .create_product(
                json!({"name": format!("Item {i}"), "type": "physical", "price": 1.0,
                "sku": format!("ITEM-{i}"), "inventory_tracking": "product", "inventory_level": 0}),
            )
            .map_err(|e| setup("bigcommerce catalogue", e))?;
        let v = sim.product(p).and_then(|p| p["base_variant_id"].as_u64());
        let v = v.ok_or_else(|| setup("bigcommerce catalogue", "no base variant"))?;
        variants.push(v);
        skus.insert(v, format!("ITEM-{i}"));
    }
    let server = sim
        .serve_local()
        .await
        .map_err(|e| setup("bigcommerce serve", e))?;
    let c = sim.config();
    let client = BcClient::new(
        BcConfig::new(&server.base_url, &c.store_hash, &c.tokens[0]),
        QuotaLimiter::new(weft_bigcommerce::limiter::DEFAULT_MARGIN),
    )
    .map_err(|e| setup("bigcommerce client", e))?;
    let conn = Arc::new(BigCommerceConnection::new(
        Arc::new(client),
        HintBus::new(),
        None,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..opts.workers {
        let mine: Vec<u64> = variants
            .iter()
            .copied()
            .skip(w)
            .step_by(opts.workers)
            .collect();
        let (conn, stop, writes) = (conn.clone(), stop.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut last: BTreeMap<u64, i64> = mine.iter().map(|v| (*v, 0)).collect();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let v = mine[n % mine.len()];
                n += 1;
                let before = last[&v];
                let cmd = WriteCommand {
                    system: "bigcommerce".into(),
                    kind: EntityKind::InventoryLevel,
                    op: WriteOp::SetQuantity,
                    target_id: Some(format!("{v}@1")),
                    external_id: None,
                    body: json!({ "available": before + 1 }),
                    idempotency_key: format!("w{w}-{n}"),
                    expected_quantity: Some(before),
                };
                loop {
                    match conn.execute(&cmd).await {
                        Ok(_) => {
                            last.insert(v, before + 1);
                            writes.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        // A 429 is waited out as the dispatcher would; the simulator counts it.
                        Err(e @ ConnectorError::Throttled { .. }) => {
                            tokio::time::sleep(
                                e.retry_after().unwrap_or(Duration::from_millis(100)),
                            )
                            .await;
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }
            Ok(last)
        }));
    }
    tokio::time::sleep(opts.window * opts.windows).await;
    stop.store(true, Ordering::Relaxed);
    let mut expected: BTreeMap<u64, i64> = BTreeMap::new();
    for t in tasks {
        let last = t
            .await
            .map_err(|e| setup("bigcommerce worker", e))?
            .map_err(|message| BenchError::Request {
                scenario: "bigcommerce",
                message,
            })?;
        expected.extend(last);
    }
    let windows = sim.quota_windows();
    let measured: Vec<_> = windows
        .iter()
        .filter(|w| w.window >= 1 && w.window < opts.windows as u64)
        .collect();
    let share = |spent: u64, others: u64, n: u64| {
        let left = (opts.quota as u64 * n).saturating_sub(others);
        if left == 0 {
            1.0
        } else {
            spent as f64 / left as f64
        }
    };
    let share_min = measured
        .iter()
        .map(|w| share(w.api_spent as u64, w.others_spent as u64, 1))
        .fold(f64::INFINITY, f64::min);
    let share_all = share(
        measured.iter().map(|w| w.api_spent as u64).sum(),
        measured.iter().map(|w| w.others_spent as u64).sum(),
        measured.len() as u64,
    );
    let verified = expected
        .iter()
        .filter(|(v, q)| {
            skus.get(*v)
                .is_some_and(|sku| sim.stock(sku, 1) == Some(**q))
        })
        .count();
    if verified != expected.len() {
        return Err(BenchError::Verification {
            scenario: "bigcommerce",
            message: format!(
                "{} of {} items hold the last quantity set",
                verified,
                expected.len()
            ),
        });
    }
    server.shutdown().await;
    Ok(BigCommerceBench {
        bigcommerce_quota: opts.quota,
        bigcommerce_window_ms: opts.window.as_millis() as u64,
        bigcommerce_other_apps_per_window: opts.other_apps,
        bigcommerce_windows_measured: measured.len(),
        bigcommerce_writes: writes.load(Ordering::Relaxed),
        bigcommerce_requests: windows.iter().map(|w| w.api_spent as u64).sum(),
        bigcommerce_throttled_total: windows.iter().map(|w| w.api_refused as u64).sum(),
        bigcommerce_throttled_after_warmup: measured.iter().map(|w| w.api_refused as u64).sum(),
        bigcommerce_other_app_refused: measured.iter().map(|w| w.others_refused as u64).sum(),
        bigcommerce_share_min: if share_min.is_finite() {
            share_min
        } else {
            0.0
        },
        bigcommerce_share: share_all,
        bigcommerce_verified_items: verified,
    })
}
