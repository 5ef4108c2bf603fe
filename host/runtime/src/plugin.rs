//! A loaded [`Plugin`] (compiled component, pre-instantiated, role detected, contract checked)
//! and the per-store handles that call it: [`MapperInstance`] and [`ResolverInstance`]. Every
//! batch call gets a fresh `Store` with the store's limits, and is torn down afterwards.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::Store;
use wasmtime::component::{Component, Instance, InstancePre};

use crate::config::Limits;
use crate::engine::Runtime;
use crate::error::{PluginError, PluginRef};
use crate::host_impl::{CallLog, StoreState, panic_message};
use crate::types::{
    Decision, FieldConflict, FromCanonicalOutcome, ItemError, MAPPING_EXPORT, MappingIndices,
    PlatformDoc, PluginInfo, RESOLVING_EXPORT, ResolvingIndices, ToCanonicalOutcome, WriteRequest,
};

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
        let info = plugin
            .call(&ctx, &Arc::default(), 0, |p, store, instance| {
                let mut info = None;
                if let Some(idx) = &p.mapping {
                    let guest = idx
                        .load(&mut *store, instance)
                        .map_err(LoadError::Mismatch)?;
                    info = Some(guest.call_info(&mut *store).map_err(LoadError::Call)?);
                }
                if let Some(idx) = &p.resolving {
                    let guest = idx
                        .load(&mut *store, instance)
                        .map_err(LoadError::Mismatch)?;
                    let resolver_info = guest.call_info(&mut *store).map_err(LoadError::Call)?;
                    info.get_or_insert(resolver_info);
                }
                Ok((info.expect("a role was detected"), 0))
            })
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
    fn call<R>(
        &self,
        ctx: &StoreCtx,
        config: &Config,
        input_bytes: u64,
        f: impl FnOnce(&Plugin, &mut Store<StoreState>, &Instance) -> Result<(R, u64), LoadError>,
    ) -> Result<(R, CallReport), CallError> {
        let inner = &self.runtime.inner;
        inner.stats.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.call_inner(ctx, config, input_bytes, f);
        if result.is_err() {
            inner.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn call_inner<R>(
        &self,
        ctx: &StoreCtx,
        config: &Config,
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
            .new_store(ctx, config)
            .map_err(|e| CallError::Plugin(self.host_error(store_id, e)))?;
        let outcome = match self.pre.instantiate(&mut store) {
            Ok(instance) => f(self, &mut store, &instance),
            Err(e) => Err(LoadError::Instantiate(e)),
        };
        let elapsed = started.elapsed();
        let fuel_used = inner.config.fuel_metering.then(|| {
            let budget = limits.fuel.unwrap_or(u64::MAX);
            budget - store.get_fuel().unwrap_or(0)
        });
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
    fn new_store(&self, ctx: &StoreCtx, config: &Config) -> wasmtime::Result<Store<StoreState>> {
        let limits = &ctx.limits;
        let inner = &self.runtime.inner;
        let state = StoreState::new(
            config.clone(),
            limits.memory_bytes,
            limits.max_log_bytes,
            &inner.entropy,
        );
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        let tick = inner.config.epoch_tick.as_nanos().max(1);
        let ticks = limits.timeout.as_nanos().div_ceil(tick) as u64;
        store.set_epoch_deadline(ticks.max(1));
        store.epoch_deadline_trap();
        if inner.config.fuel_metering {
            // A metering engine traps a store with no fuel at once: unlimited unless set.
            store.set_fuel(limits.fuel.unwrap_or(u64::MAX))?;
        }
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
                        limit: limits.fuel.unwrap_or_default(),
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

    fn contract(&self, store_id: &str, detail: String) -> LoadError {
        LoadError::Plugin(PluginError::Contract {
            store: store_id.to_string(),
            plugin: self.reference.clone(),
            detail,
        })
    }
}

/// Failures inside a call, before they are classified.
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

fn opt_len(s: &Option<String>) -> u64 {
    s.as_ref().map_or(0, |s| s.len() as u64)
}

fn item_error_len(e: &ItemError) -> u64 {
    match e {
        ItemError::InvalidInput(m) | ItemError::Unsupported(m) | ItemError::Config(m) => {
            m.len() as u64
        }
    }
}

fn docs_bytes(docs: &[PlatformDoc]) -> u64 {
    docs.iter()
        .map(|d| (d.system.len() + d.id.len() + d.version.len() + d.body.len()) as u64)
        .sum()
}

fn requests_bytes(reqs: &[WriteRequest]) -> u64 {
    reqs.iter()
        .map(|r| {
            (r.target.len() + r.record.key.len() + r.record.fields.len()) as u64
                + opt_len(&r.current)
                + opt_len(&r.target_id)
        })
        .sum()
}

fn conflicts_bytes(cs: &[FieldConflict]) -> u64 {
    cs.iter()
        .map(|c| {
            (c.key.len() + c.field.len()) as u64
                + opt_len(&c.base)
                + (c.left.system.len() + c.left.version.len()) as u64
                + opt_len(&c.left.value)
                + (c.right.system.len() + c.right.version.len()) as u64
                + opt_len(&c.right.value)
        })
        .sum()
}

fn to_canonical_bytes(out: &[ToCanonicalOutcome]) -> u64 {
    out.iter()
        .map(|o| match o {
            ToCanonicalOutcome::Mapped(records) => records
                .iter()
                .map(|r| (r.key.len() + r.fields.len()) as u64)
                .sum(),
            ToCanonicalOutcome::Skipped(why) => why.len() as u64,
            ToCanonicalOutcome::Failed(e) => item_error_len(e),
        })
        .sum()
}

fn from_canonical_bytes(out: &[FromCanonicalOutcome]) -> u64 {
    out.iter()
        .map(|o| match o {
            FromCanonicalOutcome::Commands(cmds) => cmds
                .iter()
                .map(|c| {
                    (c.system.len() + c.body.len()) as u64
                        + opt_len(&c.target_id)
                        + opt_len(&c.external_id)
                })
                .sum(),
            FromCanonicalOutcome::Skipped(why) => why.len() as u64,
            FromCanonicalOutcome::Failed(e) => item_error_len(e),
        })
        .sum()
}

fn decisions_bytes(out: &[Decision]) -> u64 {
    out.iter()
        .map(|d| match d {
            Decision::Value(v) => v.len() as u64,
            Decision::TakeLeft | Decision::TakeRight => 1,
        })
        .sum()
}

/// A mapper bound to one store. Cheap to clone; each call gets a fresh instance.
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

    /// Maps platform documents to canonical records: one outcome per document, in order.
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
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        p.call(
            &self.ctx,
            &self.config,
            docs_bytes(docs),
            |p, store, instance| {
                let idx = p.mapping.as_ref().expect("role checked when bound");
                let guest = idx
                    .load(&mut *store, instance)
                    .map_err(LoadError::Mismatch)?;
                let out = guest
                    .call_to_canonical(&mut *store, docs)
                    .map_err(LoadError::Call)?
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
                let bytes = to_canonical_bytes(&out);
                Ok((out, bytes))
            },
        )
        .map_err(|e| e.into_plugin(p))
    }

    /// Maps canonical records to write commands: one outcome per request, in order.
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
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        p.call(
            &self.ctx,
            &self.config,
            requests_bytes(requests),
            |p, store, instance| {
                let idx = p.mapping.as_ref().expect("role checked when bound");
                let guest = idx
                    .load(&mut *store, instance)
                    .map_err(LoadError::Mismatch)?;
                let out = guest
                    .call_from_canonical(&mut *store, requests)
                    .map_err(LoadError::Call)?
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
                let bytes = from_canonical_bytes(&out);
                Ok((out, bytes))
            },
        )
        .map_err(|e| e.into_plugin(p))
    }
}

