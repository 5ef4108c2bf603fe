//! `weft sandbox`: the Shopify, NetSuite, WooCommerce, BigCommerce, Magento and Google Sheets
//! simulators, standalone, for developing plugins and connectors offline (and for trying client
//! libraries: the WooCommerce simulator takes HTTP Basic and OAuth 1.0a over plain http, the
//! BigCommerce one `X-Auth-Token`, the Magento one an integration token as a Bearer token; the
//! Sheets simulator issues a service-account key file and verifies the JWT exchange at its
//! token endpoint).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use weft_sim_netsuite::NetSuiteSim;
use weft_sim_shopify::{ChaosConfig, PlanPreset, ShopifySim, SimConfig as ShopifyConfig};

/// Flags of `weft sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address for the Shopify simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub shopify_addr: SocketAddr,
    /// Address for the NetSuite simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub netsuite_addr: SocketAddr,
    /// Address for the WooCommerce simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub woocommerce_addr: SocketAddr,
    /// Address for the BigCommerce simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub bigcommerce_addr: SocketAddr,
    /// BigCommerce plan for the store-wide request quota: standard, plus (150 per 30 s) or pro
    /// (450 per 30 s).
    #[arg(long, default_value = "standard", value_parser = parse_bc_plan)]
    pub bigcommerce_plan: weft_sim_bigcommerce::Plan,
    /// Requests other apps on the BigCommerce store spend per 30 s window (of the same quota).
    #[arg(long, default_value_t = 0)]
    pub bigcommerce_other_apps: u32,
    /// Address for the Magento simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub magento_addr: SocketAddr,
    /// Address for the Google Sheets simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub sheets_addr: SocketAddr,
    /// Seed for generated ids, credentials and chaos: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Shopify plan preset for the GraphQL cost bucket: standard, advanced, plus, enterprise.
    #[arg(long, default_value = "standard", value_parser = parse_plan)]
    pub plan: PlanPreset,
    /// Fraction of webhook deliveries silently dropped (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Fraction of webhook deliveries sent twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_rate: f64,
    /// Deliveries are held back by up to this many milliseconds, so they arrive out of order.
    #[arg(long, default_value_t = 0)]
    pub reorder_ms: u64,
    /// Fraction of deliveries also re-sent much later with the original (stale) payload.
    #[arg(long, default_value_t = 0.0)]
    pub late_rate: f64,
    /// Divide Shopify's webhook retry schedule (8 retries over 4 hours) by this factor.
    #[arg(long, default_value_t = 1.0)]
    pub time_compression: f64,
    /// NetSuite account-wide concurrency limit (requests in flight, shared by every client).
    #[arg(long, default_value_t = weft_sim_netsuite::DEFAULT_CONCURRENCY_LIMIT)]
    pub netsuite_concurrency: usize,
    /// Artificial time each NetSuite request holds a concurrency slot, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub netsuite_latency_ms: u64,
    /// Print URLs and credentials as one JSON object on the first line of stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_plan(s: &str) -> Result<PlanPreset, String> {
    PlanPreset::parse(s)
        .ok_or_else(|| format!("unknown plan `{s}`: use standard, advanced, plus or enterprise"))
}

fn parse_bc_plan(s: &str) -> Result<weft_sim_bigcommerce::Plan, String> {
    match s {
        "standard" => Ok(weft_sim_bigcommerce::Plan::Standard),
        "plus" => Ok(weft_sim_bigcommerce::Plan::Plus),
        "pro" => Ok(weft_sim_bigcommerce::Plan::Pro),
        other => Err(format!(
            "unknown BigCommerce plan `{other}`: use standard, plus or pro"
        )),
    }
}

