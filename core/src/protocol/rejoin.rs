//! A lost journal (issue 27, DESIGN.md "A lost disk"): what a node whose journal is gone waits
//! for before it grants (a quiet period, floor witnesses), and the `Floor` message that
//! witnesses send. Part of [`Shared`]: it concerns the node, not one lock.

use super::{Message, MsgKind, Shared};
use crate::id::{Incarnation, Lamport, NodeId, RequestId};
use std::sync::Arc;

impl Shared {
    /// A process whose journal is gone (a lost disk, a new host) started at `now`: with
    /// leases, it is quiet as a restart that forgot its votes is; and it grants nothing until
    /// it has heard the floor of floor witnesses ([`Options::floor_witnesses`]).
    pub(crate) fn lost_journal(&mut self, now: u64) {
        if self.options.leases {
            self.quiet_after_restart(now);
        }
        if self.options.floor_witnesses {
            self.witnesses = Some(Arc::default());
            self.held_back = true;
            self.heard_floor_from(None);
        }
    }

    /// Records that `peer`'s `Floor` arrived (`None`: nobody's, to check a quorum of this node
    /// alone); ends the wait for floor witnesses once they cover every quorum of this node.
    /// True when the wait ended now.
    pub(crate) fn heard_floor_from(&mut self, peer: Option<NodeId>) -> bool {
        let Some(heard) = &mut self.witnesses else {
            return false;
        };
        if let Some(peer) = peer {
            Arc::make_mut(heard).insert(peer);
        }
        if !self.system.witnessed(self.me, heard) {
            return false;
        }
        self.witnesses = None;
        true
    }

    /// True when this node's journal floor covers every token it ever confirmed: it is not
    /// waiting for floor witnesses, or it is incarnation 1 (a first start: no peer and no log
    /// knew an earlier process). Only such a node's `Floor` is sent, so a witness that lost its
    /// journal too is not taken at its word.
    pub(crate) fn knows_floor(&self) -> bool {
        self.witnesses.is_none() || self.incarnation == Incarnation(1)
    }

    /// A `Floor` message to `to`: this node's journal floor, about no request.
    pub(crate) fn floor_message(&mut self) -> Message {
        self.clock = self.clock.max(self.floor.as_lamport()).next();
        self.about_this_node(MsgKind::Floor)
    }

    /// A message of `kind` about no request but this node itself (`req.ts == 0`, `req.node`
    /// this node, its incarnation and epoch), stamped with the clock as it is and carrying the
    /// journal floor: a `Floor` or a `Config`.
    pub(crate) fn about_this_node(&self, kind: MsgKind) -> Message {
        Message {
            kind,
            lamport: self.clock,
            req: RequestId {
                ts: Lamport(0),
                node: self.me,
                inc: self.incarnation,
                epoch: self.epoch,
            },
            holds_grant: false,
            to_inc: Incarnation(0),
            token: self.journal_floor(),
            echo: 0,
        }
    }
}
