//! Simulator configuration: shop identity, credentials, plan limits, webhook chaos and time.

use chrono::{DateTime, TimeZone, Utc};

/// Rate-limit preset of a Shopify plan.
///
/// GraphQL restore rates are Shopify's documented ones (100/200/1000/2000 points per second).
/// Bucket sizes under the current restore rates are not published by Shopify; the presets use
/// ten seconds of restore (1,000 / 2,000 / 10,000 / 20,000 points), an assumption. REST buckets
/// use the documented leak rates (2/4/20/40 requests per second) with a 40-request bucket for
/// Standard and Advanced (documented by third parties) and 400 for Plus and Enterprise (assumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanPreset {
    /// Basic/Shopify/Advanced-less plans: 1,000 points, 100 points/s.
    Standard,
    /// Advanced: 2,000 points, 200 points/s.
    Advanced,
    /// Shopify Plus: 10,000 points, 1,000 points/s.
    Plus,
    /// Commerce Components / Enterprise: 20,000 points, 2,000 points/s.
    Enterprise,
}

impl PlanPreset {
    /// GraphQL bucket `(maximumAvailable, restoreRate per second)`.
    pub fn graphql_limits(self) -> (f64, f64) {
        match self {
            PlanPreset::Standard => (1000.0, 100.0),
            PlanPreset::Advanced => (2000.0, 200.0),
            PlanPreset::Plus => (10000.0, 1000.0),
            PlanPreset::Enterprise => (20000.0, 2000.0),
        }
    }

    /// REST bucket `(size in requests, leak rate per second)`.
    pub fn rest_limits(self) -> (f64, f64) {
        match self {
            PlanPreset::Standard => (40.0, 2.0),
            PlanPreset::Advanced => (40.0, 4.0),
            PlanPreset::Plus => (400.0, 20.0),
            PlanPreset::Enterprise => (400.0, 40.0),
        }
    }

    /// Parses `standard`, `advanced`, `plus` or `enterprise` (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "standard" | "basic" | "shopify" => Some(PlanPreset::Standard),
            "advanced" => Some(PlanPreset::Advanced),
            "plus" => Some(PlanPreset::Plus),
            "enterprise" | "commerce-components" => Some(PlanPreset::Enterprise),
            _ => None,
        }
    }
}

/// HTTP status used for a GraphQL `THROTTLED` response (Shopify's is unconfirmed; 200 is the
/// common report and the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleStatusCode {
    /// `200 OK` with `errors[0].extensions.code == "THROTTLED"` (default).
    Ok200,
    /// `429 Too Many Requests` with the same body.
    TooMany429,
}

/// Seeded, deterministic webhook chaos. Rates are probabilities in `[0, 1]` drawn once per
/// (event, subscription) delivery when the event fires.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosConfig {
    /// Probability that a delivery is never sent.
    pub drop_rate: f64,
    /// Probability that a delivery is sent twice (same webhook id, second copy right after).
    pub duplicate_rate: f64,
    /// Each delivery is held back a uniform random 0..=this many real milliseconds before its
    /// first attempt, so deliveries overtake each other.
    pub reorder_window_ms: u64,
    /// Probability that, besides the normal delivery, a stale copy of the original payload is
    /// delivered again `late_delay_secs` (nominal, divided by the compression factor) later.
    pub late_rate: f64,
    /// Nominal delay of a late copy in seconds (default one hour).
    pub late_delay_secs: f64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_window_ms: 0,
            late_rate: 0.0,
            late_delay_secs: 3600.0,
        }
    }
}

/// Webhook delivery settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// Chaos knobs.
    pub chaos: ChaosConfig,
    /// Divides every nominal retry / late delay (e.g. 3600 turns 4 hours into 4 seconds).
    pub time_compression: f64,
    /// Retries after the first failed attempt (Shopify: 8).
    pub max_retries: u32,
    /// Nominal total span of the retry schedule in seconds (Shopify: 4 hours).
    pub retry_span_secs: f64,
    /// TCP connect timeout in real milliseconds (Shopify: 1 s).
    pub connect_timeout_ms: u64,
    /// Whole-request timeout in real milliseconds (Shopify: 5 s).
    pub total_timeout_ms: u64,
    /// Delete an API-created subscription after this many consecutive deliveries exhausted all
    /// retries (`None` keeps it forever).
    pub remove_subscription_after_failures: Option<u32>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            chaos: ChaosConfig::default(),
            time_compression: 1.0,
            max_retries: 8,
            retry_span_secs: 4.0 * 3600.0,
            connect_timeout_ms: 1_000,
            total_timeout_ms: 5_000,
            remove_subscription_after_failures: Some(8),
        }
    }
}

