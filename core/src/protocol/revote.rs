//! Re-voting (PROTOCOL.md §3): reconciling with a peer's new incarnation. As a voter, forget
//! what a dead incarnation asked for and make lock and queue agree with a requester's `Sync`;
//! as a requester, tell a restarted voter which request this node has now. Nothing here
//! persists or reads the journal: the restored lock comes in through `Node::restore`.

use super::{Action, LogEvent, Message, MsgKind, NodeMut, Phase, RevoteKind};
use crate::id::{Incarnation, Lamport, NodeId, RequestId, Token};

impl NodeMut<'_> {
    /// The reconciliation of [`Node::peer_incarnation`](super::Node::peer_incarnation) for
    /// this lock, once `peer`'s incarnation `incarnation` was found to be news and recorded.
    pub(crate) fn reconcile_peer(
        &mut self,
        out: &mut Vec<Action>,
        peer: NodeId,
        incarnation: Incarnation,
    ) {
        let dead = |r: &RequestId| r.node == peer && r.inc < incarnation;
        let dropped: Vec<RequestId> = self
            .l
            .voter
            .queue
            .iter()
            .filter(|r| dead(r))
            .copied()
            .collect();
        for r in dropped {
            self.l.voter.queue.remove(&r);
            self.l.voter.told_failed.remove(&r);
            out.push(Action::Log(LogEvent::Revote {
                what: RevoteKind::Dropped,
                req: r,
                why: "queued request of a dead incarnation",
            }));
        }
        if let Some(l) = self.l.voter.lock.filter(|l| dead(l)) {
            out.push(Action::Log(LogEvent::Revote {
                what: RevoteKind::Freed,
                req: l,
                why: "vote held by a dead incarnation",
            }));
            self.free_vote(out, l);
        }
        if self.l.quorum.contains(&peer) {
            // The peer's voter side may have restarted: what it knew of us is gone.
            self.l.req.failed.remove(&peer);
            self.l.req.deferred.remove(&peer);
            if matches!(self.l.phase, Phase::Wanting(_)) {
                // It may have forgotten its vote too (votes are not journaled, or its disk
                // was lost): not counted until it grants again, which a voter that restored
                // the vote does on the Sync that says so. A holder in the CS keeps it: its
                // lease covers it, and a renewal that needs it fails.
                self.l.req.granted.remove(&peer);
                self.l.req.confirmed.remove(&peer);
                self.l.req.yielded.remove(&peer);
                self.l.req.fencing = None;
                self.l.req.fenced.clear();
            }
            self.send_sync(out, peer, incarnation);
            // A Fence to its dead process may be lost: ask the new one (after the Sync, so it
            // knows the request again).
            if let (Some(echo), Phase::Wanting(r) | Phase::InCs(r)) =
                (self.l.req.fencing, self.l.phase)
            {
                self.send(out, peer, MsgKind::Fence, r);
                if let Some(Action::Send { msg, .. }) = out.last_mut() {
                    msg.echo = echo;
                }
            }
        }
    }

    /// Tells voter `peer` (incarnation `to_inc`) which request this node has now.
    /// Frees the vote held by `l`, whose requester no longer has it, and grants the next. A
    /// confirmed vote may have let it in with its request's timestamp as the token (fast
    /// grants): the floor takes that token, as a reclaim's does, since the RELEASE that carried
    /// it may be lost and the holder's own floor with it (a lost disk).
    fn free_vote(&mut self, out: &mut Vec<Action>, l: RequestId) {
        if self.l.voter.fenced {
            self.s.floor = self.s.floor.max(Token::of_request(&l));
        }
        self.l.voter.lock = None;
        self.grant_next(out);
    }

    fn send_sync(&mut self, out: &mut Vec<Action>, peer: NodeId, to_inc: Incarnation) {
        let req = match self.l.phase {
            Phase::Wanting(r) | Phase::InCs(r) if self.l.quorum.contains(&peer) => r,
            _ => RequestId {
                ts: Lamport(0),
                node: self.s.me,
                inc: self.s.incarnation,
                epoch: self.s.epoch,
            },
        };
        self.send(out, peer, MsgKind::Sync, req);
        if let Some(Action::Send { msg, .. }) = out.last_mut() {
            msg.holds_grant = self.l.req.granted.contains(&peer);
            msg.to_inc = to_inc;
        }
    }

    /// After a restart: asks the requester of a vote the journal restored to say (with a
    /// `Sync`) whether it still has that request. The Sync it sends when it learns of our new
    /// incarnation covers only the locks it keeps state for; this covers the others.
    #[must_use = "the actions must be carried out"]
    pub(crate) fn resync_restored_vote(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(l) = self
            .l
            .voter
            .lock
            .filter(|l| l.node != self.s.me && !self.l.voter.grant_sent)
        {
            self.send(&mut out, l.node, MsgKind::Resync, l);
        }
        out
    }

    /// Reconciliation, voter side: make lock and queue agree with what `from` really has.
    pub(super) fn on_sync(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if self.is_dead(&msg.req) {
            return Self::ignore(out, from, msg, "sync from a dead incarnation");
        }
        if msg.to_inc != self.s.incarnation {
            return Self::ignore(out, from, msg, "sync meant for an earlier incarnation");
        }
        let current = msg.synced_request();
        let stale: Vec<RequestId> = self
            .l
            .voter
            .queue
            .iter()
            .filter(|r| r.node == from && Some(**r) != current)
            .copied()
            .collect();
        for r in stale {
            self.l.voter.queue.remove(&r);
            self.l.voter.told_failed.remove(&r);
            out.push(Action::Log(LogEvent::Revote {
                what: RevoteKind::Dropped,
                req: r,
                why: "queued request its requester no longer has",
            }));
        }
        if let Some(l) = self
            .l
            .voter
            .lock
            .filter(|l| l.node == from && Some(*l) != current)
        {
            out.push(Action::Log(LogEvent::Revote {
                what: RevoteKind::Freed,
                req: l,
                why: "vote held by a request its requester no longer has",
            }));
            self.free_vote(out, l);
        }
        let Some(r) = current else { return };
        if self.l.voter.lock == Some(r) {
            // Grant again only a lock restored from the journal whose GRANT the requester
            // does not have: a second GRANT of this process could cross a YIELD and leave the
            // requester counting a vote that has moved on.
            if !msg.holds_grant && !self.l.voter.grant_sent {
                out.push(Action::Log(LogEvent::Revote {
                    what: RevoteKind::Regranted,
                    req: r,
                    why: "the grant was lost in a restart",
                }));
                self.l.voter.grant_sent = true;
                self.send(out, r.node, MsgKind::Grant, r);
                // An INQUIRE sent before this GRANT was ignored (the grant was not held):
                // ask again if a higher-priority request waits.
                self.l.voter.inquired = false;
                if self.l.voter.queue.first().is_some_and(|q| q.beats(&r)) {
                    self.l.voter.inquired = true;
                    self.send(out, r.node, MsgKind::Inquire, r);
                }
            }
        } else if !self.l.voter.queue.contains(&r) {
            out.push(Action::Log(LogEvent::Revote {
                what: RevoteKind::Requeued,
                req: r,
                why: "request lost in a restart",
            }));
            self.take_request(
                out,
                from,
                Message {
                    kind: MsgKind::Request,
                    ..msg
                },
            );
        }
    }

    pub(super) fn on_resync(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if msg.req.node != self.s.me {
            return Self::ignore(out, from, msg, "resync about another node's request");
        }
        let to_inc = self.s.peers.get(&from).copied().unwrap_or_default();
        self.send_sync(out, from, to_inc);
    }
}
