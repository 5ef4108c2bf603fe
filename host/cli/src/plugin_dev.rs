//! `weft plugin new` and `weft plugin build`: a plugin author's loop in Rust, Python or
//! JavaScript.
//!
//! `new` writes a project that builds, passes `weft plugin check` and `weft plugin test` on its
//! sample fixtures as it is, with a README that is the one-page loop. `build` finds the
//! project's language and runs its toolchain (cargo for `wasm32-wasip2`, `componentize-py`,
//! `@bytecodealliance/componentize-js` under Node.js); a missing toolchain is an error of one
//! line naming what to install ([`MissingToolchain`]).
//!
//! The Python and JavaScript SDKs and the WIT contract are embedded in the binary: a project
//! gets copies matching this weft's contract version, and a project without its own copy (the
//! examples in the repository, the hostile test guests) is built with the embedded ones.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The contract every guest is built against.
pub const WIT: &str = include_str!("../../../wit/plugin.wit");
/// The Python SDK (one module).
pub const PYTHON_SDK: &str = include_str!("../../../plugins/sdk-python/weft_plugin.py");
/// The JavaScript SDK (one module).
pub const JS_SDK: &str = include_str!("../../../plugins/sdk-js/weft-plugin.js");
/// The JavaScript build script (stages the sources, runs componentize-js).
pub const JS_BUILD: &str = include_str!("../../../plugins/sdk-js/build.mjs");

/// The `componentize-py` release the SDK is tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// The `@bytecodealliance/componentize-js` release the SDK is tested with.
pub const COMPONENTIZE_JS: &str = "0.23.0";
/// `@bytecodealliance/preview2-shim`, which componentize-js imports through an optional peer
/// dependency of jco: a first `npm install` adds it, a second one prunes it unless it is
/// declared.
pub const PREVIEW2_SHIM: &str = "^0.25.0";

/// How to install each toolchain, one line each (the README and the errors say the same).
pub const INSTALL_PYTHON: &str = "pip install componentize-py==0.25.1";
/// See [`INSTALL_PYTHON`].
pub const INSTALL_JS: &str = "npm install (in the plugin's directory: it installs @bytecodealliance/componentize-js@0.23.0 from package.json)";
/// See [`INSTALL_PYTHON`].
pub const INSTALL_RUST: &str = "rustup target add wasm32-wasip2";

const T_README: &str = include_str!("../templates/plugin/README.md");
const T_GITIGNORE: &str = include_str!("../templates/plugin/gitignore");
const T_FIXTURES: [(&str, &str); 4] = [
    (
        "products.input.json",
        include_str!("../templates/plugin/fixtures/products.input.json"),
    ),
    (
        "products.expected.json",
        include_str!("../templates/plugin/fixtures/products.expected.json"),
    ),
    (
        "writes.input.json",
        include_str!("../templates/plugin/fixtures/writes.input.json"),
    ),
    (
        "writes.expected.json",
        include_str!("../templates/plugin/fixtures/writes.expected.json"),
    ),
];
const T_PY_APP: &str = include_str!("../templates/plugin/python/app.py");
const T_JS_APP: &str = include_str!("../templates/plugin/js/app.js");
const T_RS_CARGO: &str = include_str!("../templates/plugin/rust/Cargo.toml");
const T_RS_LIB: &str = include_str!("../templates/plugin/rust/src/lib.rs");

/// A plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Rust with the `weft-plugin-sdk` crate, built by cargo for `wasm32-wasip2`.
    Rust,
    /// Python with `weft_plugin.py`, built by `componentize-py`.
    Python,
    /// JavaScript with `weft-plugin.js`, built by `@bytecodealliance/componentize-js`.
    Js,
}

impl Lang {
    /// The name used in messages and READMEs.
    pub fn display(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        }
    }
}

/// A toolchain a build needs is not installed; the message is one line saying what to install.
#[derive(Debug)]
pub struct MissingToolchain(pub String);

impl std::fmt::Display for MissingToolchain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MissingToolchain {}

/// Finds a project's language from its files: `Cargo.toml`, `app.py`, `app.js`.
pub fn detect(dir: &Path) -> Result<Lang> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Lang::Rust)
    } else if dir.join("app.py").is_file() {
        Ok(Lang::Python)
    } else if dir.join("app.js").is_file() {
        Ok(Lang::Js)
    } else {
        bail!(
            "{} is not a plugin project: expected Cargo.toml (Rust), app.py (Python) or app.js (JavaScript)",
            dir.display()
        )
    }
}

/// Where a build writes its component unless told otherwise.
pub fn default_output(dir: &Path) -> PathBuf {
    dir.join("build").join("plugin.wasm")
}

