//! A loaded [`Plugin`] (compiled component, pre-instantiated, role detected, contract checked)
//! and the per-store handles that call it: [`MapperInstance`] and [`ResolverInstance`]. Every
//! batch call gets a fresh `Store` with the store's limits, and is torn down afterwards.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime::component::{Component, ComponentExportIndex, Instance, InstancePre};

use crate::config::Limits;
use crate::engine::Runtime;
use crate::error::{PluginError, PluginRef, RequestRef};
use crate::host_impl::{CallLog, StateLimits, StoreState, call_seed, panic_message};
use crate::lift::{self, Budget, Exports};
use crate::pool::JobPanicked;
use crate::types::{
    CONTRACT_VERSION, Decision, FieldChange, FromCanonicalOutcome, MAPPING_EXPORT, MappingIndices,
    PlatformDoc, PluginInfo, RESOLVING_EXPORT, ResolvingIndices, ToCanonicalOutcome, WriteRequest,
};
use crate::validate::{self, JsonBounds};

/// A store's plugin config, shared by its calls.
type Config = Arc<serde_json::Map<String, serde_json::Value>>;

/// Which roles a component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Exports `weft:plugin/mapping`.
    Mapper,
    /// Exports `weft:plugin/resolving`.
    Resolver,
    /// Exports both.
    Both,
}

impl Role {
    fn has(self, wanted: Role) -> bool {
        self == Role::Both || self == wanted
    }
}

/// Where a loaded component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadSource {
    /// Compiled from the component bytes (a cold load).
    Compiled,
    /// Deserialized from the precompiled on-disk cache (a warm load after a restart).
    Cache,
    /// Already compiled in this process.
    Memory,
}

/// One store's binding of a plugin: who calls it, with what config, under what limits.
#[derive(Debug, Clone, Default)]
pub struct StoreCtx {
    /// The store's id, used in every error and log line.
    pub store_id: String,
    /// The store's plugin config (`[plugin.config]`), readable by the plugin through
    /// `host.config(key)` as JSON text. Never put secrets here.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The store's limits.
    pub limits: Limits,
}

/// What one call cost and what the plugin logged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallReport {
    /// Wall time of the call, instantiation included.
    pub elapsed: Duration,
    /// Fuel (instructions) used, when the runtime meters fuel.
    pub fuel_used: Option<u64>,
    /// Bytes sent in.
    pub input_bytes: u64,
    /// Bytes returned.
    pub output_bytes: u64,
    /// What the plugin logged through `host.log`.
    pub log: CallLog,
    /// What the plugin wrote to stderr (bounded).
    pub stderr: String,
}

