//! wasm32-only glue: the wit-bindgen bindings of both worlds and the conversions between them
//! and the SDK's native types. Used by [`crate::export_mapper!`] and [`crate::export_resolver!`].
//!
//! Each world gets its own bindings module. A plugin only references the module of the world it
//! exports, so only that world's type information ends up in its component.

use crate::types as native;
use crate::{Context, Mapper, Resolver};

/// Bindings of the `mapper` world.
pub mod mapper {
    wit_bindgen::generate!({
        world: "mapper",
        path: "../../wit",
        default_bindings_module: "weft_plugin_sdk::glue::mapper",
        pub_export_macro: true,
        export_macro_name: "__weft_export_mapper_world",
        generate_all,
    });
}

/// Bindings of the `resolver` world.
pub mod resolver {
    wit_bindgen::generate!({
        world: "resolver",
        path: "../../wit",
        default_bindings_module: "weft_plugin_sdk::glue::resolver",
        pub_export_macro: true,
        export_macro_name: "__weft_export_resolver_world",
        generate_all,
    });
}

macro_rules! shared_conversions {
    ($name:ident, $m:ident) => {
        mod $name {
            use super::native;
            use crate::glue::$m::weft::plugin::{host, types as wit};

            pub fn kind_in(k: wit::EntityKind) -> native::EntityKind {
                match k {
                    wit::EntityKind::Product => native::EntityKind::Product,
                    wit::EntityKind::Variant => native::EntityKind::Variant,
                    wit::EntityKind::InventoryLevel => native::EntityKind::InventoryLevel,
                    wit::EntityKind::Price => native::EntityKind::Price,
                    wit::EntityKind::Customer => native::EntityKind::Customer,
                    wit::EntityKind::Order => native::EntityKind::Order,
                    wit::EntityKind::Fulfillment => native::EntityKind::Fulfillment,
                    wit::EntityKind::Refund => native::EntityKind::Refund,
                }
            }

            #[allow(dead_code)]
            pub fn kind_out(k: native::EntityKind) -> wit::EntityKind {
                match k {
                    native::EntityKind::Product => wit::EntityKind::Product,
                    native::EntityKind::Variant => wit::EntityKind::Variant,
                    native::EntityKind::InventoryLevel => wit::EntityKind::InventoryLevel,
                    native::EntityKind::Price => wit::EntityKind::Price,
                    native::EntityKind::Customer => wit::EntityKind::Customer,
                    native::EntityKind::Order => wit::EntityKind::Order,
                    native::EntityKind::Fulfillment => wit::EntityKind::Fulfillment,
                    native::EntityKind::Refund => wit::EntityKind::Refund,
                }
            }

            pub fn plugin_error_out(e: native::PluginError) -> wit::PluginError {
                match e {
                    native::PluginError::Config(s) => wit::PluginError::Config(s),
                    native::PluginError::Other(s) => wit::PluginError::Other(s),
                }
            }

            pub fn info_out(i: native::PluginInfo) -> wit::PluginInfo {
                wit::PluginInfo {
                    name: i.name,
                    version: i.version,
                    description: i.description,
                }
            }

            pub fn host_log(level: native::Level, message: &str) {
                let level = match level {
                    native::Level::Trace => host::Level::Trace,
                    native::Level::Debug => host::Level::Debug,
                    native::Level::Info => host::Level::Info,
                    native::Level::Warn => host::Level::Warn,
                    native::Level::Error => host::Level::Error,
                };
                host::log(level, message);
            }

            pub fn host_config(key: &str) -> Option<String> {
                host::config(key)
            }

            pub fn context() -> crate::Context {
                crate::context::set_host_log(host_log);
                crate::Context::from_host(host_config)
            }
        }
    };
}

shared_conversions!(mapper_conv, mapper);
shared_conversions!(resolver_conv, resolver);

use mapper::exports::weft::plugin::mapping as mx;
use mapper::weft::plugin::types as mt;
use resolver::exports::weft::plugin::resolving as rx;

fn item_error_out(e: native::ItemError) -> mt::ItemError {
    match e {
        native::ItemError::InvalidInput(s) => mt::ItemError::InvalidInput(s),
        native::ItemError::Unsupported(s) => mt::ItemError::Unsupported(s),
        native::ItemError::Config(s) => mt::ItemError::Config(s),
    }
}

fn record_in(r: mt::CanonicalRecord) -> native::CanonicalRecord {
    native::CanonicalRecord {
        kind: mapper_conv::kind_in(r.kind),
        key: r.key,
        fields: r.fields,
    }
}

fn record_out(r: native::CanonicalRecord) -> mt::CanonicalRecord {
    mt::CanonicalRecord {
        kind: mapper_conv::kind_out(r.kind),
        key: r.key,
        fields: r.fields,
    }
}

