//! {{name}}: Shopify products -> canonical variants -> NetSuite items (a starting point).
//!
//! `weft plugin build` turns this into build/plugin.wasm; README.md is the whole loop.

use weft_plugin_sdk::prelude::*;
use weft_plugin_sdk::serde_json::json;

#[derive(Default)]
pub struct Plugin;

impl DocMapper for Plugin {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", "Shopify products to NetSuite items.")
    }

    // Read config once a batch; a wrong type fails the batch with the key's name.
    fn prepare(&self, cx: &Context) -> Result<(), PluginError> {
        cx.config::<String>("sku_prefix")?;
        Ok(())
    }

    fn map_doc(&self, _cx: &Context, doc: PlatformDoc) -> ToCanonicalOutcome {
        if doc.kind != EntityKind::Product {
            return ToCanonicalOutcome::Skipped(format!(
                "only products are mapped, not {}",
                doc.kind
            ));
        }
        let map = || -> Result<ToCanonicalOutcome, ItemError> {
            let body = json::parse("product", &doc.body)?;
            let product = json::Node::root("product", &body);
            let title = product.opt_str("title")?;
            let mut records = Vec::new();
            for variant in product.opt_array("variants")? {
                // Errors name the path: product.variants[0].sku.
                let Some(sku) = variant.opt_str("sku")? else {
                    continue;
                };
                let fields = json!({"sku": sku, "title": title});
                records.push(CanonicalRecord::new(EntityKind::Variant, sku, &fields));
            }
            weft_plugin_sdk::debug!("product {}: {} variants", doc.id, records.len());
            Ok(ToCanonicalOutcome::Mapped(records))
        };
        map().unwrap_or_else(ToCanonicalOutcome::Failed)
    }

    fn write_request(&self, cx: &Context, req: WriteRequest) -> FromCanonicalOutcome {
        let write = || -> Result<FromCanonicalOutcome, ItemError> {
            // Write to the system the request names (req.target), never a fixed name.
            let systems: std::collections::BTreeMap<String, String> =
                cx.config_or("weft:systems", Default::default())?;
            let platform = systems.get(&req.target).unwrap_or(&req.target);
            if platform != "netsuite" {
                return Ok(FromCanonicalOutcome::Skipped(format!(
                    "only NetSuite items are written, not {}",
                    req.target
                )));
            }
            let sku = &req.record.key;
            let fields = json::parse("fields", &req.record.fields)?;
            let title = json::Node::root("fields", &fields).opt_str("title")?;
            // `current` is the target's document as weft last saw it: when it already holds the
            // record (the echo of weft's own write), write nothing.
            if let Some(current) = &req.current {
                let current = json::parse("current", current)?;
                if json::Node::root("item", &current).opt_str("displayName")? == title {
                    return Ok(FromCanonicalOutcome::Commands(vec![]));
                }
            }
            let prefix: String = cx.config_or("sku_prefix", String::new())?;
            let body = json!({
                "externalId": format!("item-{sku}"),
                "itemId": format!("{prefix}{sku}"),
                "displayName": title,
            });
            Ok(FromCanonicalOutcome::Commands(vec![WriteCommand {
                system: req.target.clone(),
                kind: req.record.kind,
                op: WriteOp::Upsert,
                target_id: req.target_id.clone(),
                external_id: Some(format!("item-{sku}")),
                body: body.to_string(),
            }]))
        };
        write().unwrap_or_else(FromCanonicalOutcome::Failed)
    }
}

weft_plugin_sdk::export_mapper!(Plugin);
