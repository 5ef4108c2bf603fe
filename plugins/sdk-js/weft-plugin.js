// The weft plugin SDK for JavaScript: write a mapping plugin as a JavaScript class.
//
// A plugin is an ES module (`app.js`) that extends `DocMapper` (one document at a time) or
// `Mapper` (whole batches) and exports it:
//
//     import * as weft from "./weft-plugin.js";
//
//     class Customers extends weft.DocMapper {
//       info() { return weft.pluginInfo("acme-customers", "0.1.0", "Shopify customers to NetSuite."); }
//       mapDoc(cx, doc) {
//         const c = weft.Node.root("customer", weft.parse("customer", doc.body));
//         return weft.mapped([weft.record("customer", c.id("id"), { email: c.optStr("email") })]);
//       }
//       writeRequest(cx, req) { return weft.skipped("read only"); }
//     }
//
//     export const mapping = weft.exportMapper(Customers);
//
// `jco componentize app.js --wit wit --world-name mapper --disable http fetch-event -o plugin.wasm`
// builds it into a component of the `weft:plugin` `mapper` world (`wit/plugin.wit`): the same
// contract, limits and checks as a Rust plugin. The helpers mirror the Rust SDK
// (`weft-plugin-sdk`):
//
// - `parse` and `Node` read JSON documents with errors that name the exact path
//   (`product.variants[0].sku: expected string, found number`); throwing `InvalidInput`,
//   `Unsupported` or `ConfigError` inside `mapDoc`/`writeRequest` fails that one item, not the
//   batch.
// - `Context` reads the store's `[plugin.config]` (`cx.config(key, default)`,
//   `cx.requireConfig(key)`, `cx.platformOf(system)`).
// - `trace` ... `error` log through the host (bounded: 1 KiB a line, 16 KiB a call).
// - `normalizeDecimal`, `decimalToNumber`, `sameValue` as in the Rust SDK.
//
// Entity kinds and write ops are the WIT names: "product", "variant", "inventory-level", "price",
// "customer", "order", "fulfillment", "refund"; "upsert", "set-quantity", "adjust-quantity",
// "delete" (only for a request whose `deleted` is true: see `deleteCommand`).
//
// JavaScript numbers are doubles: an integer id written as a JSON number beyond 2^53 cannot be
// read exactly, so `Node.id` refuses it (`InvalidInput`) instead of returning a wrong id. weft's
// document shapes carry ids as strings.
//
// Any other exception is a bug: it traps, and the host reports it as `PluginError::Trap`.

import { log as hostLog, config as hostConfig } from "weft:plugin/host@0.5.0";

// ---------------------------------------------------------------------------------------------
// Errors

/** One document or request could not be handled (the WIT `item-error`). */
export class ItemFailure extends Error {
  itemError() {
    throw new Error("ItemFailure is abstract");
  }
}

/** The input is not what the plugin expects (a missing or ill-typed field). */
export class InvalidInput extends ItemFailure {
  itemError() {
    return { tag: "invalid-input", val: this.message };
  }
}

/** The plugin does not handle this kind of entity or this system. */
export class Unsupported extends ItemFailure {
  itemError() {
    return { tag: "unsupported", val: this.message };
  }
}

/** A store config value is missing or has the wrong shape; in `prepare` it fails the batch. */
export class ConfigError extends ItemFailure {
  constructor(key, message) {
    super(`config key \`${key}\`: ${message}`);
    this.key = key;
  }
  itemError() {
    return { tag: "config", val: this.message };
  }
}

/** Fails the whole batch with `plugin-error.other` (shown to operators). */
export class BatchError extends Error {}

// ---------------------------------------------------------------------------------------------
// Logging (host-bounded)

const log = (level, message) => hostLog(level, String(message));
/** Logs at trace level. */
export const trace = (m) => log("trace", m);
/** Logs at debug level. */
export const debug = (m) => log("debug", m);
/** Logs at info level. */
export const info = (m) => log("info", m);
/** Logs at warn level. */
export const warn = (m) => log("warn", m);
/** Logs at error level. */
export const error = (m) => log("error", m);

// ---------------------------------------------------------------------------------------------
// Config

/** What a call can see: the store's `[plugin.config]` (read-only, through the host). */
export class Context {
  constructor(read = hostConfig) {
    this.read = read;
    this.cache = new Map();
  }

