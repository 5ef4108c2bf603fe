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
use wasmtime::AsContext as _;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable, WasmStr};
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
    /// The text, escaped (see [`escape_log`]: no newline or other control character survives,
    /// so a message can never forge a log line) and cut at [`MAX_LOG_LINE`] bytes (then ending
    /// in `…`).
    pub message: String,
}

/// What one log record costs against a call's `max_log_bytes` on top of its text: the level,
/// the store and plugin tags and the line break every record carries when printed. So empty
/// lines are not free.
pub const LOG_RECORD_OVERHEAD: u64 = 64;

/// The logs of one call, bounded by the store's `max_log_bytes` and the runtime's
/// `max_log_records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallLog {
    /// The lines kept, in order.
    pub lines: Vec<LogLine>,
    /// Lines not kept because the call's log budget (bytes or records) was spent.
    pub dropped: u64,
    /// Bytes charged for the lines kept: their text plus [`LOG_RECORD_OVERHEAD`] each.
    pub bytes: u64,
}

/// Escapes a plugin's log text for one log line: `\n`, `\r`, `\t` and every other control
/// character (C0, DEL, C1, U+2028/U+2029) as `\u{..}`. Stops once `max` output bytes are
/// written; returns whether it stopped early.
pub fn escape_log(text: &str, max: usize, out: &mut String) -> bool {
    for c in text.chars() {
        if out.len() >= max {
            return true;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    false
}

/// The data of one `Store`: everything a single batch call can touch.
pub(crate) struct StoreState {
    table: ResourceTable,
    wasi: WasiCtx,
    pub(crate) limiter: Limiter,
    pub(crate) log: CallLog,
    max_log_bytes: u64,
    max_log_records: u64,
    config: Arc<serde_json::Map<String, serde_json::Value>>,
    pub(crate) stderr: Capture,
}

/// The per-call budgets of a store's state.
pub(crate) struct StateLimits {
    pub(crate) memory_bytes: u64,
    pub(crate) max_log_bytes: u64,
    pub(crate) max_log_records: u64,
}

impl StoreState {
    /// `seed` is the call's randomness seed (see [`call_seed`]).
    pub(crate) fn new(
        config: Arc<serde_json::Map<String, serde_json::Value>>,
        limits: StateLimits,
        seed: [u8; 32],
    ) -> Self {
        let stderr = Capture::new(MAX_STDERR);
        let mut wasi = WasiCtx::builder();
        // stdout is not inherited: it goes to the same bounded capture as stderr (never to
        // the host's own stdout, where it could corrupt `--json` output or forge log lines).
        wasi.stdout(stderr.clone())
            .stderr(stderr.clone())
            .wall_clock(FixedWall)
            .monotonic_clock(FixedMonotonic)
            .secure_random(CallRng::new(&seed, b"secure"))
            .insecure_random(CallRng::new(&seed, b"insecure"))
            .insecure_random_seed(u128::from_le_bytes(
                seed[..16].try_into().expect("16 bytes"),
            ))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        StoreState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            limiter: Limiter::new(limits.memory_bytes),
            log: CallLog::default(),
            max_log_bytes: limits.max_log_bytes,
            max_log_records: limits.max_log_records,
            config,
            stderr,
        }
    }

    /// Whether another record could still be kept.
    fn log_full(&self) -> bool {
        self.log.lines.len() as u64 >= self.max_log_records
            || self.log.bytes + LOG_RECORD_OVERHEAD > self.max_log_bytes
    }

    /// Keeps one record (already escaped and cut) if the budget allows, else counts it.
    fn push_log(&mut self, level: Level, message: String) {
        let cost = message.len() as u64 + LOG_RECORD_OVERHEAD;
        if self.log.lines.len() as u64 >= self.max_log_records
            || self.log.bytes + cost > self.max_log_bytes
        {
            self.log.dropped += 1;
            return;
        }
        self.log.bytes += cost;
        self.log.lines.push(LogLine {
            level: level_name(level),
            message,
        });
    }
}

/// Cuts and escapes a raw log message into what is kept.
fn log_text(raw: &str) -> String {
    let mut message = String::with_capacity(raw.len().min(MAX_LOG_LINE) + 8);
    if escape_log(raw, MAX_LOG_LINE, &mut message) || message.len() > MAX_LOG_LINE {
        let mut cut = MAX_LOG_LINE.min(message.len());
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The bindings' host trait. The linker replaces its `log` with [`log_lazily`], which reads
/// the message in place; this one serves the native tests.
impl host::Host for StoreState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_full() {
            self.log.dropped += 1;
            return;
        }
        let text = log_text(&message);
        self.push_log(level, text);
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).map(|v| v.to_string())
    }
}

/// `host.log` as linked: the message is read in place in the guest's memory and only its first
/// [`MAX_LOG_LINE`] bytes are copied (escaped), so a 48 MiB line never exists in host memory;
/// once the budget is spent a line is counted without being read at all.
fn log_lazily(
    mut store: wasmtime::StoreContextMut<'_, StoreState>,
    (level, message): (Level, WasmStr),
) -> wasmtime::Result<()> {
    if store.data().log_full() {
        store.data_mut().log.dropped += 1;
        return Ok(());
    }
    let text = {
        let raw = message.to_str(store.as_context())?;
        log_text(&raw)
    };
    store.data_mut().push_log(level, text);
    Ok(())
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
    linker.allow_shadowing(true);
    linker
        .instance(crate::types::HOST_IMPORT)?
        .func_wrap("log", log_lazily)?;
    linker.allow_shadowing(false);
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

/// The seed of one call's randomness: a digest of the runtime's seed, the store, the plugin,
/// the call and the call's whole input. Same store, plugin and batch: same stream (replay
/// reproduces a run); another store or another batch: another stream.
pub(crate) fn call_seed(
    runtime_seed: u64,
    store_id: &str,
    plugin_hash: &str,
    call: &str,
    input_digest: &[u8; 32],
) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"weft-random-v1\0");
    h.update(runtime_seed.to_le_bytes());
    for part in [store_id, plugin_hash, call] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(input_digest);
    h.finalize().into()
}