/// Builds the project in `dir` into `out` (see the module docs). Returns `out`.
pub fn build(dir: &Path, out: &Path) -> Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", dir.display()))?;
    let out = absolute(out)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match detect(&dir)? {
        Lang::Rust => build_rust(&dir, &out)?,
        Lang::Python => build_python(&dir, &out)?,
        Lang::Js => build_js(&dir, &out)?,
    }
    Ok(out)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Runs a toolchain command; `missing` is the one-line error when the program is not there.
fn run(cmd: &mut Command, missing: &str) -> Result<()> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(MissingToolchain(missing.to_string()).into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot run {program}")),
    };
    if !status.success() {
        bail!("{program} failed ({status}); its output is above");
    }
    Ok(())
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A directory holding the WIT contract: the project's own `wit/`, else the embedded one
/// written to `scratch`.
fn wit_dir(dir: &Path, scratch: &Path) -> Result<PathBuf> {
    let own = dir.join("wit");
    if own.join("plugin.wit").is_file() {
        return Ok(own);
    }
    let wit = scratch.join("wit");
    std::fs::create_dir_all(&wit)?;
    std::fs::write(wit.join("plugin.wit"), WIT)?;
    Ok(wit)
}

fn build_python(dir: &Path, out: &Path) -> Result<()> {
    let missing = format!("componentize-py is not installed: run `{INSTALL_PYTHON}`");
    if !runs("componentize-py") {
        return Err(MissingToolchain(missing).into());
    }
    let scratch = tempfile::tempdir()?;
    let wit = wit_dir(dir, scratch.path())?;
    let mut cmd = Command::new("componentize-py");
    cmd.current_dir(dir)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "mapper", "componentize", "app", "-p"])
        .arg(dir);
    if !dir.join("weft_plugin.py").is_file() {
        let sdk = scratch.path().join("sdk");
        std::fs::create_dir_all(&sdk)?;
        std::fs::write(sdk.join("weft_plugin.py"), PYTHON_SDK)?;
        cmd.arg("-p").arg(sdk);
    }
    cmd.arg("-o").arg(out);
    run(&mut cmd, &missing)
}

/// Where componentize-js is installed for a JavaScript project: the project's own
/// `node_modules`, else `$WEFT_JS_TOOLCHAIN` (a directory where `npm install` ran on the SDK's
/// package.json; the tests use one under `target/`).
fn js_toolchain(dir: &Path) -> Option<PathBuf> {
    let has = |d: &Path| {
        d.join("node_modules/@bytecodealliance/componentize-js/package.json")
            .is_file()
    };
    if has(dir) {
        return Some(dir.to_path_buf());
    }
    std::env::var_os("WEFT_JS_TOOLCHAIN")
        .map(PathBuf::from)
        .filter(|d| has(d))
}

fn build_js(dir: &Path, out: &Path) -> Result<()> {
    if !runs("node") {
        return Err(MissingToolchain(
            "Node.js is not installed: install Node.js 20 or later (https://nodejs.org), then run `npm install` in the plugin's directory".into(),
        )
        .into());
    }
    let Some(toolchain) = js_toolchain(dir) else {
        return Err(MissingToolchain(format!(
            "componentize-js is not installed: run `npm install` in {} (it installs @bytecodealliance/componentize-js@{COMPONENTIZE_JS})",
            dir.display()
        ))
        .into());
    };
    let scratch = tempfile::tempdir()?;
    let wit = wit_dir(dir, scratch.path())?;
    // The script must sit where `@bytecodealliance/componentize-js` resolves from.
    let script = toolchain.join(".weft-build.mjs");
    std::fs::write(&script, JS_BUILD)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let mut cmd = Command::new("node");
    cmd.current_dir(dir)
        .arg(&script)
        .arg(dir.join("app.js"))
        .arg("-o")
        .arg(out)
        .arg("--wit")
        .arg(&wit);
    if !dir.join("weft-plugin.js").is_file() {
        let sdk = scratch.path().join("weft-plugin.js");
        std::fs::write(&sdk, JS_SDK)?;
        cmd.arg("--sdk").arg(sdk);
    }
    run(
        &mut cmd,
        "Node.js is not installed: install Node.js 20 or later",
    )
}

fn build_rust(dir: &Path, out: &Path) -> Result<()> {
    const TARGET: &str = "wasm32-wasip2";
    if !runs("cargo") {
        return Err(MissingToolchain(
            "Rust is not installed: install it from https://rustup.rs, then run `rustup target add wasm32-wasip2`".into(),
        )
        .into());
    }
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !sysroot.is_some_and(|s| s.join("lib/rustlib").join(TARGET).is_dir()) {
        return Err(MissingToolchain(format!(
            "the {TARGET} target is not installed: run `{INSTALL_RUST}`"
        ))
        .into());
    }
    let manifest = dir.join("Cargo.toml");
    let meta = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .context("cannot run cargo metadata")?;
    if !meta.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&meta.stderr).trim()
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let lib = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .map(|n| n.replace('-', "_"))
        .context(
            "the crate has no cdylib target: add `crate-type = [\"cdylib\", \"rlib\"]` under [lib]",
        )?;
    run(
        Command::new("cargo")
            .args(["build", "--release", "--target", TARGET])
            .arg("--manifest-path")
            .arg(&manifest),
        "Rust is not installed: install it from https://rustup.rs",
    )?;
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{lib}.wasm"));
    std::fs::copy(&built, out)
        .with_context(|| format!("cannot copy {} to {}", built.display(), out.display()))?;
    Ok(())
}