  /** The value of `key`; `fallback` when absent or `null`. */
  config(key, fallback = undefined) {
    if (!this.cache.has(key)) {
      const text = this.read(key);
      let value = null;
      if (text !== undefined && text !== null) {
        try {
          value = JSON.parse(text);
        } catch (e) {
          throw new ConfigError(key, `host returned invalid JSON: ${e.message}`);
        }
      }
      this.cache.set(key, value);
    }
    const value = this.cache.get(key);
    return value === null ? fallback : value;
  }

  /** Like `config`, checking the JSON type ("string", "number", "integer", "object", ...). */
  configOf(key, type, fallback = undefined) {
    const value = this.config(key);
    if (value === undefined || value === null) return fallback;
    const ok = type === "integer" ? Number.isInteger(value) : typeName(value) === type;
    if (!ok) throw new ConfigError(key, `invalid type: ${typeName(value)}, expected ${type}`);
    return value;
  }

  /** The value of `key`; `ConfigError` when absent. */
  requireConfig(key) {
    const value = this.config(key);
    if (value === undefined || value === null) throw new ConfigError(key, "is required but not set");
    return value;
  }

  /** The platform of one of the store's systems (the host's `weft:systems` key). */
  platformOf(system) {
    const systems = this.config("weft:systems", {});
    return typeof systems === "object" && systems !== null && typeof systems[system] === "string"
      ? systems[system]
      : system;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON with paths

/** Parses JSON text, naming the document in the error (`InvalidInput`). */
export function parse(what, text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidInput(`${what}: not valid JSON: ${e.message}`);
  }
}

/** The JSON type name used in error messages. */
export function typeName(v) {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "boolean":
      return "boolean";
    case "number":
      return "number";
    case "string":
      return "string";
    case "object":
      return "object";
    default:
      return typeof v;
  }
}

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON value with its path from the document root, for error messages. */
export class Node {
  constructor(path, value) {
    this.path = path;
    this.value = value;
  }

  /** The root of a document named `name` (the name starts every error path). */
  static root(name, value) {
    return new Node(name, value);
  }

  /** An `InvalidInput` about this node. */
  error(message) {
    return new InvalidInput(`${this.path}: ${message}`);
  }

  object() {
    if (!isObject(this.value)) throw this.error(`expected object, found ${typeName(this.value)}`);
    return this.value;
  }

  /** The node of `field`; `null` when absent or `null`. */
  get(field) {
    const obj = this.object();
    const v = Object.prototype.hasOwnProperty.call(obj, field) ? obj[field] : null;
    return v === null || v === undefined ? null : new Node(`${this.path}.${field}`, v);
  }

  /** `field`, which must be present and not `null`. */
  field(field) {
    const n = this.get(field);
    if (n === null) throw new InvalidInput(`${this.path}.${field}: missing`);
    return n;
  }

  /** A required string (may be empty). */
  str(field) {
    const n = this.field(field);
    if (typeof n.value !== "string") throw n.error(`expected string, found ${typeName(n.value)}`);
    return n.value;
  }

  /** An optional text field: absent, `null` and `""` all give `null`. */
  optStr(field) {
    const n = this.get(field);
    if (n === null) return null;
    if (typeof n.value !== "string") throw n.error(`expected string, found ${typeName(n.value)}`);
    return n.value === "" ? null : n.value;
  }

  /** A required id: a non-empty string, or a safe integer turned into its decimal text. */
  id(field) {
    return this.field(field).asId();
  }

  /** An optional id (absent, `null` or `""` give `null`). */
  optId(field) {
    const n = this.get(field);
    if (n === null || n.value === "") return null;
    return n.asId();
  }

  /** This node as an id (see `id`). */
  asId() {
    const v = this.value;
    if (typeof v === "string") {
      if (v === "") throw this.error("expected id, found empty string");
      return v;
    }
    if (Number.isInteger(v)) {
      if (!Number.isSafeInteger(v))
        throw this.error("integer id beyond 2^53 cannot be read exactly; send ids as strings");
      return String(v);
    }
    throw this.error(`expected id (string or integer), found ${typeName(v)}`);
  }

