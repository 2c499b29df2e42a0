//! Suspicion: what a node does when it starts (or stops) suspecting a peer of being dead or
//! cut off. A waiting request routes around suspected voters
//! ([`QuorumSystem::choose`](crate::quorum::QuorumSystem::choose)); a voter skips a suspect's
//! queued requests. Who is suspected, and when, is the caller's call.

use super::{Action, LogEvent, MsgKind, NodeMut, Phase};
use crate::id::{NodeId, RequestId};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Records that `me` suspects `peer` (or no longer does) in a possibly shared set; false when
/// that changes nothing (a node never suspects itself).
pub(crate) fn mark_suspected(
    set: &mut Arc<BTreeSet<NodeId>>,
    me: NodeId,
    peer: NodeId,
    suspected: bool,
) -> bool {
    if peer == me || set.contains(&peer) == suspected {
        return false;
    }
    let set = Arc::make_mut(set);
    if suspected {
        set.insert(peer);
    } else {
        set.remove(&peer);
    }
    true
}

impl NodeMut<'_> {
    /// Brings the node in line with its (possibly shared and already updated) suspicions.
    pub(crate) fn react_to_suspicion(&mut self, out: &mut Vec<Action>) {
        let grantable = self.l.voter.queue.iter().any(|q| self.eligible(q));
        match self.l.voter.lock {
            None if grantable => self.grant_next(out),
            // A request that waited unanswered while its node was suspected is answered now,
            // as on arrival: FAILED if something eligible beats it, else an INQUIRE.
            Some(lock) => {
                let queued: Vec<RequestId> = self.l.voter.queue.iter().copied().collect();
                let head = queued.iter().copied().find(|q| self.eligible(q));
                if head.is_some_and(|h| h.beats(&lock)) && !self.l.voter.inquired {
                    // The vote went to a lower request while this one was skipped.
                    self.l.voter.inquired = true;
                    self.send(out, lock.node, MsgKind::Inquire, lock);
                }
                for q in queued {
                    let beaten = lock.beats(&q) || head.is_some_and(|h| h != q);
                    if self.eligible(&q) && beaten && !self.l.voter.told_failed.contains(&q) {
                        self.l.voter.told_failed.insert(q);
                        self.send(out, q.node, MsgKind::Failed, q);
                    }
                }
            }
            None => {}
        }
        if !self.s.options.leases {
            return;
        }
        self.switch_quorum(out);
        self.reclaim_if_due(out);
    }

    /// The quorum to ask: the system's choice that avoids every suspect and `also`, or this
    /// node's own quorum when none does (it waits for the suspects then).
    pub(super) fn pick_quorum(&self, also: &BTreeSet<NodeId>) -> Arc<[NodeId]> {
        self.try_pick_quorum(also)
            .unwrap_or_else(|| self.s.system.quorum(self.s.me).into())
    }

    /// The system's choice that avoids every suspect and `also`, if there is one.
    fn try_pick_quorum(&self, also: &BTreeSet<NodeId>) -> Option<Arc<[NodeId]>> {
        let mut avoid: BTreeSet<NodeId> = self.s.suspected.iter().copied().collect();
        avoid.extend(also.iter().copied());
        self.s.system.choose(self.s.me, &avoid).map(Arc::from)
    }

    /// A waiting request whose quorum holds a suspect moves to one that does not: RELEASE to
    /// the voters it leaves (never asked again by this request), REQUEST to those it joins; its
    /// priority stays. When every quorum without suspects needs a voter it left, it starts
    /// over as a new request.
    fn switch_quorum(&mut self, out: &mut Vec<Action>) {
        let Phase::Wanting(r) = self.l.phase else {
            return;
        };
        if !self.l.quorum.iter().any(|v| self.s.suspected.contains(v)) {
            return;
        }
        let Some(next) = self.try_pick_quorum(&self.l.req.left.clone()) else {
            if self.try_pick_quorum(&BTreeSet::new()).is_none() {
                return; // no quorum without suspects: wait
            }
            self.start_over(out, r)
                .expect("a member: it had a waiting request");
            return;
        };
        let from = self.l.quorum.to_vec();
        for &v in from.iter().filter(|v| !next.contains(v)) {
            self.send(out, v, MsgKind::Release, r);
            self.l.req.granted.remove(&v);
            self.l.req.failed.remove(&v);
            self.l.req.yielded.remove(&v);
            self.l.req.deferred.remove(&v);
            self.l.req.left.insert(v);
        }
        self.l.req.fencing = None;
        self.l.req.fenced.clear();
        self.l.quorum = next.clone();
        for &v in next.iter().filter(|v| !from.contains(v)) {
            self.send(out, v, MsgKind::Request, r);
        }
        out.push(Action::Log(LogEvent::QuorumSwitch {
            req: r,
            from,
            to: next.to_vec(),
        }));
        self.complete_if_granted(out, r);
    }
}