/// A deterministic random stream that does not repeat: SHA-256 in counter mode over a per-call
/// key (2^64 blocks of 32 bytes before the counter wraps).
pub(crate) struct CallRng {
    key: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl CallRng {
    pub(crate) fn new(seed: &[u8; 32], domain: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        CallRng {
            key: Sha256::new()
                .chain_update(seed)
                .chain_update(domain)
                .finalize()
                .into(),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn next_byte(&mut self) -> u8 {
        use sha2::{Digest, Sha256};
        if self.used == 32 {
            self.block = Sha256::new()
                .chain_update(self.key)
                .chain_update(self.counter.to_le_bytes())
                .finalize()
                .into();
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let b = self.block[self.used];
        self.used += 1;
        b
    }
}

impl rand_core::TryRng for CallRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.next_byte();
        }
        Ok(())
    }
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
        return Some(one_line(&format!("{} (at {location})", message.trim())));
    }
    Some(one_line(stderr))
}

/// A guest's text on one line (errors are printed in the host's logs; see [`escape_log`]).
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_log(text, usize::MAX, &mut out);
    out
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
        // A multi-line panic message stays on one line (it is printed in the host's logs).
        let forged = "thread 'x' panicked at a.rs:1:1:\nboom\n2026-12-04 ERROR store=victim forged";
        assert_eq!(
            panic_message(forged).as_deref(),
            Some("boom\\n2026-12-04 ERROR store=victim forged (at a.rs:1:1)")
        );
    }

    #[test]
    fn capture_is_bounded_and_counts_the_rest() {
        let c = Capture::new(4);
        c.push(b"abcdef");
        assert_eq!(c.text(), "abcd […2 more bytes]");
    }

    #[test]
    fn log_lines_are_cut_and_the_budget_counts_drops() {
        // Budget: the 1 KiB line (1,027 bytes with its `…`) and one 900-byte line, each plus
        // the record overhead, fit in 2,200 bytes; a second 900-byte line does not.
        let mut s = state(2200, 256);
        host::Host::log(&mut s, Level::Info, "x".repeat(5000));
        assert_eq!(s.log.lines[0].message.chars().count(), MAX_LOG_LINE + 1);
        host::Host::log(&mut s, Level::Info, "y".repeat(900));
        host::Host::log(&mut s, Level::Info, "z".repeat(900));
        assert_eq!(s.log.lines.len(), 1 + 1);
        assert_eq!(s.log.dropped, 1);
        assert_eq!(s.log.bytes, 1027 + 900 + 2 * LOG_RECORD_OVERHEAD);
    }

    fn state(max_log_bytes: u64, max_log_records: u64) -> StoreState {
        StoreState::new(
            Arc::default(),
            StateLimits {
                memory_bytes: 1 << 20,
                max_log_bytes,
                max_log_records,
            },
            [7; 32],
        )
    }

    #[test]
    fn empty_and_tiny_lines_are_not_free_and_records_are_capped() {
        let mut s = state(16 * 1024, 1_000_000);
        for _ in 0..100_000 {
            host::Host::log(&mut s, Level::Info, String::new());
        }
        assert_eq!(s.log.lines.len() as u64, 16 * 1024 / LOG_RECORD_OVERHEAD);
        assert_eq!(s.log.dropped + s.log.lines.len() as u64, 100_000);
        let mut s = state(16 * 1024, 100);
        for _ in 0..100_000 {
            host::Host::log(&mut s, Level::Info, "x".into());
        }
        assert_eq!(s.log.lines.len(), 100);
        assert!(s.log.bytes <= 16 * 1024);
    }

    #[test]
    fn newlines_and_control_characters_are_escaped() {
        let mut s = state(16 * 1024, 256);
        host::Host::log(
            &mut s,
            Level::Info,
            "ok\n2026-12-04 ERROR store=victim forged\r\t\u{1b}[31m\u{85}\u{2028}".into(),
        );
        let m = &s.log.lines[0].message;
        assert_eq!(
            m,
            "ok\\n2026-12-04 ERROR store=victim forged\\r\\t\\u{1b}[31m\\u{85}\\u{2028}"
        );
        assert!(!m.chars().any(|c| c.is_control()));
    }

    #[test]
    fn call_randomness_does_not_repeat_and_depends_on_the_seed() {
        use rand_core::TryRng;
        let seed = call_seed(1, "store-a", "abc", "to-canonical", &[0; 32]);
        let mut a = CallRng::new(&seed, b"secure");
        let mut bytes = vec![0u8; 64 * 1024];
        a.try_fill_bytes(&mut bytes).unwrap();
        // No 32-byte block repeats.
        let mut blocks: Vec<&[u8]> = bytes.chunks(32).collect();
        blocks.sort();
        blocks.dedup();
        assert_eq!(blocks.len(), 64 * 1024 / 32);
        let mut again = CallRng::new(&seed, b"secure");
        let mut same = vec![0u8; 64 * 1024];
        again.try_fill_bytes(&mut same).unwrap();
        assert_eq!(bytes, same, "same seed, same stream");
        let other = call_seed(1, "store-b", "abc", "to-canonical", &[0; 32]);
        assert_ne!(seed, other);
        assert_ne!(
            seed,
            call_seed(1, "store-a", "abc", "to-canonical", &[1; 32])
        );
    }
}