/// A loaded, checked component, shared by every store that uses it.
pub struct Plugin {
    runtime: Runtime,
    reference: PluginRef,
    hash: String,
    info: PluginInfo,
    role: Role,
    exports: Vec<String>,
    imports: Vec<String>,
    source: LoadSource,
    load_time: Duration,
    pre: InstancePre<StoreState>,
    mapping: Option<MappingIndices>,
    resolving: Option<ResolvingIndices>,
    exports_idx: Exports,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("plugin", &self.reference)
            .field("role", &self.role)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The store id used for the probe instance made while loading.
const LOAD_STORE: &str = "(load)";

impl Plugin {
    pub(crate) fn new(
        runtime: Runtime,
        reference: PluginRef,
        hash: String,
        component: Component,
        source: LoadSource,
        started: Instant,
    ) -> Result<Plugin, PluginError> {
        let engine = &runtime.inner.engine;
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let mismatch = |detail: String| PluginError::InterfaceMismatch {
            plugin: reference.clone(),
            detail,
        };
        // A component built against another version of the contract: say so, rather than
        // that its imports cannot be satisfied.
        if let Some(other) = imports
            .iter()
            .chain(&exports)
            .filter_map(|n| n.strip_prefix("weft:plugin/"))
            .filter_map(|n| n.split_once('@').map(|(_, v)| v))
            .find(|v| *v != CONTRACT_VERSION)
        {
            return Err(mismatch(format!(
                "it was built against weft:plugin@{other}, and this host speaks \
                 weft:plugin@{CONTRACT_VERSION}: rebuild it against this weft's wit/plugin.wit \
                 (and its SDK); see docs/plugins.md for what changed"
            )));
        }
        let pre = runtime
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| {
                mismatch(format!(
                    "its imports cannot be satisfied (plugins may import only weft:plugin/host and \
                     wasi 0.2): {e:#}"
                ))
            })?;
        let has = |name: &str| exports.iter().any(|e| e == name);
        let mapping = if has(MAPPING_EXPORT) {
            Some(
                MappingIndices::new(&pre)
                    .map_err(|e| mismatch(format!("{MAPPING_EXPORT}: {e:#}")))?,
            )
        } else {
            None
        };
        let resolving = if has(RESOLVING_EXPORT) {
            Some(
                ResolvingIndices::new(&pre)
                    .map_err(|e| mismatch(format!("{RESOLVING_EXPORT}: {e:#}")))?,
            )
        } else {
            None
        };
        let role = match (&mapping, &resolving) {
            (Some(_), Some(_)) => Role::Both,
            (Some(_), None) => Role::Mapper,
            (None, Some(_)) => Role::Resolver,
            (None, None) => {
                return Err(mismatch(format!(
                    "it exports neither `{MAPPING_EXPORT}` nor `{RESOLVING_EXPORT}` (it exports: {})",
                    if exports.is_empty() {
                        "nothing".to_string()
                    } else {
                        exports.join(", ")
                    }
                )));
            }
        };
        let export = |iface: &str, func: &str| -> Option<ComponentExportIndex> {
            let i = component.get_export_index(None, iface)?;
            component.get_export_index(Some(&i), func)
        };
        let exports_idx = Exports {
            mapping_info: export(MAPPING_EXPORT, "info"),
            to_canonical: export(MAPPING_EXPORT, "to-canonical"),
            from_canonical: export(MAPPING_EXPORT, "from-canonical"),
            resolving_info: export(RESOLVING_EXPORT, "info"),
            resolve: export(RESOLVING_EXPORT, "resolve"),
            guards: export(RESOLVING_EXPORT, "guards"),
        };
        let mut plugin = Plugin {
            runtime,
            reference: reference.clone(),
            hash,
            info: PluginInfo {
                name: String::new(),
                version: String::new(),
                description: String::new(),
            },
            role,
            exports,
            imports,
            source,
            load_time: Duration::ZERO,
            pre,
            mapping,
            resolving,
            exports_idx,
        };
        // Instantiate once: this type-checks every export function against the contract (a
        // wrong signature fails here, at load) and reads the plugin's info.
        let ctx = StoreCtx {
            store_id: LOAD_STORE.to_string(),
            config: Default::default(),
            limits: plugin
                .runtime
                .effective_limits(&plugin.runtime.config().default_limits),
        };
        let ctx_output_cap = ctx.limits.max_output_bytes;
        let info = plugin
            .call(
                &ctx,
                &Arc::default(),
                "info",
                [0; 32],
                0,
                |p, store, instance| {
                    let mut info = None;
                    if let Some(idx) = &p.mapping {
                        // Type-checks every export function of the role against the contract.
                        idx.load(&mut *store, instance)
                            .map_err(LoadError::Mismatch)?;
                        let f = p.exports_idx.mapping_info.as_ref();
                        let mut budget = Budget::new(ctx_output_cap);
                        info = Some(
                            lift::info(store, instance, f, &mut budget)
                                .map_err(|e| p.lift_error(LOAD_STORE, e, &budget))?,
                        );
                    }
                    if let Some(idx) = &p.resolving {
                        idx.load(&mut *store, instance)
                            .map_err(LoadError::Mismatch)?;
                        let f = p.exports_idx.resolving_info.as_ref();
                        let mut budget = Budget::new(ctx_output_cap);
                        let resolver_info = lift::info(store, instance, f, &mut budget)
                            .map_err(|e| p.lift_error(LOAD_STORE, e, &budget))?;
                        info.get_or_insert(resolver_info);
                    }
                    Ok((info.expect("a role was detected"), 0))
                },
            )
            .map_err(|e| match e {
                CallError::Plugin(e) => e,
                CallError::Mismatch(e) => mismatch(format!("{e:#}")),
            })?
            .0;
        plugin.info = info;
        plugin.load_time = started.elapsed();
        Ok(plugin)
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Which roles it exports.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Its name and short hash, as errors show them.
    pub fn reference(&self) -> &PluginRef {
        &self.reference
    }

    /// The full hex sha256 of the component bytes.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The component's export names.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// The component's import names.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Whether it was compiled, taken from the disk cache, or already in memory.
    pub fn load_source(&self) -> LoadSource {
        self.source
    }

    /// How long loading took (compile or deserialize, link, probe instantiation).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    pub(crate) fn require(&self, wanted: Role, store: &str) -> Result<(), PluginError> {
        if self.role.has(wanted) {
            return Ok(());
        }
        Err(PluginError::WrongRole {
            store: store.to_string(),
            plugin: self.reference.clone(),
            wanted: match wanted {
                Role::Mapper => "mapper",
                Role::Resolver => "resolver",
                Role::Both => "mapper and resolver",
            },
            exports: self.exports.join(", "),
        })
    }

