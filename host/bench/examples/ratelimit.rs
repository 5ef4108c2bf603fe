//! Runs `weft bench ratelimit` with the default (issue 5) scenario and prints the figures, the
//! JSON object last. Options: `--items N`, `--changes-per-item N`, `--naive-secs N`,
//! `--stores N`, `--ops N` (the CLI's `weft bench ratelimit` wraps the same library call).

use std::time::Duration;

use weft_bench::{RatelimitOptions, ratelimit};

fn arg(args: &[String], name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mut opts = RatelimitOptions::default();
    if let Some(n) = arg(&args, "--items") {
        opts.shopify.items = n as usize;
    }
    if let Some(n) = arg(&args, "--changes-per-item") {
        opts.shopify.changes_per_item = n as usize;
    }
    if let Some(n) = arg(&args, "--naive-secs") {
        opts.shopify.naive_budget = Duration::from_secs(n);
    }
    if let Some(n) = arg(&args, "--stores") {
        opts.netsuite.stores = n as usize;
    }
    if let Some(n) = arg(&args, "--ops") {
        opts.netsuite.ops_per_store = n as usize;
    }
    let bench = ratelimit(opts).await?;
    println!("{bench}");
    println!("{}", serde_json::to_string(&bench)?);
    Ok(())
}
