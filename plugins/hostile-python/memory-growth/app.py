"""Hostile: allocates 1 MiB buffers until something stops it."""
import weft_plugin as weft


class Grow(weft.DocMapper):
    def info(self):
        return weft.PluginInfo("hostile-py-memory-growth", "0.1.0", "Grows memory forever.")

    def map_doc(self, cx, doc):
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))

    def write_request(self, cx, req):
        return weft.skipped("no writes")


Mapping = weft.export_mapper(Grow)
