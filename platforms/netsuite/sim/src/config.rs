//! Simulator configuration: account, integrations and tokens, concurrency limit, latency, clock.

use crate::error::ConfigError;
use crate::oauth1::Credentials;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::time::Duration;

/// Default concurrency limit: shared (standard) tier 5 + one SuiteCloud Plus licence 10.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 15;

/// One access token of an integration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenConfig {
    /// Token id (`oauth_token`).
    pub token_id: String,
    /// Token secret.
    pub token_secret: String,
}

/// One integration record (an OAuth consumer) with its tokens.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IntegrationConfig {
    /// Name shown in inspection (e.g. `weft`, `celigo`).
    pub name: String,
    /// Consumer key.
    pub consumer_key: String,
    /// Consumer secret.
    pub consumer_secret: String,
    /// Access tokens issued for this integration.
    pub tokens: Vec<TokenConfig>,
}

/// Everything that shapes one simulated NetSuite account.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed for generated credentials, catalogues and random ERP activity.
    pub seed: u64,
    /// Account id, e.g. `1234567` or the sandbox form `1234567_SB1`; the OAuth `realm` must equal it.
    pub account_id: String,
    /// Integrations (consumers) and their tokens; all share the account's concurrency limit.
    pub integrations: Vec<IntegrationConfig>,
    /// Account-wide limit of requests in flight.
    pub concurrency_limit: usize,
    /// Artificial time each REST request takes while holding a concurrency slot.
    pub latency: Duration,
    /// Wall time the simulated clock starts at (`None`: the real time at start).
    pub base_time: Option<DateTime<Utc>>,
    /// Names of the seeded locations (ids 1, 2, ...).
    pub locations: Vec<String>,
    /// Largest accepted difference between `oauth_timestamp` and the simulator's clock.
    pub timestamp_tolerance: Duration,
    /// Request-log entries kept (oldest dropped first).
    pub request_log_capacity: usize,
}

fn hex_secret(rng: &mut ChaCha8Rng) -> String {
    (0..32)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// A generated integration with `tokens` tokens, from `rng`.
fn generated_integration(name: &str, tokens: usize, rng: &mut ChaCha8Rng) -> IntegrationConfig {
    IntegrationConfig {
        name: name.to_owned(),
        consumer_key: hex_secret(rng),
        consumer_secret: hex_secret(rng),
        tokens: (0..tokens.max(1))
            .map(|_| TokenConfig {
                token_id: hex_secret(rng),
                token_secret: hex_secret(rng),
            })
            .collect(),
    }
}

impl SimConfig {
    /// Account `1234567`, one integration `weft` with one token (secrets derived from the
    /// seed), limit 15, no latency, three locations.
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_7473_7569_7465);
        Self {
            seed,
            account_id: "1234567".to_owned(),
            integrations: vec![generated_integration("weft", 1, &mut rng)],
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            latency: Duration::ZERO,
            base_time: None,
            locations: vec![
                "Main Warehouse".to_owned(),
                "East Coast DC".to_owned(),
                "Retail Store".to_owned(),
            ],
            timestamp_tolerance: Duration::from_secs(300),
            request_log_capacity: 100_000,
        }
    }

    /// Adds a generated integration named `name` with `tokens` tokens (deterministic per seed
    /// and call order).
    pub fn with_integration(mut self, name: &str, tokens: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ (self.integrations.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        self.integrations
            .push(generated_integration(name, tokens, &mut rng));
        self
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.account_id.is_empty()
            || !self
                .account_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConfigError::BadAccountId(self.account_id.clone()));
        }
        if self.integrations.is_empty() || self.integrations.iter().any(|i| i.tokens.is_empty()) {
            return Err(ConfigError::NoIntegrations);
        }
        if self.concurrency_limit == 0 {
            return Err(ConfigError::ZeroConcurrency);
        }
        let mut keys = HashSet::new();
        let mut tokens = HashSet::new();
        for i in &self.integrations {
            if !keys.insert(&i.consumer_key) {
                return Err(ConfigError::Duplicate {
                    kind: "consumer key",
                    id: i.consumer_key.clone(),
                });
            }
            for t in &i.tokens {
                if !tokens.insert(&t.token_id) {
                    return Err(ConfigError::Duplicate {
                        kind: "token id",
                        id: t.token_id.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// One [`Credentials`] per (integration, token), in configuration order.
    pub fn credentials(&self) -> Vec<Credentials> {
        self.integrations
            .iter()
            .flat_map(|i| {
                i.tokens.iter().map(|t| Credentials {
                    realm: self.account_id.clone(),
                    consumer_key: i.consumer_key.clone(),
                    consumer_secret: i.consumer_secret.clone(),
                    token_id: t.token_id.clone(),
                    token_secret: t.token_secret.clone(),
                })
            })
            .collect()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::new(0)
    }
}
