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
//! [`reader::about_cs`]) are left out of these rules. They have their own (`check/named.rs`): entries
//! of one named lock never overlap in time across nodes, and their tokens strictly increase in
//! the order the entries began. Unknown fields and node-log events are
//! ignored. Lines that cannot be parsed are
//! [`CheckError`]s (file and line); everything wrong about the *run* is a violation in the
//! [`CheckReport`]. This module only reads: it never modifies, truncates or rotates a log.

use crate::config::Config;
use crate::logdir;
use crate::logs::cslog::{self, CsEvent, ReadCsLogError};
use crate::logs::reader;
use maekawa_core::id::{NodeId, RequestId};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

mod named;

pub use named::LockStats;

/// How many violations [`CheckReport`]'s `Display` prints after the summary.
pub const SHOWN_VIOLATIONS: usize = 20;

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
    /// A node-log line that is not a JSON object, or lacks a field its event must have.
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

/// What a check found. The run is correct exactly when `violations` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Distinct nodes that wrote to the CS log (a `start` or an `enter`).
    pub nodes: usize,
    /// `enter` lines in the CS log.
    pub entries: u64,
    /// Entries per node: every node of the config (0 if it never entered) and any other node
    /// seen in the log.
    pub entries_per_node: BTreeMap<NodeId, u64>,
    /// `start` lines in the CS log.
    pub starts: u64,
    /// Node logs found and checked; a node without one escapes the grant and entry checks.
    pub node_logs: Vec<NodeId>,
    /// `enter` lines of the CS log that carry a fencing token (0 in a log from before tokens).
    pub cs_tokens: u64,
    /// The smallest and the largest of those tokens.
    pub cs_token_range: Option<(u64, u64)>,
    /// Named locks (other than `cs`) that have entries in the node logs, with what was checked.
    pub named_locks: BTreeMap<String, LockStats>,
    /// Every broken rule, in the order found, each naming its file and line.
    pub violations: Vec<String>,
}

impl CheckReport {
    /// True when the logs show no broken rule.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// One line for the terminal; the violations themselves are in `Display`.
    pub fn summary(&self) -> String {
        if self.passed() {
            let per_node = self
                .entries_per_node
                .iter()
                .map(|(n, c)| format!("{n}: {c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "check passed: {} nodes, {} CS entries ({per_node}), {} starts, {} node logs, 0 violations",
                self.nodes,
                self.entries,
                self.starts,
                self.node_logs.len()
            )
        } else {
            let named = if self.named_locks.is_empty() {
                String::new()
            } else {
                format!(" and {}", self.named_entries())
            };
            format!(
                "check FAILED: {} violation{} in {} CS entries{named}",
                self.violations.len(),
                if self.violations.len() == 1 { "" } else { "s" },
                self.entries
            )
        }
    }

    /// "21 entries of 2 named locks".
    fn named_entries(&self) -> String {
        let entries: u64 = self.named_locks.values().map(|s| s.entries).sum();
        let locks = self.named_locks.len();
        format!(
            "{entries} entr{} of {locks} named lock{}",
            if entries == 1 { "y" } else { "ies" },
            if locks == 1 { "" } else { "s" }
        )
    }

    /// What a passing check says about fencing tokens: of `cs`, then of the named locks.
    pub fn token_lines(&self) -> [String; 2] {
        let cs = match self.cs_token_range {
            None => "fencing tokens of cs: none in critical_section.log (a run from before fencing tokens, or no entry): not checked".to_string(),
            Some((lo, hi)) if self.cs_tokens == self.entries => format!(
                "fencing tokens of cs: {} entries, tokens {lo}..={hi}, increasing",
                self.cs_tokens
            ),
            Some((lo, hi)) => format!(
                "fencing tokens of cs: {} of {} entries carry one (the others were written before fencing tokens), tokens {lo}..={hi}, increasing",
                self.cs_tokens, self.entries
            ),
        };
        let named = if self.named_locks.is_empty() {
            "named locks: none in the node logs".to_string()
        } else {
            const SHOWN: usize = 5;
            let mut each: Vec<String> = self
                .named_locks
                .iter()
                .take(SHOWN)
                .map(|(lock, s)| {
                    format!(
                        "{lock} ({} entr{}, tokens {}..={})",
                        s.entries,
                        if s.entries == 1 { "y" } else { "ies" },
                        s.tokens.0,
                        s.tokens.1
                    )
                })
                .collect();
            if self.named_locks.len() > SHOWN {
                each.push(format!("... {} more", self.named_locks.len() - SHOWN));
            }
            format!(
                "named locks: {} checked, no overlap, tokens increasing: {}",
                self.named_entries(),
                each.join(", ")
            )
        };
        [cs, named]
    }
}

/// The summary, then the first [`SHOWN_VIOLATIONS`] violations, one per line.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary())?;
        if self.passed() {
            for line in self.token_lines() {
                write!(f, "\n  {line}")?;
            }
        }
        for v in self.violations.iter().take(SHOWN_VIOLATIONS) {
            write!(f, "\n  {v}")?;
        }
        if self.violations.len() > SHOWN_VIOLATIONS {
            write!(
                f,
                "\n  ... and {} more",
                self.violations.len() - SHOWN_VIOLATIONS
            )?;
        }
        Ok(())
    }
}

/// Checks the run whose logs are in `log_dir` against the quorums of `config`.
pub fn check(log_dir: &Path, config: &Config) -> Result<CheckReport, CheckError> {
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
        let log = read_node_log(&path, id, &text, config, &mut named, &mut report.violations)?;
        node_logs.insert(id, log);
    }
    report.node_logs = node_logs.keys().copied().collect();

    let cs_enters = check_cs_order(&cs_lines, config, &node_logs, &mut report);
    match_entries(&cs_enters, &node_logs, &mut report.violations);
    report.named_locks = named.check(&mut report.violations);
    Ok(report)
}

const CS: &str = logdir::CS_LOG;

/// An entry as either log tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    line: usize,
    entry: u64,
    req: RequestId,
    /// The fencing token, when the log has one.
    token: Option<u64>,
}

