//! The hostile-plugin suite: one component per attack (`plugins/hostile/*`). Each must end in its
//! typed error (or, for capabilities the sandbox simply does not have, in a denial the plugin
//! observed) within its limit, while a good store keeps being served concurrently. The good
//! store's batch latency is measured during each attack and must stay bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_plugin_artifacts as artifacts;
use weft_runtime::types::{
    CanonicalRecord, EntityKind, FromCanonicalOutcome, PlatformDoc, ToCanonicalOutcome,
    WriteRequest,
};
use weft_runtime::validate::OutputFault;
use weft_runtime::{
    CallLog, FIXED_WALL_CLOCK, LOG_RECORD_OVERHEAD, Limits, LoadSource, MAX_LOG_LINE,
    MapperInstance, PluginError, Role, Runtime, RuntimeConfig, StoreCtx,
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
    store_with(rt, path, config, hostile_limits())
}

fn store_with(
    rt: &Runtime,
    path: &str,
    config: serde_json::Map<String, Value>,
    limits: Limits,
) -> MapperInstance {
    let plugin = load(rt, path);
    assert_eq!(plugin.role(), Role::Mapper);
    rt.mapper(
        &plugin,
        StoreCtx {
            store_id: "hostile-store".into(),
            config,
            limits,
        },
    )
    .unwrap()
}

fn attack_config(attack: &str) -> serde_json::Map<String, Value> {
    let mut config = serde_json::Map::new();
    config.insert("attack".into(), Value::String(attack.into()));
    config
}

/// Three documents; the middle one (index 1) is the one `bad-output` attacks.
fn evil_docs() -> Vec<PlatformDoc> {
    let mut d = docs(3);
    d[1].id = "evil-1".into();
    d
}

fn request(target: &str, key: &str, target_id: Option<&str>) -> WriteRequest {
    WriteRequest {
        deleted: false,
        target: target.into(),
        record: CanonicalRecord {
            kind: EntityKind::Variant,
            key: key.into(),
            fields: r#"{"sku": "x", "price": "1.00"}"#.into(),
        },
        current: None,
        target_id: target_id.map(str::to_string),
    }
}

/// Three write requests; the middle one (index 1) is the one `bad-output` attacks.
fn evil_requests() -> Vec<WriteRequest> {
    vec![
        request("shopify", "SKU-0", Some("100")),
        request("netsuite", "evil-1", Some("201")),
        request("netsuite", "SKU-2", None),
    ]
}

fn fault_name(fault: &OutputFault) -> String {
    let v = serde_json::to_value(fault).unwrap();
    match v["violation"].as_str() {
        Some("json") => v["fault"]["fault"].as_str().unwrap().to_string(),
        Some(other) => other.to_string(),
        None => panic!("{v}"),
    }
}

fn assert_invalid_output<T: std::fmt::Debug>(
    attack: &str,
    r: Result<T, PluginError>,
    at: usize,
    want: &str,
) {
    match r {
        Err(
            ref e @ PluginError::InvalidOutput {
                call,
                index,
                ref item,
                ref fault,
                ..
            },
        ) => {
            assert_eq!(call, weft_runtime::Export::ToCanonical, "{attack}");
            assert_eq!(index, at, "{attack}: {e}");
            assert!(item.contains("evil-1"), "{attack}: {item}");
            assert_eq!(fault_name(fault), want, "{attack}: {e}");
            println!("                   {attack}: {e}");
        }
        other => panic!("{attack}: expected InvalidOutput, got {other:?}"),
    }
}

fn assert_command_rejected(attack: &str, r: Result<(), PluginError>, want: &str) {
    match r {
        Err(
            ref e @ PluginError::CommandRejected {
                request,
                ref record,
                ref fault,
                ..
            },
        ) => {
            assert_eq!(request, 1, "{attack}: {e}");
            assert_eq!(record.target, "netsuite", "{attack}");
            assert_eq!(record.key, "evil-1", "{attack}");
            assert_eq!(record.kind, EntityKind::Variant, "{attack}");
            assert_eq!(fault_name(fault), want, "{attack}: {e}");
            let text = e.to_string();
            assert!(
                text.len() < 600,
                "{attack}: the message stays short: {text}"
            );
            println!("                   {attack}: {text}");
        }
        other => panic!("{attack}: expected CommandRejected, got {other:?}"),
    }
}

