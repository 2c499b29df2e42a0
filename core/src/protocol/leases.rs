//! Leases (DESIGN.md, "Leases and reclaiming votes"): the fencing round that confirms a token
//! with every voter before an entry, its renewal at half term, the holder's exit when the lease
//! runs out, and a voter reclaiming the vote of a suspected holder once that is safe. Time comes
//! in only as the caller's `now`: nothing here reads a clock.

use super::{
    Action, LogEvent, Message, MsgKind, NodeMut, NodeRef, Phase, RequesterView, RevoteKind,
};
use crate::id::{NodeId, RequestId, Token};

impl NodeMut<'_> {
    /// The caller's clock moved to `now` (any unit, the one of
    /// [`Options::lease`](super::Options::lease); it never goes back within a process). A
    /// holder renews its lease at half term and leaves the CS when it runs out; a voter
    /// reclaims the vote of a suspected holder whose lease surely ran out.
    #[must_use = "the actions must be carried out"]
    pub(crate) fn tick(&mut self, now: u64) -> Vec<Action> {
        self.s.now = self.s.now.max(now);
        let mut out = Vec::new();
        if !self.s.options.leases {
            return out;
        }
        if let (Phase::InCs(r), Some(from)) = (self.l.phase, self.l.req.lease_from) {
            if self.s.now >= from.saturating_add(self.s.options.lease) {
                self.expire(&mut out);
            } else if self.l.req.fencing.is_none()
                && self.s.now >= from.saturating_add(self.s.options.lease / 2)
            {
                self.send_fence(&mut out, r);
            }
        }
        self.reclaim_if_due(&mut out);
        self.grant_after_quiet(&mut out);
        out
    }

    /// A restarted voter that was held back (a quiet period, floor witnesses) and may grant
    /// now grants the requests that queued meanwhile.
    pub(crate) fn grant_after_quiet(&mut self, out: &mut Vec<Action>) {
        if NodeRef::new(self.s, self.l).grant_after_quiet_due(self.s.now) {
            self.grant_next(out);
        }
    }

    /// Starts a round of `Fence`s: the entry's confirmation, or a holder's renewal.
    pub(super) fn send_fence(&mut self, out: &mut Vec<Action>, r: RequestId) {
        self.l.req.fencing = Some(self.s.now);
        self.l.req.fenced.clear();
        for i in 0..self.l.quorum.len() {
            let to = self.l.quorum[i];
            self.send(out, to, MsgKind::Fence, r);
            if let Some(Action::Send { msg, .. }) = out.last_mut() {
                msg.echo = self.s.now;
            }
        }
    }

    /// The holder's lease ran out: it leaves as by [`Node::exit_cs`](super::Node::exit_cs),
    /// reported as such.
    fn expire(&mut self, out: &mut Vec<Action>) {
        let Phase::InCs(r) = self.l.phase else {
            return;
        };
        out.push(Action::LeaseExpired {
            req: r,
            token: self.l.req.token,
            ended_at: self
                .l
                .req
                .lease_from
                .map_or(self.s.now, |from| from.saturating_add(self.s.options.lease))
                .min(self.s.now),
        });
        self.l.phase = Phase::Idle;
        self.l.req = RequesterView::default();
        for i in 0..self.l.quorum.len() {
            let to = self.l.quorum[i];
            self.send(out, to, MsgKind::Release, r);
        }
    }

    /// Voter: reclaims the vote of a suspected requester when that is safe. A vote never
    /// confirmed by a `Fence` can go at once: its holder cannot enter (or renew) without our
    /// `Fenced`. A confirmed one only a full reclaim period after the last confirmation, when
    /// the holder's lease has surely run out by its own clock.
    pub(super) fn reclaim_if_due(&mut self, out: &mut Vec<Action>) {
        if !self.s.options.leases {
            return;
        }
        let Some(l) = self.l.voter.lock else {
            return;
        };
        if l.node == self.s.me || !self.s.suspected.contains(&l.node) {
            return;
        }
        let due = !self.l.voter.fenced
            || !self.s.options.reclaim_waits
            || self.s.now
                >= self
                    .l
                    .voter
                    .since
                    .saturating_add(self.s.options.reclaim_after);
        if !due {
            return;
        }
        out.push(Action::Log(LogEvent::Revote {
            what: RevoteKind::Reclaimed,
            req: l,
            why: if self.l.voter.fenced {
                "the suspected holder's lease ran out"
            } else {
                "vote of a suspected requester, never confirmed"
            },
        }));
        if self.l.voter.fenced {
            // The holder may have entered with a token this voter confirmed: a fast entry's
            // is its request's timestamp (a fenced one's the floor already took).
            self.s.floor = self.s.floor.max(Token::of_request(&l));
        }
        self.send(out, l.node, MsgKind::Revoked, l);
        self.l.voter.lock = None;
        self.grant_next(out);
    }

    pub(super) fn on_fence(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.is_dead(&r) {
            return Self::ignore(out, from, msg, "fence of a dead incarnation");
        }
        if self.l.voter.lock != Some(r) {
            self.send(out, r.node, MsgKind::Revoked, r);
            return;
        }
        // Our floor already took the holder's token (`handle`); it must be durable before we
        // confirm.
        self.reserve_floor(out);
        self.l.voter.fenced = true;
        self.l.voter.since = self.s.now;
        self.send(out, r.node, MsgKind::Fenced, r);
        if let Some(Action::Send { msg: m, .. }) = out.last_mut() {
            m.echo = msg.echo;
        }
    }

    pub(super) fn on_fenced(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        let current = matches!(self.l.phase, Phase::Wanting(c) | Phase::InCs(c) if c == r);
        if !current
            || self.l.req.fencing != Some(msg.echo)
            || !self.l.quorum.contains(&from)
            || !self.l.req.granted.contains(&from)
            || msg.token < self.l.req.token
        {
            return Self::ignore(out, from, msg, "confirmation of another round");
        }
        self.l.req.fenced.insert(from);
        let renewal = matches!(self.l.phase, Phase::InCs(_));
        let needed = if renewal && !self.s.options.renew_waits_for_all {
            1
        } else {
            self.l.quorum.len()
        };
        if self.l.req.fenced.len() < needed {
            return;
        }
        if self.s.now >= msg.echo.saturating_add(self.s.options.lease) {
            // The round took longer than a lease: a voter may have reclaimed since it
            // confirmed. Confirm again (a holder past its lease is out already, see `tick`).
            if let Phase::Wanting(_) = self.l.phase {
                self.send_fence(out, r);
            }
            return;
        }
        match self.l.phase {
            Phase::Wanting(_) => self.enter(out, r, Some(msg.echo)),
            _ => {
                self.l.req.fencing = None;
                self.l.req.lease_from = Some(msg.echo);
            }
        }
    }

    pub(super) fn on_revoked(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if !self.l.quorum.contains(&from) || self.l.req.left.contains(&from) {
            return Self::ignore(out, from, msg, "revoked by a voter not in the quorum");
        }
        match self.l.phase {
            Phase::InCs(c) if c == r => self.expire(out),
            Phase::Wanting(c) if c == r => {
                // Whether its vote was counted or given back (a YIELD crossing the reclaim),
                // the voter forgot the request.
                self.l.req.granted.remove(&from);
                self.l.req.yielded.remove(&from);
                self.l.req.deferred.remove(&from);
                self.l.req.fencing = None;
                self.l.req.fenced.clear();
                // Ask again: the voter forgot the request. The lost vote counts as a FAILED.
                self.send(out, from, MsgKind::Request, r);
                self.l.req.failed.insert(from);
                self.yield_deferred(out, r);
            }
            _ => Self::ignore(out, from, msg, "revoked a vote not counted"),
        }
    }
}

