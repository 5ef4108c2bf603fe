//! Simulator settings: the store, its access tokens, its plan's request quota, the other apps
//! spending part of that quota, the shop clock, and webhook delivery with its chaos.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// A store plan and its request quota per 30-second window (BigCommerce's rate-limits page:
/// Standard and Plus 20k/h = 150 per 30 s, Pro 60k/h = 450 per 30 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// 150 requests per 30 s.
    Standard,
    /// 150 requests per 30 s.
    Plus,
    /// 450 requests per 30 s.
    Pro,
    /// Enterprise: a quota by contract.
    Custom(u32),
}

impl Plan {
    /// Requests per window.
    pub fn quota(self) -> u32 {
        match self {
            Plan::Standard | Plan::Plus => 150,
            Plan::Pro => 450,
            Plan::Custom(n) => n,
        }
    }
}

/// The store-wide request quota: every app on the store shares it.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaConfig {
    /// Requests per window.
    pub requests_per_window: u32,
    /// The window (BigCommerce: 30 s).
    pub window: Duration,
    /// Requests other apps on the same store make per window; they spend the same quota (a
    /// refused one is not retried by them and spends nothing).
    pub background_per_window: u32,
    /// When in the window they make them.
    pub background_shape: BackgroundShape,
}

/// When the other apps make their requests within a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackgroundShape {
    /// Spread evenly over the window.
    #[default]
    Even,
    /// All at the window's start (a batch job on a timer).
    Burst,
}

impl QuotaConfig {
    /// A plan's quota with no other app.
    pub fn plan(plan: Plan) -> Self {
        QuotaConfig {
            requests_per_window: plan.quota(),
            window: Duration::from_secs(30),
            background_per_window: 0,
            background_shape: BackgroundShape::Even,
        }
    }
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig::plan(Plan::Standard)
    }
}

/// Seeded webhook chaos, decided once per (event, hook) when the event fires.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosConfig {
    /// Probability that a callback is never sent.
    pub drop_rate: f64,
    /// Probability that a callback is sent twice (same body, same `hash`).
    pub duplicate_rate: f64,
    /// Each callback is held back a uniform random 0..=this, so callbacks overtake each other.
    pub reorder_window: Duration,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_window: Duration::ZERO,
        }
    }
}

/// Webhook delivery settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// Chaos.
    pub chaos: ChaosConfig,
    /// Waits before each retry of a callback that was not answered with a 2xx. When the last
    /// retry fails too, the hook is deactivated (`is_active: false`).
    pub retry_delays: Vec<Duration>,
    /// Time allowed for the destination to answer one callback.
    pub timeout: Duration,
    /// Whether `destination` must be `https` on port 443, as BigCommerce requires (off by
    /// default: a local sandbox has no TLS).
    pub require_https: bool,
}

/// BigCommerce's documented retry schedule is not public in full; this one (11 attempts over
/// about 48 hours) is the simulator's assumption, see the crate header.
pub fn default_retry_delays() -> Vec<Duration> {
    [60, 180, 180, 1200, 3600, 7200, 21600, 43200, 43200, 43200]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            chaos: ChaosConfig::default(),
            retry_delays: default_retry_delays(),
            timeout: Duration::from_secs(10),
            require_https: false,
        }
    }
}

/// Full configuration. `Debug` redacts the tokens.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed for chaos and transaction ids.
    pub seed: u64,
    /// The store hash in `/stores/{hash}/…` and `producer`.
    pub store_hash: String,
    /// The numeric store id in webhook payloads (`store_id`).
    pub store_id: String,
    /// Accepted `X-Auth-Token` values.
    pub tokens: Vec<String>,
    /// The request quota.
    pub quota: QuotaConfig,
    /// Shop wall time at start; timestamps are this plus elapsed `tokio::time` plus advances.
    pub base_time: DateTime<Utc>,
    /// Webhook delivery.
    pub webhooks: WebhookConfig,
    /// Items accepted by `PUT /v3/catalog/variants`.
    pub variant_batch_limit: usize,
    /// Items accepted by `PUT /v3/catalog/products`.
    pub product_batch_limit: usize,
    /// Items accepted by one inventory adjustment.
    pub adjustment_limit: usize,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("store_hash", &self.store_hash)
            .field("tokens", &format!("[{} redacted]", self.tokens.len()))
            .field("quota", &self.quota)
            .field("base_time", &self.base_time)
            .field("webhooks", &self.webhooks)
            .finish()
    }
}

/// The default store hash.
pub const DEFAULT_STORE_HASH: &str = "sim0abc1";
/// The default access token.
pub const DEFAULT_TOKEN: &str = "bc_sim_token_0000000000000000000001";

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            store_hash: DEFAULT_STORE_HASH.into(),
            store_id: "1001234".into(),
            tokens: vec![DEFAULT_TOKEN.into()],
            quota: QuotaConfig::default(),
            base_time: Utc
                .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
                .single()
                .expect("valid base time"),
            webhooks: WebhookConfig::default(),
            variant_batch_limit: 50,
            product_batch_limit: 10,
            adjustment_limit: 2000,
        }
    }
}

impl SimConfig {
    /// Validates the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.tokens.is_empty() {
            return bad("at least one access token is required");
        }
        if self.store_hash.is_empty() || !self.store_hash.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return bad("the store hash must be non-empty and alphanumeric");
        }
        if self.quota.requests_per_window == 0 || self.quota.window.is_zero() {
            return bad("the quota and its window must be positive");
        }
        if self.quota.background_per_window > self.quota.requests_per_window {
            return bad("other apps cannot spend more than the whole quota");
        }
        let ch = &self.webhooks.chaos;
        for (name, rate) in [("drop", ch.drop_rate), ("duplicate", ch.duplicate_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Invalid(format!(
                    "webhook chaos {name} rate {rate} is outside 0..=1"
                )));
            }
        }
        if self.variant_batch_limit == 0 || self.product_batch_limit == 0 {
            return bad("batch limits must be positive");
        }
        Ok(())
    }
}

/// Invalid configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is out of range or missing.
    #[error("invalid bigcommerce simulator config: {0}")]
    Invalid(String),
}
