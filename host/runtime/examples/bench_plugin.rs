//! Runs the plugin benchmark on the stock Shopify <-> NetSuite mapper (what `weft bench plugin`
//! prints): `cargo run --release -p weft-runtime --example bench_plugin [-- --json] [--quick]`.

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    let bytes = weft_plugin_artifacts::stock("shopify-netsuite")
        .expect("the stock shopify-netsuite plugin is built")
        .to_vec();
    let mut opts = weft_runtime::bench::BenchOptions::stock_shopify_netsuite(bytes);
    if quick {
        opts.iterations = 50;
        opts.throughput_docs = 5_000;
        opts.stores = 100;
    }
    match weft_runtime::bench::run(opts) {
        Ok(b) => {
            println!("{b}");
            if json {
                println!("{}", serde_json::to_string(&b).expect("serializable"));
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
