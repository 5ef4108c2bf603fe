//! The one place platforms are registered: which platforms this build knows, which reads each
//! one's config section, and how a system's settings become a [`SystemSetup`]. Everything else about a platform lives in
//! its folder under `platforms/`; the host assembly ([`crate::app`]) speaks only to the
//! platform interface.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use weft_bigcommerce::config::{BigCommerceSection, BigCommerceSettings};
use weft_bigcommerce::{BcClient, BcConfig, BigCommerce, BigCommerceConnection, HintBus};
use weft_config::{Config, Diagnostics, PlatformSection, StoreConfig};
use weft_magento::config::{MagentoSection, MagentoSettings};
use weft_magento::{BulkSettings, Magento, MagentoConnection, MgClient, MgConfig};
use weft_netsuite::config::{NetSuiteSection, NetSuiteSettings};
use weft_netsuite::{
    Credentials, NetSuite, NetSuiteClient, NetSuiteConfig, NetSuiteConnection, NetSuiteWithPush,
    PushSettings,
};
use weft_platform::{Connection, Platform};
use weft_ratelimit::ShopifyCostLimiter;
use weft_sheets::config::{SheetsSection, SheetsSettings};
use weft_sheets::{
    QuotaLimiter, ServiceAccountKey, Sheets, SheetsClient, SheetsConnection, TokenSource,
};
use weft_shopify::config::{ShopifySection, ShopifySettings};
use weft_shopify::{Shopify, ShopifyClient, ShopifyConfig, ShopifyConnection};
use weft_woocommerce::config::{WooCommerceSection, WooCommerceSettings};
use weft_woocommerce::{WooClient, WooCommerce, WooConfig, WooConnection};

use crate::app::{Connect, SystemSetup};

/// Every platform this build knows.
pub fn registry() -> Vec<Arc<dyn Platform>> {
    vec![
        Arc::new(Shopify),
        Arc::new(NetSuite),
        Arc::new(WooCommerce),
        Arc::new(Sheets),
        Arc::new(BigCommerce::default()),
        Arc::new(Magento),
    ]
}

/// The platform named `name`.
pub fn platform(name: &str) -> Option<Arc<dyn Platform>> {
    registry().into_iter().find(|p| p.name() == name)
}

/// A Shopify shop's system: its shop domain (deliveries for another shop are refused), its
/// Admin API endpoint and token, and its webhook secrets.
pub fn shopify_system(
    name: &str,
    shop: &str,
    base_url: &str,
    api_version: &str,
    token: &str,
    webhook_secrets: Vec<Vec<u8>>,
) -> SystemSetup {
    shopify_system_reading(
        name,
        shop,
        base_url,
        api_version,
        token,
        webhook_secrets,
        ShopifyReads::default(),
    )
}

/// What a Shopify system's product reads carry besides the product itself (the system's
/// `currencies` and `collections`), and how its catalog is read in full (`bulk_*`).
#[derive(Debug, Clone, Default)]
pub struct ShopifyReads {
    /// Other currencies, each through the fixed prices of the shop's one price list in it.
    pub currencies: Vec<String>,
    /// The product's custom collections.
    pub collections: bool,
    /// The first sync's and full resyncs' read: bulk operations above a catalog size.
    pub backfill: weft_shopify::Backfill,
}

/// [`shopify_system`] whose product reads carry `reads`.
pub fn shopify_system_reading(
    name: &str,
    shop: &str,
    base_url: &str,
    api_version: &str,
    token: &str,
    webhook_secrets: Vec<Vec<u8>>,
    reads: ShopifyReads,
) -> SystemSetup {
    let (base_url, api_version, token) = (
        base_url.trim_end_matches('/').to_owned(),
        api_version.to_owned(),
        token.to_owned(),
    );
    let connect: Connect = Arc::new(move |shared| {
        let mut config = ShopifyConfig::new(&base_url, &api_version, &token);
        config.currencies = reads.currencies.clone();
        config.collections = reads.collections;
        config.backfill = reads.backfill;
        let client = ShopifyClient::new(config, ShopifyCostLimiter::new())
            .context("cannot build the Shopify client")?
            .with_breaker(shared.breaker(&format!("{}:{base_url}", weft_shopify::PLATFORM)));
        Ok(Arc::new(ShopifyConnection::new(Arc::new(client))) as Arc<dyn Connection>)
    });
    SystemSetup {
        name: name.to_owned(),
        platform: Arc::new(Shopify),
        webhook_secrets,
        account: Some(shop.to_owned()),
        connect,
    }
}

