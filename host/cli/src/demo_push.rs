//! ERP pushes in the demos: each simulated NetSuite account runs weft's push script
//! (`platforms/netsuite/suitescript/weft_push.js`) against the demo host, with the storefront
//! webhooks' chaos (the same drop, duplicate and reorder settings), and weft's NetSuite system
//! takes them as hints; change capture stays the safety net. `--no-erp-push` turns them off.

use std::time::Duration;

use weft_sim_netsuite::{NetSuiteSim, PushConfig};

use crate::app::SystemSetup;
use crate::demo::{DemoOptions, DemoReport};
use crate::platforms::{self, ErpPush};

/// The secret the demo's simulated script signs with.
pub const SECRET: &str = "demo-netsuite-push-secret";

/// The demo store's NetSuite system, taking pushes when `opts.erp_push`.
pub fn netsuite_system(
    opts: &DemoOptions,
    store_id: &str,
    base_url: &str,
    credentials: weft_netsuite::Credentials,
    concurrency: usize,
) -> SystemSetup {
    platforms::netsuite_system_with_push(
        weft_netsuite::PLATFORM,
        store_id,
        base_url,
        credentials,
        concurrency,
        ErpPush {
            secrets: if opts.erp_push {
                vec![SECRET.as_bytes().to_vec()]
            } else {
                Vec::new()
            },
            relaxed_poll: None,
        },
    )
}

/// Deploys the push script in `sim`, posting to the demo host at `addr`.
pub fn deploy(opts: &DemoOptions, sim: &NetSuiteSim, addr: std::net::SocketAddr, store_id: &str) {
    if !opts.erp_push {
        return;
    }
    sim.push_to(PushConfig {
        drop_rate: opts.drop_rate,
        duplicate_rate: opts.duplicate_rate,
        reorder_window_ms: opts.reorder_ms,
        connect_timeout: Duration::from_secs(5),
        ..PushConfig::new(
            format!(
                "http://{addr}/webhooks/{}/{store_id}",
                weft_netsuite::PLATFORM
            ),
            SECRET,
        )
    });
}

/// Adds what the store's script did, and what change capture recovered that it missed, to
/// the report.
pub fn report(
    report: &mut DemoReport,
    sim: &NetSuiteSim,
    counters: &std::collections::BTreeMap<String, i64>,
) {
    report.erp_push = report.erp_push || sim.push_stats().saves > 0;
    let s = sim.push_stats();
    report.erp_pushes += s.saves;
    report.erp_pushes_dropped += s.dropped;
    report.erp_pushes_duplicated += s.duplicated;
    report.erp_pushes_reordered += s.reordered;
    report.erp_push_recovered += counters.get("recovered_push").copied().unwrap_or(0);
}
