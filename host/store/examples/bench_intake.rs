//! Runs [`weft_store::bench_intake`] and prints the figures as JSON:
//! `cargo run -p weft-store --example bench_intake -- [dir] [n] [concurrency]`.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| std::env::temp_dir().display().to_string()),
    );
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let concurrency: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let bench = weft_store::bench_intake(&dir, n, concurrency).await?;
    println!("{}", serde_json::to_string(&bench)?);
    Ok(())
}
