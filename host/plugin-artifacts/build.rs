//! Builds every guest crate under `plugins/` for `wasm32-wasip2` (the pattern wasmtime uses for
//! its test programs) and generates `gen.rs` with one path constant per built component, the list
//! of all of them, and an `include_bytes!` accessor for the stock plugins.
//!
//! The nested build runs in its own target directory (`<outer target>/wasm-plugins`) so it never
//! waits on the outer build's lock, and with the outer build's flags stripped from its environment.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const MISSING_TARGET: &str =
    "weft needs the wasm32-wasip2 target: run `rustup target add wasm32-wasip2`";

/// Variables the outer cargo sets that would leak into (and break or slow down) the nested build.
const STRIPPED_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_PKG_NAME",
    "RUSTDOC",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "OUT_DIR",
    "RUSTC_LINKER",
];

/// One cdylib guest found in the plugins workspace.
struct Guest {
    /// The package name, e.g. `weft-hostile-infinite-loop`.
    package: String,
    /// The directory name, e.g. `infinite-loop`.
    dir_name: String,
    /// Whether it lives under `plugins/stock/`.
    stock: bool,
    /// Where the built component lands.
    wasm: PathBuf,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/plugin-artifacts sits two levels below the repository root")
        .to_path_buf();
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    emit_rerun(&root, &plugins);

    ensure_target();

    let target_dir = wasm_target_dir(&out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = plugins.join("Cargo.toml");

    let mut build = Command::new(&cargo);
    build
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--workspace");
    clean_env(&mut build);
    build.env("CARGO_TARGET_DIR", &target_dir);
    // Guests get `-D warnings`: a warning in a plugin is a bug in the product.
    build.env("CARGO_ENCODED_RUSTFLAGS", "-Dwarnings");
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{cargo} build` for the guest plugins: {e}"));
    if !status.success() {
        panic!(
            "building the guest plugins failed ({status}); reproduce with: \
             cargo build --release --target {TARGET} --manifest-path {}",
            manifest.display()
        );
    }

    let guests = list_guests(&cargo, &manifest, &target_dir);
    write_gen(&out_dir, &guests);
}

/// Re-runs the build when a guest source, a manifest or the WIT contract changes. Directories
/// are scanned recursively by cargo, so new crates and files are noticed too.
fn emit_rerun(root: &Path, plugins: &Path) {
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", plugins.join(file).display());
    }
    let Ok(entries) = std::fs::read_dir(plugins) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        // `plugins/target` only exists if someone built the guests by hand; never scan it.
        if name == "target" {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// Makes sure the standard library for `wasm32-wasip2` is installed, adding it with rustup when
/// it is missing.
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |sysroot: &Option<PathBuf>| {
        sysroot
            .as_ref()
            .is_some_and(|s| s.join("lib/rustlib").join(TARGET).is_dir())
    };
    if installed(&sysroot) {
        return;
    }
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    if !added {
        panic!("{MISSING_TARGET}");
    }
}

/// `<outer target dir>/wasm-plugins`, found from OUT_DIR
/// (`<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`), so dev, test and release builds
/// share one guest build.
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .expect("OUT_DIR lies under <target>/<profile>/build");
    let target = build
        .parent()
        .and_then(Path::parent)
        .expect("OUT_DIR lies under <target>/<profile>/build");
    target.join("wasm-plugins")
}

fn clean_env(cmd: &mut Command) {
    for var in STRIPPED_VARS {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("DEP_")
        {
            cmd.env_remove(key);
        }
    }
}

/// Lists the cdylib crates of the guest workspace with `cargo metadata`.
fn list_guests(cargo: &str, manifest: &Path, target_dir: &Path) -> Vec<Guest> {
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ])
    .arg("--manifest-path")
    .arg(manifest);
    clean_env(&mut cmd);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cargo} metadata` for the guest plugins: {e}"));
    if !output.status.success() {
        panic!(
            "`cargo metadata` for the guest plugins failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let stock_dir = manifest
        .parent()
        .expect("plugins/Cargo.toml has a parent")
        .join("stock");
    let release = target_dir.join(TARGET).join("release");
    let mut guests = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let name = pkg["name"].as_str().unwrap_or_default().to_string();
        let pkg_manifest = PathBuf::from(pkg["manifest_path"].as_str().unwrap_or_default());
        let pkg_dir = pkg_manifest.parent().unwrap_or(Path::new("")).to_path_buf();
        for target in pkg["targets"].as_array().into_iter().flatten() {
            let is_cdylib = target["crate_types"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k == "cdylib");
            if !is_cdylib {
                continue;
            }
            let lib = target["name"].as_str().unwrap_or(&name).replace('-', "_");
            let wasm = release.join(format!("{lib}.wasm"));
            assert!(
                wasm.is_file(),
                "guest `{name}` built but {} is missing",
                wasm.display()
            );
            guests.push(Guest {
                package: name.clone(),
                dir_name: pkg_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                stock: pkg_dir.starts_with(&stock_dir),
                wasm,
            });
        }
    }
    guests.sort_by(|a, b| a.package.cmp(&b.package));
    guests
}

/// `weft-hostile-infinite-loop` -> `HOSTILE_INFINITE_LOOP`.
fn const_name(package: &str) -> String {
    package
        .strip_prefix("weft-")
        .unwrap_or(package)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn write_gen(out_dir: &Path, guests: &[Guest]) {
    let mut code = String::new();
    let mut seen = BTreeMap::new();
    for g in guests {
        let name = const_name(&g.package);
        if let Some(other) = seen.insert(name.clone(), g.package.clone()) {
            panic!(
                "guest crates `{other}` and `{}` map to the same constant {name}",
                g.package
            );
        }
        writeln!(
            code,
            "/// The `{}` component (`{}`).\npub const {name}: &str = {:?};",
            g.package,
            g.wasm.display(),
            g.wasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str(
        "/// Every built component: (crate name, path).\npub const ALL: &[(&str, &str)] = &[\n",
    );
    for g in guests {
        writeln!(code, "    ({:?}, {}),", g.package, const_name(&g.package)).unwrap();
    }
    code.push_str("];\n");
    code.push_str("/// The stock plugins embedded in this crate: (crate name, directory name).\npub const STOCK: &[(&str, &str)] = &[\n");
    for g in guests.iter().filter(|g| g.stock) {
        writeln!(code, "    ({:?}, {:?}),", g.package, g.dir_name).unwrap();
    }
    code.push_str("];\n");
    code.push_str(
        "/// The bytes of a stock plugin, by crate name (`weft-stock-shopify-netsuite`) or by its\n\
         /// directory under `plugins/stock/` (`shopify-netsuite`).\n\
         pub fn stock(name: &str) -> Option<&'static [u8]> {\n    match name {\n",
    );
    for g in guests.iter().filter(|g| g.stock) {
        writeln!(
            code,
            "        {:?} | {:?} => Some(include_bytes!({:?})),",
            g.package,
            g.dir_name,
            g.wasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str("        _ => None,\n    }\n}\n");
    std::fs::write(out_dir.join("gen.rs"), code).expect("write gen.rs");
}