/// A live instance kept after one batch, for memory measurements (`bench`).
pub(crate) struct HeldInstance {
    _store: Store<StoreState>,
    _instance: Instance,
}

impl MapperInstance {
    /// Instantiates, maps `batch`, and keeps the instance alive (outside the slot gate; only
    /// for measuring what live instances cost).
    pub(crate) fn hold(&self, batch: &[PlatformDoc]) -> Result<HeldInstance, PluginError> {
        let p = &self.plugin;
        let store_id = &self.ctx.store_id;
        let mut store = p
            .new_store(&self.ctx, &self.config)
            .map_err(|e| p.host_error(store_id, e))?;
        let instance = p
            .pre
            .instantiate(&mut store)
            .map_err(|e| p.classify(store_id, &self.ctx.limits, &store, e, true))?;
        let idx = p.mapping.as_ref().expect("role checked when bound");
        let guest = idx
            .load(&mut store, &instance)
            .map_err(|e| CallError::Mismatch(e).into_plugin(p))?;
        guest
            .call_to_canonical(&mut store, batch)
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

/// A resolver bound to one store. Cheap to clone; each call gets a fresh instance.
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

    /// Decides conflicts: one decision per conflict, in order.
    pub fn resolve(&self, conflicts: &[FieldConflict]) -> Result<Vec<Decision>, PluginError> {
        self.resolve_with_report(conflicts).map(|(v, _)| v)
    }

    /// [`Self::resolve`] plus what the call cost and logged.
    pub fn resolve_with_report(
        &self,
        conflicts: &[FieldConflict],
    ) -> Result<(Vec<Decision>, CallReport), PluginError> {
        let store_id = &self.ctx.store_id;
        let p = &self.plugin;
        p.call(
            &self.ctx,
            &self.config,
            conflicts_bytes(conflicts),
            |p, store, instance| {
                let idx = p.resolving.as_ref().expect("role checked when bound");
                let guest = idx
                    .load(&mut *store, instance)
                    .map_err(LoadError::Mismatch)?;
                let out = guest
                    .call_resolve(&mut *store, conflicts)
                    .map_err(LoadError::Call)?
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
                let bytes = decisions_bytes(&out);
                Ok((out, bytes))
            },
        )
        .map_err(|e| e.into_plugin(p))
    }
}
