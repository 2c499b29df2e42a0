//! Suspicion: what a node does when it starts (or stops) suspecting a peer of being dead or
//! cut off. A waiting request routes around suspected voters
//! ([`QuorumSystem::choose`](crate::quorum::QuorumSystem::choose)); a voter skips a suspect's
//! queued requests. Who is suspected, and when, is the caller's call.

use super::{Action, LogEvent, MsgKind, Node, Phase, RequesterView};
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

impl Node {
    /// This node now suspects `peer` of being dead or cut off (`suspected`) or no longer does.
    /// A waiting request moves to a quorum without suspects; a voter reclaims a suspected
    /// requester's vote when that is safe, and skips its queued requests.
    #[must_use = "the actions must be carried out"]
    pub fn set_suspected(&mut self, peer: NodeId, suspected: bool) -> Vec<Action> {
        let mut out = Vec::new();
        if mark_suspected(&mut self.suspected, self.me, peer, suspected) {
            self.react_to_suspicion(&mut out);
        }
        out
    }

    /// Brings the node in line with its (possibly shared and already updated) suspicions.
    pub(crate) fn react_to_suspicion(&mut self, out: &mut Vec<Action>) {
        let grantable = self.voter.queue.iter().any(|q| self.eligible(q));
        match self.voter.lock {
            None if grantable => self.grant_next(out),
            // A request that waited unanswered while its node was suspected is answered now,
            // as on arrival: FAILED if something eligible beats it, else an INQUIRE.
            Some(lock) => {
                let queued: Vec<RequestId> = self.voter.queue.iter().copied().collect();
                let head = queued.iter().copied().find(|q| self.eligible(q));
                if head.is_some_and(|h| h.beats(&lock)) && !self.voter.inquired {
                    // The vote went to a lower request while this one was skipped.
                    self.voter.inquired = true;
                    self.send(out, lock.node, MsgKind::Inquire, lock);
                }
                for q in queued {
                    let beaten = lock.beats(&q) || head.is_some_and(|h| h != q);
                    if self.eligible(&q) && beaten && !self.voter.told_failed.contains(&q) {
                        self.voter.told_failed.insert(q);
                        self.send(out, q.node, MsgKind::Failed, q);
                    }
                }
            }
            None => {}
        }
        if !self.options.leases {
            return;
        }
        self.switch_quorum(out);
        self.reclaim_if_due(out);
    }

    /// The quorum to ask: the system's choice that avoids every suspect and `also`, or this
    /// node's own quorum when none does (it waits for the suspects then).
    pub(super) fn pick_quorum(&self, also: &BTreeSet<NodeId>) -> Arc<[NodeId]> {
        self.try_pick_quorum(also)
            .unwrap_or_else(|| self.system.quorum(self.me).into())
    }

    /// The system's choice that avoids every suspect and `also`, if there is one.
    fn try_pick_quorum(&self, also: &BTreeSet<NodeId>) -> Option<Arc<[NodeId]>> {
        let mut avoid: BTreeSet<NodeId> = self.suspected.iter().copied().collect();
        avoid.extend(also.iter().copied());
        self.system.choose(self.me, &avoid).map(Arc::from)
    }

    /// A waiting request whose quorum holds a suspect moves to one that does not: RELEASE to
    /// the voters it leaves (never asked again by this request), REQUEST to those it joins; its
    /// priority stays. When every quorum without suspects needs a voter it left, it starts
    /// over as a new request.
    fn switch_quorum(&mut self, out: &mut Vec<Action>) {
        let Phase::Wanting(r) = self.phase else {
            return;
        };
        if !self.quorum.iter().any(|v| self.suspected.contains(v)) {
            return;
        }
        let Some(next) = self.try_pick_quorum(&self.req.left.clone()) else {
            if self.try_pick_quorum(&BTreeSet::new()).is_none() {
                return; // no quorum without suspects: wait
            }
            // Start over: withdraw everywhere, then ask the new quorum with a new request.
            let from = self.quorum.to_vec();
            for i in 0..self.quorum.len() {
                let to = self.quorum[i];
                self.send(out, to, MsgKind::Release, r);
            }
            self.phase = Phase::Idle;
            self.req = RequesterView::default();
            let more = self.request_cs().expect("idle after the withdrawal");
            if let Phase::Wanting(new) = self.phase {
                out.push(Action::Log(LogEvent::QuorumSwitch {
                    req: new,
                    from,
                    to: self.quorum.to_vec(),
                }));
            }
            out.extend(more);
            return;
        };
        let from = self.quorum.to_vec();
        for &v in from.iter().filter(|v| !next.contains(v)) {
            self.send(out, v, MsgKind::Release, r);
            self.req.granted.remove(&v);
            self.req.failed.remove(&v);
            self.req.yielded.remove(&v);
            self.req.deferred.remove(&v);
            self.req.left.insert(v);
        }
        self.req.fencing = None;
        self.req.fenced.clear();
        self.quorum = next.clone();
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
