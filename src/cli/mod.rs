//! One module per subcommand of `maekawa`: its flags (a clap `Args` struct) and a `run` that
//! calls the library and turns the outcome into output and an exit code.
//!
//! This is the top layer (ARCHITECTURE.md): it may use everything below it, and nothing uses
//! it. It holds no protocol, file-format or network logic of its own; what is here is
//! presentation (how a result is printed) and the process's edges (signals, the runtime).

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod ctl;
pub(crate) mod explore;
pub(crate) mod node;
pub(crate) mod quorums;
pub(crate) mod report;
pub(crate) mod simulate;
pub(crate) mod timeline;

use std::process::ExitCode;

/// Bad input or a failed start: one line on stderr, exit code 2.
pub(crate) fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}
