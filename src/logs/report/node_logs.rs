//! Reads a run's node logs into the few events a report uses: lists the `node-<id>.log` files of
//! the log directory and turns each line (through the shared reader,
//! [`crate::logs::reader::cs_objects`], which leaves out the lines of named locks other than the
//! emulated CS) into a typed [`Line`].
//!
//! It only reads: it never writes, truncates or locks a log. It does not decide what a line
//! means for an entry or a run (that is `story` and `summary`), and every other line of the
//! logs is skipped here.

use super::ReportError;
use crate::logs::reader;
use maekawa_core::id::{NodeId, RequestId};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Messages that make a request wait or give a vote back: the story and the Mermaid diagram
/// set them apart from the plain request-grant-release path.
pub(super) fn is_detour(msg: &str) -> bool {
    matches!(msg, "Failed" | "Inquire" | "Yield")
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
        msg: String,
        from: NodeId,
        to: NodeId,
        lamport: u64,
        req: RequestId,
        holds_grant: Option<bool>,
    },
    /// `revote`: the voter changed its vote or queue (`what`) to match what a restarted peer
    /// really has.
    Revote {
        what: String,
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
        msg: String,
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
    /// last line of any kind: where a killed process stopped writing, which the story shows.
    pub(super) last_line: BTreeMap<Option<u64>, (String, String)>,
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
    // The last line may still be being written by a running node: `cs_objects` leaves it, and
    // the lines of other locks than the emulated CS.
    for (line, obj) in reader::cs_objects(text) {
        let obj = obj.map_err(|problem| malformed(path, line, problem))?;
        let f = Fields {
            path,
            line,
            obj: &obj,
        };
        let Some(event) = obj.get("event").and_then(Value::as_str) else {
            continue;
        };
        let time = obj
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if event == "start" {
            inc = Some(f.u64("incarnation")?);
        }
        last_line.insert(inc, (time.clone(), event.to_string()));
        let ev = match event {
            "start" => Ev::Start {
                inc: f.u64("incarnation")?,
            },
            "stop" => Ev::Stop,
            "peer_down" => Ev::PeerDown {
                peer: f.node("peer")?,
                reason: f.str("reason").unwrap_or("").to_string(),
            },
            "peer_incarnation" => Ev::PeerIncarnation {
                peer: f.node("peer")?,
                inc: f.u64("incarnation")?,
            },
            "exit_cs" => Ev::ExitCs {
                entry: f.u64("entry")?,
            },
            "request_cs" => Ev::RequestCs {
                ts: f.u64("req_ts")?,
                node: f.node("req_node")?,
            },
            "enter_cs" => Ev::EnterCs {
                entry: f.u64("entry")?,
                ts: f.u64("req_ts")?,
                votes: f.nodes("votes")?,
                wait_ms: f.f64("wait_ms")?,
            },
            "send" | "recv" => Ev::Msg {
                dir: if event == "send" {
                    Dir::Send
                } else {
                    Dir::Recv
                },
                msg: f.str("msg")?.to_string(),
                from: f.node("from")?,
                to: f.node("to")?,
                lamport: f.u64("lamport")?,
                req: f.req()?,
                holds_grant: obj.get("holds_grant").and_then(Value::as_bool),
            },
            "revote" => Ev::Revote {
                what: f.str("what")?.to_string(),
                req: f.req()?,
                why: f.str("why").unwrap_or("").to_string(),
            },
            "inquiry_deferred" => Ev::InquiryDeferred {
                voter: f.node("voter")?,
                ts: f.u64("req_ts")?,
                node: f.node("req_node")?,
            },
            "ignored" => Ev::Ignored {
                msg: f.str("msg")?.to_string(),
                from: f.node("from")?,
                ts: f.u64("req_ts")?,
                node: f.node("req_node")?,
                why: f.str("why").unwrap_or("").to_string(),
            },
            _ => continue,
        };
        lines.push(Line {
            node,
            time,
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

fn malformed(path: &Path, line: usize, problem: String) -> ReportError {
    ReportError::Malformed {
        path: path.to_path_buf(),
        line,
        problem,
    }
}

/// Typed access to a line's fields, with errors that name the line.
struct Fields<'a> {
    path: &'a Path,
    line: usize,
    obj: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn bad(&self, key: &str, what: &str) -> ReportError {
        let event = self.obj.get("event").and_then(Value::as_str).unwrap_or("?");
        malformed(
            self.path,
            self.line,
            format!("{event} line: field {key} is missing or not {what}"),
        )
    }

    fn u64(&self, key: &str) -> Result<u64, ReportError> {
        self.obj
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.bad(key, "a non-negative integer"))
    }

    fn f64(&self, key: &str) -> Result<f64, ReportError> {
        self.obj
            .get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| self.bad(key, "a number"))
    }

    fn str(&self, key: &str) -> Result<&str, ReportError> {
        self.obj
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad(key, "a string"))
    }

    fn node(&self, key: &str) -> Result<NodeId, ReportError> {
        self.obj
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .map(NodeId)
            .ok_or_else(|| self.bad(key, "a node id"))
    }

    fn nodes(&self, key: &str) -> Result<Vec<NodeId>, ReportError> {
        let bad = || self.bad(key, "an array of node ids");
        let array = self
            .obj
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        array
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(NodeId)
                    .ok_or_else(bad)
            })
            .collect()
    }

    fn req(&self) -> Result<RequestId, ReportError> {
        Ok(RequestId {
            ts: self.u64("req_ts")?,
            node: self.node("req_node")?,
            inc: self.u64("req_inc")?,
        })
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
            format!("{good}\n{{\"event\":\"send\",\"msg\":\"Grant\",\"from\":0,\"to\":1}}\n"),
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
