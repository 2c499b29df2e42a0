//! `maekawa check`: verifies a finished (or running) cluster from the logs it wrote.
//!
//! The CS log is append-only and every line is one `O_APPEND` write, so its file order is the
//! real order of events; from it alone we prove that no two CS intervals overlap and that every
//! entry held its whole quorum. Each `node-<id>.log` that is present is then checked against it:
//! the node received a GRANT for that very request from every voter before it entered, and its
//! `enter_cs` lines are the CS log's `enter` lines. The rules, exactly:
//!
//! * **CS log order** — an `enter` while another node (or the same node) is in the CS, an `exit`
//!   that does not match the node's open entry, an `enter` before the node's first `start`, a
//!   request id of another node, entry numbers that do not count 1, 2, 3, ... in each process,
//!   and an incarnation not larger than the node's previous one are violations.
//! * **Abandoned CS** — a `start` of node N ends N's open CS (the process was killed). At the end
//!   of the file an open CS is fine (the node was killed, or still runs). Either is a violation
//!   only when `node-N.log` shows that process logged `stop`: a node stopped by signal must
//!   leave the CS first.
//! * **Votes** — every `enter` lists exactly the node's quorum from the config.
//! * **Grants** — every `enter_cs` in `node-N.log` follows, within the same process (since its
//!   last `start`), a `recv` of `msg` = `Grant` to N for the same `req_ts`/`req_node` from every
//!   member of N's quorum, not given back since: a `send` of `Yield` or `Release` from N to
//!   that voter for that request cancels the grant until a new one is received.
//! * **Same entries** — per node and incarnation, the `enter_cs` lines of the node log and the
//!   `enter` lines of the CS log agree one for one (`entry`, `req_ts`, `req_node`). Lines
//!   missing from the tail of a process that did not log `stop` are tolerated: a killed process
//!   loses the lines of the batch it was working on, not yet written (and at most one
//!   `enter_cs` may precede a CS log line the kill prevented).
//!
//! * **Fencing tokens of cs** — every `enter` of the CS log that carries a `token` has a token
//!   larger than every earlier `enter`'s (entries of `cs` never overlap, so file order is time
//!   order). A log without tokens (written before fencing tokens) is accepted, and the output
//!   says its tokens were not checked. A node log's `enter_cs` token must be its CS log line's.
//!
//! Node-log lines about other locks than the emulated CS (`lock` present and not `cs`; see
//! [`NodeEvent::about_cs`](crate::node_event::NodeEvent::about_cs)) are left out of these
//! rules. They have their own (`check/named.rs`): entries of one named lock never overlap in
//! time across nodes, and their tokens strictly increase in the order the entries began.
//! Unknown fields and node-log events are ignored. Lines that cannot be parsed are
//! [`CheckError`]s (file and line); everything wrong about the *run* is a [`Violation`] (file,
//! line and [`Rule`]) in the [`CheckReport`]. This module only reads: it never modifies,
//! truncates or rotates a log.
//!
//! Where each rule lives: `cs_order` walks the CS log (order, abandoned CS, votes, tokens of
//! `cs`), `node_log` reads each node log (grants, incarnations), `entries` compares the two
//! (same entries), `named` checks the named locks; `violation` says each rule's words and
//! `summary` what `maekawa check` prints.

use crate::config::Config;
use crate::logdir;
use crate::logs::cslog::{self, ReadCsLogError};
use crate::logs::reader;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

mod cs_order;
mod entries;
mod membership;
mod named;
mod node_log;
mod summary;
mod violation;

pub use named::LockStats;
pub use summary::{CheckReport, SHOWN_VIOLATIONS};
pub use violation::{Abandoned, Process, Rule, Violation};

/// Why the logs could not be checked at all (as opposed to a run that broke a rule).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The CS log is missing, unreadable or has a bad line.
    #[error(transparent)]
    CsLog(#[from] ReadCsLogError),
    /// A node log exists but cannot be read.
    #[error("{path}: cannot read ({source}); check its permissions")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A node-log line that is not a node-log line (not JSON, or a field its event must have
    /// is missing or of the wrong type).
    #[error("{path}:{line}: {problem}; node logs must hold only lines written by `maekawa node`")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// Checks the run whose logs are in `log_dir` against the quorums of `config`.
pub fn check(log_dir: &Path, config: &Config) -> Result<CheckReport, CheckError> {
    // Across membership changes: every node that was a member, every system the cluster had.
    let (wide, systems) = membership::widen(log_dir, config);
    let config = &wide;
    let cs_lines = cslog::read_cs_log(&logdir::cs_log(log_dir))?;
    let mut report = CheckReport::default();
    for id in config.ids() {
        report.entries_per_node.insert(id, 0);
    }

    let mut node_logs = BTreeMap::new();
    let mut named = named::NamedLocks::default();
    for id in config.ids() {
        let path = logdir::node_log(log_dir, id);
        let text = match reader::read_node_log(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CheckError::Unreadable { path, source }),
        };
        let log = node_log::read(&path, id, &text, config, &mut named, &mut report.violations)?;
        node_logs.insert(id, log);
    }
    report.node_logs = node_logs.keys().copied().collect();

    let cs_enters = cs_order::check(&cs_lines, config, &systems, &node_logs, &mut report);
    entries::check(&cs_enters, &node_logs, &mut report.violations);
    report.named_locks = named.check(&mut report.violations);
    Ok(report)
}

#[cfg(test)]
mod tests;
