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
use crate::host_impl::{Entropy, StoreState, linker};
use crate::plugin::{LoadSource, MapperInstance, Plugin, ResolverInstance, Role, StoreCtx};

/// The plugin runtime. Cheap to share (`Send + Sync`); calls are synchronous and meant to run
/// on blocking threads (`tokio::task::spawn_blocking`).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    pub(crate) config: RuntimeConfig,
    pub(crate) pooling: bool,
    pub(crate) entropy: Entropy,
    cache: Option<DiskCache>,
    compiled: Mutex<HashMap<String, Component>>,
    pub(crate) slots: Slots,
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
                entropy: Entropy::new(config.random_seed),
                cache,
                compiled: Mutex::new(HashMap::new()),
                slots: Slots::new(config.max_instances as usize),
                stats: Counters::default(),
                config,
                _ticker: ticker,
            }),
        })
    }

    /// Loads a component: compiles it (or takes it from the in-process or on-disk cache),
    /// checks it against the WIT contract, detects its role and reads its info. A component
    /// that does not match the contract fails here with `InterfaceMismatch`, not at a call.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        let started = Instant::now();
        let hash = hex::encode(Sha256::digest(bytes));
        let plugin = PluginRef {
            name: name.to_string(),
            hash: hash[..12].to_string(),
        };
        let (component, source) = self.component(&plugin, &hash, bytes)?;
        let loaded = Plugin::new(self.clone(), plugin, hash, component, source, started)?;
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
        let bytes = std::fs::read(path).map_err(|e| PluginError::Invalid {
            plugin: PluginRef {
                name: name.clone(),
                hash: "-".into(),
            },
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
    /// `max_memory_bytes`, the stack is the engine's, and fuel is dropped when the engine does
    /// not meter it.
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
        if !c.fuel_metering {
            l.fuel = None;
        }
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
            pooling: self.inner.pooling,
        }
    }

    fn component(
        &self,
        plugin: &PluginRef,
        hash: &str,
        bytes: &[u8],
    ) -> Result<(Component, LoadSource), PluginError> {
        let inner = &self.inner;
        if let Some(c) = inner.compiled.lock().get(hash) {
            inner.stats.memory_loads.fetch_add(1, Ordering::Relaxed);
            return Ok((c.clone(), LoadSource::Memory));
        }
        if let Some(c) = inner
            .cache
            .as_ref()
            .and_then(|d| d.load(&inner.engine, hash))
        {
            inner.stats.cache_loads.fetch_add(1, Ordering::Relaxed);
            inner.compiled.lock().insert(hash.to_string(), c.clone());
            return Ok((c, LoadSource::Cache));
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
        let component = match &inner.cache {
            Some(cache) => {
                let precompiled = inner.engine.precompile_component(bytes).map_err(invalid)?;
                cache.store(hash, &precompiled);
                crate::cache::deserialize_own(&inner.engine, &precompiled).map_err(invalid)?
            }
            None => Component::new(&inner.engine, bytes).map_err(invalid)?,
        };
        inner.stats.compiles.fetch_add(1, Ordering::Relaxed);
        inner
            .compiled
            .lock()
            .insert(hash.to_string(), component.clone());
        Ok((component, LoadSource::Compiled))
    }
}

fn build_engine(config: &RuntimeConfig, pooling: bool) -> Result<Engine, RuntimeError> {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(config.fuel_metering)
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