/// The SDK crate of the checkout this binary was built from, when it is still there.
fn checkout_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk");
    sdk.join("Cargo.toml")
        .is_file()
        .then(|| sdk.canonicalize().ok())
        .flatten()
}

/// Writes a new plugin project named `name` in `dir` (which must not exist or be empty).
/// `sdk`: the `plugins/sdk` directory a Rust project depends on (default: this checkout's).
pub fn new_project(name: &str, lang: Lang, dir: &Path, sdk: Option<&Path>) -> Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "invalid plugin name `{name}`: use lowercase letters, digits and `-`, starting with a letter"
        );
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} exists and is not empty", dir.display());
    }
    let sdk = match (lang, sdk) {
        (Lang::Rust, Some(s)) => Some(
            s.canonicalize()
                .with_context(|| format!("--sdk {}", s.display()))?,
        ),
        (Lang::Rust, None) => Some(checkout_sdk().context(
            "cannot find weft's Rust SDK (plugins/sdk of the checkout this weft was built from): pass --sdk <path to weft's plugins/sdk>",
        )?),
        _ => None,
    };
    let fill = |t: &str| {
        t.replace("{{name}}", name).replace(
            "{{sdk}}",
            &sdk.as_ref()
                .map(|s| s.display().to_string())
                .unwrap_or_default(),
        )
    };
    let write = |rel: &str, text: &str| -> Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    for (file, text) in T_FIXTURES {
        write(&format!("fixtures/{file}"), text)?;
    }
    write(".gitignore", T_GITIGNORE)?;
    let (install, by_hand) = match lang {
        Lang::Rust => {
            write("Cargo.toml", &fill(T_RS_CARGO))?;
            write("src/lib.rs", &fill(T_RS_LIB))?;
            (
                format!(
                    "```sh\n{INSTALL_RUST}      # Rust itself: https://rustup.rs\n```\n\nThe SDK is the `weft-plugin-sdk` crate at `{}` (`Cargo.toml`; `weft plugin new --sdk DIR` picks another checkout). Its `testing::Harness` runs the plugin natively in `cargo test` with the host's rules.",
                    sdk.as_ref().map(|s| s.display().to_string()).unwrap_or_default()
                ),
                "By hand: `cargo build --release --target wasm32-wasip2`, then the component is `target/wasm32-wasip2/release/<crate>.wasm`.".to_string(),
            )
        }
        Lang::Python => {
            write("app.py", &fill(T_PY_APP))?;
            write("weft_plugin.py", PYTHON_SDK)?;
            write("wit/plugin.wit", WIT)?;
            (
                format!(
                    "```sh\n{INSTALL_PYTHON}     # Python 3.10 or later\n```\n\n`weft_plugin.py` is the SDK (documents, JSON paths with clear errors, config, logging) and `wit/plugin.wit` the contract, both copied from this weft; `app.py` is your plugin."
                ),
                "By hand: `componentize-py -d wit -w mapper componentize app -p . -o build/plugin.wasm`.".to_string(),
            )
        }
        Lang::Js => {
            write("app.js", &fill(T_JS_APP))?;
            write("weft-plugin.js", JS_SDK)?;
            write("build.mjs", JS_BUILD)?;
            write("wit/plugin.wit", WIT)?;
            write(
                "package.json",
                &format!(
                    "{{\n  \"name\": \"{name}\",\n  \"private\": true,\n  \"type\": \"module\",\n  \"scripts\": {{ \"build\": \"node build.mjs app.js -o build/plugin.wasm --wit wit\" }},\n  \"devDependencies\": {{ \"@bytecodealliance/componentize-js\": \"{COMPONENTIZE_JS}\", \"@bytecodealliance/preview2-shim\": \"{PREVIEW2_SHIM}\" }}\n}}\n"
                ),
            )?;
            (
                "```sh\nnpm install       # Node.js 20 or later; installs @bytecodealliance/componentize-js\n```\n\n`weft-plugin.js` is the SDK (documents, JSON paths with clear errors, config, logging), `wit/plugin.wit` the contract and `build.mjs` the build, all copied from this weft; `app.js` is your plugin.".to_string(),
                "By hand: `npm run build`.".to_string(),
            )
        }
    };
    let readme = fill(T_README)
        .replace("{{language}}", lang.display())
        .replace("{{install}}", &install)
        .replace("{{build_by_hand}}", &by_hand);
    write("README.md", &readme)?;
    Ok(())
}
