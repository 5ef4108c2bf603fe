//! Printing to standard output that survives a closed pipe.
//!
//! `println!` panics when stdout is a pipe its reader closed (`weft status | head -1`: Rust
//! ignores SIGPIPE, so the write fails with `EPIPE`). Every line the CLI prints goes through
//! [`outln!`](crate::outln) instead: a closed pipe ends the process quietly with status 0 (the
//! reader got what it wanted); any other write error is reported on stderr with status 1.

use std::io::Write as _;

/// `println!` that ends the process quietly when stdout's reader has gone (see [`crate::out`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::out::line(::std::format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(::std::format_args!($($arg)*))
    };
}

/// Writes one line to stdout; see the module documentation for what happens when it fails.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        exit_on_write_error(&e);
    }
}

/// Ends the process after a failed write to stdout: quietly with 0 when the reader closed the
/// pipe, else with the error on stderr and 1.
pub fn exit_on_write_error(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(1);
}
