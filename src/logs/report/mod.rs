//! `maekawa report`: tells the story of a run from its node logs, for people who must show how
//! mutual exclusion happened (a report appendix, a demo), as text, Markdown or Mermaid.
//!
//! Two reports:
//!
//! * **One entry** ([`entry_report`]): every message about the request that let node N into its
//!   K-th CS entry, as both the sender's `send` line and the receiver's `recv` line, from every
//!   `node-<id>.log`, ending at the `enter_cs` line; with the votes, the FAILED / INQUIRE /
//!   YIELD detours, re-votes and the wait, and the kills and restarts that freed a vote it
//!   waited for (or, for an entry whose process died inside the CS, that death).
//! * **The whole run** ([`summary_report`]): entries, waits and messages per node and overall,
//!   re-votes and restarts.
//!
//! This file holds only the public API; each concern has its own file:
//!
//! * `node_logs`: lists the `node-<id>.log` files and reads the lines a report uses;
//! * `select`: finds the `enter_cs` line an [`EntrySelector`] names;
//! * `story`: which lines led to that entry (kills and re-votes included), in causal order,
//!   and what each one means;
//! * `summary`: the per-node counts of the whole run;
//! * `text`, `markdown`, `mermaid`: one renderer per [`Format`];
//! * `wording`: how lists, entry ranges and times are written in every report.
//!
//! This module only reads the log directory: it never writes, truncates or locks a file there,
//! never talks to a running node, and does not judge the run (that is `maekawa check`).

mod json;
mod markdown;
mod mermaid;
mod node_logs;
mod select;
mod story;
mod summary;
#[cfg(test)]
mod test_logs;
mod text;
mod wording;

use crate::logdir;
use crate::logs::cslog;
use maekawa_core::id::NodeId;
use std::io;
use std::path::{Path, PathBuf};
use story::Story;
use summary::Summary;
use wording::join;

/// How a report is printed; the same facts in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    #[default]
    Text,
    /// A Markdown table, ready to paste into a report (GitHub renders it).
    Markdown,
    /// A Mermaid sequence diagram of one entry (GitHub renders it in a mermaid code block).
    /// The summary has no picture: asking for one is an error.
    Mermaid,
    /// One JSON object with the entry's steps, for programs (`maekawa watch`). Entries only.
    Json,
}

/// Which CS entry to tell: entry numbers restart at 1 in every process (incarnation) of a node,
/// so `(node, entry)` alone can name several entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntrySelector {
    /// The node that entered (`node-<node>.log` must exist).
    pub node: u32,
    /// The entry number of its `enter_cs` line, from 1.
    pub entry: u64,
    /// The process of `node` that entered; `None` takes the last incarnation that has `entry`
    /// (the one a user who just ran the cluster means).
    pub incarnation: Option<u64>,
}

/// Why a report could not be made. Each message is one line naming the file (and line) and
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The log directory cannot be listed.
    #[error("{}: cannot read the log directory ({source}); pass --log-dir with the directory the nodes wrote to", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The directory has no `node-<id>.log` at all.
    #[error("{}: no node-<id>.log files here; pass --log-dir with the directory the nodes wrote to", dir.display())]
    NoLogs {
        /// The directory.
        dir: PathBuf,
    },
    /// A node log exists but cannot be read.
    #[error("{}: cannot read ({source}); check its permissions", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line that is not a JSON object, or lacks a field its event must have.
    #[error("{}:{line}: {problem}; node logs must hold only lines written by `maekawa node`", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// `--node` names a node without a log in the directory.
    #[error("{}: no log of node {node} here (there are logs of nodes {found}); pass one of those to --node", dir.display())]
    NoNodeLog {
        /// The node asked for.
        node: u32,
        /// The directory.
        dir: PathBuf,
        /// The nodes that have a log, comma-separated.
        found: String,
    },
    /// `--incarnation` names a process the node log never started.
    #[error("node {node} has no incarnation {incarnation} in {}; it has incarnations {have}", path.display())]
    NoIncarnation {
        /// The node.
        node: u32,
        /// The incarnation asked for.
        incarnation: u64,
        /// Its log.
        path: PathBuf,
        /// The incarnations its `start` lines name, comma-separated.
        have: String,
    },
    /// The node (or the chosen incarnation of it) never entered with that number.
    #[error("{who} has no entry {entry} in {}; it has {have}", path.display())]
    NoEntry {
        /// "node 1", or "node 1 incarnation 2" when one was chosen.
        who: String,
        /// The entry asked for.
        entry: u64,
        /// The node's log.
        path: PathBuf,
        /// The entries it has, as ranges (`entries 1..=42`, per incarnation when there are several).
        have: String,
    },
    /// Mermaid draws the messages of one entry; the whole run has no sequence to draw.
    #[error("--format mermaid and json tell one entry: add --node N --entry K, or use --format text or markdown for the summary")]
    MermaidSummary,
}

/// The story of one CS entry, printed in `format`. Reads every `node-<id>.log` in `log_dir`,
/// and `critical_section.log` when it is there (only to tell a process that died inside the CS
/// from one whose log lost its `exit_cs` line).
pub fn entry_report(
    log_dir: &Path,
    sel: &EntrySelector,
    format: Format,
) -> Result<String, ReportError> {
    let paths = node_logs::paths(log_dir)?;
    if !paths.contains_key(&NodeId(sel.node)) {
        return Err(ReportError::NoNodeLog {
            node: sel.node,
            dir: log_dir.to_path_buf(),
            found: join(paths.keys()),
        });
    }
    let logs = node_logs::read_all(&paths)?;
    // The CS log only settles how a CS ended when the node log lost its last lines: without it
    // (or if it cannot be read) the node logs alone tell the story.
    let cs = cslog::read_cs_log(&logdir::cs_log(log_dir)).ok();
    let story = Story::build(&logs, sel, cs.as_deref())?;
    Ok(match format {
        Format::Text => text::story(&story),
        Format::Markdown => markdown::story(&story),
        Format::Mermaid => mermaid::story(&story),
        Format::Json => json::story(&story),
    })
}

/// Per node and overall: entries, waits, messages sent by type, messages per entry, re-votes
/// and restarts. `Format::Mermaid` is refused with [`ReportError::MermaidSummary`] (a run has
/// no single sequence to draw; a chart of counts would add nothing the table lacks).
pub fn summary_report(log_dir: &Path, format: Format) -> Result<String, ReportError> {
    if matches!(format, Format::Mermaid | Format::Json) {
        return Err(ReportError::MermaidSummary);
    }
    let paths = node_logs::paths(log_dir)?;
    let logs = node_logs::read_all(&paths)?;
    let summary = Summary::build(&logs);
    Ok(match format {
        Format::Markdown => markdown::summary(&summary, log_dir),
        _ => text::summary(&summary, log_dir),
    })
}
