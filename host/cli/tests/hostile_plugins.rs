//! `weft plugin check` and `weft plugin test` on the hostile panic, memory-growth and
//! stdio-writer components, through the real binary: each ends in a clean exit with a clear
//! message, never in a crash (exit 101, "Cannot start a runtime from within a runtime"), and
//! nothing a plugin writes reaches weft's own stdout.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use weft_plugin_artifacts as artifacts;

fn weft(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("WEFT_CACHE_DIR", cache)
        .output()
        .expect("run weft")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_no_crash(what: &str, o: &Output) {
    let (out, err) = text(o);
    assert_ne!(o.status.code(), Some(101), "{what} crashed:\n{out}\n{err}");
    assert!(o.status.code().is_some(), "{what} was killed by a signal");
    assert!(
        !err.contains("Cannot start a runtime") && !err.contains("panicked at"),
        "{what}: {err}"
    );
    assert!(
        !out.contains("from hostile stdio-writer") && !err.contains("from hostile stdio-writer"),
        "{what}: the plugin's own output reached weft's streams"
    );
}

/// One fixture expecting each document back as one record.
fn fixtures(dir: &Path) {
    let input = json!({
        "call": "to-canonical",
        "input": [{"system": "shopify", "kind": "Product", "id": "1",
                   "version": "2026-11-01T10:00:00Z", "body": {"id": "1", "title": "A"}}],
    });
    let expected =
        json!([{"Mapped": [{"kind": "Product", "key": "1", "fields": {"id": "1", "title": "A"}}]}]);
    std::fs::write(dir.join("echo.input.json"), input.to_string()).unwrap();
    std::fs::write(dir.join("echo.expected.json"), expected.to_string()).unwrap();
}

#[test]
fn plugin_check_and_test_on_hostile_components_exit_cleanly() {
    let cache = tempfile::tempdir().unwrap();
    let fixture_dir = tempfile::tempdir().unwrap();
    fixtures(fixture_dir.path());
    let fx = fixture_dir.path().to_str().unwrap();

    for (component, says) in [
        (artifacts::HOSTILE_PANIC, "panicked on purpose"),
        (artifacts::HOSTILE_MEMORY_GROWTH, "memory limit"),
    ] {
        let o = weft(&["plugin", "check", component], cache.path());
        assert_no_crash("plugin check", &o);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "check {component}:\n{out}\n{err}");
        assert!(err.contains(says), "check {component}: {err}");
        println!("weft plugin check {component} -> exit 1: {}", err.trim());

        let o = weft(&["plugin", "test", component, fx], cache.path());
        assert_no_crash("plugin test", &o);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "test {component}:\n{out}\n{err}");
        assert!(
            out.contains("FAIL  echo") && out.contains(says),
            "test {component}: {out}"
        );
    }

    // The stdio writer is a valid plugin that also chats on stdout/stderr (in info() too): the
    // check passes, the fixture passes, and weft's stdout is only weft's report.
    let w = artifacts::HOSTILE_STDIO_WRITER;
    let o = weft(&["plugin", "check", "--json", w], cache.path());
    assert_no_crash("plugin check", &o);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "check stdio-writer:\n{out}\n{err}"
    );
    let report: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("stdout is not just the JSON report ({e}): {out}"));
    assert_eq!(report["info"]["name"], "stdio-writer");
    let o = weft(&["plugin", "test", w, fx], cache.path());
    assert_no_crash("plugin test", &o);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "test stdio-writer:\n{out}\n{err}");
    assert!(out.contains("ok    echo"), "{out}");
}

/// `weft check` loads every store's plugins at start-up from its async main: a mapper whose
/// `info()` writes to stderr used to make it exit 101. Now it loads, and its chatter stays out
/// of weft's output.
#[test]
fn weft_check_loads_a_mapper_that_writes_to_stderr_in_info() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let o = weft(&["init", dir.path().to_str().unwrap()], cache.path());
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let store = dir.path().join("stores/acme.toml");
    let toml = std::fs::read_to_string(&store).unwrap();
    assert!(
        toml.contains("mapper = \"builtin:shopify-netsuite\""),
        "{toml}"
    );
    let toml = toml.replace(
        "mapper = \"builtin:shopify-netsuite\"",
        &format!("mapper = {:?}", artifacts::HOSTILE_STDIO_WRITER),
    );
    std::fs::write(&store, toml).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.arg("check")
        .arg(dir.path().join("weft.toml"))
        .env("WEFT_CACHE_DIR", cache.path());
    for var in [
        "ACME_SHOPIFY_ACCESS_TOKEN",
        "ACME_SHOPIFY_WEBHOOK_SECRET",
        "ACME_NETSUITE_CONSUMER_KEY",
        "ACME_NETSUITE_CONSUMER_SECRET",
        "ACME_NETSUITE_TOKEN_ID",
        "ACME_NETSUITE_TOKEN_SECRET",
    ] {
        cmd.env(var, "x");
    }
    let o = cmd.output().expect("run weft check");
    assert_no_crash("weft check", &o);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "weft check:\n{out}\n{err}");
    assert!(out.contains("mapper stdio-writer"), "{out}");
}
