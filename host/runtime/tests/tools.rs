//! `weft plugin check` / `weft plugin test` logic, role detection and binding, host config and
//! log capture, and the stock plugins' fixtures run through their Wasm builds.

use std::path::{Path, PathBuf};

use serde_json::json;
use weft_plugin_artifacts as artifacts;
use weft_runtime::tools::{ToolError, check, run_fixtures};
use weft_runtime::types::{Decision, EntityKind, FieldChange, Occasion, PlatformDoc, Side};
use weft_runtime::{Limits, PluginError, Role, Runtime, RuntimeConfig, StoreCtx};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 16,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn doc(id: &str) -> PlatformDoc {
    PlatformDoc {
        system: "shopify".into(),
        kind: EntityKind::Customer,
        id: id.into(),
        version: "2026-11-26T10:00:00Z".into(),
        body: json!({"id": id, "email": "a@example.com"}).to_string(),
    }
}

#[test]
fn check_reports_role_exports_info_and_limits() {
    let rt = runtime();
    let report = check(&rt, Path::new(artifacts::HOSTILE_CONTROL)).unwrap();
    assert_eq!(report.role, Role::Both);
    assert_eq!(report.info.name, "control");
    assert!(
        report
            .exports
            .contains(&"weft:plugin/mapping@0.5.0".to_string())
    );
    assert!(
        report
            .exports
            .contains(&"weft:plugin/resolving@0.5.0".to_string())
    );
    assert!(
        report
            .imports
            .iter()
            .any(|i| i.starts_with("weft:plugin/host"))
    );
    // Fuel is always metered: a store without a budget runs under the runtime's default.
    assert_eq!(
        report.limits,
        Limits {
            fuel: Some(weft_runtime::DEFAULT_FUEL),
            ..Limits::default()
        }
    );
    let text = report.to_string();
    assert!(
        text.contains("role      Both") && text.contains("timeout 2s"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["role"], "both");
    println!("{text}");

    match check(&rt, Path::new(artifacts::HOSTILE_WRONG_INTERFACE)) {
        Err(ToolError::Plugin(PluginError::InterfaceMismatch { detail, .. })) => {
            println!("wrong interface: {detail}");
        }
        other => panic!("expected InterfaceMismatch, got {other:?}"),
    }
    match check(&rt, Path::new("/nonexistent/plugin.wasm")) {
        Err(ToolError::Read { .. }) => {}
        other => panic!("expected Read error, got {other:?}"),
    }
}

#[test]
fn a_core_module_or_garbage_is_invalid_not_a_crash() {
    let rt = runtime();
    for bytes in [&b"not wasm at all"[..], &b"\0asm\x01\0\0\0"[..]] {
        match rt.load("junk", bytes) {
            Err(PluginError::Invalid { plugin, detail }) => {
                assert_eq!(plugin.name, "junk");
                assert!(!detail.is_empty());
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}

#[test]
fn roles_bind_and_config_and_logs_reach_the_host() {
    let rt = runtime();
    let control = rt
        .load(
            "control",
            &std::fs::read(artifacts::HOSTILE_CONTROL).unwrap(),
        )
        .unwrap();
    let mut config = serde_json::Map::new();
    config.insert("key-prefix".into(), json!("acme/"));
    let m = rt
        .mapper(
            &control,
            StoreCtx {
                store_id: "acme".into(),
                config,
                limits: Limits::default(),
            },
        )
        .unwrap();
    let (out, report) = m.to_canonical_with_report(&[doc("1"), doc("2")]).unwrap();
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json[1]["Mapped"][0]["key"], "acme/shopify:2");
    assert_eq!(report.log.lines.len(), 1);
    assert_eq!(report.log.lines[0].message, "to-canonical: 2 docs");
    assert_eq!(report.log.lines[0].level, "debug");

    let r = rt
        .resolver(
            &control,
            StoreCtx {
                store_id: "acme".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    let side = |system: &str, version: &str| Side {
        system: system.into(),
        value: Some("1".into()),
        version: version.into(),
        changed: true,
    };
    let conflict = |l: &str, r: &str| FieldChange {
        occasion: Occasion::Conflict,
        kind: EntityKind::Price,
        key: "SKU-1".into(),
        field: "price".into(),
        base: None,
        agreed: Some("1".into()),
        incoming: "shopify".into(),
        sides: vec![side("shopify", l), side("netsuite", r)],
    };
    let decisions = r
        .resolve(&[
            conflict("2026-11-26T10:00:01Z", "2026-11-26T10:00:00Z"),
            conflict("2026-11-26T10:00:00Z", "2026-11-26T10:00:01Z"),
        ])
        .unwrap();
    assert_eq!(
        decisions,
        vec![
            Decision::Take("shopify".into()),
            Decision::Take("netsuite".into())
        ]
    );
    assert_eq!(r.guards().unwrap(), Vec::<String>::new());

    // A mapper-only plugin cannot be bound as a resolver.
    let panic = rt
        .load("panic", &std::fs::read(artifacts::HOSTILE_PANIC).unwrap())
        .unwrap();
    match rt.resolver(
        &panic,
        StoreCtx {
            store_id: "acme".into(),
            ..StoreCtx::default()
        },
    ) {
        Err(PluginError::WrongRole { wanted, store, .. }) => {
            assert_eq!(wanted, "resolver");
            assert_eq!(store, "acme");
        }
        other => panic!("expected WrongRole, got {:?}", other.err()),
    }

    // The input cap is checked before the plugin runs.
    let small = rt
        .mapper(
            &control,
            StoreCtx {
                store_id: "small".into(),
                config: Default::default(),
                limits: Limits {
                    max_input_bytes: 64,
                    ..Limits::default()
                },
            },
        )
        .unwrap();
    match small.to_canonical(&[doc("1"), doc("2")]) {
        Err(e @ PluginError::InputTooLarge { .. }) => {
            assert!(e.to_string().contains("store `small`"), "{e}");
        }
        other => panic!("expected InputTooLarge, got {other:?}"),
    }
}

fn write(dir: &Path, name: &str, value: serde_json::Value) {
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(&value).unwrap(),
    )
    .unwrap();
}

#[test]
fn fixtures_pass_fail_with_a_diff_and_expect_errors() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let input = json!({
        "call": "to-canonical",
        "config": {"key-prefix": "t/"},
        "input": [{"system": "shopify", "kind": "Customer", "id": "9", "version": "v",
                   "body": {"id": "9", "email": "x@example.com"}}]
    });
    write(dir.path(), "good.input.json", input.clone());
    write(
        dir.path(),
        "good.expected.json",
        json!([{"Mapped": [{"kind": "Customer", "key": "t/shopify:9",
                            "fields": {"id": "9", "email": "x@example.com"}}]}]),
    );
    write(dir.path(), "bad.input.json", input.clone());
    write(
        dir.path(),
        "bad.expected.json",
        json!([{"Mapped": [{"kind": "Customer", "key": "t/shopify:9",
                            "fields": {"id": "9", "email": "y@example.com"}}]}]),
    );
    let mut too_big = input;
    too_big["limits"] = json!({"max_input_bytes": 8});
    write(dir.path(), "limit.input.json", too_big);
    write(
        dir.path(),
        "limit.expected.json",
        json!({"error": "input_too_large", "message_contains": "exceeds the input limit of 8 bytes"}),
    );
    let report = run_fixtures(&rt, Path::new(artifacts::HOSTILE_CONTROL), dir.path()).unwrap();
    println!("{report}");
    assert_eq!((report.passed, report.failed), (2, 1));
    assert!(!report.success());
    let bad = report.cases.iter().find(|c| c.name == "bad").unwrap();
    assert_eq!(
        bad.diff,
        vec![r#"$[0].Mapped[0].fields.email: expected "y@example.com", got "x@example.com""#]
    );
    assert!(report.to_string().contains("FAIL  bad"));

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        run_fixtures(&rt, Path::new(artifacts::HOSTILE_CONTROL), empty.path()),
        Err(ToolError::NoFixtures(_))
    ));
}

/// Every stock plugin's fixtures (written against the native build) pass through its Wasm build.
#[test]
fn stock_plugins_pass_their_fixtures_as_wasm() {
    let rt = runtime();
    let stock_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/stock");
    let mut ran = 0;
    for (krate, dir_name) in artifacts::STOCK {
        let fixtures = stock_root.join(dir_name).join("fixtures");
        if !fixtures.is_dir() {
            continue;
        }
        let path = artifacts::ALL
            .iter()
            .find(|(name, _)| name == krate)
            .map(|(_, p)| *p)
            .unwrap();
        let report = run_fixtures(&rt, Path::new(path), &fixtures).unwrap();
        println!("{report}");
        assert!(report.success(), "{krate}: {report}");
        ran += report.passed;
    }
    println!("{ran} stock fixtures passed as wasm");
}

/// More concurrent calls than pool slots wait for a slot instead of failing; the on-demand
/// allocator (used when pooling cannot reserve its address space) behaves the same.
#[test]
fn calls_beyond_the_pool_wait_for_a_slot_and_on_demand_allocation_works() {
    for pooling in [true, false] {
        let rt = Runtime::new(RuntimeConfig {
            max_instances: 2,
            pooling,
            ..RuntimeConfig::default()
        })
        .unwrap();
        assert_eq!(rt.stats().pooling, pooling);
        let control = rt
            .load(
                "control",
                &std::fs::read(artifacts::HOSTILE_CONTROL).unwrap(),
            )
            .unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let m = rt
                    .mapper(
                        &control,
                        StoreCtx {
                            store_id: format!("store-{t}"),
                            ..StoreCtx::default()
                        },
                    )
                    .unwrap();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        let out = m.to_canonical(&[doc(&format!("{t}-{i}"))]).unwrap();
                        assert_eq!(out.len(), 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let stats = rt.stats();
        assert_eq!((stats.calls, stats.failures), (81, 0), "{stats:?}");
    }
}

/// The engine runs calls through `spawn_blocking`; that works on both tokio runtime flavours,
/// including a plugin that writes to stderr (which blocks on the ambient runtime inside WASI).
#[test]
fn calls_work_from_spawn_blocking_on_both_runtime_flavours() {
    let rt = runtime();
    let panic = rt
        .load("panic", &std::fs::read(artifacts::HOSTILE_PANIC).unwrap())
        .unwrap();
    let m = rt
        .mapper(
            &panic,
            StoreCtx {
                store_id: "s".into(),
                ..StoreCtx::default()
            },
        )
        .unwrap();
    for multi_thread in [false, true] {
        let tokio_rt = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        let m = m.clone();
        let result = tokio_rt.block_on(async move {
            tokio::task::spawn_blocking(move || m.to_canonical(&[doc("1")]))
                .await
                .unwrap()
        });
        match result {
            Err(PluginError::Trap { panic: Some(p), .. }) => {
                assert!(p.contains("panicked on purpose"), "{p}")
            }
            other => panic!("expected a trap with the panic message, got {other:?}"),
        }
    }
}
