//! What a plugin instance can reach: the WIT `host` interface (bounded log, read-only store
//! config) and WASI p2 with an empty, deterministic context: no preopens, env, args, sockets or
//! name lookup; stdout discarded; stderr captured into a bounded buffer (so a panic message
//! reaches the host); fixed wall and monotonic clocks; sleeps that return at once; seeded
//! randomness. Plus the per-store resource limiter.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::types::{Level, host};

/// The wall clock every plugin sees: 2000-01-01T00:00:00Z.
pub const FIXED_WALL_CLOCK: Duration = Duration::from_secs(946_684_800);
/// The monotonic clock every plugin sees (nanoseconds); it never advances.
pub const FIXED_MONOTONIC_CLOCK: u64 = 1_000_000_000;
/// The longest log line kept, in bytes (longer lines are cut).
pub const MAX_LOG_LINE: usize = 1024;
/// The most stderr text kept per call, in bytes.
pub const MAX_STDERR: usize = 8 * 1024;
/// The WASI version whose clock functions the runtime replaces.
const WASI_CLOCKS: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// One log line a plugin wrote during a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Severity as the plugin gave it.
    pub level: &'static str,
    /// The text, cut at [`MAX_LOG_LINE`] bytes.
    pub message: String,
}

/// The logs of one call, bounded by the store's `max_log_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallLog {
    /// The lines kept, in order.
    pub lines: Vec<LogLine>,
    /// Lines not kept because the call's log budget was spent.
    pub dropped: u64,
    /// Bytes kept.
    pub bytes: u64,
}

/// The data of one `Store`: everything a single batch call can touch.
pub(crate) struct StoreState {
    table: ResourceTable,
    wasi: WasiCtx,
    pub(crate) limiter: Limiter,
    pub(crate) log: CallLog,
    max_log_bytes: u64,
    config: Arc<serde_json::Map<String, serde_json::Value>>,
    pub(crate) stderr: Capture,
}

impl StoreState {
    pub(crate) fn new(
        config: Arc<serde_json::Map<String, serde_json::Value>>,
        memory_bytes: u64,
        max_log_bytes: u64,
        entropy: &Entropy,
    ) -> Self {
        let stderr = Capture::new(MAX_STDERR);
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone())
            .wall_clock(FixedWall)
            .monotonic_clock(FixedMonotonic)
            .secure_random(wasmtime_wasi::Deterministic::new(entropy.secure.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(entropy.insecure.to_vec()))
            .insecure_random_seed(entropy.seed)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        StoreState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            limiter: Limiter::new(memory_bytes),
            log: CallLog::default(),
            max_log_bytes,
            config,
            stderr,
        }
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if self.log.bytes + message.len() as u64 > self.max_log_bytes {
            self.log.dropped += 1;
            return;
        }
        self.log.bytes += message.len() as u64;
        self.log.lines.push(LogLine {
            level: level_name(level),
            message,
        });
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).map(|v| v.to_string())
    }
}