  /** A required integer (a number without a fraction, or a string of one). */
  int(field) {
    return this.field(field).asInt();
  }

  /** An optional integer. */
  optInt(field) {
    const n = this.get(field);
    return n === null ? null : n.asInt();
  }

  /** This node as an integer (see `int`). */
  asInt() {
    const v = this.value;
    if (typeof v === "number") {
      if (Number.isInteger(v) && Math.abs(v) < 9.0e15) return v;
      throw this.error(`expected integer, found ${numberText(v)}`);
    }
    if (typeof v === "string") {
      const t = v.trim();
      if (/^[+-]?\d+$/.test(t)) return Number(t);
      throw this.error(`expected integer, found string ${JSON.stringify(v)}`);
    }
    throw this.error(`expected integer, found ${typeName(v)}`);
  }

  /** A required boolean. */
  bool(field) {
    const n = this.field(field);
    if (typeof n.value !== "boolean") throw n.error(`expected boolean, found ${typeName(n.value)}`);
    return n.value;
  }

  /** An optional boolean. */
  optBool(field) {
    const n = this.get(field);
    if (n === null) return null;
    if (typeof n.value !== "boolean") throw n.error(`expected boolean, found ${typeName(n.value)}`);
    return n.value;
  }

  /** A required decimal (string or number), normalised by `normalizeDecimal`. */
  decimal(field) {
    return this.field(field).asDecimal();
  }

  /** An optional decimal (absent, `null` or `""` give `null`). */
  optDecimal(field) {
    const n = this.get(field);
    if (n === null || n.value === "") return null;
    return n.asDecimal();
  }

  /** This node as a normalised decimal string. */
  asDecimal() {
    const v = this.value;
    let text;
    if (typeof v === "string") text = v;
    else if (typeof v === "number") text = numberText(v);
    else throw this.error(`expected decimal, found ${typeName(v)}`);
    const d = normalizeDecimal(text);
    if (d === null) throw this.error(`expected decimal, found ${JSON.stringify(text)}`);
    return d;
  }

  /** A required object field. */
  obj(field) {
    const n = this.field(field);
    n.object();
    return n;
  }

  /** An optional object field. */
  optObj(field) {
    const n = this.get(field);
    if (n !== null) n.object();
    return n;
  }

  /** A required array field, as nodes with indexed paths (`field[0]`, ...). */
  array(field) {
    return this.field(field).elements();
  }

  /** An optional array field (absent or `null` give an empty list). */
  optArray(field) {
    const n = this.get(field);
    return n === null ? [] : n.elements();
  }

  /** The elements of this array node. */
  elements() {
    if (!Array.isArray(this.value)) throw this.error(`expected array, found ${typeName(this.value)}`);
    return this.value.map((v, i) => new Node(`${this.path}[${i}]`, v));
  }
}

function numberText(v) {
  if (Number.isInteger(v) && Number.isSafeInteger(v)) return String(v);
  const text = String(v);
  if (/e/i.test(text) && Number.isFinite(v)) {
    return v.toFixed(12).replace(/0+$/, "").replace(/\.$/, "");
  }
  return text;
}

/** `"49"` -> `"49.00"`, `"1.2300"` -> `"1.23"`, `"1.2345"` stays; `null` when not a plain decimal. */
export function normalizeDecimal(text) {
  const t = text.trim();
  const neg = t.startsWith("-");
  const digits = neg || t.startsWith("+") ? t.slice(1) : t;
  const dot = digits.indexOf(".");
  let whole = dot < 0 ? digits : digits.slice(0, dot);
  let frac = dot < 0 ? "" : digits.slice(dot + 1);
  if ((whole === "" && frac === "") || !/^\d*$/.test(whole) || !/^\d*$/.test(frac)) return null;
  whole = whole.replace(/^0+/, "") || "0";
  frac = frac.replace(/0+$/, "").padEnd(2, "0");
  const isZero = whole === "0" && /^0*$/.test(frac);
  return `${neg && !isZero ? "-" : ""}${whole}.${frac}`;
}

/** A normalised decimal string as a JSON number (for targets that store prices as numbers). */
export function decimalToNumber(decimal) {
  const f = Number(decimal);
  return Number.isFinite(f) ? f : null;
}

const absent = (v) => v === null || v === undefined || v === "";

