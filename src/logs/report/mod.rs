//! `maekawa report`: tells the story of a run from its node logs, for people who must show how
//! mutual exclusion happened (a report appendix, a demo), as text, Markdown or Mermaid.
//!
//! Two reports:
//!
//! * **One entry** ([`entry_report`]): every message about the request that let node N into its
//!   K-th CS entry, as both the sender's `send` line and the receiver's `recv` line, from every
//!   `node-<id>.log`, ending at the `enter_cs` line; with the votes, the FAILED / INQUIRE /
//!   YIELD detours, re-votes and the wait.
//! * **The whole run** ([`summary_report`]): entries, waits and messages per node and overall,
//!   re-votes and restarts.
//!
//! **What "led to the entry" means.** A line belongs to the story when it is about the request
//! (same `req_ts`, `req_node`, `req_inc`) and it *happened before* the `enter_cs` line: it
//! precedes it in the requester's own log, or it precedes (in its own node's log) the `send` of
//! a message whose `recv` is already in the story. Clocks of different hosts are never compared,
//! so a RELEASE, or an INQUIRE still in flight when the node entered, is left out even when its
//! timestamp is earlier.
//!
//! **Order.** The lines are merged into one causal order: each node's lines keep their log order
//! and a `recv` comes after its `send`; among the lines that may come next, the smallest Lamport
//! clock goes first (the `lamport` field, which a `send` and its `recv` share), then the smallest
//! node id, then a `send` before a `recv`. When the Lamport order is itself causal (the usual
//! case) this *is* the Lamport order; when a node handled an old message after sending a newer
//! one, its own log order wins, because a reader must never see a node react to something it
//! has not received yet.
//!
//! This module only reads the log directory: it never writes, truncates or locks a file there,
//! never talks to a running node, and does not judge the run (that is `maekawa check`).

use maekawa_core::id::{NodeId, RequestId};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// How a report is printed; the same facts in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    #[default]
    Text,
    /// A Markdown table, ready to paste into a report (GitHub renders it).
    Markdown,
    /// A Mermaid `sequenceDiagram` of one entry (GitHub renders it in a ```` ```mermaid ````
    /// block). The summary has no picture: asking for one is a [`ReportError::MermaidSummary`].
    Mermaid,
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
    #[error("--format mermaid draws the messages of one entry: add --node N --entry K, or use --format text or markdown for the summary")]
    MermaidSummary,
}

/// The story of one CS entry, printed in `format`. Reads every `node-<id>.log` in `log_dir`.
pub fn entry_report(
    log_dir: &Path,
    sel: &EntrySelector,
    format: Format,
) -> Result<String, ReportError> {
    let paths = node_log_paths(log_dir)?;
    if !paths.contains_key(&NodeId(sel.node)) {
        return Err(ReportError::NoNodeLog {
            node: sel.node,
            dir: log_dir.to_path_buf(),
            found: join(paths.keys()),
        });
    }
    let logs = paths
        .iter()
        .map(|(&node, path)| read_node_log(node, path))
        .collect::<Result<Vec<_>, _>>()?;
    let story = Story::build(&logs, sel)?;
    Ok(match format {
        Format::Text => story.text(),
        Format::Markdown => story.markdown(),
        Format::Mermaid => story.mermaid(),
    })
}

