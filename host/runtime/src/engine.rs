//! The [`Runtime`]: one wasmtime engine (pooling allocator, epoch interruption driven by a ticker
//! thread, optional fuel), one linker with only the weft host interface and an empty WASI, the
//! compile-once cache, and the slot gate in front of instantiation.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::DiskCache;
use crate::config::{Limits, RuntimeConfig};
use crate::error::{PluginError, PluginRef, RuntimeError};
use crate::host_impl::{StoreState, linker};
use crate::plugin::{LoadSource, MapperInstance, Plugin, ResolverInstance, Role, StoreCtx};
use crate::pool::{GuestPool, JobPanicked};

/// The plugin runtime. Cheap to share (`Send + Sync`).
///
/// Every guest execution runs on the runtime's own guest threads (see `pool`), never on the
/// caller's thread, so every method is safe to call from anywhere, inside an async task
/// included: a plugin that writes to stdout/stderr, panics or hits a limit cannot reach the
/// caller's tokio runtime. The blocking methods block the calling thread until the guest thread
/// is done; in async code prefer the `*_async` forms, which await it instead.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    pub(crate) config: RuntimeConfig,
    pub(crate) pooling: bool,
    cache: Option<DiskCache>,
    pub(crate) pool: Arc<GuestPool>,
    compiled: Mutex<HashMap<String, Component>>,
    pub(crate) slots: Slots,
    /// Compile threads running (abandoned ones included), bounded by
    /// `RuntimeConfig::max_concurrent_compiles`.
    compiling: Arc<(Mutex<usize>, Condvar)>,
    pub(crate) stats: Counters,
    _ticker: Ticker,
}

/// Counters of what the runtime did since it started.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) compiles: AtomicU64,
    pub(crate) cache_loads: AtomicU64,
    pub(crate) memory_loads: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) refused_loads: AtomicU64,
    pub(crate) abandoned_compiles: AtomicU64,
}

/// A snapshot of the runtime's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuntimeStats {
    /// Components compiled from source bytes.
    pub compiles: u64,
    /// Components loaded precompiled from the disk cache.
    pub cache_loads: u64,
    /// Loads answered by a component already compiled in this process.
    pub memory_loads: u64,
    /// Batch calls made.
    pub calls: u64,
    /// Batch calls that failed (any `PluginError`).
    pub failures: u64,
    /// Loads refused before or while compiling (too large, compile budget spent, invalid,
    /// contract mismatch); none of them was cached.
    pub refused_loads: u64,
    /// Compilations given up after the compile budget (their threads finish in the background).
    pub abandoned_compiles: u64,
    /// Compile threads running now (abandoned ones included).
    pub compiling: u64,
    /// Whether the pooling allocator is in use.
    pub pooling: bool,
}