/// What a call may keep of its log with the default limits.
fn assert_log_bounded(attack: &str, log: &CallLog) {
    let limits = Limits::default();
    let records = RuntimeConfig::default().max_log_records;
    assert!(
        log.bytes <= limits.max_log_bytes,
        "{attack}: {} bytes",
        log.bytes
    );
    assert!(
        log.lines.len() as u64 <= records,
        "{attack}: {} records",
        log.lines.len()
    );
    let text: u64 = log.lines.iter().map(|l| l.message.len() as u64).sum();
    assert!(
        text + log.lines.len() as u64 * LOG_RECORD_OVERHEAD <= limits.max_log_bytes,
        "{attack}: newlines/overhead not charged"
    );
    for line in &log.lines {
        assert!(
            line.message.len() <= MAX_LOG_LINE + 3,
            "{attack}: a line of {}",
            line.message.len()
        );
        assert!(
            !line.message.chars().any(|c| c.is_control()),
            "{attack}: a control character survived: {:?}",
            line.message
        );
    }
    match attack {
        "empty-lines" => {
            assert_eq!(log.lines.len() as u64 + log.dropped, 200_000);
            assert_eq!(
                log.lines.len() as u64,
                limits.max_log_bytes / LOG_RECORD_OVERHEAD
            );
        }
        "one-byte-lines" => {
            assert_eq!(log.lines.len() as u64 + log.dropped, 100_000);
            assert!(
                log.lines.len() < 300,
                "{} one-byte records kept",
                log.lines.len()
            );
        }
        "huge-line" => {
            assert_eq!(log.lines.len(), 1);
            assert!(log.lines[0].message.ends_with('…'));
        }
        "newline-forgery" => {
            let m = &log.lines[0].message;
            assert!(!m.contains('\n') && !m.contains('\r'), "{m:?}");
            assert!(
                m.starts_with("ok\\n2026-12-04T00:00:00.000000Z ERROR"),
                "{m:?}"
            );
        }
        _ => unreachable!(),
    }
    println!(
        "                   {attack}: kept {} records / {} bytes, dropped {}",
        log.lines.len(),
        log.bytes,
        log.dropped
    );
}

