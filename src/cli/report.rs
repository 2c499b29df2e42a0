//! `maekawa report`: the story of one CS entry, or a summary of the run, printed as text,
//! Markdown or Mermaid.

use super::fail;
use clap::Args;
use maekawa::logs::report::{entry_report, summary_report, EntrySelector, Format};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa report`.
#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    /// The directory the nodes wrote their logs to.
    #[arg(long, default_value = "logs")]
    log_dir: PathBuf,
    /// The node whose entry to tell.
    #[arg(long, requires = "entry")]
    node: Option<u32>,
    /// The entry number (per node and process, as in the logs).
    #[arg(long, requires = "node")]
    entry: Option<u64>,
    /// The process (incarnation) of that node; default: the last one that has that entry.
    #[arg(long, requires = "entry")]
    incarnation: Option<u64>,
    /// `text` for the terminal, `markdown` for a report, `mermaid` for a sequence diagram.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Prints the report; exit 2 when the logs cannot be read or the entry is not in them.
pub(crate) fn run(args: ReportArgs) -> ExitCode {
    let result = match (args.node, args.entry) {
        (Some(node), Some(entry)) => entry_report(
            &args.log_dir,
            &EntrySelector {
                node,
                entry,
                incarnation: args.incarnation,
            },
            args.format,
        ),
        _ => summary_report(&args.log_dir, args.format),
    };
    match result {
        Ok(text) => {
            out!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
