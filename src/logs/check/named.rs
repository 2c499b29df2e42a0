//! Named locks in the node logs (PROTOCOL.md §6): entries of one lock never overlap in time,
//! across nodes, and their fencing tokens strictly increase in the order they began.
//!
//! An entry of lock L at node N runs from N's `enter_cs` line of L to its matching `exit_cs`
//! line, or, when the process was killed inside, to N's next `start` line (a killed holder's
//! votes are only given back after it restarts), or to the end of the log. Times are the lines'
//! `timestamp`s: the nodes' clocks must agree (one host, or clocks closer than a hand-over
//! between two holders). Entries are compared by the time they began; two entries whose
//! intervals share more than an instant overlap.

use super::node_log::malformed;
use super::violation::{Rule, Violation};
use super::CheckError;
use crate::logs::reader::LineError;
use crate::node_event::{NodeEvent, NodeLine, RevoteKind};
use maekawa_core::id::NodeId;
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
    /// The node's next `start` line: the process was killed inside. `alive` is the time of
    /// the process's last line: it held the lock at least until then.
    Restart {
        line: usize,
        at: Micros,
        alive: Micros,
    },
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
    /// The timestamp of the current node log's last line read.
    last_timestamp: String,
}

impl NamedLocks {
    /// A line of `file` (read from `path`) about a named lock (its `lock` is present and not
    /// `cs`).
    pub(super) fn line(
        &mut self,
        path: &Path,
        file: &str,
        line: usize,
        l: &NodeLine,
        violations: &mut Vec<Violation>,
    ) -> Result<(), CheckError> {
        let (token, late_ms) = match &l.event {
            NodeEvent::EnterCs { token, .. } | NodeEvent::ExitCs { token, .. } => (*token, None),
            NodeEvent::LeaseExpired { token, late_ms, .. } => (Some(*token), Some(*late_ms)),
            NodeEvent::Revote {
                what: RevoteKind::Reclaimed,
                ..
            } => (None, None),
            _ => return Ok(()),
        };
        let lock = l.event.lock().to_string();
        let at = time(path, line, l)?;
        let Some(r) = l.event.req() else {
            return Ok(());
        };
        let req = (r.ts.0, u64::from(r.node.0));
        let Some(token) = token else {
            // A reclaim: the holder's lease had run out.
            if matches!(l.event, NodeEvent::Revote { .. }) {
                self.reclaimed
                    .entry((lock, req))
                    .or_default()
                    .push((line, at));
                return Ok(());
            }
            let problem = LineError::Field {
                event: l.event.name().to_string(),
                key: "token".to_string(),
                expected: "a non-negative integer",
            };
            return Err(malformed(path, line, &problem));
        };
        if let Some(late) = late_ms {
            // The holder noticed late (`late_ms` after the lease's end): the entry ended then.
            if let Some(mut open) = self.open.remove(&lock) {
                open.end = End::Lease {
                    line,
                    at: at.saturating_sub(i128::from(late) * 1000),
                };
                self.entries.entry(lock).or_default().push(open);
            }
            return Ok(());
        }
        let node = l.node;
        if matches!(l.event, NodeEvent::EnterCs { .. }) {
            if let Some(mut open) = self.open.remove(&lock) {
                let rule = Rule::LockReentered {
                    node,
                    lock: lock.clone(),
                    open: open.line,
                };
                violations.push(Violation::at(file, line, rule));
                open.end = End::Exit { line, at };
                self.entries.entry(lock.clone()).or_default().push(open);
            }
            let entry = Entry {
                file: file.to_string(),
                line,
                node,
                token,
                req,
                at,
                end: End::Open,
            };
            self.open.insert(lock, entry);
            return Ok(());
        }
        self.exit(file, line, node, lock, (req, token, at), violations);
        Ok(())
    }

