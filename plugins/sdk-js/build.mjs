// Builds a JavaScript weft plugin into a component with @bytecodealliance/componentize-js.
//
//   node build.mjs [app.js] [-o build/plugin.wasm] [--wit wit] [--sdk weft-plugin.js]
//
// componentize-js resolves `import "./x.js"` only inside the directory of the entry module, so
// the plugin's top-level .js files (and the SDK, when the project has no copy of its own) are
// staged into one directory first. The `http` and `fetch-event` features are disabled: a weft
// plugin has no network, and the host refuses a component that imports wasi:http.
import { componentize } from "@bytecodealliance/componentize-js";
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const out = resolve(opt("-o", "build/plugin.wasm"));
const wit = resolve(opt("--wit", "wit"));
const sdk = opt("--sdk", undefined);
const entry = resolve(args[0] ?? "app.js");
const world = "mapper";

const stage = join(dirname(out), ".stage");
await rm(stage, { recursive: true, force: true });
await mkdir(stage, { recursive: true });
for (const f of await readdir(dirname(entry))) {
  if (f.endsWith(".js") || f.endsWith(".mjs")) {
    if (f === "build.mjs") continue;
    await copyFile(join(dirname(entry), f), join(stage, f));
  }
}
if (sdk !== undefined) await copyFile(resolve(sdk), join(stage, "weft-plugin.js"));

const { component } = await componentize({
  sourcePath: join(stage, basename(entry)),
  witPath: wit,
  worldName: world,
  disableFeatures: ["http", "fetch-event"],
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, component);
await rm(stage, { recursive: true, force: true });
console.log(`built ${out} (${component.length} bytes)`);
