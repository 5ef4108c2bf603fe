//! The generic host never names a platform (design principle 8): every code line of the engine,
//! store, server and platform-interface crates, and of the host assembly that runs the stores
//! (`host/cli/src/app.rs`, `host/cli/src/run.rs`), must speak to platforms only through the
//! platform interface. Comments and `#[cfg(test)]` modules are not code lines for this check;
//! string literals are (a SQL filter on a platform's name is a platform branch too).

use std::path::{Path, PathBuf};

/// Names that only a platform's own folder may use.
const PLATFORM_NAMES: &[&str] = &[
    "shopify",
    "netsuite",
    "woocommerce",
    "bigcommerce",
    "magento",
    "adobe commerce",
    "google sheets",
    "googlesheets",
    "sheets.googleapis",
];

/// The generic crates (every `.rs` file under their `src/`) and single files checked.
const GENERIC_CRATES: &[&str] = &["host/engine", "host/store", "host/server", "host/platform"];
const GENERIC_FILES: &[&str] = &["host/cli/src/app.rs", "host/cli/src/run.rs"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `line` without its `//` comment (a `//` inside a string literal is not a comment).
fn code_part(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// The code lines of `source` that name a platform: `(line number, line)`. Scanning stops at
/// the first `#[cfg(test)]` (test modules come last, by the workspace's convention).
fn platform_lines(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = code_part(line).to_ascii_lowercase();
        if PLATFORM_NAMES.iter().any(|name| code.contains(name)) {
            found.push((n + 1, line.trim().to_owned()));
        }
    }
    found
}

#[test]
fn the_detector_finds_code_and_skips_comments_and_tests() {
    let src = r#"
//! Shopify is named in docs: fine.
/// NetSuite too.
let a = 1; // a trailing comment about Magento
let url = "https://x.example/path"; // not a platform
let system = "shopify";
if s == "NetSuite" { }
#[cfg(test)]
mod tests { const S: &str = "woocommerce"; }
"#;
    let found: Vec<usize> = platform_lines(src).into_iter().map(|(n, _)| n).collect();
    assert_eq!(found, vec![6, 7]);
}

#[test]
fn the_generic_host_never_names_a_platform() {
    let root = root();
    let mut files = Vec::new();
    for c in GENERIC_CRATES {
        let before = files.len();
        rust_files(&root.join(c).join("src"), &mut files);
        assert!(
            files.len() > before,
            "{c}/src has no Rust files: is the list stale?"
        );
    }
    for f in GENERIC_FILES {
        let p = root.join(f);
        assert!(p.is_file(), "{f} does not exist: is the list stale?");
        files.push(p);
    }
    let mut offenders = Vec::new();
    for f in &files {
        let source = std::fs::read_to_string(f).expect("a source file reads");
        for (n, line) in platform_lines(&source) {
            offenders.push(format!(
                "{}:{n}: {line}",
                f.strip_prefix(&root).unwrap_or(f).display()
            ));
        }
    }
    assert!(
        offenders.is_empty(),
        "code lines of the generic host name a platform (move the knowledge into the platform's \
         folder behind the platform interface):\n{}",
        offenders.join("\n")
    );
}