/** Whether two JSON values are the same for sync purposes (`null` and `""` alike, numbers by value). */
export function sameValue(a, b) {
  if (absent(a) && absent(b)) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isObject(a) && isObject(b))
    return [...Object.keys(a), ...Object.keys(b)].every((k) => sameValue(a[k], b[k]));
  return a === b;
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/** Plugin info (`weft plugin check` prints it). */
export const pluginInfo = (name, version, description) => ({ name, version, description });

/** A canonical record; `fields` is an object (serialized to JSON text). */
export const record = (kind, key, fields) => ({ kind, key, fields: JSON.stringify(fields) });

/** The document maps to these records. */
export const mapped = (records) => ({ tag: "mapped", val: records });

const SKIP = Symbol("weft.skipped");

/** The document (in `mapDoc`) or the record (in `writeRequest`) is deliberately not synced. */
export const skipped = (why) => ({ [SKIP]: true, tag: "skipped", val: String(why) });

/** These writes make the target hold the record (empty: it already does). */
export const commands = (cmds) => ({ tag: "commands", val: cmds });

/** The item could not be handled (an `ItemFailure`). */
export const failed = (err) => ({ tag: "failed", val: err.itemError() });

/**
 * A write command for request `req`: to the system it asks for (`req.target`, never a
 * hard-coded name) and of the record's kind unless `opts.kind` says otherwise.
 */
export function command(req, body, opts = {}) {
  return {
    system: req.target,
    kind: opts.kind ?? req.record.kind,
    op: opts.op ?? "upsert",
    targetId: opts.targetId ?? undefined,
    externalId: opts.externalId ?? undefined,
    body: JSON.stringify(body),
  };
}

/**
 * The one command that removes request `req`'s record from its target, for a request whose
 * `deleted` is true (another system deleted the record and the store's `[deletes]` policy
 * removes it here); `body` carries what else the target needs to find it. `null` when weft
 * knows no id for it there (skip the request then).
 */
export function deleteCommand(req, body = {}) {
  if (req.targetId === undefined || req.targetId === null) return null;
  return command(req, body, { op: "delete", targetId: req.targetId });
}

// ---------------------------------------------------------------------------------------------
// The mapper roles and the export glue

/** The mapping role, whole batches at a time: one outcome per input, in order. */
export class Mapper {
  info() {
    throw new Error("info() not implemented");
  }
  toCanonical(_cx, _docs) {
    throw new Error("toCanonical() not implemented");
  }
  fromCanonical(_cx, _requests) {
    throw new Error("fromCanonical() not implemented");
  }
}

/** A mapper written one document at a time; override `prepare` to check config once a batch. */
export class DocMapper extends Mapper {
  prepare(_cx) {}

  toCanonical(cx, docs) {
    this.prepare(cx);
    return docs.map((doc) => {
      try {
        return this.mapDoc(cx, doc);
      } catch (e) {
        if (e instanceof ItemFailure) return failed(e);
        throw e;
      }
    });
  }

  fromCanonical(cx, requests) {
    this.prepare(cx);
    return requests.map((req) => {
      try {
        return this.writeRequest(cx, req);
      } catch (e) {
        if (e instanceof ItemFailure) return failed(e);
        throw e;
      }
    });
  }
}

/** The error a `result` export raises: the bindings send `payload` as the WIT error. */
class PluginErrorResult extends Error {
  constructor(payload) {
    super(payload.val);
    this.payload = payload;
  }
}

function batch(call) {
  try {
    return call();
  } catch (e) {
    if (e instanceof ConfigError) throw new PluginErrorResult({ tag: "config", val: e.message });
    if (e instanceof BatchError || e instanceof ItemFailure)
      throw new PluginErrorResult({ tag: "other", val: e.message });
    throw e;
  }
}

const plain = (o) => (o && o[SKIP] ? { tag: "skipped", val: o.val } : o);

/** The object exported as the `mapping` interface: `export const mapping = exportMapper(MyMapper);` */
export function exportMapper(Cls) {
  return {
    info: () => new Cls().info(),
    toCanonical: (docs) => batch(() => new Cls().toCanonical(new Context(), docs)).map(plain),
    fromCanonical: (requests) =>
      batch(() => new Cls().fromCanonical(new Context(), requests)).map(plain),
  };
}
