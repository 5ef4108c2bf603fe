//! Runs [`weft_bench::bench_http_intake`] and prints its figures as one JSON object.
//!
//! `cargo run -p weft-server --example http_intake_bench -- [requests] [concurrency] [dir]`

use weft_bench::{IntakeHttpBenchOptions, bench_http_intake};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut opts = IntakeHttpBenchOptions::default();
    if let Some(n) = args.next() {
        opts.requests = n.parse()?;
    }
    if let Some(c) = args.next() {
        opts.concurrency = c.parse()?;
    }
    opts.dir = args.next().map(Into::into);
    let figures = bench_http_intake(opts).await?;
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}