    /// Runs one batch call in a fresh store under `ctx`'s limits. `f` gets the instance and
    /// returns the result with its output size in bytes.
    /// `call` names the export (for the randomness seed), `input_digest` is a digest of the
    /// whole input (see `host_impl::call_seed`). Runs on the current thread: callers are on a
    /// guest thread.
    #[allow(clippy::too_many_arguments)]
    fn call<R>(
        &self,
        ctx: &StoreCtx,
        config: &Config,
        call: &str,
        input_digest: [u8; 32],
        input_bytes: u64,
        f: impl FnOnce(&Plugin, &mut Store<StoreState>, &Instance) -> Result<(R, u64), LoadError>,
    ) -> Result<(R, CallReport), CallError> {
        let inner = &self.runtime.inner;
        inner.stats.calls.fetch_add(1, Ordering::Relaxed);
        let seed = call_seed(
            inner.config.random_seed,
            &ctx.store_id,
            &self.hash,
            call,
            &input_digest,
        );
        let result = self.call_inner(ctx, config, seed, input_bytes, f);
        if result.is_err() {
            inner.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn call_inner<R>(
        &self,
        ctx: &StoreCtx,
        config: &Config,
        seed: [u8; 32],
        input_bytes: u64,
        f: impl FnOnce(&Plugin, &mut Store<StoreState>, &Instance) -> Result<(R, u64), LoadError>,
    ) -> Result<(R, CallReport), CallError> {
        let limits = &ctx.limits;
        let store_id = &ctx.store_id;
        if input_bytes > limits.max_input_bytes {
            return Err(CallError::Plugin(PluginError::InputTooLarge {
                store: store_id.clone(),
                plugin: self.reference.clone(),
                limit: limits.max_input_bytes,
                actual: input_bytes,
            }));
        }
        let inner = &self.runtime.inner;
        let _slot = inner.slots.acquire();
        let started = Instant::now();
        let mut store = self
            .new_store(ctx, config, seed)
            .map_err(|e| CallError::Plugin(self.host_error(store_id, e)))?;
        let outcome = match self.pre.instantiate(&mut store) {
            Ok(instance) => f(self, &mut store, &instance),
            Err(e) => Err(LoadError::Instantiate(e)),
        };
        let elapsed = started.elapsed();
        let fuel_used = Some(fuel_budget(inner, limits) - store.get_fuel().unwrap_or(0));
        let state = store.data();
        let mut report = CallReport {
            elapsed,
            fuel_used,
            input_bytes,
            output_bytes: 0,
            log: state.log.clone(),
            stderr: state.stderr.text(),
        };
        self.emit_logs(store_id, &report);
        let (value, output_bytes) = match outcome {
            Ok(v) => v,
            Err(LoadError::Mismatch(e)) => return Err(CallError::Mismatch(e)),
            Err(LoadError::Instantiate(e)) => {
                return Err(CallError::Plugin(
                    self.classify(store_id, limits, &store, e, true),
                ));
            }
            Err(LoadError::Call(e)) => {
                return Err(CallError::Plugin(
                    self.classify(store_id, limits, &store, e, false),
                ));
            }
            Err(LoadError::Plugin(e)) => return Err(CallError::Plugin(e)),
        };
        report.output_bytes = output_bytes;
        if output_bytes > limits.max_output_bytes {
            return Err(CallError::Plugin(PluginError::OutputTooLarge {
                store: store_id.clone(),
                plugin: self.reference.clone(),
                limit: limits.max_output_bytes,
                actual: output_bytes,
            }));
        }
        Ok((value, report))
    }

    /// A fresh store for one call under `ctx`'s limits.
    fn new_store(
        &self,
        ctx: &StoreCtx,
        config: &Config,
        seed: [u8; 32],
    ) -> wasmtime::Result<Store<StoreState>> {
        let limits = &ctx.limits;
        let inner = &self.runtime.inner;
        let state = StoreState::new(
            config.clone(),
            StateLimits {
                memory_bytes: limits.memory_bytes,
                max_log_bytes: limits.max_log_bytes,
                max_log_records: inner.config.max_log_records,
            },
            seed,
        );
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        let tick = inner.config.epoch_tick.as_nanos().max(1);
        let ticks = limits.timeout.as_nanos().div_ceil(tick) as u64;
        store.set_epoch_deadline(ticks.max(1));
        store.epoch_deadline_trap();
        store.set_fuel(fuel_budget(inner, limits))?;
        Ok(store)
    }

    fn emit_logs(&self, store_id: &str, report: &CallReport) {
        for line in &report.log.lines {
            let plugin = &self.reference.name;
            let msg = &line.message;
            match line.level {
                "error" => tracing::error!(store = store_id, plugin, "{msg}"),
                "warn" => tracing::warn!(store = store_id, plugin, "{msg}"),
                "info" => tracing::info!(store = store_id, plugin, "{msg}"),
                "debug" => tracing::debug!(store = store_id, plugin, "{msg}"),
                _ => tracing::trace!(store = store_id, plugin, "{msg}"),
            }
        }
        if report.log.dropped > 0 {
            tracing::warn!(store = store_id, plugin = %self.reference, dropped = report.log.dropped, "plugin log budget spent; lines dropped");
        }
    }

    fn host_error(&self, store_id: &str, e: wasmtime::Error) -> PluginError {
        PluginError::Host {
            store: store_id.to_string(),
            plugin: self.reference.clone(),
            detail: format!("{e:#}"),
        }
    }

    /// Turns a wasmtime failure into the typed error naming the limit that was hit.
    fn classify(
        &self,
        store_id: &str,
        limits: &Limits,
        store: &Store<StoreState>,
        e: wasmtime::Error,
        instantiating: bool,
    ) -> PluginError {
        let store_name = store_id.to_string();
        let plugin = self.reference.clone();
        if let Some(requested) = store.data().limiter.memory_hit {
            return PluginError::MemoryLimit {
                store: store_name,
                plugin,
                limit: limits.memory_bytes,
                requested,
            };
        }
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
            match trap {
                wasmtime::Trap::Interrupt => {
                    return PluginError::Timeout {
                        store: store_name,
                        plugin,
                        limit: limits.timeout,
                    };
                }
                wasmtime::Trap::OutOfFuel => {
                    return PluginError::OutOfFuel {
                        store: store_name,
                        plugin,
                        limit: fuel_budget(&self.runtime.inner, limits),
                    };
                }
                wasmtime::Trap::StackOverflow => {
                    return PluginError::StackOverflow {
                        store: store_name,
                        plugin,
                        limit: limits.stack_bytes,
                    };
                }
                _ => {}
            }
        }
        if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return PluginError::Trap {
                store: store_name,
                plugin,
                trap: format!("the plugin called exit({})", exit.0),
                panic: panic_message(&store.data().stderr.text()),
            };
        }
        let is_trap = e.downcast_ref::<wasmtime::Trap>().is_some();
        if instantiating && !is_trap {
            return self.host_error(store_id, e);
        }
        let trap = match e.downcast_ref::<wasmtime::Trap>() {
            Some(t) => t.to_string(),
            None => format!("{e:#}"),
        };
        PluginError::Trap {
            store: store_name,
            plugin,
            trap,
            panic: panic_message(&store.data().stderr.text()),
        }
    }