/// A BigCommerce store's system: its API base and store hash (callbacks from another store are
/// refused), its token, its plan's quota per 30 s (assumed only when answers carry no
/// rate-limit headers), and its webhook secrets (the custom header its hooks carry). The
/// system's platform value and its connection share one hint bus: the intake hands the ids of
/// thin callbacks to the connection's fetcher.
pub fn bigcommerce_system(
    name: &str,
    base_url: &str,
    store_hash: &str,
    token: &str,
    quota: u32,
    webhook_secrets: Vec<Vec<u8>>,
) -> SystemSetup {
    let bus = HintBus::new();
    let (base_url, hash, token) = (
        base_url.trim_end_matches('/').to_owned(),
        store_hash.to_owned(),
        token.to_owned(),
    );
    let secret = webhook_secrets
        .first()
        .and_then(|s| String::from_utf8(s.clone()).ok());
    let connect_bus = bus.clone();
    let connect: Connect = Arc::new(move |shared| {
        let client = BcClient::new(
            BcConfig::new(&base_url, &hash, &token),
            weft_bigcommerce::QuotaLimiter::new(weft_bigcommerce::limiter::DEFAULT_MARGIN)
                .with_fallback(quota, std::time::Duration::from_secs(30)),
        )
        .context("cannot build the BigCommerce client")?
        .with_breaker(shared.breaker(&format!("{}:{hash}", weft_bigcommerce::PLATFORM)));
        Ok(Arc::new(BigCommerceConnection::new(
            Arc::new(client),
            connect_bus.clone(),
            secret.clone(),
        )) as Arc<dyn Connection>)
    });
    SystemSetup {
        name: name.to_owned(),
        platform: Arc::new(BigCommerce::with_bus(bus)),
        webhook_secrets,
        account: Some(store_hash.to_owned()),
        connect,
    }
}

/// A Magento store view's system: the shop's base URL, its store code, an integration's access
/// token (used as a Bearer token) and how its asynchronous bulks are waited for. Magento has no
/// webhooks: its change source polls.
pub fn magento_system(
    name: &str,
    base_url: &str,
    store_code: &str,
    token: &str,
    bulk: BulkSettings,
) -> SystemSetup {
    let (base_url, store_code, token) = (
        base_url.trim_end_matches('/').to_owned(),
        store_code.to_owned(),
        token.to_owned(),
    );
    let connect: Connect = Arc::new(move |shared| {
        let client = MgClient::new(MgConfig::new(&base_url, &store_code, &token))
            .context("cannot build the Magento client")?
            .with_breaker(shared.breaker(&format!(
                "{}:{base_url}/rest/{store_code}",
                weft_magento::PLATFORM
            )));
        Ok(Arc::new(MagentoConnection::new(Arc::new(client), bulk)) as Arc<dyn Connection>)
    });
    SystemSetup {
        name: name.to_owned(),
        platform: Arc::new(Magento),
        webhook_secrets: Vec::new(),
        account: None,
        connect,
    }
}

/// A NetSuite account's system: its REST endpoint, TBA credentials and the account's
/// concurrency limit (shared by every store on the account).
pub fn netsuite_system(
    name: &str,
    store_id: &str,
    base_url: &str,
    credentials: Credentials,
    concurrency: usize,
) -> SystemSetup {
    netsuite_system_with_push(
        name,
        store_id,
        base_url,
        credentials,
        concurrency,
        ErpPush::default(),
    )
}

