//! `maekawa quorums`: print the quorum system of a cluster file (grid, majority or explicit,
//! every own quorum, the intersection check and the dead nodes it survives), or only its node
//! ids, for scripts.

use super::fail;
use clap::Args;
use maekawa::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa quorums`.
#[derive(Args, Debug)]
pub(crate) struct QuorumsArgs {
    /// The cluster file (node ids and addresses, optional quorum_system or explicit quorums).
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
    /// Print only the node ids, one per line (for scripts).
    #[arg(long)]
    ids: bool,
}

/// Exit 2 when the cluster file is missing or invalid.
pub(crate) fn run(args: QuorumsArgs) -> ExitCode {
    match Config::load(&args.config) {
        Ok(cfg) if args.ids => {
            cfg.ids().iter().for_each(|id| outln!("{id}"));
            ExitCode::SUCCESS
        }
        Ok(cfg) => {
            out!("{}", cfg.quorums.render());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
