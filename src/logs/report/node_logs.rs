//! Reads a run's node logs into the few events a report uses: lists the `node-<id>.log` files of
//! the log directory and turns each line (through the shared reader,
//! [`crate::logs::reader::cs_lines`], which leaves out the lines of named locks other than the
//! emulated CS) into a [`Line`].
//!
//! It only reads: it never writes, truncates or locks a log. It does not decide what a line
//! means for an entry or a run (that is `story` and `summary`), and every other line of the
//! logs is skipped here.

use super::ReportError;
use crate::logs::reader::{self, LineError};
use crate::node_event::{NodeEvent, NodeLine, RevoteKind};
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::MsgKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Messages that make a request wait or give a vote back: the story and the Mermaid diagram
/// set them apart from the plain request-grant-release path.
pub(super) fn is_detour(msg: MsgKind) -> bool {
    matches!(msg, MsgKind::Failed | MsgKind::Inquire | MsgKind::Yield)
}

/// Which side of a message a line is: every message appears twice in a run's logs, and the
/// story pairs the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    /// A `send` line, in the sender's log.
    Send,
    /// A `recv` line, in the receiver's log.
    Recv,
}

/// The events a report uses; every other line is skipped.
#[derive(Debug, Clone)]
pub(super) enum Ev {
    /// `start`: a new process (incarnation) of the node.
    Start { inc: u64 },
    /// `stop`: the process is stopping cleanly (SIGTERM/SIGINT); a process whose log ends
    /// without it, or has a later `start` instead, was killed (README.md, "Kill and restart").
    Stop,
    /// Not a line of any log: made by the story where process `inc` ended without a `stop`
    /// line (killed), at the time of its last line. The row a reader needs to see the kill,
    /// which no process can log.
    Killed { inc: u64 },
    /// `peer_down`: the link to `peer` broke (the first sign a voter has that `peer` died).
    PeerDown { peer: NodeId, reason: String },
    /// `peer_incarnation`: `peer` opened a link as incarnation `inc`; re-voting follows.
    PeerIncarnation { peer: NodeId, inc: u64 },
    /// `request_cs`: the node asks for the CS with request (`ts`, `node`).
    RequestCs { ts: u64, node: NodeId },
    /// `enter_cs`: the node's `entry`-th entry, with the request, the votes and the wait.
    EnterCs {
        entry: u64,
        ts: u64,
        votes: Vec<NodeId>,
        wait_ms: f64,
    },
    /// `exit_cs`: the node left its `entry`-th entry.
    ExitCs { entry: u64 },
    /// `send` or `recv` of one protocol message about request `req`.
    Msg {
        dir: Dir,
        msg: MsgKind,
        from: NodeId,
        to: NodeId,
        lamport: u64,
        req: RequestId,
        holds_grant: Option<bool>,
    },
    /// `revote`: the voter changed its vote or queue (`what`) to match what a restarted peer
    /// really has.
    Revote {
        what: RevoteKind,
        req: RequestId,
        why: String,
    },
    /// `inquiry_deferred`: the requester holds back `voter`'s INQUIRE.
    InquiryDeferred {
        voter: NodeId,
        ts: u64,
        node: NodeId,
    },
    /// `ignored`: a stale message the node dropped, and why.
    Ignored {
        msg: MsgKind,
        from: NodeId,
        ts: u64,
        node: NodeId,
        why: String,
    },
}

/// One line of `node-<node>.log`, the unit every report is made of.
#[derive(Debug, Clone)]
pub(super) struct Line {
    /// The node whose log holds the line.
    pub(super) node: NodeId,
    /// `timestamp` as written (RFC 3339, microseconds).
    pub(super) time: String,
    /// The incarnation of the process that wrote it (`None` before the first `start`).
    pub(super) inc: Option<u64>,
    /// What the line says.
    pub(super) ev: Ev,
}

