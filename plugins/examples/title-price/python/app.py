"""title-price: the title and price part of the stock shopify-netsuite mapper, in Python.

Shopify products -> canonical `variant` (sku, title) and `price` (sku, price, compare_at_price)
records, one pair per variant with a SKU; canonical `variant` and `price` records -> NetSuite
inventory item upserts (itemId = `sku_prefix` + SKU, externalId `item-<escaped sku>`, the title
in the field named by `title_field`, `basePrice`, `custitem_compare_at_price`). No command when
the item already holds the record (the echo of weft's own write). The Rust and JavaScript
versions next to this one pass the same fixtures (`../fixtures`).
"""

import weft_plugin as weft
from weft_plugin import EntityKind


def escape(text):
    """The stock mapper's reversible external-id escape: `_` -> `__`, other characters outside
    [A-Za-z0-9-] -> `_xx` per UTF-8 byte."""
    out = []
    for c in text:
        if (c.isascii() and c.isalnum()) or c == "-":
            out.append(c)
        elif c == "_":
            out.append("__")
        else:
            out.extend(f"_{b:02x}" for b in c.encode("utf-8"))
    return "".join(out)


class Config:
    def __init__(self, cx):
        self.sku_prefix = cx.config_of("sku_prefix", str, "")
        self.title_field = cx.config_of("title_field", str, "displayName")
        if self.title_field != "displayName" and not (
            self.title_field.startswith("custitem_") and len(self.title_field) > len("custitem_")
        ):
            raise weft.ConfigError(
                "title_field",
                f'must be "displayName" or a "custitem_*" field, got "{self.title_field}"',
            )


class TitlePrice(weft.DocMapper):
    def info(self):
        return weft.PluginInfo(
            "title-price", "0.1.0", "Shopify titles and prices to NetSuite items (Python)."
        )

    def prepare(self, cx):
        self.cfg = Config(cx)

    def map_doc(self, cx, doc):
        platform = cx.platform_of(doc.system)
        if platform != "shopify" or doc.kind != EntityKind.PRODUCT:
            return weft.skipped(
                f"title-price maps Shopify products only, not {platform} {weft.kind_name(doc.kind)}"
            )
        p = weft.Node.root("product", weft.parse(f"shopify product {doc.id}", doc.body))
        title = p.opt_str("title")
        records, seen = [], {}
        for i, v in enumerate(p.opt_array("variants")):
            sku = v.opt_str("sku")
            if sku is None:
                continue
            if sku in seen:
                raise v.error(
                    f'sku "{sku}" repeats product.variants[{seen[sku]}]; a sku must identify one variant'
                )
            seen[sku] = i
            records.append(weft.record(EntityKind.VARIANT, sku, {"sku": sku, "title": title}))
            records.append(
                weft.record(
                    EntityKind.PRICE,
                    sku,
                    {
                        "sku": sku,
                        "price": v.opt_decimal("price"),
                        "compare_at_price": v.opt_decimal("compare_at_price"),
                    },
                )
            )
        if not records:
            return weft.skipped(f"product {doc.id} has no variant with a sku")
        weft.debug(f"product {doc.id}: {len(records) // 2} variants")
        return weft.mapped(records)

    def write_request(self, cx, req):
        platform = cx.platform_of(req.target)
        kind = req.record.kind
        if platform != "netsuite" or kind not in (EntityKind.VARIANT, EntityKind.PRICE):
            return weft.skipped(
                f"title-price writes NetSuite items only, not {platform} {weft.kind_name(kind)}"
            )
        sku = req.record.key
        fields = weft.Node.root(
            f"{weft.kind_name(kind)} {sku}", weft.parse("fields", req.record.fields)
        )
        current = None
        if req.current is not None:
            current = weft.Node.root(
                "inventoryItem", weft.parse(f"current netsuite item {sku}", req.current)
            )
        external_id = (current and current.opt_str("externalId")) or f"item-{escape(sku)}"
        target_id = (current and current.opt_id("id")) or req.target_id
        body = {"externalId": external_id, "itemId": self.cfg.sku_prefix + sku}
        if kind == EntityKind.VARIANT:
            title = fields.opt_str("title")
            if title is None:
                return weft.commands([])
            if current is not None and current.opt_str(self.cfg.title_field) == title:
                return weft.commands([])
            body[self.cfg.title_field] = title
        else:
            price = fields.opt_decimal("price")
            compare_at = fields.opt_decimal("compare_at_price")
            if current is not None:
                have_price = current.opt_decimal("basePrice")
                have_compare = current.opt_decimal("custitem_compare_at_price")
                if (price is None or price == have_price) and compare_at == have_compare:
                    return weft.commands([])
            if price is not None:
                body["basePrice"] = weft.decimal_to_number(price)
            body["custitem_compare_at_price"] = (
                None if compare_at is None else weft.decimal_to_number(compare_at)
            )
        return weft.commands(
            [weft.command(req, body, target_id=target_id, external_id=external_id)]
        )


Mapping = weft.export_mapper(TitlePrice)
