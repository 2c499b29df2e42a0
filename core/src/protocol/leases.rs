//! Leases (DESIGN.md, "Leases and reclaiming votes"): the fencing round that confirms a token
//! with every voter before an entry, its renewal at half term, the holder's exit when the lease
//! runs out, and a voter reclaiming the vote of a suspected holder once that is safe. Time comes
//! in only as the caller's `now`: nothing here reads a clock.

use super::{Action, LogEvent, Message, MsgKind, Node, Phase, RequesterView, TOKEN_BLOCK};
use crate::id::{NodeId, RequestId};

impl Node {
    /// The caller's clock moved to `now` (any unit, the one of
    /// [`Options::lease`](super::Options::lease); it never goes back within a process). A holder renews its lease at half term and leaves the CS
    /// when it runs out; a voter reclaims the vote of a suspected holder whose lease surely
    /// ran out.
    #[must_use = "the actions must be carried out"]
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        self.now = self.now.max(now);
        let mut out = Vec::new();
        if !self.options.leases {
            return out;
        }
        if let (Phase::InCs(r), Some(from)) = (self.phase, self.req.lease_from) {
            if self.now >= from.saturating_add(self.options.lease) {
                self.expire(&mut out);
            } else if self.req.fencing.is_none()
                && self.now >= from.saturating_add(self.options.lease / 2)
            {
                self.send_fence(&mut out, r);
            }
        }
        self.reclaim_if_due(&mut out);
        out
    }

    /// True when [`Node::tick`] at `now` would do something: renew or end a lease, or reclaim
    /// a vote. Lets a model skip timer steps that change nothing.
    pub fn wants_tick(&self, now: u64) -> bool {
        if !self.options.leases {
            return false;
        }
        if let (Phase::InCs(_), Some(from)) = (self.phase, self.req.lease_from) {
            if now >= from.saturating_add(self.options.lease)
                || (self.req.fencing.is_none()
                    && now >= from.saturating_add(self.options.lease / 2))
            {
                return true;
            }
        }
        self.voter.lock.is_some_and(|l| {
            l.node != self.me
                && self.suspected.contains(&l.node)
                && (!self.voter.fenced
                    || !self.options.reclaim_waits
                    || now >= self.voter.since.saturating_add(self.options.reclaim_after))
        })
    }

    /// Starts a round of `Fence`s: the entry's confirmation, or a holder's renewal.
    pub(super) fn send_fence(&mut self, out: &mut Vec<Action>, r: RequestId) {
        self.req.fencing = Some(self.now);
        self.req.fenced.clear();
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(out, to, MsgKind::Fence, r);
            if let Some(Action::Send { msg, .. }) = out.last_mut() {
                msg.echo = self.now;
            }
        }
    }

    /// The holder's lease ran out: it leaves as by [`Node::exit_cs`], reported as such.
    fn expire(&mut self, out: &mut Vec<Action>) {
        let Phase::InCs(r) = self.phase else {
            return;
        };
        out.push(Action::LeaseExpired {
            req: r,
            token: self.req.token,
            ended_at: self
                .req
                .lease_from
                .map_or(self.now, |from| from.saturating_add(self.options.lease))
                .min(self.now),
        });
        self.phase = Phase::Idle;
        self.req = RequesterView::default();
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(out, to, MsgKind::Release, r);
        }
    }

    /// Voter: reclaims the vote of a suspected requester when that is safe. A vote never
    /// confirmed by a `Fence` can go at once: its holder cannot enter (or renew) without our
    /// `Fenced`. A confirmed one only a full reclaim period after the last confirmation, when
    /// the holder's lease has surely run out by its own clock.
    pub(super) fn reclaim_if_due(&mut self, out: &mut Vec<Action>) {
        if !self.options.leases {
            return;
        }
        let Some(l) = self.voter.lock else {
            return;
        };
        if l.node == self.me || !self.suspected.contains(&l.node) {
            return;
        }
        let due = !self.voter.fenced
            || !self.options.reclaim_waits
            || self.now >= self.voter.since.saturating_add(self.options.reclaim_after);
        if !due {
            return;
        }
        out.push(Action::Log(LogEvent::Revote {
            what: "reclaimed",
            req: l,
            why: if self.voter.fenced {
                "the suspected holder's lease ran out"
            } else {
                "vote of a suspected requester, never confirmed"
            },
        }));
        self.send(out, l.node, MsgKind::Revoked, l);
        self.voter.lock = None;
        self.grant_next(out);
    }

    pub(super) fn on_fence(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.is_dead(&r) {
            return Self::ignore(out, from, msg, "fence of a dead incarnation");
        }
        if self.voter.lock != Some(r) {
            self.send(out, r.node, MsgKind::Revoked, r);
            return;
        }
        // Our floor already took the holder's token (`handle`); it must be durable before we
        // confirm.
        if self.floor > self.reserved {
            self.reserved = self.floor.saturating_add(TOKEN_BLOCK - 1);
            out.push(Action::Persist {
                lock: self.voter.lock,
                floor: self.reserved,
            });
        }
        self.voter.fenced = true;
        self.voter.since = self.now;
        self.send(out, r.node, MsgKind::Fenced, r);
        if let Some(Action::Send { msg: m, .. }) = out.last_mut() {
            m.echo = msg.echo;
        }
    }

    pub(super) fn on_fenced(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        let current = matches!(self.phase, Phase::Wanting(c) | Phase::InCs(c) if c == r);
        if !current
            || self.req.fencing != Some(msg.echo)
            || !self.quorum.contains(&from)
            || !self.req.granted.contains(&from)
            || msg.token < self.req.token
        {
            return Self::ignore(out, from, msg, "confirmation of another round");
        }
        self.req.fenced.insert(from);
        if self.req.fenced.len() < self.quorum.len() {
            return;
        }
        if self.now >= msg.echo.saturating_add(self.options.lease) {
            // The round took longer than a lease: a voter may have reclaimed since it
            // confirmed. Confirm again (a holder past its lease is out already, see `tick`).
            if let Phase::Wanting(_) = self.phase {
                self.send_fence(out, r);
            }
            return;
        }
        match self.phase {
            Phase::Wanting(_) => self.enter(out, r, Some(msg.echo)),
            _ => {
                self.req.fencing = None;
                self.req.lease_from = Some(msg.echo);
            }
        }
    }

    pub(super) fn on_revoked(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if !self.quorum.contains(&from) || self.req.left.contains(&from) {
            return Self::ignore(out, from, msg, "revoked by a voter not in the quorum");
        }
        match self.phase {
            Phase::InCs(c) if c == r => self.expire(out),
            Phase::Wanting(c) if c == r => {
                // Whether its vote was counted or given back (a YIELD crossing the reclaim),
                // the voter forgot the request.
                self.req.granted.remove(&from);
                self.req.yielded.remove(&from);
                self.req.deferred.remove(&from);
                self.req.fencing = None;
                self.req.fenced.clear();
                // Ask again: the voter forgot the request. The lost vote counts as a FAILED.
                self.send(out, from, MsgKind::Request, r);
                self.req.failed.insert(from);
                self.yield_deferred(out, r);
            }
            _ => Self::ignore(out, from, msg, "revoked a vote not counted"),
        }
    }
}