/// Pushes from weft's NetSuite user event script to a system.
#[derive(Debug, Clone, Default)]
pub struct ErpPush {
    /// The secrets the script signs with, the current one first (empty: pushes are off).
    pub secrets: Vec<Vec<u8>>,
    /// Change capture's relaxed interval while pushes arrive without gaps.
    pub relaxed_poll: Option<std::time::Duration>,
}

/// A NetSuite system that also takes the push script's notifications (`push`): its intake
/// verifies them and journals them as hints, which its connection's fetcher reads (the two
/// share one hint bus); change capture stays the safety net.
pub fn netsuite_system_with_push(
    name: &str,
    store_id: &str,
    base_url: &str,
    credentials: Credentials,
    concurrency: usize,
    push: ErpPush,
) -> SystemSetup {
    let (base_url, store_id) = (
        base_url.trim_end_matches('/').to_owned(),
        store_id.to_owned(),
    );
    let credentials_account = credentials.account_id.clone();
    let settings = (!push.secrets.is_empty()).then(|| {
        let mut p = PushSettings::new(weft_platform::hints::HintBus::new());
        p.relaxed_poll = push.relaxed_poll;
        p
    });
    let platform: Arc<dyn Platform> = match &settings {
        Some(p) => Arc::new(NetSuiteWithPush::new(p.bus.clone())),
        None => Arc::new(NetSuite),
    };
    let connect: Connect = Arc::new(move |shared| {
        let governor = shared
            .governors
            .get_or_create(&credentials.account_id, concurrency);
        let client = NetSuiteClient::new(
            NetSuiteConfig::new(&base_url, credentials.clone()),
            governor,
            store_id.clone(),
        )
        .context("cannot build the NetSuite client")?
        .with_breaker(shared.breaker(&format!(
            "{}:{}",
            weft_netsuite::PLATFORM,
            credentials.account_id
        )));
        let mut connection = NetSuiteConnection::new(Arc::new(client));
        if let Some(p) = &settings {
            connection = connection.with_push(p.clone());
        }
        Ok(Arc::new(connection) as Arc<dyn Connection>)
    });
    SystemSetup {
        name: name.to_owned(),
        platform,
        webhook_secrets: push.secrets,
        account: Some(credentials_account),
        connect,
    }
}

/// A WooCommerce site's system: its site URL (deliveries from another site are refused), the
/// REST API's base URL and consumer key and secret, its webhook secrets (the consumer secret
/// when none are configured: WooCommerce's default) and its request limits.
pub fn woocommerce_system(
    name: &str,
    site_url: &str,
    config: WooConfig,
    webhook_secrets: Vec<Vec<u8>>,
) -> SystemSetup {
    let webhook_secrets = if webhook_secrets.is_empty() {
        vec![config.consumer_secret.clone().into_bytes()]
    } else {
        webhook_secrets
    };
    let signing = String::from_utf8_lossy(&webhook_secrets[0]).into_owned();
    let site = site_url.trim_end_matches('/').to_owned();
    let breaker_key = format!("{}:{site}", weft_woocommerce::PLATFORM);
    let connect: Connect = Arc::new(move |shared| {
        let client = WooClient::new(config.clone())
            .context("cannot build the WooCommerce client")?
            .with_breaker(shared.breaker(&breaker_key));
        Ok(Arc::new(WooConnection::new(Arc::new(client), signing.clone())) as Arc<dyn Connection>)
    });
    SystemSetup {
        name: name.to_owned(),
        platform: Arc::new(WooCommerce),
        webhook_secrets,
        account: Some(site),
        connect,
    }
}