fn command_out(c: native::WriteCommand) -> mt::WriteCommand {
    mt::WriteCommand {
        system: c.system,
        kind: mapper_conv::kind_out(c.kind),
        op: match c.op {
            native::WriteOp::Upsert => mt::WriteOp::Upsert,
            native::WriteOp::SetQuantity => mt::WriteOp::SetQuantity,
            native::WriteOp::AdjustQuantity => mt::WriteOp::AdjustQuantity,
            native::WriteOp::Delete => mt::WriteOp::Delete,
        },
        target_id: c.target_id,
        external_id: c.external_id,
        body: c.body,
    }
}

/// `info` of a mapper.
pub fn mapper_info<T: Mapper + Default>() -> mt::PluginInfo {
    mapper_conv::info_out(T::default().info())
}

/// `to-canonical` of a mapper.
pub fn mapper_to_canonical<T: Mapper + Default>(
    docs: Vec<mt::PlatformDoc>,
) -> Result<Vec<mx::ToCanonicalOutcome>, mt::PluginError> {
    let cx: Context = mapper_conv::context();
    let docs = docs
        .into_iter()
        .map(|d| native::PlatformDoc {
            system: d.system,
            kind: mapper_conv::kind_in(d.kind),
            id: d.id,
            version: d.version,
            body: d.body,
        })
        .collect();
    let out = T::default()
        .to_canonical(&cx, docs)
        .map_err(mapper_conv::plugin_error_out)?;
    Ok(out
        .into_iter()
        .map(|o| match o {
            native::ToCanonicalOutcome::Mapped(rs) => {
                mx::ToCanonicalOutcome::Mapped(rs.into_iter().map(record_out).collect())
            }
            native::ToCanonicalOutcome::Skipped(s) => mx::ToCanonicalOutcome::Skipped(s),
            native::ToCanonicalOutcome::Failed(e) => {
                mx::ToCanonicalOutcome::Failed(item_error_out(e))
            }
        })
        .collect())
}

/// `from-canonical` of a mapper.
pub fn mapper_from_canonical<T: Mapper + Default>(
    reqs: Vec<mx::WriteRequest>,
) -> Result<Vec<mx::FromCanonicalOutcome>, mt::PluginError> {
    let cx: Context = mapper_conv::context();
    let reqs = reqs
        .into_iter()
        .map(|r| native::WriteRequest {
            target: r.target,
            record: record_in(r.record),
            current: r.current,
            target_id: r.target_id,
            deleted: r.deleted,
        })
        .collect();
    let out = T::default()
        .from_canonical(&cx, reqs)
        .map_err(mapper_conv::plugin_error_out)?;
    Ok(out
        .into_iter()
        .map(|o| match o {
            native::FromCanonicalOutcome::Commands(cs) => {
                mx::FromCanonicalOutcome::Commands(cs.into_iter().map(command_out).collect())
            }
            native::FromCanonicalOutcome::Skipped(s) => mx::FromCanonicalOutcome::Skipped(s),
            native::FromCanonicalOutcome::Failed(e) => {
                mx::FromCanonicalOutcome::Failed(item_error_out(e))
            }
        })
        .collect())
}

/// `info` of a resolver.
pub fn resolver_info<T: Resolver + Default>() -> resolver::weft::plugin::types::PluginInfo {
    resolver_conv::info_out(T::default().info())
}

/// `guards` of a resolver.
pub fn resolver_guards<T: Resolver + Default>()
-> Result<Vec<String>, resolver::weft::plugin::types::PluginError> {
    let cx: Context = resolver_conv::context();
    T::default()
        .guards(&cx)
        .map_err(resolver_conv::plugin_error_out)
}

/// `resolve` of a resolver.
pub fn resolver_resolve<T: Resolver + Default>(
    changes: Vec<rx::FieldChange>,
) -> Result<Vec<rx::Decision>, resolver::weft::plugin::types::PluginError> {
    let cx: Context = resolver_conv::context();
    let side = |s: rx::Side| native::Side {
        system: s.system,
        value: s.value,
        version: s.version,
        changed: s.changed,
    };
    let changes = changes
        .into_iter()
        .map(|c| native::FieldChange {
            occasion: match c.occasion {
                rx::Occasion::Conflict => native::Occasion::Conflict,
                rx::Occasion::Change => native::Occasion::Change,
            },
            kind: resolver_conv::kind_in(c.kind),
            key: c.key,
            field: c.field,
            base: c.base,
            agreed: c.agreed,
            incoming: c.incoming,
            sides: c.sides.into_iter().map(side).collect(),
        })
        .collect();
    let out = T::default()
        .resolve(&cx, changes)
        .map_err(resolver_conv::plugin_error_out)?;
    Ok(out
        .into_iter()
        .map(|d| match d {
            native::Decision::Take(s) => rx::Decision::Take(s),
            native::Decision::Value(v) => rx::Decision::Value(v),
            native::Decision::Refuse(r) => rx::Decision::Refuse(r),
        })
        .collect())
}
