// title-price: the title and price part of the stock shopify-netsuite mapper, in JavaScript.
//
// Shopify products -> canonical `variant` (sku, title) and `price` (sku, price,
// compare_at_price) records, one pair per variant with a SKU; canonical `variant` and `price`
// records -> NetSuite inventory item upserts (itemId = `sku_prefix` + SKU, externalId
// `item-<escaped sku>`, the title in the field named by `title_field`, `basePrice`,
// `custitem_compare_at_price`). No command when the item already holds the record (the echo of
// weft's own write). The Rust and Python versions next to this one pass the same fixtures
// (`../fixtures`).

// `weft plugin build` (or `node ../../../sdk-js/build.mjs --sdk ../../../sdk-js/weft-plugin.js`)
// stages the SDK next to this file.
import * as weft from "./weft-plugin.js";

const encoder = new TextEncoder();

// The stock mapper's reversible external-id escape: `_` -> `__`, other characters outside
// [A-Za-z0-9-] -> `_xx` per UTF-8 byte.
function escape(text) {
  let out = "";
  for (const c of text) {
    if (/^[A-Za-z0-9-]$/.test(c)) out += c;
    else if (c === "_") out += "__";
    else for (const b of encoder.encode(c)) out += "_" + b.toString(16).padStart(2, "0");
  }
  return out;
}

function loadConfig(cx) {
  const skuPrefix = cx.configOf("sku_prefix", "string", "");
  const titleField = cx.configOf("title_field", "string", "displayName");
  if (titleField !== "displayName" && !(titleField.startsWith("custitem_") && titleField.length > 9)) {
    throw new weft.ConfigError(
      "title_field",
      `must be "displayName" or a "custitem_*" field, got "${titleField}"`,
    );
  }
  return { skuPrefix, titleField };
}

class TitlePrice extends weft.DocMapper {
  info() {
    return weft.pluginInfo("title-price", "0.1.0", "Shopify titles and prices to NetSuite items (JavaScript).");
  }

  prepare(cx) {
    this.cfg = loadConfig(cx);
  }

  mapDoc(cx, doc) {
    const platform = cx.platformOf(doc.system);
    if (platform !== "shopify" || doc.kind !== "product") {
      return weft.skipped(`title-price maps Shopify products only, not ${platform} ${doc.kind}`);
    }
    const p = weft.Node.root("product", weft.parse(`shopify product ${doc.id}`, doc.body));
    const title = p.optStr("title");
    const records = [];
    const seen = new Map();
    p.optArray("variants").forEach((v, i) => {
      const sku = v.optStr("sku");
      if (sku === null) return;
      if (seen.has(sku)) {
        throw v.error(`sku "${sku}" repeats product.variants[${seen.get(sku)}]; a sku must identify one variant`);
      }
      seen.set(sku, i);
      records.push(weft.record("variant", sku, { sku, title }));
      records.push(
        weft.record("price", sku, {
          sku,
          price: v.optDecimal("price"),
          compare_at_price: v.optDecimal("compare_at_price"),
        }),
      );
    });
    if (records.length === 0) return weft.skipped(`product ${doc.id} has no variant with a sku`);
    weft.debug(`product ${doc.id}: ${records.length / 2} variants`);
    return weft.mapped(records);
  }

  writeRequest(cx, req) {
    const platform = cx.platformOf(req.target);
    const kind = req.record.kind;
    if (platform !== "netsuite" || (kind !== "variant" && kind !== "price")) {
      return weft.skipped(`title-price writes NetSuite items only, not ${platform} ${kind}`);
    }
    const sku = req.record.key;
    const fields = weft.Node.root(`${kind} ${sku}`, weft.parse("fields", req.record.fields));
    const current =
      req.current === undefined || req.current === null
        ? null
        : weft.Node.root("inventoryItem", weft.parse(`current netsuite item ${sku}`, req.current));
    const externalId = (current && current.optStr("externalId")) || `item-${escape(sku)}`;
    const targetId = (current && current.optId("id")) || req.targetId;
    const body = { externalId, itemId: this.cfg.skuPrefix + sku };
    if (kind === "variant") {
      const title = fields.optStr("title");
      if (title === null) return weft.commands([]);
      if (current !== null && current.optStr(this.cfg.titleField) === title) return weft.commands([]);
      body[this.cfg.titleField] = title;
    } else {
      const price = fields.optDecimal("price");
      const compareAt = fields.optDecimal("compare_at_price");
      if (current !== null) {
        const havePrice = current.optDecimal("basePrice");
        const haveCompare = current.optDecimal("custitem_compare_at_price");
        if ((price === null || price === havePrice) && compareAt === haveCompare) return weft.commands([]);
      }
      if (price !== null) body.basePrice = weft.decimalToNumber(price);
      body.custitem_compare_at_price = compareAt === null ? null : weft.decimalToNumber(compareAt);
    }
    return weft.commands([weft.command(req, body, { targetId, externalId })]);
  }
}

export const mapping = weft.exportMapper(TitlePrice);
