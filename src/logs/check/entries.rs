//! The **Same entries** rule: per node and incarnation, the `enter_cs` lines of the node log
//! and the `enter` lines of the CS log agree one for one (`entry`, request, token), except for
//! the lines a killed process could not write.
//!
//! It compares what `node_log` and `cs_order` gathered; it reads no file.

use super::cs_order::CsEnters;
use super::node_log::{Entry, NodeLog};
use super::violation::{Process, Rule, Violation};
use crate::logdir::CS_LOG;
use maekawa_core::id::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// Compares each node log's `enter_cs` lines with the CS log's `enter` lines, per incarnation.
pub(super) fn check(
    cs_enters: &CsEnters,
    node_logs: &BTreeMap<NodeId, NodeLog>,
    violations: &mut Vec<Violation>,
) {
    let empty = Vec::new();
    for (&node, log) in node_logs {
        let incarnations: BTreeSet<Option<u64>> = cs_enters
            .keys()
            .filter(|(n, _)| *n == node)
            .map(|&(_, inc)| inc)
            .chain(log.processes.keys().copied())
            .collect();
        let prefix = rotated_prefix(cs_enters, node, log, violations);
        for inc in incarnations {
            if inc.is_none() && prefix {
                continue; // compared above
            }
            if log.rotated_away && !log.processes.contains_key(&inc) {
                continue; // its node-log lines were rotated away
            }
            let cs = cs_enters.get(&(node, inc)).unwrap_or(&empty);
            let (nl, stopped) = match log.processes.get(&inc) {
                Some(p) => (&p.enters, p.stop.is_some()),
                None => (&empty, false),
            };
            let process = inc.map_or(Process::BeforeStart, Process::Incarnation);
            let both = Both {
                file: &log.file,
                node,
                process,
            };
            both.compare(cs, nl, stopped, violations);
        }
    }
}

/// A log that begins mid-incarnation (its start rotated away): its first entries are the tail
/// of some incarnation's entries in the CS log; compares those. True if the log has such a
/// prefix.
fn rotated_prefix(
    cs_enters: &CsEnters,
    node: NodeId,
    log: &NodeLog,
    violations: &mut Vec<Violation>,
) -> bool {
    let Some(p) = log.processes.get(&None).filter(|_| log.rotated_away) else {
        return false;
    };
    let found = p.enters.first().and_then(|first| {
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
        let both = Both {
            file: &log.file,
            node,
            process: Process::RotatedAway(inc),
        };
        both.compare(cs, &p.enters, p.stop.is_some(), violations);
    }
    true
}

/// One process of one node, as both logs tell it.
struct Both<'a> {
    /// The node log.
    file: &'a str,
    node: NodeId,
    process: Process,
}

impl Both<'_> {
    /// The process's entries in the CS log (`cs`) and in its node log (`nl`), compared.
    fn compare(&self, cs: &[Entry], nl: &[Entry], stopped: bool, violations: &mut Vec<Violation>) {
        let (node, process) = (self.node, self.process);
        for (c, n) in cs.iter().zip(nl) {
            if (c.entry, c.req) != (n.entry, n.req) {
                let rule = Rule::EntryMismatch {
                    entry: n.entry,
                    req: n.req,
                    cs_line: c.line,
                    cs_entry: c.entry,
                    cs_req: c.req,
                    node,
                    process,
                };
                violations.push(Violation::at(self.file, n.line, rule));
            } else if let Some((ct, nt)) = c.token.zip(n.token).filter(|(a, b)| a != b) {
                let rule = Rule::TokenMismatch {
                    entry: n.entry,
                    token: nt,
                    cs_line: c.line,
                    cs_token: ct,
                    node,
                    process,
                };
                violations.push(Violation::at(self.file, n.line, rule));
            }
        }
        if cs.len() > nl.len() && stopped {
            for c in &cs[nl.len()..] {
                let rule = Rule::NoEnterCs {
                    node,
                    entry: c.entry,
                    req: c.req,
                    log: self.file.to_string(),
                    process,
                };
                violations.push(Violation::at(CS_LOG, c.line, rule));
            }
        }
        // A kill between the node log line and the CS log line can leave one enter_cs over.
        if nl.len() > cs.len() + usize::from(!stopped) {
            for n in &nl[cs.len()..] {
                let rule = Rule::NoEnter {
                    entry: n.entry,
                    req: n.req,
                    node,
                    process,
                };
                violations.push(Violation::at(self.file, n.line, rule));
            }
        }
    }
}