/// The starter store file `weft init` writes for a storefront platform (`shopify`, the
/// default, `woocommerce`, `bigcommerce` or `magento`) synced with NetSuite, and the environment variables
/// it names.
pub fn starter_store(storefront: &str) -> Result<(String, Vec<&'static str>)> {
    match storefront {
        weft_shopify::PLATFORM => Ok((
            weft_config::STARTER_STORE.to_owned(),
            weft_config::STARTER_ENV_VARS.to_vec(),
        )),
        weft_woocommerce::PLATFORM => storefront_store(
            weft_woocommerce::PLATFORM,
            "WooCommerce",
            weft_woocommerce::config::STARTER_SECTION,
            &weft_woocommerce::config::STARTER_ENV_VARS,
            "# WooCommerce keeps one stock figure per product: its NetSuite location.\nlocations = { woocommerce = \"1\" }",
            "modified_after",
        ),
        weft_bigcommerce::PLATFORM => storefront_store(
            weft_bigcommerce::PLATFORM,
            "BigCommerce",
            weft_bigcommerce::config::STARTER_SECTION,
            &weft_bigcommerce::config::STARTER_ENV_VARS,
            "# BigCommerce inventory location id -> NetSuite location id (1 is BigCommerce's default\n# location, where it takes an order's stock).\nlocations = { \"1\" = \"1\" }",
            "date_modified",
        ),
        weft_magento::PLATFORM => storefront_store(
            weft_magento::PLATFORM,
            "Magento",
            weft_magento::config::STARTER_SECTION,
            &weft_magento::config::STARTER_ENV_VARS,
            "# Magento's sources (MSI): \"<system>:<source code>\" -> NetSuite location.\nlocations = { \"magento:default\" = \"1\" }",
            "updated_at (it sends no webhooks)",
        ),
        // A Google Sheet as the catalog, price and stock source of the Shopify shop.
        weft_sheets::PLATFORM => {
            let base = weft_config::STARTER_STORE;
            let (head, rest) = base
                .split_once("[systems.netsuite]")
                .context("the starter store has no NetSuite section")?;
            let (_, tail) = rest
                .split_once("[plugins]")
                .context("the starter store has no [plugins] section")?;
            let (plugins, policy) = tail
                .split_once("\n[policy]\n")
                .context("the starter store has no [policy] section")?;
            let (_, after_policy) = policy
                .split_once("\n[stock]\n")
                .context("the starter store has no [stock] section")?;
            let text = format!(
                "{head}{}[plugins]{plugins}\n[policy]\n{SHEET_POLICY}\n[stock]\n{after_policy}",
                weft_sheets::config::STARTER_SECTION
            )
            .replace(
                "# One store: a Shopify shop kept in sync with a NetSuite account.",
                "# One store: a Google Sheet as the catalog, prices and stock of a Shopify shop.",
            )
            .replace(
                "# sku_prefix = \"WEB-\"",
                "# The shop's location (its id in Shopify) and the sheet's Stock column count one\n# location, named \"1\" here.\nlocations = { \"61000000001\" = \"1\" }\nsheet_location = \"1\"\n# A row removed from the sheet: \"archive\" (the product is archived in Shopify, never\n# deleted) or \"ignore\".\n# sheet_deleted_rows = \"archive\"",
            );
            let vars = weft_config::STARTER_ENV_VARS
                .iter()
                .copied()
                .filter(|v| v.contains("SHOPIFY"))
                .collect();
            Ok((text, vars))
        }
        other => bail!("`{other}` is not a storefront platform weft can write a starter store for"),
    }
}

