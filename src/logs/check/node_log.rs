//! One node log as `check` needs it: its processes (incarnations) with their `enter_cs`
//! lines and whether they logged `stop`, the votes it reclaimed, and, on the way, the **Grants**
//! rule (every `enter_cs` follows a Grant from every voter it names, held since) and the
//! growth of its incarnations. Lines about named locks go to the named-lock checker.
//!
//! It reads typed lines ([`crate::logs::reader::node_lines`]) and never modifies a log.

use super::named::NamedLocks;
use super::violation::{Rule, Violation};
use super::CheckError;
use crate::config::Config;
use crate::logs::reader::{self, LineError};
use crate::node_event::{LogMessages, NodeEvent, NodeLine, RevoteKind};
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};
use maekawa_core::protocol::MsgKind;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

/// An entry as either log tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) line: usize,
    pub(super) entry: u64,
    pub(super) req: RequestId,
    /// The fencing token, when the log has one.
    pub(super) token: Option<u64>,
}

/// What one process (incarnation) of a node did, from its node log.
#[derive(Debug, Default)]
pub(super) struct Process {
    /// Line of its `stop` event, if it logged one.
    pub(super) stop: Option<usize>,
    pub(super) enters: Vec<Entry>,
}

/// A node log, by incarnation (`None`: lines before the first `start`).
#[derive(Debug)]
pub(super) struct NodeLog {
    pub(super) file: String,
    pub(super) processes: BTreeMap<Option<u64>, Process>,
    /// Its oldest files were rotated away (`--log-keep`): the lines before its first `start`
    /// belong to an incarnation whose start is gone.
    pub(super) rotated_away: bool,
    /// Votes this node (as a voter) reclaimed from a suspected holder of the emulated CS,
    /// with when: the holder's lease had surely run out by then.
    pub(super) reclaimed: Vec<(RequestId, SystemTime)>,
}

impl NodeLog {
    /// The `stop` line of process `incarnation`, if it logged one.
    pub(super) fn stopped(&self, incarnation: Option<u64>) -> Option<usize> {
        self.processes.get(&incarnation).and_then(|p| p.stop)
    }
}

/// Parses the node log of `id` (its text `text`, read from `path`) and checks its grants on
/// the way; its named-lock lines go to `named`.
pub(super) fn read(
    path: &Path,
    id: NodeId,
    text: &str,
    config: &Config,
    named: &mut NamedLocks,
    violations: &mut Vec<Violation>,
) -> Result<NodeLog, CheckError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into(),
    );
    // Whether the log's beginning was rotated away: its first line is not a `start`.
    let rotated_away = crate::logdir::rotated_node_log(path, 1).exists()
        && reader::node_lines(text)
            .next()
            .is_some_and(|(_, l)| l.is_ok_and(|l| !matches!(l.event, NodeEvent::Start { .. })));
    let mut r = Reader {
        id,
        quorum: config.quorums.quorum(id),
        log: NodeLog {
            file,
            processes: BTreeMap::new(),
            rotated_away,
            reclaimed: Vec::new(),
        },
        incarnation: None,
        start_line: BTreeMap::new(),
        grants: HashSet::new(),
        // Not known for the lines before the first `start` of a log whose beginning was
        // rotated away: their entries' Grants cannot be matched.
        messages_logged: !rotated_away,
    };
    for (line, parsed) in reader::node_lines(text) {
        let l = parsed.map_err(|problem| malformed(path, line, &problem))?;
        // Lines of other locks than the emulated CS have their own rules.
        if !l.event.about_cs() {
            named.line(path, &r.log.file, line, &l, violations)?;
        } else {
            r.line(path, line, &l, named, violations)?;
        }
        named.seen(&l);
    }
    named.end_of_log();
    Ok(r.log)
}

/// A line that does not read, as `check`'s error.
pub(super) fn malformed(path: &Path, line: usize, problem: &LineError) -> CheckError {
    CheckError::Malformed {
        path: path.to_path_buf(),
        line,
        problem: problem.describe("event"),
    }
}

/// The request a line names, as entries are matched: within one incarnation's stretch of the
/// log, (ts, node) identifies it.
fn req_of(req: RequestId) -> RequestId {
    RequestId {
        inc: Incarnation(0),
        epoch: maekawa_core::id::Epoch(0),
        ..req
    }
}

