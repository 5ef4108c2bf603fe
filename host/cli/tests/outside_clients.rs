//! Popular client libraries, unmodified, against `weft sandbox`: Google's Python clients
//! (google-api-python-client, gspread) and Node client (googleapis) on the Sheets simulator,
//! the WooCommerce Python and Node clients, requests-oauthlib's OAuth 1.0a on NetSuite's token
//! based authentication, and Shopify's admin-api-client on GraphQL. Each script in
//! `tests/clients/` asserts what it gets back and prints `OK` last.
//!
//! The libraries are pinned in `tests/clients/requirements.txt` and `package.json`; `.ci/run`
//! installs them (pip, and npm into `target/tmp/outside-clients`). Without them the test says
//! so and skips, unless `WEFT_REQUIRE_CLIENT_LIBS` is set (CI sets it), when it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PYTHON_MODULES: &str = "import gspread, googleapiclient, woocommerce, requests_oauthlib";
const NODE_PACKAGES: [&str; 3] = [
    "googleapis",
    "@woocommerce/woocommerce-rest-api",
    "@shopify/admin-api-client",
];

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Where `.ci/run` installs the Node clients.
fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("outside-clients")
}

fn python() -> String {
    std::env::var("WEFT_CLIENTS_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// `Err` names what is missing and how to install it.
fn toolchains() -> Result<(), String> {
    let py = Command::new(python())
        .args(["-c", PYTHON_MODULES])
        .output()
        .map_err(|e| format!("{} cannot run ({e})", python()))?;
    if !py.status.success() {
        return Err(format!(
            "the Python client libraries are missing ({}): pip install -r host/cli/tests/clients/requirements.txt",
            String::from_utf8_lossy(&py.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let node = node_dir();
    if let Some(p) = NODE_PACKAGES.iter().find(|p| {
        !node
            .join("node_modules")
            .join(p)
            .join("package.json")
            .exists()
    }) {
        return Err(format!(
            "the Node client {p} is not installed in {}: copy host/cli/tests/clients/package.json there and run npm install",
            node.display()
        ));
    }
    Ok(())
}

struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().last() == Some("OK"),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn popular_client_libraries_work_against_the_sandbox_unmodified() {
    if let Err(missing) = toolchains() {
        if std::env::var_os("WEFT_REQUIRE_CLIENT_LIBS").is_some() {
            panic!("{missing} (WEFT_REQUIRE_CLIENT_LIBS is set: .ci/run installs them)");
        }
        eprintln!("skipped: {missing}");
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["sandbox", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start weft sandbox");
    let stdout = child.stdout.take().unwrap();
    let sandbox = Sandbox(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the sandbox's first line");
    let info = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(info.path(), &line).unwrap();

    for script in [
        "check_sheets.py",
        "check_woocommerce.py",
        "check_netsuite.py",
    ] {
        let mut cmd = Command::new(python());
        cmd.arg(clients_dir().join(script)).arg(info.path());
        run(cmd, script);
    }
    // Node resolves packages from the script's own folder: run a copy beside node_modules.
    let script = node_dir().join("check_node.mjs");
    std::fs::copy(clients_dir().join("check_node.mjs"), &script).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(info.path());
    run(cmd, "check_node.mjs");
    drop(sandbox);
}
