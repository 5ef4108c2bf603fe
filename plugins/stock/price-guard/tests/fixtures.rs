//! Runs `fixtures/*.input.json` natively and compares with `*.expected.json`: the same files
//! `weft plugin test` runs against the Wasm component (`WEFT_BLESS=1` rewrites them).

use std::path::Path;
use weft_plugin_sdk::testing::{Harness, check_fixture_dir};

#[test]
fn fixtures_match_their_expected_outcomes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let run =
        |input: &_| Harness::new(weft_stock_price_guard::PriceGuard).run_resolver_fixture(input);
    match check_fixture_dir(&dir, run) {
        Ok(n) => assert!(n >= 1),
        Err(e) => panic!("{e}"),
    }
}
