//! The context of a story: what a voter did because another process died or came back (a
//! re-vote about another request, the `peer_incarnation` and `peer_down` that set it off), and
//! the deaths and restarts themselves, each with its note.
//!
//! It only adds lines of the node logs (and the `(killed)` rows no log has) to the story's
//! items; the order is `build`'s job.

use super::{At, Item, Key};
use crate::logs::report::node_logs::{Ev, Line, NodeLog};
use maekawa_core::id::{NodeId, RequestId};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// How the process before the `start` at some index of a node log ended.
enum PrevEnd {
    /// This is the node's first process in the log.
    None,
    /// It logged `stop` at this index: a clean stop.
    Stopped(usize),
    /// It logged no `stop`: killed (or crashed). Its last line's time and event, and the entry
    /// it was inside of, if its log shows an `enter_cs` without the `exit_cs`.
    Killed {
        inc: u64,
        time: String,
        last: String,
        in_cs: Option<u64>,
    },
}

/// How the process before the `start` at `s` in `log` ended (README.md, "Kill and restart"):
/// a `stop` line since the previous `start` is a clean stop; none is a kill, as in
/// `maekawa check`.
fn prev_end(log: &NodeLog, s: usize) -> PrevEnd {
    let Some(s0) = log.lines[..s]
        .iter()
        .rposition(|x| matches!(x.ev, Ev::Start { .. }))
    else {
        return PrevEnd::None;
    };
    if let Some(stop) = log.lines[s0..s]
        .iter()
        .position(|x| matches!(x.ev, Ev::Stop))
    {
        return PrevEnd::Stopped(s0 + stop);
    }
    let Ev::Start { inc } = log.lines[s0].ev else {
        unreachable!("s0 is a start line")
    };
    let (time, last) = log
        .last_line
        .get(&Some(inc))
        .cloned()
        .unwrap_or_else(|| (log.lines[s0].time.clone(), "start"));
    let mut in_cs = None;
    for x in &log.lines[s0..s] {
        match x.ev {
            Ev::EnterCs { entry, .. } => in_cs = Some(entry),
            Ev::ExitCs { entry } if in_cs == Some(entry) => in_cs = None,
            _ => {}
        }
    }
    PrevEnd::Killed {
        inc,
        time,
        last: last.to_string(),
        in_cs,
    }
}

/// Gathers the context lines of a story: what a voter did because another process died or
/// came back, and the deaths and restarts themselves, each with its note.
pub(super) struct Context<'s, 'a> {
    pub(super) by_node: &'s BTreeMap<NodeId, &'a NodeLog>,
    /// The node whose entry this is.
    pub(super) me: NodeId,
    pub(super) items: &'s mut BTreeMap<NodeId, BTreeMap<Key, Item<'a>>>,
    /// `after[x] = y`: `x` must come after `y` (a recv after its send, a cause before its effect).
    pub(super) after: &'s mut HashMap<At, At>,
    /// "node 1 (after a kill)" for each restart added before the entry.
    pub(super) restarts: Vec<String>,
}

