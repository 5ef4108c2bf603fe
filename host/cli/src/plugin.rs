//! `weft plugin check|test`: develop a plugin without a store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use weft_runtime::{Runtime, RuntimeConfig, tools};

/// The `weft plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a component, check it against the WIT contract, and print its role, exports and the
    /// limits it would run under. Exit code 1 if it does not load.
    Check {
        /// The component (`.wasm`), built for wasm32-wasip2.
        component: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every fixture in a directory through a component and diff against the expected
    /// output (`NAME.input.json` + `NAME.expected.json`). Exit code 1 on any mismatch.
    Test {
        /// The component (`.wasm`).
        component: PathBuf,
        /// Directory of fixtures.
        fixtures: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a new plugin project (Rust, Python or JavaScript) that builds, checks and passes
    /// its sample fixtures as it is; its README.md is the whole loop.
    New {
        /// The plugin's name (lowercase letters, digits, `-`).
        name: String,
        /// The language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::plugin_dev::Lang,
        /// Where to write it (default: ./<name>).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust only: weft's `plugins/sdk` directory to depend on (default: the checkout this
        /// weft was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build the plugin project in a directory (default: the current one) into a component,
    /// with its language's toolchain; a missing toolchain is named in one line.
    Build {
        /// The project directory (with Cargo.toml, app.py or app.js).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the component (default: <dir>/build/plugin.wasm).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
    },
}

/// Runs a `weft plugin` subcommand.
pub fn run(cmd: PluginCommand) -> Result<ExitCode> {
    match cmd {
        PluginCommand::New {
            name,
            lang,
            dir,
            sdk,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            crate::plugin_dev::new_project(&name, lang, &dir, sdk.as_deref())?;
            crate::outln!(
                "wrote {} ({} plugin `{name}`): see {}/README.md; next: cd {} && weft plugin build",
                dir.display(),
                lang.display(),
                dir.display(),
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        PluginCommand::Build { dir, out } => {
            let out = out.unwrap_or_else(|| crate::plugin_dev::default_output(&dir));
            return match crate::plugin_dev::build(&dir, &out) {
                Ok(out) => {
                    crate::outln!("built {}", out.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
        _ => {}
    }
    let runtime = tool_runtime()?;
    match cmd {
        PluginCommand::New { .. } | PluginCommand::Build { .. } => unreachable!("handled above"),
        PluginCommand::Check { component, json } => {
            let report = match tools::check(&runtime, &component) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            if json {
                crate::outln!("{}", serde_json::to_string(&report)?);
            } else {
                crate::outln!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test {
            component,
            fixtures,
            json,
        } => {
            let report = tools::run_fixtures(&runtime, &component, &fixtures)
                .with_context(|| format!("cannot run fixtures in {}", fixtures.display()))?;
            if json {
                crate::outln!("{}", serde_json::to_string(&report)?);
            } else {
                crate::outln!("{report}");
            }
            Ok(if report.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// A runtime for the developer tools: default limits, precompiled components cached under the
/// user's cache directory so a second run does not recompile.
pub fn tool_runtime() -> Result<Runtime> {
    let config = RuntimeConfig {
        cache_dir: Some(cache_dir()),
        ..RuntimeConfig::default()
    };
    Runtime::new(config).context("cannot start the plugin runtime")
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEFT_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("weft").join("components")
}
