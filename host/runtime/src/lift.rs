//! Calling the exports and lifting their results under the output cap, *before* anything is
//! copied out of the guest.
//!
//! The bindings' generated calls lift a result into owned host `String`s and `Vec`s: a plugin
//! returning 100 MiB had it all copied into host memory before the size check ran, and the copy
//! itself could fail as a trap. Here every string and list of a result is lifted through
//! [`CappedStr`] / [`CappedList`], which read the guest's (pointer, length) pair, charge the
//! length against the call's output budget (a string's bytes; [`ELEMENT_BYTES`] per list
//! element, so a flood of empty items is not free either) and only then let wasmtime copy it.
//! Past the budget the lift fails before the copy and the call ends in `OutputTooLarge`.
//!
//! (The results cannot be lifted as views (`WasmStr`) and measured afterwards: wasmtime runs
//! the guest's post-return function, which frees them, as part of the call.)
//!
//! These two wrappers implement wasmtime's `ComponentType`/`Lift` by forwarding to `String` and
//! `Vec<T>`; that uses wasmtime's doc-hidden `__internal` items (stable in practice, pinned by
//! the workspace's wasmtime version).

use std::cell::Cell;

use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentExportIndex, ComponentType, Instance, Lift};
use wasmtime::{Store, ValRaw};

use crate::host_impl::StoreState;
use crate::types::{
    CanonicalRecord, Decision, EntityKind, FieldChange, FromCanonicalOutcome, GuestError,
    ItemError, PlatformDoc, PluginInfo, ToCanonicalOutcome, WriteCommand, WriteOp, WriteRequest,
};

/// What each list element of a result costs against the output cap, on top of its text.
pub const ELEMENT_BYTES: u64 = 16;
/// The longest text kept of a plugin's `info` fields and of its batch error message.
const MAX_INFO_TEXT: usize = 1024;
const MAX_ERROR_TEXT: usize = 4096;

/// The export functions, found once at load.
pub(crate) struct Exports {
    pub(crate) mapping_info: Option<ComponentExportIndex>,
    pub(crate) to_canonical: Option<ComponentExportIndex>,
    pub(crate) from_canonical: Option<ComponentExportIndex>,
    pub(crate) resolving_info: Option<ComponentExportIndex>,
    pub(crate) resolve: Option<ComponentExportIndex>,
    pub(crate) guards: Option<ComponentExportIndex>,
}

/// The output budget of one call.
pub(crate) struct Budget {
    pub(crate) cap: u64,
    pub(crate) used: u64,
}

impl Budget {
    pub(crate) fn new(cap: u64) -> Self {
        Budget { cap, used: 0 }
    }

    pub(crate) fn over(&self) -> bool {
        self.used > self.cap
    }
}

thread_local! {
    /// The budget of the call being lifted on this thread: (used, cap).
    static LIFT_BUDGET: Cell<(u64, u64)> = const { Cell::new((0, u64::MAX)) };
}

/// Runs `f` (a call: its results are lifted inside it, on this thread) with `budget` active.
fn metered<R>(budget: &mut Budget, f: impl FnOnce() -> R) -> R {
    LIFT_BUDGET.with(|b| b.set((budget.used, budget.cap)));
    let r = f();
    budget.used = LIFT_BUDGET.with(|b| b.replace((0, u64::MAX))).0;
    r
}

fn charge(bytes: u64) -> wasmtime::Result<()> {
    LIFT_BUDGET.with(|b| {
        let (used, cap) = b.get();
        let used = used.saturating_add(bytes);
        b.set((used, cap));
        if used > cap {
            wasmtime::bail!("output over the cap of {cap} bytes; not copied");
        }
        Ok(())
    })
}

/// The length half of a (pointer, length) pair, flat or in memory.
fn flat_len(src: &[ValRaw; 2]) -> u64 {
    u64::from(src[1].get_u32())
}

fn memory_len(bytes: &[u8]) -> u64 {
    bytes.get(4..8).map_or(0, |b| {
        u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    })
}

/// A `string` result, charged against the output budget before it is copied.
pub(crate) struct CappedStr(String);

// SAFETY: forwards every item to `String`, whose representation it shares.
#[allow(unsafe_code)]
unsafe impl ComponentType for CappedStr {
    type Lower = <String as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <String as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: forwards to `String` after charging the length.
#[allow(unsafe_code)]
unsafe impl Lift for CappedStr {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(flat_len(src))?;
        <String as Lift>::linear_lift_from_flat(cx, ty, src).map(CappedStr)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(memory_len(bytes))?;
        <String as Lift>::linear_lift_from_memory(cx, ty, bytes).map(CappedStr)
    }
}