/// Full simulator configuration. Build with [`SimConfig::builder`]. `Debug` redacts tokens
/// and secrets.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed for ids, webhook ids and chaos decisions.
    pub seed: u64,
    /// The `*.myshopify.com` domain.
    pub shop_domain: String,
    /// Accepted `X-Shopify-Access-Token` values.
    pub access_tokens: Vec<String>,
    /// App client secrets, oldest first; webhooks are signed with the oldest unrevoked one.
    pub client_secrets: Vec<String>,
    /// Accepted API versions in the URL path (others answer 404).
    pub api_versions: Vec<String>,
    /// GraphQL bucket size in cost points.
    pub maximum_available: f64,
    /// GraphQL restore rate in cost points per second.
    pub restore_rate: f64,
    /// Single-query maximum requested cost (Shopify: 1,000).
    pub max_query_cost: u64,
    /// REST bucket size in requests.
    pub rest_bucket_size: f64,
    /// REST leak rate in requests per second.
    pub rest_leak_rate: f64,
    /// HTTP status of GraphQL throttled responses.
    pub throttle_status: ThrottleStatusCode,
    /// Wall time at simulator start; timestamps are this plus elapsed `tokio::time` time.
    pub base_time: DateTime<Utc>,
    /// Shop currency (`currencyCode`).
    pub currency: String,
    /// Shop time zone as a UTC offset in minutes, used in REST and webhook timestamps
    /// (default -300, i.e. `-05:00`, so clients that compare timestamp strings break in tests).
    pub utc_offset_minutes: i32,
    /// Webhook delivery settings.
    pub webhooks: WebhookConfig,
    /// Names of the locations created at start (at least one).
    pub locations: Vec<String>,
    /// The access scopes the merchant approved at install ([`crate::scopes`]; default: every
    /// scope the simulator's API needs).
    pub access_scopes: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        let (max, rate) = PlanPreset::Standard.graphql_limits();
        let (rest_size, rest_rate) = PlanPreset::Standard.rest_limits();
        SimConfig {
            seed: 1,
            shop_domain: "weft-sim.myshopify.com".to_string(),
            access_tokens: vec!["shpat_sim_access_token".to_string()],
            client_secrets: vec!["shpss_sim_client_secret".to_string()],
            api_versions: ["2025-10", "2026-01", "2026-04", "2026-07"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            maximum_available: max,
            restore_rate: rate,
            max_query_cost: 1000,
            rest_bucket_size: rest_size,
            rest_leak_rate: rest_rate,
            throttle_status: ThrottleStatusCode::Ok200,
            base_time: Utc
                .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
                .single()
                .expect("valid base time"),
            currency: "USD".to_string(),
            utc_offset_minutes: -300,
            webhooks: WebhookConfig::default(),
            locations: vec!["Main warehouse".to_string()],
            access_scopes: crate::scopes::ALL_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("shop_domain", &self.shop_domain)
            .field(
                "access_tokens",
                &format_args!("[{} redacted]", self.access_tokens.len()),
            )
            .field(
                "client_secrets",
                &format_args!("[{} redacted]", self.client_secrets.len()),
            )
            .field("api_versions", &self.api_versions)
            .field("maximum_available", &self.maximum_available)
            .field("restore_rate", &self.restore_rate)
            .field("max_query_cost", &self.max_query_cost)
            .field("rest_bucket_size", &self.rest_bucket_size)
            .field("rest_leak_rate", &self.rest_leak_rate)
            .field("throttle_status", &self.throttle_status)
            .field("base_time", &self.base_time)
            .field("currency", &self.currency)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .field("webhooks", &self.webhooks)
            .field("locations", &self.locations)
            .field("access_scopes", &self.access_scopes)
            .finish()
    }
}

impl SimConfig {
    /// A builder starting from the defaults (standard plan, one location, seed 1).
    pub fn builder() -> SimConfigBuilder {
        SimConfigBuilder {
            config: SimConfig::default(),
        }
    }
}

/// Builder for [`SimConfig`].
#[derive(Clone, Debug)]
pub struct SimConfigBuilder {
    config: SimConfig,
}

