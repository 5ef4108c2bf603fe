//! Simulator settings: API keys, the site's clock and time zone, webhook delivery and chaos,
//! the optional host rate limit.

use chrono::{DateTime, TimeZone, Utc};

/// What a REST API key may do (WooCommerce > Settings > Advanced > REST API > Permissions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPermissions {
    /// GET/HEAD only.
    Read,
    /// Anything but GET/HEAD.
    Write,
    /// Everything.
    ReadWrite,
}

/// A consumer key and secret pair.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `ck_…`.
    pub consumer_key: String,
    /// `cs_…`.
    pub consumer_secret: String,
    /// Permissions.
    pub permissions: KeyPermissions,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"[redacted]")
            .field("permissions", &self.permissions)
            .finish()
    }
}

/// Seeded webhook chaos, decided once per (event, webhook) delivery when the event fires.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosConfig {
    /// Probability that a delivery is never sent.
    pub drop_rate: f64,
    /// Probability that a delivery is sent twice (same delivery id, second copy right after).
    pub duplicate_rate: f64,
    /// Every delivery is held back a uniform random 0..=this many real milliseconds, so
    /// deliveries overtake each other (Action Scheduler runs queued deliveries in batches).
    pub reorder_window_ms: u64,
    /// Probability that a delivery is held back `delay_ms` more (a queue backlog).
    pub delay_rate: f64,
    /// Extra hold-back of a delayed delivery in real milliseconds.
    pub delay_ms: u64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_window_ms: 0,
            delay_rate: 0.0,
            delay_ms: 2_000,
        }
    }
}

/// Webhook delivery settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// Chaos knobs.
    pub chaos: ChaosConfig,
    /// Whole-request timeout in real milliseconds (WooCommerce: 60 s).
    pub timeout_ms: u64,
    /// A failed delivery with `failure_count` already above this disables the webhook
    /// (WooCommerce's `woocommerce_max_webhook_delivery_failures`, default 5: the 7th
    /// consecutive failure disables it).
    pub max_delivery_failures: u32,
    /// Build each payload when it is sent rather than when the event fires. WooCommerce's
    /// asynchronous delivery (the default, through Action Scheduler) builds it when the queued
    /// action runs, so a late delivery carries the resource as it is then; synchronous
    /// delivery builds it at once. Off by default: a snapshot lets reordering deliver stale
    /// payloads, the harder case for a receiver.
    pub payload_at_delivery: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            chaos: ChaosConfig::default(),
            timeout_ms: 60_000,
            max_delivery_failures: 5,
            payload_at_delivery: false,
        }
    }
}

/// HTTP status a throttling host answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LimitStatus {
    /// 429 Too Many Requests.
    TooMany429,
    /// 503 Service Unavailable.
    Unavailable503,
}

impl LimitStatus {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            LimitStatus::TooMany429 => 429,
            LimitStatus::Unavailable503 => 503,
        }
    }
}

/// A host-level request limit (WooCommerce itself has none; hosts and WAFs do).
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    /// Bucket size in requests.
    pub burst: f64,
    /// Requests per second refilled.
    pub per_second: f64,
    /// Status of a refused request.
    pub status: LimitStatus,
    /// `Retry-After` seconds on a refused request.
    pub retry_after_secs: u64,
}

/// Full configuration. `Debug` redacts secrets.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed for ids, order keys, delivery ids and chaos.
    pub seed: u64,
    /// Site home URL used in `X-WC-Webhook-Source`, permalinks and `_links`; the OAuth base
    /// string uses the request's `Host` when this is `None`.
    pub site_url: Option<String>,
    /// Accepted keys.
    pub keys: Vec<ApiKey>,
    /// Shop wall time at start; timestamps are this plus elapsed `tokio::time` plus advances.
    pub base_time: DateTime<Utc>,
    /// Site time zone as a UTC offset in minutes (`date_*` fields are local, `*_gmt` are UTC).
    pub utc_offset_minutes: i32,
    /// Shop currency.
    pub currency: String,
    /// Webhook settings.
    pub webhooks: WebhookConfig,
    /// `create + update + delete` items accepted by one `/batch` call
    /// (`woocommerce_rest_batch_items_limit`, default 100).
    pub batch_limit: usize,
    /// Optional host throttling.
    pub rate_limit: Option<RateLimit>,
    /// OAuth 1.0a timestamp window in seconds (WooCommerce: 15 minutes), checked against the
    /// host's real clock, as a real server's is.
    pub oauth_window_secs: i64,
    /// Whether a stock change made by an order saves the product (fires `product.updated`
    /// and moves `date_modified`), as `wc_update_product_stock` does by default.
    pub order_stock_saves_product: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            site_url: None,
            keys: vec![
                ApiKey {
                    consumer_key: DEFAULT_KEY.to_string(),
                    consumer_secret: DEFAULT_SECRET.to_string(),
                    permissions: KeyPermissions::ReadWrite,
                },
                ApiKey {
                    consumer_key: READ_ONLY_KEY.to_string(),
                    consumer_secret: READ_ONLY_SECRET.to_string(),
                    permissions: KeyPermissions::Read,
                },
            ],
            base_time: Utc
                .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
                .single()
                .expect("valid base time"),
            utc_offset_minutes: -300,
            currency: "USD".to_string(),
            webhooks: WebhookConfig::default(),
            batch_limit: 100,
            rate_limit: None,
            oauth_window_secs: 15 * 60,
            order_stock_saves_product: true,
        }
    }
}

/// Default read/write consumer key.
pub const DEFAULT_KEY: &str = "ck_sim_0000000000000000000000000000000000000001";
/// Default read/write consumer secret.
pub const DEFAULT_SECRET: &str = "cs_sim_0000000000000000000000000000000000000001";
/// Default read-only consumer key.
pub const READ_ONLY_KEY: &str = "ck_sim_read_000000000000000000000000000000000002";
/// Default read-only consumer secret.
pub const READ_ONLY_SECRET: &str = "cs_sim_read_000000000000000000000000000000000002";

impl SimConfig {
    /// Validates the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.keys.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one API key is required".into(),
            ));
        }
        if self.batch_limit == 0 {
            return Err(ConfigError::Invalid("batch limit must be positive".into()));
        }
        if self.utc_offset_minutes.abs() >= 24 * 60 {
            return Err(ConfigError::Invalid(
                "utc offset must be within a day".into(),
            ));
        }
        let ch = &self.webhooks.chaos;
        for (name, rate) in [
            ("drop rate", ch.drop_rate),
            ("duplicate rate", ch.duplicate_rate),
            ("delay rate", ch.delay_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Invalid(format!(
                    "webhook chaos {name} {rate} is outside 0..=1"
                )));
            }
        }
        if let Some(rl) = &self.rate_limit
            && !(rl.burst >= 1.0 && rl.per_second > 0.0)
        {
            return Err(ConfigError::Invalid(
                "rate limit burst must be at least 1 and its rate positive".into(),
            ));
        }
        Ok(())
    }
}

/// Invalid configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is out of range or missing.
    #[error("invalid woocommerce simulator config: {0}")]
    Invalid(String),
}
