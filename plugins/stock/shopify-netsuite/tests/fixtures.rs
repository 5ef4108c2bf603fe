//! Runs every `fixtures/<name>.input.json` natively through the SDK harness and compares the
//! outcomes with `<name>.expected.json`, the same files `weft plugin test` runs against the
//! Wasm component. `WEFT_BLESS=1 cargo test --test fixtures` rewrites the expected files.

use serde_json::Value;
use std::path::Path;
use weft_plugin_sdk::testing::Harness;
use weft_stock_shopify_netsuite::ShopifyNetsuite;

#[test]
fn fixtures_match_their_expected_outcomes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let bless = std::env::var_os("WEFT_BLESS").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".input.json"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 8, "fixtures missing: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let input: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.input.json"))).unwrap(),
        )
        .unwrap();
        let actual = Harness::new(ShopifyNetsuite)
            .run_mapper_fixture(&input)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected_path = dir.join(format!("{name}.expected.json"));
        if bless {
            let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap();
        if expected != actual {
            failures.push(format!(
                "{name}:\nexpected {}\n  actual {}",
                serde_json::to_string_pretty(&expected).unwrap(),
                serde_json::to_string_pretty(&actual).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