impl SimConfigBuilder {
    /// Seed for every random decision.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }
    /// Applies a plan preset to both GraphQL and REST buckets.
    pub fn plan(mut self, plan: PlanPreset) -> Self {
        let (max, rate) = plan.graphql_limits();
        let (rest_size, rest_rate) = plan.rest_limits();
        self.config.maximum_available = max;
        self.config.restore_rate = rate;
        self.config.rest_bucket_size = rest_size;
        self.config.rest_leak_rate = rest_rate;
        self
    }
    /// Overrides the GraphQL bucket size and restore rate.
    pub fn graphql_bucket(mut self, maximum_available: f64, restore_rate: f64) -> Self {
        self.config.maximum_available = maximum_available;
        self.config.restore_rate = restore_rate;
        self
    }
    /// Overrides the REST bucket size and leak rate.
    pub fn rest_bucket(mut self, size: f64, leak_rate: f64) -> Self {
        self.config.rest_bucket_size = size;
        self.config.rest_leak_rate = leak_rate;
        self
    }
    /// Shop domain, e.g. `acme.myshopify.com`.
    pub fn shop_domain(mut self, domain: impl Into<String>) -> Self {
        self.config.shop_domain = domain.into();
        self
    }
    /// Replaces the accepted access tokens.
    pub fn access_tokens(mut self, tokens: Vec<String>) -> Self {
        self.config.access_tokens = tokens;
        self
    }
    /// Replaces the app client secrets (oldest first).
    pub fn client_secrets(mut self, secrets: Vec<String>) -> Self {
        self.config.client_secrets = secrets;
        self
    }
    /// Replaces the accepted API versions.
    pub fn api_versions(mut self, versions: Vec<String>) -> Self {
        self.config.api_versions = versions;
        self
    }
    /// HTTP status for throttled GraphQL responses.
    pub fn throttle_status(mut self, status: ThrottleStatusCode) -> Self {
        self.config.throttle_status = status;
        self
    }
    /// Wall time at start.
    pub fn base_time(mut self, t: DateTime<Utc>) -> Self {
        self.config.base_time = t;
        self
    }
    /// Webhook chaos knobs.
    pub fn chaos(mut self, chaos: ChaosConfig) -> Self {
        self.config.webhooks.chaos = chaos;
        self
    }
    /// Divides nominal webhook retry and late-delivery delays.
    pub fn time_compression(mut self, factor: f64) -> Self {
        self.config.webhooks.time_compression = factor;
        self
    }
    /// Full webhook settings.
    pub fn webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.config.webhooks = webhooks;
        self
    }
    /// Location names created at start.
    pub fn locations(mut self, names: Vec<String>) -> Self {
        self.config.locations = names;
        self
    }
    /// The access scopes the app holds at start ([`crate::scopes`]).
    pub fn access_scopes<S: AsRef<str>>(mut self, scopes: &[S]) -> Self {
        self.config.access_scopes = scopes.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }
    /// Shop currency code.
    pub fn currency(mut self, code: impl Into<String>) -> Self {
        self.config.currency = code.into();
        self
    }
    /// Shop UTC offset in minutes for REST/webhook timestamps.
    pub fn utc_offset_minutes(mut self, minutes: i32) -> Self {
        self.config.utc_offset_minutes = minutes;
        self
    }
    /// Finishes, validating the settings.
    pub fn build(self) -> Result<SimConfig, ConfigError> {
        let c = self.config;
        if c.access_tokens.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one access token is required".into(),
            ));
        }
        if c.client_secrets.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one client secret is required".into(),
            ));
        }
        if c.api_versions.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one api version is required".into(),
            ));
        }
        if c.locations.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one location is required".into(),
            ));
        }
        if !(c.maximum_available > 0.0 && c.restore_rate > 0.0) {
            return Err(ConfigError::Invalid(
                "graphql bucket size and restore rate must be positive".into(),
            ));
        }
        if !(c.rest_bucket_size >= 1.0 && c.rest_leak_rate > 0.0) {
            return Err(ConfigError::Invalid(
                "rest bucket size must be at least 1 and its leak rate positive".into(),
            ));
        }
        if c.webhooks.time_compression.is_nan() || c.webhooks.time_compression < 1.0 {
            return Err(ConfigError::Invalid(
                "webhook time compression must be at least 1".into(),
            ));
        }
        if crate::graphql::schema::CurrencyCode::parse(&c.currency).is_none() {
            return Err(ConfigError::Invalid(format!(
                "currency {} is not one the simulator models",
                c.currency
            )));
        }
        if c.utc_offset_minutes.abs() >= 24 * 60 {
            return Err(ConfigError::Invalid(
                "utc offset must be within a day".into(),
            ));
        }
        let ch = &c.webhooks.chaos;
        for (name, rate) in [
            ("drop rate", ch.drop_rate),
            ("duplicate rate", ch.duplicate_rate),
            ("late rate", ch.late_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Invalid(format!(
                    "webhook chaos {name} {rate} is outside 0..=1"
                )));
            }
        }
        Ok(c)
    }
}

/// Invalid simulator configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is out of range or missing.
    #[error("invalid shopify simulator config: {0}")]
    Invalid(String),
}
