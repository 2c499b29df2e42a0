//! What `maekawa check` found wrong with a run, as a value: a [`Violation`] names the file and
//! the line where the rule broke and which [`Rule`] it was, with the figures that show it.
//!
//! The rendering (`Display`) is what `maekawa check` prints, word for word as tests and users'
//! scripts expect. This module only describes and renders; it never decides what is a violation
//! (that is the checkers' job: `cs_order`, `node_log`, `entries`, `named`).

use crate::logdir::CS_LOG;
use maekawa_core::id::{NodeId, RequestId};
use std::fmt;
use std::path::PathBuf;

/// One broken rule, where it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The file (its name in the log directory).
    pub file: String,
    /// The 1-based line of `file`.
    pub line: usize,
    /// Which rule, with what shows it.
    pub rule: Rule,
}

impl Violation {
    /// A violation at `line` of the CS log.
    pub(super) fn cs(line: usize, rule: Rule) -> Violation {
        Violation {
            file: CS_LOG.to_string(),
            line,
            rule,
        }
    }

    /// A violation at `line` of `file`.
    pub(super) fn at(file: &str, line: usize, rule: Rule) -> Violation {
        Violation {
            file: file.to_string(),
            line,
            rule,
        }
    }
}

/// `file:line: what`, the way `maekawa check` prints it.
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.rule)
    }
}

/// A violation reads as its text, so a test or a script compares it with what it expects.
impl PartialEq<str> for Violation {
    fn eq(&self, other: &str) -> bool {
        let text: String = self.to_string();
        text == other
    }
}

/// See `PartialEq<str>`.
impl PartialEq<&str> for Violation {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// See `PartialEq<str>`.
impl PartialEq<String> for Violation {
    fn eq(&self, other: &String) -> bool {
        *self == **other
    }
}

/// Which process of a node two logs are compared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The lines before the node log's first `start`.
    BeforeStart,
    /// Incarnation `0`.
    Incarnation(u64),
    /// The incarnation (if the CS log names it) whose `start` was rotated out of the node log.
    RotatedAway(Option<u64>),
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::BeforeStart => write!(f, "before any start"),
            Process::Incarnation(i) => write!(f, "incarnation {i}"),
            Process::RotatedAway(Some(i)) => {
                write!(f, "incarnation {i} whose start was rotated away")
            }
            Process::RotatedAway(None) => write!(f, "incarnation ? whose start was rotated away"),
        }
    }
}

/// When a CS was left open by a process that logged `stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// At the node's next `start`, at this line of the CS log.
    AtRestart(usize),
    /// Still open at the end of the CS log.
    AtEnd,
}