    fn guest_error(&self, store_id: &str, error: crate::types::GuestError) -> LoadError {
        LoadError::Plugin(PluginError::Guest {
            store: store_id.to_string(),
            plugin: self.reference.clone(),
            error,
        })
    }

    /// A failure while lifting the output: over the output cap (found before anything was
    /// copied) or a trap.
    fn lift_error(&self, store_id: &str, e: wasmtime::Error, budget: &Budget) -> LoadError {
        if budget.over() {
            return LoadError::Plugin(PluginError::OutputTooLarge {
                store: store_id.to_string(),
                plugin: self.reference.clone(),
                limit: budget.cap,
                actual: budget.used,
            });
        }
        LoadError::Call(e)
    }

    fn contract(&self, store_id: &str, detail: String) -> LoadError {
        LoadError::Plugin(PluginError::Contract {
            store: store_id.to_string(),
            plugin: self.reference.clone(),
            detail,
        })
    }
}

/// Failures inside a call, before they are classified. Short-lived, so its size (that of
/// `PluginError`) does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum LoadError {
    /// An export's type does not match the contract.
    Mismatch(wasmtime::Error),
    /// Instantiation failed.
    Instantiate(wasmtime::Error),
    /// The call trapped or a host function failed.
    Call(wasmtime::Error),
    /// Already classified.
    Plugin(PluginError),
}

#[allow(clippy::large_enum_variant)]
pub(crate) enum CallError {
    Plugin(PluginError),
    Mismatch(wasmtime::Error),
}

impl CallError {
    fn into_plugin(self, plugin: &Plugin) -> PluginError {
        match self {
            CallError::Plugin(e) => e,
            CallError::Mismatch(e) => PluginError::InterfaceMismatch {
                plugin: plugin.reference.clone(),
                detail: format!("{e:#}"),
            },
        }
    }
}

/// The fuel a call starts with: the store's budget, or the runtime's default.
fn fuel_budget(inner: &crate::engine::Inner, limits: &Limits) -> u64 {
    limits.fuel.unwrap_or(inner.config.default_fuel)
}

fn opt(s: &Option<String>) -> &[u8] {
    s.as_deref().map_or(&[], str::as_bytes)
}

/// Feeds length-prefixed parts into a digest and sums their lengths: the input's size (what
/// `max_input_bytes` bounds) and its digest (what seeds the call's randomness) in one pass.
struct InputSum {
    h: Sha256,
    bytes: u64,
}

