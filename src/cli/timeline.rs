//! `maekawa timeline`: draw the run as an SVG picture and say what is in it.

use super::fail;
use clap::Args;
use maekawa::logs::timeline::render_timeline;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa timeline`.
#[derive(Args, Debug)]
pub(crate) struct TimelineArgs {
    /// The directory the nodes wrote their logs to.
    #[arg(long, default_value = "logs")]
    log_dir: PathBuf,
    /// Where to write the SVG.
    #[arg(short, long, default_value = "timeline.svg")]
    output: PathBuf,
}

/// Writes the picture; exit 2 when the logs cannot be read or the file cannot be written.
pub(crate) fn run(args: TimelineArgs) -> ExitCode {
    match render_timeline(&args.log_dir, &args.output) {
        Ok(s) => {
            println!(
                "wrote {}: {} nodes, {} CS entries, {} restarts after a kill, {} clean restarts, {} re-votes over {:.1} s",
                args.output.display(),
                s.nodes,
                s.entries,
                s.restarts,
                s.clean_restarts,
                s.revotes,
                s.span_ms / 1000.0
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