/// What one process (incarnation) of a node did, from its node log.
#[derive(Debug, Default)]
struct Process {
    /// Line of its `stop` event, if it logged one.
    stop: Option<usize>,
    enters: Vec<Entry>,
}

/// A node log, by incarnation (`None`: lines before the first `start`).
#[derive(Debug)]
struct NodeLog {
    file: String,
    processes: BTreeMap<Option<u64>, Process>,
    /// Its oldest files were rotated away (`--log-keep`): the lines before its first `start`
    /// belong to an incarnation whose start is gone.
    rotated_away: bool,
    /// Votes this node (as a voter) reclaimed from a suspected holder of the emulated CS,
    /// with when: the holder's lease had surely run out by then.
    reclaimed: Vec<(RequestId, std::time::SystemTime)>,
}

impl NodeLog {
    fn stopped(&self, incarnation: Option<u64>) -> Option<usize> {
        self.processes.get(&incarnation).and_then(|p| p.stop)
    }
}

/// Parses a node log and checks its grants on the way.
fn read_node_log(
    path: &Path,
    id: NodeId,
    text: &str,
    config: &Config,
    named: &mut named::NamedLocks,
    violations: &mut Vec<String>,
) -> Result<NodeLog, CheckError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into(),
    );
    let quorum = config.quorums.quorum(id);
    let mut log = NodeLog {
        file,
        processes: BTreeMap::new(),
        rotated_away: false,
        reclaimed: Vec::new(),
    };
    let mut incarnation: Option<u64> = None;
    let mut start_line: BTreeMap<u64, usize> = BTreeMap::new();
    // Grants received by the current process: (request, voter).
    let mut grants: HashSet<(RequestId, NodeId)> = HashSet::new();
    // Whether the current process logged its messages: not with `--log-messages none`, and
    // not known for the lines before the first `start` of a log whose beginning was rotated
    // away. Its entries' Grants cannot be matched then.
    let rotated_away = crate::logdir::rotated_node_log(path, 1).exists()
        && reader::json_objects(text).next().is_some_and(|(_, obj)| {
            obj.is_ok_and(|o| o.get("event") != Some(&Value::from("start")))
        });
    let mut messages_logged = !rotated_away;
    log.rotated_away = rotated_away;

    for (line, obj) in reader::json_objects(text) {
        let obj = obj.map_err(|problem| malformed(path, line, problem))?;
        let f = Fields {
            path,
            line,
            obj: &obj,
        };
        // Lines of other locks than the emulated CS have their own rules.
        if !reader::about_cs(&obj) {
            named.line(&f, &log.file, id, violations)?;
            continue;
        }
        let Some(event) = obj.get("event").and_then(Value::as_str) else {
            continue;
        };
        match event {
            "start" => {
                named.start(&f)?;
                let inc = f.u64("incarnation")?;
                if let Some(prev) = incarnation.filter(|&p| inc <= p) {
                    violations.push(format!(
                        "{}:{line}: incarnation {inc} starts after incarnation {prev}; incarnations must grow (was the journal deleted?)",
                        log.file
                    ));
                } else if let Some(first) = start_line.get(&inc) {
                    violations.push(format!(
                        "{}:{line}: incarnation {inc} starts again (first at line {first}); incarnations must grow",
                        log.file
                    ));
                }
                start_line.entry(inc).or_insert(line);
                incarnation = Some(inc);
                grants.clear();
                messages_logged = obj.get("log_messages").and_then(Value::as_str) != Some("none");
                log.processes.entry(incarnation).or_default();
            }
            "stop" => {
                let p = log.processes.entry(incarnation).or_default();
                p.stop.get_or_insert(line);
            }
            "revote" if obj.get("what").and_then(Value::as_str) == Some("reclaimed") => {
                let at = obj
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
                if let Some(at) = at {
                    log.reclaimed.push((f.req()?, at));
                }
            }
            "recv" => {
                if f.str("msg")? != "Grant" || f.node("to")? != id {
                    continue;
                }
                grants.insert((f.req()?, f.node("from")?));
            }
            "send" => {
                let msg = f.str("msg")?;
                if (msg == "Yield" || msg == "Release") && f.node("from")? == id {
                    grants.remove(&(f.req()?, f.node("to")?));
                }
            }
            "enter_cs" => {
                let e = Entry {
                    line,
                    entry: f.u64("entry")?,
                    req: f.req()?,
                    token: obj.get("token").and_then(Value::as_u64),
                };
                // The voters it used (any quorum of the system); its own quorum in logs
                // written before quorum switching.
                let used: Vec<NodeId> = obj
                    .get("votes")
                    .and_then(|v| serde_json::from_value::<Vec<NodeId>>(v.clone()).ok())
                    .unwrap_or_else(|| quorum.to_vec());
                let missing: Vec<String> = used
                    .iter()
                    .filter(|_| messages_logged)
                    .filter(|&&v| !grants.contains(&(e.req, v)))
                    .map(NodeId::to_string)
                    .collect();
                if !missing.is_empty() {
                    violations.push(format!(
                        "{}:{line}: node {id} entered the CS (entry {}, request {}) without a received Grant from node{} {}",
                        log.file,
                        e.entry,
                        e.req,
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", ")
                    ));
                }
                log.processes.entry(incarnation).or_default().enters.push(e);
            }
            _ => {}
        }
    }
    named.end_of_log();
    Ok(log)
}

fn malformed(path: &Path, line: usize, problem: String) -> CheckError {
    CheckError::Malformed {
        path: path.to_path_buf(),
        line,
        problem,
    }
}

