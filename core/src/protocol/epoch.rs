//! Membership changes (issue 27, DESIGN.md "Membership changes"): what one lock does when its
//! node adopts a newer cluster configuration, and the rule that a voter grants only requests
//! made in its own configuration.
//!
//! A change from configuration C to C' passes through the joint configuration J (every quorum
//! of J holds a quorum of C and one of C'), so epochs go C (e), J (e + 1), C' (e + 2). Any two
//! quorums of neighbouring epochs meet. A voter that adopted epoch e + 1 grants no request of
//! epoch e any more, and the next epoch is proposed only once a set of nodes that meets every
//! quorum of epoch e has moved on with no vote left for a request of epoch e (drained,
//! [`crate::member::Member::drained`]): from then on no entry of epoch e is live or can
//! gather its votes, so live entries come from at most two neighbouring epochs and pairwise
//! share a voter.

use super::{Action, LogEvent, Message, MsgKind, NodeMut, Phase, Shared};
use crate::id::RequestId;
use std::collections::BTreeSet;

impl NodeMut<'_> {
    /// The node adopted a newer configuration (`self.s.epoch`, `self.s.system` already the
    /// new ones). Queued requests of older epochs are dropped (their nodes make them again in
    /// the new one); a request that still waits for votes withdraws everywhere and is made
    /// again in the new configuration, keeping nothing of the old (a node the new one no
    /// longer has goes idle); an idle lock asks the new own quorum next time. A holder keeps
    /// the CS: its votes stay given until it leaves, which the next step of the change waits
    /// for.
    pub(crate) fn adopt_epoch(&mut self, out: &mut Vec<Action>) {
        let epoch = self.s.epoch;
        let stale: Vec<RequestId> = (self.l.voter.queue.iter())
            .filter(|q| q.epoch < epoch)
            .copied()
            .collect();
        for q in stale {
            self.l.voter.queue.remove(&q);
            self.l.voter.told_failed.remove(&q);
        }
        match self.l.phase {
            Phase::Wanting(r) if r.epoch < epoch => {
                if self.start_over(out, r).is_err() {
                    // Not a member of the new configuration: the request is withdrawn.
                    out.push(Action::Log(LogEvent::Withdrawn { req: r }));
                }
            }
            Phase::Idle => self.l.quorum = self.pick_quorum(&BTreeSet::new()),
            Phase::Wanting(_) | Phase::InCs(_) => {}
        }
    }

    /// A request made in another configuration than this voter's is not queued. An older
    /// one's node learns the newer configuration from the `Config` every node sends to every
    /// other when it adopts one (or, after a restart, from a Hello), and makes its request again
    /// there; a newer one cannot arrive before its configuration does (a node sends its
    /// `Config` on a link before anything of the new epoch). True when `r` was dropped so.
    pub(super) fn refuse_other_epoch(&mut self, r: RequestId) -> bool {
        r.epoch != self.s.epoch
    }
}

impl Shared {
    /// A `Config` message: this node's configuration epoch (the caller attaches the
    /// configuration itself), about no request.
    pub(crate) fn config_message(&mut self) -> Message {
        self.clock = self.clock.next();
        self.about_this_node(MsgKind::Config)
    }
}
