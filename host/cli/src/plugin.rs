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
}

/// Runs a `weft plugin` subcommand.
pub fn run(cmd: PluginCommand) -> Result<ExitCode> {
    let runtime = tool_runtime()?;
    match cmd {
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
