//! `maekawa check`: verify a run from its logs and print a one-line verdict.

use super::fail;
use clap::Args;
use maekawa::config::Config;
use maekawa::logs::check::check;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa check`.
#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// The directory the nodes wrote their logs to.
    #[arg(long, default_value = "logs")]
    log_dir: PathBuf,
    /// The cluster file the nodes ran with.
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
}

/// Exit 0 when the run is correct, 1 on any violation, 2 when the logs cannot be read.
pub(crate) fn run(args: CheckArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    match check(&args.log_dir, &config) {
        Ok(report) => {
            outln!("{report}");
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(&e),
    }
}