impl NodeRef<'_> {
    /// True when [`Node::tick`](super::Node::tick) at `now` would do something: renew or end a
    /// lease, or reclaim a vote. Lets a model skip timer steps that change nothing.
    pub fn wants_tick(self, now: u64) -> bool {
        let (o, v) = (self.s.options, &self.l.voter);
        if !o.leases {
            return false;
        }
        if let (Phase::InCs(_), Some(from)) = (self.l.phase, self.l.req.lease_from) {
            if now >= from.saturating_add(o.lease)
                || (self.l.req.fencing.is_none() && now >= from.saturating_add(o.lease / 2))
            {
                return true;
            }
        }
        if self.grant_after_quiet_due(now) {
            return true;
        }
        v.lock.is_some_and(|l| {
            l.node != self.s.me
                && self.s.suspected.contains(&l.node)
                && (!v.fenced || !o.reclaim_waits || now >= v.since.saturating_add(o.reclaim_after))
        })
    }
}

impl NodeRef<'_> {
    /// See [`NodeMut::tick`]: the quiet period of a restarted voter ended with requests queued
    /// and the vote free.
    fn grant_after_quiet_due(self, now: u64) -> bool {
        let v = &self.l.voter;
        self.s.held_back
            && now >= self.s.quiet_until
            && self.s.witnesses.is_none()
            && v.lock.is_none()
            && v.queue.iter().any(|q| {
                q.node == self.s.me || !self.s.options.leases || !self.s.suspected.contains(&q.node)
            })
    }
}