    /// An `exit_cs` of `lock` by `node`, with its request, token and time.
    fn exit(
        &mut self,
        file: &str,
        line: usize,
        node: NodeId,
        lock: String,
        (req, token, at): ((u64, u64), u64, Micros),
        violations: &mut Vec<Violation>,
    ) {
        let Some(mut open) = self.open.remove(&lock) else {
            let rule = Rule::LockLeftOutside { node, lock, req };
            violations.push(Violation::at(file, line, rule));
            return;
        };
        if (open.req, open.token) != (req, token) {
            let rule = Rule::LockExitMismatch {
                lock: lock.clone(),
                req,
                token,
                open: open.line,
                open_req: open.req,
                open_token: open.token,
            };
            violations.push(Violation::at(file, line, rule));
        }
        open.end = End::Exit { line, at };
        self.entries.entry(lock).or_default().push(open);
    }

    /// A `start` line of the current node log: whatever the process before held ends here.
    pub(super) fn start(
        &mut self,
        path: &Path,
        line: usize,
        l: &NodeLine,
    ) -> Result<(), CheckError> {
        if self.open.is_empty() {
            return Ok(());
        }
        let at = time(path, line, l)?;
        let alive = humantime::parse_rfc3339(&self.last_timestamp)
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(at, |d| d.as_micros() as Micros);
        for (lock, mut open) in std::mem::take(&mut self.open) {
            open.end = End::Restart { line, at, alive };
            self.entries.entry(lock).or_default().push(open);
        }
        Ok(())
    }

    /// A line of the current node log was read (after its own rules): a killed process held
    /// what it held at least until its last line.
    pub(super) fn seen(&mut self, l: &NodeLine) {
        self.last_timestamp.clone_from(&l.timestamp);
    }

    /// The end of the current node log: what is still inside stays inside.
    pub(super) fn end_of_log(&mut self) {
        for (lock, open) in std::mem::take(&mut self.open) {
            self.entries.entry(lock).or_default().push(open);
        }
    }

    /// Checks every lock: no two entries overlap, tokens strictly increase in the order the
    /// entries began. Returns what was checked, by lock.
    pub(super) fn check(mut self, violations: &mut Vec<Violation>) -> BTreeMap<String, LockStats> {
        self.end_of_log();
        // An entry its node never left (killed, for good or until a restart) ends where a
        // voter reclaimed it, if that came first: a voter reclaims only after the holder's
        // lease ran out. Not before the process's last line, though: a holder that still
        // wrote lines after the reclaim was alive, and a correct one would have said that its
        // lease ran out.
        for (lock, entries) in &mut self.entries {
            let killed = |e: &Entry| matches!(e.end, End::Open | End::Restart { .. });
            for e in entries.iter_mut().filter(|e| killed(e)) {
                let alive = match e.end {
                    End::Restart { alive, .. } => alive,
                    _ => e.at,
                };
                // The first reclaim after it entered (one before is of the request waiting).
                let after = self.reclaimed.get(&(lock.clone(), e.req)).and_then(|r| {
                    r.iter()
                        .filter(|(_, at)| *at >= e.at && *at >= alive)
                        .min_by_key(|(_, at)| *at)
                });
                if let Some(&(line, at)) = after {
                    if e.end.at().is_none_or(|end| at < end) {
                        e.end = End::Lease { line, at };
                    }
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
                        let rule = Rule::LockOverlap {
                            node: e.node,
                            lock: lock.clone(),
                            token: e.token,
                            holder: h.node,
                            since: h.place(),
                            until: h.until(),
                        };
                        violations.push(Violation::at(&e.file, e.line, rule));
                    }
                }
                if let Some(t) = top {
                    if e.token <= t.token {
                        let rule = Rule::LockToken {
                            lock: lock.clone(),
                            token: e.token,
                            top: t.token,
                            top_at: t.place(),
                        };
                        violations.push(Violation::at(&e.file, e.line, rule));
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
fn time(path: &Path, line: usize, l: &NodeLine) -> Result<Micros, CheckError> {
    let s = &l.timestamp;
    let t: SystemTime = humantime::parse_rfc3339(s).map_err(|e| CheckError::Malformed {
        path: path.to_path_buf(),
        line,
        problem: format!(
            "{} event: timestamp {s:?} is not RFC 3339 UTC ({e})",
            l.event.name()
        ),
    })?;
    Ok(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as Micros,
        Err(e) => -(e.duration().as_micros() as Micros),
    })
}