/// A `list<T>` result, charged [`ELEMENT_BYTES`] per element before any element is lifted.
pub(crate) struct CappedList<T>(Vec<T>);

// SAFETY: forwards every item to `Vec<T>`, whose representation it shares.
#[allow(unsafe_code)]
unsafe impl<T: ComponentType> ComponentType for CappedList<T> {
    type Lower = <Vec<T> as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <Vec<T> as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Vec<T> as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: forwards to `Vec<T>` after charging the element count.
#[allow(unsafe_code)]
unsafe impl<T: Lift> Lift for CappedList<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(flat_len(src).saturating_mul(ELEMENT_BYTES))?;
        <Vec<T> as Lift>::linear_lift_from_flat(cx, ty, src).map(CappedList)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(memory_len(bytes).saturating_mul(ELEMENT_BYTES))?;
        <Vec<T> as Lift>::linear_lift_from_memory(cx, ty, bytes).map(CappedList)
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct InfoOut {
    name: CappedStr,
    version: CappedStr,
    description: CappedStr,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum GuestErrorOut {
    #[component(name = "config")]
    Config(CappedStr),
    #[component(name = "other")]
    Other(CappedStr),
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum ItemErrorOut {
    #[component(name = "invalid-input")]
    InvalidInput(CappedStr),
    #[component(name = "unsupported")]
    Unsupported(CappedStr),
    #[component(name = "config")]
    Config(CappedStr),
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct RecordOut {
    kind: EntityKind,
    key: CappedStr,
    fields: CappedStr,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum ToCanonicalOut {
    #[component(name = "mapped")]
    Mapped(CappedList<RecordOut>),
    #[component(name = "skipped")]
    Skipped(CappedStr),
    #[component(name = "failed")]
    Failed(ItemErrorOut),
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct CommandOut {
    system: CappedStr,
    kind: EntityKind,
    op: WriteOp,
    #[component(name = "target-id")]
    target_id: Option<CappedStr>,
    #[component(name = "external-id")]
    external_id: Option<CappedStr>,
    body: CappedStr,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum FromCanonicalOut {
    #[component(name = "commands")]
    Commands(CappedList<CommandOut>),
    #[component(name = "skipped")]
    Skipped(CappedStr),
    #[component(name = "failed")]
    Failed(ItemErrorOut),
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum DecisionOut {
    #[component(name = "take")]
    Take(CappedStr),
    #[component(name = "value")]
    Value(CappedStr),
    #[component(name = "refuse")]
    Refuse(CappedStr),
}

fn export(f: Option<&ComponentExportIndex>) -> wasmtime::Result<&ComponentExportIndex> {
    f.ok_or_else(|| wasmtime::format_err!("the export function is missing"))
}

/// The first `max` bytes of a string (on a char boundary).
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

/// Text meant for people (error messages, skip reasons) on one line: the host prints it in
/// its logs, where a newline would forge a line (see [`crate::escape_log`]).
fn one_line(text: String) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    crate::escape_log(&text, usize::MAX, &mut out);
    out
}

fn guest_error(e: GuestErrorOut) -> GuestError {
    match e {
        GuestErrorOut::Config(m) => GuestError::Config(one_line(cut(m.0, MAX_ERROR_TEXT))),
        GuestErrorOut::Other(m) => GuestError::Other(one_line(cut(m.0, MAX_ERROR_TEXT))),
    }
}

fn item_error(e: ItemErrorOut) -> ItemError {
    match e {
        ItemErrorOut::InvalidInput(m) => ItemError::InvalidInput(one_line(m.0)),
        ItemErrorOut::Unsupported(m) => ItemError::Unsupported(one_line(m.0)),
        ItemErrorOut::Config(m) => ItemError::Config(one_line(m.0)),
    }
}

/// Calls `info` and keeps at most 1 KiB of each field.
pub(crate) fn info(
    store: &mut Store<StoreState>,
    instance: &Instance,
    f: Option<&ComponentExportIndex>,
    budget: &mut Budget,
) -> wasmtime::Result<PluginInfo> {
    let func = instance.get_typed_func::<(), (InfoOut,)>(&mut *store, export(f)?)?;
    let (i,) = metered(budget, || func.call(&mut *store, ()))?;
    Ok(PluginInfo {
        name: one_line(cut(i.name.0, MAX_INFO_TEXT)),
        version: one_line(cut(i.version.0, MAX_INFO_TEXT)),
        description: one_line(cut(i.description.0, MAX_INFO_TEXT)),
    })
}

type Answer<T> = wasmtime::Result<Result<Vec<T>, GuestError>>;

/// Calls `to-canonical`; the output is charged against `budget` before it is copied.
pub(crate) fn to_canonical(
    store: &mut Store<StoreState>,
    instance: &Instance,
    f: Option<&ComponentExportIndex>,
    docs: &[PlatformDoc],
    budget: &mut Budget,
) -> Answer<ToCanonicalOutcome> {
    let func = instance
        .get_typed_func::<(&[PlatformDoc],), (Result<CappedList<ToCanonicalOut>, GuestErrorOut>,)>(
            &mut *store,
            export(f)?,
        )?;
    let list = match metered(budget, || func.call(&mut *store, (docs,)))?.0 {
        Ok(list) => list.0,
        Err(e) => return Ok(Err(guest_error(e))),
    };
    Ok(Ok(list
        .into_iter()
        .map(|o| match o {
            ToCanonicalOut::Mapped(records) => ToCanonicalOutcome::Mapped(
                records
                    .0
                    .into_iter()
                    .map(|r| CanonicalRecord {
                        kind: r.kind,
                        key: r.key.0,
                        fields: r.fields.0,
                    })
                    .collect(),
            ),
            ToCanonicalOut::Skipped(why) => ToCanonicalOutcome::Skipped(one_line(why.0)),
            ToCanonicalOut::Failed(e) => ToCanonicalOutcome::Failed(item_error(e)),
        })
        .collect()))
}

/// Calls `from-canonical`; the output is charged against `budget` before it is copied.
pub(crate) fn from_canonical(
    store: &mut Store<StoreState>,
    instance: &Instance,
    f: Option<&ComponentExportIndex>,
    requests: &[WriteRequest],
    budget: &mut Budget,
) -> Answer<FromCanonicalOutcome> {
    let func = instance.get_typed_func::<(&[WriteRequest],), (
        Result<CappedList<FromCanonicalOut>, GuestErrorOut>,
    )>(&mut *store, export(f)?)?;
    let list = match metered(budget, || func.call(&mut *store, (requests,)))?.0 {
        Ok(list) => list.0,
        Err(e) => return Ok(Err(guest_error(e))),
    };
    Ok(Ok(list
        .into_iter()
        .map(|o| match o {
            FromCanonicalOut::Commands(cmds) => FromCanonicalOutcome::Commands(
                cmds.0
                    .into_iter()
                    .map(|c| WriteCommand {
                        system: c.system.0,
                        kind: c.kind,
                        op: c.op,
                        target_id: c.target_id.map(|s| s.0),
                        external_id: c.external_id.map(|s| s.0),
                        body: c.body.0,
                    })
                    .collect(),
            ),
            FromCanonicalOut::Skipped(why) => FromCanonicalOutcome::Skipped(one_line(why.0)),
            FromCanonicalOut::Failed(e) => FromCanonicalOutcome::Failed(item_error(e)),
        })
        .collect()))
}

/// Calls `resolve`; the output is charged against `budget` before it is copied.
pub(crate) fn resolve(
    store: &mut Store<StoreState>,
    instance: &Instance,
    f: Option<&ComponentExportIndex>,
    conflicts: &[FieldChange],
    budget: &mut Budget,
) -> Answer<Decision> {
    let func = instance
        .get_typed_func::<(&[FieldChange],), (Result<CappedList<DecisionOut>, GuestErrorOut>,)>(
            &mut *store,
            export(f)?,
        )?;
    let list = match metered(budget, || func.call(&mut *store, (conflicts,)))?.0 {
        Ok(list) => list.0,
        Err(e) => return Ok(Err(guest_error(e))),
    };
    Ok(Ok(list
        .into_iter()
        .map(|d| match d {
            DecisionOut::Take(s) => Decision::Take(s.0),
            DecisionOut::Value(v) => Decision::Value(v.0),
            DecisionOut::Refuse(r) => Decision::Refuse(one_line(cut(r.0, MAX_ERROR_TEXT))),
        })
        .collect()))
}

/// Calls `guards`; the output is charged against `budget` before it is copied.
pub(crate) fn guards(
    store: &mut Store<StoreState>,
    instance: &Instance,
    f: Option<&ComponentExportIndex>,
    budget: &mut Budget,
) -> Answer<String> {
    let func = instance.get_typed_func::<(), (Result<CappedList<CappedStr>, GuestErrorOut>,)>(
        &mut *store,
        export(f)?,
    )?;
    match metered(budget, || func.call(&mut *store, ()))?.0 {
        Ok(list) => Ok(Ok(list.0.into_iter().map(|s| s.0).collect())),
        Err(e) => Ok(Err(guest_error(e))),
    }
}
