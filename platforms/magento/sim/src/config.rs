//! The simulator's settings.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// The default store code (`/rest/default/V1/…`).
pub const DEFAULT_STORE_CODE: &str = "default";
/// The default source (MSI's single-source mode source).
pub const DEFAULT_SOURCE: &str = "default";
/// The default integration access token.
pub const DEFAULT_TOKEN: &str = "sim-integration-token";

/// Seeded chaos of the asynchronous bulk API.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    /// Share (0..=1) of accepted operations the consumer fails retriably (status 2).
    pub retriable_failure_share: f64,
    /// How long after its bulk was accepted an operation is applied.
    pub consumer_delay: Duration,
    /// Up to this much more, drawn per operation (seeded).
    pub consumer_jitter: Duration,
    /// Share (0..=1) of bulks whose status never arrives: every operation stays open (4).
    pub lost_bulk_share: f64,
    /// Whether a lost bulk's operations are applied all the same (the consumer died after
    /// saving, before recording the status) or never (its messages were lost).
    pub lost_bulk_applies: bool,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            retriable_failure_share: 0.0,
            consumer_delay: Duration::from_millis(200),
            consumer_jitter: Duration::ZERO,
            lost_bulk_share: 0.0,
            lost_bulk_applies: false,
        }
    }
}

/// The simulator's configuration.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The store code in `/rest/{store_code}/…` (`all` is accepted too).
    pub store_code: String,
    /// Integration access tokens accepted as Bearer tokens.
    pub tokens: Vec<String>,
    /// Whether integration tokens work as standalone Bearer tokens
    /// (`oauth/consumer/enable_integration_as_bearer`); when off, every token is refused.
    pub bearer_enabled: bool,
    /// The web API input limits (2.4.3+): page size at most 300, 20 by default, synchronous
    /// array inputs at most 20 entities, async bulks at most 5000.
    pub input_limits: bool,
    /// Sources besides `default`.
    pub sources: Vec<String>,
    /// Seed of every random draw.
    pub seed: u64,
    /// Bulk API chaos.
    pub chaos: ChaosConfig,
    /// The simulated clock at start.
    pub start_time: DateTime<Utc>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            store_code: DEFAULT_STORE_CODE.into(),
            tokens: vec![DEFAULT_TOKEN.into()],
            bearer_enabled: true,
            input_limits: true,
            sources: Vec::new(),
            seed: 17,
            chaos: ChaosConfig::default(),
            start_time: Utc
                .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
                .single()
                .unwrap_or_else(Utc::now),
        }
    }
}

/// The input limits when they are on.
pub const MAX_PAGE_SIZE: usize = 300;
/// The page size when none is given and the input limits are on.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Entities in a synchronous array input.
pub const MAX_SYNC_ENTITIES: usize = 20;
/// Entities in an asynchronous bulk.
pub const MAX_ASYNC_ENTITIES: usize = 5000;
