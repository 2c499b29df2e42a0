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

use super::node_logs::{is_detour, Dir, Ev, Line};
use super::wording::{join, short_time, yes_no};
use crate::logdir;
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::MsgKind;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;

mod build;
mod context;

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
mod tests;
