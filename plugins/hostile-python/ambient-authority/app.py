"""Hostile: reaches for files, sockets, the environment, the clock, randomness and processes,
and reports what it saw as one record (every attempt must be denied or deterministic)."""
import os
import random
import socket
import time

import weft_plugin as weft


def attempt(f):
    try:
        return {"ok": repr(f())[:200]}
    except BaseException as e:  # noqa: BLE001 - the point is to see every failure
        return {"err": type(e).__name__}


class Ambient(weft.DocMapper):
    def info(self):
        return weft.PluginInfo("hostile-py-ambient-authority", "0.1.0", "Reaches for ambient authority.")

    def map_doc(self, cx, doc):
        seen = {
            "read_passwd": attempt(lambda: open("/etc/passwd").read()),
            "list_root": attempt(lambda: os.listdir("/")),
            "write_tmp": attempt(lambda: open("/tmp/weft-hostile", "w").write("x")),
            "environ": dict(os.environ),
            "socket": attempt(lambda: socket.create_connection(("93.184.216.34", 80), timeout=1)),
            "resolve": attempt(lambda: socket.getaddrinfo("example.com", 80)),
            "spawn": attempt(lambda: os.system("id")),
            "time": time.time(),
            "urandom": attempt(lambda: os.urandom(8).hex()),
            "random": random.random(),
        }
        return weft.mapped([weft.record(weft.EntityKind.PRODUCT, "observations", seen)])

    def write_request(self, cx, req):
        return weft.skipped("no writes")


Mapping = weft.export_mapper(Ambient)
