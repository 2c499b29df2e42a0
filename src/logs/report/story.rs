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
//! **Kills and re-votes.** A vote can also come free because its holder died: then the lines
//! that let the request in are about *another* request. So, between a node's first and last
//! line of the story, its `revote` lines about other requests join the story, with what set
//! each off: the `peer_incarnation` that told the voter the holder is a new process, the
//! `peer_down` of the old link before it, the holder's `start`, and how the process before that
//! start ended: its `stop` line (a clean stop), or, when it logged no `stop`, a `(killed)` row
//! that no log has, at the time of the dead process's last line (the rule `maekawa check` uses
//! too). A `start` of a node inside the story's span joins it the same way. When the entering
//! process itself has no `exit_cs` (and no `stop`) before its node's next `start`, and the CS
//! log (if readable) has no `exit` for it either, the story goes on past `enter_cs` with its
//! death and that restart, and the headline says the process died inside the CS.
//!
//! **Order.** The lines are merged into one causal order: each node's lines keep their log order
//! and a `recv` comes after its `send`; among the lines that may come next, the smallest Lamport
//! clock goes first (the `lamport` field, which a `send` and its `recv` share), then the smallest
//! node id, then a `send` before a `recv`. When the Lamport order is itself causal (the usual
//! case) this *is* the Lamport order; when a node handled an old message after sending a newer
//! one, its own log order wins, because a reader must never see a node react to something it
//! has not received yet. A context line has no Lamport clock: it comes after its cause (a
//! `peer_incarnation` after the `start` it reports, a `peer_down` after the death), before the
//! next line of its own node, and otherwise where its timestamp puts it among the story's
//! lines; any such place is causally right, and this one reads in time order on one host.
//!
//! The story also gives its facts as table cells (a headline and one row per line), which the
//! text and Markdown renderers lay out; it never chooses a format itself, and it only reads the
//! lines `node_logs` read (and the CS log lines the caller passes).

use super::node_logs::{is_detour, Dir, Ev, Line, NodeLog};
use super::select::find_entry;
use super::wording::{join, short_time, yes_no};
use super::{EntrySelector, ReportError};
use crate::logdir;
use crate::logs::cslog::{CsEvent, CsLine};
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::MsgKind;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

/// One line of the story, with what it means.
pub(super) struct Step<'a> {
    /// The line, as read (or, for a kill, made by the story: no process logs its own death).
    pub(super) line: Cow<'a, Line>,
    /// A `recv` whose `send` is not in the logs (the sender's log is missing or lost its tail).
    pub(super) unmatched: bool,
    /// What the line means for the request, in words.
    note: String,
    /// A FAILED / INQUIRE / YIELD, a held-back inquire, a kill or a restart: the renderers make
    /// it stand out.
    pub(super) stands_out: bool,
}

/// How the entry's CS ended, when that is worth saying: a reader of a killed entry must learn
/// that its process died inside the CS, which no log line says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    /// An `exit_cs` (or the CS log's `exit`), a `stop`, or the log ends: nothing to add.
    Normal,
    /// No `exit_cs` and no `stop`, then a `start` of the node: the process died in the CS.
    /// (Without a later `start` nothing is said: the process may still be running.)
    DiedInside {
        /// The time of the `start` that ended the CS.
        restart: String,
    },
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
    /// The lines, in causal order, ending at the `enter_cs` line (and, when the process died
    /// inside the CS, its death and its restart).
    pub(super) steps: Vec<Step<'a>>,
    /// Restarts during the wait that the story shows, in order, as "node 1 (after a kill)".
    restarts: Vec<String>,
    /// How the entry's CS ended.
    ending: Ending,
}

/// Identifies a message on both sides: its type, sender, receiver and the sender's clock.
type MsgKey = (MsgKind, NodeId, NodeId, u64);

/// Where an item of the story sits in its node's log: the index of a line in
/// [`NodeLog::lines`] and 1, or the index of the line it comes before and 0 (a kill row, just
/// before the `start` that reveals it).
type Key = (usize, u8);