impl Runtime {
    /// Creates the engine, the linker and the epoch ticker, and opens the cache directory.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        if config.max_instances == 0 {
            return Err(RuntimeError::Config(
                "max_instances must be at least 1".into(),
            ));
        }
        if config.epoch_tick.is_zero() {
            return Err(RuntimeError::Config("epoch_tick must be positive".into()));
        }
        let (engine, pooling) = match build_engine(&config, config.pooling) {
            Ok(engine) => (engine, config.pooling),
            Err(e) if config.pooling => {
                tracing::warn!(error = %e, "pooling allocator unavailable; using on-demand allocation");
                (build_engine(&config, false)?, false)
            }
            Err(e) => return Err(e),
        };
        let linker = linker(&engine).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let cache =
            match &config.cache_dir {
                Some(dir) => Some(DiskCache::open(dir, &engine).map_err(|source| {
                    RuntimeError::CacheDir {
                        path: dir.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        let ticker = Ticker::start(engine.clone(), config.epoch_tick);
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                pooling,
                cache,
                // One thread per concurrent call (calls past the instance slots wait for a
                // slot anyway), plus a few for loads.
                pool: GuestPool::new(config.max_instances as usize + 8),
                compiled: Mutex::new(HashMap::new()),
                slots: Slots::new(config.max_instances as usize),
                compiling: Arc::new((Mutex::new(0), Condvar::new())),
                stats: Counters::default(),
                config,
                _ticker: ticker,
            }),
        })
    }

    /// Loads a component: compiles it (or takes it from the in-process or on-disk cache),
    /// checks it against the WIT contract, detects its role and reads its info. A component
    /// that does not match the contract fails here with `InterfaceMismatch`, not at a call.
    ///
    /// Bounded: a component over [`RuntimeConfig::max_component_bytes`] is refused with
    /// `TooLarge` before compiling, and compiling past [`RuntimeConfig::compile_timeout`] fails
    /// with `CompileTimeout`. Only a component that loaded completely is cached (in memory and
    /// on disk). Blocks the calling thread (the work runs on a guest thread); from async code use
    /// [`Runtime::load_async`] or [`Runtime::load_in_background`].
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        let rt = self.clone();
        let (name, bytes) = (name.to_string(), Arc::<[u8]>::from(bytes));
        let plugin = PluginRef {
            name: name.clone(),
            hash: "-".into(),
        };
        self.inner
            .pool
            .run(move || rt.load_here(&name, &bytes))
            .unwrap_or_else(|p| Err(load_panicked(plugin, p)))
    }

    /// [`Runtime::load`] for async code: the future resolves when the component is compiled,
    /// checked and probed (on guest and compile threads; the caller's executor is not blocked).
    pub async fn load_async(
        &self,
        name: &str,
        bytes: impl Into<Arc<[u8]>>,
    ) -> Result<Arc<Plugin>, PluginError> {
        let rt = self.clone();
        let (name, bytes) = (name.to_string(), bytes.into());
        let plugin = PluginRef {
            name: name.clone(),
            hash: "-".into(),
        };
        self.inner
            .pool
            .run_async(move || rt.load_here(&name, &bytes))
            .await
            .unwrap_or_else(|p| Err(load_panicked(plugin, p)))
    }

    /// Starts loading a component and returns at once with a handle that resolves when it is
    /// loaded (or refused). For start-up: a host can start every store whose plugins are ready
    /// and let a store whose plugin is still compiling wait on [`PendingPlugin::ready`].
    pub fn load_in_background(&self, name: &str, bytes: impl Into<Arc<[u8]>>) -> PendingPlugin {
        let pending = PendingPlugin {
            name: name.to_string(),
            shared: Arc::new(PendingShared {
                result: Mutex::new(None),
                done: Condvar::new(),
                notify: tokio::sync::Notify::new(),
            }),
        };
        let rt = self.clone();
        let (name, bytes) = (name.to_string(), bytes.into());
        let shared = pending.shared.clone();
        let plugin = PluginRef {
            name: name.clone(),
            hash: "-".into(),
        };
        self.inner.pool.spawn(
            move || rt.load_here(&name, &bytes),
            move |result| {
                let result = result.unwrap_or_else(|p| Err(load_panicked(plugin, p)));
                *shared.result.lock() = Some(result);
                shared.done.notify_all();
                shared.notify.notify_waiters();
            },
        );
        pending
    }

    /// The work of a load, on the current (guest) thread.
    fn load_here(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        let result = self.load_checked(name, bytes);
        if result.is_err() {
            self.inner
                .stats
                .refused_loads
                .fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn load_checked(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        let started = Instant::now();
        let hash = hex::encode(Sha256::digest(bytes));
        let plugin = PluginRef {
            name: name.to_string(),
            hash: hash[..12].to_string(),
        };
        let max = self.inner.config.max_component_bytes;
        if bytes.len() as u64 > max {
            return Err(PluginError::TooLarge {
                plugin,
                limit: max,
                actual: bytes.len() as u64,
            });
        }
        let (component, source, precompiled) = self.component(&plugin, &hash, bytes)?;
        let loaded = Plugin::new(
            self.clone(),
            plugin,
            hash.clone(),
            component.clone(),
            source,
            started,
        )?;
        // Only now, checked against the contract and probed, is it worth keeping.
        self.inner.compiled.lock().insert(hash.clone(), component);
        if let (Some(cache), Some(bytes)) = (&self.inner.cache, precompiled) {
            cache.store(&hash, &bytes);
        }
        tracing::info!(
            plugin = %loaded.reference(),
            role = ?loaded.role(),
            source = ?loaded.load_source(),
            millis = loaded.load_time().as_secs_f64() * 1e3,
            "plugin loaded"
        );
        Ok(Arc::new(loaded))
    }

    /// Loads a component from a file (see [`Runtime::load`]); the name is the file stem.
    pub fn load_file(&self, path: &std::path::Path) -> Result<Arc<Plugin>, PluginError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".to_string());
        let plugin = PluginRef {
            name: name.clone(),
            hash: "-".into(),
        };
        let max = self.inner.config.max_component_bytes;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.len() > max
        {
            return Err(PluginError::TooLarge {
                plugin,
                limit: max,
                actual: meta.len(),
            });
        }
        let bytes = std::fs::read(path).map_err(|e| PluginError::Invalid {
            plugin,
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        self.load(&name, &bytes)
    }

    /// A mapper bound to one store: its id, config and limits.
    pub fn mapper(
        &self,
        plugin: &Arc<Plugin>,
        ctx: StoreCtx,
    ) -> Result<MapperInstance, PluginError> {
        plugin.require(Role::Mapper, &ctx.store_id)?;
        Ok(MapperInstance::new(plugin.clone(), self.bind(ctx)))
    }

    /// A resolver bound to one store: its id, config and limits.
    pub fn resolver(
        &self,
        plugin: &Arc<Plugin>,
        ctx: StoreCtx,
    ) -> Result<ResolverInstance, PluginError> {
        plugin.require(Role::Resolver, &ctx.store_id)?;
        Ok(ResolverInstance::new(plugin.clone(), self.bind(ctx)))
    }

    fn bind(&self, mut ctx: StoreCtx) -> StoreCtx {
        ctx.limits = self.effective_limits(&ctx.limits);
        ctx
    }

    /// The limits a store actually runs under: memory is capped at the runtime's
    /// `max_memory_bytes`, the stack is the engine's, and a store without a fuel budget gets the
    /// runtime's `default_fuel` (fuel is always metered).
    pub fn effective_limits(&self, limits: &Limits) -> Limits {
        let c = &self.inner.config;
        let mut l = limits.clone();
        if l.memory_bytes > c.max_memory_bytes {
            tracing::warn!(
                asked = l.memory_bytes,
                max = c.max_memory_bytes,
                "store memory limit above the runtime maximum; capped"
            );
            l.memory_bytes = c.max_memory_bytes;
        }
        l.stack_bytes = c.max_stack_bytes;
        l.fuel = Some(l.fuel.unwrap_or(c.default_fuel));
        l
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Counters since start.
    pub fn stats(&self) -> RuntimeStats {
        let s = &self.inner.stats;
        RuntimeStats {
            compiles: s.compiles.load(Ordering::Relaxed),
            cache_loads: s.cache_loads.load(Ordering::Relaxed),
            memory_loads: s.memory_loads.load(Ordering::Relaxed),
            calls: s.calls.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            refused_loads: s.refused_loads.load(Ordering::Relaxed),
            abandoned_compiles: s.abandoned_compiles.load(Ordering::Relaxed),
            compiling: *self.inner.compiling.0.lock() as u64,
            pooling: self.inner.pooling,
        }
    }

    /// The compiled component: from memory, the disk cache, or compiled now under the compile
    /// budget. Returns the precompiled bytes when it compiled them, for the caller to cache once
    /// the component has passed its checks.
    #[allow(clippy::type_complexity)]
    fn component(
        &self,
        plugin: &PluginRef,
        hash: &str,
        bytes: &[u8],
    ) -> Result<(Component, LoadSource, Option<Vec<u8>>), PluginError> {
        let inner = &self.inner;
        if let Some(c) = inner.compiled.lock().get(hash) {
            inner.stats.memory_loads.fetch_add(1, Ordering::Relaxed);
            return Ok((c.clone(), LoadSource::Memory, None));
        }
        if let Some(c) = inner
            .cache
            .as_ref()
            .and_then(|d| d.load(&inner.engine, hash))
        {
            inner.stats.cache_loads.fetch_add(1, Ordering::Relaxed);
            return Ok((c, LoadSource::Cache, None));
        }
        if Engine::detect_precompiled(bytes).is_some() {
            return Err(PluginError::Invalid {
                plugin: plugin.clone(),
                detail: "precompiled artifacts are not accepted; give the .wasm component".into(),
            });
        }
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            plugin: plugin.clone(),
            detail: format!("{e:#}"),
        };
        let precompiled = self.compile_bounded(plugin, bytes)?.map_err(invalid)?;
        let component =
            crate::cache::deserialize_own(&inner.engine, &precompiled).map_err(invalid)?;
        inner.stats.compiles.fetch_add(1, Ordering::Relaxed);
        Ok((component, LoadSource::Compiled, Some(precompiled)))
    }

    /// Compiles on a thread of its own and waits at most the compile budget. Cranelift cannot be
    /// interrupted: past the budget the thread is abandoned (it runs to completion in the
    /// background, its result dropped) and the load fails with `CompileTimeout`.
    fn compile_bounded(
        &self,
        plugin: &PluginRef,
        bytes: &[u8],
    ) -> Result<wasmtime::Result<Vec<u8>>, PluginError> {
        let inner = &self.inner;
        let budget = inner.config.compile_budget(bytes.len() as u64);
        let deadline = Instant::now() + budget;
        // A compile slot: abandoned compilations keep theirs until they finish, so a flood of
        // slow components cannot pile up threads burning CPU; a load waits for a slot within
        // its own budget.
        {
            let (count, freed) = &*inner.compiling;
            let mut running = count.lock();
            while *running >= inner.config.max_concurrent_compiles.max(1) {
                if freed.wait_until(&mut running, deadline).timed_out() {
                    tracing::warn!(plugin = %plugin, "no compile slot within the compile budget; refused");
                    return Err(PluginError::CompileTimeout {
                        plugin: plugin.clone(),
                        limit: budget,
                    });
                }
            }
            *running += 1;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let engine = inner.engine.clone();
        let source = bytes.to_vec();
        let slot = inner.compiling.clone();
        let release = move || {
            let (count, freed) = &*slot;
            *count.lock() -= 1;
            freed.notify_one();
        };
        let spawned = std::thread::Builder::new()
            .name("weft-compile".into())
            .spawn({
                let release = release.clone();
                move || {
                    let result = engine.precompile_component(&source);
                    release();
                    let _ = tx.send(result);
                }
            });
        if let Err(e) = spawned {
            release();
            return Err(PluginError::Invalid {
                plugin: plugin.clone(),
                detail: format!("cannot start a compile thread: {e}"),
            });
        }
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                inner
                    .stats
                    .abandoned_compiles
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    plugin = %plugin,
                    budget_ms = budget.as_millis() as u64,
                    "plugin compilation over budget; refused (the compile thread is abandoned)"
                );
                Err(PluginError::CompileTimeout {
                    plugin: plugin.clone(),
                    limit: budget,
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(PluginError::Invalid {
                plugin: plugin.clone(),
                detail: "the compiler panicked".into(),
            }),
        }
    }
}

fn load_panicked(plugin: PluginRef, p: JobPanicked) -> PluginError {
    PluginError::Invalid {
        plugin,
        detail: format!("the host panicked while loading it: {}", p.0),
    }
}

/// A plugin being loaded in the background ([`Runtime::load_in_background`]). Cheap to clone;
/// every clone sees the same result.
#[derive(Clone)]
pub struct PendingPlugin {
    name: String,
    shared: Arc<PendingShared>,
}

struct PendingShared {
    result: Mutex<Option<Result<Arc<Plugin>, PluginError>>>,
    done: Condvar,
    notify: tokio::sync::Notify,
}

impl std::fmt::Debug for PendingPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingPlugin")
            .field("name", &self.name)
            .field("ready", &self.shared.result.lock().is_some())
            .finish()
    }
}

impl PendingPlugin {
    /// The name it is loaded under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The result if loading has finished, without waiting.
    pub fn try_get(&self) -> Option<Result<Arc<Plugin>, PluginError>> {
        self.shared.result.lock().clone()
    }

    /// Waits (without blocking the executor) until loading has finished.
    pub async fn ready(&self) -> Result<Arc<Plugin>, PluginError> {
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = self.try_get() {
                return r;
            }
            notified.await;
        }
    }

    /// Blocks the calling thread until loading has finished.
    pub fn wait(&self) -> Result<Arc<Plugin>, PluginError> {
        let mut result = self.shared.result.lock();
        loop {
            if let Some(r) = result.as_ref() {
                return r.clone();
            }
            self.shared.done.wait(&mut result);
        }
    }
}

