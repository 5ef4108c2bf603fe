"""The weft plugin SDK for Python: write a mapping plugin as a Python class.

A plugin is a module (``app.py``) that subclasses :class:`DocMapper` (one document at a time)
or :class:`Mapper` (whole batches) and exports it::

    import weft_plugin as weft

    class Customers(weft.DocMapper):
        def info(self):
            return weft.PluginInfo("acme-customers", "0.1.0", "Shopify customers to NetSuite.")

        def map_doc(self, cx, doc):
            c = weft.Node.root("customer", weft.parse("customer", doc.body))
            return weft.mapped([weft.record(weft.EntityKind.CUSTOMER, c.id("id"),
                                            {"email": c.opt_str("email")})])

        def write_request(self, cx, req):
            return weft.skipped("read only")

    Mapping = weft.export_mapper(Customers)

``componentize-py -d wit -w mapper componentize app -p . -o plugin.wasm`` builds it into a
component of the ``weft:plugin`` ``mapper`` world (``wit/plugin.wit``): the same contract, limits
and checks as a Rust plugin. The helpers mirror the Rust SDK (``weft-plugin-sdk``):

- :func:`parse` and :class:`Node` read JSON documents with errors that name the exact path
  (``product.variants[0].sku: expected string, found number``); raising :class:`InvalidInput`,
  :class:`Unsupported` or :class:`ConfigError` inside ``map_doc``/``write_request`` fails that
  one item, not the batch.
- :class:`Context` reads the store's ``[plugin.config]`` (``cx.config(key, default)``,
  ``cx.require_config(key)``, ``cx.platform_of(system)``).
- :func:`trace` ... :func:`error` log through the host (bounded: 1 KiB a line, 16 KiB a call).
- :func:`normalize_decimal`, :func:`decimal_to_number`, :func:`same_value` as in the Rust SDK.

Any other exception is a bug: it traps, and the host reports the traceback as ``PluginError::Trap``.
"""

import json as _json
import math as _math

from componentize_py_types import Err
from wit_world.imports import host as _host
from wit_world.imports import types as _types
from wit_world.exports import mapping as _mapping
from wit_world import exports as _exports

EntityKind = _types.EntityKind
WriteOp = _types.WriteOp
PluginInfo = _types.PluginInfo
PlatformDoc = _types.PlatformDoc
CanonicalRecord = _types.CanonicalRecord
WriteCommand = _types.WriteCommand
WriteRequest = _mapping.WriteRequest
Level = _host.Level

__all__ = [
    "EntityKind", "WriteOp", "PluginInfo", "PlatformDoc", "CanonicalRecord", "WriteCommand",
    "WriteRequest", "Level", "ItemFailure", "InvalidInput", "Unsupported", "ConfigError",
    "BatchError", "Context", "Node", "parse", "type_name", "normalize_decimal",
    "decimal_to_number", "same_value", "record", "mapped", "skipped", "failed", "commands",
    "command", "delete_command", "trace", "debug", "info", "warn", "error", "DocMapper", "Mapper",
    "export_mapper", "kind_name",
]


# ---------------------------------------------------------------------------------------------
# Errors


class ItemFailure(Exception):
    """One document or request could not be handled (the WIT ``item-error``); the rest of the
    batch still is. Raise a subclass inside ``map_doc`` / ``write_request``."""

    def item_error(self):
        raise NotImplementedError


class InvalidInput(ItemFailure):
    """The input is not what the plugin expects (a missing or ill-typed field)."""

    def item_error(self):
        return _types.ItemError_InvalidInput(str(self))


class Unsupported(ItemFailure):
    """The plugin does not handle this kind of entity or this system."""

    def item_error(self):
        return _types.ItemError_Unsupported(str(self))


class ConfigError(ItemFailure):
    """A store config value is missing or has the wrong shape: ``config key `k`: message``.
    Inside ``prepare`` it fails the whole batch (``plugin-error.config``)."""

    def __init__(self, key, message):
        super().__init__(f"config key `{key}`: {message}")
        self.key = key

    def item_error(self):
        return _types.ItemError_Config(str(self))


class BatchError(Exception):
    """Fails the whole batch with ``plugin-error.other`` (shown to operators)."""


# ---------------------------------------------------------------------------------------------
# Logging (host-bounded)


