//! Runs every `fixtures/<name>.input.json` natively through the SDK harness and compares the
//! outcomes with `<name>.expected.json`, the same files `weft plugin test` runs against the
//! Wasm component. `WEFT_BLESS=1 cargo test --test fixtures` rewrites the expected files.

use std::path::Path;
use weft_plugin_sdk::testing::{Harness, check_fixture_dir};
use weft_stock_shopify_netsuite::ShopifyNetsuite;

#[test]
fn fixtures_match_their_expected_outcomes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let run = |input: &_| Harness::new(ShopifyNetsuite).run_mapper_fixture(input);
    match check_fixture_dir(&dir, run) {
        Ok(n) => assert!(n >= 8, "only {n} fixtures"),
        Err(e) => panic!("{e}"),
    }
}