/// Typed access to a node-log line's fields, with errors that name the line.
struct Fields<'a> {
    path: &'a Path,
    line: usize,
    obj: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn event(&self) -> &str {
        self.obj.get("event").and_then(Value::as_str).unwrap_or("?")
    }

    fn u64(&self, key: &str) -> Result<u64, CheckError> {
        self.obj.get(key).and_then(Value::as_u64).ok_or_else(|| {
            malformed(
                self.path,
                self.line,
                format!(
                    "{} event: field {key} is missing or not a non-negative integer",
                    self.event()
                ),
            )
        })
    }

    fn node(&self, key: &str) -> Result<NodeId, CheckError> {
        let n = self.u64(key)?;
        u32::try_from(n).map(NodeId).map_err(|_| {
            malformed(
                self.path,
                self.line,
                format!("{} event: field {key} = {n} is not a node id", self.event()),
            )
        })
    }

    fn str(&self, key: &str) -> Result<&str, CheckError> {
        self.obj.get(key).and_then(Value::as_str).ok_or_else(|| {
            malformed(
                self.path,
                self.line,
                format!(
                    "{} event: field {key} is missing or not a string",
                    self.event()
                ),
            )
        })
    }

    fn req(&self) -> Result<RequestId, CheckError> {
        // Entries are matched within one incarnation's stretch of the log, so (ts, node)
        // identifies the request there.
        Ok(RequestId {
            ts: self.u64("req_ts")?,
            node: self.node("req_node")?,
            inc: 0,
        })
    }
}

/// CS-log entries by node and incarnation, in file order.
type CsEnters = BTreeMap<(NodeId, Option<u64>), Vec<Entry>>;

/// Walks the CS log in order: overlaps, exits, votes, numbering, abandoned CSs.
fn check_cs_order(
    lines: &[cslog::CsLine],
    config: &Config,
    node_logs: &BTreeMap<NodeId, NodeLog>,
    report: &mut CheckReport,
) -> CsEnters {
    struct Open {
        entry: u64,
        line: usize,
        incarnation: Option<u64>,
        /// When its lease ran out, if its exit line says so (leases, DESIGN.md).
        lease_end: Option<std::time::SystemTime>,
        request: RequestId,
        entered_at: Option<std::time::SystemTime>,
    }
    // When a voter reclaimed each request's vote (the earliest): the holder's lease had run
    // out by then, even if it never wrote an exit line (it died for good).
    let mut reclaimed_at: BTreeMap<(u64, NodeId), Vec<std::time::SystemTime>> = BTreeMap::new();
    for log in node_logs.values() {
        for (r, at) in &log.reclaimed {
            reclaimed_at.entry((r.ts, r.node)).or_default().push(*at);
        }
    }
    // Each enter's lease end, read ahead from its exit line: a holder paused past its lease
    // writes that line late, after the next holder's enter.
    let mut lease_end_of: BTreeMap<usize, std::time::SystemTime> = BTreeMap::new();
    {
        let mut open_at: BTreeMap<NodeId, usize> = BTreeMap::new();
        for l in lines {
            match &l.event {
                CsEvent::Enter { node, .. } => {
                    open_at.insert(*node, l.line);
                }
                CsEvent::Start { node, .. } => {
                    open_at.remove(node);
                }
                CsEvent::Exit {
                    node, lease_end, ..
                } => {
                    let at = open_at.remove(node);
                    let end = lease_end
                        .as_deref()
                        .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
                    if let (Some(at), Some(end)) = (at, end) {
                        lease_end_of.insert(at, end);
                    }
                }
            }
        }
    }
    // Entries whose lease ran out before another node entered: their exit line is still due.
    let mut expired: BTreeMap<NodeId, u64> = BTreeMap::new();
    let v = &mut report.violations;
    let known: BTreeSet<NodeId> = config.ids().into_iter().collect();
    let mut seen = BTreeSet::new();
    // Nodes in the CS now (more than one only after a violation).
    let mut inside: BTreeMap<NodeId, Open> = BTreeMap::new();
    let mut incarnation: BTreeMap<NodeId, u64> = BTreeMap::new();
    let mut next_entry: BTreeMap<NodeId, u64> = BTreeMap::new();
    let mut enters = CsEnters::new();
    // The largest token so far, and its line.
    let mut top_token: Option<(u64, usize)> = None;

    // A CS that its process left open is a violation only if that process logged `stop`.
    let abandoned = |v: &mut Vec<String>, node: NodeId, open: &Open, at: &str| {
        if let Some(log) = node_logs.get(&node) {
            if let Some(stop) = log.stopped(open.incarnation) {
                v.push(format!(
                    "{CS}:{}: node {node} still in the CS (entry {}) {at}, but its process stopped normally ({}:{stop}); a stopping node must leave the CS first",
                    open.line, open.entry, log.file
                ));
            }
        }
    };

    for l in lines {
        let line = l.line;
        let node = match &l.event {
            CsEvent::Start { node, .. }
            | CsEvent::Enter { node, .. }
            | CsEvent::Exit { node, .. } => *node,
        };
        if seen.insert(node) && !known.contains(&node) {
            v.push(format!(
                "{CS}:{line}: node {node} is not in {}; check the log directory and --config",
                config.path.display()
            ));
        }
        match &l.event {
            CsEvent::Start {
                incarnation: inc, ..
            } => {
                report.starts += 1;
                expired.remove(&node);
                if let Some(open) = inside.remove(&node) {
                    abandoned(v, node, &open, &format!("when it restarted at line {line}"));
                }
                if let Some(&prev) = incarnation.get(&node) {
                    if *inc <= prev {
                        v.push(format!(
                            "{CS}:{line}: node {node} starts incarnation {inc} after incarnation {prev}; incarnations must grow (was the journal deleted?)"
                        ));
                    }
                }
                incarnation.insert(node, *inc);
                next_entry.insert(node, 1);
            }
            CsEvent::Enter {
                entry,
                request,
                votes,
                token,
                ..
            } => {
                report.entries += 1;
                if let Some(t) = *token {
                    if let Some((top, top_line)) = top_token.filter(|&(top, _)| t <= top) {
                        v.push(format!(
                            "{CS}:{line}: node {node} entered (entry {entry}) with token {t}, not larger than token {top} at line {top_line}; fencing tokens must increase"
                        ));
                    } else {
                        top_token = Some((t, line));
                    }
                    report.cs_tokens += 1;
                    report.cs_token_range = Some(match report.cs_token_range {
                        None => (t, t),
                        Some((lo, hi)) => (lo.min(t), hi.max(t)),
                    });
                }
                *report.entries_per_node.entry(node).or_default() += 1;
                let inc = incarnation.get(&node).copied();
                if inc.is_none() {
                    v.push(format!(
                        "{CS}:{line}: node {node} entered (entry {entry}) before any start line of its own; a node logs start before it talks to peers"
                    ));
                }
                if let Some(open) = inside.get(&node) {
                    v.push(format!(
                        "{CS}:{line}: node {node} entered (entry {entry}) while its entry {} is still in the CS since line {}",
                        open.entry, open.line
                    ));
                }
                let entered_at = match &l.event {
                    CsEvent::Enter { time, .. } => humantime::parse_rfc3339_weak(time).ok(),
                    _ => None,
                };
                let others: Vec<NodeId> = inside.keys().copied().filter(|&o| o != node).collect();
                for other in others {
                    let open = &inside[&other];
                    // The first reclaim after it entered (one before is of it waiting).
                    let reclaimed = reclaimed_at
                        .get(&(open.request.ts, open.request.node))
                        .and_then(|r| {
                            r.iter()
                                .copied()
                                .filter(|at| open.entered_at.is_some_and(|e| *at >= e))
                                .min()
                        });
                    let ran_out = open
                        .lease_end
                        .or(reclaimed)
                        .zip(entered_at)
                        .is_some_and(|(end, at)| end <= at);
                    if ran_out {
                        // Its lease ended before this entry: it was out (paused, or cut
                        // off), whatever it believed.
                        let open = inside.remove(&other).expect("listed above");
                        expired.insert(other, open.entry);
                        continue;
                    }
                    v.push(format!(
                        "{CS}:{line}: node {node} entered (entry {entry}) while node {other} is in the CS since line {}",
                        open.line
                    ));
                }
                let expected = next_entry.get(&node).copied().unwrap_or(1);
                if *entry != expected {
                    v.push(format!(
                        "{CS}:{line}: node {node} entry {entry} where entry {expected} was due; entries count 1, 2, 3, ... in each process"
                    ));
                }
                next_entry.insert(node, entry + 1);
                if request.node != node {
                    v.push(format!(
                        "{CS}:{line}: node {node} entered with request {request} of node {}",
                        request.node
                    ));
                }
                let mut sorted = votes.clone();
                sorted.sort();
                sorted.dedup();
                let quorum = config.quorums.quorum(node);
                if known.contains(&node) && !config.quorums.is_quorum(&sorted) {
                    v.push(format!(
                        "{CS}:{line}: node {node} entered (entry {entry}) with votes {} but that is not a quorum of the {} system (its own is {})",
                        list(&sorted),
                        config.quorums.kind(),
                        list(quorum)
                    ));
                }
                inside.insert(
                    node,
                    Open {
                        entry: *entry,
                        line,
                        incarnation: inc,
                        lease_end: lease_end_of.get(&line).copied(),
                        request: *request,
                        entered_at,
                    },
                );
                enters.entry((node, inc)).or_default().push(Entry {
                    line,
                    entry: *entry,
                    req: *request,
                    token: *token,
                });
            }
            CsEvent::Exit { entry, .. } if expired.get(&node) == Some(entry) => {
                expired.remove(&node);
            }
            CsEvent::Exit { entry, .. } => match inside.remove(&node) {
                Some(open) if open.entry == *entry => {}
                Some(open) => v.push(format!(
                    "{CS}:{line}: node {node} exited entry {entry} but its open entry is {} (line {})",
                    open.entry, open.line
                )),
                None => v.push(format!(
                    "{CS}:{line}: node {node} exited entry {entry} but is not in the CS"
                )),
            },
        }
    }
    for (node, open) in &inside {
        abandoned(v, *node, open, "at the end of the log");
    }
    report.nodes = seen.len();
    enters
}