def _log(level, message):
    _host.log(level, str(message))


def trace(message):
    """Logs at trace level."""
    _log(Level.TRACE, message)


def debug(message):
    """Logs at debug level."""
    _log(Level.DEBUG, message)


def info(message):
    """Logs at info level."""
    _log(Level.INFO, message)


def warn(message):
    """Logs at warn level."""
    _log(Level.WARN, message)


def error(message):
    """Logs at error level."""
    _log(Level.ERROR, message)


# ---------------------------------------------------------------------------------------------
# Config


class Context:
    """What a call can see: the store's ``[plugin.config]`` (read-only, through the host)."""

    def __init__(self, read=None):
        self._read = read or _host.config
        self._cache = {}

    def config(self, key, default=None):
        """The value of ``key`` as a Python value; ``default`` when absent or ``null``."""
        if key not in self._cache:
            text = self._read(key)
            if text is None:
                value = None
            else:
                try:
                    value = _json.loads(text)
                except ValueError as e:
                    raise ConfigError(key, f"host returned invalid JSON: {e}")
            self._cache[key] = value
        value = self._cache[key]
        return default if value is None else value

    def config_of(self, key, typ, default=None):
        """Like :meth:`config`, checking the type (``str``, ``int``, ``dict``, ...)."""
        value = self.config(key)
        if value is None:
            return default
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise ConfigError(key, f"invalid type: {type_name(value)}, expected {typ.__name__}")
        return value

    def require_config(self, key):
        """The value of ``key``; :class:`ConfigError` when it is absent."""
        value = self.config(key)
        if value is None:
            raise ConfigError(key, "is required but not set")
        return value

    def platform_of(self, system):
        """The platform of one of the store's systems (the host's ``weft:systems`` key); a
        system the host does not name is taken to be the platform of the same name."""
        systems = self.config("weft:systems", {})
        return systems.get(system, system) if isinstance(systems, dict) else system


# ---------------------------------------------------------------------------------------------
# JSON with paths


def parse(what, text):
    """Parses JSON text, naming the document in the error (:class:`InvalidInput`)."""
    try:
        return _json.loads(text)
    except ValueError as e:
        raise InvalidInput(f"{what}: not valid JSON: {e}")


