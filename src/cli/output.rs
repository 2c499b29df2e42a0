//! Where every command's output goes: stdout for the answer, stderr for errors, both through
//! here instead of `println!`/`eprintln!` (clippy's `print_stdout`/`print_stderr` lints, denied
//! in main.rs, keep it so).
//!
//! `println!` panics when the reader of stdout has left (`maekawa report | head -1`): Rust
//! ignores SIGPIPE, so a write to a closed pipe is an `EPIPE` error, and `println!` turns it
//! into a panic and exit code 101. Restoring SIGPIPE's default action would end the process
//! quietly instead, but the same process runs the daemon and gRPC clients, where a peer's
//! broken socket must be an error and not a signal that kills the node. So the error is
//! handled here: `BrokenPipe` means the reader left, printing stops without a word, and the
//! command's exit code is the one it would have had. Any other write error (a full disk) is
//! one error line and exit code 2 ([`exit_code`]).

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout took its last byte: a write failed, so nothing more is tried.
static STDOUT_DONE: AtomicBool = AtomicBool::new(false);
/// Set when that failure was not the reader leaving: the output is lost and the exit code
/// must say so.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout and flushes, so a closed pipe is noticed here and not at exit. After a
/// failed write it does nothing.
pub(crate) fn stdout(args: fmt::Arguments<'_>) {
    if STDOUT_DONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_DONE.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            stderr(format_args!(
                "error: cannot write the output to stdout: {e}\n"
            ));
        }
    }
}

/// Writes to stderr. A failure is ignored: there is nowhere left to report it.
pub(crate) fn stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// The process's exit code: `code`, the command's own, unless its output could not be
/// written for another reason than the reader leaving; then 2.
pub(crate) fn exit_code(code: ExitCode) -> ExitCode {
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        ExitCode::from(2)
    } else {
        code
    }
}