/// The hex a `randomness` probe returned.
fn random_hex(out: Result<Vec<ToCanonicalOutcome>, PluginError>) -> String {
    observations(out)["hex"].as_str().unwrap().to_string()
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

    // Infinite loop under a fuel budget that runs out well inside its deadline: the
    // deterministic limit stops it, under any load. (The default budget, 2e9, takes ~0.2 s of
    // this loop alone: a tenth of the default 2 s deadline, but not of this test's 300 ms.)
    let h = store_with(
        &rt,
        artifacts::HOSTILE_INFINITE_LOOP,
        Default::default(),
        Limits {
            fuel: Some(200_000_000),
            ..hostile_limits()
        },
    );
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(3)));
    match r {
        Err(PluginError::OutOfFuel { store, limit, .. }) => {
            assert_eq!(store, "hostile-store");
            assert_eq!(limit, 200_000_000);
        }
        other => panic!("infinite loop: expected OutOfFuel, got {other:?}"),
    }
    assert!(took < HOSTILE_TIMEOUT + SLACK, "took {took:?}");
    report("loop (fuel)", took, &lat);

    // Infinite loop with fuel to spare: the wall-time limit is the backstop.
    let h = store_with(
        &rt,
        artifacts::HOSTILE_INFINITE_LOOP,
        Default::default(),
        Limits {
            fuel: Some(u64::MAX),
            ..hostile_limits()
        },
    );
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
    report("loop (deadline)", took, &lat);

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
            assert!(detail.contains("weft:plugin/mapping@0.5.0"), "{detail}");
        }
        other => panic!("wrong interface: expected InterfaceMismatch, got {other:?}"),
    }
    report("wrong-interface", took, &lat);

    // Built against the previous contract version: refused at load, naming both versions.
    let bytes = std::fs::read(artifacts::TESTING_OLD_CONTRACT).unwrap();
    match rt.load("old-contract", &bytes) {
        Err(PluginError::InterfaceMismatch { detail, .. }) => {
            assert!(
                detail.contains("built against weft:plugin@0.1.0")
                    && detail.contains("this host speaks weft:plugin@0.5.0"),
                "{detail}"
            );
        }
        other => panic!("old contract: expected InterfaceMismatch, got {other:?}"),
    }

    // stdout/stderr writer (in `info()` too, which ran when it was loaded): the call succeeds,
    // what it wrote is captured, bounded, and never reaches the host's own streams.
    let h = hostile_store(&rt, artifacts::HOSTILE_STDIO_WRITER, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical_with_report(&docs(3)));
    let (out, call) = r.expect("a plugin writing to stdout/stderr still answers");
    assert_eq!(out.len(), 3);
    assert!(
        call.stderr.contains("stdio-writer to-canonical line 0"),
        "{}",
        &call.stderr[..200.min(call.stderr.len())]
    );
    assert!(
        call.stderr.len() < 9 * 1024,
        "{} bytes kept",
        call.stderr.len()
    );
    report("stdio-writer", took, &lat);

    // Bad JSON in canonical records: refused, naming the document.
    for (attack, want) in [
        ("invalid-json", "syntax"),
        ("deep-nesting", "too_deep"),
        ("huge-number", "non_finite"),
        ("lone-surrogate", "lone_surrogate"),
    ] {
        let h = hostile_store(&rt, artifacts::HOSTILE_BAD_OUTPUT, attack_config(attack));
        let (r, took, lat) = under_attack(&good, move || h.to_canonical(&evil_docs()));
        assert_invalid_output(attack, r, 1, want);
        report(attack, took, &lat);
    }

    // Commands that do not answer their request: refused, naming the request and record.
    for (attack, want) in [
        ("extra-command", "wrong_system"),
        ("made-up-system", "wrong_system"),
        ("many-commands", "too_many_commands"),
    ] {
        let h = hostile_store(&rt, artifacts::HOSTILE_BAD_OUTPUT, attack_config(attack));
        let (r, took, lat) = under_attack(&good, move || h.from_canonical(&evil_requests()));
        assert_command_rejected(attack, r.map(|_| ()), want);
        report(attack, took, &lat);
    }

    // Log floods: the call succeeds, the log stays within its budgets.
    for attack in [
        "empty-lines",
        "one-byte-lines",
        "huge-line",
        "newline-forgery",
    ] {
        let mut limits = hostile_limits();
        limits.memory_bytes = 128 * MIB;
        // A flood is bounded by the log budgets, not by time: a loaded machine (CI running
        // builds beside the tests) must not turn it into a timeout.
        limits.timeout = Duration::from_secs(10);
        let h = store_with(
            &rt,
            artifacts::HOSTILE_LOG_FLOOD,
            attack_config(attack),
            limits,
        );
        let (r, took, lat) = under_attack(&good, move || h.to_canonical_with_report(&docs(2)));
        let (_, call) = r.unwrap_or_else(|e| panic!("{attack}: {e}"));
        assert_log_bounded(attack, &call.log);
        report(attack, took, &lat);
    }

    // 96 MiB of output against an 8 MiB cap: `OutputTooLarge`, found before the copy.
    let mut limits = hostile_limits();
    limits.memory_bytes = 200 * MIB;
    limits.max_output_bytes = 8 * MIB;
    limits.timeout = Duration::from_secs(2);
    let h = store_with(
        &rt,
        artifacts::HOSTILE_BAD_OUTPUT,
        attack_config("huge-output"),
        limits,
    );
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    match r {
        Err(PluginError::OutputTooLarge { limit, actual, .. }) => {
            assert_eq!(limit, 8 * MIB);
            assert!(actual > limit, "actual {actual}");
        }
        other => panic!("huge output: expected OutputTooLarge, got {other:?}"),
    }
    report("huge-output", took, &lat);

    // Randomness probe.
    let h = hostile_store(&rt, artifacts::HOSTILE_RANDOMNESS, Default::default());
    let (r, took, lat) = under_attack(&good, move || h.to_canonical(&docs(1)));
    assert_eq!(random_hex(r).len(), 32 * 1024);
    report("randomness", took, &lat);

    // A component refused at load while the good store runs (size cap).
    let small = Runtime::new(RuntimeConfig {
        max_instances: 4,
        max_component_bytes: 4096,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let (r, took, lat) = under_attack(&good, move || {
        let bytes = std::fs::read(artifacts::STOCK_SHOPIFY_NETSUITE).unwrap();
        small.load("big", &bytes).map(|_| ())
    });
    assert!(
        matches!(r, Err(PluginError::TooLarge { limit: 4096, .. })),
        "{r:?}"
    );
    report("too-large", took, &lat);

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
    // Fuel is metered on every call path, with no opt-in.
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 8,
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

/// A fixture directory with one `to-canonical` case expecting each document back as one
/// record (what the control/stdio-writer plugins answer).
fn echo_fixture(
    dir: &std::path::Path,
    config: serde_json::Map<String, Value>,
    docs: &[PlatformDoc],
) {
    let input = serde_json::json!({
        "call": "to-canonical",
        "config": config,
        "input": docs,
    });
    let expected: Vec<Value> = docs
        .iter()
        .map(|d| {
            serde_json::json!({"Mapped": [{"kind": "Product", "key": d.id,
                "fields": serde_json::from_str::<Value>(&d.body).unwrap()}]})
        })
        .collect();
    std::fs::write(dir.join("echo.input.json"), input.to_string()).unwrap();
    std::fs::write(
        dir.join("echo.expected.json"),
        Value::Array(expected).to_string(),
    )
    .unwrap();
}

/// Item 1: inside a tokio runtime, through the same public API `weft run` (load, info, batch),
/// `weft plugin check` (`tools::check`) and `weft plugin test` (`tools::run_fixtures`) use:
/// stdout/stderr writes (in `info()` too), panics and the memory cap end in typed results, never
/// in "Cannot start a runtime from within a runtime".
async fn hostile_calls_from_async_context() {
    let rt = runtime();
    // `weft run` / `weft check` load plugins at start-up from async code, blocking form...
    let bytes = std::fs::read(artifacts::HOSTILE_STDIO_WRITER).unwrap();
    let writer = rt
        .load("stdio-writer", &bytes)
        .expect("loads despite eprintln! in info()");
    assert_eq!(writer.info().name, "stdio-writer");
    // ...and async form.
    let again = rt.load_async("stdio-writer", bytes.clone()).await.unwrap();
    assert_eq!(again.load_source(), LoadSource::Memory);
    let m = rt
        .mapper(
            &writer,
            StoreCtx {
                store_id: "async-store".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    assert_eq!(m.to_canonical(&docs(2)).unwrap().len(), 2);
    assert_eq!(m.to_canonical_async(docs(2)).await.unwrap().len(), 2);

    let panic = load(&rt, artifacts::HOSTILE_PANIC);
    let m = rt
        .mapper(
            &panic,
            StoreCtx {
                store_id: "async-store".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    for r in [
        m.to_canonical(&docs(3)),
        m.to_canonical_async(docs(3)).await,
    ] {
        match r {
            Err(PluginError::Trap { panic: Some(p), .. }) => {
                assert!(p.contains("panicked on purpose after 3 docs"), "{p}")
            }
            other => panic!("expected Trap, got {other:?}"),
        }
    }
    let grow = load(&rt, artifacts::HOSTILE_MEMORY_GROWTH);
    let m = rt
        .mapper(
            &grow,
            StoreCtx {
                store_id: "async-store".into(),
                limits: hostile_limits(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    for r in [
        m.to_canonical(&docs(1)),
        m.to_canonical_async(docs(1)).await,
    ] {
        assert!(matches!(r, Err(PluginError::MemoryLimit { .. })), "{r:?}");
    }

    // `weft plugin check`: the empty-batch smoke calls surface the panic and the memory cap.
    use weft_runtime::tools::{ToolError, check, run_fixtures};
    match check(&rt, std::path::Path::new(artifacts::HOSTILE_PANIC)) {
        Err(ToolError::Plugin(PluginError::Trap { panic: Some(p), .. })) => {
            assert!(p.contains("panicked on purpose after 0 docs"), "{p}")
        }
        other => panic!("check panic: expected Trap, got {other:?}"),
    }
    match check(&rt, std::path::Path::new(artifacts::HOSTILE_MEMORY_GROWTH)) {
        Err(ToolError::Plugin(PluginError::MemoryLimit { .. })) => {}
        other => panic!("check memory-growth: expected MemoryLimit, got {other:?}"),
    }
    let report = check(&rt, std::path::Path::new(artifacts::HOSTILE_STDIO_WRITER)).unwrap();
    assert_eq!(report.info.name, "stdio-writer");

    // `weft plugin test`.
    let dir = tempfile::tempdir().unwrap();
    echo_fixture(dir.path(), Default::default(), &docs(2));
    let ok = run_fixtures(
        &rt,
        std::path::Path::new(artifacts::HOSTILE_STDIO_WRITER),
        dir.path(),
    )
    .unwrap();
    assert!(ok.success(), "{ok}");
    let bad = run_fixtures(
        &rt,
        std::path::Path::new(artifacts::HOSTILE_PANIC),
        dir.path(),
    )
    .unwrap();
    assert!(!bad.success());
    assert!(bad.to_string().contains("panicked on purpose"), "{bad}");
}

#[tokio::test]
async fn hostile_calls_are_safe_inside_a_current_thread_tokio_runtime() {
    hostile_calls_from_async_context().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_calls_are_safe_inside_a_multi_thread_tokio_runtime() {
    hostile_calls_from_async_context().await;
}

/// Item 2: the host's call path and `weft plugin test` run the same check, and one bad document
/// is named by index while the others keep their outcome.
#[test]
fn bad_json_is_refused_per_document_and_plugin_test_agrees() {
    let rt = runtime();
    for (attack, want) in [
        ("invalid-json", "syntax"),
        ("deep-nesting", "too_deep"),
        ("huge-number", "non_finite"),
        ("lone-surrogate", "lone_surrogate"),
        ("not-an-object", "not_an_object"),
    ] {
        let h = hostile_store(&rt, artifacts::HOSTILE_BAD_OUTPUT, attack_config(attack));
        assert_invalid_output(attack, h.to_canonical(&evil_docs()), 1, want);
        let (items, _) = h.to_canonical_per_document(&evil_docs()).unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[2].is_ok(), "{attack}: {items:?}");
        assert_invalid_output(attack, items[1].clone(), 1, want);

        // `weft plugin test` on the same output reports the same refusal.
        let dir = tempfile::tempdir().unwrap();
        echo_fixture(dir.path(), attack_config(attack), &evil_docs());
        let report = weft_runtime::tools::run_fixtures(
            &rt,
            std::path::Path::new(artifacts::HOSTILE_BAD_OUTPUT),
            dir.path(),
        )
        .unwrap();
        assert!(
            !report.success(),
            "{attack}: plugin test accepted what the host refuses"
        );
        let text = report.to_string();
        assert!(
            text.contains("invalid_output") && text.contains("document 1"),
            "{text}"
        );
    }
}

/// Item 3: each command must answer its request; violations are typed, per request.
#[test]
fn commands_for_other_systems_records_or_in_bulk_are_refused_per_request() {
    let rt = runtime();
    for (attack, want) in [
        ("extra-command", "wrong_system"),
        ("other-record", "unrelated_record"),
        ("made-up-system", "wrong_system"),
        ("wrong-kind", "wrong_kind"),
        ("many-commands", "too_many_commands"),
        ("invalid-body", "syntax"),
    ] {
        let h = hostile_store(&rt, artifacts::HOSTILE_BAD_OUTPUT, attack_config(attack));
        assert_command_rejected(attack, h.from_canonical(&evil_requests()).map(|_| ()), want);
        let (items, _) = h.from_canonical_per_request(&evil_requests()).unwrap();
        assert_eq!(items.len(), 3);
        for i in [0, 2] {
            match &items[i] {
                Ok(FromCanonicalOutcome::Commands(c)) => assert_eq!(c.len(), 1, "{attack}"),
                other => panic!("{attack}: request {i} should pass, got {other:?}"),
            }
        }
        assert_command_rejected(attack, items[1].clone().map(|_| ()), want);
    }
    // The limit is the runtime's.
    let h = hostile_store(
        &rt,
        artifacts::HOSTILE_BAD_OUTPUT,
        attack_config("many-commands"),
    );
    match h.from_canonical(&evil_requests()) {
        Err(PluginError::CommandRejected { fault, .. }) => match *fault {
            OutputFault::TooManyCommands { limit, got } => {
                assert_eq!(limit, RuntimeConfig::default().max_commands_per_request);
                assert_eq!(got, 10_003);
            }
            other => panic!("expected TooManyCommands, got {other:?}"),
        },
        other => panic!("expected TooManyCommands, got {other:?}"),
    }
}

/// Item 6: `wasi:random` is a stream that does not repeat, differs per store and per batch, and
/// is the same for the same store and batch (even in another runtime: replay).
#[test]
fn randomness_does_not_repeat_and_differs_per_store_and_batch() {
    let probe = |rt: &Runtime, store: &str, batch: &[PlatformDoc]| {
        let plugin = load(rt, artifacts::HOSTILE_RANDOMNESS);
        let m = rt
            .mapper(
                &plugin,
                StoreCtx {
                    store_id: store.into(),
                    ..StoreCtx::default()
                },
            )
            .unwrap();
        random_hex(m.to_canonical(batch))
    };
    let rt = runtime();
    let a = probe(&rt, "store-a", &docs(1));
    // No 64-bit word repeats in 16 KiB (the old stream repeated every 2 KiB).
    let words: Vec<&str> = (0..a.len() / 16).map(|i| &a[i * 16..i * 16 + 16]).collect();
    let mut unique = words.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), words.len(), "the random stream repeats");
    assert_ne!(&a[..4096], &a[4096..8192]);
    let b = probe(&rt, "store-b", &docs(1));
    assert_ne!(a, b, "two stores got the same randomness");
    let other_batch = probe(&rt, "store-a", &docs(2));
    assert_ne!(a, other_batch, "two batches got the same randomness");
    assert_eq!(
        a,
        probe(&rt, "store-a", &docs(1)),
        "same input, same output"
    );
    assert_eq!(
        a,
        probe(&runtime(), "store-a", &docs(1)),
        "deterministic across runtimes"
    );
}

/// Item 5: size cap and compile budget; nothing refused is cached (memory or disk); a plugin
/// can load in the background while other work goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_slow_to_compile_components_are_refused_and_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let stock = std::fs::read(artifacts::STOCK_SHOPIFY_NETSUITE).unwrap();
    let cached = || {
        walk(dir.path())
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .count()
    };
    let config = |max_bytes: u64, budget: Duration| RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        max_instances: 8,
        max_component_bytes: max_bytes,
        compile_timeout: budget,
        ..RuntimeConfig::default()
    };

    // Size cap: refused before compiling.
    let rt = Runtime::new(config(64 * 1024, Duration::from_secs(60))).unwrap();
    match rt.load("stock", &stock) {
        Err(e @ PluginError::TooLarge { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("over the component size limit of 65536 bytes"),
                "{text}"
            );
            println!("size cap: {text}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(rt.stats().compiles, 0);

    // Compile budget: 5 ms is far below what the stock mapper takes; refused, nothing cached,
    // and the load returns at the budget, not when compiling ends.
    let rt = Runtime::new(config(32 * MIB, Duration::from_millis(5))).unwrap();
    let t = Instant::now();
    let r = rt.load("stock", &stock);
    let refused_in = t.elapsed();
    match r {
        Err(e @ PluginError::CompileTimeout { .. }) => println!("compile budget: {e}"),
        other => panic!("expected CompileTimeout, got {other:?}"),
    }
    assert!(
        refused_in < Duration::from_millis(1000),
        "refused after {refused_in:?}"
    );
    let stats = rt.stats();
    assert_eq!(
        (
            stats.compiles,
            stats.abandoned_compiles,
            stats.refused_loads
        ),
        (0, 1, 1)
    );
    // Its compile thread still runs (Cranelift cannot be stopped) and holds a compile slot:
    // with the slots taken, another load waits at most its budget, then is refused too, so
    // a flood of slow components cannot pile up compile threads.
    let rt2 = Runtime::new(RuntimeConfig {
        max_concurrent_compiles: 1,
        ..config(32 * MIB, Duration::from_millis(5))
    })
    .unwrap();
    assert!(matches!(
        rt2.load("stock", &stock),
        Err(PluginError::CompileTimeout { .. })
    ));
    assert_eq!(
        rt2.stats().compiling,
        1,
        "the abandoned compile holds its slot"
    );
    let control_bytes = std::fs::read(artifacts::HOSTILE_CONTROL).unwrap();
    let t = Instant::now();
    assert!(matches!(
        rt2.load("control", &control_bytes),
        Err(PluginError::CompileTimeout { .. })
    ));
    assert!(t.elapsed() < Duration::from_millis(1000));
    assert_eq!(
        rt2.stats().abandoned_compiles,
        1,
        "the second load never started compiling"
    );
    let t = Instant::now();
    while rt2.stats().compiling > 0 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rt2.stats().compiling,
        0,
        "the abandoned compile finished and freed its slot"
    );
    assert_eq!(cached(), 0, "its result was dropped, not cached");
    // A component that compiles but breaks the contract is not cached either.
    let rt = Runtime::new(config(32 * MIB, Duration::from_secs(60))).unwrap();
    let wrong = std::fs::read(artifacts::HOSTILE_WRONG_INTERFACE).unwrap();
    assert!(matches!(
        rt.load("wrong", &wrong),
        Err(PluginError::InterfaceMismatch { .. })
    ));
    assert!(matches!(
        rt.load("wrong", &wrong),
        Err(PluginError::InterfaceMismatch { .. })
    ));
    assert_eq!(
        rt.stats().memory_loads,
        0,
        "a refused component was kept in memory"
    );
    assert_eq!(cached(), 0, "a refused component was cached on disk");

    // In the background: a store whose plugin is ready is served while another store's plugin
    // still compiles; the handle resolves when it is compiled.
    let control = rt
        .load_async(
            "control",
            std::fs::read(artifacts::HOSTILE_CONTROL).unwrap(),
        )
        .await
        .unwrap();
    let m = rt
        .mapper(
            &control,
            StoreCtx {
                store_id: "other".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    let t = Instant::now();
    let pending = rt.load_in_background("stock", stock.clone());
    assert_eq!(m.to_canonical_async(docs(5)).await.unwrap().len(), 5);
    let served_at = t.elapsed();
    let still_compiling = pending.try_get().is_none();
    let stock_plugin = pending
        .ready()
        .await
        .expect("compiles within the default budget");
    let compiled_in = t.elapsed();
    assert_eq!(stock_plugin.load_source(), LoadSource::Compiled);
    assert!(pending.try_get().is_some_and(|r| r.is_ok()));
    println!(
        "background load: another store served after {:.1} ms (stock still compiling: {still_compiling}); stock mapper compiled in {:.1} ms",
        served_at.as_secs_f64() * 1e3,
        compiled_in.as_secs_f64() * 1e3
    );
    assert!(
        served_at < compiled_in,
        "the other store waited for the compile"
    );
    assert_eq!(cached(), 2, "validated components are cached");
}

/// Item 6: fuel is the deterministic limit on every call path; the same budget fails the same
/// way however loaded the machine is.
#[test]
fn fuel_is_on_by_default_and_deterministic_under_load() {
    let rt = runtime();
    let control = load(&rt, artifacts::HOSTILE_CONTROL);
    let m = rt
        .mapper(
            &control,
            StoreCtx {
                store_id: "s".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    let (_, report) = m.to_canonical_with_report(&docs(10)).unwrap();
    assert!(report.fuel_used.is_some_and(|f| f > 0));
    assert_eq!(
        m.store().limits.fuel,
        Some(RuntimeConfig::default().default_fuel),
        "a store without a fuel budget gets the runtime's default"
    );

    // A loop under a fuel budget with a generous deadline: OutOfFuel alone and under load.
    let looping = load(&rt, artifacts::HOSTILE_INFINITE_LOOP);
    let lm = rt
        .mapper(
            &looping,
            StoreCtx {
                store_id: "fuel".into(),
                limits: Limits {
                    fuel: Some(20_000_000),
                    timeout: Duration::from_secs(10),
                    ..Limits::default()
                },
                ..StoreCtx::default()
            },
        )
        .unwrap();
    let t = Instant::now();
    assert!(matches!(
        lm.to_canonical(&docs(1)),
        Err(PluginError::OutOfFuel {
            limit: 20_000_000,
            ..
        })
    ));
    let alone = t.elapsed();
    let stop = Arc::new(AtomicBool::new(false));
    let burners: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
        })
        .collect();
    let t = Instant::now();
    let r = lm.to_canonical(&docs(1));
    let loaded = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    for b in burners {
        b.join().unwrap();
    }
    assert!(
        matches!(
            r,
            Err(PluginError::OutOfFuel {
                limit: 20_000_000,
                ..
            })
        ),
        "{r:?}"
    );
    println!(
        "20M fuel: alone {:.1} ms, with 4 busy threads {:.1} ms (same verdict)",
        alone.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3
    );
}