impl InputSum {
    fn new() -> Self {
        InputSum {
            h: Sha256::new(),
            bytes: 0,
        }
    }
    fn part(&mut self, b: &[u8]) -> &mut Self {
        self.h.update((b.len() as u64).to_le_bytes());
        self.h.update(b);
        self.bytes += b.len() as u64;
        self
    }
    fn tag(&mut self, t: impl std::fmt::Debug) -> &mut Self {
        self.h.update(format!("{t:?}").as_bytes());
        self
    }
    fn finish(self) -> ([u8; 32], u64) {
        (self.h.finalize().into(), self.bytes)
    }
}

fn docs_input(docs: &[PlatformDoc]) -> ([u8; 32], u64) {
    let mut s = InputSum::new();
    for d in docs {
        s.part(d.system.as_bytes())
            .tag(d.kind)
            .part(d.id.as_bytes())
            .part(d.version.as_bytes())
            .part(d.body.as_bytes());
    }
    s.finish()
}

fn requests_input(reqs: &[WriteRequest]) -> ([u8; 32], u64) {
    let mut s = InputSum::new();
    for r in reqs {
        s.part(r.target.as_bytes())
            .tag(r.record.kind)
            .part(r.record.key.as_bytes())
            .part(r.record.fields.as_bytes())
            .tag(r.current.is_some())
            .part(opt(&r.current))
            .tag(r.target_id.is_some())
            .part(opt(&r.target_id));
    }
    s.finish()
}

fn conflicts_input(cs: &[FieldChange]) -> ([u8; 32], u64) {
    let mut s = InputSum::new();
    for c in cs {
        s.tag(c.occasion)
            .tag(c.kind)
            .part(c.key.as_bytes())
            .part(c.field.as_bytes())
            .tag(c.base.is_some())
            .part(opt(&c.base))
            .tag(c.agreed.is_some())
            .part(opt(&c.agreed))
            .part(c.incoming.as_bytes());
        for side in &c.sides {
            s.part(side.system.as_bytes())
                .part(side.version.as_bytes())
                .tag(side.changed)
                .tag(side.value.is_some())
                .part(opt(&side.value));
        }
    }
    s.finish()
}

fn panicked(plugin: &Plugin, store: &str, p: JobPanicked) -> PluginError {
    PluginError::Host {
        store: store.to_string(),
        plugin: plugin.reference.clone(),
        detail: format!("the host panicked while running the call: {}", p.0),
    }
}

/// One item's verdict in a per-item result.
pub type ItemResult<T> = Result<T, PluginError>;

/// A mapper bound to one store. Cheap to clone; each call gets a fresh instance.
///
/// Every call runs on a guest thread (never in the caller's async context). The plain methods
/// block the calling thread; the `*_async` ones await.
#[derive(Clone)]
pub struct MapperInstance {
    plugin: Arc<Plugin>,
    ctx: Arc<StoreCtx>,
    config: Config,
}

impl MapperInstance {
    pub(crate) fn new(plugin: Arc<Plugin>, ctx: StoreCtx) -> Self {
        MapperInstance {
            plugin,
            config: Arc::new(ctx.config.clone()),
            ctx: Arc::new(ctx),
        }
    }

    /// The plugin it calls.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// The store it is bound to (limits as enforced).
    pub fn store(&self) -> &StoreCtx {
        &self.ctx
    }

    fn bounds(&self) -> JsonBounds {
        json_bounds(&self.plugin, &self.ctx)
    }

