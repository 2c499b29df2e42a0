//! Named locks in the node logs (PROTOCOL.md §6): entries of one lock never overlap in time,
//! across nodes, and their fencing tokens strictly increase in the order they began.
//!
//! An entry of lock L at node N runs from N's `enter_cs` line of L to its matching `exit_cs`
//! line, or, when the process was killed inside, to N's next `start` line (a killed holder's
//! votes are only given back after it restarts), or to the end of the log. Times are the lines'
//! `timestamp`s: the nodes' clocks must agree (one host, or clocks closer than a hand-over
//! between two holders). Entries are compared by the time they began; two entries whose
//! intervals share more than an instant overlap.

use super::{malformed, CheckError, Fields};
use crate::logs::reader;
use maekawa_core::id::NodeId;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
type Micros = i128;

/// A line number and its time.
type LineTime = (usize, Micros);

/// What the check saw of one named lock, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockStats {
    /// Entries (`enter_cs` lines) of the lock.
    pub entries: u64,
    /// The smallest and the largest token of those entries.
    pub tokens: (u64, u64),
}

/// Where an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its `exit_cs` line.
    Exit { line: usize, at: Micros },
    /// The node's next `start` line: the process was killed inside.
    Restart { line: usize, at: Micros },
    /// Not before the end of the node's log (killed and never restarted, or still inside).
    Open,
    /// Its lease ran out (its `lease_expired` line, which says when), or a voter reclaimed
    /// its vote (a `revote` line with `what` = `reclaimed`; only after the lease ran out).
    Lease { line: usize, at: Micros },
}

impl End {
    fn at(self) -> Option<Micros> {
        match self {
            End::Exit { at, .. } | End::Restart { at, .. } | End::Lease { at, .. } => Some(at),
            End::Open => None,
        }
    }
}

/// One entry of a named lock.
#[derive(Debug, Clone)]
struct Entry {
    file: String,
    line: usize,
    node: NodeId,
    token: u64,
    req: (u64, u64),
    at: Micros,
    end: End,
}

impl Entry {
    fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// "until node-1.log:44" or the like, for a message about an overlap.
    fn until(&self) -> String {
        match self.end {
            End::Exit { line, .. } => format!("its exit_cs at {}:{line}", self.file),
            End::Restart { line, .. } => {
                format!("its process was killed (restart at {}:{line})", self.file)
            }
            End::Open => format!("the end of {} (never left)", self.file),
            End::Lease { line, .. } => format!("its lease ran out (line {line})"),
        }
    }
}

/// The entries of every named lock, gathered while the node logs are read.
#[derive(Debug, Default)]
pub(super) struct NamedLocks {
    /// Finished entries by lock (their end known, or open at the end of their log).
    entries: BTreeMap<String, Vec<Entry>>,
    /// The current node log's entries still inside, by lock.
    open: BTreeMap<String, Entry>,
    /// Every reclaim of each request's vote, by lock and request.
    reclaimed: BTreeMap<(String, (u64, u64)), Vec<LineTime>>,
}

impl NamedLocks {
    /// A line of `file` about a named lock (its `lock` is present and not `cs`).
    pub(super) fn line(
        &mut self,
        f: &Fields<'_>,
        file: &str,
        node: NodeId,
        violations: &mut Vec<String>,
    ) -> Result<(), CheckError> {
        let event = f.event();
        let reclaim =
            event == "revote" && f.obj.get("what").and_then(Value::as_str) == Some("reclaimed");
        if event != "enter_cs" && event != "exit_cs" && event != "lease_expired" && !reclaim {
            return Ok(());
        }
        let lock = match reader::lock_of(f.obj) {
            Some(l) => l.to_string(),
            None => {
                return Err(malformed(
                    f.path,
                    f.line,
                    format!("{event} event: field lock is not a string"),
                ))
            }
        };
        let at = time(f.path, f.line, f.obj)?;
        let req = (f.u64("req_ts")?, f.u64("req_node")?);
        let line = f.line;
        if reclaim {
            self.reclaimed
                .entry((lock, req))
                .or_default()
                .push((line, at));
            return Ok(());
        }
        let token = f.u64("token")?;
        if event == "lease_expired" {
            // The holder noticed late (`late_ms` after the lease's end): the entry ended then.
            let late = f.obj.get("late_ms").and_then(Value::as_u64).unwrap_or(0);
            if let Some(mut open) = self.open.remove(&lock) {
                open.end = End::Lease {
                    line,
                    at: at.saturating_sub(i128::from(late) * 1000),
                };
                self.entries.entry(lock).or_default().push(open);
            }
            return Ok(());
        }
        if event == "enter_cs" {
            if let Some(mut open) = self.open.remove(&lock) {
                violations.push(format!(
                    "{file}:{line}: node {node} entered lock {lock:?} again while its entry at line {} is not left",
                    open.line
                ));
                open.end = End::Exit { line, at };
                self.entries.entry(lock.clone()).or_default().push(open);
            }
            self.open.insert(
                lock,
                Entry {
                    file: file.to_string(),
                    line,
                    node,
                    token,
                    req,
                    at,
                    end: End::Open,
                },
            );
            return Ok(());
        }
        let Some(mut open) = self.open.remove(&lock) else {
            violations.push(format!(
                "{file}:{line}: node {node} left lock {lock:?} (request ({}, {})) without an enter_cs line of it in this process",
                req.0, req.1
            ));
            return Ok(());
        };
        if (open.req, open.token) != (req, token) {
            violations.push(format!(
                "{file}:{line}: exit_cs of lock {lock:?} has request ({}, {}) token {token}, but the entry at line {} has request ({}, {}) token {}",
                req.0, req.1, open.line, open.req.0, open.req.1, open.token
            ));
        }
        open.end = End::Exit { line, at };
        self.entries.entry(lock).or_default().push(open);
        Ok(())
    }

