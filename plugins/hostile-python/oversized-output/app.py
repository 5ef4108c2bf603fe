"""Hostile: answers every document with one 4 MiB field (over a 1 MiB output limit)."""
import weft_plugin as weft


class Big(weft.DocMapper):
    def info(self):
        return weft.PluginInfo("hostile-py-oversized-output", "0.1.0", "Returns 4 MiB per document.")

    def map_doc(self, cx, doc):
        return weft.mapped([weft.record(weft.EntityKind.PRODUCT, doc.id, {"blob": "x" * (4 << 20)})])

    def write_request(self, cx, req):
        return weft.skipped("no writes")


Mapping = weft.export_mapper(Big)