/// The lines of one node's log that a report uses, in log order (which is that node's causal
/// order), with the path for error messages.
#[derive(Debug)]
pub(super) struct NodeLog {
    /// The node that wrote the log.
    pub(super) node: NodeId,
    /// The file, as found in the log directory.
    pub(super) path: PathBuf,
    /// Its lines, in log order.
    pub(super) lines: Vec<Line>,
    /// Per process (incarnation; `None` before the first `start`), the time and event of its
    /// last line of a known event: where a killed process stopped writing, which the story
    /// shows.
    pub(super) last_line: BTreeMap<Option<u64>, (String, &'static str)>,
}

/// `node-<id>.log` files of `dir`, by node id: listed before any is read, so that a wrong
/// `--node` is named before a bad line of another log.
pub(super) fn paths(dir: &Path) -> Result<BTreeMap<NodeId, PathBuf>, ReportError> {
    let paths = reader::node_log_paths(dir).map_err(|source| ReportError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    if paths.is_empty() {
        return Err(ReportError::NoLogs {
            dir: dir.to_path_buf(),
        });
    }
    Ok(paths)
}

/// Reads every log of `paths`, in node order; the first unreadable file or bad line stops it.
pub(super) fn read_all(paths: &BTreeMap<NodeId, PathBuf>) -> Result<Vec<NodeLog>, ReportError> {
    paths
        .iter()
        .map(|(&node, path)| read_node_log(node, path))
        .collect()
}

fn read_node_log(node: NodeId, path: &Path) -> Result<NodeLog, ReportError> {
    let text = reader::read_node_log(path).map_err(|source| ReportError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    parse_node_log(node, path, &text)
}

fn parse_node_log(node: NodeId, path: &Path, text: &str) -> Result<NodeLog, ReportError> {
    let mut lines = Vec::new();
    let mut last_line = BTreeMap::new();
    let mut inc = None;
    // The last line may still be being written by a running node: `cs_lines` leaves it, and
    // the lines of other locks than the emulated CS.
    for (line, parsed) in reader::cs_lines(text) {
        let l = parsed.map_err(|problem| malformed(path, line, &problem))?;
        if let NodeEvent::Start { incarnation, .. } = l.event {
            inc = Some(incarnation);
        }
        if l.event != NodeEvent::Other {
            last_line.insert(inc, (l.timestamp.clone(), l.event.name()));
        }
        let ev = match ev_of(&l) {
            Ok(Some(ev)) => ev,
            Ok(None) => continue,
            Err(problem) => return Err(malformed(path, line, &problem)),
        };
        lines.push(Line {
            node,
            time: l.timestamp,
            inc,
            ev,
        });
    }
    Ok(NodeLog {
        node,
        path: path.to_path_buf(),
        lines,
        last_line,
    })
}

/// What a report makes of a line (`None`: nothing), or the field a report needs that the line
/// lacks.
fn ev_of(l: &NodeLine) -> Result<Option<Ev>, LineError> {
    let needs = |key: &str, expected: &'static str| LineError::Field {
        event: l.event.name().to_string(),
        key: key.to_string(),
        expected,
    };
    Ok(Some(match &l.event {
        NodeEvent::Start { incarnation, .. } => Ev::Start { inc: *incarnation },
        NodeEvent::Stop { .. } => Ev::Stop,
        NodeEvent::PeerDown { peer, reason } => Ev::PeerDown {
            peer: *peer,
            reason: reason.clone(),
        },
        NodeEvent::PeerIncarnation {
            peer, incarnation, ..
        } => Ev::PeerIncarnation {
            peer: *peer,
            inc: *incarnation,
        },
        NodeEvent::ExitCs { entry, .. } => Ev::ExitCs {
            entry: entry.ok_or_else(|| needs("entry", "a non-negative integer"))?,
        },
        NodeEvent::RequestCs {
            req_ts, req_node, ..
        } => Ev::RequestCs {
            ts: *req_ts,
            node: *req_node,
        },
        NodeEvent::EnterCs {
            entry,
            req_ts,
            votes,
            wait_ms,
            ..
        } => Ev::EnterCs {
            entry: entry.ok_or_else(|| needs("entry", "a non-negative integer"))?,
            ts: *req_ts,
            votes: votes.clone().ok_or_else(|| needs("votes", "a list"))?,
            wait_ms: wait_ms.ok_or_else(|| needs("wait_ms", "a number"))?,
        },
        NodeEvent::Send(m) | NodeEvent::Recv(m) => Ev::Msg {
            dir: if matches!(l.event, NodeEvent::Send(_)) {
                Dir::Send
            } else {
                Dir::Recv
            },
            msg: m.msg,
            from: m.from,
            to: m.to,
            lamport: m.lamport,
            req: m.req(),
            holds_grant: m.holds_grant,
        },
        NodeEvent::Revote { what, why, .. } => Ev::Revote {
            what: *what,
            req: l
                .event
                .req()
                .ok_or_else(|| needs("req_ts", "a non-negative integer"))?,
            why: why.clone(),
        },
        NodeEvent::InquiryDeferred {
            voter,
            req_ts,
            req_node,
            ..
        } => Ev::InquiryDeferred {
            voter: *voter,
            ts: *req_ts,
            node: *req_node,
        },
        NodeEvent::Ignored {
            msg,
            from,
            req_ts,
            req_node,
            why,
            ..
        } => Ev::Ignored {
            msg: *msg,
            from: *from,
            ts: *req_ts,
            node: *req_node,
            why: why.clone(),
        },
        _ => return Ok(None),
    }))
}

fn malformed(path: &Path, line: usize, problem: &LineError) -> ReportError {
    ReportError::Malformed {
        path: path.to_path_buf(),
        line,
        problem: problem.describe("line"),
    }
}

#[cfg(test)]
mod tests {
    use crate::logs::report::{summary_report, Format};

    #[test]
    fn a_bad_line_is_named_and_a_line_being_written_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-0.log");
        let good = r#"{"timestamp":"2026-11-24T07:00:00.000001Z","level":"INFO","node":0,"event":"start","incarnation":1}"#;
        std::fs::write(&path, format!("{good}\n{{\"event\":\"send\"")).unwrap();
        summary_report(dir.path(), Format::Text).unwrap();
        std::fs::write(
            &path,
            format!("{good}\n{{\"timestamp\":\"2026-11-24T07:00:00.000002Z\",\"level\":\"INFO\",\"node\":0,\"event\":\"send\",\"msg\":\"Grant\",\"from\":0,\"to\":1}}\n"),
        )
        .unwrap();
        let err = summary_report(dir.path(), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: send line: field lamport is missing or not a non-negative integer; \
                 node logs must hold only lines written by `maekawa node`",
                path.display()
            )
        );
        let empty = tempfile::tempdir().unwrap();
        let err = summary_report(empty.path(), Format::Text).unwrap_err();
        assert!(err.to_string().ends_with(": no node-<id>.log files here; pass --log-dir with the directory the nodes wrote to"), "{err}");
    }
}