/// The Shopify starter store with another storefront's section in place of Shopify's: its
/// `locations` line in the mapper's config, and its change-capture field in the comments.
fn storefront_store(
    platform: &str,
    label: &str,
    section: &str,
    vars: &[&'static str],
    locations: &str,
    watermark: &str,
) -> Result<(String, Vec<&'static str>)> {
    let base = weft_config::STARTER_STORE;
    let (head, rest) = base
        .split_once("[systems.shopify]")
        .context("the starter store has no Shopify section")?;
    let (_, tail) = rest
        .split_once("[systems.netsuite]")
        .context("the starter store has no NetSuite section")?;
    let text = format!("{head}{section}[systems.netsuite]{tail}")
        .replace(
            "# One store: a Shopify shop kept in sync with a NetSuite account.",
            &format!("# One store: a {label} store kept in sync with a NetSuite account."),
        )
        .replace(
            "# sku_prefix = \"WEB-\"",
            &format!("# sku_prefix = \"WEB-\"\n{locations}"),
        )
        .replace("= \"shopify\"\n", &format!("= \"{platform}\"\n"))
        .replace(
            "# How often Shopify is polled by updated_at",
            &format!("# How often {label} is polled by {watermark}"),
        );
    let mut out = vars.to_vec();
    out.extend(
        weft_config::STARTER_ENV_VARS
            .iter()
            .copied()
            .filter(|v| v.contains("NETSUITE")),
    );
    Ok((text, out))
}

/// The `[policy]` of the sheet starter store: the sheet is the merchant's master.
const SHEET_POLICY: &str = r#"# The sheet wins when a field changed in both places since the last sync; a change made in
# Shopify alone is taken and written back to the sheet.
default = "prefer-sheet"

# With no ERP in the store, stock has no owner: quantities are counters, so a sale in Shopify
# comes off the sheet's Stock column and a count typed in the sheet reaches Shopify, neither
# overwriting the other. (At first contact both sides' quantities add up: start with the
# products in the sheet only, or with zero stock in Shopify.)
"#;

/// A Google Sheet's system: its spreadsheet and sheet, the service-account key file (JSON
/// text), the API and token endpoints, and the account's per-minute budget (shared by every
/// store that uses the same service account).
pub fn sheets_system(name: &str, settings: &SheetsSettings, key_json: &str) -> Result<SystemSetup> {
    let key = ServiceAccountKey::from_json(key_json).map_err(|e| anyhow!("system {name}: {e}"))?;
    let (email, project_id) = (key.client_email.clone(), key.project_id.clone());
    // The key is parsed once here to fail early; the connection parses its own copy.
    let key_json = key_json.to_owned();
    let settings = settings.clone();
    let connect: Connect = Arc::new(move |shared| {
        let key = ServiceAccountKey::from_json(&key_json)
            .map_err(|e| anyhow!("cannot read the service-account key: {e}"))?;
        let http = weft_platform::http::shared_client(std::time::Duration::from_secs(60))
            .context("cannot build the Google Sheets HTTP client")?;
        let tokens = Arc::new(TokenSource::new(
            key,
            settings.token_url.as_ref().map(|u| u.to_string()),
            http.clone(),
        ));
        let limiter = QuotaLimiter::shared(
            &email,
            settings.reads_per_minute,
            settings.writes_per_minute,
        );
        let project = QuotaLimiter::shared(
            &format!("project:{project_id}"),
            weft_sheets::client::PROJECT_BUDGET,
            weft_sheets::client::PROJECT_BUDGET,
        );
        let client = SheetsClient::new(
            http,
            settings.base_url.as_str(),
            &settings.spreadsheet_id,
            tokens,
            limiter,
        )
        .with_project_limiter(project)
        .with_breaker(shared.breaker(&format!("{}:{email}", weft_sheets::PLATFORM)));
        Ok(Arc::new(SheetsConnection::new(
            Arc::new(client),
            settings.layout.clone(),
            settings.sheet.clone(),
            settings.delete_after_rounds,
        )) as Arc<dyn Connection>)
    });
    Ok(SystemSetup {
        name: name.to_owned(),
        platform: Arc::new(Sheets),
        webhook_secrets: Vec::new(),
        account: None,
        connect,
    })
}

/// Every platform's config section, for the config loader.
pub fn sections() -> Vec<&'static dyn PlatformSection> {
    vec![
        &ShopifySection,
        &NetSuiteSection,
        &WooCommerceSection,
        &SheetsSection,
        &BigCommerceSection,
        &MagentoSection,
    ]
}

/// Loads the host file and its stores with every registered platform's section reader.
pub fn load_config(host_file: impl AsRef<Path>) -> Result<Config, Diagnostics> {
    weft_config::load(host_file, &sections())
}

