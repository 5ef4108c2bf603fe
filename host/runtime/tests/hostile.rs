//! The hostile-plugin suite: one component per attack (`plugins/hostile/*`). Each must end in its
//! typed error (or, for capabilities the sandbox simply does not have, in a denial the plugin
//! observed) within its limit, while a good store keeps being served concurrently. The good
//! store's batch latency is measured during each attack and must stay bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_plugin_artifacts as artifacts;
use weft_runtime::types::{EntityKind, PlatformDoc, ToCanonicalOutcome};
use weft_runtime::{
    FIXED_WALL_CLOCK, Limits, LoadSource, MapperInstance, PluginError, Role, Runtime,
    RuntimeConfig, StoreCtx,
};

const MIB: u64 = 1024 * 1024;
const HOSTILE_TIMEOUT: Duration = Duration::from_millis(300);
/// A good batch must finish within this while an attack runs (generous: 2 cores, tests in
/// parallel, debug build of the host).
const GOOD_BOUND: Duration = Duration::from_millis(750);
/// Slack on top of a limit for the typed error to arrive.
const SLACK: Duration = Duration::from_millis(1500);

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 64,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

fn load(rt: &Runtime, path: &str) -> Arc<weft_runtime::Plugin> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let name = std::path::Path::new(path)
        .file_stem()
        .unwrap()
        .to_string_lossy();
    rt.load(&name, &bytes)
        .unwrap_or_else(|e| panic!("load {path}: {e}"))
}

fn hostile_limits() -> Limits {
    Limits {
        timeout: HOSTILE_TIMEOUT,
        memory_bytes: 32 * MIB,
        max_output_bytes: MIB,
        ..Limits::default()
    }
}

fn docs(n: usize) -> Vec<PlatformDoc> {
    (0..n)
        .map(|i| PlatformDoc {
            system: "shopify".into(),
            kind: EntityKind::Product,
            id: format!("{}", 9_007_199_254_740_993u64 + i as u64),
            version: "2026-11-26T22:00:00Z".into(),
            body: format!(
                r#"{{"id":"{i}","title":"Product {i}","vendor":"Acme","variants":[{{"sku":"SKU-{i}","price":"19.99"}}]}}"#
            ),
        })
        .collect()
}

fn good_store(rt: &Runtime) -> MapperInstance {
    let control = load(rt, artifacts::HOSTILE_CONTROL);
    rt.mapper(
        &control,
        StoreCtx {
            store_id: "good-store".into(),
            ..StoreCtx::default()
        },
    )
    .unwrap()
}

fn hostile_store(
    rt: &Runtime,
    path: &str,
    config: serde_json::Map<String, Value>,
) -> MapperInstance {
    let plugin = load(rt, path);
    assert_eq!(plugin.role(), Role::Mapper);
    rt.mapper(
        &plugin,
        StoreCtx {
            store_id: "hostile-store".into(),
            config,
            limits: hostile_limits(),
        },
    )
    .unwrap()
}

/// The observations record a capability-probing plugin returns.
fn observations(out: Result<Vec<ToCanonicalOutcome>, PluginError>) -> Value {
    let out = out.unwrap_or_else(|e| panic!("probe plugin failed: {e}"));
    match out.first() {
        Some(ToCanonicalOutcome::Mapped(records)) => {
            serde_json::from_str(&records[0].fields).expect("observations are JSON")
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
    fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }
}

/// Runs `attack` on another thread while the good store maps batches on this one; returns the
/// attack's result, how long it took, and the good store's latencies meanwhile.
fn under_attack<R: Send + 'static>(
    good: &MapperInstance,
    attack: impl FnOnce() -> R + Send + 'static,
) -> (R, Duration, Latencies) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let handle = std::thread::spawn(move || {
        let started = Instant::now();
        let r = attack();
        let took = started.elapsed();
        flag.store(true, Ordering::SeqCst);
        (r, took)
    });
    let batch = docs(100);
    let mut lat = Vec::new();
    while !done.load(Ordering::SeqCst) || lat.len() < 5 {
        let t = Instant::now();
        let out = good
            .to_canonical(&batch)
            .expect("the good store keeps working");
        lat.push(t.elapsed());
        assert_eq!(out.len(), 100);
    }
    let (r, took) = handle.join().expect("attack thread");
    (r, took, Latencies(lat))
}