def type_name(v):
    """The JSON type name used in error messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Node:
    """A JSON value with its path from the document root, for error messages."""

    __slots__ = ("path", "value")

    def __init__(self, path, value):
        self.path = path
        self.value = value

    @staticmethod
    def root(name, value):
        """The root of a document named ``name`` (the name starts every error path)."""
        return Node(name, value)

    def error(self, message):
        """An :class:`InvalidInput` about this node."""
        return InvalidInput(f"{self.path}: {message}")

    def _object(self):
        if not isinstance(self.value, dict):
            raise self.error(f"expected object, found {type_name(self.value)}")
        return self.value

    def get(self, field):
        """The node of ``field``; ``None`` when absent or ``null``."""
        v = self._object().get(field)
        return None if v is None else Node(f"{self.path}.{field}", v)

    def field(self, field):
        """``field``, which must be present and not ``null``."""
        n = self.get(field)
        if n is None:
            raise InvalidInput(f"{self.path}.{field}: missing")
        return n

    def str(self, field):
        """A required string (may be empty)."""
        n = self.field(field)
        if not isinstance(n.value, str):
            raise n.error(f"expected string, found {type_name(n.value)}")
        return n.value

    def opt_str(self, field):
        """An optional text field: absent, ``null`` and ``""`` all give ``None``."""
        n = self.get(field)
        if n is None:
            return None
        if not isinstance(n.value, str):
            raise n.error(f"expected string, found {type_name(n.value)}")
        return n.value or None

    def id(self, field):
        """A required id: a non-empty string, or an integer turned into its decimal text."""
        return self.field(field).as_id()

    def opt_id(self, field):
        """An optional id (absent, ``null`` or ``""`` give ``None``)."""
        n = self.get(field)
        if n is None or n.value == "":
            return None
        return n.as_id()

    def as_id(self):
        """This node as an id (see :meth:`id`)."""
        v = self.value
        if isinstance(v, str):
            if not v:
                raise self.error("expected id, found empty string")
            return v
        if _is_int(v):
            return str(v)
        raise self.error(f"expected id (string or integer), found {type_name(v)}")

    def int(self, field):
        """A required integer (a number without a fraction, or a string of one)."""
        return self.field(field).as_int()

    def opt_int(self, field):
        """An optional integer."""
        n = self.get(field)
        return None if n is None else n.as_int()

    def as_int(self):
        """This node as an integer (see :meth:`int`)."""
        v = self.value
        if _is_int(v):
            return v
        if isinstance(v, float):
            if v.is_integer() and abs(v) < 9.0e15:
                return int(v)
            raise self.error(f"expected integer, found {_number_text(v)}")
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                raise self.error(f"expected integer, found string {_json.dumps(v)}")
        raise self.error(f"expected integer, found {type_name(v)}")

    def bool(self, field):
        """A required boolean."""
        n = self.field(field)
        if not isinstance(n.value, bool):
            raise n.error(f"expected boolean, found {type_name(n.value)}")
        return n.value

    def opt_bool(self, field):
        """An optional boolean."""
        n = self.get(field)
        if n is None:
            return None
        if not isinstance(n.value, bool):
            raise n.error(f"expected boolean, found {type_name(n.value)}")
        return n.value

    def decimal(self, field):
        """A required decimal (string or number), normalised by :func:`normalize_decimal`."""
        return self.field(field).as_decimal()

    def opt_decimal(self, field):
        """An optional decimal (absent, ``null`` or ``""`` give ``None``)."""
        n = self.get(field)
        if n is None or n.value == "":
            return None
        return n.as_decimal()

    def as_decimal(self):
        """This node as a normalised decimal string."""
        v = self.value
        if isinstance(v, str):
            text = v
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            text = _number_text(v)
        else:
            raise self.error(f"expected decimal, found {type_name(v)}")
        d = normalize_decimal(text)
        if d is None:
            raise self.error(f"expected decimal, found {_json.dumps(text)}")
        return d

    def obj(self, field):
        """A required object field."""
        n = self.field(field)
        n._object()
        return n

    def opt_obj(self, field):
        """An optional object field."""
        n = self.get(field)
        if n is not None:
            n._object()
        return n

    def array(self, field):
        """A required array field, as nodes with indexed paths (``field[0]``, ...)."""
        return self.field(field).elements()

    def opt_array(self, field):
        """An optional array field (absent or ``null`` give an empty list)."""
        n = self.get(field)
        return [] if n is None else n.elements()

    def elements(self):
        """The elements of this array node."""
        if not isinstance(self.value, list):
            raise self.error(f"expected array, found {type_name(self.value)}")
        return [Node(f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]


def _number_text(v):
    if _is_int(v):
        return str(v)
    text = repr(float(v))
    if ("e" in text or "E" in text) and _math.isfinite(v):
        return f"{v:.12f}".rstrip("0").rstrip(".")
    return text


def normalize_decimal(text):
    """``"49"`` -> ``"49.00"``, ``"1.2300"`` -> ``"1.23"``, ``"1.2345"`` stays; ``None`` when the
    text is not a plain decimal (the Rust SDK's ``normalize_decimal``)."""
    t = text.strip()
    neg = t.startswith("-")
    digits = t[1:] if neg else (t[1:] if t.startswith("+") else t)
    whole, _, frac = digits.partition(".")
    ascii_digits = set("0123456789")
    if (not whole and not frac) or not set(whole) <= ascii_digits or not set(frac) <= ascii_digits:
        return None
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    frac = frac + "0" * max(0, 2 - len(frac))
    is_zero = whole == "0" and set(frac) <= {"0"}
    return f"{'-' if neg and not is_zero else ''}{whole}.{frac}"


def decimal_to_number(decimal):
    """A normalised decimal string as a JSON number (for targets that store prices as numbers)."""
    try:
        f = float(decimal)
    except (TypeError, ValueError):
        return None
    return f if _math.isfinite(f) else None


def _absent(v):
    return v is None or v == ""


def same_value(a, b):
    """Whether two JSON values are the same for sync purposes: ``null`` and ``""`` are equal,
    numbers compare by value, objects and arrays element-wise with the same rule."""
    if _absent(a) and _absent(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return all(same_value(a.get(k), b.get(k)) for k in list(a) + list(b))
    return a == b


# ---------------------------------------------------------------------------------------------
# Outcomes


def _dumps(value):
    return _json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def record(kind, key, fields):
    """A canonical record; ``fields`` is a dict (serialized to JSON text)."""
    return CanonicalRecord(kind, key, _dumps(fields))


def mapped(records):
    """The document maps to these records."""
    return _mapping.ToCanonicalOutcome_Mapped(list(records))


class _Skip:
    __slots__ = ("why",)

    def __init__(self, why):
        self.why = str(why)


def skipped(why):
    """The document (in ``map_doc``) or the record (in ``write_request``) is deliberately not
    synced; the text says why."""
    return _Skip(why)


def failed(err):
    """The document could not be mapped (an :class:`ItemFailure`)."""
    return _mapping.ToCanonicalOutcome_Failed(err.item_error())


def commands(cmds):
    """These writes make the target hold the record (empty: it already does)."""
    return _mapping.FromCanonicalOutcome_Commands(list(cmds))


def command(req, body, op=WriteOp.UPSERT, kind=None, target_id=None, external_id=None):
    """A write command for request ``req``: to the system it asks for (``req.target``, never a
    hard-coded name) and of the record's kind unless ``kind`` says otherwise."""
    return WriteCommand(
        req.target,
        req.record.kind if kind is None else kind,
        op,
        target_id,
        external_id,
        _dumps(body),
    )


def delete_command(req, body=None):
    """The one command that removes request ``req``'s record from its target, for a request
    whose ``deleted`` is true (another system deleted the record and the store's ``[deletes]``
    policy removes it here); ``body`` carries what else the target needs to find it. ``None``
    when weft knows no id for it there (skip the request then)."""
    if req.target_id is None:
        return None
    return command(req, {} if body is None else body, op=WriteOp.DELETE, target_id=req.target_id)


def kind_name(kind):
    """The WIT name of an entity kind (``"product"``, ``"inventory-level"``, ...)."""
    return kind.name.lower().replace("_", "-")


# ---------------------------------------------------------------------------------------------
# The mapper roles and the export glue


class Mapper:
    """The mapping role, whole batches at a time. Return one outcome per input, in order;
    raise :class:`ConfigError` or :class:`BatchError` to fail the batch."""

    def info(self):
        raise NotImplementedError

    def to_canonical(self, cx, docs):
        raise NotImplementedError

    def from_canonical(self, cx, requests):
        raise NotImplementedError


class DocMapper(Mapper):
    """A mapper written one document at a time. Override :meth:`prepare` to check config once
    per batch (an exception there fails the batch)."""

    def prepare(self, cx):
        pass

    def map_doc(self, cx, doc):
        raise NotImplementedError

    def write_request(self, cx, req):
        raise NotImplementedError

    def to_canonical(self, cx, docs):
        self.prepare(cx)
        out = []
        for doc in docs:
            try:
                out.append(self.map_doc(cx, doc))
            except ItemFailure as e:
                out.append(_mapping.ToCanonicalOutcome_Failed(e.item_error()))
        return out

    def from_canonical(self, cx, requests):
        self.prepare(cx)
        out = []
        for req in requests:
            try:
                out.append(self.write_request(cx, req))
            except ItemFailure as e:
                out.append(_mapping.FromCanonicalOutcome_Failed(e.item_error()))
        return out


def _to_outcome(o):
    return _mapping.ToCanonicalOutcome_Skipped(o.why) if isinstance(o, _Skip) else o


def _from_outcome(o):
    return _mapping.FromCanonicalOutcome_Skipped(o.why) if isinstance(o, _Skip) else o


def _batch(call):
    try:
        return call()
    except ConfigError as e:
        raise Err(_types.PluginError_Config(str(e)))
    except (BatchError, ItemFailure) as e:
        raise Err(_types.PluginError_Other(str(e)))


def export_mapper(cls):
    """The class componentize-py exports as the ``mapping`` interface: in ``app.py`` write
    ``Mapping = weft_plugin.export_mapper(MyMapper)``."""

    class Mapping(_exports.Mapping):
        def info(self):
            return cls().info()

        def to_canonical(self, docs):
            return [_to_outcome(o) for o in _batch(lambda: cls().to_canonical(Context(), docs))]

        def from_canonical(self, requests):
            out = _batch(lambda: cls().from_canonical(Context(), requests))
            return [_from_outcome(o) for o in out]

    return Mapping