/// The state of reading one node log, line by line.
struct Reader<'a> {
    id: NodeId,
    /// The node's own quorum: the voters of an `enter_cs` that does not name its votes.
    quorum: &'a [NodeId],
    log: NodeLog,
    incarnation: Option<u64>,
    /// The first `start` line of each incarnation.
    start_line: BTreeMap<u64, usize>,
    /// Grants held by the current process: (request, voter).
    grants: HashSet<(RequestId, NodeId)>,
    /// Whether the current process logs its messages (not with `--log-messages none`).
    messages_logged: bool,
}

impl Reader<'_> {
    fn line(
        &mut self,
        path: &Path,
        line: usize,
        l: &NodeLine,
        named: &mut NamedLocks,
        violations: &mut Vec<Violation>,
    ) -> Result<(), CheckError> {
        match &l.event {
            NodeEvent::Start {
                incarnation,
                log_messages,
                ..
            } => {
                named.start(path, line, l)?;
                self.start(line, *incarnation, *log_messages, violations);
            }
            NodeEvent::Stop { .. } => {
                let p = self.log.processes.entry(self.incarnation).or_default();
                p.stop.get_or_insert(line);
            }
            NodeEvent::Revote {
                what: RevoteKind::Reclaimed,
                ..
            } => {
                if let (Some(req), Some(at)) = (l.event.req(), l.time()) {
                    self.log.reclaimed.push((req_of(req), at));
                }
            }
            NodeEvent::Recv(m) if m.msg == MsgKind::Grant && m.to == self.id => {
                self.grants.insert((req_of(m.req()), m.from));
            }
            NodeEvent::Send(m)
                if matches!(m.msg, MsgKind::Yield | MsgKind::Release) && m.from == self.id =>
            {
                self.grants.remove(&(req_of(m.req()), m.to));
            }
            NodeEvent::EnterCs {
                entry,
                req_ts,
                req_node,
                votes,
                token,
                ..
            } => {
                let Some(entry) = *entry else {
                    let problem = LineError::Field {
                        event: l.event.name().to_string(),
                        key: "entry".to_string(),
                        expected: "a non-negative integer",
                    };
                    return Err(malformed(path, line, &problem));
                };
                let e = Entry {
                    line,
                    entry,
                    req: RequestId {
                        ts: Lamport(*req_ts),
                        node: *req_node,
                        inc: Incarnation(0),
                        epoch: maekawa_core::id::Epoch(0),
                    },
                    token: *token,
                };
                self.enter(e, votes.as_deref(), violations);
            }
            _ => {}
        }
        Ok(())
    }

    /// A `start`: a new process, whose incarnation must be larger than every one before.
    fn start(
        &mut self,
        line: usize,
        inc: u64,
        log_messages: LogMessages,
        violations: &mut Vec<Violation>,
    ) {
        let file = &self.log.file;
        if let Some(prev) = self.incarnation.filter(|&p| inc <= p) {
            let rule = Rule::IncarnationShrinks { inc, prev };
            violations.push(Violation::at(file, line, rule));
        } else if let Some(&first) = self.start_line.get(&inc) {
            let rule = Rule::IncarnationAgain { inc, first };
            violations.push(Violation::at(file, line, rule));
        }
        self.start_line.entry(inc).or_insert(line);
        self.incarnation = Some(inc);
        self.grants.clear();
        self.messages_logged = log_messages != LogMessages::None;
        self.log.processes.entry(self.incarnation).or_default();
    }

    /// An `enter_cs` of the emulated CS: it must hold a Grant from every voter it used (any
    /// quorum of the system; its own quorum in logs written before quorum switching).
    fn enter(&mut self, e: Entry, votes: Option<&[NodeId]>, violations: &mut Vec<Violation>) {
        let used = votes.unwrap_or(self.quorum);
        let missing: Vec<NodeId> = used
            .iter()
            .copied()
            .filter(|_| self.messages_logged)
            .filter(|&v| !self.grants.contains(&(e.req, v)))
            .collect();
        if !missing.is_empty() {
            let rule = Rule::NoGrant {
                node: self.id,
                entry: e.entry,
                req: e.req,
                missing,
            };
            violations.push(Violation::at(&self.log.file, e.line, rule));
        }
        let p = self.log.processes.entry(self.incarnation).or_default();
        p.enters.push(e);
    }
}
