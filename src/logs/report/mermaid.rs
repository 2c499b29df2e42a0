//! The Mermaid renderer: a `sequenceDiagram` of one entry's messages (GitHub renders it in a
//! ```` ```mermaid ```` block), detours drawn as dashed arrows.
//!
//! It draws only the story of one entry: a run's summary has no sequence to draw (that request
//! is refused before any log is read). It decides no fact and reads no file.

use super::node_logs::{is_detour, Dir, Ev};
use super::story::Story;
use super::wording::join;
use maekawa_core::id::NodeId;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The story of one entry as a sequence diagram: one participant per node that appears, one
/// arrow per message sent, a note for each other line (kills, restarts and re-votes included).
pub(super) fn story(story: &Story) -> String {
    let mut nodes: BTreeSet<NodeId> = BTreeSet::from([story.node]);
    for s in &story.steps {
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
    let req = format!("({},{})", story.req.ts, story.req.node);
    for s in &story.steps {
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
                    let arrow = if is_detour(*msg) { "-->>" } else { "->>" };
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
                    story.entry,
                    join(&story.votes),
                    story.wait_ms
                );
            }
            Ev::Revote { what, req: r, .. } if r.ts == story.req.ts && r.node == story.node => {
                let _ = writeln!(out, "    Note over N{at}: re-vote, {what}");
            }
            Ev::Revote { what, req: r, .. } => {
                let _ = writeln!(
                    out,
                    "    Note over N{at}: re-vote, {what} ({},{}) of incarnation {}",
                    r.ts, r.node, r.inc
                );
            }
            Ev::Killed { inc, .. } => {
                let _ = writeln!(
                    out,
                    "    Note over N{at}: incarnation {inc} killed (no stop line)"
                );
            }
            Ev::Start { inc } => {
                let _ = writeln!(
                    out,
                    "    Note over N{at}: starts again as incarnation {inc}"
                );
            }
            Ev::Stop => {
                let _ = writeln!(out, "    Note over N{at}: stops cleanly");
            }
            Ev::PeerDown { peer, .. } => {
                let _ = writeln!(out, "    Note over N{at}: link to N{peer} down");
            }
            Ev::PeerIncarnation { peer, inc } => {
                let _ = writeln!(
                    out,
                    "    Note over N{at}: hears N{peer} is incarnation {inc}"
                );
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
            Ev::ExitCs { .. } => {}
        }
    }
    out
}
