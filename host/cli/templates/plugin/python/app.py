"""{{name}}: Shopify products -> canonical variants -> NetSuite items (a starting point).

`weft plugin build` turns this into build/plugin.wasm; README.md is the whole loop.
"""

import weft_plugin as weft
from weft_plugin import EntityKind


class Plugin(weft.DocMapper):
    def info(self):
        return weft.PluginInfo("{{name}}", "0.1.0", "Shopify products to NetSuite items.")

    def prepare(self, cx):
        # Read config once a batch; a wrong type fails the batch with the key's name.
        self.sku_prefix = cx.config_of("sku_prefix", str, "")

    def map_doc(self, cx, doc):
        if doc.kind != EntityKind.PRODUCT:
            return weft.skipped(f"only products are mapped, not {weft.kind_name(doc.kind)}")
        product = weft.Node.root("product", weft.parse("product", doc.body))
        title = product.opt_str("title")
        records = []
        for variant in product.opt_array("variants"):
            sku = variant.opt_str("sku")  # errors name the path: product.variants[0].sku
            if sku is None:
                continue
            records.append(weft.record(EntityKind.VARIANT, sku, {"sku": sku, "title": title}))
        weft.debug(f"product {doc.id}: {len(records)} variants")
        return weft.mapped(records)

    def write_request(self, cx, req):
        # Write to the system the request names (req.target), never a fixed name.
        if cx.platform_of(req.target) != "netsuite":
            return weft.skipped(f"only NetSuite items are written, not {req.target}")
        sku = req.record.key
        fields = weft.Node.root("fields", weft.parse("fields", req.record.fields))
        title = fields.opt_str("title")
        # `current` is the target's document as weft last saw it: when it already holds the
        # record (the echo of weft's own write), write nothing.
        if req.current is not None:
            current = weft.Node.root("item", weft.parse("current", req.current))
            if current.opt_str("displayName") == title:
                return weft.commands([])
        body = {"externalId": f"item-{sku}", "itemId": self.sku_prefix + sku, "displayName": title}
        return weft.commands(
            [weft.command(req, body, target_id=req.target_id, external_id=f"item-{sku}")]
        )


Mapping = weft.export_mapper(Plugin)
