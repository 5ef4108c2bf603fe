"""Hostile: never returns from to-canonical."""
import weft_plugin as weft


class Loop(weft.DocMapper):
    def info(self):
        return weft.PluginInfo("hostile-py-infinite-loop", "0.1.0", "Loops forever.")

    def map_doc(self, cx, doc):
        n = 0
        while True:
            n += 1

    def write_request(self, cx, req):
        return weft.skipped("no writes")


Mapping = weft.export_mapper(Loop)