impl<'a> Context<'_, 'a> {
    fn add(&mut self, node: NodeId, key: Key, line: Cow<'a, Line>, note: String) {
        self.items
            .entry(node)
            .or_default()
            .entry(key)
            .or_insert(Item {
                line,
                note: Some(note),
            });
    }

    fn who(&self, n: NodeId) -> String {
        if n == self.me {
            format!("node {n}")
        } else {
            format!("voter {n}")
        }
    }

    /// The re-vote at `voter` (line `i`) about `r`, another request, and what set it off: the
    /// voter hearing that `r`'s node is a new incarnation (`peer_incarnation`), the link to the
    /// old one breaking before (`peer_down`), and that node's death and restart.
    pub(super) fn revote(&mut self, voter: NodeId, i: usize, r: &RequestId) {
        let lines = &self.by_node[&voter].lines;
        let Ev::Revote { what, why, .. } = &lines[i].ev else {
            unreachable!("a revote line")
        };
        let note = format!(
            "re-vote at {}: {} node {}'s request {r} of incarnation {} ({why})",
            self.who(voter),
            what.name(),
            r.node,
            r.inc
        );
        self.add(voter, (i, 1), Cow::Borrowed(&lines[i]), note);
        let peer = r.node;
        if peer == voter {
            return;
        }
        let Some(j) = lines[..i].iter().rposition(
            |x| matches!(x.ev, Ev::PeerIncarnation { peer: p, inc } if p == peer && inc > r.inc.0),
        ) else {
            return;
        };
        let Ev::PeerIncarnation { inc: new_inc, .. } = lines[j].ev else {
            unreachable!("a peer_incarnation line")
        };
        let note = format!(
            "{} hears node {peer} is now incarnation {new_inc}: what incarnation {} held is re-voted",
            self.who(voter),
            r.inc
        );
        self.add(voter, (j, 1), Cow::Borrowed(&lines[j]), note);
        // The break of the link to the old process, if the voter saw one.
        let down = lines[..j]
            .iter()
            .rposition(|x| match x.ev {
                Ev::PeerDown { peer: p, .. } | Ev::PeerIncarnation { peer: p, .. } => p == peer,
                _ => false,
            })
            .filter(|&k| matches!(lines[k].ev, Ev::PeerDown { .. }));
        if let Some(k) = down {
            let Ev::PeerDown { reason, .. } = &lines[k].ev else {
                unreachable!("a peer_down line")
            };
            let note = format!(
                "{}'s link to node {peer} breaks ({reason})",
                self.who(voter)
            );
            self.add(voter, (k, 1), Cow::Borrowed(&lines[k]), note);
        }
        // The restart the voter heard about, and how the process before it ended.
        let Some(peer_log) = self.by_node.get(&peer).copied() else {
            return;
        };
        let Some(s) = peer_log
            .lines
            .iter()
            .position(|x| matches!(x.ev, Ev::Start { inc } if inc == new_inc))
        else {
            return;
        };
        let end = self.start(peer, s, None);
        self.after.insert((voter, (j, 1)), (peer, (s, 1)));
        if let (Some(k), Some(end)) = (down, end) {
            self.after.insert((voter, (k, 1)), (peer, end));
        }
    }

    /// The `start` at line `s` of `node`'s log and, before it, how the previous process ended:
    /// its `stop` line, or a made-up `(killed)` row after its last line. `inside`: the entry
    /// whose CS that process died in (the story's own entry). Returns the key of the end row.
    pub(super) fn start(&mut self, node: NodeId, s: usize, inside: Option<u64>) -> Option<Key> {
        let log = self.by_node[&node];
        let Ev::Start { inc } = log.lines[s].ev else {
            unreachable!("a start line")
        };
        // Two voters may have re-voted after the same restart: it is told once.
        let seen = self
            .items
            .get(&node)
            .is_some_and(|l| l.contains_key(&(s, 1)));
        let (end, how) = match prev_end(log, s) {
            PrevEnd::None => (None, String::new()),
            PrevEnd::Stopped(at) => {
                let note = format!(
                    "node {node}'s process (incarnation {}) stops cleanly",
                    log.lines[at].inc.map_or("?".to_string(), |i| i.to_string())
                );
                self.add(node, (at, 1), Cow::Borrowed(&log.lines[at]), note);
                (Some((at, 1)), " after a clean stop".to_string())
            }
            PrevEnd::Killed {
                inc: dead,
                time,
                last,
                in_cs,
            } => {
                let note = match inside.or(in_cs) {
                    Some(entry) => format!(
                        "node {node}'s process (incarnation {dead}) was killed inside the CS (entry {entry}) after its last line ({last}, at this time): no exit_cs, no stop"
                    ),
                    None => format!(
                        "node {node}'s process (incarnation {dead}) was killed after its last line ({last}, at this time): no stop"
                    ),
                };
                let line = Line {
                    node,
                    time,
                    inc: Some(dead),
                    ev: Ev::Killed { inc: dead },
                };
                self.add(node, (s, 0), Cow::Owned(line), note);
                (Some((s, 0)), " after a kill".to_string())
            }
        };
        let note = match inside {
            Some(entry) => {
                format!("node {node} starts again as incarnation {inc}{how}: this ends its CS (entry {entry})")
            }
            None => {
                if !how.is_empty() && !seen {
                    self.restarts
                        .push(format!("node {node} ({})", how.trim_start()));
                }
                format!("node {node} starts again as incarnation {inc}{how}: re-voting follows")
            }
        };
        self.add(node, (s, 1), Cow::Borrowed(&log.lines[s]), note);
        end
    }
}