fn report(attack: &str, took: Duration, lat: &Latencies) {
    println!(
        "{attack:<18} typed result in {:>7.1} ms | good store during attack: {} batches, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        took.as_secs_f64() * 1e3,
        lat.0.len(),
        lat.pct(0.5).as_secs_f64() * 1e3,
        lat.pct(0.99).as_secs_f64() * 1e3,
        lat.max().as_secs_f64() * 1e3
    );
    assert!(
        lat.max() < GOOD_BOUND,
        "{attack}: the good store's batch latency reached {:?} (bound {GOOD_BOUND:?})",
        lat.max()
    );
}

#[test]
fn every_attack_gets_its_typed_error_while_a_good_store_is_served() {
    let rt = runtime();
    let good = good_store(&rt);

    // Baseline latency of the good store with nothing else running.
    let batch = docs(100);
    let mut base = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        good.to_canonical(&batch).unwrap();
        base.push(t.elapsed());
    }
    let base = Latencies(base);
    println!(
        "baseline           good store alone: p50 {:.2} ms, p99 {:.2} ms (100-doc batch, fresh instance per batch)",
        base.pct(0.5).as_secs_f64() * 1e3,
        base.pct(0.99).as_secs_f64() * 1e3
    );

    // Infinite loop: wall-time limit.
    let h = hostile_store(&rt, artifacts::HOSTILE_INFINITE_LOOP, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(3)));
    match r {
        Err(PluginError::Timeout {
            store,
            plugin,
            limit,
        }) => {
            assert_eq!(store, "hostile-store");
            assert!(plugin.name.contains("infinite_loop"), "{plugin}");
            assert_eq!(limit, HOSTILE_TIMEOUT);
        }
        other => panic!("infinite loop: expected Timeout, got {other:?}"),
    }
    assert!(
        took >= HOSTILE_TIMEOUT && took < HOSTILE_TIMEOUT + SLACK,
        "took {took:?}"
    );
    report("infinite-loop", took, &lat);

    // Memory growth: memory cap.
    let h = hostile_store(&rt, artifacts::HOSTILE_MEMORY_GROWTH, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    match r {
        Err(PluginError::MemoryLimit {
            limit, requested, ..
        }) => {
            assert_eq!(limit, 32 * MIB);
            assert!(requested > limit, "requested {requested}");
        }
        other => panic!("memory growth: expected MemoryLimit, got {other:?}"),
    }
    assert!(took < HOSTILE_TIMEOUT + SLACK, "took {took:?}");
    report("memory-growth", took, &lat);

    // Unbounded recursion: stack cap.
    let h = hostile_store(&rt, artifacts::HOSTILE_RECURSION, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    match r {
        Err(PluginError::StackOverflow { limit, .. }) => {
            assert_eq!(limit, rt_stack());
        }
        other => panic!("recursion: expected StackOverflow, got {other:?}"),
    }
    assert!(took < HOSTILE_TIMEOUT + SLACK, "took {took:?}");
    report("recursion", took, &lat);

    // Oversized output: output cap.
    let h = hostile_store(&rt, artifacts::HOSTILE_OVERSIZED_OUTPUT, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(2)));
    match r {
        Err(PluginError::OutputTooLarge { limit, actual, .. }) => {
            assert_eq!(limit, MIB);
            assert!(actual > 6 * MIB, "actual {actual}");
        }
        other => panic!("oversized output: expected OutputTooLarge, got {other:?}"),
    }
    assert!(took < HOSTILE_TIMEOUT + SLACK, "took {took:?}");
    report("oversized-output", took, &lat);

    // Panic: trap with the guest's message from its stderr.
    let h = hostile_store(&rt, artifacts::HOSTILE_PANIC, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(3)));
    match &r {
        Err(PluginError::Trap { panic, trap, .. }) => {
            let panic = panic.as_deref().unwrap_or_default();
            assert!(
                panic.contains("hostile plugin panicked on purpose after 3 docs"),
                "panic message not captured: {panic:?} (trap {trap})"
            );
            let text = r.as_ref().unwrap_err().to_string();
            assert!(
                text.contains("hostile-store") && text.contains("panicked on purpose"),
                "{text}"
            );
        }
        other => panic!("panic: expected Trap, got {other:?}"),
    }
    report("panic", took, &lat);

    // Files: no preopens, every access denied.
    let h = hostile_store(&rt, artifacts::HOSTILE_OPEN_FILE, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    let seen = observations(r);
    for probe in ["read", "read_relative", "list", "write"] {
        assert!(
            seen[probe].get("err").is_some(),
            "file probe `{probe}` was not denied: {seen}"
        );
    }
    assert!(!std::path::Path::new("/tmp/weft-hostile-open-file").exists());
    println!("                   file probes denied: {seen}");
    report("open-file", took, &lat);

    // Sockets: TCP to a live local listener, UDP bind and DNS are all denied.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut config = serde_json::Map::new();
    config.insert("addr".into(), Value::String(addr));
    let h = hostile_store(&rt, artifacts::HOSTILE_OPEN_SOCKET, config);
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    let seen = observations(r);
    for probe in ["tcp", "udp", "dns"] {
        assert!(
            seen[probe].get("err").is_some(),
            "socket probe `{probe}` was not denied: {seen}"
        );
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the plugin reached the local listener"
    );
    println!("                   socket probes denied: {seen}");
    report("open-socket", took, &lat);

    // Environment: nothing.
    // SAFETY-free check: the test process certainly has variables of its own.
    assert!(std::env::vars().count() > 0);
    let h = hostile_store(&rt, artifacts::HOSTILE_READ_ENV, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    let seen = observations(r);
    assert_eq!(seen["vars"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["args"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["home"], Value::Null, "{seen}");
    let host_cwd = std::env::current_dir().unwrap().display().to_string();
    assert_ne!(seen["cwd"], Value::String(host_cwd), "{seen}");
    println!("                   env probes: {seen}");
    report("read-env", took, &lat);

    // Clock: fixed; an hour's sleep returns at once.
    let h = hostile_store(&rt, artifacts::HOSTILE_READ_CLOCK, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(2)));
    let seen = observations(r);
    assert_eq!(
        seen["wall_nanos"].as_u64(),
        Some(FIXED_WALL_CLOCK.as_nanos() as u64),
        "{seen}"
    );
    assert_eq!(seen["slept_nanos"].as_u64(), Some(0), "{seen}");
    assert!(
        took < Duration::from_secs(2),
        "a sleep blocked the host for {took:?}"
    );
    println!("                   clock probes: {seen}");
    report("read-clock", took, &lat);

    // Wrong interface: refused at load, naming the export.
    let rt2 = rt.clone();
    let (r, took, lat) = under_attack(&good, move || {
        let bytes = std::fs::read(artifacts::HOSTILE_WRONG_INTERFACE).unwrap();
        rt2.load("wrong-interface", &bytes).map(|_| ())
    });
    match r {
        Err(PluginError::InterfaceMismatch { plugin, detail }) => {
            assert_eq!(plugin.name, "wrong-interface");
            assert!(detail.contains("weft:plugin/mapping@0.1.0"), "{detail}");
        }
        other => panic!("wrong interface: expected InterfaceMismatch, got {other:?}"),
    }
    report("wrong-interface", took, &lat);

    let stats = rt.stats();
    println!("runtime stats: {stats:?}");
}

fn rt_stack() -> u64 {
    RuntimeConfig::default().max_stack_bytes
}

#[test]
fn same_batch_twice_gives_byte_identical_output_even_across_runtimes() {
    let batch = docs(5);
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let rt = runtime();
        let store = hostile_store(&rt, artifacts::HOSTILE_READ_CLOCK, Default::default());
        for _ in 0..2 {
            let out = store.to_canonical(&batch).unwrap();
            outputs.push(serde_json::to_vec(&out).unwrap());
        }
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    let seen: Value = serde_json::from_slice(&outputs[0]).unwrap();
    println!("deterministic output: {seen}");
}

#[test]
fn restart_loads_from_the_precompiled_cache_without_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        max_instances: 8,
        ..RuntimeConfig::default()
    };
    let bytes = std::fs::read(artifacts::HOSTILE_CONTROL).unwrap();

    let rt = Runtime::new(config.clone()).unwrap();
    let cold = rt.load("control", &bytes).unwrap();
    assert_eq!(cold.load_source(), LoadSource::Compiled);
    assert_eq!(rt.stats().compiles, 1);
    let again = rt.load("control", &bytes).unwrap();
    assert_eq!(again.load_source(), LoadSource::Memory);
    assert_eq!(rt.stats().compiles, 1);
    let cold_time = cold.load_time();
    drop((rt, cold, again));

    let rt = Runtime::new(config.clone()).unwrap();
    let warm = rt.load("control", &bytes).unwrap();
    assert_eq!(warm.load_source(), LoadSource::Cache);
    assert_eq!(rt.stats().compiles, 0);
    assert_eq!(rt.stats().cache_loads, 1);
    println!(
        "load cold {:.1} ms, warm {:.1} ms",
        cold_time.as_secs_f64() * 1e3,
        warm.load_time().as_secs_f64() * 1e3
    );
    let m = rt
        .mapper(
            &warm,
            StoreCtx {
                store_id: "s".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    assert_eq!(m.to_canonical(&docs(2)).unwrap().len(), 2);
    drop((rt, warm, m));

    // A corrupted artifact is detected by its digest and recompiled, never loaded.
    for entry in walk(dir.path()) {
        if entry.extension().is_some_and(|e| e == "cwasm") {
            let mut b = std::fs::read(&entry).unwrap();
            let mid = b.len() / 2;
            b[mid] ^= 0xFF;
            std::fs::write(&entry, b).unwrap();
        }
    }
    let rt = Runtime::new(config).unwrap();
    let p = rt.load("control", &bytes).unwrap();
    assert_eq!(p.load_source(), LoadSource::Compiled);
    assert_eq!(rt.stats().compiles, 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn fuel_budget_stops_a_loop_deterministically_and_reports_use() {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 8,
        fuel_metering: true,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let plugin = load(&rt, artifacts::HOSTILE_INFINITE_LOOP);
    let m = rt
        .mapper(
            &plugin,
            StoreCtx {
                store_id: "fuel-store".into(),
                config: Default::default(),
                limits: Limits {
                    fuel: Some(5_000_000),
                    ..Limits::default()
                },
            },
        )
        .unwrap();
    match m.to_canonical(&docs(1)) {
        Err(PluginError::OutOfFuel { limit, store, .. }) => {
            assert_eq!(limit, 5_000_000);
            assert_eq!(store, "fuel-store");
        }
        other => panic!("expected OutOfFuel, got {other:?}"),
    }
    let control = load(&rt, artifacts::HOSTILE_CONTROL);
    let m = rt
        .mapper(
            &control,
            StoreCtx {
                store_id: "s".into(),
                config: Default::default(),
                limits: Limits {
                    fuel: Some(50_000_000),
                    ..Limits::default()
                },
            },
        )
        .unwrap();
    let (_, a) = m.to_canonical_with_report(&docs(10)).unwrap();
    let (_, b) = m.to_canonical_with_report(&docs(10)).unwrap();
    let used = a.fuel_used.expect("fuel is metered");
    assert!(used > 0);
    assert_eq!(Some(used), b.fuel_used, "fuel use is deterministic");
    println!("control plugin, 10 docs: {used} fuel units");
}