/// An item of the story: its node and its [`Key`] in that node's log.
type At = (NodeId, Key);

/// A line of the story before it is ordered, with a note already written when the line is
/// context (a restart, a kill, a re-vote about another request) rather than about the request.
struct Item<'a> {
    line: Cow<'a, Line>,
    note: Option<String>,
}

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

/// Whether the CS log shows `node`'s entry `entry` of process `inc` leaving the CS (`exit`)
/// before the node's next `start`; `None` when the CS log does not have that entry.
fn cs_log_exited(cs: &[CsLine], node: NodeId, inc: Option<u64>, entry: u64) -> Option<bool> {
    let mut current: Option<u64> = None;
    let mut inside = false;
    for l in cs {
        match &l.event {
            CsEvent::Start {
                node: n,
                incarnation,
                ..
            } if *n == node => {
                if inside {
                    return Some(false);
                }
                current = Some(*incarnation);
            }
            CsEvent::Enter {
                node: n, entry: e, ..
            } if *n == node && *e == entry && inc.is_none_or(|i| current == Some(i)) => {
                inside = true;
            }
            CsEvent::Exit {
                node: n, entry: e, ..
            } if inside && *n == node && *e == entry => {
                return Some(true);
            }
            _ => {}
        }
    }
    inside.then_some(false)
}

/// The Lamport clock a line carries, if any: the `lamport` of a message, the timestamp of a
/// request.
fn clock(ev: &Ev) -> Option<u64> {
    match ev {
        Ev::Msg { lamport, .. } => Some(*lamport),
        Ev::RequestCs { ts, .. } => Some(*ts),
        _ => None,
    }
}

impl<'a> Story<'a> {
    /// The story of the entry `sel` names, from the logs of every node and, when it could be
    /// read, the CS log (to tell a process that died inside the CS from one whose log lost its
    /// `exit_cs`); an error when the node never made that entry.
    pub(super) fn build(
        logs: &'a [NodeLog],
        sel: &EntrySelector,
        cs: Option<&[CsLine]>,
    ) -> Result<Story<'a>, ReportError> {
        let me = NodeId(sel.node);
        let by_node: BTreeMap<NodeId, &'a NodeLog> = logs.iter().map(|l| (l.node, l)).collect();
        let log = *by_node
            .get(&me)
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

        // The lines about the request, per node, as indices into its log, in log order; the
        // requester's end at the entry.
        let mut lists: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
        for l in logs {
            let list: Vec<usize> = if l.node == me {
                (0..=enter_at)
                    .filter(|&i| {
                        let x = &l.lines[i];
                        x.inc == inc
                            && match &x.ev {
                                Ev::RequestCs { ts, node }
                                | Ev::InquiryDeferred { ts, node, .. }
                                | Ev::Ignored { ts, node, .. } => *ts == req.ts && *node == me,
                                Ev::Msg { req: r, .. } | Ev::Revote { req: r, .. } => same_req(r),
                                Ev::EnterCs { .. } => i == enter_at,
                                _ => false,
                            }
                    })
                    .collect()
            } else {
                // `ignored` lines name no incarnation, so at another node they could be about an
                // older request with the same (ts, node): they are left out.
                (0..l.lines.len())
                    .filter(|&i| match &l.lines[i].ev {
                        Ev::Msg { req: r, .. } | Ev::Revote { req: r, .. } => same_req(r),
                        _ => false,
                    })
                    .collect()
            };
            if !list.is_empty() {
                lists.insert(l.node, list);
            }
        }
        let line_of =
            |node: NodeId, pos: usize| -> &'a Line { &by_node[&node].lines[lists[&node][pos]] };