    /// Runs `f` on a guest thread, blocking.
    fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&MapperInstance) -> Result<R, PluginError> + Send + 'static,
    ) -> Result<R, PluginError> {
        let me = self.clone();
        self.plugin
            .runtime
            .inner
            .pool
            .run(move || f(&me))
            .unwrap_or_else(|p| Err(panicked(&self.plugin, &self.ctx.store_id, p)))
    }

    /// Runs `f` on a guest thread, awaiting.
    async fn run_async<R: Send + 'static>(
        &self,
        f: impl FnOnce(&MapperInstance) -> Result<R, PluginError> + Send + 'static,
    ) -> Result<R, PluginError> {
        let me = self.clone();
        self.plugin
            .runtime
            .inner
            .pool
            .run_async(move || f(&me))
            .await
            .unwrap_or_else(|p| Err(panicked(&self.plugin, &self.ctx.store_id, p)))
    }

    /// Maps platform documents to canonical records: one outcome per document, in order. The
    /// whole batch fails if any outcome is invalid (`InvalidOutput`, naming the first bad
    /// document); [`Self::to_canonical_per_document`] keeps the good ones.
    pub fn to_canonical(
        &self,
        docs: &[PlatformDoc],
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        self.to_canonical_with_report(docs).map(|(v, _)| v)
    }

    /// [`Self::to_canonical`] plus what the call cost and logged.
    pub fn to_canonical_with_report(
        &self,
        docs: &[PlatformDoc],
    ) -> Result<(Vec<ToCanonicalOutcome>, CallReport), PluginError> {
        let docs = docs.to_vec();
        self.run(move |m| m.call_to_canonical_strict(&docs))
    }

    /// [`Self::to_canonical`] for async code.
    pub async fn to_canonical_async(
        &self,
        docs: Vec<PlatformDoc>,
    ) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        self.run_async(move |m| m.call_to_canonical_strict(&docs))
            .await
            .map(|(v, _)| v)
    }

    /// Maps documents with one verdict per document: `Err(InvalidOutput)` for a document whose
    /// records the runtime refuses, the outcome otherwise. The outer `Err` is a failure of the
    /// whole call (trap, limit, the plugin's own batch error).
    pub fn to_canonical_per_document(
        &self,
        docs: &[PlatformDoc],
    ) -> Result<(Vec<ItemResult<ToCanonicalOutcome>>, CallReport), PluginError> {
        let docs = docs.to_vec();
        self.run(move |m| m.call_to_canonical(&docs))
    }

    /// [`Self::to_canonical_per_document`] for async code.
    pub async fn to_canonical_per_document_async(
        &self,
        docs: Vec<PlatformDoc>,
    ) -> Result<(Vec<ItemResult<ToCanonicalOutcome>>, CallReport), PluginError> {
        self.run_async(move |m| m.call_to_canonical(&docs)).await
    }

    fn call_to_canonical_strict(
        &self,
        docs: &[PlatformDoc],
    ) -> Result<(Vec<ToCanonicalOutcome>, CallReport), PluginError> {
        let (items, report) = self.call_to_canonical(docs)?;
        let out = items.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok((out, report))
    }

    /// The call and the per-document checks, on the current (guest) thread.
    fn call_to_canonical(
        &self,
        docs: &[PlatformDoc],
    ) -> Result<(Vec<ItemResult<ToCanonicalOutcome>>, CallReport), PluginError> {
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        let (digest, input_bytes) = docs_input(docs);
        let max_output = self.ctx.limits.max_output_bytes;
        let (out, report) = p
            .call(
                &self.ctx,
                &self.config,
                "to-canonical",
                digest,
                input_bytes,
                |p, store, instance| {
                    let f = p.exports_idx.to_canonical.as_ref();
                    let mut budget = Budget::new(max_output);
                    let out = lift::to_canonical(store, instance, f, docs, &mut budget)
                        .map_err(|e| p.lift_error(store_id, e, &budget))?
                        .map_err(|e| p.guest_error(store_id, e))?;
                    if out.len() != docs.len() {
                        return Err(p.contract(
                            store_id,
                            format!(
                                "to-canonical returned {} outcomes for {} documents",
                                out.len(),
                                docs.len()
                            ),
                        ));
                    }
                    Ok((out, budget.used))
                },
            )
            .map_err(|e| e.into_plugin(p))?;
        let bounds = self.bounds();
        let items = out
            .into_iter()
            .zip(docs)
            .enumerate()
            .map(|(i, (o, d))| {
                validate::to_canonical_outcome(&o, bounds)
                    .map(|()| o)
                    .map_err(|fault| PluginError::InvalidOutput {
                        store: store_id.clone(),
                        plugin: p.reference.clone(),
                        call: crate::error::Export::ToCanonical,
                        index: i,
                        item: format!("document {i} ({} {:?} {:?})", d.system, d.kind, d.id).into(),
                        fault: Box::new(fault),
                    })
            })
            .collect();
        Ok((items, report))
    }

    /// Maps canonical records to write commands: one outcome per request, in order. The whole
    /// batch fails if the commands of any request are refused (`CommandRejected` naming the
    /// first bad request); [`Self::from_canonical_per_request`] keeps the good ones.
    pub fn from_canonical(
        &self,
        requests: &[WriteRequest],
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        self.from_canonical_with_report(requests).map(|(v, _)| v)
    }

    /// [`Self::from_canonical`] plus what the call cost and logged.
    pub fn from_canonical_with_report(
        &self,
        requests: &[WriteRequest],
    ) -> Result<(Vec<FromCanonicalOutcome>, CallReport), PluginError> {
        let requests = requests.to_vec();
        self.run(move |m| {
            let (items, report) = m.call_from_canonical(&requests)?;
            let out = items.into_iter().collect::<Result<Vec<_>, _>>()?;
            Ok((out, report))
        })
    }

    /// Maps canonical records to write commands with one verdict per request: `Ok(outcome)`
    /// when every command answers its request (see [`Self::check_commands`]), else
    /// `Err(CommandRejected)` naming the request and record, so one bad request does not fail
    /// the batch. The outer `Err` is a failure of the whole call.
    pub fn from_canonical_per_request(
        &self,
        requests: &[WriteRequest],
    ) -> Result<(Vec<ItemResult<FromCanonicalOutcome>>, CallReport), PluginError> {
        let requests = requests.to_vec();
        self.run(move |m| m.call_from_canonical(&requests))
    }

    /// [`Self::from_canonical_per_request`] for async code.
    pub async fn from_canonical_per_request_async(
        &self,
        requests: Vec<WriteRequest>,
    ) -> Result<(Vec<ItemResult<FromCanonicalOutcome>>, CallReport), PluginError> {
        self.run_async(move |m| m.call_from_canonical(&requests))
            .await
    }

    /// Checks one request's outcome: each command must be for the request's target system, a
    /// kind that writes the requested kind, a record the request names (its `target_id`, its
    /// key, or an id in its `current` document), carry a valid JSON body, and there may be at
    /// most `RuntimeConfig::max_commands_per_request` of them. `index` is the request's
    /// position in its batch (for the error).
    pub fn check_commands(
        &self,
        index: usize,
        request: &WriteRequest,
        outcome: &FromCanonicalOutcome,
    ) -> Result<(), PluginError> {
        let max = self.plugin.runtime.inner.config.max_commands_per_request;
        validate::from_canonical_outcome(request, outcome, max, self.bounds()).map_err(|fault| {
            PluginError::CommandRejected {
                store: self.ctx.store_id.clone(),
                plugin: self.plugin.reference.clone(),
                request: index,
                record: Box::new(RequestRef {
                    target: request.target.clone(),
                    kind: request.record.kind,
                    key: request.record.key.clone(),
                }),
                fault: Box::new(fault),
            }
        })
    }

    fn call_from_canonical(
        &self,
        requests: &[WriteRequest],
    ) -> Result<(Vec<ItemResult<FromCanonicalOutcome>>, CallReport), PluginError> {
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        let (digest, input_bytes) = requests_input(requests);
        let max_output = self.ctx.limits.max_output_bytes;
        let (out, report) = p
            .call(
                &self.ctx,
                &self.config,
                "from-canonical",
                digest,
                input_bytes,
                |p, store, instance| {
                    let f = p.exports_idx.from_canonical.as_ref();
                    let mut budget = Budget::new(max_output);
                    let out = lift::from_canonical(store, instance, f, requests, &mut budget)
                        .map_err(|e| p.lift_error(store_id, e, &budget))?
                        .map_err(|e| p.guest_error(store_id, e))?;
                    if out.len() != requests.len() {
                        return Err(p.contract(
                            store_id,
                            format!(
                                "from-canonical returned {} outcomes for {} requests",
                                out.len(),
                                requests.len()
                            ),
                        ));
                    }
                    Ok((out, budget.used))
                },
            )
            .map_err(|e| e.into_plugin(p))?;
        let items = out
            .into_iter()
            .zip(requests)
            .enumerate()
            .map(|(i, (o, r))| self.check_commands(i, r, &o).map(|()| o))
            .collect();
        Ok((items, report))
    }
}

