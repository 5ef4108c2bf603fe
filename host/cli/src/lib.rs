//! The `weft` product around the engine: host assembly and the demo, shared by the binary and
//! the end-to-end tests.
//!
//! # Layout
//! - [`app`]: builds a running host (stores' loops, webhook intake, metrics) from resolved setups.
//! - [`demo`]: `weft demo`, the whole job on simulators with a verification report;
//!   [`demo_storefront`] what the other storefronts' demos share, [`demo_woo`] and [`demo_bc`]
//!   their WooCommerce and BigCommerce stores (`--storefront woocommerce|bigcommerce`);
//!   [`demo_push`] the NetSuite push script in the demos;
//!   [`demo_sheet`] a Google Sheet as the source of a Shopify shop (`--source sheet`).
//! - [`run`]: `weft run` and `weft replay`, driven by the configuration files; [`cluster`]:
//!   several hosts on one database (store leases, fencing, balancing, hand-back).
//! - [`platforms`]: the one place platforms are registered, and how their config sections
//!   become systems.
//! - [`ops`], [`explain`], [`plugin`]: operator and plugin-developer commands; [`console`]: what
//!   the web console needs from the host (its token, replay previews, `weft replay --dry-run`).
//! - [`out`]: printing that ends quietly when stdout's reader closes the pipe ([`outln!`]).

pub mod app;
pub mod bench_backfill;
pub mod bench_lag;
pub mod bench_stores;
pub mod bench_world;
pub mod cluster;
pub mod console;
pub mod deletes;
pub mod demo;
pub mod demo_bc;
pub mod demo_magento;
pub mod demo_push;
pub mod demo_sheet;
pub mod demo_storefront;
pub mod demo_woo;
pub mod explain;
pub mod ops;
pub mod out;
pub mod platforms;
pub mod plugin;
pub mod plugin_bench;
pub mod plugin_dev;
pub mod privacy;
pub mod proposals;
pub mod run;
