//! Toolchains for the Python and JavaScript guest tests, installed the way the READMEs say
//! (`pip install componentize-py==...`, `npm install`), or a skip that names what is missing.
//! Builds are cached under `target/tmp/` (Cargo's `CARGO_TARGET_TMPDIR`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weft::plugin_dev::{COMPONENTIZE_JS, INSTALL_PYTHON};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Where tests keep their builds: `target/tmp/lang-guests`.
pub fn cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lang-guests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `weft` binary.
pub fn weft(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(args)
        .env("WEFT_CACHE_DIR", cache().join("components"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run weft")
}

/// Asserts a successful exit and returns stdout.
pub fn ok(what: &str, o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{out}\n{err}",
        o.status
    );
    out
}

/// A skip, or a failure when `WEFT_REQUIRE_GUEST_TOOLCHAINS` is set (CI installs them).
fn skip(message: String) -> String {
    if std::env::var_os("WEFT_REQUIRE_GUEST_TOOLCHAINS").is_some() {
        panic!("{message} (WEFT_REQUIRE_GUEST_TOOLCHAINS is set: .ci/run installs it)");
    }
    message
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// componentize-py on PATH, installing it as the README says when it is missing. `Err` names
/// what is missing (the caller prints it and skips).
pub fn python() -> Result<(), String> {
    if runs("componentize-py") {
        return Ok(());
    }
    let args: Vec<&str> = INSTALL_PYTHON.split_whitespace().skip(1).collect();
    let installed = ["pip", "pip3"].iter().any(|pip| {
        Command::new(pip)
            .args(&args)
            .status()
            .is_ok_and(|s| s.success())
    });
    if installed && runs("componentize-py") {
        return Ok(());
    }
    Err(skip(format!(
        "SKIPPED: componentize-py is not installed and `{INSTALL_PYTHON}` did not install it"
    )))
}

/// Node.js and an installed componentize-js in `target/tmp/lang-guests/js-toolchain` (`npm
/// install` on the SDK's package.json, once). Returns that directory (for `WEFT_JS_TOOLCHAIN`).
pub fn js() -> Result<PathBuf, String> {
    if !runs("node") || !runs("npm") {
        return Err(skip(
            "SKIPPED: Node.js (node and npm) is not installed".into(),
        ));
    }
    let dir = cache().join("js-toolchain");
    let marker = dir.join("node_modules/@bytecodealliance/componentize-js/package.json");
    if !marker.is_file() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            root().join("plugins/sdk-js/package.json"),
            dir.join("package.json"),
        )
        .unwrap();
        npm_install(&dir)?;
    }
    Ok(dir)
}

/// `npm install` in `dir`, as a plugin's README says.
pub fn npm_install(dir: &Path) -> Result<(), String> {
    let ok = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefer-offline"])
        .current_dir(dir)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(skip(format!(
            "SKIPPED: `npm install` (of @bytecodealliance/componentize-js@{COMPONENTIZE_JS}) failed in {}",
            dir.display()
        )))
    }
}

/// Builds the project in `src` with `weft plugin build` into the cache as `<name>.wasm`.
pub fn build(src: &Path, name: &str, envs: &[(&str, &Path)]) -> PathBuf {
    let out = cache().join(format!("{name}.wasm"));
    let o = weft(
        &[
            "plugin",
            "build",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        envs,
    );
    ok(&format!("weft plugin build {}", src.display()), &o);
    out
}