impl crate::types::bindings_types_host::Host for StoreState {}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Builds the linker every plugin is instantiated with: WASI p2 (empty context) plus the weft
/// host interface, with the monotonic clock's sleeps replaced by ones that are ready at once.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    host::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    crate::types::bindings_types_host::add_to_linker::<StoreState, HasSelf<StoreState>>(
        &mut linker,
        |s| s,
    )?;
    // wasmtime-wasi's sleeps wait in real time inside a host call, where the epoch deadline
    // cannot interrupt them. Time does not pass for a plugin, so a sleep is ready at once.
    linker.allow_shadowing(true);
    let mut clocks = linker.instance(WASI_CLOCKS)?;
    clocks.func_wrap(
        "subscribe-duration",
        |mut store: wasmtime::StoreContextMut<'_, StoreState>, (_nanos,): (u64,)| {
            Ok((ready_pollable(&mut store.data_mut().table)?,))
        },
    )?;
    clocks.func_wrap(
        "subscribe-instant",
        |mut store: wasmtime::StoreContextMut<'_, StoreState>, (_when,): (u64,)| {
            Ok((ready_pollable(&mut store.data_mut().table)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// A pollable that is always ready.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

fn ready_pollable(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

struct FixedWall;

impl wasmtime_wasi::HostWallClock for FixedWall {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

struct FixedMonotonic;

impl wasmtime_wasi::HostMonotonicClock for FixedMonotonic {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        FIXED_MONOTONIC_CLOCK
    }
}

/// The deterministic randomness every store gets, derived once from the runtime's seed.
pub(crate) struct Entropy {
    secure: Arc<[u8]>,
    insecure: Arc<[u8]>,
    seed: u128,
}

impl Entropy {
    pub(crate) fn new(seed: u64) -> Self {
        Entropy {
            secure: stream(seed, b"secure"),
            insecure: stream(seed, b"insecure"),
            seed: u128::from(seed) << 64 | u128::from(seed),
        }
    }
}

/// 2 KiB of bytes from a sha256 chain over the seed; `wasi:random` cycles through them.
fn stream(seed: u64, domain: &[u8]) -> Arc<[u8]> {
    use sha2::{Digest, Sha256};
    let mut bytes = Vec::with_capacity(32 * 64);
    let mut block = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(domain)
        .finalize();
    for _ in 0..64 {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    bytes.into()
}

/// The per-store resource limiter: caps linear memory and records when the cap was hit, so the
/// host can report `MemoryLimit` whatever the guest did after its allocation failed.
pub(crate) struct Limiter {
    memory_bytes: u64,
    /// The size a memory asked to grow to past the cap, if it did.
    pub(crate) memory_hit: Option<u64>,
}

/// Table elements per table; generous for Rust guests, small enough to bound host memory.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl Limiter {
    fn new(memory_bytes: u64) -> Self {
        Limiter {
            memory_bytes,
            memory_hit: None,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes {
            self.memory_hit = Some(desired as u64);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        8
    }
}

/// A bounded, shared capture of a guest's stderr. Writes past the bound are accepted and
/// counted but not kept, so a chatty guest neither fails nor grows host memory.
#[derive(Clone)]
pub(crate) struct Capture {
    inner: Arc<Mutex<CaptureBuf>>,
}

struct CaptureBuf {
    bytes: Vec<u8>,
    cap: usize,
    dropped: u64,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Capture {
            inner: Arc::new(Mutex::new(CaptureBuf {
                bytes: Vec::new(),
                cap,
                dropped: 0,
            })),
        }
    }

    fn push(&self, data: &[u8]) {
        let mut buf = self.inner.lock();
        let room = buf.cap.saturating_sub(buf.bytes.len());
        let keep = room.min(data.len());
        buf.bytes.extend_from_slice(&data[..keep]);
        buf.dropped += (data.len() - keep) as u64;
    }

    /// The captured text (lossy UTF-8), trimmed.
    pub(crate) fn text(&self) -> String {
        let buf = self.inner.lock();
        let mut text = String::from_utf8_lossy(&buf.bytes).trim().to_string();
        if buf.dropped > 0 {
            text.push_str(&format!(" […{} more bytes]", buf.dropped));
        }
        text
    }
}

impl wasmtime_wasi::cli::IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Turns a captured stderr into the guest's panic message, when it holds one: Rust's default
/// hook prints `thread '…' panicked at file:line:col:\nmessage`.
pub(crate) fn panic_message(stderr: &str) -> Option<String> {
    if stderr.is_empty() {
        return None;
    }
    if let Some(at) = stderr.find("panicked at ") {
        let rest = &stderr[at + "panicked at ".len()..];
        let (location, message) = match rest.split_once('\n') {
            Some((loc, msg)) => (loc.trim_end_matches(':'), msg),
            None => (rest, ""),
        };
        let message = message
            .lines()
            .take_while(|l| !l.starts_with("note:"))
            .collect::<Vec<_>>()
            .join("\n");
        return Some(format!("{} (at {location})", message.trim()));
    }
    Some(stderr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_extracted_from_rust_stderr() {
        let stderr = "thread '<unnamed>' panicked at src/lib.rs:12:9:\nboom 3\nnote: run with `RUST_BACKTRACE=1`";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("boom 3 (at src/lib.rs:12:9)")
        );
        assert_eq!(panic_message(""), None);
        assert_eq!(panic_message("other").as_deref(), Some("other"));
    }

    #[test]
    fn capture_is_bounded_and_counts_the_rest() {
        let c = Capture::new(4);
        c.push(b"abcdef");
        assert_eq!(c.text(), "abcd […2 more bytes]");
    }

    #[test]
    fn log_lines_are_cut_and_the_budget_counts_drops() {
        let mut s = StoreState::new(Arc::default(), 1 << 20, 2000, &Entropy::new(1));
        host::Host::log(&mut s, Level::Info, "x".repeat(5000));
        assert_eq!(s.log.lines[0].message.chars().count(), MAX_LOG_LINE + 1);
        host::Host::log(&mut s, Level::Info, "y".repeat(900));
        host::Host::log(&mut s, Level::Info, "z".repeat(900));
        assert_eq!(s.log.lines.len(), 1 + 1);
        assert_eq!(s.log.dropped, 1);
    }
}