    /// A `start` line of the current node log: whatever the process before held ends here.
    pub(super) fn start(&mut self, f: &Fields<'_>) -> Result<(), CheckError> {
        if self.open.is_empty() {
            return Ok(());
        }
        let at = time(f.path, f.line, f.obj)?;
        for (lock, mut open) in std::mem::take(&mut self.open) {
            open.end = End::Restart { line: f.line, at };
            self.entries.entry(lock).or_default().push(open);
        }
        Ok(())
    }

    /// The end of the current node log: what is still inside stays inside.
    pub(super) fn end_of_log(&mut self) {
        for (lock, open) in std::mem::take(&mut self.open) {
            self.entries.entry(lock).or_default().push(open);
        }
    }

    /// Checks every lock: no two entries overlap, tokens strictly increase in the order the
    /// entries began. Returns what was checked, by lock.
    pub(super) fn check(mut self, violations: &mut Vec<String>) -> BTreeMap<String, LockStats> {
        self.end_of_log();
        // An entry its node never left (killed for good) ends where a voter reclaimed it.
        for (lock, entries) in &mut self.entries {
            for e in entries.iter_mut().filter(|e| e.end == End::Open) {
                // The first reclaim after it entered (one before is of the request waiting).
                let after = self.reclaimed.get(&(lock.clone(), e.req)).and_then(|r| {
                    r.iter()
                        .filter(|(_, at)| *at >= e.at)
                        .min_by_key(|(_, at)| *at)
                });
                if let Some(&(line, at)) = after {
                    e.end = End::Lease { line, at };
                }
            }
        }
        let mut stats = BTreeMap::new();
        for (lock, mut entries) in self.entries {
            entries.sort_by(|a, b| (a.at, &a.file, a.line).cmp(&(b.at, &b.file, b.line)));
            // The entry that ends last among those seen, and the one with the largest token.
            let mut holder: Option<&Entry> = None;
            let mut top: Option<&Entry> = None;
            for e in &entries {
                if let Some(h) = holder {
                    if h.end.at().is_none_or(|end| e.at < end) {
                        violations.push(format!(
                            "{}: node {} entered lock {lock:?} (token {}) while node {} held it since {} until {}",
                            e.place(),
                            e.node,
                            e.token,
                            h.node,
                            h.place(),
                            h.until()
                        ));
                    }
                }
                if let Some(t) = top {
                    if e.token <= t.token {
                        violations.push(format!(
                            "{}: lock {lock:?} token {} is not larger than token {} of the earlier entry at {}; fencing tokens must increase",
                            e.place(),
                            e.token,
                            t.token,
                            t.place()
                        ));
                    }
                }
                if holder.is_none_or(|h| {
                    h.end
                        .at()
                        .is_some_and(|h_end| e.end.at().is_none_or(|e_end| e_end > h_end))
                }) {
                    holder = Some(e);
                }
                if top.is_none_or(|t| e.token > t.token) {
                    top = Some(e);
                }
            }
            let min = entries.iter().map(|e| e.token).min().unwrap_or(0);
            let max = entries.iter().map(|e| e.token).max().unwrap_or(0);
            stats.insert(
                lock,
                LockStats {
                    entries: entries.len() as u64,
                    tokens: (min, max),
                },
            );
        }
        stats
    }
}

/// The line's `timestamp`, in microseconds since the Unix epoch.
fn time(path: &Path, line: usize, obj: &Map<String, Value>) -> Result<Micros, CheckError> {
    let event = obj.get("event").and_then(Value::as_str).unwrap_or("?");
    let s = obj
        .get("timestamp")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            malformed(
                path,
                line,
                format!("{event} event: field timestamp is missing or not a string"),
            )
        })?;
    let t: SystemTime = humantime::parse_rfc3339(s).map_err(|e| {
        malformed(
            path,
            line,
            format!("{event} event: timestamp {s:?} is not RFC 3339 UTC ({e})"),
        )
    })?;
    Ok(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as Micros,
        Err(e) => -(e.duration().as_micros() as Micros),
    })
}