/// The systems a store's config describes, secrets resolved, in config order.
pub fn store_systems(store: &StoreConfig) -> Result<Vec<SystemSetup>> {
    let secret = |s: &weft_config::Secret, system: &str, what: &str| -> Result<String> {
        Ok(s.resolve()
            .with_context(|| format!("store {}: system {system}: {what}", store.id))?
            .expose()
            .to_owned())
    };
    let mut out = Vec::new();
    for sys in &store.systems {
        let name = sys.name.as_str();
        let wrong = || {
            anyhow!(
                "store {}: system {name}: settings are not those of platform `{}`",
                store.id,
                sys.platform
            )
        };
        let setup = match sys.platform.as_str() {
            weft_shopify::PLATFORM => {
                let sh = sys.settings::<ShopifySettings>().ok_or_else(wrong)?;
                shopify_system_reading(
                    name,
                    &sh.shop,
                    sh.base_url.as_str(),
                    &sh.api_version,
                    &secret(&sh.access_token, name, "access token")?,
                    sh.webhook_secrets
                        .iter()
                        .map(|s| secret(s, name, "webhook secret").map(String::into_bytes))
                        .collect::<Result<_>>()?,
                    ShopifyReads {
                        currencies: sh.currencies.clone(),
                        collections: sh.collections,
                        backfill: sh.backfill,
                    },
                )
            }
            weft_netsuite::PLATFORM => {
                let ns = sys.settings::<NetSuiteSettings>().ok_or_else(wrong)?;
                netsuite_system_with_push(
                    name,
                    &store.id,
                    ns.base_url.as_str(),
                    Credentials {
                        account_id: ns.account_id.clone(),
                        consumer_key: secret(&ns.consumer_key, name, "consumer key")?,
                        consumer_secret: secret(&ns.consumer_secret, name, "consumer secret")?,
                        token_id: secret(&ns.token_id, name, "token id")?,
                        token_secret: secret(&ns.token_secret, name, "token secret")?,
                    },
                    ns.concurrency_limit
                        .map(|l| l as usize)
                        .unwrap_or(weft_sim_netsuite::DEFAULT_CONCURRENCY_LIMIT),
                    ErpPush {
                        secrets: ns
                            .push_secrets
                            .iter()
                            .map(|s| secret(s, name, "push secret").map(String::into_bytes))
                            .collect::<Result<_>>()?,
                        relaxed_poll: ns.push_poll_interval,
                    },
                )
            }
            weft_woocommerce::PLATFORM => {
                let wc = sys.settings::<WooCommerceSettings>().ok_or_else(wrong)?;
                let mut config = WooConfig::new(
                    wc.base_url.as_str(),
                    &secret(&wc.consumer_key, name, "consumer key")?,
                    &secret(&wc.consumer_secret, name, "consumer secret")?,
                );
                config.per_page = wc.per_page;
                config.concurrency = wc.concurrency;
                config.requests_per_second = wc.requests_per_second;
                woocommerce_system(
                    name,
                    wc.site_url.as_str(),
                    config,
                    wc.webhook_secrets
                        .iter()
                        .map(|s| secret(s, name, "webhook secret").map(String::into_bytes))
                        .collect::<Result<_>>()?,
                )
            }
            weft_bigcommerce::PLATFORM => {
                let bc = sys.settings::<BigCommerceSettings>().ok_or_else(wrong)?;
                bigcommerce_system(
                    name,
                    bc.base_url.as_str(),
                    &bc.store_hash,
                    &secret(&bc.access_token, name, "access token")?,
                    bc.quota,
                    bc.webhook_secrets
                        .iter()
                        .map(|s| secret(s, name, "webhook secret").map(String::into_bytes))
                        .collect::<Result<_>>()?,
                )
            }
            weft_magento::PLATFORM => {
                let mg = sys.settings::<MagentoSettings>().ok_or_else(wrong)?;
                magento_system(
                    name,
                    mg.base_url.as_str(),
                    &mg.store_code,
                    &secret(&mg.access_token, name, "access token")?,
                    mg.bulk(),
                )
            }
            weft_sheets::PLATFORM => {
                let sh = sys.settings::<SheetsSettings>().ok_or_else(wrong)?;
                let key = secret(&sh.service_account, name, "service account key")?;
                sheets_system(name, sh, &key).with_context(|| format!("store {}", store.id))?
            }
            other => bail!(
                "store {}: system {name}: platform `{other}` is not registered in this build",
                store.id
            ),
        };
        out.push(setup);
    }
    Ok(out)
}
