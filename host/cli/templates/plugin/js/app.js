// {{name}}: Shopify products -> canonical variants -> NetSuite items (a starting point).
//
// `weft plugin build` (or `npm run build`) turns this into build/plugin.wasm; README.md is the
// whole loop.
import * as weft from "./weft-plugin.js";

class Plugin extends weft.DocMapper {
  info() {
    return weft.pluginInfo("{{name}}", "0.1.0", "Shopify products to NetSuite items.");
  }

  prepare(cx) {
    // Read config once a batch; a wrong type fails the batch with the key's name.
    this.skuPrefix = cx.configOf("sku_prefix", "string", "");
  }

  mapDoc(cx, doc) {
    if (doc.kind !== "product") return weft.skipped(`only products are mapped, not ${doc.kind}`);
    const product = weft.Node.root("product", weft.parse("product", doc.body));
    const title = product.optStr("title");
    const records = [];
    for (const variant of product.optArray("variants")) {
      const sku = variant.optStr("sku"); // errors name the path: product.variants[0].sku
      if (sku === null) continue;
      records.push(weft.record("variant", sku, { sku, title }));
    }
    weft.debug(`product ${doc.id}: ${records.length} variants`);
    return weft.mapped(records);
  }

  writeRequest(cx, req) {
    // Write to the system the request names (req.target), never a fixed name.
    if (cx.platformOf(req.target) !== "netsuite") {
      return weft.skipped(`only NetSuite items are written, not ${req.target}`);
    }
    const sku = req.record.key;
    const fields = weft.Node.root("fields", weft.parse("fields", req.record.fields));
    const title = fields.optStr("title");
    // `current` is the target's document as weft last saw it: when it already holds the record
    // (the echo of weft's own write), write nothing.
    if (req.current !== undefined && req.current !== null) {
      const current = weft.Node.root("item", weft.parse("current", req.current));
      if (current.optStr("displayName") === title) return weft.commands([]);
    }
    const body = { externalId: `item-${sku}`, itemId: this.skuPrefix + sku, displayName: title };
    return weft.commands([
      weft.command(req, body, { targetId: req.targetId, externalId: `item-${sku}` }),
    ]);
  }
}

export const mapping = weft.exportMapper(Plugin);
