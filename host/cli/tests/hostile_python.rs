//! The hostile cases that apply to an interpreted guest, for Python (`plugins/hostile-python/`):
//! an infinite loop, unbounded memory growth, oversized output and ambient authority are
//! contained as for a Rust guest (`plugins/hostile`, `host/runtime/tests/hostile.rs`), and the
//! runtime keeps serving a well-behaved Python store afterwards.
//!
//! componentize-py is installed as the README says (`pip install componentize-py==...`), or the
//! test prints `SKIPPED:` and what is missing.

mod common_lang;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common_lang::{build, python, root};
use serde_json::Value;
use weft_runtime::bench::sample_products;
use weft_runtime::types::ToCanonicalOutcome;
use weft_runtime::{Limits, MapperInstance, PluginError, Runtime, RuntimeConfig, StoreCtx};

const MIB: u64 = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_millis(1500);
const SLACK: Duration = Duration::from_millis(3000);

fn store(rt: &Runtime, wasm: &std::path::Path, id: &str, limits: Limits) -> MapperInstance {
    let bytes = std::fs::read(wasm).unwrap();
    let plugin: Arc<_> = rt
        .load(id, &bytes)
        .unwrap_or_else(|e| panic!("load {id}: {e}"));
    rt.mapper(
        &plugin,
        StoreCtx {
            store_id: id.into(),
            config: serde_json::from_value(
                serde_json::json!({"sku_prefix": "WEB-", "title_field": "custitem_web_title"}),
            )
            .unwrap(),
            limits,
        },
    )
    .unwrap()
}

fn hostile_limits() -> Limits {
    Limits {
        timeout: TIMEOUT,
        memory_bytes: 64 * MIB,
        max_output_bytes: MIB,
        ..Limits::default()
    }
}

fn guest(name: &str) -> std::path::PathBuf {
    build(
        &root().join("plugins/hostile-python").join(name),
        &format!("hostile-py-{name}"),
        &[],
    )
}

#[test]
fn hostile_python_guests_are_contained() {
    if let Err(skip) = python() {
        println!("{skip}");
        return;
    }
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 16,
        // Compiling an interpreter takes seconds: keep the compiled guests across runs.
        cache_dir: Some(common_lang::cache().join("runtime-cache")),
        ..RuntimeConfig::default()
    })
    .expect("runtime starts");
    let good = store(
        &rt,
        &build(
            &root().join("plugins/examples/title-price/python"),
            "title-price-python-hostile",
            &[],
        ),
        "good",
        Limits::default(),
    );
    let docs = sample_products(1);
    let served = |what: &str| {
        let out = good
            .to_canonical(&sample_products(20))
            .unwrap_or_else(|e| panic!("after {what} the good store failed: {e}"));
        assert_eq!(out.len(), 20);
    };

    // Infinite loop: fuel (deterministic) or the deadline, whichever comes first.
    let h = store(&rt, &guest("infinite-loop"), "loop", hostile_limits());
    let t = Instant::now();
    match h.to_canonical(&docs) {
        Err(PluginError::OutOfFuel { .. }) | Err(PluginError::Timeout { .. }) => {}
        other => panic!("loop: expected OutOfFuel or Timeout, got {other:?}"),
    }
    assert!(t.elapsed() < TIMEOUT + SLACK, "took {:?}", t.elapsed());
    println!("python infinite loop stopped in {:?}", t.elapsed());
    served("the loop");

    // Memory growth: the memory cap.
    let h = store(&rt, &guest("memory-growth"), "memory", hostile_limits());
    let t = Instant::now();
    match h.to_canonical(&docs) {
        Err(PluginError::MemoryLimit { limit, .. }) => assert_eq!(limit, 64 * MIB),
        Err(PluginError::Trap {
            panic: Some(ref said),
            ..
        }) if said.contains("MemoryError") => {}
        other => panic!("memory: expected MemoryLimit, got {other:?}"),
    }
    println!("python memory growth stopped in {:?}", t.elapsed());
    served("memory growth");

    // Oversized output: refused before it is copied out.
    let h = store(&rt, &guest("oversized-output"), "output", hostile_limits());
    match h.to_canonical(&docs) {
        Err(PluginError::OutputTooLarge { limit, .. }) => assert_eq!(limit, MIB),
        other => panic!("output: expected OutputTooLarge, got {other:?}"),
    }
    served("oversized output");

    // Ambient authority: every reach denied; clock and randomness deterministic.
    let h = store(
        &rt,
        &guest("ambient-authority"),
        "ambient",
        Limits::default(),
    );
    let seen = |out: Vec<ToCanonicalOutcome>| -> Value {
        match &out[0] {
            ToCanonicalOutcome::Mapped(records) => {
                serde_json::from_str(&records[0].fields).unwrap()
            }
            other => panic!("ambient: {other:?}"),
        }
    };
    let a = seen(h.to_canonical(&docs).expect("ambient maps"));
    let b = seen(h.to_canonical(&docs).expect("ambient maps twice"));
    println!("python ambient authority: {a}");
    for denied in ["read_passwd", "list_root", "write_tmp", "socket", "resolve"] {
        assert!(
            a[denied].get("err").is_some(),
            "{denied} was not denied: {}",
            a[denied]
        );
    }
    // os.system is not even there in WASI Python, or it fails.
    assert!(
        a["spawn"].get("err").is_some() || a["spawn"]["ok"] != "0",
        "spawn: {}",
        a["spawn"]
    );
    assert_eq!(a["environ"], serde_json::json!({}), "environment leaked");
    assert_eq!(
        a["time"],
        serde_json::json!(946684800.0),
        "the clock is fixed"
    );
    assert_eq!(a, b, "same input, same randomness and clock");
    served("ambient authority");
}