fn json_bounds(plugin: &Plugin, ctx: &StoreCtx) -> JsonBounds {
    JsonBounds {
        max_depth: plugin.runtime.inner.config.max_json_depth,
        max_bytes: usize::try_from(ctx.limits.max_output_bytes).unwrap_or(usize::MAX),
    }
}

/// A live instance kept after one batch, for memory measurements (`bench`).
pub(crate) struct HeldInstance {
    _store: Store<StoreState>,
    _instance: Instance,
}

impl MapperInstance {
    /// Instantiates, maps `batch`, and keeps the instance alive (outside the slot gate; only
    /// for measuring what live instances cost). Runs on a guest thread like every call.
    pub(crate) fn hold(&self, batch: &[PlatformDoc]) -> Result<HeldInstance, PluginError> {
        let batch = batch.to_vec();
        self.run(move |m| m.hold_here(&batch))
    }

    fn hold_here(&self, batch: &[PlatformDoc]) -> Result<HeldInstance, PluginError> {
        let p = &self.plugin;
        let store_id = &self.ctx.store_id;
        let mut store = p
            .new_store(&self.ctx, &self.config, [0; 32])
            .map_err(|e| p.host_error(store_id, e))?;
        let instance = p
            .pre
            .instantiate(&mut store)
            .map_err(|e| p.classify(store_id, &self.ctx.limits, &store, e, true))?;
        let mut budget = Budget::new(self.ctx.limits.max_output_bytes);
        let f = p.exports_idx.to_canonical.as_ref();
        lift::to_canonical(&mut store, &instance, f, batch, &mut budget)
            .map_err(|e| p.classify(store_id, &self.ctx.limits, &store, e, false))?
            .map_err(|error| PluginError::Guest {
                store: store_id.clone(),
                plugin: p.reference.clone(),
                error,
            })?;
        Ok(HeldInstance {
            _store: store,
            _instance: instance,
        })
    }
}

/// A resolver bound to one store. Cheap to clone; each call gets a fresh instance, on a guest
/// thread.
#[derive(Clone)]
pub struct ResolverInstance {
    plugin: Arc<Plugin>,
    ctx: Arc<StoreCtx>,
    config: Config,
}