fn build_engine(config: &RuntimeConfig, pooling: bool) -> Result<Engine, RuntimeError> {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        // Fuel is always metered: the deterministic limit (see `RuntimeConfig::default_fuel`).
        .consume_fuel(true)
        .max_wasm_stack(config.max_stack_bytes as usize)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        // Same input, same output: NaNs are canonicalised so float code is deterministic.
        .cranelift_nan_canonicalization(true);
    if pooling {
        let n = config.max_instances;
        let mut p = PoolingAllocationConfig::default();
        p.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_memory_size(config.max_memory_bytes as usize)
            // A fresh instance per batch re-touches its heap every call; keeping the first
            // pages of a reused slot resident (zeroed with memset instead of madvise) saves
            // those page faults.
            .linear_memory_keep_resident(config.keep_resident_bytes as usize)
            .table_keep_resident(64 * 1024);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    Engine::new(&c).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}

/// Advances the engine's epoch every tick until dropped.
struct Ticker {
    _stop: mpsc::Sender<()>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Ticker {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker thread");
        Ticker { _stop: stop }
    }
}

/// A counting gate in front of instantiation, sized to the pool, so a burst waits for a slot
/// instead of failing with an exhausted pool.
pub(crate) struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

pub(crate) struct SlotGuard<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Self {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    pub(crate) fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.freed.notify_one();
    }
}