/// The rules of `maekawa check` (the module doc of `check` states each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A node log's `start` with an incarnation not larger than the one before.
    IncarnationShrinks {
        /// The new incarnation.
        inc: u64,
        /// The one before.
        prev: u64,
    },
    /// A node log's `start` of an incarnation that started before.
    IncarnationAgain {
        /// The incarnation.
        inc: u64,
        /// Its first `start` line.
        first: usize,
    },
    /// An `enter_cs` without a Grant held from every voter it names.
    NoGrant {
        /// The node.
        node: NodeId,
        /// Its entry.
        entry: u64,
        /// Its request.
        req: RequestId,
        /// The voters whose Grant it did not hold.
        missing: Vec<NodeId>,
    },
    /// A node of the CS log that the config does not list.
    UnknownNode {
        /// The node.
        node: NodeId,
        /// The config file.
        config: PathBuf,
    },
    /// A process that stopped normally left the CS open.
    Abandoned {
        /// The node.
        node: NodeId,
        /// Its open entry.
        entry: u64,
        /// When it was found open.
        when: Abandoned,
        /// The node log that says the process stopped.
        log: String,
        /// The `stop` line of that log.
        stop: usize,
    },
    /// A CS log `start` with an incarnation not larger than the node's one before.
    StartShrinks {
        /// The node.
        node: NodeId,
        /// The new incarnation.
        inc: u64,
        /// The one before.
        prev: u64,
    },
    /// A fencing token of `cs` not larger than an earlier one.
    TokenNotLarger {
        /// The node.
        node: NodeId,
        /// Its entry.
        entry: u64,
        /// Its token.
        token: u64,
        /// The largest token before.
        top: u64,
        /// Where that one is.
        top_line: usize,
    },
    /// An `enter` before the node's first `start`.
    EnterBeforeStart {
        /// The node.
        node: NodeId,
        /// Its entry.
        entry: u64,
    },
    /// An `enter` while the same node is inside.
    EnterTwice {
        /// The node.
        node: NodeId,
        /// The new entry.
        entry: u64,
        /// Its open entry.
        open: u64,
        /// Where that one entered.
        since: usize,
    },
    /// An `enter` while another node is inside: mutual exclusion broken.
    Overlap {
        /// The node.
        node: NodeId,
        /// Its entry.
        entry: u64,
        /// The node inside.
        other: NodeId,
        /// Where that one entered.
        since: usize,
    },
    /// An entry number that does not count 1, 2, 3, ...
    EntryNumber {
        /// The node.
        node: NodeId,
        /// Its entry number.
        entry: u64,
        /// The one due.
        expected: u64,
    },
    /// An entry with another node's request.
    ForeignRequest {
        /// The node.
        node: NodeId,
        /// The request.
        request: RequestId,
    },
    /// An entry whose votes are not a quorum.
    NotAQuorum {
        /// The node.
        node: NodeId,
        /// Its entry.
        entry: u64,
        /// The votes, sorted.
        votes: Vec<NodeId>,
        /// The quorum system ("grid").
        system: String,
        /// The node's own quorum.
        own: Vec<NodeId>,
    },
    /// An `exit` of another entry than the open one.
    ExitWrongEntry {
        /// The node.
        node: NodeId,
        /// The entry it exits.
        entry: u64,
        /// Its open entry.
        open: u64,
        /// Where that one entered.
        since: usize,
    },
    /// An `exit` of a node not inside.
    ExitOutside {
        /// The node.
        node: NodeId,
        /// The entry it exits.
        entry: u64,
    },
    /// An `enter_cs` and the CS log's `enter` at the same place disagree.
    EntryMismatch {
        /// The node log's entry and request.
        entry: u64,
        /// See `entry`.
        req: RequestId,
        /// The CS log's line, entry and request.
        cs_line: usize,
        /// See `cs_line`.
        cs_entry: u64,
        /// See `cs_line`.
        cs_req: RequestId,
        /// The node.
        node: NodeId,
        /// The process.
        process: Process,
    },
    /// The same entry with another token in the two logs.
    TokenMismatch {
        /// The node log's entry and token.
        entry: u64,
        /// See `entry`.
        token: u64,
        /// The CS log's line and token.
        cs_line: usize,
        /// See `cs_line`.
        cs_token: u64,
        /// The node.
        node: NodeId,
        /// The process.
        process: Process,
    },
    /// A CS log entry of a process that stopped, without its `enter_cs`.
    NoEnterCs {
        /// The node.
        node: NodeId,
        /// The entry.
        entry: u64,
        /// Its request.
        req: RequestId,
        /// The node log.
        log: String,
        /// The process.
        process: Process,
    },
    /// An `enter_cs` without its CS log `enter`.
    NoEnter {
        /// The entry.
        entry: u64,
        /// Its request.
        req: RequestId,
        /// The node.
        node: NodeId,
        /// The process.
        process: Process,
    },
    /// A named lock entered again by a node inside it.
    LockReentered {
        /// The node.
        node: NodeId,
        /// The lock.
        lock: String,
        /// Where its open entry is.
        open: usize,
    },
    /// A named lock left by a node that did not enter it.
    LockLeftOutside {
        /// The node.
        node: NodeId,
        /// The lock.
        lock: String,
        /// The request `(ts, node)`.
        req: (u64, u64),
    },
    /// A named lock's `exit_cs` of another request or token than its entry's.
    LockExitMismatch {
        /// The lock.
        lock: String,
        /// The exit's request and token.
        req: (u64, u64),
        /// See `req`.
        token: u64,
        /// The entry's line, request and token.
        open: usize,
        /// See `open`.
        open_req: (u64, u64),
        /// See `open`.
        open_token: u64,
    },
    /// Two entries of a named lock overlap in time.
    LockOverlap {
        /// The node that entered.
        node: NodeId,
        /// The lock.
        lock: String,
        /// Its token.
        token: u64,
        /// The holder.
        holder: NodeId,
        /// Where the holder entered (`file:line`).
        since: String,
        /// Until when it held it, in words.
        until: String,
    },
    /// A named lock's token not larger than an earlier entry's.
    LockToken {
        /// The lock.
        lock: String,
        /// The token.
        token: u64,
        /// The earlier, larger or equal token.
        top: u64,
        /// Where that one is (`file:line`).
        top_at: String,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::IncarnationShrinks { inc, prev } => write!(f, "incarnation {inc} starts after incarnation {prev}; incarnations must grow (was the journal deleted?)"),
            Rule::IncarnationAgain { inc, first } => write!(f, "incarnation {inc} starts again (first at line {first}); incarnations must grow"),
            Rule::NoGrant { node, entry, req, missing } => {
                let names: Vec<String> = missing.iter().map(NodeId::to_string).collect();
                let s = if missing.len() == 1 { "" } else { "s" };
                write!(f, "node {node} entered the CS (entry {entry}, request {req}) without a received Grant from node{s} {}", names.join(", "))
            }
            Rule::UnknownNode { node, config } => write!(f, "node {node} is not in {}; check the log directory and --config", config.display()),
            Rule::Abandoned { node, entry, when, log, stop } => {
                let when = match when {
                    Abandoned::AtRestart(line) => format!("when it restarted at line {line}"),
                    Abandoned::AtEnd => "at the end of the log".to_string(),
                };
                write!(f, "node {node} still in the CS (entry {entry}) {when}, but its process stopped normally ({log}:{stop}); a stopping node must leave the CS first")
            }
            Rule::StartShrinks { node, inc, prev } => write!(f, "node {node} starts incarnation {inc} after incarnation {prev}; incarnations must grow (was the journal deleted?)"),
            Rule::TokenNotLarger { node, entry, token, top, top_line } => write!(f, "node {node} entered (entry {entry}) with token {token}, not larger than token {top} at line {top_line}; fencing tokens must increase"),
            Rule::EnterBeforeStart { node, entry } => write!(f, "node {node} entered (entry {entry}) before any start line of its own; a node logs start before it talks to peers"),
            Rule::EnterTwice { node, entry, open, since } => write!(f, "node {node} entered (entry {entry}) while its entry {open} is still in the CS since line {since}"),
            Rule::Overlap { node, entry, other, since } => write!(f, "node {node} entered (entry {entry}) while node {other} is in the CS since line {since}"),
            Rule::EntryNumber { node, entry, expected } => write!(f, "node {node} entry {entry} where entry {expected} was due; entries count 1, 2, 3, ... in each process"),
            Rule::ForeignRequest { node, request } => write!(f, "node {node} entered with request {request} of node {}", request.node),
            Rule::NotAQuorum { node, entry, votes, system, own } => write!(f, "node {node} entered (entry {entry}) with votes {} but that is not a quorum of the {system} system (its own is {})", list(votes), list(own)),
            Rule::ExitWrongEntry { node, entry, open, since } => write!(f, "node {node} exited entry {entry} but its open entry is {open} (line {since})"),
            Rule::ExitOutside { node, entry } => write!(f, "node {node} exited entry {entry} but is not in the CS"),
            Rule::EntryMismatch { entry, req, cs_line, cs_entry, cs_req, node, process } => write!(f, "enter_cs entry {entry} request {req} does not match {CS_LOG}:{cs_line}: entry {cs_entry} request {cs_req} (node {node}, {process})"),
            Rule::TokenMismatch { entry, token, cs_line, cs_token, node, process } => write!(f, "enter_cs entry {entry} token {token} does not match {CS_LOG}:{cs_line}: token {cs_token} (node {node}, {process})"),
            Rule::NoEnterCs { node, entry, req, log, process } => write!(f, "node {node} entry {entry} request {req} has no enter_cs line in {log} ({process})"),
            Rule::NoEnter { entry, req, node, process } => write!(f, "enter_cs entry {entry} request {req} has no enter line in {CS_LOG} (node {node}, {process})"),
            Rule::LockReentered { node, lock, open } => write!(f, "node {node} entered lock {lock:?} again while its entry at line {open} is not left"),
            Rule::LockLeftOutside { node, lock, req } => write!(f, "node {node} left lock {lock:?} (request ({}, {})) without an enter_cs line of it in this process", req.0, req.1),
            Rule::LockExitMismatch { lock, req, token, open, open_req, open_token } => write!(f, "exit_cs of lock {lock:?} has request ({}, {}) token {token}, but the entry at line {open} has request ({}, {}) token {open_token}", req.0, req.1, open_req.0, open_req.1),
            Rule::LockOverlap { node, lock, token, holder, since, until } => write!(f, "node {node} entered lock {lock:?} (token {token}) while node {holder} held it since {since} until {until}"),
            Rule::LockToken { lock, token, top, top_at } => write!(f, "lock {lock:?} token {token} is not larger than token {top} of the earlier entry at {top_at}; fencing tokens must increase"),
        }
    }
}

/// `[0,1,2]`.
fn list(ids: &[NodeId]) -> String {
    let inner: Vec<String> = ids.iter().map(NodeId::to_string).collect();
    format!("[{}]", inner.join(","))
}