/// Per node and overall: entries, waits, messages sent by type, messages per entry, re-votes
/// and restarts. `Format::Mermaid` is refused with [`ReportError::MermaidSummary`] (a run has
/// no single sequence to draw; a chart of counts would add nothing the table lacks).
pub fn summary_report(log_dir: &Path, format: Format) -> Result<String, ReportError> {
    if format == Format::Mermaid {
        return Err(ReportError::MermaidSummary);
    }
    let paths = node_log_paths(log_dir)?;
    let logs = paths
        .iter()
        .map(|(&node, path)| read_node_log(node, path))
        .collect::<Result<Vec<_>, _>>()?;
    let summary = Summary::build(&logs);
    Ok(match format {
        Format::Markdown => summary.markdown(log_dir),
        _ => summary.text(log_dir),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading the logs.

/// The message types in the order a reader expects them; others seen in a log follow.
const MSG_ORDER: [&str; 7] = [
    "Request", "Grant", "Failed", "Inquire", "Yield", "Release", "Sync",
];

/// Messages that make a request wait or give a vote back.
fn is_detour(msg: &str) -> bool {
    matches!(msg, "Failed" | "Inquire" | "Yield")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Send,
    Recv,
}

/// The events a report uses; every other line is skipped.
#[derive(Debug, Clone)]
enum Ev {
    Start {
        inc: u64,
    },
    RequestCs {
        ts: u64,
        node: NodeId,
    },
    EnterCs {
        entry: u64,
        ts: u64,
        votes: Vec<NodeId>,
        wait_ms: f64,
    },
    Msg {
        dir: Dir,
        msg: String,
        from: NodeId,
        to: NodeId,
        lamport: u64,
        req: RequestId,
        holds_grant: Option<bool>,
    },
    Revote {
        what: String,
        req: RequestId,
        why: String,
    },
    InquiryDeferred {
        voter: NodeId,
        ts: u64,
        node: NodeId,
    },
    Ignored {
        msg: String,
        from: NodeId,
        ts: u64,
        node: NodeId,
        why: String,
    },
}

/// One line of `node-<node>.log`.
#[derive(Debug, Clone)]
struct Line {
    /// The node whose log holds the line.
    node: NodeId,
    /// `timestamp` as written (RFC 3339, microseconds).
    time: String,
    /// The incarnation of the process that wrote it (`None` before the first `start`).
    inc: Option<u64>,
    ev: Ev,
}

#[derive(Debug)]
struct NodeLog {
    node: NodeId,
    path: PathBuf,
    lines: Vec<Line>,
}

/// `node-<id>.log` files of `dir`, by node id.
fn node_log_paths(dir: &Path) -> Result<BTreeMap<NodeId, PathBuf>, ReportError> {
    let read_dir = |source| ReportError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir)? {
        let entry = entry.map_err(read_dir)?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("node-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        paths.insert(NodeId(id), entry.path());
    }
    if paths.is_empty() {
        return Err(ReportError::NoLogs {
            dir: dir.to_path_buf(),
        });
    }
    Ok(paths)
}

fn read_node_log(node: NodeId, path: &Path) -> Result<NodeLog, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    parse_node_log(node, path, &text)
}

fn parse_node_log(node: NodeId, path: &Path, text: &str) -> Result<NodeLog, ReportError> {
    let mut lines = Vec::new();
    let mut inc = None;
    // The last line may still be being written by a running node: `json_objects` leaves it.
    for (line, obj) in crate::logs::reader::json_objects(text) {
        let obj = obj.map_err(|problem| malformed(path, line, problem))?;
        let f = Fields {
            path,
            line,
            obj: &obj,
        };
        let Some(event) = obj.get("event").and_then(Value::as_str) else {
            continue;
        };
        let ev = match event {
            "start" => {
                let i = f.u64("incarnation")?;
                inc = Some(i);
                Ev::Start { inc: i }
            }
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
        let time = obj
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
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

// ---------------------------------------------------------------------------------------------
// One entry.

/// One line of the story, with what it means.
struct Step<'a> {
    line: &'a Line,
    /// A `recv` whose `send` is not in the logs (the sender's log is missing or lost its tail).
    unmatched: bool,
    note: String,
    detour: bool,
}

struct Story<'a> {
    node: NodeId,
    entry: u64,
    inc: Option<u64>,
    req: RequestId,
    votes: Vec<NodeId>,
    wait_ms: f64,
    steps: Vec<Step<'a>>,
}

/// Identifies a message on both sides: its type, sender, receiver and the sender's clock.
type MsgKey<'a> = (&'a str, NodeId, NodeId, u64);

impl<'a> Story<'a> {
    fn build(logs: &'a [NodeLog], sel: &EntrySelector) -> Result<Story<'a>, ReportError> {
        let me = NodeId(sel.node);
        let log = logs
            .iter()
            .find(|l| l.node == me)
            .expect("the caller checked that the node has a log");
        let (enter_at, enter) = find_entry(log, sel)?;
        let Ev::EnterCs {
            entry,
            ts,
            votes,
            wait_ms,
            ..
        } = &enter.ev
        else {
            unreachable!("find_entry returns an enter_cs line")
        };
        let inc = enter.inc;
        let req = RequestId {
            ts: *ts,
            node: me,
            inc: inc.unwrap_or(0),
        };
        // Without a `start` line the process is unknown: accept any incarnation.
        let same_req =
            |r: &RequestId| r.ts == req.ts && r.node == req.node && inc.is_none_or(|i| r.inc == i);

        // The lines about the request, per node, in log order; the requester's end at the entry.
        let mut lists: BTreeMap<NodeId, Vec<&Line>> = BTreeMap::new();
        for l in logs {
            let list: Vec<&Line> = if l.node == me {
                l.lines[..=enter_at]
                    .iter()
                    .filter(|x| x.inc == inc)
                    .filter(|x| match &x.ev {
                        Ev::RequestCs { ts, node } | Ev::InquiryDeferred { ts, node, .. } => {
                            *ts == req.ts && *node == me
                        }
                        Ev::Ignored { ts, node, .. } => *ts == req.ts && *node == me,
                        Ev::Msg { req: r, .. } | Ev::Revote { req: r, .. } => same_req(r),
                        Ev::EnterCs { .. } => std::ptr::eq(*x, enter),
                        Ev::Start { .. } => false,
                    })
                    .collect()
            } else {
                // `ignored` lines name no incarnation, so at another node they could be about an
                // older request with the same (ts, node): they are left out.
                l.lines
                    .iter()
                    .filter(|x| match &x.ev {
                        Ev::Msg { req: r, .. } | Ev::Revote { req: r, .. } => same_req(r),
                        _ => false,
                    })
                    .collect()
            };
            if !list.is_empty() {
                lists.insert(l.node, list);
            }
        }

        // Pair every recv with its send: the k-th recv of a message key with its k-th send.
        let mut sends: HashMap<MsgKey<'a>, VecDeque<(NodeId, usize)>> = HashMap::new();
        for (&node, list) in &lists {
            for (pos, x) in list.iter().enumerate() {
                if let Some((Dir::Send, key)) = msg_key(x) {
                    sends.entry(key).or_default().push_back((node, pos));
                }
            }
        }
        let mut send_of: HashMap<(NodeId, usize), (NodeId, usize)> = HashMap::new();
        for (&node, list) in &lists {
            for (pos, x) in list.iter().enumerate() {
                if let Some((Dir::Recv, key)) = msg_key(x) {
                    if let Some(send) = sends.get_mut(&key).and_then(VecDeque::pop_front) {
                        send_of.insert((node, pos), send);
                    }
                }
            }
        }

        // Keep what happened before the entry: per node a prefix of its list (see the module doc).
        let mut cut: BTreeMap<NodeId, usize> = lists.keys().map(|&n| (n, 0)).collect();
        cut.insert(me, lists.get(&me).map_or(0, Vec::len));
        let mut scanned: BTreeMap<NodeId, usize> = cut.keys().map(|&n| (n, 0)).collect();
        loop {
            let mut grown = false;
            for (&node, &end) in cut.clone().iter() {
                let from = scanned[&node];
                for pos in from..end {
                    if let Some(&(sender, at)) = send_of.get(&(node, pos)) {
                        let c = cut.get_mut(&sender).expect("every list has a cut");
                        if *c <= at {
                            *c = at + 1;
                            grown = true;
                        }
                    }
                }
                scanned.insert(node, end.max(from));
            }
            if !grown {
                break;
            }
        }

        // Merge in causal order, the smallest (lamport, node, send first) among lines that may
        // come next.
        let eff: BTreeMap<NodeId, Vec<u64>> = lists
            .iter()
            .map(|(&n, list)| {
                let mut prev = 0;
                let clocks = list
                    .iter()
                    .map(|x| {
                        prev = match &x.ev {
                            Ev::Msg { lamport, .. } => *lamport,
                            Ev::RequestCs { ts, .. } => *ts,
                            _ => prev,
                        };
                        prev
                    })
                    .collect();
                (n, clocks)
            })
            .collect();
        let mut head: BTreeMap<NodeId, usize> = cut.keys().map(|&n| (n, 0)).collect();
        let mut done: BTreeSet<(NodeId, usize)> = BTreeSet::new();
        let mut order: Vec<(NodeId, usize)> = Vec::new();
        loop {
            // A line whose send is not out yet waits (`false` sorts first); all waiting would
            // mean a cycle, which real logs cannot have: then the smallest goes anyway.
            let next = head
                .iter()
                .filter(|&(node, &pos)| pos < cut[node])
                .map(|(&node, &pos)| {
                    let ready = send_of.get(&(node, pos)).is_none_or(|s| done.contains(s));
                    let rank = match msg_key(lists[&node][pos]) {
                        Some((Dir::Send, _)) => 0,
                        _ => 1,
                    };
                    ((!ready, eff[&node][pos], node, rank), (node, pos))
                })
                .min();
            let Some((_, at)) = next else { break };
            done.insert(at);
            order.push(at);
            *head.get_mut(&at.0).expect("a head per node") += 1;
        }

        let mut story = Story {
            node: me,
            entry: *entry,
            inc,
            req,
            votes: votes.clone(),
            wait_ms: *wait_ms,
            steps: Vec::new(),
        };
        let mut held: BTreeSet<NodeId> = BTreeSet::new();
        for (node, pos) in order {
            let line = lists[&node][pos];
            let unmatched = matches!(msg_key(line), Some((Dir::Recv, _)))
                && !send_of.contains_key(&(node, pos));
            let (note, detour) = story.note(line, unmatched, &mut held);
            story.steps.push(Step {
                line,
                unmatched,
                note,
                detour,
            });
        }
        Ok(story)
    }

    /// What a line means for this request, and whether it is a detour.
    fn note(&self, line: &Line, unmatched: bool, held: &mut BTreeSet<NodeId>) -> (String, bool) {
        let me = self.node;
        let name = |n: NodeId| {
            if n == me {
                format!("node {n}")
            } else {
                format!("voter {n}")
            }
        };
        let (mut note, detour) = match &line.ev {
            Ev::RequestCs { .. } => (
                format!("node {me} wants the CS: request {}", self.req),
                false,
            ),
            Ev::EnterCs { .. } => (
                format!(
                    "node {me} enters the CS (entry {}): votes {}, waited {} ms",
                    self.entry,
                    join(&self.votes),
                    self.wait_ms
                ),
                false,
            ),
            Ev::Msg {
                dir,
                msg,
                from,
                to,
                holds_grant,
                ..
            } => {
                let (from, to, send) = (*from, *to, *dir == Dir::Send);
                let note = match (msg.as_str(), send) {
                    ("Request", true) if to == me => format!("node {me} asks its own voter"),
                    ("Request", true) => format!("node {me} asks voter {to} for its vote"),
                    ("Request", false) => format!("voter {to} has the request"),
                    ("Grant", true) => format!("voter {from} votes for node {me}"),
                    ("Grant", false) => {
                        held.insert(from);
                        format!(
                            "vote of voter {from}: {} of {} held",
                            held.len(),
                            self.votes.len()
                        )
                    }
                    ("Failed", true) => format!(
                        "detour: voter {from} has or awaits a higher-priority request, node {me} must wait"
                    ),
                    ("Failed", false) => format!("detour: node {me} learns voter {from} said no for now"),
                    ("Inquire", true) => format!(
                        "detour: voter {from} inquires node {me} (a higher-priority request arrived): give the vote back?"
                    ),
                    ("Inquire", false) => format!("detour: voter {from} inquired node {me}"),
                    ("Yield", true) => {
                        held.remove(&to);
                        format!("detour: node {me} yields voter {to}'s vote ({} of {} held)", held.len(), self.votes.len())
                    }
                    ("Yield", false) => format!("detour: voter {to} has its vote back from node {me}"),
                    ("Sync", true) => format!(
                        "re-vote: {} tells {} its request after a new link (holds its grant: {})",
                        name(from),
                        name(to),
                        yes_no(*holds_grant)
                    ),
                    ("Sync", false) => format!("re-vote: {} hears {}'s request", name(to), name(from)),
                    ("Release", _) => format!("node {me} gives back voter {to}'s vote"),
                    _ => String::new(),
                };
                (note, is_detour(msg))
            }
            Ev::Revote { what, why, .. } => (
                format!("re-vote at {}: {what} ({why})", name(line.node)),
                false,
            ),
            Ev::InquiryDeferred { voter, .. } => (
                format!("detour: node {me} holds back voter {voter}'s inquire (it may still win)"),
                true,
            ),
            Ev::Ignored { msg, from, why, .. } => (
                format!("stale {msg} from node {from} ignored: {why}"),
                false,
            ),
            Ev::Start { .. } => (String::new(), false),
        };
        if unmatched {
            if let Ev::Msg { from, .. } = &line.ev {
                let _ = write!(note, " (its send is not in node-{from}.log)");
            }
        }
        (note, detour)
    }

    /// Messages: a send, or a recv whose send is missing.
    fn messages(&self) -> impl Iterator<Item = (&str, NodeId, NodeId)> {
        self.steps.iter().filter_map(|s| match &s.line.ev {
            Ev::Msg {
                dir, msg, from, to, ..
            } if *dir == Dir::Send || s.unmatched => Some((msg.as_str(), *from, *to)),
            _ => None,
        })
    }

    fn headline(&self) -> String {
        let total = self.messages().count();
        let network = self.messages().filter(|(_, f, t)| f != t).count();
        let detours: Vec<String> = self
            .messages()
            .filter(|(m, _, _)| is_detour(m))
            .map(|(m, f, t)| format!("{m} {f} → {t}"))
            .chain(self.steps.iter().filter_map(|s| match &s.line.ev {
                Ev::InquiryDeferred { voter, .. } => {
                    Some(format!("inquire of voter {voter} held back"))
                }
                _ => None,
            }))
            .collect();
        let inc = self.inc.map_or_else(
            || "no start line".to_string(),
            |i| format!("incarnation {i}"),
        );
        format!(
            "node {}, entry {} ({inc}): request {}, votes {}, waited {} ms; {total} messages ({network} network, {} to itself); detours: {}",
            self.node,
            self.entry,
            self.req,
            join(&self.votes),
            self.wait_ms,
            total - network,
            if detours.is_empty() {
                "none".to_string()
            } else {
                detours.join(", ")
            }
        )
    }

    /// The cells of each step: #, time, node, event, msg, from → to, lamport, note.
    fn rows(&self) -> Vec<[String; 8]> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (event, msg, route, lamport) = match &s.line.ev {
                    Ev::Msg {
                        dir,
                        msg,
                        from,
                        to,
                        lamport,
                        ..
                    } => (
                        if *dir == Dir::Send { "send" } else { "recv" },
                        msg.clone(),
                        format!("{from} → {to}"),
                        lamport.to_string(),
                    ),
                    Ev::RequestCs { .. } => {
                        ("request_cs", String::new(), String::new(), String::new())
                    }
                    Ev::EnterCs { .. } => ("enter_cs", String::new(), String::new(), String::new()),
                    Ev::Revote { what, .. } => {
                        ("revote", what.clone(), String::new(), String::new())
                    }
                    Ev::InquiryDeferred { voter, .. } => (
                        "inquiry_deferred",
                        String::new(),
                        format!("{voter} → {}", s.line.node),
                        String::new(),
                    ),
                    Ev::Ignored { msg, from, .. } => (
                        "ignored",
                        msg.clone(),
                        format!("{from} → {}", s.line.node),
                        String::new(),
                    ),
                    Ev::Start { .. } => ("start", String::new(), String::new(), String::new()),
                };
                [
                    (i + 1).to_string(),
                    short_time(&s.line.time).to_string(),
                    s.line.node.to_string(),
                    event.to_string(),
                    msg,
                    route,
                    lamport,
                    s.note.clone(),
                ]
            })
            .collect()
    }

    fn text(&self) -> String {
        let header = [
            "#",
            "time",
            "node",
            "event",
            "msg",
            "from → to",
            "lamport",
            "note",
        ]
        .map(String::from);
        let mut out = self.headline();
        out.push('\n');
        out.push_str(&columns(&header, &self.rows(), &[0, 2, 6]));
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("**{}**\n\n", md_escape(&self.headline()));
        out.push_str("| # | time | node | event | msg | from → to | lamport | note |\n");
        out.push_str("|--:|---|--:|---|---|---|--:|---|\n");
        for (row, step) in self.rows().iter().zip(&self.steps) {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let c = md_escape(c);
                    // Detours stand out in the msg and note cells.
                    if step.detour && (i == 4 || i == 7) && !c.is_empty() {
                        format!("**{c}**")
                    } else {
                        c
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    fn mermaid(&self) -> String {
        let mut nodes: BTreeSet<NodeId> = BTreeSet::from([self.node]);
        for s in &self.steps {
            nodes.insert(s.line.node);
            if let Ev::Msg { from, to, .. } = &s.line.ev {
                nodes.insert(*from);
                nodes.insert(*to);
            }
        }
        let mut out = String::from("sequenceDiagram\n");
        for n in &nodes {
            let _ = writeln!(out, "    participant N{n}");
        }
        let req = format!("({},{})", self.req.ts, self.req.node);
        for s in &self.steps {
            let at = s.line.node;
            match &s.line.ev {
                Ev::Msg {
                    dir,
                    msg,
                    from,
                    to,
                    lamport,
                    ..
                } => {
                    if *dir == Dir::Send {
                        let arrow = if is_detour(msg) { "-->>" } else { "->>" };
                        let _ = writeln!(out, "    N{from}{arrow}N{to}: {msg} {req} L{lamport}");
                    } else if s.unmatched {
                        let _ = writeln!(
                            out,
                            "    Note over N{to}: received {msg} {req} L{lamport} from N{from}, whose send is not in its log"
                        );
                    }
                }
                Ev::RequestCs { .. } => {
                    let _ = writeln!(out, "    Note over N{at}: wants the CS, request {req}");
                }
                Ev::EnterCs { .. } => {
                    let _ = writeln!(
                        out,
                        "    Note over N{at}: enters the CS, entry {}, votes {}, waited {} ms",
                        self.entry,
                        join(&self.votes),
                        self.wait_ms
                    );
                }
                Ev::Revote { what, .. } => {
                    let _ = writeln!(out, "    Note over N{at}: re-vote, {what}");
                }
                Ev::InquiryDeferred { voter, .. } => {
                    let _ = writeln!(
                        out,
                        "    Note over N{at}: holds back the inquire of N{voter}"
                    );
                }
                Ev::Ignored { msg, from, .. } => {
                    let _ = writeln!(
                        out,
                        "    Note over N{at}: ignores a stale {msg} from N{from}"
                    );
                }
                Ev::Start { .. } => {}
            }
        }
        out
    }
}

/// The `enter_cs` line `sel` names (its index in the log and the line), or why there is none.
fn find_entry<'a>(log: &'a NodeLog, sel: &EntrySelector) -> Result<(usize, &'a Line), ReportError> {
    let node = sel.node;
    if let Some(want) = sel.incarnation {
        let starts: Vec<u64> = log
            .lines
            .iter()
            .filter_map(|l| match l.ev {
                Ev::Start { inc } => Some(inc),
                _ => None,
            })
            .collect();
        if !starts.contains(&want) {
            return Err(ReportError::NoIncarnation {
                node,
                incarnation: want,
                path: log.path.clone(),
                have: if starts.is_empty() {
                    "none (no start line)".to_string()
                } else {
                    join(&starts)
                },
            });
        }
    }
    let in_scope = |l: &Line| sel.incarnation.is_none_or(|i| l.inc == Some(i));
    let found = log.lines.iter().enumerate().rev().find(|(_, l)| {
        in_scope(l) && matches!(l.ev, Ev::EnterCs { entry, .. } if entry == sel.entry)
    });
    if let Some(found) = found {
        return Ok(found);
    }
    // Entries per incarnation, in log order.
    let mut have: Vec<(Option<u64>, Vec<u64>)> = Vec::new();
    for l in log.lines.iter().filter(|l| in_scope(l)) {
        if let Ev::EnterCs { entry, .. } = l.ev {
            match have.last_mut() {
                Some((inc, entries)) if *inc == l.inc => entries.push(entry),
                _ => have.push((l.inc, vec![entry])),
            }
        }
    }
    let have = match have.as_slice() {
        [] => "no entries".to_string(),
        [(_, entries)] => format!("entries {}", ranges(entries)),
        several => format!(
            "entries {}",
            several
                .iter()
                .map(|(inc, e)| match inc {
                    Some(i) => format!("{} in incarnation {i}", ranges(e)),
                    None => format!("{} before any start line", ranges(e)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(ReportError::NoEntry {
        who: match sel.incarnation {
            Some(i) => format!("node {node} incarnation {i}"),
            None => format!("node {node}"),
        },
        entry: sel.entry,
        path: log.path.clone(),
        have,
    })
}

fn msg_key(line: &Line) -> Option<(Dir, MsgKey<'_>)> {
    match &line.ev {
        Ev::Msg {
            dir,
            msg,
            from,
            to,
            lamport,
            ..
        } => Some((*dir, (msg.as_str(), *from, *to, *lamport))),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The whole run.

#[derive(Debug, Default)]
struct NodeStats {
    entries: u64,
    wait_sum: f64,
    wait_max: f64,
    /// Network messages this node sent, by type.
    sent: BTreeMap<String, u64>,
    /// Messages this node sent to itself.
    to_itself: u64,
    /// Network messages about this node's requests, whoever sent them.
    about_own: u64,
    starts: u64,
    revotes: BTreeMap<String, u64>,
}

struct Summary {
    nodes: BTreeMap<NodeId, NodeStats>,
    /// Message types seen, in [`MSG_ORDER`] then by name.
    types: Vec<String>,
}

impl Summary {
    fn build(logs: &[NodeLog]) -> Summary {
        let mut nodes: BTreeMap<NodeId, NodeStats> = logs
            .iter()
            .map(|l| (l.node, NodeStats::default()))
            .collect();
        let mut about: BTreeMap<NodeId, u64> = BTreeMap::new();
        for log in logs {
            let s = nodes.get_mut(&log.node).expect("one entry per log");
            for line in &log.lines {
                match &line.ev {
                    Ev::Start { .. } => s.starts += 1,
                    Ev::EnterCs { wait_ms, .. } => {
                        s.entries += 1;
                        s.wait_sum += wait_ms;
                        s.wait_max = s.wait_max.max(*wait_ms);
                    }
                    Ev::Msg {
                        dir: Dir::Send,
                        msg,
                        from,
                        to,
                        req,
                        ..
                    } => {
                        if from == to {
                            s.to_itself += 1;
                        } else {
                            *s.sent.entry(msg.clone()).or_default() += 1;
                            *about.entry(req.node).or_default() += 1;
                        }
                    }
                    Ev::Revote { what, .. } => *s.revotes.entry(what.clone()).or_default() += 1,
                    _ => {}
                }
            }
        }
        for (node, n) in about {
            if let Some(s) = nodes.get_mut(&node) {
                s.about_own = n;
            }
        }
        let seen: BTreeSet<&String> = nodes.values().flat_map(|s| s.sent.keys()).collect();
        let mut types: Vec<String> = MSG_ORDER.iter().map(|t| t.to_string()).collect();
        types.extend(
            seen.into_iter()
                .filter(|t| !MSG_ORDER.contains(&t.as_str()))
                .cloned(),
        );
        Summary { nodes, types }
    }

    fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = ["node", "entries", "mean wait ms", "max wait ms"]
            .map(String::from)
            .to_vec();
        h.extend(self.types.iter().cloned());
        h.extend(["to itself", "msgs/entry", "restarts", "re-votes"].map(String::from));
        h
    }

    fn row(&self, name: String, stats: &[&NodeStats]) -> Vec<String> {
        let entries: u64 = stats.iter().map(|s| s.entries).sum();
        let wait_sum: f64 = stats.iter().map(|s| s.wait_sum).sum();
        let wait_max = stats.iter().map(|s| s.wait_max).fold(0.0, f64::max);
        let about: u64 = stats.iter().map(|s| s.about_own).sum();
        let mut row = vec![name, entries.to_string()];
        if entries == 0 {
            row.extend(["-".to_string(), "-".to_string()]);
        } else {
            row.push(format!("{:.3}", wait_sum / entries as f64));
            row.push(format!("{wait_max:.3}"));
        }
        for t in &self.types {
            let n: u64 = stats
                .iter()
                .map(|s| s.sent.get(t).copied().unwrap_or(0))
                .sum();
            row.push(n.to_string());
        }
        row.push(stats.iter().map(|s| s.to_itself).sum::<u64>().to_string());
        row.push(if entries == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", about as f64 / entries as f64)
        });
        let restarts: u64 = stats.iter().map(|s| s.starts.saturating_sub(1)).sum();
        row.push(restarts.to_string());
        row.push(
            stats
                .iter()
                .flat_map(|s| s.revotes.values())
                .sum::<u64>()
                .to_string(),
        );
        row
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|(n, s)| self.row(n.to_string(), &[s]))
            .collect();
        let all: Vec<&NodeStats> = self.nodes.values().collect();
        rows.push(self.row("all".to_string(), &all));
        rows
    }

    fn headline(&self, dir: &Path) -> String {
        let entries: u64 = self.nodes.values().map(|s| s.entries).sum();
        let network: u64 = self.nodes.values().flat_map(|s| s.sent.values()).sum();
        let restarts: u64 = self
            .nodes
            .values()
            .map(|s| s.starts.saturating_sub(1))
            .sum();
        let per_entry = if entries == 0 {
            String::new()
        } else {
            format!(" ({:.2} per entry)", network as f64 / entries as f64)
        };
        format!(
            "run in {}: {} nodes, {entries} CS entries, {network} network messages{per_entry}, {restarts} restarts, re-votes: {}",
            dir.display(),
            self.nodes.len(),
            self.revotes()
        )
    }

    fn revotes(&self) -> String {
        let mut by_what: BTreeMap<&str, u64> = BTreeMap::new();
        for s in self.nodes.values() {
            for (what, n) in &s.revotes {
                *by_what.entry(what.as_str()).or_default() += n;
            }
        }
        if by_what.is_empty() {
            "none".to_string()
        } else {
            by_what
                .iter()
                .map(|(w, n)| format!("{w} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    const LEGEND: &'static str = "Request..Sync: network messages the node sent (to another node), by type; to itself: messages a node sent to itself (no network); msgs/entry: network messages about the node's own requests, whoever sent them, per entry (3(|Q|-1) without contention); restarts: start lines minus one; re-votes: revote lines the node wrote";

    fn text(&self, dir: &Path) -> String {
        let header = self.header();
        let rows = self.rows();
        let numeric: Vec<usize> = (1..header.len()).collect();
        format!(
            "{}\n{}{}\n",
            self.headline(dir),
            columns(&header, &rows, &numeric),
            Self::LEGEND
        )
    }

    fn markdown(&self, dir: &Path) -> String {
        let header = self.header();
        let mut out = format!("**{}**\n\n", md_escape(&self.headline(dir)));
        let _ = writeln!(
            out,
            "| {} |",
            header
                .iter()
                .map(|h| md_escape(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let align: Vec<&str> = (0..header.len())
            .map(|i| if i == 0 { "---" } else { "--:" })
            .collect();
        let _ = writeln!(out, "|{}|", align.join("|"));
        for row in self.rows() {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter()
                    .map(|c| md_escape(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        let _ = writeln!(out, "\n{}", md_escape(Self::LEGEND));
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers.

/// Left-aligned columns (right-aligned for the `numeric` ones), two spaces apart, no trailing
/// blanks.
fn columns<R: AsRef<[String]>>(header: &[String], rows: &[R], numeric: &[usize]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.as_ref().iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(AsRef::as_ref)) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let w = width[i];
            if numeric.contains(&i) {
                let _ = write!(line, "{cell:>w$}");
            } else {
                let _ = write!(line, "{cell:<w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A Markdown table cell: `|` would end the cell and a newline the row.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `HH:MM:SS.ffffff` of an RFC 3339 timestamp (the date is the same for a whole run).
fn short_time(t: &str) -> &str {
    t.get(11..26).unwrap_or(t)
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1..=42`, or `1..=5, 7..=9` with gaps (lines lost by a kill), in the order given.
fn ranges(entries: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let start = entries[i];
        let mut end = start;
        while i + 1 < entries.len() && entries[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..={end}")
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `node-<id>.log`: each line is the JSON after the common `timestamp`, `level` and
    /// `node` keys, stamped with the given microsecond.
    fn write_log(dir: &Path, node: u32, lines: &[(u64, String)]) {
        let text: String = lines
            .iter()
            .map(|(us, rest)| {
                format!(
                    "{{\"timestamp\":\"2026-11-24T07:00:00.{us:06}Z\",\"level\":\"INFO\",\"node\":{node},{rest}}}\n"
                )
            })
            .collect();
        std::fs::write(dir.join(format!("node-{node}.log")), text).unwrap();
    }

    /// Lines stamped 0, 1, 2, ... microseconds.
    fn in_order(lines: Vec<String>) -> Vec<(u64, String)> {
        (0..).zip(lines).collect()
    }

    fn msg(
        event: &str,
        msg: &str,
        from: u32,
        to: u32,
        lamport: u64,
        req: (u64, u32, u64),
    ) -> String {
        format!(
            r#""event":"{event}","msg":"{msg}","from":{from},"to":{to},"lamport":{lamport},"req_ts":{},"req_node":{},"req_inc":{}"#,
            req.0, req.1, req.2
        )
    }

    fn start(inc: u64) -> String {
        format!(
            r#""event":"start","incarnation":{inc},"addr":"127.0.0.1:1","quorum":[0,1],"pid":1,"workload":"Auto","journaled_lock":"none""#
        )
    }

    fn request(ts: u64, node: u32) -> String {
        format!(r#""event":"request_cs","req_ts":{ts},"req_node":{node}"#)
    }

    fn enter(entry: u64, ts: u64, node: u32, votes: &str, wait: f64) -> String {
        format!(
            r#""event":"enter_cs","entry":{entry},"req_ts":{ts},"req_node":{node},"votes":{votes},"wait_ms":{wait}"#
        )
    }

    fn sel(node: u32, entry: u64, incarnation: Option<u64>) -> EntrySelector {
        EntrySelector {
            node,
            entry,
            incarnation,
        }
    }

    type Row = (String, String, String, String);

    /// (node, event, msg, from → to) of each Markdown table row.
    fn md_rows(md: &str) -> Vec<Row> {
        md.lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
            .map(|l| {
                let c: Vec<String> = l
                    .trim_matches('|')
                    .split(" | ")
                    .map(|c| c.trim().trim_matches('*').to_string())
                    .collect();
                (c[2].clone(), c[3].clone(), c[4].clone(), c[5].clone())
            })
            .collect()
    }

    fn row(node: u32, event: &str, msg: &str, route: &str) -> Row {
        (node.to_string(), event.into(), msg.into(), route.into())
    }

    /// Node 1 (votes {0, 1}) enters with request (5, 1). Node 0's clock runs behind: its recv of
    /// the Request is stamped before node 1's send. Node 1 handles voter 0's Grant (lamport 7)
    /// after its own (lamport 8). Voter 0's Inquire is sent (by timestamp) before the entry but
    /// received after it, and the Release follows the entry: both are left out.
    fn two_nodes(dir: &Path) {
        let r = (5, 1, 1);
        write_log(
            dir,
            0,
            &[
                (1, start(1)),
                (100, msg("recv", "Request", 1, 0, 6, r)),
                (101, msg("send", "Grant", 0, 1, 7, r)),
                (150, msg("send", "Inquire", 0, 1, 9, r)),
                (400, msg("recv", "Release", 1, 0, 12, r)),
            ],
        );
        write_log(
            dir,
            1,
            &[
                (2, start(1)),
                (200, request(5, 1)),
                (201, msg("send", "Request", 1, 0, 6, r)),
                (202, msg("send", "Request", 1, 1, 7, r)),
                (203, msg("recv", "Request", 1, 1, 7, r)),
                (204, msg("send", "Grant", 1, 1, 8, r)),
                (205, msg("recv", "Grant", 1, 1, 8, r)),
                (206, msg("recv", "Grant", 0, 1, 7, r)),
                (207, enter(1, 5, 1, "[0,1]", 0.007)),
                (300, msg("recv", "Inquire", 0, 1, 9, r)),
                (301, msg("send", "Release", 1, 0, 12, r)),
            ],
        );
    }

    #[test]
    fn a_send_comes_before_its_recv_and_each_node_keeps_its_own_order() {
        let dir = tempfile::tempdir().unwrap();
        two_nodes(dir.path());
        let md = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
        assert_eq!(
            md_rows(&md),
            [
                row(1, "request_cs", "", ""),
                row(1, "send", "Request", "1 → 0"),
                // Same lamport as the send, lower node id, earlier timestamp: still after it.
                row(0, "recv", "Request", "1 → 0"),
                row(0, "send", "Grant", "0 → 1"),
                row(1, "send", "Request", "1 → 1"),
                row(1, "recv", "Request", "1 → 1"),
                row(1, "send", "Grant", "1 → 1"),
                row(1, "recv", "Grant", "1 → 1"),
                // Lamport 7 < 8, but node 1 handled it last.
                row(1, "recv", "Grant", "0 → 1"),
                row(1, "enter_cs", "", ""),
            ],
            "{md}"
        );
        assert!(
            md.starts_with(
                "**node 1, entry 1 (incarnation 1): request (5, 1), votes 0, 1, waited 0.007 ms; \
                 4 messages (2 network, 2 to itself); detours: none**\n\n"
            ),
            "{md}"
        );

        let mermaid = entry_report(dir.path(), &sel(1, 1, None), Format::Mermaid).unwrap();
        assert_eq!(
            mermaid,
            "sequenceDiagram
    participant N0
    participant N1
    Note over N1: wants the CS, request (5,1)
    N1->>N0: Request (5,1) L6
    N0->>N1: Grant (5,1) L7
    N1->>N1: Request (5,1) L7
    N1->>N1: Grant (5,1) L8
    Note over N1: enters the CS, entry 1, votes 0, 1, waited 0.007 ms
"
        );

        let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 12, "{text}");
        assert_eq!(
            lines[1],
            " #  time             node  event       msg      from → to  lamport  note"
        );
        assert_eq!(
            lines[3],
            " 2  07:00:00.000201     1  send        Request  1 → 0            6  node 1 asks voter 0 for its vote"
        );
        assert!(
            lines[11].starts_with("10  07:00:00.000207     1  enter_cs"),
            "{text}"
        );
    }

    #[test]
    fn detours_are_named_and_votes_counted_back() {
        let dir = tempfile::tempdir().unwrap();
        let r = (3, 1, 1);
        write_log(
            dir.path(),
            0,
            &in_order(vec![
                start(1),
                msg("recv", "Request", 1, 0, 4, r),
                msg("send", "Grant", 0, 1, 5, r),
                msg("send", "Inquire", 0, 1, 8, r),
                msg("recv", "Yield", 1, 0, 10, r),
                msg("send", "Grant", 0, 1, 14, r),
            ]),
        );
        write_log(
            dir.path(),
            1,
            &in_order(vec![
                start(1),
                request(3, 1),
                msg("send", "Request", 1, 0, 4, r),
                msg("recv", "Grant", 0, 1, 5, r),
                // Its send is missing: as if node 1's log lost it.
                msg("recv", "Failed", 2, 1, 9, r),
                msg("recv", "Inquire", 0, 1, 8, r),
                msg("send", "Yield", 1, 0, 10, r),
                msg("recv", "Grant", 0, 1, 14, r),
                enter(1, 3, 1, "[0,1]", 2.5),
            ]),
        );
        let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
        let head = text.lines().next().unwrap();
        assert!(
            head.ends_with(
                "6 messages (6 network, 0 to itself); detours: Inquire 0 → 1, Failed 2 → 1, Yield 1 → 0"
            ),
            "{text}"
        );
        for expected in [
            "vote of voter 0: 1 of 2 held",
            "detour: voter 0 inquires node 1",
            "detour: node 1 yields voter 0's vote (0 of 2 held)",
            "detour: node 1 learns voter 2 said no for now (its send is not in node-2.log)",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        let md = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
        assert!(md.contains("| **Yield** | 1 → 0 |"), "{md}");
        let mermaid = entry_report(dir.path(), &sel(1, 1, None), Format::Mermaid).unwrap();
        for expected in [
            "    participant N2\n",
            "    N0-->>N1: Inquire (3,1) L8\n",
            "    N1-->>N0: Yield (3,1) L10\n",
            "    Note over N1: received Failed (3,1) L9 from N2, whose send is not in its log\n",
        ] {
            assert!(mermaid.contains(expected), "{expected:?} in {mermaid}");
        }
    }

    /// Node 1 enters twice as entry 1: in incarnation 1 and, after a restart that reset its
    /// clock, in incarnation 2 with the same request (1, 1). Voter 0 answered both.
    fn restarted(dir: &Path) {
        let round = |inc: u64| {
            let r = (1, 1, inc);
            (
                vec![
                    msg("recv", "Request", 1, 0, 2, r),
                    msg("send", "Grant", 0, 1, 3, r),
                ],
                vec![
                    start(inc),
                    request(1, 1),
                    msg("send", "Request", 1, 0, 2, r),
                    msg("recv", "Grant", 0, 1, 3, r),
                    enter(1, 1, 1, "[0]", inc as f64),
                ],
            )
        };
        let (v1, n1) = round(1);
        let (v2, n2) = round(2);
        let mut voter = vec![start(1)];
        voter.extend(v1);
        voter.push(r#""event":"revote","what":"freed","req_ts":1,"req_node":1,"req_inc":1,"why":"vote held by a dead incarnation""#.to_string());
        voter.extend(v2);
        write_log(dir, 0, &in_order(voter));
        write_log(dir, 1, &in_order(n1.into_iter().chain(n2).collect()));
    }

    #[test]
    fn the_last_incarnation_with_the_entry_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        restarted(dir.path());
        let last = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
        assert_eq!(
            last,
            entry_report(dir.path(), &sel(1, 1, Some(2)), Format::Markdown).unwrap()
        );
        assert!(
            last.starts_with(
                "**node 1, entry 1 (incarnation 2): request (1, 1), votes 0, waited 2 ms;"
            ),
            "{last}"
        );
        // Only incarnation 2's messages: the same (msg, from, to, lamport) of incarnation 1
        // and the revote about it belong to another request.
        assert_eq!(md_rows(&last).len(), 6, "{last}");
        assert!(!last.contains("revote"), "{last}");

        let first = entry_report(dir.path(), &sel(1, 1, Some(1)), Format::Markdown).unwrap();
        assert!(
            first.starts_with(
                "**node 1, entry 1 (incarnation 1): request (1, 1), votes 0, waited 1 ms;"
            ),
            "{first}"
        );
        assert_eq!(md_rows(&first).len(), 6, "{first}");

        let err = entry_report(dir.path(), &sel(1, 1, Some(3)), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 has no incarnation 3 in {}; it has incarnations 1, 2",
                dir.path().join("node-1.log").display()
            )
        );
        let err = entry_report(dir.path(), &sel(1, 2, None), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 has no entry 2 in {}; it has entries 1 in incarnation 1, 1 in incarnation 2",
                dir.path().join("node-1.log").display()
            )
        );
    }

    #[test]
    fn an_entry_that_does_not_exist_is_named_with_the_ones_that_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = vec![start(1)];
        lines.extend((1..=42).map(|k| enter(k, 10 * k, 1, "[1]", 0.1)));
        write_log(dir.path(), 1, &in_order(lines));
        let err = entry_report(dir.path(), &sel(1, 99, None), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 has no entry 99 in {}/node-1.log; it has entries 1..=42",
                dir.path().display()
            )
        );
        let err = entry_report(dir.path(), &sel(4, 1, None), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: no log of node 4 here (there are logs of nodes 1); pass one of those to --node",
                dir.path().display()
            )
        );
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1..=3, 5, 7..=8");
    }

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

    #[test]
    fn the_summary_counts_entries_messages_revotes_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        restarted(dir.path());
        let md = summary_report(dir.path(), Format::Markdown).unwrap();
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(
            table,
            [
                "| node | entries | mean wait ms | max wait ms | Request | Grant | Failed | Inquire | Yield | Release | Sync | to itself | msgs/entry | restarts | re-votes |",
                "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
                "| 0 | 0 | - | - | 0 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | - | 0 | 1 |",
                "| 1 | 2 | 1.500 | 2.000 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 2.00 | 1 | 0 |",
                "| all | 2 | 1.500 | 2.000 | 2 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | 2.00 | 1 | 1 |",
            ],
            "{md}"
        );
        assert!(md.contains("1 restarts, re-votes: freed 1**"), "{md}");
        let text = summary_report(dir.path(), Format::Text).unwrap();
        assert!(
            text.lines()
                .nth(4)
                .unwrap()
                .starts_with("all         2         1.500        2.000"),
            "{text}"
        );
        let err = summary_report(dir.path(), Format::Mermaid).unwrap_err();
        assert!(matches!(err, ReportError::MermaidSummary));
        assert!(err.to_string().contains("add --node N --entry K"), "{err}");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md_escape("a | b\nc"), r"a \| b c");
        let header = ["a".to_string(), "bb".to_string()];
        let rows = [["ccc".to_string(), "1".to_string()]];
        assert_eq!(columns(&header, &rows, &[1]), "a    bb\nccc   1\n");
    }
}