impl ResolverInstance {
    pub(crate) fn new(plugin: Arc<Plugin>, ctx: StoreCtx) -> Self {
        ResolverInstance {
            plugin,
            config: Arc::new(ctx.config.clone()),
            ctx: Arc::new(ctx),
        }
    }

    /// The plugin it calls.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Decides conflicts: one decision per conflict, in order. A `value` that is not valid JSON
    /// fails the batch with `InvalidOutput`.
    pub fn resolve(&self, conflicts: &[FieldChange]) -> Result<Vec<Decision>, PluginError> {
        self.resolve_with_report(conflicts).map(|(v, _)| v)
    }

    /// [`Self::resolve`] plus what the call cost and logged.
    pub fn resolve_with_report(
        &self,
        conflicts: &[FieldChange],
    ) -> Result<(Vec<Decision>, CallReport), PluginError> {
        let me = self.clone();
        let conflicts = conflicts.to_vec();
        self.plugin
            .runtime
            .inner
            .pool
            .run(move || me.resolve_here(&conflicts))
            .unwrap_or_else(|p| Err(panicked(&self.plugin, &self.ctx.store_id, p)))
    }

    /// [`Self::resolve`] for async code.
    pub async fn resolve_async(
        &self,
        conflicts: Vec<FieldChange>,
    ) -> Result<Vec<Decision>, PluginError> {
        let me = self.clone();
        self.plugin
            .runtime
            .inner
            .pool
            .run_async(move || me.resolve_here(&conflicts))
            .await
            .unwrap_or_else(|p| Err(panicked(&self.plugin, &self.ctx.store_id, p)))
            .map(|(v, _)| v)
    }

    /// The field patterns whose one-sided changes this resolver vets (its `guards` export), for
    /// this store's config. A plugin without the export (none can be: the contract requires
    /// it) guards nothing.
    pub fn guards(&self) -> Result<Vec<String>, PluginError> {
        let me = self.clone();
        self.plugin
            .runtime
            .inner
            .pool
            .run(move || me.guards_here())
            .unwrap_or_else(|p| Err(panicked(&self.plugin, &self.ctx.store_id, p)))
    }

    /// [`Self::guards`] for async code.
    pub async fn guards_async(&self) -> Result<Vec<String>, PluginError> {
        let me = self.clone();
        self.plugin
            .runtime
            .inner
            .pool
            .run_async(move || me.guards_here())
            .await
            .unwrap_or_else(|p| Err(panicked(&self.plugin, &self.ctx.store_id, p)))
    }

    fn guards_here(&self) -> Result<Vec<String>, PluginError> {
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        let max_output = self.ctx.limits.max_output_bytes;
        let (out, _) = p
            .call(
                &self.ctx,
                &self.config,
                "guards",
                [0; 32],
                0,
                |p, store, instance| {
                    let f = p.exports_idx.guards.as_ref();
                    let mut budget = Budget::new(max_output);
                    let out = lift::guards(store, instance, f, &mut budget)
                        .map_err(|e| p.lift_error(store_id, e, &budget))?
                        .map_err(|e| p.guest_error(store_id, e))?;
                    Ok((out, budget.used))
                },
            )
            .map_err(|e| e.into_plugin(p))?;
        Ok(out)
    }

    fn resolve_here(
        &self,
        conflicts: &[FieldChange],
    ) -> Result<(Vec<Decision>, CallReport), PluginError> {
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        let (digest, input_bytes) = conflicts_input(conflicts);
        let max_output = self.ctx.limits.max_output_bytes;
        let (out, report) = p
            .call(
                &self.ctx,
                &self.config,
                "resolve",
                digest,
                input_bytes,
                |p, store, instance| {
                    let f = p.exports_idx.resolve.as_ref();
                    let mut budget = Budget::new(max_output);
                    let out = lift::resolve(store, instance, f, conflicts, &mut budget)
                        .map_err(|e| p.lift_error(store_id, e, &budget))?
                        .map_err(|e| p.guest_error(store_id, e))?;
                    if out.len() != conflicts.len() {
                        return Err(p.contract(
                            store_id,
                            format!(
                                "resolve returned {} decisions for {} conflicts",
                                out.len(),
                                conflicts.len()
                            ),
                        ));
                    }
                    Ok((out, budget.used))
                },
            )
            .map_err(|e| e.into_plugin(p))?;
        let bounds = json_bounds(p, &self.ctx);
        for (i, (d, c)) in out.iter().zip(conflicts).enumerate() {
            validate::decision(d, c, bounds).map_err(|fault| PluginError::InvalidOutput {
                store: store_id.clone(),
                plugin: p.reference.clone(),
                call: crate::error::Export::Resolve,
                index: i,
                item: format!("field {i} ({:?} {:?} field {:?})", c.kind, c.key, c.field).into(),
                fault: Box::new(fault),
            })?;
        }
        Ok((out, report))
    }
}
