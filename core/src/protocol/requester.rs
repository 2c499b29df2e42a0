//! The requester side (PROTOCOL.md §2): making a request, counting grants, entering once the
//! whole quorum voted, answering FAILED and INQUIRE, leaving and withdrawing. Only the requester's
//! bookkeeping ([`RequesterView`](super::RequesterView)) and the phase change here; a voter's
//! state is `voter`'s.

use super::{
    Action, LogEvent, Message, MsgKind, NodeMut, Phase, ProtocolError, RequesterView,
    GRANT_CONFIRMS,
};
use crate::id::{NodeId, RequestId, Token};
use std::collections::BTreeSet;

impl NodeMut<'_> {
    /// The node wants the CS: make a new request and ask every voter of the quorum.
    #[must_use = "the actions must be carried out"]
    pub(crate) fn request_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        if let Phase::Wanting(req) | Phase::InCs(req) = self.l.phase {
            return Err(ProtocolError::AlreadyRequesting {
                node: self.s.me,
                req,
            });
        }
        if self.s.system.quorum(self.s.me).is_empty() {
            return Err(ProtocolError::NotMember { node: self.s.me });
        }
        // Above the floor: the timestamp may serve as the entry's token (fast grants).
        self.s.clock = self.s.clock.max(self.s.floor.as_lamport()).next();
        let req = RequestId {
            ts: self.s.clock,
            node: self.s.me,
            inc: self.s.incarnation,
            epoch: self.s.epoch,
        };
        self.l.phase = Phase::Wanting(req);
        self.l.req = RequesterView {
            asked_at: self.s.now,
            ..RequesterView::default()
        };
        self.l.quorum = self.pick_quorum(&BTreeSet::new());
        let mut out = Vec::with_capacity(self.l.quorum.len());
        for i in 0..self.l.quorum.len() {
            let to = self.l.quorum[i];
            self.send(&mut out, to, MsgKind::Request, req);
        }
        Ok(out)
    }

    /// The node leaves the CS: give every vote back.
    #[must_use = "the actions must be carried out"]
    pub(crate) fn exit_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        let Phase::InCs(req) = self.l.phase else {
            return Err(ProtocolError::NotInCs { node: self.s.me });
        };
        self.l.phase = Phase::Idle;
        self.l.req = RequesterView::default();
        let mut out = Vec::with_capacity(self.l.quorum.len());
        for i in 0..self.l.quorum.len() {
            let to = self.l.quorum[i];
            self.send(&mut out, to, MsgKind::Release, req);
        }
        Ok(out)
    }

    /// The node withdraws a request that still waits for votes: every voter of its quorum gets a
    /// RELEASE, which frees the vote it gave or drops the queued request (links are FIFO, so the
    /// REQUEST is there first); a GRANT still on its way is handed back when it arrives (the
    /// GRANT rule for a request that is not current). No entry happened, so no token is used.
    #[must_use = "the actions must be carried out"]
    pub(crate) fn cancel_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        let Phase::Wanting(req) = self.l.phase else {
            return Err(ProtocolError::NotWaiting { node: self.s.me });
        };
        self.l.phase = Phase::Idle;
        self.l.req = RequesterView::default();
        let mut out = Vec::with_capacity(self.l.quorum.len());
        if self.s.options.cancel_releases {
            for i in 0..self.l.quorum.len() {
                let to = self.l.quorum[i];
                self.send(&mut out, to, MsgKind::Release, req);
            }
        }
        Ok(out)
    }

    /// Starts the waiting request `r` over: RELEASE to every voter of its quorum, then a new
    /// request to a quorum picked afresh (a `QuorumSwitch` says which), as when every quorum
    /// without suspects needs a voter it left, or a newer configuration was adopted. `Err`
    /// (the node left idle) when this node may make no request: it is no member any more.
    pub(super) fn start_over(
        &mut self,
        out: &mut Vec<Action>,
        r: RequestId,
    ) -> Result<(), ProtocolError> {
        let from = self.l.quorum.to_vec();
        for i in 0..self.l.quorum.len() {
            let to = self.l.quorum[i];
            self.send(out, to, MsgKind::Release, r);
        }
        self.l.phase = Phase::Idle;
        self.l.req = RequesterView::default();
        let more = self.request_cs()?;
        if let Phase::Wanting(new) = self.l.phase {
            out.push(Action::Log(LogEvent::QuorumSwitch {
                req: new,
                from,
                to: self.l.quorum.to_vec(),
            }));
        }
        out.extend(more);
        Ok(())
    }

    /// Every vote of the quorum is held: take the next token and, with leases, confirm it
    /// with the voters before entering; without, enter now.
    pub(super) fn complete_if_granted(&mut self, out: &mut Vec<Action>, r: RequestId) {
        if self.l.req.granted.len() != self.l.quorum.len() || self.l.req.fencing.is_some() {
            return;
        }
        if self.fast_entry(out, r) {
            return;
        }
        // Every grant raised the floor to its voter's. The token must outlive this process: a
        // reservation that covers it is on disk before anyone can use it (one fsync per
        // TOKEN_BLOCK tokens, not per entry).
        self.s.floor = self.s.floor.plus(1);
        self.reserve_floor(out);
        self.l.req.token = self.s.floor;
        if self.s.options.leases {
            self.send_fence(out, r);
        } else {
            self.enter(out, r, None);
        }
    }

    /// Fast grants: when every voter of the quorum confirmed the request's timestamp as its
    /// token in its GRANT and the lease from the request's making has not run out, enter now
    /// with that token (DESIGN.md, "Fast grants"). False when the `Fence` round is needed.
    fn fast_entry(&mut self, out: &mut Vec<Action>, r: RequestId) -> bool {
        let o = self.s.options;
        let all_confirmed = self
            .l
            .quorum
            .iter()
            .all(|v| self.l.req.confirmed.contains(v));
        let from = if o.lease_from_request {
            self.l.req.asked_at
        } else {
            self.s.now
        };
        // Past half the term the holder would have to renew at once, on the same round trip a
        // Fence round takes: take the round instead, for a whole fresh lease.
        let fresh = self.s.now < from.saturating_add(o.lease / 2);
        if !o.leases || !o.fast_grants || !all_confirmed || !fresh {
            return false;
        }
        let token = Token::of_request(&r);
        self.s.floor = self.s.floor.max(token);
        self.reserve_floor(out);
        self.l.req.token = token;
        self.enter(out, r, Some(from));
        true
    }

    pub(super) fn enter(&mut self, out: &mut Vec<Action>, r: RequestId, lease_from: Option<u64>) {
        self.l.phase = Phase::InCs(r);
        self.l.req.deferred.clear();
        self.l.req.fencing = None;
        self.l.req.fenced.clear();
        self.l.req.lease_from = lease_from;
        out.push(Action::EnterCs {
            req: r,
            votes: self.l.req.granted.iter().copied().collect(),
            token: self.l.req.token,
        });
    }

    pub(super) fn on_grant(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        match self.l.phase {
            Phase::Wanting(cur) if cur == r => {
                if self.l.req.left.contains(&from) {
                    // Our RELEASE follows it to that voter: nothing to hand back.
                    return Self::ignore(out, from, msg, "grant from a voter this request left");
                }
                if !self.l.quorum.contains(&from) || self.l.req.granted.contains(&from) {
                    return Self::ignore(out, from, msg, "grant from a voter already counted");
                }
                self.l.req.granted.insert(from);
                let checked =
                    !self.s.options.grant_checks_floor || Token::of_request(&r) > msg.token;
                if msg.echo == GRANT_CONFIRMS && checked {
                    self.l.req.confirmed.insert(from);
                } else {
                    self.l.req.confirmed.remove(&from);
                }
                self.l.req.failed.remove(&from);
                self.l.req.yielded.remove(&from);
                self.complete_if_granted(out, r);
            }
            Phase::InCs(cur) if cur == r => {
                Self::ignore(out, from, msg, "grant while already in the CS")
            }
            _ => {
                // Never keep a vote we will not use: hand it straight back.
                self.send(out, from, MsgKind::Release, r);
            }
        }
    }

    pub(super) fn on_failed(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if self.l.phase != Phase::Wanting(msg.req) {
            return Self::ignore(out, from, msg, "failed for a request that is not waiting");
        }
        if self.l.req.fencing.is_some() {
            // Every vote is held: a vote we lost is answered by a Revoked.
            return Self::ignore(out, from, msg, "failed while confirming the entry");
        }
        if !self.l.quorum.contains(&from) {
            return Self::ignore(out, from, msg, "failed from a voter this request left");
        }
        self.l.req.failed.insert(from);
        self.yield_deferred(out, msg.req);
    }

    /// Gives back every vote whose INQUIRE was held back: this request now knows it lost.
    pub(super) fn yield_deferred(&mut self, out: &mut Vec<Action>, r: RequestId) {
        let deferred = std::mem::take(&mut self.l.req.deferred);
        for voter in deferred {
            if self.l.req.granted.remove(&voter) {
                self.l.req.yielded.insert(voter);
                self.send(out, voter, MsgKind::Yield, r);
            }
        }
    }

    pub(super) fn on_inquire(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.l.phase != Phase::Wanting(r) {
            return Self::ignore(out, from, msg, "inquire for a request that is not waiting");
        }
        if !self.l.req.granted.contains(&from) {
            return Self::ignore(
                out,
                from,
                msg,
                "inquire from a voter whose grant is not held",
            );
        }
        let confirming = self.l.req.fencing.is_some();
        if !confirming && (!self.l.req.failed.is_empty() || !self.l.req.yielded.is_empty()) {
            self.l.req.granted.remove(&from);
            self.l.req.yielded.insert(from);
            self.send(out, from, MsgKind::Yield, r);
        } else {
            self.l.req.deferred.insert(from);
            out.push(Action::Log(LogEvent::InquiryDeferred {
                voter: from,
                req: r,
            }));
        }
    }
}
