//! The CS log, walked in file order (which is the real order of events): no two nodes inside
//! at once (unless the one inside had lost its lease), exits that match the open entry, entry
//! numbers that count 1, 2, 3, ... per process, incarnations that grow, votes that are a
//! quorum, fencing tokens that increase, and no CS left open by a process that stopped
//! normally.
//!
//! It only reads what the CS log and the node logs say; the entries it returns are compared
//! with the node logs' by `entries`.

use super::node_log::{Entry, NodeLog};
use super::summary::CheckReport;
use super::violation::{Abandoned, Rule, Violation};
use crate::config::Config;
use crate::logs::cslog::{CsEvent, CsLine};
use maekawa_core::id::{NodeId, RequestId};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// CS-log entries by node and incarnation, in file order.
pub(super) type CsEnters = BTreeMap<(NodeId, Option<u64>), Vec<Entry>>;

/// Walks the CS log in order: overlaps, exits, votes, numbering, abandoned CSs. Counts into
/// `report` and returns the entries, by node and incarnation.
pub(super) fn check(
    lines: &[CsLine],
    config: &Config,
    systems: &[maekawa_core::quorum::QuorumSystem],
    node_logs: &BTreeMap<NodeId, NodeLog>,
    report: &mut CheckReport,
) -> CsEnters {
    let mut walk = Walk {
        config,
        systems,
        node_logs,
        known: config.ids().into_iter().collect(),
        reclaimed_at: reclaimed_at(node_logs),
        lease_end_of: lease_ends(lines),
        expired: BTreeMap::new(),
        seen: BTreeSet::new(),
        inside: BTreeMap::new(),
        incarnation: BTreeMap::new(),
        next_entry: BTreeMap::new(),
        enters: CsEnters::new(),
        top_token: None,
    };
    for l in lines {
        walk.line(l, report);
    }
    for (node, open) in std::mem::take(&mut walk.inside) {
        walk.abandoned(&mut report.violations, node, &open, Abandoned::AtEnd);
    }
    report.nodes = walk.seen.len();
    walk.enters
}

/// An entry still inside.
struct Open {
    entry: u64,
    line: usize,
    incarnation: Option<u64>,
    /// When its lease ran out, if its exit line says so (leases, DESIGN.md).
    lease_end: Option<SystemTime>,
    request: RequestId,
    entered_at: Option<SystemTime>,
}

/// When a voter reclaimed each request's vote (every time): the holder's lease had run out by
/// then, even if it never wrote an exit line (it died for good).
fn reclaimed_at(node_logs: &BTreeMap<NodeId, NodeLog>) -> BTreeMap<(u64, NodeId), Vec<SystemTime>> {
    let mut reclaimed_at: BTreeMap<(u64, NodeId), Vec<SystemTime>> = BTreeMap::new();
    for log in node_logs.values() {
        for (r, at) in &log.reclaimed {
            reclaimed_at.entry((r.ts.0, r.node)).or_default().push(*at);
        }
    }
    reclaimed_at
}

/// Each enter's lease end (by its line), read ahead from its exit line: a holder paused past
/// its lease writes that line late, after the next holder's enter.
fn lease_ends(lines: &[CsLine]) -> BTreeMap<usize, SystemTime> {
    let mut lease_end_of = BTreeMap::new();
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
    lease_end_of
}

/// The state of the walk through the CS log.
struct Walk<'a> {
    config: &'a Config,
    /// The quorum systems of the configurations the logs show (membership changes).
    systems: &'a [maekawa_core::quorum::QuorumSystem],
    node_logs: &'a BTreeMap<NodeId, NodeLog>,
    /// The nodes of the config.
    known: BTreeSet<NodeId>,
    reclaimed_at: BTreeMap<(u64, NodeId), Vec<SystemTime>>,
    lease_end_of: BTreeMap<usize, SystemTime>,
    /// Entries whose lease ran out before another node entered: their exit line is still due.
    expired: BTreeMap<NodeId, u64>,
    /// The nodes seen so far.
    seen: BTreeSet<NodeId>,
    /// Nodes in the CS now (more than one only after a violation).
    inside: BTreeMap<NodeId, Open>,
    incarnation: BTreeMap<NodeId, u64>,
    next_entry: BTreeMap<NodeId, u64>,
    enters: CsEnters,
    /// The largest token so far, and its line.
    top_token: Option<(u64, usize)>,
}