fn list(ids: &[NodeId]) -> String {
    let inner: Vec<String> = ids.iter().map(NodeId::to_string).collect();
    format!("[{}]", inner.join(","))
}

/// Compares each node log's `enter_cs` lines with the CS log's `enter` lines, per incarnation.
fn match_entries(
    cs_enters: &CsEnters,
    node_logs: &BTreeMap<NodeId, NodeLog>,
    violations: &mut Vec<String>,
) {
    let empty = Vec::new();
    for (&node, log) in node_logs {
        let incarnations: BTreeSet<Option<u64>> = cs_enters
            .keys()
            .filter(|(n, _)| *n == node)
            .map(|&(_, inc)| inc)
            .chain(log.processes.keys().copied())
            .collect();
        // A log that begins mid-incarnation (its start rotated away): its first entries are
        // the tail of some incarnation's entries in the CS log.
        let prefix = log
            .processes
            .get(&None)
            .filter(|_| log.rotated_away)
            .map(|p| (&p.enters, p.stop.is_some()));
        if let Some((nl, stopped)) = prefix {
            let found = nl.first().and_then(|first| {
                cs_enters
                    .iter()
                    .filter(|((n, _), _)| *n == node)
                    .find_map(|(&(_, inc), cs)| {
                        cs.iter()
                            .position(|c| (c.entry, c.req) == (first.entry, first.req))
                            .map(|at| (inc, &cs[at..]))
                    })
            });
            if let Some((inc, cs)) = found {
                let which = format!(
                    "incarnation {} whose start was rotated away",
                    inc.map_or("?".to_string(), |i| i.to_string())
                );
                compare_entries(&log.file, node, &which, cs, nl, stopped, violations);
            }
        }
        for inc in incarnations {
            if inc.is_none() && prefix.is_some() {
                continue; // compared above
            }
            let cs = cs_enters.get(&(node, inc)).unwrap_or(&empty);
            let (nl, stopped) = match log.processes.get(&inc) {
                Some(p) => (&p.enters, p.stop.is_some()),
                None => (&empty, false),
            };
            let which = match inc {
                Some(i) => format!("incarnation {i}"),
                None => "before any start".to_string(),
            };
            if log.rotated_away && !log.processes.contains_key(&inc) {
                continue; // its node-log lines were rotated away
            }
            compare_entries(&log.file, node, &which, cs, nl, stopped, violations);
        }
    }
}