        // Pair every recv with its send: the k-th recv of a message key with its k-th send.
        let mut sends: HashMap<MsgKey, VecDeque<(NodeId, usize)>> = HashMap::new();
        for (&node, list) in &lists {
            for pos in 0..list.len() {
                if let Some((Dir::Send, key)) = msg_key(line_of(node, pos)) {
                    sends.entry(key).or_default().push_back((node, pos));
                }
            }
        }
        let mut send_of: HashMap<(NodeId, usize), (NodeId, usize)> = HashMap::new();
        for (&node, list) in &lists {
            for pos in 0..list.len() {
                if let Some((Dir::Recv, key)) = msg_key(line_of(node, pos)) {
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

        // The story's lines by node and key, and which must come after which.
        let mut items: BTreeMap<NodeId, BTreeMap<Key, Item<'a>>> = BTreeMap::new();
        let mut after: HashMap<At, At> = HashMap::new();
        for (&node, &end) in &cut {
            for pos in 0..end {
                let key = (lists[&node][pos], 1);
                items.entry(node).or_default().insert(
                    key,
                    Item {
                        line: Cow::Borrowed(line_of(node, pos)),
                        note: None,
                    },
                );
                if let Some(&(sender, at)) = send_of.get(&(node, pos)) {
                    after.insert((node, key), (sender, (lists[&sender][at], 1)));
                }
            }
        }
        let mut context = Context {
            by_node: &by_node,
            me,
            items: &mut items,
            after: &mut after,
            restarts: Vec::new(),
        };
        // What changed a voter's mind while the request was in its hands: re-votes about other
        // requests (a dead holder's vote freed), what set them off, and restarts.
        let spans: Vec<(NodeId, usize, usize)> = context
            .items
            .iter()
            .filter_map(|(&n, list)| {
                let first = list.keys().next()?.0;
                let last = list.keys().next_back()?.0;
                Some((n, first, last))
            })
            .collect();
        for (node, first, last) in spans {
            let lines = &by_node[&node].lines;
            for (i, x) in lines.iter().enumerate().take(last + 1).skip(first) {
                if node == me && x.inc != inc {
                    continue;
                }
                match &x.ev {
                    Ev::Revote { req: r, .. } if !same_req(r) => context.revote(node, i, r),
                    Ev::Start { .. } if node != me => {
                        context.start(node, i, None);
                    }
                    _ => {}
                }
            }
        }

        // How the CS of this entry ended: a process that died inside it is shown dying.
        let next_start = log.lines[enter_at + 1..]
            .iter()
            .position(|x| matches!(x.ev, Ev::Start { .. }))
            .map(|p| enter_at + 1 + p);
        let rest = &log.lines[enter_at + 1..next_start.unwrap_or(log.lines.len())];
        let left = rest.iter().any(|x| match x.ev {
            Ev::ExitCs { entry: e } => e == *entry,
            Ev::Stop => true,
            _ => false,
        }) || cs.and_then(|cs| cs_log_exited(cs, me, inc, *entry)) == Some(true);
        let ending = match next_start {
            _ if left => Ending::Normal,
            Some(s) => {
                context.start(me, s, Some(*entry));
                Ending::DiedInside {
                    restart: log.lines[s].time.clone(),
                }
            }
            None => Ending::Normal,
        };
        let restarts = std::mem::take(&mut context.restarts);

        // Merge in causal order, the smallest (clock, node, send first) among lines that may
        // come next. A line without a clock takes the one before it in its node's list. A
        // context line has none of its own and is about no message of the story: it goes after
        // the story's lines written no later than it (by timestamp), but never after the next
        // clocked line of its own list, and after the lines of the same clock.
        let keys: BTreeMap<NodeId, Vec<Key>> = items
            .iter()
            .map(|(&n, list)| (n, list.keys().copied().collect()))
            .collect();
        let mut eff: HashMap<At, u64> = HashMap::new();
        let mut context: Vec<(At, &str, Option<u64>)> = Vec::new();
        for (&node, list) in &items {
            let clocks: Vec<Option<u64>> = list.values().map(|it| clock(&it.line.ev)).collect();
            let mut next: Vec<Option<u64>> = vec![None; clocks.len()];
            let mut upcoming = None;
            for k in (0..clocks.len()).rev() {
                upcoming = clocks[k].or(upcoming);
                next[k] = upcoming;
            }
            let mut prev = 0;
            for (k, (key, it)) in list.iter().enumerate() {
                let at = (node, *key);
                match (clocks[k], it.note.is_some()) {
                    (Some(c), _) => {
                        prev = c;
                        eff.insert(at, c);
                    }
                    (None, false) => {
                        eff.insert(at, prev);
                    }
                    (None, true) => context.push((at, &it.line.time, next[k])),
                }
            }
        }
        let story_times: Vec<(&str, u64)> = items
            .iter()
            .flat_map(|(&n, list)| list.iter().map(move |(k, it)| ((n, *k), it)))
            .filter(|(_, it)| it.note.is_none())
            .map(|(at, it)| (it.line.time.as_str(), eff[&at]))
            .collect();
        for (at, time, cap) in context {
            // Times are RFC 3339 with a fixed number of digits: as strings they sort as times.
            let by_time = story_times
                .iter()
                .filter(|(t, _)| *t <= time)
                .map(|&(_, e)| e)
                .max()
                .unwrap_or(0);
            eff.insert(at, cap.map_or(by_time, |c| by_time.min(c)));
        }

        let mut head: BTreeMap<NodeId, usize> = keys.keys().map(|&n| (n, 0)).collect();
        let mut done: BTreeSet<At> = BTreeSet::new();
        let mut order: Vec<At> = Vec::new();
        loop {
            // A line whose send (or cause) is not out yet waits (`false` sorts first); all
            // waiting would mean a cycle, which real logs cannot have: then the smallest goes
            // anyway.
            let next = head
                .iter()
                .filter(|&(node, &pos)| pos < keys[node].len())
                .map(|(&node, &pos)| {
                    let at = (node, keys[&node][pos]);
                    let ready = after.get(&at).is_none_or(|b| done.contains(b));
                    let item = &items[&node][&at.1];
                    let rank = match msg_key(&item.line) {
                        Some((Dir::Send, _)) => 0,
                        _ => 1,
                    };
                    ((!ready, eff[&at], item.note.is_some(), node, rank), at)
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
            restarts,
            ending,
        };
        let mut held: BTreeSet<NodeId> = BTreeSet::new();
        for (node, key) in order {
            let item = items
                .get_mut(&node)
                .and_then(|l| l.remove(&key))
                .expect("every ordered key has an item");
            let unmatched = matches!(msg_key(&item.line), Some((Dir::Recv, _)))
                && item.note.is_none()
                && !after.contains_key(&(node, key));
            let (note, stands_out) = match item.note {
                Some(note) => {
                    let loud = matches!(item.line.ev, Ev::Killed { .. } | Ev::Start { .. });
                    (note, loud)
                }
                None => story.note(&item.line, unmatched, &mut held),
            };
            story.steps.push(Step {
                line: item.line,
                unmatched,
                note,
                stands_out,
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
                let note = match (*msg, send) {
                    (MsgKind::Request, true) if to == me => format!("node {me} asks its own voter"),
                    (MsgKind::Request, true) => format!("node {me} asks voter {to} for its vote"),
                    (MsgKind::Request, false) => format!("voter {to} has the request"),
                    (MsgKind::Grant, true) => format!("voter {from} votes for node {me}"),
                    (MsgKind::Grant, false) => {
                        held.insert(from);
                        format!(
                            "vote of voter {from}: {} of {} held",
                            held.len(),
                            self.votes.len()
                        )
                    }
                    (MsgKind::Failed, true) => format!(
                        "detour: voter {from} has or awaits a higher-priority request, node {me} must wait"
                    ),
                    (MsgKind::Failed, false) => format!("detour: node {me} learns voter {from} said no for now"),
                    (MsgKind::Inquire, true) => format!(
                        "detour: voter {from} inquires node {me} (a higher-priority request arrived): give the vote back?"
                    ),
                    (MsgKind::Inquire, false) => format!("detour: voter {from} inquired node {me}"),
                    (MsgKind::Yield, true) => {
                        held.remove(&to);
                        format!("detour: node {me} yields voter {to}'s vote ({} of {} held)", held.len(), self.votes.len())
                    }
                    (MsgKind::Yield, false) => format!("detour: voter {to} has its vote back from node {me}"),
                    (MsgKind::Sync, true) => format!(
                        "re-vote: {} tells {} its request after a new link (holds its grant: {})",
                        name(from),
                        name(to),
                        yes_no(*holds_grant)
                    ),
                    (MsgKind::Sync, false) => format!("re-vote: {} hears {}'s request", name(to), name(from)),
                    (MsgKind::Release, _) => format!("node {me} gives back voter {to}'s vote"),
                    _ => String::new(),
                };
                (note, is_detour(*msg))
            }
            Ev::Revote { what, why, .. } => (
                format!("re-vote at {}: {} ({why})", name(line.node), what.name()),
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
            // Every other line is context, with its note written when it was chosen.
            _ => (String::new(), false),
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
    fn messages(&self) -> impl Iterator<Item = (MsgKind, NodeId, NodeId)> + '_ {
        self.steps.iter().filter_map(|s| match &s.line.ev {
            Ev::Msg {
                dir, msg, from, to, ..
            } if *dir == Dir::Send || s.unmatched => Some((*msg, *from, *to)),
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
            .filter(|(m, _, _)| is_detour(*m))
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
        let mut line = format!(
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
        );
        if !self.restarts.is_empty() {
            let _ = write!(
                line,
                "; restarts during the wait: {}",
                self.restarts.join(", ")
            );
        }
        match &self.ending {
            Ending::Normal => {}
            Ending::DiedInside { restart } => {
                let _ = write!(
                    line,
                    "; its process died inside the CS (no exit_cs, no stop: killed), and node {} started again at {}",
                    self.node,
                    short_time(restart)
                );
            }
        }
        line
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
                        msg.to_string(),
                        format!("{from} → {to}"),
                        lamport.to_string(),
                    ),
                    Ev::RequestCs { .. } => {
                        ("request_cs", String::new(), String::new(), String::new())
                    }
                    Ev::EnterCs { .. } => ("enter_cs", String::new(), String::new(), String::new()),
                    Ev::Revote { what, .. } => (
                        "revote",
                        what.name().to_string(),
                        String::new(),
                        String::new(),
                    ),
                    Ev::InquiryDeferred { voter, .. } => (
                        "inquiry_deferred",
                        String::new(),
                        format!("{voter} → {}", s.line.node),
                        String::new(),
                    ),
                    Ev::Ignored { msg, from, .. } => (
                        "ignored",
                        msg.to_string(),
                        format!("{from} → {}", s.line.node),
                        String::new(),
                    ),
                    Ev::Start { .. } => ("start", String::new(), String::new(), String::new()),
                    Ev::Stop => ("stop", String::new(), String::new(), String::new()),
                    Ev::Killed { .. } => ("(killed)", String::new(), String::new(), String::new()),
                    Ev::PeerDown { .. } => {
                        ("peer_down", String::new(), String::new(), String::new())
                    }
                    Ev::PeerIncarnation { .. } => (
                        "peer_incarnation",
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                    Ev::ExitCs { .. } => ("exit_cs", String::new(), String::new(), String::new()),
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

/// Gathers the context lines of a story: what a voter did because another process died or
/// came back, and the deaths and restarts themselves, each with its note.
struct Context<'s, 'a> {
    by_node: &'s BTreeMap<NodeId, &'a NodeLog>,
    /// The node whose entry this is.
    me: NodeId,
    items: &'s mut BTreeMap<NodeId, BTreeMap<Key, Item<'a>>>,
    /// `after[x] = y`: `x` must come after `y` (a recv after its send, a cause before its effect).
    after: &'s mut HashMap<At, At>,
    /// "node 1 (after a kill)" for each restart added before the entry.
    restarts: Vec<String>,
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
    fn revote(&mut self, voter: NodeId, i: usize, r: &RequestId) {
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
            |x| matches!(x.ev, Ev::PeerIncarnation { peer: p, inc } if p == peer && inc > r.inc),
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
    fn start(&mut self, node: NodeId, s: usize, inside: Option<u64>) -> Option<Key> {
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

fn msg_key(line: &Line) -> Option<(Dir, MsgKey)> {
    match &line.ev {
        Ev::Msg {
            dir,
            msg,
            from,
            to,
            lamport,
            ..
        } => Some((*dir, (*msg, *from, *to, *lamport))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::logs::report::test_logs::{
        enter, holder_and_waiter, in_order, md_rows, msg, request, row, sel, start, write_log,
        HolderEnd,
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

    /// Issue 12, item 3: node 2 got in because node 1 was killed inside the CS, restarted, and
    /// voter 0 freed the dead incarnation's vote. Those lines are about node 1's request, not
    /// node 2's, yet they are why node 2 entered: the story shows them, in causal order.
    #[test]
    fn an_entry_after_a_kill_shows_the_kill_the_restart_and_the_revote() {
        let dir = tempfile::tempdir().unwrap();
        holder_and_waiter(dir.path(), HolderEnd::Killed);
        let md = entry_report(dir.path(), &sel(2, 1, None), Format::Markdown).unwrap();
        let rows = md_rows(&md);
        // The kill is placed by its time (node 1's last line, before node 2 asked); the rest by
        // their times too, after voter 0's FAILED and before its GRANT.
        let context = [
            row(1, "(killed)", "", ""),
            row(2, "recv", "Failed", "0 → 2"),
            row(0, "peer_down", "", ""),
            row(1, "start", "", ""),
            row(0, "peer_incarnation", "", ""),
            row(0, "revote", "freed", ""),
            row(0, "send", "Grant", "0 → 2"),
            row(2, "recv", "Grant", "0 → 2"),
            row(2, "enter_cs", "", ""),
        ];
        let at: Vec<usize> = context
            .iter()
            .map(|r| {
                rows.iter()
                    .position(|x| x == r)
                    .unwrap_or_else(|| panic!("{r:?} in {md}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?} in {md}");
        assert_eq!(at[0], 0, "{md}");
        assert_eq!(rows[1], row(2, "request_cs", "", ""), "{md}");
        assert_eq!(*at.last().unwrap(), rows.len() - 1, "{md}");
        for expected in [
            "restarts during the wait: node 1 (after a kill)",
            "node 1's process (incarnation 1) was killed inside the CS (entry 1) after its last line (enter_cs, at this time): no exit_cs, no stop",
            "node 1 starts again as incarnation 2 after a kill: re-voting follows",
            "voter 0 hears node 1 is now incarnation 2",
            "re-vote at voter 0: freed node 1's request (3, 1) of incarnation 1 (vote held by a dead incarnation)",
        ] {
            assert!(md.contains(expected), "{expected:?} in {md}");
        }
        // The kill row has the time of the dead process's last line.
        assert!(md.contains("| 07:00:00.000203 | 1 | (killed) |"), "{md}");
        // Node 2's own peer_down / peer_incarnation about node 1 changed nothing: left out.
        assert_eq!(
            rows.iter().filter(|r| r.1 == "peer_down").count(),
            1,
            "{md}"
        );
        let mermaid = entry_report(dir.path(), &sel(2, 1, None), Format::Mermaid).unwrap();
        for expected in [
            "    participant N1\n",
            "    Note over N1: incarnation 1 killed (no stop line)\n    Note over N2: wants the CS, request (4,2)\n",
            "    N0-->>N2: Failed (4,2) L8\n    Note over N0: link to N1 down\n    Note over N1: starts again as incarnation 2\n    Note over N0: hears N1 is incarnation 2\n    Note over N0: re-vote, freed (3,1) of incarnation 1\n    N0->>N2: Grant (4,2) L9\n",
        ] {
            assert!(mermaid.contains(expected), "{expected:?} in {mermaid}");
        }
    }

    /// Issue 12, item 3: the killed entry's own report says its process died inside the CS.
    #[test]
    fn the_killed_entry_says_its_process_died_inside_the_cs() {
        let dir = tempfile::tempdir().unwrap();
        holder_and_waiter(dir.path(), HolderEnd::Killed);
        let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
        let head = text.lines().next().unwrap();
        assert!(
            head.ends_with(
                "detours: none; its process died inside the CS (no exit_cs, no stop: killed), and node 1 started again at 07:00:00.000499"
            ),
            "{text}"
        );
        let md = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
        let rows = md_rows(&md);
        assert_eq!(
            rows[rows.len() - 3..],
            [
                row(1, "enter_cs", "", ""),
                row(1, "(killed)", "", ""),
                row(1, "start", "", ""),
            ],
            "{md}"
        );
        assert!(
            md.contains(
                "node 1 starts again as incarnation 2 after a kill: this ends its CS (entry 1)"
            ),
            "{md}"
        );

        // The node log lost its exit_cs, but the CS log saw the exit: no death in the CS.
        std::fs::write(
            dir.path().join("critical_section.log"),
            concat!(
                r#"{"event":"start","node":1,"incarnation":1,"time":"2026-11-24T07:00:00.000101Z"}"#,
                "\n",
                r#"{"event":"enter","node":1,"entry":1,"request":{"ts":3,"node":1},"votes":[0,1],"time":"2026-11-24T07:00:00.000203Z"}"#,
                "\n",
                r#"{"event":"exit","node":1,"entry":1,"time":"2026-11-24T07:00:00.000300Z"}"#,
                "\n",
                r#"{"event":"start","node":1,"incarnation":2,"time":"2026-11-24T07:00:00.000499Z"}"#,
                "\n",
            ),
        )
        .unwrap();
        let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
        assert!(!text.contains("died inside"), "{text}");
        assert!(
            text.trim_end().lines().last().unwrap().contains("enter_cs"),
            "{text}"
        );
    }

    /// Issue 12, item 4: a clean stop and start is no kill: the entry left the CS, and a
    /// restart in a story says "after a clean stop", with the `stop` line.
    #[test]
    fn a_clean_stop_is_not_told_as_a_kill() {
        let dir = tempfile::tempdir().unwrap();
        holder_and_waiter(dir.path(), HolderEnd::Stopped);
        let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
        assert!(!text.contains("killed") && !text.contains("died"), "{text}");
        assert!(
            text.trim_end().lines().last().unwrap().contains("enter_cs"),
            "{text}"
        );

        // Node 0 stands for a voter that re-voted after node 1's clean restart.
        let r1 = (3, 1, 1);
        let r2 = (4, 2, 1);
        write_log(
            dir.path(),
            0,
            &[
                (100, start(1)),
                (300, msg("recv", "Request", 2, 0, 5, r2)),
                (301, msg("send", "Failed", 0, 2, 8, r2)),
                (500, crate::logs::report::test_logs::peer_incarnation(1, 2)),
                (
                    501,
                    crate::logs::report::test_logs::revote(
                        "freed",
                        r1,
                        "vote held by a dead incarnation",
                    ),
                ),
                (502, msg("send", "Grant", 0, 2, 11, r2)),
            ],
        );
        let md = entry_report(dir.path(), &sel(2, 1, None), Format::Markdown).unwrap();
        assert!(
            md.contains("restarts during the wait: node 1 (after a clean stop)"),
            "{md}"
        );
        assert!(
            md.contains("node 1's process (incarnation 1) stops cleanly"),
            "{md}"
        );
        assert!(
            md.contains("node 1 starts again as incarnation 2 after a clean stop"),
            "{md}"
        );
        assert!(
            !md.contains("(killed)") && !md.contains("after a kill"),
            "{md}"
        );
    }
}
