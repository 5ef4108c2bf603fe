//! Host memory under the two attacks that used to make the host copy what the plugin made:
//! a 48 MiB log line (it was cut at 1 KiB for output but held whole, ~800 MB RSS for one call
//! in production) and 96 MiB of output against an 8 MiB cap (copied before the size check).
//!
//! Bound asserted: the log line costs the host ~1 KiB; the refused output at most the output cap
//! (the strings that fit before the one that crossed it), never what the plugin made.
//!
//! A counting global allocator measures the host's heap; a guest's linear memory is mapped by
//! wasmtime outside it, so the figure is what the *host* allocated. One test in this binary, so
//! nothing else allocates meanwhile.

// The counting allocator is the one unsafe impl here (forwarding to `System`); the crate
// denies unsafe code, so it is allowed for this test binary only.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use weft_plugin_artifacts as artifacts;
use weft_runtime::types::{EntityKind, PlatformDoc};
use weft_runtime::{Limits, PluginError, Runtime, RuntimeConfig, StoreCtx};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// Delegates to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1024 * 1024;

fn doc() -> PlatformDoc {
    PlatformDoc {
        system: "shopify".into(),
        kind: EntityKind::Product,
        id: "1".into(),
        version: "2026-11-26T22:00:00Z".into(),
        body: r#"{"id":"1"}"#.into(),
    }
}

/// Peak heap growth over the live heap while `f` runs.
fn peak_growth<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

#[test]
fn huge_log_lines_and_huge_outputs_are_never_copied_into_the_host() {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let store = |path: &str, attack: &str, limits: Limits| {
        let plugin = rt.load("p", &std::fs::read(path).unwrap()).unwrap();
        let mut config = serde_json::Map::new();
        config.insert("attack".into(), Value::String(attack.into()));
        rt.mapper(
            &plugin,
            StoreCtx {
                store_id: "memory".into(),
                config,
                limits,
            },
        )
        .unwrap()
    };
    let limits = Limits {
        memory_bytes: 200 * MIB as u64,
        max_output_bytes: 8 * MIB as u64,
        ..Limits::default()
    };

    let flood = store(artifacts::HOSTILE_LOG_FLOOD, "huge-line", limits.clone());
    let (r, grew) = peak_growth(|| flood.to_canonical_with_report(&[doc()]));
    let (_, report) = r.unwrap();
    assert_eq!(report.log.lines.len(), 1);
    println!(
        "48 MiB log line: host heap grew by at most {:.2} MiB (kept {} bytes of it)",
        grew as f64 / MIB as f64,
        report.log.lines[0].message.len()
    );
    assert!(
        grew < 4 * MIB,
        "the host allocated {grew} bytes for one log line"
    );

    let huge = store(artifacts::HOSTILE_BAD_OUTPUT, "huge-output", limits);
    let (r, grew) = peak_growth(|| huge.to_canonical(&[doc()]));
    assert!(
        matches!(r, Err(PluginError::OutputTooLarge { .. })),
        "{r:?}"
    );
    println!(
        "96 MiB output over an 8 MiB cap: host heap grew by at most {:.2} MiB",
        grew as f64 / MIB as f64
    );
    // What fits under the cap may have been copied before the item that crossed it (the check
    // runs per string and list, before each copy): never more than the cap, never the 96 MiB.
    assert!(
        grew < 8 * MIB + MIB,
        "the host allocated {grew} bytes refusing the output"
    );
}