impl Walk<'_> {
    fn line(&mut self, l: &CsLine, report: &mut CheckReport) {
        let line = l.line;
        let node = match &l.event {
            CsEvent::Start { node, .. }
            | CsEvent::Enter { node, .. }
            | CsEvent::Exit { node, .. } => *node,
        };
        let v = &mut report.violations;
        if self.seen.insert(node) && !self.known.contains(&node) {
            let config = self.config.path.clone();
            v.push(Violation::cs(line, Rule::UnknownNode { node, config }));
        }
        match &l.event {
            CsEvent::Start { incarnation, .. } => {
                report.starts += 1;
                self.start(line, node, *incarnation, v);
            }
            CsEvent::Enter { .. } => self.enter(l, node, report),
            CsEvent::Exit { entry, .. } if self.expired.get(&node) == Some(entry) => {
                self.expired.remove(&node);
            }
            CsEvent::Exit { entry, .. } => {
                let entry = *entry;
                let rule = match self.inside.remove(&node) {
                    Some(open) if open.entry == entry => return,
                    Some(open) => Rule::ExitWrongEntry {
                        node,
                        entry,
                        open: open.entry,
                        since: open.line,
                    },
                    None => Rule::ExitOutside { node, entry },
                };
                v.push(Violation::cs(line, rule));
            }
        }
    }

    /// A CS that its process left open is a violation only if that process logged `stop`.
    fn abandoned(&self, v: &mut Vec<Violation>, node: NodeId, open: &Open, when: Abandoned) {
        let Some(log) = self.node_logs.get(&node) else {
            return;
        };
        if let Some(stop) = log.stopped(open.incarnation) {
            let rule = Rule::Abandoned {
                node,
                entry: open.entry,
                when,
                log: log.file.clone(),
                stop,
            };
            v.push(Violation::cs(open.line, rule));
        }
    }

    fn start(&mut self, line: usize, node: NodeId, inc: u64, v: &mut Vec<Violation>) {
        self.expired.remove(&node);
        if let Some(open) = self.inside.remove(&node) {
            self.abandoned(v, node, &open, Abandoned::AtRestart(line));
        }
        if let Some(&prev) = self.incarnation.get(&node) {
            if inc <= prev {
                v.push(Violation::cs(line, Rule::StartShrinks { node, inc, prev }));
            }
        }
        self.incarnation.insert(node, inc);
        self.next_entry.insert(node, 1);
    }

    fn enter(&mut self, l: &CsLine, node: NodeId, report: &mut CheckReport) {
        let CsEvent::Enter {
            entry,
            request,
            votes,
            token,
            time,
            ..
        } = &l.event
        else {
            return;
        };
        let (line, entry) = (l.line, *entry);
        report.entries += 1;
        if let Some(t) = *token {
            self.token(line, node, entry, t, report);
        }
        *report.entries_per_node.entry(node).or_default() += 1;
        let v = &mut report.violations;
        let inc = self.incarnation.get(&node).copied();
        if inc.is_none() {
            v.push(Violation::cs(line, Rule::EnterBeforeStart { node, entry }));
        }
        if let Some(open) = self.inside.get(&node) {
            let rule = Rule::EnterTwice {
                node,
                entry,
                open: open.entry,
                since: open.line,
            };
            v.push(Violation::cs(line, rule));
        }
        let entered_at = humantime::parse_rfc3339_weak(time).ok();
        self.overlaps(line, node, entry, entered_at, v);
        let expected = self.next_entry.get(&node).copied().unwrap_or(1);
        if entry != expected {
            v.push(Violation::cs(
                line,
                Rule::EntryNumber {
                    node,
                    entry,
                    expected,
                },
            ));
        }
        self.next_entry.insert(node, entry + 1);
        if request.node != node {
            let rule = Rule::ForeignRequest {
                node,
                request: *request,
            };
            v.push(Violation::cs(line, rule));
        }
        self.votes(line, node, entry, votes, v);
        let open = Open {
            entry,
            line,
            incarnation: inc,
            lease_end: self.lease_end_of.get(&line).copied(),
            request: *request,
            entered_at,
        };
        self.inside.insert(node, open);
        self.enters.entry((node, inc)).or_default().push(Entry {
            line,
            entry,
            req: *request,
            token: *token,
        });
    }

    /// A token must be larger than every earlier one.
    fn token(&mut self, line: usize, node: NodeId, entry: u64, t: u64, report: &mut CheckReport) {
        if let Some((top, top_line)) = self.top_token.filter(|&(top, _)| t <= top) {
            let rule = Rule::TokenNotLarger {
                node,
                entry,
                token: t,
                top,
                top_line,
            };
            report.violations.push(Violation::cs(line, rule));
        } else {
            self.top_token = Some((t, line));
        }
        report.cs_tokens += 1;
        report.cs_token_range = Some(match report.cs_token_range {
            None => (t, t),
            Some((lo, hi)) => (lo.min(t), hi.max(t)),
        });
    }

    /// Every other node inside when `node` enters is an overlap, unless its lease ran out
    /// before (it was out, paused or cut off, whatever it believed).
    fn overlaps(
        &mut self,
        line: usize,
        node: NodeId,
        entry: u64,
        entered_at: Option<SystemTime>,
        v: &mut Vec<Violation>,
    ) {
        let others: Vec<NodeId> = self.inside.keys().copied().filter(|&o| o != node).collect();
        for other in others {
            let Some(open) = self.inside.get(&other) else {
                continue;
            };
            // The first reclaim after it entered (one before is of it waiting).
            let reclaimed = self
                .reclaimed_at
                .get(&(open.request.ts.0, open.request.node))
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
                if let Some(open) = self.inside.remove(&other) {
                    self.expired.insert(other, open.entry);
                }
                continue;
            }
            let rule = Rule::Overlap {
                node,
                entry,
                other,
                since: open.line,
            };
            v.push(Violation::cs(line, rule));
        }
    }

    /// The votes of an entry must be a quorum of the system.
    fn votes(
        &self,
        line: usize,
        node: NodeId,
        entry: u64,
        votes: &[NodeId],
        v: &mut Vec<Violation>,
    ) {
        let mut sorted = votes.to_vec();
        sorted.sort();
        sorted.dedup();
        let quorums = &self.config.quorums;
        let in_some = self.systems.iter().any(|s| s.is_quorum(&sorted));
        if self.known.contains(&node) && !quorums.is_quorum(&sorted) && !in_some {
            let rule = Rule::NotAQuorum {
                node,
                entry,
                votes: sorted,
                system: quorums.kind().to_string(),
                own: quorums.quorum(node).to_vec(),
            };
            v.push(Violation::cs(line, rule));
        }
    }
}
