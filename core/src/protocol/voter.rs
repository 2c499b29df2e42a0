//! The voter side (PROTOCOL.md §2): who holds this node's vote, who waits for it, and Sanders'
//! rule that tells every overtaken request it lost. Only the voter's bookkeeping
//! ([`VoterView`](super::VoterView)) changes here; re-voting after a peer's restart is
//! `revote`'s, reclaiming a suspect's vote `leases`'.

use super::{Action, Message, MsgKind, NodeMut, GRANT_CONFIRMS, TOKEN_BLOCK};
use crate::id::{NodeId, RequestId, Token};

impl NodeMut<'_> {
    /// A queued request the voter may grant: not of a suspected node (with leases).
    pub(super) fn eligible(&self, r: &RequestId) -> bool {
        r.node == self.s.me || !self.s.options.leases || !self.s.suspected.contains(&r.node)
    }

    pub(super) fn is_dead(&self, r: &RequestId) -> bool {
        self.s.peers.get(&r.node).is_some_and(|&k| r.inc < k)
            || (r.node == self.s.me && r.inc < self.s.incarnation)
    }

    pub(super) fn on_request(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if self.is_dead(&msg.req) {
            return Self::ignore(out, from, msg, "request of a dead incarnation");
        }
        self.take_request(out, from, msg);
    }

    /// The REQUEST rule proper (also used to re-queue a request a restart lost).
    pub(super) fn take_request(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.refuse_other_epoch(r) {
            return;
        }
        let Some(lock) = self.l.voter.lock else {
            let suspect = r.node != self.s.me && self.s.suspected.contains(&r.node);
            if (suspect && self.s.options.leases) || self.s.quiet() {
                // It may be dead: it waits, and gets the vote once no longer suspected. Or
                // this voter restarted and forgot its votes: it waits for the quiet period.
                self.l.voter.queue.insert(r);
                return;
            }
            if self.l.voter.queue.iter().any(|q| self.eligible(q)) {
                // A quiet period just ended and the tick that grants the queue has not come
                // yet: the queue goes first, in priority order, with Sanders' FAILEDs.
                self.l.voter.queue.insert(r);
                self.grant_next(out);
                return;
            }
            self.l.voter.lock = Some(r);
            self.l.voter.inquired = false;
            self.l.voter.grant_sent = true;
            let reserved = self.s.reserved;
            self.l.voter.fenced = self.confirms(&r);
            self.l.voter.since = self.s.now;
            self.persist_vote(out, reserved);
            self.send_grant(out, r);
            return;
        };
        if lock == r || self.l.voter.queue.contains(&r) {
            return Self::ignore(out, from, msg, "duplicate request");
        }
        self.l.voter.queue.insert(r);
        if !self.eligible(&r) {
            // Its node is suspected: it waits silently, and is answered if the suspicion is
            // lifted (`react_to_suspicion`).
            return;
        }
        let beaten = lock.beats(&r)
            || self
                .l
                .voter
                .queue
                .iter()
                .any(|q| self.eligible(q) && q.beats(&r));
        if beaten {
            self.l.voter.told_failed.insert(r);
            self.send(out, r.node, MsgKind::Failed, r);
        } else if !self.l.voter.inquired {
            self.l.voter.inquired = true;
            self.send(out, lock.node, MsgKind::Inquire, lock);
        }
    }

    pub(super) fn on_yield(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.l.voter.lock != Some(r) {
            return Self::ignore(
                out,
                from,
                msg,
                "yield for a request that does not hold the vote",
            );
        }
        if r.epoch < self.s.epoch {
            // Made in an older configuration than this voter's: the vote comes back, and the
            // request is not queued again (its node makes it again in the new one).
            self.grant_next(out);
            return;
        }
        self.l.voter.queue.insert(r);
        // A requester that yielded keeps us in its `yielded` set until we grant it again, which
        // makes it yield to any INQUIRE exactly as a FAILED would: it needs no FAILED from us.
        self.l.voter.told_failed.insert(r);
        self.grant_next(out);
    }

    pub(super) fn on_release(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.l.voter.lock == Some(r) {
            self.l.voter.lock = None;
            self.grant_next(out);
        } else if self.l.voter.queue.remove(&r) {
            self.l.voter.told_failed.remove(&r);
        } else {
            Self::ignore(
                out,
                from,
                msg,
                "release for a request that is neither locked nor queued",
            );
        }
    }

    /// Gives the vote to the head of the queue (or unlocks), then applies Sanders' rule. The
    /// new lock is persisted before the GRANT leaves.
    pub(super) fn grant_next(&mut self, out: &mut Vec<Action>) {
        self.l.voter.inquired = false;
        self.l.voter.fenced = false;
        self.l.voter.since = 0;
        // A suspected requester's request waits (it may be dead); it is granted once the
        // suspicion is lifted.
        let head = self
            .l
            .voter
            .queue
            .iter()
            .find(|q| self.eligible(q))
            .copied();
        let head = head.filter(|_| !self.s.quiet());
        let Some(head) = head else {
            self.l.voter.lock = None;
            self.l.voter.grant_sent = false;
            let reserved = self.s.reserved;
            self.persist_vote(out, reserved);
            return;
        };
        self.l.voter.queue.remove(&head);
        self.l.voter.told_failed.remove(&head);
        self.l.voter.lock = Some(head);
        self.l.voter.grant_sent = true;
        let reserved = self.s.reserved;
        self.l.voter.fenced = self.confirms(&head);
        self.l.voter.since = self.s.now;
        self.persist_vote(out, reserved);
        self.send_grant(out, head);
        if self.s.options.lock_change_failed {
            let untold: Vec<RequestId> = self
                .l
                .voter
                .queue
                .iter()
                .filter(|q| !self.l.voter.told_failed.contains(q))
                .copied()
                .collect();
            for q in untold {
                self.l.voter.told_failed.insert(q);
                self.send(out, q.node, MsgKind::Failed, q);
            }
        }
    }

    /// Fast grants: whether the GRANT about to leave for `r` confirms `r`'s timestamp as its
    /// token. It does when this voter's floor is below it: every entry that held this vote
    /// before had a smaller token (DESIGN.md, "Fast grants"). The vote is then held as
    /// confirmed (reclaimed only a full reclaim period after now), and the reservation is
    /// raised to cover the timestamp: the lock's journal record, synced before the GRANT
    /// leaves, carries it.
    fn confirms(&mut self, r: &RequestId) -> bool {
        let o = self.s.options;
        let token = Token::of_request(r);
        if !o.leases || !o.fast_grants || (o.grant_checks_floor && self.s.floor >= token) {
            return false;
        }
        if token > self.s.reserved {
            self.s.reserved = token.plus(TOKEN_BLOCK - 1);
        }
        true
    }

    /// Sends the GRANT for the current lock `r`, saying whether it confirms (the lock is
    /// `fenced` as [`NodeMut::confirms`] decided).
    fn send_grant(&mut self, out: &mut Vec<Action>, r: RequestId) {
        self.send(out, r.node, MsgKind::Grant, r);
        if self.l.voter.fenced {
            if let Some(Action::Send { msg, .. }) = out.last_mut() {
                msg.echo = GRANT_CONFIRMS;
            }
        }
    }

    /// Journals the vote's change before the GRANT that may follow leaves; when votes are
    /// forgotten in a restart ([`Options::forget_votes`](super::Options::forget_votes)) only
    /// a raised reservation (`reserved` was the one before the change) is written.
    fn persist_vote(&mut self, out: &mut Vec<Action>, reserved: crate::id::Token) {
        if self.s.forgets_votes() && self.s.reserved == reserved {
            return;
        }
        out.push(Action::Persist {
            lock: self.l.voter.lock,
            floor: self.s.journal_floor(),
        });
    }
}
