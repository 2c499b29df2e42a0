//! Membership changes at the member level (DESIGN.md "Membership changes"): adopting a newer
//! configuration for every lock at once, telling peers about it, and the drained test a change
//! waits for before its next step. The per-lock rules are in `protocol/epoch.rs`.

use super::{LockAction, Member};
use crate::id::{Epoch, NodeId, RequestId, Token};
use crate::protocol::{Message, NodeRef};
use crate::quorum::QuorumSystem;
use std::collections::BTreeSet;
use std::sync::Arc;

impl Member {
    /// The epoch of the configuration this member is in.
    pub fn epoch(&self) -> Epoch {
        self.shared.epoch
    }

    /// Sets the epoch of a member just made (a restart whose configuration file says
    /// `epoch`, with `system` already the one it was made with): no message, no change of
    /// any lock, unlike [`Member::adopt`].
    pub fn starting_in(mut self, epoch: Epoch, floor: Token) -> Member {
        self.shared.epoch = epoch;
        self.shared.floor = self.shared.floor.max(floor);
        self
    }

    /// This member adopts configuration `epoch` (quorum `system`, token floor `floor`: no
    /// entry of an earlier configuration had a larger token), newer than its own; an older or
    /// the same epoch changes nothing. The caller has made the configuration durable first.
    ///
    /// Every node of the old and the new configuration gets a `Config` (the caller attaches
    /// the configuration), every lock moves (`NodeMut::adopt_epoch`): waiting requests are
    /// made again in the new configuration, holders keep the CS, and from now on only
    /// requests of `epoch` are granted here.
    #[must_use = "the actions must be carried out"]
    pub fn adopt(
        &mut self,
        epoch: Epoch,
        system: Arc<QuorumSystem>,
        floor: Token,
    ) -> Vec<LockAction> {
        if epoch <= self.shared.epoch {
            return Vec::new();
        }
        let me = self.shared.me;
        let old = std::mem::replace(&mut self.shared.system, system);
        self.shared.epoch = epoch;
        self.shared.floor = self.shared.floor.max(floor);
        self.quorum = self.shared.system.quorum(me).into();
        let told: BTreeSet<NodeId> = old
            .nodes()
            .chain(self.shared.system.nodes())
            .filter(|&p| p != me)
            .collect();
        let mut out: Vec<LockAction> = told
            .into_iter()
            .map(|to| {
                let msg = self.shared.config_message();
                super::floor_action(to, msg)
            })
            .collect();
        out.extend(self.for_every_lock(|rules, out| rules.adopt_epoch(out)));
        // A node waiting for floor witnesses counts those it heard against the new quorums.
        if self.shared.heard_floor_from(None) {
            out.extend(self.floor_wait_ended());
        }
        out
    }

    /// A link from `peer` came up and its Hello says it is in configuration `epoch`: a peer
    /// behind this member gets a `Config`.
    #[must_use = "the actions must be carried out"]
    pub fn peer_epoch(&mut self, peer: NodeId, epoch: Epoch) -> Vec<LockAction> {
        if peer == self.shared.me || epoch >= self.shared.epoch {
            return Vec::new();
        }
        let msg = self.shared.config_message();
        vec![super::floor_action(peer, msg)]
    }

    /// A peer's `Config` (its configuration, already adopted by the caller if newer): its
    /// floor is taken. One from a peer that is behind needs no answer: the peer hears this
    /// member's own `Config`, sent when it adopted its configuration, or its Hello.
    pub(super) fn on_config(&mut self, _from: NodeId, msg: Message) -> Vec<LockAction> {
        self.shared.floor = self.shared.floor.max(msg.token);
        Vec::new()
    }

    /// True when this member has moved past configuration `epoch` and holds no vote for a
    /// request made in `epoch` or earlier, `exempt` aside (the change's own reserved lock: its
    /// holder is the one asking). This never becomes false again: a voter grants only requests
    /// of its own epoch. A change proposes epoch `epoch + 2` once the drained members meet
    /// every quorum of `epoch` ([`QuorumSystem::blocks`]).
    pub fn drained(&self, epoch: Epoch, exempt: Option<(&str, RequestId)>) -> bool {
        self.shared.epoch > epoch
            && self.locks.iter().all(|(name, state)| {
                let view = NodeRef::new(&self.shared, state);
                view.voter()
                    .lock
                    .is_none_or(|r| r.epoch > epoch || exempt == Some((name.as_str(), r)))
            })
    }
}