/// Runs the simulators until Ctrl-C.
pub async fn run(args: SandboxArgs) -> Result<()> {
    for (name, rate) in [
        ("--drop-rate", args.drop_rate),
        ("--duplicate-rate", args.duplicate_rate),
        ("--late-rate", args.late_rate),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&rate),
            "{name} must be between 0 and 1, got {rate}"
        );
    }
    let shopify_cfg = ShopifyConfig::builder()
        .seed(args.seed)
        .plan(args.plan)
        .chaos(ChaosConfig {
            drop_rate: args.drop_rate,
            duplicate_rate: args.duplicate_rate,
            reorder_window_ms: args.reorder_ms,
            late_rate: args.late_rate,
            ..ChaosConfig::default()
        })
        .time_compression(args.time_compression)
        .build()
        .context("invalid Shopify simulator settings")?;
    let shopify = ShopifySim::new(shopify_cfg);
    let mut ns_cfg = weft_sim_netsuite::SimConfig::new(args.seed);
    ns_cfg.concurrency_limit = args.netsuite_concurrency;
    ns_cfg.latency = std::time::Duration::from_millis(args.netsuite_latency_ms);
    let netsuite = NetSuiteSim::new(ns_cfg).context("invalid NetSuite simulator settings")?;

    let shopify_listener = tokio::net::TcpListener::bind(args.shopify_addr)
        .await
        .with_context(|| format!("cannot listen on {} for Shopify", args.shopify_addr))?;
    let netsuite_listener = tokio::net::TcpListener::bind(args.netsuite_addr)
        .await
        .with_context(|| format!("cannot listen on {} for NetSuite", args.netsuite_addr))?;
    let mut woo_cfg = weft_sim_woocommerce::SimConfig {
        seed: args.seed,
        ..weft_sim_woocommerce::SimConfig::default()
    };
    woo_cfg.webhooks.chaos = weft_sim_woocommerce::ChaosConfig {
        drop_rate: args.drop_rate,
        duplicate_rate: args.duplicate_rate,
        reorder_window_ms: args.reorder_ms,
        delay_rate: args.late_rate,
        ..weft_sim_woocommerce::ChaosConfig::default()
    };
    let woo = weft_sim_woocommerce::WooSim::new(woo_cfg)
        .context("invalid WooCommerce simulator settings")?;
    let woo_listener = tokio::net::TcpListener::bind(args.woocommerce_addr)
        .await
        .with_context(|| format!("cannot listen on {} for WooCommerce", args.woocommerce_addr))?;
    let woo_handle = woo.serve(woo_listener).await?;
    let mut bc_quota = weft_sim_bigcommerce::QuotaConfig::plan(args.bigcommerce_plan);
    anyhow::ensure!(
        args.bigcommerce_other_apps <= bc_quota.requests_per_window,
        "--bigcommerce-other-apps cannot exceed the plan's {} requests per window",
        bc_quota.requests_per_window
    );
    bc_quota.background_per_window = args.bigcommerce_other_apps;
    let mut bc_cfg = weft_sim_bigcommerce::SimConfig {
        seed: args.seed,
        quota: bc_quota,
        ..weft_sim_bigcommerce::SimConfig::default()
    };
    bc_cfg.webhooks.chaos = weft_sim_bigcommerce::ChaosConfig {
        drop_rate: args.drop_rate,
        duplicate_rate: args.duplicate_rate,
        reorder_window: std::time::Duration::from_millis(args.reorder_ms),
    };
    let bc = weft_sim_bigcommerce::BcSim::new(bc_cfg)
        .context("invalid BigCommerce simulator settings")?;
    let bc_listener = tokio::net::TcpListener::bind(args.bigcommerce_addr)
        .await
        .with_context(|| format!("cannot listen on {} for BigCommerce", args.bigcommerce_addr))?;
    let bc_handle = bc.serve(bc_listener).await?;
    let magento = weft_sim_magento::MagentoSim::new(weft_sim_magento::SimConfig {
        seed: args.seed,
        ..weft_sim_magento::SimConfig::default()
    });
    let magento_listener = tokio::net::TcpListener::bind(args.magento_addr)
        .await
        .with_context(|| format!("cannot listen on {} for Magento", args.magento_addr))?;
    let magento_handle = magento.serve(magento_listener).await?;
    let mcfg = magento.config();
    let sheets = weft_sim_sheets::SheetsSim::new(weft_sim_sheets::SimConfig {
        seed: args.seed,
        ..weft_sim_sheets::SimConfig::default()
    });
    let sheets_listener = tokio::net::TcpListener::bind(args.sheets_addr)
        .await
        .with_context(|| format!("cannot listen on {} for Google Sheets", args.sheets_addr))?;
    let sheets_handle = sheets.serve(sheets_listener).await?;
    let book = sample_sheet(&sheets)?;
    let key_file = sheets.service_account_json(None).unwrap_or_default();
    let shopify_handle = shopify.serve(shopify_listener).await?;
    let netsuite_handle = netsuite.serve(netsuite_listener).await?;

    let scfg = shopify.config();
    let version = scfg.api_versions.last().cloned().unwrap_or_default();
    let info = json!({
        "shopify": {
            "base_url": shopify_handle.base_url,
            "graphql_url": format!("{}/admin/api/{}/graphql.json", shopify_handle.base_url, version),
            "shop_domain": scfg.shop_domain,
            "api_versions": scfg.api_versions,
            "access_token": scfg.access_tokens.first(),
            "client_secret": scfg.client_secrets.first(),
            "plan": { "maximum_available": scfg.maximum_available, "restore_rate": scfg.restore_rate },
        },
        "netsuite": {
            "base_url": netsuite_handle.base_url(),
            "account_id": netsuite.account_id(),
            "concurrency_limit": netsuite.config().concurrency_limit,
            "credentials": netsuite.credentials().iter().map(|c| json!({
                "realm": c.realm,
                "consumer_key": c.consumer_key,
                "consumer_secret": c.consumer_secret,
                "token_id": c.token_id,
                "token_secret": c.token_secret,
            })).collect::<Vec<_>>(),
        },
        "woocommerce": {
            "site_url": woo_handle.base_url,
            "api_url": format!("{}/wp-json/wc/v3", woo_handle.base_url),
            "consumer_key": weft_sim_woocommerce::DEFAULT_KEY,
            "consumer_secret": weft_sim_woocommerce::DEFAULT_SECRET,
            "read_only_consumer_key": weft_sim_woocommerce::READ_ONLY_KEY,
            "read_only_consumer_secret": weft_sim_woocommerce::READ_ONLY_SECRET,
        },
        "bigcommerce": {
            "base_url": bc_handle.base_url,
            "api_url": bc_handle.api_root(&bc.config().store_hash),
            "store_hash": bc.config().store_hash,
            "access_token": bc.config().tokens.first(),
            "quota": { "requests_per_window": bc.config().quota.requests_per_window,
                       "window_ms": bc.config().quota.window.as_millis() as u64,
                       "other_apps_per_window": bc.config().quota.background_per_window },
        },
        "magento": {
            "base_url": magento_handle.base_url,
            "api_url": magento_handle.api_root(&mcfg.store_code),
            "store_code": mcfg.store_code,
            "access_token": mcfg.tokens.first(),
        },
        "sheets": {
            "base_url": sheets_handle.base_url,
            "token_url": sheets.token_url(),
            "spreadsheet_id": book,
            "sheet": crate_sheet_tab(),
            "service_account": key_file,
        },
        "seed": args.seed,
    });
    if args.json {
        weft::outln!("{}", serde_json::to_string(&info)?);
    } else {
        weft::outln!(
            "weft sandbox (seed {}): simulators are up. Ctrl-C stops them.",
            args.seed
        );
        weft::outln!();
        weft::outln!(
            "Shopify   {}",
            info["shopify"]["graphql_url"].as_str().unwrap_or("")
        );
        weft::outln!("  shop domain    {}", scfg.shop_domain);
        weft::outln!("  access token   {}", info["shopify"]["access_token"]);
        weft::outln!(
            "  client secret  {}  (webhook HMAC key)",
            info["shopify"]["client_secret"]
        );
        weft::outln!("  merchant API   {}/_sim/...", shopify_handle.base_url);
        weft::outln!();
        weft::outln!("NetSuite  {}/services/rest/", netsuite_handle.base_url());
        weft::outln!("  account        {}", netsuite.account_id());
        for c in netsuite.credentials() {
            weft::outln!("  consumer key   {}", c.consumer_key);
            weft::outln!("  consumer secret {}", c.consumer_secret);
            weft::outln!("  token id       {}", c.token_id);
            weft::outln!("  token secret   {}", c.token_secret);
        }
        weft::outln!("  ERP activity   {}/_sim/...", netsuite_handle.base_url());
        weft::outln!();
        weft::outln!("WooCommerce {}/wp-json/wc/v3", woo_handle.base_url);
        weft::outln!("  consumer key    {}", weft_sim_woocommerce::DEFAULT_KEY);
        weft::outln!(
            "  consumer secret {}  (also the default webhook secret)",
            weft_sim_woocommerce::DEFAULT_SECRET
        );
        weft::outln!("  auth           HTTP Basic, or OAuth 1.0a over plain http");
        weft::outln!("  merchant API   {}/_sim/...", woo_handle.base_url);
        weft::outln!();
        weft::outln!(
            "BigCommerce {}/v3/",
            info["bigcommerce"]["api_url"].as_str().unwrap_or("")
        );
        weft::outln!("  store hash     {}", bc.config().store_hash);
        weft::outln!(
            "  access token   {}  (X-Auth-Token)",
            info["bigcommerce"]["access_token"]
        );
        weft::outln!(
            "  quota          {} requests per 30 s, {} of them spent by other apps",
            bc.config().quota.requests_per_window,
            bc.config().quota.background_per_window
        );
        weft::outln!("  merchant API   {}/_sim/...", bc_handle.base_url);
        weft::outln!();
        weft::outln!(
            "Magento   {}/V1/...",
            magento_handle.api_root(&mcfg.store_code)
        );
        weft::outln!(
            "  access token   {}  (an integration token, as a Bearer token)",
            info["magento"]["access_token"]
        );
        weft::outln!("  bulk API       .../async/bulk/V1/products, .../inventory/source-items");
        weft::outln!("  merchant API   {}/_sim/...", magento_handle.base_url);
        weft::outln!();
        weft::outln!(
            "Google Sheets {}/v4/spreadsheets/{book}",
            sheets_handle.base_url
        );
        weft::outln!(
            "  sheet          {} (SKU, Title, Description, Price, Compare at price, Stock, Active)",
            crate_sheet_tab()
        );
        weft::outln!("  token endpoint {}", sheets.token_url());
        weft::outln!(
            "  key file       {}",
            serde_json::to_string(&info["sheets"]["service_account"])?
        );
        weft::outln!("  person API     {}/_sim/...", sheets_handle.base_url);
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    shopify_handle.shutdown().await;
    woo_handle.shutdown().await;
    bc_handle.shutdown().await;
    magento_handle.shutdown().await;
    sheets_handle.shutdown().await;
    netsuite_handle.shutdown().await?;
    Ok(())
}

fn crate_sheet_tab() -> &'static str {
    weft::demo_sheet::TAB
}

/// A spreadsheet laid out as weft's sheet connector expects, with a few products.
fn sample_sheet(sheets: &weft_sim_sheets::SheetsSim) -> Result<String> {
    let tab = weft::demo_sheet::TAB;
    let book = sheets.create_spreadsheet("Catalog", &[(tab, 200, 12)]);
    let rows: Vec<Vec<&str>> = vec![
        vec![
            "SKU",
            "Title",
            "Description",
            "Price",
            "Compare at price",
            "Stock",
            "Active",
        ],
        vec![
            "MUG-1",
            "Mug",
            "Stoneware, 300 ml",
            "8.50",
            "",
            "25",
            "TRUE",
        ],
        vec!["CAP-1", "Cap", "Cotton", "12.00", "15.00", "10", "TRUE"],
        vec!["TEE-1", "Tee", "Organic cotton", "19.90", "", "40", "TRUE"],
    ];
    sheets
        .type_values(&book, &format!("{tab}!A1"), &rows)
        .map_err(|e| anyhow::anyhow!("cannot write the sample sheet: {e:?}"))?;
    Ok(book)
}
