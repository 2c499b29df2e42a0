//! The requester side (PROTOCOL.md §2): making a request, counting grants, entering once the
//! whole quorum voted, answering FAILED and INQUIRE, leaving and withdrawing. Only the requester's
//! bookkeeping ([`RequesterView`](super::RequesterView)) and the phase change here; a voter's
//! state is `voter`'s.

use super::TOKEN_BLOCK;
use super::{Action, LogEvent, Message, MsgKind, Node, Phase, ProtocolError, RequesterView};
use crate::id::{NodeId, RequestId};
use std::collections::BTreeSet;

impl Node {
    /// The node wants the CS: make a new request and ask every voter of the quorum.
    #[must_use = "the actions must be carried out"]
    pub fn request_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        if let Phase::Wanting(req) | Phase::InCs(req) = self.phase {
            return Err(ProtocolError::AlreadyRequesting { node: self.me, req });
        }
        self.clock = self.clock.saturating_add(1);
        let req = RequestId {
            ts: self.clock,
            node: self.me,
            inc: self.incarnation,
        };
        self.phase = Phase::Wanting(req);
        self.req = RequesterView::default();
        self.quorum = self.pick_quorum(&BTreeSet::new());
        let mut out = Vec::with_capacity(self.quorum.len());
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(&mut out, to, MsgKind::Request, req);
        }
        Ok(out)
    }

    /// The node leaves the CS: give every vote back.
    #[must_use = "the actions must be carried out"]
    pub fn exit_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        let Phase::InCs(req) = self.phase else {
            return Err(ProtocolError::NotInCs { node: self.me });
        };
        self.phase = Phase::Idle;
        self.req = RequesterView::default();
        let mut out = Vec::with_capacity(self.quorum.len());
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(&mut out, to, MsgKind::Release, req);
        }
        Ok(out)
    }

    /// The node withdraws a request that still waits for votes: every voter of its quorum gets a
    /// RELEASE, which frees the vote it gave or drops the queued request (links are FIFO, so the
    /// REQUEST is there first); a GRANT still on its way is handed back when it arrives (the
    /// GRANT rule for a request that is not current). No entry happened, so no token is used.
    #[must_use = "the actions must be carried out"]
    pub fn cancel_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        let Phase::Wanting(req) = self.phase else {
            return Err(ProtocolError::NotWaiting { node: self.me });
        };
        self.phase = Phase::Idle;
        self.req = RequesterView::default();
        let mut out = Vec::with_capacity(self.quorum.len());
        if self.options.cancel_releases {
            for i in 0..self.quorum.len() {
                let to = self.quorum[i];
                self.send(&mut out, to, MsgKind::Release, req);
            }
        }
        Ok(out)
    }

    /// Every vote of the quorum is held: take the next token and, with leases, confirm it
    /// with the voters before entering; without, enter now.
    pub(super) fn complete_if_granted(&mut self, out: &mut Vec<Action>, r: RequestId) {
        if self.req.granted.len() != self.quorum.len() || self.req.fencing.is_some() {
            return;
        }
        // Every grant raised the floor to its voter's. The token must outlive this process: a
        // reservation that covers it is on disk before anyone can use it (one fsync per
        // TOKEN_BLOCK tokens, not per entry).
        self.floor = self.floor.saturating_add(1);
        if self.floor > self.reserved {
            self.reserved = self.floor.saturating_add(TOKEN_BLOCK - 1);
            out.push(Action::Persist {
                lock: self.voter.lock,
                floor: self.reserved,
            });
        }
        self.req.token = self.floor;
        if self.options.leases {
            self.send_fence(out, r);
        } else {
            self.enter(out, r, None);
        }
    }

    pub(super) fn enter(&mut self, out: &mut Vec<Action>, r: RequestId, lease_from: Option<u64>) {
        self.phase = Phase::InCs(r);
        self.req.deferred.clear();
        self.req.fencing = None;
        self.req.fenced.clear();
        self.req.lease_from = lease_from;
        out.push(Action::EnterCs {
            req: r,
            votes: self.req.granted.iter().copied().collect(),
            token: self.req.token,
        });
    }

    pub(super) fn on_grant(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        match self.phase {
            Phase::Wanting(cur) if cur == r => {
                if self.req.left.contains(&from) {
                    // Our RELEASE follows it to that voter: nothing to hand back.
                    return Self::ignore(out, from, msg, "grant from a voter this request left");
                }
                if !self.quorum.contains(&from) || self.req.granted.contains(&from) {
                    return Self::ignore(out, from, msg, "grant from a voter already counted");
                }
                self.req.granted.insert(from);
                self.req.failed.remove(&from);
                self.req.yielded.remove(&from);
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
        if self.phase != Phase::Wanting(msg.req) {
            return Self::ignore(out, from, msg, "failed for a request that is not waiting");
        }
        if self.req.fencing.is_some() {
            // Every vote is held: a vote we lost is answered by a Revoked.
            return Self::ignore(out, from, msg, "failed while confirming the entry");
        }
        if !self.quorum.contains(&from) {
            return Self::ignore(out, from, msg, "failed from a voter this request left");
        }
        self.req.failed.insert(from);
        self.yield_deferred(out, msg.req);
    }

    /// Gives back every vote whose INQUIRE was held back: this request now knows it lost.
    pub(super) fn yield_deferred(&mut self, out: &mut Vec<Action>, r: RequestId) {
        let deferred = std::mem::take(&mut self.req.deferred);
        for voter in deferred {
            if self.req.granted.remove(&voter) {
                self.req.yielded.insert(voter);
                self.send(out, voter, MsgKind::Yield, r);
            }
        }
    }

    pub(super) fn on_inquire(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.phase != Phase::Wanting(r) {
            return Self::ignore(out, from, msg, "inquire for a request that is not waiting");
        }
        if !self.req.granted.contains(&from) {
            return Self::ignore(
                out,
                from,
                msg,
                "inquire from a voter whose grant is not held",
            );
        }
        let confirming = self.req.fencing.is_some();
        if !confirming && (!self.req.failed.is_empty() || !self.req.yielded.is_empty()) {
            self.req.granted.remove(&from);
            self.req.yielded.insert(from);
            self.send(out, from, MsgKind::Yield, r);
        } else {
            self.req.deferred.insert(from);
            out.push(Action::Log(LogEvent::InquiryDeferred {
                voter: from,
                req: r,
            }));
        }
    }
}
