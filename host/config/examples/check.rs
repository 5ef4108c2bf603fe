//! Validates a weft configuration and prints every problem like a compiler would:
//! `cargo run -p weft-config --example check -- path/to/weft.toml`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check <weft.toml>");
        return ExitCode::from(2);
    };
    match weft_config::load(&path) {
        Ok(config) => {
            let secrets = config.check_secrets();
            println!(
                "{path}: ok, {} store(s): {}",
                config.stores.len(),
                config
                    .stores
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if secrets.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("{secrets}");
                ExitCode::FAILURE
            }
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            ExitCode::FAILURE
        }
    }
}
