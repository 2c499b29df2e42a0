//! The story of one CS entry: which lines of all the node logs led to it, in what order, and
//! what each one means.
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
//! The story also gives its facts as table cells (a headline and one row per line), which the
//! text and Markdown renderers lay out; it never chooses a format itself, and it only reads the
//! lines `node_logs` read.

use super::node_logs::{is_detour, Dir, Ev, Line, NodeLog};
use super::select::find_entry;
use super::wording::{join, short_time, yes_no};
use super::{EntrySelector, ReportError};
use crate::logdir;
use maekawa_core::id::{NodeId, RequestId};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

/// One line of the story, with what it means.
pub(super) struct Step<'a> {
    /// The line, as read.
    pub(super) line: &'a Line,
    /// A `recv` whose `send` is not in the logs (the sender's log is missing or lost its tail).
    pub(super) unmatched: bool,
    /// What the line means for the request, in words.
    note: String,
    /// A FAILED / INQUIRE / YIELD or a held-back inquire: the renderers make it stand out.
    pub(super) detour: bool,
}

/// One CS entry and the lines that led to it, in causal order: what every renderer draws.
pub(super) struct Story<'a> {
    /// The node that entered.
    pub(super) node: NodeId,
    /// Its entry number.
    pub(super) entry: u64,
    /// The process that entered (`None`: its log has no `start` line).
    inc: Option<u64>,
    /// The request that won the entry.
    pub(super) req: RequestId,
    /// The voters whose grants it entered with.
    pub(super) votes: Vec<NodeId>,
    /// How long it waited, as its `enter_cs` line says.
    pub(super) wait_ms: f64,
    /// The lines, in causal order, ending at the `enter_cs` line.
    pub(super) steps: Vec<Step<'a>>,
}

/// Identifies a message on both sides: its type, sender, receiver and the sender's clock.
type MsgKey<'a> = (&'a str, NodeId, NodeId, u64);

impl<'a> Story<'a> {
    /// The story of the entry `sel` names, from the logs of every node; an error when the node
    /// never made that entry.
    pub(super) fn build(
        logs: &'a [NodeLog],
        sel: &EntrySelector,
    ) -> Result<Story<'a>, ReportError> {
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
                let _ = write!(
                    note,
                    " (its send is not in {})",
                    logdir::node_log_name(*from)
                );
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

    /// One sentence with the facts of the entry (who, which request, votes, wait, message
    /// counts, detours): the first line of the text and Markdown reports.
    pub(super) fn headline(&self) -> String {
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

    /// The cells of each step: #, time, node, event, msg, from → to, lamport, note. The table
    /// of the text and Markdown reports; the renderers only lay it out.
    pub(super) fn rows(&self) -> Vec<[String; 8]> {
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

#[cfg(test)]
mod tests {
    use crate::logs::report::test_logs::{
        enter, in_order, md_rows, msg, request, row, sel, start, write_log,
    };
    use crate::logs::report::{entry_report, Format};
    use std::path::Path;

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
}
