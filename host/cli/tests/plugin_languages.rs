//! Plugins in Rust, Python and JavaScript through the real binary:
//!
//! - the worked example `title-price` passes the same fixtures in all three languages;
//! - `weft plugin new x --lang python|js|rust` -> `weft plugin build` -> `weft plugin check` ->
//!   `weft plugin test` is green as written;
//! - a missing toolchain is named in one line;
//! - a Python guest loads and maps with the default runtime config and limits (pooling slots,
//!   component size, compile budget, fuel), twice with byte-identical output.
//!
//! Python and JavaScript toolchains are installed the way the READMEs say (`pip install
//! componentize-py==...`, `npm install`); when that is impossible the test prints `SKIPPED:`
//! and what is missing, and returns.

mod common_lang;

use std::path::Path;

use common_lang::{build, cache, js, npm_install, ok, python, root, weft};
use weft_runtime::bench::sample_products;
use weft_runtime::{Limits, Runtime, RuntimeConfig, StoreCtx};

fn example(lang: &str) -> std::path::PathBuf {
    root().join("plugins/examples/title-price").join(lang)
}

fn fixtures() -> String {
    root()
        .join("plugins/examples/title-price/fixtures")
        .to_string_lossy()
        .into_owned()
}

fn test_fixtures(what: &str, component: &Path) {
    let o = weft(
        &["plugin", "test", component.to_str().unwrap(), &fixtures()],
        &[],
    );
    let out = ok(&format!("weft plugin test ({what})"), &o);
    assert!(out.contains("ok    writes"), "{what}: {out}");
    println!("{what}:\n{out}");
}

#[test]
fn title_price_passes_the_same_fixtures_in_rust() {
    test_fixtures(
        "rust",
        Path::new(weft_plugin_artifacts::EXAMPLE_TITLE_PRICE),
    );
}

#[test]
fn title_price_passes_the_same_fixtures_in_python() {
    if let Err(skip) = python() {
        println!("{skip}");
        return;
    }
    let wasm = build(&example("python"), "title-price-python", &[]);
    test_fixtures("python", &wasm);
}

#[test]
fn title_price_passes_the_same_fixtures_in_javascript() {
    let toolchain = match js() {
        Ok(t) => t,
        Err(skip) => {
            println!("{skip}");
            return;
        }
    };
    let wasm = build(
        &example("js"),
        "title-price-js",
        &[("WEFT_JS_TOOLCHAIN", &toolchain)],
    );
    test_fixtures("javascript", &wasm);
}

/// new -> build -> check -> test, as the generated README says.
fn new_project_loop(lang: &str, prepare: impl FnOnce(&Path) -> Result<(), String>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    let d = dir.to_str().unwrap();
    ok(
        "weft plugin new",
        &weft(&["plugin", "new", "x", "--lang", lang, "--dir", d], &[]),
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for step in [
        "weft plugin build",
        "weft plugin check build/plugin.wasm",
        "weft plugin test build/plugin.wasm fixtures/",
        "weft sandbox",
    ] {
        assert!(readme.contains(step), "{lang} README lacks `{step}`");
    }
    if let Err(skip) = prepare(&dir) {
        println!("{skip}");
        return;
    }
    // A Rust project shares one target directory across runs so its dependencies build once.
    let rust_target = cache().join("plugin-new-rust-target");
    let envs: Vec<(&str, &Path)> = if lang == "rust" {
        vec![("CARGO_TARGET_DIR", rust_target.as_path())]
    } else {
        vec![]
    };
    let o = common_lang::weft(&["plugin", "build", d], &envs);
    ok(&format!("weft plugin build ({lang})"), &o);
    let wasm = dir.join("build/plugin.wasm");
    let w = wasm.to_str().unwrap();
    let check = ok("weft plugin check", &weft(&["plugin", "check", w], &[]));
    assert!(check.contains("role      Mapper"), "{check}");
    let fx = dir.join("fixtures");
    let test = ok(
        "weft plugin test",
        &weft(&["plugin", "test", w, fx.to_str().unwrap()], &[]),
    );
    assert!(
        test.contains("ok    products") && test.contains("ok    writes"),
        "{test}"
    );
    println!("{lang}: new -> build -> check -> test green\n{check}\n{test}");
}

#[test]
fn plugin_new_python_builds_checks_and_tests_green() {
    new_project_loop("python", |_| python());
}

#[test]
fn plugin_new_js_builds_checks_and_tests_green() {
    new_project_loop("js", |dir| {
        if !std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Err("SKIPPED: Node.js is not installed".into());
        }
        // As the README says: `npm install` in the project.
        npm_install(dir)
    });
}

#[test]
fn plugin_new_rust_builds_checks_and_tests_green() {
    new_project_loop("rust", |_| Ok(()));
}

#[test]
fn a_missing_toolchain_is_named_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    // An empty PATH: no componentize-py, no node, no cargo.
    let empty = tmp.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    for (lang, says) in [
        ("python", "pip install componentize-py==0.25.1"),
        ("js", "Node.js is not installed"),
        ("rust", "Rust is not installed"),
    ] {
        let dir = tmp.path().join(lang);
        ok(
            "weft plugin new",
            &weft(
                &[
                    "plugin",
                    "new",
                    "x",
                    "--lang",
                    lang,
                    "--dir",
                    dir.to_str().unwrap(),
                ],
                &[],
            ),
        );
        let o = weft(
            &["plugin", "build", dir.to_str().unwrap()],
            &[("PATH", empty.as_path())],
        );
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{lang}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{lang}: {err}");
        assert!(err.contains(says), "{lang}: {err}");
        println!("{lang}: {}", err.trim());
    }
    // Node.js present but componentize-js not installed in the project: `npm install`.
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let dir = tmp.path().join("js");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["plugin", "build", dir.to_str().unwrap()])
            .env_remove("WEFT_JS_TOOLCHAIN")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("run `npm install`"), "{err}");
    }
}

#[test]
fn a_python_plugin_runs_with_the_default_limits_and_is_deterministic() {
    if let Err(skip) = python() {
        println!("{skip}");
        return;
    }
    let wasm = build(&example("python"), "title-price-python-defaults", &[]);
    let bytes = std::fs::read(&wasm).unwrap();
    // The defaults a store gets: no limit raised for the interpreter.
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime starts");
    let plugin = rt.load("title-price-python", &bytes).expect("loads");
    let mapper = rt
        .mapper(
            &plugin,
            StoreCtx {
                store_id: "py".into(),
                config: serde_json::from_value(
                    serde_json::json!({"sku_prefix": "WEB-", "title_field": "custitem_web_title"}),
                )
                .unwrap(),
                limits: Limits::default(),
            },
        )
        .unwrap();
    let docs = sample_products(100);
    let a = mapper
        .to_canonical(&docs)
        .expect("a 100-product batch maps");
    let b = mapper.to_canonical(&docs).expect("twice");
    assert_eq!(a.len(), 100);
    assert_eq!(
        serde_json::to_vec(&a).unwrap(),
        serde_json::to_vec(&b).unwrap(),
        "the same batch twice gives byte-identical output"
    );
    println!(
        "python component {} bytes; load {:?}",
        bytes.len(),
        plugin.load_time()
    );
}
