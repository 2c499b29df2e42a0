//! `maekawa timeline`: draw the run (or a window of it) as an SVG picture and say what is in it.

use super::fail;
use clap::Args;
use maekawa::logs::timeline::{render_window, Window};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa timeline`.
#[derive(Args, Debug)]
#[command(after_help = "WHEN is one of:
  5, 5.5s, 1500ms             seconds (or ms) since the run's first event: the picture's time axis
  2026-11-24T07:33:13.308Z    a time as the logs write it (RFC 3339, UTC)
  07:33:13.308                a time of day as `maekawa report` prints it, on the day of the run
  entry:40                    the 40th `enter` line of critical_section.log (--from: where it
                              entered; --to: where it left, so it is drawn whole)

Example: maekawa timeline --from 5 --to 8 -o window.svg
         maekawa timeline --from entry:40 --to entry:60 -o window.svg")]
pub(crate) struct TimelineArgs {
    /// The directory the nodes wrote their logs to.
    #[arg(long, default_value = "logs")]
    log_dir: PathBuf,
    /// Where to write the SVG.
    #[arg(short, long, default_value = "timeline.svg")]
    output: PathBuf,
    /// Draw from WHEN on (default: the run's first event); intervals are cut at the edge.
    #[arg(long, value_name = "WHEN", allow_hyphen_values = true)]
    from: Option<String>,
    /// Draw up to WHEN (default: the run's last event).
    #[arg(long, value_name = "WHEN", allow_hyphen_values = true)]
    to: Option<String>,
}

/// Writes the picture; exit 2 when a bound is malformed or names no part of the run, or the
/// logs cannot be read, or the file cannot be written.
pub(crate) fn run(args: TimelineArgs) -> ExitCode {
    let window = match Window::parse(args.from.as_deref(), args.to.as_deref()) {
        Ok(w) => w,
        Err(e) => return fail(&e),
    };
    match render_window(&args.log_dir, &args.output, &window) {
        Ok(s) => {
            let part = if window.is_whole() {
                format!("over {:.1} s", s.span_ms / 1000.0)
            } else {
                format!(
                    "from {:.3} s to {:.3} s of a {:.1} s run",
                    s.from_ms / 1000.0,
                    s.to_ms / 1000.0,
                    s.span_ms / 1000.0
                )
            };
            let entries = match (window.is_whole(), s.entry_range) {
                (false, Some((a, b))) => format!(" (entry:{a} to entry:{b} of {})", s.run_entries),
                _ => String::new(),
            };
            outln!(
                "wrote {}: {} nodes, {} CS entries{entries}, {} restarts after a kill, {} clean restarts, {} re-votes {part}",
                args.output.display(),
                s.nodes,
                s.entries,
                s.restarts,
                s.clean_restarts,
                s.revotes,
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