/// One incarnation's entries, in the CS log (`cs`) and in its node log (`nl`), compared.
fn compare_entries(
    file: &str,
    node: NodeId,
    which: &str,
    cs: &[Entry],
    nl: &[Entry],
    stopped: bool,
    violations: &mut Vec<String>,
) {
    for (c, n) in cs.iter().zip(nl) {
        if (c.entry, c.req) != (n.entry, n.req) {
            violations.push(format!(
                "{}:{}: enter_cs entry {} request {} does not match {CS}:{}: entry {} request {} (node {node}, {which})",
                file, n.line, n.entry, n.req, c.line, c.entry, c.req
            ));
        } else if let Some((ct, nt)) = c.token.zip(n.token).filter(|(a, b)| a != b) {
            violations.push(format!(
                "{}:{}: enter_cs entry {} token {nt} does not match {CS}:{}: token {ct} (node {node}, {which})",
                file, n.line, n.entry, c.line
            ));
        }
    }
    if cs.len() > nl.len() && stopped {
        for c in &cs[nl.len()..] {
            violations.push(format!(
                "{CS}:{}: node {node} entry {} request {} has no enter_cs line in {} ({which})",
                c.line, c.entry, c.req, file
            ));
        }
    }
    // A kill between the node log line and the CS log line can leave one enter_cs over.
    if nl.len() > cs.len() + usize::from(!stopped) {
        for n in &nl[cs.len()..] {
            violations.push(format!(
                "{}:{}: enter_cs entry {} request {} has no enter line in {CS} (node {node}, {which})",
                file, n.line, n.entry, n.req
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;
    use tempfile::TempDir;

    /// Three nodes: grid of 2 columns, Q(0) = {0,1,2}, Q(1) = {0,1}, Q(2) = {0,2}.
    fn config() -> Config {
        Config::parse(
            Path::new("quorums.json"),
            r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 1, "addr": "127.0.0.1:2"},
                          {"id": 2, "addr": "127.0.0.1:3"}]}"#,
        )
        .unwrap()
    }

    /// Builds a log directory line by line, the way the daemon would write it.
    #[derive(Default)]
    struct Run {
        cs: String,
        nodes: BTreeMap<u32, String>,
    }

    const T: &str = "2025-01-01T00:00:00.000000Z";

    impl Run {
        fn start(&mut self, node: u32, inc: u64) -> &mut Self {
            writeln!(
                self.cs,
                r#"{{"event":"start","node":{node},"incarnation":{inc},"time":"{T}"}}"#
            )
            .unwrap();
            self.node_line(node, &format!(r#""event":"start","incarnation":{inc}"#))
        }

        fn node_line(&mut self, node: u32, rest: &str) -> &mut Self {
            let log = self.nodes.entry(node).or_default();
            writeln!(
                log,
                r#"{{"timestamp":"{T}","level":"INFO","node":{node},{rest}}}"#
            )
            .unwrap();
            self
        }

        fn grant(&mut self, from: u32, to: u32, ts: u64) -> &mut Self {
            self.node_line(
                to,
                &format!(
                    r#""event":"recv","msg":"Grant","from":{from},"to":{to},"lamport":{},"req_ts":{ts},"req_node":{to}"#,
                    ts + 1
                ),
            )
        }

        /// Grants from the whole quorum, then the enter in both logs.
        fn enter(&mut self, node: u32, entry: u64, ts: u64, votes: &[u32]) -> &mut Self {
            for &v in votes {
                self.grant(v, node, ts);
            }
            self.enter_only(node, entry, ts, votes)
        }

        fn enter_only(&mut self, node: u32, entry: u64, ts: u64, votes: &[u32]) -> &mut Self {
            let votes = format!("{votes:?}").replace(' ', "");
            writeln!(
                self.cs,
                r#"{{"event":"enter","node":{node},"entry":{entry},"request":{{"ts":{ts},"node":{node}}},"votes":{votes},"time":"{T}"}}"#
            )
            .unwrap();
            self.node_line(
                node,
                &format!(
                    r#""event":"enter_cs","entry":{entry},"req_ts":{ts},"req_node":{node},"votes":{votes}"#
                ),
            )
        }

        fn exit(&mut self, node: u32, entry: u64, ts: u64) -> &mut Self {
            writeln!(
                self.cs,
                r#"{{"event":"exit","node":{node},"entry":{entry},"time":"{T}"}}"#
            )
            .unwrap();
            self.node_line(
                node,
                &format!(r#""event":"exit_cs","entry":{entry},"req_ts":{ts},"req_node":{node}"#),
            )
        }

        fn stop(&mut self, node: u32) -> &mut Self {
            self.node_line(node, r#""event":"stop""#)
        }

        fn write(&self) -> TempDir {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(CS), &self.cs).unwrap();
            for (n, text) in &self.nodes {
                std::fs::write(dir.path().join(format!("node-{n}.log")), text).unwrap();
            }
            dir
        }

        fn check(&self) -> CheckReport {
            check(self.write().path(), &config()).unwrap()
        }
    }

    /// Three nodes, each entering twice in turn, then stopping.
    fn clean() -> Run {
        let mut r = Run::default();
        r.start(0, 1).start(1, 1).start(2, 1);
        r.enter(0, 1, 2, &[0, 1, 2]).exit(0, 1, 2);
        r.enter(1, 1, 3, &[0, 1]).exit(1, 1, 3);
        r.enter(2, 1, 5, &[0, 2]).exit(2, 1, 5);
        r.enter(0, 2, 9, &[0, 1, 2]).exit(0, 2, 9);
        r.enter(1, 2, 11, &[0, 1]).exit(1, 2, 11);
        r.stop(0).stop(1).stop(2);
        r
    }

    #[test]
    fn a_clean_run_passes() {
        let report = clean().check();
        assert!(report.passed(), "{report}");
        assert_eq!(
            report.summary(),
            "check passed: 3 nodes, 5 CS entries (0: 2, 1: 2, 2: 1), 3 starts, 3 node logs, 0 violations"
        );
        assert_eq!(report.node_logs, [NodeId(0), NodeId(1), NodeId(2)]);
    }

    #[test]
    fn overlap_is_caught() {
        let mut r = Run::default();
        r.start(0, 1).start(1, 1);
        r.enter(0, 1, 2, &[0, 1, 2]);
        r.enter(1, 1, 3, &[0, 1]);
        r.exit(0, 1, 2).exit(1, 1, 3);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["critical_section.log:4: node 1 entered (entry 1) while node 0 is in the CS since line 3"],
            "{report}"
        );
        assert_eq!(
            report.to_string(),
            "check FAILED: 1 violation in 2 CS entries\n  critical_section.log:4: node 1 entered (entry 1) while node 0 is in the CS since line 3"
        );
    }

    #[test]
    fn wrong_votes_are_caught() {
        let mut r = Run::default();
        r.start(2, 1);
        r.enter(2, 1, 2, &[2]).exit(2, 1, 2);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["critical_section.log:2: node 2 entered (entry 1) with votes [2] but that is not a quorum of the grid system (its own is [0,2])"]
        );
    }

    /// A requester may switch to any quorum of the system (row 1 plus column 1 here).
    #[test]
    fn votes_of_another_quorum_of_the_system_are_fine() {
        let mut r = Run::default();
        r.start(2, 1);
        r.enter(2, 1, 2, &[1, 2]).exit(2, 1, 2);
        let report = r.check();
        assert!(report.violations.is_empty(), "{report}");
    }

    #[test]
    fn missing_grant_is_caught() {
        let mut r = Run::default();
        r.start(0, 1);
        r.grant(0, 0, 2).grant(2, 0, 2).grant(1, 0, 1); // node 1's grant is for another request
        r.enter_only(0, 1, 2, &[0, 1, 2]).exit(0, 1, 2);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["node-0.log:5: node 0 entered the CS (entry 1, request (2, 0)) without a received Grant from node 1"]
        );
    }

    #[test]
    fn a_grant_yielded_back_does_not_count() {
        let mut r = Run::default();
        r.start(1, 1).grant(0, 1, 2).grant(1, 1, 2);
        r.node_line(
            1,
            r#""event":"send","msg":"Yield","from":1,"to":0,"lamport":9,"req_ts":2,"req_node":1"#,
        );
        r.enter_only(1, 1, 2, &[0, 1]).exit(1, 1, 2);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["node-1.log:5: node 1 entered the CS (entry 1, request (2, 1)) without a received Grant from node 0"],
            "{report}"
        );
        // Granted again after the yield: fine.
        let mut r = Run::default();
        r.start(1, 1).grant(0, 1, 2).grant(1, 1, 2);
        r.node_line(
            1,
            r#""event":"send","msg":"Yield","from":1,"to":0,"lamport":9,"req_ts":2,"req_node":1"#,
        );
        r.grant(0, 1, 2).enter_only(1, 1, 2, &[0, 1]).exit(1, 1, 2);
        let report = r.check();
        assert!(report.passed(), "{report}");
    }

    #[test]
    fn grants_of_an_earlier_process_do_not_count() {
        let mut r = Run::default();
        r.start(1, 1).grant(0, 1, 2).grant(1, 1, 2);
        r.start(1, 2).enter_only(1, 1, 2, &[0, 1]);
        let report = r.check();
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(report.violations[0].contains("without a received Grant from nodes 0, 1"));
    }

    #[test]
    fn killed_in_the_cs_then_restarted_passes() {
        let mut r = Run::default();
        r.start(0, 1).start(1, 4);
        r.enter(1, 1, 3, &[0, 1]);
        // kill -9 of node 1: no exit, no stop; its log lost the enter_cs line.
        r.nodes.get_mut(&1).unwrap().truncate(0);
        r.start(1, 5);
        r.enter(0, 1, 9, &[0, 1, 2]).exit(0, 1, 9);
        r.enter(1, 1, 11, &[0, 1]).exit(1, 1, 11).stop(1);
        // node 0 is killed in the CS at the very end.
        r.enter(0, 2, 14, &[0, 1, 2]);
        let report = r.check();
        assert!(report.passed(), "{report}");
        assert_eq!(report.starts, 3);
        assert_eq!(report.entries, 4);
    }

    #[test]
    fn stopping_inside_the_cs_is_caught() {
        let mut r = Run::default();
        r.start(2, 1).enter(2, 1, 2, &[0, 2]).stop(2);
        let report = r.check();
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(
            report.violations[0].starts_with(
                "critical_section.log:2: node 2 still in the CS (entry 1) at the end of the log, but its process stopped normally (node-2.log:"
            ),
            "{report}"
        );
    }

    #[test]
    fn bad_exits_numbering_and_incarnations_are_caught() {
        let mut r = Run::default();
        r.start(1, 3);
        r.exit(1, 1, 0);
        r.enter(1, 2, 4, &[0, 1]).exit(1, 1, 4);
        r.start(1, 3);
        let report = r.check();
        assert_eq!(
            report.violations,
            [
                "node-1.log:7: incarnation 3 starts after incarnation 3; incarnations must grow (was the journal deleted?)",
                "critical_section.log:2: node 1 exited entry 1 but is not in the CS",
                "critical_section.log:3: node 1 entry 2 where entry 1 was due; entries count 1, 2, 3, ... in each process",
                "critical_section.log:4: node 1 exited entry 1 but its open entry is 2 (line 3)",
                "critical_section.log:5: node 1 starts incarnation 3 after incarnation 3; incarnations must grow (was the journal deleted?)",
            ],
            "{report}"
        );
    }

    #[test]
    fn node_log_and_cs_log_must_agree() {
        let mut r = clean();
        // node 2 claims an entry the CS log never saw, in a process that stopped normally.
        r.start(2, 2).enter(2, 1, 30, &[0, 2]);
        let cs_len = r.cs.lines().count();
        r.cs =
            r.cs.lines()
                .take(cs_len - 1)
                .map(|l| format!("{l}\n"))
                .collect();
        r.stop(2);
        let report = r.check();
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(
            report.violations[0].ends_with(
                "enter_cs entry 1 request (30, 2) has no enter line in critical_section.log (node 2, incarnation 2)"
            ),
            "{report}"
        );

        // ... and the other way round.
        let mut r = clean();
        let log = r.nodes.get_mut(&1).unwrap();
        *log = log
            .lines()
            .filter(|l| !l.contains("\"req_ts\":11,\"req_node\":1,\"votes\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let report = r.check();
        assert_eq!(
            report.violations,
            ["critical_section.log:12: node 1 entry 2 request (11, 1) has no enter_cs line in node-1.log (incarnation 1)"],
            "{report}"
        );
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let mut r = clean();
        r.nodes
            .get_mut(&2)
            .unwrap()
            .insert_str(0, "{\"event\":\"recv\",\"msg\":\"Grant\"}\n");
        let dir = r.write();
        let msg = check(dir.path(), &config()).unwrap_err().to_string();
        assert!(
            msg.ends_with("node-2.log:1: recv event: field to is missing or not a non-negative integer; node logs must hold only lines written by `maekawa node`"),
            "{msg}"
        );

        let mut r = clean();
        r.cs.push_str("not json\n");
        let dir = r.write();
        let msg = check(dir.path(), &config()).unwrap_err().to_string();
        let last = r.cs.lines().count();
        assert!(
            msg.contains(&format!("critical_section.log:{last}: expected")),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_cs_log_is_an_error_and_node_logs_are_optional() {
        let dir = tempfile::tempdir().unwrap();
        let msg = check(dir.path(), &config()).unwrap_err().to_string();
        assert!(
            msg.ends_with(
                "critical_section.log: not found; is --log-dir the directory the nodes wrote to?"
            ),
            "{msg}"
        );
        let mut r = clean();
        r.nodes.clear();
        let report = r.check();
        assert!(report.passed(), "{report}");
        assert!(report.node_logs.is_empty());
    }

    /// `2025-01-01T00:00:00.<us>Z`: node-log times for the named-lock tests.
    fn at(us: u64) -> String {
        format!("2025-01-01T00:00:00.{us:06}Z")
    }

    impl Run {
        /// Numbers the CS log's `enter` lines with fencing tokens from `first` on.
        fn with_tokens(&mut self, first: u64) -> &mut Self {
            let mut token = first;
            self.cs = self
                .cs
                .lines()
                .map(|l| {
                    if l.starts_with(r#"{"event":"enter""#) {
                        token += 1;
                        format!(
                            "{},\"token\":{}}}\n",
                            l.strip_suffix('}').unwrap(),
                            token - 1
                        )
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            self
        }

        /// An `enter_cs` or `exit_cs` line of a named lock at `us` microseconds.
        fn named(
            &mut self,
            node: u32,
            event: &str,
            lock: &str,
            ts: u64,
            token: u64,
            us: u64,
        ) -> &mut Self {
            let log = self.nodes.entry(node).or_default();
            writeln!(
                log,
                r#"{{"timestamp":"{}","level":"INFO","node":{node},"event":"{event}","lock":"{lock}","req_ts":{ts},"req_node":{node},"votes":[0,1,2],"token":{token}}}"#,
                at(us)
            )
            .unwrap();
            self
        }

        /// The line number of the first line of node `node`'s log containing `text`.
        fn line_of(&self, node: u32, text: &str) -> usize {
            1 + self.nodes[&node]
                .lines()
                .position(|l| l.contains(text))
                .unwrap_or_else(|| panic!("{text} in node-{node}.log"))
        }
    }

    /// `clean()` with the traffic of two named locks interleaved: counter held by node 1 then
    /// node 2, other by node 0 at the same time, plus messages and sessions of those locks.
    fn with_named_locks() -> Run {
        let mut r = Run::default();
        r.start(0, 1).start(1, 1).start(2, 1);
        r.node_line(
            1,
            r#""event":"session_acquire","session":1,"lock":"counter","client":"c","timeout_ms":null"#,
        );
        r.node_line(
            1,
            r#""event":"recv","msg":"Grant","from":0,"to":1,"lamport":4,"req_ts":3,"req_node":1,"lock":"counter","token":0"#,
        );
        r.enter(0, 1, 2, &[0, 1, 2]).exit(0, 1, 2);
        r.named(1, "enter_cs", "counter", 3, 1, 10);
        r.named(0, "enter_cs", "other", 4, 1, 15);
        r.enter(1, 1, 3, &[0, 1]).exit(1, 1, 3);
        r.named(1, "exit_cs", "counter", 3, 1, 20);
        r.enter(2, 1, 5, &[0, 2]).exit(2, 1, 5);
        r.named(2, "enter_cs", "counter", 6, 2, 30);
        r.enter(0, 2, 9, &[0, 1, 2]).exit(0, 2, 9);
        r.named(2, "exit_cs", "counter", 6, 2, 40);
        r.named(0, "exit_cs", "other", 4, 1, 50);
        r.node_line(
            1,
            r#""event":"session_release","session":1,"lock":"counter","token":1,"explicit":true"#,
        );
        r.enter(1, 2, 11, &[0, 1]).exit(1, 2, 11);
        r.stop(0).stop(1).stop(2);
        r
    }

    #[test]
    fn named_lock_lines_leave_the_cs_check_unchanged_and_are_checked() {
        let plain = clean().check();
        let report = with_named_locks().check();
        assert!(report.passed(), "{report}");
        assert_eq!(report.summary(), plain.summary());
        assert_eq!(
            (report.entries_per_node.clone(), report.starts),
            (plain.entries_per_node.clone(), plain.starts)
        );
        assert_eq!(
            report.named_locks.into_iter().collect::<Vec<_>>(),
            [
                (
                    "counter".to_string(),
                    LockStats {
                        entries: 2,
                        tokens: (1, 2)
                    }
                ),
                (
                    "other".to_string(),
                    LockStats {
                        entries: 1,
                        tokens: (1, 1)
                    }
                )
            ]
        );
        let text = with_named_locks().check().to_string();
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            [
                "  fencing tokens of cs: none in critical_section.log (a run from before fencing tokens, or no entry): not checked",
                "  named locks: 3 entries of 2 named locks checked, no overlap, tokens increasing: counter (2 entries, tokens 1..=2), other (1 entry, tokens 1..=1)",
            ]
        );
        assert_eq!(
            plain.to_string().lines().nth(2),
            Some("  named locks: none in the node logs")
        );
    }

    #[test]
    fn swapped_named_lock_tokens_are_caught() {
        let mut r = with_named_locks();
        for (node, from, to) in [(1, 1, 2), (2, 2, 1)] {
            let log = r.nodes.get_mut(&node).unwrap();
            *log = log.replace(
                &format!(r#""lock":"counter","req_ts":{},"req_node":{node},"votes":[0,1,2],"token":{from}}}"#, if node == 1 { 3 } else { 6 }),
                &format!(r#""lock":"counter","req_ts":{},"req_node":{node},"votes":[0,1,2],"token":{to}}}"#, if node == 1 { 3 } else { 6 }),
            );
        }
        let first = r.line_of(1, r#""event":"enter_cs","lock":"counter""#);
        let second = r.line_of(2, r#""event":"enter_cs","lock":"counter""#);
        let report = r.check();
        assert_eq!(
            report.violations,
            [format!("node-2.log:{second}: lock \"counter\" token 1 is not larger than token 2 of the earlier entry at node-1.log:{first}; fencing tokens must increase")],
            "{report}"
        );
        assert_eq!(
            report.summary(),
            "check FAILED: 1 violation in 5 CS entries and 3 entries of 2 named locks"
        );
    }

    #[test]
    fn overlapping_entries_of_a_named_lock_are_caught() {
        let mut r = Run::default();
        r.start(0, 1).start(1, 1).start(2, 1);
        r.named(1, "enter_cs", "counter", 3, 1, 10);
        r.named(2, "enter_cs", "counter", 4, 2, 15);
        r.named(1, "exit_cs", "counter", 3, 1, 20);
        r.named(2, "exit_cs", "counter", 4, 2, 30);
        // Another lock at the same time is fine.
        r.named(0, "enter_cs", "other", 5, 1, 12);
        r.named(0, "exit_cs", "other", 5, 1, 25);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["node-2.log:2: node 2 entered lock \"counter\" (token 2) while node 1 held it since node-1.log:2 until its exit_cs at node-1.log:3"],
            "{report}"
        );
    }

    #[test]
    fn a_killed_holder_of_a_named_lock_holds_it_until_its_restart() {
        let mut r = Run::default();
        r.start(1, 1).start(2, 1);
        r.named(1, "enter_cs", "counter", 3, 1, 10);
        // kill -9 of node 1 inside; node 2 enters after node 1's restart.
        r.start(1, 2);
        let log = r.nodes.get_mut(&1).unwrap();
        *log = log.replace(
            r#"{"timestamp":"2025-01-01T00:00:00.000000Z","level":"INFO","node":1,"event":"start","incarnation":2}"#,
            &format!(
                r#"{{"timestamp":"{}","level":"INFO","node":1,"event":"start","incarnation":2}}"#,
                at(20)
            ),
        );
        r.named(2, "enter_cs", "counter", 9, 2, 30);
        r.named(2, "exit_cs", "counter", 9, 2, 40);
        let report = r.check();
        assert!(report.passed(), "{report}");
        assert_eq!(report.named_locks["counter"].entries, 2);

        // Never restarted: node 2 cannot have entered.
        let mut r = Run::default();
        r.start(1, 1).start(2, 1);
        r.named(1, "enter_cs", "counter", 3, 1, 10);
        r.named(2, "enter_cs", "counter", 9, 2, 30);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["node-2.log:2: node 2 entered lock \"counter\" (token 2) while node 1 held it since node-1.log:2 until the end of node-1.log (never left)"],
            "{report}"
        );
    }

    #[test]
    fn cs_tokens_must_increase_and_logs_without_them_pass() {
        let mut r = clean();
        r.with_tokens(7);
        let report = r.check();
        assert!(report.passed(), "{report}");
        assert_eq!(
            (report.cs_tokens, report.cs_token_range),
            (5, Some((7, 11)))
        );
        assert_eq!(
            report.to_string().lines().nth(1),
            Some("  fencing tokens of cs: 5 entries, tokens 7..=11, increasing")
        );

        // Tokens of the 2nd and 3rd entries (lines 6 and 8) swapped.
        let mut r = clean();
        r.with_tokens(7);
        r.cs =
            r.cs.replace(r#""token":8}"#, r#""token":X}"#)
                .replace(r#""token":9}"#, r#""token":8}"#)
                .replace(r#""token":X}"#, r#""token":9}"#);
        let report = r.check();
        assert_eq!(
            report.violations,
            ["critical_section.log:8: node 2 entered (entry 1) with token 8, not larger than token 9 at line 6; fencing tokens must increase"],
            "{report}"
        );

        // A node log's enter_cs token must be the CS log's.
        let mut r = clean();
        r.with_tokens(1);
        let log = r.nodes.get_mut(&2).unwrap();
        *log = log.replace(r#""votes":[0,2]}"#, r#""votes":[0,2],"token":4}"#);
        let line = r.line_of(2, r#""token":4"#);
        let report = r.check();
        assert_eq!(
            report.violations,
            [format!("node-2.log:{line}: enter_cs entry 1 token 4 does not match critical_section.log:8: token 3 (node 2, incarnation 1)")],
            "{report}"
        );
    }

    #[test]
    fn many_violations_are_cut_at_twenty() {
        let mut r = Run::default();
        r.start(0, 1);
        for e in 1..=25 {
            r.exit(0, e, 0);
        }
        let text = r.check().to_string();
        assert_eq!(text.lines().count(), 1 + SHOWN_VIOLATIONS + 1, "{text}");
        assert!(text.starts_with("check FAILED: 25 violations in 0 CS entries\n"));
        assert!(text.ends_with("\n  ... and 5 more"));
    }
}
